//! The scanner: one pass over a `/proc` root, then details for the few processes that matter.
//!
//! # Why hand-written
//!
//! `procfs-core` 0.18 was considered. Its `Stat` decodes the command name with
//! `String::from_utf8_lossy` (non-UTF-8 names are replaced, so two distinct names can collide)
//! and its `Status` parser reads UTF-8 lines (a non-UTF-8 `Name:` fails the whole file). The
//! issue requires comm as bytes, so the parsers here are hand-written ([`crate::parse`]).
//! Reading is hand-written too, to control syscalls: the hot path does exactly
//! `openat` + `read` + `close` of `/proc/PID/stat` per process (3 syscalls), into one reused
//! fixed buffer that is also the bound ([`crate::fsread`]: `O_NONBLOCK | O_NOFOLLOW`, at most
//! [`fsread::STAT_MAX`] bytes, regular files only). From 4,096 processes on, the `stat` files
//! are read by up to 4 threads (the available CPUs), each over a contiguous range of pids, so a
//! large node is scanned in a fraction of the wall time at the same system calls per process.
//! Figures: `scripts/bench-scan.sh`.
//!
//! Every other file (status, cgroup, cmdline, loadavg, the `pids.*` counters...) is read through
//! [`crate::fsread`] too, each capped at what the kernel can write for it: a crafted tree
//! (a FIFO, a link to `/dev/zero`, a huge file) yields a read error for that entry, never a hang
//! or an unbounded allocation.
//!
//! `status`, `cgroup` and `cmdline` are read only for zombies, the ancestors of zombies and
//! (cmdline) the parents of zombies that are not themselves in state Z or D, unless
//! [`Detail::All`] is asked for.

use crate::accounting;
use crate::cgroup::{self, Attribution, CgroupLine};
use crate::fsread;
use crate::naming::{self, ContainerName};
use crate::parse::{self, ExitStatus};
use crate::tracker::{self, TimeSource};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::CString;
use std::fmt;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// How much to read beyond `/proc/PID/stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Detail {
    /// `stat` only (plus the task check of Z leaders with several threads).
    Minimal,
    /// Also `status` and `cgroup` of zombies and all their ancestors, `cmdline` of the live
    /// parents of zombies and of conmon/shim ancestors, and the pids counters of the cgroups
    /// holding zombies. The default.
    #[default]
    Zombies,
    /// `status` and `cgroup` of every process (slower: 3 more files per process).
    All,
}

/// Where to read from. All roots are parameters so tests can point at temporary trees.
#[derive(Debug, Clone)]
pub struct ScanConfig {
    /// procfs root, default `/proc`.
    pub proc_root: PathBuf,
    /// cgroup filesystem root, default `/sys/fs/cgroup` (v1 controllers as subdirectories,
    /// hybrid v2 under `unified/`, or pure v2 at the root).
    pub sys_root: PathBuf,
    /// kubelet pod log root, default `/var/log/pods`; `None` disables pod name lookup.
    pub pods_log_root: Option<PathBuf>,
    /// How much to read.
    pub detail: Detail,
    /// Root under which the container runtimes' state is read to name containers (podman's
    /// `containers.json`, Docker's `config.v2.json`, the CRI's bundle annotations; see
    /// [`crate::naming`]), default `/`; `None` names containers from conmon's arguments and
    /// kubelet's logs only.
    pub state_root: Option<PathBuf>,
}

impl Default for ScanConfig {
    fn default() -> Self {
        ScanConfig {
            proc_root: PathBuf::from("/proc"),
            sys_root: PathBuf::from("/sys/fs/cgroup"),
            pods_log_root: Some(PathBuf::from("/var/log/pods")),
            detail: Detail::Zombies,
            state_root: Some(PathBuf::from("/")),
        }
    }
}

/// A fatal scan error: the `/proc` root itself could not be listed.
#[derive(Debug)]
pub struct ScanError {
    /// The path that failed.
    pub path: PathBuf,
    /// The OS error.
    pub source: io::Error,
}

