//! `--user USER[:GROUP]` (tini#74, tini#199; docs/reaper.md `-u`): PROGRAM runs with that uid, gid
//! and the supplementary groups listed for USER in /etc/group (read from the files, no NSS); HOME
//! comes from /etc/passwd. Numeric ids work without any entry (gid 0 for an unknown uid with no
//! GROUP), and reaper's own supplementary groups never leak. A bad user or group is a usage error.
//! Most cases run against a private /etc/passwd and /etc/group bind-mounted in a private mount
//! namespace, so the test does not depend on the machine's accounts.
use integration::{fake_user_db, parse_status_field, Init, Mode, Outcome, TempDir, MODES};
use std::collections::BTreeSet;
use std::io;

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh
alice:x:2001:2002:Alice:/home/alice:/bin/sh
bob:x:2003:2003::/home/bob:/bin/sh
";
const GROUP: &str = "root:x:0:
alicegrp:x:2002:
bob:x:2003:
g1:x:3001:bob,alice
g2:x:3002:alice
g3:x:3003:bob
";

struct Ids {
    uid: Vec<u32>,
    gid: Vec<u32>,
    groups: BTreeSet<u32>,
    home: String,
}

fn ids(out: &Outcome) -> Ids {
    let nums = |k: &str| -> Vec<u32> {
        parse_status_field(&out.stdout, k)
            .unwrap_or_else(|| panic!("no {k}\n{out}"))
            .split_whitespace()
            .map(|n| n.parse().unwrap())
            .collect()
    };
    let home = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("HOME="))
        .unwrap_or_else(|| panic!("no HOME line\n{out}"))
        .to_string();
    Ids {
        uid: nums("Uid"),
        gid: nums("Gid"),
        groups: nums("Groups").into_iter().collect(),
        home,
    }
}

const SHOW: &str = r#"cat /proc/self/status; echo "HOME=$HOME""#;

/// Runs `reaper USERARGS sh -c SHOW` with the fake user database, with reaper itself holding the
/// supplementary groups 4242 and 4343 (which must not reach PROGRAM).
#[allow(unsafe_code)] // setgroups in the child: libc calls std does not wrap
fn as_user(mode: Mode, user_args: &[&str], env: Option<&str>) -> Outcome {
    let db = TempDir::new("userdb");
    let (pw, gr) = (db.path().join("passwd"), db.path().join("group"));
    std::fs::write(&pw, PASSWD).unwrap();
    std::fs::write(&gr, GROUP).unwrap();
    let mut init = Init::reaper(mode)
        .cwd("/")
        .env("HOME", "/root")
        .pre_exec(fake_user_db(&pw, &gr))
        .pre_exec(|| {
            let g: [libc::gid_t; 2] = [4242, 4343];
            // SAFETY: setgroups with a valid array; async-signal-safe.
            if unsafe { libc::setgroups(2, g.as_ptr()) } != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        })
        .args(user_args);
    if let Some(u) = env {
        init = init.env("REAPER_USER", u);
    }
    init.args(["sh", "-c", SHOW]).run()
}

fn check(
    mode: Mode,
    args: &[&str],
    env: Option<&str>,
    uid: u32,
    gid: u32,
    listed: &[u32],
    home: &str,
) {
    let out = as_user(mode, args, env);
    out.assert_code(0);
    let got = ids(&out);
    assert_eq!(got.uid, vec![uid; 4], "{mode:?} {args:?}: Uid\n{out}");
    assert_eq!(got.gid, vec![gid; 4], "{mode:?} {args:?}: Gid\n{out}");
    // The groups listing the user must all be there; besides them only the primary gid may appear
    // (initgroups semantics); reaper's own 4242/4343 never.
    let must: BTreeSet<u32> = listed.iter().copied().collect();
    let may: BTreeSet<u32> = must.iter().copied().chain([gid]).collect();
    assert!(
        must.is_subset(&got.groups) && got.groups.is_subset(&may),
        "{mode:?} {args:?}: Groups {:?}, want {must:?} (plus at most {gid})\n{out}",
        got.groups
    );
    assert_eq!(got.home, home, "{mode:?} {args:?}: HOME\n{out}");
}

