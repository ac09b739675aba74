//! The in-memory link every compared stack runs over: two one-way FIFOs of raw IPv4 packets
//! with an optional propagation delay, serialisation time (bandwidth), drop-tail queue limit and
//! seeded random loss per direction.
//!
//! `crates/sim` is not reused: its `Network` owns `Node`s and drives them itself, while the
//! comparison needs one driver that treats both stacks the same way (smoltcp polls an
//! `Interface` over a device, synack takes packets one by one). This link only moves bytes.
//!
//! It also watches the TCP data segments it carries, so retransmissions are counted the same
//! way for every stack (from the wire, not from each stack's own counters).

use std::collections::VecDeque;
use std::time::Duration;

/// One direction's settings.
#[derive(Clone, Copy, Debug, Default)]
pub struct LinkConfig {
    /// One-way propagation delay.
    pub delay: Duration,
    /// Serialisation rate, bit/s; None is infinite.
    pub bandwidth_bps: Option<u64>,
    /// Bytes that may wait for serialisation; a packet that would exceed it is dropped (drop
    /// tail). None is unlimited. Only meaningful with a bandwidth.
    pub queue_limit: Option<u64>,
    /// Probability that a packet is lost at random, 0.0..=1.0.
    pub loss: f64,
}

/// What one direction carried.
#[derive(Clone, Copy, Debug, Default)]
pub struct DirStats {
    /// Packets offered to the link.
    pub offered: u64,
    /// Packets lost at random.
    pub lost: u64,
    /// Packets dropped because the queue was full.
    pub queue_drops: u64,
    /// TCP segments carrying payload.
    pub data_segments: u64,
    /// Data segments whose first byte was sent before (seen on the wire going this way).
    pub retransmitted: u64,
    /// Retransmitted segments a stack emitted when woken only by a timer (no packet arrived,
    /// no application call): retransmission timeouts, tail-loss probes and the like.
    pub timer_retransmits: u64,
}

struct Direction {
    config: LinkConfig,
    /// Packets in flight with their delivery time, in delivery order.
    queue: VecDeque<(Duration, Vec<u8>)>,
    /// When the transmitter finishes serialising what it has.
    busy_until: Duration,
    /// The highest sequence number sent so far (end of data), for retransmission counting.
    /// One flow per direction is assumed: the lossy and bulk scenarios run a single connection.
    high_seq: Option<u32>,
    stats: DirStats,
}

/// A two-way link: direction 0 carries side 0's packets to side 1, direction 1 the reverse.
pub struct Link {
    dirs: [Direction; 2],
    rng: u64,
}

/// Fields of a TCP segment the link looks at.
struct SegmentView {
    seq: u32,
    payload: u32,
    syn: bool,
}

/// Reads the sequence number and payload length of an IPv4 TCP packet; None if it is not one
/// or is truncated (checked reads only: the bytes come from a stack under test).
fn tcp_view(p: &[u8]) -> Option<SegmentView> {
    let vihl = *p.first()?;
    // RFC 791 §3.1: version 4, IHL in 32-bit words.
    if vihl >> 4 != 4 || *p.get(9)? != 6 {
        return None;
    }
    let ihl = usize::from(vihl & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([*p.get(2)?, *p.get(3)?]));
    let tcp = p.get(ihl..total.min(p.len()))?;
    let seq = u32::from_be_bytes(tcp.get(4..8)?.try_into().ok()?);
    // RFC 9293 §3.1: data offset in 32-bit words; flags byte 13, SYN = 0x02.
    let doff = usize::from(*tcp.get(12)? >> 4) * 4;
    let syn = *tcp.get(13)? & 0x02 != 0;
    let payload = tcp.len().checked_sub(doff)? as u32;
    Some(SegmentView { seq, payload, syn })
}

/// `a` before `b` in sequence space (RFC 9293 §3.4 modular comparison).
fn seq_lt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

impl Link {
    /// A link with these settings in both directions, its loss drawn from `seed`.
    pub fn new(config: LinkConfig, seed: u64) -> Self {
        let dir = || Direction {
            config,
            queue: VecDeque::new(),
            busy_until: Duration::ZERO,
            high_seq: None,
            stats: DirStats::default(),
        };
        Link {
            dirs: [dir(), dir()],
            // SplitMix64 of the seed: a small seed would otherwise start xorshift on tiny values.
            rng: {
                let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                (z ^ (z >> 31)) | 1
            },
        }
    }

