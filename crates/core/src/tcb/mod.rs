//! The transmission control block: one connection's state machine (RFC 9293 §3.3).
//!
//! Split by concern: `input` handles arriving segments (RFC 9293 §3.10.7), `output` decides what
//! to send, `timers` handles expirations, `user` the calls a socket user makes.

mod cookie;
mod input;
mod output;
mod rack;
mod recovery;
mod scoreboard;
mod timers;
mod user;

pub use timers::Timer;

use crate::buffer::{RecvBuffer, Ring};
use crate::cc::{new_controller, CongestionControl};
use crate::config::{Config, Keepalive};
use crate::error::ConnectionError;
use crate::event::Event;
use crate::rtt::RttEstimator;
use crate::stack::ConnId;
use crate::state::State;
use crate::time::Instant;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;
use synack_wire::{SeqNumber, TcpFlags};
use timers::Timers;

/// A segment the stack sends on a connection's behalf without a TCB to carry it: resets in
/// answer to stray segments (RFC 9293 §3.10.7.1 and friends).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ControlSegment {
    /// Source of the segment (our address).
    pub local: SocketAddr,
    /// Destination.
    pub remote: SocketAddr,
    /// Sequence number.
    pub seq: SeqNumber,
    /// Acknowledgment number; Some sets the ACK flag.
    pub ack: Option<SeqNumber>,
    /// Flags besides ACK.
    pub flags: TcpFlags,
}

impl ControlSegment {
    /// A reset <SEQ=seq><CTL=RST>, or <SEQ=seq><ACK=ack><CTL=RST,ACK> when ack is given.
    pub fn rst(
        local: SocketAddr,
        remote: SocketAddr,
        seq: SeqNumber,
        ack: Option<SeqNumber>,
    ) -> Self {
        ControlSegment {
            local,
            remote,
            seq,
            ack,
            flags: TcpFlags::RST,
        }
    }
}

/// What a connection reaches out to while it runs: the clock reading, settings, and the stack's
/// event and control queues.
pub(crate) struct Cx<'a> {
    pub now: Instant,
    pub config: &'a Config,
    pub events: &'a mut VecDeque<Event>,
    pub control: &'a mut VecDeque<ControlSegment>,
    /// Stack-wide counters (drops, challenge ACKs).
    pub stats: &'a mut crate::stats::Stats,
    /// The stack-wide challenge-ACK budget (RFC 5961 §7).
    pub challenge: &'a mut crate::challenge::ChallengeAckLimiter,
    /// What this call may allocate under the stack-wide `memory_limit`.
    pub memory: crate::memory::MemoryBudget,
}

impl Cx<'_> {
    pub fn reply(&mut self, seg: ControlSegment) {
        if self.control.len() < self.config.max_control_queue {
            self.control.push_back(seg);
        }
    }
}

/// Per-connection counters (the TCP_INFO-like snapshot reads them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConnCounters {
    /// Segments received.
    pub segs_in: u64,
    /// Segments sent.
    pub segs_out: u64,
    /// Payload bytes sent, retransmissions included.
    pub bytes_sent: u64,
    /// Payload bytes the peer acknowledged.
    pub bytes_acked: u64,
    /// Payload bytes received in order.
    pub bytes_received: u64,
    /// Segments retransmitted (timeouts and fast retransmits).
    pub retransmits: u64,
    /// Fast retransmits (three duplicate ACKs).
    pub fast_retransmits: u64,
    /// Retransmission timer expirations.
    pub timeouts: u64,
    /// Duplicate ACKs received.
    pub dup_acks_in: u64,
    /// Segments that arrived out of order.
    pub ooo_segments: u64,
    /// Segments rejected by PAWS (RFC 7323 §5).
    pub paws_rejected: u64,
    /// Challenge ACKs sent (RFC 5961).
    pub challenge_acks: u64,
    /// Zero-window probes sent.
    pub window_probes: u64,
    /// Keepalive probes sent.
    pub keepalive_probes: u64,
    /// SACK blocks that were reversed or outside the data we sent (RFC 2018 §3).
    pub sack_blocks_rejected: u64,
    /// D-SACK blocks received (RFC 2883): data we resent had arrived already.
    pub dsacks_in: u64,
    /// Recoveries undone because D-SACKs showed every retransmission spurious (RFC 3708).
    pub spurious_recoveries: u64,
    /// Tail loss probes sent (RFC 8985 §7).
    pub loss_probes: u64,
    /// Losses repaired by a tail loss probe (RFC 8985 §7.4).
    pub tlp_recoveries: u64,
}

