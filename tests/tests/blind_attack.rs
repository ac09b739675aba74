//! RFC 5961: an off-path attacker who knows the 4-tuple but not the sequence numbers cannot reset,
//! desynchronize or corrupt a connection, and the challenge ACKs its guesses provoke stay within
//! the stack-wide limit of RFC 5961 §7.

mod scenarios_util;

use scenarios_util::{Flow, Forge, World};
use std::time::Duration;
use synack_core::{Config, IsnMode, Stats};
use synack_sim::LinkConfig;
use synack_wire::TcpFlags;

/// The attacker's guesses, deterministic so a failure replays.
struct Guesses(synack_tests::SplitMix64);

impl Guesses {
    fn next(&mut self) -> u64 {
        self.0.next_u64()
    }
    fn u32(&mut self) -> u32 {
        (self.next() >> 32) as u32
    }
}

/// RFC 6528 ISNs, no timestamps (so a forged segment needs no TSval to pass PAWS), and 64 KiB
/// buffers: the window a random guess must hit is 2^16 of 2^32.
fn blind_config() -> Config {
    Config {
        isn: IsnMode::Rfc6528,
        timestamps: false,
        send_buffer: 64 << 10,
        recv_buffer: 64 << 10,
        ..Config::default()
    }
}

fn world() -> World {
    let mut w = World::new(
        blind_config(),
        blind_config(),
        LinkConfig::default().with_delay(Duration::from_millis(10)),
    );
    // 100,000 forged packets: keep no captures.
    w.net.set_capture(false);
    w
}

/// Forged segments answered with a challenge ACK (or withheld by the limit).
fn challenged(s: &Stats) -> u64 {
    [
        "tcp_rst_challenged",
        "tcp_syn_challenged",
        "tcp_ack_unsent_data",
        "tcp_ack_too_old",
    ]
    .iter()
    .map(|r| s.drops_for(r))
    .sum()
}

