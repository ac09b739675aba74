//! IPv4 headers (RFC 791): a zero-copy view and header emission.

use std::net::Ipv4Addr;

use crate::checksum;
use crate::error::{check_room, truncated, EmitError, Layer, ParseError};
use crate::field::{self, Field};

/// Length of an IPv4 header without options.
pub const HEADER_LEN: usize = 20;

/// Byte offsets of the IPv4 header fields (RFC 791 §3.1).
mod fields {
    use super::Field;
    pub const VER_IHL: usize = 0;
    pub const DSCP_ECN: usize = 1;
    pub const LENGTH: Field = 2..4;
    pub const IDENT: Field = 4..6;
    pub const FLG_OFF: Field = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: Field = 10..12;
    pub const SRC: Field = 12..16;
    pub const DST: Field = 16..20;
}

/// Flag bit: Don't Fragment (RFC 791 §3.1).
const FLAG_DF: u16 = 0x4000;
/// Flag bit: More Fragments (RFC 791 §3.1).
const FLAG_MF: u16 = 0x2000;
/// Fragment offset mask, in 8-byte units (RFC 791 §3.1).
const FRAG_OFFSET_MASK: u16 = 0x1FFF;

/// A read (and, for mutable buffers, write) view of an IPv4 packet.
///
/// [`Ipv4Packet::new_checked`] guarantees that the header, as declared by
/// IHL, and the total length both fit in the buffer, so the getters never
/// read past its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Wraps a buffer after checking the version, IHL and total length
    /// against the buffer (the header checksum is not verified here).
    pub fn new_checked(buffer: T) -> Result<Self, ParseError> {
        let buf = buffer.as_ref();
        if buf.len() < HEADER_LEN {
            return Err(truncated(Layer::Ipv4, HEADER_LEN, buf.len()));
        }
        let packet = Ipv4Packet { buffer };
        let version = packet.version();
        if version != 4 {
            return Err(ParseError::BadVersion { found: version });
        }
        let available = packet.buffer.as_ref().len();
        let header_len = packet.header_len();
        // RFC 791 §3.1: IHL counts 32-bit words, minimum value 5.
        if header_len < HEADER_LEN || header_len > available {
            return Err(ParseError::BadHeaderLength {
                layer: Layer::Ipv4,
                value: header_len,
            });
        }
        let total_len = usize::from(packet.total_len());
        // RFC 791 §3.1: Total Length covers header and data; it can neither
        // exceed what arrived nor be shorter than the header.
        if total_len > available || total_len < header_len {
            return Err(ParseError::BadTotalLength {
                layer: Layer::Ipv4,
                claimed: total_len,
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

    /// The version nibble (4).
    pub fn version(&self) -> u8 {
        field::u8_at(self.buf(), fields::VER_IHL) >> 4
    }

    /// Header length in bytes (IHL * 4).
    pub fn header_len(&self) -> usize {
        usize::from(field::u8_at(self.buf(), fields::VER_IHL) & 0x0F) * 4
    }

    /// The DSCP (upper six bits of the former TOS byte).
    pub fn dscp(&self) -> u8 {
        field::u8_at(self.buf(), fields::DSCP_ECN) >> 2
    }

    /// The ECN codepoint (lower two bits of the former TOS byte).
    pub fn ecn(&self) -> u8 {
        field::u8_at(self.buf(), fields::DSCP_ECN) & 0x03
    }

    /// Total length: header plus data, in bytes.
    pub fn total_len(&self) -> u16 {
        field::u16_at(self.buf(), fields::LENGTH.start)
    }

    /// Identification field.
    pub fn ident(&self) -> u16 {
        field::u16_at(self.buf(), fields::IDENT.start)
    }

    /// Don't Fragment flag.
    pub fn dont_frag(&self) -> bool {
        field::u16_at(self.buf(), fields::FLG_OFF.start) & FLAG_DF != 0
    }

    /// More Fragments flag.
    pub fn more_frags(&self) -> bool {
        field::u16_at(self.buf(), fields::FLG_OFF.start) & FLAG_MF != 0
    }

    /// Fragment offset in bytes.
    pub fn frag_offset(&self) -> u16 {
        (field::u16_at(self.buf(), fields::FLG_OFF.start) & FRAG_OFFSET_MASK) << 3
    }

    /// Time to live.
    pub fn ttl(&self) -> u8 {
        field::u8_at(self.buf(), fields::TTL)
    }

    /// Upper-layer protocol number.
    pub fn protocol(&self) -> u8 {
        field::u8_at(self.buf(), fields::PROTOCOL)
    }

    /// Header checksum field.
    pub fn checksum(&self) -> u16 {
        field::u16_at(self.buf(), fields::CHECKSUM.start)
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(field::array_at::<4>(self.buf(), fields::SRC.start))
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(field::array_at::<4>(self.buf(), fields::DST.start))
    }

    /// The full header including options.
    pub fn header(&self) -> &[u8] {
        self.buf().get(..self.header_len()).unwrap_or(&[])
    }

    /// The options bytes (between the fixed header and the payload).
    pub fn options(&self) -> &[u8] {
        self.buf().get(HEADER_LEN..self.header_len()).unwrap_or(&[])
    }

    /// `true` if the header checksum verifies (RFC 791 §3.1).
    pub fn verify_checksum(&self) -> bool {
        checksum::fold(checksum::sum(self.header())) == 0xFFFF
    }

    /// The checksum the header should carry.
    pub fn expected_checksum(&self) -> u16 {
        let with_field = checksum::sum(self.header());
        // Adding the complement of the field subtracts it (RFC 1624 §3).
        checksum::finish(with_field + u32::from(!self.checksum()))
    }

    /// The payload: bytes after the header up to Total Length. Bytes past
    /// Total Length (link-layer padding) are not part of it.
    pub fn payload(&self) -> &[u8] {
        let end = usize::from(self.total_len());
        self.buf().get(self.header_len()..end).unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    fn buf_mut(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }

    /// Sets version 4 and the header length in bytes (rounded down to
    /// 32-bit words).
    pub fn set_version_and_header_len(&mut self, header_len: usize) {
        let ihl = ((header_len / 4) & 0x0F) as u8;
        field::set_u8(self.buf_mut(), fields::VER_IHL, 0x40 | ihl);
    }

    /// Sets the DSCP and ECN byte.
    pub fn set_dscp_ecn(&mut self, dscp: u8, ecn: u8) {
        field::set_u8(self.buf_mut(), fields::DSCP_ECN, (dscp << 2) | (ecn & 0x03));
    }

    /// Sets the total length.
    pub fn set_total_len(&mut self, value: u16) {
        field::set_u16(self.buf_mut(), fields::LENGTH.start, value);
    }

    /// Sets the identification field.
    pub fn set_ident(&mut self, value: u16) {
        field::set_u16(self.buf_mut(), fields::IDENT.start, value);
    }

    /// Sets the flags and fragment offset (offset in bytes, must be a
    /// multiple of 8).
    pub fn set_flags_and_frag_offset(&mut self, dont_frag: bool, more_frags: bool, offset: u16) {
        let mut raw = (offset >> 3) & FRAG_OFFSET_MASK;
        if dont_frag {
            raw |= FLAG_DF;
        }
        if more_frags {
            raw |= FLAG_MF;
        }
        field::set_u16(self.buf_mut(), fields::FLG_OFF.start, raw);
    }

    /// Sets the time to live.
    pub fn set_ttl(&mut self, value: u8) {
        field::set_u8(self.buf_mut(), fields::TTL, value);
    }

    /// Sets the protocol.
    pub fn set_protocol(&mut self, value: u8) {
        field::set_u8(self.buf_mut(), fields::PROTOCOL, value);
    }

    /// Sets the checksum field verbatim.
    pub fn set_checksum(&mut self, value: u16) {
        field::set_u16(self.buf_mut(), fields::CHECKSUM.start, value);
    }

    /// Sets the source address.
    pub fn set_src_addr(&mut self, addr: Ipv4Addr) {
        field::set_bytes(self.buf_mut(), fields::SRC.start, &addr.octets());
    }

    /// Sets the destination address.
    pub fn set_dst_addr(&mut self, addr: Ipv4Addr) {
        field::set_bytes(self.buf_mut(), fields::DST.start, &addr.octets());
    }

    /// Recomputes and stores the header checksum.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let value = checksum::internet_checksum(self.header());
        self.set_checksum(value);
    }

    /// The payload, mutable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let start = self.header_len();
        let end = usize::from(self.total_len());
        self.buf_mut().get_mut(start..end).unwrap_or(&mut [])
    }
}

/// A parsed IPv4 packet: its view-level facts that the stack uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Parsed<'a> {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Upper-layer protocol.
    pub protocol: u8,
    /// Time to live.
    pub ttl: u8,
    /// Payload, trimmed to Total Length.
    pub payload: &'a [u8],
}

/// Parses and validates an IPv4 packet: version, IHL, total length, header
/// checksum, and refuses fragments.
pub fn parse(buf: &[u8]) -> Result<Ipv4Parsed<'_>, ParseError> {
    let packet = Ipv4Packet::new_checked(buf)?;
    // RFC 791 §3.1: the header checksum covers the header only.
    if !packet.verify_checksum() {
        return Err(ParseError::BadChecksum {
            layer: Layer::Ipv4,
            found: packet.checksum(),
            expected: packet.expected_checksum(),
        });
    }
    // RFC 791 §3.2: a packet with MF set or a non-zero fragment offset is
    // a fragment; this stack does not reassemble.
    if packet.more_frags() || packet.frag_offset() != 0 {
        return Err(ParseError::Fragment);
    }
    Ok(Ipv4Parsed {
        src: packet.src_addr(),
        dst: packet.dst_addr(),
        protocol: packet.protocol(),
        ttl: packet.ttl(),
        // RFC 791 §3.1: bytes past Total Length are link padding (Linux
        // trims them the same way).
        payload: payload_of(buf, packet.header_len(), usize::from(packet.total_len())),
    })
}

