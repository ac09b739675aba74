//! Test helpers: segments built with synack-wire's emitters, wrapped in link layers and
//! written as pcap or pcapng with pcap-file.
#![allow(dead_code)]

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::{Block, PcapNgWriter};
use pcap_file::DataLink;
use synack_wire::ip::{emit_ip_header, ip_header_len, protocol};
use synack_wire::{SeqNumber, TcpFlags, TcpOptions, TcpRepr};

pub const CLIENT: (IpAddr, u16) = (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 40000);
pub const SERVER: (IpAddr, u16) = (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), 80);

/// One segment to build.
#[derive(Clone, Debug)]
pub struct Seg {
    pub from: (IpAddr, u16),
    pub to: (IpAddr, u16),
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
    pub options: TcpOptions,
    pub payload: Vec<u8>,
    /// Microseconds since the start.
    pub at_us: u64,
}

pub fn seg(from: (IpAddr, u16), to: (IpAddr, u16), seq: u32, ack: u32, flags: TcpFlags) -> Seg {
    Seg {
        from,
        to,
        seq,
        ack,
        flags,
        window: 1000,
        options: TcpOptions::default(),
        payload: Vec::new(),
        at_us: 0,
    }
}

impl Seg {
    pub fn data(mut self, len: usize) -> Seg {
        self.payload = vec![0x61; len];
        self
    }
    pub fn win(mut self, window: u16) -> Seg {
        self.window = window;
        self
    }
    pub fn at(mut self, us: u64) -> Seg {
        self.at_us = us;
        self
    }
    pub fn opts(mut self, options: TcpOptions) -> Seg {
        self.options = options;
        self
    }

    /// The IP packet.
    pub fn ip(&self) -> Vec<u8> {
        let repr = TcpRepr {
            src_port: self.from.1,
            dst_port: self.to.1,
            seq: SeqNumber(self.seq),
            ack: SeqNumber(self.ack),
            flags: self.flags,
            window: self.window,
            urgent_ptr: 0,
            options: self.options,
            payload: &self.payload,
        };
        let ip_len = ip_header_len(self.from.0);
        let mut buf = vec![0u8; ip_len + repr.buffer_len()];
        let tcp_len = repr
            .emit(&mut buf[ip_len..], self.from.0, self.to.0)
            .expect("emit tcp");
        emit_ip_header(
            &mut buf,
            self.from.0,
            self.to.0,
            protocol::TCP,
            tcp_len,
            64,
            1,
        )
        .expect("emit ip");
        buf
    }
}

pub const SYN: TcpFlags = TcpFlags::SYN;
pub fn synack() -> TcpFlags {
    TcpFlags(TcpFlags::SYN.0 | TcpFlags::ACK.0)
}
pub const ACK: TcpFlags = TcpFlags::ACK;
pub fn finack() -> TcpFlags {
    TcpFlags(TcpFlags::FIN.0 | TcpFlags::ACK.0)
}
pub fn rstack() -> TcpFlags {
    TcpFlags(TcpFlags::RST.0 | TcpFlags::ACK.0)
}

/// Wraps an IP packet in a link layer.
pub fn wrap(link: u32, ip: &[u8]) -> Vec<u8> {
    let v6 = ip.first().is_some_and(|b| b >> 4 == 6);
    let ethertype: [u8; 2] = if v6 { [0x86, 0xDD] } else { [0x08, 0x00] };
    let mut out = Vec::new();
    match link {
        1 => {
            out.extend([2u8; 12]);
            out.extend(ethertype);
        }
        // Ethernet with an 802.1Q tag; written as link type 1.
        1001 => {
            out.extend([2u8; 12]);
            out.extend([0x81, 0x00, 0x00, 0x07]);
            out.extend(ethertype);
        }
        113 => {
            out.extend([0u8; 14]);
            out.extend(ethertype);
        }
        276 => {
            out.extend(ethertype);
            out.extend([0u8; 18]);
        }
        0 => out.extend(2u32.to_le_bytes()),
        _ => {}
    }
    out.extend_from_slice(ip);
    out
}

