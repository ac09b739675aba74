//! The four comparison scenarios, each written once against [`BenchStack`].

use super::driver::{Net, Step};
use crate::checksum::Checksum;
use crate::link::{Link, LinkConfig};
use crate::pattern::{Pattern, MAX_SLICE};
use crate::stacks::{BenchStack, Recv};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

/// Client address.
pub const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
/// Server address.
pub const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const BULK_PORT: u16 = 5001;
const CYCLE_PORT: u16 = 5002;
/// Idle connections go to server ports from here, this many per port (client ports are
/// distinct within one server port).
const IDLE_PORT_BASE: u16 = 6000;
const IDLE_PER_PORT: usize = 50_000;
const IDLE_CLIENT_PORT_BASE: u16 = 10_000;
/// Idle connections are opened this many at a time.
const IDLE_BATCH: usize = 1000;
/// Longest any run may take in simulated time.
const LIMIT: Duration = Duration::from_secs(24 * 3600);

/// One bulk or lossy transfer's outcome.
#[derive(Clone, Debug, Default)]
pub struct TransferOutcome {
    /// Bytes read by the receiver.
    pub received: u64,
    /// The receiver's bytes matched the pattern (count and checksum).
    pub verified: bool,
    /// Both ends closed afterwards (FIN exchange).
    pub closed: bool,
    /// CPU seconds (thread) from connect to end of stream.
    pub cpu: Duration,
    /// Wall seconds, same span.
    pub wall: Duration,
    /// Simulated time, same span (timer waits, and link time on a slow link).
    pub sim: Duration,
    /// Data segments the sender put on the wire.
    pub data_segments: u64,
    /// Of them, retransmissions (seen on the wire).
    pub retransmitted: u64,
    /// Retransmissions sent on a timer wake (RTOs and probes), seen on the wire.
    pub timer_retransmits: u64,
    /// The stack's own RTO count, where it keeps one.
    pub stack_timeouts: Option<u64>,
    /// Clock nudges (see [`Net::nudges`]).
    pub nudges: u64,
    /// First error.
    pub error: Option<String>,
}

/// Sends `bytes` of the pattern from `a` (client) to `b` (server) over `link` and verifies them.
pub fn transfer<A: BenchStack, B: BenchStack>(
    a: A,
    b: B,
    link: Link,
    bytes: u64,
    pattern: &Pattern,
) -> TransferOutcome {
    let mut net = Net::new(a, b, link);
    net.b.listen(BULK_PORT, 1);
    let expected = pattern.checksum(bytes);
    let mut client = None;
    let mut server = None;
    let (mut sent, mut closed_tx) = (0u64, false);
    let mut sum = Checksum::new();
    let mut eof = false;
    let mut failed: Option<String> = None;
    let mut buf = vec![0u8; 256 * 1024];
    let timer = crate::Timer::start();
    let outcome = net.run(LIMIT, |a, b, now| {
        let mut step = Step::Idle;
        let c = match client {
            Some(c) => c,
            None => match a.connect(now, 40_000, SocketAddrV4::new(SERVER, BULK_PORT)) {
                Some(c) => {
                    client = Some(c);
                    step = Step::Progress;
                    c
                }
                None => {
                    failed = Some("connect refused".into());
                    return Step::Done;
                }
            },
        };
        while sent < bytes {
            let want = (bytes - sent).min(MAX_SLICE as u64) as usize;
            let n = a.send(now, c, pattern.slice(sent, want));
            if n == 0 {
                break;
            }
            sent += n as u64;
            step = Step::Progress;
        }
        // RFC 9293 §3.10.4: CLOSE in SYN-SENT deletes the connection, queued data and all, so
        // the sender closes only once the handshake is done.
        if sent == bytes && !closed_tx && a.is_established(c) {
            a.close(now, c);
            closed_tx = true;
            step = Step::Progress;
        }
        if server.is_none() {
            server = b.accept();
        }
        if let Some(s) = server {
            loop {
                match b.recv(s, &mut buf) {
                    Recv::Data(n) => {
                        sum.update(&buf[..n]);
                        step = Step::Progress;
                    }
                    Recv::Eof => {
                        eof = true;
                        b.close(now, s);
                        return Step::Done;
                    }
                    Recv::WouldBlock => break,
                    Recv::Error => {
                        failed = Some("receiver connection failed".into());
                        return Step::Done;
                    }
                }
            }
        }
        step
    });
    let (wall, cpu) = timer.stop();
    let sim = net.now;
    let tx = net.link.stats(0);
    let stack_timeouts = net.a.counters().timeouts;
    // Untimed: both ends finish the close.
    let closed = match (client, server) {
        (Some(c), Some(s)) => net
            .run(sim + Duration::from_secs(600), |a, b, _| {
                if a.is_done(c) && b.is_done(s) {
                    Step::Done
                } else {
                    Step::Idle
                }
            })
            .is_ok(),
        _ => false,
    };
    let mut errors = net.a.take_errors();
    errors.extend(net.b.take_errors());
    let error = failed
        .or(outcome.err())
        .or(errors.into_iter().next())
        .or((!eof).then(|| "no end of stream".to_string()));
    TransferOutcome {
        received: sum.len(),
        verified: error.is_none() && sum.len() == bytes && sum.value() == expected,
        closed,
        cpu: super::cpu_or_wall(cpu.unwrap_or(wall), wall),
        wall,
        sim,
        data_segments: tx.data_segments,
        retransmitted: tx.retransmitted,
        timer_retransmits: tx.timer_retransmits,
        stack_timeouts,
        nudges: net.nudges,
        error,
    }
}

