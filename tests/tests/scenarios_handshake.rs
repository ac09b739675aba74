//! Scenario tests: opening connections (RFC 9293 §3.5) — the three-way handshake, simultaneous
//! open, refused and timed-out opens, listen backlogs, and IPv6.

mod scenarios_util;

use scenarios_util::*;
use std::net::SocketAddr;
use std::time::Duration;
use synack_core::{Config, ConnectionError, Event, Instant, RecvError, Shutdown, State};
use synack_sim::LinkConfig;
use synack_tests::pattern;
use synack_wire::TcpFlags;

const MS: Duration = Duration::from_millis(1);

/// The seed trace: client ISN 3626544836, server ISN 1739326486.
/// RFC 9293 §3.5 Figure 6: <SEQ=ISS><CTL=SYN>, <SEQ=ISS'><ACK=ISS+1><CTL=SYN,ACK>,
/// <SEQ=ISS+1><ACK=ISS'+1><CTL=ACK>.
#[test]
fn seed_handshake() {
    let mut w = World::seed();
    let (a, b) = (w.a(), w.b());
    let (c, s) = w.establish();
    let segs = w.sent();
    assert_lines(
        &segs,
        &[
            "IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [S], seq 3626544836, win 65535, options [mss 1460,nop,nop,sackOK,nop,wscale 7], length 0",
            "IP 10.0.0.2.80 > 10.0.0.1.40000: Flags [S.], seq 1739326486, ack 3626544837, win 65535, options [mss 1460,nop,nop,sackOK,nop,wscale 7], length 0",
            "IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [.], ack 1739326487, win 32768, length 0",
        ],
    );
    // The same facts field by field, relative to the pinned ISNs.
    assert_eq!((segs[0].flag_str(), segs[0].seq), ("S".into(), CLIENT_ISN));
    assert_eq!(
        (segs[1].flag_str(), segs[1].seq, segs[1].ack),
        ("S.".into(), SERVER_ISN, CLIENT_ISN + 1)
    );
    assert_eq!(
        (segs[2].flag_str(), segs[2].seq, segs[2].ack),
        (".".into(), CLIENT_ISN + 1, SERVER_ISN + 1)
    );
    // One trip per segment over the 10 ms link.
    let times: Vec<Instant> = segs.iter().map(|s| s.time).collect();
    assert_eq!(
        times,
        [
            Instant::ZERO,
            Instant::from_millis(10),
            Instant::from_millis(20)
        ]
    );
    // RFC 9293 §3.3.2 Figure 5: CLOSED -> SYN-SENT -> ESTABLISHED and
    // LISTEN -> SYN-RECEIVED -> ESTABLISHED.
    assert_eq!(
        w.path(a, c),
        [State::Closed, State::SynSent, State::Established]
    );
    assert_eq!(
        w.path(b, s),
        [State::Listen, State::SynRcvd, State::Established]
    );
    // The client is open when the SYN-ACK arrives (20 ms), the server when the ACK does (30 ms).
    assert_eq!(
        w.entered(a, c, State::Established),
        Some(Instant::from_millis(20))
    );
    assert_eq!(
        w.entered(b, s, State::Established),
        Some(Instant::from_millis(30))
    );
    assert!(w.host(a).events.contains(&Event::Connected(c)));
    assert!(w
        .host(b)
        .events
        .iter()
        .any(|e| matches!(e, Event::Incoming(_))));
}

