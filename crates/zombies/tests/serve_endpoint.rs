//! `zombies serve`: the endpoint, its formats (checked by `promtool check metrics`), the metrics'
//! labels and values with real zombies in a real (fake-named) pod cgroup, robustness against slow,
//! malformed and oversized requests, and that it never creates a process.
mod serve_support;

use serve_support::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

const TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
const OM: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

fn promtool_check(body: &str) {
    let mut child = Command::new(require_tool("promtool"))
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics failed ({}):\n{}{}\n--- exposition:\n{body}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn formats_paths_and_promtool() {
    let mut a = Agent::start(&[]);
    let r = a.get("/metrics", None);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some(TEXT));
    assert!(
        r.body.contains("\nzombies_build_info{version=\""),
        "{}",
        r.body
    );
    assert!(r
        .body
        .contains("zombies_zombie_processes{namespace=\"\",pod=\"\",container=\"\"} "));
    assert!(!r.body.contains("# EOF"));
    // `--scan auto` on a host with a readable pids controller, as root in the host PID namespace.
    assert_eq!(
        sample(&r.body, "zombies_scrape_mode{mode=\"accounting\"}"),
        Some(1.0),
        "{}",
        r.body
    );
    assert_eq!(
        sample(&r.body, "zombies_scrape_mode{mode=\"full\"}"),
        Some(0.0)
    );
    promtool_check(&r.body);

    for accept in [
        "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
        "application/openmetrics-text",
    ] {
        let r = a.get("/metrics", Some(accept));
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some(OM));
        assert!(r.body.ends_with("\n# EOF\n"), "{}", r.body);
        assert!(r.body.contains("# TYPE zombies_observed counter\n"));
        assert!(r.body.contains("# TYPE zombies_build info\n"));
    }
    let r = a.get("/metrics", Some("text/plain;version=0.0.4"));
    assert_eq!(r.header("content-type"), Some(TEXT));

    let r = a.get("/healthz", None);
    assert_eq!((r.status, r.body.as_str()), (200, "ok\n"));
    assert_eq!(a.get("/nope", None).status, 404);
    assert_eq!(a.stop(), Some(0), "SIGTERM must stop the agent cleanly");
}

#[test]
fn pod_and_host_zombies_have_the_right_labels_and_values_accounting() {
    pod_and_host_zombies("accounting");
}

#[test]
fn pod_and_host_zombies_have_the_right_labels_and_values_full_scan() {
    pod_and_host_zombies("full");
}

/// The tests that make zombies outside any pod, or read the node-wide "outside any pod" bucket, take
/// this lock: run in parallel, one test's zombies (and their reaping) would move the other's bucket.
static HOST_BUCKET: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn host_bucket_lock() -> std::sync::MutexGuard<'static, ()> {
    HOST_BUCKET
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Asserts each (series, value) of a scrape; shows the whole scrape when one differs.
fn assert_samples(body: &str, want: &[(String, Option<f64>)]) {
    for (series, value) in want {
        assert_eq!(sample(body, series), *value, "{series} in\n{body}");
    }
}

