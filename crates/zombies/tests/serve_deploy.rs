//! The deployment files: alert rules (`promtool check rules`, and `promtool test rules` unit tests
//! showing each alert firing and staying quiet), the Kubernetes manifests validated offline against
//! the Kubernetes API schemas (PyPI kubernetes-validate; a vendored subset of the
//! prometheus-operator CRDs for ServiceMonitor/PrometheusRule), and the generated manifests in sync
//! with their sources.
mod serve_support;

use serve_support::*;
use std::process::Command;

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .current_dir(repo())
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{text}",
        out.status
    );
    text
}

#[test]
fn rules_pass_promtool_check() {
    let out = run(Command::new(require_tool("promtool")).args([
        "check",
        "rules",
        "deploy/prometheus/zombies.rules.yaml",
    ]));
    assert!(out.contains("SUCCESS: 3 rules found"), "{out}");
}

#[test]
fn rules_unit_tests_pass() {
    let out = run(Command::new(require_tool("promtool")).args([
        "test",
        "rules",
        "deploy/prometheus/tests/zombies.rules.test.yaml",
    ]));
    assert!(out.contains("SUCCESS"), "{out}");
    let tests =
        std::fs::read_to_string(repo().join("deploy/prometheus/tests/zombies.rules.test.yaml"))
            .unwrap();
    for alert in [
        "ZombieProcessLeak",
        "ZombiePodPidsNearLimit",
        "ZombieNodePidExhaustion",
    ] {
        assert!(
            tests.contains(&format!("- name: {alert} fires"))
                && tests.contains(&format!("- name: {alert} stays quiet")),
            "{alert} needs a firing and a quiet unit test"
        );
    }
}

#[test]
fn every_alert_has_a_runbook() {
    let rules =
        std::fs::read_to_string(repo().join("deploy/prometheus/zombies.rules.yaml")).unwrap();
    assert_eq!(rules.matches("- alert: ").count(), 3);
    assert_eq!(rules.matches("runbook: |").count(), 3);
}

#[test]
fn manifests_validate_against_the_kubernetes_schemas() {
    let python = require_tool("python3");
    require_tool("kubernetes-validate");
    let mut files: Vec<String> = std::fs::read_dir(repo().join("deploy/kubernetes"))
        .unwrap()
        .flatten()
        .map(|e| format!("deploy/kubernetes/{}", e.file_name().to_string_lossy()))
        .filter(|f| f.ends_with(".yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 6, "{files:?}");
    let out = run(Command::new(python)
        .arg("scripts/validate-manifests.py")
        .args(&files));
    for kind in [
        "daemonset/zombies",
        "service/zombies",
        "namespace/zombies",
        "configmap/zombies-npd-plugin",
        "daemonset/node-problem-detector-zombies",
        "ServiceMonitor/zombies",
        "PrometheusRule/zombies",
    ] {
        assert!(out.contains(kind), "{kind} not validated:\n{out}");
    }
    let sm = std::fs::read_to_string(repo().join("deploy/kubernetes/servicemonitor.yaml")).unwrap();
    assert!(sm.contains("honorLabels: true"));
}

#[test]
fn a_broken_manifest_fails_validation() {
    let dir = temp_dir("zombies-manifests");
    let ds = std::fs::read_to_string(repo().join("deploy/kubernetes/daemonset.yaml")).unwrap();
    let bad = dir.0.join("bad-daemonset.yaml");
    std::fs::write(&bad, ds.replace("hostPID: true", "hostPid: true")).unwrap();
    let sm = std::fs::read_to_string(repo().join("deploy/kubernetes/servicemonitor.yaml")).unwrap();
    let bad_sm = dir.0.join("bad-sm.yaml");
    std::fs::write(
        &bad_sm,
        sm.replace("honorLabels: true", "honorLabels: yes please"),
    )
    .unwrap();
    for f in [bad, bad_sm] {
        let out = Command::new(require_tool("python3"))
            .arg(repo().join("scripts/validate-manifests.py"))
            .arg(&f)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{} passed validation", f.display());
    }
}

#[test]
fn generated_manifests_are_in_sync() {
    let dir = temp_dir("zombies-gen");
    // Run the generator on a copy of the sources and compare with the committed output.
    for p in [
        "scripts/gen-deploy.sh",
        "deploy/prometheus/zombies.rules.yaml",
        "deploy/node-problem-detector/zombies-plugin.json",
        "deploy/node-problem-detector/daemonset.head.yaml",
    ] {
        let dst = dir.0.join(p);
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::copy(repo().join(p), &dst).unwrap();
    }
    std::fs::create_dir_all(dir.0.join("deploy/kubernetes")).unwrap();
    let out = Command::new("bash")
        .arg(dir.0.join("scripts/gen-deploy.sh"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    for f in [
        "deploy/kubernetes/prometheusrule.yaml",
        "deploy/kubernetes/node-problem-detector.yaml",
    ] {
        let want = std::fs::read_to_string(dir.0.join(f)).unwrap();
        let have = std::fs::read_to_string(repo().join(f)).unwrap();
        assert!(
            want == have,
            "{f} is out of date: run scripts/gen-deploy.sh"
        );
    }
}
