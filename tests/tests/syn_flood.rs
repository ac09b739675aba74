//! SYN cookies (RFC 4987 §3.6): the cookie codec, the stateless SYN-ACK and the connection
//! rebuilt from the final ACK, and a simulated SYN flood from spoofed sources during which real
//! clients still connect and transfer.

mod scenarios_util;

use scenarios_util::{Forge, Seg, World};
use std::any::Any;
use std::net::SocketAddr;
use std::time::Duration;
use synack_core::syncookie::{
    decode_tsecr, encode_tsval, CookieOptions, MSS_TABLE_V4, MSS_TABLE_V6, SLOT_SECS,
};
use synack_core::{Config, Event, Instant, Stack, State, SynCookies};
use synack_sim::{LinkConfig, Network};
use synack_tests::apps::{Client, Server};
use synack_tests::{pattern, App, Host};
use synack_wire::{SeqNumber, TcpFlags, TcpOptions, Timestamps};

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// The seed of host b in a `World` (its `Host::new(.., 4)`).
const WORLD_B_SEED: [u8; 32] = [4; 32];

// ----- The codec -----

#[test]
fn cookie_round_trips_and_binds_tuple_and_peer_isn() {
    let jar = SynCookies::from_seed([9; 32]);
    let (l, r) = (sa("10.0.0.2:80"), sa("10.0.0.1:40000"));
    let now = Instant::from_secs(1000);
    let isn = SeqNumber(123_456);
    let (cookie, mss) = jar.encode(l, r, isn, Some(1460), now);
    assert_eq!(mss, 1460);
    assert_eq!(jar.decode(l, r, isn, cookie, now), Some(1460));
    // Any other tuple, peer ISN, key or cookie bit fails.
    assert_eq!(jar.decode(l, sa("10.0.0.1:40001"), isn, cookie, now), None);
    assert_eq!(jar.decode(l, sa("10.0.0.3:40000"), isn, cookie, now), None);
    assert_eq!(jar.decode(sa("10.0.0.2:81"), r, isn, cookie, now), None);
    assert_eq!(jar.decode(l, r, SeqNumber(123_457), cookie, now), None);
    let other = SynCookies::from_seed([10; 32]);
    assert_eq!(other.decode(l, r, isn, cookie, now), None);
    for bit in 2..32 {
        let flipped = SeqNumber(cookie.0 ^ (1 << bit));
        assert_eq!(jar.decode(l, r, isn, flipped, now), None, "bit {bit}");
    }
    // The MSS index is under the MAC too: changing it fails rather than decoding another MSS.
    let other_index = SeqNumber(cookie.0 ^ 1);
    assert_eq!(jar.decode(l, r, isn, other_index, now), None);
    // Different tuples get different cookies.
    let (c2, _) = jar.encode(l, sa("10.0.0.1:40001"), isn, Some(1460), now);
    assert_ne!(cookie, c2);
}

#[test]
fn cookie_lives_two_time_slots() {
    let jar = SynCookies::from_seed([9; 32]);
    let (l, r) = (sa("10.0.0.2:80"), sa("10.0.0.1:40000"));
    let isn = SeqNumber(7);
    // Issued at the start of slot 10.
    let issued = Instant::from_secs(10 * SLOT_SECS);
    let (cookie, _) = jar.encode(l, r, isn, Some(1460), issued);
    let at = |secs: u64| issued + Duration::from_secs(secs);
    assert_eq!(jar.decode(l, r, isn, cookie, at(0)), Some(1460));
    assert_eq!(jar.decode(l, r, isn, cookie, at(SLOT_SECS - 1)), Some(1460));
    // The next slot still accepts it (as Linux: the current and the previous count).
    assert_eq!(
        jar.decode(l, r, isn, cookie, at(2 * SLOT_SECS - 1)),
        Some(1460)
    );
    // Two slots later it has expired.
    assert_eq!(jar.decode(l, r, isn, cookie, at(2 * SLOT_SECS)), None);
    assert_eq!(jar.decode(l, r, isn, cookie, at(100 * SLOT_SECS)), None);
    // And a cookie is no good before its slot either (the clock cannot be run backwards).
    let (later, _) = jar.encode(l, r, isn, Some(1460), at(3 * SLOT_SECS));
    assert_eq!(jar.decode(l, r, isn, later, issued), None);
}

