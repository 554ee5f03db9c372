//! First-seen times of zombies across scans, leak rates and time to exhaustion.

use crate::model::{Snapshot, TimeSource};
use serde::Serialize;
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
    /// Parents (pids) whose zombies of the previous scan are gone: they reap.
    pub reaping_parents: Vec<i32>,
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
    reaped_by: HashMap<i32, SystemTime>,
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
            reaped_by: HashMap::new(),
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
        let mut reaping: Vec<i32> = self.seen.values().map(|s| s.parent).collect();
        reaping.sort_unstable();
        reaping.dedup();
        for &p in &reaping {
            self.reaped_by.insert(p, now);
        }
        // A parent counts as reaping for one window after it last reaped.
        let window = self.window;
        self.reaped_by
            .retain(|_, t| now.duration_since(*t).unwrap_or_default() <= window);
        obs.reaping_parents = reaping;
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

    /// Whether parent `ppid` reaped a zombie (one seen by a scan vanished) within the window:
    /// evidence that it reaps, so its young zombies are transient. Process ids are reused, so
    /// this is a hint for the young zombies of that pid, not a verdict on old ones.
    pub fn has_reaped(&self, ppid: i32) -> bool {
        self.reaped_by.contains_key(&ppid)
    }

    /// Arrivals of `ppid`'s zombies observed over the tracker's span, when the span is at
    /// least `min_span` seconds: the `watch` refinement of a one-scan estimate.
    pub fn observed_for_parent(&self, ppid: i32, min_span: f64) -> Option<RateEstimate> {
        let span = self.rate_span_seconds();
        if span < min_span || span <= 0.0 {
            return None;
        }
        let times: Vec<SystemTime> = self
            .events
            .iter()
            .filter(|(_, p, _)| *p == ppid)
            .map(|(t, _, _)| *t)
            .collect();
        let last = self.last?;
        let since_last = times
            .last()
            .map(|t| last.duration_since(*t).unwrap_or_default().as_secs_f64())
            .unwrap_or(span);
        let per_minute = times.len() as f64 * 60.0 / span;
        Some(RateEstimate {
            per_minute,
            method: RateMethod::ObservedArrivals,
            source: TimeSource::Observed,
            count: times.len(),
            window_seconds: span,
            last_arrival_seconds_ago: since_last,
            ongoing: !times.is_empty()
                && since_last <= (3.0 * 60.0 / per_minute.max(1e-9)).max(30.0),
        })
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

/// How a leak rate was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RateMethod {
    /// Least-squares slope of the arrival count over the arrival times of the last `count`
    /// zombies (3 or more).
    LeastSquares,
    /// Two zombies: one interval between their arrivals.
    Interval,
    /// One zombie: one arrival since it came (a lower bound of an ongoing leak).
    SinceOne,
    /// Several zombies arrived within one second (a burst): their count over the time since.
    Burst,
    /// Arrivals counted by successive scans over their span (`watch`).
    ObservedArrivals,
}

impl RateMethod {
    /// Stable snake_case name (as in JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            RateMethod::LeastSquares => "least_squares",
            RateMethod::Interval => "interval",
            RateMethod::SinceOne => "since_one",
            RateMethod::Burst => "burst",
            RateMethod::ObservedArrivals => "observed_arrivals",
        }
    }
}

/// A leak rate with how it was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RateEstimate {
    /// New zombies per minute.
    pub per_minute: f64,
    /// How it was computed.
    pub method: RateMethod,
    /// Where the arrival times came from.
    pub source: TimeSource,
    /// Zombies (arrivals) the estimate rests on.
    pub count: usize,
    /// Seconds between the first arrival used and the scan.
    pub window_seconds: f64,
    /// Seconds since the latest arrival.
    pub last_arrival_seconds_ago: f64,
    /// The leak still runs: two or more distinct arrivals, the latest no older than three mean
    /// intervals (at least 30 s). A stopped leak, a single zombie or a single burst does not
    /// count toward exhaustion or `--max-leak-rate`.
    pub ongoing: bool,
}

