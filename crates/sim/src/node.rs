//! The contract between the simulator and whatever runs on a host.

use synack_core::Instant;

/// Anything the network can drive: a synack `Stack`, a test attacker, a raw packet sink.
///
/// The network calls these in a fixed pattern. After it hands the node a
/// packet ([`handle_packet`](Node::handle_packet)) or fires its deadline
/// ([`handle_timeout`](Node::handle_timeout)), it drains
/// [`poll_transmit`](Node::poll_transmit) until `None` and then re-reads
/// [`poll_timeout`](Node::poll_timeout). An idle node is never polled.
pub trait Node {
    /// A packet addressed to one of this host's addresses arrived at `now`.
    fn handle_packet(&mut self, now: Instant, packet: &[u8]);

    /// The deadline last reported by [`poll_timeout`](Node::poll_timeout) was reached.
    fn handle_timeout(&mut self, now: Instant);

    /// Writes the next outgoing IP packet into `buf`, returns its length; `None` when nothing to send.
    ///
    /// `buf` is at least [`TRANSMIT_BUFFER_LEN`](crate::TRANSMIT_BUFFER_LEN) bytes long.
    /// The network drains this until it returns `None`, so it must eventually do so.
    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize>;

    /// The next instant at which the node wants [`handle_timeout`](Node::handle_timeout), if any.
    fn poll_timeout(&self) -> Option<Instant>;
}

/// Boxed nodes let one network mix kinds of hosts (`Network<Box<dyn Node>>`).
impl<T: Node + ?Sized> Node for Box<T> {
    fn handle_packet(&mut self, now: Instant, packet: &[u8]) {
        (**self).handle_packet(now, packet);
    }

    fn handle_timeout(&mut self, now: Instant) {
        (**self).handle_timeout(now);
    }

    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        (**self).poll_transmit(now, buf)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        (**self).poll_timeout()
    }
}
