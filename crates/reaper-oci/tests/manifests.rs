//! The Kubernetes and node recipes of docs/runtime-wrapper.md are well-formed: the RuntimeClass
//! manifest and the example Pod validate against the Kubernetes API schemas (offline,
//! scripts/validate-manifests.py; a broken one fails), the containerd / CRI-O / podman TOML snippets
//! parse, and so does the daemon.json snippet.

use e2e::{run, which, workspace_root, TempDir, CMD_TIMEOUT};
use std::fs;
use std::process::Command;

fn validate(files: &[&std::path::Path]) -> e2e::Out {
    which("kubernetes-validate");
    run(
        Command::new(which("python3"))
            .arg(workspace_root().join("scripts/validate-manifests.py"))
            .args(files),
        CMD_TIMEOUT,
    )
}

/// The fenced code blocks of the page in `lang`.
fn blocks(lang: &str) -> Vec<String> {
    let doc = fs::read_to_string(workspace_root().join("docs/runtime-wrapper.md")).unwrap();
    let fence = format!("```{lang}\n");
    doc.split(&fence)
        .skip(1)
        .map(|rest| rest.split("```").next().unwrap().to_string())
        .collect()
}

#[test]
fn runtimeclass_validates_and_a_broken_one_does_not() {
    let rc =
        workspace_root().join("deploy/kubernetes/components/runtime-wrapper/runtimeclass.yaml");
    let out = validate(&[&rc]);
    assert!(out.status.success(), "{}", out.describe());
    assert!(
        out.stdout.contains("runtimeclass/reaper"),
        "{}",
        out.describe()
    );
    let text = fs::read_to_string(&rc).unwrap();
    assert!(text.contains("handler: reaper"), "{text}");

    let t = TempDir::new("oci-manifest");
    let bad = t.path().join("bad.yaml");
    fs::write(&bad, text.replace("handler: reaper", "handlr: reaper")).unwrap();
    let out = validate(&[&bad]);
    assert!(
        !out.status.success(),
        "a misspelt field must fail\n{}",
        out.describe()
    );
}

#[test]
fn the_pages_snippets_parse() {
    let t = TempDir::new("oci-snippets");
    let yaml = blocks("yaml");
    assert_eq!(yaml.len(), 1, "one example Pod");
    let pod = t.path().join("pod.yaml");
    fs::write(&pod, &yaml[0]).unwrap();
    let out = validate(&[&pod]);
    assert!(
        out.status.success() && out.stdout.contains("pod/rabbitmq"),
        "{}",
        out.describe()
    );
    assert!(yaml[0].contains("runtimeClassName: reaper"));

    let toml = blocks("toml");
    assert_eq!(toml.len(), 3, "podman, containerd and CRI-O");
    for (i, snippet) in toml.iter().enumerate() {
        let f = t.path().join(format!("s{i}.toml"));
        fs::write(&f, snippet).unwrap();
        let out = run(
            Command::new(which("python3"))
                .args([
                    "-c",
                    "import sys, tomllib; print(tomllib.load(open(sys.argv[1], 'rb')))",
                ])
                .arg(&f),
            CMD_TIMEOUT,
        );
        assert!(
            out.status.success(),
            "TOML snippet {i} does not parse\n{snippet}\n{}",
            out.describe()
        );
    }
    assert!(toml
        .iter()
        .any(|s| s.contains("BinaryName = \"/usr/bin/reaper-oci\"")));
    assert!(toml
        .iter()
        .any(|s| s.contains("[crio.runtime.runtimes.reaper]")));

    let json = blocks("json");
    assert_eq!(json.len(), 1);
    let v: serde_json::Value = serde_json::from_str(&json[0]).expect("daemon.json snippet");
    assert_eq!(v["runtimes"]["reaper"]["path"], "/usr/bin/reaper-oci");
}
