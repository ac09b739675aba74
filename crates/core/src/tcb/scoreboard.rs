//! The sender's record of every segment in flight: what was SACKed, what is deemed lost, what
//! was sent again, and when each left (RFC 6675 §2 scoreboard; RFC 8985 §5.2 per-segment
//! transmit times).
//!
//! Records are kept in sequence order, contiguous from SND.UNA to SND.MAX, so a cumulative ACK
//! pops from the front and a SACK block finds its records by binary search. Counters make
//! RFC 6675's `pipe` O(1).

use crate::time::Instant;
use std::collections::VecDeque;
use synack_wire::SeqNumber;

/// Where one segment stands.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Mark {
    /// Sent and neither acknowledged nor deemed lost.
    InFlight,
    /// Selectively acknowledged (RFC 2018): the receiver holds it.
    Sacked,
    /// Deemed lost and waiting to be sent again.
    Lost,
    /// Deemed lost and sent again: in flight once more.
    Resent,
}

/// One transmitted segment (SYN excluded; a FIN is a one-octet record).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sent {
    pub start: SeqNumber,
    pub end: SeqNumber,
    /// The last time it was sent.
    pub sent_at: Instant,
    /// Transmission order of that last send: orders segments sent at the same instant (a
    /// retransmission sent after new data in one burst is the later one).
    pub order: u64,
    pub mark: Mark,
    /// Sent more than once (Karn's rule and RFC 8985 §6.2 step 2 ambiguity).
    pub retransmitted: bool,
}

impl Sent {
    fn len(&self) -> u32 {
        self.end.distance_from(self.start)
    }
}

/// What a SACK or cumulative ACK newly delivered, for RACK and PRR.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Delivered {
    /// Bytes newly SACKed (cumulative progress is counted by the caller).
    pub sacked: u32,
    /// The most recently sent of the newly delivered segments: (sent_at, order, retransmitted).
    pub newest: Option<(Instant, u64, bool)>,
    /// A newly delivered segment that was never retransmitted ended below one already
    /// delivered: the network reordered (RFC 8985 §6.2 step 3).
    pub reordered: bool,
}

impl Delivered {
    /// Adds what another part of the same ACK delivered.
    pub fn merge(&mut self, other: Delivered) {
        self.sacked += other.sacked;
        self.reordered |= other.reordered;
        if let Some(newest) = other.newest {
            self.offer_newest(newest);
        }
    }

    /// Keeps `candidate` if it was sent after the newest so far.
    fn offer_newest(&mut self, candidate: (Instant, u64, bool)) {
        let (at, order, _) = candidate;
        if self.newest.is_none_or(|(a, o, _)| (at, order) > (a, o)) {
            self.newest = Some(candidate);
        }
    }

    fn note(&mut self, seg: &Sent, fack: SeqNumber) {
        if !seg.retransmitted && seg.end < fack {
            self.reordered = true;
        }
        self.offer_newest((seg.sent_at, seg.order, seg.retransmitted));
    }
}

/// The scoreboard.
#[derive(Clone, Debug, Default)]
pub(crate) struct Scoreboard {
    segs: VecDeque<Sent>,
    /// Bytes marked [`Mark::Sacked`].
    sacked: u32,
    /// Bytes marked [`Mark::Lost`].
    lost: u32,
    /// Highest sequence number SACKed or acknowledged so far (RFC 8985 RACK.fack).
    fack: SeqNumber,
    /// Transmissions so far, for [`Sent::order`].
    sends: u64,
}

impl Scoreboard {
    /// Records bytes sent first at `[start, end)` (appended) or again (already recorded).
    pub fn on_send(&mut self, start: SeqNumber, end: SeqNumber, now: Instant) {
        self.sends += 1;
        let order = self.sends;
        let high = self.segs.back().map(|s| s.end);
        if high.is_none_or(|h| start >= h) {
            if self.segs.is_empty() {
                self.fack = start;
            }
            self.segs.push_back(Sent {
                start,
                end,
                sent_at: now,
                order,
                mark: Mark::InFlight,
                retransmitted: false,
            });
            return;
        }
        // A retransmission: split so that exactly [start, end) is marked resent.
        self.split_at(start);
        self.split_at(end);
        let first = self.index_of(start);
        for seg in self.segs.range_mut(first..) {
            if seg.start >= end {
                break;
            }
            match seg.mark {
                Mark::Lost => self.lost -= seg.len(),
                Mark::Sacked => continue,
                Mark::InFlight | Mark::Resent => {}
            }
            seg.mark = Mark::Resent;
            seg.sent_at = now;
            seg.order = order;
            seg.retransmitted = true;
        }
    }