    fn random(&mut self) -> f64 {
        // xorshift64*: reproducible, and cheap enough not to show in the figures.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        (self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Puts a packet side `from` emitted at `now` on the wire. `timer_wake` says the stack was
    /// woken only by its timer when it emitted this.
    pub fn send(&mut self, from: usize, now: Duration, packet: Vec<u8>, timer_wake: bool) {
        let loss = self.dirs[from & 1].config.loss;
        let lost = loss > 0.0 && self.random() < loss;
        let d = &mut self.dirs[from & 1];
        d.stats.offered += 1;
        if let Some(seg) = tcp_view(&packet) {
            if seg.syn {
                d.high_seq = None;
            }
            if seg.payload > 0 {
                d.stats.data_segments += 1;
                let end = seg.seq.wrapping_add(seg.payload);
                match d.high_seq {
                    Some(high) if seq_lt(seg.seq, high) => {
                        d.stats.retransmitted += 1;
                        if timer_wake {
                            d.stats.timer_retransmits += 1;
                        }
                        if seq_lt(high, end) {
                            d.high_seq = Some(end);
                        }
                    }
                    _ => d.high_seq = Some(end),
                }
            }
        }
        if lost {
            d.stats.lost += 1;
            return;
        }
        let start = d.busy_until.max(now);
        let serialise = d.config.bandwidth_bps.map_or(Duration::ZERO, |bps| {
            Duration::from_nanos((packet.len() as u64 * 8).saturating_mul(1_000_000_000) / bps)
        });
        if let (Some(limit), Some(bps)) = (d.config.queue_limit, d.config.bandwidth_bps) {
            // Bytes still waiting to be serialised ahead of this packet.
            let backlog = (start - now).as_nanos() as u64 * bps / 8 / 1_000_000_000;
            if backlog + packet.len() as u64 > limit {
                d.stats.queue_drops += 1;
                return;
            }
        }
        d.busy_until = start + serialise;
        let at = d.busy_until + d.config.delay;
        d.queue.push_back((at, packet));
    }

    /// Moves every packet due by `now` going to side `to` into `out`.
    pub fn take_due(&mut self, to: usize, now: Duration, out: &mut Vec<Vec<u8>>) {
        let d = &mut self.dirs[(to & 1) ^ 1];
        while d.queue.front().is_some_and(|(at, _)| *at <= now) {
            if let Some((_, p)) = d.queue.pop_front() {
                out.push(p);
            }
        }
    }

    /// When the next packet arrives anywhere.
    pub fn next_delivery(&self) -> Option<Duration> {
        self.dirs
            .iter()
            .filter_map(|d| d.queue.front().map(|(at, _)| *at))
            .min()
    }

    /// Nothing in flight.
    pub fn is_empty(&self) -> bool {
        self.dirs.iter().all(|d| d.queue.is_empty())
    }

    /// What direction `from` (side `from`'s packets) carried.
    pub fn stats(&self, from: usize) -> DirStats {
        self.dirs[from & 1].stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp_packet(seq: u32, payload: usize) -> Vec<u8> {
        let mut p = vec![0u8; 40 + payload];
        p[0] = 0x45;
        p[9] = 6;
        let total = p.len() as u16;
        p[2..4].copy_from_slice(&total.to_be_bytes());
        p[24..28].copy_from_slice(&seq.to_be_bytes());
        p[32] = 5 << 4;
        p
    }

    #[test]
    fn delay_and_bandwidth_set_delivery_time() {
        let cfg = LinkConfig {
            delay: Duration::from_millis(5),
            bandwidth_bps: Some(8_000_000), // 1 byte per microsecond
            ..Default::default()
        };
        let mut link = Link::new(cfg, 1);
        link.send(0, Duration::ZERO, vec![0; 1000], false);
        link.send(0, Duration::ZERO, vec![0; 1000], false);
        assert_eq!(link.next_delivery(), Some(Duration::from_micros(6000)));
        let mut out = Vec::new();
        link.take_due(1, Duration::from_micros(6999), &mut out);
        assert_eq!(out.len(), 1);
        link.take_due(1, Duration::from_micros(7000), &mut out);
        assert_eq!(out.len(), 2);
        assert!(link.is_empty());
    }

    #[test]
    fn queue_limit_drops_tail() {
        let cfg = LinkConfig {
            bandwidth_bps: Some(8_000_000),
            queue_limit: Some(2500),
            ..Default::default()
        };
        let mut link = Link::new(cfg, 1);
        for _ in 0..5 {
            link.send(0, Duration::ZERO, vec![0; 1000], false);
        }
        // The first starts serialising at once (1000 bytes unsent), the second makes 2000; a
        // third would make 3000 > 2500, so it and the rest are dropped.
        assert_eq!(link.stats(0).queue_drops, 3);
    }

    #[test]
    fn loss_rate_is_close_to_asked() {
        let cfg = LinkConfig {
            loss: 0.1,
            ..Default::default()
        };
        let mut link = Link::new(cfg, 7);
        for _ in 0..100_000 {
            link.send(1, Duration::ZERO, vec![0; 10], false);
        }
        let lost = link.stats(1).lost;
        assert!((9_000..11_000).contains(&lost), "{lost}");
    }

    #[test]
    fn retransmissions_are_counted_from_the_wire() {
        let mut link = Link::new(LinkConfig::default(), 1);
        link.send(0, Duration::ZERO, tcp_packet(1000, 100), false);
        link.send(0, Duration::ZERO, tcp_packet(1100, 100), false);
        link.send(0, Duration::ZERO, tcp_packet(1000, 100), true);
        link.send(0, Duration::ZERO, tcp_packet(1200, 0), false);
        let s = link.stats(0);
        assert_eq!(
            (s.data_segments, s.retransmitted, s.timer_retransmits),
            (3, 1, 1)
        );
        assert!(tcp_view(&[0x45, 0, 0]).is_none());
    }
}
