//! Scenario tests: data flow — zero window and persist (RFC 9293 §3.8.6.1), sequence-number
//! wrap-around (RFC 9293 §3.4), Nagle (RFC 9293 §3.7.4) and delayed ACKs (RFC 9293 §3.8.6.3),
//! out-of-order arrival with SACK (RFC 2018), and fast retransmit (RFC 5681 §3.2).

mod scenarios_util;

use scenarios_util::*;
use std::time::Duration;
use synack_core::{Config, State};
use synack_sim::{CaptureEvent, LinkConfig};
use synack_tests::pattern;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

const MSS: u32 = 1460;

/// The client's data segments (payload-bearing) as (time ms, relative seq, len).
fn data_from(w: &mut World, h: synack_sim::HostId, isn: u32) -> Vec<(u64, u32, usize)> {
    w.sent_by(h)
        .iter()
        .filter(|x| x.len > 0)
        .map(|x| {
            (
                x.time.total_millis(),
                x.seq.wrapping_sub(isn.wrapping_add(1)),
                x.len,
            )
        })
        .collect()
}

/// A receiver with a 10-segment buffer, without window scaling (windows print as bytes).
fn small_receiver() -> Config {
    Config {
        recv_buffer: 10 * MSS as usize,
        window_scale: None,
        ..config(SERVER_ISN)
    }
}

/// RFC 9293 §3.8.6.1: a receiver that does not read closes its window; the sender stops at the
/// window's edge and probes the zero window, first after one RTO, then with exponential backoff
/// (RFC 1122 §4.2.2.17); each probe is answered with an ACK still showing the zero window. When the
/// user reads, the window update restarts the transfer, and every byte arrives.
#[test]
fn zero_window_persist_and_resume() {
    let mut w = World::new(
        config(CLIENT_ISN),
        small_receiver(),
        LinkConfig::default().with_delay(ms(10)),
    );
    let (a, b) = (w.a(), w.b());
    let (c, s) = w.establish();
    let data = pattern(100_000, 12);
    let mut sent = 0;
    while sent < data.len() {
        match w.with(a, |st, now| st.send(now, c, &data[sent..])) {
            Ok(n) if n > 0 => sent += n,
            _ => break,
        }
    }
    assert_eq!(sent, data.len(), "the 1 MiB send buffer takes it all");
    w.run_for(Duration::from_secs(7));
    w.dump();
    let segs = w.sent();
    let buf = 10 * MSS;
    // The receiver's window closed exactly at the buffer's size.
    let zero_acks: Vec<&Seg> = segs
        .iter()
        .filter(|x| x.from == b && x.is_pure_ack() && x.window == 0)
        .collect();
    assert!(
        !zero_acks.is_empty(),
        "the receiver advertised a zero window"
    );
    assert_eq!(zero_acks[0].ack, CLIENT_ISN + 1 + buf);
    // Before the probes, the sender sent exactly the window.
    let sent_data: u32 = segs
        .iter()
        .filter(|x| x.from == a && x.len > 1)
        .map(|x| x.len as u32)
        .sum();
    assert_eq!(sent_data, buf, "nothing beyond the offered window");
    // Probes: one octet at SND.UNA (the first unsent octet), doubling intervals.
    let probes: Vec<&Seg> = segs.iter().filter(|x| x.from == a && x.len == 1).collect();
    assert!(probes.len() >= 4, "probes: {}", probes.len());
    assert!(probes.iter().all(|p| p.seq == CLIENT_ISN + 1 + buf));
    let first_zero = zero_acks[0].time + ms(10); // when the sender learned of it
    let rto = probes[0].time - first_zero;
    assert!(
        rto >= ms(200) && rto <= Duration::from_secs(1),
        "first probe after {rto:?}"
    );
    for pair in probes.windows(3) {
        let (d1, d2) = (pair[1].time - pair[0].time, pair[2].time - pair[1].time);
        assert_eq!(d2, d1 * 2, "backoff doubles: {d1:?} then {d2:?}");
    }
    // Every probe answered: ACK of the same point, window still zero.
    for p in &probes {
        let answer = segs
            .iter()
            .find(|x| x.from == b && x.time == p.time + ms(10))
            .expect("answer to the probe");
        assert!(answer.is_pure_ack());
        assert_eq!((answer.ack, answer.window), (CLIENT_ISN + 1 + buf, 0));
    }
    assert_eq!(
        w.stack(a).info(c).unwrap().counters.window_probes,
        probes.len() as u64
    );
    assert_eq!(w.state(a, c), Some(State::Established));
    // The user reads: window update, and the rest flows.
    let mut flow = [Flow::new((a, c), (b, s), data.clone())];
    flow[0].sent = data.len();
    assert!(w.transfer(&mut flow, Duration::from_secs(10)));
    assert!(flow[0].received == data, "no byte lost or duplicated");
}

