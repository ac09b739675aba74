//! Issue 5, bounded resources: every configurable limit holds under a load that would pass it,
//! and the counter that says so rises. (The FIN-WAIT-2 timeout for orphans, Linux
//! `tcp_fin_timeout`, is tested in `scenarios_close.rs::fin_wait_2_timeout_only_for_orphans`.)

mod scenarios_util;

use scenarios_util::{config, Forge, World, CLIENT_ISN, CPORT, SERVER_ISN};
use std::cell::Cell;
use std::net::SocketAddr;
use std::time::Duration;
use synack_core::{Config, ConnId, ConnectError, ConnectionError, SendError, Stack, State};
use synack_sim::{HostId, LinkConfig};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn world(a_cfg: Config, b_cfg: Config) -> World {
    World::new(a_cfg, b_cfg, LinkConfig::default().with_delay(ms(10)))
}

/// Runs for `d`, calling `sample` before every network step; returns the largest sample.
fn run_sampling(w: &mut World, d: Duration, sample: impl Fn(&World) -> usize) -> usize {
    let peak = Cell::new(0usize);
    w.run_until(d, |w| {
        peak.set(peak.get().max(sample(w)));
        false
    });
    peak.get().max(sample(w))
}

/// Listens on b and connects `n` client connections from ports CPORT.. to it; returns the
/// client handles and the accepted server handles (as many as the server took).
fn open_many(w: &mut World, n: u16) -> (Vec<ConnId>, Vec<ConnId>) {
    let (a, b, saddr) = (w.a(), w.b(), w.saddr());
    let l = w.with(b, |s, _| s.listen(saddr, 1024).expect("listen"));
    let a_ip = w.a_ip;
    let clients: Vec<ConnId> = (0..n)
        .map(|i| {
            w.with(a, |s, now| {
                s.connect(now, Some(SocketAddr::new(a_ip, CPORT + i)), saddr)
                    .expect("connect")
            })
        })
        .collect();
    let cs = clients.clone();
    let want = usize::from(n);
    w.run_until(Duration::from_secs(5), move |w| {
        cs.iter()
            .all(|c| w.state(a, *c) == Some(State::Established))
            && w.stack(b)
                .listeners()
                .any(|(_, _, queued, _)| queued >= want)
    });
    let mut servers = Vec::new();
    while let Some(s) = w.with(b, |s, _| s.accept(l)) {
        servers.push(s);
    }
    (clients, servers)
}

fn audit(s: &Stack) {
    assert_eq!(
        s.memory_used(),
        s.connection_memory(),
        "running total and walk disagree"
    );
}

#[test]
fn max_connections_refuses_connects_and_drops_syns_past_it() {
    let client = Config {
        max_connections: 8,
        ..config(CLIENT_ISN)
    };
    let server = Config {
        max_connections: 4,
        ..config(SERVER_ISN)
    };
    let mut w = world(client, server);
    let (a, b, saddr) = (w.a(), w.b(), w.saddr());
    w.with(b, |s, _| s.listen(saddr, 128).expect("listen"));
    let a_ip = w.a_ip;
    for i in 0..8 {
        w.with(a, |s, now| {
            s.connect(now, Some(SocketAddr::new(a_ip, CPORT + i)), saddr)
        })
        .expect("8 connects fit the client's limit");
    }
    let ninth = w.with(a, |s, now| {
        s.connect(now, Some(SocketAddr::new(a_ip, CPORT + 8)), saddr)
    });
    assert_eq!(ninth, Err(ConnectError::TooManyConnections));
    let peak = run_sampling(&mut w, Duration::from_secs(5), |w| {
        w.stack(b).connection_count()
    });
    println!(
        "max_connections: server peak {peak} of 4, connection_limit drops {}",
        w.stack(b).stats().drops_for("connection_limit")
    );
    assert_eq!(peak, 4, "the server fills up to its limit and no further");
    assert!(w.stack(b).stats().drops_for("connection_limit") >= 4);
}

