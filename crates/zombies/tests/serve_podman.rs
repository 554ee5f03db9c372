//! The agent's FROM scratch image (images/zombies/Containerfile, built offline with podman) runs as
//! the PID 1 of a podman pod with a shared PID namespace (uid 65534, as the image says); a busybox
//! workload in the pod leaves zombies; the host scrapes the agent and sees exactly the pod's
//! processes and zombies.
//!
//! Needs the static binary: `$ZOMBIES_STATIC_BIN` (scripts/test.sh sets it from
//! scripts/build-zombies.sh), else the musl release build in the target directory.
mod serve_support;

use serve_support::*;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

fn static_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("ZOMBIES_STATIC_BIN") {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "ZOMBIES_STATIC_BIN={} does not exist",
            p.display()
        );
        return p;
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target"));
    let p = target.join("x86_64-unknown-linux-musl/release/zombies");
    assert!(
        p.is_file(),
        "static zombies binary not found: ZOMBIES_STATIC_BIN is unset and {} does not exist. \
         Run scripts/build-zombies.sh (scripts/test.sh does, and sets ZOMBIES_STATIC_BIN).",
        p.display()
    );
    p
}

fn podman() -> Command {
    let mut c = Command::new(require_tool("podman"));
    c.env(
        "CONTAINERS_CONF",
        repo().join("deploy/podman/containers.conf"),
    );
    c
}

fn ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Removes the pod and images even when the test fails.
struct Cleanup {
    pod: String,
    images: Vec<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = podman()
            .args(["pod", "rm", "-f", "-t", "0", &self.pod])
            .output();
        for i in &self.images {
            let _ = podman().args(["rmi", "-f", i]).output();
        }
    }
}

#[test]
fn agent_image_in_a_pod_with_a_shared_pid_namespace() {
    let bin = static_bin();
    let tag = unique("t");
    let pod = unique("zombies-serve-pod");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let agent_image = format!("localhost/zombies:{tag}");
    let infra_image = format!("localhost/zombies-infra:{tag}");
    let work_image = format!("localhost/zombies-workload:{tag}");
    let _cleanup = Cleanup {
        pod: pod.clone(),
        images: vec![infra_image.clone(), work_image.clone(), agent_image.clone()],
    };

    // The shipped image, by the shipped script.
    let out = ok(Command::new(repo().join("scripts/build-zombies-image.sh"))
        .env(
            "CONTAINERS_CONF",
            repo().join("deploy/podman/containers.conf"),
        )
        .arg("--bin")
        .arg(&bin)
        .args(["--tag", &tag]));
    assert!(
        out.contains(&format!("ZOMBIES_IMAGE={agent_image}")),
        "{out}"
    );
    let user = ok(podman().args([
        "image",
        "inspect",
        "--format",
        "{{.Config.User}}",
        &agent_image,
    ]));
    assert_eq!(user.trim(), "65534:65534");

    // The same image with a test port; it is the pod's infra (PID 1), on the host network.
    let ctx = temp_dir("zombies-podman-ctx");
    std::fs::create_dir_all(ctx.0.join("infra")).unwrap();
    std::fs::write(
        ctx.0.join("infra/Containerfile"),
        format!("FROM {agent_image}\nCMD [\"serve\", \"--listen\", \"127.0.0.1:{port}\"]\n"),
    )
    .unwrap();
    ok(podman()
        .args(["build", "-q", "--network", "none", "-t", &infra_image])
        .arg(ctx.0.join("infra")));
    // A busybox workload: `sh -c 'sleep 0 & ... exec sleep'` leaves the exited sleeps as zombies
    // of the exec'd sleep, which never waits.
    let w = ctx.0.join("work");
    std::fs::create_dir_all(w.join("bin")).unwrap();
    std::fs::copy(require_tool("busybox"), w.join("bin/busybox")).unwrap();
    for applet in ["sh", "sleep"] {
        std::os::unix::fs::symlink("busybox", w.join("bin").join(applet)).unwrap();
    }
    std::fs::write(w.join("Containerfile"), "FROM scratch\nCOPY bin /bin\n").unwrap();
    ok(podman()
        .args(["build", "-q", "--network", "none", "-t", &work_image])
        .arg(&w));

    ok(podman().args([
        "pod",
        "create",
        "--name",
        &pod,
        "--infra-image",
        &infra_image,
        "--network",
        "host",
        "--share",
        "pid,ipc,uts",
    ]));
    ok(podman().args(["pod", "start", &pod]));
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    poll(20.0, "the agent in the pod answers /healthz", || {
        std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok()?;
        (http_get(addr, "/healthz", None).status == 200).then_some(())
    });
    let host = "{namespace=\"\",pod=\"\",container=\"\"}";
    let body = http_get(addr, "/metrics", None).body;
    assert_eq!(
        sample(&body, &format!("zombies_zombie_processes{host}")),
        Some(0.0),
        "{body}"
    );

    let work_id = ok(podman().args([
        "run",
        "-d",
        "--pod",
        &pod,
        "--name",
        &format!("{pod}-work"),
        &work_image,
        "/bin/sh",
        "-c",
        "sleep 0 & sleep 0 & sleep 0 & exec sleep 1000",
    ]))
    .trim()
    .to_string();
    // A podman container outside Kubernetes: its series carries the container label. Inside the
    // pod the agent cannot read podman's state, so the name is the id's first 12 characters.
    let work = format!(
        "{{namespace=\"\",pod=\"\",container=\"{}\"}}",
        &work_id[..12]
    );
    let body = poll(20.0, "3 zombies seen by the agent in the pod", || {
        let b = http_get(addr, "/metrics", None).body;
        (sample(&b, &format!("zombies_zombie_processes{work}")) == Some(3.0)).then_some(b)
    });
    assert_eq!(
        sample(&body, &format!("zombies_zombie_processes{host}")),
        Some(0.0),
        "{body}"
    );
    // It sees its pod only: itself (PID 1), the workload's sleep and its 3 zombies.
    assert_eq!(
        sample(&body, "zombies_scanned_processes"),
        Some(5.0),
        "{body}"
    );
    assert_eq!(
        sample(&body, &format!("zombies_observed_total{work}")),
        Some(3.0)
    );
    // Unprivileged (uid 65534) reads of its pod's /proc need no permission it lacks.
    assert_eq!(
        sample(&body, "zombies_read_errors{kind=\"permission_denied\"}"),
        Some(0.0)
    );
    let om = http_get(addr, "/metrics", Some("application/openmetrics-text"));
    assert!(om.body.ends_with("# EOF\n"));
}
