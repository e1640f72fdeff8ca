#!/usr/bin/env python3
"""Hostile POP3 servers against `ostls probe` (client role): the "NO STARTTLS" catalogue
(Poddebniak et al., USENIX Security 2021) and SPEC §6's bounds for POP3 (RFC 2595 STLS, RFC 2449
CAPA), each with the outcome ostls must report at `may` and at `encrypt` and a time bound: STLS
stripped from CAPA, no CAPA at all, STLS answered -ERR or with something that is no status,
replies injected behind the +OK, capabilities that change under TLS (STLS still advertised; SASL
only after TLS), a -ERR greeting, then alert, reset and plaintext after the +OK, an endless CAPA
list, a 10 MB line, slowloris, silence.

    pop3_servers.py --ostls build/ostls [--ca CA.pem] [-k CASE]   # CA default: the lab's ($OSTLS_LAB_DIR)

The machinery (server, comparison, driver) is hostile.py's, shared with the SMTP and IMAP suites.
"""
import sys

from hostile import (FAIL_CLEAR, FAIL_NO_TLS, MAY_OK_CLEAR, common_cases, encrypted, endless, main, tls_conn)

CAPA_TLS = [b"TOP", b"UIDL", b"STLS"]
CAPA_PLAIN = [b"TOP", b"UIDL"]
BEGIN = b"+OK Begin TLS negotiation\r\n"


def capa(lines):
    return b"+OK Capability list follows\r\n" + b"".join(l + b"\r\n" for l in lines) + b".\r\n"


def serve_until(c, wanted, caps):
    """Answers CAPA (with `caps`; None: -ERR), QUIT and the rest until the command `wanted`."""
    while True:
        command = c.line().split(b" ", 1)[0]
        if command == wanted:
            return
        if command == b"CAPA":
            c.send(capa(caps) if caps is not None else b"-ERR unknown command\r\n")
        elif command == b"QUIT":
            c.send(b"+OK bye\r\n")
            raise EOFError
        else:
            c.send(b"+OK\r\n")


def greet(c):
    c.send(b"+OK adversary.lab.test POP3 ready\r\n")


def to_stls(c):
    """Up to STLS; the reply that accepts it."""
    greet(c)
    serve_until(c, b"STLS", CAPA_TLS)
    return BEGIN


def tls_tail(c, ctx, caps_after=CAPA_PLAIN):
    serve_until(tls_conn(c, ctx), b"NO-SUCH-COMMAND", caps_after)


def behaviour(caps):
    """A server whose CAPA answer is `caps` (None: -ERR) and that never sees STLS."""
    def run(c, ctx):
        greet(c)
        serve_until(c, b"NO-SUCH-COMMAND", caps)
    return run


def refused(c, ctx):
    to_stls(c)
    c.send(b"-ERR STLS not now\r\n")
    serve_until(c, b"NO-SUCH-COMMAND", CAPA_TLS)


def unexpected_reply(c, ctx):
    to_stls(c)
    c.send(b"250 sure\r\n")  # neither +OK nor -ERR
    tls_tail(c, ctx)


def response_injection(c, ctx):
    c.send(to_stls(c) + b"+OK injected-before-the-handshake\r\n")
    tls_tail(c, ctx)


def stls_after_tls(c, ctx):
    c.send(to_stls(c))
    tls_tail(c, ctx, CAPA_TLS)


def sasl_after_tls(c, ctx):
    c.send(to_stls(c))
    tls_tail(c, ctx, CAPA_PLAIN + [b"SASL PLAIN LOGIN"])


def err_greeting(c, ctx):
    c.send(b"-ERR go away\r\n")


def endless_capa(c, ctx):
    greet(c)
    c.line()
    c.send(b"+OK Capability list follows\r\n")
    endless(c, b"X-AGAIN\r\n")


CASES = [
    ("stripped", behaviour(CAPA_PLAIN), MAY_OK_CLEAR, FAIL_NO_TLS, 10),
    ("no-capa", behaviour(None), MAY_OK_CLEAR, FAIL_NO_TLS, 10),
    ("refused-ERR", refused, dict(MAY_OK_CLEAR, events=["starttls-refused"]),
     dict(FAIL_NO_TLS, events=["starttls-refused"]), 10),
    # No status at all is a broken dialogue: no handshake, and no cleartext retry.
    ("unexpected-reply", unexpected_reply, dict(FAIL_CLEAR, absent=["fallback-to-cleartext"]), FAIL_CLEAR, 10),
    ("response-injection", response_injection, encrypted("response-injection", caps_tls=["TOP", "UIDL"]),
     encrypted("response-injection", caps_tls=["TOP", "UIDL"]), 10),
    ("stls-after-tls", stls_after_tls, encrypted("starttls-after-tls"), encrypted("starttls-after-tls"), 10),
    ("sasl-only-after-tls", sasl_after_tls, encrypted(absent=["starttls-after-tls"]),
     encrypted(absent=["starttls-after-tls"]), 10),
    ("greeting-ERR", err_greeting, FAIL_CLEAR, FAIL_CLEAR, 10),
    ("endless-capa", endless_capa, FAIL_CLEAR, FAIL_CLEAR, 10),
] + common_cases(to_stls, b"+OK slow.lab.test POP3 ready\r\n", b"+OK ", b"-ERR this is not a ServerHello\r\n")

if __name__ == "__main__":
    sys.exit(main(__doc__, "pop3", CASES))