/// Who answers for a connection.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Owner {
    /// The user holds its handle.
    User,
    /// Half-open or waiting in a listener's accept queue.
    Listener(crate::stack::ListenerId),
    /// The user closed it; it finishes on its own and is then freed.
    Orphan,
}

/// One TCP connection.
#[derive(Debug)]
pub struct Tcb {
    pub(crate) id: ConnId,
    pub(crate) local: SocketAddr,
    pub(crate) remote: SocketAddr,
    pub(crate) state: State,
    /// Created by a listener (RFC 9293: SYN_RCVD returns to LISTEN on RST instead of failing).
    pub(crate) passive: bool,
    pub(crate) owner: Owner,

    // RFC 9293 §3.3.1 send sequence variables.
    iss: SeqNumber,
    snd_una: SeqNumber,
    snd_nxt: SeqNumber,
    /// Highest sequence number sent + 1 (snd_nxt goes back to snd_una on a timeout).
    snd_max: SeqNumber,
    snd_wnd: u32,
    snd_wl1: SeqNumber,
    snd_wl2: SeqNumber,
    max_snd_wnd: u32,
    /// Shift applied to windows the peer advertises (RFC 7323 §2.3).
    snd_wscale: u8,

    // RFC 9293 §3.3.1 receive sequence variables.
    irs: SeqNumber,
    rcv_nxt: SeqNumber,
    /// Right edge of the window we last advertised; never moves left (RFC 9293 §3.8.6.2.2).
    rcv_adv: SeqNumber,
    /// Shift we apply to windows we advertise.
    rcv_wscale: u8,
    /// ACK number in the last segment we sent (RFC 7323 §4.3 Last.ACK.sent).
    last_ack_sent: SeqNumber,

    // Options: what we offer (from the config), then what both sides agreed on.
    offer: Offer,
    wscale_ok: bool,
    ts_ok: bool,
    sack_ok: bool,
    peer_mss: u16,
    local_mss: u16,
    ts_recent: u32,
    ts_recent_at: Instant,
    ts_offset: u32,

    // Buffers.
    send: Ring,
    /// The user shut the write side: a FIN follows the queued data.
    fin_queued: bool,
    /// The sequence number our FIN took, once sent.
    fin_seq: Option<SeqNumber>,
    recv: RecvBuffer,
    /// Most bytes we advertise (the ring holds one window-scale unit more for rounding).
    recv_limit: usize,
    /// The peer's FIN arrived out of order at this sequence number.
    peer_fin_seq: Option<SeqNumber>,
    /// The peer's FIN was processed: end of stream once the buffer drains.
    peer_fin: bool,
    read_shut: bool,

    // Timers and retransmission.
    timers: Timers,
    rtt: RttEstimator,
    /// Karn's algorithm: the segment being timed (ends at this sequence number) and when it left.
    rtt_probe: Option<(SeqNumber, Instant)>,
    /// Consecutive expirations of the retransmission (or persist/keepalive) timer.
    retries: u32,
    last_recv: Instant,
    keepalive_unanswered: u32,
    /// Unanswered zero-window probes (reset by any ACK, as Linux's probes_out).
    persist_unanswered: u32,
    /// The override timeout fired: send the short segment silly-window avoidance held back.
    sws_override: bool,
    /// Our SYN (or SYN-ACK) was retransmitted: RFC 6298 §5.7 applies at ESTABLISHED.
    syn_retransmitted: bool,