#[test]
fn cookie_mss_comes_from_the_table() {
    let jar = SynCookies::from_seed([1; 32]);
    let (l4, r4) = (sa("10.0.0.2:80"), sa("10.0.0.1:40000"));
    let now = Instant::from_secs(5);
    let cases = [
        (Some(1460), 1460),
        (Some(9000), 1460),
        (Some(1459), 1440),
        (Some(1400), 1300),
        (Some(1300), 1300),
        (Some(1000), 536),
        // RFC 9293 §3.7.1: no option means 536 on IPv4.
        (None, 536),
    ];
    for (peer, want) in cases {
        let (cookie, mss) = jar.encode(l4, r4, SeqNumber(1), peer, now);
        assert_eq!(mss, want, "peer MSS {peer:?}");
        assert!(MSS_TABLE_V4.contains(&mss));
        // The index sits in the cookie's low bits.
        assert_eq!(
            MSS_TABLE_V4[(cookie.0 & 3) as usize],
            want,
            "index of {peer:?}"
        );
        assert_eq!(jar.decode(l4, r4, SeqNumber(1), cookie, now), Some(want));
    }
    let (l6, r6) = (sa("[fd00::2]:80"), sa("[fd00::1]:40000"));
    for (peer, want) in [(Some(1440), 1440), (Some(9000), 8940), (None, 1220)] {
        let (cookie, mss) = jar.encode(l6, r6, SeqNumber(1), peer, now);
        assert_eq!(mss, want, "IPv6 peer MSS {peer:?}");
        assert!(MSS_TABLE_V6.contains(&mss));
        assert_eq!(jar.decode(l6, r6, SeqNumber(1), cookie, now), Some(want));
    }
}

#[test]
fn options_ride_in_the_timestamp() {
    let all = [
        CookieOptions {
            window_scale: None,
            sack: false,
        },
        CookieOptions {
            window_scale: Some(0),
            sack: true,
        },
        CookieOptions {
            window_scale: Some(14),
            sack: false,
        },
        CookieOptions {
            window_scale: Some(7),
            sack: true,
        },
    ];
    for ts_now in [0u32, 5, 1_000_000, u32::MAX - 3] {
        for opts in all {
            let tsval = encode_tsval(ts_now, opts);
            assert_eq!(decode_tsecr(tsval), opts);
            // Never ahead of the clock, and not far behind.
            assert!(ts_now.wrapping_sub(tsval) < 32, "{ts_now} -> {tsval}");
        }
    }
}

// ----- One handshake through a cookie -----

/// A server whose SYN queue holds nothing: every SYN is answered with a cookie.
fn cookie_server() -> Config {
    Config {
        syn_backlog: 0,
        ..Config::default()
    }
}

fn listeners(stack: &Stack) -> (usize, usize) {
    stack
        .listeners()
        .map(|(_, _, queued, half)| (queued, half))
        .next()
        .expect("a listener")
}

