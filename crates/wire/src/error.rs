//! Typed errors for parsing and emitting packets.
//!
//! Parse errors carry enough detail for a log line and a stable
//! [`ParseError::reason`] name for drop counters.

use std::fmt;

/// The protocol layer an error was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layer {
    /// IPv4 header (RFC 791).
    Ipv4,
    /// IPv6 header or extension headers (RFC 8200).
    Ipv6,
    /// TCP header (RFC 9293).
    Tcp,
    /// ICMP for IPv4 (RFC 792).
    Icmpv4,
    /// ICMP for IPv6 (RFC 4443).
    Icmpv6,
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layer::Ipv4 => "IPv4",
            Layer::Ipv6 => "IPv6",
            Layer::Tcp => "TCP",
            Layer::Icmpv4 => "ICMPv4",
            Layer::Icmpv6 => "ICMPv6",
        })
    }
}

/// Why a TCP option could not be parsed (RFC 9293 §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OptionError {
    /// The length byte is 0, which would never advance.
    ZeroLength,
    /// The length byte is 1, shorter than the kind and length bytes.
    LengthOne,
    /// The option (or its length byte) runs past the end of the header.
    PastEnd,
    /// A known option kind with a length other than the one it must have.
    WrongLength {
        /// The length the option kind requires.
        expected: u8,
        /// The length byte found in the packet.
        found: u8,
    },
}

impl fmt::Display for OptionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OptionError::ZeroLength => f.write_str("length byte is 0"),
            OptionError::LengthOne => f.write_str("length byte is 1"),
            OptionError::PastEnd => f.write_str("option runs past the end of the header"),
            OptionError::WrongLength { expected, found } => {
                write!(f, "length byte is {found}, expected {expected}")
            }
        }
    }
}

/// A packet that could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ParseError {
    /// The buffer ends before a header (or a declared structure) does.
    Truncated {
        /// Layer being parsed.
        layer: Layer,
        /// Bytes needed.
        needed: usize,
        /// Bytes present.
        available: usize,
    },
    /// The IP version nibble is neither 4 nor 6 (or does not match the view).
    BadVersion {
        /// The version nibble found.
        found: u8,
    },
    /// A header length field is impossible: IPv4 IHL < 5, TCP data offset
    /// < 5, or a header length past the end of the buffer.
    BadHeaderLength {
        /// Layer being parsed.
        layer: Layer,
        /// The header length in bytes that the field declares.
        value: usize,
    },
    /// A total/payload length field claims more bytes than are present, or
    /// fewer than the header itself.
    BadTotalLength {
        /// Layer being parsed.
        layer: Layer,
        /// Length the field claims.
        claimed: usize,
        /// Bytes present.
        available: usize,
    },
    /// The checksum does not verify.
    BadChecksum {
        /// Layer being parsed.
        layer: Layer,
        /// Checksum field in the packet.
        found: u16,
        /// Checksum the packet should have carried.
        expected: u16,
    },
    /// A malformed TCP option.
    BadOption {
        /// Byte offset of the option from the start of the TCP header.
        offset: usize,
        /// The option kind.
        kind: u8,
        /// What is wrong with it.
        reason: OptionError,
    },
    /// An IPv4 fragment (MF set or offset != 0) or an IPv6 Fragment header;
    /// this stack does not reassemble.
    Fragment,
    /// An IPv6 extension header this stack does not process (ESP, AH).
    UnsupportedExtensionHeader {
        /// The Next Header value.
        next_header: u8,
    },
}

