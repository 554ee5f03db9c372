//! Signal forwarding (docs/reaper.md "Forwards", `-g`, `-S`, `--rewrite`, `-p`): every catchable
//! signal, real-time ones included, reaches PROGRAM; SIGCHLD and the synchronous signals do not;
//! group and session targets; rewrite and drop; the parent-death signal. The child is `sigcatch`,
//! which logs each signal it receives; each signal is sent only after the previous one was logged, so
//! classic signals cannot coalesce. Anchor bug: dumb-init#70 (real-time signals not forwarded).
use integration::personas_support::mask_has;
use integration::{
    helper, is_gone, stat, status_field, sys, tool, wait_ready, wait_until, Init, KillOnDrop, Mode,
    Ready, Running, SigLog, TempDir, DEADLINE, MODES,
};
use std::time::Duration;

const STEP: Duration = Duration::from_secs(10);

struct Catcher {
    run: Running,
    log: SigLog,
    ready: Ready,
    _dir: TempDir,
}

/// Starts `init INIT_ARGS... sigcatch --ready R --log L CATCH_ARGS...` and waits until it is ready.
fn catcher(init: Init, catch_args: &[&str]) -> Catcher {
    let dir = TempDir::new("sig");
    let (ready, log) = (dir.file("ready"), dir.file("log"));
    let mut run = init
        .arg(helper!("sigcatch"))
        .args(["--ready", &ready, "--log", &log])
        .args(catch_args)
        .spawn();
    let r = wait_ready(&ready);
    run.init_pid();
    Catcher {
        run,
        log: SigLog(log),
        ready: r,
        _dir: dir,
    }
}

/// Every forwardable signal (1..=64 minus KILL, STOP, CHLD and the synchronous ones; 32, 33 and 34
/// included, and SIGTTIN/SIGTTOU since stdin is no terminal) reaches the child, each exactly once and
/// in order; the last, SIGTERM, makes it exit 23 and reaper exits 23. PID 1 and subreaper.
#[test]
fn every_catchable_signal_reaches_the_child() {
    for mode in MODES {
        let mut c = catcher(Init::reaper(mode), &["--exit-code", "23"]);
        let mut sent = Vec::new();
        for sig in sys::forwardable()
            .into_iter()
            .filter(|&s| s != sys::SIGTERM)
        {
            c.run.signal(sig);
            sent.push(sig);
            c.log.expect(sig, STEP);
        }
        c.run.signal(sys::SIGTERM);
        sent.push(sys::SIGTERM);
        let out = c.run.wait(DEADLINE);
        out.assert_code(23);
        assert_eq!(
            c.log.read(),
            sent,
            "{mode:?}: the child must get each signal exactly once, in order"
        );
    }
}

/// SIGCHLD is not forwarded: after it a USR1 marker arrives alone.
#[test]
fn chld_is_not_forwarded() {
    for mode in MODES {
        let mut c = catcher(Init::reaper(mode), &[]);
        c.run.signal(sys::SIGCHLD);
        c.run.signal(sys::SIGUSR1);
        c.log.expect(sys::SIGUSR1, STEP);
        c.run.signal(sys::SIGTERM);
        c.run.wait(DEADLINE).assert_code(0);
        assert_eq!(c.log.read(), vec![sys::SIGUSR1, sys::SIGTERM], "{mode:?}");
    }
}

/// A synchronous signal (ILL, TRAP, ABRT, BUS, FPE, SEGV, SYS) that another process *sent* to reaper
/// is forwarded like any other, in both modes: reaper survives it. `sigcatch` leaves these signals
/// their default action, so PROGRAM dies of it and reaper exits 128+N (after a USR1 marker shows
/// that nothing else reached it first).
#[test]
fn sent_synchronous_signals_are_forwarded() {
    for mode in MODES {
        for s in sys::SYNCHRONOUS {
            let mut c = catcher(Init::reaper(mode), &[]);
            c.run.signal(sys::SIGUSR1);
            c.log.expect(sys::SIGUSR1, STEP);
            let pid = c.run.init_pid();
            wait_until("reaper to catch the signal", DEADLINE, || {
                status_field(pid, "SigCgt").is_some_and(|m| mask_has(&m, s))
            });
            c.run.signal(s);
            let out = c.run.wait(DEADLINE);
            out.assert_code(128 + s);
            assert_eq!(c.log.read(), vec![sys::SIGUSR1], "{mode:?} signal {s}");
        }
    }
}