#[test]
fn handshake_through_a_cookie_keeps_options_and_transfers() {
    let mut w = World::new(
        Config::default(),
        cookie_server(),
        LinkConfig::default().with_delay(Duration::from_millis(10)),
    );
    let (a, b) = (w.a(), w.b());
    let (saddr, caddr) = (w.saddr(), w.caddr());
    let l = w.with(b, |s, _| s.listen(saddr, 16).unwrap());
    let c = w.with(a, |s, now| s.connect(now, Some(caddr), saddr).unwrap());
    // The SYN arrives at 10 ms and is answered: no connection on the server.
    w.run_to(Instant::from_millis(15));
    assert_eq!(w.stack(b).connection_count(), 0, "a cookie keeps no state");
    assert_eq!(listeners(w.stack(b)), (0, 0));
    assert_eq!(w.stack(b).stats().syn_cookies_sent, 1);
    let synack = w
        .sent_by(b)
        .into_iter()
        .find(|s| s.flags.syn() && s.flags.ack())
        .expect("a SYN-ACK");
    let syn = w
        .sent_by(a)
        .into_iter()
        .find(|s| s.flags.syn())
        .expect("the SYN");
    // Its ISN is the cookie for this tuple and SYN.
    let jar = SynCookies::from_seed(WORLD_B_SEED);
    let (cookie, mss) = jar.encode(
        saddr,
        caddr,
        SeqNumber(syn.seq),
        syn.options.mss,
        Instant::from_millis(10),
    );
    assert_eq!(synack.seq, cookie.0);
    assert_eq!(synack.ack, syn.seq + 1);
    assert_eq!(mss, 1460);
    // The options we offer back: MSS, window scale, SACK, timestamps echoing the client.
    assert_eq!(synack.options.mss, Some(1460));
    assert_eq!(synack.options.window_scale, Some(7));
    assert!(synack.options.sack_permitted);
    let ts = synack.options.timestamps.expect("timestamps");
    assert_eq!(ts.tsecr, syn.options.timestamps.unwrap().tsval);
    assert_eq!(
        decode_tsecr(ts.tsval),
        CookieOptions {
            window_scale: syn.options.window_scale,
            sack: true
        }
    );

    // The client's ACK rebuilds the connection, straight into the accept queue.
    w.run_to_state(a, c, State::Established, Duration::from_secs(1));
    w.run_for(Duration::from_millis(20));
    assert_eq!(w.stack(b).stats().syn_cookies_valid, 1);
    assert_eq!(w.stack(b).stats().syn_cookies_invalid, 0);
    assert_eq!(listeners(w.stack(b)), (1, 0));
    let s = w.with(b, |s, _| s.accept(l)).expect("queued");
    assert_eq!(w.state(b, s), Some(State::Established));
    let info = w.stack(b).info(s).unwrap();
    let cinfo = w.stack(a).info(c).unwrap();
    assert!(info.timestamps && info.sack);
    // No RTT sample from the cookie's echo (its low bits are options, not time).
    assert_eq!(info.srtt, None);
    assert_eq!(info.wscale, Some((7, 7)));
    assert_eq!(cinfo.wscale, Some((7, 7)));
    // 1460 less 12 bytes of timestamp option.
    assert_eq!(info.snd_mss, 1448);
    // The handshake went SYN-RECEIVED -> ESTABLISHED on the server, as a stateful one does.
    assert_eq!(
        w.path(b, s),
        vec![State::Listen, State::SynRcvd, State::Established]
    );

    // Data both ways, big enough to need the scaled window.
    let up = pattern(300_000, 1);
    let down = pattern(200_000, 2);
    let mut flows = [
        scenarios_util::Flow::new((a, c), (b, s), up.clone()),
        scenarios_util::Flow::new((b, s), (a, c), down.clone()),
    ];
    assert!(w.transfer(&mut flows, Duration::from_secs(30)));
    assert_eq!(flows[0].received, up);
    assert_eq!(flows[1].received, down);
}

#[test]
fn without_timestamps_a_cookie_carries_only_the_mss() {
    let client = Config {
        timestamps: false,
        ..Config::default()
    };
    let mut w = World::new(
        client,
        cookie_server(),
        LinkConfig::default().with_delay(Duration::from_millis(5)),
    );
    let (a, b) = (w.a(), w.b());
    let (saddr, caddr) = (w.saddr(), w.caddr());
    let l = w.with(b, |s, _| s.listen(saddr, 16).unwrap());
    let c = w.with(a, |s, now| s.connect(now, Some(caddr), saddr).unwrap());
    w.run_to_state(a, c, State::Established, Duration::from_secs(1));
    w.run_for(Duration::from_millis(10));
    let synack = w
        .sent_by(b)
        .into_iter()
        .find(|s| s.flags.syn() && s.flags.ack())
        .unwrap();
    assert_eq!(synack.options.mss, Some(1460));
    assert_eq!(synack.options.window_scale, None);
    assert!(!synack.options.sack_permitted);
    assert_eq!(synack.options.timestamps, None);
    let s = w.with(b, |s, _| s.accept(l)).expect("queued");
    let info = w.stack(b).info(s).unwrap();
    assert_eq!(info.wscale, None);
    assert!(!info.sack && !info.timestamps);
    assert_eq!(info.snd_mss, 1460);
    let data = pattern(50_000, 3);
    let mut flows = [scenarios_util::Flow::new((a, c), (b, s), data.clone())];
    assert!(w.transfer(&mut flows, Duration::from_secs(30)));
    assert_eq!(flows[0].received, data);
}

