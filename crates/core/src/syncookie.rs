//! SYN cookies (RFC 4987 §3.6): when a listener's SYN queue is full, the state a half-open
//! connection would hold is folded into the ISN of a stateless SYN-ACK, and rebuilt from the
//! acknowledgment number of the handshake's final ACK.
//!
//! The cookie is `MAC & !3 | mss_index`: a keyed hash (SipHash-2-4 with a key derived from the
//! stack's seed) of the 4-tuple, the peer's ISN, a 64-second time slot and the MSS index, whose
//! two low bits are replaced by the index into a small MSS table (as Linux's
//! `msstab` {536, 1300, 1440, 1460}). A cookie is accepted in its own slot and the next (as
//! Linux: up to about two minutes). Window scale and SACK-permitted do not fit in the ISN: as on
//! Linux they ride in the low bits of our TSval, which the peer echoes in TSecr; without
//! timestamps those options are not available to a cookie connection.

use crate::secrets::Secrets;
use crate::time::Instant;
use std::net::SocketAddr;
use synack_wire::SeqNumber;

/// MSS values an IPv4 cookie can encode (Linux `msstab`).
pub const MSS_TABLE_V4: [u16; 4] = [536, 1300, 1440, 1460];
/// MSS values an IPv6 cookie can encode (Linux `msstab` for IPv6: 1280, 1480, 1500 and 9000
/// byte MTUs less 60 bytes of headers).
pub const MSS_TABLE_V6: [u16; 4] = [1220, 1420, 1440, 8940];
/// Length of one time slot of the cookie clock, seconds (Linux: 64).
pub const SLOT_SECS: u64 = 64;

/// The low bits of the cookie that carry the MSS index.
const MSS_INDEX_MASK: u32 = 0b11;
/// TSval bits that carry options: 4 bits of the peer's window scale, then SACK-permitted.
const TS_OPT_BITS: u32 = 5;
const TS_OPT_MASK: u32 = (1 << TS_OPT_BITS) - 1;
const TS_WSCALE_MASK: u32 = 0xF;
/// A window scale field of all ones: the peer sent no window scale option.
const TS_WSCALE_NONE: u32 = 0xF;
const TS_SACK_BIT: u32 = 1 << 4;

/// The SYN options a cookie remembers through the timestamp echo.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct CookieOptions {
    /// The peer's window scale shift (RFC 7323 §2.2), if it sent the option.
    pub window_scale: Option<u8>,
    /// The peer sent SACK-permitted (RFC 2018 §2).
    pub sack: bool,
}

/// Encodes and checks SYN cookies with a stack's secret key.
#[derive(Clone, Debug)]
pub struct SynCookies {
    secrets: Secrets,
}

impl SynCookies {
    /// The cookies a stack created with `Stack::new(config, seed)` sends and accepts.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        SynCookies {
            secrets: Secrets::from_seed(seed).0,
        }
    }

    pub(crate) fn from_secrets(secrets: Secrets) -> Self {
        SynCookies { secrets }
    }

    /// The cookie (our ISN) answering a SYN from `remote` to `local` whose sequence number is
    /// `peer_isn` and whose MSS option was `peer_mss` (None: no option). Also returns the MSS
    /// the cookie encodes (the largest table entry not above the peer's).
    pub fn encode(
        &self,
        local: SocketAddr,
        remote: SocketAddr,
        peer_isn: SeqNumber,
        peer_mss: Option<u16>,
        now: Instant,
    ) -> (SeqNumber, u16) {
        let table = mss_table(remote);
        let index = mss_index(table, peer_mss.unwrap_or(table[0]));
        let mac = self
            .secrets
            .cookie_mac(local, remote, peer_isn.0, slot(now), index);
        let cookie = (mac & !MSS_INDEX_MASK) | u32::from(index);
        (SeqNumber(cookie), table[usize::from(index)])
    }

    /// Checks `cookie` (the ACK's acknowledgment number less one) for the connection whose
    /// peer ISN is `peer_isn` (the ACK's sequence number less one); Some(MSS) when it was
    /// issued in the current or the previous time slot.
    pub fn decode(
        &self,
        local: SocketAddr,
        remote: SocketAddr,
        peer_isn: SeqNumber,
        cookie: SeqNumber,
        now: Instant,
    ) -> Option<u16> {
        let index = (cookie.0 & MSS_INDEX_MASK) as u8;
        let current = slot(now);
        // RFC 4987 §3.6: a cookie is only good for a short while; two slots as Linux.
        let valid = [current, current.wrapping_sub(1)].into_iter().any(|s| {
            let mac = self.secrets.cookie_mac(local, remote, peer_isn.0, s, index);
            mac & !MSS_INDEX_MASK == cookie.0 & !MSS_INDEX_MASK
        });
        if !valid {
            return None;
        }
        mss_table(remote).get(usize::from(index)).copied()
    }
}

