//! Scenario tests: resets (RFC 9293 §3.5.2, §3.10.5, §3.10.7) and blind-attack defences
//! (RFC 5961 §3.2 and §4.2, RFC 1337). Hand-built segments are injected as if the peer sent them.

mod scenarios_util;

use scenarios_util::*;
use std::net::SocketAddr;
use std::time::Duration;
use synack_core::{
    Config, ConnId, ConnectionError, Instant, RecvError, SendError, Shutdown, State,
};
use synack_sim::LinkConfig;
use synack_wire::TcpFlags;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Injects a segment as if the client (host a, `caddr`) sent it to the server.
fn from_client(w: &mut World, f: impl FnOnce(&World) -> Forge) {
    let a = w.a();
    let packet = f(w).build();
    w.inject(a, packet);
}

/// A bare RST from the client's address to the server at `seq`.
fn rst(w: &World, seq: u32) -> Forge {
    Forge::new(w.caddr(), w.saddr(), seq)
        .flags(TcpFlags::RST)
        .window(0)
}

/// RFC 9293 §3.10.5 ABORT: the aborting side sends a reset (<SEQ=SND.NXT>; like Linux, with
/// <ACK=RCV.NXT>) and is CLOSED at once; the peer, in ESTABLISHED, takes it (its SEQ is exactly
/// RCV.NXT) and its RECEIVEs and SENDs report "connection reset" (RFC 9293 §3.10.7.4).
#[test]
fn abort_sends_rst_and_peer_sees_reset() {
    let mut w = World::seed();
    let (a, b) = (w.a(), w.b());
    let (c, s) = w.establish();
    let n0 = w.sent().len();
    w.run_for(ms(70));
    w.with(a, |st, now| st.abort(now, c).unwrap());
    assert_eq!(
        w.stack(a).connection_count(),
        0,
        "abort gives the connection up"
    );
    w.run_for(ms(100));
    let segs = w.sent();
    assert_lines(
        &segs[n0..],
        &["IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [R.], seq 3626544837, ack 1739326487, win 0, length 0"],
    );
    assert_eq!(w.path(a, c)[3..], [State::Closed]);
    assert_eq!(w.closed_reason(a, c), Some(Some(ConnectionError::Aborted)));
    assert_eq!(w.path(b, s)[2..], [State::Established, State::Closed]);
    assert_eq!(
        w.entered(b, s, State::Closed),
        Some(Instant::from_millis(110))
    );
    assert_eq!(w.closed_reason(b, s), Some(Some(ConnectionError::Reset)));
    let mut buf = [0u8; 16];
    assert_eq!(
        w.with(b, |st, _| st.recv(s, &mut buf)),
        Err(RecvError::Connection(ConnectionError::Reset))
    );
    assert_eq!(
        w.with(b, |st, now| st.send(now, s, b"hello")),
        Err(SendError::Connection(ConnectionError::Reset))
    );
    assert_eq!(w.stack(b).error(s), Some(ConnectionError::Reset));
}

