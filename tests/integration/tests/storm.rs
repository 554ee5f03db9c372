//! A signal storm during an orphan storm, reaper as PID 1: while 10,000 orphans are made and
//! reaped, 2,000 real-time signals (500 each of four numbers, sent back to back: the kernel
//! queues every instance) and 150 standard ones (50 each of HUP, USR1, USR2, each sent once
//! the previous one arrived, since the kernel merges pending standard signals) are sent to reaper.
//! The child receives exactly as many of each as were sent, no orphan is left a zombie, and
//! reaper exits with the child's status.
use integration::{
    helper, poll_until, sys, wait_file, wait_ready, zombies, Init, Mode, SigLog, TempDir, DEADLINE,
};
use std::time::Duration;

const ORPHANS: usize = 10_000;
const RT_EACH: usize = 500;
const STD_EACH: usize = 50;
const RT: [i32; 4] = [40, 41, 50, 60];
const STD: [i32; 3] = [sys::SIGHUP, sys::SIGUSR1, sys::SIGUSR2];

#[test]
fn signal_storm_during_an_orphan_storm_reaches_the_child_exactly() {
    let dir = TempDir::new("storm");
    let (ready, log, storm_done) = (dir.file("ready"), dir.file("log"), dir.file("storm"));
    // PROGRAM: a shell that starts the orphan storm in the background, then becomes sigcatch.
    // The storm's forker says when its orphans are all made, then waits for SIGTERM (reaper
    // sends it when PROGRAM has exited).
    let script = format!(
        "{} storm {ORPHANS} --ready {storm_done} & exec {} --ready {ready} --log {log} --exit-code 7",
        helper!("forker"),
        helper!("sigcatch")
    );
    let mut run = Init::reaper(Mode::Pid1)
        .args(["/bin/sh", "-c", &script])
        .spawn();
    wait_ready(&ready);
    let init = run.init_pid();
    let log = SigLog(log);

    for _ in 0..RT_EACH {
        for sig in RT {
            sys::kill(init, sig).unwrap_or_else(|e| panic!("kill({init}, {sig}): {e}"));
        }
    }
    assert!(
        !std::path::Path::new(&storm_done).exists(),
        "the orphan storm was over before the signal storm: nothing overlapped"
    );
    for i in 1..=STD_EACH {
        for sig in STD {
            sys::kill(init, sig).unwrap_or_else(|e| panic!("kill({init}, {sig}): {e}"));
            assert!(
                log.wait_count(sig, i, Duration::from_secs(30)),
                "signal {sig} number {i} never reached the child; counts so far: {:?}",
                STD.map(|s| log.count(s))
            );
        }
    }
    let all_rt = poll_until(Duration::from_secs(60), || {
        RT.iter().all(|&s| log.count(s) >= RT_EACH)
    });
    let counts: Vec<(i32, usize)> = RT.iter().chain(&STD).map(|&s| (s, log.count(s))).collect();
    assert!(all_rt, "real-time signals lost: {counts:?}");
    // Exactly as many as were sent: none lost, none doubled.
    for (sig, n) in &counts {
        let want = if RT.contains(sig) { RT_EACH } else { STD_EACH };
        assert_eq!(*n, want, "signal {sig}: {counts:?}");
    }
    // The orphan storm is over and reaped: no zombie is left.
    wait_file(&storm_done, Duration::from_secs(120));
    let mut left = Vec::new();
    let reaped = poll_until(Duration::from_secs(120), || {
        left = zombies(&run.processes());
        left.is_empty()
    });
    assert!(
        reaped,
        "{} zombies left: {:?}",
        left.len(),
        &left[..left.len().min(10)]
    );
    eprintln!(
        "{ORPHANS} orphans; signals received by the child: {counts:?}; zombies left: {}",
        left.len()
    );

    run.signal(sys::SIGTERM);
    let out = run.wait(DEADLINE);
    out.assert_code(7);
}
