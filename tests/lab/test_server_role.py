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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from labtest import Runner  # noqa: E402

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
        self.cert, self.key = self._make_cert()
        self.runner = Runner(args.ostls)
        self.fronts = []

    def next_port(self):
        self._next += 1
        return self._next

    def _make_cert(self):
        """A leaf for front.lab.test issued by the lab CA (key next to ca.pem)."""
        d = Path(self.tmp.name)
        ca_key = str(Path(self.ca).with_name("ca.key"))
        subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-keyout", d / "front.key", "-out", d / "front.csr", "-subj", f"/CN={FRONT_NAME}"],
                       check=True, capture_output=True)
        (d / "ext").write_text(f"subjectAltName=DNS:{FRONT_NAME}\nextendedKeyUsage=serverAuth\n")
        subprocess.run(["openssl", "x509", "-req", "-in", d / "front.csr", "-CA", self.ca, "-CAkey", ca_key,
                        "-CAcreateserial", "-days", "2", "-extfile", d / "ext", "-out", d / "front.pem"],
                       check=True, capture_output=True)
        chain = d / "front.chain.pem"
        chain.write_text((d / "front.pem").read_text() + Path(self.ca).read_text())
        return str(chain), str(d / "front.key")

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


class Raw:
    """A hand-driven client socket: exact bytes in one write, then TLS on the same socket."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
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


def probe_problems(ctx, scheme, port):
    """ostls probe at `verify` through the front: authenticated by PKIX, certificate for the front."""
    code, out, err, _ = ctx.runner.probe("--policy", "verify", "--cafile", ctx.ca, "--servername", FRONT_NAME,
                                         f"{scheme}://[127.0.0.1]:{port}")
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

    res = subprocess.run(["curl", "-sS", "-v", "--ssl-reqd", "--cacert", ctx.ca, "--resolve",
                          f"{FRONT_NAME}:{front.port}:127.0.0.1", f"smtp://{FRONT_NAME}:{front.port}/client.lab.test",
                          "-X", "NOOP"], capture_output=True, text=True, timeout=30)
    problems = [] if res.returncode == 0 else [f"curl exit {res.returncode}: {res.stderr[-300:]!r}"]
    if "SSL connection using TLSv1" not in res.stderr:
        problems.append("curl did not report a TLS connection")
    problems += report_problems(front.report(), tls=True)
    r.check("smtp: curl --ssl-reqd runs NOOP over STARTTLS", problems)

    r.check("smtp: ostls probe --policy verify through the front", probe_problems(ctx, "smtp", front.port)
            + report_problems(front.report(), tls=True))

    # Injection: MAIL FROM pipelined behind STARTTLS must not reach Postfix, so RCPT after TLS
    # gets "503 need MAIL command". Control: MAIL sent after TLS makes RCPT get past that.
    def session(inject):
        c = Raw(front.port)
        try:
            c.until(lambda l: l[3:4] == " ")
            c.send("EHLO client.lab.test\r\n")
            c.until(lambda l: l[3:4] == " ")
            c.send("STARTTLS\r\nMAIL FROM:<evil@lab.test>\r\n" if inject else "STARTTLS\r\n")
            reply = c.line()
            if not reply.startswith("220"):
                return f"STARTTLS answered {reply!r}"
            c.starttls(ctx.tls_context())
            c.send("EHLO client.lab.test\r\n")
            c.until(lambda l: l[3:4] == " ")
            if not inject:
                c.send("MAIL FROM:<good@lab.test>\r\n")
                c.line()
            c.send("RCPT TO:<alice@lab.test>\r\n")
            return c.line()
        finally:
            c.close()

    answer = session(inject=True)
    problems = [] if answer.startswith("503") else [f"RCPT after the injected MAIL got {answer!r}, expected 503"]
    problems += report_problems(front.report(), tls=True, injection=True)
    r.check("smtp: MAIL FROM pipelined behind STARTTLS never reaches the backend (503 after TLS)", problems)
    answer = session(inject=False)
    problems = [] if not answer.startswith("503") else [f"control: RCPT after MAIL got {answer!r}"]
    problems += report_problems(front.report(), tls=True)
    r.check("smtp: control — MAIL FROM sent after TLS does reach the backend", problems)

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

    def session(inject):
        c = Raw(front.port)
        try:
            c.line()
            c.send("a STARTTLS\r\nb LOGIN alice secret\r\n" if inject else "a STARTTLS\r\n")
            reply = c.until(lambda l: l.startswith("a "))[-1]
            if not reply.startswith("a OK"):
                return f"STARTTLS answered {reply!r}"
            c.starttls(ctx.tls_context())
            if not inject:
                c.send("b LOGIN alice secret\r\n")
                c.until(lambda l: l.startswith("b "))
            c.send("c SELECT INBOX\r\n")
            return c.until(lambda l: l.startswith("c "))[-1]
        finally:
            c.close()

    answer = session(inject=True)
    problems = [] if not answer.startswith("c OK") else [f"SELECT after the injected LOGIN got {answer!r}"]
    problems += report_problems(front.report(), tls=True, injection=True)
    r.check("imap: LOGIN pipelined behind STARTTLS never reaches the backend (SELECT refused after TLS)", problems)
    answer = session(inject=False)
    problems = [] if answer.startswith("c OK") else [f"control: SELECT after LOGIN got {answer!r}"]
    problems += report_problems(front.report(), tls=True)
    r.check("imap: control — LOGIN sent after TLS does reach the backend", problems)

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

    def session(inject):
        c = Raw(front.port)
        try:
            c.line()
            c.send("STLS\r\nUSER alice\r\n" if inject else "STLS\r\n")
            reply = c.line()
            if not reply.startswith("+OK"):
                return f"STLS answered {reply!r}"
            c.starttls(ctx.tls_context())
            if not inject:
                c.send("USER alice\r\n")
                c.line()
            c.send("PASS secret\r\n")
            return c.line()
        finally:
            c.close()

    answer = session(inject=True)
    problems = [] if answer.startswith("-ERR") else [f"PASS after the injected USER got {answer!r}, expected -ERR"]
    problems += report_problems(front.report(), tls=True, injection=True)
    r.check("pop3: USER pipelined behind STLS never reaches the backend (PASS refused after TLS)", problems)
    answer = session(inject=False)
    problems = [] if answer.startswith("+OK") else [f"control: PASS after USER got {answer!r}"]
    problems += report_problems(front.report(), tls=True)
    r.check("pop3: control — USER sent after TLS does reach the backend", problems)


CASES = [smtp_cases, imap_cases, pop3_cases]


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
