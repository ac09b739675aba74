//! ICMP for IPv4 (RFC 792): the messages a TCP stack sends or must
//! understand — echo, destination unreachable (with the RFC 1191 next-hop
//! MTU), and time exceeded.

use crate::checksum;
use crate::error::{check_room, truncated, EmitError, Layer, ParseError};
use crate::field;

/// Length of the fixed ICMP header: type, code, checksum, 4 more bytes.
pub const HEADER_LEN: usize = 8;

/// ICMPv4 message types (RFC 792).
pub mod message {
    /// Echo Reply.
    pub const ECHO_REPLY: u8 = 0;
    /// Destination Unreachable.
    pub const DEST_UNREACHABLE: u8 = 3;
    /// Echo Request.
    pub const ECHO_REQUEST: u8 = 8;
    /// Time Exceeded.
    pub const TIME_EXCEEDED: u8 = 11;
}

/// Destination Unreachable codes (RFC 792, RFC 1122 §3.2.2.1).
pub mod unreachable {
    /// Net unreachable.
    pub const NET: u8 = 0;
    /// Host unreachable.
    pub const HOST: u8 = 1;
    /// Protocol unreachable.
    pub const PROTOCOL: u8 = 2;
    /// Port unreachable.
    pub const PORT: u8 = 3;
    /// Fragmentation needed and DF set (RFC 1191 path-MTU discovery).
    pub const FRAG_NEEDED: u8 = 4;
}

/// A parsed ICMPv4 message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Icmpv4Repr<'a> {
    /// Echo Request (type 8, code 0).
    EchoRequest {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq: u16,
        /// Data echoed back.
        data: &'a [u8],
    },
    /// Echo Reply (type 0, code 0).
    EchoReply {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq: u16,
        /// Data echoed back.
        data: &'a [u8],
    },
    /// Destination Unreachable (type 3).
    DestUnreachable {
        /// Reason code (see the `unreachable` module).
        code: u8,
        /// Next-hop MTU for code 4 (RFC 1191 §4); 0 otherwise.
        next_hop_mtu: u16,
        /// The offending datagram's IP header and leading bytes.
        original: &'a [u8],
    },
    /// Time Exceeded (type 11).
    TimeExceeded {
        /// 0: TTL exceeded in transit, 1: reassembly time exceeded.
        code: u8,
        /// The offending datagram's IP header and leading bytes.
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

impl<'a> Icmpv4Repr<'a> {
    /// Parses a message and verifies its checksum (RFC 792: the checksum
    /// covers the whole ICMP message).
    pub fn parse(buf: &'a [u8]) -> Result<Self, ParseError> {
        if buf.len() < HEADER_LEN {
            return Err(truncated(Layer::Icmpv4, HEADER_LEN, buf.len()));
        }
        let total = checksum::sum(buf);
        if checksum::fold(total) != 0xFFFF {
            let found = field::u16_at(buf, 2);
            return Err(ParseError::BadChecksum {
                layer: Layer::Icmpv4,
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
            (message::ECHO_REQUEST, 0) => Icmpv4Repr::EchoRequest {
                ident,
                seq,
                data: rest,
            },
            (message::ECHO_REPLY, 0) => Icmpv4Repr::EchoReply {
                ident,
                seq,
                data: rest,
            },
            (message::DEST_UNREACHABLE, code) => Icmpv4Repr::DestUnreachable {
                code,
                // RFC 1191 §4: the MTU sits in the low 16 bits of the
                // formerly unused word.
                next_hop_mtu: field::u16_at(buf, 6),
                original: rest,
            },
            (message::TIME_EXCEEDED, code) => Icmpv4Repr::TimeExceeded {
                code,
                original: rest,
            },
            (icmp_type, code) => Icmpv4Repr::Other { icmp_type, code },
        })
    }

    /// Bytes [`Icmpv4Repr::emit`] writes.
    #[must_use]
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.body().len()
    }

    fn body(&self) -> &'a [u8] {
        match *self {
            Icmpv4Repr::EchoRequest { data, .. } | Icmpv4Repr::EchoReply { data, .. } => data,
            Icmpv4Repr::DestUnreachable { original, .. }
            | Icmpv4Repr::TimeExceeded { original, .. } => original,
            Icmpv4Repr::Other { .. } => &[],
        }
    }

    /// Writes the message with its checksum; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, EmitError> {
        let len = self.buffer_len();
        check_room(len, buf)?;
        let out = buf.get_mut(..len).unwrap_or(&mut []);
        let (icmp_type, code, word) = match *self {
            Icmpv4Repr::EchoRequest { ident, seq, .. } => (
                message::ECHO_REQUEST,
                0,
                (u32::from(ident) << 16) | u32::from(seq),
            ),
            Icmpv4Repr::EchoReply { ident, seq, .. } => (
                message::ECHO_REPLY,
                0,
                (u32::from(ident) << 16) | u32::from(seq),
            ),
            Icmpv4Repr::DestUnreachable {
                code, next_hop_mtu, ..
            } => (message::DEST_UNREACHABLE, code, u32::from(next_hop_mtu)),
            Icmpv4Repr::TimeExceeded { code, .. } => (message::TIME_EXCEEDED, code, 0),
            Icmpv4Repr::Other { icmp_type, code } => (icmp_type, code, 0),
        };
        field::set_u8(out, 0, icmp_type);
        field::set_u8(out, 1, code);
        field::set_u16(out, 2, 0);
        field::set_u32(out, 4, word);
        field::set_bytes(out, HEADER_LEN, self.body());
        let sum = checksum::internet_checksum(out);
        field::set_u16(out, 2, sum);
        Ok(len)
    }
}
