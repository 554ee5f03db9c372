//! Exact zombie statistics from the kernel's trace events (tracefs), for one orphan storm.
//!
//! Events recorded in a private tracefs instance:
//! * `signal_generate` of SIGCHLD to PID 1: a grandchild's exit, i.e. a zombie is born;
//! * the marker line `E <pid>` a grandchild writes just before it exits: its pid as PID 1 sees it
//!   (the trace shows host pids, wait4 returns namespace pids);
//! * `sys_exit_wait4` of PID 1: a zombie is reaped (the return value is its pid);
//! * `raw_syscalls/sys_enter` of PID 1: every system call PID 1 makes.

use crate::stats::Summary;
use crate::sys;
use std::collections::HashMap;
use std::fs;

const TRACEFS: &str = "/sys/kernel/tracing";

/// A tracefs instance of our own, removed on drop.
pub struct Instance {
    dir: String,
}

fn write(path: &str, value: &str) -> Result<(), String> {
    fs::write(path, value).map_err(|e| format!("writing '{value}' to {path}: {e}"))
}

impl Instance {
    /// Creates the instance with `buffer_kb` per CPU; mounts tracefs first if needed.
    pub fn new(buffer_kb: u64) -> Result<Instance, String> {
        if fs::metadata(format!("{TRACEFS}/instances")).is_err() {
            sys::mount_tracefs(TRACEFS).map_err(|e| {
                format!(
                    "tracefs is not mounted at {TRACEFS} and mounting it failed ({e}): run as root \
                     on a kernel with tracing, or mount it (mount -t tracefs nodev {TRACEFS})"
                )
            })?;
        }
        let dir = format!("{TRACEFS}/instances/reaper-bench-{}", std::process::id());
        fs::create_dir(&dir).map_err(|e| format!("creating the trace instance {dir}: {e}"))?;
        let inst = Instance { dir };
        inst.set("trace_clock", "mono")?;
        inst.set("buffer_size_kb", &buffer_kb.to_string())?;
        Ok(inst)
    }

    fn set(&self, file: &str, value: &str) -> Result<(), String> {
        write(&format!("{}/{file}", self.dir), value)
    }

    /// The marker file the workload writes to.
    pub fn marker(&self) -> String {
        format!("{}/trace_marker", self.dir)
    }

    /// Starts recording the events of PID 1 (`pid`, host pid).
    pub fn arm(&self, pid: i32) -> Result<(), String> {
        let own = format!("common_pid == {pid}");
        self.set(
            "events/signal/signal_generate/filter",
            &format!("sig == {} && pid == {pid}", libc::SIGCHLD),
        )?;
        self.set("events/syscalls/sys_exit_wait4/filter", &own)?;
        self.set("events/raw_syscalls/sys_enter/filter", &own)?;
        // Marker lines (ftrace/print) are always recorded: that event cannot be switched.
        for ev in [
            "signal/signal_generate",
            "syscalls/sys_exit_wait4",
            "raw_syscalls/sys_enter",
        ] {
            self.set(&format!("events/{ev}/enable"), "1").map_err(|e| {
                format!("{e} (the kernel needs CONFIG_FTRACE_SYSCALLS for the syscall events)")
            })?;
        }
        self.set("tracing_on", "1")
    }

    /// Starts recording every CPU's scheduler switches and wake-ups, and the SIGTERMs sent: where
    /// each hop of a forwarded signal ran.
    pub fn arm_sched(&self) -> Result<(), String> {
        self.set(
            "events/signal/signal_generate/filter",
            &format!("sig == {}", libc::SIGTERM),
        )?;
        for ev in [
            "signal/signal_generate",
            "sched/sched_switch",
            "sched/sched_wakeup",
        ] {
            self.set(&format!("events/{ev}/enable"), "1")?;
        }
        self.set("tracing_on", "1")
    }

    /// Stops recording and returns the trace text.
    pub fn stop(&self) -> Result<String, String> {
        self.set("tracing_on", "0")?;
        let _ = self.set("events/enable", "0");
        let path = format!("{}/trace", self.dir);
        fs::read_to_string(&path).map_err(|e| format!("reading {path}: {e}"))
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.set("tracing_on", "0");
        let _ = self.set("events/enable", "0");
        let _ = fs::remove_dir(&self.dir);
    }
}

