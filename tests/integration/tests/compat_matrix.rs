//! The differential matrix: for each persona (tini, tini-static, docker-init, dumb-init, catatonit,
//! pause) a generated table of cases is run against the Debian original and against reaper invoked
//! under that name (pause, which has no Debian package, against its documented contract). Each case
//! compares the exit status, stdout, stderr (pids normalised) and the signals the child received.
//!
//! Every difference must be listed in docs/compat-differences.md (persona, case pattern, field,
//! reason). The test fails on a difference that is not listed, and on a listed one that no longer
//! occurs. It prints, per persona, how many cases ran and how many differed.
//!
//! Cases run in parallel on threads (`COMPAT_MATRIX_THREADS`, default 6): each run is mostly waiting
//! for processes, so more threads than cores pay off.
use integration::personas_support::{mask_has, real_path, Links, Via};
use integration::{
    helper, is_gone, stat, status_field, sys, wait_ready, Init, Mode, Pty, Running, SigLog,
    TempDir, DEADLINE,
};
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The signal that ends a `sigcatch` child once the case's signals were sent.
const FINISH: i32 = 64;

/// One case: a command line, environment and mode, and the signals sent to the init once its child
/// (a `sigcatch`, when `catch`) is ready.
#[derive(Clone, Debug)]
struct Case {
    name: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    mode: Mode,
    send: Vec<i32>,
    catch: bool,
    /// stdin is a terminal that is the controlling terminal of the init's session, which the init
    /// (or, as PID 1, unshare) leads.
    tty: bool,
}

/// What a run showed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Seen {
    status: String,
    stdout: String,
    stderr: String,
    signals: String,
}

const FIELDS: [&str; 4] = ["status", "stdout", "stderr", "signals"];

impl Seen {
    fn field(&self, f: &str) -> &str {
        match f {
            "status" => &self.status,
            "stdout" => &self.stdout,
            "stderr" => &self.stderr,
            _ => &self.signals,
        }
    }
}

fn mode_tag(m: Mode) -> &'static str {
    match m {
        Mode::Pid1 => "pid1",
        Mode::Subreaper => "sub",
    }
}

/// Builds cases: `add(name, args, env, send, catch)` once per mode (with a terminal when `tty`).
#[derive(Default)]
struct Cases {
    all: Vec<Case>,
    tty: bool,
}

impl Cases {
    fn add(&mut self, name: &str, args: &[&str], env: &[(&str, &str)], send: &[i32], catch: bool) {
        for mode in [Mode::Pid1, Mode::Subreaper] {
            let tty = if self.tty { "-tty" } else { "" };
            self.all.push(Case {
                name: format!("{name}{tty}-{}", mode_tag(mode)),
                args: args.iter().map(|s| s.to_string()).collect(),
                env: env
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                mode,
                send: send.to_vec(),
                catch,
                tty: self.tty,
            });
        }
    }

    /// PROGRAM exits with each code, and dies of each signal.
    fn exits(&mut self, prefix: &[&str]) {
        let tag = prefix.join("");
        for code in [0, 1, 2, 7, 126, 127, 128, 130, 143, 255] {
            let script = format!("exit {code}");
            let mut a = prefix.to_vec();
            a.extend(["/bin/sh", "-c", &script]);
            self.add(&format!("exit{tag}-{code}"), &a, &[], &[], false);
        }
        let selfkill = helper!("selfkill");
        for sig in [1, 2, 3, 6, 9, 10, 11, 12, 14, 15] {
            let s = sig.to_string();
            let mut a = prefix.to_vec();
            a.extend([selfkill, &s]);
            self.add(&format!("death{tag}-{sig}"), &a, &[], &[], false);
        }
    }

    /// The command lines every init (tini, dumb-init, catatonit) is run with: no PROGRAM, `--`
    /// alone, `-h`, `-- /bin/true`, and PROGRAMs that cannot be executed.
    fn argv_cases_all_share(&mut self) {
        for (name, args) in [
            ("usage-none", &[][..]),
            ("usage-dashdash-only", &["--"]),
            ("help", &["-h"]),
            ("dashdash-true", &["--", "/bin/true"]),
            ("exec-enoent", &["/nonexistent/prog"]),
            ("exec-dir", &["/etc"]),
            ("exec-noexec", &["/etc/passwd"]),
            ("exec-empty", &[""]),
        ] {
            self.add(name, args, &[], &[], false);
        }
    }