/// Drives the server's connection into `target` (the client's end goes wherever it must) and
/// returns (client, server) connections. Links are left so that the client's host can still reach
/// the server's.
fn server_in(w: &mut World, target: State) -> (ConnId, ConnId) {
    let (a, b) = (w.a(), w.b());
    let (c, s) = w.establish();
    let limit = Duration::from_secs(1);
    match target {
        State::Established => {}
        State::FinWait1 => {
            // The FIN is lost (b -> a down), so it is never acknowledged.
            w.set_up(b, a, false);
            w.with(b, |st, now| st.shutdown(now, s, Shutdown::Write).unwrap());
            w.run_for(ms(1));
        }
        State::FinWait2 => {
            w.with(b, |st, now| st.shutdown(now, s, Shutdown::Write).unwrap());
            w.run_to_state(b, s, State::FinWait2, limit);
        }
        State::CloseWait => {
            w.with(a, |st, now| st.shutdown(now, c, Shutdown::Write).unwrap());
            w.run_to_state(b, s, State::CloseWait, limit);
        }
        State::Closing => {
            // The FINs cross (100 ms); the ACKs that would end CLOSING are cut on the way.
            w.with(a, |st, now| st.shutdown(now, c, Shutdown::Write).unwrap());
            w.with(b, |st, now| st.shutdown(now, s, Shutdown::Write).unwrap());
            w.run_to_state(b, s, State::Closing, limit);
            w.set_up(a, b, false);
            w.run_for(ms(15));
            w.set_up(a, b, true);
            w.set_up(b, a, false);
        }
        State::LastAck => {
            w.with(a, |st, now| st.shutdown(now, c, Shutdown::Write).unwrap());
            w.run_to_state(b, s, State::CloseWait, limit);
            w.set_up(b, a, false);
            w.with(b, |st, now| st.shutdown(now, s, Shutdown::Write).unwrap());
            w.run_for(ms(1));
        }
        State::TimeWait => {
            w.with(b, |st, now| st.shutdown(now, s, Shutdown::Write).unwrap());
            w.run_to_state(b, s, State::FinWait2, limit);
            w.with(a, |st, now| st.shutdown(now, c, Shutdown::Write).unwrap());
            w.run_to_state(b, s, State::TimeWait, limit);
        }
        other => panic!("no recipe for {other}"),
    }
    assert_eq!(w.state(b, s), Some(target));
    (c, s)
}

/// RFC 9293 §3.10.7.4 second check with RFC 5961 §3.2: a RST whose SEQ is exactly RCV.NXT
/// resets the connection: ESTABLISHED, FIN-WAIT-1, FIN-WAIT-2 and CLOSE-WAIT report "reset" to the
/// user; CLOSING and LAST-ACK just enter CLOSED. Nothing is sent in answer to a RST.
#[test]
fn exact_rst_closes_every_synchronized_state() {
    let cases = [
        (State::Established, Some(ConnectionError::Reset)),
        (State::FinWait1, Some(ConnectionError::Reset)),
        (State::FinWait2, Some(ConnectionError::Reset)),
        (State::CloseWait, Some(ConnectionError::Reset)),
        (State::Closing, None),
        (State::LastAck, None),
    ];
    for (state, reason) in cases {
        let mut w = World::seed();
        let b = w.b();
        let (_, s) = server_in(&mut w, state);
        let (_, rcv_nxt) = w.seqs(b, s);
        let n0 = w.sent_by(b).len();
        let at = w.now();
        from_client(&mut w, |w| rst(w, rcv_nxt));
        w.run_for(ms(10));
        assert_eq!(w.state(b, s), Some(State::Closed), "RST in {state}");
        let t = w.transitions(b, s);
        assert_eq!(t.last().unwrap().0, state, "RST in {state}: {t:?}");
        assert_eq!(t.last().unwrap().2, at + ms(10));
        assert_eq!(w.closed_reason(b, s), Some(reason), "RST in {state}");
        if let Some(e) = reason {
            let mut buf = [0u8; 8];
            assert_eq!(
                w.with(b, |st, _| st.recv(s, &mut buf)),
                Err(RecvError::Connection(e)),
                "RST in {state}"
            );
        }
        assert_eq!(w.sent_by(b).len(), n0, "RST in {state}: no answer");
    }
}

