//! Incident 2 on Docker: a private dockerd (its own `--data-root`), a container whose PID 1 never
//! waits and `docker exec` probes leaving orphans. `zombies` names the container as `docker ps`
//! does (from the daemon's state under its data root, found from dockerd's command line) and gives
//! the Docker fix (`docker run --init`, the runtime wrapper via `--add-runtime`).
mod serve_support;

use serve_support::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Dockerd {
    dir: PathBuf,
    child: Child,
}

impl Dockerd {
    fn start(dir: &Path) -> Dockerd {
        let log = std::fs::File::create(dir.join("dockerd.log")).unwrap();
        let child = Command::new(require_tool("dockerd"))
            .arg("--data-root")
            .arg(dir.join("data"))
            .arg("--exec-root")
            .arg(dir.join("exec"))
            .arg("--pidfile")
            .arg(dir.join("dockerd.pid"))
            .arg("-H")
            .arg(format!("unix://{}", dir.join("sock").display()))
            .args([
                "--iptables=false",
                "--ip6tables=false",
                "--bridge=none",
                "--storage-driver=overlay2",
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start dockerd (Debian package docker.io)");
        let mut d = Dockerd {
            dir: dir.to_path_buf(),
            child,
        };
        poll(
            "the private dockerd to answer",
            Duration::from_secs(60),
            || {
                if let Ok(Some(st)) = d.child.try_wait() {
                    panic!(
                        "dockerd exited ({st}): {}",
                        std::fs::read_to_string(d.dir.join("dockerd.log")).unwrap_or_default()
                    );
                }
                let out = d.cli(&["version"]);
                if out.status.success() {
                    Ok(())
                } else {
                    Err(String::from_utf8_lossy(&out.stderr).into_owned())
                }
            },
        );
        d
    }

    fn cli(&self, args: &[&str]) -> std::process::Output {
        Command::new(require_tool("docker"))
            .arg("-H")
            .arg(format!("unix://{}", self.dir.join("sock").display()))
            .env("DOCKER_CONFIG", self.dir.join("cli"))
            .args(args)
            .output()
            .expect("docker")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "docker {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        let ids = String::from_utf8_lossy(&self.cli(&["ps", "-aq"]).stdout).into_owned();
        for id in ids.split_whitespace() {
            let _ = self.cli(&["rm", "-f", id]);
        }
        let _ = signal(self.child.id() as i32, libc::SIGTERM);
        if !poll_until(Duration::from_secs(30), || {
            matches!(self.child.try_wait(), Ok(Some(_)) | Err(_))
        }) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let prefix = format!("{}/", self.dir.display());
        let mut mounts: Vec<String> = std::fs::read_to_string("/proc/self/mounts")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1).map(str::to_string))
            .filter(|m| m.starts_with(&prefix))
            .collect();
        mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in mounts {
            let _ = Command::new("umount").args(["-l", &m]).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn docker_container_named_from_a_private_data_root_with_the_docker_fix() {
    require_root("dockerd needs root");
    let dir = std::env::temp_dir().join(unique("zombies-docker"));
    std::fs::create_dir_all(&dir).unwrap();
    let d = Dockerd::start(&dir);
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
    d.ok(&["import", tar.to_str().unwrap(), image]);
    let name = unique("leaky");
    let id = d.ok(&[
        "run",
        "-d",
        "--name",
        &name,
        "--network",
        "none",
        image,
        "/bin/sleep",
        "3600",
    ]);
    let pid1: i64 = d
        .ok(&["inspect", "-f", "{{.State.Pid}}", &name])
        .parse()
        .unwrap();
    for _ in 0..3 {
        d.ok(&[
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
