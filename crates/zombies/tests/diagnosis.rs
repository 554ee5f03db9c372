//! The diagnosis on fabricated nodes (a `/proc` tree, a cgroup tree and the runtimes' state
//! written by the test), so every figure is known in advance: transient zombies of reaping
//! parents, the one-scan leak rate from start and exit times, time to exhaustion, `check`'s
//! default thresholds, the fix text per runtime, reaper injected by the runtime wrapper, and
//! container names as podman, Docker and Kubernetes show them.

mod common;

use common::*;
use std::path::PathBuf;

const PODMAN_ID: &str = "7b64db50660f261ee3d4494b37770ee54cc0087dfe57f4db0556b03ddc1666ac";
const DOCKER_ID: &str = "d0c4e7a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d";
const WRAPPED_ID: &str = "aaaa0000bbbb1111cccc2222dddd3333eeee4444ffff5555aaaa6666bbbb7777";
const K8S_ID: &str = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00";
const K8S_ID2: &str = "beef0000beef0000beef0000beef0000beef0000beef0000beef0000beef0000";
const POD_UID: &str = "0b5c5e4e-2f0b-4c44-9d2c-3d1b0e0f4a11";
const POD_UID2: &str = "1c6d6f5f-3a1c-4d55-8e3d-4e2c1f1a5b22";

/// Seconds since boot at the scan, on both clocks (uptime and the scheduler's).
const NOW: f64 = 1000.0;

struct Node {
    dir: PathBuf,
    ticks: u64,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One process of the fabricated `/proc`.
struct P<'a> {
    pid: i32,
    comm: &'a str,
    state: char,
    ppid: i32,
    session: i32,
    /// Seconds since boot at which it started.
    started: f64,
    /// `NSpid:` values.
    nspid: &'a [i32],
    sig_cgt: u64,
    cgroup: &'a str,
    cmdline: &'a [&'a str],
    /// Seconds since boot at which it last ran (a zombie: exited), for `/proc/PID/sched`.
    exited: Option<f64>,
}

impl Node {
    #[allow(unsafe_code)] // sysconf(3): std does not wrap it
    fn new() -> Node {
        let dir = std::env::temp_dir().join(unique("zombies-diag"));
        // SAFETY: sysconf has no preconditions.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
        let n = Node { dir, ticks };
        n.w("proc/uptime", &format!("{NOW:.2} 100.0\n"));
        n.w("proc/loadavg", "0.00 0.00 0.00 1/200 100\n");
        n.w("proc/sys/kernel/pid_max", "32768\n");
        n.w("proc/sys/kernel/threads-max", "100000\n");
        n.w(
            "proc/thread-self/sched",
            &format!(
                "zombies (1, #threads: 1)\n---\nse.exec_start                                :       {:.6}\n",
                NOW * 1000.0
            ),
        );
        n.w("sys/cgroup.controllers", "cpu pids\n");
        n
    }

