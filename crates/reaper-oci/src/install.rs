//! `reaper-oci-install`: puts reaper-oci and the static reaper on a node and registers the `reaper`
//! runtime with the node's engine, writing under a host root directory (the node's `/` mounted into
//! the installer's container, or any directory for a dry run). Used by the installer DaemonSet
//! (deploy/kubernetes/components/runtime-wrapper/runtime-wrapper-installer.yaml).
//!
//! Files are written atomically (temporary sibling, fsync, rename), so an engine starting a container
//! during an upgrade never runs a half-copied wrapper, and unchanged files are not rewritten. The
//! engine itself is not restarted: that is the operator's step (docs/runtime-wrapper.md).

use crate::files::replace_atomically;
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Where the binaries go on the node (absolute, as the engine sees them).
pub const DEFAULT_PREFIX: &str = "/opt/reaper/bin";

/// The engine whose configuration is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// A drop-in `/etc/containerd/conf.d/50-reaper.toml` (config version 2).
    Containerd,
    /// A drop-in `/etc/crio/crio.conf.d/50-reaper.conf`.
    CriO,
    /// Binaries only.
    None,
}

impl Engine {
    /// Parses `containerd`, `cri-o`/`crio` or `none`.
    pub fn parse(s: &str) -> Option<Engine> {
        match s {
            "containerd" => Some(Engine::Containerd),
            "cri-o" | "crio" => Some(Engine::CriO),
            "none" => Some(Engine::None),
            _ => None,
        }
    }
}

/// What to install.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The node's root as mounted here.
    pub host_root: PathBuf,
    /// Absolute directory on the node for `reaper-oci` and `reaper`.
    pub prefix: PathBuf,
    /// Directory holding the `reaper-oci` and `reaper` to copy.
    pub from: PathBuf,
    /// Which engine to register the runtime with.
    pub engine: Engine,
}

/// The containerd drop-in for a wrapper at `wrapper` (absolute path on the node).
pub fn containerd_dropin(wrapper: &Path) -> String {
    format!(
        "# Written by reaper-oci-install: the `reaper` runtime (docs/runtime-wrapper.md).\n\
         # Needs `imports = [\"/etc/containerd/conf.d/*.toml\"]` in /etc/containerd/config.toml.\n\
         version = 2\n\
         \n\
         [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.reaper]\n\
         \x20 runtime_type = \"io.containerd.runc.v2\"\n\
         \x20 pod_annotations = [\"reaper.io/*\"]\n\
         \x20 container_annotations = [\"reaper.io/*\"]\n\
         \n\
         [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.reaper.options]\n\
         \x20 BinaryName = \"{}\"\n",
        wrapper.display()
    )
}

/// The CRI-O drop-in for a wrapper at `wrapper` (absolute path on the node).
pub fn crio_dropin(wrapper: &Path) -> String {
    format!(
        "# Written by reaper-oci-install: the `reaper` runtime (docs/runtime-wrapper.md).\n\
         [crio.runtime.runtimes.reaper]\n\
         runtime_path = \"{}\"\n\
         runtime_type = \"oci\"\n",
        wrapper.display()
    )
}

/// `host_root` + an absolute node path.
fn on_host(host_root: &Path, node_path: &Path) -> PathBuf {
    host_root.join(node_path.strip_prefix("/").unwrap_or(node_path))
}

/// Writes `bytes` at `path` (mode `mode`) unless it already holds exactly that; atomically.
/// Returns whether it wrote.
fn put(path: &Path, bytes: &[u8], mode: u32) -> io::Result<bool> {
    if fs::read(path).is_ok_and(|old| old == bytes)
        && fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o7777 == mode)
    {
        return Ok(false);
    }
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    if !path.exists() {
        // replace_atomically keeps the mode of the file it replaces: start from an empty one.
        fs::write(path, b"")?;
    }
    fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
    replace_atomically(path, bytes)?;
    Ok(true)
}

