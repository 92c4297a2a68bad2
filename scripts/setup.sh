#!/usr/bin/env bash
# One-time set-up of a fresh Debian machine for building and testing kured-rs:
# system packages (musl for the static binary, buildah for the image, promtool to
# check /metrics, openssl for the test certificates), the cross C compilers and
# qemu-user for the arm64/armv7 builds and their tests, runc for the pod tests, and
# the Rust musl targets.
# Idempotent; safe to run again. kubectl is expected on PATH (these machines have it).
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(musl-tools buildah prometheus openssl python3-venv file
  # runc runs the kured pod as a kubelet would (tests/pod)
  runc
  # ARM: ring's C and assembly need a cross gcc and libc headers per target (the
  # same gcc links the musl binary); qemu-user runs the ARM binaries in tests.
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross
  gcc-arm-linux-gnueabihf libc6-dev-armhf-cross
  qemu-user-static)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  # Other jobs on the machine may hold the dpkg lock: wait for it, not fail.
  apt=(apt-get -q -o DPkg::Lock::Timeout=600)
  "${apt[@]}" update >/dev/null
  "${apt[@]}" install -y --no-install-recommends "${missing[@]}" >/dev/null
fi
# The format and lint gate (scripts/test.sh runs it first) needs both.
for c in rustfmt clippy; do
  rustup component list --installed 2>/dev/null | grep -q "^$c" || timeout 300 rustup component add "$c" ||
    echo "setup: WARNING: could not install the rust component $c (the gate needs it)" >&2
done
# The musl target gives the smallest static binary; build-static.sh falls back
# to glibc crt-static when it cannot be had (x86_64 only: ARM needs its target).
for t in x86_64-unknown-linux-musl aarch64-unknown-linux-musl armv7-unknown-linux-musleabihf; do
  rustup target list --installed | grep -qx "$t" && continue
  timeout 300 rustup target add "$t" 2>/dev/null && continue
  if [[ $t == armv7-* ]]; then
    # Not published for every Rust release: a small pinned toolchain has it
    # (scripts/toolchain-for says why and picks it).
    fb=$(scripts/toolchain-for --fallback)
    rustup target list --installed --toolchain "$fb" 2>/dev/null | grep -qx "$t" && continue
    echo "setup: no $t for the default toolchain; installing Rust $fb for it" >&2
    timeout 600 rustup toolchain install "$fb" --profile minimal --target "$t" >/dev/null 2>&1 &&
      continue
  fi
  echo "setup: rust target $t unavailable (build-static.sh cannot build it)" >&2
done
command -v kubectl >/dev/null || echo "setup: WARNING: kubectl not on PATH; the fidelity tests need it" >&2
# The real control plane (tests/control-plane) is built from Kubernetes' Go modules.
if command -v go >/dev/null || [[ -x /usr/local/go/bin/go ]]; then
  # fetch the modules now, so the first test run only compiles
  (cd tests/control-plane && PATH="$PATH:/usr/local/go/bin" go mod download) ||
    echo "setup: WARNING: could not download the control plane's Go modules" >&2
else
  echo "setup: WARNING: Go not found; the real-control-plane tests need Go 1.24+ (https://go.dev/dl/)" >&2
fi
# helm v3.21.4 for the chart's tests (scripts/helm: built from the Go module
# proxy once, about 4-5 min, and cached like the control plane).
if command -v go >/dev/null || [[ -x /usr/local/go/bin/go ]]; then
  scripts/helm build >/dev/null || echo "setup: WARNING: could not build helm (scripts/helm build)" >&2
fi
cargo fetch --locked -q
echo "setup: done"
