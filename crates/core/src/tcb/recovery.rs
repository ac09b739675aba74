//! Loss recovery: the SACK scoreboard fed by every ACK (RFC 6675), RACK loss detection and the
//! tail loss probe (RFC 8985), Proportional Rate Reduction while recovering (RFC 6937), D-SACK
//! (RFC 2883) to spot and undo spurious retransmissions (RFC 3708 ideas), and for peers without
//! SACK the duplicate-ACK rules of RFC 5681 §3.2 / RFC 6582 with limited transmit (RFC 3042).

use super::output::Outgoing;
use super::rack::Rack;
use super::scoreboard::Delivered;
use super::{Cx, Probe, Tcb, Timer};
use crate::cc::AckSample;
use crate::state::State;
use std::time::Duration;
use synack_wire::{SeqNumber, TcpFlags, TcpRepr};

/// RFC 6937 §3 PRR variables for one recovery episode, plus the D-SACK undo count.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Prr {
    /// RecoverFS: the flight when recovery began.
    recover_fs: u32,
    /// prr_delivered: bytes delivered to the receiver since recovery began.
    delivered: u32,
    /// prr_out: bytes sent since recovery began.
    out: u32,
    /// Retransmissions in this episode not yet shown spurious by a D-SACK (Linux undo_retrans).
    undo_retrans: u32,
    /// Something was retransmitted in this episode.
    retransmitted: bool,
}

/// What the ACK being processed did, gathered by `process_ack` for the recovery logic.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AckFacts {
    /// Payload bytes cumulatively acknowledged.
    pub data_acked: u32,
    /// Newly delivered segments (SACKed or cumulatively acknowledged).
    pub delivered: Delivered,
    /// The RTT measured from this ACK.
    pub rtt: Option<Duration>,
    /// This ACK ended a round trip.
    pub round_end: bool,
    /// FlightSize before the ACK.
    pub flight_before: u32,
    /// RFC 5681 §2: it was a duplicate ACK.
    pub duplicate: bool,
}

impl Tcb {
    /// RFC 6675 §4 SetPipe: bytes in flight. Without SACK every duplicate ACK stands for one
    /// segment that left the network (as Linux's `tcp_add_reno_sack`).
    pub(crate) fn pipe(&self) -> u32 {
        let pipe = self.board.pipe(self.flight_size());
        if self.sack_ok {
            pipe
        } else {
            pipe.saturating_sub(self.dup_acks.min(64) * self.snd_mss())
        }
    }

    /// Room under the congestion window for new or resent data.
    pub(crate) fn cwnd_room(&self) -> u32 {
        let mut cwnd = self.cc.cwnd();
        if !self.sack_ok && self.recovery.is_none() {
            // RFC 3042 §2: the first two duplicate ACKs each let one new segment out.
            cwnd = cwnd.saturating_add(self.dup_acks.min(2) * self.snd_mss());
        }
        cwnd.saturating_sub(self.pipe())
    }

    /// RFC 2018 / RFC 6675: marks the scoreboard with the ACK's SACK blocks (and notices a
    /// D-SACK, RFC 2883 §4). Blocks outside what we sent were counted and are ignored.
    pub(crate) fn apply_sack_blocks(&mut self, seg: &TcpRepr) -> Delivered {
        let mut delivered = Delivered::default();
        if !self.sack_ok || !self.syn_acked() {
            return delivered;
        }
        for (i, (left, right)) in seg.options.sack_blocks.iter().enumerate() {
            if !(left < right && right <= self.snd_max) {
                continue;
            }
            // RFC 2883 §4: the first block reports a duplicate if it lies below the cumulative
            // ACK or inside the second block.
            let below_ack = right <= seg.ack;
            let inside_second = seg
                .options
                .sack_blocks
                .iter()
                .nth(1)
                .is_some_and(|(l2, r2)| l2 <= left && right <= r2);
            if i == 0 && (below_ack || inside_second) {
                self.on_dsack(left, right);
                continue;
            }
            self.board.on_sack_block(left, right, &mut delivered);
        }
        delivered
    }