    /// Each signal in `sigs` sent to the init with `flags`, the child a `sigcatch`.
    fn signals(&mut self, tag: &str, flags: &[&str], env: &[(&str, &str)], sigs: &[i32]) {
        for &sig in sigs {
            self.add(&format!("sig{tag}-{sig}"), flags, env, &[sig], true);
        }
    }
}

/// 1..=64 without `skip`.
fn all_signals(skip: &[i32]) -> Vec<i32> {
    (1..=64).filter(|s| !skip.contains(s)).collect()
}

fn tini_cases() -> Vec<Case> {
    let mut c = Cases::default();
    let sigs = all_signals(&[sys::SIGKILL, sys::SIGSTOP]);
    c.signals("", &[], &[], &sigs);
    c.signals("-g", &["-g"], &[], &sigs);
    c.signals(
        "-env-group",
        &[],
        &[("TINI_KILL_PROCESS_GROUP", "1")],
        &[1, 2, 10, 15],
    );
    c.signals("-s", &["-s"], &[], &[2, 15]);
    c.signals("-vv", &["-vv"], &[], &[1, 2, 10, 15, 18, 28, 34, 64]);
    c.tty = true;
    c.signals("", &[], &[], &[1, 2, 15, 18, 20, 21, 22, 28]);
    c.signals("-g", &["-g"], &[], &[1, 2, 15, 20]);
    c.add("exit-3", &["/bin/sh", "-c", "exit 3"], &[], &[], false);
    c.add(
        "v-exit-3",
        &["-vv", "/bin/sh", "-c", "exit 3"],
        &[],
        &[],
        false,
    );
    c.tty = false;
    c.signals("-env-subreaper", &[], &[("TINI_SUBREAPER", "")], &[15]);
    c.exits(&[]);
    c.exits(&["-v"]);
    for (name, flags) in [
        ("e7-exit7", &["-e", "7", "/bin/sh", "-c", "exit 7"][..]),
        ("e7-exit8", &["-e", "7", "/bin/sh", "-c", "exit 8"]),
        ("e143-term", &["-e", "143", helper!("selfkill"), "15"]),
        ("e0-exit0", &["-e", "0", "/bin/true"]),
        ("e255-exit255", &["-e", "255", "/bin/sh", "-c", "exit 255"]),
        (
            "e1-e7-exit7",
            &["-e", "1", "-e", "7", "/bin/sh", "-c", "exit 7"],
        ),
        ("v-exit3", &["-v", "/bin/sh", "-c", "exit 3"]),
        ("vv-exit3", &["-vv", "/bin/sh", "-c", "exit 3"]),
        ("vvv-exit3", &["-vvv", "/bin/sh", "-c", "exit 3"]),
        ("v-v-exit3", &["-v", "-v", "/bin/sh", "-c", "exit 3"]),
        ("w-exit0", &["-w", "/bin/true"]),
        ("s-exit0", &["-s", "/bin/true"]),
        ("g-exit0", &["-g", "/bin/true"]),
        ("p-SIGKILL", &["-p", "SIGKILL", "/bin/true"]),
        ("p-SIGTERM", &["-p", "SIGTERM", "/bin/true"]),
        ("usage-x", &["-x"]),
        ("usage-yolo", &["--yolo"]),
        ("usage-x-prog", &["-x", "/bin/true"]),
        ("usage-p-missing", &["-p"]),
        ("usage-e-missing", &["-e"]),
        ("usage-p-FOO", &["-p", "FOO", "/bin/true"]),
        ("usage-p-TERM", &["-p", "TERM", "/bin/true"]),
        ("usage-p-15", &["-p", "15", "/bin/true"]),
        ("usage-e-300", &["-e", "300", "/bin/true"]),
        ("usage-e-x", &["-e", "x", "/bin/true"]),
        ("usage-e-neg", &["-e", "-1", "/bin/true"]),
        ("license", &["-l"]),
        ("version", &["--version"]),
        ("version-not-alone", &["--version", "/bin/true"]),
    ] {
        c.add(name, flags, &[], &[], false);
    }
    c.argv_cases_all_share();
    for (name, v) in [("0", "0"), ("2", "2"), ("3", "3"), ("x", "x")] {
        let script = ["/bin/sh", "-c", "exit 3"];
        c.add(
            &format!("env-verbosity-{name}"),
            &script,
            &[("TINI_VERBOSITY", v)],
            &[],
            false,
        );
    }
    c.all
}

