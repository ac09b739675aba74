//! The stack: demultiplexing, listeners, timers, and the calls users and drivers make.
//!
//! Call order for a driver (as quinn-proto documents it): feed packets with `handle_packet`,
//! fire due timers with `handle_timeout`, then drain `poll_transmit` until it returns None and
//! `poll_event` likewise, then sleep until `poll_timeout` or the next packet.

use crate::challenge::ChallengeAckLimiter;
use crate::config::{Config, IsnMode, Keepalive};
use crate::cookie_reply::CookieSynAck;
use crate::error::{ConnectError, InvalidHandle, ListenError, RecvError, SendError};
use crate::event::Event;
use crate::icmp;
use crate::memory::MemoryAccount;
use crate::ports::PortAllocator;
use crate::secrets::{DemuxHasher, Secrets};
use crate::slab::Slab;
use crate::state::State;
use crate::stats::Stats;
use crate::syncookie::{decode_tsecr, SynCookies, SLOT_SECS};
use crate::tcb::{ControlSegment, Cx, Owner, Tcb, TcpInfo};
use crate::time::Instant;
use core::fmt;
use rand_core::RngCore;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use synack_wire::ip::{emit_ip_header, ip_header_len, parse_ip, protocol, IpPacket};
use synack_wire::{SeqNumber, TcpFlags, TcpOptions, TcpRepr};

/// A handle to a connection. Stale handles are detected (generation-checked).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId {
    index: u32,
    gen: u32,
}

impl fmt::Debug for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c{}.{}", self.index, self.gen)
    }
}

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c{}", self.index)
    }
}

/// A handle to a listener.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct ListenerId {
    index: u32,
    gen: u32,
}

/// Which directions `shutdown` closes (as `std::net::Shutdown`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Shutdown {
    /// No more reading: later data is acknowledged and discarded.
    Read,
    /// No more writing: a FIN follows the queued data.
    Write,
    /// Both.
    Both,
}

/// A packet `poll_transmit` wrote.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Transmit {
    /// Bytes written at the start of the buffer.
    pub len: usize,
    /// Destination address (for drivers that route).
    pub dst: IpAddr,
}

/// Connection 4-tuple, our end first.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
struct FourTuple {
    local: SocketAddr,
    remote: SocketAddr,
}

struct ConnSlot {
    tcb: Box<Tcb>,
    /// Queued in `ready` (may have something to send).
    ready: bool,
    /// The time of this connection's live entry in the timer heap (at or before its deadline).
    deadline: Option<Instant>,
    /// Sits in its listener's accept queue.
    accept_queued: bool,
}

#[derive(Debug)]
struct Listener {
    addr: SocketAddr,
    backlog: usize,
    accept_queue: VecDeque<ConnId>,
    half_open: usize,
    /// When this listener last answered a SYN with a cookie: only then are ACKs checked as
    /// cookies (as Linux's `tcp_synq_no_recent_overflow`), so a listener that never overflowed
    /// offers no cookie to guess at.
    last_cookie_at: Option<Instant>,
}

/// A sans-IO TCP/IP stack: packets and time in; packets, events and deadlines out.
pub struct Stack {
    config: Arc<Config>,
    secrets: Secrets,
    addrs: Vec<IpAddr>,
    conns: Slab<ConnSlot>,
    demux: HashMap<FourTuple, ConnId, DemuxHasher>,
    listeners: Slab<Listener>,
    listen_map: HashMap<SocketAddr, ListenerId, DemuxHasher>,
    ports: PortAllocator,
    events: VecDeque<Event>,
    control: VecDeque<ControlSegment>,
    icmp_out: VecDeque<Vec<u8>>,
    cookies: SynCookies,
    cookie_out: VecDeque<CookieSynAck>,
    ready: VecDeque<ConnId>,
    timers: BinaryHeap<Reverse<(Instant, u32, u32)>>,
    stats: Stats,
    challenge: ChallengeAckLimiter,
    /// Running totals for `memory_limit` and `max_orphans`.
    memory: MemoryAccount,
}

impl fmt::Debug for Stack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stack")
            .field("addrs", &self.addrs)
            .field("connections", &self.conns.len())
            .field("listeners", &self.listeners.len())
            .finish()
    }
}

