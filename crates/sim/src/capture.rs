//! A record of every packet a host sent and what became of it.

use synack_core::Instant;

use crate::{DropReason, HostId};

/// What happened to a packet at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CaptureEvent {
    /// A host transmitted it (or it was injected as if from that host).
    Sent,
    /// It reached the destination node.
    Delivered,
    /// The network dropped it.
    Dropped(DropReason),
    /// A copy was scheduled to arrive right after it.
    Duplicated,
    /// A bit was flipped; the captured bytes are the corrupted ones.
    Corrupted,
    /// It was held back so later packets overtake it.
    Reordered,
}

/// One captured packet event.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Capture {
    /// Virtual time of the event (a drop or impairment is decided when the packet is sent).
    pub time: Instant,
    /// The sending host.
    pub from: HostId,
    /// The host it is routed to, if any.
    pub to: Option<HostId>,
    /// What happened.
    pub event: CaptureEvent,
    /// The packet bytes at that moment.
    pub packet: Vec<u8>,
}
