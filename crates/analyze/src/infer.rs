//! Infers, from the packets alone, the states each endpoint went through, by feeding the
//! events the packets show into the core's one copy of RFC 9293 Figure 5 ([`State::next`]).

use synack_core::{Cause, State};

use crate::conn::{Connection, Dir};
use crate::segment::Segment;

/// One endpoint of a connection.
#[derive(Clone, Copy, PartialEq, Eq, Debug, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The side that sent the first SYN.
    Client,
    /// The other side.
    Server,
}

impl Side {
    fn of_sender(dir: Dir) -> Side {
        match dir {
            Dir::ToServer => Side::Client,
            Dir::ToClient => Side::Server,
        }
    }

    fn index(self) -> usize {
        match self {
            Side::Client => 0,
            Side::Server => 1,
        }
    }
}

/// A state change and the segment that caused it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Transition {
    /// Frame of the segment that caused it (sent or received by this endpoint).
    pub frame: u64,
    /// State before.
    pub from: State,
    /// State after.
    pub to: State,
    /// The Figure 5 event.
    pub cause: Cause,
}

/// How a connection ended, as far as the capture shows.
#[derive(Clone, Copy, PartialEq, Eq, Debug, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "by")]
pub enum End {
    /// Both sides sent FIN.
    FinFin,
    /// A RST ended it, sent by this side.
    Reset(Side),
    /// The server answered the SYN with RST: nobody listened.
    Refused,
    /// Only this side sent FIN before the capture ended (half-closed).
    HalfClosed(Side),
    /// Established and still open at capture end.
    StillOpen,
    /// The handshake never completed within the capture (half-open).
    HalfOpen,
}

impl End {
    /// A short description for tables.
    pub fn describe(self) -> String {
        match self {
            End::FinFin => "FIN/FIN".into(),
            End::Reset(side) => format!("RST by {side:?}").to_lowercase(),
            End::Refused => "refused (RST)".into(),
            End::HalfClosed(side) => format!("half-closed by {side:?}").to_lowercase(),
            End::StillOpen => "still open".into(),
            End::HalfOpen => "half-open (no handshake)".into(),
        }
    }
}

/// The inferred history of both endpoints.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Inference {
    /// Each endpoint's state before its first transition: [client, server].
    pub initial: [State; 2],
    /// Each endpoint's transitions in order: [client, server].
    pub transitions: [Vec<Transition>; 2],
    /// True when the capture starts after the handshake: both sides are taken as ESTABLISHED.
    pub joined_midstream: bool,
    /// The side that sent the first FIN or RST.
    pub closed_first: Option<Side>,
    /// How it ended.
    pub end: End,
}

impl Inference {
    /// The state an endpoint was in at capture end.
    pub fn final_state(&self, side: Side) -> State {
        let i = side.index();
        self.transitions
            .get(i)
            .and_then(|t| t.last())
            .map_or(self.initial.get(i).copied().unwrap_or(State::Closed), |t| {
                t.to
            })
    }
}

/// `a >= b` in sequence space (RFC 9293 §3.4).
fn seq_ge(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) >= 0
}

struct Endpoint {
    state: State,
    transitions: Vec<Transition>,
    /// Sent a pure SYN somewhere in the capture (an active opener).
    active: bool,
    /// Answered without ever sending a SYN, first with a RST: nobody listened.
    refuses: bool,
    /// Came from LISTEN (for the RST-in-SYN_RCVD rule).
    passive: bool,
    iss: Option<u32>,
    /// Frame of the first SYN this endpoint sent.
    first_syn_frame: Option<u64>,
    /// Frame, acknowledgment number and sequence end of the first FIN this endpoint sent.
    first_fin: Option<(u64, u32, u32)>,
    /// Sequence number just past our FIN: an ACK of at least this acknowledges it.
    fin_end: Option<u32>,
}

