//! The pcap writer's files as the real tools read them: `tcpdump -n -S -r` prints, for each
//! record, exactly the line `synack_wire::tcpdump::format_packet` gives for the same packet, and
//! `tshark -r` reads the file without a warning.
//!
//! tcpdump and tshark must be installed (.ci/run installs them); a missing tool fails the test
//! with a message saying so.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;
use synack::pcap::PcapWriter;
use synack_wire::ip::{emit_ip_header, ip_header_len, protocol};
use synack_wire::tcpdump::format_packet;
use synack_wire::{
    Icmpv4Repr, Icmpv6Repr, SackBlocks, SeqNumber, TcpFlags, TcpOptions, TcpRepr, Timestamps,
};

/// The one line tshark prints on stderr when run as root; anything else there is a warning.
const TSHARK_ROOT_NOTICE: &str =
    "Running as user \"root\" and group \"root\". This could be dangerous.";

fn v4(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 168, 1, last))
}

fn v6(last: u16) -> IpAddr {
    IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, last))
}

/// An IP packet carrying `tcp` from `src` to `dst`.
fn tcp_packet(src: IpAddr, dst: IpAddr, tcp: &TcpRepr) -> Vec<u8> {
    let ip_len = ip_header_len(src);
    let mut buf = vec![0u8; ip_len + tcp.buffer_len()];
    let tcp_len = tcp
        .emit(&mut buf[ip_len..], src, dst)
        .expect("TCP emit fits");
    emit_ip_header(&mut buf, src, dst, protocol::TCP, tcp_len, 64, 0x1234).expect("IP emit");
    buf.truncate(ip_len + tcp_len);
    buf
}

fn icmpv4_packet(src: IpAddr, dst: IpAddr, icmp: &Icmpv4Repr) -> Vec<u8> {
    let ip_len = ip_header_len(src);
    let mut buf = vec![0u8; ip_len + icmp.buffer_len()];
    let len = icmp.emit(&mut buf[ip_len..]).expect("ICMP emit fits");
    emit_ip_header(&mut buf, src, dst, protocol::ICMP, len, 64, 7).expect("IP emit");
    buf
}

fn icmpv6_packet(src: IpAddr, dst: IpAddr, icmp: &Icmpv6Repr) -> Vec<u8> {
    let ip_len = ip_header_len(src);
    let mut buf = vec![0u8; ip_len + icmp.buffer_len()];
    let len = icmp
        .emit(&mut buf[ip_len..], src, dst)
        .expect("ICMPv6 emit fits");
    emit_ip_header(&mut buf, src, dst, protocol::ICMPV6, len, 64, 0).expect("IP emit");
    buf
}

fn segment(
    ports: (u16, u16),
    seq: u32,
    ack: u32,
    flags: TcpFlags,
    options: TcpOptions,
    payload: &[u8],
) -> TcpRepr<'_> {
    TcpRepr {
        src_port: ports.0,
        dst_port: ports.1,
        seq: SeqNumber(seq),
        ack: SeqNumber(ack),
        flags,
        window: 65535,
        urgent_ptr: 0,
        options,
        payload,
    }
}

