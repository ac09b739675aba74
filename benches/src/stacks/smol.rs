//! [`BenchStack`] for smoltcp: an `Interface` with `Medium::Ip` over a device backed by packet
//! queues, a `SocketSet` of TCP sockets, and smoltcp's clock driven by the simulated one.
//!
//! smoltcp has no listen backlog: one listening socket accepts one connection, so `listen`
//! adds `count` sockets, and a released passive socket listens again. A released active socket
//! is reused by the next `connect`, which discards its TIME_WAIT (smoltcp allows connect on a
//! socket in TIME_WAIT).

use super::{BenchStack, Recv, StackCounters, StackParams};
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet, SocketStorage};
use smoltcp::phy::{Device, DeviceCapabilities, Medium, RxToken, TxToken};
use smoltcp::socket::tcp::{self, CongestionControl, State};
use smoltcp::time::Instant;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};
use std::collections::{HashMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

/// The device: packets handed in wait in `rx`, packets smoltcp sends collect in `tx`.
pub struct QueueDevice {
    rx: VecDeque<Vec<u8>>,
    tx: Vec<Vec<u8>>,
    mtu: usize,
}

/// A received packet.
pub struct QueueRx(Vec<u8>);

/// Room for one packet to send.
pub struct QueueTx<'a>(&'a mut Vec<Vec<u8>>);

impl RxToken for QueueRx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl TxToken for QueueTx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut buf = vec![0; len];
        let r = f(&mut buf);
        self.0.push(buf);
        r
    }
}

impl Device for QueueDevice {
    type RxToken<'a> = QueueRx;
    type TxToken<'a> = QueueTx<'a>;

    fn receive(&mut self, _t: Instant) -> Option<(QueueRx, QueueTx<'_>)> {
        let p = self.rx.pop_front()?;
        Some((QueueRx(p), QueueTx(&mut self.tx)))
    }

    fn transmit(&mut self, _t: Instant) -> Option<QueueTx<'_>> {
        Some(QueueTx(&mut self.tx))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = self.mtu;
        caps
    }
}

/// What a socket is used for.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Role {
    /// Listens on this port (again, once released).
    Passive(u16),
    /// Opened by `connect`.
    Active,
}

/// smoltcp under the comparison harness.
pub struct SmolStack {
    iface: Interface,
    device: QueueDevice,
    sockets: SocketSet<'static>,
    params: StackParams,
    roles: HashMap<SocketHandle, Role>,
    /// Listening sockets not yet handed out by `accept`.
    listening: Vec<SocketHandle>,
    /// Sockets whose handshake completed, waiting for `accept`.
    ready: VecDeque<SocketHandle>,
    /// Released active sockets, for the next `connect`.
    free_active: Vec<SocketHandle>,
    errors: Vec<String>,
}

fn at(now: Duration) -> Instant {
    Instant::from_micros(now.as_micros() as i64)
}

impl SmolStack {
    /// An interface at `ip` with these buffers and MTU, seeded for its ISNs.
    pub fn new(ip: Ipv4Addr, p: StackParams, seed: u64) -> Self {
        let mut device = QueueDevice {
            rx: VecDeque::new(),
            tx: Vec::new(),
            mtu: p.mtu,
        };
        let mut config = Config::new(HardwareAddress::Ip);
        config.random_seed = seed;
        let mut iface = Interface::new(config, &mut device, at(Duration::ZERO));
        iface.update_ip_addrs(|addrs| {
            let _ = addrs.push(IpCidr::new(IpAddress::Ipv4(ip), 24));
        });
        SmolStack {
            iface,
            device,
            sockets: SocketSet::new(Vec::<SocketStorage>::new()),
            params: p,
            roles: HashMap::new(),
            listening: Vec::new(),
            ready: VecDeque::new(),
            free_active: Vec::new(),
            errors: Vec::new(),
        }
    }

    fn new_socket(&mut self, role: Role) -> SocketHandle {
        let mut s = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0u8; self.params.recv_buffer]),
            tcp::SocketBuffer::new(vec![0u8; self.params.send_buffer]),
        );
        // The default with both features on is already Cubic; set it so it stays explicit.
        s.set_congestion_control(CongestionControl::Cubic);
        let h = self.sockets.add(s);
        self.roles.insert(h, role);
        h
    }

    fn socket(&self, h: SocketHandle) -> &tcp::Socket<'static> {
        self.sockets.get::<tcp::Socket>(h)
    }

    fn socket_mut(&mut self, h: SocketHandle) -> &mut tcp::Socket<'static> {
        self.sockets.get_mut::<tcp::Socket>(h)
    }

    fn start_listening(&mut self, h: SocketHandle, port: u16) {
        match self.socket_mut(h).listen(port) {
            Ok(()) => self.listening.push(h),
            Err(e) => self.errors.push(format!("smoltcp listen {port}: {e}")),
        }
    }

    /// Sockets in the set.
    pub fn socket_count(&self) -> usize {
        self.roles.len()
    }

    /// Bytes one socket takes: its slot in the set (the `Socket` enum, sized by the TCP
    /// variant) plus the two buffers it was given.
    pub fn bytes_per_socket(&self) -> usize {
        std::mem::size_of::<SocketStorage>() + self.params.send_buffer + self.params.recv_buffer
    }
}

