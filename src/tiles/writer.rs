//! Publishing a tree as tiles, then its checkpoint (SPEC §9.8, order of writes).

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};

use super::{
    CHECKPOINT_FILE, FULL_TILE_LEN, TILE_WIDTH, Tile, new_tiles, tile_bytes, tiles_for_size,
};
use crate::checkpoint::{CheckpointError, SignedCheckpoint};
use crate::hash::RootHash;
use crate::merkle::{self, NodeSource, ProveError, RangeError, TreeHasher};
use crate::note::MAX_NOTE_SIZE;
use crate::segment::{Backend, FsBackend, OpenMode};

/// Why tiles could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TileWriteError<E: std::error::Error + 'static> {
    /// A file operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the file system said.
        source: io::Error,
    },
    /// The tree could not give a hash a tile needs.
    #[error("reading Merkle node (level {level}, index {index})")]
    Node {
        /// The node's level.
        level: u32,
        /// Its index in its level.
        index: u64,
        /// What the node source said.
        #[source]
        source: E,
    },
    /// The sizes name no tree (cannot happen for a checkpoint's size; kept for completeness).
    #[error(transparent)]
    Range(#[from] RangeError),
    /// The checkpoint's root is not the root of the tree the tiles would be made of.
    #[error("the checkpoint of size {size} has root {checkpoint}, the tree has root {tree}")]
    RootMismatch {
        /// The tree size.
        size: u64,
        /// The root the checkpoint names.
        checkpoint: RootHash,
        /// The root of the source's tree of that size.
        tree: RootHash,
    },
    /// The directory's `checkpoint` file is not a checkpoint note.
    #[error("{}: not a checkpoint note: {source}", path.display())]
    Published {
        /// The file.
        path: PathBuf,
        /// Why it does not parse.
        source: CheckpointError,
    },
    /// The directory publishes another log (its checkpoint has another origin line).
    #[error("the directory publishes the log {published:?}, not {given:?}")]
    OtherLog {
        /// The origin line of the checkpoint on disk.
        published: String,
        /// The origin line of the checkpoint given.
        given: String,
    },
    /// The directory already publishes a larger tree: writing would roll it back.
    #[error(
        "the directory already publishes a tree of {published} leaves; refusing to roll it back to {size}"
    )]
    Rollback {
        /// The size on disk.
        published: u64,
        /// The size given.
        size: u64,
    },
    /// The directory's checkpoint is not a checkpoint of this tree: its root differs from the
    /// tree's root at its size.
    #[error(
        "the directory's checkpoint of size {size} has root {published}, this tree has {tree} there"
    )]
    Fork {
        /// The published size.
        size: u64,
        /// The published root.
        published: RootHash,
        /// The tree's root at that size.
        tree: RootHash,
    },
    /// A full tile on disk holds other hashes: full tiles are never rewritten.
    #[error("{}: a full tile already there holds other hashes; full tiles are never rewritten", path.display())]
    Conflict {
        /// The tile's file.
        path: PathBuf,
    },
}

impl<E: std::error::Error + 'static> From<ProveError<E>> for TileWriteError<E> {
    fn from(e: ProveError<E>) -> Self {
        match e {
            ProveError::Range(r) => TileWriteError::Range(r),
            ProveError::Source {
                level,
                index,
                source,
            } => TileWriteError::Node {
                level,
                index,
                source,
            },
        }
    }
}

/// What a [`TileWriter::write`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct WriteSummary {
    /// The tree size published now.
    pub size: u64,
    /// The size the directory published before (0 if it had no checkpoint).
    pub previous: u64,
    /// Full tiles written.
    pub full_written: u64,
    /// Full tiles that were already there with the same hashes (left from a write that
    /// stopped before its checkpoint).
    pub full_present: u64,
    /// Partial tiles written.
    pub partial_written: u64,
    /// Partial tiles removed because the full tile at their place is now there.
    pub partial_removed: u64,
    /// Bytes of tiles written.
    pub tile_bytes: u64,
    /// Whether the `checkpoint` file was replaced (not when it already held these bytes).
    pub checkpoint_written: bool,
}

