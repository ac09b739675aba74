//! Expert findings with Wireshark's TCP analysis semantics (Wireshark User's Guide §7.5 "TCP
//! Analysis", the `tcp.analysis.*` fields), checked in Wireshark's order so that the same
//! packet gets the same verdict as in tshark.

use std::time::Duration;

use crate::conn::{Connection, Dir, Packet};

/// What a finding says; [`Kind::tshark_field`] names the matching tshark flag.
#[derive(Clone, Copy, PartialEq, Eq, Debug, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Data or SYN/FIN below the highest sequence number sent so far.
    Retransmission,
    /// A retransmission of what at least two duplicate ACKs asked for, within 20 ms of them.
    FastRetransmission,
    /// A retransmission of data the receiver had already acknowledged.
    SpuriousRetransmission,
    /// Below the highest sequence number, but soon after it (within the initial RTT, else 3 ms).
    OutOfOrder,
    /// The same ACK, window and sequence number again, without data: `count` says which repeat.
    DuplicateAck {
        /// 1 for the first duplicate, 2 for the second, ...
        count: u32,
    },
    /// The sender advertises a zero window.
    ZeroWindow,
    /// This segment fills the receiver's advertised window.
    WindowFull,
    /// One byte at the next sequence number while the receiver's window is zero.
    ZeroWindowProbe,
    /// The ACK of a zero-window probe.
    ZeroWindowProbeAck,
    /// Zero or one byte at one below the next sequence number.
    KeepAlive,
    /// The ACK of a keep-alive.
    KeepAliveAck,
    /// A pure window change.
    WindowUpdate,
    /// A gap: this segment starts after the highest sequence number seen.
    PreviousSegmentNotCaptured,
    /// The ACK covers data that was never seen.
    AckedUnseenSegment,
    /// A reset.
    Rst,
}

impl Kind {
    /// The tshark field that flags the same thing (`tcp.analysis.*`, or the expert info for RST).
    pub fn tshark_field(self) -> &'static str {
        match self {
            Kind::Retransmission => "tcp.analysis.retransmission",
            Kind::FastRetransmission => "tcp.analysis.fast_retransmission",
            Kind::SpuriousRetransmission => "tcp.analysis.spurious_retransmission",
            Kind::OutOfOrder => "tcp.analysis.out_of_order",
            Kind::DuplicateAck { .. } => "tcp.analysis.duplicate_ack",
            Kind::ZeroWindow => "tcp.analysis.zero_window",
            Kind::WindowFull => "tcp.analysis.window_full",
            Kind::ZeroWindowProbe => "tcp.analysis.zero_window_probe",
            Kind::ZeroWindowProbeAck => "tcp.analysis.zero_window_probe_ack",
            Kind::KeepAlive => "tcp.analysis.keep_alive",
            Kind::KeepAliveAck => "tcp.analysis.keep_alive_ack",
            Kind::WindowUpdate => "tcp.analysis.window_update",
            Kind::PreviousSegmentNotCaptured => "tcp.analysis.lost_segment",
            Kind::AckedUnseenSegment => "tcp.analysis.ack_lost_segment",
            Kind::Rst => "tcp.connection.rst",
        }
    }

    /// Wireshark's wording.
    pub fn describe(self) -> String {
        match self {
            Kind::Retransmission => "Retransmission".into(),
            Kind::FastRetransmission => "Fast Retransmission".into(),
            Kind::SpuriousRetransmission => "Spurious Retransmission".into(),
            Kind::OutOfOrder => "Out-Of-Order".into(),
            Kind::DuplicateAck { count } => format!("Dup ACK #{count}"),
            Kind::ZeroWindow => "ZeroWindow".into(),
            Kind::WindowFull => "Window Full".into(),
            Kind::ZeroWindowProbe => "ZeroWindowProbe".into(),
            Kind::ZeroWindowProbeAck => "ZeroWindowProbeAck".into(),
            Kind::KeepAlive => "Keep-Alive".into(),
            Kind::KeepAliveAck => "Keep-Alive ACK".into(),
            Kind::WindowUpdate => "Window Update".into(),
            Kind::PreviousSegmentNotCaptured => "Previous segment not captured".into(),
            Kind::AckedUnseenSegment => "ACKed segment that wasn't captured".into(),
            Kind::Rst => "Connection reset (RST)".into(),
        }
    }
}

/// One finding on one frame.
#[derive(Clone, Copy, PartialEq, Eq, Debug, serde::Serialize)]
pub struct Finding {
    /// Frame number.
    pub frame: u64,
    /// Direction of the segment.
    pub dir: Dir,
    /// What was found.
    pub kind: Kind,
}

