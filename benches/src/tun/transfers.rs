//! The three bulk transfers, each timed from the moment the sender is let go until the receiver
//! sees end of stream (handshake included, as in the in-process benchmarks):
//!
//! * synack -> kernel and kernel -> synack through a TUN device: synack runs in this process on
//!   the device, the kernel's end is a `std::net` socket created inside the device's namespace;
//! * kernel -> kernel through a veth pair joining two namespaces: the reference.

use super::netns::{LinkCounters, Netns};
use super::stream::{accept_kernel, go_signal, receive_all, send_pattern, Job, Received};
use super::stream::{Go, STALL_TIMEOUT};
use crate::pattern::Pattern;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use synack::{Net, NetConfig, Tun, TunOptions};

/// The kernel's address on the TUN device.
pub const TUN_KERNEL_IP: Ipv4Addr = Ipv4Addr::new(10, 7, 0, 1);
/// synack's address behind the TUN device.
pub const TUN_SYNACK_IP: Ipv4Addr = Ipv4Addr::new(10, 7, 0, 2);
/// The veth pair's sending end.
pub const VETH_SENDER_IP: Ipv4Addr = Ipv4Addr::new(10, 8, 0, 1);
/// The veth pair's receiving end.
pub const VETH_RECEIVER_IP: Ipv4Addr = Ipv4Addr::new(10, 8, 0, 2);
/// The TUN device's name inside its namespace.
pub const TUN_DEV: &str = "tun0";
/// MTU of the veth pair (the TUN device's default MTU is the same).
pub const VETH_MTU: u32 = 1500;

/// Which transfer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transfer {
    /// synack sends, the kernel receives, over TUN.
    SynackToKernel,
    /// The kernel sends, synack receives, over TUN.
    KernelToSynack,
    /// Kernel to kernel over veth (the reference).
    Veth,
}

impl Transfer {
    /// Every transfer, in the order they run (the reference first).
    pub const ALL: [Transfer; 3] = [
        Transfer::Veth,
        Transfer::SynackToKernel,
        Transfer::KernelToSynack,
    ];

    /// The row label.
    pub fn label(self) -> &'static str {
        match self {
            Transfer::SynackToKernel => "synack -> kernel (tun)",
            Transfer::KernelToSynack => "kernel -> synack (tun)",
            Transfer::Veth => "kernel -> kernel (veth)",
        }
    }

    /// The name `--only` takes.
    pub fn flag_name(self) -> &'static str {
        match self {
            Transfer::SynackToKernel => "synack-to-kernel",
            Transfer::KernelToSynack => "kernel-to-synack",
            Transfer::Veth => "veth",
        }
    }

    /// Uses the TUN device (and so synack).
    pub fn uses_tun(self) -> bool {
        self != Transfer::Veth
    }

    fn port(self) -> u16 {
        match self {
            Transfer::SynackToKernel => 5001,
            Transfer::KernelToSynack => 5002,
            Transfer::Veth => 5003,
        }
    }
}

/// synack's counters for its connection in a TUN transfer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SynackCounters {
    /// Segments synack retransmitted (timeouts and fast retransmits).
    pub retransmits: u64,
    /// Retransmission timer expirations.
    pub timeouts: u64,
    /// Segments that arrived out of order (each one follows a loss on the way in).
    pub ooo_segments: u64,
    /// Packets synack wrote that the TUN device refused (its queue to the kernel was full).
    pub device_tx_dropped: u64,
}

/// What one transfer measured.
#[derive(Clone, Debug)]
pub struct TransferResult {
    /// Which transfer.
    pub transfer: Transfer,
    /// Bytes the sender was asked to send.
    pub bytes: u64,
    /// Bytes the receiver read.
    pub received: u64,
    /// Checksum of what the sender was asked to send.
    pub expected_checksum: u64,
    /// Checksum of what the receiver read.
    pub received_checksum: u64,
    /// From the sender's start to the receiver's end of stream.
    pub wall: Duration,
    /// Counters of the TUN device over the transfer (None for veth).
    pub tun: Option<LinkCounters>,
    /// synack's counters (None for veth, or if the connection could not be found).
    pub synack: Option<SynackCounters>,
    /// Segments the kernel retransmitted in the sending or receiving namespace over the transfer.
    pub kernel_retransmits: Option<u64>,
    /// What went wrong, if anything.
    pub error: Option<String>,
}

