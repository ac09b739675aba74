//! The receive buffer: in-order bytes for the user, and out-of-order segments held past a hole
//! until it fills (RFC 9293 §3.10.7.4, "seventh, process the segment text"; RFC 5681 §4.2).
//!
//! Memory is bounded twice: bytes by the receive window (data past the advertised right edge is
//! trimmed before it gets here), and bookkeeping by a cap on the number of distinct holes.

use super::ring::Ring;
use synack_wire::{SackBlocks, SeqNumber};

/// What inserting a segment did.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Insert {
    /// Bytes that became readable in order (RCV.NXT moves by this much).
    pub advanced: u32,
    /// The segment was kept out of order, past a hole.
    pub out_of_order: bool,
    /// The segment was dropped: it would have opened one hole too many, or passed the buffer.
    pub dropped: bool,
}

/// Readable bytes plus out-of-order ranges beyond them.
#[derive(Debug)]
pub struct RecvBuffer {
    ring: Ring,
    /// Sorted, disjoint, non-touching ranges `[start, end)` beyond RCV.NXT.
    ooo: Vec<(SeqNumber, SeqNumber)>,
    /// Starts of recently received out-of-order segments, newest first (RFC 2018 §4 ordering).
    recent: Vec<SeqNumber>,
    max_ranges: usize,
}

impl RecvBuffer {
    /// An empty buffer of at most `limit` bytes and `max_ranges` holes.
    pub fn new(limit: usize, max_ranges: usize) -> Self {
        RecvBuffer {
            ring: Ring::new(limit),
            ooo: Vec::new(),
            recent: Vec::new(),
            max_ranges: max_ranges.max(1),
        }
    }

    /// Bytes the user can read now.
    pub fn readable(&self) -> usize {
        self.ring.len()
    }

    /// Memory held by the storage.
    pub fn allocated(&self) -> usize {
        self.ring.allocated() + self.ooo.capacity() * 8 + self.recent.capacity() * 4
    }

    /// Whether out-of-order data is held.
    pub fn has_out_of_order(&self) -> bool {
        !self.ooo.is_empty()
    }

    /// Inserts `data` starting at `seq`. The caller trimmed it to start at or after `rcv_nxt`
    /// and to end inside the window it advertised.
    pub fn insert(&mut self, rcv_nxt: SeqNumber, seq: SeqNumber, data: &[u8]) -> Insert {
        if data.is_empty() {
            return Insert::default();
        }
        let offset = seq.distance_from(rcv_nxt) as usize;
        let end = seq + data.len() as u32;
        if offset == 0 {
            if !self.ring.write_at(self.ring.len(), data) {
                return Insert {
                    dropped: true,
                    ..Insert::default()
                };
            }
            // Filling the hole may join the ranges held behind it.
            let mut new_end = end;
            while let Some(&(start, range_end)) = self.ooo.first() {
                if start > new_end {
                    break;
                }
                new_end = new_end.max(range_end);
                self.ooo.remove(0);
            }
            let advanced = new_end.distance_from(rcv_nxt);
            self.ring.commit(advanced as usize);
            self.recent.retain(|s| *s >= new_end);
            if self.ooo.is_empty() {
                self.recent.clear();
            }
            return Insert {
                advanced,
                ..Insert::default()
            };
        }
        // Out of order: where would it go, and does it open a new range?
        let touches = self.ooo.iter().any(|&(s, e)| !(end < s || seq > e));
        if !touches && self.ooo.len() >= self.max_ranges {
            return Insert {
                dropped: true,
                ..Insert::default()
            };
        }
        if !self.ring.write_at(self.ring.len() + offset, data) {
            return Insert {
                dropped: true,
                ..Insert::default()
            };
        }
        self.add_range(seq, end);
        self.recent.retain(|s| *s != seq);
        self.recent.insert(0, seq);
        self.recent.truncate(4);
        Insert {
            out_of_order: true,
            ..Insert::default()
        }
    }

    fn add_range(&mut self, mut start: SeqNumber, mut end: SeqNumber) {
        // Merge every range that overlaps or touches [start, end), keep the list sorted.
        let mut i = 0;
        while i < self.ooo.len() {
            let (s, e) = self.ooo[i];
            if e < start {
                i += 1;
                continue;
            }
            if s > end {
                break;
            }
            start = start.min(s);
            end = end.max(e);
            self.ooo.remove(i);
        }
        self.ooo.insert(i, (start, end));
    }

    /// Copies readable bytes into `dst` and consumes them. The storage stays allocated: a
    /// reader that keeps up would otherwise allocate and zero it again for every segment.
    pub fn read(&mut self, dst: &mut [u8]) -> usize {
        self.ring.read(dst, true)
    }

