//! Witness cosignatures (C2SP tlog-cosignature, `cosignature/v1`, Ed25519) and the k-of-n witness
//! policy (SPEC §11.4, §11.5).

use std::fmt;

use crate::keys::{
    KeyError, KeyId, PublicKey, SecretKey, parse_typed_vkey, typed_key_hash, typed_vkey,
};
use crate::note::{NoteError, NoteSignature};

use super::SignedCheckpoint;

/// The signature type byte of an Ed25519 `cosignature/v1` witness key (SPEC §11.4).
pub const COSIGNATURE_V1_TYPE: u8 = 0x04;

/// The first line of every `cosignature/v1` signed message, with its newline.
pub const COSIGNATURE_V1_HEADER: &str = "cosignature/v1\n";

/// The latest cosignature time allowed: 2^63 − 1 seconds (C2SP tlog-cosignature).
pub const MAX_COSIGNATURE_TIME: u64 = i64::MAX as u64;

/// The message a witness signs (SPEC §11.4):
/// `"cosignature/v1\ntime " ‖ decimal seconds ‖ "\n" ‖ checkpoint body`.
pub fn cosignature_message(body: &str, time: u64) -> Vec<u8> {
    format!("{COSIGNATURE_V1_HEADER}time {time}\n{body}").into_bytes()
}

/// A witness's public key with its name: signature type 0x04, written as the C2SP verifier key
/// `name+hash+base64(0x04 ‖ key)` with hash = SHA-256(name ‖ 0x0A ‖ 0x04 ‖ key)[0..4].
#[derive(Clone, PartialEq, Eq)]
pub struct WitnessKey {
    key: PublicKey,
}

impl fmt::Debug for WitnessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WitnessKey({})", self.to_vkey())
    }
}

impl fmt::Display for WitnessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_vkey())
    }
}

impl WitnessKey {
    /// A witness key from a named public key (the name is the witness's name).
    pub fn new(key: PublicKey) -> WitnessKey {
        WitnessKey { key }
    }

    /// A witness key from its name and 32 bytes. Rejects invalid and weak keys and names C2SP
    /// does not allow.
    pub fn from_bytes(name: &str, key: &[u8; 32]) -> Result<WitnessKey, KeyError> {
        Ok(WitnessKey {
            key: PublicKey::from_bytes(name, key)?,
        })
    }

    /// Parses a witness verifier key `name+hash+base64(0x04 ‖ key)`, checking the hash.
    pub fn from_vkey(s: &str) -> Result<WitnessKey, KeyError> {
        Ok(WitnessKey {
            key: parse_typed_vkey(s, COSIGNATURE_V1_TYPE)?,
        })
    }

    /// The witness verifier key string.
    pub fn to_vkey(&self) -> String {
        typed_vkey(self.key.name(), COSIGNATURE_V1_TYPE, self.key.as_bytes())
    }

    /// The witness's name: the key name on its cosignature lines.
    pub fn name(&self) -> &str {
        self.key.name()
    }

    /// The 32 key bytes.
    pub fn key_id(&self) -> KeyId {
        self.key.key_id()
    }

    /// The key hash on its cosignature lines: SHA-256(name ‖ 0x0A ‖ 0x04 ‖ key)[0..4].
    pub fn key_hash(&self) -> [u8; 4] {
        typed_key_hash(self.key.name(), COSIGNATURE_V1_TYPE, self.key.as_bytes())
    }

    /// The underlying public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.key
    }

    // SPEC §11.4: key hash ‖ 8-byte big-endian time ‖ 64-byte Ed25519 signature.
    fn check(&self, line: &NoteSignature, body: &str) -> CosignatureStatus {
        let bytes = line.signature();
        let Some((time, sig)) = bytes.split_first_chunk::<8>() else {
            return CosignatureStatus::Invalid(CosignatureProblem::WrongLength {
                found: bytes.len(),
            });
        };
        let Ok(sig) = <&[u8; 64]>::try_from(sig) else {
            return CosignatureStatus::Invalid(CosignatureProblem::WrongLength {
                found: bytes.len(),
            });
        };
        let time = u64::from_be_bytes(*time);
        if time > MAX_COSIGNATURE_TIME {
            return CosignatureStatus::Invalid(CosignatureProblem::TimeOutOfRange { time });
        }
        if self.key.verify(&cosignature_message(body, time), sig) {
            CosignatureStatus::Valid { time }
        } else {
            CosignatureStatus::Invalid(CosignatureProblem::BadSignature { time })
        }
    }
}

/// Why a cosignature could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CosignError {
    /// The time is past 2^63 − 1 seconds.
    #[error("cosignature time {time} exceeds 2^63 - 1")]
    TimeOutOfRange {
        /// The time offered.
        time: u64,
    },
    /// The note cannot take another line (too many lines or too large).
    #[error("{0}")]
    Note(#[from] NoteError),
}

