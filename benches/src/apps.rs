//! The applications the benchmarks run on the stacks. They are event-driven, as a real program on
//! a socket API would be: they read on `Readable`, write on `Connected`/`Writable`, and never poll
//! the stack otherwise.

use crate::checksum::Checksum;
use crate::pattern::{Pattern, MAX_SLICE};
use std::net::SocketAddr;
use std::sync::Arc;
use synack_core::{ConnId, Event, Instant, ListenerId, RecvError, SendError, Stack};

/// Something that runs on a stack and reacts to its events.
pub trait App {
    /// Drains the stack's events and acts on them.
    fn poll(&mut self, stack: &mut Stack, now: Instant);
}

/// Reads the receive buffer in chunks this large.
const READ_CHUNK: usize = 256 * 1024;

/// Connects and sends `total` bytes of the pattern, then closes.
pub struct BulkSender {
    remote: SocketAddr,
    pattern: Arc<Pattern>,
    total: u64,
    sent: u64,
    closed: bool,
    /// The connection (once `start` ran).
    pub conn: Option<ConnId>,
    /// The first error seen.
    pub error: Option<String>,
}

impl BulkSender {
    /// A sender of `total` bytes to `remote`.
    pub fn new(remote: SocketAddr, pattern: Arc<Pattern>, total: u64) -> Self {
        BulkSender {
            remote,
            pattern,
            total,
            sent: 0,
            closed: false,
            conn: None,
            error: None,
        }
    }

    /// Opens the connection and queues the first data (sent after the handshake).
    pub fn start(&mut self, stack: &mut Stack, now: Instant) {
        match stack.connect(now, None, self.remote) {
            Ok(c) => {
                self.conn = Some(c);
                self.fill(stack, now);
            }
            Err(e) => self.error = Some(format!("connect: {e}")),
        }
    }

    fn fill(&mut self, stack: &mut Stack, now: Instant) {
        let Some(conn) = self.conn else { return };
        while self.sent < self.total {
            let want = (self.total - self.sent).min(MAX_SLICE as u64) as usize;
            match stack.send(now, conn, self.pattern.slice(self.sent, want)) {
                Ok(n) => self.sent += n as u64,
                Err(SendError::WouldBlock) => return,
                Err(e) => {
                    self.error.get_or_insert(format!("send: {e}"));
                    return;
                }
            }
        }
        if !self.closed {
            self.closed = true;
            if let Err(e) = stack.close(now, conn) {
                self.error.get_or_insert(format!("close: {e}"));
            }
        }
    }
}

impl App for BulkSender {
    fn poll(&mut self, stack: &mut Stack, now: Instant) {
        while let Some(ev) = stack.poll_event() {
            match ev {
                Event::Connected(c) | Event::Writable(c) if Some(c) == self.conn => {
                    self.fill(stack, now)
                }
                Event::Closed {
                    reason: Some(r), ..
                } => {
                    self.error.get_or_insert(format!("sender connection: {r}"));
                }
                _ => {}
            }
        }
    }
}

/// Listens, accepts one connection, reads it to the end with a running checksum, then closes.
pub struct BulkReceiver {
    listener: Option<ListenerId>,
    conn: Option<ConnId>,
    buf: Vec<u8>,
    /// Checksum of everything read.
    pub checksum: Checksum,
    /// End of stream seen.
    pub eof: bool,
    /// The first error seen.
    pub error: Option<String>,
}

impl BulkReceiver {
    /// Listens on `addr`.
    pub fn new(stack: &mut Stack, addr: SocketAddr) -> Self {
        let (listener, error) = match stack.listen(addr, 16) {
            Ok(l) => (Some(l), None),
            Err(e) => (None, Some(format!("listen: {e}"))),
        };
        BulkReceiver {
            listener,
            conn: None,
            buf: vec![0; READ_CHUNK],
            checksum: Checksum::new(),
            eof: false,
            error,
        }
    }

