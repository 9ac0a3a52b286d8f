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

// Reads perfect Merkle nodes where the log stores them (SPEC §9.1): a node of level 8 and up
// in the record of the last leaf it covers; a leaf hash, or a node of levels 1 to 7 hashed from
// the leaves it covers, from the run of 256 leaves it lies in: from the run's full level-0 tile
// in the log directory when its hashes make the level-8 node the run's last record holds (SPEC
// §9.8), else from the run's records (a leaf hash is the `prev` of the next record, or the
// last entry restored and hashed).
pub(crate) struct StoreNodes<'a> {
    pub(crate) records: Records<'a>,
    /// Where upper nodes read once are kept (absent while opening).
    pub(crate) cache: Option<&'a NodeCache>,
    /// The log directory's full level-0 tiles, where runs of leaves may be read from.
    pub(crate) runs: Option<super::tiles::RunTiles<'a>>,
}

/// Perfect nodes of level [`CACHE_LEVEL`] and above, kept in memory once read or written: they
/// are few (one per 64 entries) and every proof needs several. Holds at most its limit
/// ([`LogBuilder::node_cache`]); once full it keeps what it has and the rest are read from
/// the store each time, so memory stays bounded however long the log grows.
#[derive(Debug)]
pub(crate) struct NodeCache {
    nodes: std::sync::RwLock<NodeMap>,
    limit: usize,
    /// Nodes of levels [`LOW_LEVEL`] to [`CACHE_LEVEL`] − 1, kept once a proof has hashed
    /// them from their leaves (never by appending, which makes many): at most [`LOW_NODES`],
    /// none when the limit is 0. Once full it keeps what it has, as `nodes` does.
    low: std::sync::RwLock<NodeMap>,
    /// The leaf hashes of the last runs of 256 leaves read (the nodes of levels 1 to 7 are
    /// hashed from them); at most [`LEAF_RUNS`].
    leaf_runs: Mutex<LeafRuns>,
}

/// Runs of leaf hashes by run number, and the order they were first kept in, oldest first.
#[derive(Debug, Default)]
struct LeafRuns {
    runs: std::collections::HashMap<u64, LeafRun>,
    order: std::collections::VecDeque<u64>,
}

/// The leaf hashes of a run of at most [`RUN_LEAVES`] leaves from the start of level-0 tile
/// `n`: all of them, or those stored when it was read (the last run of a log still growing).
pub(crate) type LeafRun = Arc<[[u8; 32]]>;

/// The leaves a level-0 tile covers (SPEC §9.8): the nodes of levels 1 to 7 lie inside one run.
pub(crate) const RUN_LEAVES: usize = 1 << RECORD_NODE_LEVEL;

/// How many leaf runs a node cache keeps (at most 8 KiB each, 2 MiB in all) when its limit is
/// not 0: every run of the 65,536 entries past the last checkpoint, whose tiles do not cover
/// them, is read once.
const LEAF_RUNS: usize = 256;

/// Nodes at and above this level are cached.
pub(super) const CACHE_LEVEL: u32 = 6;

/// Nodes at and above this level, and below [`CACHE_LEVEL`], are cached once a proof has
/// hashed them: a proof then hashes at most 4 nodes of a run (levels 1 and 2), not 57.
const LOW_LEVEL: u32 = 3;

/// The most nodes of levels [`LOW_LEVEL`] to [`CACHE_LEVEL`] − 1 a node cache keeps (56 per
/// run of 256 leaves): those of 4,096 runs, in about 12 MiB (7/8 of 2^18, the most a map of
/// 2^18 slots holds before it doubles), as the tiles' reader keeps its lower nodes.
const LOW_NODES: usize = 229_376;

