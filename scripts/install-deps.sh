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
  # gzip for TLS-RPT reports (RFC 8460 §5.3 .json.gz): `ostls report tlsrpt --gzip`
  zlib1g-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev python3
  # TLS-RPT reports checked against the RFC 8460 §4.4 JSON schema (tests/report/tlsrpt_schema.py)
  python3-jsonschema
  # the lab: real peers and the tools we compare with
  openssl postfix iproute2 procps
  # the lab's DNS (lab/dns): authoritative server, zone signing + drill, libunbound CLI
  nsd ldnsutils unbound-host
  # the lab's IMAP/POP3 peers (lab/lab starts its own private Dovecot; no system instance)
  dovecot-core dovecot-imapd dovecot-pop3d
  # bench/dane: a validating caching resolver daemon for posttls-finger (no system instance)
  unbound
  # the lab's other STARTTLS peers (lab/lab starts private instances; no system instances):
  # PostgreSQL, OpenLDAP slapd (+ ldapsearch), vsftpd, ManageSieve in the lab Dovecot,
  # InspIRCd (IRC), INN (NNTP), Prosody (XMPP)
  postgresql slapd ldap-utils vsftpd dovecot-managesieved dovecot-sieve inspircd inn2 prosody
  # slapd's SASL mechanisms (only Recommended by libsasl2-2): the LDAP server-role injection test
  # uses a DIGEST-MD5 bind step as the connection state a pipelined bind would change
  libsasl2-modules
  # a real XMPP client for the server-role lab test (slixmpp, run by the system python3)
  python3-slixmpp
  # a second real ManageSieve client for the server-role lab test (STARTTLS, CA and name checked)
  sieve-connect
  # `ostls scan --html`: the lab test renders the report in headless Chromium (tests/lab/test_scan.py)
  chromium
  # the lab's MTA-STS policy server (lab/nginx: a private nginx on a high loopback port, started
  # from the lab's own config; no system instance) and curl for its self-check
  nginx curl
  # ostls proxy server mode is checked with a third real SMTP client (tests/lab/test_proxy.py)
  swaks
  # bench/proxy: the tool ostls proxy is compared with
  stunnel4
  # ostls proxy transparent mode is tested in a network namespace (ip netns) behind an nftables
  # redirect (tests/lab/test_proxy_transparent.py)
  iproute2 nftables
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
  # inn2's postinst fails twice on this kind of machine: innconfval ("hostname does not
  # resolve or domain not set in inn.conf": the host name has no domain), then newaliases
  # (Postfix has no /etc/postfix/main.cf) after it adds "usenet: root" to /etc/aliases.
  # Give the never started system INN the lab's domain, add the alias ourselves, and finish
  # configuring it.
  inn_fix() {
    [[ -f /etc/news/inn.conf ]] || return 0
    /usr/lib/news/bin/innconfval pathdb >/dev/null 2>&1 ||
      $SUDO sed -i 's/^#domain:.*/domain:                      lab.test/' /etc/news/inn.conf
    if [[ -f /etc/aliases ]] && ! grep -q '^usenet:' /etc/aliases; then
      echo "usenet: root" | $SUDO tee -a /etc/aliases >/dev/null
    fi
  }
  inn_fix
  if ! $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"; then
    inn_fix
    $SUDO dpkg --configure -a
  fi
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
      { echo "install-deps: $p did not install" >&2; exit 1; }
  done
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

# The lab's other daemons (PostgreSQL, slapd, vsftpd, InspIRCd, INN, Prosody, nginx) run only as private
# instances that lab/lab starts. Their packages enable a system service and try to start it
# (policy-rc.d forbids that above, but an earlier install without it may have): disable the
# system services, and stop a system instance that runs anyway. Each is found by its system
# cluster list, pid file or unit, never a lab's instance.
for svc in postgresql slapd vsftpd inspircd inn2 prosody nginx; do
  [[ -e /etc/init.d/$svc || -e /lib/systemd/system/$svc.service ]] || continue
  ${SUDO:-} update-rc.d "$svc" disable >/dev/null 2>&1 || true
  ${SUDO:-} systemctl disable "$svc" >/dev/null 2>&1 || true
  if [[ -d /run/systemd/system ]]; then ${SUDO:-} systemctl stop "$svc" >/dev/null 2>&1 || true; fi
done
if command -v pg_lsclusters >/dev/null; then
  pg_lsclusters -h 2>/dev/null | awk '$4 == "online" { print $1, $2 }' | while read -r ver name; do
    ${SUDO:-} pg_ctlcluster "$ver" "$name" stop >/dev/null 2>&1 || true
  done
fi
stop_system_pidfile() { # pidfile comm
  local pid
  pid=$(head -n1 "$1" 2>/dev/null || true)
  if [[ $pid =~ ^[0-9]+$ ]] && [[ $(cat /proc/"$pid"/comm 2>/dev/null) == "$2" ]]; then
    ${SUDO:-} kill "$pid" 2>/dev/null || true
  fi
}
stop_system_pidfile /run/slapd/slapd.pid slapd
stop_system_pidfile /run/vsftpd/vsftpd.pid vsftpd
stop_system_pidfile /run/inspircd/inspircd.pid inspircd
stop_system_pidfile /run/news/innd.pid innd
stop_system_pidfile /run/prosody/prosody.pid lua5.4
# nginx's package starts a system instance on port 80 from /etc/nginx (unless policy-rc.d
# forbids it): the lab's nginx is started only from the lab's own config, never this one.
stop_system_pidfile /run/nginx.pid nginx

# Never leave a system Postfix listening on port 25.
if command -v postfix >/dev/null && [[ -f /etc/postfix/main.cf ]]; then
  ${SUDO:-} postfix status >/dev/null 2>&1 && ${SUDO:-} postfix stop >/dev/null 2>&1 || true
fi
exit 0
