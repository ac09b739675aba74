//! Segment arrival: RFC 9293 §3.10.7, step by step, with RFC 5961 (blind attacks), RFC 7323
//! (window scale, timestamps, PAWS), RFC 5681/6582 (duplicate ACKs, NewReno) and RFC 6298 (RTT).

use super::recovery::AckFacts;
use super::{Cx, Owner, Probe, Tcb, Timer, PAWS_IDLE_LIMIT};
use crate::error::ConnectionError;
use crate::event::Event;
use crate::state::State;
use std::time::Duration;
use synack_wire::{SeqNumber, TcpRepr};

/// The smallest MSS we accept from a peer (Linux TCP_MIN_MSS); smaller non-zero values
/// would make segments that are all header.
const MIN_PEER_MSS: u16 = 88;

impl Tcb {
    /// Active open (RFC 9293 §3.10.1): CLOSED -> SYN_SENT; the SYN leaves on the next poll.
    pub(crate) fn open_active(&mut self, cx: &mut Cx) {
        self.set_state(cx, State::SynSent);
        self.snd_nxt = self.iss;
    }

    /// Passive open from a listener's SYN (RFC 9293 §3.10.7.2): LISTEN -> SYN_RCVD.
    pub(crate) fn open_passive(&mut self, cx: &mut Cx, syn: &TcpRepr) {
        self.passive = true;
        self.state = State::Listen;
        self.irs = syn.seq;
        self.rcv_nxt = syn.seq + 1;
        self.negotiate_options(syn, true);
        // RFC 7323 §2.2: the window in a SYN is never scaled.
        self.snd_wnd = u32::from(syn.window);
        self.max_snd_wnd = self.snd_wnd;
        self.snd_wl1 = syn.seq;
        self.snd_wl2 = self.iss;
        self.rcv_adv = self.rcv_nxt;
        self.set_state(cx, State::SynRcvd);
        self.touch_keepalive(cx.now);
    }

    /// Reads the peer's SYN options and settles what both sides use (RFC 9293 §3.7.1, RFC 7323
    /// §1.3 and §2.2, RFC 2018 §2). `we_answer` is true when we have not yet sent our SYN, so we
    /// only offer what the peer offered.
    fn negotiate_options(&mut self, syn: &TcpRepr, _we_answer: bool) {
        let opts = &syn.options;
        // RFC 9293 §3.7.1: without a (usable) MSS option the default applies. A zero MSS means
        // nothing, so like Linux we read it as no option at all; small values are raised to
        // the minimum.
        if let Some(mss) = opts.mss.filter(|&m| m != 0) {
            self.peer_mss = mss.max(MIN_PEER_MSS);
        }
        // RFC 7323 §2.2: scaling is on only if both sides sent the option. §2.3: a shift above 14
        // is treated as 14.
        match opts.window_scale {
            Some(shift) if self.offer.window_scale => {
                self.wscale_ok = true;
                self.snd_wscale = shift.min(14);
            }
            _ => {
                self.wscale_ok = false;
                self.snd_wscale = 0;
                self.rcv_wscale = 0;
            }
        }
        // RFC 2018 §2: SACK only if both sent SACK-permitted.
        self.sack_ok = self.offer.sack && opts.sack_permitted;
        // RFC 7323 §3.2: timestamps only if both sent TSopt in the SYNs.
        match opts.timestamps {
            Some(ts) if self.offer.timestamps => {
                self.ts_ok = true;
                self.ts_recent = ts.tsval;
            }
            _ => self.ts_ok = false,
        }
    }

    /// One segment for this connection.
    pub(crate) fn on_segment(&mut self, cx: &mut Cx, seg: &TcpRepr) {
        self.counters.segs_in += 1;
        if seg.flags.rst() {
            cx.stats.resets_received += 1;
        }
        match self.state {
            State::Closed | State::Listen => {}
            State::SynSent => self.on_segment_syn_sent(cx, seg),
            _ => self.on_segment_synchronized(cx, seg),
        }
    }

