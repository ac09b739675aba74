//! HyStart++ (RFC 9406): leave slow start when the round-trip time starts to rise, before a
//! loss does it for us, through a few rounds of Conservative Slow Start (CSS) in case the rise
//! was noise.
//!
//! The controller owning the window asks [`HyStart::increase`] how much one ACK grows cwnd,
//! feeds every RTT sample and round boundary in, and enters congestion avoidance (ssthresh =
//! cwnd) when [`HyStart::on_round_end`] says so. A loss in slow start or CSS ends HyStart++
//! ([`HyStart::finish`]); the sender reports it through `on_congestion_event`.

use std::time::Duration;

/// RFC 9406 §4.3: the lower clamp of the RTT increase that counts as a delay rise.
pub const MIN_RTT_THRESH: Duration = Duration::from_millis(4);
/// RFC 9406 §4.3: the upper clamp of that threshold.
pub const MAX_RTT_THRESH: Duration = Duration::from_millis(16);
/// RFC 9406 §4.3: the threshold is lastRoundMinRTT / MIN_RTT_DIVISOR before clamping.
pub const MIN_RTT_DIVISOR: u32 = 8;
/// RFC 9406 §4.3: RTT samples a round needs before its minimum is trusted.
pub const N_RTT_SAMPLE: u32 = 8;
/// RFC 9406 §4.3: CSS grows cwnd at a quarter of slow start's rate.
pub const CSS_GROWTH_DIVISOR: u32 = 4;
/// RFC 9406 §4.3: rounds of CSS before congestion avoidance.
pub const CSS_ROUNDS: u32 = 5;
/// RFC 9406 §4.3 / RFC 3465 §2.2: the most segments one ACK may grow cwnd by. The RFC says
/// L = infinity when the sender paces and 8 when it does not; synack does not pace yet, so 8.
pub const ABC_LIMIT_SEGMENTS: u32 = 8;

/// Where HyStart++ is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Ordinary slow start (RFC 9406 §4.2), watching for a delay rise.
    SlowStart,
    /// Conservative Slow Start after a delay rise (RFC 9406 §4.2).
    Conservative {
        /// CSS rounds completed so far.
        rounds: u32,
        /// cssBaselineMinRtt: the round minimum that triggered CSS.
        baseline: Duration,
    },
    /// HyStart++ is over (CSS ran its rounds, or a loss or timeout ended slow start).
    Done,
}

/// HyStart++ state for one connection's initial slow start.
#[derive(Clone, Debug)]
pub struct HyStart {
    phase: Phase,
    /// lastRoundMinRTT (None = infinity).
    last_round_min: Option<Duration>,
    /// currentRoundMinRTT (None = infinity).
    current_round_min: Option<Duration>,
    /// rttSampleCount for the current round.
    samples: u32,
}

impl Default for HyStart {
    fn default() -> Self {
        Self::new()
    }
}

impl HyStart {
    /// HyStart++ at the start of a connection (RFC 9406 §4.2: all minima infinite).
    pub fn new() -> Self {
        HyStart {
            phase: Phase::SlowStart,
            last_round_min: None,
            current_round_min: None,
            samples: 0,
        }
    }

    /// The current phase.
    #[cfg(test)]
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Whether HyStart++ still governs growth (slow start or CSS).
    pub fn active(&self) -> bool {
        self.phase != Phase::Done
    }

    /// Bytes one ACK delivering `delivered` bytes adds to cwnd.
    pub fn increase(&self, delivered: u32, mss: u32) -> u32 {
        // RFC 9406 §4.2: cwnd += min(N, L*SMSS) in slow start ...
        let step = delivered.min(ABC_LIMIT_SEGMENTS.saturating_mul(mss));
        match self.phase {
            Phase::SlowStart => step,
            // ... and min(N, L*SMSS) / CSS_GROWTH_DIVISOR in CSS.
            Phase::Conservative { .. } => step / CSS_GROWTH_DIVISOR,
            Phase::Done => 0,
        }
    }

    /// One RTT sample from an ACK in slow start or CSS.
    pub fn on_rtt_sample(&mut self, rtt: Duration) {
        if !self.active() {
            return;
        }
        // RFC 9406 §4.2: currentRoundMinRTT = min(currentRoundMinRTT, currRTT); count it.
        self.current_round_min = Some(self.current_round_min.map_or(rtt, |m| m.min(rtt)));
        self.samples = self.samples.saturating_add(1);
        if self.samples < N_RTT_SAMPLE {
            // RFC 9406 §4.2: only rounds with at least N_RTT_SAMPLE samples are judged.
            return;
        }
        let Some(current) = self.current_round_min else {
            return;
        };
        match self.phase {
            Phase::SlowStart => {
                let Some(last) = self.last_round_min else {
                    return;
                };
                // RFC 9406 §4.2: a delay rise of at least RttThresh ends slow start.
                if current >= last + rtt_thresh(last) {
                    self.phase = Phase::Conservative {
                        rounds: 0,
                        baseline: current,
                    };
                }
            }
            Phase::Conservative { baseline, .. } => {
                // RFC 9406 §4.2: the RTT fell below the baseline, so the exit was spurious:
                // back to slow start.
                if current < baseline {
                    self.phase = Phase::SlowStart;
                }
            }
            Phase::Done => {}
        }
    }

