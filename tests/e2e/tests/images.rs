//! The images of scripts/build-images.sh: the reaper image alone, and the pause image as
//! a plain container (uid 65535 like pause >= 3.5, the pause persona's SIGTERM contract).

use e2e::*;
use std::process::Command;

#[test]
fn reaper_image_alone_prints_the_version() {
    let images = Images::build();
    let want = must(Command::new(reaper_bin()).arg("--version")).stdout;
    let out = must(podman().args(["run", "--rm", "--network", "none", &images.reaper]));
    assert_eq!(out.stdout, want, "{}", out.describe());
    let entrypoint = must(podman().args([
        "image",
        "inspect",
        "-f",
        "{{json .Config.Entrypoint}}",
        &images.reaper,
    ]));
    assert_eq!(entrypoint.stdout.trim(), r#"["/reaper","--"]"#);
}

#[test]
fn pause_image_runs_as_65535_and_stops_at_once_on_sigterm() {
    let images = Images::build();
    let out = must(podman().args(["run", "--rm", "--network", "none", &images.pause, "-v"]));
    // pause.c's version line, with reaper's version where the original has its build's.
    let want = format!("pause.c v3.10 (reaper {})\n", env!("CARGO_PKG_VERSION"));
    assert_eq!(
        (out.stdout.as_str(), out.stderr.as_str()),
        (want.as_str(), ""),
        "`/pause -v` should print exactly its version line on stdout\n{}",
        out.describe()
    );

    let name = unique("e2e-pause");
    let _ctr = remove_container_on_drop(&name);
    podman_run_detached(&name, &[&images.pause]);
    let pid = container_pid(&name);
    assert!(is_reaper(pid), "the pause image's PID 1 should be reaper");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    for field in ["Uid:", "Gid:"] {
        let line = status.lines().find(|l| l.starts_with(field)).unwrap();
        assert_eq!(
            line.split_whitespace().skip(1).collect::<Vec<_>>(),
            ["65535"; 4],
            "the pause image should run as 65535:65535: {line}"
        );
    }
    // podman stop sends SIGTERM and waits up to 10 s before SIGKILL: the pause persona exits 0
    // (exit code 0, not 137 = SIGKILL).
    must(podman().args(["stop", "-t", "10", &name]));
    assert_eq!(inspect(&name, "{{.State.ExitCode}}"), "0");
    let logs = podman_logs(&name);
    assert!(
        logs.contains("Shutting down, got signal:"),
        "the pause persona should log its shutdown line\n{logs}"
    );
}