fn pod_and_host_zombies(mode: &str) {
    let _host = host_bucket_lock();
    let pod = FakePod::new("shop", "cart-7d9f", "app", 50);
    let mut args = pod.agent_args();
    args.push(format!("--scan={mode}"));
    let a = Agent::start(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let ns = &pod.namespace;
    let p = &pod.name;
    let c_series = format!("{{namespace=\"{ns}\",pod=\"{p}\",container=\"app\"}}");
    let pod_level = format!("{{namespace=\"{ns}\",pod=\"{p}\",container=\"\"}}");
    let pod2 = format!("{{namespace=\"{ns}\",pod=\"{p}\"}}");
    let host = "{namespace=\"\",pod=\"\",container=\"\"}";

    // Known pod and container, no zombies yet: present at 0.
    let before = a.get("/metrics", None).body;
    assert_samples(
        &before,
        &[
            (format!("zombies_zombie_processes{c_series}"), Some(0.0)),
            (format!("zombies_zombie_processes{pod_level}"), Some(0.0)),
            (format!("zombies_observed_total{c_series}"), Some(0.0)),
            (format!("zombies_pod_pids_max{pod2}"), Some(50.0)),
            (format!("zombies_pod_pids_current{pod2}"), Some(0.0)),
            (format!("zombies_scrape_mode{{mode=\"{mode}\"}}"), Some(1.0)),
        ],
    );
    let host_before = sample(&before, &format!("zombies_zombie_processes{host}")).unwrap();

    let t0 = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let leaker = Leaker::new("zt-leaker", Some(&pod.procs()));
    leaker.make(5, 5);
    let outside = Leaker::new("zt-outside", None);
    outside.make(3, 3);
    let body = a.get("/metrics", None).body;
    promtool_check(&body);
    assert_samples(
        &body,
        &[
            (format!("zombies_zombie_processes{c_series}"), Some(5.0)),
            (format!("zombies_zombie_processes{pod_level}"), Some(0.0)),
            (format!("zombies_observed_total{c_series}"), Some(5.0)),
            // pids.current of the pod: the leaker and its 5 zombies.
            (format!("zombies_pod_pids_current{pod2}"), Some(6.0)),
        ],
    );
    let host_now = sample(&body, &format!("zombies_zombie_processes{host}")).unwrap();
    assert!(
        host_now >= host_before + 3.0 - 0.5,
        "host bucket {host_before} -> {host_now}"
    );
    let first = sample(
        &body,
        &format!("zombies_oldest_first_seen_timestamp_seconds{pod2}"),
    )
    .unwrap();
    assert!(first >= t0 - 1.0 && first <= t0 + 30.0, "{first} vs {t0}");
    // No pid label, no process names: the leaker's comm never appears.
    assert!(!body.contains("pid=\""), "{body}");
    assert!(!body.contains("zt-leaker") && !body.contains("zt-outside"));

    // More zombies: the counter grows, the oldest first-seen stays.
    std::thread::sleep(Duration::from_millis(1100));
    leaker.make(2, 7);
    let body = a.get("/metrics", None).body;
    assert_samples(
        &body,
        &[
            (format!("zombies_zombie_processes{c_series}"), Some(7.0)),
            (format!("zombies_observed_total{c_series}"), Some(7.0)),
            (
                format!("zombies_oldest_first_seen_timestamp_seconds{pod2}"),
                Some(first),
            ),
        ],
    );

    // Reaped: back to 0, the series stays, the counter does not go down, no timestamp.
    drop(leaker);
    let body = poll("the pod's zombies reaped", Duration::from_secs(10), || {
        let b = a.get("/metrics", None).body;
        match sample(&b, &format!("zombies_zombie_processes{c_series}")) {
            Some(0.0) => Ok(b),
            n => Err(format!("zombies_zombie_processes{c_series} = {n:?}")),
        }
    });
    assert_samples(
        &body,
        &[
            (format!("zombies_observed_total{c_series}"), Some(7.0)),
            (
                format!("zombies_oldest_first_seen_timestamp_seconds{pod2}"),
                None,
            ),
        ],
    );
    drop(outside);
}

/// A client that sends its request head one byte every 300 ms until `stop` is set.
fn slowloris(addr: std::net::SocketAddr, stop: Arc<AtomicBool>) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .unwrap();
    let mut c = s.try_clone().unwrap();
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            if c.write_all(b"a").is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    });
    s
}

#[test]
fn slowloris_cannot_lock_scrapes_out() {
    // The slow heads would be timed out only after 10 minutes: a scrape that is served (within
    // http_get's 10 s) got in by the agent dropping a slow connection for it, not by waiting.
    let a = Agent::start(&["--read-timeout", "600", "--max-connections", "8"]);
    let stop = Arc::new(AtomicBool::new(false));
    // More slow connections than the server admits, trickling bytes until the scrapes are done.
    let slow: Vec<TcpStream> = (0..20).map(|_| slowloris(a.addr, stop.clone())).collect();
    for _ in 0..3 {
        let r = a.get("/metrics", None);
        assert_eq!(r.status, 200);
        assert!(r.body.contains("zombies_build_info"));
    }
    stop.store(true, Ordering::Relaxed);
    drop(slow);
    assert_eq!(a.get("/healthz", None).status, 200);
}

