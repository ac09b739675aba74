//! Scenario tests: connections that time out — retransmission give-up (RFC 9293 §3.8.3, RFC 6298
//! §5) and keepalive (RFC 9293 §3.8.4, RFC 1122 §4.2.3.6).

mod scenarios_util;

use scenarios_util::*;
use std::time::Duration;
use synack_core::{Config, ConnectionError, Instant, Keepalive, RecvError, SendError, State};
use synack_sim::LinkConfig;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// RFC 6298 §5.4–5.6: each expiry retransmits the earliest unacknowledged segment and doubles the
/// timer; RFC 9293 §3.8.3 (R2): after `max_retries` retransmissions the connection is given up and
/// the user told "timed out".
#[test]
fn established_connection_times_out_after_max_retries() {
    let client = Config {
        max_retries: 5,
        ..config(CLIENT_ISN)
    };
    let mut w = World::new(
        client,
        config(SERVER_ISN),
        LinkConfig::default().with_delay(ms(10)),
    );
    let (a, b) = (w.a(), w.b());
    let (c, _s) = w.establish();
    w.run_for(ms(70)); // t = 100 ms
    w.net.partition(a, b);
    let rto = w.stack(a).info(c).unwrap().rto;
    // RTT 20 ms measured on the handshake: the 200 ms floor applies (RFC 6298 §2.4 allows it).
    assert_eq!(rto, ms(200));
    assert_eq!(
        w.with(a, |st, now| st.send(now, c, b"are you there?")),
        Ok(14)
    );
    w.run_for(Duration::from_secs(30));
    let data: Vec<Seg> = w.sent_by(a).into_iter().filter(|x| x.len > 0).collect();
    assert_eq!(data.len(), 6, "the segment and max_retries retransmissions");
    for d in &data {
        assert_eq!(
            d.line,
            "IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [P.], seq 3626544837:3626544851, ack 1739326487, win 32768, length 14: HTTP"
        );
    }
    let times: Vec<u64> = data.iter().map(|x| x.time.total_millis()).collect();
    // 100, then +200, +400, +800, +1600, +3200.
    assert_eq!(times, [100, 300, 700, 1500, 3100, 6300]);
    // The sixth expiry (after 6.4 s) gives up.
    assert_eq!(
        w.entered(a, c, State::Closed),
        Some(Instant::from_millis(12_700))
    );
    assert_eq!(w.closed_reason(a, c), Some(Some(ConnectionError::TimedOut)));
    let info = w.stack(a).info(c).unwrap();
    assert_eq!(info.counters.timeouts, 5);
    assert_eq!(info.counters.retransmits, 5);
    let mut buf = [0u8; 8];
    assert_eq!(
        w.with(a, |st, _| st.recv(c, &mut buf)),
        Err(RecvError::Connection(ConnectionError::TimedOut))
    );
    assert_eq!(
        w.with(a, |st, now| st.send(now, c, b"x")),
        Err(SendError::Connection(ConnectionError::TimedOut))
    );
    // A connection that gives up sends no RST into the void (nothing but the retransmissions).
    assert!(w.sent_by(a).iter().all(|x| !x.flags.rst()));
}

/// RFC 6298 §5.7: "If the timer expires awaiting the ACK of a SYN segment and the TCP
/// implementation is using an RTO less than 3 seconds, the RTO MUST be re-initialized to 3 seconds
/// when data transmission begins (i.e., after the three-way handshake completes)." (Karn's
/// algorithm leaves no RTT sample from a retransmitted SYN without timestamps.)
#[test]
fn rto_is_three_seconds_after_a_retransmitted_syn() {
    let mut w = World::seed();
    let (a, b) = (w.a(), w.b());
    // The first SYN is lost.
    let mut done = false;
    w.set_drop_rule(
        a,
        Some(Box::new(move |s: &Seg| {
            let hit = !done && s.flags.syn();
            done |= hit;
            hit
        })),
    );
    let (c, _s) = w.establish();
    assert_eq!(w.tap_dropped(a).len(), 1);
    assert_eq!(
        w.entered(a, c, State::Established),
        Some(Instant::from_millis(1020))
    );
    assert_eq!(
        w.stack(a).info(c).unwrap().srtt,
        None,
        "no RTT sample (Karn)"
    );
    w.net.partition(a, b);
    let t0 = w.now();
    w.with(a, |st, now| st.send(now, c, b"data").unwrap());
    w.run_for(Duration::from_secs(5));
    w.dump();
    let data: Vec<Seg> = w.sent_by(a).into_iter().filter(|x| x.len > 0).collect();
    assert!(
        data.len() >= 2,
        "{:?}",
        data.iter().map(|x| &x.line).collect::<Vec<_>>()
    );
    assert_eq!(data[0].time, t0);
    assert_eq!(
        data[1].time - data[0].time,
        Duration::from_secs(3),
        "first data retransmission after 3 s"
    );
}

