//! The drop-in personas (contracts: docs/reaper.md and docs/compat-differences.md): reaper invoked as
//! tini, tini-static, docker-init, dumb-init, catatonit or pause, by a symlink's basename and by
//! `reaper --compat NAME` / `--compat=NAME`. For each persona: every flag and variable, exit codes, the
//! machine-read messages, and differential runs against the Debian originals (/usr/bin/tini,
//! /usr/bin/tini-static, /usr/bin/dumb-init, /usr/bin/catatonit) on the same cases, as PID 1 of a fresh
//! PID namespace and outside one.
//!
//! Both sides run with `POSIXLY_CORRECT=1` (glibc's getopt then stops at the first non-option, as
//! reaper's parser does) so that one command line means the same thing to both.
//!
//! Where reaper is deliberately different, the test asserts reaper's behaviour and says why:
//! 1. catatonit: the child does not inherit SIGTSTP/SIGTTIN/SIGTTOU blocked (catatonit's fault);
//! 2. tini `--version`: `tini version 0.19.0 - git.reaper` (Docker parses the ` - git.` form), so only
//!    the common prefix `tini version 0.19.0` is compared;
//! 3. help texts are our own prose: only exit code and stream are compared;
//! 4. dumb-init `-r` also takes signal names (dumb-init#87).
//!
//! And, from the contract itself: tini's INFO/DEBUG lines go to stderr (tini prints them on stdout).
use integration::personas_support::{
    has_line, lines_matching, mask_has, matches, real, real_path, Links, Via, NAMES, VIAS,
};
use integration::{
    children, helper, pid_ns, procs_in_pid_ns, stat, status_field, sys, tool, wait_ready,
    wait_until, zombies, Init, Mode, Outcome, Ready, Running, SigLog, TempDir, DEADLINE, MODES,
};
use std::fs;
use std::os::fd::AsRawFd;
use std::process::Command;
use std::time::Duration;

const STEP: Duration = Duration::from_secs(10);

/// Command-line flags of a case.
type Flags = &'static [&'static str];
/// Environment variables of a case.
type Envs = &'static [(&'static str, &'static str)];

/// The originals with a Debian binary, and the docker-init alias (compared with /usr/bin/tini).
const TINIS: [&str; 3] = ["tini", "tini-static", "docker-init"];

/// What a side of a differential run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Real,
    Reaper(Via),
}

/// The Debian original, then reaper by symlink, `--compat NAME` and `--compat=NAME`.
const SIDES: [Side; 4] = [
    Side::Real,
    Side::Reaper(Via::Link),
    Side::Reaper(Via::Compat),
    Side::Reaper(Via::CompatEq),
];

fn init(links: &Links, name: &str, side: Side, mode: Mode) -> Init {
    match side {
        Side::Real => real(name, mode),
        Side::Reaper(via) => links.reaper(name, via, mode),
    }
}

/// Runs `name ARGS` with `envs` on every side in `mode`; returns (side, outcome) pairs.
fn run_all(
    links: &Links,
    name: &str,
    mode: Mode,
    args: &[&str],
    envs: &[(&str, &str)],
) -> Vec<(Side, Outcome)> {
    SIDES
        .iter()
        .map(|&side| {
            let mut i = init(links, name, side, mode).args(args);
            for (k, v) in envs {
                i = i.env(k, v);
            }
            (side, i.run())
        })
        .collect()
}

/// Asserts that every side exited with `code` and that reaper's sides agree with the original's
/// exit code.
fn assert_codes(runs: &[(Side, Outcome)], code: i32, what: &str) {
    for (side, o) in runs {
        assert_eq!(
            o.status.code(),
            Some(code),
            "{what}: {side:?} must exit {code}\n{o}"
        );
    }
}

/// Waits until `pid` has set up its signal handling, so that a signal sent now is not lost (a PID 1
/// drops signals it has no handler for): SIGTERM is blocked or caught, or it sleeps in
/// `rt_sigtimedwait` (which unblocks the awaited set while it waits, so `SigBlk` shows nothing then:
/// tini, dumb-init, reaper's pause mode).
fn wait_signals_set_up(pid: i32) {
    const SYS_RT_SIGTIMEDWAIT: &str = "128";
    wait_until(
        &format!("pid {pid} to set up its signals"),
        DEADLINE,
        || {
            let masked = ["SigBlk", "SigCgt"]
                .iter()
                .any(|k| status_field(pid, k).is_some_and(|m| mask_has(&m, sys::SIGTERM)));
            masked
                || fs::read_to_string(format!("/proc/{pid}/syscall"))
                    .is_ok_and(|s| s.split_whitespace().next() == Some(SYS_RT_SIGTIMEDWAIT))
        },
    );
}

/// Sends `sigs` to the init, then waits until none of them is pending any more (taken, or discarded
/// as ignored): only then has the init dealt with them, so a stop signal sent next cannot overtake
/// them (pending signals are taken lowest number first) and leave the "ignored" part untested.
fn signal_and_wait_handled(run: &mut Running, sigs: &[i32], what: &str) {
    let pid = run.init_pid();
    for &s in sigs {
        run.signal(s);
    }
    wait_until(
        &format!("{what}: pid {pid} to take signals {sigs:?}"),
        DEADLINE,
        || {
            ["SigPnd", "ShdPnd"].iter().all(|k| {
                status_field(pid, k).is_some_and(|m| !sigs.iter().any(|&s| mask_has(&m, s)))
            })
        },
    );
}

/// Kills a process we know by pid, if it is still there (cleanup of orphans left on purpose).
fn kill_quietly(pid: i32) {
    if pid > 1 {
        let _ = sys::kill(pid, sys::SIGKILL);
    }
}

/// An init running `sigcatch` (optionally with a grandchild in the child's process group).
struct Catcher {
    run: Running,
    log: SigLog,
    ready: Ready,
    glog: Option<SigLog>,
    gready: Option<Ready>,
    _dir: TempDir,
}

impl Catcher {
    fn start(init: Init, extra: &[&str], grandchild: bool) -> Catcher {
        let dir = TempDir::new("pcatch");
        let (ready, log) = (dir.file("ready"), dir.file("log"));
        let (gready, glog) = (dir.file("gready"), dir.file("glog"));
        let mut init = init
            .arg(helper!("sigcatch"))
            .args(["--ready", &ready, "--log", &log])
            .args(extra);
        if grandchild {
            init = init.args(["--child", &glog, &gready]);
        }
        let mut run = init.spawn();
        let r = wait_ready(&ready);
        let g = grandchild.then(|| wait_ready(&gready));
        let pid = run.init_pid();
        wait_signals_set_up(pid);
        Catcher {
            run,
            log: SigLog(log),
            ready: r,
            glog: grandchild.then_some(SigLog(glog)),
            gready: g,
            _dir: dir,
        }
    }

    /// Host pid of the grandchild.
    fn grandchild_host_pid(&mut self) -> i32 {
        let child = self.run.main_child();
        let mut found = None;
        wait_until("the grandchild", DEADLINE, || {
            found = children(child).first().copied();
            found.is_some()
        });
        found.unwrap_or_default()
    }

    /// Sends `sig` to the init and waits until the main child logged it; then tells whether the
    /// grandchild got it too. The check is exact: a forwarding to the group is one `kill(-pgid)`, so
    /// once the child has it the grandchild has it pending; a marker signal with a higher number
    /// (WINCH) sent straight to the grandchild is dequeued after it.
    fn signal_reaches_grandchild(&mut self, sig: i32) -> bool {
        let before_child = self.log.count(sig);
        let glog = self.glog.as_ref().expect("grandchild");
        let before = glog.count(sig);
        let marks = glog.count(sys::SIGWINCH);
        self.run.signal(sig);
        assert!(
            self.log.wait_count(sig, before_child + 1, STEP),
            "{}: signal {sig} never reached the main child; log {:?}",
            self.run.described,
            self.log.read()
        );
        let g = self.grandchild_host_pid();
        assert!(sig < sys::SIGWINCH);
        sys::kill(g, sys::SIGWINCH).expect("marker to the grandchild");
        let glog = self.glog.as_ref().expect("grandchild");
        assert!(
            glog.wait_count(sys::SIGWINCH, marks + 1, STEP),
            "grandchild never logged the marker"
        );
        glog.count(sig) > before
    }
}