#[test]
fn malformed_and_oversized_requests_do_not_hurt() {
    let a = Agent::start(&["--read-timeout", "2", "--max-connections", "8"]);

    // Garbage: a TLS ClientHello-like blob and binary junk.
    let mut s = TcpStream::connect(a.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\xff\xfe\r\n\r\n")
        .unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    assert_eq!(parse_response(&raw).status, 400);

    // Oversized header: answered 431 (or cut) once past the limit, never buffered whole.
    let mut s = TcpStream::connect(a.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut big = b"GET /metrics HTTP/1.1\r\nX-Big: ".to_vec();
    big.extend(std::iter::repeat_n(b'a', 64 * 1024));
    let _ = s.write_all(&big);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    if !raw.is_empty() {
        assert_eq!(parse_response(&raw).status, 431);
    }

    // Another method, a bad version, an empty head: each its one status.
    for (req, want) in [
        (
            &b"POST /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"[..],
            405,
        ),
        (b"GET /metrics HTTP/9.9\r\n\r\n", 505),
        (b"\r\n\r\n", 400),
    ] {
        let mut s = TcpStream::connect(a.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(req).unwrap();
        let mut raw = Vec::new();
        let _ = s.read_to_end(&mut raw);
        assert_eq!(
            parse_response(&raw).status,
            want,
            "{:?}",
            String::from_utf8_lossy(req)
        );
    }

    // A client that connects and says nothing is answered 408 and closed after the 2 s read
    // timeout (the 60 s here only bounds a server that never closes); the agent keeps serving.
    let mut idle = TcpStream::connect(a.addr).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut raw = Vec::new();
    idle.read_to_end(&mut raw)
        .expect("the agent closes an idle connection after its read timeout");
    assert_eq!(parse_response(&raw).status, 408);
    let r = a.get("/healthz", None);
    assert_eq!(r.status, 200);
    assert_eq!(a.get("/metrics", None).status, 200);
}

#[test]
fn never_creates_a_process_accounting() {
    never_creates_a_process("accounting");
}

#[test]
fn never_creates_a_process_full_scan() {
    never_creates_a_process("full");
}

fn never_creates_a_process(mode: &str) {
    let _host = host_bucket_lock();
    let strace = require_tool("strace");
    let dir = temp_dir("zombies-strace");
    let log = dir.0.join("trace");
    let mut cmd = Command::new(strace);
    cmd.args(["-f", "-qq", "-e", "trace=process", "-o"])
        .arg(&log)
        .arg(zombies_bin());
    let scan = format!("--scan={mode}");
    let mut a = Agent::start_with(cmd, &[&scan]);
    let leaker = Leaker::new("zt-strace", None);
    leaker.make(3, 3);
    for accept in [None, Some("application/openmetrics-text")] {
        for _ in 0..3 {
            assert_eq!(a.get("/metrics", accept).status, 200);
        }
    }
    assert_eq!(a.get("/healthz", None).status, 200);
    // SIGTERM the agent itself (strace's child); strace exits with its status.
    let kids = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", a.pid())).unwrap();
    let agent: i32 = kids.split_whitespace().next().unwrap().parse().unwrap();
    signal(agent, libc::SIGTERM).expect("SIGTERM to the agent");
    let st = a.child.wait().unwrap();
    assert_eq!(st.code(), Some(0), "{st}");
    let trace = std::fs::read_to_string(&log).unwrap();
    let execs = trace.lines().filter(|l| l.contains("execve(")).count();
    let forks: Vec<&str> = trace
        .lines()
        .filter(|l| {
            ["clone(", "clone3(", "fork(", "vfork("]
                .iter()
                .any(|s| l.contains(s))
        })
        // A thread is not a process: the full scan reads `stat` files on several threads when the
        // node has thousands of processes (as it may while other tests run).
        .filter(|l| !l.contains("CLONE_THREAD"))
        .collect();
    assert_eq!(execs, 1, "only strace's exec of the agent:\n{trace}");
    assert!(forks.is_empty(), "the agent created processes:\n{trace}");
}
