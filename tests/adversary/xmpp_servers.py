#!/usr/bin/env python3
"""Hostile XMPP servers against `ostls probe` (client role, c2s): the "NO STARTTLS" catalogue
(Poddebniak et al., USENIX Security 2021) and SPEC §6's bounds for XMPP (RFC 6120 §5), each with
the outcome ostls must report at `may` and at `encrypt` and a time bound: <starttls/> stripped
from the stream features (and stripped while <required/> is left behind), answered <failure/>
(with and without <required/>), stanzas injected behind <proceed/>, <starttls/> still offered on
the stream under TLS, a DOCTYPE, then alert, reset and plaintext after <proceed/>, endless
features, a 10 MB header, slowloris, silence.

    xmpp_servers.py --ostls build/ostls [--ca CA.pem] [-k CASE]   # CA default: the lab's ($OSTLS_LAB_DIR)

The machinery (server, comparison, driver) is hostile.py's, shared with the SMTP, IMAP and POP3
suites.
"""
import sys

from hostile import (FAIL_CLEAR, FAIL_NO_TLS, MAY_OK_CLEAR, NAME, common_cases, encrypted, endless, main, tls_conn)

NS_TLS = b"urn:ietf:params:xml:ns:xmpp-tls"
HEADER = (b"<?xml version='1.0'?><stream:stream from='" + NAME.encode() + b"' id='adv' version='1.0' "
          b"xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>")
STARTTLS = b"<starttls xmlns='" + NS_TLS + b"'/>"
REQUIRED = b"<starttls xmlns='" + NS_TLS + b"'><required/></starttls>"
MECHANISMS = b"<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms>"
PROCEED = b"<proceed xmlns='" + NS_TLS + b"'/>"
FAILURE = b"<failure xmlns='" + NS_TLS + b"'/></stream:stream>"


def read_until(c, marker):
    """Reads until `marker` (raw bytes) has arrived; EOFError when the client hangs up first."""
    while marker not in c.buf:
        data = c.sock.recv(4096)
        if not data:
            raise EOFError
        c.buf += data
    _, c.buf = c.buf.split(marker, 1)


def stream(c, features):
    """The client's stream header, then ours with `features`."""
    read_until(c, b"<stream:stream")
    read_until(c, b">")
    c.send(HEADER + b"<stream:features>" + features + b"</stream:features>")


def to_starttls(c, features=STARTTLS):
    """Up to the client's <starttls/>; the reply that accepts it."""
    stream(c, features)
    read_until(c, b"starttls")
    read_until(c, b">")
    return PROCEED


def tls_tail(c, ctx, features=MECHANISMS):
    tc = tls_conn(c, ctx)
    stream(tc, features)
    read_until(tc, b"</stream:stream>")
    tc.send(b"</stream:stream>")


def offers(features):
    """A server whose features are `features` and that sees no <starttls/>."""
    def run(c, ctx):
        stream(c, features)
        read_until(c, b"</stream:stream>")
        c.send(b"</stream:stream>")
    return run


def refused(features):
    def run(c, ctx):
        to_starttls(c, features)
        c.send(FAILURE)
    return run


def response_injection(c, ctx):
    c.send(to_starttls(c) + b"<message to='victim@adversary.lab.test'><body>injected</body></message>")
    tls_tail(c, ctx)


def starttls_after_tls(c, ctx):
    c.send(to_starttls(c))
    tls_tail(c, ctx, STARTTLS + MECHANISMS)


def doctype(c, ctx):
    read_until(c, b">")
    c.send(b"<?xml version='1.0'?><!DOCTYPE stream [<!ENTITY a 'aaaa'>]>" + HEADER[len(b"<?xml version='1.0'?>"):])


def endless_features(c, ctx):
    read_until(c, b"<stream:stream")
    c.send(HEADER + b"<stream:features>")
    endless(c, b"<x-again xmlns='urn:example'/>")


CASES = [
    ("stripped", offers(MECHANISMS), MAY_OK_CLEAR, FAIL_NO_TLS, 10),
    # <required/> left behind while <starttls/> is gone: the trace of a stripping man in the middle.
    ("stripped-required-left", offers(b"<required/>" + MECHANISMS), dict(MAY_OK_CLEAR, events=["starttls-stripped"]),
     dict(FAIL_NO_TLS, events=["starttls-stripped"]), 10),
    ("failure", refused(STARTTLS), dict(MAY_OK_CLEAR, events=["starttls-refused"]),
     dict(FAIL_NO_TLS, events=["starttls-refused"]), 10),
    # RFC 6120 §5.4.2.2 with <required/>: no cleartext, not even at may.
    ("failure-when-required", refused(REQUIRED), dict(FAIL_CLEAR, events=["starttls-refused"]),
     dict(FAIL_CLEAR, events=["starttls-refused"]), 10),
    ("response-injection", response_injection, encrypted("response-injection", caps_tls=["mechanisms"]),
     encrypted("response-injection", caps_tls=["mechanisms"]), 10),
    ("starttls-after-tls", starttls_after_tls, encrypted("starttls-after-tls"), encrypted("starttls-after-tls"), 10),
    ("doctype", doctype, FAIL_CLEAR, FAIL_CLEAR, 10),
    ("endless-features", endless_features, FAIL_CLEAR, FAIL_CLEAR, 10),
] + common_cases(to_starttls, HEADER, HEADER[:-1] + b" x='", b"<failure/>")

if __name__ == "__main__":
    sys.exit(main(__doc__, "xmpp", CASES, ("--xmpp-domain", NAME)))
