//! Routing by destination address: hosts, links, IPv6, spoofing, garbage.

mod common;

use std::net::IpAddr;
use std::time::Duration;

use common::*;
use synack_core::Instant;
use synack_sim::{CaptureEvent, DropReason, LinkConfig, Network, Node, RawNode};

#[test]
fn unknown_destination_is_no_route() {
    let (mut net, a, b) = pair(1, LinkConfig::default());
    net.set_capture(true);
    net.host_mut(a).send(packet(A, C, 1, 64));
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.stats().no_route, 1);
    assert!(net.host(b).received().is_empty());
    let caps = net.take_captures();
    assert_eq!(caps.len(), 2);
    assert_eq!(caps[0].event, CaptureEvent::Sent);
    assert_eq!(caps[1].event, CaptureEvent::Dropped(DropReason::NoRoute));
    assert_eq!(caps[1].to, None);
}

#[test]
fn known_destination_without_a_link_is_no_route() {
    let (mut net, a, b) = pair(1, LinkConfig::default());
    let c = net.add_host(RawNode::new(), &[C.into()]);
    net.host_mut(a).send(packet(A, C, 1, 64));
    net.host_mut(c).send(packet(C, B, 2, 64));
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.stats().no_route, 2);
    assert!(net.host(c).received().is_empty());
    assert!(net.host(b).received().is_empty());
    // Linking one direction routes only that direction.
    net.set_link(a, c, LinkConfig::default());
    net.host_mut(a).send(packet(A, C, 3, 64));
    net.host_mut(c).send(packet(C, A, 4, 64));
    net.run_for(Duration::from_secs(1));
    assert_eq!(received_seqs(&net, c), vec![3]);
    assert_eq!(net.stats().no_route, 3);
}

#[test]
fn a_host_with_many_addresses_and_many_links() {
    let mut net = Network::new(1);
    let hub = net.add_host(RawNode::new(), &[A.into(), "fd00::1".parse().unwrap()]);
    let b = net.add_host(RawNode::new(), &[B.into()]);
    let c = net.add_host(RawNode::new(), &[C.into()]);
    net.link(
        hub,
        b,
        LinkConfig::default().with_delay(Duration::from_millis(1)),
    );
    net.link(
        hub,
        c,
        LinkConfig::default().with_delay(Duration::from_millis(2)),
    );
    net.host_mut(hub).send(packet(A, B, 1, 64));
    net.host_mut(hub).send(packet(A, C, 2, 64));
    net.host_mut(b).send(packet(B, A, 3, 64));
    net.run_for(Duration::from_secs(1));
    assert_eq!(received_seqs(&net, b), vec![1]);
    assert_eq!(received_seqs(&net, c), vec![2]);
    assert_eq!(received_seqs(&net, hub), vec![3]);
    assert_eq!(net.host(c).received()[0].time, Instant::from_millis(2));
    assert_eq!(net.host_by_addr("fd00::1".parse().unwrap()), Some(hub));
    assert_eq!(net.host_addrs(b), &[IpAddr::V4(B)]);
    assert_eq!(net.host_ids().collect::<Vec<_>>(), vec![hub, b, c]);
}

fn ipv6_packet(src: &str, dst: &str, tag: u8) -> Vec<u8> {
    let mut p = vec![0u8; 48];
    p[0] = 0x60;
    p[4..6].copy_from_slice(&8u16.to_be_bytes());
    p[6] = 253;
    p[7] = 64;
    let src: std::net::Ipv6Addr = src.parse().unwrap();
    let dst: std::net::Ipv6Addr = dst.parse().unwrap();
    p[8..24].copy_from_slice(&src.octets());
    p[24..40].copy_from_slice(&dst.octets());
    p[40] = tag;
    p
}

