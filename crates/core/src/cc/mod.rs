//! Congestion control behind a trait, one state object per connection.
//!
//! The connection does loss detection (SACK scoreboard, RACK, timeouts) and recovery pacing
//! (PRR sets cwnd while recovering); the controller owns growth outside recovery and the
//! reaction to congestion (ssthresh, and the algorithm's own state such as CUBIC's W_max). New
//! algorithms (BBR) plug in here without touching the state machine, as Linux's
//! `tcp_congestion_ops` does.

mod cubic;
mod hystart;
mod newreno;

pub use cubic::Cubic;
pub use newreno::NewReno;

use crate::config::CongestionAlgorithm;
use crate::time::Instant;
use std::fmt::Debug;
use std::time::Duration;

/// What one acknowledgment delivered, as a congestion controller sees it.
#[derive(Clone, Copy, Debug)]
pub struct AckSample {
    /// When the ACK arrived.
    pub now: Instant,
    /// Bytes newly delivered: cumulatively acknowledged or newly selectively acknowledged.
    pub delivered: u32,
    /// The round-trip time this ACK measured, if it measured one (Karn's rule applied).
    pub rtt: Option<Duration>,
    /// The smallest RTT seen on the connection.
    pub min_rtt: Option<Duration>,
    /// Bytes in flight after the ACK.
    pub flight_size: u32,
    /// Sender maximum segment size.
    pub mss: u32,
    /// This ACK covers the data that was SND.NXT when the current round trip began: a round
    /// ended (HyStart++ works per round, RFC 9406 §4.2).
    pub round_end: bool,
    /// The window was the limit on sending (RFC 7661 §4.1: do not grow cwnd when the
    /// application, not the network, set the pace).
    pub cwnd_limited: bool,
}

/// A congestion controller's view of one connection.
pub trait CongestionControl: Debug + Send {
    /// A short name (`ss -i` shows it).
    fn name(&self) -> &'static str;
    /// The congestion window, bytes.
    fn cwnd(&self) -> u32;
    /// The slow-start threshold, bytes.
    fn ssthresh(&self) -> u32;
    /// Data was delivered outside loss recovery: grow the window.
    fn on_ack(&mut self, ack: &AckSample);
    /// Loss was detected (fast retransmit, RACK): set ssthresh and the algorithm's own state.
    /// cwnd is left alone; the sender moves it towards ssthresh during recovery (RFC 6937).
    fn on_congestion_event(&mut self, now: Instant, flight_size: u32, mss: u32);
    /// During recovery the sender sets cwnd (PRR, RFC 6937 §3).
    fn set_cwnd(&mut self, cwnd: u32);
    /// Recovery ended (RFC 6937 §3: cwnd = ssthresh).
    fn on_recovery_end(&mut self, now: Instant, mss: u32);
    /// The retransmission timer expired (RFC 5681 §3.1 eq. 4: cwnd falls to one segment).
    fn on_rto(&mut self, now: Instant, flight_size: u32, mss: u32);
    /// The last congestion event or timeout was spurious (D-SACK or timestamps showed the
    /// original arrived, RFC 3708 / RFC 4015 ideas): restore cwnd and ssthresh from before it.
    fn undo(&mut self);
}

/// Builds the controller a connection starts with.
pub fn new_controller(
    algo: CongestionAlgorithm,
    mss: u32,
    initial_segments: u32,
) -> Box<dyn CongestionControl> {
    match algo {
        CongestionAlgorithm::NewReno => Box::new(NewReno::new(mss, initial_segments)),
        CongestionAlgorithm::Cubic => Box::new(Cubic::new(mss, initial_segments)),
    }
}

/// RFC 6928 §2: the initial window, min(10*MSS, max(2*MSS, 14600)) for 10 segments; other
/// counts as configured.
pub fn initial_window(mss: u32, initial_segments: u32) -> u32 {
    if initial_segments >= 10 {
        (initial_segments * mss).min((2 * mss).max(14600))
    } else {
        initial_segments.max(1) * mss
    }
}
