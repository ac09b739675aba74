//! IPv4 and IPv6 layers of the tcpdump rendering, and the demultiplexer
//! that hands the payload to TCP, UDP or ICMP.

use super::{has, ipv4_at, ipv6_at, u16_at, u32_at, u8_at, Out, Res, Trunc};
use crate::ip::protocol;
use crate::ipv6::next_header as nh;

/// SCTP and DCCP: tcpdump prints the addresses with ports for these, as
/// for TCP and UDP, so it does not print them up front.
const SCTP: u8 = 132;
const DCCP: u8 = 33;

/// IGMP (RFC 3376), valid only over IPv4.
const IGMP: u8 = 2;
/// Ethernet-in-IPv6 (RFC 8986), valid only over IPv6.
const ETHERNET: u8 = 143;
/// The historical "ND" protocol number tcpdump names.
const ND: u8 = 77;

fn carries_ports(next: u8) -> bool {
    matches!(next, protocol::TCP | protocol::UDP | SCTP | DCCP)
}

/// Where the transport printers get the addresses from.
pub(crate) struct IpCtx {
    /// Source address, as text.
    pub src: String,
    /// Destination address, as text.
    pub dst: String,
    /// The protocol field of the fixed header (IPv4 protocol or the IPv6
    /// header's Next Header, before extension headers): tcpdump prints
    /// `addr.port` only when it names the transport directly.
    pub fixed_next: u8,
    /// 4 or 6.
    pub version: u8,
    /// IPv4 MF set or an IPv6 Fragment header seen: tcpdump then trusts
    /// no length cross-check.
    pub fragmented: bool,
}

/// The raw-IP entry point: dispatch on the version nibble.
pub(crate) fn print_any(out: &mut Out, packet: &[u8]) -> Res {
    out.protocol("ipn");
    let Some(&first) = packet.first() else {
        out.put(format_args!("truncated-ip {}", packet.len()));
        return Ok(());
    };
    match first >> 4 {
        4 => print_v4(out, packet),
        6 => print_v6(out, packet),
        v => {
            out.put(format_args!("unknown ip {v}"));
            Ok(())
        }
    }
}

fn print_v4(out: &mut Out, packet: &[u8]) -> Res {
    out.protocol("ip");
    out.s("IP ");
    let length = packet.len();
    if length < 20 {
        return Err(Trunc);
    }
    let hlen = usize::from(u8_at(packet, 0)? & 0x0F) * 4;
    if hlen < 20 {
        out.put(format_args!("bad-hlen {hlen}"));
        return Ok(());
    }
    let total = usize::from(u16_at(packet, 2)?);
    if length < total {
        out.put(format_args!(
            "truncated-ip - {} bytes missing! ",
            total - length
        ));
    }
    if total < hlen {
        out.put(format_args!("bad-len {total}"));
        return Ok(());
    }
    // Everything past Total Length is invisible to the upper layers.
    let snap = packet.get(..total.min(length)).unwrap_or(packet);
    let payload_len = total - hlen;
    let off = u16_at(snap, 6)?;
    let proto = u8_at(snap, 9)?;
    let ctx = IpCtx {
        src: ipv4_at(snap, 12)?,
        dst: ipv4_at(snap, 16)?,
        fixed_next: proto,
        version: 4,
        fragmented: off & 0x2000 != 0,
    };
    if off & 0x1FFF != 0 {
        // A later fragment: no transport header to show.
        out.put(format_args!("{} > {}: ip-proto-{proto}", ctx.src, ctx.dst));
        return Ok(());
    }
    if !carries_ports(proto) {
        out.put(format_args!("{} > {}: ", ctx.src, ctx.dst));
    }
    let Some(upper) = snap.get(hlen..) else {
        out.put(format_args!(
            " [remaining caplen({}) < header length({hlen})]",
            snap.len()
        ));
        return Err(Trunc);
    };
    demux(out, upper, payload_len, proto, &ctx)
}

