//! Choices drawn from fuzzer input.
//!
//! A thin layer over [`Unstructured`] with the few shapes the targets need. Once the input runs
//! out every draw answers 0, which callers treat as "stop" (see [`Gen::is_empty`]).

use arbitrary::Unstructured;

/// Draws numbers from fuzzer input.
pub(crate) struct Gen<'a> {
    u: Unstructured<'a>,
}

impl<'a> Gen<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Gen {
            u: Unstructured::new(data),
        }
    }

    /// Whether the input is used up.
    pub(crate) fn is_empty(&self) -> bool {
        self.u.is_empty()
    }

    /// 64 bits of input (0 once it runs out).
    pub(crate) fn next(&mut self) -> u64 {
        self.u.arbitrary::<u64>().unwrap_or(0)
    }

    /// A number below `n` (0 when `n` is 0 or the input ran out).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        if n <= 1 {
            return 0;
        }
        self.u.int_in_range(0..=n - 1).unwrap_or(0)
    }

    /// True with `percent` per cent chance on random input.
    pub(crate) fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// A probability in [0, max], in steps of max/100.
    pub(crate) fn probability(&mut self, max: f64) -> f64 {
        self.below(101) as f64 / 100.0 * max
    }

    /// Mostly small offsets around zero, sometimes anywhere in the sequence space.
    pub(crate) fn offset(&mut self) -> u32 {
        match self.below(10) {
            0 => self.next() as u32,
            1..=3 => (self.below(200_000) as i64 - 100_000) as u32,
            _ => (self.below(6) as i64 - 2) as u32,
        }
    }
}
