#!/usr/bin/env bash
# Probe a lab peer with Postfix's posttls-finger and print ONE word: the trust level from
# its "... TLS connection established" line (Anonymous, Untrusted, Trusted, Verified), or
# "none" when no TLS connection was established.
#
#   lab/posttls-finger.sh LEVEL HOSTPORT [SERVERNAME [MATCH]]
#
# LEVEL     none | may | encrypt | fingerprint | verify | secure (Postfix smtp_tls_security_level)
# HOSTPORT  a lab target as in lab.json (smtp://[127.0.0.1]:25603, smtps://…, submission://…),
#           or [127.0.0.1]:PORT, 127.0.0.1:PORT, or just PORT. smtps:// turns on wrapper mode
#           (-w); a peer listed in lab.json as smtps is probed in wrapper mode too.
# SERVERNAME  SNI and, at verify/secure, the name to match; default: the peer's servername
#           in lab.json, else mx.lab.test.
# MATCH     fingerprint level only: SHA-256 digest (hex, colons optional) of the certificate
#           or public key; default: the peer's cert_sha256 in lab.json (64 zeros if null).
#
# Always uses the lab CA (-F $OSTLS_LAB_DIR/pki/ca.pem) and MAIL_CONFIG=$OSTLS_LAB_DIR/posttls-finger
# (a minimal main.cf written by "lab/lab up"). Loopback only.
# Environment: OSTLS_LAB_DIR (default /tmp/ostls-lab); POSTTLS_FINGER_TIMEOUT (seconds,
# default 5) for connect/banner and for each command; OSTLS_LAB_VERBOSE=1 copies
# posttls-finger's own output to stderr.
set -euo pipefail

LAB=${OSTLS_LAB_DIR:-/tmp/ostls-lab}
LAB=${LAB%/}
TIMEOUT=${POSTTLS_FINGER_TIMEOUT:-5}
PY=/usr/bin/python3
[[ -x $PY ]] || PY=python3

usage() { echo "usage: $0 LEVEL HOSTPORT [SERVERNAME [MATCH]]" >&2; exit 2; }
(($# >= 2 && $# <= 4)) || usage
level=$1 hostport=$2 servername=${3:-} match=${4:-}

case $level in
  none | may | encrypt | fingerprint | verify | secure) ;;
  *) echo "$0: unsupported level '$level'" >&2; usage ;;
esac

[[ -f $LAB/posttls-finger/main.cf ]] ||
  { echo "$0: $LAB/posttls-finger/main.cf missing: run lab/lab up first" >&2; exit 2; }

# Parse HOSTPORT.
scheme=smtp
rest=$hostport
if [[ $rest == *://* ]]; then
  scheme=${rest%%://*}
  rest=${rest#*://}
fi
rest=${rest%/}
if [[ $rest =~ ^[0-9]+$ ]]; then
  host=127.0.0.1 port=$rest
elif [[ $rest =~ ^\[([^]]+)\]:([0-9]+)$ || $rest =~ ^([^:]+):([0-9]+)$ ]]; then
  host=${BASH_REMATCH[1]} port=${BASH_REMATCH[2]}
else
  echo "$0: cannot parse '$hostport'" >&2
  usage
fi
[[ $host == localhost ]] && host=127.0.0.1
[[ $host =~ ^127\.[0-9]+\.[0-9]+\.[0-9]+$ ]] ||
  { echo "$0: lab peers are on loopback only (got '$host')" >&2; exit 2; }

# What lab.json knows about the peer on this port: scheme servername cert_sha256
info=$("$PY" - "$LAB/lab.json" "$port" <<'EOF' 2>/dev/null || true
import json, re, sys
try:
    lab = json.load(open(sys.argv[1]))
except OSError:
    sys.exit(0)
for p in lab["peers"]:
    m = re.match(r"^(\w+)://\[[^]]+\]:(\d+)$", p["target"])
    if m and m.group(2) == sys.argv[2]:
        print(m.group(1), p["servername"], p["cert_sha256"] or "-")
EOF
)
read -r lab_scheme lab_servername lab_cert <<<"${info:-- - -}"
[[ $scheme == smtp && $lab_scheme == smtps ]] && scheme=smtps
[[ -n $servername ]] || servername=$lab_servername
[[ -n $servername && $servername != - ]] || servername=mx.lab.test

args=(-c -l "$level" -F "$LAB/pki/ca.pem" -s "$servername" -t "$TIMEOUT" -T "$TIMEOUT")
[[ $scheme == smtps ]] && args+=(-w)
args+=("[$host]:$port")
case $level in
  verify | secure) args+=("$servername") ;;
  fingerprint)
    if [[ -z $match ]]; then
      match=$lab_cert
      [[ $match != - ]] || match=$(printf '0%.0s' {1..64})
    fi
    hex=$(tr -d ':' <<<"$match" | tr 'a-f' 'A-F')
    [[ $hex =~ ^[0-9A-F]{64}$ ]] || { echo "$0: MATCH must be a SHA-256 digest" >&2; exit 2; }
    args+=("$(sed 's/../&:/g; s/:$//' <<<"$hex")")
    ;;
esac

out=$(MAIL_CONFIG=$LAB/posttls-finger timeout $((4 * TIMEOUT + 10)) \
  posttls-finger -d sha256 "${args[@]}" 2>&1 </dev/null || true)
[[ ${OSTLS_LAB_VERBOSE:-0} == 1 ]] && printf '%s\n' "posttls-finger ${args[*]}" "$out" >&2
word=$(sed -nE 's/.*(Anonymous|Untrusted|Trusted|Verified) TLS connection established.*/\1/p' \
  <<<"$out" | head -n1)
echo "${word:-none}"
