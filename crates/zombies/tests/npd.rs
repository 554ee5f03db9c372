//! The node-problem-detector custom plugin config runs `zombies check`: exit 0 on a clean scope,
//! 1 with zombies over its threshold, and a message of at most max_output_length bytes.
mod common;

use common::*;
use std::path::PathBuf;
use std::process::Command;

fn config() -> serde_json::Value {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy/node-problem-detector/zombies-plugin.json");
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not valid JSON: {e}", p.display()))
}

fn in_new_pid_ns(script: &str, args: &[String]) -> (i32, String, String) {
    let unshare = require_tool("unshare");
    let busybox = require_tool("busybox");
    let out = Command::new(unshare)
        .args(["--pid", "--fork", "--mount-proc", "--"])
        .arg(&busybox)
        .args(["sh", "-c", script, "sh"])
        .arg(zombies_bin())
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn plugin_config_command_reports_ok_and_problem() {
    require_root("needs root for PID namespaces");
    let cfg = config();
    assert_eq!(cfg["plugin"], "custom");
    let max_len = cfg["pluginConfig"]["max_output_length"].as_u64().unwrap() as usize;
    assert_eq!(max_len, 80);
    let rules = cfg["rules"].as_array().unwrap();
    assert!(!rules.is_empty());
    for rule in rules {
        let path = PathBuf::from(rule["path"].as_str().unwrap());
        assert_eq!(
            path.file_name().unwrap(),
            "zombies",
            "the rule runs the zombies binary"
        );
        let args: Vec<String> = rule["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .collect();
        let i = args
            .iter()
            .position(|a| a == "--max-zombies")
            .expect("rule sets --max-zombies");
        let threshold: usize = args[i + 1].parse().unwrap();

        // Clean scope: a fresh PID namespace holds no zombie.
        let (code, out, err) = in_new_pid_ns("exec \"$@\"", &args);
        assert_eq!(code, 0, "clean scope must be OK: {out}{err}");
        let line = out.trim_end_matches('\n');
        assert!(!line.contains('\n') && line.len() <= max_len, "{line:?}");
        assert!(line.starts_with("OK"), "{line}");

        // A parent that never waits for threshold+10 children, then the rule's command, polled until
        // it reports the parent by its final name (for a moment after the exec it can read `exe`).
        let kids = "busybox true & ".repeat(threshold + 10);
        let script = format!(
            "busybox sh -c '{kids} exec busybox sleep 60' &\n\
             i=0; while [ $i -lt 100 ]; do out=$(\"$@\"); rc=$?; [ $rc = 1 ] && case \"$out\" in *busybox*) break;; esac; busybox usleep 100000; i=$((i+1)); done\n\
             printf '%s\\n' \"$out\"; exit $rc"
        );
        let (code, out, err) = in_new_pid_ns(&script, &args);
        assert_eq!(
            code, 1,
            "zombies over the threshold must be a problem: {out}{err}"
        );
        let line = out.trim_end_matches('\n');
        assert!(
            !line.contains('\n') && line.len() <= max_len,
            "{line:?} ({} bytes)",
            line.len()
        );
        // Which problem the line leads with depends on timing: the count over --max-zombies, or,
        // when the burst's arrivals still look ongoing to the rate estimate, the leak itself. Both
        // are problems (exit 1 above) and both must name the parent.
        assert!(
            (line.contains("zombies >") || line.starts_with("LEAK ")) && line.contains("busybox"),
            "names the parent: {line}"
        );
    }
}

#[test]
fn check_reports_unknown_on_error() {
    let (code, out, _) = run(&["check", "--proc-root", "/nonexistent"]);
    assert_eq!(code, 2, "NPD: 2 = unknown");
    assert!(
        out.starts_with("unknown:") && out.trim_end().len() <= 80,
        "{out}"
    );
}