#[test]
fn send_takes_no_more_than_the_buffer_holds() {
    let client = Config {
        send_buffer: 10_000,
        ..config(CLIENT_ISN)
    };
    let server = Config {
        recv_buffer: 4096,
        ..config(SERVER_ISN)
    };
    let mut w = world(client, server);
    let (c, _) = w.establish();
    let a = c;
    let (mut peak, mut blocked) = (0usize, 0);
    for _ in 0..40 {
        let room = w.with(w.a(), |s, _| s.send_capacity(a).expect("live"));
        match w.with(w.a(), |s, now| s.send(now, a, &[7; 20_000])) {
            Ok(n) => assert!(n <= room, "send took {n} with {room} free"),
            Err(SendError::WouldBlock) => {
                assert_eq!(room, 0);
                blocked += 1;
            }
            Err(e) => panic!("unexpected {e}"),
        }
        let queued = w.stack(w.a()).info(a).expect("live").send_queue;
        assert!(queued <= 10_000, "send queue {queued}");
        peak = peak.max(queued);
        w.run_for(ms(50));
    }
    println!("send_buffer: peak send queue {peak} of 10000, {blocked} WouldBlock");
    assert_eq!(peak, 10_000);
    assert!(blocked > 0, "a stalled peer must fill the buffer");
}

#[test]
fn recv_buffer_bounds_what_the_peer_can_push() {
    let server = Config {
        recv_buffer: 8192,
        ..config(SERVER_ISN)
    };
    let mut w = world(config(CLIENT_ISN), server);
    let (c, s) = w.establish();
    let (a, b) = (w.a(), w.b());
    let queued = w.with(a, |st, now| st.send(now, c, &[1; 100_000]).expect("send"));
    assert_eq!(queued, 100_000);
    // Nobody reads at b.
    let peak = run_sampling(&mut w, Duration::from_secs(5), move |w| {
        w.stack(b).info(s).map_or(0, |i| i.recv_queue)
    });
    assert_eq!(peak, 8192, "the window lets exactly the buffer in");
    // Forged data past the (now closed) window is dropped, not buffered.
    let (snd_nxt, rcv_nxt) = w.seqs(b, s);
    let before = w.stack(b).stats().drops_for("tcp_out_of_window");
    for k in 0..10u32 {
        let seg = Forge::new(w.caddr(), w.saddr(), rcv_nxt + 100 + k * 500)
            .ack(snd_nxt)
            .payload(&[9; 500])
            .build();
        w.inject(a, seg);
    }
    w.run_for(ms(100));
    let after = w.stack(b).stats().drops_for("tcp_out_of_window");
    let recv_queue = w.stack(b).info(s).expect("live").recv_queue;
    println!(
        "recv_buffer: peak recv queue {peak} of 8192; forged beyond window dropped {}",
        after - before
    );
    assert_eq!(recv_queue, 8192);
    assert!(after - before >= 10);
}

#[test]
fn out_of_order_bytes_are_capped_and_in_order_data_is_not() {
    let server = Config {
        max_ooo_bytes: 3000,
        ..config(SERVER_ISN)
    };
    let mut w = world(config(CLIENT_ISN), server);
    let (_, s) = w.establish();
    let (a, b) = (w.a(), w.b());
    // The client must not see the server's answers to segments it never sent.
    w.set_up(b, a, false);
    let (snd_nxt, base) = w.seqs(b, s);
    let forge = |w: &World, off: u32| {
        Forge::new(w.caddr(), w.saddr(), base + off)
            .ack(snd_nxt)
            .payload(&[off as u8; 1000])
            .build()
    };
    let mut peak = 0;
    // Six segments past a hole, each opening a new range: 6000 bytes offered, 3000 allowed.
    for k in 0..6u32 {
        let seg = forge(&w, 1000 + k * 2000);
        w.inject(a, seg);
        w.run_for(ms(20));
        peak = peak.max(w.stack(b).info(s).expect("live").ooo_queue);
    }
    assert_eq!(peak, 3000);
    assert_eq!(w.stack(b).stats().drops_for("tcp_ooo_limit"), 3);
    // In order: 10000 bytes, far past the out-of-order cap, all taken.
    for k in 0..10u32 {
        let seg = forge(&w, k * 1000);
        w.inject(a, seg);
        w.run_for(ms(20));
    }
    let info = w.stack(b).info(s).expect("live");
    println!(
        "max_ooo_bytes: peak out-of-order {peak} of 3000; then {} in order",
        info.recv_queue
    );
    assert_eq!(w.seqs(b, s).1, base + 10_000);
    assert_eq!(info.recv_queue, 10_000);
    assert_eq!(info.ooo_queue, 0);
    assert_eq!(
        w.stack(b).stats().drops_for("tcp_ooo_limit"),
        3,
        "in-order data never counts"
    );
}