impl Endpoint {
    /// Takes the Figure 5 edge for `cause` if there is one; events that are no edge in the
    /// current state (a retransmitted FIN, an ACK in ESTABLISHED) change nothing.
    fn apply(&mut self, frame: u64, cause: Cause) {
        if let Some(to) = self.state.next(cause) {
            if to != self.state {
                self.transitions.push(Transition {
                    frame,
                    from: self.state,
                    to,
                    cause,
                });
                self.state = to;
            }
        }
    }
}

/// Infers both endpoints' states from a connection's packets.
pub fn infer(conn: &Connection) -> Inference {
    let joined_midstream = conn.packets.first().is_some_and(|p| !p.segment.flags.syn());
    let mut ends = [Side::Client, Side::Server].map(|side| {
        let sent: Vec<&Segment> = conn
            .packets
            .iter()
            .filter(|p| Side::of_sender(p.dir) == side)
            .map(|p| &p.segment)
            .collect();
        let active = sent.iter().any(|s| s.flags.syn() && !s.flags.ack())
            // The client of a capture that starts at the SYN-ACK sent the unseen SYN.
            || (side == Side::Client && !joined_midstream);
        let refuses =
            !sent.iter().any(|s| s.flags.syn()) && sent.first().is_some_and(|s| s.flags.rst());
        let state = if joined_midstream {
            State::Established
        } else if active || refuses {
            State::Closed
        } else {
            // RFC 9293 §3.10.7.2: an endpoint that is sent a SYN first and answers it was LISTEN.
            State::Listen
        };
        Endpoint {
            state,
            transitions: Vec::new(),
            active,
            refuses,
            passive: state == State::Listen,
            iss: None,
            first_syn_frame: conn
                .packets
                .iter()
                .find(|p| Side::of_sender(p.dir) == side && p.segment.flags.syn())
                .map(|p| p.frame),
            first_fin: conn
                .packets
                .iter()
                .find(|p| Side::of_sender(p.dir) == side && p.segment.flags.fin())
                .map(|p| (p.frame, p.segment.ack, fin_end(&p.segment))),
            fin_end: None,
        }
    });
    let initial = [ends[0].state, ends[1].state];
    let mut closed_first = None;
    let mut end_rst: Option<Side> = None;
    let mut fin_sent = [false; 2];
    for packet in &conn.packets {
        let sender = Side::of_sender(packet.dir);
        let seg = &packet.segment;
        if closed_first.is_none() && (seg.flags.fin() || seg.flags.rst()) {
            closed_first = Some(sender);
        }
        if seg.flags.rst() && end_rst.is_none() {
            end_rst = Some(sender);
        }
        if seg.flags.fin() {
            fin_sent[sender.index()] = true;
        }
        let [client, server] = &mut ends;
        let (tx, rx) = match sender {
            Side::Client => (client, server),
            Side::Server => (server, client),
        };
        on_send(tx, packet.frame, seg);
        on_receive(rx, packet.frame, seg);
    }
    let established = ends
        .iter()
        .any(|e| e.transitions.iter().any(|t| t.to == State::Established));
    let end = if let Some(by) = end_rst {
        if by == Side::Server && !established && !joined_midstream && ends[1].refuses {
            End::Refused
        } else {
            End::Reset(by)
        }
    } else if fin_sent[0] && fin_sent[1] {
        End::FinFin
    } else if let Some(side) = [Side::Client, Side::Server]
        .into_iter()
        .find(|s| fin_sent[s.index()])
    {
        End::HalfClosed(side)
    } else if established || joined_midstream {
        End::StillOpen
    } else {
        End::HalfOpen
    };
    let [client, server] = ends;
    Inference {
        initial,
        transitions: [client.transitions, server.transitions],
        joined_midstream,
        closed_first,
        end,
    }
}

