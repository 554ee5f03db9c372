//! The agent knows when it is blind: with an empty `--sys-root`, an unreadable or missing
//! `--proc-root`, or a procfs of a PID namespace that is not the host's (`unshare --pid
//! --mount-proc`), `/readyz` answers 503 with the failed check and what to do, `/metrics` still
//! answers 200 with `zombies_up 0`, `zombies_visibility{check}` 0 and the read errors counted, an
//! error log line names the check, and `/healthz` (liveness) stays 200. On this host, unwrapped,
//! the same agent is ready. Also: logfmt and JSON log lines with `ts` and `level`, and
//! `ZOMBIES_*` variables configuring the agent.
mod serve_support;

use serve_support::*;
use std::process::Command;
use std::time::Duration;

fn assert_blind(a: &Agent, check: &str, kind: &str, reason: &str) {
    let r = a.get("/readyz", None);
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(
        r.body
            .starts_with("not ready: the agent cannot see the node\n"),
        "{}",
        r.body
    );
    assert!(
        r.body.contains(&format!("blind {check}: ")) && r.body.contains(reason),
        "{check} / {reason:?} not in:\n{}",
        r.body
    );
    assert_eq!(a.get("/healthz", None).status, 200, "liveness stays 200");
    let m = a.get("/metrics", None);
    assert_eq!(m.status, 200, "{}", m.body);
    assert_eq!(sample(&m.body, "zombies_up"), Some(0.0), "{}", m.body);
    assert_eq!(
        sample(&m.body, &format!("zombies_visibility{{check=\"{check}\"}}")),
        Some(0.0),
        "{}",
        m.body
    );
    let errors = sample(&m.body, &format!("zombies_read_errors{{kind=\"{kind}\"}}")).unwrap();
    assert!(errors >= 1.0, "read errors of kind {kind}: {}", m.body);
    assert!(sample(&m.body, "process_resident_memory_bytes").unwrap() > 0.0);
    // The reason is logged once, at level error, with the check's name.
    poll("the error log line", Duration::from_secs(5), || {
        let log = a.log.lock().unwrap();
        log.iter()
            .find(|l| {
                l.contains("level=error")
                    && l.contains(&format!("check={check}"))
                    && l.contains("state=blind")
            })
            .cloned()
            .ok_or_else(|| format!("log: {log:#?}"))
    });
    let n = a
        .log
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.contains("level=error"))
        .count();
    assert!(
        n <= 3,
        "the reason is logged when it changes, not on every scrape"
    );
}

#[test]
fn the_same_agent_on_this_host_is_ready() {
    let logs = temp_dir("zombies-blind-logs");
    let logs_arg = format!("--pods-log-root={}", logs.0.display());
    let a = Agent::start(&[
        &logs_arg,
        &format!("--containers-log-root={}", logs.0.display()),
    ]);
    let r = a.get("/readyz", None);
    assert_eq!(r.status, 200, "{}", r.body);
    for check in [
        "proc",
        "host_pid_namespace",
        "cgroup_pids",
        "pods_log_root",
        "containers_log_root",
    ] {
        assert!(r.body.contains(&format!("ok {check}\n")), "{}", r.body);
        let m = a.get("/metrics", None).body;
        assert_eq!(
            sample(&m, &format!("zombies_visibility{{check=\"{check}\"}}")),
            Some(1.0)
        );
    }
    let m = a.get("/metrics", None).body;
    assert_eq!(sample(&m, "zombies_up"), Some(1.0));
    assert!(!a
        .log
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.contains("level=error")));
}

#[test]
fn an_empty_sys_root_is_blind() {
    let empty = temp_dir("zombies-empty-sys");
    let arg = format!("--sys-root={}", empty.0.display());
    // Both scan modes: auto falls back to a full scan, which used to hide the problem.
    for mode in ["--scan=auto", "--scan=full"] {
        let a = Agent::start(&[&arg, mode]);
        assert_blind(&a, "cgroup_pids", "other", "no pids controller under");
        assert!(a.get("/readyz", None).body.contains("--sys-root"));
    }
}

#[test]
fn a_missing_proc_root_is_blind_and_metrics_still_answer() {
    let a = Agent::start(&["--proc-root=/nonexistent/proc", "--scan=full"]);
    assert_blind(&a, "proc", "other", "cannot read /nonexistent/proc/1/stat");
    assert!(a.get("/readyz", None).body.contains("hostPID: true"));
}

