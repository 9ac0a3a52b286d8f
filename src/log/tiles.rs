//! The Merkle tree as C2SP tlog-tiles (SPEC §9.8): published on demand into any directory
//! ([`Log::write_tiles`]), and kept in the log directory's own `tiles/`, brought up to date with
//! every stored checkpoint, where proofs are read from.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use crate::checkpoint::SignedCheckpoint;
use crate::merkle::{NodeId, NodeSource};
use crate::segment::{Backend, FsBackend};
use crate::tiles::{
    TILE_WIDTH, Tile, TileReader, TileReaderOptions, TileWriteError, TileWriter, WriteMode,
    WriteSummary, read_tile_file,
};

use super::{LeafRun, Log, NodeReadError, RUN_LEAVES, ReadError, StoreNodes};

/// The entries of a run: those a full level-0 tile holds the leaf hashes of.
const RUN: u64 = RUN_LEAVES as u64;

/// The directory inside a log directory that holds the tiles of its tree and its latest
/// checkpoint (SPEC §9.8): `tiles/tile/<L>/<N>[.p/<W>]` and `tiles/checkpoint`.
pub const TILES_DIR: &str = "tiles";

/// Whether a log opened from a directory keeps the tiles of its tree in `<log>/tiles/` and
/// makes proofs from them (SPEC §9.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TilesMode {
    /// The default. A writer brings `tiles/` up to date with every checkpoint it stores (and
    /// when it opens a log whose tiles are behind its latest checkpoint); inclusion and
    /// consistency proofs of tree sizes the tiles cover are read from them, the rest from the
    /// store. A read-only open reads them and never writes them.
    #[default]
    Kept,
    /// `tiles/` is neither written nor read: proofs come from the store's nodes alone. What is
    /// there is left as it is; the next open that keeps tiles brings it up to date.
    Ignored,
}

/// Why the log's tiles could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogTilesError {
    /// The checkpoint is not one of this log's: another origin line.
    #[error("the checkpoint's origin {found:?} is not this log's ({expected:?})")]
    OtherLog {
        /// This log's checkpoint origin line.
        expected: String,
        /// The checkpoint's.
        found: String,
    },
    /// The checkpoint covers more entries than the log has.
    #[error("the checkpoint covers {size} entries; the log has {len}")]
    BeyondLog {
        /// The checkpoint's size.
        size: u64,
        /// Entries in the log.
        len: u64,
    },
    /// Writing the tiles failed (this includes a checkpoint whose root is not the log's).
    #[error(transparent)]
    Write(#[from] TileWriteError<NodeReadError>),
    /// The log's latest checkpoint could not be read.
    #[error(transparent)]
    Read(#[from] ReadError),
}

/// Whether the handle may write the log directory.
#[cfg(feature = "sled")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TilesAccess {
    Write,
    Read,
}

/// The log directory's `tiles/`, as one handle keeps it.
#[derive(Debug)]
pub(super) struct DirTiles {
    writer: Option<TileWriter<FsBackend>>,
    dir: PathBuf,
    /// One write at a time, in the order of the checkpoints; with the directory the last tile
    /// written ahead went into ([`TileWriter::write_ahead`]).
    writing: Mutex<Option<PathBuf>>,
    /// The next write checks every tile (the first of this handle, and after a failed write
    /// or a tile found unreadable).
    rebuild: AtomicBool,
    /// The tiles of the tree the `checkpoint` file publishes, once it is known to be one of
    /// this log's stored checkpoints.
    reader: RwLock<Option<Arc<TileReader>>>,
    /// The caches of each tile reader made for it ([`super::LogBuilder::tile_cache`]).
    cache: TileReaderOptions,
    /// The runs of 256 entries whose full level-0 tile a writer writes ahead of any
    /// checkpoint, once their entries are durable.
    ahead: Mutex<Ahead>,
    /// The runs whose full level-0 tile this handle found to make the run's level-8 node, one
    /// bit each (a 10M-entry log needs 5 KB): not checked again. Every tile the writer puts
    /// at a run's place holds the run's true hashes; only a power loss before the tile was
    /// fsynced leaves a wrong one, and that ends this handle's process.
    verified: Mutex<Vec<u64>>,
}

