//! The PID-1 core: spawn, forward, reap, drain, exit.
//!
//! Two phases, each with the waiting primitive that suits it:
//!
//! * **Run** (PROGRAM alive): signals are unblocked and each forwarded signal runs [`on_signal`], which
//!   sends it on at once (`kill` is async-signal-safe) and returns; `SA_RESTART` resumes the wait. The
//!   loop itself is a blocking `wait4(-1)`: one system call per reaped process, and no SIGCHLD to lose
//!   or coalesce (catatonit#4/#5 hung on that), no timer.
//! * **Drain / pause** (PROGRAM gone, or never started): every signal is blocked and taken
//!   synchronously with `sigtimedwait`, which also carries the grace deadline without a race.

use crate::config::{Config, Forward, Subreaper};
use crate::out::{self, Line};
use crate::persona::{emit, Event, Persona};
use crate::signals::{
    self, BLOCKABLE, FORWARDED, SIGCHLD, SIGCONT, SIGHUP, SIGINT, SIGKILL, SIGPIPE, SIGSTOP,
    SIGTERM, SYNCHRONOUS,
};
use crate::sys::{self, Disposition, Exit, SigSet, Wait};
use crate::{own, registry};
use crate::{spawn, user};
use alloc::vec::Vec;
use core::sync::atomic::{
    AtomicBool, AtomicI32, AtomicU64, AtomicU8, AtomicUsize, Ordering::Relaxed,
};

// ---------------------------------------------------------------------------------------------------
// What the signal handler knows: set before handlers are installed, read-only afterwards (but for the
// one-shot swallow bits).

/// Where to forward (pid, or -pgid for a group; 0 before the child exists).
static TARGET: AtomicI32 = AtomicI32::new(0);
/// `REWRITE[n]`: the signal sent when `n` arrives (0: drop).
static REWRITE: [AtomicU8; 65] = [const { AtomicU8::new(0) }; 65];
/// Signals to swallow once (the TTY hand-off's SIGHUP and SIGCONT, dumb-init#136).
static SWALLOW: AtomicU64 = AtomicU64::new(0);
/// Stop reaper too after forwarding SIGTSTP/SIGTTIN/SIGTTOU, whatever they became (session mode and
/// dumb-init: a shell's job control then sees its job, reaper included, stop).
static STOP_SELF: AtomicBool = AtomicBool::new(false);
/// For logging from the handler.
static PERSONA: AtomicUsize = AtomicUsize::new(0);
static VERBOSITY: AtomicU8 = AtomicU8::new(0);

fn handler_persona() -> &'static Persona {
    registry::ALL
        .get(PERSONA.load(Relaxed))
        .copied()
        .unwrap_or(&own::REAPER)
}

/// Sends `sig`, as rewritten, to `target` (0: to nobody) and says so. Async-signal-safe.
fn forward(p: &Persona, v: u8, sig: i32, target: i32) {
    let to = REWRITE.get(sig as usize).map_or(0, |r| r.load(Relaxed)) as i32;
    if to != 0 && target != 0 {
        let _ = sys::kill(target, to);
    }
    emit(
        p,
        v,
        &Event::Forwarded {
            sig: to,
            from: sig,
            to: target,
        },
    );
}

/// Runs in signal context for every forwarded signal: async-signal-safe calls only (kill, write).
extern "C" fn on_signal(sig: i32, info: &libc::siginfo_t, _: *mut core::ffi::c_void) {
    let saved = sys::get_errno();
    if !sys::sent_by_other(info) && (sig == SIGPIPE || SYNCHRONOUS.has(sig)) {
        // Raised for reaper's own action, not sent: never PROGRAM's. SIGPIPE comes from a log write
        // to a closed pipe (the write fails with EPIPE and the line is counted as dropped). A fault
        // keeps its default action: back to the default, the faulting instruction runs again and the
        // kernel kills reaper; a raise() of our own is repeated.
        if sig != SIGPIPE {
            let _ = sys::set_disposition(sig, Disposition::Default);
            if info.si_code <= 0 {
                let _ = sys::kill(sys::getpid(), sig);
            }
        }
        return sys::set_errno(saved);
    }
    let (p, v) = (handler_persona(), VERBOSITY.load(Relaxed));
    if sig == SIGCHLD {
        // Only caught to be said (dumb-init's debug output): reaping is the loop's.
        emit(p, v, &Event::Received { sig });
        return sys::set_errno(saved);
    }
    let bit = SigSet::of(sig).0;
    emit(p, v, &Event::Received { sig });
    if SWALLOW.fetch_and(!bit, Relaxed) & bit != 0 {
        emit(p, v, &Event::Swallowed { sig });
    } else {
        // The target's number is ours only while PROGRAM is unreaped: once the loop has reaped it
        // (and before it clears TARGET) the number may already name another process. The handler
        // cannot run in the middle of the reaping wait, so the check cannot go stale before the kill.
        let target = TARGET.load(Relaxed);
        if target != 0 && sys::unreaped(target.abs()) {
            forward(p, v, sig, target);
        }
        // A stop signal discards a pending SIGCONT: if one came in while we ran, do not stop.
        let job_control =
            sig == signals::SIGTSTP || sig == signals::SIGTTIN || sig == signals::SIGTTOU;
        if job_control && STOP_SELF.load(Relaxed) && !sys::sigpending().has(SIGCONT) {
            let _ = sys::kill(sys::getpid(), SIGSTOP);
        }
    }
    sys::set_errno(saved);
}

