//! The edit of an OCI `config.json`: decide whether the container gets reaper as its PID 1, and if so
//! put `/dev/.reaper-init [OPTIONS] --` in front of `process.args` and bind-mount the static reaper
//! there. A pure function of the parsed JSON: every field it does not touch is kept as it was.

use crate::options;
use serde_json::{json, Map, Value};

/// Where reaper appears inside the container. It lives in the runtime's own `/dev` tmpfs, so it
/// shadows nothing of the image and is gone with the container; the leading dot keeps it out of plain
/// `ls /dev`. `zombies` recognises a PID 1 whose command line starts with this path.
pub const INIT_PATH: &str = "/dev/.reaper-init";

/// Basenames of `process.args[0]` that are an init already: such a container is left as it is.
pub const INITS: &[&str] = &[
    "tini",
    "tini-static",
    "dumb-init",
    "catatonit",
    "docker-init",
    "podman-init",
    "reaper",
    ".reaper-init",
    "pause",
    "systemd",
    "init",
    "s6-svscan",
    "runit",
    "runit-init",
];

/// CRI annotations naming a pod sandbox (the infra/pause container), with their sandbox values.
pub const SANDBOX_ANNOTATIONS: &[(&str, &str)] = &[
    ("io.kubernetes.cri.container-type", "sandbox"),
    ("io.kubernetes.cri-o.ContainerType", "sandbox"),
];

/// The outcome of [`plan`].
#[derive(Debug, PartialEq)]
pub enum Plan {
    /// Write this config, then run the runtime.
    Inject(Value),
    /// Leave the bundle untouched, for this reason.
    Skip(String),
}

/// Decides what to do with a parsed `config.json`; `reaper_source` is the host path of the static
/// reaper to bind-mount. `Err` is a configuration the wrapper refuses (a bad `reaper.io/*`
/// annotation, a `process.args` that is not a list of strings): `create` must fail with it.
pub fn plan(config: &Value, reaper_source: &str) -> Result<Plan, String> {
    let Some(root) = config.as_object() else {
        return Err("config.json is not a JSON object".into());
    };
    let annotations = match root.get("annotations") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => Some(m),
        Some(_) => return Err("config.json: `annotations` is not an object".into()),
    };
    // Validated first, whatever else applies: a typo must not go unnoticed.
    let opts = options::from_annotations(annotations)?;
    if opts.opt_out {
        return Ok(Plan::Skip("annotation reaper.io/inject=false".into()));
    }
    if let Some(a) = annotations {
        for (key, val) in SANDBOX_ANNOTATIONS {
            if a.get(*key).and_then(Value::as_str) == Some(val) {
                return Ok(Plan::Skip(format!("pod sandbox ({key}={val})")));
            }
        }
    }
    let args = match root.get("process").and_then(|p| p.get("args")) {
        None | Some(Value::Null) => return Ok(Plan::Skip("no process.args".into())),
        Some(Value::Array(a)) => a,
        Some(_) => return Err("config.json: `process.args` is not a list".into()),
    };
    let Some(first) = args.first() else {
        return Ok(Plan::Skip("process.args is empty".into()));
    };
    if args.iter().any(|a| !a.is_string()) {
        return Err("config.json: `process.args` holds something other than strings".into());
    }
    let prog = first.as_str().unwrap_or_default();
    let base = prog.rsplit('/').next().unwrap_or(prog);
    if INITS.contains(&base) {
        return Ok(Plan::Skip(format!("{prog} is an init already")));
    }
    if let Some(ns) = joined_pid_namespace(root) {
        return Ok(Plan::Skip(format!(
            "joins the PID namespace {ns}, whose PID 1 reaps"
        )));
    }

    let mut out = config.clone();
    let obj = out.as_object_mut().expect("object checked above");
    let mut new_args: Vec<Value> = Vec::with_capacity(args.len() + opts.flags.len() + 2);
    new_args.push(json!(INIT_PATH));
    new_args.extend(opts.flags.iter().map(|f| json!(f)));
    new_args.push(json!("--"));
    new_args.extend(args.iter().cloned());
    obj["process"]["args"] = Value::Array(new_args);

    let mount = json!({
        "destination": INIT_PATH,
        "type": "bind",
        "source": reaper_source,
        "options": ["bind", "ro", "nosuid", "nodev"],
    });
    match obj.get_mut("mounts") {
        None | Some(Value::Null) => {
            obj.insert("mounts".into(), Value::Array(vec![mount]));
        }
        Some(Value::Array(mounts)) => {
            // Right after the last mount on /dev (the runtime's tmpfs), so the file lands in it and
            // before anything mounted below /dev.
            let at = mounts
                .iter()
                .rposition(|m| is_dev(m.get("destination").and_then(Value::as_str)))
                .map_or(mounts.len(), |i| i + 1);
            mounts.insert(at, mount);
        }
        Some(_) => return Err("config.json: `mounts` is not a list".into()),
    }
    Ok(Plan::Inject(out))
}

