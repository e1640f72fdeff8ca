#!/usr/bin/env python3
"""Checks that every lab peer really behaves as documented (python3 stdlib only).

    lab/selftest.py [--lab-json PATH] [--no-posttls-finger]

Reads $OSTLS_LAB_DIR/lab.json (default /tmp/ostls-lab/lab.json) of a running lab and tests
each peer at the wire level: what the EHLO reply (IMAP CAPABILITY, POP3 CAPA, ManageSieve
capabilities, FTP FEAT, IRC CAP LS, NNTP CAPABILITIES, LDAP root DSE, XMPP stream features)
advertises, what STARTTLS (STLS, AUTH TLS, SSLRequest, the LDAP StartTLS operation, XMPP
<starttls/>) gets, whether the
handshake succeeds and with which certificate (SHA-256 of the DER certificate and of the
SPKI compared with lab.json), what the man-in-the-middle peers change, that the Dovecot
peers let alice/secret log in, that each daemon's session goes on after TLS, what
posttls-finger reports at may and verify, and the MTA-STS cases of mta-sts.json (every policy
fetched with curl: status, Content-Type, size, redirect, certificate, dead port; the DNS
records with unbound-host; lab/nginx/mtasts.py). This tests the lab, not ostls.
Ends with the line "N passed, N failed"; exit status 1 if anything failed.
"""
import argparse
import hashlib
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import threading
import time
import warnings

warnings.filterwarnings("ignore", category=DeprecationWarning)  # TLS 1.0/1.1 on purpose

HERE = os.path.dirname(os.path.abspath(__file__))
results = []


def check(name, cond, detail=""):
    results.append(bool(cond))
    print(f"{'ok  ' if cond else 'FAIL'} {name}{': ' + detail if detail and not cond else ''}")
    return cond


