//! The scanner: one pass over a `/proc` root, then details for the few processes that matter.
//!
//! # Why hand-written
//!
//! `procfs-core` 0.18 was considered. Its `Stat` decodes the command name with
//! `String::from_utf8_lossy` (non-UTF-8 names are replaced, so two distinct names can collide)
//! and its `Status` parser reads UTF-8 lines (a non-UTF-8 `Name:` fails the whole file). A
//! command name must stay bytes, so the parsers here are hand-written ([`crate::parse`]).
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

use crate::cgroup::{self, Runtime};
use crate::fsread;
use crate::model::{ContainerName, NodeBudget, PodRef, Process, ReadErrors, Snapshot};
use crate::naming;
use crate::parse;
use crate::pids;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::CString;
use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
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

/// Reads `dir/<pid>/stat` with openat+read+close into `buf` (see [`fsread::read_at`]);
/// returns the length.
fn read_stat_at(dir: BorrowedFd<'_>, pid: i32, buf: &mut Vec<u8>) -> io::Result<usize> {
    let mut name = [0u8; 32];
    let s = format_pid_stat(pid, &mut name);
    let name = std::ffi::CStr::from_bytes_with_nul(s)
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    fsread::read_at(dir, name, buf, fsread::STAT_FIRST, fsread::STAT_MAX)
}

/// The owner of `dir/<pid>` (one `fstatat`), read for zombies only.
fn owner_at(dir: BorrowedFd<'_>, pid: i32) -> Option<u32> {
    let name = CString::new(pid.to_string()).ok()?;
    // SAFETY: a zeroed stat is a valid out-parameter.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: NUL-terminated name relative to a directory descriptor open for the whole call,
    // valid out pointer.
    let r = unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            name.as_ptr(),
            &mut st,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
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
///
/// The phases, in order: every process's `stat` (`read_processes`), the liveness of zombie
/// leaders with threads, the details of the processes that matter (`read_details`), pods,
/// the node's budget and clocks, container names, and last the pids counters of the cgroups
/// holding zombies.
pub fn scan(cfg: &ScanConfig) -> Result<Snapshot, ScanError> {
    let taken_at = SystemTime::now();
    let proc_root = &cfg.proc_root;
    let (mut processes, mut errors) = read_processes(proc_root).map_err(|source| ScanError {
        path: proc_root.clone(),
        source,
    })?;
    mark_exited_leaders(proc_root, &mut processes, &mut errors);
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
    if cfg.detail != Detail::Minimal {
        let table = Table {
            processes: &mut processes,
            index: &index,
        };
        read_details(proc_root, cfg.detail, table, &zombies, &mut errors);
    }
    let pods = pods_of(cfg, &processes);
    let budget = node_budget(proc_root, &processes, zombies.len());
    let clock = Clock::read(proc_root);
    let containers = name_containers(cfg, &processes);
    // "Now" on the scheduler clock, read last so that every zombie's exit time is before it.
    let sched_now_ms = if zombies.is_empty() {
        None
    } else {
        fsread::read(&proc_root.join("thread-self/sched"), fsread::STATUS_MAX)
            .ok()
            .and_then(|b| parse::sched_exec_start_ms(&b))
    };
    let mut snap = Snapshot {
        sched_now_ms,
        containers,
        taken_at,
        uptime_seconds: clock.uptime_seconds,
        boot_time: clock.boot_time,
        clock_ticks: clock.ticks,
        reader_euid: clock.reader_euid,
        processes,
        zombies,
        budget,
        cgroups: Vec::new(),
        pods,
        errors,
        index,
    };
    snap.cgroups = pids::read_cgroup_pids(&snap, &cfg.sys_root);
    Ok(snap)
}

/// The hot phase: lists the pids of `proc_root` and reads every `<pid>/stat` through one open
/// directory, then the owner of each process in state Z (see
/// [`Snapshot::exit_code_reliable`]: read for the few zombies, not for every process). Fails
/// only when `proc_root` cannot be opened or listed.
fn read_processes(proc_root: &Path) -> io::Result<(Vec<Process>, ReadErrors)> {
    let dir: OwnedFd = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(proc_root)?
        .into();
    let pids = list_pids(proc_root)?;
    let (mut processes, errors) = read_all_stats(dir.as_fd(), &pids, proc_root);
    for p in processes.iter_mut().filter(|p| p.state == b'Z') {
        p.uid = owner_at(dir.as_fd(), p.pid);
    }
    Ok((processes, errors))
}

/// The numeric entries of `proc_root`, ascending.
fn list_pids(proc_root: &Path) -> io::Result<Vec<i32>> {
    let mut pids: Vec<i32> = Vec::with_capacity(4096);
    for entry in std::fs::read_dir(proc_root)? {
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
    Ok(pids)
}

/// A Z leader with several threads is alive if any other task is not Z/X: marks it
/// [`Process::exited_leader`] (not a zombie).
fn mark_exited_leaders(proc_root: &Path, processes: &mut [Process], errors: &mut ReadErrors) {
    for p in processes.iter_mut() {
        if p.state == b'Z' && p.num_threads > 1 {
            p.exited_leader = has_live_thread(proc_root, p.pid, errors);
        }
    }
}

/// The processes of a scan with their index by pid, for the detail phase.
struct Table<'a> {
    processes: &'a mut [Process],
    index: &'a HashMap<i32, usize>,
}

impl Table<'_> {
    fn get_mut(&mut self, pid: i32) -> Option<&mut Process> {
        let &i = self.index.get(&pid)?;
        Some(&mut self.processes[i])
    }
}

