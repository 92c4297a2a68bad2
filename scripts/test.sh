#!/usr/bin/env bash
# The whole test suite, as CI runs it: unit and integration tests (the fake API
# server, real kubectl against it, the daemon end to end), the static binary in
# an empty chroot, the manifests, a short simulated cluster and a short chaos
# campaign (fresh seed, printed first and last: rerun a failure with
# `scripts/chaos --runs 1 --seed SEED`); the same on ARM (scripts/test-arm.sh:
# cross-built binaries under qemu-user).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n=== %s\n' "$*"; }

step "cargo test"
cargo test --workspace --locked 2>&1

step "ARM: aarch64 and armv7 builds, their tests under qemu-user, the multi-arch image"
scripts/test-arm.sh

step "static binaries in an empty root"
scripts/check-static.sh

if [[ -x scripts/check-manifests.sh ]]; then
  step "manifests"
  scripts/check-manifests.sh
fi

if [[ -x scripts/simulate ]]; then
  step "short simulation"
  scripts/simulate --nodes 3 --seconds 120
fi

if [[ -x scripts/chaos ]]; then
  step "short chaos campaign (20 runs, fresh seed)"
  scripts/chaos --runs 20
fi
