"""Shared plumbing for the lab's Python peers: logging, pid file, signal handling, serving."""
import asyncio
import logging
import os
import signal
import sys

LOG = logging.getLogger("peer")


def lab_dir():
    return os.environ.get("OSTLS_LAB_DIR", "/tmp/ostls-lab")


def add_common_args(ap, name):
    run = os.path.join(lab_dir(), "run")
    ap.add_argument("--name", default=name, help="peer name used in the log (default %(default)s)")
    ap.add_argument("--pidfile", default=None,
                    help=f"pid file (default {run}/<name>.pid)")
    ap.add_argument("--log", default=None,
                    help=f"log file (default {run}/<name>.log; '-' for stderr)")


def setup(args):
    run = os.path.join(lab_dir(), "run")
    if args.pidfile is None:
        args.pidfile = os.path.join(run, f"{args.name}.pid")
    if args.log is None:
        args.log = os.path.join(run, f"{args.name}.log")
    if args.log == "-":
        handler = logging.StreamHandler(sys.stderr)
    else:
        os.makedirs(os.path.dirname(os.path.abspath(args.log)), exist_ok=True)
        handler = logging.FileHandler(args.log)
    handler.setFormatter(logging.Formatter(
        f"%(asctime)s {args.name}[{os.getpid()}]: %(message)s"))
    LOG.addHandler(handler)
    LOG.setLevel(logging.INFO)


async def serve(args, port, handle_client):
    """Listen on 127.0.0.1:port, write the pid file once listening, run until SIGTERM/SIGINT."""
    connections = set()

    async def on_connect(reader, writer):
        task = asyncio.current_task()
        connections.add(task)
        peer = writer.get_extra_info("peername")
        LOG.info("connect from %s:%s", *peer[:2])
        try:
            await handle_client(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                ValueError, OSError) as e:
            LOG.info("connection from %s:%s ended: %s: %s", *peer[:2], type(e).__name__, e)
        except asyncio.CancelledError:
            pass
        except Exception:  # a peer must survive any single bad connection
            LOG.exception("connection from %s:%s failed", *peer[:2])
        finally:
            try:
                writer.close()
            except Exception:
                pass
            LOG.info("disconnect from %s:%s", *peer[:2])
            connections.discard(task)

    # Loopback only, by design: the lab never listens on any other address.
    server = await asyncio.start_server(on_connect, "127.0.0.1", port, reuse_address=True,
                                        backlog=128)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    tmp = args.pidfile + ".tmp"
    os.makedirs(os.path.dirname(os.path.abspath(args.pidfile)), exist_ok=True)
    with open(tmp, "w") as f:
        f.write(f"{os.getpid()}\n")
    os.replace(tmp, args.pidfile)
    LOG.info("listening on 127.0.0.1:%d", port)
    try:
        await stop.wait()
    finally:
        LOG.info("stopping")
        server.close()
        for t in list(connections):
            t.cancel()
        try:
            with open(args.pidfile) as f:
                if f.read().strip() == str(os.getpid()):
                    os.unlink(args.pidfile)
        except OSError:
            pass


async def readline(reader, timeout):
    """One line (with its line ending), b'' at EOF; raises TimeoutError."""
    return await asyncio.wait_for(reader.readline(), timeout)


def run(coro):
    try:
        asyncio.run(coro)
    except KeyboardInterrupt:
        pass
