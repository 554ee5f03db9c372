//! File work: replacing `config.json` atomically, and checking that the reaper to inject can run in
//! any container (a static ELF executable everyone may execute).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The temporary sibling [`replace_atomically`] writes before renaming it over `path`.
pub fn temp_sibling(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.reaper-oci.{}.tmp", std::process::id()))
}

/// Replaces the contents of `path` with `bytes` so that `path` holds, at any instant and after a
/// crash, either the old contents or the new ones in full: a sibling file (same mode and owner) is
/// written and fsync'd, renamed over `path`, then the directory is fsync'd. On error the sibling is
/// removed and `path` is untouched.
pub fn replace_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let meta = fs::metadata(path)?;
    let tmp = temp_sibling(path);
    let result = write_then_rename(path, &tmp, bytes, &meta);
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn write_then_rename(path: &Path, tmp: &Path, bytes: &[u8], meta: &fs::Metadata) -> io::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(meta.mode() & 0o7777)
        .open(tmp)?;
    // Keep the original owner (e.g. a rootless engine's files handled by a root wrapper); only root
    // can change it, and as any other user the file is ours like the original.
    if (f.metadata()?.uid(), f.metadata()?.gid()) != (meta.uid(), meta.gid()) {
        std::os::unix::fs::fchown(&f, Some(meta.uid()), Some(meta.gid()))?;
    }
    f.set_permissions(fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    fs::rename(tmp, path)?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()
}

/// Checks that `path` is an executable every user may run and a static ELF (no program interpreter:
/// the container has no dynamic loader of ours). `Err` says what is wrong and how to fix it.
pub fn check_static_executable(path: &Path) -> Result<(), String> {
    let shown = path.display();
    let meta = fs::metadata(path).map_err(|e| {
        format!(
            "cannot use reaper at {shown}: {e}; install the static reaper there or point \
             --reaper-path / REAPER_OCI_REAPER at it"
        )
    })?;
    if !meta.is_file() {
        return Err(format!("reaper at {shown} is not a regular file"));
    }
    if meta.mode() & 0o111 != 0o111 {
        return Err(format!(
            "reaper at {shown} is not executable by every user (mode {:o}): containers that run \
             as another user could not start it; run `chmod 0755 {shown}`",
            meta.mode() & 0o7777
        ));
    }
    let mut head = Vec::new();
    File::open(path)
        .and_then(|f| f.take(64 * 1024).read_to_end(&mut head))
        .map_err(|e| format!("cannot read reaper at {shown}: {e}"))?;
    match elf_interpreter(&head) {
        Err(why) => Err(format!(
            "reaper at {shown} is not a usable executable ({why}): use the static reaper binary"
        )),
        Ok(true) => Err(format!(
            "reaper at {shown} is dynamically linked: it could not start in containers without \
             its loader and libraries; use the static build (scripts/build-reaper.sh)"
        )),
        Ok(false) => Ok(()),
    }
}

