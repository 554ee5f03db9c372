//! `reaper-oci [RUNTIME GLOBAL FLAGS] COMMAND ...`: see the library documentation and
//! docs/runtime-wrapper.md.
#![deny(unsafe_code)]
#![deny(clippy::too_many_lines)]

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    std::process::exit(reaper_oci::main_with(args));
}
