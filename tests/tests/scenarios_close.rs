//! Scenario tests: closing connections (RFC 9293 §3.6) — active close from either end,
//! simultaneous close, FIN+ACK in FIN-WAIT-1, half-close, and TIME-WAIT answering a retransmitted
//! FIN.

mod scenarios_util;

use scenarios_util::*;
use std::time::Duration;
use synack_core::{ConnectionError, Instant, SendError, Shutdown, State};
use synack_sim::LinkConfig;
use synack_tests::apps::Server;
use synack_tests::pattern;
use synack_wire::TcpFlags;

const MSL2: Duration = Duration::from_secs(60);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Runs until `t` and checks nothing was sent meanwhile.
fn quiet_until(w: &mut World, t: Instant) {
    let before = w.sent().len();
    w.run_to(t);
    let after = w.sent();
    assert_eq!(
        after.len(),
        before,
        "unexpected segments: {:?}",
        after[before..].iter().map(|s| &s.line).collect::<Vec<_>>()
    );
}

/// RFC 9293 §3.6 Figure 12 (normal close), client first. The FIN takes one sequence number (the
/// ACK of it is FIN seq + 1); FIN-WAIT-1 -> FIN-WAIT-2 on its ACK, -> TIME-WAIT on the peer's FIN,
/// -> CLOSED after 2 MSL (RFC 9293 §3.4.2: MSL 30 s by default here, so exactly 60 s); the server
/// goes CLOSE-WAIT -> LAST-ACK -> CLOSED.
#[test]
fn active_close_by_client() {
    let mut w = World::seed();
    let (a, b) = (w.a(), w.b());
    let (c, s) = w.establish();
    let n0 = w.sent().len();
    w.run_for(ms(70)); // t = 100 ms
    w.with(a, |st, now| st.close(now, c).unwrap());
    assert_eq!(w.state(a, c), Some(State::FinWait1));
    w.run_to_state(b, s, State::CloseWait, Duration::from_secs(1));
    w.run_to_state(a, c, State::FinWait2, Duration::from_secs(1));
    assert_eq!(w.now(), Instant::from_millis(120));
    // The server reads the end of stream, then closes a little later.
    assert_eq!(w.read_all(b, s), (Vec::new(), true));
    w.run_for(ms(80)); // t = 200 ms
    assert_eq!(w.state(a, c), Some(State::FinWait2));
    w.with(b, |st, now| st.close(now, s).unwrap());
    assert_eq!(w.state(b, s), Some(State::LastAck));
    w.run_for(ms(100));
    let segs = w.sent();
    assert_lines(
        &segs[n0..],
        &[
            "IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [F.], seq 3626544837, ack 1739326487, win 32768, length 0",
            "IP 10.0.0.2.80 > 10.0.0.1.40000: Flags [.], ack 3626544838, win 32768, length 0",
            "IP 10.0.0.2.80 > 10.0.0.1.40000: Flags [F.], seq 1739326487, ack 3626544838, win 32768, length 0",
            "IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [.], ack 1739326488, win 32768, length 0",
        ],
    );
    let times: Vec<u64> = segs[n0..].iter().map(|s| s.time.total_millis()).collect();
    assert_eq!(times, [100, 110, 200, 210]);
    // The FIN took one sequence number: the ACK of it is FIN seq + 1.
    assert_eq!(segs[n0 + 1].ack, segs[n0].seq + 1);
    assert_eq!(segs[n0 + 3].ack, segs[n0 + 2].seq + 1);

    assert_eq!(
        w.path(a, c),
        [
            State::Closed,
            State::SynSent,
            State::Established,
            State::FinWait1,
            State::FinWait2,
            State::TimeWait
        ]
    );
    assert_eq!(
        w.entered(a, c, State::TimeWait),
        Some(Instant::from_millis(210))
    );
    assert_eq!(
        w.entered(b, s, State::Closed),
        Some(Instant::from_millis(220))
    );
    assert_eq!(w.closed_reason(b, s), Some(None));
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
    // TIME-WAIT holds for exactly 2 MSL, silently.
    quiet_until(&mut w, Instant::from_millis(210 + 60_000 - 1));
    assert_eq!(w.state(a, c), Some(State::TimeWait));
    assert_eq!(w.stack(a).connection_count(), 1);
    w.run_for(ms(1));
    assert_eq!(
        w.entered(a, c, State::Closed),
        Some(Instant::from_millis(210) + MSL2)
    );
    assert_eq!(w.closed_reason(a, c), Some(None));
    assert_eq!(w.stack(a).connection_count(), 0, "the closed TCB is freed");
    assert_eq!(
        w.path(a, c),
        [
            State::Closed,
            State::SynSent,
            State::Established,
            State::FinWait1,
            State::FinWait2,
            State::TimeWait,
            State::Closed
        ]
    );
}

