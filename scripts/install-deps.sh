#!/usr/bin/env bash
# Installs everything ostls needs to build, test and run its lab on Debian 12.
# Idempotent and non-interactive; safe to run on every invocation of the README commands.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev
  # libraries ostls links
  libasio-dev libssl-dev libcli11-dev nlohmann-json3-dev libfmt-dev libspdlog-dev
  libunbound-dev dns-root-data libexpat1-dev libsqlite3-dev libpq-dev libcurl4-openssl-dev libtomlplusplus-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev python3
  # the lab: real peers and the tools we compare with
  openssl postfix iproute2 procps
  # the lab's DNS (lab/dns): authoritative server, zone signing + drill, libunbound CLI
  nsd ldnsutils unbound-host
  # the lab's IMAP/POP3 peers (lab/lab starts its own private Dovecot; no system instance)
  dovecot-core dovecot-imapd dovecot-pop3d
  # bench/dane: a validating caching resolver daemon for posttls-finger (no system instance)
  unbound
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  # Postfix asks how to configure the system MTA; we want no system instance at all:
  # the lab runs its own smtpd instances from throw-away directories.
  echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
  echo "postfix postfix/mailname string localhost" | $SUDO debconf-set-selections
  export DEBIAN_FRONTEND=noninteractive
  # No package may start a system daemon (Postfix on :25, NSD on :53): the lab runs its own
  # instances from throw-away directories. policy-rc.d exit 101 = "action forbidden".
  added_policy=
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod 755 /usr/sbin/policy-rc.d
    added_policy=1
  fi
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
  [[ -z $added_policy ]] || $SUDO rm -f /usr/sbin/policy-rc.d
fi

# A system NSD started by an earlier install would hold port 53; the lab never needs it.
if [[ -f /run/nsd/nsd.pid ]] && kill -0 "$(cat /run/nsd/nsd.pid)" 2>/dev/null; then
  ${SUDO:-} kill "$(cat /run/nsd/nsd.pid)" 2>/dev/null || true
fi

# Never leave a system Dovecot listening on 143/110/993/995: its postinst tries to start
# one (policy-rc.d forbids it above, but an earlier install without it may have). Only the
# system instance (base_dir /run/dovecot) is stopped, never a lab's private one.
pid=$(cat /run/dovecot/master.pid 2>/dev/null || true)
if [[ $pid =~ ^[0-9]+$ ]] && [[ $(cat /proc/"$pid"/comm 2>/dev/null) == dovecot ]]; then
  ${SUDO:-} doveadm stop >/dev/null 2>&1 || ${SUDO:-} kill "$pid" 2>/dev/null || true
fi

# Never leave a system Postfix listening on port 25.
if command -v postfix >/dev/null && [[ -f /etc/postfix/main.cf ]]; then
  ${SUDO:-} postfix status >/dev/null 2>&1 && ${SUDO:-} postfix stop >/dev/null 2>&1 || true
fi
exit 0