/// The runs of 256 leaves a writer has reserved whose tiles are not written yet (SPEC §9.8,
/// "In the log directory", item 5).
#[derive(Debug, Default)]
struct Ahead {
    /// The length of the log the next noted leaf extends.
    next: u64,
    /// The leaf hashes of the run `next` is in, from its first entry on, if this handle
    /// reserved all of them (not the run an open found partly stored).
    current: Option<Vec<[u8; 32]>>,
    /// Completed runs, oldest first, with their leaves unless they are to be read from the
    /// store. At most [`AHEAD_RUNS`]: a writer whose entries stay buffered longer leaves the
    /// oldest to be tiled when a proof reads them.
    pending: VecDeque<(u64, Option<LeafRun>)>,
}

/// The most completed runs a writer keeps waiting for durability (8 KiB each).
const AHEAD_RUNS: usize = 256;

impl Log {
    /// Writes the static C2SP tlog-tiles layout of the tree `checkpoint` signs into `dir`
    /// (SPEC §9.8): every tile of that tree the directory does not have yet, then `checkpoint`
    /// as the `dir/checkpoint` file. Incremental: from the size `dir` publishes, only what
    /// changed is written. The checkpoint must be this log's, of a size the log has, with the
    /// log's root at that size.
    pub fn write_tiles(
        &self,
        dir: &Path,
        checkpoint: &SignedCheckpoint,
    ) -> Result<WriteSummary, LogTilesError> {
        self.write_tiles_with(&TileWriter::new(dir), checkpoint)
    }

    /// As [`Log::write_tiles`], through a writer of one's own (another file backend).
    pub fn write_tiles_with<B: Backend>(
        &self,
        writer: &TileWriter<B>,
        checkpoint: &SignedCheckpoint,
    ) -> Result<WriteSummary, LogTilesError> {
        self.write_tiles_mode(writer, checkpoint, WriteMode::Publish)
    }

    fn write_tiles_mode<B: Backend>(
        &self,
        writer: &TileWriter<B>,
        checkpoint: &SignedCheckpoint,
        mode: WriteMode,
    ) -> Result<WriteSummary, LogTilesError> {
        let body = checkpoint.checkpoint();
        let expected = crate::checkpoint::checkpoint_origin(
            &self.descriptor().descriptor().origin,
            self.suite(),
        );
        if body.origin() != expected {
            return Err(LogTilesError::OtherLog {
                expected,
                found: body.origin().to_owned(),
            });
        }
        let len = self.len();
        if body.size() > len {
            return Err(LogTilesError::BeyondLog {
                size: body.size(),
                len,
            });
        }
        // Always from the store: the tiles are derived from it, never from themselves.
        let nodes = StoreNodes {
            records: self.records(),
            cache: Some(&self.inner.nodes),
            runs: None,
        };
        Ok(writer.write_with(&nodes, &self.suite(), checkpoint, mode)?)
    }

    /// The log directory's tiles directory (`<log>/tiles`, SPEC §9.8), if this handle keeps
    /// tiles there: a log opened from a directory with [`TilesMode::Kept`], the default.
    pub fn tiles_dir(&self) -> Option<&Path> {
        self.inner.tiles.get().map(|t| t.dir.as_path())
    }

    /// The tree size whose tiles this handle reads proofs from: the size of the stored
    /// checkpoint `tiles/checkpoint` publishes (0 when there is none, or no tiles are kept).
    /// Proofs of larger trees take the nodes the tiles do not have from the store.
    pub fn tiles_size(&self) -> u64 {
        self.tile_reader().map_or(0, |r| r.size())
    }