/// RFC 1122 §4.2.2.17: "A TCP MAY keep its offered receive window closed indefinitely. As long as
/// the receiving TCP continues to send acknowledgments in response to the probe segments, the
/// sending TCP MUST allow the connection to stay open." An hour of answered probes must not time
/// the connection out.
#[test]
fn zero_window_held_open_indefinitely() {
    let mut w = World::new(
        config(CLIENT_ISN),
        small_receiver(),
        LinkConfig::default().with_delay(ms(10)),
    );
    let (a, b) = (w.a(), w.b());
    let (c, s) = w.establish();
    let data = pattern(50_000, 13);
    assert_eq!(w.with(a, |st, now| st.send(now, c, &data)), Ok(data.len()));
    w.run_for(Duration::from_secs(3600));
    w.dump();
    let probes = w.sent_by(a).iter().filter(|x| x.len == 1).count();
    let answers = w
        .sent_by(b)
        .iter()
        .filter(|x| x.is_pure_ack() && x.window == 0)
        .count();
    println!("probes {probes}, zero-window answers {answers}");
    assert_eq!(w.stack(a).error(c), None);
    assert_eq!(w.state(a, c), Some(State::Established));
    let mut flow = [Flow::new((a, c), (b, s), data.clone())];
    flow[0].sent = data.len();
    assert!(w.transfer(&mut flow, Duration::from_secs(300)));
    assert!(flow[0].received == data);
}

/// RFC 9293 §3.4: sequence numbers are modulo 2^32. Both ISNs sit just below 2^32, so both
/// directions wrap within the first kilobyte; a megabyte each way arrives intact and the close
/// still works.
#[test]
fn sequence_numbers_wrap() {
    const ISN_A: u32 = 4_294_967_000;
    const ISN_B: u32 = 4_294_966_000;
    let mut w = World::new(
        config(ISN_A),
        config(ISN_B),
        LinkConfig::default()
            .with_delay(ms(5))
            .with_bandwidth_bps(1_000_000_000),
    );
    let (a, b) = (w.a(), w.b());
    let (c, s) = w.establish();
    assert_eq!(w.sent()[0].seq, ISN_A);
    let up = pattern(1 << 20, 14);
    let down = pattern(1 << 20, 15);
    let mut flows = [
        Flow::new((a, c), (b, s), up.clone()),
        Flow::new((b, s), (a, c), down.clone()),
    ];
    assert!(w.transfer(&mut flows, Duration::from_secs(60)));
    assert!(flows[0].received == up, "client to server intact");
    assert!(flows[1].received == down, "server to client intact");
    // The wire really wrapped: data segments on both sides of 2^32 in both directions.
    for (h, isn) in [(a, ISN_A), (b, ISN_B)] {
        let seqs: Vec<u32> = w
            .sent_by(h)
            .iter()
            .filter(|x| x.len > 0)
            .map(|x| x.seq)
            .collect();
        assert!(seqs.iter().any(|&q| q > isn), "before the wrap");
        assert!(seqs.iter().any(|&q| q < 1 << 20), "after the wrap");
    }
    w.with(a, |st, now| st.close(now, c).unwrap());
    w.run_to_state(b, s, State::CloseWait, Duration::from_secs(1));
    w.with(b, |st, now| st.close(now, s).unwrap());
    w.run_to_state(a, c, State::TimeWait, Duration::from_secs(1));
    let fin = w.sent_by(a).into_iter().find(|x| x.flags.fin()).unwrap();
    assert_eq!(fin.seq, ISN_A.wrapping_add(1).wrapping_add(1 << 20));
    w.run_to_state(b, s, State::Closed, Duration::from_secs(1));
    assert_eq!(w.closed_reason(b, s), Some(None));
}