fn dumb_init_cases() -> Vec<Case> {
    let mut c = Cases::default();
    // TSTP/TTIN/TTOU stop dumb-init itself (job control): covered by the persona tests.
    let sigs = all_signals(&[sys::SIGKILL, sys::SIGSTOP, 20, 21, 22]);
    c.signals("", &[], &[], &sigs);
    c.signals("-c", &["-c"], &[], &sigs);
    c.signals("-env-setsid0", &[], &[("DUMB_INIT_SETSID", "0")], &[10, 15]);
    c.signals("-v", &["-v"], &[], &[1, 2, 10, 15, 17, 28, 34, 64]);
    c.tty = true;
    c.signals("", &[], &[], &[1, 2, 10, 15, 18, 28]);
    c.signals("-c", &["-c"], &[], &[1, 2, 15, 18]);
    c.signals("-v", &["-v"], &[], &[1, 15, 18]);
    c.add("exit-3", &["/bin/sh", "-c", "exit 3"], &[], &[], false);
    c.add(
        "v-exit-3",
        &["-v", "/bin/sh", "-c", "exit 3"],
        &[],
        &[],
        false,
    );
    c.add(
        "v-c-exit-3",
        &["-v", "-c", "/bin/sh", "-c", "exit 3"],
        &[],
        &[],
        false,
    );
    c.tty = false;
    for v in [&[][..], &["-v"][..]] {
        let tag = v.join("");
        for (name, flags, sig) in [
            ("r15-10", &["-r", "15:10"][..], 15),
            ("r10-0", &["-r", "10:0"], 10),
            ("r2-10", &["-r", "2:10"], 2),
            ("r12-0", &["-r", "12:0"], 12),
            ("r28-1", &["-r", "28:1"], 28),
            ("r11-15", &["-r", "11:15"], 11),
            ("rewrite-long", &["--rewrite", "1:2"], 1),
        ] {
            let mut f = v.to_vec();
            f.extend(flags);
            c.signals(&format!("{tag}-{name}"), &f, &[], &[sig]);
        }
    }
    c.exits(&[]);
    c.exits(&["-c"]);
    for (name, flags) in [
        ("v-exit3", &["-v", "/bin/sh", "-c", "exit 3"][..]),
        ("v-c-exit3", &["-v", "-c", "/bin/sh", "-c", "exit 3"]),
        (
            "v-r15-0-exit3",
            &["-v", "-r", "15:0", "/bin/sh", "-c", "exit 3"],
        ),
        ("single-child-long", &["--single-child", "/bin/true"]),
        ("verbose-long", &["--verbose", "-c", "/bin/true"]),
        ("rewrite-eq", &["--rewrite=15:10", "/bin/true"]),
        ("long-abbrev-single", &["--single", "/bin/true"]),
        ("long-abbrev-rewrite-eq", &["--rew=15:10", "/bin/true"]),
        ("long-abbrev-verb", &["--verb", "-c", "/bin/true"]),
        ("long-abbrev-ambiguous", &["--ver", "/bin/true"]),
        ("usage-yolo", &["--yolo"]),
        ("usage-x", &["-x"]),
        ("usage-r-missing", &["-r"]),
        ("usage-r-empty", &["-r", "", "/bin/true"]),
        ("usage-r-herp", &["-r", "herp", "/bin/true"]),
        ("usage-r-herp-derp", &["-r", "herp:derp", "/bin/true"]),
        ("usage-r-15", &["-r", "15", "/bin/true"]),
        ("usage-r-15--12", &["-r", "15::12", "/bin/true"]),
        ("usage-r-15-derp", &["-r", "15:derp", "/bin/true"]),
        ("usage-r-0", &["-r", "0", "/bin/true"]),
        ("usage-r-1-32", &["-r", "1:32", "/bin/true"]),
        ("usage-r-0-1", &["-r", "0:1", "/bin/true"]),
        ("usage-r-32-1", &["-r", "32:1", "/bin/true"]),
        ("usage-r-echo", &["-r", "echo", "oh,", "hi"]),
        ("r1-0-ok", &["-r", "1:0", "/bin/true"]),
        ("help-long", &["--help"]),
        ("version", &["-V"]),
        ("version-long", &["--version"]),
        ("v-exec-enoent", &["-v", "/nonexistent/prog"]),
    ] {
        c.add(name, flags, &[], &[], false);
    }
    c.argv_cases_all_share();
    c.add(
        "env-debug",
        &["/bin/sh", "-c", "exit 3"],
        &[("DUMB_INIT_DEBUG", "1")],
        &[],
        false,
    );
    c.all
}

