#!/usr/bin/env bash
# Each static binary runs with nothing around it: `kured --help` in a chroot whose
# root holds only the binary (and, for a foreign arch, the static qemu-user that
# runs it), and a valid command line there exits 1 with the in-cluster message
# (not 2). Prints each binary's size; fails when one is not statically linked or
# is above the 3 MiB budget.
#
# Checks the host build and every ARM build present (scripts/build-static.sh with
# TARGET=...), or exactly the targets in TARGETS (space-separated; "host" = default).
set -euo pipefail
cd "$(dirname "$0")/.."

limit=$((3 * 1024 * 1024))
arch=$(uname -m)
chroot=$(command -v chroot)
targets=${TARGETS:-}
if [[ -z $targets ]]; then
  targets=host
  for t in aarch64-unknown-linux-musl armv7-unknown-linux-musleabihf; do
    [[ -f ${CARGO_TARGET_DIR:-target}/$t/release/kured ]] && targets+=" $t"
  done
fi

# Safety: --host-pid names a `sleep` we started and the reboot command only
# writes a marker; the binary stops at the missing cluster before using either.
sleep 60 & hostpid=$!
root=
trap 'kill $hostpid 2>/dev/null; [[ -z $root ]] || rm -rf "$root" "$root.help"' EXIT

for t in $targets; do
  [[ $t == host ]] && t=
  # Up to date after the first build: cargo only checks, the binary is reused.
  bin=$(TARGET=$t scripts/build-static.sh 2>/dev/null | tail -n1)
  name=${t:-$arch (host)}
  desc=$(file -b "$bin")
  if [[ $desc != *"statically linked"* && $desc != *"static-pie linked"* ]]; then
    echo "check-static: $name: not statically linked: $desc" >&2; exit 1
  fi
  size=$(stat -c %s "$bin")
  root=$(mktemp -d)
  cp "$bin" "$root/kured"
  run=(/kured)
  cpu=${t%%-*}
  if [[ -n $cpu && $cpu != "$arch" ]]; then
    # qemu-user-static is itself static: it runs in the empty root too.
    [[ $cpu == armv7 ]] && cpu=arm
    q=$(command -v "qemu-$cpu-static") || { echo "check-static: $name: no qemu-$cpu-static: run scripts/setup.sh" >&2; exit 1; }
    cp "$q" "$root/qemu"
    run=(/qemu /kured)
  fi
  "$chroot" "$root" "${run[@]}" --help >"$root.help" 2>&1 || {
    cat "$root.help"; echo "check-static: $name: --help failed in an empty chroot" >&2; exit 1
  }
  lines=$(wc -l <"$root.help")
  set +e
  err=$(env -i KURED_NODE_ID=node-1 "$chroot" "$root" "${run[@]}" --host-pid=$hostpid \
    --reboot-command="/bin/sh -c 'echo rebooted > /tmp/kured-check-static-marker'" 2>&1 >/dev/null)
  rc=$?
  set -e
  rm -rf "$root" "$root.help"
  if [[ $rc -ne 1 || $err != *in-cluster* ]]; then
    echo "check-static: $name: expected exit 1 with the in-cluster message, got $rc: $err" >&2; exit 1
  fi
  if ((size > limit)); then
    echo "check-static: $name: binary is $size bytes, over the 3 MiB budget" >&2; exit 1
  fi
  via=${run[0]#/kured}
  echo "check-static: ok: $name: $size bytes ($((size / 1024)) KiB) static, --help ($lines lines) and in-cluster exit 1 in an empty chroot${via:+ (through qemu-user)}"
done
