//! TCP sequence numbers with modulo-2^32 arithmetic (RFC 9293 §3.4).

use std::cmp::Ordering;
use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// A 32-bit TCP sequence number.
///
/// RFC 9293 §3.4: "all arithmetic dealing with sequence numbers must be
/// performed modulo 2**32". Addition and subtraction wrap, and ordering is
/// decided by the sign of the wrapping difference: `a < b` iff
/// `(a - b) as i32 < 0`.
///
/// That ordering is **not transitive** across a span of 2^31 or more: with
/// `a = 0`, `b = 2^30`, `c = 2^31 + 2^30` we get `a < b`, `b < c` and
/// `c < a`. It is only meaningful for numbers within 2^31 of each other,
/// which TCP guarantees for numbers inside one window. Do not sort large
/// collections of unrelated sequence numbers with it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SeqNumber(pub u32);

impl SeqNumber {
    /// The later of two sequence numbers (by wrapping order).
    #[must_use]
    pub fn max(self, other: SeqNumber) -> SeqNumber {
        if self < other {
            other
        } else {
            self
        }
    }

    /// The earlier of two sequence numbers (by wrapping order).
    #[must_use]
    pub fn min(self, other: SeqNumber) -> SeqNumber {
        if self > other {
            other
        } else {
            self
        }
    }

    /// `start <= self < end`, measured modulo 2^32 from `start`.
    ///
    /// The range is half-open and may wrap past zero; an empty range
    /// (`start == end`) contains nothing. Measuring both ends as offsets from
    /// `start` keeps this correct for any window smaller than 2^32.
    #[must_use]
    pub fn in_range(self, start: SeqNumber, end: SeqNumber) -> bool {
        self.distance_from(start) < end.distance_from(start)
    }

    /// How far `self` lies after `earlier`, modulo 2^32 (`self - earlier`
    /// as an unsigned wrapping difference).
    #[must_use]
    pub fn distance_from(self, earlier: SeqNumber) -> u32 {
        self.0.wrapping_sub(earlier.0)
    }
}

impl Add<u32> for SeqNumber {
    type Output = SeqNumber;
    fn add(self, rhs: u32) -> SeqNumber {
        SeqNumber(self.0.wrapping_add(rhs))
    }
}

impl AddAssign<u32> for SeqNumber {
    fn add_assign(&mut self, rhs: u32) {
        self.0 = self.0.wrapping_add(rhs);
    }
}

impl Sub<u32> for SeqNumber {
    type Output = SeqNumber;
    fn sub(self, rhs: u32) -> SeqNumber {
        SeqNumber(self.0.wrapping_sub(rhs))
    }
}

impl Sub<SeqNumber> for SeqNumber {
    /// Signed wrapping distance `self - rhs`: positive when `self` is later.
    type Output = i32;
    fn sub(self, rhs: SeqNumber) -> i32 {
        self.0.wrapping_sub(rhs.0) as i32
    }
}

impl PartialOrd for SeqNumber {
    fn partial_cmp(&self, other: &SeqNumber) -> Option<Ordering> {
        // RFC 9293 §3.4: comparisons are modulo 2^32; the sign of the
        // wrapping difference says which number is "earlier".
        Some((*self - *other).cmp(&0))
    }
}

impl fmt::Debug for SeqNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for SeqNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