/// `/dev`, `/dev/`, `//dev`: a destination that is the container's /dev.
fn is_dev(dest: Option<&str>) -> bool {
    dest.is_some_and(|d| d.split('/').filter(|c| !c.is_empty()).eq(["dev"]))
}

/// The path of the PID namespace the container joins (`linux.namespaces[type=pid].path`), if any.
fn joined_pid_namespace(root: &Map<String, Value>) -> Option<&str> {
    root.get("linux")?
        .get("namespaces")?
        .as_array()?
        .iter()
        .find(|n| n.get("type").and_then(Value::as_str) == Some("pid"))?
        .get("path")?
        .as_str()
        .filter(|p| !p.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const REAPER: &str = "/usr/lib/reaper/reaper";

    /// A config as runc's `spec` and podman write it, trimmed, with fields the wrapper does not know.
    fn config() -> Value {
        json!({
            "ociVersion": "1.0.2-dev",
            "process": {
                "terminal": false,
                "user": {"uid": 0, "gid": 0},
                "args": ["/bin/sleep", "60"],
                "env": ["PATH=/bin"],
                "cwd": "/",
                "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 20000u64, "soft": 20000u64}]
            },
            "root": {"path": "rootfs", "readonly": true},
            "hostname": "x",
            "mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
                 "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
                {"destination": "/dev/pts", "type": "devpts", "source": "devpts"},
                {"destination": "/sys", "type": "sysfs", "source": "sysfs"}
            ],
            "linux": {
                "namespaces": [{"type": "pid"}, {"type": "mount"}],
                "resources": {"memory": {"limit": 9223372036854771712u64}},
                "x-unknown-vendor-field": {"nested": [1, 2.5, null, true]}
            },
            "annotations": {"io.container.manager": "libpod"},
            "x-future-field": "kept"
        })
    }

    fn injected(c: &Value) -> Value {
        match plan(c, REAPER).unwrap() {
            Plan::Inject(v) => v,
            Plan::Skip(why) => panic!("skipped: {why}"),
        }
    }

    fn skipped(c: &Value) -> String {
        match plan(c, REAPER).unwrap() {
            Plan::Skip(why) => why,
            Plan::Inject(v) => panic!("injected: {v}"),
        }
    }

    #[test]
    fn prepends_the_init_and_mounts_it_right_after_dev() {
        let out = injected(&config());
        assert_eq!(
            out["process"]["args"],
            json!([INIT_PATH, "--", "/bin/sleep", "60"])
        );
        let mounts = out["mounts"].as_array().unwrap();
        let dests: Vec<&str> = mounts
            .iter()
            .map(|m| m["destination"].as_str().unwrap())
            .collect();
        assert_eq!(dests, ["/proc", "/dev", INIT_PATH, "/dev/pts", "/sys"]);
        assert_eq!(
            mounts[2],
            json!({"destination": INIT_PATH, "type": "bind", "source": REAPER,
                   "options": ["bind", "ro", "nosuid", "nodev"]})
        );
    }

    #[test]
    fn everything_else_is_kept() {
        let before = config();
        let mut out = injected(&before);
        // Undo the two edits: what is left must equal the input exactly (unknown fields, numbers).
        let args = out["process"]["args"].as_array_mut().unwrap();
        args.drain(..2);
        let mounts = out["mounts"].as_array_mut().unwrap();
        mounts.remove(2);
        assert_eq!(out, before);
        // And through text, as the wrapper writes it.
        let text = serde_json::to_string(&injected(&before)).unwrap();
        assert!(text.contains("9223372036854771712"), "{text}");
        assert!(text.contains("\"x-future-field\":\"kept\""), "{text}");
        assert!(text.contains("2.5"), "{text}");
    }

    #[test]
    fn annotation_options_go_before_the_double_dash() {
        let mut c = config();
        c["annotations"]["reaper.io/grace"] = json!("3s");
        c["annotations"]["reaper.io/warn-reaped"] = json!("true");
        let out = injected(&c);
        let args: Vec<&str> = out["process"]["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert_eq!(args[0], INIT_PATH);
        let dd = args.iter().position(|a| *a == "--").unwrap();
        assert_eq!(&args[dd + 1..], ["/bin/sleep", "60"]);
        let mut opts = args[1..dd].to_vec();
        opts.sort();
        assert_eq!(opts, ["--grace", "--warn-reaped", "3s"]);
    }

    #[test]
    fn no_dev_mount_appends_and_no_mounts_creates_the_list() {
        let mut c = config();
        c["mounts"].as_array_mut().unwrap().remove(1);
        let out = injected(&c);
        assert_eq!(
            out["mounts"].as_array().unwrap().last().unwrap()["destination"],
            INIT_PATH
        );
        c.as_object_mut().unwrap().remove("mounts");
        let out = injected(&c);
        assert_eq!(out["mounts"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn the_last_dev_mount_counts() {
        let mut c = config();
        c["mounts"].as_array_mut().unwrap().insert(
            3,
            json!({"destination": "/dev/", "type": "tmpfs", "source": "t2"}),
        );
        let out = injected(&c);
        assert_eq!(out["mounts"][4]["destination"], INIT_PATH);
        assert_eq!(out["mounts"][3]["source"], "t2");
    }

    #[test]
    fn inits_are_left_alone() {
        for prog in [
            "/sbin/docker-init",
            "tini",
            "/usr/bin/tini-static",
            "/usr/bin/dumb-init",
            "/catatonit",
            "/run/podman-init",
            "/reaper",
            "/dev/.reaper-init",
            "/pause",
            "/lib/systemd/systemd",
            "/sbin/init",
            "/bin/s6-svscan",
            "runit",
        ] {
            let mut c = config();
            c["process"]["args"] = json!([prog, "--", "x"]);
            assert!(skipped(&c).contains("init already"), "{prog}");
        }
        // Not an init: a name that merely contains one.
        let mut c = config();
        c["process"]["args"] = json!(["/usr/bin/initdb"]);
        injected(&c);
    }

    #[test]
    fn sandboxes_opt_out_empty_args_and_joined_pid_namespaces_are_left_alone() {
        for (k, v) in SANDBOX_ANNOTATIONS {
            let mut c = config();
            c["annotations"][*k] = json!(v);
            assert!(skipped(&c).contains("sandbox"));
            // The other value of the same annotation is a workload.
            c["annotations"][*k] = json!("container");
            injected(&c);
        }
        let mut c = config();
        c["annotations"]["reaper.io/inject"] = json!("false");
        assert!(skipped(&c).contains("reaper.io/inject"));
        let mut c = config();
        c["process"]["args"] = json!([]);
        assert!(skipped(&c).contains("empty"));
        let mut c = config();
        c["process"].as_object_mut().unwrap().remove("args");
        skipped(&c);
        let mut c = config();
        c.as_object_mut().unwrap().remove("process");
        skipped(&c);
        let mut c = config();
        c["linux"]["namespaces"][0]["path"] = json!("/proc/42/ns/pid");
        assert!(skipped(&c).contains("/proc/42/ns/pid"));
    }

    #[test]
    fn bad_annotation_is_an_error_even_when_skipping() {
        let mut c = config();
        c["annotations"]["reaper.io/grace"] = json!("forever");
        c["annotations"]["io.kubernetes.cri.container-type"] = json!("sandbox");
        let e = plan(&c, REAPER).unwrap_err();
        assert!(e.contains("reaper.io/grace"), "{e}");
    }

    #[test]
    fn malformed_configs_are_errors_not_panics() {
        for bad in [
            json!([]),
            json!({"process": {"args": "sleep"}}),
            json!({"process": {"args": ["a", 1]}}),
            json!({"process": {"args": ["a"]}, "mounts": {}}),
            json!({"annotations": []}),
        ] {
            assert!(plan(&bad, REAPER).is_err(), "{bad}");
        }
    }
}
