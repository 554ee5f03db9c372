#!/usr/bin/env bash
# Incident 2 of docs/incidents.md on a real container runtime (podman): an exec health check whose
# orphans pile up as zombies in a container whose PID 1 never waits. Shows what the incident's team saw
# (`ps -ef`), what they needed (`zombies`: the container, its PID 1, the probe's leftovers, the leak rate
# and the time to exhaustion), then the fix (reaper as the container's PID 1 via `podman run --init
# --init-path`), with the same probes leaving no zombie.
#
#   scripts/demo-podman.sh            narrated demo (also: scripts/demo.sh --runtime podman)
#   scripts/demo-podman.sh --check    the same runs and checks, printing only the verdict (for the tests)
#
# Needs root (rootful podman with runc), podman, runc, conmon, busybox-static and procps; installs them
# when missing. PROBES=N sets the number of probes (default 12), PROBE_INTERVAL=S the pause between
# them (default 0.5 s). REAPER_BIN / ZOMBIES_BIN use those binaries instead of building them.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

CHECK=0
case "${1:-}" in
  --check) CHECK=1 ;;
  "") ;;
  -h | --help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "demo-podman: unknown argument '$1' (try --help)" >&2; exit 2 ;;
esac
PROBES=${PROBES:-12}
PROBE_INTERVAL=${PROBE_INTERVAL:-0.5}
case "$PROBES" in '' | *[!0-9]*) echo "demo-podman: PROBES=$PROBES is not a number" >&2; exit 2 ;; esac

say() { [ "$CHECK" = 1 ] || printf '%s\n' "$@"; }
heading() { say "" "== $*" ""; }
fail() { echo "demo-podman: FAILED: $*" >&2; exit 1; }
indent() { if [ "$CHECK" = 1 ]; then cat >/dev/null; else sed 's/^/    /'; fi; }
# ps_defunct: the ps -ef lines the team looked at (header, the containers' PID 1, the defunct ones).
ps_defunct() { { ps -ef | grep -e '^UID' -e defunct -e 'sleep 3600' | grep -v grep | head -n 8 | indent; } || true; }

[ "$(id -u)" -eq 0 ] || fail "run as root: this demo uses rootful podman (runc), as a node's runtime does"
# Only what this demo runs.
# shellcheck source=scripts/need.sh
. scripts/need.sh
need podman podman
need runc runc
need conmon conmon
need busybox busybox-static
need ps procps
need_install
# This machine kind needs the project's podman settings (runc; rlimits a container may set here).
export CONTAINERS_CONF=${CONTAINERS_CONF:-$ROOT/deploy/podman/containers.conf}

quiet_build() { # quiet_build WHAT CMD...: runs a build printing its path; its log only on failure
  local log out
  log=$(mktemp)
  out=$("${@:2}" 2>"$log") || { cat "$log" >&2; rm -f "$log"; fail "building $1"; }
  rm -f "$log"
  echo "$out"
}
if [ -z "${REAPER_BIN:-}" ]; then REAPER_BIN=$(quiet_build reaper scripts/build-reaper.sh); fi
if [ -z "${ZOMBIES_BIN:-}" ]; then
  ZOMBIES_BIN=$(quiet_build zombies bash -c 'cargo build --release --locked -p zombies >&2 && echo "${CARGO_TARGET_DIR:-$PWD/target}/release/zombies"')
fi
[ -x "$REAPER_BIN" ] || fail "REAPER_BIN=$REAPER_BIN is not an executable file"
[ -x "$ZOMBIES_BIN" ] || fail "ZOMBIES_BIN=$ZOMBIES_BIN is not an executable file"
REAPER_BIN=$(readlink -f "$REAPER_BIN")

