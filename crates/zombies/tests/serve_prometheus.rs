//! End to end with Debian's Prometheus: it scrapes `zombies serve` on loopback every second (with
//! its default `Accept`, i.e. OpenMetrics), real zombies are made in a pod cgroup, and the series,
//! their labels and values, and the alerts (the shipped rules with `for:` shortened to 1s) are
//! checked through Prometheus's HTTP API.
mod serve_support;

use serve_support::*;
use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime};

struct Prometheus {
    child: Child,
    addr: SocketAddr,
    _dir: TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        for _ in 0..100 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The shipped rules with every `for:` shortened to 1s (a test-only rules file).
fn test_rules() -> String {
    let rules =
        std::fs::read_to_string(repo().join("deploy/prometheus/zombies.rules.yaml")).unwrap();
    let out: Vec<String> = rules
        .lines()
        .map(|l| match l.trim_start().strip_prefix("for: ") {
            Some(_) => format!("{}for: 1s", &l[..l.len() - l.trim_start().len()]),
            None => l.to_string(),
        })
        .collect();
    assert!(out.iter().filter(|l| l.trim() == "for: 1s").count() >= 3);
    out.join("\n") + "\n"
}

fn start_prometheus(target: SocketAddr) -> Prometheus {
    let bin = require_tool("prometheus");
    let dir = temp_dir("zombies-prometheus");
    std::fs::write(dir.0.join("rules.yaml"), test_rules()).unwrap();
    std::fs::write(
        dir.0.join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n  - rules.yaml\n\
             scrape_configs:\n  - job_name: zombies\n    honor_labels: true\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .unwrap();
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let child = Command::new(bin)
        .arg(format!(
            "--config.file={}",
            dir.0.join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.0.join("data").display()
        ))
        .arg(format!("--web.listen-address={addr}"))
        .arg("--log.level=warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start prometheus");
    Prometheus {
        child,
        addr,
        _dir: dir,
    }
}

fn encode(q: &str) -> String {
    let mut out = String::new();
    for b in q.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn api(p: &Prometheus, path: &str) -> Option<serde_json::Value> {
    // Not up yet: no connection (http_get would panic).
    std::net::TcpStream::connect_timeout(&p.addr, Duration::from_secs(2)).ok()?;
    let r = http_get(p.addr, path, None);
    if r.status != 200 {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(&r.body).ok()?;
    (v["status"] == "success").then_some(v)
}

/// Instant query: (labels, value) of each series.
fn query(p: &Prometheus, q: &str) -> Vec<(BTreeMap<String, String>, f64)> {
    let Some(v) = api(p, &format!("/api/v1/query?query={}", encode(q))) else {
        return Vec::new();
    };
    v["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let labels = r["metric"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect();
            let val = r["value"][1].as_str().unwrap().parse().unwrap();
            (labels, val)
        })
        .collect()
}

fn one(p: &Prometheus, q: &str, want: f64) -> BTreeMap<String, String> {
    poll(30.0, &format!("{q} == {want} in Prometheus"), || {
        let r = query(p, q);
        (r.len() == 1 && r[0].1 == want).then(|| r[0].0.clone())
    })
}

#[test]
fn prometheus_scrapes_the_agent_and_alerts_fire() {
    let pod = FakePod::new("shop", "leaky-0", "app", 22);
    let args = pod.agent_args();
    let agent = Agent::start(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let prom = start_prometheus(agent.addr);
    // The first scrape comes ~5.5 s after start.
    poll(30.0, "up{job=\"zombies\"} == 1", || {
        let r = query(&prom, "up{job=\"zombies\"}");
        (r.len() == 1 && r[0].1 == 1.0).then_some(())
    });
    let sel = "{namespace=\"shop\",pod=\"leaky-0\",container=\"app\"}";
    // Known container, no zombies: present at 0.
    one(&prom, &format!("zombies_zombie_processes{sel}"), 0.0);

    let t0 = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let leaker = Leaker::new("zt-prom", Some(&pod.procs()));
    leaker.make(20, 20);

    let labels = one(&prom, &format!("zombies_zombie_processes{sel}"), 20.0);
    let names: Vec<&str> = labels.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "__name__",
            "container",
            "instance",
            "job",
            "namespace",
            "pod"
        ],
        "no pid or other label: {labels:?}"
    );
    assert_eq!(labels["instance"], agent.addr.to_string());
    one(&prom, &format!("zombies_observed_total{sel}"), 20.0);
    one(
        &prom,
        "zombies_pod_pids_current{namespace=\"shop\",pod=\"leaky-0\"}",
        21.0,
    );
    one(
        &prom,
        "zombies_pod_pids_max{namespace=\"shop\",pod=\"leaky-0\"}",
        22.0,
    );
    one(
        &prom,
        &format!(
            "zombies_build_info{{version=\"{}\",revision=\"{}\"}}",
            env!("CARGO_PKG_VERSION"),
            env!("REAPER_REVISION")
        ),
        1.0,
    );
    let first = query(
        &prom,
        "zombies_oldest_first_seen_timestamp_seconds{namespace=\"shop\",pod=\"leaky-0\"}",
    );
    assert_eq!(first.len(), 1, "{first:?}");
    assert!(
        first[0].1 >= t0 - 1.0 && first[0].1 <= t0 + 60.0,
        "{first:?} vs {t0}"
    );
    // Outside any pod: the empty-label bucket (Prometheus drops empty labels).
    // (podman/Docker containers outside pods have empty namespace and pod but their container name)
    let host = query(
        &prom,
        "zombies_zombie_processes{namespace=\"\",pod=\"\",container=\"\"}",
    );
    assert_eq!(host.len(), 1, "{host:?}");
    assert!(!host[0].0.contains_key("namespace"));
    // sum() is the node total: at least our 20.
    let total = query(&prom, "sum(zombies_zombie_processes)");
    assert!(total[0].1 >= 20.0, "{total:?}");
    let tasks = query(&prom, "zombies_node_tasks");
    let limit = query(&prom, "zombies_node_task_limit");
    assert!(tasks[0].1 >= 20.0 && limit[0].1 >= tasks[0].1);
    one(&prom, "zombies_read_errors{kind=\"other\"}", 0.0);
    let dur = query(&prom, "zombies_scrape_duration_seconds");
    assert!(dur[0].1 > 0.0 && dur[0].1 < 1.0, "{dur:?}");

    // Alerts from the shipped rules: the pod is at 21/22 PIDs, and 20 zombies appeared at once.
    for alert in ["ZombiePodPidsNearLimit", "ZombieProcessLeak"] {
        poll(30.0, &format!("{alert} pending or firing"), || {
            let v = api(&prom, "/api/v1/alerts")?;
            v["data"]["alerts"].as_array()?.iter().find_map(|a| {
                let ok = a["labels"]["alertname"] == alert
                    && a["labels"]["namespace"] == "shop"
                    && a["labels"]["pod"] == "leaky-0"
                    && (a["state"] == "pending" || a["state"] == "firing")
                    && a["annotations"]["runbook"]
                        .as_str()
                        .is_some_and(|r| r.len() > 100);
                ok.then_some(())
            })
        });
    }
    drop(leaker);
    one(&prom, &format!("zombies_zombie_processes{sel}"), 0.0);
}
