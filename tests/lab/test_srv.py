#!/usr/bin/env python3
"""DANE beyond SMTP: `ostls probe --srv` against the lab's signed SRV cases (lab/dns) and real
Dovecot, Postfix and Prosody peers.

Every SRV case of $OSTLS_LAB_DIR/dns/dns.json (`srv_cases`) is probed as SCHEME://DOMAIN under
dane, dane-only and opportunistic (and may / verify where they show something) and checked
against the expected outcomes below: RFC 2782 (order, "." target), RFC 7673 §3 (DNSSEC state of
the SRV RRset, the target's addresses and its TLSA at _port._tcp.<target>), §4.1 (reference
identifiers and SNI), SPEC R4 and R9, and the `srv` attempts list. Then each DANE-authenticated
case is cross-checked with `openssl s_client -dane_tlsa_rrdata`, and the XMPP stream's `to`
is checked to be the service domain (RFC 6120) while DANE uses the SRV target.
Prints one line per case and a closing 'N passed, N failed' line.
"""
import argparse
import json
import re
import subprocess
import sys

from labtest import Runner, load_lab_dns

AUTH_EE = dict(verdict="ok", protection="authenticated", auth_method="dane-ee", trust="Verified", tlsa="secure",
               effective="dane-only", source="dane", srv_state="secure", servername="target")
AUTH_TA = dict(AUTH_EE, auth_method="dane-ta")
# Probed without --cafile: outside DANE the lab CA is not a trust anchor, so TLS is "Untrusted".
MISMATCH = dict(verdict="fail", protection="encrypted", auth_method="none", trust="Untrusted", tlsa="secure",
                effective="dane-only", result_type="validation-failure", srv_state="secure")
# RFC 7673 §3.1: no DANE after an insecure SRV RRset; §4.1: the service domain is the SNI.
INSECURE_SRV = dict(verdict="ok", protection="encrypted", auth_method="none", trust="Untrusted", tlsa="insecure",
                    effective="may", srv_state="insecure", servername="domain")
# RFC 7673 §3.2: a secure SRV RRset, but the target's addresses are insecure: no TLSA lookup.
INSECURE_HOST = dict(INSECURE_SRV, srv_state="secure", servername="target")
REQUIRED = dict(verdict="fail", protection="cleartext", tlsa="insecure", result_type="dane-required")
BOGUS = dict(verdict="defer", protection="cleartext", result_type="dnssec-invalid", srv_state="bogus", srv_tried=0)
SERVFAIL = dict(verdict="defer", protection="cleartext", srv_state="servfail", srv_tried=0)
NOT_OFFERED = dict(verdict="fail", protection="cleartext", srv_state="secure", detail="not offered", srv_tried=0)
# verify with the lab CA: PKIX with RFC 7673 §4.1 reference identifiers
PKIX_TARGET = dict(verdict="ok", protection="authenticated", auth_method="pkix", trust="Verified",
                   srv_state="secure", servername="target")
PKIX_DOMAIN_ONLY = dict(verdict="fail", protection="encrypted", auth_method="none", trust="Trusted",
                        srv_state="insecure", servername="domain", result_type="certificate-host-mismatch")


def same(exp, levels=("dane", "dane-only", "opportunistic")):
    return {lvl: exp for lvl in levels}


EXPECT = {
    "srv-imap": same(AUTH_EE),
    "srv-imaps": same(AUTH_EE),
    "srv-pop3": same(AUTH_EE),
    "srv-pop3s": same(AUTH_EE),
    "srv-submission": same(AUTH_EE),
    "srv-submissions": same(AUTH_EE),
    "srv-xmpp-ee": same(AUTH_EE),                     # with --xmpp-domain (dns.json xmpp_domain)
    "srv-xmpp-ta": same(AUTH_TA),                     # name check via the service domain only
    "srv-xmpp-server": same(AUTH_EE),
    "srv-ta-target": dict(same(AUTH_TA), verify=PKIX_TARGET),  # name check via the SRV target
    "srv-ta-wrongname": same(MISMATCH),
    "srv-mismatch": same(MISMATCH),                   # never cleartext, never a downgrade
    "srv-insecure": {"dane": INSECURE_SRV, "opportunistic": INSECURE_SRV,
                     "dane-only": dict(REQUIRED, srv_state="insecure"), "verify": PKIX_DOMAIN_ONLY},
    "srv-insecure-host": {"dane": INSECURE_HOST, "opportunistic": INSECURE_HOST,
                          "dane-only": dict(REQUIRED, srv_state="secure")},
    "srv-dot": same(NOT_OFFERED, ("dane", "opportunistic", "may")),
    "srv-none": same(dict(AUTH_EE, srv_state="none", servername="domain", fallback=True)),
    "srv-multi": same(dict(AUTH_EE, srv_verdicts=["defer", "ok"])),
    "srv-bogus": same(BOGUS, ("dane", "dane-only", "opportunistic", "may")),       # R9
    "srv-servfail": same(SERVFAIL, ("dane", "dane-only", "opportunistic", "may")),
}


