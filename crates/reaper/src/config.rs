//! What reaper was asked to do, and the one table-driven parser that fills it for every persona.
//!
//! A persona (see `persona.rs`) is a table of options and environment variables whose actions set
//! fields of [`Config`]; the PID-1 core only ever reads a `Config` (and words events through its
//! persona). This module knows nothing of personas: they are built on it, and parsed by
//! `persona::parse`.

use crate::signals::{self, SIGTERM};
use crate::sys;
use core::ffi::CStr;

/// Where forwarded signals go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Forward {
    /// The child alone.
    Child,
    /// The child's process group.
    Group,
    /// The child's process group, the child leading a new session (dumb-init's default).
    Session,
}

/// Subreaper registration outside PID 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subreaper {
    /// Register; a failure is a warning (reaper, dumb-init, pause).
    Auto,
    /// Register; a failure is fatal (tini `-s`, catatonit).
    Required,
    /// Do not register (tini without `-s`: it warns instead).
    Off,
}

/// Everything the core needs to know, filled by the persona's options.
pub struct Config {
    /// Where forwarded signals go.
    pub forward: Forward,
    /// Signal rewrites: `rewrite[n]` is sent for signal `n`; 0 drops it.
    pub rewrite: [u8; 65],
    /// Whether the user rewrote signal `n` (job-control defaults do not override user rewrites).
    pub rewritten: sys::SigSet,
    /// Exit codes mapped to 0 (bit `n` of the 256-bit set).
    pub remap_exit: [u64; 4],
    /// Parent-death signal for reaper itself (0: none).
    pub pdeathsig: i32,
    /// `--user USER[:GROUP]` as given.
    pub user: Option<&'static [u8]>,
    /// Log each reaped orphan.
    pub warn_reaped: bool,
    /// 0 errors, 1 warnings (default), 2 info, 3 debug.
    pub verbosity: u8,
    /// Drain: grace period in milliseconds between the drain signal and SIGKILL.
    pub grace_ms: u64,
    /// Drain: first signal.
    pub drain_signal: i32,
    /// Drain remaining processes when the program exits (false: exit at once, as tini does).
    pub drain: bool,
    /// Outside PID 1: whether to register as child subreaper.
    pub subreaper: Subreaper,
    /// When PROGRAM exits, send SIGTERM to its process group before exiting (dumb-init).
    pub term_group_on_exit: bool,
    /// After forwarding SIGTSTP/SIGTTIN/SIGTTOU (whatever they became), stop reaper too (`-S`,
    /// dumb-init).
    pub stop_with_job: bool,
    /// Forward synchronous signals (SIGSEGV, ...) that another process sent (reaper, dumb-init);
    /// false: leave them their default action, as tini and catatonit do.
    pub forward_sync: bool,
    /// Signals reaper ignores instead of forwarding (tini: TTIN, TTOU; catatonit: TSTP too).
    pub ignored: sys::SigSet,
    /// Catch SIGCHLD to say "Received" (dumb-init's debug output); it is never forwarded.
    pub log_chld: bool,
    /// Pause mode: no child.
    pub pause: bool,
    /// Index in argv of PROGRAM (0: none given).
    pub program: usize,
}

impl Config {
    /// The defaults shared by every persona; the persona's `defaults` adjusts them.
    pub fn new() -> Config {
        let mut rewrite = [0u8; 65];
        for (n, r) in rewrite.iter_mut().enumerate() {
            *r = n as u8;
        }
        Config {
            forward: Forward::Child,
            rewrite,
            rewritten: sys::SigSet(0),
            remap_exit: [0; 4],
            pdeathsig: 0,
            user: None,
            warn_reaped: false,
            verbosity: 1,
            grace_ms: 5000,
            drain_signal: SIGTERM,
            drain: true,
            subreaper: Subreaper::Auto,
            term_group_on_exit: false,
            stop_with_job: false,
            forward_sync: true,
            log_chld: false,
            ignored: sys::SigSet(0),
            pause: false,
            program: 0,
        }
    }

