//! The node installer: `reaper-oci-install` copies reaper-oci and the static reaper into a host root
//! and writes the engine's drop-in, idempotently; run from the installer image exactly as the
//! DaemonSet runs it (podman, a host directory mounted at /host), the installed wrapper then serves
//! as podman's runtime; the DaemonSet manifest validates against the Kubernetes schemas.

mod common;

use common::*;
use e2e::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

const INSTALLER: &str = env!("CARGO_BIN_EXE_reaper-oci-install");

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

#[test]
fn installs_binaries_and_dropins_into_a_host_root_idempotently() {
    let w = Installed::new(); // reaper-oci + static reaper side by side
    let from = w.wrapper().parent().unwrap().to_path_buf();
    let host = TempDir::new("oci-host");
    let install = |engine: &str| {
        must(
            Command::new(INSTALLER)
                .arg("--host-root")
                .arg(host.path())
                .arg(format!("--engine={engine}"))
                .arg("--from")
                .arg(&from),
        )
        .stdout
    };
    let out = install("cri-o");
    let bin = host.path().join("opt/reaper/bin");
    for name in ["reaper-oci", "reaper"] {
        assert_eq!(
            fs::read(bin.join(name)).unwrap(),
            fs::read(from.join(name)).unwrap(),
            "{name}"
        );
        assert_eq!(mode(&bin.join(name)), 0o755, "{name}");
    }
    let dropin =
        fs::read_to_string(host.path().join("etc/crio/crio.conf.d/50-reaper.conf")).unwrap();
    assert!(
        dropin.contains("[crio.runtime.runtimes.reaper]"),
        "{dropin}"
    );
    assert!(
        dropin.contains("runtime_path = \"/opt/reaper/bin/reaper-oci\""),
        "{dropin}"
    );
    assert!(
        out.contains("installed /opt/reaper/bin/reaper-oci"),
        "{out}"
    );
    // A second run changes nothing.
    let again = install("cri-o");
    assert!(
        again.contains("unchanged /opt/reaper/bin/reaper-oci")
            && again.contains("unchanged /etc/crio/crio.conf.d/50-reaper.conf"),
        "{again}"
    );
    // containerd: the drop-in, and a note when config.toml does not import the drop-in directory.
    let out = install("containerd");
    let dropin =
        fs::read_to_string(host.path().join("etc/containerd/conf.d/50-reaper.toml")).unwrap();
    assert!(
        dropin.contains("BinaryName = \"/opt/reaper/bin/reaper-oci\""),
        "{dropin}"
    );
    assert!(out.contains("imports"), "{out}");
    fs::write(
        host.path().join("etc/containerd/config.toml"),
        "version = 2\nimports = [\"/etc/containerd/conf.d/*.toml\"]\n",
    )
    .unwrap();
    assert!(!install("containerd").contains("note:"));
    // The drop-ins parse as TOML.
    for f in [
        "etc/containerd/conf.d/50-reaper.toml",
        "etc/crio/crio.conf.d/50-reaper.conf",
    ] {
        must(
            Command::new(which("python3"))
                .args([
                    "-c",
                    "import sys, tomllib; tomllib.load(open(sys.argv[1], 'rb'))",
                ])
                .arg(host.path().join(f)),
        );
    }
    // Bad usage: a clear message, exit 2; a dynamic "reaper": refused, exit 1.
    let out = run(Command::new(INSTALLER).arg("--engine=docker"), CMD_TIMEOUT);
    out.assert_refused(2, "docker");
    let bad = TempDir::new("oci-badfrom");
    fs::copy(w.wrapper(), bad.path().join("reaper-oci")).unwrap();
    fs::copy(which("sh"), bad.path().join("reaper")).unwrap();
    let out = run(
        Command::new(INSTALLER)
            .arg("--host-root")
            .arg(host.path())
            .arg("--from")
            .arg(bad.path()),
        CMD_TIMEOUT,
    );
    out.assert_refused(1, "dynamically linked");
}

/// The static reaper-oci and reaper-oci-install: `$REAPER_OCI_STATIC_DIR` (scripts/test.sh sets it
/// from scripts/build-reaper-oci.sh), else the musl release directory of the workspace.
fn static_dir() -> PathBuf {
    let dir = match std::env::var_os("REAPER_OCI_STATIC_DIR") {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace_root().join("target"))
            .join("x86_64-unknown-linux-musl/release"),
    };
    for f in ["reaper-oci", "reaper-oci-install"] {
        assert!(
            dir.join(f).is_file(),
            "no static {f} in {}: run `export REAPER_OCI_STATIC_DIR=$(scripts/build-reaper-oci.sh)` \
             (scripts/test.sh does)",
            dir.display()
        );
    }
    dir
}