// ===================================================================================================
// Persona selection

/// Every name selects its persona, by symlink, by `--compat NAME` and by `--compat=NAME`: the version
/// request of each persona prints that persona's version line on its stream.
#[test]
fn every_name_and_compat_selects_the_persona() {
    let links = Links::new();
    for name in NAMES {
        for via in VIAS {
            let (args, stream_is_stdout, want): (&[&str], bool, &str) = match name {
                "tini" | "tini-static" | "docker-init" => {
                    (&["--version"], true, "tini version 0.19.0")
                }
                "dumb-init" => (&["--version"], false, "dumb-init v1.2.5\n"),
                "catatonit" => (&["--version"], true, "tini version 0.1.7_catatonit\n"),
                _ => (&["-v"], true, ""),
            };
            let o = links.reaper(name, via, Mode::Subreaper).args(args).run();
            o.assert_code(0);
            let (text, other) = if stream_is_stdout {
                (&o.stdout, &o.stderr)
            } else {
                (&o.stderr, &o.stdout)
            };
            assert!(text.starts_with(want), "{name} {via:?}: version line\n{o}");
            assert!(
                text.ends_with('\n') && text.lines().count() == 1,
                "{name} {via:?}: one version line\n{o}"
            );
            assert!(
                other.is_empty(),
                "{name} {via:?}: nothing on the other stream\n{o}"
            );
        }
    }
    // An unknown persona is refused.
    let o = Init::reaper(Mode::Subreaper)
        .args(["--compat", "sysvinit", "true"])
        .run();
    assert_ne!(o.status.code(), Some(0), "--compat sysvinit must fail\n{o}");
    assert!(!o.stderr.is_empty(), "{o}");
}

// ===================================================================================================
// tini, tini-static, docker-init

/// `--version` (only as the sole argument): stdout `tini version 0.19.0`, exit 0. reaper's line is
/// `tini version 0.19.0 - git.reaper` (deliberate: Docker's `docker info` parses the ` - git.` form;
/// Debian's tini prints no git part), so the common prefix is compared. With more arguments
/// `--version` is an unknown option: exit 1.
#[test]
fn tini_version() {
    let links = Links::new();
    for name in TINIS {
        for (side, o) in run_all(&links, name, Mode::Subreaper, &["--version"], &[]) {
            o.assert_code(0);
            assert!(
                o.stdout.starts_with("tini version 0.19.0"),
                "{name} {side:?}\n{o}"
            );
            assert_eq!(o.stdout.lines().count(), 1, "{name} {side:?}\n{o}");
            if side != Side::Real {
                assert_eq!(o.stdout, "tini version 0.19.0 - git.reaper\n", "{o}");
            }
        }
        let runs = run_all(&links, name, Mode::Subreaper, &["--version", "true"], &[]);
        assert_codes(&runs, 1, &format!("{name} --version true"));
    }
}

/// `-h`: help on stdout, exit 0 (our own prose: only the stream is compared). `-l`: a license on
/// stdout, exit 0. Unknown option, missing option value or no program: usage on stderr, exit 1.
#[test]
fn tini_help_license_and_usage_errors() {
    let links = Links::new();
    for name in TINIS {
        for args in [&["-h"][..], &["-l"][..]] {
            for (side, o) in run_all(&links, name, Mode::Subreaper, args, &[]) {
                o.assert_code(0);
                assert!(
                    !o.stdout.is_empty(),
                    "{name} {args:?} {side:?}: stdout\n{o}"
                );
                assert!(o.stderr.is_empty(), "{name} {args:?} {side:?}: stderr\n{o}");
            }
        }
        for args in [
            &[][..],
            &["-Z", "true"][..],
            &["-p"][..],
            &["-e"][..],
            &["-s"][..],
        ] {
            for (side, o) in run_all(&links, name, Mode::Subreaper, args, &[]) {
                o.assert_code(1);
                assert!(
                    !o.stderr.is_empty(),
                    "{name} {args:?} {side:?}: stderr\n{o}"
                );
            }
        }
    }
}

/// Exec failure: 127 when PROGRAM does not exist, 126 when it is not executable, with tini's
/// `[FATAL tini (PID)] ` prefix; as PID 1 and outside; every name.
#[test]
fn tini_exec_failure_codes() {
    let links = Links::new();
    let dir = TempDir::new("noexec");
    let noexec = dir.file("noexec");
    fs::write(&noexec, "#!/bin/sh\n").unwrap();
    for name in TINIS {
        for mode in MODES {
            for (prog, code) in [("/nonexistent/prog", 127), (noexec.as_str(), 126)] {
                let runs = run_all(&links, name, mode, &["-s", prog], &[]);
                assert_codes(&runs, code, &format!("{name} {mode:?} {prog}"));
                for (side, o) in &runs {
                    assert!(
                        has_line(
                            &o.stderr,
                            &format!("[FATAL tini (%d)] exec {prog} failed: %*")
                        ),
                        "{name} {mode:?} {side:?}: exec failure line\n{o}"
                    );
                }
            }
        }
    }
}

/// PROGRAM's exit code is tini's; death by signal N is 128+N; as PID 1 and outside.
#[test]
fn tini_exit_codes_and_signal_death() {
    let links = Links::new();
    for name in TINIS {
        for mode in MODES {
            for code in [0, 3, 255] {
                let runs = run_all(
                    &links,
                    name,
                    mode,
                    &["-s", "sh", "-c", &format!("exit {code}")],
                    &[],
                );
                assert_codes(&runs, code, &format!("{name} {mode:?} exit {code}"));
            }
            for sig in [sys::SIGTERM, sys::SIGKILL, sys::SIGUSR1] {
                let runs = run_all(
                    &links,
                    name,
                    mode,
                    &["-s", helper!("selfkill"), &sig.to_string()],
                    &[],
                );
                assert_codes(&runs, 128 + sig, &format!("{name} {mode:?} signal {sig}"));
            }
        }
    }
}

/// `-e CODE` (repeatable) maps CODE to 0, after the 128+N computation; other codes pass; values out
/// of 0..255 or not numbers are usage errors (exit 1).
#[test]
fn tini_e_remaps_exit_codes() {
    let links = Links::new();
    let selfkill = helper!("selfkill");
    let cases: [(&[&str], i32); 6] = [
        (&["-e", "143", selfkill, "TERM"], 0),
        (&["-e", "3", "-e", "4", "sh", "-c", "exit 4"], 0),
        (&["-e", "3", "-e", "4", "sh", "-c", "exit 3"], 0),
        (&["-e", "3", "sh", "-c", "exit 5"], 5),
        (&["-e", "0", "sh", "-c", "exit 0"], 0),
        (&["-e", "255", "sh", "-c", "exit 255"], 0),
    ];
    for name in TINIS {
        for mode in MODES {
            for (args, code) in cases {
                let mut a = vec!["-s"];
                a.extend_from_slice(args);
                let runs = run_all(&links, name, mode, &a, &[]);
                assert_codes(&runs, code, &format!("{name} {mode:?} {args:?}"));
            }
        }
        for bad in ["256", "-1", "abc", "1x"] {
            let runs = run_all(&links, name, Mode::Subreaper, &["-e", bad, "true"], &[]);
            assert_codes(&runs, 1, &format!("{name} -e {bad:?}"));
        }
    }
}

/// `-p SIGNAL` takes exact names with the SIG prefix (`SIGTERM`); `TERM`, `15`, `sigterm` and
/// unknown names are usage errors (exit 1). Every name tini 0.19 knows is accepted.
#[test]
fn tini_p_takes_exact_sig_names() {
    let links = Links::new();
    let good = [
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGBUS",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGSYS",
    ];
    for name in TINIS {
        for sig in good {
            let runs = run_all(
                &links,
                name,
                Mode::Subreaper,
                &["-s", "-p", sig, "true"],
                &[],
            );
            assert_codes(&runs, 0, &format!("{name} -p {sig}"));
        }
        for bad in [
            "TERM", "15", "sigterm", "SIGterm", "SIGFOO", "SIG", "", "SIG15", "SIGTERM1",
        ] {
            let runs = run_all(
                &links,
                name,
                Mode::Subreaper,
                &["-s", "-p", bad, "true"],
                &[],
            );
            assert_codes(&runs, 1, &format!("{name} -p {bad:?}"));
        }
    }
}

