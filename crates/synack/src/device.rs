//! What the runtime needs from a network device: packets in and out through a file descriptor
//! it can wait on.

use crate::sys;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

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

/// A device that is a file descriptor carrying one packet per read and write (a TUN device, a
/// packet socket): what `Tun` and `MemoryLink` both are underneath.
#[derive(Debug)]
pub(crate) struct PacketFd {
    pub(crate) fd: OwnedFd,
    pub(crate) mtu: usize,
    pub(crate) name: String,
}

impl Device for PacketFd {
    fn recv(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        sys::read(self.fd.as_raw_fd(), buf)
    }

    fn send(&self, packet: &[u8]) -> io::Result<bool> {
        sys::write(self.fd.as_raw_fd(), packet)
    }

    fn poll_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    fn mtu(&self) -> usize {
        self.mtu
    }

    fn name(&self) -> &str {
        &self.name
    }
}

/// Implements [`Device`] for a newtype around [`PacketFd`].
macro_rules! packet_fd_device {
    ($ty:ty) => {
        impl $crate::device::Device for $ty {
            fn recv(&self, buf: &mut [u8]) -> std::io::Result<Option<usize>> {
                self.0.recv(buf)
            }
            fn send(&self, packet: &[u8]) -> std::io::Result<bool> {
                self.0.send(packet)
            }
            fn poll_fd(&self) -> std::os::fd::RawFd {
                self.0.poll_fd()
            }
            fn mtu(&self) -> usize {
                self.0.mtu()
            }
            fn name(&self) -> &str {
                self.0.name()
            }
        }
    };
}
pub(crate) use packet_fd_device;
