//! Target 3: two stacks over a simulated link whose impairments come from the input.
//!
//! The input picks both hosts' settings, both directions' link (loss, reordering, duplication,
//! delay, jitter, corruption, bandwidth, queue limit, MTU), how long the impairments last, and a
//! sequence of actions: time steps, client sends of input-chosen sizes, server reads, and
//! shutdown/close/abort calls at input-chosen points. Then the link turns clean and the transfer
//! runs to completion in virtual time. Checked:
//!
//! - the bytes the server read are always a prefix of the bytes the client's `send` accepted;
//! - when no action destroyed the stream (an abort, a server close or read-shutdown with data
//!   unread, a close before the handshake), the server reads all of them and then end of stream,
//!   and neither side reports a connection error;
//! - every state transition either host makes is in RFC 9293 Figure 5.

use crate::gen::Gen;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use synack_core::{
    Config, ConnId, ConnectionError, Event, ListenerId, RecvError, SendError, Shutdown, State,
};
use synack_sim::{HostId, LinkConfig};
use synack_tests::Pair;

/// Actions per input at most.
const MAX_ACTIONS: usize = 200;
/// The longest the impaired phase may last, in virtual milliseconds. It stays well inside the
/// SYN and data retry budgets, so a clean link afterwards must be able to finish the transfer.
const MAX_IMPAIRED_MS: u64 = 20_000;
/// Virtual time the clean phase may go without delivering a byte: over twice the largest
/// retransmission timeout, so a live connection always makes progress within it.
const STALL_LIMIT: Duration = Duration::from_secs(300);
/// Virtual time the clean completion phase may take in all.
const COMPLETION_LIMIT: Duration = Duration::from_secs(3_600);
/// Largest transfer, to keep executions fast.
const MAX_TRANSFER: u64 = 64 * 1024;

/// What one run saw, for runners that want more than "no panic".
#[derive(Debug, Clone, Default)]
pub struct TwoStacksOutcome {
    /// Bytes the client's `send` accepted.
    pub sent: usize,
    /// Bytes the server read.
    pub delivered: usize,
    /// Whether the input kept the stream intact, so full delivery was required.
    pub must_deliver: bool,
    /// Whether the server read end of stream.
    pub eof: bool,
}

/// Runs the target on `data`.
pub fn two_stacks(data: &[u8]) {
    two_stacks_outcome(data);
}

/// Runs the target on `data` and reports what was sent and delivered.
pub fn two_stacks_outcome(data: &[u8]) -> TwoStacksOutcome {
    let mut run = Run::new(Gen::new(data));
    run.impaired_phase();
    run.clean_phase();
    run.check_end();
    TwoStacksOutcome {
        sent: run.sent,
        delivered: run.delivered.len(),
        must_deliver: !run.spoiled,
        eof: run.eof,
    }
}

fn host_config(g: &mut Gen<'_>) -> Config {
    let buffer = |g: &mut Gen<'_>| match g.below(4) {
        0 => 1 + g.below(4_000) as usize,
        1 => 1 + g.below(64 * 1024) as usize,
        _ => 64 * 1024,
    };
    Config {
        mtu: 576 + g.below(1500 - 576 + 1) as usize,
        send_buffer: buffer(g),
        recv_buffer: buffer(g),
        window_scale: g.chance(70).then(|| g.below(15) as u8),
        timestamps: g.chance(60),
        sack: g.chance(60),
        nodelay: g.chance(50),
        // TIME_WAIT short enough for the completion phase to see it end.
        msl: Duration::from_millis(100 + g.below(2_000)),
        ..Config::default()
    }
}

fn link_config(g: &mut Gen<'_>, mtu: usize) -> LinkConfig {
    let mut link = LinkConfig::default()
        .with_delay(Duration::from_millis(g.below(100)))
        .with_jitter(Duration::from_millis(g.below(20)))
        .with_mtu(mtu)
        .with_loss(g.probability(0.4))
        .with_duplicate(g.probability(0.2))
        .with_reorder(g.probability(0.3), Duration::from_millis(g.below(50)))
        .with_corrupt(g.probability(0.1));
    if g.chance(30) {
        link.bandwidth_bps = Some(64_000 + g.below(100_000_000));
    }
    if g.chance(20) {
        link.queue_limit_bytes = Some(1_500 + g.below(64 * 1024) as usize);
    }
    link
}

