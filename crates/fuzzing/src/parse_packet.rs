//! Target 1: the wire parsers and the tcpdump formatter on arbitrary bytes.
//!
//! No parser may panic, and whatever parses must survive parse → emit → parse unchanged: the
//! emitters write what the parsers read, so a second parse of the re-emitted bytes has to give
//! back the first parse. (The bytes themselves need not round-trip: emitters normalise padding,
//! IPv4 options and IPv6 extension headers away.)

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use synack_wire::ip::{emit_ip_header, ip_header_len, parse_ip, protocol};
use synack_wire::{Icmpv4Repr, Icmpv6Repr, TcpOptions, TcpRepr};

/// Runs every parser over `data`, as an IP packet and as bare TCP/ICMP, and checks round trips.
pub fn parse_packet(data: &[u8]) {
    let _ = synack_wire::tcpdump::format_packet(data);
    if let Ok(packet) = parse_ip(data) {
        let (src, dst) = (packet.header.src, packet.header.dst);
        ip_round_trip(&packet);
        match packet.header.protocol {
            protocol::TCP => tcp(packet.payload, src, dst),
            protocol::ICMP => icmpv4(packet.payload),
            protocol::ICMPV6 => icmpv6(packet.payload, src, dst),
            _ => {}
        }
    }
    // The same bytes as bare upper-layer messages, so the fuzzer reaches the TCP option and ICMP
    // parsers without first finding a valid IP header and checksum.
    let v4 = (
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
    );
    let v6 = (
        IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1)),
        IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2)),
    );
    let _ = TcpOptions::parse(data);
    if let Ok(seg) = TcpRepr::parse_unverified(data) {
        tcp_round_trip(&seg, v4.0, v4.1);
        tcp_round_trip(&seg, v6.0, v6.1);
    }
    let _ = TcpRepr::parse(data, v4.0, v4.1);
    icmpv4(data);
    let _ = Icmpv6Repr::parse(data, v6.0, v6.1);
}

/// The IP header facts and payload survive emit → parse.
fn ip_round_trip(packet: &synack_wire::ip::IpPacket<'_>) {
    let h = packet.header;
    // Extension headers may leave no upper-layer bytes, but a bare IPv6 header with Payload
    // Length 0 is refused as a jumbogram (RFC 2675 §3): that case has no round trip to check.
    if h.src.is_ipv6() && packet.payload.is_empty() {
        return;
    }
    let ip_len = ip_header_len(h.src);
    let mut buf = vec![0u8; ip_len + packet.payload.len()];
    let Ok(written) = emit_ip_header(
        &mut buf,
        h.src,
        h.dst,
        h.protocol,
        packet.payload.len(),
        h.hop_limit,
        0,
    ) else {
        // A payload too long for a header without options/extensions cannot be re-emitted.
        return;
    };
    assert_eq!(written, ip_len, "emit_ip_header wrote an unexpected length");
    buf[ip_len..].copy_from_slice(packet.payload);
    let again = parse_ip(&buf).expect("a re-emitted IP packet parses");
    assert_eq!(again.header, h, "IP header facts changed in a round trip");
    assert_eq!(
        again.payload, packet.payload,
        "IP payload changed in a round trip"
    );
}

fn tcp(segment: &[u8], src: IpAddr, dst: IpAddr) {
    if let Ok(seg) = TcpRepr::parse(segment, src, dst) {
        tcp_round_trip(&seg, src, dst);
    }
}

/// A parsed segment survives emit → parse (with a freshly computed checksum).
fn tcp_round_trip(seg: &TcpRepr<'_>, src: IpAddr, dst: IpAddr) {
    let mut buf = vec![0u8; seg.buffer_len()];
    // Options that fit 40 bytes as received may not fit once re-emitted in the emitter's own
    // layout (e.g. padding); refusing to emit is the emitter's right, not a bug.
    let Ok(len) = seg.emit(&mut buf, src, dst) else {
        return;
    };
    let again = TcpRepr::parse(buf.get(..len).unwrap_or(&[]), src, dst)
        .expect("a re-emitted TCP segment parses with a valid checksum");
    assert_eq!(&again, seg, "TCP segment changed in a round trip");
}

fn icmpv4(message: &[u8]) {
    let Ok(msg) = Icmpv4Repr::parse(message) else {
        return;
    };
    let mut buf = vec![0u8; msg.buffer_len()];
    let Ok(len) = msg.emit(&mut buf) else {
        return;
    };
    let again = Icmpv4Repr::parse(buf.get(..len).unwrap_or(&[]))
        .expect("a re-emitted ICMPv4 message parses");
    assert_eq!(again, msg, "ICMPv4 message changed in a round trip");
}

fn icmpv6(message: &[u8], src: IpAddr, dst: IpAddr) {
    let Ok(msg) = Icmpv6Repr::parse(message, src, dst) else {
        return;
    };
    let mut buf = vec![0u8; msg.buffer_len()];
    let Ok(len) = msg.emit(&mut buf, src, dst) else {
        return;
    };
    let again = Icmpv6Repr::parse(buf.get(..len).unwrap_or(&[]), src, dst)
        .expect("a re-emitted ICMPv6 message parses");
    assert_eq!(again, msg, "ICMPv6 message changed in a round trip");
}