    /// A D-SACK: data we resent had arrived already (RFC 2883 §5 spurious retransmission).
    fn on_dsack(&mut self, left: SeqNumber, right: SeqNumber) {
        self.counters.dsacks_in += 1;
        // RFC 8985 §6.2 step 4: the reordering window was too small.
        self.rack.on_dsack();
        self.prr.undo_retrans = self.prr.undo_retrans.saturating_sub(1);
        if let Some((end, true)) = self.rack.tlp {
            // RFC 8985 §7.4.2: the probe's copy was the duplicate: no loss was repaired.
            if left < end && right >= end - 1 {
                self.rack.tlp = None;
            }
        }
    }

    /// Loss detection, recovery entry and exit, and the window, after an ACK.
    pub(crate) fn on_ack_recovery(&mut self, cx: &mut Cx, facts: AckFacts) {
        let mss = self.snd_mss();
        let now = cx.now;
        if let Some((sent_at, order, retransmitted)) = facts.delivered.newest {
            self.rack
                .update(now, sent_at, order, retransmitted, self.rtt.min_rtt());
        }
        if facts.delivered.reordered {
            self.rack.reordering_seen = true;
        }
        self.check_tlp_outcome(cx);
        let mut delivered_data = facts.delivered.sacked + facts.data_acked;
        if !self.sack_ok && facts.duplicate {
            // RFC 6937 §3: without SACK a duplicate ACK is taken to deliver one segment.
            delivered_data = mss;
        }

        // Recovery ends when everything outstanding at its start is acknowledged (RFC 6675 §5,
        // RFC 6582 §3.2 step 6).
        if let Some(point) = self.recovery {
            if self.snd_una >= point {
                self.exit_recovery(cx);
            } else if facts.data_acked > 0 && !self.sack_ok {
                // RFC 6582 §3.2 step 5: a partial ACK; the next hole is lost too.
                self.board.mark_first_lost();
            }
        }

        if self.recovery.is_none() && facts.data_acked > 0 {
            self.cc.on_ack(&AckSample {
                now,
                delivered: delivered_data,
                rtt: facts.rtt,
                min_rtt: self.rtt.min_rtt(),
                flight_size: self.flight_size(),
                mss,
                round_end: facts.round_end,
                // RFC 7661 §4.1 (as Linux's tcp_is_cwnd_limited): the window, not the
                // application, held sending back if the flight nearly filled it.
                cwnd_limited: facts.flight_before.saturating_add(mss) >= self.cc.cwnd(),
            });
        }

        self.detect_losses(cx);
        if self.recovery.is_some() {
            self.prr_on_ack(delivered_data);
        }
        self.schedule_loss_probe(now);
    }

    /// RFC 8985 §6.2 step 5 with SACK; RFC 5681 §3.2 (three duplicate ACKs) without.
    pub(crate) fn detect_losses(&mut self, cx: &mut Cx) {
        let newly_lost = if self.sack_ok {
            self.rack_detect_loss(cx)
        } else if self.dup_acks == 3
            && self.recovery.is_none()
            && self.snd_una > self.recover_high - 1
        {
            // RFC 6582 §3.2 step 2: only if these duplicates cover data sent after the last
            // recovery or timeout.
            self.board.mark_first_lost()
        } else {
            false
        };
        if newly_lost && self.recovery.is_none() {
            self.enter_recovery(cx);
        }
    }

    fn rack_detect_loss(&mut self, cx: &mut Cx) -> bool {
        let Some(xmit) = self.rack.xmit else {
            return false;
        };
        let mss = self.snd_mss().max(1);
        let reo = self.rack.reo_wnd(
            self.recovery.is_some(),
            self.board.sacked_bytes() / mss,
            self.rtt.min_rtt(),
            self.rtt.srtt(),
        );
        let (newly, timer) = self
            .board
            .rack_detect_loss(cx.now, xmit, self.rack.rtt + reo);
        match timer {
            // RFC 8985 §6.3: wait for the rest to age past the reordering window.
            Some(at) => self.timers.set(Timer::Reorder, at),
            None => self.timers.clear(Timer::Reorder),
        }
        newly > 0
    }

