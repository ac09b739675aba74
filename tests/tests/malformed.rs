//! Malformed and hostile input, one table row per packet: what the packet is, the state it meets
//! (a listener, or an ESTABLISHED connection with data in flight), the reaction the RFCs ask for
//! (silent drop, RST, challenge ACK, or processing with a clamp) and the counter that must move.
//! Then: a SYN cut at every length, and properties that random bytes and random mutations of
//! valid segments never panic the stack and are always counted.
//!
//! Decisions the table records (where the RFCs leave a choice):
//! - TTL / hop limit 0 is accepted: RFC 1122 §3.2.1.7 "MUST NOT discard a datagram just because
//!   it was received with TTL less than 2" (hop limits only matter to forwarders, RFC 8200 §3).
//! - Packets larger than the MTU (an MSS-exceeding segment) are processed: the MSS limits what
//!   a sender sends (RFC 9293 §3.7.1); a receiver that gets more (GRO, a misconfigured peer) takes
//!   what fits its window, as Linux does.
//! - MSS 0 is read as "no MSS option" (the 536 / 1220 default, RFC 9293 §3.7.1), as Linux does;
//!   other tiny values are raised to 88 (Linux TCP_MIN_MSS).
//! - SYN+FIN to a listener is discarded (Linux, FreeBSD drop_synfin), not queued as RFC 9293
//!   §3.10.7.2 would.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use synack_core::{Config, ConnCounters, ConnId, Instant, IsnMode, Stack, State, Stats};
use synack_wire::checksum::{combine, finish, internet_checksum, pseudo_header_sum, sum};
use synack_wire::ip::{emit_ip_header, ip_header_len, parse_ip, protocol};
use synack_wire::tcpdump::format_packet;
use synack_wire::{Icmpv4Repr, Icmpv6Repr, SeqNumber, TcpFlags, TcpOptions, TcpRepr};

const ME4: &str = "10.0.0.2";
const PEER4: &str = "10.0.0.1";
const ME6: &str = "fd00::2";
const PEER6: &str = "fd00::1";
const SPORT: u16 = 80;
const CPORT: u16 = 4000;
/// The forged peer's initial sequence number.
const PEER_ISN: u32 = 1000;
/// Our (fixed) initial sequence number.
const OUR_ISN: u32 = 5000;
/// Bytes the ESTABLISHED fixture has sent and not had acknowledged.
const IN_FLIGHT: u32 = 3000;
/// The window scale the forged peer offers.
const PEER_WSCALE: u8 = 7;

fn ip(s: &str) -> IpAddr {
    s.parse().expect("address literal")
}

// ----- Packet building -----

/// A TCP segment in an IP packet, built with synack_wire's emitters; corrupted afterwards.
#[derive(Clone)]
struct Pkt {
    src: IpAddr,
    dst: IpAddr,
    sport: u16,
    dport: u16,
    seq: u32,
    ack: Option<u32>,
    flags: TcpFlags,
    window: u16,
    urgent: u16,
    options: TcpOptions,
    /// Raw bytes appended to the options area (data offset grows to cover them): malformed
    /// options the typed emitter cannot write. Length must be a multiple of 4.
    raw_options: Vec<u8>,
    payload: Vec<u8>,
    ttl: u8,
}

impl Pkt {
    /// A SYN from the IPv4 peer to our listener, offering MSS 1460, window scale 7 and SACK.
    fn syn() -> Pkt {
        Pkt {
            src: ip(PEER4),
            dst: ip(ME4),
            sport: CPORT,
            dport: SPORT,
            seq: PEER_ISN,
            ack: None,
            flags: TcpFlags::SYN,
            window: 65535,
            urgent: 0,
            options: TcpOptions {
                mss: Some(1460),
                window_scale: Some(PEER_WSCALE),
                sack_permitted: true,
                ..TcpOptions::default()
            },
            raw_options: Vec::new(),
            payload: Vec::new(),
            ttl: 64,
        }
    }

    /// The same SYN over IPv6.
    fn syn6() -> Pkt {
        Pkt {
            src: ip(PEER6),
            dst: ip(ME6),
            ..Pkt::syn()
        }
    }

    /// A bare ACK from the peer on the ESTABLISHED fixture: at RCV.NXT, acknowledging nothing new.
    fn est() -> Pkt {
        Pkt {
            seq: PEER_ISN + 1,
            ack: Some(OUR_ISN + 1),
            flags: TcpFlags::empty(),
            options: TcpOptions::default(),
            window: 1024,
            ..Pkt::syn()
        }
    }

    fn flags(mut self, f: TcpFlags) -> Pkt {
        self.flags = f;
        self
    }

    fn payload(mut self, len: usize) -> Pkt {
        self.payload = (0..len).map(|i| i as u8).collect();
        self
    }

    fn sack(mut self, blocks: &[(u32, u32)]) -> Pkt {
        self.options.sack_blocks = blocks
            .iter()
            .map(|&(l, r)| (SeqNumber(l), SeqNumber(r)))
            .collect();
        self
    }

    fn build(&self) -> Vec<u8> {
        let mut flags = self.flags;
        if self.ack.is_some() {
            flags |= TcpFlags::ACK;
        }
        assert_eq!(
            self.raw_options.len() % 4,
            0,
            "raw options fill whole words"
        );
        let mut body = self.raw_options.clone();
        body.extend_from_slice(&self.payload);
        let repr = TcpRepr {
            src_port: self.sport,
            dst_port: self.dport,
            seq: SeqNumber(self.seq),
            ack: SeqNumber(self.ack.unwrap_or(0)),
            flags,
            window: self.window,
            urgent_ptr: self.urgent,
            options: self.options,
            payload: &body,
        };
        let ip_len = ip_header_len(self.src);
        let tcp_len = repr.buffer_len();
        let mut buf = vec![0u8; ip_len + tcp_len];
        repr.emit(&mut buf[ip_len..], self.src, self.dst)
            .expect("emit tcp");
        emit_ip_header(
            &mut buf[..ip_len],
            self.src,
            self.dst,
            protocol::TCP,
            tcp_len,
            self.ttl,
            7,
        )
        .expect("emit ip");
        if !self.raw_options.is_empty() {
            let off = ip_len + 12;
            let words = (buf[off] >> 4) + (self.raw_options.len() / 4) as u8;
            buf[off] = (words << 4) | (buf[off] & 0x0f);
            refill_tcp_checksum(&mut buf);
        }
        buf
    }
}

