#!/usr/bin/env bash
# The external view of refx-server's TLS (issue 17): testssl.sh (Debian's
# `testssl`, 3.0.8) against a running server with a throwaway development
# PKI. testssl 3.0 cannot present a client certificate, so its handshakes
# end where the server asks for one; everything it checks (protocols,
# cipher suites, server preferences, the certificate, known
# vulnerabilities) is decided before that. Passes only if TLS 1.2 and 1.3 are the only protocols
# offered, every cipher offered is an AEAD one, and testssl reports no
# finding of severity LOW or above. Prints each finding it counts.
#
# usage: scripts/check-tls.sh [BUILD_DIR]   (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
command -v testssl >/dev/null || { echo "check-tls: testssl missing (apt-get install testssl.sh)" >&2; exit 1; }
work=$(mktemp -d)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$build/clients/admin/refx-admin" dev-pki "$work/pki" --partnership config/partnership.yaml >/dev/null
cat > "$work/server.yaml" <<YAML
listen_address: 127.0.0.1:0
partnership_file: $(pwd)/config/partnership.yaml
agreement_file: $(pwd)/config/agreement.yaml
tls:
  server_cert_file: $work/pki/server.pem
  server_key_file: $work/pki/server.key
  client_ca_file: $work/pki/agency-ca.pem
  revocation_list_file: $work/pki/revocations.txt
storage:
  sqlite_path: $work/refx.db
YAML
"$build/server/refx-server" --config "$work/server.yaml" 2>"$work/server.log" &
server_pid=$!
port=""
for _ in $(seq 1 200); do
  port=$(grep -o 'serving on port [0-9]*' "$work/server.log" | grep -o '[0-9]*$' || true)
  [ -n "$port" ] && break
  sleep 0.05
done
[ -n "$port" ] || { cat "$work/server.log" >&2; echo "check-tls: the server did not start" >&2; exit 1; }
testssl --quiet --color 0 --warnings off --protocols --std --server-defaults --vulnerable \
  --add-ca "$work/pki/root-ca.pem" --jsonfile "$work/scan.json" "127.0.0.1:$port" >"$work/scan.txt" 2>&1 || true
[ -s "$work/scan.json" ] || { cat "$work/scan.txt" >&2; echo "check-tls: testssl wrote no results" >&2; exit 1; }
python3 - "$work/scan.json" <<'PY'
import json, sys
findings = json.load(open(sys.argv[1]))
by_id = {f["id"]: f for f in findings}
problems = []
for proto in ("SSLv2", "SSLv3", "TLS1", "TLS1_1"):
    if proto in by_id and "not offered" not in by_id[proto]["finding"]:
        problems.append(f"{proto}: {by_id[proto]['finding']}")
for proto in ("TLS1_2", "TLS1_3"):
    if proto not in by_id or not by_id[proto]["finding"].startswith("offered"):
        problems.append(f"{proto}: {by_id.get(proto, {}).get('finding', 'missing')}")
# Non-AEAD cipher categories testssl reports as offered.
for cat in ("cipherlist_NULL", "cipherlist_aNULL", "cipherlist_EXPORT", "cipherlist_LOW", "cipherlist_3DES_IDEA",
            "cipherlist_AVERAGE", "cipherlist_OBSOLETED"):
    if cat in by_id and "not offered" not in by_id[cat]["finding"]:
        problems.append(f"{cat}: {by_id[cat]['finding']}")
# Findings about the public web PKI that a private partnership PKI cannot
# have, each with the reason it does not apply:
NOT_APPLICABLE = {
    # Revocation of the server certificate is not by CRL or OCSP: clients
    # trust only the partnership root, and a compromised server key is
    # handled by re-issuing the server certificate (docs/pki.md).
    "cert_revocation",
    # A CAA record is a DNS rule for public CAs; the scan runs on 127.0.0.1.
    "DNS_CAArecord",
}
for f in findings:
    if f.get("severity") in ("LOW", "MEDIUM", "HIGH", "CRITICAL") and f["id"] not in NOT_APPLICABLE:
        problems.append(f"{f['id']} [{f['severity']}]: {f['finding']}")
missing = [k for k in ("TLS1", "TLS1_1", "TLS1_2", "TLS1_3", "cipherlist_NULL", "cipherlist_3DES_IDEA", "cipherlist_AVERAGE", "cipherlist_STRONG") if k not in by_id]
if missing:
    problems.append(f"testssl did not report {missing}: nothing was checked")
checked = len(findings)
if problems:
    print(f"check-tls: {len(problems)} problem(s) in {checked} testssl results:")
    for p in problems:
        print("  " + p)
    sys.exit(1)
print(f"check-tls: TLS 1.2 and 1.3 only, AEAD ciphers only, no finding at LOW or above ({checked} testssl results)")
PY
