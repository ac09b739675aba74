//! The network: hosts, links, virtual time and the event loop that drives them.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use synack_core::Instant;

use crate::addr;
use crate::channel::{Channel, Fate};
use crate::event::{Event, EventKind, EventQueue};
use crate::host::{Host, TimerSlot};
use crate::{Capture, CaptureEvent, DropReason, HostId, LinkConfig, NetStats, Node};

/// Size of the buffer handed to [`Node::poll_transmit`]: the largest IPv6
/// packet without jumbograms (40-byte header + 65535-byte payload), which
/// also covers IPv4's 65535-byte maximum, so an MTU of 65535 works.
pub const TRANSMIT_BUFFER_LEN: usize = 40 + 65_535;

/// Spare packet buffers kept for reuse; beyond this they are freed.
const SPARE_BUFFERS: usize = 4096;

/// Largest back-off for a stalled deadline: 1 µs << 20 ≈ 1.05 s.
const MAX_STALL_SHIFT: u32 = 20;

/// A deterministic network of [`Node`]s driven in virtual time.
///
/// # Event loop
/// Events are packet arrivals and node deadlines, kept in a binary heap keyed
/// by (time, insertion order). [`step`](Network::step) pops the earliest,
/// jumps virtual time to it and hands it to its node; the network then drains
/// that node's [`poll_transmit`](Node::poll_transmit) onto links and re-reads
/// its [`poll_timeout`](Node::poll_timeout). Idle nodes are never polled.
///
/// # Deadlines
/// A deadline at or before `now` fires at `now` (after events already queued
/// for `now`). Guard against a node that keeps asking for a past deadline
/// without making progress: if, right after its timeout fired, a node still
/// asks for a deadline at or before `now`, the network schedules it 1 µs
/// later, doubling on each consecutive stall up to about 1 s, and counts
/// [`NetStats::stalled_timeouts`]. Virtual time therefore always advances and
/// `run_until` terminates, while a well-behaved node (which clears its expired
/// timers in `handle_timeout`) never sees the guard.
///
/// # Host changes
/// [`host_mut`](Network::host_mut) marks the host as touched; touched hosts
/// are drained before the next event is processed, so a packet queued through
/// `host_mut` is sent even without calling [`flush`](Network::flush).
///
/// # Determinism
/// One ChaCha8 stream seeded by [`new`](Network::new) draws every
/// impairment, in a fixed order per packet, and ties in time replay in
/// insertion order. The same seed and the same calls give identical runs.
pub struct Network<N: Node> {
    now: Instant,
    rng: ChaCha8Rng,
    hosts: Vec<Host<N>>,
    /// Which host owns each address: the routing table.
    owners: HashMap<IpAddr, HostId>,
    /// Link direction (from, to) to its index in `channels`.
    routes: HashMap<(HostId, HostId), usize>,
    channels: Vec<Channel>,
    events: EventQueue,
    stats: NetStats,
    capturing: bool,
    captures: Vec<Capture>,
    /// Handed to `poll_transmit`; allocated once.
    tx_buf: Vec<u8>,
    /// Packet buffers from delivered or dropped packets, reused for new ones.
    spare: Vec<Vec<u8>>,
    /// Hosts touched through `host_mut` since they were last drained.
    touched: Vec<HostId>,
}

impl<N: Node> Network<N> {
    /// An empty network at time zero whose impairments are drawn from `seed`.
    pub fn new(seed: u64) -> Self {
        Network {
            now: Instant::ZERO,
            rng: ChaCha8Rng::seed_from_u64(seed),
            hosts: Vec::new(),
            owners: HashMap::new(),
            routes: HashMap::new(),
            channels: Vec::new(),
            events: EventQueue::default(),
            stats: NetStats::default(),
            capturing: false,
            captures: Vec::new(),
            tx_buf: vec![0; TRANSMIT_BUFFER_LEN],
            spare: Vec::new(),
            touched: Vec::new(),
        }
    }

    /// Adds a host owning `addrs`. It is drained and its deadline read before
    /// the next event, so a node that already has packets queued sends them.
    ///
    /// # Panics
    /// If another host already owns one of `addrs`: routing would be ambiguous.
    pub fn add_host(&mut self, node: N, addrs: &[IpAddr]) -> HostId {
        let id = HostId(self.hosts.len());
        for addr in addrs {
            if let Some(owner) = self.owners.get(addr) {
                panic!("address {addr} already belongs to host {owner}");
            }
        }
        for addr in addrs {
            self.owners.insert(*addr, id);
        }
        self.hosts.push(Host {
            node,
            addrs: addrs.to_vec(),
            timer: TimerSlot::default(),
            dirty: false,
        });
        self.touch(id);
        id
    }

