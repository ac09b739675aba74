//! CUBIC (RFC 9438) with HyStart++ (RFC 9406) for the initial slow start.
//!
//! Arithmetic is in f64: windows in segments (as the RFC writes them) and time in seconds; the
//! trait's byte windows are converted at the edges with the sender's MSS. cwnd itself is kept
//! in f64 bytes so that the fractional growth of one ACK (RFC 9438 §4.4: (target - cwnd)/cwnd
//! per segment) is not lost to rounding.

use super::hystart::HyStart;
use super::{initial_window, AckSample, CongestionControl};
use crate::time::Instant;
use std::time::Duration;

/// RFC 9438 §4.1.1 / §4.6: the multiplicative decrease factor β_cubic.
pub const BETA_CUBIC: f64 = 0.7;
/// RFC 9438 §4.1.1 / §4.2: the constant C that sets how aggressive the cubic curve is.
pub const C_CUBIC: f64 = 0.4;
/// RFC 9438 §4.3 eq. 3: α_cubic = 3(1 - β_cubic)/(1 + β_cubic), the Reno-friendly additive
/// increase that gives the same average window as Reno (α = 1, β = 0.5).
pub const ALPHA_CUBIC: f64 = 3.0 * (1.0 - BETA_CUBIC) / (1.0 + BETA_CUBIC);
/// RFC 3465 §2.2: L = 2 segments for the standard slow start that follows a loss or timeout
/// (HyStart++ only runs the initial one, RFC 9406 §4.2).
const RESTART_ABC_LIMIT_SEGMENTS: u32 = 2;

/// RFC 9438 §4.2 eq. 2: K = cbrt((W_max - cwnd_epoch) / C), seconds; windows in segments.
/// Zero when the epoch starts at or above W_max (the curve then starts at its plateau).
pub fn cubic_k(w_max: f64, cwnd_epoch: f64) -> f64 {
    ((w_max - cwnd_epoch).max(0.0) / C_CUBIC).cbrt()
}

/// RFC 9438 §4.2 eq. 1: W_cubic(t) = C * (t - K)^3 + W_max, segments; t and K in seconds.
pub fn w_cubic(t: f64, k: f64, w_max: f64) -> f64 {
    C_CUBIC * (t - k).powi(3) + w_max
}

/// One congestion-avoidance epoch (RFC 9438 §4.2: t counts from its start).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Epoch {
    /// t_epoch, moved forward past application-limited stretches (RFC 9438 §5.8).
    start: Instant,
    /// K, seconds.
    k: f64,
    /// W_est, segments (RFC 9438 §4.3).
    w_est: f64,
}

/// Everything a spurious congestion event or timeout changed (RFC 9438 §4.9).
#[derive(Clone, Debug)]
struct Snapshot {
    cwnd: f64,
    ssthresh: u32,
    w_max: f64,
    cwnd_prior: f64,
    epoch: Option<Epoch>,
    after_timeout: bool,
    hystart: HyStart,
}

/// CUBIC state for one connection.
#[derive(Clone, Debug)]
pub struct Cubic {
    /// cwnd, bytes (fractional: growth per ACK is often below a byte).
    cwnd: f64,
    /// ssthresh, bytes.
    ssthresh: u32,
    /// W_max, segments: the window the cubic curve plateaus at (RFC 9438 §4.2, §4.7).
    w_max: f64,
    /// cwnd_prior, segments: cwnd when ssthresh was last set (RFC 9438 §4.3, §4.6).
    cwnd_prior: f64,
    /// The current congestion-avoidance epoch; None until the first ACK in avoidance.
    epoch: Option<Epoch>,
    /// The next epoch is the first after a timeout (RFC 9438 §4.8).
    after_timeout: bool,
    /// When the sender stopped being cwnd-limited, if it is not now (RFC 9438 §5.8).
    app_limited_since: Option<Instant>,
    /// Smoothed RTT (RFC 6298 §2 gains) for W_cubic(t + RTT) (RFC 9438 §4.2).
    srtt: Option<Duration>,
    /// RFC 9438 §4.7: fast convergence on (the RFC's SHOULD; Linux's default).
    fast_convergence: bool,
    /// HyStart++ for the initial slow start (RFC 9438 §4.10 recommends RFC 9406).
    hystart: HyStart,
    /// State before the last congestion event or timeout, for `undo` (RFC 9438 §4.9).
    prior: Option<Snapshot>,
}

