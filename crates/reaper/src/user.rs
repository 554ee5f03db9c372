//! `--user USER[:GROUP]` resolved from /etc/passwd and /etc/group, without NSS (a static binary has
//! none, and a container image rarely configures it).

use crate::signals::parse_uint;
use crate::sys;
use alloc::vec::Vec;

/// Who PROGRAM runs as.
#[derive(Debug, PartialEq, Eq)]
pub struct Identity {
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    /// The home directory from /etc/passwd, for `HOME` (None when the user is not listed).
    pub home: Option<Vec<u8>>,
}

/// Why a `--user` value could not be resolved.
#[derive(Debug, PartialEq, Eq)]
pub enum UserError {
    /// The user name is not in /etc/passwd.
    UnknownUser,
    /// The group name is not in /etc/group.
    UnknownGroup,
}

impl UserError {
    /// What to tell a person.
    pub fn text(&self) -> &'static str {
        match self {
            UserError::UnknownUser => {
                "no such user in /etc/passwd (give a numeric uid, or add the user to the image)"
            }
            UserError::UnknownGroup => {
                "no such group in /etc/group (give a numeric gid, or add the group to the image)"
            }
        }
    }
}

/// Reads a whole small file; a missing or unreadable file reads as empty.
fn read_file(path: &core::ffi::CStr) -> Vec<u8> {
    let mut data = Vec::new();
    let Ok(fd) = sys::Fd::open(path) else {
        return data;
    };
    let mut chunk = [0u8; 4096];
    while let Ok(n) = fd.read(&mut chunk) {
        if n == 0 {
            break;
        }
        data.extend_from_slice(&chunk[..n]);
    }
    data
}

/// Resolves `spec` against the system's /etc/passwd and /etc/group.
pub fn resolve(spec: &[u8]) -> Result<Identity, UserError> {
    resolve_in(spec, &read_file(c"/etc/passwd"), &read_file(c"/etc/group"))
}

/// Resolves `spec` against the given passwd and group file contents.
pub fn resolve_in(spec: &[u8], passwd: &[u8], group: &[u8]) -> Result<Identity, UserError> {
    let (user, grp) = match spec.iter().position(|&c| c == b':') {
        Some(i) => (&spec[..i], Some(&spec[i + 1..])),
        None => (spec, None),
    };
    // passwd: name:x:uid:gid:gecos:home:shell
    let entry = passwd.split(|&c| c == b'\n').map(fields).find(|(f, n)| {
        *n >= 4
            && (f[0] == user
                || parse_uint(user, u32::MAX as u64)
                    .is_some_and(|u| Some(u) == parse_uint(f[2], u32::MAX as u64)))
    });
    let (uid, primary, name, home) = match (&entry, parse_uint(user, u32::MAX as u64)) {
        (Some((f, n)), _) => (
            parse_uint(f[2], u32::MAX as u64).ok_or(UserError::UnknownUser)? as u32,
            parse_uint(f[3], u32::MAX as u64).unwrap_or(0) as u32,
            Some(f[0]),
            (*n > 5).then(|| f[5].to_vec()),
        ),
        // A numeric uid the image does not list: group 0, as Docker and runc do.
        (None, Some(u)) => (u as u32, 0, None, None),
        (None, None) => return Err(UserError::UnknownUser),
    };
    let gid = match grp {
        None | Some(b"") => primary,
        Some(g) => match parse_uint(g, u32::MAX as u64) {
            Some(n) => n as u32,
            None => group
                .split(|&c| c == b'\n')
                .map(fields)
                .find(|(f, n)| *n >= 3 && f[0] == g)
                .and_then(|(f, _)| parse_uint(f[2], u32::MAX as u64))
                .ok_or(UserError::UnknownGroup)? as u32,
        },
    };
    // Supplementary groups: every group listing the user by name, plus the primary group.
    let mut groups = Vec::new();
    groups.push(gid);
    if let Some(name) = name {
        for (f, n) in group.split(|&c| c == b'\n').map(fields) {
            if n >= 4 && f[3].split(|&c| c == b',').any(|m| m == name) {
                if let Some(g) = parse_uint(f[2], u32::MAX as u64) {
                    if !groups.contains(&(g as u32)) {
                        groups.push(g as u32);
                    }
                }
            }
        }
    }
    Ok(Identity {
        uid,
        gid,
        groups,
        home,
    })
}

/// The first six `:`-separated fields of a line (all that is read of a passwd or group entry), and
/// how many fields it has, counting at most six.
fn fields(line: &[u8]) -> ([&[u8]; 6], usize) {
    let mut f = [&line[..0]; 6];
    let mut n = 0;
    for (slot, field) in f.iter_mut().zip(line.split(|&c| c == b':')) {
        *slot = field;
        n += 1;
    }
    (f, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &[u8] = b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\napp:x:1000:1000::/home/app:/bin/sh\n";
    const GROUP: &[u8] =
        b"root:x:0:\nnogroup:x:65534:\napp:x:1000:\nwheel:x:10:app,other\naudio:x:29:app\n";

    #[test]
    fn by_name_with_supplementary_groups() {
        let id = resolve_in(b"app", PASSWD, GROUP).unwrap();
        assert_eq!((id.uid, id.gid), (1000, 1000));
        assert_eq!(id.groups, vec![1000, 10, 29]);
        assert_eq!(id.home.as_deref(), Some(&b"/home/app"[..]));
    }

    #[test]
    fn numeric_and_group_override() {
        let id = resolve_in(b"4242:77", PASSWD, GROUP).unwrap();
        assert_eq!((id.uid, id.gid, id.groups.clone()), (4242, 77, vec![77]));
        let id = resolve_in(b"4242", PASSWD, GROUP).unwrap();
        assert_eq!((id.uid, id.gid), (4242, 0));
        let id = resolve_in(b"nobody:app", PASSWD, GROUP).unwrap();
        assert_eq!((id.uid, id.gid), (65534, 1000));
        let id = resolve_in(b"65534", PASSWD, GROUP).unwrap();
        assert_eq!((id.uid, id.gid), (65534, 65534));
    }

    #[test]
    fn unknown_names() {
        assert_eq!(
            resolve_in(b"ghost", PASSWD, GROUP),
            Err(UserError::UnknownUser)
        );
        assert_eq!(
            resolve_in(b"app:ghosts", PASSWD, GROUP),
            Err(UserError::UnknownGroup)
        );
    }
}
