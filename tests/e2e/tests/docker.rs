//! Docker: a private dockerd started by the test with `--init-path` pointing at reaper
//! (installed under the name Docker gives its init, `docker-init`): `docker info` reports the init's
//! version the way Docker parses it, and `docker run --init` reaps the incident-1 workload's orphan,
//! which stays a zombie without `--init`. `docker stop` of the `--init` container takes effect at once.

use e2e::*;
use std::fs;
use std::process::Command;

#[test]
fn dockerd_with_reaper_as_init_path() {
    let tmp = TempDir::new("e2e-dockerd");
    // dockerd's own directory lives inside `tmp`; Dockerd's drop stops the daemon and removes it.
    let dir = tmp.path().join("d");
    fs::create_dir(&dir).unwrap();
    let init = tmp.path().join("docker-init");
    fs::copy(reaper_bin(), &init).unwrap();

    // What Docker will parse: reaper invoked as docker-init prints tini's version line with a commit.
    let version = must(Command::new(&init).arg("--version"));
    let commit = docker_init_commit(&version.stdout).unwrap_or_else(|| {
        panic!(
            "`docker-init --version` should print `tini version X - git.COMMIT`\n{}",
            version.describe()
        )
    });

    let d = Dockerd::start(&dir, &init);

    // docker info: the init binary's commit as Docker parsed it ("N/A" when it could not).
    let info = must(d.cli().args(["info", "--format", "{{json .InitCommit}}"]));
    let id = must(d.cli().args(["info", "--format", "{{.InitCommit.ID}}"]));
    assert_eq!(
        id.stdout.trim(),
        commit,
        "docker info should report the init commit {commit:?}; InitCommit = {}\ndockerd log:\n{}",
        info.stdout.trim(),
        d.log_text()
    );
    let log = d.log_text();
    assert!(
        !log.contains("failed to parse") && !log.contains("failed to retrieve"),
        "dockerd could not read the init's version:\n{log}"
    );

    // The incident-1 workload, imported from a FROM-scratch rootfs tar.
    let image = format!("{}:latest", unique("e2e-zombie-init"));
    d.import_zombie_init(tmp.path(), &image, &[r#"CMD ["/zombie-init"]"#]);

    // Without --init: the workload is PID 1 and its orphan stays a zombie.
    let plain = unique("e2e-plain");
    d.run_detached(&plain, &[&image]);
    let pid1 = d.container_pid(&plain);
    let z = d.zombie_init_report(&plain).zombie_pid;
    wait_procs(
        pid1,
        &format!("pid {z} to be a zombie of PID 1 in {plain}"),
        |procs| is_zombie_of_pid1(procs, z),
    );

    // With --init: PID 1 is reaper (as /sbin/docker-init), the workload its child, no zombie.
    let with_init = unique("e2e-init");
    d.run_detached(&with_init, &["--init", &image]);
    let pid1 = d.container_pid(&with_init);
    let Report {
        zombie_pid: z,
        table: printed,
        logs,
    } = d.zombie_init_report(&with_init);
    let procs = procs_in_pidns_of(pid1);
    assert!(
        is_reaper(pid1) && procs.iter().any(|p| p.host_pid == pid1 && p.ns_pid == 1),
        "PID 1 of {with_init} should be reaper\n{}",
        table(&procs)
    );
    assert!(
        procs
            .iter()
            .any(|p| p.ns_pid == 1 && p.cmdline.starts_with("/sbin/docker-init -- ")),
        "docker should run its init as `/sbin/docker-init -- CMD`\n{}",
        table(&procs)
    );
    assert!(
        procs
            .iter()
            .any(|p| p.comm == "zombie-init" && p.ns_ppid == 1),
        "the workload should be the init's child\n{}",
        table(&procs)
    );
    assert!(
        !printed.iter().any(|r| r.stat.starts_with('Z')),
        "no zombie expected in the printed process table (pid {z})\n{logs}"
    );
    wait_procs(pid1, &format!("no zombie left in {with_init}"), |procs| {
        zombies(procs).is_empty()
    });

    // docker stop: SIGTERM reaches the workload through the init, which exits with its status (143, not
    // 137 = SIGKILL after the 10 s timeout).
    must(d.cli().args(["stop", "-t", "10", &with_init]));
    let code = must(
        d.cli()
            .args(["inspect", "-f", "{{.State.ExitCode}}", &with_init]),
    );
    assert_eq!(
        code.stdout.trim(),
        "143",
        "the init should exit 128+SIGTERM like the workload it forwarded SIGTERM to"
    );
}
