//! End to end with Debian's Prometheus: it scrapes `zombies serve` on loopback every second (with
//! its default `Accept`, i.e. OpenMetrics), real zombies are made in a pod cgroup, and the series,
//! their labels and values, and the alerts (the shipped rules with `for:` shortened to 1s) are
//! checked through Prometheus's HTTP API.
mod prom_support;
mod serve_support;

use prom_support::*;
use serve_support::*;
use std::time::{Duration, SystemTime};

fn start_for(target: std::net::SocketAddr) -> Prometheus {
    start_prometheus(
        &format!(
            "  - job_name: zombies\n    honor_labels: true\n    static_configs:\n      - targets: ['{target}']\n        labels:\n          node: test-node\n"
        ),
        &[],
    )
}

#[test]
fn prometheus_scrapes_the_agent_and_alerts_fire() {
    let pod = FakePod::new("shop", "leaky-0", "app", 22);
    let args = pod.agent_args();
    let agent = Agent::start(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let prom = start_for(agent.addr);
    // The first scrape comes ~5.5 s after start.
    poll("up{job=\"zombies\"} == 1", Duration::from_secs(30), || {
        let r = query(&prom, "up{job=\"zombies\"}");
        if r.len() == 1 && r[0].1 == 1.0 {
            Ok(())
        } else {
            Err(format!("up: {r:?}"))
        }
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
            "node",
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

    // The agent sees this host: up, every visibility check passes; its own process figures.
    one(&prom, "zombies_up", 1.0);
    assert_eq!(query(&prom, "zombies_visibility == 0").len(), 0);
    for m in [
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        "process_open_fds",
        "process_max_fds",
        "process_start_time_seconds",
    ] {
        let r = query(&prom, m);
        assert!(r.len() == 1 && r[0].1 >= 0.0, "{m}: {r:?}");
    }
    let rss = query(&prom, "process_resident_memory_bytes")[0].1;
    assert!(rss > 1e5 && rss < 64.0 * 1024.0 * 1024.0, "{rss}");

    // Alerts from the shipped rules: the pod is at 21/22 PIDs, and 20 zombies appeared at once.
    for alert in ["ZombiePodPidsNearLimit", "ZombieProcessLeak"] {
        let what = format!("{alert} pending or firing");
        poll(&what, Duration::from_secs(30), || {
            let all = alerts(&prom);
            let found = all.iter().any(|(l, a, state)| {
                l["alertname"] == alert
                    && l.get("namespace").map(String::as_str) == Some("shop")
                    && l.get("pod").map(String::as_str) == Some("leaky-0")
                    && l.get("node").map(String::as_str) == Some("test-node")
                    && (state == "pending" || state == "firing")
                    && a["runbook_url"] == format!("./docs/runbooks/{alert}.md")
                    && a["summary"].contains("node test-node")
            });
            if found {
                Ok(())
            } else {
                Err(format!("alerts: {all:#?}"))
            }
        });
    }
    // The agent is up and sees the node: neither agent alert.
    assert!(alerts(&prom)
        .iter()
        .all(|(l, _, _)| !l["alertname"].starts_with("ZombiesAgent")));

    // Every query of the Grafana dashboard parses and returns data from this Prometheus.
    let (panels, selectors) = dashboard_queries("1m");
    assert!(panels.len() >= 15, "{panels:?}");
    for q in &panels {
        let (status, body) = query_raw(&prom, &q.expr);
        assert_eq!(
            status, 200,
            "panel {:?}: {} does not parse: {body}",
            q.panel, q.expr
        );
        wait_until(
            &format!("data for panel {:?}: {}", q.panel, q.expr),
            Duration::from_secs(30),
            || !query(&prom, &q.expr).is_empty(),
        );
    }
    for sel in &selectors {
        assert!(!query(&prom, sel).is_empty(), "variable selector {sel}");
    }
    let per_pod = query(
        &prom,
        &panels
            .iter()
            .find(|q| q.panel == "Zombies by pod and container")
            .unwrap()
            .expr,
    );
    assert!(
        per_pod
            .iter()
            .any(|(l, v)| l.get("pod").map(String::as_str) == Some("leaky-0")
                && l.get("container").map(String::as_str) == Some("app")
                && *v == 20.0),
        "drill-down to the container: {per_pod:?}"
    );
    eprintln!("{} dashboard queries return data", panels.len());
    drop(leaker);
    one(&prom, &format!("zombies_zombie_processes{sel}"), 0.0);
}
