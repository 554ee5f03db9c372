//! Why a parent holds zombies, and what to do about it: one cause line and one fix line.

use crate::cgroup::{Attribution, Runtime};
use crate::model::{printable, ContainerName, PodRef, Process, Snapshot, TimeSource, ZombieGroup};
use serde::Serialize;

/// The path at which the runtime wrapper `reaper-oci` puts reaper in front of a container's
/// command (docs/runtime-wrapper.md): a PID 1 whose `argv[0]` is this path is reaper, injected
/// without an image change.
pub const INJECTED_INIT: &str = "/dev/.reaper-init";

/// Zombies no older than this many seconds (as a zombie) whose parent reaps are transient:
/// the parent is about to collect them, they are counted but are not a leak.
pub const TRANSIENT_SECONDS: f64 = 5.0;

/// Whether `p` is reaper injected by the runtime wrapper (its command line starts with
/// [`INJECTED_INIT`]; when the command line was not read, its name is `.reaper-init`).
pub fn is_reaper_injected(p: &Process) -> bool {
    match p.cmdline.as_deref().and_then(|c| c.first()) {
        Some(a0) => a0 == INJECTED_INIT.as_bytes(),
        None => p.comm == b".reaper-init",
    }
}

/// Why a parent is taken to reap its children (so its young zombies are transient).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReapingEvidence {
    /// A zombie of this parent seen by an earlier scan is gone: it reaped it.
    ReapedSinceLastScan,
    /// reaper injected by the runtime wrapper is the parent.
    ReaperInjected,
    /// SIGCHLD is ignored (`SigIgn` bit 17): the kernel reaps its children.
    SigchldIgnored,
    /// SIGCHLD has a handler (`SigCgt` bit 17).
    SigchldHandler,
    /// The parent is PID 1 of the reader's own PID namespace (the host's init when run on the
    /// host), whose job is reaping.
    ReaderInit,
    /// The parent sleeps in `wait()` (`/proc/PID/wchan` reads `do_wait`).
    BlockedInWait,
    /// Not evidence of reaping, but not of a leak either: a single zombie no older than the
    /// transient age, of a parent that may still wait for it.
    SingleYoungZombie,
}

impl ReapingEvidence {
    /// Human phrase.
    pub fn describe(self) -> &'static str {
        match self {
            ReapingEvidence::ReapedSinceLastScan => "it reaped a zombie since the last scan",
            ReapingEvidence::ReaperInjected => {
                "it is reaper, injected by the runtime wrapper reaper-oci"
            }
            ReapingEvidence::SigchldIgnored => "it ignores SIGCHLD (the kernel reaps for it)",
            ReapingEvidence::SigchldHandler => "it has a SIGCHLD handler",
            ReapingEvidence::ReaderInit => "it is PID 1 of this PID namespace",
            ReapingEvidence::BlockedInWait => "it is blocked in wait()",
            ReapingEvidence::SingleYoungZombie => {
                "a single young zombie is not yet evidence of a leak"
            }
        }
    }
}

/// A group split into leaking and transient zombies.
#[derive(Debug, Clone, Default)]
pub struct Split {
    /// Zombies that count as a leak: the parent shows no sign of reaping, or holds zombies
    /// older than the transient age.
    pub leaks: Vec<i32>,
    /// Young zombies of a parent that reaps: about to be collected.
    pub transient: Vec<i32>,
    /// Why the parent is taken to reap, when it is.
    pub reaping: Option<ReapingEvidence>,
}

/// Why the parent of `group` reaps, if it shows any sign of it. `reaped_since_last_scan` comes
/// from a tracker ([`crate::tracker::ZombieTracker::has_reaped`]).
pub fn reaping_evidence(
    snap: &Snapshot,
    group: &ZombieGroup,
    reaped_since_last_scan: bool,
) -> Option<ReapingEvidence> {
    let parent = snap.process(group.parent)?;
    if parent.is_zombie() {
        return None;
    }
    const SIGCHLD_BIT: u64 = 1 << (libc::SIGCHLD - 1);
    if reaped_since_last_scan {
        Some(ReapingEvidence::ReapedSinceLastScan)
    } else if is_reaper_injected(parent) {
        Some(ReapingEvidence::ReaperInjected)
    } else if parent.sig_ign.is_some_and(|m| m & SIGCHLD_BIT != 0) {
        Some(ReapingEvidence::SigchldIgnored)
    } else if parent.sig_cgt.is_some_and(|m| m & SIGCHLD_BIT != 0) {
        Some(ReapingEvidence::SigchldHandler)
    } else if parent.pid == 1 && parent.nspid.as_ref().is_none_or(|v| v.len() <= 1) {
        Some(ReapingEvidence::ReaderInit)
    } else if parent.wchan.as_deref() == Some(b"do_wait") {
        Some(ReapingEvidence::BlockedInWait)
    } else {
        None
    }
}

