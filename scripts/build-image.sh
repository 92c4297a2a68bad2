#!/usr/bin/env bash
# Build the FROM scratch image with buildah (no Docker daemon, no network):
# the static binary from scripts/build-static.sh is copied to /usr/bin/kured.
#
# Usage: scripts/build-image.sh [IMAGE]     (default IMAGE=localhost/kured-rs:<version>)
# Prints the image name and its size. Export with:
#   buildah push IMAGE oci-archive:kured-rs.tar
set -euo pipefail
cd "$(dirname "$0")/.."

command -v buildah >/dev/null || {
  command -v apt-get >/dev/null && apt-get install -y -q buildah >/dev/null
} || { echo "build-image: buildah is required (apt-get install buildah)" >&2; exit 1; }

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
image=${1:-localhost/kured-rs:$version}
bin=$(scripts/build-static.sh | tail -n1)

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
cp "$bin" "$ctx/kured"
cp Containerfile "$ctx/Containerfile"

# vfs storage and chroot isolation work inside unprivileged sandboxes and CI.
export STORAGE_DRIVER=${STORAGE_DRIVER:-vfs}
export BUILDAH_ISOLATION=${BUILDAH_ISOLATION:-chroot}
# Rebuilding a tag replaces its image instead of leaving the old one dangling.
buildah rmi "$image" >/dev/null 2>&1 || true
buildah build --pull=never --layers=false -f "$ctx/Containerfile" -t "$image" "$ctx" >&2

size=$(buildah inspect --format '{{.OCIv1.Config.Entrypoint}}' "$image" >/dev/null && \
  buildah images --format '{{.Size}}' "$image" | head -n1)
echo "build-image: $image ($size)" >&2
echo "$image"