/// Offset of the TCP header in a packet built by `Pkt` (no IP options or extension headers).
fn tcp_at(p: &[u8]) -> usize {
    if p[0] >> 4 == 6 {
        40
    } else {
        20
    }
}

/// Recomputes the IPv4 header checksum over the header the IHL declares (clamped to the buffer).
fn refill_ip_checksum(p: &mut [u8]) {
    let ihl = (usize::from(p[0] & 0x0f) * 4).clamp(20, p.len());
    p[10] = 0;
    p[11] = 0;
    let c = internet_checksum(&p[..ihl]);
    p[10..12].copy_from_slice(&c.to_be_bytes());
}

/// Recomputes the TCP checksum of a packet built by `Pkt`, over everything after the IP header.
fn refill_tcp_checksum(p: &mut [u8]) {
    let at = tcp_at(p);
    let (src, dst) = addrs(p);
    p[at + 16] = 0;
    p[at + 17] = 0;
    let tcp = &p[at..];
    let c = finish(combine(
        pseudo_header_sum(src, dst, protocol::TCP, tcp.len() as u32),
        sum(tcp),
    ));
    p[at + 16..at + 18].copy_from_slice(&c.to_be_bytes());
}

fn addrs(p: &[u8]) -> (IpAddr, IpAddr) {
    if p[0] >> 4 == 6 {
        let s: [u8; 16] = p[8..24].try_into().expect("v6 src");
        let d: [u8; 16] = p[24..40].try_into().expect("v6 dst");
        (s.into(), d.into())
    } else {
        let s: [u8; 4] = p[12..16].try_into().expect("v4 src");
        let d: [u8; 4] = p[16..20].try_into().expect("v4 dst");
        (s.into(), d.into())
    }
}

/// Sets the IPv4 total length field and fixes the header checksum.
fn with_total_len(mut p: Vec<u8>, len: usize) -> Vec<u8> {
    p[2..4].copy_from_slice(&(len as u16).to_be_bytes());
    refill_ip_checksum(&mut p);
    p
}

/// A SYN whose options area carries `raw` (malformed options).
fn syn_with_raw_options(raw: &[u8]) -> Vec<u8> {
    Pkt {
        options: TcpOptions::default(),
        raw_options: raw.to_vec(),
        ..Pkt::syn()
    }
    .build()
}

/// A SYN whose window scale option says `shift`.
fn syn_with_wscale(shift: u8) -> Vec<u8> {
    let mut p = Pkt::syn();
    p.options.window_scale = Some(shift);
    p.build()
}

/// A SYN whose MSS option says `mss`.
fn syn_with_mss(mss: u16) -> Vec<u8> {
    let mut p = Pkt::syn();
    p.options.mss = Some(mss);
    p.build()
}

/// A valid IPv6 SYN behind extension header bytes `ext` announced by next header `first`.
fn syn6_behind(first: u8, ext: &[u8]) -> Vec<u8> {
    let plain = Pkt::syn6().build();
    let tcp = &plain[40..];
    let mut out = vec![0u8; 40];
    emit_ip_header(
        &mut out,
        ip(PEER6),
        ip(ME6),
        first,
        ext.len() + tcp.len(),
        64,
        0,
    )
    .expect("emit v6");
    out.extend_from_slice(ext);
    out.extend_from_slice(tcp);
    out
}

/// An IP packet of `proto` carrying `body`.
fn ip_packet(src: &str, dst: &str, proto: u8, body: &[u8]) -> Vec<u8> {
    let (src, dst) = (ip(src), ip(dst));
    let h = ip_header_len(src);
    let mut out = vec![0u8; h];
    emit_ip_header(&mut out, src, dst, proto, body.len(), 64, 0).expect("emit ip");
    out.extend_from_slice(body);
    out
}

/// An ICMPv4 message from the peer.
fn icmp4(repr: Icmpv4Repr) -> Vec<u8> {
    let mut body = vec![0u8; repr.buffer_len()];
    repr.emit(&mut body).expect("emit icmp");
    ip_packet(PEER4, ME4, protocol::ICMP, &body)
}

/// An ICMPv6 message from the peer.
fn icmp6(repr: Icmpv6Repr) -> Vec<u8> {
    let mut body = vec![0u8; repr.buffer_len()];
    repr.emit(&mut body, ip(PEER6), ip(ME6))
        .expect("emit icmpv6");
    ip_packet(PEER6, ME6, protocol::ICMPV6, &body)
}

/// The first 28 bytes of a segment we could have sent (our address first): what an ICMP error
/// quotes.
fn our_segment_quote(dport: u16) -> Vec<u8> {
    let mut p = Pkt {
        src: ip(ME4),
        dst: ip(PEER4),
        sport: SPORT,
        dport,
        ..Pkt::est()
    }
    .build();
    p.truncate(28);
    p
}

// ----- The fixture: a stack in LISTEN, or with one ESTABLISHED connection -----

fn config() -> Config {
    Config {
        isn: IsnMode::Fixed(OUR_ISN),
        timestamps: false,
        ..Config::default()
    }
}

/// The state a row's packet meets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Start {
    /// Listeners on port 80 of both addresses, no connections.
    Listen,
    /// One accepted connection with the IPv4 peer, `IN_FLIGHT` bytes unacknowledged.
    Established,
}

const T0: Instant = Instant::ZERO;

fn now() -> Instant {
    Instant::from_secs(1)
}

