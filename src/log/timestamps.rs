//! RFC 3161 timestamp tokens kept with the checkpoints they timestamp (SPEC §12.7, §9.1).
//!
//! Each token is stored with the exact note bytes it timestamps, under
//! `0x54 ‖ size (8 bytes, big-endian) ‖ SHA-256(token)`: the same token is stored once, and
//! later cosignature lines added to the checkpoint (which change its note) leave the
//! timestamped note as it was.

use crate::bundle::{MAX_TIMESTAMP_LEN, TimestampItem};
use crate::codec::from_canonical;
use crate::store::StoreError;

use super::layout::seq_key;
use super::{Log, ReadError};

/// Timestamp tokens by checkpoint size (`T`).
const TIMESTAMPS: u8 = 0x54;

/// A timestamp token kept with a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTimestamp {
    /// The checkpoint's tree size.
    pub size: u64,
    /// The signed checkpoint note the token timestamps, verbatim.
    pub note: Vec<u8>,
    /// The DER timestamp token.
    pub token: Vec<u8>,
}

/// Why a timestamp token was not stored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TimestampStoreError {
    /// The note is not a checkpoint.
    #[error("the timestamped note is not a checkpoint: {0}")]
    Note(#[from] crate::checkpoint::CheckpointError),
    /// The log has no checkpoint of that size, or one with another body.
    #[error("the log has no stored checkpoint of size {size} with this body")]
    NoSuchCheckpoint {
        /// The note's size.
        size: u64,
    },
    /// The token or note is larger than a bundle carries.
    #[error("the token or its note is over {MAX_TIMESTAMP_LEN} bytes")]
    TooLarge,
    /// The token does not timestamp this note.
    #[cfg(feature = "tsa")]
    #[error(transparent)]
    Token(#[from] crate::timestamp::TimestampError),
    /// A stored checkpoint could not be read.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[cfg(feature = "tsa")]
fn key(size: u64, token: &[u8]) -> Vec<u8> {
    let mut k = seq_key(TIMESTAMPS, size).to_vec();
    use sha2::Digest as _;
    k.extend_from_slice(&sha2::Sha256::digest(token));
    k
}

impl Log {
    /// Keeps `token`, a timestamp token over `note` (a signed checkpoint note of this log), with
    /// the stored checkpoint of the same body. The token must timestamp exactly these note bytes
    /// (its imprint is their SHA-256); whether its TSA is trusted is the auditor's check. Returns
    /// `false` when the same token was already stored.
    #[cfg(feature = "tsa")]
    pub fn add_timestamp(&self, note: &[u8], token: &[u8]) -> Result<bool, TimestampStoreError> {
        use crate::checkpoint::SignedCheckpoint;
        use crate::codec::to_canonical;
        use serde_bytes::ByteBuf;
        if note.len() > MAX_TIMESTAMP_LEN || token.len() > MAX_TIMESTAMP_LEN {
            return Err(TimestampStoreError::TooLarge);
        }
        let signed = SignedCheckpoint::parse(note)?;
        let size = signed.checkpoint().size();
        let stored = self.checkpoint_at(size)?;
        if stored.is_none_or(|c| c.note().text() != signed.note().text()) {
            return Err(TimestampStoreError::NoSuchCheckpoint { size });
        }
        let (_, imprint) = crate::timestamp::peek_token(token)?;
        if imprint != crate::timestamp::imprint(note) {
            return Err(crate::timestamp::TimestampError::ImprintMismatch.into());
        }
        let k = key(size, token);
        if self.inner.store.get(&k)?.is_some() {
            return Ok(false);
        }
        let item = TimestampItem {
            note: ByteBuf::from(note.to_vec()),
            token: ByteBuf::from(token.to_vec()),
        };
        let value = to_canonical(&item).map_err(|e| StoreError::Backend(e.to_string()))?;
        self.inner.store.put(&k, &value)?;
        self.inner.store.flush()?;
        Ok(true)
    }

    /// Every stored timestamp token, by checkpoint size.
    pub fn timestamps(&self) -> Result<Vec<StoredTimestamp>, ReadError> {
        let pairs =
            self.inner
                .store
                .scan(&seq_key(TIMESTAMPS, 0), &[TIMESTAMPS + 1], usize::MAX)?;
        pairs
            .into_iter()
            .map(|(k, v)| {
                let size = k
                    .get(1..9)
                    .and_then(|b| <[u8; 8]>::try_from(b).ok())
                    .map_or(0, u64::from_be_bytes);
                let item: TimestampItem = from_canonical(&v)
                    .map_err(|source| ReadError::Corrupt { seq: size, source })?;
                Ok(StoredTimestamp {
                    size,
                    note: item.note.into_vec(),
                    token: item.token.into_vec(),
                })
            })
            .collect()
    }
}