    // Congestion control and loss recovery.
    cc: Box<dyn CongestionControl>,
    dup_acks: u32,
    /// RFC 6582 "recover": Some while in fast recovery.
    recovery: Option<SeqNumber>,
    /// The last recovery point, kept after recovery ends (RFC 6582 §3.2 step 1 check).
    recover_high: SeqNumber,
    /// SND.NXT when the current round trip began; an ACK at or past it ends the round.
    round_end: SeqNumber,
    /// What was sent and where it stands (RFC 6675 scoreboard).
    board: scoreboard::Scoreboard,
    /// RACK-TLP (RFC 8985).
    rack: rack::Rack,
    /// Proportional Rate Reduction for the current recovery (RFC 6937).
    prr: recovery::Prr,

    // ACK generation.
    ack_now: bool,
    /// A duplicate segment to report in the next ACK's first SACK block (RFC 2883 D-SACK).
    dsack: Option<(SeqNumber, SeqNumber)>,
    /// The handshake's final ACK goes out bare, before any data.
    handshake_ack_pending: bool,
    segs_unacked: u32,
    /// A persist (zero window) or keepalive probe is due.
    probe: Option<Probe>,

    // User settings and outcome.
    pub(crate) nodelay: bool,
    keepalive: Option<Keepalive>,
    pub(crate) error: Option<ConnectionError>,
    pub(crate) counters: ConnCounters,
    readable_signalled: bool,
    write_blocked: bool,
    ip_ident: u16,
    /// When we last answered an unacceptable segment with an ACK (Linux
    /// `last_oow_ack_time`, for `oow_ack_interval`).
    last_oow_ack: Option<Instant>,
}

/// The options we put in our SYN (and accept in a peer's).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Offer {
    window_scale: bool,
    sack: bool,
    timestamps: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Probe {
    ZeroWindow,
    Keepalive,
    /// RFC 8985 §7: a tail loss probe.
    Tail,
}

/// Bytes of TCP options in every segment once timestamps are on: nop, nop, TS (RFC 7323 App. A).
const TS_OPTION_LEN: u32 = 12;

