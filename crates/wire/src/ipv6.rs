//! IPv6 headers (RFC 8200): a zero-copy view, extension-header walking and
//! header emission.

use std::net::Ipv6Addr;

use crate::error::{check_room, truncated, EmitError, Layer, ParseError};
use crate::field::{self, Field};

/// Length of the fixed IPv6 header.
pub const HEADER_LEN: usize = 40;

/// Next Header values for the extension headers this module knows
/// (RFC 8200 §4, RFC 4303, RFC 4302).
pub mod next_header {
    /// Hop-by-Hop Options (RFC 8200 §4.3).
    pub const HOP_BY_HOP: u8 = 0;
    /// Routing (RFC 8200 §4.4).
    pub const ROUTING: u8 = 43;
    /// Fragment (RFC 8200 §4.5).
    pub const FRAGMENT: u8 = 44;
    /// Encapsulating Security Payload (RFC 4303).
    pub const ESP: u8 = 50;
    /// Authentication Header (RFC 4302).
    pub const AH: u8 = 51;
    /// No Next Header (RFC 8200 §4.7).
    pub const NO_NEXT_HEADER: u8 = 59;
    /// Destination Options (RFC 8200 §4.6).
    pub const DESTINATION_OPTIONS: u8 = 60;
}

/// Byte offsets of the fixed IPv6 header fields (RFC 8200 §3).
mod fields {
    use super::Field;
    pub const VER_TC_FLOW: Field = 0..4;
    pub const LENGTH: Field = 4..6;
    pub const NXT_HDR: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC: Field = 8..24;
    pub const DST: Field = 24..40;
}

