//! Personas: the flags, variables, defaults and messages that make the one core behave as reaper, tini,
//! dumb-init, catatonit or pause. Each persona is data (tables) plus one `render` function that words
//! the core's events; nothing here runs processes.

use crate::compat;
use crate::config::{self, Act, Config, EnvOpt, Forward, Opt, UsageError, When};
use crate::out::Line;
use crate::signals;
use crate::sys::{Args, Errno, Exit};

/// How loud an event is: shown when `level <= verbosity`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Error = 0,
    Warn = 1,
    Info = 2,
    Debug = 3,
}

/// Something the core reports. The persona decides the words.
pub enum Event<'a> {
    /// PROGRAM could not be executed.
    ExecFailed { prog: &'a [u8], err: Errno },
    /// A system call reaper needs failed (`what` names it).
    Failed { what: &'a str, err: Errno },
    /// Not PID 1: whether orphans will come to us (subreaper), and why not.
    NotPid1 { subreaper: Result<(), Errno> },
    /// A child (PROGRAM or orphan) was reaped.
    ChildReaped { pid: i32, exit: Exit },
    /// The child started its own session (session mode; said by the child).
    SessionStarted,
    /// Session mode let go of the controlling terminal (Ok(true): as session leader), or could not.
    Detached(Result<bool, Errno>),
    /// The child could not take the terminal in its new session (said by the child).
    AttachFailed(Errno),
    /// A TTY hand-off signal was swallowed.
    Swallowed { sig: i32 },
    /// PROGRAM was started.
    Spawned { pid: i32, prog: &'a [u8] },
    /// A signal arrived.
    Received { sig: i32 },
    /// Signal `from` arrived and `sig` (`from` as rewritten; 0: nothing) was sent to `to` (0: nobody).
    Forwarded { sig: i32, from: i32, to: i32 },
    /// An orphan was reaped (with `-w`).
    Reaped {
        pid: i32,
        name: &'a [u8],
        exit: Exit,
    },
    /// PROGRAM exited.
    ProgramExited { exit: Exit },
    /// The drain starts: `count` processes remain.
    Draining {
        count: usize,
        sig: i32,
        grace_ms: u64,
    },
    /// The grace period ended with `count` processes left: SIGKILL.
    Killing { count: usize },
    /// At exit: how many orphans were reaped, and the most common names (empty: not collected).
    Summary {
        count: u64,
        top: &'a [(&'a [u8], u64)],
    },
    /// Pause mode was told to stop.
    Shutdown { sig: i32 },
    /// A bad command line or variable.
    Usage(&'a UsageError),
}

impl Event<'_> {
    /// The level at which the event is shown.
    pub fn level(&self) -> Level {
        match self {
            Event::ExecFailed { .. } | Event::Failed { .. } | Event::Usage(_) => Level::Error,
            Event::NotPid1 { .. } | Event::Killing { .. } | Event::Reaped { .. } => Level::Warn,
            Event::Summary { .. } | Event::Shutdown { .. } => Level::Warn,
            Event::Spawned { .. } | Event::ProgramExited { .. } | Event::Draining { .. } => {
                Level::Info
            }
            Event::Received { .. } | Event::Forwarded { .. } | Event::ChildReaped { .. } => {
                Level::Debug
            }
            Event::SessionStarted | Event::Swallowed { .. } => Level::Debug,
            Event::Detached(_) | Event::AttachFailed(_) => Level::Debug,
        }
    }
}

/// Exit codes a persona uses for its own failures.
#[derive(Clone, Copy)]
pub struct Codes {
    /// PROGRAM not found.
    pub not_found: i32,
    /// PROGRAM found but not executable.
    pub not_executable: i32,
    /// Any other exec failure.
    pub exec_other: i32,
    /// Bad command line.
    pub usage: i32,
    /// A system call reaper cannot do without failed.
    pub fatal: i32,
}