# ---------------------------------------------------------------------------- the image and cleanup
tag="demo-probe-$$"
image="localhost/$tag:latest"
leaky="$tag-leaky"
fixed="$tag-fixed"
tmp=$(mktemp -d)
cleanup() {
  local c
  for c in "$leaky" "$fixed"; do podman rm -f -t 0 --ignore "$c" >/dev/null 2>&1 || true; done
  podman rmi -f "$image" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 141' PIPE
mkdir -p "$tmp/ctx/bin"
cp "$(command -v busybox)" "$tmp/ctx/bin/busybox"
for a in sh sleep; do ln -s busybox "$tmp/ctx/bin/$a"; done
printf 'FROM scratch\nCOPY bin /bin\n' >"$tmp/ctx/Containerfile"
podman build -q -t "$image" "$tmp/ctx" >/dev/null || fail "podman build of the busybox image"

# The probe: like an exec health check whose helper outlives it (or is left behind on a timeout), it
# starts a child in the background and exits. The child is orphaned onto the container's PID 1.
PROBE='sleep 0.1 </dev/null >/dev/null 2>&1 & exit 0'
probe_loop() { # probe_loop CONTAINER
  local i
  for i in $(seq 1 "$PROBES"); do
    podman exec "$1" sh -c "$PROBE" || fail "probe $i: podman exec in $1"
    sleep "$PROBE_INTERVAL"
  done
}
# zombies_of PID: the host pids of PID's children in state Z.
zombies_of() {
  local d rest f
  for d in /proc/[0-9]*; do
    { read -r _ rest <"$d/stat"; } 2>/dev/null || continue
    # Fields after the command name (which may hold spaces): state, ppid, ...
    read -r -a f <<<"${rest##*) }"
    [ "${f[0]}" = Z ] && [ "${f[1]}" = "$PID1" ] && echo "${d#/proc/}"
  done
  return 0
}
# wait_zombies N: polls (30 s deadline) until PID1 holds N zombies; prints the count reached.
wait_zombies() {
  local deadline=$((SECONDS + 30)) n=0
  while :; do
    n=$(zombies_of | wc -l)
    [ "$n" -ge "$1" ] || [ "$SECONDS" -ge "$deadline" ] && break
    sleep 0.2
  done
  echo "$n"
}

# ---------------------------------------------------------------------------- narration + runs
heading "Incident 2: a health check that used up a node's PIDs"
say "An exec health check ran every 10 seconds in a pod. Each run started a helper that outlived it, so" \
  "the helper was handed to PID 1 of the container, and that PID 1 never waits for children it did not" \
  "start: every helper stayed a zombie when it ended. One zombie per check holds one PID; at 6 per" \
  "minute a node's 32768 PIDs last days, then nothing new can start, not even an SSH login." \
  "" "Here the same on podman, faster: $PROBES probes, one every ${PROBE_INTERVAL}s, in a container whose PID 1" \
  "is \`sleep\` (it never waits), with --pids-limit 64."

heading "Run 1: the container as most images run it (the application is PID 1)"
say "\$ podman run -d --name $leaky --pids-limit 64 --network none $image /bin/sleep 3600"
podman run -d --name "$leaky" --pids-limit 64 --network none "$image" /bin/sleep 3600 >/dev/null ||
  fail "podman run of $leaky"
PID1=$(podman inspect -f '{{.State.Pid}}' "$leaky")
say "\$ for i in \$(seq $PROBES); do podman exec $leaky sh -c '$PROBE'; sleep $PROBE_INTERVAL; done"
probe_loop "$leaky"
n_leaky=$(wait_zombies "$PROBES")

heading "What the team saw: ps -ef on the node"
say "\$ ps -ef | grep -e PID -e defunct -e 'sleep 3600'"
ps_defunct
say "    ... $n_leaky <defunct> lines in all, and one more per probe. ps shows that something leaks," \
  "    not which container, why, or how long the node has left."

heading "What they needed: zombies"
say "\$ zombies"
set +e
"$ZOMBIES_BIN" --color never >"$tmp/report.txt" 2>&1
"$ZOMBIES_BIN" --json >"$tmp/report.json" 2>/dev/null
"$ZOMBIES_BIN" check >"$tmp/check.txt" 2>&1
check_rc=$?
set -e
# The container's group, and the budget lines (other jobs' zombies on a shared machine are left out).
{ awk -v c="$leaky" '
  /^PARENT/ { show = 0; blk = $0; next_is = 1 }
  next_is && /^  / { blk = blk "\n" $0; if ($0 ~ c) show = 1; if ($0 ~ /^  fix:/) { if (show) print blk; next_is = 0 }; next }
  /^PID budget/ { budget = 1 }
  budget && (/^PID budget/ || /^  node:/ || /^        / || /SCOPE/ || $0 ~ c) { print }
' "$tmp/report.txt" | indent; } || true
say "" "\$ zombies check        # node-problem-detector / cron: one line and the exit status"
indent <"$tmp/check.txt"
say "    (exit status $check_rc: 1 means over a threshold; the defaults fail on a growing leak or a" \
  "    PID limit more than 90% used)"

heading "The fix: reaper as the container's PID 1, without changing the image"
say "\$ podman rm -f $leaky     # removing the container releases its zombies"
podman rm -f -t 0 "$leaky" >/dev/null || fail "podman rm of $leaky"
say "\$ podman run -d --init --init-path $REAPER_BIN --name $fixed --pids-limit 64 --network none $image /bin/sleep 3600"
podman run -d --init --init-path "$REAPER_BIN" --name "$fixed" --pids-limit 64 --network none "$image" /bin/sleep 3600 >/dev/null ||
  fail "podman run --init of $fixed"
PID1=$(podman inspect -f '{{.State.Pid}}' "$fixed")
say "\$ for i in \$(seq $PROBES); do podman exec $fixed sh -c '$PROBE'; sleep $PROBE_INTERVAL; done"
probe_loop "$fixed"
sleep 0.5
n_fixed=$(zombies_of | wc -l)
pid1_cmd=$(tr '\0' ' ' </proc/"$PID1"/cmdline)
say "\$ ps -ef | grep -e PID -e defunct -e 'sleep 3600'"
ps_defunct
say "    PID 1 of $fixed is now: $pid1_cmd" "    zombies under it: $n_fixed"
"$ZOMBIES_BIN" --json >"$tmp/fixed.json" 2>/dev/null || true

# ---------------------------------------------------------------------------- verdict
problems=()
[ "$n_leaky" -ge "$PROBES" ] || problems+=("run 1 left $n_leaky zombies under PID 1, expected one per probe ($PROBES)")
python3 - "$tmp/report.json" "$leaky" "$PROBES" <<'PY' || problems+=("zombies did not diagnose run 1 as expected (above)")
import json, sys
r = json.load(open(sys.argv[1])); name = sys.argv[2]; n = int(sys.argv[3])
g = [g for g in r["groups"] if name in g["parent"]["label"]]
ok = True
def need(c, what):
    global ok
    if not c:
        print("demo-podman: zombies: " + what, file=sys.stderr); ok = False
need(len(g) == 1, "no group names container " + name)
if g:
    g = g[0]
    need(g["cause"] == "exec_orphans", "cause " + g["cause"])
    need(g["parent"]["is_container_init"] is True, "parent is not the container's PID 1")
    need(g["zombie_count"] >= n, "zombie_count %d < %d" % (g["zombie_count"], n))
    need(g["rate"] is not None and g["rate"]["ongoing"] and g["new_per_minute"] > 1, "no growing leak rate: %r" % g["rate"])
    need(g["exhaustion"] is not None and g["exhaustion"]["seconds"] is not None, "no time to exhaustion")
    need("--init" in g["fix"], "fix without --init: " + g["fix"])
need(not [g for g in r["groups"] if g["parent"]["pid"] == 1], "the host's init named as a culprit")
sys.exit(0 if ok else 1)
PY
[ "$check_rc" = 1 ] || problems+=("zombies check exited $check_rc on the leak, expected 1: $(cat "$tmp/check.txt")")
[ "$n_fixed" = 0 ] || problems+=("run 2 (reaper as PID 1) left $n_fixed zombies")
case "$pid1_cmd" in
  /run/podman-init\ --*) ;;
  *) problems+=("run 2's PID 1 is '$pid1_cmd', not reaper as /run/podman-init") ;;
