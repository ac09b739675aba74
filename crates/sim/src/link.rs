//! How one direction of a link behaves: its configuration.
//!
//! The runtime state that goes with a configuration (queue, serializer,
//! burst-loss state) lives in [`crate::channel`].

use std::time::Duration;

/// One direction of a link. `Default` is a perfect link: no delay, infinite
/// bandwidth, no queue or MTU limit, no impairments, up.
///
/// Probabilities are per packet; values at or below 0 (and NaN) mean never,
/// values at or above 1 mean always.
///
/// # What a packet goes through
/// Offered at time `t`, in this order: dropped if the link is down, then if
/// longer than `mtu`, then if the queue is over `queue_limit_bytes`; then
/// serialized after the packets ahead of it (`bandwidth_bps`); then lost on
/// the wire (`loss`, `burst_loss`: a lost packet still used its share of the
/// link); then maybe corrupted; it arrives at serialization end + `delay` +
/// jitter, never before an earlier packet unless `reorder` held it back; a
/// duplicate arrives right behind it without using extra bandwidth.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkConfig {
    /// Propagation delay added after a packet has been serialized.
    pub delay: Duration,
    /// Uniform extra delay in `0..=jitter`. Packets still arrive in order
    /// (a packet never overtakes an earlier one) unless `reorder` holds it back.
    pub jitter: Duration,
    /// Serialization rate. `None` is infinite (no serialization delay);
    /// `Some(0)` lets nothing through (counted as `link_down`).
    /// Packets queue behind each other while the link is busy.
    pub bandwidth_bps: Option<u64>,
    /// Tail drop: a packet that would have to wait is dropped when the bytes
    /// already waiting to be serialized plus its own exceed this. Only
    /// meaningful with a finite `bandwidth_bps` (otherwise nothing ever waits).
    pub queue_limit_bytes: Option<usize>,
    /// Packets longer than this are dropped (counted as `mtu_drops`).
    pub mtu: Option<usize>,
    /// Independent loss probability.
    pub loss: f64,
    /// Optional bursty loss on top of `loss`: a packet is lost if either says so.
    pub burst_loss: Option<GilbertElliott>,
    /// Probability that a packet is delivered twice (the copy arrives right after it).
    pub duplicate: f64,
    /// Probability that a packet is held back by `reorder_delay`, so later ones overtake it.
    pub reorder: f64,
    /// How long a reordered packet is held back.
    pub reorder_delay: Duration,
    /// Probability that one random bit of the packet is flipped.
    pub corrupt: f64,
    /// `false` partitions the link: everything sent, and everything still in
    /// flight when it would arrive, is dropped (counted as `link_down`).
    pub up: bool,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            bandwidth_bps: None,
            queue_limit_bytes: None,
            mtu: None,
            loss: 0.0,
            burst_loss: None,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_delay: Duration::ZERO,
            corrupt: 0.0,
            up: true,
        }
    }
}

impl LinkConfig {
    /// A perfect link (same as `Default`).
    pub fn perfect() -> Self {
        Self::default()
    }

    /// Sets the propagation delay.
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Sets the jitter bound.
    pub fn with_jitter(mut self, jitter: Duration) -> Self {
        self.jitter = jitter;
        self
    }

    /// Sets a finite serialization rate in bits per second.
    pub fn with_bandwidth_bps(mut self, bps: u64) -> Self {
        self.bandwidth_bps = Some(bps);
        self
    }

    /// Sets the tail-drop limit on bytes waiting to be serialized.
    pub fn with_queue_limit_bytes(mut self, bytes: usize) -> Self {
        self.queue_limit_bytes = Some(bytes);
        self
    }

    /// Sets the largest packet the link carries.
    pub fn with_mtu(mut self, mtu: usize) -> Self {
        self.mtu = Some(mtu);
        self
    }

    /// Sets the independent loss probability.
    pub fn with_loss(mut self, p: f64) -> Self {
        self.loss = p;
        self
    }