    /// Sets up the log directory's tiles for this handle (SPEC §9.8). A writer whose tiles do
    /// not publish its latest stored checkpoint (missing, behind, or not this log's) brings
    /// them up to date now; a reader uses them only if they publish one of the log's stored
    /// checkpoints, and writes nothing.
    #[cfg(feature = "sled")]
    pub(super) fn attach_tiles(
        &self,
        log_dir: &Path,
        mode: TilesMode,
        access: TilesAccess,
        cache: TileReaderOptions,
    ) -> Result<(), LogTilesError> {
        if mode == TilesMode::Ignored {
            return Ok(());
        }
        let dir = log_dir.join(TILES_DIR);
        let tiles = DirTiles {
            writer: (access == TilesAccess::Write).then(|| TileWriter::new(&dir)),
            dir: dir.clone(),
            writing: Mutex::new(None),
            rebuild: AtomicBool::new(true),
            reader: RwLock::new(None),
            cache,
            ahead: Mutex::new(Ahead {
                next: self.len(),
                current: (self.len() % RUN == 0).then(Vec::new),
                pending: VecDeque::new(),
            }),
            verified: Mutex::new(Vec::new()),
        };
        // Set once, by the open that made this handle.
        let _ = self.inner.tiles.set(tiles);
        let Some(latest) = self.latest_checkpoint()? else {
            return Ok(());
        };
        // Not a tiles directory's checkpoint, or none: as if absent.
        let published = TileWriter::new(&dir).published().ok().flatten();
        match access {
            TilesAccess::Write => {
                if published.is_some_and(|p| p.encode() == latest.encode()) {
                    self.set_tile_reader(latest.checkpoint().size());
                    Ok(())
                } else {
                    self.publish_tiles()
                }
            }
            TilesAccess::Read => {
                if let Some(p) = published {
                    let size = p.checkpoint().size();
                    let ours = self.checkpoint_at(size)?.is_some_and(|stored| {
                        stored.checkpoint().root() == p.checkpoint().root()
                            && stored.checkpoint().origin() == p.checkpoint().origin()
                    });
                    if ours && size <= self.len() {
                        self.set_tile_reader(size);
                    }
                }
                Ok(())
            }
        }
    }

    /// Brings the log directory's tiles up to date with the latest stored checkpoint (SPEC
    /// §9.8), if this handle keeps and may write them: incrementally, or checking every tile
    /// when this is the handle's first write or the last one failed.
    pub(super) fn publish_tiles(&self) -> Result<(), LogTilesError> {
        let Some(tiles) = self.inner.tiles.get() else {
            return Ok(());
        };
        let Some(writer) = &tiles.writer else {
            return Ok(());
        };
        let _one = tiles.writing.lock().unwrap_or_else(|p| p.into_inner());
        // The latest, not the caller's: concurrent checkpoints publish in size order.
        let Some(latest) = self.latest_checkpoint()? else {
            return Ok(());
        };
        let rebuild = tiles.rebuild.load(Ordering::Acquire);
        let written = if rebuild {
            self.write_tiles_mode(writer, &latest, WriteMode::Rebuild)
        } else {
            // What the directory holds contradicts the store (changed or removed by hand):
            // the store is the truth, so rebuild from it.
            self.write_tiles_mode(writer, &latest, WriteMode::Publish)
                .or_else(|_| self.write_tiles_mode(writer, &latest, WriteMode::Rebuild))
        };
        match written {
            Ok(_) => {
                tiles.rebuild.store(false, Ordering::Release);
                self.set_tile_reader(latest.checkpoint().size());
                Ok(())
            }
            Err(e) => {
                tiles.rebuild.store(true, Ordering::Release);
                Err(e)
            }
        }
    }

    fn set_tile_reader(&self, size: u64) {
        if let Some(tiles) = self.inner.tiles.get() {
            let reader = (size > 0).then(|| {
                Arc::new(TileReader::with_backend(
                    FsBackend,
                    &tiles.dir,
                    self.suite(),
                    size,
                    tiles.cache,
                ))
            });
            *tiles.reader.write().unwrap_or_else(|p| p.into_inner()) = reader;
        }
    }

