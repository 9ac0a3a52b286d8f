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
/// are few (one per 64 entries) and every proof needs several. Holds at most its limit
/// ([`LogBuilder::node_cache`]); once full it keeps what it has and the rest are read from
/// the store each time, so memory stays bounded however long the log grows.
#[derive(Debug)]
pub(crate) struct NodeCache {
    nodes: std::sync::RwLock<std::collections::HashMap<(u32, u64), [u8; 32]>>,
    limit: usize,
}

/// Nodes at and above this level are cached.
pub(super) const CACHE_LEVEL: u32 = 6;

/// The default limit of a log handle's node cache: 114,688 upper nodes, every cached node of
/// a log of 3.6 million entries, in about 6 MiB (7/8 of 2^17: the most a map of 2^17 slots
/// holds before it doubles).
pub const DEFAULT_NODE_CACHE: usize = 114_688;

impl Default for NodeCache {
    fn default() -> Self {
        NodeCache::with_limit(DEFAULT_NODE_CACHE)
    }
}

impl NodeCache {
    /// A cache of at most `limit` nodes (0 turns it off).
    pub(super) fn with_limit(limit: usize) -> Self {
        NodeCache {
            nodes: Default::default(),
            limit,
        }
    }

    /// How many nodes it holds.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.nodes.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub(super) fn get(&self, level: u32, index: u64) -> Option<[u8; 32]> {
        if level < CACHE_LEVEL {
            return None;
        }
        self.nodes
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(level, index))
            .copied()
    }

    pub(super) fn put(&self, level: u32, index: u64, hash: [u8; 32]) {
        if level < CACHE_LEVEL {
            return;
        }
        let mut m = self.nodes.write().unwrap_or_else(|p| p.into_inner());
        if m.len() < self.limit {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    const ORIGIN: &str = "example.com/log-test";

    fn owner() -> SecretKey {
        SecretKey::from_seed(ORIGIN, &[1; 32]).unwrap()
    }

    // A full cache keeps its limit, and the nodes it could not keep are read from the log:
    // roots and proofs at every size are those of a handle that caches nothing.
    #[test]
    fn the_node_cache_stays_within_its_limit_and_nodes_past_it_are_read_right() {
        const LIMIT: usize = 4;
        let store = Arc::new(MemoryStore::new());
        let log = Log::builder()
            .node_cache(LIMIT)
            .create_in(store.clone(), &owner(), ORIGIN)
            .unwrap();
        let recorder = SecretKey::from_seed("r", &[2; 32]).unwrap();
        log.register_key(&owner(), recorder.key_id(), Role::Recorder, "harness")
            .unwrap();
        for batch in 0..4u32 {
            let records = (0..300u32)
                .map(|i| {
                    let body = crate::event::Custom::new("example.com/note", &(batch, i)).unwrap();
                    crate::event::Event::Custom(body).to_record().unwrap()
                })
                .collect();
            log.append_batch(&recorder, records).unwrap();
            assert!(log.inner.nodes.len() <= LIMIT, "{}", log.inner.nodes.len());
        }
        let len = log.len();
        // 1,201 entries: 18 nodes of level 6 and up, more than the cache may keep.
        assert_eq!(len, 1201);
        let sizes = [64, 65, 128, 500, 1024, 1100, len];
        let seqs = [0, 63, 64, 700, 1023, 1024, 1100];
        let prove = |log: &Log| {
            let mut out = Vec::new();
            for &size in &sizes {
                out.push(vec![log.root(size).unwrap().0]);
                for &seq in seqs.iter().filter(|&&s| s < size) {
                    out.push(log.inclusion_proof(seq, size).unwrap());
                }
                out.push(log.consistency_proof(size / 3, size).unwrap());
            }
            out
        };
        let limited = prove(&log);
        assert!(log.inner.nodes.len() <= LIMIT, "{}", log.inner.nodes.len());
        assert_eq!(
            log.inner.nodes.len(),
            LIMIT,
            "the cache is used up to its limit"
        );
        drop(log);
        let uncached = Log::builder().node_cache(0).open_in(store.clone()).unwrap();
        assert_eq!(prove(&uncached), limited);
        assert_eq!(uncached.inner.nodes.len(), 0);
        drop(uncached);
        let cached = Log::builder().open_in(store).unwrap();
        assert_eq!(prove(&cached), limited);
        assert!(cached.inner.nodes.len() > LIMIT);
    }
}
