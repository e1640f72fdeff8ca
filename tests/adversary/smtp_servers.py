#!/usr/bin/env python3
"""Hostile SMTP servers against `ostls probe` (client role), one per case of the "NO STARTTLS"
catalogue (Poddebniak et al., USENIX Security 2021) and of SPEC §6's bounds, each with the
outcome ostls must report at `may` and at `encrypt`, and a bound on how long that may take.

    smtp_servers.py --ostls build/ostls [--ca CA.pem] [-k CASE]   # CA default: the lab's ($OSTLS_LAB_DIR)

Every server is this script's own code on 127.0.0.1 (a thread per connection); TLS, where a case
gets that far, is Python's ssl with a leaf from the lab CA. A case passes when the verdict,
protection and events match, the exit status is the verdict's, the probe ended within its time
bound and a sanitize build printed no report — never a crash, a hang or a silent downgrade.
The machinery is hostile.py's, shared with the IMAP and POP3 suites.
"""
import sys

from hostile import (FAIL_CLEAR, FAIL_NO_TLS, MAY_OK_CLEAR, common_cases, encrypted, endless, main, tls_conn)

EHLO_TLS = b"250-adversary.lab.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n"
EHLO_PLAIN = b"250-adversary.lab.test\r\n250 PIPELINING\r\n"
READY = b"220 2.0.0 Ready to start TLS\r\n"


def until(c, verb):
    """Answers every command with 250 until `verb`; returns that line."""
    while True:
        line = c.line()
        if line.startswith(verb):
            return line
        if line.startswith(b"QUIT"):
            c.send(b"221 bye\r\n")
            raise EOFError
        c.send(EHLO_PLAIN if line.startswith(b"EHLO") else b"250 ok\r\n")


def tls_tail(c, ctx, ehlo_after=EHLO_PLAIN):
    """The TLS side of a well-behaved server: handshake, then EHLO/QUIT."""
    tc = tls_conn(c, ctx)
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


def to_starttls(c):
    """Up to STARTTLS; the reply that accepts it."""
    greet_and_ehlo(c)
    until(c, b"STARTTLS")
    return READY


def stripped(c, ctx):
    greet_and_ehlo(c, EHLO_PLAIN)
    until(c, b"QUIT")


def refused_454(c, ctx):
    to_starttls(c)
    c.send(b"454 4.7.0 TLS not available due to temporary reason\r\n")
    until(c, b"QUIT")


def unexpected_code(c, ctx):
    to_starttls(c)
    c.send(b"250 2.0.0 sure\r\n")  # not 220: the upgrade was not accepted
    until(c, b"QUIT")


def response_injection(c, ctx):
    to_starttls(c)
    c.send(READY + b"250 injected-before-the-handshake\r\n")
    tls_tail(c, ctx)


def starttls_after_tls(c, ctx):
    to_starttls(c)
    c.send(READY)
    tls_tail(c, ctx, ehlo_after=EHLO_TLS)


def endless_reply(c, ctx):
    c.send(b"220 adversary.lab.test ESMTP\r\n")
    c.line()
    endless(c, b"250-again\r\n")


CASES = [
    ("stripped", stripped, MAY_OK_CLEAR, FAIL_NO_TLS, 10),
    ("refused-454", refused_454, dict(MAY_OK_CLEAR, events=["starttls-refused"]),
     dict(FAIL_NO_TLS, events=["starttls-refused"]), 10),
    ("unexpected-code", unexpected_code, dict(MAY_OK_CLEAR, events=["starttls-refused"]),
     dict(FAIL_NO_TLS, events=["starttls-refused"]), 10),
    ("response-injection", response_injection, encrypted("response-injection"), encrypted("response-injection"), 10),
    ("starttls-after-tls", starttls_after_tls, encrypted("starttls-after-tls"), encrypted("starttls-after-tls"), 10),
    ("endless-multiline-reply", endless_reply, FAIL_CLEAR, FAIL_CLEAR, 10),
] + common_cases(to_starttls, b"220 slow.lab.test ESMTP\r\n", b"220 ", b"250 this is not a ServerHello\r\n")

if __name__ == "__main__":
    sys.exit(main(__doc__, "smtp", CASES, ("--helo", "client.lab.test")))
