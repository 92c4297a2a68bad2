#!/usr/bin/env bash
# Build the statically linked release binary of kured and print its path as the
# last line of output.
#
# Targets (scripts/setup.sh installs what each needs):
#   x86_64-unknown-linux-musl        the default on x86_64; Debian's musl-gcc compiles
#                                    ring's C and assembly. Where the musl target cannot
#                                    be had it falls back to glibc with `crt-static`
#                                    (also runs FROM scratch; larger binary).
#   aarch64-unknown-linux-musl       cross from x86_64: Debian's aarch64-linux-gnu-gcc
#   armv7-unknown-linux-musleabihf   and arm-linux-gnueabihf-gcc compile ring and link
#                                    (.cargo/config.toml); armv7 may use a pinned Rust
#                                    (scripts/toolchain-for says why).
#
# Usage: scripts/build-static.sh            # host architecture
#        TARGET=aarch64-unknown-linux-musl scripts/build-static.sh
#        TARGET=armv7-unknown-linux-musleabihf scripts/build-static.sh
set -euo pipefail
cd "$(dirname "$0")/.."

arch=$(uname -m)
case $arch in
  armv7l) target=${TARGET:-armv7-unknown-linux-musleabihf}; arch=armv7 ;;
  *) target=${TARGET:-$arch-unknown-linux-musl} ;;
esac

have_target() {
  rustup target list --installed --toolchain "$1" 2>/dev/null | grep -qx "$target" ||
    timeout 120 rustup target add --toolchain "$1" "$target" >&2
}
have_musl_cc() {
  command -v musl-gcc >/dev/null ||
    { command -v apt-get >/dev/null && apt-get install -y -q musl-tools >/dev/null 2>&1 && command -v musl-gcc >/dev/null; }
}

if [[ $target == "$arch"-* ]]; then
  if [[ $target == *-musl* ]] && have_target "$(scripts/toolchain-for "$target")" && have_musl_cc; then
    cc_var="CC_${target//-/_}"
    export "$cc_var=musl-gcc"
    cargo build --release --locked --target "$target" --bin kured >&2
  else
    echo "build-static: musl target unavailable, falling back to glibc crt-static" >&2
    target=$arch-unknown-linux-gnu
    RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
      cargo build --release --locked --target "$target" --bin kured >&2
  fi
else
  # Cross build: the linker, CC_<target> and the qemu runner come from .cargo/config.toml.
  toolchain=$(scripts/toolchain-for "$target")
  gcc=$(sed -n "/^\[target\.$target\]/,/^\[/s/^linker = \"\(.*\)\"/\1/p" .cargo/config.toml)
  [[ -n $gcc ]] || { echo "build-static: no cross linker for $target in .cargo/config.toml" >&2; exit 2; }
  command -v "$gcc" >/dev/null || { echo "build-static: $gcc not found: run scripts/setup.sh" >&2; exit 1; }
  have_target "$toolchain" || { echo "build-static: Rust target $target not installed for $toolchain: run scripts/setup.sh" >&2; exit 1; }
  cargo "+$toolchain" build --release --locked --target "$target" --bin kured >&2
fi

bin=${CARGO_TARGET_DIR:-$PWD/target}/$target/release/kured
desc=$(file -b "$bin")
if [[ $desc != *"statically linked"* && $desc != *"static-pie linked"* ]]; then
  echo "build-static: $bin is not statically linked: $desc" >&2
  exit 1
fi
echo "build-static: $(stat -c %s "$bin") bytes, $(cut -d, -f1-2 <<<"$desc")" >&2
echo "$bin"
