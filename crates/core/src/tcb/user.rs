//! The user's calls on a connection (RFC 9293 §3.10: SEND, RECEIVE, CLOSE, ABORT), with the
//! socket-style split of CLOSE into shutdown(Write), shutdown(Read) and close.

use super::{ControlSegment, Cx, Owner, Tcb};
use crate::error::{ConnectionError, RecvError, SendError};
use crate::state::State;
use synack_wire::SeqNumber;

impl Tcb {
    /// RFC 9293 §3.10.2 SEND: queue as much of `data` as fits.
    pub(crate) fn send(&mut self, cx: &mut Cx, data: &[u8]) -> Result<usize, SendError> {
        if let Some(e) = self.error {
            return Err(SendError::Connection(e));
        }
        if self.fin_queued {
            return Err(SendError::WriteClosed);
        }
        match self.state {
            // RFC 9293 §3.10.2: in SYN-SENT and SYN-RECEIVED data is queued for after the handshake.
            State::SynSent | State::SynRcvd | State::Established | State::CloseWait => {}
            _ => return Err(SendError::NotConnected),
        }
        if data.is_empty() {
            return Ok(0);
        }
        // Config::memory_limit (as Linux `sk_stream_memory_free` under `tcp_mem` pressure): take
        // only what the stack-wide budget lets the buffer grow by.
        let headroom = cx.memory.headroom(self.memory());
        let fits = self.send.max_push_within(data.len(), headroom);
        if fits < data.len().min(self.send.free()) {
            cx.stats.memory_pressure_send_limited += 1;
            cx.memory.refused = true;
        }
        let n = self.send.push(&data[..fits]);
        if n == 0 {
            self.write_blocked = true;
            return Err(SendError::WouldBlock);
        }
        if n < data.len() {
            self.write_blocked = true;
        }
        // Queued into a closed window: the persist timer must probe it (RFC 9293 §3.8.6.1).
        self.update_persist(cx.now);
        Ok(n)
    }

    /// Room in the send buffer.
    pub(crate) fn send_capacity(&self) -> usize {
        if self.fin_queued
            || !matches!(
                self.state,
                State::SynSent | State::SynRcvd | State::Established | State::CloseWait
            )
        {
            0
        } else {
            self.send.free()
        }
    }

    /// RFC 9293 §3.10.3 RECEIVE. Ok(0) means end of stream (the peer's FIN, all data read).
    pub(crate) fn recv(&mut self, buf: &mut [u8]) -> Result<usize, RecvError> {
        let n = self.recv.read(buf);
        if n > 0 {
            if self.recv.readable() == 0 {
                self.readable_signalled = false;
            }
            if self.window_update_due() {
                self.ack_now = true;
            }
            return Ok(n);
        }
        self.readable_signalled = false;
        if let Some(e) = self.error {
            return Err(RecvError::Connection(e));
        }
        if self.peer_fin || self.read_shut || buf.is_empty() {
            return Ok(0);
        }
        match self.state {
            State::SynSent
            | State::SynRcvd
            | State::Established
            | State::FinWait1
            | State::FinWait2 => Err(RecvError::WouldBlock),
            State::Closed | State::Listen => Err(RecvError::NotConnected),
            // The FIN was processed in every remaining state.
            _ => Ok(0),
        }
    }

    /// shutdown(Write): RFC 9293 §3.10.4 CLOSE for our direction; a FIN follows queued data.
    pub(crate) fn shutdown_write(&mut self, cx: &mut Cx) {
        if self.fin_queued {
            return;
        }
        match self.state {
            State::SynSent => {
                // RFC 9293 §3.10.4: CLOSE in SYN-SENT deletes the TCB. As shutdown it waits.
                self.fin_queued = true;
            }
            State::SynRcvd => {
                // RFC 9293 §3.10.4 (CLOSE, SYN-RECEIVED): "If no SENDs have been issued and there
                // is no pending data to send, then form a FIN segment and send it, and enter
                // FIN-WAIT-1 state; otherwise, queue for processing after entering ESTABLISHED".
                self.fin_queued = true;
                if self.send.is_empty() {
                    self.set_state(cx, State::FinWait1);
                }
            }
            State::Established => {
                self.fin_queued = true;
                self.set_state(cx, State::FinWait1);
            }
            State::CloseWait => {
                self.fin_queued = true;
                self.set_state(cx, State::LastAck);
            }
            _ => {}
        }
        self.update_persist(cx.now);
    }