    fn tile_reader(&self) -> Option<Arc<TileReader>> {
        let tiles = self.inner.tiles.get()?;
        tiles
            .reader
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The nodes proofs are made from: the tiles' where they cover the node, else the store's,
    /// with the runs of leaves past them from the full level-0 tiles written ahead.
    pub(super) fn proof_nodes(&self) -> LogNodes<'_> {
        let tiles = self.inner.tiles.get();
        LogNodes {
            tiles: self.tile_reader(),
            damaged: tiles.map(|t| &t.rebuild),
            store: StoreNodes {
                records: self.records(),
                cache: Some(&self.inner.nodes),
                runs: tiles.map(|tiles| RunTiles {
                    tiles,
                    durable: self.inner.progress.durable(),
                }),
            },
        }
    }

    /// Whether this handle writes level-0 tiles ahead, so that [`Log::note_leaves`] is wanted.
    pub(super) fn tiles_ahead(&self) -> bool {
        self.inner.tiles.get().is_some_and(|t| t.writer.is_some())
    }

    /// Notes the leaf hashes of entries `first..`, just reserved in order: each run of 256
    /// they complete waits for its entries to be durable, then [`Log::write_tiles_ahead`]
    /// writes its tile.
    pub(super) fn note_leaves(&self, first: u64, leaves: &[[u8; 32]]) {
        let Some(tiles) = self.inner.tiles.get().filter(|t| t.writer.is_some()) else {
            return;
        };
        let mut ahead = tiles.ahead.lock().unwrap_or_else(|p| p.into_inner());
        if ahead.next != first {
            // Not the next in order (cannot happen: reservations are serialized): the run
            // is read from the store instead.
            ahead.current = None;
            ahead.next = first;
        }
        for leaf in leaves {
            if let Some(current) = &mut ahead.current {
                current.push(*leaf);
            }
            ahead.next += 1;
            if ahead.next % RUN == 0 {
                let run = ahead.next / RUN - 1;
                let leaves = ahead.current.replace(Vec::with_capacity(RUN_LEAVES));
                if ahead.pending.len() == AHEAD_RUNS {
                    ahead.pending.pop_front();
                }
                ahead.pending.push_back((run, leaves.map(Into::into)));
            }
        }
    }
}

impl super::Inner {
    /// Writes the full level-0 tile of every noted run whose entries `0..durable` covers
    /// (SPEC §9.8, "In the log directory", item 5), without an fsync: a tile is checked
    /// against the stored tree before it is used, and fsynced before a checkpoint relies on
    /// it. While a checkpoint is being published, or another flush's tiles are being written,
    /// the runs wait for the next flush; the one writing takes the runs flushes made durable
    /// meanwhile. A tile that cannot be written is left to be tiled when a proof reads its run.
    pub(super) fn write_tiles_ahead(&self, durable: u64) {
        let Some(tiles) = self.tiles.get() else {
            return;
        };
        let Some((writer, mut made)) = tiles.try_writing() else {
            return;
        };
        loop {
            let durable = durable.max(self.progress.durable());
            let next = {
                let mut ahead = tiles.ahead.lock().unwrap_or_else(|p| p.into_inner());
                match ahead.pending.front() {
                    Some((run, _)) if (run + 1).saturating_mul(RUN) <= durable => {
                        ahead.pending.pop_front()
                    }
                    _ => None,
                }
            };
            let Some((run, leaves)) = next else {
                return;
            };
            let leaves = match leaves {
                Some(leaves) => leaves,
                None => {
                    let store = StoreNodes {
                        records: self.records(),
                        cache: Some(&self.nodes),
                        runs: None,
                    };
                    match store.leaves(run * RUN, RUN_LEAVES) {
                        Ok(leaves) => leaves.into(),
                        Err(_) => continue,
                    }
                }
            };
            write_run(writer, run, &leaves, &mut made);
        }
    }
}

