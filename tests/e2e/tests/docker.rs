//! Docker: a private dockerd started by the test with `--init-path` pointing at reaper
//! (installed under the name Docker gives its init, `docker-init`): `docker info` reports the init's
//! version the way Docker parses it, and `docker run --init` reaps the incident-1 workload's orphan,
//! which stays a zombie without `--init`. `docker stop` of the `--init` container takes effect at once.

use e2e::*;
use std::fs;
use std::process::Command;

/// Host pid of a docker container's PID 1.
fn docker_pid(d: &Dockerd, name: &str) -> i32 {
    poll(
        &format!("docker container {name} to run"),
        POLL_TIMEOUT,
        || {
            let out = run(
                d.cli().args(["inspect", "-f", "{{.State.Pid}}", name]),
                CMD_TIMEOUT,
            );
            match out.stdout.trim().parse::<i32>() {
                Ok(p) if p > 0 => Ok(p),
                _ => Err(out.describe()),
            }
        },
    )
}

/// Waits for the zombie-init report in a docker container's logs.
fn docker_report(d: &Dockerd, name: &str) -> Report {
    poll(
        &format!("the zombie-init report in the logs of {name}"),
        POLL_TIMEOUT,
        || {
            let out = must(d.cli().args(["logs", name]));
            let logs = out.stdout + &out.stderr;
            Report::parse(&logs).ok_or(logs)
        },
    )
}

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
    let rootfs = tmp.path().join("rootfs");
    zombie_init_rootfs(&rootfs);
    let tar = tmp.path().join("rootfs.tar");
    must(
        Command::new("tar")
            .arg("-C")
            .arg(&rootfs)
            .arg("-cf")
            .arg(&tar)
            .arg("."),
    );
    let image = format!("{}:latest", unique("e2e-zombie-init"));
    must(
        d.cli()
            .args(["import", "-c", r#"CMD ["/zombie-init"]"#])
            .arg(&tar)
            .arg(&image),
    );

    // Without --init: the workload is PID 1 and its orphan stays a zombie.
    let plain = unique("e2e-plain");
    must(
        d.cli()
            .args(["run", "-d", "--name", &plain, "--network", "none", &image]),
    );
    let pid1 = docker_pid(&d, &plain);
    let z = docker_report(&d, &plain).zombie_pid;
    wait_procs(
        pid1,
        &format!("pid {z} to be a zombie of PID 1 in {plain}"),
        |procs| is_zombie_of_pid1(procs, z),
    );

    // With --init: PID 1 is reaper (as /sbin/docker-init), the workload its child, no zombie.
    let with_init = unique("e2e-init");
    must(d.cli().args([
        "run",
        "-d",
        "--init",
        "--name",
        &with_init,
        "--network",
        "none",
        &image,
    ]));
    let pid1 = docker_pid(&d, &with_init);
    let Report {
        zombie_pid: z,
        table: printed,
        logs,
    } = docker_report(&d, &with_init);
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