impl fmt::Display for ScanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot list {}: {} (is procfs mounted there? pass --proc-root to point at it)",
            self.path.display(),
            self.source
        )
    }
}

impl std::error::Error for ScanError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

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

    fn example(&mut self, path: &Path, err: &dyn fmt::Display) {
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
    index: HashMap<i32, usize>,
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

/// Scans with [`ScanConfig::default`] (`/proc`, `/sys/fs/cgroup`, `/var/log/pods`).
pub fn scan_default() -> Result<Snapshot, ScanError> {
    scan(&ScanConfig::default())
}

struct ProcDir {
    fd: libc::c_int,
}

impl Drop for ProcDir {
    fn drop(&mut self) {
        // SAFETY: fd was returned by open() and is closed once.
        unsafe { libc::close(self.fd) };
    }
}

fn cpath(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

/// Reads `dir/<pid>/stat` with openat+read+close into `buf` (see [`fsread::read_at`]);
/// returns the length.
fn read_stat_at(dirfd: libc::c_int, pid: i32, buf: &mut Vec<u8>) -> io::Result<usize> {
    let mut name = [0u8; 32];
    let s = format_pid_stat(pid, &mut name);
    let name = std::ffi::CStr::from_bytes_with_nul(s)
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    fsread::read_at(dirfd, name, buf, fsread::STAT_FIRST, fsread::STAT_MAX)
}

/// The owner of `dir/<pid>` (one `fstatat`), read for zombies only.
fn owner_at(dirfd: libc::c_int, pid: i32) -> Option<u32> {
    let name = CString::new(pid.to_string()).ok()?;
    // SAFETY: a zeroed stat is a valid out-parameter.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: NUL-terminated name relative to an open directory fd, valid out pointer.
    let r = unsafe { libc::fstatat(dirfd, name.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) };
    (r == 0).then_some(st.st_uid)
}

fn format_pid_stat(pid: i32, out: &mut [u8; 32]) -> &[u8] {
    let mut digits = [0u8; 12];
    let mut n = pid.unsigned_abs();
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let d = &digits[i..];
    out[..d.len()].copy_from_slice(d);
    out[d.len()..d.len() + 6].copy_from_slice(b"/stat\0");
    &out[..d.len() + 6]
}

/// Pod names by UID from kubelet's log directories `<root>/<namespace>_<pod>_<uid>`.
pub fn pods_from_log_root(root: &Path) -> BTreeMap<String, PodRef> {
    let mut pods = BTreeMap::new();
    if let Ok(rd) = std::fs::read_dir(root) {
        for e in rd.flatten() {
            if let Some((ns, name, uid)) =
                cgroup::parse_pod_log_dir(&e.file_name().to_string_lossy())
            {
                pods.insert(
                    uid,
                    PodRef {
                        namespace: ns,
                        name,
                    },
                );
            }
        }
    }
    pods
}

/// Scans `/proc` (and the cgroup and pod-log roots) once.
///
/// Never fails because of a single process: vanished processes and unreadable files are counted
/// in [`Snapshot::errors`]. Fails only when the `/proc` root cannot be listed.
pub fn scan(cfg: &ScanConfig) -> Result<Snapshot, ScanError> {
    let taken_at = SystemTime::now();
    let proc_root = &cfg.proc_root;
    let fail = |source| ScanError {
        path: proc_root.clone(),
        source,
    };
    let dir_c = cpath(proc_root).map_err(fail)?;
    // SAFETY: NUL-terminated path.
    let fd = unsafe {
        libc::open(
            dir_c.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(fail(io::Error::last_os_error()));
    }
    let dir = ProcDir { fd };
    let mut pids: Vec<i32> = Vec::with_capacity(4096);
    for entry in std::fs::read_dir(proc_root).map_err(fail)? {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name();
        let b = name.as_bytes();
        if !b.is_empty() && b.iter().all(u8::is_ascii_digit) {
            if let Ok(p) = std::str::from_utf8(b).unwrap_or("").parse() {
                pids.push(p);
            }
        }
    }
    pids.sort_unstable();

    let (mut processes, mut errors) = read_all_stats(dir.fd, &pids, proc_root);
    // The owner decides whether a zombie's exit status is real (see
    // `Snapshot::exit_code_reliable`): read it for the few zombies, not for every process.
    for p in processes.iter_mut().filter(|p| p.state == b'Z') {
        p.uid = owner_at(dir.fd, p.pid);
    }
    drop(dir);

    // A Z leader with several threads: alive if any other task is not Z/X.
    for p in processes.iter_mut() {
        if p.state == b'Z' && p.num_threads > 1 {
            p.exited_leader = has_live_thread(proc_root, p.pid, &mut errors);
        }
    }

    let index: HashMap<i32, usize> = processes
        .iter()
        .enumerate()
        .map(|(i, p)| (p.pid, i))
        .collect();
    let zombies: Vec<i32> = processes
        .iter()
        .filter(|p| p.is_zombie())
        .map(|p| p.pid)
        .collect();

    // Details: zombies and their ancestors (or everyone).
    let mut detail_set: BTreeSet<i32> = BTreeSet::new();
    let mut cmdline_set: BTreeSet<i32> = BTreeSet::new();
    match cfg.detail {
        Detail::Minimal => {}
        Detail::All => detail_set.extend(processes.iter().map(|p| p.pid)),
        Detail::Zombies => {
            for &z in &zombies {
                let mut cur = Some(z);
                while let Some(pid) = cur {
                    if !detail_set.insert(pid) {
                        break;
                    }
                    cur = index
                        .get(&pid)
                        .map(|&i| processes[i].ppid)
                        .filter(|&pp| pp != 0 && pp != pid);
                }
                if let Some(&i) = index.get(&z) {
                    cmdline_set.insert(processes[i].ppid);
                }
            }
        }
    }
    if cfg.detail != Detail::Minimal {
        for &pid in &detail_set {
            // A parent may be missing (exited, or outside this PID namespace).
            let Some(&i) = index.get(&pid) else { continue };
            let p = &mut processes[i];
            let status_path = proc_root.join(format!("{pid}/status"));
            match fsread::read(&status_path, fsread::STATUS_MAX) {
                Ok(b) => {
                    let st = parse::parse_status(&b);
                    p.nspid = st.nspid;
                    p.sig_cgt = st.sig_cgt;
                    p.sig_ign = st.sig_ign;
                    if st.uid.is_some() {
                        p.uid = st.uid;
                    }
                }
                Err(e) => errors.record(&status_path, &e),
            }
            let cg_path = proc_root.join(format!("{pid}/cgroup"));
            match fsread::read(&cg_path, fsread::CGROUP_MAX) {
                Ok(b) => {
                    let lines = cgroup::parse_cgroup_file(&b);
                    p.attribution = cgroup::preferred_line(&lines).map(|l| {
                        let mut a = cgroup::attribute(&l.path);
                        a.deleted |= l.deleted;
                        a
                    });
                    p.cgroups = Some(lines);
                }
                Err(e) => errors.record(&cg_path, &e),
            }
            if p.is_zombie() {
                // One small file per zombie: its exit time (absent without scheduler debug).
                p.exit_sched_ms =
                    fsread::read(&proc_root.join(format!("{pid}/sched")), fsread::STATUS_MAX)
                        .ok()
                        .and_then(|b| tracker::sched_exec_start_ms(&b));
            }
            let is_runtime = p.comm == b"conmon" || p.comm.starts_with(b"containerd-shim");
            if is_runtime {
                cmdline_set.insert(pid);
            }
        }
        // Zombies whose cgroup lines are all '/' (v1-only hosts): take the live parent's.
        for &z in &zombies {
            let zi = index[&z];
            let rootish = processes[zi]
                .cgroups
                .as_deref()
                .is_none_or(|l| l.iter().all(|l| l.path == "/"));
            let Some(&pi) = index.get(&processes[zi].ppid) else {
                continue;
            };
            let parent = &processes[pi];
            if rootish && !parent.is_zombie() && parent.cgroup_path().is_some_and(|p| p != "/") {
                let (cg, at) = (parent.cgroups.clone(), parent.attribution.clone());
                let zp = &mut processes[zi];
                zp.cgroups = cg;
                zp.attribution = at;
                zp.cgroup_from_parent = true;
            }
        }
        for &pid in &cmdline_set {
            let Some(&i) = index.get(&pid) else { continue };
            let p = &mut processes[i];
            // Never read cmdline of Z or D tasks: it is empty for zombies and can block for D.
            if matches!(p.state, b'Z' | b'D' | b'X') {
                continue;
            }
            let path = proc_root.join(format!("{pid}/cmdline"));
            match fsread::read(&path, fsread::CMDLINE_MAX) {
                Ok(b) => p.cmdline = Some(parse::split_cmdline(&b)),
                Err(e) => errors.record(&path, &e),
            }
            // Where it sleeps: `do_wait` is a parent blocked in wait() (no handler needed).
            p.wchan = fsread::read(&proc_root.join(format!("{pid}/wchan")), fsread::LINE_MAX)
                .ok()
                .map(|b| b.trim_ascii().to_vec());
        }
    }

    // Pods: kubelet log directories, then conmon command lines.
    let mut pods = cfg
        .pods_log_root
        .as_deref()
        .map(pods_from_log_root)
        .unwrap_or_default();
    for p in &processes {
        if let Some((_, pod, ns, uid)) = p.cmdline.as_deref().and_then(cgroup::conmon_pod_from_args)
        {
            pods.entry(uid).or_insert(PodRef {
                namespace: ns,
                name: pod,
            });
        }
    }

    let budget = NodeBudget {
        loadavg_tasks: fsread::read(&proc_root.join("loadavg"), fsread::LINE_MAX)
            .ok()
            .and_then(|b| parse::loadavg_tasks(&b)),
        scanned_tasks: processes.iter().map(|p| p.num_threads.max(1)).sum(),
        zombies: zombies.len() as u64,
        ..NodeBudget::read_limits(proc_root)
    };

    let uptime_seconds = fsread::read_string(&proc_root.join("uptime"), fsread::LINE_MAX)
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok());
    let boot_time = fsread::read_string(&proc_root.join("stat"), fsread::PROC_STAT_MAX)
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("btime ")?.trim().parse().ok())
        });
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    // SAFETY: geteuid has no preconditions.
    let reader_euid = unsafe { libc::geteuid() };

    // Containers of the zombies and their ancestors, named as their runtime shows them.
    let containers = {
        let mut wanted: Vec<naming::Wanted<'_>> = Vec::new();
        for p in &processes {
            let Some(a) = &p.attribution else { continue };
            let Some(id) = a.container_id.as_deref() else {
                continue;
            };
            if !wanted.iter().any(|w| w.id == id) {
                wanted.push(naming::Wanted {
                    id,
                    runtime: a.runtime,
                    pod_uid: a.pod_uid.as_deref(),
                });
            }
        }
        let conmons: Vec<&[Vec<u8>]> = processes
            .iter()
            .filter(|p| p.comm == b"conmon")
            .filter_map(|p| p.cmdline.as_deref())
            .collect();
        // A dockerd with its own data root keeps its containers' names there: read the command
        // lines of the (few) dockerd processes when a container may be Docker's.
        let dockerish = wanted.iter().any(|w| {
            matches!(
                w.runtime,
                Some(crate::cgroup::Runtime::Docker)
                    | Some(crate::cgroup::Runtime::ContainerdOrDocker)
            )
        });
        let docker_roots: Vec<String> = if dockerish {
            processes
                .iter()
                .filter(|p| p.comm == b"dockerd" && !matches!(p.state, b'Z' | b'D' | b'X'))
                .filter_map(|p| {
                    let path = proc_root.join(format!("{}/cmdline", p.pid));
                    fsread::read(&path, fsread::CMDLINE_MAX).ok()
                })
                .filter_map(|b| naming::docker_data_root(&parse::split_cmdline(&b)))
                .collect()
        } else {
            Vec::new()
        };
        naming::resolve_with(
            &wanted,
            &conmons,
            &docker_roots,
            cfg.state_root
                .as_deref()
                .unwrap_or(Path::new("/nonexistent")),
            cfg.pods_log_root.as_deref(),
        )
    };
    let sched_now_ms = if zombies.is_empty() {
        None
    } else {
        fsread::read(&proc_root.join("thread-self/sched"), fsread::STATUS_MAX)
            .ok()
            .and_then(|b| tracker::sched_exec_start_ms(&b))
    };

    let mut snap = Snapshot {
        sched_now_ms,
        containers,
        taken_at,
        uptime_seconds,
        boot_time,
        clock_ticks: if ticks > 0 { ticks as u64 } else { 100 },
        reader_euid,
        processes,
        zombies,
        budget,
        cgroups: Vec::new(),
        pods,
        errors,
        index,
    };
    snap.cgroups = read_cgroup_pids(&snap, &cfg.sys_root);
    Ok(snap)
}