/// Writes `n` chunks of `len` bytes, one per millisecond, starting now.
fn write_chunks(w: &mut World, c: synack_core::ConnId, n: usize, len: usize) {
    let a = w.a();
    for i in 0..n {
        let chunk = vec![i as u8; len];
        assert_eq!(w.with(a, |st, now| st.send(now, c, &chunk)), Ok(len));
        w.run_for(ms(1));
    }
}

/// RFC 9293 §3.7.4 (Nagle, RFC 1122 §4.2.3.4): while data is unacknowledged, small writes wait
/// and go out together once the ACK comes. The first 100 bytes leave at once; ten more writes of
/// 100 bytes wait for its ACK (delayed 40 ms at the receiver) and leave as one 1000-byte segment.
#[test]
fn nagle_coalesces_small_writes() {
    let mut w = World::seed();
    let (a, b) = (w.a(), w.b());
    let (c, s) = w.establish();
    let t = w.now().total_millis();
    write_chunks(&mut w, c, 11, 100);
    w.run_for(ms(200));
    assert_eq!(
        data_from(&mut w, a, CLIENT_ISN),
        [(t, 0, 100), (t + 60, 100, 1000)],
        "one small segment in flight at a time"
    );
    let (got, _) = w.read_all(b, s);
    assert_eq!(got.len(), 1100);
}

/// With Nagle off (`set_nodelay(true)`, TCP_NODELAY) every write leaves at once.
#[test]
fn nodelay_sends_each_write() {
    let mut w = World::seed();
    let (a, b) = (w.a(), w.b());
    let (c, s) = w.establish();
    w.with(a, |st, _| st.set_nodelay(c, true).unwrap());
    let t = w.now().total_millis();
    write_chunks(&mut w, c, 11, 100);
    w.run_for(ms(200));
    let expected: Vec<(u64, u32, usize)> = (0..11).map(|i| (t + i, 100 * i as u32, 100)).collect();
    assert_eq!(data_from(&mut w, a, CLIENT_ISN), expected);
    let (got, _) = w.read_all(b, s);
    assert_eq!(got.len(), 1100);
}

/// RFC 9293 §3.8.6.3 (RFC 1122 §4.2.3.2, RFC 5681 §4.2): ACKs may be delayed, but an ACK goes out
/// for at least every second full-sized segment, and a lone segment is acknowledged when the
/// delayed-ACK timer (40 ms here, under the 500 ms limit) fires.
#[test]
fn delayed_ack_every_second_segment_and_timer() {
    let mut w = World::seed();
    let (a, b) = (w.a(), w.b());
    let (c, s) = w.establish();
    let t = w.now();
    let data = pattern(9 * MSS as usize, 16);
    assert_eq!(w.with(a, |st, now| st.send(now, c, &data)), Ok(data.len()));
    w.run_for(ms(200));
    let segs: Vec<(u64, u32)> = w
        .sent_by(b)
        .iter()
        .filter(|x| x.time > t && x.is_pure_ack())
        .map(|x| (x.time.total_millis(), x.ack.wrapping_sub(CLIENT_ISN + 1)))
        .collect();
    let arrive = t.total_millis() + 10;
    assert_eq!(
        segs,
        [
            (arrive, 2 * MSS),
            (arrive, 4 * MSS),
            (arrive, 6 * MSS),
            (arrive, 8 * MSS),
            (arrive + 40, 9 * MSS),
        ]
    );
    // A lone small segment: acknowledged by the timer, 40 ms after it arrived.
    let t2 = w.now();
    w.with(a, |st, now| st.send(now, c, b"lone").unwrap());
    w.run_for(ms(200));
    let acks: Vec<Seg> = w
        .sent_by(b)
        .into_iter()
        .filter(|x| x.time > t2 && x.is_pure_ack())
        .collect();
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0].time, t2 + ms(10) + ms(40));
    assert_eq!(acks[0].ack, CLIENT_ISN + 1 + 9 * MSS + 4);
    let (got, _) = w.read_all(b, s);
    assert_eq!(got.len(), data.len() + 4);
}

