"""Shared by the hostile-server suites (smtp_servers.py, imap_servers.py, pop3_servers.py): a
threaded server on 127.0.0.1 that runs one behaviour per connection, the behaviours every
protocol shares once the upgrade reply is out (alert, reset, plaintext in the handshake) or
before the first reply (10 MB line, slowloris, silent), the comparison of an outcome with its
expectation, and the driver that probes each case at `may` and `encrypt`.

A protocol's suite supplies its cases as (name, behaviour(conn, ctx), expected at may, expected
at encrypt, seconds allowed); expected: verdict, protection, events that must be present,
events that must be absent (`absent`), result_type for a failure, and the capabilities read after
TLS (`caps_tls`) where a case injects others.
"""
import argparse
import os
import socket
import ssl
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "lab"))
from labtest import EXIT, Runner, make_leaf  # noqa: E402

NAME = "adversary.lab.test"
TIMEOUT = 3  # --timeout for every probe: the bound the slow cases must respect
ALERT = bytes([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28])  # fatal handshake_failure


class Conn:
    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def raw_line(self):
        while b"\n" not in self.buf:
            data = self.sock.recv(4096)
            if not data:
                raise EOFError
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r")

    def line(self):
        return self.raw_line().upper()

    def send(self, data):
        self.sock.sendall(data)


def tls_conn(c, ctx):
    """The server handshake on c's socket (nothing may be buffered: the client sent nothing
    behind its upgrade command); a Conn on the TLS socket."""
    assert not c.buf
    return Conn(ctx.wrap_socket(c.sock, server_side=True))


def alert_after(c, reply):
    """The upgrade accepted, then a fatal alert answers the ClientHello."""
    c.send(reply)
    c.sock.recv(4096)
    c.send(ALERT)


def reset_after(c, reply):
    """The upgrade accepted, then the connection is reset (SO_LINGER 0: RST on close)."""
    c.send(reply)
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")


def plaintext_after(c, reply, text):
    """The upgrade accepted, then a plaintext line answers the ClientHello."""
    c.send(reply)
    c.sock.recv(4096)
    c.send(text)
    time.sleep(0.5)


def huge_greeting(prefix):
    """A behaviour: a 10 MB greeting line."""
    def behaviour(c, ctx):
        c.send(prefix + b"x" * (10 * 1024 * 1024) + b"\r\n")
    return behaviour


def slow_greeting(greeting):
    """A behaviour: the greeting, one byte per second."""
    def behaviour(c, ctx):
        for b in greeting:
            c.send(bytes([b]))
            time.sleep(1)
    return behaviour


def silent(c, ctx):
    time.sleep(30)


def endless(c, chunk):
    """Sends `chunk` until the client hangs up."""
    try:
        while True:
            c.send(chunk * 1000)
    except OSError:
        pass


# Expectations every protocol shares.
MAY_OK_CLEAR = {"verdict": "ok", "protection": "cleartext"}
FAIL_NO_TLS = {"verdict": "fail", "protection": "cleartext", "result_type": "starttls-not-supported"}
FAIL_CLEAR = {"verdict": "fail", "protection": "cleartext"}
DEFER_CLEAR = {"verdict": "defer", "protection": "cleartext"}


def encrypted(*events, absent=(), **more):
    return dict({"verdict": "ok", "protection": "encrypted", "events": list(events), "absent": list(absent)}, **more)


