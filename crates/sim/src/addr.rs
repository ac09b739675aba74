//! The few IP header bytes the simulator reads to route a packet.
//!
//! Routing needs only the version nibble and the addresses, so that is all
//! this module looks at: a test attacker's malformed headers (bad checksum,
//! bad IHL, wrong total length) still get routed to the stack under test,
//! whose parser is what such tests exercise.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Where an IPv4 header keeps its source address (RFC 791 §3.1).
const V4_SRC: core::ops::Range<usize> = 12..16;
/// Where an IPv4 header keeps its destination address (RFC 791 §3.1).
const V4_DST: core::ops::Range<usize> = 16..20;
/// Where an IPv6 header keeps its source address (RFC 8200 §3).
const V6_SRC: core::ops::Range<usize> = 8..24;
/// Where an IPv6 header keeps its destination address (RFC 8200 §3).
const V6_DST: core::ops::Range<usize> = 24..40;

/// Why a packet's addresses could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AddrError {
    /// The packet has no bytes at all.
    Empty,
    /// The version nibble is neither 4 nor 6.
    UnknownVersion(u8),
    /// The packet ends before the address fields do.
    Truncated {
        /// IP version from the first nibble.
        version: u8,
        /// Bytes present.
        len: usize,
        /// Bytes needed to reach the end of the destination address.
        needed: usize,
    },
}

impl core::fmt::Display for AddrError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            AddrError::Empty => write!(f, "empty packet"),
            AddrError::UnknownVersion(v) => write!(f, "unknown IP version {v}"),
            AddrError::Truncated {
                version,
                len,
                needed,
            } => write!(
                f,
                "IPv{version} packet of {len} bytes ends before its addresses ({needed} needed)"
            ),
        }
    }
}

impl std::error::Error for AddrError {}

/// Source and destination address of an IP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IpEndpoints {
    /// The source address field (may be spoofed: the network does not check it).
    pub src: IpAddr,
    /// The destination address field, which routing uses.
    pub dst: IpAddr,
}

/// Reads the version nibble and both addresses, with bounds checks.
pub fn ip_endpoints(packet: &[u8]) -> Result<IpEndpoints, AddrError> {
    let first = packet.first().ok_or(AddrError::Empty)?;
    let version = first >> 4;
    let (src, dst) = address_ranges(version)?;
    let truncated = AddrError::Truncated {
        version,
        len: packet.len(),
        needed: dst.end,
    };
    let src_bytes = packet.get(src).ok_or(truncated)?;
    let dst_bytes = packet.get(dst).ok_or(truncated)?;
    Ok(IpEndpoints {
        src: to_addr(src_bytes).ok_or(truncated)?,
        dst: to_addr(dst_bytes).ok_or(truncated)?,
    })
}

/// Swaps source and destination in place, so a node can reflect a packet.
///
/// The IPv4 header checksum and any TCP/UDP pseudo-header checksum stay valid:
/// both are one's-complement sums, and a sum does not depend on the order of its terms.
pub fn swap_endpoints(packet: &mut [u8]) -> Result<(), AddrError> {
    let ends = ip_endpoints(packet)?;
    let version = packet.first().map_or(0, |b| b >> 4);
    let (src, dst) = address_ranges(version)?;
    let width = src.len();
    let (head, tail) = packet
        .split_at_mut_checked(dst.start)
        .ok_or(AddrError::Empty)?;
    let src_field = head.get_mut(src).ok_or(AddrError::Empty)?;
    let dst_field = tail.get_mut(..width).ok_or(AddrError::Empty)?;
    src_field.swap_with_slice(dst_field);
    debug_assert_eq!(ip_endpoints(packet).map(|e| e.src), Ok(ends.dst));
    Ok(())
}

fn address_ranges(
    version: u8,
) -> Result<(core::ops::Range<usize>, core::ops::Range<usize>), AddrError> {
    match version {
        4 => Ok((V4_SRC, V4_DST)),
        6 => Ok((V6_SRC, V6_DST)),
        other => Err(AddrError::UnknownVersion(other)),
    }
}

fn to_addr(bytes: &[u8]) -> Option<IpAddr> {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        return Some(IpAddr::V4(Ipv4Addr::from(v4)));
    }
    let v6 = <[u8; 16]>::try_from(bytes).ok()?;
    Some(IpAddr::V6(Ipv6Addr::from(v6)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(src: [u8; 4], dst: [u8; 4]) -> Vec<u8> {
        let mut p = vec![0u8; 20];
        p[0] = 0x45;
        p[12..16].copy_from_slice(&src);
        p[16..20].copy_from_slice(&dst);
        p
    }

    #[test]
    fn reads_ipv4_addresses() {
        let p = v4([10, 0, 0, 1], [10, 0, 0, 2]);
        let e = ip_endpoints(&p).unwrap();
        assert_eq!(e.src, IpAddr::from([10, 0, 0, 1]));
        assert_eq!(e.dst, IpAddr::from([10, 0, 0, 2]));
    }

    #[test]
    fn reads_ipv6_addresses() {
        let mut p = vec![0u8; 40];
        p[0] = 0x60;
        p[23] = 1;
        p[39] = 2;
        let e = ip_endpoints(&p).unwrap();
        assert_eq!(e.src, "::1".parse::<IpAddr>().unwrap());
        assert_eq!(e.dst, "::2".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn rejects_short_empty_and_unknown_versions() {
        assert_eq!(ip_endpoints(&[]), Err(AddrError::Empty));
        assert_eq!(ip_endpoints(&[0x50; 60]), Err(AddrError::UnknownVersion(5)));
        let short = &v4([1, 2, 3, 4], [5, 6, 7, 8])[..19];
        assert_eq!(
            ip_endpoints(short),
            Err(AddrError::Truncated {
                version: 4,
                len: 19,
                needed: 20
            })
        );
        let mut v6 = vec![0u8; 39];
        v6[0] = 0x60;
        assert!(matches!(
            ip_endpoints(&v6),
            Err(AddrError::Truncated { version: 6, .. })
        ));
    }

    #[test]
    fn swap_exchanges_addresses_in_place() {
        let mut p = v4([10, 0, 0, 1], [10, 0, 0, 2]);
        swap_endpoints(&mut p).unwrap();
        let e = ip_endpoints(&p).unwrap();
        assert_eq!(e.src, IpAddr::from([10, 0, 0, 2]));
        assert_eq!(e.dst, IpAddr::from([10, 0, 0, 1]));
        let mut bad = vec![0x45; 10];
        assert!(swap_endpoints(&mut bad).is_err());
        assert_eq!(bad, vec![0x45; 10], "a failed swap leaves the bytes alone");
    }
}