    /// RFC 9293 §3.10.7.3: SEGMENT ARRIVES in SYN-SENT.
    fn on_segment_syn_sent(&mut self, cx: &mut Cx, seg: &TcpRepr) {
        let flags = seg.flags;
        // First: the ACK bit. Acceptable if ISS < SEG.ACK =< SND.NXT.
        let ack_ok = flags.ack() && seg.ack > self.iss && seg.ack <= self.snd_max;
        if flags.ack() && !ack_ok {
            // RFC 9293 §3.10.7.3: unacceptable ACK gets <SEQ=SEG.ACK><CTL=RST> unless it is a RST.
            if !flags.rst() {
                cx.reply(super::ControlSegment::rst(
                    self.local,
                    self.remote,
                    seg.ack,
                    None,
                ));
            }
            return;
        }
        // Second: the RST bit. RFC 5961 §3.2: in SYN-SENT a RST is valid only if it acknowledges
        // our SYN.
        if flags.rst() {
            if ack_ok {
                self.close_with(cx, Some(ConnectionError::Refused));
            }
            return;
        }
        // Fourth: neither SYN nor RST: drop.
        if !flags.syn() {
            return;
        }
        // Third (security) does not apply; the SYN bit.
        self.irs = seg.seq;
        self.rcv_nxt = seg.seq + 1;
        self.rcv_adv = self.rcv_nxt + self.syn_window();
        self.negotiate_options(seg, false);
        self.touch_keepalive(cx.now);
        if ack_ok {
            self.snd_una = seg.ack;
            self.on_rtt_sample_for_ack(cx, seg);
            self.retries = 0;
            self.rtt.reset_backoff();
            // RFC 7323 §2.2: the window of a SYN (or SYN-ACK) is not scaled.
            self.snd_wnd = u32::from(seg.window);
            self.max_snd_wnd = self.snd_wnd;
            self.snd_wl1 = seg.seq;
            self.snd_wl2 = seg.ack;
            self.timers.clear(Timer::Retransmit);
            self.become_established(cx);
            // RFC 9293 §3.10.7.3: form an ACK segment and send it (now, not delayed).
            self.ack_now = true;
            self.handshake_ack_pending = true;
            if !seg.payload.is_empty() || seg.flags.fin() {
                // Data or FIN on the SYN-ACK: continue at the sixth step.
                self.process_text_and_fin(cx, seg.seq + 1, seg.payload, seg.flags.fin());
            }
        } else {
            // Simultaneous open (RFC 9293 §3.10.7.3, Figure 8): enter SYN-RECEIVED and answer
            // with <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>. Text waits until ESTABLISHED.
            self.snd_wnd = u32::from(seg.window);
            self.max_snd_wnd = self.snd_wnd;
            self.snd_wl1 = seg.seq;
            self.snd_wl2 = self.iss;
            self.snd_nxt = self.iss;
            self.set_state(cx, State::SynRcvd);
        }
    }

    /// The window our SYN or SYN-ACK carries (unscaled, RFC 7323 §2.2).
    pub(crate) fn syn_window(&self) -> u32 {
        (self.recv_limit as u32).min(65535)
    }

    fn become_established(&mut self, cx: &mut Cx) {
        self.set_state(cx, State::Established);
        self.handshake_done(cx);
        if self.fin_queued {
            // RFC 9293 §3.10.4: a CLOSE issued in SYN-RECEIVED waits for ESTABLISHED, then the
            // FIN goes out and we are in FIN-WAIT-1.
            self.set_state(cx, State::FinWait1);
        }
        // Space in the send buffer is usable now.
        if self.write_blocked || self.send.free() > 0 {
            self.write_blocked = false;
            cx.events.push_back(Event::Writable(self.id));
        }
    }

    /// Our SYN was acknowledged: the handshake is over.
    fn handshake_done(&mut self, cx: &mut Cx) {
        if self.syn_retransmitted {
            self.rtt.on_syn_timeout_handshake_done();
        }
        // Keepalive idles from here: the handshake was the last sign of life.
        self.touch_keepalive(cx.now);
        if !self.passive {
            cx.events.push_back(Event::Connected(self.id));
        }
    }

