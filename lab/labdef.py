#!/usr/bin/env python3
"""The lab's peers, their ports and their expected ostls outcomes: the single source of truth.

    labdef.py ports    [--base N]                       name port kind (one per line, for lab/lab;
                                                        the peers, then SERVICES)
    labdef.py json     --dir DIR [--base N] --fingerprints FILE   writes lab.json to stdout
    labdef.py markdown [--base N]                       the README tables
    labdef.py check    [--base N] [--wait SECONDS]      does every peer's port answer (greet)?
    labdef.py readme   [--check]                        refresh the tables in lab/README.md

The expectations are the product's semantics (SPEC.md section 3), not a recording of what
some build of ostls happens to do. Every probe is run with `--cafile <ca_file>` and
`--servername <servername>`; `fingerprint` probes add `--policy fingerprint --match
<cert_sha256>`, `fingerprint-wrong` a digest that matches nothing, `verify-wrong-name`
replaces the servername by `wrong.lab.test`, `may+try-starttls` is `may` with the option
to try STARTTLS although it was not advertised.
"""
import argparse
import json
import socket
import sys
import time

DEFAULT_BASE = 25600

LEVELS = ["none", "may", "encrypt", "fingerprint", "fingerprint-wrong", "verify", "secure",
          "may+try-starttls", "verify-wrong-name"]


def E(verdict, protection, trust=None, events=(), result_type=None):
    """One expected outcome."""
    assert verdict in ("ok", "fail", "defer")
    assert protection in ("cleartext", "encrypted", "authenticated")
    assert (trust is None) == (protection == "cleartext")
    assert trust in (None, "Anonymous", "Untrusted", "Trusted", "Verified")
    assert (result_type is not None) <= (verdict == "fail")
    out = {"verdict": verdict, "protection": protection, "trust": trust, "events": list(events)}
    if result_type is not None:
        out["result_type"] = result_type
    return out


CLEAR = E("ok", "cleartext")


def same(exp, levels):
    return {lvl: exp for lvl in levels}


STRICT = ["encrypt", "fingerprint", "fingerprint-wrong", "verify", "secure"]
AUTH = ["fingerprint", "fingerprint-wrong", "verify", "secure"]


def no_starttls(events_may=(), events_fail=()):
    """Peer (or path) where STARTTLS is not usable before any handshake."""
    d = {"none": CLEAR, "may": E("ok", "cleartext", events=events_may)}
    d.update(same(E("fail", "cleartext", events=events_fail,
                    result_type="starttls-not-supported"), STRICT))
    return d


def untrusted_cert(verify_result):
    """Self-signed or expired certificate: soft-fail at may/encrypt, hard fail at verify."""
    soft = E("ok", "encrypted", "Untrusted", ["auth-soft-fail"])
    hard = E("fail", "encrypted", "Untrusted", result_type=verify_result)
    return {
        "none": CLEAR,
        "may": soft,
        "encrypt": soft,
        "fingerprint": E("ok", "authenticated", "Verified"),
        "fingerprint-wrong": E("fail", "encrypted", "Untrusted", result_type="validation-failure"),
        "verify": hard,
        "secure": hard,
    }


def trusted(events=()):
    enc = E("ok", "encrypted", "Trusted", events)
    auth = E("ok", "authenticated", "Verified", events)
    return {"none": CLEAR, "may": enc, "encrypt": enc, "fingerprint": auth, "verify": auth,
            "secure": auth}


labca_expect = trusted()
labca_expect["fingerprint-wrong"] = E("fail", "encrypted", "Trusted",
                                      result_type="validation-failure")
labca_expect["verify-wrong-name"] = E("fail", "encrypted", "Trusted",
                                      result_type="certificate-host-mismatch")

brokentls_expect = {
    "none": CLEAR,
    "may": E("ok", "cleartext", events=["fallback-to-cleartext"]),
}
brokentls_expect.update(same(E("fail", "cleartext", result_type="validation-failure"), STRICT))

legacy_expect = {
    "none": CLEAR,
    "may": E("ok", "encrypted", "Trusted"),
    "encrypt": E("ok", "encrypted", "Trusted"),
}
# R6: authenticated levels demand TLS >= 1.2 with AEAD + PFS, so the handshake is refused.
legacy_expect.update(same(E("fail", "cleartext", result_type="validation-failure"), AUTH))

