#!/usr/bin/env bash
# Builds everything with AddressSanitizer and UndefinedBehaviorSanitizer
# (g++, -fno-sanitize-recover: the first report fails the test) into
# build-asan/, then runs the unit, integration and process suites there.
# Debian's gRPC, protobuf and OpenSSL are not instrumented: reports come from
# refx's own code and from what it passes them.
#
# usage: scripts/test-sanitizers.sh [ctest arguments, e.g. -L unit or -R Store]
#        scripts/test-sanitizers.sh --quick
#
# --quick is what .ci/run does within its time budget: the core, common,
# PKI and storage suites only, built by clang-14 with ASan and UBSan in the
# fuzz build (CMake preset "fuzz", build-fuzz/, which scripts/fuzz.sh has
# usually built already), each binary run directly. The storage suites use
# PostgreSQL too when REFX_TEST_POSTGRES_* is set (scripts/test.sh sets it).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
case "${1:-}" in
  -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
esac
if [ "${1:-}" = "--quick" ]; then
  suites=(common/refx_common_test core/refx_core_test core/reporting/refx_reporting_test auth/pki/refx_pki_test
          auth/pki/refx_ca_test tests/storage/refx_store_conformance_test tests/storage/refx_commit_retry_test
          tests/storage/refx_wal_write_coalescing_test)
  [ -f build-fuzz/CMakeCache.txt ] || cmake --preset fuzz >/dev/null
  cmake --build build-fuzz -j2 --target "${suites[@]##*/}"
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1"
  export LSAN_OPTIONS="suppressions=$root/scripts/sanitizers.supp"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  for suite in "${suites[@]}"; do
    log=$(mktemp)
    if ! (cd build-fuzz && "./$suite" --gtest_brief=1 >"$log" 2>&1); then
      tail -60 "$log"
      echo "sanitizers: $suite FAILED" >&2
      exit 1
    fi
    echo "sanitizers: $suite: $(grep -o '[0-9]* tests\? from [0-9]* test suites\? ran' "$log" | head -1), clean"
    rm -f "$log"
  done
  exit 0
fi
bash scripts/install-deps.sh
# GCC 12 reports -Wmaybe-uninitialized false positives inside libstdc++'s
# std::regex and std::function when instrumenting; -Werror would stop on them.
flags="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -Wno-maybe-uninitialized"
if [ ! -f build-asan/CMakeCache.txt ]; then
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_C_FLAGS="$flags" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
    -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined"
fi
cmake --build build-asan -j2
eval "$(bash scripts/postgres.sh start)"
trap 'bash "$root/scripts/postgres.sh" stop "$REFX_TEST_POSTGRES_DIR" >/dev/null || true' EXIT
export REFX_TEST_REQUIRE_POSTGRES=1
# Leaks are reported at exit; gRPC's process-wide singletons are not leaks.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1"
export LSAN_OPTIONS="suppressions=$root/scripts/sanitizers.supp"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
cd build-asan
# The bench smoke rows measure speed, which sanitizers distort: left out.
ctest --output-on-failure --timeout 900 -j2 -E "refx_bench" "$@"
