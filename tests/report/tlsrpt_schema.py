#!/usr/bin/env python3
"""RFC 8460 section 4.4 reports against tests/data/tlsrpt/rfc8460-report.schema.json (python3-jsonschema),
plus what a JSON Schema cannot say: each policy's failure-details add up to its failure count, and
the date range is one whole UTC day.

    tlsrpt_schema.py [REPORT.json ...]   validate the golden reports of tests/data/tlsrpt/ (or the
                                         files given), and check that reports broken on purpose fail

Also imported by tests/lab/test_tlsrpt.py: problems(report) -> list of strings.
"""
import copy
import json
import sys
from datetime import datetime, timedelta
from pathlib import Path

import jsonschema

DATA = Path(__file__).resolve().parent.parent / "data" / "tlsrpt"
SCHEMA = json.loads((DATA / "rfc8460-report.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())


def problems(report):
    """Every way `report` departs from RFC 8460 section 4.4; [] when it conforms."""
    out = [f"{'/'.join(str(p) for p in e.absolute_path) or '(top)'}: {e.message}"
           for e in sorted(VALIDATOR.iter_errors(report), key=lambda e: list(e.absolute_path))]
    if out:
        return out
    for i, p in enumerate(report["policies"]):
        failed = sum(d["failed-session-count"] for d in p.get("failure-details", []))
        if failed != p["summary"]["total-failure-session-count"]:
            out.append(f"policies/{i}: failure-details count {failed} sessions, the summary "
                       f"{p['summary']['total-failure-session-count']}")
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    start = datetime.strptime(report["date-range"]["start-datetime"], fmt)
    end = datetime.strptime(report["date-range"]["end-datetime"], fmt)
    if (start.hour, start.minute, start.second) != (0, 0, 0) or end - start != timedelta(seconds=86399):
        out.append(f"date-range: {start} .. {end} is not one UTC day (0000-2400)")
    return out


def broken(report):
    """(label, report) pairs that must each fail validation."""
    def mutate(label, change):
        r = copy.deepcopy(report)
        change(r)
        return label, r

    first = "policies", 0
    return [
        mutate("no organization-name", lambda r: r.pop("organization-name")),
        mutate("no policies", lambda r: r.pop("policies")),
        mutate("date-time not RFC 3339", lambda r: r["date-range"].update({"start-datetime": "2026-11-23"})),
        mutate("contact-info not an address", lambda r: r.update({"contact-info": "nobody"})),
        mutate("unknown policy-type", lambda r: r[first[0]][0]["policy"].update({"policy-type": "dane"})),
        mutate("negative count", lambda r: r[first[0]][0]["summary"].update({"total-successful-session-count": -1})),
        mutate("count as a string", lambda r: r[first[0]][0]["summary"].update({"total-failure-session-count": "4"})),
        mutate("unknown result-type", lambda r: r[first[0]][0]["failure-details"][0].update({"result-type": "oops"})),
        mutate("receiving-ip not an address",
               lambda r: r[first[0]][0]["failure-details"][0].update({"receiving-ip": "mx.example"})),
        mutate("misspelt key", lambda r: r[first[0]][0]["summary"].update({"total-success-session-count": 1})),
        mutate("details do not add up", lambda r: r[first[0]][0]["failure-details"][0].update({"failed-session-count": 9})),
        mutate("not one day", lambda r: r["date-range"].update({"end-datetime": "2026-11-24T23:59:59Z"})),
    ]


def main(argv):
    files = [Path(a) for a in argv[1:]] or sorted(DATA.glob("report-*.json"))
    passed = failed = 0
    for f in files:
        report = json.loads(f.read_text())
        found = problems(report)
        if found:
            failed += 1
            print(f"FAIL {f.name}: " + "; ".join(found))
            continue
        passed += 1
        print(f"ok   {f.name} conforms")
        if not report["policies"] or "failure-details" not in report["policies"][0]:
            continue
        for label, bad in broken(report):
            if problems(bad):
                passed += 1
                print(f"ok   {f.name}, {label}: rejected")
            else:
                failed += 1
                print(f"FAIL {f.name}, {label}: accepted")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
