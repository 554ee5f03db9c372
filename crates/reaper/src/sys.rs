//! Every `unsafe` block of reaper lives here: typed wrappers over the C library and raw system calls.
//!
//! Callers get `Result<T, Errno>` and safe types; each block says why it is sound. Signal masks and
//! dispositions use the raw `rt_sigprocmask`/`rt_sigaction` system calls with 64-bit sets, because the C
//! libraries hide the signals they reserve for themselves (32..34 in musl, 32..33 in glibc): reaper must
//! forward those too, and hand the child the exact mask it inherited.

use core::ffi::{c_char, c_int, CStr};

/// A failed system call's `errno`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errno(pub c_int);

impl Errno {
    /// The C library's description of this error (e.g. "No such file or directory").
    pub fn text(self) -> &'static str {
        if self.0 == libc::ENOTTY {
            return "Inappropriate ioctl for device"; // glibc's words (musl: "Not a tty"), as printed by the originals
        }
        // SAFETY: strerror returns a pointer to a static, NUL-terminated string for any errno value
        // in musl and glibc; reaper is single-threaded, so the buffer glibc may use is not shared.
        let s = unsafe { CStr::from_ptr(libc::strerror(self.0)) };
        s.to_str().unwrap_or("unknown error")
    }
}

pub type Result<T> = core::result::Result<T, Errno>;

fn errno() -> Errno {
    // SAFETY: __errno_location returns the calling thread's errno slot, valid for the thread's life.
    Errno(unsafe { *libc::__errno_location() })
}

fn check(ret: c_int) -> Result<c_int> {
    if ret < 0 {
        Err(errno())
    } else {
        Ok(ret)
    }
}

fn check_long(ret: libc::c_long) -> Result<libc::c_long> {
    if ret < 0 {
        Err(errno())
    } else {
        Ok(ret)
    }
}

// ---------------------------------------------------------------------------------------------------
// Signals: a 64-bit set, masks and dispositions through the raw system calls.

/// A set of signals 1..=64, bit `n-1` for signal `n` (the kernel's layout).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SigSet(pub u64);

impl SigSet {
    /// Every signal.
    pub const ALL: SigSet = SigSet(u64::MAX);
    /// The set holding `sig` alone (empty for an out-of-range number).
    pub const fn of(sig: i32) -> SigSet {
        if sig >= 1 && sig <= 64 {
            SigSet(1 << (sig - 1))
        } else {
            SigSet(0)
        }
    }
    /// Whether `sig` is in the set.
    pub const fn has(self, sig: i32) -> bool {
        self.0 & Self::of(sig).0 != 0
    }
    /// The set with `sig` added.
    pub const fn with(self, sig: i32) -> SigSet {
        SigSet(self.0 | Self::of(sig).0)
    }
    /// The set with the members of `other` too.
    pub const fn with_all(self, other: SigSet) -> SigSet {
        SigSet(self.0 | other.0)
    }
    /// `self` without the signals of `other`.
    pub const fn minus(self, other: SigSet) -> SigSet {
        SigSet(self.0 & !other.0)
    }
}

/// The signal mask of the calling thread.
pub fn sigmask() -> SigSet {
    let mut old = 0u64;
    // SAFETY: a null `set` only reads the mask into `old`, a valid u64 of the kernel's sigset size (8).
    unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_BLOCK,
            core::ptr::null::<u64>(),
            &mut old,
            8,
        )
    };
    SigSet(old)
}

/// The signals pending for this process (blocked ones that arrived).
pub fn sigpending() -> SigSet {
    let mut set = 0u64;
    // SAFETY: `set` is a valid 8-byte sigset the kernel fills in.
    unsafe { libc::syscall(libc::SYS_rt_sigpending, &mut set, 8) };
    SigSet(set)
}

/// Replaces the signal mask (the kernel silently keeps SIGKILL and SIGSTOP unblocked).
pub fn set_sigmask(set: SigSet) {
    // SAFETY: `set.0` is a valid 8-byte sigset; a null `oldset` is allowed. It cannot fail with these
    // arguments (only EFAULT/EINVAL, excluded by construction).
    unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK,
            &set.0,
            core::ptr::null_mut::<u64>(),
            8,
        )
    };
}

