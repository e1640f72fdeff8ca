#!/usr/bin/env python3
"""`ostls proxy` transparent mode (client mode, `transparent = true`) in a network namespace of
its own, behind a real nftables redirect.

Inside the namespace: an nftables `nat output` rule redirects every connection to 127.0.0.2:25
to the proxy's listener, except those carrying the proxy's SO_MARK; the proxy reads where each
connection was going (SO_ORIGINAL_DST) and negotiates with that destination itself. 127.0.0.2:25
inside the namespace is a byte pipe that leaves the namespace through a Unix socket and reaches
the lab's Postfix `labca` (STARTTLS) in the root namespace — the same bytes a real MX would see.

Checks:
- smtplib in the namespace, connecting to 127.0.0.2:25 as if there were no proxy, gets Postfix's
  greeting and no STARTTLS offer, and MAIL FROM is accepted: the session went through the proxy,
  which reports `encrypted` TLS to 127.0.0.2 (the original destination) in its log and metrics;
- a connection made to the listener itself (no redirect) is refused with 421 and the reason,
  never relayed to the proxy's own address;
- the proxy's own upstream connection is not redirected again (the mark exemption): otherwise the
  session above would loop into the listener and be refused;
- without the exemption rule the loop is caught: the proxy refuses instead of connecting to itself.

    test_proxy_transparent.py --ostls build/ostls
Needs root (ip netns, nft). Helper modes of this script run inside the namespace.
"""
import argparse
import json
import os
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from labtest import Forwarder, Runner  # noqa: E402
from test_proxy import metric, scrape  # noqa: E402

LAB = Path(os.environ.get("OSTLS_LAB_DIR", "/tmp/ostls-lab"))
MARK = 0x4F53
ORIGINAL = ("127.0.0.2", 25)
LISTEN_PORT, METRICS_PORT = 10025, 9109  # inside the namespace: nothing else listens there


def pipe_both_ways(a, b):
    for src, dst in ((a, b), (b, a)):
        threading.Thread(target=Forwarder._pump, args=(src, dst), daemon=True).start()


def serve_tcp_to_unix(host, port, path):
    """Inside the namespace: host:port → the Unix socket `path` (one pipe per connection)."""
    server = socket.create_server((host, port))
    print("ready", flush=True)
    while True:
        client, _ = server.accept()
        up = socket.socket(socket.AF_UNIX)
        up.connect(path)
        pipe_both_ways(client, up)


class UnixToTcp:
    """In the root namespace: the Unix socket `path` → 127.0.0.1:port (the lab's Postfix)."""

    def __init__(self, path, port):
        self.server = socket.socket(socket.AF_UNIX)
        self.server.bind(path)
        self.server.listen(16)
        self.port = port
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            pipe_both_ways(client, socket.create_connection(("127.0.0.1", self.port), timeout=10))


def app_session(host, port):
    """Inside the namespace: an application that knows nothing of the proxy."""
    out = {}
    try:
        with smtplib.SMTP(host, port, local_hostname="app.lab.test", timeout=30) as s:
            out["ehlo"] = s.ehlo()[0]
            out["starttls_offered"] = s.has_extn("starttls")
            out["mail"] = s.mail("alice@lab.test")[0]
    except smtplib.SMTPConnectError as e:
        out["refused"] = [e.smtp_code, e.smtp_error.decode(errors="replace")]
    except (smtplib.SMTPException, OSError) as e:
        out["error"] = repr(e)
    print(json.dumps(out))


class Namespace:
    def __init__(self):
        self.name = f"ostls-tp-{os.getpid()}"
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        self.run("ip", "link", "set", "lo", "up")

    def run(self, *argv, **kw):
        return subprocess.run(["ip", "netns", "exec", self.name, *argv], check=True, **kw)

    def popen(self, *argv, **kw):
        return subprocess.Popen(["ip", "netns", "exec", self.name, *argv], **kw)

    def nft(self, rules):
        self.run("nft", "-f", "-", input=rules, text=True)

    def delete(self):
        subprocess.run(["ip", "netns", "del", self.name], check=False)


def redirect_rules(exempt):
    return f"""
flush ruleset
table ip ostls_test {{
  chain out {{
    type nat hook output priority -100; policy accept;
    {f"meta mark {MARK:#x} return" if exempt else ""}
    ip daddr {ORIGINAL[0]} tcp dport {ORIGINAL[1]} redirect to :{LISTEN_PORT}
  }}
}}
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ostls", required=True)
    ap.add_argument("--serve-tcp-to-unix", nargs=3, metavar=("HOST", "PORT", "PATH"))
    ap.add_argument("--app", nargs=2, metavar=("HOST", "PORT"))
    args = ap.parse_args()
    if args.serve_tcp_to_unix:
        host, port, path = args.serve_tcp_to_unix
        serve_tcp_to_unix(host, int(port), path)
        return 0
    if args.app:
        app_session(args.app[0], int(args.app[1]))
        return 0

    r = Runner(args.ostls)
    lab = json.loads((LAB / "lab.json").read_text())
    labca = next(int(p["target"].rsplit(":", 1)[1]) for p in lab["peers"] if p["name"] == "labca")
    me = [sys.executable, str(Path(__file__).resolve()), "--ostls", args.ostls]
    ns = Namespace()
    procs = []
    with tempfile.TemporaryDirectory(prefix="ostls-tp-") as tmp:
        try:
            sock = os.path.join(tmp, "upstream.sock")
            UnixToTcp(sock, labca)
            pipe = ns.popen(*me, "--serve-tcp-to-unix", ORIGINAL[0], str(ORIGINAL[1]), sock,
                            stdout=subprocess.PIPE, text=True)
            procs.append(pipe)
            if pipe.stdout.readline().strip() != "ready":
                raise RuntimeError("the namespace's 127.0.0.2:25 pipe did not start")
            conf = Path(tmp) / "proxy.toml"
            conf.write_text(f"""store = "none"
