#!/usr/bin/env bash
# One-time set-up of a fresh Debian machine for building and testing kured-rs:
# system packages (musl for the static binary, buildah for the image, promtool to
# check /metrics, openssl for the test certificates) and the Rust musl target.
# Idempotent; safe to run again. kubectl is expected on PATH (these machines have it).
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(musl-tools buildah prometheus openssl python3-venv file)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
# The musl target gives the smallest static binary; build-static.sh falls back
# to glibc crt-static when it cannot be had.
rustup target list --installed | grep -q x86_64-unknown-linux-musl ||
  timeout 120 rustup target add x86_64-unknown-linux-musl ||
  echo "setup: musl target unavailable (build-static.sh will use glibc crt-static)" >&2
command -v kubectl >/dev/null || echo "setup: WARNING: kubectl not on PATH; the fidelity tests need it" >&2
# The real control plane (tests/control-plane) is built from Kubernetes' Go modules.
if command -v go >/dev/null || [[ -x /usr/local/go/bin/go ]]; then
  # fetch the modules now, so the first test run only compiles
  (cd tests/control-plane && PATH="$PATH:/usr/local/go/bin" go mod download) ||
    echo "setup: WARNING: could not download the control plane's Go modules" >&2
else
  echo "setup: WARNING: Go not found; the real-control-plane tests need Go 1.24+ (https://go.dev/dl/)" >&2
fi
cargo fetch --locked -q
echo "setup: done"