impl Cubic {
    /// A controller starting at the RFC 6928 initial window in HyStart++ slow start.
    pub fn new(mss: u32, initial_segments: u32) -> Self {
        Cubic {
            cwnd: f64::from(initial_window(mss, initial_segments)),
            // RFC 5681 §3.1: ssthresh may start arbitrarily high.
            ssthresh: u32::MAX,
            w_max: 0.0,
            cwnd_prior: 0.0,
            epoch: None,
            after_timeout: false,
            app_limited_since: None,
            srtt: None,
            fast_convergence: true,
            hystart: HyStart::new(),
            prior: None,
        }
    }

    /// Turns RFC 9438 §4.7 fast convergence on or off (on by default).
    #[cfg(test)]
    pub fn set_fast_convergence(&mut self, on: bool) {
        self.fast_convergence = on;
    }

    /// W_max, segments.
    #[cfg(test)]
    pub fn w_max(&self) -> f64 {
        self.w_max
    }

    /// K of the current epoch, seconds, if an epoch has started.
    #[cfg(test)]
    pub fn k(&self) -> Option<f64> {
        self.epoch.map(|e| e.k)
    }

    /// The HyStart++ state.
    #[cfg(test)]
    pub fn hystart(&self) -> &HyStart {
        &self.hystart
    }

