//! Container names as their runtime shows them, read on the host without calling the runtime.
//!
//! A cgroup path gives a container id (see [`crate::cgroup`]); this module turns the id into the
//! name an operator typed or sees in `podman ps`, `docker ps` or `kubectl get pods`:
//!
//! | source | where | gives |
//! |---|---|---|
//! | conmon's arguments | `-c <id> ... -n <name>` (podman; CRI-O: `-n k8s_<container>_<pod>_<namespace>_<uid>_<attempt>`) | name, or Kubernetes container, pod and namespace |
//! | podman's state | `/var/lib/containers/storage/overlay-containers/containers.json` (`id`, `names`) | name |
//! | Docker's state | `/var/lib/docker/containers/<id>/config.v2.json`, or under a running dockerd's `--data-root` (`Name`) | name |
//! | CRI state | containerd `/run/containerd/io.containerd.runtime.v2.task/k8s.io/<id>/config.json`, CRI-O `/run/containers/storage/overlay-containers/<id>/userdata/config.json` (annotations) | Kubernetes container, pod and namespace |
//! | kubelet's logs | `/var/log/containers/<pod>_<namespace>_<container>-<id>.log`, or the only container directory of `/var/log/pods/<namespace>_<pod>_<uid>/` | Kubernetes container |
//!
//! Every path is read under a state root (default `/`) so tests can point at fabricated trees.
//! Only the ids asked for are looked up, and every file read is bounded in size.

use crate::cgroup::{self, Runtime};
use crate::fsread;
use crate::model::{ContainerName, NameSource, PodRef};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

/// One container id to name.
#[derive(Debug, Clone)]
pub struct Wanted<'a> {
    /// 64-hex container id.
    pub id: &'a str,
    /// Runtime from the cgroup path, when known.
    pub runtime: Option<Runtime>,
    /// Pod UID from the cgroup path, when it is a Kubernetes container.
    pub pod_uid: Option<&'a str>,
}

/// Largest state file read (a `config.json` or `config.v2.json`).
const MAX_FILE: u64 = 4 << 20;
/// Largest podman `containers.json` read (one entry is ~1 KiB).
const MAX_PODMAN_STATE: u64 = 64 << 20;
/// Entries of `/var/log/containers` looked at.
const MAX_LOG_LINKS: usize = 100_000;

fn read_bounded(path: &Path, max: u64) -> Option<Vec<u8>> {
    // Non-blocking, no symbolic link in place of the file, regular files only (crate::fsread).
    let f = fsread::open(path).ok()?;
    if !f.metadata().ok()?.is_file() {
        return None;
    }
    let mut buf = Vec::new();
    f.take(max + 1).read_to_end(&mut buf).ok()?;
    (buf.len() as u64 <= max).then_some(buf)
}

fn json_file(path: &Path) -> Option<serde_json::Value> {
    serde_json::from_slice(&read_bounded(path, MAX_FILE)?).ok()
}

fn arg_value(args: &[Vec<u8>], short: &[u8], long: &str) -> Option<String> {
    let mut it = args.iter();
    let eq = format!("{long}=");
    while let Some(a) = it.next() {
        if a == short || a == long.as_bytes() {
            return String::from_utf8(it.next()?.clone()).ok();
        }
        if let Some(v) = a.strip_prefix(eq.as_bytes()) {
            return String::from_utf8(v.to_vec()).ok();
        }
    }
    None
}

/// The container id and name from a conmon command line (`-c <id>`/`--cid`, `-n`/`--name`).
/// A CRI-O name `k8s_<container>_<pod>_<namespace>_<uid>_<attempt>` is split into its parts.
pub fn from_conmon_args(args: &[Vec<u8>]) -> Option<(String, ContainerName)> {
    let first = args.first()?;
    if first.rsplit(|&c| c == b'/').next()? != b"conmon" {
        return None;
    }
    let id = arg_value(args, b"-c", "--cid")?;
    let name = arg_value(args, b"-n", "--name")?;
    if name.is_empty() {
        return None;
    }
    let parts: Vec<&str> = name.split('_').collect();
    let cn = if parts.len() == 6 && parts[0] == "k8s" {
        ContainerName {
            name: parts[1].to_string(),
            pod: Some(PodRef {
                namespace: parts[3].to_string(),
                name: parts[2].to_string(),
            }),
            source: NameSource::ConmonArgs,
            runtime: Some(Runtime::Crio),
        }
    } else {
        ContainerName {
            name,
            pod: None,
            source: NameSource::ConmonArgs,
            runtime: Some(Runtime::Podman),
        }
    };
    Some((id, cn))
}

