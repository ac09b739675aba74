//! Shared helpers for the `scenarios_*` tests: a two-host world with captures kept, parsed
//! segments (tcpdump line plus fields), state-transition logs, and a builder for hand-made
//! segments injected as if a host had sent them.
#![allow(dead_code)]

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use synack_core::{Config, ConnId, Event, Instant, IsnMode, Stack, State};
use synack_sim::{Capture, CaptureEvent, DropReason, HostId, LinkConfig, Network, Node};
use synack_tests::Host;
use synack_wire::ip::{emit_ip_header, ip_header_len, parse_ip, protocol};
use synack_wire::{SeqNumber, TcpFlags, TcpOptions, TcpRepr};

/// The seed trace's client ISN.
pub const CLIENT_ISN: u32 = 3_626_544_836;
/// The seed trace's server ISN.
pub const SERVER_ISN: u32 = 1_739_326_486;
/// The client's fixed port (pinned so whole tcpdump lines can be compared).
pub const CPORT: u16 = 40_000;
/// The server's port.
pub const SPORT: u16 = 80;

/// A config with a fixed ISN, no timestamps and 4 MiB buffers (window scale 7, window field
/// 32768 << 7), so every line on the wire is predictable whatever the defaults become.
pub fn config(isn: u32) -> Config {
    Config {
        isn: IsnMode::Fixed(isn),
        timestamps: false,
        send_buffer: 4 << 20,
        recv_buffer: 4 << 20,
        ..Config::default()
    }
}

/// One segment seen on the wire: the capture event plus its parsed fields.
#[derive(Clone, Debug)]
pub struct Seg {
    /// When it was sent (or dropped).
    pub time: Instant,
    /// The host that sent (or an injector that forged it as) it.
    pub from: HostId,
    /// What the capture recorded.
    pub event: CaptureEvent,
    /// `tcpdump -n -S -t` rendering.
    pub line: String,
    /// Source.
    pub src: SocketAddr,
    /// Destination.
    pub dst: SocketAddr,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number (0 without ACK).
    pub ack: u32,
    /// Flags.
    pub flags: TcpFlags,
    /// Raw window field.
    pub window: u16,
    /// Payload length.
    pub len: usize,
    /// Options.
    pub options: TcpOptions,
    /// Payload bytes.
    pub payload: Vec<u8>,
}

impl Seg {
    /// Parses a captured packet; None if it is not TCP.
    pub fn parse(c: &Capture) -> Option<Seg> {
        Self::from_packet(c.time, c.from, c.event, &c.packet)
    }

    /// Parses an IP packet; None if it is not TCP.
    pub fn from_packet(
        time: Instant,
        from: HostId,
        event: CaptureEvent,
        packet: &[u8],
    ) -> Option<Seg> {
        let ip = parse_ip(packet).ok()?;
        if ip.header.protocol != protocol::TCP {
            return None;
        }
        let tcp = TcpRepr::parse_unverified(ip.payload).ok()?;
        Some(Seg {
            time,
            from,
            event,
            line: synack_wire::tcpdump::format_packet(packet),
            src: SocketAddr::new(ip.header.src, tcp.src_port),
            dst: SocketAddr::new(ip.header.dst, tcp.dst_port),
            seq: tcp.seq.0,
            ack: tcp.ack.0,
            flags: tcp.flags,
            window: tcp.window,
            len: tcp.payload.len(),
            options: tcp.options,
            payload: tcp.payload.to_vec(),
        })
    }

    /// Flag letters as tcpdump prints them between the brackets (`S`, `S.`, `F.`, `R.`, `P.`).
    pub fn flag_str(&self) -> String {
        let f = self.flags;
        let mut s = String::new();
        for (on, c) in [
            (f.fin(), 'F'),
            (f.syn(), 'S'),
            (f.rst(), 'R'),
            (f.psh(), 'P'),
            (f.ack(), '.'),
        ] {
            if on {
                s.push(c);
            }
        }
        s
    }

    /// Sequence space the segment takes (payload + SYN + FIN).
    pub fn seq_len(&self) -> u32 {
        self.len as u32 + u32::from(self.flags.syn()) + u32::from(self.flags.fin())
    }

    /// Carries only an ACK (no data, SYN, FIN or RST).
    pub fn is_pure_ack(&self) -> bool {
        self.len == 0
            && self.flags.ack()
            && !self.flags.syn()
            && !self.flags.fin()
            && !self.flags.rst()
    }
}

