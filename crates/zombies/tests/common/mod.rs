//! Test helpers: real zombies of known parents, cgroups made and removed by the tests, and
//! running the `zombies` binary. Every helper cleans up in `Drop`, and polls with deadlines.
#![allow(dead_code)]

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

// Polling with a deadline (what, timeout, check), the root check and signals: shared with every
// test crate of the workspace.
#[allow(unused_imports)] // each test binary uses some of these
pub use test_support::{poll, poll_until, require_root, signal, wait_until};

pub fn zombies_bin() -> &'static str {
    env!("CARGO_BIN_EXE_zombies")
}

/// A name unique to this test process and call.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// The state letter and ppid of a pid, from /proc (None if gone).
pub fn state_ppid(pid: i32) -> Option<(u8, i32)> {
    let b = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    let s = procmodel::parse::parse_stat(&b).ok()?;
    Some((s.state, s.ppid))
}

/// Children of `ppid` in state Z.
pub fn zombie_children(ppid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if let Some((b'Z', pp)) = state_ppid(pid) {
            if pp == ppid {
                out.push(pid);
            }
        }
    }
    out.sort();
    out
}

/// How the farm's parent is made.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ParentKind {
    /// An ordinary process that never waits.
    Plain,
    /// PID 1 of a new PID namespace that never waits.
    PidNsInit,
    /// A leader that calls pthread_exit while a second thread lives (its children: none).
    ExitedLeader,
    /// An ordinary process that makes its zombies one every 150 ms (a leak).
    Dripping,
}

/// One zombie to make: its name (PR_SET_NAME bytes) and how it ends.
#[derive(Clone)]
pub struct Kid {
    pub name: Vec<u8>,
    /// `Ok(code)` for `_exit(code)`, `Err(sig)` for death by signal.
    pub end: Result<i32, i32>,
}

/// keeper (subreaper) → parent (never waits) → zombies. Drop kills and reaps everything.
pub struct Farm {
    pub keeper: i32,
    /// Host pid of the parent.
    pub parent: i32,
    /// Host pids of the zombies (after `wait_zombies`).
    pub zombies: Vec<i32>,
    go_w: i32,
    ready_r: i32,
    expected: usize,
}

fn cstr(b: &[u8]) -> CString {
    CString::new(b.to_vec()).expect("no NUL in test names")
}

#[allow(unsafe_code)] // pause(2), in a thread made by pthread_create in a forked child
extern "C" fn park(_: *mut libc::c_void) -> *mut libc::c_void {
    loop {
        // SAFETY: pause has no preconditions.
        unsafe { libc::pause() };
    }
}

