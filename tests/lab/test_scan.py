#!/usr/bin/env python3
"""`ostls scan` against the lab (issue 7): real peers and many listeners of our own.

1. Every lab peer (all protocols), every DNS/DANE case of the signed zone and every MTA-STS case
   (fetched, and from a primed policy cache), scanned at once, gives per target exactly the JSON
   of `ostls probe --json` (timings aside).
2. 2 000 targets on listeners of our own (tests/lab/scan_listeners.py: 40 loopback addresses × 50
   ports) at --concurrency 500: the listeners never see more than 500 connections at once; the scan
   is killed (SIGKILL) midway, a partial line is left at the end of the file, and --resume gives
   the complete set with no duplicates; peak memory is reported and bounded.
3. SIGINT stops launching and lets the probes in flight finish: only they are written, whole.
4. --per-host-concurrency, --rate and --shard do what they say.
4b. Three --shard I/3 scans at once, all with one PostgreSQL store (a fresh database on the lab's
   PostgreSQL): the union of their outputs is the input, each target once and as the unsharded
   scan gives it; the store holds what the unsharded run's store holds (pins, capability memory,
   TLS-RPT outcomes); --summarize of the shard files equals the unsharded summary.
5. The summary of a fixed list of lab peers equals a hand-computed expectation, at the end of
   the scan and from --summarize.
6. --html: the report, rendered in headless Chromium, has its charts, runs its script (the table
   sorted by the URL's #sort=), fetches nothing, and shows an outcome's text escaped.
Prints one line per case and a closing 'N passed, N failed' line.
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from labtest import Runner, load_lab_dns, make_leaf

HERE = Path(__file__).resolve().parent


def without_timing(o):
    """An outcome without its timings, and with TLSA records in a fixed order: an RRset is a set,
    and the resolver hands its records out in varying order (unbound's rrset-roundrobin)."""
    o = {k: v for k, v in o.items() if k != "timing_ms"}
    tlsa = (o.get("signals") or {}).get("tlsa")
    if tlsa and isinstance(tlsa.get("records"), list):
        tlsa["records"] = sorted(tlsa["records"], key=lambda r: json.dumps(r, sort_keys=True))
    # How a peer's reset reaches us (RST or FIN first) varies from run to run (the lab's `reset`).
    for e in o.get("events") or []:
        e["detail"] = re.sub(r"\((Connection reset by peer|stream truncated)\)", "(reset)", e.get("detail", ""))
    return o


def read_lines(path):
    """The JSON objects of a JSON Lines file, and whether it ends in a complete line."""
    data = Path(path).read_bytes()
    complete = data.endswith(b"\n") or not data
    return [json.loads(l) for l in data.decode().splitlines() if l.strip()], complete


class Listeners:
    """tests/lab/scan_listeners.py in a subprocess."""

    def __init__(self, tmp, ca_file, hosts, ports, delay=0.0):
        chain, key = make_leaf(ca_file, tmp, "scan.lab.test", f"scan-{hosts}-{ports}")
        self.stats_file = os.path.join(tmp, f"stats-{hosts}-{ports}.json")
        self.proc = subprocess.Popen([sys.executable, str(HERE / "scan_listeners.py"), "--hosts", str(hosts),
                                      "--ports", str(ports), "--cert", chain, "--key", key, "--delay", str(delay),
                                      "--stats", self.stats_file], stdout=subprocess.PIPE, text=True)
        ready = json.loads(self.proc.stdout.readline())
        self.ports, self.hosts = ready["ports"], ready["hosts"]

    def targets(self):
        return [f"smtp://[{h}]:{p}" for h in self.hosts for p in self.ports]

    def tls_targets(self):
        return {f"smtp://[{h}]:{p}" for h in self.hosts for i, p in enumerate(self.ports) if i % 2 == 0}

    def stats(self):
        if os.path.exists(self.stats_file):
            os.unlink(self.stats_file)
        self.proc.send_signal(signal.SIGUSR1)
        for _ in range(100):
            if os.path.exists(self.stats_file):
                with open(self.stats_file) as f:
                    return json.load(f)
            time.sleep(0.05)
        raise RuntimeError("listeners wrote no stats")

    def reset(self):
        self.proc.send_signal(signal.SIGUSR2)
        time.sleep(0.1)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def run_scan(ostls, args, stdin=None, timeout=300, store=("--no-store",)):
    """`ostls scan --no-store ARGS` (`store`: other store options instead): (exit status, stdout,
    stderr, seconds, peak RSS in MiB)."""
    started = time.monotonic()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        p = subprocess.Popen([ostls, "scan", *store, *args], stdin=subprocess.PIPE if stdin is not None else
                             subprocess.DEVNULL, stdout=out, stderr=err, text=True)
        if stdin is not None:
            p.stdin.write(stdin)
            p.stdin.close()
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(p.pid, os.WNOHANG)
            if pid != 0:
                break
            if time.monotonic() > deadline:
                p.kill()
                pid, status, usage = os.wait4(p.pid, 0)
                break
            time.sleep(0.02)
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return p.returncode, out.read(), err.read(), time.monotonic() - started, usage.ru_maxrss / 1024


def built_with_asan(binary):
    with open(binary, "rb") as f:
        tail = b""
        while chunk := f.read(1 << 20):
            if b"__asan_init" in tail + chunk:
                return True
            tail = chunk[-16:]
    return False


def summary_of(stderr):
    """The --json summary: the last line of stderr."""
    lines = [l for l in stderr.splitlines() if l.startswith("{")]
    return json.loads(lines[-1]) if lines else None


def test_same_as_probe(run, lab, dns):
    ca = lab["ca_file"]
    targets = [p["target"] for p in lab["peers"]] + [f"smtp://{c['domain']}:{c['port']}" for c in dns["cases"]]
    common = ["--cafile", ca, "--dns-config", dns["conf"], "--timeout", "5"]
    # Through a pipe on stdin, with comments and blank lines around.
    text = "# every lab peer and DNS case\n\n" + "\n".join(f"  {t}  " for t in targets) + "\n# end\n"
    code, out, err, secs, _ = run_scan(run.ostls, [*common, "--input", "-", "--concurrency", "64",
                                                   "--per-host-concurrency", "0", "--quiet"], stdin=text)
    scanned = [json.loads(l) for l in out.splitlines() if l.strip()]
    by_target = Counter(o["target"] for o in scanned)
    run.check(f"scan of {len(targets)} lab targets: one line each, exit 0 ({secs:.1f} s)",
              ([f"exit {code}: {err.strip()[-300:]}"] if code != 0 else []) +
              [f"{t}: {by_target[t]} lines" for t in targets if by_target[t] != 1] +
              [f"unexpected target {t}" for t in by_target if t not in targets])
    compare_with_probe(run, "", targets, common, scanned)


def compare_with_probe(run, label, targets, common, scanned, store=("--no-store",), normalize=without_timing):
    """`ostls probe --json STORE COMMON TARGETS` (one process, the targets one after the other)
    against the scan's outcomes `scanned`, target by target, after `normalize`."""
    r = subprocess.run([run.ostls, "probe", "--json", *store, *common, *targets], capture_output=True,
                       text=True, timeout=600)
    probed = {o["target"]: o for o in (json.loads(l) for l in r.stdout.splitlines() if l.strip())}
    scanned_by = {o["target"]: o for o in scanned}
    for t in targets:
        a, b = scanned_by.get(t), probed.get(t)
        if a is None or b is None:
            run.check(f"scan = probe{label}: {t}", [f"missing from {'scan' if a is None else 'probe'}"])
            continue
        a, b = normalize(a), normalize(b)
        diffs = [f"{k}: scan {a.get(k)!r} ≠ probe {b.get(k)!r}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
        run.check(f"scan = probe --json{label} (timings aside): {t}", diffs)


def without_memory_times(o):
    """As without_timing, and the capability memory's dates reduced to whether each is set: every
    probe of the same MX host rewrites them (store::now(), to the second), and the probe side
    probes one target after the other while the scan probes them all at once."""
    o = without_timing(o)
    mem = (o.get("signals") or {}).get("memory")
    if isinstance(mem, dict):
        o["signals"]["memory"] = {k: (v is not None) for k, v in mem.items()}
    return o


def mtasts_expected(case, variant):
    """The case's expectation under `opportunistic` in the lab's current variant (mta-sts.json)."""
    v = (case.get("variants") or {}).get(str(variant))
    return (v or case)["expect"]["opportunistic"]


def test_mtasts_same_as_probe(run, lab, tmp):
    """Every MTA-STS case of the lab (lab/nginx/mtasts.py, $OSTLS_LAB_DIR/mta-sts.json), scanned
    and probed with the same options: first with --no-store on both sides (the policy fetched
    from the lab's nginx every time; the unreachable cases, whose policy host is the dead port,
    with that port), then from a policy cache: one store primed by a scan of every case, copied
    once per side, both sides pointed at the dead port so that every policy must come from the
    cache. A fresh store per side would not do: all cases share one MX host, so the first
    encrypted contact's TOFU pin would make every later case `tofu`, in the order the probes
    happen to finish."""
    meta_file = Path(os.environ.get("OSTLS_LAB_DIR", "/tmp/ostls-lab")) / "mta-sts.json"
    if not meta_file.exists():
        run.check("MTA-STS cases: mta-sts.json", [f"{meta_file} is missing: is the lab up (lab/lab up)?"])
        return
    meta = json.loads(meta_file.read_text())
    variant = int(Path(meta["variant_file"]).read_text().strip())
    cases = meta["cases"]
    common = ["--cafile", meta["ca_file"], "--dns-config", meta["dns_conf"], "--timeout", "5"]
    by_port = {}
    for c in cases:
        by_port.setdefault(c["https_port"], []).append(c)
    for port, group in sorted(by_port.items()):
        targets = [c["target"] for c in group]
        args = [*common, "--mta-sts-port", str(port)]
        code, out, err, secs, _ = run_scan(run.ostls, [*args, "--concurrency", "64", "--per-host-concurrency", "0",
                                                       "--quiet", *targets])
        scanned = [json.loads(l) for l in out.splitlines() if l.strip()]
        # Not only equal, but MTA-STS as the lab defines each case: both sides skipping it alike
        # (a lost --mta-sts-port, say) would be equal too.
        wrong = []
        for c in group:
            o = next((o for o in scanned if o["target"] == c["target"]), None)
            want = mtasts_expected(c, variant)
            got = o and {k: o.get(k) for k in ("verdict", "protection", "auth_method") if k in want}
            if o is None or got != {k: want[k] for k in got} or (o["signals"].get("mta_sts") is None):
                wrong.append(f"{c['name']}: {got}, mta_sts {o and o['signals'].get('mta_sts')}, expected {want}")
        run.check(f"scan of {len(group)} MTA-STS cases, policy host port {port}, --no-store: "
                  f"one line each, each as mta-sts.json expects ({secs:.1f} s)",
                  ([f"exit {code}: {err.strip()[-300:]}"] if code != 0 else []) +
                  ([f"{len(scanned)} lines"] if len(scanned) != len(group) else []) + wrong)
        compare_with_probe(run, f" (MTA-STS, --no-store, --mta-sts-port {port})", targets, args, scanned)

    # From the cache. unreachable-short is left out: its policy's max_age (15 s) may run out
    # between the two sides.
    cached = [c for c in cases if c["name"] != "unreachable-short"]
    targets = [c["target"] for c in cached]
    primed = os.path.join(tmp, "mtasts-primed.db")
    code, out, err, _, _ = run_scan(run.ostls, [*common, "--mta-sts-port", str(meta["port"]), "--quiet",
                                                "--per-host-concurrency", "0", *targets],
                                    store=("--store", primed))
    run.check(f"MTA-STS cases: a scan with --store primes the policy cache and the TOFU pin of their MX host",
              [] if code == 0 and len(out.splitlines()) == len(cached) else [f"exit {code}: {err.strip()[-300:]}"])
    stores = {side: os.path.join(tmp, f"mtasts-{side}.db") for side in ("scan", "probe")}
    for path in stores.values():
        shutil.copyfile(primed, path)
    args = [*common, "--mta-sts-port", str(meta["dead_port"])]
    code, out, err, secs, _ = run_scan(run.ostls, [*args, "--concurrency", "64", "--per-host-concurrency", "0",
                                                   "--quiet", *targets], store=("--store", stores["scan"]))
    scanned = [json.loads(l) for l in out.splitlines() if l.strip()]
    fetched_ok = {c["target"] for c in cached if c["fetch"] == "ok" or c.get("prime_port")}
    wrong = [f"{o['target']}: source {(o['signals'].get('mta_sts') or {}).get('source')!r}" for o in scanned
             if o["target"] in fetched_ok and (o["signals"].get("mta_sts") or {}).get("source") != "cache"]
    # The store was read, not only the policy cache: the pin of the priming scan matches (where
    # TOFU is consulted at all: usable DANE, dane-wins, ranks above it and leaves it out).
    wrong += [f"{o['target']}: tofu {o['signals'].get('tofu')!r}" for o in scanned
              if o.get("tls") and o["policy"]["source"] != "dane" and o["signals"].get("tofu") != "match"]
    run.check(f"scan of {len(cached)} MTA-STS cases from a primed cache (policy host: the dead port): "
              f"one line each, every policy fetched when primed now from the cache, the pin matched ({secs:.1f} s)",
              ([f"exit {code}: {err.strip()[-300:]}"] if code != 0 else []) +
              ([f"{len(scanned)} lines"] if len(scanned) != len(cached) else []) + wrong)
    compare_with_probe(run, " (MTA-STS, cached policies)", targets, args, scanned, store=("--store", stores["probe"]),
                       normalize=without_memory_times)


def test_kill_and_resume(run, listeners, tmp, ca):
    targets = listeners.targets()
    bad = ["gopher://[127.0.0.1]:25", "smtp://[127.0.0.1]:0"]
    inp = os.path.join(tmp, "targets.txt")
    with open(inp, "w") as f:
        f.write("# 2000 targets, 2 bad lines\n\n")
        for i, t in enumerate(targets):
            f.write(t + "\n")
            if i == 700:
                f.write(bad[0] + "\n")
        f.write(bad[1] + "\n")
    out = os.path.join(tmp, "out.jsonl")
    args = ["--input", inp, "--output", out, "--concurrency", "500", "--per-host-concurrency", "0",
            "--cafile", ca, "--servername", "scan.lab.test", "--timeout", "30", "--json"]
    listeners.reset()
    p = subprocess.Popen([run.ostls, "scan", "--no-store", *args], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and p.poll() is None:
        try:
            with open(out, "rb") as f:
                if f.read().count(b"\n") >= 800:
                    break
        except FileNotFoundError:
            pass
        time.sleep(0.02)
    p.kill()
    p.wait()
    stats = listeners.stats()
    before, complete = read_lines(out)
    run.check(f"killed midway: {len(before)} of {len(targets)} lines, all complete",
              ([] if 0 < len(before) < len(targets) else [f"{len(before)} lines: not midway"]) +
              ([] if complete else ["the file ends in a partial line"]))
    run.check(f"at most 500 connections at once (peak {stats['peak']}, {stats['connections']} connections)",
              [] if 250 <= stats["peak"] <= 500 else [f"peak {stats['peak']}, expected 250..500"])
    # A kill in the middle of a write leaves a partial line: --resume must cut it, not count it.
    done = {o["target"] for o in before}
    pending = next(t for t in targets if t not in done)
    with open(out, "a") as f:
        f.write('{"target": "%s", "verdict": "o' % pending)
    code, _, err, secs, rss = run_scan(run.ostls, [*args, "--resume"])
    after, complete = read_lines(out)
    count = Counter(o["target"] for o in after)
    summary = summary_of(err)
    problems = []
    if code != 1:
        problems.append(f"exit {code}, expected 1 (two bad lines): {err.strip()[-300:]}")
    if "cut off a partial last line" not in err:
        problems.append("the partial line was not reported as cut off")
    if not complete:
        problems.append("the file ends in a partial line")
    if set(count) != set(targets):
        problems.append(f"{len(set(targets) - set(count))} targets missing, {len(set(count) - set(targets))} extra")
    dups = [t for t, n in count.items() if n > 1]
    if dups:
        problems.append(f"{len(dups)} duplicates, e.g. {dups[0]}")
    if "bad lines 2" not in err or f"{inp}:704: unknown protocol" not in err:
        problems.append("the two bad lines were not reported with their line numbers")
    run.check(f"--resume after SIGKILL: {len(after)} lines = {len(targets)} targets, no duplicates ({secs:.1f} s)",
              problems)
    tls = listeners.tls_targets()
    wrong = [o["target"] for o in after if (o["protection"] == "encrypted") != (o["target"] in tls)
             or o["verdict"] != "ok"]
    run.check("every outcome as the listener offers it (STARTTLS ports encrypted, others cleartext, all ok)",
              [f"{len(wrong)} wrong, e.g. {wrong[:2]}"] if wrong else [])
    run.check("the summary of the resumed scan covers the whole file",
              [] if summary and summary["targets"] == len(targets) and
              summary["protection"]["encrypted"] == len(tls) else [f"summary: {summary and summary['targets']}"])
    # AddressSanitizer's shadow memory and quarantine multiply the footprint (≈ 580 MiB here).
    bound = 2048 if built_with_asan(run.ostls) else 200
    run.check(f"peak memory of the resumed scan {rss:.1f} MiB (bound: {bound} MiB)", [] if rss < bound else ["too much"])


def test_interrupt(run, listeners, tmp, ca):
    targets = listeners.targets()[:300]
    out = os.path.join(tmp, "int.jsonl")
    args = ["--output", out, "--concurrency", "50", "--per-host-concurrency", "0", "--cafile", ca,
            "--timeout", "30", "--input", "-"]
    p = subprocess.Popen([run.ostls, "scan", "--no-store", *args], stdin=subprocess.PIPE,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    p.stdin.write("\n".join(targets) + "\n")
    p.stdin.close()
    time.sleep(1.0)  # up to 50 in flight, none done: the listeners greet after 2 s
    p.send_signal(signal.SIGINT)
    try:
        p.wait(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    err = p.stderr.read()
    lines, complete = read_lines(out)
    problems = []
    if p.returncode != 130:
        problems.append(f"exit {p.returncode}, expected 130")
    m = re.search(r"stopping: (\d+) probes in flight", err)
    in_flight = int(m.group(1)) if m else None
    if in_flight is None or not 0 < in_flight <= 50:
        problems.append(f"no 'stopping: N probes in flight' message with 0 < N <= 50: {err[-300:]}")
    elif len(lines) != in_flight or not complete:
        problems.append(f"{len(lines)} lines (complete: {complete}), expected the {in_flight} in flight")
    run.check(f"SIGINT: stops launching, the {in_flight} probes in flight finish and are written whole, exit 130",
              problems)
    code, _, err, _, _ = run_scan(run.ostls, [*args[:-2], "--resume", *targets])
    lines, _ = read_lines(out)
    count = Counter(o["target"] for o in lines)
    run.check("--resume after SIGINT completes the set",
              [] if code == 0 and set(count) == set(targets) and max(count.values()) == 1
              else [f"exit {code}, {len(count)} targets, max {max(count.values())} per target"])


def test_knobs(run, slow, fast, ca, tmp):
    """`slow` greets after 1 s, `fast` after 2 s but its targets are not held back per host."""
    # --per-host-concurrency: 4 hosts × 30 ports, at most 3 per host although 100 may be in flight.
    targets = [t for t in slow.targets() if any(f"[{h}]" in t for h in slow.hosts[:4])][:120]
    slow.reset()
    code, out, err, secs, _ = run_scan(run.ostls, ["--concurrency", "100", "--per-host-concurrency", "3",
                                                   "--cafile", ca, "--quiet", *targets])
    stats = slow.stats()
    peaks = [stats["peak_by_host"].get(h, 0) for h in slow.hosts[:4]]
    run.check(f"--per-host-concurrency 3: peaks per host {peaks} ({secs:.1f} s)",
              [] if code == 0 and max(peaks) == 3 and len(out.splitlines()) == len(targets)
              else [f"exit {code}, {len(out.splitlines())} lines, peaks {peaks}: {err[-200:]}"])
    # --rate 20: 30 launches take at least 29/20 s.
    targets = fast.targets()[:30]
    code, out, err, secs, _ = run_scan(run.ostls, ["--rate", "20", "--per-host-concurrency", "0", "--quiet",
                                                   *targets])
    run.check(f"--rate 20: 30 targets in {secs:.2f} s (≥ 1.45 s)",
              [] if code == 0 and secs >= 1.45 and len(out.splitlines()) == 30 else [f"exit {code}"])
    # --shard: three shards are disjoint and cover the input.
    targets = fast.targets()[:150]
    seen = Counter()
    sizes = []
    shard_files = []
    for i in (1, 2, 3):
        code, out, err, _, _ = run_scan(run.ostls, ["--shard", f"{i}/3", "--per-host-concurrency", "0",
                                                    "--concurrency", "200",
                                                    "--quiet", "--input", "-"], stdin="\n".join(targets))
        got = [json.loads(l)["target"] for l in out.splitlines()]
        sizes.append(len(got))
        seen.update(got)
        shard_files.append(os.path.join(tmp, f"shard{i}.jsonl"))
        with open(shard_files[-1], "w") as f:
            f.write(out)
    run.check(f"--shard 1/3, 2/3, 3/3: sizes {sizes}, disjoint, covering all {len(targets)}",
              [] if set(seen) == set(targets) and max(seen.values()) == 1 and min(sizes) > 0 else ["not a partition"])
    # --summarize of the three shard files is the summary of the whole input.
    r = subprocess.run([run.ostls, "scan", "--json", "--summarize", *shard_files], capture_output=True, text=True,
                       timeout=60)
    union = json.loads(r.stdout) if r.returncode == 0 else {}
    run.check(f"--summarize shard1 shard2 shard3: the union ({union.get('targets')} targets)",
              [] if union.get("targets") == len(targets) else [f"exit {r.returncode}: {r.stderr[-200:]}"])


class Postgres:
    """A throw-away database on the lab's cleartext PostgreSQL (`postgres-plain`: trust on
    loopback for user postgres, as tests/lab/test_memory.py uses it), dropped by drop()."""

    def __init__(self, lab, name):
        port = next(int(p["target"].rsplit(":", 1)[1]) for p in lab["peers"] if p["name"] == "postgres-plain")
        self.db = f"ostls_scan_test_{name}_{os.getpid()}"
        self.spec = f"postgresql://postgres@127.0.0.1:{port}/{self.db}"
        self.psql = ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(port),
                     "-U", "postgres"]
        subprocess.run([*self.psql, "-d", "postgres", "-c", f"CREATE DATABASE {self.db}"], check=True,
                       capture_output=True, timeout=60)

    def rows(self, sql):
        r = subprocess.run([*self.psql, "-d", self.db, "-F", "\t", "-c", sql], check=True, capture_output=True,
                           text=True, timeout=60)
        return sorted(tuple(l.split("\t")) for l in r.stdout.splitlines() if l)

    def drop(self):
        subprocess.run([*self.psql, "-d", "postgres", "-c", f"DROP DATABASE IF EXISTS {self.db}"],
                       capture_output=True, timeout=60)


# What a store holds after a scan, timestamps aside: the TOFU pins, the capability memory (which
# dates are set), the TLS-RPT outcomes (as a multiset: one row per session).
STORE_QUERIES = {
    "pins": "SELECT host, port, protocol, spki_sha256 FROM pins",
    "memory": "SELECT host, port, protocol, last_starttls IS NOT NULL, last_tls IS NOT NULL FROM memory",
    "outcomes": "SELECT policy_domain, policy_type, mx_host, address, success, coalesce(result_type, '-') "
                "FROM outcomes",
}


def test_shards_postgres(run, lab, listeners, tmp):
    """Issue 7 item 6: `--shard I/3` × 3 running at once, all writing to one PostgreSQL store from
    a fresh database (so their schema migrations race too), against the same input scanned
    unsharded into a database of its own. Every lab peer (silent aside) plus 300 listener targets."""
    ca = lab["ca_file"]
    targets = [p["target"] for p in lab["peers"] if p["name"] != "silent"] + listeners.targets()[:300]
    inp = os.path.join(tmp, "shard-targets.txt")
    Path(inp).write_text("\n".join(targets) + "\n")
    common = ["--cafile", ca, "--timeout", "10", "--concurrency", "200", "--per-host-concurrency", "0", "--json",
              "--input", inp]
    shared, alone = Postgres(lab, "shards"), Postgres(lab, "unsharded")
    try:
        shard_files = [os.path.join(tmp, f"pg-shard{i}.jsonl") for i in (1, 2, 3)]
        procs = []
        started = time.monotonic()
        for i, out in enumerate(shard_files, 1):
            procs.append(subprocess.Popen([run.ostls, "scan", "--store", shared.spec, *common, "--shard", f"{i}/3",
                                           "--output", out], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                          text=True))
        errs = []
        for p in procs:
            try:
                _, err = p.communicate(timeout=300)
            except subprocess.TimeoutExpired:
                p.kill()
                _, err = p.communicate()
            errs.append(err)
        secs = time.monotonic() - started
        whole = os.path.join(tmp, "pg-whole.jsonl")
        code, _, err, _, _ = run_scan(run.ostls, [*common, "--output", whole], store=("--store", alone.spec))
        whole_summary = summary_of(err)
        if code != 0:
            run.check("unsharded scan into its own PostgreSQL store", [f"exit {code}: {err.strip()[-300:]}"])
            return
        reference = {o["target"]: o for o in read_lines(whole)[0]}

        shards = [read_lines(f)[0] for f in shard_files]
        count = Counter(o["target"] for lines in shards for o in lines)
        problems = [f"shard {i}: exit {p.returncode}: {e.strip()[-300:]}" for i, (p, e) in
                    enumerate(zip(procs, errs), 1) if p.returncode != 0]
        # A store error never passes silently: it refuses the probe (verdict fail/defer with the
        # store's message) or stops the scan (stderr).
        problems += [f"shard {i}: {l}" for i, e in enumerate(errs, 1) for l in e.splitlines()
                     if "postgresql" in l.lower() or "store" in l.lower()]
        problems += [f"{o['target']}: {o['failure']['detail']}" for lines in shards for o in lines
                     if o.get("failure") and re.search(r"postgresql|store|TLS-RPT", o["failure"].get("detail", ""))]
        if set(count) != set(targets):
            problems.append(f"{len(set(targets) - set(count))} targets lost, {len(set(count) - set(targets))} extra")
        dups = [t for t, n in count.items() if n > 1]
        if dups:
            problems.append(f"{len(dups)} targets in more than one shard or twice, e.g. {dups[0]}")
        if min(len(lines) for lines in shards) == 0:
            problems.append(f"an empty shard: sizes {[len(l) for l in shards]}")
        run.check(f"3 shards at once into one PostgreSQL store: sizes {[len(l) for l in shards]}, "
                  f"{len(count)} = {len(targets)} targets, none twice, no store error ({secs:.1f} s)", problems)

        diffs = []
        for lines in shards:
            for o in lines:
                a, b = without_timing(o), without_timing(reference.get(o["target"], {}))
                d = [k for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
                if d:
                    diffs.append(f"{o['target']}: {', '.join(d)} differ")
        run.check("every shard's outcome = the unsharded scan's (timings aside)", diffs[:10])

        got, want = ({name: db.rows(q) for name, q in STORE_QUERIES.items()} for db in (shared, alone))
        problems = [f"{name}: {len(got[name])} rows from the shards, {len(want[name])} unsharded; e.g. "
                    f"{sorted(set(got[name]) ^ set(want[name]))[:2]}" for name in STORE_QUERIES if got[name] != want[name]]
        # And each shard's own records are there: every target that completed TLS (verdict ok) is
        # remembered with its last TLS date, every encrypted target with a TLS 1.3 AEAD session is pinned.
        memory = {(h, int(p)): tls == "t" for h, p, _, _, tls in got["memory"]}
        pinned = {(h, int(p)) for h, p, _, _ in got["pins"]}
        for i, lines in enumerate(shards, 1):
            # (A dialogue that ended in an error after TLS, such as XMPP's host-unknown stream
            # error without --servername, leaves no memory: it says nothing about the peer.)
            tls = [(o["host"], o["port"]) for o in lines if o.get("tls") and o["verdict"] == "ok"]
            # Under the default `opportunistic`, the first encrypted contact pins the key when
            # the session meets R6 (TLS >= 1.2, forward secrecy, AEAD): see probe/host.cpp.
            r6 = [(o["host"], o["port"]) for o in lines if o.get("tls") and o["tls"]["pfs"] and
                  o["tls"]["version"] in ("TLSv1.2", "TLSv1.3") and re.search("GCM|CHACHA20", o["tls"]["cipher"])]
            missing = [k for k in tls if not memory.get(k)]
            unpinned = [k for k in r6 if k not in pinned]
            if missing:
                problems.append(f"shard {i}: {len(missing)} TLS targets without last_tls in memory, e.g. {missing[0]}")
            if not r6 or unpinned:
                problems.append(f"shard {i}: {len(r6)} TLS targets that must be pinned, {len(unpinned)} not pinned")
        run.check(f"the shared store = the unsharded run's store ({len(got['pins'])} pins, {len(got['memory'])} "
                  f"memory rows, {len(got['outcomes'])} TLS-RPT outcomes), each shard's contacts in it", problems)

        r = subprocess.run([run.ostls, "scan", "--json", "--summarize", *shard_files], capture_output=True, text=True,
                           timeout=60)
        union = json.loads(r.stdout) if r.returncode == 0 and r.stdout.strip() else None
        problems = [] if union == whole_summary else [
            f"exit {r.returncode} {r.stderr.strip()[-200:]}" if union is None else
            f"{k}: shards {union.get(k)} ≠ unsharded {(whole_summary or {}).get(k)}"
            for k in sorted(set(union or {}) | set(whole_summary or {}))
            if (union or {}).get(k) != (whole_summary or {}).get(k)]
        run.check(f"--summarize of the 3 shard files = the unsharded scan's summary ({(union or {}).get('targets')} "
                  "targets)", problems)
    finally:
        shared.drop()
        alone.drop()


# SMTP peers at the default level with the lab CA and the name mx.lab.test (lab/README.md, the
# `may` column), and what each contributes to the summary — counted by hand.
SUMMARY_PEERS = ["plain", "selfsigned", "labca", "expired", "brokentls", "legacy", "strip", "mask", "refuse",
                 "reset", "inject", "tlscaps"]
EXPECTED_SUMMARY = {
    "targets": 12,
    "verdict": {"ok": 12, "fail": 0, "defer": 0},
    # cleartext: plain, brokentls (R2 fallback), strip, mask, refuse, reset (R2 fallback)
    "protection": {"cleartext": 6, "encrypted": 6, "authenticated": 0},
    "auth_method": {"none": 12},
    # Untrusted: selfsigned, expired; Trusted: labca, legacy, inject, tlscaps
    "trust": {"Anonymous": 0, "Untrusted": 2, "Trusted": 4, "Verified": 0, "none": 6},
    # offered: every TLS peer + brokentls, refuse, reset; not offered: plain, strip, mask (masked)
    "starttls": {"offered": 9, "not_offered": 3, "not_advertised": 0, "offered_but_cleartext": 3},
    # legacy: TLS 1.1 with RSA key exchange; the rest TLS 1.3
    "tls": {"sessions": 6, "pfs": 5, "versions": {"TLSv1.3": 5, "TLSv1.1": 1}},
    # verified: labca, inject, tlscaps (mx.lab.test from the lab CA); name mismatch: selfsigned,
    # expired, legacy (their certificates name themselves)
    "certificates": {"verified": 3, "chain_failed": 2, "name_failed": 3, "no_certificate": 0,
                     "chain_errors": {"self-signed certificate": 1, "certificate has expired": 1}},
    "dane": {"tlsa": {"no-dns": 12}, "usable": 0, "authenticated": 0, "failed": 0},
    "mta_sts": {"looked_up": 0, "absent": 12, "mode": {}, "error_type": {}, "authenticated": 0},
    "tlsrpt": {"not-reported": 12},  # [host] targets: no mail domain, no _smtp._tls lookup
    "requiretls": 1,  # tlscaps
    "events": {"fallback-to-cleartext": 2, "response-injection": 1, "starttls-masked": 1, "starttls-refused": 1,
               # tlscaps; the soft fails: selfsigned, expired, legacy (verification not enforced, R3)
               "starttls-after-tls": 1, "reset-after-starttls": 1, "auth-soft-fail": 3,
               "starttls-accepted-unadvertised": 0, "downgrade-suspected": 0, "preauth-skips-starttls": 0},
    "failures": {"result_type": {}, "fault": {}},
}


def subset_problems(got, want, path=""):
    problems = []
    for k, v in want.items():
        g = got.get(k) if isinstance(got, dict) else None
        if isinstance(v, dict) and v:
            problems += subset_problems(g or {}, v, f"{path}{k}.")
        elif isinstance(v, dict):
            if g not in ({}, None):
                problems.append(f"{path}{k}: got {g}, expected empty")
        elif g != v:
            problems.append(f"{path}{k}: got {g!r}, expected {v!r}")
    return problems


def test_summary(run, lab, tmp):
    peers = {p["name"]: p for p in lab["peers"]}
    targets = [peers[n]["target"] for n in SUMMARY_PEERS]
    out = os.path.join(tmp, "summary.jsonl")
    code, _, err, _, _ = run_scan(run.ostls, ["--cafile", lab["ca_file"], "--servername", "mx.lab.test",
                                              "--per-host-concurrency", "0", "--output", out, "--json", *targets])
    summary = summary_of(err)
    run.check("summary at the end of a scan of 12 lab SMTP peers = the hand count",
              subset_problems(summary or {}, EXPECTED_SUMMARY) + ([] if code == 0 else [f"exit {code}"]))
    r = subprocess.run([run.ostls, "scan", "--summarize", out, "--json"], capture_output=True, text=True, timeout=60)
    again = json.loads(r.stdout) if r.returncode == 0 and r.stdout.strip() else None
    run.check("--summarize FILE --json gives the same summary", [] if again == summary else [f"{r.stderr}"])
    r = subprocess.run([run.ostls, "scan", "--summarize", out], capture_output=True, text=True, timeout=60)
    run.check("--summarize FILE prints the text summary",
              [] if r.returncode == 0 and "protection    cleartext 6 (50.0%) · encrypted 6 (50.0%)" in r.stdout
              else [r.stdout + r.stderr])


def chromium_dom(html_file, fragment):
    """The DOM of a local file after its scripts ran, from headless Chromium (Debian's `chromium`)."""
    r = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=3000",
                        "--dump-dom", f"file://{html_file}#{fragment}"], capture_output=True, text=True, timeout=120)
    return r.stdout


def test_html(run, lab, tmp):
    peers = {p["name"]: p for p in lab["peers"]}
    out = os.path.join(tmp, "html.jsonl")
    html = os.path.join(tmp, "report.html")
    targets = [peers[n]["target"] for n in ("plain", "labca", "expired", "legacy", "silent")]
    # A target whose text must be escaped: an input line that is not a target never gets into the
    # output, so a crafted line goes in through --resume's file instead.
    with open(out, "w") as f:
        f.write(json.dumps({"target": "<img src=x onerror=alert(1)>", "verdict": "ok", "protection": "cleartext"}) + "\n")
    code, _, err, _, _ = run_scan(run.ostls, ["--cafile", lab["ca_file"], "--servername", "mx.lab.test", "--timeout", "2",
                                              "--per-host-concurrency", "0", "--quiet", "--output", out, "--resume",
                                              "--html", html, *targets])
    if code != 0 or not os.path.exists(html):
        run.check("--html writes the report", [f"exit {code}: {err[-300:]}"])
        return
    text = Path(html).read_text()
    run.check("the report fetches nothing (no src=, href=, url(, @import, <link)",
              [f for f in ("src=", "href=", "url(", "@import", "<link") if f in text.replace("&lt;img src=x", "")])
    if shutil.which("chromium") is None:
        run.check("headless Chromium renders the report", ["chromium is not installed (scripts/install-deps.sh)"])
        return
    dom = chromium_dom(html, "sort=-days")
    charts = re.findall(r'data-chart="([a-z-]+)"', dom)
    rows = re.findall(r"<tr><td>(.*?)</td>.*?<td data-v=\"(-?\d*)\"", dom)
    days = [int(d) for _, d in rows if d]
    problems = []
    if 'data-ready="1"' not in dom:
        problems.append("the script did not run to its end")
    if sorted(charts) != sorted(["protection", "tls-versions", "auth-methods", "verdict", "expiry", "failures", "events"]):
        problems.append(f"charts: {charts}")
    if len(re.findall(r"<svg", dom)) != 7:
        problems.append("not 7 SVG charts")
    if "<img" in dom or "&lt;img src=x onerror=alert(1)&gt;" not in dom:
        problems.append("the crafted target was not escaped")
    if len(rows) != 6 or days != sorted(days, reverse=True) or len(days) != 3:
        problems.append(f"table not sorted by days left, descending: {rows}")
    run.check(f"headless Chromium: 7 charts, script ran, table sorted by #sort=-days {days}, text escaped", problems)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ostls", required=True)
    a = ap.parse_args()
    loaded = load_lab_dns()
    if loaded is None:
        return 1
    dns, lab = loaded
    run = Runner(a.ostls)
    with tempfile.TemporaryDirectory(prefix="ostls-scan-test-") as tmp:
        os.chmod(tmp, 0o755)
        test_same_as_probe(run, lab, dns)
        test_mtasts_same_as_probe(run, lab, tmp)
        test_summary(run, lab, tmp)
        test_html(run, lab, tmp)
        # Greetings come late so that many connections are open at once, on a loaded machine too.
        big = Listeners(tmp, lab["ca_file"], 40, 50, delay=2.0)
        small = Listeners(tmp, lab["ca_file"], 10, 30, delay=1.0)
        try:
            test_kill_and_resume(run, big, tmp, lab["ca_file"])
            test_interrupt(run, big, tmp, lab["ca_file"])
            test_knobs(run, small, big, lab["ca_file"], tmp)
            test_shards_postgres(run, lab, small, tmp)
        finally:
            big.stop()
            small.stop()
    return run.summary()


if __name__ == "__main__":
    sys.exit(main())