/// The mirror image: the server closes first and holds TIME-WAIT; the client passes through
/// CLOSE-WAIT and LAST-ACK.
#[test]
fn active_close_by_server() {
    let mut w = World::seed();
    let (a, b) = (w.a(), w.b());
    let (c, s) = w.establish();
    let n0 = w.sent().len();
    w.run_for(ms(70)); // t = 100 ms
    w.with(b, |st, now| st.shutdown(now, s, Shutdown::Write).unwrap());
    assert_eq!(w.state(b, s), Some(State::FinWait1));
    w.run_to_state(a, c, State::CloseWait, Duration::from_secs(1));
    assert_eq!(w.read_all(a, c), (Vec::new(), true));
    w.run_for(ms(90)); // t = 200 ms
    assert_eq!(w.state(b, s), Some(State::FinWait2));
    w.with(a, |st, now| st.shutdown(now, c, Shutdown::Write).unwrap());
    assert_eq!(w.state(a, c), Some(State::LastAck));
    w.run_for(ms(100));
    let segs = w.sent();
    assert_lines(
        &segs[n0..],
        &[
            "IP 10.0.0.2.80 > 10.0.0.1.40000: Flags [F.], seq 1739326487, ack 3626544837, win 32768, length 0",
            "IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [.], ack 1739326488, win 32768, length 0",
            "IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [F.], seq 3626544837, ack 1739326488, win 32768, length 0",
            "IP 10.0.0.2.80 > 10.0.0.1.40000: Flags [.], ack 3626544838, win 32768, length 0",
        ],
    );
    assert_eq!(
        w.path(a, c),
        [
            State::Closed,
            State::SynSent,
            State::Established,
            State::CloseWait,
            State::LastAck,
            State::Closed
        ]
    );
    assert_eq!(
        w.entered(a, c, State::Closed),
        Some(Instant::from_millis(220))
    );
    assert_eq!(w.closed_reason(a, c), Some(None));
    // With the handle kept (shutdown, not close), the closed connection reads end of stream.
    assert_eq!(w.read_all(a, c), (Vec::new(), true));
    assert_eq!(
        w.entered(b, s, State::TimeWait),
        Some(Instant::from_millis(210))
    );
    quiet_until(&mut w, Instant::from_millis(210 + 60_000 - 1));
    assert_eq!(w.state(b, s), Some(State::TimeWait));
    w.run_for(ms(1));
    assert_eq!(
        w.entered(b, s, State::Closed),
        Some(Instant::from_millis(210) + MSL2)
    );
    assert_eq!(
        w.path(b, s),
        [
            State::Listen,
            State::SynRcvd,
            State::Established,
            State::FinWait1,
            State::FinWait2,
            State::TimeWait,
            State::Closed
        ]
    );
}

