//! Wire formats: IPv4, IPv6, TCP, ICMP.
//!
//! Every parser here treats its input as hostile: no panics, typed errors
//! ([`ParseError`]) with stable reason names for drop counters. Emitters
//! write into caller-provided buffers and compute checksums.
//!
//! ```
//! use std::net::{IpAddr, Ipv4Addr};
//! use synack_wire::ip::{emit_ip_header, ip_header_len, parse_ip, protocol};
//! use synack_wire::{SeqNumber, TcpFlags, TcpOptions, TcpRepr};
//!
//! let (src, dst) = (
//!     IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
//!     IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
//! );
//! let syn = TcpRepr {
//!     src_port: 40000,
//!     dst_port: 80,
//!     seq: SeqNumber(1),
//!     ack: SeqNumber(0),
//!     flags: TcpFlags::SYN,
//!     window: 65535,
//!     urgent_ptr: 0,
//!     options: TcpOptions { mss: Some(1460), ..TcpOptions::default() },
//!     payload: &[],
//! };
//! let ip_len = ip_header_len(src);
//! let mut buf = vec![0u8; ip_len + syn.buffer_len()];
//! let tcp_len = syn.emit(&mut buf[ip_len..], src, dst)?;
//! emit_ip_header(&mut buf, src, dst, protocol::TCP, tcp_len, 64, 0)?;
//!
//! let packet = parse_ip(&buf)?;
//! let parsed = TcpRepr::parse(packet.payload, packet.header.src, packet.header.dst)?;
//! assert_eq!(parsed, syn);
//! assert_eq!(
//!     synack_wire::tcpdump::format_packet(&buf),
//!     "IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [S], seq 1, win 65535, options [mss 1460], length 0"
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
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