impl TransferResult {
    /// The data arrived complete and intact.
    pub fn verified(&self) -> bool {
        self.error.is_none()
            && self.received == self.bytes
            && self.received_checksum == self.expected_checksum
    }

    /// Payload bits per second, in Gbit/s.
    pub fn gbps(&self) -> f64 {
        crate::gbps(self.received, self.wall)
    }
}

/// How long to wait for a whole transfer before giving up: generous, since the threads also give
/// up by themselves after [`STALL_TIMEOUT`] without progress.
fn overall_timeout(bytes: u64) -> Duration {
    Duration::from_secs(60) + Duration::from_secs(bytes / 5_000_000)
}

/// A TUN device in its own namespace with synack running on it. Field order matters: synack
/// lets go of the device before the namespace (and the device with it) is deleted.
pub struct TunBed {
    net: Arc<Net>,
    ns: Netns,
}

impl TunBed {
    /// Creates the namespace and device and starts synack on it.
    pub fn new() -> Result<TunBed, String> {
        let ns = Netns::create()?;
        ns.add_tun(TUN_DEV, TUN_KERNEL_IP)?;
        let tun = Tun::open(&TunOptions {
            name: TUN_DEV.to_string(),
            netns: Some(ns.name().to_string()),
        })
        .map_err(|e| format!("synack cannot open {TUN_DEV} in {}: {e}", ns.name()))?;
        let cidr = format!("{TUN_SYNACK_IP}/24")
            .parse()
            .map_err(|e| format!("bad address: {e:?}"))?;
        let net = Net::new(tun, NetConfig::new(vec![cidr]))
            .map_err(|e| format!("cannot start synack: {e}"))?;
        Ok(TunBed {
            net: Arc::new(net),
            ns,
        })
    }

    /// The namespace holding the device.
    pub fn netns(&self) -> &Netns {
        &self.ns
    }
}

/// Two namespaces joined by a veth pair.
pub struct VethBed {
    sender: Netns,
    receiver: Netns,
}

impl VethBed {
    /// Creates both namespaces and the pair.
    pub fn new() -> Result<VethBed, String> {
        let sender = Netns::create()?;
        let receiver = Netns::create()?;
        sender.add_veth_to(
            "veth0",
            VETH_SENDER_IP,
            &receiver,
            "veth1",
            VETH_RECEIVER_IP,
            VETH_MTU,
        )?;
        Ok(VethBed { sender, receiver })
    }
}

/// Both ends' outcome, and the time between the start signal and the receiver's end of stream.
struct Outcome<S> {
    received: Result<(Received, Option<synack::TcpStream>), String>,
    sent: Result<S, String>,
    wall: Duration,
}

/// Lets the sender go and waits for both ends.
fn race<S: Send + 'static>(
    receiver: Job<(Received, Option<synack::TcpStream>)>,
    sender: Job<S>,
    go: Go,
    bytes: u64,
) -> Outcome<S> {
    let start = Instant::now();
    go.send();
    let received = receiver.wait(overall_timeout(bytes));
    let wall = match &received {
        Ok((r, _)) => r.eof_at.saturating_duration_since(start),
        Err(_) => start.elapsed(),
    };
    // The sender finished writing before the receiver saw the end; this only collects it.
    let sent = sender.wait(STALL_TIMEOUT);
    Outcome {
        received,
        sent,
        wall,
    }
}

/// A kernel listener on `addr`, opened inside `ns`.
fn kernel_listener(ns: &Netns, addr: SocketAddr) -> Result<std::net::TcpListener, String> {
    Job::spawn("kernel bind", Some(ns.name()), move || {
        std::net::TcpListener::bind(addr).map_err(|e| format!("bind {addr}: {e}"))
    })?
    .wait(STALL_TIMEOUT)
}

/// A kernel receiver on `listener`: accepts one connection and reads it to the end.
fn kernel_receiver(
    listener: std::net::TcpListener,
) -> Result<Job<(Received, Option<synack::TcpStream>)>, String> {
    Job::spawn("kernel receiver", None, move || {
        let mut s = accept_kernel(&listener, STALL_TIMEOUT).map_err(|e| format!("accept: {e}"))?;
        s.set_read_timeout(Some(STALL_TIMEOUT))
            .map_err(|e| e.to_string())?;
        let r = receive_all(&mut s).map_err(|e| e.to_string())?;
        Ok((r, None))
    })
}