/// At most this many of the latest arrivals enter a one-scan estimate.
pub const RATE_MAX_COUNT: usize = 120;
/// Arrivals older than this (seconds before the scan) are left out of a one-scan estimate.
pub const RATE_MAX_WINDOW_SECONDS: f64 = 3600.0;

/// Estimates a leak rate from one scan: `times` are the arrival times (Unix seconds) of one
/// parent's (or one scope's) zombies, `now` the scan time.
///
/// The last [`RATE_MAX_COUNT`] arrivals within [`RATE_MAX_WINDOW_SECONDS`] are used: with three or
/// more, the rate is the least-squares slope of their rank over their time (robust to one early
/// or late arrival); with two, one over their interval; with one, one over its age (a lower
/// bound); arrivals all within one second are a burst, counted over the time since. `None` when
/// `times` is empty.
pub fn estimate_rate(times: &[f64], now: f64, source: TimeSource) -> Option<RateEstimate> {
    let mut t: Vec<f64> = times
        .iter()
        .copied()
        .filter(|x| x.is_finite() && now - x <= RATE_MAX_WINDOW_SECONDS)
        .collect();
    if t.is_empty() {
        // Every zombie is older than the window: one very old arrival, no ongoing leak.
        let oldest = times
            .iter()
            .copied()
            .filter(|x| x.is_finite())
            .fold(f64::NAN, f64::max);
        if oldest.is_nan() {
            return None;
        }
        let age = (now - oldest).max(1.0);
        return Some(RateEstimate {
            per_minute: times.len() as f64 * 60.0 / age,
            method: RateMethod::SinceOne,
            source,
            count: times.len(),
            window_seconds: age,
            last_arrival_seconds_ago: age,
            ongoing: false,
        });
    }
    t.sort_by(f64::total_cmp);
    if t.len() > RATE_MAX_COUNT {
        t.drain(..t.len() - RATE_MAX_COUNT);
    }
    let n = t.len();
    let (first, last) = (t[0], t[n - 1]);
    let window = (now - first).max(0.001);
    let since_last = (now - last).max(0.0);
    let (per_second, method) = if n == 1 {
        (1.0 / window.max(1.0), RateMethod::SinceOne)
    } else if last - first < 1.0 {
        (n as f64 / window.max(1.0), RateMethod::Burst)
    } else if n == 2 {
        (1.0 / (last - first), RateMethod::Interval)
    } else {
        let mx = t.iter().sum::<f64>() / n as f64;
        let my = (n - 1) as f64 / 2.0;
        let (mut sxy, mut sxx) = (0.0, 0.0);
        for (i, x) in t.iter().enumerate() {
            sxy += (x - mx) * (i as f64 - my);
            sxx += (x - mx) * (x - mx);
        }
        (sxy / sxx, RateMethod::LeastSquares)
    };
    // One arrival, or one burst, is not yet a growing leak: a rate needs two distinct arrivals
    // (`watch` sees the next ones).
    let ongoing = match method {
        RateMethod::SinceOne | RateMethod::Burst => false,
        _ => since_last <= (3.0 / per_second).max(30.0),
    };
    Some(RateEstimate {
        per_minute: per_second * 60.0,
        method,
        source,
        count: n,
        window_seconds: window,
        last_arrival_seconds_ago: since_last,
        ongoing,
    })
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

    #[test]
    fn a_parent_that_reaped_is_reaping_for_one_window() {
        use crate::scan::{scan, Detail, ScanConfig};
        let dir = std::env::temp_dir().join(format!("procmodel-tracker-{}", std::process::id()));
        let stat = |pid: i32, st: char, ppid: i32| {
            format!("{pid} (p{pid}) {st} {ppid} {pid} {pid} 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n")
        };
        let w = |rel: &str, c: &str| {
            let p = dir.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, c).unwrap();
        };
        w("uptime", "50.0 1.0\n");
        w("1/stat", &stat(1, 'S', 0));
        w("7/stat", &stat(7, 'S', 1));
        w("8/stat", &stat(8, 'Z', 7));
        w("9/stat", &stat(9, 'Z', 7));
        let cfg = ScanConfig {
            proc_root: dir.clone(),
            sys_root: dir.join("nosys"),
            pods_log_root: None,
            detail: Detail::Minimal,
            state_root: None,
        };
        let mut t = ZombieTracker::new(Duration::from_secs(600));
        let o = t.observe(&scan(&cfg).unwrap());
        assert!(o.new.is_empty() && o.reaping_parents.is_empty());
        assert!(!t.has_reaped(7));
        // 7 reaps zombie 8; a new zombie 10 comes.
        std::fs::remove_dir_all(dir.join("8")).unwrap();
        w("10/stat", &stat(10, 'Z', 7));
        let o = t.observe(&scan(&cfg).unwrap());
        assert_eq!(o.reaped, 1);
        assert_eq!(o.reaping_parents, vec![7]);
        assert_eq!(o.new.len(), 1);
        assert!(t.has_reaped(7) && !t.has_reaped(1));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn near(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs()
    }

    #[test]
    fn one_scan_rate_from_regular_arrivals() {
        // 30 per minute for 2 minutes, the scan 1 s after the last.
        let t: Vec<f64> = (0..60).map(|i| 1000.0 + i as f64 * 2.0).collect();
        let e = estimate_rate(&t, 1119.0, TimeSource::StartTime).unwrap();
        assert_eq!(e.method, RateMethod::LeastSquares);
        assert!(near(e.per_minute, 30.0, 1e-9), "{e:?}");
        assert_eq!(e.count, 60);
        assert!(e.ongoing);
        assert!(near(e.window_seconds, 119.0, 1e-9));
        // One per minute: two zombies after two minutes, then three.
        let e = estimate_rate(&[0.0, 60.0], 119.0, TimeSource::ExitTime).unwrap();
        assert_eq!(e.method, RateMethod::Interval);
        assert!(near(e.per_minute, 1.0, 1e-9) && e.ongoing);
        let e = estimate_rate(&[0.0, 60.0, 120.0], 121.0, TimeSource::ExitTime).unwrap();
        assert!(near(e.per_minute, 1.0, 1e-9) && e.ongoing);
    }

    #[test]
    fn jittered_arrivals_and_stopped_leaks() {
        // 6 per minute with +-2 s jitter: within 5%.
        let t: Vec<f64> = (0..12)
            .map(|i| i as f64 * 10.0 + if i % 2 == 0 { 2.0 } else { -2.0 })
            .collect();
        let e = estimate_rate(&t, 115.0, TimeSource::StartTime).unwrap();
        assert!(near(e.per_minute, 6.0, 0.05), "{e:?}");
        // The same leak stopped ten minutes ago: not ongoing.
        let e = estimate_rate(&t, 700.0, TimeSource::StartTime).unwrap();
        assert!(!e.ongoing, "{e:?}");
        // A burst: 30 within 0.1 s, seen 60 s later.
        let t: Vec<f64> = (0..30).map(|i| 50.0 + i as f64 * 0.003).collect();
        let e = estimate_rate(&t, 110.0, TimeSource::StartTime).unwrap();
        assert_eq!(e.method, RateMethod::Burst);
        assert!(near(e.per_minute, 30.0, 0.01), "{e:?}");
        // One zombie, 30 s old: one per 30 s at least.
        let e = estimate_rate(&[70.0], 100.0, TimeSource::StartTime).unwrap();
        assert_eq!(e.method, RateMethod::SinceOne);
        assert!(near(e.per_minute, 2.0, 1e-9));
        assert!(estimate_rate(&[], 1.0, TimeSource::StartTime).is_none());
        // Only the last RATE_MAX_COUNT arrivals count: an old slow leak then a fast one.
        let mut t: Vec<f64> = (0..100).map(|i| i as f64 * 30.0).collect();
        t.extend((0..RATE_MAX_COUNT).map(|i| 3000.0 + i as f64));
        let e = estimate_rate(&t, 3000.0 + RATE_MAX_COUNT as f64, TimeSource::StartTime).unwrap();
        assert!(near(e.per_minute, 60.0, 1e-9), "{e:?}");
    }
}