impl Stack {
    /// A stack with no addresses yet. All secrets (ISN key, port offsets, timestamp offsets,
    /// hash seeds) come from `seed`: the same seed replays the same run.
    pub fn new(config: Arc<Config>, seed: [u8; 32]) -> Self {
        let (secrets, mut rng) = Secrets::from_seed(seed);
        let hasher = secrets.demux_hasher();
        let ports = PortAllocator::new(config.ephemeral_ports, rng.next_u32());
        let challenge = ChallengeAckLimiter::new(rng.next_u64());
        let cookies = SynCookies::from_secrets(secrets.clone());
        Stack {
            config,
            secrets,
            addrs: Vec::new(),
            conns: Slab::default(),
            demux: HashMap::with_hasher(hasher),
            listeners: Slab::default(),
            listen_map: HashMap::with_hasher(hasher),
            ports,
            events: VecDeque::new(),
            control: VecDeque::new(),
            icmp_out: VecDeque::new(),
            cookies,
            cookie_out: VecDeque::new(),
            ready: VecDeque::new(),
            timers: BinaryHeap::new(),
            stats: Stats::default(),
            challenge,
            memory: MemoryAccount::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Adds an address the stack answers for.
    pub fn add_address(&mut self, addr: IpAddr) {
        if !self.addrs.contains(&addr) {
            self.addrs.push(addr);
        }
    }

    /// The stack's addresses.
    pub fn addresses(&self) -> &[IpAddr] {
        &self.addrs
    }

    /// Counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Connections held (all states, TIME_WAIT included).
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    fn is_local(&self, ip: IpAddr) -> bool {
        self.addrs.contains(&ip)
    }

    // ----- Driver side -----

    /// One IP packet from the network.
    pub fn handle_packet(&mut self, now: Instant, packet: &[u8]) {
        self.stats.packets_in += 1;
        let ip = match parse_ip(packet) {
            Ok(ip) => ip,
            Err(e) => {
                self.stats.drop(e.reason());
                return;
            }
        };
        if !self.is_local(ip.header.dst) {
            self.stats.drop("not_our_address");
            return;
        }
        match ip.header.protocol {
            protocol::TCP => self.handle_tcp(now, &ip),
            protocol::ICMP | protocol::ICMPV6 => self.handle_icmp(now, &ip),
            _ => self.stats.drop("unknown_protocol"),
        }
    }

    fn handle_tcp(&mut self, now: Instant, ip: &IpPacket) {
        let (src, dst) = (ip.header.src, ip.header.dst);
        let seg = match TcpRepr::parse(ip.payload, src, dst) {
            Ok(seg) => seg,
            Err(e) => {
                self.stats.drop(e.reason());
                return;
            }
        };
        if !is_unicast(src) || src == dst {
            // RFC 1122 §4.2.3.10: segments from broadcast or multicast sources are dropped; and a
            // packet from our own address to itself is a land attack.
            self.stats.drop("bad_source_address");
            return;
        }
        if seg.src_port == 0 || seg.dst_port == 0 {
            self.stats.drop("tcp_port_zero");
            return;
        }
        self.stats.segments_in += 1;
        if seg.flags.syn() && seg.options.window_scale.is_some_and(|s| s > 14) {
            // RFC 7323 §2.3: a shift above 14 "SHOULD" be logged; the connection uses 14.
            self.stats.window_scale_clamped += 1;
        }
        let tuple = FourTuple {
            local: SocketAddr::new(dst, seg.dst_port),
            remote: SocketAddr::new(src, seg.src_port),
        };
        if let Some(&id) = self.demux.get(&tuple) {
            if self.time_wait_recyclable(id, &seg, tuple.local) {
                // RFC 9293 §3.10.7.4 / RFC 6191: a new SYN above the old sequence space may reopen
                // a connection held in TIME-WAIT.
                self.stats.time_wait_recycled += 1;
                self.remove_conn(id);
            } else if self.completes_into_full_queue(id, &seg) {
                // Linux (tcp_abort_on_overflow=0): drop the handshake's last ACK while the accept
                // queue is full; the SYN-ACK retransmission asks the client again later.
                self.stats.accept_queue_overflows += 1;
                return;
            } else {
                self.with_conn(now, id, |tcb, cx| tcb.on_segment(cx, &seg));
                return;
            }
        }
        if let Some(lid) = self.find_listener(tuple.local) {
            self.listener_input(now, lid, tuple, &seg);
            return;
        }
        self.reset_for_closed(tuple, &seg);
    }

    /// Whether `seg` would complete the handshake of a passive connection whose listener has no
    /// room in its accept queue.
    fn completes_into_full_queue(&self, id: ConnId, seg: &TcpRepr) -> bool {
        if !seg.flags.ack() || seg.flags.rst() || seg.flags.syn() {
            return false;
        }
        let Some(slot) = self.conns.get(id.index, id.gen) else {
            return false;
        };
        let Owner::Listener(lid) = slot.tcb.owner else {
            return false;
        };
        slot.tcb.state == State::SynRcvd
            && self
                .listeners
                .get(lid.index, lid.gen)
                .is_some_and(|l| l.accept_queue.len() >= l.backlog)
    }

    fn time_wait_recyclable(&self, id: ConnId, seg: &TcpRepr, local: SocketAddr) -> bool {
        if !(seg.flags.syn() && !seg.flags.ack() && !seg.flags.rst()) {
            return false;
        }
        let Some(slot) = self.conns.get(id.index, id.gen) else {
            return false;
        };
        slot.tcb.state == State::TimeWait
            && seg.seq > slot.tcb.rcv_nxt()
            && self.find_listener(local).is_some()
    }

    /// RFC 9293 §3.10.7.1: in CLOSED, a segment without RST gets a RST.
    fn reset_for_closed(&mut self, tuple: FourTuple, seg: &TcpRepr) {
        if seg.flags.rst() {
            // RFC 9293 §3.10.7.1: "An incoming segment containing a RST is discarded."
            self.stats.drop("closed_rst");
            return;
        }
        let rst = if seg.flags.ack() {
            // <SEQ=SEG.ACK><CTL=RST>
            ControlSegment::rst(tuple.local, tuple.remote, seg.ack, None)
        } else {
            // <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
            ControlSegment::rst(
                tuple.local,
                tuple.remote,
                SeqNumber(0),
                Some(seg.seq + seg.seq_len()),
            )
        };
        self.stats.resets_sent_closed += 1;
        self.push_control(rst);
    }

    fn push_control(&mut self, seg: ControlSegment) {
        if self.control.len() < self.config.max_control_queue {
            self.control.push_back(seg);
        } else {
            self.stats.drop("control_queue_full");
        }
    }

    fn find_listener(&self, local: SocketAddr) -> Option<ListenerId> {
        if let Some(&l) = self.listen_map.get(&local) {
            return Some(l);
        }
        let any = match local.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        };
        self.listen_map
            .get(&SocketAddr::new(any, local.port()))
            .copied()
    }

    /// RFC 9293 §3.10.7.2: SEGMENT ARRIVES in LISTEN.
    fn listener_input(&mut self, now: Instant, lid: ListenerId, tuple: FourTuple, seg: &TcpRepr) {
        // First: a RST to a listener is ignored.
        if seg.flags.rst() {
            self.stats.drop("listen_rst");
            return;
        }
        // Second: an ACK to a listener gets <SEQ=SEG.ACK><CTL=RST>, unless it completes a
        // handshake we answered with a SYN cookie (RFC 4987 §3.6).
        if seg.flags.ack() {
            if self.cookie_ack_input(now, lid, tuple, seg) {
                return;
            }
            self.push_control(ControlSegment::rst(
                tuple.local,
                tuple.remote,
                seg.ack,
                None,
            ));
            self.stats.resets_sent_closed += 1;
            return;
        }
        // Fourth: anything but a SYN is dropped.
        if !seg.flags.syn() {
            self.stats.drop("listen_no_syn");
            return;
        }
        if seg.flags.fin() {
            // RFC 9293 §3.10.7.2 would queue the FIN for later, but SYN+FIN is a scanner's
            // probe, never a real opening: Linux and FreeBSD (drop_synfin) discard it.
            self.stats.drop("listen_syn_fin");
            return;
        }
        let Some(listener) = self.listeners.get(lid.index, lid.gen) else {
            return;
        };
        if listener.half_open >= self.config.syn_backlog {
            if self.config.syn_cookies {
                // RFC 4987 §3.6: answer statelessly with a SYN cookie.
                self.send_syn_cookie(now, lid, tuple, seg);
            } else {
                // The SYN queue is full; the client's SYN retransmission retries later.
                self.stats.syn_queue_overflows += 1;
            }
            return;
        }
        if listener.accept_queue.len() >= listener.backlog {
            // Linux drops SYNs while the accept queue is full rather than complete handshakes
            // it could not queue.
            self.stats.accept_queue_overflows += 1;
            return;
        }
        if self.conns.len() >= self.config.max_connections {
            self.stats.drop("connection_limit");
            return;
        }
        if !self.room_for_connection() {
            // Config::memory_limit (as Linux under `tcp_mem` pressure): no state for a new
            // connection; RFC 4987 §3.6 cookies answer without any, else the SYN is dropped.
            if self.config.syn_cookies {
                self.send_syn_cookie(now, lid, tuple, seg);
            } else {
                self.stats.memory_pressure_refused += 1;
                self.stats.drop("memory_pressure");
            }
            return;
        }
        let iss = self.choose_isn(now, tuple);
        let id = self.insert_conn(tuple, iss, now, Owner::Listener(lid));
        if let Some(l) = self.listeners.get_mut(lid.index, lid.gen) {
            l.half_open += 1;
        }
        self.stats.passive_opens += 1;
        self.with_conn(now, id, |tcb, cx| tcb.open_passive(cx, seg));
    }

    /// RFC 4987 §3.6: a SYN-ACK whose ISN is a cookie, and no state kept for the SYN.
    fn send_syn_cookie(&mut self, now: Instant, lid: ListenerId, tuple: FourTuple, seg: &TcpRepr) {
        let Some(listener) = self.listeners.get_mut(lid.index, lid.gen) else {
            return;
        };
        if listener.accept_queue.len() >= listener.backlog {
            // As without cookies: no handshake the accept queue could not take.
            self.stats.accept_queue_overflows += 1;
            return;
        }
        listener.last_cookie_at = Some(now);
        if self.cookie_out.len() >= self.config.max_control_queue {
            self.stats.drop("control_queue_full");
            return;
        }
        let (cookie, _mss) =
            self.cookies
                .encode(tuple.local, tuple.remote, seg.seq, seg.options.mss, now);
        let ts_now = (now.total_millis() as u32)
            .wrapping_add(self.secrets.ts_offset(tuple.local, tuple.remote));
        self.cookie_out.push_back(CookieSynAck::new(
            &self.config,
            tuple.local,
            tuple.remote,
            seg,
            cookie,
            ts_now,
        ));
        self.stats.syn_cookies_sent += 1;
    }

    /// An ACK (no SYN, no RST) for a listener with no connection: if the listener sent cookies
    /// lately, checks SEG.ACK-1 as one and, if valid, creates the connection straight into
    /// ESTABLISHED. Returns whether the segment was taken (a connection made, or dropped for
    /// want of room); false sends it on to the usual RST.
    fn cookie_ack_input(
        &mut self,
        now: Instant,
        lid: ListenerId,
        tuple: FourTuple,
        seg: &TcpRepr,
    ) -> bool {
        if !self.config.syn_cookies || seg.flags.syn() || seg.flags.rst() {
            return false;
        }
        let Some(listener) = self.listeners.get(lid.index, lid.gen) else {
            return false;
        };
        // Cookies live two slots; one sent longer ago than that cannot validate.
        let recent = listener.last_cookie_at.is_some_and(|at| {
            now.saturating_duration_since(at) < std::time::Duration::from_secs(2 * SLOT_SECS)
        });
        if !recent {
            return false;
        }
        let queue_full = listener.accept_queue.len() >= listener.backlog;
        let peer_isn = seg.seq - 1;
        let cookie = seg.ack - 1;
        let Some(mss) = self
            .cookies
            .decode(tuple.local, tuple.remote, peer_isn, cookie, now)
        else {
            self.stats.syn_cookies_invalid += 1;
            return false;
        };
        self.stats.syn_cookies_valid += 1;
        if queue_full {
            // Linux (tcp_abort_on_overflow=0): drop; the peer's retransmission tries again.
            self.stats.accept_queue_overflows += 1;
            return true;
        }
        if self.conns.len() >= self.config.max_connections {
            self.stats.drop("connection_limit");
            return true;
        }
        if !self.room_for_connection() {
            // Config::memory_limit: no state now; the peer's next segment carries the same
            // cookie while it is valid.
            self.stats.memory_pressure_refused += 1;
            self.stats.drop("memory_pressure");
            return true;
        }
        let options = seg.options.timestamps.map(|ts| decode_tsecr(ts.tsecr));
        let id = self.insert_conn(tuple, cookie, now, Owner::Listener(lid));
        if let Some(l) = self.listeners.get_mut(lid.index, lid.gen) {
            // Counted half-open until the move to the accept queue, as any passive open.
            l.half_open += 1;
        }
        self.stats.passive_opens += 1;
        self.with_conn(now, id, |tcb, cx| {
            tcb.open_from_cookie(cx, seg, mss, options)
        });
        true
    }

    fn choose_isn(&self, now: Instant, tuple: FourTuple) -> SeqNumber {
        SeqNumber(match self.config.isn {
            IsnMode::Rfc6528 => self
                .secrets
                .isn(tuple.local, tuple.remote, now.total_micros()),
            IsnMode::Fixed(isn) => isn,
        })
    }

    fn insert_conn(
        &mut self,
        tuple: FourTuple,
        iss: SeqNumber,
        now: Instant,
        owner: Owner,
    ) -> ConnId {
        let ts_offset = self.secrets.ts_offset(tuple.local, tuple.remote);
        let config = &self.config;
        let (index, gen) = self.conns.insert_with(|index, gen| {
            let mut tcb = Tcb::new(
                ConnId { index, gen },
                tuple.local,
                tuple.remote,
                iss,
                ts_offset,
                config,
                now,
            );
            tcb.owner = owner;
            ConnSlot {
                tcb: Box::new(tcb),
                ready: false,
                deadline: None,
                accept_queued: false,
            }
        });
        let id = ConnId { index, gen };
        self.demux.insert(tuple, id);
        self.memory.add(Self::empty_connection_memory());
        self.memory.update_pressure(self.config.memory_limit, false);
        id
    }

    /// Memory a connection holds as soon as it exists (no buffers yet).
    fn empty_connection_memory() -> usize {
        Tcb::empty_memory() + std::mem::size_of::<ConnSlot>()
    }

    /// Config::memory_limit: a new connection must fit whole under the limit, so connection
    /// state never takes the stack past it.
    fn room_for_connection(&self) -> bool {
        !self.memory.under_pressure()
            && self.memory.used() + Self::empty_connection_memory() <= self.config.memory_limit
    }

    /// Runs `f` on a connection with a context whose clock reads `now` (the time of the call
    /// that got us here: the stack keeps no clock of its own, so a user call made long after the
    /// last packet still acts at its own time), then does the bookkeeping every change needs:
    /// listener queues, removal of finished connections, the send queue and the timer heap.
    fn with_conn<R>(
        &mut self,
        now: Instant,
        id: ConnId,
        f: impl FnOnce(&mut Tcb, &mut Cx) -> R,
    ) -> Option<R> {
        self.with_conn_requeue(now, id, true, f)
    }

    /// As `with_conn`; `requeue` false leaves the connection out of the send queue (it just said
    /// it has nothing to send).
    fn with_conn_requeue<R>(
        &mut self,
        now: Instant,
        id: ConnId,
        requeue: bool,
        f: impl FnOnce(&mut Tcb, &mut Cx) -> R,
    ) -> Option<R> {
        let slot = self.conns.get_mut(id.index, id.gen)?;
        let memory_before = slot.tcb.memory();
        let was_orphan = slot.tcb.is_orphan();
        let mut cx = Cx {
            now,
            config: &self.config,
            events: &mut self.events,
            control: &mut self.control,
            stats: &mut self.stats,
            challenge: &mut self.challenge,
            memory: self.memory.budget(self.config.memory_limit, memory_before),
        };
        let r = f(&mut slot.tcb, &mut cx);
        settle_owner(id, slot, &mut self.listeners, &mut cx);
        if !was_orphan && slot.tcb.is_orphan() && self.memory.orphans() >= self.config.max_orphans {
            // As Linux `tcp_max_orphans` ("too many orphaned sockets"): a connection that
            // would be one orphan too many is reset instead of finishing its close.
            slot.tcb.reset_orphan(&mut cx);
        }
        if cx
            .memory
            .reclaim_due(slot.tcb.memory(), Self::empty_connection_memory())
        {
            slot.tcb.release_idle_buffers();
        }
        self.memory.adjust(memory_before, slot.tcb.memory());
        let refused = cx.memory.refused;
        self.memory
            .update_pressure(self.config.memory_limit, refused);
        self.memory.orphan_changed(was_orphan, slot.tcb.is_orphan());
        self.reschedule(id, requeue);
        Some(r)
    }

    /// Runs `f`, which neither reads the clock nor changes the connection's state, on a
    /// connection, then requeues it and refreshes its timer entry (for `recv` and settings).
    fn with_tcb<R>(&mut self, id: ConnId, f: impl FnOnce(&mut Tcb) -> R) -> Option<R> {
        let slot = self.conns.get_mut(id.index, id.gen)?;
        let memory_before = slot.tcb.memory();
        let r = f(&mut slot.tcb);
        let budget = self.memory.budget(self.config.memory_limit, memory_before);
        if budget.reclaim_due(slot.tcb.memory(), Self::empty_connection_memory()) {
            // Under memory pressure a drained buffer gives its storage back (Linux
            // `sk_mem_reclaim`), so reading is what lets new work in again.
            slot.tcb.release_idle_buffers();
        }
        self.memory.adjust(memory_before, slot.tcb.memory());
        self.memory.update_pressure(self.config.memory_limit, false);
        self.reschedule(id, true);
        Some(r)
    }

    /// Frees a finished connection; otherwise queues it to send (when `requeue`) and keeps its
    /// entry in the timer heap at or before its deadline.
    fn reschedule(&mut self, id: ConnId, requeue: bool) {
        let Some(slot) = self.conns.get_mut(id.index, id.gen) else {
            return;
        };
        if slot.tcb.is_finished() {
            self.remove_conn(id);
            return;
        }
        if requeue && !slot.ready {
            slot.ready = true;
            self.ready.push_back(id);
        }
        // The heap holds at most one live entry per connection, at or before its real deadline:
        // a deadline that moves later (the RTO restarts on every ACK) costs nothing now, and
        // the early entry re-arms itself when it pops.
        if let Some(at) = slot.tcb.next_deadline() {
            if slot.deadline.is_none_or(|scheduled| at < scheduled) {
                slot.deadline = Some(at);
                self.timers.push(Reverse((at, id.index, id.gen)));
            }
        }
    }

    fn remove_conn(&mut self, id: ConnId) {
        let Some(slot) = self.conns.remove(id.index, id.gen) else {
            return;
        };
        self.memory
            .remove(slot.tcb.memory() + std::mem::size_of::<ConnSlot>());
        self.memory.orphan_changed(slot.tcb.is_orphan(), false);
        self.memory.update_pressure(self.config.memory_limit, false);
        let tuple = FourTuple {
            local: slot.tcb.local,
            remote: slot.tcb.remote,
        };
        if self.demux.get(&tuple) == Some(&id) {
            self.demux.remove(&tuple);
        }
        if let Owner::Listener(lid) = slot.tcb.owner {
            if let Some(l) = self.listeners.get_mut(lid.index, lid.gen) {
                if slot.accept_queued {
                    l.accept_queue.retain(|c| *c != id);
                } else {
                    l.half_open = l.half_open.saturating_sub(1);
                }
            }
        }
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&Reverse((at, index, gen))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            let id = ConnId { index, gen };
            let due = match self.conns.get_mut(index, gen) {
                // Entries that are not the connection's live one are leftovers: skip them.
                Some(slot) if slot.deadline == Some(at) => {
                    slot.deadline = None;
                    slot.tcb.next_deadline().is_some_and(|d| d <= now)
                }
                _ => continue,
            };
            if due {
                self.with_conn_requeue(now, id, true, |tcb, cx| tcb.on_timeout(cx));
            } else {
                // The deadline moved later since this entry was pushed: re-arm at the real one.
                self.reschedule(id, false);
            }
        }
    }

