//! The metrics of `zombies serve`, computed on each scrape from one [`procmodel::scan()`] plus a
//! walk of the `kubepods` cgroup tree (pods and containers known on the node, their
//! `pids.current`/`pids.max`).
//!
//! Labels are `namespace`, `pod`, `container` only: no pid, no command line, no comm. Their
//! cardinality is bounded by the pods and containers on the node; everything outside any
//! Kubernetes pod (the host, plain podman/docker containers, unreadable cgroups) is counted in the
//! bucket whose three labels are empty, so `sum()` is the node total.
//!
//! State kept between scrapes (bounded): first-seen times of the zombies present now, and the
//! `zombies_observed_total` counters of the label sets present now.

use super::expo::{Family, Kind};
use procmodel::accounting::{self, Accounting};
use procmodel::cgroup::{self, Attribution};
use procmodel::pids::{self, PidsCounters};
use procmodel::{NodeBudget, PodRef, ScanConfig, Snapshot};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// `(namespace, pod, container)`; all empty for "outside any pod".
pub type Key = (String, String, String);

/// Limits of the cgroup walk, so that a strange tree cannot make a scrape unbounded.
const MAX_CGROUP_DIRS: usize = 20_000;
const MAX_CONTAINER_LOGS: usize = 20_000;
/// Series of podman/Docker containers outside any pod (`namespace=""`, `pod=""`, `container` =
/// the runtime's name) are made only for containers that hold zombies, at most this many per
/// scrape; the zombies of any further container count in the outside-any-pod bucket.
pub const MAX_RUNTIME_CONTAINER_SERIES: usize = 100;

/// How a scrape counts zombies (`--scan`).
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ScanMode {
    /// `accounting` when the pids controller is readable and the agent sees the initial PID
    /// namespace, else `full`; a scrape whose accounting read fails falls back to a full scan.
    #[default]
    Auto,
    /// From the kernel's accounting (procmodel::accounting): cost proportional to cgroups.
    Accounting,
    /// One full scan of `/proc` (procmodel::scan): cost proportional to processes.
    Full,
}

/// The mode a scrape actually used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolved {
    /// procmodel::accounting.
    Accounting,
    /// procmodel::scan.
    Full,
}

impl Resolved {
    /// The `mode` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Resolved::Accounting => "accounting",
            Resolved::Full => "full",
        }
    }
}

/// The scrape-to-scrape state of the agent.
#[derive(Debug)]
pub struct Collector {
    cfg: ScanConfig,
    containers_log_root: Option<PathBuf>,
    mode: Resolved,
    /// `--scan auto`: fall back to a full scan when an accounting read fails.
    fallback: bool,
    reader: accounting::Reader,
    last_mode: Option<Resolved>,
    /// Full mode: (pid, start ticks) of each zombie present at the last scrape → first seen.
    seen: HashMap<(i32, u64), f64>,
    observed: HashMap<Key, u64>,
    /// Zombies per label set at the last scrape (both modes).
    last_counts: HashMap<Key, u64>,
    /// Per (namespace, pod): when its zombie count last went from 0 to more (both modes).
    pod_first: HashMap<(String, String), f64>,
}

/// Which mode `--scan` resolves to with these roots.
pub fn resolve(mode: ScanMode, cfg: &ScanConfig) -> Resolved {
    match mode {
        ScanMode::Full => Resolved::Full,
        ScanMode::Accounting => Resolved::Accounting,
        ScanMode::Auto => {
            let usable = pids::pids_hierarchy(&cfg.sys_root)
                .is_some_and(|h| procmodel::fsread::open(&h.base.join(h.tasks_file())).is_ok())
                && accounting::in_initial_pid_namespace(&cfg.proc_root);
            if usable {
                Resolved::Accounting
            } else {
                Resolved::Full
            }
        }
    }
}

/// A pod's cgroup, found by walking the `kubepods` tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodCgroup {
    /// Pod UID (dashes; a static pod's 32-hex hash as is).
    pub uid: String,
    /// `pids.current`, if readable.
    pub current: Option<u64>,
    /// `pids.max`; `None` for `max` (unlimited) or unreadable.
    pub max: Option<u64>,
}