/// By default PROGRAM runs in its own process group (pgrp == pid) inside reaper's session, and only
/// PROGRAM (not the rest of its group) gets the signals. With `-g` (and REAPER_GROUP=1) the whole
/// group gets them: the grandchild too.
#[test]
fn group_forwarding() {
    for mode in MODES {
        for group in [None, Some("-g"), Some("--group"), Some("env")] {
            let dir = TempDir::new("grp");
            let (glog, gready) = (dir.file("glog"), dir.file("gready"));
            let mut init = Init::reaper(mode);
            match group {
                Some("env") => init = init.env("REAPER_GROUP", "1"),
                Some(flag) => init = init.arg(flag),
                None => {}
            }
            let mut c = catcher(init, &["--child", &glog, &gready]);
            let g = wait_ready(&gready);
            let gl = SigLog(glog);
            assert_eq!(
                c.ready.pgid, c.ready.pid,
                "{mode:?}: PROGRAM must lead its own process group"
            );
            assert_eq!(g.pgid, c.ready.pid, "grandchild must be in PROGRAM's group");
            let init_pid = c.run.init_pid();
            let child = c.run.main_child();
            let (ist, cst) = (stat(init_pid).unwrap(), stat(child).unwrap());
            assert_eq!(cst.pgrp, child, "{mode:?}: host view of PROGRAM's group");
            assert_eq!(
                cst.session, ist.session,
                "{mode:?}: without -S PROGRAM stays in reaper's session"
            );

            c.run.signal(sys::SIGUSR1);
            c.log.expect(sys::SIGUSR1, STEP);
            c.run.signal(sys::SIGUSR2);
            c.log.expect(sys::SIGUSR2, STEP);
            if group.is_some() {
                gl.expect(sys::SIGUSR1, STEP);
                gl.expect(sys::SIGUSR2, STEP);
            } else {
                // kill(-pgid) would have reached both at once; the child already logged two signals.
                assert_eq!(
                    gl.read(),
                    Vec::<i32>::new(),
                    "{mode:?}: without -g the grandchild must not get signals"
                );
            }
            // TERM ends both (directly with -g, through the drain without).
            c.run.signal(sys::SIGTERM);
            c.run.wait(DEADLINE).assert_code(0);
            assert!(
                gl.read().contains(&sys::SIGTERM),
                "{mode:?} {group:?}: grandchild log {:?}",
                gl.read()
            );
        }
    }
}

/// `-S`: PROGRAM is a session leader (session == pid, checked in /proc and from inside), the whole
/// group gets the signals, and SIGTSTP is forwarded as SIGSTOP (the child stops; SIGCONT resumes it).
#[test]
fn session_forwarding() {
    for mode in MODES {
        for how in ["-S", "--session", "env"] {
            let dir = TempDir::new("sess");
            let (glog, gready) = (dir.file("glog"), dir.file("gready"));
            let init = if how == "env" {
                Init::reaper(mode).env("REAPER_SESSION", "yes")
            } else {
                Init::reaper(mode).arg(how)
            };
            let mut c = catcher(init, &["--child", &glog, &gready]);
            let g = wait_ready(&gready);
            let gl = SigLog(glog);
            assert_eq!(
                c.ready.sid, c.ready.pid,
                "{mode:?} {how}: PROGRAM must lead a new session"
            );
            assert_eq!(g.sid, c.ready.pid);
            let child = c.run.main_child();
            let st = stat(child).unwrap();
            assert_eq!(
                st.session, child,
                "{mode:?} {how}: /proc/PID/stat session must equal pid"
            );
            assert_eq!(st.pgrp, child);

            c.run.signal(sys::SIGHUP);
            c.log.expect(sys::SIGHUP, STEP);
            gl.expect(sys::SIGHUP, STEP);

            c.run.signal(sys::SIGTSTP);
            wait_until(
                "PROGRAM to be stopped by the SIGSTOP that -S sends for SIGTSTP",
                STEP,
                || stat(child).is_some_and(|s| s.state == 'T'),
            );
            c.run.signal(sys::SIGCONT);
            c.log.expect(sys::SIGCONT, STEP);
            gl.expect(sys::SIGCONT, STEP);
            assert!(
                !c.log.read().contains(&sys::SIGTSTP),
                "with -S, TSTP must arrive as STOP"
            );

            c.run.signal(sys::SIGTERM);
            c.run.wait(DEADLINE).assert_code(0);
        }
    }
}

