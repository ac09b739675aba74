//! Target 2: one live stack fed near-valid segments for its connections, garbage, time steps and
//! API calls, all chosen by the input, with invariants checked after every step:
//!
//! - no panic, whatever arrives;
//! - every packet the stack sends parses, with a valid checksum;
//! - state transitions only along RFC 9293 Figure 5 (plus the RFC's aborts to CLOSED);
//! - queues within their configured limits, and bytes in flight within the send buffer (so
//!   SND.UNA <= SND.NXT <= SND.UNA + buffer: a wrapped difference would be huge);
//! - the number of connections bounded by what the peer could open;
//! - a connection with unacknowledged data has a timer armed (RFC 9293 §3.8.1: the
//!   retransmission timer runs while data is outstanding), or it would stall forever.

use crate::gen::Gen;
use std::collections::{HashSet, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use synack_core::{Config, ConnId, Event, Instant, ListenerId, Shutdown, Stack, State};
use synack_wire::ip::{emit_ip_header, ip_header_len, parse_ip, protocol};
use synack_wire::{SeqNumber, TcpFlags, TcpOptions, TcpRepr, Timestamps};

/// Operations per input at most (the input usually runs out first).
const MAX_OPS: usize = 1000;
/// Operations kept for the failure message.
const LOG_LEN: usize = 40;

/// Runs the target on `data`.
pub fn live_stack(data: &[u8]) {
    live_stack_transitions(data);
}

/// Runs the target on `data` and returns every state transition a connection made, so a runner
/// can show that its inputs reach deep enough to mean something.
pub fn live_stack_transitions(data: &[u8]) -> HashSet<(State, State)> {
    let mut case = Case::new(Gen::new(data));
    let mut ops = 0;
    while !case.gen.is_empty() && ops < MAX_OPS {
        case.step();
        ops += 1;
    }
    case.visited
}

/// What the fuzzing peer knows of the connection.
struct Peer {
    addr: SocketAddr,
    /// Next sequence number it would send.
    snd_nxt: u32,
    /// Highest sequence number seen from the stack + 1.
    rcv_nxt: u32,
    ts: u32,
}

struct Case<'a> {
    gen: Gen<'a>,
    stack: Stack,
    config: Arc<Config>,
    now: Instant,
    local: SocketAddr,
    peer: Peer,
    log: VecDeque<String>,
    conns: Vec<ConnId>,
    opened_by_peer: usize,
    listener: ListenerId,
    visited: HashSet<(State, State)>,
}

