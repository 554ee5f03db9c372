#!/usr/bin/env bash
# Shows that scripts/vm/verdict.sh fails every kind of bad run and passes a good one, on crafted serial
# console logs (no VM is booted). Run by scripts/vm/test.sh before the boots.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '%s\n' '# vm-expect: a b' '# vm-expect: c' >"$tmp/suite.sh"
good=$'VMTEST boot kernel=x\nVMTEST ok a\r\nVMTEST ok b status=0\nVMTEST ok c\nVMTEST done\n[ 1.0] reboot: Power down'
failures=0
expect() { # expect pass|fail WHAT STATUS LOG
  printf '%s\n' "$4" >"$tmp/log"
  if "$here/verdict.sh" "$tmp/suite.sh" "$tmp/log" "$3" 60 >"$tmp/out"; then got=pass; else got=fail; fi
  if [ "$got" = "$1" ]; then
    echo "vm/verdict-selftest: ok: $2 -> $1 $(head -n1 "$tmp/out")"
  else
    echo "vm/verdict-selftest: WRONG: $2 -> $got, want $1: $(cat "$tmp/out")" >&2
    failures=$((failures + 1))
  fi
}
expect pass "a good run" 0 "$good"
expect fail "killed at the timeout" 124 "$good"
expect fail "qemu failed" 1 "$good"
expect fail "no done line (panic)" 0 "${good/VMTEST done/Kernel panic - not syncing}"
expect fail "a FAIL line" 0 "$good"$'\nVMTEST FAIL d status=1 want=0'
expect fail "a check missing" 0 "${good/VMTEST ok c/}"
expect fail "an unexpected check" 0 "$good"$'\nVMTEST ok e'
expect fail "a check twice" 0 "$good"$'\nVMTEST ok a'
expect fail "an empty log" 0 ""
[ "$failures" = 0 ] || { echo "vm/verdict-selftest: $failures wrong verdict(s)" >&2; exit 1; }