// ---------------------------------------------------------------------------------------------------

/// Counts reaped orphans, and their names when asked to.
struct Orphans {
    count: u64,
    /// Read each orphan's name before releasing it (`-w`, `-v`): costs a `waitid` and a /proc read.
    naming: bool,
    /// Each name seen (at most 256) and how many orphans had it.
    names: Vec<(Comm, u64)>,
}

/// A process name as `/proc/PID/comm` gives it: at most 15 bytes, never a NUL; stored in place
/// (zero-padded) so that the table of names is one allocation.
#[derive(PartialEq)]
struct Comm([u8; 16]);

impl Comm {
    fn new(name: &[u8]) -> Comm {
        let mut c = Comm([0; 16]);
        let n = name.len().min(16);
        c.0[..n].copy_from_slice(&name[..n]);
        c
    }
    fn as_bytes(&self) -> &[u8] {
        let n = self.0.iter().position(|&b| b == 0).unwrap_or(16);
        &self.0[..n]
    }
}

impl Orphans {
    fn note(&mut self, name: &[u8]) {
        self.count += 1;
        if !self.naming {
            return;
        }
        let name = Comm::new(name);
        if let Some(e) = self.names.iter_mut().find(|(n, _)| *n == name) {
            e.1 += 1;
        } else if self.names.len() < 256 {
            self.names.push((name, 1));
        }
    }
}

/// The running core.
struct Core<'a> {
    persona: &'static Persona,
    cfg: &'a Config,
    pid1: bool,
    main: i32,
    orphans: Orphans,
}

