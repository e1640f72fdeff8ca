#!/usr/bin/env python3
"""DNSSEC and DANE against the lab's signed zone (lab/dns) and real Postfix peers.

Every case of $OSTLS_LAB_DIR/dns/dns.json is probed as smtp://DOMAIN:PORT under dane,
dane-only and opportunistic (and may where DNS failures matter) and checked against the
expected outcomes below — the product's semantics (SPEC R4, R8, R9; RFC 7672). Then each
TLSA record / certificate pair is cross-checked with `openssl s_client -dane_tlsa_rrdata`.
Prints one line per case and a closing 'N passed, N failed' line.
"""
import argparse
import json
import subprocess
import sys

from labtest import Runner, load_lab_dns

AUTH_EE = dict(verdict="ok", protection="authenticated", auth_method="dane-ee", trust="Verified", tlsa="secure",
               effective="dane-only", source="dane")
AUTH_TA = dict(AUTH_EE, auth_method="dane-ta")
# Probed without --cafile: outside DANE the lab CA is not a trust anchor, so TLS is "Untrusted".
MISMATCH = dict(verdict="fail", protection="encrypted", auth_method="none", trust="Untrusted", tlsa="secure",
                effective="dane-only", result_type="validation-failure")
UNUSABLE = dict(verdict="ok", protection="encrypted", auth_method="none", trust="Untrusted", tlsa="unusable",
                effective="encrypt", source="dane")
NO_STARTTLS = dict(verdict="fail", protection="cleartext", trust=None, tlsa="secure", effective="dane-only",
                   result_type="starttls-not-supported")
MAY_INSECURE = dict(verdict="ok", protection="encrypted", auth_method="none", trust="Untrusted", tlsa="insecure",
                    effective="may")
REQUIRED = dict(verdict="fail", protection="cleartext", tlsa="insecure", result_type="dane-required")
BOGUS = dict(verdict="defer", protection="cleartext", result_type="dnssec-invalid", mx_state="bogus")
SERVFAIL = dict(verdict="defer", protection="cleartext", mx_state="servfail")
NULL_MX = dict(verdict="fail", protection="cleartext", detail="null MX")
NXDOMAIN = dict(verdict="fail", protection="cleartext", detail="no such domain")


def same(exp, levels=("dane", "dane-only", "opportunistic")):
    return {lvl: exp for lvl in levels}


EXPECT = {
    "ee311": same(AUTH_EE),
    "ee301": same(AUTH_EE),
    "ee311-selfsigned": same(AUTH_EE),   # DANE-EE ignores the (missing) chain…
    "ee311-expired": same(AUTH_EE),      # …and expiry (RFC 7672 §3.1.1)
    "ta201": same(AUTH_TA),
    "ta211": same(AUTH_TA),
    "ta-wrongname": same(MISMATCH),      # DANE-TA checks names (RFC 7672 §3.2.2)
    "mismatch": same(MISMATCH),          # never cleartext, even though the handshake works
    "unusable": same(UNUSABLE),          # R8: secure but unusable → encrypt
    "nostarttls": same(NO_STARTTLS),     # TLSA present, STARTTLS stripped → fail
    "insecure": {"dane": MAY_INSECURE, "opportunistic": MAY_INSECURE, "dane-only": REQUIRED},
    "secure-mx-insecure-host": {"dane": MAY_INSECURE, "opportunistic": MAY_INSECURE, "dane-only": REQUIRED},
    "insecure-mx-secure-host": same(dict(AUTH_EE, mx_state="insecure")),  # RFC 7672 §2.2.1
    "bogus": same(BOGUS, ("dane", "dane-only", "opportunistic", "may")),   # R9: never cleartext
    "servfail": same(SERVFAIL, ("dane", "dane-only", "opportunistic", "may")),
    "multi-mx": same(dict(AUTH_EE, mx_verdicts=["defer", "ok"])),
    "implicit-mx": same(AUTH_EE),
    "cname": same(AUTH_EE),
    "null-mx": same(NULL_MX, ("dane", "opportunistic", "may")),
    "nxdomain": same(NXDOMAIN, ("dane", "opportunistic")),
}


