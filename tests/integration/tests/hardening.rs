//! reaper under a bad day (docs/reaper.md "Logs never block", "Signals that are reaper's own"):
//!
//! - stderr a full pipe nobody reads, at every verbosity and with `-w`: no zombie is left, PROGRAM's
//!   exit is acted on at once, and the dropped lines are counted and reported once the pipe drains;
//! - stderr a closed pipe: reaper's own SIGPIPE is never forwarded (PROGRAM's status comes back),
//!   while a SIGPIPE *sent* to reaper is;
//! - stdout and stderr closed: reaper still reaps and exits with PROGRAM's status;
//! - a storm of real-time signals during an orphan storm: every signal reaches PROGRAM exactly as
//!   many times as it was sent, and no zombie is left;
//! - `reaper pause` refuses a PROGRAM.
use integration::{
    helper, pipe, poll_until, sys, wait_file, wait_ready, zombies, Init, Mode, Running, SigLog,
    TempDir, DEADLINE, MODES,
};
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// Polls until no process of the run is a zombie.
fn assert_no_zombies(run: &mut Running, what: &str) {
    let mut left = Vec::new();
    let ok = poll_until(Duration::from_secs(60), || {
        left = zombies(&run.processes());
        left.is_empty()
    });
    assert!(
        ok,
        "{what}: {} zombies left: {:?}",
        left.len(),
        &left[..left.len().min(10)]
    );
}

/// `init` with its stderr (and PROGRAM's, inherited) on `fd` instead of a file.
#[allow(unsafe_code)] // dup2 in the child: libc calls std does not wrap
fn stderr_to(init: Init, fd: &OwnedFd) -> Init {
    let raw = fd.as_raw_fd();
    init.pre_exec(move || {
        // SAFETY: dup2 is async-signal-safe, in the forked child.
        if unsafe { libc::dup2(raw, 2) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    })
}

/// Fills the pipe whose write end is `w` until a write would block (the reader never reads).
#[allow(unsafe_code)] // fcntl/write on a pipe: libc calls std does not wrap
fn fill(w: &OwnedFd) {
    let fd = w.as_raw_fd();
    // SAFETY: plain fcntl/write on our own descriptor.
    unsafe {
        let fl = libc::fcntl(fd, libc::F_GETFL);
        libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK);
        let mut buf = [b'x'; 4096];
        buf[4095] = b'\n';
        while libc::write(fd, buf.as_ptr().cast(), buf.len()) > 0 {}
        libc::fcntl(fd, libc::F_SETFL, fl);
    }
}

/// Reads what the pipe holds now, without waiting for more.
#[allow(unsafe_code)] // fcntl/read on a pipe: libc calls std does not wrap
fn drain_now(r: &OwnedFd) {
    let fd = r.as_raw_fd();
    let mut buf = [0u8; 65536];
    // SAFETY: plain fcntl/read on our own descriptor.
    unsafe {
        let fl = libc::fcntl(fd, libc::F_GETFL);
        libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK);
        while libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) > 0 {}
        libc::fcntl(fd, libc::F_SETFL, fl);
    }
}

/// stderr is a pipe that is already full and that nobody reads (a stalled log driver). At every
/// verbosity, with and without `-w`, as PID 1 and as subreaper: 3,000 orphans leave no zombie, and
/// once PROGRAM has been told to go (SIGTERM, forwarded) reaper exits with its status within the
/// deadline. Then the pipe is drained: the line reporting the dropped count gets through at exit.
#[test]
fn full_stderr_pipe_never_stops_reaping() {
    let flags: [&[&str]; 6] = [&[], &["-w"], &["-v"], &["-vv"], &["-vvv"], &["-w", "-vvv"]];
    for mode in MODES {
        for f in flags {
            let what = format!("{mode:?} {f:?}");
            let (r, w) = pipe();
            fill(&w);
            let dir = TempDir::new("fullpipe");
            let ready = dir.file("ready");
            let init = Init::reaper(mode).args(f).args([
                helper!("forker"),
                "storm",
                "3000",
                "--ready",
                &ready,
                "--exit",
                "42",
            ]);
            let mut run = stderr_to(init, &w).spawn();
            drop(w);
            wait_file(&ready, Duration::from_secs(120));
            assert_no_zombies(&mut run, &what);
            // Empty the pipe, then let reaper finish: its report must get through now.
            drain_now(&r);
            let mut reader = File::from(r);
            let reading = std::thread::spawn(move || {
                let mut all = Vec::new();
                let _ = reader.read_to_end(&mut all);
                String::from_utf8_lossy(&all).into_owned()
            });
            let t = Instant::now();
            run.signal(sys::SIGTERM);
            let out = run.wait(DEADLINE);
            out.assert_code(42);
            let text = reading.join().expect("reader");
            let logs_something = !f.is_empty();
            if logs_something {
                let dropped = text.lines().find_map(|l| {
                    l.strip_prefix("reaper: ")?
                        .strip_suffix(" log line(s) dropped: stderr was full or closed")?
                        .parse::<u64>()
                        .ok()
                });
                assert!(
                    dropped.is_some_and(|n| n > 0),
                    "{what}: no drop report after the pipe drained (exit took {:?}); stderr tail: {:?}",
                    t.elapsed(),
                    &text[text.len().saturating_sub(600)..]
                );
            }
        }
    }
}