// The raw signal calls below were written for, and checked on, these architectures only: the kernel's
// `struct sigaction` (KernelSigaction) and the signal numbers in signals.rs are those of x86_64,
// aarch64 and x86 (i686). Elsewhere they differ: riscv64's struct has no `sa_restorer` field, 32-bit
// arm aligns the 64-bit mask to 8 bytes (the kernel reads it at offset 12), mips, sparc, alpha and
// parisc number the signals differently, and powerpc64 and s390x have not been checked. Porting means
// checking both against the kernel's headers for the architecture, then adding it here.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "x86")))]
compile_error!(
    "reaper's sys.rs supports target_arch x86_64, aarch64 and x86 only: its kernel struct sigaction \
     layout and signal numbers were not written for this architecture (see the comment above this \
     compile_error! in crates/reaper/src/sys.rs for what to check before adding it)"
);

/// The kernel's `struct sigaction` on x86_64, aarch64 and x86: handler, flags, restorer, then the
/// 64-bit mask with no padding before it (on x86 a u64 is 4-byte aligned, as the kernel expects).
#[repr(C)]
struct KernelSigaction {
    handler: usize,
    flags: libc::c_ulong,
    restorer: usize,
    mask: u64,
}

// The layout the kernel reads: three words then the 8-byte mask, no padding (checked at compile time).
const _: () =
    assert!(core::mem::size_of::<KernelSigaction>() == 3 * core::mem::size_of::<usize>() + 8);

#[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
const SA_RESTORER: libc::c_ulong = 0x0400_0000;

// x86_64 and x86 need a user-space trampoline that calls rt_sigreturn when a handler returns; the C
// library normally supplies it, but reaper calls rt_sigaction itself (see the module doc), so it
// brings its own.
#[cfg(target_arch = "x86_64")]
core::arch::global_asm!(
    ".globl reaper_sigreturn",
    "reaper_sigreturn:",
    "mov rax, 15", // __NR_rt_sigreturn
    "syscall",
);
#[cfg(target_arch = "x86")]
core::arch::global_asm!(
    ".globl reaper_sigreturn",
    "reaper_sigreturn:",
    "mov eax, 173", // __NR_rt_sigreturn
    "int 0x80",
);

#[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
extern "C" {
    fn reaper_sigreturn();
}

// On x86 the handler is entered through a stub that aligns the stack to 16 bytes first. The i386 ABI
// promises that alignment at every call, and the compiled handler relies on it (SSE spills to the
// stack); the kernel sets the signal frame up that way, but emulators do not all do so (qemu-i386
// before 8.1 aligns it to 8 bytes only, and the handler then faults). The stub calls the handler
// whose address `set_disposition` stored in REAPER_X86_HANDLER (reaper has one handler).
#[cfg(target_arch = "x86")]
#[no_mangle]
static REAPER_X86_HANDLER: core::sync::atomic::AtomicUsize =
    core::sync::atomic::AtomicUsize::new(0);
#[cfg(target_arch = "x86")]
core::arch::global_asm!(
    ".globl reaper_x86_handler_entry",
    "reaper_x86_handler_entry:",
    "push ebp",
    "mov ebp, esp",
    "and esp, -16",
    "sub esp, 4", // with the three arguments below, 16-byte aligned at the call
    "push dword ptr [ebp+16]", // ucontext
    "push dword ptr [ebp+12]", // siginfo
    "push dword ptr [ebp+8]", // signal number
    "call dword ptr [REAPER_X86_HANDLER]",
    "mov esp, ebp",
    "pop ebp",
    "ret",
);
#[cfg(target_arch = "x86")]
extern "C" {
    fn reaper_x86_handler_entry();
}

/// The address the kernel is given for `handler`: the handler itself, or on x86 the aligning stub.
fn handler_entry(handler: extern "C" fn(c_int, &libc::siginfo_t, *mut core::ffi::c_void)) -> usize {
    #[cfg(target_arch = "x86")]
    {
        REAPER_X86_HANDLER.store(handler as usize, core::sync::atomic::Ordering::Relaxed);
        reaper_x86_handler_entry as *const () as usize
    }
    #[cfg(not(target_arch = "x86"))]
    {
        handler as usize
    }
}

/// What to do with a signal.
#[derive(Clone, Copy)]
pub enum Disposition {
    /// The default action.
    Default,
    /// Discard it.
    Ignore,
    /// Run `handler` with what the kernel says of the signal (SA_SIGINFO), then resume the system
    /// call it interrupted (SA_RESTART).
    Handle(extern "C" fn(c_int, &libc::siginfo_t, *mut core::ffi::c_void)),
}

