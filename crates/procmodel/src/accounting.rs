//! Zombie counts from the kernel's own accounting, without a `/proc` scan: the cost is
//! proportional to the number of cgroups, not of processes.
//!
//! # The arithmetic
//!
//! A task that has exited but is not reaped yet (a zombie) is no longer listed in its cgroup's
//! task list (v1 `tasks`, v2 `cgroup.threads`), but it stays charged to `pids.current` of that
//! cgroup and of every ancestor until it is reaped, and it stays counted in the kernel's
//! `nr_threads` (the total after the `/` of the 4th field of `/proc/loadavg`). Every live thread
//! is listed in exactly one cgroup of a hierarchy. So:
//!
//! * zombies in the subtree of cgroup `C` = `pids.current(C)` − Σ |tasks| over `C` and its
//!   descendants ([`Accounting::zombies`]);
//! * zombies on the node = `nr_threads` − Σ |tasks| over every cgroup of the hierarchy, the root
//!   included ([`Accounting::node_zombies`]).
//!
//! Measured on kernel 6.18 with a cgroup v1 `pids` hierarchy (hybrid host): a zombie's v1
//! `/proc/PID/cgroup` lines read `/`, but its charge stays in the cgroup it exited in; the counts
//! equal a full scan's (tests/accounting_real.rs).
//!
//! # What is counted, precisely
//!
//! Exited-but-unreaped *tasks*: zombie processes, plus the rare thread-group leader that called
//! `pthread_exit` while its other threads run (state Z but alive; the full scan does not count it)
//! and exited threads held by a ptracer. No identity (pid, parent, comm) is available.
//!
//! # Races
//!
//! The files are read one after the other while tasks fork, exit and are reaped. To never report
//! a zombie that does not exist because of a fork or a reap during the walk, `nr_threads` is read
//! before and after the walk and the smaller value is used; a cgroup's `pids.current` is read
//! before its subtree's task lists and, when the difference is positive, once more after them,
//! and the smaller value is used. A fork or reap during the walk can therefore hide a zombie for
//! one read (under-count), never invent one. Results are clamped at 0.
//!
//! # Requirements
//!
//! The reader must see every pid (the initial PID namespace, `hostPID: true`): task lists only
//! show the pids of the reader's namespace, and a hidden thread would be counted as a zombie.
//! [`in_initial_pid_namespace`] checks it.

use crate::fsread;
use crate::model::{CgroupVersion, ReadErrors};
use crate::parse;
use crate::pids::{pids_hierarchy, PidsHierarchy};
use std::io;
use std::path::{Path, PathBuf};

/// Default bound on the cgroups walked, so a strange tree cannot make a scrape unbounded.
pub const MAX_CGROUPS: usize = 20_000;

/// Whether `proc_root` shows the initial PID namespace: pid 2 is `kthreadd` with parent 0
/// (kernel threads are visible only there).
pub fn in_initial_pid_namespace(proc_root: &Path) -> bool {
    match fsread::read(&proc_root.join("2/stat"), fsread::STAT_MAX) {
        Ok(b) => parse::parse_stat(&b)
            .map(|s| s.comm == b"kthreadd" && s.ppid == 0)
            .unwrap_or(false),
        Err(_) => false,
    }
}

/// One cgroup of the walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupCount {
    /// Path relative to the hierarchy root, as in `/proc/PID/cgroup` (`/` for the root).
    pub path: String,
    /// Index of the parent in [`Accounting::cgroups`] (`None` for the root).
    pub parent: Option<usize>,
    /// Threads listed in this cgroup itself.
    pub tasks: u64,
    /// Threads listed in this cgroup and all its descendants.
    pub subtree_tasks: u64,
    /// `pids.current` (the smaller of the reads, see the module docs); `None` for the root or
    /// where the controller is not enabled (v2) or the file unreadable.
    pub current: Option<u64>,
}

