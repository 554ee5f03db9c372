#!/usr/bin/env bash
# Usage: scripts/vm/test.sh [SUITE...]   (default: every file of scripts/vm/suites/)
# The VM tests: for each suite, builds (or takes, see binaries.sh) the static reaper and zombies of the
# suite's architecture, fetches Debian's kernel and busybox-static for it (fetch.sh), builds an
# initramfs (build-initramfs.sh), boots it under qemu-system TCG (boot.sh) and reads the results from
# the serial console. A suite passes only when the machine powered off by itself within its timeout,
# printed `VMTEST done`, no `VMTEST FAIL` line, and exactly the checks its `# vm-expect:` lines name
# as `VMTEST ok` (verdict.sh, itself checked first by verdict-selftest.sh). Suites run concurrently;
# the logs stay in target/vm/SUITE.log.
set -euo pipefail
cd "$(dirname "$0")/../.."
vm=scripts/vm
out=${CARGO_TARGET_DIR:-$PWD/target}/vm
mkdir -p "$out"
if [ $# -eq 0 ]; then
  mapfile -t all < <(find "$vm/suites" -name '*.sh' -printf '%f\n' | sed 's/\.sh$//' | sort)
  set -- "${all[@]}"
fi

header() { sed -n "s/^# $2: *//p" "$1"; }

# The judge first: it must fail every kind of bad run (crafted logs, no VM).
"$vm/verdict-selftest.sh" >/dev/null

# Prepare every suite first (builds share cargo's lock; downloads are cached), then boot them all.
declare -A log kernel initrd arch_of timeout_of args_of
for suite in "$@"; do
  file=$vm/suites/$suite.sh
  [ -f "$file" ] || { echo "vm: no suite '$suite' (files of $vm/suites/)" >&2; exit 2; }
  arch=$(header "$file" vm-arch)
  case "$arch" in aarch64) debarch=arm64 ;; x86_64) debarch=amd64 ;; *) echo "vm: $file: bad '# vm-arch: $arch'" >&2; exit 2 ;; esac
  paths=$("$vm/binaries.sh" "$arch") || { echo "vm: $suite: no $arch reaper/zombies (see above)" >&2; exit 1; }
  mapfile -t bins <<<"$paths"
  cache=$("$vm/fetch.sh" "$debarch")
  "$vm/build-initramfs.sh" "$out/$suite.cpio" "$file" "$cache/busybox" "${bins[0]}" "${bins[1]}"
  echo "vm: $suite: $arch, kernel $(cat "$cache/kernel-version"), reaper ${bins[0]}, zombies ${bins[1]}"
  arch_of[$suite]=$arch kernel[$suite]=$cache/kernel initrd[$suite]=$out/$suite.cpio log[$suite]=$out/$suite.log
  timeout_of[$suite]=$(header "$file" vm-timeout) args_of[$suite]=$(header "$file" vm-kernel-args)
done

declare -A pid started
for suite in "$@"; do
  started[$suite]=$(date +%s.%N)
  rm -f "$out/$suite.end"
  # shellcheck disable=SC2086
  (
    set +e
    "$vm/boot.sh" "${arch_of[$suite]}" "${kernel[$suite]}" "${initrd[$suite]}" "${log[$suite]}" \
      "${timeout_of[$suite]:-300}" ${args_of[$suite]}
    status=$?
    date +%s.%N >"$out/$suite.end"
    exit "$status"
  ) &
  pid[$suite]=$!
done

failed=0
for suite in "$@"; do
  set +e
  wait "${pid[$suite]}"
  status=$?
  set -e
  secs=$(awk -v a="${started[$suite]}" -v b="$(cat "$out/$suite.end")" 'BEGIN { printf "%.1f", b - a }')
  n=$(sed -n 's/^# vm-expect: *//p' "$vm/suites/$suite.sh" | wc -w)
  if problems=$("$vm/verdict.sh" "$vm/suites/$suite.sh" "${log[$suite]}" "$status" "${timeout_of[$suite]:-300}"); then
    up=$(tr -d '\r' <"${log[$suite]}" | sed -n 's/^VMTEST uptime //p')
    echo "vm: $suite: PASS, $n/$n checks ok in ${secs} s (qemu start to power-off; guest uptime ${up:-?} s; ${arch_of[$suite]}; log ${log[$suite]})"
  else
    failed=1
    echo "vm: $suite: FAIL after ${secs} s; serial console:" >&2
    sed 's/^/  | /' "${log[$suite]}" >&2
    while read -r line; do echo "vm: $suite: $line" >&2; done <<<"$problems"
  fi
done
echo "vm: $# suite(s) in $SECONDS s in all (builds, downloads and boots)"
exit "$failed"
