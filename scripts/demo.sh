#!/usr/bin/env bash
# The project's main job, one command on a fresh Debian machine: reproduce incident 1 of
# docs/incidents.md (the zombie-init pod) without any container runtime, then show reaper fixing it.
# Needs only unshare (util-linux), python3 and a Rust toolchain; as a non-root user it runs in a user
# namespace where the kernel allows them.
#
#   scripts/demo.sh                       narrated demo
#   scripts/demo.sh --check               the same runs and checks, printing only the verdict (for the tests)
#   scripts/demo.sh --runtime podman ...  incident 2 on podman instead (scripts/demo-podman.sh)
#
# Exit 0 only when (a) the workload as PID 1 left a zombie, and (b) under reaper as PID 1 there was none
# and reaper's log named the orphan it reaped; otherwise non-zero with a message saying which part failed.
# REAPER_BIN=/path/to/init uses that binary instead of building reaper (any init taking `-w -- CMD`
# whose -w log names the reaped pid, e.g. tini-static, can stand in).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

if [ "${1:-}" = --runtime ]; then
  case "${2:-}" in
    podman) shift 2; exec bash scripts/demo-podman.sh "$@" ;;
    *) echo "demo: unknown runtime '${2:-}' (podman is the one with a demo: incident 2)" >&2; exit 2 ;;
  esac
fi

CHECK=0
case "${1:-}" in
  --check) CHECK=1 ;;
  "") ;;
  -h | --help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "demo: unknown argument '$1' (try --help)" >&2; exit 2 ;;
esac

# Everything the narration prints goes through these, so --check can silence it in one place.
say() { [ "$CHECK" = 1 ] || printf '%s\n' "$@"; }
heading() { say "" "== $*" ""; }
fail() { echo "demo: FAILED: $*" >&2; exit 1; }

# Only what this demo runs: unshare and python3 (cargo builds reaper).
# shellcheck source=scripts/need.sh
. scripts/need.sh
need unshare util-linux
need python3 python3
need_install

# ---------------------------------------------------------------------------- the init under test
if [ -n "${REAPER_BIN:-}" ]; then
  [ -x "$REAPER_BIN" ] || fail "REAPER_BIN=$REAPER_BIN is not an executable file"
  say "demo: using REAPER_BIN=$REAPER_BIN instead of building reaper"
else
  if [ "$CHECK" = 1 ]; then
    # Quiet mode: keep cargo's output for when the build fails.
    build_log=$(mktemp)
    REAPER_BIN=$(scripts/build-reaper.sh 2>"$build_log") || { cat "$build_log" >&2; fail "building reaper"; }
    rm -f "$build_log"
  else
    REAPER_BIN=$(scripts/build-reaper.sh) || fail "building reaper (scripts/build-reaper.sh)"
  fi
fi
REAPER_BIN=$(readlink -f "$REAPER_BIN")

# ---------------------------------------------------------------------------- the sandbox
# A fresh PID namespace (so the workload or reaper is PID 1) plus a mount namespace with its own /proc (so
# the process table shows only that namespace). Not root: a user namespace gives the rights, where the
# kernel allows unprivileged ones.
NS=(unshare --pid --fork --mount-proc)
if [ "$(id -u)" -ne 0 ]; then
  NS=(unshare --user --map-root-user --pid --fork --mount-proc)
  "${NS[@]}" true 2>/dev/null ||
    fail "cannot create a user+PID namespace as $(id -un): run as root, or allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1 / user.max_user_namespaces > 0)"
fi

# The interpreter itself, not a wrapper: a shim (pyenv's is a shell script) would fork helpers inside the
# namespace first, which only makes the PIDs in the table harder to read.
PY=$(python3 -c 'import sys; print(sys.executable)')
WORKLOAD="$ROOT/demo/zombie_init.py"
[ -r "$WORKLOAD" ] || fail "missing $WORKLOAD"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# run NAME CMD...: runs CMD in the sandbox, stdout and stderr together in $tmp/NAME (so reaper's log lines
# land where they happened), and its exit status in $tmp/NAME.rc. A deadline guards against a hang.
run() {
  local name=$1 rc=0
  shift
  timeout 60 "${NS[@]}" "$@" >"$tmp/$name" 2>&1 || rc=$?
  echo "$rc" >"$tmp/$name.rc"
}

# zombie_pid FILE: the pid the workload announced.
zombie_pid() { sed -n 's/^The zombie pid will be: \([0-9][0-9]*\)$/\1/p' "$1" | head -n1; }
# zombie_lines FILE: the rows of the process table whose STAT starts with Z.
zombie_lines() { awk 'seen && $1 ~ /^[0-9]+$/ && $3 ~ /^Z/; /^ *PID +PPID +STAT +COMMAND/ { seen = 1 }' "$1"; }
# reap_log FILE PID: reaper's log lines naming PID as reaped (`reaper: reaped orphan pid=N ...`; the
# pattern also accepts tini's `Reaped zombie process with pid=N`, for REAPER_BIN=tini-static runs).
reap_log() { grep -Ei 'reap' "$1" | grep -E "pid[=: ]+'?$2([^0-9]|$)" || true; }

