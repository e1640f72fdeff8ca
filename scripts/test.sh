#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine (README command 2; .ci/run calls it):
# install dependencies, build with warnings as errors, start the lab, run unit + lab tests,
# then the same under ASan+UBSan, then every fuzz target for a short bounded time.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

bash scripts/install-deps.sh
export OSTLS_LAB_DIR=${OSTLS_LAB_DIR:-/tmp/ostls-lab}
trap 'bash lab/lab down >/dev/null 2>&1 || true' EXIT

echo "== build (warnings are errors)"
bash scripts/build.sh release
echo "== lab up"
bash lab/lab up
echo "== tests"
ctest --test-dir build --output-on-failure --timeout 900

echo "== sanitizer build (ASan + UBSan) and the same tests under it"
bash scripts/build.sh sanitize
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-sanitize --output-on-failure --timeout 1800

if [[ -x scripts/fuzz.sh ]]; then
  echo "== fuzz targets (bounded)"
  bash scripts/fuzz.sh "${OSTLS_FUZZ_SECONDS:-15}"
fi

echo "== all tests passed in $((SECONDS / 60)) min $((SECONDS % 60)) s"
