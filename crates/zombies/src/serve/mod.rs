//! `zombies serve`: the node agent. Serves Prometheus metrics on `/metrics` (text 0.0.4 by
//! default, OpenMetrics 1.0 when the `Accept` header asks for it) and `/healthz`.
//!
//! Metrics are computed on each scrape, synchronously, from the kernel's accounting
//! (`pids.current`, the cgroup task lists and `/proc/loadavg`: procmodel::accounting, cost
//! proportional to cgroups) or from one full scan of `/proc` (`--scan full`, or the fallback);
//! the agent never spawns a subprocess. User documentation: docs/zombies-serve.md.

pub mod expo;
pub mod http;
pub mod metrics;

use clap::{Args, ValueEnum};
use expo::Format;
use http::{Limits, Request, Response};
use procmodel::ScanConfig;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Default listen address of a bare `zombies serve`: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9942";

/// Options of `zombies serve`.
#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address and port to listen on (e.g. 0.0.0.0:9942 in a DaemonSet).
    #[arg(long, value_name = "ADDR:PORT", default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// kubelet's container log symlinks (`<pod>_<namespace>_<container>-<id>.log`): container
    /// names for the `container` label (else the first 12 characters of the container id).
    #[arg(long, value_name = "DIR", default_value = "/var/log/containers")]
    pub containers_log_root: PathBuf,
    /// Open connections at most (the longest-open one is dropped to admit a new one).
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..=4096))]
    pub max_connections: u16,
    /// Seconds a client has to send its request head.
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0, value_parser = parse_timeout)]
    pub read_timeout: f64,
    /// How a scrape counts zombies: `accounting` (pids.current minus the cgroup task lists and
    /// /proc/loadavg; cost proportional to cgroups), `full` (a scan of /proc; cost proportional
    /// to processes), `auto` (accounting when the pids controller is readable and /proc shows
    /// the initial PID namespace, else full).
    #[arg(long, value_enum, value_name = "MODE", default_value_t = metrics::ScanMode::Auto)]
    pub scan: metrics::ScanMode,
}

fn parse_timeout(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.01..=3600.0).contains(&v) => Ok(v),
        _ => Err(format!("'{s}' is not a number of seconds in 0.01..3600")),
    }
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_stop(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

fn install_stop_handlers() {
    for sig in [libc::SIGTERM, libc::SIGINT] {
        // SAFETY: a zeroed sigaction with a handler that only stores to an atomic; no SA_RESTART,
        // so poll() returns EINTR and the loop sees the flag.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_stop as *const () as libc::sighandler_t;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

/// Answers one request.
pub fn handle(c: &mut metrics::Collector, req: &Request) -> Response {
    match req.path.as_str() {
        "/metrics" => match c.collect() {
            Ok(fams) => {
                let fmt = Format::negotiate(req.accept.as_deref());
                Response {
                    status: 200,
                    content_type: fmt.content_type(),
                    body: expo::encode(&fams, fmt).into_bytes(),
                }
            }
            Err(e) => Response::text(500, &format!("scan failed: {e}\n")),
        },
        "/healthz" => match std::fs::read_dir(c.proc_root()) {
            Ok(_) => Response::text(200, "ok\n"),
            Err(e) => Response::text(
                503,
                &format!("cannot list {}: {e}\n", c.proc_root().display()),
            ),
        },
        "/" => Response {
            status: 200,
            content_type: "text/html; charset=utf-8",
            body: b"<html><head><title>zombies</title></head><body><h1>zombies serve</h1>\
<p><a href=\"/metrics\">/metrics</a> <a href=\"/healthz\">/healthz</a></p></body></html>\n"
                .to_vec(),
        },
        _ => Response::text(404, "not found: try /metrics or /healthz\n"),
    }
}

/// Runs the agent until SIGTERM or SIGINT. Returns the exit status.
pub fn run(cfg: ScanConfig, args: &ServeArgs) -> Result<u8, String> {
    let listener =
        http::bind(args.listen).map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let local = listener
        .local_addr()
        .map_err(|e| format!("cannot read the bound address: {e}"))?;
    install_stop_handlers();
    let mut collector =
        metrics::Collector::with_mode(cfg, Some(args.containers_log_root.clone()), args.scan);
    let limits = Limits {
        max_connections: args.max_connections as usize,
        read_timeout: Duration::from_secs_f64(args.read_timeout),
        ..Limits::default()
    };
    eprintln!(
        "zombies serve: counting zombies by {} (--scan {})",
        collector.mode().as_str(),
        args.scan
            .to_possible_value()
            .map_or("?".into(), |v| v.get_name().to_string())
    );
    eprintln!("zombies serve: listening on http://{local}/metrics");
    http::serve(
        listener,
        limits,
        |req| handle(&mut collector, req),
        || STOP.load(Ordering::SeqCst),
    )
    .map_err(|e| format!("server failed: {e}"))?;
    eprintln!("zombies serve: stopped");
    Ok(0)
}