/// Everything the stack sent, parsed (IP packets; TCP segments have `tcp`).
fn drain(s: &mut Stack, at: Instant) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 65536];
    while let Some(t) = s.poll_transmit(at, &mut buf) {
        out.push(buf[..t.len].to_vec());
    }
    while s.poll_event().is_some() {}
    out
}

fn tcp_of(p: &[u8]) -> Option<TcpRepr<'_>> {
    let ip = parse_ip(p).ok()?;
    TcpRepr::parse_unverified(ip.payload).ok()
}

fn listening() -> Stack {
    let mut s = Stack::new(Arc::new(config()), [9; 32]);
    s.add_address(ip(ME4));
    s.add_address(ip(ME6));
    s.listen(SocketAddr::new(ip(ME4), SPORT), 16)
        .expect("listen v4");
    s.listen(SocketAddr::new(ip(ME6), SPORT), 16)
        .expect("listen v6");
    s
}

/// A stack with an ESTABLISHED, accepted connection to the forged IPv4 peer, after our
/// `IN_FLIGHT` bytes left (unacknowledged).
fn established() -> (Stack, ConnId) {
    let mut s = listening();
    s.handle_packet(T0, &Pkt::syn().build());
    let out = drain(&mut s, T0);
    let synack = out.first().and_then(|p| tcp_of(p)).expect("a SYN-ACK");
    assert!(synack.flags.syn() && synack.flags.ack(), "SYN-ACK");
    assert_eq!(synack.seq, SeqNumber(OUR_ISN), "fixed ISN");
    s.handle_packet(T0, &Pkt::est().flags(TcpFlags::empty()).build());
    drain(&mut s, T0);
    let lid = s.listeners().next().expect("listener").0;
    let c = s.accept(lid).expect("accepted");
    assert_eq!(s.state(c), Some(State::Established));
    // No Nagle: the last partial segment leaves too, so all of IN_FLIGHT is in flight.
    s.set_nodelay(c, true).expect("live connection");
    let data = vec![7u8; IN_FLIGHT as usize];
    assert_eq!(s.send(T0, c, &data), Ok(data.len()));
    let sent: usize = drain(&mut s, T0)
        .iter()
        .filter_map(|p| tcp_of(p).map(|t| t.payload.len()))
        .sum();
    assert_eq!(sent, IN_FLIGHT as usize, "all data in flight");
    (s, c)
}

// ----- Reactions and counters -----

/// What the stack sends back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reaction {
    /// Nothing.
    Silent,
    /// Exactly one RST.
    Rst,
    /// Exactly one SYN-ACK (the SYN was accepted).
    SynAck,
    /// Exactly one bare ACK (a challenge or duplicate ACK).
    Ack,
    /// Exactly one ICMP message (an echo reply).
    Icmp,
    /// Only data segments (with ACK; no SYN, FIN or RST): a retransmission.
    Data,
}

fn reaction_of(out: &[Vec<u8>]) -> Result<Reaction, String> {
    match out {
        [] => Ok(Reaction::Silent),
        [p] => {
            let ip = parse_ip(p).map_err(|e| format!("unparsable output: {e}"))?;
            if ip.header.protocol != protocol::TCP {
                return Ok(Reaction::Icmp);
            }
            let t = TcpRepr::parse_unverified(ip.payload).map_err(|e| e.to_string())?;
            let f = t.flags;
            Ok(if f.rst() {
                Reaction::Rst
            } else if f.syn() && f.ack() {
                Reaction::SynAck
            } else if f.ack() && !f.syn() && !f.fin() && t.payload.is_empty() {
                Reaction::Ack
            } else if f.ack() && !f.syn() && !f.fin() {
                Reaction::Data
            } else {
                return Err(format!("unexpected segment {f:?} len {}", t.payload.len()));
            })
        }
        many => {
            let lines: Vec<String> = many.iter().map(|p| format_packet(p)).collect();
            let all_data = lines
                .iter()
                .all(|l| l.contains("Flags [.]") && !l.contains("length 0"));
            if all_data {
                Ok(Reaction::Data)
            } else {
                Err(format!("{} packets sent: {lines:?}", many.len()))
            }
        }
    }
}

/// A counter by name: `drop:<reason>`, `conn:<ConnCounters field>`, or a `Stats` field.
fn counter(stats: &Stats, conn: Option<&ConnCounters>, name: &str) -> u64 {
    if let Some(reason) = name.strip_prefix("drop:") {
        return stats.drops_for(reason);
    }
    if let Some(field) = name.strip_prefix("conn:") {
        let c = conn.unwrap_or_else(|| panic!("{name}: row has no connection"));
        return match field {
            "challenge_acks" => c.challenge_acks,
            "sack_blocks_rejected" => c.sack_blocks_rejected,
            other => panic!("unknown connection counter {other}"),
        };
    }
    match name {
        "segments_in" => stats.segments_in,
        "passive_opens" => stats.passive_opens,
        "resets_sent_closed" => stats.resets_sent_closed,
        "window_scale_clamped" => stats.window_scale_clamped,
        "echo_replies" => stats.echo_replies,
        "icmp_errors" => stats.icmp_errors,
        other => panic!("unknown stack counter {other}"),
    }
}

/// A further check on the stack after the packet (clamps, delivered bytes).
type Check = fn(&Stack, Option<ConnId>) -> Result<(), String>;

struct Row {
    name: &'static str,
    into: Start,
    packet: fn() -> Vec<u8>,
    reaction: Reaction,
    counter: &'static str,
    check: Option<Check>,
    /// A segment answered and then discarded is also counted as a drop under this reason.
    discarded_as: Option<&'static str>,
}

fn row(
    name: &'static str,
    into: Start,
    packet: fn() -> Vec<u8>,
    reaction: Reaction,
    counter: &'static str,
) -> Row {
    Row {
        name,
        into,
        packet,
        reaction,
        counter,
        check: None,
        discarded_as: None,
    }
}

impl Row {
    fn discarded_as(mut self, reason: &'static str) -> Row {
        self.discarded_as = Some(reason);
        self
    }