mask_expect = no_starttls(["starttls-masked"], ["starttls-masked"])
mask_expect["may+try-starttls"] = E("ok", "encrypted", "Trusted",
                                    ["starttls-masked", "starttls-accepted-unadvertised"])

reset_expect = {
    "none": CLEAR,
    "may": E("ok", "cleartext", events=["reset-after-starttls", "fallback-to-cleartext"]),
}
reset_expect.update(same(E("fail", "cleartext", events=["reset-after-starttls"],
                           result_type="validation-failure"), STRICT))

inject_expect = trusted(["response-injection"])

tlscaps_expect = trusted(["starttls-after-tls"])
del tlscaps_expect["fingerprint"], tlscaps_expect["secure"]

submission_expect = {"may": E("ok", "encrypted", "Trusted"),
                     "verify": E("ok", "authenticated", "Verified")}

smtps_expect = trusted()
del smtps_expect["none"], smtps_expect["fingerprint"]

silent_expect = {"may": E("defer", "cleartext")}

# Dovecot (IMAP, POP3): only the levels of the basic matrix.
dovecot_starttls_expect = trusted()
dovecot_implicit_expect = trusted()
del dovecot_implicit_expect["none"]
dovecot_plain_expect = {lvl: e for lvl, e in no_starttls().items()
                        if lvl in ("none", "may", "encrypt", "verify")}

# The other daemons (PostgreSQL, slapd, vsftpd, InspIRCd, INN; ManageSieve in the lab's Dovecot):
# the same three shapes as the Dovecot peers.
starttls_expect = dovecot_starttls_expect
implicit_expect = dovecot_implicit_expect
plain_expect = dovecot_plain_expect
# INN's nnrpd cannot be told not to advertise STARTTLS: without TLS settings it refuses it (580).
nntp_notls_expect = {lvl: e for lvl, e in no_starttls(["starttls-refused"], ["starttls-refused"]).items()
                     if lvl in ("none", "may", "encrypt", "verify")}

MX = "mx.lab.test"
IMAP = "imap.lab.test"   # the Dovecot certificate: SAN imap, pop3 and sieve.lab.test
POP3 = "pop3.lab.test"
SIEVE = "sieve.lab.test"
SERVICES = "services.lab.test"  # one leaf, SAN postgres, ldap, ftp, irc and news.lab.test
XMPP = "xmpp.lab.test"  # the Prosody virtual host and its lab-CA leaf

