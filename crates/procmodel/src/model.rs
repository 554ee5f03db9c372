//! The data of a scan: [`Snapshot`] and what it holds ([`Process`], [`ZombieGroup`],
//! [`CgroupPids`], [`NodeBudget`], [`ReadErrors`], pod and container names), with the queries
//! on it (ages, ancestry, groups by parent).
//!
//! Data flows one way: [`scan`](mod@crate::scan) fills a [`Snapshot`], [`crate::accounting`]
//! and [`crate::pids`] count into its types, [`crate::diagnose`], [`crate::tracker`] and
//! [`crate::naming`] read them; this module itself depends only on the leaves
//! ([`crate::cgroup`], [`crate::parse`], [`crate::fsread`]).

use crate::cgroup::{self, Attribution, CgroupLine, Runtime};
use crate::fsread;
use crate::parse::ExitStatus;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::io;
use std::path::Path;
use std::time::SystemTime;

/// One thread group (process) as read in the scan.
#[derive(Debug, Clone, Serialize)]
pub struct Process {
    /// pid in the namespace of the procfs that was read.
    pub pid: i32,
    /// Parent pid (0 when the parent is outside that namespace).
    pub ppid: i32,
    /// State letter from stat (`Z` for the leader of a zombie *or* of an exited leader with live
    /// threads; see [`Process::is_zombie`]).
    #[serde(serialize_with = "ser_char")]
    pub state: u8,
    /// Command name bytes (may be non-UTF-8).
    #[serde(serialize_with = "ser_bytes")]
    pub comm: Vec<u8>,
    /// Process group.
    pub pgrp: i32,
    /// Session id.
    pub session: i32,
    /// Threads in the group (kernel count, the zombie leader included).
    pub num_threads: u64,
    /// Start time, clock ticks since boot.
    pub start_ticks: u64,
    /// Raw waitpid-style exit status from stat field 52 (0 when not ptrace-readable).
    pub exit_code: Option<i32>,
    /// Owner of `/proc/PID` (the effective uid; root for non-dumpable live processes), read
    /// for zombies only. Replaced by the real uid from `status` when details were read; `None`
    /// for processes that are neither.
    pub uid: Option<u32>,
    /// The leader is in state Z but other threads of the group are alive: not a zombie.
    pub exited_leader: bool,
    /// `NSpid:` from status (reader's namespace first, innermost last), when details were read.
    pub nspid: Option<Vec<i32>>,
    /// `SigCgt:` mask, when details were read.
    pub sig_cgt: Option<u64>,
    /// `SigIgn:` mask, when details were read.
    pub sig_ign: Option<u64>,
    /// All lines of `/proc/PID/cgroup`, when details were read.
    pub cgroups: Option<Vec<CgroupLine>>,
    /// Attribution of the preferred cgroup line, when details were read.
    pub attribution: Option<Attribution>,
    /// The zombie's own cgroup lines all read `/` (cgroup v1 without a v2 path), so `cgroups`
    /// and `attribution` were copied from its live parent, whose container it almost always
    /// shares.
    pub cgroup_from_parent: bool,
    /// Command line arguments, read only for live parents of zombies and conmon/shim ancestors.
    #[serde(serialize_with = "ser_args")]
    pub cmdline: Option<Vec<Vec<u8>>>,
    /// For a zombie: when it last ran, i.e. exited (`se.exec_start` of `/proc/PID/sched`, in
    /// milliseconds of the scheduler clock), when the kernel shows it.
    pub exit_sched_ms: Option<f64>,
    /// For a live parent of zombies: the kernel function it sleeps in (`/proc/PID/wchan`);
    /// `do_wait` means it is blocked in `wait()` and so reaps.
    #[serde(serialize_with = "ser_opt_bytes")]
    pub wchan: Option<Vec<u8>>,
}

fn ser_char<S: serde::Serializer>(c: &u8, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&(*c as char).to_string())
}
fn ser_bytes<S: serde::Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&String::from_utf8_lossy(b))
}
fn ser_opt_bytes<S: serde::Serializer>(b: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
    match b {
        None => s.serialize_none(),
        Some(b) => s.serialize_str(&String::from_utf8_lossy(b)),
    }
}
fn ser_args<S: serde::Serializer>(a: &Option<Vec<Vec<u8>>>, s: S) -> Result<S::Ok, S::Error> {
    match a {
        None => s.serialize_none(),
        Some(v) => s.collect_seq(v.iter().map(|x| String::from_utf8_lossy(x))),
    }
}

