//! What a connection sends next: SYN, retransmissions, new data under the windows, FIN,
//! probes, and ACKs (RFC 9293 §3.8, RFC 5681, RFC 6298 §5, RFC 7323, RFC 2018).

use super::{ip_header_len, Cx, Probe, Tcb, Timer};
use crate::state::State;
use synack_wire::ip::{emit_ip_header, protocol};
use synack_wire::{SeqNumber, TcpFlags, TcpOptions, TcpRepr, Timestamps};

/// One segment to build.
#[derive(Clone, Copy, Debug)]
pub(super) struct Outgoing {
    pub(super) seq: SeqNumber,
    pub(super) flags: TcpFlags,
    /// Payload bytes, taken from the send buffer at `seq`.
    pub(super) len: u32,
}

impl Tcb {
    /// Writes the next packet (IP header included) into `buf`; None when there is nothing to send.
    pub(crate) fn poll_transmit(&mut self, cx: &mut Cx, buf: &mut [u8]) -> Option<usize> {
        let out = self.next_outgoing()?;
        self.emit(cx, buf, out)
    }

    fn next_outgoing(&mut self) -> Option<Outgoing> {
        match self.state {
            State::Closed | State::Listen => return None,
            State::SynSent if self.snd_nxt == self.iss => {
                // RFC 9293 §3.10.1: <SEQ=ISS><CTL=SYN>.
                return Some(Outgoing {
                    seq: self.iss,
                    flags: TcpFlags::SYN,
                    len: 0,
                });
            }
            // Until the peer answers our SYN there is nothing else to say.
            State::SynSent => return None,
            _ if !self.syn_acked() && self.snd_nxt == self.iss => {
                // RFC 9293 §3.10.7.2: <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK> in SYN-RECEIVED, and
                // in FIN-WAIT-1 entered from it (§3.10.4) before our SYN was acknowledged: a
                // retransmission starts again from the SYN.
                return Some(Outgoing {
                    seq: self.iss,
                    flags: TcpFlags::SYN | TcpFlags::ACK,
                    len: 0,
                });
            }
            _ => {}
        }
        if self.handshake_ack_pending {
            // Like Linux, the third segment of the handshake is a bare ACK, even when data is
            // queued: the seed document's trace shows exactly this segment.
            self.handshake_ack_pending = false;
            return Some(Outgoing {
                seq: self.snd_nxt,
                flags: TcpFlags::ACK,
                len: 0,
            });
        }
        // RFC 9293 §3.10.2: nothing but the SYN leaves before the handshake completes, except the
        // FIN of a CLOSE in SYN-RECEIVED (§3.10.4), whose state is past ESTABLISHED already.
        if self.state.is_synchronized() && self.state != State::TimeWait {
            // RFC 6675 §4 NextSeg: lost segments first, then new data.
            if let Some(out) = self.retransmission_segment() {
                return Some(out);
            }
            if let Some(out) = self.next_data_segment() {
                return Some(out);
            }
            if let Some(probe) = self.probe.take() {
                if let Some(out) = self.probe_segment(probe) {
                    return Some(out);
                }
            }
        }
        if self.ack_now {
            // A bare ACK carries SND.NXT (RFC 9293 §3.10.7.4: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>),
            // meaning the next new sequence number: after a timeout rolled SND.NXT back, that is
            // the highest one sent (BSD's SND.MAX), or the peer finds the ACK below its window.
            return Some(Outgoing {
                seq: self.snd_max.max(self.snd_nxt),
                flags: TcpFlags::ACK,
                len: 0,
            });
        }
        None
    }

    /// New (or, after a timeout, resent) data within min(cwnd, peer window), with Nagle
    /// (RFC 9293 §3.7.4) and sender-side silly window avoidance (RFC 9293 §3.8.6.2.1).
    pub(super) fn next_data_segment(&self) -> Option<Outgoing> {
        let data_end = self.data_end();
        // The FIN sits at the end of the data; it is (re)sent when SND.NXT reaches it, and never
        // after it was acknowledged.
        let fin_unsent = self.fin_queued
            && self
                .fin_seq
                .is_none_or(|f| self.snd_nxt == f && self.snd_una <= f);
        if self.snd_nxt < data_end {
            let avail = data_end.distance_from(self.snd_nxt);
            // The peer's window counts from the ACK it came with (SND.WL2), which may be older
            // than SND.UNA when a later ACK did not qualify as a window update (RFC 9293
            // §3.10.7.4); the congestion window counts from SND.UNA.
            let peer_edge = self.snd_wl2 + self.snd_wnd;
            let peer_room = if peer_edge > self.snd_nxt {
                peer_edge.distance_from(self.snd_nxt)
            } else {
                0
            };
            // RFC 6675 §5 step (C): data may leave while pipe is under cwnd.
            let room = peer_room.min(self.cwnd_room());
            let mss = self.snd_mss();
            let len = avail.min(room).min(mss);
            if len == 0 {
                return None;
            }
            let resending = self.snd_nxt < self.snd_max;
            let is_last = len == avail;
            let nothing_in_flight = self.snd_nxt == self.snd_una;
            // Send a full segment; or the tail when Nagle allows (nodelay, nothing unacknowledged,
            // or closing); or at least half the largest window the peer offered.
            let ok = resending
                || self.sws_override
                || len == mss
                || (is_last && (self.nodelay || nothing_in_flight || self.fin_queued))
                || (self.max_snd_wnd > 0 && len >= self.max_snd_wnd / 2);
            if !ok {
                return None;
            }
            let mut flags = TcpFlags::ACK;
            if is_last {
                flags |= TcpFlags::PSH;
                if self.fin_queued {
                    flags |= TcpFlags::FIN;
                }
            }
            return Some(Outgoing {
                seq: self.snd_nxt,
                flags,
                len,
            });
        }
        if fin_unsent && self.snd_nxt == data_end {
            return Some(Outgoing {
                seq: self.snd_nxt,
                flags: TcpFlags::FIN | TcpFlags::ACK,
                len: 0,
            });
        }
        None
    }

