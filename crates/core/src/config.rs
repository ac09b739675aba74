//! Stack-wide settings. Defaults follow what Linux does, so captures look familiar.

use std::time::Duration;

/// How initial sequence numbers are chosen.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum IsnMode {
    /// RFC 6528: a keyed hash of the 4-tuple plus a 4 µs clock. The only sane choice on a network.
    Rfc6528,
    /// Every connection of this stack starts at this number. For teaching demos and replaying
    /// captures (the seed document's trace uses 3626544836 and 1739326486); never on a network.
    Fixed(u32),
}

/// Keepalive probing (RFC 9293 §3.8.4, RFC 1122 §4.2.3.6), off unless asked for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Keepalive {
    /// Idle time before the first probe (Linux: 7200 s).
    pub idle: Duration,
    /// Time between unanswered probes (Linux: 75 s).
    pub interval: Duration,
    /// Unanswered probes before the connection times out (Linux: 9).
    pub count: u32,
}

impl Default for Keepalive {
    fn default() -> Self {
        Keepalive {
            idle: Duration::from_secs(7200),
            interval: Duration::from_secs(75),
            count: 9,
        }
    }
}

/// Which congestion controller new connections use.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum CongestionAlgorithm {
    /// RFC 5681 slow start and congestion avoidance with RFC 6582 NewReno recovery.
    #[default]
    NewReno,
    /// RFC 9438 CUBIC, with RFC 9406 HyStart++ for the initial slow start.
    Cubic,
}

