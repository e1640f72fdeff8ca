#!/usr/bin/env python3
"""`ostls proxy` against the lab, with real clients and real daemons.

Client mode (the application speaks cleartext to the proxy):
- smtplib, imaplib and poplib through the proxy to the lab's Postfix (labca) and Dovecot: the
  session works, the application never sees STARTTLS, and the proxy's log and metrics say
  `encrypted`; a DANE domain (destination = ee311.dane.lab.test, MX resolution) is
  `authenticated` (dane-ee); a DANE-mismatched domain gives smtplib a 421 carrying the reason;
- R11 with memory: a forwarder first in front of a TLS peer, then of the STRIPTLS man in the
  middle: the `sticky` listener answers 421 ("downgrade suspected"), the other one goes on in
  cleartext (and says so in its log).
Server mode (STARTTLS in front of the plaintext Postfix):
- swaks --tls, curl --ssl-reqd and openssl s_client -starttls smtp complete sessions;
- MAIL FROM pipelined behind STARTTLS never reaches Postfix (RCPT then gets 503), control run;
- proxy_protocol = true to the lab's PROXY-protocol Postfix (lab "haproxy" service): Postfix
  logs the client's own address (a 127.0.0.x the client bound to), read from the v2 header.
Daemon:
- SIGHUP with 100 open sessions (a new certificate and idle timeout): none dropped, new sessions
  get the new certificate; a broken file on SIGHUP keeps the running configuration;
- /metrics scraped and every line parsed (Prometheus text format), counters as expected;
- --check refuses broken configurations with FILE:LINE; SIGTERM drains: no new connections,
  the open session finishes, the process exits 0.

    test_proxy.py --ostls build/ostls
"""
import argparse
import json
import os
import re
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from labtest import Forwarder, Runner, make_leaf  # noqa: E402
from test_server_role import (FRONT_NAME, Raw, curl_smtp_noop_problems, s_client, s_client_problems,  # noqa: E402
                              smtp_injection)

