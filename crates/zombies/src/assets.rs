//! `zombies __generate-assets DIR` (only with the `gen-assets` feature): writes the man page and the
//! bash, zsh and fish completions generated from the same clap definition the binary parses, so the
//! packaged copies cannot drift from the command line. scripts/release.sh runs it at release time.

use clap::CommandFactory;
use std::path::Path;
use std::process::ExitCode;

/// Runs the generator when argv is `zombies __generate-assets DIR`; `None` otherwise.
pub fn from_args<C: CommandFactory>() -> Option<ExitCode> {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).map(|a| a.as_os_str()) != Some("__generate-assets".as_ref()) {
        return None;
    }
    let Some(dir) = args.get(2) else {
        eprintln!(
            "zombies: __generate-assets needs an output directory: zombies __generate-assets DIR"
        );
        return Some(ExitCode::from(2));
    };
    Some(match generate(C::command(), Path::new(dir)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "zombies: cannot write the man page and completions into {}: {e}",
                Path::new(dir).display()
            );
            ExitCode::from(2)
        }
    })
}

/// Writes `zombies.1` and `zombies-*.1`, `zombies.bash`, `_zombies` (zsh) and `zombies.fish` into `dir`.
fn generate(cmd: clap::Command, dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let cmd = cmd.name("zombies").bin_name("zombies");
    // zombies.1, plus zombies-SUBCOMMAND.1 for each subcommand.
    clap_mangen::generate_to(cmd.clone(), dir)?;
    use clap_complete::Shell;
    for (shell, name) in [
        (Shell::Bash, "zombies.bash"),
        (Shell::Zsh, "_zombies"),
        (Shell::Fish, "zombies.fish"),
    ] {
        let mut out = Vec::new();
        clap_complete::generate(shell, &mut cmd.clone(), "zombies", &mut out);
        std::fs::write(dir.join(name), out)?;
    }
    Ok(())
}
