//! Perfect nodes from a tiles directory: a [`NodeSource`] over tiles (SPEC §9.8).

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use super::{FULL_TILE_LEN, TILE_HEIGHT, TILE_WIDTH, Tile, locate, subtree_hash, width_in_tree};
use crate::hash::Suite;
use crate::merkle::{HASH_LEN, NodeId, NodeSource};
use crate::segment::{Backend, FsBackend, OpenMode};

/// A node could not be read from the tiles.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TileReadError {
    /// The tree of the reader's size does not have this perfect node.
    #[error("Merkle node ({level}, {index}) is not complete in a tree of {size} leaves")]
    NotInTree {
        /// The node's level.
        level: u32,
        /// Its index in its level.
        index: u64,
        /// The reader's tree size.
        size: u64,
    },
    /// The tile's file is not there (nor, for a partial tile, the full tile at its place).
    #[error("{}: tile missing", path.display())]
    Missing {
        /// The tile's file.
        path: PathBuf,
    },
    /// The tile's file is longer than any tile (256 hashes, 8,192 bytes). Not read.
    #[error("{}: {len} bytes is longer than any tile ({FULL_TILE_LEN} bytes)", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its length.
        len: u64,
    },
    /// The tile's file does not have 32 bytes per hash of the width its name says.
    #[error("{}: {found} bytes, but a tile of this name has {expected}", path.display())]
    WrongLength {
        /// The file.
        path: PathBuf,
        /// 32 × its width.
        expected: u64,
        /// Its length.
        found: u64,
    },
    /// Reading the file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the file system said.
        source: io::Error,
    },
}

/// How much a [`TileReader`] keeps in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct TileReaderOptions {
    /// Tiles kept once read, the least recently used dropped first (at most 8 KiB each).
    pub cached_tiles: usize,
    /// Nodes computed from 8 or more hashes of a level-0 tile (levels 3–7), and every node of
    /// level 8 and above (few: two per 256 leaves), kept once computed so that a proof does not
    /// hash them again (32 bytes each, plus the map's overhead).
    pub cached_nodes: usize,
}

impl Default for TileReaderOptions {
    /// 64 tiles (512 KiB) and 2^18 nodes (8 MiB of hashes): every cached node of a 1M-leaf
    /// tree (about 250,000), so that a proof at 1M hashes at most 4 nodes of its leaf's tile.
    fn default() -> Self {
        TileReaderOptions {
            cached_tiles: 64,
            cached_nodes: 1 << 18,
        }
    }
}

impl TileReaderOptions {
    /// Options with these cache sizes (0 turns a cache off).
    pub fn new(cached_tiles: usize, cached_nodes: usize) -> Self {
        TileReaderOptions {
            cached_tiles,
            cached_nodes,
        }
    }
}

/// Nodes at `level mod 8` of this or more are cached: each costs 7 or more hashes to compute.
/// So is every node of level 8 and above: they are few, and every proof needs several.
const CACHED_SUBLEVEL: u32 = 3;

/// The perfect nodes of a tree of a given size, read from a tiles directory (SPEC §9.8).
///
/// It implements [`NodeSource`], so [`crate::merkle::inclusion_proof`],
/// [`crate::merkle::consistency_proof`], [`crate::merkle::root`] and a
/// [`crate::merkle::Prover`] make proofs from tiles. A node of a level that is a multiple of 8
/// is read from its tile; any other is hashed from the `2^(level mod 8)` hashes of the tile
/// below that it covers. A partial tile that is gone is read from the full tile at its place.
///
/// Tiles are untrusted input: a file longer than a tile or of the wrong length for its name is
/// a [`TileReadError`], never read whole. A wrong hash in a tile gives a proof that does not
/// verify: verify every proof against a checkpoint verified on its own.
#[derive(Debug)]
pub struct TileReader<B: Backend = FsBackend> {
    backend: B,
    dir: PathBuf,
    suite: Suite,
    size: u64,
    options: TileReaderOptions,
    cache: Mutex<Caches>,
}

