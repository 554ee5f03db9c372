//! The child's side of the spawn: everything between fork and exec. Only the child runs this code.

use crate::config::{Config, Forward};
use crate::out::Line;
use crate::persona::{emit, Event, Persona};
use crate::sys::{self, Errno, Fork, SigSet};
use crate::user::Identity;
use core::ffi::CStr;

/// Forks and execs PROGRAM; returns its pid. The child gets its own process group (or session), the
/// terminal's foreground when reaper held it, the signal mask reaper inherited, and the user asked for.
pub fn spawn(
    persona: &Persona,
    cfg: &Config,
    args: &sys::Args,
    identity: Option<&Identity>,
    inherited_mask: SigSet,
    chld_ignored: bool,
    foreground: bool,
) -> Result<i32, Errno> {
    // Socket activation: LISTEN_PID names the process meant to take the sockets; if it names reaper,
    // it means our child.
    let mut me = Line::new();
    me.n(sys::getpid() as i64);
    let listen_pid_is_ours = sys::getenv(c"LISTEN_PID") == Some(me.as_bytes());
    match sys::fork()? {
        Fork::Parent(pid) => Ok(pid),
        Fork::Child => child(
            (persona, cfg),
            args,
            identity,
            inherited_mask,
            chld_ignored,
            foreground,
            listen_pid_is_ours,
        ),
    }
}

fn child(
    (persona, cfg): (&Persona, &Config),
    args: &sys::Args,
    identity: Option<&Identity>,
    inherited_mask: SigSet,
    chld_ignored: bool,
    foreground: bool,
    listen_pid_is_ours: bool,
) -> ! {
    let (p, v) = (persona, cfg.verbosity);
    if cfg.forward == Forward::Session {
        let started = sys::setsid().is_ok();
        // Take the terminal reaper let go of (fails without one).
        if let Err(e) = sys::attach_tty(0) {
            emit(p, v, &Event::AttachFailed(e));
        }
        if started {
            emit(p, v, &Event::SessionStarted);
        }
    } else {
        let _ = sys::setpgid(0, 0);
        if foreground {
            // SIGTTOU is still blocked here, so a background group may take the foreground.
            let _ = sys::tcsetpgrp(0, sys::getpid());
        }
    }
    if listen_pid_is_ours {
        let mut pid = Line::new();
        pid.n(sys::getpid() as i64).b(b"\0");
        if let Ok(value) = CStr::from_bytes_until_nul(pid.as_bytes()) {
            let _ = sys::setenv(c"LISTEN_PID", value);
        }
    }
    if let Some(id) = identity {
        if let Err(err) = sys::set_identity(id.uid, id.gid, &id.groups) {
            emit(
                p,
                v,
                &Event::Failed {
                    what: "cannot switch to --user",
                    err,
                },
            );
            sys::exit(p.codes.fatal);
        }
        if let Some(home) = &id.home {
            let mut h = Line::new();
            h.b(home).b(b"\0");
            if let Ok(value) = CStr::from_bytes_until_nul(h.as_bytes()) {
                let _ = sys::setenv(c"HOME", value);
            }
        }
    }
    // Exactly the dispositions and mask reaper inherited: before the fork reaper changed only SIGCHLD
    // (handlers come after it, and exec would reset them anyway).
    if chld_ignored {
        let _ = sys::set_disposition(crate::signals::SIGCHLD, sys::Disposition::Ignore);
    }
    sys::set_sigmask(inherited_mask);
    let argv = args.tail(cfg.program);
    let err = sys::execvp(argv);
    // Saying why must not kill us with SIGPIPE (stderr a closed pipe): the exit status says it too.
    sys::set_sigmask(SigSet::of(crate::signals::SIGPIPE));
    emit(
        p,
        v,
        &Event::ExecFailed {
            prog: args.get(cfg.program),
            err,
        },
    );
    sys::exit(match err.0 {
        libc::ENOENT => p.codes.not_found,
        libc::EACCES | libc::ENOEXEC | libc::EISDIR | libc::ENOTDIR | libc::EPERM => {
            p.codes.not_executable
        }
        _ => p.codes.exec_other,
    })
}
