#!/usr/bin/env python3
"""TLS-RPT (RFC 8460, SPEC R12) against the lab: `ostls probe` of real peers with a temporary
SQLite store records every SMTP outcome; `ostls report tlsrpt` turns one domain and one UTC day
into the RFC 8460 section 4.4 report, which must conform to tests/data/tlsrpt/rfc8460-report.schema.json
and hold exactly the sessions probed: successes (labca; expired under `may`, where verification
soft-fails), certificate-expired (expired under verify), starttls-not-supported (the STRIPTLS man
in the middle under encrypt; the cleartext-only Postfix under may), validation-failure (the broken
handshake under may, R2; a DANE mismatch of the lab zone under dane, policy type tlsa with its
TLSA record), nothing for `--policy none`, --no-store or a refused connection (multi-mx's first
MX host). Then the RFC 8460 section 5.3 file name and gzip, usage errors, a store that refuses the
record (the probe defers), and `--check` against
the _smtp._tls TXT records of the lab zone (lab/dns/dnslab.py tlsrpt_cases).

    test_tlsrpt.py --ostls build/ostls
"""
import argparse
import gzip
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "report"))
from labtest import Runner  # noqa: E402
from tlsrpt_schema import problems  # noqa: E402

LAB = Path(os.environ.get("OSTLS_LAB_DIR", "/tmp/ostls-lab"))
ORG, CONTACT = "ostls lab", "tlsrpt@sender.lab.test"


def today():
    return datetime.now(timezone.utc).strftime("%Y-%m-%d")


def summary(report):
    """A report's content in a comparable form: per policy (type, policy-string, mx-host) its
    success and failure counts and its failure details (result type, host, ip, count)."""
    out = {}
    for p in report["policies"]:
        pol = p["policy"]
        key = (pol["policy-type"], tuple(pol.get("policy-string", [])), tuple(pol.get("mx-host", [])))
        details = sorted((d["result-type"], d.get("receiving-mx-hostname"), d.get("receiving-ip"),
                          d["failed-session-count"]) for d in p.get("failure-details", []))
        out[key] = (p["summary"]["total-successful-session-count"], p["summary"]["total-failure-session-count"],
                    details)
    return out


