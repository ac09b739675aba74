//! Hosts: a node, the addresses it owns, and its scheduled deadline.

use std::fmt;
use std::net::IpAddr;

use synack_core::Instant;

/// Names a host within one [`Network`](crate::Network).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HostId(pub(crate) usize);

impl HostId {
    /// The host's position in the order hosts were added (0-based).
    pub fn index(self) -> usize {
        self.0
    }
}

impl fmt::Display for HostId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "h{}", self.0)
    }
}

/// A node plus what the network keeps about it.
#[derive(Debug)]
pub(crate) struct Host<N> {
    pub node: N,
    pub addrs: Vec<IpAddr>,
    pub timer: TimerSlot,
    /// Touched through `host_mut` since its last drain.
    pub dirty: bool,
}

/// The deadline the network has scheduled for a host.
#[derive(Debug, Default)]
pub(crate) struct TimerSlot {
    /// The instant of the live deadline event, if any.
    pub scheduled: Option<Instant>,
    /// Bumped whenever `scheduled` changes; older deadline events are stale.
    pub generation: u64,
    /// Consecutive fires after which the node still wanted a deadline at or
    /// before `now`; drives the back-off that keeps such a node from spinning.
    pub stall_streak: u32,
}
