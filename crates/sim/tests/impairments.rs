//! Loss, burst loss, duplication, reordering, corruption, MTU and partitions.

mod common;

use std::time::Duration;

use common::*;
use synack_core::Instant;
use synack_sim::{CaptureEvent, DropReason, GilbertElliott, LinkConfig};

/// `count` is within `sigmas` standard deviations of a Binomial(n, p) mean.
fn assert_binomial(count: u64, n: u64, p: f64, sigmas: f64, what: &str) {
    let mean = n as f64 * p;
    let sd = (n as f64 * p * (1.0 - p)).sqrt();
    let diff = (count as f64 - mean).abs();
    assert!(
        diff <= sigmas * sd,
        "{what}: {count} of {n}, expected {mean:.0} ± {:.0}",
        sigmas * sd
    );
}

#[test]
fn loss_rate_matches_probability() {
    let n = 20_000;
    let (mut net, a, b) = pair(7, LinkConfig::default().with_loss(0.1));
    send_numbered(&mut net, a, n, 64);
    net.run_for(Duration::from_secs(1));
    let s = net.stats().clone();
    assert_binomial(s.lost, u64::from(n), 0.1, 5.0, "lost");
    assert_eq!(s.delivered + s.lost, u64::from(n));
    assert_eq!(net.host(b).received().len() as u64, s.delivered);
    // Survivors arrive in order, with gaps where packets were lost.
    let seqs = received_seqs(&net, b);
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn no_loss_and_full_loss_are_exact() {
    let (mut net, a, b) = pair(7, LinkConfig::default().with_loss(1.0));
    send_numbered(&mut net, a, 100, 64);
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.stats().lost, 100);
    assert!(net.host(b).received().is_empty());

    let (mut net, a, b) = pair(7, LinkConfig::default());
    send_numbered(&mut net, a, 100, 64);
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.stats().lost, 0);
    assert_eq!(net.host(b).received().len(), 100);
}

#[test]
fn burst_loss_comes_in_runs() {
    // Mean burst of 10 packets (1/0.1); long-run loss 0.01 / 0.11 ≈ 9 %.
    let model = GilbertElliott::new(0.01, 0.1);
    let n = 50_000u32;
    let (mut net, a, b) = pair(9, LinkConfig::default().with_burst_loss(model));
    send_numbered(&mut net, a, n, 64);
    net.run_for(Duration::from_secs(1));
    let lost = net.stats().lost as f64;
    let rate = lost / f64::from(n);
    assert!(
        (rate - model.stationary_loss()).abs() < 0.03,
        "loss rate {rate:.3} vs {:.3}",
        model.stationary_loss()
    );
    // Lengths of runs of consecutive missing sequence numbers.
    let seqs = received_seqs(&net, b);
    let gaps: Vec<u32> = seqs
        .windows(2)
        .map(|w| w[1] - w[0] - 1)
        .filter(|&g| g > 0)
        .collect();
    let mean_run = gaps.iter().sum::<u32>() as f64 / gaps.len() as f64;
    assert!(
        mean_run > 5.0,
        "mean loss run {mean_run:.2}; bursts expected"
    );

    // Independent loss of the same rate gives runs of about 1.1.
    let (mut net, a, b) = pair(9, LinkConfig::default().with_loss(rate));
    send_numbered(&mut net, a, n, 64);
    net.run_for(Duration::from_secs(1));
    let seqs = received_seqs(&net, b);
    let gaps: Vec<u32> = seqs
        .windows(2)
        .map(|w| w[1] - w[0] - 1)
        .filter(|&g| g > 0)
        .collect();
    let mean_independent = gaps.iter().sum::<u32>() as f64 / gaps.len() as f64;
    assert!(
        mean_independent < 1.5,
        "independent runs {mean_independent:.2}"
    );
}