/// Bookkeeping one out-of-order insertion may add past the limit: the range list and the
/// recent-segment list can each double once (8-byte and 4-byte entries). Buffer storage, the
/// bulk, is checked before it is allocated and never passes the limit; and at the limit
/// out-of-order data is refused, so only one such insertion can be in excess.
fn ooo_bookkeeping_slack(cfg: &Config) -> usize {
    16 * cfg.max_ooo_ranges + 64
}

#[test]
fn memory_limit_holds_refuses_new_work_and_recovers_after_reads() {
    const CONNS: u16 = 8;
    const PER_CONN: usize = 64 * 1024;
    let server = Config {
        recv_buffer: 64 * 1024,
        memory_limit: 200_000,
        max_ooo_ranges: 8,
        syn_cookies: false,
        ..config(SERVER_ISN)
    };
    let limit = server.memory_limit;
    let slack = ooo_bookkeeping_slack(&server);
    let mut w = world(config(CLIENT_ISN), server);
    let (a, b) = (w.a(), w.b());
    let (clients, servers) = open_many(&mut w, CONNS);
    assert_eq!(servers.len(), usize::from(CONNS));
    for &c in &clients {
        let n = w.with(a, |s, now| {
            s.send(now, c, &vec![5; PER_CONN]).expect("send")
        });
        assert_eq!(n, PER_CONN);
    }
    // Stalled readers: 8 x 64 KiB offered to a stack allowed 200 kB.
    let peak = run_sampling(&mut w, Duration::from_secs(3), |w| {
        audit(w.stack(b));
        w.stack(b).memory_used()
    });
    let stats = w.stack(b).stats().clone();
    assert!(peak <= limit + slack, "peak {peak} > {limit} + {slack}");
    assert!(
        peak > limit - 70_000,
        "the load must reach the limit (peak {peak})"
    );
    assert!(stats.memory_pressure_drops > 0);
    assert_eq!(
        stats.drops_for("memory_pressure"),
        stats.memory_pressure_drops
    );
    // New work is refused: a connect from the server, and a SYN to it.
    let a_addr = SocketAddr::new(w.a_ip, 9);
    let refused = w.with(b, |s, now| s.connect(now, None, a_addr));
    assert_eq!(refused, Err(ConnectError::NoMemory));
    let saddr = w.saddr();
    let late_addr = SocketAddr::new(w.a_ip, CPORT + 100);
    let late = w.with(a, |s, now| {
        s.connect(now, Some(late_addr), saddr).expect("connect")
    });
    let refused_before = w.stack(b).stats().memory_pressure_refused;
    w.run_for(ms(500));
    assert_eq!(w.state(a, late), Some(State::SynSent), "the SYN is dropped");
    let refused = w.stack(b).stats().memory_pressure_refused;
    assert!(refused > refused_before, "the dropped SYN is counted");
    // The readers drain: memory comes back, the peer's retransmissions get in, and every byte
    // arrives intact.
    let mut got = vec![0usize; servers.len()];
    let mut buf = vec![0u8; 65536];
    let give_up = w.now() + Duration::from_secs(600);
    let mut peak_after = 0;
    while got.iter().any(|&n| n < PER_CONN) && w.now() < give_up {
        for (i, &s) in servers.iter().enumerate() {
            while let Ok(n) = w.with(b, |st, _| st.recv(s, &mut buf)) {
                if n == 0 {
                    break;
                }
                assert!(buf[..n].iter().all(|&x| x == 5));
                got[i] += n;
            }
        }
        audit(w.stack(b));
        peak_after = peak_after.max(w.stack(b).memory_used());
        w.net.step();
    }
    assert!(got.iter().all(|&n| n == PER_CONN), "delivered {got:?}");
    assert!(
        peak_after <= limit + slack,
        "peak {peak_after} while draining"
    );
    let used_after = w.stack(b).memory_used();
    // Connects work again, both ways.
    let again = w.with(b, |s, now| s.connect(now, None, a_addr));
    assert!(again.is_ok(), "connect after the drain: {again:?}");
    let fresh_addr = SocketAddr::new(w.a_ip, CPORT + 200);
    let fresh = w.with(a, |s, now| {
        s.connect(now, Some(fresh_addr), saddr).expect("connect")
    });
    w.run_to_state(a, fresh, State::Established, Duration::from_secs(5));
    println!(
        "memory_limit {limit}: peak used {peak} (slack {slack}), {} segments dropped, {refused} \
         refused; peak while draining {peak_after}; after drain {used_after}",
        stats.memory_pressure_drops
    );
}

