#!/bin/sh
# A long fuzzing campaign: every target for SECONDS (default 3600), JOBS targets at a time
# (default 1), each on its grown corpus kept outside the repository in
# ${KCD_FUZZ_DIR:-$HOME/.cache/kubelet-certd-fuzz}/<target>/ (seeded from tests/fuzz/corpus).
# A crash does not end a target's time: it is saved under <target>/artifacts/ and the target goes
# on. Campaigns add up: each run's statistics are appended to <target>/runs.log, and the totals
# count every run on that directory. KCD_FUZZ_UNTIL=N skips a target, or ends its time early,
# once its total reaches N executions.
# Prints one line per target: executions (this campaign and in all), coverage (cov/ft from
# libFuzzer's last stats), crashes kept.
# Usage: tests/fuzz/campaign.sh [seconds-per-target] [jobs]   (run it under nice on a shared machine)
set -u
cd "$(dirname "$0")/../.."
secs=${1:-3600}
jobs=${2:-1}
bin=${KCD_FUZZ_BUILD:-build-fuzz}/tests/fuzz
dir=${KCD_FUZZ_DIR:-$HOME/.cache/kubelet-certd-fuzz}
# The kubelet config editor's strict oracles too (its edit mode; see kubelet_config_fuzz.cpp).
export KCD_FUZZ_STRICT_EDITOR=${KCD_FUZZ_STRICT_EDITOR:-1}
# No allocation stacks kept for reports (12 % more executions/s on the settings target): a crash's
# reproducer is kept, and replaying it with the target prints the full report.
export ASAN_OPTIONS=${ASAN_OPTIONS:-malloc_context_size=0}
[ -x "$bin/settings_fuzz" ] || { echo "build the targets first: cmake --preset fuzz && cmake --build --preset fuzz -j2" >&2; exit 2; }

total_of() {  # executions recorded in a runs log
  sed -n 's/^stat::number_of_executed_units: *//p' "$1" 2>/dev/null | awk '{s += $1} END {print s + 0}'
}

one() {  # one target for $secs seconds, restarting after each crash
  t=$1
  mkdir -p "$dir/$t/corpus" "$dir/$t/artifacts"
  touch "$dir/$t/runs.log"
  # A run cut short (the machine stopped, the campaign killed) left no final statistics: count
  # what its last status line reached, once.
  if [ -s "$dir/$t/last.log" ] && ! grep -q '^stat::number_of_executed_units' "$dir/$t/last.log"; then
    reached=$(grep -E '^#[0-9]+' "$dir/$t/last.log" | tail -n 1 | sed 's/^#\([0-9]*\).*/\1/')
    if [ -n "$reached" ]; then
      printf 'interrupted run\nstat::number_of_executed_units: %s\n' "$reached" >>"$dir/$t/last.log"
      printf 'interrupted run\nstat::number_of_executed_units: %s\n' "$reached" >>"$dir/$t/runs.log"
    fi
  fi
  before=$(total_of "$dir/$t/runs.log")
  dict=""
  [ -f "tests/fuzz/$t.dict" ] && dict="-dict=tests/fuzz/$t.dict"
  start=$(date +%s)
  # Stopped by a signal (pkill campaign.sh): the run under way still counts. The shell acts on
  # the signal once the fuzzer has ended (it prints its final statistics on SIGTERM too), then
  # appends that run, unless the loop already did.
  counted=1
  trap '[ "$counted" = 1 ] || cat "$dir/$t/last.log" >>"$dir/$t/runs.log"; exit 143' TERM INT HUP
  while :; do
    left=$((secs - ($(date +%s) - start)))
    [ "$left" -gt 0 ] || break
    runs=-1
    if [ -n "${KCD_FUZZ_UNTIL:-}" ]; then
      runs=$((KCD_FUZZ_UNTIL - $(total_of "$dir/$t/runs.log")))
      [ "$runs" -gt 0 ] || break
    fi
    counted=0
    # shellcheck disable=SC2086
    # -detect_leaks=0: no LeakSanitizer scan per input (OpenSSL's caches set one off for most
    # inputs: the certificate target ran 319 executions/s with it, 11,500 without); a leak is
    # still reported when the process ends, and CI's run.sh keeps the per-input check.
    "$bin/${t}_fuzz" -max_total_time="$left" -runs="$runs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -detect_leaks="${KCD_FUZZ_DETECT_LEAKS:-0}" \
      -artifact_prefix="$dir/$t/artifacts/" $dict "$dir/$t/corpus" "tests/fuzz/corpus/$t" \
      >"$dir/$t/last.log" 2>&1
    cat "$dir/$t/last.log" >>"$dir/$t/runs.log"
    counted=1
  done
  trap - TERM INT HUP
  all=$(total_of "$dir/$t/runs.log")
  cov=$(grep -E '^#[0-9]+.*cov:' "$dir/$t/runs.log" | tail -1 | sed -n 's/.*cov: \([0-9]*\) ft: \([0-9]*\).*/cov \1 ft \2/p')
  crashes=$(find "$dir/$t/artifacts" -type f | wc -l)
  echo "$t: executions $((all - before)) now, $all in all, $cov, crashes $crashes" | tee "$dir/$t/summary"
}

# KCD_FUZZ_TARGETS="state csr": these targets, in this order (default: all).
targets=${KCD_FUZZ_TARGETS:-$(for f in tests/fuzz/*_fuzz.cpp; do basename "$f" _fuzz.cpp; done)}
if [ "$jobs" -gt 1 ]; then
  # In batches of $jobs background shells.
  running=0
  for t in $targets; do
    one "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
      wait
      running=0
    fi
  done
  wait
else
  for t in $targets; do one "$t"; done
fi
echo "campaign: $secs s per target; corpora and crashes in $dir"
for t in $targets; do cat "$dir/$t/summary"; done
