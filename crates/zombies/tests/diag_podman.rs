//! Incident 2 on a real podman container: a PID 1 that never waits (`busybox sleep`) and a loop of
//! `podman exec` probes each leaving an orphan. `zombies` names the container as podman does,
//! estimates the leak rate from one scan and the time to the container's `--pids-limit`, fails
//! `check` on its default thresholds, never names the host's init for the `conmon` zombies each
//! exec leaves for a moment, gives the podman fix, and `zombies serve` labels the series with the
//! container's name (full scan and accounting).
mod serve_support;

use serve_support::*;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

fn report(extra: &[&str]) -> (i32, serde_json::Value) {
    let mut a = vec!["--json"];
    a.extend_from_slice(extra);
    let out = Command::new(zombies_bin()).args(&a).output().unwrap();
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("bad JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap_or(-1), v)
}

fn group(v: &serde_json::Value, pid: i32) -> Option<&serde_json::Value> {
    v["groups"]
        .as_array()?
        .iter()
        .find(|g| g["parent"]["pid"] == pid)
}

const PROBES: u64 = 8;

/// One `podman exec` probe whose shell leaves an orphan (a short sleep) in the container.
fn probe(name: &str) {
    let _ = podman(&[
        "exec",
        name,
        "/bin/sh",
        "-c",
        "sleep 0.05 </dev/null >/dev/null 2>&1 & exit 0",
    ]);
}

#[test]
fn podman_exec_probe_leak_named_rated_checked_and_labelled() {
    require_root("rootful podman needed");
    let img = BusyboxImage::build("zombies-diag", &["sh", "sleep"]);
    let name = img.name.clone();
    let (id, pid1) = img.run_detached(&["--pids-limit", "64"], &["/bin/sleep", "3600"]);

    // The probes; between them, scans while each exec's conmon may still be a zombie of the
    // host's init: that init must never be named.
    let mut transient_seen = 0;
    for k in 1..=PROBES {
        probe(&name);
        let (_, v) = report(&[]);
        assert!(
            group(&v, 1).is_none(),
            "the host's init named as a culprit after probe {k}: {:#}",
            group(&v, 1).unwrap()
        );
        transient_seen += v["transient_zombie_count"].as_u64().unwrap();
    }
    eprintln!("transient zombies seen during the probes: {transient_seen}");

    let v = poll(
        "one zombie per probe under the container's PID 1",
        Duration::from_secs(60),
        || {
            let (_, v) = report(&[]);
            match group(&v, pid1).and_then(|g| g["zombie_count"].as_u64()) {
                Some(PROBES) => Ok(v),
                n => Err(format!("zombie_count of {pid1}: {n:?}")),
            }
        },
    );
    let g = group(&v, pid1).unwrap();
    let label = format!("container podman {name} ({})", &id[..12]);
    assert_eq!(g["parent"]["label"], label.as_str());
    assert_eq!(g["cause"], "exec_orphans");
    assert_eq!(g["parent"]["reaper_injected"], false);
    let fix = g["fix"].as_str().unwrap();
    assert!(
        fix.contains("podman run --init --init-path") && fix.contains("reaper-oci"),
        "{fix}"
    );
    // The rate from this one scan: 8 arrivals, fitted.
    let r = &g["rate"];
    assert_eq!(r["method"], "least_squares", "{r}");
    assert_eq!(r["count"], PROBES);
    assert!(
        r["source"] == "exit_time" || r["source"] == "start_time",
        "{r}"
    );
    assert!(g["new_per_minute"].as_f64().unwrap() > 1.0, "{r}");
    // 9 of 64 pids: the container's limit is exhausted long before the node's.
    let e = &g["exhaustion"];
    assert_eq!(e["limit_of"], label.as_str(), "{e}");
    assert_eq!(e["limit"], 64);
    assert!(e["seconds"].as_f64().unwrap() > 0.0, "{e}");
    // check fails on the default thresholds (a growing leak).
    let out = Command::new(zombies_bin()).arg("check").output().unwrap();
    let msg = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{msg}");

    // The agent labels the container's series with its name, in both modes.
    for mode in ["full", "accounting"] {
        let agent = Agent::start(&["--scan", mode]);
        let series =
            format!("zombies_zombie_processes{{namespace=\"\",pod=\"\",container=\"{name}\"}}");
        poll(
            &format!("{series} = {PROBES} (--scan {mode})"),
            Duration::from_secs(30),
            || {
                let body = agent.get("/metrics", None).body;
                if sample(&body, &series) == Some(PROBES as f64) {
                    Ok(())
                } else {
                    Err(body)
                }
            },
        );
    }
}

/// The static reaper-oci (`$REAPER_OCI_STATIC_DIR`, set by scripts/test.sh from
/// scripts/build-reaper-oci.sh) and reaper (`$REAPER_BIN`, from scripts/build-reaper.sh), else the
/// musl release builds in the target directory.
fn wrapper_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target"))
        .join("x86_64-unknown-linux-musl/release");
    let oci = std::env::var_os("REAPER_OCI_STATIC_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| target.clone())
        .join("reaper-oci");
    let reaper = std::env::var_os("REAPER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| target.join("reaper"));
    for p in [&oci, &reaper] {
        assert!(
            p.is_file(),
            "{} missing: run scripts/build-reaper-oci.sh and scripts/build-reaper.sh (scripts/test.sh does)",
            p.display()
        );
    }
    // The wrapper finds reaper beside itself.
    let dir = std::env::temp_dir().join(unique("zombies-wrapper"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(&oci, dir.join("reaper-oci")).unwrap();
    std::fs::copy(&reaper, dir.join("reaper")).unwrap();
    dir
}

#[test]
fn a_pid_1_injected_by_the_runtime_wrapper_is_said_so() {
    require_root("rootful podman needed");
    let wrapper = wrapper_dir();
    let img = BusyboxImage::build("zombies-wrapped", &["sh", "sleep"]);
    let name = img.name.clone();
    struct RmDir(PathBuf);
    impl Drop for RmDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _wrapper_dir = RmDir(wrapper.clone());
    let runtime = wrapper.join("reaper-oci");
    let (_, pid1) = img.run_detached(
        &["--runtime", runtime.to_str().unwrap()],
        &["/bin/sleep", "3600"],
    );
    let cmdline = std::fs::read(format!("/proc/{pid1}/cmdline")).unwrap();
    assert!(
        cmdline.starts_with(b"/dev/.reaper-init\0"),
        "PID 1 should be the injected reaper: {}",
        String::from_utf8_lossy(&cmdline)
    );
    // The same probes as the leak above: reaper reaps them, nothing is reported for the container.
    for _ in 0..PROBES {
        probe(&name);
    }
    // Every probe's orphan has ended and been reaped: PID 1 (reaper) has only the workload left.
    wait_until(
        "the probes' orphans reaped by the injected reaper",
        Duration::from_secs(30),
        || {
            std::fs::read_to_string(format!("/proc/{pid1}/task/{pid1}/children"))
                .is_ok_and(|c| c.split_whitespace().count() == 1)
        },
    );
    let (_, v) = report(&[]);
    let leaks: Vec<&serde_json::Value> = v["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["parent"]["label"].as_str().unwrap().contains(&name))
        .collect();
    assert!(leaks.is_empty(), "no leak under reaper: {leaks:?}");
    // `zombies tree PID` says who PID 1 is.
    let out = Command::new(zombies_bin())
        .args(["tree", &pid1.to_string(), "--color", "never"])
        .output()
        .unwrap();
    let tree = String::from_utf8_lossy(&out.stdout);
    assert!(
        tree.contains("PID 1 is reaper injected by reaper-oci") && tree.contains(&name),
        "{tree}"
    );
}
