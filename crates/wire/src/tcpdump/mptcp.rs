//! Multipath TCP option bodies (RFC 8684 §3) as tcpdump prints them.

use super::{ipv4_at, ipv6_at, u16_at, u32_at, u8_at, Out, Res};
use crate::tcp::TcpFlags;

fn u64_at(buf: &[u8], at: usize) -> Res<u64> {
    Ok((u64::from(u32_at(buf, at)?) << 32) | u64::from(u32_at(buf, at + 4)?))
}

/// Subtype names, indexed by the subtype nibble (8+ is "unknown").
const NAMES: [&str; 9] = [
    "capable",
    "join",
    "dss",
    "add-addr",
    "rem-addr",
    "prio",
    "fail",
    "fast-close",
    "unknown",
];

/// Prints ` <len> <subtype> ...` for the option bytes `opt` (kind and
/// length included, cut to the option's length). `Ok(false)` is tcpdump's
/// "bad option".
pub(crate) fn print(out: &mut Out, opt: &[u8], len: usize, flags: TcpFlags) -> Res<bool> {
    out.protocol("mptcp");
    if len < 3 {
        return Ok(false);
    }
    let subtype = usize::from(u8_at(opt, 2)? >> 4).min(8);
    out.put(format_args!(" {len}"));
    out.put(format_args!(
        " {}",
        NAMES.get(subtype).copied().unwrap_or("unknown")
    ));
    match subtype {
        0 => capable(out, opt, len, flags),
        1 => join(out, opt, len, flags),
        2 => dss(out, opt, len, flags),
        3 => add_addr(out, opt, len),
        4 => {
            if len < 4 {
                return Ok(false);
            }
            out.s(" id");
            for i in 0..len - 3 {
                out.put(format_args!(" {}", u8_at(opt, 3 + i)?));
            }
            Ok(true)
        }
        5 => {
            if len != 3 && len != 4 {
                return Ok(false);
            }
            if u8_at(opt, 2)? & 0x01 != 0 {
                out.s(" backup");
            } else {
                out.s(" non-backup");
            }
            if len == 4 {
                out.put(format_args!(" id {}", u8_at(opt, 3)?));
            }
            Ok(true)
        }
        6 => {
            if len != 12 {
                return Ok(false);
            }
            out.put(format_args!(" seq {}", u64_at(opt, 4)?));
            Ok(true)
        }
        7 => {
            if len != 12 {
                return Ok(false);
            }
            out.put(format_args!(" key 0x{:x}", u64_at(opt, 4)?));
            Ok(true)
        }
        _ => Ok(true),
    }
}

fn capable(out: &mut Out, opt: &[u8], len: usize, flags: TcpFlags) -> Res<bool> {
    let syn_form = (len == 12 || len == 4) && flags.syn();
    let ack_form = (len == 20 || len == 22) && flags.ack() && !flags.syn();
    if !syn_form && !ack_form {
        return Ok(false);
    }
    let version = u8_at(opt, 2)? & 0x0F;
    if version > 1 {
        out.put(format_args!(" Unknown Version ({version})"));
        return Ok(true);
    }
    out.put(format_args!(" v{version}"));
    if u8_at(opt, 3)? & 0x80 != 0 {
        out.s(" csum");
    }
    if len == 12 || len >= 20 {
        out.put(format_args!(" {{0x{:x}", u64_at(opt, 4)?));
        if len >= 20 {
            out.put(format_args!(",0x{:x}", u64_at(opt, 12)?));
        }
        out.s("}");
    }
    Ok(true)
}

