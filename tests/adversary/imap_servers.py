#!/usr/bin/env python3
"""Hostile IMAP servers against `ostls probe` (client role): the "NO STARTTLS" catalogue
(Poddebniak et al., USENIX Security 2021) and SPEC §6's bounds for IMAP (RFC 9051 §6.2.1, RFC
2595), each with the outcome ostls must report at `may` and at `encrypt` and a time bound:
STARTTLS stripped (greeting code, CAPABILITY response), answered NO / BAD, answered with a
foreign tag or an untagged OK, responses injected behind the tagged OK, a PREAUTH greeting (the
session authenticated in cleartext: STARTTLS impossible), capabilities that change under TLS
(STARTTLS still advertised; AUTH only after TLS), then alert, reset and plaintext after the OK,
endless untagged responses, a 10 MB line, slowloris, silence.

    imap_servers.py --ostls build/ostls [--ca CA.pem] [-k CASE]   # CA default: the lab's ($OSTLS_LAB_DIR)

The machinery (server, comparison, driver) is hostile.py's, shared with the SMTP and POP3 suites.
"""
import sys

from hostile import (DEFER_CLEAR, FAIL_CLEAR, FAIL_NO_TLS, MAY_OK_CLEAR, common_cases, encrypted, endless, main,
                     tls_conn)

CAPS_TLS = b"IMAP4rev1 STARTTLS LOGINDISABLED"
CAPS_PLAIN = b"IMAP4rev1 AUTH=PLAIN"


def serve_until(c, wanted, caps):
    """Answers CAPABILITY (with `caps`), NOOP and LOGOUT until the command `wanted`; returns its tag."""
    while True:
        tag, _, rest = c.raw_line().partition(b" ")
        command = rest.split(b" ", 1)[0].upper()
        if command == wanted:
            return tag
        if command == b"CAPABILITY":
            c.send(b"* CAPABILITY " + caps + b"\r\n" + tag + b" OK CAPABILITY completed\r\n")
        elif command == b"LOGOUT":
            c.send(b"* BYE logging out\r\n" + tag + b" OK LOGOUT completed\r\n")
            raise EOFError
        else:
            c.send(tag + b" OK done\r\n")


def greet(c, caps=CAPS_TLS):
    c.send(b"* OK [CAPABILITY " + caps + b"] adversary.lab.test IMAP ready\r\n")


def to_starttls(c):
    greet(c)
    return serve_until(c, b"STARTTLS", CAPS_TLS)


def tls_tail(c, ctx, caps_after=CAPS_PLAIN):
    """The TLS side of a well-behaved server: CAPABILITY (with `caps_after`) until LOGOUT."""
    serve_until(tls_conn(c, ctx), b"NO-SUCH-COMMAND", caps_after)


def stripped_greeting(c, ctx):
    greet(c, CAPS_PLAIN)
    serve_until(c, b"NO-SUCH-COMMAND", CAPS_PLAIN)


def stripped_capability(c, ctx):
    c.send(b"* OK adversary.lab.test IMAP ready\r\n")
    serve_until(c, b"NO-SUCH-COMMAND", CAPS_PLAIN)


def refused(status):
    def behaviour(c, ctx):
        tag = to_starttls(c)
        c.send(tag + b" " + status + b" STARTTLS not now\r\n")
        serve_until(c, b"NO-SUCH-COMMAND", CAPS_TLS)
    return behaviour


def wrong_tag(c, ctx):
    to_starttls(c)
    c.send(b"zz9 OK Begin TLS negotiation now\r\n")  # not the tag of the STARTTLS command
    tls_tail(c, ctx)


def untagged_ok(c, ctx):
    to_starttls(c)
    c.send(b"* OK Begin TLS negotiation now\r\n")  # untagged: not the completion of STARTTLS
    tls_tail(c, ctx)


def response_injection(c, ctx):
    tag = to_starttls(c)
    c.send(tag + b" OK Begin TLS negotiation now\r\n* CAPABILITY IMAP4rev1 AUTH=INJECTED\r\n")
    tls_tail(c, ctx)


def preauth(c, ctx):
    c.send(b"* PREAUTH [CAPABILITY " + CAPS_TLS + b"] logged in as admin, no TLS needed\r\n")
    serve_until(c, b"NO-SUCH-COMMAND", CAPS_TLS)


def starttls_after_tls(c, ctx):
    tag = to_starttls(c)
    c.send(tag + b" OK Begin TLS negotiation now\r\n")
    tls_tail(c, ctx, CAPS_TLS)


def auth_after_tls(c, ctx):
    tag = to_starttls(c)
    c.send(tag + b" OK Begin TLS negotiation now\r\n")
    tls_tail(c, ctx, b"IMAP4rev1 AUTH=PLAIN AUTH=LOGIN")


def endless_untagged(c, ctx):
    c.send(b"* OK adversary.lab.test IMAP ready\r\n")
    c.raw_line()
    endless(c, b"* OK still here\r\n")


def accept_starttls(c):
    """Up to STARTTLS; the tagged OK that accepts it."""
    return to_starttls(c) + b" OK Begin TLS negotiation now\r\n"


CASES = [
    ("stripped-greeting-code", stripped_greeting, MAY_OK_CLEAR, FAIL_NO_TLS, 10),
    ("stripped-capability", stripped_capability, MAY_OK_CLEAR, FAIL_NO_TLS, 10),
    ("refused-NO", refused(b"NO"), dict(MAY_OK_CLEAR, events=["starttls-refused"]),
     dict(FAIL_NO_TLS, events=["starttls-refused"]), 10),
    ("refused-BAD", refused(b"BAD"), dict(MAY_OK_CLEAR, events=["starttls-refused"]),
     dict(FAIL_NO_TLS, events=["starttls-refused"]), 10),
    # A foreign tag is a broken dialogue, never the go-ahead: no handshake, and no cleartext retry.
    ("wrong-tag", wrong_tag, dict(FAIL_CLEAR, absent=["fallback-to-cleartext"]), FAIL_CLEAR, 10),
    # An untagged OK does not complete STARTTLS: ostls waits for the tagged one until --timeout.
    ("untagged-ok", untagged_ok, DEFER_CLEAR, DEFER_CLEAR, 10),
    # The injected CAPABILITY is discarded: the one read under TLS counts.
    ("response-injection", response_injection, encrypted("response-injection", caps_tls=["IMAP4rev1", "AUTH=PLAIN"]),
     encrypted("response-injection", caps_tls=["IMAP4rev1", "AUTH=PLAIN"]), 10),
    # RFC 9051 §7.1.4: authenticated in cleartext, STARTTLS impossible — reported, and refused at encrypt.
    ("preauth", preauth, dict(MAY_OK_CLEAR, events=["preauth-skips-starttls"], absent=["starttls-accepted-unadvertised"]),
     dict(FAIL_NO_TLS, events=["preauth-skips-starttls"]), 10),
    ("starttls-after-tls", starttls_after_tls, encrypted("starttls-after-tls"), encrypted("starttls-after-tls"), 10),
    ("auth-only-after-tls", auth_after_tls, encrypted(absent=["starttls-after-tls"]),
     encrypted(absent=["starttls-after-tls"]), 10),
    ("endless-untagged", endless_untagged, FAIL_CLEAR, FAIL_CLEAR, 10),
] + common_cases(accept_starttls, b"* OK slow.lab.test IMAP ready\r\n", b"* OK ", b"* BAD this is not a ServerHello\r\n")

if __name__ == "__main__":
    sys.exit(main(__doc__, "imap", CASES))
