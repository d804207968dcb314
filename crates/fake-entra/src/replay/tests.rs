//! The ledger's memory: replays refused until expiry, then forgotten; the capacity evicts the
//! oldest use first.

use time::Duration;
use time::macros::datetime;

use super::*;

const CLIENT: Uuid = Uuid::from_u128(0x3c2f9a51_7d0b_4e1a_8f5e_2a9b6c4d8e01);
const OTHER: Uuid = Uuid::from_u128(0x7a7a7a7a_1111_4222_8333_444455556666);

fn at(seconds: i64) -> OffsetDateTime {
    datetime!(2026-03-01 12:00:00 UTC) + Duration::seconds(seconds)
}

#[test]
fn a_jti_is_refused_until_it_expires_then_forgotten() {
    let mut ledger = ReplayLedger::new(10);
    assert!(ledger.first_use(CLIENT, "j1", at(600), at(0)));
    assert!(!ledger.first_use(CLIENT, "j1", at(600), at(1)));
    assert!(!ledger.first_use(CLIENT, "j1", at(600), at(600)));
    // Another client may use the same jti.
    assert!(ledger.first_use(OTHER, "j1", at(600), at(2)));
    assert_eq!(ledger.len(), 2);
    // Past the expiry both are forgotten (the memory is freed) and j1 counts as new.
    assert!(ledger.first_use(CLIENT, "j2", at(900), at(601)));
    assert_eq!(ledger.len(), 1);
    assert!(ledger.first_use(CLIENT, "j1", at(1200), at(601)));
    assert_eq!(ledger.len(), 2);
}

#[test]
fn the_capacity_evicts_the_oldest_use_first() {
    let mut ledger = ReplayLedger::new(2);
    assert!(ledger.first_use(CLIENT, "a", at(600), at(0)));
    assert!(ledger.first_use(CLIENT, "b", at(300), at(1)));
    assert!(ledger.first_use(CLIENT, "c", at(600), at(2)));
    assert_eq!(ledger.len(), 2);
    // "a" was the oldest, so it was forgotten; "b" and "c" are still refused.
    assert!(!ledger.first_use(CLIENT, "b", at(300), at(3)));
    assert!(!ledger.first_use(CLIENT, "c", at(600), at(3)));
    assert!(ledger.first_use(CLIENT, "a", at(600), at(3)));
    assert_eq!(ledger.len(), 2);
}

#[test]
fn huge_jtis_cost_a_digest_and_zero_capacity_remembers_nothing() {
    let mut ledger = ReplayLedger::new(4);
    let huge = "j".repeat(60_000);
    assert!(ledger.first_use(CLIENT, &huge, at(600), at(0)));
    assert!(!ledger.first_use(CLIENT, &huge, at(600), at(1)));
    let mut forgetful = ReplayLedger::new(0);
    assert!(forgetful.first_use(CLIENT, "j", at(600), at(0)));
    assert!(forgetful.first_use(CLIENT, "j", at(600), at(0)));
    assert_eq!(forgetful.len(), 0);
}
