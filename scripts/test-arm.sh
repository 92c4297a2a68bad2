#!/usr/bin/env bash
# The ARM part of CI (scripts/test.sh runs it after `cargo test`): the static
# aarch64 and armv7 binaries, cross-built once with the release profile and reused
# by every step; the CLI tests against each under qemu-user; the library's unit
# tests (time zones, lock format, ...) on 32-bit armv7; the multi-arch image; a
# short simulation with aarch64, then armv7 daemons under emulation. Prints each
# step's time.
set -euo pipefail
cd "$(dirname "$0")/.."

step_name=
step() {
  [[ -z $step_name ]] || printf '=== %s: %ss\n' "$step_name" $((SECONDS - step_start))
  step_name=$*
  step_start=$SECONDS
  [[ -z $step_name ]] || printf '\n=== %s\n' "$step_name"
}

declare -A runner=([aarch64-unknown-linux-musl]=qemu-aarch64-static [armv7-unknown-linux-musleabihf]=qemu-arm-static)
declare -A bin
for t in aarch64-unknown-linux-musl armv7-unknown-linux-musleabihf; do
  step "static $t binary (cross build, release)"
  bin[$t]=$(TARGET=$t nice scripts/build-static.sh | tail -n1)
done

for t in aarch64-unknown-linux-musl armv7-unknown-linux-musleabihf; do
  step "CLI tests: the $t binary under ${runner[$t]}"
  KURED_TEST_BIN=${bin[$t]} KURED_TEST_RUNNER=${runner[$t]} cargo test --locked --test cli 2>&1
done

# The 32-bit target: time_t, usize and i64 arithmetic in time zones, the lock
# format, durations. One test is left to the host run: it compares the embedded
# zone database with all ~600 system zone files at 8,000 instants each, a data
# check that takes minutes under emulation; the other tz tests cover the same
# lookup and TZif code on 32 bits.
t=armv7-unknown-linux-musleabihf
step "unit tests (--lib) on 32-bit $t under ${runner[$t]}"
cargo "+$(scripts/toolchain-for $t)" test --locked --target $t --lib 2>&1 -- \
  --skip tz::tests::embedded_database_agrees_with_system_zoneinfo

step "multi-arch image (linux/amd64, linux/arm64, linux/arm/v7)"
image=localhost/kured-rs-ci:$$
cleanup_image() {
  STORAGE_DRIVER=${STORAGE_DRIVER:-vfs} buildah manifest rm "$image" >/dev/null 2>&1 || true
  for s in amd64 arm64 armv7; do STORAGE_DRIVER=${STORAGE_DRIVER:-vfs} buildah rmi "$image-$s" >/dev/null 2>&1 || true; done
}
trap cleanup_image EXIT
PLATFORMS=linux/amd64,linux/arm64,linux/arm/v7 scripts/build-image.sh "$image" 2>&1 | grep '^build-image:'
cleanup_image

# Each run ends only when every node rebooted (or fails): the whole daemon loop
# (lock, cordon, drain, reboot, uncordon) on 64-bit and 32-bit ARM. No workloads:
# the drain's PodDisruptionBudget waits are the host simulation's job.
for arch in aarch64 armv7; do
  step "short simulation: $arch daemons under qemu-user"
  scripts/simulate --arch $arch --nodes 3 --workloads=false --seconds 180
done
step ""