/// RFC 9293 §3.5 Figure 8: simultaneous open. Each side's SYN arrives in SYN-SENT, which moves it
/// to SYN-RECEIVED and makes it answer <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>; the SYN-ACKs move both
/// to ESTABLISHED.
#[test]
fn simultaneous_open() {
    let mut w = World::seed();
    let (a, b) = (w.a(), w.b());
    let a_end = SocketAddr::new(w.a_ip, 40000);
    let b_end = SocketAddr::new(w.b_ip, 50000);
    let ca = w.with(a, |s, now| s.connect(now, Some(a_end), b_end).unwrap());
    let cb = w.with(b, |s, now| s.connect(now, Some(b_end), a_end).unwrap());
    let ok = w.run_until(Duration::from_secs(5), move |w| {
        w.state(a, ca) == Some(State::Established) && w.state(b, cb) == Some(State::Established)
    });
    assert!(ok, "both ends reach ESTABLISHED");
    let from_a = w.sent_by(a);
    let from_b = w.sent_by(b);
    assert_lines(
        &from_a[..2],
        &[
            "IP 10.0.0.1.40000 > 10.0.0.2.50000: Flags [S], seq 3626544836, win 65535, options [mss 1460,nop,nop,sackOK,nop,wscale 7], length 0",
            "IP 10.0.0.1.40000 > 10.0.0.2.50000: Flags [S.], seq 3626544836, ack 1739326487, win 65535, options [mss 1460,nop,nop,sackOK,nop,wscale 7], length 0",
        ],
    );
    assert_lines(
        &from_b[..2],
        &[
            "IP 10.0.0.2.50000 > 10.0.0.1.40000: Flags [S], seq 1739326486, win 65535, options [mss 1460,nop,nop,sackOK,nop,wscale 7], length 0",
            "IP 10.0.0.2.50000 > 10.0.0.1.40000: Flags [S.], seq 1739326486, ack 3626544837, win 65535, options [mss 1460,nop,nop,sackOK,nop,wscale 7], length 0",
        ],
    );
    // The SYNs cross at 10 ms; the SYN-ACKs cross at 20 ms.
    assert_eq!(from_a[1].time, Instant::from_millis(10));
    assert_eq!(from_b[1].time, Instant::from_millis(10));
    for (h, c) in [(a, ca), (b, cb)] {
        assert_eq!(
            w.path(h, c),
            [
                State::Closed,
                State::SynSent,
                State::SynRcvd,
                State::Established
            ]
        );
        // Figure 8 has the SYN-ACK (arriving at 20 ms) complete the open; the first check of
        // §3.10.7.4 instead finds it unacceptable (its SYN lies below RCV.NXT) and answers
        // <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, which completes it one trip later. Either way,
        // no later than 30 ms.
        let at = w.entered(h, c, State::Established).unwrap();
        assert!(
            at == Instant::from_millis(20) || at == Instant::from_millis(30),
            "ESTABLISHED at {at}"
        );
        assert!(w.host(h).events.contains(&Event::Connected(c)));
    }
    // Nothing is reset, nothing is retransmitted: no SYN after the first SYN-ACK.
    let all = w.sent();
    assert!(all.iter().all(|s| !s.flags.rst()));
    assert_eq!(all.iter().filter(|s| s.flags.syn()).count(), 4);
    // And the connection works: a byte each way.
    let mut flows = [
        Flow::new((a, ca), (b, cb), b"ping".to_vec()),
        Flow::new((b, cb), (a, ca), b"pong".to_vec()),
    ];
    assert!(w.transfer(&mut flows, Duration::from_secs(2)));
    assert_eq!(flows[0].received, b"ping");
    assert_eq!(flows[1].received, b"pong");
}

/// RFC 9293 §3.10.7.1: a SYN to a port nobody listens on gets <SEQ=0><ACK=SEG.SEQ+SEG.LEN>
/// <CTL=RST,ACK>; RFC 9293 §3.10.7.3: that RST (it acknowledges our SYN) ends SYN-SENT with
/// "connection reset" (refused).
#[test]
fn refused() {
    let mut w = World::seed();
    let (a, b) = (w.a(), w.b());
    let caddr = w.caddr();
    let closed_port = SocketAddr::new(w.b_ip, 81);
    // A listener on another port must not matter.
    let saddr = w.saddr();
    w.with(b, |s, _| s.listen(saddr, 8).unwrap());
    let c = w.with(a, |s, now| {
        s.connect(now, Some(caddr), closed_port).unwrap()
    });
    w.run_for(Duration::from_secs(3));
    let segs = w.sent();
    assert_lines(
        &segs,
        &[
            "IP 10.0.0.1.40000 > 10.0.0.2.81: Flags [S], seq 3626544836, win 65535, options [mss 1460,nop,nop,sackOK,nop,wscale 7], length 0",
            "IP 10.0.0.2.81 > 10.0.0.1.40000: Flags [R.], seq 0, ack 3626544837, win 0, length 0",
        ],
    );
    assert_eq!(segs[1].time, Instant::from_millis(10));
    assert_eq!(w.stack(b).stats().resets_sent_closed, 1);
    assert_eq!(w.path(a, c), [State::Closed, State::SynSent, State::Closed]);
    assert_eq!(
        w.entered(a, c, State::Closed),
        Some(Instant::from_millis(20))
    );
    assert_eq!(w.closed_reason(a, c), Some(Some(ConnectionError::Refused)));
    assert_eq!(w.stack(a).error(c), Some(ConnectionError::Refused));
    let mut buf = [0u8; 8];
    assert_eq!(
        w.with(a, |s, _| s.recv(c, &mut buf)),
        Err(RecvError::Connection(ConnectionError::Refused))
    );
    assert_eq!(
        w.stack(b).connection_count(),
        0,
        "no state kept for the refused SYN"
    );
}

