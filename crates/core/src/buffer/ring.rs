//! A byte ring that grows on demand up to a limit and gives its memory back when empty.
//!
//! Both stream buffers sit on it: the send buffer keeps bytes from SND.UNA on (retransmissions
//! read them at an offset), the receive buffer keeps readable bytes and, past them, out-of-order
//! data written at its offset before the hole in front of it is filled.

/// A growable ring of bytes. Offsets are counted from the oldest byte (the head).
#[derive(Debug, Default)]
pub struct Ring {
    buf: Vec<u8>,
    head: usize,
    len: usize,
    limit: usize,
}

const MIN_ALLOCATION: usize = 4096;

impl Ring {
    /// An empty ring that will never hold more than `limit` bytes. Allocates nothing yet.
    pub fn new(limit: usize) -> Self {
        Ring {
            buf: Vec::new(),
            head: 0,
            len: 0,
            limit,
        }
    }

    /// Bytes committed (readable, or queued for sending).
    pub fn len(&self) -> usize {
        self.len
    }

    /// No committed bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Room left for new committed bytes.
    pub fn free(&self) -> usize {
        self.limit - self.len
    }

    /// Bytes of memory held.
    pub fn allocated(&self) -> usize {
        self.buf.capacity()
    }

    /// The storage size `reserve(end)` grows to (end > current storage).
    fn capacity_for(&self, end: usize) -> usize {
        end.next_power_of_two()
            .max(MIN_ALLOCATION)
            .min(self.limit.max(end))
    }

    /// Bytes of new storage a write ending at offset `end` would allocate (0 if it fits).
    pub fn growth_for(&self, end: usize) -> usize {
        if end <= self.buf.len() {
            0
        } else {
            self.capacity_for(end) - self.buf.len()
        }
    }

    /// How many of `want` bytes `push` may append while allocating at most `allowance` new
    /// bytes of storage (the stack-wide memory limit's share for this call).
    pub fn max_push_within(&self, want: usize, allowance: usize) -> usize {
        let want = want.min(self.free());
        if self.growth_for(self.len + want) <= allowance {
            return want;
        }
        // Storage grows in steps (powers of two from MIN_ALLOCATION, then the limit): take the
        // largest step the allowance pays for, or the storage already held.
        let reachable = self.buf.len().saturating_add(allowance);
        let step = if reachable == 0 {
            0
        } else {
            1usize << (usize::BITS - 1 - reachable.leading_zeros())
        };
        let cap = if step >= MIN_ALLOCATION && step > self.buf.len() {
            step
        } else {
            self.buf.len()
        };
        want.min(cap.saturating_sub(self.len))
    }

    /// Gives the storage back if nothing is held (under memory pressure, as Linux
    /// `sk_mem_reclaim`); the next write allocates again.
    pub fn release_if_empty(&mut self) {
        if self.len == 0 {
            self.buf = Vec::new();
            self.head = 0;
        }
    }

    /// Ensures storage for offsets `0..end` (end <= limit), keeping contents.
    fn reserve(&mut self, end: usize) {
        if end <= self.buf.len() {
            return;
        }
        let new_cap = self.capacity_for(end);
        let mut grown = vec![0u8; new_cap];
        let old_cap = self.buf.len();
        if old_cap > 0 {
            // Linearise the whole old storage from the head: committed bytes and anything
            // written past them (out-of-order data) keep their offsets.
            let (tail, front) = self.buf.split_at(self.head);
            grown[..front.len()].copy_from_slice(front);
            grown[front.len()..old_cap].copy_from_slice(tail);
        }
        self.buf = grown;
        self.head = 0;
    }

    /// Writes `data` at `offset` from the head without committing it. Returns false (writing
    /// nothing) if it would pass the limit.
    pub fn write_at(&mut self, offset: usize, data: &[u8]) -> bool {
        let end = match offset.checked_add(data.len()) {
            Some(end) if end <= self.limit => end,
            _ => return false,
        };
        if data.is_empty() {
            return true;
        }
        self.reserve(end);
        let cap = self.buf.len();
        let start = (self.head + offset) % cap;
        let first = data.len().min(cap - start);
        self.buf[start..start + first].copy_from_slice(&data[..first]);
        self.buf[..data.len() - first].copy_from_slice(&data[first..]);
        true
    }

    /// Marks `n` more bytes (already written past the committed ones) as committed.
    pub fn commit(&mut self, n: usize) {
        debug_assert!(self.len + n <= self.limit);
        self.len = (self.len + n).min(self.limit);
    }

