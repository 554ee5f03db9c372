//! Human output.

use crate::report::{human_duration, Budget, Group, Report, ScopeOut};
use procmodel::tracker::{RateEstimate, RateMethod};
use procmodel::TimeSource;
use std::fmt::Write;

/// ANSI styling, a no-op when colour is off.
#[derive(Clone, Copy)]
pub struct Style {
    pub color: bool,
}

impl Style {
    fn wrap(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    pub fn bold(&self, s: &str) -> String {
        self.wrap("1", s)
    }
    pub fn red(&self, s: &str) -> String {
        self.wrap("31", s)
    }
    pub fn green(&self, s: &str) -> String {
        self.wrap("32", s)
    }
    pub fn yellow(&self, s: &str) -> String {
        self.wrap("33", s)
    }
    pub fn dim(&self, s: &str) -> String {
        self.wrap("2", s)
    }
}

fn pct(r: Option<f64>) -> String {
    r.map(|r| format!("{:.1}%", r * 100.0))
        .unwrap_or_else(|| "-".into())
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "-".into())
}

fn table(rows: &[Vec<String>], indent: &str) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut w = vec![0; cols];
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let mut out = String::new();
    for r in rows {
        out.push_str(indent);
        for (i, c) in r.iter().enumerate() {
            if i + 1 == r.len() {
                out.push_str(c);
            } else {
                let pad = w[i] - c.chars().count();
                out.push_str(c);
                out.push_str(&" ".repeat(pad + 2));
            }
        }
        out.push('\n');
    }
    out
}

/// `least-squares fit over the last 12 zombies' exit times (1m58s)`.
fn rate_method(r: &RateEstimate) -> String {
    let what = match r.source {
        TimeSource::ExitTime => "exit times",
        TimeSource::StartTime => "start times",
        TimeSource::Observed => "arrivals seen by this watch",
    };
    let win = human_duration(r.window_seconds);
    match r.method {
        RateMethod::LeastSquares => format!(
            "least-squares fit over the last {} zombies' {what}, {win} window",
            r.count
        ),
        RateMethod::Interval => format!("interval between the last 2 zombies' {what}"),
        RateMethod::SinceOne => format!("1 zombie in {win}, by its {what}"),
        RateMethod::Burst => format!("{} zombies at once, {win} ago, by their {what}", r.count),
        RateMethod::ObservedArrivals => format!("{} new in {win}, {what}", r.count),
    }
}

/// The default report as text. `watch` adds rates and first-seen ages.
pub fn human(r: &Report, st: Style, watch: bool) -> String {
    let mut o = String::new();
    summary(&mut o, r, st);
    for g in &r.groups {
        group(&mut o, g, st, watch, r.taken_at);
    }
    budget(&mut o, &r.budget, st);
    verdict(&mut o, r, st);
    o
}

/// The headline (how many zombies, how many parents) and the transient zombies left out.
fn summary(o: &mut String, r: &Report, st: Style) {
    if r.groups.is_empty() {
        let _ = writeln!(
            o,
            "{} ({} processes scanned{}).",
            st.green(if r.transient_zombie_count > 0 {
                "No leaking zombies on this node"
            } else {
                "No zombies on this node"
            }),
            r.processes_scanned,
            if r.zombies_ignored_younger_than_min_age > 0 {
                format!(
                    ", {} younger than --min-age ignored",
                    r.zombies_ignored_younger_than_min_age
                )
            } else {
                String::new()
            }
        );
    } else {
        let _ = writeln!(
            o,
            "{} held by {} parent(s) ({} processes scanned)",
            st.red(&format!("{} zombie(s)", r.zombie_count)),
            r.groups.len(),
            r.processes_scanned
        );
    }
    if r.transient_zombie_count > 0 {
        let mut reasons: Vec<&str> = r
            .transient
            .iter()
            .filter_map(|t| t.reaping.map(|e| e.describe()))
            .collect();
        reasons.sort_unstable();
        reasons.dedup();
        let transient = format!(
            "{} transient zombie(s) not counted as a leak: at most {} old, and their parent reaps ({})",
            r.transient_zombie_count,
            human_duration(r.thresholds.transient_seconds),
            reasons.join("; ")
        );
        let _ = writeln!(o, "{}", st.dim(&transient));
    }
}

/// One parent and its zombies: who it is, how fast it leaks, why, the fix, and the zombies.
fn group(o: &mut String, g: &Group, st: Style, watch: bool, now: f64) {
    let _ = writeln!(o);
    parent(o, g, st);
    let _ = writeln!(o, "  zombies:   {}", g.names);
    leak(o, g);
    let _ = writeln!(o, "  {}     {}", st.yellow("cause:"), g.explanation);
    let _ = writeln!(o, "  {}       {}", st.green("fix:"), g.fix);
    zombie_table(o, g, watch, now);
}

/// The `PARENT` line, with its command and where it runs when it is visible.
fn parent(o: &mut String, g: &Group, st: Style) {
    let p = &g.parent;
    let ns = match (p.ns_pid, p.is_container_init) {
        (Some(n), Some(true)) => format!(", pid {n} in its namespace: PID 1 of its container"),
        (Some(n), _) if n != p.pid => format!(", pid {n} in its namespace"),
        _ if p.is_ns_init => ", PID 1 of this namespace".into(),
        _ => String::new(),
    };
    if p.visible {
        let _ = writeln!(
            o,
            "{} {} (pid {}{ns}) holds {}",
            st.bold("PARENT"),
            st.bold(&p.name),
            p.pid,
            st.red(&format!("{} zombie(s)", g.zombie_count))
        );
        let _ = writeln!(
            o,
            "  command:   {}",
            p.cmdline.as_deref().unwrap_or("(not read)")
        );
        let _ = writeln!(o, "  in:        {}", p.owner.label);
    } else {
        let _ = writeln!(
            o,
            "{} pid {} (not visible) holds {}",
            st.bold("PARENT"),
            p.pid,
            st.red(&format!("{} zombie(s)", g.zombie_count))
        );
    }
}

