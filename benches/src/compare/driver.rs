//! The one driver every stack runs under: two [`BenchStack`]s joined by a [`Link`], a simulated
//! clock that jumps to the next deadline (packet arrival or either stack's timer) only when
//! neither the applications nor the stacks have anything left to do at the current instant.

use crate::link::Link;
use crate::stacks::BenchStack;
use std::time::Duration;

/// What the application did in one turn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Step {
    /// Its goal is reached.
    Done,
    /// It called the stacks (so they may have something to send).
    Progress,
    /// Nothing to do until the stacks move.
    Idle,
}

/// Two stacks and the link between them; side 0 is `a`, side 1 is `b`.
pub struct Net<A, B> {
    /// Side 0.
    pub a: A,
    /// Side 1.
    pub b: B,
    /// The wire.
    pub link: Link,
    /// Simulated time since the start.
    pub now: Duration,
    inbox: Vec<Vec<u8>>,
    outbox: Vec<Vec<u8>>,
    /// Times a stack reported a deadline already past while idle (the clock was then nudged
    /// 1 µs so the loop cannot spin); should stay near zero.
    pub nudges: u64,
}

impl<A: BenchStack, B: BenchStack> Net<A, B> {
    /// Joins `a` and `b` by `link` at time zero.
    pub fn new(a: A, b: B, link: Link) -> Self {
        Net {
            a,
            b,
            link,
            now: Duration::ZERO,
            inbox: Vec::new(),
            outbox: Vec::new(),
            nudges: 0,
        }
    }

    /// Delivers due packets to both stacks, polls them and puts what they send on the link;
    /// true if any packet moved.
    fn exchange(&mut self, app_called: bool) -> bool {
        let mut moved = false;
        for side in 0..2 {
            self.link.take_due(side, self.now, &mut self.inbox);
            let timer_wake = self.inbox.is_empty() && !app_called;
            moved |= !self.inbox.is_empty();
            if side == 0 {
                self.a.poll(self.now, &mut self.inbox, &mut self.outbox);
            } else {
                self.b.poll(self.now, &mut self.inbox, &mut self.outbox);
            }
            moved |= !self.outbox.is_empty();
            for p in self.outbox.drain(..) {
                self.link.send(side, self.now, p, timer_wake);
            }
        }
        moved
    }

    /// Runs `app` and the stacks until `app` says Done; Err if nothing is left to happen or
    /// the clock passes `limit`.
    pub fn run(
        &mut self,
        limit: Duration,
        mut app: impl FnMut(&mut A, &mut B, Duration) -> Step,
    ) -> Result<(), String> {
        let mut stalled_at_now = 0u32;
        loop {
            let step = app(&mut self.a, &mut self.b, self.now);
            if step == Step::Done {
                return Ok(());
            }
            let called = step == Step::Progress;
            if self.exchange(called) || called {
                stalled_at_now = 0;
                continue;
            }
            let next = [
                self.link.next_delivery(),
                self.a.next_deadline(self.now),
                self.b.next_deadline(self.now),
            ]
            .into_iter()
            .flatten()
            .min();
            let Some(next) = next else {
                return Err(format!(
                    "stuck at {:?}: nothing in flight, no timer",
                    self.now
                ));
            };
            if next > limit {
                return Err(format!("time limit {limit:?} passed"));
            }
            if next > self.now {
                self.now = next;
                stalled_at_now = 0;
            } else {
                // A deadline at or before now that a poll did not clear: give it a few more
                // rounds, then move the clock on so the loop cannot spin.
                stalled_at_now += 1;
                if stalled_at_now > 4 {
                    self.nudges += 1;
                    self.now += Duration::from_micros(1);
                    stalled_at_now = 0;
                }
            }
        }
    }
}