    fn probe_segment(&mut self, probe: Probe) -> Option<Outgoing> {
        Some(match probe {
            Probe::Tail => return self.tail_probe_segment(),
            Probe::ZeroWindow => {
                // RFC 9293 §3.8.6.1: one octet of new data past the closed window (or the FIN).
                self.counters.window_probes += 1;
                let len = (self.send.len() as u32).min(1);
                let mut flags = TcpFlags::ACK;
                if len == 0 && self.fin_queued {
                    flags |= TcpFlags::FIN;
                }
                Outgoing {
                    seq: self.snd_una,
                    flags,
                    len,
                }
            }
            Probe::Keepalive => {
                // RFC 9293 §3.8.4: SEG.SEQ = SND.NXT-1, no data; the peer must answer with an ACK.
                self.counters.keepalive_probes += 1;
                Outgoing {
                    seq: self.snd_max.max(self.snd_nxt) - 1,
                    flags: TcpFlags::ACK,
                    len: 0,
                }
            }
        })
    }

    /// The window field for a non-SYN segment: receiver-side silly window avoidance (RFC 9293
    /// §3.8.6.2.2), never shrinking the right edge (RFC 7323 §2.4), scaled (RFC 7323 §2.3).
    fn advertise_window(&mut self) -> u16 {
        let shift = if self.wscale_ok { self.rcv_wscale } else { 0 };
        let avail = self.recv_limit.saturating_sub(self.recv.readable()) as u32;
        let cur = self.rcv_wnd();
        let threshold = ((self.recv_limit / 2) as u32).min(u32::from(self.local_mss));
        let wnd = if avail >= cur.saturating_add(threshold)
            || avail > cur && cur == 0 && avail >= threshold
        {
            avail
        } else {
            cur
        };
        let unit = 1u32 << shift;
        let mut field = wnd >> shift;
        if field << shift < cur {
            // Rounding down would pull the right edge back: round up instead.
            field = cur.div_ceil(unit);
        }
        let field = field.min(65535);
        let edge = self.rcv_nxt + (field << shift);
        if edge > self.rcv_adv {
            self.rcv_adv = edge;
        }
        field as u16
    }

    /// Whether reading opened the window enough to tell the peer (RFC 9293 §3.8.6.2.2: by at
    /// least min(buffer/2, 2*MSS), or from zero to at least one MSS or half the buffer).
    pub(crate) fn window_update_due(&self) -> bool {
        if !self.state.can_receive_data() {
            return false;
        }
        let avail = self.recv_limit.saturating_sub(self.recv.readable()) as u32;
        let cur = self.rcv_wnd();
        let half = (self.recv_limit / 2) as u32;
        let mss = u32::from(self.local_mss);
        avail >= cur.saturating_add(half.min(2 * mss))
            || (cur < mss.min(half) && avail >= mss.min(half))
    }

    fn options_for(&self, flags: TcpFlags, now: crate::time::Instant) -> TcpOptions {
        let mut opts = TcpOptions::default();
        let syn = flags.syn();
        let synack = syn && flags.ack();
        let tsval = self.ts_now(now);
        if syn {
            opts.mss = Some(self.local_mss);
            // In a SYN we offer what we support; in a SYN-ACK only what the peer offered too.
            if if synack {
                self.wscale_ok
            } else {
                self.offer.window_scale
            } {
                opts.window_scale = Some(self.rcv_wscale);
            }
            opts.sack_permitted = if synack {
                self.sack_ok
            } else {
                self.offer.sack
            };
            if if synack {
                self.ts_ok
            } else {
                self.offer.timestamps
            } {
                opts.timestamps = Some(Timestamps {
                    tsval,
                    tsecr: if synack { self.ts_recent } else { 0 },
                });
            }
            return opts;
        }
        if self.ts_ok {
            // RFC 7323 §3.2: TSecr echoes TS.Recent; TSval is our clock.
            opts.timestamps = Some(Timestamps {
                tsval,
                tsecr: self.ts_recent,
            });
        }
        if self.sack_ok && (self.recv.has_out_of_order() || self.dsack.is_some()) {
            // RFC 2018 §3: 40 option bytes hold 3 blocks next to timestamps, 4 without.
            let max = if self.ts_ok { 3 } else { 4 };
            match self.dsack {
                Some((left, right)) => {
                    // RFC 2883 §4: the D-SACK block comes first, then the usual blocks.
                    let mut blocks = synack_wire::SackBlocks::new();
                    let _ = blocks.push(left, right);
                    for (l, r) in self.recv.sack_blocks(max - 1).iter() {
                        let _ = blocks.push(l, r);
                    }
                    opts.sack_blocks = blocks;
                }
                None => opts.sack_blocks = self.recv.sack_blocks(max),
            }
        }
        opts
    }