fn print_v6(out: &mut Out, packet: &[u8]) -> Res {
    out.protocol("ip6");
    let length = packet.len();
    if length < 40 {
        return Err(Trunc);
    }
    out.s("IP6 ");
    let payload_len = usize::from(u16_at(packet, 4)?);
    let mut len = if payload_len != 0 {
        let len = payload_len + 40;
        if length < len {
            out.put(format_args!(
                "truncated-ip6 - {} bytes missing!",
                len - length
            ));
        }
        len
    } else {
        // tcpdump's provisional length while it looks for a Jumbo option.
        length + 40
    };
    let snap = packet.get(..len.min(length)).unwrap_or(packet);
    let mut next = u8_at(snap, 6)?;
    let mut ctx = IpCtx {
        src: ipv6_at(snap, 8)?,
        dst: ipv6_at(snap, 24)?,
        fixed_next: next,
        version: 6,
        fragmented: false,
    };
    let mut previous: Option<u8> = None;
    let mut at = 0usize;
    let mut advance = 40usize;
    let mut total_advance = 0usize;
    let mut found_extension = false;
    let mut found_hbh = false;
    let mut jumbo_len: Option<u32> = None;
    while at < snap.len() && advance > 0 {
        if len < advance {
            return Err(Trunc);
        }
        at += advance;
        len -= advance;
        total_advance += advance;
        if at == 40 && !carries_ports(next) {
            out.put(format_args!("{} > {}: ", ctx.src, ctx.dst));
        }
        let here = snap.get(at..).unwrap_or(&[]);
        match next {
            nh::HOP_BY_HOP => {
                if found_hbh {
                    out.s("[The Hop-by-Hop Options header was already found]");
                    out.invalid();
                    return Ok(());
                }
                if previous.is_some() {
                    out.s("[The Hop-by-Hop Options header don't follow the IPv6 header]");
                    out.invalid();
                    return Ok(());
                }
                let step = hop_by_hop(out, here, payload_len == 0)?;
                if let Some(HbhResult { jumbo, .. }) = step {
                    jumbo_len = jumbo;
                }
                if payload_len == 0 && jumbo_len.is_none() {
                    out.s("[No valid Jumbo Payload Hop-by-Hop option found]");
                    out.invalid();
                    return Ok(());
                }
                let Some(HbhResult { len: step, .. }) = step else {
                    return Ok(());
                };
                advance = step;
                found_extension = true;
                found_hbh = true;
                next = u8_at(here, 0)?;
            }
            nh::DESTINATION_OPTIONS => {
                out.protocol("dstopt");
                let hdr_len = (usize::from(u8_at(here, 1)?) + 1) * 8;
                if !has(here, 0, hdr_len) {
                    out.trunc();
                    return Ok(());
                }
                out.s("DSTOPT ");
                advance = hdr_len;
                found_extension = true;
                next = u8_at(here, 0)?;
            }
            nh::FRAGMENT => {
                out.protocol("frag6");
                let offset = u16_at(here, 2)? & 0xFFF8;
                let frag_len = (40 + payload_len).wrapping_sub(at).wrapping_sub(8);
                out.put(format_args!("frag ({offset}|{frag_len})"));
                if offset != 0 {
                    // tcpdump does not decode later fragments.
                    return Ok(());
                }
                out.s(" ");
                advance = 8;
                if snap.len() <= at + advance {
                    return Ok(());
                }
                found_extension = true;
                ctx.fragmented = true;
                next = u8_at(here, 0)?;
            }
            nh::ROUTING => {
                u8_at(here, 0)?;
                let Some(step) = routing(out, here)? else {
                    return Ok(());
                };
                advance = step;
                found_extension = true;
                next = u8_at(here, 0)?;
            }
            upper => {
                if let Some(jumbo) = jumbo_len {
                    let full = jumbo as usize + 40;
                    if full < total_advance {
                        return Err(Trunc);
                    }
                    if length < full {
                        out.put(format_args!(
                            "truncated-ip6 - {} bytes missing!",
                            full - length
                        ));
                    }
                    len = full - total_advance;
                } else if payload_len == 0 {
                    if found_extension {
                        return Err(Trunc);
                    }
                    // tcpdump shrinks the capture to the bare header.
                    return demux(out, &[], 0, upper, &ctx);
                }
                return demux(out, here, len, upper, &ctx);
            }
        }
        previous = Some(next);
        out.protocol("ip6");
    }
    Ok(())
}

/// What a Hop-by-Hop header yielded: its length and any valid Jumbo
/// Payload length.
struct HbhResult {
    len: usize,
    jumbo: Option<u32>,
}