    fn in_slow_start(&self) -> bool {
        self.cwnd < f64::from(self.ssthresh)
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            cwnd: self.cwnd,
            ssthresh: self.ssthresh,
            w_max: self.w_max,
            cwnd_prior: self.cwnd_prior,
            epoch: self.epoch,
            after_timeout: self.after_timeout,
            hystart: self.hystart.clone(),
        }
    }

    fn update_srtt(&mut self, rtt: Duration) {
        // RFC 6298 §2.3: SRTT = 7/8 SRTT + 1/8 R'.
        self.srtt = Some(match self.srtt {
            None => rtt,
            Some(s) => (s * 7 + rtt) / 8,
        });
    }

    /// HyStart++ bookkeeping for one ACK in slow start (RTT samples and round ends).
    fn hystart_track(&mut self, ack: &AckSample) {
        if !self.hystart.active() {
            return;
        }
        if let Some(rtt) = ack.rtt {
            self.hystart.on_rtt_sample(rtt);
        }
        if ack.round_end && self.hystart.on_round_end() {
            // RFC 9406 §4.2: after CSS_ROUNDS, congestion avoidance with ssthresh = cwnd.
            self.ssthresh = self.cwnd();
        }
    }

    fn slow_start(&mut self, ack: &AckSample) {
        let grow = if self.hystart.active() {
            // RFC 9406 §4.2: min(N, L*SMSS), divided by CSS_GROWTH_DIVISOR in CSS.
            self.hystart.increase(ack.delivered, ack.mss)
        } else {
            // RFC 5681 §3.1 with RFC 3465 §2.2 L = 2.
            ack.delivered
                .min(RESTART_ABC_LIMIT_SEGMENTS.saturating_mul(ack.mss))
        };
        self.cwnd += f64::from(grow);
        self.hystart_track(ack);
    }

    /// Starts a congestion-avoidance epoch at `now` with cwnd_epoch = the current cwnd.
    fn start_epoch(&mut self, now: Instant, mss: f64) -> Epoch {
        let cwnd_epoch = self.cwnd / mss;
        let k = if self.after_timeout || self.w_max < cwnd_epoch {
            // RFC 9438 §4.8: the first avoidance after a timeout uses K = 0 and W_max =
            // cwnd_epoch. The same holds whenever the epoch starts at or above W_max (e.g.
            // HyStart++ left slow start without a loss): the curve starts at its plateau.
            self.w_max = cwnd_epoch;
            0.0
        } else {
            // RFC 9438 §4.2 eq. 2.
            cubic_k(self.w_max, cwnd_epoch)
        };
        self.after_timeout = false;
        Epoch {
            start: now,
            k,
            // RFC 9438 §4.3 / §4.8: W_est starts at cwnd_epoch.
            w_est: cwnd_epoch,
        }
    }

    fn congestion_avoidance(&mut self, ack: &AckSample) {
        let mss = f64::from(ack.mss.max(1));
        let mut epoch = match self.epoch {
            Some(e) => e,
            None => self.start_epoch(ack.now, mss),
        };
        let cwnd = self.cwnd / mss;
        // Byte counting: an ACK covering several segments counts for all of them.
        let acked = f64::from(ack.delivered) / mss;
        let t = (ack.now - epoch.start).as_secs_f64();

        // RFC 9438 §4.3 eq. 4: W_est += α_cubic * segments_acked / cwnd, with α_cubic = 1
        // once W_est has reached cwnd_prior.
        let alpha = if epoch.w_est >= self.cwnd_prior {
            1.0
        } else {
            ALPHA_CUBIC
        };
        epoch.w_est += alpha * acked / cwnd;

        let new_cwnd = if w_cubic(t, epoch.k, self.w_max) < epoch.w_est {
            // RFC 9438 §4.3: Reno-friendly region, cwnd = W_est (never below cwnd: an ACK
            // does not shrink the window, the §4.2 lower bound on target).
            cwnd.max(epoch.w_est)
        } else {
            // RFC 9438 §4.2: target = W_cubic(t + RTT) bounded to [cwnd, 1.5 cwnd], RTT the
            // smoothed RTT (the connection minimum until one is measured).
            let rtt = self.srtt.or(ack.min_rtt).unwrap_or_default();
            let target =
                w_cubic(t + rtt.as_secs_f64(), epoch.k, self.w_max).clamp(cwnd, 1.5 * cwnd);
            // RFC 9438 §4.4 (concave, cwnd < W_max) and §4.5 (convex, cwnd >= W_max): the
            // same rule, cwnd += (target - cwnd)/cwnd per acknowledged segment.
            cwnd + (target - cwnd) / cwnd * acked
        };
        self.cwnd = (new_cwnd * mss).min(f64::from(u32::MAX));
        self.epoch = Some(epoch);
    }

    /// RFC 9438 §4.6 / §4.7: W_max, cwnd_prior and ssthresh from the cwnd at a congestion
    /// event or timeout.
    fn reduce(&mut self, mss: u32) {
        let cwnd = self.cwnd / f64::from(mss.max(1));
        // RFC 9438 §4.7: fast convergence. A loss below the last W_max means a new flow is
        // taking bandwidth: release some by plateauing lower.
        self.w_max = if self.fast_convergence && cwnd < self.w_max {
            cwnd * (1.0 + BETA_CUBIC) / 2.0
        } else {
            cwnd
        };
        self.cwnd_prior = cwnd;
        // RFC 9438 §4.6: ssthresh = max(β_cubic * cwnd, 2 SMSS). The RFC writes flight_size;
        // it allows cwnd when growth is held while not cwnd-limited, which on_ack does
        // (RFC 7661), so cwnd it is (as Linux).
        let ssthresh = (self.cwnd * BETA_CUBIC).min(f64::from(u32::MAX)) as u32;
        self.ssthresh = ssthresh.max(mss.saturating_mul(2));
        self.epoch = None;
        self.app_limited_since = None;
        // RFC 9406 §4.2: a loss ends HyStart++ (and slow start).
        self.hystart.finish();
    }
}