    /// RFC 9293 §3.10.7.4: SEGMENT ARRIVES in a synchronized state (and SYN-RECEIVED).
    fn on_segment_synchronized(&mut self, cx: &mut Cx, seg: &TcpRepr) {
        let flags = seg.flags;
        let seg_len = seg.seq_len();

        // SYN-RECEIVED: the peer retransmitted its SYN, so our SYN-ACK was lost; send it again.
        if self.state == State::SynRcvd && flags.syn() && !flags.ack() && seg.seq == self.irs {
            // Echo the newest TSval, or the peer measures its RTT from the lost first SYN.
            if let (true, Some(ts)) = (self.ts_ok, seg.options.timestamps) {
                self.ts_recent = ts.tsval;
                self.ts_recent_at = cx.now;
            }
            self.snd_nxt = self.iss;
            return;
        }

        // RFC 7323 §5.3 R1: PAWS, before the sequence number check. RSTs are exempt (§5.2).
        if self.ts_ok && !flags.rst() {
            if let Some(ts) = seg.options.timestamps {
                let stale = cx.now.saturating_duration_since(self.ts_recent_at) > PAWS_IDLE_LIMIT;
                if (ts.tsval.wrapping_sub(self.ts_recent) as i32) < 0 && !stale {
                    self.counters.paws_rejected += 1;
                    // RFC 7323 §5.3 R1: "send an acknowledgment in reply", rate limited.
                    self.ack_unacceptable(cx, seg);
                    return;
                }
            }
        }

        // First: is the sequence number acceptable? (RFC 9293 §3.10.7.4, the four cases.)
        let rcv_wnd = self.rcv_wnd();
        let acceptable = self.seq_acceptable(seg.seq, seg_len, rcv_wnd, flags.rst());
        // "If the RCV.WND is zero, no segments will be acceptable, but special allowance should
        // be made to accept valid ACKs, URGs, and RSTs."
        let zero_window_allowance = !acceptable && rcv_wnd == 0 && seg.seq == self.rcv_nxt;
        if !acceptable && !zero_window_allowance {
            if self.state == State::TimeWait && flags.fin() && seg.seq + seg_len == self.rcv_nxt {
                // RFC 9293 §3.10.7.4 (eighth, TIME-WAIT): a retransmitted FIN is acknowledged and
                // restarts the 2 MSL timeout.
                self.timers
                    .set(Timer::TimeWait, cx.now + cx.config.time_wait());
            }
            if flags.syn() && !flags.rst() {
                // RFC 5961 §4.2: a SYN gets a challenge ACK "irrespective of the sequence number",
                // so out of the window too, and it counts against the §7 limit like the rest.
                cx.stats.drop("tcp_syn_challenged");
                self.challenge_ack(cx);
                return;
            }
            if !flags.rst() {
                // "If an incoming segment is not acceptable, an acknowledgment should be sent in
                // reply (unless the RST bit is set)", rate limited.
                self.ack_unacceptable(cx, seg);
            }
            cx.stats.drop("tcp_out_of_window");
            return;
        }

        // Second: the RST bit (RFC 5961 §3.2).
        if flags.rst() {
            if seg.seq == self.rcv_nxt {
                self.on_valid_rst(cx);
            } else {
                // In the window but not exactly RCV.NXT: challenge ACK.
                cx.stats.drop("tcp_rst_challenged");
                self.challenge_ack(cx);
            }
            return;
        }

        // Fourth: the SYN bit (RFC 5961 §4.2): any SYN in a synchronized state gets a challenge
        // ACK, whatever its sequence number. A passive SYN-RECEIVED connection hit by a new SYN
        // returns to LISTEN (RFC 9293 §3.10.7.4).
        if flags.syn() {
            if self.state == State::SynRcvd && self.passive {
                self.close_with(cx, None);
            } else {
                cx.stats.drop("tcp_syn_challenged");
                self.challenge_ack(cx);
            }
            return;
        }

        // Fifth: the ACK field. "If the ACK bit is off, drop the segment and return."
        if !flags.ack() {
            return;
        }
        self.touch_keepalive(cx.now);
        if self.state == State::SynRcvd {
            // RFC 9293 §3.10.7.4: SND.UNA < SEG.ACK =< SND.NXT moves us to ESTABLISHED.
            if seg.ack > self.snd_una && seg.ack <= self.snd_max {
                self.snd_wnd = u32::from(seg.window) << self.snd_wscale;
                self.max_snd_wnd = self.max_snd_wnd.max(self.snd_wnd);
                self.snd_wl1 = seg.seq;
                self.snd_wl2 = seg.ack;
                self.become_established(cx);
            } else {
                cx.reply(super::ControlSegment::rst(
                    self.local,
                    self.remote,
                    seg.ack,
                    None,
                ));
                return;
            }
        } else if !self.syn_acked() && seg.ack > self.snd_una && seg.ack <= self.snd_max {
            // RFC 9293 §3.10.4: a CLOSE in SYN-RECEIVED went on to FIN-WAIT-1 without waiting;
            // this ACK of our SYN ends the handshake all the same.
            self.handshake_done(cx);
        }
        if seg.ack > self.snd_max {
            // "If the ACK acks something not yet sent (SEG.ACK > SND.NXT) then send an ACK, drop
            // the segment, and return." (RFC 5961 §5.2 makes it a challenge ACK.) Any text in
            // the segment goes with it.
            cx.stats.drop("tcp_ack_unsent_data");
            self.challenge_ack(cx);
            return;
        }
        // RFC 5961 §5.2: an ACK older than SND.UNA - MAX.SND.WND is blind-injection material:
        // "MUST be discarded and an ACK sent back" (a challenge ACK, rate limited as Linux does).
        if seg.ack < self.snd_una - self.max_snd_wnd.max(1) {
            cx.stats.drop("tcp_ack_too_old");
            self.challenge_ack(cx);
            return;
        }
        // RFC 7323 §4.3: remember the timestamp if the segment covers Last.ACK.sent.
        if let (true, Some(ts)) = (self.ts_ok, seg.options.timestamps) {
            if seg.seq <= self.last_ack_sent && (ts.tsval.wrapping_sub(self.ts_recent) as i32) >= 0
            {
                self.ts_recent = ts.tsval;
                self.ts_recent_at = cx.now;
            }
        }
        self.count_invalid_sack_blocks(seg);
        self.process_ack(cx, seg);
        if matches!(self.state, State::Closed) {
            return;
        }

        // Sixth: URG. RFC 6093 §4: urgent data is delivered inline; the pointer is ignored.

        // Seventh and eighth: text and FIN, trimmed to the window.
        if zero_window_allowance {
            if !seg.payload.is_empty() || flags.fin() {
                self.ack_now = true;
            }
            return;
        }
        self.process_text_and_fin(cx, seg.seq, seg.payload, flags.fin());
    }

