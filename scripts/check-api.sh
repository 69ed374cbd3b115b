#!/usr/bin/env bash
# Checks the API definitions with buf (pinned in tools/buf, from the npm
# registry): `buf lint` against the rule set buf.yaml chooses and justifies,
# and `buf breaking` against the first commit of refx.v1, so no change to a
# field number, type, name or enum value that a deployed client relies on
# can land. Needs node/npm and, on the first run, the npm registry.
#
# usage: scripts/check-api.sh [--against GIT_REF]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# The commit that introduced refx.v1 (the API's first published shape).
against=c8282958fe5e43ee84511f43b604b377024a0974
if [ "${1:-}" = "--against" ]; then against=${2:?--against needs a git ref}; fi

buf=tools/buf/node_modules/.bin/buf
if [ ! -x "$buf" ]; then
  echo "check-api: installing buf (npm ci in tools/buf)"
  (cd tools/buf && npm ci --silent --no-audit --no-fund)
fi
if ! git cat-file -e "$against^{commit}" 2>/dev/null; then
  echo "check-api: $against is not in this clone's history (a shallow clone?): fetch it, or pass --against REF" >&2
  exit 1
fi
echo "check-api: $("$buf" --version | head -1), lint"
"$buf" lint
echo "check-api: breaking changes against $(git log -1 --format='%h (%ad)' --date=short "$against")"
"$buf" breaking --against ".git#ref=$against,subdir=proto"
echo "check-api: OK"
