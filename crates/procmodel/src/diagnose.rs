//! Why a parent holds zombies, and what to do about it: one cause line and one fix line.

use crate::cgroup::Attribution;
use crate::scan::{printable, PodRef, Process, Snapshot, ZombieGroup};
use serde::Serialize;

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

/// Classifies a zombie group.
pub fn diagnose(snap: &Snapshot, group: &ZombieGroup) -> Diagnosis {
    let zombies: Vec<&Process> = group
        .zombies
        .iter()
        .filter_map(|&z| snap.process(z))
        .collect();
    let names = zombie_names(&zombies);
    let n = zombies.len();
    let Some(parent) = snap.process(group.parent) else {
        return Diagnosis {
            cause: Cause::ParentNotVisible,
            explanation: format!(
                "{n} zombie(s) ({names}) whose parent (pid {}) is outside this PID namespace or gone",
                group.parent
            ),
            fix: "run zombies from the host PID namespace to see the parent".into(),
        };
    };
    let pname = parent.name();
    let comm = parent.comm.as_slice();
    let exe = parent
        .cmdline
        .as_ref()
        .and_then(|c| c.first())
        .map(|a| a.rsplit(|&c| c == b'/').next().unwrap_or(a).to_vec())
        .unwrap_or_default();
    let is = |n: &[u8]| comm == n || exe == n;
    let sigchld = match parent.handles_sigchld() {
        Some(true) => "it has a SIGCHLD handler but does not reap every child",
        Some(false) => "it has no SIGCHLD handler",
        None => "its signal handlers could not be read",
    };

    if parent.is_zombie() {
        return Diagnosis {
            cause: Cause::ParentIsZombie,
            explanation: format!("parent {pname} (pid {}) is itself a zombie; its {n} zombie child(ren) ({names}) wait on it", parent.pid),
            fix: format!("fix the reaping of {pname} by its own parent (pid {}); its children are then reparented and reaped", parent.ppid),
        };
    }
    if is(b"kubelet") {
        return Diagnosis {
            cause: Cause::Kubelet,
            explanation: format!("kubelet (pid {}) holds {n} zombie(s) ({names}): children it started and did not wait for", parent.pid),
            fix: "upgrade kubelet (a known leak in its exec'd helpers, e.g. mount/du/nsenter); restart kubelet to reap them now".into(),
        };
    }
    if comm == b"conmon" || exe == b"conmon" {
        return Diagnosis {
            cause: Cause::Conmon,
            explanation: format!(
                "conmon (pid {}) holds {n} zombie(s) ({names}) it did not wait for",
                parent.pid
            ),
            fix: "upgrade conmon/CRI-O; restarting the container (new conmon) releases them".into(),
        };
    }
    if comm.starts_with(b"containerd-shim")
        || exe.starts_with(b"containerd-shim")
        || RUNTIMES.iter().any(|r| is(r.as_bytes()))
    {
        return Diagnosis {
            cause: Cause::RuntimeShim,
            explanation: format!(
                "container runtime process {pname} (pid {}) holds {n} zombie(s) ({names})",
                parent.pid
            ),
            fix: format!(
                "upgrade {pname}; restarting the affected pod's sandbox (new shim) releases them"
            ),
        };
    }
    if MONITORING.iter().any(|m| is(m.as_bytes())) {
        return Diagnosis {
            cause: Cause::MonitoringAgent,
            explanation: format!("monitoring agent {pname} (pid {}) leaks {n} zombie(s) ({names}) from the checks it runs", parent.pid),
            fix: format!("fix or upgrade {pname} (its plugins/checks must be waited for); prefer checks that spawn no subprocess"),
        };
    }
    if parent.is_container_init() == Some(true) {
        let exec_orphans: Vec<&Process> = zombies
            .iter()
            .copied()
            .filter(|z| z.session != parent.session)
            .collect();
        let where_ = container_label(snap, parent);
        if !exec_orphans.is_empty() {
            return Diagnosis {
                cause: Cause::ExecOrphans,
                explanation: format!(
                    "orphans of exec probes/`exec` sessions ({}) were reparented to PID 1 {pname} of {where_}, which never waits",
                    zombie_names(&exec_orphans)
                ),
                fix: "run the container's PID 1 under reaper (ENTRYPOINT [\"/reaper\", \"--\", ...]) or set shareProcessNamespace: true; make probes wait for their children".into(),
            };
        }
        return Diagnosis {
            cause: Cause::ContainerInitNotReaping,
            explanation: format!("PID 1 {pname} of {where_} does not reap its children ({names}); {sigchld}"),
            fix: "run the container's PID 1 under reaper (ENTRYPOINT [\"/reaper\", \"--\", ...]) or set shareProcessNamespace: true in the pod spec".into(),
        };
    }
    if parent.is_ns_init() {
        return Diagnosis {
            cause: Cause::HostInit,
            explanation: format!("PID 1 {pname} of this namespace holds {n} zombie(s) ({names}); {sigchld}"),
            fix: format!("if this persists, {pname} is not a reaping init: run a real init (reaper, tini) as PID 1"),
        };
    }
    Diagnosis {
        cause: Cause::ApplicationNotWaiting,
        explanation: format!(
            "{pname} (pid {}) is alive but never waits for its children ({names}); {sigchld}: an application bug in {pname}",
            parent.pid
        ),
        fix: format!("fix {pname} to wait() for its children (or set SIGCHLD to SIG_IGN); restarting it releases them now"),
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

/// Label of container `id` as attributed by `a`: `container <runtime> <12-char id>`, or
/// `conmon of container ...` for its conmon (`?` for an unknown runtime).
pub fn container_id_label(a: &Attribution, id: &str) -> String {
    let rt = a.runtime.map(|r| r.as_str()).unwrap_or("?");
    let what = if a.conmon {
        "conmon of container"
    } else {
        "container"
    };
    format!("{what} {rt} {}", &id[..12.min(id.len())])
}

/// Human label of the container/pod a process is in, e.g. `container podman 0123456789ab` or
/// `pod prod/web-0 container containerd 0123456789ab`, or `the host`.
pub fn container_label(snap: &Snapshot, p: &Process) -> String {
    let Some(a) = &p.attribution else {
        return "an unknown cgroup".into();
    };
    let mut parts = Vec::new();
    if let Some(pod) = snap.pod_of(a) {
        parts.push(pod_label(pod));
    } else if let Some(uid) = &a.pod_uid {
        parts.push(format!(
            "pod uid {uid}{}",
            if a.static_pod { " (static)" } else { "" }
        ));
    }
    if let Some(id) = &a.container_id {
        parts.push(container_id_label(a, id));
    }
    if parts.is_empty() {
        if let Some(path) = p.cgroup_path() {
            return format!("the host ({})", printable(path.as_bytes()));
        }
        return "the host".into();
    }
    parts.join(" ")
}