/// Pods and containers known from the cgroup tree.
#[derive(Debug, Clone, Default)]
pub struct KubeCgroups {
    /// Pod cgroups by UID.
    pub pods: BTreeMap<String, PodCgroup>,
    /// (pod UID, container id) of each container cgroup.
    pub containers: BTreeSet<(String, String)>,
    /// Directories that could not be listed or read.
    pub errors: u64,
}

impl KubeCgroups {
    /// Records pod `uid`'s cgroup counters, counting an error when they were not both read.
    fn add_pod(&mut self, uid: &str, p: PidsCounters) {
        if !p.readable {
            self.errors += 1;
        }
        self.pods.insert(
            uid.to_string(),
            PodCgroup {
                uid: uid.to_string(),
                current: p.current,
                max: p.max,
            },
        );
    }
}

fn is_kubepods(name: &str) -> bool {
    name == "kubepods" || name == "kubepods.slice"
}

fn subdirs(dir: &Path, errors: &mut u64) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    match std::fs::read_dir(dir) {
        Ok(rd) => {
            for e in rd.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    if let Ok(name) = e.file_name().into_string() {
                        out.push((name, e.path()));
                    }
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(_) => *errors += 1,
    }
    out
}

/// Walks the `kubepods` tree(s) under the pids controller of `sys_root` (at its top or one level
/// down, for kubelet's `--cgroup-root`), to depth 3 below `kubepods` (QoS / pod / container).
pub fn kube_cgroups(sys_root: &Path) -> KubeCgroups {
    let mut out = KubeCgroups::default();
    // Mounted, not Usable: a v1 `pids/` without a `tasks` file is walked too. Unlike the scan,
    // only a v2 root at the top counts, not a hybrid host's `unified/`.
    let layout = pids::pids_layout(sys_root, pids::PidsProbe::Mounted);
    let Some(base) = layout.v1.or(layout.v2.filter(|b| b == sys_root)) else {
        return out;
    };
    let mut roots = Vec::new();
    for (name, path) in subdirs(&base, &mut out.errors) {
        if is_kubepods(&name) {
            roots.push((format!("/{name}"), path));
        } else if !name.ends_with(".scope") {
            let p = path.join("kubepods");
            let s = path.join("kubepods.slice");
            if p.is_dir() {
                roots.push((format!("/{name}/kubepods"), p));
            } else if s.is_dir() {
                roots.push((format!("/{name}/kubepods.slice"), s));
            }
        }
    }
    let mut budget = MAX_CGROUP_DIRS;
    let mut stack: Vec<(String, PathBuf, u8)> =
        roots.into_iter().map(|(r, p)| (r, p, 0u8)).collect();
    while let Some((rel, dir, depth)) = stack.pop() {
        if budget == 0 {
            break;
        }
        budget -= 1;
        let a = cgroup::attribute(&rel);
        if let (Some(uid), None) = (&a.pod_uid, &a.container_id) {
            if cgroup::pod_cgroup(&rel).as_deref() == Some(rel.as_str()) {
                out.add_pod(uid, PidsCounters::read(&dir));
            }
        }
        if let (Some(uid), Some(id), false) = (&a.pod_uid, &a.container_id, a.conmon) {
            out.containers.insert((uid.clone(), id.clone()));
            continue;
        }
        if depth < 3 {
            for (name, path) in subdirs(&dir, &mut out.errors) {
                stack.push((format!("{rel}/{name}"), path, depth + 1));
            }
        }
    }
    out
}

/// Container names by container id from kubelet's symlinks
/// `/var/log/containers/<pod>_<namespace>_<container>-<64 hex id>.log`.
pub fn container_names(root: &Path) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let Ok(rd) = std::fs::read_dir(root) else {
        return out;
    };
    for e in rd.flatten().take(MAX_CONTAINER_LOGS) {
        let Ok(name) = e.file_name().into_string() else {
            continue;
        };
        if let Some((container, id)) = parse_container_log(&name) {
            out.insert(id.to_string(), container.to_string());
        }
    }
    out
}

/// Parses `<pod>_<namespace>_<container>-<id>.log` into (container, id).
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

fn short_id(id: &str) -> String {
    id[..12.min(id.len())].to_string()
}