    /// Counts SACK blocks no honest receiver sends. The stack keeps no SACK scoreboard, so the
    /// blocks change nothing; this only makes forged or broken ones visible.
    fn count_invalid_sack_blocks(&mut self, seg: &TcpRepr) {
        let floor = self.snd_una - self.max_snd_wnd.max(1);
        for (left, right) in seg.options.sack_blocks.iter() {
            // RFC 2018 §3: a block is [left, right) of data we sent, so left < right =< SND.NXT;
            // RFC 2883 §4 lets a D-SACK block lie below SND.UNA, within a window of it (Linux
            // tcp_is_sackblock_valid).
            if !(left < right && right <= self.snd_max && left >= floor) {
                self.counters.sack_blocks_rejected += 1;
            }
        }
    }

    /// RFC 9293 §3.10.7.4 first check: the four acceptability cases.
    fn seq_acceptable(&self, seq: SeqNumber, seg_len: u32, rcv_wnd: u32, rst: bool) -> bool {
        let nxt = self.rcv_nxt;
        let end = nxt + rcv_wnd;
        match (seg_len, rcv_wnd) {
            (0, 0) => seq == nxt,
            // RFC 9293 requires RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND; like Linux and BSD we also
            // accept a bare segment exactly at the right edge (a peer whose window we filled
            // answers keepalives there, RFC 1122 §4.2.3.6). Never a RST: RFC 5961 §3.2 keeps
            // RSTs to the window proper.
            (0, _) => seq.in_range(nxt, end) || (seq == end && !rst),
            (_, 0) => false,
            (_, _) => seq.in_range(nxt, end) || (seq + (seg_len - 1)).in_range(nxt, end),
        }
    }

    /// The receive window for acceptability: what we advertised, from RCV.NXT.
    pub(crate) fn rcv_wnd(&self) -> u32 {
        if self.rcv_adv > self.rcv_nxt {
            self.rcv_adv.distance_from(self.rcv_nxt)
        } else {
            0
        }
    }

