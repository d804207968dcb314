//! Deterministic ids. Every id a fake invents (trace ids, request ids, record ids, token ids)
//! comes from an [`IdGenerator`], so a scenario's transcript is identical run after run.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use uuid::Uuid;

/// A seeded, thread-safe generator of ids (SplitMix64 underneath).
///
/// Clones share the same sequence. Not for cryptography: these ids only need to be unique and
/// reproducible.
#[derive(Clone, Debug)]
pub struct IdGenerator {
    state: Arc<AtomicU64>,
}

const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

impl IdGenerator {
    /// A generator whose sequence is fully determined by `seed`.
    pub fn seeded(seed: u64) -> IdGenerator {
        IdGenerator {
            state: Arc::new(AtomicU64::new(seed)),
        }
    }

    /// A generator seeded from the system time, for `serve` where ids need not repeat.
    pub fn from_entropy() -> IdGenerator {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_nanos() as u64)
            .unwrap_or(0);
        IdGenerator::seeded(nanos ^ u64::from(std::process::id()).rotate_left(32))
    }

    /// The next 64 pseudo-random bits.
    pub fn next_u64(&self) -> u64 {
        let mut z = self
            .state
            .fetch_add(GOLDEN_GAMMA, Ordering::Relaxed)
            .wrapping_add(GOLDEN_GAMMA);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Fills `bytes` with pseudo-random bytes.
    pub fn fill(&self, bytes: &mut [u8]) {
        for chunk in bytes.chunks_mut(8) {
            let word = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }

    /// The next id shaped like a random (version 4) GUID.
    pub fn next_uuid(&self) -> Uuid {
        let mut bytes = [0u8; 16];
        self.fill(&mut bytes);
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_gives_same_sequence() {
        let first = IdGenerator::seeded(7);
        let second = IdGenerator::seeded(7);
        let from_first: Vec<Uuid> = (0..3).map(|_| first.next_uuid()).collect();
        let from_second: Vec<Uuid> = (0..3).map(|_| second.next_uuid()).collect();
        assert_eq!(from_first, from_second);
        assert_ne!(from_first[0], from_first[1]);
        assert_eq!(from_first[0].get_version_num(), 4);
    }

    #[test]
    fn different_seeds_differ() {
        assert_ne!(
            IdGenerator::seeded(1).next_u64(),
            IdGenerator::seeded(2).next_u64()
        );
    }
}