/// Forged ACKs: a right cookie makes a connection; a wrong or expired one gets the RST any ACK
/// to a listener gets (RFC 9293 §3.10.7.2), and no connection.
#[test]
fn forged_acks_need_a_valid_unexpired_cookie() {
    let mut w = World::new(Config::default(), cookie_server(), LinkConfig::default());
    let (a, b) = (w.a(), w.b());
    let saddr = w.saddr();
    w.with(b, |s, _| s.listen(saddr, 16).unwrap());
    let jar = SynCookies::from_seed(WORLD_B_SEED);
    let spoof = |port: u16| SocketAddr::new("10.0.0.99".parse().unwrap(), port);
    let syn = |w: &mut World, port: u16, isn: u32| {
        let p = Forge::new(spoof(port), saddr, isn)
            .flags(TcpFlags::SYN)
            .build();
        w.inject(a, p);
        w.run_for(Duration::from_millis(1));
    };
    let ack = |w: &mut World, port: u16, isn: u32, ack: u32| {
        let p = Forge::new(spoof(port), saddr, isn + 1).ack(ack).build();
        w.inject(a, p);
        w.run_for(Duration::from_millis(1));
    };
    let resets = |w: &mut World| {
        w.sent_by(b)
            .into_iter()
            .filter(|s: &Seg| s.flags.rst())
            .count()
    };

    // No cookie was ever sent: an ACK is not even checked, just reset.
    ack(&mut w, 999, 5, 12345);
    assert_eq!(resets(&mut w), 1);
    assert_eq!(w.stack(b).stats().syn_cookies_invalid, 0);

    syn(&mut w, 1000, 100);
    assert_eq!(w.stack(b).stats().syn_cookies_sent, 1);
    let (cookie, _) = jar.encode(saddr, spoof(1000), SeqNumber(100), None, w.now());
    // A wrong cookie: RST, counted, nothing created.
    ack(&mut w, 1000, 100, cookie.0.wrapping_add(5));
    assert_eq!(w.stack(b).stats().syn_cookies_invalid, 1);
    assert_eq!(resets(&mut w), 2);
    assert_eq!(w.stack(b).connection_count(), 0);
    // The right cookie from another port: also wrong.
    ack(&mut w, 1001, 100, cookie.0.wrapping_add(1));
    assert_eq!(w.stack(b).stats().syn_cookies_invalid, 2);
    assert_eq!(resets(&mut w), 3);
    assert_eq!(w.stack(b).connection_count(), 0);
    // The right one, carrying data: a connection, ESTABLISHED, queued, the data readable; no
    // RST.
    let p = Forge::new(spoof(1000), saddr, 101)
        .ack(cookie.0.wrapping_add(1))
        .payload(b"hello")
        .build();
    w.inject(a, p);
    w.run_for(Duration::from_millis(1));
    assert_eq!(w.stack(b).stats().syn_cookies_valid, 1);
    assert_eq!(resets(&mut w), 3, "no RST for a valid cookie");
    assert_eq!(w.stack(b).connection_count(), 1);
    assert_eq!(listeners(w.stack(b)), (1, 0));
    let (id, tcb) = w.stack(b).connections().next().unwrap();
    assert_eq!(tcb.state(), State::Established);
    assert_eq!(w.stack(b).remote_addr(id), Some(spoof(1000)));
    // No options without timestamps: MSS from the table (536 for a SYN without MSS option).
    assert_eq!(tcb.info().snd_mss, 536);
    let (s, _) = w.with(b, |st, _| {
        let l = st.listeners().next().unwrap().0;
        (st.accept(l).unwrap(), ())
    });
    assert_eq!(s, id);
    assert_eq!(w.read_all(b, s).0, b"hello");
    // The data is acknowledged (after the delayed-ACK timeout): <SEQ=cookie+1><ACK=101+5>.
    w.run_for(Duration::from_millis(50));
    let last = w.sent_by(b).pop().unwrap();
    assert_eq!(last.dst, spoof(1000));
    assert!(last.is_pure_ack());
    assert_eq!((last.seq, last.ack), (cookie.0.wrapping_add(1), 106));

    // An old cookie: issued now, presented two slots later, while the listener still sends
    // cookies (so it is checked, and fails on age).
    syn(&mut w, 2000, 300);
    let (old, _) = jar.encode(saddr, spoof(2000), SeqNumber(300), None, w.now());
    w.run_for(Duration::from_secs(2 * SLOT_SECS - 10));
    syn(&mut w, 3000, 400);
    w.run_for(Duration::from_secs(11));
    let invalid_before = w.stack(b).stats().syn_cookies_invalid;
    let count_before = w.stack(b).connection_count();
    ack(&mut w, 2000, 300, old.0.wrapping_add(1));
    assert_eq!(w.stack(b).stats().syn_cookies_invalid, invalid_before + 1);
    assert_eq!(w.stack(b).connection_count(), count_before);
}

