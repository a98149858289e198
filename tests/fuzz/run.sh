#!/usr/bin/env bash
# Builds the fuzz preset (clang, libFuzzer, AddressSanitizer + UndefinedBehaviorSanitizer) and runs each
# harness in turn for SECONDS (default 600) on a scratch copy of its corpus, at nice 19, then prints per
# harness the run time, executions per second, corpus size and findings.
#
#   tests/fuzz/run.sh [--merge] [SECONDS] [HARNESS...]     (harnesses: tests/fuzz/fuzz_*.cpp; default all)
#
# New inputs go to build-fuzz/fuzz-runs/HARNESS/corpus, findings (crash-*, leak-*, timeout-*, oom-*) to
# build-fuzz/fuzz-runs/HARNESS/findings, the log to build-fuzz/fuzz-runs/HARNESS/log. Reproduce a finding with
# build-fuzz/bin/fuzz_HARNESS FILE (or build/bin/fuzz_replay_HARNESS FILE); once fixed, copy it into
# tests/fuzz/corpus/HARNESS/ as regression-WHAT. --merge adds to the committed corpus the inputs that reach code
# it does not (libFuzzer -merge=1, edges only); keep each corpus well under 1 MB.
# Environment: FUZZ_NICE (default 19), FUZZ_ARGS (more libFuzzer flags, e.g. -max_len=65536).
set -euo pipefail

source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
fuzz_dir=$source_dir/tests/fuzz
build_dir=$source_dir/build-fuzz
runs_dir=$build_dir/fuzz-runs

merge=0
if [[ ${1-} == --merge ]]; then
  merge=1
  shift
fi
seconds=600
if [[ ${1-} =~ ^[0-9]+$ ]]; then
  seconds=$1
  shift
fi
harnesses=("$@")
if ((${#harnesses[@]} == 0)); then
  for source in "$fuzz_dir"/fuzz_*.cpp; do
    name=$(basename "$source" .cpp)
    harnesses+=("${name#fuzz_}")
  done
fi
for harness in "${harnesses[@]}"; do
  if [[ ! -f $fuzz_dir/fuzz_$harness.cpp ]]; then
    echo "run.sh: no harness '$harness' (tests/fuzz/fuzz_$harness.cpp)" >&2
    exit 2
  fi
done

cd "$source_dir"
cmake --preset fuzz >/dev/null
nice -n "${FUZZ_NICE:-19}" cmake --build --preset fuzz

summary=()
failed=0
for harness in "${harnesses[@]}"; do
  run_dir=$runs_dir/$harness
  rm -rf "$run_dir"
  mkdir -p "$run_dir/corpus" "$run_dir/findings"
  cp "$fuzz_dir/corpus/$harness"/* "$run_dir/corpus/"
  options=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
           -artifact_prefix="$run_dir/findings/")
  [[ -f $fuzz_dir/$harness.dict ]] && options+=(-dict="$fuzz_dir/$harness.dict")
  # shellcheck disable=SC2206
  options+=(${FUZZ_ARGS-})

  echo "== fuzz_$harness: ${seconds} s, log in ${run_dir#"$source_dir"/}/log"
  start=$(date +%s)
  status=0
  ASAN_OPTIONS=${ASAN_OPTIONS-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS-print_stacktrace=1:halt_on_error=1} \
    nice -n "${FUZZ_NICE:-19}" "$build_dir/bin/fuzz_$harness" "${options[@]}" "$run_dir/corpus" \
    >"$run_dir/log" 2>&1 || status=$?
  elapsed=$(($(date +%s) - start))

  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$run_dir/log" | tail -1)
  per_second=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$run_dir/log" | tail -1)
  findings=$(find "$run_dir/findings" -type f | wc -l)
  corpus_files=$(find "$run_dir/corpus" -type f | wc -l)
  corpus_kb=$(find "$run_dir/corpus" -type f -printf '%s\n' | awk '{ s += $1 } END { printf "%.0f", s / 1024 }')
  if ((status != 0 || findings > 0)); then
    failed=1
    grep -m1 -E 'ERROR: |check failed|deadly signal|uncaught exception' "$run_dir/log" || tail -5 "$run_dir/log"
    find "$run_dir/findings" -type f -printf '   finding: %p\n'
  fi
  summary+=("$(printf '%-10s %6s s %10s execs %8s exec/s %6s inputs %6s KiB %3s findings (exit %s)' \
    "$harness" "$elapsed" "${executions:-?}" "${per_second:-?}" "$corpus_files" "$corpus_kb" "$findings" "$status")")

  if ((merge && status == 0)); then
    nice -n "${FUZZ_NICE:-19}" "$build_dir/bin/fuzz_$harness" -merge=1 -use_counters=0 "$fuzz_dir/corpus/$harness" \
      "$run_dir/corpus" >>"$run_dir/log" 2>&1
    echo "   merged: tests/fuzz/corpus/$harness now holds $(find "$fuzz_dir/corpus/$harness" -type f | wc -l) files," \
      "$(find "$fuzz_dir/corpus/$harness" -type f -printf '%s\n' | awk '{ s += $1 } END { printf "%.0f", s / 1024 }') KiB"
  fi
done

echo
printf '%s\n' "${summary[@]}"
exit "$failed"
