//! The analyzer on captures built here: every supported link type, pcap and pcapng with both
//! timestamp resolutions, snapped packets, broken files, and Wireshark's findings on small
//! hand-made conversations.

mod build;

use build::*;
use proptest::prelude::*;
use synack_analyze::capture::{read_capture, CaptureError, Format};
use synack_analyze::expert::Kind;
use synack_analyze::infer::{End, Side};
use synack_analyze::{analyze_bytes, Analysis};

fn analysis(bytes: &[u8]) -> Analysis {
    analyze_bytes(bytes).expect("the capture reads")
}

fn kinds(a: &Analysis) -> Vec<(u64, Kind)> {
    a.connections[0]
        .findings
        .iter()
        .map(|f| (f.frame, f.kind))
        .collect()
}

/// [`with_loss`], then the first data segment resent long after it was acknowledged.
fn with_loss_and_late_resend() -> Vec<Seg> {
    let (c, s) = (CLIENT, SERVER);
    let mut segs = with_loss();
    segs.push(seg(c, s, 1, 1, ACK).data(100).at(900_000));
    segs
}

#[test]
fn every_link_type_gives_the_same_connection() {
    let segs = conversation();
    let reference = analysis(&pcap(101, &segs, 65535));
    let conn = &reference.connections[0];
    assert_eq!(conn.client.addr, "10.0.0.1:40000");
    assert_eq!(conn.client.isn, Some(100));
    assert_eq!(conn.server.isn, Some(500));
    assert_eq!((conn.client.bytes, conn.server.bytes), (10, 20));
    assert_eq!((conn.client.segments, conn.server.segments), (5, 3));
    assert_eq!(conn.options.wscale, Some([7, 7]));
    assert!(conn.options.sack && !conn.options.timestamps);
    assert_eq!(conn.end, End::FinFin);
    assert_eq!(conn.closed_first, Some(Side::Client));
    let rtt = conn.handshake_rtt.expect("whole handshake");
    assert!((rtt.initial_rtt - 0.020).abs() < 1e-9, "{rtt:?}");
    for link in [1, 1001, 113, 276, 0] {
        let a = analysis(&pcap(link, &segs, 65535));
        assert_eq!(a.connections, reference.connections, "link {link}");
        assert_eq!(a.ignored.malformed, 0);
    }
}

#[test]
fn pcapng_timestamps_follow_if_tsresol() {
    let segs = conversation();
    let reference = analysis(&pcap(101, &segs, 65535));
    for nanosecond in [false, true] {
        let a = analysis(&pcapng(&segs, nanosecond));
        assert_eq!(a.format, Format::Pcapng);
        assert_eq!(
            a.connections, reference.connections,
            "nanosecond={nanosecond}"
        );
        assert!((a.connections[0].start - 1.0).abs() < 1e-9);
    }
}

#[test]
fn snapped_packets_count_their_full_length() {
    let mut segs = conversation();
    segs[3] = segs[3].clone().data(1000);
    let want = {
        let a = analysis(&pcap(1, &segs, 65535));
        a.connections
    };
    // 14 Ethernet + 20 IP + 32 TCP (the SYNs' options): headers kept, the payload cut.
    let a = analysis(&pcap(1, &segs, 70));
    assert_eq!(a.ignored.malformed, 0);
    assert_eq!(a.connections[0].client.bytes, 1000);
    assert_eq!(a.connections, want);
}

#[test]
fn broken_files_say_what_is_wrong() {
    assert_eq!(
        read_capture(b"hello world").unwrap_err(),
        CaptureError::NotACapture
    );
    assert_eq!(read_capture(b"").unwrap_err(), CaptureError::NotACapture);
    let mut unsupported = pcap(101, &conversation(), 65535);
    // The link type is the last word of the 24-byte pcap header (big-endian here).
    unsupported[20..24].copy_from_slice(&147u32.to_be_bytes());
    assert_eq!(
        read_capture(&unsupported).unwrap_err(),
        CaptureError::UnsupportedLinkType(vec![147])
    );
    let msg = CaptureError::UnsupportedLinkType(vec![147]).to_string();
    assert!(msg.contains("147") && msg.contains("editcap"), "{msg}");
    // A file cut in the middle of a record keeps what came before.
    let whole = pcap(101, &conversation(), 65535);
    let cut = analysis(&whole[..whole.len() - 5]);
    assert!(cut.damaged.is_some());
    assert_eq!(cut.tcp_segments, 7);
}

#[test]
fn non_ip_and_non_tcp_frames_are_counted() {
    let mut bytes = conversation();
    bytes.truncate(1);
    let mut file = pcap(1, &bytes, 65535);
    // An ARP frame (EtherType 0x0806) appended as a second record.
    let arp: Vec<u8> = [[2u8; 12].as_slice(), &[0x08, 0x06], &[0u8; 28]].concat();
    let mut record = Vec::new();
    record.extend(2u32.to_be_bytes());
    record.extend(0u32.to_be_bytes());
    record.extend((arp.len() as u32).to_be_bytes());
    record.extend((arp.len() as u32).to_be_bytes());
    record.extend(&arp);
    file.extend(record);
    let a = analysis(&file);
    assert_eq!(a.ignored.link.not_ip, 1);
    assert_eq!(a.tcp_segments, 1);
    assert_eq!(a.connections[0].end, End::HalfOpen);
}

