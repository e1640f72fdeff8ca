#!/usr/bin/env bash
# Configures and builds ostls. Usage: scripts/build.sh [release|debug|sanitize] (default release).
# Build trees: build/ (release, debug) and build-sanitize/. Warnings are errors everywhere.
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-release}
case "$kind" in
  release)  dir=build;          flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
  debug)    dir=build;          flags=(-DCMAKE_BUILD_TYPE=Debug) ;;
  sanitize) dir=build-sanitize; flags=(-DCMAKE_BUILD_TYPE=Debug -DOSTLS_SANITIZE=ON -DOSTLS_BENCH=OFF) ;;
  *) echo "usage: $0 [release|debug|sanitize]" >&2; exit 2 ;;
esac
cmake -S . -B "$dir" -G Ninja -DOSTLS_WERROR=ON "${flags[@]}" >/dev/null
ninja -C "$dir"
