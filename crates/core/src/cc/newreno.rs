//! RFC 5681 slow start and congestion avoidance; the reaction to loss of RFC 5681 §3.2 and
//! RFC 6582 (recovery itself is the sender's: PRR moves cwnd to ssthresh).

use super::{initial_window, AckSample, CongestionControl};
use crate::time::Instant;

/// NewReno state.
#[derive(Clone, Debug)]
pub struct NewReno {
    cwnd: u32,
    ssthresh: u32,
    /// Bytes acked since cwnd last grew in congestion avoidance.
    bytes_acked: u32,
    /// cwnd and ssthresh before the last congestion event, for `undo`.
    prior: (u32, u32),
}

impl NewReno {
    /// A controller starting at the RFC 6928 initial window.
    pub fn new(mss: u32, initial_segments: u32) -> Self {
        NewReno {
            cwnd: initial_window(mss, initial_segments),
            // RFC 5681 §3.1: ssthresh may start arbitrarily high.
            ssthresh: u32::MAX,
            bytes_acked: 0,
            prior: (0, u32::MAX),
        }
    }
}

impl CongestionControl for NewReno {
    fn name(&self) -> &'static str {
        "newreno"
    }

    fn cwnd(&self) -> u32 {
        self.cwnd
    }

    fn ssthresh(&self) -> u32 {
        self.ssthresh
    }

    fn on_ack(&mut self, ack: &AckSample) {
        if !ack.cwnd_limited {
            // RFC 7661 §4.1: no growth while the application, not cwnd, limits sending.
            return;
        }
        let mss = ack.mss;
        if self.cwnd < self.ssthresh {
            // RFC 5681 §3.1 (with RFC 3465 L=2): slow start grows by min(N, SMSS)... per ACK;
            // appropriate byte counting lets one ACK covering two segments grow by two.
            self.cwnd = self.cwnd.saturating_add(ack.delivered.min(2 * mss));
        } else {
            // RFC 5681 §3.1 eq. 3 via byte counting: one SMSS per cwnd of acknowledged bytes.
            self.bytes_acked = self.bytes_acked.saturating_add(ack.delivered);
            if self.bytes_acked >= self.cwnd {
                self.bytes_acked -= self.cwnd;
                self.cwnd = self.cwnd.saturating_add(mss);
            }
        }
    }

    fn on_congestion_event(&mut self, _now: Instant, flight_size: u32, mss: u32) {
        self.prior = (self.cwnd, self.ssthresh);
        // RFC 5681 §3.2 step 2: ssthresh = max(FlightSize / 2, 2*SMSS), eq. 4.
        self.ssthresh = (flight_size / 2).max(2 * mss);
        self.bytes_acked = 0;
    }

    fn set_cwnd(&mut self, cwnd: u32) {
        self.cwnd = cwnd;
    }

    fn on_recovery_end(&mut self, _now: Instant, mss: u32) {
        // RFC 6937 §3: at the end of recovery cwnd = ssthresh.
        self.cwnd = self.ssthresh.max(mss);
    }

    fn on_rto(&mut self, _now: Instant, flight_size: u32, mss: u32) {
        self.prior = (self.cwnd, self.ssthresh);
        // RFC 5681 §3.1 eq. 4 and "LW": ssthresh = max(FlightSize/2, 2*SMSS), cwnd = 1 SMSS.
        self.ssthresh = (flight_size / 2).max(2 * mss);
        self.cwnd = mss;
        self.bytes_acked = 0;
    }

    fn undo(&mut self) {
        // RFC 4015 §3.2 spirit: go back to the window before the false alarm.
        let (cwnd, ssthresh) = self.prior;
        self.cwnd = self.cwnd.max(cwnd);
        self.ssthresh = self.ssthresh.max(ssthresh);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ack(delivered: u32, mss: u32) -> AckSample {
        AckSample {
            now: Instant::ZERO,
            delivered,
            rtt: None,
            min_rtt: None,
            flight_size: 0,
            mss,
            round_end: false,
            cwnd_limited: true,
        }
    }

    #[test]
    fn slow_start_then_avoidance_then_loss_and_undo() {
        let mss = 1000;
        let mut cc = NewReno::new(mss, 10);
        assert_eq!(cc.cwnd(), 10_000);
        cc.on_ack(&ack(1000, mss));
        assert_eq!(cc.cwnd(), 11_000);
        // Not cwnd-limited: no growth (RFC 7661).
        cc.on_ack(&AckSample {
            cwnd_limited: false,
            ..ack(1000, mss)
        });
        assert_eq!(cc.cwnd(), 11_000);
        cc.on_congestion_event(Instant::ZERO, 11_000, mss);
        assert_eq!((cc.cwnd(), cc.ssthresh()), (11_000, 5_500));
        cc.set_cwnd(7_000);
        cc.on_recovery_end(Instant::ZERO, mss);
        assert_eq!(cc.cwnd(), 5_500);
        cc.undo();
        assert_eq!((cc.cwnd(), cc.ssthresh()), (11_000, u32::MAX));
        // Congestion avoidance: +1 MSS per cwnd acked.
        cc.on_congestion_event(Instant::ZERO, 10_000, mss);
        cc.on_recovery_end(Instant::ZERO, mss);
        assert_eq!(cc.cwnd(), 5_000);
        for _ in 0..5 {
            cc.on_ack(&ack(1000, mss));
        }
        assert_eq!(cc.cwnd(), 6_000);
        cc.on_rto(Instant::ZERO, 6_000, mss);
        assert_eq!((cc.cwnd(), cc.ssthresh()), (1000, 3000));
    }
}
