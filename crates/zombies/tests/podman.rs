//! End to end with podman: a container whose PID 1 never waits (`busybox sleep`), a `podman exec`
//! loop whose commands leave orphans behind (`sh -c 'sleep 0.1 & exit 0'`), and `zombies` on the
//! host naming that container, its PID 1, the probe's command and the cause (and a leak rate in
//! watch).
mod common;

use common::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn exec_orphan(name: &str) {
    // The exec'd shell backgrounds a sleep and exits at once: the sleep is orphaned to the
    // container's PID 1 and becomes a zombie there when it ends.
    let _ = podman(&["exec", name, "/bin/sh", "-c", "sleep 0.1 & exit 0"]);
}

#[test]
fn podman_exec_orphans_under_a_pid1_that_never_waits() {
    require_root("rootful podman needed");
    let img = BusyboxImage::build("zombies-e2e", &["sh", "sleep", "true"]);
    let name = img.name.clone();
    let (id, pid1) = img.run_detached(&[], &["/bin/busybox", "sleep", "3600"]);
    assert_eq!(id.len(), 64, "container id: {id}");

    for _ in 0..3 {
        exec_orphan(&name);
    }
    let v = poll(
        "3 zombies under the container's PID 1",
        Duration::from_secs(60),
        || {
            let (_, v) = run_json(&[]);
            let n = group_of(&v, pid1).and_then(|g| g["zombie_count"].as_u64());
            match n {
                Some(n) if n >= 3 => Ok(v),
                _ => Err(format!("zombie_count of {pid1}: {n:?}")),
            }
        },
    );
    let g = group_of(&v, pid1).unwrap();
    let p = &g["parent"];
    assert_eq!(p["ns_pid"], 1);
    assert_eq!(p["is_container_init"], true);
    assert_eq!(p["name"], "busybox");
    assert_eq!(p["cmdline"], "/bin/busybox sleep 3600");
    assert_eq!(p["container"]["runtime"], "podman");
    assert_eq!(p["container"]["container_id"], id.as_str());
    assert!(
        p["cgroup"]
            .as_str()
            .unwrap()
            .contains(&format!("libpod-{id}")),
        "{}",
        p["cgroup"]
    );
    assert_eq!(g["cause"], "exec_orphans", "{}", g["explanation"]);
    let expl = g["explanation"].as_str().unwrap();
    assert!(expl.contains("sleep") && expl.contains(&id[..12]), "{expl}");
    assert!(g["fix"].as_str().unwrap().contains("reaper"));
    for z in g["zombies"].as_array().unwrap() {
        assert_eq!(z["name"], "sleep");
        assert_eq!(z["container"]["container_id"], id.as_str());
        assert_eq!(z["exit_status"]["kind"], "exited");
    }
    let scope = v["budget"]["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["path"].as_str().unwrap().contains(&id) && s["kind"] == "container")
        .expect("the container's pids scope");
    assert!(scope["current"].as_u64().unwrap() >= 4, "{scope}");
    assert!(scope["zombies"].as_u64().unwrap() >= 3);

    let (_, out, _) = run(&["--color", "never"]);
    assert!(
        out.contains(&format!(
            "PARENT busybox (pid {pid1}, pid 1 in its namespace: PID 1 of its container)"
        )),
        "{out}"
    );
    // Named as podman names it (from conmon's `-n`), with the short id.
    assert!(
        out.contains(&format!("container podman {name} ({})", &id[..12])),
        "{out}"
    );

    let (_, tree, _) = run(&["tree", "--color", "never"]);
    assert!(
        tree.contains(&format!("busybox({pid1}) [ns pid 1]")),
        "{tree}"
    );

    // The leak rate: keep exec'ing while watch runs.
    let stop = Arc::new(AtomicBool::new(false));
    let (s2, n2) = (stop.clone(), name.clone());
    let execs = std::thread::spawn(move || {
        while !s2.load(Ordering::Relaxed) {
            exec_orphan(&n2);
        }
    });
    let (code, out, err) = run(&["watch", "--json", "--interval", "1", "--iterations", "5"]);
    stop.store(true, Ordering::Relaxed);
    execs.join().unwrap();
    // A growing leak is over the default --max-leak-rate (1/min): unhealthy.
    assert_eq!(code, 1, "{err}");
    let last: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    let g = group_of(&last, pid1).expect("group in watch");
    assert!(
        g["new_per_minute"].as_f64().unwrap() > 0.0,
        "leak rate: {}",
        g["new_per_minute"]
    );
}