/// Names from podman's `containers.json` (an array of `{"id": ..., "names": [...]}`).
pub fn from_podman_state(buf: &[u8]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Ok(serde_json::Value::Array(v)) = serde_json::from_slice(buf) else {
        return out;
    };
    for c in v {
        let id = c.get("id").and_then(|x| x.as_str());
        let name = c
            .get("names")
            .and_then(|n| n.as_array())
            .and_then(|n| n.first())
            .and_then(|n| n.as_str());
        if let (Some(id), Some(name)) = (id, name) {
            out.insert(id.to_string(), name.to_string());
        }
    }
    out
}

/// Kubernetes container, pod and namespace from an OCI `config.json`'s CRI annotations
/// (containerd `io.kubernetes.cri.*`, CRI-O `io.kubernetes.container.name`/`io.kubernetes.pod.*`).
pub fn from_cri_config(v: &serde_json::Value) -> Option<ContainerName> {
    let ann = v.get("annotations")?;
    let get = |k: &str| ann.get(k).and_then(|x| x.as_str()).map(str::to_string);
    let (name, pod, ns) = match get("io.kubernetes.cri.container-name") {
        Some(n) => (
            n,
            get("io.kubernetes.cri.sandbox-name"),
            get("io.kubernetes.cri.sandbox-namespace"),
        ),
        None => (
            get("io.kubernetes.container.name")?,
            get("io.kubernetes.pod.name"),
            get("io.kubernetes.pod.namespace"),
        ),
    };
    let runtime = if ann.get("io.kubernetes.cri.container-name").is_some() {
        Runtime::Containerd
    } else {
        Runtime::Crio
    };
    Some(ContainerName {
        name,
        pod: match (pod, ns) {
            (Some(name), Some(namespace)) => Some(PodRef { namespace, name }),
            _ => None,
        },
        source: NameSource::CriState,
        runtime: Some(runtime),
    })
}

/// Parses kubelet's `<pod>_<namespace>_<container>-<64 hex id>.log` into (container, id).
pub fn parse_container_log(name: &str) -> Option<(&str, &str)> {
    let stem = name.strip_suffix(".log")?;
    if stem.len() < 66 {
        return None;
    }
    let (rest, id) = stem.split_at(stem.len() - 64);
    if !id.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let rest = rest.strip_suffix('-')?;
    let mut parts = rest.splitn(3, '_');
    let (_pod, _ns, container) = (parts.next()?, parts.next()?, parts.next()?);
    (!container.is_empty()).then_some((container, id))
}

