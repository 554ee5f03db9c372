#!/usr/bin/env bash
# Usage: scripts/vm/boot.sh ARCH KERNEL INITRD LOG TIMEOUT_SECONDS [KERNEL_ARGS...]
# Boots KERNEL with INITRD under qemu-system-ARCH (x86_64 or aarch64) with software emulation (TCG:
# nested KVM is unusably slow here), the serial console written to LOG, no display, no disk, no
# network card. A kernel panic or any reboot ends qemu (panic=-1, -no-reboot). Exit status: qemu's, or
# 124 when the machine was still running after TIMEOUT_SECONDS (it is then killed).
set -euo pipefail
[ $# -ge 5 ] || { echo "usage: scripts/vm/boot.sh ARCH KERNEL INITRD LOG TIMEOUT_SECONDS [KERNEL_ARGS...]" >&2; exit 2; }
arch=$1 kernel=$2 initrd=$3 log=$4 limit=$5
shift 5
# pauth-impdef: the same pointer authentication with a cheaper hash (boot to power-off 18 s -> 7 s measured under TCG).
# shellcheck disable=SC2054
case "$arch" in
  aarch64) qemu=(qemu-system-aarch64 -M virt -cpu max,pauth-impdef=on) console=ttyAMA0 ;;
  x86_64) qemu=(qemu-system-x86_64 -M q35 -cpu max) console=ttyS0 ;;
  *) echo "vm/boot: unknown architecture '$arch'; use x86_64 or aarch64" >&2; exit 2 ;;
esac
command -v "${qemu[0]}" >/dev/null || { echo "vm/boot: ${qemu[0]} not found; install it (scripts/setup.sh does)" >&2; exit 1; }
: >"$log"
set +e
timeout --kill-after=5 "$limit" "${qemu[@]}" -accel tcg -m "${VM_MEMORY:-512}" -smp "${VM_CPUS:-2}" \
  -nodefaults -display none -no-reboot -monitor none -serial "file:$log" \
  -kernel "$kernel" -initrd "$initrd" -append "console=$console panic=-1 quiet $*"
status=$?
set -e
exit "$status"
