// The build script of reaper and zombies (each crate's build.rs includes it): exports the git
// revision as `REAPER_REVISION`. `REAPER_REVISION` set in the environment wins (scripts/release.sh
// computes it once for every target; a source tarball without `.git` can set it too). Otherwise: the
// short commit, `-dirty` when tracked files differ from it, `unknown` without git.
use std::path::Path;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    println!("cargo:rerun-if-env-changed=REAPER_REVISION");
    let rev = match std::env::var("REAPER_REVISION") {
        Ok(v) if !v.is_empty() => v,
        _ => {
            // Rebuild when HEAD moves or the index changes (commit, checkout, add).
            if let Some(dir) = git(&["rev-parse", "--absolute-git-dir"]) {
                for f in ["HEAD", "index"] {
                    let p = Path::new(&dir).join(f);
                    println!("cargo:rerun-if-changed={}", p.display());
                }
            }
            println!("cargo:rerun-if-changed=src");
            match git(&["rev-parse", "--short=12", "HEAD"]) {
                Some(c) if !c.is_empty() => {
                    let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
                        .is_some_and(|s| !s.is_empty());
                    if dirty {
                        format!("{c}-dirty")
                    } else {
                        c
                    }
                }
                _ => "unknown".to_string(),
            }
        }
    };
    println!("cargo:rustc-env=REAPER_REVISION={rev}");
}
