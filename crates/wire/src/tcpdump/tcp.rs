//! The TCP line: `a.p > b.q: Flags [S.], seq 1, ack 2, win 3, options
//! [...], length 4`, with tcpdump's wording for broken headers and
//! options.

use super::ip::IpCtx;
use super::{has, u16_at, u32_at, u8_at, Out, Res, Trunc};
use crate::ip::protocol;
use crate::tcp::TcpFlags;

/// Option kinds tcpdump names (IANA "TCP Option Kind Numbers").
mod opt {
    pub const EOL: u8 = 0;
    pub const NOP: u8 = 1;
    pub const MSS: u8 = 2;
    pub const WSCALE: u8 = 3;
    pub const SACKOK: u8 = 4;
    pub const SACK: u8 = 5;
    pub const ECHO: u8 = 6;
    pub const ECHOREPLY: u8 = 7;
    pub const TIMESTAMP: u8 = 8;
    pub const CC: u8 = 11;
    pub const CCNEW: u8 = 12;
    pub const CCECHO: u8 = 13;
    pub const SIGNATURE: u8 = 19;
    pub const SCPS: u8 = 20;
    pub const UTO: u8 = 28;
    pub const TCPAO: u8 = 29;
    pub const MPTCP: u8 = 30;
    pub const FASTOPEN: u8 = 34;
    pub const EXPERIMENT2: u8 = 254;
}

/// tcpdump's name for an option kind.
fn option_name(kind: u8) -> Option<&'static str> {
    Some(match kind {
        opt::EOL => "eol",
        opt::NOP => "nop",
        opt::MSS => "mss",
        opt::WSCALE => "wscale",
        opt::SACKOK => "sackOK",
        opt::SACK => "sack",
        opt::ECHO => "echo",
        opt::ECHOREPLY => "echoreply",
        opt::TIMESTAMP => "TS",
        opt::CC => "cc",
        opt::CCNEW => "ccnew",
        opt::CCECHO => "",
        opt::SIGNATURE => "md5",
        opt::SCPS => "scps",
        opt::UTO => "uto",
        opt::TCPAO => "tcp-ao",
        opt::MPTCP => "mptcp",
        opt::FASTOPEN => "tfo",
        opt::EXPERIMENT2 => "exp",
        _ => return None,
    })
}

/// Why the options walk stopped early.
enum Stop {
    /// tcpdump's `[bad opt]`: a length that contradicts the header.
    Bad,
    /// A local truncation: ` [|tcp]` and, oddly, `>` after the first
    /// option.
    Trunc,
    /// A truncated read that abandons the whole line.
    Abort,
}

impl From<Trunc> for Stop {
    fn from(_: Trunc) -> Stop {
        Stop::Abort
    }
}