    /// RFC 9293 §3.10.7.4: the ACK owed to an unacceptable segment. In the spirit of RFC 5961
    /// §7, and as Linux `tcp_oow_rate_limited` (`tcp_invalid_ratelimit`), one per
    /// `oow_ack_interval` per connection, so two stacks that disagree about the window cannot
    /// loop ACKs at line rate and a blind attacker cannot use us as an ACK reflector. Like Linux,
    /// a segment with data is always answered: it is a retransmission whose ACK was lost, and
    /// the duplicate ACK is how the sender learns it got through. (Challenge ACKs are separate,
    /// under the stack-wide RFC 5961 §7 budget.)
    fn ack_unacceptable(&mut self, cx: &mut Cx, seg: &TcpRepr) {
        if !seg.payload.is_empty() {
            let end = seg.seq + seg.payload.len() as u32;
            if self.sack_ok && end <= self.rcv_nxt {
                // RFC 2883 §4: tell the sender this whole segment was a duplicate.
                self.dsack = Some((seg.seq, end));
            }
            self.ack_now = true;
            return;
        }
        let recent = self
            .last_oow_ack
            .is_some_and(|at| cx.now.saturating_duration_since(at) < cx.config.oow_ack_interval);
        if recent {
            cx.stats.oow_acks_suppressed += 1;
            return;
        }
        self.last_oow_ack = Some(cx.now);
        self.ack_now = true;
    }

    /// RFC 5961 §3.2 and §4.2: answer a suspicious RST or SYN with an ACK that tells a genuine
    /// peer where we are.
    /// RFC 5961 §7: within the stack-wide budget only; beyond it the segment is dropped silently.
    fn challenge_ack(&mut self, cx: &mut Cx) {
        if cx.challenge.allow(cx.now, cx.config.challenge_ack_limit) {
            self.counters.challenge_acks += 1;
            cx.stats.challenge_acks_sent += 1;
            self.ack_now = true;
        } else {
            cx.stats.challenge_acks_suppressed += 1;
        }
    }

    /// RFC 9293 §3.10.7.4 second check, a RST exactly at RCV.NXT.
    fn on_valid_rst(&mut self, cx: &mut Cx) {
        match self.state {
            // A passive half-open connection returns to LISTEN (here: disappears); an active one
            // (simultaneous open) was refused.
            State::SynRcvd if self.passive => self.close_with(cx, None),
            State::SynRcvd => self.close_with(cx, Some(ConnectionError::Refused)),
            State::Established | State::FinWait1 | State::FinWait2 | State::CloseWait => {
                if matches!(self.state, State::Established | State::CloseWait) {
                    cx.stats.established_resets += 1;
                }
                // "Any outstanding RECEIVEs and SEND should receive 'reset' responses."
                self.recv.clear();
                self.close_with(cx, Some(ConnectionError::Reset));
            }
            State::Closing | State::LastAck => self.close_with(cx, None),
            // RFC 1337: ignoring RST in TIME-WAIT prevents TIME-WAIT assassination.
            State::TimeWait if cx.config.rfc1337 => {}
            State::TimeWait => self.close_with(cx, None),
            State::Closed | State::Listen | State::SynSent => {}
        }
    }