/// Prints `HBH ` and checks the options as tcpdump does without `-v`.
/// `Ok(None)` means tcpdump stopped the line (after its own marker).
fn hop_by_hop(out: &mut Out, hdr: &[u8], payload_len_zero: bool) -> Res<Option<HbhResult>> {
    out.protocol("hbhopt");
    let hdr_len = (usize::from(u8_at(hdr, 1)?) + 1) * 8;
    if !has(hdr, 0, hdr_len) {
        out.trunc();
        return Ok(None);
    }
    out.s("HBH ");
    let options = hdr.get(2..hdr_len).unwrap_or(&[]);
    match ip6_options(out, options, payload_len_zero)? {
        Some(jumbo) => Ok(Some(HbhResult {
            len: hdr_len,
            jumbo,
        })),
        None => {
            out.trunc();
            Ok(None)
        }
    }
}

/// Walks IPv6 TLV options (RFC 8200 §4.2). Returns `None` where tcpdump
/// reports truncation, else the Jumbo Payload length if one is valid.
fn ip6_options(out: &mut Out, opts: &[u8], payload_len_zero: bool) -> Res<Option<Option<u32>>> {
    const PAD1: u8 = 0;
    const PADN: u8 = 1;
    const ROUTER_ALERT: u8 = 5;
    const JUMBO: u8 = 0xC2;
    const HOME_ADDRESS: u8 = 0xC9;
    let len = opts.len();
    let mut jumbo = None;
    let mut seen_jumbo = false;
    let mut i = 0;
    while i < len {
        let kind = u8_at(opts, i)?;
        let optlen = if kind == PAD1 {
            1
        } else if i + 1 < len {
            usize::from(u8_at(opts, i + 1)?) + 2
        } else {
            return Ok(None);
        };
        if i + optlen > len {
            return Ok(None);
        }
        let left = len - i;
        match kind {
            PAD1 => {}
            PADN => {
                if left < 2 {
                    out.s("(padn: trunc)");
                    return Ok(None);
                }
            }
            ROUTER_ALERT => {
                if left < 4 {
                    out.s("(rtalert: trunc)");
                    return Ok(None);
                }
                let l = u8_at(opts, i + 1)?;
                if l != 2 {
                    out.put(format_args!("(rtalert: invalid len {l})"));
                    return Ok(None);
                }
            }
            JUMBO => {
                if left < 6 {
                    out.s("(jumbo: trunc)");
                    return Ok(None);
                }
                let l = u8_at(opts, i + 1)?;
                if l != 4 {
                    out.put(format_args!("(jumbo: invalid len {l})"));
                    return Ok(None);
                }
                let value = u32_at(opts, i + 2)?;
                // RFC 2675 §2: only with Payload Length 0 and > 65535.
                if !seen_jumbo && payload_len_zero && value >= 65536 {
                    jumbo = Some(value);
                }
                seen_jumbo = true;
            }
            HOME_ADDRESS => {
                if left < 18 {
                    out.s("(homeaddr: trunc)");
                    return Ok(None);
                }
                let l = u8_at(opts, i + 1)?;
                if l < 16 {
                    out.put(format_args!("(homeaddr: invalid len {l})"));
                    return Ok(None);
                }
            }
            other => {
                if left < 2 {
                    out.put(format_args!("(type {other}: trunc)"));
                    return Ok(None);
                }
            }
        }
        i += optlen;
    }
    Ok(Some(jumbo))
}

/// Prints a Routing header (`RT6 (len=.., type=.., segleft=..) `).
/// `Ok(None)` means tcpdump gave up on the packet.
fn routing(out: &mut Out, hdr: &[u8]) -> Res<Option<usize>> {
    out.protocol("rt6");
    out.s("RT6");
    let len = u8_at(hdr, 1)?;
    out.put(format_args!(" (len={len}"));
    let kind = u8_at(hdr, 2)?;
    out.put(format_args!(", type={kind}"));
    if kind == 0 {
        out.s(" [Deprecated]");
    }
    out.put(format_args!(", segleft={}", u8_at(hdr, 3)?));
    match kind {
        0 | 2 => {
            let reserved = u32_at(hdr, 4)?;
            if reserved != 0 {
                out.put(format_args!(", rsv=0x{reserved:x}"));
            }
        }
        4 => {
            out.put(format_args!(", last-entry={}", u8_at(hdr, 4)?));
            let flags = u8_at(hdr, 5)?;
            if flags != 0 {
                out.put(format_args!(", flags=0x{flags:x}"));
            }
            out.put(format_args!(", tag={:x}", u16_at(hdr, 6)?));
        }
        _ => {
            out.s(" (unknown type)");
            out.invalid();
            return Ok(None);
        }
    }
    if len % 2 == 1 {
        out.put(format_args!(" (invalid length {len})"));
        out.invalid();
        return Ok(None);
    }
    for i in 0..usize::from(len / 2) {
        out.put(format_args!(", [{i}]{}", ipv6_at(hdr, 8 + 16 * i)?));
    }
    out.s(") ");
    Ok(Some((usize::from(len) + 1) * 8))
}