# name, port offset, kind, scheme, servername, certificate presented (None: none),
# description, expectations, extra fields
PEERS = [
    ("plain", 1, "postfix", "smtp", MX, None,
     "Postfix smtpd without STARTTLS (cleartext only)", no_starttls()),
    ("selfsigned", 2, "postfix", "smtp", "selfsigned.lab.test", "selfsigned.lab.test",
     "STARTTLS with a self-signed certificate for selfsigned.lab.test",
     untrusted_cert("certificate-not-trusted")),
    ("labca", 3, "postfix", "smtp", MX, MX,
     "STARTTLS with a lab-CA certificate for mx.lab.test", labca_expect),
    ("expired", 4, "postfix", "smtp", "expired.lab.test", "expired.lab.test",
     "STARTTLS with an expired lab-CA certificate for expired.lab.test",
     untrusted_cert("certificate-expired")),
    ("brokentls", 5, "postfix", "smtp", MX, MX,
     "advertises STARTTLS and answers 220, but every TLS handshake fails after the "
     "ClientHello: RSA-only cipher list with an ECDSA-only certificate (mx.lab.test, never "
     "presented) and no TLS 1.3", brokentls_expect),
    ("legacy", 6, "postfix", "smtp", "legacy.lab.test", "legacy.lab.test",
     "STARTTLS with TLS 1.0/1.1 only and only non-forward-secret RSA key exchange "
     "(AES128-SHA, AES256-SHA), lab-CA RSA 2048 certificate for legacy.lab.test",
     legacy_expect),
    ("submission", 7, "postfix", "submission", MX, MX,
     "submission port (STARTTLS, TLS required before MAIL), lab-CA certificate for mx.lab.test",
     submission_expect),
    ("smtps", 8, "postfix", "smtps", MX, MX,
     "implicit TLS (smtpd_tls_wrappermode), lab-CA certificate for mx.lab.test", smtps_expect),
    ("strip", 9, "mitm", "smtp", MX, MX,
     "man-in-the-middle in front of labca that deletes STARTTLS from the EHLO reply "
     "(STRIPTLS); a STARTTLS sent anyway is forwarded", no_starttls()),
    ("mask", 10, "mitm", "smtp", MX, MX,
     "man-in-the-middle in front of labca that masks STARTTLS as XXXXXXXA in the EHLO reply "
     "(Cisco PIX style); a STARTTLS sent anyway is forwarded and TLS with labca works",
     mask_expect),
    ("refuse", 11, "mitm", "smtp", MX, MX,
     "man-in-the-middle in front of labca that keeps STARTTLS advertised but answers the "
     "STARTTLS command itself with 454 4.7.0", no_starttls(["starttls-refused"],
                                                            ["starttls-refused"])),
    ("reset", 12, "mitm", "smtp", MX, MX,
     "man-in-the-middle in front of labca that relays the 220 reply to STARTTLS and then "
     "closes both connections", reset_expect),
    ("inject", 13, "mitm", "smtp", MX, MX,
     "man-in-the-middle in front of labca that appends plaintext replies "
     "(250-mitm.injected, 250 AUTH PLAIN) to the 220 reply to STARTTLS in the same write "
     "(CVE-2011-0411 class); the handshake with labca then proceeds", inject_expect),
    ("tlscaps", 14, "python", "smtp", MX, MX,
     "Python SMTP server (lab-CA certificate for mx.lab.test) whose post-TLS EHLO reply "
     "still lists STARTTLS (and REQUIRETLS)", tlscaps_expect),
    ("silent", 15, "python", "smtp", MX, None,
     "accepts TCP connections and never sends anything (closes them after 120 s)",
     silent_expect),
    ("imap", 16, "dovecot", "imap", IMAP, IMAP,
     "Dovecot IMAP with STARTTLS (CAPABILITY lists STARTTLS, no LOGINDISABLED), lab-CA "
     "certificate for imap.lab.test (+ pop3.lab.test)", dovecot_starttls_expect),
    ("imap-plain", 17, "dovecot", "imap", IMAP, None,
     "Dovecot IMAP without TLS (no STARTTLS in CAPABILITY; STARTTLS answered BAD)",
     dovecot_plain_expect),
    ("imaps", 18, "dovecot", "imaps", IMAP, IMAP,
     "Dovecot IMAP with implicit TLS, lab-CA certificate for imap.lab.test",
     dovecot_implicit_expect),
    ("pop3", 19, "dovecot", "pop3", POP3, IMAP,
     "Dovecot POP3 with STLS (CAPA lists STLS), lab-CA certificate for imap.lab.test with "
     "SAN pop3.lab.test", dovecot_starttls_expect),
    ("pop3-plain", 20, "dovecot", "pop3", POP3, None,
     "Dovecot POP3 without TLS (no STLS in CAPA; STLS answered -ERR)", dovecot_plain_expect),
    ("pop3s", 21, "dovecot", "pop3s", POP3, IMAP,
     "Dovecot POP3 with implicit TLS, lab-CA certificate for imap.lab.test with SAN "
     "pop3.lab.test", dovecot_implicit_expect),
    ("postgres", 22, "postgres", "postgres", "postgres.lab.test", SERVICES,
     "PostgreSQL with ssl = on: SSLRequest answered 'S', lab-CA certificate services.lab.test "
     "(SAN postgres.lab.test)", starttls_expect),
    ("postgres-plain", 23, "postgres", "postgres", "postgres.lab.test", None,
     "PostgreSQL with ssl = off: SSLRequest answered 'N'", plain_expect),
    ("ldap", 24, "slapd", "ldap", "ldap.lab.test", SERVICES,
     "OpenLDAP slapd with TLS configured: the StartTLS extended operation succeeds, lab-CA "
     "certificate services.lab.test (SAN ldap.lab.test)", starttls_expect),
    ("ldaps", 25, "slapd", "ldaps", "ldap.lab.test", SERVICES,
     "OpenLDAP slapd, LDAP over implicit TLS (same slapd as ldap)", implicit_expect),
    ("ldap-plain", 26, "slapd", "ldap", "ldap.lab.test", None,
     "OpenLDAP slapd without TLS settings: StartTLS answered resultCode 2 (protocolError, "
     "unsupported extended operation)", plain_expect),
    ("ftp", 27, "vsftpd", "ftp", "ftp.lab.test", SERVICES,
     "vsftpd with AUTH TLS (FEAT lists AUTH TLS, AUTH TLS -> 234), TLS not required, lab-CA "
     "certificate services.lab.test (SAN ftp.lab.test)", starttls_expect),
    ("ftp-plain", 28, "vsftpd", "ftp", "ftp.lab.test", None,
     "vsftpd without TLS (no AUTH TLS in FEAT; AUTH TLS answered 530)", plain_expect),
    ("ftps", 29, "vsftpd", "ftps", "ftp.lab.test", SERVICES,
     "vsftpd with implicit TLS (implicit_ssl)", implicit_expect),
    ("sieve", 30, "dovecot", "sieve", SIEVE, IMAP,
     "Dovecot ManageSieve with STARTTLS (capability list has \"STARTTLS\"), lab-CA "
     "certificate imap.lab.test with SAN sieve.lab.test", starttls_expect),
    ("sieve-plain", 31, "dovecot", "sieve", SIEVE, None,
     "Dovecot ManageSieve without TLS (no \"STARTTLS\" in the capability list; STARTTLS "
     "answered NO)", plain_expect),
    ("irc", 32, "inspircd", "irc", "irc.lab.test", SERVICES,
     "InspIRCd with the starttls module: CAP LS lists tls, STARTTLS answered 670, lab-CA "
     "certificate services.lab.test (SAN irc.lab.test)", starttls_expect),
    ("ircs", 33, "inspircd", "ircs", "irc.lab.test", SERVICES,
     "InspIRCd, IRC over implicit TLS (same server as irc)", implicit_expect),
    ("nntp", 34, "inn", "nntp", "news.lab.test", SERVICES,
     "INN nnrpd with STARTTLS (CAPABILITIES lists STARTTLS, STARTTLS -> 382), lab-CA "
     "certificate services.lab.test (SAN news.lab.test)", starttls_expect),
    ("nntp-notls", 35, "inn", "nntp", "news.lab.test", None,
     "INN nnrpd without TLS settings: still advertises STARTTLS (nnrpd built with SASL always "
     "does before authentication) and answers it 580 Error initializing TLS", nntp_notls_expect),
    ("nntps", 36, "inn", "nntps", "news.lab.test", SERVICES,
     "INN nnrpd -S: NNTP over implicit TLS", implicit_expect),
    ("xmpp", 37, "prosody", "xmpp", XMPP, XMPP,
     "Prosody c2s with STARTTLS, required (c2s_require_encryption: <starttls><required/>), "
     "VirtualHost and lab-CA certificate xmpp.lab.test", starttls_expect),
    ("xmpp-server", 38, "prosody", "xmpp-server", XMPP, XMPP,
     "Prosody s2s port of the same instance: STARTTLS offered (and required), lab-CA "
     "certificate xmpp.lab.test", starttls_expect),
    ("xmpps", 39, "prosody", "xmpps", XMPP, XMPP,
     "Prosody c2s over direct TLS (c2s_direct_tls_ports, same instance as xmpp)",
     implicit_expect),
    ("xmpp-plain", 40, "prosody", "xmpp", XMPP, None,
     "a second Prosody instance, VirtualHost xmpp.lab.test without any certificate and "
     "c2s_require_encryption = false: no <starttls/> in the stream features", plain_expect),
]