/// Prints a TCP segment; `length` is the segment length the IP layer
/// claims, `seg` what was captured of it.
pub(crate) fn print(out: &mut Out, seg: &[u8], length: usize, ctx: &IpCtx) -> Res {
    out.protocol("tcp");
    if !has(seg, 2, 2) {
        out.put(format_args!("{} > {}:", ctx.src, ctx.dst));
        return Err(Trunc);
    }
    let sport = u16_at(seg, 0)?;
    let dport = u16_at(seg, 2)?;
    if ctx.fixed_next == protocol::TCP {
        out.put(format_args!("{}.{sport} > {}.{dport}: ", ctx.src, ctx.dst));
    } else {
        out.put(format_args!("{sport} > {dport}: "));
    }
    if seg.len() < 20 {
        return Err(Trunc);
    }
    let hlen = usize::from(u8_at(seg, 12)? >> 4) * 4;
    if hlen < 20 {
        out.put(format_args!(
            " tcp {} [bad hdr length {hlen} - too short, < 20]",
            (length as u32).wrapping_sub(hlen as u32)
        ));
        return Ok(());
    }
    let seq = u32_at(seg, 4)?;
    let ack = u32_at(seg, 8)?;
    let win = u16_at(seg, 14)?;
    let urp = u16_at(seg, 18)?;
    let flags = TcpFlags(u8_at(seg, 13)?);
    out.put(format_args!("Flags [{flags}]"));
    if hlen > length {
        out.put(format_args!(
            " [bad hdr length {hlen} - too long, > {length}]"
        ));
        return Ok(());
    }
    let data_len = length - hlen;
    if data_len > 0 || flags.syn() || flags.fin() || flags.rst() {
        out.put(format_args!(", seq {seq}"));
        if data_len > 0 {
            out.put(format_args!(":{}", seq.wrapping_add(data_len as u32)));
        }
    }
    if flags.ack() {
        out.put(format_args!(", ack {ack}"));
    }
    out.put(format_args!(", win {win}"));
    if flags.urg() {
        out.put(format_args!(", urg {urp}"));
    }
    if hlen > 20 {
        out.s(", options [");
        let mut first = true;
        match options(out, seg, (hlen, data_len, flags), &mut first) {
            Ok(()) => out.s("]"),
            Err(Stop::Bad) => {
                out.s("[bad opt]");
                if !first {
                    out.s("]");
                }
                return Ok(());
            }
            Err(Stop::Trunc) => {
                out.trunc();
                if !first {
                    out.s(">");
                }
                return Ok(());
            }
            Err(Stop::Abort) => return Err(Trunc),
        }
    }
    out.put(format_args!(", length {data_len}"));
    if data_len == 0 {
        return Ok(());
    }
    let Some(payload) = seg.get(hlen..) else {
        out.put(format_args!(
            " [remaining caplen({}) < header length({hlen})]",
            seg.len()
        ));
        return Err(Trunc);
    };
    if [80, 8080].contains(&sport) || [80, 8080].contains(&dport) {
        out.s(": ");
        http(out, payload, data_len)?;
    }
    Ok(())
}