    fn check(mut self, c: Check) -> Row {
        self.check = Some(c);
        self
    }
}

/// The only half-open connection's TCP_INFO.
fn only_conn(s: &Stack) -> Result<synack_core::TcpInfo, String> {
    let ids: Vec<ConnId> = s.connections().map(|(id, _)| id).collect();
    match ids.as_slice() {
        [id] => s.info(*id).ok_or_else(|| "no info".into()),
        other => Err(format!("{} connections", other.len())),
    }
}

fn expect_eq<T: PartialEq + std::fmt::Debug>(what: &str, got: T, want: T) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: got {got:?}, want {want:?}"))
    }
}

fn peer_shift(s: &Stack) -> Result<Option<u8>, String> {
    Ok(only_conn(s)?.wscale.map(|(snd, _)| snd))
}

fn still_established(s: &Stack, c: Option<ConnId>) -> Result<(), String> {
    let c = c.ok_or("no connection")?;
    expect_eq("state", s.state(c), Some(State::Established))
}

fn received(s: &Stack, c: Option<ConnId>) -> u64 {
    c.and_then(|c| s.info(c))
        .map_or(0, |i| i.counters.bytes_received)
}

fn acked(s: &Stack, c: Option<ConnId>) -> u64 {
    c.and_then(|c| s.info(c))
        .map_or(0, |i| i.counters.bytes_acked)
}

use Reaction::{Ack, Data, Icmp, Rst, Silent, SynAck};
use Start::{Established as Est, Listen};

