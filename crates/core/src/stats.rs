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
    /// TCP segments sent: connections' segments, resets and SYN-cookie SYN-ACKs.
    pub segments_out: u64,
    /// Segments sent again (timeouts and fast retransmits), summed over every connection.
    pub retransmitted_segments: u64,
    /// Fast retransmits (three duplicate ACKs, RFC 5681 §3.2), over every connection.
    pub fast_retransmits: u64,
    /// Retransmission timer expirations (RFC 6298 §5), over every connection.
    pub rto_timeouts: u64,
    /// Segments with RST that reached a connection (valid or not).
    pub resets_received: u64,
    /// Segments with RST sent, whatever the cause.
    pub resets_sent: u64,
    /// Connections reset (by a valid RST or an abort) from ESTABLISHED or CLOSE_WAIT.
    pub established_resets: u64,
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

    /// Every counter by name, for tools that print them all (`synack netstat -s`, nstat).
    ///
    /// Counters take the names Linux's `nstat` gives their nearest equivalent, prefixed with
    /// their group (`Ip`, `Icmp`, `Tcp`, `TcpExt`); synack's own have a `TcpExt` name in the
    /// same style. Drops follow, one entry per reason seen, under the reason's own snake_case
    /// name (`tcp_bad_checksum`), so a tool tells them apart from the fixed counters by case.
    pub fn entries(&self) -> Vec<(&'static str, u64)> {
        // Destructured without `..`: a new field does not compile until it is named here.
        let Stats {
            packets_in,
            packets_out,
            segments_in,
            drops,
            active_opens,
            passive_opens,
            resets_sent_closed,
            control_sent,
            syn_queue_overflows,
            accept_queue_overflows,
            time_wait_recycled,
            syn_cookies_sent,
            syn_cookies_valid,
            syn_cookies_invalid,
            echo_replies,
            icmp_errors,
            challenge_acks_sent,
            challenge_acks_suppressed,
            window_scale_clamped,
            segments_out,
            retransmitted_segments,
            fast_retransmits,
            rto_timeouts,
            resets_received,
            resets_sent,
            established_resets,
            memory_pressure_drops,
            memory_pressure_refused,
            memory_pressure_send_limited,
            orphans_reset,
            oow_acks_suppressed,
        } = self;
        let mut out = vec![
            ("IpInReceives", *packets_in),
            ("IpOutRequests", *packets_out),
            ("IpInDiscards", self.total_drops()),
            ("IcmpOutEchoReps", *echo_replies),
            ("IcmpInErrorsMatched", *icmp_errors),
            ("TcpActiveOpens", *active_opens),
            ("TcpPassiveOpens", *passive_opens),
            ("TcpEstabResets", *established_resets),
            ("TcpInSegs", *segments_in),
            ("TcpOutSegs", *segments_out),
            ("TcpRetransSegs", *retransmitted_segments),
            ("TcpInRsts", *resets_received),
            ("TcpOutRsts", *resets_sent),
            ("TcpExtOutRstsNoSocket", *resets_sent_closed),
            ("TcpExtOutControl", *control_sent),
            ("TcpExtTCPTimeouts", *rto_timeouts),
            ("TcpExtTCPFastRetrans", *fast_retransmits),
            ("TcpExtTCPReqQFullDrop", *syn_queue_overflows),
            ("TcpExtListenOverflows", *accept_queue_overflows),
            ("TcpExtTWRecycled", *time_wait_recycled),
            ("TcpExtSyncookiesSent", *syn_cookies_sent),
            ("TcpExtSyncookiesRecv", *syn_cookies_valid),
            ("TcpExtSyncookiesFailed", *syn_cookies_invalid),
            ("TcpExtTCPChallengeACK", *challenge_acks_sent),
            (
                "TcpExtTCPChallengeACKSuppressed",
                *challenge_acks_suppressed,
            ),
            ("TcpExtTCPWscaleClamped", *window_scale_clamped),
            ("TcpExtTCPMemoryPressureDrops", *memory_pressure_drops),
            ("TcpExtTCPMemoryPressureRefused", *memory_pressure_refused),
            (
                "TcpExtTCPMemoryPressureSendLimited",
                *memory_pressure_send_limited,
            ),
            ("TcpExtTCPAbortOnMemory", *orphans_reset),
            ("TcpExtTCPACKSkippedSeq", *oow_acks_suppressed),
        ];
        out.extend(drops.iter().map(|(&reason, &n)| (reason, n)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_name_every_counter_and_every_drop_reason() {
        let mut s = Stats {
            segments_out: 7,
            resets_received: 3,
            ..Stats::default()
        };
        s.drop("tcp_bad_checksum");
        s.drop("tcp_bad_checksum");
        s.drop("fragment");
        let e = s.entries();
        let get = |name: &str| e.iter().find(|(n, _)| *n == name).map(|&(_, v)| v);
        assert_eq!(get("TcpOutSegs"), Some(7));
        assert_eq!(get("TcpInRsts"), Some(3));
        assert_eq!(get("tcp_bad_checksum"), Some(2));
        assert_eq!(get("fragment"), Some(1));
        assert_eq!(get("IpInDiscards"), Some(3));
        // Names are unique: a tool keyed by name loses nothing.
        let mut names: Vec<_> = e.iter().map(|(n, _)| *n).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), e.len());
    }
}
