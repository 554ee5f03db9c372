//! The part of reaper's `sys` that `signals.rs` uses: a 64-bit signal set with const builders.
//! A stand-in, so that reaper's own `signals.rs` compiles outside reaper: shared by the fuzz
//! target reaper_values and the integration property tests (tests/props_reaper.rs).

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SigSet(pub u64);
impl SigSet {
    pub const ALL: SigSet = SigSet(u64::MAX);
    pub const fn of(sig: i32) -> SigSet {
        SigSet(1u64 << (sig - 1))
    }
    pub const fn has(self, sig: i32) -> bool {
        sig >= 1 && sig <= 64 && self.0 & (1u64 << (sig - 1)) != 0
    }
    pub const fn with(self, sig: i32) -> SigSet {
        SigSet(self.0 | SigSet::of(sig).0)
    }
    pub const fn minus(self, other: SigSet) -> SigSet {
        SigSet(self.0 & !other.0)
    }
}
