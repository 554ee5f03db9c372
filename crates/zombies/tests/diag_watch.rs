//! `zombies watch` on real processes: a parent without a SIGCHLD handler that reaps its children
//! late (a poll with `WNOHANG` every second) always holds two young zombies. One scan cannot tell
//! it from a leak; `watch` sees it reap and from then on counts its zombies as transient, never
//! naming it. A parent that never reaps, beside it, is named with a rate from the arrivals.

mod common;

use common::*;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn python(code: &str) -> Kill {
    Kill(
        Command::new(require_tool("python3"))
            .args(["-c", code])
            .stdin(Stdio::null())
            .spawn()
            .expect("python3"),
    )
}

const LATE_REAPER: &str = r#"
import os, time
while True:
    for _ in range(2):
        if os.fork() == 0:
            os._exit(0)
    time.sleep(1.0)
    while True:
        try:
            p, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if p == 0:
            break
"#;

const LEAKER: &str = r#"
import os, time
while True:
    if os.fork() == 0:
        os._exit(0)
    time.sleep(0.5)
"#;

#[test]
fn watch_learns_a_parent_reaps_and_names_only_the_leak() {
    let reaper = python(LATE_REAPER);
    let leaker = python(LEAKER);
    let (rp, lp) = (reaper.0.id() as i64, leaker.0.id() as i64);
    // Let both make zombies first.
    poll(
        "both parents to hold zombies",
        Duration::from_secs(20),
        || {
            let (a, b) = (zombie_children(rp as i32), zombie_children(lp as i32));
            if !a.is_empty() && b.len() >= 2 {
                Ok(())
            } else {
                Err(format!("zombies of {rp}: {a:?}, of {lp}: {b:?}"))
            }
        },
    );
    let (_, out, err) = run(&[
        "watch",
        "--json",
        "--interval",
        "0.4",
        "--iterations",
        "12",
        "--transient-age",
        "5",
    ]);
    let scans: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}\n{err}")))
        .collect();
    assert_eq!(scans.len(), 12, "{err}");
    // Once the late reaper has reaped under watch's eyes (within its first ~1.5 s, 4 scans), its
    // young zombies are transient: it is never named in the last scans.
    let mut named_late = 0;
    let mut transient_reaped = 0;
    for s in &scans[5..] {
        named_late += s["groups"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|g| g["parent"]["pid"] == rp)
            .count();
        transient_reaped += s["transient"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["ppid"] == rp && t["reaping"] == "reaped_since_last_scan")
            .count();
    }
    assert_eq!(
        named_late, 0,
        "the late reaper was named after it was seen reaping"
    );
    assert!(
        transient_reaped > 0,
        "its zombies should be transient because it reaped"
    );
    // The leaker is named in the last scan, with a rate near 2 per second.
    let last = scans.last().unwrap();
    let g = last["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["parent"]["pid"] == lp)
        .expect("the leaker is named");
    let rate = g["new_per_minute"].as_f64().unwrap();
    assert!(
        (60.0..=180.0).contains(&rate),
        "leaker rate {rate}/min, ~120 expected"
    );
    assert_eq!(g["rate"]["ongoing"], true);
}
