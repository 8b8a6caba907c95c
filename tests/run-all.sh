#!/bin/sh
# The whole test suite, as CI runs it: the release build with warnings as errors and every
# test, then the ASan+UBSan build and every test again. Ends with ctest's summary.
set -eu
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

echo "== release build (RelWithDebInfo, -Werror)"
cmake --preset default >/dev/null
cmake --build --preset default -j"$jobs"
ctest --preset default -j"$jobs"

echo "== ASan + UBSan build"
cmake --preset asan >/dev/null
cmake --build --preset asan -j"$jobs"
ctest --preset asan -j"$jobs"
