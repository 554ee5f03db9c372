//! `/proc/PID/status`, `cmdline` and `loadavg` parsers: never panic on any bytes; a status
//! rebuilt from the parsed fields parses back to them; cmdline splitting inverts joining.
#![no_main]
use libfuzzer_sys::fuzz_target;
use procmodel::parse::{loadavg_tasks, parse_status, split_cmdline};

fuzz_target!(|data: &[u8]| {
    let st = parse_status(data);
    let mut text = String::from("Name:\tx\n");
    if let Some(u) = st.uid {
        text += &format!("Uid:\t{u}\t{u}\t{u}\t{u}\n");
    }
    if let Some(n) = &st.nspid {
        if !n.is_empty() {
            let v: Vec<String> = n.iter().map(|p| p.to_string()).collect();
            text += &format!("NSpid:\t{}\n", v.join("\t"));
        }
    }
    if let Some(m) = st.sig_cgt {
        text += &format!("SigCgt:\t{m:016x}\n");
    }
    if let Some(m) = st.sig_ign {
        text += &format!("SigIgn:\t{m:016x}\n");
    }
    if let Some(t) = st.threads {
        text += &format!("Threads:\t{t}\n");
    }
    let again = parse_status(text.as_bytes());
    assert_eq!(again.uid, st.uid);
    assert_eq!(again.sig_cgt, st.sig_cgt);
    assert_eq!(again.sig_ign, st.sig_ign);
    assert_eq!(again.threads, st.threads);
    if st.nspid.as_ref().is_some_and(|n| !n.is_empty()) {
        assert_eq!(again.nspid, st.nspid);
    }

    let args = split_cmdline(data);
    let mut joined = Vec::new();
    for a in &args {
        joined.extend_from_slice(a);
        joined.push(0);
    }
    assert_eq!(split_cmdline(&joined), args);
    let _ = loadavg_tasks(data);
});
