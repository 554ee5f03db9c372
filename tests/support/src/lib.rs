//! What every test crate of the workspace shares: waiting for a condition with a deadline, never a
//! fixed sleep. One argument order everywhere: what is awaited, the deadline, then the check.
//!
//! - [`poll`]: until the check returns `Ok(value)`; on timeout it panics with the check's last
//!   `Err(state)`, so the failure shows what was seen, not only that time ran out.
//! - [`wait_until`]: until a condition holds; panics on timeout.
//! - [`poll_until`]: the same, but returns whether the condition held in time (for tests that assert
//!   something never happens, or report the failure themselves).
//!
//! Between checks the pause starts at 100 µs and doubles up to 10 ms, so a fast event is seen at
//! once; it is never shorter than the check itself took, so an expensive check (one that runs
//! podman, say) keeps at most half a core busy on a loaded machine.
//!
//! Also two safe wrappers the test crates would otherwise each write with `unsafe`:
//! [`effective_uid`] (for tests that need root to say so) and [`signal`] (send any signal to a pid).
#![deny(unsafe_code)]

use std::thread;
use std::time::{Duration, Instant};

const FIRST_PAUSE: Duration = Duration::from_micros(100);
const LONGEST_PAUSE: Duration = Duration::from_millis(10);

/// Runs `check` until it returns `Ok`, and returns its value. Panics after `timeout` with `what` and
/// the last `Err` state.
pub fn poll<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Result<T, String>) -> T {
    let start = Instant::now();
    let mut pause = FIRST_PAUSE;
    loop {
        let began = Instant::now();
        match check() {
            Ok(v) => return v,
            Err(state) if start.elapsed() > timeout => {
                panic!("timed out after {timeout:?} waiting for {what}\nlast state:\n{state}")
            }
            Err(_) => {
                thread::sleep(pause.max(began.elapsed()));
                pause = (pause * 2).min(LONGEST_PAUSE);
            }
        }
    }
}

/// Runs `cond` until it returns true. Panics after `timeout`, naming `what`.
pub fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    poll(what, timeout, || {
        if cond() {
            Ok(())
        } else {
            Err("the condition did not hold".into())
        }
    })
}

/// Runs `cond` until it returns true (then true) or `timeout` passes (then false).
pub fn poll_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    let mut pause = FIRST_PAUSE;
    loop {
        let began = Instant::now();
        if cond() {
            return true;
        }
        if start.elapsed() > timeout {
            return false;
        }
        thread::sleep(pause.max(began.elapsed()));
        pause = (pause * 2).min(LONGEST_PAUSE);
    }
}

/// The effective uid of this process, read from `/proc/self/status` (no `unsafe` needed).
pub fn effective_uid() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status")
        .unwrap_or_else(|e| panic!("cannot read /proc/self/status ({e}): is /proc mounted?"));
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|uid| uid.parse().ok())
        .unwrap_or_else(|| panic!("no effective uid in /proc/self/status:\n{status}"))
}

/// Fails the test at once, naming `why`, unless it runs as root.
pub fn require_root(why: &str) {
    assert_eq!(effective_uid(), 0, "{why}: run the test as root (CI does)");
}

/// Sends signal `sig` to process `pid` (std's `Child::kill` only sends SIGKILL).
#[allow(unsafe_code)] // kill(2): std does not wrap it.
pub fn signal(pid: i32, sig: i32) -> std::io::Result<()> {
    // SAFETY: kill takes two integers and touches no memory of this process.
    if unsafe { libc::kill(pid, sig) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poll_returns_the_value_once_the_check_succeeds() {
        let mut n = 0;
        let v = poll("the third try", Duration::from_secs(60), || {
            n += 1;
            if n == 3 {
                Ok(n)
            } else {
                Err(format!("try {n}"))
            }
        });
        assert_eq!((v, n), (3, 3));
    }

    #[test]
    #[should_panic(expected = "timed out after 1ms waiting for never\nlast state:\nstill no")]
    fn poll_panics_with_the_last_state() {
        poll::<()>("never", Duration::from_millis(1), || Err("still no".into()));
    }

    #[test]
    #[should_panic(expected = "waiting for a false condition")]
    fn wait_until_panics_naming_what() {
        wait_until("a false condition", Duration::from_millis(1), || false);
    }

    #[test]
    fn poll_until_says_whether_the_condition_held() {
        let mut n = 0;
        assert!(poll_until(Duration::from_secs(60), || {
            n += 1;
            n == 4
        }));
        assert_eq!(n, 4);
        assert!(!poll_until(Duration::from_millis(1), || false));
    }

    #[test]
    fn effective_uid_matches_the_owner_of_a_new_file() {
        use std::os::unix::fs::MetadataExt;
        let dir = std::env::temp_dir().join(format!("test-support-uid-{}", std::process::id()));
        std::fs::create_dir(&dir).unwrap();
        let uid = std::fs::metadata(&dir).unwrap().uid();
        std::fs::remove_dir(&dir).unwrap();
        assert_eq!(effective_uid(), uid);
    }

    #[test]
    fn signal_reaches_a_child_and_reports_a_missing_pid() {
        use std::os::unix::process::ExitStatusExt;
        let mut child = std::process::Command::new("sleep")
            .arg("600")
            .spawn()
            .unwrap();
        signal(child.id() as i32, libc::SIGTERM).unwrap();
        assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGTERM));
        // A pid above the kernel's pid_max (at most 2^22) never exists.
        let err = signal(i32::MAX, 0).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ESRCH));
    }
}
