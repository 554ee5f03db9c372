//! Byte-level parsers for `/proc/PID/stat`, `/proc/PID/status` and `/proc/PID/cmdline`.
//!
//! Every parser works on raw bytes and never panics: a process may name itself anything up to
//! 15 bytes (spaces, parentheses, newlines, non-UTF-8), so `comm` is taken from the first `(` to
//! the **last** `)` and the numbered fields are read only after that `)`.

use std::fmt;

/// Fields of `/proc/PID/stat` this crate uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatFields {
    /// Field 1: the pid, as seen in the namespace of the procfs mount that was read.
    pub pid: i32,
    /// Field 2: the command name (at most 15 bytes, any bytes but NUL).
    pub comm: Vec<u8>,
    /// Field 3: the state letter (`R`, `S`, `D`, `Z`, `T`, `t`, `X`, `I`, ...).
    pub state: u8,
    /// Field 4: the parent pid (0 for the namespace's PID 1 and kernel roots, or when the
    /// parent is outside the reader's PID namespace).
    pub ppid: i32,
    /// Field 5: process group id.
    pub pgrp: i32,
    /// Field 6: session id (0 when the session leader is outside the reader's PID namespace).
    pub session: i32,
    /// Field 20: number of threads in the thread group (a zombie leader counts itself).
    pub num_threads: u64,
    /// Field 22: start time in clock ticks since boot.
    pub start_ticks: u64,
    /// Field 52: waitpid-style exit status (`None` on kernels that do not print it). The kernel
    /// prints 0 when the reader may not ptrace-read the process.
    pub exit_code: Option<i32>,
}

/// Why a `/proc` file could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// No `(` ... `)` pair around the command name.
    NoComm,
    /// A required numbered field is missing or not a number.
    BadField(&'static str),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::NoComm => write!(f, "no '(comm)' in stat line"),
            ParseError::BadField(name) => write!(f, "missing or malformed field '{name}'"),
        }
    }
}

impl std::error::Error for ParseError {}

fn num<T: std::str::FromStr>(b: Option<&[u8]>, name: &'static str) -> Result<T, ParseError> {
    let b = b.ok_or(ParseError::BadField(name))?;
    std::str::from_utf8(b)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(ParseError::BadField(name))
}

/// Parses the content of `/proc/PID/stat` (or `/proc/PID/task/TID/stat`).
///
/// ```
/// let s = procmodel::parse::parse_stat(b"42 (x) Z 1 () S 7 42 42 0 -1 4194308 0 0 0 0 0 0 0 0 20 0 1 0 99 0 0 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0 256\n").unwrap();
/// assert_eq!(s.comm, b"x) Z 1 (");
/// assert_eq!(s.state, b'S');
/// assert_eq!(s.ppid, 7);
/// ```
pub fn parse_stat(buf: &[u8]) -> Result<StatFields, ParseError> {
    let open = buf
        .iter()
        .position(|&c| c == b'(')
        .ok_or(ParseError::NoComm)?;
    let close = buf
        .iter()
        .rposition(|&c| c == b')')
        .ok_or(ParseError::NoComm)?;
    if close < open {
        return Err(ParseError::NoComm);
    }
    let pid: i32 = num(Some(trim(&buf[..open])), "pid")?;
    let comm = buf[open + 1..close].to_vec();
    let rest = buf.get(close + 1..).unwrap_or(&[]);
    // Fields after ')' start at field 3; index i holds field i + 3.
    let mut it = rest
        .split(|&c| c == b' ' || c == b'\n')
        .filter(|f| !f.is_empty());
    let mut fields: [Option<&[u8]>; 50] = [None; 50];
    for slot in fields.iter_mut() {
        match it.next() {
            Some(f) => *slot = Some(f),
            None => break,
        }
    }
    let state = match fields[0] {
        Some([c]) => *c,
        _ => return Err(ParseError::BadField("state")),
    };
    Ok(StatFields {
        pid,
        comm,
        state,
        ppid: num(fields[1], "ppid")?,
        pgrp: num(fields[2], "pgrp")?,
        session: num(fields[3], "session")?,
        num_threads: num(fields[17], "num_threads")?,
        start_ticks: num(fields[19], "starttime")?,
        exit_code: fields[49].and_then(|f| num(Some(f), "exit_code").ok()),
    })
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end.max(start)]
}

