//! The eleven TCP states (RFC 9293 §3.3.2), printed as `ss` and `netstat` print them, and
//! the one copy of the state diagram (RFC 9293 Figure 5) that both the stack and the capture
//! analyzer follow.

use core::fmt;

/// A TCP connection state (RFC 9293 §3.3.2, Figure 5).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum State {
    /// No connection.
    Closed,
    /// Waiting for a connection request (listeners only).
    Listen,
    /// Sent a SYN, waiting for a matching SYN.
    SynSent,
    /// Received a SYN and sent one, waiting for the acknowledgment.
    SynRcvd,
    /// Open: data flows both ways.
    Established,
    /// We sent FIN; waiting for its ACK or the peer's FIN.
    FinWait1,
    /// Our FIN is acknowledged; waiting for the peer's FIN.
    FinWait2,
    /// The peer sent FIN; waiting for the local user to close.
    CloseWait,
    /// Both sides sent FIN at once; waiting for the ACK of ours.
    Closing,
    /// We sent FIN after the peer's; waiting for its ACK.
    LastAck,
    /// Waiting 2*MSL so that old duplicates die and a lost final ACK can be resent.
    TimeWait,
}

/// What moves a connection from one state to another: the event labels of RFC 9293 Figure 5,
/// plus the edges the event-processing text of §3.10 adds to the figure.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Cause {
    /// The user's passive OPEN: CLOSED -> LISTEN.
    PassiveOpen,
    /// The user's active OPEN, which sends SYN: CLOSED -> SYN_SENT.
    ActiveOpen,
    /// A SEND on a listening connection, which sends SYN: LISTEN -> SYN_SENT.
    Send,
    /// A SYN without ACK arrived (LISTEN -> SYN_RCVD, or simultaneous open SYN_SENT -> SYN_RCVD).
    RcvSyn,
    /// The SYN,ACK answering our SYN arrived: SYN_SENT -> ESTABLISHED.
    RcvSynAck,
    /// The ACK of our SYN arrived: SYN_RCVD -> ESTABLISHED.
    RcvAckOfSyn,
    /// The user's CLOSE: a FIN goes out (or, before any SYN was sent, the TCB is deleted).
    Close,
    /// A FIN arrived.
    RcvFin,
    /// The ACK of our FIN arrived.
    RcvAckOfFin,
    /// A FIN that also acknowledges our FIN arrived: FIN_WAIT_1 -> TIME_WAIT (§3.10.7.4).
    RcvFinAndAckOfFin,
    /// A RST arrived (§3.10.7.4 and, for SYN_SENT, §3.10.7.3).
    RcvRst,
    /// A RST arrived in SYN_RCVD on a connection that came from LISTEN: back to LISTEN
    /// (§3.10.7.4, first check).
    RcvRstAfterPassiveOpen,
    /// The user's ABORT, which sends RST where the connection is synchronized (§3.10.5).
    Abort,
    /// The user timeout or retransmission limit gave up on the connection (§3.10.8).
    Timeout,
    /// The 2*MSL wait ended: TIME_WAIT -> CLOSED.
    TimeWaitExpired,
}

impl Cause {
    /// Every cause, for tables derived from [`State::next`].
    pub const ALL: [Cause; 15] = [
        Cause::PassiveOpen,
        Cause::ActiveOpen,
        Cause::Send,
        Cause::RcvSyn,
        Cause::RcvSynAck,
        Cause::RcvAckOfSyn,
        Cause::Close,
        Cause::RcvFin,
        Cause::RcvAckOfFin,
        Cause::RcvFinAndAckOfFin,
        Cause::RcvRst,
        Cause::RcvRstAfterPassiveOpen,
        Cause::Abort,
        Cause::Timeout,
        Cause::TimeWaitExpired,
    ];

