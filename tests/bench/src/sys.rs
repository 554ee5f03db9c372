//! Thin wrappers over the system calls the harness and its workloads make; every `unsafe` block of
//! the crate is here.

use std::ffi::CString;
use std::io;

/// `CLOCK_MONOTONIC` in nanoseconds (the clock the trace and the workloads share).
pub fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for the kernel to fill in.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Sleeps `us` microseconds (resumed after signals).
pub fn sleep_us(us: u64) {
    std::thread::sleep(std::time::Duration::from_micros(us));
}

fn check(r: libc::c_long) -> io::Result<libc::c_long> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// Writes all of `buf` to `fd` with raw `write` calls (async-signal-safe, no allocation).
pub fn write_all(fd: i32, mut buf: &[u8]) -> bool {
    while !buf.is_empty() {
        // SAFETY: `buf` is a valid readable slice of the given length.
        let w = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        if w < 0 {
            // SAFETY: reading errno is always allowed.
            if unsafe { *libc::__errno_location() } == libc::EINTR {
                continue;
            }
            return false;
        }
        buf = &buf[w as usize..];
    }
    true
}

/// Reads exactly `buf.len()` bytes from `fd` (false on end of file or error).
pub fn read_exact(fd: i32, buf: &mut [u8]) -> bool {
    let mut got = 0;
    while got < buf.len() {
        // SAFETY: the destination is the unfilled, writable tail of `buf`.
        let r = unsafe { libc::read(fd, buf[got..].as_mut_ptr().cast(), buf.len() - got) };
        if r < 0 {
            if io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return false;
        }
        if r == 0 {
            return false;
        }
        got += r as usize;
    }
    true
}

/// Reads one `\n`-terminated line from `fd`, byte by byte (the pipe also carries what follows).
pub fn read_line(fd: i32) -> Option<String> {
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    while read_exact(fd, &mut b) {
        if b[0] == b'\n' {
            return Some(String::from_utf8_lossy(&line).into_owned());
        }
        line.push(b[0]);
    }
    None
}

/// A pipe with both ends close-on-exec: (read end, write end).
pub fn pipe() -> io::Result<(i32, i32)> {
    let mut fds = [0i32; 2];
    // SAFETY: `fds` has room for the two descriptors.
    check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } as libc::c_long)?;
    Ok((fds[0], fds[1]))
}

/// Closes `fd` (errors ignored: used on descriptors we own).
pub fn close(fd: i32) {
    // SAFETY: closing a descriptor this process owns.
    unsafe { libc::close(fd) };
}

/// fork(2), retried while the kernel says EAGAIN (a storm can briefly exhaust pids). Returns the
/// child's pid, or 0 in the child.
pub fn fork() -> io::Result<i32> {
    loop {
        // SAFETY: the harness and its workloads are single-threaded, so the child may run any code.
        let p = unsafe { libc::fork() };
        if p >= 0 {
            return Ok(p);
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EAGAIN) {
            return Err(e);
        }
        sleep_us(100);
    }
}

/// The arguments of clone3(2) (`CLONE_ARGS_SIZE_VER0`).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
}

/// Forks into a new PID (and, with `mount_ns`, mount) namespace: the child is PID 1 there. Returns
/// the child's pid as the host sees it, or 0 in the child.
pub fn fork_into_pid_ns(mount_ns: bool) -> io::Result<i32> {
    let mut flags = libc::CLONE_NEWPID as u64;
    if mount_ns {
        flags |= libc::CLONE_NEWNS as u64;
    }
    let mut args = CloneArgs {
        flags,
        exit_signal: libc::SIGCHLD as u64,
        ..CloneArgs::default()
    };
    // SAFETY: no stack is given, so clone3 behaves like fork (the child runs on a copy of our
    // stack); `args` is a valid VER0 argument block; the harness is single-threaded.
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    check(r).map(|p| p as i32)
}

/// In a fresh mount namespace: stop mount events from propagating back, and mount a /proc that shows
/// the new PID namespace.
pub fn private_proc() -> io::Result<()> {
    // SAFETY: the string arguments are NUL-terminated literals, null where the call allows it.
    check(unsafe {
        libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        )
    } as libc::c_long)?;
    // SAFETY: as above.
    check(unsafe {
        libc::mount(
            c"proc".as_ptr(),
            c"/proc".as_ptr(),
            c"proc".as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            std::ptr::null(),
        )
    } as libc::c_long)?;
    Ok(())
}

