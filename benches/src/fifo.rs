//! The minimal driver: two stacks and one FIFO of packets, zero delay, infinite bandwidth.
//!
//! Each packet a stack emits is written straight into a reusable buffer and queued; the loop
//! hands the oldest queued packet to its destination, lets that side's application react, and
//! drains what that side now has to send. Only when the FIFO is empty does virtual time jump to
//! the earliest timer. This is the cost of the stacks themselves plus a queue push and pop.

use crate::apps::{App, BulkReceiver, BulkSender, CycleClient, CycleServer};
use crate::pattern::Pattern;
use crate::{
    make_stack, server_addr, BulkParams, BulkResult, CycleParams, CycleResult, CLIENT_IP, SERVER_IP,
};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use synack_core::{Instant, Stack};

/// One end: a stack and its application.
pub struct Side<A> {
    /// The stack.
    pub stack: Stack,
    /// The application.
    pub app: A,
}

/// The wire between two sides.
pub struct Fifo {
    /// Virtual time.
    pub now: Instant,
    /// Packets in flight: (destination side 0 or 1, buffer, length).
    queue: VecDeque<(usize, Vec<u8>, usize)>,
    spare: Vec<Vec<u8>>,
    buf_len: usize,
    /// Packets each side emitted.
    pub packets: [u64; 2],
    /// Timer events processed.
    pub timer_wakeups: u64,
    /// When Some, every packet put on the wire is rendered here as a tcpdump line.
    pub trace: Option<Vec<String>>,
}

/// Why the loop stopped without reaching its goal.
#[derive(Debug)]
pub enum Stuck {
    /// Nothing queued and no timer pending.
    Idle,
    /// The virtual-time limit passed.
    TimeLimit,
}

impl Fifo {
    /// A wire carrying packets of up to `mtu` bytes.
    pub fn new(mtu: usize) -> Self {
        Fifo {
            now: Instant::ZERO,
            queue: VecDeque::new(),
            spare: Vec::new(),
            buf_len: mtu.max(1500),
            packets: [0; 2],
            timer_wakeups: 0,
            trace: None,
        }
    }

    /// Moves everything side `from` has to send onto the wire.
    fn drain(&mut self, from: usize, stack: &mut Stack) {
        loop {
            let mut buf = self.spare.pop().unwrap_or_else(|| vec![0; self.buf_len]);
            match stack.poll_transmit(self.now, &mut buf) {
                Some(t) => {
                    self.packets[from] += 1;
                    if let Some(trace) = &mut self.trace {
                        trace.push(format!(
                            "{} {}",
                            self.now,
                            synack_wire::tcpdump::format_packet(&buf[..t.len])
                        ));
                    }
                    self.queue.push_back((1 - from, buf, t.len));
                }
                None => {
                    self.spare.push(buf);
                    return;
                }
            }
        }
    }

    /// Lets a side's application react, then sends what it produced.
    fn service<A: App>(&mut self, index: usize, side: &mut Side<A>) {
        side.app.poll(&mut side.stack, self.now);
        self.drain(index, &mut side.stack);
    }

    /// Gives both applications a turn and sends what they produced (after user calls).
    pub fn kick<A: App, B: App>(&mut self, a: &mut Side<A>, b: &mut Side<B>) {
        self.service(0, a);
        self.service(1, b);
    }

    fn fire_due<A: App>(&mut self, index: usize, side: &mut Side<A>) {
        if side.stack.poll_timeout().is_some_and(|t| t <= self.now) {
            self.timer_wakeups += 1;
            if let Some(trace) = &mut self.trace {
                let who = if index == 0 { "client" } else { "server" };
                let held = side.stack.connection_count();
                trace.push(format!(
                    "{} ({who} timer wakeup, {held} connection(s) held)",
                    self.now
                ));
            }
            side.stack.handle_timeout(self.now);
            self.service(index, side);
        }
    }

    /// Runs until `done` holds (checked after every packet and timer), or gives up.
    pub fn run<A: App, B: App>(
        &mut self,
        a: &mut Side<A>,
        b: &mut Side<B>,
        limit: Instant,
        mut done: impl FnMut(&Side<A>, &Side<B>) -> bool,
    ) -> Result<(), Stuck> {
        loop {
            if done(a, b) {
                return Ok(());
            }
            if let Some((to, buf, len)) = self.queue.pop_front() {
                if to == 0 {
                    a.stack.handle_packet(self.now, &buf[..len]);
                    self.spare.push(buf);
                    self.service(0, a);
                    self.fire_due(0, a);
                } else {
                    b.stack.handle_packet(self.now, &buf[..len]);
                    self.spare.push(buf);
                    self.service(1, b);
                    self.fire_due(1, b);
                }
                continue;
            }
            // Idle: jump to the earliest timer.
            let next = match (a.stack.poll_timeout(), b.stack.poll_timeout()) {
                (Some(x), Some(y)) => x.min(y),
                (Some(x), None) | (None, Some(x)) => x,
                (None, None) => return Err(Stuck::Idle),
            };
            if next > limit {
                return Err(Stuck::TimeLimit);
            }
            self.now = self.now.max(next);
            self.fire_due(0, a);
            self.fire_due(1, b);
        }
    }
}

