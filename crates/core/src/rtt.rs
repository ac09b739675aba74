//! Round-trip time estimation and the retransmission timeout, RFC 6298.

use std::time::Duration;

/// SRTT, RTTVAR and the RTO with its backoff.
#[derive(Clone, Debug)]
pub struct RttEstimator {
    srtt: Option<Duration>,
    rttvar: Duration,
    min_rtt: Option<Duration>,
    rto: Duration,
    backoff: u32,
    min_rto: Duration,
    max_rto: Duration,
}

/// RFC 6298 §2: the clock granularity G (we measure in microseconds, timestamps in ms).
const GRANULARITY: Duration = Duration::from_millis(1);

impl RttEstimator {
    /// Before any sample: RTO = initial (RFC 6298 §2.1).
    pub fn new(initial_rto: Duration, min_rto: Duration, max_rto: Duration) -> Self {
        RttEstimator {
            srtt: None,
            rttvar: Duration::ZERO,
            min_rtt: None,
            rto: initial_rto.clamp(min_rto, max_rto),
            backoff: 0,
            min_rto,
            max_rto,
        }
    }

    /// Takes one RTT measurement R.
    pub fn on_sample(&mut self, r: Duration) {
        self.min_rtt = Some(self.min_rtt.map_or(r, |m| m.min(r)));
        match self.srtt {
            // RFC 6298 §2.2: SRTT <- R, RTTVAR <- R/2.
            None => {
                self.srtt = Some(r);
                self.rttvar = r / 2;
            }
            // RFC 6298 §2.3: RTTVAR <- 3/4 RTTVAR + 1/4 |SRTT - R'|, SRTT <- 7/8 SRTT + 1/8 R'.
            Some(srtt) => {
                let diff = srtt.abs_diff(r);
                self.rttvar = (self.rttvar * 3 + diff) / 4;
                self.srtt = Some((srtt * 7 + r) / 8);
            }
        }
        // RFC 6298 §5.7: a new sample after backoff collapses the backoff.
        self.backoff = 0;
        self.recompute();
    }

    fn recompute(&mut self) {
        if let Some(srtt) = self.srtt {
            // RFC 6298 §2.3: RTO <- SRTT + max(G, K*RTTVAR), K = 4; §2.4 and §2.5 bound it.
            let rto = srtt + GRANULARITY.max(self.rttvar * 4);
            self.rto = rto.clamp(self.min_rto, self.max_rto);
        }
    }

    /// The current RTO including backoff (RFC 6298 §5.5: doubled per expiry, capped at max).
    pub fn rto(&self) -> Duration {
        let factor = 1u32.checked_shl(self.backoff.min(31)).unwrap_or(u32::MAX);
        self.rto.saturating_mul(factor).min(self.max_rto)
    }

    /// RFC 6298 §5.7: after a SYN timed out, with no RTT measured, data starts with a 3 s RTO.
    pub fn on_syn_timeout_handshake_done(&mut self) {
        if self.srtt.is_none() {
            self.rto = self.rto.max(Duration::from_secs(3)).min(self.max_rto);
        }
        self.backoff = 0;
    }

    /// RFC 6298 §5.5: the timer expired; back off.
    pub fn on_timeout(&mut self) {
        self.backoff = self.backoff.saturating_add(1);
    }

    /// Resets the backoff (an ACK for new data arrived).
    pub fn reset_backoff(&mut self) {
        self.backoff = 0;
    }

    /// Smoothed RTT, once measured.
    pub fn srtt(&self) -> Option<Duration> {
        self.srtt
    }

    /// RTT variation.
    pub fn rttvar(&self) -> Duration {
        self.rttvar
    }

    /// The smallest RTT seen.
    pub fn min_rtt(&self) -> Option<Duration> {
        self.min_rtt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn follows_rfc6298_arithmetic() {
        let mut e = RttEstimator::new(ms(1000), ms(200), ms(120_000));
        assert_eq!(e.rto(), ms(1000));
        e.on_sample(ms(100));
        // SRTT 100, RTTVAR 50, RTO = 100 + 200 = 300.
        assert_eq!(e.srtt(), Some(ms(100)));
        assert_eq!(e.rto(), ms(300));
        e.on_sample(ms(200));
        // RTTVAR = 3/4*50 + 1/4*100 = 62.5; SRTT = 87.5+25 = 112.5; RTO = 112.5 + 250 = 362.5.
        assert_eq!(e.rto(), Duration::from_micros(362_500));
        e.on_timeout();
        e.on_timeout();
        assert_eq!(e.rto(), Duration::from_micros(1_450_000));
        for _ in 0..40 {
            e.on_timeout();
        }
        assert_eq!(e.rto(), ms(120_000), "backoff is capped at max RTO");
        // A tiny RTT is floored at min RTO.
        let mut e = RttEstimator::new(ms(1000), ms(200), ms(120_000));
        e.on_sample(Duration::from_micros(50));
        assert_eq!(e.rto(), ms(200));
    }
}
