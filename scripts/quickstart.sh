#!/usr/bin/env bash
# README command 1 on a fresh Debian 12 machine: install, build, start the lab, probe every
# lab peer with the default policy and print one line per peer with what was achieved.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh release
export OSTLS_LAB_DIR=${OSTLS_LAB_DIR:-/tmp/ostls-lab}
bash lab/lab up
python3 - "$OSTLS_LAB_DIR" <<'PY'
import json, os, subprocess, sys
lab = json.load(open(os.path.join(sys.argv[1], "lab.json")))
dns = json.load(open(os.path.join(sys.argv[1], "dns", "dns.json")))

def show(name, args):
    out = subprocess.run(["build/ostls", "probe", "--json", "--no-store", *args], capture_output=True, text=True).stdout.strip()
    o = json.loads(out) if out else {}
    events = ", ".join(e["type"] for e in o.get("events", []))
    why = "" if o.get("verdict") == "ok" else "  (" + ((o.get("failure") or {}).get("detail") or "")[:90] + ")"
    print(f"{name:<24} {o.get('protection','?'):<13} {o.get('auth_method','?'):<8} {str(o.get('trust') or '-'):<10} "
          f"{o.get('verdict','?'):<6} {o.get('line','')}" + (f"  [{events}]" if events else "") + why)

print("Default policy (opportunistic) against every lab peer, trusting the lab CA:\n")
print(f"{'peer':<24} {'protection':<13} {'auth':<8} {'trust':<10} {'verdict':<6} line")
for p in lab["peers"]:
    show(p["name"], ["--cafile", lab["ca_file"], "--servername", p["servername"],
                     "--timeout", str(p.get("timeout", 10)), p["target"]])
print("\nMail domains in the lab's DNSSEC-signed zone (MX, TLSA, DANE):\n")
for c in dns["cases"]:
    show(c["name"], ["--dns-config", dns["conf"], "--timeout", "10", f"smtp://{c['domain']}:{c['port']}"])
PY
echo
echo "The lab is still running (state in $OSTLS_LAB_DIR). Try: build/ostls probe -v --cafile $OSTLS_LAB_DIR/pki/ca.pem smtp://[127.0.0.1]:25603"
echo "Stop it with: lab/lab down"
