//! Small applications for simulated hosts.

use crate::App;
use std::any::Any;
use std::net::SocketAddr;
use synack_core::{
    ConnId, ConnectionError, Event, Instant, ListenerId, RecvError, SendError, Shutdown, Stack,
};

/// Connects, sends `data`, shuts down the write side, reads whatever comes back until end of
/// stream, then closes.
pub struct Client {
    /// Where to connect.
    pub remote: SocketAddr,
    /// Local address to bind (None: ephemeral).
    pub local: Option<SocketAddr>,
    /// Bytes to send.
    pub data: Vec<u8>,
    /// Bytes sent so far.
    pub sent: usize,
    /// Bytes received.
    pub received: Vec<u8>,
    /// The connection.
    pub conn: Option<ConnId>,
    /// How it ended, if it failed.
    pub error: Option<ConnectionError>,
    /// Got end of stream.
    pub eof: bool,
    /// Keep received bytes (off for huge transfers: only count them).
    pub keep_received: bool,
    /// Bytes received (also counted when not kept).
    pub received_len: usize,
    /// Close after EOF (true) or keep the handle.
    pub close_at_eof: bool,
    closed: bool,
}

impl Client {
    /// A client that will connect on its first poll.
    pub fn new(remote: SocketAddr, data: Vec<u8>) -> Self {
        Client {
            remote,
            local: None,
            data,
            sent: 0,
            received: Vec::new(),
            conn: None,
            error: None,
            eof: false,
            keep_received: true,
            received_len: 0,
            close_at_eof: true,
            closed: false,
        }
    }
}