/// One persona: a table of options and variables mapped onto [`Config`], and its words.
pub struct Persona {
    /// The name it answers to (basename of `argv[0]` or `--compat NAME`).
    pub name: &'static str,
    /// Command-line options.
    pub opts: &'static [Opt],
    /// Environment variables.
    pub envs: &'static [EnvOpt],
    /// Adjusts the shared defaults.
    pub defaults: fn(&mut Config),
    /// Checked before option parsing (e.g. pause's `-v` anywhere): `Some` prints and exits.
    pub early: fn(&Args, usize) -> Option<Act>,
    /// Help text and where it goes (1 stdout, 2 stderr).
    pub help: (&'static str, i32),
    /// Print the help text on stderr after getopt's errors and when PROGRAM is missing (tini).
    pub usage_help: bool,
    /// Version line and where it goes.
    pub version: (&'static str, i32),
    /// Exit codes.
    pub codes: Codes,
    /// Words an event; returns false when the persona says nothing for it.
    pub render: fn(&Event, &mut Line) -> bool,
}

/// For personas with nothing to check before parsing.
pub(crate) fn no_early(_: &Args, _: usize) -> Option<Act> {
    None
}

// ---------------------------------------------------------------------------------------------------
// reaper's own persona.

mod key {
    pub const GROUP: u8 = 0;
    pub const SESSION: u8 = 1;
    pub const REWRITE: u8 = 2;
    pub const REMAP: u8 = 3;
    pub const PDEATH: u8 = 4;
    pub const USER: u8 = 5;
    pub const WARN: u8 = 6;
    pub const VERBOSE: u8 = 7;
    pub const GRACE: u8 = 8;
    pub const DRAIN_SIG: u8 = 9;
    pub const NO_DRAIN: u8 = 10;
    pub const SUBREAPER: u8 = 11;
    pub const INFO: u8 = 12;
}

fn set_group(c: &mut Config) {
    c.forward = Forward::Group;
}
fn set_session(c: &mut Config) {
    c.forward = Forward::Session;
    c.stop_with_job = true;
}
fn set_warn(c: &mut Config) {
    c.warn_reaped = true;
}
fn more_verbose(c: &mut Config) {
    c.verbosity = c.verbosity.saturating_add(1).min(3);
}
fn set_no_drain(c: &mut Config) {
    c.drain = false;
}
fn set_subreaper(_: &mut Config) {
    // reaper registers as subreaper whenever it is not PID 1; the flag is accepted for tini's users.
}
fn set_verbosity(c: &mut Config, v: &'static [u8]) -> Result<(), &'static str> {
    c.verbosity = signals::parse_uint(v, 3).ok_or("is not a verbosity from 0 to 3")? as u8;
    Ok(())
}
fn add_rewrite(c: &mut Config, v: &'static [u8]) -> Result<(), &'static str> {
    for item in config::split_list(v) {
        let (from, to) = config::parse_rewrite(item, signals::SIGRTMAX)?;
        c.set_rewrite(from, to);
    }
    Ok(())
}
fn add_remap(c: &mut Config, v: &'static [u8]) -> Result<(), &'static str> {
    for item in config::split_list(v) {
        c.add_remap(
            signals::parse_uint(item, 255).ok_or("is not an exit code from 0 to 255")? as u8,
        );
    }
    Ok(())
}
fn set_pdeathsig(c: &mut Config, v: &'static [u8]) -> Result<(), &'static str> {
    c.pdeathsig = signals::parse(v).ok_or("is not a signal name or number")?;
    Ok(())
}
fn set_user(c: &mut Config, v: &'static [u8]) -> Result<(), &'static str> {
    if v.is_empty() {
        return Err("is empty (use USER[:GROUP])");
    }
    c.user = Some(v);
    Ok(())
}
fn set_grace(c: &mut Config, v: &'static [u8]) -> Result<(), &'static str> {
    c.grace_ms = config::parse_duration(v)?;
    Ok(())
}
fn set_drain_signal(c: &mut Config, v: &'static [u8]) -> Result<(), &'static str> {
    c.drain_signal = signals::parse(v).ok_or("is not a signal name or number")?;
    Ok(())
}

/// A table row for an option.
pub(crate) const fn opt(short: u8, long: &'static str, act: Act, key: u8) -> Opt {
    Opt {
        short,
        long,
        act,
        key,
    }
}

/// A table row for an environment variable.
pub(crate) const fn env(name: &'static core::ffi::CStr, when: When, act: Act, key: u8) -> EnvOpt {
    EnvOpt {
        name,
        when,
        act,
        key,
    }
}

#[rustfmt::skip]
static REAPER_OPTS: [Opt; 16] = [
    opt(b'g', "group", Act::Set(set_group), key::GROUP),
    opt(b'S', "session", Act::Set(set_session), key::SESSION),
    opt(b'r', "rewrite", Act::Value(add_rewrite), key::REWRITE),
    opt(b'e', "remap-exit", Act::Value(add_remap), key::REMAP),
    opt(b'p', "pdeathsig", Act::Value(set_pdeathsig), key::PDEATH),
    opt(b'u', "user", Act::Value(set_user), key::USER),
    opt(b'w', "warn-reaped", Act::Set(set_warn), key::WARN),
    opt(b'v', "verbose", Act::Set(more_verbose), key::VERBOSE),
    opt(b't', "grace", Act::Value(set_grace), key::GRACE),
    opt(0, "drain-signal", Act::Value(set_drain_signal), key::DRAIN_SIG),
    opt(0, "no-drain", Act::Set(set_no_drain), key::NO_DRAIN),
    opt(b's', "subreaper", Act::Set(set_subreaper), key::SUBREAPER),
    opt(b'h', "help", Act::Help, key::INFO),
    opt(b'V', "version", Act::Version, key::INFO),
    opt(0, "license", Act::License, key::INFO),
    // `--compat` is handled before parsing (main.rs); listed so that `--help` and errors agree.
    opt(0, "compat", Act::Value(|_, _| Ok(())), key::INFO),
];

#[rustfmt::skip]
static REAPER_ENVS: [EnvOpt; 12] = [
    env(c"REAPER_GROUP", When::Bool, Act::Set(set_group), key::GROUP),
    env(c"REAPER_SESSION", When::Bool, Act::Set(set_session), key::SESSION),
    env(c"REAPER_REWRITE", When::Value, Act::Value(add_rewrite), key::REWRITE),
    env(c"REAPER_REMAP_EXIT", When::Value, Act::Value(add_remap), key::REMAP),
    env(c"REAPER_PDEATHSIG", When::Value, Act::Value(set_pdeathsig), key::PDEATH),
    env(c"REAPER_USER", When::Value, Act::Value(set_user), key::USER),
    env(c"REAPER_WARN_REAPED", When::Bool, Act::Set(set_warn), key::WARN),
    env(c"REAPER_VERBOSITY", When::Value, Act::Value(set_verbosity), key::VERBOSE),
    env(c"REAPER_GRACE", When::Value, Act::Value(set_grace), key::GRACE),
    env(c"REAPER_DRAIN_SIGNAL", When::Value, Act::Value(set_drain_signal), key::DRAIN_SIG),
    env(c"REAPER_NO_DRAIN", When::Bool, Act::Set(set_no_drain), key::NO_DRAIN),
    env(c"REAPER_SUBREAPER", When::Bool, Act::Set(set_subreaper), key::SUBREAPER),
];

fn reaper_defaults(_: &mut Config) {}

const REAPER_HELP: &str = "\
reaper: a PID 1 for containers and pods

Usage: reaper [OPTIONS] [--] PROGRAM [ARGS...]
       reaper pause [OPTIONS]

reaper starts PROGRAM, passes it the signals it receives, reaps every orphaned
process that lands on it, and exits with PROGRAM's status (128+N when signal N
killed it). When PROGRAM exits while other processes remain, reaper asks them to
stop, waits for them, and only then exits.

Options (each has an environment variable; a flag beats its variable):
  -g, --group               send signals to PROGRAM's process group   REAPER_GROUP=1
  -S, --session             run PROGRAM in a new session, signal the group;
                            TSTP/TTIN/TTOU become STOP                 REAPER_SESSION=1
  -r, --rewrite FROM:TO     send TO when FROM arrives; TO=0 drops FROM REAPER_REWRITE=A:B,C:D
  -e, --remap-exit CODE     exit 0 when PROGRAM's status is CODE       REAPER_REMAP_EXIT=143,130
  -p, --pdeathsig SIGNAL    signal reaper gets when its parent dies    REAPER_PDEATHSIG
  -u, --user USER[:GROUP]   run PROGRAM as this user (name or id)      REAPER_USER
  -w, --warn-reaped         log every orphan reaped                    REAPER_WARN_REAPED=1
  -v, --verbose             more logs (repeat for more)                REAPER_VERBOSITY=0..3
  -t, --grace DURATION      wait this long before SIGKILL when draining
                            (10, 1.5s, 500ms, 2m; default 5s)          REAPER_GRACE
      --drain-signal SIGNAL first signal of the drain (default TERM)   REAPER_DRAIN_SIGNAL
      --no-drain            exit as soon as PROGRAM exits              REAPER_NO_DRAIN=1
  -s, --subreaper           accepted for tini users (automatic)        REAPER_SUBREAPER=1
      --compat NAME         behave as tini, tini-static, docker-init,
                            dumb-init, catatonit or pause (first option)
                                                                       REAPER_COMPAT
  -h, --help                this text
  -V, --version             the version
      --license             the license

Signals are names (TERM, SIGTERM, RTMIN+2) or numbers. Logs go to stderr.
";

const REAPER_LICENSE: &str =
    "reaper is free software under the MIT license (see the LICENSE file of its source).\n";

/// The license text printed by `--license` (and by tini's `-l`, catatonit's `-L`).
pub const LICENSE: &str = REAPER_LICENSE;

fn push_exit(l: &mut Line, exit: Exit) {
    let mut buf = [0u8; 12];
    match exit {
        Exit::Code(c) => l.s("exit=").n(c as i64),
        Exit::Signal(s) => l.s("signal=").b(signals::name(s, &mut buf).unwrap_or(b"?")),
    };
}

/// Appends `SIGNAME`.
pub(crate) fn push_sig(l: &mut Line, sig: i32) {
    let mut buf = [0u8; 12];
    l.s("SIG").b(signals::name(sig, &mut buf).unwrap_or(b"?"));
}

fn render_reaper(ev: &Event, l: &mut Line) -> bool {
    l.s("reaper: ");
    match ev {
        Event::ExecFailed { prog, err } => {
            l.s("cannot run '").b(prog).s("': ").s(err.text());
            match err.0 {
                libc::ENOENT => l.s(" (check the name and PATH)"),
                libc::EACCES => l.s(" (is it executable?)"),
                _ => l,
            };
        }
        Event::Failed { what, err } => {
            l.s(what).s(": ").s(err.text());
        }
        Event::NotPid1 { subreaper: Ok(()) } => return false,
        Event::NotPid1 {
            subreaper: Err(err),
        } => {
            l.s("warning: not PID 1 and cannot register as child subreaper (")
                .s(err.text())
                .s("): orphans will not be reaped; run reaper as PID 1");
        }
        Event::ChildReaped { .. } | Event::SessionStarted => return false,
        Event::Detached(_) | Event::AttachFailed(_) => return false,
        Event::Swallowed { sig } => {
            l.s("ignored the terminal hand-off's ");
            push_sig(l, *sig);
        }
        Event::Spawned { pid, .. } => {
            l.s("started PROGRAM as pid ").n(*pid as i64);
        }
        Event::Received { sig } => {
            l.s("received ");
            push_sig(l, *sig);
        }
        Event::Forwarded { sig: 0, .. } | Event::Forwarded { to: 0, .. } => return false,
        Event::Forwarded { sig, to, .. } => {
            l.s("forwarded ");
            push_sig(l, *sig);
            l.s(" to ").n(*to as i64);
        }
        Event::Reaped { pid, name, exit } => {
            l.s("reaped orphan pid=")
                .n(*pid as i64)
                .s(" name=")
                .b(name)
                .s(" ");
            push_exit(l, *exit);
        }
        Event::ProgramExited { exit } => {
            l.s("PROGRAM exited: ");
            push_exit(l, *exit);
        }
        Event::Draining {
            count,
            sig,
            grace_ms,
        } => {
            l.s("draining ")
                .n(*count as i64)
                .s(" remaining process(es): ");
            push_sig(l, *sig);
            l.s(", then SIGKILL after ").n(*grace_ms as i64).s(" ms");
        }
        Event::Killing { count } => {
            l.s("grace period over: sending SIGKILL to ")
                .n(*count as i64)
                .s(" process(es)");
        }
        Event::Summary { count, top } => {
            l.s("reaped ")
                .n(*count as i64)
                .s(if *count == 1 { " orphan" } else { " orphans" });
            if top.is_empty() {
                l.s(" (run with -w to log their names)");
            } else {
                l.s("; most common: ");
                for (i, (name, n)) in top.iter().enumerate() {
                    if i > 0 {
                        l.s(", ");
                    }
                    l.b(name).s(" (").n(*n as i64).s(")");
                }
            }
        }
        Event::Shutdown { sig } => {
            l.s("stopping on ");
            push_sig(l, *sig);
        }
        Event::Usage(e) => {
            if e.what.is_empty() {
                l.s(e.reason);
            } else {
                if e.what.len() == 1 {
                    l.s("-");
                }
                l.b(e.what);
                if !e.value.is_empty() {
                    l.s(" '").b(e.value).s("'");
                }
                l.s(" ").s(e.reason);
            }
            l.s(" (see reaper --help)");
        }
    }
    true
}

/// reaper's own persona.
pub static REAPER: Persona = Persona {
    name: "reaper",
    opts: &REAPER_OPTS,
    envs: &REAPER_ENVS,
    defaults: reaper_defaults,
    early: no_early,
    help: (REAPER_HELP, 1),
    usage_help: false,
    version: (concat!("reaper ", env!("CARGO_PKG_VERSION"), "\n"), 1),
    codes: Codes {
        not_found: 127,
        not_executable: 126,
        exec_other: 126,
        usage: 2,
        fatal: 1,
    },
    render: render_reaper,
};

/// Every persona, looked up by name.
pub static ALL: [&Persona; 7] = [
    &REAPER,
    &compat::TINI,
    &compat::TINI_STATIC,
    &compat::DOCKER_INIT,
    &compat::DUMB_INIT,
    &compat::CATATONIT,
    &compat::PAUSE,
];

/// The persona called `name`, if any.
pub fn by_name(name: &[u8]) -> Option<&'static Persona> {
    ALL.iter().copied().find(|p| p.name.as_bytes() == name)
}
