#!/usr/bin/env bash
# Usage: scripts/vm/test.sh [SUITE...]   (default: every file of scripts/vm/suites/)
# The VM tests: for each suite, builds (or takes, see binaries.sh) the static reaper and zombies of the
# suite's architecture, fetches Debian's kernel and busybox-static for it (fetch.sh), builds an
# initramfs (build-initramfs.sh), boots it under qemu-system TCG (boot.sh) and reads the results from
# the serial console. A suite passes only when the machine powered off by itself within its timeout,
# printed `VMTEST done`, no `VMTEST FAIL` line, and exactly the checks its `# vm-expect:` lines name
# as `VMTEST ok`. Suites run concurrently; the logs stay in target/vm/SUITE.log.
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
  lines=$(tr -d '\r' <"${log[$suite]}" | grep -a '^VMTEST ' || true)
  problems=()
  if [ "$status" = 124 ]; then
    problems+=("the VM was still running after ${timeout_of[$suite]:-300} s and was killed")
  elif [ "$status" != 0 ]; then
    problems+=("qemu exited with status $status")
  fi
  grep -qx 'VMTEST done' <<<"$lines" || problems+=("no 'VMTEST done' line: /init did not finish (kernel panic, hang or crash)")
  while read -r line; do problems+=("$line"); done < <(grep '^VMTEST FAIL ' <<<"$lines" || true)
  expected=$(header "$vm/suites/$suite.sh" vm-expect | tr ' ' '\n' | sed '/^$/d' | sort)
  passed=$(sed -n 's/^VMTEST ok \([^ ]*\).*/\1/p' <<<"$lines" | sort)
  for name in $(comm -23 <(echo "$expected") <(echo "$passed" | sort -u)); do problems+=("check '$name' did not report ok"); done
  for name in $(comm -13 <(echo "$expected") <(echo "$passed" | sort -u)); do problems+=("check '$name' reported ok but is not in the suite's vm-expect list"); done
  dups=$(echo "$passed" | uniq -d)
  [ -z "$dups" ] || problems+=("checks reported twice: $dups")
  n=$(echo "$expected" | wc -l)
  if [ "${#problems[@]}" -eq 0 ]; then
    up=$(sed -n 's/^VMTEST uptime //p' <<<"$lines")
    echo "vm: $suite: PASS, $n/$n checks ok in ${secs} s (qemu start to power-off; guest uptime ${up:-?} s; ${arch_of[$suite]}; log ${log[$suite]})"
  else
    failed=1
    echo "vm: $suite: FAIL after ${secs} s; serial console:" >&2
    sed 's/^/  | /' "${log[$suite]}" >&2
    for p in "${problems[@]}"; do echo "vm: $suite: $p" >&2; done
  fi
done
echo "vm: $# suite(s) in $SECONDS s in all (builds, downloads and boots)"
exit "$failed"