/// `-p SIGUSR1`: when tini's parent dies, tini gets SIGUSR1, and forwards it to PROGRAM.
#[test]
fn tini_p_parent_death_signal_reaches_the_child() {
    let links = Links::new();
    for side in [Side::Real, Side::Reaper(Via::Link)] {
        let dir = TempDir::new("pdeath");
        let (ready, log) = (dir.file("ready"), dir.file("log"));
        let tini = match side {
            Side::Real => real_path("tini"),
            _ => links.path("tini"),
        };
        // forker starts tini, waits until PROGRAM is ready, and exits: tini's parent is gone.
        let run = Init::program(helper!("forker"), Mode::Subreaper)
            .env("POSIXLY_CORRECT", "1")
            .args(["bg", "--ready", &ready, "--"])
            .arg(&tini)
            .args(["-s", "-p", "SIGUSR1", helper!("sigcatch")])
            .args(["--ready", &ready, "--log", &log, "--exit-on", "USR1"])
            .run();
        run.assert_code(0);
        let r = wait_ready(&ready);
        let got = SigLog(log.clone()).wait_count(sys::SIGUSR1, 1, STEP);
        if !got {
            kill_quietly(r.pid);
        }
        assert!(
            got,
            "{side:?}: the parent-death signal never reached PROGRAM; log {:?}",
            SigLog(log).read()
        );
    }
}

/// Not PID 1 and not a subreaper: the warning with `zombie reaping won't work`, on stderr with
/// tini's `[WARN  tini (PID)] ` prefix, and it carries on. No warning with `-s`, with
/// `TINI_SUBREAPER` set (to anything, empty included), when the parent left the subreaper bit set
/// (tini checks `PR_GET_CHILD_SUBREAPER`), as PID 1, or at `TINI_VERBOSITY=0`.
#[test]
#[allow(unsafe_code)] // prctl in the child: libc calls std does not wrap
fn tini_not_pid1_warning() {
    let links = Links::new();
    let phrase = "zombie reaping won't work";
    for name in TINIS {
        for (side, o) in run_all(&links, name, Mode::Subreaper, &["sh", "-c", "exit 7"], &[]) {
            o.assert_code(7);
            assert!(o.stderr.contains(phrase), "{name} {side:?}: warning\n{o}");
            assert!(
                o.stderr_lines()
                    .first()
                    .is_some_and(|l| matches("[WARN  tini (%d)] %*", l)),
                "{name} {side:?}: prefix\n{o}"
            );
        }
        let quiet: [(Mode, Flags, Envs); 6] = [
            (Mode::Subreaper, &["-s"], &[]),
            (Mode::Subreaper, &[], &[("TINI_SUBREAPER", "1")]),
            (Mode::Subreaper, &[], &[("TINI_SUBREAPER", "")]),
            (Mode::Subreaper, &[], &[("TINI_VERBOSITY", "0")]),
            (Mode::Pid1, &[], &[]),
            (Mode::Pid1, &[], &[("TINI_VERBOSITY", "1")]),
        ];
        for (mode, flags, envs) in quiet {
            let mut args = flags.to_vec();
            args.extend(["sh", "-c", "exit 7"]);
            for (side, o) in run_all(&links, name, mode, &args, envs) {
                o.assert_code(7);
                assert!(
                    !o.stderr.contains(phrase),
                    "{name} {mode:?} {flags:?} {envs:?} {side:?}: no warning expected\n{o}"
                );
            }
        }
        // A parent that set the subreaper bit for us (it survives exec).
        for side in SIDES {
            let o = init(&links, name, side, Mode::Subreaper)
                .pre_exec(|| {
                    // SAFETY: plain system call in the forked child.
                    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                })
                .args(["sh", "-c", "exit 7"])
                .run();
            o.assert_code(7);
            assert!(
                !o.stderr.contains(phrase),
                "{name} {side:?} inherited bit\n{o}"
            );
        }
    }
}

/// Runs `INIT ARGS forker storm N --ready F` until the N orphans are reaped, then SIGTERM; returns
/// the outcome.
fn orphan_storm(mut init: Init, n: usize) -> Outcome {
    let dir = TempDir::new("storm");
    let ready = dir.file("ready");
    init = init
        .arg(helper!("forker"))
        .args(["storm", &n.to_string(), "--ready", &ready]);
    let mut run = init.spawn();
    let pid = run.init_pid();
    wait_signals_set_up(pid);
    integration::wait_file(&ready, DEADLINE);
    let desc = run.described.clone();
    wait_until(
        &format!("{desc}: the orphans to be reaped"),
        DEADLINE,
        || {
            let procs = run.processes();
            procs.len() == 2 && zombies(&procs).is_empty()
        },
    );
    run.signal(sys::SIGTERM);
    run.wait(DEADLINE)
}

/// `-w` (as a subreaper with `-s`/`TINI_SUBREAPER`, and as PID 1): one
/// `[WARN  tini (PID)] Reaped zombie process with pid=N` line per orphan, on stderr; without `-w`
/// none. Orphans are reaped in every case.
#[test]
fn tini_w_warns_per_reaped_zombie() {
    let links = Links::new();
    let n = 5;
    for name in ["tini", "docker-init"] {
        let cases: [(Mode, Flags, Envs, usize); 4] = [
            (Mode::Subreaper, &["-s", "-w"], &[], n),
            (Mode::Subreaper, &["-w"], &[("TINI_SUBREAPER", "1")], n),
            (Mode::Pid1, &["-w"], &[], n),
            (Mode::Pid1, &[], &[], 0),
        ];
        for (mode, flags, envs, want) in cases {
            for side in SIDES {
                let mut i = init(&links, name, side, mode).args(flags);
                for (k, v) in envs {
                    i = i.env(k, v);
                }
                let o = orphan_storm(i, n);
                o.assert_code(0);
                let lines = lines_matching(
                    &o.stderr,
                    "[WARN  tini (%d)] Reaped zombie process with pid=%d",
                );
                assert_eq!(lines.len(), want, "{name} {mode:?} {flags:?} {side:?}\n{o}");
            }
        }
    }
}

/// `-v` (repeatable) and `TINI_VERBOSITY=N`: at 3 tini logs `Received SIGCHLD` (stdout for tini, stderr
/// for reaper, as docs/compat-differences.md says); at the default level no INFO/DEBUG line. A non-numeric
/// `TINI_VERBOSITY` is read by tini with atoi (0): it runs.
#[test]
fn tini_verbosity() {
    let links = Links::new();
    for name in TINIS {
        let loud: [(Flags, Envs); 3] = [
            (&["-vvv"], &[]),
            (&["-v", "-v", "-v"], &[]),
            (&[], &[("TINI_VERBOSITY", "3")]),
        ];
        for (flags, envs) in loud {
            let mut args = vec!["-s"];
            args.extend_from_slice(flags);
            args.extend(["sh", "-c", "exit 4"]);
            for mode in MODES {
                for (side, o) in run_all(&links, name, mode, &args, envs) {
                    o.assert_code(4);
                    let out = if side == Side::Real {
                        &o.stdout
                    } else {
                        &o.stderr
                    };
                    assert!(
                        has_line(out, "[DEBUG tini (%d)] Received SIGCHLD"),
                        "{name} {mode:?} {flags:?} {envs:?} {side:?}\n{o}"
                    );
                    assert!(
                        has_line(
                            out,
                            "[INFO  tini (%d)] Main child exited normally (with status '4')"
                        ),
                        "{name} {side:?}\n{o}"
                    );
                }
            }
        }
        for (side, o) in run_all(&links, name, Mode::Pid1, &["sh", "-c", "exit 4"], &[]) {
            o.assert_code(4);
            assert!(
                !o.stdout.contains("tini (") && !o.stderr.contains("tini ("),
                "{name} {side:?}: silent by default as PID 1\n{o}"
            );
        }
        let runs = run_all(
            &links,
            name,
            Mode::Pid1,
            &["sh", "-c", "exit 4"],
            &[("TINI_VERBOSITY", "loud")],
        );
        assert_codes(&runs, 4, &format!("{name} TINI_VERBOSITY=loud (atoi: 0)"));
    }
}