    fn w(&self, rel: &str, content: &str) {
        let p = self.dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    fn p(&self, p: P<'_>) {
        let start = (p.started * self.ticks as f64).round() as u64;
        let (pid, comm, st, ppid, sess) = (p.pid, p.comm, p.state, p.ppid, p.session);
        self.w(
            &format!("proc/{pid}/stat"),
            &format!("{pid} ({comm}) {st} {ppid} {sess} {sess} 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 {start} 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"),
        );
        let nspid: Vec<String> = p.nspid.iter().map(|n| n.to_string()).collect();
        self.w(
            &format!("proc/{pid}/status"),
            &format!(
                "Name:\t{comm}\nUid:\t0\t0\t0\t0\nNSpid:\t{}\nSigIgn:\t0000000000000000\nSigCgt:\t{:016x}\n",
                nspid.join("\t"),
                p.sig_cgt
            ),
        );
        self.w(&format!("proc/{pid}/cgroup"), &format!("0::{}\n", p.cgroup));
        if !p.cmdline.is_empty() {
            let mut c = p.cmdline.join("\0");
            c.push('\0');
            self.w(&format!("proc/{pid}/cmdline"), &c);
            self.w(&format!("proc/{pid}/wchan"), "hrtimer_nanosleep");
        }
        if let Some(e) = p.exited {
            self.w(
                &format!("proc/{pid}/sched"),
                &format!(
                    "x ({pid}, #threads: 1)\n---\nse.exec_start                                :       {:.6}\nse.vruntime : 1.0\n",
                    e * 1000.0
                ),
            );
        }
    }

    fn cgroup(&self, path: &str, current: u64, max: &str) {
        let rel = format!("sys{path}");
        self.w(&format!("{rel}/pids.current"), &format!("{current}\n"));
        self.w(&format!("{rel}/pids.max"), &format!("{max}\n"));
    }

    /// The node's roots plus `extra`; a subcommand in `extra` goes first (flags follow the
    /// subcommand they belong to).
    fn args<'a>(&'a self, extra: &[&'a str]) -> Vec<String> {
        let d = |s: &str| self.dir.join(s).to_str().unwrap().to_string();
        let sub = extra
            .iter()
            .position(|a| ["check", "tree", "watch"].contains(a));
        let mut v: Vec<String> = sub.map(|i| extra[i].to_string()).into_iter().collect();
        let extra: Vec<&str> = extra
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != sub)
            .map(|(_, a)| *a)
            .collect();
        v.extend(vec![
            "--proc-root".to_string(),
            d("proc"),
            "--sys-root".into(),
            d("sys"),
            "--pods-log-root".into(),
            d("state/var/log/pods"),
            "--runtime-state-root".into(),
            d("state"),
        ]);
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    }

    fn json(&self, extra: &[&str]) -> (i32, serde_json::Value) {
        let a = self.args(extra);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        run_json(&a)
    }

    fn run(&self, extra: &[&str]) -> (i32, String, String) {
        let a = self.args(extra);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        run(&a)
    }
}

fn proc_default<'a>(pid: i32, comm: &'a str, state: char, ppid: i32) -> P<'a> {
    P {
        pid,
        comm,
        state,
        ppid,
        session: pid,
        started: 10.0,
        nspid: &[],
        sig_cgt: 0,
        cgroup: "/",
        cmdline: &[],
        exited: None,
    }
}

/// The host: init (no SIGCHLD handler, like many inits that reap from a thread) holding the
/// `[conmon] <defunct>` an exec left half a second ago.
fn host(n: &Node) {
    n.p(P {
        nspid: &[1],
        cmdline: &["/sbin/init"],
        ..proc_default(1, "init", 'S', 0)
    });
    n.p(P {
        nspid: &[2],
        started: NOW - 1.2,
        exited: Some(NOW - 0.5),
        ..proc_default(2, "conmon", 'Z', 1)
    });
}

/// A podman container `web-leaky` whose PID 1 (`sleep`) never waits, holding `count` orphans of
/// exec probes started at `per_minute`, the last one `lag` seconds before the scan; its cgroup
/// holds `count + 1` of `max` pids. With `exit_times`, the zombies also show when they exited
/// (0.2 s after starting).
fn podman_leak(n: &Node, count: usize, per_minute: f64, lag: f64, max: &str, exit_times: bool) {
    let cg = format!("/libpod_parent/libpod-{PODMAN_ID}");
    let conmon_cmd = [
        "/usr/bin/conmon",
        "--api-version",
        "1",
        "-c",
        PODMAN_ID,
        "-u",
        PODMAN_ID,
        "-r",
        "/usr/bin/runc",
        "-n",
        "web-leaky",
    ];
    n.p(P {
        nspid: &[10],
        cmdline: &conmon_cmd,
        cgroup: "/libpod_parent/conmon",
        ..proc_default(10, "conmon", 'S', 1)
    });
    n.p(P {
        nspid: &[11, 1],
        cgroup: &cg,
        cmdline: &["/bin/sleep", "600"],
        ..proc_default(11, "sleep", 'S', 10)
    });
    for i in 0..count {
        let started = NOW - lag - (count - 1 - i) as f64 * 60.0 / per_minute;
        let pid = 100 + i as i32;
        n.p(P {
            session: 5000 + pid,
            nspid: &[pid, 2 + i as i32],
            cgroup: &cg,
            started,
            exited: exit_times.then_some(started + 0.2),
            ..proc_default(pid, "sleep", 'Z', 11)
        });
    }
    n.cgroup(&cg, count as u64 + 1, max);
}