/// Names the `wanted` containers. `conmon_args` are the command lines of the conmon processes
/// the scan read; `state_root` prefixes the runtimes' state paths; `pods_log_root` is kubelet's
/// `/var/log/pods` (its sibling `containers` holds the per-container log links).
pub fn resolve(
    wanted: &[Wanted<'_>],
    conmon_args: &[&[Vec<u8>]],
    state_root: &Path,
    pods_log_root: Option<&Path>,
) -> BTreeMap<String, ContainerName> {
    resolve_with(wanted, conmon_args, &[], state_root, pods_log_root)
}

/// dockerd's data root from its command line (`--data-root DIR`, `--data-root=DIR`, or the old
/// `-g`/`--graph`), when it sets one.
pub fn docker_data_root(args: &[Vec<u8>]) -> Option<String> {
    let first = args.first()?;
    if first.rsplit(|&c| c == b'/').next()? != b"dockerd" {
        return None;
    }
    arg_value(args, b"--data-root", "--data-root")
        .or_else(|| arg_value(args, b"-g", "--graph"))
        .filter(|p| p.starts_with('/'))
}

/// [`resolve`], also looking for Docker's state under `docker_roots` (data roots of the running
/// dockerd processes, [`docker_data_root`]) besides `/var/lib/docker`.
pub fn resolve_with(
    wanted: &[Wanted<'_>],
    conmon_args: &[&[Vec<u8>]],
    docker_roots: &[String],
    state_root: &Path,
    pods_log_root: Option<&Path>,
) -> BTreeMap<String, ContainerName> {
    let mut out: BTreeMap<String, ContainerName> = BTreeMap::new();
    if wanted.is_empty() {
        return out;
    }
    for args in conmon_args {
        if let Some((id, n)) = from_conmon_args(args) {
            if wanted.iter().any(|w| w.id == id) {
                out.insert(id, n);
            }
        }
    }
    names_from_podman_state(&missing(wanted, &out), state_root, &mut out);
    for w in missing(wanted, &out) {
        if let Some(n) = name_from_bundle_or_docker(&w, docker_roots, state_root) {
            out.insert(w.id.to_string(), n);
        }
    }
    let k8s: Vec<Wanted<'_>> = missing(wanted, &out)
        .into_iter()
        .filter(|w| w.pod_uid.is_some())
        .collect();
    if let (false, Some(pods_root)) = (k8s.is_empty(), pods_log_root) {
        names_from_log_links(&k8s, pods_root, &mut out);
        names_from_pod_log_dirs(&k8s, pods_root, &mut out);
    }
    out
}

/// The ids of `wanted` not named yet in `out`.
fn missing<'a>(wanted: &[Wanted<'a>], out: &BTreeMap<String, ContainerName>) -> Vec<Wanted<'a>> {
    wanted
        .iter()
        .filter(|w| !out.contains_key(w.id))
        .cloned()
        .collect()
}

/// `p` (an absolute path on the host) under `state_root`.
fn under(state_root: &Path, p: &str) -> std::path::PathBuf {
    state_root.join(p.trim_start_matches('/'))
}

