//! Foreground hand-off (docs/reaper.md "Spawns"; tini#19: interactive programs hang without it).
//! Under a pseudo-terminal whose foreground group is reaper's, PROGRAM's group becomes the
//! foreground and an interactive read works; reaper ignores SIGTTIN/SIGTTOU itself but PROGRAM does
//! not inherit that. Started in the background, reaper never takes the foreground.
use integration::{helper, status_field, sys, tool, Init, Mode, Pty, Running, DEADLINE, MODES};

fn probe_fields(screen: &str) -> (i32, i32) {
    let line = screen
        .lines()
        .find(|l| l.contains("probe pid="))
        .unwrap_or_else(|| panic!("no probe line in {screen:?}"));
    let get = |k: &str| -> i32 {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(k))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("bad probe line {line:?}"))
    };
    (get("pgrp="), get("tpgid="))
}

/// Runs `[unshare...] ttyctl fg -- INIT ttyctl probe --read` on a fresh pty: ttyctl makes a new
/// session with the pty as controlling terminal and execs INIT, which is thus the session leader and
/// the foreground (as PID 1 too, exactly as a container runtime sets up `run -it`). PROGRAM must find
/// its own group in the foreground and be able to read a typed line.
/// The pty is returned too: closing the master before PROGRAM exits would hang the terminal up
/// (SIGHUP to the foreground group).
fn interactive(init: Init, who: &str) -> (Running, Pty) {
    let (mut run, pty, mut screen) = at_the_prompt(init, who);
    run.init_pid();
    type_a_line(&pty, &mut screen);
    (run, pty)
}

/// The first half of [`interactive`]: spawned, PROGRAM at its prompt and in the foreground. Returns
/// what the terminal showed so far.
fn at_the_prompt(init: Init, who: &str) -> (Running, Pty, String) {
    let pty = Pty::open();
    let run = init
        .inner_wrapper([helper!("ttyctl"), "fg", "--"])
        .args([helper!("ttyctl"), "probe", "--read"])
        .stdio(pty.slave_dup())
        .spawn();
    let mut screen = String::new();
    pty.read_until(&mut screen, "prompt>", DEADLINE);
    let (pgrp, tpgid) = probe_fields(&screen);
    assert_eq!(
        pgrp, tpgid,
        "{who}: PROGRAM's group must be the terminal's foreground\n{screen}"
    );
    (run, pty, screen)
}

/// The second half: a typed line reaches PROGRAM's read.
fn type_a_line(pty: &Pty, screen: &mut String) {
    pty.write("hello\n");
    pty.read_until(screen, "got:hello", DEADLINE);
}

/// tini#19: the interactive read works under reaper, as PID 1 and as subreaper; reaper ignores
/// SIGTTIN/SIGTTOU for itself after the hand-off, PROGRAM does not.
#[test]
fn foreground_handoff_interactive_read() {
    for mode in MODES {
        let (mut run, pty, mut screen) = at_the_prompt(Init::reaper(mode), &format!("{mode:?}"));
        // While PROGRAM waits for input: reaper ignores TTIN/TTOU, PROGRAM does not.
        let init = run.init_pid();
        let child = run.main_child();
        let ign =
            |pid: i32| u64::from_str_radix(&status_field(pid, "SigIgn").unwrap(), 16).unwrap();
        let ttio = sys::bit(sys::SIGTTIN) | sys::bit(sys::SIGTTOU);
        assert_eq!(
            ign(init) & ttio,
            ttio,
            "{mode:?}: reaper must ignore SIGTTIN/SIGTTOU after the hand-off"
        );
        assert_eq!(
            ign(child) & ttio,
            0,
            "{mode:?}: PROGRAM must not inherit reaper's TTIN/TTOU ignore"
        );
        assert_eq!(
            integration::stat(child).unwrap().tpgid,
            child,
            "{mode:?}: /proc tpgid of PROGRAM"
        );
        assert_eq!(pty.foreground(), child, "{mode:?}: TIOCGPGRP on the master");
        type_a_line(&pty, &mut screen);
        let out = run.wait(DEADLINE);
        out.assert_code(0);
    }
}

/// Differential: tini (which does the same hand-off) passes the same interactive case.
#[test]
fn differential_foreground_handoff_with_tini() {
    for mode in MODES {
        let tini = Init::program(tool("tini"), mode).args(if mode == Mode::Pid1 {
            vec!["--"]
        } else {
            vec!["-s", "--"]
        });
        for (who, init) in [("tini", tini), ("reaper", Init::reaper(mode))] {
            let (run, _pty) = interactive(init, who);
            let out = run.wait(DEADLINE);
            assert_eq!(out.status.code(), Some(0), "{who} {mode:?}\n{out}");
        }
    }
}

/// reaper started in a background process group of the terminal's session (`ttyctl bg -- [unshare
/// ...] reaper`, like `reaper ... &` typed in an interactive shell) must not
/// take the foreground: ttyctl's group keeps it, PROGRAM's group is not the foreground, and reaper
/// does not get stopped by SIGTTOU trying. PROGRAM then exits on the forwarded TERM.
#[test]
fn background_reaper_never_takes_the_foreground() {
    for mode in MODES {
        let pty = Pty::open();
        let mut run = Init::reaper(mode)
            .wrapper([helper!("ttyctl"), "bg", "--"])
            .args([helper!("ttyctl"), "probe", "--wait-term"])
            .stdio(pty.slave_dup())
            .spawn();
        let mut screen = String::new();
        pty.read_until(&mut screen, "tpgid=", DEADLINE);
        pty.read_until(&mut screen, "\n", DEADLINE);
        let (pgrp, tpgid) = probe_fields(&screen);
        assert_ne!(
            pgrp, tpgid,
            "{mode:?}: a background reaper handed PROGRAM the foreground\n{screen}"
        );
        let holder = run.pid(); // ttyctl: session leader, foreground group
        assert_eq!(
            pty.foreground(),
            holder,
            "{mode:?}: the foreground moved away from its holder"
        );
        let child = run.main_child();
        assert_ne!(integration::stat(child).unwrap().tpgid, child, "{mode:?}");
        run.signal(sys::SIGTERM);
        let out = run.wait(DEADLINE);
        out.assert_code(0);
    }
}
