#!/usr/bin/env bash
# Usage: scripts/vm/fetch.sh DEBARCH   (amd64 | arm64)
# Fetches Debian's kernel (linux-image-DEBARCH) and busybox-static for DEBARCH from the machine's own
# apt sources, without touching the system's dpkg (a private apt state under the cache directory: no
# `dpkg --add-architecture`), and unpacks only what the VM needs. Prints the directory holding
# `busybox` and `kernel`, the file to boot: for amd64 the uncompressed ELF vmlinux taken out of the
# bzImage (qemu boots it through its PVH entry point; the bzImage decompressing itself under TCG took
# 20 s more per boot), for arm64 the Image as shipped (it is not compressed). Cached under
# target/vm/cache/DEBARCH (VM_CACHE overrides target/vm/cache): a rerun with both files there does no
# network access at all.
set -euo pipefail
cd "$(dirname "$0")/../.."
debarch=${1:?usage: scripts/vm/fetch.sh amd64|arm64}
case "$debarch" in amd64 | arm64) ;; *) echo "vm/fetch: unknown architecture '$debarch'; use amd64 or arm64" >&2; exit 2 ;; esac
root=${VM_CACHE:-$PWD/target/vm/cache}
out="$root/$debarch"
if [ -s "$out/kernel" ] && [ -x "$out/busybox" ]; then
  echo "$out"
  exit 0
fi
apt_dir="$root/apt-$debarch"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$apt_dir/debs" "$out"
: >"$apt_dir/status"
apt_opts=(
  -qq -o "APT::Architecture=$debarch" -o "APT::Architectures::=$debarch"
  -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::State::status=$apt_dir/status"
  -o "Dir::Cache=$apt_dir" -o Debug::NoLocking=1 -o APT::Sandbox::User=root
  -o Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false
  -o Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false
  -o Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false
)
echo "vm/fetch: reading the $debarch package lists of this machine's apt sources" >&2
apt-get "${apt_opts[@]}" update >&2 \
  || { echo "vm/fetch: apt-get update for $debarch failed; check the apt sources and the network to the Debian mirror" >&2; exit 1; }
# linux-image-DEBARCH is a metapackage: the kernel itself is the versioned package it depends on.
kpkg=$(apt-cache "${apt_opts[@]}" depends "linux-image-$debarch" | awk '/Depends: linux-image-/ { print $2; exit }')
[ -n "$kpkg" ] || { echo "vm/fetch: cannot find the kernel package linux-image-$debarch depends on" >&2; exit 1; }
echo "vm/fetch: downloading $kpkg and busybox-static ($debarch)" >&2
(cd "$apt_dir/debs" && rm -f ./*.deb && apt-get "${apt_opts[@]}" download "$kpkg:$debarch" "busybox-static:$debarch" >&2) \
  || { echo "vm/fetch: apt-get download $kpkg busybox-static failed for $debarch" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dpkg-deb --fsys-tarfile "$apt_dir"/debs/linux-image-*.deb | tar -x -C "$tmp" --wildcards './boot/vmlinuz-*'
dpkg-deb -x "$apt_dir"/debs/busybox-static_*.deb "$tmp/bb"
install -m 0644 "$tmp"/boot/vmlinuz-* "$out/vmlinuz.new"
install -m 0755 "$tmp/bb/bin/busybox" "$out/busybox.new"
echo "$(basename "$tmp"/boot/vmlinuz-* | sed 's/^vmlinuz-//') ($(dpkg-deb -f "$apt_dir"/debs/linux-image-*.deb Package Version | tr '\n' ' ' | sed 's/Package: //; s/ Version: / /; s/ $//'))" >"$out/kernel-version"
if [ "$debarch" = amd64 ]; then
  # The bzImage carries vmlinux as one xz stream after its decompressor.
  python3 - "$out/vmlinuz.new" "$out/kernel.new" <<'PY' || { echo "vm/fetch: cannot take vmlinux out of the amd64 bzImage; booting the bzImage" >&2; cp "$out/vmlinuz.new" "$out/kernel.new"; }
import lzma, sys
data = open(sys.argv[1], "rb").read()
at = data.find(b"\xfd7zXZ\x00")
elf = lzma.LZMADecompressor().decompress(data[at:]) if at >= 0 else b""
if not elf.startswith(b"\x7fELF"):
    sys.exit("no xz-compressed ELF vmlinux found in the bzImage")
open(sys.argv[2], "wb").write(elf)
PY
else
  cp "$out/vmlinuz.new" "$out/kernel.new"
fi
rm -f "$out/vmlinuz.new"
mv "$out/kernel.new" "$out/kernel"
mv "$out/busybox.new" "$out/busybox"
rm -rf "$apt_dir/debs"
echo "$out"