impl Core<'_> {
    fn emit(&self, ev: &Event) {
        emit(self.persona, self.cfg.verbosity, ev);
    }

    fn fatal(&self, what: &str, err: sys::Errno) -> ! {
        self.emit(&Event::Failed { what, err });
        sys::exit(self.persona.codes.fatal)
    }

    /// Reaps one exited child. With `block` it waits for one; else it returns `Wait::Nothing` at once
    /// when none has exited. Orphans are counted (and named and logged, when asked).
    fn reap(&mut self, block: bool) -> Wait {
        let mut comm = [0u8; 64];
        let mut name: &[u8] = &[];
        let mut pid = -1;
        if self.orphans.naming {
            // Find the exited child without releasing it: its name is gone once it is reaped.
            match sys::peek_exited(!block).unwrap_or_else(|e| self.fatal("waitid", e)) {
                Wait::Reaped(p, _) => pid = p,
                other => return other,
            }
            if pid != self.main {
                name = read_comm(pid, &mut comm);
            }
        }
        let w = sys::wait(pid, !block).unwrap_or_else(|e| self.fatal("wait", e));
        if let Wait::Reaped(pid, exit) = w {
            self.emit(&Event::ChildReaped { pid, exit });
            if pid != self.main {
                self.orphans.note(name);
                if self.cfg.warn_reaped {
                    self.emit(&Event::Reaped { pid, name, exit });
                }
            }
        }
        w
    }

    /// Reaps everything that has exited; false when no child is left at all.
    fn reap_exited(&mut self) -> bool {
        loop {
            match self.reap(false) {
                Wait::NoChildren => return false,
                Wait::Nothing => return true,
                Wait::Reaped(..) => {}
            }
        }
    }

    /// Sends `sig` to every remaining process (as PID 1: the namespace; else: our descendants).
    /// Returns how many there were.
    fn signal_remaining(&self, sig: i32) -> usize {
        if self.pid1 {
            let _ = sys::kill(-1, sig); // every process of the namespace but us, in one call
            let mut count = 0;
            let _ = sys::for_each_dir_entry(c"/proc", |name| {
                count += usize::from(name.first().is_some_and(u8::is_ascii_digit));
            });
            count.saturating_sub(1)
        } else {
            let tree = descendants(sys::getpid());
            for &pid in &tree {
                let _ = sys::kill(pid, sig);
            }
            tree.len()
        }
    }

    /// PROGRAM is gone (or pause mode was told to stop): end every remaining process, gracefully
    /// first, and reap them all. Signals are blocked from here on and taken by `sigtimedwait`.
    fn drain(&mut self) {
        sys::set_sigmask(BLOCKABLE);
        if !self.reap_exited() || !self.cfg.drain {
            return; // nothing left (the common case: no delay at all), or tini's exit-at-once policy
        }
        let (sig, grace_ms) = (self.cfg.drain_signal, self.cfg.grace_ms);
        let count = self.signal_remaining(sig);
        self.emit(&Event::Draining {
            count,
            sig,
            grace_ms,
        });
        let mut deadline = sys::now_ms().saturating_add(grace_ms);
        let mut killing = false;
        let mut next_kill = 0;
        while self.reap_exited() {
            let now = sys::now_ms();
            if now >= deadline && now >= next_kill {
                // SIGKILL, and again every 100 ms while processes remain: a process forked just
                // before its parent died may have escaped the previous round.
                let count = self.signal_remaining(SIGKILL);
                if !killing {
                    self.emit(&Event::Killing { count });
                    killing = true;
                }
                next_kill = now + 100;
            }
            let wake = if killing { next_kill } else { deadline };
            match sys::sigtimedwait(BLOCKABLE, Some(wake.saturating_sub(now))) {
                // Told to stop while draining: no more grace.
                Ok(Some(SIGTERM | SIGINT)) => deadline = now,
                Ok(_) => {} // SIGCHLD, a deadline, or a signal with nobody left to forward it to
                Err(e) => self.fatal("sigtimedwait", e),
            }
        }
    }

    /// At exit: how many orphans, and which names were commonest.
    fn summary(&self) {
        if self.orphans.count == 0 {
            return;
        }
        // The three commonest names, by selection (a sort would cost more code than the whole loop).
        let mut top: Vec<(&[u8], u64)> = Vec::new();
        let mut names: Vec<(&[u8], u64)> = self
            .orphans
            .names
            .iter()
            .map(|(n, c)| (n.as_bytes(), *c))
            .collect();
        while top.len() < 3 {
            let Some(best) = (0..names.len()).max_by_key(|&i| names[i].1) else {
                break;
            };
            top.push(names.swap_remove(best));
        }
        self.emit(&Event::Summary {
            count: self.orphans.count,
            top: &top,
        });
    }

    fn exit(&self, code: i32) -> ! {
        self.summary();
        out::report_drops();
        sys::exit(code)
    }
}

/// Reads the /proc file `path` (bytes, no NUL) into `buf`; returns what was read (empty when
/// unreadable: the process may be gone).
fn read_proc<'b>(path: &Line, buf: &'b mut [u8]) -> &'b [u8] {
    let mut cpath = [0u8; 64];
    let p = path.as_bytes();
    let n = p.len().min(cpath.len() - 1);
    cpath[..n].copy_from_slice(&p[..n]);
    let Ok(c) = core::ffi::CStr::from_bytes_until_nul(&cpath) else {
        return &[];
    };
    let len = sys::Fd::open(c).and_then(|fd| fd.read(buf)).unwrap_or(0);
    &buf[..len]
}

/// `/proc/PID/comm` without its newline (empty when unreadable).
fn read_comm(pid: i32, buf: &mut [u8; 64]) -> &[u8] {
    let mut path = Line::new();
    path.s("/proc/").n(pid as i64).s("/comm");
    let name = read_proc(&path, buf);
    name.strip_suffix(b"\n").unwrap_or(name)
}

/// Every descendant of `root`, found through `/proc/PID/task/TID/children`: the cost grows with our
/// own tree, not with the host's process count.
fn descendants(root: i32) -> Vec<i32> {
    let mut tree = Vec::new();
    tree.push(root);
    let mut buf = alloc::vec![0u8; 64 * 1024];
    let mut i = 0;
    while i < tree.len() {
        let pid = tree[i];
        let mut dir = Line::new();
        dir.s("/proc/").n(pid as i64).s("/task\0");
        let Ok(task_dir) = core::ffi::CStr::from_bytes_until_nul(dir.as_bytes()) else {
            break;
        };
        let _ = sys::for_each_dir_entry(task_dir, |tid| {
            let mut path = Line::new();
            path.s("/proc/")
                .n(pid as i64)
                .s("/task/")
                .b(tid)
                .s("/children");
            let children = read_proc(&path, &mut buf);
            let parsed = children
                .split(|&c| c == b' ')
                .filter_map(|f| signals::parse_uint(f, i32::MAX as u64));
            tree.extend(parsed.map(|p| p as i32));
        });
        i += 1;
    }
    tree.remove(0);
    tree
}

