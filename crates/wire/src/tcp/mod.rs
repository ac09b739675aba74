//! TCP segments (RFC 9293 §3.1) with the options of RFC 7323 and RFC 2018.
//!
//! [`TcpPacket`] is a zero-copy view over bytes; [`TcpRepr`] is the parsed
//! form the stack works with.

mod flags;
mod options;
mod packet;
mod repr;

pub use flags::TcpFlags;
pub use options::{kind as option_kind, SackBlocks, TcpOptions, Timestamps, MAX_OPTIONS_LEN};
pub use packet::{TcpPacket, HEADER_LEN};
pub use repr::TcpRepr;