impl Tcb {
    pub(crate) fn new(
        id: ConnId,
        local: SocketAddr,
        remote: SocketAddr,
        iss: SeqNumber,
        ts_offset: u32,
        config: &Config,
        now: Instant,
    ) -> Self {
        let local_mss = local_mss_for(config, local);
        let recv_limit = config.recv_buffer.max(1);
        let rcv_wscale = rcv_wscale_for(config);
        Tcb {
            id,
            local,
            remote,
            state: State::Closed,
            passive: false,
            owner: Owner::User,
            iss,
            snd_una: iss,
            snd_nxt: iss,
            snd_max: iss,
            snd_wnd: 0,
            snd_wl1: SeqNumber(0),
            snd_wl2: iss,
            max_snd_wnd: 0,
            snd_wscale: 0,
            irs: SeqNumber(0),
            rcv_nxt: SeqNumber(0),
            rcv_adv: SeqNumber(0),
            rcv_wscale,
            last_ack_sent: SeqNumber(0),
            offer: Offer {
                window_scale: config.window_scale.is_some(),
                sack: config.sack,
                timestamps: config.timestamps,
            },
            wscale_ok: false,
            ts_ok: false,
            sack_ok: false,
            peer_mss: default_mss(remote),
            local_mss,
            ts_recent: 0,
            ts_recent_at: now,
            ts_offset,
            send: Ring::new(config.send_buffer.max(1)),
            fin_queued: false,
            fin_seq: None,
            recv: RecvBuffer::new(
                recv_limit + (1usize << rcv_wscale),
                config.max_ooo_ranges,
                config.max_ooo_bytes,
            ),
            recv_limit,
            peer_fin_seq: None,
            peer_fin: false,
            read_shut: false,
            timers: Timers::default(),
            rtt: RttEstimator::new(config.initial_rto, config.min_rto, config.max_rto),
            rtt_probe: None,
            retries: 0,
            last_recv: now,
            keepalive_unanswered: 0,
            persist_unanswered: 0,
            sws_override: false,
            syn_retransmitted: false,
            cc: new_controller(
                config.congestion,
                u32::from(local_mss),
                config.initial_cwnd_segments,
            ),
            dup_acks: 0,
            recovery: None,
            recover_high: iss,
            round_end: iss,
            board: scoreboard::Scoreboard::default(),
            rack: rack::Rack::default(),
            prr: recovery::Prr::default(),
            ack_now: false,
            dsack: None,
            handshake_ack_pending: false,
            segs_unacked: 0,
            probe: None,
            nodelay: config.nodelay,
            keepalive: config.keepalive,
            error: None,
            counters: ConnCounters::default(),
            readable_signalled: false,
            write_blocked: false,
            ip_ident: ts_offset as u16,
            last_oow_ack: None,
        }
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Moves to `to`, telling the world (every transition becomes an event).
    pub(crate) fn set_state(&mut self, cx: &mut Cx, to: State) {
        let from = self.state;
        if from == to {
            return;
        }
        debug_assert!(
            from.can_move_to(to),
            "{from} -> {to} is not an edge of RFC 9293 Figure 5"
        );
        self.state = to;
        cx.events.push_back(Event::StateChanged {
            conn: self.id,
            local: self.local,
            remote: self.remote,
            from,
            to,
            at: cx.now,
        });
        match to {
            State::TimeWait => {
                // RFC 9293 §3.10.7.4: in TIME_WAIT only the 2MSL timer runs.
                self.timers.clear_all();
                self.timers
                    .set(Timer::TimeWait, cx.now + cx.config.time_wait());
                self.signal_readable(cx);
            }
            State::Closed => {
                self.timers.clear_all();
                self.send.consume(self.send.len(), false);
                cx.events.push_back(Event::Closed {
                    conn: self.id,
                    reason: self.error,
                });
                self.signal_readable(cx);
            }
            _ => {}
        }
    }

    /// Ends the connection, recording why.
    pub(crate) fn close_with(&mut self, cx: &mut Cx, reason: Option<ConnectionError>) {
        if reason.is_some() {
            self.error = reason;
            // Nothing more will be read from a failed connection's unread data by the peer's
            // account; the user still gets the error from recv.
        }
        self.set_state(cx, State::Closed);
    }

    /// Maximum payload per segment before per-segment options (RFC 9293 §3.7.1, RFC 6691):
    /// min(peer MSS + 20, MTU - IP header) - TCP header - timestamp option.
    pub(crate) fn snd_mss(&self) -> u32 {
        let mms_s = self.local_mss as u32 + 20;
        let eff = (u32::from(self.peer_mss) + 20).min(mms_s) - 20;
        let opts = if self.ts_ok { TS_OPTION_LEN } else { 0 };
        eff.saturating_sub(opts).max(1)
    }

    /// Payload plus options per segment: min(peer MSS + 20, MTU - IP header) - 20 (RFC 6691);
    /// every option byte comes out of it.
    pub(crate) fn segment_budget(&self) -> u32 {
        (u32::from(self.peer_mss) + 20).min(u32::from(self.local_mss) + 20) - 20
    }

    /// Bytes sent but not yet acknowledged (RFC 5681 FlightSize).
    pub(crate) fn flight_size(&self) -> u32 {
        self.snd_max.distance_from(self.snd_una)
    }

    /// Sequence number just past the last byte of queued data (our SYN, while unacknowledged,
    /// comes before it).
    fn data_end(&self) -> SeqNumber {
        self.snd_una + u32::from(!self.syn_acked()) + self.send.len() as u32
    }

    fn syn_acked(&self) -> bool {
        self.snd_una > self.iss
    }

    /// Our timestamp clock: milliseconds plus a per-connection offset (RFC 7323 §5.4).
    fn ts_now(&self, now: Instant) -> u32 {
        (now.total_millis() as u32).wrapping_add(self.ts_offset)
    }

    pub(crate) fn signal_readable(&mut self, cx: &mut Cx) {
        if !self.readable_signalled {
            self.readable_signalled = true;
            cx.events.push_back(Event::Readable(self.id));
        }
    }

    /// The earliest timer deadline.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.timers.earliest()
    }

