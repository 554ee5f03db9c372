//! A fork bomb at `pids.max` under reaper as PID 1: the bomb really hits the limit (the
//! cgroup's `pids.events` counts refused forks), every one of its orphans is reaped (zero zombies
//! while PROGRAM still runs, only the three expected processes left in the cgroup), and reaper
//! still forwards SIGTERM and exits with PROGRAM's status afterwards.
//!
//! The cgroup is a pids cgroup of whichever hierarchy the machine has: the v1 `pids` controller
//! at /sys/fs/cgroup/pids, else the v2 root at /sys/fs/cgroup with `pids` enabled for its children.
//! The test prints which one ran.
use integration::{poll_until, reaper_bin, tool, wait_file, zombies, Init, Mode, TempDir};
use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::time::Duration;

const PIDS_MAX: u32 = 200;

/// The bomb, in perl (perl-base is part of every Debian system): a root process forks without
/// end until the deadline; each successful fork's parent exits half of the time, leaving its
/// child an orphan for PID 1; forks refused at pids.max are retried after 10 ms. PROGRAM itself
/// waits out the bomb, reaps its own child (the bomb's root), writes the ready file, and sleeps
/// until signalled.
const BOMB: &str = r#"
my ($secs, $ready) = @ARGV;
my $end = time + $secs;
my $root = fork;
if (defined $root && $root == 0) {
    while (time < $end) {
        my $p = fork;
        if (!defined $p) { select(undef, undef, undef, 0.01); next; }
        if ($p != 0 && rand() < 0.5) { exit 0; }
    }
    exit 0;
}
sleep $secs + 2;
waitpid($root, 0) if $root;
open(my $f, '>', $ready) or die "ready: $!";
print $f "done\n";
close $f;
sleep 600;
"#;

struct PidsCgroup {
    dir: PathBuf,
    version: &'static str,
}

impl PidsCgroup {
    fn create(name: &str) -> PidsCgroup {
        let v1 = Path::new("/sys/fs/cgroup/pids");
        let v2 = Path::new("/sys/fs/cgroup");
        let (base, version) = if v1.join("tasks").is_file() {
            (v1.to_path_buf(), "v1 (/sys/fs/cgroup/pids)")
        } else if std::fs::read_to_string(v2.join("cgroup.controllers"))
            .is_ok_and(|c| c.split_whitespace().any(|c| c == "pids"))
        {
            std::fs::write(v2.join("cgroup.subtree_control"), "+pids")
                .expect("enable the pids controller for the root's children");
            (v2.to_path_buf(), "v2 (/sys/fs/cgroup)")
        } else {
            panic!(
                "no pids cgroup controller: neither /sys/fs/cgroup/pids (v1) nor a v2 root listing \
                 pids in /sys/fs/cgroup/cgroup.controllers; this test needs one (run as root)"
            );
        };
        let dir = base.join(name);
        std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        std::fs::write(dir.join("pids.max"), PIDS_MAX.to_string()).unwrap();
        PidsCgroup { dir, version }
    }

    fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.dir.join(file)).unwrap_or_default()
    }

    fn procs(&self) -> Vec<i32> {
        self.read("cgroup.procs")
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    /// Forks refused at `pids.max` so far (`max N` of `pids.events`).
    fn refused(&self) -> u64 {
        self.read("pids.events")
            .lines()
            .find_map(|l| l.strip_prefix("max ")?.trim().parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for PidsCgroup {
    #[allow(unsafe_code)] // kill of the cgroup's processes: libc calls std does not wrap
    fn drop(&mut self) {
        for pid in self.procs() {
            // SAFETY: plain kill of processes this test put in its own cgroup.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        poll_until(Duration::from_secs(10), || {
            std::fs::remove_dir(&self.dir).is_ok()
        });
    }
}

#[test]
#[allow(unsafe_code)] // moving the child into the cgroup before exec: libc calls std does not wrap
fn fork_bomb_at_pids_max_leaves_no_zombie() {
    let perl = tool("perl");
    let name = format!("reaper-forkbomb-{}", std::process::id());
    let cg = PidsCgroup::create(&name);
    eprintln!(
        "fork bomb in a {} pids cgroup, pids.max={PIDS_MAX}",
        cg.version
    );
    let dir = TempDir::new("forkbomb");
    let ready = dir.file("ready");
    let procs = CString::new(
        cg.dir
            .join("cgroup.procs")
            .into_os_string()
            .into_encoded_bytes(),
    )
    .unwrap();
    let mut run = Init::reaper(Mode::Pid1)
        .arg(&perl)
        .args(["-e", BOMB, "3", &ready])
        .pre_exec(move || {
            // Moves this process (unshare, then reaper and everything below) into the cgroup.
            // SAFETY: open/write/close of a NUL-terminated path: async-signal-safe.
            unsafe {
                let fd = libc::open(procs.as_ptr(), libc::O_WRONLY);
                if fd < 0 || libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(fd);
            }
            Ok(())
        })
        .spawn();
    wait_file(&ready, Duration::from_secs(120));
    let refused = cg.refused();
    assert!(
        refused > 0,
        "the bomb never reached pids.max={PIDS_MAX} (pids.events: {})",
        cg.read("pids.events")
    );
    // The bomb is over: only unshare, reaper and PROGRAM may be left, none a zombie.
    let mut last = (Vec::new(), Vec::new());
    let settled = poll_until(Duration::from_secs(60), || {
        let procs = cg.procs();
        let z = zombies(&run.processes());
        let done = procs.len() == 3 && z.is_empty();
        last = (procs, z);
        done
    });
    assert!(
        settled,
        "after the bomb: cgroup processes {:?}, zombies {:?} (reaper {}): {}",
        last.0,
        last.1,
        reaper_bin().display(),
        run.tree_report()
    );
    eprintln!("forks refused at pids.max: {refused}; zombies left: 0");
    run.signal(libc::SIGTERM);
    let out = run.wait(Duration::from_secs(60));
    out.assert_code(128 + libc::SIGTERM);
}