#[test]
fn an_unreadable_proc_is_blind_with_permission_denied() {
    let setpriv = require_tool("setpriv");
    let dir = temp_dir("zombies-unreadable-proc");
    let proc_dir = dir.0.join("proc");
    std::fs::create_dir_all(proc_dir.join("1")).unwrap();
    std::fs::write(proc_dir.join("1/stat"), "1 (init) S 0 1 1 0\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&proc_dir, std::fs::Permissions::from_mode(0o000)).unwrap();
    let mut cmd = Command::new(setpriv);
    cmd.args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--",
        zombies_bin(),
    ]);
    let a = Agent::start_with(
        cmd,
        &[
            &format!("--proc-root={}", proc_dir.display()),
            "--scan=full",
        ],
    );
    assert_blind(&a, "proc", "permission_denied", "Permission denied");
    std::fs::set_permissions(&proc_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn a_container_pid_namespace_is_blind() {
    let unshare = require_tool("unshare");
    let mut cmd = Command::new(unshare);
    cmd.args(["--pid", "--fork", "--mount-proc", "--kill-child", "--"])
        .arg(zombies_bin());
    let a = Agent::start_with(cmd, &["--log-format=json"]);
    let r = a.get("/readyz", None);
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(
        r.body.contains("blind host_pid_namespace: ")
            && r.body.contains("not the host's")
            && r.body.contains("hostPID: true"),
        "{}",
        r.body
    );
    // /proc itself is readable there: only the namespace check fails.
    assert!(r.body.contains("ok proc\n"), "{}", r.body);
    let m = a.get("/metrics", None).body;
    assert_eq!(sample(&m, "zombies_up"), Some(0.0), "{m}");
    assert_eq!(
        sample(&m, "zombies_visibility{check=\"host_pid_namespace\"}"),
        Some(0.0)
    );
    // It sees only its own namespace: itself.
    assert_eq!(sample(&m, "zombies_scanned_processes"), Some(1.0), "{m}");
    assert_eq!(
        sample(&m, "zombies_scrape_mode{mode=\"full\"}"),
        Some(1.0),
        "{m}"
    );
    // JSON log lines: ts, level, msg, and the check.
    let line = poll("a JSON error line", Duration::from_secs(5), || {
        let log = a.log.lock().unwrap();
        log.iter()
            .find(|l| l.contains("\"level\":\"error\""))
            .cloned()
            .ok_or_else(|| format!("log: {log:#?}"))
    });
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["check"], "host_pid_namespace");
    assert!(v["ts"].as_str().unwrap().ends_with('Z'));
    assert!(v["msg"].as_str().unwrap().starts_with("blind: "));
    for l in a.log.lock().unwrap().iter() {
        let v: serde_json::Value =
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
        assert!(v["ts"].is_string() && v["level"].is_string() && v["msg"].is_string());
    }
}

#[test]
fn logfmt_lines_have_ts_and_level_and_the_level_filters() {
    let a = Agent::start(&["--log-level=debug"]);
    assert_eq!(a.get("/metrics", None).status, 200);
    let line = poll(
        "a debug line for the scrape",
        Duration::from_secs(5),
        || {
            let log = a.log.lock().unwrap();
            log.iter()
                .find(|l| l.contains("level=debug msg=scrape"))
                .cloned()
                .ok_or_else(|| format!("log: {log:#?}"))
        },
    );
    let ts = line.strip_prefix("ts=").unwrap().split(' ').next().unwrap();
    assert_eq!(ts.len(), "2026-01-02T03:04:05.678Z".len(), "{line}");
    assert!(ts.ends_with('Z') && ts.as_bytes()[10] == b'T', "{line}");
    for l in a.log.lock().unwrap().iter() {
        assert!(l.starts_with("ts=") && l.contains(" level="), "{l}");
    }
    // At --log-level error a healthy agent writes nothing (not even where it listens): the
    // address and the level come from ZOMBIES_LISTEN and ZOMBIES_LOG_LEVEL.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let quiet = Command::new(zombies_bin())
        .arg("serve")
        .env("ZOMBIES_LISTEN", addr.to_string())
        .env("ZOMBIES_LOG_LEVEL", "error")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    poll("the quiet agent answers", Duration::from_secs(20), || {
        std::net::TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))
    });
    assert_eq!(http_get(addr, "/metrics", None).status, 200);
    signal(quiet.id() as i32, libc::SIGTERM).expect("SIGTERM to the quiet agent");
    let out = quiet.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