impl CongestionControl for Cubic {
    fn name(&self) -> &'static str {
        "cubic"
    }

    fn cwnd(&self) -> u32 {
        self.cwnd as u32
    }

    fn ssthresh(&self) -> u32 {
        self.ssthresh
    }

    fn on_ack(&mut self, ack: &AckSample) {
        if let Some(rtt) = ack.rtt {
            self.update_srtt(rtt);
        }
        if !ack.cwnd_limited {
            // RFC 9438 §4.2 / RFC 7661 §4.1: no growth while the application sets the pace.
            // RFC 9438 §5.8: t must not include such periods; remember when this one began.
            self.app_limited_since.get_or_insert(ack.now);
            if self.in_slow_start() {
                self.hystart_track(ack);
            }
            return;
        }
        if let Some(since) = self.app_limited_since.take() {
            // RFC 9438 §5.8: shift t_epoch past the application-limited stretch, so the
            // curve resumes where it stopped (Linux shifts epoch_start after idle the same way).
            if let Some(epoch) = self.epoch.as_mut() {
                epoch.start += ack.now - since;
            }
        }
        if self.in_slow_start() {
            self.slow_start(ack);
        } else {
            self.congestion_avoidance(ack);
        }
    }

    fn on_congestion_event(&mut self, _now: Instant, _flight_size: u32, mss: u32) {
        self.prior = Some(self.snapshot());
        // cwnd stays: the sender's PRR moves it to ssthresh (RFC 6937).
        self.reduce(mss);
    }

    fn set_cwnd(&mut self, cwnd: u32) {
        self.cwnd = f64::from(cwnd);
    }

    fn on_recovery_end(&mut self, _now: Instant, mss: u32) {
        // RFC 6937 §3: cwnd = ssthresh. The next avoidance ACK starts the epoch (RFC 9438
        // §4.2: t counts from the start of congestion avoidance, cwnd_epoch = this cwnd).
        self.cwnd = f64::from(self.ssthresh.max(mss));
        self.epoch = None;
    }

    fn on_rto(&mut self, _now: Instant, _flight_size: u32, mss: u32) {
        self.prior = Some(self.snapshot());
        // RFC 9438 §4.8: ssthresh with β_cubic as in §4.6, cwnd as Reno (RFC 5681 §3.1: one
        // segment), and the next epoch uses K = 0, W_max = W_est = cwnd_epoch.
        self.reduce(mss);
        self.cwnd = f64::from(mss);
        self.after_timeout = true;
    }

    fn undo(&mut self) {
        // RFC 9438 §4.9: a spurious event restores cwnd, ssthresh, W_max, cwnd_prior, K and
        // the epoch (with its W_est) from before it.
        let Some(prior) = self.prior.take() else {
            return;
        };
        self.cwnd = self.cwnd.max(prior.cwnd);
        self.ssthresh = prior.ssthresh;
        self.w_max = prior.w_max;
        self.cwnd_prior = prior.cwnd_prior;
        self.epoch = prior.epoch;
        self.after_timeout = prior.after_timeout;
        self.hystart = prior.hystart;
    }
}

#[cfg(test)]
mod tests {
    use super::super::hystart::Phase;
    use super::*;

    const MSS: u32 = 1000;

    fn sample(now: Instant, delivered: u32, rtt: Duration, round_end: bool) -> AckSample {
        AckSample {
            now,
            delivered,
            rtt: Some(rtt),
            min_rtt: Some(rtt),
            flight_size: 0,
            mss: MSS,
            round_end,
            cwnd_limited: true,
        }
    }

    fn segments(cc: &Cubic) -> f64 {
        cc.cwnd / f64::from(MSS)
    }

    /// A controller that saw a loss at `loss_at` segments and finished recovery.
    fn after_loss(loss_at: u32) -> Cubic {
        let mut cc = Cubic::new(MSS, 10);
        cc.set_cwnd(loss_at * MSS);
        cc.on_congestion_event(Instant::ZERO, loss_at * MSS, MSS);
        cc.on_recovery_end(Instant::ZERO, MSS);
        cc
    }

    /// One round trip: a window's worth of ACKs, `per_ack` segments each, spread evenly over
    /// `rtt` from `start`; the last ends the round. Returns the round's end.
    fn drive_round(cc: &mut Cubic, start: Instant, rtt: Duration, per_ack: u32) -> Instant {
        let window = (cc.cwnd() / MSS).max(1);
        let acks = window.div_ceil(per_ack);
        for i in 1..=acks {
            let now = start + rtt * i / acks;
            cc.on_ack(&sample(now, per_ack * MSS, rtt, i == acks));
        }
        start + rtt
    }

