//! Benchmarks for synack: bulk throughput between two stacks and connection cycles per second.
//!
//! Everything runs on one thread in virtual time, so the wall-clock figures are the CPU cost of
//! the stacks (plus the small drivers below), not of any real network:
//!
//! * **bulk** moves N bytes from a client to a server and verifies them with a running checksum
//!   (nothing is stored). Two drivers:
//!   * `fifo`: a minimal loop with one FIFO of packets between the two stacks, zero delay and
//!     infinite bandwidth. Virtual time only moves when both stacks are idle and a timer is due,
//!     so the virtual time taken is the time the transfer stalled on timers (ideally zero).
//!   * `sim`: the `synack-sim` network with a finite link rate and delay, so the virtual time
//!     taken gives the goodput the stack achieves on that link, beside its wall-clock speed.
//! * **cycles**: sequential open, 1 KiB request, 1 KiB response, close, through TIME_WAIT: a
//!   cycle ends when both stacks hold no connection at all, so the TIME_WAIT timer firing and the
//!   connection's removal are inside the measurement. The virtual clock jumps over TIME_WAIT
//!   (2 × MSL, MSL configurable), so its length costs no wall time.
//!
//! The `tun` subcommand ([`tun`]) is the one benchmark on real devices: synack against the Linux
//! kernel over a TUN device, beside kernel against kernel over a veth pair.
#![forbid(unsafe_code)]

pub mod apps;
pub mod checksum;
pub mod compare;
pub mod fifo;
pub mod link;
pub mod pattern;
pub mod report;
pub mod sim;
pub mod stacks;
pub mod tun;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use synack_core::{Config, Stack};

pub use report::{run_cli, Options};

/// The client's address in every benchmark.
pub const CLIENT_IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
/// The server's address in every benchmark.
pub const SERVER_IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));
/// The port the server listens on.
pub const SERVER_PORT: u16 = 5001;

/// The server's socket address.
pub fn server_addr() -> SocketAddr {
    SocketAddr::new(SERVER_IP, SERVER_PORT)
}

/// A stack with one address, built from `config`.
pub fn make_stack(config: &Config, addr: IpAddr, seed: u8) -> Stack {
    let mut stack = Stack::new(Arc::new(config.clone()), [seed; 32]);
    stack.add_address(addr);
    stack
}

/// Which network carries the bulk transfer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Driver {
    /// Two stacks and one FIFO: zero delay, infinite bandwidth.
    Fifo,
    /// The simulator with a link of this rate and one-way delay.
    Sim {
        /// Link rate, bits per second (both directions).
        bandwidth_bps: u64,
        /// One-way propagation delay.
        delay: Duration,
    },
}

impl Driver {
    /// Short name for tables.
    pub fn label(&self) -> String {
        match self {
            Driver::Fifo => "fifo".to_string(),
            Driver::Sim {
                bandwidth_bps,
                delay,
            } => format!(
                "sim {}G/{}us",
                *bandwidth_bps as f64 / 1e9,
                delay.as_micros()
            ),
        }
    }
}

/// One bulk run's parameters.
#[derive(Clone, Debug)]
pub struct BulkParams {
    /// Bytes to move.
    pub bytes: u64,
    /// Link MTU of both stacks.
    pub mtu: usize,
    /// The network.
    pub driver: Driver,
    /// Stack configuration (its `mtu` is overridden by `mtu`).
    pub config: Config,
}

/// What a bulk run measured.
#[derive(Clone, Debug)]
pub struct BulkResult {
    /// The parameters.
    pub params: BulkParams,
    /// Bytes the receiver read.
    pub received: u64,
    /// Checksum of what the sender was asked to send.
    pub expected_checksum: u64,
    /// Checksum of what the receiver read.
    pub received_checksum: u64,
    /// Wall-clock time from connect to the receiver's end of stream.
    pub wall: Duration,
    /// CPU time this thread used over the same span, if known.
    pub cpu: Option<Duration>,
    /// Virtual time from connect to the receiver's end of stream.
    pub virtual_time: Duration,
    /// Packets the client (data sender) emitted.
    pub client_packets: u64,
    /// Packets the server (receiver) emitted.
    pub server_packets: u64,
    /// Segments the sender retransmitted.
    pub retransmits: u64,
    /// Payload per segment the sender used.
    pub snd_mss: u32,
    /// Timer events processed (both stacks).
    pub timer_wakeups: u64,
    /// Both connections closed cleanly afterwards (FIN exchange, TIME_WAIT expiry).
    pub closed_cleanly: bool,
    /// Any error an application saw.
    pub error: Option<String>,
}

