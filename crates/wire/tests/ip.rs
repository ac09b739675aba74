//! IPv4/IPv6 parse and emit through the `ip` front door and the views.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use synack_wire::ip::{emit_ip_header, ip_header_len, parse_ip, protocol, IpHeader};
use synack_wire::ipv4::Ipv4Packet;
use synack_wire::ipv6::{self, Ipv6Packet};
use synack_wire::{checksum, EmitError, Layer, ParseError};

const V4S: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const V4D: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

fn v6(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

fn v4_packet(payload: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; 20 + payload.len()];
    let n = emit_ip_header(
        &mut buf,
        V4S.into(),
        V4D.into(),
        protocol::TCP,
        payload.len(),
        64,
        0x1234,
    )
    .unwrap();
    assert_eq!(n, 20);
    buf[20..].copy_from_slice(payload);
    buf
}

#[test]
fn v4_emit_fields() {
    let buf = v4_packet(b"abcd");
    let p = Ipv4Packet::new_checked(&buf[..]).unwrap();
    assert_eq!(p.version(), 4);
    assert_eq!(p.header_len(), 20);
    assert_eq!(p.total_len(), 24);
    assert_eq!(p.ident(), 0x1234);
    assert!(p.dont_frag());
    assert!(!p.more_frags());
    assert_eq!(p.frag_offset(), 0);
    assert_eq!(p.ttl(), 64);
    assert_eq!(p.protocol(), 6);
    assert_eq!(p.src_addr(), V4S);
    assert_eq!(p.dst_addr(), V4D);
    assert!(p.verify_checksum());
    assert_eq!(checksum::internet_checksum(&buf[..20]), 0);
    assert_eq!(p.payload(), b"abcd");
}

#[test]
fn v4_parse_front_door() {
    let buf = v4_packet(b"xyz");
    let p = parse_ip(&buf).unwrap();
    assert_eq!(
        p.header,
        IpHeader {
            src: V4S.into(),
            dst: V4D.into(),
            protocol: 6,
            hop_limit: 64
        }
    );
    assert_eq!(p.payload, b"xyz");
}

#[test]
fn v4_trailing_padding_is_trimmed() {
    let mut buf = v4_packet(b"xyz");
    buf.extend_from_slice(&[0; 10]);
    assert_eq!(parse_ip(&buf).unwrap().payload, b"xyz");
}

#[test]
fn v4_options_are_skipped() {
    // IHL 6: one word of options (NOP NOP NOP EOL).
    let mut buf = vec![0u8; 28];
    buf[0] = 0x46;
    buf[3] = 28;
    buf[8] = 1;
    buf[9] = 1;
    buf[12..16].copy_from_slice(&V4S.octets());
    buf[16..20].copy_from_slice(&V4D.octets());
    buf[20..24].copy_from_slice(&[1, 1, 1, 0]);
    buf[24..28].copy_from_slice(b"ping");
    let mut p = Ipv4Packet::new_checked(&mut buf[..]).unwrap();
    p.fill_checksum();
    assert_eq!(p.options(), &[1, 1, 1, 0]);
    let parsed = parse_ip(&buf).unwrap();
    assert_eq!(parsed.payload, b"ping");
    assert_eq!(parsed.header.protocol, protocol::ICMP);
}

#[test]
fn v6_emit_fields() {
    let (s, d) = (v6("fd00::1"), v6("fd00::2"));
    let mut buf = vec![0u8; 44];
    let n = emit_ip_header(&mut buf, s.into(), d.into(), 6, 4, 255, 99).unwrap();
    assert_eq!(n, 40);
    buf[40..].copy_from_slice(b"data");
    let p = Ipv6Packet::new_checked(&buf[..]).unwrap();
    assert_eq!(p.version(), 6);
    assert_eq!(p.traffic_class(), 0);
    assert_eq!(p.flow_label(), 0);
    assert_eq!(p.payload_len(), 4);
    assert_eq!(p.next_header(), 6);
    assert_eq!(p.hop_limit(), 255);
    assert_eq!(p.src_addr(), s);
    assert_eq!(p.dst_addr(), d);
    let parsed = parse_ip(&buf).unwrap();
    assert_eq!(parsed.header.src, IpAddr::V6(s));
    assert_eq!(parsed.header.hop_limit, 255);
    assert_eq!(parsed.payload, b"data");
}

