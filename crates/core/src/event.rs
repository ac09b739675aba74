//! What the stack tells its driver and user: state changes, readiness, ends.

use crate::error::ConnectionError;
use crate::stack::{ConnId, ListenerId};
use crate::state::State;
use crate::time::Instant;
use std::net::SocketAddr;

/// Something that happened inside the stack. Drain them with [`Stack::poll_event`](crate::Stack::poll_event).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Event {
    /// A connection changed state (every transition of RFC 9293 Figure 5, including to CLOSED).
    StateChanged {
        /// The connection.
        conn: ConnId,
        /// Our end.
        local: SocketAddr,
        /// The peer's end.
        remote: SocketAddr,
        /// State before.
        from: State,
        /// State after.
        to: State,
        /// When.
        at: Instant,
    },
    /// An active open completed (SYN_SENT or SYN_RCVD to ESTABLISHED; or the peer acknowledged
    /// our SYN in FIN_WAIT_1, after a close in SYN_RCVD).
    Connected(ConnId),
    /// A listener has a connection ready for `accept`.
    Incoming(ListenerId),
    /// Data (or end of stream, or an error) can be read.
    Readable(ConnId),
    /// Send buffer space opened up.
    Writable(ConnId),
    /// The connection reached CLOSED. `reason` is None for an orderly close.
    Closed {
        /// The connection.
        conn: ConnId,
        /// Why it ended, if not orderly.
        reason: Option<ConnectionError>,
    },
}