/// What one traced storm shows.
#[derive(Debug, Default)]
pub struct Stats {
    /// Events the buffer kept and the kernel wrote: a difference means the buffer overflowed.
    pub entries: u64,
    /// See `entries`.
    pub written: u64,
    /// wait4 calls of PID 1 that returned a pid.
    pub reaps: u64,
    /// Reaps matched to a grandchild's exit.
    pub matched: u64,
    /// Most zombies outstanding at once.
    pub max_zombies: u64,
    /// Zombie lifetimes (SIGCHLD generated to wait4 returned), ns.
    pub life: Summary,
    /// Every system call PID 1 made, and per syscall number.
    pub syscalls: u64,
    /// Count per syscall number.
    pub by_nr: HashMap<u64, u64>,
}

/// Splits one trace line into (pid of the task, timestamp ns, event text).
fn split_line(line: &str) -> Option<(i32, u64, &str)> {
    split_full(line).map(|l| (l.pid, l.t, l.event))
}

/// One trace line, taken apart.
struct TraceLine<'a> {
    pid: i32,
    cpu: u32,
    flags: &'a str,
    t: u64,
    event: &'a str,
}

fn split_full(line: &str) -> Option<TraceLine<'_>> {
    // `<comm>-<pid>  [<cpu>] <flags> <secs.micros>: <event>: <details>`; comm may hold spaces.
    let open = line.find(" [")?;
    let pid = line[..open].trim_end().rsplit_once('-')?.1.parse().ok()?;
    let rest = &line[open + 2..];
    let close = rest.find("] ")?;
    let cpu = rest[..close].parse().ok()?;
    let rest = &rest[close + 2..];
    let mut fields = rest.trim_start().splitn(2, ' ');
    let flags = fields.next()?;
    let rest = fields.next()?.trim_start();
    let colon = rest.find(": ")?;
    let secs: f64 = rest[..colon].parse().ok()?;
    Some(TraceLine {
        pid,
        cpu,
        flags,
        t: (secs * 1e9).round() as u64,
        event: &rest[colon + 2..],
    })
}

/// Parses the text of a trace recorded by [`Instance::arm`].
pub fn parse(text: &str) -> Stats {
    let mut s = Stats::default();
    let mut ns_pid: HashMap<i32, u64> = HashMap::new(); // host pid -> namespace pid
    let mut born: HashMap<u64, u64> = HashMap::new(); // namespace pid -> SIGCHLD time
    let mut life = Vec::new();
    for line in text.lines() {
        if let Some(h) = line.strip_prefix('#') {
            if let Some(v) = h.split("entries-in-buffer/entries-written:").nth(1) {
                let v = v.split_whitespace().next().unwrap_or("");
                if let Some((a, b)) = v.split_once('/') {
                    s.entries = a.parse().unwrap_or(0);
                    s.written = b.parse().unwrap_or(0);
                }
            }
            continue;
        }
        let Some((pid, t, ev)) = split_line(line) else {
            continue;
        };
        if let Some(p) = ev.strip_prefix("tracing_mark_write: E ") {
            if let Ok(p) = p.trim().parse() {
                ns_pid.insert(pid, p);
            }
        } else if ev.starts_with("signal_generate:") {
            if let Some(p) = ns_pid.remove(&pid) {
                born.insert(p, t);
                s.max_zombies = s.max_zombies.max(born.len() as u64);
            }
        } else if let Some(r) = ev
            .strip_prefix("sys_wait4 -> 0x")
            .or_else(|| ev.strip_prefix("sys_wait4->0x"))
        {
            let ret = u64::from_str_radix(r.trim(), 16).unwrap_or(0);
            // A negative errno prints as a huge hex number: not a reap.
            if ret > 0 && ret < 1 << 31 {
                s.reaps += 1;
                if let Some(b) = born.remove(&ret) {
                    s.matched += 1;
                    life.push(t.saturating_sub(b));
                }
            }
        } else if let Some(nr) = ev.strip_prefix("sys_enter: NR ") {
            s.syscalls += 1;
            let nr = nr
                .split(' ')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(u64::MAX);
            *s.by_nr.entry(nr).or_default() += 1;
        }
    }
    s.life = Summary::new(life);
    s
}