/// A kernel sender in `ns`: waits for the start, connects to `addr`, sends, shuts down writing.
fn kernel_sender(
    ns: &Netns,
    addr: SocketAddr,
    pattern: Arc<Pattern>,
    bytes: u64,
) -> Result<(Job<()>, Go), String> {
    let (go, wait_go) = go_signal();
    let job = Job::spawn("kernel sender", Some(ns.name()), move || {
        wait_go.wait()?;
        let mut s = std::net::TcpStream::connect_timeout(&addr, STALL_TIMEOUT)
            .map_err(|e| format!("connect {addr}: {e}"))?;
        s.set_write_timeout(Some(STALL_TIMEOUT))
            .map_err(|e| e.to_string())?;
        send_pattern(&mut s, &pattern, bytes).map_err(|e| format!("send: {e}"))?;
        s.shutdown(std::net::Shutdown::Write)
            .map_err(|e| format!("shutdown: {e}"))
    })?;
    Ok((job, go))
}

/// Runs `transfer` of `bytes` bytes. `tun` must be given for the TUN transfers, `veth` for the
/// veth one.
pub fn run_transfer(
    transfer: Transfer,
    bytes: u64,
    pattern: &Arc<Pattern>,
    expected_checksum: u64,
    tun: Option<&TunBed>,
    veth: Option<&VethBed>,
) -> TransferResult {
    let mut result = TransferResult {
        transfer,
        bytes,
        received: 0,
        expected_checksum,
        received_checksum: 0,
        wall: Duration::ZERO,
        tun: None,
        synack: None,
        kernel_retransmits: None,
        error: None,
    };
    let outcome = match (transfer, tun, veth) {
        (Transfer::Veth, _, Some(bed)) => run_veth(bed, bytes, pattern, &mut result),
        (Transfer::SynackToKernel | Transfer::KernelToSynack, Some(bed), _) => {
            run_tun(transfer, bed, bytes, pattern, &mut result)
        }
        _ => Err("its test bed was not set up".to_string()),
    };
    if let Err(e) = outcome {
        result.error.get_or_insert(e);
    }
    result
}

/// Records what the receiver got, and the first error of either end.
fn record<S>(result: &mut TransferResult, outcome: &Outcome<S>) {
    result.wall = outcome.wall;
    match &outcome.received {
        Ok((r, _)) => {
            result.received = r.bytes;
            result.received_checksum = r.checksum;
        }
        Err(e) => result.error = Some(e.clone()),
    }
    if let Err(e) = &outcome.sent {
        result.error.get_or_insert(e.clone());
    }
}

fn run_veth(
    bed: &VethBed,
    bytes: u64,
    pattern: &Arc<Pattern>,
    result: &mut TransferResult,
) -> Result<(), String> {
    let addr = SocketAddr::from((VETH_RECEIVER_IP, Transfer::Veth.port()));
    let retrans_before = bed.sender.kernel_retransmits()?;
    let receiver = kernel_receiver(kernel_listener(&bed.receiver, addr)?)?;
    let (sender, go) = kernel_sender(&bed.sender, addr, Arc::clone(pattern), bytes)?;
    let outcome = race(receiver, sender, go, bytes);
    record(result, &outcome);
    result.kernel_retransmits = Some(
        bed.sender
            .kernel_retransmits()?
            .saturating_sub(retrans_before),
    );
    Ok(())
}