fn table() -> Vec<Row> {
    vec![
        // --- IPv4 header (RFC 791 §3.1) ---
        row(
            "ipv4 bad header checksum",
            Listen,
            || {
                let mut p = Pkt::syn().build();
                p[10] ^= 0xff;
                p
            },
            Silent,
            "drop:ipv4_bad_checksum",
        ),
        row(
            "ipv4 IHL 4 (< 5)",
            Listen,
            || {
                let mut p = Pkt::syn().build();
                p[0] = 0x44;
                refill_ip_checksum(&mut p);
                p
            },
            Silent,
            "drop:ipv4_bad_header_length",
        ),
        row(
            "ipv4 IHL 15 past the end",
            Listen,
            || {
                let mut p = Pkt::syn().build();
                assert!(p.len() < 60, "IHL 15 claims more than the packet holds");
                p[0] = 0x4f;
                let n = p.len();
                with_total_len(p, n)
            },
            Silent,
            "drop:ipv4_bad_header_length",
        ),
        row(
            "ipv4 total length larger than the datagram",
            Listen,
            || {
                let p = Pkt::syn().build();
                let n = p.len();
                with_total_len(p, n + 10)
            },
            Silent,
            "drop:ipv4_bad_total_length",
        ),
        row(
            "ipv4 total length smaller than the header",
            Listen,
            || with_total_len(Pkt::syn().build(), 16),
            Silent,
            "drop:ipv4_bad_total_length",
        ),
        row(
            "ipv4 total length cuts into the TCP header",
            Listen,
            || with_total_len(Pkt::syn().build(), 30),
            Silent,
            "drop:tcp_truncated",
        ),
        row(
            "ipv4 link padding past total length is trimmed",
            Listen,
            || {
                let mut p = Pkt::syn().build();
                p.extend_from_slice(&[0u8; 6]);
                p
            },
            SynAck,
            "passive_opens",
        ),
        row(
            "ip version 5",
            Listen,
            || {
                let mut p = Pkt::syn().build();
                p[0] = 0x55;
                refill_ip_checksum(&mut p);
                p
            },
            Silent,
            "drop:ip_bad_version",
        ),
        row(
            "ip version 0",
            Listen,
            || {
                let mut p = Pkt::syn().build();
                p[0] = 0x05;
                p
            },
            Silent,
            "drop:ip_bad_version",
        ),
        row(
            "ipv4 fragment: MF set",
            Listen,
            || {
                let mut p = Pkt::syn().build();
                p[6] = 0x20;
                refill_ip_checksum(&mut p);
                p
            },
            Silent,
            "drop:fragment",
        ),
        row(
            "ipv4 fragment: offset set",
            Listen,
            || {
                let mut p = Pkt::syn().build();
                p[6] = 0x00;
                p[7] = 0x10;
                refill_ip_checksum(&mut p);
                p
            },
            Silent,
            "drop:fragment",
        ),
        row(
            "ipv4 TTL 0 is accepted (RFC 1122 §3.2.1.7)",
            Listen,
            || {
                Pkt {
                    ttl: 0,
                    ..Pkt::syn()
                }
                .build()
            },
            SynAck,
            "passive_opens",
        ),
        row(
            "ipv4 UDP (no such protocol here)",
            Listen,
            || ip_packet(PEER4, ME4, protocol::UDP, &[0u8; 12]),
            Silent,
            "drop:unknown_protocol",
        ),
        // --- IPv6 header (RFC 8200) ---
        row(
            "ipv6 bad TCP checksum",
            Listen,
            || {
                let mut p = Pkt::syn6().build();
                p[40 + 16] ^= 0x01;
                p
            },
            Silent,
            "drop:tcp_bad_checksum",
        ),
        row(
            "ipv6 fragment header",
            Listen,
            || syn6_behind(44, &[protocol::TCP, 0, 0, 0, 0, 0, 0, 1]),
            Silent,
            "drop:fragment",
        ),
        row(
            "ipv6 unknown next header 253",
            Listen,
            || ip_packet(PEER6, ME6, 253, &[0u8; 16]),
            Silent,
            "drop:unknown_protocol",
        ),
        row(
            "ipv6 ESP",
            Listen,
            || ip_packet(PEER6, ME6, 50, &[0u8; 16]),
            Silent,
            "drop:ipv6_unsupported_extension_header",
        ),
        row(
            "ipv6 destination options header is skipped",
            Listen,
            || syn6_behind(60, &[protocol::TCP, 0, 1, 4, 0, 0, 0, 0]),
            SynAck,
            "passive_opens",
        ),
        row(
            "ipv6 payload length larger than the datagram",
            Listen,
            || {
                let mut p = Pkt::syn6().build();
                p[4..6].copy_from_slice(&200u16.to_be_bytes());
                p
            },
            Silent,
            "drop:ipv6_bad_payload_length",
        ),
        row(
            "ipv6 hop limit 0 is accepted",
            Listen,
            || {
                Pkt {
                    ttl: 0,
                    ..Pkt::syn6()
                }
                .build()
            },
            SynAck,
            "passive_opens",
        ),
        // --- Addresses and ports ---
        row(
            "not our address",
            Listen,
            || {
                Pkt {
                    dst: ip("10.0.0.9"),
                    ..Pkt::syn()
                }
                .build()
            },
            Silent,
            "drop:not_our_address",
        ),
        row(
            "multicast destination",
            Listen,
            || {
                Pkt {
                    dst: ip("224.0.0.1"),
                    ..Pkt::syn()
                }
                .build()
            },
            Silent,
            "drop:not_our_address",
        ),
        row(
            "broadcast source",
            Listen,
            || {
                Pkt {
                    src: ip("255.255.255.255"),
                    ..Pkt::syn()
                }
                .build()
            },
            Silent,
            "drop:bad_source_address",
        ),
        row(
            "multicast source",
            Listen,
            || {
                Pkt {
                    src: ip("224.0.0.5"),
                    ..Pkt::syn()
                }
                .build()
            },
            Silent,
            "drop:bad_source_address",
        ),
        row(
            "ipv6 multicast source",
            Listen,
            || {
                Pkt {
                    src: ip("ff02::1"),
                    ..Pkt::syn6()
                }
                .build()
            },
            Silent,
            "drop:bad_source_address",
        ),
        row(
            "unspecified source",
            Listen,
            || {
                Pkt {
                    src: ip("0.0.0.0"),
                    ..Pkt::syn()
                }
                .build()
            },
            Silent,
            "drop:bad_source_address",
        ),
        row(
            "land attack (source = destination)",
            Listen,
            || {
                Pkt {
                    src: ip(ME4),
                    sport: SPORT,
                    ..Pkt::syn()
                }
                .build()
            },
            Silent,
            "drop:bad_source_address",
        ),
        row(
            "source port 0",
            Listen,
            || {
                Pkt {
                    sport: 0,
                    ..Pkt::syn()
                }
                .build()
            },
            Silent,
            "drop:tcp_port_zero",
        ),
        row(
            "destination port 0",
            Listen,
            || {
                Pkt {
                    dport: 0,
                    ..Pkt::syn()
                }
                .build()
            },
            Silent,
            "drop:tcp_port_zero",
        ),
        // --- TCP header and options (RFC 9293 §3.1, §3.2) ---
        row(
            "ipv4 bad TCP checksum",
            Listen,
            || {
                let mut p = Pkt::syn().build();
                p[20 + 17] ^= 0x01;
                p
            },
            Silent,
            "drop:tcp_bad_checksum",
        ),
        row(
            "TCP data offset 4 (< 5)",
            Listen,
            || {
                let mut p = Pkt::syn().build();
                p[20 + 12] = 0x40;
                refill_tcp_checksum(&mut p);
                p
            },
            Silent,
            "drop:tcp_bad_header_length",
        ),
        row(
            "TCP data offset past the end",
            Listen,
            || {
                let mut p = Pkt::syn().build();
                p[20 + 12] = 0xf0;
                refill_tcp_checksum(&mut p);
                p
            },
            Silent,
            "drop:tcp_bad_header_length",
        ),
        row(
            "option length 0",
            Listen,
            || syn_with_raw_options(&[8, 0, 1, 1]),
            Silent,
            "drop:tcp_bad_option",
        ),
        row(
            "option length 1",
            Listen,
            || syn_with_raw_options(&[3, 1, 0, 1]),
            Silent,
            "drop:tcp_bad_option",
        ),
        row(
            "option length past the end",
            Listen,
            || syn_with_raw_options(&[2, 8, 5, 0xb4]),
            Silent,
            "drop:tcp_bad_option",
        ),
        row(
            "option length byte missing",
            Listen,
            || syn_with_raw_options(&[1, 1, 1, 2]),
            Silent,
            "drop:tcp_bad_option",
        ),
        row(
            "MSS option of length 3",
            Listen,
            || syn_with_raw_options(&[2, 3, 5, 1]),
            Silent,
            "drop:tcp_bad_option",
        ),
        row(
            "unknown option kind is skipped",
            Listen,
            || syn_with_raw_options(&[99, 4, 0, 0]),
            SynAck,
            "passive_opens",
        ),
        row(
            "window scale 15 is used as 14 (RFC 7323 §2.3)",
            Listen,
            || syn_with_wscale(15),
            SynAck,
            "window_scale_clamped",
        )
        .check(|s, _| expect_eq("peer shift", peer_shift(s)?, Some(14))),
        row(
            "window scale 255 is used as 14",
            Listen,
            || syn_with_wscale(255),
            SynAck,
            "window_scale_clamped",
        )
        .check(|s, _| expect_eq("peer shift", peer_shift(s)?, Some(14))),
        row(
            "MSS 0 means the default 536 (RFC 9293 §3.7.1)",
            Listen,
            || syn_with_mss(0),
            SynAck,
            "passive_opens",
        )
        .check(|s, _| expect_eq("snd_mss", only_conn(s)?.snd_mss, 536)),
        row(
            "MSS 1 is raised to 88",
            Listen,
            || syn_with_mss(1),
            SynAck,
            "passive_opens",
        )
        .check(|s, _| expect_eq("snd_mss", only_conn(s)?.snd_mss, 88)),
        // --- Flag combinations (RFC 9293 §3.10.7) ---
        row(
            "SYN+FIN to a listener",
            Listen,
            || Pkt::syn().flags(TcpFlags::SYN | TcpFlags::FIN).build(),
            Silent,
            "drop:listen_syn_fin",
        )
        .check(|s, _| expect_eq("connections", s.connection_count(), 0)),
        row(
            "SYN+RST to a listener",
            Listen,
            || Pkt::syn().flags(TcpFlags::SYN | TcpFlags::RST).build(),
            Silent,
            "drop:listen_rst",
        )
        .check(|s, _| expect_eq("connections", s.connection_count(), 0)),
        row(
            "SYN+ACK to a listener",
            Listen,
            || {
                Pkt {
                    ack: Some(77),
                    ..Pkt::syn()
                }
                .build()
            },
            Rst,
            "resets_sent_closed",
        ),
        row(
            "no flags to a listener",
            Listen,
            || Pkt::syn().flags(TcpFlags::empty()).build(),
            Silent,
            "drop:listen_no_syn",
        ),
        row(
            "RST to a closed port",
            Listen,
            || {
                Pkt {
                    dport: 81,
                    ..Pkt::syn().flags(TcpFlags::RST)
                }
                .build()
            },
            Silent,
            "drop:closed_rst",
        ),
        row(
            "SYN to a closed port",
            Listen,
            || {
                Pkt {
                    dport: 81,
                    ..Pkt::syn()
                }
                .build()
            },
            Rst,
            "resets_sent_closed",
        ),
        row(
            "SYN+FIN in ESTABLISHED (RFC 5961 §4.2)",
            Est,
            || Pkt::est().flags(TcpFlags::SYN | TcpFlags::FIN).build(),
            Ack,
            "conn:challenge_acks",
        )
        .discarded_as("tcp_syn_challenged")
        .check(still_established),
        row(
            "SYN+RST in the window, not at RCV.NXT (RFC 5961 §3.2)",
            Est,
            || {
                Pkt {
                    seq: PEER_ISN + 101,
                    ..Pkt::est()
                }
                .flags(TcpFlags::SYN | TcpFlags::RST)
                .build()
            },
            Ack,
            "conn:challenge_acks",
        )
        .discarded_as("tcp_rst_challenged")
        .check(still_established),
        row(
            "RST outside the window",
            Est,
            || {
                Pkt {
                    seq: PEER_ISN.wrapping_sub(100_000),
                    ..Pkt::est()
                }
                .flags(TcpFlags::RST)
                .build()
            },
            Silent,
            "segments_in",
        )
        .discarded_as("tcp_out_of_window")
        .check(still_established),
        row(
            "no flags with data in ESTABLISHED (ACK off: dropped)",
            Est,
            || {
                Pkt {
                    ack: None,
                    ..Pkt::est()
                }
                .payload(10)
                .build()
            },
            Silent,
            "segments_in",
        )
        .check(|s, c| expect_eq("bytes received", received(s, c), 0)),
        row(
            "ACK for data never sent (RFC 5961 §5.2)",
            Est,
            || {
                Pkt {
                    ack: Some(OUR_ISN + 1 + IN_FLIGHT + 500),
                    ..Pkt::est()
                }
                .build()
            },
            Ack,
            "conn:challenge_acks",
        )
        .discarded_as("tcp_ack_unsent_data")
        .check(|s, c| expect_eq("bytes acked", acked(s, c), 0)),
        row(
            "old data left of the window gets a duplicate ACK",
            Est,
            || {
                Pkt {
                    seq: PEER_ISN.wrapping_sub(2000),
                    ..Pkt::est()
                }
                .payload(100)
                .build()
            },
            Ack,
            "segments_in",
        )
        .discarded_as("tcp_out_of_window")
        .check(|s, c| expect_eq("bytes received", received(s, c), 0)),
        row(
            "URG with pointer past the data: delivered inline (RFC 6093 §4)",
            Est,
            || {
                Pkt {
                    urgent: 5000,
                    ..Pkt::est()
                }
                .flags(TcpFlags::URG | TcpFlags::PSH)
                .payload(10)
                .build()
            },
            Silent,
            "segments_in",
        )
        .check(|s, c| expect_eq("bytes received", received(s, c), 10)),
        row(
            "packet larger than the MTU is processed",
            Est,
            || Pkt::est().flags(TcpFlags::PSH).payload(3000).build(),
            Ack,
            "segments_in",
        )
        .check(|s, c| expect_eq("bytes received", received(s, c), 3000)),
        // --- SACK blocks (RFC 2018 §3) on an ACK that also acknowledges 1000 bytes ---
        row(
            "SACK block reversed",
            Est,
            || {
                let base = OUR_ISN + 1;
                Pkt {
                    ack: Some(base + 1000),
                    ..Pkt::est()
                }
                .sack(&[(base + 2500, base + 2000)])
                .build()
            },
            Silent,
            "conn:sack_blocks_rejected",
        )
        .check(|s, c| expect_eq("bytes acked", acked(s, c), 1000)),
        row(
            "SACK block beyond SND.NXT",
            Est,
            || {
                let base = OUR_ISN + 1;
                Pkt {
                    ack: Some(base + 1000),
                    ..Pkt::est()
                }
                .sack(&[(base + IN_FLIGHT + 100, base + IN_FLIGHT + 600)])
                .build()
            },
            Silent,
            "conn:sack_blocks_rejected",
        )
        .check(|s, c| expect_eq("bytes acked", acked(s, c), 1000)),
        row(
            "SACK block far below SND.UNA",
            Est,
            || {
                let base = OUR_ISN + 1;
                Pkt {
                    ack: Some(base + 1000),
                    ..Pkt::est()
                }
                .sack(&[(
                    base.wrapping_sub(1 << 30),
                    base.wrapping_sub((1 << 30) - 500),
                )])
                .build()
            },
            Silent,
            "conn:sack_blocks_rejected",
        )
        .check(|s, c| expect_eq("bytes acked", acked(s, c), 1000)),
        // RFC 8985 §6.2: the blocks show [1000, 1500) missing while later data arrived; with no
        // RTT sample yet the reordering window is zero, so the hole is resent at once.
        row(
            "SACK blocks overlapping (valid, nothing rejected)",
            Est,
            || {
                let base = OUR_ISN + 1;
                Pkt {
                    ack: Some(base + 1000),
                    ..Pkt::est()
                }
                .sack(&[(base + 1500, base + 2500), (base + 2000, base + 2800)])
                .build()
            },
            Data,
            "segments_in",
        )
        .check(|s, c| {
            let i = c.and_then(|c| s.info(c)).ok_or("no connection")?;
            expect_eq("rejected blocks", i.counters.sack_blocks_rejected, 0)?;
            expect_eq("recoveries", i.counters.fast_retransmits, 1)?;
            expect_eq("bytes acked", i.counters.bytes_acked, 1000)
        }),
        // --- ICMP (RFC 792, RFC 4443, RFC 5927) ---
        row(
            "ICMP unreachable quoting garbage",
            Listen,
            || {
                icmp4(Icmpv4Repr::DestUnreachable {
                    code: 3,
                    next_hop_mtu: 0,
                    original: &[0x45, 1, 2],
                })
            },
            Silent,
            "drop:icmp_bad_quote",
        ),
        row(
            "ICMP unreachable quoting version 9",
            Listen,
            || {
                icmp4(Icmpv4Repr::DestUnreachable {
                    code: 3,
                    next_hop_mtu: 0,
                    original: &[0x95; 28],
                })
            },
            Silent,
            "drop:icmp_bad_quote",
        ),
        row(
            "ICMPv6 unreachable quoting garbage",
            Listen,
            || {
                icmp6(Icmpv6Repr::DestUnreachable {
                    code: 4,
                    original: &[0x60, 0, 0],
                })
            },
            Silent,
            "drop:icmp_bad_quote",
        ),
        row(
            "ICMP unreachable about a UDP datagram",
            Listen,
            || {
                let quote = ip_packet(ME4, PEER4, protocol::UDP, &[0u8; 8]);
                icmp4(Icmpv4Repr::DestUnreachable {
                    code: 3,
                    next_hop_mtu: 0,
                    original: &quote,
                })
            },
            Silent,
            "drop:icmp_ignored",
        ),
        row(
            "ICMP unreachable about no connection of ours",
            Listen,
            || {
                icmp4(Icmpv4Repr::DestUnreachable {
                    code: 3,
                    next_hop_mtu: 0,
                    original: &our_segment_quote(CPORT),
                })
            },
            Silent,
            "drop:icmp_no_connection",
        ),
        row(
            "ICMP unreachable for the connection, seq not in flight (RFC 5927 §4.1)",
            Est,
            || {
                icmp4(Icmpv4Repr::DestUnreachable {
                    code: 3,
                    next_hop_mtu: 0,
                    original: &our_segment_quote(CPORT),
                })
            },
            Silent,
            "icmp_errors",
        )
        .check(still_established),
        row(
            "ICMP echo reply nobody asked for",
            Listen,
            || {
                icmp4(Icmpv4Repr::EchoReply {
                    ident: 1,
                    seq: 1,
                    data: b"x",
                })
            },
            Silent,
            "drop:icmp_ignored",
        ),
        row(
            "ICMP echo request",
            Listen,
            || {
                icmp4(Icmpv4Repr::EchoRequest {
                    ident: 1,
                    seq: 1,
                    data: b"ping",
                })
            },
            Icmp,
            "echo_replies",
        ),
        row(
            "ICMP bad checksum",
            Listen,
            || {
                let mut p = icmp4(Icmpv4Repr::EchoRequest {
                    ident: 1,
                    seq: 1,
                    data: b"ping",
                });
                p[22] ^= 0xff;
                p
            },
            Silent,
            "drop:icmpv4_bad_checksum",
        ),
    ]
}

