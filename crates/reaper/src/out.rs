//! Output lines without `core::fmt`: a fixed buffer, written with one write(2) so lines from reaper
//! and its children never interleave mid-line. Usable inside a signal handler (no allocation, no lock).
//!
//! Log lines never block: once [`open_log`] ran, they go to a non-blocking description of stderr. A
//! line that does not fit (a full pipe nobody reads) or cannot be written is dropped and counted; the
//! count is reported by the next line that gets through, and at exit ([`report_drops`]). A PID 1 that
//! waits for its log reader stops reaping and forwarding.

use crate::sys::{self, LogKind};
use core::sync::atomic::{AtomicI32, AtomicU64, Ordering::Relaxed};

/// Where log lines go (fd 2 until [`open_log`]), and how to write there without blocking.
static LOG_FD: AtomicI32 = AtomicI32::new(STDERR);
static LOG_SOCKET: AtomicI32 = AtomicI32::new(0);
/// Log lines dropped so far, and how many of them were already reported.
static DROPPED: AtomicU64 = AtomicU64::new(0);
static REPORTED: AtomicU64 = AtomicU64::new(0);

/// Switches logs to a descriptor that never blocks.
pub fn open_log() {
    let (fd, kind) = sys::open_log();
    LOG_SOCKET.store((kind == LogKind::Socket) as i32, Relaxed);
    LOG_FD.store(fd, Relaxed);
}

/// The log descriptor (to keep open when closing inherited ones).
pub fn log_fd() -> i32 {
    LOG_FD.load(Relaxed)
}

fn log_bytes(bytes: &[u8]) -> bool {
    let kind = if LOG_SOCKET.load(Relaxed) != 0 {
        LogKind::Socket
    } else {
        LogKind::Write
    };
    sys::write_log(LOG_FD.load(Relaxed), kind, bytes)
}

/// Writes a log line (with its newline) without blocking: dropped and counted when it does not fit.
pub fn log(line: &[u8]) {
    report_drops();
    if !log_bytes(line) {
        DROPPED.fetch_add(1, Relaxed);
    }
}

/// Says how many log lines were dropped since the last report, if any (and if it fits now).
pub fn report_drops() {
    let dropped = DROPPED.load(Relaxed);
    let reported = REPORTED.load(Relaxed);
    if dropped > reported {
        let mut l = Line::new();
        l.s("reaper: ")
            .n((dropped - reported) as i64)
            .s(" log line(s) dropped: stderr was full or closed\n");
        if log_bytes(l.as_bytes()) {
            REPORTED.store(dropped, Relaxed);
        }
    }
}

/// Standard output.
pub const STDOUT: i32 = 1;
/// Standard error: every log line of reaper goes here.
pub const STDERR: i32 = 2;

/// One line of output being built.
pub struct Line {
    buf: [u8; 1024],
    len: usize,
}

impl Default for Line {
    fn default() -> Self {
        Self::new()
    }
}

impl Line {
    /// An empty line.
    pub const fn new() -> Line {
        Line {
            buf: [0; 1024],
            len: 0,
        }
    }

    /// Appends bytes (truncated when the line is full).
    pub fn b(&mut self, bytes: &[u8]) -> &mut Line {
        let room = self.buf.len() - 1 - self.len; // keep one byte for the newline
        let n = bytes.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&bytes[..n]);
        self.len += n;
        self
    }

    /// Appends text.
    pub fn s(&mut self, text: &str) -> &mut Line {
        self.b(text.as_bytes())
    }

    /// Appends a decimal number.
    pub fn n(&mut self, value: i64) -> &mut Line {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        let mut v = value.unsigned_abs();
        loop {
            i -= 1;
            digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        if value < 0 {
            self.b(b"-");
        }
        self.b(&digits[i..])
    }

    /// The text so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Writes the line and a newline to the log (stderr), without blocking.
    pub fn log(&mut self) {
        self.buf[self.len] = b'\n';
        log(&self.buf[..self.len + 1]);
    }
}

/// Writes `text` as is (multi-line help) to `fd`.
pub fn write_text(fd: i32, text: &str) {
    sys::write_all(fd, text.as_bytes());
}
