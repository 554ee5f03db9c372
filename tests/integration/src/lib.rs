//! Helpers shared by the integration tests of reaper (docs/reaper.md is the contract they check).
//!
//! - [`reaper_bin`] finds the binary under test (`REAPER_BIN`, else the musl release build) and fails
//!   loudly when there is none; [`tool`] finds a system program and fails loudly when it is missing.
//! - [`Init`] runs reaper (or tini, dumb-init, catatonit for differential tests) either as PID 1 of a
//!   fresh PID namespace ([`Mode::Pid1`], through `unshare --pid --fork --mount-proc --kill-child`) or
//!   as a plain child of the test, where it is a subreaper ([`Mode::Subreaper`]); [`Running::wait`]
//!   waits with a deadline and kills the whole tree on failure.
//! - /proc readers ([`stat`], [`status_field`], [`descendants`], [`procs_in_pid_ns`]), polling with a
//!   deadline ([`wait_until`]), signal logs written by the `sigcatch` helper ([`SigLog`]) and
//!   pseudo-terminals ([`Pty`]).
//!
//! Synchronisation is always "poll a condition until a deadline": never a fixed sleep.
#![deny(unsafe_code)]

pub mod personas_support;
// Raw system calls the tests need (pidfd, rt_sigqueueinfo, kill of arbitrary pids).
#[allow(unsafe_code)]
pub mod sys;

use std::collections::HashMap;
use std::ffi::{CString, OsStr, OsString};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Path of a helper binary of this package (`sigcatch`, `forker`, `sigsetup`, `selfkill`, `ttyctl`).
#[macro_export]
macro_rules! helper {
    ($name:literal) => {
        env!(concat!("CARGO_BIN_EXE_", $name))
    };
}

/// The default deadline for a run that should finish promptly. Generous: CI shares 2 busy cores.
pub const DEADLINE: Duration = Duration::from_secs(30);

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn is_executable_file(p: &Path) -> bool {
    fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The reaper binary under test: `$REAPER_BIN` (scripts/test.sh sets it), else
/// `<workspace>/target/x86_64-unknown-linux-musl/release/reaper`. Panics with instructions when neither
/// exists: a missing binary is a failure, never a skip.
pub fn reaper_bin() -> PathBuf {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let found = BIN.get_or_init(|| {
        if let Some(v) = std::env::var_os("REAPER_BIN") {
            let given = PathBuf::from(&v);
            let candidates = [given.clone(), workspace_root().join(&given)];
            return candidates
                .iter()
                .find(|p| is_executable_file(p))
                .and_then(|p| p.canonicalize().ok())
                .ok_or_else(|| {
                    format!(
                        "REAPER_BIN={} is not an executable file. Build reaper with \
                         scripts/build-reaper.sh and point REAPER_BIN at the path it prints.",
                        given.display()
                    )
                });
        }
        let fallback = workspace_root().join("target/x86_64-unknown-linux-musl/release/reaper");
        if is_executable_file(&fallback) {
            fallback.canonicalize().map_err(|e| e.to_string())
        } else {
            Err(format!(
                "reaper binary not found: REAPER_BIN is unset and {} does not exist. \
                 Run scripts/build-reaper.sh (or scripts/test.sh, which builds it and sets REAPER_BIN).",
                fallback.display()
            ))
        }
    });
    match found {
        Ok(p) => p.clone(),
        Err(msg) => panic!("{msg}"),
    }
}

/// A program from `$PATH` (e.g. `tini`, `unshare`). Panics when it is missing: install it with
/// scripts/setup.sh (the README's test command does).
pub fn tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| is_executable_file(p))
        .unwrap_or_else(|| {
            panic!("required program '{name}' is not installed; run scripts/setup.sh (as root) to install it")
        })
}

/// A temporary directory removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    /// A fresh directory whose name contains `tag`.
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "reaper-itest-{}-{}-{tag}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap_or_else(|e| panic!("mkdir {}: {e}", p.display()));
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
    /// `dir/name` as a String (for command lines).
    pub fn file(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Where the init under test runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// PID 1 of a fresh PID namespace (`unshare --pid --fork --mount-proc --kill-child`).
    Pid1,
    /// A plain child of the test: not PID 1, so reaper registers as child subreaper.
    Subreaper,
}

