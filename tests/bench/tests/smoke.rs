//! Smoke test of the harness: every measurement runs once, small, and its line carries the figures
//! bench.sh reads, with the counts that cannot vary (every orphan reaped and matched in the trace).

use std::collections::HashMap;
use std::process::Command;

fn run(args: &[&str]) -> Vec<HashMap<String, String>> {
    let out = Command::new(env!("CARGO_BIN_EXE_reaper-bench"))
        .args(args)
        .output()
        .expect("run reaper-bench");
    assert!(
        out.status.success(),
        "reaper-bench {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8 output")
        .lines()
        .map(|l| {
            l.split(' ')
                .filter_map(|f| f.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

fn num(m: &HashMap<String, String>, k: &str) -> f64 {
    m.get(k)
        .unwrap_or_else(|| panic!("no {k} in {m:?}"))
        .parse()
        .unwrap_or_else(|_| panic!("{k} is not a number in {m:?}"))
}

/// The anchor the tests run under: a Debian package that scripts/setup.sh installs.
const TINI: &str = "/usr/bin/tini-static";

#[test]
fn mem_reads_pid1_rss() {
    let l = &run(&["mem", "--init", &format!("tini-static={TINI}")])[0];
    assert_eq!(l["init"], "tini-static");
    assert!(
        num(l, "vmrss_kb") > 0.0 && num(l, "rssanon_kb") > 0.0,
        "{l:?}"
    );
}

#[test]
fn sig_times_every_forwarded_signal() {
    let l = &run(&["sig", "--init", TINI, "--trials", "30", "--gap-us", "200"])[0];
    assert_eq!(
        (l["init"].as_str(), num(l, "trials")),
        ("tini-static", 30.0)
    );
    assert!(
        num(l, "p50_us") > 0.0 && num(l, "p99_us") >= num(l, "p50_us"),
        "{l:?}"
    );
}

#[test]
fn traced_storm_matches_every_orphan() {
    for (init, reaps) in [("none", 202.0), (TINI, 200.0)] {
        let l = &run(&["storm", "--init", init, "-n", "200", "-k", "2", "--trace"])[0];
        assert_eq!(
            num(l, "tr_entries"),
            num(l, "tr_written"),
            "trace buffer overflowed: {l:?}"
        );
        // PID 1 reaps the 200 grandchildren; as PID 1, the workload also reaps its 2 creators.
        assert_eq!(num(l, "tr_reaps"), reaps, "{l:?}");
        assert_eq!(num(l, "tr_matched"), 200.0, "{l:?}");
        // At least one wait4 per orphan.
        assert!(num(l, "sys_per_orphan") >= 1.0, "{l:?}");
        assert!(num(l, "zlife_p50_us") > 0.0, "{l:?}");
    }
}

#[test]
fn startup_is_relative_to_bare_true() {
    let lines = run(&["startup", "--runs", "5", "none", TINI]);
    assert_eq!(lines.len(), 2);
    assert_eq!(
        (lines[0]["init"].as_str(), num(&lines[0], "delta_us")),
        ("none", 0.0)
    );
    assert_eq!(num(&lines[1], "runs"), 5.0);
    assert!(num(&lines[1], "median_us") > 0.0);
}

#[test]
fn bad_input_is_refused_with_a_reason() {
    let out = Command::new(env!("CARGO_BIN_EXE_reaper-bench"))
        .args(["storm", "--init", "/no/such/init"])
        .output()
        .expect("run reaper-bench");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot use /no/such/init"), "{err}");
}
