//! TCP options: parsing (RFC 9293 §3.2) and emission in the layout Linux
//! uses (RFC 7323 Appendix A), so our captures read like Linux's.

use std::fmt;

use crate::error::{OptionError, ParseError};
use crate::seq::SeqNumber;

/// Option kinds (IANA "TCP Option Kind Numbers").
pub mod kind {
    /// End of Option List (RFC 9293 §3.2).
    pub const EOL: u8 = 0;
    /// No-Operation (RFC 9293 §3.2).
    pub const NOP: u8 = 1;
    /// Maximum Segment Size (RFC 9293 §3.2).
    pub const MSS: u8 = 2;
    /// Window Scale (RFC 7323 §2).
    pub const WINDOW_SCALE: u8 = 3;
    /// SACK-Permitted (RFC 2018 §2).
    pub const SACK_PERMITTED: u8 = 4;
    /// SACK (RFC 2018 §3).
    pub const SACK: u8 = 5;
    /// Timestamps (RFC 7323 §3).
    pub const TIMESTAMPS: u8 = 8;
}

/// Option lengths fixed by their RFCs.
mod len {
    pub const MSS: u8 = 4;
    pub const WINDOW_SCALE: u8 = 3;
    pub const SACK_PERMITTED: u8 = 2;
    pub const TIMESTAMPS: u8 = 10;
    /// Kind + length bytes of a SACK option; each block adds 8.
    pub const SACK_BASE: u8 = 2;
    pub const SACK_BLOCK: u8 = 8;
}

/// The most option bytes a header can carry: data offset 15 words minus
/// the 20-byte fixed header (RFC 9293 §3.1).
pub const MAX_OPTIONS_LEN: usize = 40;

/// The RFC 7323 §3 timestamps option.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub struct Timestamps {
    /// TSval: the sender's timestamp clock.
    pub tsval: u32,
    /// TSecr: the echoed TSval (meaningful when ACK is set).
    pub tsecr: u32,
}

/// Up to four SACK blocks (RFC 2018 §3), each `(left, right)`: the first
/// sequence number of a received block and the one just past it.
#[derive(Clone, Copy, Default)]
pub struct SackBlocks {
    blocks: [(SeqNumber, SeqNumber); SackBlocks::MAX],
    len: u8,
}

impl SackBlocks {
    /// The most blocks one option can carry (40 option bytes: 2 + 4 * 8).
    pub const MAX: usize = 4;

    /// No blocks.
    #[must_use]
    pub fn new() -> SackBlocks {
        SackBlocks::default()
    }

    /// Appends a block; returns `false` (and changes nothing) if full.
    pub fn push(&mut self, left: SeqNumber, right: SeqNumber) -> bool {
        match self.blocks.get_mut(usize::from(self.len)) {
            Some(slot) => {
                *slot = (left, right);
                self.len += 1;
                true
            }
            None => false,
        }
    }

    /// Number of blocks.
    #[must_use]
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// `true` if there are no blocks.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The blocks in order.
    pub fn iter(&self) -> impl Iterator<Item = (SeqNumber, SeqNumber)> + '_ {
        self.as_slice().iter().copied()
    }

    /// The blocks as a slice.
    #[must_use]
    pub fn as_slice(&self) -> &[(SeqNumber, SeqNumber)] {
        self.blocks.get(..self.len()).unwrap_or(&[])
    }

    /// Keeps the first `n` blocks.
    pub fn truncate(&mut self, n: usize) {
        if n < self.len() {
            for slot in self.blocks.iter_mut().skip(n) {
                *slot = (SeqNumber(0), SeqNumber(0));
            }
            self.len = n as u8;
        }
    }

    /// Removes all blocks.
    pub fn clear(&mut self) {
        self.truncate(0);
    }
}

impl PartialEq for SackBlocks {
    fn eq(&self, other: &SackBlocks) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for SackBlocks {}

impl std::hash::Hash for SackBlocks {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state);
    }
}

impl fmt::Debug for SackBlocks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

impl FromIterator<(SeqNumber, SeqNumber)> for SackBlocks {
    /// Collects up to [`SackBlocks::MAX`] blocks; later ones are dropped.
    fn from_iter<I: IntoIterator<Item = (SeqNumber, SeqNumber)>>(iter: I) -> SackBlocks {
        let mut blocks = SackBlocks::new();
        for (l, r) in iter.into_iter().take(SackBlocks::MAX) {
            blocks.push(l, r);
        }
        blocks
    }
}