/// RFC 2018 §3–4 on a reordering link: the receiver acknowledges out-of-order segments at once
/// (RFC 5681 §4.2) with SACK blocks that lie above the cumulative ACK, never overlap, number at
/// most 4 without timestamps, and whose first block holds the segment that triggered the ACK; the
/// stream arrives intact.
#[test]
fn reordering_reports_sack_blocks() {
    let mut w = World::new(
        config(CLIENT_ISN),
        config(SERVER_ISN),
        LinkConfig::default()
            .with_delay(ms(10))
            .with_bandwidth_bps(50_000_000)
            .with_reorder(0.05, ms(3)),
    );
    let (a, b) = (w.a(), w.b());
    let (c, s) = w.establish();
    let data = pattern(300_000, 17);
    let mut flow = [Flow::new((a, c), (b, s), data.clone())];
    assert!(w.transfer(&mut flow, Duration::from_secs(30)));
    assert!(flow[0].received == data);
    assert!(w.stack(b).info(s).unwrap().counters.ooo_segments > 0);
    // Walk the captures in order: what reached b, then what b said.
    let caps: Vec<Seg> = w.captures().iter().filter_map(Seg::parse).collect();
    let mut last_in: Option<Seg> = None;
    let mut with_sack = 0;
    let mut dsacks = 0;
    let mut first_block_checked = 0;
    for x in caps {
        if x.event == CaptureEvent::Delivered && x.from == a && x.len > 0 {
            last_in = Some(x);
            continue;
        }
        if x.event != CaptureEvent::Sent || x.from != b {
            continue;
        }
        let blocks: Vec<(u32, u32)> = x
            .options
            .sack_blocks
            .iter()
            .map(|(l, r)| (l.0, r.0))
            .collect();
        if blocks.is_empty() {
            continue;
        }
        with_sack += 1;
        assert!(blocks.len() <= 4, "{}", x.line);
        // RFC 2883 §4: a first block at or below the cumulative ACK is a D-SACK, reporting a
        // segment that arrived twice (a spurious retransmission); the rest follow RFC 2018.
        let dsack = (blocks[0].1.wrapping_sub(x.ack) as i32) <= 0;
        let blocks = if dsack {
            dsacks += 1;
            blocks[1..].to_vec()
        } else {
            blocks
        };
        if blocks.is_empty() {
            continue;
        }
        for (i, &(l, r)) in blocks.iter().enumerate() {
            // Above the cumulative ACK, non-empty.
            assert!((l.wrapping_sub(x.ack) as i32) > 0, "{}", x.line);
            assert!((r.wrapping_sub(l) as i32) > 0, "{}", x.line);
            for &(l2, r2) in &blocks[i + 1..] {
                let disjoint = (l2.wrapping_sub(r) as i32) > 0 || (l.wrapping_sub(r2) as i32) > 0;
                assert!(disjoint, "overlapping blocks: {}", x.line);
            }
        }
        if let Some(t) = &last_in {
            let (ts, te) = (t.seq, t.seq.wrapping_add(t.len as u32));
            if (ts.wrapping_sub(x.ack) as i32) > 0 {
                let (l, r) = blocks[0];
                assert!(
                    (ts.wrapping_sub(l) as i32) >= 0 && (r.wrapping_sub(te) as i32) >= 0,
                    "first block {l}-{r} must hold the triggering segment {ts}-{te}: {}",
                    x.line
                );
                first_block_checked += 1;
            }
        }
    }
    assert!(with_sack > 0, "the receiver reported SACK blocks");
    assert!(first_block_checked > 0);
    eprintln!("{with_sack} ACKs with SACK blocks, {dsacks} of them D-SACKs");
}