#[test]
fn transient_conmon_zombie_is_counted_not_named() {
    let n = Node::new();
    host(&n);
    // Only the transient zombie: healthy, and no parent named.
    let (code, v) = n.json(&[]);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["zombie_count"], 0);
    assert_eq!(v["transient_zombie_count"], 1);
    assert_eq!(v["groups"].as_array().unwrap().len(), 0);
    let t = &v["transient"][0];
    assert_eq!(t["pid"], 2);
    assert_eq!(t["name"], "conmon");
    assert_eq!(t["reaping"], "reader_init");
    assert_eq!(t["age_source"], "exit_time");
    let age = t["age_seconds"].as_f64().unwrap();
    assert!(
        (age - 0.5).abs() < 0.01,
        "exact age from the exit time: {age}"
    );
    let (code, out, _) = n.run(&["check"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("OK: no leak (1 transient"), "{out}");
    let (_, out, _) = n.run(&[]);
    assert!(out.contains("No leaking zombies on this node"), "{out}");
    assert!(out.contains("1 transient zombie(s)"), "{out}");
    assert!(
        !out.contains("PARENT"),
        "no parent named on transient evidence:\n{out}"
    );

    // The same zombie 6 s old (past the transient age): now init is named.
    n.w(
        "proc/2/sched",
        &format!("x\n---\nse.exec_start : {:.6}\n", (NOW - 6.0) * 1000.0),
    );
    let (_, v) = n.json(&[]);
    assert_eq!(v["zombie_count"], 1, "{v:#}");
    assert_eq!(group_of(&v, 1).unwrap()["cause"], "host_init");
    // A wider transient age takes it back.
    let (_, v) = n.json(&["--transient-age", "10"]);
    assert_eq!(v["zombie_count"], 0, "{v:#}");
    assert_eq!(v["transient_zombie_count"], 1);
}

#[test]
fn young_zombies_of_a_parent_with_a_sigchld_handler_or_blocked_in_wait_are_transient() {
    let n = Node::new();
    host(&n);
    // A service with a SIGCHLD handler and two children that exited a moment ago.
    n.p(P {
        sig_cgt: 1 << 16,
        cmdline: &["/usr/sbin/svc"],
        cgroup: "/system.slice/svc.service",
        ..proc_default(40, "svc", 'S', 1)
    });
    // A shell blocked in wait() (no handler) with one child just exited.
    n.p(P {
        cmdline: &["/bin/sh", "-c", "job"],
        ..proc_default(50, "sh", 'S', 1)
    });
    n.w("proc/50/wchan", "do_wait");
    for (pid, parent) in [(41, 40), (42, 40), (51, 50), (52, 50)] {
        n.p(P {
            started: NOW - 2.0,
            exited: Some(NOW - 1.0),
            cgroup: "/system.slice/svc.service",
            ..proc_default(pid, "child", 'Z', parent)
        });
    }
    let (code, v) = n.json(&[]);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["zombie_count"], 0, "{v:#}");
    assert_eq!(v["transient_zombie_count"], 5);
    let reasons: Vec<&str> = v["transient"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["reaping"].as_str().unwrap())
        .collect();
    assert!(reasons.contains(&"sigchld_handler"), "{reasons:?}");
    assert!(reasons.contains(&"blocked_in_wait"), "{reasons:?}");
    // One of them a minute old: the handler does not reap in practice, the service is named.
    n.w("proc/41/sched", "x\n---\nse.exec_start : 940000.0\n");
    let (_, v) = n.json(&[]);
    let g = group_of(&v, 40).expect("svc named once a zombie is old");
    assert_eq!(g["zombie_count"], 2);
    assert_eq!(g["cause"], "application_not_waiting");
}