/// Decides whether a host's outgoing segment is lost (true: drop it before it reaches the link).
pub type DropRule = Box<dyn FnMut(&Seg) -> bool>;

/// A host with a tap on its output: a rule can make chosen segments vanish (a one-shot, exactly
/// targeted loss, which random link loss cannot give), and the tap keeps what it dropped.
pub struct Tap {
    /// The host (stack, events).
    pub host: Host,
    /// Drop rule for outgoing segments.
    pub rule: Option<DropRule>,
    /// Segments the rule dropped.
    pub dropped: Vec<Seg>,
    id: Option<HostId>,
}

impl Node for Tap {
    fn handle_packet(&mut self, now: Instant, packet: &[u8]) {
        self.host.handle_packet(now, packet);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.host.handle_timeout(now);
    }

    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        loop {
            let n = self.host.poll_transmit(now, buf)?;
            let Some(rule) = self.rule.as_mut() else {
                return Some(n);
            };
            let from = self.id.expect("tap knows its host id");
            match Seg::from_packet(
                now,
                from,
                CaptureEvent::Dropped(DropReason::Lost),
                &buf[..n],
            ) {
                Some(seg) if rule(&seg) => self.dropped.push(seg),
                _ => return Some(n),
            }
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.host.poll_timeout()
    }
}

/// Two stacks on one link, with every packet captured and every event logged.
pub struct World {
    /// The network.
    pub net: Network<Tap>,
    a: HostId,
    b: HostId,
    /// a's address.
    pub a_ip: IpAddr,
    /// b's address.
    pub b_ip: IpAddr,
    caps: Vec<Capture>,
}

impl World {
    /// A world with the given configs and link; captures on.
    pub fn new(a_cfg: Config, b_cfg: Config, link: LinkConfig) -> Self {
        Self::with_addrs(
            a_cfg,
            b_cfg,
            link,
            "10.0.0.1".parse().unwrap(),
            "10.0.0.2".parse().unwrap(),
        )
    }

    /// As `new` with explicit addresses (IPv6).
    pub fn with_addrs(
        a_cfg: Config,
        b_cfg: Config,
        link: LinkConfig,
        a_ip: IpAddr,
        b_ip: IpAddr,
    ) -> Self {
        let mut net = Network::new(1);
        let tap = |cfg, ip, seed| Tap {
            host: Host::new(cfg, ip, seed),
            rule: None,
            dropped: Vec::new(),
            id: None,
        };
        let a = net.add_host(tap(a_cfg, a_ip, 3), &[a_ip]);
        let b = net.add_host(tap(b_cfg, b_ip, 4), &[b_ip]);
        net.host_mut(a).id = Some(a);
        net.host_mut(b).id = Some(b);
        net.link(a, b, link);
        net.set_capture(true);
        World {
            net,
            a,
            b,
            a_ip,
            b_ip,
            caps: Vec::new(),
        }
    }

    /// The seed trace's pair: client ISN 3626544836, server ISN 1739326486, no timestamps,
    /// 10 ms one-way delay.
    pub fn seed() -> Self {
        Self::new(
            config(CLIENT_ISN),
            config(SERVER_ISN),
            LinkConfig::default().with_delay(Duration::from_millis(10)),
        )
    }

    /// Sets (or clears) the drop rule on host `h`'s output.
    pub fn set_drop_rule(&mut self, h: HostId, rule: Option<DropRule>) {
        self.net.host_mut(h).rule = rule;
    }

    /// Segments host `h`'s drop rule removed.
    pub fn tap_dropped(&self, h: HostId) -> &[Seg] {
        &self.net.host(h).dropped
    }

    /// Host a (client).
    pub fn a(&self) -> HostId {
        self.a
    }

    /// Host b (server).
    pub fn b(&self) -> HostId {
        self.b
    }

    /// The client's fixed address.
    pub fn caddr(&self) -> SocketAddr {
        SocketAddr::new(self.a_ip, CPORT)
    }

    /// The server's address.
    pub fn saddr(&self) -> SocketAddr {
        SocketAddr::new(self.b_ip, SPORT)
    }

    /// Current virtual time.
    pub fn now(&self) -> Instant {
        self.net.now()
    }

    /// A host.
    pub fn host(&self, h: HostId) -> &Host {
        &self.net.host(h).host
    }

    /// A host's stack (read-only).
    pub fn stack(&self, h: HostId) -> &Stack {
        &self.net.host(h).host.stack
    }

