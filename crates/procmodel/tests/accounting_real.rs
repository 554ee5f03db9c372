//! procmodel::accounting against a full scan on the real node: real zombies in real test-made
//! cgroups of the v1 `pids` hierarchy (needs root and `/sys/fs/cgroup/pids`; a missing
//! hierarchy fails loudly). Per-cgroup counts must be equal; the node totals equal within a small
//! tolerance for processes other programs create and reap between the two reads.

use procmodel::accounting::{self, Reader};
use procmodel::{scan, CgroupVersion, Detail, ScanConfig};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A forked child that moves itself into `cgroup`, makes `n` zombie children (does not wait for
/// them), says so on a pipe, and on drop (end of its control pipe) reaps them and exits.
// This test forks a child that must only make async-signal-safe libc calls: std cannot express that.
#[allow(unsafe_code)]
struct Leaker {
    pid: i32,
    ctl: libc::c_int,
}

#[allow(unsafe_code)]
impl Leaker {
    fn new(cgroup: &Path, n: usize) -> Leaker {
        let procs = std::ffi::CString::new(cgroup.join("cgroup.procs").to_str().unwrap()).unwrap();
        let mut fds = [0; 2];
        let mut ctl = [0; 2];
        // SAFETY: `fds` is a valid array of two c_ints for pipe2 to fill.
        assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        // SAFETY: as above, for `ctl`.
        assert_eq!(unsafe { libc::pipe2(ctl.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        // SAFETY: the child only calls async-signal-safe functions before _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            // SAFETY: in the forked child only async-signal-safe calls follow, on descriptors and
            // buffers it owns (`procs` is a valid C string), and it leaves by _exit.
            unsafe {
                // Only our two pipe ends stay open: a later leaker must not hold an earlier
                // one's control pipe (its end of file is the order to exit).
                for fd in 3..4096 {
                    if fd != fds[1] && fd != ctl[0] {
                        libc::close(fd);
                    }
                }
                let fd = libc::open(procs.as_ptr(), libc::O_WRONLY);
                if fd < 0 || libc::write(fd, b"0".as_ptr() as *const libc::c_void, 1) != 1 {
                    libc::_exit(3);
                }
                libc::close(fd);
                for _ in 0..n {
                    if libc::fork() == 0 {
                        libc::_exit(0);
                    }
                }
                libc::close(ctl[1]);
                libc::write(fds[1], b"x".as_ptr() as *const libc::c_void, 1);
                let mut b = [0u8; 1];
                while libc::read(ctl[0], b.as_mut_ptr() as *mut libc::c_void, 1) != 0
                    && *libc::__errno_location() == libc::EINTR
                {}
                while libc::waitpid(-1, std::ptr::null_mut(), 0) > 0 {}
                libc::_exit(0);
            }
        }
        // SAFETY: closing this process's own pipe ends, used no more.
        unsafe {
            libc::close(fds[1]);
            libc::close(ctl[0]);
        }
        let mut b = [0u8; 1];
        // SAFETY: `b` is a valid 1-byte buffer.
        let r = unsafe { libc::read(fds[0], b.as_mut_ptr() as *mut libc::c_void, 1) };
        // SAFETY: our own pipe end, used no more.
        unsafe { libc::close(fds[0]) };
        assert_eq!(r, 1, "leaker {pid} failed to start in {}", cgroup.display());
        Leaker { pid, ctl: ctl[1] }
    }
}

#[allow(unsafe_code)]
impl Drop for Leaker {
    fn drop(&mut self) {
        // SAFETY: closes our own control pipe end and reaps our own child; a null status is allowed.
        unsafe {
            libc::close(self.ctl);
            libc::waitpid(self.pid, std::ptr::null_mut(), 0);
        }
    }
}

/// Test-made cgroups, removed deepest first.
struct Cgroups(Vec<PathBuf>);

impl Drop for Cgroups {
    fn drop(&mut self) {
        for d in self.0.iter().rev() {
            let deadline = Instant::now() + Duration::from_secs(5);
            while d.exists() && std::fs::remove_dir(d).is_err() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

fn zombies_in_cgroup(snap: &procmodel::Snapshot, path: &str) -> u64 {
    snap.zombie_processes()
        .filter(|z| z.cgroup_path() == Some(path))
        .count() as u64
}

#[test]
#[allow(unsafe_code)] // geteuid
fn accounting_equals_a_full_scan() {
    // SAFETY: geteuid has no preconditions.
    assert_eq!(unsafe { libc::geteuid() }, 0, "needs root (makes cgroups)");
    let sys = Path::new("/sys/fs/cgroup");
    let h = procmodel::pids::pids_hierarchy(sys).expect("a pids controller under /sys/fs/cgroup");
    assert_eq!(
        h.version,
        CgroupVersion::V1,
        "this test makes v1 pids cgroups"
    );
    assert!(accounting::in_initial_pid_namespace(Path::new("/proc")));
    let top = format!("procmodel-acct-{}", std::process::id());
    let base = h.base.join(&top);
    let (a, b, c) = (base.join("pod"), base.join("pod/c1"), base.join("pod/c2"));
    let dirs = Cgroups(vec![base.clone(), a.clone(), b.clone(), c.clone()]);
    for d in &dirs.0 {
        std::fs::create_dir_all(d).unwrap();
    }
    // 3 zombies in the pod cgroup itself, 5 in c1, 7 in c2 (two leakers), 0 live extra.
    let _l = [
        Leaker::new(&a, 3),
        Leaker::new(&b, 5),
        Leaker::new(&c, 4),
        Leaker::new(&c, 3),
    ];
    let rel = |p: &Path| format!("/{}", p.strip_prefix(&h.base).unwrap().display());
    let mut reader = Reader::new(Path::new("/proc"), sys);
    let cfg = ScanConfig {
        detail: Detail::Zombies,
        ..ScanConfig::default()
    };

    // The leakers' children exit on their own time: wait until all 15 are zombies.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let acct = reader.read().expect("accounting read");
        let z = acct.zombies(acct.find(&rel(&a)).unwrap());
        if z == Some(15) {
            break;
        }
        assert!(Instant::now() < deadline, "15 zombies never showed: {z:?}");
        std::thread::sleep(Duration::from_millis(50));
    }

    // The cgroups are ours and quiet: their counts must be exact. The node total moves with
    // whatever else runs: retry until an accounting read and a full scan agree within 2, with a
    // deadline.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let acct = reader.read().expect("accounting read");
        let snap = scan(&cfg).expect("full scan");
        let acct2 = reader.read().expect("accounting read");
        let z = |acc: &accounting::Accounting, p: &Path| acc.zombies(acc.find(&rel(p)).unwrap());
        for acc in [&acct, &acct2] {
            assert_eq!(z(acc, &b), Some(5), "c1");
            assert_eq!(z(acc, &c), Some(7), "c2");
            assert_eq!(z(acc, &a), Some(15), "pod subtree");
            assert_eq!(z(acc, &base), Some(15), "top");
            let pod = &acc.cgroups[acc.find(&rel(&a)).unwrap()];
            assert_eq!(
                (pod.tasks, pod.subtree_tasks, pod.current),
                (1, 4, Some(19))
            );
        }
        // The full scan attributes each zombie (v1 line `/`) by its live parent's cgroup.
        assert_eq!(zombies_in_cgroup(&snap, &rel(&b)), 5);
        assert_eq!(zombies_in_cgroup(&snap, &rel(&c)), 7);
        assert_eq!(zombies_in_cgroup(&snap, &rel(&a)), 3);
        let full = snap.zombies.len() as i64;
        let (n1, n2) = (acct.node_zombies() as i64, acct2.node_zombies() as i64);
        assert!(n1 >= 15 && n2 >= 15, "node total {n1} {n2} below ours");
        let last = format!("accounting {n1} / full {full} / accounting {n2}");
        if (n1 - full).abs() <= 2 && (n2 - full).abs() <= 2 {
            eprintln!("{last}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "node totals never agreed: {last}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
