//! An in-memory link between two stacks in one process: a pair of Unix packet sockets, so the
//! runtime waits on it exactly as it waits on a TUN device. For tests and examples that need no
//! privileges.

use crate::device::Device;
use crate::sys;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// One end of an in-memory link.
#[derive(Debug)]
pub struct MemoryLink {
    fd: OwnedFd,
    mtu: usize,
}

impl MemoryLink {
    /// Two connected ends carrying packets of up to `mtu` bytes. Each end buffers about
    /// `queue_bytes` (the kernel rounds it); a full end drops, as a device queue does.
    pub fn pair(mtu: usize, queue_bytes: usize) -> io::Result<(MemoryLink, MemoryLink)> {
        let (a, b) = sys::packet_socketpair()?;
        sys::set_socket_buffers(&a, queue_bytes);
        sys::set_socket_buffers(&b, queue_bytes);
        Ok((MemoryLink { fd: a, mtu }, MemoryLink { fd: b, mtu }))
    }
}

impl Device for MemoryLink {
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
        "memory"
    }
}
