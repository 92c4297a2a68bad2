#!/usr/bin/env bash
# Build the statically linked release binary of kured and print its path as the
# last line of output.
#
# Preferred: the musl target (smallest, no libc at run time). Needs the rustup
# target x86_64-unknown-linux-musl and Debian's musl-tools (musl-gcc, for ring's C
# and assembly). When the musl target cannot be had, it falls back to glibc with
# `crt-static`, which also runs in a FROM scratch image (larger binary).
#
# Usage: scripts/build-static.sh            # host architecture
#        TARGET=aarch64-unknown-linux-musl scripts/build-static.sh   # on an arm64 builder
set -euo pipefail
cd "$(dirname "$0")/.."

arch=$(uname -m)
target=${TARGET:-$arch-unknown-linux-musl}

have_musl_target() {
  rustup target list --installed 2>/dev/null | grep -qx "$target" ||
    timeout 120 rustup target add "$target" >&2
}
have_musl_cc() {
  command -v musl-gcc >/dev/null ||
    { command -v apt-get >/dev/null && apt-get install -y -q musl-tools >/dev/null 2>&1 && command -v musl-gcc >/dev/null; }
}

if [[ $target == *-musl* ]] && have_musl_target && have_musl_cc; then
  cc_var="CC_${target//-/_}"
  export "$cc_var=musl-gcc"
  cargo build --release --locked --target "$target" --bin kured >&2
else
  echo "build-static: musl target unavailable, falling back to glibc crt-static" >&2
  target=$arch-unknown-linux-gnu
  RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
    cargo build --release --locked --target "$target" --bin kured >&2
fi

bin=target/$target/release/kured
if ldd "$bin" 2>&1 | grep -q '=>'; then
  echo "build-static: $bin is dynamically linked" >&2
  exit 1
fi
echo "build-static: $(stat -c %s "$bin") bytes, $(file -b "$bin" | cut -d, -f1-2)" >&2
echo "$PWD/$bin"
