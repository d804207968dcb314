//! Line and column counting, including multi-byte characters and offsets past the end.

use super::*;

#[track_caller]
fn check(text: &str, offset: usize, expected: (usize, usize)) {
    let location = Location::of(text, offset);
    assert_eq!(
        (location.line, location.column),
        expected,
        "{text:?} @ {offset}"
    );
}

#[test]
fn counts_lines_and_characters_from_one() {
    check("", 0, (1, 1));
    check("abc", 2, (1, 3));
    check("a\nbc", 2, (2, 1));
    check("a\nbc", 3, (2, 2));
    check("a\n\nx", 3, (3, 1));
    check("é = 1\nx", 3, (1, 3));
    check("é", 1, (1, 1));
    check("ab", 99, (1, 3));
}
