#!/usr/bin/env python3
"""Hostile SMTP servers against `ostls probe` (client role), one per case of the "NO STARTTLS"
catalogue (Poddebniak et al., USENIX Security 2021) and of SPEC §6's bounds, each with the
outcome ostls must report at `may` and at `encrypt`, and a bound on how long that may take.

    smtp_servers.py --ostls build/ostls [--ca CA.pem] [-k CASE]   # CA default: the lab's ($OSTLS_LAB_DIR)

Every server is this script's own code on 127.0.0.1 (a thread per connection); TLS, where a case
gets that far, is Python's ssl with a leaf from the lab CA. A case passes when the verdict,
protection and events match, the exit status is the verdict's, and the probe ended within its
time bound — never a crash, a hang or a silent downgrade.
"""
import argparse
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "lab"))
from labtest import Runner, make_leaf  # noqa: E402

NAME = "adversary.lab.test"
EHLO_TLS = b"250-adversary.lab.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n"
EHLO_PLAIN = b"250-adversary.lab.test\r\n250 PIPELINING\r\n"


class Conn:
    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def line(self):
        while b"\n" not in self.buf:
            data = self.sock.recv(4096)
            if not data:
                raise EOFError
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").upper()

    def send(self, data):
        self.sock.sendall(data)

    def until(self, verb):
        """Answers every command with 250 until `verb`; returns that line."""
        while True:
            line = self.line()
            if line.startswith(verb):
                return line
            if line.startswith(b"QUIT"):
                self.send(b"221 bye\r\n")
                raise EOFError
            self.send(EHLO_PLAIN if line.startswith(b"EHLO") else b"250 ok\r\n")


def tls_tail(c, ctx, ehlo_after=EHLO_PLAIN):
    """The TLS side of a well-behaved server: handshake, then EHLO/QUIT."""
    assert not c.buf
    t = ctx.wrap_socket(c.sock, server_side=True)
    tc = Conn(t)
    while True:
        line = tc.line()
        if line.startswith(b"EHLO"):
            tc.send(ehlo_after)
        elif line.startswith(b"QUIT"):
            tc.send(b"221 bye\r\n")
            return
        else:
            tc.send(b"250 ok\r\n")


def greet_and_ehlo(c, ehlo=EHLO_TLS):
    c.send(b"220 adversary.lab.test ESMTP\r\n")
    line = c.line()
    if not line.startswith(b"EHLO"):
        raise EOFError
    c.send(ehlo)


# Each case: (name, behaviour(conn, ctx), expected at may, expected at encrypt, seconds allowed).
# Expected: verdict, protection, events that must be present (and result_type for fail).

def stripped(c, ctx):
    greet_and_ehlo(c, EHLO_PLAIN)
    c.until(b"QUIT")


def refused_454(c, ctx):
    greet_and_ehlo(c)
    c.until(b"STARTTLS")
    c.send(b"454 4.7.0 TLS not available due to temporary reason\r\n")
    c.until(b"QUIT")


def unexpected_code(c, ctx):
    greet_and_ehlo(c)
    c.until(b"STARTTLS")
    c.send(b"250 2.0.0 sure\r\n")  # not 220: the upgrade was not accepted
    c.until(b"QUIT")


def response_injection(c, ctx):
    greet_and_ehlo(c)
    c.until(b"STARTTLS")
    c.send(b"220 2.0.0 Ready to start TLS\r\n250 injected-before-the-handshake\r\n")
    tls_tail(c, ctx)


def starttls_after_tls(c, ctx):
    greet_and_ehlo(c)
    c.until(b"STARTTLS")
    c.send(b"220 2.0.0 Ready\r\n")
    tls_tail(c, ctx, ehlo_after=EHLO_TLS)


def alert_mid_handshake(c, ctx):
    greet_and_ehlo(c)
    c.until(b"STARTTLS")
    c.send(b"220 2.0.0 Ready\r\n")
    c.sock.recv(4096)  # the ClientHello
    c.send(bytes([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]))  # fatal handshake_failure


def reset_after_starttls(c, ctx):
    greet_and_ehlo(c)
    c.until(b"STARTTLS")
    c.send(b"220 2.0.0 Ready\r\n")
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")


def plaintext_in_handshake(c, ctx):
    greet_and_ehlo(c)
    c.until(b"STARTTLS")
    c.send(b"220 2.0.0 Ready\r\n")
    c.sock.recv(4096)
    c.send(b"250 this is not a ServerHello\r\n")
    time.sleep(0.5)


def endless_reply(c, ctx):
    c.send(b"220 adversary.lab.test ESMTP\r\n")
    c.line()
    try:
        while True:
            c.send(b"250-again\r\n" * 1000)
    except OSError:
        pass


def huge_line(c, ctx):
    c.send(b"220 " + b"x" * (10 * 1024 * 1024) + b"\r\n")


def slowloris(c, ctx):
    for b in b"220 slow.lab.test ESMTP\r\n":
        c.send(bytes([b]))
        time.sleep(1)


def silent(c, ctx):
    time.sleep(30)


MAY_OK_CLEAR = {"verdict": "ok", "protection": "cleartext"}
FAIL_NO_TLS = {"verdict": "fail", "protection": "cleartext", "result_type": "starttls-not-supported"}