/// RFC 5681 §3.2: one lost data segment is repaired by fast retransmit on the third duplicate
/// ACK — at the time that ACK arrives, long before the RTO — and RFC 6582 NewReno recovery needs
/// no other retransmission. RFC 2018 §4: each duplicate ACK's SACK block grows to cover the
/// segments that arrived above the hole.
#[test]
fn fast_retransmit_repairs_one_loss() {
    let mut w = World::seed();
    let (a, b) = (w.a(), w.b());
    let (c, s) = w.establish();
    // Lose the first transmission of the third data segment.
    let hole = CLIENT_ISN + 1 + 2 * MSS;
    let mut done = false;
    w.set_drop_rule(
        a,
        Some(Box::new(move |x: &Seg| {
            let hit = !done && x.len > 0 && x.seq == hole;
            done |= hit;
            hit
        })),
    );
    let t = w.now();
    let data = pattern(40 * MSS as usize, 18);
    let mut flow = [Flow::new((a, c), (b, s), data.clone())];
    assert!(w.transfer(&mut flow, Duration::from_secs(10)));
    assert!(flow[0].received == data);
    assert_eq!(w.tap_dropped(a).len(), 1);
    // The duplicate ACKs: ack = the hole, SACK block [seg 4 start, end of the latest segment).
    let dups: Vec<Seg> = w
        .sent_by(b)
        .into_iter()
        .filter(|x| x.is_pure_ack() && x.ack == hole)
        .collect();
    assert!(dups.len() >= 3, "{} duplicate ACKs", dups.len());
    for (k, d) in dups.iter().enumerate() {
        let blocks = d.options.sack_blocks.as_slice();
        assert_eq!(blocks.len(), 1, "{}", d.line);
        assert_eq!(
            (blocks[0].0 .0, blocks[0].1 .0),
            (hole + MSS, hole + MSS * (k as u32 + 2)),
            "{}",
            d.line
        );
    }
    // The retransmission: same segment, sent when the third duplicate ACK arrived.
    let resent: Vec<Seg> = w
        .sent_by(a)
        .into_iter()
        .filter(|x| x.seq == hole && x.len > 0)
        .collect();
    assert_eq!(resent.len(), 1, "sent once more, and only once");
    assert_eq!(resent[0].len, MSS as usize);
    assert_eq!(resent[0].time, dups[2].time + ms(10));
    assert_eq!(resent[0].time, t + ms(20));
    let info = w.stack(a).info(c).unwrap();
    assert_eq!(info.counters.fast_retransmits, 1);
    assert_eq!(info.counters.timeouts, 0, "no RTO");
    assert_eq!(info.counters.retransmits, 1);
    assert!(resent[0].time - t < info.rto);
    // The repair fills the hole; the receiver's next ACK jumps to the right edge of what it held
    // (the last duplicate ACK's SACK block).
    let held = dups.last().unwrap().options.sack_blocks.as_slice()[0].1 .0;
    let next = w
        .sent_by(b)
        .into_iter()
        .find(|x| x.ack != hole && x.time > dups[0].time)
        .unwrap();
    assert_eq!(next.time, resent[0].time + ms(10));
    assert_eq!(next.ack, held, "{}", next.line);
    assert!(next.options.sack_blocks.is_empty());
}