/// A conversation over IPv4 and IPv6 with SYN options, data, SACK, FIN, RST, a 64 KB TSO
/// superpacket, and ICMP and ICMPv6 echoes, each with its capture time.
fn sample_packets() -> Vec<(Duration, Vec<u8>)> {
    let syn_options = TcpOptions {
        mss: Some(1460),
        window_scale: Some(7),
        sack_permitted: true,
        timestamps: Some(Timestamps {
            tsval: 3_717_466_456,
            tsecr: 0,
        }),
        ..TcpOptions::default()
    };
    let ts = |tsval, tsecr| TcpOptions {
        timestamps: Some(Timestamps { tsval, tsecr }),
        ..TcpOptions::default()
    };
    let mut sack = SackBlocks::new();
    assert!(sack.push(SeqNumber(2001), SeqNumber(3001)));
    assert!(sack.push(SeqNumber(4001), SeqNumber(5000)));
    let sack_options = TcpOptions {
        sack_blocks: sack,
        ..ts(20, 10)
    };
    let (c4, s4, c6, s6) = (v4(116), v4(123), v6(1), v6(2));
    let ack = TcpFlags::ACK;
    let psh_ack = TcpFlags::PSH | TcpFlags::ACK;
    let tso_payload = vec![b'x'; 65_535 - 20 - 20];
    let mut packets = vec![
        tcp_packet(
            c4,
            s4,
            &segment(
                (3337, 7788),
                3_626_544_836,
                0,
                TcpFlags::SYN,
                syn_options,
                &[],
            ),
        ),
        tcp_packet(
            s4,
            c4,
            &segment(
                (7788, 3337),
                1_739_326_486,
                3_626_544_837,
                TcpFlags::SYN | ack,
                syn_options,
                &[],
            ),
        ),
        tcp_packet(
            c4,
            s4,
            &segment(
                (3337, 7788),
                3_626_544_837,
                1_739_326_487,
                psh_ack,
                ts(1, 2),
                b"hello\n",
            ),
        ),
        tcp_packet(
            c4,
            s4,
            &segment(
                (3337, 7788),
                3_626_544_843,
                1_739_326_487,
                ack,
                TcpOptions::default(),
                &tso_payload,
            ),
        ),
        tcp_packet(
            c4,
            s4,
            &segment(
                (3337, 7788),
                1,
                0,
                TcpFlags::RST,
                TcpOptions::default(),
                &[],
            ),
        ),
        tcp_packet(
            c6,
            s6,
            &segment((40000, 80), 1000, 0, TcpFlags::SYN, syn_options, &[]),
        ),
        tcp_packet(
            s6,
            c6,
            &segment((80, 40000), 500, 2001, ack, sack_options, &[]),
        ),
        tcp_packet(
            c6,
            s6,
            &segment(
                (40000, 80),
                2001,
                501,
                TcpFlags::FIN | psh_ack,
                ts(30, 20),
                b"GET / HTTP/1.1\r\n\r\n",
            ),
        ),
        icmpv4_packet(
            c4,
            s4,
            &Icmpv4Repr::EchoRequest {
                ident: 0x1d2c,
                seq: 1,
                data: &[0xab; 56],
            },
        ),
        icmpv4_packet(
            s4,
            c4,
            &Icmpv4Repr::EchoReply {
                ident: 0x1d2c,
                seq: 1,
                data: &[0xab; 56],
            },
        ),
    ];
    let echo6 = |request: bool| {
        let (ident, seq, data) = (7, 3, &b"ping6"[..]);
        if request {
            Icmpv6Repr::EchoRequest { ident, seq, data }
        } else {
            Icmpv6Repr::EchoReply { ident, seq, data }
        }
    };
    packets.push(icmpv6_packet(c6, s6, &echo6(true)));
    packets.push(icmpv6_packet(s6, c6, &echo6(false)));
    packets
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            // Distinct, increasing times with a sub-second part, near today's dates.
            let t = Duration::new(1_700_000_000 + i as u64, 10_000 * i as u32 + 7_000);
            (t, p)
        })
        .collect()
}

fn write_capture(name: &str, packets: &[(Duration, Vec<u8>)]) -> PathBuf {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let mut w = PcapWriter::create(&path).expect("create the capture file");
    for (t, p) in packets {
        w.write_packet(*t, p).expect("write a packet");
    }
    w.flush().expect("flush the capture");
    assert_eq!(w.packets_written(), packets.len() as u64);
    path
}

/// Runs an interop tool, failing loudly when it is not installed.
fn run_tool(program: &str, args: &[&str], path: &Path) -> Output {
    let out = Command::new(program)
        .args(args)
        .arg(path)
        .env("TZ", "UTC")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {program} ({e}): this test needs it installed \
                 (apt-get install {program}; .ci/run installs it)"
            )
        });
    assert!(
        out.status.success(),
        "{program} {args:?} failed with {}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn lines(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(str::to_string)
        .collect()
}

