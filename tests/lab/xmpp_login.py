#!/usr/bin/python3
"""A real XMPP client for test_server_role.py: slixmpp (Debian's python3-slixmpp, hence
/usr/bin/python3) logs in over STARTTLS, verifying the server's certificate against --cafile
for --tls-name, then does real work on the server: asks its software version (XEP-0092) and
sends a message to itself that must come back. Prints one JSON object and exits 0 when all of
it worked.

    xmpp_login.py --port 26001 --jid alice@xmpp.lab.test --password secret \
        --cafile ca.pem --tls-name front.lab.test
"""
import argparse
import asyncio
import json
import sys

import slixmpp


class Login(slixmpp.ClientXMPP):
    def __init__(self, args):
        super().__init__(args.jid, args.password)
        self.args = args
        self.result = {"tls": None, "session": False, "version": None, "echo": False, "errors": []}
        self.done = asyncio.Event()
        self.register_plugin("xep_0092")
        # The server's certificate is checked against this name (slixmpp uses default_domain as
        # the TLS server name; with a literal address it would have none).
        self.ca_certs = args.cafile
        self.default_domain = args.tls_name
        self.add_event_handler("session_start", self.session_start)
        self.add_event_handler("message", self.message)
        self.add_event_handler("failed_auth", lambda _: self.fail("authentication failed"))
        self.add_event_handler("ssl_invalid_cert", lambda _: self.fail("invalid certificate"))
        self.add_event_handler("connection_failed", lambda e: self.fail(f"connection failed: {e}"))
        self.add_event_handler("disconnected", lambda _: self.done.set())

    def fail(self, why):
        self.result["errors"].append(why)
        self.done.set()

    async def session_start(self, _):
        self.result["session"] = True
        ssl_object = self.transport.get_extra_info("ssl_object") if self.transport else None
        self.result["tls"] = ssl_object.version() if ssl_object else None
        try:
            self.send_presence()
            version = await self.plugin["xep_0092"].get_version(self.boundjid.domain, timeout=10)
            self.result["version"] = version["software_version"]["name"]
            self.send_message(mto=self.boundjid.full, mbody="hello over the ostls front", mtype="chat")
        except (slixmpp.exceptions.IqError, slixmpp.exceptions.IqTimeout) as e:
            self.fail(f"iq: {e!r}")
            self.disconnect()

    def message(self, msg):
        if msg["from"] == self.boundjid.full and msg["body"] == "hello over the ostls front":
            self.result["echo"] = True
            self.disconnect()


async def run(args):
    client = Login(args)
    client.connect((args.host, args.port), force_starttls=True)
    try:
        await asyncio.wait_for(client.done.wait(), args.timeout)
    except asyncio.TimeoutError:
        client.result["errors"].append("timeout")
        client.disconnect()
    return client.result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--jid", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--cafile", required=True)
    ap.add_argument("--tls-name", required=True)
    ap.add_argument("--timeout", type=float, default=20)
    args = ap.parse_args()
    result = asyncio.run(run(args))
    print(json.dumps(result))
    ok = result["tls"] and result["session"] and result["version"] and result["echo"] and not result["errors"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
