//! Turns a frame's IP bytes into the TCP facts the analysis needs, with synack-wire's parsers.
//! A packet cut short by the snap length still counts at its full length: the IP length
//! field, not the captured bytes, says how much sequence space it used.

use std::net::{IpAddr, SocketAddr};

use synack_wire::ip::protocol;
use synack_wire::ipv4::Ipv4Packet;
use synack_wire::ipv6::{self, Ipv6Packet};
use synack_wire::tcp::{TcpFlags, TcpOptions, TcpPacket};

/// The TCP header facts of one segment.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Segment {
    /// Sender.
    pub src: SocketAddr,
    /// Receiver.
    pub dst: SocketAddr,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number (0 without ACK).
    pub ack: u32,
    /// Control bits.
    pub flags: TcpFlags,
    /// Window field, unscaled.
    pub window: u16,
    /// Options (empty when they were cut off or malformed).
    pub options: TcpOptions,
    /// Payload length as sent (from the IP length field).
    pub payload_len: u32,
}

impl Segment {
    /// RFC 9293 §3.4 SEG.LEN: payload plus one each for SYN and FIN.
    pub fn seq_len(&self) -> u32 {
        self.payload_len + u32::from(self.flags.syn()) + u32::from(self.flags.fin())
    }
}

/// Why a frame is not a TCP segment the analysis can use.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum NotTcp {
    /// Another protocol (UDP, ICMP, ...).
    OtherProtocol,
    /// An IP fragment (no reassembly here).
    Fragment,
    /// The IP or TCP header is broken or cut off.
    Malformed,
}

/// Decodes the TCP segment in an IP packet.
pub fn decode(ip: &[u8]) -> Result<Segment, NotTcp> {
    let (src, dst, claimed_upper_len, upper) = match ip.first().map(|b| b >> 4) {
        Some(4) => ipv4_upper(ip)?,
        Some(6) => ipv6_upper(ip)?,
        _ => return Err(NotTcp::Malformed),
    };
    let tcp = TcpPacket::new_checked(upper).map_err(|_| NotTcp::Malformed)?;
    let flags = tcp.flags();
    let header_len = tcp.header_len();
    Ok(Segment {
        src: SocketAddr::new(src, tcp.src_port()),
        dst: SocketAddr::new(dst, tcp.dst_port()),
        seq: tcp.seq_number().0,
        // RFC 9293 §3.1: the acknowledgment field means something only with ACK.
        ack: if flags.ack() { tcp.ack_number().0 } else { 0 },
        flags,
        window: tcp.window_len(),
        options: TcpOptions::parse(tcp.options()).unwrap_or_default(),
        payload_len: claimed_upper_len.saturating_sub(header_len) as u32,
    })
}

/// A copy of `ip` with its length field lowered to what was captured, so that the wire
/// parsers (which refuse packets longer than their buffer) accept a snapped packet.
fn with_length_field(ip: &[u8], at: usize, value: usize) -> Vec<u8> {
    let mut copy = ip.to_vec();
    if let Some(field) = copy.get_mut(at..at + 2) {
        field.copy_from_slice(&(value.min(usize::from(u16::MAX)) as u16).to_be_bytes());
    }
    copy
}

type Upper<'a> = (IpAddr, IpAddr, usize, &'a [u8]);

fn ipv4_upper(ip: &[u8]) -> Result<Upper<'_>, NotTcp> {
    // RFC 791 §3.1: Total Length at bytes 2..4.
    let claimed = be16(ip, 2).ok_or(NotTcp::Malformed)?;
    let view_bytes = if claimed > ip.len() {
        with_length_field(ip, 2, ip.len())
    } else {
        ip.get(..claimed).unwrap_or(ip).to_vec()
    };
    let view = Ipv4Packet::new_checked(&view_bytes[..]).map_err(|_| NotTcp::Malformed)?;
    if view.protocol() != protocol::TCP {
        return Err(NotTcp::OtherProtocol);
    }
    // RFC 791 §3.2: MF or a fragment offset marks a fragment.
    if view.more_frags() || view.frag_offset() != 0 {
        return Err(NotTcp::Fragment);
    }
    let header_len = view.header_len();
    let upper = ip
        .get(header_len..ip.len().min(claimed))
        .ok_or(NotTcp::Malformed)?;
    Ok((
        view.src_addr().into(),
        view.dst_addr().into(),
        claimed.saturating_sub(header_len),
        upper,
    ))
}

fn ipv6_upper(ip: &[u8]) -> Result<Upper<'_>, NotTcp> {
    // RFC 8200 §3: Payload Length at bytes 4..6 counts everything after the 40-byte header.
    let claimed = be16(ip, 4).ok_or(NotTcp::Malformed)?;
    let available = ip.len().saturating_sub(ipv6::HEADER_LEN);
    let view_bytes = if claimed > available {
        with_length_field(ip, 4, available)
    } else {
        ip.to_vec()
    };
    let view = Ipv6Packet::new_checked(&view_bytes[..]).map_err(|_| NotTcp::Malformed)?;
    let payload = ip
        .get(ipv6::HEADER_LEN..ipv6::HEADER_LEN + claimed.min(available))
        .ok_or(NotTcp::Malformed)?;
    let (next, upper) =
        ipv6::skip_extension_headers(view.next_header(), payload).map_err(|e| match e {
            synack_wire::ParseError::Fragment => NotTcp::Fragment,
            _ => NotTcp::Malformed,
        })?;
    if next != protocol::TCP {
        return Err(NotTcp::OtherProtocol);
    }
    let ext_len = payload.len() - upper.len();
    Ok((
        view.src_addr().into(),
        view.dst_addr().into(),
        claimed.saturating_sub(ext_len),
        upper,
    ))
}

fn be16(data: &[u8], at: usize) -> Option<usize> {
    match data.get(at..at + 2)? {
        &[hi, lo] => Some(usize::from(u16::from_be_bytes([hi, lo]))),
        _ => None,
    }
}