    /// A short label in the style of Figure 5 (`rcv SYN`, `CLOSE`, ...).
    pub const fn label(self) -> &'static str {
        match self {
            Cause::PassiveOpen => "passive OPEN",
            Cause::ActiveOpen => "active OPEN",
            Cause::Send => "SEND",
            Cause::RcvSyn => "rcv SYN",
            Cause::RcvSynAck => "rcv SYN,ACK",
            Cause::RcvAckOfSyn => "rcv ACK of SYN",
            Cause::Close => "CLOSE",
            Cause::RcvFin => "rcv FIN",
            Cause::RcvAckOfFin => "rcv ACK of FIN",
            Cause::RcvFinAndAckOfFin => "rcv FIN,ACK of FIN",
            Cause::RcvRst => "rcv RST",
            Cause::RcvRstAfterPassiveOpen => "rcv RST (passive open)",
            Cause::Abort => "ABORT",
            Cause::Timeout => "timeout",
            Cause::TimeWaitExpired => "Timeout=2MSL",
        }
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.label())
    }
}

impl State {
    /// Every state, for tables.
    pub const ALL: [State; 11] = [
        State::Closed,
        State::Listen,
        State::SynSent,
        State::SynRcvd,
        State::Established,
        State::FinWait1,
        State::FinWait2,
        State::CloseWait,
        State::Closing,
        State::LastAck,
        State::TimeWait,
    ];

    /// The state `cause` moves this one to, or `None` when Figure 5 has no such edge.
    pub const fn next(self, cause: Cause) -> Option<State> {
        use Cause as C;
        use State as S;
        Some(match (self, cause) {
            // RFC 9293 §3.10.7.1-2, §3.10.7.4: a RST kills any connection; in CLOSED and LISTEN
            // it is ignored, so it is no edge there.
            (S::SynRcvd, C::RcvRstAfterPassiveOpen) => S::Listen,
            (S::Closed | S::Listen, C::RcvRst) => return None,
            (_, C::RcvRst) => S::Closed,
            // §3.10.5 and §3.10.8: ABORT and the user timeout delete the TCB in any live state.
            (S::Closed, C::Abort | C::Timeout) => return None,
            (_, C::Abort | C::Timeout) => S::Closed,
            // Figure 5, top: opening.
            (S::Closed, C::PassiveOpen) => S::Listen,
            (S::Closed, C::ActiveOpen) => S::SynSent,
            (S::Listen, C::Send) => S::SynSent,
            (S::Listen, C::Close) => S::Closed,
            (S::Listen, C::RcvSyn) => S::SynRcvd,
            // Figure 8: simultaneous open.
            (S::SynSent, C::RcvSyn) => S::SynRcvd,
            (S::SynSent, C::RcvSynAck) => S::Established,
            (S::SynSent, C::Close) => S::Closed,
            (S::SynRcvd, C::RcvAckOfSyn) => S::Established,
            // §3.10.4: CLOSE in SYN-RECEIVED sends FIN once nothing is queued.
            (S::SynRcvd, C::Close) => S::FinWait1,
            // §3.10.7.4, eighth step: a FIN in SYN-RECEIVED enters CLOSE-WAIT.
            (S::SynRcvd, C::RcvFin) => S::CloseWait,
            // Figure 5, bottom: closing.
            (S::Established, C::Close) => S::FinWait1,
            (S::Established, C::RcvFin) => S::CloseWait,
            (S::FinWait1, C::RcvAckOfFin) => S::FinWait2,
            (S::FinWait1, C::RcvFin) => S::Closing,
            // §3.10.7.4, eighth step: "If our FIN has been ACKed ... enter TIME-WAIT".
            (S::FinWait1, C::RcvFinAndAckOfFin) => S::TimeWait,
            (S::FinWait2, C::RcvFin) => S::TimeWait,
            (S::CloseWait, C::Close) => S::LastAck,
            (S::Closing, C::RcvAckOfFin) => S::TimeWait,
            (S::LastAck, C::RcvAckOfFin) => S::Closed,
            (S::TimeWait, C::TimeWaitExpired) => S::Closed,
            _ => return None,
        })
    }

    /// `true` when some cause moves this state to `to` (an edge of Figure 5).
    pub fn can_move_to(self, to: State) -> bool {
        Cause::ALL.iter().any(|&cause| self.next(cause) == Some(to))
    }

