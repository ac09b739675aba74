//! Property tests: one client and one server over a simulated link, with generated seeds, link
//! impairments, buffer sizes, MTUs, TCP options, ISNs near the 2^32 wrap, transfer sizes and
//! closing orders. Every case checks:
//! - the end-to-end contract of a reliable byte stream (RFC 9293 §1, §3.4, §3.10.7.4): bytes
//!   delivered once, in order, both ways, then end of stream; no connection error;
//! - sequence-space rules on every segment sent (`check_wire`): no ACK of unsent data, bare ACKs
//!   at SND.NXT, no data past the offered window; nothing larger than the path MTU;
//! - an orderly close along RFC 9293 Figure 5: the end that sent the first FIN waits in
//!   TIME-WAIT for at least 2 MSL (§3.4.2), both end in CLOSED and the stacks hold nothing;
//! - bounded simulated time (`time_bound`), bounded packet count (`packet_budget`, which catches
//!   ACK storms) and no stalled timers.
//!
//! Two more families partition the link: one that heals (the connection must survive) and one
//! that does not (every end still waiting fails with TimedOut, RFC 9293 §3.8.3 R2 / RFC 1122
//! §4.2.3.6, within its retry limits instead of hanging).
//!
//! Default case counts fit CI (debug build, about 20 s of cases on two threads); `PROPTEST_CASES`
//! changes them, `PROPTEST_RNG_SEED` the (otherwise fixed) generator seed, and `PROPS_VERBOSE=1`
//! prints a line per case. A failing case is shrunk and printed as a Rust literal to paste into a
//! regression test at the bottom of this file; `replay` prints its packets as tcpdump lines.
//! `PROPS_SWEEP=1` runs every case without stopping at the first failure, then shrinks one
//! example of each kind of failure (the local sweep:
//! `PROPS_SWEEP=1 PROPTEST_CASES=2000 cargo test --release -p synack-tests --test properties --
//! --include-ignored --nocapture`).

use proptest::prelude::*;
use proptest::test_runner::{Config as PtConfig, RngSeed, TestCaseError, TestError, TestRunner};
use std::any::Any;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use synack_core::{
    Config, ConnId, ConnectionError, Event, Instant, IsnMode, Keepalive, ListenerId, RecvError,
    SendError, Shutdown, Stack, State,
};
use synack_sim::{CaptureEvent, GilbertElliott, LinkConfig};
use synack_tests::{pattern, App, Pair};

use Closer::*;
use Reply::*;

// ---------------------------------------------------------------------------------------------
// The generated case
// ---------------------------------------------------------------------------------------------

/// One host's stack settings.
#[derive(Clone, Debug)]
struct HostCase {
    mtu: usize,
    send_buffer: usize,
    recv_buffer: usize,
    window_scale: Option<u8>,
    timestamps: bool,
    sack: bool,
    /// Some: `IsnMode::Fixed` (near the wrap); None: RFC 6528.
    isn: Option<u32>,
    nodelay: bool,
    msl_ms: u64,
}

/// One direction of the link.
#[derive(Clone, Debug)]
struct LinkCase {
    delay_ms: u64,
    jitter_ms: u64,
    bandwidth_bps: Option<u64>,
    queue_limit: Option<usize>,
    loss: f64,
    /// Gilbert–Elliott (good→bad, bad→good), everything lost while bad.
    burst: Option<(f64, f64)>,
    duplicate: f64,
    reorder: f64,
    reorder_delay_ms: u64,
    corrupt: f64,
}

/// What the server sends.
#[derive(Clone, Debug)]
enum Reply {
    /// Echo everything the client sends.
    Echo,
    /// Its own stream of this many bytes.
    Stream(usize),
}

/// Who sends the first FIN.
#[derive(Clone, Debug, PartialEq)]
enum Closer {
    /// The client shuts down its write side once its data is queued; the server after EOF.
    Client,
    /// The server shuts down first; the client after EOF.
    Server,
    /// Both shut down as soon as their data is queued (FINs may cross).
    Both,
}

/// A partition during the transfer.
#[derive(Clone, Debug)]
struct PartitionCase {
    /// The link goes down once this share (per mille) of all bytes (both ways) has been
    /// delivered to the applications: 0 cuts the handshake, 1000 the close.
    after_permille: u64,
    /// How long it stays down; None: forever.
    heal_after_ms: Option<u64>,
}

#[derive(Clone, Debug)]
struct Case {
    seed: u64,
    ipv6: bool,
    client: HostCase,
    server: HostCase,
    /// Client to server.
    up: LinkCase,
    /// Server to client.
    down: LinkCase,
    /// Bytes the client sends.
    c2s: usize,
    reply: Reply,
    closer: Closer,
    /// The second closer calls close() directly instead of shutdown(Write) then close().
    close_directly: bool,
    partition: Option<PartitionCase>,
}

impl HostCase {
    fn config(&self, keepalive: Option<Keepalive>) -> Config {
        Config {
            mtu: self.mtu,
            send_buffer: self.send_buffer,
            recv_buffer: self.recv_buffer,
            window_scale: self.window_scale,
            timestamps: self.timestamps,
            sack: self.sack,
            isn: self.isn.map_or(IsnMode::Rfc6528, IsnMode::Fixed),
            nodelay: self.nodelay,
            msl: Duration::from_millis(self.msl_ms),
            keepalive,
            ..Config::default()
        }
    }
}

impl LinkCase {
    fn config(&self, mtu: usize) -> LinkConfig {
        let mut l = LinkConfig::default()
            .with_delay(Duration::from_millis(self.delay_ms))
            .with_jitter(Duration::from_millis(self.jitter_ms))
            .with_mtu(mtu)
            .with_loss(self.loss)
            .with_duplicate(self.duplicate)
            .with_reorder(self.reorder, Duration::from_millis(self.reorder_delay_ms))
            .with_corrupt(self.corrupt);
        l.bandwidth_bps = self.bandwidth_bps;
        l.queue_limit_bytes = self.queue_limit;
        if let Some((g2b, b2g)) = self.burst {
            l = l.with_burst_loss(GilbertElliott::new(g2b, b2g));
        }
        l
    }

    fn perfect() -> Self {
        LinkCase {
            delay_ms: 0,
            jitter_ms: 0,
            bandwidth_bps: None,
            queue_limit: None,
            loss: 0.0,
            burst: None,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_delay_ms: 0,
            corrupt: 0.0,
        }
    }
}

