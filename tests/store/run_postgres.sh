#!/usr/bin/env bash
# The store tests against a real PostgreSQL: the lab's cleartext cluster (peer postgres-plain,
# trust authentication on 127.0.0.1). A fresh database per run, dropped afterwards.
#   tests/store/run_postgres.sh build/tests/ostls_unit_tests
set -euo pipefail
tests=${1:?usage: run_postgres.sh OSTLS_UNIT_TESTS}
lab=${OSTLS_LAB_DIR:-/tmp/ostls-lab}
port=$(python3 -c '
import json, sys
peers = json.load(open(sys.argv[1]))["peers"]
print(next(p["target"].rsplit(":", 1)[1] for p in peers if p["name"] == "postgres-plain"))' "$lab/lab.json")
db=ostls_store_test_$$
psql=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres)
"${psql[@]}" -c "CREATE DATABASE $db"
trap '"${psql[@]}" -c "DROP DATABASE IF EXISTS $db" || true' EXIT
out=$(OSTLS_TEST_POSTGRES="host=127.0.0.1 port=$port user=postgres dbname=$db" \
  "$tests" --gtest_filter='Engines/StoreTest.*/1' 2>&1) || { echo "$out"; exit 1; }
echo "$out" | tail -n 3
# Every case must really have run against PostgreSQL: a skip here is a failure.
cases=$("$tests" --gtest_filter='Engines/StoreTest.*/1' --gtest_list_tests | grep -c '^  ')
if grep -q 'SKIPPED' <<<"$out" || ((cases < 6)) || ! grep -q "PASSED  \] $cases tests" <<<"$out"; then
  echo "run_postgres.sh: not every PostgreSQL case ran" >&2
  exit 1
fi