impl DirTiles {
    /// The writer of this handle's tiles and the right to write them now: `None` for a
    /// read-only handle, or while a checkpoint is being published.
    fn try_writing(
        &self,
    ) -> Option<(
        &TileWriter<FsBackend>,
        std::sync::MutexGuard<'_, Option<PathBuf>>,
    )> {
        let writer = self.writer.as_ref()?;
        let one = match self.writing.try_lock() {
            Ok(g) => g,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return None,
        };
        Some((writer, one))
    }
}

/// Writes full level-0 tile `run` ahead of any checkpoint (SPEC §9.8, item 5). A tile that
/// cannot be written is left to be tiled when a proof reads its run.
fn write_run(
    writer: &TileWriter<FsBackend>,
    run: u64,
    leaves: &[[u8; 32]],
    made: &mut Option<PathBuf>,
) {
    if let Some(tile) = Tile::full(0, run) {
        let _ = writer.write_ahead(tile, leaves, made);
    }
}

/// The log directory's full level-0 tiles, as proofs past its published checkpoint read them
/// (SPEC §9.8, "Proofs from the log directory's tiles").
#[derive(Debug, Clone, Copy)]
pub(super) struct RunTiles<'a> {
    tiles: &'a DirTiles,
    /// The durable length of the log when the proof started: a writer that reads a run below
    /// it from the store writes the run's tile.
    durable: u64,
}

impl RunTiles<'_> {
    /// The 256 hashes of full level-0 tile `run`, if its file is there and of a full tile's
    /// length. Not checked: the caller checks them against the stored tree.
    pub(super) fn read(&self, run: u64) -> Option<Vec<[u8; 32]>> {
        let path = self.tiles.dir.join(Tile::full(0, run)?.path());
        // Untrusted, like any tile: not read unless it is a full tile's length.
        read_tile_file(&FsBackend, &path, TILE_WIDTH).ok()
    }

    /// Whether this handle found run `run`'s tile right before ([`RunTiles::found_right`]).
    pub(super) fn known_right(&self, run: u64) -> bool {
        let (word, bit) = (run / 64, run % 64);
        let verified = self
            .tiles
            .verified
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        usize::try_from(word)
            .ok()
            .and_then(|w| verified.get(w))
            .is_some_and(|w| w & (1 << bit) != 0)
    }

    /// Notes that run `run`'s tile makes the run's level-8 node (for runs of a log this
    /// handle has: the set grows with the log, one bit per run).
    pub(super) fn found_right(&self, run: u64) {
        let (word, bit) = (run / 64, run % 64);
        let Ok(word) = usize::try_from(word) else {
            return;
        };
        let mut verified = self
            .tiles
            .verified
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if verified.len() <= word {
            verified.resize(word + 1, 0);
        }
        verified[word] |= 1 << bit;
    }

    /// Writes full level-0 tile `run` of `leaves`, read from the store, if this handle writes
    /// tiles, the run is durable and no checkpoint is being published.
    pub(super) fn write(&self, run: u64, leaves: &[[u8; 32]]) {
        if (run + 1).saturating_mul(RUN) > self.durable {
            return;
        }
        if let Some((writer, mut made)) = self.tiles.try_writing() {
            write_run(writer, run, leaves, &mut made);
        }
    }
}

/// Perfect nodes from the log directory's tiles where they cover them, from the store
/// otherwise or when a tile cannot be read (tiles are derived data; the next checkpoint
/// rebuilds them).
pub(super) struct LogNodes<'a> {
    tiles: Option<Arc<TileReader>>,
    damaged: Option<&'a AtomicBool>,
    store: StoreNodes<'a>,
}