/// The detail phase: `status`, `cgroup` (and `sched` for zombies) of the processes that
/// matter, the parent's cgroup for zombies that show none, then `cmdline` and `wchan` of the
/// live parents of zombies and of conmon/shim processes.
fn read_details(
    proc_root: &Path,
    detail: Detail,
    mut table: Table<'_>,
    zombies: &[i32],
    errors: &mut ReadErrors,
) {
    let (detail_set, mut cmdline_set) = detail_targets(detail, &table, zombies);
    for &pid in &detail_set {
        // A parent may be missing (exited, or outside this PID namespace).
        let Some(p) = table.get_mut(pid) else {
            continue;
        };
        read_status_and_cgroup(proc_root, p, errors);
        let is_runtime = p.comm == b"conmon" || p.comm.starts_with(b"containerd-shim");
        if is_runtime {
            cmdline_set.insert(pid);
        }
    }
    inherit_parent_cgroups(&mut table, zombies);
    for &pid in &cmdline_set {
        if let Some(p) = table.get_mut(pid) {
            read_cmdline_and_wchan(proc_root, p, errors);
        }
    }
}

/// Which processes get `status` and `cgroup` read (zombies and their ancestors, or everyone
/// with [`Detail::All`]), and which `cmdline` (the parents of zombies).
fn detail_targets(
    detail: Detail,
    table: &Table<'_>,
    zombies: &[i32],
) -> (BTreeSet<i32>, BTreeSet<i32>) {
    let mut detail_set: BTreeSet<i32> = BTreeSet::new();
    let mut cmdline_set: BTreeSet<i32> = BTreeSet::new();
    let ppid = |pid: i32| table.index.get(&pid).map(|&i| table.processes[i].ppid);
    match detail {
        Detail::Minimal => {}
        Detail::All => detail_set.extend(table.processes.iter().map(|p| p.pid)),
        Detail::Zombies => {
            for &z in zombies {
                let mut cur = Some(z);
                while let Some(pid) = cur {
                    if !detail_set.insert(pid) {
                        break;
                    }
                    cur = ppid(pid).filter(|&pp| pp != 0 && pp != pid);
                }
                if let Some(pp) = ppid(z) {
                    cmdline_set.insert(pp);
                }
            }
        }
    }
    (detail_set, cmdline_set)
}

/// Reads `status` (namespaced pids, signal masks, real uid) and `cgroup` (lines and
/// attribution) of `p`, and the exit time of a zombie from its `sched`.
fn read_status_and_cgroup(proc_root: &Path, p: &mut Process, errors: &mut ReadErrors) {
    let pid = p.pid;
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
        p.exit_sched_ms = fsread::read(&proc_root.join(format!("{pid}/sched")), fsread::STATUS_MAX)
            .ok()
            .and_then(|b| parse::sched_exec_start_ms(&b));
    }
}

/// Zombies whose cgroup lines are all `/` (v1-only hosts) take their live parent's lines and
/// attribution ([`Process::cgroup_from_parent`]).
fn inherit_parent_cgroups(table: &mut Table<'_>, zombies: &[i32]) {
    for &z in zombies {
        let zi = table.index[&z];
        let zp = &table.processes[zi];
        let rootish = zp
            .cgroups
            .as_deref()
            .is_none_or(|l| l.iter().all(|l| l.path == "/"));
        let Some(&pi) = table.index.get(&zp.ppid) else {
            continue;
        };
        let parent = &table.processes[pi];
        if rootish && !parent.is_zombie() && parent.cgroup_path().is_some_and(|p| p != "/") {
            let (cg, at) = (parent.cgroups.clone(), parent.attribution.clone());
            let zp = &mut table.processes[zi];
            zp.cgroups = cg;
            zp.attribution = at;
            zp.cgroup_from_parent = true;
        }
    }
}

