//! Helpers for the persona tests (tests/personas.rs): invoking reaper as tini, tini-static,
//! docker-init, dumb-init, catatonit or pause (by a symlink's basename or by `--compat NAME`), the
//! Debian originals for differential runs, and small text matchers for the machine-read lines.

use crate::{reaper_bin, tool, Init, Mode, TempDir};
use std::os::unix::fs::symlink;
use std::path::PathBuf;

/// Every persona name reaper answers to.
pub const NAMES: [&str; 6] = [
    "tini",
    "tini-static",
    "docker-init",
    "dumb-init",
    "catatonit",
    "pause",
];

/// How reaper is told which persona to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// A symlink named after the persona (basename of `argv[0]`).
    Link,
    /// `reaper --compat NAME ...`.
    Compat,
    /// `reaper --compat=NAME ...`.
    CompatEq,
}

/// Both ways of selecting a persona that tests run through.
pub const VIAS: [Via; 3] = [Via::Link, Via::Compat, Via::CompatEq];

/// A directory of symlinks named after each persona, all pointing at the reaper binary under test.
pub struct Links {
    dir: TempDir,
}

impl Links {
    pub fn new() -> Links {
        let bin = reaper_bin();
        let dir = TempDir::new("personas");
        for name in NAMES {
            symlink(&bin, dir.path().join(name))
                .unwrap_or_else(|e| panic!("symlink {name} -> {}: {e}", bin.display()));
        }
        Links { dir }
    }

    /// The symlink called `name`.
    pub fn path(&self, name: &str) -> PathBuf {
        assert!(NAMES.contains(&name), "no persona {name}");
        self.dir.path().join(name)
    }

    /// reaper as persona `name` in `mode`, selected `via` a symlink or `--compat`.
    /// `POSIXLY_CORRECT=1` is set (as for the originals: see [`real`]).
    pub fn reaper(&self, name: &str, via: Via, mode: Mode) -> Init {
        let init = match via {
            Via::Link => Init::program(self.path(name), mode),
            Via::Compat => Init::reaper(mode).args(["--compat", name]),
            Via::CompatEq => Init::reaper(mode).arg(format!("--compat={name}")),
        };
        init.env("POSIXLY_CORRECT", "1")
    }
}

impl Default for Links {
    fn default() -> Self {
        Links::new()
    }
}

/// The Debian original called `name` (docker-init is Docker's copy of tini: /usr/bin/tini).
/// `POSIXLY_CORRECT=1` stops glibc's getopt at the first non-option, as reaper's parser does, so the
/// same command line (without `--`) means the same thing to both. Panics when it is not installed.
pub fn real_path(name: &str) -> PathBuf {
    let name = if name == "docker-init" { "tini" } else { name };
    assert!(
        name != "pause",
        "there is no Debian original of the Kubernetes pause"
    );
    tool(name)
}

/// The Debian original `name` in `mode`.
pub fn real(name: &str, mode: Mode) -> Init {
    Init::program(real_path(name), mode).env("POSIXLY_CORRECT", "1")
}

/// Matches `line` against `pat`, where `%d` stands for one or more ASCII digits and `%*` for any text
/// (possibly empty); everything else is literal. The whole line must match.
pub fn matches(pat: &str, line: &str) -> bool {
    fn m(p: &[u8], s: &[u8]) -> bool {
        match p {
            [] => s.is_empty(),
            [b'%', b'd', rest @ ..] => {
                let n = s.iter().take_while(|c| c.is_ascii_digit()).count();
                (1..=n).rev().any(|k| m(rest, &s[k..]))
            }
            [b'%', b'*', rest @ ..] => (0..=s.len()).rev().any(|k| m(rest, &s[k..])),
            [c, rest @ ..] => s.first() == Some(c) && m(rest, &s[1..]),
        }
    }
    m(pat.as_bytes(), line.as_bytes())
}

/// The lines of `text` matching `pat` (see [`matches()`]).
pub fn lines_matching<'a>(text: &'a str, pat: &str) -> Vec<&'a str> {
    text.lines().filter(|l| matches(pat, l)).collect()
}

/// Does any line of `text` match `pat`?
pub fn has_line(text: &str, pat: &str) -> bool {
    text.lines().any(|l| matches(pat, l))
}

/// Replaces every run of digits that follows `(` or `:` or `=` or a space by `N`, so that lines of
/// two runs can be compared regardless of pids (`[WARN  tini (123)]` -> `[WARN  tini (N)]`).
pub fn without_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut prev_digit = false;
    for c in text.chars() {
        if c.is_ascii_digit() {
            if !prev_digit {
                out.push('N');
            }
            prev_digit = true;
        } else {
            out.push(c);
            prev_digit = false;
        }
    }
    out
}

/// Is `sig` (1..=64) in a /proc `SigBlk`/`SigIgn`/... hex mask?
pub fn mask_has(mask_hex: &str, sig: i32) -> bool {
    let m = u64::from_str_radix(mask_hex.trim(), 16)
        .unwrap_or_else(|e| panic!("bad signal mask {mask_hex:?}: {e}"));
    m & (1u64 << (sig - 1)) != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matcher() {
        assert!(matches(
            "[dumb-init] Child spawned with PID %d.",
            "[dumb-init] Child spawned with PID 42."
        ));
        assert!(!matches(
            "[dumb-init] Child spawned with PID %d.",
            "[dumb-init] Child spawned with PID ."
        ));
        assert!(matches("a%*b", "ab"));
        assert!(matches("a%*b", "axxb"));
        assert!(!matches("a%*b", "axxbc"));
        assert_eq!(
            without_numbers("[WARN  tini (123)] pid=45"),
            "[WARN  tini (N)] pid=N"
        );
        assert!(mask_has("0000000000380000", 20));
        assert!(!mask_has("0000000000380000", 19));
    }
}
