//! A fleet of three nodes: three `zombies serve` agents, each in its own network namespace (`ip
//! netns`, a veth pair, private 10.x addresses made and removed by the test), each reading its own
//! fabricated node (/proc and the pids cgroup tree written by the test: node-a leaks zombies in a
//! pod near its PID limit, node-b leaks them outside any pod, node-c holds two old zombies and does
//! not leak), all scraped on the same port by one real Prometheus through file_sd targets with a
//! `node` label. The shipped recording rules and alerts (`for:` shortened) fire for exactly the
//! leaking nodes, the dashboard's queries aggregate the three, and stopping node-c's agent fires
//! ZombiesAgentDown for node-c alone.
mod prom_support;
mod serve_support;

use prom_support::*;
use serve_support::*;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const PORT: u16 = 9942;

fn ip(args: &[&str]) {
    let out = Command::new(require_tool("ip"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A network namespace joined to the root one by a veth pair: the host end has `.1`, the
/// namespace end `.2` of a /30.
struct NetNs {
    name: String,
    addr: String,
    host_if: String,
}

impl NetNs {
    fn new(tag: &str, i: u8, net: u8) -> NetNs {
        let name = format!("zt-fleet-{}-{i}", std::process::id());
        let host_if = format!("zt{}h{i}", std::process::id() % 100_000);
        let ns_if = format!("zt{}n{i}", std::process::id() % 100_000);
        let (host_ip, ns_ip) = (
            format!("10.231.{net}.{}", 4 * i + 1),
            format!("10.231.{net}.{}", 4 * i + 2),
        );
        ip(&["netns", "add", &name]);
        let ns = NetNs {
            name: name.clone(),
            addr: ns_ip.clone(),
            host_if: host_if.clone(),
        };
        ip(&[
            "link", "add", &host_if, "type", "veth", "peer", "name", &ns_if,
        ]);
        ip(&["link", "set", &ns_if, "netns", &name]);
        ip(&["addr", "add", &format!("{host_ip}/30"), "dev", &host_if]);
        ip(&["link", "set", &host_if, "up"]);
        let exec = |a: &[&str]| {
            let mut v = vec!["netns", "exec", &name, "ip"];
            v.extend_from_slice(a);
            ip(&v);
        };
        exec(&["addr", "add", &format!("{ns_ip}/30"), "dev", &ns_if]);
        exec(&["link", "set", &ns_if, "up"]);
        exec(&["link", "set", "lo", "up"]);
        eprintln!("{tag}: netns {name}, {ns_ip} (host side {host_ip} on {host_if})");
        ns
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        // Deleting the namespace destroys its veth end, and with it the host end (deleted by
        // hand too, for a test that failed before moving the other end into the namespace).
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_if])
            .stderr(Stdio::null())
            .status();
    }
}

/// A fabricated node: /proc, the v1 pids cgroup tree and kubelet's log directories.
struct FakeNode {
    root: TempDir,
    next_pid: i32,
    tasks_base: u64,
    zombies: u64,
    pod: Option<(String, String)>,
}

fn write(p: &Path, body: &str) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, body).unwrap();
}

fn stat(pid: i32, comm: &str, state: char, ppid: i32) -> String {
    format!("{pid} ({comm}) {state} {ppid} {pid} {pid} 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n")
}