impl SignedCheckpoint {
    /// Adds `witness`'s `cosignature/v1` over the body at `time` (POSIX seconds), under the key's
    /// own name (SPEC §11.4). A line already there from the same witness (same name and key
    /// hash) is replaced. This only signs: a witness checks consistency with what it saw before
    /// cosigning.
    pub fn cosign(&mut self, witness: &SecretKey, time: u64) -> Result<(), CosignError> {
        if time > MAX_COSIGNATURE_TIME {
            return Err(CosignError::TimeOutOfRange { time });
        }
        let public = WitnessKey::new(witness.public_key());
        let message = cosignature_message(self.note().text(), time);
        let mut sig = Vec::with_capacity(72);
        sig.extend_from_slice(&time.to_be_bytes());
        sig.extend_from_slice(&witness.sign(&message));
        let line = NoteSignature::new(public.name(), public.key_hash(), sig)?;
        let hash = public.key_hash();
        let mut note = self.note().clone();
        note.remove_signatures(|s| s.name() == public.name() && s.key_hash() == hash);
        note.push_signature(line)?;
        *self.note_mut() = note;
        Ok(())
    }

    /// How many lines look like witness cosignatures: a line under a name other than the origin
    /// line (the owner's name, SPEC §11.3) with the 72 signature bytes of `cosignature/v1`.
    /// Nothing is verified: a verifier checks them against its witness policy (SPEC §11.5).
    pub fn cosignature_lines(&self) -> usize {
        let origin = self.checkpoint().origin();
        self.note()
            .signatures()
            .iter()
            .filter(|s| s.name() != origin && s.signature().len() == 72)
            .count()
    }

    /// Copies onto this checkpoint the lines of `witnesses` from `other` whose cosignatures
    /// verify over this checkpoint's body (SPEC §11.4), replacing any line of the same witness.
    /// Returns how many were copied. Lines from anyone else are ignored.
    pub fn take_cosignatures(
        &mut self,
        other: &SignedCheckpoint,
        witnesses: &[WitnessKey],
    ) -> Result<usize, NoteError> {
        if other.note().text() != self.note().text() {
            return Ok(0);
        }
        let mut copied = 0;
        for w in witnesses {
            let hash = w.key_hash();
            let mut lines = other
                .note()
                .signatures()
                .iter()
                .filter(|s| s.name() == w.name() && s.key_hash() == hash);
            let (Some(line), None) = (lines.next(), lines.next()) else {
                continue;
            };
            if !matches!(
                w.check(line, other.note().text()),
                CosignatureStatus::Valid { .. }
            ) {
                continue;
            }
            let mut note = self.note().clone();
            note.remove_signatures(|s| s.name() == w.name() && s.key_hash() == hash);
            note.push_signature(line.clone())?;
            *self.note_mut() = note;
            copied += 1;
        }
        Ok(copied)
    }
}

/// Why a witness cosignature did not count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CosignatureProblem {
    /// The witness has more than one line in the note.
    Duplicate,
    /// The signature bytes after the key hash are not 8 + 64 bytes.
    WrongLength {
        /// Their length.
        found: usize,
    },
    /// The time is past 2^63 − 1.
    TimeOutOfRange {
        /// The time on the line.
        time: u64,
    },
    /// The Ed25519 signature does not verify over the cosignature message.
    BadSignature {
        /// The time on the line.
        time: u64,
    },
}

impl fmt::Display for CosignatureProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CosignatureProblem::Duplicate => f.write_str("more than one cosignature line"),
            CosignatureProblem::WrongLength { found } => {
                write!(
                    f,
                    "cosignature is {found} bytes after the key hash, expected 72"
                )
            }
            CosignatureProblem::TimeOutOfRange { time } => {
                write!(f, "cosignature time {time} exceeds 2^63 - 1")
            }
            CosignatureProblem::BadSignature { time } => {
                write!(f, "cosignature (time {time}) does not verify")
            }
        }
    }
}

/// What one policy witness did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CosignatureStatus {
    /// It cosigned, validly, at `time` (POSIX seconds; not checked against any clock).
    Valid {
        /// When the witness says it cosigned.
        time: u64,
    },
    /// Its line is there but does not count.
    Invalid(CosignatureProblem),
    /// No line from it.
    Absent,
}

/// A witness of the policy and what it did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessOutcome {
    /// The witness.
    pub witness: WitnessKey,
    /// Its cosignature's status.
    pub status: CosignatureStatus,
}

/// The result of checking a checkpoint against a witness policy: one outcome per policy witness,
/// in policy order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessReport {
    outcomes: Vec<WitnessOutcome>,
    needed: usize,
}