    /// Appends as much of `data` as fits; returns how much.
    pub fn push(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.free());
        if self.write_at(self.len, &data[..n]) {
            self.commit(n);
            n
        } else {
            0
        }
    }

    /// Copies committed bytes from `offset` into `dst` (as many as are there); returns the count.
    pub fn copy_out(&self, offset: usize, dst: &mut [u8]) -> usize {
        if offset >= self.len {
            return 0;
        }
        let n = dst.len().min(self.len - offset);
        let cap = self.buf.len();
        let start = (self.head + offset) % cap;
        let first = n.min(cap - start);
        dst[..first].copy_from_slice(&self.buf[start..start + first]);
        dst[first..n].copy_from_slice(&self.buf[..n - first]);
        n
    }

    /// Drops `n` bytes from the head (acknowledged or read). Frees the storage when nothing is
    /// left and `keep_storage` is false, so idle connections cost no buffer memory.
    pub fn consume(&mut self, n: usize, keep_storage: bool) {
        let n = n.min(self.len);
        self.len -= n;
        if self.buf.is_empty() {
            return;
        }
        self.head = (self.head + n) % self.buf.len();
        if self.len == 0 && !keep_storage {
            self.buf = Vec::new();
            self.head = 0;
        }
    }

    /// Reads committed bytes into `dst`, consuming them.
    pub fn read(&mut self, dst: &mut [u8], keep_storage: bool) -> usize {
        let n = self.copy_out(0, dst);
        self.consume(n, keep_storage);
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn grows_keeps_uncommitted_data_and_frees_when_empty() {
        let mut r = Ring::new(10_000);
        assert_eq!(r.push(b"hello"), 5);
        // Out-of-order bytes, written past the committed ones.
        assert!(r.write_at(5000, b"later"));
        let mut out = [0u8; 3];
        assert_eq!(r.read(&mut out, true), 3);
        assert_eq!(&out, b"hel");
        // Growth past the first allocation while the head is not at 0 keeps every offset.
        assert!(r.write_at(9000, b"grow"));
        r.commit(4995);
        assert_eq!(r.len(), 4997);
        let mut buf = [0u8; 5];
        assert_eq!(r.copy_out(4997, &mut buf), 0, "not committed yet");
        r.commit(5);
        assert_eq!(r.copy_out(4997, &mut buf), 5);
        assert_eq!(&buf, b"later");
        assert_eq!(r.copy_out(0, &mut buf[..2]), 2);
        assert_eq!(&buf[..2], b"lo");
        assert!(!r.write_at(9998, b"toolong"), "past the limit");
        let n = r.len();
        r.consume(n, false);
        assert_eq!(r.allocated(), 0, "an empty ring gives its memory back");
    }

    #[test]
    fn pushes_within_a_memory_allowance_never_allocate_more() {
        let mut r = Ring::new(1 << 20);
        assert_eq!(
            r.max_push_within(10_000, 0),
            0,
            "nothing allocated, nothing allowed"
        );
        assert_eq!(r.max_push_within(10_000, 5000), 4096);
        assert_eq!(r.max_push_within(100, 5000), 100);
        assert_eq!(r.push(&[1; 4096]), 4096);
        assert_eq!(r.allocated(), 4096);
        assert_eq!(r.max_push_within(10_000, 3000), 0, "8192 needs 4096 more");
        let n = r.max_push_within(10_000, 5000);
        assert_eq!(n, 4096);
        let before = r.allocated();
        r.push(&vec![2; n]);
        assert!(r.allocated() - before <= 5000);
        assert_eq!(r.growth_for(8192), 0);
        assert_eq!(r.growth_for(8193), 8192);
        let mut out = vec![0; 8192];
        r.read(&mut out, true);
        assert_eq!(r.allocated(), 8192);
        r.release_if_empty();
        assert_eq!(r.allocated(), 0);
    }

    proptest! {
        #[test]
        fn behaves_like_a_vecdeque(ops in prop::collection::vec((0u8..3, 1usize..3000), 1..200)) {
            let mut r = Ring::new(16_384);
            let mut model = std::collections::VecDeque::new();
            let mut counter = 0u8;
            for (op, n) in ops {
                match op {
                    0 => {
                        let data: Vec<u8> = (0..n).map(|_| { counter = counter.wrapping_add(1); counter }).collect();
                        let pushed = r.push(&data);
                        model.extend(&data[..pushed]);
                    }
                    1 => {
                        let mut out = vec![0; n];
                        let got = r.read(&mut out, n % 2 == 0);
                        let want: Vec<u8> = model.drain(..got.min(model.len())).collect();
                        prop_assert_eq!(&out[..got], &want[..]);
                    }
                    _ => {
                        let off = n % (model.len() + 1);
                        let mut out = vec![0; 100];
                        let got = r.copy_out(off, &mut out);
                        let want: Vec<u8> = model.iter().skip(off).take(100).copied().collect();
                        prop_assert_eq!(&out[..got], &want[..]);
                    }
                }
                prop_assert_eq!(r.len(), model.len());
            }
        }
    }
}