/// RFC 9293 §3.6 Figure 13: both ends close at once. Each FIN arrives in FIN-WAIT-1 without
/// acknowledging the receiver's own FIN, so both go to CLOSING and acknowledge; each ACK then
/// moves its receiver to TIME-WAIT, and both close 2 MSL later.
#[test]
fn simultaneous_close() {
    let mut w = World::seed();
    let (a, b) = (w.a(), w.b());
    let (c, s) = w.establish();
    let n0 = w.sent().len();
    w.run_for(ms(70)); // t = 100 ms
    w.with(a, |st, now| st.shutdown(now, c, Shutdown::Write).unwrap());
    w.with(b, |st, now| st.shutdown(now, s, Shutdown::Write).unwrap());
    w.run_for(ms(100));
    let segs = w.sent();
    let mut got: Vec<&str> = segs[n0..].iter().map(|s| s.line.as_str()).collect();
    // FINs cross at 100 ms, ACKs at 110 ms; within one instant the hosts' order is not the point.
    got[..2].sort_unstable();
    got[2..].sort_unstable();
    assert_eq!(
        got,
        [
            "IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [F.], seq 3626544837, ack 1739326487, win 32768, length 0",
            "IP 10.0.0.2.80 > 10.0.0.1.40000: Flags [F.], seq 1739326487, ack 3626544837, win 32768, length 0",
            "IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [.], ack 1739326488, win 32768, length 0",
            "IP 10.0.0.2.80 > 10.0.0.1.40000: Flags [.], ack 3626544838, win 32768, length 0",
        ]
    );
    let times: Vec<u64> = segs[n0..].iter().map(|s| s.time.total_millis()).collect();
    assert_eq!(times, [100, 100, 110, 110]);
    for (h, conn, first) in [(a, c, State::SynSent), (b, s, State::SynRcvd)] {
        let path = w.path(h, conn);
        assert_eq!(
            path[1..],
            [
                first,
                State::Established,
                State::FinWait1,
                State::Closing,
                State::TimeWait
            ],
            "{path:?}"
        );
        assert_eq!(
            w.entered(h, conn, State::Closing),
            Some(Instant::from_millis(110))
        );
        assert_eq!(
            w.entered(h, conn, State::TimeWait),
            Some(Instant::from_millis(120))
        );
    }
    w.run_for(MSL2);
    for (h, conn) in [(a, c), (b, s)] {
        assert_eq!(
            w.entered(h, conn, State::Closed),
            Some(Instant::from_millis(120) + MSL2)
        );
        let path = w.path(h, conn);
        assert_eq!(
            path[path.len() - 5..],
            [
                State::Established,
                State::FinWait1,
                State::Closing,
                State::TimeWait,
                State::Closed
            ]
        );
        assert_eq!(w.closed_reason(h, conn), Some(None));
    }
    assert_eq!(w.sent().len(), n0 + 4, "nothing more was sent");
}

/// RFC 9293 §3.10.7.4 (eighth step, FIN-WAIT-1): "If our FIN has been ACKed (perhaps in this
/// segment), then enter TIME-WAIT". The server closes as soon as it reads the end of stream, so
/// its FIN rides on the ACK of ours: one FIN+ACK, and the client goes from FIN-WAIT-1 to TIME-WAIT
/// on that one segment (three segments in all).
#[test]
fn fin_ack_in_fin_wait_1_goes_to_time_wait() {
    let mut w = World::seed();
    let (a, b) = (w.a(), w.b());
    let saddr = w.saddr();
    let caddr = w.caddr();
    // The server app closes each connection the moment it sees end of stream.
    w.net.host_mut(b).host.app = Some(Box::new(Server::new(saddr, 1)));
    w.with(b, |_, _| ());
    let c = w.with(a, |st, now| st.connect(now, Some(caddr), saddr).unwrap());
    w.run_to_state(a, c, State::Established, Duration::from_secs(1));
    w.run_for(ms(80)); // t = 100 ms
    let n0 = w.sent().len();
    w.with(a, |st, now| st.close(now, c).unwrap());
    w.run_to_state(a, c, State::TimeWait, Duration::from_secs(1));
    w.run_for(ms(100));
    let segs = w.sent();
    assert_lines(
        &segs[n0..],
        &[
            "IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [F.], seq 3626544837, ack 1739326487, win 32768, length 0",
            "IP 10.0.0.2.80 > 10.0.0.1.40000: Flags [F.], seq 1739326487, ack 3626544838, win 32768, length 0",
            "IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [.], ack 1739326488, win 32768, length 0",
        ],
    );
    let t = w.transitions(a, c);
    let fw1 = t.iter().position(|x| x.1 == State::FinWait1).unwrap();
    let after: Vec<State> = t[fw1 + 1..].iter().map(|x| x.1).collect();
    // The ACK step may pass through FIN-WAIT-2 (fifth step), but not for any time: both
    // transitions happen on the FIN+ACK's arrival at 120 ms. Never CLOSING.
    assert!(
        after == [State::TimeWait] || after == [State::FinWait2, State::TimeWait],
        "{after:?}"
    );
    assert!(t[fw1 + 1..]
        .iter()
        .all(|x| x.2 == Instant::from_millis(120)));
    let server_conn = conn_by_remote(w.host(b), caddr).unwrap();
    assert_eq!(
        w.path(b, server_conn),
        [
            State::Listen,
            State::SynRcvd,
            State::Established,
            State::CloseWait,
            State::LastAck,
            State::Closed
        ]
    );
    w.run_for(MSL2);
    assert_eq!(
        w.entered(a, c, State::Closed),
        Some(Instant::from_millis(120) + MSL2)
    );
}

