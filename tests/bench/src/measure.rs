//! The measurements. Each prints one line of `key=value` fields, which scripts/bench.sh collects.

use crate::launch::{launch, launch_in, CpuCgroup, Init};
use crate::stats::Summary;
use crate::{sys, trace};
use std::ffi::CString;
use std::fmt::Write as _;

/// A field of /proc/PID/status in kB (-1 when missing).
fn status_kb(status: &str, key: &str) -> i64 {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(-1)
}

/// `mem`: PID 1's resident memory while its child sleeps.
pub fn mem(init: &Init) -> Result<String, String> {
    let l = launch(init, &["wl-sleep"])?;
    let mut ready = [0u8; 1];
    if !sys::read_exact(l.ctl, &mut ready) {
        l.finish(true);
        return Err(format!(
            "{}: the workload never said it was ready",
            init.label
        ));
    }
    sys::sleep_us(200_000);
    let status = std::fs::read_to_string(format!("/proc/{}/status", l.pid)).unwrap_or_default();
    l.finish(true);
    Ok(format!(
        "mem init={} vmrss_kb={} rssanon_kb={} rssfile_kb={} vmhwm_kb={}",
        init.label,
        status_kb(&status, "VmRSS"),
        status_kb(&status, "RssAnon"),
        status_kb(&status, "RssFile"),
        status_kb(&status, "VmHWM"),
    ))
}

/// How `sig` runs, besides the init.
#[derive(Debug, Clone, Copy, Default)]
pub struct SigOpts {
    /// Signals timed.
    pub trials: usize,
    /// Pause between two signals, µs.
    pub gap_us: u64,
    /// Record the scheduler's events meanwhile and report where each hop ran.
    pub sched_trace: bool,
    /// Run PID 1 and its child in a cpu cgroup of their own, as in a container.
    pub cgroup: bool,
}

/// `sig`: `trials` SIGTERMs sent to PID 1 from outside, `gap_us` apart; each latency runs from just
/// before `kill` to the child's handler reading the same clock.
pub fn sig(init: &Init, o: SigOpts) -> Result<String, String> {
    const WARMUP: usize = 20;
    let (trials, gap_us) = (o.trials, o.gap_us);
    let cg = if o.cgroup {
        Some(CpuCgroup::new()?)
    } else {
        None
    };
    let tr = if o.sched_trace {
        Some(trace::Instance::new(32 * 1024)?)
    } else {
        None
    };
    let l = launch_in(init, &["wl-sig"], cg.as_ref())?;
    let mut buf = [0u8; 8];
    if !sys::read_exact(l.ctl, &mut buf) {
        l.finish(true);
        return Err(format!(
            "{}: the workload never said it was ready",
            init.label
        ));
    }
    sys::sleep_us(50_000);
    if let Some(t) = &tr {
        t.arm_sched()?;
    }
    let mut lat = Vec::with_capacity(trials);
    for i in 0..trials + WARMUP {
        let t0 = sys::now_ns();
        if let Err(e) = sys::kill(l.pid, libc::SIGTERM) {
            l.finish(true);
            return Err(format!("kill(PID 1, SIGTERM): {e}"));
        }
        if !sys::read_exact(l.ctl, &mut buf) {
            l.finish(true);
            return Err(format!(
                "{}: the child stopped answering after {i} signals (did the init exit on SIGTERM?)",
                init.label
            ));
        }
        if i >= WARMUP {
            lat.push(u64::from_ne_bytes(buf).saturating_sub(t0));
        }
        sys::sleep_us(gap_us);
    }
    let text = match &tr {
        Some(t) => Some(t.stop()?),
        None => None,
    };
    let pid1 = l.pid;
    l.finish(true);
    let s = Summary::new(lat);
    let us = |ns: u64| ns as f64 / 1e3;
    let mut out = format!(
        "sig init={} cgroup={} trials={} p50_us={:.2} p90_us={:.2} p99_us={:.2} min_us={:.2} max_us={:.2} mean_us={:.2}",
        init.label,
        u8::from(o.cgroup),
        s.len(),
        us(s.pct(0.5)),
        us(s.pct(0.9)),
        us(s.pct(0.99)),
        us(s.pct(0.0)),
        us(s.max()),
        s.mean() / 1e3
    );
    if let Some(text) = text {
        let h = trace::parse_sched(&text, std::process::id() as i32, pid1);
        let pct = |n: u64| 100.0 * n as f64 / h.trials.max(1) as f64;
        let _ = write!(
            out,
            " tr_trials={} init_on_sender_cpu_pct={:.0} child_on_init_cpu_pct={:.0} child_preempts_init_pct={:.0} \
             hop1_p50_us={:.1} init_work_p50_us={:.1} hop2_same_cpu_p50_us={:.1} hop2_other_cpu_p50_us={:.1}",
            h.trials,
            pct(h.init_on_sender_cpu),
            pct(h.child_on_init_cpu),
            pct(h.child_preempted_init),
            us(h.hop1.pct(0.5)),
            us(h.init_work.pct(0.5)),
            us(h.hop2_same.pct(0.5)),
            us(h.hop2_other.pct(0.5)),
        );
    }
    Ok(out)
}

