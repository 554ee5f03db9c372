//! Helpers for reaper's end-to-end tests on real container runtimes (podman, runc and a private dockerd).
//!
//! - [`reaper_bin`]: the static binary under test (`REAPER_BIN`, else the musl release build); missing
//!   is a failure, never a skip. So is a missing runtime: [`run`] panics with the command and a hint.
//! - [`run`] / [`must`]: run a command with a deadline and capture its output; failures panic with the
//!   command line, the exit status, stdout and stderr.
//! - [`Images`]: the three images of scripts/build-images.sh under a tag unique to the test, removed on
//!   drop; [`Defer`]: any other cleanup (pods, containers, dockerd), run on drop even when the test panics.
//! - [`procs_in_pidns_of`]: the processes of a container's PID namespace read from the host's /proc
//!   (host pid, pid inside the namespace, parent inside the namespace, state), so zombies are seen
//!   exactly as the kernel has them, whatever tools the container has.
//! - [`poll`]: wait for a condition with a deadline, reporting the last observed state on timeout.
//!   Nothing here sleeps a fixed time to "let things settle".
#![deny(unsafe_code)]

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Deadline of one runtime command (`podman run -d`, `podman exec`, ...). Generous: 2 busy cores.
pub const CMD_TIMEOUT: Duration = Duration::from_secs(120);
/// Deadline of a polled condition (a zombie appears, a log line shows up, a daemon becomes ready).
pub const POLL_TIMEOUT: Duration = Duration::from_secs(30);

/// The workspace root (the directory holding scripts/, images/, e2e/).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

fn is_executable_file(p: &Path) -> bool {
    fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The reaper binary under test: `$REAPER_BIN` (scripts/test.sh sets it from scripts/build-reaper.sh),
/// else `<workspace>/target/x86_64-unknown-linux-musl/release/reaper`. Absolute. Panics with
/// instructions when there is none.
pub fn reaper_bin() -> PathBuf {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let found = BIN.get_or_init(|| {
        let root = workspace_root();
        let candidate = match std::env::var_os("REAPER_BIN") {
            Some(v) if !v.is_empty() => root.join(PathBuf::from(v)),
            _ => root.join("target/x86_64-unknown-linux-musl/release/reaper"),
        };
        if is_executable_file(&candidate) {
            Ok(candidate.canonicalize().expect("canonical reaper path"))
        } else {
            Err(format!(
                "no reaper binary at {}: build it with `export REAPER_BIN=$(scripts/build-reaper.sh)` \
                 (scripts/test.sh does this) and rerun",
                candidate.display()
            ))
        }
    });
    match found {
        Ok(p) => p.clone(),
        Err(e) => panic!("{e}"),
    }
}

/// The containers.conf podman needs on this machine kind (runc, ulimits): `$CONTAINERS_CONF` when set
/// (scripts/setup.sh exports it), else deploy/podman/containers.conf.
pub fn containers_conf() -> PathBuf {
    match std::env::var_os("CONTAINERS_CONF") {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => workspace_root().join("deploy/podman/containers.conf"),
    }
}

/// A name unique to this run and call: `PREFIX-<pid>-<time>-<n>`, lowercase (valid for images,
/// containers, pods).
pub fn unique(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
        % 1_000_000_000;
    format!(
        "{prefix}-{}-{t}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A fresh temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> TempDir {
        let p = std::env::temp_dir().join(unique(prefix));
        fs::create_dir_all(&p).unwrap_or_else(|e| panic!("mkdir {}: {e}", p.display()));
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Runs a closure on drop: cleanup that must happen even when the test panics.
pub struct Defer(Option<Box<dyn FnOnce()>>);

impl Defer {
    pub fn new(f: impl FnOnce() + 'static) -> Defer {
        Defer(Some(Box::new(f)))
    }
}

impl Drop for Defer {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            f();
        }
    }
}

/// What a finished command left.
#[derive(Debug)]
pub struct Out {
    pub cmdline: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Out {
    pub fn describe(&self) -> String {
        format!(
            "command: {}\nstatus: {} (after {:.2?})\nstdout:\n{}\nstderr:\n{}",
            self.cmdline, self.status, self.elapsed, self.stdout, self.stderr
        )
    }

    /// Asserts that the command exited with `code` and said `what` on stderr.
    #[track_caller]
    pub fn assert_refused(&self, code: i32, what: &str) {
        assert_eq!(self.status.code(), Some(code), "{}", self.describe());
        assert!(self.stderr.contains(what), "{}", self.describe());
    }
}

/// Runs `cmd` (stdin: /dev/null) with a deadline and captures stdout and stderr. Panics when the
/// program cannot be started (a missing runtime fails the test) or overruns the deadline (then it is
/// killed). A non-zero exit is returned, not a panic: see [`must`].
pub fn run(cmd: &mut Command, timeout: Duration) -> Out {
    let cmdline = format!("{cmd:?}");
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn().unwrap_or_else(|e| {
        panic!(
            "cannot run {cmdline}: {e}\n(is it installed? scripts/setup.sh installs podman, runc, \
             conmon, docker.io and busybox-static)"
        )
    });
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let t_out = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = so.read_to_end(&mut v);
        v
    });
    let t_err = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = se.read_to_end(&mut v);
        v
    });
    let mut status = None;
    let exited = poll_until(timeout, || {
        status = child
            .try_wait()
            .unwrap_or_else(|e| panic!("waiting for {cmdline}: {e}"));
        status.is_some()
    });
    let Some(status) = status.filter(|_| exited) else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("timed out after {timeout:?} (killed): {cmdline}");
    };
    let elapsed = start.elapsed();
    let stdout = String::from_utf8_lossy(&t_out.join().unwrap()).into_owned();
    let stderr = String::from_utf8_lossy(&t_err.join().unwrap()).into_owned();
    Out {
        cmdline,
        status,
        stdout,
        stderr,
        elapsed,
    }
}

