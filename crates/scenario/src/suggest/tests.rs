//! The edit distance and the suggestions made from it.

use proptest::prelude::*;

use super::{closest, did_you_mean, edit_distance};

#[track_caller]
fn check(a: &str, b: &str, expected: usize) {
    assert_eq!(edit_distance(a, b), expected, "{a} → {b}");
    assert_eq!(edit_distance(b, a), expected, "{b} → {a}");
}

#[test]
fn measures_insertions_deletions_substitutions_and_swaps() {
    check("", "", 0);
    check("", "abc", 3);
    check("wrong_secret", "wrong_secret", 0);
    check("wrong_secrte", "wrong_secret", 1);
    check("ab", "ba", 1);
    check("abc", "ca", 3);
    check("expird_secret", "expired_secret", 1);
    check("kitten", "sitting", 3);
    check("Überweisung", "Uberweisung", 1);
}

#[test]
fn suggests_a_near_name_and_nothing_for_a_far_one() {
    let known = ["wrong_secret", "expired_secret", "app_disabled"];
    assert_eq!(did_you_mean("expird_secret", known), Some("expired_secret"));
    assert_eq!(did_you_mean("WRONG_SECRET", known), Some("wrong_secret"));
    assert_eq!(did_you_mean("contoso", known), None);
    assert_eq!(did_you_mean("expired", known), Some("expired_secret"));
    assert_eq!(did_you_mean("ex", known), None);
    assert_eq!(did_you_mean("wrong_secret", known), None);
    assert_eq!(did_you_mean("x", ["y"]), Some("y"));
}

#[test]
fn closest_ranks_nearest_first() {
    let known = [
        "AADSTS7000215",
        "AADSTS7000222",
        "AADSTS90002",
        "0x80040220",
    ];
    assert_eq!(
        closest("AADSTS7000216", known, 3),
        ["AADSTS7000215", "AADSTS7000222", "AADSTS90002"]
    );
    assert_eq!(closest("x", known, 10).len(), 4);
}

proptest! {
    #[test]
    fn edit_distance_is_a_distance(a in "[a-c]{0,8}", b in "[a-c]{0,8}", c in "[a-c]{0,8}") {
        prop_assert_eq!(edit_distance(&a, &b), edit_distance(&b, &a));
        prop_assert_eq!(edit_distance(&a, &b) == 0, a == b);
        prop_assert!(edit_distance(&a, &c) <= edit_distance(&a, &b) + edit_distance(&b, &c));
        let longer = a.chars().count().max(b.chars().count());
        prop_assert!(edit_distance(&a, &b) <= longer);
    }
}