/// CPU time PID 1 has used so far (ns), from /proc/PID/schedstat.
fn cpu_ns(pid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/schedstat"))
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// `storm`: `n` orphans from `k` parallel creators; wall time and PID 1's CPU, and with `traced`
/// the exact zombie statistics and PID 1's system calls.
pub fn storm(init: &Init, n: u64, k: u64, traced: bool) -> Result<String, String> {
    let tr = if traced {
        // About 5 events per orphan, ~60 bytes each, on whichever CPU: room for both on one.
        Some(trace::Instance::new((n * 5 * 64 / 1024).max(4096))?)
    } else {
        None
    };
    let marker = tr.as_ref().map_or("-".to_string(), |t| t.marker());
    let (ns, ks) = (n.to_string(), k.to_string());
    let l = launch(init, &["wl-storm", &ns, &ks, &marker])?;
    match sys::read_line(l.ctl) {
        Some(line) if line.starts_with("ready") => {}
        other => {
            l.finish(true);
            return Err(format!(
                "{}: no ready line from the workload ({other:?})",
                init.label
            ));
        }
    }
    if let Some(t) = &tr {
        t.arm(l.pid)?;
    }
    let cpu0 = cpu_ns(l.pid);
    sys::write_all(l.go, b"g");
    let done = sys::read_line(l.ctl);
    let cpu1 = cpu_ns(l.pid);
    let text = match &tr {
        Some(t) => Some(t.stop()?),
        None => None,
    };
    let times: Vec<u64> = done
        .as_deref()
        .and_then(|d| d.strip_prefix("done "))
        .map(|d| d.split(' ').filter_map(|x| x.parse().ok()).collect())
        .unwrap_or_default();
    // The init exits with its child; `none` is the workload and exits by itself.
    l.finish(false);
    let [t0, tc, te] = times[..] else {
        return Err(format!(
            "{}: no done line from the workload ({done:?})",
            init.label
        ));
    };
    let wall = te.saturating_sub(t0) as f64;
    let mut out = format!(
        "storm init={} n={n} k={k} trace={} wall_ms={:.3} creators_ms={:.3} tail_ms={:.3} rate_per_s={:.0} \
         init_cpu_ms={:.3} init_cpu_us_per_orphan={:.3}",
        init.label,
        u8::from(traced),
        wall / 1e6,
        tc.saturating_sub(t0) as f64 / 1e6,
        te.saturating_sub(tc) as f64 / 1e6,
        n as f64 / (wall / 1e9),
        cpu1.saturating_sub(cpu0) as f64 / 1e6,
        cpu1.saturating_sub(cpu0) as f64 / 1e3 / n as f64,
    );
    if let Some(text) = text {
        let s = trace::parse(&text);
        let us = |ns: u64| ns as f64 / 1e3;
        let _ = write!(
            out,
            " tr_entries={} tr_written={} tr_reaps={} tr_matched={} zmax={} zlife_p50_us={:.1} \
             zlife_p90_us={:.1} zlife_p99_us={:.1} zlife_max_us={:.1} sys_total={} sys_per_orphan={:.3}",
            s.entries,
            s.written,
            s.reaps,
            s.matched,
            s.max_zombies,
            us(s.life.pct(0.5)),
            us(s.life.pct(0.9)),
            us(s.life.pct(0.99)),
            us(s.life.max()),
            s.syscalls,
            s.syscalls as f64 / n as f64,
        );
        let mut nrs: Vec<_> = s.by_nr.iter().collect();
        nrs.sort();
        for (nr, c) in nrs {
            let _ = write!(out, " sys_{}={c}", trace::syscall_name(*nr));
        }
    }
    Ok(out)
}

/// `startup`: the wall time of `INIT -- /bin/true` as PID 1 of a new PID namespace (fork to reaped),
/// every init once per run in a rotating order, `runs` runs after `runs / 10` warm-up runs. Prints one
/// line per init; `delta_us` is over `none` (/bin/true itself as PID 1) when it is measured too.
pub fn startup(inits: &[Init], runs: usize) -> Result<Vec<String>, String> {
    let argvs: Vec<Vec<CString>> = inits.iter().map(|i| i.argv(&["/bin/true"])).collect();
    let mut times: Vec<Vec<u64>> = vec![Vec::with_capacity(runs); inits.len()];
    let warm = runs / 10;
    for run in 0..warm + runs {
        for j in 0..inits.len() {
            let i = (j + run) % inits.len();
            let t0 = sys::now_ns();
            let pid = sys::fork_into_pid_ns(false)
                .map_err(|e| format!("clone3(CLONE_NEWPID): {e} (the benchmark needs root)"))?;
            if pid == 0 {
                let e = sys::execv(&argvs[i]);
                eprintln!("reaper-bench: cannot run {:?}: {e}", argvs[i][0]);
                sys::exit_now(111);
            }
            sys::waitpid(pid).map_err(|e| format!("waitpid: {e}"))?;
            if run >= warm {
                times[i].push(sys::now_ns() - t0);
            }
        }
    }
    let sums: Vec<Summary> = times.into_iter().map(Summary::new).collect();
    let base = inits
        .iter()
        .position(|i| i.path.is_none())
        .map(|b| sums[b].pct(0.5));
    Ok(inits
        .iter()
        .zip(&sums)
        .map(|(init, s)| {
            let med = s.pct(0.5);
            let delta = base.map_or("n/a".into(), |b| format!("{:.1}", (med as f64 - b as f64) / 1e3));
            format!(
                "startup init={} runs={} median_us={:.1} mean_us={:.1} min_us={:.1} delta_us={delta}",
                init.label,
                s.len(),
                med as f64 / 1e3,
                s.mean() / 1e3,
                s.pct(0.0) as f64 / 1e3
            )
        })
        .collect())
}
