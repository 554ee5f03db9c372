//! `reaper-oci-install --host-root DIR [--prefix DIR] [--engine containerd|cri-o|none] [--from DIR]`:
//! installs reaper-oci and the static reaper on a node and registers the `reaper` runtime with its
//! engine. See `reaper_oci::install` and docs/runtime-wrapper.md.
#![deny(unsafe_code)]

use reaper_oci::install::{install, Engine, Plan, DEFAULT_PREFIX};
use std::path::PathBuf;

const USAGE: &str = "usage: reaper-oci-install --host-root DIR [--prefix DIR] \
                     [--engine containerd|cri-o|none] [--from DIR]";

fn main() {
    let mut host_root: Option<PathBuf> = None;
    let mut prefix = PathBuf::from(DEFAULT_PREFIX);
    let mut engine = Engine::None;
    // The binaries to copy: beside this installer by default (the installer image holds all three).
    let mut from = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("/"));
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (a.clone(), None),
        };
        if matches!(name.as_str(), "-h" | "--help") {
            println!("{USAGE}");
            return;
        }
        let Some(value) = inline.or_else(|| args.next()) else {
            eprintln!("reaper-oci-install: {name} needs a value\n{USAGE}");
            std::process::exit(2);
        };
        match name.as_str() {
            "--host-root" => host_root = Some(value.into()),
            "--prefix" => prefix = value.into(),
            "--from" => from = value.into(),
            "--engine" => {
                engine = Engine::parse(&value).unwrap_or_else(|| {
                    eprintln!(
                        "reaper-oci-install: --engine {value:?} is not containerd, cri-o or none"
                    );
                    std::process::exit(2);
                })
            }
            _ => {
                eprintln!("reaper-oci-install: unknown argument {a:?}\n{USAGE}");
                std::process::exit(2);
            }
        }
    }
    let Some(host_root) = host_root else {
        eprintln!("reaper-oci-install: --host-root is required\n{USAGE}");
        std::process::exit(2);
    };
    match install(&Plan {
        host_root,
        prefix,
        from,
        engine,
    }) {
        Ok(lines) => {
            for l in lines {
                println!("reaper-oci-install: {l}");
            }
        }
        Err(e) => {
            eprintln!("reaper-oci-install: {e}");
            std::process::exit(1);
        }
    }
}