fn pump_send(
    stack: &mut Stack,
    now: Instant,
    conn: ConnId,
    data: &[u8],
    sent: &mut usize,
) -> Result<bool, SendError> {
    while *sent < data.len() {
        match stack.send(now, conn, &data[*sent..]) {
            Ok(n) => *sent += n,
            Err(SendError::WouldBlock) => return Ok(false),
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Reads all available data; returns Ok(true) at end of stream.
fn pump_recv(
    stack: &mut Stack,
    conn: ConnId,
    keep: bool,
    out: &mut Vec<u8>,
    count: &mut usize,
) -> Result<bool, RecvError> {
    let mut buf = [0u8; 16384];
    loop {
        match stack.recv(conn, &mut buf) {
            Ok(0) => return Ok(true),
            Ok(n) => {
                *count += n;
                if keep {
                    out.extend_from_slice(&buf[..n]);
                }
            }
            Err(RecvError::WouldBlock) => return Ok(false),
            Err(e) => return Err(e),
        }
    }
}

impl App for Client {
    fn poll(&mut self, stack: &mut Stack, now: Instant, _events: &[Event]) {
        if self.closed {
            return;
        }
        let conn = match self.conn {
            Some(c) => c,
            None => match stack.connect(now, self.local, self.remote) {
                Ok(c) => {
                    self.conn = Some(c);
                    c
                }
                Err(_) => {
                    self.closed = true;
                    return;
                }
            },
        };
        if let Some(e) = stack.error(conn) {
            self.error = Some(e);
            self.closed = true;
            let _ = stack.close(now, conn);
            return;
        }
        match pump_send(stack, now, conn, &self.data, &mut self.sent) {
            Ok(true) => {
                let _ = stack.shutdown(now, conn, Shutdown::Write);
            }
            Ok(false) => {}
            Err(SendError::Connection(e)) => self.error = Some(e),
            Err(_) => {}
        }
        match pump_recv(
            stack,
            conn,
            self.keep_received,
            &mut self.received,
            &mut self.received_len,
        ) {
            Ok(true) => {
                self.eof = true;
                if self.close_at_eof && self.sent == self.data.len() {
                    let _ = stack.close(now, conn);
                    self.closed = true;
                }
            }
            Ok(false) => {}
            Err(RecvError::Connection(e)) => {
                self.error = Some(e);
                self.closed = true;
                let _ = stack.close(now, conn);
            }
            Err(_) => {}
        }
    }

    fn done(&self) -> bool {
        self.closed
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Listens, accepts up to `max_conns` connections, reads each to end of stream, optionally echoes
/// what it read, then closes it.
pub struct Server {
    /// The listener.
    pub listener: Option<ListenerId>,
    /// Where to listen.
    pub addr: SocketAddr,
    /// Echo received bytes back.
    pub echo: bool,
    /// Bytes to send to each client after accepting (before reading).
    pub greeting: Vec<u8>,
    /// Keep received bytes.
    pub keep_received: bool,
    /// Per accepted connection: (id, received bytes, received count, finished).
    pub conns: Vec<ServerConn>,
    /// Connections to serve before done.
    pub max_conns: usize,
    /// Close each connection when its peer finishes (false: wait for the peer's close and then
    /// close, i.e. the server sits in CLOSE_WAIT until it has sent everything).
    pub backlog: u32,
}

/// One connection a server accepted.
pub struct ServerConn {
    /// The connection.
    pub id: ConnId,
    /// Bytes received.
    pub received: Vec<u8>,
    /// Count of bytes received.
    pub received_len: usize,
    /// Pending bytes to write (greeting + echo).
    pub out: Vec<u8>,
    /// Bytes of `out` sent.
    pub sent: usize,
    /// Saw end of stream.
    pub eof: bool,
    /// Closed by us.
    pub closed: bool,
    /// Error, if any.
    pub error: Option<ConnectionError>,
}

impl Server {
    /// A server on `addr`.
    pub fn new(addr: SocketAddr, max_conns: usize) -> Self {
        Server {
            listener: None,
            addr,
            echo: false,
            greeting: Vec::new(),
            keep_received: true,
            conns: Vec::new(),
            max_conns,
            backlog: 128,
        }
    }

    /// Echo server.
    pub fn echo(addr: SocketAddr, max_conns: usize) -> Self {
        let mut s = Server::new(addr, max_conns);
        s.echo = true;
        s
    }
}

impl App for Server {
    fn poll(&mut self, stack: &mut Stack, now: Instant, _events: &[Event]) {
        let listener = match self.listener {
            Some(l) => l,
            None => {
                let l = stack.listen(self.addr, self.backlog).expect("listen");
                self.listener = Some(l);
                l
            }
        };
        while let Some(id) = stack.accept(listener) {
            self.conns.push(ServerConn {
                id,
                received: Vec::new(),
                received_len: 0,
                out: self.greeting.clone(),
                sent: 0,
                eof: false,
                closed: false,
                error: None,
            });
        }
        for c in self.conns.iter_mut().filter(|c| !c.closed) {
            if let Some(e) = stack.error(c.id) {
                c.error = Some(e);
                c.closed = true;
                let _ = stack.close(now, c.id);
                continue;
            }
            let before = c.received.len();
            let mut scratch = Vec::new();
            let keep = self.keep_received || self.echo;
            let target = if keep { &mut c.received } else { &mut scratch };
            let eof = match pump_recv(stack, c.id, keep, target, &mut c.received_len) {
                Ok(eof) => eof,
                Err(RecvError::Connection(e)) => {
                    c.error = Some(e);
                    c.closed = true;
                    let _ = stack.close(now, c.id);
                    continue;
                }
                Err(_) => false,
            };
            if self.echo {
                c.out.extend_from_slice(&c.received[before..]);
            }
            let _ = pump_send(stack, now, c.id, &c.out, &mut c.sent);
            if eof {
                c.eof = true;
            }
            if c.eof && c.sent == c.out.len() {
                let _ = stack.close(now, c.id);
                c.closed = true;
            }
        }
    }

    fn done(&self) -> bool {
        self.conns.len() >= self.max_conns && self.conns.iter().all(|c| c.closed)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
