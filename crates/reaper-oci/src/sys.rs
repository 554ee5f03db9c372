//! The two things std does not offer as the wrapper needs them: an `execv` that leaves the signal
//! mask and every file descriptor exactly as the engine passed them, and a UTC timestamp.

use std::ffi::{CString, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// Replaces this process with `prog ARGS...` (argv\[0\] = `prog`). Only returns on failure.
///
/// std's `Command::exec` would clear the signal mask the engine set; this keeps it, and keeps every
/// inherited descriptor (console socket, preserved fds, pid-file plumbing) because the wrapper opens
/// none without close-on-exec. The one thing undone is std's own change at start-up: SIGPIPE ignored.
pub fn exec(prog: &Path, args: &[OsString]) -> io::Error {
    let to_c = |b: &[u8]| CString::new(b).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput));
    let mut owned = Vec::with_capacity(args.len() + 1);
    match to_c(prog.as_os_str().as_bytes()) {
        Ok(c) => owned.push(c),
        Err(e) => return e,
    }
    for a in args {
        match to_c(a.as_bytes()) {
            Ok(c) => owned.push(c),
            Err(_) => {
                return io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("argument {a:?} holds a NUL byte"),
                )
            }
        }
    }
    let mut argv: Vec<*const libc::c_char> = owned.iter().map(|c| c.as_ptr()).collect();
    argv.push(std::ptr::null());
    // SAFETY: restoring the default disposition of SIGPIPE has no memory-safety requirement; std set
    // it to SIG_IGN before main and the runtime must not inherit that.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    // SAFETY: `owned` keeps every string alive across the call; `argv` is NUL-terminated.
    unsafe { libc::execv(owned[0].as_ptr(), argv.as_ptr()) };
    io::Error::last_os_error()
}

/// Now as `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`.
pub fn rfc3339_now() -> String {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_nanos()
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamp_shape_and_year() {
        let t = super::rfc3339_now();
        assert_eq!(t.len(), 30, "{t}");
        assert!(t.ends_with('Z') && t.as_bytes()[10] == b'T', "{t}");
        let out = std::process::Command::new("date")
            .args(["-u", "+%Y-%m-%d"])
            .output()
            .unwrap();
        assert_eq!(&t[..10], String::from_utf8_lossy(&out.stdout).trim());
    }
}
