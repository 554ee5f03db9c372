//! A private dockerd with `--add-runtime reaper=PATH/reaper-oci` and `docker run --runtime reaper`:
//! an unchanged busybox image gets reaper as PID 1; the incident-2 probe loop (`docker exec`) leaves
//! no zombie, 30 with the default runtime; exit statuses (0, 7, 143 on `docker stop`), signals,
//! `docker logs` and `-t` pass through; `docker run --init --runtime reaper` does not stack two
//! inits.

mod common;

use common::*;
use e2e::*;
use std::ffi::OsStr;
use std::fs;

fn exit_code(d: &Dockerd, name: &str) -> String {
    must(d.cli().args(["inspect", "-f", "{{.State.ExitCode}}", name]))
        .stdout
        .trim()
        .to_string()
}

#[test]
fn dockerd_with_the_wrapper_as_a_runtime() {
    let w = Installed::new();
    let tmp = TempDir::new("oci-dockerd");
    let dir = tmp.path().join("d");
    fs::create_dir(&dir).unwrap();
    let init = tmp.path().join("docker-init");
    fs::copy(reaper_bin(), &init).unwrap();
    let add = format!("reaper={}", w.wrapper().display());
    let d = Dockerd::start_with(
        &dir,
        &init,
        &[OsStr::new("--add-runtime"), OsStr::new(&add)],
    );

    let image = format!("{}:latest", unique("oci-busybox"));
    d.import_zombie_init(tmp.path(), &image, &[]);

    // The incident-2 loop through the wrapper: no zombie, zombies reports none.
    let name = unique("oci-d-probes");
    d.run_detached(
        &name,
        &["--runtime", "reaper", &image, "/bin/sleep", "2147483647"],
    );
    let pid1 = d.container_pid(&name);
    assert_wrapped(pid1, "/bin/sleep 2147483647");
    let helpers = probe_loop(pid1, || {
        let mut c = d.cli();
        c.args(["exec", &name]);
        c
    });
    wait_procs(pid1, "every probe's orphan reaped, no zombie", |procs| {
        zombies(procs).is_empty() && !procs.iter().any(|p| helpers.contains(&p.host_pid))
    });
    assert_eq!(zombies_reported_under(pid1), 0);

    // The same loop with docker's default runtime: 30 zombies of PID 1.
    let plain = unique("oci-d-plain");
    d.run_detached(&plain, &[&image, "/bin/sleep", "2147483647"]);
    let ppid1 = d.container_pid(&plain);
    assert_eq!(pid1_cmdline(ppid1), "/bin/sleep 2147483647");
    let helpers = probe_loop(ppid1, || {
        let mut c = d.cli();
        c.args(["exec", &plain]);
        c
    });
    wait_procs(ppid1, "every probe's orphan a zombie of PID 1", |procs| {
        let z = zombies(procs);
        z.len() == PROBES
            && z.iter()
                .all(|p| helpers.contains(&p.host_pid) && p.ns_ppid == 1)
    });

    // `docker stop`: SIGTERM through reaper ends it, exit 143 (137 would be docker's SIGKILL
    // after the 10 s timeout).
    must(d.cli().args(["stop", "-t", "10", &name]));
    assert_eq!(exit_code(&d, &name), "143");

    // Exit statuses of `docker run`, with -t too (console socket through the wrapper).
    for (code, tty) in [(0, false), (7, false), (7, true)] {
        let mut cmd = d.cli();
        cmd.args(["run", "--rm", "--runtime", "reaper", "--network", "none"]);
        if tty {
            cmd.arg("-t");
        }
        let out = run(
            cmd.arg(&image).args([
                "sh",
                "-c",
                &format!("tty; cat /proc/1/cmdline; exit {code}"),
            ]),
            CMD_TIMEOUT,
        );
        assert_eq!(out.status.code(), Some(code), "{}", out.describe());
        assert!(
            out.stdout.contains(&format!("{INIT}\0--\0sh\0")),
            "{}",
            out.describe()
        );
        assert_eq!(out.stdout.contains("/dev/pts/0"), tty, "{}", out.describe());
    }

    // A signal from `docker kill` reaches the workload; `docker logs` shows its output.
    let sig = unique("oci-d-signal");
    let script = "trap 'echo got USR1; exit 3' USR1; echo ready; while :; do sleep 0.05; done";
    d.run_detached(&sig, &["--runtime", "reaper", &image, "sh", "-c", script]);
    let logs = || {
        let o = must(d.cli().args(["logs", &sig]));
        o.stdout + &o.stderr
    };
    poll("the workload to be ready", POLL_TIMEOUT, || {
        let l = logs();
        if l.contains("ready") {
            Ok(())
        } else {
            Err(l)
        }
    });
    must(d.cli().args(["kill", "--signal", "USR1", &sig]));
    must(d.cli().args(["wait", &sig]));
    assert_eq!(exit_code(&d, &sig), "3");
    assert!(logs().contains("got USR1"), "{}", logs());

    // --init with the wrapper: docker's init (reaper as docker-init) is PID 1, and the wrapper does not
    // put a second one in front of it.
    let both = unique("oci-d-init");
    d.run_detached(
        &both,
        &[
            "--init",
            "--runtime",
            "reaper",
            &image,
            "/bin/sleep",
            "2147483647",
        ],
    );
    let pid1 = d.container_pid(&both);
    let procs = wait_procs(pid1, "the workload to start under docker-init", |procs| {
        procs
            .iter()
            .any(|p| p.ns_ppid == 1 && p.cmdline == "/bin/sleep 2147483647")
    });
    assert!(
        procs
            .iter()
            .any(|p| p.ns_pid == 1 && p.cmdline == "/sbin/docker-init -- /bin/sleep 2147483647"),
        "{}",
        table(&procs)
    );
    assert!(
        !procs.iter().any(|p| p.cmdline.contains(INIT)),
        "{}",
        table(&procs)
    );
    assert_eq!(
        procs.len(),
        2,
        "exactly one init and the workload\n{}",
        table(&procs)
    );
    let out = run(d.cli().args(["exec", &both, "ls", INIT]), CMD_TIMEOUT);
    assert!(
        !out.status.success(),
        "nothing mounted at {INIT}\n{}",
        out.describe()
    );
}
