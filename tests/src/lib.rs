//! Test harness: synack stacks as simulator hosts, small applications that drive them, and
//! helpers that render what crossed the wire as tcpdump lines; and (`netns`) a harness that runs
//! synack against the Linux kernel inside network namespaces.
#![forbid(unsafe_code)]

pub mod apps;
pub mod netns;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use synack_core::{Config, Event, Instant, Stack};
use synack_sim::{Capture, CaptureEvent, HostId, LinkConfig, Network, Node};

/// Something running on a host: it sees the stack after every packet and timer.
pub trait App {
    /// Called after the stack handled input; `events` are the events it just produced.
    fn poll(&mut self, stack: &mut Stack, now: Instant, events: &[Event]);
    /// Whether the application finished its job.
    fn done(&self) -> bool {
        false
    }
    /// Lets tests reach the concrete application.
    fn as_any(&self) -> &dyn std::any::Any;
}

/// A simulated host: a stack, an optional application, and the event log.
pub struct Host {
    /// The stack.
    pub stack: Stack,
    /// Every event the stack produced, in order (if `keep_events`).
    pub events: Vec<Event>,
    /// Keep the event log (off for long transfers).
    pub keep_events: bool,
    /// The application.
    pub app: Option<Box<dyn App>>,
    scratch: Vec<Event>,
}

impl Host {
    /// A host with one address.
    pub fn new(config: Config, addr: IpAddr, seed: u8) -> Self {
        let mut stack = Stack::new(Arc::new(config), [seed; 32]);
        stack.add_address(addr);
        Host {
            stack,
            events: Vec::new(),
            keep_events: true,
            app: None,
            scratch: Vec::new(),
        }
    }

    /// Runs the application and collects events.
    pub fn pump(&mut self, now: Instant) {
        // Events can cause the app to act, which can cause more events: loop until quiet.
        for _ in 0..64 {
            self.scratch.clear();
            while let Some(e) = self.stack.poll_event() {
                self.scratch.push(e);
            }
            if let Some(app) = self.app.as_mut() {
                app.poll(&mut self.stack, now, &self.scratch);
            }
            if self.keep_events {
                self.events.extend_from_slice(&self.scratch);
            }
            if self.scratch.is_empty() {
                break;
            }
        }
    }

    /// The application, downcast.
    pub fn app<T: 'static>(&self) -> &T {
        self.app
            .as_ref()
            .and_then(|a| a.as_any().downcast_ref::<T>())
            .expect("host runs an app of this type")
    }
}

impl Node for Host {
    fn handle_packet(&mut self, now: Instant, packet: &[u8]) {
        self.stack.handle_packet(now, packet);
        self.pump(now);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.stack.handle_timeout(now);
        self.pump(now);
    }

    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        self.stack.poll_transmit(now, buf).map(|t| t.len)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.stack.poll_timeout()
    }
}

/// Two hosts joined by one link.
pub struct Pair {
    /// The network.
    pub net: Network<Host>,
    /// The client host ("a").
    pub a: HostId,
    /// The server host ("b").
    pub b: HostId,
    /// a's address.
    pub a_ip: IpAddr,
    /// b's address.
    pub b_ip: IpAddr,
}

impl Pair {
    /// Two IPv4 hosts 10.0.0.1 and 10.0.0.2 with the given configs and link.
    pub fn new(a_cfg: Config, b_cfg: Config, link: LinkConfig, seed: u64) -> Self {
        Self::with_addrs(
            a_cfg,
            b_cfg,
            link,
            seed,
            "10.0.0.1".parse().unwrap(),
            "10.0.0.2".parse().unwrap(),
        )
    }

    /// Two hosts with the given addresses.
    pub fn with_addrs(
        a_cfg: Config,
        b_cfg: Config,
        link: LinkConfig,
        seed: u64,
        a_ip: IpAddr,
        b_ip: IpAddr,
    ) -> Self {
        let mut net = Network::new(seed);
        let a = net.add_host(
            Host::new(a_cfg, a_ip, (seed as u8).wrapping_mul(2).wrapping_add(1)),
            &[a_ip],
        );
        let b = net.add_host(
            Host::new(b_cfg, b_ip, (seed as u8).wrapping_mul(2).wrapping_add(2)),
            &[b_ip],
        );
        net.link(a, b, link);
        Pair {
            net,
            a,
            b,
            a_ip,
            b_ip,
        }
    }

    /// Stack of host a.
    pub fn sa(&mut self) -> &mut Stack {
        &mut self.net.host_mut(self.a).stack
    }

    /// Stack of host b.
    pub fn sb(&mut self) -> &mut Stack {
        &mut self.net.host_mut(self.b).stack
    }

    /// b's socket address at `port`.
    pub fn b_addr(&self, port: u16) -> SocketAddr {
        SocketAddr::new(self.b_ip, port)
    }

    /// a's socket address at `port`.
    pub fn a_addr(&self, port: u16) -> SocketAddr {
        SocketAddr::new(self.a_ip, port)
    }

    /// Gives both applications their first turn (connect, listen), server first.
    pub fn start(&mut self) {
        let now = self.net.now();
        for h in [self.b, self.a] {
            self.net.host_mut(h).pump(now);
        }
    }

    /// Runs until both hosts' apps are done, or `limit` of virtual time passes.
    pub fn run_until_done(&mut self, limit: std::time::Duration) -> bool {
        let (a, b) = (self.a, self.b);
        self.start();
        self.net.run_until_cond(limit, |net| {
            net.host(a).app.as_ref().is_none_or(|x| x.done())
                && net.host(b).app.as_ref().is_none_or(|x| x.done())
        })
    }
}

/// Packets as tcpdump would print them, from every `Sent` capture (what left each host).
pub fn tcpdump_lines(captures: &[Capture]) -> Vec<String> {
    captures
        .iter()
        .filter(|c| c.event == CaptureEvent::Sent)
        .map(|c| synack_wire::tcpdump::format_packet(&c.packet))
        .collect()
}

/// A deterministic pseudo-random byte stream (xorshift) for transfers.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// RFC 9293 Figure 5: whether a connection may go from `from` to `to`. A CLOSE in SYN-RECEIVED
/// goes to FIN-WAIT-1 directly, or through ESTABLISHED when data was queued (§3.10.4); a FIN in
/// SYN-RECEIVED enters CLOSE-WAIT (§3.10.7.4); a passive connection reset in SYN-RECEIVED returns
/// to LISTEN; any state may go to CLOSED on RST, ABORT or a timeout.
pub fn figure5_edge(from: synack_core::State, to: synack_core::State) -> bool {
    use synack_core::State::*;
    matches!(
        (from, to),
        (Closed, SynSent)
            | (Listen, SynRcvd)
            | (SynSent, SynRcvd)
            | (SynSent, Established)
            | (SynRcvd, Established)
            | (SynRcvd, FinWait1)
            | (SynRcvd, CloseWait)
            | (SynRcvd, Listen)
            | (Established, FinWait1)
            | (Established, CloseWait)
            | (FinWait1, FinWait2)
            | (FinWait1, Closing)
            | (FinWait1, TimeWait)
            | (FinWait2, TimeWait)
            | (CloseWait, LastAck)
            | (Closing, TimeWait)
            | (_, Closed)
    )
}

/// SplitMix64: a small seedable generator for tests whose failures must replay from a seed.
#[derive(Clone, Debug)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}
