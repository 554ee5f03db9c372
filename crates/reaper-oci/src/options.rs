//! `reaper.io/*` annotations: whether to inject reaper, and the options it runs with.
//!
//! Every value is checked here, with the same grammar reaper itself accepts, so a bad value stops
//! `create` before anything starts (instead of a container whose PID 1 exits with a usage error).

use serde_json::{Map, Value};

/// Prefix of every annotation the wrapper reads.
pub const PREFIX: &str = "reaper.io/";

/// The annotations, what they take, and the reaper flag each becomes.
pub const KNOWN: &[(&str, Kind, &str)] = &[
    ("reaper.io/inject", Kind::Bool, ""),
    ("reaper.io/grace", Kind::Duration, "--grace"),
    ("reaper.io/drain-signal", Kind::Signal, "--drain-signal"),
    ("reaper.io/no-drain", Kind::Bool, "--no-drain"),
    ("reaper.io/verbose", Kind::Bool, "--verbose"),
    ("reaper.io/warn-reaped", Kind::Bool, "--warn-reaped"),
    ("reaper.io/group", Kind::Bool, "--group"),
    ("reaper.io/session", Kind::Bool, "--session"),
];

/// The type of an annotation's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`, any case).
    Bool,
    /// `10` (seconds), `1.5s`, `500ms`, `2m`.
    Duration,
    /// A signal name (`TERM`, `SIGTERM`, `RTMIN+3`) or number 1..64.
    Signal,
}

/// What the annotations ask for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// `reaper.io/inject: "false"`: leave this container alone.
    pub opt_out: bool,
    /// Flags for reaper, placed before its `--`.
    pub flags: Vec<String>,
}

/// Parses a boolean the way reaper parses its boolean variables.
pub fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// Checks a duration in reaper's grammar (`10`, `1.5s`, `500ms`, `2m`; at most 3 decimals).
pub fn valid_duration(v: &str) -> bool {
    let num = v
        .strip_suffix("ms")
        .or_else(|| v.strip_suffix('s'))
        .or_else(|| v.strip_suffix('m'))
        .unwrap_or(v);
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    digits(int)
        && int.len() <= 12
        && (frac.is_empty() || (digits(frac) && frac.len() <= 3))
        && !num.ends_with('.')
}

/// Checks a signal in reaper's grammar: a number 1..64, or a name with or without `SIG` (`TERM`,
/// `IOT`, `RTMIN+3`, `RTMAX-1`), any case.
pub fn valid_signal(v: &str) -> bool {
    const NAMES: [&str; 34] = [
        "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2",
        "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG",
        "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS", "IOT", "POLL", "CLD",
    ];
    let in_range = |n: &str, lo: u32, hi: u32| {
        !n.is_empty()
            && n.len() <= 2
            && n.bytes().all(|c| c.is_ascii_digit())
            && n.parse::<u32>().is_ok_and(|n| (lo..=hi).contains(&n))
    };
    if v.bytes().all(|c| c.is_ascii_digit()) {
        return in_range(v, 1, 64);
    }
    let up = v.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    if NAMES.contains(&name) {
        return true;
    }
    // Real-time signals: RTMIN is 34, RTMAX is 64.
    match name {
        "RTMIN" | "RTMAX" => true,
        _ => {
            if let Some(n) = name.strip_prefix("RTMIN+") {
                in_range(n, 0, 30)
            } else if let Some(n) = name.strip_prefix("RTMAX-") {
                in_range(n, 0, 30)
            } else {
                false
            }
        }
    }
}

