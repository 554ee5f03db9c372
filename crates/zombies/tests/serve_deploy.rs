//! The deployment files: alert and recording rules (`promtool check rules`, and `promtool test
//! rules` unit tests showing each alert firing and staying quiet), one runbook per alert, the
//! kustomize overlays rendered by `kubectl kustomize` and validated offline against the Kubernetes
//! API schemas (PyPI kubernetes-validate; a vendored subset of the prometheus-operator CRDs for
//! ServiceMonitor/PrometheusRule), their settings (image, namespace, port, runbook URLs, release
//! label), and the generated manifests in sync with their sources.
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
    assert!(out.contains("SUCCESS: 8 rules found"), "{out}");
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
    for alert in ALERTS {
        assert!(
            tests.contains(&format!("- name: {alert} fires"))
                && tests.contains(&format!("- name: {alert} stays quiet")),
            "{alert} needs a firing and a quiet unit test"
        );
    }
}

const ALERTS: [&str; 5] = [
    "ZombieProcessLeak",
    "ZombiePodPidsNearLimit",
    "ZombieNodePidExhaustion",
    "ZombiesAgentDown",
    "ZombiesAgentBlind",
];

#[test]
fn every_alert_has_a_runbook_and_names_the_node() {
    let rules =
        std::fs::read_to_string(repo().join("deploy/prometheus/zombies.rules.yaml")).unwrap();
    assert_eq!(rules.matches("- alert: ").count(), ALERTS.len());
    assert!(
        !rules.contains("runbook: "),
        "runbook_url, not inline runbooks"
    );
    let v: serde_json::Value = serde_json::from_str(&yaml_to_json(&rules)).unwrap();
    let alerts: Vec<&serde_json::Value> = v[0]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap())
        .filter(|r| r.get("alert").is_some())
        .collect();
    assert_eq!(alerts.len(), ALERTS.len());
    for a in alerts {
        let name = a["alert"].as_str().unwrap();
        let url = a["annotations"]["runbook_url"].as_str().unwrap();
        assert_eq!(url, format!("./docs/runbooks/{name}.md"));
        let summary = a["annotations"]["summary"].as_str().unwrap();
        assert!(summary.contains("$labels.node"), "{name}: {summary}");
        let page = std::fs::read_to_string(repo().join(&url[2..]))
            .unwrap_or_else(|e| panic!("{name}: runbook {url}: {e}"));
        for part in [
            &format!("# {name}\n") as &str,
            "## What it means",
            "## Confirm",
            "## Fix",
            "zombies",
            "**Kubernetes.**",
            "**podman.**",
            "**Docker.**",
        ] {
            assert!(page.contains(part), "{url} lacks {part:?}");
        }
    }
    let index = std::fs::read_to_string(repo().join("docs/runbooks/README.md")).unwrap();
    for name in ALERTS {
        assert!(
            index.contains(&format!("({name}.md)")),
            "index lacks {name}"
        );
    }
}

/// YAML documents to a JSON array through python3's yaml module (already a test dependency:
/// scripts/validate-manifests.py).
fn yaml_to_json(yaml: &str) -> String {
    let dir = temp_dir("zombies-yaml");
    let f = dir.0.join("in.yaml");
    std::fs::write(&f, yaml).unwrap();
    run(Command::new(require_tool("python3"))
        .args([
            "-c",
            "import sys, json, yaml; print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))",
        ])
        .arg(&f))
}

/// `kubectl kustomize DIR`, with a kubectl whose kustomize is v5 (components, replacements).
fn kustomize(dir: &std::path::Path) -> String {
    let kubectl = require_tool("kubectl");
    let v = run(Command::new(&kubectl).args(["version", "--client"]));
    assert!(
        v.contains("Kustomize Version: v5"),
        "{} has no kustomize v5 (components, replacements): {v}; scripts/setup.sh installs one",
        kubectl.display()
    );
    let out = Command::new(kubectl)
        .arg("kustomize")
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kubectl kustomize {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn docs(rendered: &str) -> Vec<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_str(&yaml_to_json(rendered)).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .filter(|d| !d.is_null())
        .cloned()
        .collect()
}

/// (kind, namespace, name) of each object, in order.
fn objects(d: &[serde_json::Value]) -> Vec<(String, String, String)> {
    d.iter()
        .map(|d| {
            let s = |p: &str| {
                d.pointer(p)
                    .and_then(|v| v.as_str())
                    .unwrap_or("")
                    .to_string()
            };
            (s("/kind"), s("/metadata/namespace"), s("/metadata/name"))
        })
        .collect()
}

fn find<'a>(docs: &'a [serde_json::Value], kind: &str, name: &str) -> &'a serde_json::Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind}/{name}"))
}

