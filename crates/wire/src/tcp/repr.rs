//! The owned, high-level form of a TCP segment: what the core reads and
//! writes.

use std::net::IpAddr;

use crate::error::{check_room, EmitError, Layer, ParseError};
use crate::seq::SeqNumber;

use super::flags::TcpFlags;
use super::options::{TcpOptions, MAX_OPTIONS_LEN};
use super::packet::{TcpPacket, HEADER_LEN};

/// A TCP segment: header fields, understood options, and payload.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct TcpRepr<'a> {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number of the first octet (or the ISN on SYN).
    pub seq: SeqNumber,
    /// Acknowledgment number; 0 when ACK is not set (it is parsed as 0 and
    /// emitted as 0 then, whatever the wire or this field holds).
    pub ack: SeqNumber,
    /// Control bits.
    pub flags: TcpFlags,
    /// Window field, unscaled.
    pub window: u16,
    /// Urgent pointer field.
    pub urgent_ptr: u16,
    /// Options.
    pub options: TcpOptions,
    /// Segment data.
    pub payload: &'a [u8],
}

impl<'a> TcpRepr<'a> {
    /// Parses a segment and verifies its checksum against the
    /// pseudo-header built from `src` and `dst` (RFC 9293 §3.1).
    pub fn parse(segment: &'a [u8], src: IpAddr, dst: IpAddr) -> Result<Self, ParseError> {
        let packet = TcpPacket::new_checked(segment)?;
        if !packet.verify_checksum(src, dst) {
            return Err(ParseError::BadChecksum {
                layer: Layer::Tcp,
                found: packet.checksum(),
                expected: packet.expected_checksum(src, dst),
            });
        }
        Self::from_packet(segment)
    }

    /// Parses a segment without verifying its checksum (for checksum
    /// offload, or tools that show broken packets).
    pub fn parse_unverified(segment: &'a [u8]) -> Result<Self, ParseError> {
        Self::from_packet(segment)
    }

    fn from_packet(segment: &'a [u8]) -> Result<Self, ParseError> {
        let packet = TcpPacket::new_checked(segment)?;
        let flags = packet.flags();
        let options = TcpOptions::parse(packet.options())?;
        let header_len = packet.header_len();
        Ok(TcpRepr {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
            seq: packet.seq_number(),
            // RFC 9293 §3.1: the acknowledgment field is meaningful only
            // when ACK is set.
            ack: if flags.ack() {
                packet.ack_number()
            } else {
                SeqNumber(0)
            },
            flags,
            window: packet.window_len(),
            urgent_ptr: packet.urgent_at(),
            options,
            payload: segment.get(header_len..).unwrap_or(&[]),
        })
    }

    /// Header length: 20 plus the options as emitted (a multiple of 4).
    #[must_use]
    pub fn header_len(&self) -> usize {
        HEADER_LEN + self.options.emitted_len()
    }

    /// Header plus payload length.
    #[must_use]
    pub fn buffer_len(&self) -> usize {
        self.header_len() + self.payload.len()
    }

    /// Sequence space the segment occupies: payload plus one each for SYN
    /// and FIN (RFC 9293 §3.4 SEG.LEN).
    #[must_use]
    pub fn seq_len(&self) -> u32 {
        self.payload.len() as u32 + u32::from(self.flags.syn()) + u32::from(self.flags.fin())
    }

    /// Writes header and payload into `buf` and fills the checksum.
    /// Returns the segment length.
    pub fn emit(&self, buf: &mut [u8], src: IpAddr, dst: IpAddr) -> Result<usize, EmitError> {
        let header_len = self.checked_header_len(src, dst)?;
        let total = header_len + self.payload.len();
        check_room(total, buf)?;
        if let Some(dst_payload) = buf.get_mut(header_len..total) {
            dst_payload.copy_from_slice(self.payload);
        }
        self.emit_in_place(buf, self.payload.len(), src, dst)
    }

    /// Writes the header into `buf[..header_len]` around a payload already
    /// sitting at `buf[header_len..header_len + payload_len]`
    /// (`self.payload` is ignored), and fills the checksum over both.
    /// Returns the segment length. This is the zero-copy output path.
    pub fn emit_in_place(
        &self,
        buf: &mut [u8],
        payload_len: usize,
        src: IpAddr,
        dst: IpAddr,
    ) -> Result<usize, EmitError> {
        let header_len = self.checked_header_len(src, dst)?;
        let total = header_len + payload_len;
        check_room(total, buf)?;
        let segment = buf.get_mut(..total).unwrap_or(&mut []);
        let mut packet = TcpPacket::new_unchecked(segment);
        packet.set_src_port(self.src_port);
        packet.set_dst_port(self.dst_port);
        packet.set_seq_number(self.seq);
        // RFC 9293 §3.1: without ACK the acknowledgment field is unused;
        // send zero rather than leaking state.
        packet.set_ack_number(if self.flags.ack() {
            self.ack
        } else {
            SeqNumber(0)
        });
        packet.set_header_len(header_len);
        packet.set_flags(self.flags);
        packet.set_window_len(self.window);
        packet.set_urgent_at(self.urgent_ptr);
        self.options.emit(packet.options_mut());
        packet.fill_checksum(src, dst);
        Ok(total)
    }

    fn checked_header_len(&self, src: IpAddr, dst: IpAddr) -> Result<usize, EmitError> {
        if src.is_ipv4() != dst.is_ipv4() {
            return Err(EmitError::AddressFamilyMismatch);
        }
        let options_len = self.options.emitted_len();
        // RFC 9293 §3.1: the 4-bit data offset caps options at 40 bytes.
        if options_len > MAX_OPTIONS_LEN {
            return Err(EmitError::TooManyOptions);
        }
        Ok(HEADER_LEN + options_len)
    }
}
