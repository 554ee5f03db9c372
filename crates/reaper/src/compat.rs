//! The drop-in personas: tini (also tini-static and docker-init), dumb-init, catatonit and the
//! Kubernetes pause. Each is a table of flags and variables onto [`Config`] plus the words of its
//! messages; the machine-read strings (version lines, log prefixes, the phrases scripts grep for) are
//! the originals', the help prose is ours. Where reaper is deliberately better (no SIGTSTP blocking in
//! catatonit, subreaper registration in dumb-init and pause) nothing in the contract changes.

use crate::config::{self, Act, Config, EnvOpt, Forward, Opt, Subreaper, UsageError, When};
use crate::out::Line;
use crate::persona::{env, no_early, opt, push_sig, Codes, Event, Level, Persona};
use crate::signals;
use crate::sys::{self, Args, Exit, SigSet};

/// Appends `[LEVEL tini (PID)] ` for an event's level.
fn pid_prefix(l: &mut Line, before: &str, after: &str) {
    l.s(before).n(sys::getpid() as i64).s(after);
}

/// Appends what glibc's `strsignal` says of `sig`.
fn push_description(l: &mut Line, sig: i32) {
    let (words, n) = signals::description(sig);
    l.b(words);
    if let Some(n) = n {
        l.n(n as i64);
    }
}

fn usage_reason(l: &mut Line, e: &config::UsageError) {
    if e.what.len() == 1 {
        l.s("-");
    }
    l.b(e.what);
    if !e.value.is_empty() {
        l.s(" '").b(e.value).s("'");
    }
    if !e.what.is_empty() {
        l.s(" ");
    }
    l.s(e.reason);
}

// ---------------------------------------------------------------------------------------------------
// tini 0.19 (tini, tini-static, docker-init)