/// Wireshark: a retransmission within 20 ms of the second duplicate ACK is a fast one.
const FAST_RETRANSMISSION_WINDOW: Duration = Duration::from_millis(20);
/// Wireshark's out-of-order threshold when the initial RTT is unknown.
const DEFAULT_OOO_THRESHOLD: Duration = Duration::from_millis(3);

/// Per-direction memory, like Wireshark's `tcp_flow_t`.
#[derive(Default, Clone)]
struct Flow {
    /// Highest sequence number sent so far plus its length.
    nextseq: Option<u32>,
    nextseq_time: Duration,
    /// Highest sequence number the other side may acknowledge.
    maxseq_to_be_acked: Option<u32>,
    lastack: Option<u32>,
    lastack_time: Duration,
    /// Last window field, unscaled.
    window: Option<u16>,
    /// RFC 7323 §2.3: the shift this side's windows carry once both SYNs offered scaling;
    /// `None` until the handshake is seen.
    win_scale: Option<u8>,
    dupacks: u32,
    last_was_keep_alive: bool,
    last_was_zero_window_probe: bool,
}

fn lt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

fn gt(a: u32, b: u32) -> bool {
    lt(b, a)
}

/// Runs the analysis over one connection. `initial_rtt` (the frame that completed the
/// handshake, and the RTT) becomes the out-of-order threshold from that frame on, as in
/// Wireshark, which learns `tcp.analysis.initial_rtt` only when the handshake's ACK passes.
pub fn analyze(conn: &Connection, initial_rtt: Option<(u64, Duration)>) -> Vec<Finding> {
    let mut flows = [Flow::default(), Flow::default()];
    let window_scales = negotiated_scales(conn);
    for (flow, scale) in flows.iter_mut().zip(window_scales) {
        flow.win_scale = scale;
    }
    let mut findings = Vec::new();
    for packet in &conn.packets {
        let mut found = Vec::new();
        let (fwd_i, rev_i) = (packet.dir.index(), packet.dir.reverse().index());
        let (Some(fwd), Some(rev)) = (flows.get(fwd_i).cloned(), flows.get(rev_i).cloned()) else {
            continue;
        };
        let ooo_threshold = initial_rtt
            .filter(|&(frame, _)| packet.frame > frame)
            .map_or(DEFAULT_OOO_THRESHOLD, |(_, rtt)| rtt);
        let (new_fwd, new_rev) = step(packet, fwd, rev, ooo_threshold, &mut found);
        if let Some(f) = flows.get_mut(fwd_i) {
            *f = new_fwd;
        }
        if let Some(f) = flows.get_mut(rev_i) {
            *f = new_rev;
        }
        findings.extend(found.into_iter().map(|kind| Finding {
            frame: packet.frame,
            dir: packet.dir,
            kind,
        }));
    }
    findings
}

/// RFC 7323 §2.2: scaling is in force only when both SYNs carried the option; each side's
/// shift is the one it sent. Unknown (None) without both SYNs.
fn negotiated_scales(conn: &Connection) -> [Option<u8>; 2] {
    let syn_of = |dir: Dir| {
        conn.packets
            .iter()
            .find(|p| p.dir == dir && p.segment.flags.syn())
            .map(|p| p.segment.options.window_scale)
    };
    match (syn_of(Dir::ToServer), syn_of(Dir::ToClient)) {
        (Some(Some(c)), Some(Some(s))) => [Some(c.min(14)), Some(s.min(14))],
        (Some(_), Some(_)) => [Some(0), Some(0)],
        _ => [None, None],
    }
}