#[test]
fn one_scan_rate_from_start_times_and_time_to_exhaustion() {
    let n = Node::new();
    host(&n);
    // 30 orphans at 30/min (one every 2 s), the last 1 s before the scan; 31 of 100 pids.
    podman_leak(&n, 30, 30.0, 1.0, "100", false);
    let (code, v) = n.json(&[]);
    assert_eq!(code, 1, "30/min > the default --max-leak-rate 1\n{v:#}");
    let g = group_of(&v, 11).unwrap();
    assert_eq!(g["cause"], "exec_orphans");
    let r = &g["rate"];
    assert_eq!(r["method"], "least_squares");
    assert_eq!(r["source"], "start_time");
    assert_eq!(r["count"], 30);
    assert_eq!(r["ongoing"], true);
    let rate = g["new_per_minute"].as_f64().unwrap();
    assert!((rate - 30.0).abs() < 0.3, "30/min expected, got {rate}");
    let w = r["window_seconds"].as_f64().unwrap();
    assert!((w - 59.0).abs() < 0.1, "{w}");
    // Exhaustion: (100 - 31) pids at 30/min = 138 s, the container's limit before the node's.
    let e = &g["exhaustion"];
    assert!(e["limit_of"].as_str().unwrap().contains("web-leaky"), "{e}");
    let secs = e["seconds"].as_f64().unwrap();
    assert!((secs - 138.0).abs() < 2.0, "{secs}");
    // The node and the scope carry rates and times too (no nulls).
    let node = &v["budget"]["node"];
    assert!((node["new_per_minute"].as_f64().unwrap() - rate).abs() < 1e-9);
    let node_secs = node["seconds_to_exhaustion"].as_f64().unwrap();
    assert!((node_secs - (32768.0 - 200.0) / rate * 60.0).abs() < 60.0);
    let scope = v["budget"]["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == "container")
        .unwrap();
    assert!(scope["seconds_to_exhaustion"].as_f64().unwrap() > 0.0);
    assert_eq!(
        scope["label"],
        format!("container podman web-leaky ({})", &PODMAN_ID[..12])
    );
    // The report says how the rate was estimated, and the violation names the leak.
    let (code, out, _) = n.run(&[]);
    assert_eq!(code, 1);
    assert!(
        out.contains("least-squares fit over the last 30 zombies' start times"),
        "{out}"
    );
    assert!(
        out.contains("exhausts:  container podman web-leaky"),
        "{out}"
    );
    assert!(out.contains("> --max-leak-rate 1"), "{out}");
    // The transient conmon zombie is counted, not a second culprit, and not in the node rate.
    assert!(group_of(&v, 1).is_none());
    assert_eq!(v["transient_zombie_count"], 1);
}

#[test]
fn exact_ages_from_exit_times_give_the_rate() {
    let n = Node::new();
    host(&n);
    // 6 per minute for 2 minutes (13 zombies), each exiting 0.2 s after it started.
    podman_leak(&n, 13, 6.0, 4.0, "max", true);
    let (_, v) = n.json(&[]);
    let g = group_of(&v, 11).unwrap();
    assert_eq!(g["rate"]["source"], "exit_time");
    let rate = g["new_per_minute"].as_f64().unwrap();
    assert!((rate - 6.0).abs() < 0.06, "{rate}");
    let z = &g["zombies"][12];
    assert_eq!(z["age_source"], "exit_time");
    let age = z["zombie_age_seconds"].as_f64().unwrap();
    assert!((age - 3.8).abs() < 0.01, "{age}");
    // No pids.max on the container: the node's limit is the tightest.
    assert_eq!(g["exhaustion"]["limit_of"], "node");
    let (_, out, _) = n.run(&[]);
    assert!(out.contains("zombies' exit times"), "{out}");
    // A leak that stopped ten minutes ago is not growing: no rate violation, exhaustion never.
    let n = Node::new();
    host(&n);
    podman_leak(&n, 13, 6.0, 600.0, "max", true);
    let (code, v) = n.json(&[]);
    assert_eq!(code, 0, "{v:#}");
    let g = group_of(&v, 11).unwrap();
    assert_eq!(g["rate"]["ongoing"], false);
    assert_eq!(g["new_per_minute"], 0.0);
    let (_, out, _) = n.run(&[]);
    assert!(
        out.contains("leak rate: stopped: the last zombie came 9m59s ago"),
        "{out}"
    );
}

#[test]
fn check_default_thresholds_and_flags() {
    // Incident 2 on a small limit: 30 zombies, 31 of 32 pids (96.9%), 60 per minute.
    let n = Node::new();
    host(&n);
    podman_leak(&n, 30, 60.0, 0.5, "32", false);
    let (code, out, _) = n.run(&["check"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.len() <= 81, "{out}");
    // The one line says what grows, where, and when the tightest limit is reached.
    assert_eq!(
        out.trim_end(),
        "LEAK 60.0/min: sleep pid 11 in podman web-leaky, full in 1.0s (exec_orphans)"
    );
    let (_, v) = n.json(&[]);
    let violations: Vec<&str> = v["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert!(
        violations
            .iter()
            .any(|s| s.contains("leaks 60.0 zombies/min > --max-leak-rate 1")),
        "{violations:?}"
    );
    assert!(
        violations
            .iter()
            .any(|s| s.contains("pids 31 of 32 (97%) > --max-pid-usage 0.9")),
        "{violations:?}"
    );
    // Raising both thresholds makes it pass; each one alone still fails.
    let (code, out, _) = n.run(&["--max-leak-rate", "100", "--max-pid-usage", "1", "check"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("OK: 30 zombies, 60.0/min"), "{out}");
    let (code, _, _) = n.run(&["--max-leak-rate", "100", "check"]);
    assert_eq!(code, 1);
    let (code, _, _) = n.run(&["--max-pid-usage", "1", "check"]);
    assert_eq!(code, 1);
    let (code, _, err) = n.run(&["--max-leak-rate=-3", "check"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("'-3' is not a number of zombies per minute"),
        "{err}"
    );
}

#[test]
fn fix_text_names_the_runtime_and_the_wrapper() {
    // podman: recorded above. Docker: a container `db` named by dockerd's state.
    let n = Node::new();
    host(&n);
    podman_leak(&n, 3, 6.0, 2.0, "max", false);
    let cg = format!("/system.slice/docker-{DOCKER_ID}.scope");
    // A dockerd with its own data root: the name is found there.
    n.p(P {
        nspid: &[15],
        cmdline: &[
            "/usr/bin/dockerd",
            "--data-root",
            "/srv/docker",
            "-H",
            "unix:///run/d.sock",
        ],
        ..proc_default(15, "dockerd", 'S', 1)
    });
    n.w(
        &format!("state/srv/docker/containers/{DOCKER_ID}/config.v2.json"),
        &format!(r#"{{"ID":"{DOCKER_ID}","Name":"/db","State":{{"Running":true}}}}"#),
    );
    n.p(P {
        nspid: &[20, 1],
        cgroup: &cg,
        cmdline: &["/usr/local/bin/db"],
        ..proc_default(20, "db", 'S', 1)
    });
    for pid in [21, 22] {
        n.p(P {
            nspid: &[pid, pid - 18],
            cgroup: &cg,
            started: 500.0,
            ..proc_default(pid, "helper", 'Z', 20)
        });
    }
    // reaper injected by the runtime wrapper as PID 1 of another podman container: its young
    // zombie is transient, and the report says who its PID 1 is.
    let cgw = format!("/libpod_parent/libpod-{WRAPPED_ID}");
    n.w(
        "state/var/lib/containers/storage/overlay-containers/containers.json",
        &format!(r#"[{{"id":"{WRAPPED_ID}","names":["wrapped"]}}]"#),
    );
    n.p(P {
        nspid: &[30, 1],
        cgroup: &cgw,
        sig_cgt: 1 << 16,
        cmdline: &["/dev/.reaper-init", "--", "/bin/sleep", "600"],
        ..proc_default(30, ".reaper-init", 'S', 1)
    });
    n.p(P {
        nspid: &[31, 5],
        cgroup: &cgw,
        started: NOW - 1.0,
        exited: Some(NOW - 0.1),
        ..proc_default(31, "sleep", 'Z', 30)
    });
    let (_, v) = n.json(&[]);
    let podman = group_of(&v, 11).unwrap()["fix"].as_str().unwrap();
    for want in [
        "podman run --init --init-path /usr/local/bin/reaper",
        "reaper-oci",
        "docs/runtime-wrapper.md",
        "--share pid",
        "ENTRYPOINT",
    ] {
        assert!(podman.contains(want), "podman fix lacks {want:?}: {podman}");
    }
    let g = group_of(&v, 20).unwrap();
    assert_eq!(
        g["parent"]["label"],
        format!("container docker db ({})", &DOCKER_ID[..12])
    );
    assert_eq!(g["parent"]["container"]["runtime"], "docker");
    let docker = g["fix"].as_str().unwrap();
    for want in [
        "docker run --init",
        "--add-runtime reaper=",
        "reaper-oci",
        "ENTRYPOINT",
    ] {
        assert!(docker.contains(want), "docker fix lacks {want:?}: {docker}");
    }
    assert!(!docker.contains("shareProcessNamespace"), "{docker}");
    assert!(
        group_of(&v, 30).is_none(),
        "reaper's young zombie is transient"
    );
    let t = v["transient"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["pid"] == 31)
        .unwrap();
    assert_eq!(t["reaping"], "reaper_injected");
    let (_, out, _) = n.run(&[]);
    assert!(
        out.contains("it is reaper, injected by the runtime wrapper reaper-oci"),
        "{out}"
    );
    // Held for a minute, reaper's zombie is reported, and the report says PID 1 is reaper.
    n.w("proc/31/sched", "x\n---\nse.exec_start : 900000.0\n");
    let (_, v) = n.json(&[]);
    let g = group_of(&v, 30).unwrap();
    assert_eq!(g["parent"]["reaper_injected"], true);
    assert!(
        g["explanation"]
            .as_str()
            .unwrap()
            .contains("reaper injected by the runtime wrapper reaper-oci"),
        "{g}"
    );
    assert_eq!(
        g["parent"]["label"],
        format!("container podman wrapped ({})", &WRAPPED_ID[..12])
    );
}

#[test]
fn kubernetes_containers_named_from_cri_state_and_pod_logs() {
    let n = Node::new();
    host(&n);
    let pod = |uid: &str, id: &str| format!("/kubepods/burstable/pod{uid}/{id}");
    // Pod 1: containerd's bundle annotations name container, pod and namespace.
    n.w(
        &format!("state/run/containerd/io.containerd.runtime.v2.task/k8s.io/{K8S_ID}/config.json"),
        &format!(
            r#"{{"ociVersion":"1.0.2","annotations":{{"io.kubernetes.cri.container-type":"container","io.kubernetes.cri.container-name":"rabbitmq","io.kubernetes.cri.sandbox-name":"rabbit-0","io.kubernetes.cri.sandbox-namespace":"queues","io.kubernetes.cri.sandbox-uid":"{POD_UID}"}}}}"#
        ),
    );
    // Pod 2: only kubelet's log directory, with one container directory.
    n.w(
        &format!("state/var/log/pods/prod_web-7_{POD_UID2}/app/0.log"),
        "",
    );
    for (base, uid, id) in [(60, POD_UID, K8S_ID), (70, POD_UID2, K8S_ID2)] {
        let cg = pod(uid, id);
        n.p(P {
            nspid: &[base, 1],
            cgroup: &cg,
            cmdline: &["/pause-like"],
            ..proc_default(base, "app", 'S', 1)
        });
        for k in 1..=3 {
            n.p(P {
                nspid: &[base + k, k + 1],
                session: 9000 + base + k,
                cgroup: &cg,
                started: NOW - 10.0 - 60.0 * (3 - k) as f64,
                ..proc_default(base + k, "probe", 'Z', base)
            });
        }
        n.cgroup(&cg, 4, "max");
    }
    let (_, v) = n.json(&[]);
    let g = group_of(&v, 60).unwrap();
    assert_eq!(
        g["parent"]["label"],
        format!(
            "pod queues/rabbit-0 container containerd rabbitmq ({})",
            &K8S_ID[..12]
        )
    );
    assert!(g["fix"].as_str().unwrap().contains("shareProcessNamespace"));
    assert!(g["fix"].as_str().unwrap().contains("RuntimeClass"));
    let g = group_of(&v, 70).unwrap();
    assert_eq!(
        g["parent"]["label"],
        format!(
            "pod prod/web-7 container containerd/docker app ({})",
            &K8S_ID2[..12]
        )
    );
    // Three zombies a minute apart: one per minute.
    let rate = g["new_per_minute"].as_f64().unwrap();
    assert!((rate - 1.0).abs() < 0.01, "{rate}");
    assert_eq!(g["rate"]["method"], "least_squares");
}
