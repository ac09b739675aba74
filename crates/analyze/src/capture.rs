//! Reads a pcap or pcapng file into numbered frames holding IP packets, whatever link layer
//! carried them.

use std::fmt;
use std::time::Duration;

use pcap_file::pcap::PcapReader;
use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption;
use pcap_file::pcapng::{Block, PcapNgReader};

/// Link types (tcpdump.org "LINKTYPE_" values) this reader unwraps.
pub mod link_type {
    /// BSD loopback: a 4-byte address family in host byte order.
    pub const NULL: u32 = 0;
    /// Ethernet II, with or without 802.1Q / 802.1ad tags.
    pub const ETHERNET: u32 = 1;
    /// Raw IP, no link header (LINKTYPE_RAW).
    pub const RAW: u32 = 101;
    /// OpenBSD loopback: a 4-byte address family in network byte order.
    pub const LOOP: u32 = 108;
    /// Linux cooked capture v1: a 16-byte pseudo header.
    pub const LINUX_SLL: u32 = 113;
    /// Raw IPv4.
    pub const IPV4: u32 = 228;
    /// Raw IPv6.
    pub const IPV6: u32 = 229;
    /// Linux cooked capture v2: a 20-byte pseudo header.
    pub const LINUX_SLL2: u32 = 276;

    /// Whether [`super::ip_payload`] knows this link type.
    pub fn is_supported(link: u32) -> bool {
        matches!(
            link,
            NULL | ETHERNET | RAW | LOOP | LINUX_SLL | IPV4 | IPV6 | LINUX_SLL2
        )
    }
}

/// EtherTypes (IEEE 802 numbers) the link decoders look for.
mod ethertype {
    pub const IPV4: u16 = 0x0800;
    pub const IPV6: u16 = 0x86DD;
    pub const VLAN: u16 = 0x8100;
    pub const QINQ: u16 = 0x88A8;
}

/// Which file format the capture was in.
#[derive(Clone, Copy, PartialEq, Eq, Debug, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Classic libpcap.
    Pcap,
    /// pcapng.
    Pcapng,
}

/// One captured packet that carries IP.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Frame {
    /// Frame number as Wireshark counts it: every packet record from 1, skipped ones included.
    pub number: u64,
    /// Capture time since the Unix epoch.
    pub time: Duration,
    /// The IP packet as captured (possibly cut short by the snap length).
    pub ip: Vec<u8>,
}

/// Packets that were read but carry nothing this analyzer uses.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, serde::Serialize)]
pub struct Skipped {
    /// On an interface whose link type is not supported.
    pub unsupported_link: u64,
    /// Supported link type, but the payload is not IPv4 or IPv6 (ARP, LLDP, ...).
    pub not_ip: u64,
}

/// A whole capture, read.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Capture {
    /// File format.
    pub format: Format,
    /// Link types of the interfaces, in order of appearance.
    pub link_types: Vec<u32>,
    /// The IP-carrying frames.
    pub frames: Vec<Frame>,
    /// Packet records counted but not kept.
    pub skipped: Skipped,
    /// Why reading stopped before the end of the file, if it did (a cut-off last record).
    pub damaged: Option<String>,
}

/// Why a file could not be read as a capture at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaptureError {
    /// The file does not start with a pcap or pcapng magic number.
    NotACapture,
    /// The magic number is right but the file header is broken.
    BadHeader(String),
    /// Every packet is on link types this reader does not know.
    UnsupportedLinkType(Vec<u32>),
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaptureError::NotACapture => write!(
                f,
                "not a pcap or pcapng file (no pcap/pcapng magic number); write one with \
                 `tcpdump -w FILE`, `tshark -w FILE` or `synack demo --pcap FILE`"
            ),
            CaptureError::BadHeader(why) => write!(
                f,
                "the capture's file header is damaged ({why}); try `editcap` or re-capture"
            ),
            CaptureError::UnsupportedLinkType(links) => write!(
                f,
                "unsupported link type {links:?}: synack analyze reads Ethernet (1), raw IP \
                 (101, 228, 229), Linux cooked (113, 276) and loopback (0, 108); convert with \
                 `editcap -T ether` or capture on another interface"
            ),
        }
    }
}

impl std::error::Error for CaptureError {}