/// [`run`], and panic with everything known when the command does not exit 0.
pub fn must(cmd: &mut Command) -> Out {
    let out = run(cmd, CMD_TIMEOUT);
    if !out.status.success() {
        panic!("command failed\n{}", out.describe());
    }
    out
}

/// Runs a cleanup command, reporting (not panicking on) failure: used from drop guards.
pub fn cleanup(cmd: &mut Command) {
    let cmdline = format!("{cmd:?}");
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run(cmd, Duration::from_secs(60))
    }));
    match r {
        Ok(out) if out.status.success() => {}
        Ok(out) => eprintln!("cleanup failed (ignored)\n{}", out.describe()),
        Err(_) => eprintln!("cleanup could not run (ignored): {cmdline}"),
    }
}

// Polling with a deadline: one implementation for every test crate, in test-support.
pub use test_support::{poll, poll_until, wait_until};

/// `podman` with the project's containers.conf.
pub fn podman() -> Command {
    podman_with_conf(&containers_conf())
}

/// `podman` with another containers.conf (e.g. an overlay setting `infra_image`).
/// `podman run -d --name NAME --network none ARGS...` (ARGS: more options, the image, the
/// command), failing the test unless podman exits 0.
pub fn podman_run_detached(name: &str, args: &[&str]) -> Out {
    must(
        podman()
            .args(["run", "-d", "--name", name, "--network", "none"])
            .args(args),
    )
}

pub fn podman_with_conf(conf: &Path) -> Command {
    let mut c = Command::new("podman");
    c.env("CONTAINERS_CONF", conf);
    c
}

/// The images of scripts/build-images.sh, built from [`reaper_bin`] under a tag unique to the caller,
/// removed (with every image listed in `extra`) on drop.
pub struct Images {
    pub tag: String,
    /// localhost/reaper:TAG (reaper as /reaper, ENTRYPOINT ["/reaper", "--"]).
    pub reaper: String,
    /// localhost/reaper-pause:TAG (reaper as /pause, uid 65535).
    pub pause: String,
    /// localhost/zombie-init:TAG (the incident-1 workload; busybox).
    pub zombie_init: String,
    /// Images the test built on top of these; removed first.
    pub extra: Vec<String>,
}