/// tini runs PROGRAM in its own process group (`setpgid(0,0)`), and forwards to PROGRAM alone; with
/// `-g` or `TINI_KILL_PROCESS_GROUP` (set to anything) to PROGRAM's whole group. As PID 1 and outside.
#[test]
fn tini_g_and_kill_process_group() {
    let links = Links::new();
    let cases: [(Flags, Envs, bool); 4] = [
        (&[], &[], false),
        (&["-g"], &[], true),
        (&[], &[("TINI_KILL_PROCESS_GROUP", "1")], true),
        (&[], &[("TINI_KILL_PROCESS_GROUP", "")], true),
    ];
    for name in ["tini", "docker-init"] {
        for mode in MODES {
            for (flags, envs, group) in cases {
                for side in [
                    Side::Real,
                    Side::Reaper(Via::Link),
                    Side::Reaper(Via::Compat),
                ] {
                    let mut i = init(&links, name, side, mode).arg("-s").args(flags);
                    for (k, v) in envs {
                        i = i.env(k, v);
                    }
                    let mut c = Catcher::start(i, &["--exit-on", "TERM"], true);
                    let what = format!("{name} {mode:?} {flags:?} {envs:?} {side:?}");
                    assert_eq!(c.ready.pgid, c.ready.pid, "{what}: PROGRAM leads its group");
                    assert_eq!(c.gready.unwrap().pgid, c.ready.pid, "{what}");
                    let g = c.grandchild_host_pid();
                    assert_eq!(
                        c.signal_reaches_grandchild(sys::SIGUSR1),
                        group,
                        "{what}: USR1 to the grandchild"
                    );
                    c.run.signal(sys::SIGTERM);
                    let o = c.run.wait(DEADLINE);
                    kill_quietly(g);
                    o.assert_code(0);
                }
            }
        }
    }
}

// ===================================================================================================
// dumb-init

/// `-V`/`--version`: stderr `dumb-init v1.2.5`, exit 0. `-h`/`--help`: help on stderr, exit 0 (our
/// prose). No program: usage on stderr, exit 1. Unknown option or malformed value: exit 1.
#[test]
fn dumb_init_version_help_usage() {
    let links = Links::new();
    for args in [&["-V"][..], &["--version"][..]] {
        for (side, o) in run_all(&links, "dumb-init", Mode::Subreaper, args, &[]) {
            o.assert_code(0);
            assert_eq!(o.stderr, "dumb-init v1.2.5\n", "{args:?} {side:?}\n{o}");
            assert!(o.stdout.is_empty(), "{o}");
        }
    }
    for args in [&["-h"][..], &["--help"][..]] {
        for (side, o) in run_all(&links, "dumb-init", Mode::Subreaper, args, &[]) {
            o.assert_code(0);
            assert!(
                !o.stderr.is_empty() && o.stdout.is_empty(),
                "{args:?} {side:?}\n{o}"
            );
        }
    }
    for args in [
        &[][..],
        &["-Z", "true"][..],
        &["--nope", "true"][..],
        &["-r"][..],
    ] {
        for (side, o) in run_all(&links, "dumb-init", Mode::Subreaper, args, &[]) {
            o.assert_code(1);
            assert!(
                !o.stderr.is_empty() && o.stdout.is_empty(),
                "{args:?} {side:?}\n{o}"
            );
        }
    }
    // No program: a usage line.
    for (side, o) in run_all(&links, "dumb-init", Mode::Subreaper, &[], &[]) {
        assert!(o.stderr.contains("Usage:"), "{side:?}\n{o}");
    }
}

/// Exec failure: exactly `[dumb-init] CMD: <strerror>` on stderr, exit 2; as PID 1 and outside.
#[test]
fn dumb_init_exec_failure() {
    let links = Links::new();
    let dir = TempDir::new("noexec");
    let noexec = dir.file("noexec");
    fs::write(&noexec, "#!/bin/sh\n").unwrap();
    for mode in MODES {
        for (prog, text) in [
            ("/nonexistent/prog", "No such file or directory"),
            (noexec.as_str(), "Permission denied"),
        ] {
            let runs = run_all(&links, "dumb-init", mode, &[prog], &[]);
            assert_codes(&runs, 2, &format!("dumb-init {mode:?} {prog}"));
            for (side, o) in &runs {
                assert_eq!(
                    o.stderr,
                    format!("[dumb-init] {prog}: {text}\n"),
                    "{mode:?} {side:?}\n{o}"
                );
            }
        }
    }
}

/// Exit codes pass through; death by signal N is 128+N; as PID 1 and outside; with and without `-c`.
#[test]
fn dumb_init_exit_codes_and_signal_death() {
    let links = Links::new();
    for mode in MODES {
        for single in [false, true] {
            let pre: &[&str] = if single { &["-c"] } else { &[] };
            for code in [0, 3, 255] {
                let mut a = pre.to_vec();
                let script = format!("exit {code}");
                a.extend(["sh", "-c", &script]);
                let runs = run_all(&links, "dumb-init", mode, &a, &[]);
                assert_codes(
                    &runs,
                    code,
                    &format!("dumb-init {mode:?} {pre:?} exit {code}"),
                );
            }
            for sig in [sys::SIGTERM, sys::SIGKILL, sys::SIGUSR2] {
                let mut a = pre.to_vec();
                let s = sig.to_string();
                a.extend([helper!("selfkill"), &s]);
                let runs = run_all(&links, "dumb-init", mode, &a, &[]);
                assert_codes(
                    &runs,
                    128 + sig,
                    &format!("dumb-init {mode:?} {pre:?} sig {sig}"),
                );
            }
        }
    }
}

/// Default (setsid) mode: PROGRAM leads a new session; signals go to its whole process group; when
/// PROGRAM exits, SIGTERM goes to the group. `-c`, `--single-child` and `DUMB_INIT_SETSID=0` (exactly
/// "0"): no new session, signals to PROGRAM only, no SIGTERM to the group at exit.
#[test]
fn dumb_init_setsid_and_single_child() {
    let links = Links::new();
    let cases: [(Flags, Envs, bool); 6] = [
        (&[], &[], true),
        (&["-c"], &[], false),
        (&["--single-child"], &[], false),
        (&[], &[("DUMB_INIT_SETSID", "0")], false),
        (&[], &[("DUMB_INIT_SETSID", "1")], true),
        (&[], &[("DUMB_INIT_SETSID", "00")], true),
    ];
    for mode in MODES {
        for (flags, envs, setsid) in cases {
            for side in [
                Side::Real,
                Side::Reaper(Via::Link),
                Side::Reaper(Via::CompatEq),
            ] {
                let what = format!("{mode:?} {flags:?} {envs:?} {side:?}");
                let mut i = init(&links, "dumb-init", side, mode).args(flags);
                for (k, v) in envs {
                    i = i.env(k, v);
                }
                let mut c = Catcher::start(i, &["--exit-on", "USR2,TERM"], true);
                let init_pid = c.run.init_pid();
                let child = c.run.main_child();
                let cst = stat(child).expect("child stat");
                let ist = stat(init_pid).expect("init stat");
                if setsid {
                    assert_eq!(c.ready.sid, c.ready.pid, "{what}: PROGRAM leads a session");
                    assert_eq!(cst.session, child, "{what}: host view");
                } else {
                    assert_eq!(
                        cst.session, ist.session,
                        "{what}: PROGRAM stays in the session"
                    );
                    assert_ne!(c.ready.sid, c.ready.pid, "{what}");
                }
                assert_eq!(
                    c.signal_reaches_grandchild(sys::SIGUSR1),
                    setsid,
                    "{what}: USR1 to the whole group"
                );
                let g = c.grandchild_host_pid();
                // PROGRAM exits (signalled directly, not through dumb-init).
                sys::kill(child, sys::SIGUSR2).expect("USR2 to PROGRAM");
                let o = c.run.wait(DEADLINE);
                o.assert_code(0);
                if mode == Mode::Subreaper {
                    // The grandchild survives dumb-init: did it get the group SIGTERM? (sent before
                    // dumb-init exited, so pending now; the WINCH marker is dequeued after it).
                    let glog = c.glog.as_ref().unwrap();
                    let marks = glog.count(sys::SIGWINCH);
                    let got_term = if glog.count(sys::SIGTERM) > 0 {
                        true
                    } else if sys::kill(g, sys::SIGWINCH).is_ok() {
                        assert!(
                            glog.wait_count(sys::SIGWINCH, marks + 1, STEP)
                                || glog.count(sys::SIGTERM) > 0,
                            "{what}: grandchild never logged the marker"
                        );
                        glog.count(sys::SIGTERM) > 0
                    } else {
                        // Gone: only SIGTERM (its exit-on) could have ended it.
                        true
                    };
                    kill_quietly(g);
                    assert_eq!(
                        got_term, setsid,
                        "{what}: SIGTERM to the group at exit\n{o}"
                    );
                }
            }
        }
    }
}

