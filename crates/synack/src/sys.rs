//! The system calls the drivers need, as safe functions. Every `unsafe` block of the crate is here,
//! each with the reason it is sound.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// Longest interface name the kernel accepts (IFNAMSIZ, with the terminating NUL).
pub const IFNAMSIZ: usize = 16;

/// `struct ifreq`: the interface name and a 24-byte union of which we use `ifr_flags` (a short)
/// and `ifr_mtu` (an int), both at offset 0 of the union.
#[repr(C)]
struct IfReq {
    name: [u8; IFNAMSIZ],
    data: [u8; 24],
}

impl IfReq {
    fn new(name: &str) -> io::Result<IfReq> {
        let bytes = name.as_bytes();
        if bytes.is_empty() || bytes.len() >= IFNAMSIZ || bytes.contains(&0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("interface name {name:?} must be 1 to 15 bytes with no NUL"),
            ));
        }
        let mut req = IfReq {
            name: [0; IFNAMSIZ],
            data: [0; 24],
        };
        req.name[..bytes.len()].copy_from_slice(bytes);
        Ok(req)
    }

    fn set_short(&mut self, v: i16) {
        self.data[..2].copy_from_slice(&v.to_ne_bytes());
    }

    fn short(&self) -> i16 {
        i16::from_ne_bytes([self.data[0], self.data[1]])
    }

    fn int(&self) -> i32 {
        i32::from_ne_bytes([self.data[0], self.data[1], self.data[2], self.data[3]])
    }

    fn name(&self) -> String {
        let end = self.name.iter().position(|&b| b == 0).unwrap_or(IFNAMSIZ);
        String::from_utf8_lossy(&self.name[..end]).into_owned()
    }
}

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Attaches `fd` (an open /dev/net/tun) to the TUN interface `name` (created if absent) as a
/// layer-3 device without packet information headers. Returns the name the kernel gave it.
pub fn tun_set_iff(fd: &OwnedFd, name: &str) -> io::Result<String> {
    let mut req = IfReq::new(name)?;
    req.set_short((libc::IFF_TUN | libc::IFF_NO_PI) as i16);
    // SAFETY: TUNSETIFF reads and writes a `struct ifreq`; `req` is one (repr(C), 40 bytes) and
    // lives across the call.
    check(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETIFF, &mut req as *mut IfReq) })?;
    Ok(req.name())
}

/// A datagram socket for interface ioctls (they need some socket, of any kind).
fn ioctl_socket() -> io::Result<OwnedFd> {
    // SAFETY: socket(2) has no memory arguments; a non-negative result is a new fd we own.
    let fd =
        check(unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: `fd` was just returned by socket(2) and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The MTU of interface `name`.
pub fn interface_mtu(name: &str) -> io::Result<usize> {
    let sock = ioctl_socket()?;
    let mut req = IfReq::new(name)?;
    // SAFETY: SIOCGIFMTU fills `ifr_mtu` of the `struct ifreq` we pass; `req` outlives the call.
    check(unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFMTU, &mut req as *mut IfReq) })?;
    usize::try_from(req.int()).map_err(|_| io::Error::other("negative MTU"))
}

/// Brings interface `name` up (IFF_UP) unless it is up already, as `ip link set NAME up` does.
pub fn interface_up(name: &str) -> io::Result<()> {
    let sock = ioctl_socket()?;
    let mut req = IfReq::new(name)?;
    // SAFETY: as in `interface_mtu`: SIOCGIFFLAGS/SIOCSIFFLAGS read and write `ifr_flags`.
    check(unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req as *mut IfReq) })?;
    if req.short() & libc::IFF_UP as i16 != 0 {
        return Ok(());
    }
    let flags = req.short() | libc::IFF_UP as i16;
    req.set_short(flags);
    // SAFETY: as above.
    check(unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &mut req as *mut IfReq) })?;
    Ok(())
}

/// read(2) into `buf`; Ok(None) when a non-blocking fd has nothing.
pub fn read(fd: RawFd, buf: &mut [u8]) -> io::Result<Option<usize>> {
    loop {
        // SAFETY: `buf` is valid for writes of `buf.len()` bytes for the duration of the call.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 0 {
            return Ok(Some(n as usize));
        }
        let err = io::Error::last_os_error();
        match err.kind() {
            io::ErrorKind::Interrupted => continue,
            io::ErrorKind::WouldBlock => return Ok(None),
            _ => return Err(err),
        }
    }
}

/// write(2) of one whole packet; Ok(false) when a non-blocking fd has no room (the packet is
/// dropped, as a full device queue drops it).
pub fn write(fd: RawFd, buf: &[u8]) -> io::Result<bool> {
    loop {
        // SAFETY: `buf` is valid for reads of `buf.len()` bytes for the duration of the call.
        let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        if n >= 0 {
            return Ok(true);
        }
        let err = io::Error::last_os_error();
        match err.kind() {
            io::ErrorKind::Interrupted => continue,
            io::ErrorKind::WouldBlock => return Ok(false),
            _ => return Err(err),
        }
    }
}