    /// Memory this connection holds, buffers included (for the scale tests and `ss -m`).
    pub fn memory(&self) -> usize {
        Self::empty_memory()
            + self.send.allocated()
            + self.recv.allocated()
            + self.board.allocated()
    }

    /// Memory a new connection holds before its buffers allocate anything.
    pub(crate) fn empty_memory() -> usize {
        std::mem::size_of::<Tcb>() + 64
    }

    /// Under memory pressure: gives back buffer storage that holds nothing (Linux
    /// `sk_mem_reclaim`), so drained connections stop counting against `memory_limit`.
    pub(crate) fn release_idle_buffers(&mut self) {
        if self.send.is_empty() {
            self.send.release_if_empty();
        }
        self.recv.release_if_empty();
    }

    /// Closed by the user and still finishing its close: what Linux counts against
    /// `tcp_max_orphans` (TIME-WAIT is not counted, as Linux keeps it apart).
    pub(crate) fn is_orphan(&self) -> bool {
        self.owner == Owner::Orphan
            && matches!(
                self.state,
                State::FinWait1 | State::FinWait2 | State::Closing | State::LastAck
            )
    }

    /// Whether the stack should drop this TCB now: closed and nobody holds it.
    pub(crate) fn is_finished(&self) -> bool {
        self.state == State::Closed && self.owner != Owner::User
    }

    pub(crate) fn snd_una_for_icmp(&self) -> SeqNumber {
        self.snd_una
    }

    pub(crate) fn snd_max_for_icmp(&self) -> SeqNumber {
        self.snd_max
    }

    /// RFC 1191 §6.3 / RFC 8201 §5.2: a smaller path MTU lowers our segment size at once, and
    /// what was in flight (too big to arrive) is sent again in smaller segments.
    pub(crate) fn on_path_mtu(&mut self, mtu: u32) {
        // Floors: RFC 8200 §5 guarantees 1280 on IPv6; Linux does not go below 552 on IPv4.
        let floor = if self.local.is_ipv4() { 552 } else { 1280 };
        let mtu = mtu.max(floor) as usize;
        let mss = mtu.saturating_sub(ip_header_len(self.local) + 20) as u16;
        if mss < self.local_mss {
            self.local_mss = mss;
            self.rtt_probe = None;
            if self.syn_acked() {
                // Resent from the scoreboard, split to the new size as they go.
                self.board.mark_all_lost();
            } else {
                self.snd_nxt = self.snd_una;
            }
        }
    }
}

/// The MSS we advertise: the link MTU less the IP and TCP headers (RFC 9293 §3.7.1).
pub(crate) fn local_mss_for(config: &Config, local: SocketAddr) -> u16 {
    let ip_tcp = ip_header_len(local) + 20;
    config.mtu.saturating_sub(ip_tcp).clamp(64, 65535) as u16
}

/// The window scale shift we offer. RFC 7323 §2.3: shift no further than the buffer needs (as
/// Linux sizes it from its largest buffer); a larger shift would round a small window down to
/// zero forever.
pub(crate) fn rcv_wscale_for(config: &Config) -> u8 {
    let recv_limit = config.recv_buffer.max(1);
    let needed = (0u8..14)
        .find(|s| (65535usize << s) >= recv_limit)
        .unwrap_or(14);
    config.window_scale.map_or(0, |s| s.min(14).min(needed))
}

