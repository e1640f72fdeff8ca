#!/usr/bin/env bash
# The ostls lab's DNS: a DNSSEC-signed lab.test with DANE cases, served by NSD on 127.0.0.1.
#
#   lab/dns/dns.sh up      (re)generate keys, zones, signatures; start NSD; check every case
#                          with unbound-host; write $OSTLS_LAB_DIR/dns/{dns.conf,dns.json}
#   lab/dns/dns.sh down    stop NSD (safe when nothing runs)
#   lab/dns/dns.sh status  does NSD answer? exit 1 if not
#   lab/dns/dns.sh check   status + the unbound-host checks again + OpenSSL DANE cross-check
#                          of the TLSA records against the real peers (the lab must be up)
#
# Needs the lab's PKI and lab.json: run `lab/lab up` first (it deletes $OSTLS_LAB_DIR, so run
# `dns.sh up` again after every `lab/lab up`).
# Environment: OSTLS_LAB_DIR (default /tmp/ostls-lab), OSTLS_LAB_PORT_BASE (default 25600),
# OSTLS_LAB_DNS_PORT (default base+53, i.e. 25653). The SERVFAIL case points at the first port
# after it on which nothing listens. See lab/dns/README.md.
set -euo pipefail
umask 022

here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
LAB=${OSTLS_LAB_DIR:-/tmp/ostls-lab}
LAB=${LAB%/}
BASE=${OSTLS_LAB_PORT_BASE:-25600}
DNS=$LAB/dns
READY_TIMEOUT=10 # seconds for NSD to answer

PY=${OSTLS_LAB_PYTHON:-}
if [[ -z $PY ]]; then
  if [[ -x /usr/bin/python3 ]]; then PY=/usr/bin/python3; else PY=$(command -v python3); fi
fi

die() { echo "dns: $*" >&2; exit 1; }
note() { echo "dns: $*" >&2; }

