#!/usr/bin/env bash
# The whole test suite: install what is missing, build, start a throwaway
# PostgreSQL (scripts/postgres.sh), run every test (unit, integration over
# real mTLS on SQLite and again on PostgreSQL, process-level), stop
# PostgreSQL, then a short fuzzing smoke of every parser that takes outside
# bytes (scripts/fuzz.sh: clang-14 with libFuzzer, 20 s per target, two
# targets at once on the two cores) and the
# core and storage suites under ASan and UBSan. Exits non-zero on any
# failure. CI runs exactly this (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
# Each stage's wall time, printed at the end (CI's budget is 45 minutes).
stages=()
stage_started=$(date +%s)
stage_done() {
  local now
  now=$(date +%s)
  stages+=("$1 $((now - stage_started)) s")
  stage_started=$now
}
bash scripts/install-deps.sh
stage_done "install"
bash scripts/build.sh
stage_done "build"
eval "$(bash scripts/postgres.sh start)"
root=$(pwd)
stop_postgres() {
  local status=$?
  bash "$root/scripts/postgres.sh" stop "$REFX_TEST_POSTGRES_DIR" || true
  [ ${#stages[@]} -eq 0 ] || echo "test.sh stages: $(IFS=,; echo "${stages[*]}" | sed 's/,/, /g')"
  exit "$status"
}
trap stop_postgres EXIT
# The PostgreSQL tests fail rather than skip if the server is missing.
export REFX_TEST_REQUIRE_POSTGRES=1
(cd build && ctest --output-on-failure --timeout 300 -j2 "$@")
stage_done "ctest"
# With ctest arguments (a subset), the fuzzing smoke is left out.
if [ $# -eq 0 ]; then
  bash scripts/fuzz.sh --seconds "${REFX_FUZZ_SECONDS:-20}" --jobs 2
  stage_done "fuzz build and smoke"
  # The core and storage suites again under ASan and UBSan (clang, the fuzz
  # build): the whole suite under sanitizers is scripts/test-sanitizers.sh.
  bash scripts/test-sanitizers.sh --quick
  stage_done "sanitizer suites"
fi