/// The window in our SYN-ACK (unscaled, RFC 7323 §2.2), as `Tcb::syn_window` computes it.
pub(crate) fn syn_window_for(config: &Config) -> u16 {
    config.recv_buffer.clamp(1, 65535) as u16
}

/// RFC 9293 §3.7.1: 536 when the peer sends no MSS option over IPv4; RFC 8200 §5: 1220 for IPv6.
fn default_mss(remote: SocketAddr) -> u16 {
    if remote.is_ipv4() {
        536
    } else {
        1220
    }
}

pub(crate) fn ip_header_len(addr: SocketAddr) -> usize {
    if addr.is_ipv4() {
        20
    } else {
        40
    }
}

/// Timestamps older than this are not trusted for PAWS (RFC 7323 §5.5: 24 days).
const PAWS_IDLE_LIMIT: Duration = Duration::from_secs(24 * 24 * 3600);

/// A snapshot of one connection, in the spirit of Linux `TCP_INFO`.
#[derive(Clone, Debug, PartialEq)]
pub struct TcpInfo {
    /// State.
    pub state: State,
    /// Our address.
    pub local: SocketAddr,
    /// The peer's address.
    pub remote: SocketAddr,
    /// Smoothed RTT, if measured.
    pub srtt: Option<Duration>,
    /// Smallest RTT seen.
    pub min_rtt: Option<Duration>,
    /// RTT variation.
    pub rttvar: Duration,
    /// Current retransmission timeout (with backoff).
    pub rto: Duration,
    /// Congestion window, bytes.
    pub cwnd: u32,
    /// Slow-start threshold, bytes (u32::MAX before the first loss).
    pub ssthresh: u32,
    /// Congestion controller name.
    pub congestion: &'static str,
    /// Bytes in flight.
    pub bytes_in_flight: u32,
    /// Peer's receive window as we see it, bytes.
    pub snd_wnd: u32,
    /// Window we advertise, bytes.
    pub rcv_wnd: u32,
    /// Payload per segment we send.
    pub snd_mss: u32,
    /// MSS we advertised.
    pub rcv_mss: u32,
    /// Window scale shifts (ours applied to the peer's windows, then the one we apply).
    pub wscale: Option<(u8, u8)>,
    /// Timestamps negotiated.
    pub timestamps: bool,
    /// SACK negotiated.
    pub sack: bool,
    /// Bytes waiting to be read.
    pub recv_queue: usize,
    /// Bytes queued to send and not yet acknowledged.
    pub send_queue: usize,
    /// Bytes held out of order, past a hole (bounded by `Config::max_ooo_bytes`).
    pub ooo_queue: usize,
    /// Whether we are in fast recovery.
    pub in_recovery: bool,
    /// Counters.
    pub counters: ConnCounters,
    /// Memory held, bytes.
    pub memory: usize,
}

impl Tcb {
    /// The TCP_INFO-like snapshot.
    pub fn info(&self) -> TcpInfo {
        TcpInfo {
            state: self.state,
            local: self.local,
            remote: self.remote,
            srtt: self.rtt.srtt(),
            min_rtt: self.rtt.min_rtt(),
            rttvar: self.rtt.rttvar(),
            rto: self.rtt.rto(),
            cwnd: self.cc.cwnd(),
            ssthresh: self.cc.ssthresh(),
            congestion: self.cc.name(),
            bytes_in_flight: self.flight_size(),
            snd_wnd: self.snd_wnd,
            rcv_wnd: self.rcv_adv.distance_from(self.rcv_nxt),
            snd_mss: self.snd_mss(),
            rcv_mss: u32::from(self.local_mss),
            wscale: self.wscale_ok.then_some((self.snd_wscale, self.rcv_wscale)),
            timestamps: self.ts_ok,
            sack: self.sack_ok,
            recv_queue: self.recv.readable(),
            send_queue: self.send.len(),
            ooo_queue: self.recv.ooo_bytes(),
            in_recovery: self.recovery.is_some(),
            counters: self.counters,
            memory: self.memory(),
        }
    }
}