#[test]
fn the_installer_image_installs_a_working_wrapper() {
    require_root();
    let images = Images::build();
    let dir = static_dir();
    // The installer image, built from images/reaper-oci/Containerfile like scripts/build-reaper-oci.sh.
    let ctx = TempDir::new("oci-img");
    for (src, name) in [
        (dir.join("reaper-oci"), "reaper-oci"),
        (dir.join("reaper-oci-install"), "reaper-oci-install"),
        (reaper_bin(), "reaper"),
    ] {
        fs::copy(src, ctx.path().join(name)).unwrap();
        fs::set_permissions(ctx.path().join(name), fs::Permissions::from_mode(0o755)).unwrap();
    }
    fs::copy(
        workspace_root().join("images/reaper-oci/Containerfile"),
        ctx.path().join("Containerfile"),
    )
    .unwrap();
    let image = format!("localhost/reaper-oci:{}", images.tag);
    let _rmi = {
        let image = image.clone();
        Defer::new(move || cleanup(podman().args(["rmi", "-f", &image])))
    };
    must(
        podman()
            .args(["build", "-q", "--network", "none", "-t", &image])
            .arg(ctx.path()),
    );

    // As the DaemonSet's init container: the node's directories mounted under /host.
    let host = TempDir::new("oci-node");
    fs::set_permissions(host.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let out = must(
        podman()
            .args(["run", "--rm", "--network", "none", "--read-only", "-v"])
            .arg(format!("{}:/host", host.path().display()))
            .arg(&image)
            .args([
                "--host-root=/host",
                "--prefix=/opt/reaper/bin",
                "--engine=containerd",
            ]),
    );
    assert!(
        out.stdout.contains("installed /opt/reaper/bin/reaper"),
        "{}",
        out.describe()
    );
    assert!(host
        .path()
        .join("etc/containerd/conf.d/50-reaper.toml")
        .is_file());

    // The installed wrapper (static, beside the static reaper) is a working runtime.
    let wrapper = host.path().join("opt/reaper/bin/reaper-oci");
    let out = must(
        podman()
            .args(["run", "--rm", "--network", "none"])
            .arg(format!("--runtime={}", wrapper.display()))
            .arg(&images.zombie_init)
            .args(["cat", "/proc/1/cmdline"]),
    );
    assert_eq!(
        out.stdout.replace('\0', " "),
        format!("{INIT} -- cat /proc/1/cmdline ")
    );

    // The DaemonSet's main container: reaper's pause mode, as a non-root user, stops at once.
    let name = unique("oci-installer-pause");
    let _c = remove_container_on_drop(&name);
    podman_run_detached(
        &name,
        &[
            "--read-only",
            "--user",
            "65535:65535",
            "--entrypoint",
            "/reaper",
            &image,
            "pause",
        ],
    );
    let pid = container_pid(&name);
    assert!(is_reaper(pid));
    // SIGTERM ends it (exit 0); 137 would be podman's SIGKILL after the 10 s timeout.
    must(podman().args(["stop", "-t", "10", &name]));
    assert_eq!(inspect(&name, "{{.State.ExitCode}}"), "0");
}

#[test]
fn the_installer_daemonset_validates_and_runs_the_installer_as_tested() {
    let ds = workspace_root()
        .join("deploy/kubernetes/components/runtime-wrapper/runtime-wrapper-installer.yaml");
    which("kubernetes-validate");
    let out = run(
        Command::new(which("python3"))
            .arg(workspace_root().join("scripts/validate-manifests.py"))
            .arg(&ds),
        CMD_TIMEOUT,
    );
    assert!(out.status.success(), "{}", out.describe());
    assert!(
        out.stdout.contains("daemonset/reaper-oci-installer"),
        "{}",
        out.describe()
    );
    let text = fs::read_to_string(&ds).unwrap();
    for want in [
        "- /reaper-oci-install",
        "- --host-root=/host",
        "- --prefix=/opt/reaper/bin",
        "- --engine=containerd",
        "mountPath: /host/opt/reaper",
        "path: /opt/reaper",
        "command: [\"/reaper\", \"pause\"]",
    ] {
        assert!(text.contains(want), "{want} missing from the DaemonSet");
    }
}