LAB = Path(os.environ.get("OSTLS_LAB_DIR", "/tmp/ostls-lab"))
PROXY_NAME = FRONT_NAME  # the name s_client, curl and Raw.starttls() check the certificate against


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SinkBackend:
    """A minimal line backend for the reload test: greets, answers every line with 250."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(256)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.session, args=(c,), daemon=True).start()

    @staticmethod
    def session(c):
        try:
            c.sendall(b"220 sink.lab.test ESMTP\r\n")
            f = c.makefile("rb")
            for line in f:
                if line.upper().startswith(b"QUIT"):
                    c.sendall(b"221 bye\r\n")
                    break
                if line.upper().startswith(b"EHLO"):
                    c.sendall(b"250-sink.lab.test\r\n250 PIPELINING\r\n")
                else:
                    c.sendall(b"250 ok\r\n")
        except OSError:
            pass
        finally:
            c.close()


class Proxy:
    def __init__(self, ostls, config_path, preexec_fn=None):
        self.ostls, self.config = ostls, config_path
        self.err = open(str(config_path) + ".log", "w+")
        self.p = subprocess.Popen([ostls, "proxy", "--config", str(config_path)], stdout=subprocess.DEVNULL,
                                  stderr=self.err, preexec_fn=preexec_fn)

    def wait_port(self, port, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.p.poll() is not None:
                raise RuntimeError(f"ostls proxy exited {self.p.returncode}: {self.log()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"nothing listens on {port}: {self.log()}")

    def log(self):
        self.err.flush()
        return Path(self.err.name).read_text()

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


METRIC = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? '
                    r'(-?[0-9.e+]+|\+Inf|NaN)$')


def scrape(port):
    """The exposition as {(name, frozenset(labels)): value}; raises on a line that is not one."""
    import urllib.request
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("# HELP ") or line.startswith("# TYPE "):
            continue
        m = METRIC.match(line)
        if not m:
            raise ValueError(f"not an exposition line: {line!r}")
        labels = frozenset(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def metric(values, name, **labels):
    return values.get((name, frozenset(labels.items())), 0.0)


class Test:
    def __init__(self, ostls, tmp):
        self.ostls, self.tmp = ostls, Path(tmp)
        self.run = Runner(ostls)
        lab = json.loads((LAB / "lab.json").read_text())
        self.ca = lab["ca_file"]
        self.peers = {p["name"]: int(p["target"].rsplit(":", 1)[1]) for p in lab["peers"]}
        ports = subprocess.run([sys.executable, str(HERE.parent.parent / "lab" / "labdef.py"), "ports", "--base",
                                (LAB / "port-base").read_text().strip()], capture_output=True, text=True,
                               check=True).stdout
        self.services = {l.split()[0]: int(l.split()[1]) for l in ports.splitlines()}
        dns = json.loads((LAB / "dns" / "cases.json").read_text())
        self.dns_cases = {c["name"]: c for c in dns["cases"]}
        self.dns_conf = str(LAB / "dns" / "dns.conf")
        self.cert, self.key = make_leaf(self.ca, self.tmp, PROXY_NAME, "front")
        self.cert2, self.key2 = make_leaf(self.ca, self.tmp, PROXY_NAME, "front2")
        self.ports = {}

    def port(self, name):
        return self.ports.setdefault(name, free_port())

    def tls_context(self):
        ctx = ssl.create_default_context(cafile=self.ca)
        return ctx

    # -- the configuration ------------------------------------------------------------------------

    def config(self, cert=None, key=None, idle=300):
        cert, key = cert or self.cert, key or self.key
        self.forwarder = getattr(self, "forwarder", None) or Forwarder(0, self.peers["legacy"])
        self.sink = getattr(self, "sink", None) or SinkBackend()

        def client(name, **kv):
            lines = [f'name = "{name}"', 'mode = "client"', f'listen = "127.0.0.1:{self.port(name)}"']
            lines += [f"{k} = {json.dumps(v)}" for k, v in kv.items()]
            return "[[listener]]\n" + "\n".join(lines) + "\n"

        def server(name, backend, **kv):
            lines = [f'name = "{name}"', 'mode = "server"', 'protocol = "smtp"',
                     f'listen = "127.0.0.1:{self.port(name)}"', f'backend = "127.0.0.1:{backend}"',
                     f'cert = "{cert}"', f'key = "{key}"', f"idle_timeout = {idle}"]
            lines += [f"{k} = {json.dumps(v)}" for k, v in kv.items()]
            return "[[listener]]\n" + "\n".join(lines) + "\n"

        dane_port = self.dns_cases["ee311"]["port"]
        text = "\n".join([
            f'store = "{self.tmp / "proxy.db"}"', f'dns_config = "{self.dns_conf}"',
            f'metrics = "127.0.0.1:{self.port("metrics")}"', "drain_timeout = 10", "workers = 2", "",
            client("smtp-labca", protocol="smtp", connect=f"127.0.0.1:{self.peers['labca']}", cafile=self.ca),
            client("imap", protocol="imap", connect=f"127.0.0.1:{self.peers['imap']}"),
            client("pop3", protocol="pop3", connect=f"127.0.0.1:{self.peers['pop3']}"),
            client("dane", protocol="smtp", destination=self.dns_cases["ee311"]["domain"], port=dane_port),
            client("dane-mismatch", protocol="smtp", destination=self.dns_cases["mismatch"]["domain"], port=dane_port),
            client("dane-noresume", protocol="smtp", destination=self.dns_cases["ee311"]["domain"], port=dane_port,
                   session_resumption=False),
            client("memory", protocol="smtp", connect=f"127.0.0.1:{self.forwarder.port}"),
            client("memory-sticky", protocol="smtp", connect=f"127.0.0.1:{self.forwarder.port}", sticky=True),
            server("in-smtp", self.peers["plain"]),
            server("in-haproxy", self.services["haproxy"], proxy_protocol=True),
            server("in-sink", self.sink.port),
        ])
        path = self.tmp / "proxy.toml"
        path.write_text(text)
        return path

    # -- client mode ------------------------------------------------------------------------------

    def check_client_mode(self):
        r = self.run
        problems = []
        try:
            with smtplib.SMTP("127.0.0.1", self.port("smtp-labca"), local_hostname="app.lab.test", timeout=20) as s:
                s.ehlo()
                if s.has_extn("starttls"):
                    problems.append("the application was offered STARTTLS (the proxy did it already)")
                if s.mail("alice@lab.test")[0] != 250:
                    problems.append("MAIL FROM not accepted through the proxy")
        except (smtplib.SMTPException, OSError) as e:
            problems.append(repr(e))
        r.check("client mode: smtplib (cleartext) through the proxy to Postfix labca, no STARTTLS shown", problems)

        import imaplib
        import poplib
        problems = []
        try:
            m = imaplib.IMAP4("127.0.0.1", self.port("imap"), timeout=20)
            caps = m.capabilities
            if "STARTTLS" in caps or "LOGINDISABLED" in caps:
                problems.append(f"pre-TLS capabilities reached the application: {caps}")
            if "AUTH=PLAIN" not in caps:
                problems.append(f"no AUTH=PLAIN: the capabilities are not Dovecot's post-TLS ones: {caps}")
            m.noop()
            m.logout()
        except (imaplib.IMAP4.error, OSError) as e:
            problems.append(repr(e))
        r.check("client mode: imaplib through the proxy to Dovecot: post-TLS capabilities (AUTH=PLAIN, no STARTTLS)",
                problems)
        problems = []
        try:
            p = poplib.POP3("127.0.0.1", self.port("pop3"), timeout=20)
            caps = p.capa()
            if "STLS" in caps or "SASL" not in caps:
                problems.append(f"capabilities {caps}")
            p.quit()
        except (poplib.error_proto, OSError) as e:
            problems.append(repr(e))
        r.check("client mode: poplib through the proxy to Dovecot: post-TLS CAPA (SASL, no STLS)", problems)

        problems = []
        try:
            with smtplib.SMTP("127.0.0.1", self.port("dane"), timeout=20) as s:
                s.ehlo()
                s.noop()
        except (smtplib.SMTPException, OSError) as e:
            problems.append(repr(e))
        r.check("client mode: destination ee311.dane.lab.test (MX + DANE-EE) relays", problems)

        try:
            smtplib.SMTP("127.0.0.1", self.port("dane-mismatch"), timeout=20)
            r.check("client mode: DANE mismatch → 421 with the reason", ["the session was relayed"])
        except smtplib.SMTPConnectError as e:
            msg = e.smtp_error.decode()
            found = [] if e.smtp_code == 421 and "dane-only" in msg and "TLSA" in msg else [f"{e.smtp_code} {msg}"]
            r.check(f"client mode: DANE mismatch → 421 with the reason ({e.smtp_code} {msg[:60]}…)", found)

    def check_resumption(self):
        """Repeat sessions to one destination resume the upstream TLS session, and a resumed
        session is reported with the authentication of the full handshake it continues."""
        r = self.run
        for name in ("dane", "dane-noresume"):
            for _ in range(4):
                with smtplib.SMTP("127.0.0.1", self.port(name), timeout=20) as s:
                    s.noop()
        values = scrape(self.port("metrics"))
        resumed = metric(values, "ostls_proxy_resumed_total", listener="dane")
        authenticated = metric(values, "ostls_proxy_outcomes_total", listener="dane", verdict="ok",
                               protection="authenticated", auth_method="dane-ee")
        others = [k for k in values if k[0] == "ostls_proxy_outcomes_total" and ("listener", "dane") in k[1]
                  and ("auth_method", "dane-ee") not in k[1]]
        problems = [] if resumed >= 1 else ["no session resumed"]
        if authenticated != 5 or others:
            problems.append(f"{authenticated:g} of 5 sessions dane-ee; other outcomes: {others}")
        log = self.proxy.log()
        if not re.search(r"proxy\[dane\]: client .*Verified TLS connection established to mx\.ee311.*"
                         r"TLS session resumed", log):
            problems.append("no Verified log line with 'TLS session resumed'")
        r.check(f"resumption: {resumed:g} of 4 repeat sessions resumed upstream, all still authenticated (dane-ee)",
                problems)
        n = metric(values, "ostls_proxy_resumed_total", listener="dane-noresume")
        r.check("resumption: session_resumption = false: none resumed",
                [] if n == 0 and "proxy[dane-noresume]" in log and not re.search(
                    r"proxy\[dane-noresume\].*resumed", log) else [f"{n:g} resumed"])

    def check_client_leaves(self):
        """An application that closes without QUIT does not keep its upstream TLS session: the
        relay gives the peer a short grace for its last replies, then ends the session."""
        s = socket.create_connection(("127.0.0.1", self.port("smtp-labca")), timeout=20)
        s.makefile("rb").readline()
        s.close()
        deadline = time.monotonic() + 8
        left = None
        while time.monotonic() < deadline:
            left = metric(scrape(self.port("metrics")), "ostls_proxy_open_connections", listener="smtp-labca")
            if left == 0:
                break
            time.sleep(0.2)
        self.run.check("client mode: an application gone without QUIT ends its upstream session within seconds",
                       [] if left == 0 else [f"{left:g} sessions still open after 8 s"])

    def check_memory(self):
        """The forwarder first leads to the legacy TLS peer (TLS completed, remembered), then to
        the STRIPTLS man in the middle."""
        r = self.run
        self.forwarder.upstream = self.peers["legacy"]
        with smtplib.SMTP("127.0.0.1", self.port("memory"), timeout=20) as s:
            s.noop()
        self.forwarder.upstream = self.peers["strip"]
        problems = []
        try:
            with smtplib.SMTP("127.0.0.1", self.port("memory"), timeout=20) as s:
                s.noop()
        except (smtplib.SMTPException, OSError) as e:
            problems.append(f"the non-sticky listener refused: {e!r}")
        r.check("memory: STRIPTLS after TLS, not sticky: the session goes on in cleartext", problems)
        try:
            smtplib.SMTP("127.0.0.1", self.port("memory-sticky"), timeout=20)
            r.check("memory: STRIPTLS after TLS, sticky → 421", ["the session was relayed in cleartext"])
        except smtplib.SMTPConnectError as e:
            msg = e.smtp_error.decode()
            r.check(f"memory: STRIPTLS after TLS, sticky → 421 ({msg[:70]}…)",
                    [] if e.smtp_code == 421 and "downgrade suspected" in msg else [f"{e.smtp_code} {msg}"])
        log = self.proxy.log()
        r.check("memory: the proxy's log shows the cleartext session with its downgrade-suspected event",
                [] if re.search(r"proxy\[memory\]: client .*Cleartext SMTP connection.*downgrade-suspected", log)
                else ["no cleartext log line with downgrade-suspected for listener memory"])

    # -- server mode ------------------------------------------------------------------------------

    def check_server_mode(self):
        r = self.run
        port = self.port("in-smtp")
        res = subprocess.run(["swaks", "--server", "127.0.0.1", "--port", str(port), "--tls", "--from",
                              "alice@lab.test", "--to", "bob@lab.test", "--quit-after", "MAIL",
                              "--helo", "client.lab.test"], capture_output=True, text=True, timeout=60)
        problems = [] if res.returncode == 0 else [f"swaks exit {res.returncode}: {res.stdout[-400:]!r}"]
        if "TLS started" not in res.stdout:
            problems.append("swaks did not start TLS")
        if not re.search(r"^ ?~> MAIL FROM", res.stdout, re.M) or not re.search(r"^ ?<~  250", res.stdout, re.M):
            problems.append(f"no MAIL FROM answered over TLS: {res.stdout[-400:]!r}")
        r.check("server mode: swaks --tls to the plaintext Postfix", problems)

        problems = curl_smtp_noop_problems(self.ca, port)
        r.check("server mode: curl --ssl-reqd (certificate verified) NOOP", problems)

        res = s_client(self, port, "smtp", "EHLO client.lab.test\nQUIT\n")
        problems = s_client_problems(res)
        if "221" not in res.stdout:
            problems.append(f"no QUIT reply over TLS: {res.stdout[-300:]!r}")
        r.check("server mode: openssl s_client -starttls smtp, verified, EHLO/QUIT", problems)

        # R10: MAIL FROM pipelined behind STARTTLS must not reach Postfix: RCPT then gets 503.
        def rcpt_after(inject):
            return smtp_injection(port, self.tls_context(), inject)
        injected, control = rcpt_after(True), rcpt_after(False)
        r.check(f"server mode: MAIL FROM pipelined behind STARTTLS never reaches Postfix (RCPT: {injected[:40]})",
                [] if injected.startswith("503") else [injected])
        r.check(f"server mode: control, MAIL FROM after TLS reaches Postfix (RCPT: {control[:40]})",
                [] if not control.startswith("503") else [control])

        # PROXY v2: the client binds 127.0.0.x; Postfix logs that address, read from the header.
        source = f"127.0.0.{50 + os.getpid() % 150}"
        log_file = LAB / "postfix" / "postfix.log"
        before = log_file.stat().st_size if log_file.exists() else 0
        problems = []
        try:
            with smtplib.SMTP("127.0.0.1", self.port("in-haproxy"), timeout=20, source_address=(source, 0)) as s:
                s._host = PROXY_NAME
                s.starttls(context=self.tls_context())
                if s.ehlo()[0] != 250:
                    problems.append("no EHLO over TLS")
        except (smtplib.SMTPException, OSError) as e:
            problems.append(repr(e))
        deadline = time.monotonic() + 5
        seen = False
        while time.monotonic() < deadline and not seen:
            text = log_file.read_bytes()[before:].decode(errors="replace") if log_file.exists() else ""
            seen = bool(re.search(rf"postfix-lab/haproxy/smtpd\[\d+\]: connect from \S+\[{re.escape(source)}\]", text))
            time.sleep(0.1)
        if not seen:
            problems.append(f"Postfix did not log 'connect from …[{source}]' on the haproxy service")
        r.check(f"server mode: PROXY v2 header read by Postfix (smtpd_upstream_proxy_protocol = haproxy): "
                f"client {source}", problems)

    # -- daemon -----------------------------------------------------------------------------------

    def check_reload(self):
        r = self.run
        port = self.port("in-sink")
        sessions = []
        for _ in range(100):
            s = socket.create_connection(("127.0.0.1", port), timeout=20)
            f = s.makefile("rb")
            sessions.append((s, f))
        greeted = sum(1 for s, f in sessions if f.readline().startswith(b"220"))
        self.config(cert=self.cert2, key=self.key2, idle=200)  # the same listeners, another certificate
        self.proxy.p.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while "configuration reloaded" not in self.proxy.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        answered = 0
        for s, f in sessions:
            try:
                s.sendall(b"NOOP\r\n")
                if f.readline().startswith(b"250"):
                    answered += 1
                s.sendall(b"QUIT\r\n")
            except OSError:
                pass
            finally:
                s.close()
        r.check(f"SIGHUP with 100 open sessions: {greeted} greeted before, {answered} answered after, none dropped",
                [] if greeted == answered == 100 and "configuration reloaded" in self.proxy.log()
                else [f"greeted {greeted}, answered {answered}", self.proxy.log()[-500:]])
        # New sessions get the new certificate.
        c = Raw(self.port("in-smtp"))
        try:
            c.until(lambda l: l[3:4] == " ")
            c.send("EHLO client.lab.test\r\n")
            c.until(lambda l: l[3:4] == " ")
            c.send("STARTTLS\r\n")
            c.line()
            c.starttls(self.tls_context(), server_hostname=PROXY_NAME)
            der = c.sock.getpeercert(binary_form=True)
        finally:
            c.close()
        want = ssl.PEM_cert_to_DER_cert(Path(self.cert2).read_text().split("-----END CERTIFICATE-----")[0] +
                                        "-----END CERTIFICATE-----\n")
        r.check("SIGHUP: a new session gets the reloaded certificate", [] if der == want else ["the old certificate"])

        # A broken file on SIGHUP: reported, the running configuration kept.
        path = self.tmp / "proxy.toml"
        good = path.read_text()
        path.write_text(good + "\n[[listener]]\nname = \"broken\"\nmode = \"server\"\n")
        self.proxy.p.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while "not reloaded" not in self.proxy.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        ok = "not reloaded" in self.proxy.log()
        try:
            with smtplib.SMTP("127.0.0.1", self.port("in-smtp"), timeout=10) as s:
                ok = ok and s.noop()[0] == 250
        except (smtplib.SMTPException, OSError):
            ok = False
        path.write_text(good)
        r.check("SIGHUP with a broken file: reported, the running listeners keep serving", [] if ok else [self.proxy.log()[-400:]])

    def check_metrics(self):
        try:
            values = scrape(self.port("metrics"))
        except (ValueError, OSError) as e:
            self.run.check("metrics: /metrics parses", [repr(e)])
            return
        expect = [
            (metric(values, "ostls_proxy_outcomes_total", listener="smtp-labca", verdict="ok", protection="encrypted",
                    auth_method="none") >= 1, "smtp-labca ok/encrypted"),
            (metric(values, "ostls_proxy_outcomes_total", listener="dane", verdict="ok", protection="authenticated",
                    auth_method="dane-ee") >= 1, "dane ok/authenticated/dane-ee"),
            (metric(values, "ostls_proxy_outcomes_total", listener="dane-mismatch", verdict="fail",
                    protection="encrypted", auth_method="none") >= 1, "dane-mismatch fail"),
            (metric(values, "ostls_proxy_downgrade_events_total", listener="memory-sticky",
                    type="downgrade-suspected") >= 1, "memory-sticky downgrade-suspected"),
            (metric(values, "ostls_proxy_downgrade_events_total", listener="in-smtp", type="command-injection") >= 1,
             "in-smtp command-injection"),
            (metric(values, "ostls_proxy_sessions_total", listener="in-sink", mode="server") >= 100, "in-sink sessions"),
            (metric(values, "ostls_proxy_handshake_seconds_count", listener="in-smtp") >= 3, "in-smtp handshakes"),
            (metric(values, "ostls_proxy_open_connections", listener="in-sink") == 0, "in-sink open connections 0"),
        ]
        self.run.check(f"metrics: {len(values)} samples parse; counters match the sessions",
                       [label for ok, label in expect if not ok])

    def check_drain(self):
        port = self.port("in-sink")
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        f = s.makefile("rb")
        f.readline()
        started = time.monotonic()
        self.proxy.p.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        problems = []
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
            problems.append("a new connection was accepted while draining")
        except OSError:
            pass
        s.sendall(b"NOOP\r\n")
        if not f.readline().startswith(b"250"):
            problems.append("the open session was cut")
        s.sendall(b"QUIT\r\n")
        f.readline()
        s.close()
        try:
            code = self.proxy.p.wait(timeout=10)
            if code != 0:
                problems.append(f"exit status {code}")
        except subprocess.TimeoutExpired:
            problems.append("still running 10 s after the last session ended")
        self.run.check(f"SIGTERM: no new sessions, the open one finishes, exit 0 ({time.monotonic() - started:.1f} s)",
                       problems)

    def check_drain_timeout(self):
        """A session still open when drain_timeout runs out is ended, and the process exits 0 —
        cleanly under the sanitizers too (the sessions are destroyed after the daemon's state)."""
        port = free_port()
        path = self.tmp / "drain.toml"
        path.write_text("store = \"none\"\ndrain_timeout = 1\n\n[[listener]]\nname = \"sink\"\nmode = \"server\"\n"
                        f"protocol = \"smtp\"\nlisten = \"127.0.0.1:{port}\"\nbackend = \"127.0.0.1:{self.sink.port}\"\n"
                        f"cert = \"{self.cert}\"\nkey = \"{self.key}\"\n")
        proxy = Proxy(self.ostls, path)
        problems = []
        try:
            proxy.wait_port(port)
            held = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(3)]
            for s in held:
                s.makefile("rb").readline()
            started = time.monotonic()
            proxy.p.send_signal(signal.SIGTERM)
            try:
                code = proxy.p.wait(timeout=10)
                took = time.monotonic() - started
                if code != 0:
                    problems.append(f"exit status {code}: {proxy.log()[-600:]}")
                if not 0.8 <= took <= 5:
                    problems.append(f"exited after {took:.1f} s, drain_timeout is 1 s")
            except subprocess.TimeoutExpired:
                problems.append("still running 10 s after SIGTERM with drain_timeout = 1")
            for s in held:
                s.close()
        finally:
            proxy.stop()
        self.run.check("SIGTERM with sessions still open: ended at drain_timeout, exit 0", problems)

    def check_config_errors(self):
        cases = [
            ("unknown key", '[[listener]]\nname = "a"\nmode = "server"\nprotocol = "smtp"\nlisten = "127.0.0.1:1"\n'
                            'backend = "127.0.0.1:2"\ncert = "c"\nkey = "k"\nrequire_tsl = true\n', ":9: "),
            ("missing certificate file",
             f'[[listener]]\nname = "a"\nmode = "server"\nprotocol = "smtp"\nlisten = "127.0.0.1:1"\n'
             f'backend = "127.0.0.1:2"\ncert = "{self.tmp}/none.pem"\nkey = "{self.key}"\n', ":1: listener \"a\": cert/key"),
            ("TOML syntax", '[[listener]\nname = "a"\n', ":1:"),
        ]
        for label, text, want in cases:
            path = self.tmp / "broken.toml"
            path.write_text(text)
            res = subprocess.run([self.ostls, "proxy", "--config", str(path), "--check"], capture_output=True, text=True,
                                 timeout=30)
            self.run.check(f"--check refuses a broken configuration ({label}) with FILE:LINE",
                           [] if res.returncode == 2 and f"{path}{want}" in res.stderr else
                           [f"exit {res.returncode}: {res.stderr.strip()}"])
        res = subprocess.run([self.ostls, "proxy", "--config", str(self.tmp / "proxy.toml"), "--check"],
                             capture_output=True, text=True, timeout=30)
        self.run.check("--check accepts the test's configuration", [] if res.returncode == 0 else [res.stderr])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ostls", required=True)
    a = ap.parse_args()
    if not (LAB / "lab.json").exists():
        print(f"FAIL {LAB}/lab.json is missing: is the lab up?")
        return 1
    with tempfile.TemporaryDirectory(prefix="ostls-proxy-") as tmp:
        t = Test(a.ostls, tmp)
        path = t.config()
        t.proxy = Proxy(a.ostls, path)
        try:
            t.proxy.wait_port(t.port("metrics"))
            t.check_config_errors()
            t.check_client_mode()
            t.check_resumption()
            t.check_client_leaves()
            t.check_memory()
            t.check_server_mode()
            t.check_reload()
            t.check_metrics()
            t.check_drain()
            t.check_drain_timeout()
        finally:
            t.proxy.stop()
            if t.run.failed:
                print("--- ostls proxy log ---\n" + t.proxy.log()[-3000:])
    return t.run.summary()


if __name__ == "__main__":
    sys.exit(main())