/// RFC 6298 §2.1 and §5.5: the SYN is retransmitted with the timer starting at 1 s and doubling;
/// after `syn_retries` retransmissions the open fails (RFC 9293 §3.8.3, R2) with TimedOut.
#[test]
fn connect_times_out_after_syn_retries() {
    let mut w = World::seed();
    let (a, b) = (w.a(), w.b());
    w.net.partition(a, b);
    let (caddr, saddr) = (w.caddr(), w.saddr());
    let c = w.with(a, |s, now| s.connect(now, Some(caddr), saddr).unwrap());
    w.run_for(Duration::from_secs(300));
    let syns = w.sent_by(a);
    let retries = Config::default().syn_retries as usize;
    assert_eq!(
        syns.len(),
        1 + retries,
        "the SYN and syn_retries retransmissions"
    );
    for s in &syns {
        assert_eq!(
            s.line,
            "IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [S], seq 3626544836, win 65535, options [mss 1460,nop,nop,sackOK,nop,wscale 7], length 0"
        );
    }
    // 0, 1, 3, 7, 15, 31, 63 s: gaps 1, 2, 4, 8, 16, 32 s.
    let times: Vec<u64> = syns.iter().map(|s| s.time.total_millis()).collect();
    let expected: Vec<u64> = (0..=retries).map(|i| ((1u64 << i) - 1) * 1000).collect();
    assert_eq!(times, expected);
    // The last timer (64 s) expires without an answer: 127 s after the first SYN.
    let closed_at = ((1u64 << (retries + 1)) - 1) * 1000;
    assert_eq!(
        w.entered(a, c, State::Closed),
        Some(Instant::from_millis(closed_at))
    );
    assert_eq!(w.path(a, c), [State::Closed, State::SynSent, State::Closed]);
    assert_eq!(w.closed_reason(a, c), Some(Some(ConnectionError::TimedOut)));
    let mut buf = [0u8; 8];
    assert_eq!(
        w.with(a, |s, _| s.recv(c, &mut buf)),
        Err(RecvError::Connection(ConnectionError::TimedOut))
    );
    assert!(w.sent_by(b).is_empty());
}

/// A SYN for a listener whose SYN queue (half-open, SYN-RECEIVED connections) holds
/// `syn_backlog` is dropped and counted; the client's SYN retransmission gets in once the queue
/// has room (here: when the half-open connections give up after `synack_retries`).
#[test]
fn syn_backlog_bounds_half_open_connections() {
    let server = Config {
        syn_backlog: 2,
        synack_retries: 1,
        // This is the drop behaviour; with cookies (the default) see syn_flood.rs.
        syn_cookies: false,
        ..config(SERVER_ISN)
    };
    let mut w = World::new(
        config(CLIENT_ISN),
        server,
        LinkConfig::default().with_delay(Duration::from_millis(10)),
    );
    let (a, b) = (w.a(), w.b());
    let saddr = w.saddr();
    let l = w.with(b, |s, _| s.listen(saddr, 128).unwrap());
    // Three SYNs from a spoofed address nobody owns: the SYN-ACKs go nowhere, so these stay
    // half-open.
    for port in 1001..=1003u16 {
        let spoofed = SocketAddr::new("10.0.0.99".parse().unwrap(), port);
        let syn = Forge::new(spoofed, saddr, 1000 * u32::from(port))
            .flags(TcpFlags::SYN)
            .build();
        w.inject(a, syn);
    }
    w.run_for(Duration::from_millis(100));
    let half_open = |w: &World| {
        w.stack(b)
            .listeners()
            .find(|(id, ..)| *id == l)
            .map(|(_, _, queued, half)| (queued, half))
            .unwrap()
    };
    assert_eq!(half_open(&w), (0, 2));
    assert_eq!(w.stack(b).stats().syn_queue_overflows, 1);
    let synacks: Vec<Seg> = w
        .sent_by(b)
        .into_iter()
        .filter(|s| s.flags.syn() && s.flags.ack())
        .collect();
    assert_eq!(synacks.len(), 2, "only the first two SYNs were answered");
    assert_eq!(synacks[0].ack, 1_001_001);
    assert_eq!(synacks[1].ack, 1_002_001);

    // A real client at 0.5 s: its SYNs at 0.5 and 1.5 s find the queue full.
    w.run_for(Duration::from_millis(400));
    let caddr = w.caddr();
    let c = w.with(a, |s, now| s.connect(now, Some(caddr), saddr).unwrap());
    w.run_for(Duration::from_millis(1100));
    assert_eq!(w.stack(b).stats().syn_queue_overflows, 3);
    assert_eq!(w.state(a, c), Some(State::SynSent));
    // The half-open connections retransmit their SYN-ACK at 1.01 s and give up at 3.01 s.
    w.run_until(Duration::from_secs(2), |w| half_open(w).1 == 0);
    assert_eq!(w.now(), Instant::from_millis(3010));
    // The SYN at 3.5 s gets in.
    w.run_to_state(a, c, State::Established, Duration::from_secs(2));
    assert_eq!(
        w.entered(a, c, State::Established),
        Some(Instant::from_millis(3520))
    );
    assert_eq!(w.stack(b).stats().syn_queue_overflows, 3);
    w.run_for(Duration::from_millis(20));
    let s = w
        .with(b, |s, _| s.accept(l))
        .expect("the client's connection is queued");
    assert_eq!(w.stack(b).remote_addr(s), Some(caddr));
    let client_syns = w
        .sent_by(a)
        .iter()
        .filter(|s| s.flags.syn() && s.src == caddr)
        .map(|s| s.time.total_millis())
        .collect::<Vec<_>>();
    assert_eq!(client_syns, [500, 1500, 3500]);
}

