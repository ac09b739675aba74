//! Groups segments into connections by their 4-tuple, and decides which side is the client.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use crate::segment::Segment;

/// Which way a segment went.
#[derive(Clone, Copy, PartialEq, Eq, Debug, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dir {
    /// From the client (the side that sent the first SYN) to the server.
    ToServer,
    /// From the server to the client.
    ToClient,
}

impl Dir {
    /// The other way.
    pub fn reverse(self) -> Dir {
        match self {
            Dir::ToServer => Dir::ToClient,
            Dir::ToClient => Dir::ToServer,
        }
    }

    /// 0 for the client's direction, 1 for the server's: an index for per-side arrays.
    pub fn index(self) -> usize {
        match self {
            Dir::ToServer => 0,
            Dir::ToClient => 1,
        }
    }
}

/// One segment of a connection, where and when it was seen.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Packet {
    /// Frame number in the capture.
    pub frame: u64,
    /// Capture time.
    pub time: Duration,
    /// Direction.
    pub dir: Dir,
    /// The segment.
    pub segment: Segment,
}

/// The segments of one connection, in capture order.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Connection {
    /// Connection number in the capture, from 1, in order of first packet.
    pub number: usize,
    /// The side that sent the first SYN (else the sender of the first packet).
    pub client: SocketAddr,
    /// The other side.
    pub server: SocketAddr,
    /// Its packets.
    pub packets: Vec<Packet>,
}

impl Connection {
    /// The endpoint that sent packets going `dir`.
    pub fn sender(&self, dir: Dir) -> SocketAddr {
        match dir {
            Dir::ToServer => self.client,
            Dir::ToClient => self.server,
        }
    }
}

/// What grouping needs to know about a connection still being filled.
struct Open {
    index: usize,
    fin_seen: [bool; 2],
    rst_seen: bool,
}

impl Open {
    /// Closed as far as a new SYN on the same tuple is concerned: reset, or FIN both ways
    /// (the old connection is in TIME_WAIT or gone; RFC 9293 §3.10.7.4 and RFC 6191 let a
    /// new SYN start a new incarnation).
    fn finished(&self) -> bool {
        self.rst_seen || (self.fin_seen[0] && self.fin_seen[1])
    }
}

fn tuple_key(a: SocketAddr, b: SocketAddr) -> (SocketAddr, SocketAddr) {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

/// Groups `(frame, time, segment)` triples, in capture order, into connections.
pub fn group(segments: impl IntoIterator<Item = (u64, Duration, Segment)>) -> Vec<Connection> {
    let mut connections: Vec<Connection> = Vec::new();
    let mut open: HashMap<(SocketAddr, SocketAddr), Open> = HashMap::new();
    for (frame, time, segment) in segments {
        let key = tuple_key(segment.src, segment.dst);
        let pure_syn = segment.flags.syn() && !segment.flags.ack();
        let reuse = open.get(&key).is_some_and(|o| !(pure_syn && o.finished()));
        if !reuse {
            let (client, server) = if segment.flags.syn() && segment.flags.ack() {
                // The first thing seen is a SYN-ACK: its receiver sent the SYN.
                (segment.dst, segment.src)
            } else {
                (segment.src, segment.dst)
            };
            connections.push(Connection {
                number: connections.len() + 1,
                client,
                server,
                packets: Vec::new(),
            });
            open.insert(
                key,
                Open {
                    index: connections.len() - 1,
                    fin_seen: [false; 2],
                    rst_seen: false,
                },
            );
        }
        let Some(state) = open.get_mut(&key) else {
            continue;
        };
        let Some(conn) = connections.get_mut(state.index) else {
            continue;
        };
        let dir = if segment.src == conn.client {
            Dir::ToServer
        } else {
            Dir::ToClient
        };
        if segment.flags.fin() {
            state.fin_seen[dir.index()] = true;
        }
        if segment.flags.rst() {
            state.rst_seen = true;
        }
        conn.packets.push(Packet {
            frame,
            time,
            dir,
            segment,
        });
    }
    connections
}
