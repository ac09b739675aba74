//! TCP header and option emission/parsing against hand-written bytes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use synack_wire::checksum;
use synack_wire::tcp::option_kind;
use synack_wire::{
    EmitError, OptionError, ParseError, SackBlocks, SeqNumber, TcpFlags, TcpOptions, TcpPacket,
    TcpRepr, Timestamps,
};

const SRC: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 168, 1, 116));
const DST: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 168, 1, 123));

fn syn(options: TcpOptions) -> TcpRepr<'static> {
    TcpRepr {
        src_port: 3337,
        dst_port: 7788,
        seq: SeqNumber(3_626_544_836),
        ack: SeqNumber(0),
        flags: TcpFlags::SYN,
        window: 65535,
        urgent_ptr: 0,
        options,
        payload: &[],
    }
}

fn emitted_options(repr: &TcpRepr) -> Vec<u8> {
    let mut buf = vec![0u8; repr.buffer_len()];
    let n = repr.emit(&mut buf, SRC, DST).expect("emit");
    assert_eq!(n, repr.buffer_len());
    buf[20..repr.header_len()].to_vec()
}

const TS: Timestamps = Timestamps { tsval: 1, tsecr: 0 };

#[test]
fn syn_with_everything_is_linux_layout() {
    let opts = TcpOptions {
        mss: Some(1460),
        window_scale: Some(7),
        sack_permitted: true,
        timestamps: Some(TS),
        sack_blocks: SackBlocks::new(),
    };
    let repr = syn(opts);
    assert_eq!(repr.header_len(), 40);
    assert_eq!(
        emitted_options(&repr),
        [
            2, 4, 0x05, 0xb4, // mss 1460
            4, 2, // sackOK
            8, 10, 0, 0, 0, 1, 0, 0, 0, 0, // TS val 1 ecr 0
            1, // nop
            3, 3, 7 // wscale 7
        ]
    );
}

#[test]
fn syn_sack_without_ts() {
    let opts = TcpOptions {
        mss: Some(1460),
        window_scale: Some(7),
        sack_permitted: true,
        ..TcpOptions::default()
    };
    assert_eq!(
        emitted_options(&syn(opts)),
        [2, 4, 0x05, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7]
    );
}

#[test]
fn syn_ts_without_sack() {
    let opts = TcpOptions {
        mss: Some(536),
        window_scale: Some(0),
        timestamps: Some(Timestamps {
            tsval: 0x01020304,
            tsecr: 0,
        }),
        ..TcpOptions::default()
    };
    assert_eq!(
        emitted_options(&syn(opts)),
        [2, 4, 0x02, 0x18, 1, 1, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0, 1, 3, 3, 0]
    );
}

#[test]
fn syn_mss_only_and_no_options() {
    let opts = TcpOptions {
        mss: Some(1460),
        ..TcpOptions::default()
    };
    assert_eq!(emitted_options(&syn(opts)), [2, 4, 0x05, 0xb4]);
    assert_eq!(syn(TcpOptions::default()).header_len(), 20);
}

#[test]
fn data_segment_ts_then_sack() {
    let mut sack = SackBlocks::new();
    assert!(sack.push(SeqNumber(100), SeqNumber(200)));
    assert!(sack.push(SeqNumber(300), SeqNumber(400)));
    let repr = TcpRepr {
        flags: TcpFlags::ACK,
        ack: SeqNumber(50),
        options: TcpOptions {
            timestamps: Some(Timestamps { tsval: 5, tsecr: 9 }),
            sack_blocks: sack,
            ..TcpOptions::default()
        },
        ..syn(TcpOptions::default())
    };
    assert_eq!(
        emitted_options(&repr),
        [
            1, 1, 8, 10, 0, 0, 0, 5, 0, 0, 0, 9, // nop nop TS
            1, 1, 5, 18, 0, 0, 0, 100, 0, 0, 0, 200, 0, 0, 1, 44, 0, 0, 1, 144
        ]
    );
}

#[test]
fn sack_without_ts_and_capacity() {
    let sack: SackBlocks = (0..4)
        .map(|i| (SeqNumber(i * 10), SeqNumber(i * 10 + 5)))
        .collect();
    let opts = TcpOptions {
        sack_blocks: sack,
        ..TcpOptions::default()
    };
    assert_eq!(opts.emitted_len(), 36);
    assert_eq!(opts.sack_block_capacity(), 4);
    let with_ts = TcpOptions {
        timestamps: Some(TS),
        ..opts
    };
    assert_eq!(with_ts.sack_block_capacity(), 3);
    let repr = TcpRepr {
        options: with_ts,
        ..syn(TcpOptions::default())
    };
    let mut buf = [0u8; 100];
    assert_eq!(
        repr.emit(&mut buf, SRC, DST),
        Err(EmitError::TooManyOptions)
    );
}

