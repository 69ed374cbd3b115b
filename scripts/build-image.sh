#!/usr/bin/env bash
# Builds the refx container image from the build tree and Debian 12's
# libraries, without a registry: stages a root filesystem (refx-server,
# refx, refx-admin and exactly the shared libraries they load), then, where
# podman or buildah is installed, builds deploy/Containerfile FROM scratch.
#
# usage: scripts/build-image.sh [--rootfs-only] [--tag TAG] [--out DIR] [--save FILE]
#   --rootfs-only  stage DIR/rootfs only (what tests/deploy runs under chroot)
#   --tag TAG      image name (default localhost/refx:0.1.0)
#   --out DIR      staging directory (default build/image)
#   --save FILE    also write the image as an OCI archive (podman)
# The build tree must exist (scripts/build.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
rootfs_only=0
tag=localhost/refx:0.1.0
out=build/image
save=""
while [ $# -gt 0 ]; do
  case "$1" in
    --rootfs-only) rootfs_only=1 ;;
    --tag) tag=${2:?--tag needs a value}; shift ;;
    --out) out=${2:?--out needs a directory}; shift ;;
    --save) save=${2:?--save needs a file}; shift ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-image: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

binaries=(build/server/refx-server build/clients/cli/refx build/clients/admin/refx-admin)
for b in "${binaries[@]}"; do
  [ -x "$b" ] || { echo "build-image: $b is missing: run scripts/build.sh first" >&2; exit 1; }
done

rootfs="$out/rootfs"
rm -rf "$rootfs"
mkdir -p "$rootfs/usr/local/bin" "$rootfs/etc" "$rootfs/tmp" "$rootfs/var/lib/refx" \
  "$rootfs/etc/refx/config" "$rootfs/etc/refx/partnership" "$rootfs/etc/refx/tls" "$rootfs/etc/refx/agency-ca" \
  "$rootfs/etc/refx/revocation" "$rootfs/etc/refx/keys" "$rootfs/etc/refx/db" "$rootfs/etc/refx/db-ca"
chmod 1777 "$rootfs/tmp"
for b in "${binaries[@]}"; do
  install -m 0755 -s "$b" "$rootfs/usr/local/bin/"
done
# Every library the binaries load, by the path the loader finds it at (and
# the loader itself); symlinks resolved, so the image holds plain files.
ldd "${binaries[@]}" | grep -oE '/[^ ]+\.so[^ ]*' | sort -u | while read -r lib; do
  cp -L --parents "$lib" "$rootfs/"
done
# The time zones an agreement may name (deadlines are counted on the
# partnership's local calendar, e.g. Europe/London), from Debian's tzdata.
mkdir -p "$rootfs/usr/share"
cp -a /usr/share/zoneinfo "$rootfs/usr/share/"
rm -rf "$rootfs/usr/share/zoneinfo/right" "$rootfs/usr/share/zoneinfo/posix"
# The numeric user has a name for tools that print one; nothing needs it.
printf 'root:x:0:0:root:/:/nonexistent\nrefx:x:65532:65532:refx:/var/lib/refx:/nonexistent\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\nrefx:x:65532:\n' >"$rootfs/etc/group"
printf 'hosts: files dns\n' >"$rootfs/etc/nsswitch.conf"
cp deploy/Containerfile "$out/Containerfile"
size=$(du -sh "$rootfs" | cut -f1)
echo "build-image: staged $rootfs ($size, $(find "$rootfs" -name '*.so*' | wc -l) libraries)"
[ "$rootfs_only" -eq 1 ] && exit 0

if command -v podman >/dev/null; then
  # This machine kind: cgroup v1/v2 hybrid, no CAP_SYS_RESOURCE (see docs/operations.md).
  export CONTAINERS_CONF="$root/deploy/containers.conf"
  podman build --network host -q -t "$tag" -f "$out/Containerfile" "$out"
  echo "build-image: built $tag"
  if [ -n "$save" ]; then podman save --format oci-archive -o "$save" "$tag" && echo "build-image: saved $save"; fi
elif command -v buildah >/dev/null; then
  buildah bud --isolation chroot -q -t "$tag" -f "$out/Containerfile" "$out"
  echo "build-image: built $tag"
else
  echo "build-image: neither podman nor buildah is installed (apt install podman): staged the root filesystem only"
fi
