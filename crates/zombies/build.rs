//! Exports the git revision the binary is built from as `REAPER_REVISION` (for `zombies --version`
//! and the `revision` label of `zombies_build_info`): the shared script in build/revision.rs.
include!("../../build/revision.rs");