/// The cookie clock: 64-second slots since the stack's epoch.
fn slot(now: Instant) -> u32 {
    (now.total_micros() / 1_000_000 / SLOT_SECS) as u32
}

fn mss_table(remote: SocketAddr) -> &'static [u16; 4] {
    if remote.is_ipv4() {
        &MSS_TABLE_V4
    } else {
        &MSS_TABLE_V6
    }
}

/// The largest entry not above `mss`; the smallest entry when all are above (as Linux).
fn mss_index(table: &[u16; 4], mss: u16) -> u8 {
    table.iter().rposition(|&m| m <= mss).unwrap_or(0) as u8
}

/// Our TSval for a cookie SYN-ACK: `ts_now` with its low bits replaced by the options, moved one
/// step back if that put it ahead of `ts_now`, so the connection's later TSvals never go
/// backwards (RFC 7323 §5.4 monotonic clock).
pub fn encode_tsval(ts_now: u32, options: CookieOptions) -> u32 {
    let wscale = options
        .window_scale
        .map_or(TS_WSCALE_NONE, |s| u32::from(s.min(14)));
    let bits = wscale | if options.sack { TS_SACK_BIT } else { 0 };
    let tsval = (ts_now & !TS_OPT_MASK) | bits;
    if (tsval.wrapping_sub(ts_now) as i32) > 0 {
        tsval.wrapping_sub(1 << TS_OPT_BITS)
    } else {
        tsval
    }
}

/// The options a cookie SYN-ACK's TSval carried, from the TSecr that echoes it.
pub fn decode_tsecr(tsecr: u32) -> CookieOptions {
    let wscale = tsecr & TS_WSCALE_MASK;
    CookieOptions {
        // RFC 7323 §2.3: a shift above 14 is used as 14; 15 is our "no option" mark.
        window_scale: (wscale != TS_WSCALE_NONE).then_some(wscale.min(14) as u8),
        sack: tsecr & TS_SACK_BIT != 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsval_keeps_options_and_never_runs_ahead() {
        for ts_now in [0u32, 31, 32, 1000, u32::MAX] {
            for opts in [
                CookieOptions::default(),
                CookieOptions {
                    window_scale: Some(7),
                    sack: true,
                },
                CookieOptions {
                    window_scale: Some(0),
                    sack: false,
                },
            ] {
                let v = encode_tsval(ts_now, opts);
                assert_eq!(decode_tsecr(v), opts, "ts_now {ts_now}");
                let behind = ts_now.wrapping_sub(v);
                assert!(behind < 32, "tsval {v} vs now {ts_now}");
            }
        }
    }

    #[test]
    fn mss_index_picks_largest_entry_not_above() {
        assert_eq!(mss_index(&MSS_TABLE_V4, 1460), 3);
        assert_eq!(mss_index(&MSS_TABLE_V4, 1459), 2);
        assert_eq!(mss_index(&MSS_TABLE_V4, 9000), 3);
        assert_eq!(mss_index(&MSS_TABLE_V4, 536), 0);
        assert_eq!(mss_index(&MSS_TABLE_V4, 100), 0);
    }
}