    fn emit(&mut self, cx: &mut Cx, buf: &mut [u8], out: Outgoing) -> Option<usize> {
        let Outgoing {
            seq,
            flags,
            mut len,
        } = out;
        let options = self.options_for(flags, cx.now);
        let window = if flags.syn() {
            if flags.ack() {
                // The SYN-ACK offers this window from RCV.NXT (unscaled, RFC 7323 §2.2).
                let edge = self.rcv_nxt + self.syn_window();
                if edge > self.rcv_adv {
                    self.rcv_adv = edge;
                }
            }
            self.syn_window() as u16
        } else {
            self.advertise_window()
        };
        let ack = if flags.ack() {
            self.rcv_nxt
        } else {
            SeqNumber(0)
        };
        let mut repr = TcpRepr {
            src_port: self.local.port(),
            dst_port: self.remote.port(),
            seq,
            ack,
            flags,
            window,
            urgent_ptr: 0,
            options,
            payload: &[],
        };
        let ip_len = ip_header_len(self.local);
        let tcp_len = repr.header_len();
        // SACK blocks take option space: trim the payload to the MTU and to the peer's MSS,
        // counting every option byte beyond the fixed header (RFC 6691).
        let room = (cx
            .config
            .mtu
            .min(buf.len())
            .saturating_sub(ip_len + tcp_len) as u32)
            .min(self.segment_budget().saturating_sub(tcp_len as u32 - 20));
        if len > room {
            len = room;
            repr.flags = TcpFlags(repr.flags.0 & !(TcpFlags::FIN.0 | TcpFlags::PSH.0));
        }
        let payload_at = ip_len + tcp_len;
        let total = payload_at + len as usize;
        if total > buf.len() {
            return None;
        }
        if len > 0 {
            let offset = seq.distance_from(self.snd_una) as usize;
            let copied = self.send.copy_out(offset, &mut buf[payload_at..total]);
            if copied != len as usize {
                return None;
            }
        }
        let (src, dst) = (self.local.ip(), self.remote.ip());
        repr.emit_in_place(&mut buf[ip_len..total], len as usize, src, dst)
            .ok()?;
        self.ip_ident = self.ip_ident.wrapping_add(1);
        emit_ip_header(
            &mut buf[..ip_len],
            src,
            dst,
            protocol::TCP,
            tcp_len + len as usize,
            cx.config.hop_limit,
            self.ip_ident,
        )
        .ok()?;
        self.after_send(cx, seq, repr.flags, len);
        Some(total)
    }

    /// Sequence and timer bookkeeping once a segment has left.
    fn after_send(&mut self, cx: &mut Cx, seq: SeqNumber, flags: TcpFlags, len: u32) {
        self.counters.segs_out += 1;
        cx.stats.segments_out += 1;
        self.counters.bytes_sent += u64::from(len);
        if len > 0 {
            self.sws_override = false;
        }
        let seq_len = len + u32::from(flags.syn()) + u32::from(flags.fin());
        if seq_len > 0 {
            let end = seq + seq_len;
            let resent = seq < self.snd_max;
            if !flags.syn() {
                self.on_sent_for_recovery(seq, end, resent, cx.now);
            }
            if resent {
                // A retransmission: Karn's algorithm forbids timing it.
                self.counters.retransmits += 1;
                cx.stats.retransmitted_segments += 1;
                self.rtt_probe = None;
            } else if self.rtt_probe.is_none() {
                self.rtt_probe = Some((end, cx.now));
            }
            if end > self.snd_max {
                self.snd_max = end;
            }
            if end > self.snd_nxt {
                self.snd_nxt = end;
            }
            if flags.fin() {
                self.fin_seq = Some(end - 1);
            }
            if self.snd_wnd == 0 && self.syn_acked() {
                // A zero-window probe: the persist timer, with backoff, paces the next one.
                self.timers.clear(Timer::Retransmit);
                self.timers.set(Timer::Persist, cx.now + self.rtt.rto());
            } else {
                self.arm_rto_if_idle(cx.now);
                self.schedule_loss_probe(cx.now);
            }
        }
        if flags.ack() {
            self.last_ack_sent = self.rcv_nxt;
            self.ack_now = false;
            self.dsack = None;
            self.segs_unacked = 0;
            self.timers.clear(Timer::DelayedAck);
        }
    }
}