/// Both modes, for tests that must hold in each.
pub const MODES: [Mode; 2] = [Mode::Pid1, Mode::Subreaper];

type PreExec = Box<dyn FnMut() -> io::Result<()> + Send + Sync>;

/// A command line that runs an init (reaper, or an anchor for differential tests) in a [`Mode`].
///
/// The final command is `WRAPPER... [unshare --pid --fork --mount-proc --kill-child] INNER... PROGRAM ARGS...`.
/// Every signal disposition is reset to the default in the spawned process.
/// stdout and stderr go to files (so orphans holding them open cannot block the test); stdin is
/// /dev/null unless set. Every `REAPER_*` variable of the test's environment is removed.
pub struct Init {
    pub mode: Mode,
    program: PathBuf,
    args: Vec<OsString>,
    wrapper: Vec<OsString>,
    inner: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
    cwd: Option<PathBuf>,
    stdio: Option<OwnedFd>,
    stdin: Option<OwnedFd>,
    pre_exec: Vec<PreExec>,
}

impl Init {
    /// reaper in `mode`.
    pub fn reaper(mode: Mode) -> Init {
        Init::program(reaper_bin(), mode)
    }

    /// Any program as the init (e.g. `tool("tini")`).
    pub fn program(program: impl Into<PathBuf>, mode: Mode) -> Init {
        Init {
            mode,
            program: program.into(),
            args: Vec::new(),
            wrapper: Vec::new(),
            inner: Vec::new(),
            envs: Vec::new(),
            cwd: None,
            stdio: None,
            stdin: None,
            pre_exec: Vec::new(),
        }
    }

    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Init {
        self.args.push(a.as_ref().to_owned());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Init
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Programs that run before (and exec) the namespace/init part, e.g. `sigsetup ... --`.
    pub fn wrapper<I, S>(mut self, args: I) -> Init
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.wrapper
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Programs that run inside the namespace and exec the init, e.g. `sigsetup ... --`: with
    /// [`Mode::Pid1`] the wrapper is PID 1 and the init, exec'd by it, keeps pid 1.
    pub fn inner_wrapper<I, S>(mut self, args: I) -> Init
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.inner
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    pub fn env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Init {
        self.envs
            .push((k.as_ref().to_owned(), v.as_ref().to_owned()));
        self
    }

    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Init {
        self.cwd = Some(dir.into());
        self
    }

    /// stdin, stdout and stderr all on `fd` (a pty slave); output is then read from the master.
    pub fn stdio(mut self, fd: OwnedFd) -> Init {
        self.stdio = Some(fd);
        self
    }

    pub fn stdin(mut self, fd: OwnedFd) -> Init {
        self.stdin = Some(fd);
        self
    }

    /// Runs `f` in the forked child before exec (async-signal-safe calls only).
    pub fn pre_exec(mut self, f: impl FnMut() -> io::Result<()> + Send + Sync + 'static) -> Init {
        self.pre_exec.push(Box::new(f));
        self
    }

    /// The full command line (for messages).
    pub fn describe(&self) -> String {
        self.argv()
            .iter()
            .map(|a| shell_quote(a))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn argv(&self) -> Vec<OsString> {
        let mut v = self.wrapper.clone();
        if self.mode == Mode::Pid1 {
            v.push(tool("unshare").into());
            v.extend(["--pid", "--fork", "--mount-proc", "--kill-child"].map(OsString::from));
        }
        v.extend(self.inner.iter().cloned());
        v.push(self.program.clone().into());
        v.extend(self.args.iter().cloned());
        v
    }

    /// Starts it.
    #[allow(unsafe_code)] // pre_exec hooks (setsid, signal masks) run between fork and exec: libc calls std does not wrap.
    pub fn spawn(self) -> Running {
        let tmp = TempDir::new("out");
        let argv = self.argv();
        let described = self.describe();
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..]);
        for (k, _) in std::env::vars_os() {
            if k.as_bytes().starts_with(b"REAPER_") {
                cmd.env_remove(&k);
            }
        }
        for (k, v) in &self.envs {
            cmd.env(k, v);
        }
        if let Some(d) = &self.cwd {
            cmd.current_dir(d);
        }
        let out_path = tmp.path().join("stdout");
        let err_path = tmp.path().join("stderr");
        match self.stdio {
            Some(fd) => {
                let f = File::from(fd);
                cmd.stdin(f.try_clone().expect("dup"));
                cmd.stdout(f.try_clone().expect("dup"));
                cmd.stderr(f);
            }
            None => {
                cmd.stdout(File::create(&out_path).expect("stdout file"));
                cmd.stderr(File::create(&err_path).expect("stderr file"));
                match self.stdin {
                    Some(fd) => cmd.stdin(File::from(fd)),
                    None => cmd.stdin(Stdio::null()),
                };
            }
        }
        // Hermetic signal state: whatever the test's own environment ignores (a CI shell may ignore
        // some real-time signals) is reset to the default; std already clears the mask.
        // SAFETY: raw rt_sigaction calls only.
        unsafe {
            cmd.pre_exec(|| {
                for sig in 1..=sys::NSIG {
                    if sig != sys::SIGKILL && sig != sys::SIGSTOP {
                        let _ = sys::set_ignored(sig, false);
                    }
                }
                Ok(())
            })
        };
        for f in self.pre_exec {
            // SAFETY: the closures only make async-signal-safe system calls.
            unsafe { cmd.pre_exec(f) };
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {described}: {e}"));
        Running {
            child,
            mode: self.mode,
            program: self.program.canonicalize().unwrap_or(self.program),
            described,
            start: Instant::now(),
            out_path,
            err_path,
            _tmp: tmp,
            init_pid: None,
            done: false,
        }
    }

    /// Starts it and waits for it (default deadline).
    pub fn run(self) -> Outcome {
        self.spawn().wait(DEADLINE)
    }
}

fn shell_quote(a: &OsStr) -> String {
    let s = a.to_string_lossy();
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// What a finished run produced.
#[derive(Debug)]
pub struct Outcome {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// From spawn to exit (as seen by the poll loop, within a few ms).
    pub elapsed: Duration,
    pub described: String,
}

impl Outcome {
    /// The exit code; panics (with the run's details) if it was killed by a signal.
    pub fn code(&self) -> i32 {
        self.status.code().unwrap_or_else(|| {
            panic!(
                "{} was killed by signal {:?}\n{self}",
                self.described,
                self.status.signal()
            )
        })
    }

    /// Asserts the exit code.
    pub fn assert_code(&self, want: i32) -> &Outcome {
        assert_eq!(self.status.code(), Some(want), "wrong exit status\n{self}");
        self
    }

    /// Non-empty lines of stderr.
    pub fn stderr_lines(&self) -> Vec<&str> {
        self.stderr.lines().filter(|l| !l.is_empty()).collect()
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "command: {}\nstatus: {:?}\nelapsed: {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.described, self.status, self.elapsed, self.stdout, self.stderr
        )
    }
}

/// A started init. Dropping it without [`Running::wait`] SIGKILLs it and everything below it.
pub struct Running {
    child: Child,
    pub mode: Mode,
    program: PathBuf,
    pub described: String,
    pub start: Instant,
    out_path: PathBuf,
    err_path: PathBuf,
    _tmp: TempDir,
    init_pid: Option<i32>,
    done: bool,
}

impl Running {
    /// Pid of the process we spawned (unshare, a wrapper, or the init itself).
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Host pid of the init (reaper itself): in [`Mode::Pid1`] the child of unshare once it has
    /// exec'd the program; behind a wrapper, the shallowest descendant running the program.
    pub fn init_pid(&mut self) -> i32 {
        if let Some(p) = self.init_pid {
            return p;
        }
        let root = self.pid();
        let program = self.program.clone();
        let mut found = None;
        wait_until(
            &format!("the init {} to start", program.display()),
            DEADLINE,
            || {
                let mut cands = vec![root];
                cands.extend(descendants(root));
                found = cands
                    .into_iter()
                    .find(|&p| fs::read_link(format!("/proc/{p}/exe")).is_ok_and(|e| e == program));
                found.is_some()
            },
        );
        let p = found.expect("init pid");
        self.init_pid = Some(p);
        p
    }