/// Job control. Default (setsid) mode: SIGTSTP is forwarded as SIGSTOP to the group. In every mode,
/// after forwarding SIGTSTP (as whatever it is rewritten to, even when dropped), dumb-init stops itself
/// too, so that a shell's job control sees it stop; SIGCONT resumes it and is forwarded. Outside a PID
/// namespace only: a PID 1 cannot stop itself.
#[test]
fn dumb_init_job_control() {
    let links = Links::new();
    // (flags, what PROGRAM logs for the TSTP: None = it is stopped by SIGSTOP instead)
    let cases: [(Flags, Option<i32>); 4] = [
        (&[], None),
        (&["-c"], Some(sys::SIGTSTP)),
        (&["-r", "20:12"], Some(sys::SIGUSR2)),
        (&["-r", "20:0"], Some(0)),
    ];
    for (flags, logged) in cases {
        for side in [Side::Real, Side::Reaper(Via::Link)] {
            let what = format!("{flags:?} {side:?}");
            let i = init(&links, "dumb-init", side, Mode::Subreaper).args(flags);
            let mut c = Catcher::start(i, &["--exit-on", "TERM"], false);
            let (init_pid, child) = (c.run.init_pid(), c.run.main_child());
            c.run.signal(sys::SIGTSTP);
            wait_until(&format!("{what}: dumb-init to stop itself"), STEP, || {
                stat(init_pid).is_some_and(|s| s.state == 'T')
            });
            match logged {
                None => wait_until(&format!("{what}: PROGRAM stopped"), STEP, || {
                    stat(child).is_some_and(|s| s.state == 'T')
                }),
                Some(0) => {}
                Some(sig) => c.log.expect(sig, STEP),
            }
            c.run.signal(sys::SIGCONT);
            c.log.expect(sys::SIGCONT, STEP);
            if logged != Some(sys::SIGTSTP) {
                assert!(
                    !c.log.read().contains(&sys::SIGTSTP),
                    "{what}: {:?}",
                    c.log.read()
                );
            }
            c.run.signal(sys::SIGTERM);
            c.run.wait(DEADLINE).assert_code(0);
        }
    }
}

/// `-r S:R` / `--rewrite S:R` (repeatable): S is forwarded as R; R = 0 drops S. Malformed rewrites
/// (S outside 1..31, R outside 0..31, not `S:R`) are errors, exit 1. Signal names are accepted by
/// reaper only (deliberate, dumb-init#87).
#[test]
fn dumb_init_rewrite() {
    let links = Links::new();
    let cases: [(&[&str], Option<i32>); 5] = [
        (&["-r", "10:12"], Some(sys::SIGUSR2)),
        (&["--rewrite", "10:12"], Some(sys::SIGUSR2)),
        (&["--rewrite=10:12"], Some(sys::SIGUSR2)),
        (&["-r", "1:2", "-r", "10:1"], Some(sys::SIGHUP)),
        (&["-r", "10:0"], None),
    ];
    for mode in MODES {
        for (flags, want) in cases {
            for side in [Side::Real, Side::Reaper(Via::Link)] {
                let what = format!("{mode:?} {flags:?} {side:?}");
                let i = init(&links, "dumb-init", side, mode).args(flags);
                let mut c = Catcher::start(i, &["--exit-on", "TERM"], false);
                c.run.signal(sys::SIGUSR1);
                // A marker (WINCH, not rewritten, numbered above every signal here): pending signals
                // are taken lowest first, by the init and by sigcatch, so it is logged last.
                c.run.signal(sys::SIGWINCH);
                c.log.expect(sys::SIGWINCH, STEP);
                let log = c.log.read();
                assert!(
                    !log.contains(&sys::SIGUSR1),
                    "{what}: USR1 must be rewritten: {log:?}"
                );
                match want {
                    Some(s) => assert_eq!(log, vec![s, sys::SIGWINCH], "{what}: want {s}"),
                    None => assert_eq!(log, vec![sys::SIGWINCH], "{what}: USR1 dropped"),
                }
                c.run.signal(sys::SIGTERM);
                c.run.wait(DEADLINE).assert_code(0);
            }
        }
    }
    // Names: reaper only (dumb-init#87); the original refuses them.
    let i = links
        .reaper("dumb-init", Via::Link, Mode::Subreaper)
        .args(["-r", "USR1:SIGUSR2"]);
    let mut c = Catcher::start(i, &[], false);
    c.run.signal(sys::SIGUSR1);
    c.log.expect(sys::SIGUSR2, STEP);
    c.run.signal(sys::SIGTERM);
    c.run.wait(DEADLINE).assert_code(0);
    let o = real("dumb-init", Mode::Subreaper)
        .args(["-r", "USR1:SIGUSR2", "true"])
        .run();
    o.assert_code(1);

    for bad in [
        "abc", "0:1", "32:1", "1:32", "10", "10:", ":10", "-1:2", "10:x",
    ] {
        let runs = run_all(
            &links,
            "dumb-init",
            Mode::Subreaper,
            &["-r", bad, "true"],
            &[],
        );
        assert_codes(&runs, 1, &format!("dumb-init -r {bad:?}"));
        for (side, o) in &runs {
            assert!(!o.stderr.is_empty(), "{bad} {side:?}\n{o}");
        }
    }
    // The boundaries are fine.
    for ok in ["31:0", "1:31", "15:0"] {
        let runs = run_all(
            &links,
            "dumb-init",
            Mode::Subreaper,
            &["-r", ok, "true"],
            &[],
        );
        assert_codes(&runs, 0, &format!("dumb-init -r {ok}"));
    }
}

