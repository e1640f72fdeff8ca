"""The peers of bench/proxy's bulk and idle measurements: a minimal ESMTP backend and client.

Both proxies (`ostls proxy` and stunnel4) get exactly these peers, so the difference between
two runs is the proxy. This is a benchmark harness, not an SMTP implementation: the backend
speaks just enough ESMTP for a STARTTLS proxy in front of it or behind it (greeting, EHLO with
or without STARTTLS, STARTTLS, MAIL with SIZE=, RCPT, DATA, QUIT; anything else gets 250), and
reads exactly SIZE bytes after DATA's 354 (the payload ends with CRLF.CRLF, which it checks).

- `Dialogue`: the backend's side of that ESMTP session, sans-IO (lines in, replies out), shared
  by the two drivers below.
- `sink_main`: the bulk backend, one blocking thread per connection, large reads; runs in its
  own process (multiprocessing) and sends one record per DATA to its pipe.
- `hold_main`: the idle backend, asyncio, any number of connections held open; runs in its own
  process and answers "stats" on its pipe.
- `bulk_client`: one blocking session that sends TOTAL bytes after DATA, optionally after
  STARTTLS; returns the timing and the TLS facts.
- `hold_clients`: asyncio, N sessions opened CONCURRENCY at a time and held open.
"""

import asyncio
import logging
import os
import socket
import ssl
import threading
import time

HOSTNAME = b"sink.bench.test"
TAIL = b"\r\n.\r\n"


class Dialogue:
    """The backend's replies. on_line() returns (reply bytes, action), action one of
    None, "starttls", "data", "quit"."""

    def __init__(self, tls_capable):
        self.tls_capable = tls_capable
        self.tls = False
        self.size = 0

    @staticmethod
    def greeting():
        return b"220 " + HOSTNAME + b" ESMTP bench peer\r\n"

    def on_line(self, line):
        verb = line[:4].upper()
        if verb in (b"EHLO", b"LHLO"):
            caps = [HOSTNAME, b"PIPELINING", b"SIZE 4294967296", b"8BITMIME"]
            if self.tls_capable and not self.tls:
                caps.append(b"STARTTLS")
            return b"".join(b"250-" + c + b"\r\n" for c in caps[:-1]) + b"250 " + caps[-1] + b"\r\n", None
        if line.upper() == b"STARTTLS":
            if not self.tls_capable or self.tls:
                return b"454 4.7.0 TLS not available\r\n", None
            return b"220 2.0.0 Ready to start TLS\r\n", "starttls"
        if verb == b"MAIL":
            self.size = 0
            for word in line.split()[1:]:
                if word.upper().startswith(b"SIZE="):
                    self.size = int(word[5:])
            return b"250 2.1.0 Ok\r\n", None
        if verb == b"DATA":
            if self.size < len(TAIL):
                return b"503 5.5.1 MAIL with SIZE= first\r\n", None
            return b"354 End data with <CR><LF>.<CR><LF>\r\n", "data"
        if verb == b"QUIT":
            return b"221 2.0.0 Bye\r\n", "quit"
        return b"250 2.0.0 Ok\r\n", None

    def data_done(self, received, tail_ok):
        if received == self.size and tail_ok:
            return f"250 2.0.0 Ok: {received} bytes\r\n".encode()
        return f"554 5.6.0 got {received} of {self.size} bytes, tail {'ok' if tail_ok else 'wrong'}\r\n".encode()


class BioTls:
    """TLS over a blocking socket through memory BIOs (ssl.SSLObject): the socket is read in
    chunks of up to 1 MiB, so the receiver pays one system call per chunk instead of two per
    TLS record (an ssl.SSLSocket reads each record's header and body separately) and the
    harness stays well below the proxies' speed. Offers what Lines and the sink use of a socket."""

    def __init__(self, sock, ctx, server_side, server_hostname=None):
        self.sock, self.inc, self.out = sock, ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.inc, self.out, server_side=server_side, server_hostname=server_hostname)
        self.raw = memoryview(bytearray(1 << 20))
        while True:
            try:
                self.obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                self._flush()
                if not self._fill():
                    raise EOFError("closed during the TLS handshake")
        self._flush()

    def _flush(self):
        if data := self.out.read():
            self.sock.sendall(data)

    def _fill(self):
        n = self.sock.recv_into(self.raw)
        if n:
            self.inc.write(self.raw[:n])
        return n

    def recv_into(self, buf, nbytes=0):
        while True:
            try:
                return self.obj.read(nbytes or len(buf), buf)
            except ssl.SSLWantReadError:
                self._flush()
                if not self._fill():
                    return 0
            except ssl.SSLZeroReturnError:
                return 0

    def recv(self, n):
        buf = bytearray(n)
        return bytes(buf[:self.recv_into(buf, n)])

    def sendall(self, data):
        view = memoryview(data)
        for i in range(0, len(view), 1 << 20):
            self.obj.write(view[i:i + (1 << 20)])
            self._flush()

    def version(self):
        return self.obj.version()

    def cipher(self):
        return self.obj.cipher()

    def close(self):
        self.sock.close()