/// Zombies per cgroup from the kernel's accounting, sorted by what the cgroup is.
#[derive(Default)]
struct CgroupZombies {
    /// The pod and container cgroups found (pods with their `pids.max`).
    kube: KubeCgroups,
    /// Per pod UID: the zombies of the pod's cgroup subtree (its containers' included).
    pods: BTreeMap<String, u64>,
    /// Per (pod UID, container id): the zombies of the container's own cgroup subtree.
    containers: BTreeMap<(String, String), u64>,
    /// podman/Docker containers outside any pod that hold zombies, by id (count, runtime).
    runtime: BTreeMap<String, (u64, Option<cgroup::Runtime>)>,
}

/// Attributes each cgroup of the accounting (pod, container, runtime container, other) and
/// adds its zombies where they belong; a sub-cgroup made inside a container counts in the
/// container's own.
fn cgroup_zombies(acct: &Accounting) -> CgroupZombies {
    let attr: Vec<Attribution> = acct
        .cgroups
        .iter()
        .map(|c| cgroup::attribute(&c.path))
        .collect();
    let mut found = CgroupZombies::default();
    for (i, c) in acct.cgroups.iter().enumerate() {
        let a = &attr[i];
        // The container's own cgroup, not a sub-cgroup made inside it.
        let top = |id: &str| {
            c.parent
                .is_none_or(|p| attr[p].container_id.as_deref() != Some(id))
        };
        let z = acct.zombies(i).unwrap_or(0);
        let Some(uid) = &a.pod_uid else {
            if let (Some(id), false) = (&a.container_id, a.conmon) {
                if top(id) && z > 0 {
                    found.runtime.entry(id.clone()).or_insert((0, a.runtime)).0 += z;
                }
            }
            continue;
        };
        match (&a.container_id, a.conmon) {
            (None, _) => {
                if cgroup::pod_cgroup(&c.path).as_deref() != Some(c.path.as_str()) {
                    continue;
                }
                *found.pods.entry(uid.clone()).or_default() += z;
                let dir = acct.hierarchy.base.join(c.path.trim_start_matches('/'));
                // `pids.current` is the walk's (the smaller of its reads): only `pids.max`
                // is read here.
                found
                    .kube
                    .add_pod(uid, PidsCounters::with_current(&dir, c.current));
            }
            (Some(id), false) => {
                if top(id) {
                    found.kube.containers.insert((uid.clone(), id.clone()));
                    *found
                        .containers
                        .entry((uid.clone(), id.clone()))
                        .or_default() += z;
                }
            }
            (Some(_), true) => {}
        }
    }
    found
}

impl Collector {
    /// A collector counting zombies as `mode` says ([`resolve`]).
    pub fn with_mode(
        cfg: ScanConfig,
        containers_log_root: Option<PathBuf>,
        mode: ScanMode,
    ) -> Collector {
        let reader = accounting::Reader::new(&cfg.proc_root, &cfg.sys_root);
        Collector {
            mode: resolve(mode, &cfg),
            fallback: mode == ScanMode::Auto,
            cfg,
            containers_log_root,
            reader,
            last_mode: None,
            seen: HashMap::new(),
            observed: HashMap::new(),
            last_counts: HashMap::new(),
            pod_first: HashMap::new(),
        }
    }

    /// The mode scrapes use (a scrape may still fall back to `full` under `--scan auto`).
    pub fn mode(&self) -> Resolved {
        self.mode
    }

    fn names(&self) -> HashMap<String, String> {
        self.containers_log_root
            .as_deref()
            .map(container_names)
            .unwrap_or_default()
    }