/// RFC 9293 §3.6 / §3.10.7.4: a half-closed connection keeps carrying data the other way. The
/// client shuts its write side; in FIN-WAIT-2 it still receives (and acknowledges) a whole
/// megabyte the server sends from CLOSE-WAIT; then the server closes.
#[test]
fn half_close_server_keeps_sending() {
    let mut w = World::new(
        config(CLIENT_ISN),
        config(SERVER_ISN),
        LinkConfig::default()
            .with_delay(ms(10))
            .with_bandwidth_bps(100_000_000),
    );
    let (a, b) = (w.a(), w.b());
    let (c, s) = w.establish();
    w.with(a, |st, now| st.shutdown(now, c, Shutdown::Write).unwrap());
    w.run_to_state(a, c, State::FinWait2, Duration::from_secs(1));
    assert_eq!(w.read_all(b, s), (Vec::new(), true));
    assert_eq!(w.state(b, s), Some(State::CloseWait));
    assert_eq!(
        w.with(a, |st, now| st.send(now, c, b"late")),
        Err(SendError::WriteClosed)
    );
    let data = pattern(1_000_000, 6);
    let fin_wait_2_from = w.now();
    let mut flow = [Flow::new((b, s), (a, c), data.clone())];
    assert!(w.transfer(&mut flow, Duration::from_secs(30)));
    assert!(flow[0].received == data, "all of it, in order");
    assert_eq!(w.state(a, c), Some(State::FinWait2));
    assert_eq!(w.entered(a, c, State::FinWait2), Some(fin_wait_2_from));
    // Everything arrived while the client was in FIN-WAIT-2; it sent only ACKs meanwhile.
    let from_client: Vec<Seg> = w
        .sent_by(a)
        .into_iter()
        .filter(|x| x.time > fin_wait_2_from)
        .collect();
    assert!(!from_client.is_empty());
    assert!(from_client.iter().all(Seg::is_pure_ack));
    // The client acknowledges every byte: the highest ACK covers the whole megabyte.
    w.run_for(ms(100));
    let top_ack = w.sent_by(a).iter().map(|x| x.ack).max().unwrap();
    assert_eq!(top_ack, SERVER_ISN + 1 + 1_000_000);
    // Now the server closes: FIN at the end of the data, client to TIME-WAIT.
    w.with(b, |st, now| st.close(now, s).unwrap());
    w.run_to_state(a, c, State::TimeWait, Duration::from_secs(1));
    let fin = w
        .sent_by(b)
        .into_iter()
        .find(|x| x.flags.fin())
        .expect("server FIN");
    assert_eq!(fin.seq, SERVER_ISN + 1 + 1_000_000);
    assert_eq!(w.read_all(a, c), (Vec::new(), true));
    w.run_to_state(b, s, State::Closed, Duration::from_secs(1));
    assert_eq!(
        w.path(b, s)[2..],
        [
            State::Established,
            State::CloseWait,
            State::LastAck,
            State::Closed
        ]
    );
    assert_eq!(
        w.path(a, c)[2..],
        [
            State::Established,
            State::FinWait1,
            State::FinWait2,
            State::TimeWait
        ]
    );
}

/// Brings the client to FIN-WAIT-2 and the server to CLOSE-WAIT; returns (client, server).
fn to_fin_wait_2(w: &mut World) -> (synack_core::ConnId, synack_core::ConnId) {
    let (a, b) = (w.a(), w.b());
    let (c, s) = w.establish();
    w.with(a, |st, now| st.close(now, c).unwrap());
    w.run_to_state(a, c, State::FinWait2, Duration::from_secs(1));
    assert_eq!(w.read_all(b, s), (Vec::new(), true));
    (c, s)
}