    /// Bytes read so far.
    pub fn received(&self) -> u64 {
        self.checksum.len()
    }

    fn read(&mut self, stack: &mut Stack, now: Instant, conn: ConnId) {
        loop {
            match stack.recv(conn, &mut self.buf) {
                Ok(0) => {
                    if !self.eof {
                        self.eof = true;
                        if let Err(e) = stack.close(now, conn) {
                            self.error.get_or_insert(format!("close: {e}"));
                        }
                    }
                    return;
                }
                Ok(n) => self.checksum.update(&self.buf[..n]),
                Err(RecvError::WouldBlock) => return,
                Err(e) => {
                    self.error.get_or_insert(format!("recv: {e}"));
                    return;
                }
            }
        }
    }
}

impl App for BulkReceiver {
    fn poll(&mut self, stack: &mut Stack, now: Instant) {
        while let Some(ev) = stack.poll_event() {
            match ev {
                Event::Incoming(l) if Some(l) == self.listener => {
                    while let Some(c) = stack.accept(l) {
                        if self.conn.is_some() {
                            self.error.get_or_insert("a second connection".into());
                        }
                        self.conn = Some(c);
                        // Data may have come with or right after the handshake.
                        self.read(stack, now, c);
                    }
                }
                Event::Readable(c) if Some(c) == self.conn && !self.eof => self.read(stack, now, c),
                Event::Closed {
                    reason: Some(r), ..
                } => {
                    self.error
                        .get_or_insert(format!("receiver connection: {r}"));
                }
                _ => {}
            }
        }
    }
}

/// The client side of request/response cycles: connect, send the request, read the response,
/// close (so the client is the active closer and holds TIME_WAIT).
pub struct CycleClient {
    remote: SocketAddr,
    request: Vec<u8>,
    response: Vec<u8>,
    got: Vec<u8>,
    buf: Vec<u8>,
    conn: Option<ConnId>,
    /// The response of the current cycle arrived intact and the client closed.
    pub finished: bool,
    /// Connections that reached CLOSED with no error.
    pub closed_ok: u64,
    /// The first error seen.
    pub error: Option<String>,
}

impl CycleClient {
    /// A client sending `request` to `remote` and expecting `response`.
    pub fn new(remote: SocketAddr, request: Vec<u8>, response: Vec<u8>) -> Self {
        CycleClient {
            remote,
            request,
            got: Vec::with_capacity(response.len()),
            response,
            buf: vec![0; 64 * 1024],
            conn: None,
            finished: false,
            closed_ok: 0,
            error: None,
        }
    }

    /// Starts a cycle: connect and queue the request.
    pub fn start(&mut self, stack: &mut Stack, now: Instant) {
        self.finished = false;
        self.got.clear();
        match stack.connect(now, None, self.remote) {
            Ok(c) => {
                self.conn = Some(c);
                match stack.send(now, c, &self.request) {
                    Ok(n) if n == self.request.len() => {}
                    other => {
                        self.error
                            .get_or_insert(format!("request did not fit: {other:?}"));
                    }
                }
            }
            Err(e) => {
                self.error.get_or_insert(format!("connect: {e}"));
            }
        }
    }

    fn read(&mut self, stack: &mut Stack, now: Instant, conn: ConnId) {
        loop {
            match stack.recv(conn, &mut self.buf) {
                Ok(0) => {
                    self.error
                        .get_or_insert("server closed before the response".into());
                    return;
                }
                Ok(n) => {
                    self.got.extend_from_slice(&self.buf[..n]);
                    if self.got.len() >= self.response.len() {
                        if self.got != self.response {
                            self.error.get_or_insert("response corrupted".into());
                        }
                        self.finished = true;
                        self.conn = None;
                        if let Err(e) = stack.close(now, conn) {
                            self.error.get_or_insert(format!("close: {e}"));
                        }
                        return;
                    }
                }
                Err(RecvError::WouldBlock) => return,
                Err(e) => {
                    self.error.get_or_insert(format!("recv: {e}"));
                    return;
                }
            }
        }
    }
}