impl FakeNode {
    /// A node with init (1), kthreadd (2) and a parent process (100) in `cgroup`; with `pod`
    /// (namespace, name, uid, container id), a pod cgroup with pids.max 100 and kubelet's logs.
    fn new(pod: Option<(&str, &str, &str, &str)>) -> FakeNode {
        let root = temp_dir("zombies-fleet-node");
        let p = root.0.join("proc");
        write(&p.join("1/stat"), &stat(1, "systemd", 'S', 0));
        write(&p.join("1/cgroup"), "1:pids:/init.scope\n");
        write(&p.join("2/stat"), &stat(2, "kthreadd", 'S', 0));
        write(&p.join("sys/kernel/pid_max"), "4096\n");
        write(&p.join("sys/kernel/threads-max"), "100000\n");
        write(&p.join("uptime"), "1000.0 900.0\n");
        write(&p.join("stat"), "btime 1700000000\n");
        std::fs::create_dir_all(root.0.join("sys/pids")).unwrap();
        std::fs::create_dir_all(root.0.join("logs/pods")).unwrap();
        std::fs::create_dir_all(root.0.join("logs/containers")).unwrap();
        let cgroup = match pod {
            Some((ns, name, uid, id)) => {
                let dir = root.0.join(format!("sys/pids/kubepods/burstable/pod{uid}"));
                std::fs::create_dir_all(dir.join(id)).unwrap();
                write(&dir.join("pids.max"), "100\n");
                std::fs::create_dir_all(root.0.join(format!("logs/pods/{ns}_{name}_{uid}/app")))
                    .unwrap();
                std::os::unix::fs::symlink(
                    format!("/var/log/pods/{ns}_{name}_{uid}/app/0.log"),
                    root.0
                        .join(format!("logs/containers/{name}_{ns}_app-{id}.log")),
                )
                .unwrap();
                format!("/kubepods/burstable/pod{uid}/{id}")
            }
            None => "/system.slice/leaky.service".to_string(),
        };
        write(&p.join("100/stat"), &stat(100, "leaky", 'S', 1));
        write(
            &p.join("100/status"),
            "Name:\tleaky\nNSpid:\t100\nSigCgt:\t0\n",
        );
        write(&p.join("100/cgroup"), &format!("1:pids:{cgroup}\n"));
        write(&p.join("100/cmdline"), "/usr/bin/leaky\0");
        let n = FakeNode {
            root,
            next_pid: 1000,
            tasks_base: 60,
            zombies: 0,
            pod: pod.map(|(_, _, uid, _)| (uid.to_string(), cgroup.clone())),
        };
        n.update();
        n
    }

    /// Adds `k` zombie children of pid 100, in its cgroup.
    fn leak(&mut self, k: u64) {
        let p = self.root.0.join("proc");
        let cgroup = std::fs::read_to_string(p.join("100/cgroup")).unwrap();
        for _ in 0..k {
            let pid = self.next_pid;
            self.next_pid += 1;
            // Written into a temporary name, then renamed: a scrape never sees half a process.
            let tmp = p.join(format!(".new-{pid}"));
            write(&tmp.join("stat"), &stat(pid, "probe", 'Z', 100));
            write(&tmp.join("cgroup"), &cgroup);
            std::fs::rename(&tmp, p.join(pid.to_string())).unwrap();
            self.zombies += 1;
        }
        self.update();
    }

    /// /proc/loadavg and the pod's pids.current follow the zombies.
    fn update(&self) {
        let p = self.root.0.join("proc");
        let tasks = self.tasks_base + self.zombies;
        let tmp = p.join(".loadavg");
        std::fs::write(&tmp, format!("0.10 0.10 0.10 2/{tasks} 4000\n")).unwrap();
        std::fs::rename(&tmp, p.join("loadavg")).unwrap();
        if let Some((uid, _)) = &self.pod {
            let dir = self
                .root
                .0
                .join(format!("sys/pids/kubepods/burstable/pod{uid}"));
            let tmp = dir.join(".pids.current");
            std::fs::write(&tmp, format!("{}\n", 1 + self.zombies)).unwrap();
            std::fs::rename(&tmp, dir.join("pids.current")).unwrap();
        }
    }

    fn args(&self) -> Vec<String> {
        let r = &self.root.0;
        vec![
            format!("--proc-root={}", r.join("proc").display()),
            format!("--sys-root={}", r.join("sys").display()),
            format!("--pods-log-root={}", r.join("logs/pods").display()),
            format!(
                "--containers-log-root={}",
                r.join("logs/containers").display()
            ),
            "--scan=full".into(),
        ]
    }
}

/// An agent in a network namespace, listening on its address and the fleet's port.
struct NodeAgent {
    child: Child,
    addr: SocketAddr,
    _log: PathBuf,
}

impl NodeAgent {
    fn start(ns: &NetNs, node: &FakeNode, log: PathBuf) -> NodeAgent {
        let addr: SocketAddr = format!("{}:{PORT}", ns.addr).parse().unwrap();
        let child = Command::new(require_tool("ip"))
            .args(["netns", "exec", &ns.name])
            .arg(zombies_bin())
            .arg("serve")
            .args(node.args())
            .env("ZOMBIES_LISTEN", addr.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        poll(
            &format!("the agent at {addr} answers /readyz"),
            Duration::from_secs(20),
            || {
                std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200))
                    .map_err(|e| format!("connect: {e}"))?;
                let r = http_get(addr, "/readyz", None);
                assert_eq!(
                    r.status, 200,
                    "a fabricated node that looks like a host: {}",
                    r.body
                );
                Ok(())
            },
        );
        NodeAgent {
            child,
            addr,
            _log: log,
        }
    }

    fn stop(&mut self) {
        signal(self.child.id() as i32, libc::SIGTERM).expect("SIGTERM to the agent");
        let st = self.child.wait().unwrap();
        assert_eq!(st.code(), Some(0), "{st}");
    }
}