/// Splits a group into leaks and transient zombies.
///
/// A zombie is transient when it has been one for at most `transient_seconds` (its exact age
/// where the kernel shows the exit time, else the upper bound from its start time) **and** its
/// parent reaps ([`reaping_evidence`]). A parent holding any zombie older than that does not
/// reap in practice: all its zombies are leaks. A parent is never named as a cause on
/// transient zombies alone.
pub fn split_transient(
    snap: &Snapshot,
    group: &ZombieGroup,
    reaped_since_last_scan: bool,
    transient_seconds: f64,
) -> Split {
    let reaping = reaping_evidence(snap, group, reaped_since_last_scan).or((group.zombies.len()
        == 1
        && snap.process(group.parent).is_some())
    .then_some(ReapingEvidence::SingleYoungZombie));
    let age = |pid: i32| {
        snap.process(pid)
            .and_then(|z| snap.zombie_age(z))
            .map(|(a, _)| a)
    };
    // `--transient-age 0` turns the rule off: an age read right after the exit can itself be 0.
    let all_young = transient_seconds > 0.0
        && group
            .zombies
            .iter()
            .all(|&z| age(z).is_some_and(|a| a <= transient_seconds));
    if reaping.is_some() && all_young {
        Split {
            leaks: Vec::new(),
            transient: group.zombies.clone(),
            reaping,
        }
    } else {
        Split {
            leaks: group.zombies.clone(),
            transient: Vec::new(),
            reaping,
        }
    }
}

/// Age figure and its source, for display: `3.2s (exit time)` or `≤3.2s (start time)`.
pub fn age_text(age: f64, source: TimeSource) -> String {
    match source {
        TimeSource::ExitTime => format!("{age:.1}s"),
        _ => format!("≤{age:.1}s"),
    }
}

/// What fixes a PID 1 that does not reap, on the runtime that owns the container.
pub fn reaping_fix(snap: &Snapshot, parent: &Process) -> String {
    let a = parent.attribution.clone().unwrap_or_default();
    let entry = "the image's ENTRYPOINT [\"/reaper\", \"--\", ...]";
    if a.kubernetes || a.pod_uid.is_some() {
        return format!(
            "make reaper the container's PID 1: {entry}; or, without changing the image, run the pod with the runtime wrapper reaper-oci (a RuntimeClass, docs/runtime-wrapper.md); or set shareProcessNamespace: true in the pod spec so the pod's pause reaps"
        );
    }
    let name = snap
        .container_name(&a)
        .map(|n| n.name.clone())
        .unwrap_or_else(|| "CONTAINER".into());
    match a.runtime {
        Some(Runtime::Podman) => format!(
            "recreate {name} with `podman run --init --init-path /usr/local/bin/reaper ...`, or with the runtime wrapper (`podman run --runtime /usr/bin/reaper-oci ...`, docs/runtime-wrapper.md), or in a pod sharing its PID namespace (`podman pod create --share pid` with reaper's pause as infra), or with {entry}"
        ),
        Some(Runtime::Docker) | Some(Runtime::ContainerdOrDocker) => format!(
            "recreate {name} with `docker run --init` (dockerd --init-path pointing at reaper installed as docker-init), or with the runtime wrapper (`docker run --runtime reaper`, dockerd --add-runtime reaper=/usr/bin/reaper-oci, docs/runtime-wrapper.md), or with {entry}"
        ),
        _ => format!(
            "make reaper the container's PID 1: {entry}, or run the container through the runtime wrapper reaper-oci (docs/runtime-wrapper.md)"
        ),
    }
}

/// The cause of a group of zombies, from its parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// PID 1 of a container (nested PID namespace) does not reap its own children.
    ContainerInitNotReaping,
    /// Orphans of exec probes or `exec` sessions (other session than the container's PID 1)
    /// were reparented to a container PID 1 that never waits.
    ExecOrphans,
    /// A live, ordinary parent that never waits: an application bug.
    ApplicationNotWaiting,
    /// A container runtime shim or runtime process (containerd-shim, runc, dockerd...).
    RuntimeShim,
    /// CRI-O's or podman's conmon.
    Conmon,
    /// The kubelet.
    Kubelet,
    /// A monitoring agent (node-problem-detector, node_exporter, ...).
    MonitoringAgent,
    /// The PID 1 of the reader's namespace (the host init).
    HostInit,
    /// The parent is itself a zombie.
    ParentIsZombie,
    /// The parent is outside the visible PID namespace or vanished.
    ParentNotVisible,
}

