//! One-line packet summaries in the exact format of `tcpdump -n -S -t`
//! (tcpdump 4.99, no `-v`), for logs and capture diffs.
//!
//! The goal is byte-for-byte equality with tcpdump for TCP, ICMP, ICMPv6
//! and plain UDP over IPv4/IPv6 (with Hop-by-Hop, Destination Options,
//! Routing and Fragment headers), including tcpdump's own wording for
//! malformed packets. The rendering rules below are facts about
//! tcpdump's output format; the code is written from scratch.
//!
//! tcpdump stops a line with ` [|proto]` when a field lies past the
//! captured bytes; here that is an internal `Trunc` error, propagated with
//! `?` and turned into the marker by [`format_packet`].
//!
//! Not reproduced: application-layer decoders other than HTTP's first
//! line (DNS, SSH, BGP, ... on their well-known ports), transports other
//! than TCP, UDP, ICMP and ESP (GRE, SCTP, AH, ...), the multi-line hex
//! dumps tcpdump adds for unknown ICMPv6 messages, and ICMPv6 messages a
//! TCP stack never meets (MLD, node information, RPL). Those print a
//! close approximation and never panic.

mod icmp;
mod ip;
mod mptcp;
mod tcp;

use std::fmt::Write;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Renders one raw IP packet (no link-layer header) as the line
/// `tcpdump -n -S -t` prints for it, without the trailing newline.
#[must_use]
pub fn format_packet(ip_packet: &[u8]) -> String {
    let mut out = Out::default();
    if ip::print_any(&mut out, ip_packet).is_err() {
        out.trunc();
    }
    out.buf
}

/// A read past the captured bytes: tcpdump abandons the line and appends
/// ` [|proto]` for the protocol being printed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Trunc;

/// Result of a printing step.
pub(crate) type Res<T = ()> = Result<T, Trunc>;

/// The line being built and the protocol tcpdump would blame for a
/// truncation.
#[derive(Default)]
pub(crate) struct Out {
    buf: String,
    proto: &'static str,
}

impl Out {
    /// Appends formatted text.
    pub(crate) fn put(&mut self, args: std::fmt::Arguments<'_>) {
        // Writing to a String cannot fail.
        let _ = self.buf.write_fmt(args);
    }

    /// Appends a literal.
    pub(crate) fn s(&mut self, text: &str) {
        self.buf.push_str(text);
    }

    /// tcpdump's truncation marker.
    pub(crate) fn trunc(&mut self) {
        let proto = self.proto;
        self.put(format_args!(" [|{proto}]"));
    }

    /// tcpdump's invalid marker.
    pub(crate) fn invalid(&mut self) {
        self.s(" (invalid)");
    }

    /// Names the protocol being printed, for truncation markers.
    pub(crate) fn protocol(&mut self, name: &'static str) {
        self.proto = name;
    }
}

/// Reads a byte of captured data, or reports truncation.
pub(crate) fn u8_at(buf: &[u8], at: usize) -> Res<u8> {
    buf.get(at).copied().ok_or(Trunc)
}

/// Reads a big-endian u16 of captured data, or reports truncation.
pub(crate) fn u16_at(buf: &[u8], at: usize) -> Res<u16> {
    match buf.get(at..at + 2) {
        Some(&[a, b]) => Ok(u16::from_be_bytes([a, b])),
        _ => Err(Trunc),
    }
}

/// Reads a big-endian u32 of captured data, or reports truncation.
pub(crate) fn u32_at(buf: &[u8], at: usize) -> Res<u32> {
    match buf.get(at..at + 4) {
        Some(&[a, b, c, d]) => Ok(u32::from_be_bytes([a, b, c, d])),
        _ => Err(Trunc),
    }
}

/// `true` if `len` bytes from `at` were captured.
pub(crate) fn has(buf: &[u8], at: usize, len: usize) -> bool {
    at.checked_add(len).is_some_and(|end| end <= buf.len())
}

/// An IPv4 address at `at`, dotted quad.
pub(crate) fn ipv4_at(buf: &[u8], at: usize) -> Res<String> {
    match buf.get(at..at + 4) {
        Some(&[a, b, c, d]) => Ok(Ipv4Addr::new(a, b, c, d).to_string()),
        _ => Err(Trunc),
    }
}

/// An IPv6 address at `at`, formatted as tcpdump does.
pub(crate) fn ipv6_at(buf: &[u8], at: usize) -> Res<String> {
    let mut octets = [0u8; 16];
    octets.copy_from_slice(buf.get(at..at + 16).ok_or(Trunc)?);
    Ok(ipv6_string(Ipv6Addr::from(octets)))
}

/// tcpdump's IPv6 text form: RFC 5952 zero compression (longest run of
/// two or more zero groups, first on ties), except that IPv4-compatible
/// (`::a.b.c.d`) and IPv4-mapped (`::ffff:a.b.c.d`) addresses end in
/// dotted-quad form.
pub(crate) fn ipv6_string(addr: Ipv6Addr) -> String {
    let words = addr.segments();
    let (mut best_start, mut best_len) = (None, 0usize);
    let mut run: Option<(usize, usize)> = None;
    for (i, &w) in words.iter().enumerate() {
        if w == 0 {
            run = Some(match run {
                Some((s, l)) => (s, l + 1),
                None => (i, 1),
            });
        } else if let Some((s, l)) = run.take() {
            if best_start.is_none() || l > best_len {
                best_start = Some(s);
                best_len = l;
            }
        }
    }
    if let Some((s, l)) = run {
        if best_start.is_none() || l > best_len {
            best_start = Some(s);
            best_len = l;
        }
    }
    if best_len < 2 {
        best_start = None;
    }
    let mut out = String::new();
    for (i, &w) in words.iter().enumerate() {
        if let Some(s) = best_start {
            if i >= s && i < s + best_len {
                if i == s {
                    out.push(':');
                }
                continue;
            }
        }
        if i != 0 {
            out.push(':');
        }
        let embeds_v4 =
            best_start == Some(0) && (best_len == 6 || (best_len == 5 && words[5] == 0xffff));
        if i == 6 && embeds_v4 {
            let o = addr.octets();
            let _ = write!(out, "{}.{}.{}.{}", o[12], o[13], o[14], o[15]);
            return out;
        }
        let _ = write!(out, "{w:x}");
    }
    if best_start.is_some_and(|s| s + best_len == words.len()) {
        out.push(':');
    }
    out
}
