#!/usr/bin/env bash
# refx-server against the plain implementation (bench/plain-node/server.js),
# as issue 12 measures them: the same refx-bench rows against each, runs
# interleaved (refx, plain, refx, plain, ...) so that the machine's drift
# falls on both, each server's CPU per call read from /proc.
#
#   bench/plain-node/compare.sh [--runs N] [--build DIR] [--out DIR] [-- REFX-BENCH FLAGS]
#
# Default refx-bench flags: --only echo,create,get,list (the rows the plain
# service serves; transitions and watch it does not have). Prints one table
# per row and in-flight level, each run's calls/s, p99 and server CPU, and
# the ratio of the medians; every run's JSON stays in --out.
set -euo pipefail

usage() {
  sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
  echo "Options: --runs N (default 2), --build DIR (default ./build), --out DIR (default a new temporary directory)"
}

root=$(cd "$(dirname "$0")/../.." && pwd)
runs=2
build="$root/build"
out=""
bench_flags=(--only echo,create,get,list)
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --build) build=$(cd "$2" && pwd); shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    --) shift; bench_flags=("$@"); break ;;
    *) echo "compare.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
case "$runs" in ''|*[!0-9]*|0) echo "compare.sh: --runs takes a positive number" >&2; exit 2 ;; esac
bench="$build/bench/refx-bench"
admin="$build/clients/admin/refx-admin"
for tool in "$bench" "$admin"; do
  [ -x "$tool" ] || { echo "compare.sh: $tool is missing: build first (scripts/build.sh)" >&2; exit 1; }
done
command -v node >/dev/null || { echo "compare.sh: node is missing (scripts/install-deps.sh installs it)" >&2; exit 1; }

here="$root/bench/plain-node"
if [ ! -d "$here/node_modules/better-sqlite3" ]; then
  echo "compare.sh: installing the plain service's packages (npm ci; better-sqlite3 compiles, ~2 minutes)" >&2
  (cd "$here" && npm ci --silent --no-audit --no-fund)
fi

[ -n "$out" ] || out=$(mktemp -d /tmp/refx-plain-compare.XXXXXX)
mkdir -p "$out"
pki="$out/pki"
[ -f "$pki/root-ca.pem" ] || "$admin" dev-pki "$pki" --partnership "$root/config/partnership.yaml" >/dev/null
sender=leicestershire-police

node_pid=""
stop_node() {
  if [ -n "$node_pid" ] && kill -0 "$node_pid" 2>/dev/null; then
    kill -TERM "$node_pid"
    wait "$node_pid" 2>/dev/null || true
  fi
  node_pid=""
}
trap stop_node EXIT

# run_bench KIND RUN [FLAGS...]: one refx-bench run, its JSON and stderr kept
# in --out; on failure the end of its stderr, and the script stops.
run_bench() {
  local kind=$1 run=$2
  shift 2
  if ! "$bench" "${bench_flags[@]}" --output json "$@" >"$out/$kind-$run.json" 2>"$out/$kind-$run.err"; then
    echo "compare.sh: refx-bench against the $kind server failed (run $run); the end of its output:" >&2
    tail -n 5 "$out/$kind-$run.err" >&2
    exit 1
  fi
}

for i in $(seq 1 "$runs"); do
  echo "compare.sh: run $i of $runs: refx-server" >&2
  run_bench refx "$i"

  echo "compare.sh: run $i of $runs: plain Node.js service" >&2
  rm -f "$out/plain-$i.db" "$out/plain-$i.db-wal" "$out/plain-$i.db-shm"
  node "$here/server.js" --pki "$pki" --db "$out/plain-$i.db" >"$out/plain-$i.log" 2>&1 &
  node_pid=$!
  port=""
  for _ in $(seq 1 100); do
    port=$(sed -n 's/^listening on [^ ]*:\([0-9][0-9]*\) .*/\1/p' "$out/plain-$i.log")
    [ -n "$port" ] && break
    kill -0 "$node_pid" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$port" ] || { echo "compare.sh: the plain service did not start:" >&2; cat "$out/plain-$i.log" >&2; exit 1; }
  run_bench plain "$i" --server "127.0.0.1:$port" --server-pid "$node_pid" --ca-file "$pki/root-ca.pem" \
    --cert-file "$pki/agencies/$sender.pem" --key-file "$pki/agencies/$sender.key"
  stop_node
done

python3 - "$out" "$runs" <<'EOF'
import json, statistics, sys
out, runs = sys.argv[1], int(sys.argv[2])
def load(kind):
    return [json.load(open(f"{out}/{kind}-{i}.json")) for i in range(1, runs + 1)]
refx, plain = load("refx"), load("plain")
def rows(report):
    return {(r["workload"], r["in_flight"]): r for r in report["results"] if r.get("calls_per_second")}
keys = [k for k in rows(refx[0]) if all(k in rows(x) for x in refx + plain)]
# A row the plain service failed or never served makes the comparison void.
broken = [f'{r["workload"]} at {r["in_flight"]}: {r["errors"]} errors {r.get("first_error", "")}'
          for x in plain for r in x["results"] if r.get("errors")]
missing = [f"{w} at {n}" for (w, n) in rows(refx[0]) if (w, n) not in keys and not w.startswith(("sqlite_", "store_", "fsync_"))]
if broken or missing or not keys:
    print("compare.sh: no comparison: " + "; ".join(broken + [f"{m} not measured on both" for m in missing]), file=sys.stderr)
    sys.exit(1)
def fmt(r):
    cpu = r.get("server_cpu_us_per_call")
    return f'{r["calls_per_second"]:>8.0f}/s p99 {r["latency_us"]["p99"] / 1000:6.1f} ms cpu {cpu:5.0f} us' if cpu \
        else f'{r["calls_per_second"]:>8.0f}/s p99 {r["latency_us"]["p99"] / 1000:6.1f} ms'
print(f"refx-server against the plain Node.js service, {runs} interleaved runs (calls/s; list rows in pages/s)")
print(f'{"row":<24}{"in flight":>10}  {"refx / plain (median calls/s)":>30}')
for key in keys:
    r = [rows(x)[key] for x in refx]
    p = [rows(x)[key] for x in plain]
    mr = statistics.median(x["calls_per_second"] for x in r)
    mp = statistics.median(x["calls_per_second"] for x in p)
    print(f"{key[0]:<24}{key[1]:>10}  {mr / mp:>29.2f}x")
    for i in range(runs):
        print(f'{"":<36}run {i + 1} refx  {fmt(r[i])}')
        print(f'{"":<36}run {i + 1} plain {fmt(p[i])}')
print(f"(each run's JSON and stderr: {out})")
EOF