impl Farm {
    /// Forks the keeper and the parent; the parent waits for [`Farm::go`] before making zombies.
    // The keeper and the parent are forked children of a multi-threaded test: they may only make
    // async-signal-safe libc calls, which std cannot express.
    #[allow(unsafe_code)]
    pub fn new(kind: ParentKind, parent_name: &[u8], kids: &[Kid]) -> Farm {
        let pname = cstr(parent_name);
        let names: Vec<CString> = kids.iter().map(|k| cstr(&k.name)).collect();
        let ends: Vec<Result<i32, i32>> = kids.iter().map(|k| k.end).collect();
        let mut go = [0i32; 2];
        let mut ready = [0i32; 2];
        let mut info = [0i32; 2];
        // SAFETY: each array is two valid c_ints for pipe2 to fill.
        unsafe {
            assert_eq!(libc::pipe2(go.as_mut_ptr(), libc::O_CLOEXEC), 0);
            assert_eq!(libc::pipe2(ready.as_mut_ptr(), libc::O_CLOEXEC), 0);
            assert_eq!(libc::pipe2(info.as_mut_ptr(), libc::O_CLOEXEC), 0);
        }
        // SAFETY: the child (keeper) makes only async-signal-safe calls and leaves by _exit.
        let keeper = unsafe { libc::fork() };
        assert!(keeper >= 0, "fork failed");
        if keeper == 0 {
            // Keeper: only async-signal-safe calls from here.
            // SAFETY: the keeper and the parent it forks call only async-signal-safe functions
            // (prctl, unshare, fork, read, write, nanosleep, kill, signal, waitpid, pause, _exit,
            // SYS_exit), plus pthread_create in the exited-leader case, which is not on POSIX's
            // list but safe in a glibc fork child (glibc resets its malloc and thread-stack locks
            // there). They use C strings made before the fork, buffers on their own stacks and
            // pipe ends they own, and none returns into the test harness: each ends in _exit,
            // SYS_exit or an endless pause.
            unsafe {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1);
                if kind == ParentKind::PidNsInit && libc::unshare(libc::CLONE_NEWPID) != 0 {
                    libc::_exit(90);
                }
                let parent = libc::fork();
                if parent < 0 {
                    libc::_exit(91);
                }
                if parent == 0 {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    libc::prctl(libc::PR_SET_NAME, pname.as_ptr());
                    let mut b = 0u8;
                    libc::read(go[0], &mut b as *mut u8 as *mut libc::c_void, 1);
                    if kind == ParentKind::ExitedLeader {
                        let mut t: libc::pthread_t = std::mem::zeroed();
                        if libc::pthread_create(
                            &mut t,
                            std::ptr::null(),
                            park,
                            std::ptr::null_mut(),
                        ) != 0
                        {
                            libc::_exit(92);
                        }
                        libc::write(ready[1], b"r".as_ptr() as *const libc::c_void, 1);
                        // Exit only this (leader) thread: SYS_exit, not exit_group. (pthread_exit would
                        // force-unwind through Rust frames.)
                        libc::syscall(libc::SYS_exit, 0);
                    }
                    if kind == ParentKind::Dripping {
                        libc::write(ready[1], b"r".as_ptr() as *const libc::c_void, 1);
                    }
                    for (i, name) in names.iter().enumerate() {
                        if kind == ParentKind::Dripping {
                            let ts = libc::timespec {
                                tv_sec: 0,
                                tv_nsec: 150_000_000,
                            };
                            libc::nanosleep(&ts, std::ptr::null_mut());
                        }
                        let k = libc::fork();
                        if k == 0 {
                            libc::prctl(libc::PR_SET_NAME, name.as_ptr());
                            match ends[i] {
                                Ok(code) => libc::_exit(code),
                                Err(sig) => {
                                    libc::signal(sig, libc::SIG_DFL);
                                    libc::kill(libc::getpid(), sig);
                                    libc::_exit(99);
                                }
                            }
                        }
                    }
                    if kind != ParentKind::Dripping {
                        libc::write(ready[1], b"r".as_ptr() as *const libc::c_void, 1);
                    }
                    loop {
                        libc::pause();
                    }
                }
                libc::write(info[1], &parent as *const i32 as *const libc::c_void, 4);
                // Reap the parent and every orphan reparented to us, then leave.
                loop {
                    let r = libc::waitpid(-1, std::ptr::null_mut(), 0);
                    if r < 0 && *libc::__errno_location() == libc::ECHILD {
                        libc::_exit(0);
                    }
                }
            }
        }
        let mut parent = 0i32;
        // SAFETY: closes this process's own unused pipe ends; `parent` is a valid 4-byte buffer.
        unsafe {
            libc::close(info[1]);
            libc::close(go[0]);
            libc::close(ready[1]);
            let n = libc::read(info[0], &mut parent as *mut i32 as *mut libc::c_void, 4);
            libc::close(info[0]);
            assert_eq!(
                n, 4,
                "keeper did not report the parent pid (unshare or fork failed)"
            );
        }
        Farm {
            keeper,
            parent,
            zombies: Vec::new(),
            go_w: go[1],
            ready_r: ready[0],
            expected: kids.len(),
        }
    }

    /// Lets the parent start making zombies without waiting for them.
    #[allow(unsafe_code)] // write/read on the farm's own pipes
    pub fn start(&mut self) {
        // SAFETY: `go_w` and `ready_r` are this process's open pipe ends (closed only in drop);
        // the buffers are valid for the one byte each call moves.
        unsafe {
            libc::write(self.go_w, b"g".as_ptr() as *const libc::c_void, 1);
            let mut b = 0u8;
            assert_eq!(
                libc::read(self.ready_r, &mut b as *mut u8 as *mut libc::c_void, 1),
                1,
                "parent died"
            );
        }
    }

    /// Lets the parent make its zombies and waits until they are all in state Z.
    pub fn go(&mut self) -> &mut Self {
        self.start();
        let (parent, n) = (self.parent, self.expected);
        self.zombies = poll("the zombies to appear", Duration::from_secs(10), || {
            let z = zombie_children(parent);
            if z.len() == n {
                Ok(z)
            } else {
                Err(format!("{n} wanted, zombie children of {parent}: {z:?}"))
            }
        });
        self
    }
}

impl Drop for Farm {
    #[allow(unsafe_code)] // kill/close/waitpid on the farm's own processes and pipes
    fn drop(&mut self) {
        // SAFETY: the pids are our children (the keeper) or its child; the descriptors are this
        // process's own pipe ends, closed only here; `st` is a valid c_int.
        unsafe {
            libc::kill(self.parent, libc::SIGKILL);
            libc::close(self.go_w);
            libc::close(self.ready_r);
            let mut st = 0;
            libc::waitpid(self.keeper, &mut st, 0);
        }
    }
}

/// A cgroup directory created by the test, removed on drop.
pub struct CgroupDir {
    pub path: PathBuf,
}

impl CgroupDir {
    pub fn create(path: PathBuf) -> CgroupDir {
        std::fs::create_dir_all(&path).unwrap_or_else(|e| {
            panic!(
                "cannot create cgroup {}: {e} (tests run as root)",
                path.display()
            )
        });
        CgroupDir { path }
    }

