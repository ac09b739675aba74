//! Counters for what happened to packets and deadlines.

/// Why the network dropped a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Random loss (independent or burst).
    Lost,
    /// Tail drop: the link's queue was over its byte limit.
    QueueFull,
    /// Longer than the link's MTU.
    MtuExceeded,
    /// No host owns the destination address, or the sender has no link to it.
    NoRoute,
    /// The link was down (partitioned) when the packet was sent or would have arrived.
    LinkDown,
    /// Not an IP packet the router can read (empty, unknown version, too
    /// short for its addresses), or a length the node reported past its buffer.
    Unparseable,
}

/// Per-reason counters for the whole network.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Packets hosts transmitted or were injected.
    pub sent: u64,
    /// Packets handed to a destination node (duplicates count again).
    pub delivered: u64,
    /// Bytes handed to destination nodes.
    pub delivered_bytes: u64,
    /// Packets dropped by random loss.
    pub lost: u64,
    /// Extra copies created.
    pub duplicated: u64,
    /// Packets that had a bit flipped.
    pub corrupted: u64,
    /// Packets tail-dropped at a full queue.
    pub queue_drops: u64,
    /// Packets dropped for exceeding the MTU.
    pub mtu_drops: u64,
    /// Packets with no host or no link to reach it.
    pub no_route: u64,
    /// Packets held back so later ones could overtake them.
    pub reordered: u64,
    /// Packets dropped by a link that was down.
    pub link_down: u64,
    /// Packets the router could not read.
    pub unparseable: u64,
    /// Node deadlines fired (`handle_timeout` calls).
    pub timeouts_fired: u64,
    /// Times a node still asked for a deadline at or before `now` right after
    /// its timeout fired; the network then backs the deadline off (see
    /// [`Network`](crate::Network)) instead of spinning.
    pub stalled_timeouts: u64,
}

impl NetStats {
    /// Total packets dropped for any reason.
    pub fn dropped(&self) -> u64 {
        self.lost
            + self.queue_drops
            + self.mtu_drops
            + self.no_route
            + self.link_down
            + self.unparseable
    }

    pub(crate) fn count_drop(&mut self, reason: DropReason) {
        let counter = match reason {
            DropReason::Lost => &mut self.lost,
            DropReason::QueueFull => &mut self.queue_drops,
            DropReason::MtuExceeded => &mut self.mtu_drops,
            DropReason::NoRoute => &mut self.no_route,
            DropReason::LinkDown => &mut self.link_down,
            DropReason::Unparseable => &mut self.unparseable,
        };
        *counter += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_reason_has_its_own_counter() {
        let reasons = [
            DropReason::Lost,
            DropReason::QueueFull,
            DropReason::MtuExceeded,
            DropReason::NoRoute,
            DropReason::LinkDown,
            DropReason::Unparseable,
        ];
        let mut s = NetStats::default();
        for (i, r) in reasons.iter().enumerate() {
            for _ in 0..=i {
                s.count_drop(*r);
            }
        }
        assert_eq!(
            [
                s.lost,
                s.queue_drops,
                s.mtu_drops,
                s.no_route,
                s.link_down,
                s.unparseable
            ],
            [1, 2, 3, 4, 5, 6]
        );
        assert_eq!(s.dropped(), 21);
    }
}
