//! `zombies`: find every zombie on a node, trace it to the parent that should reap it, name the
//! container, pod and cause. Exit status: 0 healthy, 1 over a threshold, 2 error.
//!
//! Every flag belongs to the subcommands it applies to (`zombies serve --json` is an error), and
//! every flag can also be set by a `ZOMBIES_*` environment variable (shown in `--help`); a flag on
//! the command line wins over the variable.
#![deny(unsafe_code)]
#![deny(clippy::too_many_lines)]

#[cfg(feature = "gen-assets")]
mod assets;
mod render;
mod report;
mod serve;
mod stop;
mod tree;

use clap::builder::BoolishValueParser;
use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};
use procmodel::{Detail, ScanConfig, Snapshot, ZombieTracker};
use render::Style;
use report::Thresholds;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Version of the JSON documents `zombies tree --json` and `zombies check --json` print (the
/// report's is [`report::SCHEMA_VERSION`]); schemas in docs/schema/.
pub const SCHEMA_VERSION: u32 = 1;

/// `zombies --version`: the version and the git revision it was built from (`-dirty` when modified).
pub(crate) const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (git ",
    env!("REAPER_REVISION"),
    ")"
);

#[derive(Parser, Debug)]
#[command(
    name = "zombies",
    version = VERSION,
    about = "Find every zombie process on a node, trace it to the parent that should reap it, name the container, pod and cause",
    args_conflicts_with_subcommands = true,
    after_help = "Without a subcommand: the report of every zombie (the flags above).\n\
Every flag can also be set by the ZOMBIES_* environment variable shown next to it; the command line wins.\n\
Exit status: 0 healthy, 1 over a threshold (--max-leak-rate, --max-pid-usage, --max-zombies), 2 error.\n\
JSON: docs/zombies-json.md, JSON Schemas in docs/schema/."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
    #[command(flatten)]
    report: ReportArgs,
}

/// Where the node is read from (every subcommand).
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Where to read")]
struct Roots {
    /// procfs root to read.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "/proc",
        env = "ZOMBIES_PROC_ROOT"
    )]
    proc_root: PathBuf,
    /// cgroup filesystem root (v1 controllers, hybrid `unified/`, or pure v2).
    #[arg(
        long,
        value_name = "DIR",
        default_value = "/sys/fs/cgroup",
        env = "ZOMBIES_SYS_ROOT"
    )]
    sys_root: PathBuf,
    /// kubelet's pod log directory (`<namespace>_<pod>_<uid>` entries give pod names).
    #[arg(
        long,
        value_name = "DIR",
        default_value = "/var/log/pods",
        env = "ZOMBIES_PODS_LOG_ROOT"
    )]
    pods_log_root: PathBuf,
    /// Root under which container runtimes keep their state (podman's containers.json, Docker's
    /// config.v2.json, the CRI's bundles), read to name containers as the runtime does.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "/",
        env = "ZOMBIES_RUNTIME_STATE_ROOT"
    )]
    runtime_state_root: PathBuf,
}

/// How the result is printed (report, tree, watch).
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Output")]
struct Output {
    /// Print JSON (docs/zombies-json.md, docs/schema/) instead of the table.
    #[arg(long, env = "ZOMBIES_JSON", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    json: bool,
    /// When to colour the table (NO_COLOR in the environment also turns `auto` off).
    #[arg(long, value_enum, default_value_t = ColorWhen::Auto, env = "ZOMBIES_COLOR")]
    color: ColorWhen,
}