    /// Cumulative acknowledgment up to `ack` (RFC 9293 SND.UNA moved there).
    pub fn on_cumulative_ack(&mut self, ack: SeqNumber) -> Delivered {
        let mut delivered = Delivered::default();
        self.split_at(ack);
        while let Some(front) = self.segs.front() {
            if front.end > ack {
                break;
            }
            let seg = *front;
            self.segs.pop_front();
            match seg.mark {
                Mark::Sacked => self.sacked -= seg.len(),
                Mark::Lost => self.lost -= seg.len(),
                Mark::InFlight | Mark::Resent => {}
            }
            if seg.mark != Mark::Sacked {
                delivered.note(&seg, self.fack);
            }
        }
        if ack > self.fack {
            self.fack = ack;
        }
        delivered
    }

    /// A SACK block `[left, right)` (RFC 2018): marks what it covers as held by the receiver.
    pub fn on_sack_block(&mut self, left: SeqNumber, right: SeqNumber, into: &mut Delivered) {
        let (Some(first), Some(last)) = (self.segs.front(), self.segs.back()) else {
            return;
        };
        // Only what is recorded counts: a block reaching below SND.UNA or past SND.MAX is
        // clipped (the caller already rejected blocks wholly outside).
        let left = left.max(first.start);
        let right = right.min(last.end);
        if left >= right {
            return;
        }
        self.split_at(left);
        self.split_at(right);
        let fack = self.fack;
        let first = self.index_of(left);
        let mut newly = 0;
        for seg in self.segs.range_mut(first..) {
            if seg.start >= right {
                break;
            }
            match seg.mark {
                Mark::Sacked => continue,
                Mark::Lost => self.lost -= seg.len(),
                Mark::InFlight | Mark::Resent => {}
            }
            seg.mark = Mark::Sacked;
            newly += seg.len();
            into.note(seg, fack);
        }
        self.sacked += newly;
        into.sacked += newly;
        if right > self.fack {
            self.fack = right;
        }
    }

    /// RFC 6675 §4 SetPipe (as Linux's `tcp_packets_in_flight`): bytes in flight, counting a
    /// lost segment only once it is sent again. `flight` is SND.MAX - SND.UNA.
    pub fn pipe(&self, flight: u32) -> u32 {
        flight.saturating_sub(self.sacked + self.lost)
    }

    /// Bytes SACKed above SND.UNA.
    pub fn sacked_bytes(&self) -> u32 {
        self.sacked
    }

    /// Bytes deemed lost and not yet sent again.
    pub fn lost_bytes(&self) -> u32 {
        self.lost
    }

    /// The lowest segment waiting to be sent again (RFC 6675 §4 NextSeg rule 1).
    pub fn first_lost(&self) -> Option<&Sent> {
        if self.lost == 0 {
            return None;
        }
        self.segs.iter().find(|s| s.mark == Mark::Lost)
    }

    /// Marks every segment not SACKed as lost (RFC 6675 §5.1 after a timeout; RFC 8985 §6.3).
    pub fn mark_all_lost(&mut self) {
        for seg in &mut self.segs {
            if matches!(seg.mark, Mark::InFlight | Mark::Resent) {
                seg.mark = Mark::Lost;
                self.lost += seg.len();
            }
        }
    }

    /// Marks the first unacknowledged segment lost (RFC 5681 §3.2 fast retransmit without
    /// SACK). Returns whether it changed anything.
    pub fn mark_first_lost(&mut self) -> bool {
        match self.segs.front_mut() {
            Some(seg) if matches!(seg.mark, Mark::InFlight | Mark::Resent) => {
                seg.mark = Mark::Lost;
                self.lost += seg.len();
                true
            }
            _ => false,
        }
    }

    /// RFC 8985 §6.2 step 5 (RACK_detect_loss): marks lost every segment sent before the most
    /// recently delivered one by more than `rtt + reo_wnd` ago. Returns how many bytes were
    /// newly marked and, for segments that may still be lost later, the earliest time they
    /// would be (the reordering timer).
    pub fn rack_detect_loss(
        &mut self,
        now: Instant,
        rack_xmit: (Instant, u64),
        rtt_plus_reo: std::time::Duration,
    ) -> (u32, Option<Instant>) {
        let mut newly = 0;
        let mut timer: Option<Instant> = None;
        for seg in &mut self.segs {
            if !matches!(seg.mark, Mark::InFlight | Mark::Resent) {
                continue;
            }
            if (seg.sent_at, seg.order) >= rack_xmit {
                if seg.retransmitted {
                    // Sent again recently; originals further on may still be older.
                    continue;
                }
                // Originals are in transmit order: everything further was sent later.
                break;
            }
            let deadline = seg.sent_at + rtt_plus_reo;
            if deadline <= now {
                seg.mark = Mark::Lost;
                newly += seg.len();
            } else {
                timer = Some(timer.map_or(deadline, |t| t.min(deadline)));
            }
        }
        self.lost += newly;
        (newly, timer)
    }

    /// The highest-sequence segment still unacknowledged and not SACKed (RFC 8985 §7.3: the
    /// loss probe resends it when there is no new data).
    pub fn last_unsacked(&self) -> Option<&Sent> {
        self.segs.iter().rev().find(|s| s.mark != Mark::Sacked)
    }

