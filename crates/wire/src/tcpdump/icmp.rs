//! ICMP (`ICMP echo request, id 1, seq 1, length 64`) and ICMPv6
//! (`ICMP6, echo request, id 1, seq 1, length 64`) lines.

use super::{has, ipv4_at, ipv6_at, u16_at, u32_at, u8_at, Out, Res, Trunc};
use crate::ip::protocol;
use crate::ipv6::next_header as nh;

/// Offset of the quoted IP header inside an ICMP error.
const QUOTE: usize = 8;

/// Prints an ICMPv4 message; `plen` is the length the IP header claims.
pub(crate) fn print_v4(out: &mut Out, icmp: &[u8], plen: usize) -> Res {
    out.protocol("icmp");
    let icmp_type = u8_at(icmp, 0)?;
    let code = u8_at(icmp, 1)?;
    // Destination of the quoted datagram (RFC 792 error messages).
    let quoted_dst = || ipv4_at(icmp, QUOTE + 16);
    let text = match icmp_type {
        0 | 8 => format!(
            "echo {}, id {}, seq {}",
            if icmp_type == 8 { "request" } else { "reply" },
            u16_at(icmp, 4)?,
            u16_at(icmp, 6)?
        ),
        3 => unreachable_text(icmp, code)?,
        5 => {
            let dst = quoted_dst()?;
            let gw = ipv4_at(icmp, 4)?;
            match code {
                0 => format!("redirect {dst} to net {gw}"),
                1 => format!("redirect {dst} to host {gw}"),
                2 => format!("redirect-tos {dst} to net {gw}"),
                3 => format!("redirect-tos {dst} to host {gw}"),
                _ => format!("redirect-#{code} {dst} to {gw}"),
            }
        }
        9 => match router_advertisement(icmp)? {
            Some(text) => text,
            None => return Err(Trunc),
        },
        11 => {
            if !has(icmp, QUOTE + 16, 4) {
                return Err(Trunc);
            }
            match code {
                0 => "time exceeded in-transit".to_string(),
                1 => "ip reassembly time exceeded".to_string(),
                _ => format!("time exceeded-#{code}"),
            }
        }
        12 => {
            if code != 0 {
                format!("parameter problem - code {code}")
            } else {
                format!("parameter problem - octet {}", u8_at(icmp, 4)?)
            }
        }
        18 => format!("address mask is 0x{:08x}", u32_at(icmp, 8)?),
        13 => format!(
            "time stamp query id {} seq {}",
            u16_at(icmp, 4)?,
            u16_at(icmp, 6)?
        ),
        14 => {
            if !has(icmp, 16, 4) {
                return Err(Trunc);
            }
            format!(
                "time stamp reply id {} seq {}: org {}, recv {}, xmit {}",
                u16_at(icmp, 4)?,
                u16_at(icmp, 6)?,
                timestamp(u32_at(icmp, 8)?),
                timestamp(u32_at(icmp, 12)?),
                timestamp(u32_at(icmp, 16)?)
            )
        }
        4 => "source quench".to_string(),
        10 => "router solicitation".to_string(),
        15 => "information request".to_string(),
        16 => "information reply".to_string(),
        17 => "address mask request".to_string(),
        other => format!("type-#{other}"),
    };
    out.put(format_args!("ICMP {text}, length {plen}"));
    Ok(())
}

/// The Destination Unreachable text for each code (RFC 792, RFC 1812
/// §5.2.7.1 for codes 6-15).
fn unreachable_text(icmp: &[u8], code: u8) -> Res<String> {
    if code == 3 {
        // Port unreachable names the quoted transport and port.
        if !has(icmp, QUOTE + 9, 1) {
            return Err(Trunc);
        }
        let inner_hlen = usize::from(u8_at(icmp, QUOTE)? & 0x0F) * 4;
        let dport = u16_at(icmp, QUOTE + inner_hlen + 2)?;
        let proto = u8_at(icmp, QUOTE + 9)?;
        let dst = ipv4_at(icmp, QUOTE + 16)?;
        return Ok(match proto {
            protocol::TCP => format!("{dst} tcp port {dport} unreachable"),
            protocol::UDP => format!("{dst} udp port {dport} unreachable"),
            _ => format!("{dst} protocol {proto} port {dport} unreachable"),
        });
    }
    let dst = ipv4_at(icmp, QUOTE + 16)?;
    Ok(match code {
        0 => format!("net {dst} unreachable"),
        1 => format!("host {dst} unreachable"),
        2 => format!("{dst} protocol {} unreachable", u8_at(icmp, QUOTE + 9)?),
        4 => match u16_at(icmp, 6)? {
            0 => format!("{dst} unreachable - need to frag"),
            mtu => format!("{dst} unreachable - need to frag (mtu {mtu})"),
        },
        5 => format!("{dst} unreachable - source route failed"),
        6 => format!("net {dst} unreachable - unknown"),
        7 => format!("host {dst} unreachable - unknown"),
        8 => format!("{dst} unreachable - source host isolated"),
        9 => format!("net {dst} unreachable - admin prohibited"),
        10 => format!("host {dst} unreachable - admin prohibited"),
        11 => format!("net {dst} unreachable - tos prohibited"),
        12 => format!("host {dst} unreachable - tos prohibited"),
        13 => format!("host {dst} unreachable - admin prohibited filter"),
        14 => format!("host {dst} unreachable - host precedence violation"),
        15 => format!("host {dst} unreachable - precedence cutoff"),
        _ => format!("{dst} unreachable - #{code}"),
    })
}