fn tini_subreaper(c: &mut Config) {
    c.subreaper = Subreaper::Required;
}
fn tini_group(c: &mut Config) {
    c.forward = Forward::Group;
}
fn tini_warn(c: &mut Config) {
    c.warn_reaped = true;
}
fn tini_verbose(c: &mut Config) {
    c.verbosity = c.verbosity.saturating_add(1).min(3);
}
fn tini_verbosity(c: &mut Config, v: &'static [u8]) -> Result<(), &'static str> {
    // tini reads it with atoi: leading digits, anything else counts as 0; it never refuses it.
    let digits = v.iter().take_while(|b| b.is_ascii_digit()).count();
    c.verbosity = signals::parse_uint(&v[..digits], u64::MAX)
        .unwrap_or(0)
        .min(3) as u8;
    Ok(())
}
fn tini_pdeathsig(c: &mut Config, v: &'static [u8]) -> Result<(), &'static str> {
    // tini takes the full name only: SIGTERM, not TERM or 15.
    let named = v.starts_with(b"SIG")
        && v.len() > 3
        && v.iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    c.pdeathsig = signals::parse(v)
        .filter(|_| named)
        .ok_or("is not a valid signal (e.g. SIGKILL)")?;
    Ok(())
}
fn tini_remap(c: &mut Config, v: &'static [u8]) -> Result<(), &'static str> {
    c.add_remap(signals::parse_uint(v, 255).ok_or("is not an exit code from 0 to 255")? as u8);
    Ok(())
}

#[rustfmt::skip]
static TINI_OPTS: [Opt; 8] = [
    opt(b's', "", Act::Set(tini_subreaper), 0),
    opt(b'p', "", Act::Value(tini_pdeathsig), 1),
    opt(b'v', "", Act::Set(tini_verbose), 2),
    opt(b'w', "", Act::Set(tini_warn), 3),
    opt(b'g', "", Act::Set(tini_group), 4),
    opt(b'e', "", Act::Value(tini_remap), 5),
    opt(b'h', "", Act::Help, 6),
    opt(b'l', "", Act::License, 6),
];

#[rustfmt::skip]
static TINI_ENVS: [EnvOpt; 3] = [
    env(c"TINI_SUBREAPER", When::Set, Act::Set(tini_subreaper), 0),
    env(c"TINI_VERBOSITY", When::Value, Act::Value(tini_verbosity), 2),
    env(c"TINI_KILL_PROCESS_GROUP", When::Set, Act::Set(tini_group), 4),
];

fn tini_defaults(c: &mut Config) {
    c.ignored = SigSet::of(signals::SIGTTIN).with(signals::SIGTTOU); // tini ignores them
    c.forward_sync = false; // tini leaves SIGSEGV & co. their default action
    c.subreaper = Subreaper::Off; // tini warns instead, unless -s or TINI_SUBREAPER
    c.drain = false; // the main child's exit ends tini at once
}

/// `--version` counts only as the sole argument.
fn tini_early(args: &Args, first: usize) -> Option<Act> {
    (args.len() == first + 1 && args.get(first) == b"--version").then_some(Act::Version)
}

const TINI_HELP: &str = "\
tini (reaper's tini persona)
Usage: tini [OPTIONS] PROGRAM -- [ARGS] | --version

Runs PROGRAM as the child of an init that forwards signals and reaps zombies.

  --version     print the version (only as the sole argument)
  -h            this help
  -s            register as child subreaper (when not PID 1)
  -p SIGNAL     signal to receive when the parent dies, e.g. -p SIGKILL
  -v            more output (repeat up to 3 times)
  -w            warn about every zombie reaped
  -g            send signals to the child's process group
  -e EXIT_CODE  exit 0 when the child exits with EXIT_CODE (0..255)
  -l            print the license

Environment: TINI_SUBREAPER (-s), TINI_VERBOSITY=N, TINI_KILL_PROCESS_GROUP (-g).
";

fn render_tini(ev: &Event, l: &mut Line) -> bool {
    let tag = match ev.level() {
        Level::Error => "[FATAL tini (",
        Level::Warn => "[WARN  tini (",
        Level::Info => "[INFO  tini (",
        Level::Debug => "[DEBUG tini (",
    };
    match ev {
        // getopt's line or nothing (no PROGRAM): the help text follows (main.rs).
        Event::Usage(e) if e.what.is_empty() => return false,
        Event::Usage(e) if e.getopt(l, false) => return true,
        Event::Usage(e) => {
            pid_prefix(l, "[FATAL tini (", ")] Not a valid option for -");
            l.b(e.what).s(": ").b(e.value);
            return true;
        }
        Event::Summary { .. }
        | Event::Draining { .. }
        | Event::Killing { .. }
        | Event::SessionStarted => return false,
        Event::NotPid1 { subreaper: Ok(()) } | Event::Swallowed { .. } | Event::Shutdown { .. } => {
            return false
        }
        Event::Forwarded { .. } => return false,
        _ => {}
    }
    pid_prefix(l, tag, ")] ");
    match ev {
        Event::ExecFailed { prog, err } => {
            l.s("exec ").b(prog).s(" failed: ").s(err.text());
        }
        Event::Failed { what, err } => {
            l.s(what).s(" failed: ").s(err.text());
        }
        Event::NotPid1 { .. } => {
            l.s("not running as PID 1 and not registered as a child subreaper: orphans will not come here, ")
                .s("so zombie reaping won't work. Use -s or TINI_SUBREAPER, or run tini as PID 1.");
        }
        Event::Spawned { pid, prog } => {
            l.s("Spawned child process '")
                .b(prog)
                .s("' with pid '")
                .n(*pid as i64)
                .s("'");
        }
        Event::Received { sig } => {
            l.s("Passing signal: '");
            push_description(l, *sig);
            l.s("'");
        }
        Event::ChildReaped { pid, .. } => {
            l.s("Received SIGCHLD\n");
            pid_prefix(l, tag, ")] Reaped child with pid: '");
            l.n(*pid as i64).s("'");
        }
        Event::Reaped { pid, .. } => {
            l.s("Reaped zombie process with pid=").n(*pid as i64);
        }
        Event::ProgramExited {
            exit: Exit::Code(c),
        } => {
            l.s("Main child exited normally (with status '")
                .n(*c as i64)
                .s("')");
        }
        Event::ProgramExited {
            exit: Exit::Signal(s),
        } => {
            l.s("Main child exited with signal (with signal '");
            push_description(l, *s);
            l.s("')");
        }
        _ => return false,
    }
    true
}

const TINI_CODES: Codes = Codes {
    not_found: 127,
    not_executable: 126,
    exec_other: 1,
    usage: 1,
    fatal: 1,
};
/// The version line Docker's `docker info` parses (`tini version X - git.Y`).
const TINI_VERSION: &str = "tini version 0.19.0 - git.reaper\n";

/// tini, as Debian installs it.
pub static TINI: Persona = tini_named("tini");

/// tini-static: the same contract.
pub static TINI_STATIC: Persona = tini_named("tini-static");

/// docker-init: Docker's name for tini (`docker run --init`).
pub static DOCKER_INIT: Persona = tini_named("docker-init");

const fn tini_named(name: &'static str) -> Persona {
    Persona {
        name,
        opts: &TINI_OPTS,
        envs: &TINI_ENVS,
        defaults: tini_defaults,
        early: tini_early,
        help: (TINI_HELP, 1),
        usage_help: true,
        version: (TINI_VERSION, 1),
        codes: TINI_CODES,
        render: render_tini,
    }
}

// ---------------------------------------------------------------------------------------------------
// dumb-init 1.2.5

fn di_single(c: &mut Config) {
    c.forward = Forward::Child;
}
fn di_verbose(c: &mut Config) {
    c.verbosity = 3;
    c.log_chld = true;
}
fn di_rewrite(c: &mut Config, v: &'static [u8]) -> Result<(), &'static str> {
    // Numbers as dumb-init takes them (1..31 to 0..31); names too, which dumb-init#87 asks for.
    let (from, to) = config::parse_rewrite(v, 31)?;
    c.set_rewrite(from, to);
    Ok(())
}

#[rustfmt::skip]
static DI_OPTS: [Opt; 5] = [
    opt(b'c', "single-child", Act::Set(di_single), 0),
    opt(b'r', "rewrite", Act::Value(di_rewrite), 1),
    opt(b'v', "verbose", Act::Set(di_verbose), 2),
    opt(b'h', "help", Act::Help, 3),
    opt(b'V', "version", Act::Version, 3),
];

fn di_debug_env(c: &mut Config) {
    crate::out::log(b"[dumb-init] Running in debug mode.\n");
    di_verbose(c);
}

#[rustfmt::skip]
static DI_ENVS: [EnvOpt; 2] = [
    env(c"DUMB_INIT_SETSID", When::Equals(b"0"), Act::Set(di_single), 0),
    env(c"DUMB_INIT_DEBUG", When::Equals(b"1"), Act::Set(di_debug_env), 2),
];

fn di_defaults(c: &mut Config) {
    c.forward = Forward::Session;
    c.term_group_on_exit = true;
    c.drain = false;
    c.verbosity = 0; // dumb-init says nothing unless asked for debug output
    c.stop_with_job = true; // dumb-init stops itself after forwarding TSTP/TTIN/TTOU, in every mode
    c.subreaper = Subreaper::Off; // dumb-init does not register as subreaper (and says nothing)
}

const DI_HELP: &str = "\
dumb-init v1.2.5 (reaper's dumb-init persona)
Usage: dumb-init [option] command [[arg] ...]

Runs command as the child of a minimal init that forwards signals to it and
reaps zombies. By default the child leads a new session and signals go to its
whole process group.

   -c, --single-child   no new session: signals go to the direct child only
   -r, --rewrite s:r    forward signal s as signal r (r = 0 drops s); repeatable
   -v, --verbose        debug output on stderr
   -h, --help           this help
   -V, --version        print the version

Environment: DUMB_INIT_SETSID=0 (-c), DUMB_INIT_DEBUG=1 (-v).
";

fn exit_status(exit: Exit) -> i64 {
    match exit {
        Exit::Code(c) => c as i64,
        Exit::Signal(s) => 128 + s as i64,
    }
}

/// ` (errno=N TEXT).`
fn errno_text(l: &mut Line, e: sys::Errno) {
    l.s(" (errno=").n(e.0 as i64).s(" ").s(e.text()).s(").");
}

/// dumb-init's usage lines, which carry no "[dumb-init]" prefix.
fn dumb_init_usage(l: &mut Line, e: &UsageError) {
    let me = sys::argv0();
    if e.what.is_empty() {
        l.s("Usage: ")
            .b(me)
            .s(" [option] program [args]\nTry ")
            .b(me);
        l.s(" --help for full usage.");
    } else if !e.getopt(l, true) {
        l.s("dumb-init: ");
        usage_reason(l, e);
    }
}

/// dumb-init's forwarding line, after its translation line when `--rewrite` changed the signal.
fn dumb_init_forwarded(l: &mut Line, sig: i32, from: i32) {
    if sig != from {
        l.s("Translating signal ")
            .n(from as i64)
            .s(" to ")
            .n(sig as i64)
            .s(".\n[dumb-init] ");
    }
    if sig == 0 {
        l.s("Not forwarding signal 0 to children (ignored).");
    } else {
        l.s("Forwarded signal ").n(sig as i64).s(" to children.");
    }
}

fn render_dumb_init(ev: &Event, l: &mut Line) -> bool {
    if let Event::Usage(e) = ev {
        dumb_init_usage(l, e);
        return true;
    }
    l.s("[dumb-init] ");
    match ev {
        Event::ExecFailed { prog, err } => {
            l.b(prog).s(": ").s(err.text());
        }
        Event::Failed { what, err } => {
            l.s(what).s(": ").s(err.text());
        }
        Event::Spawned { pid, .. } => {
            l.s("Child spawned with PID ").n(*pid as i64).s(".");
        }
        Event::SessionStarted => {
            l.s("setsid complete.");
        }
        Event::Detached(Ok(true)) => {
            l.s("Detached from controlling tty, ignoring the first SIGHUP and SIGCONT we receive.");
        }
        Event::Detached(Ok(false)) => {
            l.s("Detached from controlling tty, but was not session leader.");
        }
        Event::Detached(Err(e)) => {
            l.s("Unable to detach from controlling tty");
            errno_text(l, *e);
        }
        Event::AttachFailed(e) => {
            l.s("Unable to attach to controlling tty");
            errno_text(l, *e);
        }
        Event::Received { sig } => {
            l.s("Received signal ").n(*sig as i64).s(".");
        }
        Event::Forwarded { sig, from, .. } => dumb_init_forwarded(l, *sig, *from),
        Event::Swallowed { sig } => {
            l.s("Ignoring tty hand-off signal ").n(*sig as i64).s(".");
        }
        Event::ChildReaped {
            pid,
            exit: Exit::Code(c),
        } => {
            l.s("A child with PID ")
                .n(*pid as i64)
                .s(" exited with exit status ")
                .n(*c as i64)
                .s(".");
        }
        Event::ChildReaped {
            pid,
            exit: Exit::Signal(s),
        } => {
            l.s("A child with PID ")
                .n(*pid as i64)
                .s(" was terminated by signal ")
                .n(*s as i64)
                .s(".");
        }
        Event::ProgramExited { exit } => {
            l.s("Child exited with status ")
                .n(exit_status(*exit))
                .s(". Goodbye.");
        }
        _ => return false,
    }
    true
}

/// dumb-init, as Debian installs it.
pub static DUMB_INIT: Persona = Persona {
    name: "dumb-init",
    opts: &DI_OPTS,
    envs: &DI_ENVS,
    defaults: di_defaults,
    early: no_early,
    help: (DI_HELP, 2),
    usage_help: false,
    version: ("dumb-init v1.2.5\n", 2),
    codes: Codes {
        not_found: 2,
        not_executable: 2,
        exec_other: 2,
        usage: 1,
        fatal: 1,
    },
    render: render_dumb_init,
};

// ---------------------------------------------------------------------------------------------------
// catatonit 0.1.7 (podman's --init and pod infra)

fn cat_group(c: &mut Config) {
    c.forward = Forward::Group;
}
fn cat_pause(c: &mut Config) {
    c.pause = true;
}
fn cat_debug(c: &mut Config) {
    c.verbosity = 3;
}

#[rustfmt::skip]
static CAT_OPTS: [Opt; 5] = [
    opt(b'g', "", Act::Set(cat_group), 0),
    opt(b'P', "", Act::Set(cat_pause), 1),
    opt(b'V', "version", Act::Version, 2),
    opt(b'h', "", Act::Help, 2),
    opt(b'L', "", Act::License, 2),
];

#[rustfmt::skip]
static CAT_ENVS: [EnvOpt; 1] = [env(c"CATATONIT_DEBUG", When::Set, Act::Set(cat_debug), 3)];

fn cat_defaults(c: &mut Config) {
    // catatonit keeps these from the child's job control: it never passes them on.
    c.ignored = SigSet::of(signals::SIGTSTP)
        .with(signals::SIGTTIN)
        .with(signals::SIGTTOU);
    c.forward_sync = false; // catatonit leaves SIGSEGV & co. their default action
    c.subreaper = Subreaper::Required;
    c.drain = false;
}

const CAT_HELP: &str = "\
catatonit (reaper's catatonit persona)
usage: catatonit [-ghLPV] [--] PROGRAM [ARGS...]

Runs PROGRAM under an init that forwards signals and reaps zombies.

  -g             send signals to PROGRAM's process group
  -h             this help
  -L             print the license
  -P             pause mode: run nothing, reap, exit 0 on SIGINT or SIGTERM
  -V, --version  print the version

Environment: CATATONIT_DEBUG (debug output on stderr).
";

fn render_catatonit(ev: &Event, l: &mut Line) -> bool {
    let level = match ev.level() {
        Level::Error => "ERROR (catatonit:",
        Level::Warn => "WARN (catatonit:",
        Level::Info => "INFO (catatonit:",
        Level::Debug => "DEBUG (catatonit:",
    };
    pid_prefix(l, level, "): ");
    match ev {
        Event::Usage(e) => {
            if e.what.is_empty() {
                l.s("missing program name");
            } else {
                *l = Line::new();
                if !e.getopt(l, true) {
                    usage_reason(l, e);
                }
            }
            l.s("\nusage: catatonit [-ghLPV] [--] <progname> [<arguments>...]");
        }
        Event::ExecFailed { err, .. } => {
            l.s("failed to exec pid1: ").s(err.text());
        }
        Event::Failed { what, err } => {
            l.s(what).s(" failed: ").s(err.text());
        }
        Event::Spawned { pid, .. } => {
            l.s("pid1 (").n(*pid as i64).s(") spawned");
        }
        Event::Received { sig } => {
            l.s("received signal ");
            push_sig(l, *sig);
        }
        Event::Forwarded { sig: 0, .. } => return false,
        Event::Forwarded { sig, to, .. } => {
            l.s("forwarded ");
            push_sig(l, *sig);
            l.s(" to ").n(*to as i64);
        }
        Event::ChildReaped { pid, exit } => {
            l.s("reaped child ")
                .n(*pid as i64)
                .s(" (status ")
                .n(exit_status(*exit))
                .s(")");
        }
        Event::Reaped { pid, name, .. } => {
            l.s("reaped orphan ").n(*pid as i64).s(" (").b(name).s(")");
        }
        _ => return false,
    }
    true
}

/// catatonit, as podman ships it.
pub static CATATONIT: Persona = Persona {
    name: "catatonit",
    opts: &CAT_OPTS,
    envs: &CAT_ENVS,
    defaults: cat_defaults,
    early: no_early,
    help: (CAT_HELP, 2),
    usage_help: false,
    version: ("tini version 0.1.7_catatonit\n", 1),
    codes: Codes {
        not_found: 1,
        not_executable: 1,
        exec_other: 1,
        usage: 1,
        fatal: 1,
    },
    render: render_catatonit,
};

// ---------------------------------------------------------------------------------------------------
// The Kubernetes pause (3.1 and later)

fn pause_defaults(c: &mut Config) {
    c.pause = true;
    c.drain = false; // pause exits at once; the runtime tears the sandbox down
}

/// Any argument equal to `-v`, in any case and anywhere, prints the version.
fn pause_early(args: &Args, first: usize) -> Option<Act> {
    (first..args.len())
        .any(|i| args.get(i).eq_ignore_ascii_case(b"-v"))
        .then_some(Act::Version)
}

fn render_pause(ev: &Event, l: &mut Line) -> bool {
    match ev {
        Event::NotPid1 { .. } => {
            l.s("Warning: pause should be the first process");
        }
        Event::Shutdown { sig } => {
            l.s("Shutting down, got signal: ");
            push_description(l, *sig);
        }
        Event::Failed { what, err } => {
            l.s("pause: ").s(what).s(": ").s(err.text());
        }
        _ => return false,
    }
    true
}

/// The pod sandbox's PID 1.
pub static PAUSE: Persona = Persona {
    name: "pause",
    opts: &[],
    envs: &[],
    defaults: pause_defaults,
    early: pause_early,
    help: ("", 1),
    usage_help: false,
    version: (
        concat!("pause.c v3.10 (reaper ", env!("CARGO_PKG_VERSION"), ")\n"),
        1,
    ),
    codes: Codes {
        not_found: 1,
        not_executable: 1,
        exec_other: 1,
        usage: 1,
        fatal: 1,
    },
    render: render_pause,
};