/// `-v`, `--verbose`, `DUMB_INIT_DEBUG=1` (exactly "1"): debug lines on stderr, every one prefixed
/// `[dumb-init] `, in the documented formats. Other values of the variable: silent.
#[test]
fn dumb_init_debug_lines() {
    let links = Links::new();
    let how: [(Flags, Envs, bool); 5] = [
        (&["-v"], &[], true),
        (&["--verbose"], &[], true),
        (&[], &[("DUMB_INIT_DEBUG", "1")], true),
        (&[], &[("DUMB_INIT_DEBUG", "true")], false),
        (&[], &[("DUMB_INIT_DEBUG", "0")], false),
    ];
    for mode in MODES {
        for (flags, envs, debug) in how {
            for single in [false, true] {
                for side in [Side::Real, Side::Reaper(Via::Link)] {
                    let what = format!("{mode:?} {flags:?} {envs:?} -c={single} {side:?}");
                    let mut i = init(&links, "dumb-init", side, mode).args(flags);
                    if single {
                        i = i.arg("-c");
                    }
                    for (k, v) in envs {
                        i = i.env(k, v);
                    }
                    let mut c =
                        Catcher::start(i, &["--exit-on", "TERM", "--exit-code", "5"], false);
                    c.run.signal(sys::SIGUSR1);
                    c.log.expect(sys::SIGUSR1, STEP);
                    c.run.signal(sys::SIGTERM);
                    let o = c.run.wait(DEADLINE);
                    o.assert_code(5);
                    assert!(o.stdout.is_empty(), "{what}\n{o}");
                    if !debug {
                        assert!(o.stderr.is_empty(), "{what}: silent\n{o}");
                        continue;
                    }
                    for l in o.stderr.lines() {
                        assert!(
                            l.starts_with("[dumb-init] "),
                            "{what}: prefix of {l:?}\n{o}"
                        );
                    }
                    let mut want = vec![
                        "[dumb-init] Child spawned with PID %d.",
                        "[dumb-init] Received signal 10.",
                        "[dumb-init] Forwarded signal 10 to children.",
                        "[dumb-init] Received signal 15.",
                        "[dumb-init] Forwarded signal 15 to children.",
                        "[dumb-init] A child with PID %d exited with exit status 5.",
                        "[dumb-init] Child exited with status 5. Goodbye.",
                    ];
                    if !single {
                        want.push("[dumb-init] setsid complete.");
                    }
                    for pat in want {
                        assert!(has_line(&o.stderr, pat), "{what}: no line {pat:?}\n{o}");
                    }
                    assert_eq!(
                        has_line(&o.stderr, "[dumb-init] setsid complete."),
                        !single,
                        "{what}\n{o}"
                    );
                }
            }
        }
    }
}

/// Not PID 1: dumb-init neither warns nor registers as child subreaper, so an orphan of PROGRAM is
/// reparented past it (here to the test's own subreaper shim), exactly as with the original.
#[test]
fn dumb_init_not_pid1_no_subreaper_no_warning() {
    let links = Links::new();
    for side in [Side::Real, Side::Reaper(Via::Link)] {
        let (adopted, o) = orphan_adopted_by_init(init(&links, "dumb-init", side, Mode::Subreaper));
        o.assert_code(0);
        assert!(o.stderr.is_empty(), "{side:?}: no warning\n{o}");
        assert!(
            !adopted,
            "{side:?}: dumb-init is not a subreaper: the orphan must not be reparented to it\n{o}"
        );
    }
}