/// A SYN for a listener whose accept queue is full is dropped and counted (as Linux does); the
/// client's retransmitted SYN completes the connection once the user accepted the first one.
#[test]
fn accept_queue_full_drops_syn_until_accept() {
    let mut w = World::seed();
    let (a, b) = (w.a(), w.b());
    let saddr = w.saddr();
    let l = w.with(b, |s, _| s.listen(saddr, 1).unwrap());
    let first = SocketAddr::new(w.a_ip, 40000);
    let second = SocketAddr::new(w.a_ip, 40001);
    let c1 = w.with(a, |s, now| s.connect(now, Some(first), saddr).unwrap());
    w.run_to_state(a, c1, State::Established, Duration::from_secs(1));
    w.run_for(Duration::from_millis(80));
    let c2 = w.with(a, |s, now| s.connect(now, Some(second), saddr).unwrap());
    w.run_for(Duration::from_millis(500));
    // The second SYN arrived with the queue full: dropped, no SYN-ACK, counted.
    assert_eq!(w.stack(b).stats().accept_queue_overflows, 1);
    assert_eq!(w.state(a, c2), Some(State::SynSent));
    assert!(!w
        .sent_by(b)
        .iter()
        .any(|s| s.dst == second && s.flags.syn()));
    w.run_for(Duration::from_millis(1000)); // the retransmission at 1.1 s: still full
    assert_eq!(w.stack(b).stats().accept_queue_overflows, 2);
    let s1 = w.with(b, |s, _| s.accept(l)).expect("first connection");
    assert_eq!(w.stack(b).remote_addr(s1), Some(first));
    // The retransmission at 3.1 s finds room.
    w.run_to_state(a, c2, State::Established, Duration::from_secs(5));
    assert_eq!(
        w.entered(a, c2, State::Established),
        Some(Instant::from_millis(3120))
    );
    w.run_for(Duration::from_millis(20));
    let s2 = w.with(b, |s, _| s.accept(l)).expect("second connection");
    assert_eq!(w.stack(b).remote_addr(s2), Some(second));
    assert_eq!(w.stack(b).stats().accept_queue_overflows, 2);
    assert!(w.sent().iter().all(|s| !s.flags.rst()));
}

/// Two SYNs that arrive together while the accept queue has room for one: the listener must not
/// complete a handshake it then resets. Either the second SYN waits (dropped, retransmitted) or
/// its completed connection waits for room; once the user accepts the first, the second must
/// complete and be accepted, without any RST (Linux: tcp_abort_on_overflow=0 default).
#[test]
fn accept_queue_concurrent_syns_complete_once_accepted() {
    let mut w = World::seed();
    let (a, b) = (w.a(), w.b());
    let saddr = w.saddr();
    let l = w.with(b, |s, _| s.listen(saddr, 1).unwrap());
    let first = SocketAddr::new(w.a_ip, 40000);
    let second = SocketAddr::new(w.a_ip, 40001);
    let c1 = w.with(a, |s, now| s.connect(now, Some(first), saddr).unwrap());
    let c2 = w.with(a, |s, now| s.connect(now, Some(second), saddr).unwrap());
    w.run_for(Duration::from_millis(500));
    let s1 = w.with(b, |s, _| s.accept(l)).expect("first connection");
    let ok = w.run_until(Duration::from_secs(10), move |w| {
        w.stack(b)
            .listeners()
            .any(|(id, _, queued, _)| id == l && queued == 1)
    });
    w.dump();
    assert!(
        w.sent().iter().all(|s| !s.flags.rst()),
        "no connection is reset"
    );
    assert!(ok, "the second connection reaches the accept queue");
    let s2 = w.with(b, |s, _| s.accept(l)).expect("second connection");
    let mut ends = [
        w.stack(b).remote_addr(s1).unwrap(),
        w.stack(b).remote_addr(s2).unwrap(),
    ];
    ends.sort();
    assert_eq!(ends, [first, second]);
    assert_eq!(w.state(a, c1), Some(State::Established));
    assert_eq!(w.state(a, c2), Some(State::Established));
    assert_eq!(w.stack(a).error(c2), None);
}

