#!/usr/bin/env bash
# Build the FROM scratch image with buildah (no Docker daemon, no network, no
# emulation: the Containerfile only COPYs): each platform's static binary from
# scripts/build-static.sh is copied to /usr/bin/kured.
#
# Usage: scripts/build-image.sh [IMAGE]     (default IMAGE=localhost/kured-rs:<version>)
#        PLATFORMS=linux/amd64,linux/arm64,linux/arm/v7 scripts/build-image.sh [IMAGE]
# One platform (default: the host's) gives a plain image named IMAGE. Several give one
# image per platform, named IMAGE-<arch> (e.g. localhost/kured-rs:0.1.0-arm64), and a
# manifest list IMAGE holding them. Each image is checked before it counts: its config
# names the platform (OS, architecture, variant) and its /usr/bin/kured is that
# platform's binary. Prints one line per image, then IMAGE as the last line.
# Export with:  buildah manifest push --all IMAGE oci-archive:kured-rs.tar
#        (one platform:  buildah push IMAGE oci-archive:kured-rs.tar)
set -euo pipefail
cd "$(dirname "$0")/.."

command -v buildah >/dev/null || {
  command -v apt-get >/dev/null && apt-get install -y -q buildah >/dev/null
} || { echo "build-image: buildah is required (apt-get install buildah)" >&2; exit 1; }

# vfs storage and chroot isolation work inside unprivileged sandboxes and CI.
export STORAGE_DRIVER=${STORAGE_DRIVER:-vfs}
export BUILDAH_ISOLATION=${BUILDAH_ISOLATION:-chroot}

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
image=${1:-localhost/kured-rs:$version}
case $(uname -m) in
  x86_64) host=linux/amd64 ;;
  aarch64) host=linux/arm64 ;;
  armv7l) host=linux/arm/v7 ;;
  *) host=linux/$(uname -m) ;;
esac
IFS=, read -ra platforms <<<"${PLATFORMS:-$host}"

# platform -> Rust target ("" = the host's default build) and image name suffix
target_for() {
  case $1 in
    "$host") echo "" ;;
    linux/amd64) echo x86_64-unknown-linux-musl ;;
    linux/arm64 | linux/arm64/v8) echo aarch64-unknown-linux-musl ;;
    linux/arm/v7) echo armv7-unknown-linux-musleabihf ;;
    *) echo "build-image: unsupported platform $1 (linux/amd64, linux/arm64, linux/arm/v7)" >&2; return 1 ;;
  esac
}

ctx=$(mktemp -d)
ctr=
trap '[[ -z $ctr ]] || buildah rm "$ctr" >/dev/null 2>&1; rm -rf "$ctx"' EXIT
cp Containerfile "$ctx/Containerfile"

# Build one platform's image under $2 and check it; the platform is $1.
build_one() {
  local platform=$1 name=$2 target bin want got mnt size
  target=$(target_for "$platform")
  bin=$(TARGET=$target scripts/build-static.sh | tail -n1)
  cp "$bin" "$ctx/kured-${platform//\//-}"
  # Rebuilding a tag replaces its image instead of leaving the old one dangling.
  buildah rmi "$name" >/dev/null 2>&1 || true
  buildah build --pull=never --layers=false --platform "$platform" \
    --build-arg "BINARY=kured-${platform//\//-}" -f "$ctx/Containerfile" -t "$name" "$ctx" >&2
  want=$platform
  [[ $want == linux/arm64/v8 ]] && want=linux/arm64
  got=$(buildah inspect --type image --format '{{.OCIv1.OS}}/{{.OCIv1.Architecture}}{{with .OCIv1.Variant}}/{{.}}{{end}}' "$name")
  [[ $got == "$want" ]] || { echo "build-image: $name: config says $got, not $want" >&2; exit 1; }
  ctr=$(buildah from --pull=never "$name" 2>/dev/null)
  mnt=$(buildah mount "$ctr")
  cmp -s "$mnt/usr/bin/kured" "$bin" || { echo "build-image: $name: /usr/bin/kured is not $bin" >&2; exit 1; }
  buildah umount "$ctr" >/dev/null
  buildah rm "$ctr" >/dev/null
  ctr=
  size=$(buildah images --format '{{.Size}}' "$name" | head -n1)
  echo "build-image: $name ($got, $size, /usr/bin/kured = $(basename "$(dirname "$(dirname "$bin")")"))" >&2
}

if ((${#platforms[@]} == 1)); then
  build_one "${platforms[0]}" "$image"
else
  # The list replaces a previous list or image of the same name.
  buildah manifest rm "$image" >/dev/null 2>&1 || buildah rmi "$image" >/dev/null 2>&1 || true
  names=()
  for p in "${platforms[@]}"; do
    suffix=$(sed 's|^linux/||; s|/v8$||; s|/||g' <<<"$p")   # amd64, arm64, armv7
    build_one "$p" "$image-$suffix"
    names+=("$image-$suffix")
  done
  buildah manifest create "$image" >/dev/null
  for n in "${names[@]}"; do
    buildah manifest add "$image" "containers-storage:$n" >/dev/null
  done
  listed=$(buildah manifest inspect "$image" |
    python3 -c 'import json,sys; print(" ".join(sorted("/".join(filter(None, (m["platform"]["os"], m["platform"]["architecture"], m["platform"].get("variant")))) for m in json.load(sys.stdin)["manifests"])))')
  echo "build-image: $image: manifest list of $listed" >&2
fi
echo "$image"
