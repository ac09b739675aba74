//! RFC 6528 initial sequence numbers, read off the SYNs the stack sends: unrelated across
//! 4-tuples, advancing with a 4 µs clock for one 4-tuple (RFC 9293 §3.4.1), and keyed by the seed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use synack_core::{Config, Instant, IsnMode, Stack};
use synack_wire::ip::parse_ip;
use synack_wire::TcpRepr;

const LOCAL: &str = "10.0.0.1";

fn stack(seed: u8) -> Stack {
    let config = Config::default();
    assert_eq!(config.isn, IsnMode::Rfc6528, "RFC 6528 is the default");
    let mut s = Stack::new(Arc::new(config), [seed; 32]);
    s.add_address(LOCAL.parse().unwrap());
    s
}

/// The ISN of the SYN `stack` sends when connecting `local` to `remote` at `now`.
fn isn(stack: &mut Stack, now: Instant, local: SocketAddr, remote: SocketAddr) -> u32 {
    stack.connect(now, Some(local), remote).expect("connect");
    let mut buf = [0u8; 1500];
    let t = stack.poll_transmit(now, &mut buf).expect("a SYN");
    let ip = parse_ip(&buf[..t.len]).expect("ip");
    let syn = TcpRepr::parse_unverified(ip.payload).expect("tcp");
    assert!(syn.flags.syn() && !syn.flags.ack());
    syn.seq.0
}

fn local(port: u16) -> SocketAddr {
    SocketAddr::new(LOCAL.parse().unwrap(), port)
}

#[test]
fn different_tuples_get_unrelated_isns() {
    let mut s = stack(1);
    let now = Instant::ZERO + Duration::from_secs(1);
    let remote: SocketAddr = "10.0.0.2:80".parse().unwrap();
    // 1000 tuples differing only in the local port, all at the same instant.
    let isns: Vec<u32> = (0..1000u16)
        .map(|i| isn(&mut s, now, local(40_000 + i), remote))
        .collect();
    let mut distinct = isns.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), isns.len(), "no two tuples share an ISN");
    // Differences between neighbouring tuples spread over the whole space: each of 16 buckets of
    // 2^28 gets close to 999/16 ≈ 62 of them (a constant or small step would fill one bucket).
    let mut buckets = [0u32; 16];
    for pair in isns.windows(2) {
        buckets[(pair[1].wrapping_sub(pair[0]) >> 28) as usize] += 1;
    }
    for (i, n) in buckets.iter().enumerate() {
        assert!(
            (25..=110).contains(n),
            "bucket {i}: {n} of 999 ({buckets:?})"
        );
    }
    // Every bit of the ISN flips for about half the tuples (no bit tied to the port).
    for bit in 0..32 {
        let ones = isns.iter().filter(|v| (*v >> bit) & 1 == 1).count();
        assert!((400..=600).contains(&ones), "bit {bit}: {ones} of 1000");
    }
}

#[test]
fn one_tuple_advances_with_a_4_microsecond_clock() {
    let (l, r) = (local(40_000), "10.0.0.2:80".parse().unwrap());
    let t0 = Instant::ZERO + Duration::from_secs(5);
    let base = isn(&mut stack(1), t0, l, r);
    // A fresh stack with the same seed stands for the same host reconnecting later.
    for micros in [4u64, 40, 1_000, 1_000_000, 60_000_000, 3_600_000_000] {
        let later = isn(&mut stack(1), t0 + Duration::from_micros(micros), l, r);
        assert_eq!(
            later.wrapping_sub(base) as u64,
            (micros / 4) % (1 << 32),
            "after {micros} µs"
        );
    }
    // Within one tick the ISN stays put.
    assert_eq!(
        isn(&mut stack(1), t0 + Duration::from_micros(3), l, r),
        base
    );
    // The 32-bit clock wraps after 2^32 ticks (about 4.77 hours).
    let wrap = Duration::from_micros(4 << 32);
    assert_eq!(isn(&mut stack(1), t0 + wrap, l, r), base);
}

#[test]
fn different_seeds_give_different_isns() {
    let (l, r) = (local(40_000), "10.0.0.2:80".parse().unwrap());
    let now = Instant::ZERO + Duration::from_secs(1);
    let mut isns: Vec<u32> = (1..=50u8)
        .map(|seed| isn(&mut stack(seed), now, l, r))
        .collect();
    isns.sort_unstable();
    isns.dedup();
    assert_eq!(
        isns.len(),
        50,
        "50 seeds, 50 different ISNs for one tuple at one instant"
    );
}