/// Sets the disposition of `sig`. While a handler runs every other signal is blocked.
pub fn set_disposition(sig: i32, what: Disposition) -> Result<()> {
    let (handler, flags) = match what {
        Disposition::Default => (libc::SIG_DFL, 0),
        Disposition::Ignore => (libc::SIG_IGN, 0),
        Disposition::Handle(handler) => (
            handler_entry(handler),
            (libc::SA_RESTART | libc::SA_SIGINFO) as libc::c_ulong,
        ),
    };
    #[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
    let (flags, restorer) = (flags | SA_RESTORER, reaper_sigreturn as *const () as usize);
    #[cfg(not(any(target_arch = "x86_64", target_arch = "x86")))]
    let restorer = 0usize;
    let act = KernelSigaction {
        handler,
        flags,
        restorer,
        mask: u64::MAX,
    };
    // SAFETY: `act` is a valid kernel sigaction; the handler is an `extern "C"` function with the
    // SA_SIGINFO signature (the kernel passes a valid, non-null siginfo) that lives for the whole program; the restorer is the trampoline above. A null `oldact` is allowed.
    let r = unsafe {
        libc::syscall(
            libc::SYS_rt_sigaction,
            sig,
            &act,
            core::ptr::null_mut::<KernelSigaction>(),
            8,
        )
    };
    check_long(r).map(|_| ())
}

