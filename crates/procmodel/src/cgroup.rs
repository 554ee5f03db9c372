//! Cgroup paths: parsing `/proc/PID/cgroup` and attributing a path to a runtime, pod and
//! container. Pure functions on strings; no I/O.
//!
//! Recognised layouts (`<uid_>` = pod UID with `-` replaced by `_`, `<id>` = 64 hex digits):
//!
//! | runtime / driver | path |
//! |---|---|
//! | containerd + systemd | `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid_>.slice/cri-containerd-<id>.scope` |
//! | containerd + systemd, Guaranteed | `/kubepods.slice/kubepods-pod<uid_>.slice/cri-containerd-<id>.scope` |
//! | containerd or docker + cgroupfs | `/kubepods/burstable/pod<uid>/<id>`, `/kubepods/pod<uid>/<id>` |
//! | CRI-O + systemd | `.../crio-<id>.scope`, conmon `.../crio-conmon-<id>.scope` |
//! | CRI-O + cgroupfs | `/kubepods/burstable/pod<uid>/crio-<id>`, conmon `.../crio-conmon-<id>` |
//! | docker (cri-dockerd) + systemd | `.../kubepods-burstable-pod<uid_>.slice/docker-<id>.scope` |
//! | plain docker / podman | `/system.slice/docker-<id>.scope`, `/docker/<id>`, `.../libpod-<id>.scope`, `/libpod_parent/libpod-<id>` |
//!
//! Any prefix (`--cgroup-root`, `/../..` under a private cgroup namespace) is tolerated because
//! components are matched wherever they occur, and a trailing ` (deleted)` is stripped.

use serde::Serialize;

/// One line of `/proc/PID/cgroup`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CgroupLine {
    /// Hierarchy id (0 for the cgroup v2 line).
    pub hierarchy: u32,
    /// Controllers (`["pids"]`, `["cpu", "cpuacct"]`, `["name=systemd"]`, `[]` for v2).
    pub controllers: Vec<String>,
    /// The path, without a ` (deleted)` suffix.
    pub path: String,
    /// The kernel marked the cgroup as removed (` (deleted)`).
    pub deleted: bool,
}

/// Parses the content of `/proc/PID/cgroup`. Malformed lines are skipped; non-UTF-8 bytes are
/// replaced.
pub fn parse_cgroup_file(buf: &[u8]) -> Vec<CgroupLine> {
    let text = String::from_utf8_lossy(buf);
    let mut out = Vec::new();
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(ctrl), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let Ok(hierarchy) = id.parse() else { continue };
        let (path, deleted) = match path.strip_suffix(" (deleted)") {
            Some(p) => (p.to_string(), true),
            None => (path.to_string(), false),
        };
        let controllers = ctrl
            .split(',')
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect();
        out.push(CgroupLine {
            hierarchy,
            controllers,
            path,
            deleted,
        });
    }
    out
}

/// Picks the line used for attribution and pids accounting: the v1 `pids` hierarchy, then
/// `name=systemd`, then the v2 `0::` line.
///
/// A line whose path is the root `/` is passed over when a later candidate has a deeper path:
/// on hybrid hosts (kernel 6.x measured) a **zombie's** v1 lines all read `/` while its `0::`
/// line keeps the container's path (and its `pids.current` charge stays in that container).
pub fn preferred_line(lines: &[CgroupLine]) -> Option<&CgroupLine> {
    let has = |l: &CgroupLine, c: &str| l.controllers.iter().any(|x| x == c);
    let candidates = [
        lines.iter().find(|l| has(l, "pids")),
        lines.iter().find(|l| has(l, "name=systemd")),
        lines
            .iter()
            .find(|l| l.hierarchy == 0 && l.controllers.is_empty()),
    ];
    candidates
        .iter()
        .flatten()
        .find(|l| l.path != "/")
        .or_else(|| candidates.iter().flatten().next())
        .copied()
}