/// RFC 1256 router advertisement; `None` where tcpdump truncates.
fn router_advertisement(icmp: &[u8]) -> Res<Option<String>> {
    if !has(icmp, 4, 4) {
        return Ok(None);
    }
    let lifetime = u32::from(u16_at(icmp, 6)?);
    let mut text = String::from("router advertisement lifetime ");
    if lifetime < 60 {
        text += &format!("{lifetime}");
    } else if lifetime < 3600 {
        text += &format!("{}:{:02}", lifetime / 60, lifetime % 60);
    } else {
        text += &format!(
            "{}:{:02}:{:02}",
            lifetime / 3600,
            (lifetime % 3600) / 60,
            lifetime % 60
        );
    }
    let count = u8_at(icmp, 4)?;
    text += &format!(" {count}:");
    let size = u8_at(icmp, 5)?;
    if size != 2 {
        text += &format!(" [size {size}]");
        return Ok(Some(text));
    }
    for i in 0..usize::from(count) {
        let at = 8 + 8 * i;
        if !has(icmp, at, 8) {
            return Ok(None);
        }
        text += &format!(" {{{} {}}}", ipv4_at(icmp, at)?, u32_at(icmp, at + 4)?);
    }
    Ok(Some(text))
}

/// Milliseconds since midnight UT as `hh:mm:ss.mmm` (RFC 792 timestamp).
fn timestamp(ms: u32) -> String {
    let msec = ms % 1000;
    let mut sec = ms / 1000;
    let mut min = sec / 60;
    sec -= min * 60;
    let hrs = min / 60;
    min -= hrs * 60;
    format!("{hrs:02}:{min:02}:{sec:02}.{msec:03}")
}

/// tcpdump's ICMPv6 type names.
fn icmp6_type_name(t: u8) -> Option<&'static str> {
    Some(match t {
        1 => "destination unreachable",
        2 => "packet too big",
        3 => "time exceeded in-transit",
        4 => "parameter problem",
        128 => "echo request",
        129 => "echo reply",
        130 => "multicast listener query",
        131 => "multicast listener report",
        132 => "multicast listener done",
        133 => "router solicitation",
        134 => "router advertisement",
        135 => "neighbor solicitation",
        136 => "neighbor advertisement",
        137 => "redirect",
        138 => "router renumbering",
        141 => "inverse neighbor solicitation",
        142 => "inverse neighbor advertisement",
        143 => "multicast listener report v2",
        144 => "ha discovery request",
        145 => "ha discovery reply",
        146 => "mobile router solicitation",
        147 => "mobile router advertisement",
        // 139/140 are also node information query/reply (RFC 4620);
        // tcpdump's table names the older meaning first.
        139 => "who-are-you request",
        140 => "who-are-you reply",
        200 => "mtrace response",
        201 => "mtrace message",
        155 => "RPL",
        _ => return None,
    })
}

