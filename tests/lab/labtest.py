"""Shared by the lab test scripts: a case runner that prints one line per case and the closing
'N passed, N failed' line, and `ostls probe --json` as a function."""
import json
import os
import socket
import subprocess
import threading
import time
from pathlib import Path

EXIT = {"ok": 0, "fail": 1, "defer": 75}


class Runner:
    def __init__(self, ostls):
        self.ostls = ostls
        self.passed = self.failed = 0

    def check(self, label, problems):
        if problems:
            self.failed += 1
            print(f"FAIL {label}")
            for p in problems:
                print(f"     {p}")
        else:
            self.passed += 1
            print(f"ok   {label}")

    def probe(self, *args, timeout=60):
        """Runs `ostls probe --json ARGS`: (exit status, [outcome objects], stderr, seconds).
        Without --store in ARGS the probe remembers nothing (--no-store): a lab test must not
        depend on, or leave behind, pins and memory from other runs."""
        started = time.monotonic()
        store = [] if "--store" in args else ["--no-store"]
        r = subprocess.run([self.ostls, "probe", "--json", *store, *args], capture_output=True, text=True,
                           timeout=timeout)
        elapsed = time.monotonic() - started
        lines = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
        return r.returncode, lines, r.stderr, elapsed

    def check_outcome(self, label, code, out, err, exp, compare):
        """One probe that must give exactly one outcome matching `exp` (via `compare`) and the
        exit status of its verdict."""
        if len(out) != 1:
            self.check(label, [f"expected one JSON outcome, got {len(out)}; stderr: {err.strip()}"])
            return
        problems = compare(out[0], exp)
        if code != EXIT[exp["verdict"]]:
            problems.append(f"exit status {code}, expected {EXIT[exp['verdict']]}")
        self.check(label, problems)

    def summary(self):
        print(f"{self.passed} passed, {self.failed} failed")
        return 0 if self.failed == 0 and self.passed > 0 else 1


class Forwarder:
    """A plain TCP relay on 127.0.0.1:port (0: any free port, then in .port) whose upstream port
    can be switched between sessions: the same peer address for ostls, with a different path
    behind it (test_memory.py, test_proxy.py)."""

    def __init__(self, port, upstream):
        self.upstream = upstream
        self.server = socket.create_server(("127.0.0.1", port), reuse_port=False)
        self.port = self.server.getsockname()[1]
        self.server.settimeout(0.2)
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped:
            try:
                client, _ = self.server.accept()
            except (socket.timeout, OSError):
                continue
            up = socket.create_connection(("127.0.0.1", self.upstream), timeout=10)
            for a, b in ((client, up), (up, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def stop(self):
        self.stopped = True
        self.server.close()


def make_leaf(ca_file, directory, name, stem):
    """A P-256 leaf for `name` (SAN DNS:name and IP:127.0.0.1) issued by the lab CA (its key sits
    next to ca.pem): (chain file with the CA appended, key file), both under `directory`/`stem`.*"""
    d = Path(directory)
    ca_key = str(Path(ca_file).with_name("ca.key"))
    key, csr, ext, pem = (d / f"{stem}.{x}" for x in ("key", "csr", "ext", "pem"))
    subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", csr, "-subj", f"/CN={name}"], check=True, capture_output=True)
    # IP:127.0.0.1 too: libldap (ldapsearch -ZZ) checks the host of an ldap://127.0.0.1 URI and
    # has no option to name the expected host otherwise.
    ext.write_text(f"subjectAltName=DNS:{name},IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", ca_file, "-CAkey", ca_key, "-CAcreateserial",
                    "-days", "2", "-extfile", ext, "-out", pem], check=True, capture_output=True)
    chain = d / f"{stem}.chain.pem"
    chain.write_text(pem.read_text() + Path(ca_file).read_text())
    return str(chain), str(key)


def load_lab_dns():
    """(dns.json, lab.json) of the running lab ($OSTLS_LAB_DIR), or None after saying that the
    lab's DNS is not running (the caller then fails: a missing lab is never a pass)."""
    lab_dir = os.environ.get("OSTLS_LAB_DIR", "/tmp/ostls-lab")
    try:
        with open(os.path.join(lab_dir, "dns", "dns.json")) as f:
            dns = json.load(f)
        with open(os.path.join(lab_dir, "lab.json")) as f:
            lab = json.load(f)
    except OSError as e:
        print(f"the lab's DNS is not running ({e}); start it with lab/lab up")
        print("0 passed, 1 failed")
        return None
    return dns, lab
