"""Shared by the lab test scripts: a case runner that prints one line per case and the closing
'N passed, N failed' line, and `ostls probe --json` as a function."""
import json
import subprocess
import time

EXIT = {"ok": 0, "fail": 1, "defer": 75}


class Runner:
    def __init__(self, ostls):
        self.ostls = ostls
        self.passed = self.failed = 0

    def check(self, label, problems):
        if problems:
            self.failed += 1
            print(f"FAIL {label}")
            for p in problems:
                print(f"     {p}")
        else:
            self.passed += 1
            print(f"ok   {label}")

    def probe(self, *args, timeout=60):
        """Runs `ostls probe --json ARGS`: (exit status, [outcome objects], stderr, seconds)."""
        started = time.monotonic()
        r = subprocess.run([self.ostls, "probe", "--json", *args], capture_output=True, text=True, timeout=timeout)
        elapsed = time.monotonic() - started
        lines = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
        return r.returncode, lines, r.stderr, elapsed

    def check_outcome(self, label, code, out, err, exp, compare):
        """One probe that must give exactly one outcome matching `exp` (via `compare`) and the
        exit status of its verdict."""
        if len(out) != 1:
            self.check(label, [f"expected one JSON outcome, got {len(out)}; stderr: {err.strip()}"])
            return
        problems = compare(out[0], exp)
        if code != EXIT[exp["verdict"]]:
            problems.append(f"exit status {code}, expected {EXIT[exp['verdict']]}")
        self.check(label, problems)

    def summary(self):
        print(f"{self.passed} passed, {self.failed} failed")
        return 0 if self.failed == 0 and self.passed > 0 else 1
