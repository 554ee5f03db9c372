//! `zombies serve`: the node agent. Serves Prometheus metrics on `/metrics` (text 0.0.4 by
//! default, OpenMetrics 1.0 when the `Accept` header asks for it), liveness on `/healthz` and
//! readiness on `/readyz` (503 with the reasons while the agent cannot see the node: [`health`]).
//!
//! Metrics are computed on each scrape, synchronously, from the kernel's accounting
//! (`pids.current`, the cgroup task lists and `/proc/loadavg`: procmodel::accounting, cost
//! proportional to cgroups) or from one full scan of `/proc` (`--scan full`, or the fallback);
//! the agent never spawns a subprocess. User documentation: docs/zombies-serve.md.

pub mod expo;
pub mod health;
pub mod http;
pub mod log;
pub mod metrics;

use clap::{Args, ValueEnum};
use expo::{Family, Format, Kind};
use http::{Limits, Request, Response};
use procmodel::ScanConfig;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Default listen address of a bare `zombies serve`: loopback only. The port, 9942, was chosen
/// in the range the Prometheus community's default port allocations page hands out to exporters
/// (9100 upwards), at a number no entry there used when it was chosen; it is not registered
/// there. One flag (`--listen`), one variable (`ZOMBIES_LISTEN`), one kustomize value
/// (deploy/kubernetes): docs/zombies-serve.md "Port".
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9942";

/// Options of `zombies serve`.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Serve")]
pub struct ServeArgs {
    /// Address and port to listen on (e.g. 0.0.0.0:9942 in a DaemonSet).
    #[arg(long, value_name = "ADDR:PORT", default_value = DEFAULT_LISTEN, env = "ZOMBIES_LISTEN")]
    pub listen: SocketAddr,
    /// kubelet's container log symlinks (`<pod>_<namespace>_<container>-<id>.log`): container
    /// names for the `container` label (else the first 12 characters of the container id).
    #[arg(
        long,
        value_name = "DIR",
        default_value = "/var/log/containers",
        env = "ZOMBIES_CONTAINERS_LOG_ROOT"
    )]
    pub containers_log_root: PathBuf,
    /// Open connections at most (the longest-open one is dropped to admit a new one).
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..=4096), env = "ZOMBIES_MAX_CONNECTIONS")]
    pub max_connections: u16,
    /// Seconds a client has to send its request head.
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0, value_parser = parse_timeout, env = "ZOMBIES_READ_TIMEOUT")]
    pub read_timeout: f64,
    /// How a scrape counts zombies: `accounting` (pids.current minus the cgroup task lists and
    /// /proc/loadavg; cost proportional to cgroups), `full` (a scan of /proc; cost proportional
    /// to processes), `auto` (accounting when the pids controller is readable and /proc shows
    /// the initial PID namespace, else full).
    #[arg(long, value_enum, value_name = "MODE", default_value_t = metrics::ScanMode::Auto, env = "ZOMBIES_SCAN")]
    pub scan: metrics::ScanMode,
    /// Log line format on stderr: logfmt (`ts=... level=info msg=...`) or json (one object a line).
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = log::LogFormat::Logfmt, env = "ZOMBIES_LOG_FORMAT")]
    pub log_format: log::LogFormat,
    /// Lowest level logged: debug, info, warn, error.
    #[arg(long, value_enum, value_name = "LEVEL", default_value_t = log::Level::Info, env = "ZOMBIES_LOG_LEVEL")]
    pub log_level: log::Level,
}

fn parse_timeout(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.01..=3600.0).contains(&v) => Ok(v),
        _ => Err(format!("'{s}' is not a number of seconds in 0.01..3600")),
    }
}

/// The agent: the collector, and what it last knew about its own sight.
#[derive(Debug)]
pub struct Agent {
    /// The scrape-to-scrape metrics state.
    pub collector: metrics::Collector,
    cfg: ScanConfig,
    containers_log_root: Option<PathBuf>,
    /// Failed checks at the last check (name, reason), to log changes only.
    last_failed: Option<Vec<(&'static str, String)>>,
    /// The last scrape's error, to log changes only.
    last_error: Option<String>,
}

impl Agent {
    /// An agent reading `cfg` (and kubelet's container log links at `containers_log_root`).
    pub fn new(
        cfg: ScanConfig,
        containers_log_root: Option<PathBuf>,
        mode: metrics::ScanMode,
    ) -> Agent {
        Agent {
            collector: metrics::Collector::with_mode(
                cfg.clone(),
                containers_log_root.clone(),
                mode,
            ),
            cfg,
            containers_log_root,
            last_failed: None,
            last_error: None,
        }
    }