impl App for CycleClient {
    fn poll(&mut self, stack: &mut Stack, now: Instant) {
        while let Some(ev) = stack.poll_event() {
            match ev {
                Event::Readable(c) if Some(c) == self.conn => self.read(stack, now, c),
                Event::Closed { reason: None, .. } => self.closed_ok += 1,
                Event::Closed {
                    reason: Some(r), ..
                } => {
                    self.error.get_or_insert(format!("client connection: {r}"));
                }
                _ => {}
            }
        }
    }
}

/// The server side of request/response cycles: accept, read the request, send the response,
/// close when the client's FIN arrives.
pub struct CycleServer {
    listener: Option<ListenerId>,
    request: Vec<u8>,
    response: Vec<u8>,
    /// Open connections and what each has read so far.
    conns: Vec<(ConnId, Vec<u8>)>,
    buf: Vec<u8>,
    /// Connections that reached CLOSED with no error.
    pub closed_ok: u64,
    /// The first error seen.
    pub error: Option<String>,
}

impl CycleServer {
    /// Listens on `addr`, expecting `request` and answering `response`.
    pub fn new(stack: &mut Stack, addr: SocketAddr, request: Vec<u8>, response: Vec<u8>) -> Self {
        let (listener, error) = match stack.listen(addr, 128) {
            Ok(l) => (Some(l), None),
            Err(e) => (None, Some(format!("listen: {e}"))),
        };
        CycleServer {
            listener,
            request,
            response,
            conns: Vec::new(),
            buf: vec![0; 64 * 1024],
            closed_ok: 0,
            error,
        }
    }

    fn read(&mut self, stack: &mut Stack, now: Instant, conn: ConnId) {
        let Some(i) = self.conns.iter().position(|(c, _)| *c == conn) else {
            return;
        };
        loop {
            match stack.recv(conn, &mut self.buf) {
                Ok(0) => {
                    if self.conns[i].1 != self.request {
                        self.error
                            .get_or_insert("request corrupted or short at EOF".into());
                    }
                    self.conns.swap_remove(i);
                    if let Err(e) = stack.close(now, conn) {
                        self.error.get_or_insert(format!("close: {e}"));
                    }
                    return;
                }
                Ok(n) => {
                    let got = &mut self.conns[i].1;
                    let before = got.len();
                    got.extend_from_slice(&self.buf[..n]);
                    let now_len = got.len();
                    if before < self.request.len() && now_len >= self.request.len() {
                        if *got != self.request {
                            self.error.get_or_insert("request corrupted".into());
                        }
                        match stack.send(now, conn, &self.response) {
                            Ok(n) if n == self.response.len() => {}
                            other => {
                                self.error
                                    .get_or_insert(format!("response did not fit: {other:?}"));
                            }
                        }
                    }
                }
                Err(RecvError::WouldBlock) => return,
                Err(e) => {
                    self.error.get_or_insert(format!("recv: {e}"));
                    return;
                }
            }
        }
    }
}

impl App for CycleServer {
    fn poll(&mut self, stack: &mut Stack, now: Instant) {
        while let Some(ev) = stack.poll_event() {
            match ev {
                Event::Incoming(l) if Some(l) == self.listener => {
                    while let Some(c) = stack.accept(l) {
                        self.conns.push((c, Vec::with_capacity(self.request.len())));
                        self.read(stack, now, c);
                    }
                }
                Event::Readable(c) => self.read(stack, now, c),
                Event::Closed { reason: None, .. } => self.closed_ok += 1,
                Event::Closed {
                    reason: Some(r), ..
                } => {
                    self.error.get_or_insert(format!("server connection: {r}"));
                }
                _ => {}
            }
        }
    }
}