impl NodeSource for LogNodes<'_> {
    type Error = NodeReadError;

    fn perfect_node(&self, level: u32, index: u64) -> Result<[u8; 32], NodeReadError> {
        if let Some(tiles) = &self.tiles {
            let covered = NodeId::new(level, index)
                .leaves()
                .is_some_and(|r| r.end <= tiles.size());
            if covered {
                match tiles.perfect_node(level, index) {
                    Ok(h) => return Ok(h),
                    Err(_) => {
                        if let Some(d) = self.damaged {
                            d.store(true, Ordering::Release);
                        }
                    }
                }
            }
        }
        self.store.perfect_node(level, index)
    }
}

#[cfg(all(test, feature = "sled"))]
mod tests {
    use super::*;
    use crate::keys::SecretKey;
    use crate::log::{NodeCache, RECORD_NODE_LEVEL, Records, RefCache};
    use crate::registry::Role;
    use crate::store::MemoryStore;
    use crate::{Durability, Suite};

    const ORIGIN: &str = "example.com/tiles-ahead";

    // A sha256 log of `n` entries in `path`, Buffered, flushed.
    fn log_of(path: &Path, n: u64) -> Log {
        let owner = SecretKey::from_seed(ORIGIN, &[1; 32]).unwrap();
        let recorder = SecretKey::from_seed("r", &[2; 32]).unwrap();
        let log = Log::builder()
            .suite(Suite::Sha256)
            .durability(Durability::Buffered)
            .create(path, &owner, ORIGIN)
            .unwrap();
        log.register_key(&owner, recorder.key_id(), Role::Recorder, "t")
            .unwrap();
        let records = (1..n)
            .map(|i| {
                let body = crate::event::Custom::new("example.com/note", &i).unwrap();
                crate::event::Event::Custom(body).to_record().unwrap()
            })
            .collect();
        log.append_batch(&recorder, records).unwrap();
        log.flush().unwrap();
        log
    }

    // A run's leaves come from its tile written ahead when the tile makes the run's level-8
    // node: here the records are out of reach (an empty store) and only that node is known,
    // so the leaves can only have come from the tile. Once found right, the handle reads the
    // tile without the node. In another handle a tile that does not make the node is not
    // used, and the writer writes it again.
    #[test]
    fn a_run_is_read_from_its_tile_only_when_the_tile_makes_its_level_8_node() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("log");
        let log = log_of(&path, 600);
        let tile = path.join(TILES_DIR).join("tile/0/001");
        assert!(
            tile.exists(),
            "the run of entries 256..512 was not tiled once durable"
        );
        assert!(!path.join(TILES_DIR).join("tile/0/002").exists());
        let truth: Vec<[u8; 32]> = (256..512)
            .map(|seq| crate::merkle::leaf_hash(log.suite(), &log.read(seq).unwrap().unwrap().hash))
            .collect();
        let node = log.inner.nodes.get(RECORD_NODE_LEVEL, 1).unwrap();
        let (empty, refs) = (MemoryStore::new(), RefCache::default());
        // Nodes of a store out of reach, with the cache holding `known`, over `log`'s tiles.
        let blind = |log: &Log, known: Option<[u8; 32]>, run: &dyn Fn(&StoreNodes<'_>)| {
            let cache = NodeCache::with_limit(16);
            if let Some(node) = known {
                cache.put(RECORD_NODE_LEVEL, 1, node);
            }
            let tiles = log.inner.tiles.get().unwrap();
            run(&StoreNodes {
                records: Records {
                    store: &empty,
                    suite: log.suite(),
                    log_id: log.log_id(),
                    cache: &refs,
                },
                cache: Some(&cache),
                runs: Some(RunTiles { tiles, durable: 0 }),
            });
        };
        blind(&log, None, &|nodes| {
            assert!(
                nodes.leaves(256 + 3, 4).is_err(),
                "used before it was checked"
            );
        });
        blind(&log, Some(node), &|nodes| {
            assert_eq!(nodes.leaves(256 + 3, 4).unwrap(), truth[3..7]);
            // A leaf hash too comes from the run, not from its record.
            assert_eq!(nodes.perfect_node(0, 256 + 9).unwrap(), truth[9]);
        });
        blind(&log, None, &|nodes| {
            assert_eq!(
                nodes.leaves(256 + 3, 4).unwrap(),
                truth[3..7],
                "checked again"
            );
        });
        drop(log);

