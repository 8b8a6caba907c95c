#!/bin/sh
# Runs every fuzz target for a bounded time on a copy of its seed corpus (the repository's corpus
# is never written), as CI's fuzz stage does, as many at once as there are cores (KCD_FUZZ_JOBS
# to change it). A crash, leak, timeout or failed oracle fails the run and prints the
# reproducer's path; the last line is "fuzz: N passed, N failed".
# Usage: tests/fuzz/run.sh [seconds-per-target] [fuzz build dir]
set -u
cd "$(dirname "$0")/../.."
secs=${1:-15}
bin=${2:-build-fuzz}/tests/fuzz
jobs=${KCD_FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}
work=$(mktemp -d "${TMPDIR:-/tmp}/kcd-fuzz.XXXXXX")

# One target: its report lines go to $work/<target>/report, its verdict to $work/<target>/rc.
run_target() {
  t=$1
  mkdir -p "$work/$t/corpus" "$work/$t/artifacts"
  dict=""
  [ -f "tests/fuzz/$t.dict" ] && dict="-dict=tests/fuzz/$t.dict"
  # -timeout: one input slower than 10 s is a hang; -rss_limit_mb: memory is bounded.
  # shellcheck disable=SC2086
  "$bin/${t}_fuzz" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/$t/artifacts/" $dict "$work/$t/corpus" "tests/fuzz/corpus/$t" \
    >"$work/$t/log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t/log")
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$work/$t/log")
  stats="executions ${execs:-?}, peak RSS ${rss:-?} MB"
  cov=$(grep -E '^#[0-9]+.*cov:' "$work/$t/log" | tail -1 | sed -n 's/.*cov: \([0-9]*\) ft: \([0-9]*\).*/cov \1 ft \2,/p')
  {
    if [ "$rc" -eq 0 ]; then
      echo "ok   $t: $cov $stats"
    else
      echo "FAIL $t (exit $rc): $cov $stats"
      grep -E 'ERROR: |ORACLE FAILED|runtime error|SUMMARY' "$work/$t/log" | head -5 | sed 's/^/     /'
      for a in "$work/$t/artifacts/"*; do
        [ -e "$a" ] && echo "     reproducer: $a (run: $bin/${t}_fuzz $a)"
      done
    fi
  } >"$work/$t/report"
  echo "$rc" >"$work/$t/rc"
}

targets=""
for src in tests/fuzz/*_fuzz.cpp; do targets="$targets $(basename "$src" _fuzz.cpp)"; done
# In batches of $jobs: every target runs for the same time, so batches lose nothing.
running=0
for t in $targets; do
  run_target "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait
    running=0
  fi
done
wait

pass=0
fail=0
for t in $targets; do
  cat "$work/$t/report"
  if [ "$(cat "$work/$t/rc" 2>/dev/null)" = 0 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
done
echo "fuzz logs and reproducers: $work"
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
