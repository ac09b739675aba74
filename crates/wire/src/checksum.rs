//! The Internet checksum (RFC 1071) and the TCP/ICMPv6 pseudo-headers.
//!
//! A *partial sum* is a `u32` holding a one's-complement sum that has been
//! folded to at most 17 bits, so a few thousand partial sums can be added
//! with plain `+` before [`fold`] without overflowing. Partial sums of
//! separate buffers may be added only when every buffer but the last has an
//! even length (RFC 1071 §2(B): the sum is byte-order independent but not
//! offset independent).

use std::net::IpAddr;

/// The one's-complement sum of `data` as 16-bit big-endian words (a final
/// odd byte is padded with a zero low byte), returned as a partial sum.
///
/// This is the hot path of every send and receive: it adds 8 bytes at a
/// time into a `u64` with an end-around carry, then folds down (RFC 1071
/// §2(C) "deferred carries" and §2(B) "byte order independence" mean a
/// 64-bit accumulation folds to the same 16-bit result).
#[must_use]
pub fn sum(data: &[u8]) -> u32 {
    let mut acc: u64 = 0;
    let mut chunks = data.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let (s, carry) = acc.overflowing_add(u64::from_be_bytes(word));
        // End-around carry keeps the one's-complement sum exact.
        acc = s + u64::from(carry);
    }
    let mut tail_acc: u64 = 0;
    let mut pairs = chunks.remainder().chunks_exact(2);
    for pair in &mut pairs {
        let mut word = [0u8; 2];
        word.copy_from_slice(pair);
        tail_acc += u64::from(u16::from_be_bytes(word));
    }
    if let Some(&last) = pairs.remainder().first() {
        // RFC 1071 §4.1: an odd final byte is the high byte of a word.
        tail_acc += u64::from(last) << 8;
    }
    let (s, carry) = acc.overflowing_add(tail_acc);
    fold64(s + u64::from(carry))
}

/// Folds a 64-bit end-around-carry accumulator to a 16-bit value in a u32.
fn fold64(mut acc: u64) -> u32 {
    acc = (acc & 0xFFFF_FFFF) + (acc >> 32);
    acc = (acc & 0xFFFF_FFFF) + (acc >> 32);
    acc = (acc & 0xFFFF) + (acc >> 16);
    acc = (acc & 0xFFFF) + (acc >> 16);
    acc as u32
}

/// Folds a partial sum (or the sum of several) into the 16-bit
/// one's-complement sum. This is *not* complemented; see [`finish`].
#[must_use]
pub fn fold(sum: u32) -> u16 {
    let mut s = (sum & 0xFFFF) + (sum >> 16);
    s = (s & 0xFFFF) + (s >> 16);
    s as u16
}

/// Folds a partial sum and complements it: the value to write into a
/// checksum field that was zero while summing.
#[must_use]
pub fn finish(sum: u32) -> u16 {
    !fold(sum)
}

/// Adds two partial sums, keeping the result a partial sum.
#[must_use]
pub fn combine(a: u32, b: u32) -> u32 {
    u32::from(fold(a)) + u32::from(fold(b))
}

/// The Internet checksum of `data`: the complement of its one's-complement
/// sum. Summing a buffer that contains a correct checksum gives 0 here.
#[must_use]
pub fn internet_checksum(data: &[u8]) -> u16 {
    finish(sum(data))
}

/// The partial sum of the pseudo-header used by TCP (RFC 9293 §3.1) and
/// ICMPv6 (RFC 8200 §8.1).
///
/// IPv4 layout: source, destination, zero, protocol, 16-bit length.
/// IPv6 layout: source, destination, 32-bit length, three zero bytes, next
/// header. `length` is the upper-layer length (header + data). If the two
/// addresses are of different families, IPv4 ones are treated as
/// IPv4-mapped IPv6 addresses; callers should reject that case first.
#[must_use]
pub fn pseudo_header_sum(src: IpAddr, dst: IpAddr, protocol: u8, length: u32) -> u32 {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            // RFC 9293 §3.1: the TCP length field in the IPv4 pseudo-header
            // is 16 bits wide.
            sum(&s.octets()) + sum(&d.octets()) + u32::from(protocol) + u32::from(fold(length))
        }
        _ => {
            let s = to_v6(src);
            let d = to_v6(dst);
            // RFC 8200 §8.1: 32-bit upper-layer length and 8-bit next header.
            sum(&s.octets())
                + sum(&d.octets())
                + (length >> 16)
                + (length & 0xFFFF)
                + u32::from(protocol)
        }
    }
}

fn to_v6(addr: IpAddr) -> std::net::Ipv6Addr {
    match addr {
        IpAddr::V4(a) => a.to_ipv6_mapped(),
        IpAddr::V6(a) => a,
    }
}
