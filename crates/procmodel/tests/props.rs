//! Property tests of the parsers and readers (the same properties as the fuzz targets in fuzz/,
//! run in the normal suite): `/proc/PID/stat` and `status`, `cmdline`, cgroup attribution, name
//! escaping, the JSON rendering of a process, and the bounded reader.

use procmodel::cgroup;
use procmodel::fsread;
use procmodel::model::printable;
use procmodel::parse::{parse_stat, parse_status, split_cmdline};
use proptest::prelude::*;

// The same inverse of `printable` as the fuzz target names_json.
#[path = "../../../fuzz/common/unescape.rs"]
mod unescape;
use unescape::unescape;

fn stat_line(comm: &[u8], state: char, f: &[i64; 6]) -> Vec<u8> {
    let mut v = format!("{} (", f[0]).into_bytes();
    v.extend_from_slice(comm);
    v.extend_from_slice(
        format!(
            ") {state} {} {} {} 0 -1{} 20 0 {} 0 {}{} {}\n",
            f[1],
            f[2],
            f[3],
            " 0".repeat(9),
            f[4],
            f[5],
            " 0".repeat(29),
            f[1]
        )
        .as_bytes(),
    );
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn stat_never_panics(b in proptest::collection::vec(any::<u8>(), 0..1200)) {
        let _ = parse_stat(&b);
    }

    #[test]
    fn forged_comm_never_changes_the_fields(
        comm in proptest::collection::vec(1u8..=255, 0..64),
        state in proptest::sample::select(vec!['R', 'S', 'D', 'Z', 'T', 't', 'X', 'I']),
        pid in 1i64..4_194_304, ppid in 0i64..4_194_304, pgrp in 0i64..4_194_304,
        session in 0i64..4_194_304, threads in 1i64..100_000, start in 0i64..i64::MAX,
    ) {
        let s = parse_stat(&stat_line(&comm, state, &[pid, ppid, pgrp, session, threads, start]))
            .unwrap();
        prop_assert_eq!(&s.comm, &comm);
        prop_assert_eq!(s.state, state as u8);
        prop_assert_eq!(
            (i64::from(s.pid), i64::from(s.ppid), i64::from(s.pgrp), i64::from(s.session)),
            (pid, ppid, pgrp, session)
        );
        prop_assert_eq!((s.num_threads as i64, s.start_ticks as i64), (threads, start));
        prop_assert_eq!(s.exit_code, Some(ppid as i32));
    }

    #[test]
    fn status_round_trips(
        uid in proptest::option::of(any::<u32>()),
        nspid in proptest::option::of(proptest::collection::vec(1i32..i32::MAX, 1..5)),
        cgt in proptest::option::of(any::<u64>()),
        ign in proptest::option::of(any::<u64>()),
        name in proptest::collection::vec(any::<u8>(), 0..40),
        junk in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let _ = parse_status(&junk);
        // The kernel escapes a newline in Name:, so the name cannot hold one.
        let mut text: Vec<u8> = b"Name:\t".to_vec();
        text.extend(name.iter().map(|&c| if c == b'\n' { b'?' } else { c }));
        text.push(b'\n');
        if let Some(u) = uid {
            text.extend(format!("Uid:\t{u}\t{u}\t{u}\t{u}\n").bytes());
        }
        if let Some(n) = &nspid {
            let v: Vec<String> = n.iter().map(|p| p.to_string()).collect();
            text.extend(format!("NSpid:\t{}\n", v.join("\t")).bytes());
        }
        if let Some(m) = cgt {
            text.extend(format!("SigCgt:\t{m:016x}\n").bytes());
        }
        if let Some(m) = ign {
            text.extend(format!("SigIgn:\t{m:016x}\n").bytes());
        }
        let st = parse_status(&text);
        prop_assert_eq!((st.uid, st.nspid, st.sig_cgt, st.sig_ign), (uid, nspid, cgt, ign));
    }

    #[test]
    fn cmdline_split_inverts_join(args in proptest::collection::vec(
        proptest::collection::vec(1u8..=255, 0..20), 0..8)) {
        let mut joined = Vec::new();
        for a in &args {
            joined.extend_from_slice(a);
            joined.push(0);
        }
        prop_assert_eq!(split_cmdline(&joined), args);
    }

    #[test]
    fn printable_is_one_line_and_reversible(b in proptest::collection::vec(any::<u8>(), 0..64)) {
        let p = printable(&b);
        prop_assert!(!p.chars().any(char::is_control), "{:?}", p);
        prop_assert_eq!(unescape(&p), String::from_utf8_lossy(&b));
    }

    #[test]
    fn printable_never_confuses_two_names(a in "[a-z\\\\\n\t\u{1b}]{0,6}", b in "[a-z\\\\\n\t\u{1b}]{0,6}") {
        prop_assert_eq!(printable(a.as_bytes()) == printable(b.as_bytes()), a == b);
    }

    #[test]
    fn process_json_round_trips(comm in proptest::collection::vec(1u8..=255, 0..64),
                                args in proptest::collection::vec(proptest::collection::vec(1u8..=255, 0..10), 0..4)) {
        let line = stat_line(&comm, 'Z', &[7, 1, 7, 7, 1, 5]);
        let s = parse_stat(&line).unwrap();
        let p = procmodel::Process {
            pid: 7, ppid: 1, state: s.state, comm: s.comm.clone(), pgrp: 7, session: 7,
            num_threads: 1, start_ticks: 5, exit_code: s.exit_code, uid: None,
            exited_leader: false, nspid: None, sig_cgt: None, sig_ign: None, cgroups: None,
            attribution: None, cgroup_from_parent: false, cmdline: Some(args.clone()),
            exit_sched_ms: None, wchan: None,
        };
        let v: serde_json::Value = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        prop_assert_eq!(v["comm"].as_str().unwrap(), String::from_utf8_lossy(&comm));
        let got: Vec<&str> = v["cmdline"].as_array().unwrap().iter().map(|x| x.as_str().unwrap()).collect();
        let want: Vec<String> = args.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn attribution_never_panics_and_finds_what_it_names(
        b in proptest::collection::vec(any::<u8>(), 0..300),
        id in "[0-9a-f]{64}",
        uid in "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        qos in proptest::sample::select(vec!["burstable", "besteffort"]),
        prefix in "(/[a-z.]{1,8}){0,2}",
    ) {
        for l in cgroup::parse_cgroup_file(&b) {
            let a = cgroup::attribute(&l.path);
            if let Some(c) = &a.container_id {
                prop_assert!(l.path.contains(c.as_str()));
            }
        }
        let _ = cgroup::attribute(&String::from_utf8_lossy(&b));
        let _ = cgroup::pod_cgroup(&String::from_utf8_lossy(&b));
        // cgroupfs driver and systemd driver layouts of the same pod and container.
        let fs = format!("{prefix}/kubepods/{qos}/pod{uid}/{id}");
        let sd = format!(
            "{prefix}/kubepods.slice/kubepods-{qos}.slice/kubepods-{qos}-pod{}.slice/cri-containerd-{id}.scope",
            uid.replace('-', "_")
        );
        for path in [fs, sd] {
            let a = cgroup::attribute(&path);
            prop_assert_eq!(a.container_id.as_deref(), Some(id.as_str()), "{}", path);
            prop_assert_eq!(a.pod_uid.as_deref(), Some(uid.as_str()), "{}", path);
            let pod = cgroup::pod_cgroup(&path).unwrap();
            prop_assert!(path.starts_with(&pod) && pod.contains("pod"), "{}", path);
        }
        let file = format!("12:pids:/kubepods/{qos}/pod{uid}/{id}\n0::/\n");
        let lines = cgroup::parse_cgroup_file(file.as_bytes());
        prop_assert_eq!(cgroup::preferred_line(&lines).unwrap().controllers.clone(), vec!["pids".to_string()]);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// The bounded reader: a file is read whole iff it fits its cap, and the bytes are exact.
    #[test]
    fn bounded_reads_are_exact_or_refused(size in 0usize..20_000, cap in 1usize..16_384) {
        let dir = std::env::temp_dir().join(format!("procmodel-props-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("f{size}-{cap}"));
        let content: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &content).unwrap();
        let r = fsread::read(&path, cap);
        std::fs::remove_file(&path).unwrap();
        match r {
            Ok(b) => {
                prop_assert!(size <= cap);
                prop_assert_eq!(b, content);
            }
            Err(e) => {
                prop_assert!(size > cap, "{}", e);
                let want = format!("larger than {} bytes", cap);
                prop_assert!(e.to_string().contains(&want));
            }
        }
    }
}
