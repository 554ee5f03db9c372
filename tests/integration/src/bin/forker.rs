//! `forker`: process shapes for reaper to deal with.
//!
//! ```text
//! forker storm N [--ready FILE] [--exit CODE]
//!     makes N orphans (fork; the child forks a grandchild and exits at once; the grandchild exits),
//!     waits for its own children only, then writes `done` to FILE and waits for SIGTERM, and exits
//!     with CODE (default 0). Without --ready it exits with CODE as soon as the N orphans are made.
//! forker batch N CODE
//!     forks N children blocked on a pipe and exits with CODE: its exit closes the pipe, so the N
//!     children exit at the same moment as it does (one SIGCHLD batch; catatonit#4/#5).
//! forker named SPEC... [--exit CODE]
//!     one orphan per SPEC `NAME:exit=C` or `NAME:signal=N`: the orphan sets its comm to NAME with
//!     prctl(PR_SET_NAME) and exits with C or kills itself with N. Then exits with CODE.
//! forker bg --ready FILE [--exit CODE] -- CMD ARGS...
//!     starts CMD (not waited for: it becomes reaper's orphan), waits until FILE exists (CMD wrote
//!     it), and exits with CODE.
//! ```
//! Forks happen in a single-threaded process, so the children may do anything.
// A test helper process whose whole job is raw process and signal system calls (fork, masks,
// dispositions, ttys) that std does not wrap: unsafe is allowed here, a SAFETY comment per block.
#![allow(unsafe_code)]
use integration::sys;
use std::ffi::CString;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (cmd, rest) = args
        .split_first()
        .unwrap_or_else(|| die("missing subcommand"));
    match cmd.as_str() {
        "storm" => storm(rest),
        "batch" => batch(rest),
        "named" => named(rest),
        "bg" => bg(rest),
        other => die(&format!("unknown subcommand {other}")),
    }
}

fn opt(rest: &[String], name: &str) -> Option<String> {
    rest.iter().position(|a| a == name).map(|i| {
        rest.get(i + 1)
            .cloned()
            .unwrap_or_else(|| die(&format!("missing value for {name}")))
    })
}

fn exit_code(rest: &[String]) -> i32 {
    opt(rest, "--exit").map_or(0, |v| v.parse().unwrap_or_else(|_| die("bad --exit")))
}

fn fork() -> libc::pid_t {
    // SAFETY: this program is single-threaded.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        die(&format!("fork: {}", std::io::Error::last_os_error()));
    }
    pid
}

fn waitpid(pid: libc::pid_t) {
    let mut st = 0;
    // SAFETY: plain system call.
    while unsafe { libc::waitpid(pid, &mut st, 0) } < 0 {
        if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            die("waitpid");
        }
    }
}

fn storm(rest: &[String]) {
    let n: usize = rest
        .first()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| die("storm N"));
    for _ in 0..n {
        let child = fork();
        if child == 0 {
            let _ = fork(); // the grandchild and the child both exit at once
                            // SAFETY: _exit is always safe.
            unsafe { libc::_exit(0) };
        }
        waitpid(child);
    }
    if let Some(ready) = opt(rest, "--ready") {
        sys::sigprocmask(libc::SIG_BLOCK, sys::bit(sys::SIGTERM)).unwrap_or_else(|_| die("mask"));
        std::fs::write(&ready, "done\n").unwrap_or_else(|e| die(&format!("ready: {e}")));
        let _ = sys::sigwait(sys::bit(sys::SIGTERM));
    }
    std::process::exit(exit_code(rest));
}

fn batch(rest: &[String]) {
    let n: usize = rest
        .first()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| die("batch N CODE"));
    let code: i32 = rest
        .get(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| die("batch N CODE"));
    let mut fds = [0; 2];
    // SAFETY: fds has room for two descriptors.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } < 0 {
        die("pipe");
    }
    for _ in 0..n {
        if fork() == 0 {
            let mut b = 0u8;
            // SAFETY: plain system calls on our own descriptors.
            unsafe {
                libc::close(fds[1]);
                libc::read(fds[0], (&mut b as *mut u8).cast(), 1);
                libc::_exit(0);
            }
        }
    }
    // Our exit closes the write end: every child wakes up at once.
    // SAFETY: _exit is always safe.
    unsafe { libc::_exit(code) };
}

fn named(rest: &[String]) {
    let code = exit_code(rest);
    // Every orphan holds the write end of this pipe until it exits: EOF on the read end means all of
    // them are gone, so PROGRAM's own exit can never start a drain that kills a late orphan.
    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid array of two ints.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        die("pipe");
    }
    let mut skip = false;
    for spec in rest {
        if skip {
            skip = false;
            continue;
        }
        if spec == "--exit" {
            skip = true;
            continue;
        }
        let (name, how) = spec
            .split_once(':')
            .unwrap_or_else(|| die("NAME:exit=C|signal=N"));
        let cname = CString::new(name).unwrap_or_else(|_| die("name"));
        let (is_sig, val) = if let Some(c) = how.strip_prefix("exit=") {
            (false, c.parse::<i32>().unwrap_or_else(|_| die("exit=C")))
        } else if let Some(s) = how.strip_prefix("signal=") {
            (true, sys::parse(s).unwrap_or_else(|| die("signal=N")))
        } else {
            die("NAME:exit=C|signal=N")
        };
        let child = fork();
        if child == 0 {
            if fork() == 0 {
                // SAFETY: plain system calls in a single-threaded child.
                unsafe {
                    libc::close(fds[0]);
                    libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
                    libc::prctl(libc::PR_SET_NAME, cname.as_ptr() as libc::c_ulong, 0, 0, 0);
                    if is_sig {
                        let _ = sys::set_ignored(val, false);
                        let _ = sys::sigprocmask(libc::SIG_SETMASK, 0);
                        libc::kill(libc::getpid(), val);
                    }
                    libc::_exit(if is_sig { 99 } else { val });
                }
            }
            // SAFETY: _exit is always safe.
            unsafe { libc::_exit(0) };
        }
        waitpid(child);
    }
    // SAFETY: closing our own write end, then reading our own pipe into a valid buffer.
    unsafe {
        libc::close(fds[1]);
        let mut b = [0u8; 1];
        while libc::read(fds[0], b.as_mut_ptr().cast(), 1) != 0 {
            if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                break;
            }
        }
    }
    std::process::exit(code);
}

fn bg(rest: &[String]) {
    let ready = opt(rest, "--ready").unwrap_or_else(|| die("bg --ready FILE"));
    let code = exit_code(rest);
    let sep = rest
        .iter()
        .position(|a| a == "--")
        .unwrap_or_else(|| die("bg ... -- CMD"));
    let cmd = &rest[sep + 1..];
    let (prog, args) = cmd.split_first().unwrap_or_else(|| die("bg: no command"));
    let child = Command::new(prog)
        .args(args)
        .spawn()
        .unwrap_or_else(|e| die(&format!("spawn {prog}: {e}")));
    std::mem::forget(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !Path::new(&ready).exists() {
        if Instant::now() > deadline {
            die("timed out waiting for the ready file");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    std::process::exit(code);
}

fn die(msg: &str) -> ! {
    eprintln!("forker: {msg}");
    std::process::exit(100);
}
