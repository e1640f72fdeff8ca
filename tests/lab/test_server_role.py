#!/usr/bin/env python3
"""Server role (issue #4): the server-side dialogues, run by tests/support/serve_lab.cpp in
front of the lab's cleartext backends, against real clients (Python's smtplib/imaplib/poplib,
`openssl s_client -starttls`, curl, `ostls probe` itself).

For each protocol: a real client completes STARTTLS through the front and runs a real command
on the backend; the injection case pipelines a state-changing command behind the upgrade
command in one write and shows, through the backend's own answer after TLS, that it never
reached the backend (with a control run where the same command, sent normally, does); a
cleartext client still works (relayed); --require-tls refuses commands before the upgrade;
implicit TLS works. Every session's report (JSON from serve_lab) is checked too.

    test_server_role.py --serve build/tests/ostls_serve_lab --ostls build/ostls
"""
import argparse
import json
import os
import queue
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections import namedtuple
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from labtest import Runner, make_leaf  # noqa: E402

FRONT_NAME = "front.lab.test"


class Front:
    """One ostls_serve_lab process: the server role for `protocol` in front of `backend`."""

    def __init__(self, ctx, protocol, backend_port, *flags):
        self.ctx = ctx
        self.port = ctx.next_port()
        self.proc = subprocess.Popen(
            [ctx.serve, "--protocol", protocol, "--listen", str(self.port), "--backend", f"127.0.0.1:{backend_port}",
             "--cert", ctx.cert, "--key", ctx.key, *flags],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.reports = queue.Queue()
        first = self.proc.stdout.readline()
        if '"listening"' not in first:
            raise RuntimeError(f"serve_lab did not start: {first!r} {self.proc.stderr.read()}")
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            if line.strip():
                self.reports.put(json.loads(line))

    def report(self, timeout=10):
        """The report of the next session to end."""
        try:
            return self.reports.get(timeout=timeout)
        except queue.Empty:
            return None

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


class Context:
    def __init__(self, args):
        self.serve = args.serve
        self.ostls = args.ostls
        self.lab = json.loads((Path(os.environ.get("OSTLS_LAB_DIR", "/tmp/ostls-lab")) / "lab.json").read_text())
        self.ca = self.lab["ca_file"]
        self.ports = {p["name"]: int(p["target"].rsplit(":", 1)[1]) for p in self.lab["peers"]}
        base = int(os.environ.get("OSTLS_LAB_PORT_BASE", "25600"))
        self._next = base + 70
        self.tmp = tempfile.TemporaryDirectory(prefix="ostls-serve-")
        self.cert, self.key = make_leaf(self.ca, self.tmp.name, FRONT_NAME, "front")
        self.runner = Runner(args.ostls)
        self.fronts = []

    def next_port(self):
        self._next += 1
        return self._next

    def front(self, protocol, backend, *flags):
        f = Front(self, protocol, self.ports[backend], *flags)
        self.fronts.append(f)
        return f

    def tls_context(self):
        return ssl.create_default_context(cafile=self.ca)

    def close(self):
        for f in self.fronts:
            f.stop()
        self.tmp.cleanup()


# ---- helpers for every protocol ------------------------------------------------------------

def report_problems(report, *, tls, injection=False, cleartext=False):
    """What is wrong with a session report from serve_lab."""
    if report is None:
        return ["no session report from serve_lab"]
    problems = []
    if tls and not (report.get("tls") and report["tls"].get("version") in ("TLSv1.2", "TLSv1.3")):
        problems.append(f"session report: expected TLS, got {report.get('tls')} (error {report.get('error')})")
    if not tls and report.get("tls"):
        problems.append(f"session report: expected no TLS, got {report['tls']}")
    types = [e["type"] for e in report.get("events", [])]
    if injection and "command-injection" not in types:
        problems.append(f"session report: no command-injection event (events {types})")
    if not injection and "command-injection" in types:
        problems.append(f"session report: unexpected command-injection event ({report['events']})")
    if cleartext != report.get("relayed_cleartext"):
        problems.append(f"session report: relayed_cleartext {report.get('relayed_cleartext')}, expected {cleartext}")
    return problems


def check_injection(ctx, front, session, *, injected, control):
    """The R10 pair every line protocol runs: `session(inject=True)` pipelines a state-changing
    command behind the upgrade command, `session(inject=False)` sends it after TLS; each returns
    the backend's answer to a command that depends on that state. `injected` and `control` are
    (ok(answer), problem(answer), label): the injected run must show that the command never
    reached the backend (and the session report a command-injection event), the control run that
    it does."""
    for inject, (ok, problem, label) in ((True, injected), (False, control)):
        answer = session(inject=inject)
        problems = [] if ok(answer) else [problem(answer)]
        problems += report_problems(front.report(), tls=True, injection=inject)
        ctx.runner.check(label, problems)


class Raw:
    """A hand-driven client socket: exact bytes in one write, then TLS on the same socket."""

    def __init__(self, port, source=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=source)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise EOFError(f"connection closed (buffered {self.buf!r})")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode(errors="replace")

    def until(self, done):
        """Lines up to and including the first for which done(line) holds."""
        lines = []
        while True:
            lines.append(self.line())
            if done(lines[-1]):
                return lines

    def starttls(self, ctx, server_hostname=FRONT_NAME):
        assert not self.buf, f"bytes before the handshake: {self.buf!r}"
        self.sock = ctx.wrap_socket(self.sock, server_hostname=server_hostname)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# R10 sessions through any server-role front on `port` (serve_lab here, `ostls proxy` server mode
# in tests/adversary/proxy_clients.py): a state-changing command pipelined behind the upgrade
# command (inject=True) or sent after TLS (False); the session returns the backend's answer to a
# query that depends on that state, or what went wrong before it.
Injection = namedtuple("Injection", "greeting_done hello upgrade upgrade_done accepted state state_done query query_done")
ONE_LINE = lambda l: True  # noqa: E731
SMTP_LAST = lambda l: l[3:4] == " "  # noqa: E731
# RCPT's answer is 503 when MAIL FROM never reached the backend.
SMTP_INJECTION = Injection(SMTP_LAST, "EHLO client.lab.test\r\n", "STARTTLS\r\n", ONE_LINE, "220",
                           "MAIL FROM:<evil@lab.test>\r\n", ONE_LINE, "RCPT TO:<alice@lab.test>\r\n", ONE_LINE)
# SELECT's answer is not OK when LOGIN never reached the backend.
IMAP_INJECTION = Injection(ONE_LINE, None, "a STARTTLS\r\n", lambda l: l.startswith("a "), "a OK",
                           "b LOGIN alice secret\r\n", lambda l: l.startswith("b "), "c SELECT INBOX\r\n",
                           lambda l: l.startswith("c "))
# PASS's answer is -ERR when USER never reached the backend.
POP3_INJECTION = Injection(ONE_LINE, None, "STLS\r\n", ONE_LINE, "+OK", "USER alice\r\n", ONE_LINE,
                           "PASS secret\r\n", ONE_LINE)


def injection_session(script, port, tls_ctx, inject):
    c = Raw(port)
    try:
        c.until(script.greeting_done)
        if script.hello:
            c.send(script.hello)
            c.until(SMTP_LAST)
        c.send(script.upgrade + script.state if inject else script.upgrade)
        reply = c.until(script.upgrade_done)[-1]
        if not reply.startswith(script.accepted):
            return f"{script.upgrade.strip()} answered {reply!r}"
        c.starttls(tls_ctx)
        if script.hello:
            c.send(script.hello)
            c.until(SMTP_LAST)
        if not inject:
            c.send(script.state)
            c.until(script.state_done)
        c.send(script.query)
        return c.until(script.query_done)[-1]
    finally:
        c.close()


def smtp_injection(port, tls_ctx, inject):
    return injection_session(SMTP_INJECTION, port, tls_ctx, inject)


def imap_injection(port, tls_ctx, inject):
    return injection_session(IMAP_INJECTION, port, tls_ctx, inject)


def pop3_injection(port, tls_ctx, inject):
    return injection_session(POP3_INJECTION, port, tls_ctx, inject)


def s_client(ctx, port, starttls, stdin, *extra):
    """`openssl s_client -starttls PROTO` through the front, verifying against the lab CA."""
    return subprocess.run(
        ["openssl", "s_client", "-starttls", starttls, "-connect", f"127.0.0.1:{port}", "-CAfile", ctx.ca,
         "-servername", FRONT_NAME,
         "-verify_hostname", FRONT_NAME, "-verify_return_error", "-crlf", "-brief", "-ign_eof", *extra],
        input=stdin, capture_output=True, text=True, timeout=30)


def s_client_problems(r, ca_ok_marker="Verification: OK"):
    out = r.stdout + r.stderr
    problems = []
    if ca_ok_marker not in out:
        problems.append(f"s_client did not verify the front's certificate: {out[-400:]!r}")
    if "Protocol version: TLSv1.3" not in out and "Protocol version: TLSv1.2" not in out:
        problems.append("s_client shows no TLS protocol version")
    return problems


def curl_smtp_noop_problems(ca, port):
    """`curl --ssl-reqd` NOOP over STARTTLS through the front, the certificate verified for FRONT_NAME."""
    res = subprocess.run(["curl", "-sS", "-v", "--ssl-reqd", "--cacert", ca, "--resolve",
                          f"{FRONT_NAME}:{port}:127.0.0.1", f"smtp://{FRONT_NAME}:{port}/client.lab.test",
                          "-X", "NOOP"], capture_output=True, text=True, timeout=30)
    problems = [] if res.returncode == 0 else [f"curl exit {res.returncode}: {res.stderr[-300:]!r}"]
    if "SSL connection using TLSv1" not in res.stderr:
        problems.append("curl did not report a TLS connection")
    return problems


def probe_problems(ctx, scheme, port, *extra):
    """ostls probe at `verify` through the front: authenticated by PKIX, certificate for the front."""
    code, out, err, _ = ctx.runner.probe("--policy", "verify", "--cafile", ctx.ca, "--servername", FRONT_NAME,
                                         *extra, f"{scheme}://[127.0.0.1]:{port}")
    if code != 0 or len(out) != 1:
        return [f"ostls probe: exit {code}, {len(out)} outcomes, stderr {err.strip()!r}"]
    o = out[0]
    problems = []
    if o["protection"] != "authenticated" or o["trust"] != "Verified":
        problems.append(f"ostls probe: {o['protection']}/{o['trust']}, expected authenticated/Verified")
    return problems


# ---- SMTP -----------------------------------------------------------------------------------

def smtp_cases(ctx):
    import smtplib
    r = ctx.runner
    backend = "plain"  # Postfix without STARTTLS
    front = ctx.front("smtp", backend)

    problems = []
    try:
        with smtplib.SMTP("127.0.0.1", front.port, local_hostname="client.lab.test", timeout=15) as s:
            s.ehlo()
            if not s.has_extn("starttls"):
                problems.append(f"EHLO through the front lacks STARTTLS: {s.esmtp_features}")
            s._host = FRONT_NAME  # the name smtplib checks the certificate against
            s.starttls(context=ctx.tls_context())
            s.ehlo()
            if s.has_extn("starttls"):
                problems.append("EHLO after TLS still lists STARTTLS")
            code, _ = s.mail("alice@lab.test")
            if code != 250:
                problems.append(f"MAIL FROM over TLS: {code}, expected 250 from the backend")
    except (smtplib.SMTPException, OSError) as e:
        problems.append(f"smtplib: {e!r}")
    problems += report_problems(front.report(), tls=True)
    r.check("smtp: smtplib STARTTLS (lab CA verified) then MAIL FROM reaches the backend", problems)

    res = s_client(ctx, front.port, "smtp", "EHLO client.lab.test\nQUIT\n")
    problems = s_client_problems(res)
    if "250" not in res.stdout or "221" not in res.stdout:
        problems.append(f"s_client: no EHLO/QUIT replies over TLS: {res.stdout[-300:]!r}")
    problems += report_problems(front.report(), tls=True)
    r.check("smtp: openssl s_client -starttls smtp, EHLO and QUIT over TLS", problems)

    problems = curl_smtp_noop_problems(ctx.ca, front.port)
    problems += report_problems(front.report(), tls=True)
    r.check("smtp: curl --ssl-reqd runs NOOP over STARTTLS", problems)

    r.check("smtp: ostls probe --policy verify through the front", probe_problems(ctx, "smtp", front.port)
            + report_problems(front.report(), tls=True))

    # Injection: MAIL FROM pipelined behind STARTTLS must not reach Postfix, so RCPT after TLS
    # gets "503 need MAIL command". Control: MAIL sent after TLS makes RCPT get past that.
    check_injection(
        ctx, front, lambda inject: smtp_injection(front.port, ctx.tls_context(), inject),
        injected=(lambda answer: answer.startswith("503"),
                  lambda answer: f"RCPT after the injected MAIL got {answer!r}, expected 503",
                  "smtp: MAIL FROM pipelined behind STARTTLS never reaches the backend (503 after TLS)"),
        control=(lambda answer: not answer.startswith("503"),
                 lambda answer: f"control: RCPT after MAIL got {answer!r}",
                 "smtp: control — MAIL FROM sent after TLS does reach the backend"))

    problems = []
    try:
        with smtplib.SMTP("127.0.0.1", front.port, local_hostname="client.lab.test", timeout=15) as s:
            s.ehlo()
            code, _ = s.mail("plain@lab.test")
            if code != 250:
                problems.append(f"MAIL FROM in cleartext: {code}")
    except (smtplib.SMTPException, OSError) as e:
        problems.append(f"smtplib: {e!r}")
    problems += report_problems(front.report(), tls=False, cleartext=True)
    r.check("smtp: a client that never sends STARTTLS is relayed in cleartext", problems)

    strict = ctx.front("smtp", backend, "--require-tls")
    problems = []
    try:
        with smtplib.SMTP("127.0.0.1", strict.port, local_hostname="client.lab.test", timeout=15) as s:
            s.ehlo()
            code, _ = s.mail("plain@lab.test")
            if code != 530:
                problems.append(f"MAIL FROM before STARTTLS with --require-tls: {code}, expected 530")
            s._host = FRONT_NAME
            s.starttls(context=ctx.tls_context())
            s.ehlo()
            code, _ = s.mail("tls@lab.test")
            if code != 250:
                problems.append(f"MAIL FROM after STARTTLS: {code}")
    except (smtplib.SMTPException, OSError) as e:
        problems.append(f"smtplib: {e!r}")
    problems += report_problems(strict.report(), tls=True)
    r.check("smtp --require-tls: 530 before STARTTLS, MAIL accepted after", problems)

    implicit = ctx.front("smtps", backend, "--implicit")
    problems = []
    try:
        raw = socket.create_connection(("127.0.0.1", implicit.port), timeout=15)
        tls = ctx.tls_context().wrap_socket(raw, server_hostname=FRONT_NAME)
        f = tls.makefile("rwb")
        greeting = f.readline().decode()
        f.write(b"EHLO client.lab.test\r\n")
        f.flush()
        ehlo = [f.readline().decode()]
        while ehlo[-1][3:4] == "-":
            ehlo.append(f.readline().decode())
        f.write(b"QUIT\r\n")
        f.flush()
        f.readline()
        tls.close()
        if not greeting.startswith("220"):
            problems.append(f"implicit TLS greeting {greeting!r}")
        if any("STARTTLS" in l for l in ehlo):
            problems.append("implicit TLS: EHLO lists STARTTLS")
    except (OSError, ssl.SSLError) as e:
        problems.append(f"implicit TLS: {e!r}")
    problems += report_problems(implicit.report(), tls=True)
    r.check("smtps (implicit TLS): greeting and EHLO over TLS from the first byte", problems)


# ---- IMAP -----------------------------------------------------------------------------------

def imap_cases(ctx):
    import imaplib
    r = ctx.runner
    front = ctx.front("imap", "imap-plain")

    problems = []
    try:
        m = imaplib.IMAP4("127.0.0.1", front.port, timeout=15)
        if "STARTTLS" not in m.capabilities:
            problems.append(f"capabilities through the front lack STARTTLS: {m.capabilities}")
        m.host = FRONT_NAME
        m.starttls(ssl_context=ctx.tls_context())
        if "STARTTLS" in m.capabilities:
            problems.append("capabilities after TLS still list STARTTLS")
        m.login("alice", "secret")
        typ, data = m.select("INBOX")
        if typ != "OK" or data != [b"1"]:
            problems.append(f"SELECT INBOX: {typ} {data}, expected OK [b'1']")
        m.logout()
    except (imaplib.IMAP4.error, OSError) as e:
        problems.append(f"imaplib: {e!r}")
    problems += report_problems(front.report(), tls=True)
    r.check("imap: imaplib STARTTLS, LOGIN and SELECT INBOX (1 message) over TLS", problems)

    res = s_client(ctx, front.port, "imap", "a1 CAPABILITY\na2 LOGOUT\n")
    problems = s_client_problems(res)
    if "a1 OK" not in res.stdout:
        problems.append(f"s_client: no CAPABILITY reply over TLS: {res.stdout[-300:]!r}")
    problems += report_problems(front.report(), tls=True)
    r.check("imap: openssl s_client -starttls imap, CAPABILITY over TLS", problems)

    res = subprocess.run(["curl", "-sS", "-v", "--ssl-reqd", "--cacert", ctx.ca, "--resolve",
                          f"{FRONT_NAME}:{front.port}:127.0.0.1", "-u", "alice:secret",
                          f"imap://{FRONT_NAME}:{front.port}/INBOX;UID=1"], capture_output=True, text=True, timeout=30)
    problems = [] if res.returncode == 0 else [f"curl exit {res.returncode}: {res.stderr[-300:]!r}"]
    if "hello from the ostls lab" not in res.stdout:
        problems.append(f"curl did not fetch the lab message: {res.stdout[-200:]!r}")
    problems += report_problems(front.report(), tls=True)
    r.check("imap: curl --ssl-reqd fetches alice's message over STARTTLS", problems)

    r.check("imap: ostls probe --policy verify through the front", probe_problems(ctx, "imap", front.port)
            + report_problems(front.report(), tls=True))

    check_injection(
        ctx, front, lambda inject: imap_injection(front.port, ctx.tls_context(), inject),
        injected=(lambda answer: not answer.startswith("c OK"),
                  lambda answer: f"SELECT after the injected LOGIN got {answer!r}",
                  "imap: LOGIN pipelined behind STARTTLS never reaches the backend (SELECT refused after TLS)"),
        control=(lambda answer: answer.startswith("c OK"),
                 lambda answer: f"control: SELECT after LOGIN got {answer!r}",
                 "imap: control — LOGIN sent after TLS does reach the backend"))

    strict = ctx.front("imap", "imap-plain", "--require-tls")
    c = Raw(strict.port)
    problems = []
    try:
        greeting = c.line()
        if "LOGINDISABLED" not in greeting or "STARTTLS" not in greeting:
            problems.append(f"--require-tls greeting lacks STARTTLS/LOGINDISABLED: {greeting!r}")
        c.send("a LOGIN alice secret\r\n")
        answer = c.until(lambda l: l.startswith("a "))[-1]
        if "PRIVACYREQUIRED" not in answer:
            problems.append(f"LOGIN before STARTTLS with --require-tls: {answer!r}")
    finally:
        c.close()
    problems += report_problems(strict.report(), tls=False)
    r.check("imap --require-tls: LOGIN before STARTTLS refused with [PRIVACYREQUIRED]", problems)


# ---- POP3 -----------------------------------------------------------------------------------

def pop3_cases(ctx):
    import poplib
    r = ctx.runner
    front = ctx.front("pop3", "pop3-plain")

    problems = []
    try:
        p = poplib.POP3("127.0.0.1", front.port, timeout=15)
        if "STLS" not in p.capa():
            problems.append(f"CAPA through the front lacks STLS: {p.capa()}")
        p.host = FRONT_NAME
        p.stls(context=ctx.tls_context())
        if "STLS" in p.capa():
            problems.append("CAPA after TLS still lists STLS")
        p.user("alice")
        p.pass_("secret")
        count, _ = p.stat()
        if count != 1:
            problems.append(f"STAT: {count} messages, expected 1")
        p.quit()
    except (poplib.error_proto, OSError) as e:
        problems.append(f"poplib: {e!r}")
    problems += report_problems(front.report(), tls=True)
    r.check("pop3: poplib STLS, USER/PASS and STAT (1 message) over TLS", problems)

    res = s_client(ctx, front.port, "pop3", "CAPA\nQUIT\n")
    problems = s_client_problems(res)
    if "+OK" not in res.stdout:
        problems.append(f"s_client: no reply over TLS: {res.stdout[-300:]!r}")
    problems += report_problems(front.report(), tls=True)
    r.check("pop3: openssl s_client -starttls pop3, CAPA over TLS", problems)

    res = subprocess.run(["curl", "-sS", "-v", "--ssl-reqd", "--cacert", ctx.ca, "--resolve",
                          f"{FRONT_NAME}:{front.port}:127.0.0.1", "-u", "alice:secret",
                          f"pop3://{FRONT_NAME}:{front.port}/1"], capture_output=True, text=True, timeout=30)
    problems = [] if res.returncode == 0 else [f"curl exit {res.returncode}: {res.stderr[-300:]!r}"]
    if "hello from the ostls lab" not in res.stdout:
        problems.append(f"curl did not retrieve the lab message: {res.stdout[-200:]!r}")
    problems += report_problems(front.report(), tls=True)
    r.check("pop3: curl --ssl-reqd retrieves alice's message over STLS", problems)

    r.check("pop3: ostls probe --policy verify through the front", probe_problems(ctx, "pop3", front.port)
            + report_problems(front.report(), tls=True))

    check_injection(
        ctx, front, lambda inject: pop3_injection(front.port, ctx.tls_context(), inject),
        injected=(lambda answer: answer.startswith("-ERR"),
                  lambda answer: f"PASS after the injected USER got {answer!r}, expected -ERR",
                  "pop3: USER pipelined behind STLS never reaches the backend (PASS refused after TLS)"),
        control=(lambda answer: answer.startswith("+OK"),
                 lambda answer: f"control: PASS after USER got {answer!r}",
                 "pop3: control — USER sent after TLS does reach the backend"))


# ---- ManageSieve ----------------------------------------------------------------------------

def sieve_cases(ctx):
    import base64
    r = ctx.runner
    backend = "sieve-plain"  # the lab Dovecot's ManageSieve without TLS
    front = ctx.front("sieve", backend)
    plain = base64.b64encode(b"\0alice\0secret").decode()

    def status(line):
        return line.split(" ", 1)[0].upper() in ("OK", "NO", "BYE")

    res = s_client(ctx, front.port, "sieve", "CAPABILITY\nLOGOUT\n")
    problems = s_client_problems(res)
    # Everything s_client prints comes after the handshake: the list the front asked the backend
    # for (RFC 5804 §2.2), the CAPABILITY answer, the LOGOUT answer; never STARTTLS again.
    if res.stdout.count('"IMPLEMENTATION"') != 2 or "Logout completed" not in res.stdout:
        problems.append(f"s_client: no re-issued capabilities / CAPABILITY / LOGOUT over TLS: {res.stdout[-400:]!r}")
    if '"STARTTLS"' in res.stdout:
        problems.append("capabilities after TLS still list STARTTLS")
    problems += report_problems(front.report(), tls=True)
    r.check("sieve: openssl s_client -starttls sieve, capabilities re-issued after TLS, CAPABILITY and LOGOUT", problems)

    rfd, wfd = os.pipe()
    os.write(wfd, b"secret\n")
    os.close(wfd)
    try:
        res = subprocess.run(["sieve-connect", "--server", "127.0.0.1", "--port", str(front.port), "--user", "alice",
                              "--authmech", "PLAIN", "--tlscafile", ctx.ca, "--tlshostname", FRONT_NAME,
                              "--passwordfd", str(rfd), "--list", "--debug"],
                             capture_output=True, text=True, timeout=30, pass_fds=(rfd,))
    finally:
        os.close(rfd)
    out = res.stdout + res.stderr
    problems = [] if res.returncode == 0 else [f"sieve-connect exit {res.returncode}: {out[-400:]!r}"]
    for want in ("TLS activated", 'OK "Logged in."', 'OK "Listscripts completed."'):
        if want not in out:
            problems.append(f"sieve-connect: no {want!r} in its dialogue: {out[-400:]!r}")
    problems += report_problems(front.report(), tls=True)
    r.check("sieve: sieve-connect STARTTLS (lab CA, name verified), AUTHENTICATE PLAIN and LISTSCRIPTS", problems)

    r.check("sieve: ostls probe --policy verify through the front", probe_problems(ctx, "sieve", front.port)
            + report_problems(front.report(), tls=True))

    # Injection: AUTHENTICATE pipelined behind STARTTLS must not reach Dovecot, so LISTSCRIPTS
    # after TLS is refused (not authenticated). Control: AUTHENTICATE after TLS lets it succeed.
    def session(inject):
        c = Raw(front.port)
        try:
            greeting = c.until(status)
            if '"STARTTLS"' not in greeting or not greeting[-1].startswith("OK"):
                return f"greeting through the front: {greeting!r}"
            auth = f'AUTHENTICATE "PLAIN" "{plain}"\r\n'
            c.send("STARTTLS\r\n" + auth if inject else "STARTTLS\r\n")
            reply = c.line()
            if not reply.startswith("OK"):
                return f"STARTTLS answered {reply!r}"
            c.starttls(ctx.tls_context())
            caps = c.until(status)
            if not caps[-1].startswith("OK") or '"STARTTLS"' in caps:
                return f"capabilities re-issued after TLS: {caps!r}"
            if not inject:
                c.send(auth)
                c.line()
            c.send("LISTSCRIPTS\r\n")
            return c.until(status)[-1]
        finally:
            c.close()

    check_injection(
        ctx, front, session,
        injected=(lambda answer: answer.startswith("NO"),
                  lambda answer: f"LISTSCRIPTS after the injected AUTHENTICATE got {answer!r}, expected NO",
                  "sieve: AUTHENTICATE pipelined behind STARTTLS never reaches the backend (LISTSCRIPTS refused after TLS)"),
        control=(lambda answer: answer.startswith("OK"),
                 lambda answer: f"control: LISTSCRIPTS after AUTHENTICATE got {answer!r}",
                 "sieve: control — AUTHENTICATE sent after TLS does reach the backend"))

    c = Raw(front.port)
    problems = []
    try:
        c.until(status)
        c.send(f'AUTHENTICATE "PLAIN" "{plain}"\r\n')
        answer = c.line()
        if not answer.startswith("OK"):
            problems.append(f"AUTHENTICATE in cleartext: {answer!r}")
        c.send("LOGOUT\r\n")
        c.line()
    finally:
        c.close()
    problems += report_problems(front.report(), tls=False, cleartext=True)
    r.check("sieve: a client that never sends STARTTLS is relayed in cleartext", problems)

    strict = ctx.front("sieve", backend, "--require-tls")
    c = Raw(strict.port)
    problems = []
    try:
        greeting = c.until(status)
        if '"SASL" ""' not in greeting or '"STARTTLS"' not in greeting:
            problems.append(f"--require-tls greeting: no empty SASL list or no STARTTLS: {greeting!r}")
        c.send(f'AUTHENTICATE "PLAIN" "{plain}"\r\n')
        answer = c.line()
        if not answer.startswith("NO (ENCRYPT-NEEDED)"):
            problems.append(f"AUTHENTICATE before STARTTLS with --require-tls: {answer!r}")
        c.send("STARTTLS\r\n")
        c.line()
        c.starttls(ctx.tls_context())
        caps = c.until(status)
        if '"SASL" "PLAIN"' not in caps:
            problems.append(f"capabilities after TLS lack the backend's SASL list: {caps!r}")
        c.send(f'AUTHENTICATE "PLAIN" "{plain}"\r\n')
        answer = c.line()
        if not answer.startswith("OK"):
            problems.append(f"AUTHENTICATE after STARTTLS: {answer!r}")
    except (OSError, ssl.SSLError, EOFError) as e:
        problems.append(f"--require-tls session: {e!r}")
    finally:
        c.close()
    problems += report_problems(strict.report(), tls=True)
    r.check("sieve --require-tls: NO (ENCRYPT-NEEDED) before STARTTLS, AUTHENTICATE accepted after", problems)


# ---- XMPP -----------------------------------------------------------------------------------

XMPP_TLS = "urn:ietf:params:xml:ns:xmpp-tls"
XMPP_STARTTLS = f"<starttls xmlns='{XMPP_TLS}'/>"
XMPP_PROCEED = f"<proceed xmlns='{XMPP_TLS}'/>"
# SASL PLAIN for the lab user alice/secret ("\0alice\0secret")
XMPP_AUTH = "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGFsaWNlAHNlY3JldA==</auth>"
XMPP_BIND = ("<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
             "<resource>ostls</resource></bind></iq>")


def xmpp_header(domain, content="jabber:client"):
    return (f"<?xml version='1.0'?><stream:stream to='{domain}' version='1.0' xmlns='{content}' "
            "xmlns:stream='http://etherx.jabber.org/streams'>")


def xmpp_until(c, *markers):
    """A Raw client's bytes up to and including the first of `markers` (XMPP has no lines)."""
    while True:
        hits = [(c.buf.find(m.encode()), m) for m in markers if m.encode() in c.buf]
        if hits:
            at, marker = min(hits)
            end = at + len(marker.encode())
            text, c.buf = c.buf[:end], c.buf[end:]
            return text.decode(errors="replace")
        chunk = c.sock.recv(4096)
        if not chunk:
            raise EOFError(f"connection closed (buffered {c.buf!r})")
        c.buf += chunk


class ProsodyLog:
    """Counts Prosody's "Authenticated as alice@…" lines of the backend instance: a SASL <auth>
    that reached any backend connection (the one before TLS too) shows up there."""

    def __init__(self, ctx, instance, jid):
        self.path = Path(ctx.lab["dir"]) / "prosody" / instance / "prosody.log"
        self.needle = f"Authenticated as {jid}"

    def count(self):
        time.sleep(0.5)  # Prosody writes its log line right after the <success/>
        return self.path.read_text(errors="replace").count(self.needle)


def xmpp_lab_user(ctx, domain):
    """The lab's Prosody instances have no accounts; alice/secret (as in the lab's Dovecot) is
    registered in the cleartext instance when missing. Problems, if that failed."""
    inst = Path(ctx.lab["dir"]) / "prosody" / "plain"
    account = inst / "data" / domain.replace(".", "%2e") / "accounts" / "alice.dat"
    if account.exists():
        return []
    r = subprocess.run(["prosodyctl", "--config", str(inst / "prosody.cfg.lua"), "register", "alice", domain, "secret"],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0 or not account.exists():
        return [f"cannot register alice@{domain} in the lab's xmpp-plain Prosody: {r.stdout[-200:]} {r.stderr[-200:]}"]
    return []


def xmpp_cases(ctx):
    r = ctx.runner
    backend = "xmpp-plain"  # Prosody without mod_tls: no <starttls/> of its own
    domain = next(p["servername"] for p in ctx.lab["peers"] if p["name"] == backend)
    problems = xmpp_lab_user(ctx, domain)
    if problems:
        r.check("xmpp: the lab user alice exists on xmpp-plain", problems)
        return
    log = ProsodyLog(ctx, "plain", f"alice@{domain}")
    front = ctx.front("xmpp", backend)

    # s_client: the offer must be in the relayed features (s_client looks for it), and after TLS a
    # new stream header typed on stdin gets the backend's own post-TLS features (SASL, no offer).
    res = s_client(ctx, front.port, "xmpp", xmpp_header(domain) + "\n</stream:stream>\n", "-xmpphost", domain)
    problems = s_client_problems(res)
    if "<mechanism>PLAIN</mechanism>" not in res.stdout:
        problems.append(f"s_client: no post-TLS stream features from the backend: {res.stdout[-300:]!r}")
    if "starttls" in res.stdout:
        problems.append(f"s_client: STARTTLS still offered after TLS: {res.stdout[-300:]!r}")
    problems += report_problems(front.report(), tls=True)
    r.check("xmpp: openssl s_client -starttls xmpp, a new stream after TLS gets the backend's features", problems)

    # slixmpp (Debian's python3-slixmpp, system python): STARTTLS verifying the front against
    # the lab CA, SASL login as alice, software version of the server, a message to itself.
    login = Path(__file__).resolve().parent / "xmpp_login.py"
    res = subprocess.run(["/usr/bin/python3", str(login), "--port", str(front.port), "--jid", f"alice@{domain}",
                          "--password", "secret", "--cafile", ctx.ca, "--tls-name", FRONT_NAME],
                         capture_output=True, text=True, timeout=60)
    problems = [] if res.returncode == 0 else [f"slixmpp: exit {res.returncode}: {res.stdout[-300:]!r} "
                                               f"{res.stderr[-300:]!r}"]
    problems += report_problems(front.report(), tls=True)
    r.check("xmpp: slixmpp STARTTLS (lab CA verified), login as alice, version query and a message to itself",
            problems)

    r.check("xmpp: ostls probe --policy verify through the front",
            probe_problems(ctx, "xmpp", front.port, "--xmpp-domain", domain)
            + report_problems(front.report(), tls=True))

    # Injection: SASL <auth> with alice's credentials pipelined behind <starttls/> must reach no
    # backend connection: after TLS the fresh stream is unauthenticated (SASL offered, bind
    # refused) and Prosody never logged the login. Control: the same <auth> sent after TLS logs
    # alice in, and bind gives her a JID.
    def session(inject):
        c = Raw(front.port)
        try:
            c.send(xmpp_header(domain))
            features = xmpp_until(c, "</stream:features>")
            if XMPP_STARTTLS not in features:
                return {"error": f"no <starttls/> in the features: {features!r}"}
            c.send(XMPP_STARTTLS + XMPP_AUTH if inject else XMPP_STARTTLS)
            answer = xmpp_until(c, "/>")
            if answer != XMPP_PROCEED:
                return {"error": f"<starttls/> answered {answer!r}"}
            c.starttls(ctx.tls_context())
            c.send(xmpp_header(domain))
            features = xmpp_until(c, "</stream:features>")
            out = {"sasl_offered": "<mechanisms" in features}
            if not inject:
                c.send(XMPP_AUTH)
                out["auth"] = xmpp_until(c, "/>")
                c.send(xmpp_header(domain))  # RFC 6120 §6.4.6: a new stream after SASL
                xmpp_until(c, "</stream:features>")
            c.send(XMPP_BIND)
            out["bind"] = xmpp_until(c, "</iq>", "</stream:stream>")
            return out
        finally:
            c.close()

    before = log.count()
    out = session(inject=True)
    logins = log.count() - before
    problems = [out["error"]] if "error" in out else []
    if not out.get("sasl_offered"):
        problems.append(f"post-TLS features without SASL mechanisms: {out}")
    if "type='result'" in out.get("bind", "") or "not-authorized" not in out.get("bind", ""):
        problems.append(f"bind after the injected <auth> was not refused: {out.get('bind')!r}")
    if logins != 0:
        problems.append(f"Prosody logged {logins} login(s) of alice: the injected <auth> reached the backend")
    problems += report_problems(front.report(), tls=True, injection=True)
    r.check("xmpp: SASL <auth> pipelined behind <starttls/> never reaches the backend (unauthenticated after TLS)",
            problems)

    before = log.count()
    out = session(inject=False)
    logins = log.count() - before
    problems = [out["error"]] if "error" in out else []
    if not out.get("auth", "").startswith("<success"):
        problems.append(f"control: <auth> after TLS answered {out.get('auth')!r}")
    if f"<jid>alice@{domain}/ostls</jid>" not in out.get("bind", ""):
        problems.append(f"control: bind after login answered {out.get('bind')!r}")
    if logins != 1:
        problems.append(f"control: Prosody logged {logins} login(s) of alice, expected 1")
    problems += report_problems(front.report(), tls=True)
    r.check("xmpp: control — the same <auth> sent after TLS logs alice in (bind gives her JID)", problems)

    # A client that never sends <starttls/> is relayed in cleartext.
    c = Raw(front.port)
    problems = []
    try:
        c.send(xmpp_header(domain))
        xmpp_until(c, "</stream:features>")
        c.send(XMPP_AUTH)
        answer = xmpp_until(c, "/>")
        if not answer.startswith("<success"):
            problems.append(f"cleartext <auth> answered {answer!r}")
    finally:
        c.close()
    problems += report_problems(front.report(), tls=False, cleartext=True)
    r.check("xmpp: a client that never sends <starttls/> is relayed in cleartext (SASL success)", problems)

    # --require-tls: <required/> in the offer, <auth> before TLS refused with <policy-violation/>
    # (and not relayed); STARTTLS still works.
    strict = ctx.front("xmpp", backend, "--require-tls")
    c = Raw(strict.port)
    problems = []
    before = log.count()
    try:
        c.send(xmpp_header(domain))
        features = xmpp_until(c, "</stream:features>")
        if f"<starttls xmlns='{XMPP_TLS}'><required/></starttls>" not in features:
            problems.append(f"--require-tls features lack <starttls><required/>: {features!r}")
        c.send(XMPP_AUTH)
        answer = xmpp_until(c, "</stream:stream>")
        if "<policy-violation" not in answer:
            problems.append(f"<auth> before <starttls/> with --require-tls answered {answer!r}")
    except (OSError, EOFError) as e:
        problems.append(f"--require-tls: {e!r}")
    finally:
        c.close()
    if log.count() != before:
        problems.append("the refused <auth> reached the backend (Prosody logged a login)")
    problems += report_problems(strict.report(), tls=False)
    r.check("xmpp --require-tls: <required/> offered, <auth> before TLS gets <policy-violation/>", problems)
    res = s_client(ctx, strict.port, "xmpp", xmpp_header(domain) + "\n</stream:stream>\n", "-xmpphost", domain)
    problems = s_client_problems(res)
    if "<mechanism>PLAIN</mechanism>" not in res.stdout:
        problems.append(f"s_client: no post-TLS stream features: {res.stdout[-300:]!r}")
    problems += report_problems(strict.report(), tls=True)
    r.check("xmpp --require-tls: s_client -starttls xmpp still gets through", problems)

    implicit = ctx.front("xmpps", backend, "--implicit")
    problems = []
    try:
        raw = socket.create_connection(("127.0.0.1", implicit.port), timeout=15)
        c = Raw.__new__(Raw)
        c.sock, c.buf = ctx.tls_context().wrap_socket(raw, server_hostname=FRONT_NAME), b""
        c.send(xmpp_header(domain))
        features = xmpp_until(c, "</stream:features>")
        c.send("</stream:stream>")
        c.close()
        if "<mechanisms" not in features or "starttls" in features:
            problems.append(f"implicit TLS features: {features!r}")
    except (OSError, ssl.SSLError, EOFError) as e:
        problems.append(f"implicit TLS: {e!r}")
    problems += report_problems(implicit.report(), tls=True)
    r.check("xmpps (implicit TLS): the backend's features over TLS from the first byte", problems)

    # s2s: the same machine with jabber:server as the port's content namespace. The lab has no
    # cleartext s2s backend, so only the front's own check runs here: a c2s stream is turned away
    # with <invalid-namespace/> before anything reaches the backend.
    s2s = ctx.front("xmpp-server", backend)
    c = Raw(s2s.port)
    problems = []
    try:
        c.send(xmpp_header(domain))
        answer = xmpp_until(c, "</stream:stream>")
        if "<invalid-namespace" not in answer:
            problems.append(f"a jabber:client stream on the s2s front got {answer!r}")
    except (OSError, EOFError) as e:
        problems.append(f"s2s front: {e!r}")
    finally:
        c.close()
    rep = s2s.report()
    if rep is None or not (rep.get("error") or "").startswith("client: "):
        problems.append(f"s2s front: session report {rep}")
    r.check("xmpp-server: a jabber:client stream gets <invalid-namespace/> from the front itself", problems)


# ---- LDAP -----------------------------------------------------------------------------------

LDAP_STARTTLS = "1.3.6.1.4.1.1466.20037"
LDAP_WHOAMI = "1.3.6.1.4.1.4203.1.11.3"


def ber(tag, value):
    """One BER element, definite length (short or long form)."""
    if len(value) < 128:
        return bytes([tag, len(value)]) + value
    n = len(value).to_bytes((len(value).bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(n)]) + n + value


def ber_split(data):
    """(tag, content, rest) of the first complete element of `data`, or None if it is incomplete."""
    if len(data) < 2:
        return None
    head, length = 2, data[1]
    if length & 0x80:
        n = length & 0x7F
        if len(data) < 2 + n:
            return None
        head, length = 2 + n, int.from_bytes(data[2:2 + n], "big")
    if len(data) < head + length:
        return None
    return data[0], data[head:head + length], data[head + length:]


def ldap_message(mid, op):
    return ber(0x30, ber(0x02, mid.to_bytes(1, "big")) + op)  # messageIDs below 128 here


def ldap_extended(mid, oid):
    return ldap_message(mid, ber(0x77, ber(0x80, oid.encode())))


def ldap_sasl_bind(mid, mechanism):
    """The first step of a SASL bind, no credentials: the server answers saslBindInProgress (14)
    and the connection stays in that state until the bind completes (RFC 4513 §5.2.1.2)."""
    return ldap_message(mid, ber(0x60, ber(0x02, b"\x03") + ber(0x04, b"") + ber(0xA3, ber(0x04, mechanism.encode()))))


def ldap_root_dse_search(mid, attribute):
    return ldap_message(mid, ber(0x63, ber(0x04, b"") + bytes.fromhex("0a01000a0100020100020100010100")
                                 + ber(0x87, b"objectClass") + ber(0x30, ber(0x04, attribute.encode()))))


def ldap_unbind(mid):
    return ldap_message(mid, b"\x42\x00")


def ldap_parse(pdu):
    """messageID, protocolOp tag, and for responses resultCode and diagnosticMessage."""
    _, body, _ = ber_split(pdu)
    _, mid, body = ber_split(body)
    op, content, _ = ber_split(body)
    out = {"id": int.from_bytes(mid, "big"), "op": op, "content": content}
    first = ber_split(content)
    if first and first[0] == 0x0A:  # LDAPResult
        _, code, rest = first
        _, _, rest = ber_split(rest)
        _, diag, rest = ber_split(rest)
        out.update(code=int.from_bytes(code, "big"), diag=diag.decode(errors="replace"), extra=rest)
    return out


def ldap_messages(data):
    """Every complete LDAPMessage in `data`, parsed."""
    out = []
    while (e := ber_split(data)) is not None:
        pdu_len = len(data) - len(e[2])
        out.append(ldap_parse(data[:pdu_len]))
        data = e[2]
    return out


class LdapRaw(Raw):
    def message(self):
        while (e := ber_split(self.buf)) is None:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise EOFError(f"connection closed (buffered {self.buf!r})")
            self.buf += chunk
        pdu, self.buf = self.buf[:len(self.buf) - len(e[2])], e[2]
        return ldap_parse(pdu)

    def until_id(self, mid):
        """Every message up to and including the first with messageID `mid`."""
        got = []
        while not got or got[-1]["id"] != mid:
            got.append(self.message())
        return got


def s_client_binary(ctx, port, starttls, request, done, farewell=b"", timeout=20):
    """`openssl s_client -starttls PROTO` (lab CA, front's name verified) for binary protocols:
    `request` after the handshake, stdout read until done(stdout), then `farewell` and EOF."""
    import select
    p = subprocess.Popen(["openssl", "s_client", "-starttls", starttls, "-connect", f"127.0.0.1:{port}", "-CAfile",
                          ctx.ca, "-servername", FRONT_NAME, "-verify_hostname", FRONT_NAME, "-verify_return_error",
                          "-brief", "-ign_eof"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, deadline = b"", time.monotonic() + timeout
    try:
        p.stdin.write(request)
        p.stdin.flush()
        while not done(out) and time.monotonic() < deadline:
            if select.select([p.stdout], [], [], 0.5)[0]:
                chunk = os.read(p.stdout.fileno(), 65536)
                if not chunk:
                    break
                out += chunk
        p.stdin.write(farewell)
        p.stdin.close()
        p.wait(timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        p.kill()
        p.wait()
    out += p.stdout.read()
    err = p.stderr.read()
    p.stdout.close()
    p.stderr.close()
    res = subprocess.CompletedProcess(p.args, p.returncode, out.decode(errors="replace"), err.decode(errors="replace"))
    res.raw = out  # the protocol's bytes, for parsing
    return res


def ldap_cases(ctx):
    r = ctx.runner
    backend = "ldap-plain"  # slapd without TLS settings (no directory: the root DSE only)
    front = ctx.front("ldap", backend)
    env = dict(os.environ, LDAPTLS_CACERT=ctx.ca, LDAPTLS_REQCERT="demand")

    def ldap_tool(tool, port, *args):
        # libldap checks the name in the URI against the certificate: the front's certificate
        # carries IP:127.0.0.1 besides DNS:front.lab.test (labtest.make_leaf).
        return subprocess.run([tool, "-x", "-H", f"ldap://127.0.0.1:{port}", *args], capture_output=True, text=True,
                              timeout=30, env=env)

    res = ldap_tool("ldapsearch", front.port, "-ZZ", "-b", "", "-s", "base", "supportedLDAPVersion")
    problems = [] if res.returncode == 0 else [f"ldapsearch exit {res.returncode}: {res.stderr[-300:]!r}"]
    if "supportedLDAPVersion: 3" not in res.stdout:
        problems.append(f"ldapsearch: no root DSE from the backend: {res.stdout[-300:]!r}")
    problems += report_problems(front.report(), tls=True)
    r.check("ldap: ldapsearch -ZZ (lab CA, name verified) reads the backend's root DSE over StartTLS", problems)

    res = ldap_tool("ldapwhoami", front.port, "-ZZ")
    problems = [] if res.returncode == 0 and res.stdout.strip() == "anonymous" else [
        f"ldapwhoami -ZZ: exit {res.returncode}, {res.stdout.strip()!r} {res.stderr.strip()!r}"]
    problems += report_problems(front.report(), tls=True)
    r.check("ldap: ldapwhoami -ZZ gets the backend's WhoAmI answer (anonymous) over StartTLS", problems)

    def search_done(out):
        return any(m["op"] == 0x65 for m in ldap_messages(out))

    res = s_client_binary(ctx, front.port, "ldap", ldap_root_dse_search(2, "supportedLDAPVersion"), search_done,
                          farewell=ldap_unbind(3))
    problems = s_client_problems(res)
    got = ldap_messages(res.raw)
    if not (any(m["op"] == 0x64 and b"supportedLDAPVersion" in m["content"] for m in got)
            and any(m["op"] == 0x65 and m["id"] == 2 and m["code"] == 0 for m in got)):
        problems.append(f"s_client: no root DSE entry and SearchResultDone over TLS: {res.raw[-300:]!r}")
    problems += report_problems(front.report(), tls=True)
    r.check("ldap: openssl s_client -starttls ldap, a root DSE search over TLS", problems)

    r.check("ldap: ostls probe --policy verify through the front", probe_problems(ctx, "ldap", front.port)
            + report_problems(front.report(), tls=True))

    # Injection: a SASL BindRequest pipelined behind StartTLS in one write. Had it reached slapd,
    # the connection would be in "SASL bind in progress" (and its BindResponse would arrive after
    # TLS): WhoAmI after TLS must instead answer success/anonymous, and no message 2 ever comes.
    # Control: the same bind sent after TLS gets saslBindInProgress (14) from slapd, and WhoAmI
    # then fails with operationsError (1) "SASL bind in progress". (The lab's slapd has no
    # directory, so no simple bind can succeed: the SASL step is the state change it offers.)
    def session(inject):
        """Every LDAPMessage the client gets after TLS (the WhoAmI response last)."""
        c = LdapRaw(front.port)
        try:
            bind = ldap_sasl_bind(2, "DIGEST-MD5")
            c.send(ldap_extended(1, LDAP_STARTTLS) + (bind if inject else b""))
            answer = c.message()
            if answer["id"] != 1 or answer["op"] != 0x78 or answer.get("code") != 0:
                raise RuntimeError(f"StartTLS answered {answer}")
            c.starttls(ctx.tls_context())
            got = []
            if not inject:
                c.send(bind)
                got += c.until_id(2)
            c.send(ldap_extended(3, LDAP_WHOAMI))
            got += c.until_id(3)
            c.send(ldap_unbind(4))
            return got
        finally:
            c.close()

    problems = []
    try:
        got = session(inject=True)
        if any(m["id"] == 2 for m in got):
            problems.append(f"the injected BindRequest was answered by the backend: {got}")
        if got[-1].get("code") != 0 or got[-1].get("extra") not in (b"", b"\x8b\x00"):
            problems.append(f"WhoAmI after TLS: {got[-1]}, expected success and anonymous")
    except (OSError, EOFError, RuntimeError) as e:
        problems.append(repr(e))
    problems += report_problems(front.report(), tls=True, injection=True)
    r.check("ldap: BindRequest pipelined behind StartTLS never reaches slapd (WhoAmI after TLS: anonymous)", problems)

    problems = []
    try:
        got = session(inject=False)
        bind = next((m for m in got if m["id"] == 2), {})
        if bind.get("op") != 0x61 or bind.get("code") != 14:
            problems.append(f"control: bind after TLS answered {bind}, expected saslBindInProgress (14)")
        if got[-1].get("code") != 1 or "SASL bind in progress" not in got[-1].get("diag", ""):
            problems.append(f"control: WhoAmI after the bind answered {got[-1]}, expected 'SASL bind in progress'")
    except (OSError, EOFError, RuntimeError) as e:
        problems.append(repr(e))
    problems += report_problems(front.report(), tls=True)
    r.check("ldap: control — the same bind sent after TLS does reach slapd (WhoAmI: SASL bind in progress)", problems)

    res = ldap_tool("ldapsearch", front.port, "-b", "", "-s", "base", "supportedLDAPVersion")
    problems = [] if "supportedLDAPVersion: 3" in res.stdout else [f"ldapsearch in cleartext: {res.stdout[-300:]!r} "
                                                                   f"{res.stderr[-300:]!r}"]
    problems += report_problems(front.report(), tls=False, cleartext=True)
    r.check("ldap: a client that never sends StartTLS is relayed in cleartext", problems)

    strict = ctx.front("ldap", backend, "--require-tls")
    res = ldap_tool("ldapwhoami", strict.port)
    problems = [] if "Confidentiality required (13)" in res.stderr else [
        f"ldapwhoami without StartTLS, --require-tls: exit {res.returncode}, {res.stdout!r} {res.stderr!r}"]
    problems += report_problems(strict.report(), tls=False)
    res = ldap_tool("ldapwhoami", strict.port, "-ZZ")
    if res.returncode != 0 or res.stdout.strip() != "anonymous":
        problems.append(f"ldapwhoami -ZZ with --require-tls: exit {res.returncode}, {res.stdout!r} {res.stderr!r}")
    problems += report_problems(strict.report(), tls=True)
    r.check("ldap --require-tls: a bind before StartTLS gets confidentialityRequired (13), after StartTLS it works",
            problems)


# ---- PostgreSQL -----------------------------------------------------------------------------

PG_SSL_REQUEST = (8).to_bytes(4, "big") + (80877103).to_bytes(4, "big")
PG_GSSENC_REQUEST = (8).to_bytes(4, "big") + (80877104).to_bytes(4, "big")


def pg_startup(**params):
    body = (196608).to_bytes(4, "big") + b"".join(k.encode() + b"\0" + v.encode() + b"\0" for k, v in params.items())
    body += b"\0"
    return (len(body) + 4).to_bytes(4, "big") + body


def pg_message(kind, payload):
    return kind + (len(payload) + 4).to_bytes(4, "big") + payload


def pg_query(sql):
    return pg_message(b"Q", sql.encode() + b"\0")


PG_TERMINATE = pg_message(b"X", b"")


def pg_messages(data):
    """(type, payload) of every complete backend message in `data`."""
    out = []
    while len(data) >= 5 and len(data) >= 1 + int.from_bytes(data[1:5], "big"):
        n = 1 + int.from_bytes(data[1:5], "big")
        out.append((data[:1], data[5:n]))
        data = data[n:]
    return out


class PgRaw(Raw):
    def message(self):
        """The next backend message: (type, payload)."""
        while not pg_messages(self.buf):
            chunk = self.sock.recv(4096)
            if not chunk:
                raise EOFError(f"connection closed (buffered {self.buf!r})")
            self.buf += chunk
        n = 1 + int.from_bytes(self.buf[1:5], "big")
        message, self.buf = pg_messages(self.buf[:n])[0], self.buf[n:]
        return message

    def until(self, kinds):
        """Messages up to and including the first of one of `kinds` (b"Z", b"E", …)."""
        got = []
        while not got or got[-1][0] not in kinds:
            got.append(self.message())
        return got


def pg_row(messages):
    """The first DataRow's columns as text."""
    for kind, payload in messages:
        if kind == b"D":
            cols, pos, out = int.from_bytes(payload[:2], "big"), 2, []
            for _ in range(cols):
                n = int.from_bytes(payload[pos:pos + 4], "big", signed=True)
                pos += 4
                out.append(None if n < 0 else payload[pos:pos + n].decode())
                pos += max(n, 0)
            return out
    return None


def postgres_cases(ctx):
    r = ctx.runner
    backend = "postgres-plain"  # PostgreSQL with ssl = off
    front = ctx.front("postgres", backend)
    env = dict(os.environ, PGCONNECT_TIMEOUT="15")

    def psql(port, sslmode, *args):
        # host names the certificate (verify-full checks it), hostaddr is where to connect.
        conn = (f"host={FRONT_NAME} hostaddr=127.0.0.1 port={port} sslmode={sslmode} sslrootcert={ctx.ca} "
                "user=postgres dbname=postgres")
        return subprocess.run(["psql", conn, "-X", "-At", *args], capture_output=True, text=True, timeout=30, env=env)

    res = psql(front.port, "verify-full", "-c", "\\conninfo", "-c", "select current_database(), 6*7")
    problems = [] if res.returncode == 0 else [f"psql exit {res.returncode}: {res.stderr[-300:]!r}"]
    if "SSL connection (protocol: TLSv1" not in res.stdout or "postgres|42" not in res.stdout:
        problems.append(f"psql: no TLS session or no query result: {res.stdout[-300:]!r}")
    problems += report_problems(front.report(), tls=True)
    r.check("postgres: psql sslmode=verify-full (lab CA, name verified) runs a query on the backend", problems)

    request = pg_startup(user="postgres", database="postgres") + pg_query("select 'ostls-' || 'through-the-front'")

    def answered(out):
        kinds = [k for k, _ in pg_messages(out)]
        return kinds.count(b"Z") >= 2 or b"E" in kinds

    res = s_client_binary(ctx, front.port, "postgres", request + PG_TERMINATE, answered)
    problems = s_client_problems(res)
    if pg_row(pg_messages(res.raw)) != ["ostls-through-the-front"]:
        problems.append(f"s_client: no query result over TLS: {res.raw[-300:]!r}")
    problems += report_problems(front.report(), tls=True)
    r.check("postgres: openssl s_client -starttls postgres, StartupMessage and a query over TLS", problems)

    r.check("postgres: ostls probe --policy verify through the front", probe_problems(ctx, "postgres", front.port)
            + report_problems(front.report(), tls=True))

    # Injection: a StartupMessage pipelined behind the SSLRequest in one write must never reach
    # PostgreSQL. Had it, the backend would have started that session (application_name
    # "pipelined", database template1) and read the client's real StartupMessage after TLS as a
    # garbage message. Instead the real one gets the normal exchange: AuthenticationOk and a
    # session for its own parameters. Control: the pipelined message sent after TLS takes effect.
    pipelined = pg_startup(user="postgres", database="template1", application_name="pipelined")

    def session(inject):
        c = PgRaw(front.port)
        try:
            c.send(PG_SSL_REQUEST + (pipelined if inject else b""))
            answer = c.sock.recv(1)
            if answer != b"S":
                raise RuntimeError(f"SSLRequest answered {answer!r}")
            c.starttls(ctx.tls_context())
            c.send(pg_startup(user="postgres", database="postgres", application_name="after-tls") if inject
                   else pipelined)
            got = c.until((b"Z", b"E"))
            c.send(pg_query("select current_database(), current_setting('application_name')"))
            got += c.until((b"Z", b"E"))
            c.send(PG_TERMINATE)
            return got
        finally:
            c.close()

    def checks(inject, db, app):
        try:
            got = session(inject)
        except (OSError, EOFError, RuntimeError) as e:
            return [repr(e)]
        problems = []
        if not got or got[0] != (b"R", (0).to_bytes(4, "big")):
            problems.append(f"first message after TLS is {got[:1]}, expected AuthenticationOk")
        apps = [p.split(b"\0")[1].decode() for k, p in got if k == b"S" and p.startswith(b"application_name\0")]
        if apps != [app]:
            problems.append(f"application_name reported {apps}, expected [{app!r}]")
        if pg_row(got) != [db, app]:
            problems.append(f"session is {pg_row(got)}, expected [{db!r}, {app!r}]")
        return problems

    problems = checks(True, "postgres", "after-tls")
    problems += report_problems(front.report(), tls=True, injection=True)
    r.check("postgres: StartupMessage pipelined behind SSLRequest never reaches the backend "
            "(the real one after TLS gets its own session)", problems)
    problems = checks(False, "template1", "pipelined")
    problems += report_problems(front.report(), tls=True)
    r.check("postgres: control — the same StartupMessage sent after TLS does take effect", problems)

    c = PgRaw(front.port)
    problems = []
    try:
        c.send(PG_GSSENC_REQUEST)
        if (a := c.sock.recv(1)) != b"N":
            problems.append(f"GSSENCRequest answered {a!r}, expected N")
        c.send(PG_SSL_REQUEST)
        if (a := c.sock.recv(1)) != b"S":
            problems.append(f"SSLRequest after N answered {a!r}")
        else:
            c.starttls(ctx.tls_context())
            c.send(pg_startup(user="postgres", database="postgres"))
            if c.until((b"Z", b"E"))[-1][0] != b"Z":
                problems.append("no ReadyForQuery after TLS")
            c.send(PG_TERMINATE)
    except (OSError, EOFError) as e:
        problems.append(repr(e))
    finally:
        c.close()
    problems += report_problems(front.report(), tls=True)
    r.check("postgres: GSSENCRequest answered N, then SSLRequest → S and a session over TLS", problems)

    res = psql(front.port, "disable", "-c", "select 1")
    problems = [] if res.returncode == 0 and res.stdout.strip() == "1" else [
        f"psql sslmode=disable: exit {res.returncode}, {res.stdout!r} {res.stderr[-300:]!r}"]
    problems += report_problems(front.report(), tls=False, cleartext=True)
    r.check("postgres: a client that never sends SSLRequest is relayed in cleartext", problems)

    strict = ctx.front("postgres", backend, "--require-tls")
    res = psql(strict.port, "disable", "-c", "select 1")
    problems = [] if res.returncode != 0 and "TLS required" in res.stderr else [
        f"psql sslmode=disable with --require-tls: exit {res.returncode}, {res.stdout!r} {res.stderr!r}"]
    problems += report_problems(strict.report(), tls=False)
    res = psql(strict.port, "verify-full", "-c", "select 6*7")
    if res.returncode != 0 or res.stdout.strip() != "42":
        problems.append(f"psql verify-full with --require-tls: exit {res.returncode}, {res.stderr[-300:]!r}")
    problems += report_problems(strict.report(), tls=True)
    r.check("postgres --require-tls: a StartupMessage in cleartext gets FATAL 28000, SSLRequest then works", problems)


# ---- NNTP -----------------------------------------------------------------------------------

def nntp_cases(ctx):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Python 3.11 still ships it
        import nntplib
    r = ctx.runner
    backend = "nntp-notls"  # INN nnrpd without a working TLS (it lists STARTTLS, then says 580)
    front = ctx.front("nntp", backend)

    problems = []
    try:
        n = nntplib.NNTP("127.0.0.1", front.port, timeout=15)
        if "STARTTLS" not in n.getcapabilities():
            problems.append(f"CAPABILITIES through the front lack STARTTLS: {n.getcapabilities()}")
        n.host = FRONT_NAME  # the name nntplib checks the certificate against
        n.starttls(ctx.tls_context())
        if "STARTTLS" in n.getcapabilities():
            problems.append("CAPABILITIES after TLS still list STARTTLS (RFC 4642 §2.2.2)")
        resp, count, first, last, name = n.group("lab.test")
        if not resp.startswith("211") or name != "lab.test":
            problems.append(f"GROUP lab.test over TLS: {resp!r}")
        n.quit()
    except (nntplib.NNTPError, OSError, EOFError) as e:
        problems.append(f"nntplib: {e!r}")
    problems += report_problems(front.report(), tls=True)
    r.check("nntp: nntplib STARTTLS (lab CA verified), CAPABILITIES without STARTTLS and GROUP over TLS", problems)

    res = s_client(ctx, front.port, "nntp", "CAPABILITIES\nGROUP lab.test\nQUIT\n")
    problems = s_client_problems(res)
    if "211 0 1 0 lab.test" not in res.stdout or "205" not in res.stdout:
        problems.append(f"s_client: no GROUP/QUIT replies over TLS: {res.stdout[-300:]!r}")
    if "\nSTARTTLS" in res.stdout:
        problems.append("CAPABILITIES after TLS still list STARTTLS")
    problems += report_problems(front.report(), tls=True)
    r.check("nntp: openssl s_client -starttls nntp, CAPABILITIES and GROUP over TLS", problems)

    r.check("nntp: ostls probe --policy verify through the front", probe_problems(ctx, "nntp", front.port)
            + report_problems(front.report(), tls=True))

    # Injection: GROUP pipelined behind STARTTLS must not reach nnrpd, so LISTGROUP without an
    # argument after TLS gets "412 No group specified". Control: GROUP sent after TLS, then 211.
    def session(inject):
        c = Raw(front.port)
        try:
            c.line()
            c.send("STARTTLS\r\nGROUP lab.test\r\n" if inject else "STARTTLS\r\n")
            reply = c.line()
            if not reply.startswith("382"):
                return f"STARTTLS answered {reply!r}"
            c.starttls(ctx.tls_context())
            if not inject:
                c.send("GROUP lab.test\r\n")
                c.line()
            c.send("LISTGROUP\r\n")
            return c.line()
        finally:
            c.close()

    check_injection(
        ctx, front, session,
        injected=(lambda answer: answer.startswith("412"),
                  lambda answer: f"LISTGROUP after the injected GROUP got {answer!r}, expected 412",
                  "nntp: GROUP pipelined behind STARTTLS never reaches the backend (412 after TLS)"),
        control=(lambda answer: answer.startswith("211"),
                 lambda answer: f"control: LISTGROUP after GROUP got {answer!r}, expected 211",
                 "nntp: control — GROUP sent after TLS does reach the backend"))

    c = Raw(front.port)
    problems = []
    try:
        c.line()
        c.send("GROUP lab.test\r\n")
        answer = c.line()
        if not answer.startswith("211"):
            problems.append(f"GROUP in cleartext: {answer!r}")
        c.send("QUIT\r\n")
        c.line()
    finally:
        c.close()
    problems += report_problems(front.report(), tls=False, cleartext=True)
    r.check("nntp: a client that never sends STARTTLS is relayed in cleartext", problems)

    strict = ctx.front("nntp", backend, "--require-tls")
    c = Raw(strict.port)
    problems = []
    try:
        c.line()
        c.send("GROUP lab.test\r\n")
        answer = c.line()
        if not answer.startswith("483"):
            problems.append(f"GROUP before STARTTLS with --require-tls: {answer!r}, expected 483")
        c.send("STARTTLS\r\n")
        c.line()
        c.starttls(ctx.tls_context())
        c.send("GROUP lab.test\r\n")
        answer = c.line()
        if not answer.startswith("211"):
            problems.append(f"GROUP after STARTTLS: {answer!r}")
    except (OSError, ssl.SSLError, EOFError) as e:
        problems.append(f"--require-tls session: {e!r}")
    finally:
        c.close()
    problems += report_problems(strict.report(), tls=True)
    r.check("nntp --require-tls: 483 before STARTTLS, GROUP accepted after", problems)


# ---- FTP ------------------------------------------------------------------------------------

def ftp_cases(ctx):
    import ftplib
    r = ctx.runner
    backend = "ftp-plain"  # vsftpd without TLS, anonymous
    front = ctx.front("ftp", backend)

    # The front protects the control connection only: data connections are not proxied (the
    # client opens them to the backend itself, in cleartext), so PROT P is refused (536) and
    # PROT C accepted, both answered by the front since the backend knows neither.
    problems = []
    try:
        f = ftplib.FTP_TLS(context=ctx.tls_context(), timeout=15)
        f.connect("127.0.0.1", front.port)
        feat = f.sendcmd("FEAT")
        if "AUTH TLS" not in feat or "PBSZ" not in feat or "PROT" not in feat:
            problems.append(f"FEAT through the front lacks AUTH TLS/PBSZ/PROT: {feat!r}")
        f.host = FRONT_NAME  # the name ftplib checks the certificate against
        f.auth()
        try:
            f.prot_p()
            problems.append("PROT P accepted, but data connections are not protected")
        except ftplib.error_perm as e:
            if not str(e).startswith("536"):
                problems.append(f"PROT P: {e}, expected 536")
        f.prot_c()
        f.login()  # anonymous
        if f.pwd() != "/":
            problems.append(f"PWD over TLS: {f.pwd()!r}")
        names = f.nlst()
        if "README" not in names:
            problems.append(f"NLST (data connection to the backend) lacks README: {names}")
        f.quit()
    except (ftplib.Error, OSError, EOFError) as e:
        problems.append(f"ftplib: {e!r}")
    problems += report_problems(front.report(), tls=True)
    r.check("ftp: ftplib AUTH TLS (lab CA verified), PROT P refused, PROT C, login, PWD and NLST", problems)

    res = s_client(ctx, front.port, "ftp", "USER anonymous\nPWD\nQUIT\n")
    problems = s_client_problems(res)
    if '257 "/"' not in res.stdout or "221" not in res.stdout:
        problems.append(f"s_client: no PWD/QUIT replies over TLS: {res.stdout[-300:]!r}")
    problems += report_problems(front.report(), tls=True)
    r.check("ftp: openssl s_client -starttls ftp, USER, PWD and QUIT over TLS", problems)

    res = subprocess.run(["curl", "-sS", "-v", "--ftp-ssl-control", "--cacert", ctx.ca, "--resolve",
                          f"{FRONT_NAME}:{front.port}:127.0.0.1", f"ftp://{FRONT_NAME}:{front.port}/README"],
                         capture_output=True, text=True, timeout=30)
    problems = [] if res.returncode == 0 else [f"curl exit {res.returncode}: {res.stderr[-300:]!r}"]
    if "SSL connection using TLSv1" not in res.stderr or "< 200 Protection level set to Clear" not in res.stderr:
        problems.append(f"curl: no TLS control connection or PROT C: {res.stderr[-400:]!r}")
    if not res.stdout.strip():
        problems.append("curl retrieved nothing")
    problems += report_problems(front.report(), tls=True)
    r.check("ftp: curl --ftp-ssl-control (TLS control, clear data) retrieves README", problems)

    # ostls probe: TLS verified, then (as designed in ftp::Client) PROT P refused fails the
    # session: the data channel cannot be protected through this front.
    code, out, err, _ = r.probe("--policy", "verify", "--cafile", ctx.ca, "--servername", FRONT_NAME,
                                f"ftp://[127.0.0.1]:{front.port}")
    problems = []
    if code != 1 or len(out) != 1:
        problems.append(f"ostls probe: exit {code}, {len(out)} outcomes, stderr {err.strip()!r}")
    else:
        o = out[0]
        if o["protection"] != "authenticated" or o["trust"] != "Verified":
            problems.append(f"ostls probe: {o['protection']}/{o['trust']}, expected authenticated/Verified")
        if not (o.get("failure") or {}).get("detail", "").startswith("PROT P: 536"):
            problems.append(f"ostls probe: failure {o.get('failure')}, expected the PROT P refusal")
    problems += report_problems(front.report(), tls=True)
    r.check("ftp: ostls probe --policy verify through the front: Verified, then fails on PROT P (536)", problems)

    # Injection: USER pipelined behind AUTH TLS must not reach vsftpd, so PASS after TLS gets
    # "503 Login with USER first". Control: USER after TLS, then PASS is answered 230.
    def session(inject):
        c = Raw(front.port)
        try:
            c.line()
            c.send("AUTH TLS\r\nUSER anonymous\r\n" if inject else "AUTH TLS\r\n")
            reply = c.line()
            if not reply.startswith("234"):
                return f"AUTH TLS answered {reply!r}"
            c.starttls(ctx.tls_context())
            if not inject:
                c.send("USER anonymous\r\n")
                c.line()
            c.send("PASS x\r\n")
            return c.line()
        finally:
            c.close()

    check_injection(
        ctx, front, session,
        injected=(lambda answer: answer.startswith("503"),
                  lambda answer: f"PASS after the injected USER got {answer!r}, expected 503",
                  "ftp: USER pipelined behind AUTH TLS never reaches the backend (503 after TLS)"),
        control=(lambda answer: answer.startswith("230"),
                 lambda answer: f"control: PASS after USER got {answer!r}, expected 230",
                 "ftp: control — USER sent after TLS does reach the backend"))

    problems = []
    try:
        f = ftplib.FTP(timeout=15)
        f.connect("127.0.0.1", front.port)
        f.login()
        if f.pwd() != "/":
            problems.append(f"PWD in cleartext: {f.pwd()!r}")
        f.quit()
    except (ftplib.Error, OSError, EOFError) as e:
        problems.append(f"ftplib: {e!r}")
    problems += report_problems(front.report(), tls=False, cleartext=True)
    r.check("ftp: a client that never sends AUTH TLS is relayed in cleartext", problems)

    strict = ctx.front("ftp", backend, "--require-tls")
    problems = []
    try:
        f = ftplib.FTP_TLS(context=ctx.tls_context(), timeout=15)
        f.connect("127.0.0.1", strict.port)
        try:
            f.sendcmd("USER anonymous")
            problems.append("USER before AUTH TLS accepted with --require-tls")
        except ftplib.error_perm as e:
            if not str(e).startswith("530"):
                problems.append(f"USER before AUTH TLS with --require-tls: {e}, expected 530")
        f.host = FRONT_NAME
        f.login()  # AUTH TLS first, then USER/PASS
        if f.pwd() != "/":
            problems.append(f"PWD after AUTH TLS: {f.pwd()!r}")
        f.quit()
    except (ftplib.Error, OSError, EOFError) as e:
        problems.append(f"ftplib: {e!r}")
    problems += report_problems(strict.report(), tls=True)
    r.check("ftp --require-tls: 530 before AUTH TLS, login accepted after", problems)


# ---- IRC ------------------------------------------------------------------------------------

def irc_cases(ctx):
    r = ctx.runner
    # InspIRCd; it offers STARTTLS itself, but the front answers STARTTLS and never forwards it.
    backend = "irc"
    front = ctx.front("irc", backend)
    tag = str(os.getpid() % 10000)

    def command(line):
        parts = line.split()
        return (parts[1] if line.startswith(":") else parts[0]) if len(parts) > 1 else line

    def caps(lines):
        """The capabilities of a (possibly multi-line) CAP LS answer."""
        out = []
        for l in lines:
            if command(l) == "CAP" and " LS " in l:
                out += l.split(" :", 1)[1].split() if " :" in l else l.split()[-1:]
        return out

    def registered_or_refused(c):
        """The numeric that ends registration: 001 (welcome) or 451 (not registered)."""
        return command(c.until(lambda l: command(l) in ("001", "451", "ERROR"))[-1])

    # InspIRCd completes a registration a moment after USER, so QUIT waits for the welcome.
    proc = subprocess.Popen(
        ["openssl", "s_client", "-starttls", "irc", "-connect", f"127.0.0.1:{front.port}", "-CAfile", ctx.ca,
         "-servername", FRONT_NAME, "-verify_hostname", FRONT_NAME, "-verify_return_error", "-crlf", "-brief",
         "-ign_eof"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdin.write(f"NICK sc{tag}\nUSER sc{tag} 0 * :ostls\n")
    proc.stdin.flush()
    timer = threading.Timer(15, proc.kill)
    timer.start()
    welcome = ""
    for line in proc.stdout:
        if f" 001 sc{tag} " in line:
            welcome = line
            break
    proc.stdin.write("QUIT\n")
    proc.stdin.flush()
    out, err = proc.communicate(timeout=30)
    timer.cancel()
    res = subprocess.CompletedProcess(proc.args, proc.returncode, welcome + out, err)
    problems = s_client_problems(res)
    if not welcome:
        problems.append(f"s_client: no registration (001) over TLS: {res.stdout[-300:]!r}")
    problems += report_problems(front.report(), tls=True)
    r.check("irc: openssl s_client -starttls irc, then NICK/USER registration (001) over TLS", problems)

    # A full IRCv3 client dialogue: CAP LS 302 lists tls, STARTTLS, CAP LS again without tls,
    # registration ended by CAP END.
    c = Raw(front.port)
    problems = []
    try:
        c.send("CAP LS 302\r\n")
        ls = c.until(lambda l: command(l) == "CAP" and " LS * " not in l)
        if "tls" not in caps(ls):
            problems.append(f"CAP LS through the front lacks tls: {ls!r}")
        c.send("STARTTLS\r\n")
        reply = c.line()
        if command(reply) != "670" or not reply.startswith(":irc.lab.test "):
            problems.append(f"STARTTLS answered {reply!r}, expected 670 from irc.lab.test")
        c.starttls(ctx.tls_context())
        c.send("CAP LS 302\r\n")
        ls = c.until(lambda l: command(l) == "CAP" and " LS * " not in l)
        if "tls" in caps(ls):
            problems.append(f"CAP LS after TLS still lists tls: {ls!r}")
        c.send(f"NICK cap{tag}\r\nUSER cap{tag} 0 * :ostls\r\nCAP END\r\n")
        if registered_or_refused(c) != "001":
            problems.append("no registration (001) over TLS")
        c.send("QUIT\r\n")
    except (OSError, ssl.SSLError, EOFError) as e:
        problems.append(f"IRC session: {e!r}")
    finally:
        c.close()
    problems += report_problems(front.report(), tls=True)
    r.check("irc: CAP LS 302 lists tls, STARTTLS (lab CA verified), CAP LS without tls, registration over TLS",
            problems)

    r.check("irc: ostls probe --policy verify through the front", probe_problems(ctx, "irc", front.port)
            + report_problems(front.report(), tls=True))

    # Injection: NICK pipelined behind STARTTLS must not reach InspIRCd, so USER after TLS does
    # not complete the registration: no welcome comes (InspIRCd completes one within
    # milliseconds), and a NICK sent now completes it under that new nick. Control: NICK sent
    # after TLS does register (001 for that nick).
    def session(inject, nick):
        c = Raw(front.port)
        try:
            c.send(f"STARTTLS\r\nNICK evil{tag}\r\n" if inject else "STARTTLS\r\n")
            reply = c.line()
            if command(reply) != "670":
                return f"STARTTLS answered {reply!r}"
            c.starttls(ctx.tls_context())
            c.send(("" if inject else f"NICK {nick}\r\n") + f"USER {nick} 0 * :ostls\r\n")
            c.sock.settimeout(3)
            try:
                early = c.until(lambda l: command(l) in ("001", "ERROR"))[-1]
            except (TimeoutError, socket.timeout):
                early = "no welcome"
            c.sock.settimeout(10)
            if inject and early == "no welcome":
                c.send(f"NICK {nick}\r\n")
                early = "after NICK: " + c.until(lambda l: command(l) in ("001", "ERROR"))[-1]
            return early
        finally:
            c.close()

    answer = session(True, f"inj{tag}")
    problems = [] if answer.startswith(f"after NICK: :irc.lab.test 001 inj{tag} ") else [
        f"after the injected NICK, USER got {answer!r}: expected no welcome until NICK inj{tag} after TLS"]
    problems += report_problems(front.report(), tls=True, injection=True)
    r.check("irc: NICK pipelined behind STARTTLS never reaches the backend (USER alone does not register)", problems)
    answer = session(False, f"ctl{tag}")
    problems = [] if f" 001 ctl{tag} " in answer else [f"control: NICK and USER after TLS got {answer!r}, expected 001"]
    problems += report_problems(front.report(), tls=True)
    r.check("irc: control — NICK sent after TLS does reach the backend (001)", problems)

    c = Raw(front.port)
    problems = []
    try:
        c.send(f"NICK pl{tag}\r\nUSER pl{tag} 0 * :ostls\r\n")
        if registered_or_refused(c) != "001":
            problems.append("no registration in cleartext")
        c.send("QUIT\r\n")
    except (OSError, EOFError) as e:
        problems.append(f"cleartext session: {e!r}")
    finally:
        c.close()
    problems += report_problems(front.report(), tls=False, cleartext=True)
    r.check("irc: a client that never sends STARTTLS is relayed in cleartext", problems)

    strict = ctx.front("irc", backend, "--require-tls")
    c = Raw(strict.port)
    problems = []
    try:
        c.send(f"NICK st{tag}\r\n")
        answer = c.line()
        if answer != "ERROR :Closing link: STARTTLS is required":
            problems.append(f"NICK before STARTTLS with --require-tls: {answer!r}")
        try:
            more = c.line()
            problems.append(f"the link stayed open after ERROR: {more!r}")
        except (EOFError, OSError):
            pass
    finally:
        c.close()
    problems += report_problems(strict.report(), tls=False)
    c = Raw(strict.port)
    try:
        c.send("STARTTLS\r\n")
        c.line()
        c.starttls(ctx.tls_context())
        c.send(f"NICK st{tag}\r\nUSER st{tag} 0 * :ostls\r\n")
        if registered_or_refused(c) != "001":
            problems.append("no registration after STARTTLS with --require-tls")
        c.send("QUIT\r\n")
    except (OSError, ssl.SSLError, EOFError) as e:
        problems.append(f"--require-tls session: {e!r}")
    finally:
        c.close()
    problems += report_problems(strict.report(), tls=True)
    r.check("irc --require-tls: NICK before STARTTLS closes the link (ERROR), registration works after", problems)


CASES = [smtp_cases, imap_cases, pop3_cases, sieve_cases, xmpp_cases, ldap_cases, postgres_cases, nntp_cases, ftp_cases, irc_cases]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--serve", required=True, help="the ostls_serve_lab binary")
    ap.add_argument("--ostls", required=True, help="the ostls binary")
    ap.add_argument("--only", help="run only the cases of this protocol (smtp, imap, …)")
    args = ap.parse_args()
    ctx = Context(args)
    try:
        for cases in CASES:
            if args.only and not cases.__name__.startswith(args.only):
                continue
            try:
                cases(ctx)
            except Exception as e:  # a crashed case group is a failure, never a skip
                ctx.runner.check(f"{cases.__name__}: crashed", [repr(e)])
    finally:
        ctx.close()
    return ctx.runner.summary()


if __name__ == "__main__":
    sys.exit(main())
