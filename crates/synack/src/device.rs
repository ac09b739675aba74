//! What the runtime needs from a network device: packets in and out through a file descriptor
//! it can wait on.

use std::io;
use std::os::fd::RawFd;

/// A layer-3 device: each packet is one whole IPv4 or IPv6 datagram.
///
/// `recv` is called only by the runtime's driver thread; `send` by whichever thread flushes the
/// stack's output (under the runtime's lock, so packets leave in the order the stack made them).
pub trait Device: Send + Sync {
    /// Reads one packet into `buf`; Ok(None) when none is waiting.
    fn recv(&self, buf: &mut [u8]) -> io::Result<Option<usize>>;
    /// Writes one packet; Ok(false) when the device had no room and dropped it.
    fn send(&self, packet: &[u8]) -> io::Result<bool>;
    /// The fd that becomes readable when a packet is waiting.
    fn poll_fd(&self) -> RawFd;
    /// The largest packet the device carries.
    fn mtu(&self) -> usize;
    /// A name for messages (the interface name, or "memory").
    fn name(&self) -> &str;
}