/// Container runtime recognised from a cgroup path component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Runtime {
    /// containerd (CRI), `cri-containerd-<id>.scope`.
    Containerd,
    /// CRI-O, `crio-<id>`.
    Crio,
    /// Docker (plain or cri-dockerd), `docker-<id>.scope` or `/docker/<id>`.
    Docker,
    /// Podman, `libpod-<id>`.
    Podman,
    /// A bare 64-hex id under cgroupfs: containerd or cri-dockerd, indistinguishable by path.
    ContainerdOrDocker,
}

impl Runtime {
    /// Short lowercase name (`containerd`, `crio`, `docker`, `podman`, `containerd/docker`).
    pub fn as_str(self) -> &'static str {
        match self {
            Runtime::Containerd => "containerd",
            Runtime::Crio => "crio",
            Runtime::Docker => "docker",
            Runtime::Podman => "podman",
            Runtime::ContainerdOrDocker => "containerd/docker",
        }
    }
}

/// Cgroup driver the path was written by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Driver {
    /// systemd slices and scopes.
    Systemd,
    /// Plain directories.
    Cgroupfs,
}

/// Kubernetes QoS class of a pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Qos {
    /// No QoS level in the path.
    Guaranteed,
    /// `burstable`.
    Burstable,
    /// `besteffort`.
    BestEffort,
}

/// What a cgroup path says about who owns a process. All fields are `None`/`false` for a
/// host process.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Attribution {
    /// The path is under a kubelet hierarchy (`kubepods`).
    pub kubernetes: bool,
    /// Pod UID with dashes (as in the API), or 32 hex digits for a static pod.
    pub pod_uid: Option<String>,
    /// The pod UID is a static pod's 32-hex config hash (mirror pod annotation
    /// `kubernetes.io/config.mirror`).
    pub static_pod: bool,
    /// QoS class, when the path is a pod's.
    pub qos: Option<Qos>,
    /// Runtime that created the container cgroup.
    pub runtime: Option<Runtime>,
    /// Container id (64 hex digits).
    pub container_id: Option<String>,
    /// The process is the runtime's monitor (`crio-conmon-<id>`, `libpod-conmon-<id>`), not
    /// the container; `container_id` is the monitored container.
    pub conmon: bool,
    /// Cgroup driver.
    pub driver: Option<Driver>,
    /// The cgroup was removed (` (deleted)`).
    pub deleted: bool,
}

impl Attribution {
    /// True when the path names neither a pod nor a container.
    pub fn is_host(&self) -> bool {
        self.pod_uid.is_none() && self.container_id.is_none()
    }
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c.is_ascii_hexdigit())
}

fn is_id(s: &str) -> bool {
    s.len() == 64 && is_hex(s)
}

/// Normalises a pod UID from a path: `_` becomes `-`; a 32-hex static pod hash stays as is.
fn pod_uid(raw: &str) -> Option<(String, bool)> {
    let uid = raw.replace('_', "-");
    if uid.len() == 32 && is_hex(&uid) {
        return Some((uid, true));
    }
    let ok = uid.len() == 36
        && uid.char_indices().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        });
    ok.then_some((uid, false))
}

/// Container cgroup name prefixes before a 64-hex id: (prefix, runtime, is the conmon). A
/// `-conmon-` prefix comes before the prefix it extends. `cri-containerd-` first: the cgroupfs
/// driver skips it.
const PREFIXED: &[(&str, Runtime, bool)] = &[
    ("cri-containerd-", Runtime::Containerd, false),
    ("crio-conmon-", Runtime::Crio, true),
    ("crio-", Runtime::Crio, false),
    ("docker-", Runtime::Docker, false),
    ("libpod-conmon-", Runtime::Podman, true),
    ("libpod-", Runtime::Podman, false),
];

/// The container id, runtime and conmon flag of a `<prefix><64 hex id>` component.
fn prefixed_id<'a>(
    component: &'a str,
    table: &[(&str, Runtime, bool)],
) -> Option<(&'a str, Runtime, bool)> {
    table.iter().find_map(|&(p, rt, conmon)| {
        component
            .strip_prefix(p)
            .filter(|id| is_id(id))
            .map(|id| (id, rt, conmon))
    })
}