/// The TCP options this stack understands. Unknown options are skipped on
/// parse and never emitted.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Hash)]
pub struct TcpOptions {
    /// Maximum segment size (RFC 9293 §3.7.1), SYN only.
    pub mss: Option<u16>,
    /// Window scale shift as received; RFC 7323 §2.3 says values above 14
    /// are used as 14, which the core applies.
    pub window_scale: Option<u8>,
    /// SACK-Permitted (RFC 2018 §2), SYN only.
    pub sack_permitted: bool,
    /// Timestamps (RFC 7323 §3).
    pub timestamps: Option<Timestamps>,
    /// SACK blocks (RFC 2018 §3).
    pub sack_blocks: SackBlocks,
}

impl TcpOptions {
    /// Parses the options area of a TCP header (bytes 20..data offset).
    ///
    /// RFC 9293 §3.2: EOL ends the list; NOP is one byte; every other
    /// option has a length byte that counts kind and length. Unknown kinds
    /// are skipped by their length (RFC 9293 §3.2 "must be prepared to
    /// handle an illegal option length"). A later duplicate overrides an
    /// earlier one.
    pub fn parse(options: &[u8]) -> Result<TcpOptions, ParseError> {
        let mut out = TcpOptions::default();
        let mut at = 0;
        while let Some(&kind) = options.get(at) {
            let bad = |reason| ParseError::BadOption {
                offset: super::packet::HEADER_LEN + at,
                kind,
                reason,
            };
            match kind {
                // RFC 9293 §3.2: End of Option List ends the list; NOP is
                // a single byte.
                kind::EOL => break,
                kind::NOP => {
                    at += 1;
                    continue;
                }
                _ => {}
            }
            let length = *options
                .get(at + 1)
                .ok_or_else(|| bad(OptionError::PastEnd))?;
            // RFC 9293 §3.2: the length counts kind and length bytes, so
            // 0 and 1 are illegal (and 0 would loop forever).
            match length {
                0 => return Err(bad(OptionError::ZeroLength)),
                1 => return Err(bad(OptionError::LengthOne)),
                _ => {}
            }
            let body = options
                .get(at + 2..at + usize::from(length))
                .ok_or_else(|| bad(OptionError::PastEnd))?;
            let require_len = |expected: u8| {
                if length == expected {
                    Ok(())
                } else {
                    Err(bad(OptionError::WrongLength {
                        expected,
                        found: length,
                    }))
                }
            };
            match kind {
                kind::MSS => {
                    // RFC 9293 §3.2: MSS is kind 2, length 4.
                    require_len(len::MSS)?;
                    out.mss = Some(be_u16(body));
                }
                kind::WINDOW_SCALE => {
                    // RFC 7323 §2.2: Window Scale is kind 3, length 3.
                    require_len(len::WINDOW_SCALE)?;
                    out.window_scale = body.first().copied();
                }
                kind::SACK_PERMITTED => {
                    // RFC 2018 §2: SACK-Permitted is kind 4, length 2.
                    require_len(len::SACK_PERMITTED)?;
                    out.sack_permitted = true;
                }
                kind::TIMESTAMPS => {
                    // RFC 7323 §3.2: Timestamps is kind 8, length 10.
                    require_len(len::TIMESTAMPS)?;
                    out.timestamps = Some(Timestamps {
                        tsval: be_u32(body.get(0..4)),
                        tsecr: be_u32(body.get(4..8)),
                    });
                }
                kind::SACK => {
                    // RFC 2018 §3: length 2 + 8n; n is 1 to 4 in 40 bytes.
                    let blocks = usize::from(length.saturating_sub(len::SACK_BASE))
                        / usize::from(len::SACK_BLOCK);
                    let well_formed = blocks * usize::from(len::SACK_BLOCK)
                        + usize::from(len::SACK_BASE)
                        == usize::from(length);
                    if !well_formed || blocks == 0 || blocks > SackBlocks::MAX {
                        let nearest = blocks.clamp(1, SackBlocks::MAX) as u8;
                        require_len(len::SACK_BASE + nearest * len::SACK_BLOCK)?;
                    }
                    out.sack_blocks = body
                        .chunks_exact(8)
                        .map(|b| {
                            (
                                SeqNumber(be_u32(b.get(0..4))),
                                SeqNumber(be_u32(b.get(4..8))),
                            )
                        })
                        .collect();
                }
                // RFC 9293 §3.2: unknown options are skipped by length.
                _ => {}
            }
            at += usize::from(length);
        }
        Ok(out)
    }

