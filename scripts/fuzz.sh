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
#   TARGET        e.g. api_requests; default: every target
# Prints one line per target: executions, corpus size, coverage, verdict.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=20
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) targets+=("$1"); shift ;;
  esac
done
all=(api_requests page_token revocation_list csr server_config partnership agreement client_profile referral_file)
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
failed=0
printf '%-16s %12s %10s %8s %8s  %s\n' target executions exec/s corpus cov verdict
for t in "${targets[@]}"; do
  corpus="build-fuzz/corpus/$t"
  artifacts="build-fuzz/artifacts/$t"
  mkdir -p "$corpus" "$artifacts"
  log="$scratch/$t.log"
  status=0
  TMPDIR="$scratch" "build-fuzz/fuzz/refx_fuzz_$t" "$corpus" "fuzz/corpus/$t" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2560 -max_len=65536 \
    -artifact_prefix="$artifacts/" -print_final_stats=1 >"$log" 2>&1 || status=$?
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo 0)
  files=$(find "$corpus" -type f | wc -l)
  if [ "$status" -eq 0 ]; then
    verdict=ok
  else
    verdict="FAILED (exit $status): see $artifacts/ and below"
    failed=1
  fi
  printf '%-16s %12s %10s %8s %8s  %s\n' "$t" "$runs" "$rate" "$files" "$cov" "$verdict"
  if [ "$status" -ne 0 ]; then tail -40 "$log"; fi
done
exit $failed