/// Runs reaper with `cfg`; never returns.
pub fn run(persona: &'static Persona, cfg: &Config, args: &sys::Args) -> ! {
    let inherited_mask = sys::sigmask();
    out::open_log();
    // Block every signal while we set up: what arrives now is delivered once the handlers exist.
    sys::set_sigmask(BLOCKABLE);
    let mut core = Core {
        persona,
        cfg,
        pid1: sys::getpid() == 1,
        main: 0,
        orphans: Orphans {
            count: 0,
            naming: cfg.warn_reaped || cfg.verbosity >= 2,
            names: Vec::new(),
        },
    };
    core.become_reaper();
    // A parent may have left SIGCHLD ignored: the kernel would then reap for us and lose statuses.
    // The child gets the inherited "ignored" back before exec.
    let chld_ignored = sys::is_ignored(SIGCHLD);
    let _ = sys::set_disposition(SIGCHLD, Disposition::Default);
    if cfg.pause {
        pause(core);
    }
    let identity = core.resolve_user();
    let foreground = take_terminal(persona, cfg);
    let child = spawn::spawn(
        persona,
        cfg,
        args,
        identity.as_ref(),
        inherited_mask,
        chld_ignored,
        foreground,
    )
    .unwrap_or_else(|e| core.fatal("fork", e));
    core.main = child;
    core.emit(&Event::Spawned {
        pid: child,
        prog: args.get(cfg.program),
    });
    hygiene(&core);
    if cfg.forward != Forward::Session {
        let _ = sys::setpgid(child, child); // also done by the child; whoever runs first wins the race
        if foreground {
            let _ = sys::tcsetpgrp(0, child);
        }
    }
    arm_forwarding(&core, child, foreground);

    // Run: block in wait4 until PROGRAM exits, reaping every orphan on the way. Signals are forwarded
    // by the handler meanwhile, and the wait resumes (SA_RESTART).
    let status = loop {
        match core.reap(true) {
            Wait::Reaped(pid, exit) if pid == child => break exit,
            // Cannot happen while PROGRAM, our child, has not been reaped.
            Wait::NoChildren => break Exit::Code(persona.codes.fatal),
            _ => {}
        }
    };
    TARGET.store(0, Relaxed);
    if cfg.term_group_on_exit {
        // dumb-init: the rest of PROGRAM's group is told to go too (SIGTERM as rewritten), and it says
        // so as dumb-init does, before its goodbye.
        // With -c it would signal a reaped pid: reaper only says it.
        let group = if cfg.forward == Forward::Session {
            -child
        } else {
            0
        };
        forward(persona, cfg.verbosity, SIGTERM, group);
    }
    core.emit(&Event::ProgramExited { exit: status });
    core.drain();
    let code = match status {
        Exit::Code(c) => c,
        Exit::Signal(s) => 128 + s,
    };
    core.exit(cfg.exit_code(code))
}

impl Core<'_> {
    /// Parent-death signal; outside PID 1, subreaper registration so that orphans come to us (they go
    /// to the nearest subreaper ancestor in the namespace).
    fn become_reaper(&self) {
        let cfg = self.cfg;
        if cfg.pdeathsig != 0 {
            if let Err(e) = sys::prctl(libc::PR_SET_PDEATHSIG, cfg.pdeathsig as libc::c_ulong) {
                self.fatal("prctl(PR_SET_PDEATHSIG)", e);
            }
        }
        if self.pid1 {
            return;
        }
        let subreaper = match cfg.subreaper {
            // The bit survives exec: a parent that set it for us counts (tini checks the same).
            Subreaper::Off if sys::is_child_subreaper() => Ok(()),
            Subreaper::Off => Err(sys::Errno(libc::EPERM)),
            Subreaper::Auto | Subreaper::Required => {
                sys::prctl(libc::PR_SET_CHILD_SUBREAPER, 1).map(|_| ())
            }
        };
        if let (Err(err), Subreaper::Required) = (subreaper, cfg.subreaper) {
            self.fatal("prctl(PR_SET_CHILD_SUBREAPER)", err);
        }
        self.emit(&Event::NotPid1 { subreaper });
    }

    /// `--user`, resolved before the fork so that a bad name is reported once, by reaper.
    fn resolve_user(&self) -> Option<user::Identity> {
        let spec = self.cfg.user?;
        user::resolve(spec)
            .map_err(|e| {
                let err = crate::config::UsageError {
                    what: b"--user",
                    value: spec,
                    reason: e.text(),
                };
                self.emit(&Event::Usage(&err));
                sys::exit(self.persona.codes.usage)
            })
            .ok()
    }
}

