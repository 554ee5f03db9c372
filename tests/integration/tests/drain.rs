//! Graceful drain (docs/reaper.md "Drains"; tini#180, dumb-init#212: no anchor has it): when PROGRAM
//! exits while other processes remain, reaper sends the drain signal (TERM) to all of them, waits up to
//! `--grace`, SIGKILLs what is left, waits for all and exits with PROGRAM's status. `--no-drain` exits
//! at once; by default an exit with nothing else running is immediate. As PID 1 and as subreaper.
use integration::{
    helper, is_gone, sys, wait_ready, wait_until, Init, KillOnDrop, Mode, Outcome, Running, SigLog,
    TempDir, DEADLINE, MODES,
};
use std::time::{Duration, Instant};

/// Slack on top of a grace period for the upper bound of a drain (2 shared cores, debug helpers).
/// Below the 5 s default grace, so a reaper that ignored `--grace` would fail.
const SLACK: Duration = Duration::from_millis(3500);

struct Left {
    log: SigLog,
    pid_in_ns: i32,
    out: Outcome,
    /// From the moment the test first saw a signal in the leftover's log (the drain started) to
    /// reaper's exit: measures the drain itself, whatever the start-up cost on a busy machine.
    drain: Option<Duration>,
    _dir: TempDir,
}

impl Left {
    /// The drain's duration (panics if the leftover never got a signal).
    fn drain(&self) -> Duration {
        self.drain
            .unwrap_or_else(|| panic!("the leftover never got a signal\n{}", self.out))
    }
}

/// `init forker bg --ready R --exit 7 -- sigcatch --ready R --log L LEFT_ARGS...`: PROGRAM starts a
/// leftover process, waits until it is ready, and exits 7 while it still runs.
fn leftover(init: Init, left_args: &[&str], timeout: Duration) -> Left {
    let dir = TempDir::new("drain");
    let (ready, log) = (dir.file("ready"), dir.file("log"));
    let run = init
        .args([
            helper!("forker"),
            "bg",
            "--ready",
            &ready,
            "--exit",
            "7",
            "--",
        ])
        .args([helper!("sigcatch"), "--ready", &ready, "--log", &log])
        .args(left_args)
        .spawn();
    let log = SigLog(log);
    let (out, drain) = wait_measuring_drain(run, &log, timeout);
    let pid_in_ns = integration::wait_ready(&ready).pid;
    Left {
        log,
        pid_in_ns,
        out,
        drain,
        _dir: dir,
    }
}

