//! Exit status: reaper exits with PROGRAM's exit code (0..=255), 128+N when signal N killed it, 127 /
//! 126 with one `reaper: cannot run 'PROG': REASON` line when it cannot be exec'd (docs/reaper.md,
//! "What it does" 2 and 8). Each holds as PID 1 of a PID namespace and as a subreaper, and the
//! anchors (tini, dumb-init, catatonit) are run on the same cases where they agree.
use integration::{helper, sys, tool, Init, Mode, TempDir, MODES};

/// Every exit code 0..=255 comes back unchanged, in both modes.
#[test]
fn every_exit_code_is_propagated() {
    for mode in MODES {
        for code in 0..=255 {
            let out = Init::reaper(mode)
                .args(["sh", "-c", &format!("exit {code}")])
                .run();
            assert_eq!(
                out.status.code(),
                Some(code),
                "{mode:?}: exit {code}\n{out}"
            );
            assert!(
                out.stderr.is_empty(),
                "{mode:?}: reaper logged on a clean exit\n{out}"
            );
        }
    }
}

/// Signals that kill by default (including real-time ones and 32..=34, which reaper handles with raw
/// system calls) come back as 128+N.
const KILLING: [i32; 30] = [
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 24, 25, 26, 27, 29, 30, 31, 32, 33, 34,
    35, 40, 50, 64,
];

/// Death by signal N gives 128+N, in both modes.
#[test]
fn death_by_signal_is_128_plus_n() {
    for mode in MODES {
        for sig in KILLING {
            let out = Init::reaper(mode)
                .args([helper!("selfkill"), &sig.to_string()])
                .run();
            assert_eq!(
                out.status.code(),
                Some(128 + sig),
                "{mode:?}: killed by {sig}\n{out}"
            );
        }
    }
}

/// `-e CODE` maps CODE to 0 (also after the 128+N mapping), leaves other codes alone, is repeatable.
#[test]
fn remap_exit_code() {
    for mode in MODES {
        let run = |args: &[&str]| Init::reaper(mode).args(args).run();
        run(&["-e", "3", "sh", "-c", "exit 3"]).assert_code(0);
        run(&["-e", "3", "sh", "-c", "exit 4"]).assert_code(4);
        run(&["-e", "3", "-e", "4", "sh", "-c", "exit 4"]).assert_code(0);
        run(&["--remap-exit", "255", "sh", "-c", "exit 255"]).assert_code(0);
        run(&["-e", "143", helper!("selfkill"), "TERM"]).assert_code(0);
        run(&["-e", "143", helper!("selfkill"), "INT"]).assert_code(130);
    }
}

fn assert_cannot_run(out: &integration::Outcome, prog: &str, code: i32) {
    out.assert_code(code);
    let lines = out.stderr_lines();
    let prefix = format!("reaper: cannot run '{prog}': ");
    assert!(
        lines.len() == 1 && lines[0].starts_with(&prefix) && lines[0].len() > prefix.len(),
        "want exactly one stderr line starting with {prefix:?} and a reason\n{out}"
    );
}

/// Not found: 127 (absolute path, and a name searched in PATH). Found but not executable: 126 (no x
/// bit; a directory). One line on stderr names the program and the reason.
#[test]
fn exec_failures_are_127_and_126() {
    let dir = TempDir::new("exec");
    let noexec = dir.file("not-executable");
    std::fs::write(&noexec, "#!/bin/sh\nexit 0\n").unwrap();
    for mode in MODES {
        let r = |p: &str| Init::reaper(mode).arg(p).run();
        assert_cannot_run(&r("/nonexistent/program"), "/nonexistent/program", 127);
        assert_cannot_run(&r("no-such-program-xyz"), "no-such-program-xyz", 127);
        assert_cannot_run(&r(&noexec), &noexec, 126);
        let d = dir.path().to_str().unwrap().to_string();
        assert_cannot_run(&r(&d), &d, 126);
    }
}

/// catatonit#5: a main child exiting 127 once hung catatonit. reaper returns it promptly.
#[test]
fn child_exiting_127_is_not_special() {
    for mode in MODES {
        let out = Init::reaper(mode).args(["sh", "-c", "exit 127"]).run();
        out.assert_code(127);
        assert!(out.stderr.is_empty(), "{out}");
    }
}

/// Differential: tini, dumb-init and catatonit, each as PID 1, agree with reaper on exit codes and
/// on 128+N.
#[test]
fn differential_exit_codes_with_anchors() {
    let anchors: Vec<(&str, Vec<&str>)> = vec![
        ("tini", vec!["--"]),
        ("dumb-init", vec![]),
        ("catatonit", vec!["--"]),
    ];
    for (name, pre) in &anchors {
        let bin = tool(name);
        for code in [0, 1, 2, 3, 42, 125, 126, 127, 128, 200, 254, 255] {
            let cmd = format!("exit {code}");
            let a = Init::program(&bin, Mode::Pid1)
                .args(pre)
                .args(["sh", "-c", &cmd])
                .run();
            let r = Init::reaper(Mode::Pid1).args(["sh", "-c", &cmd]).run();
            assert_eq!(
                a.status.code(),
                Some(code),
                "anchor {name} itself disagrees\n{a}"
            );
            assert_eq!(
                r.status.code(),
                a.status.code(),
                "reaper differs from {name}\n{r}\n{a}"
            );
        }
        for sig in [
            sys::SIGHUP,
            sys::SIGINT,
            sys::SIGUSR1,
            sys::SIGTERM,
            9,
            11,
            34,
            64,
        ] {
            let s = sig.to_string();
            let a = Init::program(&bin, Mode::Pid1)
                .args(pre)
                .args([helper!("selfkill"), &s])
                .run();
            let r = Init::reaper(Mode::Pid1)
                .args([helper!("selfkill"), &s])
                .run();
            assert_eq!(
                r.status.code(),
                Some(128 + sig),
                "reaper, signal {sig}\n{r}"
            );
            assert_eq!(
                r.status.code(),
                a.status.code(),
                "reaper differs from {name}\n{r}\n{a}"
            );
        }
    }
    // tini's exec failures match ours: 127 not found, 126 not executable.
    for (prog, code) in [("/nonexistent/program", 127), ("/", 126)] {
        let a = Init::program(tool("tini"), Mode::Pid1)
            .args(["--", prog])
            .run();
        let r = Init::reaper(Mode::Pid1).arg(prog).run();
        assert_eq!(a.status.code(), Some(code), "{a}");
        assert_eq!(r.status.code(), Some(code), "{r}");
    }
}
