//! The event queue: everything that will happen, ordered by (time, insertion order).

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use synack_core::Instant;

use crate::HostId;

/// Something scheduled to happen at a virtual instant.
#[derive(Debug)]
pub(crate) enum EventKind {
    /// A packet reaches the end of a link direction.
    Arrival {
        from: HostId,
        to: HostId,
        channel: usize,
        packet: Vec<u8>,
    },
    /// A node's deadline. Stale when the host's generation moved on: the
    /// node asked for another deadline since this one was scheduled.
    Deadline { host: HostId, generation: u64 },
}

#[derive(Debug)]
pub(crate) struct Event {
    pub at: Instant,
    /// Insertion order: breaks ties so equal times replay in the same order.
    seq: u64,
    pub kind: EventKind,
}

impl PartialEq for Event {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Event {}

impl PartialOrd for Event {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Event {
    /// Reversed, so the max-heap pops the earliest (time, seq) first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// A min-heap of events keyed by (time, sequence): O(log n) push and pop.
#[derive(Debug, Default)]
pub(crate) struct EventQueue {
    heap: BinaryHeap<Event>,
    next_seq: u64,
}

impl EventQueue {
    pub(crate) fn push(&mut self, at: Instant, kind: EventKind) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Event { at, seq, kind });
    }

    pub(crate) fn peek(&self) -> Option<&Event> {
        self.heap.peek()
    }

    pub(crate) fn pop(&mut self) -> Option<Event> {
        self.heap.pop()
    }

    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deadline(generation: u64) -> EventKind {
        EventKind::Deadline {
            host: HostId(0),
            generation,
        }
    }

    fn generation_of(e: Event) -> u64 {
        match e.kind {
            EventKind::Deadline { generation, .. } => generation,
            EventKind::Arrival { .. } => u64::MAX,
        }
    }

    #[test]
    fn pops_by_time_then_insertion_order() {
        let mut q = EventQueue::default();
        q.push(Instant::from_millis(5), deadline(0));
        q.push(Instant::from_millis(1), deadline(1));
        q.push(Instant::from_millis(5), deadline(2));
        q.push(Instant::from_millis(1), deadline(3));
        let order: Vec<u64> = std::iter::from_fn(|| q.pop()).map(generation_of).collect();
        assert_eq!(order, vec![1, 3, 0, 2]);
    }
}