#[test]
fn ipv6_is_routed_by_its_destination() {
    let mut net = Network::new(1);
    let a = net.add_host(RawNode::new(), &["fd00::a".parse().unwrap()]);
    let b = net.add_host(RawNode::echoing(), &["fd00::b".parse().unwrap()]);
    net.link(
        a,
        b,
        LinkConfig::default().with_delay(Duration::from_millis(4)),
    );
    net.host_mut(a).send(ipv6_packet("fd00::a", "fd00::b", 42));
    net.run_for(Duration::from_secs(1));
    let back = net.host(a).received();
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].time, Instant::from_millis(8));
    assert_eq!(back[0].packet, ipv6_packet("fd00::b", "fd00::a", 42));
}

#[test]
fn injected_packets_may_spoof_their_source() {
    let (mut net, a, b) = pair(
        1,
        LinkConfig::default().with_delay(Duration::from_millis(2)),
    );
    let attacker = net.add_host(RawNode::new(), &[C.into()]);
    net.link(
        attacker,
        b,
        LinkConfig::default().with_delay(Duration::from_millis(1)),
    );
    // Claims to come from A; travels over the attacker's own link.
    net.inject(attacker, packet(A, B, 66, 64));
    net.run_for(Duration::from_secs(1));
    let rx = net.host(b).received();
    assert_eq!(rx.len(), 1);
    assert_eq!(rx[0].time, Instant::from_millis(1));
    assert_eq!(&rx[0].packet[12..16], &A.octets());
    assert!(net.host(a).received().is_empty());
    assert_eq!(net.stats().sent, 1);
}

#[test]
fn unparseable_packets_are_dropped_and_counted() {
    let (mut net, a, b) = pair(1, LinkConfig::default());
    net.inject(a, Vec::new());
    net.inject(a, vec![0x55; 60]); // version 5
    net.inject(a, packet(A, B, 1, 24)[..19].to_vec()); // ends inside the dst address
    let mut short_v6 = ipv6_packet("fd00::a", "fd00::b", 1);
    short_v6.truncate(39);
    net.inject(a, short_v6);
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.stats().unparseable, 4);
    assert_eq!(net.stats().dropped(), 4);
    assert!(net.host(b).received().is_empty());
}

#[test]
fn malformed_but_addressable_headers_are_still_delivered() {
    // Bad IHL, bad total length, bad checksum: the stack under test must see them.
    let (mut net, a, b) = pair(1, LinkConfig::default());
    let mut p = packet(A, B, 5, 24);
    p[0] = 0x4F;
    p[2..4].copy_from_slice(&[0xff, 0xff]);
    p[10..12].copy_from_slice(&[0xde, 0xad]);
    net.inject(a, p.clone());
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.host(b).received()[0].packet, p);
}

/// A node that claims a length longer than the buffer it was given.
struct Liar {
    pending: bool,
}

impl Node for Liar {
    fn handle_packet(&mut self, _: Instant, _: &[u8]) {}
    fn handle_timeout(&mut self, _: Instant) {}
    fn poll_transmit(&mut self, _: Instant, buf: &mut [u8]) -> Option<usize> {
        std::mem::take(&mut self.pending).then_some(buf.len() + 1)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
}

#[test]
fn a_length_past_the_buffer_is_counted_not_trusted() {
    let mut net = Network::new(1);
    let liar = net.add_host(Liar { pending: true }, &[A.into()]);
    let other = net.add_host(Liar { pending: false }, &[B.into()]);
    net.link(liar, other, LinkConfig::default());
    net.flush();
    assert_eq!(net.stats().sent, 1);
    assert_eq!(net.stats().unparseable, 1);
}

#[test]
#[should_panic(expected = "already belongs")]
fn an_address_has_one_owner() {
    let mut net: Network<RawNode> = Network::new(1);
    net.add_host(RawNode::new(), &[A.into()]);
    net.add_host(RawNode::new(), &[A.into()]);
}

#[test]
fn boxed_nodes_of_different_kinds_share_a_network() {
    let mut net: Network<Box<dyn Node>> = Network::new(1);
    let mut sender = RawNode::new();
    sender.send(packet(A, B, 1, 64));
    let a = net.add_host(Box::new(sender), &[A.into()]);
    let b = net.add_host(Box::new(RawNode::echoing()), &[B.into()]);
    net.link(a, b, LinkConfig::default());
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.stats().delivered, 2, "sent at add_host, echoed back");
}