/// Whether `sig` is ignored (SIG_IGN) right now.
pub fn is_ignored(sig: i32) -> bool {
    let mut old = KernelSigaction {
        handler: 0,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    // SAFETY: a null `act` only reads the disposition into `old`, a valid kernel sigaction.
    let r = unsafe {
        libc::syscall(
            libc::SYS_rt_sigaction,
            sig,
            core::ptr::null::<KernelSigaction>(),
            &mut old,
            8,
        )
    };
    r == 0 && old.handler == libc::SIG_IGN
}

/// Waits until a signal of `set` is pending (they must be blocked), or until `timeout_ms` passes.
/// Returns the signal, or `None` on timeout.
pub fn sigtimedwait(set: SigSet, timeout_ms: Option<u64>) -> Result<Option<i32>> {
    let ts = timeout_ms.map(|ms| libc::timespec {
        tv_sec: (ms / 1000) as _,
        tv_nsec: ((ms % 1000) * 1_000_000) as libc::c_long,
    });
    let tsp = ts
        .as_ref()
        .map_or(core::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `set.0` is a valid 8-byte sigset, `tsp` is null or points to `ts` which outlives the call;
    // a null siginfo pointer is allowed.
    let r = unsafe {
        libc::syscall(
            libc::SYS_rt_sigtimedwait,
            &set.0,
            core::ptr::null_mut::<libc::siginfo_t>(),
            tsp,
            8,
        )
    };
    match check_long(r) {
        Ok(sig) => {
            #[allow(clippy::unnecessary_cast)] // a no-op where `c_long` is 32 bits (x86)
            let sig = sig as i32;
            Ok(Some(sig))
        }
        // A timeout, or a handler ran (a sent synchronous signal in pause mode): nothing taken.
        Err(Errno(libc::EAGAIN | libc::EINTR)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Whether another process sent this signal (`kill`, `sigqueue`, `tgkill`: `si_code <= 0` and a sender
/// other than us). False for what the kernel raised for our own action: a fault (`si_code > 0`), or the
/// SIGPIPE of a write of ours to a broken pipe (the kernel sends it as `SI_USER` from ourselves).
pub fn sent_by_other(info: &libc::siginfo_t) -> bool {
    // SAFETY: with si_code <= 0 the kernel filled the `kill`/`rt` member, whose first field is si_pid.
    info.si_code <= 0 && unsafe { info.si_pid() } != getpid()
}

/// Whether `pid` is still a child of ours that nobody reaped (alive, or a zombie): only then does
/// the number surely still name it. `waitid(WNOWAIT)` leaves it waitable.
pub fn unreaped(pid: i32) -> bool {
    // SAFETY: siginfo_t is plain data; all-zero is a valid value the kernel may fill in.
    let mut info: libc::siginfo_t = unsafe { core::mem::zeroed() };
    let flags = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT | libc::__WALL;
    // SAFETY: `info` is a valid siginfo_t.
    unsafe { libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, flags) == 0 }
}

/// Sends `sig` to `pid` (negative: a process group; -1: every process we may signal).
pub fn kill(pid: i32, sig: i32) -> Result<()> {
    // SAFETY: kill has no memory arguments.
    check(unsafe { libc::kill(pid, sig) }).map(|_| ())
}

// ---------------------------------------------------------------------------------------------------
// Processes.

/// Our pid.
pub fn getpid() -> i32 {
    // SAFETY: getpid has no arguments and cannot fail.
    unsafe { libc::getpid() }
}

/// Our process group.
pub fn getpgrp() -> i32 {
    // SAFETY: getpgrp has no arguments and cannot fail.
    unsafe { libc::getpgrp() }
}

/// Our session id.
pub fn getsid() -> i32 {
    // SAFETY: getsid(0) has no memory arguments.
    unsafe { libc::getsid(0) }
}

/// Whether this process is a child subreaper (the attribute survives exec).
pub fn is_child_subreaper() -> bool {
    let mut flag: c_int = 0;
    // SAFETY: PR_GET_CHILD_SUBREAPER stores an int through the pointer, which is valid.
    let r = unsafe { libc::prctl(libc::PR_GET_CHILD_SUBREAPER, &mut flag as *mut c_int) };
    r == 0 && flag != 0
}

/// Whether this process was forked: in the child `Child`, in the parent `Parent(pid)`.
pub enum Fork {
    Child,
    Parent(i32),
}

// The C library's fork without the atfork handlers (musl and glibc 2.34+ have it): reaper registers
// none, and musl's fork() brings its thread-creation lock with it (about 1 KiB of rwlock code).
extern "C" {
    fn _Fork() -> libc::pid_t;
}

/// fork(2). reaper is single-threaded, so the child may do anything the parent could.
pub fn fork() -> Result<Fork> {
    // SAFETY: reaper never starts a thread and registers no atfork handler, so the child inherits a
    // consistent address space (no lock held by another thread); _Fork resets the C library's own
    // per-process state in the child as fork does.
    match check(unsafe { _Fork() })? {
        0 => Ok(Fork::Child),
        pid => Ok(Fork::Parent(pid)),
    }
}

/// Puts `pid` (0: ourselves) into process group `pgid` (0: a new group led by `pid`).
pub fn setpgid(pid: i32, pgid: i32) -> Result<()> {
    // SAFETY: no memory arguments.
    check(unsafe { libc::setpgid(pid, pgid) }).map(|_| ())
}

/// Starts a new session led by the caller.
pub fn setsid() -> Result<()> {
    // SAFETY: no arguments.
    check(unsafe { libc::setsid() }).map(|_| ())
}

/// Ends the process at once with `code`, without running anything else.
pub fn exit(code: i32) -> ! {
    // SAFETY: _exit never returns and touches no memory of ours.
    unsafe { libc::_exit(code) }
}

/// prctl(2) with integer arguments.
pub fn prctl(option: c_int, arg: libc::c_ulong) -> Result<c_int> {
    // SAFETY: every option reaper uses takes plain integers, not pointers.
    check(unsafe {
        libc::prctl(
            option,
            arg,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    })
}

/// A child's exit as wait(2) reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// It called exit with this code.
    Code(i32),
    /// This signal killed it.
    Signal(i32),
}

impl Exit {
    fn from_status(st: c_int) -> Exit {
        if libc::WIFSIGNALED(st) {
            Exit::Signal(libc::WTERMSIG(st))
        } else {
            Exit::Code(libc::WEXITSTATUS(st))
        }
    }
}

/// Outcome of one wait.
pub enum Wait {
    /// A child was reaped.
    Reaped(i32, Exit),
    /// `nohang` and no child has exited yet.
    Nothing,
    /// We have no child at all (ECHILD).
    NoChildren,
}

/// Reaps one exited child (any pid when `pid` is -1), blocking unless `nohang`. Never EINTR: every
/// handler reaper installs has SA_RESTART (see `set_disposition`), so the kernel restarts the wait.
pub fn wait(pid: i32, nohang: bool) -> Result<Wait> {
    let mut st: c_int = 0;
    let flags = libc::__WALL | if nohang { libc::WNOHANG } else { 0 };
    // SAFETY: `st` is a valid c_int for the status; a null rusage is allowed.
    let r = check(unsafe { libc::wait4(pid, &mut st, flags, core::ptr::null_mut()) });
    match r {
        Ok(0) => Ok(Wait::Nothing),
        Ok(p) => Ok(Wait::Reaped(p, Exit::from_status(st))),
        Err(Errno(libc::ECHILD)) => Ok(Wait::NoChildren),
        Err(e) => Err(e),
    }
}

/// Finds an exited child without reaping it (`waitid(WNOWAIT)`), so that its /proc entry can still be
/// read. Returns its pid in `Wait::Reaped` with a placeholder status: reap it with `wait(pid, true)`.
pub fn peek_exited(nohang: bool) -> Result<Wait> {
    // SAFETY: siginfo_t is plain data; all-zero is a valid value.
    let mut info: libc::siginfo_t = unsafe { core::mem::zeroed() };
    let flags =
        libc::WEXITED | libc::WNOWAIT | libc::__WALL | if nohang { libc::WNOHANG } else { 0 };
    // SAFETY: `info` is a valid siginfo_t the kernel fills in.
    let r = check(unsafe { libc::waitid(libc::P_ALL, 0, &mut info, flags) });
    match r {
        Ok(_) => {
            // SAFETY: waitid succeeded, so the si_pid union field is the one the kernel filled in.
            let pid = unsafe { info.si_pid() };
            if pid == 0 {
                Ok(Wait::Nothing)
            } else {
                Ok(Wait::Reaped(pid, Exit::Code(0)))
            }
        }
        Err(Errno(libc::ECHILD)) => Ok(Wait::NoChildren),
        Err(e) => Err(e),
    }
}

/// Replaces this process with `argv[0]`, searched in PATH. Returns only on failure.
pub fn execvp(argv: &[*const c_char]) -> Errno {
    // SAFETY: `argv` is a null-terminated array of pointers to NUL-terminated strings (built by the
    // caller from our own argv, which lives for the whole program).
    unsafe { libc::execvp(argv[0], argv.as_ptr()) };
    errno()
}

// ---------------------------------------------------------------------------------------------------
// Identity and environment.

/// Sets the supplementary groups, then the gid, then the uid (that order: each needs the privilege
/// the next one drops).
///
/// Raw system calls: the C library's wrappers change the ids of every thread (musl's `__synccall`,
/// which links its own signal machinery); reaper calls this in a single-threaded child, where the
/// plain system call is the same thing.
pub fn set_identity(uid: u32, gid: u32, groups: &[u32]) -> Result<()> {
    // x86 (i686) kept its 16-bit-id calls under the old numbers; the 32-bit ones are the `*32` calls.
    #[cfg(target_arch = "x86")]
    let (setgroups, setgid, setuid) = (
        libc::SYS_setgroups32,
        libc::SYS_setgid32,
        libc::SYS_setuid32,
    );
    #[cfg(not(target_arch = "x86"))]
    let (setgroups, setgid, setuid) = (libc::SYS_setgroups, libc::SYS_setgid, libc::SYS_setuid);
    // SAFETY: `groups` is a valid slice of gid_t (u32) of the given length.
    check_long(unsafe { libc::syscall(setgroups, groups.len(), groups.as_ptr()) })?;
    // SAFETY: no memory arguments.
    check_long(unsafe { libc::syscall(setgid, gid) })?;
    // SAFETY: no memory arguments.
    check_long(unsafe { libc::syscall(setuid, uid) }).map(|_| ())
}

/// The value of an environment variable, as bytes.
pub fn getenv(name: &CStr) -> Option<&'static [u8]> {
    // SAFETY: getenv returns null or a pointer into the environment block, which reaper (single
    // threaded) only changes in the forked child right before exec.
    let p = unsafe { libc::getenv(name.as_ptr()) };
    if p.is_null() {
        None
    } else {
        // SAFETY: non-null getenv results are NUL-terminated strings.
        Some(unsafe { CStr::from_ptr(p) }.to_bytes())
    }
}

/// Sets an environment variable (used in the child only, right before exec).
pub fn setenv(name: &CStr, value: &CStr) -> Result<()> {
    // SAFETY: both are NUL-terminated; single-threaded, so no concurrent getenv.
    check(unsafe { libc::setenv(name.as_ptr(), value.as_ptr(), 1) }).map(|_| ())
}

/// The program's arguments, from the pointers the C runtime handed to `main`.
pub struct Args {
    argv: *const *const c_char,
    argc: usize,
}

impl Args {
    /// # Safety
    /// `argv` must be the `argv` that `main` received, with `argc` entries followed by a null pointer.
    pub unsafe fn new(argc: c_int, argv: *const *const c_char) -> Args {
        Args {
            argv,
            argc: argc.max(0) as usize,
        }
    }
    /// How many arguments (`argv[0]` included).
    pub fn len(&self) -> usize {
        self.argc
    }
    /// Argument `i` as bytes ("" past the end).
    pub fn get(&self, i: usize) -> &'static [u8] {
        // (an argument is "" past the end, so callers need no bounds check)
        self.get_c(i).map_or(&[], CStr::to_bytes)
    }
    /// Argument `i` as a C string.
    pub fn get_c(&self, i: usize) -> Option<&'static CStr> {
        if i >= self.argc {
            return None;
        }
        // SAFETY: i < argc, so argv[i] is a valid pointer to a NUL-terminated string that lives for
        // the whole program (the C runtime keeps argv).
        Some(unsafe { CStr::from_ptr(*self.argv.add(i)) })
    }
    /// The null-terminated pointer array `argv[i..]`, ready for exec.
    pub fn tail(&self, i: usize) -> &'static [*const c_char] {
        let i = i.min(self.argc);
        // SAFETY: argv has argc entries plus the terminating null: entries i..=argc exist.
        unsafe { core::slice::from_raw_parts(self.argv.add(i), self.argc - i + 1) }
    }
}

// ---------------------------------------------------------------------------------------------------
// Files, terminals and the working directory.

/// An open file descriptor, closed on drop.
pub struct Fd(c_int);

impl Fd {
    /// Opens `path` read-only (close-on-exec).
    pub fn open(path: &CStr) -> Result<Fd> {
        // SAFETY: `path` is NUL-terminated.
        check(unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) }).map(Fd)
    }
    /// Reads as much as fits in `buf` (retrying on EINTR).
    pub fn read(&self, buf: &mut [u8]) -> Result<usize> {
        loop {
            // SAFETY: `buf` is valid for writes of its length.
            let r = unsafe { libc::read(self.0, buf.as_mut_ptr().cast(), buf.len()) };
            if r >= 0 {
                return Ok(r as usize);
            }
            let e = errno();
            if e.0 != libc::EINTR {
                return Err(e);
            }
        }
    }
}

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: we own this descriptor and close it once.
        unsafe { libc::close(self.0) };
    }
}