# The application protocol each target scheme speaks (lab.json "protocol").
PROTOCOL = {"smtp": "smtp", "submission": "smtp", "smtps": "smtp", "imap": "imap",
            "imaps": "imap", "pop3": "pop3", "pop3s": "pop3", "postgres": "postgres",
            "ldap": "ldap", "ldaps": "ldap", "ftp": "ftp", "ftps": "ftp", "sieve": "sieve",
            "irc": "irc", "ircs": "irc", "nntp": "nntp", "nntps": "nntp", "xmpp": "xmpp",
            "xmpp-server": "xmpp", "xmpps": "xmpp"}

EXTRA = {"silent": {"timeout": 2}}

# Ports of the lab that are not ostls probe targets (not in lab.json's "peers"): name, port
# offset, kind. "mta-sts" is the HTTPS port of the lab's nginx serving the MTA-STS policies
# (lab/nginx); "mta-sts-dead" is a port on which nothing may listen: the policy "server" of
# the MTA-STS cases whose HTTPS server is unreachable. Their cases are in mta-sts.json.
# "haproxy" is a cleartext Postfix smtpd that expects a HAProxy PROXY protocol header first
# (smtpd_upstream_proxy_protocol = haproxy): the backend of `ostls proxy` server mode with
# proxy_protocol = true (tests/lab/test_proxy.py reads the client address it logs).
SERVICES = [
    ("mta-sts", 41, "nginx"),
    ("mta-sts-dead", 42, "dead"),
    ("haproxy", 43, "postfix"),
]