/// The payload slice with the buffer's lifetime.
fn payload_of(buf: &[u8], start: usize, end: usize) -> &[u8] {
    buf.get(start..end).unwrap_or(&[])
}

/// Writes a 20-byte IPv4 header (no options) with DF set and a computed
/// checksum. Returns the header length.
pub fn emit_header(
    buf: &mut [u8],
    src: Ipv4Addr,
    dst: Ipv4Addr,
    protocol: u8,
    payload_len: usize,
    ttl: u8,
    ident: u16,
) -> Result<usize, EmitError> {
    let total = HEADER_LEN + payload_len;
    // RFC 791 §3.1: Total Length is a 16-bit field.
    let total_u16 = u16::try_from(total).map_err(|_| EmitError::PayloadTooLarge {
        len: payload_len,
        max: usize::from(u16::MAX) - HEADER_LEN,
    })?;
    check_room(HEADER_LEN, buf)?;
    let mut packet = Ipv4Packet {
        buffer: buf.get_mut(..HEADER_LEN).unwrap_or(&mut []),
    };
    packet.set_version_and_header_len(HEADER_LEN);
    packet.set_dscp_ecn(0, 0);
    packet.set_total_len(total_u16);
    packet.set_ident(ident);
    // We never fragment: DF lets path-MTU discovery work (RFC 1191).
    packet.set_flags_and_frag_offset(true, false, 0);
    packet.set_ttl(ttl);
    packet.set_protocol(protocol);
    packet.set_src_addr(src);
    packet.set_dst_addr(dst);
    packet.fill_checksum();
    Ok(HEADER_LEN)
}