impl ParseError {
    /// A stable snake_case name for drop counters, e.g. `"ipv4_truncated"`,
    /// `"tcp_bad_checksum"`, `"tcp_bad_option"`, `"fragment"`.
    pub fn reason(&self) -> &'static str {
        match self {
            ParseError::Truncated { layer, .. } => match layer {
                Layer::Ipv4 => "ipv4_truncated",
                Layer::Ipv6 => "ipv6_truncated",
                Layer::Tcp => "tcp_truncated",
                Layer::Icmpv4 => "icmpv4_truncated",
                Layer::Icmpv6 => "icmpv6_truncated",
            },
            ParseError::BadVersion { .. } => "ip_bad_version",
            ParseError::BadHeaderLength { layer, .. } => match layer {
                Layer::Ipv4 => "ipv4_bad_header_length",
                Layer::Ipv6 => "ipv6_bad_header_length",
                Layer::Tcp => "tcp_bad_header_length",
                Layer::Icmpv4 => "icmpv4_bad_header_length",
                Layer::Icmpv6 => "icmpv6_bad_header_length",
            },
            ParseError::BadTotalLength { layer, .. } => match layer {
                Layer::Ipv4 => "ipv4_bad_total_length",
                Layer::Ipv6 => "ipv6_bad_payload_length",
                Layer::Tcp => "tcp_bad_length",
                Layer::Icmpv4 => "icmpv4_bad_length",
                Layer::Icmpv6 => "icmpv6_bad_length",
            },
            ParseError::BadChecksum { layer, .. } => match layer {
                Layer::Ipv4 => "ipv4_bad_checksum",
                Layer::Ipv6 => "ipv6_bad_checksum",
                Layer::Tcp => "tcp_bad_checksum",
                Layer::Icmpv4 => "icmpv4_bad_checksum",
                Layer::Icmpv6 => "icmpv6_bad_checksum",
            },
            ParseError::BadOption { .. } => "tcp_bad_option",
            ParseError::Fragment => "fragment",
            ParseError::UnsupportedExtensionHeader { .. } => "ipv6_unsupported_extension_header",
        }
    }

    /// The layer the error belongs to, if it names one.
    pub fn layer(&self) -> Option<Layer> {
        match self {
            ParseError::Truncated { layer, .. }
            | ParseError::BadHeaderLength { layer, .. }
            | ParseError::BadTotalLength { layer, .. }
            | ParseError::BadChecksum { layer, .. } => Some(*layer),
            ParseError::BadOption { .. } => Some(Layer::Tcp),
            ParseError::UnsupportedExtensionHeader { .. } => Some(Layer::Ipv6),
            ParseError::BadVersion { .. } | ParseError::Fragment => None,
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Truncated {
                layer,
                needed,
                available,
            } => write!(
                f,
                "{layer} packet truncated: needed {needed} bytes, only {available} present"
            ),
            ParseError::BadVersion { found } => {
                write!(f, "IP version field (byte 0, high nibble) is {found}, expected 4 or 6")
            }
            ParseError::BadHeaderLength { layer, value } => write!(
                f,
                "{layer} header length field declares {value} bytes, which is below the minimum or past the end of the packet"
            ),
            ParseError::BadTotalLength {
                layer,
                claimed,
                available,
            } => write!(
                f,
                "{layer} length field claims {claimed} bytes but {available} are present"
            ),
            ParseError::BadChecksum {
                layer,
                found,
                expected,
            } => write!(
                f,
                "{layer} checksum field is {found:#06x}, expected {expected:#06x}"
            ),
            ParseError::BadOption {
                offset,
                kind,
                reason,
            } => write!(
                f,
                "TCP option kind {kind} at header offset {offset} is malformed: {reason}"
            ),
            ParseError::Fragment => {
                f.write_str("IP fragment (IPv4 MF/fragment offset or IPv6 Fragment header); reassembly is not supported")
            }
            ParseError::UnsupportedExtensionHeader { next_header } => write!(
                f,
                "IPv6 next header field is {next_header}, an extension header that is not supported"
            ),
        }
    }
}

impl std::error::Error for ParseError {}

/// A packet that could not be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EmitError {
    /// The output buffer is too small.
    BufferTooSmall {
        /// Bytes the packet needs.
        needed: usize,
        /// Bytes the buffer has.
        available: usize,
    },
    /// Source and destination addresses are of different IP families.
    AddressFamilyMismatch,
    /// The options do not fit in the 40 bytes a TCP header allows.
    TooManyOptions,
    /// The payload does not fit the packet's 16-bit length field.
    PayloadTooLarge {
        /// Payload length asked for.
        len: usize,
        /// Largest payload the length field can describe.
        max: usize,
    },
}

impl fmt::Display for EmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EmitError::BufferTooSmall { needed, available } => write!(
                f,
                "output buffer too small: needed {needed} bytes, only {available} available"
            ),
            EmitError::AddressFamilyMismatch => {
                f.write_str("source and destination addresses are of different IP families")
            }
            EmitError::TooManyOptions => {
                f.write_str("TCP options exceed the 40 bytes the data offset field allows")
            }
            EmitError::PayloadTooLarge { len, max } => write!(
                f,
                "payload of {len} bytes exceeds the {max} bytes the length field can describe"
            ),
        }
    }
}

impl std::error::Error for EmitError {}

/// Shorthand for a truncation error.
pub(crate) fn truncated(layer: Layer, needed: usize, available: usize) -> ParseError {
    ParseError::Truncated {
        layer,
        needed,
        available,
    }
}

/// Shorthand for a too-small output buffer.
pub(crate) fn check_room(needed: usize, buf: &[u8]) -> Result<(), EmitError> {
    if buf.len() < needed {
        Err(EmitError::BufferTooSmall {
            needed,
            available: buf.len(),
        })
    } else {
        Ok(())
    }
}