const OVERLAYS: [&str; 4] = [
    "default",
    "kube-prometheus-stack",
    "node-problem-detector",
    "runtime-wrapper",
];

#[test]
fn every_overlay_renders_and_validates_against_the_kubernetes_schemas() {
    let python = require_tool("python3");
    require_tool("kubernetes-validate");
    let dir = temp_dir("zombies-overlays");
    for overlay in OVERLAYS {
        let rendered = kustomize(&repo().join("deploy/kubernetes/overlays").join(overlay));
        let file = dir.0.join(format!("{overlay}.yaml"));
        std::fs::write(&file, &rendered).unwrap();
        let out = run(Command::new(&python)
            .arg("scripts/validate-manifests.py")
            .arg(&file));
        let d = docs(&rendered);
        let objs = objects(&d);
        assert_eq!(
            (objs[0].0.as_str(), objs[0].2.as_str()),
            ("Namespace", "zombies"),
            "{overlay}: Namespace first: {objs:?}"
        );
        let mut want = vec![
            "daemonset/zombies",
            "service/zombies",
            "namespace/zombies",
            "ServiceMonitor/zombies",
            "PrometheusRule/zombies",
        ];
        if overlay == "kube-prometheus-stack" {
            want.push("configmap/zombies-dashboard");
        }
        if overlay == "runtime-wrapper" {
            want.extend(["runtimeclass/reaper", "daemonset/reaper-oci-installer"]);
        }
        if overlay == "node-problem-detector" {
            want.extend([
                "serviceaccount/node-problem-detector",
                "clusterrole/zombies-node-problem-detector",
                "clusterrolebinding/zombies-node-problem-detector",
                "configmap/zombies-npd-plugin",
                "daemonset/node-problem-detector-zombies",
            ]);
        }
        for kind in &want {
            assert!(
                out.contains(kind),
                "{overlay}: {kind} not validated:\n{out}"
            );
        }
        assert_eq!(objs.len(), want.len(), "{overlay}: {objs:?}");
        // The settings are local to kustomize: never applied.
        assert!(!rendered.contains("zombies-settings") && !rendered.contains("local-config"));
        for (kind, ns, name) in &objs {
            let cluster = [
                "Namespace",
                "ClusterRole",
                "ClusterRoleBinding",
                "RuntimeClass",
            ]
            .contains(&kind.as_str());
            let want_ns = if cluster { "" } else { "zombies" };
            assert_eq!(ns, want_ns, "{overlay}: {kind}/{name}");
        }
        let ds = find(&d, "DaemonSet", "zombies");
        let c = &ds["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["image"], "localhost/zombies:0.1.0");
        assert_eq!(c["ports"][0]["containerPort"], 9942);
        assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
        assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
        let env: Vec<(String, String)> = c["env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["name"].as_str().unwrap().into(),
                    e["value"].as_str().unwrap().into(),
                )
            })
            .collect();
        assert!(
            env.contains(&("ZOMBIES_LISTEN".into(), "0.0.0.0:9942".into())),
            "{env:?}"
        );
        assert!(env.iter().all(|(k, _)| k.starts_with("ZOMBIES_")));
        let svc = find(&d, "Service", "zombies");
        assert_eq!(svc["spec"]["ports"][0]["port"], 9942);
        assert_eq!(svc["spec"]["publishNotReadyAddresses"], true);
        let sm = find(&d, "ServiceMonitor", "zombies");
        assert_eq!(sm["spec"]["endpoints"][0]["honorLabels"], true);
        assert_eq!(
            sm["spec"]["endpoints"][0]["relabelings"][0]["targetLabel"],
            "node"
        );
        let release = (overlay == "kube-prometheus-stack").then_some("kube-prometheus-stack");
        for kind in ["ServiceMonitor", "PrometheusRule"] {
            let o = find(&d, kind, "zombies");
            assert_eq!(
                o["metadata"]["labels"]["release"].as_str(),
                release,
                "{overlay}: {kind}"
            );
        }
        if overlay == "kube-prometheus-stack" {
            let cm = find(&d, "ConfigMap", "zombies-dashboard");
            assert_eq!(cm["metadata"]["labels"]["grafana_dashboard"], "1");
            let json = cm["data"]["zombies-dashboard.json"].as_str().unwrap();
            let shipped =
                std::fs::read_to_string(repo().join("deploy/grafana/zombies-dashboard.json"))
                    .unwrap();
            assert!(
                json == shipped,
                "the ConfigMap's dashboard is stale: run scripts/gen-deploy.sh"
            );
        }
        if overlay == "node-problem-detector" {
            let npd = find(&d, "DaemonSet", "node-problem-detector-zombies");
            let vols = npd["spec"]["template"]["spec"]["volumes"]
                .as_array()
                .unwrap();
            let img = vols.iter().find(|v| v["name"] == "zombies").unwrap();
            assert_eq!(img["image"]["reference"], "localhost/zombies:0.1.0");
            let crb = find(&d, "ClusterRoleBinding", "zombies-node-problem-detector");
            assert_eq!(crb["subjects"][0]["namespace"], "zombies");
            assert_eq!(
                npd["spec"]["template"]["spec"]["serviceAccountName"],
                crb["subjects"][0]["name"]
            );
        }
    }
}