/// A pcap file of `segs` on `link`, each packet cut to `snaplen` bytes.
pub fn pcap(link: u32, segs: &[Seg], snaplen: usize) -> Vec<u8> {
    let header = PcapHeader {
        datalink: DataLink::from(if link == 1001 { 1 } else { link }),
        snaplen: 65535,
        ..PcapHeader::default()
    };
    let mut w = PcapWriter::with_header(Vec::new(), header).expect("pcap header");
    for s in segs {
        let frame = wrap(link, &s.ip());
        let kept = &frame[..frame.len().min(snaplen)];
        w.write_packet(&PcapPacket::new(
            Duration::from_micros(1_000_000 + s.at_us),
            frame.len() as u32,
            kept,
        ))
        .expect("pcap packet");
    }
    w.into_writer()
}

/// A pcapng file of raw IP packets; with `nanosecond` the interface says if_tsresol=9,
/// otherwise it keeps the default microseconds.
pub fn pcapng(segs: &[Seg], nanosecond: bool) -> Vec<u8> {
    let mut w = PcapNgWriter::new(Vec::new()).expect("pcapng");
    let mut idb = InterfaceDescriptionBlock::new(DataLink::RAW, 65535);
    if nanosecond {
        idb.options.push(InterfaceDescriptionOption::IfTsResol(9));
    }
    w.write_block(&Block::InterfaceDescription(idb))
        .expect("idb");
    for s in segs {
        let ip = s.ip();
        let micros = 1_000_000 + s.at_us;
        // pcap-file writes the Duration's nanoseconds as the raw count of units.
        let raw = if nanosecond { micros * 1000 } else { micros };
        let epb = EnhancedPacketBlock {
            interface_id: 0,
            timestamp: Duration::from_nanos(raw),
            original_len: ip.len() as u32,
            data: Cow::Owned(ip),
            options: Vec::new(),
        };
        w.write_block(&Block::EnhancedPacket(epb)).expect("epb");
    }
    w.into_inner()
}

/// A handshake with options, then `data` bytes each way and a FIN/FIN close.
pub fn conversation() -> Vec<Seg> {
    let opts = TcpOptions {
        mss: Some(1460),
        window_scale: Some(7),
        sack_permitted: true,
        ..TcpOptions::default()
    };
    let (c, s) = (CLIENT, SERVER);
    vec![
        seg(c, s, 100, 0, SYN).opts(opts).at(0),
        seg(s, c, 500, 101, synack()).opts(opts).at(10_000),
        seg(c, s, 101, 501, ACK).at(20_000),
        seg(c, s, 101, 501, ACK).data(10).at(20_100),
        seg(s, c, 501, 111, ACK).data(20).at(30_000),
        seg(c, s, 111, 521, finack()).at(40_000),
        seg(s, c, 521, 112, finack()).at(50_000),
        seg(c, s, 112, 522, ACK).at(60_000),
    ]
}

/// Handshake, then data from the client with the second segment lost before the tap.
pub fn with_loss() -> Vec<Seg> {
    let (c, s) = (CLIENT, SERVER);
    vec![
        seg(c, s, 0, 0, SYN).at(0),
        seg(s, c, 0, 1, synack()).at(1_000),
        seg(c, s, 1, 1, ACK).at(2_000),
        seg(c, s, 1, 1, ACK).data(100).at(100_000),
        // 101..201 not captured.
        seg(c, s, 201, 1, ACK).data(100).at(100_100),
        seg(s, c, 1, 101, ACK).at(101_000),
        seg(s, c, 1, 101, ACK).at(101_100),
        seg(s, c, 1, 101, ACK).at(101_200),
        seg(c, s, 101, 1, ACK).data(100).at(101_300),
        seg(s, c, 1, 301, ACK).at(102_000),
    ]
}