impl Process {
    /// A zombie: a thread-group leader in state Z with no live threads.
    pub fn is_zombie(&self) -> bool {
        self.state == b'Z' && !self.exited_leader
    }

    /// comm as text (non-UTF-8 bytes replaced, control characters escaped).
    pub fn name(&self) -> String {
        printable(&self.comm)
    }

    /// The pid in the process's innermost PID namespace, when `NSpid` was read.
    pub fn ns_pid(&self) -> Option<i32> {
        self.nspid.as_ref().and_then(|v| v.last().copied())
    }

    /// Whether it is PID 1 of a PID namespace nested below the reader's (a container's init).
    /// `None` when `NSpid` was not read.
    pub fn is_container_init(&self) -> Option<bool> {
        self.nspid
            .as_ref()
            .map(|v| v.len() > 1 && v.last() == Some(&1))
    }

    /// Whether it is PID 1 of its own namespace (nested or the reader's).
    pub fn is_ns_init(&self) -> bool {
        match &self.nspid {
            Some(v) => v.last() == Some(&1),
            None => self.pid == 1,
        }
    }

    /// The preferred cgroup line's path (see [`cgroup::preferred_line`]).
    pub fn cgroup_path(&self) -> Option<&str> {
        self.cgroups
            .as_deref()
            .and_then(cgroup::preferred_line)
            .map(|l| l.path.as_str())
    }

    /// Decoded exit status, if the kernel printed one.
    pub fn exit_status(&self) -> Option<ExitStatus> {
        self.exit_code.map(ExitStatus::from_raw)
    }

    /// Whether the parent has a SIGCHLD handler (`SigCgt` bit 16), when status was read.
    pub fn handles_sigchld(&self) -> Option<bool> {
        self.sig_cgt.map(|m| m & (1 << 16) != 0)
    }

    /// Command line joined with spaces (lossy), when it was read and non-empty.
    pub fn cmdline_text(&self) -> Option<String> {
        let c = self.cmdline.as_ref()?;
        if c.iter().all(Vec::is_empty) {
            return None;
        }
        Some(c.iter().map(|a| printable(a)).collect::<Vec<_>>().join(" "))
    }
}

/// Escapes control characters (`\n`, `\u{1b}`) and the backslash itself (`\\`), and
/// replaces invalid UTF-8, so a name is safe to print on one line and cannot pass for another:
/// a process named `a\nb` (backslash, `n`) prints as `a\\nb`, one with a newline as `a\nb`.
pub fn printable(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == '\\' {
            out.push_str("\\\\");
        } else if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Counts of `/proc` entries that could not be read. Vanished processes are normal and counted
/// separately from real failures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReadErrors {
    /// Processes that exited between listing and reading (ENOENT/ESRCH): normal.
    pub vanished: u64,
    /// Reads refused (EACCES/EPERM), e.g. when unprivileged or under `hidepid`.
    pub permission_denied: u64,
    /// Other failures, including unparsable files.
    pub other: u64,
    /// Up to 16 examples `path: error` of the failures (not of vanished processes).
    pub examples: Vec<String>,
}

impl ReadErrors {
    /// Permission-denied plus other failures (vanished not included).
    pub fn failures(&self) -> u64 {
        self.permission_denied + self.other
    }

    pub(crate) fn record(&mut self, path: &Path, err: &io::Error) {
        match err.raw_os_error() {
            Some(libc::ENOENT) | Some(libc::ESRCH) => self.vanished += 1,
            Some(libc::EACCES) | Some(libc::EPERM) => {
                self.permission_denied += 1;
                self.example(path, err);
            }
            _ => {
                self.other += 1;
                self.example(path, err);
            }
        }
    }

    pub(crate) fn example(&mut self, path: &Path, err: &dyn fmt::Display) {
        if self.examples.len() < 16 {
            self.examples.push(format!("{}: {}", path.display(), err));
        }
    }
}

