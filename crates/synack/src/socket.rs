//! Blocking sockets shaped like `std::net`: `TcpListener` and `TcpStream` on a running [`Net`].
//!
//! Errors carry the `io::ErrorKind` the kernel's sockets give for the same event:
//! ConnectionRefused, ConnectionReset, TimedOut, BrokenPipe, NotConnected, AddrInUse, and
//! WouldBlock when a read or write timeout expires (as on Unix).

use crate::runtime::{Inner, Net, Shared};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use synack_core::{ConnId, ListenerId, RecvError, SendError, Shutdown, State};

/// The accept queue length of listeners (Linux's default `somaxconn` is 4096; a queue of 128
/// overflows under bursts of connects and costs clients a second SYN retry).
pub const DEFAULT_BACKLOG: u32 = 4096;

fn resolve(addr: impl ToSocketAddrs) -> io::Result<SocketAddr> {
    addr.to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address to use"))
}

fn deadline_after(timeout: Option<Duration>) -> Option<std::time::Instant> {
    timeout.map(|t| std::time::Instant::now() + t)
}

/// A listening socket.
pub struct TcpListener {
    shared: Arc<Shared>,
    id: ListenerId,
    addr: SocketAddr,
}

impl TcpListener {
    /// Listens on `addr` (one of the stack's addresses, or the unspecified address for all of
    /// them of that family).
    pub fn bind(net: &Net, addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        let addr = resolve(addr)?;
        let shared = Arc::clone(&net.shared);
        let id = {
            let mut inner = shared.lock();
            inner.stack.listen(addr, DEFAULT_BACKLOG)?
        };
        Ok(TcpListener { shared, id, addr })
    }

    /// Waits for a connection.
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let id = self
            .shared
            .wait_for(None, io::ErrorKind::TimedOut, |inner| {
                inner.stack.accept(self.id).map(Ok)
            })?;
        let stream = TcpStream::from_id(Arc::clone(&self.shared), id);
        let peer = stream.peer_addr()?;
        Ok((stream, peer))
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.addr)
    }

    /// An endless iterator of accepted connections, as `std::net::TcpListener::incoming`.
    pub fn incoming(&self) -> impl Iterator<Item = io::Result<TcpStream>> + '_ {
        std::iter::repeat_with(move || self.accept().map(|(s, _)| s))
    }
}

impl Drop for TcpListener {
    fn drop(&mut self) {
        let mut inner = self.shared.lock();
        let now = inner.now();
        let _ = inner.stack.unlisten(now, self.id);
        self.shared.after_user_call(&mut inner);
    }
}

impl std::fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpListener")
            .field("addr", &self.addr)
            .finish()
    }
}

struct Options {
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
    /// Some(ZERO): close resets the connection instead of closing it gracefully (SO_LINGER 0).
    linger: Option<Duration>,
    nodelay: bool,
}

/// One connection, shared by the clones of a `TcpStream`; closed when the last clone drops.
struct Handle {
    shared: Arc<Shared>,
    id: ConnId,
    options: Mutex<Options>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        let abort = self.options().linger == Some(Duration::ZERO);
        let mut inner = self.shared.lock();
        let now = inner.now();
        if abort {
            let _ = inner.stack.abort(now, self.id);
        } else {
            let _ = inner.stack.close(now, self.id);
        }
        self.shared.after_user_call(&mut inner);
    }
}

impl Handle {
    fn options(&self) -> std::sync::MutexGuard<'_, Options> {
        self.options.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A TCP connection. Reading and writing block; clones (`try_clone`) share the connection, which
/// is closed (FIN) when the last one is dropped.
#[derive(Clone)]
pub struct TcpStream {
    handle: Arc<Handle>,
}

impl TcpStream {
    fn from_id(shared: Arc<Shared>, id: ConnId) -> TcpStream {
        let nodelay = shared.lock().stack.config().nodelay;
        TcpStream {
            handle: Arc::new(Handle {
                shared,
                id,
                options: Mutex::new(Options {
                    read_timeout: None,
                    write_timeout: None,
                    linger: None,
                    nodelay,
                }),
            }),
        }
    }

    /// Opens a connection and waits for the handshake (until the stack gives up: about two
    /// minutes of SYN retransmissions with the default settings, as Linux).
    pub fn connect(net: &Net, addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        TcpStream::connect_inner(net, resolve(addr)?, None)
    }