esac
python3 - "$tmp/fixed.json" "$fixed" <<'PY' || problems+=("zombies still reports container $fixed")
import json, sys
r = json.load(open(sys.argv[1]))
sys.exit(1 if [g for g in r["groups"] if sys.argv[2] in g["parent"]["label"]] else 0)
PY

if [ "${#problems[@]}" -gt 0 ]; then
  for p in "${problems[@]}"; do echo "demo-podman: FAILED: $p" >&2; done
  if [ "$CHECK" = 1 ]; then
    echo "--- zombies report of run 1:" >&2
    sed 's/^/    /' "$tmp/report.txt" >&2
  fi
  exit 1
fi

heading "What changed"
say "Only PID 1. The image, the command and the probes are the same; in run 1 PID 1 was \`sleep\`, which" \
  "never waits, and each probe's orphan stayed a zombie ($n_leaky of them, the container's PID limit" \
  "running out). In run 2 podman put reaper in front of the command (--init --init-path), reaper" \
  "collected every orphan, and zombies has nothing to say about that container. Other ways to the same" \
  "result: reaper as the image's ENTRYPOINT, a pod sharing its PID namespace with reaper's pause as infra," \
  "or every container of a node at once through the runtime wrapper (docs/runtime-wrapper.md)."
if [ "$CHECK" = 1 ]; then
  echo "demo-podman: OK: $n_leaky zombies from $PROBES probes with sleep as PID 1, diagnosed by zombies (check exit 1); none under reaper"
else
  heading "Verdict: OK ($n_leaky zombies without reaper, diagnosed; none with reaper as PID 1)"
fi
