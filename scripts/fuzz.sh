#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang in build-fuzz/ and runs each of them for
# SECONDS_PER_TARGET seconds (default 20), one after the other, each on a scratch copy of its seed
# corpus (fuzz/corpus/<target>/ is never written). Prints one summary line per target and exits
# 1 if any target found a crash, a hang (-timeout) or a memory blow-up (-rss_limit_mb), 2 if
# the build failed.
# Reproducers are kept in build-fuzz/fuzz-artifacts/<target>/ and the full log of each run in
# build-fuzz/fuzz-logs/<target>.log.
#   scripts/fuzz.sh [SECONDS_PER_TARGET]
# Environment: CXX (default clang++), BUILD_DIR (default build-fuzz), FUZZ_ARGS (extra libFuzzer
# flags, e.g. "-jobs=2"), FUZZ_TARGETS (a subset, space separated).
set -euo pipefail

seconds=${1:-20}
if ! [[ $seconds =~ ^[0-9]+$ ]] || (( seconds == 0 )); then
  echo "usage: $0 [SECONDS_PER_TARGET]" >&2
  exit 2
fi

root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build-fuzz}
targets=${FUZZ_TARGETS:-"fuzz_smtp_reply fuzz_policy_map fuzz_target fuzz_dns_records fuzz_line_clients fuzz_ldap_ber fuzz_xmpp fuzz_servers fuzz_mtasts_policy fuzz_mtasts_txt fuzz_tlsrpt_txt fuzz_scan_input"}

mkdir -p "$build"
build_log=$build/fuzz-build.log
# shellcheck disable=SC2086  # targets is a word list
if ! { CXX=${CXX:-clang++} cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
         -DOSTLS_FUZZ=ON -DOSTLS_TESTS=OFF -DOSTLS_BENCH=OFF && ninja -C "$build" $targets; } >"$build_log" 2>&1; then
  tail -n 30 "$build_log" >&2
  echo "fuzz.sh: configure/build failed, full log in $build_log" >&2
  exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/ostls-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$build/fuzz-logs"

failed=0
printf '%-16s %12s %8s %8s %8s  %s\n' target execs exec/s cov corpus result
for t in $targets; do
  corpus=$work/$t
  artifacts=$build/fuzz-artifacts/$t
  log=$build/fuzz-logs/$t.log
  mkdir -p "$corpus" "$artifacts"
  if [[ -d $root/fuzz/corpus/$t ]]; then cp -R "$root/fuzz/corpus/$t/." "$corpus/"; fi
  rc=0
  # shellcheck disable=SC2086  # FUZZ_ARGS is a word list
  "$build/fuzz/$t" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" ${FUZZ_ARGS:-} "$corpus" >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | awk '{print $2}')
  corp=$(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' "$log" | tail -1 | awk '{print $2}')
  if (( rc == 0 )); then
    result=ok
  else
    failed=1
    reason=$(grep -m1 -oE 'ERROR: (libFuzzer|AddressSanitizer|UndefinedBehaviorSanitizer): [a-z-]+|runtime error: .*|deadly signal|timeout after [0-9]+ seconds|out-of-memory' "$log" || true)
    repro=$(grep -m1 -o "Test unit written to .*" "$log" | sed 's/Test unit written to //' || true)
    result="FINDING (exit $rc: ${reason:-see log}) ${repro:+reproducer $repro} log $log"
  fi
  printf '%-16s %12s %8s %8s %8s  %s\n' "$t" "${execs:-?}" "${speed:-?}" "${cov:-?}" "${corp:-?}" "$result"
done
exit "$failed"