/// Walks the options area (`left` bytes after the fixed header) the way
/// tcpdump does, printing each option. `first` stays true until the
/// first separator is due.
fn options(
    out: &mut Out,
    seg: &[u8],
    header: (usize, usize, TcpFlags),
    first: &mut bool,
) -> Result<(), Stop> {
    let (hlen, data_len, flags) = header;
    let mut left = hlen - 20;
    let mut at = 20;
    while left > 0 {
        if !*first {
            out.s(",");
        }
        let kind = u8_at(seg, at)?;
        at += 1;
        let len = if kind == opt::EOL || kind == opt::NOP {
            1
        } else {
            let len = usize::from(u8_at(seg, at)?);
            at += 1;
            if len < 2 || len > left {
                return Err(Stop::Bad);
            }
            left -= 1;
            len
        };
        left -= 1;
        // Data bytes must be both inside the header and captured.
        let need = |n: usize, left: usize| -> Result<(), Stop> {
            if n > left {
                Err(Stop::Bad)
            } else if !has(seg, at, n) {
                Err(Stop::Trunc)
            } else {
                Ok(())
            }
        };
        match option_name(kind) {
            Some(name) => out.s(name),
            None => out.put(format_args!("unknown-{kind}")),
        }
        let datalen = match kind {
            opt::MSS => {
                need(2, left)?;
                out.put(format_args!(" {}", u16_at(seg, at)?));
                2
            }
            opt::WSCALE => {
                need(1, left)?;
                out.put(format_args!(" {}", u8_at(seg, at)?));
                1
            }
            opt::SACK => {
                let datalen = len - 2;
                if datalen % 8 != 0 {
                    out.s(" invalid sack");
                } else {
                    out.put(format_args!(" {} ", datalen / 8));
                    for i in (0..datalen).step_by(8) {
                        need(i + 4, left)?;
                        let s = u32_at(seg, at + i)?;
                        need(i + 8, left)?;
                        let e = u32_at(seg, at + i + 4)?;
                        out.put(format_args!("{{{s}:{e}}}"));
                    }
                }
                datalen
            }
            opt::CC | opt::CCNEW | opt::CCECHO | opt::ECHO | opt::ECHOREPLY => {
                need(4, left)?;
                out.put(format_args!(" {}", u32_at(seg, at)?));
                4
            }
            opt::TIMESTAMP => {
                need(8, left)?;
                out.put(format_args!(
                    " val {} ecr {}",
                    u32_at(seg, at)?,
                    u32_at(seg, at + 4)?
                ));
                8
            }
            opt::SIGNATURE => {
                need(16, left)?;
                out.s(" ");
                // tcpdump (built with libcrypto, as distributions ship
                // it) cannot verify without -M and says so.
                if hlen + data_len > seg.len() {
                    out.s("snaplen too short, ");
                } else {
                    out.s("shared secret not supplied with -M, ");
                }
                out.s("can't check - ");
                hex(out, seg, at, 16)?;
                16
            }
            opt::SCPS => {
                need(2, left)?;
                out.put(format_args!(
                    " cap {:02x} id {}",
                    u8_at(seg, at)?,
                    u8_at(seg, at + 1)?
                ));
                2
            }
            opt::TCPAO => {
                let datalen = len - 2;
                if datalen < 2 {
                    out.invalid();
                } else {
                    need(1, left)?;
                    out.put(format_args!(" keyid {}", u8_at(seg, at)?));
                    need(2, left)?;
                    out.put(format_args!(" rnextkeyid {}", u8_at(seg, at + 1)?));
                    if datalen > 2 {
                        out.s(" mac 0x");
                        for i in 2..datalen {
                            need(i + 1, left)?;
                            out.put(format_args!("{:02x}", u8_at(seg, at + i)?));
                        }
                    }
                }
                datalen
            }
            opt::EOL | opt::NOP | opt::SACKOK => 0,
            opt::UTO => {
                need(2, left)?;
                let raw = u16_at(seg, at)?;
                out.put(format_args!(" 0x{raw:x}"));
                // RFC 5482 §3: granularity bit selects minutes or seconds.
                let secs = if raw & 1 != 0 {
                    u32::from(raw >> 1) * 60
                } else {
                    u32::from(raw >> 1)
                };
                out.put(format_args!(" {secs}"));
                2
            }
            opt::FASTOPEN => {
                let datalen = len - 2;
                need(datalen, left)?;
                out.s(" ");
                fastopen(out, seg, at, datalen, false)?;
                datalen
            }
            opt::MPTCP => {
                let datalen = len - 2;
                need(datalen, left)?;
                // The decoder sees only this option's bytes.
                let option = seg.get(at - 2..at + datalen).unwrap_or(&[]);
                if !super::mptcp::print(out, option, len, flags)? {
                    return Err(Stop::Bad);
                }
                datalen
            }
            opt::EXPERIMENT2 => {
                let datalen = len - 2;
                need(datalen, left)?;
                if datalen < 2 {
                    return Err(Stop::Bad);
                }
                let magic = u16_at(seg, at)?;
                out.s("-");
                if magic == 0xF989 {
                    fastopen(out, seg, at + 2, datalen - 2, true)?;
                } else {
                    out.put(format_args!("{magic:04x}"));
                }
                datalen
            }
            _ => {
                // Unknown kinds print their bytes in hex.
                let datalen = len - 2;
                if datalen > 0 {
                    out.s(" 0x");
                }
                for i in 0..datalen {
                    need(i + 1, left)?;
                    out.put(format_args!("{:02x}", u8_at(seg, at + i)?));
                }
                datalen
            }
        };
        at += datalen;
        left -= datalen;
        let declared = datalen
            + if kind == opt::EOL || kind == opt::NOP {
                1
            } else {
                2
            };
        if declared != len {
            out.put(format_args!("[len {len}]"));
        }
        *first = false;
        if kind == opt::EOL {
            break;
        }
    }
    Ok(())
}

fn hex(out: &mut Out, seg: &[u8], at: usize, n: usize) -> Res {
    for i in 0..n {
        out.put(format_args!("{:02x}", u8_at(seg, at + i)?));
    }
    Ok(())
}

/// TCP Fast Open cookie (RFC 7413 §4.1.1).
fn fastopen(out: &mut Out, seg: &[u8], at: usize, datalen: usize, experimental: bool) -> Res {
    if experimental {
        out.s("tfo");
    }
    if datalen == 0 {
        out.s(" cookiereq");
    } else if datalen & 1 != 0 || !(4..=16).contains(&datalen) {
        out.invalid();
    } else {
        out.s(" cookie ");
        hex(out, seg, at, datalen)?;
    }
    Ok(())
}