    /// Calls into a host's stack as its user would, then collects the events the call made.
    pub fn with<R>(&mut self, h: HostId, f: impl FnOnce(&mut Stack, Instant) -> R) -> R {
        let now = self.now();
        let host = &mut self.net.host_mut(h).host;
        let r = f(&mut host.stack, now);
        host.pump(now);
        r
    }

    /// A connection's state, None once freed.
    pub fn state(&self, h: HostId, c: ConnId) -> Option<State> {
        self.stack(h).state(c)
    }

    /// Runs until `pred` holds or `limit` passes; returns whether it held.
    pub fn run_until(&mut self, limit: Duration, pred: impl Fn(&World) -> bool) -> bool {
        let give_up_at = self.now() + limit;
        loop {
            if pred(self) {
                return true;
            }
            if self
                .net
                .next_event_time()
                .is_some_and(|at| at <= give_up_at)
            {
                self.net.step();
            } else {
                self.net.run_until(give_up_at);
                return pred(self);
            }
        }
    }

    /// (SND.NXT, RCV.NXT) of a connection.
    pub fn seqs(&self, h: HostId, c: ConnId) -> (u32, u32) {
        self.stack(h)
            .connections()
            .find(|(id, _)| *id == c)
            .map(|(_, t)| (t.snd_nxt().0, t.rcv_nxt().0))
            .expect("live connection")
    }

    /// The window (bytes) `h` last advertised on `c`.
    pub fn rcv_wnd(&self, h: HostId, c: ConnId) -> u32 {
        self.stack(h).info(c).expect("live connection").rcv_wnd
    }

    /// Sets one direction of the link up or down (the other direction keeps its setting).
    pub fn set_up(&mut self, from: HostId, to: HostId, up: bool) {
        let cfg = self
            .net
            .link_config(from, to)
            .expect("linked")
            .clone()
            .with_up(up);
        self.net.set_link(from, to, cfg);
    }

    /// Runs until virtual time `t`.
    pub fn run_to(&mut self, t: Instant) {
        self.net.run_until(t);
    }

    /// Runs for `d`.
    pub fn run_for(&mut self, d: Duration) {
        self.net.run_for(d);
    }

    /// Runs until host `h`'s connection `c` is in `s` (panics with the trace if not in `limit`).
    pub fn run_to_state(&mut self, h: HostId, c: ConnId, s: State, limit: Duration) {
        // A closed connection nobody holds is freed at once: None counts as CLOSED.
        let ok = self.run_until(limit, move |w| match w.state(h, c) {
            Some(now) => now == s,
            None => s == State::Closed,
        });
        if !ok {
            self.dump();
            panic!(
                "host {h:?} conn {c:?} never reached {s} (now {:?}, state {:?})",
                self.now(),
                self.state(h, c)
            );
        }
    }

    /// Every capture so far, in order.
    pub fn captures(&mut self) -> &[Capture] {
        let new = self.net.take_captures();
        self.caps.extend(new);
        &self.caps
    }

    /// Every TCP segment sent so far (as the sending host emitted it, injected ones included).
    pub fn sent(&mut self) -> Vec<Seg> {
        self.captures()
            .iter()
            .filter(|c| c.event == CaptureEvent::Sent)
            .filter_map(Seg::parse)
            .collect()
    }

    /// Segments sent by host `h`.
    pub fn sent_by(&mut self, h: HostId) -> Vec<Seg> {
        self.sent().into_iter().filter(|s| s.from == h).collect()
    }

    /// Segments the network dropped.
    pub fn dropped(&mut self) -> Vec<Seg> {
        self.captures()
            .iter()
            .filter(|c| matches!(c.event, CaptureEvent::Dropped(_)))
            .filter_map(Seg::parse)
            .collect()
    }

    /// Segments delivered to their destination.
    pub fn delivered(&mut self) -> Vec<Seg> {
        self.captures()
            .iter()
            .filter(|c| c.event == CaptureEvent::Delivered)
            .filter_map(Seg::parse)
            .collect()
    }

    /// tcpdump lines of everything sent, with times; segments a tap rule dropped are marked.
    pub fn trace(&mut self) -> Vec<String> {
        let (a, b) = (self.a(), self.b());
        let mut all: Vec<(Seg, bool)> = self.sent().into_iter().map(|s| (s, false)).collect();
        for h in [a, b] {
            all.extend(self.tap_dropped(h).iter().cloned().map(|s| (s, true)));
        }
        all.sort_by_key(|(s, _)| s.time);
        all.iter()
            .map(|(s, tapped)| {
                let who = if s.from == a { "a" } else { "b" };
                let mark = if *tapped { " [dropped by tap]" } else { "" };
                format!("{} {who} {}{mark}", s.time, s.line)
            })
            .collect()
    }