/// Reads `cmdline` and `wchan` of a live process (never of a Z or D task: the command line is
/// empty for zombies and can block for D).
fn read_cmdline_and_wchan(proc_root: &Path, p: &mut Process, errors: &mut ReadErrors) {
    if matches!(p.state, b'Z' | b'D' | b'X') {
        return;
    }
    let pid = p.pid;
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

/// Pods by UID: kubelet's log directories, then conmon command lines.
fn pods_of(cfg: &ScanConfig, processes: &[Process]) -> BTreeMap<String, PodRef> {
    let mut pods = cfg
        .pods_log_root
        .as_deref()
        .map(pods_from_log_root)
        .unwrap_or_default();
    for p in processes {
        if let Some((_, pod, ns, uid)) = p.cmdline.as_deref().and_then(cgroup::conmon_pod_from_args)
        {
            pods.entry(uid).or_insert(PodRef {
                namespace: ns,
                name: pod,
            });
        }
    }
    pods
}

/// The node's task limits and counts: `loadavg`'s total, the scanned threads, the zombies.
fn node_budget(proc_root: &Path, processes: &[Process], zombies: usize) -> NodeBudget {
    NodeBudget {
        loadavg_tasks: fsread::read(&proc_root.join("loadavg"), fsread::LINE_MAX)
            .ok()
            .and_then(|b| parse::loadavg_tasks(&b)),
        scanned_tasks: processes.iter().map(|p| p.num_threads.max(1)).sum(),
        zombies: zombies as u64,
        ..NodeBudget::read_limits(proc_root)
    }
}

/// The clocks against which ages are measured, and who reads.
struct Clock {
    uptime_seconds: Option<f64>,
    boot_time: Option<u64>,
    ticks: u64,
    reader_euid: u32,
}

impl Clock {
    /// `uptime`, `btime` of `stat`, the clock tick rate and the reader's effective uid.
    fn read(proc_root: &Path) -> Clock {
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
        Clock {
            uptime_seconds,
            boot_time,
            ticks: if ticks > 0 { ticks as u64 } else { 100 },
            reader_euid,
        }
    }
}

/// Names of the containers of the zombies and their ancestors, as their runtime shows them
/// ([`naming::resolve_with`]).
fn name_containers(cfg: &ScanConfig, processes: &[Process]) -> BTreeMap<String, ContainerName> {
    let mut wanted: Vec<naming::Wanted<'_>> = Vec::new();
    for p in processes {
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
    let docker_roots = docker_data_roots(&cfg.proc_root, processes, &wanted);
    naming::resolve_with(
        &wanted,
        &conmons,
        &docker_roots,
        cfg.state_root
            .as_deref()
            .unwrap_or(Path::new("/nonexistent")),
        cfg.pods_log_root.as_deref(),
    )
}

/// A dockerd with its own data root keeps its containers' names there: the data roots from
/// the command lines of the (few) dockerd processes, read only when a wanted container may be
/// Docker's.
fn docker_data_roots(
    proc_root: &Path,
    processes: &[Process],
    wanted: &[naming::Wanted<'_>],
) -> Vec<String> {
    let dockerish = wanted.iter().any(|w| {
        matches!(
            w.runtime,
            Some(Runtime::Docker) | Some(Runtime::ContainerdOrDocker)
        )
    });
    if !dockerish {
        return Vec::new();
    }
    processes
        .iter()
        .filter(|p| p.comm == b"dockerd" && !matches!(p.state, b'Z' | b'D' | b'X'))
        .filter_map(|p| {
            let path = proc_root.join(format!("{}/cmdline", p.pid));
            fsread::read(&path, fsread::CMDLINE_MAX).ok()
        })
        .filter_map(|b| naming::docker_data_root(&parse::split_cmdline(&b)))
        .collect()
}

/// Below this many processes the scan reads `stat` files on one thread.
const PARALLEL_MIN: usize = 4096;

/// Reads and parses `<pid>/stat` for every pid (ascending), on up to 4 threads when there are
/// many (each thread takes a contiguous range, so the result stays sorted by pid). Each file
/// costs `openat` + `read` + `close` whatever the thread count.
fn read_all_stats(
    dir: BorrowedFd<'_>,
    pids: &[i32],
    proc_root: &Path,
) -> (Vec<Process>, ReadErrors) {
    let threads = if pids.len() >= PARALLEL_MIN {
        std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
    } else {
        1
    };
    if threads <= 1 {
        return read_stats(dir, pids, proc_root, process_of);
    }
    // The threads keep the parsed fields only (a third of a `Process`): the peak memory of the
    // merge stays near that of a one-thread scan.
    let chunk = pids.len().div_ceil(threads);
    let parts: Vec<(Vec<parse::StatFields>, ReadErrors)> = std::thread::scope(|s| {
        let handles: Vec<_> = pids
            .chunks(chunk)
            .map(|c| s.spawn(move || read_stats(dir, c, proc_root, |s| s)))
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
    dir: BorrowedFd<'_>,
    pids: &[i32],
    proc_root: &Path,
    make: impl Fn(parse::StatFields) -> T,
) -> (Vec<T>, ReadErrors) {
    let mut errors = ReadErrors::default();
    let mut out = Vec::with_capacity(pids.len());
    let mut buf = vec![0u8; fsread::STAT_FIRST];
    for &pid in pids {
        match read_stat_at(dir, pid, &mut buf) {
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

#[cfg(test)]
mod tests {
    use super::*;

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