#[test]
fn duplicates_arrive_right_behind_their_original() {
    let n = 10_000u32;
    let (mut net, a, b) = pair(21, LinkConfig::default().with_duplicate(0.3));
    send_numbered(&mut net, a, n, 64);
    net.run_for(Duration::from_secs(1));
    let dups = net.stats().duplicated;
    assert_binomial(dups, u64::from(n), 0.3, 5.0, "duplicated");
    let rx = net.host(b).received();
    assert_eq!(rx.len() as u64, u64::from(n) + dups);
    assert_eq!(net.stats().delivered, rx.len() as u64);
    // Dedup of consecutive equal packets gives back exactly 0..n in order.
    let mut seqs: Vec<u32> = rx.iter().map(|r| seq_of(&r.packet)).collect();
    let repeats = seqs.windows(2).filter(|w| w[0] == w[1]).count() as u64;
    assert_eq!(repeats, dups);
    seqs.dedup();
    assert_eq!(seqs, (0..n).collect::<Vec<_>>());
}

#[test]
fn reordering_lets_later_packets_overtake() {
    // One packet per ms (1000 bytes at 8 Mbit/s); held-back ones wait 5 ms more.
    let cfg = LinkConfig::default()
        .with_bandwidth_bps(8_000_000)
        .with_reorder(0.1, Duration::from_millis(5));
    let n = 2000u32;
    let (mut net, a, b) = pair(13, cfg);
    send_numbered(&mut net, a, n, 1000);
    net.run_for(Duration::from_secs(10));
    let seqs = received_seqs(&net, b);
    assert_eq!(seqs.len(), n as usize, "reordering loses nothing");
    let mut sorted = seqs.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..n).collect::<Vec<_>>());
    let descents = seqs.windows(2).filter(|w| w[0] > w[1]).count();
    assert!(descents > 0, "nothing was reordered");
    let held = net.stats().reordered;
    assert_binomial(held, u64::from(n), 0.1, 5.0, "reordered");
    // Each held-back packet is overtaken, so it ends a descent.
    assert!(descents as u64 <= held);
}

#[test]
fn corruption_flips_exactly_one_bit() {
    let n = 500u32;
    let (mut net, a, b) = pair(17, LinkConfig::default().with_corrupt(1.0));
    net.set_capture(true);
    send_numbered(&mut net, a, n, 200);
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.stats().corrupted, u64::from(n));
    let rx = net.host(b).received();
    assert_eq!(rx.len(), n as usize);
    let mut flipped_positions = std::collections::HashSet::new();
    for (seq, r) in rx.iter().enumerate() {
        let original = packet(A, B, seq as u32, 200);
        let diff: Vec<(usize, u8)> = original
            .iter()
            .zip(&r.packet)
            .enumerate()
            .filter(|(_, (x, y))| x != y)
            .map(|(i, (x, y))| (i, x ^ y))
            .collect();
        assert_eq!(diff.len(), 1, "packet {seq}: {diff:?}");
        assert_eq!(diff[0].1.count_ones(), 1, "packet {seq}: one bit only");
        flipped_positions.insert(diff[0].0);
    }
    assert!(flipped_positions.len() > 50, "bits chosen at random");
    let corrupted = net
        .take_captures()
        .into_iter()
        .filter(|c| c.event == CaptureEvent::Corrupted)
        .count();
    assert_eq!(corrupted, n as usize);
}

#[test]
fn mtu_drops_only_bigger_packets() {
    let (mut net, a, b) = pair(1, LinkConfig::default().with_mtu(500));
    for (seq, len) in [(0u32, 400usize), (1, 500), (2, 501), (3, 1500), (4, 24)] {
        net.host_mut(a).send(packet(A, B, seq, len));
    }
    net.run_for(Duration::from_secs(1));
    assert_eq!(received_seqs(&net, b), vec![0, 1, 4]);
    assert_eq!(net.stats().mtu_drops, 2);
}