/// RFC 9293 §3.10.7.4 (TIME-WAIT): "The only thing that can arrive in this state is a
/// retransmission of the remote FIN. Acknowledge it, and restart the 2 MSL timeout." The
/// client's final ACK is lost once; the server retransmits its FIN after its RTO; the client
/// answers with the same ACK and stays in TIME-WAIT 2 MSL from that retransmission.
#[test]
fn time_wait_acks_retransmitted_fin() {
    let mut w = World::seed();
    let (a, b) = (w.a(), w.b());
    let (c, s) = to_fin_wait_2(&mut w);
    // Drop the first ACK of the server's FIN.
    let fin_ack = SERVER_ISN + 2;
    let mut done = false;
    w.set_drop_rule(
        a,
        Some(Box::new(move |seg: &Seg| {
            let hit = !done && seg.is_pure_ack() && seg.ack == fin_ack;
            done |= hit;
            hit
        })),
    );
    w.with(b, |st, now| st.close(now, s).unwrap());
    let fin_sent = w.now();
    w.run_to_state(a, c, State::TimeWait, Duration::from_secs(1));
    let tw = w.now();
    assert_eq!(w.tap_dropped(a).len(), 1, "the first final ACK is lost");
    w.run_to_state(b, s, State::Closed, Duration::from_secs(10));
    let fins: Vec<Seg> = w.sent_by(b).into_iter().filter(|x| x.flags.fin()).collect();
    assert_eq!(fins.len(), 2, "one retransmission of the FIN");
    assert_eq!(fins[0].line, fins[1].line, "the same FIN again");
    assert_eq!(fins[0].time, fin_sent);
    let rto = fins[1].time - fins[0].time;
    assert!(
        rto >= ms(200) && rto <= Duration::from_secs(1),
        "RTO {rto:?}"
    );
    // The client answered the retransmission with the ACK it had sent before.
    let acks: Vec<Seg> = w
        .sent_by(a)
        .into_iter()
        .filter(|x| x.time >= tw && x.is_pure_ack())
        .collect();
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0].line, w.tap_dropped(a)[0].line);
    assert_eq!(acks[0].ack, fin_ack);
    let fin2_arrival = fins[1].time + ms(10);
    assert_eq!(acks[0].time, fin2_arrival);
    assert_eq!(w.state(a, c), Some(State::TimeWait));
    // The 2 MSL timer restarted: not closed at tw + 2 MSL, closed at fin2_arrival + 2 MSL.
    assert!(fin2_arrival > tw);
    w.net.run_until(tw + MSL2 + ms(1));
    assert_eq!(
        w.state(a, c),
        Some(State::TimeWait),
        "TIME-WAIT was restarted"
    );
    w.run_for(Duration::from_secs(61));
    assert_eq!(w.entered(a, c, State::Closed), Some(fin2_arrival + MSL2));
    assert_eq!(w.closed_reason(b, s), Some(None));
}

/// The same rule with an injected duplicate of the server's FIN 30 s into TIME-WAIT: it is
/// acknowledged at once and TIME-WAIT ends 2 MSL after it, i.e. 90 s after it began.
#[test]
fn time_wait_restarts_on_duplicate_fin() {
    let mut w = World::seed();
    let (a, b) = (w.a(), w.b());
    let (c, s) = to_fin_wait_2(&mut w);
    w.with(b, |st, now| st.close(now, s).unwrap());
    w.run_to_state(a, c, State::TimeWait, Duration::from_secs(1));
    let tw = w.now();
    w.run_to_state(b, s, State::Closed, Duration::from_secs(1));
    let fin = w.sent_by(b).into_iter().find(|x| x.flags.fin()).unwrap();
    w.run_for(Duration::from_secs(30) - ms(10));
    let n0 = w.sent().len();
    let dup = Forge::new(fin.src, fin.dst, fin.seq)
        .ack(fin.ack)
        .flags(TcpFlags::FIN)
        .window(fin.window)
        .build();
    w.inject(b, dup);
    let dup_arrival = w.now() + ms(10);
    w.run_for(ms(50));
    let segs = w.sent();
    // The duplicate FIN, the client's ACK of it, and (the server's TCB being gone) the server's
    // RFC 9293 §3.10.7.1 answer <SEQ=SEG.ACK><CTL=RST> — which the client, in TIME-WAIT, ignores
    // (RFC 1337).
    assert_lines(
        &segs[n0..],
        &[
            "IP 10.0.0.2.80 > 10.0.0.1.40000: Flags [F.], seq 1739326487, ack 3626544838, win 32768, length 0",
            "IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [.], ack 1739326488, win 32768, length 0",
            "IP 10.0.0.2.80 > 10.0.0.1.40000: Flags [R], seq 1739326488, win 0, length 0",
        ],
    );
    assert_eq!(segs[n0 + 1].from, a);
    assert_eq!(segs[n0 + 1].time, dup_arrival);
    w.run_for(Duration::from_secs(35));
    assert_eq!(
        w.state(a, c),
        Some(State::TimeWait),
        "still in TIME-WAIT past {:?}",
        tw + MSL2
    );
    w.run_for(Duration::from_secs(30));
    assert_eq!(w.entered(a, c, State::Closed), Some(dup_arrival + MSL2));
    assert_eq!(w.closed_reason(a, c), Some(None));
    let _ = ConnectionError::Reset;
}

