//! `reaper-oci`: an OCI runtime wrapper that gives every container a reaping PID 1 without changing
//! its image.
//!
//! A container engine (containerd, CRI-O, podman, dockerd) runs it in place of runc or crun. On
//! `create` and `run` it edits the bundle's `config.json` ([`inject::plan`]) so that the container's
//! process becomes `/dev/.reaper-init [OPTIONS] -- ORIGINAL ARGS...`, with the static reaper
//! bind-mounted read-only at `/dev/.reaper-init`; then, for every command, it execs the real runtime
//! with the arguments it was given (its own `--runtime-path`/`--reaper-path` removed). Exec'd
//! processes are not wrapped: their orphans go to the container's PID 1, which is then reaper.
//!
//! See docs/runtime-wrapper.md for the rules (which containers are left alone, the annotations) and
//! the engine recipes.
#![deny(unsafe_code)]
#![deny(clippy::too_many_lines)]

pub mod cli;
pub mod files;
pub mod inject;
pub mod install;
pub mod options;
// The one module allowed to use `unsafe`: restoring SIGPIPE and exec of the real runtime.
#[allow(unsafe_code)]
mod sys;

use cli::{Action, Invocation, LogFormat};
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Environment variable naming the real runtime (name on PATH or path).
pub const ENV_RUNTIME: &str = "REAPER_OCI_RUNTIME";
/// Environment variable naming the static reaper to inject (host path).
pub const ENV_REAPER: &str = "REAPER_OCI_REAPER";
/// The reaper used when neither `--reaper-path` nor [`ENV_REAPER`] is set and there is no `reaper`
/// beside the wrapper.
pub const DEFAULT_REAPER: &str = "/usr/lib/reaper/reaper";
/// The real runtime used when neither `--runtime-path` nor [`ENV_RUNTIME`] is set.
pub const DEFAULT_RUNTIME: &str = "runc";