class Lines:
    """Blocking line reader over a socket that can be upgraded to TLS in place."""

    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def readline(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line.rstrip(b"\r")

    def reply(self):
        """One SMTP reply: (code, [lines])."""
        lines = []
        while True:
            line = self.readline()
            if line is None:
                raise EOFError("connection closed while waiting for a reply")
            lines.append(line)
            if line[3:4] != b"-":
                return int(line[:3]), lines

    def starttls(self, ctx, server_side=False, server_hostname=None):
        if self.buf:
            raise OSError("plaintext pipelined behind STARTTLS")
        self.sock = BioTls(self.sock, ctx, server_side, server_hostname)


def cpu_seconds(pid="self"):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- the bulk backend -------------------------------------------------------------------------

def _receive(sock, size, buf):
    """Exactly `size` bytes into nowhere; whether the last five were CRLF.CRLF."""
    view, remaining, tail = memoryview(buf), size, b""
    while remaining:
        n = sock.recv_into(view, min(len(buf), remaining))
        if not n:
            break
        remaining -= n
        tail = (tail + bytes(view[max(0, n - len(TAIL)):n]))[-len(TAIL):]
    return size - remaining, tail == TAIL


def _sink_session(sock, ctx, report, lock):
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    d, c, buf = Dialogue(ctx is not None), Lines(sock), bytearray(1 << 20)
    try:
        c.sock.sendall(d.greeting())
        while (line := c.readline()) is not None:
            reply, action = d.on_line(line)
            c.sock.sendall(reply)
            if action == "starttls":
                c.starttls(ctx, server_side=True)
                d.tls = True
            elif action == "data":
                if c.buf:
                    raise OSError("payload pipelined behind DATA")
                received, tail_ok = _receive(c.sock, d.size, buf)
                c.sock.sendall(d.data_done(received, tail_ok))
                tls = c.sock.version() if d.tls else None
                cipher = c.sock.cipher()[0] if d.tls else None
                with lock:
                    report.send({"bytes": received, "tail_ok": tail_ok, "tls": tls, "cipher": cipher})
            elif action == "quit":
                break
    except (OSError, EOFError, ValueError, ssl.SSLError):
        pass
    finally:
        c.sock.close()


def sink_main(conn, cert, key):
    """Process body: listen on 127.0.0.1 (port sent first on `conn`), a thread per connection.
    With cert/key it offers STARTTLS."""
    ctx = None
    if cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
    lsock = socket.create_server(("127.0.0.1", 0), backlog=128)
    conn.send(lsock.getsockname()[1])
    lock = threading.Lock()
    while True:
        sock, _ = lsock.accept()
        threading.Thread(target=_sink_session, args=(sock, ctx, conn, lock), daemon=True).start()


# --- the bulk client --------------------------------------------------------------------------

def bulk_client(port, total, ctx=None, servername="front.lab.test"):
    """One session: [STARTTLS,] MAIL SIZE=total, DATA, `total` bytes (lines of 78 characters,
    CRLF.CRLF at the end), the final reply. `ctx` = do STARTTLS with it (it must be offered).
    Returns seconds from the end of DATA's 354 to the final 250, and the client's TLS facts."""
    line = b"x" * 78 + b"\r\n"
    block = line * ((4 << 20) // len(line))  # ≈ 4 MiB
    body = total - len(TAIL)
    with socket.create_connection(("127.0.0.1", port), timeout=120) as raw:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c = Lines(raw)

        def command(text, want):
            c.sock.sendall(text + b"\r\n")
            code, lines = c.reply()
            if code != want:
                raise OSError(f"{text.decode()!r}: {lines[-1].decode(errors='replace')}")
            return lines
        code, lines = c.reply()
        if code != 220:
            raise OSError(f"greeting: {lines[-1]!r}")
        caps = command(b"EHLO bench.lab.test", 250)
        if ctx is not None:
            if not any(x[4:].upper() == b"STARTTLS" for x in caps):
                raise OSError("STARTTLS not offered")
            command(b"STARTTLS", 220)
            c.starttls(ctx, server_hostname=servername)
            command(b"EHLO bench.lab.test", 250)
        command(f"MAIL FROM:<bench@lab.test> SIZE={total}".encode(), 250)
        command(b"RCPT TO:<sink@lab.test>", 250)
        command(b"DATA", 354)
        cpu0, t0 = time.process_time(), time.perf_counter()
        sent, view = 0, memoryview(block)
        while sent < body:
            n = min(len(block), body - sent)
            c.sock.sendall(view[:n])
            sent += n
        c.sock.sendall(TAIL)
        code, lines = c.reply()
        seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        if code != 250:
            raise OSError(f"after {total} bytes: {lines[-1].decode(errors='replace')}")
        facts = {"seconds": seconds, "client_cpu": cpu,
                 "tls": c.sock.version() if ctx else None, "cipher": c.sock.cipher()[0] if ctx else None}
        try:
            command(b"QUIT", 221)
        except (OSError, EOFError):
            pass
        return facts


# --- the idle backend -------------------------------------------------------------------------

def hold_main(conn, cert, key):
    """Process body: two listeners on 127.0.0.1 — cleartext, and STARTTLS-capable with
    cert/key — ports sent first on `conn`; every connection is held until its peer closes.
    Answers "stats" on `conn` with {"open", "tls", "ready"}: open connections, TLS sessions
    established, sessions that got an EHLO after TLS (TLS listener) or any EHLO (cleartext)."""
    logging.getLogger("asyncio").setLevel(logging.ERROR)  # eof_received() warnings under TLS
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    stats = {"open": 0, "tls": 0, "ready": 0}

    async def session(reader, writer, tls_capable):
        stats["open"] += 1
        d, ready = Dialogue(tls_capable), False
        try:
            writer.write(d.greeting())
            while line := await reader.readline():
                reply, action = d.on_line(line.rstrip(b"\r\n"))
                writer.write(reply)
                if action == "starttls":
                    await writer.start_tls(ctx)
                    d.tls = True
                    stats["tls"] += 1
                elif action == "quit":
                    break
                elif line[:4].upper() == b"EHLO" and not ready and (d.tls or not tls_capable):
                    ready = True
                    stats["ready"] += 1
        except (OSError, ssl.SSLError, EOFError, asyncio.IncompleteReadError):
            pass
        finally:
            stats["open"] -= 1
            writer.close()

    async def main():
        plain = await asyncio.start_server(lambda r, w: session(r, w, False), "127.0.0.1", 0, backlog=4096)
        tls = await asyncio.start_server(lambda r, w: session(r, w, True), "127.0.0.1", 0, backlog=4096)
        conn.send((plain.sockets[0].getsockname()[1], tls.sockets[0].getsockname()[1]))
        loop, done = asyncio.get_running_loop(), asyncio.Event()

        def on_request():
            try:
                conn.recv()
                conn.send(dict(stats))
            except EOFError:
                done.set()
        loop.add_reader(conn.fileno(), on_request)
        await done.wait()
    asyncio.run(main())


# --- the idle clients -------------------------------------------------------------------------

async def _hold_one(port, ctx, held, errors):
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)

        async def reply():
            while True:
                line = await reader.readline()
                if not line:
                    raise EOFError("closed")
                if line[3:4] != b"-":
                    return int(line[:3])
        if await reply() != 220:
            raise OSError("greeting")
        writer.write(b"EHLO bench.lab.test\r\n")
        if await reply() != 250:
            raise OSError("EHLO")
        if ctx is not None:
            writer.write(b"STARTTLS\r\n")
            if await reply() != 220:
                raise OSError("STARTTLS")
            await writer.start_tls(ctx, server_hostname="front.lab.test")
            writer.write(b"EHLO bench.lab.test\r\n")
            if await reply() != 250:
                raise OSError("EHLO after TLS")
        held.append(writer)
    except (OSError, ssl.SSLError, EOFError, asyncio.TimeoutError) as e:
        errors.append(repr(e))


async def hold_clients(port, count, ctx, concurrency=200):
    """`count` sessions to 127.0.0.1:port, at most `concurrency` being set up at once, each taken
    to the state described in bench/proxy (idle) and then held. Returns (writers, errors)."""
    held, errors, sem = [], [], asyncio.Semaphore(concurrency)

    async def one():
        async with sem:
            await _hold_one(port, ctx, held, errors)
    await asyncio.gather(*(one() for _ in range(count)))
    return held, errors