/// The runtimes here run rootful (dockerd, podman with the project's containers.conf, reading other
/// processes' /proc entries): fail at once, with the reason, when not root.
pub fn require_root() {
    test_support::require_root("the e2e tests drive rootful podman and dockerd");
}

impl Images {
    pub fn build() -> Images {
        require_root();
        let tag = unique("e2e");
        // The names are known before the build: the value exists (and its drop removes whatever was
        // built) even when the build fails half-way or prints something unexpected.
        let images = Images {
            reaper: format!("localhost/reaper:{tag}"),
            pause: format!("localhost/reaper-pause:{tag}"),
            zombie_init: format!("localhost/zombie-init:{tag}"),
            tag,
            extra: Vec::new(),
        };
        let out = must(
            Command::new(workspace_root().join("scripts/build-images.sh"))
                .arg("--reaper")
                .arg(reaper_bin())
                .arg("--tag")
                .arg(&images.tag)
                .env("CONTAINERS_CONF", containers_conf()),
        );
        let get = |key: &str| {
            out.stdout
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{key}=")))
                .unwrap_or_else(|| panic!("build-images.sh printed no {key}=\n{}", out.describe()))
                .to_string()
        };
        assert_eq!(get("REAPER_IMAGE"), images.reaper, "{}", out.describe());
        assert_eq!(get("PAUSE_IMAGE"), images.pause, "{}", out.describe());
        assert_eq!(
            get("ZOMBIE_INIT_IMAGE"),
            images.zombie_init,
            "{}",
            out.describe()
        );
        images
    }

    /// Builds `name` from a Containerfile text (no other files in the context), as a user would build
    /// their own image on top of reaper's; removed on drop.
    pub fn build_derived(&mut self, stem: &str, containerfile: &str) -> String {
        let name = format!("localhost/{stem}:{}", self.tag);
        let ctx = TempDir::new("e2e-ctx");
        fs::write(ctx.path().join("Containerfile"), containerfile).unwrap();
        self.extra.push(name.clone());
        must(
            podman()
                .args([
                    "build",
                    "--quiet",
                    "--layers=false",
                    "--network",
                    "none",
                    "-t",
                ])
                .arg(&name)
                .arg(ctx.path()),
        );
        name
    }
}

impl Drop for Images {
    fn drop(&mut self) {
        let mut all = self.extra.clone();
        all.extend([
            self.reaper.clone(),
            self.pause.clone(),
            self.zombie_init.clone(),
        ]);
        for image in all {
            cleanup(podman().args(["rmi", "-f", &image]));
        }
    }
}

/// Removes a podman container on drop (`rm -f -t 0`).
pub fn remove_container_on_drop(name: &str) -> Defer {
    let name = name.to_string();
    Defer::new(move || cleanup(podman().args(["rm", "-f", "-t", "0", &name])))
}

/// Removes a podman pod and its containers on drop.
pub fn remove_pod_on_drop(name: &str, conf: &Path) -> Defer {
    let name = name.to_string();
    let conf = conf.to_path_buf();
    Defer::new(move || cleanup(podman_with_conf(&conf).args(["pod", "rm", "-f", "-t", "0", &name])))
}

/// `podman inspect -f FORMAT NAME`, trimmed.
pub fn inspect(name: &str, format: &str) -> String {
    must(podman().args(["inspect", "-f", format, name]))
        .stdout
        .trim()
        .to_string()
}

/// Host pid of a running container's PID 1 (polls until the container runs).
pub fn container_pid(name: &str) -> i32 {
    poll(&format!("container {name} to run"), POLL_TIMEOUT, || {
        let out = run(
            podman().args(["inspect", "-f", "{{.State.Pid}}", name]),
            CMD_TIMEOUT,
        );
        match out.stdout.trim().parse::<i32>() {
            Ok(p) if out.status.success() && p > 0 => Ok(p),
            _ => Err(out.describe()),
        }
    })
}

/// `podman logs NAME` (stdout and stderr of the container, as one text: stdout first).
pub fn podman_logs(name: &str) -> String {
    let out = must(podman().args(["logs", name]));
    out.stdout + &out.stderr
}

