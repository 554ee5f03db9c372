//! Output lines without `core::fmt`: a fixed buffer, written with one write(2) so lines from reaper
//! and its children never interleave mid-line. Usable inside a signal handler (no allocation, no lock).

use crate::sys;

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

    /// Writes the line and a newline to `fd`.
    pub fn write_to(&mut self, fd: i32) {
        self.buf[self.len] = b'\n';
        sys::write_all(fd, &self.buf[..self.len + 1]);
    }
}

/// Writes `text` as is (multi-line help) to `fd`.
pub fn write_text(fd: i32, text: &str) {
    sys::write_all(fd, text.as_bytes());
}
