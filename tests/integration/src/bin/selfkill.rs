//! `selfkill N`: dies of signal N (default disposition, unblocked, no core dump). Exits 99 if it survives.
// A test helper process whose whole job is raw process and signal system calls (fork, masks,
// dispositions, ttys) that std does not wrap: unsafe is allowed here, a SAFETY comment per block.
#![allow(unsafe_code)]
use integration::sys;

fn main() {
    let sig = std::env::args()
        .nth(1)
        .and_then(|s| sys::parse(&s))
        .unwrap_or_else(|| {
            eprintln!("usage: selfkill SIGNAL");
            std::process::exit(100)
        });
    // SAFETY: plain system calls.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
    if sig != sys::SIGKILL && sig != sys::SIGSTOP {
        let _ = sys::set_ignored(sig, false);
    }
    let _ = sys::sigprocmask(libc::SIG_SETMASK, 0);
    // SAFETY: plain system call.
    unsafe { libc::kill(libc::getpid(), sig) };
    std::process::exit(99);
}