class Test:
    def __init__(self, ostls):
        self.ostls = ostls
        self.run = Runner(ostls)
        lab = json.loads((LAB / "lab.json").read_text())
        self.ca = lab["ca_file"]
        self.peers = {p["name"]: p for p in lab["peers"]}
        self.dns_conf = str(LAB / "dns" / "dns.conf")
        self.dns = json.loads((LAB / "dns" / "cases.json").read_text())
        self.cases = {c["name"]: c for c in self.dns["cases"]}

    def target(self, peer):
        return self.peers[peer]["target"]

    def domain_target(self, case):
        c = self.cases[case]
        return f"smtp://{c['domain']}:{c['port']}"

    def tlsa(self, case):
        return tuple(self.cases[case]["tlsa"])

    def mx(self, case, i=0):
        return self.cases[case]["hosts"][i]["name"]

    def ostls_run(self, *args, timeout=60):
        return subprocess.run([self.ostls, *args], capture_output=True, timeout=timeout)

    # -- recording ------------------------------------------------------------------------------

    def probes(self, store):
        dns = ["--dns-config", self.dns_conf]
        s = ["--store", store]
        verify = ["--policy", "verify", "--cafile", self.ca, "--servername", "mx.lab.test"]
        return [
            # label, probe arguments, expected verdict
            ("labca, opportunistic: success", s + [self.target("labca")], "ok"),
            ("labca, verify: success", s + verify + [self.target("labca")], "ok"),
            ("expired, may: success (verification soft-fails, R3)", s + ["--policy", "may", self.target("expired")], "ok"),
            ("expired, verify: certificate-expired", s + verify + [self.target("expired")], "fail"),
            ("strip, encrypt: starttls-not-supported", s + ["--policy", "encrypt", self.target("strip")], "fail"),
            ("plain, may: cleartext is starttls-not-supported", s + ["--policy", "may", self.target("plain")], "ok"),
            ("brokentls, may: R2 fallback is validation-failure", s + ["--policy", "may", self.target("brokentls")],
             "ok"),
            ("labca, none: not recorded (no TLS attempted)", s + ["--policy", "none", self.target("labca")], "ok"),
            ("labca, --no-store: not recorded", [self.target("labca")], "ok"),
            ("mismatch.dane, dane: tlsa validation-failure", s + dns + ["--policy", "dane", self.domain_target("mismatch")],
             "fail"),
            ("ee311.dane, opportunistic: tlsa success", s + dns + [self.domain_target("ee311")], "ok"),
            ("multi-mx.dane: the refused MX host is no TLS session", s + dns + [self.domain_target("multi-mx")], "ok"),
        ]

    def record(self, store):
        for label, args, verdict in self.probes(store):
            code, out, err, _ = self.run.probe(*args)
            problems_ = []
            if len(out) != 1:
                problems_.append(f"expected one outcome, got {len(out)}: {err.strip()}")
            elif out[0]["verdict"] != verdict:
                problems_.append(f"verdict {out[0]['verdict']}, expected {verdict}: {out[0]['failure']}")
            self.run.check(f"probe {label}", problems_)

    def check_record_failure(self, tmp):
        """A store that refuses the record (a trigger aborts every insert into outcomes) makes the
        probe defer, naming the cause, instead of losing the record silently."""
        store = str(Path(tmp) / "refusing.db")
        self.run.probe("--store", store, "--policy", "none", self.target("labca"))  # creates the schema
        db = sqlite3.connect(store)
        db.execute("CREATE TRIGGER refuse BEFORE INSERT ON outcomes "
                   "BEGIN SELECT RAISE(ABORT, 'test: outcomes refused'); END")
        db.commit()
        db.close()
        code, out, err, _ = self.run.probe("--store", store, self.target("labca"))
        found = []
        if len(out) != 1:
            found.append(f"expected one outcome: {err.strip()}")
        elif out[0]["verdict"] != "defer" or code != 75:
            found.append(f"verdict {out[0]['verdict']}, exit {code}, expected defer and 75")
        elif "cannot record the outcome for TLS-RPT" not in (out[0]["failure"] or {}).get("detail", ""):
            found.append(f"failure {out[0]['failure']}")
        self.run.check("a record the store refuses defers the probe", found)

    # -- the reports ----------------------------------------------------------------------------

    def expected(self):
        """domain -> summary() of its report."""
        local = "127.0.0.1"
        nothing = ((), ())
        return {
            local: {("no-policy-found",) + nothing: (3, 4, sorted([
                ("certificate-expired", local, local, 1),
                ("starttls-not-supported", local, local, 1),   # strip under encrypt
                ("starttls-not-supported", local, local, 1),   # plain under may (another reason)
                ("validation-failure", local, local, 1),       # brokentls, R2 fallback
            ]))},
            self.cases["mismatch"]["domain"]: {
                ("tlsa", self.tlsa("mismatch"), (self.mx("mismatch"),)):
                    (0, 1, [("validation-failure", self.mx("mismatch"), local, 1)])},
            self.cases["ee311"]["domain"]: {("tlsa", self.tlsa("ee311"), (self.mx("ee311"),)): (1, 0, [])},
            self.cases["multi-mx"]["domain"]: {
                ("tlsa", self.tlsa("multi-mx"), (self.mx("multi-mx", 1),)): (1, 0, [])},
        }

    def report(self, store, domain, day, *extra):
        r = self.ostls_run("report", "tlsrpt", "--store", store, "--domain", domain, "--date", day,
                           "--organization", ORG, "--contact-info", CONTACT, *extra)
        return r.returncode, r.stdout, r.stderr.decode(errors="replace")

    def check_reports(self, store, day):
        for domain, want in self.expected().items():
            code, out, err = self.report(store, domain, day)
            found = []
            if code != 0:
                self.run.check(f"report {domain}", [f"exit status {code}: {err.strip()}"])
                continue
            report = json.loads(out)
            found += problems(report)
            if report["organization-name"] != ORG or report["contact-info"] != CONTACT:
                found.append("organization-name or contact-info not as given")
            if report["report-id"] != f"{day}T00:00:00Z_{domain}":
                found.append(f"report-id {report['report-id']}")
            if report["date-range"] != {"start-datetime": f"{day}T00:00:00Z", "end-datetime": f"{day}T23:59:59Z"}:
                found.append(f"date-range {report['date-range']}")
            got = summary(report)
            if got != want:
                found.append(f"content {got}, expected {want}")
            for p in report["policies"]:
                if p["policy"]["policy-domain"] != domain:
                    found.append(f"policy-domain {p['policy']['policy-domain']}")
                for d in p.get("failure-details", []):
                    if d.get("sending-mta-ip") != "127.0.0.1" or not d.get("failure-reason-code"):
                        found.append(f"sending-mta-ip or failure-reason-code missing in {d}")
            self.run.check(f"report {domain}: schema, counts, grouping, date range", found)

    def check_files(self, store, day, tmp):
        domain = "127.0.0.1"
        _, plain, _ = self.report(store, domain, day)
        out_dir = Path(tmp) / "reports"
        out_dir.mkdir()
        code, out, err = self.report(store, domain, day, "--gzip", "--output", str(out_dir))
        start = int(datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=timezone.utc).timestamp())
        name = f"sender.lab.test!{domain}!{start}!{start + 86399}.json.gz"
        found = []
        if code != 0:
            found.append(f"exit status {code}: {err.strip()}")
        elif out.decode().strip() != str(out_dir / name) or not (out_dir / name).exists():
            found.append(f"wrote {out.decode().strip()}, expected {out_dir / name}")
        elif gzip.decompress((out_dir / name).read_bytes()) != plain:
            found.append("the gzip file does not hold the same report")
        self.run.check("--gzip --output DIR: RFC 8460 section 5.3 file name, gzip of the same report", found)
        file = Path(tmp) / "report.json"
        code, out, err = self.report(store, domain, day, "--output", str(file))
        self.run.check("--output FILE", [] if code == 0 and file.read_bytes() == plain else [f"exit {code}: {err}"])

    def check_usage(self, store, day):
        cases = [
            ("a day without sessions: exit 1", ["--store", store, "--domain", "127.0.0.1", "--date", "2001-01-01"], 1),
            ("a domain without sessions: exit 1", ["--store", store, "--domain", "nothing.lab.test", "--date", day], 1),
            ("not a date: exit 2", ["--store", store, "--domain", "127.0.0.1", "--date", "2026-02-30"], 2),
            ("no --date: exit 2", ["--store", store, "--domain", "127.0.0.1"], 2),
            ("--no-store: exit 2", ["--no-store", "--domain", "127.0.0.1", "--date", day], 2),
            ("--check with --domain: exit 2", ["--check", "lab.test", "--domain", "127.0.0.1"], 2),
            ("bad --contact-info: exit 2",
             ["--store", store, "--domain", "127.0.0.1", "--date", day, "--contact-info", "nobody"], 2),
        ]
        for label, args, want in cases:
            r = self.ostls_run("report", "tlsrpt", *args)
            self.run.check(f"usage: {label}",
                           [] if r.returncode == want else [f"exit {r.returncode}: {r.stderr.decode().strip()}"])

    # -- where reports go (RFC 8460 section 3) ----------------------------------------------------

    def check_signals(self):
        """Every smtp:// mail-domain probe reports signals.tlsrpt: the same reading of the same
        _smtp._tls records as --check (state present with its rua, none, invalid, bogus or
        servfail), whatever the MX lookup then does."""
        for c in self.dns.get("tlsrpt_cases", []):
            port = next(x["port"] for x in self.dns["cases"] if x["domain"] == c["domain"])
            code, out, err, _ = self.run.probe("--dns-config", self.dns_conf, "--timeout", "10",
                                               f"smtp://{c['domain']}:{port}")
            found = []
            if len(out) != 1:
                self.run.check(f"signals.tlsrpt of {c['domain']}", [f"expected one outcome: {err.strip()}"])
                continue
            sig = out[0]["signals"].get("tlsrpt")
            # --check's exit status 0: present; 75: the lookup failed (bogus, servfail); 1: no
            # record, several (none), or one that does not parse (invalid).
            if c["status"] == 0:
                expected = "present"
            elif c["status"] == 75:
                expected = c["dnssec"]
            else:
                expected = "none" if c["dnssec"] == "none" or "records begin with" in c["error"] else "invalid"
            if sig is None:
                found.append("signals.tlsrpt missing")
            else:
                if sig["state"] != expected:
                    found.append(f"state {sig['state']!r}, expected {expected!r} ({sig['error']})")
                if sig["rua"] != c["rua"]:
                    found.append(f"rua {sig['rua']}, expected {c['rua']}")
                if expected != "present" and not sig["error"]:
                    found.append("no error detail")
            self.run.check(f"probe smtp://{c['domain']}: signals.tlsrpt {expected}", found)

    def check_records(self):
        cases = self.dns.get("tlsrpt_cases")
        if not cases:
            self.run.check("--check cases", ["dns/cases.json has no tlsrpt_cases: run lab/dns/dns.sh up again"])
            return
        for c in cases:
            r = self.ostls_run("report", "tlsrpt", "--check", c["domain"], "--dns-config", self.dns_conf,
                               "--timeout", "10")
            text = r.stdout.decode()
            lines = dict(l.split(":", 1) for l in text.splitlines() if ":" in l)
            rua = [l.split(":", 1)[1].strip() for l in text.splitlines() if l.startswith("rua:")]
            found = []
            if r.returncode != c["status"]:
                found.append(f"exit {r.returncode}, expected {c['status']}")
            if lines.get("dnssec", "").strip() != c["dnssec"]:
                found.append(f"dnssec {lines.get('dnssec')!r}, expected {c['dnssec']}")
            if rua != c["rua"]:
                found.append(f"rua {rua}, expected {c['rua']}")
            if c["error"] and c["error"] not in lines.get("error", ""):
                found.append(f"error {lines.get('error')!r}, expected to mention {c['error']!r}")
            if found:
                found.append("output: " + text.strip().replace("\n", " | "))
            self.run.check(f"--check {c['domain']}: {c['dnssec']}, exit {c['status']}", found)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ostls", required=True)
    a = ap.parse_args()
    t = Test(a.ostls)
    with tempfile.TemporaryDirectory(prefix="ostls-tlsrpt-") as tmp:
        store = str(Path(tmp) / "ostls.db")
        for _ in range(2):  # a UTC midnight between the probes splits the day: record again
            day = today()
            t.record(store)
            if today() == day:
                break
            os.remove(store)
            print(f"note: the UTC day changed during the probes, recording again")
        t.check_reports(store, day)
        t.check_files(store, day, tmp)
        t.check_usage(store, day)
        t.check_record_failure(tmp)
    t.check_records()
    t.check_signals()
    return t.run.summary()


if __name__ == "__main__":
    sys.exit(main())