    /// Opens a connection, waiting at most `timeout` for the handshake.
    pub fn connect_timeout(
        net: &Net,
        addr: &SocketAddr,
        timeout: Duration,
    ) -> io::Result<TcpStream> {
        if timeout.is_zero() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "zero timeout"));
        }
        TcpStream::connect_inner(net, *addr, Some(timeout))
    }

    fn connect_inner(
        net: &Net,
        addr: SocketAddr,
        timeout: Option<Duration>,
    ) -> io::Result<TcpStream> {
        let shared = Arc::clone(&net.shared);
        let id = {
            let mut inner = shared.lock();
            let now = inner.now();
            let id = inner.stack.connect(now, None, addr)?;
            shared.after_user_call(&mut inner);
            id
        };
        // From here the handle owns the connection: a failed wait closes it on drop.
        let stream = TcpStream::from_id(Arc::clone(&shared), id);
        shared.wait_for(deadline_after(timeout), io::ErrorKind::TimedOut, |inner| {
            if let Some(e) = inner.stack.error(id) {
                return Some(Err(e.into()));
            }
            match inner.stack.state(id) {
                Some(State::SynSent | State::SynRcvd) => None,
                Some(State::Closed) | None => Some(Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "connection closed during the handshake",
                ))),
                Some(_) => Some(Ok(())),
            }
        })?;
        Ok(stream)
    }

    fn shared(&self) -> &Shared {
        &self.handle.shared
    }

    fn id(&self) -> ConnId {
        self.handle.id
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.shared()
            .lock()
            .stack
            .remote_addr(self.id())
            .ok_or_else(not_connected)
    }

    /// Our address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.shared()
            .lock()
            .stack
            .local_addr(self.id())
            .ok_or_else(not_connected)
    }

    /// The connection's TCP state (for tools and tests).
    pub fn state(&self) -> Option<State> {
        self.shared().lock().stack.state(self.id())
    }

    /// Shuts down reading, writing (sends FIN after queued data), or both.
    pub fn shutdown(&self, how: std::net::Shutdown) -> io::Result<()> {
        let how = match how {
            std::net::Shutdown::Read => Shutdown::Read,
            std::net::Shutdown::Write => Shutdown::Write,
            std::net::Shutdown::Both => Shutdown::Both,
        };
        let mut inner = self.shared().lock();
        let now = inner.now();
        inner.stack.shutdown(now, self.id(), how)?;
        self.shared().after_user_call(&mut inner);
        Ok(())
    }

    /// Turns Nagle's algorithm off (true) or on.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        let mut inner = self.shared().lock();
        inner.stack.set_nodelay(self.id(), nodelay)?;
        self.shared().after_user_call(&mut inner);
        self.handle.options().nodelay = nodelay;
        Ok(())
    }

    /// Whether Nagle's algorithm is off.
    pub fn nodelay(&self) -> io::Result<bool> {
        Ok(self.handle.options().nodelay)
    }

    /// How long `read` waits before failing with WouldBlock (None: forever).
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        check_timeout(timeout)?;
        self.handle.options().read_timeout = timeout;
        Ok(())
    }

    /// How long `write` waits for buffer space before failing with WouldBlock (None: forever).
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        check_timeout(timeout)?;
        self.handle.options().write_timeout = timeout;
        Ok(())
    }

    /// The read timeout.
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.handle.options().read_timeout)
    }

    /// The write timeout.
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.handle.options().write_timeout)
    }

    /// `Some(Duration::ZERO)`: dropping the last handle resets the connection (RST) instead of
    /// closing it with FIN, as SO_LINGER with a zero timeout does.
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        self.handle.options().linger = linger;
        Ok(())
    }

    /// Another handle to the same connection.
    pub fn try_clone(&self) -> io::Result<TcpStream> {
        Ok(self.clone())
    }

    /// Resets the connection now (RST), whatever other handles exist.
    pub fn abort(&self) -> io::Result<()> {
        let mut inner = self.shared().lock();
        // The core gives up the handle on abort; later calls on it report NotConnected.
        let now = inner.now();
        inner.stack.abort(now, self.id())?;
        self.shared().after_user_call(&mut inner);
        Ok(())
    }

    fn read_inner(&self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let id = self.id();
        let timeout = self.handle.options().read_timeout;
        self.shared().wait_for(
            deadline_after(timeout),
            io::ErrorKind::WouldBlock,
            |inner| read_ready(inner, id, buf),
        )
    }

    fn write_inner(&self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let id = self.id();
        let timeout = self.handle.options().write_timeout;
        self.shared().wait_for(
            deadline_after(timeout),
            io::ErrorKind::WouldBlock,
            |inner| match inner.stack.send(inner.now(), id, buf) {
                Ok(0) | Err(SendError::WouldBlock) => None,
                Ok(n) => Some(Ok(n)),
                Err(e) => Some(Err(e.into())),
            },
        )
    }
}

fn read_ready(inner: &mut Inner, id: ConnId, buf: &mut [u8]) -> Option<io::Result<usize>> {
    match inner.stack.recv(id, buf) {
        Ok(n) => Some(Ok(n)),
        // The core queues sends and answers WouldBlock to reads during the handshake
        // (RFC 9293 §3.10.2, §3.10.3), so waiting covers a stream that is still connecting.
        Err(RecvError::WouldBlock) => None,
        Err(e) => Some(Err(e.into())),
    }
}

fn check_timeout(timeout: Option<Duration>) -> io::Result<()> {
    if timeout == Some(Duration::ZERO) {
        // As std: a zero timeout is an error, not "non-blocking".
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "cannot set a 0 duration timeout",
        ));
    }
    Ok(())
}

fn not_connected() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "socket is not connected")
}

impl Read for TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_inner(buf)
    }
}

impl Read for &TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_inner(buf)
    }
}

impl Write for TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_inner(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        // Data is on its way once the stack holds it, as with a kernel socket.
        Ok(())
    }
}

impl Write for &TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_inner(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl std::fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpStream")
            .field("conn", &self.id())
            .field("local", &self.local_addr().ok())
            .field("peer", &self.peer_addr().ok())
            .finish()
    }
}