const PCAP_MAGICS: [[u8; 4]; 4] = [
    [0xD4, 0xC3, 0xB2, 0xA1],
    [0xA1, 0xB2, 0xC3, 0xD4],
    [0x4D, 0x3C, 0xB2, 0xA1],
    [0xA1, 0xB2, 0x3C, 0x4D],
];
const PCAPNG_MAGIC: [u8; 4] = [0x0A, 0x0D, 0x0D, 0x0A];

/// Reads a capture from its bytes.
pub fn read_capture(bytes: &[u8]) -> Result<Capture, CaptureError> {
    let magic: [u8; 4] = bytes
        .get(..4)
        .and_then(|m| m.try_into().ok())
        .ok_or(CaptureError::NotACapture)?;
    let capture = if PCAP_MAGICS.contains(&magic) {
        read_pcap(bytes)?
    } else if magic == PCAPNG_MAGIC {
        read_pcapng(bytes)?
    } else {
        return Err(CaptureError::NotACapture);
    };
    if capture.frames.is_empty() && capture.skipped.unsupported_link > 0 {
        return Err(CaptureError::UnsupportedLinkType(capture.link_types));
    }
    Ok(capture)
}

struct Builder {
    capture: Capture,
    number: u64,
}

impl Builder {
    fn new(format: Format) -> Builder {
        Builder {
            capture: Capture {
                format,
                link_types: Vec::new(),
                frames: Vec::new(),
                skipped: Skipped::default(),
                damaged: None,
            },
            number: 0,
        }
    }

    fn push(&mut self, link: Option<u32>, time: Duration, data: &[u8]) {
        self.number += 1;
        let Some(link) = link.filter(|&l| link_type::is_supported(l)) else {
            self.capture.skipped.unsupported_link += 1;
            return;
        };
        match ip_payload(link, data) {
            Some(ip) => self.capture.frames.push(Frame {
                number: self.number,
                time,
                ip: ip.to_vec(),
            }),
            None => self.capture.skipped.not_ip += 1,
        }
    }
}

fn read_pcap(bytes: &[u8]) -> Result<Capture, CaptureError> {
    let mut reader = PcapReader::new(bytes).map_err(|e| CaptureError::BadHeader(e.to_string()))?;
    let link = u32::from(reader.header().datalink);
    if !link_type::is_supported(link) {
        return Err(CaptureError::UnsupportedLinkType(vec![link]));
    }
    let mut builder = Builder::new(Format::Pcap);
    builder.capture.link_types.push(link);
    while let Some(packet) = reader.next_packet() {
        match packet {
            Ok(packet) => builder.push(Some(link), packet.timestamp, &packet.data),
            Err(e) => {
                builder.capture.damaged = Some(e.to_string());
                break;
            }
        }
    }
    Ok(builder.capture)
}

/// An interface of a pcapng section: its link type and the length of one timestamp unit.
struct Interface {
    link: u32,
    /// pcapng §4.2 if_tsresol: units are 10^-n s (or 2^-n with the top bit); 10^-6 by default.
    unit: Resolution,
}

#[derive(Clone, Copy)]
enum Resolution {
    PowerOfTen(u32),
    PowerOfTwo(u32),
}

impl Resolution {
    fn from_option(value: u8) -> Resolution {
        if value & 0x80 == 0 {
            Resolution::PowerOfTen(u32::from(value))
        } else {
            Resolution::PowerOfTwo(u32::from(value & 0x7F))
        }
    }

    /// Converts a count of units to a duration, saturating on absurd values.
    fn duration(self, units: u64) -> Duration {
        match self {
            Resolution::PowerOfTen(n) => match 10u64.checked_pow(n) {
                Some(per_sec) if per_sec > 0 => {
                    let secs = units / per_sec;
                    let rem = u128::from(units % per_sec);
                    Duration::new(secs, (rem * 1_000_000_000 / u128::from(per_sec)) as u32)
                }
                _ => Duration::ZERO,
            },
            Resolution::PowerOfTwo(n) => {
                let secs = units.checked_shr(n).unwrap_or(0);
                let mask = 1u64.checked_shl(n).map_or(u64::MAX, |v| v - 1);
                let frac = u128::from(units & mask) * 1_000_000_000;
                Duration::new(secs, frac.checked_shr(n).unwrap_or(0) as u32)
            }
        }
    }
}

