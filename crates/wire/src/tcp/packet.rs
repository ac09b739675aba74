//! A zero-copy view of a TCP segment (RFC 9293 §3.1 header layout).

use std::net::IpAddr;

use crate::checksum;
use crate::error::{truncated, Layer, ParseError};
use crate::field::{self, Field};
use crate::ip::protocol;
use crate::seq::SeqNumber;

use super::flags::TcpFlags;

/// Length of the TCP header without options.
pub const HEADER_LEN: usize = 20;

/// Byte offsets of the TCP header fields (RFC 9293 §3.1).
mod fields {
    use super::Field;
    pub const SRC_PORT: Field = 0..2;
    pub const DST_PORT: Field = 2..4;
    pub const SEQ_NUM: Field = 4..8;
    pub const ACK_NUM: Field = 8..12;
    pub const DATA_OFF: usize = 12;
    pub const FLAGS: usize = 13;
    pub const WIN_SIZE: Field = 14..16;
    pub const CHECKSUM: Field = 16..18;
    pub const URGENT: Field = 18..20;
}

/// A read (and, for mutable buffers, write) view of a TCP segment.
///
/// [`TcpPacket::new_checked`] guarantees the header, as declared by the
/// data offset, fits in the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
    /// Wraps a segment after checking its length and data offset.
    pub fn new_checked(buffer: T) -> Result<Self, ParseError> {
        let len = buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(truncated(Layer::Tcp, HEADER_LEN, len));
        }
        let packet = TcpPacket { buffer };
        let header_len = packet.header_len();
        // RFC 9293 §3.1: Data Offset counts 32-bit words; the fixed header
        // alone is 5, and the header cannot extend past the segment.
        if header_len < HEADER_LEN || header_len > len {
            return Err(ParseError::BadHeaderLength {
                layer: Layer::Tcp,
                value: header_len,
            });
        }
        Ok(packet)
    }

    /// Wraps a buffer without checks. Getters on a short buffer return
    /// zeros rather than panicking; use only on buffers you built.
    pub fn new_unchecked(buffer: T) -> Self {
        TcpPacket { buffer }
    }

    /// Consumes the view, returning the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn buf(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        field::u16_at(self.buf(), fields::SRC_PORT.start)
    }

    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        field::u16_at(self.buf(), fields::DST_PORT.start)
    }

    /// Sequence number.
    pub fn seq_number(&self) -> SeqNumber {
        SeqNumber(field::u32_at(self.buf(), fields::SEQ_NUM.start))
    }

    /// Acknowledgment number as on the wire (meaningful only with ACK).
    pub fn ack_number(&self) -> SeqNumber {
        SeqNumber(field::u32_at(self.buf(), fields::ACK_NUM.start))
    }

    /// Header length in bytes (data offset * 4).
    pub fn header_len(&self) -> usize {
        usize::from(field::u8_at(self.buf(), fields::DATA_OFF) >> 4) * 4
    }

    /// The control bits.
    pub fn flags(&self) -> TcpFlags {
        TcpFlags(field::u8_at(self.buf(), fields::FLAGS))
    }

    /// Window field, unscaled.
    pub fn window_len(&self) -> u16 {
        field::u16_at(self.buf(), fields::WIN_SIZE.start)
    }

    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        field::u16_at(self.buf(), fields::CHECKSUM.start)
    }

    /// Urgent pointer field.
    pub fn urgent_at(&self) -> u16 {
        field::u16_at(self.buf(), fields::URGENT.start)
    }

    /// The raw options bytes.
    pub fn options(&self) -> &[u8] {
        self.buf().get(HEADER_LEN..self.header_len()).unwrap_or(&[])
    }

    /// The payload.
    pub fn payload(&self) -> &[u8] {
        self.buf().get(self.header_len()..).unwrap_or(&[])
    }

    /// The one's-complement sum of pseudo-header and segment, checksum
    /// field included.
    fn full_sum(&self, src: IpAddr, dst: IpAddr) -> u32 {
        let segment = self.buf();
        checksum::pseudo_header_sum(src, dst, protocol::TCP, segment.len() as u32)
            + checksum::sum(segment)
    }

    /// `true` if the checksum verifies against the pseudo-header
    /// (RFC 9293 §3.1).
    pub fn verify_checksum(&self, src: IpAddr, dst: IpAddr) -> bool {
        checksum::fold(self.full_sum(src, dst)) == 0xFFFF
    }

    /// The checksum the segment should carry.
    pub fn expected_checksum(&self, src: IpAddr, dst: IpAddr) -> u16 {
        // Adding the complement of the field subtracts it (RFC 1624 §3).
        checksum::finish(self.full_sum(src, dst) + u32::from(!self.checksum()))
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpPacket<T> {
    fn buf_mut(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }

    /// Sets the source port.
    pub fn set_src_port(&mut self, value: u16) {
        field::set_u16(self.buf_mut(), fields::SRC_PORT.start, value);
    }

    /// Sets the destination port.
    pub fn set_dst_port(&mut self, value: u16) {
        field::set_u16(self.buf_mut(), fields::DST_PORT.start, value);
    }

    /// Sets the sequence number.
    pub fn set_seq_number(&mut self, value: SeqNumber) {
        field::set_u32(self.buf_mut(), fields::SEQ_NUM.start, value.0);
    }

    /// Sets the acknowledgment number.
    pub fn set_ack_number(&mut self, value: SeqNumber) {
        field::set_u32(self.buf_mut(), fields::ACK_NUM.start, value.0);
    }

    /// Sets the header length in bytes (rounded down to words); clears the
    /// reserved bits.
    pub fn set_header_len(&mut self, value: usize) {
        let words = ((value / 4) & 0x0F) as u8;
        field::set_u8(self.buf_mut(), fields::DATA_OFF, words << 4);
    }

    /// Sets the control bits.
    pub fn set_flags(&mut self, flags: TcpFlags) {
        field::set_u8(self.buf_mut(), fields::FLAGS, flags.0);
    }

    /// Sets the window field.
    pub fn set_window_len(&mut self, value: u16) {
        field::set_u16(self.buf_mut(), fields::WIN_SIZE.start, value);
    }

    /// Sets the checksum field verbatim.
    pub fn set_checksum(&mut self, value: u16) {
        field::set_u16(self.buf_mut(), fields::CHECKSUM.start, value);
    }

    /// Sets the urgent pointer.
    pub fn set_urgent_at(&mut self, value: u16) {
        field::set_u16(self.buf_mut(), fields::URGENT.start, value);
    }

    /// The options bytes, mutable.
    pub fn options_mut(&mut self) -> &mut [u8] {
        let end = self.header_len();
        self.buf_mut().get_mut(HEADER_LEN..end).unwrap_or(&mut [])
    }

    /// The payload, mutable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let start = self.header_len();
        self.buf_mut().get_mut(start..).unwrap_or(&mut [])
    }

    /// Computes and stores the checksum over the whole buffer.
    pub fn fill_checksum(&mut self, src: IpAddr, dst: IpAddr) {
        self.set_checksum(0);
        let sum = self.full_sum(src, dst);
        self.set_checksum(checksum::finish(sum));
    }
}
