//! Name escaping and the JSON renderer: `printable` never leaves a control character, escapes
//! every backslash (so unescaping gives back the lossy name: two different names never print the
//! same), and a process with any comm/cmdline bytes renders to JSON that parses back to the same
//! (lossy) strings.
#![no_main]
use libfuzzer_sys::fuzz_target;
use procmodel::model::printable;

#[path = "../common/unescape.rs"]
mod unescape;
use unescape::unescape;

fuzz_target!(|data: &[u8]| {
    let p = printable(data);
    assert!(!p.chars().any(char::is_control), "{p:?}");
    assert_eq!(unescape(&p), String::from_utf8_lossy(data));

    let mut line = b"7 (".to_vec();
    line.extend(data.iter().map(|&c| if c == 0 { b'0' } else { c }).take(64));
    line.extend_from_slice(b") Z 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 9\n");
    let s = procmodel::parse::parse_stat(&line).expect("a stat line with any comm parses");
    let proc_ = procmodel::Process {
        pid: 7,
        ppid: 1,
        state: s.state,
        comm: s.comm.clone(),
        pgrp: 7,
        session: 7,
        num_threads: 1,
        start_ticks: 5,
        exit_code: s.exit_code,
        uid: None,
        exited_leader: false,
        nspid: None,
        sig_cgt: None,
        sig_ign: None,
        cgroups: Some(procmodel::cgroup::parse_cgroup_file(data)),
        attribution: None,
        cgroup_from_parent: false,
        cmdline: Some(procmodel::parse::split_cmdline(data)),
        exit_sched_ms: None,
        wchan: None,
    };
    let json = serde_json::to_string(&proc_).unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["comm"].as_str().unwrap(), String::from_utf8_lossy(&s.comm));
    let args = v["cmdline"].as_array().unwrap();
    for (a, b) in args.iter().zip(proc_.cmdline.as_ref().unwrap()) {
        assert_eq!(a.as_str().unwrap(), String::from_utf8_lossy(b));
    }
    for (a, b) in v["cgroups"].as_array().unwrap().iter().zip(proc_.cgroups.as_ref().unwrap()) {
        assert_eq!(a["path"].as_str().unwrap(), b.path);
    }
});