impl Cause {
    /// Stable snake_case name (as in JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::ContainerInitNotReaping => "container_init_not_reaping",
            Cause::ExecOrphans => "exec_orphans",
            Cause::ApplicationNotWaiting => "application_not_waiting",
            Cause::RuntimeShim => "runtime_shim",
            Cause::Conmon => "conmon",
            Cause::Kubelet => "kubelet",
            Cause::MonitoringAgent => "monitoring_agent",
            Cause::HostInit => "host_init",
            Cause::ParentIsZombie => "parent_is_zombie",
            Cause::ParentNotVisible => "parent_not_visible",
        }
    }
}

/// A cause with its explanation and fix, one line each.
#[derive(Debug, Clone, Serialize)]
pub struct Diagnosis {
    /// Classified cause.
    pub cause: Cause,
    /// One line: what is happening.
    pub explanation: String,
    /// One line: what to do.
    pub fix: String,
}

const MONITORING: &[&str] = &[
    "node-problem-de",
    "node_exporter",
    "process-exporte",
    "cadvisor",
    "datadog-agent",
    "agent",
    "telegraf",
    "fluent-bit",
    "fluentd",
    "collectd",
    "zabbix_agentd",
    "netdata",
    "prometheus",
    "otelcol",
    "otelcol-contrib",
    "vector",
    "falco",
    "nrpe",
    "check_mk_agent",
    "promtail",
];

const RUNTIMES: &[&str] = &[
    "containerd",
    "dockerd",
    "runc",
    "crun",
    "crio",
    "podman",
    "docker-proxy",
];

/// Classifies a zombie group: by the parent's visibility and state, then by what program the
/// parent is (kubelet, conmon, a runtime, a monitoring agent), then by its place (a container's
/// PID 1, the namespace's init), else an application that does not wait.
pub fn diagnose(snap: &Snapshot, group: &ZombieGroup) -> Diagnosis {
    let zombies: Vec<&Process> = group
        .zombies
        .iter()
        .filter_map(|&z| snap.process(z))
        .collect();
    let Some(parent) = snap.process(group.parent) else {
        return parent_not_visible(group.parent, &zombies);
    };
    let h = Holder::new(parent, &zombies);
    if parent.is_zombie() {
        return h.parent_is_zombie();
    }
    if let Some(d) = h.known_program() {
        return d;
    }
    if parent.is_container_init() == Some(true) {
        return h.container_init(snap);
    }
    if parent.is_ns_init() {
        return h.namespace_init();
    }
    h.application()
}

/// Zombies whose parent is not in the snapshot.
fn parent_not_visible(parent: i32, zombies: &[&Process]) -> Diagnosis {
    Diagnosis {
        cause: Cause::ParentNotVisible,
        explanation: format!(
            "{} zombie(s) ({}) whose parent (pid {parent}) is outside this PID namespace or gone",
            zombies.len(),
            zombie_names(zombies)
        ),
        fix: "run zombies from the host PID namespace to see the parent".into(),
    }
}

/// A visible parent and its zombies, with the phrases every diagnosis of it uses.
struct Holder<'a> {
    parent: &'a Process,
    zombies: &'a [&'a Process],
    /// Printable name of the parent.
    pname: String,
    /// Basename of the parent's `argv[0]`, empty when unknown.
    exe: Vec<u8>,
    /// [`zombie_names`] of the zombies.
    names: String,
    /// Number of zombies.
    n: usize,
    /// What is known of its SIGCHLD handler.
    sigchld: &'static str,
}