/// How [`TileWriter::write_with`] treats what the directory already holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum WriteMode {
    /// Publish on top of what the directory publishes ([`TileWriter::write`]): refuse another
    /// log's, a larger or another tree, and a full tile holding other hashes; trust that every
    /// tile of the published tree is there.
    #[default]
    Publish,
    /// The directory is derived data of the source, which is the truth (the log directory's own
    /// `tiles/`, SPEC §9.8): a published checkpoint that does not parse or that the source's
    /// tree does not extend is ignored (everything is written as from size 0), a full tile
    /// holding other hashes is replaced, every tile of the tree that is missing is written
    /// again, and the partial tiles of every place whose full tile is present are removed.
    Rebuild,
}

/// Writes a tree's tiles and its checkpoint into a directory (SPEC §9.8).
///
/// [`TileWriter::write`] takes the directory from the tree size its `checkpoint` file names to
/// the given checkpoint's: it writes only the tiles that changed, each fsynced and renamed into
/// place, fsyncs their directories, and replaces `checkpoint` last, so whoever reads the
/// checkpoint finds every tile it needs. Full tiles are written once; partial tiles are
/// replaced atomically and removed once their full tile is there. One writer at a time.
///
/// The hashes come from any [`NodeSource`]: the log's stored nodes ([`crate::Log::write_tiles`]),
/// or, for leaf hashes streamed in order, a [`crate::merkle::MemoryTree`] they were pushed into.
#[derive(Debug, Clone)]
pub struct TileWriter<B: Backend = FsBackend> {
    backend: B,
    dir: PathBuf,
}

impl TileWriter<FsBackend> {
    /// A writer into `dir` on the file system (created if missing).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        TileWriter::with_backend(FsBackend, dir)
    }
}