impl BenchStack for SmolStack {
    type Conn = SocketHandle;

    fn name(&self) -> &'static str {
        "smoltcp"
    }

    fn listen(&mut self, port: u16, count: usize) {
        for _ in 0..count {
            let h = self.new_socket(Role::Passive(port));
            self.start_listening(h, port);
        }
    }

    fn accept(&mut self) -> Option<SocketHandle> {
        if self.ready.is_empty() {
            let mut i = 0;
            while let Some(&h) = self.listening.get(i) {
                match self.socket(h).state() {
                    State::Listen | State::SynReceived => i += 1,
                    _ => {
                        self.listening.swap_remove(i);
                        self.ready.push_back(h);
                    }
                }
            }
        }
        self.ready.pop_front()
    }

    fn connect(
        &mut self,
        _now: Duration,
        local_port: u16,
        remote: SocketAddrV4,
    ) -> Option<SocketHandle> {
        let h = match self.free_active.pop() {
            Some(h) => h,
            None => self.new_socket(Role::Active),
        };
        let cx = self.iface.context();
        let s = self.sockets.get_mut::<tcp::Socket>(h);
        match s.connect(
            cx,
            (IpAddress::Ipv4(*remote.ip()), remote.port()),
            local_port,
        ) {
            Ok(()) => Some(h),
            Err(e) => {
                self.errors
                    .push(format!("smoltcp connect {local_port}: {e}"));
                self.free_active.push(h);
                None
            }
        }
    }

    fn send(&mut self, _now: Duration, c: SocketHandle, data: &[u8]) -> usize {
        self.socket_mut(c).send_slice(data).unwrap_or(0)
    }

    fn recv(&mut self, c: SocketHandle, buf: &mut [u8]) -> Recv {
        match self.socket_mut(c).recv_slice(buf) {
            Ok(0) => Recv::WouldBlock,
            Ok(n) => Recv::Data(n),
            Err(tcp::RecvError::Finished) => Recv::Eof,
            Err(tcp::RecvError::InvalidState) => {
                // Not yet established reads as "nothing yet"; closed without FIN is an error.
                match self.socket(c).state() {
                    State::SynSent | State::SynReceived | State::Listen => Recv::WouldBlock,
                    _ => Recv::Error,
                }
            }
        }
    }

    fn close(&mut self, _now: Duration, c: SocketHandle) {
        self.socket_mut(c).close();
    }

    fn is_established(&self, c: SocketHandle) -> bool {
        matches!(
            self.socket(c).state(),
            State::Established | State::CloseWait
        )
    }

    fn is_done(&self, c: SocketHandle) -> bool {
        matches!(self.socket(c).state(), State::Closed | State::TimeWait)
    }

    fn release(&mut self, c: SocketHandle) {
        match self.roles.get(&c).copied() {
            Some(Role::Passive(port)) => {
                self.socket_mut(c).abort();
                self.start_listening(c, port);
            }
            Some(Role::Active) => self.free_active.push(c),
            None => {}
        }
    }

    fn poll(&mut self, now: Duration, inbound: &mut Vec<Vec<u8>>, outbound: &mut Vec<Vec<u8>>) {
        self.device.rx.extend(inbound.drain(..));
        let t = at(now);
        // One `Interface::poll` takes every queued packet but lets each socket send at most
        // one segment, so poll until nothing more is sent.
        loop {
            let before = self.device.tx.len();
            self.iface.poll(t, &mut self.device, &mut self.sockets);
            if self.device.tx.len() == before && self.device.rx.is_empty() {
                break;
            }
        }
        outbound.append(&mut self.device.tx);
    }

    fn next_deadline(&mut self, now: Duration) -> Option<Duration> {
        self.iface
            .poll_at(at(now), &self.sockets)
            .map(|t| Duration::from_micros(t.total_micros().max(0) as u64))
    }

    fn counters(&self) -> StackCounters {
        // smoltcp counts neither retransmissions nor timeouts; the link counts them instead.
        StackCounters::default()
    }

    fn memory(&self) -> (usize, &'static str) {
        (
            self.socket_count() * self.bytes_per_socket(),
            "sockets x (size_of::<SocketStorage>() + rx + tx buffers given)",
        )
    }

    fn take_errors(&mut self) -> Vec<String> {
        std::mem::take(&mut self.errors)
    }
}