    /// Reads once and returns every metric family. Fails only when nothing can be read (the
    /// procfs root cannot be listed, or `--scan accounting` cannot read the accounting).
    pub fn collect(&mut self) -> Result<Vec<Family>, String> {
        let started = Instant::now();
        let mut used = self.mode;
        let mut fams = None;
        if self.mode == Resolved::Accounting {
            match self.reader.read() {
                Ok(acct) => fams = Some(self.build_accounting(&acct)),
                Err(e) if self.fallback => {
                    super::log::warn(
                        &format!("accounting failed ({e}); full scan for this scrape"),
                        &[("mode", "full")],
                    );
                    used = Resolved::Full;
                }
                Err(e) => return Err(e.to_string()),
            }
        }
        let mut fams = match fams {
            Some(f) => f,
            None => {
                let snap = procmodel::scan(&self.cfg).map_err(|e| e.to_string())?;
                let kube = kube_cgroups(&self.cfg.sys_root);
                let names = self.names();
                self.build(&snap, &kube, &names)
            }
        };
        let mut m = Family::new(
            "zombies_scrape_mode",
            Kind::Gauge,
            "How this scrape counted zombies: 1 for the mode used (accounting: pids.current minus the cgroup task lists; full: a scan of /proc), 0 for the other.",
            &["mode"],
        );
        for r in [Resolved::Accounting, Resolved::Full] {
            m.push(vec![r.as_str().into()], (r == used) as u8 as f64);
        }
        fams.push(m);
        let mut d = Family::new(
            "zombies_scrape_duration_seconds",
            Kind::Gauge,
            "Seconds this scrape took to read /proc and the cgroup tree and compute the metrics.",
            &[],
        )
        .unit("seconds");
        d.push(vec![], started.elapsed().as_secs_f64());
        fams.push(d);
        Ok(fams)
    }

    fn pod_names(pods: &BTreeMap<String, PodRef>, uid: &str) -> (String, String) {
        match pods.get(uid) {
            Some(p) => (p.namespace.clone(), p.name.clone()),
            // Name unknown (no kubelet log directory): the UID stands in for it.
            None => (String::new(), uid.to_string()),
        }
    }

    fn key_of(snap: &Snapshot, names: &HashMap<String, String>, a: Option<&Attribution>) -> Key {
        let Some(a) = a else {
            return Key::default();
        };
        let Some(uid) = &a.pod_uid else {
            // A podman or Docker container outside any pod: named as its runtime does.
            return match (&a.container_id, a.conmon) {
                (Some(id), false) => (
                    String::new(),
                    String::new(),
                    snap.container_name(a)
                        .map(|n| n.name.clone())
                        .unwrap_or_else(|| short_id(id)),
                ),
                _ => Key::default(),
            };
        };
        let (ns, pod) = Self::pod_names(&snap.pods, uid);
        let container = match (&a.container_id, a.conmon) {
            (Some(id), false) => names
                .get(id)
                .cloned()
                .or_else(|| snap.container_name(a).map(|n| n.name.clone()))
                .unwrap_or_else(|| short_id(id)),
            _ => String::new(),
        };
        (ns, pod, container)
    }

    /// Keeps a zombie's key, or folds a runtime container beyond the series cap into the
    /// outside-any-pod bucket.
    fn capped(key: Key, runtime_series: &mut BTreeSet<String>) -> Key {
        if !key.0.is_empty() || !key.1.is_empty() || key.2.is_empty() {
            return key;
        }
        if runtime_series.contains(&key.2) || runtime_series.len() < MAX_RUNTIME_CONTAINER_SERIES {
            runtime_series.insert(key.2.clone());
            return key;
        }
        Key::default()
    }

    /// Computes the families (all but the scrape mode and duration) from one full scan.
    ///
    /// `zombies_observed_total` counts zombie identities (pid, start time) not seen by the
    /// previous scrape; the oldest first-seen time of a pod is the minimum over its zombies.
    /// Right after accounting-mode scrapes (identities unknown), the counter grows by the
    /// positive deltas of the counts instead, and the first-seen times carry over per pod.
    pub fn build(
        &mut self,
        snap: &Snapshot,
        kube: &KubeCgroups,
        names: &HashMap<String, String>,
    ) -> Vec<Family> {
        let now = procmodel::model::unix_seconds(snap.taken_at);
        let identities = self.last_mode != Some(Resolved::Accounting);
        let mut zombies = Self::known_series(&snap.pods, kube, names);
        let mut seen = HashMap::with_capacity(snap.zombies.len());
        let mut oldest: BTreeMap<(String, String), f64> = BTreeMap::new();
        let mut runtime_series = BTreeSet::new();
        for z in snap.zombie_processes() {
            let key = Self::capped(
                Self::key_of(snap, names, z.attribution.as_ref()),
                &mut runtime_series,
            );
            let id = (z.pid, z.start_ticks);
            let pod = (key.0.clone(), key.1.clone());
            let first = match self.seen.get(&id) {
                Some(&t) if identities => t,
                _ => {
                    if identities {
                        *self.observed.entry(key.clone()).or_default() += 1;
                    }
                    match self.pod_first.get(&pod) {
                        Some(t) if !identities => *t,
                        // The moment it became a zombie where the kernel shows it (its last
                        // run), else when this scrape first sees it.
                        _ => match snap.arrival_time(z) {
                            Some((t, procmodel::TimeSource::ExitTime)) => t.min(now),
                            _ => now,
                        },
                    }
                }
            };
            let o = oldest.entry(pod).or_insert(first);
            *o = o.min(first);
            seen.insert(id, first);
            *zombies.entry(key).or_default() += 1;
        }
        self.seen = seen;
        if !identities {
            self.observe_deltas(&zombies);
        }
        self.finish(Resolved::Full, &zombies, oldest);
        let fams = self.families(
            &zombies,
            &Self::pods_by_name(&snap.pods, kube),
            &snap.budget,
        );
        let e = &snap.errors;
        Self::tail(
            fams,
            Some(snap.processes.len() as u64),
            None,
            [e.permission_denied, e.other + kube.errors, e.vanished],
        )
    }

