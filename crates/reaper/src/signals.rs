//! Signal numbers, names and the sets reaper treats specially.

use crate::sys::SigSet;

/// The Linux signal numbers reaper refers to (x86_64/aarch64 numbering, as in the kernel).
pub const SIGHUP: i32 = 1;
pub const SIGINT: i32 = 2;
pub const SIGKILL: i32 = 9;
pub const SIGPIPE: i32 = 13;
pub const SIGTERM: i32 = 15;
pub const SIGCHLD: i32 = 17;
pub const SIGCONT: i32 = 18;
pub const SIGSTOP: i32 = 19;
pub const SIGTSTP: i32 = 20;
pub const SIGTTIN: i32 = 21;
pub const SIGTTOU: i32 = 22;
/// The first real-time signal as `kill -l` shows it on glibc systems (the kernel's range starts at 32;
/// the C libraries keep 32..33 or 32..34 for themselves).
pub const SIGRTMIN: i32 = 34;
/// The last real-time signal.
pub const SIGRTMAX: i32 = 64;

/// Names of signals 1..=31, index = number - 1.
const NAMES: [&str; 31] = [
    "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2",
    "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG",
    "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
];

/// Other names for the same numbers.
const ALIASES: [(&str, i32); 3] = [("IOT", 6), ("POLL", 29), ("CLD", 17)];

/// Synchronous signals: raised by a fault in the process itself. Never blocked in reaper (a fault in
/// PID 1 must kill it, not hang it); forwarded only when another process sent them, and only by the
/// personas whose original does (reaper's own, dumb-init).
pub const SYNCHRONOUS: SigSet = SigSet::of(4) // ILL
    .with(5) // TRAP
    .with(6) // ABRT
    .with(7) // BUS
    .with(8) // FPE
    .with(11) // SEGV
    .with(31); // SYS

/// Signals that cannot be caught, blocked or ignored.
pub const UNCATCHABLE: SigSet = SigSet::of(SIGKILL).with(SIGSTOP);

/// Every signal reaper may block: all but the synchronous ones.
pub const BLOCKABLE: SigSet = SigSet::ALL.minus(SYNCHRONOUS);

/// Every signal reaper forwards: the catchable ones but SIGCHLD and the synchronous ones.
pub const FORWARDED: SigSet = SigSet::ALL
    .minus(SYNCHRONOUS)
    .minus(UNCATCHABLE)
    .minus(SigSet::of(SIGCHLD));

/// The name of signal `sig` without the SIG prefix ("TERM", "RTMIN+3"), or `None` when out of range.
pub fn name(sig: i32, buf: &mut [u8; 12]) -> Option<&[u8]> {
    if (1..=31).contains(&sig) {
        return Some(NAMES[(sig - 1) as usize].as_bytes());
    }
    if !(32..=SIGRTMAX).contains(&sig) {
        return None;
    }
    let off = sig - SIGRTMIN;
    buf[..5].copy_from_slice(b"RTMIN");
    let mut n = 5;
    if off != 0 {
        buf[n] = if off < 0 { b'-' } else { b'+' };
        n += 1;
        let o = off.unsigned_abs();
        if o >= 10 {
            buf[n] = b'0' + (o / 10) as u8;
            n += 1;
        }
        buf[n] = b'0' + (o % 10) as u8;
        n += 1;
    }
    Some(&buf[..n])
}

