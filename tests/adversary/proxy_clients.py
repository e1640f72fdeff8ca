#!/usr/bin/env python3
"""Hostile clients against `ostls proxy` server mode, in front of the lab's plaintext Postfix and
Dovecot (real backends; the clients are this script's own code):

- slowloris: 5 000 concurrent connections to the SMTP listener, half sending one byte a second
  and never a whole line, half silent, each one reopened as soon as the proxy reclaims it — while
  a well-behaved smtplib client completes EHLO, STARTTLS, EHLO, NOOP, QUIT within its timeout;
  the proxy's RSS stays bounded and, once the slow clients stop, its descriptors come back;
- half-open: clients that shut down their write side before STARTTLS or in the relay, clients
  whose process is killed in the relay, and clients that go silent in the relay (a peer gone
  without a FIN looks exactly like that): each is reclaimed — the silent ones by the idle
  timeout, and not before it;
- command injection: a command pipelined behind STARTTLS/STLS never reaches Postfix or Dovecot
  (SMTP, IMAP, POP3), with the control run in which it does;
- descriptors: 10 000 proxied sessions (cleartext QUIT sessions and STARTTLS sessions, at
  concurrency) leave the proxy with the descriptors it had before.

At the end the proxy gets SIGTERM and must exit 0; its stderr must hold no sanitizer report (run
with the sanitize build's ostls, LeakSanitizer reports leaks at that exit).

    proxy_clients.py --ostls build/ostls [-k CASE] [--slowloris 5000] [--sessions 10000]
"""
import argparse
import json
import os
import resource
import selectors
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "lab"))
from hostile import sanitizer_problems  # noqa: E402
from labtest import Runner, make_leaf  # noqa: E402
from test_proxy import Proxy, free_port, metric, scrape  # noqa: E402
from test_server_role import FRONT_NAME, Raw, imap_injection, pop3_injection, smtp_injection  # noqa: E402

LAB = Path(os.environ.get("OSTLS_LAB_DIR", "/tmp/ostls-lab"))
SETUP_TIMEOUT = 5  # handshake_timeout: from accept to TLS established (or relay)
IDLE_TIMEOUT = 6   # idle_timeout: the relay without a byte either way
CLIENT_TIMEOUT = 30  # the well-behaved client's own timeout
PER_CLIENT = 50    # max_connections_per_client (Postfix's smtpd_client_connection_count_limit default)
CONCURRENCY = 40   # sessions at once in the descriptor check (below PER_CLIENT: all from 127.0.0.1)
RSS_LIMIT_MB = 400  # ×4 for a sanitize build (ASan's shadow memory and quarantine)


