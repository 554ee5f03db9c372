//! First-seen times of zombies across scans, leak rates and time to exhaustion.

use crate::scan::Snapshot;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, SystemTime};

/// Identity of a zombie across scans: pid plus start time (pids are reused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ZombieKey {
    /// pid in the scanned namespace.
    pub pid: i32,
    /// Start time in clock ticks since boot.
    pub start_ticks: u64,
}

/// What the tracker knows about one zombie.
#[derive(Debug, Clone)]
pub struct Seen {
    /// When a scan first saw it.
    pub first_seen: SystemTime,
    /// It was already there at the tracker's first scan (so it is not counted as new).
    pub preexisting: bool,
    /// Parent pid when first seen.
    pub parent: i32,
    /// Preferred cgroup path when first seen.
    pub cgroup: Option<String>,
}

/// Result of [`ZombieTracker::observe`].
#[derive(Debug, Clone, Default)]
pub struct Observation {
    /// Zombies seen for the first time in this scan (not counting those of the first scan).
    pub new: Vec<ZombieKey>,
    /// Zombies of the previous scan that are gone (reaped).
    pub reaped: usize,
}

/// Keeps first-seen times across scans and computes new zombies per minute per parent, per
/// cgroup scope and node-wide, over a sliding window.
#[derive(Debug, Clone)]
pub struct ZombieTracker {
    seen: HashMap<ZombieKey, Seen>,
    events: VecDeque<(SystemTime, i32, Option<String>)>,
    window: Duration,
    started: Option<SystemTime>,
    last: Option<SystemTime>,
}

impl ZombieTracker {
    /// A tracker whose rates average over `window` (e.g. 10 minutes).
    pub fn new(window: Duration) -> Self {
        ZombieTracker {
            seen: HashMap::new(),
            events: VecDeque::new(),
            window,
            started: None,
            last: None,
        }
    }

    /// Records a scan.
    pub fn observe(&mut self, snap: &Snapshot) -> Observation {
        let now = snap.taken_at;
        let first = self.started.is_none();
        self.started.get_or_insert(now);
        self.last = Some(now);
        let mut obs = Observation::default();
        let mut current = HashMap::with_capacity(snap.zombies.len());
        for z in snap.zombie_processes() {
            let key = ZombieKey {
                pid: z.pid,
                start_ticks: z.start_ticks,
            };
            let seen = match self.seen.remove(&key) {
                Some(s) => s,
                None => {
                    if !first {
                        obs.new.push(key);
                        self.events
                            .push_back((now, z.ppid, z.cgroup_path().map(str::to_string)));
                    }
                    Seen {
                        first_seen: now,
                        preexisting: first,
                        parent: z.ppid,
                        cgroup: z.cgroup_path().map(str::to_string),
                    }
                }
            };
            current.insert(key, seen);
        }
        obs.reaped = self.seen.len();
        self.seen = current;
        while let Some((t, _, _)) = self.events.front() {
            if now.duration_since(*t).unwrap_or_default() > self.window {
                self.events.pop_front();
            } else {
                break;
            }
        }
        obs
    }

    /// What is known about a zombie currently tracked.
    pub fn seen(&self, key: &ZombieKey) -> Option<&Seen> {
        self.seen.get(key)
    }

    /// Seconds the rates are averaged over: min(window, time since the first scan).
    pub fn rate_span_seconds(&self) -> f64 {
        match (self.started, self.last) {
            (Some(s), Some(l)) => l
                .duration_since(s)
                .unwrap_or_default()
                .min(self.window)
                .as_secs_f64(),
            _ => 0.0,
        }
    }

    fn rate(&self, f: impl Fn(i32, Option<&str>) -> bool) -> f64 {
        let span = self.rate_span_seconds();
        if span <= 0.0 {
            return 0.0;
        }
        let n = self
            .events
            .iter()
            .filter(|(_, p, c)| f(*p, c.as_deref()))
            .count();
        n as f64 * 60.0 / span
    }

    /// New zombies per minute whose parent is `ppid`.
    pub fn rate_for_parent(&self, ppid: i32) -> f64 {
        self.rate(|p, _| p == ppid)
    }

    /// New zombies per minute in cgroup `path` or below it.
    pub fn rate_for_cgroup(&self, path: &str) -> f64 {
        let prefix = format!("{}/", path.trim_end_matches('/'));
        self.rate(|_, c| c.is_some_and(|c| c == path || c.starts_with(&prefix)))
    }

    /// New zombies per minute node-wide.
    pub fn rate_total(&self) -> f64 {
        self.rate(|_, _| true)
    }
}

/// Time until `current` reaches `limit` at `per_minute` new tasks per minute; `None` when the
/// rate is zero or the limit unknown; zero when already at or over the limit.
pub fn time_to_exhaustion(current: u64, limit: Option<u64>, per_minute: f64) -> Option<Duration> {
    let limit = limit?;
    if current >= limit {
        return Some(Duration::ZERO);
    }
    if per_minute <= 0.0 || !per_minute.is_finite() {
        return None;
    }
    // A tiny rate gives a time beyond Duration's range: unknown, not a panic.
    Duration::try_from_secs_f64((limit - current) as f64 / per_minute * 60.0).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exhaustion() {
        assert_eq!(
            time_to_exhaustion(10, Some(70), 6.0),
            Some(Duration::from_secs(600))
        );
        assert_eq!(time_to_exhaustion(70, Some(70), 0.0), Some(Duration::ZERO));
        assert_eq!(time_to_exhaustion(10, None, 6.0), None);
        assert_eq!(time_to_exhaustion(10, Some(70), 0.0), None);
        assert_eq!(time_to_exhaustion(0, Some(u64::MAX), 1e-300), None);
    }
}