# show FILE PID NOTE-FOR-ZOMBIE NOTE-FOR-LOG: prints a run's output, indented, pointing at the lines
# that matter.
show() {
  [ "$CHECK" = 1 ] && return 0
  awk -v z="$2" -v zn="$3" -v ln="$4" '
    { note = "" }
    $1 == z && $3 ~ /^Z/ { note = "   <- " zn }
    tolower($0) ~ /reap/ && $0 ~ ("pid[=: ]+.?" z "([^0-9]|$)") { note = "   <- " ln }
    /^reaper: reaped .*most common/ { note = "   <- reaper'"'"'s summary when it exits: how many orphans, which names" }
    { print "    " $0 note }' "$1"
}

# ---------------------------------------------------------------------------- narration + runs
heading "What is a zombie process?"
say "When a program exits, Linux does not forget it at once. It keeps a small record (the process ID and" \
  "how it ended) until the process's parent asks for it with wait(). Until then the dead process is a" \
  "\"zombie\": ps shows it with state Z and the word <defunct>. A zombie uses no CPU and no memory, but it" \
  "keeps its process ID, and IDs run out (32768 by default): enough zombies and nothing new can start."

heading "Why PID 1 matters"
say "When a parent exits before its child, the child becomes an orphan and the kernel gives it a new" \
  "parent: PID 1, the first process of the PID namespace (in a container: the container's own PID 1)." \
  "From then on only PID 1 can collect it. Most containers run their application as PID 1, and an" \
  "application does not wait for children it never started, so every orphan that exits stays a zombie" \
  "for the life of the container. That is incident 1: a Python script as PID 1 and a <defunct> line in ps."
say "" "The workload (demo/zombie_init.py) does what such applications do by accident: it starts a helper" \
  "that starts a child and exits at once, so the child is orphaned and handed to PID 1; the child exits" \
  "0.2 s later. Then the workload prints the process table of its namespace, ps-style."

heading "Run 1: the Python workload is PID 1 (as in the incident)"
say "\$ ${NS[*]} python3 demo/zombie_init.py"
run plain "$PY" "$WORKLOAD"
zp_a=$(zombie_pid "$tmp/plain")
show "$tmp/plain" "$zp_a" "the zombie: it exited, and its parent, PID 1, never waits for it" ""

heading "Run 2: the same workload, with reaper as PID 1"
say "\$ ${NS[*]} reaper -w -- python3 demo/zombie_init.py"
say "(-w: log every orphan reaper collects, on stderr)"
run reaper "$REAPER_BIN" -w -- "$PY" "$WORKLOAD"
zp_b=$(zombie_pid "$tmp/reaper")
show "$tmp/reaper" "$zp_b" "still a zombie: reaper did not collect it" "reaper's log: it collected the orphan"

# ---------------------------------------------------------------------------- verdict
problems=()
rc_a=$(cat "$tmp/plain.rc")
rc_b=$(cat "$tmp/reaper.rc")
[ "$rc_a" = 0 ] || problems+=("run 1 (workload as PID 1) exited with status $rc_a")
[ -n "$zp_a" ] || problems+=("run 1 printed no 'The zombie pid will be: N' line")
[ -n "$zp_a" ] && ! zombie_lines "$tmp/plain" | awk -v z="$zp_a" '$1 == z { f = 1 } END { exit !f }' &&
  problems+=("run 1 showed no Z line for pid $zp_a: the zombie did not appear")
[ "$rc_b" = 0 ] || problems+=("run 2 (reaper as PID 1) exited with status $rc_b")
[ -n "$zp_b" ] || problems+=("run 2 printed no 'The zombie pid will be: N' line")
if ! grep -q '^ *PID  *PPID  *STAT  *COMMAND' "$tmp/reaper"; then
  problems+=("run 2 printed no process table")
elif [ -n "$(zombie_lines "$tmp/reaper")" ]; then
  problems+=("run 2 still showed a zombie: $(zombie_lines "$tmp/reaper" | head -n1 | tr -s ' ')")
fi
[ -n "$zp_b" ] && [ -z "$(reap_log "$tmp/reaper" "$zp_b")" ] &&
  problems+=("reaper's log does not name the reaped orphan pid $zp_b (expected 'reaper: reaped orphan pid=$zp_b ...' on stderr)")

if [ "${#problems[@]}" -gt 0 ]; then
  for p in "${problems[@]}"; do echo "demo: FAILED: $p" >&2; done
  # In quiet mode the runs were not shown: show them now, they are the evidence.
  if [ "$CHECK" = 1 ]; then
    for r in plain reaper; do echo "--- output of run '$r':" >&2; sed 's/^/    /' "$tmp/$r" >&2; done
  fi
  exit 1
fi

heading "What changed"
say "Only PID 1. The workload is the same program doing the same thing; in run 1 the orphan it left" \
  "behind (pid $zp_a) stayed a zombie, because PID 1 was the workload and it never waits for what it" \
  "did not start. In run 2 reaper was PID 1: it started the workload as its child, and when the orphan" \
  "(pid $zp_b) was handed to it and exited, reaper collected it at once and logged it. In a container, put" \
  "reaper first in the entrypoint: reaper [OPTIONS] -- your-program ARGS."
if [ "$CHECK" = 1 ]; then
  echo "demo: OK: workload as PID 1 left zombie pid $zp_a; under $(basename "$REAPER_BIN") as PID 1 none, and its log names pid $zp_b"
else
  heading "Verdict: OK (zombie with the workload as PID 1; none under reaper, which logged pid $zp_b)"
fi
