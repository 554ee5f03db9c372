//! reaper as a container's PID 1, two ways. The incident-1 workload (whose PID 1 leaves
//! a zombie when it is PID 1 itself, see incident1.rs) runs under reaper and no zombie is left.

use e2e::*;

/// Runs the zombie-init workload under reaper and checks that reaper is PID 1, that the workload is its
/// child, and that the orphan was reaped by reaper (its `-w` line, asked for with REAPER_WARN_REAPED=1).
fn check_reaped(name: &str) {
    let pid1 = container_pid(name);
    let Report {
        zombie_pid: z,
        table: printed,
        logs,
    } = wait_zombie_init_report(name);
    let procs = procs_in_pidns_of(pid1);
    assert!(
        is_reaper(pid1) && procs.iter().any(|p| p.host_pid == pid1 && p.ns_pid == 1),
        "PID 1 of {name} should be reaper\n{}",
        table(&procs)
    );
    assert!(
        procs
            .iter()
            .any(|p| p.comm == "zombie-init" && p.ns_ppid == 1),
        "the workload should be reaper's child\n{}",
        table(&procs)
    );
    assert!(
        !printed.iter().any(|r| r.stat.starts_with('Z')),
        "no zombie expected in the printed process table\n{logs}"
    );
    wait_procs(pid1, &format!("no zombie left in {name}"), |procs| {
        zombies(procs).is_empty()
    });
    let line = reaped_line(z, "sleep");
    poll(
        &format!("reaper's line {line:?} in the logs of {name}"),
        POLL_TIMEOUT,
        || {
            let logs = podman_logs(name);
            if logs.contains(&line) {
                Ok(())
            } else {
                Err(logs)
            }
        },
    );
}

#[test]
fn reaper_as_the_image_entrypoint_leaves_no_zombie() {
    let mut images = Images::build();
    let image = images.build_derived(
        "e2e-reaper-entry",
        &reaper_entrypoint_containerfile(&images),
    );
    let name = unique("e2e-entry");
    let _ctr = remove_container_on_drop(&name);
    podman_run_detached(&name, &["-e", "REAPER_WARN_REAPED=1", &image]);
    check_reaped(&name);
}

#[test]
fn podman_run_init_with_reaper_as_init_path_leaves_no_zombie() {
    let images = Images::build();
    let name = unique("e2e-initpath");
    let _ctr = remove_container_on_drop(&name);
    let bin = reaper_bin();
    podman_run_detached(
        &name,
        &[
            "--init",
            "--init-path",
            bin.to_str().unwrap(),
            "-e",
            "REAPER_WARN_REAPED=1",
            &images.zombie_init,
        ],
    );
    check_reaped(&name);
}
