#!/usr/bin/env bash
# Configures and builds everything into build/ (2 parallel jobs: the
# project's machines have 2 cores and gRPC translation units are large).
set -euo pipefail
cd "$(dirname "$0")/.."
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if [ ! -f build/CMakeCache.txt ]; then
  cmake -S . -B build "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
cmake --build build -j2
