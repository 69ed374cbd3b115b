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
fi
mkdir -p var
exec ./build/server/refx-server --config config/dev-server.yaml "$@"
