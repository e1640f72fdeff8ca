#!/usr/bin/env python3
"""Hostile LDAP servers against `ostls probe` (client role): the StartTLS extended operation
(RFC 4511 §4.14, RFC 4513 §3) answered by this script's own BER, each case with the outcome ostls
must report at `may` and at `encrypt` and a time bound: refused (protocolError), answered for
another message ID or with another operation, a notice of disconnection, bytes injected behind
the success response, an indefinite BER length, then alert, reset and plaintext after success, a
10 MB message, slowloris, silence. LDAP advertises nothing, so a refusal is no downgrade
indicator (no starttls-refused event), but `encrypt` still fails.

    ldap_servers.py --ostls build/ostls [--ca CA.pem] [-k CASE]   # CA default: the lab's ($OSTLS_LAB_DIR)

The machinery (server, comparison, driver) is hostile.py's, shared with the other suites.
"""
import sys

from hostile import (DEFER_CLEAR, FAIL_CLEAR, FAIL_NO_TLS, MAY_OK_CLEAR, common_cases, encrypted, main, tls_conn)

STARTTLS_OID = b"1.3.6.1.4.1.1466.20037"
NOTICE_OID = b"1.3.6.1.4.1.1466.20036"


def tlv(tag, value):
    n = len(value)
    length = bytes([n]) if n < 128 else b"\x82" + n.to_bytes(2, "big")
    return bytes([tag]) + length + value


def extended_response(message_id, code, diagnostic=b"", name=b"", op=0x78):
    fields = tlv(0x0A, bytes([code])) + tlv(0x04, b"") + tlv(0x04, diagnostic) + (tlv(0x8A, name) if name else b"")
    return tlv(0x30, tlv(0x02, bytes([message_id])) + tlv(op, fields))


SUCCESS = extended_response(1, 0)


def read_message(c):
    """One BER element from the client (its StartTLS request)."""
    while len(c.buf) < 2 or len(c.buf) < 2 + c.buf[1]:
        data = c.sock.recv(4096)
        if not data:
            raise EOFError
        c.buf += data
    request, c.buf = c.buf[:2 + c.buf[1]], c.buf[2 + c.buf[1]:]
    return request


def to_starttls(c):
    """Up to the StartTLS request; the success response."""
    if STARTTLS_OID not in read_message(c):
        raise EOFError
    return SUCCESS


def answer(response):
    """A server that answers the StartTLS request with `response`, then waits for the unbind."""
    def run(c, ctx):
        to_starttls(c)
        c.send(response)
        read_message(c)
    return run


def response_injection(c, ctx):
    c.send(to_starttls(c) + extended_response(2, 0, b"injected"))
    tc = tls_conn(c, ctx)
    read_message(tc)  # the unbind, under TLS


def success(c, ctx):
    c.send(to_starttls(c))
    read_message(tls_conn(c, ctx))


CASES = [
    ("success", success, encrypted(absent=["response-injection"]), encrypted(absent=["response-injection"]), 10),
    ("refused-protocolError", answer(extended_response(1, 2, b"no TLS here")),
     dict(MAY_OK_CLEAR, absent=["starttls-refused"]), FAIL_NO_TLS, 10),
    ("other-message-id", answer(extended_response(7, 0)), FAIL_CLEAR, FAIL_CLEAR, 10),
    ("other-operation", answer(extended_response(1, 0, op=0x61)), FAIL_CLEAR, FAIL_CLEAR, 10),  # a BindResponse
    ("notice-of-disconnection", answer(extended_response(0, 52, b"going away", NOTICE_OID)), DEFER_CLEAR,
     DEFER_CLEAR, 10),
    ("response-injection", response_injection, encrypted("response-injection"), encrypted("response-injection"), 10),
    ("indefinite-length", answer(b"\x30\x80" + SUCCESS[2:] + b"\x00\x00"), FAIL_CLEAR, FAIL_CLEAR, 10),
] + common_cases(to_starttls, SUCCESS, b"\x30\x84\x00\xa0\x00\x00", b"\x30\x03\x02\x01\x01")

if __name__ == "__main__":
    sys.exit(main(__doc__, "ldap", CASES))
