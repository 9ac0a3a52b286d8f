//! Erasing a payload while every proof stays valid (SPEC §6.5).

use super::*;

/// Why a payload could not be erased.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EraseError {
    /// No entry at that position.
    #[error("no entry {0}")]
    NoSuchEntry(u64),
    /// The payload is needed to verify the log.
    #[error("entry {seq}: the payload of {} entry cannot be erased", crate::text::AKind(.kind))]
    Required {
        /// The entry.
        seq: u64,
        /// Its kind.
        kind: String,
    },
    /// The payload was erased already (an `erasure` entry records it).
    #[error("entry {0}: the payload is erased already")]
    AlreadyErased(u64),
    /// Reading failed.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The erasure entry could not be appended (for example, the key is not an owner's).
    #[error(transparent)]
    Append(#[from] AppendError),
    /// Writing failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Log {
    /// Erases the payload of entry `seq` (for example under GDPR Art. 17). An owner key signs an
    /// `erasure` entry that links to it and says why; then the payload and its salt are deleted.
    /// The commitment stays, so the chain and every proof still verify. Key-management, approval
    /// and erasure payloads cannot be erased: the log's verification depends on them.
    pub fn erase_payload(
        &self,
        owner: &SecretKey,
        seq: u64,
        reason: &str,
    ) -> Result<Receipt, EraseError> {
        let stored = self.read(seq)?.ok_or(EraseError::NoSuchEntry(seq))?;
        if payload_required(&stored.header().kind) {
            return Err(EraseError::Required {
                seq,
                kind: stored.header().kind.as_str().to_owned(),
            });
        }
        if matches!(stored.payload, Payload::Erased) {
            return Err(EraseError::AlreadyErased(seq));
        }
        let payload = encode_builtin(&Erasure {
            reason: reason.to_owned(),
        });
        let kind = Kind::new(Kind::ERASURE).expect("built-in kind");
        let receipt = self.append(
            owner,
            Record::new(kind, payload).link(Link {
                seq,
                hash: stored.hash,
            }),
        )?;
        // The erasure is recorded (and durable with Immediate) before the payload goes.
        self.flush()?;
        self.remove_payloads(&[seq])?;
        Ok(receipt)
    }

    // Deletes the payloads and salts of `seqs`, keeping each entry and its Merkle nodes, then
    // flushes once. The caller has recorded why (an erasure or a purge entry, SPEC §6.5, §7.8)
    // and made that record durable first.
    pub(super) fn remove_payloads(&self, seqs: &[u64]) -> Result<(), EraseError> {
        for &seq in seqs {
            let raw = self
                .inner
                .store
                .get(&seq_key(ENTRY, seq))?
                .ok_or(EraseError::NoSuchEntry(seq))?;
            let mut record = StoredRecord::parse(seq, &raw)
                .map_err(|source| EraseError::Read(ReadError::Corrupt { seq, source }))?;
            // The commitment, recomputed from the payload until now, is kept in its place
            // (SPEC §9.1); every other byte of the record stays as it was.
            if let HeldPayload::Present { salt, data } = record.payload {
                let commitment = PayloadCommitment::compute(self.suite(), &Salt(salt), data);
                record.payload = HeldPayload::Erased {
                    commitment: commitment.0,
                };
            }
            let record = record.encode();
            self.inner.store.put(&seq_key(ENTRY, seq), &record)?;
        }
        self.inner.store.flush()?;
        // The payload's bytes leave the disk, not only the record (SPEC §9.7).
        self.inner.store.compact()?;
        Ok(())
    }
}