/// Whether an ELF image (its first bytes) asks for a program interpreter (PT_INTERP).
fn elf_interpreter(b: &[u8]) -> Result<bool, &'static str> {
    if b.len() < 52 || &b[..4] != b"\x7fELF" {
        return Err("not an ELF file");
    }
    let is64 = match b[4] {
        1 => false,
        2 => true,
        _ => return Err("unknown ELF class"),
    };
    let le = match b[5] {
        1 => true,
        2 => false,
        _ => return Err("unknown ELF byte order"),
    };
    let u16_at = |o: usize| -> Option<u64> {
        let s: [u8; 2] = b.get(o..o + 2)?.try_into().ok()?;
        Some(if le {
            u16::from_le_bytes(s)
        } else {
            u16::from_be_bytes(s)
        } as u64)
    };
    let u32_at = |o: usize| -> Option<u64> {
        let s: [u8; 4] = b.get(o..o + 4)?.try_into().ok()?;
        Some(if le {
            u32::from_le_bytes(s)
        } else {
            u32::from_be_bytes(s)
        } as u64)
    };
    let u64_at = |o: usize| -> Option<u64> {
        let s: [u8; 8] = b.get(o..o + 8)?.try_into().ok()?;
        Some(if le {
            u64::from_le_bytes(s)
        } else {
            u64::from_be_bytes(s)
        })
    };
    const TRUNC: &str = "truncated ELF header";
    let (phoff, phentsize, phnum) = if is64 {
        (
            u64_at(32).ok_or(TRUNC)?,
            u16_at(54).ok_or(TRUNC)?,
            u16_at(56).ok_or(TRUNC)?,
        )
    } else {
        (
            u32_at(28).ok_or(TRUNC)?,
            u16_at(42).ok_or(TRUNC)?,
            u16_at(44).ok_or(TRUNC)?,
        )
    };
    if u16_at(16) != Some(2) && u16_at(16) != Some(3) {
        return Err("not an executable (ELF type is neither EXEC nor DYN)");
    }
    for i in 0..phnum {
        let at = phoff
            .checked_add(i.checked_mul(phentsize).ok_or(TRUNC)?)
            .ok_or(TRUNC)? as usize;
        let p_type = u32_at(at).ok_or("program headers beyond the first 64 KiB")?;
        if p_type == 3 {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("reaper-oci-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn replace_keeps_mode_and_leaves_no_temp() {
        let d = tmpdir("replace");
        let p = d.join("config.json");
        fs::write(&p, b"old").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o640)).unwrap();
        replace_atomically(&p, b"new contents").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"new contents");
        assert_eq!(fs::metadata(&p).unwrap().mode() & 0o7777, 0o640);
        assert_eq!(fs::read_dir(&d).unwrap().count(), 1);
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_failed_replace_leaves_the_original_and_no_temp() {
        let d = tmpdir("replace-fail");
        let p = d.join("config.json");
        fs::write(&p, b"original").unwrap();
        // The temporary name is taken by a directory: creating the sibling fails.
        fs::create_dir(temp_sibling(&p)).unwrap();
        assert!(replace_atomically(&p, b"new").is_err());
        assert_eq!(fs::read(&p).unwrap(), b"original");
        fs::remove_dir(temp_sibling(&p)).unwrap();
        // A missing file is an error too, and creates nothing.
        assert!(replace_atomically(&d.join("absent.json"), b"x").is_err());
        assert_eq!(fs::read_dir(&d).unwrap().count(), 1);
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn static_and_dynamic_executables_are_told_apart() {
        // This test binary is dynamically linked (a glibc host build) or static (musl); /bin/sh of
        // Debian is dynamic.
        assert!(check_static_executable(Path::new("/bin/sh"))
            .unwrap_err()
            .contains("dynamically linked"));
        let d = tmpdir("elf");
        let script = d.join("reaper");
        fs::write(&script, b"#!/bin/sh\nexit 0\n").unwrap();
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
        assert!(check_static_executable(&script)
            .unwrap_err()
            .contains("not an ELF"));
        fs::set_permissions(&script, fs::Permissions::from_mode(0o700)).unwrap();
        assert!(check_static_executable(&script)
            .unwrap_err()
            .contains("chmod 0755"));
        assert!(check_static_executable(&d.join("missing"))
            .unwrap_err()
            .contains("REAPER_OCI_REAPER"));
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn minimal_static_elf_headers() {
        // A 64-bit little-endian EXEC with one PT_LOAD program header, then the same with PT_INTERP.
        let mut h = vec![0u8; 64 + 56];
        h[..4].copy_from_slice(b"\x7fELF");
        h[4] = 2;
        h[5] = 1;
        h[16] = 2; // ET_EXEC
        h[32] = 64; // e_phoff
        h[54] = 56; // e_phentsize
        h[56] = 1; // e_phnum
        h[64] = 1; // PT_LOAD
        assert_eq!(elf_interpreter(&h), Ok(false));
        h[64] = 3; // PT_INTERP
        assert_eq!(elf_interpreter(&h), Ok(true));
        h[56] = 200; // program headers past the end
        assert!(elf_interpreter(&h).is_ok());
        assert!(elf_interpreter(b"\x7fELF").is_err());
    }
}