    /// Links `a` and `b` with the same configuration in both directions.
    pub fn link(&mut self, a: HostId, b: HostId, both_ways: LinkConfig) {
        if a != b {
            self.set_link(b, a, both_ways.clone());
        }
        self.set_link(a, b, both_ways);
    }

    /// Links `a` and `b` with a different configuration in each direction.
    pub fn link_asymmetric(
        &mut self,
        a: HostId,
        b: HostId,
        a_to_b: LinkConfig,
        b_to_a: LinkConfig,
    ) {
        self.set_link(a, b, a_to_b);
        self.set_link(b, a, b_to_a);
    }

    /// Sets the configuration of the direction `from` → `to`, creating it if
    /// needed. Mid-run changes apply to packets sent from now on; packets
    /// already queued keep their schedule, except that a link set down drops
    /// those still in flight when they would arrive.
    pub fn set_link(&mut self, from: HostId, to: HostId, cfg: LinkConfig) {
        match self.routes.get(&(from, to)) {
            Some(&index) => self.channels[index].reconfigure(cfg),
            None => {
                self.routes.insert((from, to), self.channels.len());
                self.channels.push(Channel::new(cfg));
            }
        }
    }

    /// The configuration of the direction `from` → `to`, if linked.
    pub fn link_config(&self, from: HostId, to: HostId) -> Option<&LinkConfig> {
        let index = *self.routes.get(&(from, to))?;
        self.channels.get(index).map(Channel::config)
    }

    /// Takes both directions between `a` and `b` down, keeping their other settings.
    pub fn partition(&mut self, a: HostId, b: HostId) {
        self.set_up(a, b, false);
    }

    /// Brings both directions between `a` and `b` back up.
    pub fn heal(&mut self, a: HostId, b: HostId) {
        self.set_up(a, b, true);
    }

    fn set_up(&mut self, a: HostId, b: HostId, up: bool) {
        for key in [(a, b), (b, a)] {
            if let Some(cfg) = self.link_config(key.0, key.1) {
                let cfg = cfg.clone().with_up(up);
                self.set_link(key.0, key.1, cfg);
            }
        }
    }

    /// The node on host `id`.
    ///
    /// # Panics
    /// If `id` came from another network with more hosts.
    pub fn host(&self, id: HostId) -> &N {
        &self.hosts[id.0].node
    }

    /// The node on host `id`, for calls like `connect`. The host is drained
    /// and its deadline re-read before the next event (or on [`flush`](Network::flush)).
    ///
    /// # Panics
    /// If `id` came from another network with more hosts.
    pub fn host_mut(&mut self, id: HostId) -> &mut N {
        self.touch(id);
        &mut self.hosts[id.0].node
    }

    /// The addresses host `id` owns.
    ///
    /// # Panics
    /// If `id` came from another network with more hosts.
    pub fn host_addrs(&self, id: HostId) -> &[IpAddr] {
        &self.hosts[id.0].addrs
    }

    /// The host that owns `addr`, if any.
    pub fn host_by_addr(&self, addr: IpAddr) -> Option<HostId> {
        self.owners.get(&addr).copied()
    }

    /// Every host, in the order they were added.
    pub fn host_ids(&self) -> impl Iterator<Item = HostId> {
        (0..self.hosts.len()).map(HostId)
    }

    /// Current virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Injects a raw packet as if `from` had sent it at `now` (attackers,
    /// spoofed sources): it is routed and impaired like any other.
    pub fn inject(&mut self, from: HostId, packet: Vec<u8>) {
        self.send(from, packet);
    }

    /// Drains every host's `poll_transmit` onto links (call after you changed
    /// a host through [`host_mut`](Network::host_mut)) and re-reads every deadline.
    pub fn flush(&mut self) {
        for host in &mut self.hosts {
            host.dirty = false;
        }
        self.touched.clear();
        for index in 0..self.hosts.len() {
            self.drain(HostId(index));
            self.refresh_deadline(HostId(index), false);
        }
    }

    /// Processes the next event (delivery or node deadline), advancing
    /// virtual time to it. `false` if nothing is pending.
    pub fn step(&mut self) -> bool {
        self.flush_touched();
        let Some(event) = self.pop_live() else {
            return false;
        };
        self.now = self.now.max(event.at);
        match event.kind {
            EventKind::Arrival {
                from,
                to,
                channel,
                packet,
            } => self.arrive(from, to, channel, packet),
            EventKind::Deadline { host, .. } => self.fire_deadline(host),
        }
        true
    }

    /// Time of the next event, if any (touched hosts are drained first, since
    /// what they send may be the next event).
    pub fn next_event_time(&mut self) -> Option<Instant> {
        self.flush_touched();
        loop {
            let top = self.events.peek()?;
            if !self.is_stale(top) {
                return Some(top.at);
            }
            self.events.pop();
        }
    }