/// A tile's hashes, shared between the cache and the callers holding them.
type TileHashes = Arc<[[u8; 32]]>;

#[derive(Debug, Default)]
struct Caches {
    /// Tile → its hashes and when it was last used.
    tiles: HashMap<Tile, (TileHashes, u64)>,
    clock: u64,
    nodes: HashMap<NodeId, [u8; 32]>,
}

impl TileReader<FsBackend> {
    /// A reader of the tree of `size` leaves whose tiles are in `dir`, hashed with `suite`, with
    /// the default caches.
    pub fn new(dir: impl Into<PathBuf>, suite: Suite, size: u64) -> Self {
        TileReader::with_backend(FsBackend, dir, suite, size, TileReaderOptions::default())
    }
}

impl<B: Backend> TileReader<B> {
    /// A reader through `backend`, with the given caches.
    pub fn with_backend(
        backend: B,
        dir: impl Into<PathBuf>,
        suite: Suite,
        size: u64,
        options: TileReaderOptions,
    ) -> Self {
        TileReader {
            backend,
            dir: dir.into(),
            suite,
            size,
            options,
            cache: Mutex::new(Caches::default()),
        }
    }

    /// The tree size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn caches(&self) -> MutexGuard<'_, Caches> {
        // The caches hold only values read whole; a panic elsewhere cannot leave one torn.
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The hashes of tile `(level, index)` as the reader's tree has it (full, or the partial
    /// tile of the tree's size), from the cache or its file. `None` if the tree has no such
    /// tile.
    pub fn tile(&self, level: u8, index: u64) -> Result<Option<TileHashes>, TileReadError> {
        let Some(width) = width_in_tree(level, index, self.size) else {
            return Ok(None);
        };
        // width_in_tree only gives widths from 1 to 256, at levels a Tile can have.
        let Some(tile) = Tile::new(level, index, width) else {
            return Ok(None);
        };
        {
            let mut c = self.caches();
            c.clock += 1;
            let now = c.clock;
            if let Some((hashes, used)) = c.tiles.get_mut(&tile) {
                *used = now;
                return Ok(Some(hashes.clone()));
            }
        }
        let hashes: TileHashes = self.read_tile(tile)?.into();
        if self.options.cached_tiles > 0 {
            let mut c = self.caches();
            if c.tiles.len() >= self.options.cached_tiles {
                if let Some(oldest) = c.tiles.iter().min_by_key(|(_, (_, u))| *u).map(|(t, _)| *t) {
                    c.tiles.remove(&oldest);
                }
            }
            let now = c.clock;
            c.tiles.insert(tile, (hashes.clone(), now));
        }
        Ok(Some(hashes))
    }

    /// Reads tile `tile` from its file: exactly `32 × width` bytes, never more than a full
    /// tile's. A partial tile that is not there is taken from the first hashes of a wider tile
    /// at its place: the full tile (C2SP lets a log remove partial tiles once the full one is
    /// there), else the narrowest wider partial tile (a later checkpoint's). In an append-only
    /// tree every tile at a place starts with the same hashes.
    pub fn read_tile(&self, tile: Tile) -> Result<Vec<[u8; 32]>, TileReadError> {
        let path = self.dir.join(tile.path());
        let missing = match self.read_file(&path, tile.width()) {
            Err(TileReadError::Missing { path }) if !tile.is_full() => path,
            other => return other,
        };
        let wider = match self.read_file(&self.dir.join(tile.to_full().path()), TILE_WIDTH) {
            Err(TileReadError::Missing { .. }) => match self.wider_partial(tile)? {
                Some(w) => w,
                None => return Err(TileReadError::Missing { path: missing }),
            },
            other => other?,
        };
        let mut hashes = wider;
        hashes.truncate(usize::from(tile.width()));
        Ok(hashes)
    }