/// RFC 9293 §3.10.7.4 (SYN-RECEIVED): "If the RST bit is set: If this connection was initiated
/// with a passive OPEN (i.e., came from the LISTEN state), then return this connection to LISTEN
/// state and return." The half-open connection goes away; the listener keeps working.
#[test]
fn exact_rst_in_syn_received_returns_to_listen() {
    let mut w = World::seed();
    let (a, b) = (w.a(), w.b());
    let saddr = w.saddr();
    let l = w.with(b, |st, _| st.listen(saddr, 8).unwrap());
    // A SYN from an address with no host: the SYN-ACK goes nowhere, the server sits in SYN-RCVD.
    let ghost = SocketAddr::new("10.0.0.99".parse().unwrap(), 7777);
    w.inject(
        a,
        Forge::new(ghost, saddr, 5000).flags(TcpFlags::SYN).build(),
    );
    w.run_for(ms(20));
    let half = conn_by_remote(w.host(b), ghost).expect("half-open connection");
    assert_eq!(w.state(b, half), Some(State::SynRcvd));
    let n0 = w.sent_by(b).len();
    // RCV.NXT is 5001.
    w.inject(
        a,
        Forge::new(ghost, saddr, 5001)
            .flags(TcpFlags::RST)
            .window(0)
            .build(),
    );
    w.run_for(ms(20));
    assert_eq!(w.state(b, half), None, "the half-open connection is gone");
    assert_eq!(
        w.path(b, half),
        [State::Listen, State::SynRcvd, State::Closed]
    );
    assert_eq!(w.sent_by(b).len(), n0, "no answer to the RST");
    assert!(w
        .stack(b)
        .listeners()
        .any(|(id, _, queued, half)| id == l && queued == 0 && half == 0));
    assert_eq!(w.with(b, |st, _| st.accept(l)), None);
    // The listener still accepts a real client.
    let caddr = w.caddr();
    let c = w.with(a, |st, now| st.connect(now, Some(caddr), saddr).unwrap());
    w.run_to_state(a, c, State::Established, Duration::from_secs(1));
    w.run_for(ms(20));
    assert!(w.with(b, |st, _| st.accept(l)).is_some());
}

/// RFC 5961 §3.2: a RST inside the window but not exactly at RCV.NXT gets a challenge ACK
/// <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> and changes nothing; RFC 9293 §3.10.7.4 first check: a RST
/// outside the window is dropped without an answer.
#[test]
fn inexact_rst_challenged_out_of_window_rst_ignored() {
    for state in [State::Established, State::FinWait2, State::CloseWait] {
        let mut w = World::seed();
        let b = w.b();
        let (_, s) = server_in(&mut w, state);
        let (snd_nxt, rcv_nxt) = w.seqs(b, s);
        let wnd = w.rcv_wnd(b, s);
        assert!(wnd >= 65535, "{state}: window {wnd}");
        let counters = |w: &World| w.stack(b).info(s).unwrap().counters.challenge_acks;
        let c0 = counters(&w);
        // In the window, not exact: the next octet, and the last one of the window.
        for seq in [rcv_nxt.wrapping_add(1), rcv_nxt.wrapping_add(wnd - 1)] {
            let n0 = w.sent_by(b).len();
            from_client(&mut w, |w| rst(w, seq));
            w.run_for(ms(10));
            let out = w.sent_by(b);
            assert_eq!(
                out.len(),
                n0 + 1,
                "{state}: one challenge ACK for RST at {seq}"
            );
            let ack = &out[n0];
            assert!(ack.is_pure_ack(), "{}", ack.line);
            assert_eq!((ack.seq, ack.ack), (snd_nxt, rcv_nxt), "{}", ack.line);
            assert_eq!(w.state(b, s), Some(state));
        }
        assert_eq!(counters(&w), c0 + 2);
        // The challenge ACKs advertised a window of their own: RCV.WND is what was last offered.
        let wnd = w.rcv_wnd(b, s);
        // Outside the window: just left of RCV.NXT, just past the right edge, far away.
        for seq in [
            rcv_nxt.wrapping_sub(1),
            rcv_nxt.wrapping_add(wnd),
            rcv_nxt.wrapping_add(1 << 31),
        ] {
            let n0 = w.sent_by(b).len();
            from_client(&mut w, |w| rst(w, seq));
            w.run_for(ms(10));
            assert_eq!(
                w.sent_by(b).len(),
                n0,
                "{state}: out-of-window RST at {seq} ignored"
            );
            assert_eq!(w.state(b, s), Some(state));
        }
        assert_eq!(counters(&w), c0 + 2);
        assert_eq!(w.stack(b).error(s), None);
    }
}

