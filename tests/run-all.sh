#!/bin/sh
# The whole test suite, as CI runs it: the release build with warnings as errors and every
# test, the fuzz targets (clang 16, libFuzzer + ASan + UBSan) built from scratch and each run for
# a bounded time, then the ASan+UBSan build and every test again (the lint checks, which read
# only the sources, run once). Ends with ctest's summary and one line of stage times; the fuzz
# stage's "fuzz: N passed, N failed" comes before it. Every stage runs whatever failed before
# it; the exit status is the first failure's: release tests, ASan stage, fuzz stage.
#
# CI must stay under 30 minutes on 2 cores; compiling is most of it (README "Building and
# testing"). So both builds here carry line tables only (-g1: backtraces and sanitizer reports
# keep file and line; full -g costs a third more compile time in the release build, a quarter in
# the ASan + UBSan one), the release build compiles the test side at -Og (40 % less time than
# -O2; the product stays at -O2), every build links with lld (a third of ld.bfd's time per test
# executable), the fuzz and ASan builds run beside the release tests on the CPU time those leave
# idle, and the fuzz targets run two at a time.
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

echo "== release build (RelWithDebInfo with -g1, the test side at -Og, -Werror)"
cmake --preset default -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" -DKCD_TEST_CODE_FLAGS=-Og -DKCD_LINKER=lld >/dev/null
cmake --build --preset default -j"$jobs"
stage_done "release build"

# The fuzz and ASan + UBSan builds start now, beside the release tests, at the scheduler's idle
# class (SCHED_IDLE: they run only on CPU time no test wants; the tests use 1.2 of 2 cores on
# average, waiting on timers, sockets and the container). Their output goes to a log, printed
# when they are waited for.
logs=$(mktemp -d "${TMPDIR:-/tmp}/kcd-ci.XXXXXX")
idle="chrt --idle 0"
$idle true 2>/dev/null || idle="nice -n 19"  # a sandbox that refuses SCHED_IDLE
(
  rc=0
  if cmake --preset fuzz -DKCD_LINKER=lld >"$logs/fuzz-build.log" 2>&1 &&
    $idle cmake --build --preset fuzz -j"$jobs" >>"$logs/fuzz-build.log" 2>&1; then
    echo 0 >"$logs/fuzz-build.rc"
  else
    echo 1 >"$logs/fuzz-build.rc"
  fi
  cmake --preset asan -DCMAKE_CXX_FLAGS_DEBUG=-g1 -DKCD_LINKER=lld >"$logs/asan-build.log" 2>&1 &&
    $idle cmake --build --preset asan -j"$jobs" >>"$logs/asan-build.log" 2>&1 || rc=$?
  echo "$rc" >"$logs/asan-build.rc"
) &
builds=$!
echo "== release tests (the fuzz and ASan builds beside them, on idle CPU: $logs)"
release_rc=0
ctest --preset default -j"$jobs" || release_rc=$?
stage_done "release tests"

# What is left of the two builds runs alone (SCHED_IDLE costs nothing when nothing else runs).
echo "== fuzz targets (clang 16, libFuzzer + ASan + UBSan)"
wait "$builds" || true
stage_done "fuzz + asan builds after the release tests"
fuzz_ok=1
cat "$logs/fuzz-build.log"
if [ "$(cat "$logs/fuzz-build.rc" 2>/dev/null)" = 0 ]; then
  # 8 targets x KCD_FUZZ_SECONDS (10), two at a time, under 1 more minute (README "Fuzzing").
  ./tests/fuzz/run.sh "${KCD_FUZZ_SECONDS:-10}" build-fuzz || fuzz_ok=0
  stage_done "fuzz runs"
else
  echo "fuzz: 0 passed, 1 failed (the fuzz build failed)"
  fuzz_ok=0
fi

echo "== ASan + UBSan build (-g1)"
cat "$logs/asan-build.log"
asan_rc=$(cat "$logs/asan-build.rc" 2>/dev/null || echo 1)
if [ "$asan_rc" -eq 0 ]; then
  ctest --preset asan -j"$jobs" || asan_rc=$?  # the preset leaves out lint and e2e-systemd
  stage_done "asan tests"
else
  echo "the ASan + UBSan build failed (see above)"
fi
rm -rf "$logs"
echo "stage times: $stages"
[ "$release_rc" -eq 0 ] || { echo "the release tests failed (see above)"; exit "$release_rc"; }
[ "$asan_rc" -eq 0 ] || exit "$asan_rc"
[ "$fuzz_ok" -eq 1 ] || { echo "the fuzz stage failed (see above)"; exit 1; }
