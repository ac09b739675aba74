//! A fast running checksum over a byte stream, independent of how the stream is split.
//!
//! Fletcher's checksum over 64-bit words (a running sum `a` of the words and a running sum `b` of
//! the `a`s, both modulo 2^64), in four interleaved lanes so the additions run in parallel: it
//! goes at memory speed and stays a small part of a benchmark. `b` weights every word by its
//! position, so lost, duplicated, reordered or corrupted bytes all change the result. It is not
//! cryptographic, which a benchmark does not need.

const K: u64 = 0x9E37_79B9_7F4A_7C15;
const BLOCK: usize = 32;

/// Running checksum state.
#[derive(Clone, Debug)]
pub struct Checksum {
    a: [u64; 4],
    b: [u64; 4],
    tail: [u8; BLOCK],
    tail_len: usize,
    len: u64,
}

impl Default for Checksum {
    fn default() -> Self {
        Checksum {
            a: [0; 4],
            b: [0; 4],
            tail: [0; BLOCK],
            tail_len: 0,
            len: 0,
        }
    }
}

#[inline]
fn mix(lane: u64, word: u64) -> u64 {
    (lane.rotate_left(23) ^ word).wrapping_mul(K)
}

impl Checksum {
    /// A fresh checksum.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes hashed so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Nothing hashed yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    fn blocks(a: &mut [u64; 4], b: &mut [u64; 4], data: &[u8]) {
        // Lanes live in locals for the loop so they stay in registers.
        let (mut la, mut lb) = (*a, *b);
        for block in data.chunks_exact(BLOCK) {
            for i in 0..4 {
                let mut w = [0u8; 8];
                w.copy_from_slice(&block[i * 8..i * 8 + 8]);
                la[i] = la[i].wrapping_add(u64::from_le_bytes(w));
                lb[i] = lb[i].wrapping_add(la[i]);
            }
        }
        (*a, *b) = (la, lb);
    }

    /// Adds `data` to the stream.
    pub fn update(&mut self, mut data: &[u8]) {
        self.len += data.len() as u64;
        if self.tail_len > 0 {
            let take = (BLOCK - self.tail_len).min(data.len());
            self.tail[self.tail_len..self.tail_len + take].copy_from_slice(&data[..take]);
            self.tail_len += take;
            data = &data[take..];
            if self.tail_len < BLOCK {
                return;
            }
            Self::blocks(&mut self.a, &mut self.b, &self.tail);
            self.tail_len = 0;
        }
        let whole = data.len() / BLOCK * BLOCK;
        Self::blocks(&mut self.a, &mut self.b, &data[..whole]);
        let rest = &data[whole..];
        self.tail[..rest.len()].copy_from_slice(rest);
        self.tail_len = rest.len();
    }

    /// The checksum of everything added so far.
    pub fn value(&self) -> u64 {
        let mut c = self.clone();
        let mut tail = [0u8; BLOCK];
        tail[..c.tail_len].copy_from_slice(&c.tail[..c.tail_len]);
        Self::blocks(&mut c.a, &mut c.b, &tail);
        let mut h = c.len.wrapping_mul(K);
        for (a, b) in c.a.into_iter().zip(c.b) {
            h = mix(mix(h, a), b);
        }
        h ^ (h >> 29)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_does_not_matter_and_changes_are_seen() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        let mut whole = Checksum::new();
        whole.update(&data);
        for step in [1, 3, 31, 32, 33, 1000] {
            let mut parts = Checksum::new();
            for c in data.chunks(step) {
                parts.update(c);
            }
            assert_eq!(parts.value(), whole.value(), "step {step}");
        }
        let mut flipped = data.clone();
        flipped[5000] ^= 1;
        let mut other = Checksum::new();
        other.update(&flipped);
        assert_ne!(other.value(), whole.value());
        // Swapped bytes within a word, and swapped whole words in the same lane.
        for (x, y) in [(100, 101), (64, 96), (8, 40)] {
            let mut swapped = data.clone();
            swapped.swap(x, y);
            let mut other = Checksum::new();
            other.update(&swapped);
            assert_ne!(other.value(), whole.value(), "swap {x} {y}");
        }
        let mut blocks = data.clone();
        let (first, rest) = blocks.split_at_mut(32);
        first.swap_with_slice(&mut rest[..32]);
        let mut other = Checksum::new();
        other.update(&blocks);
        assert_ne!(other.value(), whole.value(), "swapped blocks");
        let mut short = Checksum::new();
        short.update(&data[..9_999]);
        assert_ne!(short.value(), whole.value());
    }
}
