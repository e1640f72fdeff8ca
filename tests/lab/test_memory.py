#!/usr/bin/env python3
"""ostls's memory against real peers, on both store engines (a SQLite file, and a fresh database
on the lab's PostgreSQL): trust on first use and capability memory (issue #5, SPEC R11).

TOFU: a server-role front (ostls_serve_lab, in front of the lab's cleartext Postfix) on a fixed
port presents key A: the first probe pins it, the second is authenticated by the pin; the front
is then re-keyed (restarted with key B on the same port): `tofu` and `opportunistic` fail naming
both keys; `ostls tofu pin` accepts B and the probe passes again; `show`, `list`, `forget`.

Memory: a TCP forwarder on a fixed port first leads to the lab's STARTTLS Postfix (`labca`), then
to the STRIPTLS man in the middle in front of the same Postfix (`strip`): the second probe finds
no STARTTLS where TLS worked before → `downgrade-suspected` with the date; with --sticky → `fail`.

    test_memory.py --ostls build/ostls --serve build/tests/ostls_serve_lab
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from labtest import Forwarder, Runner, make_leaf  # noqa: E402

FRONT = "front.lab.test"


class Front:
    """ostls_serve_lab (SMTP server role) on a fixed port with one certificate."""

    def __init__(self, serve, port, backend, cert, key):
        self.proc = subprocess.Popen([serve, "--protocol", "smtp", "--listen", str(port), "--backend",
                                      f"127.0.0.1:{backend}", "--cert", cert, "--key", key],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        first = self.proc.stdout.readline()
        if '"listening"' not in first:
            raise RuntimeError(f"serve_lab did not start: {first!r}")
        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def spki_of(chain):
    """SHA-256 of the leaf's SubjectPublicKeyInfo, lowercase hex."""
    pub = subprocess.run(["openssl", "x509", "-in", chain, "-pubkey", "-noout"], capture_output=True, check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub, capture_output=True,
                         check=True).stdout
    return subprocess.run(["openssl", "dgst", "-sha256", "-r"], input=der, capture_output=True,
                          check=True).stdout.split()[0].decode()


def expect(o, **want):
    """Problems of one outcome against expected top-level or nested ('signals.tofu') values."""
    problems = []
    for key, value in want.items():
        cur = o
        for part in key.split("__"):
            cur = cur.get(part) if isinstance(cur, dict) else None
        if cur != value:
            problems.append(f"{key.replace('__', '.')} = {cur!r}, expected {value!r}")
    return problems


def event_types(o):
    return [e["type"] for e in o.get("events", [])]


class Case:
    def __init__(self, args, engine, spec, tmp, port_base):
        self.args, self.engine, self.spec, self.tmp = args, engine, spec, tmp
        self.runner = Runner(args.ostls)
        self.port_base = port_base

    def probe(self, *args):
        code, out, err, _ = self.runner.probe("--store", self.spec, *args)
        if len(out) != 1:
            return code, {"error": f"{len(out)} outcomes, stderr {err.strip()!r}"}
        return code, out[0]

    def tofu(self, *args):
        return subprocess.run([self.args.ostls, "tofu", "--store", self.spec, *args], capture_output=True, text=True,
                              timeout=60)


def tofu_cases(c, lab):
    r = c.runner
    ca = lab["ca_file"]
    ports = {p["name"]: int(p["target"].rsplit(":", 1)[1]) for p in lab["peers"]}
    port = c.port_base
    target = f"smtp://[127.0.0.1]:{port}"
    a = make_leaf(ca, c.tmp, FRONT, f"a-{c.engine}")
    b = make_leaf(ca, c.tmp, FRONT, f"b-{c.engine}")
    key_a, key_b = spki_of(a[0]), spki_of(b[0])
    label = f"[{c.engine}]"

    front = Front(c.args.serve, port, ports["plain"], *a)
    try:
        code, o = c.probe("--policy", "tofu", target)
        r.check(f"{label} tofu, first contact: encrypted, key A pinned",
                expect(o, verdict="ok", protection="encrypted", auth_method="none", signals__tofu="new",
                       tls__peer__spki_sha256=key_a) + ([] if code == 0 else [f"exit {code}"]))
        show = c.tofu("show", "--json", target)
        pinned = json.loads(show.stdout) if show.returncode == 0 else {}
        r.check(f"{label} ostls tofu show: the pin is key A",
                [] if pinned.get("spki_sha256") == key_a else [f"show: {show.returncode} {show.stdout!r} {show.stderr!r}"])
        code, o = c.probe("--policy", "tofu", target)
        r.check(f"{label} tofu, second contact: authenticated by the pin",
                expect(o, verdict="ok", protection="authenticated", auth_method="tofu", trust="Verified",
                       signals__tofu="match") + ([] if code == 0 else [f"exit {code}"]))
        code, o = c.probe(target)
        r.check(f"{label} opportunistic with a pin: authenticated by TOFU",
                expect(o, verdict="ok", protection="authenticated", auth_method="tofu", signals__tofu="match",
                       policy__effective="tofu"))
        code, o = c.probe("--policy", "may", target)
        r.check(f"{label} may ignores the pin (no authentication demanded)",
                expect(o, verdict="ok", protection="encrypted", auth_method="none"))
    finally:
        front.stop()

    front = Front(c.args.serve, port, ports["plain"], *b)  # re-keyed, same address and port
    try:
        for level in ("tofu", "opportunistic"):
            code, o = c.probe("--policy", level, target)
            problems = expect(o, verdict="fail", signals__tofu="mismatch")
            details = [e["detail"] for e in o.get("events", []) if e["type"] == "tofu-key-changed"]
            if not details or key_a not in details[0] or key_b not in details[0]:
                problems.append(f"no tofu-key-changed event naming both keys: {o.get('events')}")
            if code != 1:
                problems.append(f"exit {code}, expected 1")
            r.check(f"{label} re-keyed peer under {level}: fail, event names key A and key B", problems)
        pin = c.tofu("pin", target)
        r.check(f"{label} ostls tofu pin accepts the key presented now",
                [] if pin.returncode == 0 and key_b in pin.stdout else [f"pin: {pin.returncode} {pin.stdout!r} {pin.stderr!r}"])
        code, o = c.probe("--policy", "tofu", target)
        r.check(f"{label} after ostls tofu pin: authenticated by the new pin",
                expect(o, verdict="ok", protection="authenticated", auth_method="tofu", tls__peer__spki_sha256=key_b))
        listed = c.tofu("list", "--json")
        rows = [json.loads(line) for line in listed.stdout.splitlines() if line.strip()]
        mine = [x for x in rows if x["host"] == "127.0.0.1" and x["port"] == port and x["protocol"] == "smtp"]
        r.check(f"{label} ostls tofu list --json shows the pin",
                [] if len(mine) == 1 and mine[0]["spki_sha256"] == key_b else [f"list: {listed.stdout!r}"])
        forget = c.tofu("forget", target)
        again = c.tofu("show", target)
        r.check(f"{label} ostls tofu forget removes it",
                [] if forget.returncode == 0 and again.returncode == 1 else
                [f"forget {forget.returncode} {forget.stderr!r}, show afterwards {again.returncode}"])
        code, o = c.probe("--policy", "tofu", target)
        r.check(f"{label} after forget: first contact again", expect(o, verdict="ok", signals__tofu="new"))
    finally:
        front.stop()