/// Waits for the run to end, and measures from the moment `log` first shows a signal (the drain
/// reached the leftover) to the exit.
fn wait_measuring_drain(
    run: Running,
    log: &SigLog,
    timeout: Duration,
) -> (Outcome, Option<Duration>) {
    let mut seen = None;
    let deadline = Instant::now() + timeout;
    while run.has_exited().is_none() && Instant::now() < deadline {
        if seen.is_none() && !log.read().is_empty() {
            seen = Some(Instant::now());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let out = run.wait(Duration::from_secs(1));
    let end = Instant::now();
    // A drain quicker than one poll: the signal shows up only now.
    if seen.is_none() && !log.read().is_empty() {
        seen = Some(end);
    }
    (out, seen.map(|t| end - t))
}

/// A leftover that ignores SIGTERM (it only logs it) is SIGKILLed after `--grace 1s`: reaper exits
/// with PROGRAM's 7 no sooner than the grace and not much later; the leftover got the TERM first and
/// is gone. The grace can be given as `1`, `1s`, `1000ms`, `-t`, or REAPER_GRACE.
#[test]
fn term_ignoring_leftover_is_killed_after_grace() {
    let graces: [(&[&str], Option<&str>); 4] = [
        (&["--grace", "1s"], None),
        (&["-t", "1000ms"], None),
        (&["-t", "1"], None),
        (&[], Some("1s")),
    ];
    for mode in MODES {
        for (args, env) in graces {
            let mut init = Init::reaper(mode).args(args);
            if let Some(g) = env {
                init = init.env("REAPER_GRACE", g);
            }
            let l = leftover(init, &["--exit-on", "none"], DEADLINE);
            l.out.assert_code(7);
            let grace = Duration::from_secs(1);
            assert!(
                l.out.elapsed >= grace,
                "{mode:?} {args:?}: exited before the grace\n{}",
                l.out
            );
            assert!(
                l.drain() < grace + SLACK,
                "{mode:?} {args:?}: far too slow\n{}",
                l.out
            );
            assert_eq!(
                l.log.read(),
                vec![sys::SIGTERM],
                "{mode:?}: the drain sends TERM once, then KILL"
            );
            if mode == Mode::Subreaper {
                assert!(is_gone(l.pid_in_ns), "{mode:?}: the leftover must be dead");
            }
        }
    }
}

/// A leftover that exits on TERM ends the drain at once: no grace delay (default grace 5 s).
#[test]
fn drain_ends_as_soon_as_leftovers_exit() {
    for mode in MODES {
        let l = leftover(Init::reaper(mode), &[], DEADLINE);
        l.out.assert_code(7);
        assert!(
            l.drain() < Duration::from_millis(2500),
            "{mode:?}: drain waited needlessly\n{}",
            l.out
        );
        assert_eq!(l.log.read(), vec![sys::SIGTERM], "{mode:?}");
    }
}

/// `--drain-signal USR1` (and REAPER_DRAIN_SIGNAL): the drain's first signal is USR1.
#[test]
fn drain_signal_is_configurable() {
    for mode in MODES {
        for env in [false, true] {
            let init = if env {
                Init::reaper(mode).env("REAPER_DRAIN_SIGNAL", "USR1")
            } else {
                Init::reaper(mode).args(["--drain-signal", "SIGUSR1"])
            };
            let l = leftover(init, &["--exit-on", "USR1"], DEADLINE);
            l.out.assert_code(7);
            assert_eq!(l.log.read(), vec![sys::SIGUSR1], "{mode:?} env={env}");
            assert!(l.drain() < Duration::from_millis(2500), "{}", l.out);
        }
    }
}

/// `--no-drain` (and REAPER_NO_DRAIN=1): reaper exits as soon as PROGRAM does, even with a 10 s grace
/// and a leftover that ignores TERM (as PID 1 the kernel then kills the namespace).
#[test]
fn no_drain_exits_at_once() {
    for mode in MODES {
        for env in [false, true] {
            let init = if env {
                Init::reaper(mode)
                    .env("REAPER_NO_DRAIN", "1")
                    .args(["--grace", "10s"])
            } else {
                Init::reaper(mode).args(["--no-drain", "--grace", "10s"])
            };
            let l = leftover(init, &["--exit-on", "none"], DEADLINE);
            // As a subreaper the leftover outlives reaper (it ignores TERM): killed when done.
            let _left = (mode == Mode::Subreaper).then(|| KillOnDrop::new(l.pid_in_ns));
            l.out.assert_code(7);
            assert!(
                l.out.elapsed < Duration::from_secs(8),
                "{mode:?}: --no-drain waited\n{}",
                l.out
            );
            assert!(
                !l.log.read().contains(&sys::SIGTERM),
                "{mode:?}: --no-drain must not signal leftovers"
            );
            if mode == Mode::Subreaper {
                assert!(
                    !is_gone(l.pid_in_ns),
                    "{mode:?}: --no-drain must leave the leftover alone\n{}",
                    l.out
                );
            }
        }
    }
}

/// With nothing else running, the default (5 s grace, drain on) costs nothing: exit is immediate.
#[test]
fn default_exit_is_immediate_when_nothing_else_runs() {
    for mode in MODES {
        for _ in 0..5 {
            let out = Init::reaper(mode).args(["sh", "-c", "exit 5"]).run();
            out.assert_code(5);
            assert!(
                out.elapsed < Duration::from_millis(4000),
                "{mode:?}: delayed exit\n{out}"
            );
        }
        // Orphans that already exited do not count as "remaining" either.
        let out = Init::reaper(mode)
            .args([
                helper!("forker"),
                "named",
                "a:exit=0",
                "b:exit=0",
                "--exit",
                "6",
            ])
            .run();
        out.assert_code(6);
        assert!(
            out.elapsed < Duration::from_millis(4000),
            "{mode:?}: delayed exit\n{out}"
        );
    }
}

/// The drain reaches leftovers that left PROGRAM's group and session (setsid): as PID 1 the whole
/// namespace, as a subreaper every descendant.
#[test]
fn drain_reaches_other_sessions() {
    for mode in MODES {
        let l = leftover(
            Init::reaper(mode).args(["-t", "1s"]),
            &["--setsid", "--exit-on", "none"],
            DEADLINE,
        );
        l.out.assert_code(7);
        assert_eq!(l.log.read(), vec![sys::SIGTERM], "{mode:?}");
        assert!(l.out.elapsed >= Duration::from_secs(1), "{}", l.out);
        if mode == Mode::Subreaper {
            assert!(
                is_gone(l.pid_in_ns),
                "{mode:?}: leftover in another session survived"
            );
        }
    }
}

/// When reaper is told to stop (SIGTERM while PROGRAM runs): PROGRAM gets the TERM and exits 3; the
/// TERM-ignoring leftover is drained (TERM, then KILL after the 1 s grace); reaper exits 3.
/// A second SIGTERM during the drain ends the grace period at once (grace 30 s here).
#[test]
fn stop_request_and_term_during_drain() {
    for mode in MODES {
        for second_term in [false, true] {
            let dir = TempDir::new("stop");
            let (r1, l1, r2, l2) = (
                dir.file("r1"),
                dir.file("l1"),
                dir.file("r2"),
                dir.file("l2"),
            );
            let sc = helper!("sigcatch");
            let script = format!(
                "{sc} --ready {r2} --log {l2} --exit-on none & exec {sc} --ready {r1} --log {l1} --exit-code 3"
            );
            let grace = if second_term { "30s" } else { "1s" };
            let mut run = Init::reaper(mode)
                .args(["--grace", grace, "sh", "-c", &script])
                .spawn();
            wait_ready(&r1);
            wait_ready(&r2);
            run.init_pid();
            let t0 = Instant::now();
            run.signal(sys::SIGTERM);
            let (main, left) = (SigLog(l1), SigLog(l2));
            main.expect(sys::SIGTERM, DEADLINE);
            left.expect(sys::SIGTERM, DEADLINE);
            if second_term {
                run.signal(sys::SIGTERM);
            }
            let out = run.wait(DEADLINE);
            let since_term = t0.elapsed();
            out.assert_code(3);
            if second_term {
                assert!(
                    since_term < Duration::from_secs(10),
                    "{mode:?}: TERM during drain ignored\n{out}"
                );
            } else {
                assert!(
                    since_term >= Duration::from_secs(1),
                    "{mode:?}: killed before the grace\n{out}"
                );
                assert!(
                    since_term < Duration::from_secs(1) + SLACK,
                    "{mode:?}: slow\n{out}"
                );
            }
            assert_eq!(main.read(), vec![sys::SIGTERM]);
        }
    }
}

/// Drain hang guard: a leftover that ignores TERM *and* whose parent is still alive (not an orphan,
/// as a subreaper: a grandchild's child) is still killed; no hang.
#[test]
fn drain_kills_non_orphan_descendants() {
    for mode in MODES {
        let dir = TempDir::new("deep");
        let (r, l) = (dir.file("r"), dir.file("l"));
        let sc = helper!("sigcatch");
        // sh (leftover, waits for its child) -> sigcatch (ignores TERM); PROGRAM exits 9 once ready.
        let inner = format!("trap '' TERM; {sc} --ready {r} --log {l} --exit-on none; exit 0");
        let run = Init::reaper(mode)
            .args([
                "-t",
                "1s",
                helper!("forker"),
                "bg",
                "--ready",
                &r,
                "--exit",
                "9",
                "--",
                "sh",
                "-c",
                &inner,
            ])
            .spawn();
        let (out, drain) = wait_measuring_drain(run, &SigLog(l), DEADLINE);
        out.assert_code(9);
        let drain = drain.unwrap_or_else(|| panic!("the deep leftover got no TERM\n{out}"));
        assert!(
            out.elapsed >= Duration::from_secs(1),
            "{mode:?}: killed before the grace\n{out}"
        );
        assert!(
            drain < Duration::from_secs(1) + SLACK,
            "{mode:?}: drain took {drain:?}\n{out}"
        );
        let pid = wait_ready(&r).pid;
        if mode == Mode::Subreaper {
            wait_until("the deep leftover to be gone", DEADLINE, || is_gone(pid));
        }
    }
}