    /// The next time `handle_timeout` has work (possibly a little early; never late).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((at, _, _))| *at)
    }

    /// Writes the next outgoing IP packet into `buf` (which should hold at least the MTU).
    #[must_use]
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        if let Some(c) = self.control.pop_front() {
            if let Some(len) = emit_control(&c, self.config.hop_limit, buf) {
                self.stats.packets_out += 1;
                self.stats.control_sent += 1;
                self.stats.segments_out += 1;
                if c.flags.rst() {
                    self.stats.resets_sent += 1;
                }
                return Some(Transmit {
                    len,
                    dst: c.remote.ip(),
                });
            }
        }
        if let Some(c) = self.cookie_out.pop_front() {
            if let Some(len) = c.emit(self.config.hop_limit, buf) {
                self.stats.packets_out += 1;
                self.stats.segments_out += 1;
                return Some(Transmit {
                    len,
                    dst: c.remote().ip(),
                });
            }
        }
        if let Some(p) = self.icmp_out.pop_front() {
            if let Some(dst) = buf.get_mut(..p.len()) {
                dst.copy_from_slice(&p);
                self.stats.packets_out += 1;
                let dst_ip = parse_ip(&p)
                    .map(|ip| ip.header.dst)
                    .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
                return Some(Transmit {
                    len: p.len(),
                    dst: dst_ip,
                });
            }
        }
        while let Some(id) = self.ready.pop_front() {
            let Some(slot) = self.conns.get_mut(id.index, id.gen) else {
                continue;
            };
            slot.ready = false;
            let remote = slot.tcb.remote.ip();
            let mut produced = None;
            self.with_conn_requeue(now, id, false, |tcb, cx| {
                produced = tcb.poll_transmit(cx, buf)
            });
            if let Some(len) = produced {
                // It may have more: back of the queue, so connections take turns.
                if let Some(slot) = self.conns.get_mut(id.index, id.gen) {
                    if !slot.ready {
                        slot.ready = true;
                        self.ready.push_back(id);
                    }
                }
                self.stats.packets_out += 1;
                return Some(Transmit { len, dst: remote });
            }
        }
        None
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    // ----- ICMP -----

    fn handle_icmp(&mut self, now: Instant, ip: &IpPacket) {
        match icmp::classify(ip) {
            Ok(icmp::Incoming::EchoRequest(reply)) => {
                if self.icmp_out.len() < self.config.max_control_queue {
                    self.icmp_out.push_back(reply);
                    self.stats.echo_replies += 1;
                } else {
                    self.stats.drop("control_queue_full");
                }
            }
            Ok(icmp::Incoming::Error(err)) => {
                let tuple = FourTuple {
                    local: err.local,
                    remote: err.remote,
                };
                let Some(&id) = self.demux.get(&tuple) else {
                    self.stats.drop("icmp_no_connection");
                    return;
                };
                self.stats.icmp_errors += 1;
                self.with_conn(now, id, |tcb, cx| tcb.on_icmp_error(cx, &err));
            }
            // Echo replies, unknown types, errors about other protocols: nothing to do.
            Ok(icmp::Incoming::Ignored) => self.stats.drop("icmp_ignored"),
            Err(reason) => self.stats.drop(reason),
        }
    }

    // ----- User side -----

    /// Listens on `addr` (an address of ours or the unspecified address) with an accept queue of
    /// `backlog` connections.
    pub fn listen(&mut self, addr: SocketAddr, backlog: u32) -> Result<ListenerId, ListenError> {
        if addr.port() == 0 || backlog == 0 {
            return Err(ListenError::InvalidInput);
        }
        if !addr.ip().is_unspecified() && !self.is_local(addr.ip()) {
            return Err(ListenError::AddrNotAvailable);
        }
        if self.listen_map.contains_key(&addr) {
            return Err(ListenError::AddrInUse);
        }
        let (index, gen) = self.listeners.insert_with(|_, _| Listener {
            addr,
            backlog: backlog as usize,
            accept_queue: VecDeque::new(),
            half_open: 0,
            last_cookie_at: None,
        });
        let id = ListenerId { index, gen };
        self.listen_map.insert(addr, id);
        Ok(id)
    }

    /// Takes the oldest established connection from a listener's accept queue.
    pub fn accept(&mut self, lid: ListenerId) -> Option<ConnId> {
        let listener = self.listeners.get_mut(lid.index, lid.gen)?;
        let id = listener.accept_queue.pop_front()?;
        let slot = self.conns.get_mut(id.index, id.gen)?;
        slot.accept_queued = false;
        slot.tcb.owner = Owner::User;
        Some(id)
    }

    /// The address a listener is bound to.
    pub fn listener_addr(&self, lid: ListenerId) -> Option<SocketAddr> {
        self.listeners.get(lid.index, lid.gen).map(|l| l.addr)
    }

    /// Stops listening at `now`; queued and half-open connections are reset.
    pub fn unlisten(&mut self, now: Instant, lid: ListenerId) -> Result<(), InvalidHandle> {
        let listener = self
            .listeners
            .remove(lid.index, lid.gen)
            .ok_or(InvalidHandle)?;
        self.listen_map.remove(&listener.addr);
        let owned: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, _, s)| s.tcb.owner == Owner::Listener(lid))
            .map(|(index, gen, _)| ConnId { index, gen })
            .collect();
        for id in owned {
            self.with_conn(now, id, |tcb, cx| {
                tcb.owner = Owner::Orphan;
                tcb.abort(cx)
            });
        }
        Ok(())
    }

    /// Opens a connection to `remote` (RFC 9293 §3.10.1 active OPEN). `local` picks the source
    /// address and port (port 0 or None: an ephemeral port, RFC 6056).
    pub fn connect(
        &mut self,
        now: Instant,
        local: Option<SocketAddr>,
        remote: SocketAddr,
    ) -> Result<ConnId, ConnectError> {
        if remote.port() == 0 || !is_unicast(remote.ip()) {
            return Err(ConnectError::InvalidAddress);
        }
        if self.conns.len() >= self.config.max_connections {
            return Err(ConnectError::TooManyConnections);
        }
        if !self.room_for_connection() {
            self.stats.memory_pressure_refused += 1;
            return Err(ConnectError::NoMemory);
        }
        let local_ip = match local.map(|l| l.ip()) {
            Some(ip) if !ip.is_unspecified() => {
                if !self.is_local(ip) {
                    return Err(ConnectError::AddrNotAvailable);
                }
                ip
            }
            _ => *self
                .addrs
                .iter()
                .find(|a| a.is_ipv4() == remote.is_ipv4())
                .ok_or(ConnectError::AddrNotAvailable)?,
        };
        if local_ip.is_ipv4() != remote.is_ipv4() {
            return Err(ConnectError::InvalidAddress);
        }
        let port = match local.map(|l| l.port()) {
            Some(p) if p != 0 => p,
            _ => {
                let demux = &self.demux;
                let listen_map = &self.listen_map;
                self.ports
                    .allocate(&self.secrets, local_ip, remote, |p| {
                        demux.contains_key(&FourTuple {
                            local: SocketAddr::new(local_ip, p),
                            remote,
                        }) || listen_map.contains_key(&SocketAddr::new(local_ip, p))
                    })
                    .ok_or(ConnectError::NoFreePorts)?
            }
        };
        let tuple = FourTuple {
            local: SocketAddr::new(local_ip, port),
            remote,
        };
        if self.demux.contains_key(&tuple) {
            return Err(ConnectError::AddrInUse);
        }
        let iss = self.choose_isn(now, tuple);
        let id = self.insert_conn(tuple, iss, now, Owner::User);
        self.stats.active_opens += 1;
        self.with_conn(now, id, |tcb, cx| tcb.open_active(cx));
        Ok(id)
    }

    fn tcb(&self, id: ConnId) -> Option<&Tcb> {
        self.conns.get(id.index, id.gen).map(|s| &*s.tcb)
    }

    /// Queues data at `now` (data queued into a closed window arms the persist timer); returns
    /// how much fit.
    pub fn send(&mut self, now: Instant, id: ConnId, data: &[u8]) -> Result<usize, SendError> {
        self.with_conn(now, id, |tcb, cx| tcb.send(cx, data))
            .unwrap_or(Err(SendError::InvalidHandle))
    }

    /// Reads data. Ok(0) is end of stream. (No clock: reading arms no timer; a window update it
    /// makes due leaves on the next `poll_transmit`.)
    pub fn recv(&mut self, id: ConnId, buf: &mut [u8]) -> Result<usize, RecvError> {
        self.with_tcb(id, |tcb| tcb.recv(buf))
            .unwrap_or(Err(RecvError::InvalidHandle))
    }

    /// Shuts down one or both directions at `now`.
    pub fn shutdown(
        &mut self,
        now: Instant,
        id: ConnId,
        how: Shutdown,
    ) -> Result<(), InvalidHandle> {
        self.with_conn(now, id, |tcb, cx| {
            if matches!(how, Shutdown::Read | Shutdown::Both) {
                tcb.shutdown_read();
            }
            if matches!(how, Shutdown::Write | Shutdown::Both) {
                tcb.shutdown_write(cx);
            }
        })
        .ok_or(InvalidHandle)
    }

    /// Closes the connection at `now` and gives up the handle; the connection finishes on its
    /// own (an orphan's FIN-WAIT-2 limit counts from `now`).
    pub fn close(&mut self, now: Instant, id: ConnId) -> Result<(), InvalidHandle> {
        self.with_conn(now, id, |tcb, cx| tcb.close(cx))
            .ok_or(InvalidHandle)
    }

    /// Resets the connection (RST) at `now` and gives up the handle.
    pub fn abort(&mut self, now: Instant, id: ConnId) -> Result<(), InvalidHandle> {
        self.with_conn(now, id, |tcb, cx| {
            tcb.owner = Owner::Orphan;
            tcb.abort(cx)
        })
        .ok_or(InvalidHandle)
    }

    /// A connection's state; None for a stale handle.
    pub fn state(&self, id: ConnId) -> Option<State> {
        self.tcb(id).map(|t| t.state)
    }

    /// The TCP_INFO-like snapshot.
    pub fn info(&self, id: ConnId) -> Option<TcpInfo> {
        self.tcb(id).map(|t| t.info())
    }

    /// Room in the send buffer now.
    pub fn send_capacity(&self, id: ConnId) -> Option<usize> {
        self.tcb(id).map(|t| t.send_capacity())
    }

    /// Whether `recv` would return something other than WouldBlock.
    pub fn is_readable(&self, id: ConnId) -> bool {
        self.tcb(id).is_some_and(|t| t.is_readable())
    }

    /// The error that ended the connection, if any.
    pub fn error(&self, id: ConnId) -> Option<crate::error::ConnectionError> {
        self.tcb(id).and_then(|t| t.error)
    }

    /// Our address and port.
    pub fn local_addr(&self, id: ConnId) -> Option<SocketAddr> {
        self.tcb(id).map(|t| t.local)
    }

    /// The peer's address and port.
    pub fn remote_addr(&self, id: ConnId) -> Option<SocketAddr> {
        self.tcb(id).map(|t| t.remote)
    }

    /// Turns Nagle's algorithm off (true) or on.
    pub fn set_nodelay(&mut self, id: ConnId, nodelay: bool) -> Result<(), InvalidHandle> {
        self.with_tcb(id, |tcb| tcb.nodelay = nodelay)
            .ok_or(InvalidHandle)
    }

    /// Turns keepalive on (Some; the idle time counts from `now`) or off.
    pub fn set_keepalive(
        &mut self,
        now: Instant,
        id: ConnId,
        keepalive: Option<Keepalive>,
    ) -> Result<(), InvalidHandle> {
        self.with_conn(now, id, |tcb, _| tcb.set_keepalive(now, keepalive))
            .ok_or(InvalidHandle)
    }

    /// Every connection with its 4-tuple and state (for `ss`-like tools).
    pub fn connections(&self) -> impl Iterator<Item = (ConnId, &Tcb)> {
        self.conns
            .iter()
            .map(|(index, gen, s)| (ConnId { index, gen }, &*s.tcb))
    }

    /// Every listener with its address and queue lengths (accept queue, half-open).
    pub fn listeners(&self) -> impl Iterator<Item = (ListenerId, SocketAddr, usize, usize)> + '_ {
        self.listeners.iter().map(|(index, gen, l)| {
            (
                ListenerId { index, gen },
                l.addr,
                l.accept_queue.len(),
                l.half_open,
            )
        })
    }

    /// Memory held by all connections (struct and buffers), bytes: the running total that
    /// `Config::memory_limit` is checked against, O(1). Equals `connection_memory()`.
    pub fn memory_used(&self) -> usize {
        self.memory.used()
    }

    /// Orphaned connections now (closed by the user, still in FIN-WAIT-1/2, CLOSING or
    /// LAST-ACK), O(1); `Config::max_orphans` bounds it.
    pub fn orphan_count(&self) -> usize {
        self.memory.orphans()
    }

    /// Memory held by all connections (struct and buffers), bytes, counted by walking every
    /// connection (O(n)): the audit for `memory_used`.
    pub fn connection_memory(&self) -> usize {
        self.conns
            .iter()
            .map(|(_, _, s)| s.tcb.memory() + std::mem::size_of::<ConnSlot>())
            .sum()
    }
}

