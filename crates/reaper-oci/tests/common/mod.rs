//! Shared by the podman and dockerd tests of the wrapper: the installed wrapper (reaper-oci with the
//! static reaper beside it, the default place it looks), the incident-2 probe loop, and the
//! `zombies` tool's view of a container.
#![allow(dead_code)]

use e2e::*;
use std::collections::HashSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;

/// The injected init's path in the container.
pub const INIT: &str = "/dev/.reaper-init";

/// reaper-oci and reaper copied side by side into a temporary directory, as a package installs them:
/// the wrapper finds reaper beside itself (engines do not pass the environment through to it).
pub struct Installed {
    dir: TempDir,
}

impl Installed {
    pub fn new() -> Installed {
        let dir = TempDir::new("oci-install");
        // World-readable and -searchable: the runtime mounts reaper from here.
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        fs::copy(
            env!("CARGO_BIN_EXE_reaper-oci"),
            dir.path().join("reaper-oci"),
        )
        .unwrap();
        fs::copy(reaper_bin(), dir.path().join("reaper")).unwrap();
        for f in ["reaper-oci", "reaper"] {
            fs::set_permissions(dir.path().join(f), fs::Permissions::from_mode(0o755)).unwrap();
        }
        Installed { dir }
    }

    /// The wrapper's path, to give an engine as its runtime.
    pub fn wrapper(&self) -> PathBuf {
        self.dir.path().join("reaper-oci")
    }

    /// The reaper it injects.
    pub fn reaper(&self) -> PathBuf {
        self.dir.path().join("reaper")
    }
}

/// Number of probes of the incident-2 loop.
pub const PROBES: usize = 30;

/// One exec probe that leaves an orphan: it backgrounds a long sleep (output detached, so the exec
/// returns as soon as the probe's shell exits) and exits. The sleep is orphaned onto the container's
/// PID 1.
pub const PROBE: &str = "sleep 600 </dev/null >/dev/null 2>&1 & exit 0";

/// The incident-2 loop: runs [`PROBES`] probes through `exec` (one `podman exec`/`docker exec`
/// command per probe), waits until every probe's sleep has been orphaned onto PID 1 of the
/// namespace of host pid `pid1`, then ends them all (SIGTERM from the host) and returns their host
/// pids. What becomes of them is for the caller to check: reaped, or zombies of PID 1.
pub fn probe_loop(pid1: i32, mut exec: impl FnMut() -> Command) -> Vec<i32> {
    let before: HashSet<i32> = procs_in_pidns_of(pid1).iter().map(|p| p.host_pid).collect();
    for k in 1..=PROBES {
        let out = run(exec().args(["sh", "-c", PROBE]), CMD_TIMEOUT);
        assert!(out.status.success(), "probe {k} failed\n{}", out.describe());
    }
    let helpers = poll(
        &format!("{PROBES} probe sleeps orphaned onto PID 1"),
        POLL_TIMEOUT,
        || {
            let procs = procs_in_pidns_of(pid1);
            let h: Vec<i32> = procs
                .iter()
                .filter(|p| {
                    p.comm == "sleep"
                        && p.state != 'Z'
                        && p.ns_ppid == 1
                        && p.cmdline == "sleep 600"
                        && !before.contains(&p.host_pid)
                })
                .map(|p| p.host_pid)
                .collect();
            if h.len() == PROBES {
                Ok(h)
            } else {
                Err(format!("{} of {PROBES}\n{}", h.len(), table(&procs)))
            }
        },
    );
    for h in &helpers {
        must(Command::new("kill").args(["-TERM", &h.to_string()]));
    }
    helpers
}

/// The static `zombies` binary: `$ZOMBIES_STATIC_BIN` (scripts/test.sh sets it), else the musl
/// release build in the workspace's target directory.
pub fn zombies_bin() -> PathBuf {
    let p = match std::env::var_os("ZOMBIES_STATIC_BIN") {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace_root().join("target"))
            .join("x86_64-unknown-linux-musl/release/zombies"),
    };
    assert!(
        p.is_file(),
        "no zombies binary at {}: run `export ZOMBIES_STATIC_BIN=$(scripts/build-zombies.sh)` \
         (scripts/test.sh does)",
        p.display()
    );
    p
}

/// How many zombies `zombies --json` attributes to the parent with host pid `pid1` (0 when it lists
/// no group for it).
pub fn zombies_reported_under(pid1: i32) -> u64 {
    let out = run(Command::new(zombies_bin()).arg("--json"), CMD_TIMEOUT);
    let v: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("zombies --json printed no JSON ({e})\n{}", out.describe()));
    v["groups"]
        .as_array()
        .unwrap_or_else(|| panic!("no groups in zombies --json\n{}", out.describe()))
        .iter()
        .find(|g| g["parent"]["pid"] == pid1)
        .map_or(0, |g| g["zombie_count"].as_u64().unwrap_or(0))
}

/// The command line of PID 1 of the namespace of host pid `pid`.
pub fn pid1_cmdline(pid: i32) -> String {
    procs_in_pidns_of(pid)
        .into_iter()
        .find(|p| p.ns_pid == 1)
        .map(|p| p.cmdline)
        .unwrap_or_default()
}

/// Checks that the container of host pid `pid1` runs the workload `cmd` under the injected reaper:
/// PID 1 is `/dev/.reaper-init [OPTIONS] -- cmd`, it is the reaper binary, the workload its child.
pub fn assert_wrapped(pid1: i32, cmd: &str) {
    let procs = wait_procs(pid1, "the workload to start under reaper", |procs| {
        procs
            .iter()
            .any(|p| p.ns_pid != 1 && p.ns_ppid == 1 && p.cmdline == cmd)
    });
    let p1 = procs.iter().find(|p| p.ns_pid == 1).expect("a PID 1");
    assert!(
        p1.host_pid == pid1
            && p1.cmdline.starts_with(INIT)
            && p1.cmdline.ends_with(&format!("-- {cmd}")),
        "PID 1 should be `{INIT} ... -- {cmd}`\n{}",
        table(&procs)
    );
    assert!(
        is_reaper(pid1),
        "PID 1 should be the reaper binary\n{}",
        table(&procs)
    );
}
