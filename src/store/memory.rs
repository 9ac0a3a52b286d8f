use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::RwLock;

use super::{Pair, Store, StoreError};

/// A store in memory: nothing survives the process, but a log reopened over the same
/// `Arc<MemoryStore>` sees everything written to it.
#[derive(Debug, Default)]
pub struct MemoryStore {
    map: RwLock<BTreeMap<Vec<u8>, Vec<u8>>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every pair, for tests that inspect or tamper with what is stored.
    pub fn dump(&self) -> Vec<Pair> {
        self.read()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<Vec<u8>, Vec<u8>>> {
        // A panic while holding the lock cannot leave the map half-written: writes are single
        // inserts or removes.
        self.map.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<Vec<u8>, Vec<u8>>> {
        self.map.write().unwrap_or_else(|p| p.into_inner())
    }
}

impl Store for MemoryStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.read().get(key).cloned())
    }

    fn put(&self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.write().insert(key.to_vec(), value.to_vec());
        Ok(())
    }

    fn delete(&self, key: &[u8]) -> Result<(), StoreError> {
        self.write().remove(key);
        Ok(())
    }

    fn scan(&self, start: &[u8], end: &[u8], limit: usize) -> Result<Vec<Pair>, StoreError> {
        Ok(self
            .read()
            .range::<[u8], _>((Bound::Included(start), Bound::Excluded(end)))
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn last(&self, start: &[u8], end: &[u8]) -> Result<Option<Pair>, StoreError> {
        Ok(self
            .read()
            .range::<[u8], _>((Bound::Included(start), Bound::Excluded(end)))
            .next_back()
            .map(|(k, v)| (k.clone(), v.clone())))
    }

    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
