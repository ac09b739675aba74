//! Wire formats: IPv4, IPv6, TCP, ICMP.
//!
//! Every parser here treats its input as hostile: no panics, typed errors
//! ([`ParseError`]) with stable reason names for drop counters. Emitters
//! write into caller-provided buffers and compute checksums.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod field;

pub mod checksum;
pub mod error;
pub mod icmpv4;
pub mod icmpv6;
pub mod ip;
pub mod ipv4;
pub mod ipv6;
pub mod seq;
pub mod tcp;
pub mod tcpdump;

pub use error::{EmitError, Layer, OptionError, ParseError};
pub use icmpv4::Icmpv4Repr;
pub use icmpv6::Icmpv6Repr;
pub use seq::SeqNumber;
pub use tcp::{SackBlocks, TcpFlags, TcpOptions, TcpPacket, TcpRepr, Timestamps};
