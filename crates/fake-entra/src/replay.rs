//! The memory behind [`crate::AssertionReplayPolicy::Reject`]: which client assertions (client
//! id and `jti`) were already used, until they expire. Bounded: expired entries are forgotten
//! on every use, and past the capacity the oldest entry goes first. A `jti` is kept as its
//! SHA-256, so a 60 KB `jti` costs 32 bytes.

use std::collections::{BTreeMap, HashMap};

use time::OffsetDateTime;
use uuid::Uuid;

type Key = (Uuid, [u8; 32]);

#[derive(Clone, Copy, Debug)]
struct Seen {
    expires: OffsetDateTime,
    sequence: u64,
}

/// Used assertions by client and `jti` digest, indexed by expiry and by age.
#[derive(Debug)]
pub(crate) struct ReplayLedger {
    capacity: usize,
    seen: HashMap<Key, Seen>,
    by_expiry: BTreeMap<(OffsetDateTime, u64), Key>,
    by_age: BTreeMap<u64, Key>,
    next_sequence: u64,
}

impl ReplayLedger {
    pub(crate) fn new(capacity: usize) -> ReplayLedger {
        ReplayLedger {
            capacity,
            seen: HashMap::new(),
            by_expiry: BTreeMap::new(),
            by_age: BTreeMap::new(),
            next_sequence: 0,
        }
    }

    /// Records a use of `jti` by `client`, remembered until `expires` (inclusive); `false` when
    /// the same client already used it and it has not expired yet.
    pub(crate) fn first_use(
        &mut self,
        client: Uuid,
        jti: &str,
        expires: OffsetDateTime,
        now: OffsetDateTime,
    ) -> bool {
        self.forget_expired(now);
        let key = (client, digest(jti));
        if self.seen.contains_key(&key) {
            return false;
        }
        if self.capacity == 0 || expires < now {
            return true;
        }
        while self.seen.len() >= self.capacity {
            let Some((_, oldest)) = self.by_age.pop_first() else {
                break;
            };
            if let Some(evicted) = self.seen.remove(&oldest) {
                self.by_expiry.remove(&(evicted.expires, evicted.sequence));
            }
        }
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        self.seen.insert(key, Seen { expires, sequence });
        self.by_expiry.insert((expires, sequence), key);
        self.by_age.insert(sequence, key);
        true
    }

    /// How many uses are remembered.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.seen.len()
    }

    fn forget_expired(&mut self, now: OffsetDateTime) {
        while let Some(entry) = self.by_expiry.first_entry() {
            let (expires, sequence) = *entry.key();
            if expires >= now {
                break;
            }
            let key = entry.remove();
            self.seen.remove(&key);
            self.by_age.remove(&sequence);
        }
    }
}

fn digest(jti: &str) -> [u8; 32] {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, jti.as_bytes());
    let mut bytes = [0u8; 32];
    bytes.copy_from_slice(digest.as_ref());
    bytes
}

#[cfg(test)]
mod tests;
