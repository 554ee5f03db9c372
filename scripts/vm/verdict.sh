#!/usr/bin/env bash
# Usage: scripts/vm/verdict.sh SUITE.sh LOG QEMU_STATUS TIMEOUT_SECONDS
# Judges one VM run from its serial console LOG: prints one line per problem and exits 1 when there is
# any, exits 0 when there is none. Problems: qemu's status (124: killed at the timeout), no `VMTEST done`
# line, a `VMTEST FAIL` line, a check of the suite's `# vm-expect:` lines without a `VMTEST ok` line, an
# `ok` check the suite does not expect, a check reported ok twice. scripts/vm/verdict-selftest.sh shows
# each of these failing.
set -euo pipefail
[ $# -eq 4 ] || { echo "usage: scripts/vm/verdict.sh SUITE.sh LOG QEMU_STATUS TIMEOUT_SECONDS" >&2; exit 2; }
suite=$1 log=$2 status=$3 limit=$4
[ -f "$suite" ] || { echo "vm/verdict: no suite file '$suite'" >&2; exit 2; }
problems=()
if [ "$status" = 124 ]; then
  problems+=("the VM was still running after $limit s and was killed")
elif [ "$status" != 0 ]; then
  problems+=("qemu exited with status $status")
fi
lines=$(tr -d '\r' <"$log" 2>/dev/null | grep -a '^VMTEST ' || true)
grep -qx 'VMTEST done' <<<"$lines" || problems+=("no 'VMTEST done' line: /init did not finish (kernel panic, hang or crash)")
while read -r line; do problems+=("$line"); done < <(grep '^VMTEST FAIL ' <<<"$lines" || true)
expected=$(sed -n 's/^# vm-expect: *//p' "$suite" | tr ' ' '\n' | sed '/^$/d' | sort)
[ -n "$expected" ] || problems+=("the suite lists no check on '# vm-expect:' lines")
passed=$(sed -n 's/^VMTEST ok \([^ ]*\).*/\1/p' <<<"$lines" | sort)
for name in $(comm -23 <(echo "$expected") <(echo "$passed" | sort -u)); do problems+=("check '$name' did not report ok"); done
for name in $(comm -13 <(echo "$expected") <(echo "$passed" | sort -u)); do problems+=("check '$name' reported ok but is not in the suite's vm-expect list"); done
dups=$(uniq -d <<<"$passed")
[ -z "$dups" ] || problems+=("checks reported ok twice: $(tr '\n' ' ' <<<"$dups")")
[ "${#problems[@]}" -eq 0 ] || { printf '%s\n' "${problems[@]}"; exit 1; }