/// Every file under deploy/kubernetes is used by a kustomization (nothing applies on its own).
#[test]
fn every_manifest_belongs_to_a_kustomization() {
    let mut listed = String::new();
    let mut files = Vec::new();
    let mut stack = vec![repo().join("deploy/kubernetes")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "md") {
                // Documentation, not a manifest.
            } else if p.file_name().unwrap() == "kustomization.yaml" {
                listed.push_str(&std::fs::read_to_string(&p).unwrap());
            } else {
                files.push(p);
            }
        }
    }
    assert!(files.len() >= 8, "{files:?}");
    for f in files {
        let name = f.file_name().unwrap().to_str().unwrap().to_string();
        assert!(
            listed.contains(&format!("- {name}\n")),
            "{} is in no kustomization.yaml",
            f.display()
        );
    }
}

/// Image, namespace, port, runbook URLs and the release label are each one value: changed in one
/// place (what `kustomize edit set image|namespace|configmap` writes), every object that carries
/// it follows.
#[test]
fn one_value_sets_image_namespace_port_runbooks_and_release() {
    let dir = temp_dir("zombies-kustomize-edit");
    let copy = Command::new("cp")
        .arg("-r")
        .arg(repo().join("deploy/kubernetes"))
        .arg(&dir.0)
        .status()
        .unwrap();
    assert!(copy.success());
    let k = dir.0.join("kubernetes");
    let edit = |file: &str, from: &str, to: &str| {
        let p = k.join(file);
        let s = std::fs::read_to_string(&p).unwrap();
        assert_eq!(s.matches(from).count(), 1, "{file}: {from:?}");
        std::fs::write(&p, s.replace(from, to)).unwrap();
    };
    let settings = "components/settings/kustomization.yaml";
    edit(settings, "- port=9942", "- port=9100");
    edit(
        settings,
        "- runbook_base_url=.",
        "- runbook_base_url=https://git.example.com/ops/reaper/blob/main",
    );
    edit(
        "overlays/kube-prometheus-stack/kustomization.yaml",
        "- release=kube-prometheus-stack",
        "- release=prom",
    );
    for o in OVERLAYS {
        let f = format!("overlays/{o}/kustomization.yaml");
        edit(&f, "\nnamespace: zombies\n", "\nnamespace: monitoring\n");
        edit(
            &f,
            "newName: localhost/zombies",
            "newName: registry.example.com/zombies",
        );
        edit(&f, "newTag: 0.1.0", "newTag: 9.9.9");
    }
    for o in OVERLAYS {
        let rendered = kustomize(&k.join("overlays").join(o));
        assert!(!rendered.contains("9942"), "{o}: the old port remains");
        assert!(
            !rendered.contains("localhost/zombies"),
            "{o}: the old image remains"
        );
        let d = docs(&rendered);
        let objs = objects(&d);
        assert_eq!(
            objs[0],
            ("Namespace".into(), String::new(), "monitoring".into())
        );
        assert!(objs
            .iter()
            .all(|(_, ns, _)| ns.is_empty() || ns == "monitoring"));
        let c = &find(&d, "DaemonSet", "zombies")["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["image"], "registry.example.com/zombies:9.9.9");
        assert_eq!(c["ports"][0]["containerPort"], 9100);
        assert!(rendered.contains("value: 0.0.0.0:9100"));
        assert_eq!(
            find(&d, "Service", "zombies")["spec"]["ports"][0]["port"],
            9100
        );
        let rule = find(&d, "PrometheusRule", "zombies");
        let urls: Vec<&str> = rule["spec"]["groups"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|g| g["rules"].as_array().unwrap())
            .filter_map(|r| r["annotations"]["runbook_url"].as_str())
            .collect();
        assert_eq!(urls.len(), ALERTS.len());
        for (u, a) in urls.iter().zip(ALERTS) {
            assert_eq!(
                *u,
                format!("https://git.example.com/ops/reaper/blob/main/docs/runbooks/{a}.md")
            );
        }
        if o == "kube-prometheus-stack" {
            assert_eq!(rule["metadata"]["labels"]["release"], "prom");
        }
        if o == "node-problem-detector" {
            assert!(rendered.contains("reference: registry.example.com/zombies:9.9.9"));
            let crb = find(&d, "ClusterRoleBinding", "zombies-node-problem-detector");
            assert_eq!(crb["subjects"][0]["namespace"], "monitoring");
        }
    }
}

#[test]
fn a_broken_manifest_fails_validation() {
    let dir = temp_dir("zombies-manifests");
    let ds = std::fs::read_to_string(repo().join("deploy/kubernetes/base/daemonset.yaml")).unwrap();
    let bad = dir.0.join("bad-daemonset.yaml");
    std::fs::write(&bad, ds.replace("hostPID: true", "hostPid: true")).unwrap();
    let sm = std::fs::read_to_string(
        repo().join("deploy/kubernetes/components/prometheus-operator/servicemonitor.yaml"),
    )
    .unwrap();
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
        "deploy/grafana/zombies-dashboard.json",
    ] {
        let dst = dir.0.join(p);
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::copy(repo().join(p), &dst).unwrap();
    }
    for d in [
        "components/prometheus-operator",
        "components/node-problem-detector",
        "overlays/kube-prometheus-stack",
    ] {
        std::fs::create_dir_all(dir.0.join("deploy/kubernetes").join(d)).unwrap();
    }
    let out = Command::new("bash")
        .arg(dir.0.join("scripts/gen-deploy.sh"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    for f in [
        "deploy/kubernetes/components/prometheus-operator/prometheusrule.yaml",
        "deploy/kubernetes/components/node-problem-detector/node-problem-detector.yaml",
        "deploy/kubernetes/overlays/kube-prometheus-stack/zombies-dashboard.json",
    ] {
        let want = std::fs::read_to_string(dir.0.join(f)).unwrap();
        let have = std::fs::read_to_string(repo().join(f)).unwrap();
        assert!(
            want == have,
            "{f} is out of date: run scripts/gen-deploy.sh"
        );
    }
}

/// The dashboard's structure: unique panel ids, every panel on the `${datasource}` variable with
/// at least one query, drill-down links from the per-node and per-pod panels, variables that
/// chain node -> namespace -> pod. (Its queries run against a real Prometheus in
/// serve_prometheus.rs and serve_fleet.rs.)
#[test]
fn the_dashboard_is_well_formed() {
    let d: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("deploy/grafana/zombies-dashboard.json")).unwrap(),
    )
    .unwrap();
    assert!(d["uid"]
        .as_str()
        .is_some_and(|u| !u.is_empty() && u.len() <= 40));
    let mut ids = std::collections::BTreeSet::new();
    let mut links = 0;
    let mut titles = Vec::new();
    for p in d["panels"].as_array().unwrap() {
        assert!(
            ids.insert(p["id"].as_u64().unwrap()),
            "duplicate id {}",
            p["id"]
        );
        let g = &p["gridPos"];
        assert!(
            g["x"].as_u64().unwrap() + g["w"].as_u64().unwrap() <= 24,
            "{}",
            p["title"]
        );
        if p["type"] == "row" {
            continue;
        }
        titles.push(p["title"].as_str().unwrap().to_string());
        assert_eq!(p["datasource"]["uid"], "${datasource}", "{}", p["title"]);
        let targets = p["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{}", p["title"]);
        for t in targets {
            assert!(
                t["refId"].is_string() && t["expr"].is_string(),
                "{}",
                p["title"]
            );
        }
        if let Some(l) = p["fieldConfig"]["defaults"]["links"].as_array() {
            for link in l {
                let url = link["url"].as_str().unwrap();
                assert!(url.contains("var-node=${__field.labels.node}"), "{url}");
                links += 1;
            }
        }
    }
    assert!(links >= 5, "drill-down links: {links}");
    for want in [
        "Zombies per node",
        "Zombies by pod and container",
        "Leak rate by pod and container",
        "Time to PID exhaustion per node",
        "PID budget per node",
        "Visibility checks",
    ] {
        assert!(
            titles.iter().any(|t| t == want),
            "no panel {want:?}: {titles:?}"
        );
    }
    let vars: Vec<(&str, &str)> = d["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["type"] == "query")
        .map(|v| {
            (
                v["name"].as_str().unwrap(),
                v["query"]["query"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        vars.iter().map(|v| v.0).collect::<Vec<_>>(),
        ["node", "namespace", "pod"]
    );
    assert!(vars[1].1.contains("$node") && vars[2].1.contains("$namespace"));
}
