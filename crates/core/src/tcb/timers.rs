//! The connection's timers: a small table, and what happens when each expires.

use super::{Cx, Probe, Tcb};
use crate::error::ConnectionError;
use crate::state::State;
use crate::time::Instant;

/// The timers a connection runs (RFC 9293 §3.8, RFC 6298, RFC 1122 §4.2.3.6).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Timer {
    /// Retransmission timeout (RFC 6298).
    Retransmit = 0,
    /// Delayed ACK (RFC 9293 §3.8.6.3).
    DelayedAck = 1,
    /// Zero-window probing (RFC 9293 §3.8.6.1).
    Persist = 2,
    /// Keepalive probing (RFC 9293 §3.8.4).
    KeepAlive = 3,
    /// Orphaned FIN_WAIT_2 limit (Linux `tcp_fin_timeout`).
    FinWait2 = 4,
    /// 2*MSL in TIME_WAIT (RFC 9293 §3.4.2).
    TimeWait = 5,
    /// Tail loss probe (RFC 8985 §7).
    LossProbe = 6,
    /// RACK reordering window (RFC 8985 §6.3).
    Reorder = 7,
}

const ALL: [Timer; 8] = [
    Timer::Retransmit,
    Timer::DelayedAck,
    Timer::Persist,
    Timer::KeepAlive,
    Timer::FinWait2,
    Timer::TimeWait,
    Timer::LossProbe,
    Timer::Reorder,
];

/// Deadlines indexed by [`Timer`].
#[derive(Clone, Debug, Default)]
pub(crate) struct Timers {
    at: [Option<Instant>; 8],
}

impl Timers {
    pub fn set(&mut self, t: Timer, at: Instant) {
        self.at[t as usize] = Some(at);
    }
    pub fn clear(&mut self, t: Timer) {
        self.at[t as usize] = None;
    }
    pub fn clear_all(&mut self) {
        self.at = [None; 8];
    }
    pub fn is_set(&self, t: Timer) -> bool {
        self.at[t as usize].is_some()
    }
    pub fn earliest(&self) -> Option<Instant> {
        self.at.iter().flatten().min().copied()
    }
    /// Whether `t` is set and due at `now`.
    fn is_due(&self, t: Timer, now: Instant) -> bool {
        self.at[t as usize].is_some_and(|at| at <= now)
    }
}

impl Tcb {
    /// Fires every timer due at `cx.now`.
    pub(crate) fn on_timeout(&mut self, cx: &mut Cx) {
        for t in ALL {
            if !self.timers.is_due(t, cx.now) {
                continue;
            }
            self.timers.clear(t);
            if self.state == State::Closed {
                return;
            }
            match t {
                Timer::Retransmit => self.on_retransmit_timeout(cx),
                Timer::DelayedAck => self.ack_now = true,
                Timer::Persist => self.on_persist_timeout(cx),
                Timer::KeepAlive => self.on_keepalive_timeout(cx),
                // Linux tcp_fin_timeout: an orphan that never hears the peer's FIN goes away.
                Timer::FinWait2 => self.close_with(cx, None),
                // RFC 9293 §3.10.8: TIME_WAIT timeout deletes the TCB.
                Timer::TimeWait => self.close_with(cx, None),
                Timer::LossProbe => self.on_loss_probe_timeout(),
                Timer::Reorder => self.on_reorder_timeout(cx),
            }
        }
    }

    fn on_retransmit_timeout(&mut self, cx: &mut Cx) {
        let limit = match self.state {
            State::SynSent => cx.config.syn_retries,
            State::SynRcvd if self.passive => cx.config.synack_retries,
            State::SynRcvd => cx.config.syn_retries,
            _ => cx.config.max_retries,
        };
        if self.retries >= limit {
            // RFC 9293 §3.8.3 (R2): give up and report the connection as timed out. A half-open
            // passive connection just disappears (the listener never showed it).
            let reason = if self.passive && self.state == State::SynRcvd {
                None
            } else {
                Some(ConnectionError::TimedOut)
            };
            self.close_with(cx, reason);
            return;
        }
        self.retries += 1;
        self.counters.timeouts += 1;
        cx.stats.rto_timeouts += 1;
        if matches!(self.state, State::SynSent | State::SynRcvd) {
            self.syn_retransmitted = true;
        }
        // RFC 6298 §5.5: back off the timer.
        self.rtt.on_timeout();
        if self.state.is_synchronized() || self.syn_acked() {
            // RFC 5681 §3.1 eq. 4: ssthresh = max(FlightSize/2, 2*SMSS), cwnd = 1 SMSS.
            self.cc.on_rto(cx.now, self.flight_size(), self.snd_mss());
        }
        // RFC 6582 §4: after a timeout, duplicate ACKs for data sent before it must not start
        // another fast retransmit (recover_high), and everything unSACKed is resent.
        self.on_rto_for_recovery();
        // Karn's algorithm: no sample from a retransmission.
        self.rtt_probe = None;
    }

