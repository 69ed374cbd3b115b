#!/usr/bin/env bash
# Builds the libFuzzer targets (CMake preset "fuzz": clang-14, ASan, UBSan,
# build-fuzz/) and runs each for a while from its committed seeds
# (fuzz/corpus/<target>/) plus what earlier runs on this machine found
# (build-fuzz/corpus/<target>/). A crash, a leak, a sanitizer report or a
# timeout fails the run; the input that did it is kept in
# build-fuzz/artifacts/<target>/: add it to fuzz/regressions/<target>/ with
# the fix, and the normal test suite replays it for ever (CTest
# fuzz_replay:<target>).
#
# usage: scripts/fuzz.sh [--seconds N] [--jobs J] [TARGET...]
#   --seconds N   per target (default 20: the smoke .ci/run does)
#   --jobs J      targets fuzzed at once (default 1); each fuzzer is one
#                 process, so J above the core count shares the cores
#   TARGET        e.g. api_requests; default: every target
# Prints one line per target: executions, corpus size, coverage, verdict.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=20
jobs=1
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) targets+=("$1"); shift ;;
  esac
done
all=(api_requests report_requests page_token revocation_list csr server_config partnership agreement client_profile referral_file)
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")

if [ ! -f build-fuzz/CMakeCache.txt ]; then
  cmake --preset fuzz >/dev/null
fi
cmake --build --preset fuzz
root=$(pwd)
# The API target keeps a SQLite database: in memory-backed /dev/shm when
# there is one, so fsyncs do not set the pace.
scratch=$(mktemp -d "$( [ -d /dev/shm ] && echo /dev/shm || echo /tmp )/refx-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:allocator_may_return_null=1"
export LSAN_OPTIONS="suppressions=$root/scripts/sanitizers.supp"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# One target: its line of figures in $scratch/$t.line, its exit status in
# $scratch/$t.status.
fuzz_one() {
  local t=$1 corpus="build-fuzz/corpus/$1" artifacts="build-fuzz/artifacts/$1" log="$scratch/$1.log" status=0
  mkdir -p "$corpus" "$artifacts"
  TMPDIR="$scratch" "build-fuzz/fuzz/refx_fuzz_$t" "$corpus" "fuzz/corpus/$t" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2560 -max_len=65536 \
    -artifact_prefix="$artifacts/" -print_final_stats=1 >"$log" 2>&1 || status=$?
  local runs rate cov files verdict
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo 0)
  files=$(find "$corpus" -type f | wc -l)
  if [ "$status" -eq 0 ]; then verdict=ok; else verdict="FAILED (exit $status): see $artifacts/ and below"; fi
  printf '%-16s %12s %10s %8s %8s  %s\n' "$t" "$runs" "$rate" "$files" "$cov" "$verdict" >"$scratch/$t.line"
  echo "$status" >"$scratch/$t.status"
}
printf '%-16s %12s %10s %8s %8s  %s\n' target executions exec/s corpus cov verdict
running=0
for t in "${targets[@]}"; do
  if [ "$running" -ge "$jobs" ]; then wait -n || true; running=$((running - 1)); fi
  fuzz_one "$t" &
  running=$((running + 1))
done
wait
failed=0
for t in "${targets[@]}"; do
  cat "$scratch/$t.line"
  if [ "$(cat "$scratch/$t.status")" -ne 0 ]; then
    failed=1
    tail -40 "$scratch/$t.log"
  fi
done
exit $failed
