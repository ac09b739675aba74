//! One direction of a link at run time: applies a [`LinkConfig`] to each packet.
//!
//! Every fate is decided when the packet is offered, in a fixed order, with
//! one random draw per impairment that is switched on (none on a perfect
//! link). A fixed order of draws from one seeded stream is what makes a run
//! replay exactly.

use rand::Rng;
use synack_core::Instant;

use crate::link::{GilbertElliott, LinkConfig};
use crate::queue::TransmitQueue;
use crate::{DropReason, NetStats};

/// What the channel decided for a packet it was offered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fate {
    /// Dropped on the way in or on the wire.
    Dropped(DropReason),
    /// Will arrive.
    Arrives(Arrival),
}

/// How a packet that survives will arrive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Arrival {
    /// Virtual time at which the receiver gets it.
    pub at: Instant,
    /// A bit was flipped in place.
    pub corrupted: bool,
    /// Held back by `reorder_delay`.
    pub reordered: bool,
    /// A second copy arrives right after it.
    pub duplicated: bool,
}

/// The run-time state of one link direction.
#[derive(Debug)]
pub(crate) struct Channel {
    config: LinkConfig,
    /// `None` while the bandwidth is infinite.
    queue: Option<TransmitQueue>,
    /// Latest arrival time of a packet that was not reordered: later packets
    /// never arrive before it, which keeps jittered links FIFO.
    last_arrival: Instant,
    /// Gilbert–Elliott state: true while in the bad (bursty) state.
    in_burst: bool,
    /// What happened on this direction alone.
    pub(crate) stats: NetStats,
}

impl Channel {
    pub(crate) fn new(config: LinkConfig) -> Self {
        let mut channel = Channel {
            config: LinkConfig::default(),
            queue: None,
            last_arrival: Instant::ZERO,
            in_burst: false,
            stats: NetStats::default(),
        };
        channel.reconfigure(config);
        channel
    }

    pub(crate) fn config(&self) -> &LinkConfig {
        &self.config
    }

    pub(crate) fn is_up(&self) -> bool {
        self.config.up && self.config.bandwidth_bps != Some(0)
    }

    /// Changes impairments mid-run. Packets already queued or in flight keep
    /// their schedule; a rate change applies from the current packet on.
    pub(crate) fn reconfigure(&mut self, config: LinkConfig) {
        self.queue = match (config.bandwidth_bps, self.queue.take()) {
            (None | Some(0), _) => None,
            (Some(bps), Some(mut queue)) => {
                queue.set_rate(bps);
                Some(queue)
            }
            (Some(bps), None) => Some(TransmitQueue::new(bps)),
        };
        self.config = config;
    }

    /// Decides the fate of `packet`, offered at `now`; may flip a bit in it.
    pub(crate) fn offer(&mut self, now: Instant, packet: &mut [u8], rng: &mut impl Rng) -> Fate {
        if !self.is_up() {
            return Fate::Dropped(DropReason::LinkDown);
        }
        if self.config.mtu.is_some_and(|mtu| packet.len() > mtu) {
            return Fate::Dropped(DropReason::MtuExceeded);
        }
        let on_wire = match &mut self.queue {
            None => now,
            Some(queue) => {
                if let Some(limit) = self.config.queue_limit_bytes {
                    // Tail drop counts only bytes that would wait ahead of this
                    // one; a packet offered to an idle link goes straight out.
                    let waiting = queue.waiting_bytes(now);
                    if queue.is_busy(now) && waiting.saturating_add(packet.len()) > limit {
                        return Fate::Dropped(DropReason::QueueFull);
                    }
                }
                queue.enqueue(now, packet.len())
            }
        };
        // Loss happens on the wire, after the packet used its share of the link.
        if self.draw_loss(rng) {
            return Fate::Dropped(DropReason::Lost);
        }
        let corrupted = chance(rng, self.config.corrupt) && flip_random_bit(packet, rng);
        let mut at = on_wire + self.config.delay + uniform_up_to(rng, self.config.jitter);
        at = at.max(self.last_arrival);
        let reordered = chance(rng, self.config.reorder);
        if reordered {
            at += self.config.reorder_delay;
        } else {
            self.last_arrival = at;
        }
        let duplicated = chance(rng, self.config.duplicate);
        Fate::Arrives(Arrival {
            at,
            corrupted,
            reordered,
            duplicated,
        })
    }