/// Runs the plan; returns one line per action for the log. `Err` names the file and the fix.
pub fn install(plan: &Plan) -> Result<Vec<String>, String> {
    if !plan.prefix.is_absolute() {
        return Err(format!(
            "--prefix {} is not absolute: give the directory as the node sees it, e.g. {DEFAULT_PREFIX}",
            plan.prefix.display()
        ));
    }
    if !plan.host_root.is_dir() {
        return Err(format!(
            "host root {} is not a directory: mount the node's / there (hostPath) or pass --host-root",
            plan.host_root.display()
        ));
    }
    let mut done = Vec::new();
    for name in ["reaper-oci", "reaper"] {
        let src = plan.from.join(name);
        let bytes = fs::read(&src).map_err(|e| {
            format!(
                "cannot read {}: {e} (the installer image holds /{name})",
                src.display()
            )
        })?;
        if name == "reaper" {
            crate::files::check_static_executable(&src)?;
        }
        let node_path = plan.prefix.join(name);
        let dst = on_host(&plan.host_root, &node_path);
        let wrote =
            put(&dst, &bytes, 0o755).map_err(|e| format!("cannot write {}: {e}", dst.display()))?;
        done.push(format!(
            "{} {}",
            if wrote { "installed" } else { "unchanged" },
            node_path.display()
        ));
    }
    let wrapper = plan.prefix.join("reaper-oci");
    let dropin = match plan.engine {
        Engine::Containerd => Some((
            PathBuf::from("/etc/containerd/conf.d/50-reaper.toml"),
            containerd_dropin(&wrapper),
        )),
        Engine::CriO => Some((
            PathBuf::from("/etc/crio/crio.conf.d/50-reaper.conf"),
            crio_dropin(&wrapper),
        )),
        Engine::None => None,
    };
    if let Some((node_path, text)) = dropin {
        let dst = on_host(&plan.host_root, &node_path);
        let wrote = put(&dst, text.as_bytes(), 0o644)
            .map_err(|e| format!("cannot write {}: {e}", dst.display()))?;
        done.push(format!(
            "{} {} (restart the engine to load it)",
            if wrote { "wrote" } else { "unchanged" },
            node_path.display()
        ));
        if plan.engine == Engine::Containerd {
            let main = on_host(&plan.host_root, Path::new("/etc/containerd/config.toml"));
            let imports = fs::read_to_string(&main).unwrap_or_default();
            if !imports.contains("/etc/containerd/conf.d/") {
                done.push(
                    "note: /etc/containerd/config.toml does not import /etc/containerd/conf.d/*.toml; \
                     add `imports = [\"/etc/containerd/conf.d/*.toml\"]` at its top"
                        .into(),
                );
            }
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engines_parse() {
        assert_eq!(Engine::parse("crio"), Some(Engine::CriO));
        assert_eq!(Engine::parse("cri-o"), Some(Engine::CriO));
        assert_eq!(Engine::parse("containerd"), Some(Engine::Containerd));
        assert_eq!(Engine::parse("none"), Some(Engine::None));
        assert_eq!(Engine::parse("docker"), None);
    }

    #[test]
    fn dropins_name_the_wrapper() {
        let w = Path::new("/opt/reaper/bin/reaper-oci");
        assert!(containerd_dropin(w).contains("BinaryName = \"/opt/reaper/bin/reaper-oci\""));
        assert!(crio_dropin(w).contains("runtime_path = \"/opt/reaper/bin/reaper-oci\""));
    }

    #[test]
    fn relative_prefix_and_missing_root_are_refused() {
        let p = Plan {
            host_root: "/".into(),
            prefix: "opt/reaper".into(),
            from: "/".into(),
            engine: Engine::None,
        };
        assert!(install(&p).unwrap_err().contains("not absolute"));
        let p = Plan {
            host_root: "/nonexistent/host".into(),
            prefix: DEFAULT_PREFIX.into(),
            ..p
        };
        assert!(install(&p).unwrap_err().contains("hostPath"));
    }
}
