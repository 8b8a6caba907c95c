#!/bin/sh
# The whole test suite, as CI runs it: the release build with warnings as errors and every
# test, the fuzz targets (clang 16, libFuzzer + ASan + UBSan) built from scratch and each run for
# a bounded time, then the ASan+UBSan build and every test again (the lint checks, which read
# only the sources, run once). Ends with ctest's summary and one line of stage times; the fuzz
# stage's "fuzz: N passed, N failed" comes before it, and a failed fuzz stage fails the run
# after the ASan stage has run too.
#
# CI must stay under 30 minutes on 2 cores; compiling is most of it (README "Continuous
# integration"). So the release build here carries line tables only (-g1: backtraces keep file
# and line; full -g costs a third more compile time), and the fuzz targets run two at a time.
set -eu
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
t0=$(date +%s)
stages=""
stage_done() {  # stage_done <name>: appends "<name> N s" to the stage times
  now=$(date +%s)
  stages="$stages${stages:+, }$1 $((now - t0)) s"
  t0=$now
}

echo "== release build (RelWithDebInfo with -g1, -Werror)"
cmake --preset default -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" >/dev/null
cmake --build --preset default -j"$jobs"
stage_done "release build"
ctest --preset default -j"$jobs"
stage_done "release tests"

# The fuzz stage: the build takes ~2 min (-j2, no ccache), 8 targets x KCD_FUZZ_SECONDS (10),
# two at a time, under 1 more (README "Fuzzing").
echo "== fuzz targets (clang 16, libFuzzer + ASan + UBSan)"
fuzz_ok=1
if cmake --preset fuzz >/dev/null && cmake --build --preset fuzz -j"$jobs"; then
  stage_done "fuzz build"
  ./tests/fuzz/run.sh "${KCD_FUZZ_SECONDS:-10}" build-fuzz || fuzz_ok=0
  stage_done "fuzz runs"
else
  echo "fuzz: 0 passed, 1 failed (the fuzz build failed)"
  fuzz_ok=0
fi

echo "== ASan + UBSan build"
cmake --preset asan >/dev/null
cmake --build --preset asan -j"$jobs"
stage_done "asan build"
asan_rc=0
ctest --preset asan -j"$jobs" || asan_rc=$?  # the preset leaves out lint and e2e-systemd
stage_done "asan tests"
echo "stage times: $stages"
[ "$asan_rc" -eq 0 ] || exit "$asan_rc"
[ "$fuzz_ok" -eq 1 ] || { echo "the fuzz stage failed (see above)"; exit 1; }