impl BulkResult {
    /// The data arrived complete and intact.
    pub fn verified(&self) -> bool {
        self.error.is_none()
            && self.received == self.params.bytes
            && self.received_checksum == self.expected_checksum
    }

    /// Payload bits per wall-clock second, in Gbit/s.
    pub fn wall_gbps(&self) -> f64 {
        gbps(self.received, self.wall)
    }

    /// Payload bits per CPU second, in Gbit/s.
    pub fn cpu_gbps(&self) -> Option<f64> {
        self.cpu.map(|c| gbps(self.received, c))
    }

    /// Payload bits per virtual second, in Gbit/s (None when no virtual time passed).
    pub fn virtual_gbps(&self) -> Option<f64> {
        (!self.virtual_time.is_zero()).then(|| gbps(self.received, self.virtual_time))
    }
}

/// One cycles run's parameters.
#[derive(Clone, Debug)]
pub struct CycleParams {
    /// Cycles to run.
    pub cycles: u64,
    /// Request size, bytes.
    pub request: usize,
    /// Response size, bytes.
    pub response: usize,
    /// Stack configuration (MSL sets TIME_WAIT).
    pub config: Config,
    /// Record the first cycle's packets as tcpdump lines.
    pub trace_first: bool,
}

/// What a cycles run measured.
#[derive(Clone, Debug)]
pub struct CycleResult {
    /// The parameters.
    pub params: CycleParams,
    /// Cycles completed and verified.
    pub completed: u64,
    /// Wall-clock time for all cycles.
    pub wall: Duration,
    /// CPU time this thread used over the same span, if known.
    pub cpu: Option<Duration>,
    /// Virtual time for all cycles (mostly TIME_WAIT).
    pub virtual_time: Duration,
    /// Packets both stacks emitted.
    pub packets: u64,
    /// Timer events processed (both stacks).
    pub timer_wakeups: u64,
    /// The first cycle's packets (if asked for), as `time tcpdump-line`.
    pub trace: Vec<String>,
    /// The first error, if any.
    pub error: Option<String>,
}

impl CycleResult {
    /// Every cycle completed with the right bytes and clean closes.
    pub fn verified(&self) -> bool {
        self.error.is_none() && self.completed == self.params.cycles
    }

    /// Cycles per wall-clock second.
    pub fn per_second(&self) -> f64 {
        self.completed as f64 / self.wall.as_secs_f64()
    }

    /// Cycles per CPU second.
    pub fn per_cpu_second(&self) -> Option<f64> {
        self.cpu.map(|c| self.completed as f64 / c.as_secs_f64())
    }
}

/// CPU time this thread has used so far (Linux `/proc/thread-self/schedstat`, nanoseconds), so
/// figures can be read apart from other load on a shared machine. None where unavailable.
pub fn thread_cpu_time() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns = s.split_whitespace().next()?.parse::<u64>().ok()?;
    Some(Duration::from_nanos(ns))
}

/// Wall-clock and CPU time of a measured section.
#[derive(Clone, Copy, Debug)]
pub struct Timer {
    wall: std::time::Instant,
    cpu: Option<Duration>,
}

impl Timer {
    /// Starts measuring.
    pub fn start() -> Self {
        Timer {
            cpu: thread_cpu_time(),
            wall: std::time::Instant::now(),
        }
    }

    /// (wall, cpu) elapsed since `start`.
    pub fn stop(&self) -> (Duration, Option<Duration>) {
        let wall = self.wall.elapsed();
        let cpu = thread_cpu_time()
            .zip(self.cpu)
            .map(|(now, then)| now.saturating_sub(then));
        (wall, cpu)
    }
}

/// Bits per second in Gbit/s.
pub fn gbps(bytes: u64, d: Duration) -> f64 {
    bytes as f64 * 8.0 / d.as_secs_f64() / 1e9
}

/// Runs one bulk transfer.
pub fn run_bulk(params: &BulkParams) -> BulkResult {
    match params.driver {
        Driver::Fifo => fifo::run_bulk(params),
        Driver::Sim { .. } => sim::run_bulk(params),
    }
}

/// Runs sequential connection cycles.
pub fn run_cycles(params: &CycleParams) -> CycleResult {
    fifo::run_cycles(params)
}