/// Node-wide PID budget.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NodeBudget {
    /// `/proc/sys/kernel/pid_max`.
    pub pid_max: Option<u64>,
    /// `/proc/sys/kernel/threads-max`.
    pub threads_max: Option<u64>,
    /// min(pid_max, threads-max): the node's task limit.
    pub limit: Option<u64>,
    /// Task total from `/proc/loadavg` (every thread on the node, zombies included; what
    /// kubelet's `pid.available` uses).
    pub loadavg_tasks: Option<u64>,
    /// Sum of `num_threads` over the scanned processes (what this reader can see).
    pub scanned_tasks: u64,
    /// Number of zombies in the scan.
    pub zombies: u64,
}

impl NodeBudget {
    /// A budget with the node's task limits read under `proc_root` (`kernel.pid_max`,
    /// `kernel.threads-max` and their minimum); the task counts are left at zero/`None`.
    pub fn read_limits(proc_root: &Path) -> NodeBudget {
        let pid_max = fsread::read_u64(&proc_root.join("sys/kernel/pid_max"));
        let threads_max = fsread::read_u64(&proc_root.join("sys/kernel/threads-max"));
        NodeBudget {
            pid_max,
            threads_max,
            limit: match (pid_max, threads_max) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
            ..NodeBudget::default()
        }
    }

    /// The task count used against the limit: loadavg's when available, else the scan's.
    pub fn tasks(&self) -> u64 {
        self.loadavg_tasks.unwrap_or(self.scanned_tasks)
    }

    /// tasks / limit.
    pub fn usage_ratio(&self) -> Option<f64> {
        self.limit
            .filter(|&l| l > 0)
            .map(|l| self.tasks() as f64 / l as f64)
    }
}

/// cgroup version of a pids counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CgroupVersion {
    /// v1 `pids` hierarchy.
    V1,
    /// v2 (unified) hierarchy.
    V2,
}

/// What a cgroup scope is, by its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScopeKind {
    /// A container (or its conmon).
    Container,
    /// A Kubernetes pod.
    Pod,
    /// Anything else (kubepods, a slice, a service...).
    Other,
}

/// `pids.current`/`pids.max` of one cgroup that holds zombies (or is an ancestor of one).
#[derive(Debug, Clone, Serialize)]
pub struct CgroupPids {
    /// Path relative to the hierarchy root, as in `/proc/PID/cgroup`.
    pub path: String,
    /// Hierarchy.
    pub version: CgroupVersion,
    /// Kind of scope.
    pub kind: ScopeKind,
    /// `pids.current` (includes zombies), `None` if unreadable.
    pub current: Option<u64>,
    /// `pids.max`; `None` for `max` (unlimited) or unreadable (see `readable`).
    pub max: Option<u64>,
    /// The `max N` count of `pids.events`: forks refused at the limit.
    pub events_max: Option<u64>,
    /// The counters could be read.
    pub readable: bool,
    /// Zombies in this cgroup and its descendants, from the scan.
    pub zombies: u64,
    /// Attribution of the path.
    pub attribution: Attribution,
}

impl CgroupPids {
    /// current / max, when both are known.
    pub fn usage_ratio(&self) -> Option<f64> {
        match (self.current, self.max) {
            (Some(c), Some(m)) if m > 0 => Some(c as f64 / m as f64),
            _ => None,
        }
    }
}

/// Pod identity from kubelet's log directories or CRI-O conmon's command line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PodRef {
    /// Namespace.
    pub namespace: String,
    /// Pod name.
    pub name: String,
}

/// Zombies grouped by the parent that should reap them.
#[derive(Debug, Clone, Serialize)]
pub struct ZombieGroup {
    /// Parent pid (reader's namespace); 0 when the parent is outside it.
    pub parent: i32,
    /// Zombie pids, ascending.
    pub zombies: Vec<i32>,
}