    #[test]
    fn k_and_w_cubic_match_hand_computation() {
        // K = cbrt((W_max - cwnd_epoch) / C): W_max = 100, cwnd_epoch = 50,
        // (100 - 50) / 0.4 = 125, cbrt(125) = 5 s.
        let k = cubic_k(100.0, 50.0);
        println!("K = cbrt((W_max - cwnd_epoch)/C) = cbrt((100 - 50)/0.4) = {k}");
        assert!((k - 5.0).abs() < 1e-12);
        // W_cubic(t) = C (t - K)^3 + W_max.
        // t = 3: 0.4 * (3 - 5)^3 + 100 = 0.4 * -8 + 100 = 96.8
        // t = 5: 0.4 * 0 + 100 = 100
        // t = 7: 0.4 * 8 + 100 = 103.2
        // t = 0: 0.4 * -125 + 100 = 50 = cwnd_epoch
        for (t, want) in [(3.0, 96.8), (5.0, 100.0), (7.0, 103.2), (0.0, 50.0)] {
            let got = w_cubic(t, k, 100.0);
            println!("W_cubic({t}) = 0.4 * ({t} - 5)^3 + 100 = {got}");
            assert!(
                (got - want).abs() < 1e-9,
                "W_cubic({t}) = {got}, want {want}"
            );
        }
        // After a loss at W_max = 1000: cwnd_epoch = 0.7 * 1000 = 700,
        // K = cbrt(300 / 0.4) = cbrt(750) = 9.0856 s (9.0856^3 = 749.99).
        let k = cubic_k(1000.0, 700.0);
        assert!((k - 9.0856).abs() < 1e-4, "K = {k}");
        // An epoch above W_max starts on the plateau.
        assert_eq!(cubic_k(100.0, 120.0), 0.0);
        // α_cubic = 3 * 0.3 / 1.7 = 0.5294...
        assert!((ALPHA_CUBIC - 0.9 / 1.7).abs() < 1e-12);
    }

    #[test]
    fn loss_sets_ssthresh_to_beta_cwnd_and_epoch_k() {
        let mut cc = Cubic::new(MSS, 10);
        cc.set_cwnd(100 * MSS);
        cc.on_congestion_event(Instant::ZERO, 100 * MSS, MSS);
        // RFC 9438 §4.6: cwnd is left to PRR, ssthresh = 0.7 * 100 segments.
        assert_eq!(cc.cwnd(), 100 * MSS);
        assert_eq!(cc.ssthresh(), 70 * MSS);
        assert_eq!(cc.w_max(), 100.0);
        cc.on_recovery_end(Instant::ZERO, MSS);
        assert_eq!(cc.cwnd(), 70 * MSS);
        // The first avoidance ACK starts the epoch: K = cbrt((100 - 70) / 0.4) = cbrt(75).
        cc.on_ack(&sample(
            Instant::from_millis(1),
            MSS,
            Duration::from_millis(100),
            false,
        ));
        let k = cc.k().unwrap_or(f64::NAN);
        assert!((k - 75f64.cbrt()).abs() < 1e-9, "K = {k}");
        // Small windows: ssthresh never below 2 segments.
        let mut cc = Cubic::new(MSS, 2);
        cc.on_congestion_event(Instant::ZERO, 2 * MSS, MSS);
        assert_eq!(cc.ssthresh(), 2 * MSS);
    }

    #[test]
    fn growth_is_concave_below_w_max_then_convex_above() {
        let rtt = Duration::from_millis(100);
        let mut cc = after_loss(100);
        let mut now = Instant::ZERO;
        let mut curve = vec![segments(&cc)];
        for _ in 0..100 {
            now = drive_round(&mut cc, now, rtt, 1);
            curve.push(segments(&cc));
        }
        let growth: Vec<f64> = curve.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(
            growth.iter().all(|&g| g >= 0.0),
            "cwnd never shrinks on ACKs"
        );
        // K = cbrt(75) = 4.22 s = 42 RTTs: the plateau at W_max = 100.
        let at_k = curve[42];
        assert!((at_k - 100.0).abs() < 2.0, "cwnd at t = K: {at_k}");
        let mean = |r: std::ops::Range<usize>| {
            let n = r.len() as f64;
            growth[r].iter().sum::<f64>() / n
        };
        let (early, plateau, late) = (mean(0..10), mean(37..47), mean(90..100));
        println!("growth per RTT: early {early:.3}, plateau {plateau:.3}, late {late:.3}");
        // Concave: growth slows as cwnd approaches W_max ...
        assert!(early > 3.0 * plateau, "concave: {early} vs {plateau}");
        for w in growth[..30].windows(5) {
            assert!(w[4] <= w[0] + 1e-6, "growth falls while concave: {w:?}");
        }
        // ... and convex: it speeds up again beyond W_max.
        assert!(late > 3.0 * plateau, "convex: {late} vs {plateau}");
        for w in growth[60..].windows(5) {
            assert!(w[4] >= w[0] - 1e-6, "growth rises while convex: {w:?}");
        }
        assert!(curve[100] > 100.0 + 20.0, "well past W_max: {}", curve[100]);
    }