    /// The name `ss`, `netstat` and the RFC use (`SYN_SENT`, `FIN_WAIT_1`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            State::Closed => "CLOSED",
            State::Listen => "LISTEN",
            State::SynSent => "SYN_SENT",
            State::SynRcvd => "SYN_RCVD",
            State::Established => "ESTABLISHED",
            State::FinWait1 => "FIN_WAIT_1",
            State::FinWait2 => "FIN_WAIT_2",
            State::CloseWait => "CLOSE_WAIT",
            State::Closing => "CLOSING",
            State::LastAck => "LAST_ACK",
            State::TimeWait => "TIME_WAIT",
        }
    }

    /// RFC 9293 §3.3.2: the states after the handshake, where sequence numbers are synchronized.
    pub const fn is_synchronized(self) -> bool {
        !matches!(
            self,
            State::Closed | State::Listen | State::SynSent | State::SynRcvd
        )
    }

    /// States in which the peer may still send us data.
    pub const fn can_receive_data(self) -> bool {
        matches!(self, State::Established | State::FinWait1 | State::FinWait2)
    }

    /// States in which we may still send new data.
    pub const fn can_send_data(self) -> bool {
        matches!(self, State::Established | State::CloseWait)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::{Cause as C, State as S};

    /// Every edge of RFC 9293 Figure 5 and the §3.10 text, written out once more by hand so
    /// that a slip in [`S::next`] shows up as a difference.
    const EDGES: &[(S, C, S)] = &[
        (S::Closed, C::PassiveOpen, S::Listen),
        (S::Closed, C::ActiveOpen, S::SynSent),
        (S::Listen, C::Send, S::SynSent),
        (S::Listen, C::Close, S::Closed),
        (S::Listen, C::RcvSyn, S::SynRcvd),
        (S::SynSent, C::RcvSyn, S::SynRcvd),
        (S::SynSent, C::RcvSynAck, S::Established),
        (S::SynSent, C::Close, S::Closed),
        (S::SynRcvd, C::RcvAckOfSyn, S::Established),
        (S::SynRcvd, C::Close, S::FinWait1),
        (S::SynRcvd, C::RcvFin, S::CloseWait),
        (S::SynRcvd, C::RcvRstAfterPassiveOpen, S::Listen),
        (S::Established, C::Close, S::FinWait1),
        (S::Established, C::RcvFin, S::CloseWait),
        (S::FinWait1, C::RcvAckOfFin, S::FinWait2),
        (S::FinWait1, C::RcvFin, S::Closing),
        (S::FinWait1, C::RcvFinAndAckOfFin, S::TimeWait),
        (S::FinWait2, C::RcvFin, S::TimeWait),
        (S::CloseWait, C::Close, S::LastAck),
        (S::Closing, C::RcvAckOfFin, S::TimeWait),
        (S::LastAck, C::RcvAckOfFin, S::Closed),
        (S::TimeWait, C::TimeWaitExpired, S::Closed),
    ];

    #[test]
    fn every_figure5_edge_is_taken() {
        for &(from, cause, to) in EDGES {
            assert_eq!(from.next(cause), Some(to), "{from} --{cause}-->");
            assert!(from.can_move_to(to), "{from} -> {to}");
        }
    }

    #[test]
    fn next_has_no_edge_beyond_the_table_and_the_aborts() {
        for from in S::ALL {
            for cause in C::ALL {
                let Some(to) = from.next(cause) else { continue };
                let listed = EDGES.contains(&(from, cause, to));
                let abort = to == S::Closed
                    && matches!(cause, C::RcvRst | C::Abort | C::Timeout)
                    && !matches!(from, S::Closed | S::Listen);
                let abort_listener = from == S::Listen && matches!(cause, C::Abort | C::Timeout);
                assert!(
                    listed || abort || abort_listener,
                    "{from} --{cause}--> {to} is not in Figure 5"
                );
            }
        }
    }

    #[test]
    fn rst_in_any_synchronized_state_closes() {
        for from in S::ALL.into_iter().filter(|s| s.is_synchronized()) {
            assert_eq!(from.next(C::RcvRst), Some(S::Closed), "{from}");
        }
    }

    #[test]
    fn non_edges_are_refused() {
        assert_eq!(S::Established.next(C::RcvSyn), None);
        assert_eq!(S::Closed.next(C::RcvFin), None);
        assert_eq!(S::Listen.next(C::RcvRst), None);
        assert_eq!(S::TimeWait.next(C::Close), None);
        assert!(!S::Established.can_move_to(S::SynSent));
        assert!(!S::Closed.can_move_to(S::Established));
        assert!(!S::FinWait2.can_move_to(S::FinWait1));
        assert!(!S::TimeWait.can_move_to(S::Established));
    }
}