/// The result of one scan.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    /// Wall-clock time of the scan.
    #[serde(serialize_with = "ser_time")]
    pub taken_at: SystemTime,
    /// Seconds since boot at the scan (`/proc/uptime`), if readable.
    pub uptime_seconds: Option<f64>,
    /// `btime` from `/proc/stat` (boot time, Unix seconds), if readable.
    pub boot_time: Option<u64>,
    /// Clock ticks per second used for `start_ticks`.
    pub clock_ticks: u64,
    /// Effective uid of the reader.
    pub reader_euid: u32,
    /// Every process, sorted by pid.
    pub processes: Vec<Process>,
    /// Pids of zombies, ascending.
    pub zombies: Vec<i32>,
    /// Node-wide PID budget.
    pub budget: NodeBudget,
    /// pids counters of cgroups holding zombies, and their ancestors, sorted by path.
    pub cgroups: Vec<CgroupPids>,
    /// Pods known from the log root and conmon, by UID.
    pub pods: BTreeMap<String, PodRef>,
    /// What could not be read.
    pub errors: ReadErrors,
    /// The reader's own `se.exec_start` at the end of the scan (`<proc root>/thread-self/sched`):
    /// "now" on the scheduler clock, against which zombies' exit times are measured.
    pub sched_now_ms: Option<f64>,
    /// Names of the containers holding zombies or their parents, by container id (see
    /// [`crate::naming`]).
    pub containers: BTreeMap<String, ContainerName>,
    #[serde(skip)]
    pub(crate) index: HashMap<i32, usize>,
}

fn ser_time<S: serde::Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(unix_seconds(*t))
}

/// Seconds since the Unix epoch (negative before it).
pub fn unix_seconds(t: SystemTime) -> f64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

impl Snapshot {
    /// The process with this pid.
    pub fn process(&self, pid: i32) -> Option<&Process> {
        self.index.get(&pid).map(|&i| &self.processes[i])
    }

    /// Zombie processes, by pid.
    pub fn zombie_processes(&self) -> impl Iterator<Item = &Process> {
        self.zombies.iter().filter_map(|&p| self.process(p))
    }

    /// Zombies grouped by parent, the parents holding most zombies first.
    pub fn zombie_groups(&self) -> Vec<ZombieGroup> {
        let mut by: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
        for z in self.zombie_processes() {
            by.entry(z.ppid).or_default().push(z.pid);
        }
        let mut groups: Vec<ZombieGroup> = by
            .into_iter()
            .map(|(parent, zombies)| ZombieGroup { parent, zombies })
            .collect();
        groups.sort_by(|a, b| {
            b.zombies
                .len()
                .cmp(&a.zombies.len())
                .then(a.parent.cmp(&b.parent))
        });
        groups
    }

    /// The chain from `pid` (included) up to the root (PID 1 or a process whose parent is not
    /// visible). Stops on loops.
    pub fn ancestry(&self, pid: i32) -> Vec<&Process> {
        let mut out = Vec::new();
        let mut seen = BTreeSet::new();
        let mut cur = self.process(pid);
        while let Some(p) = cur {
            if !seen.insert(p.pid) {
                break;
            }
            out.push(p);
            if p.ppid == 0 || p.pid == p.ppid {
                break;
            }
            cur = self.process(p.ppid);
        }
        out
    }

    /// Seconds since the process started (an upper bound on how long a zombie has been one).
    pub fn age_seconds(&self, p: &Process) -> Option<f64> {
        let started = p.start_ticks as f64 / self.clock_ticks.max(1) as f64;
        if let Some(up) = self.uptime_seconds {
            return Some((up - started).max(0.0));
        }
        let btime = self.boot_time? as f64;
        Some((unix_seconds(self.taken_at) - btime - started).max(0.0))
    }

    /// Start time as Unix seconds, when the boot time is known.
    pub fn started_at(&self, p: &Process) -> Option<f64> {
        let started = p.start_ticks as f64 / self.clock_ticks.max(1) as f64;
        if let Some(up) = self.uptime_seconds {
            return Some(unix_seconds(self.taken_at) - up + started);
        }
        Some(self.boot_time? as f64 + started)
    }