/// A request and a reply, so both ends have seen traffic after the handshake; returns at 100 ms.
fn exchange(w: &mut World, c: synack_core::ConnId, s: synack_core::ConnId) {
    let (a, b) = (w.a(), w.b());
    let mut flows = [
        Flow::new((a, c), (b, s), b"hello".to_vec()),
        Flow::new((b, s), (a, c), b"world".to_vec()),
    ];
    assert!(w.transfer(&mut flows, Duration::from_secs(1)));
    w.run_to(Instant::from_millis(100));
}

/// The time of the last segment host `h` received (its last ACK-bearing segment in).
fn last_in(w: &mut World, h: synack_sim::HostId) -> Instant {
    w.delivered()
        .iter()
        .filter(|x| x.from != h)
        .map(|x| x.time)
        .max()
        .unwrap()
}

fn keepalive() -> Keepalive {
    Keepalive {
        idle: Duration::from_secs(10),
        interval: Duration::from_secs(2),
        count: 3,
    }
}

/// RFC 9293 §3.8.4 / RFC 1122 §4.2.3.6: after `idle` without traffic a keepalive probe goes out —
/// <SEQ=SND.NXT-1> with no data, so the peer must answer with an ACK (RFC 9293 §3.10.7.4 first
/// check). Each answer proves the peer alive and restarts the idle period.
#[test]
fn keepalive_probes_answered_keep_connection_alive() {
    let client = Config {
        keepalive: Some(keepalive()),
        ..config(CLIENT_ISN)
    };
    let mut w = World::new(
        client,
        config(SERVER_ISN),
        LinkConfig::default().with_delay(ms(10)),
    );
    let (a, b) = (w.a(), w.b());
    let (c, s) = w.establish();
    exchange(&mut w, c, s);
    let idle_from = last_in(&mut w, a).total_millis();
    let n0 = w.sent().len();
    w.run_for(Duration::from_secs(60));
    let segs = w.sent();
    let probes: Vec<&Seg> = segs[n0..].iter().filter(|x| x.from == a).collect();
    let answers: Vec<&Seg> = segs[n0..].iter().filter(|x| x.from == b).collect();
    // The first probe comes `idle` after the client last heard from the server, then 10 s after
    // each answer (which arrives 20 ms after its probe).
    let times: Vec<u64> = probes.iter().map(|x| x.time.total_millis()).collect();
    let expected: Vec<u64> = (0..5).map(|k| idle_from + 10_000 + k * 10_020).collect();
    assert_eq!(times, expected);
    for p in &probes {
        // After "hello" (5 octets) SND.NXT is ISS + 6; the probe reuses the last octet's number.
        assert_eq!(p.seq, CLIENT_ISN + 5, "SND.NXT - 1");
        assert_eq!(p.ack, SERVER_ISN + 6);
        assert!(p.is_pure_ack(), "{}", p.line);
        assert_eq!(
            p.line,
            "IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [.], ack 1739326492, win 32768, length 0"
        );
    }
    assert_eq!(answers.len(), probes.len(), "every probe answered");
    for (p, r) in probes.iter().zip(&answers) {
        assert_eq!(r.time, p.time + ms(10));
        assert!(r.is_pure_ack());
        assert_eq!((r.seq, r.ack), (SERVER_ISN + 6, CLIENT_ISN + 6));
    }
    assert_eq!(w.state(a, c), Some(State::Established));
    assert_eq!(w.state(b, s), Some(State::Established));
    assert_eq!(w.stack(a).info(c).unwrap().counters.keepalive_probes, 5);
    // Keepalive is per connection and off by default: the server never probed.
    assert_eq!(w.stack(b).info(s).unwrap().counters.keepalive_probes, 0);
}

/// RFC 1122 §4.2.3.6: a peer that answers no probe is declared dead: `count` probes `interval`
/// apart, then the connection fails with TimedOut.
#[test]
fn keepalive_times_out_unreachable_peer() {
    let client = Config {
        keepalive: Some(keepalive()),
        ..config(CLIENT_ISN)
    };
    let mut w = World::new(
        client,
        config(SERVER_ISN),
        LinkConfig::default().with_delay(ms(10)),
    );
    let (a, b) = (w.a(), w.b());
    let (c, s) = w.establish();
    exchange(&mut w, c, s);
    let idle_from = last_in(&mut w, a).total_millis();
    w.net.partition(a, b);
    w.run_for(Duration::from_secs(60));
    let probes: Vec<Seg> = w
        .sent_by(a)
        .into_iter()
        .filter(|x| x.time > Instant::from_millis(100))
        .collect();
    let times: Vec<u64> = probes.iter().map(|x| x.time.total_millis()).collect();
    let t = idle_from + 10_000;
    assert_eq!(times, [t, t + 2000, t + 4000]);
    assert!(probes
        .iter()
        .all(|p| p.seq == CLIENT_ISN + 5 && p.is_pure_ack()));
    assert_eq!(
        w.entered(a, c, State::Closed),
        Some(Instant::from_millis(t + 6000))
    );
    assert_eq!(w.closed_reason(a, c), Some(Some(ConnectionError::TimedOut)));
    let mut buf = [0u8; 4];
    assert_eq!(
        w.with(a, |st, _| st.recv(c, &mut buf)),
        Err(RecvError::Connection(ConnectionError::TimedOut))
    );
    // The server, without keepalive, never notices.
    assert_eq!(w.state(b, s), Some(State::Established));
}

