//! A bulk, ack-clocked transfer: the link rate is what the receiver sees,
//! and a 1 GiB-benchmark-sized packet count runs through in reasonable time.

mod common;

use std::time::Duration;

use common::*;
use synack_core::Instant;
use synack_sim::{LinkConfig, Network, Node};

const MSS_PACKET: usize = 1500;
const ACK_PACKET: usize = 40;

/// Sends numbered 1500-byte packets, keeping `window` unacknowledged.
struct Sender {
    next: u32,
    total: u32,
    credit: u32,
}

impl Node for Sender {
    fn handle_packet(&mut self, _: Instant, _: &[u8]) {
        self.credit += 1;
    }
    fn handle_timeout(&mut self, _: Instant) {}
    fn poll_transmit(&mut self, _: Instant, buf: &mut [u8]) -> Option<usize> {
        if self.credit == 0 || self.next == self.total {
            return None;
        }
        self.credit -= 1;
        let p = buf.get_mut(..MSS_PACKET)?;
        p[..24].copy_from_slice(&packet(A, B, self.next, 24));
        self.next += 1;
        Some(MSS_PACKET)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
}

/// Acknowledges every packet with a small one and counts what arrived.
#[derive(Default)]
struct Receiver {
    received: u32,
    in_order: bool,
    pending_acks: u32,
    last_arrival: Instant,
}

impl Node for Receiver {
    fn handle_packet(&mut self, now: Instant, p: &[u8]) {
        self.in_order &= seq_of(p) == self.received;
        self.received += 1;
        self.pending_acks += 1;
        self.last_arrival = now;
    }
    fn handle_timeout(&mut self, _: Instant) {}
    fn poll_transmit(&mut self, _: Instant, buf: &mut [u8]) -> Option<usize> {
        if self.pending_acks == 0 {
            return None;
        }
        self.pending_acks -= 1;
        let p = buf.get_mut(..ACK_PACKET)?;
        p[..24].copy_from_slice(&packet(B, A, self.received, 24));
        Some(ACK_PACKET)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
}

enum Host {
    Sender(Sender),
    Receiver(Receiver),
}

impl Host {
    fn node(&mut self) -> &mut dyn Node {
        match self {
            Host::Sender(s) => s,
            Host::Receiver(r) => r,
        }
    }
    fn node_ref(&self) -> &dyn Node {
        match self {
            Host::Sender(s) => s,
            Host::Receiver(r) => r,
        }
    }
}

impl Node for Host {
    fn handle_packet(&mut self, now: Instant, packet: &[u8]) {
        self.node().handle_packet(now, packet);
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.node().handle_timeout(now);
    }
    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        self.node().poll_transmit(now, buf)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.node_ref().poll_timeout()
    }
}

fn bulk(total: u32) -> (Network<Host>, synack_sim::HostId) {
    let mut net = Network::new(1);
    let sender = Sender {
        next: 0,
        total,
        credit: 64,
    };
    let a = net.add_host(Host::Sender(sender), &[A.into()]);
    let receiver = Receiver {
        in_order: true,
        ..Receiver::default()
    };
    let b = net.add_host(Host::Receiver(receiver), &[B.into()]);
    // 100 Mbit/s, 1 ms each way: the bandwidth-delay product is about 17
    // packets of 1500 bytes, so a 64-packet window keeps the link busy.
    let cfg = LinkConfig::default()
        .with_delay(Duration::from_millis(1))
        .with_bandwidth_bps(100_000_000);
    net.link(a, b, cfg);
    (net, b)
}

#[test]
fn bulk_transfer_runs_at_the_link_rate() {
    let total = 100_000;
    let (mut net, b) = bulk(total);
    net.run_for(Duration::from_secs(3600));
    let Host::Receiver(r) = net.host(b) else {
        panic!("host b is the receiver")
    };
    assert_eq!(r.received, total);
    assert!(r.in_order);
    // 1500 bytes at 100 Mbit/s = 120 µs each, back to back: the last one
    // lands after total × 120 µs plus the 1 ms propagation.
    assert_eq!(
        r.last_arrival,
        Instant::from_micros(u64::from(total) * 120 + 1000)
    );
    assert_eq!(net.stats().delivered, 2 * u64::from(total));
    assert_eq!(net.stats().dropped(), 0);
}

/// ~716k data packets (1 GiB / 1500 bytes) plus as many acks: the scale of
/// the 1 GiB benchmark, kept well under a wall-clock budget even in debug.
#[test]
fn one_gibibyte_of_packets() {
    let total = (1u32 << 30) / 1500;
    let started = std::time::Instant::now();
    let (mut net, b) = bulk(total);
    net.run_for(Duration::from_secs(3600));
    let Host::Receiver(r) = net.host(b) else {
        panic!("host b is the receiver")
    };
    assert_eq!(r.received, total);
    let wall = started.elapsed();
    eprintln!("{} deliveries in {wall:?} wall time", net.stats().delivered);
    assert!(
        wall < std::time::Duration::from_secs(60),
        "simulating 1 GiB took {wall:?}"
    );
}
