//! What PROGRAM inherits and what reaper keeps for itself (docs/reaper.md "Spawns", "Hygiene"):
//! exactly the signal mask and ignored signals reaper inherited (Rust's SIGPIPE ignore must not leak;
//! what reaper's parent ignored stays ignored, like tini); reaper closes inherited fds >= 3 in itself
//! only (catatonit#12) and moves to `/` (catatonit#28) while PROGRAM keeps both; LISTEN_PID is
//! rewritten to PROGRAM's pid when it equals reaper's, left alone otherwise.
use integration::{
    helper, parse_status_field, pipe, sys, tool, wait_ready, wait_until, Init, Mode, Outcome,
    TempDir, DEADLINE, MODES,
};
use std::fs;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;

fn sig_field(out: &Outcome, key: &str) -> u64 {
    let v = parse_status_field(&out.stdout, key).unwrap_or_else(|| panic!("no {key} in\n{out}"));
    u64::from_str_radix(&v, 16).unwrap_or_else(|_| panic!("bad {key} {v:?}"))
}

/// `[unshare ...] sigsetup --ignore I --block B -- INIT cat /proc/self/status` and the child's
/// (SigIgn, SigBlk). sigsetup runs inside the namespace (it execs the init, which keeps pid 1) because
/// unshare, a glibc program, would silently drop signals 32 and 33 from the mask.
fn child_sig_state(init: Init, ignore: &[i32], block: &[i32]) -> (u64, u64, Outcome) {
    let list = |v: &[i32]| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join(",")
        }
    };
    let out = init
        .inner_wrapper([
            helper!("sigsetup"),
            "--ignore",
            &list(ignore),
            "--block",
            &list(block),
            "--",
        ])
        .args(["cat", "/proc/self/status"])
        .run();
    out.assert_code(0);
    (sig_field(&out, "SigIgn"), sig_field(&out, "SigBlk"), out)
}

/// The helper ignores and blocks signals before exec'ing reaper; PROGRAM's SigIgn/SigBlk equal
/// exactly what the helper set (nothing added, e.g. SIGPIPE, and nothing removed, e.g. SIGTERM or
/// SIGCHLD that reaper handles for itself). PID 1 and subreaper.
#[test]
fn child_inherits_exact_signal_state() {
    let cases: [(&[i32], &[i32]); 5] = [
        (&[sys::SIGHUP, sys::SIGUSR2], &[sys::SIGUSR1, 36]),
        (&[sys::SIGPIPE], &[]),
        (
            &[sys::SIGINT, sys::SIGTERM],
            &[sys::SIGCHLD, 34, sys::SIGTERM],
        ),
        (
            &[sys::SIGTTIN, sys::SIGTTOU, 40],
            &[sys::SIGTSTP, 32, 33, 64],
        ),
        (&[], &[]),
    ];
    for mode in MODES {
        for (ignore, block) in cases {
            let (ign, blk, out) = child_sig_state(Init::reaper(mode), ignore, block);
            assert_eq!(
                ign,
                sys::set_of(ignore),
                "{mode:?}: SigIgn {ign:#x} (SIGPIPE bit {:#x})\n{out}",
                sys::bit(13)
            );
            assert_eq!(blk, sys::set_of(block), "{mode:?}: SigBlk {blk:#x}\n{out}");
        }
    }
}

/// Started by the test (which hands it a clean state: nothing ignored, nothing blocked), PROGRAM
/// ignores and blocks nothing: in particular SIGPIPE is not ignored (Rust's runtime ignore must not
/// leak) and none of the signals reaper handles or blocks for itself shows up.
#[test]
fn clean_parent_gives_clean_child() {
    for mode in MODES {
        let out = Init::reaper(mode).args(["cat", "/proc/self/status"]).run();
        out.assert_code(0);
        assert_eq!(sig_field(&out, "SigIgn"), 0, "{mode:?}\n{out}");
        assert_eq!(sig_field(&out, "SigBlk"), 0, "{mode:?}\n{out}");
    }
}

/// Differential: tini keeps the inherited ignored/blocked signals too; reaper gives the child the
/// very same SigIgn/SigBlk as tini on the same case.
#[test]
fn differential_signal_state_with_tini() {
    let (ignore, block) = (&[sys::SIGHUP, sys::SIGUSR2][..], &[sys::SIGUSR1, 36][..]);
    for mode in MODES {
        let tini = Init::program(tool("tini"), mode).args(if mode == Mode::Pid1 {
            vec!["--"]
        } else {
            vec!["-s", "--"]
        });
        let (ti, tb, _) = child_sig_state(tini, ignore, block);
        let (ri, rb, out) = child_sig_state(Init::reaper(mode), ignore, block);
        assert_eq!(
            (ri, rb),
            (ti, tb),
            "{mode:?}: reaper (SigIgn, SigBlk) differs from tini's\n{out}"
        );
    }
}

/// The open fds of `pid`. Panics when its fd directory cannot be read: a process that is gone has no
/// fds, which would pass every "fd closed" check.
fn fd_targets(pid: i32) -> Vec<(i32, String)> {
    let rd = fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap_or_else(|e| panic!("cannot list the fds of pid {pid} (gone?): {e}"));
    let mut v = Vec::new();
    for e in rd.flatten() {
        if let (Some(n), Ok(t)) = (
            e.file_name().to_str().and_then(|s| s.parse().ok()),
            fs::read_link(e.path()),
        ) {
            v.push((n, t.to_string_lossy().into_owned()));
        }
    }
    v
}