    #[test]
    fn reno_friendly_region_dominates_at_short_rtt() {
        // 1 ms RTT, small window: K = cbrt(3 / 0.4) = 1.96 s = ~1960 RTTs, so the cubic curve
        // barely moves while W_est grows by α per RTT (1 once past cwnd_prior = 10).
        let rtt = Duration::from_millis(1);
        let mut cc = after_loss(10);
        let mut now = Instant::ZERO;
        for _ in 0..50 {
            now = drive_round(&mut cc, now, rtt, 1);
        }
        let epoch = cc.epoch.unwrap_or(Epoch {
            start: Instant::ZERO,
            k: f64::NAN,
            w_est: f64::NAN,
        });
        let t = (now - epoch.start).as_secs_f64();
        let cubic = w_cubic(t, epoch.k, cc.w_max());
        println!(
            "after 50 RTTs: cwnd {:.2}, W_est {:.2}, W_cubic {cubic:.2}",
            segments(&cc),
            epoch.w_est
        );
        assert!(cubic < 8.0, "W_cubic hardly grew: {cubic}");
        // Reno-like growth: 3 segments at α=0.53 (~6 RTTs), then ~1 per RTT.
        assert!(segments(&cc) > 40.0, "cwnd {}", segments(&cc));
        assert!((segments(&cc) - epoch.w_est).abs() < 1e-9);
    }

    #[test]
    fn fast_convergence_lowers_w_max() {
        let mut cc = after_loss(100);
        cc.set_cwnd(80 * MSS);
        cc.on_congestion_event(Instant::ZERO, 80 * MSS, MSS);
        // RFC 9438 §4.7: 80 < W_max = 100, so W_max = 80 * (1 + 0.7) / 2 = 68.
        assert!((cc.w_max() - 68.0).abs() < 1e-9, "W_max {}", cc.w_max());
        assert_eq!(cc.ssthresh(), 56 * MSS);

        let mut cc = after_loss(100);
        cc.set_fast_convergence(false);
        cc.set_cwnd(80 * MSS);
        cc.on_congestion_event(Instant::ZERO, 80 * MSS, MSS);
        assert_eq!(cc.w_max(), 80.0);
        // A loss above the old W_max sets W_max to cwnd either way.
        let mut cc = after_loss(100);
        cc.set_cwnd(120 * MSS);
        cc.on_congestion_event(Instant::ZERO, 120 * MSS, MSS);
        assert_eq!(cc.w_max(), 120.0);
    }

    #[test]
    fn undo_restores_everything() {
        let rtt = Duration::from_millis(50);
        let mut cc = after_loss(100);
        let mut now = Instant::ZERO;
        for _ in 0..5 {
            now = drive_round(&mut cc, now, rtt, 1);
        }
        let before = cc.snapshot();
        assert!(before.epoch.is_some());
        cc.on_congestion_event(now, cc.cwnd(), MSS);
        cc.set_cwnd(cc.ssthresh());
        cc.on_recovery_end(now, MSS);
        assert!(cc.cwnd < before.cwnd);
        cc.undo();
        assert_eq!(cc.cwnd, before.cwnd);
        assert_eq!(cc.ssthresh, before.ssthresh);
        assert_eq!(cc.w_max, before.w_max);
        assert_eq!(cc.cwnd_prior, before.cwnd_prior);
        assert_eq!(cc.epoch, before.epoch, "K, t_epoch and W_est");
        // The same for a timeout.
        cc.on_rto(now, cc.cwnd(), MSS);
        assert_eq!(cc.cwnd(), MSS);
        cc.undo();
        assert_eq!(cc.cwnd, before.cwnd);
        assert_eq!(cc.ssthresh, before.ssthresh);
        assert_eq!(cc.epoch, before.epoch);
        assert!(!cc.after_timeout);
        // Nothing to undo twice.
        cc.undo();
        assert_eq!(cc.cwnd, before.cwnd);
    }

