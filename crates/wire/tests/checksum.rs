//! The fast checksum against a byte-by-byte RFC 1071 reference.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use synack_wire::checksum::{self, fold, internet_checksum, pseudo_header_sum, sum};

/// RFC 1071 §4.1, word by word, no tricks.
fn naive_sum(data: &[u8]) -> u16 {
    let mut acc: u32 = 0;
    let mut i = 0;
    while i < data.len() {
        let hi = u32::from(data[i]);
        let lo = data.get(i + 1).map_or(0, |&b| u32::from(b));
        acc += (hi << 8) | lo;
        while acc > 0xFFFF {
            acc = (acc & 0xFFFF) + (acc >> 16);
        }
        i += 2;
    }
    acc as u16
}

#[test]
fn rfc1071_example() {
    // RFC 1071 §3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2.
    let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
    assert_eq!(fold(sum(&data)), 0xddf2);
    assert_eq!(internet_checksum(&data), !0xddf2);
}

#[test]
fn known_ipv4_header() {
    // A classic example header whose checksum field is b861.
    let mut header = [
        0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8, 0x00,
        0x01, 0xc0, 0xa8, 0x00, 0xc7,
    ];
    assert_eq!(internet_checksum(&header), 0xb861);
    header[10] = 0xb8;
    header[11] = 0x61;
    assert_eq!(internet_checksum(&header), 0);
}

#[test]
fn all_ones_does_not_overflow() {
    let data = vec![0xFFu8; 1 << 20];
    assert_eq!(fold(sum(&data)), naive_sum(&data));
}

#[test]
fn pseudo_header_v4_layout() {
    let src = Ipv4Addr::new(10, 0, 0, 1);
    let dst = Ipv4Addr::new(10, 0, 0, 2);
    let mut manual = Vec::new();
    manual.extend_from_slice(&src.octets());
    manual.extend_from_slice(&dst.octets());
    manual.extend_from_slice(&[0, 6, 0x01, 0x2c]);
    assert_eq!(
        fold(pseudo_header_sum(src.into(), dst.into(), 6, 300)),
        naive_sum(&manual)
    );
}

#[test]
fn pseudo_header_v6_layout() {
    let src: Ipv6Addr = "fd00::1".parse().unwrap();
    let dst: Ipv6Addr = "fd00::2:3".parse().unwrap();
    let mut manual = Vec::new();
    manual.extend_from_slice(&src.octets());
    manual.extend_from_slice(&dst.octets());
    manual.extend_from_slice(&70_000u32.to_be_bytes());
    manual.extend_from_slice(&[0, 0, 0, 58]);
    assert_eq!(
        fold(pseudo_header_sum(
            IpAddr::V6(src),
            IpAddr::V6(dst),
            58,
            70_000
        )),
        naive_sum(&manual)
    );
}

proptest! {
    #[test]
    fn matches_naive(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        prop_assert_eq!(fold(sum(&data)), naive_sum(&data));
        prop_assert_eq!(internet_checksum(&data), !naive_sum(&data));
    }

    #[test]
    fn split_sums_combine(data in proptest::collection::vec(any::<u8>(), 0..512), cut in 0usize..256) {
        // Splits at an even offset may be summed separately.
        let cut = (cut * 2).min(data.len() & !1);
        let (a, b) = data.split_at(cut);
        prop_assert_eq!(fold(checksum::combine(sum(a), sum(b))), naive_sum(&data));
        prop_assert_eq!(fold(sum(a) + sum(b)), naive_sum(&data));
    }
}