impl Drop for NodeAgent {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The label values of `label` over the series of `q`.
fn nodes_of(p: &Prometheus, q: &str) -> BTreeSet<String> {
    query(p, q)
        .into_iter()
        .filter_map(|(l, _)| l.get("node").cloned())
        .collect()
}

fn set(v: &[&str]) -> BTreeSet<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// (alertname, node) of the alerts in `state`.
fn alerting(p: &Prometheus, state: &str) -> BTreeSet<(String, String)> {
    alerts(p)
        .into_iter()
        .filter(|(_, _, s)| s == state)
        .map(|(l, _, _)| {
            (
                l["alertname"].clone(),
                l.get("node").cloned().unwrap_or_default(),
            )
        })
        .collect()
}

#[test]
fn three_nodes_one_prometheus_alerts_for_exactly_the_leaking_nodes() {
    require_root("ip netns needs root");
    let net = 100 + (std::process::id() % 100) as u8;
    let uid = "5f0e7d1c-0a2b-4c3d-8e9f-0123456789ab";
    let id = "f1ee7a".repeat(10) + "0123";
    let mut a = FakeNode::new(Some(("shop", "cart-0", uid, &id)));
    let mut b = FakeNode::new(None);
    let mut c = FakeNode::new(None);
    c.leak(2);
    let nodes = ["node-a", "node-b", "node-c"];
    let nss: Vec<NetNs> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| NetNs::new(n, i as u8, net))
        .collect();
    let logs = temp_dir("zombies-fleet-logs");
    let mut agents: Vec<NodeAgent> = [&a, &b, &c]
        .iter()
        .zip(&nss)
        .enumerate()
        .map(|(i, (node, ns))| NodeAgent::start(ns, node, logs.0.join(format!("{i}.log"))))
        .collect();
    // The agents are reachable from the root namespace only through their own addresses.
    assert!(agents.iter().all(|a| a.addr.port() == PORT));

    let targets = serde_json::json!(agents
        .iter()
        .zip(nodes)
        .map(|(a, n)| serde_json::json!({"targets": [a.addr.to_string()], "labels": {"node": n}}))
        .collect::<Vec<_>>());
    let prom = start_prometheus(
        "  - job_name: zombies\n    honor_labels: true\n    file_sd_configs:\n      - files: ['targets.json']\n        refresh_interval: 1s\n",
        &[("targets.json", targets.to_string())],
    );
    poll("3 agents up in Prometheus", Duration::from_secs(30), || {
        let r = query(&prom, "up{job=\"zombies\"} == 1");
        if r.len() == 3 {
            Ok(())
        } else {
            Err(format!("up: {r:?}"))
        }
    });
    assert_eq!(
        nodes_of(&prom, "zombies_up == 1"),
        set(&nodes),
        "every fabricated node looks like a host"
    );