    /// RFC 6675 §5 step 4 / RFC 6937 §3: loss detected; the controller sets ssthresh and PRR
    /// takes cwnd there.
    fn enter_recovery(&mut self, cx: &mut Cx) {
        let mss = self.snd_mss();
        self.recovery = Some(self.snd_max);
        self.recover_high = self.snd_max;
        self.cc.on_congestion_event(cx.now, self.flight_size(), mss);
        self.prr = Prr {
            recover_fs: self.flight_size().max(1),
            ..Prr::default()
        };
        self.counters.fast_retransmits += 1;
        cx.stats.fast_retransmits += 1;
        // Karn: what is timed now may be resent.
        self.rtt_probe = None;
        self.rack.tlp = None;
        self.timers.clear(Timer::LossProbe);
    }

    fn exit_recovery(&mut self, cx: &mut Cx) {
        self.recovery = None;
        self.cc.on_recovery_end(cx.now, self.snd_mss());
        self.rack.on_recovery_end();
        if self.prr.retransmitted && self.prr.undo_retrans == 0 {
            // RFC 3708 §2 (D-SACK-based detection): every retransmission turned out to be a
            // duplicate, so nothing was lost: undo the reduction.
            self.cc.undo();
            self.counters.spurious_recoveries += 1;
        }
    }

    /// RFC 6937 §3: how much may be sent on this ACK, as cwnd = pipe + sndcnt.
    fn prr_on_ack(&mut self, delivered_data: u32) {
        let mss = self.snd_mss();
        self.prr.delivered = self.prr.delivered.saturating_add(delivered_data);
        let pipe = self.pipe();
        let ssthresh = self.cc.ssthresh();
        let sndcnt = if pipe > ssthresh {
            // Proportional part: CEIL(prr_delivered * ssthresh / RecoverFS) - prr_out.
            let target = (u64::from(self.prr.delivered) * u64::from(ssthresh))
                .div_ceil(u64::from(self.prr.recover_fs));
            (target as u32).saturating_sub(self.prr.out)
        } else {
            // Slow-start reduction bound (PRR-SSRB).
            let limit = self
                .prr
                .delivered
                .saturating_sub(self.prr.out)
                .max(delivered_data)
                .saturating_add(mss);
            (ssthresh - pipe).min(limit)
        };
        // RFC 6937bis: the first ACK of recovery always lets the fast retransmit out.
        let sndcnt = if self.prr.out == 0 {
            sndcnt.max(mss)
        } else {
            sndcnt
        };
        self.cc.set_cwnd(pipe.saturating_add(sndcnt).max(mss));
    }

    /// Bookkeeping for every segment sent with sequence space.
    pub(crate) fn on_sent_for_recovery(
        &mut self,
        seq: SeqNumber,
        end: SeqNumber,
        retransmission: bool,
        now: crate::time::Instant,
    ) {
        self.board.on_send(seq, end, now);
        if self.recovery.is_some() {
            self.prr.out = self.prr.out.saturating_add(end.distance_from(seq));
        }
        if retransmission {
            self.prr.retransmitted = true;
            self.prr.undo_retrans += 1;
        }
    }

    /// RFC 6675 §4 NextSeg rule 1: the lowest segment deemed lost, if the window has room.
    pub(super) fn retransmission_segment(&self) -> Option<Outgoing> {
        let lost = self.board.first_lost()?;
        if self.cwnd_room() == 0 {
            return None;
        }
        let seq_len = lost.end.distance_from(lost.start);
        let fin = self.fin_seq == Some(lost.end - 1);
        let data = seq_len - u32::from(fin);
        let len = data.min(self.snd_mss());
        let mut flags = TcpFlags::ACK;
        if len == data && lost.start + data == self.data_end() && data > 0 {
            // As first sent: the segment that emptied the queue carries PSH.
            flags |= TcpFlags::PSH;
        }
        if fin && len == data {
            flags |= TcpFlags::FIN;
        }
        if len == 0 && !flags.fin() {
            return None;
        }
        Some(Outgoing {
            seq: lost.start,
            flags,
            len,
        })
    }