    /// How long `p` has been a zombie, and where the figure comes from: exact from its exit time
    /// ([`TimeSource::ExitTime`]) when the kernel shows it, else the upper bound of its start
    /// time ([`TimeSource::StartTime`]).
    pub fn zombie_age(&self, p: &Process) -> Option<(f64, TimeSource)> {
        if let (Some(now), Some(exit)) = (self.sched_now_ms, p.exit_sched_ms) {
            let age = (now - exit) / 1000.0;
            // The two clocks are the same one; a negative or absurd figure means they are not.
            if (0.0..=self.uptime_seconds.unwrap_or(f64::MAX)).contains(&age) {
                return Some((age, TimeSource::ExitTime));
            }
            if (-1.0..0.0).contains(&age) {
                return Some((0.0, TimeSource::ExitTime));
            }
        }
        self.age_seconds(p).map(|a| (a, TimeSource::StartTime))
    }

    /// When `p` became a zombie (Unix seconds): its exit time when known, else its start time
    /// (the arrival of a short-lived process such as an exec probe's orphan).
    pub fn arrival_time(&self, p: &Process) -> Option<(f64, TimeSource)> {
        let now = unix_seconds(self.taken_at);
        match self.zombie_age(p)? {
            (age, TimeSource::ExitTime) => Some((now - age, TimeSource::ExitTime)),
            _ => self.started_at(p).map(|t| (t, TimeSource::StartTime)),
        }
    }

    /// The runtime's name of the container an attribution points at, when found.
    pub fn container_name(&self, a: &Attribution) -> Option<&ContainerName> {
        self.containers.get(a.container_id.as_deref()?)
    }

    /// Pod name for an attribution, from the log root or conmon.
    pub fn pod_of(&self, a: &Attribution) -> Option<&PodRef> {
        self.pods.get(a.pod_uid.as_deref()?)
    }

    /// Whether the exit status shown for `p` is real: the kernel prints 0 unless the reader may
    /// ptrace-read the process (root, or same uid).
    pub fn exit_code_reliable(&self, p: &Process) -> bool {
        self.reader_euid == 0 || p.uid == Some(self.reader_euid)
    }

    /// The pids counters of the cgroup `path` (v1 `pids` hierarchy preferred).
    pub fn cgroup(&self, path: &str) -> Option<&CgroupPids> {
        self.cgroups
            .iter()
            .find(|c| c.path == path && c.version == CgroupVersion::V1)
            .or_else(|| self.cgroups.iter().find(|c| c.path == path))
    }
}

/// Where a container name was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NameSource {
    /// conmon's `-n` argument.
    ConmonArgs,
    /// podman's `containers.json`.
    PodmanState,
    /// Docker's `config.v2.json`.
    DockerState,
    /// The OCI bundle's annotations written by containerd's or CRI-O's CRI.
    CriState,
    /// kubelet's log symlinks or the pod's only log directory.
    PodLogs,
}

/// A container's name and, for Kubernetes, its pod.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerName {
    /// The name the runtime shows (`podman ps`, `docker ps`, the pod spec's container name).
    pub name: String,
    /// The Kubernetes pod, when the source names it.
    pub pod: Option<PodRef>,
    /// Where the name came from.
    pub source: NameSource,
    /// The runtime the source belongs to, when it tells (a bare id in a cgroupfs path does not).
    pub runtime: Option<Runtime>,
}

/// Where the time of a zombie's arrival (when it became a zombie) comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeSource {
    /// The scheduler's last run of the task (`se.exec_start` of `/proc/PID/sched`), calibrated
    /// against the reader's own thread in the same scan: the moment it exited, to the
    /// millisecond.
    ExitTime,
    /// Its start time (stat field 22): an upper bound on its age as a zombie, and its arrival
    /// when it lived briefly (an exec probe's orphan).
    StartTime,
    /// Zombies first seen by successive scans of `watch` or `serve` (arrivals observed live).
    Observed,
}

impl TimeSource {
    /// Stable snake_case name (as in JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            TimeSource::ExitTime => "exit_time",
            TimeSource::StartTime => "start_time",
            TimeSource::Observed => "observed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_escapes_controls_and_backslashes() {
        assert_eq!(printable(b"a\\nb"), "a\\\\nb");
        assert_eq!(printable(b"a\nb"), "a\\nb");
        assert_ne!(printable(b"a\\nb"), printable(b"a\nb"));
        assert_eq!(printable(b"\x1b[31m\xff"), "\\u{1b}[31m\u{fffd}");
        assert_eq!(printable("naïve ok".as_bytes()), "naïve ok");
    }
}
