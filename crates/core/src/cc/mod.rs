//! Congestion control behind a trait, one state object per connection.
//!
//! The connection does loss detection (duplicate ACKs, recovery points, timeouts) and tells the
//! controller what happened; the controller owns cwnd and ssthresh. New algorithms (CUBIC, BBR)
//! plug in here without touching the state machine.

mod newreno;

pub use newreno::NewReno;

use crate::config::CongestionAlgorithm;
use crate::time::Instant;
use std::fmt::Debug;

/// A congestion controller's view of one connection (RFC 5681 terms).
pub trait CongestionControl: Debug + Send {
    /// A short name (`ss -i` shows it).
    fn name(&self) -> &'static str;
    /// The congestion window, bytes.
    fn cwnd(&self) -> u32;
    /// The slow-start threshold, bytes.
    fn ssthresh(&self) -> u32;
    /// New data was cumulatively acknowledged outside of recovery.
    fn on_ack(&mut self, now: Instant, bytes_acked: u32, mss: u32);
    /// Fast retransmit: loss detected by duplicate ACKs; enter recovery (RFC 5681 §3.2 steps 2-3).
    fn on_enter_recovery(&mut self, now: Instant, flight_size: u32, mss: u32);
    /// Another duplicate ACK during recovery (RFC 6582 §3.2 step 4: inflate).
    fn on_recovery_dup_ack(&mut self, mss: u32);
    /// A partial ACK during recovery (RFC 6582 §3.2 step 5: deflate by the amount acked).
    fn on_partial_ack(&mut self, bytes_acked: u32, mss: u32);
    /// A full ACK ended recovery (RFC 6582 §3.2 step 6).
    fn on_exit_recovery(&mut self, flight_size: u32, mss: u32);
    /// The retransmission timer expired (RFC 5681 §3.1, equation 4; cwnd = 1 segment).
    fn on_rto(&mut self, flight_size: u32, mss: u32);
}

/// Builds the controller a connection starts with.
pub fn new_controller(
    algo: CongestionAlgorithm,
    mss: u32,
    initial_segments: u32,
) -> Box<dyn CongestionControl> {
    match algo {
        CongestionAlgorithm::NewReno => Box::new(NewReno::new(mss, initial_segments)),
    }
}