    /// shutdown(Read): further data is acknowledged and discarded; recv returns end of stream.
    pub(crate) fn shutdown_read(&mut self) {
        self.read_shut = true;
        self.recv.clear();
    }

    /// close(): the user is done with the connection. It finishes on its own (graceful close),
    /// unless unread data is pending, which resets it (RFC 2525 §2.17, as Linux does).
    pub(crate) fn close(&mut self, cx: &mut Cx) {
        self.owner = Owner::Orphan;
        if self.recv.readable() > 0 && self.state.is_synchronized() {
            self.abort(cx);
            return;
        }
        self.read_shut = true;
        match self.state {
            // RFC 9293 §3.10.4: CLOSE in SYN-SENT deletes the TCB quietly.
            State::SynSent | State::Closed => self.close_with(cx, None),
            _ => {
                self.shutdown_write(cx);
                if self.state == State::FinWait2 {
                    self.timers.set(
                        super::Timer::FinWait2,
                        cx.now + cx.config.fin_wait_2_timeout,
                    );
                }
            }
        }
    }

    /// Resets a connection that would become one orphan too many (as Linux
    /// `tcp_check_oom`/`tcp_too_many_orphans`: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK>, then
    /// CLOSED), whatever its state.
    pub(crate) fn reset_orphan(&mut self, cx: &mut Cx) {
        cx.reply(ControlSegment::rst(
            self.local,
            self.remote,
            self.snd_nxt,
            Some(self.rcv_nxt),
        ));
        self.recv.clear();
        cx.stats.orphans_reset += 1;
        self.close_with(cx, Some(ConnectionError::Aborted));
    }

    /// RFC 9293 §3.10.5 ABORT: send <SEQ=SND.NXT><CTL=RST> in synchronized states, then CLOSED.
    pub(crate) fn abort(&mut self, cx: &mut Cx) {
        let send_rst = matches!(
            self.state,
            State::SynRcvd
                | State::Established
                | State::FinWait1
                | State::FinWait2
                | State::CloseWait
        );
        if send_rst {
            // Linux sends RST with ACK on abort; the ACK helps the peer validate it.
            cx.reply(ControlSegment::rst(
                self.local,
                self.remote,
                self.snd_nxt,
                Some(self.rcv_nxt),
            ));
        }
        if matches!(self.state, State::Established | State::CloseWait) {
            cx.stats.established_resets += 1;
        }
        self.recv.clear();
        if self.state != State::Closed {
            self.close_with(cx, Some(ConnectionError::Aborted));
        }
    }

    /// Whether the user may read something now (data, end of stream, or an error).
    pub(crate) fn is_readable(&self) -> bool {
        self.recv.readable() > 0
            || self.peer_fin
            || self.error.is_some()
            || self.state == State::Closed
    }

    /// The sequence number the next new byte will take (for tests and tools).
    pub fn snd_nxt(&self) -> SeqNumber {
        self.snd_nxt
    }

    /// The next sequence number expected from the peer.
    pub fn rcv_nxt(&self) -> SeqNumber {
        self.rcv_nxt
    }

    /// Our initial sequence number.
    pub fn iss(&self) -> SeqNumber {
        self.iss
    }

    /// The peer's initial sequence number (valid once its SYN arrived).
    pub fn irs(&self) -> SeqNumber {
        self.irs
    }
}
