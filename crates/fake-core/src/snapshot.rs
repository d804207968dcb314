//! A value replaced whole while readers keep the version they took: how a fake holds its world,
//! so that a change made while requests run never shows a request half of it.

use std::sync::{Arc, PoisonError, RwLock};

/// The current version of a `T`, swapped atomically. Readers clone an `Arc` (a read lock held
/// for the clone only) and keep that version as long as they like; writers build the next
/// version from the current one under the write lock, so two changes never interleave.
#[derive(Debug)]
pub struct Snapshot<T> {
    current: RwLock<Arc<T>>,
}

impl<T> Snapshot<T> {
    /// Holds `value` as the first version.
    pub fn new(value: Arc<T>) -> Snapshot<T> {
        Snapshot {
            current: RwLock::new(value),
        }
    }

    /// The current version.
    pub fn get(&self) -> Arc<T> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Replaces the current version by what `next` builds from it, or keeps it when `next`
    /// fails. Other writers wait meanwhile; readers keep getting the current version.
    pub fn replace_with<E>(&self, next: impl FnOnce(&Arc<T>) -> Result<T, E>) -> Result<(), E> {
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        *current = Arc::new(next(&current)?);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_keep_the_version_they_took_and_a_failed_build_keeps_the_current_one() {
        let snapshot = Snapshot::new(Arc::new(1));
        let taken = snapshot.get();
        snapshot
            .replace_with(|current| Ok::<_, ()>(**current + 1))
            .expect("builds");
        assert_eq!((*taken, *snapshot.get()), (1, 2));
        assert_eq!(snapshot.replace_with(|_| Err("refused")), Err("refused"));
        assert_eq!(*snapshot.get(), 2);
    }
}
