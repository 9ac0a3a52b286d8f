//! Storage behind a trait (the writer side): an ordered key-value space with an explicit,
//! durable flush. [`DirStore`] is the on-disk backend (segment files, with sled as a derived
//! index); [`MemoryStore`] keeps tests fast and deterministic. Nothing on the verification
//! path depends on this module.

use std::fmt;

#[cfg(feature = "sled")]
mod dir;
mod memory;
#[cfg(feature = "sled")]
mod runs;

#[cfg(feature = "sled")]
pub use dir::DirStore;
pub use memory::MemoryStore;

/// A storage backend failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend reported an error.
    #[error("storage backend: {0}")]
    Backend(String),
    /// An I/O error.
    #[error("storage I/O: {0}")]
    Io(#[from] std::io::Error),
    /// Another process has the store open for writing (one writer at a time).
    #[error("{}: the log is open in another process", .path.display())]
    Locked {
        /// The store's directory.
        path: std::path::PathBuf,
    },
    /// This process already has the store open: a log is opened once per process, and its
    /// handle shared (`Log` is `Clone`, and safe to use from many threads).
    #[error(
        "{}: the log is already open in this process; clone the open `Log` instead of opening \
         it again",
        .path.display()
    )]
    OpenInThisProcess {
        /// The store's directory.
        path: std::path::PathBuf,
    },
    /// The store's segment files (SPEC §9.7) are damaged, or could not be read or written:
    /// the error names the segment and the offset.
    #[error("{}: {source}", .dir.display())]
    Segments {
        /// The directory of segments (`entries/` or `meta/` of the log directory).
        dir: std::path::PathBuf,
        /// What the segment layer found.
        #[source]
        source: crate::segment::SegmentError,
    },
    /// The store's derived index (session run markers, SPEC §9.7) was found damaged by a read
    /// or a write while the store was open. The store has already set it aside: the index is
    /// empty until the log writes every marker again from its entries
    /// ([`Store::index_rebuild_needed`]), and the next open starts it afresh.
    #[error(
        "{}: the derived index is damaged ({reason}); it is rebuilt from the entries",
        .path.display()
    )]
    IndexDamaged {
        /// The store's directory.
        path: std::path::PathBuf,
        /// What was found.
        reason: String,
    },
    /// The store was opened for reading only.
    #[error("{}: the log is open for reading only", .path.display())]
    ReadOnly {
        /// The store's directory.
        path: std::path::PathBuf,
    },
}

/// A key-value pair read from a store.
pub type Pair = (Vec<u8>, Vec<u8>);

/// An ordered key-value store. Single writes are atomic; `flush` makes every write that
/// completed before it durable.
pub trait Store: Send + Sync + fmt::Debug {
    /// The value under `key`.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Writes `value` under `key`, replacing any value there.
    fn put(&self, key: &[u8], value: &[u8]) -> Result<(), StoreError>;
    /// Writes each `(key, value)` pair in order, as [`Store::put`] would one by one; a store
    /// may do it more cheaply. Each write is atomic, not the whole.
    fn put_many(&self, pairs: &[(&[u8], &[u8])]) -> Result<(), StoreError> {
        pairs.iter().try_for_each(|(k, v)| self.put(k, v))
    }
    /// Removes `key`.
    fn delete(&self, key: &[u8]) -> Result<(), StoreError>;
    /// Up to `limit` pairs with keys in `[start, end)`, in ascending key order.
    fn scan(&self, start: &[u8], end: &[u8], limit: usize) -> Result<Vec<Pair>, StoreError>;
    /// The pair with the greatest key in `[start, end)`.
    fn last(&self, start: &[u8], end: &[u8]) -> Result<Option<Pair>, StoreError>;
    /// Makes every completed write durable (fsync) before returning.
    fn flush(&self) -> Result<(), StoreError>;
    /// Makes every completed write durable, as [`Store::flush`] does, but may leave to
    /// [`Store::settle`] what durability does not need (bringing derived data up to date), so
    /// that a group commit can release its waiters first. `flush` is `sync` then `settle`.
    fn sync(&self) -> Result<(), StoreError> {
        self.flush()
    }
    /// Does what [`Store::sync`] left for after it: nothing for a store whose `sync` is its
    /// whole `flush`.
    fn settle(&self) -> Result<(), StoreError> {
        Ok(())
    }
    /// Bytes the store occupies on disk, where that means something.
    fn size_on_disk(&self) -> Result<Option<u64>, StoreError> {
        Ok(None)
    }
    /// How many entries the store's derived index (session run markers) covers, for a store
    /// whose index may lag its entries after a crash or be missing; `None` when it never lags. Opening a log rebuilds the index from there (SPEC §9.7).
    fn indexed_len(&self) -> Result<Option<u64>, StoreError> {
        Ok(None)
    }
    /// Whether the derived index was found damaged while the store was open and replaced by an
    /// empty one, which the log must fill again from its entries and then report with
    /// [`Store::index_rebuilt`]. Until then every read of the index fails with
    /// [`StoreError::IndexDamaged`], and writes to it are kept.
    fn index_rebuild_needed(&self) -> bool {
        false
    }
    /// Says the log has written again the run markers of every entry it held when
    /// [`Store::index_rebuild_needed`] became true: reads of the index answer again.
    fn index_rebuilt(&self) {}
    /// Removes from the disk every byte that records replaced since the last call no longer
    /// hold (an erased or purged payload): a store that keeps old bytes beside new ones
    /// rewrites its files here. Nothing to do for a store that overwrites in place.
    fn compact(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