def compare(o, exp):
    problems = []
    simple = {"verdict": o["verdict"], "protection": o["protection"], "auth_method": o["auth_method"],
              "trust": o["trust"], "effective": o["policy"]["effective"], "source": o["policy"]["source"],
              "tlsa": (o["signals"].get("tlsa") or {}).get("state"), "mx_state": o["signals"].get("mx"),
              "result_type": (o.get("failure") or {}).get("result_type")}
    for key, want in exp.items():
        if key in simple and simple[key] != want:
            problems.append(f"{key}: got {simple[key]!r}, expected {want!r}")
    if "detail" in exp and exp["detail"] not in (o.get("failure") or {}).get("detail", ""):
        problems.append(f"failure detail lacks {exp['detail']!r}: {o.get('failure')}")
    if "mx_verdicts" in exp:
        got = [m["verdict"] for m in (o.get("mx") or [])]
        if got != exp["mx_verdicts"]:
            problems.append(f"mx[] verdicts {got}, expected {exp['mx_verdicts']}")
    if o["protection"] == "authenticated" and o["auth_method"] == "none":
        problems.append("authenticated without an auth method (R7)")
    return problems


def probe(run, conf, level, target, timeout=10):
    code, out, err, _ = run.probe("--dns-config", conf, "--policy", level, "--timeout", str(timeout), target,
                                  timeout=timeout + 30)
    return code, out, err


def test_cases(run, dns):
    names = {c["name"] for c in dns["cases"]}
    for missing in sorted(set(EXPECT) - names):
        run.check(f"case {missing} present in dns.json", ["missing"])
    for case in dns["cases"]:
        exp_by_level = EXPECT.get(case["name"])
        if exp_by_level is None:
            run.check(f"case {case['name']} has expectations", ["no expectation in test_dane.py"])
            continue
        target = f"smtp://{case['domain']}:{case['port']}"
        for level, exp in exp_by_level.items():
            code, out, err = probe(run, dns["conf"], level, target)
            label = f"{case['name']:<24} {level:<13} → {exp['verdict']}/{exp['protection']}"
            run.check_outcome(label, code, out, err, exp, compare)


def openssl_dane(port, domain, rrdata, ca_file):
    """Does OpenSSL's s_client find this TLSA record matching the peer (SMTP semantics)?"""
    r = subprocess.run(["openssl", "s_client", "-starttls", "smtp", "-connect", f"127.0.0.1:{port}",
                        "-servername", domain, "-dane_tlsa_domain", domain, "-dane_tlsa_rrdata", rrdata,
                        "-dane_ee_no_namechecks", "-CAfile", ca_file],
                       input="", capture_output=True, text=True, timeout=30)
    return "Verification: OK" in r.stdout


def test_openssl_agrees(run, dns, ca_file):
    """Issue 3: for each TLSA/certificate pair, openssl s_client agrees with ostls on match."""
    for case in dns["cases"]:
        exp = EXPECT.get(case["name"], {}).get("dane")
        if not exp or exp.get("tlsa") != "secure" or not case.get("mx"):
            continue
        code, out, _ = probe(run, dns["conf"], "dane", f"smtp://{case['domain']}:{case['port']}")
        if len(out) != 1 or not out[0]["signals"].get("tlsa"):
            run.check(f"openssl agrees on {case['name']}", ["no TLSA signal from ostls"])
            continue
        o = out[0]
        host = o["host"]
        base = o["signals"]["tlsa"]["owner"].split("._tcp.", 1)[1]
        ours = o["protection"] == "authenticated"
        theirs = any(openssl_dane(case["port"], base, f"{r['usage']} {r['selector']} {r['mtype']} {r['data']}", ca_file)
                     for r in o["signals"]["tlsa"]["records"] if r["usage"] in (2, 3))
        if o["verdict"] == "fail" and o["protection"] == "cleartext":
            continue  # no TLS to compare (nostarttls)
        run.check(f"openssl s_client agrees on {case['name']:<24} ({host}): match={ours}",
                  [] if ours == theirs else [f"openssl says match={theirs}"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ostls", required=True)
    a = ap.parse_args()
    loaded = load_lab_dns()
    if loaded is None:
        return 1
    dns, lab = loaded
    run = Runner(a.ostls)
    test_cases(run, dns)
    test_openssl_agrees(run, dns, lab["ca_file"])
    return run.summary()


if __name__ == "__main__":
    sys.exit(main())