/// `-S`: a SIGCONT sent to reaper right after the SIGTSTP it turned into SIGSTOP has stopped PROGRAM
/// must still reach PROGRAM (a lost SIGCONT leaves the whole job stopped for ever). Repeated 200 times,
/// each time sending SIGCONT as soon as PROGRAM is seen stopped.
#[test]
fn session_sigcont_after_tstp_is_never_lost() {
    for mode in MODES {
        let mut c = catcher(Init::reaper(mode).arg("-S"), &[]);
        let child = c.run.main_child();
        for round in 1..=200 {
            c.run.signal(sys::SIGTSTP);
            wait_until("PROGRAM to be stopped", STEP, || {
                stat(child).is_some_and(|s| s.state == 'T')
            });
            c.run.signal(sys::SIGCONT);
            if !c.log.wait_count(sys::SIGCONT, round, STEP) {
                let init = c.run.init_pid();
                panic!(
                    "{mode:?} round {round}: SIGCONT lost; PROGRAM state {:?}, reaper state {:?}, log {:?}",
                    stat(child).map(|s| s.state),
                    stat(init).map(|s| s.state),
                    c.log.read()
                );
            }
        }
        c.run.signal(sys::SIGTERM);
        c.run.wait(DEADLINE).assert_code(0);
    }
}

/// `--rewrite FROM:TO` with names, SIG-prefixed names and numbers (real-time included), `TO` = 0
/// drops the signal, `-r` is repeatable and REAPER_REWRITE takes a comma-separated list.
#[test]
fn rewrite_and_drop() {
    // (A flag beats its variable, so the variable case carries the whole list.)
    type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>);
    let cases: Vec<Case> = vec![
        (
            vec!["--rewrite", "USR1:USR2", "-r", "HUP:0", "-r", "40:41"],
            vec![],
        ),
        (
            vec!["-r", "SIGUSR1:SIGUSR2", "-r", "SIGHUP:0", "-r", "40:41"],
            vec![],
        ),
        (vec!["-r", "10:12", "-r", "1:0", "-r", "40:41"], vec![]),
        (vec![], vec![("REAPER_REWRITE", "USR1:USR2,HUP:0,40:41")]),
    ];
    for mode in MODES {
        for (args, env) in &cases {
            let mut init = Init::reaper(mode).args(args);
            for (k, v) in env {
                init = init.env(k, v);
            }
            let mut c = catcher(init, &[]);
            // HUP is dropped: the next signal arrives first and alone.
            c.run.signal(sys::SIGHUP);
            c.run.signal(sys::SIGUSR1);
            c.log.expect(sys::SIGUSR2, STEP);
            c.run.signal(40);
            c.log.expect(41, STEP);
            c.run.signal(sys::SIGINT);
            c.log.expect(sys::SIGINT, STEP);
            c.run.signal(sys::SIGTERM);
            c.run.wait(DEADLINE).assert_code(0);
            assert_eq!(
                c.log.read(),
                vec![sys::SIGUSR2, 41, sys::SIGINT, sys::SIGTERM],
                "{mode:?} {args:?} {env:?}"
            );
        }
    }
}

/// Rewriting TERM to 0 keeps PROGRAM alive through a SIGTERM to reaper (it is dropped), and a
/// rewrite to another name reaches it as that signal.
#[test]
fn rewrite_term() {
    for mode in MODES {
        let mut c = catcher(
            Init::reaper(mode).args(["-r", "TERM:0", "-r", "INT:TERM"]),
            &[],
        );
        c.run.signal(sys::SIGTERM);
        c.run.signal(sys::SIGUSR1);
        c.log.expect(sys::SIGUSR1, STEP);
        c.run.signal(sys::SIGINT);
        c.run.wait(DEADLINE).assert_code(0);
        assert_eq!(c.log.read(), vec![sys::SIGUSR1, sys::SIGTERM], "{mode:?}");
    }
}