/// When the node counts as unhealthy (report, tree, watch, check).
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Thresholds")]
struct Limits {
    /// Unhealthy (exit 1) when more than N zombies are found.
    #[arg(long, value_name = "N", env = "ZOMBIES_MAX_ZOMBIES")]
    max_zombies: Option<u64>,
    /// Unhealthy (exit 1) when the node or a pod/container uses more than RATIO (0..1) of its PID limit.
    #[arg(long, value_name = "RATIO", default_value_t = 0.9, value_parser = parse_ratio, env = "ZOMBIES_MAX_PID_USAGE")]
    max_pid_usage: f64,
    /// Ignore zombies younger than SECONDS (transient ones a parent is about to reap).
    #[arg(long, value_name = "SECONDS", default_value_t = 0.0, value_parser = parse_secs, env = "ZOMBIES_MIN_AGE")]
    min_age: f64,
    /// Unhealthy (exit 1) when a leak still growing adds more than N zombies per minute (from
    /// the zombies' exit or start times in one scan; `watch` refines it with the arrivals it sees).
    #[arg(long, value_name = "PER_MINUTE", default_value_t = 1.0, value_parser = parse_rate, env = "ZOMBIES_MAX_LEAK_RATE")]
    max_leak_rate: f64,
    /// Zombies at most SECONDS old whose parent reaps (SIGCHLD handled or ignored, PID 1 of this
    /// namespace, reaper, or seen reaping by `watch`) are transient: counted, not a leak. 0: none is.
    #[arg(long, value_name = "SECONDS", default_value_t = procmodel::diagnose::TRANSIENT_SECONDS, value_parser = parse_secs, env = "ZOMBIES_TRANSIENT_AGE")]
    transient_age: f64,
}

/// The report (no subcommand).
#[derive(Args, Debug, Clone)]
struct ReportArgs {
    #[command(flatten)]
    roots: Roots,
    #[command(flatten)]
    out: Output,
    #[command(flatten)]
    limits: Limits,
}

#[derive(Args, Debug, Clone)]
struct TreeArgs {
    /// Show the chain of this pid instead of every zombie's.
    pid: Option<i32>,
    #[command(flatten)]
    roots: Roots,
    #[command(flatten)]
    out: Output,
    #[command(flatten)]
    limits: Limits,
}

#[derive(Args, Debug, Clone)]
struct WatchArgs {
    /// Seconds between scans.
    #[arg(long, short = 'i', default_value_t = 2.0, value_parser = parse_interval, env = "ZOMBIES_INTERVAL")]
    interval: f64,
    /// Stop after N scans (0 = until Ctrl-C).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 0,
        env = "ZOMBIES_ITERATIONS"
    )]
    iterations: u64,
    /// Window in seconds over which leak rates are averaged.
    #[arg(long, value_name = "SECONDS", default_value_t = 600.0, value_parser = parse_interval, env = "ZOMBIES_WINDOW")]
    window: f64,
    #[command(flatten)]
    roots: Roots,
    #[command(flatten)]
    out: Output,
    #[command(flatten)]
    limits: Limits,
}

#[derive(Args, Debug, Clone)]
struct CheckArgs {
    /// Maximum message length in bytes.
    #[arg(
        long,
        value_name = "BYTES",
        default_value_t = 80,
        env = "ZOMBIES_MAX_OUTPUT"
    )]
    max_output: usize,
    /// Print one JSON object (docs/schema/check.schema.json) instead of the one-line message.
    #[arg(long, env = "ZOMBIES_JSON", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    json: bool,
    #[command(flatten)]
    roots: Roots,
    #[command(flatten)]
    limits: Limits,
}

#[derive(Args, Debug, Clone)]
struct ServeCmd {
    #[command(flatten)]
    serve: serve::ServeArgs,
    #[command(flatten)]
    roots: Roots,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Each zombie's parent chain up to host PID 1 (or PID's chain), with each hop's container.
    Tree(TreeArgs),
    /// Rescan every INTERVAL: first-seen ages, new zombies per minute per parent, time to exhaustion.
    Watch(WatchArgs),
    /// One line of at most 80 bytes and the exit status, for node-problem-detector's custom plugins.
    Check(CheckArgs),
    /// Serve Prometheus metrics on /metrics, /healthz and /readyz: the node agent (docs/zombies-serve.md).
    Serve(ServeCmd),
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum ColorWhen {
    Auto,
    Always,
    Never,
}

fn parse_ratio(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!(
            "'{s}' is not a ratio between 0 and 1 (e.g. 0.8 for 80%)"
        )),
    }
}

fn parse_secs(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v >= 0.0 && v.is_finite() => Ok(v),
        _ => Err(format!("'{s}' is not a number of seconds >= 0")),
    }
}

