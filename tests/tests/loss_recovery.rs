//! Loss recovery end to end on the simulator: SACK scoreboard recovery (RFC 6675) with RACK
//! loss detection and tail loss probes (RFC 8985), PRR (RFC 6937), D-SACK (RFC 2883), and the
//! duplicate-ACK path for peers without SACK (RFC 5681 §3.2, RFC 6582, RFC 3042).
//!
//! Every run is deterministic (seeded link); the assertions are about what the sender did
//! (timeouts, fast recoveries, probes) and that the stream arrived intact.

use std::time::Duration;
use synack_core::{Config, Stats};
use synack_sim::LinkConfig;
use synack_tests::apps::{Client, Server};
use synack_tests::{pattern, Pair};

struct Run {
    sender: Stats,
    receiver: Stats,
    /// Virtual time until the receiver had every byte.
    elapsed: Duration,
}

/// Sends `bytes` from a to b over `link` and checks that every byte arrived in order.
fn transfer(config: Config, link: LinkConfig, bytes: usize, seed: u64) -> Run {
    let mut p = Pair::new(config.clone(), config, link, seed);
    let data = pattern(bytes, seed);
    let b = p.b_addr(80);
    let mut server = Server::new(b, 1);
    server.keep_received = true;
    p.net.host_mut(p.b).app = Some(Box::new(server));
    p.net.host_mut(p.a).app = Some(Box::new(Client::new(b, data.clone())));
    let start = p.net.now();
    assert!(
        p.run_until_done(Duration::from_secs(3600)),
        "transfer did not finish"
    );
    let server: &Server = p.net.host(p.b).app();
    let got = server
        .conns
        .first()
        .map(|c| c.received.clone())
        .unwrap_or_default();
    assert!(
        got == data,
        "stream differs: {} of {bytes} bytes",
        got.len()
    );
    Run {
        elapsed: p.net.now().saturating_duration_since(start),
        sender: p.sa().stats().clone(),
        receiver: p.sb().stats().clone(),
    }
}

fn lossy_link(loss: f64) -> LinkConfig {
    LinkConfig::default()
        .with_delay(Duration::from_millis(5))
        .with_bandwidth_bps(100_000_000)
        .with_loss(loss)
}

#[test]
fn one_percent_loss_is_repaired_without_timeouts() {
    let run = transfer(Config::default(), lossy_link(0.01), 4 << 20, 1);
    let s = &run.sender;
    eprintln!(
        "1% loss, 4 MiB: {:?}, {} retransmitted, {} recoveries, {} timeouts",
        run.elapsed, s.retransmitted_segments, s.fast_retransmits, s.rto_timeouts
    );
    // About 1% of ~2,900 segments were lost: SACK recovery and RACK found them.
    assert!(s.fast_retransmits >= 5, "{s:?}");
    assert!(s.retransmitted_segments >= 20, "{s:?}");
    // RFC 8985 §1: with RACK-TLP, timeouts are for when everything else failed. Losing a
    // retransmission can still need one, so allow a couple across the whole transfer.
    assert!(s.rto_timeouts <= 2, "{} timeouts: {s:?}", s.rto_timeouts);
}

#[test]
fn sack_recovery_beats_the_duplicate_ack_path() {
    let link = || lossy_link(0.02);
    let sack = transfer(Config::default(), link(), 2 << 20, 2);
    let no_sack = transfer(
        Config {
            sack: false,
            ..Config::default()
        },
        link(),
        2 << 20,
        2,
    );
    eprintln!(
        "2% loss, 2 MiB: SACK {:?} ({} timeouts), no SACK {:?} ({} timeouts)",
        sack.elapsed, sack.sender.rto_timeouts, no_sack.elapsed, no_sack.sender.rto_timeouts
    );
    // Without SACK only one hole per round trip is repaired (RFC 6582) and more ends in
    // timeouts; the scoreboard repairs every hole it sees.
    assert!(sack.sender.rto_timeouts <= no_sack.sender.rto_timeouts);
    assert!(sack.elapsed < no_sack.elapsed);
    // The no-SACK path still recovers by fast retransmit (three duplicate ACKs), not only by
    // timeouts.
    assert!(no_sack.sender.fast_retransmits > 0, "{:?}", no_sack.sender);
}

#[test]
fn reordering_draws_dsacks_and_no_data_is_lost() {
    // Every tenth packet held back 3 ms: a reordering the sender must not take for loss
    // forever. D-SACKs tell it which retransmissions were spurious (RFC 2883 §5).
    let link = LinkConfig::default()
        .with_delay(Duration::from_millis(5))
        .with_bandwidth_bps(100_000_000)
        .with_reorder(0.1, Duration::from_millis(3));
    let run = transfer(Config::default(), link, 2 << 20, 3);
    eprintln!(
        "reordering: {:?}, {} retransmitted, {} recoveries",
        run.elapsed, run.sender.retransmitted_segments, run.sender.fast_retransmits
    );
    assert_eq!(run.sender.rto_timeouts, 0, "{:?}", run.sender);
    // Nothing was lost, so every retransmission was spurious and arrived as a duplicate (the
    // receiver counts it out of window and answers with a D-SACK). RACK's reordering window
    // (RFC 8985 §6.2 step 4), widened by those D-SACKs, keeps them rare: under 1% of segments.
    let s = &run.sender;
    assert_eq!(
        run.receiver.drops_for("tcp_out_of_window"),
        s.retransmitted_segments,
        "{:?}",
        run.receiver
    );
    assert!(s.retransmitted_segments * 100 < s.segments_out, "{s:?}");
}
