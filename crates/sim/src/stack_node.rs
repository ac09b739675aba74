//! A synack [`Stack`] is a [`Node`]: the simulator drives it like any driver would.

use crate::Node;
use synack_core::{Instant, Stack};

impl Node for Stack {
    fn handle_packet(&mut self, now: Instant, packet: &[u8]) {
        Stack::handle_packet(self, now, packet);
    }

    fn handle_timeout(&mut self, now: Instant) {
        Stack::handle_timeout(self, now);
    }

    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        Stack::poll_transmit(self, now, buf).map(|t| t.len)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        Stack::poll_timeout(self)
    }
}