/// catatonit#12 and #28: reaper started with a pipe's write end at fd 5 and its cwd in a temporary
/// directory closes the fd and moves to `/` in itself, while PROGRAM keeps fd 5 and the cwd.
#[test]
#[allow(unsafe_code)] // dup2/fcntl in the child: libc calls std does not wrap
fn reaper_closes_inherited_fds_and_leaves_cwd_child_keeps_them() {
    for mode in MODES {
        let dir = TempDir::new("fds");
        let cwd = dir.path().canonicalize().unwrap();
        let (ready, log) = (dir.file("ready"), dir.file("log"));
        let (r, w) = pipe();
        let pipe_link = format!(
            "pipe:[{}]",
            fs::metadata(format!("/proc/self/fd/{}", r.as_raw_fd()))
                .unwrap()
                .ino()
        );
        let wfd = w.as_raw_fd();
        let mut run = Init::reaper(mode)
            .cwd(&cwd)
            .pre_exec(move || {
                // SAFETY: dup2/fcntl are async-signal-safe. dup2 onto another number clears
                // close-on-exec; dup2(5, 5) would not, so then clear it by hand.
                let r = unsafe {
                    if wfd == 5 {
                        libc::fcntl(5, libc::F_SETFD, 0)
                    } else {
                        libc::dup2(wfd, 5)
                    }
                };
                if r < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            })
            .args([helper!("sigcatch"), "--ready", &ready, "--log", &log])
            .spawn();
        wait_ready(&ready);
        drop(w);
        let init = run.init_pid();
        let child = run.main_child();
        wait_until("reaper to close the inherited pipe", DEADLINE, || {
            !fd_targets(init).iter().any(|(_, t)| *t == pipe_link)
        });
        assert!(
            fd_targets(child).contains(&(5, pipe_link.clone())),
            "{mode:?}: PROGRAM must keep fd 5 ({pipe_link}); it has {:?}",
            fd_targets(child)
        );
        wait_until("reaper's cwd to be /", DEADLINE, || {
            fs::read_link(format!("/proc/{init}/cwd")).is_ok_and(|p| p == std::path::Path::new("/"))
        });
        assert_eq!(
            fs::read_link(format!("/proc/{child}/cwd")).unwrap(),
            cwd,
            "{mode:?}: PROGRAM's cwd"
        );
        for (fd, t) in fd_targets(init) {
            assert!(
                fd < 3 || !t.starts_with("pipe:") || t != pipe_link,
                "{mode:?}: reaper kept fd {fd} -> {t}"
            );
        }
        run.signal(sys::SIGTERM);
        run.wait(DEADLINE).assert_code(0);
    }
}

fn listen_line(out: &Outcome) -> (String, String) {
    let l = out
        .stdout
        .lines()
        .find(|l| l.starts_with("LP="))
        .unwrap_or_else(|| panic!("no LP= line\n{out}"));
    let mut it = l.split_whitespace();
    let lp = it.next().unwrap().trim_start_matches("LP=").to_string();
    let pid = it.next().unwrap().trim_start_matches("PID=").to_string();
    (lp, pid)
}

const SHOW: &str = r#"echo "LP=$LISTEN_PID PID=$$ FDS=$LISTEN_FDS""#;

/// Socket activation: `LISTEN_PID=$$ exec reaper ...` (so LISTEN_PID is reaper's own pid): PROGRAM
/// sees LISTEN_PID equal to its own pid. Another value is passed through unchanged, and so is
/// LISTEN_FDS.
#[test]
fn listen_pid_rewritten_only_when_it_is_reapers() {
    let reaper = integration::reaper_bin();
    for mode in MODES {
        let out = Init::program("/bin/sh", mode)
            .args(["-c", r#"LISTEN_PID=$$ LISTEN_FDS=1 exec "$@""#, "sh"])
            .arg(&reaper)
            .args(["sh", "-c", SHOW])
            .run();
        out.assert_code(0);
        let (lp, pid) = listen_line(&out);
        assert_eq!(lp, pid, "{mode:?}: LISTEN_PID must be PROGRAM's pid\n{out}");
        assert!(out.stdout.contains("FDS=1"), "{out}");

        let out = Init::reaper(mode)
            .env("LISTEN_PID", "99999")
            .env("LISTEN_FDS", "3")
            .args(["sh", "-c", SHOW])
            .run();
        let (lp, _) = listen_line(&out);
        assert_eq!(
            lp, "99999",
            "{mode:?}: a foreign LISTEN_PID must be left alone\n{out}"
        );
        assert!(out.stdout.contains("FDS=3"), "{out}");
    }
    // As PID 1, reaper's pid is 1: LISTEN_PID=1 is rewritten.
    let out = Init::reaper(Mode::Pid1)
        .env("LISTEN_PID", "1")
        .args(["sh", "-c", SHOW])
        .run();
    let (lp, pid) = listen_line(&out);
    assert_eq!(lp, pid, "PID 1: LISTEN_PID=1 is reaper's own\n{out}");
}

/// Logs go to stderr only: with `-v -v -v -w`, stdout carries PROGRAM's output and nothing else.
#[test]
fn logs_never_touch_stdout() {
    for mode in MODES {
        let out = Init::reaper(mode)
            .args([
                "-v",
                "-v",
                "-v",
                "-w",
                "sh",
                "-c",
                "echo out; (true &); exit 0",
            ])
            .run();
        out.assert_code(0);
        assert_eq!(out.stdout, "out\n", "{mode:?}\n{out}");
    }
}
