//! Bounded, non-blocking reads of `/proc` and `/sys` files.
//!
//! Every file this crate (and `zombies serve`) reads under a procfs or cgroupfs root goes
//! through here, so a crafted tree (`--proc-root` pointing at a directory someone else can
//! write) cannot hang or exhaust the reader:
//!
//! * files are opened with `O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC`: opening a FIFO
//!   does not wait for a writer, a symbolic link in place of the file is refused (`/proc/PID/stat`
//!   linked to `/dev/zero`), and a terminal never becomes the controlling one;
//! * anything but a regular file is refused (procfs and cgroupfs files are regular files);
//! * every read is capped at what the kernel can produce for that file (the `*_MAX`
//!   constants): the buffer starts small, grows only when a read fills it, and a file larger
//!   than the cap is an error, so a 300 MB file costs one bounded read, not 300 MB.
//!
//! The errors name the path's problem ("not a regular file (FIFO)", "larger than N bytes") and
//! are counted by the scanner as read errors of that entry.
//!
//! The scanner's hot path ([`read_at`]) reads `/proc/PID/stat` with `openat` + `read` +
//! `close` only (3 system calls): the type check costs an `fstat` only when the read looks
//! wrong (empty, failed or too large), which a real procfs never produces.

use std::ffi::CStr;
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// Flags added to `O_RDONLY | O_CLOEXEC` for every open.
pub const OPEN_FLAGS: libc::c_int = libc::O_NONBLOCK | libc::O_NOFOLLOW | libc::O_NOCTTY;

/// Cap of `/proc/PID/stat` (and `task/TID/stat`): a name of at most 64 bytes and 52 numbers of
/// at most 20 digits make about 1.2 KB; one page is the kernel's own first buffer.
pub const STAT_MAX: usize = 4096;
/// First buffer for `/proc/PID/stat`: real lines are 250-400 bytes, so one `read` suffices.
pub const STAT_FIRST: usize = 1024;
/// Cap of `/proc/PID/status` and `/proc/PID/sched` (about 1.5 and 3 KB; long
/// `Cpus_allowed_list`/`NSpid` lines stay far below this).
pub const STATUS_MAX: usize = 64 * 1024;
/// Cap of `/proc/PID/cgroup`: one line per hierarchy (about 15), each path at most `PATH_MAX`.
pub const CGROUP_MAX: usize = 64 * 1024;
/// Cap of `/proc/PID/cmdline`: the argument area the kernel shows is bounded by `ARG_MAX`
/// (a quarter of the default 8 MiB stack limit).
pub const CMDLINE_MAX: usize = 2 * 1024 * 1024;
/// Cap of one-line files: `loadavg`, `uptime`, `wchan`, `sys/kernel/*`, `pids.current`,
/// `pids.max`, `pids.events`, `cgroup.controllers`.
pub const LINE_MAX: usize = 4096;
/// Cap of `/proc/stat` (one line per CPU, one long `intr` line).
pub const PROC_STAT_MAX: usize = 1024 * 1024;
/// Cap of a cgroup task list (`tasks`, `cgroup.procs`, `cgroup.threads`): at most `pid_max`
/// (2^22) pids of at most 7 digits and a newline.
pub const TASK_LIST_MAX: usize = 32 * 1024 * 1024;

/// The error for a file larger than its cap.
pub fn too_large(max: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "larger than {max} bytes, more than the kernel writes for this file: \
             refused (is --proc-root/--sys-root a real procfs/cgroupfs?)"
        ),
    )
}

fn type_name(ft: std::fs::FileType) -> &'static str {
    if ft.is_dir() {
        "a directory"
    } else if ft.is_fifo() {
        "a FIFO"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_block_device() {
        "a block device"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_symlink() {
        "a symbolic link"
    } else {
        "not a regular file"
    }
}

/// The error for a file that is not a regular file.
pub fn not_regular(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{what} where procfs/cgroupfs has a regular file: refused"),
    )
}

fn map_open_error(e: io::Error) -> io::Error {
    if e.raw_os_error() == Some(libc::ELOOP) {
        return not_regular("a symbolic link");
    }
    e
}

/// Opens `path` for reading with [`OPEN_FLAGS`] and checks that it is a regular file.
pub fn open(path: &Path) -> io::Result<File> {
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(OPEN_FLAGS)
        .open(path)
        .map_err(map_open_error)?;
    let ft = f.metadata()?.file_type();
    if !ft.is_file() {
        return Err(not_regular(type_name(ft)));
    }
    Ok(f)
}

