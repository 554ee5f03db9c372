//! No signal is ever sent to PROGRAM's pid once PROGRAM has been reaped (docs/reaper.md, "Forwards"):
//! from that moment the number is free and the kernel may give it to any new process, which a late
//! `kill` would then hit.
//!
//! The window is the instant between the reaping wait returning PROGRAM's pid and reaper forgetting
//! that pid. A signal pending at that instant is handled right there: the kernel delivers pending
//! signals on the way out of the system call. The test holds the window open: reaper runs under
//! strace, which makes every `wait4` return 20 ms late (`inject=wait4:delay_exit`), while two threads
//! keep SIGWINCH pending on reaper; PROGRAM is then told to exit. In the trace the test finds
//! `wait4(...) = PROGRAM`, requires that a SIGWINCH was handled after it (the window was exercised),
//! and asserts that no `kill` after it names PROGRAM's pid or group. Any such kill is the defect
//! whether or not the pid was already recycled (on a busy machine it often is, within microseconds):
//! checking every kill is stricter than waiting for a recycled pid to be hit.
use integration::{helper, sys, tool, wait_ready, wait_until, TempDir, DEADLINE};
use std::fs;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// One run; returns Some(trace) when a SIGWINCH was handled after PROGRAM was reaped.
fn run_once(flags: &[&str]) -> Option<String> {
    let dir = TempDir::new("pidreuse");
    let (ready, log, trace) = (dir.file("ready"), dir.file("log"), dir.file("trace"));
    let mut child = Command::new(tool("strace"))
        .args([
            "-qq",
            "-e",
            "trace=wait4,waitid,kill",
            "-e",
            "signal=SIGWINCH",
            "-o",
            &trace,
        ])
        // Every wait4 returns 20 ms late: a signal sent meanwhile is pending when it returns, and is
        // handled right there, in the window.
        .args(["-e", "inject=wait4:delay_exit=20000"])
        .arg(integration::reaper_bin())
        .args(flags)
        .args([
            helper!("sigcatch"),
            "--ready",
            &ready,
            "--log",
            &log,
            "--exit-on",
            "12",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("strace");
    let ready = wait_ready(&ready);
    let strace_pid = child.id() as i32;
    let mut reaper = 0;
    wait_until("reaper under strace", DEADLINE, || {
        reaper = integration::children(strace_pid)
            .first()
            .copied()
            .unwrap_or(0);
        reaper != 0
            && fs::read_link(format!("/proc/{reaper}/exe"))
                .is_ok_and(|e| e == integration::reaper_bin())
    });
    let flooding = Arc::new(AtomicBool::new(true));
    let floods: Vec<_> = (0..2)
        .map(|_| {
            let flooding = flooding.clone();
            std::thread::spawn(move || {
                while flooding.load(Ordering::Relaxed) {
                    if sys::kill(reaper, sys::SIGWINCH).is_err() {
                        break;
                    }
                }
            })
        })
        .collect();
    // PROGRAM exits on USR2 (lower than WINCH, so it is taken first while WINCH stays pending).
    let _ = sys::kill(reaper, sys::SIGUSR2);
    let status = child.wait().expect("wait strace");
    flooding.store(false, Ordering::Relaxed);
    for f in floods {
        f.join().expect("flood thread");
    }
    assert!(status.success(), "reaper under strace: {status:?}");
    let text = fs::read_to_string(&trace).expect("trace");
    let main = ready.pid;
    let reaped_at = text
        .lines()
        .position(|l| {
            l.starts_with("wait4(")
                && l.trim_end_matches(" (DELAYED)")
                    .ends_with(&format!(" = {main}"))
        })
        .unwrap_or_else(|| panic!("no wait4 returning PROGRAM's pid {main} in the trace:\n{text}"));
    let after: Vec<&str> = text.lines().skip(reaped_at + 1).collect();
    let late_kills: Vec<&&str> = after
        .iter()
        .filter(|l| {
            l.starts_with(&format!("kill({main},")) || l.starts_with(&format!("kill(-{main},"))
        })
        .collect();
    assert!(
        late_kills.is_empty(),
        "{flags:?}: reaper signalled PROGRAM's pid {main} after reaping it: {late_kills:?}\ntrace after the reap:\n{}",
        after.join("\n")
    );
    let hit = after.iter().any(|l| l.starts_with("--- SIGWINCH"));
    hit.then_some(text)
}

#[test]
fn no_signal_to_programs_pid_after_it_is_reaped() {
    // reaper's persona (one blocking wait4, or with -v a waitid that peeks at the name first, then
    // wait4), and tini's (which exits at once), by --compat.
    for flags in [&[][..], &["-v"], &["--compat", "tini", "-vv"]] {
        let exercised = (0..3).filter_map(|_| run_once(flags)).count();
        assert!(
            exercised > 0,
            "{flags:?}: in 3 runs no SIGWINCH was handled after PROGRAM was reaped: the window \
             was never exercised"
        );
        println!("{flags:?}: window exercised in {exercised} of 3 runs");
    }
}