    /// Runs the visibility checks and logs what changed since the last run.
    pub fn check(&mut self) -> Vec<health::Check> {
        let checks = health::run(
            &self.cfg.proc_root,
            &self.cfg.sys_root,
            self.cfg.pods_log_root.as_deref(),
            self.containers_log_root.as_deref(),
        );
        let failed: Vec<(&'static str, String)> = checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| (c.name, c.reason.clone()))
            .collect();
        if self.last_failed.as_ref() != Some(&failed) {
            for c in checks.iter().filter(|c| !c.ok) {
                let was = self
                    .last_failed
                    .as_ref()
                    .is_some_and(|f| f.iter().any(|(n, r)| *n == c.name && *r == c.reason));
                if was {
                    continue;
                }
                let (f, what) = if c.required {
                    (log::error as fn(&str, &[(&str, &str)]), "blind")
                } else {
                    (log::warn as fn(&str, &[(&str, &str)]), "degraded")
                };
                f(
                    &format!("{what}: {}", c.reason),
                    &[("check", c.name), ("state", what)],
                );
            }
            if let Some(prev) = &self.last_failed {
                for (name, _) in prev {
                    if !failed.iter().any(|(n, _)| n == name) {
                        log::info("check passes again", &[("check", name)]);
                    }
                }
            }
            if health::sees_host(&checks) && self.last_failed.is_some() {
                let was_blind = self.last_failed.as_ref().is_some_and(|f| {
                    f.iter()
                        .any(|(n, _)| checks.iter().any(|c| c.name == *n && c.required))
                });
                if was_blind {
                    log::info("sees the host again: ready", &[]);
                }
            }
            self.last_failed = Some(failed);
        }
        checks
    }

    /// `/metrics`: the collector's families plus `zombies_up`, `zombies_visibility` and the
    /// agent's `process_*` figures. A scrape that cannot read anything still answers 200 with
    /// `zombies_up 0`, so that Prometheus tells a blind agent from a down one.
    pub fn metrics(&mut self) -> Vec<Family> {
        let started = std::time::Instant::now();
        let checks = self.check();
        let mut up = health::sees_host(&checks);
        let mut fams = match self.collector.collect() {
            Ok(f) => {
                if self.last_error.take().is_some() {
                    log::info("scrapes succeed again", &[]);
                }
                log::debug(
                    "scrape",
                    &[
                        (
                            "seconds",
                            &format!("{:.6}", started.elapsed().as_secs_f64()),
                        ),
                        ("families", &f.len().to_string()),
                    ],
                );
                f
            }
            Err(e) => {
                if self.last_error.as_ref() != Some(&e) {
                    log::error(
                        &format!("scrape failed: {e}"),
                        &[("proc_root", &self.cfg.proc_root.display().to_string())],
                    );
                    self.last_error = Some(e);
                }
                let fams = vec![
                    Family::new(
                        "zombies_build",
                        Kind::Info,
                        "Build information of the zombies agent.",
                        &["version"],
                    )
                    .with(vec![env!("CARGO_PKG_VERSION").to_string()], 1.0),
                    // The failed checks below say what could not be read; else the scan did.
                    metrics::read_errors(&[0, up as u64, 0]),
                ];
                up = false;
                fams
            }
        };
        // A failed required check is a read error of its kind too.
        for c in checks.iter().filter(|c| !c.ok && c.required) {
            let kind = if c.permission_denied {
                "permission_denied"
            } else {
                "other"
            };
            if let Some(f) = fams.iter_mut().find(|f| f.name == "zombies_read_errors") {
                if let Some(s) = f.samples.iter_mut().find(|s| s.0[0] == kind) {
                    s.1 += 1.0;
                }
            }
        }
        fams.push(
            Family::new(
                "zombies_up",
                Kind::Gauge,
                "1 when the agent sees the node (host procfs readable, host PID namespace, pids cgroup controller readable), 0 when it is blind: see zombies_visibility and /readyz.",
                &[],
            )
            .with(vec![], up as u8 as f64),
        );
        let mut v = Family::new(
            "zombies_visibility",
            Kind::Gauge,
            "1 when this check of what the agent can see passed, 0 when it failed (proc, host_pid_namespace, cgroup_pids: blind; pods_log_root, containers_log_root: names only).",
            &["check"],
        );
        for c in &checks {
            v.push(vec![c.name.to_string()], c.ok as u8 as f64);
        }
        fams.push(v);
        fams.extend(process_families(&health::self_stat()));
        fams
    }

    /// `/readyz`: 200 while the agent sees the node, else 503 with the reasons.
    pub fn ready(&mut self) -> Response {
        let checks = self.check();
        let mut body = String::new();
        let blind = !health::sees_host(&checks);
        if blind {
            body.push_str("not ready: the agent cannot see the node\n");
        } else {
            body.push_str("ready: the agent sees the node\n");
        }
        for c in &checks {
            if c.ok {
                body.push_str(&format!("ok {}\n", c.name));
            } else {
                let what = if c.required { "blind" } else { "degraded" };
                body.push_str(&format!("{what} {}: {}\n", c.name, c.reason));
            }
        }
        Response::text(if blind { 503 } else { 200 }, &body)
    }
}

/// The standard `process_*` families of the agent itself.
pub fn process_families(s: &health::SelfStat) -> Vec<Family> {
    let one = |name, kind, help, unit: Option<&'static str>, v: Option<f64>| {
        let mut f = Family::new(name, kind, help, &[]);
        if let Some(u) = unit {
            f = f.unit(u);
        }
        if let Some(v) = v {
            f.push(vec![], v);
        }
        f
    };
    vec![
        one(
            "process_cpu_seconds",
            Kind::Counter,
            "Total user and system CPU time spent by the agent in seconds.",
            Some("seconds"),
            s.cpu_seconds,
        ),
        one(
            "process_resident_memory_bytes",
            Kind::Gauge,
            "Resident memory size of the agent in bytes.",
            Some("bytes"),
            s.resident_bytes,
        ),
        one(
            "process_virtual_memory_bytes",
            Kind::Gauge,
            "Virtual memory size of the agent in bytes.",
            Some("bytes"),
            s.virtual_bytes,
        ),
        one(
            "process_start_time_seconds",
            Kind::Gauge,
            "Start time of the agent since the Unix epoch in seconds.",
            Some("seconds"),
            s.start_time,
        ),
        one(
            "process_open_fds",
            Kind::Gauge,
            "Number of open file descriptors of the agent.",
            None,
            s.open_fds,
        ),
        one(
            "process_max_fds",
            Kind::Gauge,
            "Maximum number of open file descriptors of the agent (soft RLIMIT_NOFILE).",
            None,
            s.max_fds,
        ),
    ]
}

/// Answers one request.
pub fn handle(a: &mut Agent, req: &Request) -> Response {
    match req.path.as_str() {
        "/metrics" => {
            let fams = a.metrics();
            let fmt = Format::negotiate(req.accept.as_deref());
            Response {
                status: 200,
                content_type: fmt.content_type(),
                body: expo::encode(&fams, fmt).into_bytes(),
            }
        }
        // Liveness only: the loop answers. Whether the agent sees the node is /readyz's job.
        "/healthz" => Response::text(200, "ok\n"),
        "/readyz" => a.ready(),
        "/" => Response {
            status: 200,
            content_type: "text/html; charset=utf-8",
            body: b"<html><head><title>zombies</title></head><body><h1>zombies serve</h1>\
<p><a href=\"/metrics\">/metrics</a> <a href=\"/healthz\">/healthz</a> <a href=\"/readyz\">/readyz</a></p></body></html>\n"
                .to_vec(),
        },
        _ => Response::text(404, "not found: try /metrics, /healthz or /readyz\n"),
    }
}

/// Runs the agent until SIGTERM or SIGINT. Returns the exit status.
pub fn run(cfg: ScanConfig, args: &ServeArgs) -> Result<u8, String> {
    log::init(args.log_format, args.log_level);
    let listener = std::net::TcpListener::bind(args.listen).map_err(|e| {
        format!(
            "cannot listen on {} ({e}): choose another --listen address or port (ZOMBIES_LISTEN)",
            args.listen
        )
    })?;
    let local = listener
        .local_addr()
        .map_err(|e| format!("cannot read the bound address: {e}"))?;
    crate::stop::install()?;
    let mut agent = Agent::new(cfg, Some(args.containers_log_root.clone()), args.scan);
    let limits = Limits {
        max_connections: args.max_connections as usize,
        read_timeout: Duration::from_secs_f64(args.read_timeout),
        ..Limits::default()
    };
    let scan = args
        .scan
        .to_possible_value()
        .map_or("?".into(), |v| v.get_name().to_string());
    log::info(
        &format!(
            "counting zombies by {} (--scan {scan})",
            agent.collector.mode().as_str()
        ),
        &[("mode", agent.collector.mode().as_str())],
    );
    let checks = agent.check();
    if health::sees_host(&checks) {
        log::info("sees the node: ready", &[]);
    }
    log::info(
        &format!("listening on http://{local}/metrics"),
        &[("listen", &local.to_string())],
    );
    http::serve(
        listener,
        limits,
        |req| handle(&mut agent, req),
        crate::stop::requested,
    )
    .map_err(|e| format!("server failed: {e}"))?;
    log::info("stopped", &[]);
    Ok(0)
}