/// The whole life of a connection over IPv6: handshake (MSS 1440 = 1500 - 40 - 20, RFC 9293
/// §3.7.1 / RFC 8200 §5), data both ways, and an orderly close.
#[test]
fn ipv6_handshake_transfer_close() {
    let mut w = World::with_addrs(
        config(CLIENT_ISN),
        config(SERVER_ISN),
        LinkConfig::default().with_delay(Duration::from_millis(10)),
        "fd00::1".parse().unwrap(),
        "fd00::2".parse().unwrap(),
    );
    let (a, b) = (w.a(), w.b());
    let (c, s) = w.establish();
    assert_lines(
        &w.sent(),
        &[
            "IP6 fd00::1.40000 > fd00::2.80: Flags [S], seq 3626544836, win 65535, options [mss 1440,nop,nop,sackOK,nop,wscale 7], length 0",
            "IP6 fd00::2.80 > fd00::1.40000: Flags [S.], seq 1739326486, ack 3626544837, win 65535, options [mss 1440,nop,nop,sackOK,nop,wscale 7], length 0",
            "IP6 fd00::1.40000 > fd00::2.80: Flags [.], ack 1739326487, win 32768, length 0",
        ],
    );
    let up = pattern(100_000, 1);
    let down = pattern(100_000, 2);
    let mut flows = [
        Flow::new((a, c), (b, s), up.clone()),
        Flow::new((b, s), (a, c), down.clone()),
    ];
    assert!(w.transfer(&mut flows, Duration::from_secs(10)));
    assert!(flows[0].received == up);
    assert!(flows[1].received == down);
    let data: Vec<Seg> = w.sent().into_iter().filter(|s| s.len > 0).collect();
    assert!(data.iter().all(|s| s.len <= 1440));
    assert!(data.iter().any(|s| s.len == 1440));
    assert!(data.iter().all(|s| s.line.starts_with("IP6 fd00::")));
    // Orderly close, client first.
    w.with(a, |st, now| st.shutdown(now, c, Shutdown::Write).unwrap());
    w.run_to_state(b, s, State::CloseWait, Duration::from_secs(1));
    w.with(b, |st, now| st.close(now, s).unwrap());
    w.run_to_state(a, c, State::TimeWait, Duration::from_secs(1));
    let tw = w.now();
    w.run_to_state(a, c, State::Closed, Duration::from_secs(120));
    assert_eq!(w.now() - tw, Duration::from_secs(60));
    assert_eq!(
        w.path(b, s),
        [
            State::Listen,
            State::SynRcvd,
            State::Established,
            State::CloseWait,
            State::LastAck,
            State::Closed
        ]
    );
    assert_eq!(w.closed_reason(b, s), Some(None));
    let _ = MS;
}

/// RFC 9293 §3.8.1 / §3.10.8: a lost SYN-ACK is repaired by retransmission — the server's own
/// timer or the client's retransmitted SYN makes it send the same <SEQ=ISS><ACK=RCV.NXT>
/// <CTL=SYN,ACK> again, and the handshake completes without a reset.
#[test]
fn lost_syn_ack_is_retransmitted() {
    let mut w = World::seed();
    let (a, b) = (w.a(), w.b());
    let mut done = false;
    w.set_drop_rule(
        b,
        Some(Box::new(move |x: &Seg| {
            let hit = !done && x.flags.syn();
            done |= hit;
            hit
        })),
    );
    let (c, s) = w.establish();
    assert_eq!(w.tap_dropped(b).len(), 1);
    let synacks: Vec<Seg> = w.sent_by(b).into_iter().filter(|x| x.flags.syn()).collect();
    assert!(!synacks.is_empty());
    for x in &synacks {
        assert_eq!(x.line, w.tap_dropped(b)[0].line, "the same SYN-ACK again");
    }
    // The client's SYN timer (1 s) and the server's SYN-ACK timer (1 s after 10 ms) both run;
    // the first SYN-ACK that gets through arrives by 1.02 s.
    assert_eq!(synacks[0].time, Instant::from_millis(1010));
    assert_eq!(
        w.entered(a, c, State::Established),
        Some(Instant::from_millis(1020))
    );
    assert!(w.entered(b, s, State::Established).unwrap() <= Instant::from_millis(1030));
    w.run_for(Duration::from_secs(3));
    assert!(w.sent().iter().all(|x| !x.flags.rst()));
    assert_eq!(w.state(a, c), Some(State::Established));
    assert_eq!(w.state(b, s), Some(State::Established));
    let mut flows = [Flow::new((a, c), (b, s), b"after all".to_vec())];
    assert!(w.transfer(&mut flows, Duration::from_secs(1)));
}

/// RFC 9293 §3.10.7.4 (SYN-RECEIVED, fifth step): "If SND.UNA < SEG.ACK =< SND.NXT, then enter
/// ESTABLISHED state and continue processing". When the handshake's ACK is lost, the client's
/// first data segment (which carries the same ACK) completes the server's handshake, and its data
/// is delivered.
#[test]
fn lost_handshake_ack_completed_by_data() {
    let mut w = World::seed();
    let (a, b) = (w.a(), w.b());
    let mut done = false;
    w.set_drop_rule(
        a,
        Some(Box::new(move |x: &Seg| {
            let hit = !done && x.is_pure_ack();
            done |= hit;
            hit
        })),
    );
    let (saddr, caddr) = (w.saddr(), w.caddr());
    let l = w.with(b, |st, _| st.listen(saddr, 8).unwrap());
    let c = w.with(a, |st, now| st.connect(now, Some(caddr), saddr).unwrap());
    w.run_to_state(a, c, State::Established, Duration::from_secs(1));
    assert_eq!(w.now(), Instant::from_millis(20));
    w.with(a, |st, now| st.send(now, c, b"hello").unwrap());
    w.run_for(Duration::from_millis(100));
    assert_eq!(w.tap_dropped(a).len(), 1, "the handshake's ACK was lost");
    let s = w
        .with(b, |st, _| st.accept(l))
        .expect("established by the data segment");
    assert_eq!(
        w.entered(b, s, State::Established),
        Some(Instant::from_millis(30))
    );
    assert_eq!(
        w.path(b, s),
        [State::Listen, State::SynRcvd, State::Established]
    );
    assert_eq!(w.read_all(b, s).0, b"hello");
    let data = w.sent_by(a).into_iter().find(|x| x.len > 0).unwrap();
    assert_eq!(
        data.line,
        "IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [P.], seq 3626544837:3626544842, ack 1739326487, win 32768, length 5: HTTP"
    );
    // No SYN-ACK retransmission was needed.
    assert_eq!(w.sent_by(b).iter().filter(|x| x.flags.syn()).count(), 1);
}

