//! Merkle proofs from the stored tree, signed checkpoints and tlog proofs (SPEC §10, §11).

use crate::checkpoint::{
    Checkpoint, CheckpointError, LogBinding, LogOrigin, SignedCheckpoint, TlogProof, TlogProofError,
};
use crate::hash::RootHash;
use crate::keys::SecretKey;
use crate::merkle::{self, ProveError, RangeError};
use crate::registry::Role;
use crate::store::StoreError;

use super::layout::{CHECKPOINTS, prefix_end, seq_key};
use super::{AppendError, ControlChainError, Log, NodeReadError, ReadError};

/// Why a proof could not be made from the log.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogProofError {
    /// The tree size asked for is larger than the log.
    #[error(
        "the log has {}; a tree of {size} cannot be proven",
        crate::text::entries(*.len)
    )]
    BeyondLog {
        /// The size asked for.
        size: u64,
        /// Entries written.
        len: u64,
    },
    /// The indices do not make a proof (index not below size, old size above new, old size 0).
    #[error(transparent)]
    Range(#[from] RangeError),
    /// A stored node could not be read.
    #[error(transparent)]
    Node(#[from] NodeReadError),
}

impl From<ProveError<NodeReadError>> for LogProofError {
    fn from(e: ProveError<NodeReadError>) -> Self {
        match e {
            ProveError::Range(r) => LogProofError::Range(r),
            ProveError::Source { source, .. } => LogProofError::Node(source),
        }
    }
}

/// Why a checkpoint could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogCheckpointError {
    /// The key is not an active owner key of this log.
    #[error("key {} is not an active owner key of this log", .0.short())]
    NotOwner(crate::keys::KeyId),
    /// The new tree is not consistent with the last checkpoint: the log refuses to sign a fork.
    #[error(
        "refusing to sign: size {size} is not consistent with the last checkpoint (size {last}): {reason}"
    )]
    Inconsistent {
        /// The new size.
        size: u64,
        /// The last checkpoint's size.
        last: u64,
        /// Why.
        reason: String,
    },
    /// Entries could not be made durable first.
    #[error(transparent)]
    Durability(#[from] AppendError),
    /// Building or signing the checkpoint failed.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// A proof could not be made.
    #[error(transparent)]
    Proof(#[from] LogProofError),
    /// A stored checkpoint could not be read.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The control chain of the entries to be signed does not verify (SPEC §7.5): the log
    /// refuses to sign a key history its entries do not commit to.
    #[error("refusing to sign: the log's control chain: {0}")]
    Control(#[from] ControlChainError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The checkpoint was signed and stored, but the log directory's tiles (SPEC §9.8) could
    /// not be brought up to date with it; the next checkpoint or open rebuilds them.
    #[error(
        "checkpoint of size {size} stored, but the log directory's tiles were not updated: {source}"
    )]
    Tiles {
        /// The stored checkpoint's size.
        size: u64,
        /// Why.
        source: super::LogTilesError,
    },
}