def compare(case, o, exp):
    problems = []
    simple = {"verdict": o["verdict"], "protection": o["protection"], "auth_method": o["auth_method"],
              "trust": o["trust"], "effective": o["policy"]["effective"], "source": o["policy"]["source"],
              "tlsa": (o["signals"].get("tlsa") or {}).get("state"), "srv_state": o["signals"].get("srv"),
              "result_type": (o.get("failure") or {}).get("result_type")}
    for key, want in exp.items():
        if key in simple and simple[key] != want:
            problems.append(f"{key}: got {simple[key]!r}, expected {want!r}")
    if "detail" in exp and exp["detail"] not in (o.get("failure") or {}).get("detail", ""):
        problems.append(f"failure detail lacks {exp['detail']!r}: {o.get('failure')}")
    if o["protection"] == "authenticated" and o["auth_method"] == "none":
        problems.append("authenticated without an auth method (R7)")
    if o.get("mx") is not None:
        problems.append(f"mx is {o['mx']!r} for an --srv target, expected null")

    tried = o.get("srv")
    if not isinstance(tried, list):
        return problems + [f"srv is {tried!r}, expected a list"]
    targets = case["targets"]
    if exp.get("fallback"):
        want = [(case["domain"], case["port"], None, None)]
    elif "srv_tried" in exp:
        want = []
    else:
        n = len(exp.get("srv_verdicts", [o["verdict"]]))
        want = [(t["name"], t["port"], t["priority"], t["weight"]) for t in targets[:n]]
    got = [(t["target"], t["port"], t["priority"], t["weight"]) for t in tried]
    if got != want:
        problems.append(f"srv attempts {got}, expected {want}")
    verdicts = [t["verdict"] for t in tried]
    if "srv_verdicts" in exp and verdicts != exp["srv_verdicts"]:
        problems.append(f"srv verdicts {verdicts}, expected {exp['srv_verdicts']}")
    if tried and (tried[-1]["verdict"], tried[-1]["protection"]) != (o["verdict"], o["protection"]):
        problems.append("the last srv attempt differs from the outcome")

    if "servername" in exp:
        want_name = case["domain"] if exp["servername"] == "domain" else targets[-1]["name"]
        if o["servername"] != want_name:
            problems.append(f"servername (SNI) {o['servername']!r}, expected {want_name!r} (RFC 7673 §4.1)")
    if o["verdict"] != "defer" and tried and o["host"] != tried[-1]["target"]:
        problems.append(f"host {o['host']!r} is not the last SRV target {tried[-1]['target']!r}")
    if exp.get("tlsa") == "secure" and not exp.get("fallback"):
        owner = (o["signals"].get("tlsa") or {}).get("owner")
        want_owner = f"_{targets[-1]['port']}._tcp.{targets[-1]['name']}"
        if owner != want_owner:
            problems.append(f"TLSA owner {owner!r}, expected {want_owner!r} (RFC 7673 §3.3)")
    return problems


def target_of(case):
    # A written port serves only the no-SRV fallback; every other case relies on the SRV port.
    port = f":{case['port']}" if case["srv_kind"] == "none" else ""
    return f"{case['scheme']}://{case['domain']}{port}"


def probe(run, conf, case, level, ca_file, *extra, timeout=10):
    args = ["--srv", "--dns-config", conf, "--policy", level, "--timeout", str(timeout)]
    if case.get("xmpp_domain"):
        args += ["--xmpp-domain", case["xmpp_domain"]]
    if level in ("verify", "secure"):
        args += ["--cafile", ca_file]
    code, out, err, _ = run.probe(*args, *extra, target_of(case), timeout=timeout + 30)
    return code, out, err


def test_cases(run, dns, ca_file):
    cases = dns.get("srv_cases") or []
    names = {c["name"] for c in cases}
    for missing in sorted(set(EXPECT) - names):
        run.check(f"SRV case {missing} present in dns.json", ["missing"])
    for case in cases:
        exp_by_level = EXPECT.get(case["name"])
        if exp_by_level is None:
            run.check(f"SRV case {case['name']} has expectations", ["no expectation in test_srv.py"])
            continue
        for level, exp in exp_by_level.items():
            code, out, err = probe(run, dns["conf"], case, level, ca_file)
            label = f"{case['name']:<18} {level:<13} → {exp['verdict']}/{exp['protection']}"
            run.check_outcome(label, code, out, err, exp, lambda o, e, c=case: compare(c, o, e))