/// Bulk transfer over the FIFO.
pub fn run_bulk(params: &BulkParams) -> BulkResult {
    let mut config = params.config.clone();
    config.mtu = params.mtu;
    let pattern = Arc::new(Pattern::new());
    let expected_checksum = pattern.checksum(params.bytes);

    let mut client = Side {
        stack: make_stack(&config, CLIENT_IP, 1),
        app: BulkSender::new(server_addr(), pattern, params.bytes),
    };
    let mut server_stack = make_stack(&config, SERVER_IP, 2);
    let receiver = BulkReceiver::new(&mut server_stack, server_addr());
    let mut server = Side {
        stack: server_stack,
        app: receiver,
    };
    let mut fifo = Fifo::new(params.mtu);
    let limit = Instant::ZERO + Duration::from_secs(3600);

    let timer = crate::Timer::start();
    client.app.start(&mut client.stack, fifo.now);
    fifo.kick(&mut client, &mut server);
    let outcome = fifo.run(&mut client, &mut server, limit, |c, s| {
        s.app.eof || s.app.error.is_some() || c.app.error.is_some()
    });
    let (wall, cpu) = timer.stop();
    let virtual_time = fifo.now - Instant::ZERO;
    let packets = fifo.packets;
    let timer_wakeups = fifo.timer_wakeups;

    let info = client.app.conn.and_then(|c| client.stack.info(c));
    let retransmits = info.as_ref().map_or(0, |i| i.counters.retransmits);
    let snd_mss = info.as_ref().map_or(0, |i| i.snd_mss);

    // Untimed: let both ends finish (FIN exchange, then TIME_WAIT on the sender).
    let closed = fifo.run(&mut client, &mut server, fifo.now + limit_span(), |c, s| {
        c.stack.connection_count() == 0 && s.stack.connection_count() == 0
    });

    let mut error = client.app.error.clone().or(server.app.error.clone());
    if let Err(e) = outcome {
        error.get_or_insert(format!("transfer stuck: {e:?}"));
    }
    BulkResult {
        params: params.clone(),
        received: server.app.received(),
        expected_checksum,
        received_checksum: server.app.checksum.value(),
        wall,
        cpu,
        virtual_time,
        client_packets: packets[0],
        server_packets: packets[1],
        retransmits,
        snd_mss,
        timer_wakeups,
        closed_cleanly: closed.is_ok(),
        error,
    }
}

fn limit_span() -> Duration {
    Duration::from_secs(3600)
}

/// Request bytes for cycles (fixed, so the server can check them).
fn request_bytes(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 + 7) as u8).collect()
}

/// Response bytes for cycles.
fn response_bytes(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 17 + 3) as u8 ^ 0x5a).collect()
}

/// Sequential open / request / response / close / TIME_WAIT cycles over the FIFO.
pub fn run_cycles(params: &CycleParams) -> CycleResult {
    let config = params.config.clone();
    let request = request_bytes(params.request);
    let response = response_bytes(params.response);
    let mut client = Side {
        stack: make_stack(&config, CLIENT_IP, 3),
        app: CycleClient::new(server_addr(), request.clone(), response.clone()),
    };
    let mut server_stack = make_stack(&config, SERVER_IP, 4);
    let app = CycleServer::new(&mut server_stack, server_addr(), request, response);
    let mut server = Side {
        stack: server_stack,
        app,
    };
    let mut fifo = Fifo::new(config.mtu);
    let mut completed = 0;
    let mut error = None;

    let timer = crate::Timer::start();
    let mut trace = Vec::new();
    for cycle in 0..params.cycles {
        if cycle == 0 && params.trace_first {
            fifo.trace = Some(Vec::new());
        }
        client.app.start(&mut client.stack, fifo.now);
        fifo.kick(&mut client, &mut server);
        let limit = fifo.now + limit_span();
        let outcome = fifo.run(&mut client, &mut server, limit, |c, s| {
            c.app.error.is_some()
                || s.app.error.is_some()
                || (c.app.finished
                    && c.stack.connection_count() == 0
                    && s.stack.connection_count() == 0)
        });
        if let Some(e) = client.app.error.clone().or(server.app.error.clone()) {
            error = Some(format!("cycle {cycle}: {e}"));
            break;
        }
        if let Err(e) = outcome {
            error = Some(format!("cycle {cycle} stuck: {e:?}"));
            break;
        }
        if let Some(t) = fifo.trace.take() {
            trace = t;
        }
        completed += 1;
    }
    let (wall, cpu) = timer.stop();
    if error.is_none() && (client.app.closed_ok != completed || server.app.closed_ok != completed) {
        error = Some(format!(
            "clean closes: client {} server {} of {completed}",
            client.app.closed_ok, server.app.closed_ok
        ));
    }
    CycleResult {
        params: params.clone(),
        completed,
        wall,
        cpu,
        virtual_time: fifo.now - Instant::ZERO,
        packets: fifo.packets[0] + fifo.packets[1],
        timer_wakeups: fifo.timer_wakeups,
        trace,
        error,
    }
}
