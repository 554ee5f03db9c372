//! `ttyctl`: terminal shapes for the foreground hand-off tests (stdin must be a terminal).
//!
//! ```text
//! ttyctl fg -- CMD...   new session, stdin becomes its controlling terminal, exec CMD (foreground)
//! ttyctl bg -- CMD...   same, but CMD runs in a new process group that is NOT the foreground;
//!                       ttyctl stays the foreground holder and exits with CMD's status
//! ttyctl probe [--read] [--wait-term]
//!                       prints `probe pid=P pgrp=G tpgid=T` (T = tcgetpgrp(0)); with --read prints
//!                       `prompt>`, reads one line from stdin and prints `got:LINE`; with --wait-term
//!                       waits for SIGTERM before exiting 0
//! ```
// A test helper process whose whole job is raw process and signal system calls (fork, masks,
// dispositions, ttys) that std does not wrap: unsafe is allowed here, a SAFETY comment per block.
#![allow(unsafe_code)]
use integration::sys;
use std::ffi::CString;
use std::io::{BufRead, Write};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (cmd, rest) = args
        .split_first()
        .unwrap_or_else(|| die("missing subcommand"));
    match cmd.as_str() {
        "fg" | "bg" => session(cmd == "bg", rest),
        "probe" => probe(rest),
        o => die(&format!("unknown subcommand {o}")),
    }
}

fn session(background: bool, rest: &[String]) {
    let cmd: Vec<CString> = rest
        .iter()
        .skip_while(|a| *a != "--")
        .skip(1)
        .map(|a| CString::new(a.as_str()).unwrap_or_else(|_| die("NUL")))
        .collect();
    if cmd.is_empty() {
        die("missing -- CMD");
    }
    // SAFETY: plain system calls; this program is single-threaded.
    unsafe {
        if libc::setsid() < 0 {
            die(&format!("setsid: {}", std::io::Error::last_os_error()));
        }
        if libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
            die(&format!("TIOCSCTTY: {}", std::io::Error::last_os_error()));
        }
        if background {
            let pid = libc::fork();
            if pid < 0 {
                die("fork");
            }
            if pid > 0 {
                let mut st = 0;
                libc::waitpid(pid, &mut st, 0);
                if libc::WIFEXITED(st) {
                    libc::_exit(libc::WEXITSTATUS(st));
                }
                libc::_exit(128 + libc::WTERMSIG(st));
            }
            libc::setpgid(0, 0);
        }
    }
    let mut argv: Vec<*const libc::c_char> = cmd.iter().map(|c| c.as_ptr()).collect();
    argv.push(std::ptr::null());
    // SAFETY: NULL-terminated argv of live C strings.
    unsafe { libc::execvp(argv[0], argv.as_ptr()) };
    die(&format!("exec: {}", std::io::Error::last_os_error()));
}

fn probe(rest: &[String]) {
    let has = |f: &str| rest.iter().any(|a| a == f);
    if has("--wait-term") {
        sys::sigprocmask(libc::SIG_BLOCK, sys::bit(sys::SIGTERM)).unwrap_or_else(|_| die("mask"));
    }
    // SAFETY: plain system calls.
    let (pid, pgrp, tpgid) = unsafe { (libc::getpid(), libc::getpgrp(), libc::tcgetpgrp(0)) };
    let mut out = std::io::stdout();
    let _ = writeln!(out, "probe pid={pid} pgrp={pgrp} tpgid={tpgid}");
    let _ = out.flush();
    if has("--read") {
        let _ = writeln!(out, "prompt>");
        let _ = out.flush();
        let mut line = String::new();
        if let Err(e) = std::io::stdin().lock().read_line(&mut line) {
            die(&format!("read: {e}"));
        }
        let _ = writeln!(out, "got:{}", line.trim_end());
        let _ = out.flush();
    }
    if has("--wait-term") {
        let _ = sys::sigwait(sys::bit(sys::SIGTERM));
    }
}

fn die(msg: &str) -> ! {
    eprintln!("ttyctl: {msg}");
    std::process::exit(100);
}