# Configured with a certificate that no handshake ever gets to present.
NEVER_PRESENTED = {"brokentls"}

# Postfix and the man-in-the-middle peers in front of Postfix can be probed by posttls-finger
# (it speaks SMTP only).
POSTTLS_FINGER_KINDS = ("postfix", "mitm")


def check_base(base):
    if not (1024 <= base <= 65535 - 100):
        sys.exit(f"labdef: port base {base} out of range (1024..65435)")
    return base


def port_of(offset, base):
    port = base + offset
    assert port != 25
    return port


def target(scheme, port):
    return f"{scheme}://[127.0.0.1]:{port}"


def cmd_ports(args):
    for name, off, kind, *_ in PEERS:
        print(name, port_of(off, args.base), kind)
    for name, off, kind in SERVICES:
        print(name, port_of(off, args.base), kind)


def build(args):
    fps = {}
    if args.fingerprints:
        with open(args.fingerprints) as f:
            fps = json.load(f)
    peers = []
    for name, off, kind, scheme, servername, cert, desc, expect in PEERS:
        fp = fps.get(cert, {}) if cert else {}
        if cert and not fp and args.fingerprints:
            sys.exit(f"labdef: no fingerprints for {cert}")
        peer = {
            "name": name,
            "kind": kind,
            "description": desc,
            "target": target(scheme, port_of(off, args.base)),
            "protocol": PROTOCOL[scheme],
            "servername": servername,
            "cert_sha256": fp.get("cert_sha256"),
            "spki_sha256": fp.get("spki_sha256"),
            "posttls_finger": kind in POSTTLS_FINGER_KINDS and PROTOCOL[scheme] == "smtp",
        }
        peer.update(EXTRA.get(name, {}))
        peer["expect"] = {lvl: expect[lvl] for lvl in LEVELS if lvl in expect}
        peers.append(peer)
    d = args.dir.rstrip("/")
    # mta_sts: the MTA-STS cases (lab/nginx/mtasts.py), written after lab.json by lab/lab up
    return {"dir": d, "ca_file": f"{d}/pki/ca.pem", "mta_sts": f"{d}/mta-sts.json",
            "peers": peers}


def cmd_json(args):
    json.dump(build(args), sys.stdout, indent=2)
    sys.stdout.write("\n")


def fmt(e):
    s = f"{e['verdict']}/{e['protection']}"
    if e["trust"]:
        s += f"/{e['trust']}"
    if "result_type" in e:
        s += f" `{e['result_type']}`"
    if e["events"]:
        s += " [" + ", ".join(e["events"]) + "]"
    return s


def peers_table(lab):
    out = ["| peer | kind | target | servername | presents |", "|---|---|---|---|---|"]
    for p, (_, _, _, _, _, cert, _, _) in zip(lab["peers"], PEERS):
        shown = f"({cert}, never presented)" if p["name"] in NEVER_PRESENTED else cert
        out.append(f"| `{p['name']}` | {p['kind']} | `{p['target']}` | {p['servername']} | "
                   f"{shown or '—'} |")
    return out


def expect_table(lab):
    used = [lvl for lvl in LEVELS if any(lvl in p["expect"] for p in lab["peers"])]
    out = ["| peer | " + " | ".join(used) + " |", "|---|" + "---|" * len(used)]
    for p in lab["peers"]:
        cells = [fmt(p["expect"][lvl]) if lvl in p["expect"] else "—" for lvl in used]
        out.append(f"| `{p['name']}` | " + " | ".join(cells) + " |")
    return out


