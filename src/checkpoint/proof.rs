//! The `c2sp.org/tlog-proof@v1` text format: a self-contained, offline-verifiable inclusion proof
//! of one entry (SPEC §11.7).
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! extra <base64(entry hash)>          (optional)
//! index <decimal>
//! <base64(proof hash)>                (zero or more, leaf's sibling first)
//!
//! <signed checkpoint note, verbatim>
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::hash::EntryHash;
use crate::note::MAX_NOTE_SIZE;

use super::{CheckpointError, SignedCheckpoint, parse_decimal};

/// The first line of a tlog proof, without its newline.
pub const TLOG_PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";

/// The most proof hashes a tlog proof may carry: an inclusion proof in a tree of fewer than 2^64
/// leaves has at most 64.
pub const MAX_PROOF_HASHES: usize = 64;

/// The largest tlog proof accepted: the note limit plus room for the header lines and
/// [`MAX_PROOF_HASHES`] hash lines.
pub const MAX_PROOF_SIZE: usize = MAX_NOTE_SIZE + 4096;

/// Why a tlog proof was rejected or could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlogProofError {
    /// The proof is larger than [`MAX_PROOF_SIZE`].
    #[error("tlog proof is {size} bytes; at most {max} are accepted")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The proof is not valid UTF-8.
    #[error("tlog proof is not valid UTF-8 (at byte {offset})")]
    InvalidUtf8 {
        /// Where the first invalid sequence starts.
        offset: usize,
    },
    /// The first line is not `c2sp.org/tlog-proof@v1`.
    #[error("tlog proof does not start with the line {TLOG_PROOF_HEADER}")]
    MissingHeader,
    /// The `extra` line's data is not canonical padded standard base64.
    #[error("tlog proof extra data is not canonical padded standard base64")]
    InvalidExtra,
    /// The `extra` line's data is not a 32-byte entry hash.
    #[error("tlog proof extra data is {found} bytes; sealtrail puts the 32-byte entry hash there")]
    ExtraLength {
        /// The decoded length.
        found: usize,
    },
    /// The `index` line is missing.
    #[error("tlog proof has no index line")]
    MissingIndex,
    /// The index is not a decimal number without leading zeros below 2^64.
    #[error("tlog proof index {0:?} is not a decimal number without leading zeros below 2^64")]
    InvalidIndex(String),
    /// A proof hash line is not canonical padded standard base64.
    #[error("tlog proof hash {position} is not canonical padded standard base64")]
    InvalidHash {
        /// Which hash, from 0.
        position: usize,
    },
    /// A proof hash line does not decode to 32 bytes.
    #[error("tlog proof hash {position} is {found} bytes, expected 32")]
    HashLength {
        /// Which hash, from 0.
        position: usize,
        /// The decoded length.
        found: usize,
    },
    /// More than [`MAX_PROOF_HASHES`] proof hashes.
    #[error("tlog proof has more than {max} hashes")]
    TooManyHashes {
        /// The limit.
        max: usize,
    },
    /// No empty line before a checkpoint.
    #[error("tlog proof has no empty line followed by a checkpoint")]
    MissingCheckpoint,
    /// The checkpoint is not a signed checkpoint note.
    #[error("tlog proof checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
}

/// An offline inclusion proof of one entry (`c2sp.org/tlog-proof@v1`, SPEC §11.7): the entry's
/// index, its inclusion proof in the checkpointed tree, the signed checkpoint (with any
/// cosignatures) and, in the `extra` line, the entry hash.
///
/// Nothing here is checked against anything trusted: verify the checkpoint with a
/// [`super::CheckpointTrust`], then the proof against the verified checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogProof {
    entry_hash: Option<EntryHash>,
    index: u64,
    hashes: Vec<[u8; 32]>,
    checkpoint: SignedCheckpoint,
}

fn take_line(s: &str) -> Option<(&str, &str)> {
    s.split_once('\n')
}