    /// Computes the families (all but the scrape mode and duration) from the kernel's
    /// accounting ([`procmodel::accounting`]), without a `/proc` scan.
    ///
    /// Zombies per container = its cgroup subtree's `pids.current` − threads listed in the
    /// subtree; per pod (container `""`) = the pod cgroup's figure minus its containers';
    /// outside any pod = the node's (`/proc/loadavg` threads − threads listed in every cgroup)
    /// minus the pods'; all clamped at 0.
    ///
    /// Without zombie identities: `zombies_observed_total` grows by the positive difference of
    /// each label set's count between consecutive scrapes, a lower bound of the zombies created
    /// (a zombie reaped and another created between two scrapes is not seen); a pod's oldest
    /// first-seen time is when its count last went from 0 to more than 0 (forgotten when it is
    /// back to 0), so it does not move while some zombie stays, even if the first one was reaped.
    pub fn build_accounting(&mut self, acct: &Accounting) -> Vec<Family> {
        let now = procmodel::model::unix_seconds(std::time::SystemTime::now());
        let pods_names = self
            .cfg
            .pods_log_root
            .as_deref()
            .map(procmodel::scan::pods_from_log_root)
            .unwrap_or_default();
        let names = self.names();
        let found = cgroup_zombies(acct);
        let zombies = self.accounting_series(acct, &found, &pods_names, &names);
        self.observe_deltas(&zombies);
        let oldest = self.pods_first_seen(&zombies, now);
        self.seen.clear();
        self.finish(Resolved::Accounting, &zombies, oldest);

        let budget = NodeBudget {
            loadavg_tasks: Some(acct.nr_threads_after),
            scanned_tasks: acct.listed_tasks,
            zombies: acct.node_zombies(),
            ..NodeBudget::read_limits(&self.cfg.proc_root)
        };
        let fams = self.families(
            &zombies,
            &Self::pods_by_name(&pods_names, &found.kube),
            &budget,
        );
        let e = &acct.errors;
        Self::tail(
            fams,
            None,
            Some(acct.cgroups.len() as u64),
            [
                e.permission_denied,
                e.other + found.kube.errors + acct.truncated as u64,
                e.vanished,
            ],
        )
    }

    /// Accounting mode's series: every known one, each pod's own zombies (its cgroup's minus
    /// its containers'), each container's, the named runtime containers', and the rest of the
    /// node's in the outside-any-pod bucket.
    fn accounting_series(
        &self,
        acct: &Accounting,
        found: &CgroupZombies,
        pods_names: &BTreeMap<String, PodRef>,
        names: &HashMap<String, String>,
    ) -> BTreeMap<Key, u64> {
        let mut zombies = Self::known_series(pods_names, &found.kube, names);
        let mut in_pods = 0u64;
        for (uid, total) in &found.pods {
            in_pods += total;
            let (ns, pod) = Self::pod_names(pods_names, uid);
            let in_containers: u64 = found
                .containers
                .range((uid.clone(), String::new())..)
                .take_while(|((u, _), _)| u == uid)
                .map(|(_, n)| n)
                .sum();
            *zombies.entry((ns, pod, String::new())).or_default() +=
                total.saturating_sub(in_containers);
        }
        for ((uid, id), n) in &found.containers {
            let (ns, pod) = Self::pod_names(pods_names, uid);
            let c = names.get(id).cloned().unwrap_or_else(|| short_id(id));
            *zombies.entry((ns, pod, c)).or_default() += n;
        }
        in_pods += self.runtime_series(&found.runtime, &mut zombies);
        *zombies.entry(Key::default()).or_default() += acct.node_zombies().saturating_sub(in_pods);
        zombies
    }

