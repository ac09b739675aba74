//! The IP front door: parse either version by its version nibble, and emit
//! the header for either family.

use std::net::IpAddr;

use crate::error::{truncated, EmitError, Layer, ParseError};
use crate::{ipv4, ipv6};

/// IP protocol numbers (IANA "Assigned Internet Protocol Numbers").
pub mod protocol {
    /// ICMP for IPv4 (RFC 792).
    pub const ICMP: u8 = 1;
    /// TCP (RFC 9293).
    pub const TCP: u8 = 6;
    /// UDP (RFC 768).
    pub const UDP: u8 = 17;
    /// ICMP for IPv6 (RFC 4443).
    pub const ICMPV6: u8 = 58;
}

/// The IP-level facts the stack needs from any packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpHeader {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Upper-layer protocol (after IPv6 extension headers).
    pub protocol: u8,
    /// IPv4 TTL or IPv6 hop limit.
    pub hop_limit: u8,
}

/// A parsed IP packet: header facts plus the upper-layer bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpPacket<'a> {
    /// The header facts.
    pub header: IpHeader,
    /// The upper-layer payload, trimmed to the IP length field.
    pub payload: &'a [u8],
}

/// Parses an IPv4 or IPv6 packet, chosen by the version nibble.
pub fn parse_ip(buf: &[u8]) -> Result<IpPacket<'_>, ParseError> {
    let Some(&first) = buf.first() else {
        return Err(truncated(Layer::Ipv4, ipv4::HEADER_LEN, 0));
    };
    match first >> 4 {
        4 => {
            let p = ipv4::parse(buf)?;
            Ok(IpPacket {
                header: IpHeader {
                    src: p.src.into(),
                    dst: p.dst.into(),
                    protocol: p.protocol,
                    hop_limit: p.ttl,
                },
                payload: p.payload,
            })
        }
        6 => {
            let p = ipv6::parse(buf)?;
            Ok(IpPacket {
                header: IpHeader {
                    src: p.src.into(),
                    dst: p.dst.into(),
                    protocol: p.protocol,
                    hop_limit: p.hop_limit,
                },
                payload: p.payload,
            })
        }
        found => Err(ParseError::BadVersion { found }),
    }
}

/// Length of the header [`emit_ip_header`] writes for this family: 20 for
/// IPv4, 40 for IPv6 (no options, no extension headers).
pub fn ip_header_len(addr: IpAddr) -> usize {
    match addr {
        IpAddr::V4(_) => ipv4::HEADER_LEN,
        IpAddr::V6(_) => ipv6::HEADER_LEN,
    }
}

/// Writes an IP header for `payload_len` bytes of `protocol` at the start
/// of `buf`, returning its length. IPv4 headers carry DF, `ident` and a
/// computed checksum; IPv6 headers ignore `ident`.
pub fn emit_ip_header(
    buf: &mut [u8],
    src: IpAddr,
    dst: IpAddr,
    protocol: u8,
    payload_len: usize,
    hop_limit: u8,
    ident: u16,
) -> Result<usize, EmitError> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            ipv4::emit_header(buf, s, d, protocol, payload_len, hop_limit, ident)
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            ipv6::emit_header(buf, s, d, protocol, payload_len, hop_limit)
        }
        _ => Err(EmitError::AddressFamilyMismatch),
    }
}