fn decode32(b64: &str) -> Result<[u8; 32], Option<usize>> {
    let bytes = B64.decode(b64).map_err(|_| None)?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| Some(bytes.len()))
}

impl TlogProof {
    /// A proof of the entry at `index` with its inclusion proof `hashes` (leaf's sibling first)
    /// in the tree of `checkpoint`. At most [`MAX_PROOF_HASHES`] hashes.
    pub fn new(
        index: u64,
        hashes: Vec<[u8; 32]>,
        checkpoint: SignedCheckpoint,
    ) -> Result<TlogProof, TlogProofError> {
        if hashes.len() > MAX_PROOF_HASHES {
            return Err(TlogProofError::TooManyHashes {
                max: MAX_PROOF_HASHES,
            });
        }
        Ok(TlogProof {
            entry_hash: None,
            index,
            hashes,
            checkpoint,
        })
    }

    /// The same proof carrying the entry hash in its `extra` line.
    pub fn with_entry_hash(mut self, entry_hash: EntryHash) -> TlogProof {
        self.entry_hash = Some(entry_hash);
        self
    }

    /// Strictly parses a tlog proof (SPEC §11.7).
    pub fn parse(bytes: &[u8]) -> Result<TlogProof, TlogProofError> {
        if bytes.len() > MAX_PROOF_SIZE {
            return Err(TlogProofError::TooLarge {
                size: bytes.len(),
                max: MAX_PROOF_SIZE,
            });
        }
        let s = std::str::from_utf8(bytes).map_err(|e| TlogProofError::InvalidUtf8 {
            offset: e.valid_up_to(),
        })?;
        let (header, rest) = take_line(s).ok_or(TlogProofError::MissingHeader)?;
        if header != TLOG_PROOF_HEADER {
            return Err(TlogProofError::MissingHeader);
        }
        let (mut line, mut rest) = take_line(rest).ok_or(TlogProofError::MissingIndex)?;
        let mut entry_hash = None;
        if let Some(extra) = line.strip_prefix("extra ") {
            let hash = decode32(extra).map_err(|e| match e {
                None => TlogProofError::InvalidExtra,
                Some(found) => TlogProofError::ExtraLength { found },
            })?;
            entry_hash = Some(EntryHash(hash));
            (line, rest) = take_line(rest).ok_or(TlogProofError::MissingIndex)?;
        }
        let index = line
            .strip_prefix("index ")
            .ok_or(TlogProofError::MissingIndex)?;
        let index =
            parse_decimal(index).ok_or_else(|| TlogProofError::InvalidIndex(index.to_owned()))?;
        let mut hashes = Vec::new();
        loop {
            let (line, next) = take_line(rest).ok_or(TlogProofError::MissingCheckpoint)?;
            rest = next;
            if line.is_empty() {
                break;
            }
            if hashes.len() == MAX_PROOF_HASHES {
                return Err(TlogProofError::TooManyHashes {
                    max: MAX_PROOF_HASHES,
                });
            }
            let position = hashes.len();
            hashes.push(decode32(line).map_err(|e| match e {
                None => TlogProofError::InvalidHash { position },
                Some(found) => TlogProofError::HashLength { position, found },
            })?);
        }
        let checkpoint = SignedCheckpoint::parse(rest.as_bytes())?;
        Ok(TlogProof {
            entry_hash,
            index,
            hashes,
            checkpoint,
        })
    }

    /// The proof's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = format!("{TLOG_PROOF_HEADER}\n");
        if let Some(h) = &self.entry_hash {
            out.push_str("extra ");
            out.push_str(&B64.encode(h.0));
            out.push('\n');
        }
        out.push_str(&format!("index {}\n", self.index));
        for h in &self.hashes {
            out.push_str(&B64.encode(h));
            out.push('\n');
        }
        out.push('\n');
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&self.checkpoint.encode());
        bytes
    }

    /// The entry hash from the `extra` line, if present. Unauthenticated until the inclusion
    /// proof verifies with it as the leaf.
    pub fn entry_hash(&self) -> Option<EntryHash> {
        self.entry_hash
    }

    /// The entry's index in the log, from 0.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The inclusion proof: the leaf's sibling first, up to a child of the root.
    pub fn hashes(&self) -> &[[u8; 32]] {
        &self.hashes
    }

    /// The signed checkpoint the proof is against.
    pub fn checkpoint(&self) -> &SignedCheckpoint {
        &self.checkpoint
    }
}

