//! Hostile input against a live stack: nothing panics, every bad packet is counted and dropped,
//! and a connection that sees garbage between good segments keeps its stream intact.

use proptest::prelude::*;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use synack_core::{Config, Instant, Stack, State};
use synack_sim::{CaptureEvent, LinkConfig};
use synack_tests::apps::{Client, Server};
use synack_tests::{pattern, Pair};
use synack_wire::ip::{emit_ip_header, protocol};
use synack_wire::{SeqNumber, TcpFlags, TcpOptions, TcpRepr};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A valid SYN from 10.0.0.1:4000 to 10.0.0.2:80.
fn syn_packet() -> Vec<u8> {
    let (src, dst) = (ip("10.0.0.1"), ip("10.0.0.2"));
    let repr = TcpRepr {
        src_port: 4000,
        dst_port: 80,
        seq: SeqNumber(1000),
        ack: SeqNumber(0),
        flags: TcpFlags::SYN,
        window: 65535,
        urgent_ptr: 0,
        options: TcpOptions {
            mss: Some(1460),
            ..TcpOptions::default()
        },
        payload: &[],
    };
    let tcp_len = repr.header_len();
    let mut buf = vec![0u8; 20 + tcp_len];
    repr.emit(&mut buf[20..], src, dst).unwrap();
    emit_ip_header(&mut buf[..20], src, dst, protocol::TCP, tcp_len, 64, 1).unwrap();
    buf
}

fn listening_stack() -> Stack {
    let mut s = Stack::new(Arc::new(Config::default()), [3; 32]);
    s.add_address(ip("10.0.0.2"));
    s.listen("10.0.0.2:80".parse().unwrap(), 16).unwrap();
    s
}

fn drain(s: &mut Stack, now: Instant) -> usize {
    let mut buf = [0u8; 1600];
    let mut n = 0;
    while s.poll_transmit(now, &mut buf).is_some() {
        n += 1;
    }
    while s.poll_event().is_some() {}
    n
}

#[test]
fn bad_checksums_and_foreign_addresses_are_counted_and_dropped() {
    let mut s = listening_stack();
    let good = syn_packet();
    // Flip a bit in the TCP payload area (the checksum field): TCP checksum fails.
    let mut bad_tcp = good.clone();
    bad_tcp[20 + 16] ^= 0x01;
    s.handle_packet(Instant::ZERO, &bad_tcp);
    assert_eq!(s.stats().drops_for("tcp_bad_checksum"), 1);
    // Corrupt the IPv4 header checksum.
    let mut bad_ip = good.clone();
    bad_ip[10] ^= 0xff;
    s.handle_packet(Instant::ZERO, &bad_ip);
    assert_eq!(s.stats().drops_for("ipv4_bad_checksum"), 1);
    // Truncated header.
    s.handle_packet(Instant::ZERO, &good[..10]);
    assert_eq!(s.stats().drops_for("ipv4_truncated"), 1);
    // Not our address: rewrite the destination and fix the IP checksum by re-emitting.
    let mut foreign = good.clone();
    emit_ip_header(
        &mut foreign[..20],
        ip("10.0.0.1"),
        ip("10.0.0.9"),
        protocol::TCP,
        good.len() - 20,
        64,
        1,
    )
    .unwrap();
    s.handle_packet(Instant::ZERO, &foreign);
    assert_eq!(s.stats().drops_for("not_our_address"), 1);
    assert_eq!(
        drain(&mut s, Instant::ZERO),
        0,
        "no reply to any bad packet"
    );
    assert_eq!(s.connection_count(), 0, "no state from bad packets");
    // The good SYN is answered with a SYN-ACK and creates one half-open connection.
    s.handle_packet(Instant::ZERO, &good);
    assert_eq!(drain(&mut s, Instant::ZERO), 1);
    assert_eq!(s.connection_count(), 1);
    assert_eq!(
        s.connections().next().map(|(_, t)| t.state()),
        Some(State::SynRcvd)
    );
}