type NodeMap = std::collections::HashMap<(u32, u64), [u8; 32]>;

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
            low: Default::default(),
            leaf_runs: Default::default(),
        }
    }

    // The cached leaves of run `run`, if they reach `end` (relative to the run's start).
    fn leaf_run(&self, run: u64, end: usize) -> Option<LeafRun> {
        let cached = self.leaf_runs.lock().unwrap_or_else(|p| p.into_inner());
        cached.runs.get(&run).filter(|l| l.len() >= end).cloned()
    }

    // Keeps the leaves of run `run`, in place of a shorter read of it.
    fn put_leaf_run(&self, run: u64, leaves: LeafRun) {
        if self.limit == 0 {
            return;
        }
        let mut cached = self.leaf_runs.lock().unwrap_or_else(|p| p.into_inner());
        let LeafRuns { runs, order } = &mut *cached;
        if let Some(kept) = runs.get_mut(&run) {
            if kept.len() < leaves.len() {
                *kept = leaves;
            }
            return;
        }
        if order.len() >= LEAF_RUNS {
            if let Some(oldest) = order.pop_front() {
                runs.remove(&oldest);
            }
        }
        runs.insert(run, leaves);
        order.push_back(run);
    }

    /// How many upper nodes it holds (levels [`CACHE_LEVEL`] and up).
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.nodes.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// How many nodes of levels [`LOW_LEVEL`] to [`CACHE_LEVEL`] − 1 it holds.
    #[cfg(test)]
    fn low_len(&self) -> usize {
        self.low.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    // The map that keeps nodes of `level`, and its limit.
    fn map(&self, level: u32) -> Option<(&std::sync::RwLock<NodeMap>, usize)> {
        if level >= CACHE_LEVEL {
            Some((&self.nodes, self.limit))
        } else if level >= LOW_LEVEL && self.limit > 0 {
            Some((&self.low, LOW_NODES))
        } else {
            None
        }
    }

    pub(super) fn get(&self, level: u32, index: u64) -> Option<[u8; 32]> {
        let (map, _) = self.map(level)?;
        map.read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(level, index))
            .copied()
    }

    pub(super) fn put(&self, level: u32, index: u64, hash: [u8; 32]) {
        let Some((map, limit)) = self.map(level) else {
            return;
        };
        let mut m = map.write().unwrap_or_else(|p| p.into_inner());
        if m.len() < limit {
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
        let missing = || NodeReadError::Missing { level, index };
        if level < RECORD_NODE_LEVEL {
            // A leaf hash, or hashed from the leaves it covers, which lie in one run of 256:
            // a proof reads several nodes of the run, and the run is read once.
            let first = index.checked_shl(level).filter(|f| f >> level == index);
            let leaves = self
                .leaves(first.ok_or_else(missing)?, 1 << level)
                .map_err(|e| e.map_or_else(missing, read_err))?;
            return crate::tiles::subtree_hash(&self.records.suite, &leaves).ok_or_else(missing);
        }
        let seq = record_of_node(level, index).ok_or_else(missing)?;
        let bytes = self
            .records
            .raw(seq)
            .map_err(read_err)?
            .ok_or_else(missing)?;
        let record = StoredRecord::parse(seq, &bytes)
            .map_err(|source| read_err(ReadError::Corrupt { seq, source }))?;
        record.node(level).ok_or_else(missing)
    }
}

