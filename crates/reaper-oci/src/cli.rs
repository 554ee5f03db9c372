//! The wrapper's command line: the real runtime's global flags, then its command and the command's
//! own flags, exactly as a container engine passes them to runc or crun.
//!
//! Only two things are taken out of the arguments: `--runtime-path PATH` and `--reaper-path PATH`
//! among the global flags (before the command), which configure the wrapper itself. Everything else
//! is forwarded to the real runtime byte for byte, in the same order.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// Global flags of runc and crun that take a value in the next argument (when not written `--f=v`).
/// Any other global flag is taken as a switch.
const GLOBAL_VALUE_FLAGS: &[&str] = &[
    "root",
    "log",
    "log-format",
    "log-level",
    "criu",
    "rootless",
    "cgroup-manager",
];

/// Flags of `create` and `run` (runc and crun) that take a value in the next argument.
const CREATE_VALUE_FLAGS: &[&str] = &[
    "bundle",
    "b",
    "config",
    "f",
    "console-socket",
    "pidfd-socket",
    "pid-file",
    "preserve-fds",
];

/// Format of the runtime's log file (`--log-format`), so the wrapper's own errors can be appended to
/// it in the form the engine reads back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// `time="..." level=error msg="..."` (runc's default).
    Text,
    /// `{"level":"error","msg":"...","time":"..."}`.
    Json,
}

/// What the wrapper makes of its command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invocation {
    /// The arguments for the real runtime (the wrapper's own flags removed), without argv\[0\].
    pub forward: Vec<OsString>,
    /// `--runtime-path`, when given.
    pub runtime_path: Option<OsString>,
    /// `--reaper-path`, when given.
    pub reaper_path: Option<OsString>,
    /// `--log FILE` of the real runtime, when given, and its `--log-format`.
    pub log: Option<(PathBuf, LogFormat)>,
    /// What to do before handing over to the real runtime.
    pub action: Action,
}

/// The wrapper's part of an invocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Nothing: exec the runtime at once (every command but `create` and `run`, help, version).
    PassThrough,
    /// `create` or `run`: edit the bundle's config file first.
    Create {
        /// `--bundle`/`-b`, when given (the runtime's default is its working directory).
        bundle: Option<PathBuf>,
        /// crun's `--config`/`-f`, when given (relative to the bundle); default `config.json`.
        config: Option<PathBuf>,
    },
}

/// A command line the wrapper cannot make sense of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageError(pub String);

/// `--name=value` / `-name=value` / `--name` / `-name`: the name without dashes and the inline value.
fn split_flag(arg: &OsStr) -> Option<(&str, Option<&OsStr>)> {
    let b = arg.as_bytes();
    let body = b
        .strip_prefix(b"--")
        .or_else(|| b.strip_prefix(b"-"))
        .filter(|s| !s.is_empty())?;
    let (name, value) = match body.iter().position(|&c| c == b'=') {
        Some(i) => (&body[..i], Some(OsStr::from_bytes(&body[i + 1..]))),
        None => (body, None),
    };
    Some((std::str::from_utf8(name).ok()?, value))
}

/// Parses the wrapper's arguments (without argv\[0\]).
pub fn parse(args: &[OsString]) -> Result<Invocation, UsageError> {
    let mut forward = Vec::with_capacity(args.len());
    let mut runtime_path = None;
    let mut reaper_path = None;
    let mut log_file: Option<PathBuf> = None;
    let mut log_format = LogFormat::Text;
    let mut help_or_version = false;
    let mut i = 0;
    // Global flags, up to the command.
    while i < args.len() {
        let arg = &args[i];
        if arg.as_bytes() == b"--" {
            break;
        }
        let Some((name, inline)) = split_flag(arg) else {
            break; // the command
        };
        let own = matches!(name, "runtime-path" | "reaper-path");
        let takes_value = own || GLOBAL_VALUE_FLAGS.contains(&name);
        let value = if !takes_value {
            None
        } else if let Some(v) = inline {
            Some(v.to_os_string())
        } else {
            let v = args.get(i + 1).ok_or_else(|| {
                UsageError(format!(
                    "global flag {} needs a value: give it as `{} VALUE` before the command",
                    arg.to_string_lossy(),
                    arg.to_string_lossy()
                ))
            })?;
            i += 1;
            Some(v.clone())
        };
        match (name, value) {
            ("runtime-path", Some(v)) => runtime_path = Some(v),
            ("reaper-path", Some(v)) => reaper_path = Some(v),
            (n, v) => {
                if matches!(n, "h" | "help" | "v" | "version") {
                    help_or_version = true;
                }
                if n == "log" {
                    log_file = v.as_ref().map(PathBuf::from);
                }
                if n == "log-format" {
                    log_format = match v.as_ref().map(|v| v.as_bytes()) {
                        Some(b"json") => LogFormat::Json,
                        _ => LogFormat::Text,
                    };
                }
                forward.push(arg.clone());
                if inline.is_none() {
                    if let Some(v) = v {
                        forward.push(v);
                    }
                }
            }
        }
        i += 1;
    }
    let command = args.get(i).map(|c| c.as_bytes().to_vec());
    let rest = &args[i.min(args.len())..];
    forward.extend(rest.iter().cloned());
    let log = log_file.map(|f| (f, log_format));
    let action = match command.as_deref() {
        Some(b"create") | Some(b"run") if !help_or_version => create_action(&rest[1..]),
        _ => Action::PassThrough,
    };
    Ok(Invocation {
        forward,
        runtime_path,
        reaper_path,
        log,
        action,
    })
}

