//! Hostile `--proc-root`/`--sys-root` trees: a `stat` that is a FIFO, a `stat` linked to
//! `/dev/zero`, 300 MB files in place of `/proc` and cgroup files. Every subcommand (the report,
//! `tree`, `watch`, `check`, `serve` in both scan modes) must finish within a deadline, count
//! those entries as read errors and go on with the rest.

mod serve_support;
use serve_support::{poll_until, sample, temp_dir, zombies_bin, Agent};

use std::ffi::CString;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a subcommand may take on the hostile tree (it takes milliseconds; the old reader
/// hung forever on the FIFO).
const DEADLINE: Duration = Duration::from_secs(30);

fn stat_line(pid: i32, comm: &str, st: char, ppid: i32) -> String {
    format!("{pid} ({comm}) {st} {ppid} {pid} {pid} 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 256\n")
}

/// Writes `<root>/<pid>/stat` for a process named `comm` in state `st`, child of `ppid`.
fn stat(root: &Path, pid: i32, comm: &str, st: char, ppid: i32) {
    write(
        &root.join(format!("{pid}/stat")),
        stat_line(pid, comm, st, ppid).as_bytes(),
    );
}

fn write(p: &Path, c: &[u8]) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, c).unwrap();
}

#[allow(unsafe_code)] // mkfifo(3): std does not wrap it
fn fifo(p: &Path) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    let c = CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path that outlives the call.
    let r = unsafe { libc::mkfifo(c.as_ptr(), 0o600) };
    assert_eq!(r, 0, "mkfifo {p:?}");
}

fn link_zero(p: &Path) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink("/dev/zero", p).unwrap();
}

/// A 300 MB file (sparse: it costs no disk, but reading it whole costs 300 MB of memory).
fn huge(p: &Path) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    let f = std::fs::File::create(p).unwrap();
    f.set_len(300 * 1024 * 1024).unwrap();
}

/// A fabricated /proc: init (1), an app (50) with one zombie (60), and hostile entries:
/// 100/stat a FIFO, 101/stat a link to /dev/zero, 102/stat 300 MB; the zombie's detail files
/// hostile too (60/status a FIFO, 60/cgroup a link to /dev/zero, 50/cmdline 300 MB, 1/status
/// 300 MB), and `uptime` a FIFO.
fn hostile_proc(root: &Path) {
    stat(root, 1, "init", 'S', 0);
    stat(root, 50, "app", 'S', 1);
    write(
        &root.join("50/status"),
        b"Name:\tapp\nNSpid:\t50\nSigCgt:\t0\n",
    );
    write(&root.join("50/cgroup"), b"0::/system.slice/app.service\n");
    huge(&root.join("50/cmdline"));
    stat(root, 60, "dead", 'Z', 50);
    fifo(&root.join("60/status"));
    link_zero(&root.join("60/cgroup"));
    huge(&root.join("1/status"));
    write(&root.join("1/cgroup"), b"0::/\n");
    fifo(&root.join("100/stat"));
    link_zero(&root.join("101/stat"));
    huge(&root.join("102/stat"));
    write(&root.join("loadavg"), b"0.00 0.00 0.00 1/7 100\n");
    write(&root.join("sys/kernel/pid_max"), b"1000\n");
    write(&root.join("sys/kernel/threads-max"), b"1000\n");
    fifo(&root.join("uptime"));
}

/// A fabricated v1 pids hierarchy: the root and three children whose files are hostile.
fn hostile_sys(root: &Path) {
    let p = root.join("pids");
    write(&p.join("tasks"), b"1\n50\n");
    write(&p.join("ok/tasks"), b"60\n");
    write(&p.join("ok/pids.current"), b"1\n");
    write(&p.join("ok/pids.max"), b"100\n");
    fifo(&p.join("fifo/pids.current"));
    write(&p.join("fifo/tasks"), b"");
    write(&p.join("zero/pids.current"), b"0\n");
    link_zero(&p.join("zero/tasks"));
    write(&p.join("big/pids.current"), b"0\n");
    huge(&p.join("big/tasks"));
}

