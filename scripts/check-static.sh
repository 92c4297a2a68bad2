#!/usr/bin/env bash
# The static binary runs with nothing around it: `kured --help` in a chroot whose
# root holds only the binary, and a valid command line there exits 1 with the
# in-cluster message (not 2). Prints the binary size; fails above 4 MiB.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=$(scripts/build-static.sh 2>/dev/null | tail -n1)
size=$(stat -c %s "$bin")
limit=$((4 * 1024 * 1024))
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
cp "$bin" "$root/kured"

"$(command -v chroot)" "$root" /kured --help >"$root.help" 2>&1 || { cat "$root.help"; rm -f "$root.help"; echo "check-static: --help failed in an empty chroot" >&2; exit 1; }
lines=$(wc -l <"$root.help"); rm -f "$root.help"
# Safety: --host-pid names a `sleep` we started and the reboot command only
# writes a marker; the binary stops at the missing cluster before using either.
sleep 60 & hostpid=$!
trap 'kill $hostpid 2>/dev/null; rm -rf "$root"' EXIT
chroot=$(command -v chroot)
set +e
err=$(env -i KURED_NODE_ID=node-1 "$chroot" "$root" /kured --host-pid=$hostpid \
  --reboot-command="/bin/sh -c 'echo rebooted > /tmp/kured-check-static-marker'" 2>&1 >/dev/null)
rc=$?
set -e
if [[ $rc -ne 1 || $err != *in-cluster* ]]; then
  echo "check-static: expected exit 1 with the in-cluster message, got $rc: $err" >&2; exit 1
fi
if ((size > limit)); then
  echo "check-static: binary is $size bytes, over the 4 MiB budget" >&2; exit 1
fi
echo "check-static: ok: $size bytes ($((size / 1024)) KiB) static, --help ($lines lines) in an empty chroot, in-cluster exit 1"
