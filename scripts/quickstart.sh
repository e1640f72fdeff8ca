#!/usr/bin/env bash
# README command 1 on a fresh Debian 12 machine: install, build, start the lab, probe every
# lab peer with the default policy and print one line per peer with what was achieved.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh release
export OSTLS_LAB_DIR=${OSTLS_LAB_DIR:-/tmp/ostls-lab}
bash lab/lab up
python3 - "$OSTLS_LAB_DIR/lab.json" <<'PY'
import json, subprocess, sys
lab = json.load(open(sys.argv[1]))
print(f"{'peer':<11} {'protection':<13} {'trust':<10} {'verdict':<7} line")
for p in lab["peers"]:
    args = ["build/ostls", "probe", "--json", "--cafile", lab["ca_file"], "--servername", p["servername"],
            "--timeout", str(p.get("timeout", 10)), p["target"]]
    out = subprocess.run(args, capture_output=True, text=True).stdout.strip()
    o = json.loads(out) if out else {}
    events = ", ".join(e["type"] for e in o.get("events", []))
    print(f"{p['name']:<11} {o.get('protection','?'):<13} {str(o.get('trust') or '-'):<10} {o.get('verdict','?'):<7} "
          f"{o.get('line','')}" + (f"  [{events}]" if events else ""))
PY
echo
echo "The lab is still running (state in $OSTLS_LAB_DIR). Try: build/ostls probe -v --cafile $OSTLS_LAB_DIR/pki/ca.pem smtp://[127.0.0.1]:25603"
echo "Stop it with: lab/lab down"