/// Request methods tcpdump recognises on the HTTP ports.
const HTTP_METHODS: &[&str] = &[
    "GET",
    "PUT",
    "COPY",
    "HEAD",
    "LOCK",
    "MOVE",
    "POLL",
    "POST",
    "BCOPY",
    "BMOVE",
    "MKCOL",
    "TRACE",
    "LABEL",
    "MERGE",
    "DELETE",
    "SEARCH",
    "UNLOCK",
    "REPORT",
    "UPDATE",
    "NOTIFY",
    "BDELETE",
    "CONNECT",
    "OPTIONS",
    "CHECKIN",
    "PROPFIND",
    "CHECKOUT",
    "CCM_POST",
    "SUBSCRIBE",
    "PROPPATCH",
    "BPROPFIND",
    "BPROPPATCH",
    "UNCHECKOUT",
    "MKACTIVITY",
    "MKWORKSPACE",
    "UNSUBSCRIBE",
    "RPC_CONNECT",
    "VERSION-CONTROL",
    "BASELINE-CONTROL",
];

/// Longest token tcpdump compares.
const MAX_TOKEN: usize = 128;

/// `HTTP`, plus `: <first line>` when the payload starts like a request
/// or response.
fn http(out: &mut Out, payload: &[u8], len: usize) -> Res {
    out.protocol("http");
    let data = payload.get(..len.min(payload.len())).unwrap_or(payload);
    let mut print_line = false;
    if let Some((first, next)) = token(data, 0, len) {
        if HTTP_METHODS.iter().any(|m| m.eq_ignore_ascii_case(first)) {
            print_line = true;
        }
        // A response: the second token is a three-digit status.
        if let Some((second, _)) = token(data, next, len) {
            let b = second.as_bytes();
            if b.len() == 3 && b.iter().all(u8::is_ascii_digit) {
                print_line = true;
            }
        }
    }
    out.s("HTTP");
    if print_line {
        first_line(out, data, len)?;
    }
    Ok(())
}

/// The token starting at `from` and the index after it and its trailing
/// blanks, as tcpdump's `fetch_token` reads it.
fn token(data: &[u8], from: usize, len: usize) -> Option<(&str, usize)> {
    let mut i = from;
    let start = from;
    while i < len {
        let c = *data.get(i)?;
        if !c.is_ascii() {
            return None;
        }
        if matches!(c, b' ' | b'\t' | b'\r' | b'\n') {
            break;
        }
        if !(0x20..=0x7E).contains(&c) || i - start + 2 > MAX_TOKEN + 1 {
            return None;
        }
        i += 1;
    }
    if i == start {
        return None;
    }
    let tok = std::str::from_utf8(data.get(start..i)?).ok()?;
    while i < len {
        let Some(&c) = data.get(i) else { break };
        if c == b'\r' || c == b'\n' || !(0x20..=0x7E).contains(&c) || !matches!(c, b' ' | b'\t') {
            break;
        }
        i += 1;
    }
    Some((tok, i))
}

/// `: <first line>` if it is printable text ending in LF or CRLF; if the
/// text runs to the end without a line end, tcpdump prints it and marks
/// it truncated; binary data prints nothing.
fn first_line(out: &mut Out, data: &[u8], len: usize) -> Res {
    let mut i = 0;
    while i < len {
        let c = u8_at(data, i)?;
        if c == b'\n' {
            line(out, data, i);
            return Ok(());
        } else if c == b'\r' {
            if i + 1 >= len {
                return Ok(());
            }
            if u8_at(data, i + 1)? == b'\n' {
                line(out, data, i);
            }
            return Ok(());
        } else if !(0x20..=0x7E).contains(&c) && c != b'\t' {
            return Ok(());
        }
        i += 1;
    }
    line(out, data, i);
    out.trunc();
    Ok(())
}

fn line(out: &mut Out, data: &[u8], end: usize) {
    let text = data.get(..end).unwrap_or(&[]);
    out.s(": ");
    out.s(&String::from_utf8_lossy(text));
}