/// `args` then the options every run of a test shares.
fn with<'a>(args: &[&'a str], common: &[&'a str]) -> Vec<&'a str> {
    [args, common].concat()
}

/// Runs zombies with `args` then `common`, killing it and failing past [`DEADLINE`].
fn run_bounded(args: &[&str], common: &[&str]) -> (i32, String, String) {
    let args = with(args, common);
    let args = &args[..];
    let started = Instant::now();
    let mut child = Command::new(zombies_bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn zombies");
    let mut status = None;
    if !poll_until(DEADLINE, || {
        status = child.try_wait().unwrap();
        status.is_some()
    }) {
        let _ = child.kill();
        let _ = child.wait();
        panic!("zombies {args:?} still running after {DEADLINE:?} on a hostile tree");
    }
    let status = status.unwrap();
    let out = child.wait_with_output().unwrap();
    let code = status.code().unwrap_or(-1);
    eprintln!("zombies {args:?}: exit {code} in {:?}", started.elapsed());
    (
        code,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn examples(v: &serde_json::Value) -> String {
    v["read_errors"]["examples"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

#[test]
fn every_subcommand_finishes_on_a_hostile_tree_and_counts_the_entries() {
    let dir = temp_dir("zombies-hostile");
    let (proc_root, sys_root) = (dir.0.join("proc"), dir.0.join("sys"));
    hostile_proc(&proc_root);
    hostile_sys(&sys_root);
    let (p, s) = (proc_root.to_str().unwrap(), sys_root.to_str().unwrap());
    let common = [
        "--proc-root",
        p,
        "--sys-root",
        s,
        "--pods-log-root",
        "/nonexistent",
    ];

    // The report: the zombie is found, the six hostile /proc files are read errors.
    let (code, out, err) = run_bounded(&["--json"], &common);
    assert_eq!(code, 0, "stderr: {err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["zombie_count"].as_u64(), Some(1), "{out}");
    let ex = examples(&v);
    assert_eq!(v["read_errors"]["other"].as_u64(), Some(7), "{ex}");
    for needle in [
        "100/stat: a FIFO where procfs/cgroupfs has a regular file",
        "101/stat: a symbolic link where procfs/cgroupfs has a regular file",
        "102/stat: larger than 4096 bytes",
        "60/status: a FIFO",
        "60/cgroup: a symbolic link",
        "50/cmdline: larger than 2097152 bytes",
        "1/status: larger than 65536 bytes",
    ] {
        assert!(ex.contains(needle), "no {needle:?} in the examples:\n{ex}");
    }

    // tree, check, watch.
    let (code, out, err) = run_bounded(&["tree"], &common);
    assert_eq!(code, 0, "stderr: {err}");
    assert!(out.contains("dead") && out.contains("app"), "{out}");
    let (code, out, err) = run_bounded(&["tree", "60"], &common);
    assert_eq!(code, 0, "stderr: {err}");
    assert!(out.contains("dead"), "{out}");
    let (code, out, err) = run_bounded(&["check", "--max-zombies", "0"], &common);
    assert_eq!(code, 1, "1 zombie > 0; stderr: {err}");
    assert!(out.len() <= 81, "{out}");
    let (code, out, err) = run_bounded(
        &["watch", "--iterations", "2", "--interval", "0.05", "--json"],
        &common,
    );
    assert_eq!(code, 0, "stderr: {err}");
    assert_eq!(out.lines().count(), 2, "{out}");
    for l in out.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert_eq!(v["read_errors"]["other"].as_u64(), Some(7), "{l}");
    }

    // serve, full scan: the scrape answers and counts the same errors.
    let mut agent = Agent::start(&with(&["--scan", "full"], &common));
    let r = agent.get("/metrics", None);
    assert_eq!(r.status, 200, "{}", r.body);
    // The same 7, plus 1: the tree shows no host PID namespace (no kthreadd at pid 2), a failed
    // visibility check that makes the agent blind (zombies_up 0) and counts as one read error.
    assert_eq!(
        sample(&r.body, "zombies_visibility{check=\"host_pid_namespace\"}"),
        Some(0.0)
    );
    assert_eq!(sample(&r.body, "zombies_up"), Some(0.0));
    assert_eq!(
        sample(&r.body, "zombies_read_errors{kind=\"other\"}"),
        Some(8.0)
    );
    assert_eq!(agent.stop(), Some(0));

    // serve, accounting: the FIFO pids.current, the linked and the huge task lists are errors;
    // the walk goes on and the scrape answers.
    let mut agent = Agent::start(&with(&["--scan", "accounting"], &common));
    let r = agent.get("/metrics", None);
    assert_eq!(r.status, 200, "{}", r.body);
    // 3, plus 1 for the failed host PID namespace check (above).
    assert_eq!(
        sample(&r.body, "zombies_read_errors{kind=\"other\"}"),
        Some(4.0),
        "{}",
        r.body
    );
    assert_eq!(sample(&r.body, "zombies_scanned_cgroups"), Some(5.0));
    assert_eq!(agent.stop(), Some(0));
}

/// Names are shown escaped so none can pass for another: a zombie named `a\nb` with a real
/// backslash prints as `a\\nb`, one with a newline as `a\nb`, an escape sequence as `\u{1b}`;
/// the raw bytes never reach the terminal.
#[test]
fn names_with_backslashes_cannot_pass_for_control_characters() {
    let dir = temp_dir("zombies-names");
    let root = dir.0.join("proc");
    for (pid, comm, state, ppid) in [
        (1, "init", 'S', 0),
        (50, "app", 'S', 1),
        (60, "a\\nb", 'Z', 50),
        (61, "a\nb", 'Z', 50),
        (62, "c\x1b[31m", 'Z', 50),
    ] {
        stat(&root, pid, comm, state, ppid);
    }
    let p = root.to_str().unwrap();
    let common = [
        "--proc-root",
        p,
        "--sys-root",
        "/nonexistent",
        "--color",
        "never",
    ];
    for a in [&[][..], &["tree"][..]] {
        let (code, out, err) = run_bounded(a, &common);
        assert_eq!(code, 0, "{a:?}: {err}");
        assert!(out.contains(r"a\\nb"), "{a:?}:\n{out}");
        assert!(out.contains(r"a\nb"), "{a:?}:\n{out}");
        assert!(out.contains(r"c\u{1b}[31m"), "{a:?}:\n{out}");
        assert!(!out.contains('\x1b'), "{a:?}: raw escape in\n{out}");
        assert!(!out.contains("a\nb"), "{a:?}: raw newline in a name\n{out}");
    }
    let (_, out, _) = run_bounded(&["--json"], &common);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let names: Vec<&str> = v["groups"][0]["zombies"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|z| z["name"].as_str())
        .collect();
    assert_eq!(names, vec![r"a\\nb", r"a\nb", r"c\u{1b}[31m"], "{out}");
}
