# shellcheck shell=dash
# Sourced by the suites of scripts/vm/suites/ inside the test VM: result lines and small helpers over
# busybox (ash: `local` works). Results go to the serial console as `VMTEST ok|FAIL NAME [DETAIL]` (see guest/init.sh).

ok() { echo "VMTEST ok $*"; }
fail() {
  local name
  name=$1
  shift
  echo "VMTEST FAIL $name $*"
}

# expect_status NAME WANT CMD...: runs CMD (stdin from /dev/null, output to /tmp/out), passes when
# its exit status is WANT.
expect_status() {
  local name want got
  name=$1 want=$2
  shift 2
  "$@" </dev/null >/tmp/out 2>&1
  got=$?
  if [ "$got" = "$want" ]; then ok "$name" "status=$got"; else fail "$name" "status=$got want=$want output=$(head -c 300 /tmp/out | tr '\n' '|')"; fi
}

# state_of PID / ppid_of PID: fields of /proc/PID/stat after the command name (which may hold
# spaces and parentheses: everything up to the last ") " is skipped). Empty when PID is gone.
stat_fields() {
  local s
  s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  echo "${s##*) }"
}
state_of() { stat_fields "$1" | cut -d' ' -f1; }
ppid_of() { stat_fields "$1" | cut -d' ' -f2; }

# zombie_count: zombies visible in /proc now.
zombie_count() {
  local n f s
  n=0
  for f in /proc/[0-9]*/stat; do
    s=$(cat "$f" 2>/dev/null) || continue
    case "${s##*) }" in Z*) n=$((n + 1)) ;; esac
  done
  echo "$n"
}

# wait_until SECONDS CMD...: runs CMD until it succeeds, 0.1 s apart, at most SECONDS*10 times (so at
# least SECONDS: longer on a loaded emulator, never a false failure for being slow). CMD's arguments
# are expanded once, by the caller: a condition that must be re-read is a function.
wait_until() {
  local limit i
  limit=$(($1 * 10))
  shift
  i=0
  until "$@"; do
    i=$((i + 1))
    [ "$i" -ge "$limit" ] && return 1
    sleep 0.1
  done
}
# parent_is PID WANT: PID's parent is WANT (or PID is gone). A process's parent changes only once its
# old parent has finished exiting, after that parent's pipes are closed: callers poll with wait_until.
parent_is() {
  local pp
  pp=$(ppid_of "$1")
  [ -z "$pp" ] || [ "$pp" = "$2" ]
}
no_zombies() { [ "$(zombie_count)" = 0 ]; }
gone() {
  local p
  for p in "$@"; do [ -e "/proc/$p" ] && return 1; done
  return 0
}