impl<B: Backend> TileWriter<B> {
    /// A writer into `dir` through `backend` (e.g. [`crate::segment::SimBackend`] in tests).
    pub fn with_backend(backend: B, dir: impl Into<PathBuf>) -> Self {
        TileWriter {
            backend,
            dir: dir.into(),
        }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The checkpoint the directory publishes, if it has one. Parsed, not verified.
    pub fn published(&self) -> Result<Option<SignedCheckpoint>, TileWriteError<io::Error>> {
        self.read_published()
    }

    fn read_published<E: std::error::Error>(
        &self,
    ) -> Result<Option<SignedCheckpoint>, TileWriteError<E>> {
        let path = self.dir.join(CHECKPOINT_FILE);
        let Some(bytes) = read_file(&self.backend, &path, MAX_NOTE_SIZE)? else {
            return Ok(None);
        };
        SignedCheckpoint::parse(&bytes)
            .map(Some)
            .map_err(|source| TileWriteError::Published { path, source })
    }

    /// Publishes the tree of `checkpoint`'s size: writes every tile that tree has and the
    /// directory does not publish yet, reading hashes from `source` (which must hold the tree
    /// the checkpoint signs: its root is checked first), then replaces the `checkpoint` file
    /// with `checkpoint`'s note, then removes the partial tiles that full tiles replaced.
    ///
    /// Refuses a checkpoint of another origin than the one published, of a smaller size, or
    /// one whose tree does not extend the published one; and never rewrites a full tile.
    pub fn write<S, H>(
        &self,
        source: &S,
        hasher: &H,
        checkpoint: &SignedCheckpoint,
    ) -> Result<WriteSummary, TileWriteError<S::Error>>
    where
        S: NodeSource + ?Sized,
        H: TreeHasher + ?Sized,
    {
        self.write_with(source, hasher, checkpoint, WriteMode::Publish)
    }

    /// As [`TileWriter::write`], treating what the directory holds as `mode` says: with
    /// [`WriteMode::Rebuild`] the directory ends up holding every tile of the checkpoint's
    /// tree, whatever it held before.
    pub fn write_with<S, H>(
        &self,
        source: &S,
        hasher: &H,
        checkpoint: &SignedCheckpoint,
        mode: WriteMode,
    ) -> Result<WriteSummary, TileWriteError<S::Error>>
    where
        S: NodeSource + ?Sized,
        H: TreeHasher + ?Sized,
    {
        let rebuild = mode == WriteMode::Rebuild;
        let body = checkpoint.checkpoint();
        let size = body.size();
        let tree = merkle::root(source, hasher, size)?;
        if tree != body.root() {
            return Err(TileWriteError::RootMismatch {
                size,
                checkpoint: body.root(),
                tree,
            });
        }
        self.create_dir_durably()?;
        let published = match self.read_published() {
            Err(TileWriteError::Published { .. }) if rebuild => None,
            other => other?,
        };
        let previous = match &published {
            None => 0,
            Some(p) if rebuild => {
                // Kept only if the source's tree extends it.
                let (psize, proot) = (p.checkpoint().size(), p.checkpoint().root());
                let extends = p.checkpoint().origin() == body.origin()
                    && psize <= size
                    && merkle::root(source, hasher, psize)? == proot;
                if extends { psize } else { 0 }
            }
            Some(p) => {
                let (origin, psize, proot) = (
                    p.checkpoint().origin(),
                    p.checkpoint().size(),
                    p.checkpoint().root(),
                );
                if origin != body.origin() {
                    return Err(TileWriteError::OtherLog {
                        published: origin.to_owned(),
                        given: body.origin().to_owned(),
                    });
                }
                if psize > size {
                    return Err(TileWriteError::Rollback {
                        published: psize,
                        size,
                    });
                }
                let at = merkle::root(source, hasher, psize)?;
                if at != proot {
                    return Err(TileWriteError::Fork {
                        size: psize,
                        published: proot,
                        tree: at,
                    });
                }
                psize
            }
        };

        let mut summary = WriteSummary {
            size,
            previous,
            ..WriteSummary::default()
        };
        let mut dirs = BTreeSet::new();
        let mut completed = Vec::new();
        for tile in new_tiles(previous, size)? {
            let hashes = read_tile_hashes(source, tile)?;
            let bytes = tile_bytes(&hashes);
            let path = self.dir.join(tile.path());
            // A tile already there is left as it is if it holds these hashes (a write stopped
            // before its checkpoint made it, or a log's writer wrote it ahead, SPEC §9.8), and
            // made durable with its directory before the checkpoint that needs it; a full tile
            // holding others is never replaced.
            if let Some(old) = read_file(&self.backend, &path, FULL_TILE_LEN)? {
                if old == bytes {
                    self.sync_present(&path, &mut dirs)?;
                    if tile.is_full() {
                        summary.full_present += 1;
                        completed.push(tile);
                    }
                    continue;
                }
                if tile.is_full() && !rebuild {
                    return Err(TileWriteError::Conflict { path });
                }
            }
            self.write_new(&path, &bytes, &mut dirs)?;
            summary.tile_bytes += bytes.len() as u64;
            if tile.is_full() {
                summary.full_written += 1;
                completed.push(tile);
            } else {
                summary.partial_written += 1;
            }
        }
        if rebuild {
            self.restore_missing(source, previous, &mut summary, &mut dirs, &mut completed)?;
        }
        // Every tile's directory entry is durable before the checkpoint that needs it.
        for d in dirs.iter().rev() {
            self.backend.sync_dir(d).map_err(io_at(d))?;
        }
        let note = checkpoint.encode();
        if published.as_ref().map(SignedCheckpoint::encode) != Some(note.clone()) {
            let path = self.dir.join(CHECKPOINT_FILE);
            self.backend.replace(&path, &note).map_err(io_at(&path))?;
            summary.checkpoint_written = true;
        }
        for tile in completed {
            summary.partial_removed += self.remove_partials(tile)?;
        }
        Ok(summary)
    }

    // Writes the tiles of the tree of `previous` leaves (which the tree being written keeps as
    // they are) that are not in the directory, one listing per directory, and notes the full
    // tiles present so that partial tiles at their place are removed.
    fn restore_missing<S: NodeSource + ?Sized>(
        &self,
        source: &S,
        previous: u64,
        summary: &mut WriteSummary,
        dirs: &mut BTreeSet<PathBuf>,
        completed: &mut Vec<Tile>,
    ) -> Result<(), TileWriteError<S::Error>> {
        let mut listed: Option<(PathBuf, std::collections::HashSet<std::ffi::OsString>)> = None;
        for tile in tiles_for_size(previous) {
            let path = self.dir.join(tile.path());
            let parent = crate::segment::parent(&path).map_err(io_at(&path))?;
            if listed.as_ref().is_none_or(|(d, _)| *d != parent) {
                let names = match self.backend.list_dir(&parent) {
                    Ok(n) => n.into_iter().collect(),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => Default::default(),
                    Err(e) => return Err(io_at(&parent)(e)),
                };
                listed = Some((parent.clone(), names));
            }
            let present = listed
                .as_ref()
                .is_some_and(|(_, names)| path.file_name().is_some_and(|n| names.contains(n)));
            if !present {
                let bytes = tile_bytes(&read_tile_hashes(source, tile)?);
                self.write_new(&path, &bytes, dirs)?;
                summary.tile_bytes += bytes.len() as u64;
                if tile.is_full() {
                    summary.full_written += 1;
                } else {
                    summary.partial_written += 1;
                }
            }
            // Partial tiles at a full tile's place are in `<N>.p/`, listed beside it.
            let has_partials = listed.as_ref().is_some_and(|(_, names)| {
                path.file_name().is_some_and(|n| {
                    let mut p = n.to_os_string();
                    p.push(".p");
                    names.contains(&p)
                })
            });
            if tile.is_full() && has_partials {
                completed.push(tile);
            }
        }
        Ok(())
    }

    // Creates the tiles directory and any missing parents, and syncs the directory above each
    // one made, so that none of them can vanish in a power loss after the checkpoint is written.
    fn create_dir_durably<E: std::error::Error>(&self) -> Result<(), TileWriteError<E>> {
        let mut made = Vec::new();
        let mut d = self.dir.clone();
        while !self.exists(&d)? {
            made.push(d.clone());
            match d.parent() {
                Some(p) if !p.as_os_str().is_empty() => d = p.to_path_buf(),
                _ => break,
            }
        }
        if made.is_empty() {
            return Ok(());
        }
        self.backend
            .create_dir_all(&self.dir)
            .map_err(io_at(&self.dir))?;
        // Deepest first: each made directory's entry is in its parent.
        for m in made {
            let parent = crate::segment::parent(&m).map_err(io_at(&m))?;
            self.backend.sync_dir(&parent).map_err(io_at(&parent))?;
        }
        Ok(())
    }

    fn exists<E: std::error::Error>(&self, dir: &Path) -> Result<bool, TileWriteError<E>> {
        match self.backend.list_dir(dir) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_at(dir)(e)),
        }
    }

    // Writes `bytes` to a temporary file beside `path`, fsyncs it and renames it into place;
    // records the directories whose entries must be synced (the tile's and any made for it).
    fn write_new<E: std::error::Error>(
        &self,
        path: &Path,
        bytes: &[u8],
        dirs: &mut BTreeSet<PathBuf>,
    ) -> Result<(), TileWriteError<E>> {
        let parent = crate::segment::parent(path).map_err(io_at(path))?;
        if !dirs.contains(&parent) {
            self.backend
                .create_dir_all(&parent)
                .map_err(io_at(&parent))?;
            self.note_dirs(&parent, dirs);
        }
        self.put(path, bytes, true).map_err(io_at(path))
    }

    // Fsyncs a tile already in place, which may have been written without an fsync
    // ([`TileWriter::write_ahead`]), and records its directories for syncing, as for a tile
    // written now.
    fn sync_present<E: std::error::Error>(
        &self,
        path: &Path,
        dirs: &mut BTreeSet<PathBuf>,
    ) -> Result<(), TileWriteError<E>> {
        let file = self
            .backend
            .open(path, OpenMode::Read)
            .map_err(io_at(path))?;
        file.sync_all().map_err(io_at(path))?;
        let parent = crate::segment::parent(path).map_err(io_at(path))?;
        self.note_dirs(&parent, dirs);
        Ok(())
    }

    // Records `dir` and the directories above it, up to the tiles directory itself, as ones
    // whose entries must be synced before the checkpoint.
    fn note_dirs(&self, dir: &Path, dirs: &mut BTreeSet<PathBuf>) {
        let mut d = dir;
        while d != self.dir && d.starts_with(&self.dir) {
            if !dirs.insert(d.to_path_buf()) {
                return;
            }
            match d.parent() {
                Some(p) => d = p,
                None => break,
            }
        }
        dirs.insert(self.dir.clone());
    }

    // Writes `bytes` to a temporary file `.<name>.tmp` beside `path` and renames it into
    // place, fsyncing the file first if `sync`.
    fn put(&self, path: &Path, bytes: &[u8], sync: bool) -> io::Result<()> {
        let parent = crate::segment::parent(path)?;
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(path.file_name().unwrap_or_default());
        tmp_name.push(".tmp");
        let tmp = parent.join(tmp_name);
        let file = self.backend.open(&tmp, OpenMode::Truncate)?;
        file.write_at(bytes, 0)?;
        if sync {
            file.sync_all()?;
        }
        drop(file);
        self.backend.rename(&tmp, path)
    }

    /// Writes the full tile `tile` of `hashes` (256 of them) into place ahead of any
    /// checkpoint that covers it, without an fsync: a log's writer does this for each run of
    /// 256 entries once they are durable (SPEC §9.8, "In the log directory"). A later
    /// [`TileWriter::write`] that needs the tile keeps it if it holds the same hashes, and then
    /// fsyncs it and its directory before the checkpoint. A tile already there is replaced:
    /// the caller knows these hashes are the tree's. The caller must not run this beside
    /// another write into the same directory.
    ///
    /// `made` is the caller's note of the directory the last tile written ahead went into:
    /// when this tile goes there too, the directories are not looked at again (one tile's
    /// directory holds 1,000 of them). Set once the directories are made, cleared by a failure.
    pub(crate) fn write_ahead(
        &self,
        tile: Tile,
        hashes: &[[u8; 32]],
        made: &mut Option<PathBuf>,
    ) -> io::Result<()> {
        if !tile.is_full() || hashes.len() != usize::from(TILE_WIDTH) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "only a full tile of 256 hashes is written ahead",
            ));
        }
        let path = self.dir.join(tile.path());
        let parent = crate::segment::parent(&path)?;
        if made.as_ref() != Some(&parent) {
            *made = None;
            // The tiles directory itself durably, as a publication makes it: the directories
            // below it are synced by the publication that keeps the tile.
            self.create_dir_durably::<io::Error>()
                .map_err(|e| io::Error::other(e.to_string()))?;
            self.backend.create_dir_all(&parent)?;
            *made = Some(parent);
        }
        let written = self.put(&path, &tile_bytes(hashes), false);
        if written.is_err() {
            // Perhaps a directory removed by hand: made again by the next tile.
            *made = None;
        }
        written
    }

    // Removes the partial tiles at the place of full tile `tile` (`<N>.p/<W>`), now that it is
    // there, and then the `<N>.p` directory when nothing else is in it.
    fn remove_partials<E: std::error::Error>(&self, tile: Tile) -> Result<u64, TileWriteError<E>> {
        let pdir = self.dir.join(format!("{}.p", tile.path()));
        let names = match self.backend.list_dir(&pdir) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(io_at(&pdir)(e)),
        };
        let (listed, mut removed) = (names.len() as u64, 0);
        for name in names {
            // Only canonical partial tiles of this place: nothing else is touched.
            let Some(name) = name.to_str() else { continue };
            let rel = format!("{}.p/{name}", tile.path());
            if Tile::parse(&rel).is_ok_and(|t| t.to_full() == tile) {
                let path = pdir.join(name);
                self.backend.remove_file(&path).map_err(io_at(&path))?;
                removed += 1;
            }
        }
        if removed > 0 {
            self.backend.sync_dir(&pdir).map_err(io_at(&pdir))?;
        }
        // Emptied (everything listed was removed), its removals durable first: a crash leaves
        // the directory empty or gone.
        if removed == listed {
            let parent = crate::segment::parent(&pdir).map_err(io_at(&pdir))?;
            self.backend.remove_dir(&pdir).map_err(io_at(&pdir))?;
            self.backend.sync_dir(&parent).map_err(io_at(&parent))?;
        }
        Ok(removed)
    }
}