fn catatonit_cases() -> Vec<Case> {
    let mut c = Cases::default();
    let sigs = all_signals(&[sys::SIGKILL, sys::SIGSTOP]);
    c.signals("", &[], &[], &sigs);
    c.signals("-g", &["-g"], &[], &sigs);
    c.tty = true;
    c.signals("", &[], &[], &[1, 2, 15, 18, 20, 28]);
    c.add("exit-3", &["/bin/sh", "-c", "exit 3"], &[], &[], false);
    c.tty = false;
    c.exits(&[]);
    for (name, flags) in [
        ("g-exit0", &["-g", "/bin/true"][..]),
        ("usage-x", &["-x"]),
        ("usage-p", &["-p"]),
        ("usage-yolo", &["--yolo"]),
        ("license", &["-L"]),
        ("version", &["-V"]),
        ("version-long", &["--version"]),
        ("version-abbrev", &["--vers"]),
    ] {
        c.add(name, flags, &[], &[], false);
    }
    c.argv_cases_all_share();
    c.add(
        "env-debug",
        &["/bin/sh", "-c", "exit 3"],
        &[("CATATONIT_DEBUG", "1")],
        &[],
        false,
    );
    for (name, sigs) in [
        ("P-term", &[15][..]),
        ("P-int", &[2]),
        ("P-usr1-term", &[10, 15]),
        ("P-hup-int", &[1, 2]),
    ] {
        c.add(name, &["-P"], &[], sigs, false);
    }
    c.all
}

fn pause_cases() -> Vec<Case> {
    let mut c = Cases::default();
    for (tag, args) in [
        ("", &[][..]),
        ("-args", &["x", "--y"]),
        ("-dashdash", &["--"]),
    ] {
        for sig in all_signals(&[sys::SIGKILL, sys::SIGSTOP]) {
            c.add(&format!("sig{tag}-{sig}"), args, &[], &[sig], false);
        }
    }
    for (name, args) in [
        ("v", &["-v"][..]),
        ("V", &["-V"]),
        ("args-then-v", &["a", "-v"]),
        ("x-V-b", &["-x", "-V", "b"]),
    ] {
        c.add(name, args, &[], &[], false);
    }
    c.all
}

/// The pause contract, as a `Seen` for a case.
fn pause_expected(case: &Case) -> Seen {
    if case.args.iter().any(|a| a.eq_ignore_ascii_case("-v")) {
        return Seen {
            status: "exit 0".into(),
            stdout: "<version>\n".into(),
            ..Seen::default()
        };
    }
    let warning = match case.mode {
        Mode::Pid1 => "",
        Mode::Subreaper => "Warning: pause should be the first process\n",
    };
    let why = match case
        .send
        .iter()
        .find(|&&s| s == sys::SIGINT || s == sys::SIGTERM)
    {
        Some(&sys::SIGINT) => "Interrupt",
        _ => "Terminated",
    };
    Seen {
        status: "exit 0".into(),
        stderr: format!("{warning}Shutting down, got signal: {why}\n"),
        ..Seen::default()
    }
}

// ---------------------------------------------------------------------------------------------------
// Running a case.