    /// Sends `sig` to the init.
    pub fn signal(&mut self, sig: i32) {
        let pid = self.init_pid();
        sys::kill(pid, sig).unwrap_or_else(|e| panic!("kill({pid}, {sig}): {e}"));
    }

    /// Host pids of the init's children.
    pub fn init_children(&mut self) -> Vec<i32> {
        let pid = self.init_pid();
        children(pid)
    }

    /// Host pid of the init's first child (PROGRAM), once it has exec'd something other than the init.
    pub fn main_child(&mut self) -> i32 {
        let init = self.init_pid();
        let program = self.program.clone();
        let mut found = None;
        wait_until("PROGRAM to start", DEADLINE, || {
            found = children(init)
                .into_iter()
                .find(|&p| fs::read_link(format!("/proc/{p}/exe")).is_ok_and(|e| e != program));
            found.is_some()
        });
        found.expect("main child")
    }

    /// Every live process of the run: in [`Mode::Pid1`] the namespace, else the init's descendants.
    pub fn processes(&mut self) -> Vec<i32> {
        let init = self.init_pid();
        match self.mode {
            // A gone init would make an empty list that passes every "no zombie" check.
            Mode::Pid1 => match pid_ns(init) {
                Some(ns) => procs_in_pid_ns(&ns),
                None => panic!(
                    "{}: the init (pid {init}) is gone\n--- stderr ---\n{}",
                    self.described,
                    self.stderr_now()
                ),
            },
            Mode::Subreaper => {
                let mut v = vec![init];
                v.extend(descendants(init));
                v
            }
        }
    }