/// Finds `name` on `PATH` (or takes it as a path when it holds a `/`).
pub fn find_program(name: &OsStr, path_var: Option<&OsStr>) -> Option<PathBuf> {
    if name.as_bytes().contains(&b'/') {
        return Some(PathBuf::from(name)).filter(|p| p.is_file());
    }
    if name.is_empty() {
        return None;
    }
    let path_var = path_var.unwrap_or(OsStr::new(
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    ));
    std::env::split_paths(path_var)
        .map(|d| d.join(name))
        .find(|p| {
            use std::os::unix::fs::PermissionsExt;
            fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// The runtime named by the wrapper's own file name: `reaper-oci-crun` (e.g. a symlink to
/// reaper-oci) means `crun`, for engines that can neither pass flags nor environment to a runtime.
pub fn runtime_from_name(argv0: &OsStr) -> Option<OsString> {
    let base = Path::new(argv0).file_name()?.as_bytes();
    let rest = base.strip_prefix(b"reaper-oci-")?;
    (!rest.is_empty()).then(|| OsStr::from_bytes(rest).to_os_string())
}

/// The real runtime: `--runtime-path`, else `$REAPER_OCI_RUNTIME`, else the name the wrapper was
/// invoked as ([`runtime_from_name`]), else `runc` on PATH. Refuses the wrapper itself (that would
/// loop forever).
pub fn resolve_runtime(inv: &Invocation) -> Result<PathBuf, String> {
    let by_name = std::env::args_os()
        .next()
        .and_then(|a| runtime_from_name(&a));
    let (name, source) = match (&inv.runtime_path, std::env::var_os(ENV_RUNTIME), by_name) {
        (Some(p), _, _) => (p.clone(), "--runtime-path"),
        (None, Some(v), _) if !v.is_empty() => (v, ENV_RUNTIME),
        (None, _, Some(n)) => (n, "the wrapper's file name"),
        _ => (OsString::from(DEFAULT_RUNTIME), "the default"),
    };
    let path = find_program(&name, std::env::var_os("PATH").as_deref()).ok_or_else(|| {
        format!(
            "real OCI runtime {:?} ({source}) not found (a name is looked up on PATH): install runc or crun, or name it \
             with --runtime-path or {ENV_RUNTIME}",
            name
        )
    })?;
    let me = fs::canonicalize("/proc/self/exe").ok();
    if me.is_some() && fs::canonicalize(&path).ok() == me {
        return Err(format!(
            "the real runtime {} ({source}) is reaper-oci itself: point --runtime-path or \
             {ENV_RUNTIME} at runc or crun",
            path.display()
        ));
    }
    Ok(path)
}

/// The static reaper to inject: `--reaper-path`, else `$REAPER_OCI_REAPER`, else `reaper` in the
/// wrapper's own directory when there is one, else [`DEFAULT_REAPER`]. Absolute.
pub fn resolve_reaper(inv: &Invocation) -> PathBuf {
    let chosen = match (&inv.reaper_path, std::env::var_os(ENV_REAPER)) {
        (Some(p), _) => PathBuf::from(p),
        (None, Some(v)) if !v.is_empty() => PathBuf::from(v),
        _ => fs::canonicalize("/proc/self/exe")
            .ok()
            .and_then(|me| Some(me.parent()?.join("reaper")))
            .filter(|p| p.is_file())
            .unwrap_or_else(|| PathBuf::from(DEFAULT_REAPER)),
    };
    fs::canonicalize(&chosen).unwrap_or(chosen)
}

/// The config file of a `create`/`run`: `[bundle/]config.json`, or crun's `--config` (relative to the
/// bundle, the runtime's working directory when no bundle is given).
pub fn config_path(bundle: Option<&Path>, config: Option<&Path>) -> PathBuf {
    let bundle = bundle.unwrap_or(Path::new("."));
    bundle.join(config.unwrap_or(Path::new("config.json")))
}

/// Edits the bundle for a `create`/`run`. `Ok(note)` says what was done; `Err` is a message for the
/// user, and then the runtime must not be called.
pub fn prepare_bundle(inv: &Invocation, config: &Path) -> Result<String, String> {
    let shown = config.display();
    let text = fs::read(config).map_err(|e| {
        format!("cannot read the bundle's config {shown}: {e} (is --bundle right?)")
    })?;
    let parsed: serde_json::Value = serde_json::from_slice(&text)
        .map_err(|e| format!("{shown} is not valid JSON ({e}): nothing was started"))?;
    let reaper = resolve_reaper(inv);
    let reaper_str = reaper.to_str().ok_or_else(|| {
        format!(
            "reaper path {} is not UTF-8: move reaper to a plain path",
            reaper.display()
        )
    })?;
    match inject::plan(&parsed, reaper_str).map_err(|e| format!("{shown}: {e}"))? {
        inject::Plan::Skip(why) => Ok(format!("left unchanged: {why}")),
        inject::Plan::Inject(new) => {
            files::check_static_executable(&reaper)?;
            let mut bytes = serde_json::to_vec(&new).map_err(|e| format!("{e}"))?;
            bytes.push(b'\n');
            files::replace_atomically(config, &bytes).map_err(|e| {
                format!(
                    "cannot rewrite {shown}: {e}; the original is unchanged and nothing was \
                     started"
                )
            })?;
            Ok(format!(
                "injected {} ({})",
                inject::INIT_PATH,
                reaper.display()
            ))
        }
    }
}

/// Appends an error line to the runtime's log file in its format, so engines that read the runtime's
/// log for the reason of a failure (containerd) show the wrapper's message.
pub fn append_log(log: &Path, format: LogFormat, msg: &str) {
    let time = sys::rfc3339_now();
    let line = match format {
        LogFormat::Json => format!(
            "{}\n",
            serde_json::json!({"level": "error", "msg": msg, "time": time})
        ),
        LogFormat::Text => format!(
            "time={} level=error msg={}\n",
            serde_json::Value::from(time),
            serde_json::Value::from(msg)
        ),
    };
    if let Ok(mut f) = fs::OpenOptions::new().append(true).create(true).open(log) {
        let _ = f.write_all(line.as_bytes());
    }
}

/// The whole wrapper: parse, edit the bundle when needed, exec the real runtime. Returns only on
/// failure, with the exit status to use.
pub fn main_with(args: Vec<OsString>) -> i32 {
    let fail = |inv: Option<&Invocation>, msg: String| -> i32 {
        let msg = format!("reaper-oci: {msg}");
        eprintln!("{msg}");
        if let Some((log, fmt)) = inv.and_then(|i| i.log.as_ref()) {
            append_log(log, *fmt, &msg);
        }
        1
    };
    let inv = match cli::parse(&args) {
        Ok(i) => i,
        Err(cli::UsageError(m)) => return fail(None, m),
    };
    let runtime = match resolve_runtime(&inv) {
        Ok(r) => r,
        Err(m) => return fail(Some(&inv), m),
    };
    if let Action::Create { bundle, config } = &inv.action {
        let path = config_path(bundle.as_deref(), config.as_deref());
        match prepare_bundle(&inv, &path) {
            Ok(note) => {
                if std::env::var_os("REAPER_OCI_DEBUG").is_some_and(|v| !v.is_empty()) {
                    eprintln!("reaper-oci: {}: {note}", path.display());
                }
            }
            Err(m) => return fail(Some(&inv), m),
        }
    }
    let err = sys::exec(&runtime, &inv.forward);
    fail(
        Some(&inv),
        format!("cannot run the real runtime {}: {err}", runtime.display()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_from_the_wrappers_file_name() {
        assert_eq!(
            runtime_from_name(OsStr::new("/usr/bin/reaper-oci-crun")),
            Some("crun".into())
        );
        assert_eq!(
            runtime_from_name(OsStr::new("reaper-oci-runc")),
            Some("runc".into())
        );
        assert_eq!(runtime_from_name(OsStr::new("/usr/bin/reaper-oci")), None);
        assert_eq!(runtime_from_name(OsStr::new("reaper-oci-")), None);
        assert_eq!(runtime_from_name(OsStr::new("runc")), None);
    }

    #[test]
    fn config_path_follows_bundle_and_config() {
        assert_eq!(config_path(None, None), Path::new("./config.json"));
        assert_eq!(
            config_path(Some(Path::new("/b")), Some(Path::new("other.json"))),
            Path::new("/b/other.json")
        );
        assert_eq!(
            config_path(Some(Path::new("/b")), Some(Path::new("/abs.json"))),
            Path::new("/abs.json")
        );
    }
}
