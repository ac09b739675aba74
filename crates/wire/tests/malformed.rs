//! Bad packets: a table with the exact error for each, and random input
//! that must never panic.

mod common;

use std::net::{IpAddr, Ipv4Addr};

use common::strategy::{address_pair, segment};
use common::{fix_ipv4_checksum, icmpv4_packet, icmpv6_packet, raw_packet, tcp_packet};
use proptest::prelude::*;
use synack_wire::ip::parse_ip;
use synack_wire::ipv4::Ipv4Packet;
use synack_wire::ipv6::{self, Ipv6Packet};
use synack_wire::tcpdump::format_packet;
use synack_wire::{
    Icmpv4Repr, Icmpv6Repr, Layer, OptionError, ParseError, SeqNumber, TcpFlags, TcpOptions,
    TcpPacket, TcpRepr,
};

const A: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
const B: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));

fn a6() -> IpAddr {
    IpAddr::V6("fd00::1".parse().unwrap())
}
fn b6() -> IpAddr {
    IpAddr::V6("fd00::2".parse().unwrap())
}

fn ack_segment(payload: &'static [u8]) -> TcpRepr<'static> {
    TcpRepr {
        src_port: 1,
        dst_port: 2,
        seq: SeqNumber(3),
        ack: SeqNumber(4),
        flags: TcpFlags::ACK,
        window: 5,
        urgent_ptr: 0,
        options: TcpOptions::default(),
        payload,
    }
}

fn v4() -> Vec<u8> {
    tcp_packet(A, B, &ack_segment(b"payload!"))
}

fn v6() -> Vec<u8> {
    tcp_packet(a6(), b6(), &ack_segment(b"payload!"))
}

/// Applies `f` to a copy of `packet` and refreshes the IPv4 checksum.
fn v4_with(f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut p = v4();
    f(&mut p);
    fix_ipv4_checksum(&mut p);
    p
}

fn v6_with(f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut p = v6();
    f(&mut p);
    p
}

/// IPv6 + an extension chain + 8 bytes of "upper layer".
fn v6_chain(first: u8, chain: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; 40];
    let len = chain.len() + 8;
    ipv6::emit_header(
        &mut buf,
        "fd00::1".parse().unwrap(),
        "fd00::2".parse().unwrap(),
        first,
        len,
        64,
    )
    .unwrap();
    buf.extend_from_slice(chain);
    buf.extend_from_slice(&[0; 8]);
    buf
}

#[test]
fn ip_layer_errors() {
    let good = v4();
    let cases: Vec<(&str, Vec<u8>, ParseError)> = vec![
        (
            "empty",
            vec![],
            ParseError::Truncated {
                layer: Layer::Ipv4,
                needed: 20,
                available: 0,
            },
        ),
        (
            "short v4",
            good[..19].to_vec(),
            ParseError::Truncated {
                layer: Layer::Ipv4,
                needed: 20,
                available: 19,
            },
        ),
        (
            "version 5",
            v4_with(|p| p[0] = 0x55),
            ParseError::BadVersion { found: 5 },
        ),
        (
            "version 0",
            vec![0; 40],
            ParseError::BadVersion { found: 0 },
        ),
        (
            "ihl 4",
            v4_with(|p| p[0] = 0x44),
            ParseError::BadHeaderLength {
                layer: Layer::Ipv4,
                value: 16,
            },
        ),
        (
            "ihl past end",
            v4_with(|p| {
                p[0] = 0x4F;
                p.truncate(40);
                p[2..4].copy_from_slice(&40u16.to_be_bytes());
            }),
            ParseError::BadHeaderLength {
                layer: Layer::Ipv4,
                value: 60,
            },
        ),
        (
            "total length longer than buffer",
            v4_with(|p| p[2..4].copy_from_slice(&100u16.to_be_bytes())),
            ParseError::BadTotalLength {
                layer: Layer::Ipv4,
                claimed: 100,
                available: 48,
            },
        ),
        (
            "total length shorter than header",
            v4_with(|p| p[2..4].copy_from_slice(&19u16.to_be_bytes())),
            ParseError::BadTotalLength {
                layer: Layer::Ipv4,
                claimed: 19,
                available: 48,
            },
        ),
        (
            "bad v4 header checksum",
            {
                let mut p = v4();
                p[10] ^= 0xFF;
                p
            },
            ParseError::BadChecksum {
                layer: Layer::Ipv4,
                found: u16::from_be_bytes([good[10] ^ 0xFF, good[11]]),
                expected: u16::from_be_bytes([good[10], good[11]]),
            },
        ),
        (
            "more fragments",
            v4_with(|p| p[6] |= 0x20),
            ParseError::Fragment,
        ),
        (
            "fragment offset",
            v4_with(|p| p[7] = 1),
            ParseError::Fragment,
        ),
        (
            "short v6",
            v6()[..39].to_vec(),
            ParseError::Truncated {
                layer: Layer::Ipv6,
                needed: 40,
                available: 39,
            },
        ),
        (
            "v6 payload length longer than buffer",
            v6_with(|p| p[4..6].copy_from_slice(&29u16.to_be_bytes())),
            ParseError::BadTotalLength {
                layer: Layer::Ipv6,
                claimed: 29,
                available: 28,
            },
        ),
        (
            "v6 jumbogram",
            v6_with(|p| p[4..6].copy_from_slice(&0u16.to_be_bytes())),
            ParseError::BadTotalLength {
                layer: Layer::Ipv6,
                claimed: 0,
                available: 28,
            },
        ),
        (
            "v6 fragment header",
            v6_chain(44, &[6, 0, 0, 0, 0, 0, 0, 1]),
            ParseError::Fragment,
        ),
        (
            "v6 fragment after hop-by-hop",
            v6_chain(0, &[44, 0, 1, 4, 0, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 1]),
            ParseError::Fragment,
        ),
        (
            "v6 ESP",
            v6_chain(50, &[]),
            ParseError::UnsupportedExtensionHeader { next_header: 50 },
        ),
        (
            "v6 AH after routing",
            v6_chain(43, &[51, 0, 0, 0, 0, 0, 0, 0]),
            ParseError::UnsupportedExtensionHeader { next_header: 51 },
        ),
        (
            "v6 hop-by-hop twice",
            v6_chain(0, &[0, 0, 1, 4, 0, 0, 0, 0]),
            ParseError::UnsupportedExtensionHeader { next_header: 0 },
        ),
        (
            "v6 extension header longer than payload",
            v6_chain(60, &[6, 2, 0, 0, 0, 0, 0, 0]),
            ParseError::BadHeaderLength {
                layer: Layer::Ipv6,
                value: 24,
            },
        ),
    ];
    for (name, packet, expected) in cases {
        assert_eq!(parse_ip(&packet), Err(expected), "{name}");
    }
}