/// How reaper's log descriptor must be written without blocking.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum LogKind {
    /// An open file description of our own with O_NONBLOCK (a pipe reopened through /proc), or a
    /// file or terminal, which do not block on a full reader.
    Write,
    /// A socket: `send(MSG_DONTWAIT)`.
    Socket,
}

/// Opens what fd 2 is, for logs that never block: a pipe is reopened through /proc (a description of
/// our own, so O_NONBLOCK does not change the child's), a socket is sent to with MSG_DONTWAIT; any other
/// file is used as it is. Returns the descriptor to write to (close-on-exec when new).
pub fn open_log() -> (c_int, LogKind) {
    // SAFETY: stat is plain data; fstat fills it in.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: `st` is a valid stat buffer.
    if unsafe { libc::fstat(2, &mut st) } == 0 {
        match st.st_mode & libc::S_IFMT {
            libc::S_IFIFO => {
                let flags = libc::O_WRONLY | libc::O_NONBLOCK | libc::O_CLOEXEC;
                // SAFETY: the path is NUL-terminated.
                let fd = unsafe { libc::open(c"/proc/self/fd/2".as_ptr(), flags) };
                if fd >= 0 {
                    return (fd, LogKind::Write);
                }
            }
            libc::S_IFSOCK => return (2, LogKind::Socket),
            _ => {}
        }
    }
    (2, LogKind::Write)
}

