//! The byte stream bulk transfers send: pseudo-random bytes repeating with a prime period, so
//! any slip of the stream by less than the period changes the checksum.

use crate::checksum::Checksum;

/// Period of the stream (a prime, so it shares no factor with any segment size).
pub const PERIOD: usize = 1_000_003;
/// Longest slice [`Pattern::slice`] hands out.
pub const MAX_SLICE: usize = 256 * 1024;

/// The stream's bytes, long enough that every slice of up to [`MAX_SLICE`] is contiguous.
pub struct Pattern {
    data: Vec<u8>,
}

impl Default for Pattern {
    fn default() -> Self {
        Self::new()
    }
}

impl Pattern {
    /// Builds the pattern (xorshift bytes).
    pub fn new() -> Self {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut data: Vec<u8> = (0..PERIOD)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        data.extend_from_within(..MAX_SLICE);
        Pattern { data }
    }

    /// The stream's bytes from offset `pos`, at most `len` (and at most [`MAX_SLICE`]) of them.
    pub fn slice(&self, pos: u64, len: usize) -> &[u8] {
        let start = (pos % PERIOD as u64) as usize;
        &self.data[start..start + len.min(MAX_SLICE)]
    }

    /// Checksum of the stream's first `len` bytes.
    pub fn checksum(&self, len: u64) -> u64 {
        let mut c = Checksum::new();
        let mut pos = 0;
        while pos < len {
            let s = self.slice(pos, (len - pos).min(MAX_SLICE as u64) as usize);
            c.update(s);
            pos += s.len() as u64;
        }
        c.value()
    }
}