/// Hands the upper-layer bytes to the matching printer. `length` is the
/// length the IP header claims; `upper` holds what was captured of it.
fn demux(out: &mut Out, upper: &[u8], length: usize, next: u8, ctx: &IpCtx) -> Res {
    match next {
        protocol::TCP => super::tcp::print(out, upper, length, ctx),
        protocol::UDP => print_udp(out, upper, length, ctx),
        protocol::ICMP if ctx.version == 4 => super::icmp::print_v4(out, upper, length),
        protocol::ICMP => {
            out.s("[ICMP requires IPv4]");
            out.invalid();
            Ok(())
        }
        protocol::ICMPV6 if ctx.version == 6 => super::icmp::print_v6(out, upper, length),
        protocol::ICMPV6 => {
            out.s("[ICMPv6 requires IPv6]");
            out.invalid();
            Ok(())
        }
        nh::NO_NEXT_HEADER => {
            out.s("no next header");
            Ok(())
        }
        nh::ESP => print_esp(out, upper, length),
        IGMP if ctx.version == 6 => {
            out.s("[IGMP requires IPv4]");
            out.invalid();
            Ok(())
        }
        ETHERNET if ctx.version == 4 => {
            out.s("[Ethernet requires IPv6]");
            out.invalid();
            Ok(())
        }
        ND => {
            out.put(format_args!(" nd {length}"));
            Ok(())
        }
        other => {
            out.put(format_args!(" ip-proto-{other} {length}"));
            Ok(())
        }
    }
}

/// ESP (RFC 4303): SPI and sequence number; the rest is ciphertext.
fn print_esp(out: &mut Out, esp: &[u8], length: usize) -> Res {
    out.protocol("esp");
    // tcpdump wants more than the 8-byte SPI + sequence header.
    if esp.len() <= 8 {
        return Err(Trunc);
    }
    out.put(format_args!(
        "ESP(spi=0x{:08x},seq=0x{:x}), length {length}",
        u32_at(esp, 0)?,
        u32_at(esp, 4)?
    ));
    Ok(())
}

/// UDP as tcpdump prints it for ports it has no decoder for.
fn print_udp(out: &mut Out, udp: &[u8], length: usize, ctx: &IpCtx) -> Res {
    out.protocol("udp");
    let addresses = |out: &mut Out, ports: Option<(u16, u16)>| match ports {
        None if ctx.fixed_next == protocol::UDP => {
            out.put(format_args!("{} > {}: ", ctx.src, ctx.dst));
        }
        None => {}
        Some((s, d)) if ctx.fixed_next == protocol::UDP => {
            out.put(format_args!("{}.{s} > {}.{d}: ", ctx.src, ctx.dst));
        }
        Some((s, d)) => out.put(format_args!("{s} > {d}: ")),
    };
    if !has(udp, 2, 2) {
        addresses(out, None);
        return Err(Trunc);
    }
    let ports = (u16_at(udp, 0)?, u16_at(udp, 2)?);
    // tcpdump checks the claimed length before the captured one.
    if length < 8 {
        addresses(out, Some(ports));
        out.put(format_args!("truncated-udp {length}"));
        return Ok(());
    }
    let Ok(ulen) = u16_at(udp, 4) else {
        addresses(out, Some(ports));
        return Err(Trunc);
    };
    let mut ulen = usize::from(ulen);
    if ulen == 0 && length > 65535 {
        ulen = length;
    }
    if ulen < 8 {
        addresses(out, Some(ports));
        out.put(format_args!("truncated-udplength {ulen}"));
        return Ok(());
    }
    let ulen = ulen - 8;
    let length = (length - 8).min(ulen);
    addresses(out, Some(ports));
    if udp.len() < 8 {
        return Err(Trunc);
    }
    if ulen > length && !ctx.fragmented {
        out.put(format_args!("UDP, bad length {ulen} > {length}"));
    } else {
        out.put(format_args!("UDP, length {ulen}"));
    }
    Ok(())
}
