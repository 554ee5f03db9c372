//! reaper: a tiny, correct PID 1 for containers and pods.
//!
//! A `no_std` binary over the C library (static musl): no Rust runtime, no unwinding, nothing that
//! could panic on a fallible path. Layout:
//!
//! * `pid1`: the core loop (spawn, forward, reap, drain, exit);
//! * `spawn`: the child's side between fork and exec;
//! * `config`: one table-driven parser into what the core reads;
//! * `persona` (the events, `emit`, what a persona is), `own` (reaper's persona), `compat` (tini,
//!   dumb-init, catatonit, pause), `registry` (all of them, by name);
//! * `signals`, `user`, `out`: names and numbers, `--user`, output lines;
//! * `sys`: every `unsafe` block, as typed wrappers over system calls.
#![deny(unsafe_code)]
#![deny(clippy::too_many_lines)]
#![cfg_attr(not(test), no_std)]
#![cfg_attr(not(test), no_main)]

extern crate alloc;

mod compat;
mod config;
mod out;
mod own;
mod persona;
mod pid1;
mod registry;
mod signals;
mod spawn;
// The one module allowed to use `unsafe`: typed wrappers over the C library, a SAFETY comment per block.
#[allow(unsafe_code)]
mod sys;
mod user;

use config::Act;
use persona::{Event, Parsed, Persona};

// Link the C library: without std nothing else asks for it (static musl: libc.a).
#[cfg(not(test))]
#[link(name = "c")]
extern "C" {}

#[cfg(not(test))]
#[global_allocator]
static ALLOCATOR: sys::Pages = sys::Pages;

/// No code path of reaper panics by design; if one ever did, say so and exit rather than unwind.
#[cfg(not(test))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    out::write_text(
        out::STDERR,
        "reaper: internal error (this is a bug; please report it)\n",
    );
    sys::exit(70)
}

/// Picks the persona (`argv[0]`'s basename, or `--compat NAME` first), parses, and runs.
pub fn start(args: sys::Args) -> ! {
    let argv0 = args.get(0);
    let base = argv0.rsplit(|&c| c == b'/').next().unwrap_or(argv0);
    let mut persona: &'static Persona = registry::by_name(base).unwrap_or(&own::REAPER);
    let mut first = 1;
    let compat = match args.get(1).strip_prefix(b"--compat") {
        Some([]) => {
            first = 3;
            Some(args.get(2))
        }
        Some([b'=', rest @ ..]) => {
            first = 2;
            Some(rest)
        }
        _ if core::ptr::eq(persona, &own::REAPER) => sys::getenv(c"REAPER_COMPAT"),
        _ => None,
    };
    if let Some(name) = compat {
        match registry::by_name(name) {
            Some(p) => persona = p,
            None => usage_error(
                persona,
                &config::UsageError {
                    what: b"--compat",
                    value: name,
                    reason: "is not a persona (tini, tini-static, docker-init, dumb-init, catatonit, pause)",
                },
            ),
        }
    }
    // `reaper pause`: the pause mode as a subcommand.
    let pause = core::ptr::eq(persona, &own::REAPER) && args.get(first) == b"pause";
    let parsed = persona::parse(persona, &args, first + pause as usize);
    match parsed {
        Ok(Parsed::Print(act)) => {
            let (text, fd) = match act {
                Act::Help => persona.help,
                Act::Version => persona.version,
                _ => (own::LICENSE, out::STDOUT),
            };
            out::write_text(fd, text);
            sys::exit(0)
        }
        Ok(Parsed::Run(mut cfg)) => {
            if pause && cfg.program != 0 {
                // `reaper pause -- true`, `reaper pause -t0 255`: pause runs nothing.
                usage_error(
                    persona,
                    &config::UsageError {
                        what: b"pause",
                        value: args.get(cfg.program),
                        reason: "runs no PROGRAM: give options only (reaper pause [OPTIONS])",
                    },
                );
            }
            cfg.pause |= pause;
            if cfg.program == 0 && !cfg.pause {
                usage_error(
                    persona,
                    &config::UsageError {
                        what: b"",
                        value: b"",
                        reason: "no PROGRAM to run",
                    },
                );
            }
            pid1::run(persona, &cfg, &args)
        }
        Err(e) => usage_error(persona, &e),
    }
}

fn usage_error(persona: &Persona, e: &config::UsageError) -> ! {
    persona::emit(persona, 3, &Event::Usage(e));
    if persona.usage_help && (e.what.is_empty() || e.is_getopt()) {
        out::write_text(out::STDERR, persona.help.0);
    }
    sys::exit(persona.codes.usage)
}