/// Runs one row on a fresh stack; Err says what differed.
fn run_row(r: &Row) -> Result<(), String> {
    let (mut s, conn) = match r.into {
        Listen => (listening(), None),
        Est => {
            let (s, c) = established();
            (s, Some(c))
        }
    };
    let conn_counters = |s: &Stack| conn.and_then(|c| s.info(c)).map(|i| i.counters);
    let before_stats = s.stats().clone();
    let before_conn = conn_counters(&s);
    let before = counter(&before_stats, before_conn.as_ref(), r.counter);
    let packet = (r.packet)();
    s.handle_packet(now(), &packet);
    let out = drain(&mut s, now());
    let after_stats = s.stats().clone();
    let after = counter(&after_stats, conn_counters(&s).as_ref(), r.counter);
    let got = reaction_of(&out)?;
    if got != r.reaction {
        return Err(format!("reaction {got:?}, want {:?}", r.reaction));
    }
    if after != before + 1 {
        return Err(format!("{} went {before} -> {after}, want +1", r.counter));
    }
    // Exactly one drop for a drop row, none for any other.
    let drops = after_stats.total_drops() - before_stats.total_drops();
    let want_drops = u64::from(r.counter.starts_with("drop:") || r.discarded_as.is_some());
    if let Some(reason) = r.discarded_as {
        let of = |st: &synack_core::Stats| st.drops.get(reason).copied().unwrap_or(0);
        if of(&after_stats) != of(&before_stats) + 1 {
            return Err(format!(
                "no drop counted as {reason}: {:?}",
                after_stats.drops
            ));
        }
    }
    if drops != want_drops {
        return Err(format!(
            "{drops} drops counted, want {want_drops}: {:?}",
            after_stats.drops
        ));
    }
    if let Some(check) = r.check {
        check(&s, conn)?;
    }
    Ok(())
}