/// Parses a decimal number without sign; `None` on anything else or overflow past `max`.
pub fn parse_uint(text: &[u8], max: u64) -> Option<u64> {
    if text.is_empty() || text.len() > 20 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in text {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    (v <= max).then_some(v)
}

/// Parses a signal: a number 1..=64, or a name with or without the `SIG` prefix in any case
/// (`TERM`, `SIGTERM`, `sigterm`, `RTMIN`, `RTMIN+3`, `RTMAX-1`).
pub fn parse(text: &[u8]) -> Option<i32> {
    if let Some(n) = parse_uint(text, 64) {
        return (n >= 1).then_some(n as i32);
    }
    let mut upper = [0u8; 16];
    if text.len() > upper.len() {
        return None;
    }
    for (u, c) in upper.iter_mut().zip(text) {
        *u = c.to_ascii_uppercase();
    }
    let mut t = &upper[..text.len()];
    if t.starts_with(b"SIG") {
        t = &t[3..];
    }
    if let Some(i) = NAMES.iter().position(|n| n.as_bytes() == t) {
        return Some(i as i32 + 1);
    }
    if let Some(&(_, n)) = ALIASES.iter().find(|(a, _)| a.as_bytes() == t) {
        return Some(n);
    }
    let (base, rest) = if let Some(r) = t.strip_prefix(b"RTMIN") {
        (SIGRTMIN, r)
    } else if let Some(r) = t.strip_prefix(b"RTMAX") {
        (SIGRTMAX, r)
    } else {
        return None;
    };
    let sig = match rest {
        [] => base,
        [b'+', num @ ..] => base + parse_uint(num, 64)? as i32,
        [b'-', num @ ..] => base - parse_uint(num, 64)? as i32,
        _ => return None,
    };
    (32..=SIGRTMAX).contains(&sig).then_some(sig)
}

/// glibc's `strsignal` words for 1..=31, in order (tini prints them, and the Kubernetes pause).
const DESCRIPTIONS: &str = "Hangup\0Interrupt\0Quit\0Illegal instruction\0Trace/breakpoint trap\0\
    Aborted\0Bus error\0Floating point exception\0Killed\0User defined signal 1\0\
    Segmentation fault\0User defined signal 2\0Broken pipe\0Alarm clock\0Terminated\0\
    Stack fault\0Child exited\0Continued\0Stopped (signal)\0Stopped\0Stopped (tty input)\0\
    Stopped (tty output)\0Urgent I/O condition\0CPU time limit exceeded\0\
    File size limit exceeded\0Virtual timer expired\0Profiling timer expired\0Window changed\0\
    I/O possible\0Power failure\0Bad system call";

/// What glibc's `strsignal` says of `sig`: the words, and a number to append after them
/// (`Real-time signal 3` for SIGRTMIN+3, `Unknown signal 32`).
pub fn description(sig: i32) -> (&'static [u8], Option<i32>) {
    if (1..=31).contains(&sig) {
        let mut rest = DESCRIPTIONS.as_bytes();
        for _ in 1..sig {
            let next = rest
                .iter()
                .position(|&c| c == 0)
                .map_or(rest.len(), |i| i + 1);
            rest = &rest[next..];
        }
        let end = rest.iter().position(|&c| c == 0).unwrap_or(rest.len());
        (&rest[..end], None)
    } else if (SIGRTMIN..=SIGRTMAX).contains(&sig) {
        (b"Real-time signal ", Some(sig - SIGRTMIN))
    } else {
        (b"Unknown signal ", Some(sig))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_numbers_and_realtime() {
        assert_eq!(parse(b"TERM"), Some(15));
        assert_eq!(parse(b"SIGTERM"), Some(15));
        assert_eq!(parse(b"sigusr1"), Some(10));
        assert_eq!(parse(b"9"), Some(9));
        assert_eq!(parse(b"64"), Some(64));
        assert_eq!(parse(b"RTMIN"), Some(34));
        assert_eq!(parse(b"SIGRTMIN+3"), Some(37));
        assert_eq!(parse(b"RTMAX-2"), Some(62));
        assert_eq!(parse(b"IOT"), Some(6));
        for bad in [
            &b""[..],
            b"0",
            b"65",
            b"SIG",
            b"TERMX",
            b"RTMIN+31",
            b"-1",
            b"1x",
        ] {
            assert_eq!(parse(bad), None, "{:?}", core::str::from_utf8(bad));
        }
    }

    #[test]
    fn descriptions_are_glibcs() {
        assert_eq!(description(1), (&b"Hangup"[..], None));
        assert_eq!(description(10), (&b"User defined signal 1"[..], None));
        assert_eq!(description(15), (&b"Terminated"[..], None));
        assert_eq!(description(31), (&b"Bad system call"[..], None));
        assert_eq!(description(34), (&b"Real-time signal "[..], Some(0)));
        assert_eq!(description(64), (&b"Real-time signal "[..], Some(30)));
        assert_eq!(description(32), (&b"Unknown signal "[..], Some(32)));
    }

    #[test]
    fn names_round_trip() {
        let mut buf = [0u8; 12];
        for sig in 1..=64 {
            let n = name(sig, &mut buf).unwrap().to_vec();
            assert_eq!(parse(&n), Some(sig), "{}", String::from_utf8_lossy(&n));
        }
    }

    #[test]
    fn forwarded_set_excludes_chld_sync_and_uncatchable() {
        for sig in [4, 5, 6, 7, 8, 9, 11, 17, 19, 31] {
            assert!(!FORWARDED.has(sig), "{sig}");
        }
        for sig in [
            1, 2, 3, 10, 12, 13, 14, 15, 18, 20, 21, 22, 28, 32, 33, 34, 50, 64,
        ] {
            assert!(FORWARDED.has(sig), "{sig}");
        }
    }
}
