//! What a persona is: the events the core reports and [`emit`], which words them; the tables of flags,
//! variables, defaults and exit codes that make the one core behave as reaper (`own.rs`), tini,
//! dumb-init, catatonit or pause (`compat.rs`). `registry.rs` lists them. Nothing here runs processes.

use crate::config::{Act, Config, EnvOpt, Opt, UsageError, When, NEEDS_VALUE, NO_VALUE, UNKNOWN};
use crate::out::Line;
use crate::signals;
use crate::sys::{self, Args, Errno, Exit};

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

/// Appends `SIGNAME`.
pub(crate) fn push_sig(l: &mut Line, sig: i32) {
    let mut buf = [0u8; 12];
    l.s("SIG").b(signals::name(sig, &mut buf).unwrap_or(b"?"));
}

/// Reports an event in the persona's words, when the verbosity allows it. Async-signal-safe (the
/// signal handler uses it): one fixed buffer, one non-blocking write.
pub fn emit(persona: &Persona, verbosity: u8, ev: &Event) {
    if ev.level() as u8 <= verbosity {
        let mut l = Line::new();
        if (persona.render)(ev, &mut l) {
            l.log();
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// The one table-driven parser, for every persona.

/// What parsing decided.
pub enum Parsed {
    /// Run with this configuration.
    Run(Config),
    /// Print this and exit 0 (help, version, license).
    Print(Act),
}

/// Parses argv (from index `first`) and the environment for `persona`. Parsing stops at the first
/// non-option and at `--`; flags are applied first, then the variables of the options no flag set,
/// so a flag always beats its variable.
pub fn parse(persona: &'static Persona, args: &Args, first: usize) -> Result<Parsed, UsageError> {
    let mut cfg = Config::new();
    (persona.defaults)(&mut cfg);
    if let Some(act) = (persona.early)(args, first) {
        return Ok(Parsed::Print(act));
    }
    if persona.opts.is_empty() {
        return Ok(Parsed::Run(cfg)); // pause takes no arguments and ignores what it is given
    }
    let mut seen: u64 = 0;
    let mut i = first;
    while i < args.len() {
        let arg = args.get(i);
        if arg == b"--" {
            i += 1;
            break;
        }
        if arg.len() < 2 || arg[0] != b'-' {
            break; // the first non-option is PROGRAM
        }
        let done = match arg.strip_prefix(b"--") {
            Some(long) => parse_long(persona, args, &mut i, arg, long, &mut cfg, &mut seen)?,
            None => parse_shorts(persona, args, &mut i, arg, &mut cfg, &mut seen)?,
        };
        if let Some(done) = done {
            return Ok(done);
        }
        i += 1;
    }
    apply_env(persona, &mut cfg, seen)?;
    if i < args.len() {
        cfg.program = i;
    }
    Ok(Parsed::Run(cfg))
}

/// One `--name`, `--name=value` or `--name value` (then `i` is moved past the value).
fn parse_long(
    persona: &'static Persona,
    args: &Args,
    i: &mut usize,
    arg: &'static [u8],
    long: &'static [u8],
    cfg: &mut Config,
    seen: &mut u64,
) -> Result<Option<Parsed>, UsageError> {
    let (name, inline) = match long.iter().position(|&c| c == b'=') {
        Some(eq) => (&long[..eq], Some(&long[eq + 1..])),
        None => (long, None),
    };
    // As getopt_long: the exact name, else the one option the text abbreviates (an ambiguous
    // abbreviation is refused as unknown).
    let mut matching = persona
        .opts
        .iter()
        .filter(|o| !name.is_empty() && o.long.as_bytes().starts_with(name));
    let first = matching.clone().find(|o| o.long.len() == name.len());
    let opt = first.or_else(|| matching.next().filter(|_| matching.next().is_none()));
    let Some(opt) = opt else {
        return Err(UsageError {
            what: arg,
            value: b"",
            reason: UNKNOWN,
        });
    };
    let value = match (opt.act, inline) {
        (Act::Value(_), Some(v)) => Some(v),
        (Act::Value(_), None) => {
            *i += 1;
            if *i >= args.len() {
                return Err(UsageError {
                    what: arg,
                    value: b"",
                    reason: NEEDS_VALUE,
                });
            }
            Some(args.get(*i))
        }
        (_, Some(_)) => {
            return Err(UsageError {
                what: arg,
                value: b"",
                reason: NO_VALUE,
            })
        }
        (_, None) => None,
    };
    let done = apply(cfg, opt.act, value, arg)?;
    *seen |= 1 << opt.key;
    Ok(done)
}

/// A cluster of short options: `-gw`, `-v -v`, `-rTERM:INT` or `-r TERM:INT` (then `i` is moved
/// past the value).
fn parse_shorts(
    persona: &'static Persona,
    args: &Args,
    i: &mut usize,
    arg: &'static [u8],
    cfg: &mut Config,
    seen: &mut u64,
) -> Result<Option<Parsed>, UsageError> {
    let mut j = 1;
    while j < arg.len() {
        let c = arg[j];
        let Some(opt) = persona.opts.iter().find(|o| o.short == c) else {
            return Err(UsageError {
                what: short_name(c),
                value: b"",
                reason: UNKNOWN,
            });
        };
        let mut value = None;
        if let Act::Value(_) = opt.act {
            if j + 1 < arg.len() {
                value = Some(&arg[j + 1..]);
            } else {
                *i += 1;
                if *i >= args.len() {
                    return Err(UsageError {
                        what: short_name(c),
                        value: b"",
                        reason: NEEDS_VALUE,
                    });
                }
                value = Some(args.get(*i));
            }
            j = arg.len();
        } else {
            j += 1;
        }
        if let Some(done) = apply(cfg, opt.act, value, short_name(c))? {
            return Ok(Some(done));
        }
        *seen |= 1 << opt.key;
    }
    Ok(None)
}

/// The variables of the options no flag set (bit `key` of `seen`).
fn apply_env(persona: &Persona, cfg: &mut Config, seen: u64) -> Result<(), UsageError> {
    for env in persona.envs {
        if seen & (1 << env.key) != 0 {
            continue;
        }
        let Some(value) = sys::getenv(env.name) else {
            continue;
        };
        let what = env.name.to_bytes();
        let given = match env.when {
            When::Set => true,
            When::Equals(v) => value == v,
            When::Value => true,
            When::Bool => match value {
                b"1" | b"true" | b"yes" | b"on" => true,
                b"" | b"0" | b"false" | b"no" | b"off" => false,
                _ => {
                    return Err(UsageError {
                        what,
                        value,
                        reason: "is not a boolean (use 1 or 0)",
                    })
                }
            },
        };
        if given {
            apply(cfg, env.act, Some(value), what)?;
        }
    }
    Ok(())
}

fn apply(
    cfg: &mut Config,
    act: Act,
    value: Option<&'static [u8]>,
    what: &'static [u8],
) -> Result<Option<Parsed>, UsageError> {
    match act {
        Act::Set(f) => f(cfg),
        Act::Value(f) => {
            let v = value.unwrap_or(b"");
            f(cfg, v).map_err(|reason| UsageError {
                what,
                value: v,
                reason,
            })?;
        }
        Act::Help | Act::Version | Act::License => return Ok(Some(Parsed::Print(act))),
    }
    Ok(None)
}

/// `-c` as a static byte string, for error messages.
fn short_name(c: u8) -> &'static [u8] {
    const ALL: &[u8; 256] = &{
        let mut a = [0u8; 256];
        let mut i = 0;
        while i < 256 {
            a[i] = i as u8;
            i += 1;
        }
        a
    };
    // Messages print "-" then the letter; the letter is a one-byte static slice.
    &ALL[c as usize..c as usize + 1]
}