    fn on_persist_timeout(&mut self, cx: &mut Cx) {
        if self.snd_wnd > 0 {
            // RFC 9293 §3.8.6.2.1 / RFC 1122 §4.2.3.4: the override timeout. The window is open
            // but too small for silly-window avoidance, and nothing in flight will wake us.
            self.sws_override = true;
            return;
        }
        // Probes the peer answers (with a zero window) keep the connection open indefinitely;
        // only unanswered ones count toward the limit (Linux's probes_out).
        if self.persist_unanswered >= cx.config.max_retries {
            self.close_with(cx, Some(ConnectionError::TimedOut));
            return;
        }
        self.persist_unanswered += 1;
        self.rtt.on_timeout();
        // RFC 9293 §3.8.6.1: probe the zero window with one octet of new data; the timer is
        // re-armed with backoff after it leaves.
        self.snd_nxt = self.snd_una;
        self.probe = Some(Probe::ZeroWindow);
    }

    fn on_keepalive_timeout(&mut self, cx: &mut Cx) {
        let Some(ka) = self.keepalive else { return };
        if !self.state.is_synchronized() || self.state == State::TimeWait {
            return;
        }
        let idle = cx.now.saturating_duration_since(self.last_recv);
        if idle < ka.idle {
            self.timers.set(Timer::KeepAlive, self.last_recv + ka.idle);
            return;
        }
        if self.flight_size() > 0 || !self.send.is_empty() {
            // Data is outstanding or queued: the retransmission and persist timers already test
            // the peer, and a probe (one octet below SND.UNA) would fall inside the window of a
            // peer that is missing data, which does not answer it. Linux skips the probe too.
            self.keepalive_unanswered = 0;
            self.timers.set(Timer::KeepAlive, cx.now + ka.idle);
            return;
        }
        if self.keepalive_unanswered >= ka.count {
            // RFC 1122 §4.2.3.6: an unresponsive peer is declared dead.
            self.close_with(cx, Some(ConnectionError::TimedOut));
            return;
        }
        self.keepalive_unanswered += 1;
        self.probe = Some(Probe::Keepalive);
        self.timers.set(Timer::KeepAlive, cx.now + ka.interval);
    }

    /// Arms the retransmission timer if it is not running (RFC 6298 §5.1).
    pub(crate) fn arm_rto_if_idle(&mut self, now: Instant) {
        if !self.timers.is_set(Timer::Retransmit) {
            self.timers.set(Timer::Retransmit, now + self.rtt.rto());
        }
    }

    /// Restarts the retransmission timer (RFC 6298 §5.3).
    pub(crate) fn restart_rto(&mut self, now: Instant) {
        self.timers.set(Timer::Retransmit, now + self.rtt.rto());
    }

    /// Enters or leaves persist mode (RFC 9293 §3.8.6.1) after the window or the queue changed.
    pub(crate) fn update_persist(&mut self, now: Instant) {
        let want_to_send = self.state.is_synchronized()
            && (!self.send.is_empty() || self.fin_queued && self.fin_seq.is_none());
        if self.snd_wnd == 0 && want_to_send && self.syn_acked() {
            // The timeout would only retransmit into a closed window: the persist timer takes over.
            self.timers.clear(Timer::Retransmit);
            if !self.timers.is_set(Timer::Persist) {
                self.timers.set(Timer::Persist, now + self.rtt.rto());
            }
        } else if self.snd_wnd > 0
            && want_to_send
            && self.syn_acked()
            && self.snd_max == self.snd_una
            && self.next_data_segment().is_none()
        {
            // Silly-window avoidance holds data back with nothing in flight: only a timer can
            // release it (the override timeout), so arm one.
            if !self.timers.is_set(Timer::Persist) {
                self.timers.set(Timer::Persist, now + self.rtt.rto());
            }
        } else if self.timers.is_set(Timer::Persist) {
            self.timers.clear(Timer::Persist);
            self.probe = self.probe.filter(|p| *p != Probe::ZeroWindow);
        }
        if self.snd_max > self.snd_una && !self.timers.is_set(Timer::Persist) {
            // RFC 6298 §5.1: data in flight needs the retransmission timer. Leaving persist
            // mode with a probe octet still unacknowledged must not leave it unguarded (a
            // stall the fuzzer found: FIN-WAIT-1, one octet out, window 1, no timer).
            self.arm_rto_if_idle(now);
        }
    }

    /// Re-arms the keepalive timer after activity.
    pub(crate) fn touch_keepalive(&mut self, now: Instant) {
        self.last_recv = now;
        self.keepalive_unanswered = 0;
        if let Some(ka) = self.keepalive {
            if self.state.is_synchronized() && self.state != State::TimeWait {
                self.timers.set(Timer::KeepAlive, now + ka.idle);
            }
        }
    }

    /// Turns keepalive on or off.
    pub(crate) fn set_keepalive(&mut self, now: Instant, ka: Option<crate::config::Keepalive>) {
        self.keepalive = ka;
        if ka.is_none() {
            self.timers.clear(Timer::KeepAlive);
        } else {
            self.touch_keepalive(now);
        }
    }
}
