//! Incident 2 (docs/incidents.md): a container whose PID 1 never waits (busybox `sleep`)
//! and a health-check loop of `podman exec` probes that each background a helper and exit, like an exec
//! probe whose child outlives it. Each helper is orphaned onto the container's PID 1 (checked: its
//! parent is PID 1 of the namespace), then ends. Without a reaping PID 1 one zombie accumulates per
//! probe; with reaper as PID 1, or with a shared PID namespace whose PID 1 is reaper's pause, none does.

use e2e::*;
use std::collections::HashSet;
use std::process::Command;

const PROBES: usize = 5;
/// The probe: backgrounds a helper (output detached, so `podman exec` returns as soon as the probe's
/// shell exits) and exits, leaving the helper orphaned. The helper would outlive the probe by minutes;
/// the test ends it (SIGTERM from the host) once it has seen it reparented, so no step depends on how
/// fast `podman exec` returns on a busy machine.
const PROBE: &str = "sleep 600 </dev/null >/dev/null 2>&1 & exit 0";

/// Runs the probes in container `ctr` (whose processes include host pid `any_pid`). After each one:
/// waits until its helper (a new `sleep`) shows up with PID 1 of the namespace as its parent, ends it,
/// then calls `after(k, helper's host pid)`. Returns the helpers' host pids.
fn run_probes(ctr: &str, any_pid: i32, mut after: impl FnMut(usize, i32)) -> Vec<i32> {
    // Processes that were there before the probes (PID 1, the workload) are not orphans of a probe.
    let before: HashSet<i32> = procs_in_pidns_of(any_pid)
        .iter()
        .map(|p| p.host_pid)
        .collect();
    let mut orphans: Vec<i32> = Vec::new();
    for k in 1..=PROBES {
        must(podman().args(["exec", ctr, "sh", "-c", PROBE]));
        let mut known = before.clone();
        known.extend(&orphans);
        let orphan = poll(
            &format!("probe {k}'s helper to be reparented to PID 1 in {ctr}"),
            POLL_TIMEOUT,
            || {
                let procs = procs_in_pidns_of(any_pid);
                procs
                    .iter()
                    .find(|p| {
                        p.comm == "sleep"
                            && p.state != 'Z'
                            && p.ns_ppid == 1
                            && !known.contains(&p.host_pid)
                    })
                    .map(|p| p.host_pid)
                    .ok_or_else(|| table(&procs))
            },
        );
        must(Command::new("kill").args(["-TERM", &orphan.to_string()]));
        orphans.push(orphan);
        after(k, orphan);
    }
    orphans
}

/// The `after` step of the reaping cases: the helper is reaped (its host pid gone) and no zombie is
/// left in the namespace.
fn assert_reaped(ctr: &str, any_pid: i32, k: usize, orphan: i32) {
    wait_procs(
        any_pid,
        &format!("probe {k}'s helper (host pid {orphan}) to be reaped in {ctr}, no zombie left"),
        |procs| !procs.iter().any(|p| p.host_pid == orphan) && zombies(procs).is_empty(),
    );
}

fn run_sleeper(name: &str, image: &str, extra: &[&str]) {
    let mut cmd = podman();
    cmd.args(["run", "-d", "--name", name, "--network", "none"])
        .args(extra)
        .args([image, "/bin/sleep", "2147483647"]);
    must(&mut cmd);
}

#[test]
fn pid_1_that_never_waits_gets_one_zombie_per_probe() {
    let images = Images::build();
    let name = unique("e2e-probe-nowait");
    let _ctr = remove_container_on_drop(&name);
    run_sleeper(&name, &images.zombie_init, &[]);
    let pid1 = container_pid(&name);
    // After each probe its helper, once ended, is one more zombie of PID 1 (`sleep`, which never
    // waits): the zombies accumulate, one per probe.
    let orphans = run_probes(&name, pid1, |k, orphan| {
        // It is one more zombie of PID 1: exactly k of them after k probes.
        wait_procs(
            pid1,
            &format!("probe {k}'s helper to be a zombie of PID 1 in {name}, {k} zombies in all"),
            |procs| {
                let zombie = procs
                    .iter()
                    .any(|p| p.host_pid == orphan && p.state == 'Z' && p.ns_ppid == 1);
                zombie && zombies(procs).len() == k
            },
        );
    });
    let procs = procs_in_pidns_of(pid1);
    let z = zombies(&procs);
    assert_eq!(
        z.len(),
        PROBES,
        "one zombie per probe expected\n{}",
        table(&procs)
    );
    assert!(
        z.iter()
            .all(|p| orphans.contains(&p.host_pid) && p.comm == "sleep" && p.ns_ppid == 1),
        "{}",
        table(&procs)
    );
    let pid1_proc = procs.iter().find(|p| p.ns_pid == 1).unwrap();
    assert_eq!(pid1_proc.host_pid, pid1);
    assert_eq!(pid1_proc.comm, "sleep", "{}", table(&procs));
}

#[test]
fn reaper_as_pid_1_reaps_every_probe_orphan() {
    let mut images = Images::build();
    let image = images.build_derived(
        "e2e-reaper-entry",
        &reaper_entrypoint_containerfile(&images),
    );
    let name = unique("e2e-probe-reaper");
    let _ctr = remove_container_on_drop(&name);
    run_sleeper(&name, &image, &["-e", "REAPER_WARN_REAPED=1"]);
    let pid1 = container_pid(&name);
    assert!(is_reaper(pid1), "PID 1 of {name} should be reaper");
    run_probes(&name, pid1, |k, orphan| {
        assert_reaped(&name, pid1, k, orphan)
    });
    // reaper logged each one (-w): the orphans were reaped by reaper, PID 1. The last line may reach
    // the container's log a little after the reap: wait for it, then count exactly.
    let count = |logs: &str| {
        logs.lines()
            .filter(|l| l.starts_with("reaper: reaped orphan pid=") && l.contains(" name=sleep "))
            .count()
    };
    let logs = poll(
        &format!("{PROBES} reaped-orphan lines in the logs of {name}"),
        POLL_TIMEOUT,
        || {
            let logs = podman_logs(&name);
            if count(&logs) >= PROBES {
                Ok(logs)
            } else {
                Err(logs)
            }
        },
    );
    assert_eq!(
        count(&logs),
        PROBES,
        "reaper should log one reaped orphan per probe\n{logs}"
    );
}

#[test]
fn shared_pid_namespace_with_reaper_pause_reaps_every_probe_orphan() {
    let images = Images::build();
    let pod = unique("e2e-probe-pod");
    let conf = containers_conf();
    let _pod = remove_pod_on_drop(&pod, &conf);
    must(podman().args([
        "pod",
        "create",
        "--name",
        &pod,
        "--share",
        "pid,ipc,uts",
        "--network",
        "none",
        "--infra-image",
        &images.pause,
    ]));
    let name = format!("{pod}-app");
    run_sleeper(&name, &images.zombie_init, &["--pod", &pod]);
    let app = container_pid(&name);
    let infra_id = must(podman().args(["pod", "inspect", "-f", "{{.InfraContainerID}}", &pod]))
        .stdout
        .trim()
        .to_string();
    let infra = container_pid(&infra_id);
    let procs = procs_in_pidns_of(app);
    assert!(
        procs.iter().any(|p| p.host_pid == infra && p.ns_pid == 1) && is_reaper(infra),
        "the pod's PID 1 should be reaper's pause (host pid {infra})\n{}",
        table(&procs)
    );
    run_probes(&name, app, |k, orphan| assert_reaped(&name, app, k, orphan));
}