def test_xmpp_stream_to(run, dns, ca_file):
    """RFC 6120 §4.7.2 / RFC 7673 §4.1: the stream `to` is the service domain, SNI the target."""
    case = next((c for c in dns.get("srv_cases") or [] if c["name"] == "srv-xmpp-ta"), None)
    if case is None:
        run.check("XMPP stream 'to' is the service domain", ["no srv-xmpp-ta case"])
        return
    code, out, err = probe(run, dns["conf"], case, "dane", ca_file, "-v")
    problems = []
    m = re.search(r"<stream:stream[^>]* to='([^']*)'", err)
    if not m or m.group(1) != case["domain"]:
        problems.append(f"stream to={m.group(1) if m else None!r}, expected {case['domain']!r}")
    if len(out) != 1 or out[0]["servername"] != case["targets"][0]["name"]:
        problems.append(f"SNI {out[0]['servername'] if out else None!r}, expected the SRV target")
    run.check(f"XMPP stream to={case['domain']}, SNI and TLSA base = the SRV target", problems)


def test_usage(run):
    """--srv on a target it cannot serve is a usage error (exit 2), never a silent ordinary probe."""
    for target in ("smtp://example.org", "xmpps://example.org", "imap://[127.0.0.1]:143", "ldap://example.org"):
        r = subprocess.run([run.ostls, "probe", "--no-store", "--srv", "--json", target], capture_output=True, text=True,
                           timeout=30)
        problems = [] if r.returncode == 2 and "--srv" in r.stderr else [f"exit {r.returncode}, stderr {r.stderr!r}"]
        run.check(f"--srv {target} is a usage error", problems)


def openssl_dane(case, target, rrdata, base):
    args = ["openssl", "s_client", "-connect", f"127.0.0.1:{target['port']}", "-servername", base,
            "-dane_tlsa_domain", base, "-dane_tlsa_rrdata", rrdata, "-dane_ee_no_namechecks",
            "-no-CAfile", "-no-CApath", "-no-CAstore"]
    starttls = {"imap": "imap", "pop3": "pop3", "submission": "smtp", "xmpp": "xmpp",
                "xmpp-server": "xmpp-server"}.get(case["scheme"])
    if starttls:
        args += ["-starttls", starttls]
    if case["scheme"].startswith("xmpp"):
        args += ["-xmpphost", case.get("xmpp_domain") or case["domain"]]
    r = subprocess.run(args, input="", capture_output=True, text=True, timeout=30)
    return "Verification: OK" in r.stdout


def test_openssl_agrees(run, dns, ca_file):
    """For every SRV case ostls authenticates by DANE, openssl s_client matches the same record."""
    for case in dns.get("srv_cases") or []:
        exp = EXPECT.get(case["name"], {}).get("dane")
        if not exp or exp["protection"] != "authenticated":
            continue
        code, out, _ = probe(run, dns["conf"], case, "dane", ca_file)
        if len(out) != 1 or not out[0]["signals"].get("tlsa") or not (out[0].get("tls") or {}).get("peer"):
            run.check(f"openssl agrees on {case['name']}", ["no TLSA signal or TLS from ostls"])
            continue
        o = out[0]
        tried = next(t for t in case["targets"] if t["name"] == o["host"]) if case["srv_kind"] != "none" \
            else case["targets"][0]
        # DANE-TA checks a name: the one of the reference identifiers the certificate carries
        names = [o["host"], case["domain"]]
        subject = o["tls"]["peer"]["subject"]
        base = next((n for n in names if f"CN={n}" in subject), o["host"])
        theirs = any(openssl_dane(case, tried, f"{r['usage']} {r['selector']} {r['mtype']} {r['data']}", base)
                     for r in o["signals"]["tlsa"]["records"])
        run.check(f"openssl s_client agrees on {case['name']:<18} ({o['host']}:{tried['port']})",
                  [] if theirs else ["openssl found no matching TLSA record"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ostls", required=True)
    a = ap.parse_args()
    loaded = load_lab_dns()
    if loaded is None:
        return 1
    dns, lab = loaded
    run = Runner(a.ostls)
    test_cases(run, dns, lab["ca_file"])
    test_xmpp_stream_to(run, dns, lab["ca_file"])
    test_usage(run)
    test_openssl_agrees(run, dns, lab["ca_file"])
    return run.summary()


if __name__ == "__main__":
    sys.exit(main())