    pub fn write(&self, file: &str, value: &str) {
        std::fs::write(self.path.join(file), value).unwrap_or_else(|e| {
            panic!(
                "cannot write {value} to {}/{file}: {e}",
                self.path.display()
            )
        });
    }

    pub fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.path.join(file))
            .unwrap_or_default()
            .trim()
            .to_string()
    }
}

impl Drop for CgroupDir {
    fn drop(&mut self) {
        // Children first; a cgroup frees once its zombies are reaped, so retry briefly.
        poll_until(Duration::from_secs(10), || rm_tree(&self.path));
    }
}

fn rm_tree(p: &Path) -> bool {
    if !p.exists() {
        return true;
    }
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                rm_tree(&e.path());
            }
        }
    }
    std::fs::remove_dir(p).is_ok()
}

/// Runs `zombies` with args; returns (exit code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    let out: Output = Command::new(zombies_bin())
        .args(args)
        .output()
        .expect("run zombies");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `zombies --json ...` and parses stdout.
pub fn run_json(args: &[&str]) -> (i32, serde_json::Value) {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    let (code, out, err) = run(&a);
    let v = serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("bad JSON ({e}); stderr: {err}; stdout: {out}"));
    (code, v)
}

/// The JSON group whose parent has host pid `pid`.
pub fn group_of(v: &serde_json::Value, pid: i32) -> Option<&serde_json::Value> {
    v["groups"]
        .as_array()?
        .iter()
        .find(|g| g["parent"]["pid"] == pid)
}

pub fn require_tool(name: &str) -> PathBuf {
    for dir in std::env::var("PATH").unwrap_or_default().split(':') {
        let p = Path::new(dir).join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!("required tool `{name}` is not installed (scripts/setup.sh installs it)");
}

/// A hex id of 64 digits derived from a seed.
pub fn fake_id(seed: &str) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    let mut out = String::new();
    for round in 0..4u64 {
        for b in seed.bytes().chain(round.to_le_bytes()) {
            h ^= b as u64;
            h = h.wrapping_mul(0x100000001b3);
        }
        out.push_str(&format!("{h:016x}"));
    }
    out
}

/// deploy/podman/containers.conf (runc and the ulimits this machine kind needs), absolute.
pub fn containers_conf() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/podman/containers.conf");
    assert!(p.is_file(), "{} missing", p.display());
    p.canonicalize().unwrap()
}

/// Runs rootful podman with the project's containers.conf.
pub fn podman(args: &[&str]) -> Output {
    Command::new(require_tool("podman"))
        .env("CONTAINERS_CONF", containers_conf())
        .args(args)
        .output()
        .expect("run podman")
}

/// [`podman`], failing the test unless it exits 0; returns its trimmed stdout.
pub fn podman_ok(args: &[&str]) -> String {
    let out = podman(args);
    assert!(
        out.status.success(),
        "podman {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A FROM scratch image of busybox and some of its applets, built offline with podman under a
/// unique name. Drop removes the container of the same name, the image and the build context,
/// even when the test fails.
pub struct BusyboxImage {
    /// The unique name, for the test's container too.
    pub name: String,
    /// `localhost/<name>:latest`.
    pub image: String,
    ctx: PathBuf,
}

impl BusyboxImage {
    pub fn build(prefix: &str, applets: &[&str]) -> BusyboxImage {
        let name = unique(prefix);
        let me = BusyboxImage {
            image: format!("localhost/{name}:latest"),
            ctx: std::env::temp_dir().join(format!("{name}-ctx")),
            name,
        };
        let bin = me.ctx.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::copy(require_tool("busybox"), bin.join("busybox")).unwrap();
        for applet in applets {
            std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
        }
        std::fs::write(
            me.ctx.join("Containerfile"),
            "FROM scratch\nCOPY bin /bin\n",
        )
        .unwrap();
        podman_ok(&["build", "-q", "-t", &me.image, me.ctx.to_str().unwrap()]);
        me
    }

    /// `podman run -d --name NAME --network none OPTS... IMAGE CMD...`: the container's id and
    /// the host pid of its PID 1.
    pub fn run_detached(&self, opts: &[&str], cmd: &[&str]) -> (String, i32) {
        let head = ["run", "-d", "--name", &self.name, "--network", "none"];
        let id = podman_ok(&[&head[..], opts, &[&self.image], cmd].concat());
        let pid1 = podman_ok(&["inspect", "--format", "{{.State.Pid}}", &self.name]);
        (id, pid1.parse().unwrap())
    }
}

impl Drop for BusyboxImage {
    fn drop(&mut self) {
        let _ = podman(&["rm", "-f", "-t", "0", &self.name]);
        let _ = podman(&["rmi", "-f", &self.image]);
        let _ = std::fs::remove_dir_all(&self.ctx);
    }
}
