# shellcheck shell=dash disable=SC2016
# Suite: reaper and zombies (aarch64 builds) on Debian's arm64 kernel, for what qemu-user cannot
# emulate: reaper as the machine's real PID 1 (vm.pid1=reaper), as PID 1 of a PID namespace, and as a
# child subreaper (PR_SET_CHILD_SUBREAPER), plus zombies on the live /proc of that kernel.
# Read by scripts/vm/test.sh:
# vm-arch: aarch64
# vm-kernel-args: vm.pid1=reaper
# vm-timeout: 300
# vm-expect: pid1-is-reaper pid1-orphans-reparented pid1-orphans-reaped pid1-forwards-signal
# vm-expect: pidns-exit-0 pidns-exit-7 pidns-exit-255 pidns-127 pidns-126 pidns-signal-TERM
# vm-expect: pidns-signal-KILL pidns-signal-SEGV pidns-orphans pidns-forward-USR1 pidns-forward-TERM
# vm-expect: pidns-drain
# vm-expect: subreaper-exit-0 subreaper-exit-7 subreaper-exit-255 subreaper-127 subreaper-126
# vm-expect: subreaper-signal-TERM subreaper-signal-KILL subreaper-signal-SEGV subreaper-orphans
# vm-expect: subreaper-forward-USR1 subreaper-forward-TERM subreaper-drain subreaper-drain-left-nothing
# vm-expect: zombies-live-finds zombies-check-unhealthy zombies-live-reaped zombies-check-healthy
# vm-expect: no-zombies-at-end
# shellcheck source=scripts/vm/guest/lib.sh disable=SC2086
. /lib/vm/lib.sh

# --- reaper as the kernel's init: /init exec'd it, and this suite runs as its PROGRAM.
if [ "$(cat /proc/1/comm)" = reaper ] && [ "$(readlink /proc/1/exe)" = /bin/reaper ]; then
  ok pid1-is-reaper
else
  fail pid1-is-reaper "pid 1 is $(cat /proc/1/comm) ($(readlink /proc/1/exe))"
fi

# Orphans of the whole machine land on PID 1, which must reap them.
orphans=""
bad=""
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
  p=$(sh -c 'sleep 2 >/dev/null 2>&1 & echo $!')
  orphans="$orphans $p"
  wait_until 10 parent_is "$p" 1 || bad="$bad $p:ppid=$(ppid_of "$p")"
done
if [ -z "$bad" ]; then ok pid1-orphans-reparented "n=20"; else fail pid1-orphans-reparented "$bad"; fi
# shellcheck disable=SC2086
if wait_until 60 gone $orphans; then ok pid1-orphans-reaped "n=20"; else
  left=""
  for p in $orphans; do [ -e "/proc/$p" ] && left="$left $p:$(state_of "$p")"; done
  fail pid1-orphans-reaped "still there:$left"
fi

# A signal sent to PID 1 reaches PROGRAM's group (/init runs under `reaper -g`; this shell and its
# children are in that group). The witness is a plain `sleep`, whose default action for SIGUSR1 is to
# die: its status 138 (128+10) says the signal reached it. (A shell's own trap is no witness: busybox
# ash can lose a trapped signal that also kills the foreground child it is waiting for.) This shell
# must survive the signal: it traps it, and a trap interrupting `wait` is told apart by the witness
# still being there.
trap : USR1
sleep 1000 &
witness=$!
default_dispositions() { grep -q '^SigCgt:[[:space:]]*0*$' "/proc/$witness/status"; }
if wait_until 30 default_dispositions; then
  # Should the signal never come, the witness is SIGKILLed after 60 s (status 137: a failure).
  (sleep 60; kill -KILL "$witness") >/dev/null 2>&1 &
  watchdog=$!
  kill -USR1 1
  while :; do
    wait "$witness"
    st=$?
    [ -e "/proc/$witness" ] || break
  done
  kill "$watchdog" 2>/dev/null
  if [ "$st" = 138 ]; then ok pid1-forwards-signal "USR1: witness status=138"; else fail pid1-forwards-signal "witness status=$st, want 138 (killed by SIGUSR1)"; fi
else
  fail pid1-forwards-signal "the witness sleep $witness kept handlers: $(grep SigCgt "/proc/$witness/status")"
fi
trap - USR1

