//! The pids controller: where it is mounted ([`pids_layout`], [`pids_hierarchy`]) and what
//! its counters read ([`PidsCounters`]), for the scan's cgroups holding zombies
//! ([`read_cgroup_pids`]), the accounting walk and the agent.

use crate::cgroup;
use crate::fsread;
use crate::model::{CgroupPids, CgroupVersion, ScopeKind, Snapshot};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where the pids controller is: the v1 `pids` hierarchy, or a v2 root with `pids` available.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PidsHierarchy {
    /// v1 or v2.
    pub version: CgroupVersion,
    /// Directory of the hierarchy's root cgroup.
    pub base: PathBuf,
}

impl PidsHierarchy {
    /// The task list file name: `tasks` (v1) or `cgroup.threads` (v2).
    pub fn tasks_file(&self) -> &'static str {
        match self.version {
            CgroupVersion::V1 => "tasks",
            CgroupVersion::V2 => "cgroup.threads",
        }
    }
}

/// How [`pids_layout`] decides that a candidate directory holds the pids controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PidsProbe {
    /// Usable for the accounting walk: the v1 `pids/tasks` is a file; a v2 root's
    /// `cgroup.controllers` lists `pids`.
    Usable,
    /// Only mounted: `pids/` is a directory (no `tasks` file needed); a v2 root has a
    /// `cgroup.controllers` file, whatever it lists. Enough to resolve cgroup paths under it.
    Mounted,
}

/// The hierarchies under a cgroup root (`/sys/fs/cgroup`) that may hold the pids controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PidsLayout {
    /// The v1 `pids` hierarchy: `<root>/pids`.
    pub v1: Option<PathBuf>,
    /// The v2 root: `<root>` itself, else `<root>/unified` (hybrid host).
    pub v2: Option<PathBuf>,
}

/// Finds the pids controller under a cgroup root (`/sys/fs/cgroup`), the one lookup behind
/// [`pids_hierarchy`] (accounting), the scan's per-cgroup `pids.*` reads and the agent's
/// `kubepods` walk: `<root>/pids` for v1, and `<root>` or else `<root>/unified` for v2, each
/// kept when it passes `probe`. Both may be found (hybrid host); callers choose.
pub fn pids_layout(sys_root: &Path, probe: PidsProbe) -> PidsLayout {
    let v1 = sys_root.join("pids");
    let v1_ok = match probe {
        PidsProbe::Usable => v1.join("tasks").is_file(),
        PidsProbe::Mounted => v1.is_dir(),
    };
    let v2 = [sys_root.to_path_buf(), sys_root.join("unified")]
        .into_iter()
        .find(|base| {
            let controllers = base.join("cgroup.controllers");
            match probe {
                PidsProbe::Usable => fsread::read_string(&controllers, fsread::LINE_MAX)
                    .is_ok_and(|s| s.split_whitespace().any(|c| c == "pids")),
                PidsProbe::Mounted => controllers.exists(),
            }
        });
    PidsLayout {
        v1: v1_ok.then_some(v1),
        v2,
    }
}

/// Finds the usable pids controller under a cgroup root (`/sys/fs/cgroup`): `pids/` (v1) when
/// its `tasks` file exists, else the root itself or `unified/` when its `cgroup.controllers`
/// lists `pids` ([`pids_layout`] with [`PidsProbe::Usable`]).
pub fn pids_hierarchy(sys_root: &Path) -> Option<PidsHierarchy> {
    let layout = pids_layout(sys_root, PidsProbe::Usable);
    match (layout.v1, layout.v2) {
        (Some(base), _) => Some(PidsHierarchy {
            version: CgroupVersion::V1,
            base,
        }),
        (None, Some(base)) => Some(PidsHierarchy {
            version: CgroupVersion::V2,
            base,
        }),
        (None, None) => None,
    }
}

/// A cgroup's `pids.current` and `pids.max`, as read from its directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PidsCounters {
    /// `pids.current`; `None` if unreadable.
    pub current: Option<u64>,
    /// `pids.max`; `None` for `max` (unlimited) or unreadable.
    pub max: Option<u64>,
    /// Both files could be read (`pids.max` reading `max` counts as read).
    pub readable: bool,
}