    /// RFC 9293 §3.10.7.4 fifth check in ESTABLISHED and later states.
    fn process_ack(&mut self, cx: &mut Cx, seg: &TcpRepr) {
        let ack = seg.ack;
        let window = u32::from(seg.window) << self.snd_wscale;
        // Any acceptable ACK answers our zero-window probes.
        self.persist_unanswered = 0;
        let flight_before = self.flight_size();
        // The scoreboard takes the cumulative ACK first, then the SACK blocks (RFC 6675 §5):
        // segments acknowledged together with a block above them were not reordered.
        let mut delivered = if ack > self.snd_una && ack <= self.snd_max {
            self.board.on_cumulative_ack(ack)
        } else {
            Default::default()
        };
        delivered.merge(self.apply_sack_blocks(seg));
        let mut data_acked = 0u32;
        let mut rtt = None;
        let mut round_end = false;
        let acks_new_data = ack > self.snd_una;
        if acks_new_data {
            let mut acked = ack.distance_from(self.snd_una);
            // The SYN and FIN take a sequence number each but no buffer space.
            if !self.syn_acked() {
                acked -= 1;
            }
            let fin_now_acked = self.fin_seq.is_some_and(|f| ack > f && self.snd_una <= f);
            if fin_now_acked {
                acked = acked.saturating_sub(1);
            }
            data_acked = (acked as usize).min(self.send.len()) as u32;
            // Keep the storage while more may be written; give it back once the FIN is queued.
            let keep = !self.fin_queued;
            self.send.consume(data_acked as usize, keep);
            self.counters.bytes_acked += u64::from(data_acked);
            self.snd_una = ack;
            if self.snd_nxt < self.snd_una {
                // After a timeout we went back to SND.UNA; the ACK covered more than resent.
                self.snd_nxt = self.snd_una;
            }
            rtt = self.on_rtt_sample_for_ack(cx, seg);
            self.retries = 0;
            self.rtt.reset_backoff();
            round_end = ack >= self.round_end;
            if round_end {
                self.round_end = self.snd_nxt;
            }
            self.dup_acks = 0;
            // RFC 6298 §5.2 and §5.3: stop the timer when all is acked, else restart it.
            if self.snd_una == self.snd_max {
                self.timers.clear(Timer::Retransmit);
            } else {
                self.restart_rto(cx.now);
            }
            if self.write_blocked && self.send.free() > 0 {
                self.write_blocked = false;
                cx.events.push_back(Event::Writable(self.id));
            }
            if fin_now_acked {
                self.on_our_fin_acked(cx);
                if self.state == State::Closed {
                    return;
                }
            }
        }
        // RFC 5681 §2: a duplicate ACK acknowledges nothing new, carries no data, SYN or FIN,
        // leaves the window as it was, and comes while data is outstanding. (A zero-window ACK
        // answers a window probe; it says nothing about loss.)
        let duplicate = !acks_new_data
            && ack == self.snd_una
            && seg.payload.is_empty()
            && !seg.flags.syn()
            && !seg.flags.fin()
            && window == self.snd_wnd
            && window > 0
            && self.snd_max > self.snd_una;
        if duplicate {
            self.counters.dup_acks_in += 1;
            self.dup_acks += 1;
        }
        if self.syn_acked() && self.state.is_synchronized() {
            self.on_ack_recovery(
                cx,
                AckFacts {
                    data_acked,
                    delivered,
                    rtt,
                    round_end,
                    flight_before,
                    duplicate,
                },
            );
        }

        // RFC 9293 §3.10.7.4: "If SND.UNA =< SEG.ACK =< SND.NXT, the send window should be
        // updated" when the segment is newer than the last update: SND.WL1 < SEG.SEQ, or equal
        // and SND.WL2 =< SEG.ACK ("prevents using old segments to update the window"). A
        // segment that acknowledges new data is newer whatever its SEG.SEQ (Linux's
        // tcp_may_update_window): after a timeout the peer resends from below the SND.MAX its
        // bare ACKs carried (BSD's rule, and ours), so SND.WL1 can sit above the retransmission,
        // and refusing its window would leave the usable window, counted from SND.WL2, shut
        // with nothing in flight and no timer to open it. SND.WL1 never moves back, so a late
        // copy of that bare ACK still counts as old.
        let newer = acks_new_data
            || self.snd_wl1 < seg.seq
            || (self.snd_wl1 == seg.seq && self.snd_wl2 <= ack);
        if ack >= self.snd_una && newer {
            let reopened = self.snd_wnd == 0 && window > 0;
            self.snd_wnd = window;
            self.snd_wl1 = self.snd_wl1.max(seg.seq);
            self.snd_wl2 = ack;
            self.max_snd_wnd = self.max_snd_wnd.max(window);
            if reopened {
                self.retries = 0;
                self.probe = self.probe.filter(|p| *p != Probe::ZeroWindow);
            }
        }
        self.update_persist(cx.now);
    }

