//! The operations the comparison scenarios need from a TCP stack, implemented for synack and
//! for smoltcp, so every scenario runs the same code against both.
//!
//! Time is a `Duration` since the start of the run (the simulated clock); each stack converts
//! it to its own instant type. Packets are raw IPv4 datagrams.

pub mod smol;
pub mod synack;

use std::net::SocketAddrV4;
use std::time::Duration;

/// The result of a read.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Recv {
    /// This many bytes were read.
    Data(usize),
    /// Nothing to read now.
    WouldBlock,
    /// The peer closed its direction and everything has been read.
    Eof,
    /// The connection failed.
    Error,
}

/// Buffers and link MTU, the same for both stacks.
#[derive(Clone, Copy, Debug)]
pub struct StackParams {
    /// Link MTU, bytes.
    pub mtu: usize,
    /// Send buffer per connection, bytes.
    pub send_buffer: usize,
    /// Receive buffer per connection, bytes.
    pub recv_buffer: usize,
}

/// Counters the stack keeps itself (None where it keeps none).
#[derive(Clone, Copy, Debug, Default)]
pub struct StackCounters {
    /// Segments retransmitted.
    pub retransmits: Option<u64>,
    /// Retransmission timer expirations.
    pub timeouts: Option<u64>,
}

/// A TCP stack as the comparison drives it.
pub trait BenchStack {
    /// A connection handle.
    type Conn: Copy + PartialEq + std::fmt::Debug;

    /// Short name for tables.
    fn name(&self) -> &'static str;
    /// Be ready to accept `count` more connections on `port` at once.
    fn listen(&mut self, port: u16, count: usize);
    /// A passive connection that finished its handshake, if any.
    fn accept(&mut self) -> Option<Self::Conn>;
    /// Opens a connection from `local_port` to `remote` (None: refused, the reason is in
    /// [`BenchStack::take_errors`]).
    fn connect(
        &mut self,
        now: Duration,
        local_port: u16,
        remote: SocketAddrV4,
    ) -> Option<Self::Conn>;
    /// Queues data; returns how much fit.
    fn send(&mut self, now: Duration, c: Self::Conn, data: &[u8]) -> usize;
    /// Reads into `buf`.
    fn recv(&mut self, c: Self::Conn, buf: &mut [u8]) -> Recv;
    /// Closes our direction (FIN once the data is sent).
    fn close(&mut self, now: Duration, c: Self::Conn);
    /// The handshake completed (and the connection is not yet closed by the peer).
    fn is_established(&self, c: Self::Conn) -> bool;
    /// The connection needs nothing more from either end: CLOSED, TIME_WAIT or gone.
    fn is_done(&self, c: Self::Conn) -> bool;
    /// The application is finished with `c` (a passive one's slot may serve the next
    /// connection on its port, an active one's the next `connect`).
    fn release(&mut self, c: Self::Conn);
    /// Takes the packets in `inbound`, runs due timers, and appends what the stack sends to
    /// `outbound`.
    fn poll(&mut self, now: Duration, inbound: &mut Vec<Vec<u8>>, outbound: &mut Vec<Vec<u8>>);
    /// When the stack next needs `poll` without a packet arriving.
    fn next_deadline(&mut self, now: Duration) -> Option<Duration>;
    /// The stack's own counters.
    fn counters(&self) -> StackCounters;
    /// Connection memory the stack holds, bytes, and how it was measured.
    fn memory(&self) -> (usize, &'static str);
    /// Errors the stack reported on connections (resets, timeouts).
    fn take_errors(&mut self) -> Vec<String>;
}