def common_cases(upgrade, greeting, huge_prefix, not_tls):
    """The cases whose server side is the same in every protocol but for the bytes: `upgrade(c)`
    plays the dialogue up to the upgrade command and returns the reply that accepts it; then come
    the alert, the reset or `not_tls` in plaintext. `greeting` is sent one byte per second;
    `huge_prefix` starts the 10 MB greeting line."""
    def alert(c, ctx):
        alert_after(c, upgrade(c))

    def reset(c, ctx):
        reset_after(c, upgrade(c))

    def plaintext(c, ctx):
        plaintext_after(c, upgrade(c), not_tls)

    return [
        ("alert-mid-handshake", alert, dict(MAY_OK_CLEAR, events=["fallback-to-cleartext"]), FAIL_CLEAR, 10),
        ("reset-after-starttls", reset, dict(MAY_OK_CLEAR, events=["reset-after-starttls"]),
         dict(FAIL_CLEAR, events=["reset-after-starttls"]), 10),
        ("plaintext-in-handshake", plaintext, dict(MAY_OK_CLEAR, events=["fallback-to-cleartext"]), FAIL_CLEAR, 10),
        ("10-MB-line", huge_greeting(huge_prefix), FAIL_CLEAR, FAIL_CLEAR, 10),
        ("slowloris-greeting", slow_greeting(greeting), DEFER_CLEAR, DEFER_CLEAR, TIMEOUT + 3),
        ("silent", silent, DEFER_CLEAR, DEFER_CLEAR, TIMEOUT + 3),
    ]


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
    problems += [f"event {e} not expected (got {got})" for e in exp.get("absent", []) if e in got]
    if "result_type" in exp and (o["failure"] or {}).get("result_type") != exp["result_type"]:
        problems.append(f"failure {o['failure']}, expected {exp['result_type']}")
    if "caps_tls" in exp and o["capabilities"]["tls"] != exp["caps_tls"]:
        problems.append(f"capabilities after TLS {o['capabilities']['tls']}, expected {exp['caps_tls']}")
    if o["protection"] != "cleartext" and o["tls"] is None:
        problems.append("TLS claimed without TLS facts")
    return problems


def sanitizer_problems(err):
    """ASan/LSan/UBSan reports in a stderr (a sanitize build of ostls prints them there)."""
    markers = ("ERROR: LeakSanitizer", "ERROR: AddressSanitizer", "runtime error:")
    return [f"sanitizer: {l.strip()[:200]}" for l in err.splitlines() if any(m in l for m in markers)]


def main(doc, scheme, cases, extra_args=()):
    """Parses --ostls/--ca/-k, runs every case at may and encrypt against `scheme`://127.0.0.1:PORT,
    prints one line per case and the summary; the exit status for CTest."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ostls", required=True, help="the ostls binary (e.g. a sanitize build's)")
    ap.add_argument("--ca", default=os.path.join(os.environ.get("OSTLS_LAB_DIR", "/tmp/ostls-lab"), "pki", "ca.pem"))
    ap.add_argument("-k", dest="only", help="only the cases whose name contains this")
    a = ap.parse_args()
    run = Runner(a.ostls)
    # What starting a probe costs on this machine (a sanitize build on a loaded host: seconds): a
    # probe of a port nobody listens on. Every bound is on ostls's own waiting, so it gets this on top.
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        closed = unused.getsockname()[1]
    overhead = min(run.probe("--timeout", str(TIMEOUT), f"{scheme}://[127.0.0.1]:{closed}")[3] for _ in range(2))
    print(f"probe start-up overhead: {overhead:.2f} s (added to every bound)")
    with tempfile.TemporaryDirectory(prefix="ostls-adversary-") as tmp:
        chain, key = make_leaf(a.ca, tmp, NAME, "adversary")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(chain, key)
        for name, behaviour, at_may, at_encrypt, bound in cases:
            if a.only and a.only not in name:
                continue
            server = Server(behaviour, ctx)
            try:
                for level, exp in (("may", at_may), ("encrypt", at_encrypt)):
                    code, out, err, secs = run.probe("--policy", level, "--timeout", str(TIMEOUT), *extra_args,
                                                     f"{scheme}://[127.0.0.1]:{server.port}", timeout=60)
                    label = f"{scheme} {name} at {level}: {exp['verdict']}/{exp['protection']} within {bound} s"
                    problems = sanitizer_problems(err)
                    if len(out) != 1:
                        run.check(label, problems + [f"exit {code}, no outcome: {err.strip()[-300:]}"])
                        continue
                    problems += compare(out[0], exp)
                    if code != EXIT[exp["verdict"]]:
                        problems.append(f"exit status {code}, expected {EXIT[exp['verdict']]}")
                    # The bound holds for ostls's own clock (timing_ms.total: connect to verdict);
                    # the wall clock, start-up and exit included, gets the measured overhead and,
                    # for a host loaded by other builds, as much again.
                    total = (out[0].get("timing_ms") or {}).get("total", 0) / 1000
                    if total > bound or secs > bound + 2 * overhead + 2:
                        problems.append(f"took {total:.1f} s by its own clock, {secs:.1f} s by the wall clock")
                    if problems:
                        problems.append(f"failure: {out[0]['failure']}")
                    run.check(label, problems)
            finally:
                server.close()
    return run.summary()