/// Settings for a [`Stack`](crate::Stack).
#[derive(Clone, Debug)]
pub struct Config {
    /// Link MTU: no packet we emit is larger. Our advertised MSS is derived from it.
    pub mtu: usize,
    /// Send buffer per connection, bytes (allocated as it fills). Default 4 MiB.
    pub send_buffer: usize,
    /// Receive buffer per connection, bytes (the most we ever advertise; allocated as it fills).
    /// Default 4 MiB, which makes the window scale 7 as on Linux.
    pub recv_buffer: usize,
    /// Window scale shift we offer (RFC 7323 §2.2); None disables the option. Linux offers 7.
    pub window_scale: Option<u8>,
    /// Offer timestamps (RFC 7323 §3).
    pub timestamps: bool,
    /// Offer SACK (RFC 2018).
    pub sack: bool,
    /// Maximum segment lifetime; TIME_WAIT lasts twice this (Linux: 60 s TIME_WAIT).
    pub msl: Duration,
    /// How long an orphaned connection may sit in FIN_WAIT_2 (Linux `tcp_fin_timeout`: 60 s).
    pub fin_wait_2_timeout: Duration,
    /// RTO before any RTT sample (RFC 6298 §2.1: 1 s).
    pub initial_rto: Duration,
    /// Lower bound on the RTO (RFC 6298 §2.4 says 1 s; Linux uses 200 ms, and so do we).
    pub min_rto: Duration,
    /// Upper bound on the RTO (RFC 6298 §2.5; Linux: 120 s).
    pub max_rto: Duration,
    /// SYN retransmissions before connect fails with TimedOut (Linux `tcp_syn_retries`: 6).
    pub syn_retries: u32,
    /// SYN-ACK retransmissions before a half-open connection is dropped (Linux: 5).
    pub synack_retries: u32,
    /// Data retransmissions before the connection fails with TimedOut (Linux `tcp_retries2`: 15).
    pub max_retries: u32,
    /// Delayed-ACK timeout (RFC 9293 §3.8.6.3 requires < 0.5 s; Linux's minimum is 40 ms).
    pub delayed_ack: Duration,
    /// Disable Nagle's algorithm on new connections.
    pub nodelay: bool,
    /// Keepalive for new connections; None = off.
    pub keepalive: Option<Keepalive>,
    /// Half-open connections (SYN_RCVD) a listener keeps at once.
    pub syn_backlog: usize,
    /// Answer SYNs with SYN cookies (RFC 4987 §3.6) when the SYN queue is full, instead of
    /// dropping them. Linux: `tcp_syncookies=1`.
    pub syn_cookies: bool,
    /// Most connections the stack holds at once (all states).
    pub max_connections: usize,
    /// Ephemeral port range for active opens (Linux: 32768..=60999).
    pub ephemeral_ports: (u16, u16),
    /// Initial sequence numbers.
    pub isn: IsnMode,
    /// Congestion controller for new connections.
    pub congestion: CongestionAlgorithm,
    /// Initial congestion window in segments (RFC 6928: 10).
    pub initial_cwnd_segments: u32,
    /// Ignore RST in TIME_WAIT (RFC 1337 TIME_WAIT assassination hazard fix).
    pub rfc1337: bool,
    /// Hop limit / TTL of packets we send.
    pub hop_limit: u8,
    /// Out-of-order ranges kept per connection; beyond this a segment that would open a new hole is dropped.
    pub max_ooo_ranges: usize,
    /// Control packets (RSTs for closed ports, ICMP replies) queued at most; more are dropped.
    pub max_control_queue: usize,
    /// Challenge ACKs (RFC 5961 §7) the whole stack sends per second at most (Linux
    /// `tcp_challenge_ack_limit`: 1000). Each second's budget is drawn at random from
    /// [limit/2, limit] so the shared budget is no side channel.
    pub challenge_ack_limit: u32,
    /// Bytes all connections together may hold (state and buffers), as Linux `tcp_mem`. At the
    /// limit the stack is under pressure: new connections are refused, out-of-order data is
    /// pruned and dropped, and buffers do not grow (data that needs new memory is dropped, the
    /// peer sends it again; `send` takes only what fits). Pressure begins when an allocation is
    /// refused or the limit is reached and lasts until use falls to 3/4 of it. Default 1 GiB.
    pub memory_limit: usize,
    /// Out-of-order bytes a connection holds at most; segments past it are dropped (drop reason
    /// `tcp_ooo_limit`), in-order data never is. Out-of-order data is also trimmed to the
    /// window, so the default (4 MiB, the default `recv_buffer`) only binds a larger buffer.
    pub max_ooo_bytes: usize,
    /// Orphaned connections (closed by the user, still in FIN-WAIT-1/2, CLOSING or LAST-ACK) the
    /// stack keeps; one more is reset instead (Linux `tcp_max_orphans`; default 65536).
    pub max_orphans: usize,
    /// Least time between two ACKs a connection sends in answer to unacceptable segments
    /// without data (out of window, or PAWS-rejected); more are withheld (Linux
    /// `tcp_invalid_ratelimit`: 500 ms).
    pub oow_ack_interval: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            mtu: 1500,
            send_buffer: 4 << 20,
            recv_buffer: 4 << 20,
            window_scale: Some(7),
            timestamps: true,
            sack: true,
            msl: Duration::from_secs(30),
            fin_wait_2_timeout: Duration::from_secs(60),
            initial_rto: Duration::from_secs(1),
            min_rto: Duration::from_millis(200),
            max_rto: Duration::from_secs(120),
            syn_retries: 6,
            synack_retries: 5,
            max_retries: 15,
            delayed_ack: Duration::from_millis(40),
            nodelay: false,
            keepalive: None,
            syn_backlog: 1024,
            syn_cookies: true,
            max_connections: 1 << 20,
            ephemeral_ports: (32768, 60999),
            isn: IsnMode::Rfc6528,
            congestion: CongestionAlgorithm::NewReno,
            initial_cwnd_segments: 10,
            rfc1337: true,
            hop_limit: 64,
            max_ooo_ranges: 64,
            max_control_queue: 1024,
            challenge_ack_limit: 1000,
            memory_limit: 1 << 30,
            max_ooo_bytes: 4 << 20,
            max_orphans: 65536,
            oow_ack_interval: Duration::from_millis(500),
        }
    }
}

impl Config {
    /// TIME_WAIT duration: 2*MSL (RFC 9293 §3.4.2).
    pub fn time_wait(&self) -> Duration {
        self.msl * 2
    }
}
