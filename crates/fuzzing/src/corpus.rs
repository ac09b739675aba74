//! The seed corpus, built reproducibly (`cargo run -p synack-fuzzing --bin make-corpus` writes
//! it to `fuzz/corpus/<target>/`; a test checks the files match).
//!
//! - `parse_packet`: every distinct packet two synack stacks exchange over a clean link, IPv4
//!   and IPv6 (handshake with options, data, window updates, FIN, RST), plus ICMP errors that
//!   quote a TCP header and a few hand-made malformed shapes;
//! - `live_stack` and `two_stacks`: inputs drawn from a seeded generator, kept only when they
//!   make the target do something new (a new set of state transitions, or a new kind of transfer
//!   outcome), so each seed is a distinct starting point.

use crate::{live_stack_transitions, two_stacks_outcome};
use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use synack_core::Config;
use synack_sim::{CaptureEvent, LinkConfig};
use synack_tests::{Pair, SplitMix64};
use synack_wire::ip::{emit_ip_header, ip_header_len, protocol};
use synack_wire::{Icmpv4Repr, Icmpv6Repr};

/// Seed inputs for the named target (empty for an unknown name).
pub fn seeds(target: &str) -> Vec<Vec<u8>> {
    match target {
        "parse_packet" => packet_seeds(),
        "live_stack" => live_stack_seeds(),
        "two_stacks" => two_stacks_seeds(),
        _ => Vec::new(),
    }
}

/// `len` bytes from a seeded generator.
pub fn random_bytes(rng: &mut SplitMix64, len: usize) -> Vec<u8> {
    (0..len).map(|_| rng.next_u64() as u8).collect()
}

fn packet_seeds() -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    let mut seen = HashSet::new();
    for (a_ip, b_ip) in [
        (
            IpAddr::V4([10, 0, 0, 1].into()),
            IpAddr::V4([10, 0, 0, 2].into()),
        ),
        (
            IpAddr::V6([0xfd00, 0, 0, 0, 0, 0, 0, 1].into()),
            IpAddr::V6([0xfd00, 0, 0, 0, 0, 0, 0, 2].into()),
        ),
    ] {
        for packet in exchange(a_ip, b_ip) {
            // One seed per shape (flags and length), not per packet.
            let key = (
                packet.len(),
                synack_wire::tcpdump::format_packet(&packet).len(),
            );
            if seen.insert(key) && out.len() < 40 {
                out.push(packet);
            }
        }
        if let Some(first) = out.first().cloned() {
            out.push(icmp_error(a_ip, b_ip, &first));
        }
    }
    // Malformed shapes: empty, a bare version nibble, a header claiming more than it has.
    out.push(Vec::new());
    out.push(vec![0x45]);
    out.push(vec![0x60, 0, 0, 0, 0xff, 0xff, 6, 64]);
    out
}

/// Packets of a short echo exchange between two synack stacks, in order.
fn exchange(a_ip: IpAddr, b_ip: IpAddr) -> Vec<Vec<u8>> {
    let mut p = Pair::with_addrs(
        Config::default(),
        Config::default(),
        LinkConfig::default().with_delay(Duration::from_millis(5)),
        7,
        a_ip,
        b_ip,
    );
    p.net.set_capture(true);
    let server = SocketAddr::new(b_ip, 80);
    p.net.host_mut(p.b).app = Some(Box::new(synack_tests::apps::Server::echo(server, 1)));
    p.net.host_mut(p.a).app = Some(Box::new(synack_tests::apps::Client::new(
        server,
        synack_tests::pattern(3000, 1),
    )));
    p.run_until_done(Duration::from_secs(30));
    // A reset for a port nobody listens on.
    let now = p.net.now();
    let _ = p.sa().connect(now, None, SocketAddr::new(b_ip, 81));
    p.net.flush();
    p.net.run_for(Duration::from_secs(1));
    p.net
        .take_captures()
        .into_iter()
        .filter(|c| c.event == CaptureEvent::Sent)
        .map(|c| c.packet)
        .collect()
}

/// An ICMP "fragmentation needed" / "packet too big" quoting `quoted`, from b to a.
fn icmp_error(a_ip: IpAddr, b_ip: IpAddr, quoted: &[u8]) -> Vec<u8> {
    let original = quoted.get(..quoted.len().min(68)).unwrap_or(&[]);
    let mut body = vec![0u8; 1500];
    let (proto, len) = match (a_ip, b_ip) {
        (IpAddr::V4(_), IpAddr::V4(_)) => {
            let msg = Icmpv4Repr::DestUnreachable {
                code: 4,
                next_hop_mtu: 576,
                original,
            };
            (protocol::ICMP, msg.emit(&mut body).unwrap_or(0))
        }
        _ => {
            let msg = Icmpv6Repr::PacketTooBig {
                mtu: 1280,
                original,
            };
            (
                protocol::ICMPV6,
                msg.emit(&mut body, b_ip, a_ip).unwrap_or(0),
            )
        }
    };
    body.truncate(len);
    let ip_len = ip_header_len(b_ip);
    let mut packet = vec![0u8; ip_len];
    let _ = emit_ip_header(&mut packet, b_ip, a_ip, proto, body.len(), 64, 0);
    packet.extend_from_slice(&body);
    packet
}

fn live_stack_seeds() -> Vec<Vec<u8>> {
    let mut rng = SplitMix64(0x11fe_57ac);
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for _ in 0..400 {
        let len = 256 + rng.below(4096) as usize;
        let input = random_bytes(&mut rng, len);
        // A distinct set of transitions is a distinct path through Figure 5.
        let mut path: Vec<String> = live_stack_transitions(&input)
            .into_iter()
            .map(|(from, to)| format!("{from}>{to}"))
            .collect();
        path.sort();
        if seen.insert(path) && out.len() < 30 {
            out.push(input);
        }
    }
    out
}

fn two_stacks_seeds() -> Vec<Vec<u8>> {
    let mut rng = SplitMix64(0x2057_ac45);
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for _ in 0..300 {
        let len = 64 + rng.below(512) as usize;
        let input = random_bytes(&mut rng, len);
        let o = two_stacks_outcome(&input);
        // Kinds of outcome: intact or not, reached end of stream, size class of the transfer.
        let kind = (
            o.must_deliver,
            o.eof,
            o.sent.checked_ilog2(),
            o.delivered.checked_ilog2(),
        );
        if seen.insert(kind) && out.len() < 30 {
            out.push(input);
        }
    }
    out
}
