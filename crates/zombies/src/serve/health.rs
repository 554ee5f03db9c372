//! What the agent can see: the checks behind `/readyz`, `zombies_up` and
//! `zombies_visibility{check}`, run at start and on every scrape (a few `stat`/`read` calls).
//!
//! An agent that reads the wrong `/proc` or an empty cgroup root would still count *something*
//! (its own container, or no pods), so these checks say whether it sees the node at all:
//!
//! | check | required | passes when |
//! |---|---|---|
//! | `proc` | yes | `--proc-root` can be listed and `<proc>/1/stat` read |
//! | `host_pid_namespace` | yes | `<proc>/2` is `kthreadd` with parent 0: only the host's (initial) PID namespace shows it; a container without `hostPID: true` does not |
//! | `cgroup_pids` | yes | a pids controller is found under `--sys-root` (v1 `pids/`, or a v2 root) and can be listed |
//! | `pods_log_root` | no | `--pods-log-root` can be listed (else pods are named by UID) |
//! | `containers_log_root` | no | `--containers-log-root` can be listed (else containers are named by id) |
//!
//! A failed required check makes the agent *blind*: `zombies_up` 0, `/readyz` 503 with the
//! reasons. A failed optional one only degrades names (logged as a warning, `/readyz` stays 200).

use procmodel::accounting;
use procmodel::pids::{self, PidsProbe};
use std::io::ErrorKind;
use std::path::Path;

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// The `check` label value.
    pub name: &'static str,
    /// Whether a failure makes the agent blind.
    pub required: bool,
    /// Passed.
    pub ok: bool,
    /// What failed and what to do (empty when passed).
    pub reason: String,
    /// The failure was a permission error (counted as `permission_denied`, else `other`).
    pub permission_denied: bool,
}

impl Check {
    fn pass(name: &'static str, required: bool) -> Check {
        Check {
            name,
            required,
            ok: true,
            reason: String::new(),
            permission_denied: false,
        }
    }

    fn fail(name: &'static str, required: bool, reason: String, denied: bool) -> Check {
        Check {
            name,
            required,
            ok: false,
            reason,
            permission_denied: denied,
        }
    }
}

fn list(dir: &Path) -> std::io::Result<()> {
    std::fs::read_dir(dir).map(|_| ())
}

/// Runs every check.
pub fn run(
    proc_root: &Path,
    sys_root: &Path,
    pods_log_root: Option<&Path>,
    containers_log_root: Option<&Path>,
) -> Vec<Check> {
    let mut out = Vec::with_capacity(5);
    let proc_ok = check_proc(proc_root);
    let readable = proc_ok.ok;
    out.push(proc_ok);
    out.push(check_host_pid_namespace(proc_root, readable));
    out.push(check_cgroup_pids(sys_root));
    for (name, root, flag) in [
        ("pods_log_root", pods_log_root, "--pods-log-root"),
        (
            "containers_log_root",
            containers_log_root,
            "--containers-log-root",
        ),
    ] {
        let Some(root) = root else { continue };
        out.push(check_log_root(name, root, flag));
    }
    out
}

/// `proc`: `--proc-root` can be listed and `<proc>/1/stat` read.
fn check_proc(proc_root: &Path) -> Check {
    match list(proc_root).and_then(|_| std::fs::read(proc_root.join("1/stat"))) {
        Ok(_) => Check::pass("proc", true),
        Err(e) => Check::fail(
            "proc",
            true,
            format!(
                "cannot read {} ({e}): give the agent the host's procfs (hostPID: true, or --proc-root on the host's /proc)",
                proc_root.join("1/stat").display()
            ),
            e.kind() == ErrorKind::PermissionDenied,
        ),
    }
}

/// `host_pid_namespace`: `<proc>/2` is `kthreadd` with parent 0; `readable` says whether the
/// `proc` check passed (the reason differs).
fn check_host_pid_namespace(proc_root: &Path, readable: bool) -> Check {
    if accounting::in_initial_pid_namespace(proc_root) {
        Check::pass("host_pid_namespace", true)
    } else {
        Check::fail(
            "host_pid_namespace",
            true,
            if readable {
                format!(
                    "{} shows a container's PID namespace, not the host's (no kthreadd at pid 2): zombies of other containers are invisible; run with hostPID: true",
                    proc_root.display()
                )
            } else {
                format!(
                    "cannot tell whether {} is the host's PID namespace: it cannot be read",
                    proc_root.display()
                )
            },
            false,
        )
    }
}

