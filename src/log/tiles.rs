//! The Merkle tree as C2SP tlog-tiles (SPEC §9.8): published on demand into any directory
//! ([`Log::write_tiles`]), and kept in the log directory's own `tiles/`, brought up to date with
//! every stored checkpoint, where proofs are read from.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use crate::checkpoint::SignedCheckpoint;
use crate::merkle::{NodeId, NodeSource};
use crate::segment::{Backend, FsBackend};
use crate::tiles::{
    TileReader, TileReaderOptions, TileWriteError, TileWriter, WriteMode, WriteSummary,
};

use super::{Log, NodeReadError, ReadError, StoreNodes};

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
    /// One write at a time, in the order of the checkpoints.
    writing: Mutex<()>,
    /// The next write checks every tile (the first of this handle, and after a failed write
    /// or a tile found unreadable).
    rebuild: AtomicBool,
    /// The tiles of the tree the `checkpoint` file publishes, once it is known to be one of
    /// this log's stored checkpoints.
    reader: RwLock<Option<Arc<TileReader>>>,
    /// The caches of each tile reader made for it ([`super::LogBuilder::tile_cache`]).
    cache: TileReaderOptions,
}

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
            writing: Mutex::new(()),
            rebuild: AtomicBool::new(true),
            reader: RwLock::new(None),
            cache,
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

    /// The nodes proofs are made from: the tiles' where they cover the node, else the store's.
    pub(super) fn proof_nodes(&self) -> LogNodes<'_> {
        LogNodes {
            tiles: self.tile_reader(),
            damaged: self.inner.tiles.get().map(|t| &t.rebuild),
            store: StoreNodes {
                records: self.records(),
                cache: Some(&self.inner.nodes),
            },
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
