//! RACK-TLP state (RFC 8985): time-based loss detection and the tail loss probe.

use crate::time::Instant;
use std::time::Duration;
use synack_wire::SeqNumber;

/// RFC 8985 §6.1 per-connection RACK variables.
#[derive(Clone, Debug, Default)]
pub(crate) struct Rack {
    /// RACK.xmit_ts and, in place of RACK.end_seq, the transmission order: the most recently
    /// sent segment known delivered (order breaks ties between sends at the same instant).
    pub xmit: Option<(Instant, u64)>,
    /// RACK.rtt: the RTT of that segment.
    pub rtt: Duration,
    /// RACK.reordering_seen.
    pub reordering_seen: bool,
    /// RACK.reo_wnd_mult (RFC 8985 §6.2 step 4), grown by D-SACKs.
    pub reo_wnd_mult: u32,
    /// RACK.reo_wnd_persist: rounds left before the multiplier resets.
    pub reo_wnd_persist: u32,
    /// A tail loss probe is out: it ended at this sequence number (TLP.end_seq), and whether it
    /// resent old data (TLP.is_retrans).
    pub tlp: Option<(SeqNumber, bool)>,
}

impl Rack {
    /// RFC 8985 §6.2 step 2 (RACK_update): a delivered segment that was sent at `sent_at` and
    /// ended at `end`. A retransmitted segment whose RTT is shorter than the minimum is
    /// ambiguous (the original may have been what arrived) and is not used.
    pub fn update(
        &mut self,
        now: Instant,
        sent_at: Instant,
        order: u64,
        retransmitted: bool,
        min_rtt: Option<Duration>,
    ) {
        let rtt = now.saturating_duration_since(sent_at);
        if retransmitted && min_rtt.is_some_and(|m| rtt < m) {
            return;
        }
        self.rtt = rtt;
        if self.xmit.is_none_or(|x| (sent_at, order) > x) {
            self.xmit = Some((sent_at, order));
        }
    }

    /// RFC 8985 §6.2 step 4 (RACK_update_reo_wnd): the reordering window. Zero while no
    /// reordering was seen and loss is already suspected (in recovery, or three segments
    /// SACKed), so losses are found at once; otherwise min_RTT/4 times the multiplier, capped
    /// at SRTT.
    pub fn reo_wnd(
        &self,
        in_recovery: bool,
        sacked_segments: u32,
        min_rtt: Option<Duration>,
        srtt: Option<Duration>,
    ) -> Duration {
        if !self.reordering_seen && (in_recovery || sacked_segments >= 3) {
            return Duration::ZERO;
        }
        let Some(min_rtt) = min_rtt else {
            return Duration::ZERO;
        };
        let wnd = min_rtt / 4 * self.reo_wnd_mult.max(1);
        srtt.map_or(wnd, |s| wnd.min(s))
    }

    /// RFC 8985 §6.2 step 4: a D-SACK says a retransmission was spurious, so the window was too
    /// small: grow the multiplier, and keep it for 16 recoveries.
    pub fn on_dsack(&mut self) {
        self.reo_wnd_mult = (self.reo_wnd_mult.max(1) + 1).min(16);
        self.reo_wnd_persist = 16;
        self.reordering_seen = true;
    }

    /// RFC 8985 §6.2 step 4: after a recovery without D-SACKs the multiplier decays.
    pub fn on_recovery_end(&mut self) {
        if self.reo_wnd_persist > 0 {
            self.reo_wnd_persist -= 1;
            if self.reo_wnd_persist == 0 {
                self.reo_wnd_mult = 1;
            }
        }
    }

    /// RFC 8985 §7.2: the probe timeout. 2*SRTT, plus the peer's worst-case delayed ACK when
    /// only one segment is out (its ACK may be held back); never past the RTO.
    pub fn pto(srtt: Option<Duration>, one_segment_out: bool, rto: Duration) -> Duration {
        // RFC 8985 §7.2: without an RTT sample, 1 s.
        let Some(srtt) = srtt else {
            return Duration::from_secs(1).min(rto);
        };
        let mut pto = srtt * 2;
        if one_segment_out {
            // WCDelAckT: 200 ms.
            pto += Duration::from_millis(200);
        } else {
            // Linux adds a 2 ms floor for timer granularity (tcp_schedule_loss_probe).
            pto += Duration::from_millis(2);
        }
        pto.min(rto)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reordering_window_and_pto() {
        let mut r = Rack::default();
        let ms = Duration::from_millis;
        assert_eq!(
            r.reo_wnd(true, 0, Some(ms(40)), Some(ms(50))),
            Duration::ZERO
        );
        assert_eq!(r.reo_wnd(false, 1, Some(ms(40)), Some(ms(50))), ms(10));
        r.on_dsack();
        assert_eq!(r.reo_wnd(true, 5, Some(ms(40)), Some(ms(50))), ms(20));
        // Capped at SRTT.
        for _ in 0..10 {
            r.on_dsack();
        }
        assert_eq!(r.reo_wnd(true, 5, Some(ms(40)), Some(ms(50))), ms(50));
        for _ in 0..16 {
            r.on_recovery_end();
        }
        assert_eq!(r.reo_wnd_mult, 1);
        assert_eq!(Rack::pto(Some(ms(10)), false, ms(300)), ms(22));
        assert_eq!(Rack::pto(Some(ms(10)), true, ms(300)), ms(220));
        assert_eq!(Rack::pto(Some(ms(200)), true, ms(300)), ms(300));
        assert_eq!(Rack::pto(None, false, ms(3000)), ms(1000));
    }

    #[test]
    fn ambiguous_retransmission_is_not_an_rtt() {
        let mut r = Rack::default();
        let t0 = Instant::ZERO;
        let ms = Duration::from_millis;
        r.update(t0 + ms(50), t0 + ms(45), 7, true, Some(ms(20)));
        assert!(r.xmit.is_none());
        r.update(t0 + ms(50), t0 + ms(10), 3, false, Some(ms(20)));
        assert_eq!(r.xmit, Some((t0 + ms(10), 3)));
        assert_eq!(r.rtt, ms(40));
    }
}
