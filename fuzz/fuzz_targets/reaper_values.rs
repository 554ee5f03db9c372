//! reaper's signal-name and number parser (`signals::parse`, shared by every persona's
//! `-s`/`-p`/`--rewrite`/drain-signal options): never panics; accepts only 1..=64; every name
//! `signals::name` prints parses back to its number, with or without `SIG`, in any case.
//! The source file is reaper's own, compiled here with a stand-in for its `sys::SigSet`.
#![no_main]
use libfuzzer_sys::fuzz_target;

/// The part of reaper's `sys` that `signals.rs` uses (a stand-in).
#[allow(dead_code)]
#[path = "../common/sigset.rs"]
mod sys;

#[allow(dead_code)]
#[path = "../../crates/reaper/src/signals.rs"]
mod signals;

fuzz_target!(|data: &[u8]| {
    if let Some(n) = signals::parse(data) {
        assert!((1..=64).contains(&n), "{n} from {data:?}");
    }
    let _ = signals::parse_uint(data, u64::MAX);
    if let Some(v) = signals::parse_uint(data, 1000) {
        assert!(v <= 1000);
        assert_eq!(std::str::from_utf8(data).unwrap().parse::<u64>().unwrap(), v);
    }
    // Round trip of the name of the signal the input's first byte picks.
    let sig = i32::from(data.first().copied().unwrap_or(0)) % 70;
    let mut buf = [0u8; 12];
    if let Some(name) = signals::name(sig, &mut buf) {
        let name = name.to_vec();
        assert_eq!(signals::parse(&name), Some(sig), "{}", String::from_utf8_lossy(&name));
        let mut with = b"sig".to_vec();
        with.extend(name.iter().map(u8::to_ascii_lowercase));
        assert_eq!(signals::parse(&with), Some(sig));
    } else {
        assert!(!(1..=64).contains(&sig) || (32..34).contains(&sig));
    }
});