impl StoreNodes<'_> {
    // The leaf hashes of entries `first..first + count`, which lie in one run of 256 leaves:
    // from the cached run, else from the run's tile written ahead if it agrees with the store,
    // else read from the records of the run (one scan), after which a writer tiles a whole
    // durable run. A run is cached as far as it was stored: its leaves never change once
    // stored. `Err(None)` when an entry of the range is not stored.
    pub(super) fn leaves(
        &self,
        first: u64,
        count: usize,
    ) -> Result<Vec<[u8; 32]>, Option<ReadError>> {
        let run = first / RUN_LEAVES as u64;
        let at = (first % RUN_LEAVES as u64) as usize;
        let end = at
            .checked_add(count)
            .filter(|&e| e <= RUN_LEAVES)
            .ok_or(None)?;
        let cached = self
            .cache
            .and_then(|c| c.leaf_run(run, end))
            .or_else(|| self.tiled_run(run));
        let leaves = match cached {
            Some(leaves) => leaves,
            None => match self.read_leaves(run * RUN_LEAVES as u64, end, RUN_LEAVES + 1) {
                Ok(leaves) => {
                    let leaves: LeafRun = leaves.into();
                    if leaves.len() == RUN_LEAVES {
                        // A whole run, not tiled yet (or its tile is wrong): tiled now.
                        if let Some(runs) = &self.runs {
                            runs.write(run, &leaves);
                        }
                    }
                    if let Some(cache) = self.cache {
                        cache.put_leaf_run(run, leaves.clone());
                    }
                    leaves
                }
                // A record of the run that cannot be read fails only what needs it: the
                // leaves asked for are read alone, and the error, if any, names one of them.
                Err(Some(_)) => return self.read_leaves(first, count, count),
                Err(None) => return Err(None),
            },
        };
        leaves.get(at..end).map(<[_]>::to_vec).ok_or(None)
    }

    // The 256 leaf hashes of run `run` from its full level-0 tile, if the tile is there and
    // its Merkle tree hash is the level-8 node the run's last record holds (SPEC §9.8): the
    // tile is derived data, used only once it agrees with the store (checked once per handle
    // and run). Kept in the cache.
    fn tiled_run(&self, run: u64) -> Option<LeafRun> {
        let runs = self.runs.as_ref()?;
        let leaves = if runs.known_right(run) {
            runs.read(run)?
        } else {
            // First the node, which is cached or one record: the last run of a growing log
            // has no such node yet, and is not looked for in a file.
            let node = self.perfect_node(RECORD_NODE_LEVEL, run).ok()?;
            let leaves = runs.read(run)?;
            if crate::tiles::subtree_hash(&self.records.suite, &leaves)? != node {
                return None;
            }
            runs.found_right(run);
            leaves
        };
        let leaves: LeafRun = leaves.into();
        if let Some(cache) = self.cache {
            cache.put_leaf_run(run, leaves.clone());
        }
        Some(leaves)
    }

    // The leaf hashes of entries `start..start + n`, read from the records `start..start +
    // limit`: `n` is the number of those stored without a gap (at most 256), and at least
    // `min`. The hash of entry `k` is the `prev` of record `k + 1` (SPEC §9.1); the last entry
    // read is restored and hashed.
    fn read_leaves(
        &self,
        start: u64,
        min: usize,
        limit: usize,
    ) -> Result<Vec<[u8; 32]>, Option<ReadError>> {
        let found = self
            .records
            .store
            .scan(
                &seq_key(ENTRY, start),
                &seq_key(ENTRY, start + limit as u64),
                limit,
            )
            .map_err(|e| Some(ReadError::from(e)))?;
        // The stored records from `start` on, without a gap.
        let whole = found
            .iter()
            .enumerate()
            .take_while(|(i, (k, _))| seq_of(k) == Some(start + *i as u64))
            .count();
        if whole < min {
            return Err(None);
        }
        let suite = self.records.suite;
        let n = whole.min(RUN_LEAVES);
        let mut leaves = Vec::with_capacity(n);
        for i in 0..n {
            let seq = start + i as u64;
            let hash = match found.get(i + 1).filter(|_| i + 1 < whole) {
                Some((_, next)) => {
                    StoredRecord::parse(seq + 1, next)
                        .map_err(|source| {
                            Some(ReadError::Corrupt {
                                seq: seq + 1,
                                source,
                            })
                        })?
                        .prev
                }
                None => self.records.decode(seq, &found[i].1).map_err(Some)?.hash.0,
            };
            leaves.push(merkle::leaf_hash(suite, &EntryHash(hash)));
        }
        Ok(leaves)
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

    // A log in `store` with a node cache of `cache` nodes, and its registered recorder.
    fn recorder_log(store: &Arc<MemoryStore>, cache: usize) -> (Log, SecretKey) {
        let log = Log::builder()
            .node_cache(cache)
            .create_in(store.clone(), &owner(), ORIGIN)
            .unwrap();
        let recorder = SecretKey::from_seed("r", &[2; 32]).unwrap();
        log.register_key(&owner(), recorder.key_id(), Role::Recorder, "harness")
            .unwrap();
        (log, recorder)
    }

    // A note record for each body.
    fn notes<T: serde::Serialize>(bodies: impl IntoIterator<Item = T>) -> Vec<Record> {
        bodies
            .into_iter()
            .map(|b| {
                let body = crate::event::Custom::new("example.com/note", &b).unwrap();
                crate::event::Event::Custom(body).to_record().unwrap()
            })
            .collect()
    }

    // A full cache keeps its limit, and the nodes it could not keep are read from the log:
    // roots and proofs at every size are those of a handle that caches nothing.
    #[test]
    fn the_node_cache_stays_within_its_limit_and_nodes_past_it_are_read_right() {
        const LIMIT: usize = 4;
        let store = Arc::new(MemoryStore::new());
        let (log, recorder) = recorder_log(&store, LIMIT);
        for batch in 0..4u32 {
            let records = notes((0..300u32).map(|i| (batch, i)));
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

    // The last run of a growing log is cached as far as it was stored when read; a later proof
    // that needs more of it reads it again, and every answer is that of a handle that caches
    // nothing.
    #[test]
    fn a_cached_run_that_grew_since_is_read_again() {
        let store = Arc::new(MemoryStore::new());
        let (log, recorder) = recorder_log(&store, DEFAULT_NODE_CACHE);
        let grow = |n: u32| {
            log.append_batch(&recorder, notes(0..n)).unwrap();
        };
        let mut answers = Vec::new();
        grow(299);
        for (size, more) in [(300, 60), (360, 100), (460, 0)] {
            for seq in [0, 255, 256, 290, size - 1] {
                answers.push((seq, size, log.inclusion_proof(seq, size).unwrap()));
                answers.push((seq, size, log.consistency_proof(seq + 1, size).unwrap()));
            }
            grow(more);
        }
        let uncached = Log::builder().node_cache(0).open_in(store).unwrap();
        for (i, (seq, size, proof)) in answers.into_iter().enumerate() {
            let again = if i % 2 == 0 {
                uncached.inclusion_proof(seq, size).unwrap()
            } else {
                uncached.consistency_proof(seq + 1, size).unwrap()
            };
            assert_eq!(again, proof, "{seq} at {size}");
        }
    }

    // The leaf-run cache keeps at most its bound, drops the oldest first, and keeps the longer
    // of two reads of one run.
    #[test]
    fn the_leaf_run_cache_is_bounded_and_keeps_the_longer_read() {
        let cache = NodeCache::default();
        let run = |len: usize, v: u8| -> LeafRun { vec![[v; 32]; len].into() };
        cache.put_leaf_run(0, run(10, 1));
        assert_eq!(cache.leaf_run(0, 10).unwrap()[9], [1; 32]);
        assert!(cache.leaf_run(0, 11).is_none(), "shorter than asked");
        cache.put_leaf_run(0, run(5, 2));
        assert_eq!(
            cache.leaf_run(0, 10).unwrap()[0],
            [1; 32],
            "the longer read stays"
        );
        cache.put_leaf_run(0, run(200, 3));
        assert_eq!(
            cache.leaf_run(0, 200).unwrap()[0],
            [3; 32],
            "a longer read replaces"
        );
        for n in 1..=LEAF_RUNS as u64 + 40 {
            cache.put_leaf_run(n, run(256, 4));
        }
        let kept = cache.leaf_runs.lock().unwrap();
        assert_eq!(kept.runs.len(), LEAF_RUNS);
        assert_eq!(kept.order.len(), LEAF_RUNS);
        drop(kept);
        assert!(cache.leaf_run(0, 1).is_none(), "the oldest went first");
        assert!(cache.leaf_run(LEAF_RUNS as u64 + 40, 256).is_some());
        let off = NodeCache::with_limit(0);
        off.put_leaf_run(1, run(256, 5));
        assert!(
            off.leaf_run(1, 1).is_none(),
            "a cache turned off keeps nothing"
        );
    }

    // The nodes of levels 3 to 5 a proof hashed are kept, up to their own bound, and only
    // those: appending (which makes every node) keeps none, a cache turned off keeps none, and
    // the proofs are those of a handle that caches nothing.
    #[test]
    fn lower_nodes_hashed_by_proofs_are_kept_within_their_bound() {
        let store = Arc::new(MemoryStore::new());
        let (log, recorder) = recorder_log(&store, DEFAULT_NODE_CACHE);
        log.append_batch(&recorder, notes(0..1200u32)).unwrap();
        assert_eq!(log.inner.nodes.low_len(), 0, "kept by appending");
        let size = log.len();
        let proofs: Vec<_> = (0..size)
            .step_by(37)
            .map(|seq| log.inclusion_proof(seq, size - 1).unwrap())
            .collect();
        let kept = log.inner.nodes.low_len();
        // Each proof of a leaf in a full run hashes one node of each of levels 3 to 5.
        assert!(kept >= 3 * 4, "{kept} kept");
        let uncached = Log::builder().node_cache(0).open_in(store.clone()).unwrap();
        let again: Vec<_> = (0..size)
            .step_by(37)
            .map(|seq| uncached.inclusion_proof(seq, size - 1).unwrap())
            .collect();
        assert_eq!(again, proofs);
        assert_eq!(uncached.inner.nodes.low_len(), 0, "kept with the cache off");

        let cache = NodeCache::default();
        for i in 0..LOW_NODES as u64 + 10 {
            cache.put(LOW_LEVEL + (i % 3) as u32, i, [1; 32]);
        }
        assert_eq!(cache.low_len(), LOW_NODES);
        assert_eq!(cache.get(LOW_LEVEL, 0), Some([1; 32]));
        assert_eq!(cache.get(LOW_LEVEL, LOW_NODES as u64 + 9), None);
        cache.put(LOW_LEVEL - 1, 0, [2; 32]);
        assert_eq!(
            cache.get(LOW_LEVEL - 1, 0),
            None,
            "levels 1 and 2 are hashed"
        );
        assert_eq!(cache.len(), 0, "the upper nodes' bound is apart");
    }

    // A record that cannot be read fails the proofs that need it, naming it, and no other
    // proof of its run: the leaves asked for are read alone when the run cannot be.
    #[test]
    fn a_damaged_record_fails_only_what_needs_it() {
        let store = Arc::new(MemoryStore::new());
        let (log, recorder) = recorder_log(&store, 0);
        log.append_batch(&recorder, notes(0..299u32)).unwrap();
        let before: Vec<_> = [(5, 8), (5, 200), (100, 150)]
            .into_iter()
            .map(|(seq, size)| log.inclusion_proof(seq, size).unwrap())
            .collect();
        store.put(&seq_key(ENTRY, 200), &[0xff; 40]).unwrap();
        let after: Vec<_> = [(5, 8), (5, 200), (100, 150)]
            .into_iter()
            .map(|(seq, size)| log.inclusion_proof(seq, size).unwrap())
            .collect();
        assert_eq!(after, before);
        let err = log.inclusion_proof(5, 256).unwrap_err().to_string();
        assert!(err.contains("entry 200"), "{err}");
    }
}