/// The result of one walk.
#[derive(Debug, Clone)]
pub struct Accounting {
    /// The hierarchy walked.
    pub hierarchy: PidsHierarchy,
    /// Every cgroup, pre-order (the root first, a parent before its children).
    pub cgroups: Vec<CgroupCount>,
    /// `nr_threads` from `/proc/loadavg` before the walk.
    pub nr_threads_before: u64,
    /// `nr_threads` from `/proc/loadavg` after the walk.
    pub nr_threads_after: u64,
    /// Σ |tasks| over every cgroup walked.
    pub listed_tasks: u64,
    /// The walk stopped at the cgroup bound; node and subtree counts are then over-estimates.
    pub truncated: bool,
    /// Files that could not be read (cgroups removed mid-walk count as `vanished`).
    pub errors: ReadErrors,
}

impl Accounting {
    /// Exited-but-unreaped tasks on the node: min(`nr_threads` before, after) − Σ |tasks|,
    /// clamped at 0.
    pub fn node_zombies(&self) -> u64 {
        self.nr_threads_before
            .min(self.nr_threads_after)
            .saturating_sub(self.listed_tasks)
    }

    /// Zombies in the subtree of `cgroups[i]`: `pids.current` − subtree tasks, clamped at 0;
    /// `None` when `pids.current` is unknown.
    pub fn zombies(&self, i: usize) -> Option<u64> {
        let c = self.cgroups.get(i)?;
        Some(c.current?.saturating_sub(c.subtree_tasks))
    }

    /// Index of the cgroup at `path`.
    pub fn find(&self, path: &str) -> Option<usize> {
        self.cgroups.iter().position(|c| c.path == path)
    }
}

/// Why a walk could not be made at all.
#[derive(Debug)]
pub enum AccountingError {
    /// No pids controller under the cgroup root.
    NoPidsController(PathBuf),
    /// A file needed for the node total could not be read.
    Read(PathBuf, io::Error),
}

impl std::fmt::Display for AccountingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AccountingError::NoPidsController(p) => write!(
                f,
                "no readable pids controller under {} (mount the host's cgroup filesystem \
                 there, or count zombies with a full /proc scan: --scan full)",
                p.display()
            ),
            AccountingError::Read(p, e) => write!(
                f,
                "cannot read {}: {e} (check that it is mounted and readable, or count zombies \
                 with a full /proc scan: --scan full)",
                p.display()
            ),
        }
    }
}

impl std::error::Error for AccountingError {}

/// Subtree sums: children come after their parent in pre-order, so a reverse pass accumulates
/// each cgroup's subtree into its parent.
fn sum_subtrees(cgroups: &mut [CgroupCount]) {
    for i in (0..cgroups.len()).rev() {
        let c = &mut cgroups[i];
        c.subtree_tasks += c.tasks;
        let (sub, parent) = (c.subtree_tasks, c.parent);
        if let Some(p) = parent {
            cgroups[p].subtree_tasks += sub;
        }
    }
}

/// Reads the accounting; keeps one buffer across walks (no allocation per file).
#[derive(Debug)]
pub struct Reader {
    proc_root: PathBuf,
    sys_root: PathBuf,
    max_cgroups: usize,
    buf: Vec<u8>,
}

impl Reader {
    /// A reader of `proc_root` (`/proc`) and `sys_root` (`/sys/fs/cgroup`).
    pub fn new(proc_root: &Path, sys_root: &Path) -> Reader {
        Reader {
            proc_root: proc_root.to_path_buf(),
            sys_root: sys_root.to_path_buf(),
            max_cgroups: MAX_CGROUPS,
            buf: vec![0; 64 * 1024],
        }
    }

    /// Changes the bound on cgroups walked (default [`MAX_CGROUPS`]).
    pub fn max_cgroups(mut self, n: usize) -> Reader {
        self.max_cgroups = n.max(1);
        self
    }

    /// Reads `path` whole into the reused buffer (bounded: [`crate::fsread`], one-line files
    /// at most [`fsread::LINE_MAX`] bytes) and returns the number of bytes.
    fn read_file(&mut self, path: &Path) -> io::Result<usize> {
        let mut f = fsread::open(path)?;
        fsread::read_into(
            &mut f,
            &mut self.buf,
            fsread::LINE_MAX,
            fsread::LINE_MAX,
            false,
        )
    }

    /// Counts the lines of a task list with the fixed buffer (never grown), at most
    /// [`fsread::TASK_LIST_MAX`] bytes.
    fn count_lines(&mut self, path: &Path) -> io::Result<u64> {
        fsread::count_lines(path, &mut self.buf, fsread::TASK_LIST_MAX)
    }