/// One cycles run's outcome.
#[derive(Clone, Debug, Default)]
pub struct CycleOutcome {
    /// Idle connections present.
    pub idle: usize,
    /// Idle connections actually established.
    pub idle_established: usize,
    /// Cycles completed with verified bytes.
    pub completed: u64,
    /// Cycles asked for.
    pub asked: u64,
    /// CPU time of the cycles (thread).
    pub cpu: Duration,
    /// Wall time of the cycles.
    pub wall: Duration,
    /// Connection memory of both stacks after the idle connections opened, bytes, and how
    /// measured.
    pub memory: (usize, &'static str),
    /// First error.
    pub error: Option<String>,
}

impl CycleOutcome {
    /// Cycles per CPU second.
    pub fn per_cpu_second(&self) -> f64 {
        self.completed as f64 / self.cpu.as_secs_f64().max(1e-9)
    }

    /// Everything asked for happened.
    pub fn verified(&self) -> bool {
        self.error.is_none() && self.completed == self.asked && self.idle_established == self.idle
    }
}

fn request() -> Vec<u8> {
    (0..1024).map(|i| (i * 31 + 7) as u8).collect()
}

fn response() -> Vec<u8> {
    (0..1024).map(|i| (i * 17 + 3) as u8 ^ 0x5a).collect()
}

/// Opens `n` idle connections from `net.a` to `net.b`; returns how many established.
pub fn open_idle<A: BenchStack, B: BenchStack>(
    net: &mut Net<A, B>,
    n: usize,
) -> Result<usize, String> {
    let mut established = 0;
    let mut start = 0;
    while start < n {
        let group = start / IDLE_PER_PORT;
        let port = IDLE_PORT_BASE + group as u16;
        let end = (start + IDLE_BATCH).min(n).min((group + 1) * IDLE_PER_PORT);
        net.b.listen(port, end - start);
        let mut clients = Vec::with_capacity(end - start);
        for i in start..end {
            let local = IDLE_CLIENT_PORT_BASE + (i % IDLE_PER_PORT) as u16;
            let now = net.now;
            match net.a.connect(now, local, SocketAddrV4::new(SERVER, port)) {
                Some(c) => clients.push(c),
                None => return Err(format!("idle connect {i} refused")),
            }
        }
        let mut accepted = 0;
        let want = end - start;
        net.run(net.now + Duration::from_secs(60), |a, b, _| {
            while b.accept().is_some() {
                accepted += 1;
            }
            if accepted == want && clients.iter().all(|c| a.is_established(*c)) {
                Step::Done
            } else {
                Step::Idle
            }
        })?;
        established += want;
        start = end;
    }
    Ok(established)
}

/// Opens `idle` connections, then runs open / 1 KiB request / 1 KiB response / close cycles
/// (client closes first) until `cycles` are done or `budget` of CPU time is spent.
pub fn cycles<A: BenchStack, B: BenchStack>(
    a: A,
    b: B,
    idle: usize,
    cycles: u64,
    budget: Duration,
) -> CycleOutcome {
    let mut net = Net::new(a, b, Link::new(LinkConfig::default(), 1));
    // The cycle's listening sockets first: smoltcp scans its sockets in order, so this is its
    // best case and the usual order for a server (listen, then serve).
    net.b.listen(CYCLE_PORT, 2);
    let mut out = CycleOutcome {
        idle,
        asked: cycles,
        ..Default::default()
    };
    match open_idle(&mut net, idle) {
        Ok(n) => out.idle_established = n,
        Err(e) => {
            out.error = Some(e);
            return out;
        }
    }
    let (ma, how) = net.a.memory();
    let (mb, _) = net.b.memory();
    out.memory = (ma + mb, how);
    let req = request();
    let resp = response();
    let mut buf = vec![0u8; 4096];
    let timer = crate::Timer::start();
    for cycle in 0..cycles {
        if cycle % 16 == 0 && timer.stop().1.unwrap_or(timer.stop().0) > budget {
            out.asked = cycle;
            break;
        }
        // Client ports above the idle ones; synack keeps each TIME_WAIT, so they rotate.
        // (The idle connections go to other server ports, so the 4-tuples never collide.)
        let local = 1024 + (cycle % 64_000) as u16;
        let mut client = None;
        let mut server = None;
        let (mut got_req, mut got_resp) = (Vec::new(), Vec::new());
        let (mut client_closed, mut server_closed) = (false, false);
        let mut req_sent = false;
        let mut err = None;
        let r = net.run(net.now + Duration::from_secs(600), |a, b, now| {
            let mut step = Step::Idle;
            let c = match client {
                Some(c) => c,
                None => match a.connect(now, local, SocketAddrV4::new(SERVER, CYCLE_PORT)) {
                    Some(c) => {
                        client = Some(c);
                        c
                    }
                    None => {
                        err = Some("connect refused".to_string());
                        return Step::Done;
                    }
                },
            };
            // The request goes out once the handshake completes (smoltcp refuses data in
            // SYN-SENT, so both stacks are driven the same way).
            if !req_sent && a.is_established(c) {
                req_sent = true;
                if a.send(now, c, &req) != req.len() {
                    err = Some("request did not fit".into());
                    return Step::Done;
                }
                step = Step::Progress;
            }
            if server.is_none() {
                if let Some(s) = b.accept() {
                    server = Some(s);
                    step = Step::Progress;
                }
            }
            if let Some(s) = server {
                while got_req.len() < req.len() {
                    match b.recv(s, &mut buf) {
                        Recv::Data(n) => {
                            got_req.extend_from_slice(&buf[..n]);
                            if got_req.len() >= req.len() && b.send(now, s, &resp) != resp.len() {
                                err = Some("response did not fit".into());
                            }
                            step = Step::Progress;
                        }
                        Recv::WouldBlock => break,
                        Recv::Eof | Recv::Error => {
                            err = Some("server lost the request".into());
                            return Step::Done;
                        }
                    }
                }
                if got_req.len() >= req.len() && !server_closed {
                    match b.recv(s, &mut buf) {
                        Recv::Eof => {
                            b.close(now, s);
                            server_closed = true;
                            step = Step::Progress;
                        }
                        Recv::Data(_) | Recv::Error => {
                            err = Some("server read past the request".into());
                            return Step::Done;
                        }
                        Recv::WouldBlock => {}
                    }
                }
            }
            if !client_closed {
                while got_resp.len() < resp.len() {
                    match a.recv(c, &mut buf) {
                        Recv::Data(n) => {
                            got_resp.extend_from_slice(&buf[..n]);
                            step = Step::Progress;
                        }
                        Recv::WouldBlock => break,
                        Recv::Eof | Recv::Error => {
                            err = Some("client lost the response".into());
                            return Step::Done;
                        }
                    }
                }
                if got_resp.len() >= resp.len() {
                    a.close(now, c);
                    client_closed = true;
                    step = Step::Progress;
                }
            }
            match server {
                Some(s) if client_closed && server_closed && a.is_done(c) && b.is_done(s) => {
                    Step::Done
                }
                _ => step,
            }
        });
        if let Err(e) = r {
            out.error = Some(format!("cycle {cycle}: {e}"));
            break;
        }
        if let Some(e) = err {
            out.error = Some(format!("cycle {cycle}: {e}"));
            break;
        }
        if got_req != req || got_resp != resp {
            out.error = Some(format!("cycle {cycle}: bytes differ"));
            break;
        }
        if let (Some(c), Some(s)) = (client, server) {
            net.a.release(c);
            net.b.release(s);
        }
        out.completed += 1;
    }
    let (wall, cpu) = timer.stop();
    out.wall = wall;
    out.cpu = super::cpu_or_wall(cpu.unwrap_or(wall), wall);
    let mut errors = net.a.take_errors();
    errors.extend(net.b.take_errors());
    if out.error.is_none() {
        out.error = errors.into_iter().next();
    }
    out
}