/// Starts `INIT sh -c '(sigcatch A &); exec sigcatch B'`: A becomes an orphan. Returns whether it was
/// reparented to the init, and the outcome after SIGTERM (which ends B, and with it the init).
fn orphan_adopted_by_init(init: Init) -> (bool, Outcome) {
    let dir = TempDir::new("adopt");
    let (ra, la, rb, lb) = (
        dir.file("ra"),
        dir.file("la"),
        dir.file("rb"),
        dir.file("lb"),
    );
    let sc = helper!("sigcatch");
    let mut run = init
        .args(["sh", "-c"])
        .arg(r#"("$0" --ready "$1" --log "$2" &); exec "$0" --ready "$3" --log "$4""#)
        .args([sc, &ra, &la, &rb, &lb])
        .spawn();
    let a = wait_ready(&ra);
    wait_ready(&rb);
    let init_pid = run.init_pid();
    wait_signals_set_up(init_pid);
    // The subshell that started A exits at once: wait until A has been reparented.
    let mut ppid = 0;
    wait_until("the orphan to be reparented", DEADLINE, || {
        ppid = stat(a.pid).map_or(0, |s| s.ppid);
        stat(ppid).is_some_and(|s| s.comm != "sh")
    });
    let adopted = ppid == init_pid;
    run.signal(sys::SIGTERM);
    let o = run.wait(DEADLINE);
    kill_quietly(a.pid);
    (adopted, o)
}

/// dumb-init leaves its own cwd for `/`; PROGRAM keeps the invocation's. As PID 1 and outside.
#[test]
fn dumb_init_cwd() {
    let links = Links::new();
    for mode in MODES {
        for side in [Side::Real, Side::Reaper(Via::Link)] {
            let what = format!("{mode:?} {side:?}");
            let dir = TempDir::new("cwd");
            let i = init(&links, "dumb-init", side, mode).cwd(dir.path());
            let mut c = Catcher::start(i, &["--exit-on", "TERM"], false);
            let (init_pid, child) = (c.run.init_pid(), c.run.main_child());
            wait_until(
                &format!("{what}: dumb-init to chdir to /"),
                DEADLINE,
                || {
                    fs::read_link(format!("/proc/{init_pid}/cwd"))
                        .is_ok_and(|p| p == std::path::Path::new("/"))
                },
            );
            assert_eq!(
                fs::read_link(format!("/proc/{child}/cwd")).unwrap(),
                dir.path(),
                "{what}: PROGRAM keeps the caller's cwd"
            );
            c.run.signal(sys::SIGTERM);
            c.run.wait(DEADLINE).assert_code(0);
        }
    }
}

// ===================================================================================================
// catatonit

/// `-V`/`--version`: stdout `tini version 0.1.7_catatonit` (it fakes tini's line), exit 0; `-h` help
/// on stderr and `-L` license on stdout (the streams catatonit uses), exit 0 (our prose); no program: `ERROR (catatonit:PID): missing
/// program name` and usage on stderr, exit 1; unknown option: exit 1.
#[test]
fn catatonit_version_help_usage() {
    let links = Links::new();
    for args in [&["-V"][..], &["--version"][..]] {
        for (side, o) in run_all(&links, "catatonit", Mode::Subreaper, args, &[]) {
            o.assert_code(0);
            assert_eq!(o.stdout, "tini version 0.1.7_catatonit\n", "{side:?}\n{o}");
            assert!(o.stderr.is_empty(), "{o}");
        }
    }
    for (arg, on_stderr) in [("-h", true), ("-L", false)] {
        for (side, o) in run_all(&links, "catatonit", Mode::Subreaper, &[arg], &[]) {
            o.assert_code(0);
            let (text, other) = if on_stderr {
                (&o.stderr, &o.stdout)
            } else {
                (&o.stdout, &o.stderr)
            };
            assert!(
                !text.is_empty() && other.is_empty(),
                "{arg} {side:?}: on {}, as catatonit does\n{o}",
                if on_stderr { "stderr" } else { "stdout" }
            );
        }
    }
    for mode in MODES {
        for (side, o) in run_all(&links, "catatonit", mode, &[], &[]) {
            o.assert_code(1);
            assert!(
                matches(
                    "ERROR (catatonit:%d): missing program name",
                    o.stderr_lines()[0]
                ),
                "{mode:?} {side:?}\n{o}"
            );
            assert!(o.stderr.contains("usage: catatonit"), "{side:?}\n{o}");
            assert!(o.stdout.is_empty(), "{side:?}\n{o}");
        }
    }
    for args in [&["-Z", "true"][..], &["-x"][..]] {
        let runs = run_all(&links, "catatonit", Mode::Subreaper, args, &[]);
        assert_codes(&runs, 1, &format!("catatonit {args:?}"));
    }
}

/// Exec failure: exit 1, with an `ERROR (catatonit:PID): ` line; as PID 1 and outside.
#[test]
fn catatonit_exec_failure() {
    let links = Links::new();
    let dir = TempDir::new("noexec");
    let noexec = dir.file("noexec");
    fs::write(&noexec, "#!/bin/sh\n").unwrap();
    for mode in MODES {
        for prog in ["/nonexistent/prog", noexec.as_str()] {
            let runs = run_all(&links, "catatonit", mode, &["--", prog], &[]);
            assert_codes(&runs, 1, &format!("catatonit {mode:?} {prog}"));
            for (side, o) in &runs {
                assert!(
                    has_line(&o.stderr, "ERROR (catatonit:%d): %*"),
                    "{mode:?} {side:?}\n{o}"
                );
            }
        }
    }
}

/// Exit codes pass through, death by signal N is 128+N; as PID 1 and outside; `--` honoured.
#[test]
fn catatonit_exit_codes_and_signal_death() {
    let links = Links::new();
    for mode in MODES {
        for code in [0, 3, 255] {
            let script = format!("exit {code}");
            let runs = run_all(&links, "catatonit", mode, &["--", "sh", "-c", &script], &[]);
            assert_codes(&runs, code, &format!("catatonit {mode:?} exit {code}"));
        }
        for sig in [sys::SIGTERM, sys::SIGKILL, sys::SIGUSR1] {
            let s = sig.to_string();
            let runs = run_all(&links, "catatonit", mode, &[helper!("selfkill"), &s], &[]);
            assert_codes(&runs, 128 + sig, &format!("catatonit {mode:?} sig {sig}"));
        }
    }
}

/// Signals go to PROGRAM alone; with `-g` to its process group.
#[test]
fn catatonit_g_forwards_to_the_group() {
    let links = Links::new();
    for mode in MODES {
        for group in [false, true] {
            for side in [
                Side::Real,
                Side::Reaper(Via::Link),
                Side::Reaper(Via::Compat),
            ] {
                let what = format!("{mode:?} -g={group} {side:?}");
                let mut i = init(&links, "catatonit", side, mode);
                if group {
                    i = i.arg("-g");
                }
                let mut c = Catcher::start(i.arg("--"), &["--exit-on", "TERM"], true);
                let g = c.grandchild_host_pid();
                assert_eq!(c.signal_reaches_grandchild(sys::SIGUSR1), group, "{what}");
                c.run.signal(sys::SIGTERM);
                let o = c.run.wait(DEADLINE);
                kill_quietly(g);
                o.assert_code(0);
            }
        }
    }
}

/// `-P`: pause mode. No child; other signals are ignored; SIGTERM or SIGINT: exit 0. Arguments after
/// `-P` are not run. As PID 1 and outside.
#[test]
fn catatonit_pause_mode() {
    let links = Links::new();
    for mode in MODES {
        for stop in [sys::SIGTERM, sys::SIGINT] {
            for extra in [&[][..], &["--", "false"][..]] {
                for side in SIDES {
                    let what = format!("{mode:?} stop={stop} {extra:?} {side:?}");
                    let mut run = init(&links, "catatonit", side, mode)
                        .arg("-P")
                        .args(extra)
                        .spawn();
                    let pid = run.init_pid();
                    wait_signals_set_up(pid);
                    assert!(children(pid).is_empty(), "{what}: no child in pause mode");
                    // Ignored: if any of these killed it, the exit status below would say so.
                    signal_and_wait_handled(
                        &mut run,
                        &[sys::SIGUSR1, sys::SIGHUP, sys::SIGUSR2, sys::SIGWINCH],
                        &what,
                    );
                    run.signal(stop);
                    let o = run.wait(DEADLINE);
                    assert_eq!(o.status.code(), Some(0), "{what}\n{o}");
                }
            }
        }
    }
}

/// Orphans of the PID namespace are reaped in pause mode (`catatonit -P` and the `pause` persona as
/// PID 1): orphans are created inside with `nsenter`; afterwards the namespace holds the init alone.
#[test]
fn pause_modes_reap_orphans_of_their_namespace() {
    let links = Links::new();
    let nsenter = tool("nsenter");
    let cases: Vec<(&str, Init)> = vec![
        (
            "catatonit -P (Debian)",
            real("catatonit", Mode::Pid1).arg("-P"),
        ),
        (
            "catatonit -P",
            links.reaper("catatonit", Via::Link, Mode::Pid1).arg("-P"),
        ),
        ("pause", links.reaper("pause", Via::Link, Mode::Pid1)),
        (
            "--compat pause",
            links.reaper("pause", Via::Compat, Mode::Pid1),
        ),
    ];
    for (what, i) in cases {
        let mut run = i.spawn();
        let pid = run.init_pid();
        wait_signals_set_up(pid);
        let ns = pid_ns(pid).expect("pid ns");
        for round in 0..2 {
            let st = Command::new(&nsenter)
                .args(["-t", &pid.to_string(), "-p", "--"])
                .args([helper!("forker"), "storm", "10"])
                .status()
                .expect("nsenter");
            assert!(st.success(), "{what}: nsenter forker storm: {st:?}");
            // Orphans whose parent was outside the namespace (nsenter) land on its PID 1 as well.
            let st = Command::new(&nsenter)
                .args([
                    "-t",
                    &pid.to_string(),
                    "-p",
                    "--",
                    "sh",
                    "-c",
                    "true & true & exit 0",
                ])
                .status()
                .expect("nsenter");
            assert!(st.success(), "{what}: nsenter sh: {st:?}");
            wait_until(
                &format!("{what} round {round}: the namespace to hold its init alone"),
                DEADLINE,
                || {
                    let procs = procs_in_pid_ns(&ns);
                    procs == vec![pid] && zombies(&procs).is_empty()
                },
            );
        }
        run.signal(sys::SIGTERM);
        run.wait(DEADLINE).assert_code(0);
    }
}

/// Not PID 1: catatonit always registers as child subreaper, so an orphan of PROGRAM is reparented to
/// it (and reaped); it says nothing about it.
#[test]
fn catatonit_not_pid1_is_a_subreaper() {
    let links = Links::new();
    for side in [Side::Real, Side::Reaper(Via::Link)] {
        let (adopted, o) =
            orphan_adopted_by_init(init(&links, "catatonit", side, Mode::Subreaper).arg("--"));
        // SIGTERM was forwarded to PROGRAM (sigcatch B exits 0).
        o.assert_code(0);
        assert!(
            adopted,
            "{side:?}: the orphan must be reparented to catatonit\n{o}"
        );
        assert!(o.stderr.is_empty(), "{side:?}: silent\n{o}");
        let o = orphan_storm(
            init(&links, "catatonit", side, Mode::Subreaper).arg("--"),
            5,
        );
        o.assert_code(0);
    }
}

/// `CATATONIT_DEBUG` (set, to anything): debug lines on stderr with the `(catatonit:PID): ` prefix,
/// among them `pid1 (N) spawned`. Unset: silent.
#[test]
fn catatonit_debug() {
    let links = Links::new();
    for mode in MODES {
        for side in [Side::Real, Side::Reaper(Via::Link)] {
            for value in ["1", ""] {
                let i = init(&links, "catatonit", side, mode).env("CATATONIT_DEBUG", value);
                let o = i.args(["--", "sh", "-c", "exit 6"]).run();
                o.assert_code(6);
                assert!(
                    has_line(&o.stderr, "%*(catatonit:%d): pid1 (%d) spawned%*"),
                    "{mode:?} {side:?} CATATONIT_DEBUG={value:?}\n{o}"
                );
            }
            let o = init(&links, "catatonit", side, mode)
                .args(["--", "sh", "-c", "exit 6"])
                .run();
            o.assert_code(6);
            assert!(o.stderr.is_empty(), "{mode:?} {side:?}: silent\n{o}");
        }
    }
}

/// After the spawn catatonit closes every inherited fd >= 3 (catatonit#12: it must not keep a pipe
/// open) and moves to `/` (catatonit#28: it must not pin the caller's mount); PROGRAM keeps both.
/// Debian's catatonit 0.1.7 predates the `chdir("/")` (it came with the #28 fix): that part is asserted
/// for reaper only, as the contract (catatonit 0.2) says.
#[test]
#[allow(unsafe_code)] // dup2/fcntl in the child: libc calls std does not wrap
fn catatonit_closes_fds_and_leaves_cwd() {
    let links = Links::new();
    for mode in MODES {
        for side in [Side::Real, Side::Reaper(Via::Link)] {
            let what = format!("{mode:?} {side:?}");
            let dir = TempDir::new("cwdfd");
            let held = fs::File::open("/etc/hostname").unwrap();
            let raw = held.as_raw_fd();
            let i = init(&links, "catatonit", side, mode)
                .cwd(dir.path())
                .pre_exec(move || {
                    // SAFETY: dup2 onto a fixed number, in the forked child; the flag is cleared
                    // explicitly in case `raw` already is 7 (dup2 is then a no-op).
                    if unsafe { libc::dup2(raw, 7) } < 0
                        // SAFETY: fcntl F_SETFD on the descriptor just made, in the forked child.
                        || unsafe { libc::fcntl(7, libc::F_SETFD, 0) } < 0
                    {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                })
                .arg("--");
            let mut c = Catcher::start(i, &["--exit-on", "TERM"], false);
            let init_pid = c.run.init_pid();
            let child = c.run.main_child();
            wait_until(&format!("{what}: the init to close fd 7"), DEADLINE, || {
                fs::read_link(format!("/proc/{init_pid}/fd/7")).is_err()
            });
            for fd in fs::read_dir(format!("/proc/{init_pid}/fd"))
                .unwrap()
                .flatten()
            {
                let n: i32 = fd.file_name().to_string_lossy().parse().unwrap();
                let target = fs::read_link(fd.path()).unwrap_or_default();
                assert!(
                    n < 3 || target.to_string_lossy().contains("signalfd"),
                    "{what}: the init keeps fd {n} -> {}",
                    target.display()
                );
            }
            assert!(
                fs::read_link(format!("/proc/{child}/fd/7")).is_ok(),
                "{what}: PROGRAM keeps its inherited fd 7"
            );
            assert_eq!(
                fs::read_link(format!("/proc/{child}/cwd")).unwrap(),
                dir.path(),
                "{what}: PROGRAM keeps the caller's cwd"
            );
            if side != Side::Real {
                wait_until(&format!("{what}: the init to chdir to /"), DEADLINE, || {
                    fs::read_link(format!("/proc/{init_pid}/cwd"))
                        .is_ok_and(|p| p == std::path::Path::new("/"))
                });
            }
            c.run.signal(sys::SIGTERM);
            c.run.wait(DEADLINE).assert_code(0);
            drop(held);
        }
    }
}

/// Socket activation: `LISTEN_PID` equal to catatonit's pid is rewritten to PROGRAM's pid; any other
/// value passes unchanged. Outside (catatonit's host pid) and as PID 1 (`LISTEN_PID=1`).
#[test]
fn catatonit_listen_pid() {
    let links = Links::new();
    let report = r#"printf '%s %s' "$LISTEN_PID" "$$" > "$0""#;
    for side in [Side::Real, Side::Reaper(Via::Link)] {
        let dir = TempDir::new("listen");
        // Outside: a shell sets LISTEN_PID to its own pid and execs catatonit.
        let out = dir.file("own");
        let o = init(&links, "catatonit", side, Mode::Subreaper)
            .wrapper(["sh", "-c", r#"LISTEN_PID=$$ LISTEN_FDS=1 exec "$@""#, "sh"])
            .args(["--", "sh", "-c", report, &out])
            .run();
        o.assert_code(0);
        let got = fs::read_to_string(&out).unwrap();
        let (l, me) = got.split_once(' ').unwrap();
        assert_eq!(
            l, me,
            "{side:?}: LISTEN_PID rewritten to PROGRAM's pid\n{o}"
        );
        // Not ours: unchanged.
        let out = dir.file("other");
        let o = init(&links, "catatonit", side, Mode::Subreaper)
            .env("LISTEN_PID", "1")
            .args(["--", "sh", "-c", report, &out])
            .run();
        o.assert_code(0);
        let got = fs::read_to_string(&out).unwrap();
        assert!(
            got.starts_with("1 ") && got != "1 1",
            "{side:?}: {got:?}\n{o}"
        );
        // As PID 1, LISTEN_PID=1 names catatonit.
        let out = dir.file("pid1");
        let o = init(&links, "catatonit", side, Mode::Pid1)
            .env("LISTEN_PID", "1")
            .args(["--", "sh", "-c", report, &out])
            .run();
        o.assert_code(0);
        let got = fs::read_to_string(&out).unwrap();
        let (l, me) = got.split_once(' ').unwrap();
        assert_eq!(l, me, "{side:?} as PID 1: {got:?}\n{o}");
        assert_ne!(l, "1", "{side:?}");
    }
}

/// Deliberate difference: real catatonit leaves SIGTSTP/SIGTTIN/SIGTTOU blocked in PROGRAM (and so in
/// every descendant: job control in the container breaks); reaper's catatonit gives PROGRAM the mask it
/// inherited. The test asserts the original's fault too, so that it documents what differs.
#[test]
fn catatonit_does_not_leave_job_control_signals_blocked() {
    let links = Links::new();
    let job = [sys::SIGTSTP, sys::SIGTTIN, sys::SIGTTOU];
    for mode in MODES {
        for side in [Side::Real, Side::Reaper(Via::Link)] {
            // `cat` is exec'd directly: it reports the mask as PROGRAM got it.
            let o = init(&links, "catatonit", side, mode)
                .args(["--", "cat", "/proc/self/status"])
                .run();
            o.assert_code(0);
            let blk = integration::parse_status_field(&o.stdout, "SigBlk").expect("SigBlk");
            for s in job {
                let blocked = mask_has(&blk, s);
                if side == Side::Real {
                    assert!(
                        blocked,
                        "{mode:?}: Debian's catatonit blocks {s} (its known fault)"
                    );
                } else {
                    assert!(
                        !blocked,
                        "{mode:?}: reaper's catatonit must not block {s}: {blk}"
                    );
                }
            }
            if side != Side::Real {
                assert_eq!(
                    u64::from_str_radix(&blk, 16).unwrap(),
                    0,
                    "{mode:?}: clean mask"
                );
            }
        }
    }
}

// ===================================================================================================
// pause

/// Any argument equal to `-v` (case-insensitive, anywhere) prints a version line on stdout and exits 0,
/// by symlink and by `--compat`; `--v`, `-vv`, `v` are not it (pause then runs until SIGTERM).
#[test]
fn pause_version_anywhere() {
    let links = Links::new();
    for via in VIAS {
        for args in [
            &["-v"][..],
            &["-V"][..],
            &["x", "-v"][..],
            &["a", "-V", "b"][..],
        ] {
            let o = links.reaper("pause", via, Mode::Subreaper).args(args).run();
            o.assert_code(0);
            assert_eq!(o.stdout.lines().count(), 1, "{via:?} {args:?}\n{o}");
            assert!(o.stderr.is_empty(), "{via:?} {args:?}\n{o}");
        }
        for args in [&["--v"][..], &["-vv"][..], &["v"][..]] {
            let mut run = links
                .reaper("pause", via, Mode::Subreaper)
                .args(args)
                .spawn();
            let pid = run.init_pid();
            wait_signals_set_up(pid);
            run.signal(sys::SIGTERM);
            let o = run.wait(DEADLINE);
            o.assert_code(0);
            assert!(o.stdout.is_empty(), "{via:?} {args:?}: no version\n{o}");
        }
    }
}

/// Not PID 1: `Warning: pause should be the first process` on stderr, and it carries on. SIGINT and
/// SIGTERM: `Shutting down, got signal: <description>` on stderr, exit 0; other signals are ignored.
/// As PID 1: no warning.
#[test]
fn pause_warning_and_shutdown() {
    let links = Links::new();
    for mode in MODES {
        for (stop, desc) in [(sys::SIGTERM, "Terminated"), (sys::SIGINT, "Interrupt")] {
            for via in [Via::Link, Via::Compat] {
                let what = format!("{mode:?} {via:?} {stop}");
                let mut run = links.reaper("pause", via, mode).spawn();
                let pid = run.init_pid();
                wait_signals_set_up(pid);
                signal_and_wait_handled(
                    &mut run,
                    &[sys::SIGUSR1, sys::SIGHUP, sys::SIGQUIT, sys::SIGUSR2],
                    &what,
                );
                run.signal(stop);
                let o = run.wait(DEADLINE);
                o.assert_code(0);
                assert!(o.stdout.is_empty(), "{what}\n{o}");
                let mut want = Vec::new();
                if mode == Mode::Subreaper {
                    want.push("Warning: pause should be the first process".to_string());
                }
                want.push(format!("Shutting down, got signal: {desc}"));
                assert_eq!(o.stderr_lines(), want, "{what}\n{o}");
            }
        }
    }
}
