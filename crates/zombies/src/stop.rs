//! The stop flag of the loops that run until interrupted (`zombies watch`, `zombies serve`): set
//! by SIGINT or SIGTERM, polled by the loop. The only signal handling of the crate.

use std::sync::atomic::{AtomicBool, Ordering};

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_stop(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// Makes SIGINT and SIGTERM set the stop flag instead of killing the process.
///
/// The handler is installed without `SA_RESTART`, so a blocking `poll(2)` returns `EINTR` and
/// the loop sees the flag at once.
#[allow(unsafe_code)] // sigaction(2), which std does not wrap
pub fn install() -> Result<(), String> {
    for (sig, name) in [(libc::SIGTERM, "SIGTERM"), (libc::SIGINT, "SIGINT")] {
        // SAFETY: `sigaction` is a plain C struct for which all-zero bytes are a valid value
        // (no flags, empty mask, SIG_DFL) before the fields below are set.
        let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
        sa.sa_sigaction = on_stop as *const () as libc::sighandler_t;
        // SAFETY: `sa.sa_mask` is a valid, writable sigset_t owned by this frame.
        unsafe { libc::sigemptyset(&mut sa.sa_mask) };
        // SAFETY: `sa` is fully initialised and outlives the call; the old action is not
        // requested (null). The handler only stores to an atomic, which is async-signal-safe.
        let rc = unsafe { libc::sigaction(sig, &sa, std::ptr::null_mut()) };
        if rc != 0 {
            return Err(format!(
                "cannot install the {name} handler ({}): stop with SIGKILL instead, and report it",
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
}

/// True once SIGINT or SIGTERM has arrived (after [`install`]).
pub fn requested() -> bool {
    STOP.load(Ordering::SeqCst)
}