/// podman: one state file for every container (read only when a container may be podman's).
fn names_from_podman_state(
    missing: &[Wanted<'_>],
    state_root: &Path,
    out: &mut BTreeMap<String, ContainerName>,
) {
    let podman: Vec<&Wanted<'_>> = missing
        .iter()
        .filter(|w| matches!(w.runtime, Some(Runtime::Podman) | None))
        .collect();
    if podman.is_empty() {
        return;
    }
    let names = read_bounded(
        &under(
            state_root,
            "/var/lib/containers/storage/overlay-containers/containers.json",
        ),
        MAX_PODMAN_STATE,
    )
    .map(|b| from_podman_state(&b))
    .unwrap_or_default();
    for w in podman {
        if let Some(n) = names.get(w.id) {
            out.insert(
                w.id.to_string(),
                ContainerName {
                    name: n.clone(),
                    pod: None,
                    source: NameSource::PodmanState,
                    runtime: Some(Runtime::Podman),
                },
            );
        }
    }
}

/// One container's name from its CRI bundle annotations (Kubernetes), else from Docker's
/// `config.v2.json` (`Name` is `/name`) under `/var/lib/docker` or one of `docker_roots`.
fn name_from_bundle_or_docker(
    w: &Wanted<'_>,
    docker_roots: &[String],
    state_root: &Path,
) -> Option<ContainerName> {
    let id = w.id;
    if !id.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let cri = [
        format!("/run/containerd/io.containerd.runtime.v2.task/k8s.io/{id}/config.json"),
        format!("/run/containers/storage/overlay-containers/{id}/userdata/config.json"),
    ];
    if let Some(n) = cri
        .iter()
        .filter_map(|p| json_file(&under(state_root, p)))
        .find_map(|v| from_cri_config(&v))
    {
        return Some(n);
    }
    if !matches!(
        w.runtime,
        Some(Runtime::Docker) | Some(Runtime::ContainerdOrDocker) | None
    ) {
        return None;
    }
    let name = std::iter::once("/var/lib/docker")
        .chain(docker_roots.iter().map(String::as_str))
        .find_map(|root| {
            let p = under(
                state_root,
                &format!("{root}/containers/{id}/config.v2.json"),
            );
            json_file(&p).and_then(|v| {
                v.get("Name")
                    .and_then(|n| n.as_str())
                    .map(|n| n.trim_start_matches('/').to_string())
            })
        })?;
    (!name.is_empty()).then_some(ContainerName {
        name,
        pod: None,
        source: NameSource::DockerState,
        runtime: Some(Runtime::Docker),
    })
}

/// Kubernetes containers named by kubelet's log links (`<pods_root>/../containers`).
fn names_from_log_links(
    k8s: &[Wanted<'_>],
    pods_root: &Path,
    out: &mut BTreeMap<String, ContainerName>,
) {
    let Some(links) = pods_root.parent().map(|p| p.join("containers")) else {
        return;
    };
    let Ok(rd) = std::fs::read_dir(links) else {
        return;
    };
    for e in rd.flatten().take(MAX_LOG_LINKS) {
        let Ok(name) = e.file_name().into_string() else {
            continue;
        };
        if let Some((c, id)) = parse_container_log(&name) {
            if k8s.iter().any(|w| w.id == id) {
                out.entry(id.to_string()).or_insert(ContainerName {
                    name: c.to_string(),
                    pod: None,
                    source: NameSource::PodLogs,
                    runtime: None,
                });
            }
        }
    }
}

/// Kubernetes containers still unnamed, named by their pod's only container log directory.
fn names_from_pod_log_dirs(
    k8s: &[Wanted<'_>],
    pods_root: &Path,
    out: &mut BTreeMap<String, ContainerName>,
) {
    let dirs: Vec<(String, std::path::PathBuf)> = std::fs::read_dir(pods_root)
        .map(|rd| {
            rd.flatten()
                .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
                .collect()
        })
        .unwrap_or_default();
    for w in missing(k8s, out) {
        let uid = w.pod_uid.unwrap_or_default();
        let Some((_, dir)) = dirs
            .iter()
            .find(|(n, _)| cgroup::parse_pod_log_dir(n).is_some_and(|(_, _, u)| u == uid))
        else {
            continue;
        };
        let containers: Vec<String> = std::fs::read_dir(dir)
            .map(|rd| {
                rd.flatten()
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        if let [only] = containers.as_slice() {
            out.insert(
                w.id.to_string(),
                ContainerName {
                    name: only.clone(),
                    pod: None,
                    source: NameSource::PodLogs,
                    runtime: None,
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<Vec<u8>> {
        s.split(' ').map(|a| a.as_bytes().to_vec()).collect()
    }

    #[test]
    fn conmon_podman_and_crio() {
        let id = "7b64db50660f261ee3d4494b37770ee54cc0087dfe57f4db0556b03ddc1666ac";
        let a = args(&format!(
            "/usr/bin/conmon --api-version 1 -c {id} -u {id} -r /usr/bin/runc -n web-1 --exit-dir /run/libpod/exits"
        ));
        let (got, n) = from_conmon_args(&a).unwrap();
        assert_eq!(got, id);
        assert_eq!(n.name, "web-1");
        assert_eq!(n.pod, None);
        let a = args(&format!(
            "/usr/bin/conmon -c {id} -n k8s_rabbit_rabbitmq-0_prod_0b5c5e4e-2f0b-4c44-9d2c-3d1b0e0f4a11_0"
        ));
        let (_, n) = from_conmon_args(&a).unwrap();
        assert_eq!(n.name, "rabbit");
        assert_eq!(
            n.pod,
            Some(PodRef {
                namespace: "prod".into(),
                name: "rabbitmq-0".into()
            })
        );
        assert!(from_conmon_args(&args("/usr/bin/runc -c x -n y")).is_none());
        assert_eq!(
            docker_data_root(&args(
                "/usr/bin/dockerd --data-root /srv/docker -H unix:///s"
            )),
            Some("/srv/docker".into())
        );
        assert_eq!(
            docker_data_root(&args("dockerd --data-root=/d")),
            Some("/d".into())
        );
        assert_eq!(docker_data_root(&args("/usr/bin/dockerd -H fd://")), None);
        assert_eq!(
            docker_data_root(&args("/usr/bin/containerd --data-root /x")),
            None
        );
    }

    #[test]
    fn podman_state_and_logs() {
        let m = from_podman_state(br#"[{"id":"aa","names":["first"]},{"id":"bb","names":[]}]"#);
        assert_eq!(m.get("aa").map(String::as_str), Some("first"));
        assert!(!m.contains_key("bb"));
        let id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        assert_eq!(
            parse_container_log(&format!("web-0_prod_app-{id}.log")),
            Some(("app", id))
        );
    }
}