# --- The core checks, with reaper as PID 1 of a new PID namespace and as a subreaper.
printf 'x\n' >/tmp/notexec
chmod 0644 /tmp/notexec
for mode in pidns subreaper; do
  # $run is split into words on purpose: the command that starts reaper in this mode.
  if [ "$mode" = pidns ]; then run="unshare -p -f --mount-proc reaper"; else run=reaper; fi
  expect_status "$mode-exit-0" 0 $run -- sh -c 'exit 0'
  expect_status "$mode-exit-7" 7 $run -- sh -c 'exit 7'
  expect_status "$mode-exit-255" 255 $run -- sh -c 'exit 255'
  expect_status "$mode-127" 127 $run -- /no/such/program
  expect_status "$mode-126" 126 $run -- /tmp/notexec
  expect_status "$mode-signal-TERM" 143 $run -- sh -c 'kill -TERM $$'
  expect_status "$mode-signal-KILL" 137 $run -- sh -c 'kill -KILL $$'
  expect_status "$mode-signal-SEGV" 139 $run -- sh -c 'kill -SEGV $$'
  # 20 orphans: each must be reparented to reaper (PID 1 of the namespace, or the subreaper: the
  # machine's PID 1 would do otherwise) and reaped. Exit 11: wrong parent; 12: not reaped.
  expect_status "$mode-orphans" 0 $run -- sh -c '
    . /lib/vm/lib.sh
    ps=""
    for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
      p=$(sh -c "sleep 2 >/dev/null 2>&1 & echo \$!")
      ps="$ps $p"
      wait_until 10 parent_is "$p" "$PPID" || { echo "orphan $p has parent $(ppid_of "$p"), not reaper $PPID"; exit 11; }
    done
    wait_until 60 gone $ps || { echo "not reaped: $ps"; exit 12; }'
  # A signal sent to reaper reaches PROGRAM.
  expect_status "$mode-forward-USR1" 42 $run -- sh -c 'trap "exit 42" USR1; kill -USR1 $PPID; i=0; while [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done; exit 1'
  expect_status "$mode-forward-TERM" 43 $run -- sh -c 'trap "exit 43" TERM; kill -TERM $PPID; i=0; while [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done; exit 1'
  # The drain: PROGRAM exits 5 leaving a process that ignores SIGTERM and one that does not; reaper
  # must wait out the 1 s grace period, SIGKILL the first and exit 5 (timeout would give 143). The
  # lower bound on the time proves the grace period was kept (the kernel alone would kill the PID
  # namespace at once when its PID 1 exits).
  t0=$(cut -d' ' -f1 /proc/uptime)
  # PROGRAM exits only once the first has set its trap (it writes its pid after): a SIGTERM arriving
  # before that would kill it, and the drain would have nothing to wait for.
  : >/tmp/drain.pids
  timeout 120 $run -t 1s -- sh -c '
    sh -c "trap \"\" TERM; echo \$\$ >>/tmp/drain.pids; while :; do sleep 1; done" >/dev/null 2>&1 &
    sleep 1000 >/dev/null 2>&1 &
    echo $! >>/tmp/drain.pids
    while [ "$(wc -l </tmp/drain.pids)" -lt 2 ]; do sleep 0.05; done
    exit 5' </dev/null >/tmp/out 2>&1
  st=$?
  ms=$(awk -v a="$t0" -v b="$(cut -d' ' -f1 /proc/uptime)" 'BEGIN { printf "%d", (b - a) * 1000 }')
  if [ "$st" = 5 ] && [ "$ms" -ge 1000 ]; then ok "$mode-drain" "status=5 ms=$ms"; else fail "$mode-drain" "status=$st (want 5) ms=$ms (want >= 1000) $(head -c 200 /tmp/out)"; fi
  if [ "$mode" = subreaper ]; then
    left=$(cat /tmp/drain.pids)
    # shellcheck disable=SC2046
    if [ "$(echo $left | wc -w)" = 2 ] && wait_until 30 gone $left; then ok subreaper-drain-left-nothing; else fail subreaper-drain-left-nothing "pids: $left"; fi
  fi
done

# --- zombies on the live /proc: a parent that never waits (sh exec'd into sleep) holds one zombie.
sh -c 'sleep 0 & exec sleep 1000' </dev/null >/dev/null 2>&1 &
holder=$!
zombie=""
has_zombie_child() {
  zombie=$(tr -d ' ' 2>/dev/null <"/proc/$holder/task/$holder/children")
  [ -n "$zombie" ] && [ "$(state_of "$zombie")" = Z ]
}
if wait_until 30 has_zombie_child; then
  # --transient-age 0: one brand-new zombie counts as a leak at once (by default a single zombie at
  # most 5 s old is transient: its parent may be about to reap it).
  zombies --json --transient-age 0 >/tmp/z.json 2>/tmp/z.err
  st=$?
  if [ "$st" = 0 ] && grep -q '^  "zombie_count": 1,' /tmp/z.json && grep -q "\"pid\": $holder," /tmp/z.json && grep -q "\"pid\": $zombie," /tmp/z.json; then
    ok zombies-live-finds "zombie=$zombie parent=$holder"
  else
    fail zombies-live-finds "status=$st zombie=$zombie parent=$holder $(grep -m1 zombie_count /tmp/z.json) $(head -c 200 /tmp/z.err)"
  fi
else
  fail zombies-live-finds "no zombie child of $holder appeared"
fi
expect_status zombies-check-unhealthy 1 zombies check --max-zombies 0 --transient-age 0
kill "$holder"
wait "$holder" 2>/dev/null
# The zombie is reparented to PID 1 (reaper), which reaps it.
if wait_until 30 gone "$zombie"; then ok zombies-live-reaped; else fail zombies-live-reaped "zombie $zombie still there"; fi
expect_status zombies-check-healthy 0 zombies check --max-zombies 0 --transient-age 0

if wait_until 30 no_zombies; then ok no-zombies-at-end; else fail no-zombies-at-end "$(zombie_count) zombies"; fi