/// One process of a PID namespace, as the host's /proc shows it.
#[derive(Clone, Debug)]
pub struct Proc {
    pub host_pid: i32,
    /// Its pid inside the namespace (last field of NSpid).
    pub ns_pid: i32,
    /// Its parent's pid inside the namespace; 0 when the parent is outside (PID 1, exec'd processes).
    pub ns_ppid: i32,
    /// State letter from /proc/PID/stat (`Z` = zombie).
    pub state: char,
    pub comm: String,
    pub cmdline: String,
}

fn read_stat(pid: i32) -> Option<(char, i32, String)> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = s.find('(')?;
    let close = s.rfind(')')?;
    let comm = s[open + 1..close].to_string();
    let mut rest = s[close + 1..].split_whitespace();
    let state = rest.next()?.chars().next()?;
    let ppid = rest.next()?.parse().ok()?;
    Some((state, ppid, comm))
}

fn ns_pid_of(pid: i32) -> Option<i32> {
    let s = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("NSpid:"))?;
    line.split_whitespace().last()?.parse().ok()
}

/// Every process in the PID namespace of host process `host_pid` (zombies included), sorted by pid in
/// the namespace.
pub fn procs_in_pidns_of(host_pid: i32) -> Vec<Proc> {
    let Ok(ns) = fs::read_link(format!("/proc/{host_pid}/ns/pid")) else {
        return Vec::new();
    };
    let mut raw = Vec::new();
    for entry in fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if fs::read_link(format!("/proc/{pid}/ns/pid")).ok().as_ref() != Some(&ns) {
            continue;
        }
        let (Some((state, host_ppid, comm)), Some(ns_pid)) = (read_stat(pid), ns_pid_of(pid))
        else {
            continue;
        };
        let cmdline = fs::read(format!("/proc/{pid}/cmdline"))
            .map(|b| {
                String::from_utf8_lossy(&b)
                    .trim_end_matches('\0')
                    .replace('\0', " ")
            })
            .unwrap_or_default();
        raw.push((pid, ns_pid, host_ppid, state, comm, cmdline));
    }
    let to_ns: HashMap<i32, i32> = raw.iter().map(|r| (r.0, r.1)).collect();
    let mut procs: Vec<Proc> = raw
        .into_iter()
        .map(|(host_pid, ns_pid, host_ppid, state, comm, cmdline)| Proc {
            host_pid,
            ns_pid,
            ns_ppid: to_ns.get(&host_ppid).copied().unwrap_or(0),
            state,
            comm,
            cmdline,
        })
        .collect();
    procs.sort_by_key(|p| p.ns_pid);
    procs
}

/// Polls the PID namespace of host process `host_pid` until `ok` holds for its processes, and returns
/// them; on timeout the test fails with `what` and the last table. A state is always awaited, never
/// sampled once: a process that has just exited is a zombie for the instant its parent takes to wait
/// for it, which a busy machine can stretch.
pub fn wait_procs(host_pid: i32, what: &str, ok: impl Fn(&[Proc]) -> bool) -> Vec<Proc> {
    poll(what, POLL_TIMEOUT, || {
        let procs = procs_in_pidns_of(host_pid);
        if ok(&procs) {
            Ok(procs)
        } else {
            Err(table(&procs))
        }
    })
}

/// Is `ns_pid` a zombie whose parent is PID 1 of the namespace?
pub fn is_zombie_of_pid1(procs: &[Proc], ns_pid: i32) -> bool {
    procs
        .iter()
        .any(|p| p.ns_pid == ns_pid && p.state == 'Z' && p.ns_ppid == 1)
}

/// A process table for failure messages.
pub fn table(procs: &[Proc]) -> String {
    let mut s = String::from("  NSPID NSPPID HOSTPID S COMM             CMDLINE\n");
    for p in procs {
        let _ = writeln!(
            s,
            "  {:>5} {:>6} {:>7} {} {:<16} {}",
            p.ns_pid, p.ns_ppid, p.host_pid, p.state, p.comm, p.cmdline
        );
    }
    s
}