/// IPv6 header + the given extension-header chain + payload.
fn v6_with_chain(first: u8, chain: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; 40];
    let len = chain.len() + payload.len();
    ipv6::emit_header(&mut buf, v6("fd00::1"), v6("fd00::2"), first, len, 64).unwrap();
    buf.extend_from_slice(chain);
    buf.extend_from_slice(payload);
    buf
}

#[test]
fn v6_skips_hop_by_hop_routing_destination() {
    let mut chain = Vec::new();
    // Hop-by-Hop: next=Routing, len 0 (8 bytes): PadN filling.
    chain.extend_from_slice(&[43, 0, 1, 4, 0, 0, 0, 0]);
    // Routing: next=DestOpts, len 1 (16 bytes).
    chain.extend_from_slice(&[60, 1, 0, 0, 0, 0, 0, 0]);
    chain.extend_from_slice(&[0; 8]);
    // Destination Options: next=TCP, len 0.
    chain.extend_from_slice(&[6, 0, 1, 4, 0, 0, 0, 0]);
    let buf = v6_with_chain(0, &chain, b"tcp!");
    let p = parse_ip(&buf).unwrap();
    assert_eq!(p.header.protocol, 6);
    assert_eq!(p.payload, b"tcp!");
}

#[test]
fn v6_unknown_next_header_is_upper_layer() {
    let buf = v6_with_chain(17, &[], b"udpish");
    let p = parse_ip(&buf).unwrap();
    assert_eq!(p.header.protocol, protocol::UDP);
    assert_eq!(p.payload, b"udpish");
}

#[test]
fn v6_extension_errors() {
    assert_eq!(
        parse_ip(&v6_with_chain(44, &[6, 0, 0, 1, 0, 0, 0, 0], b"x")),
        Err(ParseError::Fragment)
    );
    assert_eq!(
        parse_ip(&v6_with_chain(50, &[0; 8], b"")),
        Err(ParseError::UnsupportedExtensionHeader { next_header: 50 })
    );
    assert_eq!(
        parse_ip(&v6_with_chain(51, &[0; 8], b"")),
        Err(ParseError::UnsupportedExtensionHeader { next_header: 51 })
    );
    // Destination options claiming 16 bytes with only 8 present.
    assert_eq!(
        parse_ip(&v6_with_chain(60, &[6, 1, 0, 0, 0, 0, 0, 0], b"")),
        Err(ParseError::BadHeaderLength {
            layer: Layer::Ipv6,
            value: 16
        })
    );
    // Hop-by-Hop after another extension header (RFC 8200 §4.1).
    assert_eq!(
        parse_ip(&v6_with_chain(
            60,
            &[0, 0, 0, 0, 0, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0],
            b""
        )),
        Err(ParseError::UnsupportedExtensionHeader { next_header: 0 })
    );
    // One byte of extension header: cannot read its length.
    assert_eq!(
        parse_ip(&v6_with_chain(43, &[6], b"")),
        Err(ParseError::Truncated {
            layer: Layer::Ipv6,
            needed: 2,
            available: 1
        })
    );
}

#[test]
fn emit_errors() {
    let mut buf = [0u8; 64];
    assert_eq!(
        emit_ip_header(&mut buf, V4S.into(), v6("::1").into(), 6, 0, 64, 0),
        Err(EmitError::AddressFamilyMismatch)
    );
    assert_eq!(
        emit_ip_header(
            &mut buf[..39],
            v6("::1").into(),
            v6("::2").into(),
            6,
            0,
            64,
            0
        ),
        Err(EmitError::BufferTooSmall {
            needed: 40,
            available: 39
        })
    );
    assert!(matches!(
        emit_ip_header(&mut buf, V4S.into(), V4D.into(), 6, 65_516, 64, 0),
        Err(EmitError::PayloadTooLarge { len: 65_516, .. })
    ));
    assert!(emit_ip_header(&mut buf, V4S.into(), V4D.into(), 6, 65_515, 64, 0).is_ok());
    assert!(matches!(
        emit_ip_header(
            &mut buf,
            v6("::1").into(),
            v6("::2").into(),
            6,
            65_536,
            64,
            0
        ),
        Err(EmitError::PayloadTooLarge { .. })
    ));
}

#[test]
fn header_lengths() {
    assert_eq!(ip_header_len(V4S.into()), 20);
    assert_eq!(ip_header_len(v6("::1").into()), 40);
}