/// Mounts tracefs at `path`.
pub fn mount_tracefs(path: &str) -> io::Result<()> {
    let p = CString::new(path).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: NUL-terminated strings; tracefs takes no data.
    check(unsafe {
        libc::mount(
            c"nodev".as_ptr(),
            p.as_ptr(),
            c"tracefs".as_ptr(),
            0,
            std::ptr::null(),
        )
    } as libc::c_long)
    .map(|_| ())
}

/// Makes `from` the descriptor `to` (not close-on-exec), going through a high number first so that
/// a source that already sits on a target number is not clobbered.
pub fn move_fd(from: i32, to: i32) -> io::Result<()> {
    // SAFETY: plain descriptor duplication.
    let high = check(unsafe { libc::fcntl(from, libc::F_DUPFD_CLOEXEC, 100) } as libc::c_long)?;
    // SAFETY: as above; dup2 clears close-on-exec on the new descriptor.
    check(unsafe { libc::dup2(high as i32, to) } as libc::c_long)?;
    Ok(())
}

/// Closes every descriptor from `first` on.
pub fn close_from(first: u32) {
    // SAFETY: close_range only closes descriptors; nothing of ours above `first` is needed.
    unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, 0) };
}

/// Unblocks every signal.
pub fn unblock_all() {
    // SAFETY: an empty set is valid; the old mask is not wanted.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    }
}

/// Blocks `sig` (inherited across fork and exec).
pub fn block(sig: i32) {
    // SAFETY: a set built by sigemptyset/sigaddset; the old mask is not wanted.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, sig);
        libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// Waits for the blocked signal `sig`.
pub fn sigwait(sig: i32) {
    // SAFETY: a set built by sigemptyset/sigaddset; `got` receives the signal number.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, sig);
        let mut got = 0;
        libc::sigwait(&set, &mut got);
    }
}

/// Installs `handler` for `sig` with `SA_RESTART`.
pub fn on_signal(sig: i32, handler: extern "C" fn(i32)) -> io::Result<()> {
    // SAFETY: a zeroed sigaction is valid; the handler is an `extern "C" fn(i32)`.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = handler as usize;
        sa.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut sa.sa_mask);
        check(libc::sigaction(sig, &sa, std::ptr::null_mut()) as libc::c_long)?;
    }
    Ok(())
}

/// Waits until a signal arrives.
pub fn pause() {
    // SAFETY: pause has no arguments.
    unsafe { libc::pause() };
}

/// Sends `sig` to `pid`.
pub fn kill(pid: i32, sig: i32) -> io::Result<()> {
    // SAFETY: kill has no memory arguments.
    check(unsafe { libc::kill(pid, sig) } as libc::c_long).map(|_| ())
}

/// Waits for `pid` (-1: any child), retrying on EINTR; returns the reaped pid.
pub fn waitpid(pid: i32) -> io::Result<i32> {
    loop {
        let mut st = 0;
        // SAFETY: `st` is a valid int for the status.
        let r = unsafe { libc::waitpid(pid, &mut st, 0) };
        if r >= 0 {
            return Ok(r);
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
    }
}

/// Exits at once, without running destructors or flushing (for forked children).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit ends the process; nothing of Rust's needs to run in a forked child.
    unsafe { libc::_exit(code) }
}

/// Our pid and our parent's, in our own PID namespace.
pub fn getpid() -> i32 {
    // SAFETY: no arguments.
    unsafe { libc::getpid() }
}

/// Our parent's pid, in our PID namespace.
pub fn getppid() -> i32 {
    // SAFETY: no arguments.
    unsafe { libc::getppid() }
}

/// Asks for `sig` when our parent dies.
pub fn parent_death_signal(sig: i32) {
    // SAFETY: PR_SET_PDEATHSIG takes a signal number.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, sig as libc::c_ulong) };
}

/// Replaces the process image; returns only on failure.
pub fn execv(argv: &[CString]) -> io::Error {
    let mut ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    // SAFETY: `ptrs` is a NULL-terminated array of valid C strings that outlive the call.
    unsafe { libc::execv(ptrs[0], ptrs.as_ptr()) };
    io::Error::last_os_error()
}

/// Ends the process with SIGALRM after `secs` seconds.
pub fn alarm(secs: u32) {
    // SAFETY: alarm has no memory arguments.
    unsafe { libc::alarm(secs) };
}

/// Writes `data` to the file at `path` with raw calls (usable between fork and exec).
pub fn write_file(path: &std::ffi::CStr, data: &[u8]) -> io::Result<()> {
    // SAFETY: `path` is NUL-terminated.
    let fd = check(
        unsafe { libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) } as libc::c_long,
    )?;
    let ok = write_all(fd as i32, data);
    let err = io::Error::last_os_error();
    close(fd as i32);
    if ok {
        Ok(())
    } else {
        Err(err)
    }
}