#[test]
fn tcp_layer_errors() {
    let seg = |p: &[u8], hl: usize| p[hl..].to_vec();
    let good4 = seg(&v4(), 20);
    let good6 = seg(&v6(), 40);
    let mut bad4 = good4.clone();
    bad4[16] ^= 0x12;
    let mut bad6 = good6.clone();
    bad6[20] ^= 0x01; // payload byte
    let mut offset4 = good4.clone();
    offset4[12] = 0x40;
    let mut offset_past = good4.clone();
    offset_past[12] = 0xF0;
    let cases: Vec<(&str, Vec<u8>, IpAddr, IpAddr, ParseError)> = vec![
        (
            "short segment",
            good4[..19].to_vec(),
            A,
            B,
            ParseError::Truncated {
                layer: Layer::Tcp,
                needed: 20,
                available: 19,
            },
        ),
        (
            "data offset 4",
            offset4,
            A,
            B,
            ParseError::BadHeaderLength {
                layer: Layer::Tcp,
                value: 16,
            },
        ),
        (
            "data offset past end",
            offset_past,
            A,
            B,
            ParseError::BadHeaderLength {
                layer: Layer::Tcp,
                value: 60,
            },
        ),
        (
            "bad v4 checksum",
            bad4,
            A,
            B,
            ParseError::BadChecksum {
                layer: Layer::Tcp,
                found: u16::from_be_bytes([good4[16] ^ 0x12, good4[17]]),
                expected: u16::from_be_bytes([good4[16], good4[17]]),
            },
        ),
        (
            "bad v6 checksum (payload changed)",
            bad6,
            a6(),
            b6(),
            ParseError::BadChecksum {
                layer: Layer::Tcp,
                found: u16::from_be_bytes([good6[16], good6[17]]),
                expected: {
                    let mut fixed = good6.clone();
                    fixed[20] ^= 0x01;
                    let mut p = TcpPacket::new_unchecked(&mut fixed[..]);
                    p.fill_checksum(a6(), b6());
                    u16::from_be_bytes([fixed[16], fixed[17]])
                },
            },
        ),
        (
            "v4 segment checked with wrong addresses",
            good4.clone(),
            A,
            A,
            ParseError::BadChecksum {
                layer: Layer::Tcp,
                found: u16::from_be_bytes([good4[16], good4[17]]),
                expected: {
                    let mut fixed = good4.clone();
                    let mut p = TcpPacket::new_unchecked(&mut fixed[..]);
                    p.fill_checksum(A, A);
                    u16::from_be_bytes([fixed[16], fixed[17]])
                },
            },
        ),
    ];
    for (name, segment, src, dst, expected) in cases {
        assert_eq!(TcpRepr::parse(&segment, src, dst), Err(expected), "{name}");
    }
}