/// The zombies among `procs`.
pub fn zombies(procs: &[Proc]) -> Vec<&Proc> {
    procs.iter().filter(|p| p.state == 'Z').collect()
}

/// True when `/proc/PID/exe` of host process `pid` is the reaper binary under test (same bytes):
/// proof that the process is reaper, whatever name it runs under.
pub fn is_reaper(pid: i32) -> bool {
    let exe = fs::read(format!("/proc/{pid}/exe"));
    let want = fs::read(reaper_bin()).expect("read reaper binary");
    exe.is_ok_and(|b| b == want)
}

/// The pid the zombie-init workload announced (`The zombie pid will be: N`), if it has yet.
pub fn announced_zombie_pid(logs: &str) -> Option<i32> {
    logs.lines()
        .find_map(|l| l.trim().strip_prefix("The zombie pid will be: "))
        .and_then(|n| n.trim().parse().ok())
}

/// A row of the process table the zombie-init workload prints.
#[derive(Clone, Debug)]
pub struct Row {
    pub pid: i32,
    pub ppid: i32,
    pub stat: String,
    pub args: String,
}

/// What the zombie-init workload reported: the pid of the orphan it made, the process table it printed
/// once that orphan had exited, and the whole log.
#[derive(Clone, Debug)]
pub struct Report {
    pub zombie_pid: i32,
    pub table: Vec<Row>,
    pub logs: String,
}

impl Report {
    /// Parses a log, `None` until both the announcement and the table are there.
    pub fn parse(logs: &str) -> Option<Report> {
        Some(Report {
            zombie_pid: announced_zombie_pid(logs)?,
            table: printed_table(logs)?,
            logs: logs.to_string(),
        })
    }

    /// True when the printed table shows a zombie (state Z).
    pub fn shows_a_zombie(&self) -> bool {
        self.table.iter().any(|r| r.stat.starts_with('Z'))
    }
}

/// The process table the zombie-init workload printed (busybox `ps -o pid,ppid,user,stat,args`), once
/// printed.
pub fn printed_table(logs: &str) -> Option<Vec<Row>> {
    let mut lines = logs
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("PID"));
    lines.next()?;
    let rows = lines
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let pid = f.next()?.parse().ok()?;
            let ppid = f.next()?.parse().ok()?;
            let _user = f.next()?;
            let stat = f.next()?.to_string();
            let args = f.collect::<Vec<_>>().join(" ");
            Some(Row {
                pid,
                ppid,
                stat,
                args,
            })
        })
        .collect::<Vec<_>>();
    (!rows.is_empty()).then_some(rows)
}

/// Waits until the zombie-init workload in podman container `name` has announced its zombie pid and
/// printed its process table.
pub fn wait_zombie_init_report(name: &str) -> Report {
    poll(
        &format!("the zombie-init report in the logs of {name}"),
        POLL_TIMEOUT,
        || {
            let logs = podman_logs(name);
            Report::parse(&logs).ok_or(logs)
        },
    )
}

/// The Containerfile of a user's own image with reaper as its ENTRYPOINT, the way docs/containers.md
/// shows it: reaper copied from the reaper image into the workload image.
pub fn reaper_entrypoint_containerfile(images: &Images) -> String {
    format!(
        "FROM {workload}\n\
         COPY --from={reaper} /reaper /reaper\n\
         ENTRYPOINT [\"/reaper\", \"--\"]\n\
         CMD [\"/zombie-init\"]\n",
        workload = images.zombie_init,
        reaper = images.reaper,
    )
}

/// reaper's `-w` line for a reaped orphan (docs/reaper.md, "Logs").
pub fn reaped_line(ns_pid: i32, name: &str) -> String {
    format!("reaper: reaped orphan pid={ns_pid} name={name} exit=0")
}

/// A private dockerd started by the test: its own data root, exec root, pidfile and unix socket in a
/// temporary directory, no iptables and no bridge, `--init-path` as given. Stopped (SIGTERM, then
/// SIGKILL after 30 s) and its directory removed on drop, even when the test fails.
pub struct Dockerd {
    pub dir: PathBuf,
    pub sock: PathBuf,
    pub log: PathBuf,
    child: std::process::Child,
}