/// Why a tlog proof could not be made for an entry.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogProveError {
    /// No entry at that position.
    #[error("no entry {0}")]
    NoSuchEntry(u64),
    /// No stored checkpoint covers the entry yet.
    #[error("no checkpoint covers entry {seq} yet (the latest has size {latest}); make one first")]
    NotCheckpointed {
        /// The entry.
        seq: u64,
        /// The latest checkpoint's size (0 if none).
        latest: u64,
    },
    /// The proof could not be made.
    #[error(transparent)]
    Proof(#[from] LogProofError),
    /// Reading failed.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// Building the proof text failed.
    #[error(transparent)]
    Format(#[from] TlogProofError),
}

impl Log {
    // Proofs read the log directory's tiles where they cover a node, else the store (SPEC §9.8).
    pub(super) fn nodes(&self) -> super::tiles::LogNodes<'_> {
        self.proof_nodes()
    }

    // The frontier, if the tree of `size` entries is the one the tip holds.
    fn frontier_of(&self, size: u64) -> Option<merkle::Frontier> {
        let tip = self.tip();
        (tip.frontier.size() == size).then(|| tip.frontier.clone())
    }

    fn check_size(&self, size: u64) -> Result<(), LogProofError> {
        let len = self.len();
        if size > len {
            return Err(LogProofError::BeyondLog { size, len });
        }
        Ok(())
    }

    /// The Merkle root of the first `size` entries (SPEC §10.3), from the tiles and stored
    /// nodes as [`Log::inclusion_proof`] reads them.
    pub fn root(&self, size: u64) -> Result<RootHash, LogProofError> {
        self.check_size(size)?;
        Ok(merkle::root(&self.nodes(), &self.suite(), size)?)
    }

    /// The inclusion proof of entry `seq` in the tree of the first `size` entries (SPEC §10.4).
    ///
    /// What it reads: a node whose leaves all lie within the last stored checkpoint comes from
    /// the log directory's tiles (SPEC §9.8, with [`crate::log::TilesMode::Kept`]), one tile per
    /// level of the proof at most. Any other node comes from the stored records (SPEC §9.1): one
    /// of level 8 or more from one record, a lower one from its run of 256 entries. A run whose
    /// entries are all durable is read from the full level-0 tile the log's writer wrote for it
    /// ahead of any checkpoint, once the tile's hashes are found to make the level-8 node the
    /// run's last record holds (SPEC §9.8); otherwise (the log's growing last run, a tile
    /// missing or wrong, a [`crate::store::MemoryStore`] log or
    /// [`crate::log::TilesMode::Ignored`]) in one scan of up to 257 records, after which a
    /// writer writes the run's tile. The handle keeps the last 256 runs it read, and the
    /// nodes of levels 3 to 5 it hashed (up to a bound), unless its node cache is 0. For many
    /// proofs of one size, sign a checkpoint first ([`Log::checkpoint`]): it publishes every
    /// tile of its tree, and proofs of that size read nothing else.
    pub fn inclusion_proof(&self, seq: u64, size: u64) -> Result<Vec<[u8; 32]>, LogProofError> {
        self.check_size(size)?;
        let nodes = self.nodes();
        // At the tree's current size the right edge comes folded from the frontier in memory
        // (no reads for it); at older sizes it is read.
        if let Some(frontier) = self.frontier_of(size) {
            return Ok(
                merkle::Prover::from_frontier(&nodes, &self.suite(), &frontier)
                    .inclusion_proof(seq)?,
            );
        }
        Ok(merkle::inclusion_proof(&nodes, &self.suite(), seq, size)?)
    }

    /// The consistency proof from the tree of the first `old` entries to that of the first `new`
    /// (SPEC §10.4), read as [`Log::inclusion_proof`] reads.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<[u8; 32]>, LogProofError> {
        self.check_size(new)?;
        let nodes = self.nodes();
        if let Some(frontier) = self.frontier_of(new) {
            return Ok(
                merkle::Prover::from_frontier(&nodes, &self.suite(), &frontier)
                    .consistency_proof(old)?,
            );
        }
        Ok(merkle::consistency_proof(&nodes, &self.suite(), old, new)?)
    }

    /// Signs and stores a checkpoint of everything appended so far (SPEC §11): the entries it
    /// covers are made durable first, and the new tree is checked to be consistent with the last
    /// stored checkpoint, so the log never signs two inconsistent checkpoints.
    pub fn checkpoint(&self, owner: &SecretKey) -> Result<SignedCheckpoint, LogCheckpointError> {
        Ok(self.checkpoint_with_chain(owner)?.0)
    }

    // The checkpoint, and the control chain below its size that was checked before signing it
    // (export carries that chain).
    pub(crate) fn checkpoint_with_chain(
        &self,
        owner: &SecretKey,
    ) -> Result<(SignedCheckpoint, super::control::ControlChain), LogCheckpointError> {
        let suite = self.suite();
        let (size, root) = {
            let tip = self.tip();
            let active_owner = tip
                .registry
                .get(&owner.key_id())
                .is_some_and(|r| r.role == Role::Owner && r.revoked_at.is_none());
            if !active_owner {
                return Err(LogCheckpointError::NotOwner(owner.key_id()));
            }
            (tip.frontier.size(), tip.frontier.root(&suite))
        };
        // A checkpoint must never cover an entry a crash could still lose.
        self.inner
            .progress
            .wait_completed(size)
            .map_err(AppendError::Poisoned)?;
        self.wait_durable(size).map_err(AppendError::Poisoned)?;
        // What is signed is what the entries commit to: the control chain below `size` is walked
        // and checked (signers, signatures, key changes), and the signing key must be an active
        // owner in the registry it builds, not only in memory.
        let chain = self.control_chain_at(size)?;
        let owner_in_chain = chain
            .registry
            .get(&owner.key_id())
            .is_some_and(|r| r.role == Role::Owner && r.revoked_at.is_none());
        if !owner_in_chain {
            return Err(LogCheckpointError::NotOwner(owner.key_id()));
        }
        if let Some(last) = self.latest_checkpoint()? {
            let (ls, lr) = (last.checkpoint().size(), last.checkpoint().root());
            let inconsistent = |reason: String| LogCheckpointError::Inconsistent {
                size,
                last: ls,
                reason,
            };
            if size < ls {
                return Err(inconsistent(
                    "the log is shorter than its last checkpoint".into(),
                ));
            }
            if size == ls && root != lr {
                return Err(inconsistent("same size, different root".into()));
            }
            if ls > 0 && size > ls {
                let proof = self.consistency_proof(ls, size)?;
                merkle::verify_consistency(
                    &suite,
                    ls,
                    size,
                    &proof,
                    lr.as_bytes(),
                    root.as_bytes(),
                )
                .map_err(|e| inconsistent(e.to_string()))?;
            }
        }
        let log = LogOrigin::of(self.descriptor().descriptor())?;
        let binding = LogBinding {
            log_id: self.log_id(),
            control: chain.head,
        };
        let mut signed =
            SignedCheckpoint::sign(Checkpoint::for_log(&log, &binding, size, root), owner)?;
        // Signing the same tree again keeps the cosignatures attached to it (SPEC §11.8).
        if let Some(stored) = self.checkpoint_at(size)? {
            if stored.note().text() == signed.note().text() {
                let origin = signed.checkpoint().origin().to_owned();
                for line in stored.note().signatures() {
                    let present = signed
                        .note()
                        .signatures()
                        .iter()
                        .any(|s| s.name() == line.name() && s.key_hash() == line.key_hash());
                    if line.name() != origin && !present {
                        signed
                            .note_mut()
                            .push_signature(line.clone())
                            .map_err(CheckpointError::Note)?;
                    }
                }
            }
        }
        self.inner
            .store
            .put(&seq_key(CHECKPOINTS, size), &signed.encode())?;
        self.inner.store.flush()?;
        self.publish_tiles()
            .map_err(|source| LogCheckpointError::Tiles { size, source })?;
        Ok((signed, chain))
    }

    /// Every stored checkpoint, smallest first.
    pub fn checkpoints(&self) -> Result<Vec<SignedCheckpoint>, ReadError> {
        let pairs = self.inner.store.scan(
            &seq_key(CHECKPOINTS, 0),
            &prefix_end(CHECKPOINTS),
            usize::MAX,
        )?;
        pairs
            .into_iter()
            .map(|(k, v)| decode_checkpoint(&k, &v))
            .collect()
    }

    /// The most recent stored checkpoint.
    pub fn latest_checkpoint(&self) -> Result<Option<SignedCheckpoint>, ReadError> {
        match self
            .inner
            .store
            .last(&seq_key(CHECKPOINTS, 0), &prefix_end(CHECKPOINTS))?
        {
            Some((k, v)) => decode_checkpoint(&k, &v).map(Some),
            None => Ok(None),
        }
    }

    /// The stored checkpoint of exactly this size, if any.
    pub fn checkpoint_at(&self, size: u64) -> Result<Option<SignedCheckpoint>, ReadError> {
        let key = seq_key(CHECKPOINTS, size);
        match self.inner.store.get(&key)? {
            Some(v) => decode_checkpoint(&key, &v).map(Some),
            None => Ok(None),
        }
    }

    /// A self-contained offline proof (c2sp.org/tlog-proof@v1) that entry `seq` is in the log,
    /// against the latest stored checkpoint, carrying the entry hash (SPEC §11.7).
    pub fn prove(&self, seq: u64) -> Result<TlogProof, LogProveError> {
        let entry = self.read(seq)?.ok_or(LogProveError::NoSuchEntry(seq))?;
        let checkpoint = self.latest_checkpoint()?;
        let latest = checkpoint.as_ref().map_or(0, |c| c.checkpoint().size());
        let Some(checkpoint) = checkpoint.filter(|_| seq < latest) else {
            return Err(LogProveError::NotCheckpointed { seq, latest });
        };
        let proof = self.inclusion_proof(seq, latest)?;
        Ok(TlogProof::new(seq, proof, checkpoint)?.with_entry_hash(entry.hash))
    }
}