/// The same link without the impairments: delay, bandwidth and MTU stay.
fn clean(link: &LinkConfig) -> LinkConfig {
    LinkConfig {
        delay: link.delay,
        bandwidth_bps: link.bandwidth_bps,
        mtu: link.mtu,
        ..LinkConfig::default()
    }
}

struct Run<'a> {
    gen: Gen<'a>,
    pair: Pair,
    links: (LinkConfig, LinkConfig),
    impaired_ms: u64,
    listener: ListenerId,
    client: Option<ConnId>,
    server: Option<ConnId>,
    /// What the client will offer in all.
    data: Vec<u8>,
    /// Bytes of `data` the client's `send` accepted.
    sent: usize,
    /// The client shut its sending side or closed: it sends no more.
    client_done: bool,
    delivered: Vec<u8>,
    eof: bool,
    /// An action destroyed the stream: delivery may stop short.
    spoiled: bool,
    log: Vec<String>,
}

impl<'a> Run<'a> {
    fn new(mut gen: Gen<'a>) -> Self {
        let ipv6 = gen.chance(25);
        let seed = gen.next();
        let client_cfg = host_config(&mut gen);
        let server_cfg = host_config(&mut gen);
        // The path MTU is the smaller host MTU: each end respects the MSS the other announced.
        let mtu = client_cfg.mtu.min(server_cfg.mtu);
        let up = link_config(&mut gen, mtu);
        let down = link_config(&mut gen, mtu);
        let impaired_ms = gen.below(MAX_IMPAIRED_MS + 1);
        // A tiny send buffer or receive window moves a few bytes per round trip: keep such
        // transfers short so every run ends quickly.
        let narrowest = client_cfg.send_buffer.min(server_cfg.recv_buffer) as u64;
        let cap = (narrowest * 64).min(MAX_TRANSFER);
        let total = gen.below(cap + 1) as usize;
        let log = vec![
            format!("client {client_cfg:?}"),
            format!("server {server_cfg:?}"),
            format!("up {up:?}"),
            format!("down {down:?}"),
            format!("impaired for {impaired_ms} ms, {total} bytes to send"),
        ];
        let (a_ip, b_ip): (IpAddr, IpAddr) = if ipv6 {
            (
                IpAddr::V6([0xfd00, 0, 0, 0, 0, 0, 0, 1].into()),
                IpAddr::V6([0xfd00, 0, 0, 0, 0, 0, 0, 2].into()),
            )
        } else {
            (
                IpAddr::V4([10, 0, 0, 1].into()),
                IpAddr::V4([10, 0, 0, 2].into()),
            )
        };
        let mut pair = Pair::with_addrs(
            client_cfg.clone(),
            server_cfg.clone(),
            up.clone(),
            seed,
            a_ip,
            b_ip,
        );
        pair.net.set_link(pair.b, pair.a, down.clone());
        let now = pair.net.now();
        let server_addr = SocketAddr::new(b_ip, 80);
        let listener = pair
            .sb()
            .listen(server_addr, 4)
            .expect("a fresh stack listens on its own address");
        let client = pair
            .sa()
            .connect(now, None, server_addr)
            .expect("a fresh stack connects");
        pair.net.flush();
        Run {
            gen,
            pair,
            links: (up, down),
            impaired_ms,
            listener,
            client: Some(client),
            server: None,
            data: synack_tests::pattern(total, seed),
            sent: 0,
            client_done: false,
            delivered: Vec::new(),
            eof: false,
            spoiled: false,
            log,
        }
    }

    fn fail(&self, what: String) -> ! {
        let info = |host: HostId, conn: Option<ConnId>| {
            conn.and_then(|c| self.pair.net.host(host).stack.info(c))
                .map_or("gone".to_string(), |i| format!("{i:?}"))
        };
        let deadlines = format!(
            "now {:?}, client deadline {:?}, server deadline {:?}",
            self.pair.net.now(),
            self.pair.net.host(self.pair.a).stack.poll_timeout(),
            self.pair.net.host(self.pair.b).stack.poll_timeout()
        );
        panic!(
            "{what}\n{deadlines}\nclient: {}\nserver: {}\nsent {} of {} bytes, delivered {}, eof {}, spoiled {}\nactions:\n  {}",
            info(self.pair.a, self.client),
            info(self.pair.b, self.server),
            self.sent,
            self.data.len(),
            self.delivered.len(),
            self.eof,
            self.spoiled,
            self.log.join("\n  ")
        );
    }