    fn read_u64(&mut self, path: &Path) -> io::Result<u64> {
        let n = self.read_file(path)?;
        std::str::from_utf8(&self.buf[..n])
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not a number"))
    }

    fn nr_threads(&mut self) -> Result<u64, AccountingError> {
        let p = self.proc_root.join("loadavg");
        let n = self
            .read_file(&p)
            .map_err(|e| AccountingError::Read(p.clone(), e))?;
        parse::loadavg_tasks(&self.buf[..n]).ok_or_else(|| {
            AccountingError::Read(p, io::Error::new(io::ErrorKind::InvalidData, "bad format"))
        })
    }

    /// Walks the whole pids hierarchy once. Fails only when there is no pids controller, or
    /// `/proc/loadavg` or the root's task list cannot be read.
    pub fn read(&mut self) -> Result<Accounting, AccountingError> {
        let h = pids_hierarchy(&self.sys_root)
            .ok_or_else(|| AccountingError::NoPidsController(self.sys_root.clone()))?;
        let mut errors = ReadErrors::default();
        let before = self.nr_threads()?;
        let root_tasks = h.base.join(h.tasks_file());
        let t = self
            .count_lines(&root_tasks)
            .map_err(|e| AccountingError::Read(root_tasks, e))?;
        let root = CgroupCount {
            path: "/".into(),
            parent: None,
            tasks: t,
            subtree_tasks: 0,
            current: None,
        };
        let (mut cgroups, dirs, truncated) = self.walk(&h, root, &mut errors);
        sum_subtrees(&mut cgroups);
        self.reread_positive(&mut cgroups, &dirs);
        let after = self.nr_threads()?;
        let listed_tasks = cgroups.iter().map(|c| c.tasks).sum();
        Ok(Accounting {
            hierarchy: h,
            cgroups,
            nr_threads_before: before,
            nr_threads_after: after,
            listed_tasks,
            truncated,
            errors,
        })
    }

    /// The pre-order walk below the root, with an explicit stack of (index of the parent,
    /// directory): every cgroup's `pids.current` and task count, with its directory, and
    /// whether the walk stopped at the bound.
    fn walk(
        &mut self,
        h: &PidsHierarchy,
        root: CgroupCount,
        errors: &mut ReadErrors,
    ) -> (Vec<CgroupCount>, Vec<PathBuf>, bool) {
        let mut cgroups = vec![root];
        let mut dirs = vec![h.base.clone()];
        let mut stack: Vec<(usize, PathBuf)> = Vec::new();
        self.push_children(0, &h.base, &mut stack, errors);
        while let Some((parent, dir)) = stack.pop() {
            if cgroups.len() >= self.max_cgroups {
                return (cgroups, dirs, true);
            }
            let Some((current, tasks)) = self.read_cgroup(h, &dir, errors) else {
                continue;
            };
            let rel = dir
                .strip_prefix(&h.base)
                .map(|r| format!("/{}", r.to_string_lossy()))
                .unwrap_or_default();
            let i = cgroups.len();
            cgroups.push(CgroupCount {
                path: rel,
                parent: Some(parent),
                tasks,
                subtree_tasks: 0,
                current,
            });
            self.push_children(i, &dir, &mut stack, errors);
            dirs.push(dir);
        }
        (cgroups, dirs, false)
    }

    /// `pids.current` (`None` when unknown) and the task count of the cgroup `dir`; `None` when
    /// the cgroup vanished during the walk.
    fn read_cgroup(
        &mut self,
        h: &PidsHierarchy,
        dir: &Path,
        errors: &mut ReadErrors,
    ) -> Option<(Option<u64>, u64)> {
        let tasks_file = h.tasks_file();
        let current = match self.read_u64(&dir.join("pids.current")) {
            Ok(v) => Some(v),
            Err(e) if e.kind() == io::ErrorKind::NotFound && h.version == CgroupVersion::V2 => {
                // v2 cgroup without the pids controller enabled: its tasks are charged
                // to the nearest ancestor that has it.
                if dir.is_dir() {
                    None
                } else {
                    errors.vanished += 1;
                    return None;
                }
            }
            Err(e) => {
                errors.record(&dir.join("pids.current"), &e);
                if e.kind() == io::ErrorKind::NotFound {
                    return None;
                }
                None
            }
        };
        let tasks = match self.count_lines(&dir.join(tasks_file)) {
            Ok(n) => n,
            Err(e) => {
                errors.record(&dir.join(tasks_file), &e);
                if e.kind() == io::ErrorKind::NotFound {
                    return None;
                }
                0
            }
        };
        Some((current, tasks))
    }

