//! Packet builders shared by the integration tests.
#![allow(dead_code)]

use std::net::IpAddr;

use synack_wire::ip::{emit_ip_header, ip_header_len, protocol};
use synack_wire::{Icmpv4Repr, Icmpv6Repr, TcpRepr};

/// A full IP packet carrying `repr`.
pub fn tcp_packet(src: IpAddr, dst: IpAddr, repr: &TcpRepr) -> Vec<u8> {
    let hl = ip_header_len(src);
    let seg_len = repr.buffer_len();
    let mut buf = vec![0u8; hl + seg_len];
    emit_ip_header(&mut buf, src, dst, protocol::TCP, seg_len, 64, 0x1234).expect("ip header");
    repr.emit(&mut buf[hl..], src, dst).expect("tcp emit");
    buf
}

/// A full IPv4 packet carrying an ICMP message.
pub fn icmpv4_packet(src: IpAddr, dst: IpAddr, repr: &Icmpv4Repr) -> Vec<u8> {
    let len = repr.buffer_len();
    let mut buf = vec![0u8; 20 + len];
    emit_ip_header(&mut buf, src, dst, protocol::ICMP, len, 64, 7).expect("ip header");
    repr.emit(&mut buf[20..]).expect("icmp emit");
    buf
}

/// A full IPv6 packet carrying an ICMPv6 message.
pub fn icmpv6_packet(src: IpAddr, dst: IpAddr, repr: &Icmpv6Repr) -> Vec<u8> {
    let len = repr.buffer_len();
    let mut buf = vec![0u8; 40 + len];
    emit_ip_header(&mut buf, src, dst, protocol::ICMPV6, len, 64, 0).expect("ip header");
    repr.emit(&mut buf[40..], src, dst).expect("icmpv6 emit");
    buf
}

/// An IP packet with an arbitrary upper-layer payload.
pub fn raw_packet(src: IpAddr, dst: IpAddr, proto: u8, payload: &[u8]) -> Vec<u8> {
    let hl = ip_header_len(src);
    let mut buf = vec![0u8; hl + payload.len()];
    emit_ip_header(&mut buf, src, dst, proto, payload.len(), 64, 1).expect("ip header");
    buf[hl..].copy_from_slice(payload);
    buf
}

/// Recomputes the IPv4 header checksum after a test mutated the header.
pub fn fix_ipv4_checksum(packet: &mut [u8]) {
    let ihl = usize::from(packet[0] & 0x0F) * 4;
    packet[10] = 0;
    packet[11] = 0;
    let sum = synack_wire::checksum::internet_checksum(&packet[..ihl.min(packet.len())]);
    packet[10..12].copy_from_slice(&sum.to_be_bytes());
}