/// Below this many processes the scan reads `stat` files on one thread.
const PARALLEL_MIN: usize = 4096;

/// Reads and parses `<pid>/stat` for every pid (ascending), on up to 4 threads when there are
/// many (each thread takes a contiguous range, so the result stays sorted by pid). Each file
/// costs `openat` + `read` + `close` whatever the thread count.
fn read_all_stats(
    dirfd: libc::c_int,
    pids: &[i32],
    proc_root: &Path,
) -> (Vec<Process>, ReadErrors) {
    let threads = if pids.len() >= PARALLEL_MIN {
        std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
    } else {
        1
    };
    if threads <= 1 {
        return read_stats(dirfd, pids, proc_root, process_of);
    }
    // The threads keep the parsed fields only (a third of a `Process`): the peak memory of the
    // merge stays near that of a one-thread scan.
    let chunk = pids.len().div_ceil(threads);
    let parts: Vec<(Vec<parse::StatFields>, ReadErrors)> = std::thread::scope(|s| {
        let handles: Vec<_> = pids
            .chunks(chunk)
            .map(|c| s.spawn(move || read_stats(dirfd, c, proc_root, |s| s)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    let mut processes = Vec::with_capacity(pids.len());
    let mut errors = ReadErrors::default();
    for (p, e) in parts {
        processes.extend(p.into_iter().map(process_of));
        errors.vanished += e.vanished;
        errors.permission_denied += e.permission_denied;
        errors.other += e.other;
        for ex in e.examples {
            if errors.examples.len() < 16 {
                errors.examples.push(ex);
            }
        }
    }
    (processes, errors)
}

/// A process as the scan first knows it: from its `stat` alone.
fn process_of(s: parse::StatFields) -> Process {
    Process {
        pid: s.pid,
        ppid: s.ppid,
        state: s.state,
        comm: s.comm,
        pgrp: s.pgrp,
        session: s.session,
        num_threads: s.num_threads,
        start_ticks: s.start_ticks,
        exit_code: s.exit_code,
        uid: None,
        exited_leader: false,
        nspid: None,
        sig_cgt: None,
        sig_ign: None,
        cgroups: None,
        attribution: None,
        cgroup_from_parent: false,
        cmdline: None,
        exit_sched_ms: None,
        wchan: None,
    }
}

/// Reads and parses `<pid>/stat` of each of `pids`, keeping `make(fields)` of each; the pid of
/// the directory is kept whatever the file says.
fn read_stats<T>(
    dirfd: libc::c_int,
    pids: &[i32],
    proc_root: &Path,
    make: impl Fn(parse::StatFields) -> T,
) -> (Vec<T>, ReadErrors) {
    let mut errors = ReadErrors::default();
    let mut out = Vec::with_capacity(pids.len());
    let mut buf = vec![0u8; fsread::STAT_FIRST];
    for &pid in pids {
        match read_stat_at(dirfd, pid, &mut buf) {
            Ok(len) => match parse::parse_stat(&buf[..len]) {
                Ok(s) => out.push(make(parse::StatFields { pid, ..s })),
                Err(e) => {
                    errors.other += 1;
                    errors.example(&proc_root.join(format!("{pid}/stat")), &e);
                }
            },
            Err(e) => errors.record(&proc_root.join(format!("{pid}/stat")), &e),
        }
    }
    (out, errors)
}

fn has_live_thread(proc_root: &Path, pid: i32, errors: &mut ReadErrors) -> bool {
    let task_dir = proc_root.join(format!("{pid}/task"));
    let Ok(rd) = std::fs::read_dir(&task_dir) else {
        return false;
    };
    for e in rd.flatten() {
        let name = e.file_name();
        if name.to_str().and_then(|s| s.parse::<i32>().ok()) == Some(pid) {
            continue;
        }
        let path = e.path().join("stat");
        match fsread::read(&path, fsread::STAT_MAX) {
            Ok(b) => {
                if let Ok(s) = parse::parse_stat(&b) {
                    if !matches!(s.state, b'Z' | b'X' | b'x') {
                        return true;
                    }
                }
            }
            Err(e) => {
                if !matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ESRCH)) {
                    errors.record(&path, &e);
                }
            }
        }
    }
    false
}

/// A cgroup's `pids.current` and `pids.max`, as read from its directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PidsCounters {
    /// `pids.current`; `None` if unreadable.
    pub current: Option<u64>,
    /// `pids.max`; `None` for `max` (unlimited) or unreadable.
    pub max: Option<u64>,
    /// Both files could be read (`pids.max` reading `max` counts as read).
    pub readable: bool,
}

impl PidsCounters {
    /// Reads `pids.current` and `pids.max` in cgroup directory `dir`.
    pub fn read(dir: &Path) -> Self {
        Self::with_current(dir, fsread::read_u64(&dir.join("pids.current")))
    }

    /// Reads only `pids.max` in `dir`, with `current` already known (e.g. the smaller of the
    /// accounting walk's reads, [`crate::accounting::CgroupCount::current`]).
    pub fn with_current(dir: &Path, current: Option<u64>) -> Self {
        let max_raw = fsread::read_string(&dir.join("pids.max"), fsread::LINE_MAX).ok();
        PidsCounters {
            current,
            readable: current.is_some() && max_raw.is_some(),
            max: max_raw.and_then(|s| s.trim().parse().ok()),
        }
    }
}

fn read_cgroup_pids(snap: &Snapshot, sys_root: &Path) -> Vec<CgroupPids> {
    let layout = accounting::pids_layout(sys_root, accounting::PidsProbe::Mounted);
    // (version, path) -> zombies in subtree
    let mut scopes: BTreeMap<(String, u8), u64> = BTreeMap::new();
    for z in snap.zombie_processes() {
        let Some(lines) = &z.cgroups else { continue };
        let Some(best) = cgroup::preferred_line(lines) else {
            continue;
        };
        let v1_pids = lines
            .iter()
            .find(|l| l.controllers.iter().any(|c| c == "pids"));
        // The v1 pids line of a zombie reads '/', but its charge stays in its container's
        // cgroup: use the best path in the v1 pids hierarchy when that directory exists.
        let ver = match (v1_pids, &layout.v1) {
            (Some(l), _) if l.path != "/" => 1u8,
            (Some(_), Some(v1)) if v1.join(best.path.trim_start_matches('/')).is_dir() => 1,
            (Some(_), _) if layout.v2.is_none() => 1,
            _ => 2,
        };
        let line_path = if ver == 1 {
            v1_pids
                .filter(|l| l.path != "/")
                .unwrap_or(best)
                .path
                .as_str()
        } else {
            best.path.as_str()
        };
        // Paths outside our cgroup namespace ('/..') cannot be resolved under sys_root.
        if line_path.starts_with("/..") {
            continue;
        }
        let mut path = line_path.trim_end_matches('/').to_string();
        loop {
            if path.is_empty() {
                break;
            }
            *scopes.entry((path.clone(), ver)).or_default() += 1;
            match path.rfind('/') {
                Some(i) => path.truncate(i),
                None => break,
            }
        }
    }
    let mut out = Vec::new();
    for ((path, ver), zombies) in scopes {
        let (version, base) = if ver == 1 {
            (CgroupVersion::V1, &layout.v1)
        } else {
            (CgroupVersion::V2, &layout.v2)
        };
        let attribution = cgroup::attribute(&path);
        let kind = if attribution.container_id.is_some() {
            ScopeKind::Container
        } else if cgroup::pod_cgroup(&path).as_deref() == Some(path.as_str()) {
            ScopeKind::Pod
        } else {
            ScopeKind::Other
        };
        let (mut pids, mut events_max) = (PidsCounters::default(), None);
        if let Some(base) = base {
            let dir = base.join(path.trim_start_matches('/'));
            pids = PidsCounters::read(&dir);
            events_max = fsread::read_string(&dir.join("pids.events"), fsread::LINE_MAX)
                .ok()
                .and_then(|s| {
                    s.lines()
                        .find_map(|l| l.strip_prefix("max ")?.trim().parse().ok())
                });
        }
        out.push(CgroupPids {
            path,
            version,
            kind,
            current: pids.current,
            max: pids.max,
            events_max,
            readable: pids.readable,
            zombies,
            attribution,
        });
    }
    out
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

    /// A tree large enough for the threaded read: every process found, in pid order, the
    /// hostile entries spread over the threads' ranges counted once each.
    #[test]
    fn threaded_read_keeps_order_and_counts() {
        let root = std::env::temp_dir().join(format!("procmodel-threads-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let n = PARALLEL_MIN as i32 + 1000;
        for pid in 1..=n {
            let d = root.join(pid.to_string());
            std::fs::create_dir_all(&d).unwrap();
            if pid % 1000 == 0 {
                std::os::unix::fs::symlink("/dev/zero", d.join("stat")).unwrap();
                continue;
            }
            let state = if pid % 777 == 0 { 'Z' } else { 'S' };
            std::fs::write(
                d.join("stat"),
                format!(
                    "{pid} (p{pid}) {state} 1 {pid} {pid} 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5{} 0\n",
                    " 0".repeat(29)
                ),
            )
            .unwrap();
        }
        let snap = scan(&ScanConfig {
            proc_root: root.clone(),
            sys_root: root.join("nosys"),
            pods_log_root: None,
            detail: Detail::Minimal,
            state_root: None,
        })
        .unwrap();
        let bad = (n / 1000) as usize;
        assert_eq!(snap.processes.len(), n as usize - bad);
        assert!(snap.processes.windows(2).all(|w| w[0].pid < w[1].pid));
        assert_eq!(snap.errors.other, bad as u64);
        assert_eq!(snap.errors.examples.len(), bad.min(16));
        let zombies = (1..=n).filter(|p| p % 777 == 0 && p % 1000 != 0).count();
        assert_eq!(snap.zombies.len(), zombies);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn pid_path_format() {
        let mut b = [0u8; 32];
        assert_eq!(format_pid_stat(1, &mut b), b"1/stat\0");
        assert_eq!(format_pid_stat(4194304, &mut b), b"4194304/stat\0");
    }
}