/// Which entry a tlog proof must prove (SPEC §11.7 step 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExpectedEntry<'a> {
    /// Whatever entry hash the proof's `extra` line carries: proves only that an entry with that
    /// hash is at the index, not which entry the verifier had in mind.
    Carried,
    /// The entry with this hash (SPEC §6.3).
    Hash(EntryHash),
    /// The entry in its wire form (SPEC §6.1): hashed with the log's suite, and its header's
    /// `seq` must be the proof's index.
    Bytes(&'a [u8]),
}

/// Why [`verify_tlog_proof`] did not accept a proof.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofCheckError {
    /// The bytes are not a tlog proof.
    #[error("{0}")]
    Parse(#[from] TlogProofError),
    /// No pinned key is named after the checkpoint's origin line (C2SP matches keys by name).
    #[error("no trusted key is named {origin:?}, the checkpoint's origin line")]
    NoKeyForOrigin {
        /// The checkpoint's origin line.
        origin: String,
    },
    /// The witness policy or key set is unusable.
    #[error("{0}")]
    Policy(#[from] super::PolicyError),
    /// The entry supplied is not an entry.
    #[error("the entry supplied: {0}")]
    Entry(#[from] crate::codec::DecodeError),
    /// The entry supplied sits at another position than the proof's index.
    #[error("the entry supplied is entry {entry}, the proof is of index {index}")]
    EntryPosition {
        /// The entry's `seq`.
        entry: u64,
        /// The proof's index.
        index: u64,
    },
    /// The checkpoint, the entry hash or the inclusion proof did not verify.
    #[error("{0}")]
    Verify(#[from] super::TlogVerifyError),
}

/// Verifies a `c2sp.org/tlog-proof@v1` file in one call (SPEC §11.7): parses it, takes the log
/// (origin and suite) from the checkpoint's origin line, verifies the checkpoint under the owner
/// keys named after that line (and `witnesses`), then the inclusion of `entry` at the proof's
/// index. Needs no store.
pub fn verify_tlog_proof(
    bytes: &[u8],
    owners: &[crate::keys::PublicKey],
    witnesses: super::Witnesses,
    entry: ExpectedEntry<'_>,
) -> Result<super::VerifiedInclusion, ProofCheckError> {
    let proof = TlogProof::parse(bytes)?;
    let origin = proof.checkpoint().checkpoint().origin();
    let log = super::LogOrigin::from_checkpoint_origin(origin)
        .map_err(|e| ProofCheckError::Parse(TlogProofError::Checkpoint(e)))?;
    let keys: Vec<_> = owners
        .iter()
        .filter(|k| k.name() == origin)
        .cloned()
        .collect();
    if keys.is_empty() {
        return Err(ProofCheckError::NoKeyForOrigin {
            origin: origin.to_owned(),
        });
    }
    let trust = super::CheckpointTrust::new(log.clone(), keys, witnesses)?;
    let hash = match entry {
        ExpectedEntry::Carried => None,
        ExpectedEntry::Hash(h) => Some(h),
        ExpectedEntry::Bytes(b) => {
            let e = crate::entry::Entry::from_bytes(b)?;
            if e.seq() != proof.index() {
                return Err(ProofCheckError::EntryPosition {
                    entry: e.seq(),
                    index: proof.index(),
                });
            }
            Some(e.hash(log.suite()))
        }
    };
    Ok(proof.verify(&trust, hash)?)
}
