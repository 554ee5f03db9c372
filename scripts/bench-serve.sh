#!/usr/bin/env bash
# Benchmark (not a test) of `zombies serve` at 30,000 processes, in both scan modes
# (`--scan accounting`: pids.current minus the cgroup task lists; `--scan full`: a /proc scan),
# beside node_exporter's processes collector (`prometheus-node-exporter --collector.processes`),
# all measured in the same run:
#
#   * scrape time: wall time of `curl /metrics` (request to last byte), median of ROUNDS scrapes, and
#     the exporter's own figure (zombies_scrape_duration_seconds / node_scrape_collector_duration_seconds);
#   * memory: VmRSS after the scrapes and VmHWM (peak RSS);
#   * processes created: under `strace -f --seccomp-bpf -e trace=process` (a separate pass, strace
#     slows things), the number of execve after the first and of clone/fork without CLONE_THREAD;
#     threads (clone with CLONE_THREAD) are counted separately; plus /proc/PID/task after the scrapes.
#
# Targets for zombies: accounting mode (the default) scrape <= 50 ms, RSS < 20 MB, no process
# created; full-scan mode scrape <= 200 ms at 30,000 processes, RSS <= 10 MB.
# Needs root: kernel.pid_max is raised to fit the processes and restored on exit.
# Knobs: N (30000), ROUNDS (15), CARGO_TARGET_DIR. Output: a markdown table on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-30000}
ROUNDS=${ROUNDS:-15}
log() { printf 'bench-serve: %s\n' "$*" >&2; }
die() { printf 'bench-serve: ERROR: %s\n' "$*" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || die "needs root (raises kernel.pid_max)"
for t in curl strace prometheus-node-exporter cargo; do
  command -v "$t" >/dev/null || die "$t is not installed (scripts/setup.sh installs it)"
done

log "building the static zombies binary and the process spawner"
Z=${ZOMBIES_STATIC_BIN:-$(scripts/build-zombies.sh)}
cargo build --release --locked -q -p procmodel --example bench_scan >&2
SPAWN=${CARGO_TARGET_DIR:-$PWD/target}/release/examples/bench_scan
[ -x "$Z" ] && [ -x "$SPAWN" ] || die "binaries missing"

work=$(mktemp -d)
old_pid_max=$(cat /proc/sys/kernel/pid_max)
pids=()
spawner=""
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  if [ -n "$spawner" ]; then exec 7>&- 2>/dev/null || true; wait "$spawner" 2>/dev/null || true; fi
  echo "$old_pid_max" >/proc/sys/kernel/pid_max 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM
need=$((N * 2 + 10000))
if [ "$old_pid_max" -lt "$need" ]; then
  log "raising kernel.pid_max $old_pid_max -> $need (restored on exit)"
  echo "$need" >/proc/sys/kernel/pid_max
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 200); do curl -sf -o /dev/null "$1" && return 0; sleep 0.05; done; die "$1 not answering"; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
kb() { awk -v k="$1:" '$1==k {print $2}' "/proc/$2/status"; }

log "spawning $N sleeping processes"
mkfifo "$work/fifo"
"$SPAWN" spawn "$N" <"$work/fifo" >"$work/spawn" &
spawner=$!
exec 7>"$work/fifo"
for _ in $(seq 1200); do grep -q ready "$work/spawn" 2>/dev/null && break; kill -0 "$spawner" || die "spawner died"; sleep 0.1; done
grep -q ready "$work/spawn" || die "spawner not ready"
total=$(ls /proc | grep -c '^[0-9]')
log "$total processes on the node"