fn read_pcapng(bytes: &[u8]) -> Result<Capture, CaptureError> {
    let mut reader =
        PcapNgReader::new(bytes).map_err(|e| CaptureError::BadHeader(e.to_string()))?;
    let mut builder = Builder::new(Format::Pcapng);
    let mut interfaces: Vec<Interface> = Vec::new();
    while let Some(block) = reader.next_block() {
        let block = match block {
            Ok(block) => block,
            Err(e) => {
                builder.capture.damaged = Some(e.to_string());
                break;
            }
        };
        match block {
            // pcapng §4.1: interface ids are per section.
            Block::SectionHeader(_) => interfaces.clear(),
            Block::InterfaceDescription(idb) => {
                let link = u32::from(idb.linktype);
                let unit = idb
                    .options
                    .iter()
                    .find_map(|o| match o {
                        InterfaceDescriptionOption::IfTsResol(v) => {
                            Some(Resolution::from_option(*v))
                        }
                        _ => None,
                    })
                    .unwrap_or(Resolution::PowerOfTen(6));
                builder.capture.link_types.push(link);
                interfaces.push(Interface { link, unit });
            }
            Block::EnhancedPacket(epb) => {
                let iface = usize::try_from(epb.interface_id)
                    .ok()
                    .and_then(|i| interfaces.get(i));
                // pcap-file hands the raw timestamp over as nanoseconds; rescale by if_tsresol.
                let units = u64::try_from(epb.timestamp.as_nanos()).unwrap_or(u64::MAX);
                let time = iface.map_or(Duration::ZERO, |i| i.unit.duration(units));
                builder.push(iface.map(|i| i.link), time, &epb.data);
            }
            Block::SimplePacket(spb) => {
                // pcapng §4.4: a simple packet belongs to interface 0 and has no timestamp.
                let link = interfaces.first().map(|i| i.link);
                builder.push(link, Duration::ZERO, &spb.data);
            }
            Block::Packet(pb) => {
                let iface = interfaces.get(usize::from(pb.interface_id));
                let time = iface.map_or(Duration::ZERO, |i| i.unit.duration(pb.timestamp));
                builder.push(iface.map(|i| i.link), time, &pb.data);
            }
            _ => {}
        }
    }
    Ok(builder.capture)
}

/// The IP packet inside a link-layer frame, or `None` when it holds something else.
pub fn ip_payload(link: u32, data: &[u8]) -> Option<&[u8]> {
    let ip = match link {
        link_type::RAW | link_type::IPV4 | link_type::IPV6 => data,
        // The family word differs between BSDs (AF_INET6 is 24, 28 or 30); the IP version
        // nibble below decides instead.
        link_type::NULL | link_type::LOOP => data.get(4..)?,
        link_type::ETHERNET => ethernet_payload(data)?,
        // Linux cooked v1: protocol type at bytes 14..16 of a 16-byte header.
        link_type::LINUX_SLL => ethertype_payload(be16(data, 14)?, data.get(16..)?)?,
        // Linux cooked v2: protocol type at bytes 0..2 of a 20-byte header.
        link_type::LINUX_SLL2 => ethertype_payload(be16(data, 0)?, data.get(20..)?)?,
        _ => return None,
    };
    match ip.first()? >> 4 {
        4 | 6 => Some(ip),
        _ => None,
    }
}

fn be16(data: &[u8], at: usize) -> Option<u16> {
    let bytes = data.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([*bytes.first()?, *bytes.get(1)?]))
}

fn ethertype_payload(ethertype: u16, rest: &[u8]) -> Option<&[u8]> {
    matches!(ethertype, ethertype::IPV4 | ethertype::IPV6).then_some(rest)
}

/// Ethernet II: 12 bytes of addresses, then EtherType, with up to two VLAN tags (IEEE 802.1Q,
/// 802.1ad) of 4 bytes each in between.
fn ethernet_payload(data: &[u8]) -> Option<&[u8]> {
    let mut at = 12;
    for _ in 0..3 {
        let ethertype = be16(data, at)?;
        if matches!(ethertype, ethertype::VLAN | ethertype::QINQ) {
            at += 4;
            continue;
        }
        return ethertype_payload(ethertype, data.get(at + 2..)?);
    }
    None
}