#[test]
fn tcp_option_errors_through_the_whole_stack() {
    // Options as a peer might send them, inside full IPv4 packets.
    let cases: &[(&[u8], ParseError)] = &[
        (
            &[2, 0, 0, 0],
            ParseError::BadOption {
                offset: 20,
                kind: 2,
                reason: OptionError::ZeroLength,
            },
        ),
        (
            &[1, 1, 5, 1],
            ParseError::BadOption {
                offset: 22,
                kind: 5,
                reason: OptionError::LengthOne,
            },
        ),
        (
            &[1, 1, 1, 3],
            ParseError::BadOption {
                offset: 23,
                kind: 3,
                reason: OptionError::PastEnd,
            },
        ),
        (
            &[2, 6, 5, 180, 0, 0, 0, 0],
            ParseError::BadOption {
                offset: 20,
                kind: 2,
                reason: OptionError::WrongLength {
                    expected: 4,
                    found: 6,
                },
            },
        ),
    ];
    for (options, expected) in cases {
        let mut tcp = vec![0u8; 20];
        tcp[12] = (((20 + options.len()) / 4) << 4) as u8;
        tcp[13] = 0x02;
        tcp.extend_from_slice(options);
        TcpPacket::new_unchecked(&mut tcp[..]).fill_checksum(A, B);
        let packet = raw_packet(A, B, 6, &tcp);
        let ip = parse_ip(&packet).unwrap();
        assert_eq!(
            TcpRepr::parse(ip.payload, A, B),
            Err(*expected),
            "{options:?}"
        );
    }
}

#[test]
fn icmp_errors() {
    let echo = Icmpv4Repr::EchoRequest {
        ident: 1,
        seq: 2,
        data: b"abc",
    };
    let mut p4 = icmpv4_packet(A, B, &echo)[20..].to_vec();
    assert_eq!(
        Icmpv4Repr::parse(&p4[..7]),
        Err(ParseError::Truncated {
            layer: Layer::Icmpv4,
            needed: 8,
            available: 7
        })
    );
    let good = u16::from_be_bytes([p4[2], p4[3]]);
    p4[8] ^= 0x40;
    assert_eq!(
        Icmpv4Repr::parse(&p4),
        Err(ParseError::BadChecksum {
            layer: Layer::Icmpv4,
            found: good,
            expected: {
                let mut q = p4.clone();
                q[2] = 0;
                q[3] = 0;
                synack_wire::checksum::internet_checksum(&q)
            },
        })
    );
    let echo6 = Icmpv6Repr::EchoReply {
        ident: 1,
        seq: 2,
        data: b"abc",
    };
    let p6 = icmpv6_packet(a6(), b6(), &echo6)[40..].to_vec();
    assert_eq!(
        Icmpv6Repr::parse(&p6[..3], a6(), b6()),
        Err(ParseError::Truncated {
            layer: Layer::Icmpv6,
            needed: 8,
            available: 3
        })
    );
    assert!(matches!(
        Icmpv6Repr::parse(&p6, a6(), a6()),
        Err(ParseError::BadChecksum {
            layer: Layer::Icmpv6,
            ..
        })
    ));
}

#[test]
fn reasons_are_stable_and_messages_name_the_field() {
    let cases: &[(ParseError, &str, &str)] = &[
        (
            ParseError::Truncated {
                layer: Layer::Ipv4,
                needed: 20,
                available: 3,
            },
            "ipv4_truncated",
            "needed 20 bytes",
        ),
        (
            ParseError::BadVersion { found: 7 },
            "ip_bad_version",
            "is 7",
        ),
        (
            ParseError::BadHeaderLength {
                layer: Layer::Tcp,
                value: 16,
            },
            "tcp_bad_header_length",
            "TCP header length field declares 16",
        ),
        (
            ParseError::BadTotalLength {
                layer: Layer::Ipv6,
                claimed: 9,
                available: 8,
            },
            "ipv6_bad_payload_length",
            "claims 9 bytes but 8",
        ),
        (
            ParseError::BadChecksum {
                layer: Layer::Tcp,
                found: 1,
                expected: 2,
            },
            "tcp_bad_checksum",
            "0x0001, expected 0x0002",
        ),
        (
            ParseError::BadOption {
                offset: 22,
                kind: 8,
                reason: OptionError::PastEnd,
            },
            "tcp_bad_option",
            "kind 8 at header offset 22",
        ),
        (ParseError::Fragment, "fragment", "fragment"),
        (
            ParseError::UnsupportedExtensionHeader { next_header: 50 },
            "ipv6_unsupported_extension_header",
            "50",
        ),
    ];
    for (error, reason, text) in cases {
        assert_eq!(error.reason(), *reason);
        let message = error.to_string();
        assert!(message.contains(text), "{message:?} lacks {text:?}");
        let _: &dyn std::error::Error = error;
    }
}