/// RFC 9293 §3.10.4 (CLOSE in SYN-SENT): "Delete the TCB". The connection is CLOSED at once;
/// no further SYN is retransmitted and nothing else is sent.
#[test]
fn close_in_syn_sent_deletes_tcb() {
    let mut w = World::seed();
    let (a, b) = (w.a(), w.b());
    w.net.partition(a, b);
    let (caddr, saddr) = (w.caddr(), w.saddr());
    let c = w.with(a, |st, now| st.connect(now, Some(caddr), saddr).unwrap());
    w.run_for(Duration::from_millis(1500)); // the SYN and one retransmission
    assert_eq!(w.sent_by(a).len(), 2);
    w.with(a, |st, now| st.close(now, c).unwrap());
    assert_eq!(w.path(a, c), [State::Closed, State::SynSent, State::Closed]);
    assert_eq!(w.closed_reason(a, c), Some(None));
    assert_eq!(w.stack(a).connection_count(), 0);
    w.run_for(Duration::from_secs(200));
    assert_eq!(w.sent_by(a).len(), 2, "nothing after the close");
}

/// RFC 9293 §3.10.4 (CLOSE in LISTEN): the listener goes away; later SYNs to its port are refused
/// (RFC 9293 §3.10.7.1), and a connection the listener held half-open is reset.
#[test]
fn unlisten_refuses_new_connections() {
    let mut w = World::seed();
    let (a, b) = (w.a(), w.b());
    let saddr = w.saddr();
    let l = w.with(b, |st, _| st.listen(saddr, 8).unwrap());
    // A half-open connection from an address with no host (the SYN-ACK goes nowhere).
    let ghost = SocketAddr::new("10.0.0.99".parse().unwrap(), 7777);
    w.inject(
        a,
        Forge::new(ghost, saddr, 5000).flags(TcpFlags::SYN).build(),
    );
    w.run_for(Duration::from_millis(20));
    let half = conn_by_remote(w.host(b), ghost).expect("half-open");
    w.with(b, |st, now| st.unlisten(now, l).unwrap());
    w.run_for(Duration::from_millis(20));
    assert_eq!(w.state(b, half), None);
    let rst = w
        .sent_by(b)
        .into_iter()
        .find(|x| x.flags.rst())
        .expect("the half-open connection is reset");
    assert_eq!((rst.dst, rst.seq), (ghost, SERVER_ISN + 1));
    assert_eq!(w.stack(b).listeners().count(), 0);
    let caddr = w.caddr();
    let c = w.with(a, |st, now| st.connect(now, Some(caddr), saddr).unwrap());
    w.run_for(Duration::from_millis(100));
    assert_eq!(w.closed_reason(a, c), Some(Some(ConnectionError::Refused)));
}

/// RFC 9293 §3.10.4 (CLOSE in SYN-RECEIVED): "If no SENDs have been issued and there is no pending
/// data to send, then form a FIN segment and send it, and enter FIN-WAIT-1 state" (Figure 5:
/// SYN-RCVD --CLOSE/snd FIN--> FIN-WAIT-1). A user-owned SYN-RECEIVED connection comes from a
/// simultaneous open; closing it there still ends in an orderly close on both sides.
#[test]
fn close_in_syn_received_sends_fin() {
    let mut w = World::seed();
    let (a, b) = (w.a(), w.b());
    let a_end = SocketAddr::new(w.a_ip, 40000);
    let b_end = SocketAddr::new(w.b_ip, 50000);
    let ca = w.with(a, |s, now| s.connect(now, Some(a_end), b_end).unwrap());
    let cb = w.with(b, |s, now| s.connect(now, Some(b_end), a_end).unwrap());
    w.run_to_state(a, ca, State::SynRcvd, Duration::from_secs(1));
    assert_eq!(w.now(), Instant::from_millis(10));
    w.run_for(Duration::from_millis(5));
    w.with(a, |s, now| s.shutdown(now, ca, Shutdown::Write).unwrap());
    w.dump();
    assert_eq!(w.state(a, ca), Some(State::FinWait1), "FIN-WAIT-1 at once");
    w.run_for(Duration::from_millis(1));
    let fin = w
        .sent_by(a)
        .into_iter()
        .find(|x| x.flags.fin())
        .expect("the FIN is sent from SYN-RECEIVED");
    assert_eq!(fin.time, Instant::from_millis(15));
    assert_eq!(fin.seq, CLIENT_ISN + 1);
    // The rest of the close is orderly.
    w.run_to_state(b, cb, State::CloseWait, Duration::from_secs(5));
    w.with(b, |s, now| s.shutdown(now, cb, Shutdown::Write).unwrap());
    w.run_to_state(a, ca, State::TimeWait, Duration::from_secs(5));
    w.run_to_state(b, cb, State::Closed, Duration::from_secs(5));
    assert_eq!(w.closed_reason(b, cb), Some(None));
    assert!(w.sent().iter().all(|x| !x.flags.rst()));
    let path = w.path(a, ca);
    assert_eq!(
        path[..4],
        [
            State::Closed,
            State::SynSent,
            State::SynRcvd,
            State::FinWait1
        ]
    );
}