    /// stderr written so far.
    pub fn stderr_now(&self) -> String {
        fs::read_to_string(&self.err_path).unwrap_or_default()
    }

    /// stdout written so far.
    pub fn stdout_now(&self) -> String {
        fs::read_to_string(&self.out_path).unwrap_or_default()
    }

    /// Has it exited? Does not reap it, so [`Running::wait`] still gets the status.
    #[allow(unsafe_code)] // waitid(WNOWAIT) peeks without reaping: libc calls std does not wrap.
    pub fn has_exited(&self) -> Option<()> {
        // SAFETY: an all-zero siginfo_t is a valid value.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let flags = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT;
        // SAFETY: waitid with WNOWAIT fills `info` and leaves the child waitable.
        let r = unsafe { libc::waitid(libc::P_PID, self.pid() as libc::id_t, &mut info, flags) };
        // SAFETY: si_pid is valid to read after waitid (0 when nothing exited).
        (r == 0 && unsafe { info.si_pid() } != 0).then_some(())
    }

    /// Has it exited? (reaps it if so)
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("try_wait")
    }

    /// Waits for exit within `timeout`; on timeout kills the tree and panics with diagnostics.
    pub fn wait(mut self, timeout: Duration) -> Outcome {
        let deadline = Instant::now() + timeout;
        let mut pause = Duration::from_micros(200);
        let status = loop {
            if let Some(st) = self.try_wait() {
                break st;
            }
            if Instant::now() > deadline {
                let tree = self.tree_report();
                self.kill_tree();
                panic!(
                    "{} did not exit within {:?} (hang?)\nprocesses:\n{tree}--- stderr ---\n{}",
                    self.described,
                    timeout,
                    self.stderr_now()
                );
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(5));
        };
        let elapsed = self.start.elapsed();
        self.done = true;
        Outcome {
            status,
            stdout: self.stdout_now(),
            stderr: self.stderr_now(),
            elapsed,
            described: self.described.clone(),
        }
    }

    /// `ps`-like lines for the tree below the spawned process.
    pub fn tree_report(&self) -> String {
        let root = self.pid();
        let mut s = String::new();
        for p in std::iter::once(root).chain(descendants(root)) {
            if let Some(st) = stat(p) {
                s += &format!("  {} ppid={} {} {}\n", p, st.ppid, st.state, st.comm);
            }
        }
        s
    }

