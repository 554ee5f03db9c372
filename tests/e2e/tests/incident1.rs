//! Incident 1 (docs/incidents.md) with `podman play kube`: the incident's Pod YAML
//! (e2e/incident1/) whose PID 1 leaves a zombie. Without `shareProcessNamespace` the zombie stays; with
//! it, and reaper's pause image as the pod's infra image, the pod's PID 1 is reaper and reaps it.

use e2e::*;
use std::fs;
use std::path::Path;

/// The incident's Pod YAML with a unique pod name and this run's image tag.
fn pod_yaml(file: &str, pod: &str, image: &str) -> String {
    let path = workspace_root().join("e2e/incident1").join(file);
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    for needle in [
        "\n  name: zombie-init\n",
        "image: localhost/zombie-init:latest\n",
    ] {
        assert_eq!(
            text.matches(needle).count(),
            1,
            "{} should contain {needle:?} exactly once",
            path.display()
        );
    }
    text.replace("\n  name: zombie-init\n", &format!("\n  name: {pod}\n"))
        .replace(
            "image: localhost/zombie-init:latest\n",
            &format!("image: {image}\n"),
        )
}

/// `podman play kube --network none` of `yaml`, run from an empty directory (podman 4.3 would try to
/// build an image from a directory named like the image), with `--build=false`.
fn play_kube(dir: &Path, yaml: &str, conf: &Path) {
    fs::write(dir.join("pod.yaml"), yaml).unwrap();
    must(podman_with_conf(conf).current_dir(dir).args([
        "play",
        "kube",
        "--build=false",
        "--network",
        "none",
        "pod.yaml",
    ]));
}

#[test]
fn without_shared_pid_namespace_the_zombie_stays() {
    let images = Images::build();
    let dir = TempDir::new("e2e-kube");
    let pod = unique("zombie-init");
    let conf = containers_conf();
    let _pod = remove_pod_on_drop(&pod, &conf);
    play_kube(
        dir.path(),
        &pod_yaml("pod.yaml", &pod, &images.zombie_init),
        &conf,
    );
    let ctr = format!("{pod}-zombie-init");
    let pid1 = container_pid(&ctr);
    let Report {
        zombie_pid: z,
        table: printed,
        logs,
    } = wait_zombie_init_report(&ctr);

    // The workload is its container's PID 1 (not shared with the infra process).
    let procs = procs_in_pidns_of(pid1);
    let me = procs.iter().find(|p| p.host_pid == pid1);
    assert!(
        me.is_some_and(|p| p.ns_pid == 1 && p.comm == "zombie-init"),
        "the zombie-init workload should be PID 1 of its container\n{}",
        table(&procs)
    );
    // The orphan it made is a zombie whose parent is PID 1, and it stays one; it is the only zombie
    // once the workload's own short-lived helpers (the report script and its `ps`) have been waited for.
    wait_procs(
        pid1,
        &format!("pid {z} to be the one zombie (of PID 1) in {ctr}"),
        |procs| is_zombie_of_pid1(procs, z) && zombies(procs).len() == 1,
    );
    // The process table the workload printed shows it as the incident's did.
    assert!(
        printed
            .iter()
            .any(|r| r.pid == z && r.ppid == 1 && r.stat.starts_with('Z')),
        "the printed process table should show pid {z} as a zombie of PID 1\n{logs}"
    );
}

#[test]
fn with_shared_pid_namespace_reaper_pause_is_pid_1_and_reaps() {
    let images = Images::build();
    let dir = TempDir::new("e2e-kube");
    let pod = unique("zombie-init");
    // podman 4.3's play kube takes the infra image from containers.conf only: an overlay of the
    // project's file with `infra_image` (under its last section, [engine]).
    let base = fs::read_to_string(containers_conf()).expect("read containers.conf");
    let last_section = base.lines().rfind(|l| l.trim_start().starts_with('['));
    assert_eq!(
        last_section.map(str::trim),
        Some("[engine]"),
        "{} must end with its [engine] section for the infra_image overlay",
        containers_conf().display()
    );
    let conf = dir.path().join("containers.conf");
    fs::write(
        &conf,
        format!("{base}\ninfra_image = \"{}\"\n", images.pause),
    )
    .unwrap();
    let _pod = remove_pod_on_drop(&pod, &conf);
    play_kube(
        dir.path(),
        &pod_yaml("pod-shared-pid.yaml", &pod, &images.zombie_init),
        &conf,
    );
    let ctr = format!("{pod}-zombie-init");
    let workload = container_pid(&ctr);
    let infra_id =
        must(podman_with_conf(&conf).args(["pod", "inspect", "-f", "{{.InfraContainerID}}", &pod]))
            .stdout
            .trim()
            .to_string();
    assert!(!infra_id.is_empty(), "pod {pod} has no infra container");
    assert_eq!(
        inspect(&infra_id, "{{.ImageName}}"),
        images.pause,
        "the infra container should run reaper's pause image"
    );
    let infra = container_pid(&infra_id);

    // One PID namespace for the pod; its PID 1 is the infra process, and that process is reaper.
    let procs = procs_in_pidns_of(workload);
    let pid1 = procs.iter().find(|p| p.ns_pid == 1);
    assert_eq!(
        pid1.map(|p| p.host_pid),
        Some(infra),
        "the pod's PID 1 should be its infra process\n{}",
        table(&procs)
    );
    assert!(
        is_reaper(infra),
        "the pod's PID 1 (host pid {infra}) should be the reaper binary {}\n{}",
        reaper_bin().display(),
        table(&procs)
    );
    assert!(
        procs
            .iter()
            .any(|p| p.host_pid == workload && p.ns_pid != 1),
        "the workload should not be PID 1 in a shared PID namespace\n{}",
        table(&procs)
    );

    // The orphan was handed to reaper and reaped: the workload's report (printed once the orphan had
    // exited) shows no zombie, and none is left.
    let Report {
        zombie_pid: z,
        table: printed,
        logs,
    } = wait_zombie_init_report(&ctr);
    assert!(
        !printed.iter().any(|r| r.stat.starts_with('Z')),
        "no zombie expected in the printed process table (pid {z} should have been reaped)\n{logs}"
    );
    assert!(
        printed
            .iter()
            .any(|r| r.pid == 1 && r.args.contains("/pause")),
        "the printed process table should show /pause as PID 1\n{logs}"
    );
    wait_procs(
        workload,
        &format!("pid {z} to be gone (reaped by the pause process) and no zombie left"),
        |procs| {
            zombies(procs).is_empty() && !procs.iter().any(|p| p.ns_pid == z && p.comm == "sleep")
        },
    );
}
