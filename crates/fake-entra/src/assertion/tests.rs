//! NumericDate parsing and ESTS time formatting.

use serde_json::json;
use time::macros::datetime;

use super::*;

#[track_caller]
fn check_date(value: Value, expected: Option<OffsetDateTime>) {
    assert_eq!(numeric_date(Some(&value)), expected, "{value}");
}

#[test]
fn numeric_dates_in_every_shape_real_libraries_send() {
    let at = datetime!(2024-05-30 05:20:28 UTC);
    check_date(json!(1717046428), Some(at));
    check_date(json!(1717046428.731), Some(at));
    check_date(json!("1717046428"), Some(at));
    check_date(json!(" 1717046428 "), Some(at));
    check_date(json!("soon"), None);
    check_date(json!(null), None);
    check_date(json!([1]), None);
}

#[test]
fn times_print_with_seven_fraction_digits() {
    assert_eq!(
        precise(datetime!(2025-08-29 05:47:32.150_114_7 UTC)),
        "2025-08-29T05:47:32.1501147Z"
    );
    assert_eq!(
        precise(OffsetDateTime::UNIX_EPOCH),
        "1970-01-01T00:00:00.0000000Z"
    );
}