/// Writes `buf` to the log descriptor at once or not at all; false when it did not fit (full pipe,
/// EAGAIN) or could not be written (EPIPE, ...).
pub fn write_log(fd: c_int, kind: LogKind, buf: &[u8]) -> bool {
    loop {
        // SAFETY: `buf` is valid for reads of its length.
        let r = unsafe {
            if kind == LogKind::Socket {
                let flags = libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;
                libc::send(fd, buf.as_ptr().cast(), buf.len(), flags)
            } else {
                libc::write(fd, buf.as_ptr().cast(), buf.len())
            }
        };
        if r >= 0 || errno().0 != libc::EINTR {
            return r == buf.len() as isize;
        }
    }
}

/// Writes all of `buf` to `fd`, ignoring errors (a log line that cannot be written is dropped).
pub fn write_all(fd: c_int, mut buf: &[u8]) {
    while !buf.is_empty() {
        // SAFETY: `buf` is valid for reads of its length.
        let r = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        if r > 0 {
            buf = &buf[(r as usize).min(buf.len())..];
        } else if r < 0 && errno().0 == libc::EINTR {
            continue;
        } else {
            return;
        }
    }
}

/// Changes the working directory.
pub fn chdir(path: &CStr) -> Result<()> {
    // SAFETY: `path` is NUL-terminated.
    check(unsafe { libc::chdir(path.as_ptr()) }).map(|_| ())
}

/// Closes every descriptor from 3 on but `keep` (reaper's own log descriptor, or anything below 3).
pub fn close_from_3(keep: c_int) -> Result<()> {
    let keep = keep.max(2) as u32;
    for (first, last) in [(3, keep.wrapping_sub(1)), (keep + 1, u32::MAX)] {
        if first <= last {
            // SAFETY: close_range takes integers only; it closes descriptors nothing else in reaper
            // uses.
            check_long(unsafe { libc::syscall(libc::SYS_close_range, first, last, 0) })?;
        }
    }
    Ok(())
}

