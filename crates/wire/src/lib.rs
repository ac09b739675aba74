//! Wire formats: IPv4, IPv6, TCP, ICMP.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