#[test]
fn states_follow_figure_5() {
    let a = analysis(&pcap(101, &conversation(), 65535));
    let c = &a.connections[0];
    let names = |e: &synack_analyze::report::EndpointReport| -> Vec<(u64, &str, &str)> {
        e.states.iter().map(|s| (s.frame, s.from, s.to)).collect()
    };
    assert_eq!(
        names(&c.client),
        vec![
            (1, "CLOSED", "SYN_SENT"),
            (2, "SYN_SENT", "ESTABLISHED"),
            (6, "ESTABLISHED", "FIN_WAIT_1"),
            (7, "FIN_WAIT_1", "FIN_WAIT_2"),
            (7, "FIN_WAIT_2", "TIME_WAIT"),
        ]
    );
    assert_eq!(
        names(&c.server),
        vec![
            (1, "LISTEN", "SYN_RCVD"),
            (3, "SYN_RCVD", "ESTABLISHED"),
            (6, "ESTABLISHED", "CLOSE_WAIT"),
            (7, "CLOSE_WAIT", "LAST_ACK"),
            (8, "LAST_ACK", "CLOSED"),
        ]
    );
}

#[test]
fn a_new_syn_after_the_close_starts_a_new_connection() {
    let mut segs = conversation();
    segs.push(seg(CLIENT, SERVER, 9000, 0, SYN).at(70_000));
    let a = analysis(&pcap(101, &segs, 65535));
    assert_eq!(a.connections.len(), 2);
    assert_eq!(a.connections[1].client.isn, Some(9000));
    assert_eq!(a.connections[1].end, End::HalfOpen);
}

#[test]
fn a_capture_that_starts_midstream_takes_both_as_established() {
    let segs = vec![
        seg(CLIENT, SERVER, 1000, 2000, ACK).data(10),
        seg(SERVER, CLIENT, 2000, 1010, rstack()).at(100),
    ];
    let a = analysis(&pcap(101, &segs, 65535));
    let c = &a.connections[0];
    assert!(c.joined_midstream);
    assert_eq!(c.server.initial_state, "ESTABLISHED");
    assert_eq!(c.end, End::Reset(Side::Server));
    assert_eq!(c.client.final_state, "CLOSED");
    assert!(kinds(&a).contains(&(2, Kind::Rst)));
}

#[test]
fn loss_duplicate_acks_and_retransmissions() {
    let a = analysis(&pcap(101, &with_loss_and_late_resend(), 65535));
    assert_eq!(
        kinds(&a),
        vec![
            (5, Kind::PreviousSegmentNotCaptured),
            (7, Kind::DuplicateAck { count: 1 }),
            (8, Kind::DuplicateAck { count: 2 }),
            (9, Kind::FastRetransmission),
            (11, Kind::SpuriousRetransmission),
        ]
    );
}

#[test]
fn windows_keep_alives_and_unseen_acks() {
    let (c, s) = (CLIENT, SERVER);
    let segs = vec![
        seg(c, s, 0, 0, SYN).at(0),
        seg(s, c, 0, 1, synack()).at(1_000),
        seg(c, s, 1, 1, ACK).at(2_000),
        seg(c, s, 1, 1, ACK).data(1000).at(10_000),
        // The server's window closes: 1001 acknowledged, window 0.
        seg(s, c, 1, 1001, ACK).win(0).at(20_000),
        // One byte into the zero window, then its ACK.
        seg(c, s, 1001, 1, ACK).data(1).at(30_000),
        seg(s, c, 1, 1001, ACK).win(0).at(40_000),
        // A keep-alive: one byte at one below the next sequence number.
        seg(s, c, 0, 1001, ACK).win(0).at(50_000),
        // An ACK for data never seen.
        seg(s, c, 1, 5000, ACK).at(60_000),
    ];
    let a = analysis(&pcap(101, &segs, 65535));
    let k = kinds(&a);
    for want in [
        (5, Kind::ZeroWindow),
        (6, Kind::ZeroWindowProbe),
        (7, Kind::ZeroWindowProbeAck),
        (8, Kind::KeepAlive),
        (9, Kind::AckedUnseenSegment),
    ] {
        assert!(k.contains(&want), "{want:?} missing from {k:?}");
    }
}

#[test]
fn window_full() {
    let (c, s) = (CLIENT, SERVER);
    let segs = vec![
        seg(c, s, 0, 0, SYN).at(0),
        seg(s, c, 0, 1, synack()).win(100).at(1_000),
        seg(c, s, 1, 1, ACK).at(2_000),
        seg(s, c, 1, 1, ACK).win(100).at(3_000),
        seg(c, s, 1, 1, ACK).data(100).at(10_000),
    ];
    let a = analysis(&pcap(101, &segs, 65535));
    assert!(
        kinds(&a).contains(&(5, Kind::WindowFull)),
        "{:?}",
        kinds(&a)
    );
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = analyze_bytes(&bytes);
    }

    #[test]
    fn random_bytes_after_a_pcap_header_never_panic(
        tail in proptest::collection::vec(any::<u8>(), 0..600),
        link in prop::sample::select(vec![0u32, 1, 101, 108, 113, 228, 229, 276]),
    ) {
        let mut file = pcap(link, &[], 65535);
        file.extend(tail);
        let _ = analyze_bytes(&file);
    }

    #[test]
    fn corrupted_conversations_never_panic(at in 0usize..1000, value in any::<u8>()) {
        let mut file = pcap(1, &conversation(), 65535);
        let i = at % file.len();
        file[i] = value;
        let _ = analyze_bytes(&file);
    }
}
