//! `zombies tree [PID]`: parent chains up to host PID 1, pstree-like, each hop's container.

use crate::render::Style;
use procmodel::diagnose::container_label;
use procmodel::Snapshot;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Serialize)]
pub struct Hop {
    pub pid: i32,
    pub ns_pid: Option<i32>,
    pub name: String,
    pub state: String,
    pub zombie: bool,
    pub container: String,
}

/// Chains (root first) for the zombies, or for one pid. `Err` when the pid does not exist.
pub fn chains(snap: &Snapshot, pid: Option<i32>) -> Result<Vec<Vec<Hop>>, String> {
    let targets: Vec<i32> = match pid {
        Some(p) => {
            if snap.process(p).is_none() {
                return Err(format!("no process with pid {p} in {} processes scanned (it may have exited, or be outside this PID namespace)", snap.processes.len()));
            }
            vec![p]
        }
        None => snap.zombies.clone(),
    };
    Ok(targets
        .into_iter()
        .map(|t| {
            let mut c: Vec<Hop> = snap
                .ancestry(t)
                .into_iter()
                .map(|p| Hop {
                    pid: p.pid,
                    ns_pid: p.ns_pid(),
                    name: p.name(),
                    state: (p.state as char).to_string(),
                    zombie: p.is_zombie(),
                    container: if p.is_container_init() == Some(true)
                        && procmodel::diagnose::is_reaper_injected(p)
                    {
                        format!(
                            "{}, PID 1 is reaper injected by reaper-oci",
                            container_label(snap, p)
                        )
                    } else {
                        container_label(snap, p)
                    },
                })
                .collect();
            c.reverse();
            c
        })
        .collect())
}

/// Renders the union of the chains as a tree.
pub fn render(snap: &Snapshot, chains: &[Vec<Hop>], st: Style) -> String {
    if chains.is_empty() {
        return format!(
            "{} ({} processes scanned).\n",
            st.green("No zombies on this node"),
            snap.processes.len()
        );
    }
    let mut children: BTreeMap<i32, BTreeSet<i32>> = BTreeMap::new();
    let mut hops: BTreeMap<i32, &Hop> = BTreeMap::new();
    let mut roots = BTreeSet::new();
    for c in chains {
        if let Some(first) = c.first() {
            roots.insert(first.pid);
        }
        for w in c.windows(2) {
            children.entry(w[0].pid).or_default().insert(w[1].pid);
        }
        for h in c {
            hops.insert(h.pid, h);
        }
    }
    let mut out = String::new();
    // Parent links read at different instants can loop (pid reuse mid-scan): each pid is drawn
    // once, so the recursion ends.
    let mut drawn = BTreeSet::new();
    for r in roots {
        walk(r, "", "", &children, &hops, &mut out, st, None, &mut drawn);
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn walk(
    pid: i32,
    prefix: &str,
    child_prefix: &str,
    children: &BTreeMap<i32, BTreeSet<i32>>,
    hops: &BTreeMap<i32, &Hop>,
    out: &mut String,
    st: Style,
    parent_container: Option<&str>,
    drawn: &mut BTreeSet<i32>,
) {
    if !drawn.insert(pid) {
        return;
    }
    let h = hops[&pid];
    let ns = match h.ns_pid {
        Some(n) if n != h.pid => format!(" [ns pid {n}]"),
        _ => String::new(),
    };
    let label = if h.zombie {
        st.red(&format!("{}({}){ns} <defunct>", h.name, h.pid))
    } else {
        format!("{}({}){ns} {}", h.name, h.pid, h.state)
    };
    // Show the container on each hop where it changes (and always on zombies).
    let cont = if parent_container != Some(h.container.as_str()) || h.zombie {
        format!("  {}", st.dim(&format!("· {}", h.container)))
    } else {
        String::new()
    };
    out.push_str(&format!("{prefix}{label}{cont}\n"));
    if let Some(kids) = children.get(&pid) {
        let n = kids.len();
        for (i, k) in kids.iter().enumerate() {
            let last = i + 1 == n;
            let p = format!("{child_prefix}{}", if last { "└─ " } else { "├─ " });
            let cp = format!("{child_prefix}{}", if last { "   " } else { "│  " });
            walk(
                *k,
                &p,
                &cp,
                children,
                hops,
                out,
                st,
                Some(h.container.as_str()),
                drawn,
            );
        }
    }
}