check_env() {
  [[ $LAB == /* ]] || die "OSTLS_LAB_DIR must be an absolute path (got '$LAB')"
  [[ $LAB != / && $LAB != /tmp && $LAB != /root && $LAB != /home && $LAB != /var ]] ||
    die "refusing to use '$LAB' as the throw-away lab directory"
  [[ $BASE =~ ^[0-9]+$ ]] || die "OSTLS_LAB_PORT_BASE must be a number (got '$BASE')"
  PORT=${OSTLS_LAB_DNS_PORT:-$((BASE + 53))}
  if ! [[ $PORT =~ ^[0-9]+$ ]] || ((PORT < 1024 || PORT > 65500)); then
    die "OSTLS_LAB_DNS_PORT must be a number in 1024..65500 (got '$PORT')"
  fi
}

need_tools() {
  local t missing=()
  for t in nsd nsd-checkzone ldns-keygen ldns-signzone ldns-key2ds drill unbound-host openssl ss; do
    command -v "$t" >/dev/null || missing+=("$t")
  done
  ((${#missing[@]} == 0)) ||
    die "missing: ${missing[*]} (run scripts/install-deps.sh: nsd ldnsutils unbound-host)"
}

# Alive and not a zombie. (NSD renames its processes "nsd: main", "nsd: xfrd", ...: the
# state is the first field after the last ")" of /proc/PID/stat.)
alive() {
  local line st
  read -r line 2>/dev/null <"/proc/$1/stat" || return 1
  line=${line##*) }
  st=${line%% *}
  [[ -n $st && $st != Z && $st != X ]]
}

# NSD processes started from this lab directory: their command line names our nsd.conf.
# (Found by that exact path, never by program name alone; a `lab/lab up` that deleted the
# directory leaves them running, and this still finds them.)
our_nsd_pids() {
  local f pid comm args
  for f in /proc/[0-9]*/comm; do
    read -r comm 2>/dev/null <"$f" || continue
    [[ $comm == nsd* ]] || continue # "nsd: main", "nsd: xfrd", "nsd: server 1"
    pid=${f#/proc/}
    pid=${pid%/comm}
    is_ours "$pid" && echo "$pid"
  done
  return 0
}

is_ours() { # pid: is it an NSD started with our nsd.conf?
  local args=()
  [[ $1 =~ ^[0-9]+$ ]] || return 1
  mapfile -d "" args 2>/dev/null <"/proc/$1/cmdline" || return 1
  [[ " ${args[*]} " == *" -c $DNS/nsd.conf "* ]]
}

listening() { # port -> prints something if anything listens on it (tcp or udp)
  ss -Hlntu "sport = :$1" 2>/dev/null
}

answers() { # does NSD answer for lab.test?
  drill -p "$PORT" @127.0.0.1 SOA lab.test 2>/dev/null | grep -q 'rcode: NOERROR'
}

cmd_down() {
  local pids pid i
  pids=$( (head -n1 "$DNS/nsd.pid" 2>/dev/null || true; our_nsd_pids) | sort -u)
  for pid in $pids; do
    is_ours "$pid" || continue # the pid file may be stale
    kill -TERM "$pid" 2>/dev/null || true
  done
  for ((i = 0; i < 50; i++)); do
    pids=$(our_nsd_pids)
    [[ -z $pids ]] && break
    sleep 0.1
  done
  for pid in $pids; do
    if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
  done
  rm -f "$DNS/nsd.pid"
  return 0
}

cmd_up() {
  need_tools
  [[ -f $LAB/lab.json && -f $LAB/pki/ca.pem ]] ||
    die "$LAB/lab.json or $LAB/pki is missing: run lab/lab up first"
  local t0=$SECONDS
  cmd_down
  [[ -z $(listening "$PORT") ]] ||
    die "port $PORT is already in use (another lab? set OSTLS_LAB_DNS_PORT)"
  # The SERVFAIL zone's "server": the first port after ours on which nothing listens.
  local dead=
  local p
  for ((p = PORT + 1; p <= PORT + 20; p++)); do
    [[ -z $(listening "$p") ]] && { dead=$p; break; }
  done
  [[ -n $dead ]] || die "no free port in $((PORT + 1))..$((PORT + 20)) for the SERVFAIL case"

  rm -rf -- "$DNS"
  mkdir -p "$DNS"
  "$PY" "$here/dnslab.py" build --lab "$LAB" --port "$PORT" --dead-port "$dead" ||
    die "generating or signing the zones failed"
  nsd-checkconf "$DNS/nsd.conf" || die "nsd.conf is invalid"

  # NSD daemonizes itself (pid file: $DNS/nsd.pid); keep it out of our session and fds.
  if ! setsid nsd -c "$DNS/nsd.conf" </dev/null >"$DNS/nsd.out" 2>&1 9>&-; then
    cat "$DNS/nsd.out" "$DNS/nsd.log" >&2 2>/dev/null || true
    die "NSD did not start"
  fi
  local i
  for ((i = 0; i < READY_TIMEOUT * 10; i++)); do
    answers && break
    sleep 0.1
  done
  if ! answers; then
    tail -n 20 "$DNS/nsd.log" >&2 2>/dev/null || true
    cmd_down
    die "NSD does not answer on 127.0.0.1@$PORT after ${READY_TIMEOUT}s"
  fi

  if ! "$PY" "$here/dnslab.py" verify --lab "$LAB"; then
    cmd_down
    die "the zones do not validate as intended (details above; $DNS/dns.json has them too)"
  fi
  echo "dns is up in $((SECONDS - t0))s: NSD on 127.0.0.1@$PORT, $DNS/dns.conf, $DNS/dns.json"
}

cmd_status() {
  local pid
  pid=$(head -n1 "$DNS/nsd.pid" 2>/dev/null || true)
  if answers; then
    echo "dns: NSD (pid ${pid:-?}) answers on 127.0.0.1@$PORT; conf $DNS/dns.conf"
    return 0
  fi
  echo "dns: DOWN (nothing answers for lab.test on 127.0.0.1@$PORT)"
  return 1
}

cmd_check() {
  need_tools
  cmd_status || return 1
  [[ -f $DNS/cases.json ]] || die "$DNS/cases.json is missing: run $0 up"
  local rc=0
  "$PY" "$here/dnslab.py" verify --lab "$LAB" || rc=1
  "$PY" "$here/dnslab.py" tls --lab "$LAB" || rc=1
  return $rc
}

lock() {
  mkdir -p "$(dirname "$LAB")"
  exec 9>"$LAB.dns.flock"
  flock -w 120 9 || die "another dns.sh up|down on $LAB holds $LAB.dns.flock for over 120s"
}

check_env
case ${1:-} in
  up) lock; cmd_up ;;
  down) lock; cmd_down; echo "dns is down" ;;
  status) cmd_status ;;
  check) cmd_check ;;
  *) echo "usage: $0 up|down|status|check" >&2; exit 2 ;;
esac