# measure NAME URL SELF_METRIC_REGEX PID -> one table row
measure() {
  local name=$1 url=$2 self=$3 pid=$4
  wait_http "$url"
  : >"$work/curl"; : >"$work/self"
  for _ in $(seq "$ROUNDS"); do
    curl -s -o "$work/body" -w '%{time_total}\n' "$url" >>"$work/curl"
    grep -E "$self" "$work/body" | awk '{print $NF}' | head -1 >>"$work/self"
  done
  local wall self_s rss hwm tasks kids series
  wall=$(median <"$work/curl"); self_s=$(median <"$work/self")
  rss=$(kb VmRSS "$pid"); hwm=$(kb VmHWM "$pid")
  tasks=$(ls "/proc/$pid/task" | wc -l)
  kids=$(cat /proc/"$pid"/task/*/children | wc -w)
  series=$(grep -vc '^#' "$work/body")
  printf '%s|%.1f|%.1f|%.1f|%.1f|%s|%s|%s\n' "$name" "$(awk -v x="$wall" 'BEGIN{print x*1000}')" \
    "$(awk -v x="$self_s" 'BEGIN{print x*1000}')" "$(awk -v x="$rss" 'BEGIN{print x/1024}')" \
    "$(awk -v x="$hwm" 'BEGIN{print x/1024}')" "$tasks" "$kids" "$series"
}

# strace_pass NAME CMD... -> "execs_after_first forks threads"
strace_pass() {
  local url=$1; shift
  strace -f -qq --seccomp-bpf -e trace=process -o "$work/trace" "$@" 2>/dev/null &
  local sp=$!
  pids+=("$sp")
  wait_http "$url"
  for _ in $(seq 5); do curl -s -o /dev/null "$url"; done
  kill "$sp" 2>/dev/null; sleep 0.3
  local child
  child=$(cat /proc/"$sp"/task/*/children 2>/dev/null | awk '{print $1}')
  [ -n "$child" ] && kill "$child" 2>/dev/null
  wait "$sp" 2>/dev/null || true
  local execs forks threads
  execs=$(grep -c 'execve(' "$work/trace" || true)
  forks=$(grep -E 'clone3?\(|fork\(' "$work/trace" | grep -vc CLONE_THREAD || true)
  threads=$(grep -E 'clone3?\(' "$work/trace" | grep -c CLONE_THREAD || true)
  echo "$((execs - 1)) $forks $threads"
}

zp=$(free_port); np=$(free_port)
rows=()
for mode in accounting full; do
  log "zombies serve --scan $mode on :$zp"
  "$Z" serve --scan "$mode" --listen "127.0.0.1:$zp" 2>/dev/null &
  zpid=$!; pids+=("$zpid")
  rows+=("$(measure "zombies serve --scan $mode" "http://127.0.0.1:$zp/metrics" '^zombies_scrape_duration_seconds ' "$zpid")")
  grep -q "^zombies_scrape_mode{mode=\"$mode\"} 1" "$work/body" || die "zombies did not scrape in $mode mode"
  kill "$zpid"; wait "$zpid" 2>/dev/null || true
done
log "node_exporter --collector.processes on :$np"
prometheus-node-exporter --web.listen-address="127.0.0.1:$np" --collector.disable-defaults \
  --collector.processes 2>/dev/null &
npid=$!; pids+=("$npid")
rows+=("$(measure "node_exporter processes" "http://127.0.0.1:$np/metrics" \
  '^node_scrape_collector_duration_seconds\{collector="processes"\}' "$npid")")
kill "$npid"; wait "$npid" 2>/dev/null || true

log "strace passes"
sts=()
for mode in accounting full; do
  sts+=("$(strace_pass "http://127.0.0.1:$zp/metrics" "$Z" serve --scan "$mode" --listen "127.0.0.1:$zp")")
done
sts+=("$(strace_pass "http://127.0.0.1:$np/metrics" prometheus-node-exporter --web.listen-address="127.0.0.1:$np" \
  --collector.disable-defaults --collector.processes)")

printf '# zombies serve vs node_exporter --collector.processes\n\n'
printf 'Host: %s cores, kernel %s, %s processes on the node (%s spawned), %s scrapes each, medians.\n' \
  "$(nproc)" "$(uname -r)" "$total" "$N" "$ROUNDS"
printf 'zombies: %s (static musl). node_exporter: %s.\n\n' "$Z" "$(prometheus-node-exporter --version 2>&1 | head -1)"
printf '| exporter | scrape wall ms (curl) | own scrape duration ms | RSS MB | peak RSS MB | threads | children | samples | processes created (execve, fork) | threads created |\n'
printf '|---|---|---|---|---|---|---|---|---|---|\n'
for i in 0 1 2; do
  IFS='|' read -r name wall self rss hwm tasks kids series <<<"${rows[$i]}"
  read -r ex fk th <<<"${sts[$i]}"
  printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s, %s | %s |\n' "$name" "$wall" "$self" "$rss" "$hwm" "$tasks" "$kids" "$series" "$ex" "$fk" "$th"
done
IFS='|' read -r _ wall _ rss hwm _ _ _ <<<"${rows[0]}"
read -r ex fk _ <<<"${sts[0]}"
verdict=$(awk -v w="$wall" -v h="$hwm" -v e="$ex" -v f="$fk" 'BEGIN {print (w <= 50 && h < 20 && e == 0 && f == 0) ? "PASS" : "MISS"}')
printf '\nzombies --scan accounting targets (scrape <= 50 ms, peak RSS < 20 MB, no process created): %s\n' "$verdict"
IFS='|' read -r _ wall self rss hwm _ _ _ <<<"${rows[1]}"
verdict=$(awk -v w="$wall" -v r="$rss" 'BEGIN {print (w <= 200 && r <= 10) ? "PASS" : "MISS"}')
printf 'zombies --scan full targets (scrape <= 200 ms, RSS <= 10 MB): %s\n' "$verdict"
