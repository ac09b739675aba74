//! [`BenchStack`] for synack: a `synack_core::Stack` built by [`crate::make_stack`], the same
//! stack the FIFO and simulator benchmarks drive.

use super::{BenchStack, Recv, StackCounters, StackParams};
use crate::make_stack;
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr, SocketAddrV4};
use std::time::Duration;
use synack_core::{
    Config, CongestionAlgorithm, ConnId, Event, Instant, ListenerId, RecvError, Stack, State,
};

/// Accept queue length per listening port (RFC 9293 leaves it to the implementation).
const BACKLOG: u32 = 4096;

/// synack under the comparison harness.
pub struct SynackStack {
    /// The stack itself (public so scenarios can read its statistics).
    pub stack: Stack,
    listeners: Vec<(u16, ListenerId)>,
    accepted: VecDeque<ConnId>,
    errors: Vec<String>,
    scratch: Vec<u8>,
}

impl SynackStack {
    /// A stack at `ip` with these buffers and MTU; CUBIC, no timestamps (smoltcp sends none,
    /// so both carry the same MSS), TIME_WAIT of `time_wait`.
    pub fn new(ip: std::net::Ipv4Addr, p: StackParams, time_wait: Duration, seed: u8) -> Self {
        let config = Config {
            mtu: p.mtu,
            send_buffer: p.send_buffer,
            recv_buffer: p.recv_buffer,
            timestamps: false,
            congestion: CongestionAlgorithm::Cubic,
            msl: time_wait / 2,
            // Room for every idle connection the scenarios open (both ends in one process).
            memory_limit: 64 << 30,
            max_orphans: 1 << 20,
            ephemeral_ports: (1024, 65535),
            ..Config::default()
        };
        SynackStack {
            stack: make_stack(&config, IpAddr::V4(ip), seed),
            listeners: Vec::new(),
            accepted: VecDeque::new(),
            errors: Vec::new(),
            scratch: vec![0; p.mtu.max(1500)],
        }
    }

    fn drain_events(&mut self) {
        while let Some(ev) = self.stack.poll_event() {
            match ev {
                Event::Incoming(l) => {
                    while let Some(c) = self.stack.accept(l) {
                        self.accepted.push_back(c);
                    }
                }
                Event::Closed {
                    conn,
                    reason: Some(r),
                } => self.errors.push(format!("synack {conn:?}: {r}")),
                _ => {}
            }
        }
    }
}

fn at(now: Duration) -> Instant {
    Instant::ZERO + now
}

impl BenchStack for SynackStack {
    type Conn = ConnId;

    fn name(&self) -> &'static str {
        "synack"
    }

    fn listen(&mut self, port: u16, _count: usize) {
        if self.listeners.iter().any(|(p, _)| *p == port) {
            return;
        }
        let ip = self.stack.addresses().first().copied();
        let Some(ip) = ip else { return };
        match self.stack.listen(SocketAddr::new(ip, port), BACKLOG) {
            Ok(l) => self.listeners.push((port, l)),
            Err(e) => self.errors.push(format!("synack listen {port}: {e}")),
        }
    }

    fn accept(&mut self) -> Option<ConnId> {
        self.drain_events();
        self.accepted.pop_front()
    }

    fn connect(&mut self, now: Duration, local_port: u16, remote: SocketAddrV4) -> Option<ConnId> {
        let local = self
            .stack
            .addresses()
            .first()
            .map(|ip| SocketAddr::new(*ip, local_port));
        match self.stack.connect(at(now), local, SocketAddr::V4(remote)) {
            Ok(c) => Some(c),
            Err(e) => {
                self.errors
                    .push(format!("synack connect {local_port}: {e}"));
                None
            }
        }
    }

    fn send(&mut self, now: Duration, c: ConnId, data: &[u8]) -> usize {
        self.stack.send(at(now), c, data).unwrap_or(0)
    }

    fn recv(&mut self, c: ConnId, buf: &mut [u8]) -> Recv {
        match self.stack.recv(c, buf) {
            Ok(0) => Recv::Eof,
            Ok(n) => Recv::Data(n),
            Err(RecvError::WouldBlock) => Recv::WouldBlock,
            Err(_) => Recv::Error,
        }
    }

    fn close(&mut self, now: Duration, c: ConnId) {
        if let Err(e) = self.stack.close(at(now), c) {
            self.errors.push(format!("synack close: {e}"));
        }
    }

    fn is_established(&self, c: ConnId) -> bool {
        matches!(
            self.stack.state(c),
            Some(State::Established | State::CloseWait)
        )
    }

    fn is_done(&self, c: ConnId) -> bool {
        matches!(
            self.stack.state(c),
            None | Some(State::Closed | State::TimeWait)
        )
    }

    fn release(&mut self, _c: ConnId) {}

    fn poll(&mut self, now: Duration, inbound: &mut Vec<Vec<u8>>, outbound: &mut Vec<Vec<u8>>) {
        let t = at(now);
        for p in inbound.drain(..) {
            self.stack.handle_packet(t, &p);
        }
        if self.stack.poll_timeout().is_some_and(|d| d <= t) {
            self.stack.handle_timeout(t);
        }
        while let Some(tx) = self.stack.poll_transmit(t, &mut self.scratch) {
            if let Some(bytes) = self.scratch.get(..tx.len) {
                outbound.push(bytes.to_vec());
            }
        }
        self.drain_events();
    }

    fn next_deadline(&mut self, _now: Duration) -> Option<Duration> {
        self.stack.poll_timeout().map(|t| t - Instant::ZERO)
    }

    fn counters(&self) -> StackCounters {
        let s = self.stack.stats();
        StackCounters {
            retransmits: Some(s.retransmitted_segments),
            timeouts: Some(s.rto_timeouts),
        }
    }

    fn memory(&self) -> (usize, &'static str) {
        (
            self.stack.connection_memory(),
            "Stack::connection_memory(): TCB + slot + buffers as allocated",
        )
    }

    fn take_errors(&mut self) -> Vec<String> {
        std::mem::take(&mut self.errors)
    }
}