    fn impaired_phase(&mut self) {
        let end = self.pair.net.now() + Duration::from_millis(self.impaired_ms);
        let mut actions = 0;
        while !self.gen.is_empty() && actions < MAX_ACTIONS {
            actions += 1;
            match self.gen.below(16) {
                0..=4 => {
                    // Time passes, but the impaired phase ends at its bound.
                    let ms = match self.gen.below(4) {
                        0 => self.gen.below(5_000),
                        _ => self.gen.below(200),
                    };
                    let until = (self.pair.net.now() + Duration::from_millis(ms)).min(end);
                    self.log.push(format!("run {ms} ms"));
                    self.pair.net.run_until(until);
                }
                5..=8 => {
                    let chunk = 1 + self.gen.below(16 * 1024) as usize;
                    self.client_send(chunk);
                }
                9..=11 => {
                    let max = 1 + self.gen.below(64 * 1024) as usize;
                    self.server_read(max);
                }
                // Ending or destroying the stream is rare, so most inputs check full delivery.
                12 if self.gen.chance(30) => self.client_shutdown_or_close(),
                13 => {
                    self.log.push("server shutdown(Write)".into());
                    if let Some(s) = self.server {
                        let now = self.pair.net.now();
                        let _ = self.pair.sb().shutdown(now, s, Shutdown::Write);
                    }
                }
                14 if self.gen.chance(2) => self.server_spoils(),
                15 if self.gen.chance(2) => {
                    self.log.push("client abort".into());
                    if let Some(c) = self.client.take() {
                        let now = self.pair.net.now();
                        let _ = self.pair.sa().abort(now, c);
                        self.spoiled = true;
                        self.client_done = true;
                    }
                }
                _ => {}
            }
            self.pair.net.flush();
            self.check_prefix();
        }
        self.pair.net.run_until(end.max(self.pair.net.now()));
        self.check_prefix();
    }

    /// Offers up to `chunk` more bytes of the transfer to the client.
    fn client_send(&mut self, chunk: usize) {
        let Some(c) = self.client.filter(|_| !self.client_done) else {
            return;
        };
        let end = self.sent.saturating_add(chunk).min(self.data.len());
        let Some(bytes) = self.data.get(self.sent..end) else {
            return;
        };
        if bytes.is_empty() {
            return;
        }
        let now = self.pair.net.now();
        let r = self.pair.sa().send(now, c, bytes);
        self.log
            .push(format!("client send {} -> {r:?}", bytes.len()));
        match r {
            Ok(n) => self.sent += n,
            Err(SendError::WouldBlock) => {}
            Err(e) => {
                if !self.spoiled {
                    self.fail(format!("client send failed on an intact stream: {e}"));
                }
            }
        }
    }

    fn client_shutdown_or_close(&mut self) {
        let Some(c) = self.client.filter(|_| !self.client_done) else {
            return;
        };
        let now = self.pair.net.now();
        self.client_done = true;
        if self.gen.chance(50) {
            self.log.push("client shutdown(Write)".into());
            let _ = self.pair.sa().shutdown(now, c, Shutdown::Write);
        } else {
            // RFC 9293 §3.10.4: CLOSE in SYN-SENT deletes the connection with what it queued.
            if self.pair.sa().state(c) == Some(State::SynSent) {
                self.spoiled = true;
            }
            self.log.push("client close".into());
            let _ = self.pair.sa().close(now, c);
            self.client = None;
        }
    }

    /// Server close, read-shutdown or abort: the stream may stop short.
    fn server_spoils(&mut self) {
        self.accept();
        let Some(s) = self.server else { return };
        let now = self.pair.net.now();
        let how = self.gen.below(3);
        self.log.push(format!("server spoils ({how})"));
        self.spoiled = true;
        let _ = match how {
            0 => self.pair.sb().close(now, s),
            1 => self.pair.sb().shutdown(now, s, Shutdown::Read),
            _ => self.pair.sb().abort(now, s),
        };
        self.server = None;
    }