def raise_nofile():
    """For the proxy (preexec_fn) and this script: descriptors up to the hard limit."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def sanitized(binary):
    """Whether `binary` is an ASan build (linked against libasan)."""
    r = subprocess.run(["ldd", binary], capture_output=True, text=True)
    return "libasan" in r.stdout


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def status_kb(pid, field):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def wait_for(predicate, timeout, step=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


class Slowloris:
    """`count` connections to `port` from the addresses `sources` (round robin), all on one
    thread: the dripping ones send one byte a second of a line that never ends, the others
    nothing. A connection the proxy closes is counted as reclaimed and, while `keep` is set,
    opened again at the next one-second tick (so a refusing proxy sees a steady stream, not a
    busy loop)."""

    def __init__(self, port, count, sources):
        self.port, self.count, self.sources = port, count, sources
        self.sel = selectors.DefaultSelector()
        self.keep = True
        self.stopped = False
        self.opened = self.reclaimed = self.failed = 0
        self.open_now = 0
        self.reopen = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _open(self, i):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.bind((self.sources[i % len(self.sources)], 0))
        except OSError:
            s.close()
            self.failed += 1
            return
        if s.connect_ex(("127.0.0.1", self.port)) not in (0, 115):  # EINPROGRESS
            s.close()
            self.failed += 1
            return
        self.sel.register(s, selectors.EVENT_READ, i)
        self.opened += 1
        self.open_now += 1

    def start(self):
        for i in range(self.count):
            self._open(i)
        self.thread.start()

    def _run(self):
        next_tick = time.monotonic() + 1
        while not self.stopped:
            for key, _ in self.sel.select(timeout=0.2):
                try:
                    data = key.fileobj.recv(65536)
                except OSError:
                    data = b""
                if data:
                    continue  # the greeting the proxy relays: read and ignored
                self.sel.unregister(key.fileobj)
                key.fileobj.close()
                self.open_now -= 1
                self.reclaimed += 1
                if self.keep:
                    self.reopen.append(key.data)
            if time.monotonic() >= next_tick:
                next_tick += 1
                for key in list(self.sel.get_map().values()):
                    if key.data % 2 == 0:  # the dripping half
                        try:
                            key.fileobj.send(b"E")
                        except OSError:
                            pass
                again, self.reopen = self.reopen, []
                for i in again:
                    self._open(i)

    def stop(self):
        self.stopped = True
        self.thread.join()
        for key in list(self.sel.get_map().values()):
            key.fileobj.close()
        self.sel.close()


def smtp_session(port, tls_ctx, timeout=CLIENT_TIMEOUT, source=None):
    """EHLO, STARTTLS, EHLO, NOOP, QUIT through the proxy: (problems, seconds). `source`: the
    client's own (address, port), e.g. to find its session in the proxy's log."""
    start = time.monotonic()
    try:
        with smtplib.SMTP("127.0.0.1", port, local_hostname="client.lab.test", timeout=timeout,
                          source_address=source) as s:
            s._host = FRONT_NAME
            s.ehlo()
            if not s.has_extn("starttls"):
                return ["no STARTTLS offered"], time.monotonic() - start
            s.starttls(context=tls_ctx)
            code, _ = s.ehlo()
            noop, _ = s.noop()
            if code != 250 or noop != 250:
                return [f"EHLO {code}, NOOP {noop} over TLS"], time.monotonic() - start
    except (smtplib.SMTPException, OSError, ssl.SSLError) as e:
        return [repr(e)], time.monotonic() - start
    return [], time.monotonic() - start


def relay_client(port, tls_ctx):
    """A client in the relay phase of an SMTP session: STARTTLS done, EHLO answered over TLS."""
    c = Raw(port)
    c.until(lambda l: l[3:4] == " ")
    c.send("EHLO client.lab.test\r\n")
    c.until(lambda l: l[3:4] == " ")
    c.send("STARTTLS\r\n")
    c.line()
    c.starttls(tls_ctx)
    c.send("EHLO client.lab.test\r\n")
    c.until(lambda l: l[3:4] == " ")
    return c


def quit_session(port, source=None):
    """A cheap cleartext session through the proxy to Postfix: greeting, QUIT, 221. None when it
    went through, else what went wrong."""
    c = None
    try:
        c = Raw(port, source)
        greeting = c.line()
        c.send("QUIT\r\n")
        bye = c.line()
        return None if greeting.startswith("220") and bye.startswith("221") else f"{greeting[:40]!r} {bye[:40]!r}"
    except (OSError, EOFError) as e:
        return type(e).__name__
    finally:
        if c:
            c.close()


class Test:
    def __init__(self, args, tmp):
        self.args, self.tmp = args, Path(tmp)
        self.run = Runner(args.ostls)
        lab = json.loads((LAB / "lab.json").read_text())
        self.ca = lab["ca_file"]
        peers = {p["name"]: int(p["target"].rsplit(":", 1)[1]) for p in lab["peers"]}
        self.backends = {"smtp": peers["plain"], "imap": peers["imap-plain"], "pop3": peers["pop3-plain"]}
        self.cert, self.key = make_leaf(self.ca, self.tmp, FRONT_NAME, "front")
        self.ports = {proto: free_port() for proto in self.backends}
        self.tls_ctx = ssl.create_default_context(cafile=self.ca)
        listeners = []
        for proto, backend in self.backends.items():
            listeners.append("\n".join([
                "[[listener]]", f'name = "{proto}"', 'mode = "server"', f'protocol = "{proto}"',
                f'listen = "127.0.0.1:{self.ports[proto]}"', f'backend = "127.0.0.1:{backend}"',
                f'cert = "{self.cert}"', f'key = "{self.key}"', "max_connections = 12000",
                f"max_connections_per_client = {PER_CLIENT}",
                f"handshake_timeout = {SETUP_TIMEOUT}", f"idle_timeout = {IDLE_TIMEOUT}", ""]))
        config = self.tmp / "proxy.toml"
        self.metrics_port = free_port()
        config.write_text(f'store = "none"\ndrain_timeout = 5\nmetrics = "127.0.0.1:{self.metrics_port}"\n\n'
                          + "\n".join(listeners))
        self.proxy = Proxy(args.ostls, config, preexec_fn=raise_nofile)
        for port in self.ports.values():
            self.proxy.wait_port(port)
        self.pid = self.proxy.p.pid
        # The idle count: what the proxy holds with no session open (after the readiness probes).
        wait_for(lambda: self._settled() >= 0, 10)
        self.baseline = fds(self.pid)

    def _settled(self):
        # Two readings a moment apart: the count no longer moves.
        first = fds(self.pid)
        time.sleep(0.3)
        return first if fds(self.pid) == first else -1

    def back_to_baseline(self, timeout):
        return wait_for(lambda: fds(self.pid) <= self.baseline, timeout)

    # -- (a) slowloris ------------------------------------------------------------------------------

    def slowloris(self, label, sources, must_serve):
        """n slow connections from `sources` to the SMTP listener while smtplib (from 127.0.0.1)
        runs one STARTTLS session. `must_serve`: that session must succeed within its timeout;
        otherwise it must at least be answered or closed within the set-up timeout."""
        n = self.args.slowloris
        port = self.ports["smtp"]
        refused_before = metric(scrape(self.metrics_port), "ostls_proxy_refused_total", listener="smtp",
                                reason="max_connections_per_client")
        rss_before = status_kb(self.pid, "VmRSS")
        expected_held = min(n, len(sources) * PER_CLIENT)
        slow = Slowloris(port, n, sources)
        slow.start()
        problems = []
        try:
            if not wait_for(lambda: fds(self.pid) >= self.baseline + expected_held, 30):
                problems.append(f"the proxy holds {fds(self.pid) - self.baseline} descriptors, "
                                f"not {expected_held}+ slow clients")
            held = fds(self.pid) - self.baseline
            source = ("127.0.0.1", free_port())
            session_problems, secs = smtp_session(port, self.tls_ctx, source=source)
            served = not session_problems
            if session_problems and must_serve:
                problems += [f"well-behaved client: {p}" for p in session_problems]
                wait_for(lambda: f"client 127.0.0.1:{source[1]}:" in self.proxy.log(), 10)
                problems += [f"proxy: {l}" for l in self.proxy.log().splitlines() if f"127.0.0.1:{source[1]}:" in l]
            limit = CLIENT_TIMEOUT if must_serve else SETUP_TIMEOUT + 3
            if secs > limit:
                problems.append(f"the well-behaved client took {secs:.1f} s, more than {limit} s")
            rss_peak = status_kb(self.pid, "VmRSS")
            reclaimed_before = slow.reclaimed
            time.sleep(SETUP_TIMEOUT + 2)  # every slow connection held has met the set-up timeout
            rss_peak = max(rss_peak, status_kb(self.pid, "VmRSS"))
            if slow.reclaimed - reclaimed_before < expected_held:
                problems.append(f"only {slow.reclaimed - reclaimed_before} slow connections reclaimed in "
                                f"{SETUP_TIMEOUT + 2} s, {expected_held} held")
        finally:
            slow.keep = False
            slow.stop()
        if not self.back_to_baseline(SETUP_TIMEOUT + 10):
            problems.append(f"descriptors {fds(self.pid)} after the slow clients left, {self.baseline} before")
        # The backend works off what the slow clients left in its queue (Postfix accepts each
        # abandoned connection in turn): the next checks start once sessions go through again.
        stopped = time.monotonic()
        if not wait_for(lambda: quit_session(port) is None and quit_session(port) is None, 120, step=1):
            problems.append("the backend did not recover within 120 s of the slow clients leaving")
        recovery = time.monotonic() - stopped
        refused = metric(scrape(self.metrics_port), "ostls_proxy_refused_total", listener="smtp",
                         reason="max_connections_per_client") - refused_before
        if (len(sources) * PER_CLIENT < n) != (refused > 0):
            problems.append(f"{refused:.0f} connections refused over max_connections_per_client")
        rss_limit = RSS_LIMIT_MB * (4 if sanitized(self.args.ostls) else 1)
        if rss_peak > rss_limit * 1024:
            problems.append(f"RSS {rss_peak // 1024} MB, more than {rss_limit} MB")
        self.figures[label] = {"connections": n, "sources": len(sources), "held_descriptors": held,
                               "client_served": served, "client_seconds": round(secs, 2),
                               "reclaimed": slow.reclaimed, "refused_per_client": int(refused),
                               "rss_kb_before": rss_before, "rss_kb_peak": rss_peak,
                               "backend_recovery_seconds": round(recovery, 1)}
        self.run.check(f"slowloris, {label}: {n} slow connections from {len(sources)} address(es) (half dripping, "
                       f"half silent, reopened when reclaimed), {held} descriptors held; smtplib STARTTLS session "
                       f"{'served' if served else 'closed'} in {secs:.2f} s; RSS peak {rss_peak // 1024} MB", problems)

    def check_slowloris(self):
        # One attacking host: max_connections_per_client keeps it from taking the backend's
        # capacity (Postfix: 100 smtpd processes); the well-behaved client is served.
        self.slowloris("one host", ["127.0.0.2"], must_serve=True)
        # As many hosts as it takes to open all of them within the per-client limit: the proxy
        # holds every one with bounded memory and reclaims each at the set-up timeout, but every
        # session holds a backend connection from accept on, so the backend is full and the
        # client is only promised an answer or a close within the set-up timeout (README).
        hosts = -(-self.args.slowloris // PER_CLIENT)
        self.slowloris("many hosts", [f"127.0.{1 + i // 250}.{1 + i % 250}" for i in range(hosts)], must_serve=False)

    # -- (b) half-open ------------------------------------------------------------------------------

    def check_half_open(self):
        port = self.ports["smtp"]
        each = 20
        # Write side shut before STARTTLS, and in the relay: reclaimed at once, well before the
        # set-up timeout (reckoned from each batch's first connection) or the idle timeout.
        def greeted(port):
            c = Raw(port)
            c.line()
            return c

        for where, opened in (("before STARTTLS", greeted), ("in the relay", lambda port: relay_client(port, self.tls_ctx))):
            start = time.monotonic()
            held = []
            for _ in range(each):
                c = opened(port)
                c.sock.shutdown(socket.SHUT_WR)  # in the relay a bare FIN: no TLS close_notify
                held.append(c)
            ok = self.back_to_baseline(2)
            secs = time.monotonic() - start
            left = fds(self.pid) - self.baseline
            for c in held:
                c.close()
            problems = [] if ok else [f"{left} descriptors still open"]
            if secs >= SETUP_TIMEOUT - 1:
                problems.append(f"took {secs:.1f} s: a timeout may have done it")
            self.run.check(f"half-open: {each} clients that shut their write side {where}, reclaimed in {secs:.1f} s",
                           problems)

        # Killed in the relay: the client process dies (its kernel sends the FIN).
        code = (f"import ssl, sys, time; sys.path.insert(0, {str(HERE)!r}); import proxy_clients as p; "
                f"ctx = ssl.create_default_context(cafile={self.ca!r}); "
                f"held = [p.relay_client({port}, ctx) for _ in range({each})]; print('ready', flush=True); "
                f"time.sleep(600)")
        child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        ready = child.stdout.readline().strip() == "ready"
        grown = fds(self.pid) - self.baseline
        child.kill()
        child.wait()
        ok = self.back_to_baseline(SETUP_TIMEOUT - 1)
        problems = [] if ready and grown >= each else [f"the killed client's sessions never opened ({grown})"]
        if not ok:
            problems.append(f"{fds(self.pid) - self.baseline} descriptors still open after the kill")
        self.run.check(f"half-open: {each} relayed sessions whose client process is killed, reclaimed", problems)

        # Silent in the relay (a peer gone without a FIN looks the same): the idle timeout.
        silent = [relay_client(port, self.tls_ctx) for _ in range(each)]
        start = time.monotonic()
        problems = []
        time.sleep(IDLE_TIMEOUT / 2)
        if fds(self.pid) - self.baseline < each:
            problems.append(f"silent sessions ended before the idle timeout: {fds(self.pid) - self.baseline} left")
        if not self.back_to_baseline(IDLE_TIMEOUT + 5):
            problems.append(f"{fds(self.pid) - self.baseline} descriptors still open {IDLE_TIMEOUT + 5} s later")
        secs = time.monotonic() - start
        closed = 0
        for c in silent:
            try:
                c.sock.settimeout(1)
                closed += c.sock.recv(1) == b""
            except (OSError, ssl.SSLError):
                closed += 1
            c.close()
        if closed != each:
            problems.append(f"only {closed} of {each} silent clients saw their connection closed")
        self.run.check(f"half-open: {each} silent relayed sessions reclaimed by the idle timeout "
                       f"({IDLE_TIMEOUT} s; after {secs:.1f} s)", problems)

    # -- (c) command injection ------------------------------------------------------------------------

    def check_injection(self):
        sessions = {"smtp": (smtp_injection, lambda a: a.startswith("503")),
                    "imap": (imap_injection, lambda a: a.startswith("c ") and not a.startswith("c OK")),
                    "pop3": (pop3_injection, lambda a: a.startswith("-ERR"))}
        for proto, (session, refused) in sessions.items():
            before = self.proxy.log()
            answers = {}
            for inject in (True, False):
                try:
                    answers[inject] = session(self.ports[proto], self.tls_ctx, inject)
                except (OSError, EOFError, ssl.SSLError) as e:
                    answers[inject] = repr(e)
            problems = []
            if not refused(answers[True]):
                problems.append(f"after the injected command: {answers[True]!r}")
            if refused(answers[False]) or "answered" in answers[False] or "Error" in answers[False]:
                problems.append(f"control, the command after TLS: {answers[False]!r}")
            wait_for(lambda: self.proxy.log().count("command-injection") > before.count("command-injection"), 5)
            if self.proxy.log().count("command-injection") != before.count("command-injection") + 1:
                problems.append("the proxy's log does not show exactly one command-injection event")
            self.run.check(f"injection: {proto} command pipelined behind the upgrade never reaches the backend "
                           f"({answers[True][:40]!r}); control after TLS does ({answers[False][:40]!r})", problems)

    # -- (d) descriptors after many sessions ---------------------------------------------------------

    def check_fd_leak(self):
        n = self.args.sessions
        port = self.ports["smtp"]
        tls_every = 10  # one session in ten goes through STARTTLS
        before = fds(self.pid)
        start = time.monotonic()

        # Each of the CONCURRENCY client threads has an address of its own (127.0.1.x): this is
        # about descriptors, and max_connections_per_client counts a session until the proxy has
        # closed it, a moment after the client saw 221 — one address at 40 sessions in a row would
        # meet the limit of 50 by that lag alone.
        slots = threading.local()
        next_slot = iter(range(1, 255))

        def source():
            if not hasattr(slots, "address"):
                slots.address = f"127.0.1.{next(next_slot)}"
            return (slots.address, 0)

        def one(i):
            if i % tls_every == 0:
                problems = smtp_session(port, self.tls_ctx, source=source())[0]
                return problems[0][:60] if problems else None
            return quit_session(port, source())

        with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
            results = list(pool.map(one, range(n)))
        secs = time.monotonic() - start
        why = Counter(r for r in results if r is not None)
        failed = sum(why.values())
        settled = self.back_to_baseline(IDLE_TIMEOUT + 5)
        after = fds(self.pid)
        self.figures["sessions"] = {"sessions": n, "seconds": round(secs, 1), "failed": failed,
                                    "fds_before": before, "fds_after": after,
                                    "rss_kb": status_kb(self.pid, "VmRSS"), "hwm_kb": status_kb(self.pid, "VmHWM")}
        problems = [] if settled and after <= before else [f"descriptors: {before} before, {after} after"]
        if failed > n // 100:
            problems.append(f"{failed} of {n} sessions failed: {dict(why.most_common(3))}")
        self.run.check(f"descriptors: {n} proxied sessions ({n // tls_every} with STARTTLS) in {secs:.0f} s, "
                       f"{failed} failed; /proc/<proxy>/fd {before} before, {after} after", problems)

    def stop(self):
        self.proxy.stop()
        code = self.proxy.p.returncode
        problems = sanitizer_problems(self.proxy.log())
        if code != 0:
            problems.append(f"exit status {code} on SIGTERM")
        self.run.check("SIGTERM: the proxy exits 0 with no sanitizer report in its stderr", problems)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ostls", required=True, help="the ostls binary (e.g. a sanitize build's)")
    ap.add_argument("-k", dest="only", help="only the checks whose name contains this")
    ap.add_argument("--slowloris", type=int, default=5000)
    ap.add_argument("--sessions", type=int, default=10000)
    ap.add_argument("--figures", help="write the measured figures (JSON) here")
    a = ap.parse_args()
    raise_nofile()
    with tempfile.TemporaryDirectory(prefix="ostls-proxy-clients-") as tmp:
        t = Test(a, tmp)
        t.figures = {"baseline_fds": t.baseline}
        try:
            for name in ("slowloris", "half_open", "injection", "fd_leak"):
                if not a.only or a.only in name:
                    getattr(t, f"check_{name}")()
        finally:
            t.stop()
        print(json.dumps(t.figures))
        if a.figures:
            Path(a.figures).write_text(json.dumps(t.figures, indent=2) + "\n")
    return t.run.summary()


if __name__ == "__main__":
    sys.exit(main())
