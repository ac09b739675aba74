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

/// Owned inputs for a `TcpRepr`, so proptest can generate them.
#[derive(Debug, Clone)]
pub struct SegmentSpec {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub window: u16,
    pub urgent_ptr: u16,
    pub options: synack_wire::TcpOptions,
    pub payload: Vec<u8>,
}

impl SegmentSpec {
    /// The repr; `ack` is zeroed without ACK, as parsing reports it.
    pub fn repr(&self) -> TcpRepr<'_> {
        let flags = synack_wire::TcpFlags(self.flags);
        TcpRepr {
            src_port: self.src_port,
            dst_port: self.dst_port,
            seq: synack_wire::SeqNumber(self.seq),
            ack: synack_wire::SeqNumber(if flags.ack() { self.ack } else { 0 }),
            flags,
            window: self.window,
            urgent_ptr: self.urgent_ptr,
            options: self.options,
            payload: &self.payload,
        }
    }
}

pub mod strategy {
    //! proptest strategies for packets.
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    use proptest::prelude::*;
    use synack_wire::{SackBlocks, SeqNumber, TcpOptions, Timestamps};

    use super::SegmentSpec;

    /// Options that fit in 40 bytes: SACK blocks are cut to what fits.
    pub fn options() -> impl Strategy<Value = TcpOptions> {
        (
            proptest::option::of(any::<u16>()),
            proptest::option::of(any::<u8>()),
            any::<bool>(),
            proptest::option::of((any::<u32>(), any::<u32>())),
            proptest::collection::vec((any::<u32>(), any::<u32>()), 0..=4),
        )
            .prop_map(|(mss, window_scale, sack_permitted, ts, blocks)| {
                let mut options = TcpOptions {
                    mss,
                    window_scale,
                    sack_permitted,
                    timestamps: ts.map(|(tsval, tsecr)| Timestamps { tsval, tsecr }),
                    sack_blocks: SackBlocks::new(),
                };
                let cap = options.sack_block_capacity();
                options.sack_blocks = blocks
                    .into_iter()
                    .take(cap)
                    .map(|(l, r)| (SeqNumber(l), SeqNumber(r)))
                    .collect();
                options
            })
    }

    pub fn segment() -> impl Strategy<Value = SegmentSpec> {
        (
            (any::<u16>(), any::<u16>(), any::<u32>(), any::<u32>()),
            (any::<u8>(), any::<u16>(), any::<u16>()),
            options(),
            proptest::collection::vec(any::<u8>(), 0..300),
        )
            .prop_map(
                |(
                    (src_port, dst_port, seq, ack),
                    (flags, window, urgent_ptr),
                    options,
                    payload,
                )| {
                    SegmentSpec {
                        src_port,
                        dst_port,
                        seq,
                        ack,
                        flags,
                        window,
                        urgent_ptr,
                        options,
                        payload,
                    }
                },
            )
    }

    /// A source/destination pair of one family.
    pub fn address_pair() -> impl Strategy<Value = (IpAddr, IpAddr)> {
        prop_oneof![
            (any::<[u8; 4]>(), any::<[u8; 4]>())
                .prop_map(|(s, d)| (IpAddr::V4(Ipv4Addr::from(s)), IpAddr::V4(Ipv4Addr::from(d)))),
            (any::<[u8; 16]>(), any::<[u8; 16]>())
                .prop_map(|(s, d)| (IpAddr::V6(Ipv6Addr::from(s)), IpAddr::V6(Ipv6Addr::from(d)))),
        ]
    }
}