    /// A positive difference may come from a reap during the walk: re-reads `pids.current` now
    /// that the subtree has been listed and keeps the smaller value.
    fn reread_positive(&mut self, cgroups: &mut [CgroupCount], dirs: &[PathBuf]) {
        for (c, dir) in cgroups.iter_mut().zip(dirs) {
            if let Some(cur) = c.current {
                if cur > c.subtree_tasks {
                    if let Ok(again) = self.read_u64(&dir.join("pids.current")) {
                        c.current = Some(cur.min(again));
                    }
                }
            }
        }
    }

    fn push_children(
        &mut self,
        parent: usize,
        dir: &Path,
        stack: &mut Vec<(usize, PathBuf)>,
        errors: &mut ReadErrors,
    ) {
        match std::fs::read_dir(dir) {
            Ok(rd) => {
                let at = stack.len();
                for e in rd.flatten() {
                    if e.file_type().is_ok_and(|t| t.is_dir()) {
                        stack.push((parent, e.path()));
                    }
                }
                // Popped in directory order.
                stack[at..].reverse();
            }
            Err(e) => errors.record(dir, &e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Tree(PathBuf);
    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn tree(name: &str) -> Tree {
        let t = std::env::temp_dir().join(format!("procmodel-acct-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&t);
        std::fs::create_dir_all(t.join("proc")).unwrap();
        std::fs::write(t.join("proc/loadavg"), "0.10 0.20 0.30 2/23 12345\n").unwrap();
        Tree(t)
    }

    fn cg(dir: &Path, tasks_file: &str, tasks: &[u32], current: Option<u64>) {
        std::fs::create_dir_all(dir).unwrap();
        let s: String = tasks.iter().map(|t| format!("{t}\n")).collect();
        std::fs::write(dir.join(tasks_file), s).unwrap();
        if let Some(c) = current {
            std::fs::write(dir.join("pids.current"), format!("{c}\n")).unwrap();
        }
    }

    #[test]
    fn v1_subtrees_and_node_total() {
        let t = tree("v1");
        let b = t.0.join("sys/pids");
        // 23 tasks on the node; listed: 10 + 2 + 3 + 1 + 0 = 16 -> 7 zombies.
        cg(&b, "tasks", &(1..=10).collect::<Vec<_>>(), None);
        cg(&b.join("kubepods"), "tasks", &[], Some(9));
        cg(&b.join("kubepods/pod1"), "tasks", &[11, 12], Some(9));
        cg(&b.join("kubepods/pod1/c1"), "tasks", &[13, 14, 15], Some(6));
        cg(&b.join("kubepods/pod1/c2"), "tasks", &[16], Some(1));
        cg(&b.join("system.slice"), "tasks", &[], Some(0));
        // A big task list, larger than the initial buffer.
        let big: Vec<u32> = (100_000..120_000).collect();
        cg(&b.join("big"), "tasks", &big, Some(20_000));
        std::fs::write(t.0.join("proc/loadavg"), "0 0 0 1/20023 1\n").unwrap();
        let a = Reader::new(&t.0.join("proc"), &t.0.join("sys"))
            .read()
            .unwrap();
        assert_eq!(a.hierarchy.version, CgroupVersion::V1);
        assert_eq!(a.cgroups.len(), 7, "{:?}", a.cgroups);
        assert_eq!(a.cgroups[0].path, "/");
        assert_eq!(a.listed_tasks, 20_016);
        assert_eq!(a.node_zombies(), 7);
        let z = |p: &str| a.zombies(a.find(p).unwrap());
        assert_eq!(z("/kubepods/pod1/c1"), Some(3));
        assert_eq!(z("/kubepods/pod1/c2"), Some(0));
        assert_eq!(z("/kubepods/pod1"), Some(3));
        assert_eq!(z("/kubepods"), Some(3));
        assert_eq!(z("/big"), Some(0));
        assert_eq!(z("/"), None);
        let pod = &a.cgroups[a.find("/kubepods/pod1").unwrap()];
        assert_eq!((pod.tasks, pod.subtree_tasks), (2, 6));
        assert_eq!(a.cgroups[pod.parent.unwrap()].path, "/kubepods");
        assert!(!a.truncated);
        assert_eq!(a.errors.failures(), 0);

        // Clamped at 0 when a fork makes the lists longer than the counters.
        std::fs::write(t.0.join("proc/loadavg"), "0 0 0 1/10 1\n").unwrap();
        std::fs::write(b.join("kubepods/pod1/c2/pids.current"), "0\n").unwrap();
        let a = Reader::new(&t.0.join("proc"), &t.0.join("sys"))
            .read()
            .unwrap();
        assert_eq!(a.node_zombies(), 0);
        assert_eq!(a.zombies(a.find("/kubepods/pod1/c2").unwrap()), Some(0));

        // Bounded walk.
        let a = Reader::new(&t.0.join("proc"), &t.0.join("sys"))
            .max_cgroups(3)
            .read()
            .unwrap();
        assert!(a.truncated);
        assert_eq!(a.cgroups.len(), 3);
    }

    #[test]
    fn v2_root_and_controller_not_enabled() {
        let t = tree("v2");
        let b = t.0.join("sys");
        cg(&b, "cgroup.threads", &[1, 2, 3], None);
        std::fs::write(b.join("cgroup.controllers"), "cpu io memory pids\n").unwrap();
        cg(&b.join("kubepods.slice"), "cgroup.threads", &[4], Some(8));
        // No pids.current: its tasks and zombies are charged to kubepods.slice.
        cg(
            &b.join("kubepods.slice/x.scope"),
            "cgroup.threads",
            &[5, 6],
            None,
        );
        std::fs::write(t.0.join("proc/loadavg"), "0 0 0 1/11 1\n").unwrap();
        let a = Reader::new(&t.0.join("proc"), &t.0.join("sys"))
            .read()
            .unwrap();
        assert_eq!(a.hierarchy.version, CgroupVersion::V2);
        assert_eq!(a.errors.failures() + a.errors.vanished, 0, "{:?}", a.errors);
        assert_eq!(a.node_zombies(), 5);
        assert_eq!(a.zombies(a.find("/kubepods.slice").unwrap()), Some(5));
        assert_eq!(a.zombies(a.find("/kubepods.slice/x.scope").unwrap()), None);
    }

    #[test]
    fn hybrid_prefers_v1_and_errors() {
        let t = tree("hy");
        let s = t.0.join("sys");
        // Hybrid: unified without pids, v1 pids present.
        std::fs::create_dir_all(s.join("unified")).unwrap();
        std::fs::write(s.join("unified/cgroup.controllers"), "cpu\n").unwrap();
        assert!(pids_hierarchy(&s).is_none());
        assert!(matches!(
            Reader::new(&t.0.join("proc"), &s).read(),
            Err(AccountingError::NoPidsController(_))
        ));
        cg(&s.join("pids"), "tasks", &[1], None);
        assert_eq!(
            pids_hierarchy(&s).map(|h| h.version),
            Some(CgroupVersion::V1)
        );
        std::fs::remove_file(t.0.join("proc/loadavg")).unwrap();
        assert!(matches!(
            Reader::new(&t.0.join("proc"), &s).read(),
            Err(AccountingError::Read(..))
        ));
    }

    #[test]
    fn initial_pid_namespace_check() {
        let t = tree("ns");
        let p = t.0.join("proc");
        assert!(!in_initial_pid_namespace(&p));
        std::fs::create_dir_all(p.join("2")).unwrap();
        std::fs::write(p.join("2/stat"), "2 (kthreadd) S 0 0 0 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 3 0 0 18446744073709551615 0 0 0 0 0 0 0 2147483647 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n").unwrap();
        assert!(in_initial_pid_namespace(&p));
        std::fs::write(p.join("2/stat"), "2 (sh) S 1 0 0 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 3 0 0 18446744073709551615 0 0 0 0 0 0 0 2147483647 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n").unwrap();
        assert!(!in_initial_pid_namespace(&p));
    }
}