#[test]
fn malformed_table() {
    let rows = table();
    assert!(rows.len() >= 40, "the table has {} rows", rows.len());
    let mut names = std::collections::HashSet::new();
    let mut failures = Vec::new();
    for r in &rows {
        assert!(names.insert(r.name), "duplicate row name {}", r.name);
        if let Err(e) = run_row(r) {
            failures.push(format!("{} [{:?}]: {e}", r.name, r.into));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

/// Drop reason of a packet handed to a fresh listening stack, asserting it was the only effect.
fn sole_drop(p: &[u8]) -> String {
    let mut s = listening();
    s.handle_packet(now(), p);
    let drops = s.stats().drops.clone();
    assert_eq!(
        s.stats().total_drops(),
        1,
        "one drop for {} bytes: {drops:?}",
        p.len()
    );
    assert!(drain(&mut s, now()).is_empty(), "no reply to a cut packet");
    assert_eq!(s.connection_count(), 0, "no state from a cut packet");
    drops
        .keys()
        .next()
        .map(|k| k.to_string())
        .unwrap_or_default()
}

/// A SYN cut at every length up to its end: none panics, each is counted once under the layer
/// whose check catches it, nothing is answered.
#[test]
fn syn_cut_at_every_length_is_counted() {
    for full in [Pkt::syn().build(), Pkt::syn6().build()] {
        let ip_len = tcp_at(&full);
        for cut in 0..full.len() {
            let want = match cut {
                0 => "ipv4_truncated", // no version nibble to tell the family
                n if n < ip_len && ip_len == 20 => "ipv4_truncated",
                n if n < ip_len => "ipv6_truncated",
                _ if ip_len == 20 => "ipv4_bad_total_length",
                _ => "ipv6_bad_payload_length",
            };
            assert_eq!(
                sole_drop(&full[..cut]),
                want,
                "cut at {cut} of {}",
                full.len()
            );
        }
        // The same cuts with the IP length fixed up: TCP's own length checks catch them.
        let (src, dst) = addrs(&full);
        let tcp = &full[ip_len..];
        for cut in 0..tcp.len() {
            let p = ip_packet(
                &src.to_string(),
                &dst.to_string(),
                protocol::TCP,
                &tcp[..cut],
            );
            let want = match cut {
                // An IPv6 payload length of 0 means a jumbogram (RFC 2675 §3), refused.
                0 if ip_len == 40 => "ipv6_bad_payload_length",
                n if n < 20 => "tcp_truncated",
                _ => "tcp_bad_header_length",
            };
            assert_eq!(sole_drop(&p), want, "TCP cut at {cut} of {}", tcp.len());
        }
    }
}

// ----- Properties -----

use proptest::prelude::*;

/// Everything that says a packet was looked at: a drop, a processed segment, or ICMP handled.
fn accounted(s: &Stats) -> u64 {
    s.total_drops() + s.segments_in + s.echo_replies + s.icmp_errors
}

/// Valid packets to mutate: SYNs (both families), segments for the connection, an ICMP error.
fn seeds() -> Vec<Vec<u8>> {
    let base = OUR_ISN + 1;
    vec![
        Pkt::syn().build(),
        Pkt::syn6().build(),
        Pkt::est().flags(TcpFlags::PSH).payload(40).build(),
        Pkt {
            ack: Some(base + 1000),
            ..Pkt::est()
        }
        .sack(&[(base + 1500, base + 2500)])
        .build(),
        Pkt::est().flags(TcpFlags::FIN).build(),
        icmp4(Icmpv4Repr::DestUnreachable {
            code: 4,
            next_hop_mtu: 600,
            original: &our_segment_quote(CPORT),
        }),
    ]
}

/// Makes the checksums right again where the packet still looks like IPv4 / TCP, so mutations
/// reach the TCP state machine instead of stopping at the checksum.
fn refill_checksums(p: &mut [u8]) {
    match p.first().map(|b| b >> 4) {
        Some(4) if p.len() >= 20 => {
            let ihl = usize::from(p[0] & 0x0f) * 4;
            refill_ip_checksum(p);
            if ihl == 20 && p[9] == protocol::TCP && p.len() >= 40 {
                refill_tcp_checksum(p);
            }
        }
        Some(6) if p.len() >= 60 && p[6] == protocol::TCP => refill_tcp_checksum(p),
        _ => {}
    }
}

fn first_byte() -> impl Strategy<Value = u8> {
    prop_oneof![Just(0x45u8), Just(0x60u8), any::<u8>()]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]

    /// Random bytes (often with a plausible version nibble), to a listener and to a connection:
    /// never a panic, always accounted for.
    #[test]
    fn random_bytes_are_accounted(first in first_byte(), rest in prop::collection::vec(any::<u8>(), 0..120), est in any::<bool>()) {
        let mut bytes = vec![first];
        bytes.extend(rest);
        let mut s = if est { established().0 } else { listening() };
        let before = accounted(s.stats());
        s.handle_packet(now(), &bytes);
        drain(&mut s, now());
        prop_assert!(accounted(s.stats()) > before, "packet {:02x?} left no count", bytes);
        s.handle_timeout(Instant::from_secs(3600));
        drain(&mut s, Instant::from_secs(3600));
    }

    /// Valid segments with a few bytes changed, maybe cut, maybe with checksums made right:
    /// never a panic, always accounted for, and the stack keeps running its timers.
    #[test]
    fn mutated_segments_are_accounted(
        which in 0usize..6,
        edits in prop::collection::vec((0usize..80, any::<u8>()), 1..6),
        cut in 0usize..16,
        fix in any::<bool>(),
    ) {
        let mut p = seeds().swap_remove(which);
        for (i, v) in edits {
            if let Some(b) = p.get_mut(i) {
                *b = v;
            }
        }
        p.truncate(p.len().saturating_sub(cut));
        if fix {
            refill_checksums(&mut p);
        }
        let (mut s, _) = established();
        let before = accounted(s.stats());
        s.handle_packet(now(), &p);
        drain(&mut s, now());
        prop_assert!(accounted(s.stats()) > before, "packet {:02x?} left no count", p);
        for t in [2, 60, 3600] {
            s.handle_timeout(Instant::from_secs(t));
            drain(&mut s, Instant::from_secs(t));
        }
    }
}
