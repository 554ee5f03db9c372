//! podman with `--runtime PATH/reaper-oci` (runc underneath), images unchanged: the incident-2
//! exec-probe loop leaves no zombie (30 without the wrapper), `zombies` reports none; exit statuses,
//! signals, `podman exec`, `podman logs`, `--tty` and pods with an infra container work; the
//! opt-out annotation, the already-an-init rule and a bad annotation behave as documented.

mod common;

use common::*;
use e2e::*;

/// `podman run -d` of the busybox image with PID 1 `cmd` (a sleep that never reaps by default).
fn start(name: &str, image: &str, extra: &[&str], cmd: &[&str]) -> i32 {
    must(
        podman()
            .args(["run", "-d", "--name", name, "--network", "none"])
            .args(extra)
            .arg(image)
            .args(cmd),
    );
    container_pid(name)
}

fn runtime_flag(w: &Installed) -> String {
    format!("--runtime={}", w.wrapper().display())
}

const SLEEPER: &[&str] = &["/bin/sleep", "2147483647"];

#[test]
fn incident_2_probe_loop_leaves_no_zombie_through_the_wrapper() {
    let w = Installed::new();
    let images = Images::build();
    let name = unique("oci-probes");
    let _c = remove_container_on_drop(&name);
    let pid1 = start(
        &name,
        &images.zombie_init,
        &[
            &runtime_flag(&w),
            "--annotation",
            "reaper.io/warn-reaped=true",
        ],
        SLEEPER,
    );
    assert_wrapped(pid1, "/bin/sleep 2147483647");
    assert!(
        pid1_cmdline(pid1).starts_with(&format!("{INIT} --warn-reaped -- ")),
        "the annotation should become reaper's -w flag: {}",
        pid1_cmdline(pid1)
    );
    // `podman exec` goes through the wrapper too (runc exec): passed through, not wrapped.
    let helpers = probe_loop(pid1, || {
        let mut c = podman();
        c.args(["exec", &name]);
        c
    });
    wait_procs(pid1, "every probe's orphan reaped, no zombie", |procs| {
        zombies(procs).is_empty() && !procs.iter().any(|p| helpers.contains(&p.host_pid))
    });
    assert_eq!(
        zombies_reported_under(pid1),
        0,
        "zombies should report none"
    );
    let reaped = |logs: &str| {
        logs.lines()
            .filter(|l| l.starts_with("reaper: reaped orphan pid=") && l.contains(" name=sleep "))
            .count()
    };
    let logs = poll("reaper's log of every reaped orphan", POLL_TIMEOUT, || {
        let logs = podman_logs(&name);
        if reaped(&logs) >= PROBES {
            Ok(logs)
        } else {
            Err(logs)
        }
    });
    assert_eq!(reaped(&logs), PROBES, "{logs}");
}

#[test]
fn incident_2_probe_loop_without_the_wrapper_leaves_30_zombies() {
    let images = Images::build();
    let name = unique("oci-probes-plain");
    let _c = remove_container_on_drop(&name);
    let pid1 = start(&name, &images.zombie_init, &[], SLEEPER);
    assert_eq!(pid1_cmdline(pid1), "/bin/sleep 2147483647");
    let helpers = probe_loop(pid1, || {
        let mut c = podman();
        c.args(["exec", &name]);
        c
    });
    wait_procs(pid1, "every probe's orphan a zombie of PID 1", |procs| {
        let z = zombies(procs);
        z.len() == PROBES
            && z.iter()
                .all(|p| helpers.contains(&p.host_pid) && p.ns_ppid == 1)
    });
    let n = poll("zombies to report 30", POLL_TIMEOUT, || {
        let n = zombies_reported_under(pid1);
        if n == PROBES as u64 {
            Ok(n)
        } else {
            Err(format!("{n}"))
        }
    });
    assert_eq!(n, PROBES as u64);
}