    // The narrowest partial tile at `tile`'s place wider than it, if the directory has one.
    fn wider_partial(&self, tile: Tile) -> Result<Option<Vec<[u8; 32]>>, TileReadError> {
        let pdir = self.dir.join(format!("{}.p", tile.to_full().path()));
        let names = match self.backend.list_dir(&pdir) {
            Ok(names) => names,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(TileReadError::Io { path: pdir, source }),
        };
        let narrowest = names
            .iter()
            .filter_map(|n| n.to_str())
            .filter_map(|n| Tile::parse(&format!("{}.p/{n}", tile.to_full().path())).ok())
            .filter(|t| t.width() > tile.width())
            .min_by_key(Tile::width);
        match narrowest {
            Some(t) => self
                .read_file(&self.dir.join(t.path()), t.width())
                .map(Some),
            None => Ok(None),
        }
    }

    fn read_file(&self, path: &Path, width: u16) -> Result<Vec<[u8; 32]>, TileReadError> {
        read_tile_file(&self.backend, path, width)
    }
}

/// The hashes of the tile file at `path`, which must hold exactly `width` of them: a file
/// longer than any tile is not read, one of another length is [`TileReadError::WrongLength`].
pub(crate) fn read_tile_file<B: Backend + ?Sized>(
    backend: &B,
    path: &Path,
    width: u16,
) -> Result<Vec<[u8; 32]>, TileReadError> {
    let io_err = |source: io::Error| TileReadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = match backend.open(path, OpenMode::Read) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(TileReadError::Missing {
                path: path.to_path_buf(),
            });
        }
        Err(e) => return Err(io_err(e)),
    };
    let len = file.len().map_err(io_err)?;
    if len > FULL_TILE_LEN as u64 {
        return Err(TileReadError::TooLarge {
            path: path.to_path_buf(),
            len,
        });
    }
    let expected = u64::from(width) * HASH_LEN as u64;
    if len != expected {
        return Err(TileReadError::WrongLength {
            path: path.to_path_buf(),
            expected,
            found: len,
        });
    }
    // `len` is at most 8,192 here.
    let mut buf = [0u8; FULL_TILE_LEN];
    let bytes = &mut buf[..expected as usize];
    file.read_exact_at(bytes, 0).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            // The file was cut between its length and the read.
            TileReadError::WrongLength {
                path: path.to_path_buf(),
                expected,
                found: file.len().unwrap_or(0),
            }
        } else {
            io_err(e)
        }
    })?;
    Ok(bytes
        .chunks_exact(HASH_LEN)
        .map(|c| {
            let mut h = [0u8; 32];
            h.copy_from_slice(c);
            h
        })
        .collect())
}

impl<B: Backend> NodeSource for TileReader<B> {
    type Error = TileReadError;

    fn perfect_node(&self, level: u32, index: u64) -> Result<[u8; 32], TileReadError> {
        let not_in_tree = TileReadError::NotInTree {
            level,
            index,
            size: self.size,
        };
        let complete = NodeId::new(level, index)
            .leaves()
            .is_some_and(|r| r.end <= self.size);
        let Some(loc) = locate(level, index).filter(|_| complete) else {
            return Err(not_in_tree);
        };
        let id = NodeId::new(level, index);
        let cacheable = (level % TILE_HEIGHT >= CACHED_SUBLEVEL || level >= TILE_HEIGHT)
            && self.options.cached_nodes > 0;
        if cacheable {
            if let Some(h) = self.caches().nodes.get(&id) {
                return Ok(*h);
            }
        }
        let hashes = self
            .tile(loc.tile.level(), loc.tile.index())?
            .ok_or(not_in_tree)?;
        let (start, end) = (usize::from(loc.start), usize::from(loc.start + loc.count));
        let run = hashes.get(start..end).ok_or(TileReadError::NotInTree {
            level,
            index,
            size: self.size,
        })?;
        // A run from `locate` is a power of two of at most 128 hashes.
        let hash = subtree_hash(&self.suite, run).ok_or(TileReadError::NotInTree {
            level,
            index,
            size: self.size,
        })?;
        if cacheable {
            let mut c = self.caches();
            if c.nodes.len() < self.options.cached_nodes {
                c.nodes.insert(id, hash);
            }
        }
        Ok(hash)
    }
}