#[test]
fn sack_blocks_container() {
    let mut s = SackBlocks::new();
    assert!(s.is_empty());
    for i in 0..4 {
        assert!(s.push(SeqNumber(i), SeqNumber(i + 1)));
    }
    assert!(!s.push(SeqNumber(9), SeqNumber(10)), "fifth block refused");
    assert_eq!(s.len(), 4);
    s.truncate(2);
    assert_eq!(
        s.as_slice(),
        &[(SeqNumber(0), SeqNumber(1)), (SeqNumber(1), SeqNumber(2))]
    );
    let mut other = SackBlocks::new();
    other.push(SeqNumber(0), SeqNumber(1));
    other.push(SeqNumber(1), SeqNumber(2));
    assert_eq!(s, other, "equality ignores truncated slots");
    assert_eq!(s.iter().count(), 2);
}

#[test]
fn flags_helpers() {
    let f = TcpFlags::SYN | TcpFlags::ACK;
    assert!(f.syn() && f.ack() && !f.fin() && !f.rst() && !f.psh() && !f.urg());
    assert!(f.contains(TcpFlags::SYN));
    assert!(!f.contains(TcpFlags::SYN | TcpFlags::FIN));
    let mut g = TcpFlags::empty();
    g |= TcpFlags::FIN;
    assert_eq!(g.0, 0x01);
    assert_eq!(format!("{f}"), "S.");
    assert_eq!(format!("{f:?}"), "SYN|ACK");
    assert_eq!(format!("{}", TcpFlags::empty()), "none");
}

#[test]
fn seq_len_counts_syn_and_fin() {
    let payload = [0u8; 10];
    let mut r = syn(TcpOptions::default());
    assert_eq!(r.seq_len(), 1);
    r.flags = TcpFlags::FIN | TcpFlags::ACK;
    r.payload = &payload;
    assert_eq!(r.seq_len(), 11);
    r.flags = TcpFlags::ACK;
    assert_eq!(r.seq_len(), 10);
}

#[test]
fn emit_parse_with_payload_and_checksum() {
    let payload = b"hello, world";
    let repr = TcpRepr {
        flags: TcpFlags::PSH | TcpFlags::ACK,
        ack: SeqNumber(77),
        payload,
        options: TcpOptions {
            timestamps: Some(Timestamps { tsval: 5, tsecr: 9 }),
            ..TcpOptions::default()
        },
        ..syn(TcpOptions::default())
    };
    let mut buf = vec![0u8; 200];
    let n = repr.emit(&mut buf, SRC, DST).unwrap();
    assert_eq!(n, 32 + payload.len());
    let seg = &buf[..n];
    let sum = checksum::pseudo_header_sum(SRC, DST, 6, n as u32) + checksum::sum(seg);
    assert_eq!(checksum::fold(sum), 0xFFFF, "checksum verifies");
    assert_eq!(TcpRepr::parse(seg, SRC, DST).unwrap(), repr);
    let view = TcpPacket::new_checked(seg).unwrap();
    assert_eq!(view.src_port(), 3337);
    assert_eq!(view.dst_port(), 7788);
    assert_eq!(view.payload(), payload);
    assert_eq!(view.header_len(), 32);
    assert_eq!(view.ack_number(), SeqNumber(77));
    assert!(view.verify_checksum(SRC, DST));
}

#[test]
fn emit_in_place_matches_emit() {
    let payload: Vec<u8> = (0..=255).collect();
    let repr = TcpRepr {
        flags: TcpFlags::ACK,
        ack: SeqNumber(1),
        payload: &payload,
        options: TcpOptions {
            timestamps: Some(TS),
            ..TcpOptions::default()
        },
        ..syn(TcpOptions::default())
    };
    let v6s = IpAddr::V6(Ipv6Addr::LOCALHOST);
    let v6d = IpAddr::V6("fd00::2".parse().unwrap());
    let mut a = vec![0u8; repr.buffer_len()];
    repr.emit(&mut a, v6s, v6d).unwrap();
    let mut b = vec![0xAAu8; repr.buffer_len() + 7];
    let hl = repr.header_len();
    b[hl..hl + payload.len()].copy_from_slice(&payload);
    let header_only = TcpRepr {
        payload: &[],
        ..repr
    };
    let n = header_only
        .emit_in_place(&mut b, payload.len(), v6s, v6d)
        .unwrap();
    assert_eq!(n, a.len());
    assert_eq!(&b[..n], &a[..]);
}

#[test]
fn emit_errors() {
    let repr = syn(TcpOptions::default());
    let mut small = [0u8; 19];
    assert_eq!(
        repr.emit(&mut small, SRC, DST),
        Err(EmitError::BufferTooSmall {
            needed: 20,
            available: 19
        })
    );
    let mut buf = [0u8; 64];
    assert_eq!(
        repr.emit(&mut buf, SRC, IpAddr::V6(Ipv6Addr::LOCALHOST)),
        Err(EmitError::AddressFamilyMismatch)
    );
}

