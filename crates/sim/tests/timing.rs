//! Delay, bandwidth, jitter and queue-limit timing, checked to the microsecond.

mod common;

use std::time::Duration;

use common::*;
use synack_core::Instant;
use synack_sim::{LinkConfig, RawNode};

fn arrival_times(net: &synack_sim::Network<RawNode>, host: synack_sim::HostId) -> Vec<Instant> {
    net.host(host).received().iter().map(|r| r.time).collect()
}

#[test]
fn delay_is_added_exactly_and_order_kept() {
    let (mut net, a, b) = pair(
        1,
        LinkConfig::default().with_delay(Duration::from_millis(10)),
    );
    send_numbered(&mut net, a, 3, 100);
    net.run_for(Duration::from_secs(1));
    assert_eq!(arrival_times(&net, b), vec![Instant::from_millis(10); 3]);
    assert_eq!(received_seqs(&net, b), vec![0, 1, 2]);
    assert_eq!(net.now(), Instant::from_secs(1));
}

#[test]
fn bandwidth_serializes_packets_back_to_back() {
    // 8 Mbit/s: a 1000-byte packet takes 1 ms; then 5 ms of propagation.
    let cfg = LinkConfig::default()
        .with_delay(Duration::from_millis(5))
        .with_bandwidth_bps(8_000_000);
    let (mut net, a, b) = pair(1, cfg);
    send_numbered(&mut net, a, 5, 1000);
    net.run_for(Duration::from_secs(1));
    let expected: Vec<Instant> = (6..=10).map(Instant::from_millis).collect();
    assert_eq!(arrival_times(&net, b), expected);
}

#[test]
fn an_idle_link_sends_at_once_after_a_busy_period() {
    let cfg = LinkConfig::default().with_bandwidth_bps(8_000_000);
    let (mut net, a, b) = pair(1, cfg);
    send_numbered(&mut net, a, 2, 1000);
    net.run_until(Instant::from_millis(50));
    net.host_mut(a).send(packet(A, B, 9, 500));
    net.run_for(Duration::from_secs(1));
    assert_eq!(
        arrival_times(&net, b),
        vec![
            Instant::from_millis(1),
            Instant::from_millis(2),
            Instant::from_micros(50_500)
        ]
    );
}

#[test]
fn small_packets_at_high_rate_keep_the_exact_rate() {
    // 54 bytes at 1 Gbit/s = 0.432 µs each: 10_000 of them end at 4320 µs,
    // not 10_000 µs as per-packet rounding up would give.
    let (mut net, a, b) = pair(1, LinkConfig::default().with_bandwidth_bps(1_000_000_000));
    send_numbered(&mut net, a, 10_000, 54);
    net.run_for(Duration::from_secs(1));
    let times = arrival_times(&net, b);
    assert_eq!(times.len(), 10_000);
    assert_eq!(times.last().copied(), Some(Instant::from_micros(4320)));
}

#[test]
fn asymmetric_links_time_each_direction_separately() {
    let mut net = synack_sim::Network::new(3);
    let a = net.add_host(RawNode::new(), &[A.into()]);
    let b = net.add_host(RawNode::echoing(), &[B.into()]);
    net.link_asymmetric(
        a,
        b,
        LinkConfig::default().with_delay(Duration::from_millis(3)),
        LinkConfig::default().with_delay(Duration::from_millis(40)),
    );
    net.host_mut(a).send(packet(A, B, 1, 64));
    net.run_for(Duration::from_secs(1));
    assert_eq!(arrival_times(&net, b), vec![Instant::from_millis(3)]);
    assert_eq!(arrival_times(&net, a), vec![Instant::from_millis(43)]);
    let echoed = &net.host(a).received()[0].packet;
    assert_eq!(&echoed[12..16], &B.octets(), "echo swapped the source");
}

#[test]
fn jitter_stays_within_bounds_and_keeps_fifo() {
    let cfg = LinkConfig::default()
        .with_delay(Duration::from_millis(10))
        .with_jitter(Duration::from_millis(5));
    let (mut net, a, b) = pair(11, cfg);
    // One packet every 100 µs, injected at successive instants.
    for seq in 0..2000u32 {
        net.run_until(Instant::from_micros(u64::from(seq) * 100));
        net.inject(a, packet(A, B, seq, 64));
    }
    net.run_for(Duration::from_secs(1));
    let rx = net.host(b).received();
    assert_eq!(rx.len(), 2000);
    let mut spread = std::collections::BTreeSet::new();
    for (i, r) in rx.iter().enumerate() {
        let sent = Instant::from_micros(i as u64 * 100);
        assert_eq!(seq_of(&r.packet), i as u32, "jitter must not reorder");
        let extra = r.time - sent;
        assert!(
            extra >= Duration::from_millis(10),
            "packet {i} early: {extra:?}"
        );
        spread.insert(extra.as_micros());
    }
    // Jitter really varies the delay (FIFO can stretch it past 15 ms, but the
    // first packet's delay is a fresh draw in 10..=15 ms).
    assert!(spread.len() > 100, "only {} distinct delays", spread.len());
    let first = rx[0].time - Instant::ZERO;
    assert!(first <= Duration::from_millis(15));
}

