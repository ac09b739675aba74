//! ICMP for IPv6 (RFC 4443): echo and the error messages a TCP stack must
//! understand (destination unreachable, packet too big, time exceeded).

use std::net::IpAddr;

use crate::checksum;
use crate::error::{check_room, truncated, EmitError, Layer, ParseError};
use crate::field;
use crate::ip::protocol;

/// Length of the fixed ICMPv6 header: type, code, checksum, 4 more bytes.
pub const HEADER_LEN: usize = 8;

/// ICMPv6 message types (RFC 4443 §2.1).
pub mod message {
    /// Destination Unreachable.
    pub const DEST_UNREACHABLE: u8 = 1;
    /// Packet Too Big.
    pub const PACKET_TOO_BIG: u8 = 2;
    /// Time Exceeded.
    pub const TIME_EXCEEDED: u8 = 3;
    /// Echo Request.
    pub const ECHO_REQUEST: u8 = 128;
    /// Echo Reply.
    pub const ECHO_REPLY: u8 = 129;
}

/// A parsed ICMPv6 message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Icmpv6Repr<'a> {
    /// Echo Request (type 128, code 0).
    EchoRequest {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq: u16,
        /// Data echoed back.
        data: &'a [u8],
    },
    /// Echo Reply (type 129, code 0).
    EchoReply {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq: u16,
        /// Data echoed back.
        data: &'a [u8],
    },
    /// Destination Unreachable (type 1).
    DestUnreachable {
        /// Reason code (RFC 4443 §3.1).
        code: u8,
        /// As much of the offending packet as fits.
        original: &'a [u8],
    },
    /// Packet Too Big (type 2).
    PacketTooBig {
        /// MTU of the next-hop link (RFC 4443 §3.2).
        mtu: u32,
        /// As much of the offending packet as fits.
        original: &'a [u8],
    },
    /// Time Exceeded (type 3).
    TimeExceeded {
        /// 0: hop limit exceeded, 1: reassembly time exceeded.
        code: u8,
        /// As much of the offending packet as fits.
        original: &'a [u8],
    },
    /// Any other message; only its type and code are kept.
    Other {
        /// Message type.
        icmp_type: u8,
        /// Message code.
        code: u8,
    },
}

/// The pseudo-header sum for an ICMPv6 message of `len` bytes
/// (RFC 4443 §2.3, RFC 8200 §8.1).
fn pseudo_sum(src: IpAddr, dst: IpAddr, len: usize) -> u32 {
    checksum::pseudo_header_sum(src, dst, protocol::ICMPV6, len as u32)
}

impl<'a> Icmpv6Repr<'a> {
    /// Parses a message and verifies its checksum, which covers an IPv6
    /// pseudo-header (RFC 4443 §2.3). Accepts `Ipv6Addr` or `IpAddr`.
    pub fn parse(
        buf: &'a [u8],
        src: impl Into<IpAddr>,
        dst: impl Into<IpAddr>,
    ) -> Result<Self, ParseError> {
        if buf.len() < HEADER_LEN {
            return Err(truncated(Layer::Icmpv6, HEADER_LEN, buf.len()));
        }
        let total = pseudo_sum(src.into(), dst.into(), buf.len()) + checksum::sum(buf);
        if checksum::fold(total) != 0xFFFF {
            let found = field::u16_at(buf, 2);
            return Err(ParseError::BadChecksum {
                layer: Layer::Icmpv6,
                found,
                // Adding the complement of the field subtracts it.
                expected: checksum::finish(total + u32::from(!found)),
            });
        }
        let icmp_type = field::u8_at(buf, 0);
        let code = field::u8_at(buf, 1);
        let rest = buf.get(HEADER_LEN..).unwrap_or(&[]);
        let ident = field::u16_at(buf, 4);
        let seq = field::u16_at(buf, 6);
        Ok(match (icmp_type, code) {
            (message::ECHO_REQUEST, 0) => Icmpv6Repr::EchoRequest {
                ident,
                seq,
                data: rest,
            },
            (message::ECHO_REPLY, 0) => Icmpv6Repr::EchoReply {
                ident,
                seq,
                data: rest,
            },
            (message::DEST_UNREACHABLE, code) => Icmpv6Repr::DestUnreachable {
                code,
                original: rest,
            },
            // RFC 4443 §3.2: the code is 0 and ignored by the receiver.
            (message::PACKET_TOO_BIG, _) => Icmpv6Repr::PacketTooBig {
                mtu: field::u32_at(buf, 4),
                original: rest,
            },
            (message::TIME_EXCEEDED, code) => Icmpv6Repr::TimeExceeded {
                code,
                original: rest,
            },
            (icmp_type, code) => Icmpv6Repr::Other { icmp_type, code },
        })
    }

    /// Bytes [`Icmpv6Repr::emit`] writes.
    #[must_use]
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.body().len()
    }

    fn body(&self) -> &'a [u8] {
        match *self {
            Icmpv6Repr::EchoRequest { data, .. } | Icmpv6Repr::EchoReply { data, .. } => data,
            Icmpv6Repr::DestUnreachable { original, .. }
            | Icmpv6Repr::PacketTooBig { original, .. }
            | Icmpv6Repr::TimeExceeded { original, .. } => original,
            Icmpv6Repr::Other { .. } => &[],
        }
    }

    /// Writes the message with its pseudo-header checksum; returns its
    /// length. Both addresses must be IPv6.
    pub fn emit(
        &self,
        buf: &mut [u8],
        src: impl Into<IpAddr>,
        dst: impl Into<IpAddr>,
    ) -> Result<usize, EmitError> {
        let (src, dst) = (src.into(), dst.into());
        if !(src.is_ipv6() && dst.is_ipv6()) {
            return Err(EmitError::AddressFamilyMismatch);
        }
        let len = self.buffer_len();
        check_room(len, buf)?;
        let out = buf.get_mut(..len).unwrap_or(&mut []);
        let (icmp_type, code, word) = match *self {
            Icmpv6Repr::EchoRequest { ident, seq, .. } => (
                message::ECHO_REQUEST,
                0,
                (u32::from(ident) << 16) | u32::from(seq),
            ),
            Icmpv6Repr::EchoReply { ident, seq, .. } => (
                message::ECHO_REPLY,
                0,
                (u32::from(ident) << 16) | u32::from(seq),
            ),
            Icmpv6Repr::DestUnreachable { code, .. } => (message::DEST_UNREACHABLE, code, 0),
            Icmpv6Repr::PacketTooBig { mtu, .. } => (message::PACKET_TOO_BIG, 0, mtu),
            Icmpv6Repr::TimeExceeded { code, .. } => (message::TIME_EXCEEDED, code, 0),
            Icmpv6Repr::Other { icmp_type, code } => (icmp_type, code, 0),
        };
        field::set_u8(out, 0, icmp_type);
        field::set_u8(out, 1, code);
        field::set_u16(out, 2, 0);
        field::set_u32(out, 4, word);
        field::set_bytes(out, HEADER_LEN, self.body());
        let sum = checksum::finish(pseudo_sum(src, dst, len) + checksum::sum(out));
        field::set_u16(out, 2, sum);
        Ok(len)
    }
}