#[test]
fn ack_zeroed_without_ack_flag() {
    let repr = TcpRepr {
        ack: SeqNumber(12345),
        ..syn(TcpOptions::default())
    };
    let mut buf = [0u8; 20];
    repr.emit(&mut buf, SRC, DST).unwrap();
    assert_eq!(&buf[8..12], &[0, 0, 0, 0]);
    // A peer that leaves junk in the field: parse reports 0.
    buf[8] = 0xde;
    let parsed = TcpRepr::parse_unverified(&buf).unwrap();
    assert_eq!(parsed.ack, SeqNumber(0));
}

/// A 20-byte header plus `options`, padded to 4 bytes, checksum filled.
fn segment_with_options(options: &[u8]) -> Vec<u8> {
    let hl = 20 + options.len().div_ceil(4) * 4;
    let mut seg = vec![0u8; hl];
    seg[12] = ((hl / 4) as u8) << 4;
    seg[13] = 0x02;
    seg[20..20 + options.len()].copy_from_slice(options);
    let mut p = TcpPacket::new_unchecked(&mut seg[..]);
    p.fill_checksum(SRC, DST);
    seg
}

#[test]
fn option_parse_skips_unknown_and_stops_at_eol() {
    // unknown kind 30 len 4, nop, mss, EOL, then garbage that must be ignored
    let seg = segment_with_options(&[30, 4, 9, 9, 1, 2, 4, 1, 0, 0, 0xff, 0x00]);
    let repr = TcpRepr::parse(&seg, SRC, DST).unwrap();
    assert_eq!(repr.options.mss, Some(256));
    assert_eq!(repr.options.window_scale, None);
}

#[test]
fn option_errors() {
    let cases: &[(&[u8], usize, u8, OptionError)] = &[
        (&[2, 0, 0, 0], 20, 2, OptionError::ZeroLength),
        (&[1, 30, 1, 0], 21, 30, OptionError::LengthOne),
        (&[1, 1, 1, 8], 23, 8, OptionError::PastEnd),
        (&[1, 1, 30, 9], 22, 30, OptionError::PastEnd),
        (
            &[2, 3, 0, 0],
            20,
            2,
            OptionError::WrongLength {
                expected: 4,
                found: 3,
            },
        ),
        (
            &[3, 4, 7, 0],
            20,
            3,
            OptionError::WrongLength {
                expected: 3,
                found: 4,
            },
        ),
        (
            &[4, 3, 0, 0],
            20,
            4,
            OptionError::WrongLength {
                expected: 2,
                found: 3,
            },
        ),
        (
            &[8, 8, 0, 0, 0, 0, 0, 0],
            20,
            8,
            OptionError::WrongLength {
                expected: 10,
                found: 8,
            },
        ),
        (
            &[5, 4, 0, 0],
            20,
            5,
            OptionError::WrongLength {
                expected: 10,
                found: 4,
            },
        ),
        (
            &[5, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            20,
            5,
            OptionError::WrongLength {
                expected: 10,
                found: 12,
            },
        ),
    ];
    for (opts, offset, kind, reason) in cases {
        let seg = segment_with_options(opts);
        let err = TcpRepr::parse(&seg, SRC, DST).unwrap_err();
        assert_eq!(
            err,
            ParseError::BadOption {
                offset: *offset,
                kind: *kind,
                reason: *reason
            },
            "options {opts:?}"
        );
        assert_eq!(err.reason(), "tcp_bad_option");
    }
}

#[test]
fn option_kind_constants() {
    assert_eq!(option_kind::MSS, 2);
    assert_eq!(option_kind::TIMESTAMPS, 8);
}

#[test]
fn setters_round_trip_through_view() {
    let mut buf = [0u8; 24];
    let mut p = TcpPacket::new_unchecked(&mut buf[..]);
    p.set_src_port(1);
    p.set_dst_port(2);
    p.set_seq_number(SeqNumber(3));
    p.set_ack_number(SeqNumber(4));
    p.set_header_len(24);
    p.set_flags(TcpFlags::RST | TcpFlags::ACK);
    p.set_window_len(5);
    p.set_urgent_at(6);
    p.options_mut().copy_from_slice(&[1, 1, 1, 0]);
    p.fill_checksum(SRC, DST);
    let v = TcpPacket::new_checked(&buf[..]).unwrap();
    assert_eq!(
        (
            v.src_port(),
            v.dst_port(),
            v.seq_number(),
            v.ack_number(),
            v.header_len(),
            v.flags(),
            v.window_len(),
            v.urgent_at()
        ),
        (
            1,
            2,
            SeqNumber(3),
            SeqNumber(4),
            24,
            TcpFlags::RST | TcpFlags::ACK,
            5,
            6
        )
    );
    assert_eq!(v.options(), &[1, 1, 1, 0]);
    assert!(v.verify_checksum(SRC, DST));
}