/// Where the hops of forwarded signals ran: sender `kill`s PID 1, PID 1 runs, PID 1 `kill`s its
/// child, the child runs.
#[derive(Debug, Default)]
pub struct SchedStats {
    /// Signals followed from the sender to the child.
    pub trials: u64,
    /// PID 1 ran on the CPU the sender was on.
    pub init_on_sender_cpu: u64,
    /// The child ran on the CPU PID 1 forwarded from.
    pub child_on_init_cpu: u64,
    /// The wake-up of the child set need-resched on PID 1's CPU: the child preempted PID 1.
    pub child_preempted_init: u64,
    /// Sender's kill to PID 1 running, ns.
    pub hop1: Summary,
    /// PID 1 running to its kill of the child, ns.
    pub init_work: Summary,
    /// PID 1's kill to the child running, when the child ran on PID 1's CPU, ns.
    pub hop2_same: Summary,
    /// The same, when the child ran on the other CPU, ns.
    pub hop2_other: Summary,
}

/// Parses a trace recorded by [`Instance::arm_sched`] while `sender` signalled PID 1 (`init`, host
/// pids).
pub fn parse_sched(text: &str, sender: i32, init: i32) -> SchedStats {
    #[derive(Default, Clone, Copy)]
    struct Trial {
        t0: u64,
        sender_cpu: u32,
        init_run: Option<(u64, u32)>,
        kill: Option<(u64, u32, bool)>,
        child_run: Option<(u64, u32)>,
    }
    let field = |ev: &str, key: &str| -> Option<i32> {
        ev.split(' ')
            .find_map(|f| f.strip_prefix(key))
            .and_then(|v| v.parse().ok())
    };
    let mut child = None;
    let mut trials: Vec<Trial> = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some(l) = split_full(line) else {
            continue;
        };
        if l.event.starts_with("signal_generate:") {
            let to = field(l.event, "pid=");
            if l.pid == sender && to == Some(init) {
                trials.push(Trial {
                    t0: l.t,
                    sender_cpu: l.cpu,
                    ..Trial::default()
                });
            } else if l.pid == init {
                child = child.or(to);
                if let Some(tr) = trials.last_mut().filter(|tr| tr.init_run.is_some()) {
                    if to == child && tr.kill.is_none() {
                        tr.kill = Some((l.t, l.cpu, l.flags.contains('N')));
                    }
                }
            }
        } else if let Some(sw) = l.event.strip_prefix("sched_switch: ") {
            let Some(next) = sw
                .rsplit_once("next_pid=")
                .and_then(|(_, n)| n.split(' ').next().and_then(|n| n.parse::<i32>().ok()))
            else {
                continue;
            };
            let Some(tr) = trials.last_mut() else {
                continue;
            };
            if next == init && tr.init_run.is_none() {
                tr.init_run = Some((l.t, l.cpu));
            } else if Some(next) == child && tr.kill.is_some() && tr.child_run.is_none() {
                tr.child_run = Some((l.t, l.cpu));
            }
        }
    }
    let mut s = SchedStats::default();
    let (mut hop1, mut work, mut same, mut other) = (vec![], vec![], vec![], vec![]);
    for tr in &trials {
        let (Some((t1, icpu)), Some((t2, kcpu, preempt)), Some((t3, ccpu))) =
            (tr.init_run, tr.kill, tr.child_run)
        else {
            continue;
        };
        s.trials += 1;
        s.init_on_sender_cpu += u64::from(icpu == tr.sender_cpu);
        s.child_preempted_init += u64::from(preempt);
        hop1.push(t1.saturating_sub(tr.t0));
        work.push(t2.saturating_sub(t1));
        if ccpu == kcpu {
            s.child_on_init_cpu += 1;
            same.push(t3.saturating_sub(t2));
        } else {
            other.push(t3.saturating_sub(t2));
        }
    }
    s.hop1 = Summary::new(hop1);
    s.init_work = Summary::new(work);
    s.hop2_same = Summary::new(same);
    s.hop2_other = Summary::new(other);
    s
}