impl<'a> Case<'a> {
    fn new(mut gen: Gen<'a>) -> Self {
        let config = Arc::new(Config {
            send_buffer: 1 + gen.below(20_000) as usize,
            recv_buffer: 1 + gen.below(20_000) as usize,
            timestamps: gen.chance(50),
            sack: gen.chance(50),
            window_scale: if gen.chance(50) {
                Some(gen.below(15) as u8)
            } else {
                None
            },
            max_ooo_ranges: 1 + gen.below(8) as usize,
            ..Config::default()
        });
        let mut secret = [0u8; 32];
        for chunk in secret.chunks_mut(8) {
            chunk.copy_from_slice(&gen.next().to_le_bytes());
        }
        let mut stack = Stack::new(Arc::clone(&config), secret);
        let local_ip = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        stack.add_address(local_ip);
        let local = SocketAddr::new(local_ip, 80);
        let listener = stack
            .listen(local, 8)
            .expect("a fresh stack listens on its own address");
        let peer = Peer {
            addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), 40000),
            snd_nxt: gen.next() as u32,
            rcv_nxt: 0,
            ts: gen.next() as u32,
        };
        Case {
            gen,
            stack,
            config,
            now: Instant::from_secs(1),
            local,
            peer,
            log: VecDeque::new(),
            conns: Vec::new(),
            opened_by_peer: 0,
            listener,
            visited: HashSet::new(),
        }
    }

    fn note(&mut self, what: String) {
        if self.log.len() == LOG_LEN {
            self.log.pop_front();
        }
        self.log.push_back(what);
    }

    fn segment(&mut self) -> Vec<u8> {
        let g = &mut self.gen;
        let mut flags = TcpFlags::empty();
        let pick = g.below(100);
        if pick < 8 {
            flags |= TcpFlags::SYN;
        }
        if pick >= 5 || g.chance(20) {
            flags |= TcpFlags::ACK;
        }
        if g.chance(8) {
            flags |= TcpFlags::FIN;
        }
        if g.chance(4) {
            flags |= TcpFlags::RST;
        }
        if g.chance(2) {
            flags |= TcpFlags::URG;
        }
        if g.chance(30) {
            flags |= TcpFlags::PSH;
        }
        let len = match g.below(10) {
            0..=4 => 0,
            5..=8 => g.below(1460) as usize,
            _ => g.below(3000) as usize,
        };
        let seq = self.peer.snd_nxt.wrapping_add(g.offset());
        let ack = self.peer.rcv_nxt.wrapping_add(g.offset());
        let mut options = TcpOptions::default();
        if flags.syn() {
            options.mss = g.chance(80).then(|| g.below(9000) as u16);
            options.window_scale = g.chance(60).then(|| g.below(20) as u8);
            options.sack_permitted = g.chance(60);
        }
        if g.chance(60) {
            self.peer.ts = self.peer.ts.wrapping_add(g.below(1000) as u32);
            options.timestamps = Some(Timestamps {
                tsval: if g.chance(5) {
                    g.next() as u32
                } else {
                    self.peer.ts
                },
                tsecr: g.next() as u32,
            });
        }
        if flags.ack() && g.chance(15) {
            // 40 option bytes: three blocks fit alone, two beside timestamps.
            let n = 1 + g.below(if options.timestamps.is_some() { 2 } else { 3 });
            for _ in 0..n {
                let start = self.peer.rcv_nxt.wrapping_add(g.offset());
                let end = start.wrapping_add(g.offset());
                let _ = options.sack_blocks.push(SeqNumber(start), SeqNumber(end));
            }
        }
        let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let repr = TcpRepr {
            src_port: self.peer.addr.port(),
            dst_port: self.local.port(),
            seq: SeqNumber(seq),
            ack: SeqNumber(if flags.ack() { ack } else { 0 }),
            flags,
            window: g.next() as u16,
            urgent_ptr: if flags.urg() { g.next() as u16 } else { 0 },
            options,
            payload: &payload,
        };
        // Near-valid segments advance the peer's idea of its sequence space.
        if seq == self.peer.snd_nxt {
            let advance = len as u32 + u32::from(flags.syn()) + u32::from(flags.fin());
            self.peer.snd_nxt = self.peer.snd_nxt.wrapping_add(advance);
        }
        let (src, dst) = (self.peer.addr.ip(), self.local.ip());
        let ip_len = ip_header_len(src);
        let tcp_len = repr.buffer_len();
        let mut buf = vec![0u8; ip_len + tcp_len];
        repr.emit(&mut buf[ip_len..], src, dst)
            .expect("the generator builds segments that fit their buffer");
        emit_ip_header(&mut buf[..ip_len], src, dst, protocol::TCP, tcp_len, 64, 0)
            .expect("an IPv4 header fits 20 bytes");
        self.note(format!("seg {flags:?} seq={seq} ack={ack} len={len}"));
        if self.gen.chance(3) {
            // A corrupted copy: one bit flipped anywhere.
            let i = self.gen.below(buf.len() as u64) as usize;
            let bit = self.gen.below(8);
            if let Some(b) = buf.get_mut(i) {
                *b ^= 1 << bit;
            }
            self.note(format!("  flipped byte {i}"));
        }
        buf
    }

    fn step(&mut self) {
        match self.gen.below(100) {
            0..=54 => {
                let packet = self.segment();
                self.stack.handle_packet(self.now, &packet);
            }
            55..=59 => {
                let len = self.gen.below(80) as usize;
                let bytes: Vec<u8> = (0..len).map(|_| self.gen.below(256) as u8).collect();
                self.note(format!("garbage {len} bytes"));
                self.stack.handle_packet(self.now, &bytes);
            }
            60..=74 => {
                let ms = match self.gen.below(10) {
                    0 => self.gen.below(130_000),
                    1..=3 => self.gen.below(3_000),
                    _ => self.gen.below(50),
                };
                self.now += std::time::Duration::from_millis(ms);
                self.note(format!("advance {ms} ms"));
                self.stack.handle_timeout(self.now);
            }
            _ => self.api_call(),
        }
        self.drain_and_check();
    }

    fn api_call(&mut self) {
        while let Some(id) = self.stack.accept(self.listener) {
            self.conns.push(id);
        }
        let pick = self.gen.below(self.conns.len().max(1) as u64) as usize;
        let now = self.now;
        let Some(&id) = self.conns.get(pick) else {
            if self.gen.chance(20) {
                if let Ok(id) = self.stack.connect(now, None, self.peer.addr) {
                    self.note("connect".into());
                    self.conns.push(id);
                }
            }
            return;
        };
        // A connection the peer closed is mostly closed in turn, to reach LAST_ACK.
        let op = if self.stack.state(id) == Some(State::CloseWait) && self.gen.chance(50) {
            6
        } else {
            self.gen.below(8)
        };
        match op {
            0..=2 => {
                let n = self.gen.below(5000) as usize;
                let r = self.stack.send(now, id, &vec![7u8; n]);
                self.note(format!("send {n} -> {r:?}"));
            }
            3..=4 => {
                let mut buf = vec![0u8; self.gen.below(5000) as usize];
                let r = self.stack.recv(id, &mut buf);
                self.note(format!("recv {} -> {r:?}", buf.len()));
            }
            5 => {
                let how =
                    [Shutdown::Read, Shutdown::Write, Shutdown::Both][self.gen.below(3) as usize];
                let r = self.stack.shutdown(now, id, how);
                self.note(format!("shutdown {how:?} -> {r:?}"));
            }
            6 => {
                if self.stack.state(id) == Some(State::CloseWait) {
                    // Read what is left first: closing with unread data resets (as Linux).
                    let mut sink = vec![0u8; 4096];
                    while matches!(self.stack.recv(id, &mut sink), Ok(n) if n > 0) {}
                }
                let r = self.stack.close(now, id);
                self.note(format!("close -> {r:?}"));
                self.conns.retain(|&c| c != id);
            }
            _ => {
                let r = self.stack.abort(now, id);
                self.note(format!("abort -> {r:?}"));
                self.conns.retain(|&c| c != id);
            }
        }
    }

    fn fail(&self, what: String) -> ! {
        let tail: Vec<String> = self.log.iter().rev().map(|s| format!("  {s}")).collect();
        panic!(
            "{what}\nlast operations (newest first):\n{}",
            tail.join("\n")
        );
    }

    fn drain_and_check(&mut self) {
        let mut buf = vec![0u8; 65_536];
        let mut sent = 0;
        while let Some(t) = self.stack.poll_transmit(self.now, &mut buf) {
            sent += 1;
            if sent > 10_000 {
                self.fail("more than 10,000 packets out of one step".into());
            }
            let Some(packet) = buf.get(..t.len) else {
                self.fail(format!("transmit length {} beyond the buffer", t.len));
            };
            let ip = match parse_ip(packet) {
                Ok(ip) => ip,
                Err(e) => self.fail(format!("the stack sent an unparsable packet: {e}")),
            };
            if ip.header.protocol != protocol::TCP {
                continue;
            }
            match TcpRepr::parse(ip.payload, ip.header.src, ip.header.dst) {
                Ok(seg) => {
                    let end = seg.seq.0.wrapping_add(seg.seq_len());
                    if SeqNumber(end) > SeqNumber(self.peer.rcv_nxt) || self.peer.rcv_nxt == 0 {
                        self.peer.rcv_nxt = end;
                    }
                }
                Err(e) => self.fail(format!("the stack sent a bad TCP segment: {e}")),
            }
        }
        while let Some(e) = self.stack.poll_event() {
            if let Event::StateChanged { from, to, .. } = e {
                self.visited.insert((from, to));
                if to == State::SynRcvd && from == State::Listen {
                    self.opened_by_peer += 1;
                }
                if !synack_tests::figure5_edge(from, to) {
                    self.fail(format!(
                        "transition {from} -> {to} is not in RFC 9293 Figure 5"
                    ));
                }
            }
        }
        let limit_conns = self.opened_by_peer + self.conns.len() + 2;
        if self.stack.connection_count() > limit_conns + 64 {
            self.fail(format!(
                "{} connections from one peer",
                self.stack.connection_count()
            ));
        }
        let ids: Vec<ConnId> = self.stack.connections().map(|(id, _)| id).collect();
        for id in ids {
            let Some(info) = self.stack.info(id) else {
                continue;
            };
            // SYN and FIN take a sequence number each beyond the buffered bytes.
            if info.bytes_in_flight as usize > self.config.send_buffer + 2 {
                self.fail(format!(
                    "{id:?}: {} bytes in flight with a {}-byte send buffer (SND.UNA/SND.NXT out of order?)",
                    info.bytes_in_flight, self.config.send_buffer
                ));
            }
            // A CLOSED connection still listed (its handle not yet released) sends nothing.
            let sending = !matches!(info.state, State::Closed | State::TimeWait);
            if sending && info.bytes_in_flight > 0 && self.stack.poll_timeout().is_none() {
                self.fail(format!(
                    "{id:?} in {}: {} bytes in flight and no timer armed",
                    info.state, info.bytes_in_flight
                ));
            }
            if info.send_queue > self.config.send_buffer {
                self.fail(format!(
                    "{id:?}: send queue {} over its limit",
                    info.send_queue
                ));
            }
            if info.recv_queue > self.config.recv_buffer {
                self.fail(format!(
                    "{id:?}: receive queue {} over its limit",
                    info.recv_queue
                ));
            }
        }
    }
}
