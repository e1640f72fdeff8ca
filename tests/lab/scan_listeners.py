#!/usr/bin/env python3
"""Many small SMTP listeners for `ostls scan` tests and bench/scan: one asyncio process binds
PORTS ports (chosen free by the kernel on 127.0.0.1) on each of HOSTS loopback addresses
127.0.0.1 … 127.0.0.HOSTS, so HOSTS × PORTS distinct targets `smtp://[127.0.0.H]:P` reach it.
Even port indexes offer STARTTLS (the given certificate), odd ones are cleartext-only (--all-tls:
every port offers it).

Dialogue: greeting after --delay seconds, EHLO (STARTTLS listed on TLS ports, never after TLS),
STARTTLS → 220 → TLS, QUIT → 221; anything else → 250. It counts connections and the peak number
of them waiting for their greeting at once, overall and per local address (for --concurrency and
--per-host-concurrency). Only that phase is counted: a client that finished one connection has
read its greeting, so the next connection of the same client slot cannot overlap it there —
whereas the end of a whole session is seen late by this single-threaded server (its accept of the
next connection may run before it reads the previous one's QUIT or EOF).

Prints one JSON line on stdout when every socket listens: {"ports": [...], "hosts": [...]}.
SIGUSR1 writes the counters to --stats as JSON; SIGUSR2 resets them; SIGTERM stops.
"""
import argparse
import asyncio
import json
import logging
import signal
import socket
import ssl
import sys


class Counters:
    def __init__(self):
        self.reset()

    def reset(self):
        self.connections = 0
        self.open = 0
        self.peak = 0
        self.open_by_host = {}
        self.peak_by_host = {}
        self.handshakes = 0

    def enter(self, host):
        self.connections += 1
        self.open += 1
        self.peak = max(self.peak, self.open)
        n = self.open_by_host.get(host, 0) + 1
        self.open_by_host[host] = n
        self.peak_by_host[host] = max(self.peak_by_host.get(host, 0), n)

    def leave(self, host):
        self.open -= 1
        self.open_by_host[host] -= 1

    def as_dict(self):
        return {"connections": self.connections, "open": self.open, "peak": self.peak,
                "peak_by_host": self.peak_by_host, "handshakes": self.handshakes}


async def session(reader, writer, tls_ctx, delay, counters):
    host = writer.get_extra_info("sockname")[0]
    counters.enter(host)
    waiting = True
    tls = False
    try:
        if delay > 0:
            await asyncio.sleep(delay)
        counters.leave(host)
        waiting = False
        writer.write(b"220 scan.lab.test ESMTP\r\n")
        await writer.drain()
        while True:
            line = await asyncio.wait_for(reader.readline(), 30)
            if not line:
                break
            verb = line.strip().split(b" ", 1)[0].upper()
            if verb in (b"EHLO", b"HELO"):
                caps = [b"scan.lab.test", b"PIPELINING", b"8BITMIME"]
                if tls_ctx is not None and not tls:
                    caps.append(b"STARTTLS")
                writer.write(b"".join(b"250-" + c + b"\r\n" for c in caps[:-1]) + b"250 " + caps[-1] + b"\r\n")
            elif verb == b"STARTTLS" and tls_ctx is not None and not tls:
                writer.write(b"220 2.0.0 Ready to start TLS\r\n")
                await writer.drain()
                await writer.start_tls(tls_ctx)
                counters.handshakes += 1
                tls = True
                continue
            elif verb == b"QUIT":
                writer.write(b"221 2.0.0 Bye\r\n")
                await writer.drain()
                break
            else:
                writer.write(b"250 2.0.0 Ok\r\n")
            await writer.drain()
    except (OSError, ssl.SSLError, asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError,
            asyncio.CancelledError):
        pass  # a session ends however the client or a shutdown ends it
    finally:
        if waiting:
            counters.leave(host)
        try:
            writer.close()
        except Exception:  # noqa: BLE001 - the peer may be gone already
            pass


def bind(host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(1024)
    s.setblocking(False)
    return s


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=40)
    ap.add_argument("--ports", type=int, default=50)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--delay", type=float, default=0.0)
    ap.add_argument("--stats", required=True)
    ap.add_argument("--all-tls", action="store_true", help="STARTTLS on every port (bench/scan)")
    a = ap.parse_args()
    # openssl s_client's way of closing makes asyncio warn once per connection: noise here.
    logging.getLogger("asyncio").setLevel(logging.ERROR)

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(a.cert, a.key)
    counters = Counters()
    hosts = [f"127.0.0.{i}" for i in range(1, a.hosts + 1)]
    first, ports = [], []
    while len(ports) < a.ports:  # a port free on 127.0.0.1 is taken on every address
        s = bind(hosts[0], 0)
        port = s.getsockname()[1]
        try:
            socks = [s] + [bind(h, port) for h in hosts[1:]]
        except OSError:
            s.close()
            continue
        first.append(socks)
        ports.append(port)
    servers = []
    for i, socks in enumerate(first):
        tls_ctx = ctx if i % 2 == 0 or a.all_tls else None
        for s in socks:
            servers.append(await asyncio.start_server(
                lambda r, w, t=tls_ctx: session(r, w, t, a.delay, counters), sock=s, backlog=1024))

    loop = asyncio.get_running_loop()
    stop = loop.create_future()

    def write_stats():
        with open(a.stats + ".tmp", "w") as f:
            json.dump(counters.as_dict(), f)
        import os
        os.replace(a.stats + ".tmp", a.stats)

    loop.add_signal_handler(signal.SIGUSR1, write_stats)
    loop.add_signal_handler(signal.SIGUSR2, counters.reset)
    loop.add_signal_handler(signal.SIGTERM, lambda: stop.done() or stop.set_result(None))
    print(json.dumps({"ports": ports, "hosts": hosts}), flush=True)
    await stop
    for srv in servers:
        srv.close()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
