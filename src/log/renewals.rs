//! Renewals kept in the log (SPEC §15.6, §9.1): `0x52 ‖ suite (1 byte) ‖ size (8 bytes,
//! big-endian)` holds the canonical [`RenewalItem`] of the renewal of entries `0..size` under
//! that suite. One renewal per suite and size: renewing again returns the stored one.

use serde_bytes::ByteBuf;

use crate::checkpoint::{CheckpointError, LogOrigin};
use crate::hash::Suite;
use crate::keys::SecretKey;
use crate::registry::Role;
use crate::renewal::{
    MAX_PROTECTED, MAX_RENEWAL_LEN, ProtectedKind, Protection, Renewal, RenewalError, RenewalItem,
    RenewalTree, SignedRenewal, protection_hash,
};
use crate::store::StoreError;

use super::{Log, ReadError};

/// Renewals by suite and size (`R`).
const RENEWALS: u8 = 0x52;

fn suite_byte(suite: Suite) -> u8 {
    match suite {
        Suite::Blake3 => 0,
        Suite::Sha256 => 1,
    }
}

fn key(suite: Suite, size: u64) -> [u8; 10] {
    let mut k = [0u8; 10];
    k[0] = RENEWALS;
    k[1] = suite_byte(suite);
    k[2..].copy_from_slice(&size.to_be_bytes());
    k
}

/// A renewal kept in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRenewal {
    /// The renewal suite.
    pub suite: Suite,
    /// Entries covered: `0..size`.
    pub size: u64,
    /// The note and the protected items, as stored and carried.
    pub item: RenewalItem,
}

/// Why a renewal was not made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RenewError {
    /// The key is not an active owner key of this log.
    #[error("key {} is not an active owner key of this log", .0.short())]
    NotOwner(crate::keys::KeyId),
    /// The renewal suite is the log's own.
    #[error("the log's own suite is {0}: renew under the other suite")]
    SameSuite(Suite),
    /// The size asked for is beyond the log, or 0.
    #[error("cannot renew entries 0..{size}: the log has {len}")]
    Size {
        /// Asked.
        size: u64,
        /// The log's length.
        len: u64,
    },
    /// The entries could not be made durable first.
    #[error("the entries could not be made durable: {0}")]
    Durability(String),
    /// The renewal could not be built.
    #[error(transparent)]
    Renewal(#[from] RenewalError),
    /// A stored item could not be read.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<CheckpointError> for RenewError {
    fn from(e: CheckpointError) -> Self {
        RenewError::Renewal(e.into())
    }
}

impl Log {
    /// Renews entries `0..size` (all of them without `size`) under `suite` (SPEC §15.6): the
    /// RFC 6962 root under `suite` of the entries' hashes under `suite`, signed by `owner`,
    /// naming and carrying every earlier protection the log keeps at or below that size (its
    /// stored checkpoint notes, earlier renewals and timestamp tokens; the 64 latest). Returns
    /// the stored renewal and whether it is new: renewing the same size under the same suite
    /// again returns the one stored.
    pub fn renew(
        &self,
        owner: &SecretKey,
        suite: Suite,
        size: Option<u64>,
    ) -> Result<(StoredRenewal, bool), RenewError> {
        if suite == self.suite() {
            return Err(RenewError::SameSuite(suite));
        }
        let len = self.len();
        let size = size.unwrap_or(len);
        if size == 0 || size > len {
            return Err(RenewError::Size { size, len });
        }
        let active_owner = self
            .tip()
            .registry
            .get(&owner.key_id())
            .is_some_and(|r| r.role == Role::Owner && r.revoked_at.is_none());
        if !active_owner {
            return Err(RenewError::NotOwner(owner.key_id()));
        }
        if let Some(stored) = self.renewal_at(suite, size)? {
            return Ok((stored, false));
        }
        // Never renew an entry a crash could still lose.
        self.inner
            .progress
            .wait_completed(size)
            .map_err(RenewError::Durability)?;
        self.wait_durable(size).map_err(RenewError::Durability)?;
        let mut tree = RenewalTree::new([(suite, size)]);
        for stored in self.range(0..size) {
            let stored = stored?;
            tree.push(stored.seq(), stored.entry.header_bytes());
        }
        let root = tree
            .root_at(suite, size)
            .map_err(|e| RenewError::Durability(format!("entries 0..{size}: {e}")))?;
        let (protects, protected) = self.protections(suite, size)?;
        let log = LogOrigin::of(self.descriptor().descriptor())?;
        let renewal = Renewal {
            origin: log.origin().to_owned(),
            suite,
            size,
            root,
            log_id: self.log_id(),
            renews: self.suite(),
            time: self.now().0 / 1_000_000_000,
            protects,
        };
        let signed = SignedRenewal::sign(renewal, owner, &log.checkpoint_origin())?;
        let item = RenewalItem {
            note: ByteBuf::from(signed.encode()),
            protected,
        };
        item.check_bounds()?;
        self.inner.store.put(&key(suite, size), &item.encode())?;
        self.inner.store.flush()?;
        Ok((StoredRenewal { suite, size, item }, true))
    }

