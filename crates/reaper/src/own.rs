//! reaper's own persona: its options, variables, help and words.

use crate::config::{self, Act, Config, EnvOpt, Forward, Opt, UsageError, When};
use crate::out::Line;
use crate::persona::{env, no_early, opt, push_sig, Codes, Event, Persona};
use crate::signals;
use crate::sys::Exit;

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

/// The license text printed by `--license` (and by tini's `-l`, catatonit's `-L`).
pub const LICENSE: &str =
    "reaper is free software under the MIT license (see the LICENSE file of its source).\n";

fn push_exit(l: &mut Line, exit: Exit) {
    let mut buf = [0u8; 12];
    match exit {
        Exit::Code(c) => l.s("exit=").n(c as i64),
        Exit::Signal(s) => l.s("signal=").b(signals::name(s, &mut buf).unwrap_or(b"?")),
    };
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
        Event::Summary { count, top } => push_summary(l, *count, top),
        Event::Shutdown { sig } => {
            l.s("stopping on ");
            push_sig(l, *sig);
        }
        Event::Usage(e) => {
            push_usage(l, e);
            l.s(" (see reaper --help)");
        }
    }
    true
}

/// `reaped N orphans; most common: NAME (N), ...` (or how to get the names).
fn push_summary(l: &mut Line, count: u64, top: &[(&[u8], u64)]) {
    l.s("reaped ")
        .n(count as i64)
        .s(if count == 1 { " orphan" } else { " orphans" });
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

/// `-x 'VALUE' REASON`: what was wrong on the command line or in the environment.
fn push_usage(l: &mut Line, e: &UsageError) {
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
    version: (
        concat!(
            "reaper ",
            env!("CARGO_PKG_VERSION"),
            " (git ",
            env!("REAPER_REVISION"),
            ")\n"
        ),
        1,
    ),
    codes: Codes {
        not_found: 127,
        not_executable: 126,
        exec_other: 126,
        usage: 2,
        fatal: 1,
    },
    render: render_reaper,
};
