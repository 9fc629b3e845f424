//! xorshift64: a tiny deterministic generator, the same one the generated Verilator benchmark
//! harness uses, so both simulators see identical random stimulus for a seed.

#[derive(Clone, Debug)]
pub struct XorShift(u64);

impl XorShift {
    /// A zero seed would stick at zero; the low bit is forced on.
    pub fn new(seed: u64) -> XorShift {
        XorShift(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}