class Conn:
    """Line-oriented SMTP client over a plain or TLS socket, never reading past a reply."""

    def __init__(self, port, timeout=5.0, wrap=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        if wrap:
            self.sock = wrap(self.sock)
        self.buf = b""

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("connection closed")
        self.buf += data

    def line(self):
        while b"\n" not in self.buf:
            self._fill()
        line, _, self.buf = self.buf.partition(b"\n")
        return line + b"\n"

    def reply(self):
        lines = []
        while True:
            line = self.line()
            lines.append(line)
            if len(line) < 4 or line[3:4] != b"-":
                return lines

    def cmd(self, text):
        self.sock.sendall(text.encode() + b"\r\n")
        return self.reply()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def text(lines):
    return b"".join(lines).decode("ascii", "replace")


def keywords(lines):
    return [l[4:].strip().split(b" ")[0].decode().upper() for l in lines[1:]]


def client_ctx(ca=None, verify=False, min_tls=None, max_tls=None, ciphers=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = verify
    ctx.verify_mode = ssl.CERT_REQUIRED if verify else ssl.CERT_NONE
    if ca:
        ctx.load_verify_locations(ca)
    if min_tls:
        ctx.minimum_version = min_tls
    if max_tls:
        ctx.maximum_version = max_tls
    if ciphers:
        ctx.set_ciphers(ciphers)
    return ctx


def fingerprints(tls_sock):
    der = tls_sock.getpeercert(binary_form=True)
    cert = hashlib.sha256(der).hexdigest()
    # SPKI via the openssl CLI (the ssl module does not expose it)
    pem = ssl.DER_cert_to_PEM_cert(der).encode()
    pub = subprocess.run(["openssl", "x509", "-noout", "-pubkey"], input=pem,
                         capture_output=True, check=True).stdout
    spki_der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub,
                              capture_output=True, check=True).stdout
    return cert, hashlib.sha256(spki_der).hexdigest()


def port_of(peer):
    return int(re.search(r":(\d+)$", peer["target"]).group(1))


def starttls_session(peer, ctx, ehlo_after=True):
    """Greeting, EHLO, STARTTLS, handshake, EHLO. Returns dict of what happened."""
    out = {}
    c = Conn(port_of(peer))
    try:
        out["greeting"] = c.reply()
        out["ehlo1"] = c.cmd("EHLO selftest.lab.test")
        r = out["starttls"] = c.cmd("STARTTLS")
        if not r[0].startswith(b"220"):
            return out
        out["after220"] = c.buf  # must be empty: nothing may come before our ClientHello
        c.buf = b""
        tls = c.sock = ctx.wrap_socket(c.sock, server_hostname=peer["servername"])
        out["version"] = tls.version()
        out["cipher"] = tls.cipher()[0]
        out["fp"] = fingerprints(tls)
        if ehlo_after:
            out["ehlo2"] = c.cmd("EHLO selftest.lab.test")
        c.cmd("QUIT")
    except (ssl.SSLError, OSError, EOFError) as e:
        out["error"] = f"{type(e).__name__}: {e}"
    finally:
        c.close()
    return out


def test_fp(name, peer, got):
    check(f"{name}: certificate SHA-256 as in lab.json",
          got.get("fp", (None,))[0] == peer["cert_sha256"], str(got.get("fp")))
    check(f"{name}: SPKI SHA-256 as in lab.json",
          got.get("fp", (None, None))[1] == peer["spki_sha256"], str(got.get("fp")))


DOVECOT_PEERS = ("imap", "imap-plain", "imaps", "pop3", "pop3-plain", "pop3s")


def mail_session(peer, ctx=None, starttls=False):
    """One IMAP or POP3 session: greeting, capabilities, [STARTTLS/STLS + handshake,
    capabilities again], login as alice/secret, and the message count of INBOX. The target's
    scheme (imaps, pop3s) selects implicit TLS. Never sends before the greeting."""
    scheme = peer["target"].split(":", 1)[0]
    imap = peer["protocol"] == "imap"
    out = {}
    wrap = None
    if scheme in ("imaps", "pop3s"):
        wrap = lambda s: ctx.wrap_socket(s, server_hostname=peer["servername"])
    tags = iter(f"t{i}" for i in range(1, 100))

    def imap_cmd(c, text):
        tag = next(tags)
        c.sock.sendall(f"{tag} {text}\r\n".encode())
        lines = []
        while True:
            lines.append(c.line())
            if lines[-1].startswith(tag.encode() + b" "):
                return lines

    def pop_cmd(c, text, multi=False):
        c.sock.sendall(text.encode() + b"\r\n")
        lines = [c.line()]
        while multi and lines[0].startswith(b"+OK") and lines[-1] != b".\r\n":
            lines.append(c.line())
        return lines

    def caps(c):
        if imap:
            r = imap_cmd(c, "CAPABILITY")
            return [w.upper() for l in r if l.startswith(b"* CAPABILITY ")
                    for w in l.decode().split()[2:]], r
        r = pop_cmd(c, "CAPA", multi=True)
        return [l.decode().split(" ")[0].strip().upper() for l in r[1:-1]], r

    c = None
    try:
        c = Conn(port_of(peer), wrap=wrap)
        if wrap:
            out["version"] = c.sock.version()
            out["fp"] = fingerprints(c.sock)
        out["greeting"] = c.line()
        out["caps1"], _ = caps(c)
        if starttls:
            r = out["starttls"] = (imap_cmd(c, "STARTTLS")[-1] if imap else pop_cmd(c, "STLS")[0])
            if not (r.split(b" ")[1:2] == [b"OK"] if imap else r.startswith(b"+OK")):
                return out
            out["after_ok"] = c.buf  # nothing may come before our ClientHello
            c.buf = b""
            c.sock = ctx.wrap_socket(c.sock, server_hostname=peer["servername"])
            out["version"] = c.sock.version()
            out["fp"] = fingerprints(c.sock)
            out["caps2"], _ = caps(c)
        if imap:
            out["login"] = imap_cmd(c, "LOGIN alice secret")[-1]
            r = imap_cmd(c, "SELECT INBOX")
            out["count"] = next((int(l.split()[1]) for l in r if l.endswith(b" EXISTS\r\n")), None)
            imap_cmd(c, "LOGOUT")
        else:
            pop_cmd(c, "USER alice")
            out["login"] = pop_cmd(c, "PASS secret")[0]
            r = pop_cmd(c, "STAT")[0]
            out["count"] = int(r.split()[1]) if r.startswith(b"+OK") else None
            pop_cmd(c, "QUIT")
    except (ssl.SSLError, OSError, EOFError, ValueError) as e:
        out["error"] = f"{type(e).__name__}: {e}"
    finally:
        if c:
            c.close()
    return out


def test_dovecot(peers, anyctx, verifying):
    for name in DOVECOT_PEERS:
        p = peers[name]
        imap = p["protocol"] == "imap"
        kw = "STARTTLS" if imap else "STLS"
        implicit = p["target"].startswith(("imaps:", "pop3s:"))
        plain = p["cert_sha256"] is None
        ok_greeting = (b"* OK [CAPABILITY " if imap else b"+OK ")
        if implicit:
            got = mail_session(p, verifying())
            check(f"{name}: implicit TLS 1.3, verified with the lab CA for {p['servername']}",
                  got.get("version") == "TLSv1.3", str(got))
        elif plain:
            got = mail_session(p)
            check(f"{name}: no {kw} advertised",
                  "caps1" in got and kw not in got["caps1"], str(got))
        else:
            got = mail_session(p, verifying(), starttls=True)
            check(f"{name}: {kw} advertised" + (", no LOGINDISABLED" if imap else ""),
                  kw in got.get("caps1", []) and "LOGINDISABLED" not in got.get("caps1", []),
                  str(got))
            check(f"{name}: {kw} accepted, nothing before the ClientHello",
                  got.get("after_ok") == b"", str(got))
            check(f"{name}: TLS 1.3 after {kw}, verified with the lab CA for {p['servername']}",
                  got.get("version") == "TLSv1.3", str(got))
            check(f"{name}: no {kw} after TLS",
                  "caps2" in got and kw not in got["caps2"], str(got.get("caps2")))
        check(f"{name}: greeting {ok_greeting.decode().strip()} …",
              got.get("greeting", b"").startswith(ok_greeting), str(got.get("greeting")))
        if not plain:
            test_fp(name, p, got)
        login = got.get("login", b"")
        logged_in = login.split(b" ")[1:2] == [b"OK"] if imap else login.startswith(b"+OK")
        check(f"{name}: login alice/secret, INBOX has 1 message",
              logged_in and got.get("count") == 1, str(got))

    # TLS refused where it is not offered; the certificate's second name; a wrong name.
    for name, cmd, want in (("imap-plain", b"t1 STARTTLS\r\n", b"t1 BAD "),
                            ("pop3-plain", b"STLS\r\n", b"-ERR ")):
        c = Conn(port_of(peers[name]))
        try:
            c.line()
            c.sock.sendall(cmd)
            r = c.line()
        except (OSError, EOFError) as e:
            r = str(e).encode()
        c.close()
        check(f"{name}: {cmd.decode().split()[-1]} sent anyway is refused ({want.decode().split()[-1]})",
              r.startswith(want), repr(r))
    got = mail_session(dict(peers["imap"], servername="wrong.lab.test"), verifying(),
                       starttls=True)
    check("imap: verification for wrong.lab.test fails (hostname mismatch)",
          "mismatch" in got.get("error", ""), str(got.get("error")))
    got = mail_session(dict(peers["pop3s"], servername="imap.lab.test"), verifying())
    check("pop3s: the certificate is valid for imap.lab.test too",
          got.get("version") == "TLSv1.3", str(got.get("error")))


# --- the other daemons: PostgreSQL, slapd, vsftpd, ManageSieve, InspIRCd, INN -------------

SERVICE_PEERS = ("postgres", "postgres-plain", "ldap", "ldaps", "ldap-plain", "ftp", "ftp-plain",
                 "ftps", "sieve", "sieve-plain", "irc", "ircs", "nntp", "nntp-notls", "nntps")


def tls_facts(c, peer, ctx):
    """Handshake on Conn c (its buffer must be empty), verified for the peer's servername."""
    c.sock = ctx.wrap_socket(c.sock, server_hostname=peer["servername"])
    return {"version": c.sock.version(), "fp": fingerprints(c.sock)}


def implicit(peer, ctx):
    c = Conn(port_of(peer), wrap=lambda s: ctx.wrap_socket(s, server_hostname=peer["servername"]))
    return c, {"version": c.sock.version(), "fp": fingerprints(c.sock)}


def check_tls(name, peer, got, how):
    check(f"{name}: TLS 1.3 {how}, verified with the lab CA for {peer['servername']}",
          got.get("version") == "TLSv1.3", str(got))
    test_fp(name, peer, got)


def session(name, fn):
    """Run one dialogue; an exception is a failed check, not a crash."""
    try:
        fn()
    except (ssl.SSLError, OSError, EOFError, ValueError, IndexError) as e:
        check(f"{name}: dialogue completes", False, f"{type(e).__name__}: {e}")


# PostgreSQL: SSLRequest (RFC-less, protocol 3.0 docs), StartupMessage, AuthenticationOk.
PG_SSLREQUEST = bytes([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])


def pg_startup(c):
    body = (b"\x00\x03\x00\x00" + b"user\x00postgres\x00database\x00postgres\x00\x00")
    c.sock.sendall(len(body + b"1234").to_bytes(4, "big") + body)
    while len(c.buf) < 9:
        c._fill()
    return c.buf[:1] == b"R" and c.buf[5:9] == b"\x00\x00\x00\x00"  # AuthenticationOk (trust)


def test_postgres(peers, verifying):
    p = peers["postgres"]

    def tls():
        c = Conn(port_of(p))
        c.sock.sendall(PG_SSLREQUEST)
        c._fill()
        check("postgres: SSLRequest answered 'S', nothing after it", c.buf == b"S", repr(c.buf))
        c.buf = b""
        check_tls("postgres", p, tls_facts(c, p, verifying()), "after SSLRequest")
        check("postgres: startup over TLS, AuthenticationOk (trust)", pg_startup(c), repr(c.buf))
        c.close()
    session("postgres", tls)

    def plain():
        c = Conn(port_of(peers["postgres-plain"]))
        c.sock.sendall(PG_SSLREQUEST)
        c._fill()
        check("postgres-plain: SSLRequest answered 'N'", c.buf == b"N", repr(c.buf))
        c.buf = b""
        check("postgres-plain: startup in cleartext after 'N', AuthenticationOk",
              pg_startup(c), repr(c.buf))
        c.close()
    session("postgres-plain", plain)


# LDAP (RFC 4511): hand-made BER for the StartTLS extended request and a root DSE search.
STARTTLS_OID = b"1.3.6.1.4.1.1466.20037"


def ber(tag, body):
    n = len(body)
    size = bytes([n]) if n < 128 else bytes([0x80 | ((n.bit_length() + 7) // 8)]) + \
        n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag]) + size + body


def ldap_msg(msgid, op):
    return ber(0x30, ber(0x02, bytes([msgid])) + op)


def ldap_starttls_request(msgid):
    return ldap_msg(msgid, ber(0x77, ber(0x80, STARTTLS_OID)))


def ldap_rootdse_request(msgid):
    # baseObject "", scope base, derefAliases never, no limits, (objectClass=*), supportedExtension
    op = (ber(0x04, b"") + ber(0x0a, b"\x00") + ber(0x0a, b"\x00") + ber(0x02, b"\x00") +
          ber(0x02, b"\x00") + ber(0x01, b"\x00") + ber(0x87, b"objectClass") +
          ber(0x30, ber(0x04, b"supportedExtension")))
    return ldap_msg(msgid, ber(0x63, op))


def ldap_read(c):
    """One LDAPMessage: (protocolOp tag, its body)."""
    def length(buf, i):
        n = buf[i]
        if n < 128:
            return n, i + 1
        k = n & 0x7f
        return int.from_bytes(buf[i + 1:i + 1 + k], "big"), i + 1 + k
    while True:
        if len(c.buf) >= 2:
            n, i = length(c.buf, 1)
            if len(c.buf) >= i + n:
                msg, c.buf = c.buf[i:i + n], c.buf[i + n:]
                _, j = length(msg, 1)              # messageID INTEGER
                j += msg[1] if msg[1] < 128 else 0  # (small ids only)
                tag = msg[j]
                m, k = length(msg, j + 1)
                return tag, msg[k:k + m]
        c._fill()


def ldap_result_code(body):
    return body[2] if body[:2] == b"\x0a\x01" else None  # resultCode ENUMERATED


def ldap_rootdse(c, msgid):
    """supportedExtension values (raw bytes of the entry) and the resultCode of the search."""
    c.sock.sendall(ldap_rootdse_request(msgid))
    entry = b""
    while True:
        tag, body = ldap_read(c)
        if tag == 0x64:
            entry += body
        elif tag == 0x65:
            return entry, ldap_result_code(body)


def test_ldap(peers, verifying):
    p = peers["ldap"]

    def starttls():
        # (StartTLS first, on a connection of its own: right after another operation slapd
        # may answer it resultCode 1 "cannot start TLS when operations are outstanding".)
        c = Conn(port_of(p))
        entry, rc = ldap_rootdse(c, 1)
        check("ldap: root DSE lists the StartTLS extended operation",
              rc == 0 and STARTTLS_OID in entry, f"rc={rc} {entry!r}")
        c.close()
        c = Conn(port_of(p))
        c.sock.sendall(ldap_starttls_request(2))
        tag, body = ldap_read(c)
        check("ldap: StartTLS answered success (ExtendedResponse resultCode 0), nothing after it",
              tag == 0x78 and ldap_result_code(body) == 0 and c.buf == b"",
              f"tag={tag:#x} {body!r} {c.buf!r}")
        check_tls("ldap", p, tls_facts(c, p, verifying()), "after StartTLS")
        _, rc = ldap_rootdse(c, 3)
        check("ldap: root DSE search over TLS succeeds", rc == 0, f"rc={rc}")
        c.close()
    session("ldap", starttls)

    def ldaps():
        c, got = implicit(peers["ldaps"], verifying())
        check_tls("ldaps", peers["ldaps"], got, "(implicit)")
        _, rc = ldap_rootdse(c, 1)
        check("ldaps: root DSE search succeeds", rc == 0, f"rc={rc}")
        c.close()
    session("ldaps", ldaps)

    def plain():
        c = Conn(port_of(peers["ldap-plain"]))
        entry, rc = ldap_rootdse(c, 1)
        check("ldap-plain: root DSE does not list StartTLS",
              rc == 0 and STARTTLS_OID not in entry, f"rc={rc} {entry!r}")
        c.close()
        c = Conn(port_of(peers["ldap-plain"]))
        c.sock.sendall(ldap_starttls_request(2))
        tag, body = ldap_read(c)
        check("ldap-plain: StartTLS answered resultCode 2 (protocolError)",
              tag == 0x78 and ldap_result_code(body) == 2, f"tag={tag:#x} {body!r}")
        _, rc = ldap_rootdse(c, 3)
        check("ldap-plain: the session goes on in cleartext", rc == 0, f"rc={rc}")
        c.close()
    session("ldap-plain", plain)


# FTP (RFC 959, 2389 FEAT, 4217 AUTH TLS): replies "NNN-" … "NNN text".
def ftp_reply(c):
    lines = [c.line()]
    code = lines[0][:3]
    if lines[0][3:4] == b"-":
        while not (lines[-1][:3] == code and lines[-1][3:4] == b" "):
            lines.append(c.line())
    return lines


def ftp_cmd(c, text):
    c.sock.sendall(text.encode() + b"\r\n")
    return ftp_reply(c)


def ftp_feats(lines):
    return [l.decode().strip().upper() for l in lines[1:-1]]


def test_ftp(peers, verifying):
    p = peers["ftp"]

    def auth_tls():
        c = Conn(port_of(p))
        g = ftp_reply(c)
        check("ftp: greeting 220", g[0].startswith(b"220 "), text(g))
        check("ftp: FEAT lists AUTH TLS", "AUTH TLS" in ftp_feats(ftp_cmd(c, "FEAT")))
        r = ftp_cmd(c, "AUTH TLS")
        check("ftp: AUTH TLS answered 234, nothing after it", r[0].startswith(b"234 ") and
              c.buf == b"", f"{text(r)} {c.buf!r}")
        check_tls("ftp", p, tls_facts(c, p, verifying()), "after AUTH TLS")
        r = [ftp_cmd(c, "USER anonymous"), ftp_cmd(c, "PBSZ 0"), ftp_cmd(c, "PROT P")]
        check("ftp: anonymous login over TLS (230), PBSZ/PROT P (200)",
              [x[0][:3] for x in r] == [b"230", b"200", b"200"], str(r))
        ftp_cmd(c, "QUIT")
        c.close()
    session("ftp", auth_tls)

    def plain():
        c = Conn(port_of(peers["ftp-plain"]))
        ftp_reply(c)
        check("ftp-plain: FEAT lists no AUTH", not any(f.startswith("AUTH") for f in
                                                      ftp_feats(ftp_cmd(c, "FEAT"))))
        r = ftp_cmd(c, "AUTH TLS")
        check("ftp-plain: AUTH TLS sent anyway is refused (530)", r[0].startswith(b"530 "), text(r))
        r = ftp_cmd(c, "USER anonymous")
        check("ftp-plain: anonymous login in cleartext (230)", r[0].startswith(b"230 "), text(r))
        ftp_cmd(c, "QUIT")
        c.close()
    session("ftp-plain", plain)

    def ftps():
        c, got = implicit(peers["ftps"], verifying())
        check_tls("ftps", peers["ftps"], got, "(implicit)")
        g = ftp_reply(c)
        check("ftps: greeting 220 over TLS", g[0].startswith(b"220 "), text(g))
        c.close()
    session("ftps", ftps)


# ManageSieve (RFC 5804): capability lines '"NAME" ["value"]', then 'OK …'.
def sieve_caps(c):
    caps = []
    while True:
        l = c.line()
        if l.startswith((b"OK", b"NO", b"BYE")):
            return caps, l
        caps.append(l.decode().split('"')[1].upper())


def test_sieve(peers, verifying):
    import base64
    login = 'AUTHENTICATE "PLAIN" "%s"\r\n' % base64.b64encode(b"\0alice\0secret").decode()
    p = peers["sieve"]

    def starttls():
        c = Conn(port_of(p))
        caps, ok = sieve_caps(c)
        check("sieve: capabilities list STARTTLS", "STARTTLS" in caps and ok.startswith(b"OK"),
              f"{caps} {ok!r}")
        c.sock.sendall(b"STARTTLS\r\n")
        r = c.line()
        check("sieve: STARTTLS answered OK, nothing after it", r.startswith(b"OK") and
              c.buf == b"", f"{r!r} {c.buf!r}")
        check_tls("sieve", p, tls_facts(c, p, verifying()), "after STARTTLS")
        caps, ok = sieve_caps(c)
        check("sieve: capabilities re-sent after TLS, without STARTTLS",
              "STARTTLS" not in caps and "SASL" in caps and ok.startswith(b"OK"), f"{caps} {ok!r}")
        c.sock.sendall(login.encode())
        r = c.line()
        check("sieve: alice/secret logs in (AUTHENTICATE PLAIN)", r.startswith(b"OK"), repr(r))
        c.sock.sendall(b"LOGOUT\r\n")
        c.close()
    session("sieve", starttls)

    def plain():
        c = Conn(port_of(peers["sieve-plain"]))
        caps, ok = sieve_caps(c)
        check("sieve-plain: capabilities without STARTTLS",
              caps and "STARTTLS" not in caps and ok.startswith(b"OK"), f"{caps} {ok!r}")
        c.sock.sendall(b"STARTTLS\r\n")
        r = c.line()
        check("sieve-plain: STARTTLS sent anyway is refused (NO)", r.startswith(b"NO"), repr(r))
        c.sock.sendall(login.encode())
        r = c.line()
        check("sieve-plain: alice/secret logs in in cleartext", r.startswith(b"OK"), repr(r))
        c.close()
    session("sieve-plain", plain)


# IRC: IRCv3 CAP LS with "tls", STARTTLS -> 670 (no greeting before the client speaks).
def irc_until(c, pred):
    while True:
        l = c.line()
        if pred(l):
            return l


def irc_register(c, nick):
    c.sock.sendall(f"NICK {nick}\r\nUSER {nick} 0 * :ostls lab selftest\r\n".encode())
    return irc_until(c, lambda l: l.split(b" ")[1:2] in ([b"001"], [b"433"], [b"ERROR"]) or
                     l.startswith(b"ERROR"))


def test_irc(peers, verifying):
    p = peers["irc"]

    def starttls():
        c = Conn(port_of(p))
        c.sock.sendall(b"CAP LS 302\r\n")
        l = irc_until(c, lambda l: b" CAP " in l)
        caps = l.rsplit(b":", 1)[-1].split()
        check("irc: CAP LS lists tls", b"tls" in caps, repr(l))
        c.sock.sendall(b"STARTTLS\r\n")
        l = c.line()
        check("irc: STARTTLS answered 670, nothing after it", l.split(b" ")[1:2] == [b"670"] and
              c.buf == b"", f"{l!r} {c.buf!r}")
        check_tls("irc", p, tls_facts(c, p, verifying()), "after STARTTLS")
        c.sock.sendall(b"CAP END\r\n")
        l = irc_register(c, "labst1")
        check("irc: registration over TLS (001)", l.split(b" ")[1:2] == [b"001"], repr(l))
        c.sock.sendall(b"QUIT\r\n")
        c.close()
    session("irc", starttls)

    def ircs():
        c, got = implicit(peers["ircs"], verifying())
        check_tls("ircs", peers["ircs"], got, "(implicit)")
        l = irc_register(c, "labst2")
        check("ircs: registration (001)", l.split(b" ")[1:2] == [b"001"], repr(l))
        c.sock.sendall(b"QUIT\r\n")
        c.close()
    session("ircs", ircs)


# NNTP (RFC 3977, 4642): CAPABILITIES "101 …" … ".", STARTTLS -> 382.
def nntp_caps(c):
    c.sock.sendall(b"CAPABILITIES\r\n")
    first, caps = c.line(), []
    if first.startswith(b"101"):
        while (l := c.line()) != b".\r\n":
            caps.append(l.decode().split()[0].upper())
    return caps


def nntp_cmd(c, text):
    c.sock.sendall(text.encode() + b"\r\n")
    return c.line()


def test_nntp(peers, verifying):
    p = peers["nntp"]

    def starttls():
        c = Conn(port_of(p))
        g = c.line()
        check("nntp: greeting 201 (reading, no posting)", g.startswith(b"201 "), repr(g))
        check("nntp: CAPABILITIES lists STARTTLS", "STARTTLS" in nntp_caps(c))
        r = nntp_cmd(c, "STARTTLS")
        check("nntp: STARTTLS answered 382, nothing after it", r.startswith(b"382") and
              c.buf == b"", f"{r!r} {c.buf!r}")
        check_tls("nntp", p, tls_facts(c, p, verifying()), "after STARTTLS")
        caps = nntp_caps(c)
        check("nntp: no STARTTLS in CAPABILITIES after TLS", caps and "STARTTLS" not in caps,
              str(caps))
        r = nntp_cmd(c, "GROUP lab.test")
        check("nntp: GROUP lab.test over TLS (211)", r.startswith(b"211 "), repr(r))
        nntp_cmd(c, "QUIT")
        c.close()
    session("nntp", starttls)

    def notls():
        c = Conn(port_of(peers["nntp-notls"]))
        c.line()
        check("nntp-notls: CAPABILITIES still lists STARTTLS", "STARTTLS" in nntp_caps(c))
        r = nntp_cmd(c, "STARTTLS")
        check("nntp-notls: STARTTLS answered 580", r.startswith(b"580 "), repr(r))
        r = nntp_cmd(c, "GROUP lab.test")
        check("nntp-notls: the session goes on in cleartext (GROUP 211)", r.startswith(b"211 "),
              repr(r))
        nntp_cmd(c, "QUIT")
        c.close()
    session("nntp-notls", notls)

    def nntps():
        c, got = implicit(peers["nntps"], verifying())
        check_tls("nntps", peers["nntps"], got, "(implicit)")
        g = c.line()
        check("nntps: greeting 201 over TLS", g.startswith(b"201 "), repr(g))
        c.close()
    session("nntps", nntps)


# --- Prosody (XMPP): c2s and s2s with STARTTLS, c2s direct TLS, c2s without TLS -------------

XMPP_PEERS = ("xmpp", "xmpp-server", "xmpps", "xmpp-plain")


def xmpp_open(c, ns, to="xmpp.lab.test"):
    """Send a stream header, return the stream features element (raw bytes)."""
    c.sock.sendall(f"<?xml version='1.0'?><stream:stream to='{to}' version='1.0' "
                   f"xmlns='{ns}' xmlns:stream='http://etherx.jabber.org/streams'>".encode())
    return xmpp_until(c, b"</stream:features>")


def xmpp_until(c, end):
    while end not in c.buf:
        c._fill()
    out, _, c.buf = c.buf.partition(end)
    return out + end


def test_xmpp(peers, verifying):
    tls_ns = b"urn:ietf:params:xml:ns:xmpp-tls"

    def starttls(name, ns, required):
        p = peers[name]
        c = Conn(port_of(p))
        f = xmpp_open(c, ns)
        check(f"{name}: stream features offer <starttls/>", b"<starttls" in f and tls_ns in f,
              f.decode(errors="replace")[-300:])
        if required:
            check(f"{name}: <starttls> carries <required/>", b"<required" in f)
        c.sock.sendall(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        r = xmpp_until(c, b"/>")
        check(f"{name}: <starttls/> answered <proceed/>, nothing after it",
              b"<proceed" in r and c.buf == b"", f"{r!r} {c.buf!r}")
        check_tls(name, p, tls_facts(c, p, verifying()), "after STARTTLS")
        f = xmpp_open(c, ns)
        check(f"{name}: no <starttls/> in the features after TLS", b"<starttls" not in f and
              b"features" in f, f.decode(errors="replace")[-300:])
        c.close()
    session("xmpp", lambda: starttls("xmpp", "jabber:client", True))
    session("xmpp-server", lambda: starttls("xmpp-server", "jabber:server", False))

    def xmpps():
        p = peers["xmpps"]
        c, got = implicit(p, verifying())
        check_tls("xmpps", p, got, "(direct TLS)")
        f = xmpp_open(c, "jabber:client")
        check("xmpps: stream features over TLS without <starttls/>",
              b"<starttls" not in f and b"mechanisms" in f, f.decode(errors="replace")[-300:])
        c.close()
    session("xmpps", xmpps)

    def plain():
        c = Conn(port_of(peers["xmpp-plain"]))
        f = xmpp_open(c, "jabber:client")
        check("xmpp-plain: stream features without <starttls/>, SASL offered",
              b"<starttls" not in f and b"mechanisms" in f, f.decode(errors="replace")[-300:])
        c.sock.sendall(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        try:
            r = xmpp_until(c, b">")
        except (EOFError, OSError):
            r = b"(closed)"
        check("xmpp-plain: <starttls/> sent anyway gets no <proceed/>", b"<proceed" not in r,
              repr(r))
        c.close()
    session("xmpp-plain", plain)


def test_services(peers, verifying):
    test_postgres(peers, verifying)
    test_ldap(peers, verifying)
    test_ftp(peers, verifying)
    test_sieve(peers, verifying)
    test_irc(peers, verifying)
    test_nntp(peers, verifying)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    lab_dir = os.environ.get("OSTLS_LAB_DIR", "/tmp/ostls-lab")
    ap.add_argument("--lab-json", default=os.path.join(lab_dir, "lab.json"))
    ap.add_argument("--no-posttls-finger", action="store_true")
    args = ap.parse_args()
    with open(args.lab_json) as f:
        lab = json.load(f)
    ca = lab["ca_file"]
    peers = {p["name"]: p for p in lab["peers"]}
    anyctx = client_ctx()
    verifying = lambda: client_ctx(ca, verify=True)

    r = subprocess.run([sys.executable, os.path.join(HERE, "labdef.py"), "readme", "--check"],
                       capture_output=True, text=True)
    check("lab/README.md tables match lab/labdef.py", r.returncode == 0, r.stderr.strip())

    # --- Postfix peers ----------------------------------------------------------------
    p = peers["plain"]
    c = Conn(port_of(p))
    c.reply()
    e = c.cmd("EHLO selftest.lab.test")
    check("plain: EHLO without STARTTLS", "STARTTLS" not in keywords(e), text(e))
    r = [c.cmd("MAIL FROM:<a@lab.test>"), c.cmd("RCPT TO:<b@example.org>"), c.cmd("DATA")]
    c.sock.sendall(b"Subject: lab\r\n\r\nhello\r\n.\r\n")
    r.append(c.reply())
    check("plain: MAIL/RCPT/DATA accepted and discarded (smtp-sink behind smtpd)",
          [x[0][:3] for x in r] == [b"250", b"250", b"354", b"250"], str(r))
    c.cmd("QUIT")
    c.close()

    for name, verify_ok, err in (("selfsigned", False, "self-signed"),
                                 ("labca", True, None),
                                 ("expired", False, "expired"),
                                 ("submission", True, None)):
        p = peers[name]
        got = starttls_session(p, anyctx)
        check(f"{name}: STARTTLS advertised", "STARTTLS" in keywords(got.get("ehlo1", [])))
        check(f"{name}: handshake with TLS 1.3", got.get("version") == "TLSv1.3", str(got))
        test_fp(name, p, got)
        check(f"{name}: no STARTTLS after TLS",
              "STARTTLS" not in keywords(got.get("ehlo2", [b"x", b"250 STARTTLS"])))
        got = starttls_session(p, verifying())
        if verify_ok:
            check(f"{name}: PKIX verification with the lab CA and {p['servername']}",
                  "version" in got, got.get("error", ""))
        else:
            check(f"{name}: PKIX verification fails ({err})",
                  err in got.get("error", ""), str(got.get("error")))
    p = peers["labca"]
    got = starttls_session(dict(p, servername="wrong.lab.test"), verifying())
    check("labca: verification for wrong.lab.test fails (hostname mismatch)",
          "mismatch" in got.get("error", ""), str(got.get("error")))
    c = Conn(port_of(peers["submission"]))
    c.reply()
    c.cmd("EHLO selftest.lab.test")
    r = c.cmd("MAIL FROM:<a@lab.test>")
    check("submission: MAIL before STARTTLS refused (530)", r[0].startswith(b"530"), text(r))
    c.close()

    p = peers["brokentls"]
    for label, ctx in (("default client", anyctx),
                       ("TLS 1.0 client", client_ctx(min_tls=ssl.TLSVersion.TLSv1,
                                                     max_tls=ssl.TLSVersion.TLSv1,
                                                     ciphers="ALL:@SECLEVEL=0"))):
        got = starttls_session(p, ctx)
        check(f"brokentls: STARTTLS advertised and answered 220 ({label})",
              "STARTTLS" in keywords(got.get("ehlo1", [])) and
              got.get("starttls", [b""])[0].startswith(b"220"), str(got))
        check(f"brokentls: nothing sent between the 220 and the ClientHello ({label})",
              got.get("after220") == b"", repr(got.get("after220")))
        check(f"brokentls: handshake fails ({label})", "error" in got and "version" not in got,
              str(got))

    p = peers["legacy"]
    for label, ctx, ok in (
            ("TLS 1.0 AES128-SHA @SECLEVEL=0",
             client_ctx(min_tls=ssl.TLSVersion.TLSv1, max_tls=ssl.TLSVersion.TLSv1,
                        ciphers="AES128-SHA:@SECLEVEL=0"), "TLSv1"),
            ("TLS 1.1 AES256-SHA @SECLEVEL=0",
             client_ctx(min_tls=ssl.TLSVersion.TLSv1_1, max_tls=ssl.TLSVersion.TLSv1_1,
                        ciphers="AES256-SHA:@SECLEVEL=0"), "TLSv1.1"),
            ("TLS 1.2+ client", client_ctx(min_tls=ssl.TLSVersion.TLSv1_2), None),
            ("TLS 1.0 ECDHE/DHE only",
             client_ctx(min_tls=ssl.TLSVersion.TLSv1, max_tls=ssl.TLSVersion.TLSv1_1,
                        ciphers="ECDHE:DHE:@SECLEVEL=0"), None)):
        got = starttls_session(p, ctx)
        if ok:
            check(f"legacy: {label} succeeds", got.get("version") == ok, str(got))
            if "fp" in got:
                test_fp("legacy", p, got)
        else:
            check(f"legacy: {label} fails", "version" not in got, str(got))

    p = peers["smtps"]
    try:
        c = Conn(port_of(p), wrap=lambda s: verifying().wrap_socket(
            s, server_hostname=p["servername"]))
        g = c.reply()
        check("smtps: implicit TLS, verified, greeting 220", g[0].startswith(b"220"), text(g))
        test_fp("smtps", p, {"fp": fingerprints(c.sock)})
        c.close()
    except (ssl.SSLError, OSError, EOFError) as e:
        check("smtps: implicit TLS handshake", False, str(e))

    # --- man-in-the-middle peers --------------------------------------------------------
    p = peers["strip"]
    got = starttls_session(p, anyctx)
    e = got.get("ehlo1", [])
    check("strip: STARTTLS removed from EHLO", e and "STARTTLS" not in keywords(e), text(e))
    check("strip: EHLO continuation marks consistent",
          e and all(l[3:4] == b"-" for l in e[:-1]) and e[-1][3:4] == b" ", text(e))
    check("strip: STARTTLS sent anyway is forwarded, TLS with labca",
          got.get("fp", (None,))[0] == peers["labca"]["cert_sha256"], str(got))

    p = peers["mask"]
    got = starttls_session(p, verifying())
    e = got.get("ehlo1", [])
    check("mask: EHLO shows XXXXXXXA instead of STARTTLS",
          "XXXXXXXA" in keywords(e) and "STARTTLS" not in keywords(e), text(e))
    check("mask: STARTTLS sent anyway is forwarded, verified TLS with labca",
          got.get("fp", (None,))[0] == peers["labca"]["cert_sha256"], str(got))

    p = peers["refuse"]
    c = Conn(port_of(p))
    c.reply()
    e = c.cmd("EHLO selftest.lab.test")
    check("refuse: STARTTLS still advertised", "STARTTLS" in keywords(e), text(e))
    r = c.cmd("STARTTLS")
    check("refuse: STARTTLS answered 454 4.7.0",
          r == [b"454 4.7.0 TLS not available due to local problem\r\n"], text(r))
    r = c.cmd("NOOP")
    check("refuse: session goes on in cleartext", r[0].startswith(b"250"), text(r))
    c.cmd("QUIT")
    c.close()

    p = peers["reset"]
    c = Conn(port_of(p))
    c.reply()
    c.cmd("EHLO selftest.lab.test")
    r = c.cmd("STARTTLS")
    try:
        while True:
            c._fill()
    except (EOFError, OSError) as ex:
        closed = True
        extra = c.buf
    check("reset: 220 relayed, then the connection is closed",
          r[0].startswith(b"220") and closed and not extra, f"{r} {extra!r}")
    c.close()

    p = peers["inject"]
    s = socket.create_connection(("127.0.0.1", port_of(p)), timeout=5)
    c = Conn.__new__(Conn)
    c.sock, c.buf = s, b""
    c.reply()
    c.cmd("EHLO selftest.lab.test")
    s.sendall(b"STARTTLS\r\n")
    first = s.recv(65536)
    check("inject: 220 and the injected replies arrive in one segment",
          first == b"220 2.0.0 Ready to start TLS\r\n250-mitm.injected\r\n250 AUTH PLAIN\r\n",
          repr(first))
    try:
        tls = verifying().wrap_socket(s, server_hostname=p["servername"])
        c.sock, c.buf = tls, b""
        e = c.cmd("EHLO selftest.lab.test")
        check("inject: handshake with labca proceeds, verified", e[0].startswith(b"250"))
        test_fp("inject", p, {"fp": fingerprints(tls)})
        c.cmd("QUIT")
    except (ssl.SSLError, OSError, EOFError) as ex:
        check("inject: handshake with labca proceeds", False, str(ex))
    c.close()

    # --- python peers --------------------------------------------------------------------
    p = peers["tlscaps"]
    results_t = []

    def one():
        results_t.append(starttls_session(p, verifying()))

    threads = [threading.Thread(target=one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check("tlscaps: 4 concurrent verified sessions",
          all("version" in g for g in results_t), str([g.get("error") for g in results_t]))
    g = results_t[0]
    check("tlscaps: pre-TLS EHLO lists STARTTLS, not REQUIRETLS",
          "STARTTLS" in keywords(g.get("ehlo1", [])) and
          "REQUIRETLS" not in keywords(g.get("ehlo1", [])))
    check("tlscaps: post-TLS EHLO still lists STARTTLS, plus REQUIRETLS",
          {"STARTTLS", "REQUIRETLS"} <= set(keywords(g.get("ehlo2", []))), str(g))
    test_fp("tlscaps", p, g)

    p = peers["silent"]
    s = socket.create_connection(("127.0.0.1", port_of(p)), timeout=p.get("timeout", 2))
    t0 = time.monotonic()
    try:
        data = s.recv(100)
        silent = False
    except socket.timeout:
        data, silent = b"", True
    check(f"silent: nothing within {p.get('timeout', 2)} s", silent,
          f"{data!r} after {time.monotonic() - t0:.1f}s")
    s.close()

    # --- Dovecot peers (IMAP, POP3) ------------------------------------------------------
    if all(n in peers for n in DOVECOT_PEERS):
        test_dovecot(peers, anyctx, verifying)

    # --- PostgreSQL, slapd, vsftpd, ManageSieve, InspIRCd, INN --------------------------
    if all(n in peers for n in SERVICE_PEERS):
        test_services(peers, verifying)

    # --- Prosody (XMPP) ----------------------------------------------------------------
    if all(n in peers for n in XMPP_PEERS):
        test_xmpp(peers, verifying)

    # --- MTA-STS: the lab's nginx and the sts.lab.test records (lab/nginx/mtasts.py) ------
    if os.path.exists(os.path.join(lab["dir"], "nginx", "cases.json")):
        sys.path.insert(0, os.path.join(HERE, "nginx"))
        sys.dont_write_bytecode = True   # keep lab/nginx free of __pycache__
        import mtasts
        mtasts.selfcheck(lab["dir"], check,
                         dns=os.path.exists(os.path.join(lab["dir"], "dns", "dns.conf")))
    else:
        check("MTA-STS cases present (nginx/cases.json)", False, "lab started without lab/nginx?")

    # --- posttls-finger ------------------------------------------------------------------
    if not args.no_posttls_finger:
        expected = {  # (may, verify) trust words, see README
            "plain": ("none", "none"), "selfsigned": ("Untrusted", "Untrusted"),
            "labca": ("Trusted", "Verified"), "expired": ("Untrusted", "Untrusted"),
            "brokentls": ("none", "none"), "legacy": ("Trusted", "Verified"),
            "submission": ("Trusted", "Verified"), "smtps": ("Trusted", "Verified"),
            "strip": ("none", "none"), "mask": ("none", "none"), "refuse": ("none", "none"),
            "reset": ("none", "none"), "inject": ("Trusted", "Verified"),
        }
        env = dict(os.environ, OSTLS_LAB_DIR=lab["dir"])
        for name, p in peers.items():
            if not p["posttls_finger"]:
                continue
            got = tuple(subprocess.run([os.path.join(HERE, "posttls-finger.sh"), lvl,
                                        p["target"]], capture_output=True, text=True,
                                       env=env).stdout.strip() for lvl in ("may", "verify"))
            check(f"posttls-finger {name}: may={expected[name][0]} verify={expected[name][1]}",
                  got == expected[name], f"got may={got[0]} verify={got[1]}")

    passed = sum(results)
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