/// RFC 5961 §4.2: a SYN in a synchronized state, whatever its sequence number, gets a challenge
/// ACK <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>; the connection is not reset and keeps working.
#[test]
fn syn_in_established_gets_challenge_ack() {
    let mut w = World::seed();
    let (a, b) = (w.a(), w.b());
    let (c, s) = w.establish();
    let (snd_nxt, rcv_nxt) = w.seqs(b, s);
    let c0 = w.stack(b).info(s).unwrap().counters.challenge_acks;
    // In the window (exactly RCV.NXT), the old ISN (a stale retransmitted SYN), and far outside.
    for seq in [rcv_nxt, CLIENT_ISN, rcv_nxt.wrapping_add(1 << 30)] {
        let n0 = w.sent_by(b).len();
        from_client(&mut w, |w| {
            Forge::new(w.caddr(), w.saddr(), seq).flags(TcpFlags::SYN)
        });
        w.run_for(ms(10));
        let out = w.sent_by(b);
        assert_eq!(out.len(), n0 + 1, "one ACK for SYN at {seq}");
        assert_eq!(
            out[n0].line,
            "IP 10.0.0.2.80 > 10.0.0.1.40000: Flags [.], ack 3626544837, win 32768, length 0"
        );
        assert_eq!((out[n0].seq, out[n0].ack), (snd_nxt, rcv_nxt));
        assert_eq!(w.state(b, s), Some(State::Established));
    }
    // The in-window SYN is the RFC 5961 §4.2 case proper and is counted as a challenge.
    assert!(w.stack(b).info(s).unwrap().counters.challenge_acks > c0);
    w.run_for(ms(50));
    assert!(
        w.sent().iter().all(|x| !x.flags.rst()),
        "nobody reset anything"
    );
    let mut flows = [Flow::new((a, c), (b, s), b"still here".to_vec())];
    assert!(w.transfer(&mut flows, Duration::from_secs(1)));
    assert_eq!(flows[0].received, b"still here");
}

/// RFC 1337 (TIME-WAIT assassination, hazard H1): with `rfc1337` on (the default) a RST in
/// TIME-WAIT is ignored and TIME-WAIT runs its full 2 MSL; with it off, RFC 9293 §3.10.7.4
/// applies and the RST closes the connection at once.
#[test]
fn rst_in_time_wait() {
    for rfc1337 in [true, false] {
        let server = Config {
            rfc1337,
            ..config(SERVER_ISN)
        };
        let mut w = World::new(
            config(CLIENT_ISN),
            server,
            LinkConfig::default().with_delay(ms(10)),
        );
        let b = w.b();
        let (_, s) = server_in(&mut w, State::TimeWait);
        let tw = w.entered(b, s, State::TimeWait).unwrap();
        let (_, rcv_nxt) = w.seqs(b, s);
        let n0 = w.sent_by(b).len();
        w.run_for(Duration::from_secs(5));
        from_client(&mut w, |w| rst(w, rcv_nxt));
        w.run_for(ms(20));
        assert_eq!(w.sent_by(b).len(), n0, "no answer to the RST");
        if rfc1337 {
            assert_eq!(w.state(b, s), Some(State::TimeWait));
            w.run_for(Duration::from_secs(60));
            assert_eq!(
                w.entered(b, s, State::Closed),
                Some(tw + Duration::from_secs(60))
            );
        } else {
            assert_eq!(w.state(b, s), Some(State::Closed));
            assert_eq!(
                w.entered(b, s, State::Closed),
                Some(tw + Duration::from_secs(5) + ms(10))
            );
        }
        assert_eq!(w.closed_reason(b, s), Some(None));
    }
}