/// The leak rate (ongoing or stopped) and the limit it exhausts first.
fn leak(o: &mut String, g: &Group) {
    if let Some(rate) = &g.rate {
        if rate.ongoing {
            let _ = writeln!(
                o,
                "  leak rate: {:.2} new zombies/min ({})",
                rate.per_minute,
                rate_method(rate)
            );
        } else {
            let _ = writeln!(
                o,
                "  leak rate: stopped: the last zombie came {} ago (it was {:.2}/min: {})",
                human_duration(rate.last_arrival_seconds_ago),
                rate.per_minute,
                rate_method(rate)
            );
        }
    }
    if let Some(e) = g.exhaustion.as_ref().filter(|e| e.per_minute > 0.0) {
        let _ = writeln!(
            o,
            "  exhausts:  {} ({} of {} pids) {}",
            e.limit_of,
            e.current,
            e.limit,
            match e.seconds {
                Some(s) if s <= 0.0 => "now: at its limit".to_string(),
                Some(s) => format!("in {} at {:.2}/min", human_duration(s), e.per_minute),
                None => "never at this rate".into(),
            }
        );
    }
}

/// The first 20 zombies of a group; the last column is where each runs, or (`watch`) how
/// long ago it was first seen.
fn zombie_table(o: &mut String, g: &Group, watch: bool, now: f64) {
    let mut rows = vec![vec![
        "PID".to_string(),
        "NSPID".into(),
        "NAME".into(),
        "EXIT".into(),
        "AGE".into(),
        if watch { "SEEN".into() } else { "IN".into() },
    ]];
    let limit = 20;
    for z in g.zombies.iter().take(limit) {
        let exit = match (&z.exit_status, z.exit_status_reliable) {
            (Some(e), true) => e.to_string(),
            (Some(_), false) => "unknown".into(),
            (None, _) => "-".into(),
        };
        let age = match (z.zombie_age_seconds, z.age_source) {
            (Some(a), Some(TimeSource::ExitTime)) => human_duration(a),
            (Some(a), _) => format!("≤{}", human_duration(a)),
            _ => "-".into(),
        };
        let last = if watch {
            z.first_seen
                .map(|f| format!("{} ago", human_duration(now - f)))
                .unwrap_or_else(|| "-".into())
        } else {
            z.owner.label.clone()
        };
        rows.push(vec![
            z.pid.to_string(),
            opt(z.ns_pid),
            z.name.clone(),
            exit,
            age,
            last,
        ]);
    }
    o.push_str(&table(&rows, "    "));
    if g.zombies.len() > limit {
        let _ = writeln!(
            o,
            "    ... and {} more (see --json)",
            g.zombies.len() - limit
        );
    }
}

/// `PID budget`: the node's tasks against its limit, then one row per cgroup scope.
fn budget(o: &mut String, b: &Budget, st: Style) {
    let n = &b.node;
    let _ = writeln!(o, "\n{}", st.bold("PID budget"));
    let _ = writeln!(
        o,
        "  node: {} tasks of {} (min(pid_max {}, threads-max {})), {} used; zombies {} ({} of tasks)",
        n.tasks,
        opt(n.limit),
        opt(n.pid_max),
        opt(n.threads_max),
        pct(n.usage_ratio),
        n.zombies,
        pct(n.zombie_share)
    );
    if let Some(rate) = n.new_per_minute {
        let _ = writeln!(
            o,
            "        leaks add {rate:.2} zombies/min; node exhaustion in {}",
            n.seconds_to_exhaustion
                .map(human_duration)
                .unwrap_or_else(|| "never at this rate".into())
        );
    }
    if !b.scopes.is_empty() {
        let mut rows = vec![[
            "SCOPE",
            "PIDS",
            "MAX",
            "USED",
            "ZOMBIES",
            "REFUSED",
            "RATE/MIN",
            "EXHAUSTED IN",
        ]
        .map(String::from)
        .to_vec()];
        rows.extend(b.scopes.iter().map(scope_row));
        o.push_str(&table(&rows, "  "));
    }
}

/// One row of the scope table.
fn scope_row(s: &ScopeOut) -> Vec<String> {
    vec![
        s.label.clone(),
        if s.readable {
            opt(s.current)
        } else {
            "unreadable".into()
        },
        if s.readable {
            s.max.map(|m| m.to_string()).unwrap_or_else(|| "max".into())
        } else {
            "-".into()
        },
        pct(s.usage_ratio),
        format!("{} ({})", s.zombies, pct(s.zombie_share)),
        opt(s.forks_refused),
        s.new_per_minute
            .map(|r| format!("{r:.2}"))
            .unwrap_or_else(|| "-".into()),
        match (s.seconds_to_exhaustion, s.max) {
            (Some(t), _) if t <= 0.0 => "now".into(),
            (Some(t), _) => human_duration(t),
            (None, None) => "no limit".into(),
            (None, Some(_)) => "never".into(),
        },
    ]
}

/// The thresholds crossed, then the notes on what could not be read.
fn verdict(o: &mut String, r: &Report, st: Style) {
    if !r.violations.is_empty() {
        let _ = writeln!(o);
        for v in &r.violations {
            let _ = writeln!(o, "{} {v}", st.red("OVER THRESHOLD:"));
        }
    }
    for note in &r.notes {
        let _ = writeln!(o, "{} {note}", st.dim("note:"));
    }
}
