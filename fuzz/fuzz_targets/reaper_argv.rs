//! Each persona's argument and environment parser, as a process: the reaper binary (path in
//! REAPER_BIN; scripts/fuzz.sh builds it) is run as `tini`, `docker-init`, `dumb-init`,
//! `catatonit` or `reaper` (chosen by the first byte) with fuzzed arguments and persona
//! environment variables. It must never die by a signal (a panic or fault in PID 1) and never
//! print a Rust panic; usage errors must say something on stderr.
//!
//! Safety of the harness: no argument may contain `/`, PATH is an empty directory and the
//! working directory is empty too, so no PROGRAM can be found and run; a run still going after
//! 2 s (pause mode, catatonit -P) is killed, which is not a failure.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const PERSONAS: [&str; 6] = ["reaper", "tini", "tini-static", "docker-init", "dumb-init", "catatonit"];
const ENV: [&str; 17] = [
    "CATATONIT_DEBUG", "DUMB_INIT_DEBUG", "DUMB_INIT_SETSID", "REAPER_DRAIN_SIGNAL",
    "REAPER_GRACE", "REAPER_GROUP", "REAPER_NO_DRAIN", "REAPER_PDEATHSIG", "REAPER_REMAP_EXIT",
    "REAPER_REWRITE", "REAPER_SESSION", "REAPER_SUBREAPER", "REAPER_USER", "REAPER_VERBOSITY",
    "REAPER_WARN_REAPED", "TINI_SUBREAPER", "TINI_VERBOSITY",
];

fn setup() -> &'static (String, std::path::PathBuf) {
    static S: OnceLock<(String, std::path::PathBuf)> = OnceLock::new();
    S.get_or_init(|| {
        let bin = std::env::var("REAPER_BIN").expect("REAPER_BIN must name the reaper binary");
        assert!(std::path::Path::new(&bin).is_file(), "REAPER_BIN={bin} is not a file");
        let empty = std::env::temp_dir().join(format!("reaper-fuzz-empty-{}", std::process::id()));
        std::fs::create_dir_all(&empty).unwrap();
        (bin, empty)
    })
}

fuzz_target!(|data: &[u8]| {
    let (bin, empty) = setup();
    let Some((&pick, rest)) = data.split_first() else { return };
    let persona = PERSONAS[pick as usize % PERSONAS.len()];
    let mut cmd = Command::new(bin);
    cmd.arg0(persona)
        .env_clear()
        .env("PATH", empty)
        .current_dir(empty)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut nargs = 0;
    for tok in rest.split(|&c| c == 0).take(24) {
        let tok: Vec<u8> = tok.iter().take(64).map(|&c| if c == b'/' { b'_' } else { c }).collect();
        let text = std::ffi::OsStr::from_encoded_bytes_unchecked_safe(&tok);
        if let Some((&1, v)) = tok.split_first() {
            if let Some((&k, v)) = v.split_first() {
                cmd.env(ENV[k as usize % ENV.len()], std::ffi::OsStr::from_encoded_bytes_unchecked_safe(v));
                continue;
            }
        }
        cmd.arg(text);
        nargs += 1;
    }
    let _ = nargs;
    let mut child = cmd.spawn().expect("spawn reaper");
    let started = Instant::now();
    let mut killed = false;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if started.elapsed() > Duration::from_secs(2) {
            let _ = child.kill();
            killed = true;
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_micros(200));
    };
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{persona} {data:?}: {err}");
    if !killed {
        assert_eq!(status.signal(), None, "{persona} {data:?} died by a signal: {err}");
    }
});

/// `OsStr` from arbitrary bytes (Unix: any bytes are a valid `OsStr`).
trait FromBytes {
    fn from_encoded_bytes_unchecked_safe(b: &[u8]) -> &std::ffi::OsStr;
}
impl FromBytes for std::ffi::OsStr {
    fn from_encoded_bytes_unchecked_safe(b: &[u8]) -> &std::ffi::OsStr {
        use std::os::unix::ffi::OsStrExt;
        std::ffi::OsStr::from_bytes(b)
    }
}