/// RFC 9293 §3.10.7.3 (SYN-SENT) with RFC 5961 §3.2: a RST is acceptable only if it acknowledges
/// our SYN (ISS < SEG.ACK =< SND.NXT). A RST without ACK, or with a wrong ACK, is dropped; the
/// right one refuses the connection.
#[test]
fn rst_in_syn_sent_needs_acceptable_ack() {
    let mut w = World::seed();
    let (a, b) = (w.a(), w.b());
    // The SYN never arrives; only injected segments reach the client.
    w.set_up(a, b, false);
    let (caddr, saddr) = (w.caddr(), w.saddr());
    let c = w.with(a, |st, now| st.connect(now, Some(caddr), saddr).unwrap());
    let reset = |seq: u32, ack: Option<u32>| {
        let f = Forge::new(saddr, caddr, seq).flags(TcpFlags::RST).window(0);
        match ack {
            Some(x) => f.ack(x),
            None => f,
        }
    };
    for (seq, ack) in [
        (0, None),
        (0, Some(CLIENT_ISN)),
        (0, Some(CLIENT_ISN + 2)),
        (9, Some(CLIENT_ISN.wrapping_sub(1000))),
    ] {
        w.inject(b, reset(seq, ack).build());
        w.run_for(ms(20));
        assert_eq!(
            w.state(a, c),
            Some(State::SynSent),
            "RST seq {seq} ack {ack:?}"
        );
    }
    // Nothing answered those (the unacceptable-ACK RST rule excludes RSTs).
    assert!(w.sent_by(a).iter().all(|x| x.flags.syn() && !x.flags.ack()));
    w.inject(b, reset(0, Some(CLIENT_ISN + 1)).build());
    w.run_for(ms(20));
    assert_eq!(w.path(a, c), [State::Closed, State::SynSent, State::Closed]);
    assert_eq!(w.closed_reason(a, c), Some(Some(ConnectionError::Refused)));
}

/// RFC 1122 §4.2.2.13: "If such a host issues a CLOSE call while received data is still pending
/// in TCP, or if new data is received after CLOSE is called, its TCP SHOULD send a RST to show
/// that data was lost." (RFC 2525 §2.17.) Both cases, each answered with a reset the peer
/// accepts (its SEQ is the peer's RCV.NXT).
#[test]
fn close_losing_data_resets() {
    // Close with unread data.
    let mut w = World::seed();
    let (a, b) = (w.a(), w.b());
    let (c, s) = w.establish();
    w.with(b, |st, now| st.send(now, s, b"never read").unwrap());
    w.run_for(ms(100));
    assert_eq!(w.stack(a).info(c).unwrap().recv_queue, 10);
    let n0 = w.sent_by(a).len();
    w.with(a, |st, now| st.close(now, c).unwrap());
    w.run_for(ms(50));
    let out = w.sent_by(a);
    assert_eq!(out.len(), n0 + 1);
    assert!(out[n0].flags.rst(), "{}", out[n0].line);
    assert!(!out[n0].flags.fin(), "a reset, not an orderly FIN");
    assert_eq!(out[n0].seq, CLIENT_ISN + 1, "SEQ = SND.NXT");
    assert_eq!(w.closed_reason(b, s), Some(Some(ConnectionError::Reset)));
    assert_eq!(w.stack(a).connection_count(), 0);

    // Data arriving after close(): the client closed (FIN sent, FIN-WAIT-2), the server then sends.
    let mut w = World::seed();
    let (c, s) = w.establish();
    w.with(a, |st, now| st.close(now, c).unwrap());
    w.run_to_state(b, s, State::CloseWait, Duration::from_secs(1));
    w.run_for(ms(20));
    assert_eq!(w.state(a, c), Some(State::FinWait2));
    w.with(b, |st, now| st.send(now, s, b"too late").unwrap());
    w.run_for(ms(100));
    let rst = w
        .sent_by(a)
        .into_iter()
        .find(|x| x.flags.rst())
        .expect("the client resets");
    assert_eq!(rst.seq, CLIENT_ISN + 2, "SEQ = SND.NXT (after the FIN)");
    assert_eq!(w.closed_reason(b, s), Some(Some(ConnectionError::Reset)));
    assert_eq!(w.stack(a).connection_count(), 0);
}