/// stderr is a pipe whose reader is gone: each `-w` line makes the kernel raise SIGPIPE in reaper.
/// That SIGPIPE is reaper's own: PROGRAM (sigcatch, which logs every signal) never gets it, and
/// reaper exits with PROGRAM's status (7), not 141. A SIGPIPE another process sends to reaper is
/// forwarded like any signal.
#[test]
fn own_sigpipe_is_never_forwarded_sent_one_is() {
    for mode in MODES {
        let what = format!("{mode:?}");
        let (r, w) = pipe();
        drop(r);
        let dir = TempDir::new("brokenpipe");
        let (ready, log, storm) = (dir.file("ready"), dir.file("log"), dir.file("storm"));
        let script = format!(
            "({} storm 200 --ready {storm} &) ; exec {} --ready {ready} --log {log} --exit-code 7",
            helper!("forker"),
            helper!("sigcatch")
        );
        let init = Init::reaper(mode).args(["-w", "-vvv", "/bin/sh", "-c", &script]);
        let mut run = stderr_to(init, &w).spawn();
        drop(w);
        wait_ready(&ready);
        wait_file(&storm, Duration::from_secs(60));
        assert_no_zombies(&mut run, &what);
        let caught = SigLog(log.clone());
        // A marker first: whatever reaper forwarded before it has been logged by then.
        run.signal(sys::SIGUSR1);
        caught.expect(sys::SIGUSR1, DEADLINE);
        assert!(
            !caught.read().contains(&sys::SIGPIPE),
            "{what}: reaper forwarded its own SIGPIPE: {:?}",
            caught.read()
        );
        run.signal(sys::SIGPIPE);
        caught.expect(sys::SIGPIPE, DEADLINE);
        run.signal(sys::SIGTERM);
        let out = run.wait(DEADLINE);
        out.assert_code(7);
        assert_eq!(
            caught.read(),
            vec![sys::SIGUSR1, sys::SIGPIPE, sys::SIGTERM],
            "{what}: signals PROGRAM got"
        );
    }
}

/// stdout and stderr closed (fds 1 and 2 not open at all): with `-w -vvv` reaper still reaps 500
/// orphans and exits with PROGRAM's status.
#[test]
#[allow(unsafe_code)] // closing fds in the child: libc calls std does not wrap
fn closed_stdout_and_stderr() {
    for mode in MODES {
        let dir = TempDir::new("closed");
        let ready = dir.file("ready");
        // SAFETY (in the closure): close is async-signal-safe.
        let init = Init::reaper(mode)
            .args([
                "-w",
                "-vvv",
                helper!("forker"),
                "storm",
                "500",
                "--ready",
                &ready,
            ])
            .args(["--exit", "3"])
            .pre_exec(|| {
                // SAFETY: close is async-signal-safe; the forked child gives up its stdout/stderr.
                unsafe {
                    libc::close(1);
                    libc::close(2);
                }
                Ok(())
            });
        let mut run = init.spawn();
        wait_file(&ready, Duration::from_secs(60));
        assert_no_zombies(&mut run, &format!("{mode:?}"));
        run.signal(sys::SIGTERM);
        run.wait(DEADLINE).assert_code(3);
    }
}

/// A storm of 4 x 400 real-time signals (they queue: none may be lost or doubled) sent to reaper
/// while 5,000 orphans are made and reaped: PROGRAM logs each signal exactly 400 times, and no zombie
/// is left. As PID 1 and as subreaper.
#[test]
fn signal_storm_during_orphan_storm_exact_counts() {
    const EACH: usize = 400;
    let sigs = [35, 36, 37, 38]; // SIGRTMIN+1..+4 (glibc numbering)
    for mode in MODES {
        let what = format!("{mode:?}");
        let dir = TempDir::new("storms");
        let (ready, log, storm) = (dir.file("ready"), dir.file("log"), dir.file("storm"));
        let script = format!(
            "({} storm 5000 --ready {storm} &) ; exec {} --ready {ready} --log {log}",
            helper!("forker"),
            helper!("sigcatch")
        );
        let mut run = Init::reaper(mode).args(["/bin/sh", "-c", &script]).spawn();
        wait_ready(&ready);
        let pid = run.init_pid();
        for _ in 0..EACH {
            for &s in &sigs {
                sys::kill(pid, s).unwrap_or_else(|e| panic!("{what}: kill {s}: {e}"));
            }
        }
        let caught = SigLog(log);
        for &s in &sigs {
            assert!(
                caught.wait_count(s, EACH, Duration::from_secs(60)),
                "{what}: signal {s} reached PROGRAM {} times of {EACH}",
                caught.count(s)
            );
        }
        wait_file(&storm, Duration::from_secs(120));
        assert_no_zombies(&mut run, &what);
        run.signal(sys::SIGTERM);
        run.wait(DEADLINE).assert_code(0);
        for &s in &sigs {
            assert_eq!(caught.count(s), EACH, "{what}: signal {s}, exact count");
        }
    }
}

/// `reaper pause` runs no PROGRAM: `reaper pause -- true` and `reaper pause -t0 255` are usage errors
/// (exit 2) that name the stray argument, instead of pausing forever.
#[test]
fn pause_subcommand_refuses_a_program() {
    for args in [&["pause", "--", "true"][..], &["pause", "-t0", "255"]] {
        let out = Init::reaper(Mode::Subreaper).args(args).run();
        out.assert_code(2);
        let stray = args[args.len() - 1];
        assert!(
            out.stderr.contains(&format!("'{stray}'")) && out.stderr.contains("runs no PROGRAM"),
            "{args:?}: {out}"
        );
    }
}

/// stderr a closed pipe and PROGRAM cannot be run: the child's message cannot be written, and the
/// SIGPIPE of that write must not replace the exit status: 127 (not found), not 141.
#[test]
fn exec_failure_with_stderr_a_closed_pipe_exits_127() {
    for mode in MODES {
        let (r, w) = pipe();
        drop(r);
        let init = Init::reaper(mode).args(["-v", "/nonexistent/program"]);
        let run = stderr_to(init, &w).spawn();
        drop(w);
        let out = run.wait(DEADLINE);
        out.assert_code(127);
    }
}
