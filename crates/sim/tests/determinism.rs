//! Same seed and inputs replay exactly; another seed does not; capture content.

mod common;

use std::time::Duration;

use common::*;
use synack_core::Instant;
use synack_sim::{Capture, CaptureEvent, DropReason, GilbertElliott, LinkConfig, Network, RawNode};

fn impaired() -> LinkConfig {
    LinkConfig::default()
        .with_delay(Duration::from_millis(5))
        .with_jitter(Duration::from_millis(2))
        .with_bandwidth_bps(10_000_000)
        .with_queue_limit_bytes(20_000)
        .with_mtu(1400)
        .with_loss(0.05)
        .with_burst_loss(GilbertElliott::new(0.01, 0.3))
        .with_duplicate(0.05)
        .with_reorder(0.05, Duration::from_millis(3))
        .with_corrupt(0.05)
}

/// A ping-pong workload over impaired links; returns everything captured.
fn run(seed: u64) -> (Vec<Capture>, synack_sim::NetStats) {
    let mut net = Network::new(seed);
    net.set_capture(true);
    let a = net.add_host(RawNode::new(), &[A.into()]);
    let b = net.add_host(RawNode::echoing(), &[B.into()]);
    let c = net.add_host(RawNode::echoing(), &[C.into()]);
    net.link(a, b, impaired());
    net.link_asymmetric(a, c, impaired(), impaired().with_loss(0.2));
    for i in 0..400u32 {
        let at = Instant::from_micros(u64::from(i) * 700);
        let len = 64 + (i as usize * 37) % 1500; // some over the MTU
        let dst = if i % 3 == 0 { C } else { B };
        net.host_mut(a).send_at(at, packet(A, dst, i, len));
    }
    net.run_for(Duration::from_secs(5));
    (net.take_captures(), net.stats().clone())
}

#[test]
fn same_seed_same_captures() {
    let (first, first_stats) = run(1234);
    let (second, second_stats) = run(1234);
    assert!(
        first.len() > 1000,
        "a meaningful run: {} events",
        first.len()
    );
    assert_eq!(first_stats, second_stats);
    assert_eq!(first, second);
}

#[test]
fn another_seed_differs() {
    let (first, _) = run(1234);
    let (other, _) = run(4321);
    assert_ne!(first, other);
}

#[test]
fn every_impairment_shows_up_in_the_capture() {
    let (caps, stats) = run(99);
    let count = |e: CaptureEvent| caps.iter().filter(|c| c.event == e).count() as u64;
    assert_eq!(count(CaptureEvent::Sent), stats.sent);
    assert_eq!(count(CaptureEvent::Delivered), stats.delivered);
    assert_eq!(count(CaptureEvent::Duplicated), stats.duplicated);
    assert_eq!(count(CaptureEvent::Corrupted), stats.corrupted);
    assert_eq!(count(CaptureEvent::Reordered), stats.reordered);
    assert_eq!(count(CaptureEvent::Dropped(DropReason::Lost)), stats.lost);
    assert_eq!(
        count(CaptureEvent::Dropped(DropReason::MtuExceeded)),
        stats.mtu_drops
    );
    for (what, n) in [
        ("delivered", stats.delivered),
        ("duplicated", stats.duplicated),
        ("corrupted", stats.corrupted),
        ("reordered", stats.reordered),
        ("lost", stats.lost),
        ("mtu_drops", stats.mtu_drops),
    ] {
        assert!(n > 0, "{what} never happened");
    }
    // Conservation: every sent packet is dropped or delivered; copies add deliveries.
    assert_eq!(
        stats.sent + stats.duplicated,
        stats.delivered + stats.dropped()
    );
    // Captures are in time order.
    assert!(caps.windows(2).all(|w| w[0].time <= w[1].time));
}

#[test]
fn capture_is_off_by_default_and_take_empties_it() {
    let (mut net, a, _) = pair(1, LinkConfig::default());
    send_numbered(&mut net, a, 10, 64);
    net.run_for(Duration::from_secs(1));
    assert!(net.take_captures().is_empty());
    assert_eq!(net.stats().delivered, 10);

    net.set_capture(true);
    send_numbered(&mut net, a, 1, 64);
    net.run_for(Duration::from_secs(1));
    let caps = net.take_captures();
    let events: Vec<CaptureEvent> = caps.iter().map(|c| c.event).collect();
    assert_eq!(events, vec![CaptureEvent::Sent, CaptureEvent::Delivered]);
    assert_eq!(caps[1].packet, packet(A, B, 0, 64));
    assert!(net.take_captures().is_empty());
}
