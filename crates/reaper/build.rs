//! Exports the git revision the binary is built from as `REAPER_REVISION` (for `reaper --version`):
//! the shared script in build/revision.rs.
include!("../../build/revision.rs");