/// One packet through Wireshark's checks, in Wireshark's order.
fn step(
    packet: &Packet,
    mut fwd: Flow,
    mut rev: Flow,
    ooo_threshold: Duration,
    found: &mut Vec<Kind>,
) -> (Flow, Flow) {
    let seg = &packet.segment;
    let now = packet.time;
    let seglen = seg.payload_len;
    let flags = seg.flags;
    let syn_fin_rst = flags.syn() || flags.fin() || flags.rst();
    let window = seg.window;
    let mut goto_finished = false;

    if flags.rst() {
        found.push(Kind::Rst);
    }
    // Zero-window probe: one byte at the next sequence number into a zero window.
    if seglen == 1 && fwd.nextseq == Some(seg.seq) && rev.window == Some(0) {
        found.push(Kind::ZeroWindowProbe);
        goto_finished = true;
    }
    if !goto_finished {
        if window == 0 && !syn_fin_rst {
            found.push(Kind::ZeroWindow);
        }
        if let Some(next) = fwd.nextseq {
            if gt(seg.seq, next) && !flags.rst() {
                found.push(Kind::PreviousSegmentNotCaptured);
            }
        }
        if seglen <= 1 && !syn_fin_rst && fwd.nextseq.map(|n| n.wrapping_sub(1)) == Some(seg.seq) {
            found.push(Kind::KeepAlive);
            goto_finished = true;
        }
    }
    let same_ack_seq = fwd.nextseq == Some(seg.seq) && fwd.lastack == Some(seg.ack);
    if !goto_finished {
        if seglen == 0
            && window != 0
            && fwd.window.is_some_and(|w| w != window)
            && same_ack_seq
            && !syn_fin_rst
        {
            found.push(Kind::WindowUpdate);
        }
        if seglen > 0 && !syn_fin_rst {
            if let (Some(scale), Some(ack), Some(rwin)) = (rev.win_scale, rev.lastack, rev.window) {
                let limit = ack.wrapping_add(u32::from(rwin) << scale);
                if seg.seq.wrapping_add(seglen) == limit {
                    found.push(Kind::WindowFull);
                }
            }
        }
        let pure_repeat = seglen == 0 && fwd.window == Some(window) && same_ack_seq && !syn_fin_rst;
        // The ACK of a keep-alive or probe ends the checks (Wireshark's "goto finished_fwd").
        if pure_repeat && window != 0 && rev.last_was_keep_alive {
            found.push(Kind::KeepAliveAck);
        } else if pure_repeat && window == 0 && rev.last_was_zero_window_probe {
            found.push(Kind::ZeroWindowProbeAck);
        } else if pure_repeat && window != 0 {
            fwd.dupacks += 1;
            found.push(Kind::DuplicateAck { count: fwd.dupacks });
        }
    }
    // "finished_fwd": anything but a duplicate ACK restarts the count.
    if !found.iter().any(|k| matches!(k, Kind::DuplicateAck { .. })) {
        fwd.dupacks = 0;
    }
    if flags.ack() {
        if let Some(max) = rev.maxseq_to_be_acked {
            if gt(seg.ack, max) {
                found.push(Kind::AckedUnseenSegment);
                rev.maxseq_to_be_acked = rev.nextseq;
            }
        }
    }
    let keep_alive = found.contains(&Kind::KeepAlive);
    if (seglen > 0 || flags.syn() || flags.fin()) && !keep_alive {
        if let Some(next) = fwd.nextseq.filter(|&n| lt(seg.seq, n)) {
            let since_dupack = now.saturating_sub(rev.lastack_time);
            let since_highest = now.saturating_sub(fwd.nextseq_time);
            let seq_end = seg.seq.wrapping_add(seglen);
            // A segment ending where the highest one ended repeats it: not out of order.
            let seq_end_with_flags =
                seq_end.wrapping_add(u32::from(flags.syn()) + u32::from(flags.fin()));
            let kind = if rev.dupacks >= 2
                && rev.lastack == Some(seg.seq)
                && since_dupack < FAST_RETRANSMISSION_WINDOW
            {
                Kind::FastRetransmission
            } else if since_highest < ooo_threshold && next != seq_end_with_flags {
                Kind::OutOfOrder
            } else if seglen > 0 && rev.lastack.is_some_and(|a| !lt(a, seq_end)) {
                Kind::SpuriousRetransmission
            } else {
                Kind::Retransmission
            };
            found.push(kind);
        }
    }
    // Bookkeeping, as after Wireshark's "finished_checking_retransmission_type".
    let nextseq = seg
        .seq
        .wrapping_add(seglen)
        .wrapping_add(u32::from(flags.syn()) + u32::from(flags.fin()));
    let probe = found.contains(&Kind::ZeroWindowProbe);
    if !probe && !flags.rst() && fwd.nextseq.filter(|&n| !gt(nextseq, n)).is_none() {
        fwd.nextseq = Some(nextseq);
        fwd.nextseq_time = now;
    }
    if !probe
        && fwd
            .maxseq_to_be_acked
            .filter(|&m| !fwd.nextseq.is_some_and(|n| gt(n, m)))
            .is_none()
    {
        fwd.maxseq_to_be_acked = fwd.nextseq;
    }
    if flags.ack() {
        // Wireshark stamps every ACK, so the 20 ms of a fast retransmission count from the
        // last duplicate.
        fwd.lastack = Some(seg.ack);
        fwd.lastack_time = now;
    }
    fwd.window = Some(window);
    fwd.last_was_keep_alive = keep_alive;
    fwd.last_was_zero_window_probe = probe;
    (fwd, rev)
}
