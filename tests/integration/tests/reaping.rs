//! Reaping (docs/reaper.md "Reaps", "Logs"): an orphan storm of 10,000 leaves no zombie and the exit
//! code is still right; the main child exiting in the same SIGCHLD batch as others never hangs
//! reaper (catatonit#4/#5); `-w` names each reaped orphan and the exit summary counts them.
use integration::{
    helper, tool, wait_file, zombies, Init, Mode, Running, TempDir, DEADLINE, MODES,
};
use std::time::Duration;

/// Starts `init ARGS... forker storm N --ready R --exit 42` and waits until the storm is made.
fn storm(init: Init, n: usize) -> (Running, TempDir) {
    let dir = TempDir::new("storm");
    let ready = dir.file("ready");
    let run = init
        .args([
            helper!("forker"),
            "storm",
            &n.to_string(),
            "--ready",
            &ready,
            "--exit",
            "42",
        ])
        .spawn();
    wait_file(&ready, Duration::from_secs(120));
    (run, dir)
}

/// Polls until no process of the run is a zombie (the storm's orphans were all reaped).
fn assert_no_zombies_left(run: &mut Running, who: &str) {
    let mut left = Vec::new();
    let ok = integration::poll_until(Duration::from_secs(60), || {
        left = zombies(&run.processes());
        left.is_empty()
    });
    assert!(
        ok,
        "{who} {:?}: {} zombies left, e.g. {:?}",
        run.mode,
        left.len(),
        &left[..left.len().min(10)]
    );
}

/// 10,000 orphans, as PID 1 and as subreaper: no zombie is left while PROGRAM still runs, PROGRAM's
/// exit code (42) comes back afterwards, and the summary line counts exactly 10,000 orphans.
#[test]
fn orphan_storm_of_10000_leaves_no_zombie() {
    for mode in MODES {
        let (mut run, _dir) = storm(Init::reaper(mode), 10_000);
        assert_no_zombies_left(&mut run, "reaper");
        run.signal(integration::sys::SIGTERM);
        let out = run.wait(DEADLINE);
        out.assert_code(42);
        assert_eq!(
            out.stderr_lines(),
            vec!["reaper: reaped 10000 orphans (run with -w to log their names)"],
            "{mode:?}: summary line\n{out}"
        );
    }
}

/// Differential: tini, dumb-init and catatonit as PID 1 also leave no zombie after a storm, and
/// return PROGRAM's code; reaper does the same on the same case.
#[test]
fn differential_orphan_reaping_with_anchors() {
    let inits: Vec<(&str, Init)> = vec![
        ("reaper", Init::reaper(Mode::Pid1)),
        ("tini", Init::program(tool("tini"), Mode::Pid1).arg("--")),
        ("dumb-init", Init::program(tool("dumb-init"), Mode::Pid1)),
        (
            "catatonit",
            Init::program(tool("catatonit"), Mode::Pid1).arg("--"),
        ),
    ];
    for (name, init) in inits {
        let (mut run, _dir) = storm(init, 1000);
        assert_no_zombies_left(&mut run, name);
        run.signal(integration::sys::SIGTERM);
        let out = run.wait(DEADLINE);
        out.assert_code(42);
    }
}

/// catatonit#4/#5: PROGRAM exits at the very moment 20 of its children do (they wait on a pipe that
/// its exit closes), so its SIGCHLD is coalesced with theirs; also with exit code 127. Repeated 60
/// times per mode; each run must end promptly (well under the 10 s grace) with PROGRAM's code.
#[test]
fn main_child_exit_in_same_sigchld_batch() {
    for mode in MODES {
        for i in 0..60 {
            let code = [0, 3, 127][i % 3];
            let out = Init::reaper(mode)
                .args([
                    "--grace",
                    "10s",
                    helper!("forker"),
                    "batch",
                    "20",
                    &code.to_string(),
                ])
                .spawn()
                .wait(Duration::from_secs(8));
            assert_eq!(out.status.code(), Some(code), "{mode:?} run {i}\n{out}");
            assert!(
                out.elapsed < Duration::from_secs(8),
                "{mode:?} run {i} slow: {out}"
            );
        }
    }
}

fn parse_orphan_line(l: &str) -> Option<(i32, String, String)> {
    let rest = l.strip_prefix("reaper: reaped orphan ")?;
    let mut it = rest.split(' ');
    let pid = it.next()?.strip_prefix("pid=")?.parse().ok()?;
    let name = it.next()?.strip_prefix("name=")?.to_string();
    let how = it.next()?.to_string();
    it.next().is_none().then_some((pid, name, how))
}