    /// `true` if no option is present.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        *self == TcpOptions::default()
    }

    /// Bytes the options take when emitted: a multiple of 4, possibly
    /// more than [`MAX_OPTIONS_LEN`] (which emission then refuses).
    #[must_use]
    pub fn emitted_len(&self) -> usize {
        let mut n = 0;
        if self.mss.is_some() {
            n += 4;
        }
        if self.timestamps.is_some() {
            // [sackOK | nop nop] TS: 12 bytes either way.
            n += 12;
        } else if self.sack_permitted {
            n += 4;
        }
        if self.window_scale.is_some() {
            n += 4;
        }
        if !self.sack_blocks.is_empty() {
            n += 4 + 8 * self.sack_blocks.len();
        }
        n
    }

    /// How many SACK blocks fit beside the other options present (RFC 2018
    /// §3: "at most 3 with timestamps").
    #[must_use]
    pub fn sack_block_capacity(&self) -> usize {
        let others = TcpOptions {
            sack_blocks: SackBlocks::new(),
            ..*self
        }
        .emitted_len();
        (MAX_OPTIONS_LEN.saturating_sub(others).saturating_sub(4) / 8).min(SackBlocks::MAX)
    }

    /// Writes the options into `buf` in Linux's 4-byte-aligned layout and
    /// returns the number of bytes written ([`TcpOptions::emitted_len`]).
    ///
    /// Order: MSS; then sackOK+TS, or nop nop TS, or nop nop sackOK; then
    /// nop wscale; then nop nop SACK blocks. A SYN with everything gives
    /// `mss, sackOK, TS, nop, wscale` (20 bytes), as RFC 7323 Appendix A
    /// suggests and Linux sends. The caller ensures `buf` is long enough.
    pub(crate) fn emit(&self, buf: &mut [u8]) -> usize {
        let mut w = Writer { buf, at: 0 };
        if let Some(mss) = self.mss {
            w.bytes(&[kind::MSS, len::MSS]);
            w.bytes(&mss.to_be_bytes());
        }
        if let Some(ts) = self.timestamps {
            if self.sack_permitted {
                w.bytes(&[kind::SACK_PERMITTED, len::SACK_PERMITTED]);
            } else {
                w.bytes(&[kind::NOP, kind::NOP]);
            }
            w.bytes(&[kind::TIMESTAMPS, len::TIMESTAMPS]);
            w.bytes(&ts.tsval.to_be_bytes());
            w.bytes(&ts.tsecr.to_be_bytes());
        } else if self.sack_permitted {
            w.bytes(&[
                kind::NOP,
                kind::NOP,
                kind::SACK_PERMITTED,
                len::SACK_PERMITTED,
            ]);
        }
        if let Some(shift) = self.window_scale {
            w.bytes(&[kind::NOP, kind::WINDOW_SCALE, len::WINDOW_SCALE, shift]);
        }
        if !self.sack_blocks.is_empty() {
            let option_len = len::SACK_BASE + len::SACK_BLOCK * self.sack_blocks.len() as u8;
            w.bytes(&[kind::NOP, kind::NOP, kind::SACK, option_len]);
            for (left, right) in self.sack_blocks.iter() {
                w.bytes(&left.0.to_be_bytes());
                w.bytes(&right.0.to_be_bytes());
            }
        }
        w.at
    }
}

/// Appends bytes to a buffer, dropping any that do not fit.
struct Writer<'b> {
    buf: &'b mut [u8],
    at: usize,
}

impl Writer<'_> {
    fn bytes(&mut self, bytes: &[u8]) {
        if let Some(dst) = self.buf.get_mut(self.at..self.at + bytes.len()) {
            dst.copy_from_slice(bytes);
        }
        self.at += bytes.len();
    }
}

fn be_u16(b: &[u8]) -> u16 {
    match b {
        [x, y, ..] => u16::from_be_bytes([*x, *y]),
        _ => 0,
    }
}

fn be_u32(b: Option<&[u8]>) -> u32 {
    match b {
        Some([a, b, c, d]) => u32::from_be_bytes([*a, *b, *c, *d]),
        _ => 0,
    }
}
