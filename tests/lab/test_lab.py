#!/usr/bin/env python3
"""ostls probe against the real peers of the lab (lab/lab up), checked against the expected
outcomes the lab publishes in $OSTLS_LAB_DIR/lab.json, and against Postfix's posttls-finger.

Also: exit statuses, JSON Lines for several targets, R1 policy-map preemption, and hostile
peers (no CRLF, 1 MB line, endless multi-line reply, non-numeric codes, silence) served by
this script on loopback. Prints one line per case and a closing 'N passed, N failed' line.
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

from labtest import EXIT, Runner


def expectation_args(peer, case, ca):
    args = ["--cafile", ca, "--servername", peer["servername"]]
    level = case
    if case == "fingerprint":
        args += ["--match", peer["cert_sha256"] or "11" * 32]
    elif case == "fingerprint-wrong":
        level = "fingerprint"
        args += ["--match", "00" * 32]
    elif case == "may+try-starttls":
        level = "may"
        args += ["--try-starttls"]
    elif case == "verify-wrong-name":
        level = "verify"
        args[3] = "wrong.lab.test"
    args += ["--policy", level, "--timeout", str(peer.get("timeout", 20))]
    return args


def compare(outcome, exp):
    problems = []
    for key in ("verdict", "protection", "trust"):
        if key in exp and outcome.get(key) != exp[key]:
            problems.append(f"{key}: got {outcome.get(key)!r}, expected {exp[key]!r}")
    got_events = [e["type"] for e in outcome.get("events", [])]
    for ev in exp.get("events", []):
        if ev not in got_events:
            problems.append(f"event {ev} missing (got {got_events})")
    # A downgrade indicator nobody expects is a false alarm (it was, for LDAP and PostgreSQL,
    # which advertise nothing: an accepted upgrade there is not "unadvertised").
    if "starttls-accepted-unadvertised" in got_events and \
            "starttls-accepted-unadvertised" not in exp.get("events", []):
        problems.append(f"unexpected event starttls-accepted-unadvertised (got {got_events})")
    if "result_type" in exp:
        rt = (outcome.get("failure") or {}).get("result_type")
        if rt != exp["result_type"]:
            problems.append(f"result_type: got {rt!r}, expected {exp['result_type']!r}")
    # R7: never authenticated without an auth method, never an auth method without authentication.
    if (outcome.get("protection") == "authenticated") != (outcome.get("auth_method") != "none"):
        problems.append("protection and auth_method disagree (R7)")
    if outcome.get("protection") == "cleartext" and outcome.get("tls") is not None:
        problems.append("cleartext outcome carries TLS facts")
    return problems


def test_expectations(run, lab):
    for peer in lab["peers"]:
        for case, exp in peer["expect"].items():
            code, out, err, _ = run.probe(*expectation_args(peer, case, lab["ca_file"]), peer["target"])
            label = f"{peer['name']:<11} {case:<18} → {exp['verdict']}/{exp['protection']}"
            run.check_outcome(label, code, out, err, exp, compare)


def posttls_finger(root, level, hostport, servername):
    script = os.path.join(root, "lab", "posttls-finger.sh")
    if not os.access(script, os.X_OK):
        return f"error: {script} missing"
    r = subprocess.run([os.path.join(root, "lab", "posttls-finger.sh"), level, hostport, servername],
                       capture_output=True, text=True, timeout=60)
    return r.stdout.strip() or f"error: {r.stderr.strip()}"


# The one intended difference (R6): Postfix's verify level accepts a TLS 1.0, non-forward-secret
# peer as Verified; ostls refuses such crypto at every authenticated level.
R6_EXCEPTIONS = {("legacy", "verify")}


def test_posttls_finger(run, lab, root):
    for peer in lab["peers"]:
        if not peer.get("posttls_finger"):
            continue
        hostport = peer["target"].split("://", 1)[1]
        for level in ("may", "verify"):
            _, out, err, _ = run.probe("--cafile", lab["ca_file"], "--servername", peer["servername"],
                                       "--policy", level, peer["target"])
            ours = (out[0].get("trust") or "none") if out else f"error: {err.strip()}"
            theirs = posttls_finger(root, level, hostport, peer["servername"])
            label = f"posttls-finger {peer['name']:<11} {level:<6} ostls={ours} postfix={theirs}"
            if (peer["name"], level) in R6_EXCEPTIONS:
                run.check(label + " (R6: intended difference)",
                          [] if ours == "none" and theirs == "Verified" else ["the R6 difference is no longer as documented"])
            else:
                run.check(label, [] if ours == theirs else ["trust words differ"])


def openssl_negotiates(scheme, hostport, servername):
    """(version, cipher) that `openssl s_client` negotiates with the same peer, or None."""
    host, port = hostport.strip("[").replace("]", "").rsplit(":", 1)
    starttls = {"smtp": "smtp", "submission": "smtp", "imap": "imap", "pop3": "pop3", "postgres": "postgres",
                "ldap": "ldap", "ftp": "ftp", "sieve": "sieve", "irc": "irc", "nntp": "nntp", "xmpp": "xmpp",
                "xmpp-server": "xmpp-server"}.get(scheme)
    args = ["openssl", "s_client", "-brief", "-connect", f"{host}:{port}", "-servername", servername]
    if starttls:
        args += ["-starttls", starttls]
    if starttls and starttls.startswith("xmpp"):
        args += ["-xmpphost", servername]  # the stream's to=, as ostls sends it
    r = subprocess.run(args, input="", capture_output=True, text=True, timeout=30)
    # -brief prints "Protocol version: TLSv1.1" and "Ciphersuite: AES256-SHA" on stderr.
    fields = {}
    for line in r.stderr.splitlines():
        key, _, value = line.partition(": ")
        if key in ("Protocol version", "Ciphersuite"):
            fields[key] = value.strip()
    return (fields["Protocol version"], fields["Ciphersuite"]) if len(fields) == 2 else None


def test_openssl_agrees(run, lab):
    """Issue 4: ostls and openssl s_client negotiate the same TLS version and cipher per peer."""
    for peer in lab["peers"]:
        scheme, hostport = peer["target"].split("://", 1)
        if peer["expect"].get("may", {}).get("protection") != "encrypted" or peer["kind"] == "mitm":
            continue
        _, out, err, _ = run.probe("--cafile", lab["ca_file"], "--servername", peer["servername"], "--policy", "may",
                                   peer["target"])
        ours = (out[0]["tls"]["version"], out[0]["tls"]["cipher"]) if out and out[0].get("tls") else None
        theirs = openssl_negotiates(scheme, hostport, peer["servername"])
        run.check(f"openssl s_client agrees on {peer['name']:<11} {ours}",
                  [] if ours and ours == theirs else [f"openssl negotiated {theirs}"])


def peer_by_name(lab, name):
    return next(p for p in lab["peers"] if p["name"] == name)


def test_policy_map(run, lab):
    labca, plain = peer_by_name(lab, "labca"), peer_by_name(lab, "plain")
    hostport = labca["target"].split("://", 1)[1]
    plain_hostport = plain["target"].split("://", 1)[1]
    with tempfile.NamedTemporaryFile("w", suffix=".policy", delete=False) as f:
        f.write(f"# R1: explicit entries preempt --policy\n{hostport} verify servername=mx.lab.test\n"
                f"{plain_hostport} encrypt\n")
        path = f.name
    try:
        code, out, err, _ = run.probe("--cafile", lab["ca_file"], "--policy", "may", "--policy-map", path,
                                      labca["target"], plain["target"])
        problems = []
        if len(out) != 2:
            problems.append(f"expected two JSON lines (JSON Lines), got {len(out)}: {err}")
        else:
            a, b = out
            if (a["policy"]["source"], a["policy"]["effective"], a["trust"], a["verdict"]) != \
                    ("policy-map", "verify", "Verified", "ok"):
                problems.append(f"labca: {a['policy']} trust={a['trust']} verdict={a['verdict']}")
            if (b["policy"]["source"], b["verdict"]) != ("policy-map", "fail"):
                problems.append(f"plain: {b['policy']} verdict={b['verdict']}")
        if code != 1:
            problems.append(f"exit status {code}, expected 1 (one target failed)")
        run.check("policy map preempts --policy (R1), JSON Lines, exit 1", problems)
    finally:
        os.unlink(path)


class Hostile(threading.Thread):
    """A misbehaving SMTP server on 127.0.0.1: one behaviour per instance."""

    def __init__(self, mode):
        super().__init__(daemon=True)
        self.mode = mode
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]

    def run(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn):
        try:
            if self.mode == "no-crlf":
                conn.sendall(b"220 greeting that never ends")
                time.sleep(30)
            elif self.mode == "long-line":
                conn.sendall(b"220 " + b"x" * (1 << 20) + b"\r\n")
                time.sleep(5)
            elif self.mode == "endless":
                conn.sendall(b"220 hi\r\n")
                conn.recv(1024)
                for _ in range(10000):
                    conn.sendall(b"250-again\r\n")
                time.sleep(5)
            elif self.mode == "non-numeric":
                conn.sendall(b"2x0 hello\r\n")
                time.sleep(5)
        except OSError:
            pass
        finally:
            conn.close()


def test_hostile(run):
    cases = [("no-crlf", "defer", "timeout", 2), ("long-line", "fail", "line", 10),
             ("endless", "fail", "reply exceeds", 10), ("non-numeric", "fail", "malformed", 10)]
    for mode, verdict, word, timeout in cases:
        server = Hostile(mode)
        server.start()
        code, out, err, elapsed = run.probe("--timeout", str(timeout), f"smtp://[127.0.0.1]:{server.port}",
                                            timeout=timeout + 30)
        problems = []
        if len(out) != 1:
            problems.append(f"no JSON outcome: {err.strip()}")
        else:
            o = out[0]
            detail = (o.get("failure") or {}).get("detail", "")
            if o["verdict"] != verdict:
                problems.append(f"verdict {o['verdict']}, expected {verdict}")
            if word not in detail and not (word == "timeout" and "deadline" in detail):
                problems.append(f"failure detail {detail!r} does not say {word!r}")
        if code != EXIT[verdict]:
            problems.append(f"exit status {code}")
        if elapsed > timeout + 2:
            problems.append(f"took {elapsed:.1f}s, beyond the {timeout}s timeout")
        run.check(f"hostile peer {mode:<12} → {verdict} within {timeout}s ({elapsed:.2f}s)", problems)
        server.sock.close()


def test_usage(run):
    for args, label in ((["--policy", "strict", "smtp://[127.0.0.1]"], "unknown level"),
                        (["--store", "/nonexistent-dir/x/ostls.db", "smtp://[127.0.0.1]"], "unopenable store"),
                        (["example.org"], "target without scheme"),
                        (["--policy", "fingerprint", "smtp://[127.0.0.1]"], "fingerprint without --match")):
        code, out, err, _ = run.probe(*args)
        run.check(f"usage: {label} → exit 2", [] if code == 2 and not out else [f"exit {code}, stdout {out}"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ostls", required=True)
    ap.add_argument("--root", required=True)
    a = ap.parse_args()
    lab_dir = os.environ.get("OSTLS_LAB_DIR", "/tmp/ostls-lab")
    try:
        with open(os.path.join(lab_dir, "lab.json")) as f:
            lab = json.load(f)
    except OSError as e:
        print(f"the lab is not running ({e}); start it with lab/lab up")
        print("0 passed, 1 failed")
        return 1
    run = Runner(a.ostls)
    test_expectations(run, lab)
    test_posttls_finger(run, lab, a.root)
    test_openssl_agrees(run, lab)
    test_policy_map(run, lab)
    test_hostile(run)
    test_usage(run)
    return run.summary()


if __name__ == "__main__":
    sys.exit(main())