def memory_cases(c, lab):
    r = c.runner
    ports = {p["name"]: int(p["target"].rsplit(":", 1)[1]) for p in lab["peers"]}
    port = c.port_base + 1
    target = f"smtp://[127.0.0.1]:{port}"
    label = f"[{c.engine}]"
    fwd = Forwarder(port, ports["labca"])
    try:
        code, o = c.probe("--policy", "may", target)
        r.check(f"{label} memory: first contact through the clean path is encrypted",
                expect(o, verdict="ok", protection="encrypted") +
                (["unexpected downgrade-suspected"] if "downgrade-suspected" in event_types(o) else []))
        fwd.upstream = ports["strip"]  # now a man in the middle strips STARTTLS
        code, o = c.probe("--policy", "may", target)
        problems = expect(o, verdict="ok", protection="cleartext")
        details = [e["detail"] for e in o.get("events", []) if e["type"] == "downgrade-suspected"]
        if not details or time.strftime("%Y-%m-%d", time.gmtime()) not in details[0]:
            problems.append(f"no downgrade-suspected event with today's date: {o.get('events')}")
        memory = (o.get("signals") or {}).get("memory") or {}
        if not memory.get("last_tls"):
            problems.append(f"signals.memory lacks last_tls: {memory}")
        r.check(f"{label} memory: through the STRIPTLS MITM → downgrade-suspected (cleartext under may)", problems)
        code, o = c.probe("--policy", "may", "--sticky", target)
        r.check(f"{label} memory: same with --sticky → fail",
                expect(o, verdict="fail", protection="cleartext") +
                ([] if "downgrade-suspected" in event_types(o) else ["no downgrade-suspected event"]) +
                ([] if code == 1 else [f"exit {code}"]))
        fwd.upstream = ports["labca"]
        code, o = c.probe("--policy", "may", "--sticky", target)
        r.check(f"{label} memory: the clean path again is fine under --sticky",
                expect(o, verdict="ok", protection="encrypted"))
    finally:
        fwd.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ostls", required=True)
    ap.add_argument("--serve", required=True)
    args = ap.parse_args()
    lab_dir = Path(os.environ.get("OSTLS_LAB_DIR", "/tmp/ostls-lab"))
    lab = json.loads((lab_dir / "lab.json").read_text())
    base = int(os.environ.get("OSTLS_LAB_PORT_BASE", "25600")) + 90
    ports = {p["name"]: int(p["target"].rsplit(":", 1)[1]) for p in lab["peers"]}
    runner_total = Runner(args.ostls)
    with tempfile.TemporaryDirectory(prefix="ostls-memory-") as tmp:
        pg_port = ports["postgres-plain"]
        db = f"ostls_memory_test_{os.getpid()}"
        psql = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(pg_port), "-U", "postgres",
                "-d", "postgres"]
        subprocess.run(psql + ["-c", f"CREATE DATABASE {db}"], check=True, capture_output=True)
        try:
            engines = [("sqlite", str(Path(tmp) / "ostls.db"), base),
                       ("postgresql", f"postgresql://postgres@127.0.0.1:{pg_port}/{db}", base + 4)]
            for engine, spec, port_base in engines:
                c = Case(args, engine, spec, tmp, port_base)
                for cases in (tofu_cases, memory_cases):
                    try:
                        cases(c, lab)
                    except Exception as e:  # a crashed group is a failure, never a skip
                        c.runner.check(f"[{engine}] {cases.__name__}: crashed", [repr(e)])
                runner_total.passed += c.runner.passed
                runner_total.failed += c.runner.failed
        finally:
            subprocess.run(psql + ["-c", f"DROP DATABASE IF EXISTS {db}"], capture_output=True)
    return runner_total.summary()


if __name__ == "__main__":
    sys.exit(main())
