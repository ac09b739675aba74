//! Differential fuzzing of `format_packet` against the real tcpdump:
//! seeded random mutations of well-formed packets.

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::process::Command;

use common::{icmpv4_packet, icmpv6_packet, tcp_packet};
use synack_wire::tcpdump::format_packet;
use synack_wire::{
    Icmpv4Repr, Icmpv6Repr, SackBlocks, SeqNumber, TcpFlags, TcpOptions, TcpRepr, Timestamps,
};

/// xorshift64*: deterministic, dependency-free randomness.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn seeds() -> Vec<Vec<u8>> {
    let a = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    let b = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
    let c: IpAddr = IpAddr::V6("fd00::1".parse::<Ipv6Addr>().unwrap());
    let d: IpAddr = IpAddr::V6("fd00::2".parse::<Ipv6Addr>().unwrap());
    let mut sack = SackBlocks::new();
    sack.push(SeqNumber(10), SeqNumber(20));
    let base = TcpRepr {
        src_port: 40000,
        dst_port: 5001,
        seq: SeqNumber(100),
        ack: SeqNumber(200),
        flags: TcpFlags::ACK,
        window: 1000,
        urgent_ptr: 0,
        options: TcpOptions {
            timestamps: Some(Timestamps { tsval: 1, tsecr: 2 }),
            sack_blocks: sack,
            ..TcpOptions::default()
        },
        payload: b"0123456789",
    };
    let syn = TcpRepr {
        flags: TcpFlags::SYN,
        payload: b"",
        options: TcpOptions {
            mss: Some(1460),
            window_scale: Some(7),
            sack_permitted: true,
            timestamps: Some(Timestamps { tsval: 1, tsecr: 0 }),
            sack_blocks: SackBlocks::new(),
        },
        ..base
    };
    let data = [7u8; 24];
    let quoted4 = tcp_packet(a, b, &syn);
    let quoted6 = tcp_packet(c, d, &syn);
    let http = TcpRepr {
        dst_port: 80,
        flags: TcpFlags::PSH | TcpFlags::ACK,
        payload: b"GET / HTTP/1.0\r\n\r\n",
        ..base
    };
    let mut hbh = tcp_packet(c, d, &base);
    // Insert a Hop-by-Hop header (PadN) in front of the TCP segment.
    hbh.splice(40..40, [6u8, 0, 1, 4, 0, 0, 0, 0]);
    hbh[6] = 0;
    let plen = u16::from_be_bytes([hbh[4], hbh[5]]) + 8;
    hbh[4..6].copy_from_slice(&plen.to_be_bytes());
    let mut frag = hbh.clone();
    frag[6] = 44;
    frag[40..48].copy_from_slice(&[6, 0, 0, 1, 0, 0, 0, 5]);
    let mut mptcp = tcp_packet(a, b, &syn);
    // Replace the TS option's bytes with an MPTCP MP_CAPABLE.
    mptcp[26..38].copy_from_slice(&[30, 12, 0x01, 0x81, 1, 2, 3, 4, 5, 6, 7, 8]);
    let udp = common::raw_packet(a, b, 17, &[0x9c, 0x40, 0x13, 0x89, 0, 12, 0, 0, 1, 2, 3, 4]);
    vec![
        tcp_packet(a, b, &http),
        hbh,
        frag,
        mptcp,
        udp,
        icmpv4_packet(
            b,
            a,
            &Icmpv4Repr::DestUnreachable {
                code: 3,
                next_hop_mtu: 0,
                original: &quoted4[..28],
            },
        ),
        icmpv6_packet(
            d,
            c,
            &Icmpv6Repr::DestUnreachable {
                code: 4,
                original: &quoted6,
            },
        ),
        icmpv6_packet(
            d,
            c,
            &Icmpv6Repr::PacketTooBig {
                mtu: 1280,
                original: &quoted6,
            },
        ),
        tcp_packet(a, b, &base),
        tcp_packet(a, b, &syn),
        tcp_packet(c, d, &base),
        tcp_packet(c, d, &syn),
        icmpv4_packet(
            a,
            b,
            &Icmpv4Repr::EchoRequest {
                ident: 1,
                seq: 2,
                data: &data,
            },
        ),
        icmpv6_packet(
            c,
            d,
            &Icmpv6Repr::EchoRequest {
                ident: 1,
                seq: 2,
                data: &data,
            },
        ),
    ]
}

/// Ports for which tcpdump runs application decoders this crate does not
/// reproduce; mutations that produce them are skipped (and counted).
const DECODED_PORTS: &[u16] = &[
    21, 22, 23, 25, 43, 53, 139, 179, 323, 445, 554, 639, 646, 1723, 2049, 6379, 6633, 6653, 8554,
    10288,
];

fn mutate(rng: &mut Rng, packet: &[u8]) -> Vec<u8> {
    let mut p = packet.to_vec();
    for _ in 0..1 + rng.below(3) {
        match rng.below(4) {
            0 | 1 => {
                // Change a byte after the version nibble.
                if p.len() > 1 {
                    let at = 1 + rng.below(p.len() - 1);
                    p[at] = rng.next() as u8;
                }
            }
            2 => {
                let keep = rng.below(p.len() + 1).max(1);
                p.truncate(keep);
            }
            _ => {
                for _ in 0..rng.below(12) {
                    p.push(rng.next() as u8);
                }
            }
        }
    }
    p
}

/// Protocols tcpdump decodes and this crate prints only generically.
const DECODED_PROTOCOLS: &[u8] = &[
    2, 4, 8, 9, 33, 41, 46, 47, 51, 55, 62, 88, 89, 103, 108, 112, 113, 132, 135, 143,
];