impl Dockerd {
    pub fn start(dir: &Path, init_path: &Path) -> Dockerd {
        Dockerd::start_with(dir, init_path, &[])
    }

    /// [`Dockerd::start`] with more daemon flags (e.g. `--add-runtime NAME=PATH`).
    pub fn start_with(dir: &Path, init_path: &Path, extra: &[&std::ffi::OsStr]) -> Dockerd {
        Dockerd::launch(dir, Some(init_path), extra)
    }

    /// A private dockerd with Docker's own init (for tests that never run `--init`).
    pub fn start_without_init_path(dir: &Path) -> Dockerd {
        Dockerd::launch(dir, None, &[])
    }

    fn launch(dir: &Path, init_path: Option<&Path>, extra: &[&std::ffi::OsStr]) -> Dockerd {
        require_root();
        let sock = dir.join("docker.sock");
        let log = dir.join("dockerd.log");
        let logfile = fs::File::create(&log).expect("create dockerd log");
        let mut cmd = Command::new("dockerd");
        cmd.arg("--data-root")
            .arg(dir.join("data"))
            .arg("--exec-root")
            .arg(dir.join("exec"))
            .arg("--pidfile")
            .arg(dir.join("dockerd.pid"))
            .arg("-H")
            .arg(format!("unix://{}", sock.display()))
            .args([
                "--iptables=false",
                "--ip6tables=false",
                "--bridge=none",
                "--storage-driver=overlay2",
            ])
            .args(
                init_path
                    .iter()
                    .flat_map(|p| [std::ffi::OsStr::new("--init-path"), p.as_os_str()]),
            )
            .args(extra)
            .stdin(Stdio::null())
            .stdout(logfile.try_clone().unwrap())
            .stderr(logfile);
        let child = cmd.spawn().unwrap_or_else(|e| {
            panic!("cannot start dockerd: {e} (Debian package docker.io; scripts/setup.sh installs it)")
        });
        let mut d = Dockerd {
            dir: dir.to_path_buf(),
            sock,
            log,
            child,
        };
        poll("dockerd to answer on its socket", POLL_TIMEOUT, || {
            if let Ok(Some(st)) = d.child.try_wait() {
                panic!(
                    "dockerd exited ({st}) before it was ready; its log:\n{}",
                    d.log_text()
                );
            }
            let out = run(
                d.cli().args(["version", "--format", "{{.Server.Version}}"]),
                CMD_TIMEOUT,
            );
            if out.status.success() {
                Ok(())
            } else {
                Err(format!(
                    "{}\ndockerd log:\n{}",
                    out.describe(),
                    d.log_text()
                ))
            }
        });
        d
    }

