//! Ready-made nodes for tests: a raw packet source, sink and reflector.

use std::collections::{BTreeMap, VecDeque};

use synack_core::Instant;

use crate::addr::swap_endpoints;
use crate::Node;

/// A packet a [`RawNode`] received.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Received {
    /// Virtual time of arrival.
    pub time: Instant,
    /// The bytes as delivered (possibly corrupted by the link).
    pub packet: Vec<u8>,
}

/// A node with no protocol: it sends the raw IP packets you queue (now or
/// at a set time), records what arrives, and can reflect packets back.
///
/// Useful as a test attacker, a packet sink, or a ping responder.
#[derive(Clone, Debug, Default)]
pub struct RawNode {
    outbox: VecDeque<Vec<u8>>,
    /// Packets (possibly none: a bare wake-up) to release at an instant.
    scheduled: BTreeMap<Instant, Vec<Vec<u8>>>,
    received: Vec<Received>,
    timeouts: Vec<Instant>,
    echo: bool,
}

impl RawNode {
    /// A node that sends nothing until told to and records what it receives.
    pub fn new() -> Self {
        Self::default()
    }

    /// A node that also sends every packet it receives back, with source and
    /// destination swapped (packets it cannot parse are only recorded).
    pub fn echoing() -> Self {
        RawNode {
            echo: true,
            ..Self::default()
        }
    }

    /// Queues `packet` to go out at the next drain (the network drains a
    /// host touched through `host_mut` before its next event).
    pub fn send(&mut self, packet: Vec<u8>) {
        self.outbox.push_back(packet);
    }

    /// Sends `packet` when virtual time reaches `at` (through a deadline).
    pub fn send_at(&mut self, at: Instant, packet: Vec<u8>) {
        self.scheduled.entry(at).or_default().push(packet);
    }

    /// Asks for a deadline at `at` that sends nothing.
    pub fn wake_at(&mut self, at: Instant) {
        self.scheduled.entry(at).or_default();
    }

    /// Everything received so far.
    pub fn received(&self) -> &[Received] {
        &self.received
    }

    /// Takes everything received so far.
    pub fn take_received(&mut self) -> Vec<Received> {
        std::mem::take(&mut self.received)
    }

    /// The instants at which `handle_timeout` was called.
    pub fn timeouts(&self) -> &[Instant] {
        &self.timeouts
    }
}

impl Node for RawNode {
    fn handle_packet(&mut self, now: Instant, packet: &[u8]) {
        self.received.push(Received {
            time: now,
            packet: packet.to_vec(),
        });
        if self.echo {
            let mut reply = packet.to_vec();
            if swap_endpoints(&mut reply).is_ok() {
                self.outbox.push_back(reply);
            }
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.timeouts.push(now);
        let later = self
            .scheduled
            .split_off(&(now + std::time::Duration::from_micros(1)));
        let due = std::mem::replace(&mut self.scheduled, later);
        self.outbox.extend(due.into_values().flatten());
    }

    fn poll_transmit(&mut self, _now: Instant, buf: &mut [u8]) -> Option<usize> {
        // A packet longer than the buffer cannot be sent by any node; skip it.
        while let Some(packet) = self.outbox.pop_front() {
            if let Some(dst) = buf.get_mut(..packet.len()) {
                dst.copy_from_slice(&packet);
                return Some(packet.len());
            }
        }
        None
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.scheduled.keys().next().copied()
    }
}
