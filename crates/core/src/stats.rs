//! Stack-wide counters, `netstat -s` style.

use std::collections::BTreeMap;

/// Counters for the whole stack.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// IP packets handed to the stack.
    pub packets_in: u64,
    /// IP packets the stack emitted.
    pub packets_out: u64,
    /// TCP segments that parsed and were processed.
    pub segments_in: u64,
    /// Packets dropped, by reason (`tcp_bad_checksum`, `not_our_address`, `fragment`, ...).
    pub drops: BTreeMap<&'static str, u64>,
    /// Connections opened by `connect`.
    pub active_opens: u64,
    /// Connections created from a listener's SYN.
    pub passive_opens: u64,
    /// Resets sent for segments with no connection or listener (RFC 9293 §3.10.7.1).
    pub resets_sent_closed: u64,
    /// Control segments (resets) sent in total.
    pub control_sent: u64,
    /// SYNs dropped because the SYN queue was full.
    pub syn_queue_overflows: u64,
    /// Connections dropped because the accept queue was full.
    pub accept_queue_overflows: u64,
    /// TIME_WAIT connections replaced by a new SYN (RFC 6191).
    pub time_wait_recycled: u64,
    /// SYN-ACKs sent with a SYN cookie because the SYN queue was full (RFC 4987 §3.6).
    pub syn_cookies_sent: u64,
    /// ACKs to a listener that carried a valid SYN cookie (a connection was rebuilt from it).
    pub syn_cookies_valid: u64,
    /// ACKs to a listener checked as SYN cookies and found invalid (answered as before: RST).
    pub syn_cookies_invalid: u64,
    /// ICMP echo requests answered.
    pub echo_replies: u64,
    /// ICMP errors that matched a connection.
    pub icmp_errors: u64,
    /// Challenge ACKs sent (RFC 5961 §3.2, §4.2, §5.2).
    pub challenge_acks_sent: u64,
    /// Challenge ACKs withheld by the stack-wide rate limit (RFC 5961 §7).
    pub challenge_acks_suppressed: u64,
    /// SYNs whose window scale shift was above 14 and was used as 14 (RFC 7323 §2.3).
    pub window_scale_clamped: u64,
    /// Segments whose data was dropped because the stack was at `memory_limit` (also drop
    /// reason `memory_pressure`).
    pub memory_pressure_drops: u64,
    /// New connections refused at `memory_limit` (a `connect` error, or a SYN or cookie ACK
    /// dropped; a SYN answered by a cookie instead is not counted).
    pub memory_pressure_refused: u64,
    /// `send` calls that took less than offered because of `memory_limit`.
    pub memory_pressure_send_limited: u64,
    /// Connections reset on close because `max_orphans` orphans existed (Linux "too many
    /// orphaned sockets").
    pub orphans_reset: u64,
    /// ACKs to unacceptable segments withheld by the per-connection rate limit
    /// (`oow_ack_interval`, Linux `tcp_invalid_ratelimit`).
    pub oow_acks_suppressed: u64,
}

impl Stats {
    /// Counts a dropped packet.
    pub fn drop(&mut self, reason: &'static str) {
        *self.drops.entry(reason).or_insert(0) += 1;
    }

    /// Drops for one reason.
    pub fn drops_for(&self, reason: &str) -> u64 {
        self.drops.get(reason).copied().unwrap_or(0)
    }

    /// All drops.
    pub fn total_drops(&self) -> u64 {
        self.drops.values().sum()
    }
}
