//! Every persona, by name: the one list `--compat`, `argv[0]` and the signal handler look them up in.

use crate::persona::Persona;
use crate::{compat, own};

/// Every persona, looked up by name.
pub static ALL: [&Persona; 7] = [
    &own::REAPER,
    &compat::TINI,
    &compat::TINI_STATIC,
    &compat::DOCKER_INIT,
    &compat::DUMB_INIT,
    &compat::CATATONIT,
    &compat::PAUSE,
];

/// The persona called `name`, if any.
pub fn by_name(name: &[u8]) -> Option<&'static Persona> {
    ALL.iter().copied().find(|p| p.name.as_bytes() == name)
}