/// What sending `seg` tells about the sender.
fn on_send(tx: &mut Endpoint, frame: u64, seg: &Segment) {
    let flags = seg.flags;
    if flags.syn() {
        tx.iss.get_or_insert(seg.seq);
        if !flags.ack() {
            // RFC 9293 Figure 5: active OPEN (or SEND from LISTEN) sends the SYN.
            tx.apply(frame, Cause::ActiveOpen);
            tx.apply(frame, Cause::Send);
        } else if tx.state == State::Listen {
            // A SYN-ACK from LISTEN: the SYN it answers was not captured.
            tx.apply(frame, Cause::RcvSyn);
        }
    }
    if flags.fin() {
        tx.fin_end.get_or_insert(fin_end(seg));
        tx.apply(frame, Cause::Close);
    }
    if flags.rst() {
        // RFC 9293 §3.10.5: ABORT sends RST and deletes the TCB.
        tx.apply(frame, Cause::Abort);
    }
}

/// What receiving `seg` does to the receiver, in RFC 9293 §3.10.7's order of checks.
fn on_receive(rx: &mut Endpoint, frame: u64, seg: &Segment) {
    let flags = seg.flags;
    if flags.rst() {
        // §3.10.7.4 first check: a passive connection in SYN-RECEIVED returns to LISTEN.
        if rx.state == State::SynRcvd && rx.passive {
            rx.apply(frame, Cause::RcvRstAfterPassiveOpen);
        } else {
            rx.apply(frame, Cause::RcvRst);
        }
        return;
    }
    if flags.syn() {
        if rx.refuses {
            return;
        }
        if rx.state == State::Closed && rx.active {
            // Simultaneous open: the receiver's own SYN left before this one arrived, though
            // a capture merged from both ends may show it later; its frame is the cause.
            rx.apply(rx.first_syn_frame.unwrap_or(frame), Cause::ActiveOpen);
        }
        if !flags.ack() {
            rx.apply(frame, Cause::RcvSyn);
        } else if rx.state == State::SynSent && acks(seg, rx.iss.map(|i| i.wrapping_add(1))) {
            rx.apply(frame, Cause::RcvSynAck);
        }
        // §3.10.7.4 fourth check: a SYN in SYN-RECEIVED or later is not processed further
        // (RFC 5961 §4 answers it with a challenge ACK).
        return;
    }
    if flags.ack() {
        // §3.10.7.4 fifth check: SYN-RECEIVED -> ESTABLISHED on the ACK of our SYN ...
        if rx.state == State::SynRcvd && acks(seg, rx.iss.map(|i| i.wrapping_add(1))) {
            rx.apply(frame, Cause::RcvAckOfSyn);
        }
        // ... and FIN-WAIT-1, CLOSING, LAST-ACK move on the ACK of our FIN.
        if acks(seg, rx.fin_end) {
            rx.apply(frame, Cause::RcvAckOfFin);
        }
    }
    if flags.fin() {
        // Simultaneous close: the receiver's own FIN does not acknowledge this one, so it was
        // sent before this FIN arrived, though a merged capture may show it later.
        if let Some((own_frame, own_ack, own_end)) = rx.first_fin {
            if rx.fin_end.is_none() && !seq_ge(own_ack, fin_end(seg)) {
                rx.fin_end = Some(own_end);
                rx.apply(own_frame, Cause::Close);
            }
        }
        // §3.10.7.4 eighth check.
        rx.apply(frame, Cause::RcvFin);
    }
}

fn acks(seg: &Segment, target: Option<u32>) -> bool {
    seg.flags.ack() && target.is_some_and(|t| seq_ge(seg.ack, t))
}

/// RFC 9293 §3.10.4: the FIN's sequence number follows the data (and the SYN, if any); an
/// ACK of at least one past it acknowledges it.
fn fin_end(seg: &Segment) -> u32 {
    seg.seq
        .wrapping_add(seg.payload_len)
        .wrapping_add(u32::from(seg.flags.syn()))
        .wrapping_add(1)
}