/// RFC 9293 §3.10.4 / §3.8.1: a FIN is retransmitted like data when its ACK does not come. The
/// client's first FIN is lost; it is sent again, unchanged, one RTO later, and the close completes.
#[test]
fn lost_fin_is_retransmitted() {
    let mut w = World::seed();
    let (a, b) = (w.a(), w.b());
    let (c, s) = w.establish();
    let mut done = false;
    w.set_drop_rule(
        a,
        Some(Box::new(move |x: &Seg| {
            let hit = !done && x.flags.fin();
            done |= hit;
            hit
        })),
    );
    let rto = w.stack(a).info(c).unwrap().rto;
    w.with(a, |st, now| st.shutdown(now, c, Shutdown::Write).unwrap());
    let t = w.now();
    w.run_to_state(b, s, State::CloseWait, Duration::from_secs(5));
    let fins: Vec<Seg> = w.sent_by(a).into_iter().filter(|x| x.flags.fin()).collect();
    assert_eq!(fins.len(), 1);
    assert_eq!(fins[0].line, w.tap_dropped(a)[0].line);
    assert_eq!(
        fins[0].line,
        "IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [F.], seq 3626544837, ack 1739326487, win 32768, length 0"
    );
    assert_eq!(fins[0].time, t + rto);
    assert_eq!(w.state(a, c), Some(State::FinWait1));
    w.run_to_state(a, c, State::FinWait2, Duration::from_secs(1));
    assert_eq!(w.entered(a, c, State::FinWait2), Some(t + rto + ms(20)));
    assert_eq!(w.stack(a).info(c).unwrap().counters.timeouts, 1);
}

/// RFC 9293 has no FIN-WAIT-2 timer: a half-closed connection whose user still holds it waits
/// for the peer's FIN indefinitely. A connection the user closed (orphaned) is dropped after
/// `fin_wait_2_timeout` (Linux tcp_fin_timeout, 60 s); the peer's late FIN then meets no
/// connection and gets <SEQ=SEG.ACK><CTL=RST> (RFC 9293 §3.10.7.1), which ends its LAST-ACK.
#[test]
fn fin_wait_2_timeout_only_for_orphans() {
    // Held: shutdown(Write) keeps the handle; FIN-WAIT-2 lasts.
    let mut w = World::seed();
    let (a, b) = (w.a(), w.b());
    let (c, s) = w.establish();
    w.with(a, |st, now| st.shutdown(now, c, Shutdown::Write).unwrap());
    w.run_to_state(a, c, State::FinWait2, Duration::from_secs(1));
    w.run_for(Duration::from_secs(600));
    assert_eq!(w.state(a, c), Some(State::FinWait2));
    assert_eq!(w.state(b, s), Some(State::CloseWait));

    // Orphaned: close() gives the handle up; FIN-WAIT-2 ends after 60 s.
    let mut w = World::seed();
    let (c, s) = w.establish();
    w.with(a, |st, now| st.close(now, c).unwrap());
    w.run_to_state(a, c, State::FinWait2, Duration::from_secs(1));
    let fw2 = w.now();
    w.run_to_state(a, c, State::Closed, Duration::from_secs(120));
    assert_eq!(w.now(), fw2 + Duration::from_secs(60));
    assert_eq!(w.closed_reason(a, c), Some(None));
    assert_eq!(w.stack(a).connection_count(), 0);
    assert!(w.sent_by(a).iter().all(|x| !x.flags.rst()), "a quiet end");
    // The server closes late: its FIN finds nothing and is answered with a reset.
    let late = w.now();
    w.with(b, |st, now| st.close(now, s).unwrap());
    w.run_for(ms(100));
    let last = w.sent_by(a).pop().unwrap();
    assert_eq!(
        last.line,
        "IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [R], seq 3626544838, win 0, length 0"
    );
    assert_eq!(w.entered(b, s, State::Closed), Some(late + ms(20)));
    assert_eq!(w.closed_reason(b, s), Some(None), "LAST-ACK + RST: CLOSED");
}