    /// RFC 8985 §7.2: arm the probe timeout while data is out and no loss is known.
    pub(crate) fn schedule_loss_probe(&mut self, now: crate::time::Instant) {
        let flight = self.flight_size();
        // Not after a timeout until an ACK shows progress (the "loss" state, where the RTO
        // and its backoff pace things: RFC 8985 §7.2 schedules probes only in the open
        // state), and not before any RTT sample (RFC 6298 §5.7 keeps the first RTO at 3 s after
        // a lost SYN; a 1 s probe would undercut it).
        let eligible = self.sack_ok
            && self.retries == 0
            && self.rtt.srtt().is_some()
            && self.recovery.is_none()
            && self.rack.tlp.is_none()
            && flight > 0
            && self.board.lost_bytes() == 0
            && self.snd_wnd > 0
            && matches!(self.state, State::Established | State::CloseWait);
        if !eligible {
            self.timers.clear(Timer::LossProbe);
            return;
        }
        let pto = Rack::pto(self.rtt.srtt(), flight <= self.snd_mss(), self.rtt.rto());
        self.timers.set(Timer::LossProbe, now + pto);
    }

    /// RFC 8985 §7.3: the probe timer fired: send one segment to draw an ACK.
    pub(crate) fn on_loss_probe_timeout(&mut self) {
        if self.probe.is_none() && self.recovery.is_none() && self.flight_size() > 0 {
            self.probe = Some(Probe::Tail);
        }
    }

    /// RFC 8985 §7.3: new data if the peer's window takes it, else the last segment again.
    pub(super) fn tail_probe_segment(&mut self) -> Option<Outgoing> {
        let mss = self.snd_mss();
        let data_end = self.data_end();
        let peer_edge = self.snd_wl2 + self.snd_wnd;
        let (out, retrans) = if self.snd_nxt < data_end && peer_edge > self.snd_nxt {
            let len = data_end
                .distance_from(self.snd_nxt)
                .min(peer_edge.distance_from(self.snd_nxt))
                .min(mss);
            let mut flags = TcpFlags::ACK;
            if self.snd_nxt + len == data_end {
                flags |= TcpFlags::PSH;
            }
            (
                Outgoing {
                    seq: self.snd_nxt,
                    flags,
                    len,
                },
                false,
            )
        } else {
            let last = *self.board.last_unsacked()?;
            let fin = self.fin_seq == Some(last.end - 1);
            let data = last.end.distance_from(last.start) - u32::from(fin);
            // The last MSS of it: what the receiver would ACK with a SACK of the rest.
            let len = data.min(mss);
            let seq = last.end - u32::from(fin) - len;
            let mut flags = TcpFlags::ACK;
            if fin {
                flags |= TcpFlags::FIN;
            }
            (Outgoing { seq, flags, len }, true)
        };
        self.counters.loss_probes += 1;
        let end = out.seq + out.len + u32::from(out.flags.fin());
        self.rack.tlp = Some((end, retrans));
        Some(out)
    }

    /// RFC 8985 §7.4: once the probe is acknowledged, a probe that resent data and drew no
    /// D-SACK repaired a real loss: the congestion controller must hear of it.
    fn check_tlp_outcome(&mut self, cx: &mut Cx) {
        let Some((end, retrans)) = self.rack.tlp else {
            return;
        };
        if self.snd_una < end {
            return;
        }
        self.rack.tlp = None;
        if retrans && self.recovery.is_none() {
            let mss = self.snd_mss();
            self.cc.on_congestion_event(cx.now, self.flight_size(), mss);
            self.cc.on_recovery_end(cx.now, mss);
            self.counters.tlp_recoveries += 1;
        }
    }

    /// RFC 8985 §6.3: the reordering timer fired; segments waiting on it may now be lost.
    pub(crate) fn on_reorder_timeout(&mut self, cx: &mut Cx) {
        self.detect_losses(cx);
        if self.recovery.is_some() {
            // The timer is the only ACK-less path into recovery: let the retransmission out.
            self.prr_on_ack(0);
        }
    }

    /// RFC 6675 §5.1 / RFC 8985 §6.3: after a timeout everything not SACKed is lost; sending
    /// starts again from the lowest of it, under a one-segment window.
    pub(crate) fn on_rto_for_recovery(&mut self) {
        if self.syn_acked() && self.state.is_synchronized() {
            self.board.mark_all_lost();
        } else {
            // Still in the handshake: the SYN (and what followed it) goes again from the start.
            self.board.clear();
            self.snd_nxt = self.snd_una;
        }
        self.recovery = None;
        self.recover_high = self.snd_max;
        self.dup_acks = 0;
        self.rack.tlp = None;
        self.timers.clear(Timer::LossProbe);
        self.timers.clear(Timer::Reorder);
    }
}