#[test]
fn queue_limit_tail_drops_what_would_wait_beyond_it() {
    // 8000 bit/s = 1 byte per ms: a 100-byte packet holds the link 100 ms.
    let cfg = LinkConfig::default()
        .with_bandwidth_bps(8_000)
        .with_queue_limit_bytes(300);
    let (mut net, a, b) = pair(1, cfg);
    send_numbered(&mut net, a, 10, 100);
    net.run_for(Duration::from_secs(2));
    // One on the wire, three (300 bytes) waiting, six dropped at the tail.
    assert_eq!(received_seqs(&net, b), vec![0, 1, 2, 3]);
    assert_eq!(net.stats().queue_drops, 6);
    let expected: Vec<Instant> = (1..=4).map(|i| Instant::from_millis(i * 100)).collect();
    assert_eq!(arrival_times(&net, b), expected);

    // Once the queue has drained, the link accepts a full burst again.
    send_numbered(&mut net, a, 5, 100);
    net.run_for(Duration::from_secs(2));
    assert_eq!(net.host(b).received().len(), 8);
    assert_eq!(net.stats().queue_drops, 7);
}

#[test]
fn queue_frees_space_as_packets_leave() {
    let cfg = LinkConfig::default()
        .with_bandwidth_bps(8_000)
        .with_queue_limit_bytes(100);
    let (mut net, a, b) = pair(1, cfg);
    send_numbered(&mut net, a, 3, 100); // 0 on wire, 1 waits, 2 dropped
    net.run_until(Instant::from_millis(100)); // 1 now on the wire, queue empty
    net.host_mut(a).send(packet(A, B, 7, 100));
    net.run_for(Duration::from_secs(1));
    assert_eq!(received_seqs(&net, b), vec![0, 1, 7]);
    assert_eq!(net.stats().queue_drops, 1);
}

#[test]
fn echo_round_trip_is_twice_the_delay() {
    let mut net = synack_sim::Network::new(5);
    let a = net.add_host(RawNode::new(), &[A.into()]);
    let b = net.add_host(RawNode::echoing(), &[B.into()]);
    net.link(
        a,
        b,
        LinkConfig::default().with_delay(Duration::from_micros(12_345)),
    );
    net.run_until(Instant::from_millis(100));
    net.host_mut(a).send(packet(A, B, 1, 64));
    net.run_for(Duration::from_secs(1));
    assert_eq!(
        arrival_times(&net, a),
        vec![Instant::from_micros(100_000 + 2 * 12_345)]
    );
}

#[test]
fn idle_time_is_skipped_in_one_step() {
    let (mut net, a, b) = pair(
        1,
        LinkConfig::default().with_delay(Duration::from_secs(3600)),
    );
    send_numbered(&mut net, a, 1, 64);
    assert_eq!(net.next_event_time(), Some(Instant::from_secs(3600)));
    assert!(net.step(), "the delivery is pending");
    assert_eq!(net.now(), Instant::from_secs(3600));
    assert_eq!(net.host(b).received().len(), 1);
    assert!(!net.step(), "nothing left");
}

#[test]
fn each_direction_keeps_its_own_counters() {
    let cfg = LinkConfig::default()
        .with_bandwidth_bps(8_000)
        .with_queue_limit_bytes(100);
    let (mut net, a, b) = pair(1, cfg);
    send_numbered(&mut net, a, 5, 100); // 1 on the wire, 1 waiting, 3 dropped
    net.host_mut(b).send(packet(B, A, 9, 100));
    net.host_mut(b).send(packet(B, C, 9, 100)); // no route: on no link
    net.run_for(Duration::from_secs(5));
    let ab = net.link_stats(a, b).expect("linked").clone();
    let ba = net.link_stats(b, a).expect("linked").clone();
    assert_eq!((ab.sent, ab.delivered, ab.queue_drops), (5, 2, 3));
    assert_eq!((ba.sent, ba.delivered, ba.queue_drops), (1, 1, 0));
    assert_eq!(ab.delivered_bytes, 200);
    let total = net.stats();
    assert_eq!(total.delivered, ab.delivered + ba.delivered);
    assert_eq!((total.sent, total.no_route), (7, 1));
    assert_eq!(net.link_stats(a, a), None);
}
