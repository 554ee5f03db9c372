//! Real zombies of known parents, scanned by the library and reported by the binary.
mod common;

use common::*;
use procmodel::{scan, Detail, ScanConfig};
use std::path::PathBuf;
use std::time::Duration;

fn kid(name: &[u8], end: Result<i32, i32>) -> Kid {
    Kid {
        name: name.to_vec(),
        end,
    }
}

fn root_only() {
    require_root("these tests create namespaces and cgroups");
}

#[test]
fn forged_names_exit_statuses_and_an_app_that_does_not_wait() {
    root_only();
    let kids = [
        kid(b"x) Z 1 (", Ok(3)),
        kid(b"new\nline", Ok(0)),
        kid(b"\xff\xfe(bad)", Err(libc::SIGTERM)),
    ];
    let mut farm = Farm::new(ParentKind::Plain, b"leaky-app", &kids);
    farm.go();
    let snap = scan(&ScanConfig::default()).unwrap();
    let mut seen = Vec::new();
    for &z in &farm.zombies {
        let p = snap.process(z).expect("zombie in snapshot");
        assert!(p.is_zombie());
        assert_eq!(
            p.ppid, farm.parent,
            "a forged comm must not change the ppid"
        );
        seen.push((p.comm.clone(), p.exit_status().unwrap().to_string()));
    }
    seen.sort();
    let mut want = vec![
        (b"x) Z 1 (".to_vec(), "exit 3".to_string()),
        (b"new\nline".to_vec(), "exit 0".to_string()),
        (b"\xff\xfe(bad)".to_vec(), "signal 15".to_string()),
    ];
    want.sort();
    assert_eq!(seen, want);
    // The parent's cmdline is read (it is alive), the zombies' never.
    let parent = snap.process(farm.parent).unwrap();
    assert!(parent.cmdline.is_some());
    assert!(farm
        .zombies
        .iter()
        .all(|z| snap.process(*z).unwrap().cmdline.is_none()));

    // One burst of 3 zombies is not a growing leak: no violation names our parent. The verdict is
    // the whole host's (other tests' leaks may run meanwhile): exit 1 exactly when some
    // violation, of someone else, exists.
    let (code, v) = run_json(&[]);
    let violations: Vec<&str> = v["violations"]
        .as_array()
        .expect("a violations list")
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    let ours = format!("(pid {})", farm.parent);
    assert!(
        !violations.iter().any(|s| s.contains(&ours)),
        "one burst of 3 zombies is not a growing leak: {violations:?}"
    );
    assert_eq!(code, i32::from(!violations.is_empty()), "{violations:?}");
    assert_eq!(v["schema_version"], 1);
    let g = group_of(&v, farm.parent).expect("group of our parent");
    assert_eq!(g["zombie_count"], 3);
    assert_eq!(g["parent"]["name"], "leaky-app");
    assert_eq!(g["cause"], "application_not_waiting");
    assert!(g["explanation"]
        .as_str()
        .unwrap()
        .contains("application bug in leaky-app"));
    assert!(g["fix"].as_str().unwrap().contains("leaky-app"));
    let names: Vec<&str> = g["zombies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|z| z["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"x) Z 1 ("), "{names:?}");
    assert!(
        names.contains(&"new\\nline"),
        "newline must be escaped: {names:?}"
    );

    // Thresholds: exit 1 over, and the table names the parent.
    let (code, out, _) = run(&["--max-zombies", "0", "--color", "never"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("PARENT leaky-app"), "{out}");
    assert!(out.contains("OVER THRESHOLD"), "{out}");
    assert!(!out.contains('\x1b'), "no colour when not a terminal");
    // min-age hides fresh zombies.
    let (_, v) = run_json(&["--min-age", "3600"]);
    assert!(group_of(&v, farm.parent).is_none());
}