#[test]
fn exit_status_signals_exec_logs_and_tty_pass_through() {
    let w = Installed::new();
    let images = Images::build();
    let rt = runtime_flag(&w);
    // Exit statuses 0 and 7 of the workload are podman run's.
    for code in [0, 7] {
        let out = run(
            podman()
                .args(["run", "--rm", "--network", "none", &rt])
                .arg(&images.zombie_init)
                .args(["sh", "-c", &format!("cat /proc/1/cmdline; exit {code}")]),
            CMD_TIMEOUT,
        );
        assert_eq!(out.status.code(), Some(code), "{}", out.describe());
        assert!(
            out.stdout.starts_with(&format!("{INIT}\0--\0sh\0")),
            "PID 1 should be the injected reaper\n{}",
            out.describe()
        );
    }

    // A signal sent with `podman kill` reaches the workload (through reaper), whose trap logs it and
    // exits 3; `podman logs` shows what the workload printed.
    let name = unique("oci-signal");
    let _c = remove_container_on_drop(&name);
    let script = "trap 'echo got USR1; exit 3' USR1; echo ready; while :; do sleep 0.05; done";
    let pid1 = start(&name, &images.zombie_init, &[&rt], &["sh", "-c", script]);
    assert!(
        pid1_cmdline(pid1).starts_with(INIT),
        "{}",
        pid1_cmdline(pid1)
    );
    poll("the workload to be ready", POLL_TIMEOUT, || {
        let logs = podman_logs(&name);
        if logs.contains("ready") {
            Ok(())
        } else {
            Err(logs)
        }
    });
    // `podman exec`: the exec'd process is not wrapped (its parent is outside the namespace).
    let out = must(podman().args([
        "exec",
        &name,
        "sh",
        "-c",
        "echo $PPID; cat /proc/self/cmdline",
    ]));
    assert_eq!(
        out.stdout,
        "0\ncat\0/proc/self/cmdline\0",
        "{}",
        out.describe()
    );
    must(podman().args(["kill", "--signal", "USR1", &name]));
    must(podman().args(["wait", &name]));
    assert_eq!(inspect(&name, "{{.State.ExitCode}}"), "3");
    assert!(
        podman_logs(&name).contains("got USR1"),
        "{}",
        podman_logs(&name)
    );

    // `podman stop`: SIGTERM through reaper ends the workload at once; exit 143, not 137.
    let name = unique("oci-stop");
    let _c2 = remove_container_on_drop(&name);
    let pid1 = start(&name, &images.zombie_init, &[&rt], SLEEPER);
    assert_wrapped(pid1, "/bin/sleep 2147483647");
    must(podman().args(["stop", "-t", "10", &name]));
    assert_eq!(inspect(&name, "{{.State.ExitCode}}"), "143");

    // --tty: the console socket reaches runc through the wrapper; the workload has the terminal.
    let out = must(
        podman()
            .args(["run", "--rm", "-t", "--network", "none", &rt])
            .arg(&images.zombie_init)
            .args(["sh", "-c", "tty; cat /proc/1/cmdline"]),
    );
    assert!(
        out.stdout.contains("/dev/pts/0") && out.stdout.contains(INIT),
        "{}",
        out.describe()
    );
}

#[test]
fn pods_infra_is_left_alone_and_workloads_are_wrapped() {
    let w = Installed::new();
    let images = Images::build();
    let conf = containers_conf();
    let rt = runtime_flag(&w);

    // A pod of podman's default kind (no shared PID namespace), infra created through the wrapper.
    let pod = unique("oci-pod");
    let _p = remove_pod_on_drop(&pod, &conf);
    must(podman().args([&rt, "pod", "create", "--name", &pod, "--network", "none"]));
    must(podman().args([&rt, "pod", "start", &pod]));
    let infra_id = must(podman().args(["pod", "inspect", "-f", "{{.InfraContainerID}}", &pod]))
        .stdout
        .trim()
        .to_string();
    assert!(
        inspect(&infra_id, "{{.OCIRuntime}}").ends_with("reaper-oci"),
        "the infra should have been created through the wrapper"
    );
    let infra = container_pid(&infra_id);
    assert_eq!(pid1_cmdline(infra), "/catatonit -P", "infra is not wrapped");
    let app = format!("{pod}-app");
    let pid1 = start(&app, &images.zombie_init, &[&rt, "--pod", &pod], SLEEPER);
    assert_wrapped(pid1, "/bin/sleep 2147483647");

    // A pod sharing its PID namespace, with reaper's pause as infra: the infra is an init already, and
    // the member joins the infra's namespace, whose PID 1 reaps: neither is wrapped.
    let pod2 = unique("oci-pod-pid");
    let _p2 = remove_pod_on_drop(&pod2, &conf);
    must(podman().args([
        &rt,
        "pod",
        "create",
        "--name",
        &pod2,
        "--network",
        "none",
        "--share",
        "pid,ipc,uts",
        "--infra-image",
        &images.pause,
    ]));
    let app2 = format!("{pod2}-app");
    let member = start(&app2, &images.zombie_init, &[&rt, "--pod", &pod2], SLEEPER);
    let procs = wait_procs(
        member,
        "the member to run in the pod's namespace",
        |procs| procs.iter().any(|p| p.host_pid == member),
    );
    assert!(
        procs.iter().any(|p| p.ns_pid == 1 && p.cmdline == "/pause")
            && procs
                .iter()
                .any(|p| p.host_pid == member && p.cmdline == "/bin/sleep 2147483647"),
        "{}",
        table(&procs)
    );
    assert!(
        !procs.iter().any(|p| p.cmdline.starts_with(INIT)),
        "nothing wrapped in a shared PID namespace\n{}",
        table(&procs)
    );
}