    /// Adds Gilbert–Elliott burst loss.
    pub fn with_burst_loss(mut self, model: GilbertElliott) -> Self {
        self.burst_loss = Some(model);
        self
    }

    /// Sets the duplication probability.
    pub fn with_duplicate(mut self, p: f64) -> Self {
        self.duplicate = p;
        self
    }

    /// Holds a packet back by `delay` with probability `p`, letting later ones overtake it.
    pub fn with_reorder(mut self, p: f64, delay: Duration) -> Self {
        self.reorder = p;
        self.reorder_delay = delay;
        self
    }

    /// Sets the single-bit corruption probability.
    pub fn with_corrupt(mut self, p: f64) -> Self {
        self.corrupt = p;
        self
    }

    /// Sets whether the link is up (`false` partitions it).
    pub fn with_up(mut self, up: bool) -> Self {
        self.up = up;
        self
    }
}

/// The two-state Gilbert–Elliott burst-loss model.
///
/// Before each packet the state may change (good→bad with `good_to_bad`,
/// bad→good with `bad_to_good`); the packet is then lost with the current
/// state's loss probability. Mean burst length is `1 / bad_to_good` packets.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GilbertElliott {
    /// Per-packet probability of moving from the good to the bad state.
    pub good_to_bad: f64,
    /// Per-packet probability of moving from the bad back to the good state.
    pub bad_to_good: f64,
    /// Loss probability while good.
    pub loss_in_good: f64,
    /// Loss probability while bad.
    pub loss_in_bad: f64,
}

impl GilbertElliott {
    /// Gilbert's simple model: nothing lost while good, everything lost while bad.
    pub fn new(good_to_bad: f64, bad_to_good: f64) -> Self {
        GilbertElliott {
            good_to_bad,
            bad_to_good,
            loss_in_good: 0.0,
            loss_in_bad: 1.0,
        }
    }

    /// Long-run fraction of packets lost.
    pub fn stationary_loss(&self) -> f64 {
        let total = self.good_to_bad + self.bad_to_good;
        if total <= 0.0 {
            return self.loss_in_good;
        }
        let bad_share = self.good_to_bad / total;
        bad_share * self.loss_in_bad + (1.0 - bad_share) * self.loss_in_good
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_a_perfect_link() {
        let c = LinkConfig::default();
        assert!(c.up);
        assert_eq!(c.delay, Duration::ZERO);
        assert_eq!(c.bandwidth_bps, None);
        assert_eq!(c.loss, 0.0);
        assert_eq!(c, LinkConfig::perfect());
    }

    #[test]
    fn builders_set_their_field() {
        let c = LinkConfig::default()
            .with_delay(Duration::from_millis(5))
            .with_jitter(Duration::from_millis(1))
            .with_bandwidth_bps(1_000_000)
            .with_queue_limit_bytes(3000)
            .with_mtu(1500)
            .with_loss(0.1)
            .with_duplicate(0.2)
            .with_reorder(0.3, Duration::from_millis(7))
            .with_corrupt(0.4)
            .with_up(false);
        assert_eq!(c.delay, Duration::from_millis(5));
        assert_eq!(c.jitter, Duration::from_millis(1));
        assert_eq!(c.bandwidth_bps, Some(1_000_000));
        assert_eq!(c.queue_limit_bytes, Some(3000));
        assert_eq!(c.mtu, Some(1500));
        assert_eq!(c.loss, 0.1);
        assert_eq!(c.duplicate, 0.2);
        assert_eq!(
            (c.reorder, c.reorder_delay),
            (0.3, Duration::from_millis(7))
        );
        assert_eq!(c.corrupt, 0.4);
        assert!(!c.up);
    }

    #[test]
    fn gilbert_stationary_loss() {
        let g = GilbertElliott::new(0.01, 0.09);
        assert!((g.stationary_loss() - 0.1).abs() < 1e-12);
        let never = GilbertElliott::new(0.0, 0.0);
        assert_eq!(never.stationary_loss(), 0.0);
    }
}
