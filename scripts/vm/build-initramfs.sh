#!/usr/bin/env bash
# Usage: scripts/vm/build-initramfs.sh OUT.cpio SUITE.sh BUSYBOX REAPER ZOMBIES
# Builds the test VM's initramfs (newc cpio, uncompressed): busybox (applet links are made at boot),
# the static reaper and zombies of the VM's architecture, guest/init.sh as /init, guest/lib.sh and
# SUITE as /suite.sh. Every input must exist; the binaries must be static (the image has no libc).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ $# -eq 5 ] || { echo "usage: scripts/vm/build-initramfs.sh OUT.cpio SUITE.sh BUSYBOX REAPER ZOMBIES" >&2; exit 2; }
out=$1 suite=$2 busybox=$3 reaper=$4 zombies=$5
for f in "$suite" "$busybox" "$reaper" "$zombies"; do
  [ -f "$f" ] || { echo "vm/build-initramfs: '$f' does not exist" >&2; exit 1; }
done
for f in "$busybox" "$reaper" "$zombies"; do
  if file -L -b "$f" | grep -q 'dynamically linked'; then
    echo "vm/build-initramfs: '$f' is dynamically linked; the VM has no libc: give a static build" >&2
    exit 1
  fi
done
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/lib/vm"
install -m 0755 "$busybox" "$stage/bin/busybox"
ln -s busybox "$stage/bin/sh"
install -m 0755 "$reaper" "$stage/bin/reaper"
install -m 0755 "$zombies" "$stage/bin/zombies"
install -m 0755 "$here/guest/init.sh" "$stage/init"
install -m 0644 "$here/guest/lib.sh" "$stage/lib/vm/lib.sh"
install -m 0644 "$suite" "$stage/suite.sh"
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | busybox cpio -o -H newc --quiet) >"$out.tmp"
mv "$out.tmp" "$out"