        // One hash changed: another handle finds the tile does not make the node.
        let mut bytes = std::fs::read(&tile).unwrap();
        bytes[40] ^= 1;
        std::fs::write(&tile, &bytes).unwrap();
        let reader = Log::builder().open_read_only(&path).unwrap();
        blind(&reader, Some(node), &|nodes| {
            assert!(nodes.leaves(256 + 3, 4).is_err(), "a wrong tile was used");
        });
        drop(reader);

        // The writer, reading the run from its records, writes the tile again.
        let log = Log::builder().open(&path).unwrap();
        assert_eq!(log.proof_nodes().store.leaves(256, 256).unwrap(), truth);
        let leaves: Vec<u8> = truth.concat();
        assert!(
            std::fs::read(&tile).unwrap() == leaves,
            "the wrong tile was not written again"
        );
    }

    // Completed runs wait for durability in order, at most AHEAD_RUNS of them (the oldest
    // dropped), with their leaves when this handle reserved the whole run; the run an open
    // found partly stored waits without leaves, to be read from its records.
    #[test]
    fn runs_wait_for_durability_in_order_and_bounded() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("log");
        let log = log_of(&path, 300);
        drop(log);
        let log = Log::builder()
            .durability(Durability::Buffered)
            .open(&path)
            .unwrap();
        let ahead = || {
            let a = log.inner.tiles.get().unwrap().ahead.lock().unwrap();
            let runs: Vec<(u64, bool)> = a.pending.iter().map(|(r, l)| (*r, l.is_some())).collect();
            (a.next, runs)
        };
        assert_eq!(ahead(), (300, vec![]));
        // Leaves noted as reservations would: from 300 on, 300 runs and a bit.
        let leaf = |i: u64| [(i % 251) as u8; 32];
        let total = 300 * RUN + 10;
        let mut next = 300;
        for chunk in [3u64, 1, 700, 5_000, 70_000, total - 300 - 75_704] {
            let leaves: Vec<[u8; 32]> = (next..next + chunk).map(leaf).collect();
            log.note_leaves(next, &leaves);
            next += chunk;
        }
        let (at, runs) = ahead();
        assert_eq!(at, 300 + total - 300);
        assert_eq!(runs.len(), AHEAD_RUNS);
        let first = runs[0].0;
        assert_eq!(
            first,
            (at / RUN) - AHEAD_RUNS as u64,
            "the oldest were dropped"
        );
        assert!(runs.windows(2).all(|w| w[1].0 == w[0].0 + 1), "in order");
        assert!(
            runs.iter().all(|(_, has)| *has),
            "leaves kept for whole runs"
        );
        let a = log.inner.tiles.get().unwrap().ahead.lock().unwrap();
        let (run, leaves) = a.pending.back().unwrap();
        let start = run * RUN;
        assert_eq!(
            leaves.as_deref().unwrap(),
            &(start..start + RUN).map(leaf).collect::<Vec<_>>()[..]
        );
        drop(a);

        // A fresh handle on a log whose last run is partly stored: that run waits without
        // leaves.
        let tmp = tempfile::tempdir().unwrap();
        let log = log_of(&tmp.path().join("log"), 300);
        drop(log);
        let log = Log::builder()
            .durability(Durability::Buffered)
            .open(&tmp.path().join("log"))
            .unwrap();
        log.note_leaves(300, &(300..600).map(leaf).collect::<Vec<_>>());
        let a = log.inner.tiles.get().unwrap().ahead.lock().unwrap();
        let runs: Vec<(u64, bool)> = a.pending.iter().map(|(r, l)| (*r, l.is_some())).collect();
        assert_eq!(runs, vec![(1, false)]);
        assert_eq!(a.current.as_ref().map(Vec::len), Some(600 - 512));
    }
}