    fn draw_loss(&mut self, rng: &mut impl Rng) -> bool {
        let independent = chance(rng, self.config.loss);
        let burst = match self.config.burst_loss {
            Some(model) => self.draw_burst_loss(model, rng),
            None => false,
        };
        independent || burst
    }

    fn draw_burst_loss(&mut self, model: GilbertElliott, rng: &mut impl Rng) -> bool {
        let switch = if self.in_burst {
            model.bad_to_good
        } else {
            model.good_to_bad
        };
        if chance(rng, switch) {
            self.in_burst = !self.in_burst;
        }
        let loss = if self.in_burst {
            model.loss_in_bad
        } else {
            model.loss_in_good
        };
        chance(rng, loss)
    }
}

/// A Bernoulli draw that never panics: NaN and p <= 0 are never, p >= 1 always,
/// and neither extreme consumes randomness.
fn chance(rng: &mut impl Rng, p: f64) -> bool {
    if p.is_nan() || p <= 0.0 {
        return false;
    }
    if p >= 1.0 {
        return true;
    }
    rng.gen::<f64>() < p
}

/// A uniform duration in `0..=max`, whole microseconds like [`Instant`].
fn uniform_up_to(rng: &mut impl Rng, max: std::time::Duration) -> std::time::Duration {
    let max_micros = u64::try_from(max.as_micros()).unwrap_or(u64::MAX);
    if max_micros == 0 {
        return std::time::Duration::ZERO;
    }
    std::time::Duration::from_micros(rng.gen_range(0..=max_micros))
}

/// Flips one uniformly chosen bit; false for an empty packet.
fn flip_random_bit(packet: &mut [u8], rng: &mut impl Rng) -> bool {
    let bits = packet.len().saturating_mul(8);
    if bits == 0 {
        return false;
    }
    let bit = rng.gen_range(0..bits);
    match packet.get_mut(bit / 8) {
        Some(byte) => {
            *byte ^= 1 << (bit % 8);
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use std::time::Duration;

    fn rng() -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(1)
    }

    #[test]
    fn perfect_link_delivers_now_without_drawing() {
        let mut ch = Channel::new(LinkConfig::default());
        let mut r = rng();
        let before = r.clone();
        let fate = ch.offer(Instant::from_millis(3), &mut [0x45; 20], &mut r);
        assert_eq!(
            fate,
            Fate::Arrives(Arrival {
                at: Instant::from_millis(3),
                corrupted: false,
                reordered: false,
                duplicated: false
            })
        );
        assert_eq!(r, before, "a perfect link consumes no randomness");
    }

    #[test]
    fn probabilities_out_of_range_do_not_panic() {
        let mut r = rng();
        assert!(!chance(&mut r, f64::NAN));
        assert!(!chance(&mut r, -1.0));
        assert!(chance(&mut r, 2.0));
    }

    #[test]
    fn flip_changes_exactly_one_bit() {
        let mut r = rng();
        for _ in 0..100 {
            let mut p = vec![0xA5u8; 33];
            assert!(flip_random_bit(&mut p, &mut r));
            let flipped: u32 = p.iter().map(|b| (b ^ 0xA5).count_ones()).sum();
            assert_eq!(flipped, 1);
        }
        assert!(!flip_random_bit(&mut [], &mut r));
    }

    #[test]
    fn jitter_never_reorders() {
        let mut ch = Channel::new(LinkConfig::default().with_jitter(Duration::from_millis(10)));
        let mut r = rng();
        let mut last = Instant::ZERO;
        for i in 0..1000 {
            let now = Instant::from_micros(i * 100);
            match ch.offer(now, &mut [0x45; 20], &mut r) {
                Fate::Arrives(a) => {
                    assert!(a.at >= last);
                    assert!(a.at >= now && a.at <= now + Duration::from_millis(10));
                    last = a.at;
                }
                Fate::Dropped(d) => panic!("dropped: {d:?}"),
            }
        }
    }

    #[test]
    fn zero_bandwidth_is_down() {
        let mut ch = Channel::new(LinkConfig::default().with_bandwidth_bps(0));
        let fate = ch.offer(Instant::ZERO, &mut [0x45; 20], &mut rng());
        assert_eq!(fate, Fate::Dropped(DropReason::LinkDown));
    }
}