/// A user call made long after the stack last saw a packet or a timer must act at the time of
/// the call. Here the client half-closes at once, sits in FIN-WAIT-2 (held, so untimed) for
/// 100 s, then close()s: the orphan FIN-WAIT-2 limit (60 s, Linux tcp_fin_timeout) runs from the
/// close, so the connection lives until 160 s, and the events say when things happened.
#[test]
fn user_calls_act_at_call_time() {
    let mut w = World::seed();
    let a = w.a();
    let (c, _s) = w.establish();
    w.with(a, |st, now| st.shutdown(now, c, Shutdown::Write).unwrap());
    w.run_to_state(a, c, State::FinWait2, Duration::from_secs(1));
    w.run_to(Instant::from_secs(100));
    assert_eq!(w.state(a, c), Some(State::FinWait2));
    w.with(a, |st, now| st.close(now, c).unwrap());
    w.run_for(Duration::from_secs(1));
    w.dump();
    println!("client transitions: {:?}", w.transitions(a, c));
    assert_eq!(
        w.state(a, c),
        Some(State::FinWait2),
        "closed at {:?}, 60 s counted from before the close",
        w.entered(a, c, State::Closed)
    );
    w.run_to_state(a, c, State::Closed, Duration::from_secs(120));
    assert_eq!(
        w.entered(a, c, State::Closed),
        Some(Instant::from_secs(160))
    );
}

/// RFC 9293 §3.10.7.4 (seventh and eighth steps): a FIN is processed only when it is in sequence.
/// The server sends data and closes at once; one data segment is lost, so its FIN arrives ahead
/// of the hole. The client must stay ESTABLISHED (end of stream not yet visible) until the
/// retransmission fills the hole; then it gets every byte, the end of stream, and CLOSE-WAIT.
#[test]
fn fin_after_a_hole_waits_for_the_hole() {
    let mut w = World::seed();
    let (a, b) = (w.a(), w.b());
    let (c, s) = w.establish();
    let data = pattern(5 * 1460, 9);
    let hole = SERVER_ISN + 1 + 1460;
    let mut done = false;
    w.set_drop_rule(
        b,
        Some(Box::new(move |x: &Seg| {
            let hit = !done && x.len > 0 && x.seq == hole;
            done |= hit;
            hit
        })),
    );
    assert_eq!(w.with(b, |st, now| st.send(now, s, &data)), Ok(data.len()));
    w.with(b, |st, now| st.close(now, s).unwrap());
    let t = w.now();
    // Everything but the hole has arrived, the FIN with the last segment.
    w.run_to(t + ms(15));
    let fin = w
        .sent_by(b)
        .into_iter()
        .find(|x| x.flags.fin())
        .expect("FIN sent with the data");
    assert_eq!(
        fin.seq.wrapping_add(fin.len as u32),
        SERVER_ISN + 1 + data.len() as u32
    );
    assert_eq!(w.state(a, c), Some(State::Established), "the FIN waits");
    let (got, eof) = w.read_all(a, c);
    assert_eq!(got, data[..1460], "only the bytes before the hole");
    assert!(!eof, "no end of stream across a hole");
    // The client's duplicate ACKs do not acknowledge the FIN.
    assert!(w.sent_by(a).iter().all(|x| x.ack <= hole));
    w.run_to_state(a, c, State::CloseWait, Duration::from_secs(5));
    let (rest, eof) = w.read_all(a, c);
    assert_eq!(rest, data[1460..]);
    assert!(eof);
    let top_ack = w.sent_by(a).iter().map(|x| x.ack).max().unwrap();
    assert_eq!(
        top_ack,
        SERVER_ISN + 1 + data.len() as u32 + 1,
        "data and FIN acked"
    );
}