#[test]
fn pid_namespace_init_that_never_waits() {
    root_only();
    let mut farm = Farm::new(
        ParentKind::PidNsInit,
        b"fake-init",
        &[kid(b"child-a", Ok(1)), kid(b"child-b", Ok(2))],
    );
    farm.go();
    let snap = scan(&ScanConfig::default()).unwrap();
    let parent = snap.process(farm.parent).unwrap();
    assert_eq!(parent.ns_pid(), Some(1));
    assert_eq!(parent.is_container_init(), Some(true));
    for z in &farm.zombies {
        let zp = snap.process(*z).unwrap();
        let ns = zp.nspid.as_ref().unwrap();
        assert_eq!((ns.len(), ns[0]), (2, *z));
        assert!(ns[1] > 1);
    }
    let (_, v) = run_json(&[]);
    let g = group_of(&v, farm.parent).unwrap();
    assert_eq!(g["parent"]["ns_pid"], 1);
    assert_eq!(g["parent"]["is_container_init"], true);
    assert_eq!(g["cause"], "container_init_not_reaping");
    assert!(g["fix"].as_str().unwrap().contains("reaper"));
    // tree: the chain goes through the parent, marked with its namespace pid.
    let (_, out, err) = run(&["tree", "--color", "never"]);
    assert!(
        out.contains(&format!("fake-init({}) [ns pid 1]", farm.parent)),
        "{out}{err}"
    );
    assert!(
        out.contains("child-a(") && out.contains("<defunct>"),
        "{out}"
    );
    let (code, out, _) = run(&["tree", &farm.parent.to_string(), "--color", "never"]);
    assert!(code == 0 || code == 1);
    assert!(out.contains("fake-init"), "{out}");
    let (code, _, err) = run(&["tree", "999999999"]);
    assert_eq!(code, 2);
    assert!(err.contains("no process with pid 999999999"), "{err}");
}

#[test]
fn zombie_leader_with_a_live_thread_is_not_a_zombie() {
    root_only();
    let mut farm = Farm::new(ParentKind::ExitedLeader, b"half-dead", &[]);
    farm.go();
    let pid = farm.parent;
    poll(
        "the leader to show Z",
        Duration::from_secs(10),
        || match state_ppid(pid) {
            Some((b'Z', _)) => Ok(()),
            s => Err(format!("(state, ppid) of {pid}: {s:?}")),
        },
    );
    let snap = scan(&ScanConfig {
        detail: Detail::Minimal,
        ..Default::default()
    })
    .unwrap();
    let p = snap.process(pid).unwrap();
    assert_eq!(p.state, b'Z');
    assert_eq!(p.num_threads, 2);
    assert!(p.exited_leader);
    assert!(!p.is_zombie());
    assert!(!snap.zombies.contains(&pid));
}