    #[test]
    fn timeout_restarts_with_k_zero_at_cwnd_epoch() {
        let rtt = Duration::from_millis(100);
        let mut cc = after_loss(100); // W_max 100, cwnd 70
        cc.on_rto(Instant::ZERO, 70 * MSS, MSS);
        // RFC 9438 §4.8: cwnd = 1 segment, ssthresh = 0.7 * 70 = 49 segments.
        assert_eq!((cc.cwnd(), cc.ssthresh()), (MSS, 49 * MSS));
        let mut now = Instant::ZERO;
        while cc.cwnd() < cc.ssthresh() {
            now = drive_round(&mut cc, now, rtt, 1);
            assert!(
                cc.hystart().phase() == Phase::Done,
                "no HyStart++ after a timeout"
            );
        }
        cc.on_ack(&sample(now + rtt / 10, MSS, rtt, false));
        // K = 0 and W_max = cwnd_epoch, the cwnd avoidance began at (ssthresh = 49 segments,
        // not the old W_max of 100); W_est starts there too.
        assert_eq!(cc.k(), Some(0.0));
        assert!((49.0..50.0).contains(&cc.w_max()), "W_max {}", cc.w_max());
        let w_est = cc.epoch.map_or(f64::NAN, |e| e.w_est);
        assert!(
            w_est >= cc.w_max() && w_est < cc.w_max() + 1.0,
            "W_est {w_est}"
        );
    }

    #[test]
    fn no_growth_when_not_cwnd_limited_and_idle_time_is_not_epoch_time() {
        let rtt = Duration::from_millis(100);
        // Slow start.
        let mut cc = Cubic::new(MSS, 10);
        let limited = |now| AckSample {
            cwnd_limited: false,
            ..sample(now, 5 * MSS, rtt, false)
        };
        cc.on_ack(&limited(Instant::ZERO));
        assert_eq!(cc.cwnd(), 10 * MSS);
        // Congestion avoidance: two twins, one idle (application-limited) for 30 s midway.
        let mut busy = after_loss(100);
        let mut idle = after_loss(100);
        let mut now = Instant::ZERO;
        for _ in 0..10 {
            drive_round(&mut busy, now, rtt, 1);
            now = drive_round(&mut idle, now, rtt, 1);
        }
        let before = idle.cwnd;
        for s in 0..300 {
            idle.on_ack(&limited(now + rtt * s));
        }
        assert_eq!(idle.cwnd, before, "no growth while application-limited");
        let gap = rtt * 300;
        let mut busy_now = now;
        let mut idle_now = now + gap;
        for _ in 0..10 {
            busy_now = drive_round(&mut busy, busy_now, rtt, 1);
            idle_now = drive_round(&mut idle, idle_now, rtt, 1);
        }
        // The idle time did not count as epoch time: the curves are the same. Had it
        // counted, t would be 30 s past K = 4.2 s and cwnd would jump by 50% per ACK round.
        println!("busy {:.3} idle {:.3}", segments(&busy), segments(&idle));
        assert!(
            (busy.cwnd - idle.cwnd).abs() < 1e-3 * busy.cwnd,
            "{} vs {}",
            busy.cwnd,
            idle.cwnd
        );
        assert!(segments(&idle) < 100.0, "still concave below W_max");
    }

    #[test]
    fn hystart_leaves_slow_start_on_rtt_rise_without_loss() {
        let mut cc = Cubic::new(MSS, 10);
        let mut now = Instant::ZERO;
        // Three rounds at 40 ms: plain slow start doubles cwnd each round.
        for _ in 0..3 {
            now = drive_round(&mut cc, now, Duration::from_millis(40), 1);
        }
        assert_eq!(cc.cwnd(), 80 * MSS);
        assert_eq!(cc.hystart().phase(), Phase::SlowStart);
        // Queues build: +10 ms >= max(4 ms, 40/8 = 5 ms): CSS, growing at a quarter pace.
        let cwnd = cc.cwnd();
        now = drive_round(&mut cc, now, Duration::from_millis(50), 1);
        assert!(matches!(cc.hystart().phase(), Phase::Conservative { .. }));
        assert!(cc.cwnd() < 2 * cwnd, "CSS slowed growth: {}", cc.cwnd());
        assert_eq!(cc.ssthresh(), u32::MAX);
        // The round that entered CSS was its first; CSS_ROUNDS - 1 more end it.
        for _ in 1..super::super::hystart::CSS_ROUNDS {
            assert_eq!(cc.ssthresh(), u32::MAX);
            now = drive_round(&mut cc, now, Duration::from_millis(50), 1);
        }
        // RFC 9406 §4.2: after CSS_ROUNDS, ssthresh = cwnd, congestion avoidance.
        assert_eq!(cc.hystart().phase(), Phase::Done);
        assert_eq!(cc.ssthresh(), cc.cwnd());
        assert!(!cc.in_slow_start());
    }