def markdown_lab(args):
    args.fingerprints = None
    args.dir = "$OSTLS_LAB_DIR"
    return build(args)


def cmd_markdown(args):
    lab = markdown_lab(args)
    print("\n".join(peers_table(lab) + [""] + expect_table(lab)))


def cmd_readme(args):
    """Replace the generated blocks of README.md (default port base)."""
    import os
    import re
    args.base = DEFAULT_BASE
    lab = markdown_lab(args)
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "README.md")
    with open(path) as f:
        old = f.read()
    blocks = iter([peers_table(lab), expect_table(lab)])
    new = re.sub(r"(<!-- BEGIN generated by: lab/labdef.py readme[^>]*-->\n)(.*?)(<!-- END generated -->)",
                 lambda m: m.group(1) + "\n".join(next(blocks)) + "\n" + m.group(3),
                 old, flags=re.S)
    if args.check:
        if new != old:
            print("lab/README.md tables are stale: run lab/labdef.py readme", file=sys.stderr)
            return 1
        return 0
    if new != old:
        with open(path, "w") as f:
            f.write(new)
    return 0


# What the first line of a cleartext greeting starts with, for the schemes whose server
# speaks first.
GREETING = {"imap": (b"* OK",), "pop3": (b"+OK",), "sieve": (b'"IMPLEMENTATION"',),
            "ftp": (b"220",), "nntp": (b"200", b"201")}


def port_answers(port, scheme):
    """The port accepts a connection; on the cleartext ports of a server that speaks first, a
    greeting also arrives. Dovecot's master binds every port at once, but a login process
    greets only once it is connected to the auth process. Never sends anything: a command
    sent before the greeting gets "* OK Waiting for authentication process to respond.."
    from Dovecot."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            if scheme not in GREETING:
                return True
            buf = b""
            while b"\n" not in buf:
                data = s.recv(1024)
                if not data:
                    return False
                buf += data
            return buf.startswith(GREETING[scheme])
    except OSError:
        return False


def cmd_check(args):
    """One line per peer and service; exit 1 if any port does not accept connections (after
    --wait), or if something accepts connections on a port that must stay dead."""
    deadline = time.monotonic() + (args.wait or 0)
    todo = {name: (port_of(off, args.base), scheme) for name, off, _, scheme, *_ in PEERS}
    todo.update({name: (port_of(off, args.base), None) for name, off, kind in SERVICES
                 if kind != "dead"})
    up = set()
    while True:
        for name, (port, scheme) in todo.items():
            if name not in up and port_answers(port, scheme):
                up.add(name)
        if len(up) == len(todo) or time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    for name, off, kind, scheme, *_ in PEERS:
        state = "up" if name in up else "DOWN"
        print(f"{name:<14} {kind:<8} {target(scheme, port_of(off, args.base)):<36} {state}")
    busy = False
    for name, off, kind in SERVICES:
        port = port_of(off, args.base)
        if kind == "dead":
            state = "BUSY" if port_answers(port, None) else "free"
            busy |= state == "BUSY"
        else:
            state = "up" if name in up else "DOWN"
        print(f"{name:<14} {kind:<8} {target('https' if kind == 'nginx' else 'tcp', port):<36} {state}")
    return 0 if len(up) == len(todo) and not busy else 1


def main():
    import signal
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # "labdef.py check | head" is fine
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("ports", "json", "markdown", "check", "readme"):
        sp = sub.add_parser(name)
        sp.add_argument("--base", type=int, default=DEFAULT_BASE)
        if name == "readme":
            sp.add_argument("--check", action="store_true",
                            help="only report (exit 1) whether the tables are stale")
        if name == "check":
            sp.add_argument("--wait", type=float, default=0,
                            help="keep trying for this many seconds")
        if name == "json":
            sp.add_argument("--dir", required=True)
            sp.add_argument("--fingerprints", required=True)
    args = ap.parse_args()
    check_base(args.base)
    cmds = {"ports": cmd_ports, "json": cmd_json, "markdown": cmd_markdown, "check": cmd_check,
            "readme": cmd_readme}
    sys.exit(cmds[args.cmd](args) or 0)


if __name__ == "__main__":
    main()
