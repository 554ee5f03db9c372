//! `/proc/PID/stat` parser: never panics on any bytes; whatever it accepts keeps the numbered
//! fields after the last `)`, so a forged name cannot change them; a line rebuilt from the parsed
//! fields parses back to the same fields.
#![no_main]
use libfuzzer_sys::fuzz_target;
use procmodel::parse::parse_stat;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = parse_stat(data) else { return };
    let close = data.iter().rposition(|&c| c == b')').unwrap();
    let open = data.iter().position(|&c| c == b'(').unwrap();
    assert_eq!(s.comm, &data[open + 1..close]);
    // Rebuild a line with the parsed fields and a comm taken from the input.
    let mut line = format!("{} (", s.pid).into_bytes();
    line.extend_from_slice(&s.comm);
    line.extend_from_slice(
        format!(
            ") {} {} {} {} 0 -1 0 0 0 0 0 0 0 0 0 20 0 {} 0 {} 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 {}\n",
            s.state as char,
            s.ppid,
            s.pgrp,
            s.session,
            s.num_threads,
            s.start_ticks,
            s.exit_code.unwrap_or(0)
        )
        .as_bytes(),
    );
    if s.state.is_ascii_graphic() {
        let again = parse_stat(&line).expect("a rebuilt line parses");
        assert_eq!(again.comm, s.comm);
        assert_eq!(
            (again.ppid, again.pgrp, again.session, again.num_threads, again.start_ticks),
            (s.ppid, s.pgrp, s.session, s.num_threads, s.start_ticks)
        );
    }
});