fn uses_decoded_protocol(p: &[u8]) -> bool {
    let candidates = match p.first().map(|b| b >> 4) {
        Some(4) => vec![p.get(9)],
        Some(6) => vec![p.get(6), p.get(40), p.get(48)],
        _ => vec![],
    };
    candidates
        .into_iter()
        .flatten()
        .any(|proto| DECODED_PROTOCOLS.contains(proto))
}

/// ICMPv6 types tcpdump decodes in depth (MLD, router renumbering, node
/// information, RPL) and this crate does not.
const DECODED_ICMPV6: &[u8] = &[130, 131, 132, 138, 139, 140, 143, 155];

fn uses_decoded_icmpv6(p: &[u8]) -> bool {
    p.first().map(|b| b >> 4) == Some(6)
        && p.get(6) == Some(&58)
        && p.get(40).is_some_and(|t| DECODED_ICMPV6.contains(t))
}

/// UDP has dozens of port-based decoders: only the seed's ports are kept.
fn udp_with_other_ports(p: &[u8]) -> bool {
    let (proto, at) = match p.first().map(|b| b >> 4) {
        Some(4) => (p.get(9), usize::from(p[0] & 0x0F) * 4),
        Some(6) => (p.get(6), 40),
        _ => return false,
    };
    proto == Some(&17) && p.get(at..at + 4) != Some(&[0x9c, 0x40, 0x13, 0x89])
}

fn uses_decoded_port(p: &[u8]) -> bool {
    // Both ports of any TCP/UDP header candidate position: conservative.
    let starts: &[usize] = match p.first().map(|b| b >> 4) {
        Some(4) => &[20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60],
        Some(6) => &[40, 48, 56, 64, 72],
        _ => &[],
    };
    starts.iter().any(|&s| {
        [s, s + 2].iter().any(|&at| {
            p.get(at..at + 2)
                .is_some_and(|b| DECODED_PORTS.contains(&u16::from_be_bytes([b[0], b[1]])))
        })
    })
}

fn write_pcap(path: &std::path::Path, packets: &[Vec<u8>]) {
    let mut f = Vec::new();
    for v in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, 101] {
        f.extend_from_slice(&v.to_le_bytes());
    }
    for (i, p) in packets.iter().enumerate() {
        // Each packet's index is its timestamp, so `-tt` output can be
        // split per packet even where tcpdump prints several lines.
        for v in [i as u32, 0, p.len() as u32, p.len() as u32] {
            f.extend_from_slice(&v.to_le_bytes());
        }
        f.extend_from_slice(p);
    }
    std::fs::write(path, f).expect("write pcap");
}

/// The first line tcpdump printed for each packet, without the `-tt`
/// timestamp (`<index>.000000 `), which is all `-t` leaves out.
fn first_lines(text: &str, count: usize) -> Vec<String> {
    let mut lines = vec![None; count];
    for line in text.lines() {
        let Some((stamp, rest)) = line.split_once(".000000 ") else {
            continue; // a continuation line (hex dump, nested packet)
        };
        if let Ok(i) = stamp.parse::<usize>() {
            if i < count && lines[i].is_none() {
                lines[i] = Some(rest.to_string());
            }
        }
    }
    lines
        .into_iter()
        .enumerate()
        .map(|(i, l)| l.unwrap_or_else(|| panic!("tcpdump printed nothing for packet {i}")))
        .collect()
}

#[test]
fn mutated_packets_match_real_tcpdump() {
    // A fixed seed keeps CI deterministic; SYNACK_FUZZ_SEED and
    // SYNACK_FUZZ_COUNT explore further by hand.
    let seed = std::env::var("SYNACK_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_CAFE_F00D_0001u64);
    let count = std::env::var("SYNACK_FUZZ_COUNT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5000usize);
    let mut rng = Rng(seed | 1);
    let seeds = seeds();
    let mut packets = Vec::new();
    let mut skipped = 0;
    while packets.len() < count {
        let seed = &seeds[rng.below(seeds.len())];
        let p = mutate(&mut rng, seed);
        if uses_decoded_port(&p)
            || uses_decoded_protocol(&p)
            || uses_decoded_icmpv6(&p)
            || udp_with_other_ports(&p)
        {
            skipped += 1;
            continue;
        }
        packets.push(p);
    }
    assert!(
        skipped < count / 10,
        "too many skipped mutations: {skipped}"
    );
    let dir = std::env::temp_dir().join(format!("synack-wire-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("fuzz.pcap");
    write_pcap(&path, &packets);
    let output = match Command::new("tcpdump")
        .args(["-n", "-S", "-tt", "-r"])
        .arg(&path)
        .output()
    {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("tcpdump not found: apt-get install tcpdump")
        }
        Err(e) => panic!("running tcpdump failed: {e}"),
    };
    let _ = std::fs::remove_dir_all(&dir);
    let text = String::from_utf8_lossy(&output.stdout);
    let theirs = first_lines(&text, packets.len());
    let mut diffs = Vec::new();
    for (p, expected) in packets.iter().zip(&theirs) {
        let ours = format_packet(p);
        if ours != *expected {
            diffs.push(format!(
                "packet {:02x?}\n  tcpdump: {expected}\n  ours:    {ours}",
                p
            ));
        }
    }
    assert!(
        diffs.is_empty(),
        "{} of {} differ; first ones:\n{}",
        diffs.len(),
        packets.len(),
        diffs
            .iter()
            .take(15)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
