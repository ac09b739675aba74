//! `tcpdump::format_packet` against the real tcpdump: every packet below
//! goes into a LINKTYPE_RAW pcap, `tcpdump -n -S -t -r` reads it, and each
//! of its lines must equal ours.

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::process::Command;

use common::{fix_ipv4_checksum, icmpv4_packet, icmpv6_packet, raw_packet, tcp_packet};
use synack_wire::ipv6;
use synack_wire::tcpdump::format_packet;
use synack_wire::{
    Icmpv4Repr, Icmpv6Repr, SackBlocks, SeqNumber, TcpFlags, TcpOptions, TcpRepr, Timestamps,
};

const A: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 168, 1, 116));
const B: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 168, 1, 123));

fn v6(s: &str) -> IpAddr {
    IpAddr::V6(s.parse::<Ipv6Addr>().unwrap())
}

fn seg(flags: TcpFlags, seq: u32, ack: u32, payload: &'static [u8]) -> TcpRepr<'static> {
    TcpRepr {
        src_port: 3337,
        dst_port: 7788,
        seq: SeqNumber(seq),
        ack: SeqNumber(ack),
        flags,
        window: 502,
        urgent_ptr: 0,
        options: TcpOptions::default(),
        payload,
    }
}

fn full_syn_options() -> TcpOptions {
    TcpOptions {
        mss: Some(1460),
        window_scale: Some(7),
        sack_permitted: true,
        timestamps: Some(Timestamps { tsval: 1, tsecr: 0 }),
        sack_blocks: SackBlocks::new(),
    }
}

fn ts(tsval: u32, tsecr: u32) -> TcpOptions {
    TcpOptions {
        timestamps: Some(Timestamps { tsval, tsecr }),
        ..TcpOptions::default()
    }
}

/// A TCP header (20 bytes + `options`, padded with zeros to 4) in IPv4.
fn tcp_with_raw_options(options: &[u8], payload: &[u8]) -> Vec<u8> {
    let hl = 20 + options.len().div_ceil(4) * 4;
    let mut tcp = vec![0u8; hl];
    tcp[0..2].copy_from_slice(&40000u16.to_be_bytes());
    tcp[2..4].copy_from_slice(&5001u16.to_be_bytes());
    tcp[4..8].copy_from_slice(&77u32.to_be_bytes());
    tcp[12] = ((hl / 4) as u8) << 4;
    tcp[13] = 0x02;
    tcp[14..16].copy_from_slice(&1000u16.to_be_bytes());
    tcp[20..20 + options.len()].copy_from_slice(options);
    tcp.extend_from_slice(payload);
    raw_packet(A, B, 6, &tcp)
}

/// An IPv6 packet whose payload starts with an extension-header chain.
fn v6_chain(first: u8, chain: &[u8], upper: &[u8]) -> Vec<u8> {
    let mut payload = chain.to_vec();
    payload.extend_from_slice(upper);
    let mut buf = vec![0u8; 40];
    ipv6::emit_header(
        &mut buf,
        "fd00::1".parse().unwrap(),
        "fd00::2".parse().unwrap(),
        first,
        payload.len(),
        64,
    )
    .unwrap();
    buf.extend_from_slice(&payload);
    buf
}

/// A bare TCP segment (checksum irrelevant to tcpdump without -v).
fn bare_tcp(flags: u8) -> Vec<u8> {
    let mut tcp = vec![0u8; 20];
    tcp[0..2].copy_from_slice(&80u16.to_be_bytes());
    tcp[2..4].copy_from_slice(&5555u16.to_be_bytes());
    tcp[8..12].copy_from_slice(&1u32.to_be_bytes());
    tcp[12] = 0x50;
    tcp[13] = flags;
    tcp
}

/// The packets compared against tcpdump, each with a name for failures.
fn corpus() -> Vec<(&'static str, Vec<u8>)> {
    let mut v: Vec<(&'static str, Vec<u8>)> = Vec::new();

    let syn = TcpRepr {
        window: 65535,
        options: full_syn_options(),
        ..seg(TcpFlags::SYN, 3_626_544_836, 0, b"")
    };
    v.push(("syn", tcp_packet(A, B, &syn)));
    let synack = TcpRepr {
        src_port: 7788,
        dst_port: 3337,
        window: 65160,
        options: TcpOptions {
            timestamps: Some(Timestamps {
                tsval: 4_000_000_000,
                tsecr: 1,
            }),
            ..full_syn_options()
        },
        ..seg(TcpFlags::SYN | TcpFlags::ACK, 12345, 3_626_544_837, b"")
    };
    v.push(("syn-ack", tcp_packet(B, A, &synack)));
    let syn_no_ts = TcpRepr {
        options: TcpOptions {
            timestamps: None,
            ..full_syn_options()
        },
        ..seg(TcpFlags::SYN, 1, 0, b"")
    };
    v.push(("syn without TS", tcp_packet(A, B, &syn_no_ts)));
    v.push((
        "syn, no options",
        tcp_packet(A, B, &seg(TcpFlags::SYN, 0, 0, b"")),
    ));
    let data = TcpRepr {
        options: ts(5, 9),
        ..seg(TcpFlags::PSH | TcpFlags::ACK, 1000, 2000, &[0x42; 100])
    };
    v.push(("data", tcp_packet(A, B, &data)));
    v.push((
        "pure ack",
        tcp_packet(A, B, &seg(TcpFlags::ACK, 1100, 2000, b"")),
    ));
    v.push((
        "data wrapping seq",
        tcp_packet(
            A,
            B,
            &seg(TcpFlags::ACK, u32::MAX - 10, 5, b"twenty bytes of text"),
        ),
    ));
    v.push((
        "fin-ack",
        tcp_packet(A, B, &seg(TcpFlags::FIN | TcpFlags::ACK, 1100, 2000, b"")),
    ));
    v.push(("rst", tcp_packet(A, B, &seg(TcpFlags::RST, 1100, 0, b""))));
    v.push((
        "rst-ack",
        tcp_packet(A, B, &seg(TcpFlags::RST | TcpFlags::ACK, 0, 1, b"")),
    ));
    v.push((
        "no flags",
        tcp_packet(A, B, &seg(TcpFlags::empty(), 5, 0, b"")),
    ));
    let christmas = TcpRepr {
        urgent_ptr: 3,
        ..seg(TcpFlags(0xFF), 5, 6, b"urgent")
    };
    v.push(("all flags + urg", tcp_packet(A, B, &christmas)));
    let mut sack = SackBlocks::new();
    sack.push(SeqNumber(2100), SeqNumber(2200));
    sack.push(SeqNumber(2300), SeqNumber(4_294_967_000));
    sack.push(SeqNumber(5), SeqNumber(6));
    let sack_ack = TcpRepr {
        options: TcpOptions {
            sack_blocks: sack,
            ..ts(7, 8)
        },
        ..seg(TcpFlags::ACK, 1100, 2000, b"")
    };
    v.push(("sack + ts", tcp_packet(B, A, &sack_ack)));
    let mut four = SackBlocks::new();
    for i in 0..4 {
        four.push(SeqNumber(i * 100), SeqNumber(i * 100 + 50));
    }
    let sack4 = TcpRepr {
        options: TcpOptions {
            sack_blocks: four,
            ..TcpOptions::default()
        },
        ..seg(TcpFlags::ACK, 1, 2, b"")
    };
    v.push(("sack x4, no ts", tcp_packet(B, A, &sack4)));

    // HTTP ports get tcpdump's HTTP decoder.
    let http_req = TcpRepr {
        src_port: 40000,
        dst_port: 80,
        options: ts(5, 9),
        ..seg(
            TcpFlags::PSH | TcpFlags::ACK,
            1,
            1,
            b"GET /index.html HTTP/1.1\r\nHost: example\r\n\r\n",
        )
    };
    v.push(("http request", tcp_packet(A, B, &http_req)));
    let http_resp = TcpRepr {
        src_port: 80,
        dst_port: 40000,
        ..seg(
            TcpFlags::PSH | TcpFlags::ACK,
            1,
            1,
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        )
    };
    v.push(("http response", tcp_packet(B, A, &http_resp)));
    let http_bin = TcpRepr {
        src_port: 8080,
        ..seg(TcpFlags::ACK, 1000, 2000, &[0u8; 100])
    };
    v.push(("http port, binary", tcp_packet(A, B, &http_bin)));
    let http_unterminated = TcpRepr {
        dst_port: 80,
        ..seg(TcpFlags::ACK, 1, 1, b"POST /form no newline")
    };
    v.push(("http, no line end", tcp_packet(A, B, &http_unterminated)));

    // IPv6.
    v.push((
        "ipv6 rst-ack",
        tcp_packet(
            v6("fd00::1"),
            v6("fd00::2"),
            &TcpRepr {
                src_port: 80,
                dst_port: 5555,
                window: 0,
                ..seg(TcpFlags::RST | TcpFlags::ACK, 0, 1, b"")
            },
        ),
    ));
    v.push((
        "ipv6 syn",
        tcp_packet(
            v6("2001:db8::a:0:0:1"),
            v6("::ffff:10.0.0.1"),
            &TcpRepr {
                options: full_syn_options(),
                ..seg(TcpFlags::SYN, 42, 0, b"")
            },
        ),
    ));
    v.push((
        "ipv6 data, odd addresses",
        tcp_packet(
            v6("fe80::1:0:0:0:2"),
            v6("::10.1.2.3"),
            &TcpRepr {
                options: ts(1, 2),
                ..seg(TcpFlags::PSH | TcpFlags::ACK, 1, 1, b"hello")
            },
        ),
    ));

    // ICMP.
    let payload = [0xABu8; 56];
    let echo = Icmpv4Repr::EchoRequest {
        ident: 1,
        seq: 1,
        data: &payload,
    };
    v.push(("icmp echo request", icmpv4_packet(A, B, &echo)));
    let reply = Icmpv4Repr::EchoReply {
        ident: 0xBEEF,
        seq: 65535,
        data: &payload[..10],
    };
    v.push(("icmp echo reply", icmpv4_packet(B, A, &reply)));
    let quoted = tcp_packet(A, B, &seg(TcpFlags::SYN, 9, 0, b""));
    v.push((
        "icmp frag needed",
        icmpv4_packet(
            B,
            A,
            &Icmpv4Repr::DestUnreachable {
                code: 4,
                next_hop_mtu: 1400,
                original: &quoted[..28],
            },
        ),
    ));
    for code in [0u8, 1, 2, 3, 13] {
        v.push((
            "icmp unreachable",
            icmpv4_packet(
                B,
                A,
                &Icmpv4Repr::DestUnreachable {
                    code,
                    next_hop_mtu: 0,
                    original: &quoted[..28],
                },
            ),
        ));
    }
    v.push((
        "icmp time exceeded",
        icmpv4_packet(
            B,
            A,
            &Icmpv4Repr::TimeExceeded {
                code: 0,
                original: &quoted[..28],
            },
        ),
    ));
    v.push((
        "icmp other type",
        icmpv4_packet(
            B,
            A,
            &Icmpv4Repr::Other {
                icmp_type: 42,
                code: 0,
            },
        ),
    ));
    let (s6, d6) = (v6("fd00::1"), v6("fd00::2"));
    v.push((
        "icmp6 echo request",
        icmpv6_packet(
            s6,
            d6,
            &Icmpv6Repr::EchoRequest {
                ident: 1,
                seq: 1,
                data: &payload,
            },
        ),
    ));
    v.push((
        "icmp6 echo reply",
        icmpv6_packet(
            d6,
            s6,
            &Icmpv6Repr::EchoReply {
                ident: 7,
                seq: 9,
                data: &payload[..8],
            },
        ),
    ));
    let quoted6 = tcp_packet(s6, d6, &seg(TcpFlags::SYN, 9, 0, b""));
    v.push((
        "icmp6 packet too big",
        icmpv6_packet(
            d6,
            s6,
            &Icmpv6Repr::PacketTooBig {
                mtu: 1280,
                original: &quoted6,
            },
        ),
    ));
    for code in [0u8, 1, 3, 4] {
        v.push((
            "icmp6 unreachable",
            icmpv6_packet(
                d6,
                s6,
                &Icmpv6Repr::DestUnreachable {
                    code,
                    original: &quoted6,
                },
            ),
        ));
    }
    v.push((
        "icmp6 time exceeded",
        icmpv6_packet(
            d6,
            s6,
            &Icmpv6Repr::TimeExceeded {
                code: 0,
                original: &quoted6,
            },
        ),
    ));

    // Odd options.
    v.push((
        "unknown option, eol, garbage after eol",
        tcp_with_raw_options(&[253, 4, 0xde, 0xad, 1, 0, 9, 9], b""),
    ));
    v.push(("option length 0", tcp_with_raw_options(&[1, 2, 0, 0], b"")));
    v.push((
        "option length 1 first",
        tcp_with_raw_options(&[8, 1, 0, 0], b""),
    ));
    v.push(("option past end", tcp_with_raw_options(&[1, 1, 8, 10], b"")));
    v.push((
        "mss with wrong length",
        tcp_with_raw_options(&[2, 3, 5, 1], b""),
    ));
    v.push((
        "ts with wrong length",
        tcp_with_raw_options(&[8, 6, 0, 0, 0, 1, 1, 1], b""),
    ));
    v.push((
        "odd sack",
        tcp_with_raw_options(&[1, 1, 5, 6, 0, 0, 0, 1], b""),
    ));
    v.push((
        "uto, tfo, sackOK",
        tcp_with_raw_options(
            &[28, 4, 0x01, 0x2d, 34, 2, 4, 2, 34, 6, 1, 2, 3, 4, 0, 0],
            b"",
        ),
    ));
    v.push((
        "wscale and mss alone, with payload",
        tcp_with_raw_options(&[3, 3, 14, 2, 4, 0x05, 0xb4, 0], b"xyz"),
    ));

    // Malformed IP and TCP.
    let good = tcp_packet(A, B, &seg(TcpFlags::ACK, 1, 2, b"abcdefgh"));
    let mut bad_hlen = good.clone();
    bad_hlen[0] = 0x44;
    v.push(("ihl 4", bad_hlen));
    let mut long_total = good.clone();
    long_total[2..4].copy_from_slice(&60u16.to_be_bytes());
    fix_ipv4_checksum(&mut long_total);
    v.push(("total length past buffer", long_total));
    let mut short_total = good.clone();
    short_total[2..4].copy_from_slice(&30u16.to_be_bytes());
    fix_ipv4_checksum(&mut short_total);
    v.push(("total length cuts tcp header", short_total));
    let mut below_hlen = good.clone();
    below_hlen[2..4].copy_from_slice(&12u16.to_be_bytes());
    v.push(("total length below ihl", below_hlen));
    let mut padded = good.clone();
    padded[2..4].copy_from_slice(&44u16.to_be_bytes());
    padded.extend_from_slice(&[0; 6]);
    fix_ipv4_checksum(&mut padded);
    v.push(("link padding", padded));
    let mut off_small = good.clone();
    off_small[32] = 0x40;
    v.push(("data offset 4", off_small));
    let mut off_big = good.clone();
    off_big[32] = 0xF0;
    v.push(("data offset past end", off_big));
    let mut later_frag = good.clone();
    later_frag[6..8].copy_from_slice(&0x0010u16.to_be_bytes());
    v.push(("later fragment", later_frag));
    let mut first_frag = good.clone();
    first_frag[6..8].copy_from_slice(&0x2000u16.to_be_bytes());
    v.push(("first fragment", first_frag));
    v.push(("short ipv4", good[..12].to_vec()));
    v.push(("ipv4 header only, tcp missing", {
        let mut p = good[..22].to_vec();
        p[2..4].copy_from_slice(&22u16.to_be_bytes());
        p
    }));
    let mut version5 = good.clone();
    version5[0] = 0x55;
    v.push(("version 5", version5));
    v.push((
        "udp",
        raw_packet(A, B, 17, &[0x9c, 0x40, 0x13, 0x89, 0, 12, 0, 0, 1, 2, 3, 4]),
    ));
    v.push((
        "udp bad length",
        raw_packet(A, B, 17, &[0x9c, 0x40, 0x13, 0x89, 0, 40, 0, 0, 1, 2, 3, 4]),
    ));
    v.push(("unknown protocol", raw_packet(A, B, 99, &[1, 2, 3])));
    v.push((
        "icmpv6 inside ipv4",
        raw_packet(A, B, 58, &[128, 0, 0, 0, 0, 1, 0, 1]),
    ));

    // IPv6 extension headers.
    let t6 = bare_tcp(0x12);
    v.push((
        "hop-by-hop then tcp",
        v6_chain(0, &[6, 0, 1, 4, 0, 0, 0, 0], &t6),
    ));
    v.push((
        "destination options then tcp",
        v6_chain(60, &[6, 0, 1, 4, 0, 0, 0, 0], &t6),
    ));
    v.push((
        "fragment header, first fragment",
        v6_chain(44, &[6, 0, 0, 1, 0, 0, 0, 9], &t6),
    ));
    v.push((
        "fragment header, later fragment",
        v6_chain(44, &[6, 0, 0, 0x11, 0, 0, 0, 9], &t6),
    ));
    let mut rt = vec![6, 2, 4, 1, 0, 0, 0, 0];
    rt.extend_from_slice(&"fd00::9".parse::<Ipv6Addr>().unwrap().octets());
    v.push(("routing type 4", v6_chain(43, &rt, &t6)));
    v.push(("no next header", v6_chain(59, &[], &[])));
    v.push((
        "hop-by-hop not first",
        v6_chain(60, &[0, 0, 1, 4, 0, 0, 0, 0, 6, 0, 1, 4, 0, 0, 0, 0], &t6),
    ));
    let mut zero_len = v6_chain(6, &[], &t6);
    zero_len[4] = 0;
    zero_len[5] = 0;
    v.push(("ipv6 payload length 0", zero_len));
    let mut v6_long = v6_chain(6, &[], &t6);
    v6_long[5] = 200;
    v.push(("ipv6 payload length past buffer", v6_long));
    v.push(("short ipv6", v6_chain(6, &[], &t6)[..30].to_vec()));
    v
}

/// Writes a classic pcap (LINKTYPE_RAW) holding `packets`.
fn write_pcap(path: &std::path::Path, packets: &[(&str, Vec<u8>)]) {
    let mut f = Vec::new();
    f.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes()); // magic, microseconds
    f.extend_from_slice(&2u16.to_le_bytes()); // version major
    f.extend_from_slice(&4u16.to_le_bytes()); // version minor
    f.extend_from_slice(&0i32.to_le_bytes()); // thiszone
    f.extend_from_slice(&0u32.to_le_bytes()); // sigfigs
    f.extend_from_slice(&65535u32.to_le_bytes()); // snaplen
    f.extend_from_slice(&101u32.to_le_bytes()); // LINKTYPE_RAW
    for (i, (_, p)) in packets.iter().enumerate() {
        f.extend_from_slice(&(i as u32).to_le_bytes()); // ts_sec
        f.extend_from_slice(&0u32.to_le_bytes()); // ts_usec
        f.extend_from_slice(&(p.len() as u32).to_le_bytes()); // incl_len
        f.extend_from_slice(&(p.len() as u32).to_le_bytes()); // orig_len
        f.extend_from_slice(p);
    }
    std::fs::write(path, f).expect("write pcap");
}

fn tcpdump_lines(packets: &[(&str, Vec<u8>)]) -> Vec<String> {
    let dir = std::env::temp_dir().join(format!("synack-wire-tcpdump-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("corpus.pcap");
    write_pcap(&path, packets);
    let output = match Command::new("tcpdump")
        .args(["-n", "-S", "-t", "-r"])
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
    assert!(
        output.status.success(),
        "tcpdump failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("tcpdump output is UTF-8")
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn matches_real_tcpdump() {
    let packets = corpus();
    let theirs = tcpdump_lines(&packets);
    if std::env::var_os("SHOW_TCPDUMP").is_some() {
        eprintln!("{}", theirs.join("\n"));
    }
    assert_eq!(
        theirs.len(),
        packets.len(),
        "tcpdump printed one line per packet:\n{}",
        theirs.join("\n")
    );
    let mut mismatches = Vec::new();
    for ((name, packet), expected) in packets.iter().zip(&theirs) {
        let ours = format_packet(packet);
        if &ours != expected {
            mismatches.push(format!("{name}:\n  tcpdump: {expected}\n  ours:    {ours}"));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} lines differ:\n{}",
        mismatches.len(),
        packets.len(),
        mismatches.join("\n")
    );
}

#[test]
fn brief_examples_without_tcpdump() {
    let syn = TcpRepr {
        window: 65535,
        options: full_syn_options(),
        ..seg(TcpFlags::SYN, 3_626_544_836, 0, b"")
    };
    assert_eq!(
        format_packet(&tcp_packet(A, B, &syn)),
        "IP 192.168.1.116.3337 > 192.168.1.123.7788: Flags [S], seq 3626544836, win 65535, \
         options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7], length 0"
    );
    let rst = TcpRepr {
        src_port: 80,
        dst_port: 5555,
        window: 0,
        ..seg(TcpFlags::RST | TcpFlags::ACK, 0, 1, b"")
    };
    assert_eq!(
        format_packet(&tcp_packet(v6("fd00::1"), v6("fd00::2"), &rst)),
        "IP6 fd00::1.80 > fd00::2.5555: Flags [R.], seq 0, ack 1, win 0, length 0"
    );
    let echo = Icmpv4Repr::EchoRequest {
        ident: 1,
        seq: 1,
        data: &[0; 56],
    };
    assert_eq!(
        format_packet(&icmpv4_packet(A, B, &echo)),
        "IP 192.168.1.116 > 192.168.1.123: ICMP echo request, id 1, seq 1, length 64"
    );
}

#[test]
fn never_panics_on_prefixes() {
    // Every prefix of every corpus packet renders without panicking and
    // produces a non-empty line.
    for (name, packet) in corpus() {
        for end in 0..=packet.len() {
            let line = format_packet(&packet[..end]);
            assert!(!line.is_empty(), "{name} cut at {end}");
        }
    }
}