/// Exercises every reader on `bytes`; panics are the failure.
fn read_everything(bytes: &[u8]) {
    let _ = format_packet(bytes);
    if let Ok(ip) = parse_ip(bytes) {
        let h = ip.header;
        let _ = TcpRepr::parse(ip.payload, h.src, h.dst);
        let _ = Icmpv4Repr::parse(ip.payload);
        let _ = Icmpv6Repr::parse(ip.payload, h.src, h.dst);
    }
    let _ = TcpRepr::parse_unverified(bytes);
    let _ = TcpRepr::parse(bytes, A, B);
    let _ = Icmpv4Repr::parse(bytes);
    let _ = Icmpv6Repr::parse(bytes, a6(), b6());
    if let Ok(p) = Ipv4Packet::new_checked(bytes) {
        let _ = (
            p.payload(),
            p.options(),
            p.verify_checksum(),
            p.frag_offset(),
        );
        let _ = (p.src_addr(), p.dst_addr(), p.ecn(), p.dscp());
    }
    if let Ok(p) = Ipv6Packet::new_checked(bytes) {
        let _ = (p.payload(), p.flow_label(), p.traffic_class(), p.src_addr());
        let _ = ipv6::skip_extension_headers(p.next_header(), p.payload());
    }
    if let Ok(p) = TcpPacket::new_checked(bytes) {
        let _ = (p.options(), p.payload(), p.verify_checksum(A, B), p.flags());
    }
    // Views built without checks must not panic either.
    let p = TcpPacket::new_unchecked(bytes);
    let _ = (p.options(), p.payload(), p.seq_number(), p.urgent_at());
}

fn valid_packets() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (segment(), address_pair()).prop_map(|(spec, (s, d))| tcp_packet(s, d, &spec.repr())),
        proptest::collection::vec(any::<u8>(), 0..64).prop_map(|data| icmpv4_packet(
            A,
            B,
            &Icmpv4Repr::EchoRequest {
                ident: 1,
                seq: 2,
                data: &data
            }
        )),
        proptest::collection::vec(any::<u8>(), 0..64).prop_map(|data| icmpv6_packet(
            a6(),
            b6(),
            &Icmpv6Repr::PacketTooBig {
                mtu: 1280,
                original: &data
            }
        )),
    ]
}

/// A mutation: set a byte, cut the packet, or append bytes.
#[derive(Debug, Clone)]
enum Mutation {
    Set(prop::sample::Index, u8),
    Truncate(prop::sample::Index),
    Append(Vec<u8>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        1 => any::<prop::sample::Index>().prop_map(Mutation::Truncate),
        1 => proptest::collection::vec(any::<u8>(), 1..16).prop_map(Mutation::Append),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        read_everything(&bytes);
    }

    #[test]
    fn random_bytes_behind_a_valid_ip_header_never_panic(
        (src, dst) in address_pair(),
        proto in prop_oneof![Just(6u8), Just(1), Just(58), Just(0), Just(43), Just(60), any::<u8>()],
        body in proptest::collection::vec(any::<u8>(), 0..120),
    ) {
        read_everything(&raw_packet(src, dst, proto, &body));
    }

    #[test]
    fn mutated_valid_packets_never_panic(
        packet in valid_packets(),
        mutations in proptest::collection::vec(mutation(), 1..6),
    ) {
        let mut p = packet;
        for m in mutations {
            match m {
                Mutation::Set(i, b) if !p.is_empty() => {
                    let at = i.index(p.len());
                    p[at] = b;
                }
                Mutation::Truncate(i) => {
                    let keep = i.index(p.len() + 1);
                    p.truncate(keep);
                }
                Mutation::Append(bytes) => p.extend_from_slice(&bytes),
                Mutation::Set(..) => {}
            }
        }
        read_everything(&p);
    }
}

#[test]
fn emit_into_short_buffers_never_panics() {
    let repr = TcpRepr {
        options: TcpOptions {
            mss: Some(1460),
            ..TcpOptions::default()
        },
        ..ack_segment(b"0123456789")
    };
    for len in 0..repr.buffer_len() {
        let mut buf = vec![0u8; len];
        assert!(repr.emit(&mut buf, A, B).is_err(), "len {len}");
        assert!(repr.emit_in_place(&mut buf, 10, A, B).is_err(), "len {len}");
    }
    let echo = Icmpv4Repr::EchoRequest {
        ident: 0,
        seq: 0,
        data: b"xy",
    };
    for len in 0..echo.buffer_len() {
        assert!(echo.emit(&mut vec![0u8; len]).is_err());
    }
}