fn parse_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v >= 0.0 && v.is_finite() => Ok(v),
        _ => Err(format!(
            "'{s}' is not a number of zombies per minute >= 0 (e.g. 1, or 0 to fail on any growing leak)"
        )),
    }
}

fn parse_interval(s: &str) -> Result<f64, String> {
    // At most a year: Duration::from_secs_f64 panics on values beyond its range.
    match s.parse::<f64>() {
        Ok(v) if (0.05..=31_536_000.0).contains(&v) => Ok(v),
        _ => Err(format!(
            "'{s}' is not a number of seconds between 0.05 and 31536000 (a year)"
        )),
    }
}

fn main() -> ExitCode {
    // A bug must still end with the documented error status (2), not an abort by SIGABRT.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("zombies: internal error: {info} (this is a bug; please report it)");
        std::process::exit(2);
    }));
    #[cfg(feature = "gen-assets")]
    if let Some(code) = assets::from_args::<Cli>() {
        return code;
    }
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(msg) => {
            eprintln!("zombies: error: {msg}");
            ExitCode::from(2)
        }
    }
}

fn config(r: &Roots, detail: Detail) -> ScanConfig {
    ScanConfig {
        proc_root: r.proc_root.clone(),
        sys_root: r.sys_root.clone(),
        pods_log_root: Some(r.pods_log_root.clone()),
        detail,
        state_root: Some(r.runtime_state_root.clone()),
    }
}

fn scan(r: &Roots, detail: Detail) -> Result<Snapshot, String> {
    procmodel::scan(&config(r, detail)).map_err(|e| e.to_string())
}

fn thresholds(l: &Limits) -> Thresholds {
    Thresholds {
        max_zombies: l.max_zombies,
        max_pid_usage: l.max_pid_usage,
        min_age_seconds: l.min_age,
        max_leak_rate: l.max_leak_rate,
        transient_seconds: l.transient_age,
    }
}

fn style(o: &Output) -> Style {
    let color = match o.color {
        ColorWhen::Always => true,
        ColorWhen::Never => false,
        ColorWhen::Auto => {
            std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
        }
    };
    Style { color }
}

fn print(s: &str) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    match out.write_all(s.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        // A closed pipe (`zombies | head`) is not an error worth a message.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(format!("cannot write to stdout: {e}")),
    }
}

fn json<T: serde::Serialize>(v: &T) -> Result<String, String> {
    serde_json::to_string_pretty(v)
        .map(|s| s + "\n")
        .map_err(|e| format!("cannot encode JSON: {e}"))
}

/// `zombies tree --json`.
#[derive(serde::Serialize)]
struct TreeJson<'a> {
    schema_version: u32,
    chains: &'a [Vec<tree::Hop>],
}

/// `zombies check --json`: the plugin verdict, its one-line message, and the report it is from.
#[derive(serde::Serialize)]
struct CheckJson<'a> {
    schema_version: u32,
    /// `ok`, `problem` or `unknown` (node-problem-detector's exit statuses 0, 1, 2).
    status: &'static str,
    exit_code: u8,
    message: String,
    /// Why the node could not be read (status `unknown`), else null.
    error: Option<String>,
    report: Option<&'a report::Report>,
}

fn run(cli: Cli) -> Result<u8, String> {
    match cli.command {
        None => {
            let a = &cli.report;
            let snap = scan(&a.roots, Detail::Zombies)?;
            let r = report::build(&snap, &thresholds(&a.limits), None);
            print(&if a.out.json {
                json(&r)?
            } else {
                render::human(&r, style(&a.out), false)
            })?;
            Ok(if r.healthy { 0 } else { 1 })
        }
        Some(Cmd::Check(a)) => check(&a),
        Some(Cmd::Tree(a)) => {
            let snap = scan(
                &a.roots,
                if a.pid.is_some() {
                    Detail::All
                } else {
                    Detail::Zombies
                },
            )?;
            let chains = tree::chains(&snap, a.pid)?;
            print(&if a.out.json {
                json(&TreeJson {
                    schema_version: SCHEMA_VERSION,
                    chains: &chains,
                })?
            } else {
                tree::render(&snap, &chains, style(&a.out))
            })?;
            let r = report::build(&snap, &thresholds(&a.limits), None);
            Ok(if r.healthy { 0 } else { 1 })
        }
        Some(Cmd::Watch(a)) => watch(&a),
        Some(Cmd::Serve(a)) => serve::run(config(&a.roots, Detail::Zombies), &a.serve),
    }
}