    /// The docker CLI talking to this daemon (and keeping its config out of ~/.docker).
    pub fn cli(&self) -> Command {
        let mut c = Command::new("docker");
        c.arg("-H")
            .arg(format!("unix://{}", self.sock.display()))
            .env("DOCKER_CONFIG", self.dir.join("cli-config"));
        c
    }

    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `docker run -d --name NAME --network none ARGS...` (ARGS: more options, the image, the
    /// command); returns the container's id.
    pub fn run_detached(&self, name: &str, args: &[&str]) -> String {
        must(
            self.cli()
                .args(["run", "-d", "--name", name, "--network", "none"])
                .args(args),
        )
        .stdout
        .trim()
        .to_string()
    }

    /// Host pid of container `name`'s PID 1, once it runs.
    pub fn container_pid(&self, name: &str) -> i32 {
        poll(
            &format!("docker container {name} to run"),
            POLL_TIMEOUT,
            || {
                let out = run(
                    self.cli().args(["inspect", "-f", "{{.State.Pid}}", name]),
                    CMD_TIMEOUT,
                );
                match out.stdout.trim().parse::<i32>() {
                    Ok(p) if p > 0 => Ok(p),
                    _ => Err(out.describe()),
                }
            },
        )
    }

    /// Waits for the zombie-init report in the logs of container `name`.
    pub fn zombie_init_report(&self, name: &str) -> Report {
        poll(
            &format!("the zombie-init report in the logs of {name}"),
            POLL_TIMEOUT,
            || {
                let out = must(self.cli().args(["logs", name]));
                let logs = out.stdout + &out.stderr;
                Report::parse(&logs).ok_or(logs)
            },
        )
    }

    /// Imports the incident-1 workload ([`zombie_init_rootfs`], built and tarred in `work`) as
    /// `image`, with each of `changes` as a `docker import -c` (e.g. `CMD ["/zombie-init"]`).
    pub fn import_zombie_init(&self, work: &Path, image: &str, changes: &[&str]) {
        let rootfs = work.join("rootfs");
        zombie_init_rootfs(&rootfs);
        let tar = work.join("rootfs.tar");
        must(
            Command::new("tar")
                .arg("-C")
                .arg(&rootfs)
                .arg("-cf")
                .arg(&tar)
                .arg("."),
        );
        let mut import = self.cli();
        import.arg("import");
        for c in changes {
            import.args(["-c", c]);
        }
        must(import.arg(&tar).arg(image));
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        // Containers first (they hold mounts), then the daemon, then whatever it left mounted. Nothing
        // here may panic: a panic in a drop that runs while the test unwinds aborts the process and
        // leaves the daemon running.
        let ids = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run(self.cli().args(["ps", "-aq"]), Duration::from_secs(60)).stdout
        }))
        .unwrap_or_else(|_| {
            eprintln!("cannot list the private dockerd's containers (ignored)");
            String::new()
        });
        for id in ids.split_whitespace() {
            cleanup(self.cli().args(["rm", "-f", id]));
        }
        cleanup(Command::new("kill").args(["-TERM", &self.child.id().to_string()]));
        if !poll_until(Duration::from_secs(30), || {
            matches!(self.child.try_wait(), Ok(Some(_)) | Err(_))
        }) {
            eprintln!("dockerd did not stop on SIGTERM within 30 s: SIGKILL");
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let prefix = format!("{}/", self.dir.display());
        let mut mounts: Vec<String> = fs::read_to_string("/proc/self/mounts")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1).map(str::to_string))
            .filter(|m| m.starts_with(&prefix))
            .collect();
        mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in mounts {
            cleanup(Command::new("umount").args(["-l", &m]));
        }
        if let Err(e) = fs::remove_dir_all(&self.dir) {
            eprintln!("cannot remove {}: {e}", self.dir.display());
        }
    }
}

/// The init commit Docker's daemon reads from `<init> --version` (moby's parseInitVersion):
/// `tini version X - git.COMMIT` gives COMMIT; `None` when the line has no ` - git.` part.
pub fn docker_init_commit(version_output: &str) -> Option<String> {
    let (_, after) = version_output.split_once(" - ")?;
    let parts: Vec<&str> = after.trim().split('.').collect();
    match parts.as_slice() {
        ["git", commit] if !commit.is_empty() => Some(commit.to_string()),
        _ => None,
    }
}

/// A FROM-scratch root filesystem for `docker import`: Debian's static busybox with its applet links
/// and the zombie-init workload's two scripts (the same files as the podman image).
pub fn zombie_init_rootfs(dir: &Path) {
    let bin = dir.join("bin");
    fs::create_dir_all(&bin).unwrap();
    let busybox = which("busybox");
    fs::copy(&busybox, bin.join("busybox")).unwrap();
    let list = must(Command::new(&busybox).arg("--list")).stdout;
    for applet in list.split_whitespace().filter(|a| *a != "busybox") {
        std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
    }
    for f in ["zombie-init", "zombie-report"] {
        let dst = dir.join(f);
        fs::copy(workspace_root().join("e2e/incident1/image").join(f), &dst).unwrap();
        fs::set_permissions(&dst, fs::Permissions::from_mode(0o755)).unwrap();
    }
}

/// Path of a program on PATH; panics (a missing tool fails the test) when there is none.
pub fn which(name: &str) -> PathBuf {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join(name))
        .find(|p| is_executable_file(p))
        .unwrap_or_else(|| panic!("{name} is not installed (scripts/setup.sh installs it)"))
}