CASES = [
    ("stripped", stripped, MAY_OK_CLEAR, FAIL_NO_TLS, 10),
    ("refused-454", refused_454, dict(MAY_OK_CLEAR, events=["starttls-refused"]),
     dict(FAIL_NO_TLS, events=["starttls-refused"]), 10),
    ("unexpected-code", unexpected_code, dict(MAY_OK_CLEAR, events=["starttls-refused"]),
     dict(FAIL_NO_TLS, events=["starttls-refused"]), 10),
    ("response-injection", response_injection, {"verdict": "ok", "protection": "encrypted",
                                                "events": ["response-injection"]},
     {"verdict": "ok", "protection": "encrypted", "events": ["response-injection"]}, 10),
    ("starttls-after-tls", starttls_after_tls, {"verdict": "ok", "protection": "encrypted",
                                                "events": ["starttls-after-tls"]},
     {"verdict": "ok", "protection": "encrypted", "events": ["starttls-after-tls"]}, 10),
    ("alert-mid-handshake", alert_mid_handshake, dict(MAY_OK_CLEAR, events=["fallback-to-cleartext"]),
     {"verdict": "fail", "protection": "cleartext"}, 10),
    ("reset-after-starttls", reset_after_starttls, dict(MAY_OK_CLEAR, events=["reset-after-starttls"]),
     {"verdict": "fail", "protection": "cleartext", "events": ["reset-after-starttls"]}, 10),
    ("plaintext-in-handshake", plaintext_in_handshake, dict(MAY_OK_CLEAR, events=["fallback-to-cleartext"]),
     {"verdict": "fail", "protection": "cleartext"}, 10),
    ("endless-multiline-reply", endless_reply, {"verdict": "fail", "protection": "cleartext"},
     {"verdict": "fail", "protection": "cleartext"}, 10),
    ("10-MB-line", huge_line, {"verdict": "fail", "protection": "cleartext"},
     {"verdict": "fail", "protection": "cleartext"}, 10),
    ("slowloris-greeting", slowloris, {"verdict": "defer", "protection": "cleartext"},
     {"verdict": "defer", "protection": "cleartext"}, 6),
    ("silent", silent, {"verdict": "defer", "protection": "cleartext"},
     {"verdict": "defer", "protection": "cleartext"}, 6),
]
TIMEOUT = 3  # --timeout for every probe: the bound the slow cases must respect


class Server:
    def __init__(self, behaviour, ctx):
        self.behaviour, self.ctx = behaviour, ctx
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                s, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.one, args=(s,), daemon=True).start()

    def one(self, s):
        try:
            self.behaviour(Conn(s), self.ctx)
        except (OSError, EOFError, ssl.SSLError):
            pass
        finally:
            try:
                s.close()
            except OSError:
                pass

    def close(self):
        self.sock.close()


def compare(o, exp):
    problems = []
    for key in ("verdict", "protection"):
        if o[key] != exp[key]:
            problems.append(f"{key} {o[key]!r}, expected {exp[key]!r}")
    got = [e["type"] for e in o["events"]]
    problems += [f"event {e} missing (got {got})" for e in exp.get("events", []) if e not in got]
    if "result_type" in exp and (o["failure"] or {}).get("result_type") != exp["result_type"]:
        problems.append(f"failure {o['failure']}, expected {exp['result_type']}")
    if o["protection"] != "cleartext" and o["tls"] is None:
        problems.append("TLS claimed without TLS facts")
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ostls", required=True)
    ap.add_argument("--ca", default=os.path.join(os.environ.get("OSTLS_LAB_DIR", "/tmp/ostls-lab"), "pki", "ca.pem"))
    ap.add_argument("-k", dest="only")
    a = ap.parse_args()
    run = Runner(a.ostls)
    with tempfile.TemporaryDirectory(prefix="ostls-adversary-") as tmp:
        chain, key = make_leaf(a.ca, tmp, NAME, "adversary")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(chain, key)
        for name, behaviour, at_may, at_encrypt, bound in CASES:
            if a.only and a.only not in name:
                continue
            server = Server(behaviour, ctx)
            try:
                for level, exp in (("may", at_may), ("encrypt", at_encrypt)):
                    code, out, err, secs = run.probe("--policy", level, "--timeout", str(TIMEOUT), "--helo",
                                                     "client.lab.test", f"smtp://[127.0.0.1]:{server.port}",
                                                     timeout=60)
                    label = f"{name} at {level}: {exp['verdict']}/{exp['protection']} within {bound} s"
                    if len(out) != 1:
                        run.check(label, [f"exit {code}, no outcome: {err.strip()[-300:]}"])
                        continue
                    problems = compare(out[0], exp)
                    if code != {"ok": 0, "fail": 1, "defer": 75}[exp["verdict"]]:
                        problems.append(f"exit status {code}")
                    if secs > bound:
                        problems.append(f"took {secs:.1f} s")
                    if problems:
                        problems.append(f"failure: {out[0]['failure']}")
                    run.check(label, problems)
            finally:
                server.close()
    return run.summary()


if __name__ == "__main__":
    sys.exit(main())
