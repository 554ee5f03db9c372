//! Starting an init as PID 1 of a fresh PID and mount namespace, with a workload as its child.

use crate::sys;
use crate::workload::{CTL, GO};
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// The init under measurement: a label for the output and the binary (none: the workload is PID 1).
#[derive(Debug, Clone, PartialEq)]
pub struct Init {
    /// The name printed as `init=` in results.
    pub label: String,
    /// The binary, run as `PATH -- WORKLOAD...`; `None` for `none`.
    pub path: Option<PathBuf>,
}

impl Init {
    /// Parses `none`, `LABEL=PATH`, a Debian anchor's name (`tini`, `tini-static`, `dumb-init`,
    /// `catatonit`: /usr/bin/NAME) or a path (labelled with its file name).
    pub fn parse(spec: &str) -> Result<Init, String> {
        let (label, path) = match spec.split_once('=') {
            Some((l, p)) => (l.to_string(), PathBuf::from(p)),
            None if spec == "none" => {
                return Ok(Init {
                    label: "none".into(),
                    path: None,
                })
            }
            None if matches!(spec, "tini" | "tini-static" | "dumb-init" | "catatonit") => {
                (spec.to_string(), PathBuf::from("/usr/bin").join(spec))
            }
            None => {
                let p = PathBuf::from(spec);
                let l = p
                    .file_name()
                    .map_or(spec.into(), |f| f.to_string_lossy().into_owned());
                (l, p)
            }
        };
        if label.is_empty() || label.contains(char::is_whitespace) {
            return Err(format!(
                "init label '{label}' in '{spec}' must be a non-empty word: write LABEL=PATH"
            ));
        }
        let meta = std::fs::metadata(&path).map_err(|e| {
            format!(
                "init '{spec}': cannot use {}: {e} (install it, or give the path of an init binary)",
                path.display()
            )
        })?;
        if !meta.is_file() {
            return Err(format!(
                "init '{spec}': {} is not a file: give the path of an init binary",
                path.display()
            ));
        }
        Ok(Init {
            label,
            path: Some(path),
        })
    }

    /// The argv that runs `cmd` under this init (`INIT -- CMD...`), or `cmd` alone for `none`.
    pub fn argv(&self, cmd: &[&str]) -> Vec<CString> {
        let mut v = Vec::new();
        if let Some(p) = &self.path {
            v.push(CString::new(p.as_os_str().as_bytes()).expect("paths from argv have no NUL"));
            v.push(c"--".to_owned());
        }
        v.extend(
            cmd.iter()
                .map(|a| CString::new(*a).expect("workload args have no NUL")),
        );
        v
    }
}

/// A running init with its workload.
pub struct Launched {
    /// PID 1's pid as the host sees it.
    pub pid: i32,
    /// Reads what the workload writes to its fd 3.
    pub ctl: i32,
    /// Writes to the workload's fd 4.
    pub go: i32,
}

/// The path of this executable, which the workloads run as.
pub fn self_exe() -> Result<String, String> {
    std::fs::read_link("/proc/self/exe")
        .map(|p| p.to_string_lossy().into_owned())
        .map_err(|e| format!("cannot read /proc/self/exe ({e}): is /proc mounted?"))
}

/// A cpu cgroup of our own (removed on drop): PID 1 and its child run in it, as in a container,
/// instead of in the host's root cpu group (where the kernel's autogroups apply).
pub struct CpuCgroup {
    dir: PathBuf,
}

