//! `sigsetup [--ignore SIGS] [--block SIGS] -- PROG ARGS...`: sets those signals to SIG_IGN and blocks
//! those, then execs PROG directly with `execvp` (Rust's `Command::exec` would reset the mask and
//! SIGPIPE). Every other signal is reset to SIG_DFL and unblocked, so PROG inherits exactly this state.
// A test helper process whose whole job is raw process and signal system calls (fork, masks,
// dispositions, ttys) that std does not wrap: unsafe is allowed here, a SAFETY comment per block.
#![allow(unsafe_code)]
use integration::sys;
use std::ffi::CString;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut ignore = Vec::new();
    let mut block = Vec::new();
    let mut i = 0;
    while i < args.len() && args[i] != "--" {
        let v = args.get(i + 1).unwrap_or_else(|| die("missing value"));
        match args[i].as_str() {
            "--ignore" => ignore = sys::parse_list(v).unwrap_or_else(|e| die(&e)),
            "--block" => block = sys::parse_list(v).unwrap_or_else(|e| die(&e)),
            o => die(&format!("unknown option {o}")),
        }
        i += 2;
    }
    let cmd: Vec<CString> = args
        .get(i + 1..)
        .unwrap_or_else(|| die("missing -- PROG"))
        .iter()
        .map(|a| CString::new(a.as_str()).unwrap_or_else(|_| die("NUL in argument")))
        .collect();
    if cmd.is_empty() {
        die("missing PROG");
    }
    for sig in 1..=sys::NSIG {
        if sig != sys::SIGKILL && sig != sys::SIGSTOP {
            sys::set_ignored(sig, ignore.contains(&sig)).unwrap_or_else(|e| die(&e.to_string()));
        }
    }
    sys::sigprocmask(libc::SIG_SETMASK, sys::set_of(&block))
        .unwrap_or_else(|e| die(&e.to_string()));
    let mut argv: Vec<*const libc::c_char> = cmd.iter().map(|c| c.as_ptr()).collect();
    argv.push(std::ptr::null());
    // SAFETY: argv is a NULL-terminated array of C strings that outlive the call.
    unsafe { libc::execvp(argv[0], argv.as_ptr()) };
    die(&format!("exec: {}", std::io::Error::last_os_error()));
}

fn die(msg: &str) -> ! {
    eprintln!("sigsetup: {msg}");
    std::process::exit(100);
}