/// Attributes a cgroup path (one line's path, ` (deleted)` allowed) to pod and container.
///
/// ```
/// use procmodel::cgroup::{attribute, Runtime, Qos};
/// let a = attribute("/kubepods/burstable/pod0b5c5e4e-2f0b-4c44-9d2c-3d1b0e0f4a11/crio-conmon-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
/// assert_eq!(a.runtime, Some(Runtime::Crio));
/// assert!(a.conmon);
/// assert_eq!(a.qos, Some(Qos::Burstable));
/// ```
pub fn attribute(path: &str) -> Attribution {
    let mut a = Attribution::default();
    let path = match path.strip_suffix(" (deleted)") {
        Some(p) => {
            a.deleted = true;
            p
        }
        None => path,
    };
    let comps: Vec<&str> = path
        .split('/')
        .filter(|c| !c.is_empty() && *c != "..")
        .collect();
    let mut prev: Option<&str> = None;
    for c in comps.iter().copied() {
        if let Some(slice) = c.strip_suffix(".slice") {
            systemd_slice(&mut a, slice);
        } else if let Some(scope) = c.strip_suffix(".scope") {
            if let Some((id, rt, conmon)) = prefixed_id(scope, PREFIXED) {
                a.runtime = Some(rt);
                a.container_id = Some(id.to_string());
                a.conmon = conmon;
                a.driver = Some(Driver::Systemd);
            }
        } else {
            cgroupfs_component(&mut a, c, prev);
        }
        prev = Some(c);
    }
    if a.pod_uid.is_some() && a.qos.is_none() {
        a.qos = Some(Qos::Guaranteed);
    }
    a
}

/// A `.slice` of the systemd driver (its name without the suffix): `kubepods.slice`,
/// `kubepods-burstable.slice`, `kubepods-burstable-pod<uid_>.slice`, `kubepods-pod<uid_>.slice`.
fn systemd_slice(a: &mut Attribution, slice: &str) {
    let Some(rest) = slice.strip_prefix("kubepods") else {
        return;
    };
    a.kubernetes = true;
    a.driver = Some(Driver::Systemd);
    let rest = rest.strip_prefix('-').unwrap_or(rest);
    let rest = if let Some(r) = rest.strip_prefix("burstable") {
        a.qos = Some(Qos::Burstable);
        r.strip_prefix('-').unwrap_or(r)
    } else if let Some(r) = rest.strip_prefix("besteffort") {
        a.qos = Some(Qos::BestEffort);
        r.strip_prefix('-').unwrap_or(r)
    } else {
        rest
    };
    if let Some(uid) = rest.strip_prefix("pod").and_then(pod_uid) {
        (a.pod_uid, a.static_pod) = (Some(uid.0), uid.1);
    }
}

/// A path component of the cgroupfs driver (`prev` is the component before it).
fn cgroupfs_component(a: &mut Attribution, c: &str, prev: Option<&str>) {
    match c {
        "kubepods" => {
            a.kubernetes = true;
            a.driver = Some(Driver::Cgroupfs);
        }
        "burstable" if prev == Some("kubepods") => a.qos = Some(Qos::Burstable),
        "besteffort" if prev == Some("kubepods") => a.qos = Some(Qos::BestEffort),
        _ => {
            // `cri-containerd-` is only written by the systemd driver (as a scope).
            if let Some((id, rt, conmon)) = prefixed_id(c, &PREFIXED[1..]) {
                a.runtime = Some(rt);
                a.container_id = Some(id.to_string());
                a.conmon = conmon;
                a.driver.get_or_insert(Driver::Cgroupfs);
            } else if is_id(c) {
                a.container_id = Some(c.to_string());
                a.runtime = Some(if prev == Some("docker") {
                    Runtime::Docker
                } else {
                    Runtime::ContainerdOrDocker
                });
                a.driver.get_or_insert(Driver::Cgroupfs);
            } else if let Some(uid) = c.strip_prefix("pod").and_then(pod_uid) {
                if a.kubernetes {
                    (a.pod_uid, a.static_pod) = (Some(uid.0), uid.1);
                }
            }
        }
    }
}