/// A passive connection that finished its handshake moves to its listener's accept queue, or is
/// reset if there is no room (or its listener is gone) rather than left unowned.
fn settle_owner(id: ConnId, slot: &mut ConnSlot, listeners: &mut Slab<Listener>, cx: &mut Cx) {
    let Owner::Listener(lid) = slot.tcb.owner else {
        return;
    };
    if !slot.tcb.state.is_synchronized() || slot.accept_queued {
        return;
    }
    match listeners.get_mut(lid.index, lid.gen) {
        Some(l) if l.accept_queue.len() < l.backlog => {
            l.half_open = l.half_open.saturating_sub(1);
            l.accept_queue.push_back(id);
            slot.accept_queued = true;
            cx.events.push_back(Event::Incoming(lid));
        }
        _ => {
            cx.stats.accept_queue_overflows += 1;
            slot.tcb.abort(cx);
        }
    }
}

/// Unicast: not unspecified, multicast or IPv4 broadcast.
fn is_unicast(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => !(a.is_unspecified() || a.is_multicast() || a.is_broadcast()),
        IpAddr::V6(a) => !(a.is_unspecified() || a.is_multicast()),
    }
}

/// Builds a control segment (a RST, possibly with ACK): no options, zero window.
fn emit_control(c: &ControlSegment, hop_limit: u8, buf: &mut [u8]) -> Option<usize> {
    let mut flags = c.flags;
    if c.ack.is_some() {
        flags |= TcpFlags::ACK;
    }
    let repr = TcpRepr {
        src_port: c.local.port(),
        dst_port: c.remote.port(),
        seq: c.seq,
        ack: c.ack.unwrap_or(SeqNumber(0)),
        flags,
        window: 0,
        urgent_ptr: 0,
        options: TcpOptions::default(),
        payload: &[],
    };
    let ip_len = ip_header_len(c.local.ip());
    let tcp_len = repr.header_len();
    let total = ip_len + tcp_len;
    let out = buf.get_mut(..total)?;
    repr.emit(&mut out[ip_len..], c.local.ip(), c.remote.ip())
        .ok()?;
    emit_ip_header(
        &mut out[..ip_len],
        c.local.ip(),
        c.remote.ip(),
        protocol::TCP,
        tcp_len,
        hop_limit,
        0,
    )
    .ok()?;
    Some(total)
}