/// RFC 9293 §3.10.4 with loss: the SYN-ACK and the FIN a CLOSE in SYN-RECEIVED sent are both
/// lost. The retransmission goes back to SND.UNA = ISS, so the SYN-ACK leaves again before the
/// FIN (the SYN precedes the FIN in sequence space); the peer's ACK of the SYN ends the handshake
/// (Connected, although the state is FIN-WAIT-1), its ACK of the FIN moves us to FIN-WAIT-2, and
/// the close is orderly.
#[test]
fn close_in_syn_received_retransmits_syn_then_fin() {
    let mut w = World::seed();
    let (a, b) = (w.a(), w.b());
    let a_end = SocketAddr::new(w.a_ip, 40000);
    let b_end = SocketAddr::new(w.b_ip, 50000);
    let mut lost_synack = false;
    let mut lost_fin = false;
    w.set_drop_rule(
        a,
        Some(Box::new(move |x: &Seg| {
            if x.flags.syn() && x.flags.ack() && !lost_synack {
                lost_synack = true;
                return true;
            }
            if x.flags.fin() && !lost_fin {
                lost_fin = true;
                return true;
            }
            false
        })),
    );
    let ca = w.with(a, |s, now| s.connect(now, Some(a_end), b_end).unwrap());
    let cb = w.with(b, |s, now| s.connect(now, Some(b_end), a_end).unwrap());
    w.run_to_state(a, ca, State::SynRcvd, Duration::from_secs(1));
    w.run_for(Duration::from_millis(5));
    w.with(a, |s, now| s.shutdown(now, ca, Shutdown::Write).unwrap());
    assert_eq!(w.state(a, ca), Some(State::FinWait1));
    w.run_to_state(a, ca, State::FinWait2, Duration::from_secs(10));
    w.run_to_state(b, cb, State::CloseWait, Duration::from_secs(1));
    let dropped = w.tap_dropped(a).to_vec();
    assert_eq!(dropped.len(), 2, "the SYN-ACK and the first FIN were lost");
    assert_eq!(dropped[1].seq, CLIENT_ISN + 1);
    // After the loss: the SYN-ACK at ISS again, then the FIN at ISS + 1.
    let resent: Vec<(u32, bool, bool)> = w
        .sent_by(a)
        .iter()
        .filter(|x| x.time > dropped[1].time && (x.flags.syn() || x.flags.fin()))
        .map(|x| (x.seq, x.flags.syn(), x.flags.fin()))
        .collect();
    assert_eq!(
        resent.get(..2),
        Some(&[(CLIENT_ISN, true, false), (CLIENT_ISN + 1, false, true)][..]),
        "{resent:?}"
    );
    assert!(
        w.host(a).events.contains(&Event::Connected(ca)),
        "the ACK of the SYN completes the open"
    );
    w.with(b, |s, now| s.shutdown(now, cb, Shutdown::Write).unwrap());
    w.run_to_state(a, ca, State::TimeWait, Duration::from_secs(5));
    w.run_to_state(b, cb, State::Closed, Duration::from_secs(5));
    assert_eq!(w.closed_reason(b, cb), Some(None));
    assert!(w.sent().iter().all(|x| !x.flags.rst()));
    assert_eq!(
        w.path(a, ca),
        [
            State::Closed,
            State::SynSent,
            State::SynRcvd,
            State::FinWait1,
            State::FinWait2,
            State::TimeWait
        ]
    );
}

/// RFC 9293 §3.10.7.3 (SYN-SENT): a SYN-ACK may carry data and a FIN — "If there are other
/// controls or text in the segment, then continue processing at the sixth step". A hand-built
/// SYN,ACK,FIN with two octets moves the client to ESTABLISHED and on to CLOSE-WAIT; it
/// delivers the octets, then end of stream, and acknowledges all of it (ISS'+1+2+1).
#[test]
fn syn_ack_with_data_and_fin() {
    let mut w = World::seed();
    let (a, b) = (w.a(), w.b());
    // The server's stack never sees the SYN; the forged peer answers instead.
    w.set_up(a, b, false);
    let (caddr, saddr) = (w.caddr(), w.saddr());
    let c = w.with(a, |st, now| st.connect(now, Some(caddr), saddr).unwrap());
    w.run_for(Duration::from_millis(5));
    let synack = Forge::new(saddr, caddr, SERVER_ISN)
        .ack(CLIENT_ISN + 1)
        .flags(TcpFlags::SYN | TcpFlags::FIN)
        .payload(b"hi")
        .build();
    w.inject(b, synack);
    w.run_for(Duration::from_millis(50));
    assert_eq!(
        w.path(a, c),
        [
            State::Closed,
            State::SynSent,
            State::Established,
            State::CloseWait
        ]
    );
    assert_eq!(w.read_all(a, c), (b"hi".to_vec(), true));
    let acks: Vec<Seg> = w.sent_by(a).into_iter().filter(|x| x.flags.ack()).collect();
    assert!(!acks.is_empty());
    assert_eq!(acks.last().unwrap().ack, SERVER_ISN + 1 + 2 + 1);
    assert!(acks.iter().all(|x| !x.flags.rst()));
}

