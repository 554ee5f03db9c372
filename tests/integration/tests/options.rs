//! Option parsing (docs/reaper.md, top and "Options"): parsing stops at the first non-option and at
//! `--`; every option has a REAPER_* variable and a flag beats its variable; booleans take
//! 1/true/yes/on and 0/false/no/off (empty = off); a bad option or value is one stderr line naming it,
//! exit 2, and PROGRAM does not run; -h/-V print on stdout and exit 0.
use integration::{
    helper, is_gone, sys, wait_ready, Init, KillOnDrop, Mode, Outcome, SigLog, TempDir,
};
use std::time::Duration;

fn reaper(args: &[&str]) -> Outcome {
    Init::reaper(Mode::Subreaper).args(args).run()
}

/// `reaper sh -c 'exit 3'`: `-c` belongs to sh. Options after PROGRAM reach PROGRAM untouched.
#[test]
fn parsing_stops_at_first_non_option() {
    reaper(&["sh", "-c", "exit 3"]).assert_code(3);
    reaper(&["-w", "sh", "-c", "exit 3"]).assert_code(3);
    let out = reaper(&[
        "sh",
        "-c",
        r#"echo "$@""#,
        "sh",
        "-g",
        "--grace",
        "1s",
        "--",
        "-w",
    ]);
    out.assert_code(0);
    assert_eq!(out.stdout, "-g --grace 1s -- -w\n", "{out}");
    // A later -e belongs to PROGRAM, not reaper: exit 3 is not remapped.
    reaper(&["sh", "-c", "exit 3", "-e", "3"]).assert_code(3);
}

/// `--` ends the options: what follows is PROGRAM even if it looks like an option.
#[test]
fn double_dash_is_honoured() {
    reaper(&["--", "sh", "-c", "exit 4"]).assert_code(4);
    reaper(&["-e", "4", "--", "sh", "-c", "exit 4"]).assert_code(0);
    let out = reaper(&["--", "-w"]);
    out.assert_code(127);
    assert!(out.stderr.starts_with("reaper: cannot run '-w': "), "{out}");
}

/// REAPER_REMAP_EXIT (comma-separated) applies; a -e flag replaces the variable's list.
#[test]
fn env_vars_apply_and_flags_beat_them() {
    let run = |env: &str, args: &[&str], code: i32| {
        Init::reaper(Mode::Subreaper)
            .env("REAPER_REMAP_EXIT", env)
            .args(args)
            .args(["sh", "-c", &format!("exit {code}")])
            .run()
    };
    run("3,4", &[], 3).assert_code(0);
    run("3,4", &[], 4).assert_code(0);
    run("3,4", &[], 5).assert_code(5);
    run("3", &["-e", "5"], 5).assert_code(0);
    run("3", &["-e", "5"], 3).assert_code(3);
}

/// A flag beats its variable, timed: REAPER_GRACE=30s with `-t 1s` drains a TERM-ignoring leftover
/// in about 1 s, not 30: it gets the TERM, then is killed.
#[test]
fn grace_flag_beats_variable() {
    let dir = TempDir::new("grace");
    let (ready, log) = (dir.file("ready"), dir.file("log"));
    let out = Init::reaper(Mode::Subreaper)
        .env("REAPER_GRACE", "30s")
        .args([
            "-t",
            "1s",
            helper!("forker"),
            "bg",
            "--ready",
            &ready,
            "--exit",
            "0",
            "--",
        ])
        .args([
            helper!("sigcatch"),
            "--ready",
            &ready,
            "--log",
            &log,
            "--exit-on",
            "none",
        ])
        .spawn()
        .wait(Duration::from_secs(20));
    let left = wait_ready(&ready).pid;
    let _left = KillOnDrop::new(left);
    out.assert_code(0);
    assert!(
        out.elapsed >= Duration::from_secs(1) && out.elapsed < Duration::from_secs(6),
        "{out}"
    );
    assert_eq!(SigLog(log).read(), vec![sys::SIGTERM], "{out}");
    assert!(is_gone(left), "the leftover must be killed\n{out}");
}

/// Boolean variables: 1/true/yes/on turn -w on, 0/false/no/off and empty leave it off (the -w line
/// for an orphan tells which).
#[test]
fn boolean_variables() {
    let orphan_logged = |v: &str| {
        let out = Init::reaper(Mode::Subreaper)
            .env("REAPER_WARN_REAPED", v)
            .args([helper!("forker"), "named", "boolprobe:exit=0"])
            .run();
        out.assert_code(0);
        out.stderr.contains("reaper: reaped orphan ")
    };
    for v in ["1", "true", "yes", "on"] {
        assert!(orphan_logged(v), "REAPER_WARN_REAPED={v} must enable -w");
    }
    for v in ["0", "false", "no", "off", ""] {
        assert!(
            !orphan_logged(v),
            "REAPER_WARN_REAPED={v:?} must leave -w off"
        );
    }
}

