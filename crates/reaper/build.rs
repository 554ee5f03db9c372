//! Exports the git revision the binary is built from as `REAPER_REVISION` (for `reaper --version`):
//! the shared script in build/revision.rs. For the static musl builds it also hands the linker
//! link/discard.ld, which drops the unwind tables and version strings nothing in reaper reads.
mod revision {
    include!("../../build/revision.rs");
    pub fn run() {
        main()
    }
}

fn main() {
    revision::run();
    println!("cargo:rerun-if-changed=link/discard.ld");
    if std::env::var("CARGO_CFG_TARGET_ENV").as_deref() != Ok("musl") {
        return; // the host build (tests) and the static-glibc fallback keep the default layout
    }
    let script =
        std::path::Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("link/discard.ld");
    // .cargo/config.toml links x86_64 with the C compiler driver (GNU ld behind it, `-Wl,` arguments)
    // and the other architectures with rust-lld (linker arguments as they are).
    let lld = std::env::var("RUSTC_LINKER").is_ok_and(|l| l.ends_with("lld"));
    let arg = if lld {
        format!("-T{}", script.display())
    } else {
        format!("-Wl,-T,{}", script.display())
    };
    println!("cargo:rustc-link-arg-bin=reaper={arg}");
}