impl Case {
    fn s2c(&self) -> usize {
        match self.reply {
            Echo => self.c2s,
            Stream(n) => n,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------------------------

fn buffer_size() -> impl Strategy<Value = usize> {
    prop_oneof![
        2 => 1024usize..=4096,
        2 => 4097usize..=65_536,
        1 => 65_537usize..=(4 << 20),
    ]
}

fn host_case() -> impl Strategy<Value = HostCase> {
    (
        prop_oneof![
            Just(576usize),
            576usize..=9000,
            Just(1500),
            Just(9000),
            Just(65_535)
        ],
        buffer_size(),
        buffer_size(),
        prop_oneof![1 => Just(None), 1 => Just(Some(7u8)), 1 => (0u8..=14).prop_map(Some)],
        any::<bool>(),
        any::<bool>(),
        prop_oneof![
            1 => Just(None),
            // 0..=200_000 below 2^32: the wrap falls in the handshake or in the transfer.
            2 => (0u32..=200_000).prop_map(|k| Some(u32::MAX - k)),
        ],
        any::<bool>(),
        prop_oneof![Just(30_000u64), 500u64..=30_000],
    )
        .prop_map(
            |(
                mtu,
                send_buffer,
                recv_buffer,
                window_scale,
                timestamps,
                sack,
                isn,
                nodelay,
                msl_ms,
            )| {
                HostCase {
                    mtu,
                    send_buffer,
                    recv_buffer,
                    window_scale,
                    timestamps,
                    sack,
                    isn,
                    nodelay,
                    msl_ms,
                }
            },
        )
}

fn probability(max: f64) -> impl Strategy<Value = f64> {
    prop_oneof![2 => Just(0.0), 1 => 0.0..max]
}

fn link_case() -> impl Strategy<Value = LinkCase> {
    (
        0u64..=100,
        prop_oneof![2 => Just(0u64), 1 => 0u64..=20],
        prop_oneof![
            1 => Just(None),
            1 => (100_000u64..=1_000_000_000).prop_map(Some)
        ],
        prop_oneof![1 => Just(None), 1 => (1500usize..=256 * 1024).prop_map(Some)],
        probability(0.2),
        prop_oneof![4 => Just(None), 1 => (0.001f64..0.02, 0.3f64..0.9).prop_map(Some)],
        probability(0.1),
        probability(0.2),
        0u64..=100,
        probability(0.05),
    )
        .prop_map(
            |(
                delay_ms,
                jitter_ms,
                bandwidth_bps,
                queue_limit,
                loss,
                burst,
                duplicate,
                reorder,
                reorder_delay_ms,
                corrupt,
            )| LinkCase {
                delay_ms,
                jitter_ms,
                bandwidth_bps,
                queue_limit,
                loss,
                burst,
                duplicate,
                reorder,
                reorder_delay_ms,
                corrupt,
            },
        )
}

fn transfer_size(max: usize) -> impl Strategy<Value = usize> {
    prop_oneof![
        1 => Just(0usize),
        3 => 1usize..=16_384,
        2 => 16_385usize..=max / 8,
        1 => max / 8 + 1..=max,
    ]
}

/// Client closes first with an echo server; any closer with a streaming server.
fn reply_and_closer(max: usize) -> impl Strategy<Value = (Reply, Closer)> {
    prop_oneof![
        1 => Just((Echo, Client)),
        2 => (
            transfer_size(max).prop_map(Stream),
            prop_oneof![Just(Client), Just(Server), Just(Both)]
        ),
    ]
}

/// Whether the two hosts may have different MTUs.
#[derive(Clone, Copy, PartialEq)]
enum Mtus {
    Same,
    Independent,
}

/// Whether links may lose packets (loss, burst loss, corruption, tail drop).
#[derive(Clone, Copy, PartialEq)]
enum Losses {
    Allowed,
    /// Delay, jitter, bandwidth, reordering and duplication only.
    None,
}

fn case(
    max: usize,
    mtus: Mtus,
    losses: Losses,
    partition: impl Strategy<Value = Option<PartitionCase>>,
) -> impl Strategy<Value = Case> {
    (
        any::<u64>(),
        any::<bool>(),
        host_case(),
        host_case(),
        link_case(),
        link_case(),
        transfer_size(max),
        reply_and_closer(max),
        any::<bool>(),
        partition,
    )
        .prop_map(
            move |(
                seed,
                ipv6,
                client,
                mut server,
                mut up,
                mut down,
                c2s,
                (reply, closer),
                close_directly,
                partition,
            )| {
                if mtus == Mtus::Same {
                    server.mtu = client.mtu;
                }
                if losses == Losses::None {
                    for l in [&mut up, &mut down] {
                        l.loss = 0.0;
                        l.burst = None;
                        l.corrupt = 0.0;
                        l.queue_limit = None;
                    }
                }
                Case {
                    seed,
                    // IPv6 needs 1280 bytes of MTU (RFC 8200 §5).
                    ipv6: ipv6 && client.mtu >= 1280 && server.mtu >= 1280,
                    client,
                    server,
                    up,
                    down,
                    c2s,
                    reply,
                    closer,
                    close_directly,
                    partition,
                }
            },
        )
}

const MAX_TRANSFER: usize = 2 << 20;

// ---------------------------------------------------------------------------------------------
// The application on both ends
// ---------------------------------------------------------------------------------------------

/// When an end shuts down its write side (sends its FIN).
#[derive(Clone, Copy, PartialEq, Debug)]
enum FinWhen {
    /// As soon as everything it has to send is queued.
    AfterSend,
    /// Once it has seen the peer's FIN and queued everything.
    AfterEof,
}

/// One end: client (connects) or server (listens, accepts one connection). It streams `out`
/// (or echoes what it reads), reads everything, shuts down its write side per `fin_when`, and
/// once both directions are finished gives the handle up with close().
struct Peer {
    client: bool,
    addr: SocketAddr,
    listener: Option<ListenerId>,
    conn: Option<ConnId>,
    accepted: usize,
    echo: bool,
    out: Vec<u8>,
    sent: usize,
    received: Vec<u8>,
    eof: bool,
    fin_when: FinWhen,
    close_directly: bool,
    shut: bool,
    closed: bool,
    error: Option<ConnectionError>,
    /// Something the API refused that it should not have.
    misuse: Option<String>,
    done_at: Option<Instant>,
}

impl Peer {
    fn new(client: bool, addr: SocketAddr, out: Vec<u8>, echo: bool, fin_when: FinWhen) -> Self {
        Peer {
            client,
            addr,
            listener: None,
            conn: None,
            accepted: 0,
            echo,
            out,
            sent: 0,
            received: Vec::new(),
            eof: false,
            fin_when,
            close_directly: false,
            shut: false,
            closed: false,
            error: None,
            misuse: None,
            done_at: None,
        }
    }

    fn fail(&mut self, stack: &mut Stack, conn: ConnId, e: ConnectionError, now: Instant) {
        self.error = Some(e);
        self.closed = true;
        self.done_at = Some(now);
        let _ = stack.close(now, conn);
    }
}

impl App for Peer {
    fn poll(&mut self, stack: &mut Stack, now: Instant, _events: &[Event]) {
        if self.closed {
            return;
        }
        if self.client && self.conn.is_none() {
            match stack.connect(now, None, self.addr) {
                Ok(c) => self.conn = Some(c),
                Err(e) => {
                    self.misuse = Some(format!("connect: {e}"));
                    self.closed = true;
                    return;
                }
            }
        }
        if !self.client {
            let l = *self
                .listener
                .get_or_insert_with(|| stack.listen(self.addr, 16).expect("listen"));
            while let Some(c) = stack.accept(l) {
                self.accepted += 1;
                if self.conn.is_none() {
                    self.conn = Some(c);
                } else {
                    // Only one client exists: a second connection is a bug; keep it out of the way.
                    let _ = stack.abort(now, c);
                }
            }
        }
        let Some(conn) = self.conn else { return };
        if let Some(e) = stack.error(conn) {
            self.fail(stack, conn, e, now);
            return;
        }
        // Read everything available.
        let mut buf = [0u8; 16384];
        loop {
            match stack.recv(conn, &mut buf) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => {
                    if self.eof {
                        self.misuse = Some("data after end of stream".into());
                    }
                    self.received.extend_from_slice(&buf[..n]);
                    if self.echo {
                        self.out.extend_from_slice(&buf[..n]);
                    }
                }
                Err(RecvError::WouldBlock) => break,
                Err(RecvError::Connection(e)) => {
                    self.fail(stack, conn, e, now);
                    return;
                }
                // Still connecting.
                Err(RecvError::NotConnected) => break,
                Err(e) => {
                    self.misuse = Some(format!("recv: {e}"));
                    break;
                }
            }
        }
        // Write what fits.
        while self.sent < self.out.len() && !self.shut {
            match stack.send(now, conn, &self.out[self.sent..]) {
                Ok(n) => self.sent += n,
                Err(SendError::WouldBlock) => break,
                Err(SendError::Connection(e)) => {
                    self.fail(stack, conn, e, now);
                    return;
                }
                Err(e) => {
                    self.misuse = Some(format!("send: {e}"));
                    break;
                }
            }
        }
        let all_sent = self.sent == self.out.len() && (!self.echo || self.eof);
        let want_fin = all_sent && (self.fin_when == FinWhen::AfterSend || self.eof);
        if want_fin && !self.shut {
            self.shut = true;
            if self.eof && self.close_directly {
                // RFC 9293 §3.10.4 CLOSE: the FIN follows the queued data.
                let _ = stack.close(now, conn);
                self.closed = true;
                self.done_at = Some(now);
                return;
            }
            if stack.shutdown(now, conn, Shutdown::Write).is_err() {
                self.misuse = Some("shutdown refused".into());
            }
        }
        if self.shut && self.eof {
            let _ = stack.close(now, conn);
            self.closed = true;
            self.done_at = Some(now);
        }
    }

    fn done(&self) -> bool {
        self.closed
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

// ---------------------------------------------------------------------------------------------
// Running a case
// ---------------------------------------------------------------------------------------------

/// What a run left behind.
struct Outcome {
    client: PeerReport,
    server: PeerReport,
    expected_c2s: Vec<u8>,
    expected_s2c: Vec<u8>,
    /// Both applications finished within the limit.
    apps_done: bool,
    /// Virtual time when the applications finished (or gave up).
    apps_done_at: Instant,
    /// Both stacks held no connection any more (TIME_WAIT over) within the limit.
    all_closed: bool,
    closed_at: Instant,
    /// Virtual time when the partition started, and whether each app was done then.
    partition_started: Option<(Instant, bool, bool)>,
    mtu_drops: u64,
    stalled_timeouts: u64,
    /// Packets sent, and the most a case may send (see `packet_budget`).
    packets: u64,
    budget: u64,
    /// The virtual time a successful case may take (see `time_bound`).
    time_bound: Duration,
    /// What `check_wire` found.
    wire: Result<(), String>,
    /// Some SYN-ACK reached the client (else a connect that times out is all it could do).
    synack_reached_client: bool,
    /// Every capture, if asked for.
    captures: Vec<synack_sim::Capture>,
}

struct PeerReport {
    received: Vec<u8>,
    eof: bool,
    error: Option<ConnectionError>,
    misuse: Option<String>,
    accepted: usize,
    conn: Option<ConnId>,
    events: Vec<Event>,
}

fn report(p: &Pair, host: synack_sim::HostId) -> PeerReport {
    let h = p.net.host(host);
    let peer: &Peer = h.app();
    PeerReport {
        received: peer.received.clone(),
        eof: peer.eof,
        error: peer.error,
        misuse: peer.misuse.clone(),
        accepted: peer.accepted,
        conn: peer.conn,
        events: h.events.clone(),
    }
}

/// Packets the network dropped or made undeliverable (each may cost a retransmission timeout).
fn losses(st: &synack_sim::NetStats) -> u64 {
    st.lost + st.corrupted + st.queue_drops + st.mtu_drops + st.link_down
}

/// The most packets a case may send: data at 25 bytes per packet (1-byte-MSS worst cases aside,
/// segments carry hundreds of bytes and ACKs cover two), plus handshake, close, probes, and a
/// retransmission burst for every loss. An ACK storm (two ends answering each other's ACKs
/// forever) blows through it quickly.
fn packet_budget(case: &Case, st: &synack_sim::NetStats) -> u64 {
    let bytes = (case.c2s + case.s2c()) as u64;
    4_000 + bytes / 25 + 8 * losses(st)
}

/// The virtual time a successful case may take: every direction moves at least one window per
/// round (RTT plus 250 ms of delayed ACK and silly-window override), the slowest link serializes
/// everything three times over, and each lost packet may stall the transfer for one maximal
/// retransmission timeout (RFC 6298 §5.5: `max_rto`). Plus a minute for handshake and close.
fn time_bound(case: &Case, st: &synack_sim::NetStats) -> Duration {
    let worst_one_way = |l: &LinkCase| l.delay_ms + l.jitter_ms + l.reorder_delay_ms;
    let rtt_ms = worst_one_way(&case.up) + worst_one_way(&case.down);
    let per_round_ms = rtt_ms + 250;
    let rounds = |bytes: usize, sender: &HostCase, receiver: &HostCase| {
        let window = sender.send_buffer.min(receiver.recv_buffer).min(65_535) as u64;
        (bytes as u64).div_ceil(window) + 1
    };
    let transfer_ms = rounds(case.c2s, &case.client, &case.server).max(rounds(
        case.s2c(),
        &case.server,
        &case.client,
    )) * per_round_ms;
    let bytes = (case.c2s + case.s2c()) as u64;
    let slowest_bps = [case.up.bandwidth_bps, case.down.bandwidth_bps]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(u64::MAX);
    let serialize_ms = (bytes * 8 * 3 * 1000).checked_div(slowest_bps).unwrap_or(0);
    let max_rto = Config::default().max_rto;
    let outage_ms = case
        .partition
        .as_ref()
        .and_then(|p| p.heal_after_ms)
        .unwrap_or(0);
    Duration::from_millis(60_000 + transfer_ms + serialize_ms + outage_ms)
        + max_rto * losses(st) as u32
}

/// Virtual time after which a run gives up (far beyond any bound a live case needs).
const HARD_LIMIT: Duration = Duration::from_secs(48 * 3600);

/// How long after a permanent partition an end may take to report TimedOut.
fn give_up_bound(ka: Keepalive) -> Duration {
    let d = Config::default();
    let syn: Duration = (0..=d.syn_retries).map(|k| d.initial_rto * (1 << k)).sum();
    let retransmit = d.max_rto * (d.max_retries + 1);
    let keepalive = ka.idle + ka.interval * ka.count;
    syn.max(retransmit).max(keepalive) + Duration::from_secs(60)
}

fn run_case(case: &Case, capture: bool) -> (Outcome, Pair) {
    let keepalive = match &case.partition {
        Some(PartitionCase {
            heal_after_ms: None,
            ..
        }) => Some(Keepalive {
            idle: Duration::from_secs(10),
            interval: Duration::from_secs(2),
            count: 3,
        }),
        _ => None,
    };
    let (a_ip, b_ip): (IpAddr, IpAddr) = if case.ipv6 {
        ("fd00::1".parse().unwrap(), "fd00::2".parse().unwrap())
    } else {
        ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap())
    };
    // The path MTU is the smaller host MTU: each end must respect the MSS the other announced.
    let path_mtu = case.client.mtu.min(case.server.mtu);
    let mut p = Pair::with_addrs(
        case.client.config(keepalive),
        case.server.config(keepalive),
        case.up.config(path_mtu),
        case.seed,
        a_ip,
        b_ip,
    );
    p.net.set_link(p.b, p.a, case.down.config(path_mtu));
    // Captures feed the wire checks (`check_wire`); `capture` keeps them for printing.
    p.net.set_capture(true);

    let expected_c2s = pattern(case.c2s, case.seed ^ 0x1111);
    let expected_s2c = match case.reply {
        Echo => expected_c2s.clone(),
        Stream(n) => pattern(n, case.seed ^ 0x2222),
    };
    let server_addr = p.b_addr(80);
    let (client_fin, server_fin) = match case.closer {
        Client => (FinWhen::AfterSend, FinWhen::AfterEof),
        Server => (FinWhen::AfterEof, FinWhen::AfterSend),
        Both => (FinWhen::AfterSend, FinWhen::AfterSend),
    };
    let mut client = Peer::new(true, server_addr, expected_c2s.clone(), false, client_fin);
    let mut server = match case.reply {
        Echo => Peer::new(false, server_addr, Vec::new(), true, server_fin),
        Stream(_) => Peer::new(false, server_addr, expected_s2c.clone(), false, server_fin),
    };
    client.close_directly = case.close_directly;
    server.close_directly = case.close_directly;
    for h in [p.a, p.b] {
        p.net.host_mut(h).keep_events = true;
    }
    p.net.host_mut(p.b).app = Some(Box::new(server));
    p.net.host_mut(p.a).app = Some(Box::new(client));

    let (a, b) = (p.a, p.b);
    let apps_done = |net: &mut synack_sim::Network<synack_tests::Host>| {
        let c: &Peer = net.host(a).app();
        let s: &Peer = net.host(b).app();
        // A server that never accepted (the handshake never completed) has nothing to finish.
        c.closed && (s.closed || (s.conn.is_none() && c.error.is_some()))
    };
    let over_budget = |net: &mut synack_sim::Network<synack_tests::Host>| {
        net.stats().sent > packet_budget(case, net.stats())
    };
    let stop =
        |net: &mut synack_sim::Network<synack_tests::Host>| apps_done(net) || over_budget(net);
    p.start();
    let mut partition_started = None;
    if let Some(part) = &case.partition {
        let total = (case.c2s + case.s2c()) as u64;
        let threshold = total * part.after_permille / 1000;
        p.net.run_until_cond(HARD_LIMIT, |net| {
            let c: &Peer = net.host(a).app();
            let s: &Peer = net.host(b).app();
            (c.received.len() + s.received.len()) as u64 >= threshold || stop(net)
        });
        let c: &Peer = p.net.host(a).app();
        let s: &Peer = p.net.host(b).app();
        partition_started = Some((p.net.now(), c.closed, s.closed));
        p.net.partition(a, b);
        match part.heal_after_ms {
            Some(heal) => {
                p.net.run_until_cond(Duration::from_millis(heal), stop);
                p.net.heal(a, b);
                p.net.run_until_cond(HARD_LIMIT, stop);
            }
            // Every end still waiting must give up within the longest of its limits: SYN
            // retries, `max_retries` retransmissions with the RTO capped at `max_rto` (RFC 6298
            // §5.5), or keepalive probes (idle + count * interval).
            None => {
                p.net
                    .run_until_cond(give_up_bound(keepalive.expect("keepalive on")), stop);
            }
        }
    } else {
        p.net.run_until_cond(HARD_LIMIT, stop);
    }
    let done = apps_done(&mut p.net);
    let apps_done_at = p.net.now();
    // What may still run after the applications let go: TIME-WAIT (2 MSL, restarted by a
    // retransmitted FIN), an orphan in LAST-ACK or CLOSING retransmitting its FIN up to
    // `max_retries` times with the RTO capped at `max_rto` (RFC 6298 §5.5), and a half-open
    // connection from a stray duplicate SYN (SYN-ACK retries).
    let msl = case.client.msl_ms.max(case.server.msl_ms);
    let defaults = Config::default();
    let retries = u64::from(defaults.max_retries + 1) * defaults.max_rto.as_millis() as u64;
    let drain = Duration::from_millis(4 * msl + retries + 300_000);
    let all_closed = p.net.run_until_cond(drain, |net| {
        net.host(a).stack.connection_count() == 0 && net.host(b).stack.connection_count() == 0
            || over_budget(net)
    }) && !over_budget(&mut p.net);
    let closed_at = p.net.now();
    let stats = p.net.stats().clone();
    let captures = p.net.take_captures();
    let wire = check_wire(&captures, a);
    let synack_reached_client = captures.iter().any(|c| {
        c.event == CaptureEvent::Delivered
            && c.to == Some(a)
            && synack_wire::ip::parse_ip(&c.packet)
                .ok()
                .and_then(|ip| {
                    synack_wire::TcpRepr::parse(ip.payload, ip.header.src, ip.header.dst).ok()
                })
                .is_some_and(|t| t.flags.syn() && t.flags.ack())
    });
    let outcome = Outcome {
        client: report(&p, a),
        server: report(&p, b),
        expected_c2s,
        expected_s2c,
        apps_done: done,
        apps_done_at,
        all_closed,
        closed_at,
        partition_started,
        mtu_drops: stats.mtu_drops,
        stalled_timeouts: stats.stalled_timeouts,
        packets: stats.sent,
        budget: packet_budget(case, &stats),
        time_bound: time_bound(case, &stats),
        wire,
        synack_reached_client,
        captures: if capture { captures } else { Vec::new() },
    };
    (outcome, p)
}

// ---------------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------------

/// The states one connection went through, with times.
fn transitions(events: &[Event], conn: ConnId) -> Vec<(State, State, Instant)> {
    events
        .iter()
        .filter_map(|e| match *e {
            Event::StateChanged {
                conn: c,
                from,
                to,
                at,
                ..
            } if c == conn => Some((from, to, at)),
            _ => None,
        })
        .collect()
}

fn closed_reasons(events: &[Event], conn: ConnId) -> Vec<Option<ConnectionError>> {
    events
        .iter()
        .filter_map(|e| match *e {
            Event::Closed { conn: c, reason } if c == conn => Some(reason),
            _ => None,
        })
        .collect()
}

fn first_diff(a: &[u8], b: &[u8]) -> String {
    let at = a.iter().zip(b).position(|(x, y)| x != y);
    format!(
        "got {} bytes, expected {}; first difference at {:?}",
        a.len(),
        b.len(),
        at
    )
}

macro_rules! ensure {
    ($cond:expr, $($fmt:tt)*) => {
        {
            let ok: bool = $cond;
            if !ok {
                return Err(format!($($fmt)*));
            }
        }
    };
}

/// Sequence-space rules every segment on the wire must follow, whatever the impairments
/// (checked on what each host sent, in sending order):
/// - RFC 9293 §3.4: an ACK never acknowledges a sequence number the peer has not sent.
/// - RFC 9293 §3.10.7.4: a bare ACK carries SEQ = SND.NXT, the next new sequence number, so it is
///   never below what the peer has already acknowledged (else the peer finds it unacceptable and
///   ignores its ACK field). Keepalive probes (SND.NXT - 1, RFC 9293 §3.8.4) are allowed.
/// - RFC 9293 §3.8.6 / RFC 7323 §2.3: data stays within the right edge of the window the peer
///   has offered, except a one-byte zero-window probe (RFC 9293 §3.8.6.1).
fn check_wire(caps: &[synack_sim::Capture], client: synack_sim::HostId) -> Result<(), String> {
    use synack_wire::SeqNumber;
    // Per sender (0: client, 1: server).
    let mut sent_end: [Option<SeqNumber>; 2] = [None; 2];
    let mut max_ack: [Option<SeqNumber>; 2] = [None; 2];
    let mut right_edge: [Option<SeqNumber>; 2] = [None; 2];
    let mut wscale_offer: [Option<u8>; 2] = [None; 2];
    let mut syn_seen = [false; 2];
    let later = |a: Option<SeqNumber>, b: SeqNumber| Some(a.map_or(b, |a| a.max(b)));
    for c in caps.iter().filter(|c| c.event == CaptureEvent::Sent) {
        let Ok(ip) = synack_wire::ip::parse_ip(&c.packet) else {
            continue;
        };
        let Ok(t) = synack_wire::TcpRepr::parse(ip.payload, ip.header.src, ip.header.dst) else {
            continue;
        };
        let (i, j) = if c.from == client { (0, 1) } else { (1, 0) };
        let f = t.flags;
        let line = || {
            format!(
                "{} {}: {} (seq {})",
                c.time,
                if i == 0 { "client" } else { "server" },
                synack_wire::tcpdump::format_packet(&c.packet),
                t.seq.0
            )
        };
        if f.rst() {
            // Resets for stray segments carry whatever sequence number they answer.
            continue;
        }
        if f.syn() {
            syn_seen[i] = true;
            wscale_offer[i] = t.options.window_scale;
        }
        if f.ack() {
            if let Some(end) = sent_end[j] {
                ensure!(t.ack <= end, "acknowledges data never sent: {}", line());
            }
            if t.payload.is_empty() && !f.syn() && !f.fin() {
                if let Some(acked) = max_ack[j] {
                    ensure!(
                        t.seq + 1 >= acked,
                        "bare ACK below what the peer acknowledged ({}): {}",
                        acked.0,
                        line()
                    );
                }
            }
        }
        if !t.payload.is_empty() {
            if let Some(edge) = right_edge[j] {
                let end = t.seq + t.payload.len() as u32;
                ensure!(
                    end <= edge || end == edge + 1 && t.payload.len() == 1,
                    "data past the offered window (right edge {}): {}",
                    edge.0,
                    line()
                );
            }
        }
        sent_end[i] = later(sent_end[i], t.seq + t.seq_len());
        if f.ack() {
            max_ack[i] = later(max_ack[i], t.ack);
            // RFC 7323 §2.2-2.3: SYN windows are never scaled; later ones by the sender's own
            // announced shift when both ends sent the option.
            let shift = match (f.syn(), wscale_offer[0], wscale_offer[1]) {
                (false, Some(_), Some(_)) => wscale_offer[i].unwrap().min(14),
                _ => 0,
            };
            let wnd = u32::from(t.window) << shift;
            right_edge[i] = later(right_edge[i], t.ack + wnd);
        }
    }
    let _ = syn_seen;
    Ok(())
}

/// Checks shared by every family.
fn check_common(case: &Case, o: &Outcome) -> Result<(), String> {
    // No ACK storm or other runaway sending.
    ensure!(
        o.packets <= o.budget,
        "{} packets sent, more than the budget of {} (ACK storm?)",
        o.packets,
        o.budget
    );
    // The simulator's guard against nodes that ask for past deadlines never fired: every timer
    // the stack reports is one it actually clears when it fires.
    ensure!(
        o.stalled_timeouts == 0,
        "{} stalled timeouts (a deadline that does not advance)",
        o.stalled_timeouts
    );
    // RFC 9293 §3.7.1 / RFC 6691 §2: no segment exceeds the MSS the peer announced (plus
    // headers and options), so nothing is too big for the smaller MTU.
    ensure!(
        o.mtu_drops == 0,
        "{} packets exceeded the path MTU",
        o.mtu_drops
    );
    // Both stacks are empty in the end: TIME-WAIT expired (RFC 9293 §3.4.2) and nothing lingers.
    ensure!(
        o.all_closed,
        "connections left at {} (limit: TIME_WAIT, orphan FIN retries, SYN-ACK retries)",
        o.closed_at
    );
    for (name, r) in [("client", &o.client), ("server", &o.server)] {
        ensure!(r.misuse.is_none(), "{name}: {:?}", r.misuse);
        let Some(conn) = r.conn else { continue };
        // Every transition is an edge of RFC 9293 Figure 5.
        for (from, to, at) in transitions(&r.events, conn) {
            ensure!(
                synack_tests::figure5_edge(from, to),
                "{name}: illegal transition {from} -> {to} at {at}"
            );
        }
        // RFC 9293 §3.3.2: the connection reaches CLOSED exactly once.
        let reasons = closed_reasons(&r.events, conn);
        ensure!(
            reasons.len() == 1,
            "{name}: {} Closed events ({reasons:?})",
            reasons.len()
        );
        // The error the application saw is the one the connection closed with. (An end that
        // finished may still fail later as an orphan, e.g. LAST-ACK timing out.)
        ensure!(
            r.error.is_none() || reasons[0] == r.error,
            "{name}: closed with {:?} but the application saw {:?}",
            reasons[0],
            r.error
        );
    }
    let _ = case;
    Ok(())
}

/// A connection that must succeed: bytes intact both ways, orderly close, bounded time.
fn check_success(case: &Case, o: &Outcome) -> Result<(), String> {
    if !o.synack_reached_client {
        // Every SYN or every SYN-ACK was lost (SYN retries are few: 7 tries): RFC 9293 §3.8.3
        // R2 makes the open fail with a timeout, and that is all it may do.
        ensure!(
            o.client.error == Some(ConnectionError::TimedOut) && o.server.accepted == 0,
            "no SYN-ACK reached the client, yet it ended with {:?} (server accepted {})",
            o.client.error,
            o.server.accepted
        );
        return check_common(case, o);
    }
    ensure!(
        o.apps_done,
        "applications not done at {} (client: eof {} error {:?} got {}/{}; server: accepted {} eof {} error {:?} got {}/{})",
        o.apps_done_at,
        o.client.eof,
        o.client.error,
        o.client.received.len(),
        o.expected_s2c.len(),
        o.server.accepted,
        o.server.eof,
        o.server.error,
        o.server.received.len(),
        o.expected_c2s.len()
    );
    // Bounded simulated time: no stall that a lost packet does not pay for.
    ensure!(
        Duration::from_micros(o.apps_done_at.total_micros()) <= o.time_bound,
        "took until {}, more than the bound of {:?}",
        o.apps_done_at,
        o.time_bound
    );
    // No connection error without a permanent partition.
    ensure!(
        o.client.error.is_none(),
        "client error {:?}",
        o.client.error
    );
    ensure!(
        o.server.error.is_none(),
        "server error {:?}",
        o.server.error
    );
    ensure!(
        o.server.accepted == 1,
        "server accepted {} connections",
        o.server.accepted
    );
    // RFC 9293 §3.4 and §3.10.7.4: every byte once, in order, both ways; then end of stream.
    ensure!(
        o.server.received == o.expected_c2s,
        "client to server: {}",
        first_diff(&o.server.received, &o.expected_c2s)
    );
    ensure!(
        o.client.received == o.expected_s2c,
        "server to client: {}",
        first_diff(&o.client.received, &o.expected_s2c)
    );
    ensure!(o.client.eof && o.server.eof, "missing end of stream");
    check_common(case, o)?;
    for (name, r) in [("client", &o.client), ("server", &o.server)] {
        let conn = r.conn.expect("connected");
        let tr = transitions(&r.events, conn);
        // Orderly close (RFC 9293 §3.10.4, §3.10.7.4): CLOSED only from LAST-ACK or TIME-WAIT
        // (or CLOSING, on a RST from a peer whose TIME-WAIT ended before our retransmitted FIN
        // got through: "CLOSING STATE ... If the RST bit is set, then enter the CLOSED state"),
        // with no error.
        let last = tr.last().copied();
        ensure!(
            matches!(
                last,
                Some((
                    State::LastAck | State::TimeWait | State::Closing,
                    State::Closed,
                    _
                ))
            ),
            "{name}: did not close in order: {:?}",
            tr.iter()
                .map(|(f, t, _)| format!("{f}->{t}"))
                .collect::<Vec<_>>()
        );
        ensure!(
            closed_reasons(&r.events, conn) == [None],
            "{name}: closed with an error"
        );
        // RFC 9293 §3.4.2: TIME-WAIT lasts at least 2 MSL.
        let msl = if name == "client" {
            &case.client
        } else {
            &case.server
        }
        .msl_ms;
        if let Some(&(_, _, entered)) = tr.iter().find(|(_, to, _)| *to == State::TimeWait) {
            let (_, _, left) = last.unwrap();
            let stayed = left.saturating_duration_since(entered);
            ensure!(
                stayed >= Duration::from_millis(2 * msl),
                "{name}: TIME_WAIT lasted {stayed:?} < 2 MSL ({} ms)",
                2 * msl
            );
        }
    }
    // Who closes first decides who waits in TIME-WAIT (RFC 9293 §3.6): the end whose FIN went
    // out before the peer's FIN arrived.
    let went_tw = |r: &PeerReport| {
        transitions(&r.events, r.conn.unwrap())
            .iter()
            .any(|(_, to, _)| *to == State::TimeWait)
    };
    let (ctw, stw) = (went_tw(&o.client), went_tw(&o.server));
    match case.closer {
        Client => ensure!(
            ctw && !stw,
            "client closed first: TIME_WAIT client {ctw} server {stw}"
        ),
        Server => ensure!(
            stw && !ctw,
            "server closed first: TIME_WAIT client {ctw} server {stw}"
        ),
        Both => ensure!(ctw || stw, "nobody went through TIME_WAIT"),
    }
    Ok(())
}

/// A partition that never heals: every end still waiting for its peer fails with TimedOut.
fn check_no_heal(case: &Case, o: &Outcome) -> Result<(), String> {
    ensure!(
        o.apps_done,
        "applications still waiting at {} (partition at {:?})",
        o.apps_done_at,
        o.partition_started.map(|p| p.0)
    );
    let (_, client_done, server_done) = o.partition_started.expect("partitioned");
    for (name, r, done_before, expected) in [
        ("client", &o.client, client_done, &o.expected_s2c),
        ("server", &o.server, server_done, &o.expected_c2s),
    ] {
        if done_before {
            // Finished before the partition: a complete, error-free transfer.
            ensure!(
                r.error.is_none(),
                "{name}: failed with {:?} before the partition started",
                r.error
            );
            ensure!(
                r.eof && r.received == *expected,
                "{name}: finished early with wrong data"
            );
        } else if r.conn.is_some() || name == "client" {
            // RFC 9293 §3.8.3 (R2) and RFC 1122 §4.2.3.6: retransmissions, SYN retries or
            // keepalives give up and report a timeout.
            ensure!(
                r.error == Some(ConnectionError::TimedOut),
                "{name}: expected TimedOut, got {:?}",
                r.error
            );
            // What arrived before is a prefix of what was sent.
            ensure!(
                expected.starts_with(&r.received),
                "{name}: received bytes are not a prefix of the stream"
            );
        }
    }
    check_common(case, o)
}

fn check(case: &Case, o: &Outcome) -> Result<(), String> {
    // Segment-level rules first: they name the first wrong segment.
    o.wire.clone()?;
    // No ACK storm or other runaway sending (checked first: it also stops the run early).
    ensure!(
        o.packets <= o.budget,
        "{} packets sent, more than the budget of {} (ACK storm?)",
        o.packets,
        o.budget
    );
    match &case.partition {
        Some(PartitionCase {
            heal_after_ms: None,
            ..
        }) => check_no_heal(case, o),
        _ => check_success(case, o),
    }
}

// ---------------------------------------------------------------------------------------------
// Runners
// ---------------------------------------------------------------------------------------------

fn runner(default_cases: u32) -> TestRunner {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_cases);
    let mut config = PtConfig {
        cases,
        failure_persistence: None,
        max_shrink_iters: 512,
        ..PtConfig::default()
    };
    if config.rng_seed == RngSeed::Random {
        // Reproducible by default; PROPTEST_RNG_SEED explores others.
        config.rng_seed = RngSeed::Fixed(0x005e_ed0f_5a4c);
    }
    TestRunner::new(config)
}

/// Runs one case and checks it; with `PROPS_VERBOSE` set, prints a line about it.
fn run_and_check(name: &str, case: &Case) -> Result<(), String> {
    let started = std::time::Instant::now();
    let (o, _) = run_case(case, false);
    let verdict = check(case, &o);
    if std::env::var_os("PROPS_VERBOSE").is_some() {
        eprintln!(
            "{name}: c2s {} s2c {} {:?} partition {:?}: apps done at {} (bound {:?}), closed at {}, {}/{} packets, {:?} wall; {}",
            case.c2s,
            case.s2c(),
            case.closer,
            case.partition,
            o.apps_done_at,
            o.time_bound,
            o.closed_at,
            o.packets,
            o.budget,
            started.elapsed(),
            match &verdict {
                Ok(()) => "ok".to_string(),
                Err(e) => e.clone(),
            }
        );
    }
    verdict
}

fn run_property(name: &str, default_cases: u32, strategy: impl Strategy<Value = Case>) {
    if std::env::var_os("PROPS_SWEEP").is_some() {
        return sweep(name, default_cases, strategy);
    }
    let ran = AtomicUsize::new(0);
    let mut runner = runner(default_cases);
    let result = runner.run(&strategy, |case| {
        ran.fetch_add(1, Ordering::Relaxed);
        run_and_check(name, &case).map_err(TestCaseError::fail)
    });
    eprintln!("{name}: {} cases run", ran.load(Ordering::Relaxed));
    match result {
        Ok(()) => {}
        Err(TestError::Fail(reason, case)) => {
            panic!("{name}: {reason}\nminimal case:\n{case:#?}")
        }
        Err(e) => panic!("{name}: {e}"),
    }
}

/// Sweep mode (`PROPS_SWEEP=1`): runs every case instead of stopping at the first failure,
/// groups failures by message (digits stripped), and shrinks one example of each group.
fn sweep<S: Strategy<Value = Case>>(name: &str, default_cases: u32, strategy: S) {
    use proptest::strategy::ValueTree;
    let mut runner = runner(default_cases);
    let cases = runner.config().cases;
    let started = std::time::Instant::now();
    // A failure's kind: its message without numbers and without the segment it quotes.
    let kind = |c: &Case| {
        run_and_check(name, c).err().map(|e| {
            let e = e.split(" IP ").next().unwrap_or_default();
            e.chars()
                .filter(|c| !c.is_ascii_digit())
                .collect::<String>()
        })
    };
    let mut groups: Vec<(String, usize, S::Tree)> = Vec::new();
    for _ in 0..cases {
        let tree = strategy.new_tree(&mut runner).expect("generate");
        if let Some(key) = kind(&tree.current()) {
            match groups.iter_mut().find(|g| g.0 == key) {
                Some(g) => g.1 += 1,
                None => groups.push((key, 1, tree)),
            }
        }
    }
    eprintln!(
        "{name}: sweep of {cases} cases in {:?}: {} failing, {} kinds",
        started.elapsed(),
        groups.iter().map(|g| g.1).sum::<usize>(),
        groups.len()
    );
    // Shrink one example of each kind: simplify while it still fails the same way.
    let kinds = groups.len();
    for (key, count, mut tree) in groups {
        let mut best = tree.current();
        let mut steps = 0;
        if tree.simplify() {
            while steps < 1024 {
                steps += 1;
                let cur = tree.current();
                if kind(&cur).as_deref() == Some(key.as_str()) {
                    best = cur;
                    if !tree.simplify() {
                        break;
                    }
                } else if !tree.complicate() {
                    break;
                }
            }
        }
        eprintln!("=== {name}: {count} x {key}\nshrunk in {steps} steps to:\n{best:#?}");
    }
    assert!(kinds == 0, "{name}: {kinds} kinds of failure (see above)");
}

/// Prints a case's packets (what each host sent and what the link did to it) as tcpdump lines.
#[allow(dead_code)]
fn trace_case(case: &Case, max_lines: usize) -> Result<(), String> {
    let (o, p) = run_case(case, true);
    let caps = &o.captures;
    let lines: Vec<String> = caps
        .iter()
        .filter(|c| c.event != CaptureEvent::Delivered)
        .map(|c| {
            let who = if c.from == p.a { "C>" } else { "S>" };
            let what = match c.event {
                CaptureEvent::Sent => String::new(),
                e => format!(" [{e:?}]"),
            };
            // tcpdump omits the sequence number of a bare ACK; it matters here (RFC 9293
            // §3.10.7.4 acceptability), so show it.
            let seq = synack_wire::ip::parse_ip(&c.packet)
                .ok()
                .and_then(|ip| {
                    synack_wire::TcpRepr::parse(ip.payload, ip.header.src, ip.header.dst).ok()
                })
                .filter(|t| t.seq_len() == 0 && !t.flags.rst())
                .map(|t| format!(" (seq {})", t.seq.0))
                .unwrap_or_default();
            format!(
                "{} {who} {}{seq}{what}",
                c.time,
                synack_wire::tcpdump::format_packet(&c.packet)
            )
        })
        .collect();
    let skip = lines.len().saturating_sub(max_lines);
    if skip > 0 {
        eprintln!("... {skip} earlier lines");
    }
    for l in &lines[skip..] {
        eprintln!("{l}");
    }
    check(case, &o)
}

fn replay(case: &Case) {
    if let Err(e) = trace_case(case, 80) {
        panic!("{e}");
    }
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

/// Transfers of 0..2 MB each way under every impairment, option and buffer combination.
#[test]
fn transfer_survives_impairments() {
    run_property(
        "transfer_survives_impairments",
        256,
        case(MAX_TRANSFER, Mtus::Same, Losses::Allowed, Just(None)),
    );
}

/// As above over links that never lose a packet but delay, jitter, reorder and duplicate them:
/// no retransmission timeout is needed, and delivery is exact all the same.
#[test]
fn transfer_survives_reordering_and_duplication() {
    run_property(
        "transfer_survives_reordering_and_duplication",
        192,
        case(MAX_TRANSFER, Mtus::Independent, Losses::None, Just(None)),
    );
}

/// As above with a different MTU on each host: the path MTU is the smaller one, so each end must
/// keep every segment within the MSS its peer announced, options included (RFC 6691 §2).
#[test]
fn transfer_survives_impairments_asymmetric_mtu() {
    run_property(
        "transfer_survives_impairments_asymmetric_mtu",
        128,
        case(MAX_TRANSFER, Mtus::Independent, Losses::Allowed, Just(None)),
    );
}

/// The link goes down mid-transfer for up to 30 s and comes back: the connection carries on
/// (RFC 9293 §3.8.3: retransmission with backoff rides out outages shorter than R2).
#[test]
fn transfer_survives_healed_partition() {
    let partition = (0u64..=1000, 1u64..=30_000).prop_map(|(after_permille, heal)| {
        Some(PartitionCase {
            after_permille,
            heal_after_ms: Some(heal),
        })
    });
    run_property(
        "transfer_survives_healed_partition",
        128,
        case(256 * 1024, Mtus::Same, Losses::Allowed, partition),
    );
}

/// The link goes down for good: both ends give up with TimedOut (retransmission or keepalive
/// limits), in bounded time, and free their connections.
#[test]
fn permanent_partition_times_out() {
    let partition = (0u64..=1000).prop_map(|after_permille| {
        Some(PartitionCase {
            after_permille,
            heal_after_ms: None,
        })
    });
    run_property(
        "permanent_partition_times_out",
        256,
        case(256 * 1024, Mtus::Same, Losses::Allowed, partition),
    );
}

// ---------------------------------------------------------------------------------------------
// Regressions: minimal cases found by the properties
// ---------------------------------------------------------------------------------------------

fn host(mtu: usize) -> HostCase {
    HostCase {
        mtu,
        send_buffer: 1 << 20,
        recv_buffer: 1 << 20,
        window_scale: Some(7),
        timestamps: true,
        sack: true,
        isn: None,
        nodelay: false,
        msl_ms: 30_000,
    }
}

/// A plain case: a perfect link and default hosts, for regressions to modify.
#[allow(dead_code)]
fn plain(c2s: usize, reply: Reply, closer: Closer) -> Case {
    Case {
        seed: 1,
        ipv6: false,
        client: host(1500),
        server: host(1500),
        up: LinkCase::perfect(),
        down: LinkCase::perfect(),
        c2s,
        reply,
        closer,
        close_directly: false,
        partition: None,
    }
}

#[test]
fn plain_echo_case_passes() {
    replay(&plain(100_000, Echo, Client));
}

/// Found by `transfer_survives_impairments_asymmetric_mtu`. The client's MTU is 576 (MSS 536),
/// the server's 1500. While the server holds out-of-order data it echoes 536-byte segments with a
/// SACK block (12 option bytes): 588-byte packets the 576-byte path drops. RFC 6691 §2: "the
/// sender MUST reduce the TCP data length to account for any IP or TCP options that it is
/// including"; RFC 9293 §3.7.1: data + options must fit the MSS the peer announced.
#[test]
fn regression_sack_blocks_fit_the_peer_mss() {
    let mut c = plain(2000, Echo, Client);
    c.client.mtu = 576;
    c.client.timestamps = false;
    c.server.timestamps = false;
    c.seed = 22;
    c.up.loss = 0.1;
    replay(&c);
}

/// Found by `permanent_partition_times_out` (shrunk from a lossy case). The server's receive
/// buffer is 1024 bytes but it offers window scale 11 (units of 2048 bytes). Once the client has
/// filled the 1024-byte window and the server's application has read everything, the free space
/// (1024) rounds down to a zero window field, forever: the transfer deadlocks until the client's
/// persist timer gives up. RFC 9293 §3.8.6.2.2 requires the window to reopen once the buffer
/// drains (by min(buffer/2, MSS)); RFC 7323 §2.3 lets the receiver round up to a unit, which the
/// buffer (sized limit + 2^shift) has room for.
#[test]
fn regression_window_reopens_with_a_large_shift_and_a_tiny_buffer() {
    let mut c = plain(2048, Stream(0), Client);
    c.server.recv_buffer = 1024;
    c.server.window_scale = Some(11);
    c.server.timestamps = false;
    c.client.timestamps = false;
    replay(&c);
}

/// Accepts one connection and never reads from it: the client's data fills the window.
struct Sink {
    addr: SocketAddr,
    listener: Option<ListenerId>,
    conn: Option<ConnId>,
}

impl App for Sink {
    fn poll(&mut self, stack: &mut Stack, _now: Instant, _events: &[Event]) {
        let l = *self
            .listener
            .get_or_insert_with(|| stack.listen(self.addr, 16).expect("listen"));
        while let Some(c) = stack.accept(l) {
            self.conn.get_or_insert(c);
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A client streaming 16 KB into a server that never reads (4 KB receive buffer): the window
/// closes and the client must probe it (RFC 9293 §3.8.6.1). Returns the pair after `run` of
/// virtual time, with captures.
fn zero_window_pair(run: Duration, exact_fill: bool) -> Pair {
    // exact_fill: 1024-byte segments (MTU 1064) and no window scaling, so four segments fill
    // the window exactly and it closes to zero. Otherwise 1460-byte segments leave 1176 bytes.
    let cfg = |isn| Config {
        isn: IsnMode::Fixed(isn),
        timestamps: false,
        recv_buffer: 4096,
        mtu: if exact_fill { 1064 } else { 1500 },
        window_scale: if exact_fill { None } else { Some(7) },
        ..Config::default()
    };
    let mut p = Pair::new(
        cfg(1_000),
        cfg(2_000),
        LinkConfig::default().with_delay(Duration::from_millis(10)),
        1,
    );
    p.net.set_capture(true);
    let server = p.b_addr(80);
    let data = pattern(16_384, 3);
    p.net.host_mut(p.b).app = Some(Box::new(Sink {
        addr: server,
        listener: None,
        conn: None,
    }));
    p.net.host_mut(p.a).app = Some(Box::new(Peer::new(
        true,
        server,
        data,
        false,
        FinWhen::AfterSend,
    )));
    p.start();
    p.net.run_for(run);
    p
}

/// One TCP segment a host sent.
#[derive(Debug)]
struct Sent {
    time: Instant,
    from_client: bool,
    seq: u32,
    ack: u32,
    len: usize,
    flags: synack_wire::TcpFlags,
    window: u16,
    line: String,
}

/// Every TCP segment either host sent, parsed, in order.
fn segments(p: &mut Pair) -> Vec<Sent> {
    let a = p.a;
    p.net
        .take_captures()
        .iter()
        .filter(|c| c.event == CaptureEvent::Sent)
        .filter_map(|c| {
            let ip = synack_wire::ip::parse_ip(&c.packet).ok()?;
            let t = synack_wire::TcpRepr::parse(ip.payload, ip.header.src, ip.header.dst).ok()?;
            Some(Sent {
                time: c.time,
                from_client: c.from == a,
                seq: t.seq.0,
                ack: t.ack.0,
                len: t.payload.len(),
                flags: t.flags,
                window: t.window,
                line: format!(
                    "{} {} {}",
                    c.time,
                    if c.from == a { "C>" } else { "S>" },
                    synack_wire::tcpdump::format_packet(&c.packet)
                ),
            })
        })
        .collect()
}

/// Found while building the zero-window regressions below. The server (4096-byte buffer, never
/// reads) acknowledges two 1460-byte segments and offers the rest of its window (1176 bytes,
/// advertised as 1280 after scaling). The client has 13 KB queued and nothing in flight, but
/// sender-side silly window avoidance holds the short segment back and no timer ever releases
/// it: the client goes silent forever (and would stay silent even if a later window update from
/// the server were lost). RFC 9293 §3.8.6.2.1 (4) and RFC 1122 §4.2.3.4: pushed data is sent
/// when the override timeout (0.1 to 1 s) occurs; the window then closes and persist probing
/// takes over (RFC 9293 §3.8.6.1).
#[test]
fn regression_sender_fills_a_small_window_after_the_override_timeout() {
    let mut p = zero_window_pair(Duration::from_secs(30), false);
    let segs = segments(&mut p);
    for s in &segs {
        eprintln!("{}", s.line);
    }
    let data_end = |by: Instant| {
        segs.iter()
            .filter(|s| s.from_client && s.len > 0 && s.time <= by)
            .map(|s| s.seq.wrapping_add(s.len as u32))
            .max()
            .expect("the client sent data")
    };
    // The window scale the server announced in its SYN-ACK (RFC 7323 §2.2).
    let shift = segs
        .iter()
        .find(|s| !s.from_client && s.flags.syn())
        .and_then(|s| s.line.split("wscale ").nth(1))
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or(0);
    // The first ACK that offered a window smaller than a segment (RFC 7323 §2.3 scaling).
    let small = segs
        .iter()
        .find(|s| {
            !s.from_client
                && s.flags.ack()
                && !s.flags.syn()
                && s.window > 0
                && (u32::from(s.window) << shift) < 1460
        })
        .expect("the server offered a small window");
    let edge = small.ack.wrapping_add(u32::from(small.window) << shift);
    // Within 1 s (the longest override timeout) of that ACK the client fills the window; past the
    // edge it may only put the one-octet zero-window probes of RFC 9293 §3.8.6.1.
    let by = small.time + Duration::from_secs(1);
    assert!(
        data_end(by) == edge || data_end(by) == edge.wrapping_add(1),
        "by {by} the client sent up to {}, the window ends at {edge}",
        data_end(by)
    );
}

/// Found while shrinking a `permanent_partition_times_out` case. Replies to zero-window probes
/// (same ACK, same zero window) were counted as duplicate ACKs; the third started a "fast
/// retransmit" of a full segment of never-sent data (and the FIN) into the closed window. RFC
/// 9293 §3.8.6.1: while the window is zero the sender sends only probes; RFC 5681 §3.2 step 3
/// retransmits the lost segment (here the one-byte probe), never new data.
#[test]
fn regression_zero_window_probe_replies_do_not_trigger_fast_retransmit() {
    let mut p = zero_window_pair(Duration::from_secs(30), true);
    let segs = segments(&mut p);
    for s in &segs {
        eprintln!("{}", s.line);
    }
    // From the server's first zero-window ACK on, every client segment is a probe: at most one
    // byte of data, no FIN.
    let closed = segs
        .iter()
        .position(|s| !s.from_client && s.window == 0 && s.flags.ack())
        .expect("the window closes");
    let probes = segs[closed..]
        .iter()
        .filter(|s| s.from_client && s.len > 0)
        .count();
    assert!(
        probes >= 3,
        "the client probes the zero window ({probes} probes)"
    );
    for s in segs[closed..].iter().filter(|s| s.from_client) {
        assert!(
            s.len <= 1 && !s.flags.fin(),
            "sent into a zero window: {}",
            s.line
        );
    }
}

/// Found together with the one above. A receiver that keeps its window closed but answers every
/// probe must not be timed out: RFC 1122 §4.2.2.17 "As long as the receiving TCP continues to
/// send acknowledgments in response to the probe segments, the sending TCP MUST allow the
/// connection to stay open." The core counts answered probes against `max_retries` and fails the
/// connection with TimedOut after about 15 minutes.
#[test]
fn regression_answered_window_probes_keep_the_connection_open() {
    let mut p = zero_window_pair(Duration::from_secs(3600), true);
    let segs = segments(&mut p);
    let last_probe = segs
        .iter()
        .rev()
        .find(|s| s.from_client && s.len == 1)
        .map(|s| s.time);
    let client: &Peer = p.net.host(p.a).app();
    let conn = client.conn.expect("connected");
    assert_eq!(client.error, None, "last probe at {last_probe:?}");
    // The client queued everything and shut down its write side; the FIN waits behind the data.
    assert_eq!(p.sa().state(conn), Some(State::FinWait1));
    let info = p.sa().info(conn).unwrap();
    assert!(info.counters.window_probes > 20, "{:?}", info.counters);
}

/// Found by `permanent_partition_times_out`. Keepalive is on (idle 10 s, 2 s interval, 3
/// probes); the handshake completes, nobody sends anything, and the link goes down. RFC 1122
/// §4.2.3.6 / RFC 9293 §3.8.4: after the idle time the ends probe and, unanswered, declare the
/// peer dead. But neither end ever arms its keepalive timer: the ACK processing that would arm it
/// runs while the connection is still SYN-SENT / SYN-RECEIVED, so an idle connection is never
/// probed and hangs forever.
#[test]
fn regression_keepalive_probes_an_idle_connection() {
    let ka = Keepalive {
        idle: Duration::from_secs(10),
        interval: Duration::from_secs(2),
        count: 3,
    };
    let cfg = |isn| Config {
        isn: IsnMode::Fixed(isn),
        timestamps: false,
        keepalive: Some(ka),
        ..Config::default()
    };
    let mut p = Pair::new(
        cfg(1_000),
        cfg(2_000),
        LinkConfig::default().with_delay(Duration::from_millis(10)),
        1,
    );
    p.net.set_capture(true);
    let server = p.b_addr(80);
    // Both ends wait for the other's FIN before sending their own: nobody sends anything.
    p.net.host_mut(p.b).app = Some(Box::new(Peer::new(
        false,
        server,
        Vec::new(),
        false,
        FinWhen::AfterEof,
    )));
    p.net.host_mut(p.a).app = Some(Box::new(Peer::new(
        true,
        server,
        Vec::new(),
        false,
        FinWhen::AfterEof,
    )));
    p.start();
    p.net.run_for(Duration::from_secs(1));
    let (a, b) = (p.a, p.b);
    p.net.partition(a, b);
    p.net.run_for(Duration::from_secs(60));
    for l in synack_tests::tcpdump_lines(&p.net.take_captures()) {
        eprintln!("{l}");
    }
    for (name, h) in [("client", a), ("server", b)] {
        let peer: &Peer = p.net.host(h).app();
        assert!(peer.conn.is_some(), "{name} connected");
        // Probes at 11, 13, 15 s; declared dead at 17 s (idle + count * interval after the
        // last segment received, plus the partition's start).
        assert_eq!(peer.error, Some(ConnectionError::TimedOut), "{name}");
        assert!(peer.done_at.unwrap() <= Instant::from_secs(20), "{name}");
    }
}

/// Found by `transfer_survives_healed_partition` (shrunk, then simplified by hand). Both ends
/// stream 2 KB at each other (MSS 536, no options, ISNs 1000 and 2000); a 10 ms outage at 0.02 s
/// eats the data ACKs both ways. Each end's retransmission timeout then moves SND.NXT back to
/// SND.UNA and resends one segment, which the peer has already received; the peer answers with a
/// pure ACK carrying its own rolled-back SND.NXT, below this end's RCV.NXT. So every ACK either
/// end sends is unacceptable to the other (RFC 9293 §3.10.7.4 first check), is answered with
/// another ACK and dropped without its ACK field being processed: an endless ACK storm, neither
/// end ever learns that its data arrived, and both time out. RFC 9293 §3.10.7.4 sends
/// <SEQ=SND.NXT>, where SND.NXT is the next new sequence number (retransmissions do not move it
/// back); BSD sends pure ACKs at SND.MAX for exactly this reason.
#[test]
fn regression_no_ack_storm_after_both_ends_time_out() {
    let host = |isn| HostCase {
        mtu: 576,
        send_buffer: 4096,
        recv_buffer: 4096,
        window_scale: None,
        timestamps: false,
        sack: false,
        isn: Some(isn),
        nodelay: false,
        msl_ms: 30_000,
    };
    let c = Case {
        seed: 1,
        ipv6: false,
        client: host(1000),
        server: host(2000),
        up: LinkCase {
            delay_ms: 10,
            ..LinkCase::perfect()
        },
        down: LinkCase::perfect(),
        c2s: 2048,
        reply: Echo,
        closer: Client,
        close_directly: false,
        // The outage starts when 65% of the bytes (both ways) have arrived: at 0.02 s.
        partition: Some(PartitionCase {
            after_permille: 650,
            heal_after_ms: Some(10),
        }),
    };
    replay(&c);
}

/// Found by the `permanent_partition_times_out` sweep (before its partition even started). The
/// client's one segment (4095 bytes and FIN) fills the server's 4096-byte window exactly, so the
/// client's SND.NXT is the server's right window edge. The segment is dropped for 20 s (here: a
/// path MTU black hole on the client-to-server direction that then clears). Meanwhile the
/// server's keepalive probes (idle 10 s, interval 2 s, 3 probes) are all answered, but each
/// answer carries SEQ = RCV.NXT + RCV.WND, which the server's acceptability test rejects (RFC
/// 9293 §3.10.7.4 reads RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND for an empty segment; Linux and BSD
/// accept SEG.SEQ = RCV.NXT+RCV.WND). So the server declares a peer that answers every probe
/// dead (TimedOut), and answers the client's next retransmission with a RST. RFC 1122 §4.2.3.6:
/// a connection is dropped only when the peer does not respond to keep-alives.
#[test]
fn regression_keepalive_answers_at_the_window_edge_keep_the_connection() {
    let ka = Keepalive {
        idle: Duration::from_secs(10),
        interval: Duration::from_secs(2),
        count: 3,
    };
    // Only the server probes (the client's own probes would reset the server's count).
    let cfg = |isn, keepalive| Config {
        isn: IsnMode::Fixed(isn),
        timestamps: false,
        window_scale: None,
        recv_buffer: 4096,
        mtu: 65_535,
        keepalive,
        ..Config::default()
    };
    let link = LinkConfig::default().with_delay(Duration::from_millis(10));
    let mut p = Pair::new(cfg(1_000, None), cfg(2_000, Some(ka)), link.clone(), 1);
    let (a, b) = (p.a, p.b);
    // Client to server drops anything over 1500 bytes for the first 20 s: the data segment.
    p.net.set_link(a, b, link.clone().with_mtu(1500));
    p.net.set_capture(true);
    let server = p.b_addr(80);
    p.net.host_mut(b).app = Some(Box::new(Peer::new(
        false,
        server,
        Vec::new(),
        false,
        FinWhen::AfterEof,
    )));
    p.net.host_mut(a).app = Some(Box::new(Peer::new(
        true,
        server,
        pattern(4095, 5),
        false,
        FinWhen::AfterSend,
    )));
    p.start();
    p.net.run_for(Duration::from_secs(20));
    p.net.set_link(a, b, link);
    p.net.run_for(Duration::from_secs(200));
    for s in segments(&mut p) {
        eprintln!("{} (seq {}, ack {})", s.line, s.seq, s.ack);
    }
    let client: &Peer = p.net.host(a).app();
    let server: &Peer = p.net.host(b).app();
    assert_eq!(server.error, None, "server");
    assert_eq!(client.error, None, "client");
    assert_eq!(server.received, pattern(4095, 5));
    assert!(client.closed && server.closed);
}

/// Found by `transfer_survives_reordering_and_duplication` (no loss at all, only duplication).
/// The client's window is 1024 bytes; the server has 1025 bytes queued and sends 2001:3025, the
/// whole window. Duplicated SYN-ACKs make the client send challenge ACKs (RFC 5961 §4), which
/// the server counts as three duplicate ACKs; its fast retransmit then sends 2001:3026, 1025
/// bytes: one byte never sent before and past the right edge of the offered window (3025). RFC
/// 5681 §3.2 step 3 retransmits the lost segment (what was sent: at most SND.MAX - SND.UNA),
/// and RFC 9293 §3.8.6 never sends data past SND.UNA + SND.WND (bar a one-byte zero-window
/// probe).
#[test]
fn regression_fast_retransmit_stays_within_the_window() {
    let host = |isn, send_buffer, recv_buffer| HostCase {
        mtu: 1500,
        send_buffer,
        recv_buffer,
        window_scale: None,
        timestamps: false,
        sack: false,
        isn: Some(isn),
        nodelay: false,
        msl_ms: 30_000,
    };
    let dup = LinkCase {
        duplicate: 0.1,
        ..LinkCase::perfect()
    };
    let c = Case {
        seed: 36,
        ipv6: false,
        client: host(1000, 4096, 1024),
        server: host(2000, 1025, 4096),
        up: dup.clone(),
        down: dup,
        c2s: 2048,
        reply: Echo,
        closer: Client,
        close_directly: false,
        partition: None,
    };
    replay(&c);
}

/// Found by `transfer_survives_impairments` (the "one byte short" stall): tiny buffers (server
/// window 1150, client send buffer 1195) and 18.5% loss toward the client. The server's bare ACK
/// after a timeout carries its SND.MAX, which becomes the client's SND.WL1; its retransmission
/// (SEG.SEQ below that) then acknowledges all the client sent, but the window update check
/// (RFC 9293 §3.10.7.4) refused its window, so the usable window, counted from SND.WL2, stayed
/// shut with nothing in flight: the client's last byte and FIN never left, and both ends waited
/// one byte short forever. `scenarios_flow::retransmitted_segment_acking_new_data_updates_the_window`
/// is the same thing by hand.
#[test]
fn regression_window_update_from_a_retransmission_below_snd_wl1() {
    let host = |send_buffer, recv_buffer| HostCase {
        mtu: 9000,
        send_buffer,
        recv_buffer,
        window_scale: None,
        timestamps: false,
        sack: false,
        isn: None,
        nodelay: false,
        msl_ms: 30_000,
    };
    let c = Case {
        seed: 1_629_986_167_085_947_302,
        ipv6: false,
        client: host(1195, 9562),
        server: host(4097, 1150),
        up: LinkCase {
            delay_ms: 82,
            bandwidth_bps: Some(2_234_742),
            corrupt: 0.03487180074022621,
            ..LinkCase::perfect()
        },
        down: LinkCase {
            delay_ms: 35,
            loss: 0.18518860791725458,
            corrupt: 0.02226121519351493,
            ..LinkCase::perfect()
        },
        c2s: 148_351,
        reply: Echo,
        closer: Client,
        close_directly: false,
        partition: None,
    };
    replay(&c);
}