    /// RFC 9438 §5.1: the average window of CUBIC under deterministic periodic loss (one loss
    /// every 1/p packets, fixed RTT) is
    ///   AVG_W_cubic = (C (3 + β) / (4 (1 - β)))^(1/4) * RTT^(3/4) / p^(3/4)
    /// and of its Reno-friendly AIMD(α_cubic, β) region
    ///   AVG_W_est = sqrt(α (1 + β) / (2 (1 - β) p)) = sqrt(3 / (2 p)) for α = α_cubic;
    /// CUBIC follows the larger of the two. Returns (simulated, formula) in segments.
    fn periodic_loss_average(rtt_secs: f64, p: f64) -> (f64, f64) {
        let rtt = Duration::from_secs_f64(rtt_secs);
        let mut cc = Cubic::new(MSS, 10);
        // The RFC's model has no fast convergence (every loss lands at the same W_max).
        cc.set_fast_convergence(false);
        let per_loss = (1.0 / p).round() as u64;
        // Warm up until the window at each loss has settled to 0.01% per cycle, then average
        // over `MEASURED` loss cycles. The slow-start overshoot decays slowly: near the
        // plateau a loss lands only C (K - T)^3 below W_max, so a few hundred cycles it takes.
        const MEASURED: u32 = 10;
        const MAX_CYCLES: u32 = 20000;
        let (mut cycles, mut measured) = (0, None::<u32>);
        let mut last_loss_window = 0.0;
        let mut since_loss = 0u64;
        let (mut sum, mut rounds) = (0.0, 0u64);
        let mut now = Instant::ZERO;
        while measured.is_none_or(|m| m < MEASURED) {
            assert!(cycles < MAX_CYCLES, "no steady state after {cycles} losses");
            if measured.is_some() {
                sum += segments(&cc);
                rounds += 1;
            }
            let window = (cc.cwnd() / MSS).max(1);
            // ~64 ACKs per round; larger ACKs exercise byte counting.
            let per_ack = (window / 64).max(1);
            let acks = window.div_ceil(per_ack);
            for i in 1..=acks {
                let at = now + rtt * i / acks;
                cc.on_ack(&sample(at, per_ack * MSS, rtt, i == acks));
                since_loss += u64::from(per_ack);
                if since_loss >= per_loss {
                    let w = segments(&cc);
                    cc.on_congestion_event(at, cc.cwnd(), MSS);
                    cc.on_recovery_end(at, MSS);
                    since_loss = 0;
                    cycles += 1;
                    measured = match measured {
                        Some(m) => Some(m + 1),
                        None if (w - last_loss_window).abs() < 0.0001 * w => Some(0),
                        None => None,
                    };
                    last_loss_window = w;
                    break;
                }
            }
            now += rtt;
        }
        let avg_cubic = (C_CUBIC * (3.0 + BETA_CUBIC) / (4.0 * (1.0 - BETA_CUBIC))).powf(0.25)
            * rtt_secs.powf(0.75)
            / p.powf(0.75);
        let avg_est = (ALPHA_CUBIC * (1.0 + BETA_CUBIC) / (2.0 * (1.0 - BETA_CUBIC) * p)).sqrt();
        (sum / rounds as f64, avg_cubic.max(avg_est))
    }

    #[test]
    fn response_function_matches_rfc_9438_section_5() {
        // Cubic-dominated (long RTT, rare loss) and Reno-friendly-dominated (short RTT).
        for (rtt, p) in [
            (0.1, 1e-4),
            (0.1, 1e-5),
            (0.1, 1e-6),
            (0.2, 1e-5),
            (0.01, 1e-3),
            (0.001, 1e-4),
        ] {
            let (sim, formula) = periodic_loss_average(rtt, p);
            let ratio = sim / formula;
            println!(
                "RTT {rtt} s, p {p:e}: simulated {sim:.1}, RFC {formula:.1}, ratio {ratio:.3}"
            );
            assert!(
                (0.8..=1.2).contains(&ratio),
                "RTT {rtt}, p {p}: ratio {ratio}"
            );
        }
    }
}