/// Fields of `/proc/PID/status` this crate uses. Every field is optional: a missing or
/// malformed line leaves it `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusFields {
    /// `NSpid:` host (reader's namespace) pid first, innermost namespace pid last.
    pub nspid: Option<Vec<i32>>,
    /// `Uid:` real uid.
    pub uid: Option<u32>,
    /// `SigCgt:` caught-signals mask.
    pub sig_cgt: Option<u64>,
    /// `SigIgn:` ignored-signals mask.
    pub sig_ign: Option<u64>,
    /// `Threads:` count.
    pub threads: Option<u64>,
}

/// Parses `/proc/PID/status`. The `Name:` line is skipped without decoding (it may hold any
/// bytes), so a process cannot forge the following lines with a newline in its name: the kernel
/// escapes `\n` there.
pub fn parse_status(buf: &[u8]) -> StatusFields {
    let mut out = StatusFields::default();
    for line in buf.split(|&c| c == b'\n') {
        let Some(colon) = line.iter().position(|&c| c == b':') else {
            continue;
        };
        let (key, val) = (&line[..colon], trim(&line[colon + 1..]));
        let text = || std::str::from_utf8(val).ok();
        match key {
            b"NSpid" => {
                out.nspid = text()
                    .and_then(|t| t.split_ascii_whitespace().map(|p| p.parse().ok()).collect())
            }
            b"Uid" => {
                out.uid = text().and_then(|t| t.split_ascii_whitespace().next()?.parse().ok())
            }
            b"SigCgt" => out.sig_cgt = text().and_then(|t| u64::from_str_radix(t, 16).ok()),
            b"SigIgn" => out.sig_ign = text().and_then(|t| u64::from_str_radix(t, 16).ok()),
            b"Threads" => out.threads = text().and_then(|t| t.parse().ok()),
            _ => {}
        }
    }
    out
}

/// Splits a NUL-separated `/proc/PID/cmdline` into arguments (a trailing NUL is not an empty
/// argument; a lone NUL is one empty argument, an empty file none).
pub fn split_cmdline(buf: &[u8]) -> Vec<Vec<u8>> {
    if buf.is_empty() {
        return Vec::new();
    }
    let buf = buf.strip_suffix(b"\0").unwrap_or(buf);
    buf.split(|&c| c == 0).map(|a| a.to_vec()).collect()
}

/// The task total of `/proc/loadavg` (the kernel's `nr_threads`: every thread on the node,
/// zombies included): the number after the `/` of the 4th field, as in `0.10 0.20 0.30 2/23 12345`.
pub fn loadavg_tasks(buf: &[u8]) -> Option<u64> {
    let field = buf
        .split(|c| c.is_ascii_whitespace())
        .filter(|f| !f.is_empty())
        .nth(3)?;
    let total = field.split(|&c| c == b'/').nth(1)?;
    std::str::from_utf8(total).ok()?.parse().ok()
}

/// Decoded waitpid-style status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ExitStatus {
    /// Exited with `code`.
    Exited {
        /// `exit(code)` value, 0..=255.
        code: i32,
    },
    /// Killed by signal `signal`.
    Signaled {
        /// Signal number.
        signal: i32,
        /// Whether a core dump was written.
        core_dumped: bool,
    },
}

impl ExitStatus {
    /// Decodes a raw `exit_code` from stat field 52.
    pub fn from_raw(raw: i32) -> ExitStatus {
        let sig = raw & 0x7f;
        if sig == 0 {
            ExitStatus::Exited {
                code: (raw >> 8) & 0xff,
            }
        } else {
            ExitStatus::Signaled {
                signal: sig,
                core_dumped: raw & 0x80 != 0,
            }
        }
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitStatus::Exited { code } => write!(f, "exit {code}"),
            ExitStatus::Signaled {
                signal,
                core_dumped,
            } => {
                write!(
                    f,
                    "signal {signal}{}",
                    if *core_dumped { " (core)" } else { "" }
                )
            }
        }
    }
}

