//! The control chain (SPEC §7.5): the log's key registry and erasure record, derived from the
//! signed control entries alone.
//!
//! Every entry header names the latest control entry (key management, erasure or review policy) before it, and
//! each control entry names the one before it, so the last entry of the log leads, link by link,
//! to every control entry ever appended. The writer rebuilds its registry by walking that chain
//! (never from an index that could be edited), and `export` and `checkpoint` walk it again to
//! carry and sign exactly what the entries commit to.

use super::{ReadError, Records, StoredEntry};
use crate::entry::Link;
use crate::hash::Suite;
use crate::keys::verify_strict;
use crate::registry::{KeyChange, KeyRegistry};

/// Why the control chain could not be followed or does not verify.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ControlChainError {
    /// A control link names an entry that is not stored.
    #[error("control entry {seq} is missing")]
    Missing {
        /// The entry named.
        seq: u64,
    },
    /// The stored entry does not have the hash the link names.
    #[error("entry {seq} does not have the hash its control link names")]
    HashMismatch {
        /// The entry named.
        seq: u64,
    },
    /// A control link names an entry that is not a control entry.
    #[error("entry {seq} is named by a control link but is {} entry", crate::text::AKind(.kind))]
    NotControl {
        /// The entry named.
        seq: u64,
        /// Its kind.
        kind: String,
    },
    /// A control entry fails a check of SPEC §8.2 (signer, signature, payload, registry).
    #[error("control entry {seq}: {reason}")]
    Invalid {
        /// The entry.
        seq: u64,
        /// What is wrong.
        reason: String,
    },
    /// Reading failed.
    #[error(transparent)]
    Read(#[from] ReadError),
}

impl ControlChainError {
    /// The entry at fault, where there is one.
    pub fn seq(&self) -> Option<u64> {
        match self {
            ControlChainError::Missing { seq }
            | ControlChainError::HashMismatch { seq }
            | ControlChainError::NotControl { seq, .. }
            | ControlChainError::Invalid { seq, .. } => Some(*seq),
            ControlChainError::Read(_) => None,
        }
    }
}

/// The control head of a log of `len` entries whose last entry is `last`: that entry if it is a
/// control entry, else the control entry it names.
pub(crate) fn head_after(last: &StoredEntry) -> Option<Link> {
    if last.header().kind.is_control() {
        Some(Link {
            seq: last.seq(),
            hash: last.hash,
        })
    } else {
        last.header().control
    }
}

/// The control entries from the first to `head`, oldest first, each checked: it is stored with
/// the hash its successor names, it is a control entry, it is signed (strictly) by a key the
/// registry built from the entries before it allows, and key-management payloads apply. Returns
/// them with the registry after the last one.
pub(crate) fn walk(
    records: Records<'_>,
    genesis: KeyRegistry,
    head: Option<Link>,
) -> Result<(Vec<StoredEntry>, KeyRegistry), ControlChainError> {
    let mut chain = Vec::new();
    let mut next = head;
    // Each step names a strictly earlier entry (the header decoder checks it), so this ends.
    while let Some(link) = next {
        let e = records
            .read(link.seq)?
            .ok_or(ControlChainError::Missing { seq: link.seq })?;
        if e.hash != link.hash {
            return Err(ControlChainError::HashMismatch { seq: link.seq });
        }
        if !e.header().kind.is_control() {
            return Err(ControlChainError::NotControl {
                seq: link.seq,
                kind: e.header().kind.as_str().to_owned(),
            });
        }
        next = e.header().control;
        chain.push(e);
    }
    chain.reverse();
    let mut registry = genesis;
    for e in &chain {
        apply(records.suite, &mut registry, e)?;
    }
    Ok((chain, registry))
}

// Checks one control entry against the registry before it and applies it.
fn apply(
    suite: Suite,
    registry: &mut KeyRegistry,
    e: &StoredEntry,
) -> Result<(), ControlChainError> {
    let h = e.header();
    let invalid = |reason: String| ControlChainError::Invalid { seq: h.seq, reason };
    let signer = registry
        .check_signer(h.seq, &h.signer, &h.kind)
        .map_err(|err| invalid(err.to_string()))?;
    if !verify_strict(
        signer.verifying_key(),
        &e.entry.signing_input(),
        e.entry.signature(),
    ) {
        return Err(invalid("signature does not verify".into()));
    }
    if !e.payload.matches(suite, &h.payload) {
        // The payload is needed for every control entry (SPEC §6.5).
        return Err(invalid(
            "payload missing or not matching its commitment".into(),
        ));
    }
    if let Some(change) = e.payload.data().and_then(|d| KeyChange::decode(&h.kind, d)) {
        let change = change.map_err(|err| invalid(err.to_string()))?;
        registry
            .apply(h.seq, &change)
            .map_err(|err| invalid(err.to_string()))?;
    }
    Ok(())
}

/// The control chain of the first `size` entries: its head (the latest control entry below
/// `size`), its entries oldest first, and the registry they build.
pub(crate) struct ControlChain {
    pub(crate) head: Option<Link>,
    pub(crate) entries: Vec<StoredEntry>,
    pub(crate) registry: KeyRegistry,
}

impl super::Log {
    /// The control entries (key management, erasure and review policy, SPEC §7.5) of the first `size` entries,
    /// oldest first, found by following the signed control links back from entry `size − 1`,
    /// each checked as it would be verified.
    pub fn control_chain(&self, size: u64) -> Result<Vec<StoredEntry>, ControlChainError> {
        Ok(self.control_chain_at(size)?.entries)
    }

    pub(crate) fn control_chain_at(&self, size: u64) -> Result<ControlChain, ControlChainError> {
        let records = self.records();
        let head = match size.checked_sub(1) {
            None => None,
            Some(last) => {
                let e = records
                    .read(last)?
                    .ok_or(ControlChainError::Missing { seq: last })?;
                head_after(&e)
            }
        };
        let genesis = KeyRegistry::genesis(self.descriptor().descriptor()).map_err(|e| {
            ControlChainError::Invalid {
                seq: 0,
                reason: format!("descriptor: {e}"),
            }
        })?;
        let (entries, registry) = walk(records, genesis, head)?;
        Ok(ControlChain {
            head,
            entries,
            registry,
        })
    }
}
