#!/usr/bin/env python3
"""Accepts TCP connections and never sends anything (for timeout tests).

    silent.py --port PORT [--hold 120]

Whatever the client sends is read and dropped; the connection is closed after --hold
seconds (default 120) or when the client closes it.
"""
import argparse
import asyncio

import common
from common import LOG


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--hold", type=float, default=120.0,
                    help="seconds before the connection is closed (default %(default)s)")
    common.add_common_args(ap, "silent")
    args = ap.parse_args()
    common.setup(args)

    async def handle(reader, writer):
        async def drain_input():
            total = 0
            while data := await reader.read(65536):
                total += len(data)
            return total

        try:
            n = await asyncio.wait_for(drain_input(), args.hold)
            LOG.info("client closed after sending %d bytes", n)
        except asyncio.TimeoutError:
            LOG.info("closing after %.0f s of silence", args.hold)

    common.run(common.serve(args, args.port, handle))


if __name__ == "__main__":
    main()
