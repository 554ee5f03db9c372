//! `reaper-bench`: the benchmark harness behind `scripts/bench.sh`.
//!
//! It runs a container init (reaper, tini, dumb-init, catatonit, or any program that takes
//! `INIT -- CMD ARGS`) as PID 1 of a fresh PID namespace, with one of its own workloads as the child,
//! and measures what matters for a PID 1:
//!
//! * `mem`: resident memory of PID 1 while its child sleeps;
//! * `startup`: wall time of `INIT -- /bin/true` as PID 1, against `/bin/true` alone;
//! * `storm`: N orphans reparented to PID 1 by K parallel creators: wall time and PID 1's CPU per
//!   orphan; with `--trace`, from the kernel's trace events, zombie lifetime, most zombies at once and
//!   PID 1's system calls per reaped orphan;
//! * `sig`: signal-forwarding latency, `kill(PID 1, SIGTERM)` to the child's handler running.
//!
//! Each measurement prints one line of `key=value` fields. It needs root (namespaces, tracefs).
//! The same binary is also the workload (`wl-*` subcommands), run inside the namespace.
#![deny(unsafe_code)]

mod launch;
mod measure;
mod stats;
// The one module allowed to use `unsafe`: namespace, signal, wait and fork calls std does not wrap.
#[allow(unsafe_code)]
mod sys;
mod trace;
mod workload;

use launch::Init;

const USAGE: &str = "\
usage: reaper-bench mem     --init INIT
       reaper-bench sig     --init INIT [--trials 1000] [--gap-us 1000] [--sched-trace] [--cgroup]
       reaper-bench storm   --init INIT [-n 20000] [-k 2] [--trace]
       reaper-bench startup [--runs 200] INIT...
INIT: none (the workload itself is PID 1), tini | tini-static | dumb-init | catatonit (/usr/bin/NAME),
      LABEL=PATH, or PATH; the init is run as `INIT -- CMD ARGS`. Needs root.
--sched-trace: also record scheduler events and report on which CPU each hop of a signal ran.
--cgroup: PID 1 and its child run in a cpu cgroup of their own, as in a container.";

struct Opts {
    init: Option<Init>,
    inits: Vec<Init>,
    trials: usize,
    gap_us: u64,
    n: u64,
    k: u64,
    runs: usize,
    trace: bool,
    sched_trace: bool,
    cgroup: bool,
}

fn number<T: std::str::FromStr>(flag: &str, v: Option<&String>) -> Result<T, String> {
    let v = v.ok_or_else(|| format!("{flag} needs a value"))?;
    v.parse()
        .map_err(|_| format!("{flag} takes a positive whole number, not '{v}'"))
}

fn parse(args: &[String]) -> Result<Opts, String> {
    let mut o = Opts {
        init: None,
        inits: Vec::new(),
        trials: 1000,
        gap_us: 1000,
        n: 20000,
        k: 2,
        runs: 200,
        trace: false,
        sched_trace: false,
        cgroup: false,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--init" => {
                let v = it.next().ok_or("--init needs a value")?;
                o.init = Some(Init::parse(v)?);
            }
            "--trials" => o.trials = number(a, it.next())?,
            "--gap-us" => o.gap_us = number(a, it.next())?,
            "-n" => o.n = number(a, it.next())?,
            "-k" => o.k = number(a, it.next())?,
            "--runs" => o.runs = number(a, it.next())?,
            "--trace" => o.trace = true,
            "--sched-trace" => o.sched_trace = true,
            "--cgroup" => o.cgroup = true,
            s if s.starts_with('-') => return Err(format!("unknown option '{s}'")),
            s => o.inits.push(Init::parse(s)?),
        }
    }
    if o.n == 0 || o.k == 0 || o.trials == 0 || o.runs == 0 {
        return Err("-n, -k, --trials and --runs must be at least 1".into());
    }
    Ok(o)
}

fn run(cmd: &str, o: &Opts) -> Result<Vec<String>, String> {
    let init = || {
        o.init
            .clone()
            .ok_or_else(|| format!("{cmd} needs --init INIT"))
    };
    Ok(match cmd {
        "mem" => vec![measure::mem(&init()?)?],
        "sig" => vec![measure::sig(
            &init()?,
            measure::SigOpts {
                trials: o.trials,
                gap_us: o.gap_us,
                sched_trace: o.sched_trace,
                cgroup: o.cgroup,
            },
        )?],
        "storm" => vec![measure::storm(&init()?, o.n, o.k, o.trace)?],
        "startup" if o.inits.is_empty() => return Err("startup needs at least one INIT".into()),
        "startup" => measure::startup(&o.inits, o.runs)?,
        _ => return Err(format!("unknown command '{cmd}' (see reaper-bench --help)")),
    })
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let cmd = args.get(1).map_or("", String::as_str);
    match cmd {
        "wl-sleep" => workload::sleep(),
        "wl-sig" => workload::sig(),
        "wl-storm" => workload::storm(&args[2..]),
        "" | "-h" | "--help" => {
            println!("{USAGE}");
            return;
        }
        _ => {}
    }
    // A stuck init must not hang a benchmark run forever.
    sys::alarm(900);
    let opts = parse(&args[2..]).unwrap_or_else(|e| {
        eprintln!("reaper-bench {cmd}: {e}\n\n{USAGE}");
        std::process::exit(2)
    });
    match run(cmd, &opts) {
        Ok(lines) => {
            for l in lines {
                println!("{l}");
            }
        }
        Err(e) => {
            eprintln!("reaper-bench {cmd}: {e}");
            std::process::exit(1);
        }
    }
}
