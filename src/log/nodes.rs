//! Merkle nodes in the store, with a cache of the upper levels (SPEC §9.1).

use super::*;

/// A Merkle node could not be read from the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeReadError {
    /// The record that holds the node could not be read.
    #[error("Merkle node ({level}, {index}): {source}")]
    Read {
        /// The node's level.
        level: u32,
        /// Its index at that level.
        index: u64,
        /// Why.
        source: ReadError,
    },
    /// The record does not hold the node.
    #[error("Merkle node ({level}, {index}) is missing from storage")]
    Missing {
        /// The node's level.
        level: u32,
        /// Its index at that level.
        index: u64,
    },
}

// Reads perfect Merkle nodes where the log stores them (SPEC §9.1): a node of level 1 and up
// in the record of the last leaf it covers, a leaf hash from its entry.
pub(crate) struct StoreNodes<'a> {
    pub(crate) records: Records<'a>,
    /// Where upper nodes read once are kept (absent while opening).
    pub(crate) cache: Option<&'a NodeCache>,
}

/// Perfect nodes of level [`CACHE_LEVEL`] and above, kept in memory once read or written: they
/// are few (one per 64 entries) and every proof needs several. Bounded by [`CACHE_LIMIT`].
#[derive(Debug, Default)]
pub(crate) struct NodeCache(std::sync::RwLock<std::collections::HashMap<(u32, u64), [u8; 32]>>);

/// Nodes at and above this level are cached.
pub(super) const CACHE_LEVEL: u32 = 6;
/// The most nodes cached (about 64 MiB of a 1-billion-entry log's upper levels).
const CACHE_LIMIT: usize = 1 << 20;

impl NodeCache {
    pub(super) fn get(&self, level: u32, index: u64) -> Option<[u8; 32]> {
        if level < CACHE_LEVEL {
            return None;
        }
        self.0
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(level, index))
            .copied()
    }

    pub(super) fn put(&self, level: u32, index: u64, hash: [u8; 32]) {
        if level < CACHE_LEVEL {
            return;
        }
        let mut m = self.0.write().unwrap_or_else(|p| p.into_inner());
        if m.len() < CACHE_LIMIT {
            m.insert((level, index), hash);
        }
    }
}

impl NodeSource for StoreNodes<'_> {
    type Error = NodeReadError;

    fn perfect_node(&self, level: u32, index: u64) -> Result<[u8; 32], NodeReadError> {
        if let Some(h) = self.cache.and_then(|c| c.get(level, index)) {
            return Ok(h);
        }
        let h = self.read_node(level, index)?;
        if let Some(c) = self.cache {
            c.put(level, index, h);
        }
        Ok(h)
    }
}

impl StoreNodes<'_> {
    pub(super) fn read_node(&self, level: u32, index: u64) -> Result<[u8; 32], NodeReadError> {
        let read_err = |source: ReadError| NodeReadError::Read {
            level,
            index,
            source,
        };
        let seq = record_of_node(level, index).ok_or(NodeReadError::Missing { level, index })?;
        let bytes = self
            .records
            .raw(seq)
            .map_err(read_err)?
            .ok_or(NodeReadError::Missing { level, index })?;
        let record = StoredRecord::parse(seq, &bytes)
            .map_err(|source| read_err(ReadError::Corrupt { seq, source }))?;
        if level == 0 {
            // The leaf hash is recomputed from the entry, which its record restores.
            let entry = self.records.restore(seq, &record).map_err(read_err)?;
            return Ok(merkle::leaf_hash(self.records.suite, &entry.hash));
        }
        record
            .node(level)
            .ok_or(NodeReadError::Missing { level, index })
    }
}
