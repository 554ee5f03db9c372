#!/usr/bin/env bash
# Accuracy of zombies' one-scan leak rates on a scripted node.
#
# Starts five parents and lets them run for DURATION seconds (default 125):
#   - three leakers that never wait, one orphan-like child exiting every 60/RATE s, at 1, 6 and 30 per
#     minute (the rates of a slow probe, incident 2's probe every 10 s, and a busy one);
#   - two healthy parents that make transient zombies: one with a SIGCHLD handler that reaps its
#     children a second after they exit (three at a time), one that forks a child every 2 s and waits
#     for it a second later (no handler: one young zombie at a time).
# Meanwhile `zombies --json` scans every SCAN_EVERY seconds (default 5) and must never name a healthy
# parent. At the end one scan's rate estimates are compared with the true rates: each must be within
# 20%. Prints a table and exits 1 when a check fails. Needs python3 and the zombies binary
# (ZOMBIES_BIN, else a release build); no root, no container runtime.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-125}
SCAN_EVERY=${SCAN_EVERY:-5}
TOLERANCE=${TOLERANCE:-0.20}

if [ -z "${ZOMBIES_BIN:-}" ]; then
  cargo build --release --locked -q -p zombies >&2
  ZOMBIES_BIN=${CARGO_TARGET_DIR:-$PWD/target}/release/zombies
fi
[ -x "$ZOMBIES_BIN" ] || { echo "bench-diag: ZOMBIES_BIN=$ZOMBIES_BIN is not executable" >&2; exit 2; }

tmp=$(mktemp -d)
node_pid=
cleanup() {
  [ -n "$node_pid" ] && kill -TERM "$node_pid" 2>/dev/null || true
  [ -n "$node_pid" ] && wait "$node_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# The scripted node: a supervisor that starts the parents, writes their pids, and on SIGTERM kills them
# all (which releases their zombies to init).
cat >"$tmp/node.py" <<'PY'
import json, os, signal, sys, time

out = sys.argv[1]

def leaker(name, per_minute):
    pid = os.fork()
    if pid:
        return pid
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    interval = 60.0 / per_minute
    start = time.monotonic()
    k = 0
    while True:
        if os.fork() == 0:
            time.sleep(0.05)
            os._exit(0)
        k += 1
        # Absolute schedule: no drift from fork time.
        time.sleep(max(0.0, start + k * interval - time.monotonic()))

def healthy_handler():
    pid = os.fork()
    if pid:
        return pid
    pending = []
    def on_chld(sig, frame):
        pending.append(time.monotonic())
    signal.signal(signal.SIGCHLD, on_chld)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    while True:
        for _ in range(3):
            if os.fork() == 0:
                os._exit(0)
        time.sleep(1.0)  # reaps a second later
        while True:
            try:
                p, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if p == 0:
                break
        time.sleep(2.0)

def healthy_waiter():
    pid = os.fork()
    if pid:
        return pid
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    while True:
        c = os.fork()
        if c == 0:
            os._exit(0)
        time.sleep(1.0)
        os.waitpid(c, 0)
        time.sleep(1.0)

pids = {
    "leak-1": leaker("leak-1", 1.0),
    "leak-6": leaker("leak-6", 6.0),
    "leak-30": leaker("leak-30", 30.0),
    "healthy-handler": healthy_handler(),
    "healthy-waiter": healthy_waiter(),
}
with open(out + ".tmp", "w") as f:
    json.dump(pids, f)
os.rename(out + ".tmp", out)

def stop(sig, frame):
    for p in pids.values():
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for p in pids.values():
        try:
            os.waitpid(p, 0)
        except ChildProcessError:
            pass
    sys.exit(0)

signal.signal(signal.SIGTERM, stop)
while True:
    signal.pause()
PY

python3 "$tmp/node.py" "$tmp/pids.json" &
node_pid=$!
for _ in $(seq 100); do [ -s "$tmp/pids.json" ] && break; sleep 0.05; done
[ -s "$tmp/pids.json" ] || { echo "bench-diag: the scripted node did not start" >&2; exit 1; }
started=$SECONDS
echo "bench-diag: 3 leakers (1, 6, 30/min) and 2 healthy parents for ${DURATION}s; a scan every ${SCAN_EVERY}s" >&2

n=0
while [ $((SECONDS - started)) -lt "$DURATION" ]; do
  sleep "$SCAN_EVERY"
  n=$((n + 1))
  "$ZOMBIES_BIN" --json >"$tmp/scan-$n.json" 2>/dev/null || true
done
"$ZOMBIES_BIN" --json >"$tmp/final.json" 2>/dev/null || true
"$ZOMBIES_BIN" --color never >"$tmp/final.txt" 2>/dev/null || true

python3 - "$tmp" "$n" "$TOLERANCE" <<'PY'
import glob, json, sys
tmp, n, tol = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
pids = json.load(open(tmp + "/pids.json"))
true = {"leak-1": 1.0, "leak-6": 6.0, "leak-30": 30.0}
healthy = {pids["healthy-handler"], pids["healthy-waiter"]}
named = 0
transient = 0
for f in sorted(glob.glob(tmp + "/scan-*.json")) + [tmp + "/final.json"]:
    r = json.load(open(f))
    named += sum(1 for g in r["groups"] if g["parent"]["pid"] in healthy)
    transient += sum(1 for t in r["transient"] if t["ppid"] in healthy)
r = json.load(open(tmp + "/final.json"))
ok = True
print("%-8s %9s %10s %7s %6s %-14s %-11s %s" % ("parent", "true/min", "estimate", "error", "count", "method", "source", "window"))
for name, rate in true.items():
    g = [g for g in r["groups"] if g["parent"]["pid"] == pids[name]]
    if not g:
        print("%-8s %9.2f %10s" % (name, rate, "not found"))
        ok = False
        continue
    g = g[0]
    est = g["rate"]
    err = (g["new_per_minute"] - rate) / rate
    ok &= abs(err) <= tol
    print("%-8s %9.2f %10.2f %+6.1f%% %6d %-14s %-11s %.1fs" % (
        name, rate, g["new_per_minute"], err * 100, est["count"], est["method"], est["source"], est["window_seconds"]))
print()
print("scans: %d; healthy parents named as a culprit: %d; their zombies counted as transient: %d" % (n + 1, named, transient))
ok &= named == 0
print("bench-diag: %s (tolerance %.0f%%)" % ("OK" if ok else "FAILED", tol * 100))
sys.exit(0 if ok else 1)
PY
