//! Raw signal system calls and signal names, shared by the helper binaries and the tests.
//!
//! glibc refuses signals 32 and 33 (it reserves them for its threads) in `sigaction`, `sigaddset` and
//! friends, and Rust's `std` resets the signal mask when it spawns or execs. The helpers need every
//! signal from 1 to 64 and an exact mask, so they talk to the kernel directly: on x86_64 the kernel's
//! sigset is one `u64` where bit `N-1` stands for signal `N`.

use std::io;

/// The kernel's signal set: bit `N-1` is signal `N`.
pub type SigSet = u64;

/// Highest signal number on Linux x86_64.
pub const NSIG: i32 = 64;

/// Names of the classic signals, indexed by number (index 0 unused).
const NAMES: [&str; 32] = [
    "", "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2",
    "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG",
    "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
];

pub const SIGHUP: i32 = 1;
pub const SIGINT: i32 = 2;
pub const SIGQUIT: i32 = 3;
pub const SIGKILL: i32 = 9;
pub const SIGUSR1: i32 = 10;
pub const SIGUSR2: i32 = 12;
pub const SIGPIPE: i32 = 13;
pub const SIGALRM: i32 = 14;
pub const SIGTERM: i32 = 15;
pub const SIGCHLD: i32 = 17;
pub const SIGCONT: i32 = 18;
pub const SIGSTOP: i32 = 19;
pub const SIGTSTP: i32 = 20;
pub const SIGTTIN: i32 = 21;
pub const SIGTTOU: i32 = 22;
pub const SIGURG: i32 = 23;
pub const SIGWINCH: i32 = 28;

/// The synchronous signals (SIGILL SIGTRAP SIGABRT SIGBUS SIGFPE SIGSEGV SIGSYS): never forwarded.
pub const SYNCHRONOUS: [i32; 7] = [4, 5, 6, 7, 8, 11, 31];

/// The bit of signal `sig` in a [`SigSet`].
pub fn bit(sig: i32) -> SigSet {
    assert!((1..=NSIG).contains(&sig), "signal {sig} out of range");
    1u64 << (sig - 1)
}

/// The set holding every signal of `sigs`.
pub fn set_of(sigs: &[i32]) -> SigSet {
    sigs.iter().fold(0, |acc, &s| acc | bit(s))
}

/// Every signal that reaper must forward (docs/reaper.md, "Forwards"): 1..=64 minus SIGKILL, SIGSTOP,
/// SIGCHLD and the synchronous ones.
pub fn forwardable() -> Vec<i32> {
    (1..=NSIG)
        .filter(|s| ![SIGKILL, SIGSTOP, SIGCHLD].contains(s) && !SYNCHRONOUS.contains(s))
        .collect()
}

/// `TERM` for 15, `RT40` for 40 (used only in messages).
pub fn name(sig: i32) -> String {
    match sig {
        1..=31 => NAMES[sig as usize].to_string(),
        _ => format!("RT{sig}"),
    }
}

/// Parses `TERM`, `SIGTERM` or `15`.
pub fn parse(s: &str) -> Option<i32> {
    if let Ok(n) = s.parse::<i32>() {
        return (1..=NSIG).contains(&n).then_some(n);
    }
    let bare = s.strip_prefix("SIG").unwrap_or(s);
    NAMES
        .iter()
        .position(|n| !n.is_empty() && *n == bare)
        .map(|p| p as i32)
}

/// Parses a comma-separated list of signals (`none` or empty = no signal).
pub fn parse_list(s: &str) -> Result<Vec<i32>, String> {
    if s.is_empty() || s == "none" {
        return Ok(Vec::new());
    }
    s.split(',')
        .map(|p| parse(p).ok_or_else(|| format!("bad signal '{p}'")))
        .collect()
}

#[repr(C)]
struct KernelSigaction {
    handler: usize,
    flags: u64,
    restorer: usize,
    mask: u64,
}

/// Sets the disposition of `sig` to SIG_DFL (`ignore == false`) or SIG_IGN (`ignore == true`).
pub fn set_ignored(sig: i32, ignore: bool) -> io::Result<()> {
    let act = KernelSigaction {
        handler: usize::from(ignore), // SIG_DFL = 0, SIG_IGN = 1
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    // SAFETY: a valid kernel sigaction for SIG_DFL/SIG_IGN, which need no restorer.
    let r = unsafe {
        libc::syscall(
            libc::SYS_rt_sigaction,
            sig as libc::c_long,
            &act as *const KernelSigaction,
            std::ptr::null_mut::<KernelSigaction>(),
            8 as libc::c_long,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `rt_sigprocmask(how, set)`; returns the previous mask.
pub fn sigprocmask(how: libc::c_int, set: SigSet) -> io::Result<SigSet> {
    let mut old: SigSet = 0;
    // SAFETY: both pointers point to 8-byte sets, the size we pass.
    let r = unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            how as libc::c_long,
            &set as *const SigSet,
            &mut old as *mut SigSet,
            8 as libc::c_long,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(old)
    }
}

/// Waits for one signal of `set` (which must be blocked); retries on EINTR.
pub fn sigwait(set: SigSet) -> io::Result<i32> {
    loop {
        let mut info = [0u64; 16]; // siginfo_t is 128 bytes
                                   // SAFETY: `info` is 128 bytes; no timeout.
        let r = unsafe {
            libc::syscall(
                libc::SYS_rt_sigtimedwait,
                &set as *const SigSet,
                info.as_mut_ptr(),
                std::ptr::null::<libc::timespec>(),
                8 as libc::c_long,
            )
        };
        if r >= 0 {
            return Ok(r as i32);
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
    }
}

/// `kill(pid, sig)`.
pub fn kill(pid: i32, sig: i32) -> io::Result<()> {
    // SAFETY: plain system call.
    if unsafe { libc::kill(pid, sig) } < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}