/// The accept queue bounds cookie connections too: a valid cookie ACK while it is full is
/// dropped (the peer retries), and a SYN then gets no cookie.
#[test]
fn full_accept_queue_takes_no_cookie_connection() {
    let mut w = World::new(Config::default(), cookie_server(), LinkConfig::default());
    let (a, b) = (w.a(), w.b());
    let saddr = w.saddr();
    w.with(b, |s, _| s.listen(saddr, 1).unwrap());
    let jar = SynCookies::from_seed(WORLD_B_SEED);
    let spoof = |port: u16| SocketAddr::new("10.0.0.99".parse().unwrap(), port);
    for port in [1000u16, 1001] {
        let p = Forge::new(spoof(port), saddr, 50)
            .flags(TcpFlags::SYN)
            .build();
        w.inject(a, p);
    }
    w.run_for(Duration::from_millis(1));
    assert_eq!(w.stack(b).stats().syn_cookies_sent, 2);
    for port in [1000u16, 1001] {
        let (cookie, _) = jar.encode(saddr, spoof(port), SeqNumber(50), None, w.now());
        let p = Forge::new(spoof(port), saddr, 51)
            .ack(cookie.0.wrapping_add(1))
            .build();
        w.inject(a, p);
    }
    w.run_for(Duration::from_millis(1));
    let st = w.stack(b).stats().clone();
    assert_eq!(st.syn_cookies_valid, 2);
    assert_eq!(st.accept_queue_overflows, 1);
    assert_eq!(w.stack(b).connection_count(), 1);
    let p = Forge::new(spoof(1002), saddr, 50)
        .flags(TcpFlags::SYN)
        .build();
    w.inject(a, p);
    w.run_for(Duration::from_millis(1));
    assert_eq!(w.stack(b).stats().syn_cookies_sent, 2);
    assert_eq!(w.stack(b).stats().accept_queue_overflows, 2);
}

// ----- The flood -----

/// Many `Client`s on one stack (each one connection).
struct Clients {
    clients: Vec<Client>,
    start_at: Instant,
}

