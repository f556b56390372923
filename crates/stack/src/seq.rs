//! TCP sequence numbers: 32-bit values compared modulo 2³² (RFC 9293 §3.4).

use std::cmp::Ordering;
use std::fmt;
use std::ops::{Add, Sub};

/// A sequence number. Ordering is defined on the circle of 2³² values: `a < b` when `b` lies
/// less than 2³¹ ahead of `a`, so comparisons keep working when the numbers wrap.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SeqNum(pub u32);

impl SeqNum {
    /// The distance from `earlier` to `self`, assuming `self` is not behind.
    pub fn since(self, earlier: SeqNum) -> u32 {
        self.0.wrapping_sub(earlier.0)
    }
}

impl PartialOrd for SeqNum {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SeqNum {
    fn cmp(&self, other: &Self) -> Ordering {
        // The sign of the wrapped difference says which is ahead (RFC 1982-style arithmetic).
        (self.0.wrapping_sub(other.0) as i32).cmp(&0)
    }
}

impl Add<u32> for SeqNum {
    type Output = SeqNum;
    fn add(self, rhs: u32) -> SeqNum {
        SeqNum(self.0.wrapping_add(rhs))
    }
}

impl Sub<u32> for SeqNum {
    type Output = SeqNum;
    fn sub(self, rhs: u32) -> SeqNum {
        SeqNum(self.0.wrapping_sub(rhs))
    }
}

impl fmt::Display for SeqNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for SeqNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SeqNum({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparison_survives_wrap_around() {
        let near_end = SeqNum(u32::MAX - 10);
        let wrapped = near_end + 20;
        assert_eq!(wrapped, SeqNum(9));
        assert!(near_end < wrapped);
        assert!(wrapped > near_end);
        assert_eq!(wrapped.since(near_end), 20);
        assert_eq!(wrapped - 20, near_end);
    }

    #[test]
    fn ordinary_comparison() {
        assert!(SeqNum(1) < SeqNum(2));
        assert!(SeqNum(2) <= SeqNum(2));
        assert_eq!(SeqNum(5).max(SeqNum(7)), SeqNum(7));
    }
}
