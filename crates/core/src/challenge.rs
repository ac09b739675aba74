//! RFC 5961 §7: a stack-wide budget for challenge ACKs, so an attacker who sprays forged RSTs,
//! SYNs or bad ACKs cannot turn the stack into an ACK cannon.
//!
//! Like Linux (`tcp_challenge_ack_limit`, after CVE-2016-5696) the budget of each one-second
//! window is drawn at random, here from [limit/2, limit]: a fixed budget shared by every
//! connection is a side channel (an off-path attacker exhausts it and counts the ACKs left over to
//! learn whether its guess hit a connection). Drawing at or below `limit` keeps the configured
//! value a hard ceiling. Constant time and memory per decision.

use crate::time::Instant;
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use std::time::Duration;

/// The window the limit applies to (RFC 5961 §7: "per second" in Linux's reading).
const WINDOW: Duration = Duration::from_secs(1);

/// The stack's challenge-ACK budget and its counters.
#[derive(Debug)]
pub(crate) struct ChallengeAckLimiter {
    rng: ChaCha20Rng,
    window_start: Option<Instant>,
    budget_left: u32,
}

impl ChallengeAckLimiter {
    /// A limiter whose random budgets come from `seed` (the stack's seed, so simulations replay).
    pub fn new(seed: u64) -> Self {
        ChallengeAckLimiter {
            rng: ChaCha20Rng::seed_from_u64(seed),
            window_start: None,
            budget_left: 0,
        }
    }

    /// Whether one more challenge ACK may leave at `now` under a limit of `limit` per second;
    /// spends one from the budget if so.
    pub fn allow(&mut self, now: Instant, limit: u32) -> bool {
        let expired = match self.window_start {
            Some(start) => now.saturating_duration_since(start) >= WINDOW,
            None => true,
        };
        if expired {
            self.window_start = Some(now);
            self.budget_left = self.draw_budget(limit);
        }
        if self.budget_left == 0 {
            return false;
        }
        self.budget_left -= 1;
        true
    }

    /// A budget in [ceil(limit/2), limit].
    fn draw_budget(&mut self, limit: u32) -> u32 {
        let half = limit / 2;
        let spread = u64::from(limit - half) + 1;
        half + (self.rng.next_u64() % spread) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at_ms(ms: u64) -> Instant {
        Instant::ZERO + Duration::from_millis(ms)
    }

    #[test]
    fn budget_is_between_half_the_limit_and_the_limit_and_refills_each_second() {
        let mut l = ChallengeAckLimiter::new(1);
        let mut budgets = Vec::new();
        for second in 0..50u64 {
            let allowed = (0..5000)
                .filter(|i| l.allow(at_ms(second * 1000 + i % 900), 1000))
                .count();
            assert!(
                (500..=1000).contains(&allowed),
                "second {second}: {allowed}"
            );
            budgets.push(allowed);
        }
        budgets.sort_unstable();
        budgets.dedup();
        assert!(budgets.len() > 10, "budgets should vary: {budgets:?}");
    }

    #[test]
    fn zero_limit_allows_nothing() {
        let mut l = ChallengeAckLimiter::new(2);
        assert!((0..100).all(|i| !l.allow(at_ms(i * 100), 0)));
    }
}
