#!/usr/bin/env bash
# The whole test suite: install what is missing, build, run every test
# (unit, integration over real mTLS, process-level). Exits non-zero on any
# failure. CI runs exactly this (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
cd build
ctest --output-on-failure --timeout 300 -j2 "$@"
