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
    /// Dropped because out-of-order bytes held would pass `max_ooo_bytes`.
    pub ooo_limited: bool,
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
    /// Most out-of-order bytes held (beyond RCV.NXT, past the first hole).
    max_ooo_bytes: usize,
}

impl RecvBuffer {
    /// An empty buffer of at most `limit` bytes, `max_ranges` holes and `max_ooo_bytes` bytes
    /// held out of order.
    pub fn new(limit: usize, max_ranges: usize, max_ooo_bytes: usize) -> Self {
        RecvBuffer {
            ring: Ring::new(limit),
            ooo: Vec::new(),
            recent: Vec::new(),
            max_ranges: max_ranges.max(1),
            max_ooo_bytes,
        }
    }

    /// Bytes held out of order.
    pub fn ooo_bytes(&self) -> usize {
        self.ooo
            .iter()
            .map(|&(s, e)| e.distance_from(s) as usize)
            .sum()
    }

    /// Out-of-order bytes held if `[seq, end)` were added (overlaps counted once).
    fn ooo_bytes_with(&self, seq: SeqNumber, end: SeqNumber) -> usize {
        let overlap: usize = self
            .ooo
            .iter()
            .filter(|&&(s, e)| s < end && seq < e)
            .map(|&(s, e)| e.min(end).distance_from(s.max(seq)) as usize)
            .sum();
        self.ooo_bytes() + end.distance_from(seq) as usize - overlap
    }

    /// Storage bytes inserting `len` bytes at `seq` would allocate.
    pub fn growth_for(&self, rcv_nxt: SeqNumber, seq: SeqNumber, len: usize) -> usize {
        let offset = seq.distance_from(rcv_nxt) as usize;
        self.ring
            .growth_for(self.ring.len().saturating_add(offset).saturating_add(len))
    }

    /// Forgets every out-of-order range (as Linux `tcp_prune_ofo_queue` under memory pressure:
    /// the peer sends them again) and, if nothing readable is left, gives the storage back.
    /// Returns whether anything was pruned.
    pub fn prune_out_of_order(&mut self) -> bool {
        if self.ooo.is_empty() {
            return false;
        }
        self.ooo.clear();
        self.recent.clear();
        self.ring.release_if_empty();
        true
    }

    /// Gives the storage back if it holds nothing (memory pressure).
    pub fn release_if_empty(&mut self) {
        if self.ooo.is_empty() {
            self.ring.release_if_empty();
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
        if self.ooo_bytes_with(seq, end) > self.max_ooo_bytes {
            // Config::max_ooo_bytes: out-of-order data is bounded on its own; in-order data
            // (above) never is.
            return Insert {
                dropped: true,
                ooo_limited: true,
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
        let mut buf = RecvBuffer::new(1000, 8, 1000);
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
        let mut buf = RecvBuffer::new(10_000, 2, 10_000);
        assert!(!buf.insert(s(0), s(10), b"a").dropped);
        assert!(!buf.insert(s(0), s(20), b"b").dropped);
        assert!(buf.insert(s(0), s(30), b"c").dropped);
        // Extending an existing range is still fine.
        assert!(!buf.insert(s(0), s(21), b"c").dropped);
        // Past the buffer limit: dropped.
        assert!(buf.insert(s(0), s(9_999), b"xy").dropped);
    }

    #[test]
    fn out_of_order_bytes_are_capped_and_in_order_bytes_are_not() {
        let mut buf = RecvBuffer::new(10_000, 8, 100);
        assert!(!buf.insert(s(0), s(10), &[1; 60]).dropped);
        // Overlap counts once: [40, 100) adds 30 new bytes, 90 in all.
        assert!(!buf.insert(s(0), s(40), &[1; 60]).dropped);
        assert_eq!(buf.ooo_bytes(), 90);
        let r = buf.insert(s(0), s(200), &[1; 11]);
        assert!(r.dropped && r.ooo_limited);
        assert!(!buf.insert(s(0), s(200), &[1; 10]).dropped);
        assert_eq!(buf.ooo_bytes(), 100);
        // In order: 1000 bytes, far above the out-of-order cap, are taken.
        let r = buf.insert(s(0), s(0), &[2; 1000]);
        assert_eq!(r.advanced, 1000);
        assert!(buf.prune_out_of_order() || !buf.has_out_of_order());
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
            let mut buf = RecvBuffer::new(total + 10, 64, total + 10);
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
