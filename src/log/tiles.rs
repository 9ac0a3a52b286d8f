//! Publishing the log's Merkle tree as C2SP tlog-tiles (SPEC §9.8).

use std::path::Path;

use crate::checkpoint::SignedCheckpoint;
use crate::segment::Backend;
use crate::tiles::{TileWriteError, TileWriter, WriteSummary};

use super::{Log, NodeReadError, StoreNodes};

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
        let nodes = StoreNodes {
            records: self.records(),
            cache: Some(&self.inner.nodes),
        };
        Ok(writer.write(&nodes, &self.suite(), checkpoint)?)
    }
}