    /// Processes every event up to and including `t`, then sets the clock to
    /// `t` (time never goes back).
    pub fn run_until(&mut self, t: Instant) {
        while self.next_event_time().is_some_and(|at| at <= t) {
            self.step();
        }
        self.now = self.now.max(t);
    }

    /// Runs for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) {
        self.run_until(self.now + d);
    }

    /// Steps until `pred` is true or `limit` of virtual time has passed;
    /// returns whether `pred` became true. `pred` is checked before the first
    /// step and after each one; on giving up the clock stands at the limit.
    pub fn run_until_cond(
        &mut self,
        limit: Duration,
        mut pred: impl FnMut(&mut Self) -> bool,
    ) -> bool {
        let give_up_at = self.now + limit;
        loop {
            if pred(self) {
                return true;
            }
            if self.next_event_time().is_some_and(|at| at <= give_up_at) {
                self.step();
            } else {
                self.now = self.now.max(give_up_at);
                return pred(self);
            }
        }
    }

    /// Counters since the network was created.
    pub fn stats(&self) -> &NetStats {
        &self.stats
    }

    /// Counters for the direction `from` → `to` alone, if linked: what was
    /// offered to it and what became of it (`no_route`, `unparseable` and the
    /// deadline counters stay 0, as they happen before or apart from a link).
    pub fn link_stats(&self, from: HostId, to: HostId) -> Option<&NetStats> {
        let index = *self.routes.get(&(from, to))?;
        self.channels.get(index).map(|c| &c.stats)
    }

    /// Starts or stops capturing (off by default, so long benchmarks don't log).
    pub fn set_capture(&mut self, on: bool) {
        self.capturing = on;
    }

    /// Everything captured since the last call, in the order it happened.
    pub fn take_captures(&mut self) -> Vec<Capture> {
        std::mem::take(&mut self.captures)
    }

    // ---- internals -------------------------------------------------------

    fn touch(&mut self, id: HostId) {
        let host = &mut self.hosts[id.0];
        if !host.dirty {
            host.dirty = true;
            self.touched.push(id);
        }
    }

    fn flush_touched(&mut self) {
        if self.touched.is_empty() {
            return;
        }
        let mut touched = std::mem::take(&mut self.touched);
        for &id in &touched {
            self.hosts[id.0].dirty = false;
            self.drain(id);
            self.refresh_deadline(id, false);
        }
        touched.clear();
        self.touched = touched;
    }

    fn is_stale(&self, event: &Event) -> bool {
        match event.kind {
            EventKind::Deadline { host, generation } => !matches!(
                self.hosts.get(host.0),
                Some(h) if h.timer.generation == generation
            ),
            EventKind::Arrival { .. } => false,
        }
    }

    /// Pops the earliest event that is not a superseded deadline.
    fn pop_live(&mut self) -> Option<Event> {
        loop {
            let event = self.events.pop()?;
            if !self.is_stale(&event) {
                return Some(event);
            }
        }
    }

    fn arrive(&mut self, from: HostId, to: HostId, channel: usize, packet: Vec<u8>) {
        // A partition also cuts packets that were already on the wire.
        if !self.channels[channel].is_up() {
            self.drop_packet(from, Some(to), Some(channel), DropReason::LinkDown, packet);
            return;
        }
        let bytes = packet.len() as u64;
        self.tally(Some(channel), |s| {
            s.delivered += 1;
            s.delivered_bytes += bytes;
        });
        self.record(from, Some(to), CaptureEvent::Delivered, &packet);
        self.hosts[to.0].node.handle_packet(self.now, &packet);
        self.recycle(packet);
        self.drain(to);
        self.refresh_deadline(to, false);
    }

    fn fire_deadline(&mut self, id: HostId) {
        let host = &mut self.hosts[id.0];
        host.timer.scheduled = None;
        host.timer.generation += 1;
        self.stats.timeouts_fired += 1;
        host.node.handle_timeout(self.now);
        self.drain(id);
        self.refresh_deadline(id, true);
    }

    /// Re-reads a node's deadline and schedules it if it changed.
    fn refresh_deadline(&mut self, id: HostId, just_fired: bool) {
        let now = self.now;
        let host = &mut self.hosts[id.0];
        let wanted = host.node.poll_timeout();
        let timer = &mut host.timer;
        let effective = match wanted {
            Some(at) if at > now => {
                timer.stall_streak = 0;
                Some(at)
            }
            None => {
                timer.stall_streak = 0;
                None
            }
            // Fired at `now` and still wants `now`: no progress. Back off
            // (1 µs, 2 µs, 4 µs, ...) so virtual time moves on.
            Some(_) if just_fired => {
                let shift = timer.stall_streak.min(MAX_STALL_SHIFT);
                timer.stall_streak = timer.stall_streak.saturating_add(1);
                self.stats.stalled_timeouts += 1;
                Some(now + Duration::from_micros(1 << shift))
            }
            // A deadline that is due fires at once, after what is queued for `now`.
            Some(_) => Some(now),
        };
        if effective == timer.scheduled {
            return;
        }
        timer.generation += 1;
        timer.scheduled = effective;
        if let Some(at) = effective {
            let generation = timer.generation;
            self.events.push(
                at,
                EventKind::Deadline {
                    host: id,
                    generation,
                },
            );
        }
    }

    /// Moves everything a node has to send onto links.
    fn drain(&mut self, id: HostId) {
        let now = self.now;
        while let Some(len) = self.hosts[id.0].node.poll_transmit(now, &mut self.tx_buf) {
            let mut packet = self.spare.pop().unwrap_or_default();
            packet.clear();
            // A length past the buffer is a node bug; it goes out as an empty,
            // unparseable packet so it is counted rather than trusted.
            if let Some(bytes) = self.tx_buf.get(..len) {
                packet.extend_from_slice(bytes);
            }
            self.send(id, packet);
        }
    }

    /// Routes a packet from `from` and schedules its arrival, or drops it.
    fn send(&mut self, from: HostId, mut packet: Vec<u8>) {
        self.stats.sent += 1;
        let dst = addr::ip_endpoints(&packet).map(|ends| ends.dst);
        let to = dst.ok().and_then(|d| self.host_by_addr(d));
        self.record(from, to, CaptureEvent::Sent, &packet);
        if dst.is_err() {
            return self.drop_packet(from, to, None, DropReason::Unparseable, packet);
        }
        // Routing: only the host owning the destination, over a direct link.
        let Some((to, channel)) = to.and_then(|to| Some((to, *self.routes.get(&(from, to))?)))
        else {
            return self.drop_packet(from, to, None, DropReason::NoRoute, packet);
        };
        self.channels[channel].stats.sent += 1;
        let arrival = match self.channels[channel].offer(self.now, &mut packet, &mut self.rng) {
            Fate::Dropped(reason) => {
                return self.drop_packet(from, Some(to), Some(channel), reason, packet)
            }
            Fate::Arrives(arrival) => arrival,
        };
        if arrival.corrupted {
            self.tally(Some(channel), |s| s.corrupted += 1);
            self.record(from, Some(to), CaptureEvent::Corrupted, &packet);
        }
        if arrival.reordered {
            self.tally(Some(channel), |s| s.reordered += 1);
            self.record(from, Some(to), CaptureEvent::Reordered, &packet);
        }
        let copy = arrival.duplicated.then(|| {
            let mut copy = self.spare.pop().unwrap_or_default();
            copy.clear();
            copy.extend_from_slice(&packet);
            copy
        });
        self.events.push(
            arrival.at,
            EventKind::Arrival {
                from,
                to,
                channel,
                packet,
            },
        );
        if let Some(copy) = copy {
            self.tally(Some(channel), |s| s.duplicated += 1);
            self.record(from, Some(to), CaptureEvent::Duplicated, &copy);
            // Pushed after the original, so it arrives right behind it.
            self.events.push(
                arrival.at,
                EventKind::Arrival {
                    from,
                    to,
                    channel,
                    packet: copy,
                },
            );
        }
    }

    fn drop_packet(
        &mut self,
        from: HostId,
        to: Option<HostId>,
        channel: Option<usize>,
        reason: DropReason,
        packet: Vec<u8>,
    ) {
        self.tally(channel, |s| s.count_drop(reason));
        self.record(from, to, CaptureEvent::Dropped(reason), &packet);
        self.recycle(packet);
    }

    /// Counts in the network's totals and, when the packet reached a link, in that link's.
    fn tally(&mut self, channel: Option<usize>, count: impl Fn(&mut NetStats)) {
        count(&mut self.stats);
        if let Some(channel) = channel.and_then(|c| self.channels.get_mut(c)) {
            count(&mut channel.stats);
        }
    }

    fn record(&mut self, from: HostId, to: Option<HostId>, event: CaptureEvent, packet: &[u8]) {
        if self.capturing {
            self.captures.push(Capture {
                time: self.now,
                from,
                to,
                event,
                packet: packet.to_vec(),
            });
        }
    }

    fn recycle(&mut self, packet: Vec<u8>) {
        if self.spare.len() < SPARE_BUFFERS {
            self.spare.push(packet);
        }
    }
}

impl<N: Node> std::fmt::Debug for Network<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Network")
            .field("now", &self.now)
            .field("hosts", &self.hosts.len())
            .field("links", &self.channels.len())
            .field("queued_events", &self.events.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}