    /// Forgets everything (the connection went back to its SYN, or ended).
    pub fn clear(&mut self) {
        self.segs.clear();
        self.sacked = 0;
        self.lost = 0;
    }

    /// Heap bytes held.
    pub fn allocated(&self) -> usize {
        self.segs.capacity() * std::mem::size_of::<Sent>()
    }

    /// Index of the record that starts at `seq` (after `split_at(seq)`), or where it would go.
    fn index_of(&self, seq: SeqNumber) -> usize {
        self.segs.partition_point(|s| s.end <= seq)
    }

    /// Splits the record containing `seq` so that a record starts exactly at `seq`.
    fn split_at(&mut self, seq: SeqNumber) {
        let i = self.index_of(seq);
        let Some(seg) = self.segs.get_mut(i) else {
            return;
        };
        if seg.start >= seq || seg.end <= seq {
            return;
        }
        let mut tail = *seg;
        seg.end = seq;
        tail.start = seq;
        self.segs.insert(i + 1, tail);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn t(ms: u64) -> Instant {
        Instant::ZERO + Duration::from_millis(ms)
    }

    fn board(n: u32) -> Scoreboard {
        let mut b = Scoreboard::default();
        for i in 0..n {
            b.on_send(
                SeqNumber(1000 + i * 100),
                SeqNumber(1100 + i * 100),
                t(u64::from(i)),
            );
        }
        b
    }

    #[test]
    fn sack_marks_and_pipe_counts() {
        let mut b = board(10); // [1000, 2000)
        assert_eq!(b.pipe(1000), 1000);
        let mut d = Delivered::default();
        // A block covering records 3..5 plus half of 5.
        b.on_sack_block(SeqNumber(1300), SeqNumber(1550), &mut d);
        assert_eq!(d.sacked, 250);
        assert_eq!(b.sacked_bytes(), 250);
        assert_eq!(b.pipe(1000), 750);
        assert_eq!(b.fack, SeqNumber(1550));
        // The same block again delivers nothing new.
        let mut again = Delivered::default();
        b.on_sack_block(SeqNumber(1300), SeqNumber(1550), &mut again);
        assert_eq!(again.sacked, 0);
        // A cumulative ACK over the SACKed range frees the count.
        b.on_cumulative_ack(SeqNumber(1600));
        assert_eq!(b.sacked_bytes(), 0);
        assert_eq!(b.pipe(400), 400);
    }

    #[test]
    fn rack_marks_older_segments_lost_after_rtt_plus_window() {
        let mut b = board(10);
        let mut d = Delivered::default();
        // Record 5 (sent at 5 ms) is SACKed; 0..4 were sent before it.
        b.on_sack_block(SeqNumber(1500), SeqNumber(1600), &mut d);
        let newest = d.newest.unwrap();
        assert_eq!(newest.0, t(5));
        // At 12 ms with rtt+reo = 10 ms: segments sent at 0, 1 and 2 ms are lost; 3, 4 wait.
        let (lost, timer) =
            b.rack_detect_loss(t(12), (newest.0, newest.1), Duration::from_millis(10));
        assert_eq!(lost, 300);
        assert_eq!(timer, Some(t(13)));
        assert_eq!(b.first_lost().unwrap().start, SeqNumber(1000));
        assert_eq!(b.pipe(1000), 1000 - 100 - 300);
        // Resending the first lost segment puts it back in flight.
        b.on_send(SeqNumber(1000), SeqNumber(1100), t(12));
        assert_eq!(b.lost_bytes(), 200);
        assert_eq!(b.first_lost().unwrap().start, SeqNumber(1100));
    }

    #[test]
    fn reordering_is_noticed() {
        let mut b = board(4);
        let mut d = Delivered::default();
        b.on_sack_block(SeqNumber(1300), SeqNumber(1400), &mut d);
        assert!(!d.reordered);
        // Record 1 arrives after record 3 was SACKed, never having been resent: reordering.
        let mut d2 = Delivered::default();
        b.on_sack_block(SeqNumber(1100), SeqNumber(1200), &mut d2);
        assert!(d2.reordered);
    }

    #[test]
    fn partial_resend_splits_and_timeout_marks_all() {
        let mut b = board(2); // [1000,1100) [1100,1200)
        b.mark_all_lost();
        assert_eq!(b.lost_bytes(), 200);
        // A smaller MSS resends the first 60 bytes only.
        b.on_send(SeqNumber(1000), SeqNumber(1060), t(50));
        assert_eq!(b.lost_bytes(), 140);
        assert_eq!(b.first_lost().unwrap().start, SeqNumber(1060));
        b.on_cumulative_ack(SeqNumber(1030));
        assert_eq!(b.pipe(170), 170 - 140);
        assert_eq!(b.last_unsacked().unwrap().end, SeqNumber(1200));
    }
}