/// The part of `path` that identifies the pod, if the path is inside a pod: everything up to and
/// including the `pod<uid>` (cgroupfs) or `...pod<uid_>.slice` (systemd) component. Used to
/// read the pod's `pids.current`/`pids.max`.
pub fn pod_cgroup(path: &str) -> Option<String> {
    let path = path.strip_suffix(" (deleted)").unwrap_or(path);
    let mut out = String::new();
    let mut in_kube = false;
    for c in path.split('/').filter(|c| !c.is_empty()) {
        out.push('/');
        out.push_str(c);
        if c == "kubepods" || c.starts_with("kubepods") && c.ends_with(".slice") {
            in_kube = true;
        }
        if !in_kube {
            continue;
        }
        let pod = if let Some(s) = c.strip_suffix(".slice") {
            s.rsplit_once("-pod")
                .map(|(_, u)| u)
                .filter(|u| pod_uid(u).is_some())
        } else {
            c.strip_prefix("pod").filter(|u| pod_uid(u).is_some())
        };
        if pod.is_some() {
            return Some(out);
        }
    }
    None
}

/// Pod identity from CRI-O conmon's command line (`-n k8s_<container>_<pod>_<namespace>_<uid>_<attempt>`,
/// also `--name`). Returns `(container, pod, namespace, uid)`.
pub fn conmon_pod_from_args(args: &[Vec<u8>]) -> Option<(String, String, String, String)> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let value = if a == b"-n" || a == b"--name" {
            it.next()?.clone()
        } else if let Some(v) = a.strip_prefix(b"--name=") {
            v.to_vec()
        } else {
            continue;
        };
        let v = String::from_utf8(value).ok()?;
        let parts: Vec<&str> = v.split('_').collect();
        if parts.len() == 6 && parts[0] == "k8s" {
            return Some((
                parts[1].to_string(),
                parts[2].to_string(),
                parts[3].to_string(),
                parts[4].to_string(),
            ));
        }
    }
    None
}

/// Pod sandbox id from a containerd shim's command line
/// (`containerd-shim-runc-v2 -namespace k8s.io -id <sandbox id> ...`).
pub fn shim_sandbox_from_args(args: &[Vec<u8>]) -> Option<String> {
    let first = args.first()?;
    let name = first.rsplit(|&c| c == b'/').next()?;
    if !name.starts_with(b"containerd-shim") {
        return None;
    }
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == b"-id" || a == b"--id" {
            return String::from_utf8(it.next()?.clone()).ok();
        }
    }
    None
}