    /// Prints the trace (shown when a test fails).
    pub fn dump(&mut self) {
        for l in self.trace() {
            println!("{l}");
        }
    }

    /// Listens on the server address and connects from the client's fixed port; runs until both
    /// ends are ESTABLISHED and the server accepted. Returns (client conn, server conn).
    pub fn establish(&mut self) -> (ConnId, ConnId) {
        let (a, b) = (self.a(), self.b());
        let (saddr, caddr) = (self.saddr(), self.caddr());
        let l = self.with(b, |s, _| s.listen(saddr, 128).expect("listen"));
        let c = self.with(a, |s, now| {
            s.connect(now, Some(caddr), saddr).expect("connect")
        });
        let ok = self.run_until(Duration::from_secs(10), move |w| {
            w.state(a, c) == Some(State::Established)
                && w.stack(b)
                    .listeners()
                    .any(|(id, _, queued, _)| id == l && queued > 0)
        });
        if !ok {
            self.dump();
            panic!("handshake did not complete");
        }
        let s = self.with(b, |s, _| s.accept(l)).expect("accepted");
        assert_eq!(self.state(b, s), Some(State::Established));
        (c, s)
    }

    /// The state transitions of connection `c` on host `h`, in order.
    pub fn transitions(&self, h: HostId, c: ConnId) -> Vec<(State, State, Instant)> {
        transitions(&self.host(h).events, c)
    }

    /// The path of states `c` went through: the first `from`, then every `to`.
    pub fn path(&self, h: HostId, c: ConnId) -> Vec<State> {
        let t = self.transitions(h, c);
        let mut out = Vec::new();
        if let Some((from, _, _)) = t.first() {
            out.push(*from);
        }
        out.extend(t.iter().map(|(_, to, _)| *to));
        out
    }

    /// When `c` on `h` entered state `s` (the last time), if it did.
    pub fn entered(&self, h: HostId, c: ConnId, s: State) -> Option<Instant> {
        self.transitions(h, c)
            .iter()
            .rev()
            .find(|(_, to, _)| *to == s)
            .map(|(_, _, at)| *at)
    }

    /// The `Closed` event's reason for `c` on `h`: None if not closed, Some(None) if orderly.
    pub fn closed_reason(
        &self,
        h: HostId,
        c: ConnId,
    ) -> Option<Option<synack_core::ConnectionError>> {
        self.host(h).events.iter().find_map(|e| match e {
            Event::Closed { conn, reason } if *conn == c => Some(*reason),
            _ => None,
        })
    }

    /// Injects a hand-built segment as if host `from` had sent it.
    pub fn inject(&mut self, from: HostId, packet: Vec<u8>) {
        self.net.inject(from, packet);
    }

    /// Reads everything readable on `c` at `h`: (bytes, saw end of stream).
    pub fn read_all(&mut self, h: HostId, c: ConnId) -> (Vec<u8>, bool) {
        self.with(h, |s, _| {
            let mut out = Vec::new();
            let mut buf = vec![0u8; 65536];
            loop {
                match s.recv(c, &mut buf) {
                    Ok(0) => return (out, true),
                    Ok(n) => out.extend_from_slice(&buf[..n]),
                    Err(_) => return (out, false),
                }
            }
        })
    }
}

/// One direction of a transfer driven by [`World::transfer`].
pub struct Flow {
    /// Sending host and connection.
    pub src: (HostId, ConnId),
    /// Receiving host and connection.
    pub dst: (HostId, ConnId),
    /// Bytes to send.
    pub data: Vec<u8>,
    /// Bytes queued so far.
    pub sent: usize,
    /// Bytes read at the receiver.
    pub received: Vec<u8>,
}

impl Flow {
    /// A flow of `data` from `src` to `dst`.
    pub fn new(src: (HostId, ConnId), dst: (HostId, ConnId), data: Vec<u8>) -> Self {
        Flow {
            src,
            dst,
            data,
            sent: 0,
            received: Vec::new(),
        }
    }

    /// Everything arrived.
    pub fn complete(&self) -> bool {
        self.received.len() >= self.data.len()
    }
}