    /// SACK blocks to report (RFC 2018 §4): the block holding the newest segment first, then
    /// other recent ones, then the rest; at most `max` blocks.
    pub fn sack_blocks(&self, max: usize) -> SackBlocks {
        let mut blocks = SackBlocks::new();
        let mut used = Vec::with_capacity(max);
        let candidates = self
            .recent
            .iter()
            .filter_map(|seq| self.ooo.iter().position(|&(s, e)| seq.in_range(s, e)))
            .chain((0..self.ooo.len()).rev());
        for idx in candidates {
            if blocks.len() >= max {
                break;
            }
            if used.contains(&idx) {
                continue;
            }
            used.push(idx);
            let (s, e) = self.ooo[idx];
            blocks.push(s, e);
        }
        blocks
    }

    /// Drops everything (the read side was shut down or the connection reset).
    pub fn clear(&mut self) {
        let n = self.ring.len();
        self.ring.consume(n, false);
        self.ooo.clear();
        self.recent.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn s(n: u32) -> SeqNumber {
        SeqNumber(n)
    }

    #[test]
    fn holes_fill_in_any_order_and_sack_reports_newest_first() {
        let base = s(u32::MAX - 5); // cross the 2^32 wrap on purpose
        let mut buf = RecvBuffer::new(1000, 8);
        let data: Vec<u8> = (0..40).collect();
        let r = buf.insert(base, base + 30, &data[30..40]);
        assert!(r.out_of_order && r.advanced == 0);
        let r = buf.insert(base, base + 10, &data[10..20]);
        assert!(r.out_of_order);
        let sacks = buf.sack_blocks(4);
        assert_eq!(
            sacks.as_slice(),
            &[(base + 10, base + 20), (base + 30, base + 40)]
        );
        // Fill the first hole: in-order bytes run up to the next hole.
        let r = buf.insert(base, base, &data[0..10]);
        assert_eq!(r.advanced, 20);
        let nxt = base + 20;
        assert_eq!(buf.sack_blocks(4).as_slice(), &[(base + 30, base + 40)]);
        // Overlapping retransmission that covers the rest.
        let r = buf.insert(nxt, nxt, &data[20..35]);
        assert_eq!(r.advanced, 20);
        assert!(!buf.has_out_of_order());
        let mut out = vec![0; 100];
        assert_eq!(buf.read(&mut out), 40);
        assert_eq!(&out[..40], &data[..]);
    }

    #[test]
    fn a_new_hole_past_the_range_cap_is_dropped() {
        let mut buf = RecvBuffer::new(10_000, 2);
        assert!(!buf.insert(s(0), s(10), b"a").dropped);
        assert!(!buf.insert(s(0), s(20), b"b").dropped);
        assert!(buf.insert(s(0), s(30), b"c").dropped);
        // Extending an existing range is still fine.
        assert!(!buf.insert(s(0), s(21), b"c").dropped);
        // Past the buffer limit: dropped.
        assert!(buf.insert(s(0), s(9_999), b"xy").dropped);
    }

    proptest! {
        #[test]
        fn any_arrival_order_yields_the_stream(
            start in any::<u32>(),
            cuts in prop::collection::vec(1usize..200, 1..40),
            order in any::<u64>(),
        ) {
            let total: usize = cuts.iter().sum();
            let stream: Vec<u8> = (0..total).map(|i| (i * 7 % 251) as u8).collect();
            let mut segs = Vec::new();
            let mut off = 0;
            for c in cuts { segs.push((off, c)); off += c; }
            // Deterministic shuffle plus duplicates.
            let mut x = order | 1;
            let mut arrivals = segs.clone();
            arrivals.extend(segs.iter().step_by(3));
            for i in (1..arrivals.len()).rev() {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                arrivals.swap(i, (x % (i as u64 + 1)) as usize);
            }
            let mut buf = RecvBuffer::new(total + 10, 64);
            let mut rcv_nxt = SeqNumber(start);
            let base = SeqNumber(start);
            let mut got = Vec::new();
            for (off, len) in arrivals {
                let seg_start = base + off as u32;
                let seg_end = seg_start + len as u32;
                if seg_end <= rcv_nxt { continue; }
                let (seq, data) = if seg_start < rcv_nxt {
                    let skip = rcv_nxt.distance_from(seg_start) as usize;
                    (rcv_nxt, &stream[off + skip..off + len])
                } else { (seg_start, &stream[off..off + len]) };
                let r = buf.insert(rcv_nxt, seq, data);
                prop_assert!(!r.dropped);
                rcv_nxt += r.advanced;
                let mut out = vec![0; 64];
                loop { let n = buf.read(&mut out); if n == 0 { break; } got.extend_from_slice(&out[..n]); }
            }
            prop_assert_eq!(got, stream);
        }
    }
}
