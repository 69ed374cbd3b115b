#!/usr/bin/env bash
# Quick start: install what is missing, build, make a development PKI for the
# LLR partnership (once), and run refx-server on 127.0.0.1:50051 with SQLite
# in var/. Ctrl-C stops it cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
if [ ! -f dev-pki/root-ca.pem ]; then
  ./build/clients/admin/refx-admin dev-pki dev-pki --partnership config/partnership.yaml
elif [ ! -f dev-pki/revocations.txt ]; then
  # A development PKI from before the server checked a revocation list: the
  # CA keys were not kept, so rebuild it all (config/dev-server.yaml needs
  # dev-pki/revocations.txt, signed by dev-pki/agency-ca.pem).
  echo "quickstart: dev-pki/ has no revocations.txt (made by an older refx-admin); rebuilding it"
  ./build/clients/admin/refx-admin dev-pki dev-pki --partnership config/partnership.yaml --force
fi
mkdir -p var
exec ./build/server/refx-server --config config/dev-server.yaml "$@"