/// Why cosignatures could not be attached to a stored checkpoint.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AttachError {
    /// The log has no stored checkpoint of that size.
    #[error("the log has no checkpoint of size {size}")]
    NoSuchCheckpoint {
        /// The size.
        size: u64,
    },
    /// The log's checkpoint of that size has another body: the cosigned one is not this log's.
    #[error("the log's checkpoint of size {size} is not the one cosigned (the bodies differ)")]
    BodyMismatch {
        /// The size.
        size: u64,
    },
    /// No line of the given witnesses verifies over the checkpoint.
    #[error("no valid cosignature from the given witnesses on the checkpoint of size {size}")]
    NoValidCosignature {
        /// The size.
        size: u64,
    },
    /// The note cannot take another line.
    #[error(transparent)]
    Note(#[from] crate::note::NoteError),
    /// A stored checkpoint could not be read.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The cosignatures were stored, but the log directory's tiles (SPEC §9.8) could not be
    /// given the cosigned checkpoint; the next checkpoint or open rebuilds them.
    #[error("cosignatures stored, but the log directory's tiles were not updated: {0}")]
    Tiles(super::LogTilesError),
}

impl Log {
    /// Attaches to the stored checkpoint of the same size the cosignatures on `cosigned` from
    /// `witnesses` that verify over its body (SPEC §11.8), replacing any earlier line of the
    /// same witness, and stores it. Returns the checkpoint as now stored. Export carries these
    /// lines in the bundle's anchor.
    pub fn attach_cosignatures(
        &self,
        cosigned: &SignedCheckpoint,
        witnesses: &[crate::checkpoint::WitnessKey],
    ) -> Result<SignedCheckpoint, AttachError> {
        let size = cosigned.checkpoint().size();
        let mut stored = self
            .checkpoint_at(size)?
            .ok_or(AttachError::NoSuchCheckpoint { size })?;
        if stored.note().text() != cosigned.note().text() {
            return Err(AttachError::BodyMismatch { size });
        }
        if stored.take_cosignatures(cosigned, witnesses)? == 0 {
            return Err(AttachError::NoValidCosignature { size });
        }
        self.inner
            .store
            .put(&seq_key(CHECKPOINTS, size), &stored.encode())?;
        self.inner.store.flush()?;
        self.publish_tiles().map_err(AttachError::Tiles)?;
        Ok(stored)
    }
}

fn decode_checkpoint(key: &[u8], value: &[u8]) -> Result<SignedCheckpoint, ReadError> {
    let seq = super::layout::seq_of(key).unwrap_or(0);
    SignedCheckpoint::parse(value).map_err(|e| ReadError::Corrupt {
        seq,
        source: crate::codec::DecodeError::Schema {
            message: format!("stored checkpoint of size {seq}: {e}"),
        },
    })
}