/// The name of an x86_64 system call number PID 1s commonly make (else `nrN`).
pub fn syscall_name(nr: u64) -> String {
    let known = if cfg!(target_arch = "x86_64") {
        match nr {
            0 => "read",
            1 => "write",
            7 => "poll",
            13 => "rt_sigaction",
            14 => "rt_sigprocmask",
            15 => "rt_sigreturn",
            34 => "pause",
            61 => "wait4",
            62 => "kill",
            128 => "rt_sigtimedwait",
            130 => "rt_sigsuspend",
            232 => "epoll_wait",
            247 => "waitid",
            271 => "ppoll",
            281 => "epoll_pwait",
            _ => "",
        }
    } else {
        ""
    };
    if known.is_empty() {
        format!("nr{nr}")
    } else {
        known.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE: &str = "\
# tracer: nop
#
# entries-in-buffer/entries-written: 9/9   #P:2
#
       reaper-bench-501     [001] ..... 100.000001: tracing_mark_write: E 7
       reaper-bench-501     [001] d..2. 100.000010: signal_generate: sig=17 errno=0 code=1 comm=reaper pid=400 grp=1 res=0
    opt cgu.00-502     [000] ..... 100.000011: tracing_mark_write: E 8
    opt cgu.00-502     [000] d..2. 100.000012: signal_generate: sig=17 errno=0 code=1 comm=reaper pid=400 grp=1 res=0
           reaper-400     [000] ..... 100.000020: sys_enter: NR 61 (ffffffff, 0, 40000000, 0, 0, 0)
           reaper-400     [000] ..... 100.000030: sys_wait4 -> 0x7
           reaper-400     [000] ..... 100.000031: sys_enter: NR 61 (ffffffff, 0, 40000000, 0, 0, 0)
           reaper-400     [000] ..... 100.000052: sys_wait4 -> 0x8
           reaper-400     [000] ..... 100.000053: sys_wait4 -> 0xfffffffffffffff6
";

    #[test]
    fn parses_lifetimes_peaks_and_syscalls() {
        let s = parse(TRACE);
        assert_eq!((s.entries, s.written), (9, 9));
        assert_eq!(
            (s.reaps, s.matched, s.max_zombies, s.syscalls),
            (2, 2, 2, 2)
        );
        assert_eq!(s.by_nr.get(&61), Some(&2));
        assert_eq!(s.life.pct(0.0), 20_000); // pid 7: 100.000010 -> 100.000030
        assert_eq!(s.life.max(), 40_000); // pid 8: 100.000012 -> 100.000052
    }

    const SCHED: &str = "\
    bench-10     [000] d..3. 5.000000: sched_wakeup: comm=reaper pid=20 prio=120 target_cpu=000
    bench-10     [000] d..1. 5.000001: signal_generate: sig=15 errno=0 code=0 comm=reaper pid=20 grp=1 res=0
    bench-10     [000] d..2. 5.000003: sched_switch: prev_comm=bench prev_pid=10 prev_prio=120 prev_state=S ==> next_comm=reaper next_pid=20 next_prio=120
   reaper-20     [000] dN.1. 5.000010: signal_generate: sig=15 errno=0 code=0 comm=app pid=21 grp=1 res=0
   reaper-20     [000] d..2. 5.000011: sched_switch: prev_comm=reaper prev_pid=20 prev_prio=120 prev_state=R ==> next_comm=app next_pid=21 next_prio=120
    bench-10     [001] d..1. 5.001000: signal_generate: sig=15 errno=0 code=0 comm=reaper pid=20 grp=1 res=0
    bench-10     [001] d..2. 5.001004: sched_switch: prev_comm=bench prev_pid=10 prev_prio=120 prev_state=S ==> next_comm=reaper next_pid=20 next_prio=120
   reaper-20     [001] d..1. 5.001010: signal_generate: sig=15 errno=0 code=0 comm=app pid=21 grp=1 res=0
   <idle>-0       [000] d..2. 5.001090: sched_switch: prev_comm=swapper/0 prev_pid=0 prev_prio=120 prev_state=R ==> next_comm=app next_pid=21 next_prio=120
";

    #[test]
    fn follows_each_hop_of_a_forwarded_signal() {
        let s = parse_sched(SCHED, 10, 20);
        assert_eq!(s.trials, 2);
        assert_eq!(
            (
                s.init_on_sender_cpu,
                s.child_on_init_cpu,
                s.child_preempted_init
            ),
            (2, 1, 1)
        );
        assert_eq!((s.hop1.pct(0.0), s.hop1.max()), (2_000, 4_000));
        assert_eq!(s.init_work.pct(0.5), 7_000);
        assert_eq!(s.hop2_same.pct(0.5), 1_000);
        assert_eq!(s.hop2_other.pct(0.5), 80_000);
    }

    #[test]
    fn line_with_spaces_in_comm() {
        let (pid, t, ev) =
            split_line("    opt cgu.00-502     [000] d..2. 7.5: sched_switch: x").unwrap();
        assert_eq!((pid, t, ev), (502, 7_500_000_000, "sched_switch: x"));
    }
}
