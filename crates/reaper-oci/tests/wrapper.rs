//! The wrapper as a process, in front of a stand-in runtime (a shell script that records how it was
//! called): arguments, stdout, stderr, exit status, inherited descriptors and signal dispositions
//! pass through; `create` edits the bundle before the runtime runs, and refuses (runtime not called,
//! bundle untouched) on a bad annotation, a dynamic reaper, a missing runtime; and a wrapper killed
//! or failing in the middle of the edit (strace fault injection on the real system calls) leaves the
//! original `config.json` byte for byte.

use e2e::{must, reaper_bin, run, which, TempDir, CMD_TIMEOUT};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

const WRAPPER: &str = env!("CARGO_BIN_EXE_reaper-oci");

/// A stand-in runtime: writes its arguments (one per line), the config.json it was given, where its
/// fd 3 points, and its SigIgn/SigBlk masks into `dir/called`; prints to stdout and stderr; exits
/// with `$FAKE_RC` (default 0).
fn fake_runtime(dir: &Path) -> PathBuf {
    let p = dir.join("fake-runtime");
    fs::write(
        &p,
        r#"#!/bin/sh
out="$(dirname "$0")/called"
{ for a in "$@"; do echo "arg:$a"; done
  echo "fd3:$(readlink /proc/self/fd/3 2>/dev/null)"
  grep -E '^Sig(Ign|Blk):' /proc/self/status
  bundle=.; prev=; for a in "$@"; do [ "$prev" = --bundle ] && bundle=$a; prev=$a; done
  [ -f "$bundle/config.json" ] && echo "config:$(cat "$bundle/config.json")"
} > "$out"
echo "runtime stdout"
echo "runtime stderr" >&2
exit "${FAKE_RC:-0}"
"#,
    )
    .unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    p
}

/// A bundle with a minimal config.json (extra unknown fields included); returns the bundle dir.
fn bundle(dir: &Path, annotations: &str, args: &str) -> PathBuf {
    let b = dir.join("bundle");
    fs::create_dir_all(&b).unwrap();
    fs::write(
        b.join("config.json"),
        format!(
            r#"{{"ociVersion":"1.0.2","process":{{"args":{args},"cwd":"/"}},"root":{{"path":"rootfs"}},
"mounts":[{{"destination":"/dev","type":"tmpfs","source":"tmpfs"}}],"annotations":{annotations},
"x-vendor":{{"keep":[1,2,3]}}}}"#
        ),
    )
    .unwrap();
    b
}

fn wrapper(dir: &Path) -> Command {
    let mut c = Command::new(WRAPPER);
    c.arg("--runtime-path")
        .arg(dir.join("fake-runtime"))
        .arg("--reaper-path")
        .arg(reaper_bin())
        .env_remove("REAPER_OCI_RUNTIME")
        .env_remove("REAPER_OCI_REAPER");
    c
}

fn called(dir: &Path) -> Option<String> {
    fs::read_to_string(dir.join("called")).ok()
}