    /// Adds the zombies of podman/Docker containers outside any pod to series named as their
    /// runtime names them (up to [`MAX_RUNTIME_CONTAINER_SERIES`]); returns how many it added.
    fn runtime_series(
        &self,
        runtime: &BTreeMap<String, (u64, Option<cgroup::Runtime>)>,
        zombies: &mut BTreeMap<Key, u64>,
    ) -> u64 {
        let wanted: Vec<procmodel::naming::Wanted<'_>> = runtime
            .iter()
            .map(|(id, (_, rt))| procmodel::naming::Wanted {
                id,
                runtime: *rt,
                pod_uid: None,
            })
            .collect();
        let runtime_names = procmodel::naming::resolve(
            &wanted,
            &[],
            self.cfg
                .state_root
                .as_deref()
                .unwrap_or(Path::new("/nonexistent")),
            None,
        );
        let mut runtime_series = BTreeSet::new();
        let mut added = 0;
        for (id, (n, _)) in runtime {
            let name = runtime_names
                .get(id)
                .map(|c| c.name.clone())
                .unwrap_or_else(|| short_id(id));
            let key = Self::capped((String::new(), String::new(), name), &mut runtime_series);
            if key != Key::default() {
                added += n;
                *zombies.entry(key).or_default() += n;
            }
        }
        added
    }

    /// Accounting mode's oldest first-seen time of each pod that has zombies: when its count
    /// went from 0 to more (kept from the previous scrape), else `now`.
    fn pods_first_seen(
        &self,
        zombies: &BTreeMap<Key, u64>,
        now: f64,
    ) -> BTreeMap<(String, String), f64> {
        let mut per_pod: BTreeMap<(String, String), u64> = BTreeMap::new();
        for ((ns, pod, _), n) in zombies {
            *per_pod.entry((ns.clone(), pod.clone())).or_default() += n;
        }
        let mut oldest = BTreeMap::new();
        for (pod, n) in per_pod {
            if n > 0 {
                let t = *self.pod_first.get(&pod).unwrap_or(&now);
                oldest.insert(pod, t);
            }
        }
        oldest
    }

    /// Every known series at 0: the outside-any-pod bucket, each pod, each container.
    fn known_series(
        pods: &BTreeMap<String, PodRef>,
        kube: &KubeCgroups,
        names: &HashMap<String, String>,
    ) -> BTreeMap<Key, u64> {
        let mut zombies: BTreeMap<Key, u64> = BTreeMap::new();
        zombies.insert(Key::default(), 0);
        for uid in kube.pods.keys() {
            let (ns, pod) = Self::pod_names(pods, uid);
            zombies.insert((ns, pod, String::new()), 0);
        }
        for (uid, id) in &kube.containers {
            let (ns, pod) = Self::pod_names(pods, uid);
            let c = names.get(id).cloned().unwrap_or_else(|| short_id(id));
            zombies.insert((ns.clone(), pod.clone(), String::new()), 0);
            zombies.insert((ns, pod, c), 0);
        }
        zombies
    }

