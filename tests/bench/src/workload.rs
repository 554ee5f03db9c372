//! The workloads: what runs under the measured init, as its child (or, for `none`, as PID 1 itself).
//!
//! They talk to the harness over two inherited descriptors: fd 3 (workload to harness: lines or
//! binary timestamps) and fd 4 (harness to workload: one byte means "go" or "exit"). Every init
//! measured passes inherited descriptors on to its child.

use crate::sys;

/// Workload to harness.
pub const CTL: i32 = 3;
/// Harness to workload.
pub const GO: i32 = 4;

/// `wl-sleep`: says it is ready, then sleeps until killed.
pub fn sleep() -> ! {
    sys::write_all(CTL, b"R");
    loop {
        sys::pause();
    }
}

extern "C" fn on_term(_sig: i32) {
    // Async-signal-safe: clock_gettime and write.
    let t = sys::now_ns();
    sys::write_all(CTL, &t.to_ne_bytes());
}

/// `wl-sig`: every SIGTERM writes the monotonic time its handler ran at (8 bytes, native order).
pub fn sig() -> ! {
    if let Err(e) = sys::on_signal(libc::SIGTERM, on_term) {
        eprintln!("reaper-bench wl-sig: sigaction(SIGTERM): {e}");
        sys::exit_now(111);
    }
    sys::write_all(CTL, &0u64.to_ne_bytes());
    loop {
        sys::pause();
    }
}

/// Formats `v` in decimal into the end of `buf` without allocating (for forked children).
fn decimal(mut v: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            return &buf[i..];
        }
    }
}

/// One creator: `n` times, fork a child that forks a grandchild and exits at once. The grandchild is
/// reparented to PID 1 and exits only then (parent-death signal), so PID 1 reaps every one of them.
/// With a marker descriptor, the grandchild writes `E <its pid>` to it just before exiting, which
/// ties its host pid (the trace's) to the pid PID 1's wait4 returns.
fn creator(n: u64, marker: Option<i32>) -> ! {
    for _ in 0..n {
        let Ok(child) = sys::fork() else {
            sys::exit_now(2)
        };
        if child == 0 {
            let me = sys::getpid();
            if sys::fork().unwrap_or(-1) == 0 {
                // SIGUSR1 is blocked (inherited), so the death signal stays pending for sigwait.
                sys::parent_death_signal(libc::SIGUSR1);
                if sys::getppid() == me {
                    sys::sigwait(libc::SIGUSR1);
                }
                if let Some(fd) = marker {
                    let mut line = [0u8; 24];
                    let mut num = [0u8; 20];
                    let d = decimal(sys::getpid() as u64, &mut num);
                    line[..2].copy_from_slice(b"E ");
                    line[2..2 + d.len()].copy_from_slice(d);
                    line[2 + d.len()] = b'\n';
                    sys::write_all(fd, &line[..3 + d.len()]);
                }
                sys::exit_now(0);
            }
            sys::exit_now(0);
        }
        let _ = sys::waitpid(child);
    }
    sys::exit_now(0)
}

/// How many processes the (namespace's) /proc lists.
fn count_procs() -> usize {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.file_name().as_encoded_bytes()[0].is_ascii_digit())
                .count()
        })
        .unwrap_or(usize::MAX)
}

/// `wl-storm N K MARKER`: on "go", K creators make N orphans in all, then it waits until PID 1 has
/// reaped them all, and reports `done T0 TCREATED TEND` (monotonic ns). As PID 1 itself (`none`),
/// it reaps everything with a blocking waitpid: the floor.
pub fn storm(args: &[String]) -> ! {
    let (Some(n), Some(k), Some(marker)) = (
        args.first().and_then(|s| s.parse::<u64>().ok()),
        args.get(1)
            .and_then(|s| s.parse::<u64>().ok())
            .filter(|&k| k > 0),
        args.get(2),
    ) else {
        eprintln!("reaper-bench wl-storm: expected N K MARKER-PATH|- (got {args:?})");
        sys::exit_now(2)
    };
    let marker = if marker == "-" {
        None
    } else {
        match std::fs::OpenOptions::new().write(true).open(marker) {
            // Kept open across the forks (close-on-exec only matters for exec).
            Ok(f) => Some(std::os::fd::IntoRawFd::into_raw_fd(f)),
            Err(e) => {
                eprintln!("reaper-bench wl-storm: cannot open the trace marker {marker}: {e}");
                sys::exit_now(111)
            }
        }
    };
    sys::block(libc::SIGUSR1);
    let pid1 = sys::getpid() == 1;
    sys::write_all(CTL, format!("ready {}\n", sys::getpid()).as_bytes());
    let mut go = [0u8; 1];
    if !sys::read_exact(GO, &mut go) {
        sys::exit_now(3);
    }
    let t0 = sys::now_ns();
    let mut creators = Vec::new();
    for i in 0..k {
        let share = n / k + u64::from(i < n % k);
        match sys::fork() {
            Ok(0) => creator(share, marker),
            Ok(p) => creators.push(p),
            Err(_) => sys::exit_now(2),
        }
    }
    let (tc, te);
    if pid1 {
        let mut left = creators.len();
        let mut created = 0;
        while let Ok(p) = sys::waitpid(-1) {
            if creators.contains(&p) {
                left -= 1;
                if left == 0 {
                    created = sys::now_ns();
                }
            }
        }
        tc = created;
        te = sys::now_ns();
    } else {
        for &c in &creators {
            let _ = sys::waitpid(c);
        }
        tc = sys::now_ns();
        // Every grandchild is PID 1's now: wait until only PID 1 and this process are left.
        while count_procs() > 2 {
            sys::sleep_us(100);
        }
        te = sys::now_ns();
    }
    sys::write_all(CTL, format!("done {t0} {tc} {te}\n").as_bytes());
    let _ = sys::read_exact(GO, &mut go);
    sys::exit_now(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn decimal_formats_without_allocating() {
        let mut b = [0u8; 20];
        assert_eq!(super::decimal(0, &mut b), b"0");
        assert_eq!(super::decimal(4194304, &mut b), b"4194304");
        assert_eq!(super::decimal(u64::MAX, &mut b), b"18446744073709551615");
    }
}