    /// Sets a signal rewrite given by the user.
    pub fn set_rewrite(&mut self, from: i32, to: i32) {
        self.rewrite[from as usize] = to as u8;
        self.rewritten = self.rewritten.with(from);
    }

    /// Maps exit `code` to 0.
    pub fn add_remap(&mut self, code: u8) {
        self.remap_exit[(code / 64) as usize] |= 1 << (code % 64);
    }

    /// The status reaper exits with for a program status `code` (after the 128+N mapping).
    pub fn exit_code(&self, code: i32) -> i32 {
        let c = (code & 0xff) as u8;
        if self.remap_exit[(c / 64) as usize] & (1 << (c % 64)) != 0 {
            0
        } else {
            code & 0xff
        }
    }
}

/// What an option does when it is given.
#[derive(Clone, Copy)]
pub enum Act {
    /// A flag without argument.
    Set(fn(&mut Config)),
    /// An option with an argument; `Err` names what is wrong with the value.
    Value(fn(&mut Config, &'static [u8]) -> Result<(), &'static str>),
    /// Print help and exit.
    Help,
    /// Print the version and exit.
    Version,
    /// Print the license and exit.
    License,
}

/// A command-line option of a persona.
pub struct Opt {
    /// Short name (`b'g'` for `-g`), 0 for none.
    pub short: u8,
    /// Long name without dashes, "" for none.
    pub long: &'static str,
    /// What it does.
    pub act: Act,
    /// Key shared with its environment variable (a flag beats the variable with the same key).
    pub key: u8,
}

/// When an environment variable counts as given.
#[derive(Clone, Copy)]
pub enum When {
    /// Set to anything (tini, catatonit).
    Set,
    /// Set to exactly this value (dumb-init: `DUMB_INIT_SETSID=0`).
    Equals(&'static [u8]),
    /// reaper's booleans: 1/true/yes/on, or 0/false/no/off/empty for no; anything else is an error.
    Bool,
    /// Its value is the option's argument.
    Value,
}

/// An environment variable of a persona.
pub struct EnvOpt {
    /// The variable's name.
    pub name: &'static CStr,
    /// When it applies.
    pub when: When,
    /// What it does (`Set` for flags, `Value` for values).
    pub act: Act,
    /// The option key it stands for.
    pub key: u8,
}

/// A usage error: which option or variable, the value, and what is wrong.
pub struct UsageError {
    /// The option as written (`-r`, `--rewrite`, `REAPER_REWRITE`), or "" for a missing program.
    pub what: &'static [u8],
    /// The offending value (may be empty).
    pub value: &'static [u8],
    /// What is wrong, for a person.
    pub reason: &'static str,
}

/// The reasons of getopt's own errors: personas of getopt programs word them as getopt does.
/// (Statics, so that an error's reason is recognised by its address: no string comparison.)
pub static UNKNOWN: &str = "unknown option";
/// An option without its required value.
pub static NEEDS_VALUE: &str = "needs a value";
/// A long option given `=value` that takes none.
pub static NO_VALUE: &str = "takes no value";

impl UsageError {
    /// Whether this is one of getopt's own errors (unknown option, missing or unwanted value).
    pub fn is_getopt(&self) -> bool {
        self.getopt_kind().is_some()
    }

    /// 0 unknown option, 1 missing value, 2 unwanted value; `None` for other errors.
    fn getopt_kind(&self) -> Option<usize> {
        [UNKNOWN, NEEDS_VALUE, NO_VALUE]
            .iter()
            .position(|k| core::ptr::eq(k.as_ptr(), self.reason.as_ptr()))
    }