impl WitnessReport {
    pub(crate) fn none() -> WitnessReport {
        WitnessReport {
            outcomes: Vec::new(),
            needed: 0,
        }
    }

    /// One outcome per policy witness, in policy order (empty when no witness was required).
    pub fn outcomes(&self) -> &[WitnessOutcome] {
        &self.outcomes
    }

    /// How many valid cosignatures the policy required.
    pub fn needed(&self) -> usize {
        self.needed
    }

    /// How many policy witnesses cosigned validly.
    pub fn valid_count(&self) -> usize {
        self.cosigners().count()
    }

    /// The witnesses that cosigned validly, with their cosignature times.
    pub fn cosigners(&self) -> impl Iterator<Item = (&WitnessKey, u64)> {
        self.outcomes.iter().filter_map(|o| match o.status {
            CosignatureStatus::Valid { time } => Some((&o.witness, time)),
            _ => None,
        })
    }
}

/// Why a checkpoint did not satisfy a witness policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WitnessError {
    /// Fewer than the quorum of witnesses cosigned validly.
    #[error("{found} valid witness cosignatures, {needed} required")]
    QuorumNotMet {
        /// Valid cosignatures found.
        found: usize,
        /// The quorum.
        needed: usize,
        /// What each witness did.
        report: WitnessReport,
    },
}

/// Why a witness policy or trust configuration is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// A quorum of zero would accept a checkpoint no witness saw.
    #[error("the witness quorum must be at least 1")]
    ZeroQuorum,
    /// A quorum larger than the number of witnesses can never be met.
    #[error("quorum {quorum} exceeds the {witnesses} witnesses")]
    QuorumTooLarge {
        /// The quorum.
        quorum: usize,
        /// The number of witnesses.
        witnesses: usize,
    },
    /// The same witness listed twice (same key, or same name and key hash): it would count
    /// twice.
    #[error("witness {name} is listed twice")]
    DuplicateWitness {
        /// Its name.
        name: String,
    },
    /// No owner key is pinned: no checkpoint could verify.
    #[error("no owner key is pinned")]
    NoOwnerKeys,
}

/// k-of-n: a set of n trusted witnesses and a quorum k (SPEC §11.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessPolicy {
    witnesses: Vec<WitnessKey>,
    quorum: usize,
}

impl WitnessPolicy {
    /// A policy requiring `quorum` (1 ≤ quorum ≤ n) of `witnesses`, each listed once.
    pub fn new(witnesses: Vec<WitnessKey>, quorum: usize) -> Result<Self, PolicyError> {
        if quorum == 0 {
            return Err(PolicyError::ZeroQuorum);
        }
        if quorum > witnesses.len() {
            return Err(PolicyError::QuorumTooLarge {
                quorum,
                witnesses: witnesses.len(),
            });
        }
        for (i, w) in witnesses.iter().enumerate() {
            let earlier = witnesses.iter().take(i).any(|e| {
                e.key_id() == w.key_id() || (e.name() == w.name() && e.key_hash() == w.key_hash())
            });
            if earlier {
                return Err(PolicyError::DuplicateWitness {
                    name: w.name().to_owned(),
                });
            }
        }
        Ok(WitnessPolicy { witnesses, quorum })
    }

    /// The witnesses, in order.
    pub fn witnesses(&self) -> &[WitnessKey] {
        &self.witnesses
    }

    /// The quorum k.
    pub fn quorum(&self) -> usize {
        self.quorum
    }

    /// Checks the cosignatures on a checkpoint (SPEC §11.5): a line is a witness's when its key
    /// name and key hash are the witness's; each witness counts once, when it has exactly one
    /// line and that line verifies. Fails when fewer than the quorum count. This does not check
    /// the owner's signature: [`super::CheckpointTrust::verify`] does both.
    pub fn verify(&self, signed: &SignedCheckpoint) -> Result<WitnessReport, WitnessError> {
        let note = signed.note();
        let outcomes: Vec<WitnessOutcome> = self
            .witnesses
            .iter()
            .map(|w| {
                let hash = w.key_hash();
                let mut lines = note
                    .signatures()
                    .iter()
                    .filter(|s| s.name() == w.name() && s.key_hash() == hash);
                let status = match (lines.next(), lines.next()) {
                    (None, _) => CosignatureStatus::Absent,
                    (Some(line), None) => w.check(line, note.text()),
                    (Some(_), Some(_)) => CosignatureStatus::Invalid(CosignatureProblem::Duplicate),
                };
                WitnessOutcome {
                    witness: w.clone(),
                    status,
                }
            })
            .collect();
        let report = WitnessReport {
            outcomes,
            needed: self.quorum,
        };
        let found = report.valid_count();
        if found < self.quorum {
            return Err(WitnessError::QuorumNotMet {
                found,
                needed: self.quorum,
                report,
            });
        }
        Ok(report)
    }
}
