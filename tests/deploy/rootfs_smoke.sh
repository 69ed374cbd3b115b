#!/usr/bin/env bash
# The container image's root filesystem, run as the Helm chart runs it, on a
# machine that cannot run containers: scripts/build-image.sh --rootfs-only,
# the server.yaml that `helm template` renders for the SQLite profile, the
# secrets laid out as Kubernetes mounts them (mode 0440, group = fsGroup
# 65532), a read-only root, user 65532:65532, in its own network and mount
# namespaces. Then a referral flow with the CLI over mTLS, the ops port's
# readiness and metrics, and SIGTERM: exit 0 within 2 s.
# Needs root (namespaces, chroot). Exit 77 (skipped) without it.
#
# usage: tests/deploy/rootfs_smoke.sh [--podman]
#   --podman  run the built image (scripts/build-image.sh) with podman instead,
#             same mounts, user and read-only root, on the host's network with
#             free ports in place of the chart's
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
mode=rootfs
if [ "${1:-}" = "--podman" ]; then mode=podman; fi
if [ "$mode" = podman ] && ! command -v podman >/dev/null; then
  echo "rootfs-smoke: podman is not installed: skipped"
  exit 77
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "rootfs-smoke: needs root for namespaces and chroot (CI runs as root): skipped"
  exit 77