#[test]
fn hundred_thousand_blind_guesses_neither_reset_nor_corrupt_a_transfer() {
    const FORGED: usize = 100_000;
    const BATCH: usize = 1000;
    const BATCH_GAP: Duration = Duration::from_millis(50);
    let mut w = world();
    let (c, s) = w.establish();
    let (a, b) = (w.a(), w.b());
    let (caddr, saddr) = (w.caddr(), w.saddr());
    let limit = u64::from(w.stack(b).config().challenge_ack_limit);
    assert_eq!(
        limit, 1000,
        "the default is Linux's tcp_challenge_ack_limit"
    );

    let data = synack_tests::pattern(3 << 20, 7);
    let mut flows = [Flow::new((a, c), (b, s), data.clone())];
    let mut rng = Guesses(synack_tests::SplitMix64(0x5EED));
    let junk = vec![0xEEu8; 100];
    let attack_start = w.now();
    let mut sent_by_batch = Vec::new();
    for batch in 0..FORGED / BATCH {
        for i in 0..BATCH {
            let seq = rng.u32();
            let ack = rng.u32();
            let forged = Forge::new(caddr, saddr, seq);
            let forged = match (batch * BATCH + i) % 3 {
                // RST anywhere in the sequence space, with a random ACK half the time.
                0 if i % 2 == 0 => forged.flags(TcpFlags::RST),
                0 => forged.ack(ack).flags(TcpFlags::RST),
                // SYN (RFC 5961 §4): always challenged, never obeyed.
                1 => forged.ack(ack).flags(TcpFlags::SYN),
                // Data with a guessed ACK (RFC 5961 §5).
                _ => forged.ack(ack).payload(&junk),
            };
            w.inject(a, forged.build());
        }
        // Let the victim process the batch and the transfer go on.
        if !flows[0].complete() {
            w.transfer(&mut flows, BATCH_GAP);
        }
        let until = attack_start + BATCH_GAP * (batch as u32 + 1);
        if w.now() < until {
            w.run_to(until);
        }
        sent_by_batch.push(w.stack(b).stats().challenge_acks_sent);
    }
    let attack_secs = w
        .now()
        .saturating_duration_since(attack_start)
        .as_secs_f64();
    assert!(
        w.transfer(&mut flows, Duration::from_secs(120)),
        "transfer did not finish: {} of {} bytes",
        flows[0].received.len(),
        data.len()
    );

    // The connection survived and the stream is byte-identical.
    assert_eq!(w.closed_reason(a, c), None, "sender connection closed");
    assert_eq!(w.closed_reason(b, s), None, "receiver connection closed");
    assert_eq!(flows[0].received.len(), data.len());
    assert!(flows[0].received == data, "delivered stream differs");

    // Every SYN, every in-window RST and every bad ACK met the challenge-ACK path.
    let st = w.stack(b).stats().clone();
    let syns = FORGED as u64 / 3;
    assert!(challenged(&st) >= syns, "{st:?}");
    assert_eq!(
        st.challenge_acks_sent + st.challenge_acks_suppressed,
        challenged(&st),
        "each challenged segment is either answered or suppressed"
    );
    let info = w.stack(b).info(s).expect("live");
    assert_eq!(info.counters.challenge_acks, st.challenge_acks_sent);

    // RFC 5961 §7: at most `limit` per one-second window. The attack spans `attack_secs`, so
    // at most ceil(attack_secs) + 1 windows opened; each also grants at least limit/2.
    let windows = attack_secs.ceil() as u64 + 1;
    assert!(
        st.challenge_acks_sent <= limit * windows,
        "{} challenge ACKs in {attack_secs} s",
        st.challenge_acks_sent
    );
    assert!(
        st.challenge_acks_sent >= limit / 2 * attack_secs.floor() as u64,
        "the limit must not silence challenge ACKs altogether: {}",
        st.challenge_acks_sent
    );
    assert!(st.challenge_acks_suppressed > 0);
    // Any 1 s stretch (20 batches) overlaps at most two budget windows.
    let per_second = 1000 / BATCH_GAP.as_millis() as usize;
    for (i, pair) in sent_by_batch.windows(per_second + 1).enumerate() {
        let burst = pair[per_second] - pair[0];
        assert!(
            burst <= 2 * limit,
            "batches {i}..: {burst} challenge ACKs in 1 s"
        );
    }
}

#[test]
fn in_window_data_with_an_unacceptable_ack_is_dropped_and_challenged() {
    let mut w = world();
    let (_c, s) = w.establish();
    let (a, b) = (w.a(), w.b());
    let (caddr, saddr) = (w.caddr(), w.saddr());
    let (snd_nxt, rcv_nxt) = w.seqs(b, s);
    let window = w.stack(b).info(s).expect("live").snd_wnd;
    assert!(
        window < 1 << 20,
        "MAX.SND.WND stays under 1 MiB here: {window}"
    );
    let data_at = |ack: u32, text: &[u8]| Forge::new(caddr, saddr, rcv_nxt).ack(ack).payload(text);

    // RFC 5961 §5.2: SEG.ACK > SND.NXT (nothing of ours is unacknowledged).
    w.inject(a, data_at(snd_nxt.wrapping_add(1000), b"EVIL").build());
    // SEG.ACK < SND.UNA - MAX.SND.WND.
    w.inject(a, data_at(snd_nxt.wrapping_sub(1 << 20), b"EVIL").build());
    w.run_for(Duration::from_millis(100));
    let st = w.stack(b).stats().clone();
    assert_eq!(st.drops_for("tcp_ack_unsent_data"), 1, "{st:?}");
    assert_eq!(st.drops_for("tcp_ack_too_old"), 1, "{st:?}");
    assert_eq!(st.challenge_acks_sent, 2);
    assert_eq!(w.seqs(b, s).1, rcv_nxt, "RCV.NXT did not move");

    // The same text with an acceptable ACK is taken: the drops were the ACK's doing.
    w.inject(a, data_at(snd_nxt, b"GOOD").build());
    w.run_for(Duration::from_millis(100));
    assert_eq!(w.read_all(b, s).0, b"GOOD");
    assert_eq!(w.stack(b).stats().challenge_acks_sent, 2);
}
