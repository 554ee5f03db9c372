//! `zombies`: find every zombie on a node, trace it to the parent that should reap it, name the
//! container, pod and cause. Exit status: 0 healthy, 1 over a threshold, 2 error.

#[cfg(feature = "gen-assets")]
mod assets;
mod render;
mod report;
mod serve;
mod tree;

use clap::{Args, Parser, Subcommand, ValueEnum};
use procmodel::{Detail, ScanConfig, Snapshot, ZombieTracker};
use render::Style;
use report::Thresholds;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

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
    after_help = "Exit status: 0 healthy, 1 over a threshold (--max-leak-rate, --max-pid-usage, --max-zombies), 2 error.\nJSON schema: docs/zombies-json.md"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
    #[command(flatten)]
    common: Common,
}

#[derive(Args, Debug, Clone)]
struct Common {
    /// Print JSON (schema: docs/zombies-json.md) instead of the table.
    #[arg(long, global = true)]
    json: bool,
    /// When to colour the table.
    #[arg(long, value_enum, default_value_t = ColorWhen::Auto, global = true)]
    color: ColorWhen,
    /// procfs root to read.
    #[arg(long, value_name = "DIR", default_value = "/proc", global = true)]
    proc_root: PathBuf,
    /// cgroup filesystem root (v1 controllers, hybrid `unified/`, or pure v2).
    #[arg(
        long,
        value_name = "DIR",
        default_value = "/sys/fs/cgroup",
        global = true
    )]
    sys_root: PathBuf,
    /// kubelet's pod log directory (`<namespace>_<pod>_<uid>` entries give pod names).
    #[arg(
        long,
        value_name = "DIR",
        default_value = "/var/log/pods",
        global = true
    )]
    pods_log_root: PathBuf,
    /// Root under which container runtimes keep their state (podman's containers.json, Docker's
    /// config.v2.json, the CRI's bundles), read to name containers as the runtime does.
    #[arg(long, value_name = "DIR", default_value = "/", global = true)]
    runtime_state_root: PathBuf,
    /// Unhealthy (exit 1) when more than N zombies are found.
    #[arg(long, value_name = "N", global = true)]
    max_zombies: Option<u64>,
    /// Unhealthy (exit 1) when the node or a pod/container uses more than RATIO (0..1) of its PID limit.
    #[arg(long, value_name = "RATIO", default_value_t = 0.9, value_parser = parse_ratio, global = true)]
    max_pid_usage: f64,
    /// Ignore zombies younger than SECONDS (transient ones a parent is about to reap).
    #[arg(long, value_name = "SECONDS", default_value_t = 0.0, value_parser = parse_secs, global = true)]
    min_age: f64,
    /// Unhealthy (exit 1) when a leak still growing adds more than N zombies per minute (from
    /// the zombies' exit or start times in one scan; `watch` refines it with the arrivals it sees).
    #[arg(long, value_name = "PER_MINUTE", default_value_t = 1.0, value_parser = parse_rate, global = true)]
    max_leak_rate: f64,
    /// Zombies at most SECONDS old whose parent reaps (SIGCHLD handled or ignored, PID 1 of this
    /// namespace, reaper, or seen reaping by `watch`) are transient: counted, not a leak.
    #[arg(long, value_name = "SECONDS", default_value_t = procmodel::diagnose::TRANSIENT_SECONDS, value_parser = parse_secs, global = true)]
    transient_age: f64,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Each zombie's parent chain up to host PID 1 (or PID's chain), with each hop's container.
    Tree {
        /// Show the chain of this pid instead of every zombie's.
        pid: Option<i32>,
    },
    /// Rescan every INTERVAL: first-seen ages, new zombies per minute per parent, time to exhaustion.
    Watch {
        /// Seconds between scans.
        #[arg(long, short = 'i', default_value_t = 2.0, value_parser = parse_interval)]
        interval: f64,
        /// Stop after N scans (0 = until Ctrl-C).
        #[arg(long, default_value_t = 0)]
        iterations: u64,
        /// Window in seconds over which leak rates are averaged.
        #[arg(long, default_value_t = 600.0, value_parser = parse_interval)]
        window: f64,
    },
    /// One line of at most 80 bytes and the exit status, for node-problem-detector's custom plugins.
    Check {
        /// Maximum message length in bytes.
        #[arg(long, default_value_t = 80)]
        max_output: usize,
    },
    /// Serve Prometheus metrics on /metrics and /healthz: the node agent (docs/zombies-serve.md).
    Serve(serve::ServeArgs),
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

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
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