/// A usage error: exit 2, exactly one stderr line that starts with `reaper:` and names one of
/// `names`, and PROGRAM (which would create a marker file) does not run.
fn assert_usage_error(args: &[&str], env: &[(&str, &str)], names: &[&str]) {
    let dir = TempDir::new("usage");
    let marker = dir.file("ran");
    let mut init = Init::reaper(Mode::Subreaper).args(args);
    for (k, v) in env {
        init = init.env(k, v);
    }
    let with_prog = !args.is_empty() || !env.is_empty();
    if with_prog {
        init = init.args(["touch", &marker]);
    }
    let out = init.run();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{args:?} {env:?}: want exit 2\n{out}"
    );
    let lines = out.stderr_lines();
    assert!(
        lines.len() == 1
            && lines[0].starts_with("reaper:")
            && names.iter().any(|n| lines[0].contains(n)),
        "{args:?} {env:?}: want one 'reaper: ...' line naming one of {names:?}\n{out}"
    );
    assert!(
        !std::path::Path::new(&marker).exists(),
        "{args:?} {env:?}: PROGRAM ran"
    );
}

/// Bad flags and values, each named in a one-line error with exit 2.
#[test]
fn bad_options_are_usage_errors() {
    let g = &["-t", "--grace"][..];
    assert_usage_error(&["-t", "bogus"], &[], g);
    assert_usage_error(&["--grace", "5parsecs"], &[], g);
    assert_usage_error(&["-t", "-1s"], &[], g);
    let e = &["-e", "--remap-exit"][..];
    assert_usage_error(&["-e", "256"], &[], e);
    assert_usage_error(&["-e", "abc"], &[], e);
    let r = &["-r", "--rewrite"][..];
    assert_usage_error(&["-r", "FOO:BAR"], &[], r);
    assert_usage_error(&["-r", "USR1"], &[], r);
    assert_usage_error(&["-r", "USR1:NOPE"], &[], r);
    assert_usage_error(&["-r", "65:1"], &[], r);
    assert_usage_error(&["-p", "NOPE"], &[], &["-p", "--pdeathsig"]);
    assert_usage_error(&["--drain-signal", "NOPE"], &[], &["--drain-signal"]);
    assert_usage_error(&["--bogus-option"], &[], &["--bogus-option"]);
    assert_usage_error(&["-Q"], &[], &["-Q"]);
    assert_usage_error(
        &["--compat", "nosuchinit"],
        &[],
        &["--compat", "nosuchinit"],
    );
}

/// A flag with its value missing, and no PROGRAM at all, are usage errors too.
#[test]
fn missing_value_or_program() {
    for args in [&["-t"][..], &["--user"], &["-e"]] {
        let out = reaper(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}\n{out}");
        assert_eq!(out.stderr_lines().len(), 1, "{args:?}: one line\n{out}");
        assert!(
            out.stderr.contains(args[0]),
            "{args:?}: must name the option\n{out}"
        );
    }
    for args in [&[][..], &["-w"], &["--"]] {
        let out = reaper(args);
        assert_eq!(out.status.code(), Some(2), "no PROGRAM {args:?}\n{out}");
        assert!(out.stderr.starts_with("reaper:"), "{args:?}\n{out}");
    }
}

/// Bad variable values are named by their variable.
#[test]
fn bad_variables_are_usage_errors() {
    for (k, v) in [
        ("REAPER_GRACE", "soon"),
        ("REAPER_REMAP_EXIT", "300"),
        ("REAPER_GROUP", "maybe"),
        ("REAPER_NO_DRAIN", "2"),
        ("REAPER_REWRITE", "USR1:USR2,BOGUS"),
        ("REAPER_VERBOSITY", "loud"),
        ("REAPER_PDEATHSIG", "NOPE"),
    ] {
        assert_usage_error(&[], &[(k, v)], &[k]);
    }
}

/// `-h` prints help on stdout and exits 0; `-V` prints `reaper X.Y.Z (git COMMIT)` on stdout and exits 0.
#[test]
fn help_and_version() {
    for h in ["-h", "--help"] {
        let out = reaper(&[h]);
        out.assert_code(0);
        assert!(out.stdout.contains("reaper"), "{out}");
        assert!(out.stderr.is_empty(), "{out}");
    }
    for v in ["-V", "--version"] {
        let out = reaper(&[v]);
        out.assert_code(0);
        let line = out.stdout.trim_end();
        let (ver, rev) = line
            .strip_prefix("reaper ")
            .and_then(|l| l.strip_suffix(')'))
            .and_then(|l| l.split_once(" (git "))
            .unwrap_or_else(|| panic!("want 'reaper X.Y.Z (git COMMIT)'\n{out}"));
        let parts: Vec<&str> = ver.split('.').collect();
        assert!(
            parts.len() == 3 && parts.iter().all(|p| p.parse::<u32>().is_ok()),
            "want 'reaper X.Y.Z (git COMMIT)'\n{out}"
        );
        let commit = rev.strip_suffix("-dirty").unwrap_or(rev);
        assert!(
            commit == "unknown"
                || (commit.len() >= 7 && commit.bytes().all(|b| b.is_ascii_hexdigit())),
            "want a git commit (or unknown without git)\n{out}"
        );
    }
}

/// `-s` and REAPER_SUBREAPER are accepted (tini users' habit) and change nothing.
#[test]
fn subreaper_flag_accepted() {
    reaper(&["-s", "sh", "-c", "exit 6"]).assert_code(6);
    reaper(&["--subreaper", "sh", "-c", "exit 6"]).assert_code(6);
    Init::reaper(Mode::Subreaper)
        .env("REAPER_SUBREAPER", "1")
        .args(["sh", "-c", "exit 6"])
        .run()
        .assert_code(6);
    // And no warning: registering as subreaper works here.
    let out = reaper(&["sh", "-c", "exit 0"]);
    assert!(out.stderr.is_empty(), "{out}");
}
