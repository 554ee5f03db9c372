//! The report model (shared by the table, `--json` and `check`), see docs/zombies-json.md.

use procmodel::cgroup::Attribution;
use procmodel::diagnose::{self, Cause};
use procmodel::model::{printable, unix_seconds};
use procmodel::tracker::{
    estimate_rate, time_to_exhaustion, RateEstimate, ZombieKey, ZombieTracker,
};
use procmodel::{CgroupPids, PodRef, Process, ScopeKind, Snapshot, TimeSource};
use serde::Serialize;

/// Version of the JSON schema; bumped only on incompatible changes.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize)]
pub struct Thresholds {
    pub max_zombies: Option<u64>,
    pub max_pid_usage: f64,
    pub min_age_seconds: f64,
    /// Unhealthy when an ongoing leak grows faster than this many zombies per minute.
    pub max_leak_rate: f64,
    /// Zombies of a reaping parent at most this old are transient (not a leak).
    pub transient_seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub taken_at: f64,
    pub healthy: bool,
    pub thresholds: Thresholds,
    pub violations: Vec<String>,
    pub processes_scanned: usize,
    /// Leaking zombies (those of `groups`).
    pub zombie_count: usize,
    pub zombies_ignored_younger_than_min_age: usize,
    /// Young zombies of parents that reap: counted, not a leak, no parent named for them.
    pub transient_zombie_count: usize,
    /// Up to 20 of them.
    pub transient: Vec<TransientOut>,
    pub groups: Vec<Group>,
    pub budget: Budget,
    pub read_errors: ReadErrorsOut,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TransientOut {
    pub pid: i32,
    pub name: String,
    pub ppid: i32,
    pub age_seconds: Option<f64>,
    pub age_source: Option<TimeSource>,
    pub reaping: Option<diagnose::ReapingEvidence>,
}

/// The tightest PID limit a leak runs into, and when.
#[derive(Debug, Clone, Serialize)]
pub struct ExhaustionOut {
    /// `node` or the scope's label.
    pub limit_of: String,
    pub current: u64,
    pub limit: u64,
    /// New tasks per minute counted against that limit (the leaks inside it).
    pub per_minute: f64,
    pub seconds: Option<f64>,
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
    /// PID 1 is reaper injected by the runtime wrapper reaper-oci.
    pub reaper_injected: bool,
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
    /// How long it has been a zombie: exact from its exit time, else the start-time bound.
    pub zombie_age_seconds: Option<f64>,
    pub age_source: Option<TimeSource>,
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
    /// How `new_per_minute` was estimated (method, source, count, window).
    pub rate: Option<RateEstimate>,
    /// The tightest limit this leak exhausts first.
    pub exhaustion: Option<ExhaustionOut>,
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
        pod: a.as_ref().and_then(|a| diagnose::pod_of(snap, a).cloned()),
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
    let sorted = sort_zombies(snap, th, tracker);
    let mut groups = sorted.groups;
    let zombie_count: usize = groups.iter().map(|g| g.zombie_count).sum();
    let budget = budget(snap, &mut groups);
    let violations = violations(th, zombie_count, &groups, &budget);
    let notes = notes(snap, &groups);
    let e = &snap.errors;
    Report {
        schema_version: SCHEMA_VERSION,
        taken_at: unix_seconds(snap.taken_at),
        healthy: violations.is_empty(),
        thresholds: th.clone(),
        violations,
        processes_scanned: snap.processes.len(),
        zombie_count,
        zombies_ignored_younger_than_min_age: sorted.ignored,
        transient_zombie_count: sorted.transient_count,
        transient: sorted.transient,
        groups,
        budget,
        read_errors: ReadErrorsOut {
            vanished: e.vanished,
            permission_denied: e.permission_denied,
            other: e.other,
            examples: e.examples.clone(),
        },
        notes,
    }
}

/// The zombies of a scan sorted out: the leaks, by parent; the transient ones; and how many
/// were younger than `--min-age`.
struct Sorted {
    groups: Vec<Group>,
    /// Up to 20 transient zombies.
    transient: Vec<TransientOut>,
    transient_count: usize,
    ignored: usize,
}

/// Per parent: drops the zombies younger than `--min-age`, sets the transient ones aside, and
/// diagnoses the rest as a leak.
fn sort_zombies(snap: &Snapshot, th: &Thresholds, tracker: Option<&ZombieTracker>) -> Sorted {
    let young = |z: &Process| {
        th.min_age_seconds > 0.0 && snap.age_seconds(z).is_some_and(|a| a < th.min_age_seconds)
    };
    let mut out = Sorted {
        groups: Vec::new(),
        transient: Vec::new(),
        transient_count: 0,
        ignored: 0,
    };
    for g in snap.zombie_groups() {
        let kept: Vec<i32> = g
            .zombies
            .iter()
            .copied()
            .filter(|&z| match snap.process(z) {
                Some(p) if young(p) => {
                    out.ignored += 1;
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
        let reaped = tracker.is_some_and(|t| t.has_reaped(g.parent));
        let split = diagnose::split_transient(snap, &g, reaped, th.transient_seconds);
        for &z in &split.transient {
            out.transient_count += 1;
            let Some(p) = snap.process(z) else { continue };
            if out.transient.len() < 20 {
                let age = snap.zombie_age(p);
                out.transient.push(TransientOut {
                    pid: p.pid,
                    name: p.name(),
                    ppid: p.ppid,
                    age_seconds: age.map(|a| a.0),
                    age_source: age.map(|a| a.1),
                    reaping: split.reaping,
                });
            }
        }
        if split.leaks.is_empty() {
            continue;
        }
        let g = procmodel::ZombieGroup {
            parent: g.parent,
            zombies: split.leaks,
        };
        out.groups.push(leak_group(snap, &g, tracker));
    }
    out
}

/// One leaking parent: its diagnosis, its zombies and its rate (the exhaustion comes later,
/// from the budget).
fn leak_group(
    snap: &Snapshot,
    g: &procmodel::ZombieGroup,
    tracker: Option<&ZombieTracker>,
) -> Group {
    let d = diagnose::diagnose(snap, g);
    let zs: Vec<&Process> = g.zombies.iter().filter_map(|&z| snap.process(z)).collect();
    let rate = group_rate(
        snap,
        &zs,
        unix_seconds(snap.taken_at),
        tracker.and_then(|t| t.observed_for_parent(g.parent, 30.0)),
    );
    Group {
        parent: parent_out(snap, g.parent),
        zombie_count: zs.len(),
        names: diagnose::zombie_names(&zs),
        zombies: zs.iter().map(|z| zombie_out(snap, z, tracker)).collect(),
        cause: d.cause,
        explanation: d.explanation,
        fix: d.fix,
        new_per_minute: rate.map(|r| if r.ongoing { r.per_minute } else { 0.0 }),
        rate,
        exhaustion: None,
    }
}

/// The parent as the report shows it; a parent outside this PID namespace is "not visible".
fn parent_out(snap: &Snapshot, pid: i32) -> ParentOut {
    match snap.process(pid) {
        Some(p) => ParentOut {
            pid: p.pid,
            ns_pid: p.ns_pid(),
            name: p.name(),
            state: (p.state as char).to_string(),
            cmdline: p.cmdline_text(),
            is_ns_init: p.is_ns_init(),
            is_container_init: p.is_container_init(),
            handles_sigchld: p.handles_sigchld(),
            reaper_injected: diagnose::is_reaper_injected(p),
            visible: true,
            owner: owner(snap, p),
        },
        None => ParentOut {
            pid,
            ns_pid: None,
            name: String::new(),
            state: String::new(),
            cmdline: None,
            is_ns_init: false,
            is_container_init: None,
            handles_sigchld: None,
            reaper_injected: false,
            visible: false,
            owner: Owner {
                container: None,
                pod: None,
                cgroup: None,
                label: "not visible".into(),
            },
        },
    }
}

/// One zombie as the report shows it; `tracker` adds when it was first seen.
fn zombie_out(snap: &Snapshot, z: &Process, tracker: Option<&ZombieTracker>) -> ZombieOut {
    let age = snap.zombie_age(z);
    ZombieOut {
        pid: z.pid,
        ns_pid: z.ns_pid(),
        name: z.name(),
        uid: z.uid,
        exit_status: z.exit_status(),
        exit_status_reliable: snap.exit_code_reliable(z),
        started_at: snap.started_at(z),
        max_age_seconds: snap.age_seconds(z),
        zombie_age_seconds: age.map(|a| a.0),
        age_source: age.map(|a| a.1),
        first_seen: tracker
            .and_then(|t| {
                t.seen(&ZombieKey {
                    pid: z.pid,
                    start_ticks: z.start_ticks,
                })
            })
            .map(|s| unix_seconds(s.first_seen)),
        owner: owner(snap, z),
    }
}

/// The node's and each scope's PID budget, with the leaks' rates; sets each group's tightest
/// limit.
fn budget(snap: &Snapshot, groups: &mut [Group]) -> Budget {
    let b = &snap.budget;
    // Only ongoing leaks grow: the node's rate is the sum of theirs.
    let node_rate = Some(groups.iter().filter_map(|g| g.new_per_minute).sum::<f64>());
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
        .map(|c| scope_out(snap, c, groups))
        .collect();
    for g in groups.iter_mut() {
        g.exhaustion = tightest(g, &scopes, &node);
    }
    Budget { node, scopes }
}

/// The thresholds crossed, one message each: zombies, node PID usage, leak rates, scope PID
/// usage.
fn violations(
    th: &Thresholds,
    zombie_count: usize,
    groups: &[Group],
    budget: &Budget,
) -> Vec<String> {
    let node = &budget.node;
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
    for g in groups {
        let Some(r) = g.rate.filter(|r| r.ongoing) else {
            continue;
        };
        if r.per_minute > th.max_leak_rate {
            violations.push(format!(
                "{} (pid {}) in {} leaks {:.1} zombies/min > --max-leak-rate {}",
                g.parent.name, g.parent.pid, g.parent.owner.label, r.per_minute, th.max_leak_rate
            ));
        }
    }
    for s in &budget.scopes {
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
    violations
}

/// What the scan could not see or read, and what that leaves out.
fn notes(snap: &Snapshot, groups: &[Group]) -> Vec<String> {
    let (e, b) = (&snap.errors, &snap.budget);
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
    notes
}

fn group_rate(
    snap: &Snapshot,
    zs: &[&Process],
    now: f64,
    observed: Option<RateEstimate>,
) -> Option<RateEstimate> {
    // `watch` refines the one-scan estimate with the arrivals it saw, once it has watched long
    // enough (the caller asks for 30 s at least).
    if observed.is_some() {
        return observed;
    }
    let arrivals: Vec<(f64, TimeSource)> = zs.iter().filter_map(|z| snap.arrival_time(z)).collect();
    // One source for the whole fit: exit times when every zombie has one.
    let source = if arrivals.iter().all(|a| a.1 == TimeSource::ExitTime) {
        TimeSource::ExitTime
    } else {
        TimeSource::StartTime
    };
    let times: Vec<f64> = if source == TimeSource::ExitTime {
        arrivals.iter().map(|a| a.0).collect()
    } else {
        zs.iter().filter_map(|z| snap.started_at(z)).collect()
    };
    estimate_rate(&times, now, source)
}

/// Whether cgroup `scope` is `path` or one of its ancestors.
fn contains(scope: &str, path: &str) -> bool {
    let s = scope.trim_end_matches('/');
    path == s || path.starts_with(&format!("{s}/"))
}

fn tightest(g: &Group, scopes: &[ScopeOut], node: &NodeOut) -> Option<ExhaustionOut> {
    let mut best: Option<ExhaustionOut> = None;
    let mut consider = |e: ExhaustionOut| {
        let key = |e: &ExhaustionOut| e.seconds.unwrap_or(f64::INFINITY);
        if best.as_ref().is_none_or(|b| key(&e) < key(b)) {
            best = Some(e);
        }
    };
    for s in scopes {
        let (Some(cur), Some(max), Some(rate)) = (s.current, s.max, s.new_per_minute) else {
            continue;
        };
        if !g.zombies.iter().any(|z| {
            z.owner
                .cgroup
                .as_deref()
                .is_some_and(|c| contains(&s.path, c))
        }) {
            continue;
        }
        consider(ExhaustionOut {
            limit_of: s.label.clone(),
            current: cur,
            limit: max,
            per_minute: rate,
            seconds: s.seconds_to_exhaustion,
        });
    }
    if let (Some(limit), Some(rate)) = (node.limit, node.new_per_minute) {
        consider(ExhaustionOut {
            limit_of: "node".into(),
            current: node.tasks,
            limit,
            per_minute: rate,
            seconds: node.seconds_to_exhaustion,
        });
    }
    best
}

fn scope_out(snap: &Snapshot, c: &CgroupPids, groups: &[Group]) -> ScopeOut {
    let a = &c.attribution;
    let pod = diagnose::pod_of(snap, a).cloned();
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
            let container = diagnose::container_id_label(a, id, snap.container_name(a));
            match &pod {
                Some(p) => format!("{} {container}", diagnose::pod_label(p)),
                None => container,
            }
        }
        ScopeKind::Other => format!("cgroup {}", printable(c.path.as_bytes())),
    };
    // Each ongoing leak counts in this scope for the share of its zombies inside it.
    let mut rate = 0.0;
    for g in groups {
        let Some(r) = g.new_per_minute else { continue };
        let inside = g
            .zombies
            .iter()
            .filter(|z| {
                z.owner
                    .cgroup
                    .as_deref()
                    .is_some_and(|p| contains(&c.path, p))
            })
            .count();
        if inside > 0 {
            rate += r * inside as f64 / g.zombies.len() as f64;
        }
    }
    let rate = Some(rate);
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
    // The fastest growing leak over the threshold, in a form that fits: rate, parent, where, when full.
    let leak = r
        .groups
        .iter()
        .filter_map(|g| g.rate.filter(|x| x.ongoing).map(|x| (g, x.per_minute)))
        .filter(|(_, rate)| *rate > r.thresholds.max_leak_rate)
        .max_by(|a, b| a.1.total_cmp(&b.1));
    let line = if let Some((g, rate)) = leak {
        let full = g
            .exhaustion
            .as_ref()
            .and_then(|e| {
                e.seconds
                    .map(|s| format!(", full in {}", human_duration(s)))
            })
            .unwrap_or_default();
        let place = short_place(&g.parent.owner.label);
        format!(
            "LEAK {rate:.1}/min: {} pid {} in {place}{full} ({})",
            g.parent.name,
            g.parent.pid,
            g.cause.as_str()
        )
    } else if !r.healthy {
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
    } else if r.zombie_count == 0 && r.transient_zombie_count == 0 {
        format!("OK: no zombies; node pids {usage} used")
    } else if r.zombie_count == 0 {
        format!(
            "OK: no leak ({} transient zombies being reaped); node pids {usage} used",
            r.transient_zombie_count
        )
    } else {
        format!(
            "OK: {} zombies, {:.1}/min (under thresholds); node pids {usage} used",
            r.zombie_count,
            node.new_per_minute.unwrap_or(0.0)
        )
    };
    truncate(&line, max)
}

/// A label without the container id in parentheses: `container podman web-1 (0123456789ab)` ->
/// `podman web-1`.
fn short_place(label: &str) -> String {
    let l = label.strip_prefix("container ").unwrap_or(label);
    match (l.rfind(" ("), l.ends_with(')')) {
        (Some(i), true) => l[..i].to_string(),
        _ => l.to_string(),
    }
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