#[test]
fn every_other_command_passes_through_untouched() {
    let t = TempDir::new("oci-pass");
    fake_runtime(t.path());
    let fd3 = t.path().join("fd3-target");
    fs::write(&fd3, "x").unwrap();
    for args in [
        &["state", "ctr"][..],
        &["exec", "--process", "/p.json", "--pid-file", "/x", "ctr"],
        &["kill", "ctr", "TERM"],
        &["delete", "--force", "ctr"],
        &["features"],
        &["--version"],
        &[
            "--root",
            "/run/x",
            "--log",
            "/l",
            "no-such-command",
            "--bundle",
            "b",
        ],
    ] {
        let _ = fs::remove_file(t.path().join("called"));
        // fd 3 is opened by the shell without close-on-exec, like a preserved fd or console socket.
        let mut sh = Command::new("sh");
        sh.arg("-c")
            .arg(r#"exec 3<"$FD3"; w="$1"; shift; exec "$w" "$@""#)
            .arg("sh")
            .arg(WRAPPER)
            .arg("--runtime-path")
            .arg(t.path().join("fake-runtime"))
            .args(args)
            .env("FD3", &fd3)
            .env("FAKE_RC", "42");
        let out = run(&mut sh, CMD_TIMEOUT);
        assert_eq!(out.status.code(), Some(42), "{}", out.describe());
        assert_eq!(out.stdout, "runtime stdout\n", "{}", out.describe());
        assert_eq!(out.stderr, "runtime stderr\n", "{}", out.describe());
        let rec = called(t.path()).expect("runtime called");
        let got: Vec<&str> = rec.lines().filter_map(|l| l.strip_prefix("arg:")).collect();
        assert_eq!(got, args, "{rec}");
        assert!(
            rec.contains(&format!("fd3:{}", fd3.display())),
            "fd 3 should reach the runtime\n{rec}"
        );
    }
}

#[test]
fn signal_dispositions_and_mask_are_the_callers() {
    // What the stand-in sees when called directly, and through the wrapper, from a shell that blocks
    // nothing but ignores SIGHUP (nohup-like) — std's own SIGPIPE change must not leak.
    let t = TempDir::new("oci-sig");
    let rt = fake_runtime(t.path());
    let sh = |direct: bool| {
        let script = r#"trap '' HUP; exec "$@""#;
        let mut c = Command::new("sh");
        c.arg("-c").arg(script).arg("sh");
        if direct {
            c.arg(&rt);
        } else {
            c.arg(WRAPPER).arg("--runtime-path").arg(&rt);
        }
        must(c.arg("state").arg("x"));
        let rec = called(t.path()).unwrap();
        rec.lines()
            .filter(|l| l.starts_with("Sig"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let direct = sh(true);
    let wrapped = sh(false);
    assert!(direct.contains("SigIgn:"), "{direct}");
    assert_eq!(wrapped, direct);
}

#[test]
fn create_edits_the_bundle_before_the_runtime_runs() {
    let t = TempDir::new("oci-create");
    fake_runtime(t.path());
    let b = bundle(
        t.path(),
        r#"{"reaper.io/grace":"2s"}"#,
        r#"["/bin/sleep","9"]"#,
    );
    let out = must(
        wrapper(t.path())
            .args(["--root", "/run/x", "create", "--bundle"])
            .arg(&b)
            .args(["--pid-file", "/p", "ctr"]),
    );
    assert_eq!(out.stdout, "runtime stdout\n");
    let rec = called(t.path()).unwrap();
    let got: Vec<&str> = rec.lines().filter_map(|l| l.strip_prefix("arg:")).collect();
    let b_str = b.to_str().unwrap();
    assert_eq!(
        got,
        [
            "--root",
            "/run/x",
            "create",
            "--bundle",
            b_str,
            "--pid-file",
            "/p",
            "ctr"
        ]
    );
    // The runtime read the edited config.
    let seen = rec.lines().find_map(|l| l.strip_prefix("config:")).unwrap();
    let v: serde_json::Value = serde_json::from_str(seen).unwrap();
    assert_eq!(
        v["process"]["args"],
        serde_json::json!([
            "/dev/.reaper-init",
            "--grace",
            "2s",
            "--",
            "/bin/sleep",
            "9"
        ])
    );
    assert_eq!(v["mounts"][1]["destination"], "/dev/.reaper-init");
    assert_eq!(v["mounts"][1]["source"], reaper_bin().to_str().unwrap());
    assert_eq!(v["x-vendor"]["keep"], serde_json::json!([1, 2, 3]));
    // No temporary file left in the bundle.
    let names: Vec<String> = fs::read_dir(&b)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["config.json"]);

    // `run` with the bundle as the working directory and no --bundle: edited in place too; a second
    // create on the same bundle does not wrap twice.
    let b2 = bundle(&t.path().join("two"), "{}", r#"["sh"]"#);
    must(
        wrapper(t.path())
            .current_dir(&b2)
            .args(["run", "-d", "ctr2"]),
    );
    must(
        wrapper(t.path())
            .current_dir(&b2)
            .args(["run", "-d", "ctr2"]),
    );
    let v: serde_json::Value =
        serde_json::from_slice(&fs::read(b2.join("config.json")).unwrap()).unwrap();
    assert_eq!(
        v["process"]["args"],
        serde_json::json!(["/dev/.reaper-init", "--", "sh"])
    );
    assert_eq!(v["mounts"].as_array().unwrap().len(), 2);
}

#[test]
fn refusals_leave_the_bundle_and_never_call_the_runtime() {
    let t = TempDir::new("oci-refuse");
    fake_runtime(t.path());
    let b = bundle(
        t.path(),
        r#"{"reaper.io/grace":"soon"}"#,
        r#"["/bin/sleep","9"]"#,
    );
    let original = fs::read(b.join("config.json")).unwrap();
    let log = t.path().join("runtime.log");

    // A bad annotation: the message names it, lands in the runtime's JSON log too.
    let out = run(
        wrapper(t.path())
            .arg("--log")
            .arg(&log)
            .args(["--log-format", "json", "create", "--bundle"])
            .arg(&b)
            .arg("ctr"),
        CMD_TIMEOUT,
    );
    out.assert_refused(1, "reaper.io/grace");
    let logged = fs::read_to_string(&log).unwrap();
    let line: serde_json::Value = serde_json::from_str(logged.trim()).unwrap();
    assert_eq!(line["level"], "error");
    assert!(line["msg"].as_str().unwrap().contains("reaper.io/grace"));
    assert!(called(t.path()).is_none(), "runtime must not run");
    assert_eq!(fs::read(b.join("config.json")).unwrap(), original);

    // A dynamically linked reaper cannot start in a FROM scratch container: refused.
    let b = bundle(&t.path().join("dyn"), "{}", r#"["/bin/sleep","9"]"#);
    let original = fs::read(b.join("config.json")).unwrap();
    let out = run(
        wrapper(t.path())
            .arg("--reaper-path")
            .arg(which("sh"))
            .args(["create", "--bundle"])
            .arg(&b)
            .arg("ctr"),
        CMD_TIMEOUT,
    );
    out.assert_refused(1, "dynamically linked");
    assert!(called(t.path()).is_none());
    assert_eq!(fs::read(b.join("config.json")).unwrap(), original);

    // But a container that is left alone does not need reaper at all.
    let b = bundle(
        &t.path().join("skip"),
        r#"{"reaper.io/inject":"false"}"#,
        r#"["/bin/sleep","9"]"#,
    );
    let original = fs::read(b.join("config.json")).unwrap();
    must(
        wrapper(t.path())
            .arg("--reaper-path=/nonexistent/reaper")
            .args(["create", "--bundle"])
            .arg(&b)
            .arg("ctr"),
    );
    assert!(called(t.path()).is_some());
    assert_eq!(fs::read(b.join("config.json")).unwrap(), original);

    // A runtime that does not exist, or the wrapper itself as its own runtime.
    for (rt, want) in [
        ("/nonexistent/runc", "not found"),
        ("no-such-runtime-xyz", "not found"),
        (WRAPPER, "reaper-oci itself"),
    ] {
        let out = run(
            Command::new(WRAPPER)
                .args(["--runtime-path", rt, "state", "x"])
                .env_remove("REAPER_OCI_RUNTIME"),
            CMD_TIMEOUT,
        );
        out.assert_refused(1, want);
    }
    // The wrapper's file name `reaper-oci-NAME` names the runtime NAME (on PATH) when neither the
    // flag nor the variable does.
    let _ = fs::remove_file(t.path().join("called"));
    let link = t.path().join("reaper-oci-fake-runtime");
    std::os::unix::fs::symlink(WRAPPER, &link).unwrap();
    let path = format!(
        "{}:{}",
        t.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    must(
        Command::new(&link)
            .args(["state", "x"])
            .env_remove("REAPER_OCI_RUNTIME")
            .env("PATH", path),
    );
    assert!(
        called(t.path()).is_some(),
        "the runtime named by the file name should run"
    );
    // The environment variable names the runtime when the flag is absent.
    let _ = fs::remove_file(t.path().join("called"));
    must(
        Command::new(WRAPPER)
            .args(["state", "x"])
            .env("REAPER_OCI_RUNTIME", t.path().join("fake-runtime")),
    );
    assert!(called(t.path()).is_some());
}

/// Runs a `create` under strace with a fault injected on the given system calls, and checks that
/// the original config.json is intact and the runtime was not called. Returns the wrapper's output
/// and the names of the temporary files left in the bundle.
fn create_with_fault(tag: &str, inject: &str) -> (e2e::Out, Vec<String>) {
    let t = TempDir::new(tag);
    fake_runtime(t.path());
    let b = bundle(t.path(), "{}", r#"["/bin/sleep","9"]"#);
    let original = fs::read(b.join("config.json")).unwrap();
    let mut cmd = Command::new(which("strace"));
    cmd.args(["-f", "-qq", "-o", "/dev/null", "-e"])
        .arg(inject)
        .arg(WRAPPER)
        .arg("--runtime-path")
        .arg(t.path().join("fake-runtime"))
        .arg("--reaper-path")
        .arg(reaper_bin())
        .args(["create", "--bundle"])
        .arg(&b)
        .arg("ctr");
    let out = run(&mut cmd, CMD_TIMEOUT);
    assert!(!out.status.success(), "{}", out.describe());
    assert!(
        called(t.path()).is_none(),
        "runtime must not run\n{}",
        out.describe()
    );
    assert_eq!(
        fs::read(b.join("config.json")).unwrap(),
        original,
        "config.json changed\n{}",
        out.describe()
    );
    let temps = fs::read_dir(&b)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "config.json")
        .collect();
    (out, temps)
}

#[test]
fn killed_or_failing_mid_edit_leaves_the_original_config() {
    // Killed (SIGKILL) as it renames the finished temporary file over config.json.
    // The finished temporary file is left beside it (proof the kill came at that step), harmless.
    let (_, temps) = create_with_fault(
        "oci-kill-rename",
        "inject=rename,renameat,renameat2:signal=KILL",
    );
    assert!(
        temps.len() == 1 && temps[0].starts_with(".config.json.reaper-oci."),
        "{temps:?}"
    );
    // Killed in the middle of writing the temporary file, and as it flushes it to disk.
    for (tag, fault) in [
        ("oci-kill-write", "inject=write:signal=KILL"),
        ("oci-kill-fsync", "inject=fsync:signal=KILL"),
    ] {
        let (_, temps) = create_with_fault(tag, fault);
        assert_eq!(temps.len(), 1, "{fault}: {temps:?}");
    }
    // The rename fails (EIO): a clear error, no temporary file left.
    let (out, temps) = create_with_fault(
        "oci-fail-rename",
        "inject=rename,renameat,renameat2:error=EIO",
    );
    assert!(temps.is_empty(), "{temps:?}");
    out.assert_refused(1, "cannot rewrite");
    assert!(out.stderr.contains("unchanged"), "{}", out.describe());
    // fsync fails: the same.
    let (out, temps) = create_with_fault("oci-fail-fsync", "inject=fsync:error=EIO");
    assert!(out.stderr.contains("cannot rewrite"), "{}", out.describe());
    assert!(temps.is_empty(), "{temps:?}");
}
