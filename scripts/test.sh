#!/usr/bin/env bash
# The whole test suite, as CI runs it: the format and lint gate (rustfmt.toml,
# clippy -D warnings), set-up (scripts/setup.sh, idempotent), the
# real control plane's build and helm's (Go, cached), the Helm chart (lint, renders, install, upgrade over upstream's),
# unit and integration tests (the fake API server, real kubectl against it, the
# daemon end to end on the fake and on the real control plane), the static binary
# in an empty chroot, the kured pod of the rendered manifests in runc on the real
# control plane (tests/pod, on the release image), the manifests, short simulated
# clusters on both servers and a short chaos campaign (fresh seed, printed first
# and last: rerun a failure with `scripts/chaos --runs 1 --seed SEED`); the same on
# ARM (scripts/test-arm.sh: cross-built binaries under qemu-user).
# `scripts/test.sh --quick`: the day-to-day lane (the gate, unit tests, one
# end-to-end scenario on the fake API server; a couple of minutes warm).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n=== %s\n' "$*"; }

# The format and lint gate, first: seconds, and a red one says so before the
# long steps run.
gate() {
  step "format (rustfmt.toml) and lint (clippy, warnings are errors)"
  for c in rustfmt clippy; do
    rustup component list --installed 2>/dev/null | grep -q "^$c" || rustup component add "$c"
  done
  cargo fmt --all --check
  cargo clippy --workspace --all-targets --locked -- -D warnings
}

# --quick: the day-to-day lane (format, lint, unit tests, one fake-server
# scenario); no set-up, no control plane, no ARM, no image.
if [[ "${1:-}" == "--quick" ]]; then
  gate
  step "unit tests"
  cargo test --workspace --locked --lib 2>&1
  step "one end-to-end scenario on the fake API server"
  cargo test --locked --test e2e one_node_full_cycle::fake 2>&1
  exit 0
fi

gate

step "set-up (installs what is missing; quick when nothing is)"
scripts/setup.sh

step "real control plane: build (cached by a hash of tests/control-plane)"
# Fails with install instructions when Go is missing: the real-server tests
# never pass silently.
time scripts/control-plane build

step "helm: build (cached: ~/.cache/kured-rs/helm-v3.21.4)"
# The chart's lint, renders and install tests need it; fails loudly without Go.
time scripts/helm build

step "real control plane: up, version, readyz, down"
cp_dir="$(mktemp -d)"
trap 'scripts/control-plane down "$cp_dir" >/dev/null 2>&1 || rm -rf "$cp_dir"' EXIT
scripts/control-plane up "$cp_dir"
kubectl --kubeconfig "$cp_dir/kubeconfig" version -o json | grep -q '"serverVersion"'
[[ "$(kubectl --kubeconfig "$cp_dir/kubeconfig" get --raw /readyz)" == ok ]]
scripts/control-plane down "$cp_dir"
trap - EXIT

step "cargo test"
# (the pod scenarios run below, on the release image)
cargo test --workspace --locked --exclude kured-pod 2>&1

step "ARM: aarch64 and armv7 builds, their tests under qemu-user, the multi-arch image"
scripts/test-arm.sh

step "static binaries in an empty root"
scripts/check-static.sh

step "the kured pod in runc: the rendered manifests' security context on the real control plane"
# Fails with the install hint where runc is missing (scripts/setup.sh installs it).
pod_image=$(scripts/build-image.sh localhost/kured-rs:pod-test | tail -n1)
time KURED_POD_IMAGE="$pod_image" cargo test -p kured-pod --locked 2>&1

if [[ -x scripts/check-manifests.sh ]]; then
  step "manifests"
  scripts/check-manifests.sh
fi

if [[ -x scripts/simulate ]]; then
  step "short simulation"
  scripts/simulate --nodes 3 --seconds 120
  step "short simulation on the real control plane"
  scripts/simulate --control-plane real --nodes 3 --seconds 300
fi

if [[ -x scripts/chaos ]]; then
  step "short chaos campaign (20 runs, fresh seed)"
  scripts/chaos --runs 20
fi