    /// SIGKILLs the spawned process and all its descendants, then reaps it.
    pub fn kill_tree(&mut self) {
        let root = self.pid();
        let mut all = descendants(root);
        all.push(root);
        for p in all {
            let _ = sys::kill(p, sys::SIGKILL);
        }
        let _ = self.child.wait();
        self.done = true;
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if !self.done {
            self.kill_tree();
        }
    }
}

// Polling with a deadline: one implementation for every test crate, in test-support.
pub use test_support::{poll_until, wait_until};

/// Waits until `path` exists and returns its content.
pub fn wait_file(path: &str, timeout: Duration) -> String {
    let mut content = None;
    wait_until(&format!("file {path}"), timeout, || {
        content = fs::read_to_string(path).ok();
        content.is_some()
    });
    content.unwrap_or_default()
}

/// The ready line of `sigcatch`: its own view (inside its PID namespace) of pid, pgid and sid.
#[derive(Debug, Clone, Copy)]
pub struct Ready {
    pub pid: i32,
    pub pgid: i32,
    pub sid: i32,
}

/// Waits for a `sigcatch` ready file.
pub fn wait_ready(path: &str) -> Ready {
    let s = wait_file(path, DEADLINE);
    let get = |k: &str| -> i32 {
        s.split_whitespace()
            .find_map(|w| w.strip_prefix(k))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("bad ready file {path}: {s:?}"))
    };
    Ready {
        pid: get("pid="),
        pgid: get("pgid="),
        sid: get("sid="),
    }
}

/// The signal log of a `sigcatch`.
pub struct SigLog(pub String);

impl SigLog {
    /// Signals received so far, in order.
    pub fn read(&self) -> Vec<i32> {
        let s = fs::read_to_string(&self.0).unwrap_or_default();
        // Only complete lines.
        let complete = match s.rfind('\n') {
            Some(i) => &s[..=i],
            None => "",
        };
        complete.lines().filter_map(|l| l.parse().ok()).collect()
    }

    /// How many times `sig` was received.
    pub fn count(&self, sig: i32) -> usize {
        self.read().iter().filter(|&&s| s == sig).count()
    }

    /// Waits until `sig` has been received `n` times in total.
    pub fn wait_count(&self, sig: i32, n: usize, timeout: Duration) -> bool {
        poll_until(timeout, || self.count(sig) >= n)
    }

    /// Waits until `sig` was received at least once; panics with the log otherwise.
    pub fn expect(&self, sig: i32, timeout: Duration) {
        if !self.wait_count(sig, 1, timeout) {
            panic!(
                "signal {} ({sig}) never reached the child within {timeout:?}; child's log: {:?}",
                sys::name(sig),
                self.read()
            );
        }
    }
}

/// Fields of /proc/PID/stat.
#[derive(Debug, Clone)]
pub struct Stat {
    pub pid: i32,
    pub comm: String,
    pub state: char,
    pub ppid: i32,
    pub pgrp: i32,
    pub session: i32,
    pub tpgid: i32,
}

/// Reads /proc/PID/stat (None if the process is gone).
pub fn stat(pid: i32) -> Option<Stat> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = s.find('(')?;
    let close = s.rfind(')')?;
    let comm = s[open + 1..close].to_string();
    let f: Vec<&str> = s[close + 2..].split_whitespace().collect();
    Some(Stat {
        pid,
        comm,
        state: f.first()?.chars().next()?,
        ppid: f.get(1)?.parse().ok()?,
        pgrp: f.get(2)?.parse().ok()?,
        session: f.get(3)?.parse().ok()?,
        tpgid: f.get(5)?.parse().ok()?,
    })
}

/// A field of /proc/PID/status (`SigIgn`, `Uid`, ...), trimmed.
pub fn status_field(pid: i32, key: &str) -> Option<String> {
    let s = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_status_field(&s, key)
}

/// A field of a /proc/PID/status text.
pub fn parse_status_field(status: &str, key: &str) -> Option<String> {
    status.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k == key).then(|| v.trim().to_string())
    })
}

