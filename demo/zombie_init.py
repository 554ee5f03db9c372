#!/usr/bin/env python3
"""The workload of incident 1 (docs/incidents.md), made deterministic.

Like the incident's test.py it starts a process that exits and that nobody waits for, prints
`The zombie pid will be: N`, then prints the process table (PID STAT COMMAND, ps-style).

The incident's script left its own child unwaited. This one leaves an ORPHAN instead, the case a PID 1
exists for: it forks an intermediate process that forks the grandchild and exits at once; the workload
waits for the intermediate (so the intermediate never lingers), and the grandchild, now parentless, is
re-parented by the kernel to PID 1 of the namespace, then exits. Whether it stays a zombie is then up to
PID 1 alone:
  - when this script is PID 1, nothing ever waits for it: it stays `Z <defunct>` with PPID 1;
  - under an init that reaps (reaper), it disappears.

The process table is read from /proc directly, so no `ps` is needed (and none shows up in the table).
Standard library only. Exit status: 0 when the table was printed, 1 on an unexpected failure.
"""

import os
import signal
import sys
import time

# The grandchild's name in the process table and in reaper's log (comm is at most 15 bytes).
ORPHAN_NAME = "orphan-child"
# How long the grandchild lives after being orphaned: long enough that it dies as PID 1's child,
# short enough that the demo stays quick.
ORPHAN_LIFE_S = 0.2
# How long we give PID 1 to collect the dead grandchild before we print the table.
REAP_GRACE_S = 1.0
DEADLINE_S = 10.0


def say(*a, **kw):
    # flush: stdout is a pipe under the demo script, and lines must interleave with reaper's stderr.
    print(*a, flush=True, **kw)


def read_stat(pid):
    """(state, ppid, sid, comm) of /proc/PID/stat, or None when the process is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read().decode("utf-8", "replace")
    except (FileNotFoundError, ProcessLookupError):
        return None
    # comm may contain spaces and parentheses: it runs from the first '(' to the LAST ')'.
    lp, rp = raw.index("("), raw.rindex(")")
    comm = raw[lp + 1 : rp]
    fields = raw[rp + 2 :].split()
    state, ppid, sid = fields[0], int(fields[1]), int(fields[3])
    return state, ppid, sid, comm


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            raw = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return ""
    return " ".join(p.decode("utf-8", "replace") for p in raw.split(b"\0") if p)


def process_table():
    """ps-style lines `PID PPID STAT COMMAND` for every process of this PID namespace."""
    rows = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        pid = int(name)
        st = read_stat(pid)
        if st is None:
            continue  # exited while we were listing
        state, ppid, sid, comm = st
        stat = state + ("s" if sid == pid else "")  # ps marks session leaders with 's'
        cmd = cmdline(pid)
        if state == "Z" or not cmd:
            # A zombie has no memory left, so no command line: ps shows [comm] <defunct>.
            cmd = f"[{comm}]" + (" <defunct>" if state == "Z" else "")
        rows.append((pid, ppid, stat, cmd))
    rows.sort()
    out = [f"{'PID':>5} {'PPID':>5} {'STAT':<4} COMMAND"]
    out += [f"{pid:>5} {ppid:>5} {stat:<4} {cmd}" for pid, ppid, stat, cmd in rows]
    return "\n".join(out)


def set_comm(name):
    # Writing our own /proc/self/comm renames this process (what prctl(PR_SET_NAME) does), stdlib only.
    try:
        with open("/proc/self/comm", "w") as f:
            f.write(name)
    except OSError:
        pass  # only the name in the table changes


def grandchild(ready_w, orphaned_r):
    """Tell the workload our pid, wait to be orphaned, live a little, exit without being waited for."""
    set_comm(ORPHAN_NAME)
    os.write(ready_w, f"{os.getpid()}\n".encode())
    os.close(ready_w)
    # EOF on this pipe means the intermediate (its only other writer) has exited: we are an orphan now,
    # re-parented to PID 1 (or to the nearest subreaper).
    while os.read(orphaned_r, 1):
        pass
    time.sleep(ORPHAN_LIFE_S)
    os._exit(0)


def main():
    # A SIGCHLD ignored by whoever started us would be inherited across exec and make the kernel reap
    # our children by itself: restore the default so the demo shows what a plain program does.
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)

    ready_r, ready_w = os.pipe()
    orphaned_r, orphaned_w = os.pipe()
    intermediate = os.fork()
    if intermediate == 0:
        os.close(ready_r)
        if os.fork() == 0:
            os.close(orphaned_w)  # only the intermediate keeps the write end
            grandchild(ready_w, orphaned_r)
        os._exit(0)  # the intermediate exits at once, never waiting for the grandchild
    os.close(ready_w)
    os.close(orphaned_w)
    os.close(orphaned_r)

    line = b""
    while not line.endswith(b"\n"):
        chunk = os.read(ready_r, 64)
        if not chunk:
            say("zombie_init: the grandchild did not report its pid", file=sys.stderr)
            return 1
        line += chunk
    os.close(ready_r)
    zpid = int(line)
    # We wait for our own child, the intermediate: so the only process left unwaited is the orphan.
    os.waitpid(intermediate, 0)
    say(f"The zombie pid will be: {zpid}")

    # Poll until the grandchild has exited (zombie or already reaped), then give PID 1 a moment to reap it.
    deadline = time.monotonic() + DEADLINE_S
    while True:
        st = read_stat(zpid)
        if st is None or st[0] == "Z":
            break
        if time.monotonic() > deadline:
            say(f"zombie_init: pid {zpid} still running after {DEADLINE_S:.0f} s", file=sys.stderr)
            return 1
        time.sleep(0.01)
    grace = time.monotonic() + REAP_GRACE_S
    while read_stat(zpid) is not None and time.monotonic() < grace:
        time.sleep(0.01)

    say(process_table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