/// Waits until one of `fds` is readable or `timeout` passes (None: forever). Returns which are.
pub fn poll_readable(fds: &[RawFd], timeout: Option<Duration>) -> io::Result<Vec<bool>> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let ms: libc::c_int = match timeout {
        None => -1,
        // Round up: waking before the deadline would spin until it arrives.
        Some(t) => t.as_micros().div_ceil(1000).min(libc::c_int::MAX as u128) as libc::c_int,
    };
    loop {
        // SAFETY: `pfds` is a valid array of `pfds.len()` pollfd structs for the call.
        let r = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, ms) };
        if r >= 0 {
            break;
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    Ok(pfds
        .iter()
        .map(|p| p.revents & (libc::POLLIN | libc::POLLERR | libc::POLLHUP) != 0)
        .collect())
}

/// An eventfd: one thread wakes another out of `poll`.
#[derive(Debug)]
pub struct EventFd(OwnedFd);

impl EventFd {
    /// A new non-blocking eventfd.
    pub fn new() -> io::Result<EventFd> {
        // SAFETY: eventfd(2) has no memory arguments; a non-negative result is a new fd.
        let fd = check(unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) })?;
        // SAFETY: the fd was just created and is owned by nobody else.
        Ok(EventFd(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Makes the fd readable (wakes a poller).
    pub fn signal(&self) {
        // An eventfd write fails only when the counter would overflow, which is still readable.
        let _ = write(self.0.as_raw_fd(), &1u64.to_ne_bytes());
    }

    /// Resets the counter after a wake-up.
    pub fn drain(&self) {
        let mut buf = [0u8; 8];
        let _ = read(self.0.as_raw_fd(), &mut buf);
    }

    /// The fd to poll.
    pub fn raw(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

/// A connected pair of packet sockets (each `send` is one datagram, message boundaries kept):
/// an in-memory link between two stacks in one process.
pub fn packet_socketpair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: socketpair writes two fds into the 2-element array we pass.
    check(unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            0,
            fds.as_mut_ptr(),
        )
    })?;
    // SAFETY: both fds were just created by socketpair and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Sets a socket's send and receive buffer sizes (best effort: the kernel clamps them).
pub fn set_socket_buffers(fd: &OwnedFd, bytes: usize) {
    let v = bytes.min(i32::MAX as usize) as libc::c_int;
    for opt in [libc::SO_SNDBUF, libc::SO_RCVBUF] {
        // SAFETY: setsockopt reads one c_int from the pointer we pass, with its size.
        unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                opt,
                (&v as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
    }
}

/// Moves the calling thread into the network namespace `name` (a file in /var/run/netns, as
/// `ip netns add` makes). Sockets and devices the thread opens afterwards belong to it.
pub fn enter_netns(name: &str) -> io::Result<()> {
    if name.is_empty() || name.contains('/') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "network namespace name {name:?} must be a plain name, as `ip netns list` shows"
            ),
        ));
    }
    let path = format!("/var/run/netns/{name}");
    let ns = File::open(&path).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "cannot open network namespace {path}: {e} (create it with `ip netns add {name}`)"
            ),
        )
    })?;
    // SAFETY: setns on an fd we hold open; it changes only the calling thread.
    check(unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) }).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot enter network namespace {name}: {e} (this needs CAP_SYS_ADMIN: run as root)"),
        )
    })?;
    Ok(())
}

/// Runs `f` on a new thread that has joined the network namespace `name`: what `f` opens (a TUN
/// device, a socket) belongs to that namespace for good, while the calling thread stays where it
/// is.
pub fn in_netns<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    let name = name.to_string();
    std::thread::spawn(move || {
        enter_netns(&name)?;
        f()
    })
    .join()
    .map_err(|_| io::Error::other("namespace thread panicked"))?
}

/// Opens `path` read-write, close-on-exec, non-blocking.
pub fn open_rw_nonblocking(path: &str) -> io::Result<OwnedFd> {
    let c = CString::new(path).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `c` is a valid NUL-terminated string for the duration of the call.
    let fd = check(unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_RDWR | libc::O_CLOEXEC | libc::O_NONBLOCK,
        )
    })?;
    // SAFETY: the fd was just opened and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The user id of the process at the other end of a connected Unix socket (SO_PEERCRED), as the
/// kernel recorded it when the peer connected.
pub fn peer_uid(fd: &impl AsRawFd) -> io::Result<u32> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes, the size of the ucred we pass, and updates
    // `len`; both pointers are to live locals.
    let r = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(cred.uid)
}