/// `-p TERM` (subreaper): reaper's parent (a shell) runs `reaper -p TERM sigcatch` in the background
/// and exits; the kernel sends TERM to reaper, which forwards it; the child logs it and exits.
#[test]
fn pdeathsig_subreaper() {
    for spec in [["-p", "TERM"], ["--pdeathsig", "SIGTERM"], ["-p", "15"]] {
        let dir = TempDir::new("pdeath");
        let (ready, log) = (dir.file("ready"), dir.file("log"));
        let reaper = integration::reaper_bin();
        let (stdin_r, stdin_w) = integration::pipe();
        let sh = Init::program("/bin/sh", Mode::Subreaper)
            .args(["-c", "\"$@\" & echo $! > \"$PIDFILE\"; read _", "sh"])
            .arg(&reaper)
            .args(spec)
            .args([
                helper!("sigcatch"),
                "--ready",
                &ready,
                "--log",
                &log,
                "--exit-code",
                "5",
            ])
            .env("PIDFILE", dir.file("pid"))
            .stdin(stdin_r)
            .spawn();
        let child = wait_ready(&ready).pid;
        // The shell creates the file before it writes the pid: wait for a whole line.
        let mut reaper_pid = 0;
        wait_until("the pid file to hold a pid", DEADLINE, || {
            let s = std::fs::read_to_string(dir.file("pid")).unwrap_or_default();
            reaper_pid = s
                .strip_suffix('\n')
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            reaper_pid > 0
        });
        // Both outlive the shell: killed if the test fails before they exit.
        let _guards = [KillOnDrop::new(child), KillOnDrop::new(reaper_pid)];
        drop(stdin_w); // the shell's `read` returns: reaper's parent exits
        sh.wait(DEADLINE);
        let l = SigLog(log);
        l.expect(sys::SIGTERM, STEP);
        wait_until("reaper to exit after its child", DEADLINE, || {
            is_gone(reaper_pid)
        });
        assert_eq!(l.read(), vec![sys::SIGTERM], "{spec:?}");
    }
}

/// `-p TERM` as PID 1: unshare (reaper's parent) is SIGKILLed; reaper gets TERM instead of the
/// SIGKILL unshare's --kill-child asked for, forwards it, and the child logs it.
#[test]
fn pdeathsig_pid1() {
    for env in [false, true] {
        let init = if env {
            Init::reaper(Mode::Pid1).env("REAPER_PDEATHSIG", "TERM")
        } else {
            Init::reaper(Mode::Pid1).args(["-p", "TERM"])
        };
        let mut c = catcher(init, &[]);
        let reaper_pid = c.run.init_pid();
        sys::kill(c.run.pid(), sys::SIGKILL).unwrap();
        c.log.expect(sys::SIGTERM, STEP);
        wait_until("reaper to exit", DEADLINE, || is_gone(reaper_pid));
        assert_eq!(c.log.read(), vec![sys::SIGTERM]);
    }
}

/// Differential, as PID 1: the classic signals that tini, dumb-init (-c) and catatonit all forward
/// also reach the child under reaper; the real-time ones reach it under reaper and tini
/// (dumb-init#70: dumb-init drops them).
#[test]
fn differential_forwarding_with_anchors() {
    let common = [
        sys::SIGHUP,
        sys::SIGINT,
        sys::SIGQUIT,
        sys::SIGUSR1,
        sys::SIGUSR2,
        sys::SIGPIPE,
        sys::SIGALRM,
        sys::SIGCONT,
        sys::SIGURG,
        sys::SIGWINCH,
    ];
    let rt = [34, 40, 64];
    let inits: Vec<(String, Init, bool)> = vec![
        ("reaper".into(), Init::reaper(Mode::Pid1), true),
        (
            "tini".into(),
            Init::program(tool("tini"), Mode::Pid1).arg("--"),
            true,
        ),
        (
            "dumb-init".into(),
            Init::program(tool("dumb-init"), Mode::Pid1).arg("-c"),
            false,
        ),
        (
            "catatonit".into(),
            Init::program(tool("catatonit"), Mode::Pid1).arg("--"),
            false,
        ),
    ];
    for (name, init, with_rt) in inits {
        let mut c = catcher(init, &["--exit-code", "9"]);
        let mut want = Vec::new();
        let sigs: Vec<i32> = common
            .iter()
            .copied()
            .chain(if with_rt { rt.to_vec() } else { vec![] })
            .collect();
        for sig in sigs {
            c.run.signal(sig);
            want.push(sig);
            if !c.log.wait_count(sig, 1, STEP) {
                panic!(
                    "{name}: signal {} not forwarded; log {:?}",
                    sys::name(sig),
                    c.log.read()
                );
            }
        }
        c.run.signal(sys::SIGTERM);
        want.push(sys::SIGTERM);
        c.run.wait(DEADLINE).assert_code(9);
        assert_eq!(c.log.read(), want, "{name}");
    }
}