/// Reads the `reaper.io/*` annotations of a config's `annotations` object. An annotation the wrapper
/// does not know, or a value of the wrong form, is an error naming it.
pub fn from_annotations(annotations: Option<&Map<String, Value>>) -> Result<Options, String> {
    let mut opts = Options::default();
    let Some(annotations) = annotations else {
        return Ok(opts);
    };
    for (key, value) in annotations {
        if !key.starts_with(PREFIX) {
            continue;
        }
        let Some(&(_, kind, flag)) = KNOWN.iter().find(|(k, _, _)| k == key) else {
            let known: Vec<&str> = KNOWN.iter().map(|k| k.0).collect();
            return Err(format!(
                "unknown annotation {key}: the known ones are {}; fix or remove it",
                known.join(", ")
            ));
        };
        let Some(v) = value.as_str() else {
            return Err(format!(
                "annotation {key} is not a string ({value}): annotation values are strings"
            ));
        };
        match kind {
            Kind::Bool => {
                let b = parse_bool(v).ok_or_else(|| {
                    format!("annotation {key}={v:?} is not a boolean: use \"true\" or \"false\"")
                })?;
                if key == "reaper.io/inject" {
                    opts.opt_out = !b;
                } else if b {
                    opts.flags.push(flag.to_string());
                }
            }
            Kind::Duration => {
                if !valid_duration(v) {
                    return Err(format!(
                        "annotation {key}={v:?} is not a duration: use e.g. \"10\" (seconds), \
                         \"1.5s\", \"500ms\" or \"2m\""
                    ));
                }
                opts.flags.push(flag.to_string());
                opts.flags.push(v.to_string());
            }
            Kind::Signal => {
                if !valid_signal(v) {
                    return Err(format!(
                        "annotation {key}={v:?} is not a signal: use a name such as \"TERM\" or \
                         \"SIGUSR1\", or a number from 1 to 64"
                    ));
                }
                opts.flags.push(flag.to_string());
                opts.flags.push(v.to_string());
            }
        }
    }
    Ok(opts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn opts(v: Value) -> Result<Options, String> {
        from_annotations(v.as_object())
    }

    #[test]
    fn durations_follow_reapers_grammar() {
        for ok in ["10", "0", "1.5s", "500ms", "2m", "0.25", "1.125s"] {
            assert!(valid_duration(ok), "{ok}");
        }
        for bad in [
            "", "s", "1.", ".5", "1.2345", "-1", "10h", "1,5s", "1e3", "ten", " 1",
        ] {
            assert!(!valid_duration(bad), "{bad}");
        }
    }

    #[test]
    fn signals_follow_reapers_grammar() {
        for ok in [
            "TERM", "sigterm", "SIGUSR1", "15", "1", "64", "RTMIN", "RTMIN+3", "rtmax-2",
        ] {
            assert!(valid_signal(ok), "{ok}");
        }
        for bad in [
            "",
            "0",
            "65",
            "TERMINATE",
            "SIG",
            "RTMIN+31",
            "RTMIN+",
            "-1",
            "015x",
        ] {
            assert!(!valid_signal(bad), "{bad}");
        }
    }

    #[test]
    fn annotations_become_flags_in_a_fixed_form() {
        let o = opts(json!({
            "reaper.io/grace": "2s",
            "reaper.io/verbose": "true",
            "reaper.io/warn-reaped": "false",
            "reaper.io/drain-signal": "USR1",
            "other/key": "whatever"
        }))
        .unwrap();
        assert!(!o.opt_out);
        let mut flags = o.flags.clone();
        flags.sort();
        assert_eq!(
            flags,
            ["--drain-signal", "--grace", "--verbose", "2s", "USR1"]
        );
    }

    #[test]
    fn opt_out() {
        assert!(opts(json!({"reaper.io/inject": "false"})).unwrap().opt_out);
        assert!(opts(json!({"reaper.io/inject": "FALSE"})).unwrap().opt_out);
        assert!(!opts(json!({"reaper.io/inject": "true"})).unwrap().opt_out);
        assert_eq!(opts(json!({})).unwrap(), Options::default());
        assert_eq!(from_annotations(None).unwrap(), Options::default());
    }

    #[test]
    fn bad_values_and_unknown_keys_name_the_annotation() {
        for (a, key) in [
            (json!({"reaper.io/grace": "soon"}), "reaper.io/grace"),
            (json!({"reaper.io/inject": "nope"}), "reaper.io/inject"),
            (json!({"reaper.io/verbose": 1}), "reaper.io/verbose"),
            (
                json!({"reaper.io/drain-signal": "TERMINATE"}),
                "reaper.io/drain-signal",
            ),
            (json!({"reaper.io/grase": "5s"}), "reaper.io/grase"),
        ] {
            let e = opts(a).unwrap_err();
            assert!(e.contains(key), "{e}");
        }
    }
}