/// tcpdump's own first stderr line when reading a file is expected; anything else is a warning.
fn assert_tcpdump_stderr_clean(stderr: &[u8], path: &Path) {
    let want = format!(
        "reading from file {}, link-type RAW (Raw IP), snapshot length 262144",
        path.display()
    );
    assert_eq!(lines(stderr), vec![want], "tcpdump's stderr");
}

fn assert_tshark_stderr_clean(stderr: &[u8]) {
    let warnings: Vec<String> = lines(stderr)
        .into_iter()
        .filter(|l| l != TSHARK_ROOT_NOTICE)
        .collect();
    assert!(warnings.is_empty(), "tshark warned: {warnings:#?}");
}

/// The part of a tcpdump line after its leading timestamp.
fn without_time(line: &str) -> &str {
    line.split_once(' ').map_or("", |(_, rest)| rest)
}

#[test]
fn tcpdump_prints_what_format_packet_prints() {
    let packets = sample_packets();
    let path = write_capture("tcpdump_lines.pcap", &packets);
    let out = run_tool("tcpdump", &["-n", "-S", "-r"], &path);
    assert_tcpdump_stderr_clean(&out.stderr, &path);
    let got = lines(&out.stdout);
    let got: Vec<&str> = got.iter().map(|l| without_time(l)).collect();
    let want: Vec<String> = packets.iter().map(|(_, p)| format_packet(p)).collect();
    assert_eq!(got, want);
}

#[test]
fn tcpdump_reads_the_timestamps_written() {
    let packets = sample_packets();
    let path = write_capture("tcpdump_times.pcap", &packets);
    // -tt: seconds since the epoch, as written.
    let out = run_tool("tcpdump", &["-n", "-S", "-tt", "-r"], &path);
    assert_tcpdump_stderr_clean(&out.stderr, &path);
    let got: Vec<String> = lines(&out.stdout)
        .iter()
        .map(|l| l.split(' ').next().unwrap_or("").to_string())
        .collect();
    let want: Vec<String> = packets
        .iter()
        .map(|(t, _)| format!("{}.{:06}", t.as_secs(), t.subsec_micros()))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn tshark_reads_every_packet_without_warnings() {
    let packets = sample_packets();
    let path = write_capture("tshark.pcap", &packets);
    let out = run_tool("tshark", &["-n", "-r"], &path);
    assert_tshark_stderr_clean(&out.stderr);
    let got = lines(&out.stdout);
    assert_eq!(got.len(), packets.len(), "one line per packet: {got:#?}");
    for line in &got {
        assert!(
            !line.contains("Malformed") && !line.contains("Bogus"),
            "tshark found a bad packet: {line}"
        );
    }
    // The protocols tshark recognised, in order: the link type really is raw IP.
    let out = run_tool(
        "tshark",
        &["-n", "-T", "fields", "-e", "frame.protocols", "-r"],
        &path,
    );
    assert_tshark_stderr_clean(&out.stderr);
    let protocols = lines(&out.stdout);
    let want = [
        "raw:ip:tcp",
        "raw:ip:tcp",
        "raw:ip:tcp:data",
        "raw:ip:tcp:data",
        "raw:ip:tcp",
        "raw:ipv6:tcp",
        "raw:ipv6:tcp",
        "raw:ipv6:tcp:http",
        "raw:ip:icmp:data",
        "raw:ip:icmp:data",
        "raw:ipv6:icmpv6:data",
        "raw:ipv6:icmpv6:data",
    ];
    assert_eq!(protocols, want);
}

#[test]
fn empty_capture_reads_as_no_packets() {
    let path = write_capture("empty.pcap", &[]);
    let out = run_tool("tcpdump", &["-n", "-S", "-r"], &path);
    assert_tcpdump_stderr_clean(&out.stderr, &path);
    assert!(
        out.stdout.is_empty(),
        "tcpdump printed packets from an empty capture"
    );
    let out = run_tool("tshark", &["-r"], &path);
    assert_tshark_stderr_clean(&out.stderr);
    assert!(
        out.stdout.is_empty(),
        "tshark printed packets from an empty capture"
    );
}