#[test]
fn orphans_past_the_limit_are_reset() {
    let client = Config {
        max_orphans: 3,
        ..config(CLIENT_ISN)
    };
    let mut w = world(client, config(SERVER_ISN));
    let (a, b) = (w.a(), w.b());
    let (clients, servers) = open_many(&mut w, 6);
    assert_eq!(servers.len(), 6);
    // The peer never acknowledges our FINs: every close leaves an orphan in FIN-WAIT-1.
    w.set_up(b, a, false);
    let mut peak = 0;
    for &c in &clients {
        w.with(a, |s, now| s.close(now, c).expect("close"));
        peak = peak.max(w.stack(a).orphan_count());
    }
    peak = peak.max(run_sampling(&mut w, Duration::from_secs(10), |w| {
        w.stack(a).orphan_count()
    }));
    let reset = w.stack(a).stats().orphans_reset;
    println!("max_orphans 3: peak orphans {peak}, reset {reset}");
    assert_eq!(peak, 3);
    assert_eq!(reset, 3);
    let live: Vec<_> = clients
        .iter()
        .filter(|&&c| w.state(a, c) == Some(State::FinWait1))
        .collect();
    assert_eq!(live.len(), 3, "three orphans finish their close");
    // The peer learns of the three resets (RFC 9293 §3.10.7.4: a RST in the window).
    let reset_at_peer = servers
        .iter()
        .filter(|&&s| w.closed_reason(b, s) == Some(Some(ConnectionError::Reset)))
        .count();
    assert_eq!(reset_at_peer, 3);
}

/// Counts pure ACKs host `h` sent to `to` at or after `since`.
fn acks_sent(w: &mut World, h: HostId, since: synack_core::Instant) -> usize {
    w.sent_by(h)
        .iter()
        .filter(|s| s.time >= since && s.is_pure_ack())
        .count()
}

#[test]
fn out_of_window_acks_are_rate_limited_per_connection() {
    let mut w = World::seed();
    let (_, s) = w.establish();
    let (a, b) = (w.a(), w.b());
    let (snd_nxt, rcv_nxt) = w.seqs(b, s);
    let t0 = w.now();
    // 1000 segments far out of the window, one per millisecond: a second of virtual time.
    for _ in 0..1000 {
        let seg = Forge::new(w.caddr(), w.saddr(), rcv_nxt.wrapping_add(1 << 30))
            .ack(snd_nxt)
            .build();
        w.inject(a, seg);
        w.run_for(ms(1));
    }
    // Sent within one second; the last ones are still on the 10 ms link.
    assert!(w.now() <= t0 + Duration::from_secs(1) + ms(1));
    w.run_for(ms(20));
    let acks = acks_sent(&mut w, b, t0);
    let stats = w.stack(b).stats().clone();
    println!(
        "oow ACK limit: {acks} ACKs for 1000 out-of-window segments, {} suppressed",
        stats.oow_acks_suppressed
    );
    assert!((1..=2).contains(&acks), "{acks} ACKs");
    assert_eq!(stats.oow_acks_suppressed, 1000 - acks as u64);
    assert_eq!(stats.drops_for("tcp_out_of_window"), 1000);
    assert_eq!(
        stats.challenge_acks_sent, 0,
        "challenge ACKs are a separate budget"
    );
}

