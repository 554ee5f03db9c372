//! Helper for `scripts/bench-scan.sh`.
//!
//! * `bench_scan scan [PROC_ROOT]`: one full scan (stat of every process, minimal detail), prints
//!   `processes=N zombies=Z failures=F vanished=V seconds=S` to stdout.
//! * `bench_scan spawn N`: forks N children that sleep in `pause()` (they die with this process,
//!   PR_SET_PDEATHSIG), prints `ready N` once all exist, waits for stdin to close, then kills and
//!   reaps them.
// fork, prctl(PR_SET_PDEATHSIG), pause, kill and waitpid of the spawned children: libc calls std does
// not wrap.
#![allow(unsafe_code)]
use std::io::{Read, Write};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("scan") => {
            let mut cfg = procmodel::ScanConfig {
                detail: procmodel::Detail::Minimal,
                ..Default::default()
            };
            if let Some(root) = args.get(2) {
                cfg.proc_root = root.into();
            }
            let t = Instant::now();
            let snap = match procmodel::scan(&cfg) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("bench_scan: {e}");
                    std::process::exit(2);
                }
            };
            let secs = t.elapsed().as_secs_f64();
            println!(
                "processes={} zombies={} failures={} vanished={} seconds={secs:.6}",
                snap.processes.len(),
                snap.zombies.len(),
                snap.errors.failures(),
                snap.errors.vanished
            );
        }
        Some("spawn") => {
            let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or_else(|| {
                eprintln!("usage: bench_scan spawn N");
                std::process::exit(2)
            });
            let mut kids = Vec::with_capacity(n);
            for i in 0..n {
                // SAFETY: the child only calls async-signal-safe functions.
                let pid = unsafe { libc::fork() };
                if pid < 0 {
                    eprintln!(
                        "bench_scan: fork {i} of {n} failed: {}",
                        std::io::Error::last_os_error()
                    );
                    kill_all(&kids);
                    std::process::exit(2);
                }
                if pid == 0 {
                    // SAFETY: in the forked child: prctl and pause are async-signal-safe; it never returns.
                    unsafe {
                        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                        loop {
                            libc::pause();
                        }
                    }
                }
                kids.push(pid);
            }
            println!("ready {n}");
            std::io::stdout().flush().ok();
            let mut sink = Vec::new();
            std::io::stdin().read_to_end(&mut sink).ok();
            kill_all(&kids);
        }
        _ => {
            eprintln!("usage: bench_scan scan [PROC_ROOT] | spawn N");
            std::process::exit(2);
        }
    }
}

fn kill_all(kids: &[i32]) {
    for &k in kids {
        // SAFETY: kill has no memory preconditions; `k` is our own child.
        unsafe { libc::kill(k, libc::SIGKILL) };
    }
    for &k in kids {
        // SAFETY: reaps our own child; a null status pointer is allowed.
        unsafe { libc::waitpid(k, std::ptr::null_mut(), 0) };
    }
}
