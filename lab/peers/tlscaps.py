#!/usr/bin/env python3
"""Small SMTP server whose post-TLS EHLO reply still lists STARTTLS (python3 stdlib only).

    tlscaps.py --port PORT --cert CHAIN --key KEY [--hostname mx.lab.test]

Greeting 220; EHLO lists STARTTLS; STARTTLS -> 220 -> TLS handshake (Python's ssl module);
after TLS the EHLO reply STILL lists STARTTLS, plus REQUIRETLS. A second STARTTLS inside
TLS is answered 554 5.5.1. MAIL/RCPT/DATA/BDAT are accepted and the message discarded;
QUIT -> 221. Serves several sequential and concurrent connections.
"""
import argparse
import asyncio
import ssl

import common
from common import LOG

IDLE = 300.0
MAX_LINE = 4096


def reply(writer, lines):
    """lines: list of (code, text); writes one (multi-line) reply."""
    out = []
    for i, (code, text) in enumerate(lines):
        out.append(f"{code}{' ' if i == len(lines) - 1 else '-'}{text}\r\n")
    writer.write("".join(out).encode())
    for l in out:
        LOG.info("S: %s", l.rstrip())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--cert", required=True, help="PEM certificate chain (leaf first)")
    ap.add_argument("--key", required=True, help="PEM private key (may be the chain file)")
    ap.add_argument("--hostname", default="mx.lab.test")
    common.add_common_args(ap, "tlscaps")
    args = ap.parse_args()
    common.setup(args)

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    host = args.hostname

    async def handle(reader, writer):
        tls = False
        reply(writer, [(220, f"{host} ESMTP ostls-lab tlscaps")])
        await writer.drain()
        while True:
            line = await asyncio.wait_for(reader.readline(), IDLE)
            if not line:
                return
            if len(line) > MAX_LINE:
                reply(writer, [(500, "5.5.2 Error: line too long")])
                await writer.drain()
                return
            text = line.decode("utf-8", "replace").rstrip("\r\n")
            LOG.info("C: %s", text[:200])
            parts = text.split(None, 1)
            verb = parts[0].upper() if parts else ""
            if verb == "EHLO":
                caps = [(250, host), (250, "PIPELINING"), (250, "SIZE 10240000"),
                        (250, "ENHANCEDSTATUSCODES"), (250, "8BITMIME")]
                if tls:
                    caps.append((250, "REQUIRETLS"))
                caps.append((250, "STARTTLS"))  # also after TLS: that is the point
                reply(writer, caps)
            elif verb == "HELO":
                reply(writer, [(250, host)])
            elif verb == "STARTTLS":
                if tls:
                    reply(writer, [(554, "5.5.1 Error: TLS already active")])
                else:
                    reply(writer, [(220, "2.0.0 Ready to start TLS")])
                    await writer.drain()
                    if reader._buffer:  # command injection: never read as post-TLS data
                        LOG.info("discarding %d plaintext bytes received after STARTTLS",
                                 len(reader._buffer))
                        reader._buffer.clear()
                    try:
                        await asyncio.wait_for(writer.start_tls(ctx), 30)
                    except (ssl.SSLError, OSError, asyncio.TimeoutError) as e:
                        LOG.info("TLS handshake failed: %s", e)
                        return
                    tls = True
                    sslobj = writer.get_extra_info("ssl_object")
                    LOG.info("TLS established: %s %s", sslobj.version(), sslobj.cipher()[0])
                    continue
            elif verb in ("MAIL", "RSET", "NOOP"):
                reply(writer, [(250, "2.0.0 Ok")])
            elif verb == "RCPT":
                reply(writer, [(250, "2.1.5 Ok")])
            elif verb == "DATA":
                reply(writer, [(354, "End data with <CR><LF>.<CR><LF>")])
                await writer.drain()
                while True:
                    body = await asyncio.wait_for(reader.readline(), IDLE)
                    if not body or body.rstrip(b"\r\n") == b".":
                        break
                if not body:
                    return
                reply(writer, [(250, "2.0.0 Ok: discarded")])
            elif verb == "QUIT":
                reply(writer, [(221, "2.0.0 Bye")])
                await writer.drain()
                return
            else:
                reply(writer, [(502, "5.5.2 Error: command not recognized")])
            await writer.drain()

    common.run(common.serve(args, args.port, handle))


if __name__ == "__main__":
    main()