#[test]
fn old_data_is_acknowledged_every_time() {
    // As Linux tcp_oow_rate_limited: a segment with data below RCV.NXT is a retransmission whose
    // ACK was lost; its duplicate ACK is what the sender needs, so it is never withheld.
    let mut w = World::seed();
    let (c, s) = w.establish();
    let (a, b) = (w.a(), w.b());
    w.with(a, |st, now| st.send(now, c, &[3; 100]).expect("send"));
    w.run_for(ms(200));
    let (snd_nxt, rcv_nxt) = w.seqs(b, s);
    let t0 = w.now();
    for _ in 0..10 {
        let seg = Forge::new(w.caddr(), w.saddr(), rcv_nxt.wrapping_sub(100))
            .ack(snd_nxt)
            .payload(&[3; 100])
            .build();
        w.inject(a, seg);
        w.run_for(ms(10));
    }
    assert_eq!(acks_sent(&mut w, b, t0), 10);
    assert_eq!(w.stack(b).stats().oow_acks_suppressed, 0);
}

#[test]
fn running_memory_total_matches_the_walk_under_random_work() {
    let server = Config {
        recv_buffer: 32 * 1024,
        memory_limit: 120_000,
        max_orphans: 4,
        ..config(SERVER_ISN)
    };
    let mut w = world(config(CLIENT_ISN), server);
    let (a, b, saddr) = (w.a(), w.b(), w.saddr());
    let l = w.with(b, |s, _| s.listen(saddr, 1024).expect("listen"));
    let mut rng = synack_tests::SplitMix64(0x5eed);
    let mut conns: Vec<(HostId, ConnId)> = Vec::new();
    let mut buf = vec![0u8; 8192];
    let mut port = CPORT;
    for _ in 0..600 {
        match rng.below(6) {
            0 => {
                port += 1;
                let local = SocketAddr::new(w.a_ip, port);
                if let Ok(c) = w.with(a, |s, now| s.connect(now, Some(local), saddr)) {
                    conns.push((a, c));
                }
            }
            1 | 2 if !conns.is_empty() => {
                let (h, c) = conns[rng.below(conns.len() as u64) as usize];
                let len = rng.below(40_000) as usize;
                let _ = w.with(h, |s, now| s.send(now, c, &vec![1; len]));
            }
            3 if !conns.is_empty() => {
                let (h, c) = conns[rng.below(conns.len() as u64) as usize];
                let _ = w.with(h, |s, _| s.recv(c, &mut buf));
            }
            4 if !conns.is_empty() => {
                let i = rng.below(conns.len() as u64) as usize;
                let (h, c) = conns.swap_remove(i);
                let _ = w.with(h, |s, now| s.close(now, c));
            }
            _ => w.run_for(ms(rng.below(300))),
        }
        while let Some(c) = w.with(b, |s, _| s.accept(l)) {
            conns.push((b, c));
        }
        for h in [a, b] {
            audit(w.stack(h));
            let stack = w.stack(h);
            let orphans = stack
                .connections()
                .filter(|(_, t)| {
                    matches!(
                        t.state(),
                        State::FinWait1 | State::FinWait2 | State::Closing | State::LastAck
                    )
                })
                .count();
            assert!(
                stack.orphan_count() <= orphans,
                "orphans counted that do not exist"
            );
        }
        assert!(w.stack(b).orphan_count() <= 4);
    }
    w.run_for(Duration::from_secs(300));
    for h in [a, b] {
        audit(w.stack(h));
    }
    println!(
        "random work: server memory {} (limit 120000), pressure drops {}, orphans reset {}",
        w.stack(b).memory_used(),
        w.stack(b).stats().memory_pressure_drops,
        w.stack(b).stats().orphans_reset
    );
}
