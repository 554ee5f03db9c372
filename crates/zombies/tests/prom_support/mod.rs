//! A real Prometheus (Debian's) for the tests: started on a free loopback port with a given
//! scrape configuration and the shipped rules (every `for:` shortened to 1s), queried through its
//! HTTP API; and the Grafana dashboard's queries, with its variables set to "All".
#![allow(dead_code)]

use crate::serve_support::*;
use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Prometheus {
    pub child: Child,
    pub addr: SocketAddr,
    pub dir: TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = signal(self.child.id() as i32, libc::SIGTERM);
        if !poll_until(Duration::from_secs(5), || {
            matches!(self.child.try_wait(), Ok(Some(_)))
        }) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The shipped rules with every `for:` shortened to 1s (a test-only rules file).
pub fn test_rules() -> String {
    let rules =
        std::fs::read_to_string(repo().join("deploy/prometheus/zombies.rules.yaml")).unwrap();
    let out: Vec<String> = rules
        .lines()
        .map(|l| match l.trim_start().strip_prefix("for: ") {
            Some(_) => format!("{}for: 1s", &l[..l.len() - l.trim_start().len()]),
            None => l.to_string(),
        })
        .collect();
    assert!(out.iter().filter(|l| l.trim() == "for: 1s").count() >= 5);
    out.join("\n") + "\n"
}

/// Starts Prometheus with `scrape_configs` (YAML, indented as the list under `scrape_configs:`),
/// a 1 s scrape and evaluation interval, and the shipped rules. `files` are written into its
/// directory first (file_sd target files).
pub fn start_prometheus(scrape_configs: &str, files: &[(&str, String)]) -> Prometheus {
    let bin = require_tool("prometheus");
    let dir = temp_dir("zombies-prometheus");
    std::fs::write(dir.0.join("rules.yaml"), test_rules()).unwrap();
    for (name, body) in files {
        std::fs::write(dir.0.join(name), body).unwrap();
    }
    std::fs::write(
        dir.0.join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n  - rules.yaml\n\
             scrape_configs:\n{scrape_configs}"
        ),
    )
    .unwrap();
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let child = Command::new(bin)
        .current_dir(&dir.0)
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
    Prometheus { child, addr, dir }
}

pub fn encode(q: &str) -> String {
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

/// GET on the API; `None` while Prometheus is not up or the answer is not a success.
pub fn api(p: &Prometheus, path: &str) -> Option<serde_json::Value> {
    std::net::TcpStream::connect_timeout(&p.addr, Duration::from_secs(2)).ok()?;
    let r = http_get(p.addr, path, None);
    let v: serde_json::Value = serde_json::from_str(&r.body).ok()?;
    (r.status == 200 && v["status"] == "success").then_some(v)
}

/// The raw API answer to an instant query (status and body), for error messages.
pub fn query_raw(p: &Prometheus, q: &str) -> (u16, String) {
    let r = http_get(p.addr, &format!("/api/v1/query?query={}", encode(q)), None);
    (r.status, r.body)
}

pub type Labels = BTreeMap<String, String>;

/// Instant query: (labels, value) of each series.
pub fn query(p: &Prometheus, q: &str) -> Vec<(Labels, f64)> {
    let Some(v) = api(p, &format!("/api/v1/query?query={}", encode(q))) else {
        return Vec::new();
    };
    let result = &v["data"]["result"];
    if v["data"]["resultType"] == "scalar" {
        return vec![(Labels::new(), result[1].as_str().unwrap().parse().unwrap())];
    }
    result
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

/// Polls until `q` is one series of value `want`; returns its labels.
pub fn one(p: &Prometheus, q: &str, want: f64) -> Labels {
    poll(
        &format!("{q} == {want} in Prometheus"),
        Duration::from_secs(30),
        || {
            let r = query(p, q);
            if r.len() == 1 && r[0].1 == want {
                Ok(r[0].0.clone())
            } else {
                Err(format!("{r:?}"))
            }
        },
    )
}

/// The alerts now: (labels, annotations, state).
pub fn alerts(p: &Prometheus) -> Vec<(Labels, Labels, String)> {
    let Some(v) = api(p, "/api/v1/alerts") else {
        return Vec::new();
    };
    let map = |o: &serde_json::Value| -> Labels {
        o.as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                    .collect()
            })
            .unwrap_or_default()
    };
    v["data"]["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                map(&a["labels"]),
                map(&a["annotations"]),
                a["state"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// One query of the dashboard: where it is, and its PromQL with the variables set.
#[derive(Debug, Clone)]
pub struct PanelQuery {
    pub panel: String,
    pub expr: String,
}

/// Every panel's queries of deploy/grafana/zombies-dashboard.json (rows' nested panels too), with
/// the template variables at "All" (`.*`) and `$__rate_interval` at `window`; and the metric
/// selectors of the variables' `label_values(...)` queries.
pub fn dashboard_queries(window: &str) -> (Vec<PanelQuery>, Vec<String>) {
    let d: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("deploy/grafana/zombies-dashboard.json")).unwrap(),
    )
    .expect("the dashboard is JSON");
    let vars: Vec<String> = d["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["type"] == "query")
        .map(|v| v["name"].as_str().unwrap().to_string())
        .collect();
    let subst = |e: &str| {
        let mut e = e.replace("$__rate_interval", window);
        for v in &vars {
            e = e
                .replace(&format!("${{{v}}}"), ".*")
                .replace(&format!("${v}"), ".*");
        }
        assert!(!e.contains('$'), "unknown variable in {e}");
        e
    };
    let mut out = Vec::new();
    let mut stack: Vec<&serde_json::Value> = d["panels"].as_array().unwrap().iter().rev().collect();
    while let Some(p) = stack.pop() {
        if let Some(sub) = p["panels"].as_array() {
            stack.extend(sub.iter().rev());
        }
        if p["type"] == "row" {
            continue;
        }
        let targets = p["targets"].as_array().expect("a panel without queries");
        assert!(!targets.is_empty(), "panel {} has no query", p["title"]);
        for t in targets {
            out.push(PanelQuery {
                panel: p["title"].as_str().unwrap().to_string(),
                expr: subst(t["expr"].as_str().unwrap()),
            });
        }
    }
    let mut selectors = Vec::new();
    for v in d["templating"]["list"].as_array().unwrap() {
        if v["type"] != "query" {
            continue;
        }
        let q = v["query"]["query"].as_str().unwrap();
        let inner = q
            .strip_prefix("label_values(")
            .and_then(|s| s.strip_suffix(')'))
            .unwrap_or_else(|| panic!("variable query {q} is not label_values(...)"));
        let (sel, _label) = inner.rsplit_once(',').unwrap();
        selectors.push(subst(sel.trim()));
    }
    (out, selectors)
}