/// The terminal: whether the child gets our foreground (we hold it and keep our group); in session
/// mode, a session leader lets go of its terminal so that the child's new session can take it.
fn take_terminal(persona: &Persona, cfg: &Config) -> bool {
    if cfg.forward != Forward::Session {
        return sys::tcgetpgrp(0) == Some(sys::getpgrp()); // never take a foreground we do not hold
    }
    let detached = sys::detach_tty(0);
    let leader = sys::getsid() == sys::getpid();
    if detached.is_ok() && leader {
        // Detaching a session leader makes the kernel send SIGHUP and SIGCONT: not meant for the child.
        SWALLOW.store(SigSet::of(SIGHUP).with(SIGCONT).0, Relaxed);
    }
    emit(
        persona,
        cfg.verbosity,
        &Event::Detached(detached.map(|_| leader)),
    );
    false
}

/// Fills the handler's tables, installs it for every forwarded signal, and unblocks signals.
fn arm_forwarding(core: &Core, child: i32, foreground: bool) {
    let cfg = core.cfg;
    for (n, r) in REWRITE.iter().enumerate() {
        r.store(cfg.rewrite[n], Relaxed);
    }
    if cfg.forward == Forward::Session {
        for sig in [signals::SIGTSTP, signals::SIGTTIN, signals::SIGTTOU] {
            if !cfg.rewritten.has(sig) {
                REWRITE[sig as usize].store(SIGSTOP as u8, Relaxed);
            }
        }
    }
    // Not as PID 1: the kernel ignores a self-stop there, yet would still discard a pending SIGCONT
    // meant for the job.
    STOP_SELF.store(cfg.stop_with_job && !core.pid1, Relaxed);
    let persona = registry::ALL
        .iter()
        .position(|p| core::ptr::eq(*p, core.persona));
    PERSONA.store(persona.unwrap_or(0), Relaxed);
    VERBOSITY.store(cfg.verbosity, Relaxed);
    TARGET.store(
        if cfg.forward == Forward::Child {
            child
        } else {
            -child
        },
        Relaxed,
    );
    let mut handled = FORWARDED;
    if cfg.forward_sync {
        handled = handled.with_all(SYNCHRONOUS);
    }
    if cfg.log_chld {
        handled = handled.with(SIGCHLD);
    }
    // SIGTERM last: tests (and people) may take a caught SIGTERM as "ready for signals".
    for sig in (1..=64)
        .filter(|&s| handled.has(s) && s != SIGTERM)
        .chain([SIGTERM])
    {
        let ttio = sig == signals::SIGTTIN || sig == signals::SIGTTOU;
        let what = if (foreground && ttio) || cfg.ignored.has(sig) {
            Disposition::Ignore // we may write to the terminal from the background now; or the persona's
        } else {
            Disposition::Handle(on_signal)
        };
        if let Err(e) = sys::set_disposition(sig, what) {
            core.fatal("sigaction", e);
        }
    }
    sys::set_sigmask(SigSet(0));
}

/// Pause mode: no child; reap whatever lands on us until told to stop.
fn pause(mut core: Core) -> ! {
    hygiene(&core);
    // Sent synchronous signals are ignored like any other; a fault still kills (see on_signal).
    for sig in (1..=31).filter(|&s| SYNCHRONOUS.has(s)) {
        let _ = sys::set_disposition(sig, Disposition::Handle(on_signal));
    }
    loop {
        core.reap_exited();
        match sys::sigtimedwait(BLOCKABLE, None) {
            Ok(Some(sig @ (SIGINT | SIGTERM))) => {
                core.emit(&Event::Shutdown { sig });
                core.drain();
                core.exit(0);
            }
            Ok(_) => {} // SIGCHLD: reap; anything else is ignored, as pause does
            Err(e) => core.fatal("sigtimedwait", e),
        }
    }
}

/// What reaper does to itself (never to the child): leave the caller's directory, so that it pins no
/// mount (catatonit#28), and close inherited descriptors, so that it keeps no pipe open (catatonit#12).
fn hygiene(core: &Core) {
    let _ = sys::chdir(c"/");
    if let Err(e) = sys::close_from_3(out::log_fd()) {
        core.emit(&Event::Failed {
            what: "close_range",
            err: e,
        });
    }
}