fi
work=$(mktemp -d /tmp/refx-rootfs.XXXXXX)
cleanup() {
  local status=$?
  if [ "$status" -ne 0 ] && [ -f "$work/server.log" ]; then
    echo "--- server log"
    tail -40 "$work/server.log"
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT

bash scripts/build-image.sh --rootfs-only --out "$work/image" >/dev/null
rootfs="$work/image/rootfs"
bash scripts/check-chart.sh --keep "$work/rendered" >/dev/null
# The ConfigMaps' files, exactly as rendered (node, with the validator's yaml package).
(cd helm/validate && node --input-type=module -e '
  import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
  import { parseAllDocuments } from "yaml";
  const [rendered, out] = process.argv.slice(1);
  for (const doc of parseAllDocuments(readFileSync(rendered, "utf8"))) {
    const o = doc.toJS();
    if (o?.kind !== "ConfigMap") continue;
    const dir = `${out}/${o.metadata.name.replace(/^refx-/, "")}`;
    mkdirSync(dir, { recursive: true });
    for (const [name, text] of Object.entries(o.data)) writeFileSync(`${dir}/${name}`, text);
  }' "$work/rendered/sqlite.yaml" "$work/cm")
test -s "$work/cm/server/server.yaml" && test -s "$work/cm/partnership/agreement.yaml"

# The Secrets the chart references, made as docs/operations.md says.
./build/clients/admin/refx-admin dev-pki "$work/pki" --partnership config/partnership.yaml >/dev/null
secrets="$work/secrets"
mkdir -p "$secrets"/{tls,agency-ca,revocation,keys}
cp "$work/pki/server.pem" "$secrets/tls/tls.crt"
cp "$work/pki/server.key" "$secrets/tls/tls.key"
cp "$work/pki/agency-ca.pem" "$secrets/agency-ca/ca.crt"
cp "$work/pki/revocations.txt" "$secrets/revocation/revocations.txt"
head -c 32 /dev/urandom >"$secrets/keys/audit.key"
head -c 32 /dev/urandom >"$secrets/keys/victim-token.key"
head -c 32 /dev/urandom >"$secrets/keys/data-encryption.key"
openssl genpkey -algorithm ed25519 -out "$secrets/keys/audit-signing.key" 2>/dev/null
# As kubelet presents them to a pod with fsGroup 65532: root-owned, 0440.
chown -R 0:65532 "$secrets"
find "$secrets" -type f -exec chmod 0440 {} +
find "$secrets" -type d -exec chmod 0750 {} +
chown -R 0:65532 "$work/cm" && find "$work/cm" -type f -exec chmod 0444 {} +
mkdir -p "$work/data" && chown 0:65532 "$work/data" && chmod 2775 "$work/data"
chmod 0755 "$work"

# The flow, the same for both ways of running the image: wait for
# readiness, a referral between two agencies through the CLI, metrics.
cat >"$work/flow.sh" <<'FLOW'
set -euo pipefail
work=$1 root=$2 api=${3:-50051} ops=${4:-9090}
ready=0
for _ in $(seq 1 150); do
  if curl -fsS "http://127.0.0.1:$ops/readyz" >/dev/null 2>&1; then ready=1; break; fi
  sleep 0.1
done
[ "$ready" -eq 1 ] || { echo "rootfs-smoke: not ready"; curl -sS "http://127.0.0.1:$ops/readyz" || true; exit 1; }
refx() { "$root/build/clients/cli/refx" --config "$work/pki/profiles.yaml" --server "127.0.0.1:$api" "$@"; }
refx --profile leicestershire-police whoami >/dev/null
created=$(refx --profile leicestershire-police --output json create \
  --report-type hate-crime --strand race:perceived --perceived-by victim --channel police \
  --area leicester --narrative "Rootfs smoke test referral." \
  --victim-given-name Sam --victim-family-name Smoketest --consent given --recipient leicester-city-council)
name=$(printf '%s' "$created" | grep -oE '"name": *"referrals/[^"]+"' | head -1 | grep -oE 'referrals/[^"]+')
[ -n "$name" ] || { echo "rootfs-smoke: no referral name in: $created"; exit 1; }
# Here-strings, not pipes into grep -q: under pipefail, grep exiting at its
# first match could fail a writer of a long text with SIGPIPE.
got=$(refx --profile leicester-city-council get "$name")
grep -q Smoketest <<<"$got"
refx --profile leicester-city-council accept "$name" >/dev/null
echo "rootfs-smoke: created, read and accepted $name through the CLI over mTLS"
metrics=$(curl -fsS "http://127.0.0.1:$ops/metrics")
if ! grep -q 'refx_rpc_requests_total{agency="leicestershire-police",code="OK",method="CreateReferral"} 1' <<<"$metrics"; then
  # Say what was there instead (${#metrics} bytes), so a failure explains itself.
  echo "rootfs-smoke: FAIL: no single OK CreateReferral of the police in ${#metrics} bytes of metrics:"
  grep '^refx_rpc_requests_total' <<<"$metrics" || true
  exit 1
fi
printf '%s\n' "$metrics" | promtool check metrics
if grep -q Smoketest <<<"$metrics"; then echo "rootfs-smoke: FAIL: personal data in metrics"; exit 1; fi
echo "rootfs-smoke: metrics valid (promtool) and free of the referral's data"
FLOW

cat >"$work/inside.sh" <<'INSIDE'
set -euo pipefail
work=$1 rootfs=$2 root=$3
ip link set lo up
# Read-only root, writable volumes, as the chart's securityContext and mounts.
mount --bind "$rootfs" "$rootfs"
mount -o remount,bind,ro "$rootfs"
for m in config:cm/server partnership:cm/partnership tls:secrets/tls agency-ca:secrets/agency-ca \
         revocation:secrets/revocation keys:secrets/keys; do
  mount --bind -o ro "$work/${m#*:}" "$rootfs/etc/refx/${m%%:*}"
done
mount --bind "$work/data" "$rootfs/var/lib/refx"
mount -t tmpfs -o size=16m,mode=1777 tmpfs "$rootfs/tmp"
# User and group 65532 (the fsGroup too), no new privileges; leaving uid 0
# clears every capability.
setpriv --no-new-privs chroot --userspec=65532:65532 --groups=65532 "$rootfs" /usr/local/bin/refx-server \
  --config /etc/refx/config/server.yaml >"$work/server.log" 2>&1 &
server=$!
# setpriv execs chroot, which execs the server: the same process, once exec'ed.
for _ in $(seq 1 50); do
  case "$(readlink "/proc/$server/exe" 2>/dev/null)" in *refx-server) break ;; esac
  sleep 0.1
done
pid=$server
grep -qE '^Uid:\s+65532\s' "/proc/$pid/status" || { echo "rootfs-smoke: FAIL: not running as 65532"; exit 1; }
grep -qE '^CapEff:\s+0+$' "/proc/$pid/status" || { echo "rootfs-smoke: FAIL: has capabilities"; exit 1; }
if touch "$rootfs/usr/local/bin/x" 2>/dev/null; then echo "rootfs-smoke: FAIL: the root filesystem is writable"; exit 1; fi
echo "rootfs-smoke: running as uid 65532 without capabilities on a read-only root"
bash "$work/flow.sh" "$work" "$root"
start=$(date +%s%N)
kill -TERM "$server"
wait "$server" && code=0 || code=$?
took_ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$code" -eq 0 ] || { echo "rootfs-smoke: FAIL: exit code $code after SIGTERM"; exit 1; }
[ "$took_ms" -lt 2000 ] || { echo "rootfs-smoke: FAIL: SIGTERM took ${took_ms} ms"; exit 1; }
echo "rootfs-smoke: SIGTERM: exit 0 in ${took_ms} ms"
INSIDE
if [ "$mode" = rootfs ]; then
  unshare --mount --net --fork bash "$work/inside.sh" "$work" "$rootfs" "$root"
else
  export CONTAINERS_CONF="$root/deploy/containers.conf"
  bash scripts/build-image.sh --out "$work/image" >/dev/null
  # The container shares the host's network: free ports instead of the
  # chart's fixed ones, so nothing else listening there can collide.
  read -r api http grpc < <(python3 -c 'import socket
s=[socket.socket() for _ in range(3)]
[x.bind(("127.0.0.1", 0)) for x in s]
print(*[x.getsockname()[1] for x in s])')
  sed -i "s/:50051\$/:$api/; s/:9090\$/:$http/; s/:9091\$/:$grpc/" "$work/cm/server/server.yaml"
  grep -q ":$api" "$work/cm/server/server.yaml" || { echo "rootfs-smoke: could not set the ports"; exit 1; }
  cid=$(podman run -d --init --network host --user 65532:65532 --group-add 65532 --read-only \
    --cap-drop ALL --security-opt no-new-privileges --tmpfs /tmp:size=16m \
    -v "$work/cm/server:/etc/refx/config:ro" -v "$work/cm/partnership:/etc/refx/partnership:ro" \
    -v "$work/secrets/tls:/etc/refx/tls:ro" -v "$work/secrets/agency-ca:/etc/refx/agency-ca:ro" \
    -v "$work/secrets/revocation:/etc/refx/revocation:ro" -v "$work/secrets/keys:/etc/refx/keys:ro" \
    -v "$work/data:/var/lib/refx" localhost/refx:0.1.0)
  trap 'podman logs "$cid" >"$work/server.log" 2>&1 || true; podman rm -f "$cid" >/dev/null 2>&1 || true; cleanup' EXIT
  echo "rootfs-smoke: container $cid running as $(podman exec "$cid" /usr/local/bin/refx-server --version 2>/dev/null || echo refx-server) (user 65532, read-only root)"
  bash "$work/flow.sh" "$work" "$root" "$api" "$http"
  start=$(date +%s%N)
  podman kill --signal TERM "$cid" >/dev/null
  code=$(podman wait "$cid")
  took_ms=$(( ($(date +%s%N) - start) / 1000000 ))
  [ "$code" -eq 0 ] || { echo "rootfs-smoke: FAIL: exit code $code after SIGTERM"; exit 1; }
  echo "rootfs-smoke: SIGTERM: exit 0 in ${took_ms} ms (podman)"
fi
if grep -q Smoketest "$work/server.log" 2>/dev/null; then echo "rootfs-smoke: FAIL: personal data in the log"; exit 1; fi
echo "rootfs-smoke: OK ($mode)"