    fn accept(&mut self) {
        while let Some(id) = self.pair.sb().accept(self.listener) {
            if self.server.is_none() && !self.spoiled {
                self.server = Some(id);
            } else {
                // Only one client connects: a second connection is dropped, and checked below
                // only through the data it can not deliver.
                let now = self.pair.net.now();
                let _ = self.pair.sb().abort(now, id);
            }
        }
    }

    fn server_read(&mut self, max: usize) {
        self.accept();
        let Some(s) = self.server else { return };
        let mut buf = vec![0u8; max];
        loop {
            match self.pair.sb().recv(s, &mut buf) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => {
                    if self.eof {
                        self.fail("data after end of stream".into());
                    }
                    self.delivered
                        .extend_from_slice(buf.get(..n).unwrap_or(&[]));
                }
                Err(RecvError::WouldBlock | RecvError::NotConnected) => break,
                Err(RecvError::Connection(e)) => {
                    self.connection_error("server", e);
                    self.server = None;
                    break;
                }
                Err(e) => self.fail(format!("server recv refused: {e}")),
            }
        }
    }

    fn connection_error(&mut self, who: &str, e: ConnectionError) {
        self.log.push(format!("{who} connection error: {e}"));
        if !self.spoiled {
            self.fail(format!(
                "{who} saw a connection error on an intact stream: {e}"
            ));
        }
    }

    fn check_prefix(&self) {
        let sent = self.data.get(..self.sent).unwrap_or(&[]);
        if !sent.starts_with(&self.delivered) {
            let at = self
                .delivered
                .iter()
                .zip(sent)
                .position(|(a, b)| a != b)
                .unwrap_or(sent.len());
            self.fail(format!(
                "delivered bytes are not a prefix of the sent bytes (first difference at {at})"
            ));
        }
    }

    /// The link turns clean; the client offers the rest and shuts down; the server reads to
    /// the end.
    fn clean_phase(&mut self) {
        let (a, b) = (self.pair.a, self.pair.b);
        self.pair.net.set_link(a, b, clean(&self.links.0));
        self.pair.net.set_link(b, a, clean(&self.links.1));
        let give_up = self.pair.net.now() + COMPLETION_LIMIT;
        let mut last_progress = (self.pair.net.now(), self.delivered.len());
        while self.pair.net.now() < give_up {
            if self.delivered.len() != last_progress.1 {
                last_progress = (self.pair.net.now(), self.delivered.len());
            } else if self.pair.net.now() >= last_progress.0 + STALL_LIMIT {
                break;
            }
            if self.client.is_some() && !self.client_done {
                self.client_send(usize::MAX);
                if self.sent == self.data.len() {
                    let c = self.client;
                    self.client_done = true;
                    if let Some(c) = c {
                        let now = self.pair.net.now();
                        self.log.push("client shutdown(Write) at the end".into());
                        let _ = self.pair.sa().shutdown(now, c, Shutdown::Write);
                    }
                }
            }
            self.server_read(64 * 1024);
            self.pair.net.flush();
            self.check_prefix();
            if self.eof || (self.spoiled && self.server.is_none()) {
                break;
            }
            if let Some(e) = self.client.and_then(|c| self.pair.sa().error(c)) {
                self.connection_error("client", e);
                break;
            }
            // One event at a time, so the apps above see every change.
            match self.pair.net.next_event_time() {
                Some(t) if t <= give_up => {
                    self.pair.net.step();
                }
                _ => break,
            }
        }
    }

    fn check_end(&mut self) {
        self.check_prefix();
        for (name, host) in [("client", self.pair.a), ("server", self.pair.b)] {
            self.check_transitions(name, host);
        }
        if self.spoiled {
            return;
        }
        if self.delivered.len() != self.sent || !self.eof {
            self.fail(format!(
                "a clean link did not finish the transfer (no progress for {STALL_LIMIT:?}, or \
                 over {COMPLETION_LIMIT:?}): delivered {} of {} bytes, eof {}",
                self.delivered.len(),
                self.sent,
                self.eof
            ));
        }
    }

    fn check_transitions(&self, name: &str, host: HostId) {
        for e in &self.pair.net.host(host).events {
            if let Event::StateChanged { from, to, .. } = e {
                if !synack_tests::figure5_edge(*from, *to) {
                    self.fail(format!(
                        "{name}: transition {from} -> {to} is not in RFC 9293 Figure 5"
                    ));
                }
            }
        }
    }
}
