//! Shared test helpers: numbered raw IPv4 packets and a two-host network.
#![allow(dead_code)] // each test binary uses a different subset

use std::net::{IpAddr, Ipv4Addr};

use synack_sim::{HostId, LinkConfig, Network, RawNode};

pub const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
pub const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
pub const C: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 3);

/// Experimental protocol number (RFC 3692), so nothing mistakes these for TCP.
const PROTO_EXPERIMENT: u8 = 253;

/// A raw IPv4 packet of exactly `len` bytes (at least 24) carrying `seq`.
pub fn packet(src: Ipv4Addr, dst: Ipv4Addr, seq: u32, len: usize) -> Vec<u8> {
    assert!(
        len >= 24,
        "test packets carry a 20-byte header and a 4-byte number"
    );
    let mut p = vec![0u8; len];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(len.min(65_535) as u16).to_be_bytes());
    p[8] = 64;
    p[9] = PROTO_EXPERIMENT;
    p[12..16].copy_from_slice(&src.octets());
    p[16..20].copy_from_slice(&dst.octets());
    p[20..24].copy_from_slice(&seq.to_be_bytes());
    p
}

/// The number `packet` put in a test packet.
pub fn seq_of(p: &[u8]) -> u32 {
    u32::from_be_bytes(p[20..24].try_into().expect("test packet too short"))
}

/// Two RawNodes, `a` at 10.0.0.1 and `b` at 10.0.0.2, linked both ways by `cfg`.
pub fn pair(seed: u64, cfg: LinkConfig) -> (Network<RawNode>, HostId, HostId) {
    let mut net = Network::new(seed);
    let a = net.add_host(RawNode::new(), &[IpAddr::V4(A)]);
    let b = net.add_host(RawNode::new(), &[IpAddr::V4(B)]);
    net.link(a, b, cfg);
    (net, a, b)
}

/// Queues `n` numbered packets of `len` bytes from a to b.
pub fn send_numbered(net: &mut Network<RawNode>, from: HostId, n: u32, len: usize) {
    for seq in 0..n {
        net.host_mut(from).send(packet(A, B, seq, len));
    }
}

/// Sequence numbers b received, in arrival order.
pub fn received_seqs(net: &Network<RawNode>, host: HostId) -> Vec<u32> {
    net.host(host)
        .received()
        .iter()
        .map(|r| seq_of(&r.packet))
        .collect()
}