impl App for Clients {
    fn poll(&mut self, stack: &mut Stack, now: Instant, events: &[Event]) {
        if now < self.start_at {
            return;
        }
        for c in &mut self.clients {
            c.poll(stack, now, events);
        }
    }
    fn done(&self) -> bool {
        self.clients.iter().all(|c| c.done())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// xorshift64 for the spoofed sources.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

const CLIENTS: usize = 100;
const PER_CLIENT: usize = 4096;
const SYN_BACKLOG: usize = 128;

/// What a flood run left behind.
struct Flood {
    net: Network<Host>,
    client: synack_sim::HostId,
    server: synack_sim::HostId,
    /// Connections the server had accepted when the last spoofed SYN was sent.
    accepted_during_flood: usize,
    /// Whether every client and the server finished within 60 s after the flood.
    done: bool,
    peak_conns: usize,
    peak_mem: usize,
}

/// `flood` spoofed SYNs from random 172.16/12 sources (with typical Linux options), spread over
/// 2 s of virtual time at a server whose SYN queue holds `SYN_BACKLOG`; at 50 ms, `CLIENTS` real
/// clients on another host connect and have `PER_CLIENT` bytes echoed.
fn run_flood(syn_cookies: bool, flood: u64) -> Flood {
    let server_cfg = Config {
        syn_backlog: SYN_BACKLOG,
        syn_cookies,
        ..Config::default()
    };
    let (c_ip, s_ip) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
    let saddr = SocketAddr::new(s_ip, 80);
    let mut net: Network<Host> = Network::new(7);
    let server_host = {
        let mut h = Host::new(server_cfg, s_ip, 2);
        h.keep_events = false;
        let mut app = Server::echo(saddr, CLIENTS);
        app.backlog = 1024;
        h.app = Some(Box::new(app));
        h
    };
    let s = net.add_host(server_host, &[s_ip]);
    let client_host = {
        let mut h = Host::new(Config::default(), c_ip, 1);
        h.keep_events = false;
        let clients = (0..CLIENTS)
            .map(|i| Client::new(saddr, pattern(PER_CLIENT, i as u64 + 1)))
            .collect();
        // The clients start once the flood has filled the SYN queue.
        h.app = Some(Box::new(Clients {
            clients,
            start_at: Instant::from_millis(50),
        }));
        h
    };
    let c = net.add_host(client_host, &[c_ip]);
    net.link(
        c,
        s,
        LinkConfig::default().with_delay(Duration::from_millis(5)),
    );
    let t0 = net.now();
    net.host_mut(s).pump(t0);
    net.flush();

    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let per_ms: u64 = flood.div_ceil(2000);
    let mut injected = 0u64;
    let (mut peak_conns, mut peak_mem) = (0usize, 0usize);
    let mut client_started = false;
    let sample = |net: &Network<Host>, peak_conns: &mut usize, peak_mem: &mut usize| {
        let st = &net.host(s).stack;
        *peak_conns = (*peak_conns).max(st.connection_count());
        *peak_mem = (*peak_mem).max(st.connection_memory());
    };
    while injected < flood {
        for _ in 0..per_ms.min(flood - injected) {
            let r = rng.next();
            let src = SocketAddr::new(
                std::net::Ipv4Addr::from(0xAC10_0000 | (r as u32 & 0x000F_FFFF)).into(),
                1024 + ((r >> 32) as u16 % 60000),
            );
            let mut f = Forge::new(src, saddr, (r >> 20) as u32).flags(TcpFlags::SYN);
            f.options = TcpOptions {
                mss: Some(1460),
                window_scale: Some(7),
                sack_permitted: true,
                timestamps: Some(Timestamps {
                    tsval: r as u32,
                    tsecr: 0,
                }),
                ..TcpOptions::default()
            };
            net.inject(c, f.build());
            injected += 1;
        }
        net.run_for(Duration::from_millis(1));
        if !client_started && net.now() >= Instant::from_millis(50) {
            client_started = true;
            let now = net.now();
            net.host_mut(c).pump(now);
            net.flush();
        }
        sample(&net, &mut peak_conns, &mut peak_mem);
    }
    let accepted_during_flood = net.host(s).app::<Server>().conns.len();
    // The last SYNs are still on the 5 ms link: deliver them before counting.
    net.run_for(Duration::from_millis(20));
    let done = net.run_until_cond(Duration::from_secs(60), |net| {
        net.host(c).app.as_ref().unwrap().done() && net.host(s).app.as_ref().unwrap().done()
    });
    sample(&net, &mut peak_conns, &mut peak_mem);
    Flood {
        net,
        client: c,
        server: s,
        accepted_during_flood,
        done,
        peak_conns,
        peak_mem,
    }
}

fn flood_size() -> u64 {
    if cfg!(debug_assertions) {
        20_000
    } else {
        1_000_000
    }
}

#[test]
fn syn_flood_with_cookies_lets_real_clients_through_in_bounded_memory() {
    let flood = flood_size();
    let f = run_flood(true, flood);
    let st = f.net.host(f.server).stack.stats().clone();
    println!(
        "flood {flood} SYNs: peak {} connections, {} bytes; cookies sent {} valid {} invalid {}; \
         passive opens {}; accepted during the flood {}",
        f.peak_conns,
        f.peak_mem,
        st.syn_cookies_sent,
        st.syn_cookies_valid,
        st.syn_cookies_invalid,
        st.passive_opens,
        f.accepted_during_flood
    );
    assert!(f.done, "clients did not finish");
    assert_eq!(
        f.accepted_during_flood, CLIENTS,
        "every client got in while the flood went on"
    );
    let clients = f.net.host(f.client).app::<Clients>();
    for (i, cl) in clients.clients.iter().enumerate() {
        assert_eq!(cl.error, None, "client {i}");
        assert!(cl.eof, "client {i} saw the end of the echo");
        assert_eq!(cl.received, cl.data, "client {i} got its bytes echoed");
    }
    let server = f.net.host(f.server).app::<Server>();
    assert_eq!(server.conns.len(), CLIENTS);
    assert!(server.conns.iter().all(|c| c.error.is_none()));

    // Every real client came in through a cookie; the only state the flood got is the SYN
    // queue it filled first.
    assert_eq!(st.syn_cookies_valid, CLIENTS as u64);
    assert_eq!(st.syn_cookies_invalid, 0);
    assert_eq!(st.passive_opens, (SYN_BACKLOG + CLIENTS) as u64);
    // A perfect link: no SYN was retransmitted, so exactly one cookie per SYN past the queue.
    assert_eq!(
        st.syn_cookies_sent,
        flood - SYN_BACKLOG as u64 + CLIENTS as u64
    );
    assert_eq!(st.syn_queue_overflows, 0);
    assert!(
        f.peak_conns <= SYN_BACKLOG + CLIENTS,
        "peak {} connections",
        f.peak_conns
    );
    // Memory: the half-open connections and the real ones, each a TCB with a few KB of
    // buffers, far from anything proportional to the flood.
    let budget = (SYN_BACKLOG + CLIENTS) * 64 * 1024;
    assert!(
        f.peak_mem <= budget,
        "peak memory {} > {budget}",
        f.peak_mem
    );
}

/// The same flood without cookies: memory is just as bounded, but the spoofed half-open
/// connections hold the SYN queue and no real client gets in while the flood goes on.
#[test]
fn syn_flood_without_cookies_locks_real_clients_out() {
    let flood = flood_size().min(20_000);
    let f = run_flood(false, flood);
    let st = f.net.host(f.server).stack.stats().clone();
    assert_eq!(f.accepted_during_flood, 0);
    assert_eq!(st.syn_cookies_sent, 0);
    assert_eq!(st.syn_cookies_valid, 0);
    // Every SYN past the queue was dropped, the clients' first SYNs and retries included.
    assert!(st.syn_queue_overflows >= flood - SYN_BACKLOG as u64 + CLIENTS as u64);
    assert!(f.peak_conns <= SYN_BACKLOG + CLIENTS);
}

#[test]
fn cookie_handshake_over_ipv6() {
    let mut w = World::with_addrs(
        Config::default(),
        cookie_server(),
        LinkConfig::default().with_delay(Duration::from_millis(5)),
        "fd00::1".parse().unwrap(),
        "fd00::2".parse().unwrap(),
    );
    let (a, b) = (w.a(), w.b());
    let (saddr, caddr) = (w.saddr(), w.caddr());
    let l = w.with(b, |s, _| s.listen(saddr, 16).unwrap());
    let c = w.with(a, |s, now| s.connect(now, Some(caddr), saddr).unwrap());
    w.run_to_state(a, c, State::Established, Duration::from_secs(1));
    w.run_for(Duration::from_millis(10));
    assert_eq!(w.stack(b).stats().syn_cookies_sent, 1);
    assert_eq!(w.stack(b).stats().syn_cookies_valid, 1);
    let s = w.with(b, |s, _| s.accept(l)).expect("queued");
    let info = w.stack(b).info(s).unwrap();
    // MTU 1500 less 60 bytes of IPv6 and TCP headers: 1440, an IPv6 table entry; less 12 for
    // timestamps.
    assert_eq!(w.stack(a).info(c).unwrap().rcv_mss, 1440);
    assert_eq!(info.snd_mss, 1428);
    assert_eq!(info.wscale, Some((7, 7)));
    let data = pattern(100_000, 9);
    let mut flows = [scenarios_util::Flow::new((a, c), (b, s), data.clone())];
    assert!(w.transfer(&mut flows, Duration::from_secs(30)));
    assert_eq!(flows[0].received, data);
}