/// Waits until the init can take signals (see tests/personas.rs: blocked, caught, or waiting for
/// them in rt_sigtimedwait), or has exited. False when it exited.
fn signals_set_up(run: &Running, pid: i32) -> bool {
    const SYS_RT_SIGTIMEDWAIT: &str = "128";
    let deadline = Instant::now() + DEADLINE;
    loop {
        if run.has_exited().is_some() || is_gone(pid) {
            return false;
        }
        let masked = ["SigBlk", "SigCgt"]
            .iter()
            .any(|k| status_field(pid, k).is_some_and(|m| mask_has(&m, sys::SIGTERM)));
        if masked
            || fs::read_to_string(format!("/proc/{pid}/syscall"))
                .is_ok_and(|s| s.split_whitespace().next() == Some(SYS_RT_SIGTIMEDWAIT))
        {
            return true;
        }
        assert!(
            Instant::now() < deadline,
            "{}: the init never set up its signals",
            run.described
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Sends `sig` to the init and waits until it is no longer pending there (taken, discarded as
/// ignored, or the init is gone).
fn send_and_settle(run: &Running, pid: i32, sig: i32) {
    let _ = sys::kill(pid, sig);
    let deadline = Instant::now() + DEADLINE;
    while !is_gone(pid) && run.has_exited().is_none() {
        let pending = ["SigPnd", "ShdPnd"]
            .iter()
            .any(|k| status_field(pid, k).is_some_and(|m| mask_has(&m, sig)));
        if !pending {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{}: signal {sig} stayed pending",
            run.described
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn status_text(st: std::process::ExitStatus) -> String {
    match (st.code(), st.signal()) {
        (Some(c), _) => format!("exit {c}"),
        (_, Some(s)) => format!("signal {s}"),
        _ => format!("{st:?}"),
    }
}

/// Runs `case` with `init` (the original or reaper, not yet given the case's arguments).
#[allow(unsafe_code)] // setsid/TIOCSCTTY in the child: libc calls std does not wrap
fn run_case(init: Init, case: &Case) -> Seen {
    let dir = TempDir::new("matrix");
    let (ready, log) = (dir.file("ready"), dir.file("log"));
    let mut init = init.args(&case.args);
    for (k, v) in &case.env {
        init = init.env(k, v);
    }
    if case.catch {
        init = init.arg(helper!("sigcatch")).args([
            "--ready",
            &ready,
            "--log",
            &log,
            "--exit-on",
            &FINISH.to_string(),
        ]);
    }
    let pty = case.tty.then(Pty::open);
    if let Some(pty) = &pty {
        // The init (or unshare) leads a new session whose controlling terminal is stdin.
        init = init.stdin(pty.slave_dup()).pre_exec(|| {
            // SAFETY: setsid and ioctl are async-signal-safe, in the forked child.
            if unsafe { libc::setsid() } < 0 || unsafe { libc::ioctl(0, libc::TIOCSCTTY, 0) } < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut run = init.spawn();
    let mut child = None;
    if case.catch || !case.send.is_empty() {
        let pid = run.init_pid();
        if case.catch {
            wait_ready(&ready);
            child = Some(run.main_child());
        }
        if signals_set_up(&run, pid) {
            for &sig in &case.send {
                send_and_settle(&run, pid, sig);
            }
            let child_alive = child.is_some_and(|c| stat(c).is_some_and(|s| s.state != 'Z'));
            if child_alive && !case.send.contains(&FINISH) {
                let _ = sys::kill(pid, FINISH);
            } else if child.is_none() && !is_gone(pid) {
                // No child (pause modes): SIGTERM ends it, unless the case already did.
                if !case
                    .send
                    .iter()
                    .any(|&s| s == sys::SIGTERM || s == sys::SIGINT)
                {
                    send_and_settle(&run, pid, sys::SIGTERM);
                }
            }
        }
    }
    let out = run.wait(DEADLINE);
    // An init killed by a signal leaves its child behind outside a namespace.
    if let Some(c) = child {
        if !is_gone(c) {
            let _ = sys::kill(c, sys::SIGKILL);
        }
    }
    let signals = if case.catch {
        SigLog(log)
            .read()
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(",")
    } else {
        String::new()
    };
    Seen {
        status: status_text(out.status),
        stdout: out.stdout,
        stderr: out.stderr,
        signals,
    }
}

// ---------------------------------------------------------------------------------------------------
// Normalising: pids, and the prose each side words its own way.

/// Replaces the digits after `(`, `:`, `PID `, `pid '`, `pid: '`, `pid=` by `PID`.
fn without_pids(text: &str) -> String {
    const BEFORE: [&str; 6] = ["(", "catatonit:", "PID ", "pid '", "pid: '", "pid="];
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if c.is_ascii_digit() && BEFORE.iter().any(|b| out.ends_with(b)) {
            let n = rest.chars().take_while(|c| c.is_ascii_digit()).count();
            out.push_str("PID");
            rest = &rest[n..];
        } else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// The first line of tini's three-line warning when it is neither PID 1 nor a subreaper (prose
/// follows it; the phrase tests grep, "zombie reaping won't work", is in its second line).
const TINI_WARNING_START: &str =
    "[WARN  tini (PID)] Tini is not running as PID PID and isn't registered as a child subreaper.";

/// Per side: the help text (our own prose on reaper's side), to replace by `<help>`, and the path
/// the init was run as (getopt's messages start with it), to replace by `PROG`.
struct Prose {
    help: String,
    argv0: String,
}

/// tini reaps after each signal it forwards: when a forwarded signal ends PROGRAM at once, tini may
/// reap it before taking the SIGCHLD, and then says no `Received SIGCHLD`. In cases that send
/// signals the line is left out on both sides.
const TINI_RACY_LINE: &str = "[DEBUG tini (PID)] Received SIGCHLD";

fn normalise(persona: &str, prose: &Prose, text: &str, sent: bool) -> String {
    let mut t = without_pids(text).replace(&prose.argv0, "PROG");
    if sent && persona != "dumb-init" {
        t = t
            .lines()
            .filter(|l| *l != TINI_RACY_LINE)
            .map(|l| format!("{l}\n"))
            .collect();
    }
    if !prose.help.trim().is_empty() {
        t = t.replace(&prose.help, "<help>\n");
    }
    let mut lines: Vec<String> = Vec::new();
    let mut skip = 0;
    for line in t.lines() {
        if skip > 0 {
            skip -= 1;
            continue;
        }
        if persona != "pause" && line.starts_with(TINI_WARNING_START) {
            skip = 2;
            lines.push("<not-pid1-warning>".into());
        } else if line.starts_with("[WARN  tini (PID)] ")
            && line.contains("zombie reaping won't work")
        {
            lines.push("<not-pid1-warning>".into());
        } else if persona == "pause" && line.starts_with("pause.c ") {
            lines.push("<version>".into());
        } else {
            lines.push(line.to_string());
        }
    }
    if persona == "dumb-init" {
        // The child says these between fork and exec, racing with dumb-init's own "Child spawned":
        // put them right after it, in their order.
        let is_child_line = |l: &String| {
            l == "[dumb-init] setsid complete."
                || l.starts_with("[dumb-init] Unable to attach to controlling tty")
                || l.ends_with(": No such file or directory")
                || l.ends_with(": Permission denied")
        };
        let child_lines: Vec<String> = lines.iter().filter(|l| is_child_line(l)).cloned().collect();
        lines.retain(|l| !is_child_line(l));
        if let Some(i) = lines
            .iter()
            .position(|l| l.starts_with("[dumb-init] Child spawned"))
        {
            for (k, l) in child_lines.into_iter().enumerate() {
                lines.insert(i + 1 + k, l);
            }
        } else {
            lines.extend(child_lines);
        }
    }
    let mut out = lines.join("\n");
    if t.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// tini prints its INFO/DEBUG/TRACE lines on stdout, reaper on stderr (so that they never mix with
/// the program's output): compare them where reaper prints them, after tini's own stderr lines.
fn tini_logs_on_stderr(persona: &str, seen: &Seen) -> Seen {
    if !persona.contains("tini") && persona != "docker-init" {
        return seen.clone();
    }
    let is_log = |l: &&str| {
        ["[INFO  tini", "[DEBUG tini", "[TRACE tini"]
            .iter()
            .any(|p| l.starts_with(p))
    };
    let logs: Vec<&str> = seen.stdout.lines().filter(is_log).collect();
    let rest: Vec<&str> = seen.stdout.lines().filter(|l| !is_log(l)).collect();
    let mut out = seen.clone();
    out.stdout = rest.iter().map(|l| format!("{l}\n")).collect();
    out.stderr += &logs.iter().map(|l| format!("{l}\n")).collect::<String>();
    out
}

// ---------------------------------------------------------------------------------------------------
// The list of known differences.

/// A row of docs/compat-differences.md: personas, case patterns, field, reason.
#[derive(Debug)]
struct Listed {
    personas: Vec<String>,
    cases: Vec<String>,
    field: String,
    reason: String,
    line: usize,
}

fn glob(pat: &str, s: &str) -> bool {
    match pat.split_once('*') {
        None => pat == s,
        Some((head, tail)) => {
            s.starts_with(head)
                && (0..=s.len() - head.len()).any(|k| glob(tail, &s[head.len() + k..]))
        }
    }
}

impl Listed {
    fn covers(&self, persona: &str, case: &str, field: &str) -> bool {
        self.field == field
            && self.personas.iter().any(|p| p == "*" || p == persona)
            && self.cases.iter().any(|c| glob(c, case))
    }
}

/// Reads the table rows of the differences file: `| personas | cases | field | reason |`, cells may
/// be in backticks, lists separated by commas.
fn listed_differences(path: &Path) -> Vec<Listed> {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut rows = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() != 6 || !cells[1].starts_with('`') {
            continue;
        }
        let list = |c: &str| -> Vec<String> {
            c.split(',')
                .map(|x| x.trim().trim_matches('`').to_string())
                .filter(|x| !x.is_empty())
                .collect()
        };
        let field = cells[3].trim_matches('`').to_string();
        assert!(
            FIELDS.contains(&field.as_str()),
            "{}:{}: field {field:?} is not one of {FIELDS:?}",
            path.display(),
            n + 1
        );
        rows.push(Listed {
            personas: list(cells[1]),
            cases: list(cells[2]),
            field,
            reason: cells[4].to_string(),
            line: n + 1,
        });
    }
    assert!(
        !rows.is_empty(),
        "{}: no difference rows found",
        path.display()
    );
    rows
}

// ---------------------------------------------------------------------------------------------------
// The matrix.

fn help_args(persona: &str) -> &'static [&'static str] {
    match persona {
        "pause" => &[],
        _ => &["-h"],
    }
}

fn side_init(links: &Links, persona: &str, real: bool, mode: Mode) -> Init {
    if real && persona != "pause" {
        Init::program(real_path(persona), mode).env("POSIXLY_CORRECT", "1")
    } else {
        links.reaper(persona, Via::Link, mode)
    }
}

fn argv0(links: &Links, persona: &str, real: bool) -> String {
    let p = if real {
        real_path(persona)
    } else {
        links.path(persona)
    };
    p.to_string_lossy().into_owned()
}

fn prose_of(links: &Links, persona: &str, real: bool) -> Prose {
    let args = help_args(persona);
    let argv0 = argv0(links, persona, real);
    if args.is_empty() {
        return Prose {
            help: String::new(),
            argv0,
        };
    }
    let out = side_init(links, persona, real, Mode::Subreaper)
        .args(args)
        .run();
    let help = if out.stdout.is_empty() {
        out.stderr
    } else {
        out.stdout
    };
    assert!(!help.is_empty(), "{persona} -h printed nothing");
    Prose {
        help: without_pids(&help).replace(&argv0, "PROG"),
        argv0,
    }
}

struct Job {
    persona: &'static str,
    case: usize,
    real: bool,
}

#[test]
fn differential_matrix() {
    let started = Instant::now();
    let links = Links::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let listed = listed_differences(&root.join("docs/compat-differences.md"));
    let mut personas: Vec<(&str, Vec<Case>)> = vec![
        ("tini", tini_cases()),
        ("tini-static", tini_cases()),
        ("docker-init", tini_cases()),
        ("dumb-init", dumb_init_cases()),
        ("catatonit", catatonit_cases()),
        ("pause", pause_cases()),
    ];
    for (p, cases) in &personas {
        assert!(cases.len() >= 300, "{p}: only {} cases", cases.len());
        let mut names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), cases.len(), "{p}: case names must be unique");
    }
    // For work on one persona: `COMPAT_MATRIX_ONLY=dumb-init` (the stale-row check is then skipped).
    let only = std::env::var("COMPAT_MATRIX_ONLY").ok();
    if let Some(only) = &only {
        personas.retain(|(p, _)| p == only);
        assert!(
            !personas.is_empty(),
            "COMPAT_MATRIX_ONLY={only} is not a persona"
        );
    }
    let mut prose: BTreeMap<(&str, bool), Prose> = BTreeMap::new();
    for (p, _) in &personas {
        for real in [true, false] {
            if real && *p == "pause" {
                continue;
            }
            prose.insert((p, real), prose_of(&links, p, real));
        }
    }
    let mut jobs = Vec::new();
    for (p, cases) in &personas {
        for i in 0..cases.len() {
            for real in [true, false] {
                if real && *p == "pause" {
                    continue;
                }
                jobs.push(Job {
                    persona: p,
                    case: i,
                    real,
                });
            }
        }
    }
    let threads: usize = std::env::var("COMPAT_MATRIX_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6);
    let next = AtomicUsize::new(0);
    let results: Mutex<BTreeMap<(&str, usize, bool), Seen>> = Mutex::new(BTreeMap::new());
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = jobs.get(i) else { break };
                let cases = &personas.iter().find(|(p, _)| *p == job.persona).unwrap().1;
                let case = &cases[job.case];
                let init = side_init(&links, job.persona, job.real, case.mode);
                let seen = run_case(init, case);
                results
                    .lock()
                    .unwrap()
                    .insert((job.persona, job.case, job.real), seen);
            });
        }
    });
    let results = results.into_inner().unwrap();

    let mut used = vec![0usize; listed.len()];
    let mut unlisted = Vec::new();
    let mut summary = String::new();
    for (p, cases) in &personas {
        let mut differing = 0;
        let mut fields = 0;
        for (i, case) in cases.iter().enumerate() {
            let mine = &results[&(*p, i, false)];
            let mine = Seen {
                stdout: normalise(p, &prose[&(*p, false)], &mine.stdout, case.catch),
                stderr: normalise(p, &prose[&(*p, false)], &mine.stderr, case.catch),
                ..mine.clone()
            };
            let theirs = if *p == "pause" {
                pause_expected(case)
            } else {
                let t = tini_logs_on_stderr(p, &results[&(*p, i, true)]);
                Seen {
                    stdout: normalise(p, &prose[&(*p, true)], &t.stdout, case.catch),
                    stderr: normalise(p, &prose[&(*p, true)], &t.stderr, case.catch),
                    ..t.clone()
                }
            };
            let mut any = false;
            for f in FIELDS {
                if mine.field(f) == theirs.field(f) {
                    continue;
                }
                any = true;
                fields += 1;
                match listed.iter().position(|l| l.covers(p, &case.name, f)) {
                    Some(k) => used[k] += 1,
                    None => unlisted.push(format!(
                        "{p} {} ({f}): {} {}\n  original: {:?}\n  reaper:   {:?}",
                        case.name,
                        case.args.join(" "),
                        case.env
                            .iter()
                            .map(|(k, v)| format!("{k}={v}"))
                            .collect::<Vec<_>>()
                            .join(" "),
                        theirs.field(f),
                        mine.field(f)
                    )),
                }
            }
            differing += any as usize;
        }
        summary += &format!(
            "  {p:<12} {:>4} cases, {differing:>3} differ ({fields} fields)\n",
            cases.len()
        );
    }
    let stale: Vec<String> = listed
        .iter()
        .zip(&used)
        .filter(|(_, &n)| n == 0 && only.is_none())
        .map(|(l, _)| {
            format!(
                "docs/compat-differences.md:{}: {:?} {:?} {} no longer differs ({})",
                l.line, l.personas, l.cases, l.field, l.reason
            )
        })
        .collect();
    let listed_summary: String = listed
        .iter()
        .zip(&used)
        .map(|(l, n)| {
            format!(
                "  line {:>3}: {n:>4} x {} {} {}\n",
                l.line,
                l.personas.join(","),
                l.cases.join(","),
                l.field
            )
        })
        .collect();
    println!(
        "differential matrix: {} runs in {:.1?} on {threads} threads\n{summary}listed differences used:\n{listed_summary}",
        jobs.len(),
        started.elapsed()
    );
    assert!(
        unlisted.is_empty() && stale.is_empty(),
        "{} unlisted difference(s):\n{}\n\n{} listed difference(s) that no longer occur:\n{}\n\nsummary:\n{summary}",
        unlisted.len(),
        unlisted.join("\n"),
        stale.len(),
        stale.join("\n")
    );
}