// The hashes of `tile` from the source: perfect nodes (8·level, 256·index + i).
fn read_tile_hashes<S: NodeSource + ?Sized>(
    source: &S,
    tile: Tile,
) -> Result<Vec<[u8; 32]>, TileWriteError<S::Error>> {
    (0..tile.width())
        .map(|i| {
            // Every tile of new_tiles lies in a 64-bit tree.
            let node = tile.node(i).ok_or(RangeError::NotATreeRange {
                start: tile.index(),
                end: tile.index(),
            })?;
            source
                .perfect_node(node.level, node.index)
                .map_err(|source| TileWriteError::Node {
                    level: node.level,
                    index: node.index,
                    source,
                })
        })
        .collect()
}

fn io_at<E: std::error::Error>(path: &Path) -> impl Fn(io::Error) -> TileWriteError<E> + '_ {
    move |source| TileWriteError::Io {
        path: path.to_path_buf(),
        source,
    }
}

// A file's bytes, `None` if it does not exist. A file longer than `max` is not read whole: its
// first `max + 1` bytes are returned, which no caller takes for a valid file.
fn read_file<B: Backend + ?Sized, E: std::error::Error>(
    backend: &B,
    path: &Path,
    max: usize,
) -> Result<Option<Vec<u8>>, TileWriteError<E>> {
    let file = match backend.open(path, OpenMode::Read) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_at(path)(e)),
    };
    let len = file.len().map_err(io_at(path))?;
    let take = usize::try_from(len).unwrap_or(usize::MAX).min(max + 1);
    let mut buf = vec![0u8; take];
    file.read_exact_at(&mut buf, 0).map_err(io_at(path))?;
    Ok(Some(buf))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::Checkpoint;
    use crate::hash::Suite;
    use crate::keys::SecretKey;
    use crate::merkle::MemoryTree;
    use crate::segment::SimBackend;

    const ORIGIN: &str = "example.com/tiles-ahead";

    // A tree of `n` leaves and the owner's checkpoint of it.
    fn tree(n: u64) -> (MemoryTree, SignedCheckpoint) {
        let suite = Suite::Sha256;
        let mut tree = MemoryTree::new();
        for i in 0..n {
            tree.push(&suite, suite.leaf(&i.to_be_bytes()));
        }
        let root = merkle::root(&tree, &suite, n).unwrap();
        let owner = SecretKey::from_seed(ORIGIN, &[7; 32]).unwrap();
        let cp = SignedCheckpoint::sign(Checkpoint::new(ORIGIN, n, root).unwrap(), &owner);
        (tree, cp.unwrap())
    }

    // A full tile written ahead, without an fsync, is kept by the publication that needs it,
    // which makes it durable, with the directories it was made in, before the checkpoint: a
    // power loss right after the publication finds it whole. Without that fsync the
    // simulated disk drops it or its directory in most of these runs.
    #[test]
    fn a_tile_written_ahead_is_made_durable_before_the_checkpoint_needing_it() {
        let (tree, cp) = tree(600);
        let dir = Path::new("/srv/log/tiles");
        for seed in 0..40u64 {
            let sim = SimBackend::new(seed);
            let writer = TileWriter::with_backend(sim.clone(), dir);
            let tile = Tile::full(0, 1).unwrap();
            let hashes = read_tile_hashes(&tree, tile).unwrap();
            writer.write_ahead(tile, &hashes, &mut None).unwrap();
            let summary = writer.write(&tree, &Suite::Sha256, &cp).unwrap();
            assert_eq!(
                (summary.full_present, summary.full_written),
                (1, 1),
                "seed {seed}"
            );
            sim.crash();
            let files = sim.files();
            assert!(
                files.get(&dir.join("tile/0/001")) == Some(&tile_bytes(&hashes)),
                "seed {seed}: the tile written ahead was lost"
            );
            assert!(files.contains_key(&dir.join(CHECKPOINT_FILE)));
        }
    }

    // Only a full tile of 256 hashes is written ahead.
    #[test]
    fn only_full_tiles_are_written_ahead() {
        let writer = TileWriter::with_backend(SimBackend::new(1), "/t");
        let partial = Tile::new(0, 0, 5).unwrap();
        assert!(
            writer
                .write_ahead(partial, &[[0; 32]; 5], &mut None)
                .is_err()
        );
        let full = Tile::full(0, 0).unwrap();
        assert!(
            writer
                .write_ahead(full, &[[0; 32]; 255], &mut None)
                .is_err()
        );
        assert!(writer.write_ahead(full, &[[0; 32]; 256], &mut None).is_ok());
    }

    // A backend that counts the calls that look at or make directories.
    #[derive(Debug)]
    struct Counting {
        inner: SimBackend,
        dir_calls: std::sync::atomic::AtomicU64,
    }

    impl Counting {
        fn count(&self) {
            self.dir_calls
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    impl Backend for Counting {
        fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
            self.count();
            self.inner.create_dir_all(dir)
        }
        fn open(
            &self,
            path: &Path,
            mode: OpenMode,
        ) -> io::Result<Box<dyn crate::segment::BackendFile>> {
            self.inner.open(path, mode)
        }
        fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
            self.inner.rename(from, to)
        }
        fn remove_file(&self, path: &Path) -> io::Result<()> {
            self.inner.remove_file(path)
        }
        fn remove_dir(&self, dir: &Path) -> io::Result<()> {
            self.inner.remove_dir(dir)
        }
        fn list_dir(&self, dir: &Path) -> io::Result<Vec<std::ffi::OsString>> {
            self.count();
            self.inner.list_dir(dir)
        }
        fn sync_dir(&self, dir: &Path) -> io::Result<()> {
            self.count();
            self.inner.sync_dir(dir)
        }
    }

    // Tiles written ahead one after another into one directory look at the directories once,
    // not once per tile; a directory removed under the writer fails the tile written into it
    // and is made again by the next.
    #[test]
    fn tiles_written_ahead_make_their_directory_once() {
        let sim = SimBackend::new(3);
        let backend = Counting {
            inner: sim.clone(),
            dir_calls: std::sync::atomic::AtomicU64::new(0),
        };
        let writer = TileWriter::with_backend(backend, "/srv/log/tiles");
        let calls = |w: &TileWriter<Counting>| {
            w.backend
                .dir_calls
                .load(std::sync::atomic::Ordering::SeqCst)
        };
        let mut made = None;
        let hashes = [[1; 32]; 256];
        writer
            .write_ahead(Tile::full(0, 0).unwrap(), &hashes, &mut made)
            .unwrap();
        let first = calls(&writer);
        assert!(first > 0);
        for n in 1..50 {
            writer
                .write_ahead(Tile::full(0, n).unwrap(), &hashes, &mut made)
                .unwrap();
        }
        assert_eq!(
            calls(&writer),
            first,
            "the directories were looked at again"
        );
        assert_eq!(made.as_deref(), Some(Path::new("/srv/log/tiles/tile/0")));
        let files = sim.files();
        for n in 0..50 {
            let path = format!("/srv/log/tiles/{}", Tile::full(0, n).unwrap().path());
            assert_eq!(files.get(Path::new(&path)), Some(&tile_bytes(&hashes)));
        }
        // Removed by hand: the next tile fails, the one after makes the directory again.
        let dir = Path::new("/srv/log/tiles/tile/0");
        for name in sim.list_dir(dir).unwrap() {
            sim.remove_file(&dir.join(name)).unwrap();
        }
        sim.remove_dir(dir).unwrap();
        let tile = Tile::full(0, 50).unwrap();
        assert!(writer.write_ahead(tile, &hashes, &mut made).is_err());
        assert_eq!(made, None);
        writer.write_ahead(tile, &hashes, &mut made).unwrap();
        assert!(
            sim.files()
                .contains_key(&dir.join(tile.path().rsplit('/').next().unwrap()))
        );
        // A tile of another directory makes that one.
        let far = Tile::full(0, 1_000).unwrap();
        writer.write_ahead(far, &hashes, &mut made).unwrap();
        assert_eq!(
            made.as_deref(),
            Some(Path::new("/srv/log/tiles/tile/0/x001"))
        );
    }
}