    // node-a leaks 3 zombies, node-b 2, every half second, up to 95 and 60; node-c holds 2.
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    let leaking = std::thread::spawn(move || {
        while !s2.load(Ordering::Relaxed) && (a.zombies < 95 || b.zombies < 60) {
            if a.zombies < 95 {
                a.leak(3.min(95 - a.zombies));
            }
            if b.zombies < 60 {
                b.leak(2);
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        (a, b)
    });

    // Recording rules: per node.
    poll(
        "the per-node zombie counts",
        Duration::from_secs(60),
        || {
            let r: BTreeMap<String, f64> = query(&prom, "node:zombies_zombie_processes:sum")
                .into_iter()
                .map(|(l, v)| (l["node"].clone(), v))
                .collect();
            let want = BTreeMap::from([
                ("node-a".to_string(), 95.0),
                ("node-b".to_string(), 60.0),
                ("node-c".to_string(), 2.0),
            ]);
            if r == want {
                Ok(())
            } else {
                Err(format!("counts: {r:?}"))
            }
        },
    );
    assert_eq!(
        nodes_of(&prom, "node:zombies_observed:rate5m > 0"),
        set(&["node-a", "node-b"])
    );
    assert_eq!(
        nodes_of(&prom, "node:zombies_node_tasks:ratio"),
        set(&nodes)
    );

    // Alerts: exactly the leaking nodes.
    let want = BTreeSet::from([
        ("ZombieProcessLeak".to_string(), "node-a".to_string()),
        ("ZombieProcessLeak".into(), "node-b".into()),
        ("ZombiePodPidsNearLimit".into(), "node-a".into()),
        ("ZombieNodePidExhaustion".into(), "node-a".into()),
        ("ZombieNodePidExhaustion".into(), "node-b".into()),
    ]);
    let firing = poll("the leak alerts firing", Duration::from_secs(60), || {
        let f = alerting(&prom, "firing");
        if want.is_subset(&f) {
            Ok(f)
        } else {
            Err(format!("firing: {f:?}"))
        }
    });
    assert_eq!(firing, want, "exactly the leaking nodes' alerts");
    let leak = alerts(&prom)
        .into_iter()
        .find(|(l, _, _)| {
            l["alertname"] == "ZombieProcessLeak"
                && l.get("node").map(String::as_str) == Some("node-a")
        })
        .unwrap();
    assert_eq!(
        (
            leak.0["namespace"].as_str(),
            leak.0["pod"].as_str(),
            leak.0["container"].as_str()
        ),
        ("shop", "cart-0", "app")
    );
    assert_eq!(
        leak.1["summary"],
        "Zombie leak on node node-a in pod shop/cart-0 container app"
    );
    assert!(alerting(&prom, "pending")
        .iter()
        .all(|(_, n)| n != "node-c"));

    // The dashboard's queries aggregate across the three nodes.
    let (panels, _) = dashboard_queries("1m");
    for q in &panels {
        let what = format!("panel {:?}: {}", q.panel, q.expr);
        let r = poll(&what, Duration::from_secs(30), || {
            let r = query(&prom, &q.expr);
            if r.is_empty() {
                Err("no data".into())
            } else {
                Ok(r)
            }
        });
        if q.expr.starts_with("sum by (node)") || q.expr.starts_with("max by (node)") {
            let got: BTreeSet<String> = r
                .iter()
                .filter_map(|(l, _)| l.get("node").cloned())
                .collect();
            assert_eq!(got, set(&nodes), "panel {:?}", q.panel);
        }
    }
    let total = |panel: &str| {
        let q = panels.iter().find(|q| q.panel == panel).unwrap();
        query(&prom, &q.expr)
    };
    assert_eq!(total("Zombies")[0].1, 95.0 + 60.0 + 2.0);
    let up: Vec<f64> = panels
        .iter()
        .filter(|q| q.panel == "Agents up")
        .map(|q| query(&prom, &q.expr)[0].1)
        .collect();
    assert_eq!(up, [3.0, 3.0], "agents up, of targets");
    assert_eq!(total("Agents blind")[0].1, 0.0);
    let per_node: BTreeMap<String, f64> = total("Zombies per node")
        .into_iter()
        .map(|(l, v)| (l["node"].clone(), v))
        .collect();
    assert_eq!(per_node["node-c"], 2.0);
    let per_pod = total("Zombies by pod and container");
    assert!(per_pod.iter().any(|(l, v)| l["node"] == "node-a"
        && l.get("pod").map(String::as_str) == Some("cart-0")
        && *v == 95.0));
    let exhaustion: BTreeMap<String, f64> = total("Time to PID exhaustion per node")
        .into_iter()
        .map(|(l, v)| (l["node"].clone(), v))
        .collect();
    assert!(
        exhaustion["node-c"] > exhaustion["node-a"] * 100.0,
        "the node that does not leak has (practically) forever: {exhaustion:?}"
    );

    // Stopping node-c's agent fires ZombiesAgentDown for node-c alone.
    agents[2].stop();
    let down = poll("ZombiesAgentDown firing", Duration::from_secs(30), || {
        let firing = alerting(&prom, "firing");
        let d: BTreeSet<String> = firing
            .iter()
            .filter(|(a, _)| a == "ZombiesAgentDown")
            .map(|(_, n)| n.clone())
            .collect();
        if d.is_empty() {
            Err(format!("firing: {firing:?}"))
        } else {
            Ok(d)
        }
    });
    assert_eq!(down, set(&["node-c"]));
    assert_eq!(
        nodes_of(&prom, "up{job=\"zombies\"} == 1"),
        set(&["node-a", "node-b"])
    );
    stop.store(true, Ordering::Relaxed);
    let (_a, _b) = leaking.join().unwrap();
    assert!(!alerting(&prom, "firing")
        .iter()
        .any(|(a, _)| a == "ZombiesAgentBlind"));
    drop(agents);
    drop(nss);
}