/// Prints an ICMPv6 message; `length` is the length the IP layer claims.
pub(crate) fn print_v6(out: &mut Out, icmp: &[u8], length: usize) -> Res {
    out.protocol("icmp6");
    if length == 0 {
        out.s("ICMP6, length 0");
        out.invalid();
        return Ok(());
    }
    let icmp_type = u8_at(icmp, 0)?;
    match icmp6_type_name(icmp_type) {
        Some(name) => out.put(format_args!("ICMP6, {name}")),
        None => out.put(format_args!("ICMP6, unknown icmp6 type ({icmp_type})")),
    }
    let code = u8_at(icmp, 1)?;
    // The quoted packet's addresses (RFC 4443 §3).
    let quoted_dst = || ipv6_at(icmp, QUOTE + 24);
    match icmp_type {
        1 => {
            match code {
                0 => out.s(", unreachable route"),
                1 => out.s(",  unreachable prohibited"),
                2 => out.s(", beyond scope"),
                3 => out.s(", unreachable address"),
                4 => out.s(", unreachable port"),
                _ => out.put(format_args!(", unknown unreach code ({code})")),
            }
            match code {
                0 | 1 | 3 => out.put(format_args!(" {}", quoted_dst()?)),
                2 => {
                    let dst = quoted_dst()?;
                    let src = ipv6_at(icmp, QUOTE + 8)?;
                    out.put(format_args!(" {dst}, source address {src}"));
                }
                4 => {
                    let quoted = icmp.get(QUOTE..).unwrap_or(&[]);
                    let Some((proto, dport_at)) = upper_layer(quoted) else {
                        return Err(Trunc);
                    };
                    let dport = u16_at(quoted, dport_at + 2)?;
                    let dst = quoted_dst()?;
                    match proto {
                        protocol::TCP => out.put(format_args!(", {dst} tcp port {dport}")),
                        protocol::UDP => out.put(format_args!(", {dst} udp port {dport}")),
                        _ => out.put(format_args!(
                            ", {dst} protocol {proto} port {dport} unreachable"
                        )),
                    }
                }
                // tcpdump follows with a hex dump on new lines, which a
                // one-line summary leaves out.
                _ => return Ok(()),
            }
        }
        2 => out.put(format_args!(", mtu {}", u32_at(icmp, 4)?)),
        3 => match code {
            0 => out.put(format_args!(" for {}", quoted_dst()?)),
            1 => out.s(" (reassembly)"),
            _ => out.put(format_args!(", unknown code ({code})")),
        },
        4 => {
            if !has(icmp, QUOTE + 24, 16) {
                return Err(Trunc);
            }
            let pointer = u32_at(icmp, 4)?;
            match code {
                0 => out.put(format_args!(", erroneous - octet {pointer}")),
                1 => out.put(format_args!(", next header - octet {pointer}")),
                2 => out.put(format_args!(", option - octet {pointer}")),
                3 => out.put(format_args!(", incomplete header chain - octet {pointer}")),
                _ => out.put(format_args!(", code-#{code}")),
            }
        }
        128 | 129 => out.put(format_args!(
            ", id {}, seq {}",
            u16_at(icmp, 4)?,
            u16_at(icmp, 6)?
        )),
        133 | 134 | 141 | 142 | 145 | 147 => {}
        135 => out.put(format_args!(", who has {}", ipv6_at(icmp, 8)?)),
        136 => out.put(format_args!(", tgt is {}", ipv6_at(icmp, 8)?)),
        137 => {
            let dst = ipv6_at(icmp, 24)?;
            let target = ipv6_at(icmp, 8)?;
            out.put(format_args!(", {dst} to {target}"));
        }
        144 | 146 => out.put(format_args!(", id 0x{:04x}", u16_at(icmp, 4)?)),
        _ => {
            // tcpdump adds a hex dump on following lines here; a one-line
            // summary stops at the length.
            out.put(format_args!(", length {length}"));
            return Ok(());
        }
    }
    out.put(format_args!(", length {length}"));
    Ok(())
}

/// Finds the transport header inside a quoted IPv6 packet, skipping
/// extension headers as tcpdump does: `(protocol, offset)`, or `None`
/// when it cannot be found in the captured bytes.
fn upper_layer(quoted: &[u8]) -> Option<(u8, usize)> {
    let mut next = *quoted.get(6)?;
    let mut at = 0usize;
    let mut advance = 40usize;
    while at < quoted.len() {
        at += advance;
        match next {
            protocol::UDP | protocol::TCP => {
                return has(quoted, at + 2, 2).then_some((next, at));
            }
            nh::HOP_BY_HOP | nh::DESTINATION_OPTIONS | nh::ROUTING => {
                next = *quoted.get(at)?;
                advance = (usize::from(*quoted.get(at + 1)?) + 1) * 8;
            }
            nh::FRAGMENT => {
                let offlg = u16::from_be_bytes([*quoted.get(at + 2)?, *quoted.get(at + 3)?]);
                if offlg & 0xFFF8 != 0 {
                    return None;
                }
                next = *quoted.get(at)?;
                advance = 8;
            }
            nh::AH => {
                next = *quoted.get(at)?;
                advance = (usize::from(*quoted.get(at + 1)?) + 2) * 4;
            }
            _ => return None,
        }
    }
    None
}
