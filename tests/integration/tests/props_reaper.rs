//! Property tests of reaper's parsers (the same properties as the fuzz targets reaper_values and
//! reaper_argv, in the normal suite):
//!
//! * the signal-name parser (reaper's own `signals.rs`, compiled here with a stand-in for its
//!   `sys::SigSet`) accepts only 1..=64 and reads back every name it prints;
//! * each persona (reaper, tini, docker-init, dumb-init, catatonit) given random arguments and
//!   persona environment variables never dies by a signal or prints a Rust panic, and every
//!   failure says something on stderr. No argument holds `/`, PATH and the working directory are
//!   an empty directory: no PROGRAM can be found, so nothing but reaper runs. Options that enter
//!   pause mode (which waits forever by design) are not generated.
use integration::{reaper_bin, TempDir};
use proptest::prelude::*;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The part of reaper's `sys` that `signals.rs` uses (a stand-in shared with the fuzz target).
#[allow(dead_code)]
#[path = "../../../fuzz/common/sigset.rs"]
mod sys;

#[allow(dead_code)]
#[path = "../../../crates/reaper/src/signals.rs"]
mod signals;

const PERSONAS: [&str; 5] = ["reaper", "tini", "docker-init", "dumb-init", "catatonit"];
const ENV: [&str; 17] = [
    "CATATONIT_DEBUG",
    "DUMB_INIT_DEBUG",
    "DUMB_INIT_SETSID",
    "REAPER_DRAIN_SIGNAL",
    "REAPER_GRACE",
    "REAPER_GROUP",
    "REAPER_NO_DRAIN",
    "REAPER_PDEATHSIG",
    "REAPER_REMAP_EXIT",
    "REAPER_REWRITE",
    "REAPER_SESSION",
    "REAPER_SUBREAPER",
    "REAPER_USER",
    "REAPER_VERBOSITY",
    "REAPER_WARN_REAPED",
    "TINI_SUBREAPER",
    "TINI_VERBOSITY",
];

/// One argument: an option-looking token, a value (signal, duration, number, FROM:TO), `--`, or
/// random printable bytes; never `/`, never an option that enters pause mode.
fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        "-{1,2}[a-zA-Z][a-zA-Z-]{0,14}(=[a-zA-Z0-9:.+-]{0,8})?",
        "-[a-zA-Z]{1,4}",
        "(SIG)?(TERM|INT|KILL|HUP|USR1|RTMIN|RTMAX)([+-][0-9]{1,3})?|[0-9]{1,4}|-[0-9]{1,3}",
        "[0-9]{0,5}(\\.[0-9]{0,4})?(ms|s|m|h)?",
        "[0-9a-zA-Z]{0,6}:[0-9a-zA-Z]{0,6}",
        Just("--".to_string()),
        Just(String::new()),
        "[ -.0-~]{0,12}",
    ]
    .prop_filter("no pause mode", |t| {
        !matches!(t.as_str(), "-P" | "pause" | "--compat") && !t.starts_with("--compat")
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn signal_names_round_trip(b in proptest::collection::vec(any::<u8>(), 0..24), sig in 0i32..70) {
        if let Some(n) = signals::parse(&b) {
            prop_assert!((1..=64).contains(&n));
        }
        let mut buf = [0u8; 12];
        match signals::name(sig, &mut buf) {
            Some(name) => {
                let name = name.to_vec();
                prop_assert_eq!(signals::parse(&name), Some(sig));
                let mut lower = b"sig".to_vec();
                lower.extend(name.iter().map(u8::to_ascii_lowercase));
                prop_assert_eq!(signals::parse(&lower), Some(sig));
            }
            None => prop_assert!(!(1..=64).contains(&sig) || (32..34).contains(&sig)),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn random_arguments_never_crash_a_persona(
        persona in proptest::sample::select(PERSONAS.to_vec()),
        args in proptest::collection::vec(token(), 0..8),
        env in proptest::collection::vec((0..ENV.len(), token()), 0..3),
    ) {
        let empty = TempDir::new("props-empty");
        let mut cmd = Command::new(reaper_bin());
        cmd.arg0(persona)
            .args(&args)
            .env_clear()
            .env("PATH", empty.path())
            .current_dir(empty.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in &env {
            cmd.env(ENV[*k], v);
        }
        let mut child = cmd.spawn().expect("spawn reaper");
        let started = Instant::now();
        let status = loop {
            if let Some(st) = child.try_wait().unwrap() {
                break st;
            }
            if started.elapsed() > Duration::from_secs(20) {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{persona} {args:?} {env:?}: still running after 20 s");
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        prop_assert!(!err.contains("panicked"), "{} {:?}: {}", persona, args, err);
        prop_assert_eq!(status.signal(), None, "{} {:?} {:?} died by a signal: {}", persona, args, env, err);
        if status.code() != Some(0) {
            prop_assert!(!err.trim().is_empty(), "{} {:?} {:?}: exit {:?} without a word", persona, args, env, status.code());
        }
    }
}
