#!/bin/sh
# The whole test suite, as CI runs it: the release build with warnings as errors and every
# test, the fuzz targets (clang 16, libFuzzer + ASan + UBSan) built from scratch and each run for
# a bounded time, then the ASan+UBSan build and every test again. Ends with ctest's summary; the
# fuzz stage's "fuzz: N passed, N failed" comes before it, and a failed fuzz stage fails the run
# after the ASan stage has run too.
set -eu
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

echo "== release build (RelWithDebInfo, -Werror)"
cmake --preset default >/dev/null
cmake --build --preset default -j"$jobs"
ctest --preset default -j"$jobs"

# The fuzz stage must fit in about 5 minutes: the build takes ~2 (-j2, no ccache), 8 targets x
# KCD_FUZZ_SECONDS (10) another 1.5 (README "Fuzzing"); CI as a whole must stay under 30 min.
echo "== fuzz targets (clang 16, libFuzzer + ASan + UBSan)"
fuzz_ok=1
if cmake --preset fuzz >/dev/null && cmake --build --preset fuzz -j"$jobs"; then
  ./tests/fuzz/run.sh "${KCD_FUZZ_SECONDS:-10}" build-fuzz || fuzz_ok=0
else
  echo "fuzz: 0 passed, 1 failed (the fuzz build failed)"
  fuzz_ok=0
fi

echo "== ASan + UBSan build"
cmake --preset asan >/dev/null
cmake --build --preset asan -j"$jobs"
ctest --preset asan -j"$jobs"
[ "$fuzz_ok" -eq 1 ] || { echo "the fuzz stage failed (see above)"; exit 1; }
