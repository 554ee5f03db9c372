//! The agent's FROM scratch image (images/zombies/Containerfile, built offline with podman) runs as
//! the PID 1 of a podman pod with a shared PID namespace (uid 65534, as the image says); a busybox
//! workload in the pod leaves zombies; the host scrapes the agent and sees exactly the pod's
//! processes and zombies, and says it is blind to the rest of the node (`/readyz` 503).
//!
//! And the DaemonSet as rendered by the default kustomize overlay: its container (image, args,
//! `ZOMBIES_*` variables, read-only hostPath mounts, user, read-only root, no capabilities) run by
//! podman in the host PID namespace is ready, sees the node and a leak on it.
//!
//! Needs the static binary: `$ZOMBIES_STATIC_BIN` (scripts/test.sh sets it from
//! scripts/build-zombies.sh), else the musl release build in the target directory.
mod serve_support;

use serve_support::*;
use std::path::{Path, PathBuf};
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

/// The shipped agent image, built by the shipped script from `bin` as `localhost/zombies:TAG`;
/// returns what the script printed.
fn build_agent_image(bin: &Path, tag: &str) -> String {
    ok(Command::new(repo().join("scripts/build-zombies-image.sh"))
        .env(
            "CONTAINERS_CONF",
            repo().join("deploy/podman/containers.conf"),
        )
        .arg("--bin")
        .arg(bin)
        .args(["--tag", tag]))
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
    let out = build_agent_image(&bin, &tag);
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
    poll(
        "the agent in the pod answers /healthz",
        Duration::from_secs(20),
        || {
            std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200))
                .map_err(|e| format!("connect: {e}"))?;
            match http_get(addr, "/healthz", None) {
                r if r.status == 200 => Ok(()),
                r => Err(format!("status {}: {}", r.status, r.body)),
            }
        },
    );
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
    let body = poll(
        "3 zombies seen by the agent in the pod",
        Duration::from_secs(20),
        || {
            let b = http_get(addr, "/metrics", None).body;
            match sample(&b, &format!("zombies_zombie_processes{work}")) {
                Some(3.0) => Ok(b),
                _ => Err(b),
            }
        },
    );
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
    // Its pod is all it sees: not ready, and it says why.
    let r = http_get(addr, "/readyz", None);
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(r.body.contains("blind host_pid_namespace"), "{}", r.body);
    assert_eq!(sample(&body, "zombies_up"), Some(0.0));
}

/// Removes a container, an image, and the host directories the test created, even when it fails.
struct RmContainer(String, String, Vec<std::path::PathBuf>);

impl Drop for RmContainer {
    fn drop(&mut self) {
        let _ = podman().args(["rm", "-f", "-t", "0", &self.0]).output();
        let _ = podman().args(["rmi", "-f", &self.1]).output();
        for d in &self.2 {
            let _ = std::fs::remove_dir(d);
        }
    }
}

#[test]
fn the_rendered_daemonset_container_sees_the_node() {
    let bin = static_bin();
    let tag = unique("ds");
    let image = format!("localhost/zombies:{tag}");
    let name = unique("zombies-ds");
    let mut rm = RmContainer(name.clone(), image.clone(), Vec::new());
    build_agent_image(&bin, &tag);
    let rendered = ok(Command::new(require_tool("kubectl"))
        .arg("kustomize")
        .arg(repo().join("deploy/kubernetes/overlays/default")));
    // The DaemonSet's pod spec, as JSON (python3's yaml: a dependency of the deploy tests too).
    let json = ok(Command::new(require_tool("python3"))
        .args([
            "-c",
            "import sys, json, yaml\n\
             d = [d for d in yaml.safe_load_all(sys.stdin) if d and d['kind'] == 'DaemonSet'][0]\n\
             print(json.dumps(d['spec']['template']['spec']))",
        ])
        .stdin({
            let f = std::env::temp_dir().join(format!("{name}.yaml"));
            std::fs::write(&f, &rendered).unwrap();
            let h = std::fs::File::open(&f).unwrap();
            std::fs::remove_file(&f).unwrap();
            h
        }));
    let spec: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(spec["hostPID"], true);
    let c = &spec["containers"][0];
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut run = podman();
    run.args([
        "run",
        "-d",
        "--name",
        &name,
        "--pid",
        "host",
        "--network",
        "host",
    ]);
    // The pod's security settings.
    let sc = &spec["securityContext"];
    run.arg("--user").arg(format!(
        "{}:{}",
        sc["runAsUser"].as_u64().unwrap(),
        sc["runAsGroup"].as_u64().unwrap()
    ));
    let csc = &c["securityContext"];
    assert_eq!(csc["readOnlyRootFilesystem"], true);
    assert_eq!(csc["allowPrivilegeEscalation"], false);
    assert_eq!(csc["capabilities"]["drop"][0], "ALL");
    run.args([
        "--read-only",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
    ]);
    // Its variables (the port moved to a free one on this machine) and read-only mounts.
    for e in c["env"].as_array().unwrap() {
        let (k, mut v) = (
            e["name"].as_str().unwrap(),
            e["value"].as_str().unwrap().to_string(),
        );
        if k == "ZOMBIES_LISTEN" {
            assert_eq!(v, "0.0.0.0:9942");
            v = format!("127.0.0.1:{port}");
        }
        run.arg("-e").arg(format!("{k}={v}"));
    }
    let volumes = spec["volumes"].as_array().unwrap();
    for m in c["volumeMounts"].as_array().unwrap() {
        let v = volumes.iter().find(|v| v["name"] == m["name"]).unwrap();
        let host = v["hostPath"]["path"].as_str().unwrap();
        if !std::path::Path::new(host).exists() {
            // hostPath type DirectoryOrCreate, as kubelet would.
            std::fs::create_dir_all(host).unwrap();
            rm.2.push(host.into());
        }
        assert_eq!(m["readOnly"], true);
        run.arg("-v")
            .arg(format!("{host}:{}:ro", m["mountPath"].as_str().unwrap()));
    }
    run.arg(&image);
    for a in c["args"].as_array().unwrap() {
        run.arg(a.as_str().unwrap());
    }
    ok(&mut run);
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let ready = c["readinessProbe"]["httpGet"]["path"].as_str().unwrap();
    let r = poll(
        "the DaemonSet's agent answers its readiness probe",
        Duration::from_secs(20),
        || {
            std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200))
                .map_err(|e| format!("connect: {e}"))?;
            Ok(http_get(addr, ready, None))
        },
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let live = c["livenessProbe"]["httpGet"]["path"].as_str().unwrap();
    assert_eq!(http_get(addr, live, None).status, 200);
    // It sees a leak on the node (outside any pod), as uid 65534, without read errors.
    let leaker = Leaker::new("zt-ds-leak", None);
    leaker.make(4, 4);
    let body = poll("the node's zombies", Duration::from_secs(20), || {
        let b = http_get(addr, "/metrics", None).body;
        let host = "zombies_zombie_processes{namespace=\"\",pod=\"\",container=\"\"}";
        if sample(&b, host).unwrap_or(0.0) >= 4.0 {
            Ok(b)
        } else {
            Err(b)
        }
    });
    assert_eq!(sample(&body, "zombies_up"), Some(1.0), "{body}");
    assert_eq!(
        sample(&body, "zombies_read_errors{kind=\"permission_denied\"}"),
        Some(0.0)
    );
    let out = podman().args(["logs", &name]).output().unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        all.contains("level=info msg=\"sees the node: ready\""),
        "{all}"
    );
    assert!(!all.contains("level=error"), "{all}");
}
