#!/usr/bin/env bash
# Installs the Debian 12 packages refx builds and tests with, if any are
# missing. Debian packages only: no downloads, no vendored copies.
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libssl-dev libsqlite3-dev libpq-dev libyaml-cpp-dev libcli11-dev
  libgtest-dev libgmock-dev
  prometheus-cpp-dev libcpp-httplib-dev libjemalloc-dev prometheus
  postgresql python3 openssl unzip tzdata
  podman runc catatonit
  python3-grpcio python3-protobuf python3-pytest python3-yaml
  clang-14 libclang-rt-14-dev lld testssl.sh
  chromium fonts-dejavu-core
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "refx: all build dependencies are installed"
  exit 0
fi

echo "refx: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "refx: run as root or install sudo" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