    /// A round ended (the ACK covering the round's SND.NXT arrived). Returns true when CSS has
    /// run its rounds and the caller should enter congestion avoidance (ssthresh = cwnd).
    pub fn on_round_end(&mut self) -> bool {
        if !self.active() {
            return false;
        }
        // RFC 9406 §4.2: at each round start lastRoundMinRTT = currentRoundMinRTT and the
        // current round starts over.
        self.last_round_min = self.current_round_min;
        self.current_round_min = None;
        self.samples = 0;
        if let Phase::Conservative { rounds, baseline } = self.phase {
            let rounds = rounds + 1;
            if rounds >= CSS_ROUNDS {
                // RFC 9406 §4.2: after CSS_ROUNDS rounds of CSS, congestion avoidance.
                self.phase = Phase::Done;
                return true;
            }
            self.phase = Phase::Conservative { rounds, baseline };
        }
        false
    }

    /// A loss or timeout ended slow start. RFC 9406 §4.2 / §4.3: HyStart++ is only for the
    /// initial slow start; later slow starts are the standard RFC 5681 ones.
    pub fn finish(&mut self) {
        self.phase = Phase::Done;
    }
}

/// RFC 9406 §4.2: RttThresh = max(MIN_RTT_THRESH, min(lastRoundMinRTT / MIN_RTT_DIVISOR,
/// MAX_RTT_THRESH)).
pub fn rtt_thresh(last_round_min: Duration) -> Duration {
    (last_round_min / MIN_RTT_DIVISOR).clamp(MIN_RTT_THRESH, MAX_RTT_THRESH)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    /// One round of `N_RTT_SAMPLE` samples of `rtt`, then the round's end.
    fn round(h: &mut HyStart, rtt: Duration) -> bool {
        for _ in 0..N_RTT_SAMPLE {
            h.on_rtt_sample(rtt);
        }
        h.on_round_end()
    }

    #[test]
    fn rtt_threshold_is_an_eighth_clamped_to_4_and_16_ms() {
        assert_eq!(rtt_thresh(ms(8)), ms(4)); // 1 ms -> clamped up to 4 ms
        assert_eq!(rtt_thresh(ms(80)), ms(10)); // 80/8
        assert_eq!(rtt_thresh(ms(400)), ms(16)); // 50 ms -> clamped down to 16 ms
    }

    #[test]
    fn exits_slow_start_when_rtt_rises_by_the_threshold() {
        let mut h = HyStart::new();
        assert!(!round(&mut h, ms(100)));
        // Threshold = 100/8 = 12.5 ms: a 12 ms rise is not enough.
        assert!(!round(&mut h, ms(112)));
        assert_eq!(h.phase(), Phase::SlowStart);
        // lastRoundMinRTT is now 112 ms; threshold 14 ms; 126 ms is a rise of exactly 14 ms.
        for _ in 0..N_RTT_SAMPLE - 1 {
            h.on_rtt_sample(ms(126));
            assert_eq!(
                h.phase(),
                Phase::SlowStart,
                "judged before N_RTT_SAMPLE samples"
            );
        }
        h.on_rtt_sample(ms(126));
        assert_eq!(
            h.phase(),
            Phase::Conservative {
                rounds: 0,
                baseline: ms(126)
            }
        );
        // CSS grows at a quarter of the slow-start rate.
        assert_eq!(h.increase(4000, 1000), 1000);
    }

    #[test]
    fn no_exit_when_rtt_rises_less_than_threshold() {
        let mut h = HyStart::new();
        // Each round's minimum rises 10 ms; from 100 ms up the threshold lastRoundMinRTT/8
        // is always above 12.5 ms, so the rise never reaches it.
        for step in 0..20 {
            assert!(!round(&mut h, ms(100 + 10 * step)));
            assert_eq!(h.phase(), Phase::SlowStart, "round {step}");
        }
        assert_eq!(h.phase(), Phase::SlowStart);
        assert_eq!(h.increase(20_000, 1000), 8000, "L = 8 segments per ACK");
    }

    #[test]
    fn css_returns_to_slow_start_when_rtt_falls() {
        let mut h = HyStart::new();
        round(&mut h, ms(50));
        round(&mut h, ms(70)); // rise of 20 ms >= 6.25 ms: CSS (baseline 70) at round end
        assert!(matches!(h.phase(), Phase::Conservative { .. }));
        for _ in 0..N_RTT_SAMPLE {
            h.on_rtt_sample(ms(69));
        }
        assert_eq!(h.phase(), Phase::SlowStart);
    }

    #[test]
    fn css_rounds_then_congestion_avoidance_and_loss_finishes() {
        let mut h = HyStart::new();
        round(&mut h, ms(50));
        for _ in 0..N_RTT_SAMPLE {
            h.on_rtt_sample(ms(70));
        }
        assert!(matches!(h.phase(), Phase::Conservative { rounds: 0, .. }));
        let mut ended = Vec::new();
        ended.push(h.on_round_end());
        for _ in 1..CSS_ROUNDS {
            ended.push(round(&mut h, ms(70)));
        }
        assert_eq!(ended, [false, false, false, false, true]);
        assert_eq!(h.phase(), Phase::Done);
        assert_eq!(h.increase(1000, 1000), 0);

        let mut h = HyStart::new();
        h.finish();
        assert!(!h.active());
        assert!(!round(&mut h, ms(10)));
    }
}