/// Every live pid on the host with its parent.
pub fn all_pids() -> Vec<(i32, i32)> {
    let mut v = Vec::new();
    if let Ok(rd) = fs::read_dir("/proc") {
        for e in rd.flatten() {
            if let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) {
                if let Some(st) = stat(pid) {
                    v.push((pid, st.ppid));
                }
            }
        }
    }
    v
}

/// Direct children of `pid`.
pub fn children(pid: i32) -> Vec<i32> {
    all_pids()
        .into_iter()
        .filter(|&(_, pp)| pp == pid)
        .map(|(p, _)| p)
        .collect()
}

/// All descendants of `root` (not `root` itself).
pub fn descendants(root: i32) -> Vec<i32> {
    let mut by_parent: HashMap<i32, Vec<i32>> = HashMap::new();
    for (p, pp) in all_pids() {
        by_parent.entry(pp).or_default().push(p);
    }
    let mut out = Vec::new();
    let mut todo = vec![root];
    while let Some(p) = todo.pop() {
        if let Some(kids) = by_parent.get(&p) {
            for &k in kids {
                out.push(k);
                todo.push(k);
            }
        }
    }
    out
}

/// The PID namespace of `pid` (`pid:[inode]`).
pub fn pid_ns(pid: i32) -> Option<String> {
    fs::read_link(format!("/proc/{pid}/ns/pid"))
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
}

/// Every live process in the PID namespace `ns`.
pub fn procs_in_pid_ns(ns: &str) -> Vec<i32> {
    all_pids()
        .into_iter()
        .map(|(p, _)| p)
        .filter(|&p| pid_ns(p).as_deref() == Some(ns))
        .collect()
}

/// The zombies among `pids`.
pub fn zombies(pids: &[i32]) -> Vec<i32> {
    pids.iter()
        .copied()
        .filter(|&p| stat(p).is_some_and(|s| s.state == 'Z'))
        .collect()
}

/// SIGKILLs a process on drop if it still runs: cleanup of a process that outlives the run (an orphan
/// of a subreaper-mode reaper, or of a reaper that broke its contract), even when the test panics.
/// The process is known by pid and start time, so a recycled pid is never hit.
pub struct KillOnDrop {
    pid: i32,
    start: Option<u64>,
}

fn start_time(pid: i32) -> Option<u64> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Field 22 of /proc/PID/stat; fields counted from the state (field 3), after the comm.
    s[s.rfind(')')? + 2..]
        .split_whitespace()
        .nth(19)?
        .parse()
        .ok()
}

impl KillOnDrop {
    pub fn new(pid: i32) -> KillOnDrop {
        KillOnDrop {
            pid,
            start: start_time(pid),
        }
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if self.pid > 1 && self.start.is_some() && start_time(self.pid) == self.start {
            let _ = sys::kill(self.pid, sys::SIGKILL);
        }
    }
}

/// Is `pid` gone (or a zombie nobody we know will reap)?
pub fn is_gone(pid: i32) -> bool {
    stat(pid).is_none_or(|s| s.state == 'Z' || s.state == 'X')
}

/// A pipe with both ends close-on-exec: (read, write).
#[allow(unsafe_code)] // pipe2 with O_CLOEXEC: libc calls std does not wrap.
pub fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: fds has room for two descriptors.
    let r = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(r, 0, "pipe2: {}", io::Error::last_os_error());
    // SAFETY: both descriptors are fresh and owned by nobody else.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// A pseudo-terminal. Both ends are close-on-exec (no leak into other tests' children).
pub struct Pty {
    pub master: OwnedFd,
    pub slave: OwnedFd,
}

impl Pty {
    #[allow(unsafe_code)] // posix_openpt/grantpt/unlockpt/ptsname: libc calls std does not wrap.
    pub fn open() -> Pty {
        // SAFETY: plain libc calls; every result is checked.
        unsafe {
            let m = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
            assert!(m >= 0, "posix_openpt: {}", io::Error::last_os_error());
            let master = OwnedFd::from_raw_fd(m);
            assert_eq!(libc::grantpt(m), 0, "grantpt");
            assert_eq!(libc::unlockpt(m), 0, "unlockpt");
            let mut name = [0 as libc::c_char; 128];
            assert_eq!(
                libc::ptsname_r(m, name.as_mut_ptr(), name.len()),
                0,
                "ptsname_r"
            );
            let s = libc::open(
                name.as_ptr(),
                libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
            );
            assert!(s >= 0, "open slave: {}", io::Error::last_os_error());
            Pty {
                master,
                slave: OwnedFd::from_raw_fd(s),
            }
        }
    }

