//! The transmit queue in front of a bandwidth-limited link direction.
//!
//! Packets are serialized one after another at the link rate. Times are kept
//! in "micro-bits" (microseconds × bits per second) so that serialization
//! times that are not whole microseconds (54 bytes at 1 Gbit/s is 0.432 µs)
//! add up exactly instead of each being rounded up: a benchmark pushing
//! 700k packets must see the configured rate, not a rounding artefact.

use std::collections::VecDeque;

use synack_core::Instant;

const MICROS_PER_SEC: u128 = 1_000_000;

/// One packet accepted into the queue.
#[derive(Clone, Copy, Debug)]
struct Slot {
    /// When serialization begins.
    start: Instant,
    /// When the last bit is on the wire.
    finish: Instant,
    len: usize,
}

/// A FIFO that serializes packets at `bps` bits per second.
#[derive(Debug)]
pub(crate) struct TransmitQueue {
    bps: u64,
    /// When the link becomes free, in micro-bits (µs × bps).
    free_at: u128,
    /// Packets not yet fully serialized, oldest first.
    slots: VecDeque<Slot>,
    /// Sum of `len` over `slots`.
    slot_bytes: usize,
}

impl TransmitQueue {
    /// A queue for a link of `bps` bits per second; `bps` must not be 0.
    pub(crate) fn new(bps: u64) -> Self {
        debug_assert!(bps > 0, "a 0 bps link is handled as down by the caller");
        TransmitQueue {
            bps: bps.max(1),
            free_at: 0,
            slots: VecDeque::new(),
            slot_bytes: 0,
        }
    }

    /// Changes the rate; a packet already being serialized keeps its finish time.
    pub(crate) fn set_rate(&mut self, bps: u64) {
        let bps = bps.max(1);
        if bps == self.bps {
            return;
        }
        let free_micros = ceil_div(self.free_at, u128::from(self.bps));
        self.free_at = free_micros * u128::from(bps);
        self.bps = bps;
    }

    /// Bytes waiting for the link at `now`: queued packets whose serialization
    /// has not begun (the one on the wire is not waiting any more).
    pub(crate) fn waiting_bytes(&mut self, now: Instant) -> usize {
        self.forget_sent(now);
        match self.slots.front() {
            Some(front) if front.start <= now => self.slot_bytes - front.len,
            _ => self.slot_bytes,
        }
    }

    /// Whether a packet offered at `now` would have to wait.
    pub(crate) fn is_busy(&mut self, now: Instant) -> bool {
        self.forget_sent(now);
        !self.slots.is_empty()
    }

    /// Accepts a packet of `len` bytes at `now` and returns when its last bit
    /// is on the wire (propagation delay counts from there).
    pub(crate) fn enqueue(&mut self, now: Instant, len: usize) -> Instant {
        self.forget_sent(now);
        let bps = u128::from(self.bps);
        let start = self.free_at.max(u128::from(now.total_micros()) * bps);
        let bits = (len as u128).saturating_mul(8);
        let finish = start.saturating_add(bits.saturating_mul(MICROS_PER_SEC));
        self.free_at = finish;
        let slot = Slot {
            start: micros_to_instant(ceil_div(start, bps)),
            finish: micros_to_instant(ceil_div(finish, bps)),
            len,
        };
        if slot.finish > now {
            self.slots.push_back(slot);
            self.slot_bytes += len;
        }
        slot.finish
    }

    /// Drops the bookkeeping for packets fully serialized by `now`.
    fn forget_sent(&mut self, now: Instant) {
        while let Some(front) = self.slots.front() {
            if front.finish > now {
                break;
            }
            self.slot_bytes -= front.len;
            self.slots.pop_front();
        }
    }
}

fn ceil_div(a: u128, b: u128) -> u128 {
    a.div_ceil(b.max(1))
}

fn micros_to_instant(micros: u128) -> Instant {
    Instant::from_micros(u64::try_from(micros).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_serialize_back_to_back() {
        // 8 Mbit/s: 1000 bytes take exactly 1 ms.
        let mut q = TransmitQueue::new(8_000_000);
        let t0 = Instant::ZERO;
        assert_eq!(q.enqueue(t0, 1000), Instant::from_millis(1));
        assert_eq!(q.enqueue(t0, 1000), Instant::from_millis(2));
        // An idle link starts at once.
        let later = Instant::from_millis(10);
        assert_eq!(q.enqueue(later, 1000), Instant::from_millis(11));
    }

    #[test]
    fn fractional_microseconds_do_not_drift() {
        // 54 bytes at 1 Gbit/s = 0.432 µs; 1000 of them = 432 µs exactly.
        let mut q = TransmitQueue::new(1_000_000_000);
        let mut last = Instant::ZERO;
        for _ in 0..1000 {
            last = q.enqueue(Instant::ZERO, 54);
        }
        assert_eq!(last, Instant::from_micros(432));
    }

    #[test]
    fn waiting_bytes_excludes_the_packet_on_the_wire() {
        let mut q = TransmitQueue::new(8_000); // 1 byte per ms
        for _ in 0..3 {
            q.enqueue(Instant::ZERO, 100);
        }
        assert!(q.is_busy(Instant::ZERO));
        assert_eq!(q.waiting_bytes(Instant::ZERO), 200);
        assert_eq!(q.waiting_bytes(Instant::from_millis(100)), 100);
        assert_eq!(q.waiting_bytes(Instant::from_millis(299)), 0);
        assert!(!q.is_busy(Instant::from_millis(300)));
    }

    #[test]
    fn rate_change_keeps_the_current_finish_time() {
        let mut q = TransmitQueue::new(8_000_000);
        q.enqueue(Instant::ZERO, 1000); // busy until 1 ms
        q.set_rate(16_000_000);
        // Starts at 1 ms, takes 0.5 ms at the doubled rate.
        assert_eq!(q.enqueue(Instant::ZERO, 1000), Instant::from_micros(1500));
    }
}