metrics = "127.0.0.1:{METRICS_PORT}"
drain_timeout = 5
[[listener]]
name = "transparent"
mode = "client"
protocol = "smtp"
listen = "127.0.0.1:{LISTEN_PORT}"
transparent = true
mark = {MARK}
cafile = "{lab['ca_file']}"
""")
            log = open(Path(tmp) / "proxy.log", "w+")
            proxy = ns.popen(args.ostls, "proxy", "--config", str(conf), stdout=subprocess.DEVNULL, stderr=log)
            procs.append(proxy)
            deadline = time.monotonic() + 10
            while "worker loop" not in Path(log.name).read_text():
                if proxy.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the proxy did not start: {Path(log.name).read_text()}")
                time.sleep(0.05)

            def app(host, port):
                out = ns.run(*me, "--app", host, str(port), capture_output=True, text=True, timeout=60).stdout
                return json.loads(out)

            def metrics():
                out = ns.run(sys.executable, "-c", f"""
import sys; sys.path.insert(0, {str(HERE)!r})
from test_proxy import scrape
print(repr(sorted((k[0], sorted(k[1]), v) for k, v in scrape({METRICS_PORT}).items())))
""", capture_output=True, text=True, timeout=30).stdout
                return {(n, frozenset(tuple(x) for x in labels)): v for n, labels, v in eval(out)}  # noqa: S307

            ns.nft(redirect_rules(exempt=True))
            got = app(*ORIGINAL)
            problems = []
            if got.get("ehlo") != 250 or got.get("mail") != 250:
                problems.append(f"the application's session did not work: {got}")
            if got.get("starttls_offered"):
                problems.append("the application was offered STARTTLS (the proxy negotiates it)")
            text = Path(log.name).read_text()
            if f"Trusted TLS connection established to 127.0.0.2[127.0.0.2]:{ORIGINAL[1]}" not in text:
                problems.append(f"no TLS to the original destination in the proxy's log: {text[-600:]!r}")
            r.check("transparent: smtplib to 127.0.0.2:25 is redirected, the proxy negotiates TLS with the original "
                    "destination and relays", problems)

            m = metrics()
            n = metric(m, "ostls_proxy_outcomes_total", listener="transparent", verdict="ok", protection="encrypted",
                       auth_method="none")
            r.check(f"transparent: metrics count the session as encrypted ({n:g})", [] if n == 1 else [f"{n}"])

            got = app("127.0.0.1", LISTEN_PORT)
            refused = got.get("refused") or [0, ""]
            r.check(f"transparent: a connection to the listener itself is refused (421: {refused[1][:70]}…)",
                    [] if refused[0] == 421 and "not redirected" in refused[1] else [f"{got}"])

            # Without the mark exemption the proxy's own upstream connection is redirected back to
            # the listener, with 127.0.0.2:25 as its original destination again: the proxy knows
            # the connection by its source port and refuses it, so the outer session fails with a
            # reason — never an endless loop of sessions.
            before = metric(metrics(), "ostls_proxy_refused_total", listener="transparent",
                            reason="no-original-destination")
            ns.nft(redirect_rules(exempt=False))
            start = time.monotonic()
            got = app(*ORIGINAL)
            took = time.monotonic() - start
            refused = got.get("refused") or [0, ""]
            problems = [] if refused[0] == 421 else [f"not refused with 421: {got}"]
            if took > 30:
                problems.append(f"took {took:.1f} s")
            r.check(f"transparent: without the exemption the redirect loop ends in a 421 ({took:.1f} s: "
                    f"{refused[1][:60]}…)", problems)
            text = Path(log.name).read_text()
            n = metric(metrics(), "ostls_proxy_refused_total", listener="transparent",
                       reason="no-original-destination") - before
            problems = [] if n == 1 else [f"{n:g} refusals (1 expected: the one looped connection)"]
            if "must exempt packets with mark 0x4f53" not in text:
                problems.append("the log does not name the missing exemption")
            r.check(f"transparent: exactly one looped connection, refused and explained ({n:g})", problems)
        finally:
            for p in procs:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
            ns.delete()
    return r.summary()


if __name__ == "__main__":
    sys.exit(main())