/// Parses a kubelet pod log directory name `<namespace>_<pod>_<uid>` into its parts.
pub fn parse_pod_log_dir(name: &str) -> Option<(String, String, String)> {
    let mut parts = name.split('_');
    let (ns, pod, uid) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || ns.is_empty() || pod.is_empty() || pod_uid(uid).is_none() {
        return None;
    }
    Some((ns.to_string(), pod.to_string(), uid.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const UID: &str = "0b5c5e4e-2f0b-4c44-9d2c-3d1b0e0f4a11";
    const UID_: &str = "0b5c5e4e_2f0b_4c44_9d2c_3d1b0e0f4a11";
    const STATIC: &str = "5d2b1a1fb5a3c7b6bb2f3c8e9d0a1b2c";

    fn check(
        path: &str,
        rt: Runtime,
        drv: Driver,
        qos: Option<Qos>,
        uid: Option<&str>,
        conmon: bool,
    ) {
        let a = attribute(path);
        assert_eq!(a.runtime, Some(rt), "{path}");
        assert_eq!(a.driver, Some(drv), "{path}");
        assert_eq!(a.qos, qos, "{path}");
        assert_eq!(a.pod_uid.as_deref(), uid, "{path}");
        assert_eq!(a.container_id.as_deref(), Some(ID), "{path}");
        assert_eq!(a.conmon, conmon, "{path}");
        assert_eq!(a.kubernetes, uid.is_some(), "{path}");
    }

    #[test]
    #[allow(clippy::too_many_lines)] // a table of cases, one per reference cgroup path
    fn every_reference_pattern() {
        use Driver::*;
        use Runtime::*;
        let b = Some(Qos::Burstable);
        let g = Some(Qos::Guaranteed);
        let be = Some(Qos::BestEffort);
        let u = Some(UID);
        let sys_pod =
            format!("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{UID_}.slice");
        check(
            &format!("{sys_pod}/cri-containerd-{ID}.scope"),
            Containerd,
            Systemd,
            b,
            u,
            false,
        );
        check(
            &format!("/kubepods.slice/kubepods-pod{UID_}.slice/cri-containerd-{ID}.scope"),
            Containerd,
            Systemd,
            g,
            u,
            false,
        );
        check(&format!("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{UID_}.slice/cri-containerd-{ID}.scope"), Containerd, Systemd, be, u, false);
        check(
            &format!("/kubepods/burstable/pod{UID}/{ID}"),
            ContainerdOrDocker,
            Cgroupfs,
            b,
            u,
            false,
        );
        check(
            &format!("/kubepods/pod{UID}/{ID}"),
            ContainerdOrDocker,
            Cgroupfs,
            g,
            u,
            false,
        );
        check(
            &format!("/kubepods/besteffort/pod{UID}/{ID}"),
            ContainerdOrDocker,
            Cgroupfs,
            be,
            u,
            false,
        );
        check(
            &format!("{sys_pod}/crio-{ID}.scope"),
            Crio,
            Systemd,
            b,
            u,
            false,
        );
        check(
            &format!("{sys_pod}/crio-conmon-{ID}.scope"),
            Crio,
            Systemd,
            b,
            u,
            true,
        );
        check(
            &format!("/kubepods/burstable/pod{UID}/crio-{ID}"),
            Crio,
            Cgroupfs,
            b,
            u,
            false,
        );
        check(
            &format!("/kubepods/burstable/pod{UID}/crio-conmon-{ID}"),
            Crio,
            Cgroupfs,
            b,
            u,
            true,
        );
        check(
            &format!("{sys_pod}/docker-{ID}.scope"),
            Docker,
            Systemd,
            b,
            u,
            false,
        );
        check(
            &format!("/system.slice/docker-{ID}.scope"),
            Docker,
            Systemd,
            None,
            None,
            false,
        );
        check(
            &format!("/docker/{ID}"),
            Docker,
            Cgroupfs,
            None,
            None,
            false,
        );
        check(
            &format!("/machine.slice/libpod-{ID}.scope"),
            Podman,
            Systemd,
            None,
            None,
            false,
        );
        check(
            &format!("/machine.slice/libpod-conmon-{ID}.scope"),
            Podman,
            Systemd,
            None,
            None,
            true,
        );
        check(
            &format!("/libpod_parent/libpod-{ID}"),
            Podman,
            Cgroupfs,
            None,
            None,
            false,
        );
        check(
            &format!("/libpod_parent/libpod-{ID}/container"),
            Podman,
            Cgroupfs,
            None,
            None,
            false,
        );
        // --cgroup-root prefix, cgroup-namespace '/..' prefix and ' (deleted)'.
        check(
            &format!("/custom/root/kubepods/burstable/pod{UID}/{ID}"),
            ContainerdOrDocker,
            Cgroupfs,
            b,
            u,
            false,
        );
        check(
            &format!("/../../kubepods/burstable/pod{UID}/crio-{ID}"),
            Crio,
            Cgroupfs,
            b,
            u,
            false,
        );
        check(
            &format!("/../..{sys_pod}/cri-containerd-{ID}.scope"),
            Containerd,
            Systemd,
            b,
            u,
            false,
        );
        let del = format!("{sys_pod}/cri-containerd-{ID}.scope (deleted)");
        check(&del, Containerd, Systemd, b, u, false);
        assert!(attribute(&del).deleted);
    }

    #[test]
    fn static_pods_and_host() {
        let a = attribute(&format!("/kubepods/burstable/pod{STATIC}/{ID}"));
        assert_eq!(a.pod_uid.as_deref(), Some(STATIC));
        assert!(a.static_pod);
        let a = attribute(&format!(
            "/kubepods.slice/kubepods-pod{STATIC}.slice/cri-containerd-{ID}.scope"
        ));
        assert!(a.static_pod);
        assert_eq!(a.qos, Some(Qos::Guaranteed));
        for host in [
            "/",
            "",
            "/system.slice/containerd.service",
            "/user.slice/user-0.slice/session-1.scope",
            "/pod1234/abc",
            "/docker/notanid",
        ] {
            assert!(attribute(host).is_host(), "{host}");
        }
        // A pod cgroup itself (e.g. a process placed in the pod, not a container).
        let a = attribute(&format!("/kubepods/pod{UID}"));
        assert_eq!(
            (a.pod_uid.as_deref(), a.container_id.as_deref()),
            (Some(UID), None)
        );
    }

    #[test]
    fn pod_cgroup_prefix() {
        assert_eq!(
            pod_cgroup(&format!("/kubepods/burstable/pod{UID}/{ID}")),
            Some(format!("/kubepods/burstable/pod{UID}"))
        );
        let sys = format!("/kubepods.slice/kubepods-pod{UID_}.slice");
        assert_eq!(
            pod_cgroup(&format!("{sys}/crio-{ID}.scope (deleted)")),
            Some(sys)
        );
        assert_eq!(pod_cgroup(&format!("/docker/{ID}")), None);
        assert_eq!(pod_cgroup("/kubepods.slice/kubepods-burstable.slice"), None);
    }

    #[test]
    fn cgroup_file_preference() {
        let v1 = format!(
            "12:pids:/kubepods/pod{UID}/{ID}\n11:name=systemd:/sys\n4:cpu,cpuacct:/x\n0::/other\n"
        );
        let lines = parse_cgroup_file(v1.as_bytes());
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[2].controllers, vec!["cpu", "cpuacct"]);
        assert_eq!(
            preferred_line(&lines).unwrap().path,
            format!("/kubepods/pod{UID}/{ID}")
        );
        let lines = parse_cgroup_file(b"11:name=systemd:/sys\n0::/other\n");
        assert_eq!(preferred_line(&lines).unwrap().path, "/sys");
        let lines = parse_cgroup_file(b"0::/a/b (deleted)\ngarbage\n:x\n");
        let l = preferred_line(&lines).unwrap();
        assert_eq!((l.path.as_str(), l.deleted), ("/a/b", true));
        assert!(preferred_line(&parse_cgroup_file(b"\xff\xfe")).is_none());
        // A zombie on a hybrid host: v1 lines read '/', the v2 line keeps the container.
        let z = format!("9:name=systemd:/\n8:pids:/\n1:cpu:/\n0::/libpod_parent/libpod-{ID}\n");
        let lines = parse_cgroup_file(z.as_bytes());
        assert_eq!(
            preferred_line(&lines).unwrap().path,
            format!("/libpod_parent/libpod-{ID}")
        );
        let lines = parse_cgroup_file(b"8:pids:/\n0::/\n");
        assert_eq!(preferred_line(&lines).unwrap().controllers, vec!["pids"]);
    }

    #[test]
    fn pod_names_from_conmon_shim_and_logs() {
        let args: Vec<Vec<u8>> = [
            "/usr/bin/conmon",
            "-b",
            "/x",
            "-n",
            &format!("k8s_app_web-0_prod_{UID}_2"),
            "-r",
            "/runc",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
        assert_eq!(
            conmon_pod_from_args(&args),
            Some(("app".into(), "web-0".into(), "prod".into(), UID.into()))
        );
        assert_eq!(
            conmon_pod_from_args(&[b"conmon".to_vec(), b"-n".to_vec()]),
            None
        );
        let shim: Vec<Vec<u8>> = [
            "/usr/bin/containerd-shim-runc-v2",
            "-namespace",
            "k8s.io",
            "-id",
            ID,
            "-address",
            "/run/c.sock",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
        assert_eq!(shim_sandbox_from_args(&shim).as_deref(), Some(ID));
        assert_eq!(
            shim_sandbox_from_args(&[b"sleep".to_vec(), b"-id".to_vec(), b"x".to_vec()]),
            None
        );
        assert_eq!(
            parse_pod_log_dir(&format!("kube-system_etcd-node1_{STATIC}")),
            Some(("kube-system".into(), "etcd-node1".into(), STATIC.into()))
        );
        assert_eq!(parse_pod_log_dir(&format!("a_b_c_{UID}")), None);
        assert_eq!(parse_pod_log_dir("a_b_notauid"), None);
    }
}
