//! ICMP and ICMPv6 input: echo replies, and errors matched to connections (RFC 792, RFC 4443,
//! RFC 5927 for validation, RFC 1191 / RFC 8201 for path MTU).

use crate::error::ConnectionError;
use crate::state::State;
use crate::tcb::{Cx, Tcb};
use std::net::{IpAddr, SocketAddr};
use synack_wire::icmpv4::Icmpv4Repr;
use synack_wire::icmpv6::Icmpv6Repr;
use synack_wire::ip::{emit_ip_header, ip_header_len, protocol, IpPacket};
use synack_wire::SeqNumber;

/// What an ICMP message means to us.
pub(crate) enum Incoming {
    /// An echo request: the complete reply packet.
    EchoRequest(Vec<u8>),
    /// An error about one of our TCP segments.
    Error(IcmpError),
    /// Anything else (echo replies, errors about other protocols, unknown types).
    Ignored,
}

/// An ICMP error about a TCP segment we sent.
#[derive(Clone, Copy, Debug)]
pub(crate) struct IcmpError {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    /// The sequence number of the segment that caused it.
    pub seq: SeqNumber,
    pub kind: IcmpErrorKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IcmpErrorKind {
    /// Port or protocol unreachable: nobody there.
    Refused,
    /// Net, host or administratively unreachable.
    Unreachable,
    /// Fragmentation needed / packet too big, with the next-hop MTU.
    PacketTooBig(u32),
}

pub(crate) fn classify(ip: &IpPacket) -> Result<Incoming, &'static str> {
    let (src, dst) = (ip.header.src, ip.header.dst);
    if ip.header.protocol == protocol::ICMP {
        let repr = Icmpv4Repr::parse(ip.payload).map_err(|e| e.reason())?;
        return Ok(match repr {
            Icmpv4Repr::EchoRequest { ident, seq, data } => {
                let reply = Icmpv4Repr::EchoReply { ident, seq, data };
                Incoming::EchoRequest(build(dst, src, protocol::ICMP, reply.buffer_len(), |b| {
                    reply.emit(b).is_ok()
                })?)
            }
            // RFC 792: codes 2 (protocol) and 3 (port) mean nobody is there; 4 is frag needed.
            Icmpv4Repr::DestUnreachable {
                code,
                next_hop_mtu,
                original,
            } => {
                let kind = match code {
                    2 | 3 => IcmpErrorKind::Refused,
                    4 => IcmpErrorKind::PacketTooBig(u32::from(next_hop_mtu)),
                    _ => IcmpErrorKind::Unreachable,
                };
                quoted(original, kind)?
            }
            _ => Incoming::Ignored,
        });
    }
    let repr = Icmpv6Repr::parse(ip.payload, src, dst).map_err(|e| e.reason())?;
    Ok(match repr {
        Icmpv6Repr::EchoRequest { ident, seq, data } => {
            let reply = Icmpv6Repr::EchoReply { ident, seq, data };
            Incoming::EchoRequest(build(
                dst,
                src,
                protocol::ICMPV6,
                reply.buffer_len(),
                |b| reply.emit(b, dst, src).is_ok(),
            )?)
        }
        // RFC 4443 §3.1: code 4 is port unreachable.
        Icmpv6Repr::DestUnreachable { code, original } => {
            let kind = if code == 4 {
                IcmpErrorKind::Refused
            } else {
                IcmpErrorKind::Unreachable
            };
            quoted(original, kind)?
        }
        Icmpv6Repr::PacketTooBig { mtu, original } => {
            quoted(original, IcmpErrorKind::PacketTooBig(mtu))?
        }
        _ => Incoming::Ignored,
    })
}

fn build(
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    body_len: usize,
    emit_body: impl FnOnce(&mut [u8]) -> bool,
) -> Result<Vec<u8>, &'static str> {
    let h = ip_header_len(src);
    let mut packet = vec![0u8; h + body_len];
    if !emit_body(&mut packet[h..]) {
        return Err("icmp_emit_failed");
    }
    emit_ip_header(&mut packet[..h], src, dst, proto, body_len, 64, 0)
        .map_err(|_| "icmp_emit_failed")?;
    Ok(packet)
}

/// An ICMP error whose quote names a TCP segment; a quote too short or not IPv4/IPv6 is garbage
/// (RFC 5927 §4.1: the quote is what validates an error), and errors about other protocols are
/// not ours.
fn quoted(original: &[u8], kind: IcmpErrorKind) -> Result<Incoming, &'static str> {
    let proto = match original.first().map(|b| b >> 4) {
        Some(4) => original.get(9),
        Some(6) => original.get(6),
        _ => None,
    };
    match (proto, quoted_tcp(original, kind)) {
        (_, Some(err)) => Ok(Incoming::Error(err)),
        (Some(&p), None) if p != protocol::TCP => Ok(Incoming::Ignored),
        _ => Err("icmp_bad_quote"),
    }
}

/// The quoted datagram of an ICMP error: our IP header and at least the first 8 bytes of our TCP
/// header (ports and sequence number). It is truncated by design, so it is read field by field.
fn quoted_tcp(original: &[u8], kind: IcmpErrorKind) -> Option<IcmpError> {
    let version = original.first()? >> 4;
    let (src, dst, proto, tcp) = match version {
        4 => {
            let ihl = usize::from(original.first()? & 0x0f) * 4;
            let src: [u8; 4] = original.get(12..16)?.try_into().ok()?;
            let dst: [u8; 4] = original.get(16..20)?.try_into().ok()?;
            (
                IpAddr::from(src),
                IpAddr::from(dst),
                *original.get(9)?,
                original.get(ihl.max(20)..)?,
            )
        }
        6 => {
            let src: [u8; 16] = original.get(8..24)?.try_into().ok()?;
            let dst: [u8; 16] = original.get(24..40)?.try_into().ok()?;
            (
                IpAddr::from(src),
                IpAddr::from(dst),
                *original.get(6)?,
                original.get(40..)?,
            )
        }
        _ => return None,
    };
    if proto != protocol::TCP {
        return None;
    }
    let sport = u16::from_be_bytes(tcp.get(0..2)?.try_into().ok()?);
    let dport = u16::from_be_bytes(tcp.get(2..4)?.try_into().ok()?);
    let seq = u32::from_be_bytes(tcp.get(4..8)?.try_into().ok()?);
    Some(IcmpError {
        local: SocketAddr::new(src, sport),
        remote: SocketAddr::new(dst, dport),
        seq: SeqNumber(seq),
        kind,
    })
}

impl Tcb {
    /// An ICMP error about one of our segments.
    pub(crate) fn on_icmp_error(&mut self, cx: &mut Cx, err: &IcmpError) {
        // RFC 5927 §4.1: believe it only if it quotes a sequence number we have in flight.
        if !(err.seq >= self.snd_una_for_icmp() && err.seq < self.snd_max_for_icmp()) {
            return;
        }
        match err.kind {
            IcmpErrorKind::PacketTooBig(mtu) => self.on_path_mtu(mtu),
            // RFC 1122 §4.2.3.9 treats these as soft errors on an open connection; while
            // connecting, Linux fails the connect at once, and so do we.
            IcmpErrorKind::Refused if self.state == State::SynSent => {
                self.close_with(cx, Some(ConnectionError::Refused))
            }
            IcmpErrorKind::Unreachable if self.state == State::SynSent => {
                self.close_with(cx, Some(ConnectionError::Unreachable))
            }
            _ => {}
        }
    }
}
