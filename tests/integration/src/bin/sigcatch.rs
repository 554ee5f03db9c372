//! `sigcatch`: a program for reaper to run that logs every signal it receives.
//!
//! ```text
//! sigcatch --ready FILE --log FILE [--exit-on SIGS|none] [--exit-code N] [--ignore SIGS]
//!          [--setsid] [--child LOG READY]
//! ```
//!
//! It resets every disposition to the default (so nothing inherited changes its behaviour), sets the
//! `--ignore` ones to SIG_IGN, blocks every other signal except SIGKILL, SIGSTOP and the synchronous
//! ones, and collects them with `rt_sigtimedwait` (raw system calls: signals 32 and 33 included).
//! With `--child` it first starts another `sigcatch` in its own process group (a grandchild of reaper).
//! When ready it writes `pid=P pgid=G sid=S` to the ready file (atomically, by rename). Each signal
//! received is appended to the log as one line with its number; a signal of `--exit-on` (default TERM)
//! then makes it exit with `--exit-code` (default 0).
// A test helper process whose whole job is raw process and signal system calls (fork, masks,
// dispositions, ttys) that std does not wrap: unsafe is allowed here, a SAFETY comment per block.
#![allow(unsafe_code)]
use integration::sys;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::process::Command;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut ready = None;
    let mut log = None;
    let mut exit_on = vec![sys::SIGTERM];
    let mut exit_code = 0;
    let mut ignore = Vec::new();
    let mut setsid = false;
    let mut child: Option<(String, String)> = None;
    let mut i = 0;
    let val = |i: usize| -> String {
        args.get(i + 1)
            .cloned()
            .unwrap_or_else(|| die(&format!("missing value for {}", args[i])))
    };
    while i < args.len() {
        match args[i].as_str() {
            "--ready" => ready = Some(val(i)),
            "--log" => log = Some(val(i)),
            "--exit-on" => exit_on = sys::parse_list(&val(i)).unwrap_or_else(|e| die(&e)),
            "--exit-code" => exit_code = val(i).parse().unwrap_or_else(|_| die("bad --exit-code")),
            "--ignore" => ignore = sys::parse_list(&val(i)).unwrap_or_else(|e| die(&e)),
            "--setsid" => {
                setsid = true;
                i += 1;
                continue;
            }
            "--child" => {
                let l = val(i);
                let r = val(i + 1);
                child = Some((l, r));
                i += 3;
                continue;
            }
            other => die(&format!("unknown argument {other}")),
        }
        i += 2;
    }
    let ready = ready.unwrap_or_else(|| die("--ready is required"));
    let log = log.unwrap_or_else(|| die("--log is required"));

    if setsid {
        // SAFETY: plain system call.
        if unsafe { libc::setsid() } < 0 {
            die(&format!("setsid: {}", std::io::Error::last_os_error()));
        }
    }
    let mut wait_set: sys::SigSet = 0;
    for sig in 1..=sys::NSIG {
        if sig == sys::SIGKILL || sig == sys::SIGSTOP {
            continue;
        }
        let ign = ignore.contains(&sig);
        sys::set_ignored(sig, ign).unwrap_or_else(|e| die(&format!("sigaction {sig}: {e}")));
        if !ign && !sys::SYNCHRONOUS.contains(&sig) {
            wait_set |= sys::bit(sig);
        }
    }
    sys::sigprocmask(libc::SIG_SETMASK, wait_set).unwrap_or_else(|e| die(&format!("mask: {e}")));

    let mut grandchild = None;
    if let Some((clog, cready)) = child {
        let me = std::env::current_exe().unwrap_or_else(|e| die(&format!("current_exe: {e}")));
        let exit_list: Vec<String> = exit_on.iter().map(|s| s.to_string()).collect();
        let exit_list = if exit_list.is_empty() {
            "none".to_string()
        } else {
            exit_list.join(",")
        };
        grandchild = Some(
            Command::new(me)
                .args(["--ready", &cready, "--log", &clog, "--exit-on", &exit_list])
                .spawn()
                .unwrap_or_else(|e| die(&format!("spawn child: {e}"))),
        );
    }

    // SAFETY: plain system calls.
    let (pid, pgid, sid) = unsafe { (libc::getpid(), libc::getpgrp(), libc::getsid(0)) };
    let tmp = format!("{ready}.tmp");
    fs::write(&tmp, format!("pid={pid} pgid={pgid} sid={sid}\n"))
        .and_then(|_| fs::rename(&tmp, &ready))
        .unwrap_or_else(|e| die(&format!("ready file: {e}")));

    let mut out = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .unwrap_or_else(|e| die(&format!("log {log}: {e}")));
    loop {
        let sig = sys::sigwait(wait_set).unwrap_or_else(|e| die(&format!("sigwait: {e}")));
        // One write per line: readers never see half a line.
        out.write_all(format!("{sig}\n").as_bytes())
            .unwrap_or_else(|e| die(&format!("log: {e}")));
        if exit_on.contains(&sig) {
            // The grandchild is reaper's business (an orphan), not ours.
            std::mem::forget(grandchild);
            std::process::exit(exit_code);
        }
    }
}

fn die(msg: &str) -> ! {
    eprintln!("sigcatch: {msg}");
    std::process::exit(100);
}