/// Reads all of `r` into `buf` (replacing its content), starting with a buffer of `first`
/// bytes and growing it only when a read fills it; fails with [`too_large`] past `max` bytes.
/// Returns the length read. With `short_read_ends`, a read that does not fill the buffer is
/// taken as the end (true of procfs's one-record files and of regular files), saving the
/// final zero-length `read`.
pub fn read_into(
    r: &mut impl Read,
    buf: &mut Vec<u8>,
    first: usize,
    max: usize,
    short_read_ends: bool,
) -> io::Result<usize> {
    let first = first.clamp(1, max.saturating_add(1));
    if buf.len() < first {
        buf.resize(first, 0);
    }
    let mut len = 0;
    loop {
        if len == buf.len() {
            if len > max {
                return Err(too_large(max));
            }
            let grown = (buf.len() * 4).min(max.saturating_add(1));
            buf.resize(grown, 0);
        }
        match r.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => {
                len += n;
                if short_read_ends && len < buf.len() {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    if len > max {
        return Err(too_large(max));
    }
    Ok(len)
}

/// Reads the regular file `path` whole, at most `max` bytes (see the module documentation).
pub fn read(path: &Path, max: usize) -> io::Result<Vec<u8>> {
    let mut f = open(path)?;
    let mut buf = Vec::new();
    let n = read_into(&mut f, &mut buf, max.min(4096), max, false)?;
    buf.truncate(n);
    Ok(buf)
}

/// [`read`] as UTF-8 text.
pub fn read_string(path: &Path, max: usize) -> io::Result<String> {
    String::from_utf8(read(path, max)?)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text"))
}

/// A one-line file holding a decimal number (`pid_max`, `pids.current`), when readable.
pub fn read_u64(path: &Path) -> Option<u64> {
    read_string(path, LINE_MAX).ok()?.trim().parse().ok()
}

/// Counts the newlines of the regular file `path` with the fixed buffer `buf` (never grown),
/// failing with [`too_large`] past `max` bytes.
pub fn count_lines(path: &Path, buf: &mut [u8], max: usize) -> io::Result<u64> {
    let mut f = open(path)?;
    let (mut total, mut lines) = (0usize, 0u64);
    loop {
        match f.read(buf) {
            Ok(0) => return Ok(lines),
            Ok(n) => {
                total += n;
                if total > max {
                    return Err(too_large(max));
                }
                lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Why a read through a file that opened fine went wrong: "not a regular file" when its
/// metadata says so, else `e` itself.
fn classify(f: &File, e: io::Error) -> io::Error {
    match f.metadata() {
        Ok(m) if !m.file_type().is_file() => not_regular(type_name(m.file_type())),
        _ => e,
    }
}

/// Reads `name` relative to the directory `dirfd` into `buf` with `openat` + `read` + `close`
/// (one `read` when the content fits in `buf`, which starts at `first` bytes and is kept, grown,
/// for the next call). Fails past `max` bytes, on an empty file, and on anything that is not a
/// regular file (checked with `fstat` only then, so a real procfs costs 3 system calls).
pub fn read_at(
    dir: BorrowedFd<'_>,
    name: &CStr,
    buf: &mut Vec<u8>,
    first: usize,
    max: usize,
) -> io::Result<usize> {
    // SAFETY: `name` is NUL-terminated and `dir` an open descriptor for the whole call.
    let fd = unsafe {
        libc::openat(
            dir.as_raw_fd(),
            name.as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC | OPEN_FLAGS,
        )
    };
    if fd < 0 {
        return Err(map_open_error(io::Error::last_os_error()));
    }
    // SAFETY: `openat` just returned this descriptor, owned by nothing else; the `File` closes
    // it once, when dropped.
    let mut f = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    match read_into(&mut f, buf, first, max, true) {
        Ok(0) => Err(classify(
            &f,
            io::Error::new(io::ErrorKind::UnexpectedEof, "empty file"),
        )),
        Ok(n) => Ok(n),
        Err(e) => Err(classify(&f, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;
    use std::os::fd::AsFd;

    fn tmp(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("procmodel-fsread-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn caps_refusals_and_growth() {
        let d = tmp("caps");
        std::fs::write(d.join("small"), b"42\n").unwrap();
        assert_eq!(read_u64(&d.join("small")), Some(42));
        std::fs::write(d.join("big"), vec![b'7'; 10_000]).unwrap();
        let e = read(&d.join("big"), 5000).unwrap_err();
        assert!(e.to_string().contains("larger than 5000 bytes"), "{e}");
        assert_eq!(read(&d.join("big"), 10_000).unwrap().len(), 10_000);
        std::os::unix::fs::symlink("/dev/zero", d.join("zero")).unwrap();
        let e = read(&d.join("zero"), LINE_MAX).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        let e = read(Path::new("/dev/zero"), LINE_MAX).unwrap_err();
        assert!(e.to_string().contains("character device"), "{e}");
        let fifo = CString::new(d.join("fifo").as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        let e = read(&d.join("fifo"), LINE_MAX).unwrap_err();
        assert!(e.to_string().contains("FIFO"), "{e}");
        let lines = d.join("lines");
        std::fs::write(&lines, "1\n2\n3\n").unwrap();
        assert_eq!(count_lines(&lines, &mut [0u8; 2], 100).unwrap(), 3);
        assert!(count_lines(&lines, &mut [0u8; 2], 5).is_err());

        let dir = File::open(&d).unwrap();
        let mut buf = Vec::new();
        let n = read_at(dir.as_fd(), c"big", &mut buf, 16, 20_000).unwrap();
        assert_eq!(n, 10_000);
        let e = read_at(dir.as_fd(), c"fifo", &mut buf, 16, 100).unwrap_err();
        assert!(e.to_string().contains("FIFO"), "{e}");
        let e = read_at(dir.as_fd(), c"zero", &mut buf, 16, 100).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        let _ = std::fs::remove_dir_all(&d);
    }
}