    /// A duplicate of the slave (to hand to a child).
    pub fn slave_dup(&self) -> OwnedFd {
        self.slave.try_clone().expect("dup slave")
    }

    /// Reads from the master until `accum` contains `pattern`; panics after `timeout`.
    #[allow(unsafe_code)] // poll/read on the pty master: libc calls std does not wrap.
    pub fn read_until(&self, accum: &mut String, pattern: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !accum.contains(pattern) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                panic!("terminal never showed {pattern:?}; it showed {accum:?}");
            }
            let mut pfd = libc::pollfd {
                fd: self.master.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            let r = unsafe { libc::poll(&mut pfd, 1, left.as_millis().min(100) as i32) };
            if r <= 0 {
                continue;
            }
            let mut buf = [0u8; 4096];
            // SAFETY: buf is writable for its length.
            let n =
                unsafe { libc::read(self.master.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                panic!("terminal closed before showing {pattern:?}; it showed {accum:?}");
            }
            accum.push_str(&String::from_utf8_lossy(&buf[..n as usize]));
        }
    }

    /// Types `s` on the terminal.
    pub fn write(&self, s: &str) {
        let mut f = File::from(self.master.try_clone().expect("dup master"));
        f.write_all(s.as_bytes()).expect("write to pty master");
    }

    /// The terminal's foreground process group (host pid numbering), via the master.
    #[allow(unsafe_code)] // TIOCGPGRP ioctl: libc calls std does not wrap.
    pub fn foreground(&self) -> i32 {
        let mut pgrp: libc::pid_t = 0;
        // SAFETY: TIOCGPGRP writes one pid_t.
        let r = unsafe { libc::ioctl(self.master.as_raw_fd(), libc::TIOCGPGRP, &mut pgrp) };
        assert_eq!(r, 0, "TIOCGPGRP: {}", io::Error::last_os_error());
        pgrp
    }
}

/// Reads a whole file descriptor to a string (for a pipe read end).
pub fn read_fd(fd: OwnedFd) -> String {
    let mut s = String::new();
    let _ = File::from(fd).read_to_string(&mut s);
    s
}

/// A `pre_exec` closure that moves the process into a private mount namespace and bind-mounts
/// `passwd` and `group` over /etc/passwd and /etc/group (hermetic user database for `--user` tests).
#[allow(unsafe_code)] // the user database is bind-mounted in a child before exec: libc calls std does not wrap.
pub fn fake_user_db(
    passwd: &Path,
    group: &Path,
) -> impl FnMut() -> io::Result<()> + Send + Sync + 'static {
    let c = |p: &Path| CString::new(p.as_os_str().as_bytes()).expect("path");
    let (pw, gr) = (c(passwd), c(group));
    let (etc_pw, etc_gr) = (c(Path::new("/etc/passwd")), c(Path::new("/etc/group")));
    let root = c(Path::new("/"));
    move || {
        // SAFETY: system calls with valid C strings, in the forked child.
        unsafe {
            if libc::unshare(libc::CLONE_NEWNS) != 0 {
                return Err(io::Error::last_os_error());
            }
            let none = std::ptr::null();
            if libc::mount(
                none,
                root.as_ptr(),
                none,
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
            for (src, dst) in [(&pw, &etc_pw), (&gr, &etc_gr)] {
                if libc::mount(
                    src.as_ptr(),
                    dst.as_ptr(),
                    none,
                    libc::MS_BIND,
                    std::ptr::null(),
                ) != 0
                {
                    return Err(io::Error::last_os_error());
                }
            }
        }
        Ok(())
    }
}

/// Writes an executable shell script into `dir` and returns its path.
pub fn script(dir: &TempDir, name: &str, body: &str) -> String {
    let p = dir.file(name);
    fs::write(&p, format!("#!/bin/sh\n{body}\n")).expect("write script");
    fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).expect("chmod");
    p
}
