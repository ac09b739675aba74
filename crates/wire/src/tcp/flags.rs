//! The TCP control bits (RFC 9293 §3.1, RFC 3168 §6.1 for ECE/CWR).

use std::fmt;
use std::ops::{BitOr, BitOrAssign};

/// The eight TCP control bits of header byte 13.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    /// No more data from sender.
    pub const FIN: TcpFlags = TcpFlags(0x01);
    /// Synchronize sequence numbers.
    pub const SYN: TcpFlags = TcpFlags(0x02);
    /// Reset the connection.
    pub const RST: TcpFlags = TcpFlags(0x04);
    /// Push function.
    pub const PSH: TcpFlags = TcpFlags(0x08);
    /// Acknowledgment field is significant.
    pub const ACK: TcpFlags = TcpFlags(0x10);
    /// Urgent pointer field is significant.
    pub const URG: TcpFlags = TcpFlags(0x20);
    /// ECN-Echo (RFC 3168).
    pub const ECE: TcpFlags = TcpFlags(0x40);
    /// Congestion Window Reduced (RFC 3168).
    pub const CWR: TcpFlags = TcpFlags(0x80);

    /// No flags set.
    #[must_use]
    pub fn empty() -> TcpFlags {
        TcpFlags(0)
    }

    /// The raw bits.
    #[must_use]
    pub fn bits(self) -> u8 {
        self.0
    }

    /// `true` if every bit of `flags` is set in `self`.
    #[must_use]
    pub fn contains(self, flags: TcpFlags) -> bool {
        self.0 & flags.0 == flags.0
    }

    /// `true` if no bit is set.
    #[must_use]
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Sets the bits of `flags`.
    pub fn insert(&mut self, flags: TcpFlags) {
        self.0 |= flags.0;
    }

    /// Clears the bits of `flags`.
    pub fn remove(&mut self, flags: TcpFlags) {
        self.0 &= !flags.0;
    }

    /// FIN is set.
    #[must_use]
    pub fn fin(self) -> bool {
        self.contains(Self::FIN)
    }

    /// SYN is set.
    #[must_use]
    pub fn syn(self) -> bool {
        self.contains(Self::SYN)
    }

    /// RST is set.
    #[must_use]
    pub fn rst(self) -> bool {
        self.contains(Self::RST)
    }

    /// PSH is set.
    #[must_use]
    pub fn psh(self) -> bool {
        self.contains(Self::PSH)
    }

    /// ACK is set.
    #[must_use]
    pub fn ack(self) -> bool {
        self.contains(Self::ACK)
    }

    /// URG is set.
    #[must_use]
    pub fn urg(self) -> bool {
        self.contains(Self::URG)
    }

    /// ECE is set.
    #[must_use]
    pub fn ece(self) -> bool {
        self.contains(Self::ECE)
    }

    /// CWR is set.
    #[must_use]
    pub fn cwr(self) -> bool {
        self.contains(Self::CWR)
    }
}

impl BitOr for TcpFlags {
    type Output = TcpFlags;
    fn bitor(self, rhs: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | rhs.0)
    }
}

impl BitOrAssign for TcpFlags {
    fn bitor_assign(&mut self, rhs: TcpFlags) {
        self.0 |= rhs.0;
    }
}

/// Names in bit order, for `Debug`.
const NAMES: [(TcpFlags, &str); 8] = [
    (TcpFlags::FIN, "FIN"),
    (TcpFlags::SYN, "SYN"),
    (TcpFlags::RST, "RST"),
    (TcpFlags::PSH, "PSH"),
    (TcpFlags::ACK, "ACK"),
    (TcpFlags::URG, "URG"),
    (TcpFlags::ECE, "ECE"),
    (TcpFlags::CWR, "CWR"),
];

impl fmt::Debug for TcpFlags {
    /// `SYN|ACK`, or `(empty)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("(empty)");
        }
        let mut first = true;
        for (flag, name) in NAMES {
            if self.contains(flag) {
                if !first {
                    f.write_str("|")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        Ok(())
    }
}

impl fmt::Display for TcpFlags {
    /// tcpdump's notation: `S.`, `P.`, `F.`, `R`, or `none`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // tcpdump prints F S R P . U E W in this order ("W" is CWR).
        const ORDER: [(TcpFlags, char); 8] = [
            (TcpFlags::FIN, 'F'),
            (TcpFlags::SYN, 'S'),
            (TcpFlags::RST, 'R'),
            (TcpFlags::PSH, 'P'),
            (TcpFlags::ACK, '.'),
            (TcpFlags::URG, 'U'),
            (TcpFlags::ECE, 'E'),
            (TcpFlags::CWR, 'W'),
        ];
        if self.is_empty() {
            return f.write_str("none");
        }
        for (flag, c) in ORDER {
            if self.contains(flag) {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}