/// RFC 9293 §3.10.7.4 window update, with a peer that resends after a timeout. The peer (forged
/// here) lost 100 bytes it sent and timed out; its bare ACK carries SND.MAX (SEQ = ISS' + 101, as
/// BSD does) and sets SND.WL1 there, with a window whose right edge is exactly where our data
/// stops (one byte of ours still queued). Its retransmission then starts at ISS' + 1, below
/// SND.WL1, and acknowledges everything we sent with a window of 1072. That ACK is the newest the
/// peer sent: its window must be taken, or the usable window (counted from SND.WL2) stays zero
/// with nothing in flight, no timer can help, and the last byte never leaves. A delayed older
/// segment (higher SEQ, lower ACK) must not take the window back.
#[test]
fn retransmitted_segment_acking_new_data_updates_the_window() {
    let mut w = World::seed();
    let (a, b) = (w.a(), w.b());
    // The server's stack never sees anything; the forged peer speaks for it.
    w.set_up(a, b, false);
    let (caddr, saddr) = (w.caddr(), w.saddr());
    let c = w.with(a, |st, now| st.connect(now, Some(caddr), saddr).unwrap());
    w.run_for(ms(5));
    // No MSS option: the client's segments carry 536 bytes (RFC 9293 §3.7.1); the window holds two.
    let synack = Forge::new(saddr, caddr, SERVER_ISN)
        .ack(CLIENT_ISN + 1)
        .flags(synack_wire::TcpFlags::SYN)
        .window(1072)
        .build();
    w.inject(b, synack);
    w.run_for(ms(20));
    assert_eq!(w.state(a, c), Some(State::Established));
    let data = pattern(1073, 5);
    assert_eq!(w.with(a, |st, now| st.send(now, c, &data)), Ok(1073));
    w.run_for(ms(5));
    let sent = data_from(&mut w, a, CLIENT_ISN);
    assert_eq!(
        sent.iter().map(|&(_, s, l)| (s, l)).collect::<Vec<_>>(),
        [(0, 536), (536, 536)],
        "two segments fill the window; one byte waits"
    );
    // The peer's bare ACK after its timeout: SEQ = its SND.MAX, the first segment acknowledged,
    // the right edge unchanged (1 + 536 + 536).
    let bare = Forge::new(saddr, caddr, SERVER_ISN + 1 + 100)
        .ack(CLIENT_ISN + 1 + 536)
        .window(536)
        .build();
    w.inject(b, bare);
    w.run_for(ms(20));
    assert_eq!(
        data_from(&mut w, a, CLIENT_ISN).len(),
        2,
        "still at the edge"
    );
    // Its retransmission: below SND.WL1, acknowledging all we sent, the window open again.
    let resent = Forge::new(saddr, caddr, SERVER_ISN + 1)
        .ack(CLIENT_ISN + 1 + 1072)
        .window(1072)
        .payload(&pattern(100, 6))
        .build();
    w.inject(b, resent);
    let acked_at = w.now() + ms(10);
    w.run_for(Duration::from_secs(5));
    let last = data_from(&mut w, a, CLIENT_ISN);
    assert_eq!(
        last.get(2),
        Some(&(acked_at.total_millis(), 1072, 1)),
        "the last byte leaves as soon as the ACK arrives: {last:?}"
    );
    assert_eq!(w.read_all(a, c), (pattern(100, 6), false));
    // A segment the peer sent before that retransmission, delayed: new data above SND.WL1 but
    // an ACK below SND.UNA. RFC 9293 §3.10.7.4 updates the window only when SND.UNA =< SEG.ACK;
    // its (closed) window is old news and must not pull the right edge back.
    let stale = Forge::new(saddr, caddr, SERVER_ISN + 1 + 101)
        .ack(CLIENT_ISN + 1 + 536)
        .window(0)
        .payload(&pattern(50, 7))
        .build();
    w.inject(b, stale);
    w.run_for(ms(20));
    assert_eq!(w.stack(a).info(c).map(|i| i.snd_wnd), Some(1072));
}