/// `-w` (and REAPER_WARN_REAPED=1): one `reaper: reaped orphan pid=N name=COMM exit=C|signal=NAME`
/// line per orphan (name set by the orphan with prctl, so it must be read before the zombie is
/// released), none for PROGRAM, then the summary naming the commonest names. (The signal name may
/// be written `KILL` or `SIGKILL`: docs/reaper.md says `signal=NAME`.)
#[test]
fn warn_reaped_names_each_orphan() {
    for mode in MODES {
        for env in [false, true] {
            let mut init = Init::reaper(mode);
            init = if env {
                init.env("REAPER_WARN_REAPED", "1")
            } else {
                init.arg("-w")
            };
            let out = init
                .args([
                    helper!("forker"),
                    "named",
                    "alpha:exit=0",
                    "alpha:exit=3",
                    "beta:signal=KILL",
                ])
                .args(["alpha:exit=0", "beta:exit=7", "--exit", "4"])
                .run();
            out.assert_code(4);
            let lines = out.stderr_lines();
            let mut orphans: Vec<(String, String)> = lines
                .iter()
                .filter(|l| l.starts_with("reaper: reaped orphan "))
                .map(|l| {
                    let (_, n, h) = parse_orphan_line(l)
                        .unwrap_or_else(|| panic!("malformed line {l:?}\n{out}"));
                    (n, h.replace("signal=SIG", "signal="))
                })
                .collect();
            orphans.sort();
            let want: Vec<(String, String)> = [
                ("alpha", "exit=0"),
                ("alpha", "exit=0"),
                ("alpha", "exit=3"),
                ("beta", "exit=7"),
                ("beta", "signal=KILL"),
            ]
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
            assert_eq!(orphans, want, "{mode:?} env={env}: orphan lines\n{out}");
            let summary: Vec<&&str> = lines
                .iter()
                .filter(|l| !l.starts_with("reaper: reaped orphan "))
                .collect();
            assert_eq!(
                summary.len(),
                1,
                "{mode:?}: exactly one summary line\n{out}"
            );
            assert!(
                summary[0]
                    .starts_with("reaper: reaped 5 orphans; most common: alpha (3), beta (2)"),
                "{mode:?}: summary\n{out}"
            );
        }
    }
}

/// Without -w: no per-orphan line, and the summary says how many and how to get names. With no
/// orphan at all: no summary (stderr stays empty).
#[test]
fn summary_without_w() {
    for mode in MODES {
        let out = Init::reaper(mode)
            .args([
                helper!("forker"),
                "named",
                "x:exit=0",
                "y:exit=1",
                "z:exit=0",
                "--exit",
                "0",
            ])
            .run();
        out.assert_code(0);
        assert_eq!(
            out.stderr_lines(),
            vec!["reaper: reaped 3 orphans (run with -w to log their names)"],
            "{mode:?}\n{out}"
        );
        let out = Init::reaper(mode)
            .arg("-w")
            .args(["sh", "-c", "exit 0"])
            .run();
        out.assert_code(0);
        assert_eq!(
            out.stderr, "",
            "{mode:?}: -w must not log PROGRAM itself\n{out}"
        );
    }
}

/// The orphan name can also come from exec: a subshell starts `sleep 0` in the background and exits,
/// so `sleep` is orphaned; PROGRAM waits until reaper has reaped it (`kill -0` fails once the zombie
/// is gone), then exits. The line says `name=sleep exit=0` (it exited on its own: no drain involved).
#[test]
fn warn_reaped_name_from_exec() {
    let script = r#"(sleep 0 & echo $! > "$PIDFILE"); p=$(cat "$PIDFILE"); while kill -0 "$p" 2>/dev/null; do :; done; exit 0"#;
    for mode in MODES {
        let dir = TempDir::new("execname");
        let out = Init::reaper(mode)
            .env("PIDFILE", dir.file("pid"))
            .args(["-w", "sh", "-c", script])
            .run();
        out.assert_code(0);
        let lines = out.stderr_lines();
        assert!(
            lines.iter().any(
                |l| parse_orphan_line(l).is_some_and(|(_, n, h)| n == "sleep" && h == "exit=0")
            ),
            "{mode:?}: want an orphan line for sleep\n{out}"
        );
    }
}

/// Not PID 1, reaper registers as child subreaper by itself: an orphan that PROGRAM leaves running
/// is re-parented to reaper (its ppid becomes reaper's pid), not to the machine's init, and the
/// drain then ends it. No warning is printed when registering works.
#[test]
fn subreaper_adopts_orphans() {
    let dir = TempDir::new("adopt");
    let (ready, log, go) = (dir.file("ready"), dir.file("log"), dir.file("go"));
    // PROGRAM: start sigcatch through an intermediate shell that exits, then wait for `go`.
    let script = format!(
        "sh -c '{} --ready {ready} --log {log} & exit 0'; while [ ! -e {go} ]; do sleep 0.01; done; exit 8",
        helper!("sigcatch")
    );
    let mut run = Init::reaper(Mode::Subreaper)
        .args(["sh", "-c", &script])
        .spawn();
    let orphan = integration::wait_ready(&ready).pid;
    let reaper = run.init_pid();
    integration::wait_until("the orphan to be re-parented to reaper", DEADLINE, || {
        integration::stat(orphan).is_some_and(|s| s.ppid == reaper)
    });
    std::fs::write(&go, "").unwrap();
    let out = run.wait(DEADLINE);
    out.assert_code(8);
    assert!(
        integration::is_gone(orphan),
        "the drain must end the adopted orphan"
    );
    assert!(!out.stderr.contains("warning"), "{out}");
}