/// RFC 9293 §3.10.7.4: in CLOSE-WAIT a retransmitted FIN (the ACK of it was lost) is below
/// RCV.NXT, so it is unacceptable and answered with <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> — the
/// same ACK again — and nothing else changes.
#[test]
fn close_wait_acks_retransmitted_fin() {
    let mut w = World::seed();
    let (a, b) = (w.a(), w.b());
    let (c, s) = w.establish();
    let mut done = false;
    w.set_drop_rule(
        b,
        Some(Box::new(move |x: &Seg| {
            let hit = !done && x.is_pure_ack();
            done |= hit;
            hit
        })),
    );
    w.with(a, |st, now| st.shutdown(now, c, Shutdown::Write).unwrap());
    w.run_to_state(b, s, State::CloseWait, Duration::from_secs(1));
    w.run_to_state(a, c, State::FinWait2, Duration::from_secs(5));
    let fins: Vec<Seg> = w.sent_by(a).into_iter().filter(|x| x.flags.fin()).collect();
    assert_eq!(fins.len(), 2, "the FIN was retransmitted");
    let acks: Vec<Seg> = w
        .sent_by(b)
        .into_iter()
        .filter(|x| x.time > fins[0].time)
        .collect();
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0].line, w.tap_dropped(b)[0].line, "the same ACK again");
    assert_eq!(acks[0].time, fins[1].time + ms(10));
    assert_eq!(acks[0].ack, CLIENT_ISN + 2);
    assert_eq!(w.state(b, s), Some(State::CloseWait));
    assert_eq!(
        w.transitions(b, s)
            .iter()
            .filter(|t| t.1 == State::CloseWait)
            .count(),
        1
    );
}

/// RFC 9293 §3.6 Figure 13 with a lost ACK: one side's ACK of the crossing FIN is lost, so the
/// other stays in CLOSING and retransmits its FIN; the peer, already in TIME-WAIT, acknowledges it
/// (restarting its 2 MSL) and CLOSING moves on to TIME-WAIT.
#[test]
fn closing_retransmits_fin_until_acked() {
    let mut w = World::seed();
    let (a, b) = (w.a(), w.b());
    let (c, s) = w.establish();
    // Lose a's ACK of b's FIN (the first pure ACK a sends from now on).
    let mut done = false;
    w.set_drop_rule(
        a,
        Some(Box::new(move |x: &Seg| {
            let hit = !done && x.is_pure_ack();
            done |= hit;
            hit
        })),
    );
    w.with(a, |st, now| st.shutdown(now, c, Shutdown::Write).unwrap());
    w.with(b, |st, now| st.shutdown(now, s, Shutdown::Write).unwrap());
    w.run_to_state(a, c, State::TimeWait, Duration::from_secs(1));
    let a_tw = w.now();
    assert_eq!(w.state(b, s), Some(State::Closing));
    w.run_to_state(b, s, State::TimeWait, Duration::from_secs(5));
    let b_fins: Vec<Seg> = w.sent_by(b).into_iter().filter(|x| x.flags.fin()).collect();
    assert_eq!(b_fins.len(), 2);
    // The same FIN; its ACK field now acknowledges a's FIN (RCV.NXT moved on in between).
    assert_eq!(b_fins[1].seq, b_fins[0].seq);
    assert_eq!(b_fins[0].ack, CLIENT_ISN + 1);
    assert_eq!(b_fins[1].ack, CLIENT_ISN + 2);
    let b_tw = w.now();
    assert_eq!(b_tw, b_fins[1].time + ms(20));
    assert_eq!(
        w.path(b, s)[2..],
        [
            State::Established,
            State::FinWait1,
            State::Closing,
            State::TimeWait
        ]
    );
    // a's TIME-WAIT restarted when the retransmitted FIN arrived.
    w.run_for(Duration::from_secs(61));
    assert_eq!(
        w.entered(a, c, State::Closed),
        Some(b_fins[1].time + ms(10) + MSL2)
    );
    assert!(b_fins[1].time + ms(10) > a_tw);
    assert_eq!(w.entered(b, s, State::Closed), Some(b_tw + MSL2));
}
