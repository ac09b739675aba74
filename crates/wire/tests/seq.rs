//! SeqNumber arithmetic and ordering, especially across the 2^32 wrap.

use proptest::prelude::*;
use synack_wire::SeqNumber;

#[test]
fn ordering_across_wrap() {
    let before = SeqNumber(u32::MAX - 10);
    let after = SeqNumber(5);
    assert!(
        before < after,
        "a number just below 2^32 precedes a small one"
    );
    assert!(after > before);
    assert_eq!(after - before, 16);
    assert_eq!(before - after, -16);
    assert_eq!(before + 16, after);
    assert_eq!(after - 16u32, before);
    assert_eq!(after.distance_from(before), 16);
    assert_eq!(before.max(after), after);
    assert_eq!(after.max(before), after);
    assert_eq!(before.min(after), before);
}

#[test]
fn add_assign_wraps() {
    let mut s = SeqNumber(u32::MAX);
    s += 2;
    assert_eq!(s, SeqNumber(1));
}

#[test]
fn in_range_half_open_and_wrapping() {
    let start = SeqNumber(u32::MAX - 1);
    let end = SeqNumber(3);
    for v in [u32::MAX - 1, u32::MAX, 0, 1, 2] {
        assert!(SeqNumber(v).in_range(start, end), "{v} should be in range");
    }
    for v in [3, 4, u32::MAX - 2, 1 << 31] {
        assert!(
            !SeqNumber(v).in_range(start, end),
            "{v} should be out of range"
        );
    }
    assert!(
        !SeqNumber(7).in_range(SeqNumber(7), SeqNumber(7)),
        "empty range"
    );
}

#[test]
fn ordering_is_not_transitive_across_half_space() {
    // Documented limitation: only numbers within 2^31 compare meaningfully.
    let a = SeqNumber(0);
    let b = SeqNumber(1 << 30);
    let c = SeqNumber((1 << 31) + (1 << 30));
    assert!(a < b && b < c && c < a);
}

#[test]
fn display_and_debug_are_plain() {
    assert_eq!(format!("{}", SeqNumber(3_626_544_836)), "3626544836");
    assert_eq!(format!("{:?}", SeqNumber(7)), "7");
}

proptest! {
    #[test]
    fn add_then_compare(base in any::<u32>(), delta in 1u32..(1 << 31)) {
        let a = SeqNumber(base);
        let b = a + delta;
        prop_assert!(a < b);
        prop_assert!(b > a);
        prop_assert!(a <= b);
        prop_assert!(b >= a);
        prop_assert_eq!(b - a, delta as i32);
        prop_assert_eq!(b.distance_from(a), delta);
        prop_assert!(a.in_range(a, b));
        prop_assert!(!b.in_range(a, b));
        prop_assert!((b - 1u32).in_range(a, b));
    }

    #[test]
    fn sub_u32_inverts_add(base in any::<u32>(), delta in any::<u32>()) {
        prop_assert_eq!((SeqNumber(base) + delta) - delta, SeqNumber(base));
    }
}