/// A connection handle bound to its stack, for chained calls: `stack.conn(id).send(now, b"hi")`.
#[derive(Debug)]
pub struct Conn<'a> {
    stack: &'a mut Stack,
    id: ConnId,
}

impl Stack {
    /// The connection `id` as a handle with methods.
    pub fn conn(&mut self, id: ConnId) -> Conn<'_> {
        Conn { stack: self, id }
    }
}

impl Conn<'_> {
    /// The handle.
    pub fn id(&self) -> ConnId {
        self.id
    }
    /// See [`Stack::send`].
    pub fn send(&mut self, now: Instant, data: &[u8]) -> Result<usize, SendError> {
        self.stack.send(now, self.id, data)
    }
    /// See [`Stack::recv`].
    pub fn recv(&mut self, buf: &mut [u8]) -> Result<usize, RecvError> {
        self.stack.recv(self.id, buf)
    }
    /// See [`Stack::shutdown`].
    pub fn shutdown(&mut self, now: Instant, how: Shutdown) -> Result<(), InvalidHandle> {
        self.stack.shutdown(now, self.id, how)
    }
    /// See [`Stack::close`].
    pub fn close(self, now: Instant) -> Result<(), InvalidHandle> {
        self.stack.close(now, self.id)
    }
    /// See [`Stack::abort`].
    pub fn abort(self, now: Instant) -> Result<(), InvalidHandle> {
        self.stack.abort(now, self.id)
    }
    /// See [`Stack::state`].
    pub fn state(&self) -> Option<State> {
        self.stack.state(self.id)
    }
    /// See [`Stack::info`].
    pub fn info(&self) -> Option<TcpInfo> {
        self.stack.info(self.id)
    }
    /// See [`Stack::set_nodelay`].
    pub fn set_nodelay(&mut self, nodelay: bool) -> Result<(), InvalidHandle> {
        self.stack.set_nodelay(self.id, nodelay)
    }
    /// See [`Stack::set_keepalive`].
    pub fn set_keepalive(
        &mut self,
        now: Instant,
        keepalive: Option<Keepalive>,
    ) -> Result<(), InvalidHandle> {
        self.stack.set_keepalive(now, self.id, keepalive)
    }
    /// See [`Stack::local_addr`].
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.stack.local_addr(self.id)
    }
    /// See [`Stack::remote_addr`].
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.stack.remote_addr(self.id)
    }
}