fn config(c: &Common, detail: Detail) -> ScanConfig {
    ScanConfig {
        proc_root: c.proc_root.clone(),
        sys_root: c.sys_root.clone(),
        pods_log_root: Some(c.pods_log_root.clone()),
        detail,
        state_root: Some(c.runtime_state_root.clone()),
    }
}

fn scan(c: &Common, detail: Detail) -> Result<Snapshot, String> {
    procmodel::scan(&config(c, detail)).map_err(|e| e.to_string())
}

fn thresholds(c: &Common) -> Thresholds {
    Thresholds {
        max_zombies: c.max_zombies,
        max_pid_usage: c.max_pid_usage,
        min_age_seconds: c.min_age,
        max_leak_rate: c.max_leak_rate,
        transient_seconds: c.transient_age,
    }
}

fn style(c: &Common) -> Style {
    let color = match c.color {
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

fn run(cli: Cli) -> Result<u8, String> {
    let c = &cli.common;
    match cli.command {
        None => {
            let snap = scan(c, Detail::Zombies)?;
            let r = report::build(&snap, &thresholds(c), None);
            print(&if c.json {
                json(&r)?
            } else {
                render::human(&r, style(c), false)
            })?;
            Ok(if r.healthy { 0 } else { 1 })
        }
        Some(Cmd::Check { max_output }) => {
            let snap = match scan(c, Detail::Zombies) {
                Ok(s) => s,
                Err(e) => {
                    print(&format!(
                        "{}\n",
                        report::truncate(&format!("unknown: {e}"), max_output)
                    ))?;
                    return Ok(2);
                }
            };
            let r = report::build(&snap, &thresholds(c), None);
            print(&format!("{}\n", report::one_line(&r, max_output)))?;
            Ok(if r.healthy { 0 } else { 1 })
        }
        Some(Cmd::Tree { pid }) => {
            let snap = scan(
                c,
                if pid.is_some() {
                    Detail::All
                } else {
                    Detail::Zombies
                },
            )?;
            let chains = tree::chains(&snap, pid)?;
            print(&if c.json {
                json(&chains)?
            } else {
                tree::render(&snap, &chains, style(c))
            })?;
            let r = report::build(&snap, &thresholds(c), None);
            Ok(if r.healthy { 0 } else { 1 })
        }
        Some(Cmd::Watch {
            interval,
            iterations,
            window,
        }) => watch(c, interval, iterations, window),
        Some(Cmd::Serve(args)) => serve::run(config(c, Detail::Zombies), &args),
    }
}

fn watch(c: &Common, interval: f64, iterations: u64, window: f64) -> Result<u8, String> {
    // SAFETY: the handler only stores to an atomic.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
    let st = style(c);
    let tty = std::io::stdout().is_terminal();
    let mut tracker = ZombieTracker::new(Duration::from_secs_f64(window));
    let mut n = 0u64;
    let mut healthy = true;
    while !STOP.load(Ordering::SeqCst) {
        let started = Instant::now();
        let snap = scan(c, Detail::Zombies)?;
        let obs = tracker.observe(&snap);
        let r = report::build(&snap, &thresholds(c), Some(&tracker));
        healthy = r.healthy;
        if c.json {
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
        while !STOP.load(Ordering::SeqCst) {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            std::thread::sleep((deadline - now).min(Duration::from_millis(50)));
        }
    }
    // Ctrl-C is the normal way out of watch: healthy exit.
    if STOP.load(Ordering::SeqCst) {
        return Ok(0);
    }
    Ok(if healthy { 0 } else { 1 })
}