/// RFC 7323 §1.3/§2.2 and RFC 2018 §2: window scaling, timestamps and SACK are used only when
/// both SYNs carry the option; the SYN-ACK offers only what the SYN offered. With a server that
/// offers none of them, the client's later windows are unscaled (capped at 65535) and no segment
/// carries timestamps or SACK.
#[test]
fn options_used_only_when_both_offer() {
    let client = Config {
        timestamps: true,
        ..config(CLIENT_ISN)
    };
    let server = Config {
        window_scale: None,
        sack: false,
        timestamps: false,
        ..config(SERVER_ISN)
    };
    let mut w = World::new(
        client,
        server,
        LinkConfig::default().with_delay(Duration::from_millis(10)),
    );
    let (a, b) = (w.a(), w.b());
    let (c, s) = w.establish();
    let segs = w.sent();
    let syn = &segs[0].options;
    assert!(syn.window_scale.is_some() && syn.sack_permitted && syn.timestamps.is_some());
    assert_eq!(
        segs[1].line,
        "IP 10.0.0.2.80 > 10.0.0.1.40000: Flags [S.], seq 1739326486, ack 3626544837, win 65535, options [mss 1460], length 0"
    );
    let info = w.stack(a).info(c).unwrap();
    assert_eq!(
        (info.wscale, info.timestamps, info.sack),
        (None, false, false)
    );
    let data = pattern(200_000, 3);
    let mut flows = [
        Flow::new((a, c), (b, s), data.clone()),
        Flow::new((b, s), (a, c), data.clone()),
    ];
    assert!(w.transfer(&mut flows, Duration::from_secs(10)));
    for x in &w.sent()[2..] {
        assert!(x.options.timestamps.is_none(), "{}", x.line);
        assert!(x.options.sack_blocks.is_empty(), "{}", x.line);
        assert!(x.options.window_scale.is_none(), "{}", x.line);
    }
    // The client's receive buffer is 4 MiB; unscaled, it can only say 65535.
    assert!(w.sent_by(a).iter().skip(1).all(|x| x.window == 65535));
}

/// RFC 7323 §3.2 and §4.3: with timestamps on both sides the SYN-ACK echoes the SYN's TSval,
/// every later segment carries TSopt, and TSecr echoes the TSval of the segment that last
/// advanced the left window edge (TS.Recent) — here, always the peer's latest.
#[test]
fn timestamps_echoed() {
    let ts = |isn| Config {
        timestamps: true,
        ..config(isn)
    };
    let mut w = World::new(
        ts(CLIENT_ISN),
        ts(SERVER_ISN),
        LinkConfig::default().with_delay(Duration::from_millis(10)),
    );
    let (a, b) = (w.a(), w.b());
    let (c, s) = w.establish();
    let mut flows = [
        Flow::new((a, c), (b, s), b"ping".to_vec()),
        Flow::new((b, s), (a, c), b"pong".to_vec()),
    ];
    assert!(w.transfer(&mut flows, Duration::from_secs(1)));
    w.run_for(Duration::from_millis(200));
    let segs = w.sent();
    let syn_ts = segs[0].options.timestamps.unwrap();
    assert_eq!(syn_ts.tsecr, 0);
    let synack_ts = segs[1].options.timestamps.unwrap();
    assert_eq!(synack_ts.tsecr, syn_ts.tsval, "SYN-ACK echoes the SYN");
    // Each segment echoes the TSval of the last segment its sender had received (in this
    // light, in-order exchange every arrival covers Last.ACK.sent, so each updates TS.Recent).
    let caps: Vec<Seg> = w.captures().iter().filter_map(Seg::parse).collect();
    let mut recent = [None, None]; // TS.Recent at a, at b
    let mut checked = 0;
    for x in &caps {
        let t = x.options.timestamps.expect("every segment has TSopt");
        let sender = usize::from(x.from != a);
        match x.event {
            synack_sim::CaptureEvent::Delivered => recent[1 - sender] = Some(t.tsval),
            synack_sim::CaptureEvent::Sent => {
                if let Some(r) = recent[sender] {
                    assert_eq!(t.tsecr, r, "{}", x.line);
                    checked += 1;
                }
            }
            _ => {}
        }
    }
    assert!(checked >= 6, "checked {checked}");
    let info = w.stack(a).info(c).unwrap();
    assert!(info.timestamps);
}