#[test]
fn opt_out_already_an_init_and_a_bad_annotation() {
    let w = Installed::new();
    let mut images = Images::build();
    let with_entrypoint = images.build_derived(
        "oci-reaper-entry",
        &reaper_entrypoint_containerfile(&images),
    );
    let rt = runtime_flag(&w);
    let pid1_of = |extra: &[&str], image: &str| {
        let out = must(
            podman()
                .args(["run", "--rm", "--network", "none", &rt])
                .args(extra)
                .arg(image)
                .args(["cat", "/proc/1/cmdline"]),
        );
        out.stdout.replace('\0', " ")
    };
    // Opt-out: the workload is PID 1, as without the wrapper.
    assert_eq!(
        pid1_of(
            &["--annotation", "reaper.io/inject=false"],
            &images.zombie_init
        ),
        "cat /proc/1/cmdline "
    );
    // Already an init: reaper as the image's ENTRYPOINT, and podman's own --init (catatonit).
    assert_eq!(
        pid1_of(&[], &with_entrypoint),
        "/reaper -- cat /proc/1/cmdline "
    );
    assert_eq!(
        pid1_of(&["--init"], &images.zombie_init),
        "/run/podman-init -- cat /proc/1/cmdline "
    );
    // Options from annotations reach reaper.
    assert_eq!(
        pid1_of(
            &[
                "--annotation",
                "reaper.io/grace=1500ms",
                "--annotation",
                "reaper.io/no-drain=1"
            ],
            &images.zombie_init
        )
        .replace("--no-drain --grace 1500ms", "--grace 1500ms --no-drain"),
        format!("{INIT} --grace 1500ms --no-drain -- cat /proc/1/cmdline ")
    );

    // A bad value: `podman run` fails naming the annotation, and the workload never ran (it would
    // have created a file in a host directory mounted into the container).
    let dir = TempDir::new("oci-bad");
    let marker = dir.path().join("ran");
    let out = run(
        podman()
            .args(["run", "--rm", "--network", "none", &rt])
            .args(["--annotation", "reaper.io/grace=soon"])
            .arg("-v")
            .arg(format!("{}:/out", dir.path().display()))
            .arg(&images.zombie_init)
            .args(["touch", "/out/ran"]),
        CMD_TIMEOUT,
    );
    assert!(!out.status.success(), "{}", out.describe());
    assert!(
        out.stderr.contains("reaper.io/grace") && out.stderr.contains("soon"),
        "the error should name the annotation\n{}",
        out.describe()
    );
    assert!(!marker.exists(), "the workload must not have run");
}

#[test]
fn containers_conf_makes_the_wrapper_the_default_runtime() {
    let w = Installed::new();
    let images = Images::build();
    // The project's containers.conf with the recipe of docs/runtime-wrapper.md applied.
    let base = std::fs::read_to_string(containers_conf()).unwrap();
    assert!(base.contains("\nruntime = \"runc\""), "{base}");
    let conf = TempDir::new("oci-conf");
    let path = conf.path().join("containers.conf");
    let text = base.replace("\nruntime = \"runc\"", "\nruntime = \"reaper\"")
        + &format!(
            "\n[engine.runtimes]\nreaper = [\"{}\"]\n",
            w.wrapper().display()
        );
    std::fs::write(&path, text).unwrap();
    let out = must(
        podman_with_conf(&path)
            .args(["run", "--rm", "--network", "none"])
            .arg(&images.zombie_init)
            .args(["cat", "/proc/1/cmdline"]),
    );
    assert_eq!(
        out.stdout.replace('\0', " "),
        format!("{INIT} -- cat /proc/1/cmdline ")
    );
}