    /// Our FIN was acknowledged: FIN_WAIT_1 -> FIN_WAIT_2, CLOSING -> TIME_WAIT, LAST_ACK -> CLOSED.
    fn on_our_fin_acked(&mut self, cx: &mut Cx) {
        match self.state {
            State::FinWait1 => {
                self.set_state(cx, State::FinWait2);
                if self.owner == Owner::Orphan {
                    self.timers
                        .set(Timer::FinWait2, cx.now + cx.config.fin_wait_2_timeout);
                }
            }
            State::Closing => self.set_state(cx, State::TimeWait),
            State::LastAck => self.close_with(cx, None),
            _ => {}
        }
    }

    /// RFC 6298 §3 / RFC 7323 §4: an RTT sample from the ACK, if it yields one.
    fn on_rtt_sample_for_ack(&mut self, cx: &mut Cx, seg: &TcpRepr) -> Option<Duration> {
        // Prefer the timed segment (microsecond precision), valid only if never retransmitted
        // (Karn's algorithm: retransmission clears the probe).
        if let Some((end, sent_at)) = self.rtt_probe {
            if seg.ack >= end {
                self.rtt_probe = None;
                let sample = cx.now.saturating_duration_since(sent_at);
                self.rtt.on_sample(sample);
                return Some(sample);
            }
        }
        // RFC 7323 §4.1: with timestamps every ACK that advances the window gives a sample.
        if let (true, Some(ts)) = (self.ts_ok, seg.options.timestamps) {
            let rtt_ms = self.ts_now(cx.now).wrapping_sub(ts.tsecr);
            // A TSecr from the future or far past is garbage (or an attacker's): ignore it.
            if ts.tsecr != 0 && rtt_ms < 600_000 {
                let sample = Duration::from_millis(u64::from(rtt_ms));
                self.rtt.on_sample(sample);
                return Some(sample);
            }
        }
        None
    }

    /// RFC 9293 §3.10.7.4 seventh (segment text) and eighth (FIN) steps. `seq` is the sequence
    /// number of the first payload byte.
    pub(crate) fn process_text_and_fin(
        &mut self,
        cx: &mut Cx,
        seq: SeqNumber,
        payload: &[u8],
        fin: bool,
    ) {
        if !self.state.can_receive_data() {
            // CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT: "This should not occur since a FIN has
            // been received from the remote side. Ignore the segment text." A FIN repeat is acked.
            if fin || !payload.is_empty() {
                self.ack_now = true;
            }
            return;
        }
        // Trim to [RCV.NXT, RCV.NXT + RCV.WND).
        let mut seq = seq;
        let mut data = payload;
        let mut fin = fin;
        if seq < self.rcv_nxt {
            let skip = self.rcv_nxt.distance_from(seq) as usize;
            if self.sack_ok && !data.is_empty() {
                // RFC 2883 §4 (example 4.1.3): report the part that was already here.
                let dup_end = seq + skip.min(data.len()) as u32;
                self.dsack = Some((seq, dup_end));
                self.ack_now = true;
            }
            if skip >= data.len() {
                // Every byte is old; the FIN is new only if it sits exactly at RCV.NXT.
                fin = fin && seq + payload.len() as u32 == self.rcv_nxt;
                data = &[];
            } else {
                data = &data[skip..];
            }
            seq = self.rcv_nxt;
        }
        let wnd = self.rcv_wnd() as usize;
        let offset = seq.distance_from(self.rcv_nxt) as usize;
        let room = wnd.saturating_sub(offset);
        if data.len() > room {
            data = &data[..room];
            fin = false; // the FIN lies past the window
        }

        if !data.is_empty() {
            if self.read_shut && self.owner == Owner::Orphan {
                // Data for a socket the user closed: nobody will read it. Linux (and RFC 2525
                // §2.17) resets the connection so the peer learns its data was lost.
                cx.reply(super::ControlSegment::rst(
                    self.local,
                    self.remote,
                    self.snd_nxt,
                    None,
                ));
                self.close_with(cx, Some(ConnectionError::Aborted));
                return;
            }
            if !self.fits_memory_limit(cx, seq, data.len()) {
                // Dropped, not acknowledged: RCV.NXT stays, the peer sends it again (after the
                // user reads, when memory is free). A FIN behind dropped data waits with it.
                cx.stats.memory_pressure_drops += 1;
                cx.stats.drop("memory_pressure");
                self.ack_now = true;
                return;
            }
            let had_holes = self.recv.has_out_of_order();
            let result = self.recv.insert(self.rcv_nxt, seq, data);
            if result.ooo_limited {
                cx.stats.drop("tcp_ooo_limit");
            }
            if result.dropped {
                self.ack_now = true;
            } else if result.out_of_order {
                // RFC 5681 §4.2: an out-of-order segment is acknowledged at once (a duplicate ACK
                // that drives the sender's fast retransmit).
                self.counters.ooo_segments += 1;
                self.ack_now = true;
            } else {
                self.rcv_nxt += result.advanced;
                self.counters.bytes_received += u64::from(result.advanced);
                if self.read_shut {
                    // shutdown(Read): acknowledge and discard.
                    self.recv.clear();
                }
                // RFC 5681 §4.2: filling a hole is acknowledged at once; otherwise delay, but
                // ACK at least every second full-sized segment (RFC 9293 §3.8.6.3).
                self.segs_unacked += 1;
                // A segment above our MSS (a peer ignoring it, or coalesced by offload) holds
                // more than one full-sized segment: like Linux, which counts bytes, ACK it now.
                let oversized = data.len() > usize::from(self.local_mss);
                if had_holes || oversized || self.segs_unacked >= 2 {
                    self.ack_now = true;
                } else if !self.timers.is_set(Timer::DelayedAck) {
                    self.timers
                        .set(Timer::DelayedAck, cx.now + cx.config.delayed_ack);
                }
                if self.recv.readable() > 0 {
                    self.signal_readable(cx);
                }
            }
        }

        if fin {
            let fin_seq = seq + data.len() as u32;
            self.peer_fin_seq = Some(fin_seq);
        }
        // A FIN held back behind a hole is processed when RCV.NXT reaches it.
        if let Some(fin_seq) = self.peer_fin_seq {
            if fin_seq == self.rcv_nxt {
                self.peer_fin_seq = None;
                self.on_peer_fin(cx);
            } else if fin_seq < self.rcv_nxt {
                self.peer_fin_seq = None;
            }
        }
    }