#[test]
fn land_attack_and_broadcast_sources_are_dropped() {
    let mut s = listening_stack();
    let (me, bcast) = (ip("10.0.0.2"), ip("255.255.255.255"));
    for src in [me, bcast] {
        let repr = TcpRepr {
            src_port: 80,
            dst_port: 80,
            seq: SeqNumber(1),
            ack: SeqNumber(0),
            flags: TcpFlags::SYN,
            window: 1000,
            urgent_ptr: 0,
            options: TcpOptions::default(),
            payload: &[],
        };
        let mut buf = vec![0u8; 40];
        repr.emit(&mut buf[20..], src, me).unwrap();
        emit_ip_header(&mut buf[..20], src, me, protocol::TCP, 20, 64, 1).unwrap();
        s.handle_packet(Instant::ZERO, &buf);
    }
    assert_eq!(s.stats().drops_for("bad_source_address"), 2);
    assert_eq!(drain(&mut s, Instant::ZERO), 0);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Random bytes: never a panic, never state, always counted.
    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let mut s = listening_stack();
        s.handle_packet(Instant::ZERO, &bytes);
        let counted = s.stats().total_drops() + s.stats().segments_in;
        prop_assert_eq!(counted, 1, "every packet is processed or counted as dropped");
        drain(&mut s, Instant::ZERO);
    }

    /// Mutations of a valid SYN: each one is either processed or counted, never a panic.
    #[test]
    fn mutated_syns_never_panic(edits in prop::collection::vec((0usize..64, any::<u8>()), 1..6), cut in 0usize..64) {
        let mut s = listening_stack();
        let mut p = syn_packet();
        for (i, v) in edits {
            if let Some(b) = p.get_mut(i) { *b = v; }
        }
        p.truncate(p.len().saturating_sub(cut % 8));
        s.handle_packet(Instant::ZERO, &p);
        drain(&mut s, Instant::ZERO);
        s.handle_timeout(Instant::from_secs(3600));
        drain(&mut s, Instant::from_secs(3600));
    }
}

/// A transfer over a link that corrupts packets: checksums catch every corrupted packet (the
/// stream arrives intact) and the drops are counted.
#[test]
fn corruption_is_caught_by_checksums() {
    let link = LinkConfig::default()
        .with_delay(Duration::from_millis(2))
        .with_corrupt(0.05);
    let mut p = Pair::new(Config::default(), Config::default(), link, 11);
    p.net.set_capture(true);
    let data = pattern(300_000, 3);
    let b = p.b_addr(80);
    p.net.host_mut(p.b).app = Some(Box::new(Server::echo(b, 1)));
    p.net.host_mut(p.a).app = Some(Box::new(Client::new(b, data.clone())));
    assert!(
        p.run_until_done(Duration::from_secs(600)),
        "transfer finished"
    );
    let c: &Client = p.net.host(p.a).app();
    assert!(c.received == data, "echoed stream intact");
    let corrupted = p
        .net
        .take_captures()
        .iter()
        .filter(|c| c.event == CaptureEvent::Corrupted)
        .count() as u64;
    assert!(corrupted > 10, "the link corrupted packets ({corrupted})");
    // Segments a connection turned away after they parsed (duplicates of lost ACKs' data land out
    // of the window) are not corruption.
    let connection_level = [
        "tcp_out_of_window",
        "tcp_rst_challenged",
        "tcp_syn_challenged",
        "tcp_ack_unsent_data",
        "tcp_ack_too_old",
    ];
    let malformed = |s: &synack_core::Stats| {
        s.drops
            .iter()
            .filter(|(reason, _)| !connection_level.contains(reason))
            .map(|(_, n)| n)
            .sum::<u64>()
    };
    let dropped =
        malformed(p.net.host(p.a).stack.stats()) + malformed(p.net.host(p.b).stack.stats());
    // A flipped bit is caught by the IP or TCP checksum (or makes the packet someone else's).
    assert_eq!(
        dropped, corrupted,
        "every corrupted packet was counted as a drop"
    );
}