/// The bundle and config file of `create`/`run` from the command's flags (up to the container id).
/// `--help` among them means the runtime only prints help: nothing to edit.
fn create_action(args: &[OsString]) -> Action {
    let mut bundle = None;
    let mut config = None;
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if arg.as_bytes() == b"--" {
            break;
        }
        let Some((name, inline)) = split_flag(arg) else {
            break; // the container id
        };
        if matches!(name, "h" | "help") {
            return Action::PassThrough;
        }
        let value = if CREATE_VALUE_FLAGS.contains(&name) {
            match inline {
                Some(v) => Some(v.to_os_string()),
                None => {
                    i += 1;
                    args.get(i).cloned()
                }
            }
        } else {
            None
        };
        match name {
            "bundle" | "b" => bundle = value.map(PathBuf::from),
            "config" | "f" => config = value.map(PathBuf::from),
            _ => {}
        }
        i += 1;
    }
    Action::Create { bundle, config }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<OsString> {
        s.iter().map(OsString::from).collect()
    }

    #[test]
    fn podman_create_keeps_every_argument_and_finds_the_bundle() {
        let a = args(&[
            "--root",
            "/run/runc",
            "--systemd-cgroup",
            "create",
            "--bundle",
            "/b/userdata",
            "--pid-file",
            "/b/pidfile",
            "ctr1",
        ]);
        let inv = parse(&a).unwrap();
        assert_eq!(inv.forward, a);
        assert_eq!(
            inv.action,
            Action::Create {
                bundle: Some("/b/userdata".into()),
                config: None
            }
        );
        assert_eq!(inv.runtime_path, None);
    }

    #[test]
    fn containerd_style_with_log_and_short_bundle() {
        let a = args(&[
            "--root",
            "/run/containerd/runc/moby",
            "--log",
            "/x/log.json",
            "--log-format",
            "json",
            "create",
            "-b",
            "/x",
            "--console-socket",
            "/tmp/sock",
            "id",
        ]);
        let inv = parse(&a).unwrap();
        assert_eq!(inv.forward, a);
        assert_eq!(inv.log, Some(("/x/log.json".into(), LogFormat::Json)));
        assert_eq!(
            inv.action,
            Action::Create {
                bundle: Some("/x".into()),
                config: None
            }
        );
    }

    #[test]
    fn own_flags_are_removed_and_inline_values_work() {
        let a = args(&[
            "--runtime-path=/usr/bin/crun",
            "--reaper-path",
            "/opt/reaper",
            "--root=/r",
            "run",
            "--bundle=/b",
            "-d",
            "--config=other.json",
            "id",
        ]);
        let inv = parse(&a).unwrap();
        assert_eq!(
            inv.forward,
            args(&[
                "--root=/r",
                "run",
                "--bundle=/b",
                "-d",
                "--config=other.json",
                "id"
            ])
        );
        assert_eq!(inv.runtime_path, Some("/usr/bin/crun".into()));
        assert_eq!(inv.reaper_path, Some("/opt/reaper".into()));
        assert_eq!(
            inv.action,
            Action::Create {
                bundle: Some("/b".into()),
                config: Some("other.json".into())
            }
        );
    }

    #[test]
    fn create_without_bundle_uses_the_working_directory() {
        let inv = parse(&args(&["create", "id"])).unwrap();
        assert_eq!(
            inv.action,
            Action::Create {
                bundle: None,
                config: None
            }
        );
    }

    #[test]
    fn other_commands_help_and_version_pass_through() {
        for a in [
            &["state", "id"][..],
            &["exec", "--process", "/p.json", "id"],
            &["kill", "id", "TERM"],
            &["delete", "--force", "id"],
            &["features"],
            &["--version"],
            &["-v"],
            &["--help", "create"],
            &["create", "--help"],
            &["ps", "create"],
            &["frobnicate", "--bundle", "/b"],
            &[],
        ] {
            let inv = parse(&args(a)).unwrap();
            assert_eq!(inv.action, Action::PassThrough, "{a:?}");
            assert_eq!(inv.forward, args(a), "{a:?}");
        }
    }

    #[test]
    fn a_flag_after_the_container_id_is_not_the_bundle() {
        let inv = parse(&args(&["create", "id", "--bundle", "/b"])).unwrap();
        assert_eq!(
            inv.action,
            Action::Create {
                bundle: None,
                config: None
            }
        );
    }

    #[test]
    fn a_missing_value_is_a_usage_error_naming_the_flag() {
        let e = parse(&args(&["--runtime-path"])).unwrap_err();
        assert!(e.0.contains("--runtime-path"), "{e:?}");
    }
}
