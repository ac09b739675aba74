//! An in-memory link between two stacks in one process: a pair of Unix packet sockets, so the
//! runtime waits on it exactly as it waits on a TUN device. For tests and examples that need no
//! privileges.

use crate::device::{packet_fd_device, PacketFd};
use crate::sys;
use std::io;

/// One end of an in-memory link.
#[derive(Debug)]
pub struct MemoryLink(PacketFd);

impl MemoryLink {
    /// Two connected ends carrying packets of up to `mtu` bytes. Each end buffers about
    /// `queue_bytes` (the kernel rounds it); a full end drops, as a device queue does.
    pub fn pair(mtu: usize, queue_bytes: usize) -> io::Result<(MemoryLink, MemoryLink)> {
        let (a, b) = sys::packet_socketpair()?;
        sys::set_socket_buffers(&a, queue_bytes);
        sys::set_socket_buffers(&b, queue_bytes);
        let end = |fd| {
            MemoryLink(PacketFd {
                fd,
                mtu,
                name: "memory".to_string(),
            })
        };
        Ok((end(a), end(b)))
    }
}

packet_fd_device!(MemoryLink);