/// `cgroup_pids`: a pids controller is found under `--sys-root` and can be listed.
fn check_cgroup_pids(sys_root: &Path) -> Check {
    let layout = pids::pids_layout(sys_root, PidsProbe::Mounted);
    match layout.v1.or(layout.v2) {
        Some(base) => match list(&base) {
            Ok(()) => Check::pass("cgroup_pids", true),
            Err(e) => Check::fail(
                "cgroup_pids",
                true,
                format!(
                    "cannot list the pids controller at {} ({e}): mount the host's /sys/fs/cgroup read-only and point --sys-root at it",
                    base.display()
                ),
                e.kind() == ErrorKind::PermissionDenied,
            ),
        },
        None => Check::fail(
            "cgroup_pids",
            true,
            format!(
                "no pids controller under {} (neither a v1 pids/ directory nor a v2 cgroup.controllers): mount the host's /sys/fs/cgroup read-only and point --sys-root at it",
                sys_root.display()
            ),
            false,
        ),
    }
}

/// `pods_log_root`, `containers_log_root` (optional): the directory `flag` names can be listed.
fn check_log_root(name: &'static str, root: &Path, flag: &str) -> Check {
    match list(root) {
        Ok(()) => Check::pass(name, false),
        Err(e) => Check::fail(
            name,
            false,
            format!(
                "cannot list {} ({e}): names fall back to ids; mount the host's directory read-only and point {flag} at it",
                root.display()
            ),
            e.kind() == ErrorKind::PermissionDenied,
        ),
    }
}

/// True when no required check failed.
pub fn sees_host(checks: &[Check]) -> bool {
    checks.iter().all(|c| c.ok || !c.required)
}

/// What the agent reads about itself for the `process_*` metrics (from `/proc/self`, not from
/// `--proc-root`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SelfStat {
    /// Resident set size in bytes.
    pub resident_bytes: Option<f64>,
    /// Virtual memory size in bytes.
    pub virtual_bytes: Option<f64>,
    /// User + system CPU seconds.
    pub cpu_seconds: Option<f64>,
    /// Start time, Unix seconds.
    pub start_time: Option<f64>,
    /// Open file descriptors.
    pub open_fds: Option<f64>,
    /// Soft RLIMIT_NOFILE.
    pub max_fds: Option<f64>,
}

/// Reads the agent's own process figures.
#[allow(unsafe_code)] // sysconf and getrlimit, which std does not wrap
pub fn self_stat() -> SelfStat {
    // SAFETY: sysconf and getrlimit only write to the struct passed.
    let (tick, page, max_fds) = unsafe {
        let mut rl: libc::rlimit = std::mem::zeroed();
        let max = (libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) == 0
            && rl.rlim_cur != libc::RLIM_INFINITY)
            .then_some(rl.rlim_cur as f64);
        (
            libc::sysconf(libc::_SC_CLK_TCK),
            libc::sysconf(libc::_SC_PAGESIZE),
            max,
        )
    };
    let mut s = SelfStat {
        max_fds,
        ..SelfStat::default()
    };
    if let Ok(b) = std::fs::read("/proc/self/stat") {
        // Fields after the comm's closing parenthesis, numbered from 3 (state).
        if let Some(i) = b.iter().rposition(|&c| c == b')') {
            let rest = String::from_utf8_lossy(&b[i + 1..]);
            let f: Vec<&str> = rest.split_whitespace().collect();
            let num = |n: usize| f.get(n - 3).and_then(|v| v.parse::<f64>().ok());
            if tick > 0 {
                let t = tick as f64;
                if let (Some(u), Some(st)) = (num(14), num(15)) {
                    s.cpu_seconds = Some((u + st) / t);
                }
                s.start_time = num(22).and_then(|st| Some(boot_time()? + st / t));
            }
            s.virtual_bytes = num(23);
            if page > 0 {
                s.resident_bytes = num(24).map(|r| r * page as f64);
            }
        }
    }
    s.open_fds = std::fs::read_dir("/proc/self/fd")
        .ok()
        .map(|d| d.count() as f64);
    s
}

fn boot_time() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/stat").ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_figures_are_plausible() {
        let s = self_stat();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        assert!(s.resident_bytes.unwrap() > 100_000.0, "{s:?}");
        assert!(s.cpu_seconds.unwrap() >= 0.0);
        let start = s.start_time.unwrap();
        assert!(start <= now + 1.0 && start > now - 86_400.0, "{s:?}");
        assert!(s.open_fds.unwrap() >= 3.0);
        assert!(s.max_fds.unwrap() >= s.open_fds.unwrap());
    }

    #[test]
    fn an_empty_directory_is_blind() {
        let d = std::env::temp_dir().join(format!("zombies-blind-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let c = run(&d, &d, Some(&d), Some(&d.join("nope")));
        std::fs::remove_dir_all(&d).unwrap();
        let failed: Vec<&str> = c.iter().filter(|c| !c.ok).map(|c| c.name).collect();
        assert_eq!(
            failed,
            [
                "proc",
                "host_pid_namespace",
                "cgroup_pids",
                "containers_log_root"
            ]
        );
        assert!(!sees_host(&c));
    }
}
