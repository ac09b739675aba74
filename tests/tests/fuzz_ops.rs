//! A stable-Rust fuzzer of the live stack (cargo fuzz needs nightly, which this machine lacks):
//! random sequences of near-valid segments for an existing connection, garbage, time steps and
//! API calls, with invariants checked after every step.
//!
//! - no panic, whatever arrives;
//! - every packet the stack sends parses, with a valid checksum;
//! - state transitions only along RFC 9293 Figure 5 (plus the RFC's aborts to CLOSED);
//! - queues within their configured limits, and bytes in flight within the send buffer (so
//!   SND.UNA <= SND.NXT <= SND.UNA + buffer: a wrapped difference would be huge);
//! - the number of connections bounded by what the peer could open.
//!
//! `FUZZ_CASES=N` runs more cases (the default keeps CI quick); a failure prints its seed, and
//! `FUZZ_SEED=S` replays one case.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use synack_core::{Config, Event, Instant, Shutdown, Stack, State};
use synack_wire::ip::{emit_ip_header, ip_header_len, parse_ip, protocol};
use synack_wire::{SeqNumber, TcpFlags, TcpOptions, TcpRepr, Timestamps};

const OPS_PER_CASE: usize = 300;

/// The operation picker: the shared SplitMix64 with the helpers the fuzzer needs.
struct Rng(synack_tests::SplitMix64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0.next_u64()
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0.below(n)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// Mostly small offsets around zero, sometimes anywhere in the sequence space.
    fn offset(&mut self) -> u32 {
        match self.below(10) {
            0 => self.next() as u32,
            1..=3 => (self.below(200_000) as i64 - 100_000) as u32,
            _ => (self.below(6) as i64 - 2) as u32,
        }
    }
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

struct Case {
    stack: Stack,
    config: Arc<Config>,
    now: Instant,
    local: SocketAddr,
    peer: Peer,
    rng: Rng,
    log: Vec<String>,
    conns: Vec<synack_core::ConnId>,
    opened_by_peer: usize,
    listener: synack_core::ListenerId,
    /// States any connection reached, to show the fuzzer goes deep enough to mean something.
    visited: std::collections::HashSet<State>,
}

impl Case {
    fn new(seed: u64) -> Case {
        let mut rng = Rng(synack_tests::SplitMix64(seed));
        let config = Arc::new(Config {
            send_buffer: 1 + rng.below(20_000) as usize,
            recv_buffer: 1 + rng.below(20_000) as usize,
            timestamps: rng.chance(50),
            sack: rng.chance(50),
            window_scale: if rng.chance(50) {
                Some(rng.below(15) as u8)
            } else {
                None
            },
            max_ooo_ranges: 1 + rng.below(8) as usize,
            ..Config::default()
        });
        let mut stack = Stack::new(
            Arc::clone(&config),
            seed.to_le_bytes().repeat(4).try_into().unwrap(),
        );
        let local_ip: IpAddr = "10.0.0.1".parse().unwrap();
        stack.add_address(local_ip);
        let local = SocketAddr::new(local_ip, 80);
        let listener = stack.listen(local, 8).expect("listen");
        Case {
            stack,
            config,
            now: Instant::from_secs(1),
            local,
            peer: Peer {
                addr: "10.0.0.2:40000".parse().unwrap(),
                snd_nxt: rng.next() as u32,
                rcv_nxt: 0,
                ts: rng.next() as u32,
            },
            rng,
            log: Vec::new(),
            conns: Vec::new(),
            opened_by_peer: 0,
            listener,
            visited: Default::default(),
        }
    }

    fn segment(&mut self) -> Vec<u8> {
        let r = &mut self.rng;
        let mut flags = TcpFlags::empty();
        let pick = r.below(100);
        if pick < 8 {
            flags |= TcpFlags::SYN;
        }
        if pick >= 5 || r.chance(20) {
            flags |= TcpFlags::ACK;
        }
        if r.chance(8) {
            flags |= TcpFlags::FIN;
        }
        if r.chance(4) {
            flags |= TcpFlags::RST;
        }
        if r.chance(2) {
            flags |= TcpFlags::URG;
        }
        if r.chance(30) {
            flags |= TcpFlags::PSH;
        }
        let len = match r.below(10) {
            0..=4 => 0,
            5..=8 => r.below(1460) as usize,
            _ => r.below(3000) as usize,
        };
        let seq = self.peer.snd_nxt.wrapping_add(r.offset());
        let ack = self.peer.rcv_nxt.wrapping_add(r.offset());
        let mut options = TcpOptions::default();
        if flags.syn() {
            options.mss = r.chance(80).then(|| r.below(9000) as u16);
            options.window_scale = r.chance(60).then(|| r.below(20) as u8);
            options.sack_permitted = r.chance(60);
        }
        if r.chance(60) {
            self.peer.ts = self.peer.ts.wrapping_add(r.below(1000) as u32);
            options.timestamps = Some(Timestamps {
                tsval: if r.chance(5) {
                    r.next() as u32
                } else {
                    self.peer.ts
                },
                tsecr: r.next() as u32,
            });
        }
        if flags.ack() && r.chance(15) {
            // 40 option bytes: three blocks fit alone, two beside timestamps.
            let n = 1 + r.below(if options.timestamps.is_some() { 2 } else { 3 });
            for _ in 0..n {
                let start = self.peer.rcv_nxt.wrapping_add(r.offset());
                let end = start.wrapping_add(r.offset());
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
            window: r.next() as u16,
            urgent_ptr: if flags.urg() { r.next() as u16 } else { 0 },
            options,
            payload: &payload,
        };
        // Near-valid segments advance the peer's idea of its sequence space.
        if seq == self.peer.snd_nxt {
            let advance = len as u32 + u32::from(flags.syn()) + u32::from(flags.fin());
            self.peer.snd_nxt = self.peer.snd_nxt.wrapping_add(advance);
        }
        self.log
            .push(format!("seg {flags:?} seq={seq} ack={ack} len={len}"));
        let (src, dst) = (self.peer.addr.ip(), self.local.ip());
        let ip_len = ip_header_len(src);
        let tcp_len = repr.buffer_len();
        let mut buf = vec![0u8; ip_len + tcp_len];
        repr.emit(&mut buf[ip_len..], src, dst).expect("emit tcp");
        emit_ip_header(&mut buf[..ip_len], src, dst, protocol::TCP, tcp_len, 64, 0)
            .expect("emit ip");
        if self.rng.chance(3) {
            // A corrupted copy: one byte flipped anywhere.
            let i = self.rng.below(buf.len() as u64) as usize;
            buf[i] ^= 1 << self.rng.below(8);
            self.log.push(format!("  flipped byte {i}"));
        }
        buf
    }

    fn step(&mut self) {
        let op = self.rng.below(100);
        match op {
            0..=54 => {
                let packet = self.segment();
                self.stack.handle_packet(self.now, &packet);
            }
            55..=59 => {
                let len = self.rng.below(80) as usize;
                let bytes: Vec<u8> = (0..len).map(|_| self.rng.next() as u8).collect();
                self.log.push(format!("garbage {len} bytes"));
                self.stack.handle_packet(self.now, &bytes);
            }
            60..=74 => {
                let ms = match self.rng.below(10) {
                    0 => self.rng.below(130_000),
                    1..=3 => self.rng.below(3_000),
                    _ => self.rng.below(50),
                };
                self.now += std::time::Duration::from_millis(ms);
                self.log.push(format!("advance {ms} ms"));
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
        let Some(&id) = self
            .conns
            .get(self.rng.below(self.conns.len().max(1) as u64) as usize)
        else {
            if self.rng.chance(20) {
                let now = self.now;
                if let Ok(id) = self.stack.connect(now, None, self.peer.addr) {
                    self.log.push("connect".into());
                    self.conns.push(id);
                }
            }
            return;
        };
        let now = self.now;
        // A connection the peer closed is mostly closed in turn, to reach LAST_ACK.
        let op = if self.stack.state(id) == Some(State::CloseWait) && self.rng.chance(50) {
            6
        } else {
            self.rng.below(8)
        };
        match op {
            0..=2 => {
                let n = self.rng.below(5000) as usize;
                let r = self.stack.send(now, id, &vec![7u8; n]);
                self.log.push(format!("send {n} -> {r:?}"));
            }
            3..=4 => {
                let mut buf = vec![0u8; self.rng.below(5000) as usize];
                let r = self.stack.recv(id, &mut buf);
                self.log.push(format!("recv {} -> {r:?}", buf.len()));
            }
            5 => {
                let how =
                    [Shutdown::Read, Shutdown::Write, Shutdown::Both][self.rng.below(3) as usize];
                let r = self.stack.shutdown(now, id, how);
                self.log.push(format!("shutdown {how:?} -> {r:?}"));
            }
            6 => {
                if self.stack.state(id) == Some(State::CloseWait) {
                    // Read what is left first: closing with unread data resets (as Linux).
                    let mut sink = vec![0u8; 4096];
                    while matches!(self.stack.recv(id, &mut sink), Ok(n) if n > 0) {}
                }
                let r = self.stack.close(now, id);
                self.log.push(format!("close -> {r:?}"));
                self.conns.retain(|&c| c != id);
            }
            _ => {
                let r = self.stack.abort(now, id);
                self.log.push(format!("abort -> {r:?}"));
                self.conns.retain(|&c| c != id);
            }
        }
    }

    fn fail(&self, what: String) -> ! {
        let tail: Vec<&String> = self.log.iter().rev().take(40).collect();
        panic!(
            "{what}\nlast operations (newest first):\n{}",
            tail.iter()
                .map(|s| format!("  {s}"))
                .collect::<Vec<_>>()
                .join("\n")
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
            let packet = &buf[..t.len];
            let ip = match parse_ip(packet) {
                Ok(ip) => ip,
                Err(e) => self.fail(format!("the stack sent an unparsable packet: {e}")),
            };
            if ip.header.protocol != protocol::TCP {
                continue;
            }
            match TcpRepr::parse(ip.payload, ip.header.src, ip.header.dst) {
                Ok(seg) => {
                    let end = seg
                        .seq
                        .0
                        .wrapping_add(seg.payload.len() as u32)
                        .wrapping_add(u32::from(seg.flags.syn()) + u32::from(seg.flags.fin()));
                    if SeqNumber(end) > SeqNumber(self.peer.rcv_nxt) || self.peer.rcv_nxt == 0 {
                        self.peer.rcv_nxt = end;
                    }
                }
                Err(e) => self.fail(format!("the stack sent a bad TCP segment: {e}")),
            }
        }
        while let Some(e) = self.stack.poll_event() {
            match e {
                Event::StateChanged { from, to, .. } => {
                    self.visited.insert(to);
                    if to == State::SynRcvd && from == State::Listen {
                        self.opened_by_peer += 1;
                    }
                    if !synack_tests::figure5_edge(from, to) {
                        self.fail(format!(
                            "transition {from} -> {to} is not in RFC 9293 Figure 5"
                        ));
                    }
                }
                Event::Incoming(_) => {}
                _ => {}
            }
        }
        let limit_conns = self.opened_by_peer + self.conns.len() + 2;
        if self.stack.connection_count() > limit_conns + 64 {
            self.fail(format!(
                "{} connections from one peer",
                self.stack.connection_count()
            ));
        }
        for (id, tcb) in self.stack.connections() {
            let Some(info) = self.stack.info(id) else {
                continue;
            };
            let _ = tcb;
            // SYN and FIN take a sequence number each beyond the buffered bytes.
            if info.bytes_in_flight as usize > self.config.send_buffer + 2 {
                self.fail(format!(
                    "{id:?}: {} bytes in flight with a {}-byte send buffer (SND.UNA/SND.NXT out of order?)",
                    info.bytes_in_flight, self.config.send_buffer
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

fn run_case(seed: u64) -> std::collections::HashSet<State> {
    let mut case = Case::new(seed);
    for _ in 0..OPS_PER_CASE {
        case.step();
    }
    case.visited
}

#[test]
fn random_operation_sequences_keep_the_invariants() {
    if let Some(seed) = std::env::var("FUZZ_SEED").ok().and_then(|s| s.parse().ok()) {
        run_case(seed);
        return;
    }
    let cases: u64 = std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if cfg!(debug_assertions) { 200 } else { 2_000 });
    let mut visited = std::collections::HashSet::new();
    for i in 0..cases {
        let seed = 0x5eed_0000_0000 + i;
        let result = std::panic::catch_unwind(|| run_case(seed));
        if let Ok(states) = &result {
            visited.extend(states.iter().copied());
        }
        if let Err(e) = result {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("case FUZZ_SEED={seed} failed: {msg}");
        }
    }
    // The fuzzer must reach the states it claims to test, not bounce off the listener.
    for state in [
        State::SynRcvd,
        State::SynSent,
        State::Established,
        State::FinWait1,
        State::CloseWait,
        State::LastAck,
        State::Closed,
    ] {
        assert!(
            visited.contains(&state),
            "no case reached {state}: {visited:?}"
        );
    }
    eprintln!("{cases} cases x {OPS_PER_CASE} operations; states reached: {visited:?}");
}