/// The foreground process group of the terminal on `fd`, if `fd` is a terminal.
pub fn tcgetpgrp(fd: c_int) -> Option<i32> {
    // SAFETY: no memory arguments.
    let r = unsafe { libc::tcgetpgrp(fd) };
    (r > 0).then_some(r)
}

/// Makes `pgrp` the foreground process group of the terminal on `fd`.
pub fn tcsetpgrp(fd: c_int, pgrp: i32) -> Result<()> {
    // SAFETY: no memory arguments.
    check(unsafe { libc::tcsetpgrp(fd, pgrp) }).map(|_| ())
}

/// Detaches this session leader from its controlling terminal (TIOCNOTTY).
pub fn detach_tty(fd: c_int) -> Result<()> {
    // SAFETY: TIOCNOTTY takes no argument.
    check(unsafe { libc::ioctl(fd, libc::TIOCNOTTY) }).map(|_| ())
}

/// Makes the terminal on `fd` the controlling terminal of this (new) session (TIOCSCTTY).
pub fn attach_tty(fd: c_int) -> Result<()> {
    // SAFETY: TIOCSCTTY takes an integer argument (0: do not steal it from another session).
    check(unsafe { libc::ioctl(fd, libc::TIOCSCTTY, 0) }).map(|_| ())
}

/// Milliseconds on the monotonic clock.
pub fn now_ms() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1000 + ts.tv_nsec as u64 / 1_000_000
}

/// Calls `f` with the name of every entry of the directory `path` (`.` and `..` excluded).
pub fn for_each_dir_entry(path: &CStr, mut f: impl FnMut(&[u8])) -> Result<()> {
    // SAFETY: `path` is NUL-terminated; the DIR pointer is checked and closed below.
    let dir = unsafe { libc::opendir(path.as_ptr()) };
    if dir.is_null() {
        return Err(errno());
    }
    loop {
        // SAFETY: `dir` is a valid open DIR; readdir's result is valid until the next readdir/closedir.
        let ent = unsafe { libc::readdir(dir) };
        if ent.is_null() {
            break;
        }
        // SAFETY: d_name is a NUL-terminated array inside the dirent that `ent` points to.
        let name = unsafe { CStr::from_ptr((*ent).d_name.as_ptr()) }.to_bytes();
        if name != b"." && name != b".." {
            f(name);
        }
    }
    // SAFETY: `dir` is open and closed once.
    unsafe { libc::closedir(dir) };
    Ok(())
}

// ---------------------------------------------------------------------------------------------------
// Memory: reaper's own allocator, behind Rust's `alloc` (Vec) and the C library's malloc family alike
// (musl's setenv and opendir call malloc, calloc, realloc and free; defining them here keeps musl's
// general-purpose allocator, about 8 KiB, out of the binary).
//
// Every block is an anonymous mapping of its own, its length stored in the 16 bytes before the
// pointer (16: the alignment malloc promises on 64-bit Linux). reaper allocates rarely and never in
// its reaping loop: at start (`--user` reads /etc/passwd and /etc/group), for the table of orphan
// names (`-w`, `-v`), in the child before exec (setenv), and per round of a drain (reading /proc).
// Resident memory as PID 1 went down with it (80 kB -> 64 kB on x86_64: no heap set up).

/// Bytes before each block: its mapping's length, padded to malloc's alignment.
#[cfg(not(test))]
const HEADER: usize = 16;

/// malloc(3): a fresh anonymous mapping (zero-filled by the kernel), or null when there is no memory.
#[cfg(not(test))]
#[no_mangle]
extern "C" fn malloc(size: usize) -> *mut core::ffi::c_void {
    let Some(len) = size.checked_add(HEADER) else {
        return core::ptr::null_mut();
    };
    let (prot, flags) = (
        libc::PROT_READ | libc::PROT_WRITE,
        libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
    );
    // SAFETY: a new anonymous mapping at an address the kernel picks overlaps no memory of ours.
    let base = unsafe { libc::mmap(core::ptr::null_mut(), len, prot, flags, -1, 0) };
    if base == libc::MAP_FAILED {
        return core::ptr::null_mut();
    }
    // SAFETY: the mapping is page-aligned and at least HEADER bytes long: the length fits before the
    // block, and the block (HEADER past a page boundary) is 16-byte aligned.
    unsafe {
        base.cast::<usize>().write(len);
        base.cast::<u8>().add(HEADER).cast()
    }
}