fn check(a: &CheckArgs) -> Result<u8, String> {
    let (code, message, error, r) = match scan(&a.roots, Detail::Zombies) {
        Ok(snap) => {
            let r = report::build(&snap, &thresholds(&a.limits), None);
            let line = report::one_line(&r, a.max_output);
            (if r.healthy { 0 } else { 1 }, line, None, Some(r))
        }
        Err(e) => (
            2,
            report::truncate(&format!("unknown: {e}"), a.max_output),
            Some(e),
            None,
        ),
    };
    if a.json {
        print(&json(&CheckJson {
            schema_version: SCHEMA_VERSION,
            status: ["ok", "problem", "unknown"][code as usize],
            exit_code: code,
            message,
            error,
            report: r.as_ref(),
        })?)?;
    } else {
        print(&format!("{message}\n"))?;
    }
    Ok(code)
}

fn watch(a: &WatchArgs) -> Result<u8, String> {
    stop::install()?;
    let (interval, iterations) = (a.interval, a.iterations);
    let st = style(&a.out);
    let th = thresholds(&a.limits);
    let tty = std::io::stdout().is_terminal();
    let mut tracker = ZombieTracker::new(Duration::from_secs_f64(a.window));
    let mut n = 0u64;
    let mut healthy = true;
    while !stop::requested() {
        let started = Instant::now();
        let snap = scan(&a.roots, Detail::Zombies)?;
        let obs = tracker.observe(&snap);
        let r = report::build(&snap, &th, Some(&tracker));
        healthy = r.healthy;
        if a.out.json {
            print(&(serde_json::to_string(&r).map_err(|e| e.to_string())? + "\n"))?;
        } else {
            let mut s = String::new();
            if tty {
                s.push_str("\x1b[H\x1b[2J");
            } else if n > 0 {
                s.push_str("\n----\n");
            }
            s.push_str(&format!(
                "zombies watch: scan {} every {interval}s, rates over {}; +{} new, {} reaped since last scan (Ctrl-C to exit)\n\n",
                n + 1,
                report::human_duration(tracker.rate_span_seconds()),
                obs.new.len(),
                obs.reaped
            ));
            s.push_str(&render::human(&r, st, true));
            print(&s)?;
        }
        n += 1;
        if iterations > 0 && n >= iterations {
            break;
        }
        let deadline = started + Duration::from_secs_f64(interval);
        while !stop::requested() {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            std::thread::sleep((deadline - now).min(Duration::from_millis(50)));
        }
    }
    // Ctrl-C is the normal way out of watch: healthy exit.
    if stop::requested() {
        return Ok(0);
    }
    Ok(if healthy { 0 } else { 1 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_cli_is_consistent() {
        Cli::command().debug_assert();
    }

    /// Every flag of every subcommand has a `ZOMBIES_*` variable, shown in `--help`.
    #[test]
    fn every_flag_has_an_environment_variable() {
        fn walk(c: &clap::Command, path: &str, seen: &mut usize) {
            for a in c.get_arguments() {
                let id = a.get_id().as_str();
                if a.is_positional() || id == "help" || id == "version" {
                    continue;
                }
                let env = a
                    .get_env()
                    .unwrap_or_else(|| panic!("{path} --{id} has no environment variable"));
                let want = format!("ZOMBIES_{}", id.to_uppercase());
                assert_eq!(env.to_str(), Some(want.as_str()), "{path} --{id}");
                assert!(
                    !a.is_hide_env_set(),
                    "{path} --{id}: env hidden from --help"
                );
                *seen += 1;
            }
            for s in c.get_subcommands() {
                walk(s, &format!("{path} {}", s.get_name()), seen);
            }
        }
        let mut n = 0;
        walk(&Cli::command(), "zombies", &mut n);
        assert!(n >= 30, "{n} flags");
    }
}