impl<'a> Holder<'a> {
    fn new(parent: &'a Process, zombies: &'a [&'a Process]) -> Self {
        let exe = parent
            .cmdline
            .as_ref()
            .and_then(|c| c.first())
            .map(|a| a.rsplit(|&c| c == b'/').next().unwrap_or(a).to_vec())
            .unwrap_or_default();
        let sigchld = match parent.handles_sigchld() {
            Some(true) => "it has a SIGCHLD handler but does not reap every child",
            Some(false) => "it has no SIGCHLD handler",
            None => "its signal handlers could not be read",
        };
        Holder {
            parent,
            zombies,
            pname: parent.name(),
            exe,
            names: zombie_names(zombies),
            n: zombies.len(),
            sigchld,
        }
    }

    /// Whether the parent's comm or `argv[0]` basename is `name`.
    fn is(&self, name: &[u8]) -> bool {
        self.parent.comm == name || self.exe == name
    }

    fn parent_is_zombie(&self) -> Diagnosis {
        let Holder {
            parent,
            pname,
            names,
            n,
            ..
        } = self;
        Diagnosis {
            cause: Cause::ParentIsZombie,
            explanation: format!("parent {pname} (pid {}) is itself a zombie; its {n} zombie child(ren) ({names}) wait on it", parent.pid),
            fix: format!("fix the reaping of {pname} by its own parent (pid {}); its children are then reparented and reaped", parent.ppid),
        }
    }

    /// kubelet, conmon, a container runtime or shim, a monitoring agent: programs known to
    /// leak, each with its own fix.
    fn known_program(&self) -> Option<Diagnosis> {
        let Holder {
            parent,
            pname,
            names,
            n,
            ..
        } = self;
        let comm = parent.comm.as_slice();
        if self.is(b"kubelet") {
            return Some(Diagnosis {
                cause: Cause::Kubelet,
                explanation: format!("kubelet (pid {}) holds {n} zombie(s) ({names}): children it started and did not wait for", parent.pid),
                fix: "upgrade kubelet (a known leak in its exec'd helpers, e.g. mount/du/nsenter); restart kubelet to reap them now".into(),
            });
        }
        if self.is(b"conmon") {
            return Some(Diagnosis {
                cause: Cause::Conmon,
                explanation: format!(
                    "conmon (pid {}) holds {n} zombie(s) ({names}) it did not wait for",
                    parent.pid
                ),
                fix: "upgrade conmon/CRI-O; restarting the container (new conmon) releases them"
                    .into(),
            });
        }
        if comm.starts_with(b"containerd-shim")
            || self.exe.starts_with(b"containerd-shim")
            || RUNTIMES.iter().any(|r| self.is(r.as_bytes()))
        {
            return Some(Diagnosis {
                cause: Cause::RuntimeShim,
                explanation: format!(
                    "container runtime process {pname} (pid {}) holds {n} zombie(s) ({names})",
                    parent.pid
                ),
                fix: format!(
                    "upgrade {pname}; restarting the affected pod's sandbox (new shim) releases them"
                ),
            });
        }
        if MONITORING.iter().any(|m| self.is(m.as_bytes())) {
            return Some(Diagnosis {
                cause: Cause::MonitoringAgent,
                explanation: format!("monitoring agent {pname} (pid {}) leaks {n} zombie(s) ({names}) from the checks it runs", parent.pid),
                fix: format!("fix or upgrade {pname} (its plugins/checks must be waited for); prefer checks that spawn no subprocess"),
            });
        }
        None
    }

    /// PID 1 of a container: reaper injected (stopped or starved), orphans of exec sessions,
    /// or an init that does not reap.
    fn container_init(&self, snap: &Snapshot) -> Diagnosis {
        let Holder {
            parent,
            pname,
            names,
            n,
            sigchld,
            ..
        } = self;
        let exec_orphans: Vec<&Process> = self
            .zombies
            .iter()
            .copied()
            .filter(|z| z.session != parent.session)
            .collect();
        let where_ = container_label(snap, parent);
        if is_reaper_injected(parent) {
            return Diagnosis {
                cause: Cause::ContainerInitNotReaping,
                explanation: format!(
                    "PID 1 of {where_} is reaper injected by the runtime wrapper reaper-oci ({INJECTED_INIT}), which reaps every child; yet it holds {n} zombie(s) ({names}) older than {TRANSIENT_SECONDS}s: it may be stopped or starved"
                ),
                fix: format!("check that pid {} is running (not stopped, not throttled): `grep State /proc/{}/status`", parent.pid, parent.pid),
            };
        }
        let fix = reaping_fix(snap, parent);
        if !exec_orphans.is_empty() {
            return Diagnosis {
                cause: Cause::ExecOrphans,
                explanation: format!(
                    "orphans of exec probes/`exec` sessions ({}) were reparented to PID 1 {pname} of {where_}, which never waits",
                    zombie_names(&exec_orphans)
                ),
                fix: format!("{fix}; and make probes wait for their children"),
            };
        }
        Diagnosis {
            cause: Cause::ContainerInitNotReaping,
            explanation: format!(
                "PID 1 {pname} of {where_} does not reap its children ({names}); {sigchld}"
            ),
            fix,
        }
    }

    /// PID 1 of the reader's namespace (the host's init on the host).
    fn namespace_init(&self) -> Diagnosis {
        let Holder {
            pname,
            names,
            n,
            sigchld,
            ..
        } = self;
        Diagnosis {
            cause: Cause::HostInit,
            explanation: format!("PID 1 {pname} of this namespace holds {n} zombie(s) ({names}); {sigchld}"),
            fix: format!("if this persists, {pname} is not a reaping init: run a real init (reaper, tini) as PID 1"),
        }
    }

    /// A live, ordinary parent that never waits.
    fn application(&self) -> Diagnosis {
        let Holder {
            parent,
            pname,
            names,
            sigchld,
            ..
        } = self;
        Diagnosis {
            cause: Cause::ApplicationNotWaiting,
            explanation: format!(
                "{pname} (pid {}) is alive but never waits for its children ({names}); {sigchld}: an application bug in {pname}",
                parent.pid
            ),
            fix: format!("fix {pname} to wait() for its children (or set SIGCHLD to SIG_IGN); restarting it releases them now"),
        }
    }
}

/// `name×count` list of distinct zombie names, most frequent first, at most 4.
pub fn zombie_names(zs: &[&Process]) -> String {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for z in zs {
        let n = z.name();
        match counts.iter_mut().find(|(m, _)| *m == n) {
            Some(e) => e.1 += 1,
            None => counts.push((n, 1)),
        }
    }
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut parts: Vec<String> = counts
        .iter()
        .take(4)
        .map(|(n, c)| {
            if *c > 1 {
                format!("{n}×{c}")
            } else {
                n.clone()
            }
        })
        .collect();
    if counts.len() > 4 {
        parts.push(format!("+{} more names", counts.len() - 4));
    }
    parts.join(", ")
}

/// Label of a known pod: `pod <namespace>/<name>`.
pub fn pod_label(pod: &PodRef) -> String {
    format!("pod {}/{}", pod.namespace, pod.name)
}

/// Label of container `id` as attributed by `a`: `container <runtime> <name> (<12-char id>)`
/// when the runtime's name is known, else `container <runtime> <12-char id>`, or `conmon of
/// container ...` for its conmon (`?` for an unknown runtime).
pub fn container_id_label(a: &Attribution, id: &str, name: Option<&ContainerName>) -> String {
    // The name's source may tell the runtime a bare cgroupfs id does not.
    let rt = match (a.runtime, name.and_then(|n| n.runtime)) {
        (Some(Runtime::ContainerdOrDocker) | None, Some(r)) => r.as_str(),
        (Some(r), _) => r.as_str(),
        (None, None) => "?",
    };
    let what = if a.conmon {
        "conmon of container"
    } else {
        "container"
    };
    let short = &id[..12.min(id.len())];
    match name {
        Some(n) => format!("{what} {rt} {} ({short})", printable(n.name.as_bytes())),
        None => format!("{what} {rt} {short}"),
    }
}

/// The pod of an attribution: from kubelet's log directories or conmon (by UID), else from the
/// container's own name source (CRI annotations).
pub fn pod_of<'a>(snap: &'a Snapshot, a: &Attribution) -> Option<&'a PodRef> {
    snap.pod_of(a)
        .or_else(|| snap.container_name(a).and_then(|n| n.pod.as_ref()))
}

/// Human label of the container/pod a process is in, e.g. `container podman 0123456789ab` or
/// `pod prod/web-0 container containerd 0123456789ab`, or `the host`.
pub fn container_label(snap: &Snapshot, p: &Process) -> String {
    let Some(a) = &p.attribution else {
        return "an unknown cgroup".into();
    };
    let mut parts = Vec::new();
    if let Some(pod) = pod_of(snap, a) {
        parts.push(pod_label(pod));
    } else if let Some(uid) = &a.pod_uid {
        parts.push(format!(
            "pod uid {uid}{}",
            if a.static_pod { " (static)" } else { "" }
        ));
    }
    if let Some(id) = &a.container_id {
        parts.push(container_id_label(a, id, snap.container_name(a)));
    }
    if parts.is_empty() {
        if let Some(path) = p.cgroup_path() {
            return format!("the host ({})", printable(path.as_bytes()));
        }
        return "the host".into();
    }
    parts.join(" ")
}
