//! RFC 5681 slow start and congestion avoidance, with RFC 6582 NewReno recovery.

use super::CongestionControl;
use crate::time::Instant;

/// NewReno state.
#[derive(Clone, Debug)]
pub struct NewReno {
    cwnd: u32,
    ssthresh: u32,
    /// Bytes acked since cwnd last grew in congestion avoidance.
    bytes_acked: u32,
}

impl NewReno {
    /// RFC 6928: the initial window is min(10*MSS, max(2*MSS, 14600)) for 10 segments.
    pub fn new(mss: u32, initial_segments: u32) -> Self {
        let iw = if initial_segments >= 10 {
            (initial_segments * mss).min((2 * mss).max(14600))
        } else {
            initial_segments.max(1) * mss
        };
        NewReno {
            cwnd: iw,
            // RFC 5681 §3.1: ssthresh may start arbitrarily high.
            ssthresh: u32::MAX,
            bytes_acked: 0,
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

    fn on_ack(&mut self, _now: Instant, bytes_acked: u32, mss: u32) {
        if self.cwnd < self.ssthresh {
            // RFC 5681 §3.1 (with RFC 3465 L=2): slow start grows by min(N, SMSS)... per ACK;
            // appropriate byte counting lets one ACK covering two segments grow by two.
            self.cwnd = self.cwnd.saturating_add(bytes_acked.min(2 * mss));
        } else {
            // RFC 5681 §3.1 eq. 3 via byte counting: one SMSS per cwnd of acknowledged bytes.
            self.bytes_acked = self.bytes_acked.saturating_add(bytes_acked);
            if self.bytes_acked >= self.cwnd {
                self.bytes_acked -= self.cwnd;
                self.cwnd = self.cwnd.saturating_add(mss);
            }
        }
    }

    fn on_enter_recovery(&mut self, _now: Instant, flight_size: u32, mss: u32) {
        // RFC 5681 §3.2 step 2: ssthresh = max(FlightSize / 2, 2*SMSS), eq. 4.
        self.ssthresh = (flight_size / 2).max(2 * mss);
        // Step 3: cwnd = ssthresh + 3*SMSS (the three segments that left the network).
        self.cwnd = self.ssthresh + 3 * mss;
        self.bytes_acked = 0;
    }

    fn on_recovery_dup_ack(&mut self, mss: u32) {
        // RFC 6582 §3.2 step 4 (RFC 5681 §3.2 step 4): inflate by one SMSS.
        self.cwnd = self.cwnd.saturating_add(mss);
    }

    fn on_partial_ack(&mut self, bytes_acked: u32, mss: u32) {
        // RFC 6582 §3.2 step 5: deflate by the amount acked, then add back one SMSS if at least
        // one SMSS was acked.
        self.cwnd = self.cwnd.saturating_sub(bytes_acked);
        if bytes_acked >= mss {
            self.cwnd = self.cwnd.saturating_add(mss);
        }
        self.cwnd = self.cwnd.max(mss);
    }

    fn on_exit_recovery(&mut self, flight_size: u32, mss: u32) {
        // RFC 6582 §3.2 step 6, option (1): cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS).
        self.cwnd = self.ssthresh.min(flight_size.max(mss) + mss);
    }

    fn on_rto(&mut self, flight_size: u32, mss: u32) {
        // RFC 5681 §3.1 eq. 4 and "LW": ssthresh = max(FlightSize/2, 2*SMSS), cwnd = 1 SMSS.
        self.ssthresh = (flight_size / 2).max(2 * mss);
        self.cwnd = mss;
        self.bytes_acked = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_start_then_avoidance_then_recovery() {
        let mss = 1000;
        let mut cc = NewReno::new(mss, 10);
        assert_eq!(cc.cwnd(), 10_000);
        cc.on_ack(Instant::ZERO, 1000, mss);
        assert_eq!(cc.cwnd(), 11_000);
        cc.on_enter_recovery(Instant::ZERO, 11_000, mss);
        assert_eq!(cc.ssthresh(), 5_500);
        assert_eq!(cc.cwnd(), 8_500);
        cc.on_recovery_dup_ack(mss);
        assert_eq!(cc.cwnd(), 9_500);
        cc.on_partial_ack(3000, mss);
        assert_eq!(cc.cwnd(), 7_500);
        cc.on_exit_recovery(4000, mss);
        assert_eq!(cc.cwnd(), 5_000);
        // Congestion avoidance: +1 MSS per cwnd acked.
        cc.ssthresh = 5_000;
        for _ in 0..5 {
            cc.on_ack(Instant::ZERO, 1000, mss);
        }
        assert_eq!(cc.cwnd(), 6_000);
        cc.on_rto(6_000, mss);
        assert_eq!((cc.cwnd(), cc.ssthresh()), (1000, 3000));
    }
}