fn run_tun(
    transfer: Transfer,
    bed: &TunBed,
    bytes: u64,
    pattern: &Arc<Pattern>,
    result: &mut TransferResult,
) -> Result<(), String> {
    let link_before = bed.ns.link_counters(TUN_DEV)?;
    let retrans_before = bed.ns.kernel_retransmits()?;
    let device_before = bed.net.device_stats();
    let port = transfer.port();
    let outcome = if transfer == Transfer::SynackToKernel {
        let addr = SocketAddr::from((TUN_KERNEL_IP, port));
        let receiver = kernel_receiver(kernel_listener(&bed.ns, addr)?)?;
        let (sender, go) = synack_sender(&bed.net, addr, Arc::clone(pattern), bytes)?;
        race(receiver, sender, go, bytes)
    } else {
        let addr = SocketAddr::from((TUN_SYNACK_IP, port));
        let receiver = synack_receiver(&bed.net, addr)?;
        let (sender, go) = kernel_sender(&bed.ns, addr, Arc::clone(pattern), bytes)?;
        let outcome = race(receiver, sender, go, bytes);
        Outcome {
            sent: outcome.sent.map(|()| None),
            received: outcome.received,
            wall: outcome.wall,
        }
    };
    record(result, &outcome);
    // synack's connection is still open here (its stream is held in the outcome), so its
    // counters can be read.
    let stream = match (&outcome.sent, &outcome.received) {
        (Ok(Some(s)), _) | (_, Ok((_, Some(s)))) => Some(s),
        _ => None,
    };
    if let Some(s) = stream {
        result.synack = synack_counters(&bed.net, s).map(|mut c| {
            c.device_tx_dropped = bed
                .net
                .device_stats()
                .tx_dropped
                .saturating_sub(device_before.tx_dropped);
            c
        });
    }
    drop(outcome);
    // Let both ends finish closing before the next transfer starts.
    bed.net.wait_closed(STALL_TIMEOUT);
    result.tun = Some(bed.ns.link_counters(TUN_DEV)?.since(&link_before));
    result.kernel_retransmits = Some(bed.ns.kernel_retransmits()?.saturating_sub(retrans_before));
    Ok(())
}

/// A synack sender: waits for the start, connects to `addr`, sends, shuts down writing, and hands
/// back the stream (still open) so its counters can be read.
fn synack_sender(
    net: &Arc<Net>,
    addr: SocketAddr,
    pattern: Arc<Pattern>,
    bytes: u64,
) -> Result<(Job<Option<synack::TcpStream>>, Go), String> {
    let (go, wait_go) = go_signal();
    let net = Arc::clone(net);
    let job = Job::spawn("synack sender", None, move || {
        wait_go.wait()?;
        let mut s = synack::TcpStream::connect_timeout(&net, &addr, STALL_TIMEOUT)
            .map_err(|e| format!("connect {addr}: {e}"))?;
        // The stream keeps the runtime alive on its own; the benchmark owns `Net`.
        drop(net);
        s.set_write_timeout(Some(STALL_TIMEOUT))
            .map_err(|e| e.to_string())?;
        send_pattern(&mut s, &pattern, bytes).map_err(|e| format!("send: {e}"))?;
        s.shutdown(std::net::Shutdown::Write)
            .map_err(|e| format!("shutdown: {e}"))?;
        Ok(Some(s))
    })?;
    Ok((job, go))
}

/// A synack receiver listening on `addr`: accepts one connection, reads it to the end, and hands
/// back the stream (still open) so its counters can be read. If no connection comes, dropping
/// `Net` ends the wait.
fn synack_receiver(
    net: &Net,
    addr: SocketAddr,
) -> Result<Job<(Received, Option<synack::TcpStream>)>, String> {
    let listener =
        synack::TcpListener::bind(net, addr).map_err(|e| format!("synack bind {addr}: {e}"))?;
    Job::spawn("synack receiver", None, move || {
        let (mut s, _) = listener.accept().map_err(|e| format!("accept: {e}"))?;
        s.set_read_timeout(Some(STALL_TIMEOUT))
            .map_err(|e| e.to_string())?;
        let r = receive_all(&mut s).map_err(|e| e.to_string())?;
        Ok((r, Some(s)))
    })
}

/// The counters of `stream`'s connection in synack (device drops left at zero).
fn synack_counters(net: &Net, stream: &synack::TcpStream) -> Option<SynackCounters> {
    let local = stream.local_addr().ok()?;
    let peer = stream.peer_addr().ok()?;
    net.with_stack(|stack| {
        let id = stack.connections().map(|(id, _)| id).find(|&id| {
            stack.local_addr(id) == Some(local) && stack.remote_addr(id) == Some(peer)
        })?;
        let c = stack.info(id)?.counters;
        Some(SynackCounters {
            retransmits: c.retransmits,
            timeouts: c.timeouts,
            ooo_segments: c.ooo_segments,
            device_tx_dropped: 0,
        })
    })
}