    /// Appends getopt's wording of this error (`PROG: invalid option -- 'x'`) and returns true, or
    /// returns false when it is not one of getopt's errors. `long`: the program uses getopt_long (a
    /// plain getopt takes `--yolo` for the option `-`).
    pub fn getopt(&self, l: &mut crate::out::Line, long: bool) -> bool {
        let Some(kind) = self.getopt_kind() else {
            return false;
        };
        let w = self.what;
        let is_long = w.len() > 1;
        l.b(sys::argv0()).s(": ");
        match (kind, is_long) {
            (0, true) if long => l.s("unrecognized option '").b(w).s("'"),
            (0, true) => l.s("invalid option -- '-'"),
            (0, false) => l.s("invalid option -- '").b(w).s("'"),
            (1, true) => l.s("option '").b(w).s("' requires an argument"),
            (1, false) => l.s("option requires an argument -- '").b(w).s("'"),
            _ => {
                let name = w.split(|&c| c == b'=').next().unwrap_or(w);
                l.s("option '").b(name).s("' doesn't allow an argument")
            }
        };
        true
    }
}

// ---------------------------------------------------------------------------------------------------
// Value parsers shared by the personas.

/// `FROM:TO` with signal names or numbers; TO = 0 drops FROM.
pub fn parse_rewrite(text: &[u8], max: i32) -> Result<(i32, i32), &'static str> {
    let colon = text
        .iter()
        .position(|&c| c == b':')
        .ok_or("is not FROM:TO")?;
    let from = signals::parse(&text[..colon])
        .filter(|&s| s <= max)
        .ok_or("has an unknown FROM signal")?;
    let to_text = &text[colon + 1..];
    let to = if to_text == b"0" {
        0
    } else {
        signals::parse(to_text)
            .filter(|&s| s <= max)
            .ok_or("has an unknown TO signal (0 drops)")?
    };
    Ok((from, to))
}

/// A duration: `10` (seconds), `1.5s`, `500ms`, `2m`. Returns milliseconds.
pub fn parse_duration(text: &[u8]) -> Result<u64, &'static str> {
    const BAD: &str = "is not a duration (e.g. 10, 1.5s, 500ms, 2m)";
    let (num, scale) = if let Some(n) = text.strip_suffix(b"ms") {
        (n, 1)
    } else if let Some(n) = text.strip_suffix(b"s") {
        (n, 1000)
    } else if let Some(n) = text.strip_suffix(b"m") {
        (n, 60_000)
    } else {
        (text, 1000)
    };
    let (int, frac) = match num.iter().position(|&c| c == b'.') {
        Some(dot) => (&num[..dot], &num[dot + 1..]),
        None => (num, &b""[..]),
    };
    let whole = signals::parse_uint(int, 1 << 40).ok_or(BAD)?;
    let mut ms = whole.checked_mul(scale).ok_or(BAD)?;
    if !frac.is_empty() {
        if frac.len() > 3 {
            return Err(BAD);
        }
        let f = signals::parse_uint(frac, 999).ok_or(BAD)?;
        let f = f * 10u64.pow(3 - frac.len() as u32); // thousandths
        ms += f * scale / 1000;
    }
    Ok(ms)
}

/// A list separated by commas (environment variables of repeatable options).
pub fn split_list(text: &'static [u8]) -> impl Iterator<Item = &'static [u8]> {
    text.split(|&c| c == b',').filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration(b"10"), Ok(10_000));
        assert_eq!(parse_duration(b"1.5s"), Ok(1500));
        assert_eq!(parse_duration(b"500ms"), Ok(500));
        assert_eq!(parse_duration(b"2m"), Ok(120_000));
        assert_eq!(parse_duration(b"0"), Ok(0));
        for bad in [&b""[..], b"s", b"1.2345s", b"-1", b"1h", b"x"] {
            assert!(parse_duration(bad).is_err());
        }
    }

    #[test]
    fn rewrites() {
        assert_eq!(parse_rewrite(b"TERM:INT", 64), Ok((15, 2)));
        assert_eq!(parse_rewrite(b"SIGUSR1:0", 64), Ok((10, 0)));
        assert_eq!(parse_rewrite(b"15:9", 64), Ok((15, 9)));
        assert!(parse_rewrite(b"TERM", 64).is_err());
        assert!(parse_rewrite(b"40:1", 31).is_err());
        assert!(parse_rewrite(b"TERM:", 64).is_err());
    }

    #[test]
    fn exit_remap() {
        let mut c = Config::new();
        c.add_remap(143);
        c.add_remap(0);
        assert_eq!(c.exit_code(143), 0);
        assert_eq!(c.exit_code(3), 3);
        assert_eq!(c.exit_code(255), 255);
    }
}
