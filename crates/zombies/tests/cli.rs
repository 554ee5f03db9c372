//! The command line's conventions: flags belong to the subcommands they apply to (others are
//! refused), every flag has a `ZOMBIES_*` variable shown in `--help` (the command line wins), and
//! every JSON output (`zombies --json`, `watch --json`, `tree --json`, `check --json`) carries a
//! `schema_version` and validates against its schema in docs/schema/ (scripts/validate-json.py,
//! Python jsonschema), on real zombies in a cgroup named like a Kubernetes pod.
mod serve_support;

use serve_support::*;
use std::process::{Command, Output};

fn zombies(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(zombies_bin());
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn flags_that_do_not_apply_are_refused() {
    for (args, bad) in [
        (&["serve", "--json", "--max-zombies", "3"][..], "--json"),
        (&["serve", "--max-zombies", "3"], "--max-zombies"),
        (&["--json", "serve"], "serve"),
        (&["check", "--color", "never"], "--color"),
        (&["tree", "--interval", "1"], "--interval"),
        (&["watch", "--listen", "127.0.0.1:1"], "--listen"),
        (&["--max-output", "10"], "--max-output"),
        (&["check", "--scan", "full"], "--scan"),
    ] {
        let out = zombies(args, &[]);
        assert_eq!(out.status.code(), Some(2), "{args:?} must be refused");
        let err = text(&out.stderr);
        assert!(
            err.contains("error:") && err.contains(bad),
            "{args:?}: {err}"
        );
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn every_flag_has_a_variable_shown_in_help_and_the_command_line_wins() {
    for (sub, flags) in [
        (
            &[][..],
            &[
                "json",
                "color",
                "proc-root",
                "sys-root",
                "pods-log-root",
                "max-zombies",
                "max-pid-usage",
                "min-age",
            ][..],
        ),
        (&["tree"], &["json", "color", "proc-root", "max-zombies"]),
        (
            &["watch"],
            &["interval", "iterations", "window", "json", "min-age"],
        ),
        (
            &["check"],
            &["max-output", "json", "max-pid-usage", "sys-root"],
        ),
        (
            &["serve"],
            &[
                "listen",
                "containers-log-root",
                "max-connections",
                "read-timeout",
                "scan",
                "log-format",
                "log-level",
                "proc-root",
                "sys-root",
                "pods-log-root",
            ],
        ),
    ] {
        let mut args = sub.to_vec();
        args.push("--help");
        let help = text(&zombies(&args, &[]).stdout);
        for f in flags {
            let var = format!("ZOMBIES_{}", f.to_uppercase().replace('-', "_"));
            assert!(help.contains(&format!("--{f}")), "{sub:?} --{f}");
            assert!(
                help.contains(&format!("[env: {var}=]")),
                "{sub:?}: {var}\n{help}"
            );
        }
    }
    // Real zombies: a variable sets the threshold, the flag overrides it.
    let leaker = Leaker::new("zt-cli-env", None);
    leaker.make(2, 2);
    // Other containers on this machine may be near their PID limits, and the tests running beside
    // this one leak zombies at a high rate: those two thresholds are off here.
    let others = [
        ("ZOMBIES_MAX_PID_USAGE", "1"),
        ("ZOMBIES_MAX_LEAK_RATE", "1000000"),
    ];
    let out = zombies(
        &["check"],
        &[("ZOMBIES_MAX_ZOMBIES", "0"), others[0], others[1]],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let out = zombies(
        &["check", "--max-zombies", "1000000"],
        &[("ZOMBIES_MAX_ZOMBIES", "0"), others[0], others[1]],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let out = zombies(&["check"], &[("ZOMBIES_MAX_ZOMBIES", "many")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("'many'"),
        "{}",
        text(&out.stderr)
    );
    let out = zombies(&[], &[("ZOMBIES_JSON", "true")]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["schema_version"], 1);
    let out = zombies(&["--color", "never"], &[("ZOMBIES_JSON", "false")]);
    assert!(serde_json::from_slice::<serde_json::Value>(&out.stdout).is_err());
    let out = zombies(&[], &[("ZOMBIES_JSON", "perhaps")]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn every_json_output_validates_against_its_schema() {
    let python = require_tool("python3");
    let pod = FakePod::new("shop", "schema-0", "app", 50);
    let leaker = Leaker::new("zt-schema", Some(&pod.procs()));
    leaker.make(3, 3);
    let roots = pod.agent_args();
    let pods_root = roots[0].as_str();
    let dir = temp_dir("zombies-schema");
    let mut runs: Vec<(&str, Vec<String>, i32)> = vec![
        ("report", vec!["--json".into(), pods_root.into()], 0),
        (
            "report",
            vec![
                "watch".into(),
                "--json".into(),
                "--iterations".into(),
                "3".into(),
                "--interval".into(),
                "0.2".into(),
                pods_root.into(),
            ],
            0,
        ),
        (
            "tree",
            vec!["tree".into(), "--json".into(), pods_root.into()],
            0,
        ),
        (
            "tree",
            vec![
                "tree".into(),
                leaker.pid.to_string(),
                "--json".into(),
                pods_root.into(),
            ],
            0,
        ),
        (
            "check",
            vec!["check".into(), "--json".into(), pods_root.into()],
            0,
        ),
        (
            "check",
            vec![
                "check".into(),
                "--json".into(),
                "--max-zombies".into(),
                "0".into(),
                pods_root.into(),
            ],
            1,
        ),
        (
            "check",
            vec![
                "check".into(),
                "--json".into(),
                "--proc-root".into(),
                "/nonexistent/proc".into(),
            ],
            2,
        ),
    ];
    let mut files: Vec<(String, std::path::PathBuf)> = Vec::new();
    for (i, (schema, args, code)) in runs.drain(..).enumerate() {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        // Other containers on this machine may be near their PID limits: that threshold is off,
        // and "healthy" (0) may still be 1 if another test's container goes over its limit.
        let out = zombies(&a, &[("ZOMBIES_MAX_PID_USAGE", "1")]);
        let got = out.status.code().unwrap();
        assert!(
            got == code || (code == 0 && got == 1),
            "{a:?}: exit {got}: {}",
            text(&out.stderr)
        );
        let body = text(&out.stdout);
        for line in body.lines().filter(|l| l.starts_with('{')) {
            // Pretty JSON starts with a lone `{`; NDJSON lines are whole objects.
            if line.len() > 1 {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                assert_eq!(v["schema_version"], 1, "{a:?}");
            }
        }
        if !body.starts_with("{\n") {
            assert_eq!(body.lines().count(), 3, "watch: one object per scan");
        } else {
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(v["schema_version"], 1, "{a:?}");
            if schema == "check" {
                assert_eq!(v["exit_code"], got);
                let status = ["ok", "problem", "unknown"][got as usize];
                assert_eq!(v["status"], status);
                assert!(v["message"].as_str().unwrap().len() <= 80);
            }
            if schema == "report" {
                // The zombies of the pod-named cgroup, with their pod.
                let g = v["groups"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|g| g["parent"]["pid"] == leaker.pid)
                    .expect("the leaker's group");
                assert_eq!(g["zombie_count"], 3);
                assert_eq!(g["parent"]["pod"]["name"], "schema-0");
            }
        }
        let f = dir.0.join(format!("{i}-{schema}.json"));
        std::fs::write(&f, &body).unwrap();
        files.push((schema.to_string(), f));
    }
    for schema in ["report", "tree", "check"] {
        let mut cmd = Command::new(&python);
        cmd.arg(repo().join("scripts/validate-json.py")).arg(schema);
        let mine: Vec<_> = files.iter().filter(|(s, _)| s == schema).collect();
        for (_, f) in &mine {
            cmd.arg(f);
        }
        let out = cmd.output().unwrap();
        let report = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(out.status.success(), "{schema}:\n{report}");
        let n = if schema == "report" { 4 } else { mine.len() };
        assert!(
            report.contains(&format!("{n} of {n} documents valid")),
            "{report}"
        );
    }
    // The validator is not a rubber stamp: a check verdict contradicting its exit code fails.
    let bad = dir.0.join("bad.json");
    std::fs::write(
        &bad,
        r#"{"schema_version":1,"status":"ok","exit_code":1,"message":"x","error":null,"report":null}"#,
    )
    .unwrap();
    let out = Command::new(&python)
        .arg(repo().join("scripts/validate-json.py"))
        .arg("check")
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
}