fn join(out: &mut Out, opt: &[u8], len: usize, flags: TcpFlags) -> Res<bool> {
    let syn = len == 12 && flags.syn();
    let synack = len == 16 && flags.syn() && flags.ack();
    let ack = len == 24 && flags.ack();
    if !syn && !synack && !ack {
        return Ok(false);
    }
    if len != 24 {
        if u8_at(opt, 2)? & 0x01 != 0 {
            out.s(" backup");
        }
        out.put(format_args!(" id {}", u8_at(opt, 3)?));
    }
    match len {
        12 => out.put(format_args!(
            " token 0x{:x} nonce 0x{:x}",
            u32_at(opt, 4)?,
            u32_at(opt, 8)?
        )),
        16 => out.put(format_args!(
            " hmac 0x{:x} nonce 0x{:x}",
            u64_at(opt, 4)?,
            u32_at(opt, 12)?
        )),
        _ => {
            out.s(" hmac 0x");
            for i in 0..20 {
                out.put(format_args!("{:02x}", u8_at(opt, 4 + i)?));
            }
        }
    }
    Ok(true)
}

fn dss(out: &mut Out, opt: &[u8], len: usize, flags: TcpFlags) -> Res<bool> {
    if len < 4 || flags.syn() {
        return Ok(false);
    }
    let dss_flags = u8_at(opt, 3)?;
    if dss_flags & 0x10 != 0 {
        out.s(" fin");
    }
    let mut at = 4;
    let mut left = len - 4;
    // Reads a 4- or 8-byte number, or reports a bad option.
    let number = |out: &mut Out, wide: bool, at: &mut usize, left: &mut usize| -> Res<bool> {
        let n = if wide { 8 } else { 4 };
        if *left < n {
            return Ok(false);
        }
        if wide {
            out.put(format_args!("{}", u64_at(opt, *at)?));
        } else {
            out.put(format_args!("{}", u32_at(opt, *at)?));
        }
        *at += n;
        *left -= n;
        Ok(true)
    };
    if dss_flags & 0x01 != 0 {
        out.s(" ack ");
        if !number(out, dss_flags & 0x02 != 0, &mut at, &mut left)? {
            return Ok(false);
        }
    }
    if dss_flags & 0x04 != 0 {
        out.s(" seq ");
        if !number(out, dss_flags & 0x08 != 0, &mut at, &mut left)? {
            return Ok(false);
        }
        if left < 4 {
            return Ok(false);
        }
        out.put(format_args!(" subseq {}", u32_at(opt, at)?));
        at += 4;
        left -= 4;
        if left < 2 {
            return Ok(false);
        }
        out.put(format_args!(" len {}", u16_at(opt, at)?));
        at += 2;
        left -= 2;
        if left >= 2 {
            out.put(format_args!(" csum 0x{:x}", u16_at(opt, at)?));
            left -= 2;
        }
    }
    Ok(left == 0)
}

fn add_addr(out: &mut Out, opt: &[u8], len: usize) -> Res<bool> {
    if ![8, 10, 16, 18, 20, 22, 28, 30].contains(&len) {
        return Ok(false);
    }
    let name = match u8_at(opt, 2)? & 0x0F {
        0x6 => "v0-ip6",
        0x4 => "v0-ip4",
        0x1 => "v1-echo",
        0x0 => "v1",
        _ => "[bad version/echo]",
    };
    out.put(format_args!(" {name}"));
    out.put(format_args!(" id {}", u8_at(opt, 3)?));
    if len <= 18 {
        out.put(format_args!(" {}", ipv4_at(opt, 4)?));
        if len == 10 || len == 18 {
            out.put(format_args!(":{}", u16_at(opt, 8)?));
        }
        if len == 16 {
            out.put(format_args!(" hmac 0x{:x}", u64_at(opt, 8)?));
        }
        if len == 18 {
            out.put(format_args!(" hmac 0x{:x}", u64_at(opt, 10)?));
        }
    } else {
        out.put(format_args!(" {}", ipv6_at(opt, 4)?));
        if len == 22 || len == 30 {
            out.put(format_args!(":{}", u16_at(opt, 20)?));
        }
        if len == 28 {
            out.put(format_args!(" hmac 0x{:x}", u64_at(opt, 20)?));
        }
        if len == 30 {
            out.put(format_args!(" hmac 0x{:x}", u64_at(opt, 22)?));
        }
    }
    Ok(true)
}