    // What a renewal of `0..size` protects: stored checkpoints, earlier renewals, timestamp
    // tokens (with the notes they timestamp), each once, the latest 64 if there are more. A
    // token's note comes before the token.
    fn protections(
        &self,
        suite: Suite,
        size: u64,
    ) -> Result<(Vec<Protection>, Vec<ByteBuf>), RenewError> {
        let mut items: Vec<(u64, ProtectedKind, Vec<u8>)> = Vec::new();
        for c in self.checkpoints()? {
            if c.checkpoint().size() <= size {
                items.push((c.checkpoint().size(), ProtectedKind::Checkpoint, c.encode()));
            }
        }
        for r in self.renewals()? {
            if r.size <= size {
                items.push((r.size, ProtectedKind::Renewal, r.item.note.into_vec()));
            }
        }
        for t in self.timestamps()? {
            if t.size > size {
                continue;
            }
            if !items.iter().any(|(_, _, b)| *b == t.note) {
                items.push((t.size, ProtectedKind::Checkpoint, t.note.clone()));
            }
            items.push((t.size, ProtectedKind::Timestamp, t.token));
        }
        // By size, tokens after the notes they timestamp (stable: insertion order otherwise).
        items.sort_by_key(|(s, k, _)| (*s, *k == ProtectedKind::Timestamp));
        items.retain(|(_, _, b)| b.len() <= MAX_RENEWAL_LEN);
        if items.len() > MAX_PROTECTED {
            items.drain(..items.len() - MAX_PROTECTED);
        }
        // A token whose note was dropped by the cut would name nothing protected before it.
        let mut kept: Vec<(ProtectedKind, Vec<u8>)> = Vec::new();
        for (_, kind, bytes) in items {
            if kind == ProtectedKind::Timestamp && !token_has_note(&bytes, &kept) {
                continue;
            }
            kept.push((kind, bytes));
        }
        Ok(kept
            .into_iter()
            .map(|(kind, bytes)| {
                (
                    Protection {
                        kind,
                        hash: protection_hash(suite, &bytes),
                    },
                    ByteBuf::from(bytes),
                )
            })
            .unzip())
    }

    /// The stored renewal of `0..size` under `suite`, if any.
    pub fn renewal_at(&self, suite: Suite, size: u64) -> Result<Option<StoredRenewal>, ReadError> {
        match self.inner.store.get(&key(suite, size))? {
            Some(v) => decode(suite, size, &v).map(Some),
            None => Ok(None),
        }
    }

    /// Every stored renewal, by suite then size.
    pub fn renewals(&self) -> Result<Vec<StoredRenewal>, ReadError> {
        let pairs = self
            .inner
            .store
            .scan(&[RENEWALS], &[RENEWALS + 1], usize::MAX)?;
        pairs
            .into_iter()
            .map(|(k, v)| {
                let suite = match k.get(1) {
                    Some(0) => Suite::Blake3,
                    _ => Suite::Sha256,
                };
                let size = k
                    .get(2..10)
                    .and_then(|b| <[u8; 8]>::try_from(b).ok())
                    .map_or(0, u64::from_be_bytes);
                decode(suite, size, &v)
            })
            .collect()
    }
}

#[cfg(feature = "tsa")]
fn token_has_note(token: &[u8], kept: &[(ProtectedKind, Vec<u8>)]) -> bool {
    crate::timestamp::peek_token(token).is_ok_and(|(_, imprint)| {
        kept.iter()
            .any(|(k, b)| *k != ProtectedKind::Timestamp && crate::timestamp::imprint(b) == imprint)
    })
}

#[cfg(not(feature = "tsa"))]
fn token_has_note(_token: &[u8], _kept: &[(ProtectedKind, Vec<u8>)]) -> bool {
    // Without RFC 3161 support no token is stored (`Log::add_timestamp` needs `tsa`).
    false
}

fn decode(suite: Suite, size: u64, v: &[u8]) -> Result<StoredRenewal, ReadError> {
    let item = RenewalItem::decode(v).map_err(|e| ReadError::Corrupt {
        seq: size,
        source: match e {
            RenewalError::Decode(d) => d,
            _ => crate::codec::DecodeError::InvalidField {
                offset: 0,
                field: "renewal",
                reason: "over the bounds of a renewal item",
            },
        },
    })?;
    Ok(StoredRenewal { suite, size, item })
}
