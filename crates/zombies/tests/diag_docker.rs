//! Incident 2 on Docker: a private dockerd (its own `--data-root`), a container whose PID 1 never
//! waits and `docker exec` probes leaving orphans. `zombies` names the container as `docker ps`
//! does (from the daemon's state under its data root, found from dockerd's command line) and gives
//! the Docker fix (`docker run --init`, the runtime wrapper via `--add-runtime`).
mod serve_support;

use e2e::{must, Dockerd};
use serve_support::*;
use std::process::Command;
use std::time::Duration;

#[test]
fn docker_container_named_from_a_private_data_root_with_the_docker_fix() {
    require_root("dockerd needs root");
    let tmp = temp_dir("zombies-docker");
    let dir = tmp.0.join("d");
    std::fs::create_dir(&dir).unwrap();
    // The test's private dockerd (its own data root); stopped and its directory removed on drop.
    let d = Dockerd::start_without_init_path(&dir);
    let ok = |args: &[&str]| must(d.cli().args(args)).stdout.trim().to_string();
    // A busybox root filesystem, imported (no registry, no build step).
    let rootfs = dir.join("rootfs/bin");
    std::fs::create_dir_all(&rootfs).unwrap();
    std::fs::copy(require_tool("busybox"), rootfs.join("busybox")).unwrap();
    for a in ["sh", "sleep"] {
        std::os::unix::fs::symlink("busybox", rootfs.join(a)).unwrap();
    }
    let tar = dir.join("rootfs.tar");
    let st = Command::new("tar")
        .arg("-C")
        .arg(dir.join("rootfs"))
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    let image = "zombies-diag-busybox:test";
    ok(&["import", tar.to_str().unwrap(), image]);
    let name = unique("leaky");
    let id = d.run_detached(&name, &[image, "/bin/sleep", "3600"]);
    let pid1 = d.container_pid(&name);
    for _ in 0..3 {
        ok(&[
            "exec",
            &name,
            "/bin/sh",
            "-c",
            "sleep 0.05 </dev/null >/dev/null 2>&1 & exit 0",
        ]);
    }
    let g = poll(
        "3 zombies under the container's PID 1",
        Duration::from_secs(30),
        || {
            let out = Command::new(zombies_bin()).arg("--json").output().unwrap();
            let v: serde_json::Value = serde_json::from_slice(&out.stdout)
                .map_err(|e| format!("bad JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))?;
            let g = v["groups"]
                .as_array()
                .and_then(|gs| gs.iter().find(|g| g["parent"]["pid"] == pid1));
            match g {
                Some(g) if g["zombie_count"] == 3 => Ok(g.clone()),
                g => Err(format!("group of {pid1}: {g:?}")),
            }
        },
    );
    assert_eq!(
        g["parent"]["label"],
        format!("container docker {name} ({})", &id[..12])
    );
    assert_eq!(g["cause"], "exec_orphans");
    let fix = g["fix"].as_str().unwrap();
    assert!(
        fix.contains("docker run --init") && fix.contains("--add-runtime reaper="),
        "{fix}"
    );
    assert!(!fix.contains("podman"), "{fix}");
}