#[test]
#[allow(unsafe_code)] // fork/_exit/waitpid: short-lived children made as fast as possible
fn processes_vanishing_during_scans_are_normal() {
    root_only();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s2 = stop.clone();
    let churn = std::thread::spawn(move || {
        let mut n = 0u64;
        while !s2.load(std::sync::atomic::Ordering::Relaxed) {
            let pids: Vec<i32> = (0..20)
                // SAFETY: the forked child calls only _exit (async-signal-safe) and never
                // returns into the test harness.
                .map(|_| unsafe {
                    let p = libc::fork();
                    if p == 0 {
                        libc::_exit(0);
                    }
                    p
                })
                .collect();
            for p in pids {
                // SAFETY: waitpid on our own child, with no status buffer.
                unsafe { libc::waitpid(p, std::ptr::null_mut(), 0) };
            }
            n += 20;
        }
        n
    });
    let mut vanished = 0;
    for _ in 0..30 {
        let snap = scan(&ScanConfig::default()).expect("a scan never fails because processes exit");
        assert_eq!(snap.errors.failures(), 0, "{:?}", snap.errors.examples);
        vanished += snap.errors.vanished;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let forks = churn.join().unwrap();
    assert!(forks > 0);
    eprintln!("{forks} short-lived processes, {vanished} vanished mid-scan");
}

#[test]
fn fake_proc_tree_counts_unreadable_entries() {
    let dir = std::env::temp_dir().join(unique("zombies-fakeproc"));
    let w = |p: &str, c: &[u8]| {
        let p = dir.join(p);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, c).unwrap();
    };
    let stat = |pid: i32, comm: &str, st: char, ppid: i32| {
        format!("{pid} ({comm}) {st} {ppid} {pid} {pid} 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 256\n")
    };
    w("1/stat", stat(1, "init", 'S', 0).as_bytes());
    w("50/stat", stat(50, "app", 'S', 1).as_bytes());
    w("50/status", b"Name:\tapp\nNSpid:\t50\nSigCgt:\t0\n");
    w("50/cgroup", b"0::/system.slice/app.service\n");
    w("50/cmdline", b"/usr/bin/app\0--serve\0");
    w("60/stat", stat(60, "dead", 'Z', 50).as_bytes());
    w("60/cgroup", b"0::/system.slice/app.service\n");
    w("61/stat", b"garbage without parens");
    // A zombie whose parent is not in this /proc (exited, or outside the namespace).
    w("70/stat", stat(70, "orphan", 'Z', 99).as_bytes());
    std::fs::create_dir_all(dir.join("62")).unwrap(); // vanished: no stat
    w("loadavg", b"0.00 0.00 0.00 1/7 100\n");
    w("sys/kernel/pid_max", b"100\n");
    w("sys/kernel/threads-max", b"1000\n");
    w("uptime", b"500.0 100.0\n");
    let snap = scan(&ScanConfig {
        proc_root: dir.clone(),
        sys_root: dir.join("nosys"),
        pods_log_root: None,
        detail: Detail::Zombies,
        state_root: None,
    })
    .unwrap();
    assert_eq!(snap.processes.len(), 4);
    assert_eq!(snap.zombies, vec![60, 70]);
    // 62/stat, 60/status, 1/status + 1/cgroup (an ancestor of the zombie), 70/status + 70/cgroup.
    assert_eq!(snap.errors.vanished, 6);
    assert_eq!(snap.errors.other, 1, "61 unparsable");
    assert_eq!(
        (snap.budget.limit, snap.budget.loadavg_tasks),
        (Some(100), Some(7))
    );
    assert_eq!(
        snap.process(50).unwrap().cmdline_text().as_deref(),
        Some("/usr/bin/app --serve")
    );
    assert!(snap.process(60).unwrap().cmdline.is_none());

    let root = dir.to_str().unwrap();
    let (code, v) = run_json(&[
        "--proc-root",
        root,
        "--sys-root",
        "/nonexistent",
        "--max-pid-usage",
        "0.05",
    ]);
    assert_eq!(code, 1, "7 tasks of 100 > 5%");
    let g = group_of(&v, 50).unwrap();
    assert_eq!(g["cause"], "application_not_waiting");
    assert_eq!(g["parent"]["cmdline"], "/usr/bin/app --serve");
    assert_eq!(v["read_errors"]["other"], 1);
    let lost = group_of(&v, 99).unwrap();
    assert_eq!(lost["cause"], "parent_not_visible");
    assert_eq!(lost["parent"]["visible"], false);
    assert!(v["notes"].as_array().unwrap().iter().any(|n| n
        .as_str()
        .unwrap()
        .contains("could not read 1 /proc entries")));
    let (code, _, _) = run(&["--proc-root", root, "--sys-root", "/nonexistent"]);
    assert_eq!(code, 0);
    let (code, _, err) = run(&["--proc-root", "/nonexistent/proc"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("cannot list /nonexistent/proc") && err.contains("--proc-root"),
        "{err}"
    );
    let (code, _, err) = run(&["--max-pid-usage", "7"]);
    assert_eq!(code, 2);
    assert!(err.contains("not a ratio"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

/// Zombies in cgroups laid out like a kubelet's (cgroupfs driver, burstable pod, containerd id),
/// under a prefix the test owns: v1 pids controller, plus the v2 hierarchy at the same path.
#[test]
fn zombies_in_test_cgroups_named_like_a_pod() {
    root_only();
    let v1_root = PathBuf::from("/sys/fs/cgroup/pids");
    assert!(
        v1_root.join("cgroup.procs").exists(),
        "v1 pids controller expected at /sys/fs/cgroup/pids"
    );
    let uid = "0b5c5e4e-2f0b-4c44-9d2c-3d1b0e0f4a11";
    let id = fake_id(&unique("ctr"));
    let top = unique("zombies-test");
    let pod_rel = format!("{top}/kubepods/burstable/pod{uid}");
    let ctr_rel = format!("{pod_rel}/{id}");

    let top_v1 = CgroupDir::create(v1_root.join(&top));
    let pod_v1 = CgroupDir::create(v1_root.join(&pod_rel));
    let ctr_v1 = CgroupDir::create(v1_root.join(&ctr_rel));
    pod_v1.write("pids.max", "50");
    let unified = PathBuf::from("/sys/fs/cgroup/unified");
    let v2_pids = std::fs::read_to_string(unified.join("cgroup.controllers"))
        .map(|c| c.split_whitespace().any(|x| x == "pids"))
        .unwrap_or(false);
    let v2 = unified.join("cgroup.procs").exists().then(|| {
        (
            CgroupDir::create(unified.join(&top)),
            CgroupDir::create(unified.join(&ctr_rel)),
        )
    });
    eprintln!(
        "cgroup v2 at {}: {}",
        unified.display(),
        if v2.is_none() {
            "absent"
        } else if v2_pids {
            "with pids controller"
        } else {
            "present, no pids controller (v1 counts only)"
        }
    );

    let logs = std::env::temp_dir().join(unique("zombies-pods"));
    std::fs::create_dir_all(logs.join(format!("shop_cart-7d9f_{uid}/app"))).unwrap();

    let mut farm = Farm::new(
        ParentKind::PidNsInit,
        b"pod-init",
        &[
            kid(b"probe-a", Ok(0)),
            kid(b"probe-b", Ok(0)),
            kid(b"probe-c", Ok(0)),
        ],
    );
    ctr_v1.write("cgroup.procs", &farm.parent.to_string());
    if let Some((_, c2)) = &v2 {
        c2.write("cgroup.procs", &farm.parent.to_string());
    }
    farm.go();
    assert!(
        ctr_v1.read("pids.current").parse::<u64>().unwrap() >= 4,
        "parent and 3 zombies charged"
    );

    let (code, v) = run_json(&[
        "--pods-log-root",
        logs.to_str().unwrap(),
        "--max-pid-usage",
        "0.05",
    ]);
    let g = group_of(&v, farm.parent).expect("group");
    assert_eq!(g["parent"]["container"]["container_id"], id.as_str());
    assert_eq!(g["parent"]["container"]["pod_uid"], uid);
    assert_eq!(g["parent"]["container"]["qos"], "burstable");
    assert_eq!(g["parent"]["pod"]["namespace"], "shop");
    assert_eq!(g["parent"]["pod"]["name"], "cart-7d9f");
    for z in g["zombies"].as_array().unwrap() {
        assert_eq!(z["container"]["container_id"], id.as_str(), "{z}");
        assert_eq!(z["pod"]["name"], "cart-7d9f");
    }
    assert!(g["parent"]["label"]
        .as_str()
        .unwrap()
        .contains("pod shop/cart-7d9f"));
    let scopes = v["budget"]["scopes"].as_array().unwrap();
    let mine =
        |s: &&serde_json::Value| s["path"].as_str().unwrap().contains(&top) && s["version"] == "v1";
    let pod_scope = scopes
        .iter()
        .filter(mine)
        .find(|s| s["kind"] == "pod")
        .expect("pod scope");
    assert_eq!(pod_scope["max"], 50);
    assert_eq!(pod_scope["zombies"], 3);
    assert!(pod_scope["current"].as_u64().unwrap() >= 4);
    assert_eq!(pod_scope["label"], "pod shop/cart-7d9f");
    let ctr_scope = scopes
        .iter()
        .filter(mine)
        .find(|s| s["kind"] == "container")
        .expect("container scope");
    assert!(
        ctr_scope["zombie_share"].as_f64().unwrap() > 0.5,
        "{ctr_scope}"
    );
    // 4+ of 50 pids > 5%: over the threshold.
    assert_eq!(code, 1);
    assert!(
        v["violations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x.as_str().unwrap().contains("pod shop/cart-7d9f")),
        "{}",
        v["violations"]
    );
    if v2_pids {
        assert!(scopes
            .iter()
            .any(|s| s["version"] == "v2" && s["readable"] == true));
    }
    drop(farm);
    drop(v2);
    drop(ctr_v1);
    drop(pod_v1);
    drop(top_v1);
    assert!(!v1_root.join(&top).exists(), "test cgroups removed");
    std::fs::remove_dir_all(&logs).ok();
}

#[test]
fn unprivileged_run_says_what_it_could_not_read() {
    root_only();
    let setpriv = require_tool("setpriv");
    let mut farm = Farm::new(ParentKind::Plain, b"root-leaker", &[kid(b"rootkid", Ok(7))]);
    farm.go();
    let out = std::process::Command::new(setpriv)
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--",
            zombies_bin(),
            "--json",
            // Its single zombie is brand new: count it as a leak at once.
            "--transient-age",
            "0",
        ])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let g = group_of(&v, farm.parent).expect("unprivileged still sees the zombie");
    assert_eq!(g["zombies"][0]["exit_status_reliable"], false);
    assert!(
        v["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("not root")),
        "{}",
        v["notes"]
    );
}

#[test]
fn watch_exits_cleanly_on_iterations_and_ctrl_c() {
    // Other jobs on the machine may leak zombies meanwhile: only the exit path is tested here.
    let (code, out, err) = run(&[
        "watch",
        "--interval",
        "0.1",
        "--iterations",
        "2",
        "--color",
        "never",
        "--max-leak-rate",
        "1000000",
        "--max-pid-usage",
        "1",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("scan 2"), "{out}");
    assert!(out.contains("PID budget"));
    let (code, out, _) = run(&[
        "watch",
        "--json",
        "--interval",
        "0.1",
        "--iterations",
        "2",
        "--max-leak-rate",
        "1000000",
        "--max-pid-usage",
        "1",
    ]);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 2);
    for l in out.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert!(v["budget"]["node"]["new_per_minute"].is_number());
    }
    let mut child = std::process::Command::new(zombies_bin())
        .args(["watch", "--interval", "0.2"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 5];
    std::io::Read::read_exact(&mut stdout, &mut first).expect("watch prints");
    signal(child.id() as i32, libc::SIGINT).expect("SIGINT to watch");
    let status = poll(
        "watch to exit after SIGINT",
        Duration::from_secs(10),
        || child.try_wait().unwrap().ok_or("still running".into()),
    );
    assert_eq!(status.code(), Some(0));
}

#[test]
fn watch_measures_a_leak_rate() {
    root_only();
    let kids: Vec<Kid> = (0..30).map(|_| kid(b"drip", Ok(0))).collect();
    let mut farm = Farm::new(ParentKind::Dripping, b"dripper", &kids);
    farm.start();
    let (code, out, err) = run(&["watch", "--json", "--interval", "0.5", "--iterations", "5"]);
    assert_eq!(code, 1, "a growing leak is over --max-leak-rate: {err}");
    let last: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    let g = group_of(&last, farm.parent).expect("dripper group");
    let rate = g["new_per_minute"].as_f64().unwrap();
    // ~6.6 per second = ~400/min; allow a wide margin on 2 busy cores.
    assert!(rate > 30.0, "rate {rate}");
    assert!(g["zombies"][0]["first_seen"].is_number());
    assert!(last["budget"]["node"]["seconds_to_exhaustion"].is_number());
}