#[test]
fn the_largest_ip_packet_fits_the_transmit_buffer() {
    let (mut net, a, b) = pair(1, LinkConfig::default().with_mtu(65_535));
    net.host_mut(a).send(packet(A, B, 1, 65_535));
    net.host_mut(a).send(packet(A, B, 2, 65_536));
    net.run_for(Duration::from_secs(1));
    assert_eq!(received_seqs(&net, b), vec![1]);
    assert_eq!(net.host(b).received()[0].packet.len(), 65_535);
    assert_eq!(net.stats().mtu_drops, 1);
}

#[test]
fn partition_drops_both_ways_and_healing_restores() {
    let (mut net, a, b) = pair(
        1,
        LinkConfig::default().with_delay(Duration::from_millis(1)),
    );
    net.partition(a, b);
    assert!(!net.link_config(a, b).unwrap().up);
    assert!(!net.link_config(b, a).unwrap().up);
    net.host_mut(a).send(packet(A, B, 1, 64));
    net.host_mut(b).send(packet(B, A, 2, 64));
    net.run_for(Duration::from_secs(1));
    assert!(net.host(a).received().is_empty());
    assert!(net.host(b).received().is_empty());
    assert_eq!(net.stats().link_down, 2);

    net.heal(a, b);
    assert_eq!(
        net.link_config(a, b).unwrap().delay,
        Duration::from_millis(1),
        "healing keeps other settings"
    );
    net.host_mut(a).send(packet(A, B, 3, 64));
    net.run_for(Duration::from_secs(1));
    assert_eq!(received_seqs(&net, b), vec![3]);
}

#[test]
fn partition_cuts_packets_in_flight() {
    let (mut net, a, b) = pair(
        1,
        LinkConfig::default().with_delay(Duration::from_millis(10)),
    );
    net.set_capture(true);
    net.host_mut(a).send(packet(A, B, 1, 64));
    net.run_until(Instant::from_millis(5));
    let mut down = net.link_config(a, b).unwrap().clone();
    down.up = false;
    net.set_link(a, b, down);
    net.run_for(Duration::from_secs(1));
    assert!(net.host(b).received().is_empty());
    assert_eq!(net.stats().link_down, 1);
    let drop = net
        .take_captures()
        .into_iter()
        .find(|c| matches!(c.event, CaptureEvent::Dropped(_)))
        .expect("a drop was captured");
    assert_eq!(drop.event, CaptureEvent::Dropped(DropReason::LinkDown));
    assert_eq!(
        drop.time,
        Instant::from_millis(10),
        "dropped when it would have arrived"
    );
}

#[test]
fn one_way_partition_leaves_the_other_direction() {
    let (mut net, a, b) = pair(1, LinkConfig::default());
    net.set_link(a, b, LinkConfig::default().with_up(false));
    net.host_mut(a).send(packet(A, B, 1, 64));
    net.host_mut(b).send(packet(B, A, 2, 64));
    net.run_for(Duration::from_secs(1));
    assert!(net.host(b).received().is_empty());
    assert_eq!(received_seqs(&net, a), vec![2]);
}

#[test]
fn impairments_change_mid_run() {
    let (mut net, a, b) = pair(1, LinkConfig::default());
    send_numbered(&mut net, a, 10, 64);
    net.run_for(Duration::from_millis(1));
    net.set_link(a, b, LinkConfig::default().with_loss(1.0));
    send_numbered(&mut net, a, 10, 64);
    net.run_for(Duration::from_millis(1));
    net.set_link(
        a,
        b,
        LinkConfig::default().with_delay(Duration::from_millis(3)),
    );
    send_numbered(&mut net, a, 10, 64);
    net.run_for(Duration::from_secs(1));
    let rx = net.host(b).received();
    assert_eq!(rx.len(), 20);
    assert_eq!(net.stats().lost, 10);
    assert_eq!(rx[10].time, Instant::from_millis(5));
}
