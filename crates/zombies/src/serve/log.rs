//! The agent's log lines on stderr: logfmt (`ts=... level=info msg="..." key=value`, the default)
//! or JSON (one object per line), each with an RFC 3339 UTC timestamp and a level, filtered by
//! `--log-level`.

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::SystemTime;

/// `--log-format`.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// `ts=2026-01-02T03:04:05.678Z level=info msg="..." key=value`
    #[default]
    Logfmt,
    /// `{"ts":"2026-01-02T03:04:05.678Z","level":"info","msg":"...","key":"value"}`
    Json,
}

/// `--log-level`: lines below it are not written.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Level {
    /// Per-scrape details.
    Debug,
    /// Start, stop, and changes of what the agent can see.
    #[default]
    Info,
    /// Something is degraded (pod or container names unknown, a fallback).
    Warn,
    /// The agent is blind or cannot serve.
    Error,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

static FORMAT: AtomicU8 = AtomicU8::new(0);
static MIN: AtomicU8 = AtomicU8::new(Level::Info as u8);

/// Sets the format and the minimum level of every later line.
pub fn init(format: LogFormat, min: Level) {
    FORMAT.store(format as u8, Ordering::Relaxed);
    MIN.store(min as u8, Ordering::Relaxed);
}

/// Writes one line at `level` with the message and the extra fields.
pub fn log(level: Level, msg: &str, fields: &[(&str, &str)]) {
    if (level as u8) < MIN.load(Ordering::Relaxed) {
        return;
    }
    let line = format_line(
        if FORMAT.load(Ordering::Relaxed) == LogFormat::Json as u8 {
            LogFormat::Json
        } else {
            LogFormat::Logfmt
        },
        SystemTime::now(),
        level,
        msg,
        fields,
    );
    // Nothing sensible to do when stderr is gone.
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// `error` line.
pub fn error(msg: &str, fields: &[(&str, &str)]) {
    log(Level::Error, msg, fields)
}
/// `warn` line.
pub fn warn(msg: &str, fields: &[(&str, &str)]) {
    log(Level::Warn, msg, fields)
}
/// `info` line.
pub fn info(msg: &str, fields: &[(&str, &str)]) {
    log(Level::Info, msg, fields)
}
/// `debug` line.
pub fn debug(msg: &str, fields: &[(&str, &str)]) {
    log(Level::Debug, msg, fields)
}

/// One line, newline included.
pub fn format_line(
    format: LogFormat,
    at: SystemTime,
    level: Level,
    msg: &str,
    fields: &[(&str, &str)],
) -> String {
    let ts = rfc3339(at);
    let all = [("ts", ts.as_str()), ("level", level.as_str()), ("msg", msg)];
    let mut out = String::with_capacity(96);
    match format {
        LogFormat::Logfmt => {
            for (i, (k, v)) in all.iter().chain(fields).enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push('=');
                logfmt_value(&mut out, v);
            }
        }
        LogFormat::Json => {
            out.push('{');
            for (i, (k, v)) in all.iter().chain(fields).enumerate() {
                if i > 0 {
                    out.push(',');
                }
                // serde_json's string encoding escapes exactly what JSON needs.
                out.push_str(&serde_json::to_string(k).unwrap_or_default());
                out.push(':');
                out.push_str(&serde_json::to_string(v).unwrap_or_default());
            }
            out.push('}');
        }
    }
    out.push('\n');
    out
}

/// A logfmt value: bare when it has no space, quote, `=` or control character; else quoted with
/// `\"`, `\\`, `\n`, `\t` and `\u{..}` escapes.
fn logfmt_value(out: &mut String, v: &str) {
    let bare = !v.is_empty()
        && !v
            .chars()
            .any(|c| c == ' ' || c == '"' || c == '=' || c == '\\' || c.is_control());
    if bare {
        out.push_str(v);
        return;
    }
    out.push('"');
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `2026-01-02T03:04:05.678Z`.
pub fn rfc3339(at: SystemTime) -> String {
    let d = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, day) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Year, month, day of a count of days since 1970-01-01 (proleptic Gregorian calendar).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps() {
        let t = |s| SystemTime::UNIX_EPOCH + Duration::from_millis(s);
        assert_eq!(rfc3339(t(0)), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(t(951_782_400_000)), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339(t(1_796_289_024_123)), "2026-12-03T09:10:24.123Z");
    }

    #[test]
    fn logfmt_and_json_lines() {
        let at = SystemTime::UNIX_EPOCH;
        let l = format_line(
            LogFormat::Logfmt,
            at,
            Level::Warn,
            "blind: \"x\"",
            &[("check", "proc"), ("path", "")],
        );
        assert_eq!(
            l,
            "ts=1970-01-01T00:00:00.000Z level=warn msg=\"blind: \\\"x\\\"\" check=proc path=\"\"\n"
        );
        let j = format_line(LogFormat::Json, at, Level::Info, "a\nb", &[("k", "v")]);
        let v: serde_json::Value = serde_json::from_str(&j).unwrap();
        assert_eq!(v["ts"], "1970-01-01T00:00:00.000Z");
        assert_eq!(v["level"], "info");
        assert_eq!(v["msg"], "a\nb");
        assert_eq!(v["k"], "v");
    }
}