impl World {
    /// Drives the flows (writing as buffers allow, reading everything readable after every
    /// event) until all are complete or `limit` passes; returns whether all completed.
    pub fn transfer(&mut self, flows: &mut [Flow], limit: Duration) -> bool {
        let give_up_at = self.now() + limit;
        let mut buf = vec![0u8; 65536];
        loop {
            for f in flows.iter_mut() {
                let (h, c) = f.src;
                while f.sent < f.data.len() {
                    match self.with(h, |s, now| s.send(now, c, &f.data[f.sent..])) {
                        Ok(n) if n > 0 => f.sent += n,
                        _ => break,
                    }
                }
                let (h, c) = f.dst;
                while let Ok(n) = self.with(h, |s, _| s.recv(c, &mut buf)) {
                    if n == 0 {
                        break;
                    }
                    f.received.extend_from_slice(&buf[..n]);
                }
            }
            if flows.iter().all(Flow::complete) {
                return true;
            }
            match self.net.next_event_time() {
                Some(at) if at <= give_up_at => {
                    self.net.step();
                }
                _ => return false,
            }
        }
    }
}

/// The transitions of `c` in an event log.
pub fn transitions(events: &[Event], c: ConnId) -> Vec<(State, State, Instant)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::StateChanged {
                conn, from, to, at, ..
            } if *conn == c => Some((*from, *to, *at)),
            _ => None,
        })
        .collect()
}

/// The connection on `h` whose peer is `remote`, from the event log (passive connections have no
/// handle before accept).
pub fn conn_by_remote(host: &Host, remote: SocketAddr) -> Option<ConnId> {
    host.events.iter().find_map(|e| match e {
        Event::StateChanged {
            conn, remote: r, ..
        } if *r == remote => Some(*conn),
        _ => None,
    })
}

/// A hand-made segment: an IP packet (no IP options) carrying one TCP segment.
pub struct Forge {
    /// Source.
    pub src: SocketAddr,
    /// Destination.
    pub dst: SocketAddr,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number; Some sets ACK.
    pub ack: Option<u32>,
    /// Flags besides ACK.
    pub flags: TcpFlags,
    /// Window field.
    pub window: u16,
    /// Options.
    pub options: TcpOptions,
    /// Payload.
    pub payload: Vec<u8>,
}

impl Forge {
    /// A segment from `src` to `dst` with the given seq, no flags yet, window 65535.
    pub fn new(src: SocketAddr, dst: SocketAddr, seq: u32) -> Self {
        Forge {
            src,
            dst,
            seq,
            ack: None,
            flags: TcpFlags::empty(),
            window: 65535,
            options: TcpOptions::default(),
            payload: Vec::new(),
        }
    }

    /// Sets ACK with this acknowledgment number.
    pub fn ack(mut self, ack: u32) -> Self {
        self.ack = Some(ack);
        self
    }

    /// Adds flags.
    pub fn flags(mut self, f: TcpFlags) -> Self {
        self.flags |= f;
        self
    }

    /// Sets the window field.
    pub fn window(mut self, w: u16) -> Self {
        self.window = w;
        self
    }

    /// Sets the payload.
    pub fn payload(mut self, p: &[u8]) -> Self {
        self.payload = p.to_vec();
        self
    }

    /// The IP packet.
    pub fn build(&self) -> Vec<u8> {
        let mut flags = self.flags;
        if self.ack.is_some() {
            flags |= TcpFlags::ACK;
        }
        let repr = TcpRepr {
            src_port: self.src.port(),
            dst_port: self.dst.port(),
            seq: SeqNumber(self.seq),
            ack: SeqNumber(self.ack.unwrap_or(0)),
            flags,
            window: self.window,
            urgent_ptr: 0,
            options: self.options,
            payload: &self.payload,
        };
        let ip_len = ip_header_len(self.src.ip());
        let tcp_len = repr.buffer_len();
        let mut buf = vec![0u8; ip_len + tcp_len];
        repr.emit(&mut buf[ip_len..], self.src.ip(), self.dst.ip())
            .expect("emit tcp");
        emit_ip_header(
            &mut buf[..ip_len],
            self.src.ip(),
            self.dst.ip(),
            protocol::TCP,
            tcp_len,
            64,
            0,
        )
        .expect("emit ip");
        buf
    }
}

/// Asserts that `segs` render as exactly `expected` (tcpdump lines), dumping both on failure.
pub fn assert_lines(segs: &[Seg], expected: &[&str]) {
    let got: Vec<&str> = segs.iter().map(|s| s.line.as_str()).collect();
    if got != expected {
        println!("--- expected");
        for l in expected {
            println!("{l}");
        }
        println!("--- got");
        for l in &got {
            println!("{l}");
        }
        panic!("trace differs");
    }
}