/// A read (and, for mutable buffers, write) view of an IPv6 packet.
///
/// [`Ipv6Packet::new_checked`] guarantees that the fixed header and the
/// declared payload length fit in the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    /// Wraps a buffer after checking the version and that the payload
    /// length does not exceed the buffer.
    pub fn new_checked(buffer: T) -> Result<Self, ParseError> {
        let buf = buffer.as_ref();
        if buf.len() < HEADER_LEN {
            return Err(truncated(Layer::Ipv6, HEADER_LEN, buf.len()));
        }
        let packet = Ipv6Packet { buffer };
        let version = packet.version();
        if version != 6 {
            return Err(ParseError::BadVersion { found: version });
        }
        let available = packet.buf().len() - HEADER_LEN;
        let claimed = usize::from(packet.payload_len());
        // RFC 8200 §3: Payload Length counts everything after the fixed
        // header; it must not claim more than arrived.
        if claimed > available {
            return Err(ParseError::BadTotalLength {
                layer: Layer::Ipv6,
                claimed,
                available,
            });
        }
        Ok(packet)
    }

    /// Consumes the view, returning the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn buf(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    fn ver_tc_flow(&self) -> u32 {
        field::u32_at(self.buf(), fields::VER_TC_FLOW.start)
    }

    /// The version nibble (6).
    pub fn version(&self) -> u8 {
        (self.ver_tc_flow() >> 28) as u8
    }

    /// Traffic class.
    pub fn traffic_class(&self) -> u8 {
        (self.ver_tc_flow() >> 20) as u8
    }

    /// Flow label (20 bits).
    pub fn flow_label(&self) -> u32 {
        self.ver_tc_flow() & 0x000F_FFFF
    }

    /// Payload length: bytes after the fixed header.
    pub fn payload_len(&self) -> u16 {
        field::u16_at(self.buf(), fields::LENGTH.start)
    }

    /// Next Header of the fixed header.
    pub fn next_header(&self) -> u8 {
        field::u8_at(self.buf(), fields::NXT_HDR)
    }

    /// Hop limit.
    pub fn hop_limit(&self) -> u8 {
        field::u8_at(self.buf(), fields::HOP_LIMIT)
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv6Addr {
        Ipv6Addr::from(field::array_at::<16>(self.buf(), fields::SRC.start))
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv6Addr {
        Ipv6Addr::from(field::array_at::<16>(self.buf(), fields::DST.start))
    }

    /// Everything after the fixed header up to Payload Length (extension
    /// headers included). Bytes past it (link padding) are not part of it.
    pub fn payload(&self) -> &[u8] {
        let end = HEADER_LEN + usize::from(self.payload_len());
        self.buf().get(HEADER_LEN..end).unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6Packet<T> {
    fn buf_mut(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }

    /// Sets version 6, the traffic class and the flow label.
    pub fn set_version_tc_flow(&mut self, traffic_class: u8, flow_label: u32) {
        let word = (6u32 << 28) | (u32::from(traffic_class) << 20) | (flow_label & 0x000F_FFFF);
        field::set_u32(self.buf_mut(), fields::VER_TC_FLOW.start, word);
    }

    /// Sets the payload length.
    pub fn set_payload_len(&mut self, value: u16) {
        field::set_u16(self.buf_mut(), fields::LENGTH.start, value);
    }

    /// Sets the Next Header field.
    pub fn set_next_header(&mut self, value: u8) {
        field::set_u8(self.buf_mut(), fields::NXT_HDR, value);
    }

    /// Sets the hop limit.
    pub fn set_hop_limit(&mut self, value: u8) {
        field::set_u8(self.buf_mut(), fields::HOP_LIMIT, value);
    }

    /// Sets the source address.
    pub fn set_src_addr(&mut self, addr: Ipv6Addr) {
        field::set_bytes(self.buf_mut(), fields::SRC.start, &addr.octets());
    }

    /// Sets the destination address.
    pub fn set_dst_addr(&mut self, addr: Ipv6Addr) {
        field::set_bytes(self.buf_mut(), fields::DST.start, &addr.octets());
    }
}

/// A parsed IPv6 packet with its extension headers skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Parsed<'a> {
    /// Source address.
    pub src: Ipv6Addr,
    /// Destination address.
    pub dst: Ipv6Addr,
    /// The upper-layer protocol after any skipped extension headers.
    pub protocol: u8,
    /// Hop limit.
    pub hop_limit: u8,
    /// The upper-layer payload, trimmed to Payload Length.
    pub payload: &'a [u8],
}

/// Parses an IPv6 packet, skipping Hop-by-Hop, Routing and Destination
/// Options headers, refusing fragments, ESP and AH, and jumbograms.
pub fn parse(buf: &[u8]) -> Result<Ipv6Parsed<'_>, ParseError> {
    let packet = Ipv6Packet::new_checked(buf)?;
    let payload_len = usize::from(packet.payload_len());
    // RFC 2675 §3: Payload Length 0 marks a jumbogram, which this stack
    // does not support (and nothing useful fits in an empty payload).
    if payload_len == 0 {
        return Err(ParseError::BadTotalLength {
            layer: Layer::Ipv6,
            claimed: 0,
            available: buf.len() - HEADER_LEN,
        });
    }
    let payload = buf.get(HEADER_LEN..HEADER_LEN + payload_len).unwrap_or(&[]);
    let (protocol, upper) = skip_extension_headers(packet.next_header(), payload)?;
    Ok(Ipv6Parsed {
        src: packet.src_addr(),
        dst: packet.dst_addr(),
        protocol,
        hop_limit: packet.hop_limit(),
        payload: upper,
    })
}

/// Walks the extension-header chain starting with `next` over `payload`,
/// returning the upper-layer protocol and its bytes.
pub fn skip_extension_headers(mut next: u8, payload: &[u8]) -> Result<(u8, &[u8]), ParseError> {
    let mut rest = payload;
    let mut first = true;
    loop {
        match next {
            next_header::HOP_BY_HOP if !first => {
                // RFC 8200 §4.1: Hop-by-Hop Options may only follow the
                // IPv6 header immediately.
                return Err(ParseError::UnsupportedExtensionHeader { next_header: next });
            }
            next_header::HOP_BY_HOP | next_header::ROUTING | next_header::DESTINATION_OPTIONS => {
                // RFC 8200 §4.3/4.4/4.6: Next Header, Hdr Ext Len in 8-octet
                // units not counting the first 8 octets.
                let (nh, ext_len) = match rest {
                    [nh, ext_len, ..] => (*nh, *ext_len),
                    _ => return Err(truncated(Layer::Ipv6, 2, rest.len())),
                };
                let len = (usize::from(ext_len) + 1) * 8;
                rest = match rest.get(len..) {
                    Some(tail) => tail,
                    None => {
                        return Err(ParseError::BadHeaderLength {
                            layer: Layer::Ipv6,
                            value: len,
                        })
                    }
                };
                next = nh;
            }
            // RFC 8200 §4.5: no reassembly here.
            next_header::FRAGMENT => return Err(ParseError::Fragment),
            next_header::ESP | next_header::AH => {
                return Err(ParseError::UnsupportedExtensionHeader { next_header: next })
            }
            upper => return Ok((upper, rest)),
        }
        first = false;
    }
}

/// Writes a 40-byte IPv6 header (traffic class and flow label 0, no
/// extension headers). Returns the header length.
pub fn emit_header(
    buf: &mut [u8],
    src: Ipv6Addr,
    dst: Ipv6Addr,
    next_header: u8,
    payload_len: usize,
    hop_limit: u8,
) -> Result<usize, EmitError> {
    // RFC 8200 §3: Payload Length is a 16-bit field (no jumbograms).
    let len = u16::try_from(payload_len).map_err(|_| EmitError::PayloadTooLarge {
        len: payload_len,
        max: usize::from(u16::MAX),
    })?;
    check_room(HEADER_LEN, buf)?;
    let mut packet = Ipv6Packet {
        buffer: buf.get_mut(..HEADER_LEN).unwrap_or(&mut []),
    };
    packet.set_version_tc_flow(0, 0);
    packet.set_payload_len(len);
    packet.set_next_header(next_header);
    packet.set_hop_limit(hop_limit);
    packet.set_src_addr(src);
    packet.set_dst_addr(dst);
    Ok(HEADER_LEN)
}