/// Names: USER alone (primary group from /etc/passwd, supplementary from /etc/group, HOME),
/// USER:GROUP by name and by number, long option and REAPER_USER.
#[test]
fn user_by_name_with_supplementary_groups() {
    for mode in MODES {
        check(
            mode,
            &["--user", "alice"],
            None,
            2001,
            2002,
            &[3001, 3002],
            "/home/alice",
        );
        check(
            mode,
            &["-u", "alice:g3"],
            None,
            2001,
            3003,
            &[3001, 3002],
            "/home/alice",
        );
        check(
            mode,
            &["-u", "alice:4000"],
            None,
            2001,
            4000,
            &[3001, 3002],
            "/home/alice",
        );
        check(
            mode,
            &["-u", "bob"],
            None,
            2003,
            2003,
            &[3001, 3003],
            "/home/bob",
        );
        check(
            mode,
            &[],
            Some("alice"),
            2001,
            2002,
            &[3001, 3002],
            "/home/alice",
        );
    }
}

/// Numeric ids need no entry: `12345:23456`; `12345` alone (unknown uid) gets gid 0; a numeric uid
/// that is listed (`2001`) gets alice's groups. No supplementary group of reaper leaks.
#[test]
fn numeric_user() {
    for mode in MODES {
        check(
            mode,
            &["-u", "12345:23456"],
            None,
            12345,
            23456,
            &[],
            "/root",
        );
        check(mode, &["-u", "12345"], None, 12345, 0, &[], "/root");
        check(
            mode,
            &["-u", "2001"],
            None,
            2001,
            2002,
            &[3001, 3002],
            "/home/alice",
        );
    }
}

/// The machine's own `nobody` from the real /etc/passwd (no private database).
#[test]
fn nobody_from_the_real_passwd() {
    let passwd = std::fs::read_to_string("/etc/passwd").expect("/etc/passwd");
    let line = passwd
        .lines()
        .find(|l| l.starts_with("nobody:"))
        .expect("this machine's /etc/passwd has no 'nobody' (Debian always has one)");
    let f: Vec<&str> = line.split(':').collect();
    let (uid, gid): (u32, u32) = (f[2].parse().unwrap(), f[3].parse().unwrap());
    for mode in MODES {
        let out = Init::reaper(mode)
            .cwd("/")
            .args(["-u", "nobody", "sh", "-c", SHOW])
            .run();
        out.assert_code(0);
        let got = ids(&out);
        assert_eq!(got.uid, vec![uid; 4], "{mode:?}\n{out}");
        assert_eq!(got.gid, vec![gid; 4], "{mode:?}\n{out}");
        assert!(
            got.groups.iter().all(|&g| g == gid || g != 0),
            "{mode:?}: root group leaked\n{out}"
        );
        assert_eq!(got.home, f[5], "{mode:?}\n{out}");
    }
}

/// An unknown user or group name is a usage error (docs/reaper.md: a bad value gives exit 2 and one
/// line naming it); PROGRAM does not run.
#[test]
fn bad_user_is_a_clear_error() {
    for mode in MODES {
        for spec in ["no-such-user", "alice:no-such-group", "no-such-user:g1"] {
            let dir = TempDir::new("baduser");
            let marker = dir.file("ran");
            let db = TempDir::new("userdb");
            let (pw, gr) = (db.path().join("passwd"), db.path().join("group"));
            std::fs::write(&pw, PASSWD).unwrap();
            std::fs::write(&gr, GROUP).unwrap();
            let out = Init::reaper(mode)
                .pre_exec(fake_user_db(&pw, &gr))
                .args(["-u", spec, "touch", &marker])
                .run();
            out.assert_code(2);
            let lines = out.stderr_lines();
            let bad = spec
                .split(':')
                .find(|p| p.starts_with("no-such"))
                .unwrap_or(spec);
            assert!(
                lines.len() == 1 && lines[0].starts_with("reaper:") && lines[0].contains(bad),
                "{mode:?} {spec}: want one 'reaper: ...' line naming {bad:?}\n{out}"
            );
            assert!(
                !std::path::Path::new(&marker).exists(),
                "{mode:?} {spec}: PROGRAM ran"
            );
        }
    }
}