    fn pods_by_name<'a>(
        pods: &BTreeMap<String, PodRef>,
        kube: &'a KubeCgroups,
    ) -> BTreeMap<(String, String), &'a PodCgroup> {
        kube.pods
            .iter()
            .map(|(uid, p)| (Self::pod_names(pods, uid), p))
            .collect()
    }

    /// `zombies_observed_total` += the positive change of each label set's count.
    fn observe_deltas(&mut self, zombies: &BTreeMap<Key, u64>) {
        for (k, &n) in zombies {
            let prev = self.last_counts.get(k).copied().unwrap_or(0);
            if n > prev {
                *self.observed.entry(k.clone()).or_default() += n - prev;
            }
        }
    }

    /// Keeps the state of the label sets and pods present now (bounded memory). Counters of
    /// label sets that no longer exist are dropped; the series reappears from 0 if the pod
    /// does, which Prometheus treats as a counter reset.
    fn finish(
        &mut self,
        mode: Resolved,
        zombies: &BTreeMap<Key, u64>,
        oldest: BTreeMap<(String, String), f64>,
    ) {
        self.observed.retain(|k, _| zombies.contains_key(k));
        self.last_counts = zombies.iter().map(|(k, n)| (k.clone(), *n)).collect();
        self.pod_first = oldest.into_iter().collect();
        self.last_mode = Some(mode);
    }

    /// The families computed the same way in both modes: build information, the zombies per
    /// label set, the node's task budget, and each pod's PID limit.
    fn families(
        &self,
        zombies: &BTreeMap<Key, u64>,
        pods: &BTreeMap<(String, String), &PodCgroup>,
        b: &NodeBudget,
    ) -> Vec<Family> {
        let mut fams = vec![build_info()];
        fams.extend(self.zombie_families(zombies));
        fams.extend(node_families(b));
        fams.extend(pod_pids_families(pods));
        fams
    }

    /// `zombies_zombie_processes`, `zombies_observed_total` per label set and the oldest
    /// first-seen time per pod.
    fn zombie_families(&self, zombies: &BTreeMap<Key, u64>) -> [Family; 3] {
        let labels3: &'static [&'static str] = &["namespace", "pod", "container"];
        let mut now = Family::new(
            "zombies_zombie_processes",
            Kind::Gauge,
            "Zombie (defunct) processes now, per namespace, pod and container; empty labels for processes outside any pod.",
            labels3,
        );
        for ((ns, pod, c), n) in zombies {
            now.push(vec![ns.clone(), pod.clone(), c.clone()], *n as f64);
        }
        let mut observed = Family::new(
            "zombies_observed",
            Kind::Counter,
            "Zombie processes that appeared between scrapes (full scan: new pid and start time; accounting: positive changes of the count, a lower bound); its rate is the zombie leak rate.",
            labels3,
        );
        for k in zombies.keys() {
            let n = self.observed.get(k).copied().unwrap_or(0);
            observed.push(vec![k.0.clone(), k.1.clone(), k.2.clone()], n as f64);
        }
        let mut first = Family::new(
            "zombies_oldest_first_seen_timestamp_seconds",
            Kind::Gauge,
            "Unix time at which the agent first saw the oldest zombie of the pod (accounting: when the pod's count last went from 0 to more); empty labels: outside any pod; absent when it has none.",
            &["namespace", "pod"],
        )
        .unit("seconds");
        let mut oldest: Vec<_> = self.pod_first.iter().collect();
        oldest.sort_by(|a, b| a.0.cmp(b.0));
        for ((ns, pod), t) in oldest {
            first.push(vec![ns.clone(), pod.clone()], *t);
        }
        [now, observed, first]
    }

    /// Appends the scan-size and read-error families; `errors` = [permission_denied, other,
    /// vanished].
    fn tail(
        mut fams: Vec<Family>,
        processes: Option<u64>,
        cgroups: Option<u64>,
        errors: [u64; 3],
    ) -> Vec<Family> {
        let mut f = Family::new(
            "zombies_scanned_processes",
            Kind::Gauge,
            "Processes (thread groups) the last full scan could see; absent in accounting mode.",
            &[],
        );
        if let Some(n) = processes {
            f.push(vec![], n as f64);
        }
        fams.push(f);
        let mut f = Family::new(
            "zombies_scanned_cgroups",
            Kind::Gauge,
            "Cgroups of the pids hierarchy the last accounting read walked; absent in full-scan mode.",
            &[],
        );
        if let Some(n) = cgroups {
            f.push(vec![], n as f64);
        }
        fams.push(f);
        fams.push(read_errors(&errors));
        fams
    }
}

/// `zombies_build_info`: the version and the git revision of the agent.
fn build_info() -> Family {
    Family::new(
        "zombies_build",
        Kind::Info,
        "Build information of the zombies agent.",
        &["version", "revision"],
    )
    .with(
        vec![
            env!("CARGO_PKG_VERSION").to_string(),
            env!("REAPER_REVISION").to_string(),
        ],
        1.0,
    )
}