impl PidsCounters {
    /// Reads `pids.current` and `pids.max` in cgroup directory `dir`.
    pub fn read(dir: &Path) -> Self {
        Self::with_current(dir, fsread::read_u64(&dir.join("pids.current")))
    }

    /// Reads only `pids.max` in `dir`, with `current` already known (e.g. the smaller of the
    /// accounting walk's reads of `pids.current`).
    pub fn with_current(dir: &Path, current: Option<u64>) -> Self {
        let max_raw = fsread::read_string(&dir.join("pids.max"), fsread::LINE_MAX).ok();
        PidsCounters {
            current,
            readable: current.is_some() && max_raw.is_some(),
            max: max_raw.and_then(|s| s.trim().parse().ok()),
        }
    }
}

/// The pids counters of every cgroup holding a zombie of `snap`, and of its ancestors, read
/// under `sys_root` (v1 `pids` hierarchy or v2), sorted by path.
pub fn read_cgroup_pids(snap: &Snapshot, sys_root: &Path) -> Vec<CgroupPids> {
    let layout = pids_layout(sys_root, PidsProbe::Mounted);
    zombie_scopes(snap, &layout)
        .into_iter()
        .map(|((path, ver), zombies)| scope_counters(path, ver, zombies, &layout))
        .collect()
}

/// Zombies in the subtree of every cgroup holding one, by (path, hierarchy version 1 or 2).
fn zombie_scopes(snap: &Snapshot, layout: &PidsLayout) -> BTreeMap<(String, u8), u64> {
    let mut scopes: BTreeMap<(String, u8), u64> = BTreeMap::new();
    for z in snap.zombie_processes() {
        let Some(lines) = &z.cgroups else { continue };
        let Some(best) = cgroup::preferred_line(lines) else {
            continue;
        };
        let v1_pids = lines
            .iter()
            .find(|l| l.controllers.iter().any(|c| c == "pids"));
        // The v1 pids line of a zombie reads '/', but its charge stays in its container's
        // cgroup: use the best path in the v1 pids hierarchy when that directory exists.
        let ver = match (v1_pids, &layout.v1) {
            (Some(l), _) if l.path != "/" => 1u8,
            (Some(_), Some(v1)) if v1.join(best.path.trim_start_matches('/')).is_dir() => 1,
            (Some(_), _) if layout.v2.is_none() => 1,
            _ => 2,
        };
        let line_path = if ver == 1 {
            v1_pids
                .filter(|l| l.path != "/")
                .unwrap_or(best)
                .path
                .as_str()
        } else {
            best.path.as_str()
        };
        // Paths outside our cgroup namespace ('/..') cannot be resolved under sys_root.
        if line_path.starts_with("/..") {
            continue;
        }
        let mut path = line_path.trim_end_matches('/').to_string();
        loop {
            if path.is_empty() {
                break;
            }
            *scopes.entry((path.clone(), ver)).or_default() += 1;
            match path.rfind('/') {
                Some(i) => path.truncate(i),
                None => break,
            }
        }
    }
    scopes
}

/// The counters of the cgroup `path` in hierarchy `ver` (1 or 2) holding `zombies`.
fn scope_counters(path: String, ver: u8, zombies: u64, layout: &PidsLayout) -> CgroupPids {
    let (version, base) = if ver == 1 {
        (CgroupVersion::V1, &layout.v1)
    } else {
        (CgroupVersion::V2, &layout.v2)
    };
    let attribution = cgroup::attribute(&path);
    let kind = if attribution.container_id.is_some() {
        ScopeKind::Container
    } else if cgroup::pod_cgroup(&path).as_deref() == Some(path.as_str()) {
        ScopeKind::Pod
    } else {
        ScopeKind::Other
    };
    let (mut pids, mut events_max) = (PidsCounters::default(), None);
    if let Some(base) = base {
        let dir = base.join(path.trim_start_matches('/'));
        pids = PidsCounters::read(&dir);
        events_max = fsread::read_string(&dir.join("pids.events"), fsread::LINE_MAX)
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("max ")?.trim().parse().ok())
            });
    }
    CgroupPids {
        path,
        version,
        kind,
        current: pids.current,
        max: pids.max,
        events_max,
        readable: pids.readable,
        zombies,
        attribution,
    }
}