impl CpuCgroup {
    /// Creates it under the cgroup v1 cpu hierarchy, or under cgroup v2 when the cpu controller is
    /// enabled for the root's children.
    pub fn new() -> Result<CpuCgroup, String> {
        let name = format!("reaper-bench-{}", std::process::id());
        let v1 = std::path::Path::new("/sys/fs/cgroup/cpu");
        let v2 = std::path::Path::new("/sys/fs/cgroup");
        let dir = if v1.join("cpu.shares").exists() {
            v1.join(name)
        } else if std::fs::read_to_string(v2.join("cgroup.subtree_control"))
            .is_ok_and(|c| c.split_whitespace().any(|c| c == "cpu"))
        {
            v2.join(name)
        } else {
            return Err(
                "no cpu cgroup controller at /sys/fs/cgroup/cpu (v1) or enabled in \
                        /sys/fs/cgroup/cgroup.subtree_control (v2): measure without --cgroup"
                    .into(),
            );
        };
        std::fs::create_dir(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        Ok(CpuCgroup { dir })
    }

    fn procs(&self) -> CString {
        CString::new(self.dir.join("cgroup.procs").as_os_str().as_bytes())
            .expect("cgroup paths have no NUL")
    }
}

impl Drop for CpuCgroup {
    fn drop(&mut self) {
        // The namespace's processes are gone by now; the kernel may take a moment to notice.
        for _ in 0..100 {
            if std::fs::remove_dir(&self.dir).is_ok() {
                return;
            }
            sys::sleep_us(10_000);
        }
    }
}

/// Starts `init` as PID 1 of a new PID and mount namespace (with its own /proc), running the
/// workload `reaper-bench WL ARGS...` as its child.
pub fn launch(init: &Init, wl: &[&str]) -> Result<Launched, String> {
    launch_in(init, wl, None)
}

/// [`launch`], with PID 1 (and so its child) in `cgroup` when given.
pub fn launch_in(init: &Init, wl: &[&str], cgroup: Option<&CpuCgroup>) -> Result<Launched, String> {
    let procs = cgroup.map(CpuCgroup::procs);
    let exe = self_exe()?;
    let mut cmd = vec![exe.as_str()];
    cmd.extend_from_slice(wl);
    let argv = init.argv(&cmd);
    let (ctl_r, ctl_w) = sys::pipe().map_err(|e| format!("pipe: {e}"))?;
    let (go_r, go_w) = sys::pipe().map_err(|e| format!("pipe: {e}"))?;
    let pid = sys::fork_into_pid_ns(true).map_err(|e| {
        format!("clone3(CLONE_NEWPID|CLONE_NEWNS) failed: {e} (the benchmark needs root)")
    })?;
    if pid == 0 {
        let step = |what: &str, r: std::io::Result<()>| {
            if let Err(e) = r {
                eprintln!("reaper-bench: in the new namespace, {what}: {e}");
                sys::exit_now(111);
            }
        };
        if let Some(p) = &procs {
            step("joining the cpu cgroup", sys::write_file(p, b"0"));
        }
        step("mounting a private /proc", sys::private_proc());
        step("passing the control pipe as fd 3", sys::move_fd(ctl_w, CTL));
        step("passing the go pipe as fd 4", sys::move_fd(go_r, GO));
        sys::close_from(5);
        sys::unblock_all();
        let e = sys::execv(&argv);
        eprintln!("reaper-bench: cannot run {:?}: {e}", argv[0]);
        sys::exit_now(111);
    }
    sys::close(ctl_w);
    sys::close(go_r);
    Ok(Launched {
        pid,
        ctl: ctl_r,
        go: go_w,
    })
}

impl Launched {
    /// Lets the workload finish (one byte), ends PID 1 with SIGKILL when `kill` (which ends the
    /// whole namespace), and reaps it.
    pub fn finish(self, kill: bool) {
        sys::write_all(self.go, b"x");
        sys::close(self.go);
        if kill {
            let _ = sys::kill(self.pid, libc::SIGKILL);
        }
        let _ = sys::waitpid(self.pid);
        sys::close(self.ctl);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_specs() {
        let none = Init::parse("none").unwrap();
        assert_eq!((none.label.as_str(), none.path.clone()), ("none", None));
        assert_eq!(
            none.argv(&["/x", "wl-sleep"]),
            vec![c"/x".to_owned(), c"wl-sleep".to_owned()]
        );
        let sh = Init::parse("shell=/bin/sh").unwrap();
        assert_eq!(sh.label, "shell");
        assert_eq!(sh.argv(&["/x"])[1].as_c_str(), c"--");
        assert!(Init::parse("/no/such/init")
            .unwrap_err()
            .contains("cannot use /no/such/init"));
        assert!(Init::parse("two words=/bin/sh").is_err());
        assert!(Init::parse("dir=/").unwrap_err().contains("is not a file"));
    }
}