    /// Config::memory_limit, as Linux `tcp_try_rmem_schedule`: out-of-order data is refused
    /// first (at the limit, or if it would need new storage past it); in-order data that needs
    /// new storage past the limit prunes the out-of-order ranges (`tcp_prune_ofo_queue`) and
    /// is refused if that did not make room. Data that fits in storage already held is taken.
    fn fits_memory_limit(&mut self, cx: &mut Cx, seq: SeqNumber, len: usize) -> bool {
        let fits = self.fits_memory_limit_now(cx, seq, len);
        // An allocation refused puts the stack in pressure mode (Linux
        // `tcp_enter_memory_pressure`).
        cx.memory.refused |= !fits;
        fits
    }

    fn fits_memory_limit_now(&mut self, cx: &Cx, seq: SeqNumber, len: usize) -> bool {
        let out_of_order = seq != self.rcv_nxt;
        if out_of_order && cx.memory.under_pressure(self.memory()) {
            return false;
        }
        let growth = self.recv.growth_for(self.rcv_nxt, seq, len);
        if growth <= cx.memory.headroom(self.memory()) {
            return true;
        }
        if out_of_order || !self.recv.prune_out_of_order() {
            return false;
        }
        let growth = self.recv.growth_for(self.rcv_nxt, seq, len);
        growth <= cx.memory.headroom(self.memory())
    }

    /// RFC 9293 §3.10.7.4 eighth step: the FIN at RCV.NXT.
    fn on_peer_fin(&mut self, cx: &mut Cx) {
        // "advance RCV.NXT over the FIN, and send an acknowledgment for the FIN."
        self.rcv_nxt += 1;
        self.peer_fin = true;
        self.ack_now = true;
        self.signal_readable(cx);
        match self.state {
            State::SynRcvd | State::Established => self.set_state(cx, State::CloseWait),
            State::FinWait1 => {
                // Our FIN acked already would have moved us to FIN-WAIT-2; so both FINs crossed.
                self.set_state(cx, State::Closing);
            }
            State::FinWait2 => self.set_state(cx, State::TimeWait),
            _ => {}
        }
    }
}
