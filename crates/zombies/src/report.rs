//! The report model (shared by the table, `--json` and `check`), see docs/zombies-json.md.

use procmodel::cgroup::Attribution;
use procmodel::diagnose::{self, Cause};
use procmodel::scan::printable;
use procmodel::tracker::{time_to_exhaustion, ZombieKey, ZombieTracker};
use procmodel::{CgroupPids, PodRef, Process, ScopeKind, Snapshot};
use serde::Serialize;

/// Version of the JSON schema; bumped only on incompatible changes.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize)]
pub struct Thresholds {
    pub max_zombies: Option<u64>,
    pub max_pid_usage: f64,
    pub min_age_seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub taken_at: f64,
    pub healthy: bool,
    pub thresholds: Thresholds,
    pub violations: Vec<String>,
    pub processes_scanned: usize,
    pub zombie_count: usize,
    pub zombies_ignored_younger_than_min_age: usize,
    pub groups: Vec<Group>,
    pub budget: Budget,
    pub read_errors: ReadErrorsOut,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Owner {
    pub container: Option<Attribution>,
    pub pod: Option<PodRef>,
    pub cgroup: Option<String>,
    /// Human label ("container podman 0123456789ab", "pod ns/name ...", "the host").
    pub label: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ParentOut {
    pub pid: i32,
    pub ns_pid: Option<i32>,
    pub name: String,
    pub state: String,
    pub cmdline: Option<String>,
    pub is_ns_init: bool,
    pub is_container_init: Option<bool>,
    pub handles_sigchld: Option<bool>,
    pub visible: bool,
    #[serde(flatten)]
    pub owner: Owner,
}

#[derive(Debug, Clone, Serialize)]
pub struct ZombieOut {
    pub pid: i32,
    pub ns_pid: Option<i32>,
    pub name: String,
    pub uid: Option<u32>,
    pub exit_status: Option<procmodel::parse::ExitStatus>,
    pub exit_status_reliable: bool,
    pub started_at: Option<f64>,
    pub max_age_seconds: Option<f64>,
    pub first_seen: Option<f64>,
    #[serde(flatten)]
    pub owner: Owner,
}

#[derive(Debug, Clone, Serialize)]
pub struct Group {
    pub parent: ParentOut,
    pub zombie_count: usize,
    pub names: String,
    pub zombies: Vec<ZombieOut>,
    pub cause: Cause,
    pub explanation: String,
    pub fix: String,
    pub new_per_minute: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NodeOut {
    pub tasks: u64,
    pub loadavg_tasks: Option<u64>,
    pub scanned_tasks: u64,
    pub pid_max: Option<u64>,
    pub threads_max: Option<u64>,
    pub limit: Option<u64>,
    pub usage_ratio: Option<f64>,
    pub zombies: u64,
    pub zombie_share: Option<f64>,
    pub new_per_minute: Option<f64>,
    pub seconds_to_exhaustion: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScopeOut {
    pub path: String,
    pub version: procmodel::CgroupVersion,
    pub kind: ScopeKind,
    pub readable: bool,
    pub current: Option<u64>,
    pub max: Option<u64>,
    pub usage_ratio: Option<f64>,
    pub forks_refused: Option<u64>,
    pub zombies: u64,
    pub zombie_share: Option<f64>,
    pub container: Option<Attribution>,
    pub pod: Option<PodRef>,
    pub label: String,
    pub new_per_minute: Option<f64>,
    pub seconds_to_exhaustion: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Budget {
    pub node: NodeOut,
    pub scopes: Vec<ScopeOut>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReadErrorsOut {
    pub vanished: u64,
    pub permission_denied: u64,
    pub other: u64,
    pub examples: Vec<String>,
}

fn owner(snap: &Snapshot, p: &Process) -> Owner {
    let a = p.attribution.clone();
    Owner {
        pod: a.as_ref().and_then(|a| snap.pod_of(a).cloned()),
        container: a.filter(|a| !a.is_host()),
        cgroup: p.cgroup_path().map(str::to_string),
        label: diagnose::container_label(snap, p),
    }
}

fn share(part: u64, whole: Option<u64>) -> Option<f64> {
    whole.filter(|&w| w > 0).map(|w| part as f64 / w as f64)
}

/// Builds the report. `tracker` adds first-seen times and rates (watch mode).
pub fn build(snap: &Snapshot, th: &Thresholds, tracker: Option<&ZombieTracker>) -> Report {
    let young = |z: &Process| {
        th.min_age_seconds > 0.0 && snap.age_seconds(z).is_some_and(|a| a < th.min_age_seconds)
    };
    let mut ignored = 0;
    let mut groups = Vec::new();
    for g in snap.zombie_groups() {
        let kept: Vec<i32> = g
            .zombies
            .iter()
            .copied()
            .filter(|&z| match snap.process(z) {
                Some(p) if young(p) => {
                    ignored += 1;
                    false
                }
                _ => true,
            })
            .collect();
        if kept.is_empty() {
            continue;
        }
        let g = procmodel::ZombieGroup {
            parent: g.parent,
            zombies: kept,
        };
        let d = diagnose::diagnose(snap, &g);
        let zs: Vec<&Process> = g.zombies.iter().filter_map(|&z| snap.process(z)).collect();
        let parent = match snap.process(g.parent) {
            Some(p) => ParentOut {
                pid: p.pid,
                ns_pid: p.ns_pid(),
                name: p.name(),
                state: (p.state as char).to_string(),
                cmdline: p.cmdline_text(),
                is_ns_init: p.is_ns_init(),
                is_container_init: p.is_container_init(),
                handles_sigchld: p.handles_sigchld(),
                visible: true,
                owner: owner(snap, p),
            },
            None => ParentOut {
                pid: g.parent,
                ns_pid: None,
                name: String::new(),
                state: String::new(),
                cmdline: None,
                is_ns_init: false,
                is_container_init: None,
                handles_sigchld: None,
                visible: false,
                owner: Owner {
                    container: None,
                    pod: None,
                    cgroup: None,
                    label: "not visible".into(),
                },
            },
        };
        let zombies = zs
            .iter()
            .map(|z| ZombieOut {
                pid: z.pid,
                ns_pid: z.ns_pid(),
                name: z.name(),
                uid: z.uid,
                exit_status: z.exit_status(),
                exit_status_reliable: snap.exit_code_reliable(z),
                started_at: snap.started_at(z),
                max_age_seconds: snap.age_seconds(z),
                first_seen: tracker
                    .and_then(|t| {
                        t.seen(&ZombieKey {
                            pid: z.pid,
                            start_ticks: z.start_ticks,
                        })
                    })
                    .map(|s| procmodel::scan::unix_seconds(s.first_seen)),
                owner: owner(snap, z),
            })
            .collect();
        groups.push(Group {
            parent,
            zombie_count: zs.len(),
            names: diagnose::zombie_names(&zs),
            zombies,
            cause: d.cause,
            explanation: d.explanation,
            fix: d.fix,
            new_per_minute: tracker.map(|t| t.rate_for_parent(g.parent)),
        });
    }
    let zombie_count: usize = groups.iter().map(|g| g.zombie_count).sum();

    let b = &snap.budget;
    let node_rate = tracker.map(|t| t.rate_total());
    let node = NodeOut {
        tasks: b.tasks(),
        loadavg_tasks: b.loadavg_tasks,
        scanned_tasks: b.scanned_tasks,
        pid_max: b.pid_max,
        threads_max: b.threads_max,
        limit: b.limit,
        usage_ratio: b.usage_ratio(),
        zombies: b.zombies,
        zombie_share: share(b.zombies, Some(b.tasks())),
        new_per_minute: node_rate,
        seconds_to_exhaustion: node_rate
            .and_then(|r| time_to_exhaustion(b.tasks(), b.limit, r))
            .map(|d| d.as_secs_f64()),
    };
    let scopes: Vec<ScopeOut> = snap
        .cgroups
        .iter()
        .filter(|c| c.kind != ScopeKind::Other || c.max.is_some())
        .map(|c| scope_out(snap, c, tracker))
        .collect();

    let mut violations = Vec::new();
    if let Some(max) = th.max_zombies {
        if zombie_count as u64 > max {
            violations.push(format!("{zombie_count} zombies > --max-zombies {max}"));
        }
    }
    if let Some(u) = node.usage_ratio {
        if u > th.max_pid_usage {
            violations.push(format!(
                "node tasks {} of {} ({:.0}%) > --max-pid-usage {}",
                node.tasks,
                node.limit.unwrap_or(0),
                u * 100.0,
                th.max_pid_usage
            ));
        }
    }
    for s in &scopes {
        if let Some(u) = s.usage_ratio {
            if u > th.max_pid_usage {
                violations.push(format!(
                    "{} pids {} of {} ({:.0}%) > --max-pid-usage {}",
                    s.label,
                    s.current.unwrap_or(0),
                    s.max.unwrap_or(0),
                    u * 100.0,
                    th.max_pid_usage
                ));
            }
        }
    }

    let e = &snap.errors;
    let mut notes = Vec::new();
    if snap.reader_euid != 0 {
        let unreliable = groups
            .iter()
            .flat_map(|g| &g.zombies)
            .filter(|z| !z.exit_status_reliable)
            .count();
        if unreliable > 0 {
            notes.push(format!(
                "not root: the exit status of {unreliable} zombie(s) of other users is unknown (the kernel shows 0); run as root for exit statuses"
            ));
        }
    }
    if e.failures() > 0 {
        notes.push(format!(
            "could not read {} /proc entries ({} permission denied, {} other){}",
            e.failures(),
            e.permission_denied,
            e.other,
            e.examples
                .first()
                .map(|x| format!(", e.g. {x}"))
                .unwrap_or_default()
        ));
    }
    let unreadable_scopes: Vec<&str> = snap
        .cgroups
        .iter()
        .filter(|c| !c.readable)
        .map(|c| c.path.as_str())
        .collect();
    if !unreadable_scopes.is_empty() {
        notes.push(format!(
            "could not read pids.current/pids.max of {} cgroup(s) (no pids controller there, or outside this cgroup namespace), e.g. {}",
            unreadable_scopes.len(),
            unreadable_scopes[0]
        ));
    }
    if groups.iter().any(|g| !g.parent.visible) {
        notes.push("some parents are outside this PID namespace: this view is limited to the processes this PID namespace can see".into());
    }
    if b.loadavg_tasks.is_none() {
        notes.push("could not read loadavg: node task count is the scan's own count".into());
    }
    if b.limit.is_none() {
        notes.push("could not read pid_max/threads-max: node limit unknown".into());
    }

    Report {
        schema_version: SCHEMA_VERSION,
        taken_at: procmodel::scan::unix_seconds(snap.taken_at),
        healthy: violations.is_empty(),
        thresholds: th.clone(),
        violations,
        processes_scanned: snap.processes.len(),
        zombie_count,
        zombies_ignored_younger_than_min_age: ignored,
        groups,
        budget: Budget { node, scopes },
        read_errors: ReadErrorsOut {
            vanished: e.vanished,
            permission_denied: e.permission_denied,
            other: e.other,
            examples: e.examples.clone(),
        },
        notes,
    }
}

fn scope_out(snap: &Snapshot, c: &CgroupPids, tracker: Option<&ZombieTracker>) -> ScopeOut {
    let a = &c.attribution;
    let pod = snap.pod_of(a).cloned();
    // The pod and container parts are diagnose::container_label's; the rest is the scope's
    // own: an unnamed pod reads `pod uid <uid>` (no ` (static)`, `?` without a uid), a
    // container's unnamed pod is left out, and any other cgroup is shown by its path.
    let label = match c.kind {
        ScopeKind::Pod => match &pod {
            Some(p) => diagnose::pod_label(p),
            None => format!("pod uid {}", a.pod_uid.as_deref().unwrap_or("?")),
        },
        ScopeKind::Container => {
            let id = a.container_id.as_deref().unwrap_or("");
            let container = diagnose::container_id_label(a, id);
            match &pod {
                Some(p) => format!("{} {container}", diagnose::pod_label(p)),
                None => container,
            }
        }
        ScopeKind::Other => format!("cgroup {}", printable(c.path.as_bytes())),
    };
    let rate = tracker.map(|t| t.rate_for_cgroup(&c.path));
    ScopeOut {
        path: c.path.clone(),
        version: c.version,
        kind: c.kind,
        readable: c.readable,
        current: c.current,
        max: c.max,
        usage_ratio: c.usage_ratio(),
        forks_refused: c.events_max,
        zombies: c.zombies,
        zombie_share: share(c.zombies, c.current),
        container: Some(a.clone()).filter(|a| !a.is_host()),
        pod,
        label,
        new_per_minute: rate,
        seconds_to_exhaustion: rate
            .and_then(|r| time_to_exhaustion(c.current.unwrap_or(0), c.max, r))
            .filter(|_| c.current.is_some())
            .map(|d| d.as_secs_f64()),
    }
}

/// One line of at most `max` bytes for node-problem-detector.
pub fn one_line(r: &Report, max: usize) -> String {
    let node = &r.budget.node;
    let usage = node
        .usage_ratio
        .map(|u| format!("{:.0}%", u * 100.0))
        .unwrap_or_else(|| "?".into());
    let line = if !r.healthy {
        let top = r.groups.first().map(|g| {
            format!(
                " top: {} pid {} x{} ({})",
                g.parent.name,
                g.parent.pid,
                g.zombie_count,
                g.cause.as_str()
            )
        });
        format!(
            "{}{}",
            r.violations.first().cloned().unwrap_or_default(),
            top.unwrap_or_default()
        )
    } else if r.zombie_count == 0 {
        format!("OK: no zombies; node pids {usage} used")
    } else {
        format!(
            "OK: {} zombies (under threshold); node pids {usage} used",
            r.zombie_count
        )
    };
    truncate(&line, max)
}

/// Truncates to at most `max` bytes on a char boundary.
pub fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// `1h2m`, `3m4s`, `5.2s`.
pub fn human_duration(secs: f64) -> String {
    if !secs.is_finite() || secs < 0.0 {
        return "?".into();
    }
    let s = secs as u64;
    if s >= 86400 {
        format!("{}d{}h", s / 86400, s % 86400 / 3600)
    } else if s >= 3600 {
        format!("{}h{}m", s / 3600, s % 3600 / 60)
    } else if s >= 60 {
        format!("{}m{}s", s / 60, s % 60)
    } else {
        format!("{secs:.1}s")
    }
}