/// free(3): unmaps a block of `malloc` (null: nothing).
#[cfg(not(test))]
#[no_mangle]
extern "C" fn free(block: *mut core::ffi::c_void) {
    if block.is_null() {
        return;
    }
    // SAFETY: `block` came from `malloc` (the only allocator linked in): its mapping starts HEADER
    // bytes before it, with the mapping's length there; nothing uses the block after free.
    unsafe {
        let base = block.cast::<u8>().sub(HEADER);
        libc::munmap(base.cast(), base.cast::<usize>().read());
    }
}

/// calloc(3): `malloc` memory is already zero-filled.
#[cfg(not(test))]
#[no_mangle]
extern "C" fn calloc(count: usize, size: usize) -> *mut core::ffi::c_void {
    match count.checked_mul(size) {
        Some(bytes) => malloc(bytes),
        None => core::ptr::null_mut(),
    }
}

/// realloc(3): a new block with the old one's bytes; the old one stays valid when that fails.
#[cfg(not(test))]
#[no_mangle]
extern "C" fn realloc(block: *mut core::ffi::c_void, size: usize) -> *mut core::ffi::c_void {
    let new = malloc(size);
    if !block.is_null() && !new.is_null() {
        // SAFETY: `block` came from `malloc` (its length HEADER bytes before it) and `new` is a
        // distinct mapping of at least `size` bytes: the copy stays inside both.
        unsafe {
            let old = block.cast::<u8>().sub(HEADER).cast::<usize>().read() - HEADER;
            core::ptr::copy_nonoverlapping(block.cast::<u8>(), new.cast::<u8>(), old.min(size));
        }
        free(block);
    }
    new
}

/// `GlobalAlloc` over the functions above, for alignments up to 16 (larger ones fail the allocation
/// instead of returning misaligned memory; reaper asks for none).
#[cfg(not(test))]
pub struct Pages;

// SAFETY: malloc/realloc/free above return distinct, 16-byte aligned blocks of at least the requested
// size, zero-filled, and reject larger alignments.
#[cfg(not(test))]
unsafe impl core::alloc::GlobalAlloc for Pages {
    unsafe fn alloc(&self, layout: core::alloc::Layout) -> *mut u8 {
        if layout.align() > HEADER {
            return core::ptr::null_mut();
        }
        malloc(layout.size()).cast()
    }
    unsafe fn alloc_zeroed(&self, layout: core::alloc::Layout) -> *mut u8 {
        self.alloc(layout) // fresh mappings are zero-filled
    }
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: core::alloc::Layout) {
        free(ptr.cast())
    }
    unsafe fn realloc(
        &self,
        ptr: *mut u8,
        layout: core::alloc::Layout,
        new_size: usize,
    ) -> *mut u8 {
        if layout.align() > HEADER {
            return core::ptr::null_mut();
        }
        realloc(ptr.cast(), new_size).cast()
    }
}

// ---------------------------------------------------------------------------------------------------
// Signal-handler support and the program entry point.

static ARGV0: core::sync::atomic::AtomicPtr<u8> =
    core::sync::atomic::AtomicPtr::new(core::ptr::null_mut());
static ARGV0_LEN: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);

/// `argv[0]` as reaper was invoked (getopt-style messages start with it); empty before `main`.
pub fn argv0() -> &'static [u8] {
    let p = ARGV0.load(core::sync::atomic::Ordering::Relaxed);
    if p.is_null() {
        return b"";
    }
    // SAFETY: set once from argv[0], a NUL-terminated string that lives until exit, with its length.
    unsafe { core::slice::from_raw_parts(p, ARGV0_LEN.load(core::sync::atomic::Ordering::Relaxed)) }
}

/// The calling thread's errno (saved by signal handlers, which must not change it).
pub fn get_errno() -> c_int {
    errno().0
}

/// Restores errno.
pub fn set_errno(value: c_int) {
    // SAFETY: __errno_location returns the calling thread's errno slot.
    unsafe { *libc::__errno_location() = value };
}

/// The C entry point: the C runtime calls it with the program's arguments (reaper has no Rust `main`,
/// so it needs no std runtime).
#[cfg(not(test))]
#[no_mangle]
extern "C" fn main(argc: c_int, argv: *const *const c_char) -> c_int {
    // SAFETY: the C runtime passes argc and a null-terminated argv that live until exit.
    let args = unsafe { Args::new(argc, argv) };
    ARGV0.store(
        args.get(0).as_ptr().cast_mut(),
        core::sync::atomic::Ordering::Relaxed,
    );
    ARGV0_LEN.store(args.get(0).len(), core::sync::atomic::Ordering::Relaxed);
    crate::start(args)
}
