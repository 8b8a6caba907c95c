#!/bin/sh
# A long fuzzing campaign: every target for SECONDS (default 3600), JOBS targets at a time
# (default 1), each on its grown corpus kept outside the repository in
# ${KCD_FUZZ_DIR:-$HOME/.cache/kubelet-certd-fuzz}/<target>/ (seeded from tests/fuzz/corpus).
# A crash does not end a target's time: it is saved under <target>/artifacts/ and the target goes
# on. Campaigns add up: each run's statistics are appended to <target>/runs.log, and the totals
# count every run on that directory. KCD_FUZZ_UNTIL=N skips a target, or ends its time early,
# once its total reaches N executions.
# Prints one line per target: executions (this campaign and in all), coverage (cov/ft from
# libFuzzer's last stats), crashes and slow inputs kept.
# KCD_FUZZ_WORKERS=N runs N fuzzers per target at once on the one corpus (libFuzzer reloads the
# corpus other processes grow), each with its own log: last.log, last-w2.log, ...
# Usage: tests/fuzz/campaign.sh [seconds-per-target] [jobs]   (run it under nice on a shared machine)
set -u
cd "$(dirname "$0")/../.." || exit 2
secs=${1:-3600}
jobs=${2:-1}
workers=${KCD_FUZZ_WORKERS:-1}
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

log_of() {  # the last log of worker $2 of target $1
  if [ "$2" = 1 ]; then echo "$dir/$1/last.log"; else echo "$dir/$1/last-w$2.log"; fi
}

append_run() {  # appends a run's log $2 to target $1's runs.log and drops that run's share file $3,
  # one writer at a time: under runs.log's lock, held on fd 8, which the caller opened on it (taken
  # again at once if the caller holds it already: the same open file, as in a worker's trap)
  flock 8
  cat "$2" >>"$dir/$1/runs.log"
  rm -f "$3"
  flock -u 8
}

close_log() {  # a run's log $1 without final statistics (its fuzzer was killed): count what its
  # last status line reached, once. True when the log has its statistics now.
  grep -q '^stat::number_of_executed_units' "$1" && return 0
  reached=$(grep -E '^#[0-9]+' "$1" | tail -n 1 | sed 's/^#\([0-9]*\).*/\1/')
  [ -n "$reached" ] || return 1
  printf 'interrupted run\nstat::number_of_executed_units: %s\n' "$reached" >>"$1"
}

count_interrupted() {  # target $1: count runs cut short (the machine stopped, the campaign killed)
  exec 8>>"$dir/$1/runs.log"
  for log in "$dir/$1"/last.log "$dir/$1"/last-w*.log; do
    [ -s "$log" ] || continue
    # A worker still running holds its log's lock (another campaign on this target).
    flock -n "$log.lock" true 2>/dev/null || continue
    grep -q '^stat::number_of_executed_units' "$log" && continue
    close_log "$log" || continue
    grep -A1 '^interrupted run$' "$log" | tail -n 2 >"$log.tail"
    append_run "$1" "$log.tail" "$log.runs"
    rm -f "$log.tail"
  done
}

share() {  # worker $2 of target $1, with runs.log locked on fd 8: its part of the executions still
  # missing to KCD_FUZZ_UNTIL. Runs other workers are doing now count as done (each wrote its
  # number to <log>.runs and holds its lock); the rest is shared among the workers not running one
  # (rounded up). Without that, a worker that finished first started a second share of what the
  # others were still doing (cis: 1.7 million executions past the goal).
  pending=0
  idle=1
  w=1
  while [ "$w" -le "$workers" ]; do
    other=$(log_of "$1" "$w")
    if [ "$w" != "$2" ] && [ -s "$other.runs" ] && ! flock -n "$other.lock" true 2>/dev/null; then
      pending=$((pending + $(cat "$other.runs")))
    elif [ "$w" != "$2" ]; then
      idle=$((idle + 1))
    fi
    w=$((w + 1))
  done
  echo $(((KCD_FUZZ_UNTIL - $(total_of "$dir/$1/runs.log") - pending + idle - 1) / idle))
}

worker() {  # worker $2 of target $1 for $secs seconds, restarting after each crash
  t=$1
  log=$(log_of "$t" "$2")
  exec 9>"$log.lock"
  flock -n 9 || { echo "$t: worker $2 is already running ($log.lock)" >&2; return 1; }
  # runs.log's lock on a descriptor of our own: taken while this worker's share is decided and while
  # its run is appended (and its share dropped), so no other worker counts it twice or not at all.
  exec 8>>"$dir/$t/runs.log"
  dict=""
  [ -f "tests/fuzz/$t.dict" ] && dict="-dict=tests/fuzz/$t.dict"
  start=$(date +%s)
  # Stopped by a signal (pkill campaign.sh): the run under way still counts. The shell acts on
  # the signal once the fuzzer has ended (it prints its final statistics on SIGTERM too), then
  # appends that run, unless the loop already did.
  counted=1
  trap '[ "$counted" = 1 ] || { close_log "$log"; append_run "$t" "$log" "$log.runs"; }; exit 143' TERM INT HUP
  while :; do
    left=$((secs - ($(date +%s) - start)))
    [ "$left" -gt 0 ] || break
    runs=-1
    if [ -n "${KCD_FUZZ_UNTIL:-}" ]; then
      flock 8
      runs=$(share "$t" "$2")
      [ "$runs" -gt 0 ] && echo "$runs" >"$log.runs"
      flock -u 8
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
      >"$log" 2>&1
    close_log "$log"
    append_run "$t" "$log" "$log.runs"
    counted=1
  done
  trap - TERM INT HUP
}

one() {  # one target: its workers, then its summary line
  t=$1
  mkdir -p "$dir/$t/corpus" "$dir/$t/artifacts"
  touch "$dir/$t/runs.log"
  count_interrupted "$t"
  before=$(total_of "$dir/$t/runs.log")
  # Each worker in its own shell; a signal to the campaign reaches them all (same process group).
  w=1
  while [ "$w" -le "$workers" ]; do
    (worker "$t" "$w") &
    w=$((w + 1))
  done
  wait
  all=$(total_of "$dir/$t/runs.log")
  cov=$(grep -E '^#[0-9]+.*cov:' "$dir/$t/runs.log" | tail -1 | sed -n 's/.*cov: \([0-9]*\) ft: \([0-9]*\).*/cov \1 ft \2/p')
  # libFuzzer's slow-unit-* files are inputs that took over 10 s (wall-clock: replay them before
  # calling one a finding); crash-, leak-, timeout- and oom- files are failures.
  crashes=$(find "$dir/$t/artifacts" -type f ! -name 'slow-unit-*' | wc -l)
  slow=$(find "$dir/$t/artifacts" -type f -name 'slow-unit-*' | wc -l)
  echo "$t: executions $((all - before)) now, $all in all, $cov, crashes $crashes, slow inputs $slow" | tee "$dir/$t/summary"
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
