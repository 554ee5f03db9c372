//! The process model of a Linux node, read from `/proc` and `/sys/fs/cgroup` in one scan.
//!
//! ```no_run
//! use procmodel::{scan, ScanConfig, diagnose::diagnose};
//! let snap = scan(&ScanConfig::default()).expect("procfs readable");
//! for group in snap.zombie_groups() {
//!     let d = diagnose(&snap, &group);
//!     println!("{} zombies of pid {}: {}", group.zombies.len(), group.parent, d.explanation);
//! }
//! println!("node tasks {} of {:?}", snap.budget.tasks(), snap.budget.limit);
//! ```
//!
//! * [`scan()`] / [`ScanConfig`] → [`Snapshot`]: every [`Process`] (pid, ppid, state, comm bytes,
//!   threads, start time, exit status, uid; NSpid, cgroups, [`cgroup::Attribution`] and cmdline
//!   where needed), the zombies, the [`NodeBudget`], per-cgroup [`CgroupPids`], pod names and
//!   [`ReadErrors`].
//! * [`model`]: the snapshot's types and queries; the modules that fill or read a snapshot
//!   depend on it, never the reverse (scan → model ← accounting).
//! * [`accounting`]: zombie counts per cgroup and node-wide from `pids.current`, the cgroup
//!   task lists and `/proc/loadavg`, without a `/proc` scan (cost proportional to cgroups).
//! * [`pids`]: where the pids controller is mounted and what its counters read.
//! * [`cgroup`]: pure functions attributing cgroup paths to runtime, pod and container.
//! * [`diagnose`]: cause and fix of each group of zombies.
//! * [`naming`]: container names as podman, Docker and Kubernetes show them.
//! * [`tracker::ZombieTracker`]: first-seen times and leak rates across scans;
//!   [`tracker::estimate_rate`]: a leak rate from the arrival times in one scan.
//!
//! The scanner never spawns a subprocess.
#![deny(unsafe_code)]
#![deny(clippy::too_many_lines)]
#![warn(missing_docs)]

pub mod accounting;
pub mod cgroup;
pub mod diagnose;
// Bounded, no-follow reads of /proc need open/fstat/read on raw descriptors.
#[allow(unsafe_code)]
pub mod fsread;
pub mod model;
pub mod naming;
pub mod parse;
pub mod pids;
// The scan reads directories with openat/getdents through raw descriptors.
#[allow(unsafe_code)]
pub mod scan;
pub mod tracker;

pub use model::{
    CgroupPids, CgroupVersion, NodeBudget, PodRef, Process, ReadErrors, ScopeKind, Snapshot,
    TimeSource, ZombieGroup,
};
pub use scan::{scan, Detail, ScanConfig, ScanError};
pub use tracker::{ZombieKey, ZombieTracker};
