//! emit → parse round trips for random TCP segments, IP headers and ICMP
//! messages.

mod common;

use common::strategy::{address_pair, segment};
use common::tcp_packet;
use proptest::prelude::*;
use synack_wire::ip::{emit_ip_header, ip_header_len, parse_ip, protocol};
use synack_wire::{Icmpv4Repr, Icmpv6Repr, ParseError, TcpRepr};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn tcp_segment_round_trips(spec in segment(), (src, dst) in address_pair()) {
        let repr = spec.repr();
        let mut buf = vec![0u8; repr.buffer_len()];
        let n = repr.emit(&mut buf, src, dst).expect("emit");
        prop_assert_eq!(n, repr.buffer_len());
        prop_assert_eq!(n % 4, repr.payload.len() % 4, "header is 4-byte aligned");
        let parsed = TcpRepr::parse(&buf, src, dst).expect("parse");
        prop_assert_eq!(parsed, repr);
    }

    #[test]
    fn tcp_in_ip_round_trips(spec in segment(), (src, dst) in address_pair()) {
        let repr = spec.repr();
        let packet = tcp_packet(src, dst, &repr);
        let ip = parse_ip(&packet).expect("ip parse");
        prop_assert_eq!(ip.header.src, src);
        prop_assert_eq!(ip.header.dst, dst);
        prop_assert_eq!(ip.header.protocol, protocol::TCP);
        prop_assert_eq!(ip.header.hop_limit, 64);
        let parsed = TcpRepr::parse(ip.payload, ip.header.src, ip.header.dst).expect("tcp parse");
        prop_assert_eq!(parsed, repr);
    }

    #[test]
    fn flipping_any_segment_byte_breaks_the_checksum(
        spec in segment(),
        (src, dst) in address_pair(),
        at in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let repr = spec.repr();
        let mut buf = vec![0u8; repr.buffer_len()];
        repr.emit(&mut buf, src, dst).unwrap();
        let i = at.index(buf.len());
        buf[i] ^= 1 << bit;
        // A single bit flip is always caught by the one's-complement sum
        // (or, if it hits the header fields first, by their checks).
        let result = TcpRepr::parse(&buf, src, dst);
        prop_assert!(result.is_err(), "flip at {} bit {} accepted", i, bit);
    }

    #[test]
    fn ip_header_round_trips(
        (src, dst) in address_pair(),
        proto in any::<u8>().prop_filter("not an IPv6 extension header", |p| ![0, 43, 44, 50, 51, 60].contains(p)),
        payload in proptest::collection::vec(any::<u8>(), 1..400),
        hop_limit in any::<u8>(),
        ident in any::<u16>(),
    ) {
        let hl = ip_header_len(src);
        let mut buf = vec![0u8; hl + payload.len()];
        let n = emit_ip_header(&mut buf, src, dst, proto, payload.len(), hop_limit, ident).unwrap();
        prop_assert_eq!(n, hl);
        buf[hl..].copy_from_slice(&payload);
        let p = parse_ip(&buf).unwrap();
        prop_assert_eq!(p.header.src, src);
        prop_assert_eq!(p.header.dst, dst);
        prop_assert_eq!(p.header.protocol, proto);
        prop_assert_eq!(p.header.hop_limit, hop_limit);
        prop_assert_eq!(p.payload, &payload[..]);
        if src.is_ipv4() {
            prop_assert_eq!(u16::from_be_bytes([buf[4], buf[5]]), ident);
        }
    }

    #[test]
    fn icmpv4_round_trips(
        kind in 0u8..5,
        a in any::<u16>(),
        b in any::<u16>(),
        code in any::<u8>(),
        other_type in any::<u8>().prop_filter("unknown type", |t| ![0, 3, 8, 11].contains(t)),
        data in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let repr = match kind {
            0 => Icmpv4Repr::EchoRequest { ident: a, seq: b, data: &data },
            1 => Icmpv4Repr::EchoReply { ident: a, seq: b, data: &data },
            2 => Icmpv4Repr::DestUnreachable { code, next_hop_mtu: a, original: &data },
            3 => Icmpv4Repr::TimeExceeded { code, original: &data },
            _ => Icmpv4Repr::Other { icmp_type: other_type, code },
        };
        let mut buf = vec![0u8; repr.buffer_len()];
        prop_assert_eq!(repr.emit(&mut buf).unwrap(), buf.len());
        prop_assert_eq!(synack_wire::checksum::internet_checksum(&buf), 0);
        prop_assert_eq!(Icmpv4Repr::parse(&buf).unwrap(), repr);
    }

    #[test]
    fn icmpv6_round_trips(
        kind in 0u8..6,
        a in any::<u16>(),
        b in any::<u16>(),
        mtu in any::<u32>(),
        code in any::<u8>(),
        other_type in any::<u8>().prop_filter("unknown type", |t| ![1, 2, 3, 128, 129].contains(t)),
        data in proptest::collection::vec(any::<u8>(), 0..200),
        (s, d) in (any::<[u8; 16]>(), any::<[u8; 16]>()),
    ) {
        let (src, dst) = (std::net::Ipv6Addr::from(s), std::net::Ipv6Addr::from(d));
        let repr = match kind {
            0 => Icmpv6Repr::EchoRequest { ident: a, seq: b, data: &data },
            1 => Icmpv6Repr::EchoReply { ident: a, seq: b, data: &data },
            2 => Icmpv6Repr::DestUnreachable { code, original: &data },
            3 => Icmpv6Repr::PacketTooBig { mtu, original: &data },
            4 => Icmpv6Repr::TimeExceeded { code, original: &data },
            _ => Icmpv6Repr::Other { icmp_type: other_type, code },
        };
        let mut buf = vec![0u8; repr.buffer_len()];
        prop_assert_eq!(repr.emit(&mut buf, src, dst).unwrap(), buf.len());
        prop_assert_eq!(Icmpv6Repr::parse(&buf, src, dst).unwrap(), repr);
        // The pseudo-header binds the addresses: swap them and it fails
        // (unless they are equal).
        if src != dst {
            let swapped = Icmpv6Repr::parse(&buf, dst, src);
            prop_assert!(swapped.is_ok(), "swapping addresses keeps the sum; it is commutative");
            let mut other = d;
            other[15] ^= 1;
            let wrong = Icmpv6Repr::parse(&buf, src, std::net::Ipv6Addr::from(other));
            prop_assert!(matches!(wrong, Err(ParseError::BadChecksum { .. })), "{:?}", wrong);
        }
    }
}