/// RFC 1122 §4.2.3.6 allows keepalives only on an idle connection. With data outstanding the
/// retransmission timer already tests the peer, and a probe (one octet below SND.UNA) would land
/// inside the window of a peer that is missing that data, which does not answer it: the probes
/// would declare a live peer dead. Linux sends none then, and neither do we; the connection ends
/// by the retransmission limit instead.
#[test]
fn no_keepalive_probes_while_data_is_outstanding() {
    let client = Config {
        keepalive: Some(keepalive()),
        ..config(CLIENT_ISN)
    };
    let mut w = World::new(
        client,
        config(SERVER_ISN),
        LinkConfig::default().with_delay(ms(10)),
    );
    let (a, b) = (w.a(), w.b());
    let (c, s) = w.establish();
    exchange(&mut w, c, s);
    w.net.partition(a, b);
    let sent_at = w.now();
    w.with(a, |st, now| st.send(now, c, b"unanswered"))
        .expect("queued");
    // 15 retransmissions with backoff capped at 120 s take about 15 minutes.
    w.run_for(Duration::from_secs(1200));
    let after: Vec<Seg> = w
        .sent_by(a)
        .into_iter()
        .filter(|x| x.time >= sent_at)
        .collect();
    assert!(after.len() > 3, "retransmissions expected: {after:?}");
    for seg in &after {
        assert_eq!(
            (seg.seq, seg.len),
            (CLIENT_ISN + 6, 10),
            "only retransmissions of the data, no keepalive probe: {}",
            seg.line
        );
    }
    assert_eq!(w.stack(a).info(c).unwrap().counters.keepalive_probes, 0);
    assert_eq!(w.closed_reason(a, c), Some(Some(ConnectionError::TimedOut)));
    let _ = s;
}

/// RFC 1122 §4.2.3.6: keepalives go out when nothing was received for `idle` — which includes a
/// connection that has been idle since its handshake (both ends: the active opener, whose last
/// segment in was the SYN-ACK, and the passive one, whose last was the handshake's ACK).
#[test]
fn keepalive_starts_on_connection_idle_since_handshake() {
    let mut w = World::new(
        Config {
            keepalive: Some(keepalive()),
            ..config(CLIENT_ISN)
        },
        Config {
            keepalive: Some(keepalive()),
            ..config(SERVER_ISN)
        },
        LinkConfig::default().with_delay(ms(10)),
    );
    let (a, b) = (w.a(), w.b());
    let (c, s) = w.establish();
    w.run_for(Duration::from_secs(11));
    let probes = |w: &mut World, h| -> Vec<u64> {
        w.sent_by(h)
            .iter()
            .filter(|x| x.time > Instant::from_millis(30) && x.is_pure_ack())
            .map(|x| x.time.total_millis())
            .collect()
    };
    w.dump();
    // Client: last in at 20 ms (SYN-ACK). Server: last in at 30 ms (ACK).
    assert_eq!(probes(&mut w, a).first(), Some(&10_020));
    assert_eq!(probes(&mut w, b).first(), Some(&10_030));
    assert!(w.stack(a).info(c).unwrap().counters.keepalive_probes >= 1);
    assert!(w.stack(b).info(s).unwrap().counters.keepalive_probes >= 1);
}

/// RFC 1122 §4.2.3.6: keepalive turned on by the user long after the last segment idles from
/// the call, not from the stack's last packet or timer: turned on at 100 s on a connection quiet
/// since 100 ms, the first probe leaves at 110 s (not at once), then every `idle` after each
/// answer.
#[test]
fn set_keepalive_idles_from_the_call() {
    let mut w = World::new(
        config(CLIENT_ISN),
        config(SERVER_ISN),
        LinkConfig::default().with_delay(ms(10)),
    );
    let a = w.a();
    let (c, s) = w.establish();
    exchange(&mut w, c, s);
    w.run_to(Instant::from_secs(100));
    let n0 = w.sent_by(a).len();
    w.with(a, |st, now| st.set_keepalive(now, c, Some(keepalive())))
        .unwrap();
    w.run_for(Duration::from_secs(15));
    let probes: Vec<u64> = w.sent_by(a)[n0..]
        .iter()
        .map(|x| x.time.total_millis())
        .collect();
    assert_eq!(probes, [110_000], "one probe, `idle` after the call");
    assert_eq!(w.stack(a).info(c).unwrap().counters.keepalive_probes, 1);
    assert_eq!(w.state(a, c), Some(State::Established));
}