/// `zombies_node_tasks` and `zombies_node_task_limit` (absent when unknown).
fn node_families(b: &NodeBudget) -> [Family; 2] {
    let tasks = Family::new(
        "zombies_node_tasks",
        Kind::Gauge,
        "Tasks (threads, zombies included) on the node, from /proc/loadavg: what kubelet's pid.available counts.",
        &[],
    )
    .with(vec![], b.tasks() as f64);
    let mut limit = Family::new(
        "zombies_node_task_limit",
        Kind::Gauge,
        "The node's task limit: min(kernel.pid_max, kernel.threads-max).",
        &[],
    );
    if let Some(l) = b.limit {
        limit.push(vec![], l as f64);
    }
    [tasks, limit]
}

/// `zombies_pod_pids_current` and `zombies_pod_pids_max` of each pod's cgroup.
fn pod_pids_families(pods: &BTreeMap<(String, String), &PodCgroup>) -> [Family; 2] {
    let labels2: &'static [&'static str] = &["namespace", "pod"];
    let mut cur = Family::new(
        "zombies_pod_pids_current",
        Kind::Gauge,
        "pids.current of the pod's cgroup: its tasks, zombies included.",
        labels2,
    );
    let mut max = Family::new(
        "zombies_pod_pids_max",
        Kind::Gauge,
        "pids.max of the pod's cgroup; absent when unlimited.",
        labels2,
    );
    for ((ns, pod), p) in pods {
        if let Some(c) = p.current {
            cur.push(vec![ns.clone(), pod.clone()], c as f64);
        }
        if let Some(m) = p.max {
            max.push(vec![ns.clone(), pod.clone()], m as f64);
        }
    }
    [cur, max]
}

/// `zombies_read_errors`; `errors` = [permission_denied, other, vanished].
pub fn read_errors(errors: &[u64; 3]) -> Family {
    Family::new(
        "zombies_read_errors",
        Kind::Gauge,
        "Entries the last scrape could not read, by kind (vanished: the process or cgroup went away mid-read, normal; a failed visibility check counts once as permission_denied or other).",
        &["kind"],
    )
    .with(vec!["permission_denied".into()], errors[0] as f64)
    .with(vec!["other".into()], errors[1] as f64)
    .with(vec!["vanished".into()], errors[2] as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_log_names() {
        let id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let n = format!("web-0_prod_nginx-sidecar-{id}.log");
        assert_eq!(parse_container_log(&n), Some(("nginx-sidecar", id)));
        assert_eq!(parse_container_log("x.log"), None);
        assert_eq!(parse_container_log(&format!("a_b_-{id}.log")), None);
        assert_eq!(parse_container_log(&format!("a_b_c-{id}.txt")), None);
    }

    #[test]
    fn walks_kubepods_under_a_prefix() {
        let t = std::env::temp_dir().join(format!("zombies-kube-walk-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&t);
        let id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let uid = "0b5c5e4e-2f0b-4c44-9d2c-3d1b0e0f4a11";
        let pod = t.join(format!("pids/prefix/kubepods/burstable/pod{uid}"));
        std::fs::create_dir_all(pod.join(id)).unwrap();
        std::fs::write(pod.join("pids.current"), "7\n").unwrap();
        std::fs::write(pod.join("pids.max"), "100\n").unwrap();
        let g =
            t.join("pids/kubepods.slice/kubepods-pod1b5c5e4e_2f0b_4c44_9d2c_3d1b0e0f4a11.slice");
        std::fs::create_dir_all(g.join(format!("cri-containerd-{id}.scope"))).unwrap();
        std::fs::write(g.join("pids.current"), "3\n").unwrap();
        std::fs::write(g.join("pids.max"), "max\n").unwrap();
        let k = kube_cgroups(&t);
        std::fs::remove_dir_all(&t).unwrap();
        assert_eq!(k.pods.len(), 2, "{k:?}");
        assert_eq!(
            k.pods[uid],
            PodCgroup {
                uid: uid.into(),
                current: Some(7),
                max: Some(100)
            }
        );
        let g = &k.pods["1b5c5e4e-2f0b-4c44-9d2c-3d1b0e0f4a11"];
        assert_eq!((g.current, g.max), (Some(3), None));
        assert_eq!(k.containers.len(), 2);
        assert_eq!(k.errors, 0);
    }
}