/// `se.exec_start` of a `/proc/PID/sched` file, in milliseconds of the scheduler clock: the
/// last time the task ran. For a zombie that is the moment it exited. `None` when the kernel
/// does not show the line (built without scheduler debug info) or it is malformed.
pub fn sched_exec_start_ms(buf: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(buf).ok()?;
    let line = text.lines().find(|l| l.starts_with("se.exec_start"))?;
    let v: f64 = line.split(':').nth(1)?.trim().parse().ok()?;
    (v.is_finite() && v > 0.0).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(comm: &[u8], state: &str) -> Vec<u8> {
        let mut v = b"1234 (".to_vec();
        v.extend_from_slice(comm);
        v.extend_from_slice(format!(") {state} 77 1234 1234 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 3 0 5555 0 0 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 9\n").as_bytes());
        v
    }

    #[test]
    fn forged_comm_cannot_change_fields() {
        for comm in [
            &b"x) Z 1 ("[..],
            b"a\nb",
            b"\xff\xfe(\x80)",
            b"",
            b"))))",
            b"((((",
            b"a b c d e",
        ] {
            let s = parse_stat(&line(comm, "S")).unwrap();
            assert_eq!(s.comm, comm);
            assert_eq!(s.state, b'S');
            assert_eq!(s.ppid, 77);
            assert_eq!(s.pid, 1234);
            assert_eq!(s.session, 1234);
            assert_eq!(s.num_threads, 3);
            assert_eq!(s.start_ticks, 5555);
            assert_eq!(s.exit_code, Some(9));
        }
    }

    #[test]
    fn garbage_never_panics() {
        for b in [
            &b""[..],
            b"(",
            b")(",
            b"1 (a)",
            b"1 (a) Z",
            b"x (a) Z 1",
            b"1 (a) ZZ 1 2 3",
            b"\xff\xff\xff",
            b"1 (a) Z 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 x 0 5 0",
        ] {
            assert!(parse_stat(b).is_err(), "{:?}", String::from_utf8_lossy(b));
        }
        // Old kernels without field 52 still parse.
        let s = parse_stat(b"5 (a) Z 1 5 5 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99 0 0").unwrap();
        assert_eq!(
            (s.state, s.num_threads, s.start_ticks, s.exit_code),
            (b'Z', 1, 99, None)
        );
    }

    #[test]
    fn status_fields() {
        let st = parse_status(
            b"Name:\tx\\n\xff\nState:\tZ (zombie)\nUid:\t1000\t1000\t1000\t1000\nNSpid:\t4242\t17\t1\nThreads:\t1\nSigIgn:\t0000000000000004\nSigCgt:\t0000000000010000\n",
        );
        assert_eq!(st.nspid, Some(vec![4242, 17, 1]));
        assert_eq!(st.uid, Some(1000));
        assert_eq!(st.threads, Some(1));
        assert_eq!(st.sig_cgt, Some(1 << 16));
        assert_eq!(st.sig_ign, Some(4));
        assert_eq!(parse_status(b"\xff\xff"), StatusFields::default());
    }

    #[test]
    fn exit_status_and_cmdline() {
        assert_eq!(ExitStatus::from_raw(3 << 8), ExitStatus::Exited { code: 3 });
        assert_eq!(
            ExitStatus::from_raw(9),
            ExitStatus::Signaled {
                signal: 9,
                core_dumped: false
            }
        );
        assert_eq!(ExitStatus::from_raw(0x86).to_string(), "signal 6 (core)");
        assert_eq!(
            split_cmdline(b"a\0b c\0\0"),
            vec![b"a".to_vec(), b"b c".to_vec(), vec![]]
        );
        assert!(split_cmdline(b"").is_empty());
        // Found by a property test: argv [""] was read as no argument at all.
        assert_eq!(split_cmdline(b"\0"), vec![Vec::<u8>::new()]);
    }

    #[test]
    fn loadavg() {
        assert_eq!(loadavg_tasks(b"0.10 0.20 0.30 2/23 12345\n"), Some(23));
        for bad in [&b""[..], b"0 0 0 23 1", b"0 0 0 1/x 1", b"0 0 0"] {
            assert_eq!(loadavg_tasks(bad), None);
        }
    }
}
