#!/usr/bin/env python3
"""MTA-STS (RFC 8461) against the lab: every case of lab/nginx/mtasts.py (mta-sts.json) probed
as `ostls probe --policy opportunistic smtp://<case domain>:<labca port>` through the lab's
signed zone and its nginx, each with its expected verdict, protection, trust, auth_method,
failure result type and `signals.mta_sts` (mode, mx, ids, source, error type):

- cold (an empty SQLite store: the policy is fetched) and cached (the same store again: the
  policy comes from the cache; to prove it, the second probe is pointed at the dead port, where
  any fetch would fail), and with --no-store (fetched every time, nothing kept);
- rotate: the TXT id changes (mtasts.py switch) → the policy is fetched again and the new mode
  applies; back again;
- unreachable: no cache → as if no MTA-STS; a policy cached once from the prime port still
  applies while the policy host is down, also after the TXT id changed (refresh tried, failed);
- unreachable-short: the cached policy's max_age (15 s) runs out → as if no MTA-STS;
- dane-wins: DANE preempts MTA-STS (RFC 8461 section 2);
- TOFU: every run with a store pins the MX host's key at the first encrypted contact; later
  probes of a case whose policy is not enforced are therefore `tofu`-authenticated, while an
  enforced policy still shows `mta-sts` (it ranks above the pin);
- TLS-RPT: `ostls report tlsrpt` of the recorded probes has policy type `sts` with the policy's
  lines, and the fetch failures under their RFC 8460 result types.

    test_mtasts.py --ostls build/ostls
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from labtest import Runner  # noqa: E402

LAB = Path(os.environ.get("OSTLS_LAB_DIR", "/tmp/ostls-lab"))
SWITCH = HERE.parent.parent / "lab" / "nginx" / "mtasts.py"


class Test:
    def __init__(self, ostls):
        self.ostls = ostls
        self.run = Runner(ostls)
        self.meta = json.loads((LAB / "mta-sts.json").read_text())
        self.cases = {c["name"]: c for c in self.meta["cases"]}
        self.variant = self.meta["variant"]
        self.tmp = tempfile.TemporaryDirectory(prefix="ostls-mtasts-")
        self.pinned = set()  # stores holding a TOFU pin of the MX host

    def store(self, name):
        return str(Path(self.tmp.name) / f"{name}.db")

    def state(self, name):
        """The case as the current variant has it."""
        c = self.cases[name]
        if not c.get("variants"):
            return c
        return dict(c, **c["variants"][str(self.variant)])

    def probe(self, name, store=None, port=None):
        """(exit, outcomes, stderr, seconds, pinned before): `pinned` says whether the store held
        a TOFU pin for the MX host before this probe (the first encrypted contact pins it)."""
        c = self.cases[name]
        args = ["--cafile", self.meta["ca_file"], "--dns-config", self.meta["dns_conf"],
                "--mta-sts-port", str(port or self.meta["port"])]
        if store:
            args += ["--store", store]
        pinned = store in self.pinned
        got = self.run.probe(*args, c["target"])
        if store and any(o.get("tls") for o in got[1]):
            self.pinned.add(store)
        return got + (pinned,)

    def switch(self, variant):
        subprocess.run([sys.executable, str(SWITCH), "switch", "--lab", str(LAB), "--variant", str(variant)],
                       check=True, capture_output=True, timeout=60)
        self.variant = variant

    # -- comparing -------------------------------------------------------------------------------

    def check(self, label, name, got, expect, source, error_type=None, policy=None, txt_id=None,
              policy_id=None):
        """One probe's outcome against the expectation of mta-sts.json (`expect`), the policy
        in force (`policy`: mode/mx/max_age, None for none), where it came from (`source`:
        fetched | cache | None) and the fetch error's type."""
        code, out, err, _, pinned = got
        if pinned and expect.get("verdict") == "ok" and expect.get("auth_method") == "none":
            # SPEC `opportunistic`: … > MTA-STS enforce > TOFU pin > encryption. Where no policy
            # is enforced, the pin the first contact left authenticates the peer.
            expect = dict(expect, protection="authenticated", trust="Verified", auth_method="tofu")
        if len(out) != 1:
            self.run.check(label, [f"expected one outcome, got {len(out)}: {err.strip()}"])
            return None
        o = out[0]
        found = []
        for key in ("verdict", "protection", "trust", "auth_method"):
            if key in expect and o[key] != expect[key]:
                found.append(f"{key} {o[key]!r}, expected {expect[key]!r}")
        if "result_type" in expect and (o["failure"] or {}).get("result_type") != expect["result_type"]:
            found.append(f"failure {o['failure']}, expected result type {expect['result_type']}")
        if code != {"ok": 0, "fail": 1, "defer": 75}[expect["verdict"]]:
            found.append(f"exit status {code}")
        sts = o["signals"].get("mta_sts")
        if sts is None:
            found.append("signals.mta_sts missing")
        else:
            state = self.state(name)
            want_txt = txt_id or state["id"]
            if sts["txt_id"] != want_txt:
                found.append(f"txt_id {sts['txt_id']!r}, expected {want_txt!r}")
            if sts["source"] != source:
                found.append(f"source {sts['source']!r}, expected {source!r}")
            if sts["error_type"] != error_type:
                found.append(f"error_type {sts['error_type']!r} ({sts['error']}), expected {error_type!r}")
            if error_type and not sts["error"]:
                found.append("error_type without an error detail")
            if policy:
                got_policy = {"mode": sts["mode"], "mx": sts["mx"], "max_age": sts["max_age"]}
                if got_policy != policy:
                    found.append(f"policy {got_policy}, expected {policy}")
                if policy_id and sts["policy_id"] != policy_id:
                    found.append(f"policy_id {sts['policy_id']!r}, expected {policy_id!r}")
            elif sts["mode"] is not None:
                found.append(f"a policy ({sts['mode']}) applied where none should")
        if o["auth_method"] == "mta-sts" and o["policy"]["source"] != "mta-sts":
            found.append(f"policy.source {o['policy']['source']} with auth_method mta-sts")
        self.run.check(label, found)
        return o

    # -- the cases -------------------------------------------------------------------------------

    def plain_cases(self):
        """Cases whose policy host answers on the lab port and whose policy does not change."""
        return [n for n, c in self.cases.items() if not c.get("variants")]

    def check_cold_and_cached(self):
        dead = self.meta["dead_port"]
        for name in self.plain_cases():
            c = self.state(name)
            exp = c["expect"]["opportunistic"]
            ok = c["fetch"] == "ok"
            error = None if ok else c["fetch"]
            store = self.store(name)
            self.check(f"{name}: cold ({c['fetch']}) → {exp['verdict']}/{exp.get('auth_method')}", name,
                       self.probe(name, store), exp, "fetched" if ok else None, error, c["policy"],
                       policy_id=c["id"])
            # Cached: the policy host is now the dead port. A client that fetched again would
            # get sts-policy-fetch-error; one that cached nothing shows no policy.
            self.check(f"{name}: cached (policy host unreachable, TXT id unchanged) → same outcome", name,
                       self.probe(name, store, port=dead), exp, "cache" if ok else None,
                       None if ok else "sts-policy-fetch-error", c["policy"], policy_id=c["id"])
            if name == "enforce":
                self.check(f"{name}: --no-store fetches every time", name, self.probe(name), exp, "fetched",
                           None, c["policy"])
                self.check(f"{name}: --no-store keeps nothing (dead port: fetch error, no policy)", name,
                           self.probe(name, port=dead),
                           self.cases["unreachable"]["expect"]["opportunistic"], None, "sts-policy-fetch-error")

    def check_rotate(self):
        name = "rotate"
        store = self.store(name)
        variants = self.cases[name]["variants"]
        for step, variant in enumerate((1, 2, 1)):
            if self.variant != variant:
                self.switch(variant)
            v = variants[str(variant)]
            self.check(f"rotate: variant {variant} (id {v['id']}), step {step}: fetched → "
                       f"{v['policy']['mode']}", name, self.probe(name, store),
                       v["expect"]["opportunistic"], "fetched", None, v["policy"], policy_id=v["id"])
            self.check(f"rotate: variant {variant} again: cached", name, self.probe(name, store),
                       v["expect"]["opportunistic"], "cache", None, v["policy"], policy_id=v["id"])

    def check_unreachable(self):
        name = "unreachable"
        c = self.cases[name]
        store = self.store(name)
        exp = c["expect"]
        if self.variant != 1:
            self.switch(1)
        v1, v2 = c["variants"]["1"], c["variants"]["2"]
        self.check("unreachable: no cache → fetch error, as if no MTA-STS", name, self.probe(name, store, port=c["https_port"]),
                   exp["opportunistic"], None, "sts-policy-fetch-error")
        self.check("unreachable: primed from the prime port → fetched, enforced", name,
                   self.probe(name, store, port=c["prime_port"]), exp["opportunistic+cached"], "fetched", None,
                   c["policy"], policy_id=v1["id"])
        self.check("unreachable: policy host down, id unchanged → the cached policy applies", name,
                   self.probe(name, store, port=c["https_port"]), exp["opportunistic+cached"], "cache", None,
                   c["policy"], policy_id=v1["id"])
        self.switch(2)
        self.check("unreachable: TXT id changed, refresh fails → the cached policy still applies (§5.1)", name,
                   self.probe(name, store, port=c["https_port"]), exp["opportunistic+cached"], "cache",
                   "sts-policy-fetch-error", c["policy"], txt_id=v2["id"], policy_id=v1["id"])
        self.switch(1)

    def check_expiry(self):
        name = "unreachable-short"
        c = self.cases[name]
        store = self.store(name)
        exp = c["expect"]
        if self.variant != 1:
            self.switch(1)
        fetched_at = time.time()
        self.check("unreachable-short: primed (max_age 15)", name, self.probe(name, store, port=c["prime_port"]),
                   exp["opportunistic+cached"], "fetched", None, c["policy"])
        self.check("unreachable-short: within max_age → cached policy", name,
                   self.probe(name, store, port=c["https_port"]), exp["opportunistic+cached"], "cache", None,
                   c["policy"])
        time.sleep(max(0.0, fetched_at + c["policy"]["max_age"] + 1.5 - time.time()))
        self.check("unreachable-short: max_age passed, refresh fails → as if no MTA-STS", name,
                   self.probe(name, store, port=c["https_port"]), exp["opportunistic+cache-expired"], None,
                   "sts-policy-fetch-error")

    def check_explicit_policy_preempts(self):
        """R1: an explicit level ignores MTA-STS (no lookup, no signal)."""
        c = self.cases["enforce-mismatch"]
        code, out, err, _ = self.run.probe("--policy", "may", "--cafile", self.meta["ca_file"], "--dns-config",
                                           self.meta["dns_conf"], "--mta-sts-port", str(self.meta["port"]),
                                           c["target"])
        found = []
        if len(out) != 1:
            found.append(f"expected one outcome: {err.strip()}")
        elif out[0]["verdict"] != "ok" or out[0]["signals"]["mta_sts"] is not None:
            found.append(f"verdict {out[0]['verdict']}, mta_sts {out[0]['signals']['mta_sts']}")
        self.run.check("enforce-mismatch under --policy may: MTA-STS not consulted (R1)", found)

    def check_tlsrpt(self):
        """The stores of the cold/cached runs hold TLS-RPT records: policy type sts with the policy
        lines for enforce, the fetch failures with their result types."""
        day = datetime.now(timezone.utc).strftime("%Y-%m-%d")
        want = {
            "enforce": ("sts", 2, 0, []),
            "testing": ("sts", 2, 0, []),
            "enforce-mismatch": ("sts", 0, 2, ["validation-failure"]),
            # the second probe of each went to the dead port: sts-policy-fetch-error
            "malformed": ("sts", 0, 2, ["sts-policy-fetch-error", "sts-policy-invalid"]),
            "redirect": ("sts", 0, 2, ["sts-policy-fetch-error"]),
            "webpki-invalid": ("sts", 0, 2, ["sts-policy-fetch-error", "sts-webpki-invalid"]),
            "none": ("no-policy-found", 2, 0, []),
            "dane-wins": ("tlsa", 2, 0, []),
        }
        for name, (ptype, ok, failed, types) in want.items():
            c = self.cases[name]
            r = subprocess.run([self.ostls, "report", "tlsrpt", "--store", self.store(name), "--domain", c["domain"],
                                "--date", day, "--organization", "ostls lab", "--contact-info", "tlsrpt@sender.lab.test"],
                               capture_output=True, text=True, timeout=60)
            found = []
            if r.returncode != 0:
                self.run.check(f"tlsrpt {name}", [f"exit {r.returncode}: {r.stderr.strip()}"])
                continue
            report = json.loads(r.stdout)
            if len(report["policies"]) != 1:
                found.append(f"{len(report['policies'])} policies: {report['policies']}")
            else:
                p = report["policies"][0]
                s = p["summary"]
                got_types = sorted({d["result-type"] for d in p.get("failure-details", [])})
                if (p["policy"]["policy-type"], s["total-successful-session-count"],
                        s["total-failure-session-count"], got_types) != (ptype, ok, failed, types):
                    found.append(f"got {p}")
                if ptype == "sts" and c["fetch"] == "ok":
                    lines = p["policy"].get("policy-string", [])
                    pol = c["policy"]
                    expect_lines = (["version: STSv1", f"mode: {pol['mode']}"] + [f"mx: {m}" for m in pol["mx"]]
                                    + [f"max_age: {pol['max_age']}"])
                    if lines != expect_lines or p["policy"].get("mx-host") != pol["mx"]:
                        found.append(f"policy-string {lines}, mx-host {p['policy'].get('mx-host')}")
            self.run.check(f"tlsrpt {name}: {ptype}, {ok} successes, {failed} failures {types}", found)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ostls", required=True)
    a = ap.parse_args()
    if not (LAB / "mta-sts.json").exists():
        print(f"FAIL {LAB}/mta-sts.json is missing: is the lab up (lab/lab up)?")
        return 1
    t = Test(a.ostls)
    try:
        if t.variant != 1:
            t.switch(1)
        t.check_cold_and_cached()
        t.check_explicit_policy_preempts()
        t.check_tlsrpt()
        t.check_rotate()
        t.check_unreachable()
        t.check_expiry()
    finally:
        if t.variant != 1:
            t.switch(1)
        t.tmp.cleanup()
    return t.run.summary()


if __name__ == "__main__":
    sys.exit(main())
