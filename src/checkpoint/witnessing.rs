//! The witness role (SPEC §11.8, C2SP tlog-witness): the `add-checkpoint` request body, and the
//! decision a witness makes before it cosigns — the log's signature, then consistency with the
//! last checkpoint it cosigned for that log. Storage of that last checkpoint, and HTTP, are the
//! caller's: this module only decides and signs.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::keys::{PublicKey, SecretKey};
use crate::note::{MAX_NOTE_SIZE, NoteSignature};

use super::witness::{CosignError, WitnessKey};
use super::{
    CheckpointError, CheckpointTrust, CheckpointVerifyError, ConsistencyError, LogOrigin,
    SignedCheckpoint, Witnesses, parse_decimal,
};

/// The most consistency proof lines an `add-checkpoint` request may carry (C2SP tlog-witness).
pub const MAX_CONSISTENCY_LINES: usize = 63;

/// The largest `add-checkpoint` request body accepted: the note limit plus the old size line and
/// [`MAX_CONSISTENCY_LINES`] proof lines.
pub const MAX_ADD_CHECKPOINT_SIZE: usize = MAX_NOTE_SIZE + 4096;

/// Why an `add-checkpoint` request body is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddCheckpointError {
    /// The body is larger than [`MAX_ADD_CHECKPOINT_SIZE`].
    #[error("request is {size} bytes; at most {max} are accepted")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The body is not UTF-8.
    #[error("request is not valid UTF-8")]
    InvalidUtf8,
    /// The first line is not `old <decimal>`.
    #[error("request does not start with an `old SIZE` line")]
    MissingOldSize,
    /// A proof line is not canonical base64 of 32 bytes.
    #[error("consistency proof line {position} is not base64 of 32 bytes")]
    InvalidHash {
        /// Which line, from 0.
        position: usize,
    },
    /// More than [`MAX_CONSISTENCY_LINES`] proof lines.
    #[error("more than {max} consistency proof lines")]
    TooManyHashes {
        /// The limit.
        max: usize,
    },
    /// No empty line before the checkpoint.
    #[error("no empty line followed by a checkpoint")]
    MissingCheckpoint,
    /// The checkpoint part is not a signed checkpoint.
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
}

/// A C2SP tlog-witness `add-checkpoint` request: the size of the checkpoint the client believes
/// the witness last cosigned, a consistency proof from it, and the new checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The old size.
    pub old: u64,
    /// The consistency proof from `old` to the checkpoint's size (empty when `old` is 0).
    pub proof: Vec<[u8; 32]>,
    /// The checkpoint to cosign.
    pub checkpoint: SignedCheckpoint,
}

impl AddCheckpoint {
    /// Strictly parses a request body (bounded: [`MAX_ADD_CHECKPOINT_SIZE`]).
    pub fn parse(bytes: &[u8]) -> Result<AddCheckpoint, AddCheckpointError> {
        if bytes.len() > MAX_ADD_CHECKPOINT_SIZE {
            return Err(AddCheckpointError::TooLarge {
                size: bytes.len(),
                max: MAX_ADD_CHECKPOINT_SIZE,
            });
        }
        let s = std::str::from_utf8(bytes).map_err(|_| AddCheckpointError::InvalidUtf8)?;
        let (first, mut rest) = s
            .split_once('\n')
            .ok_or(AddCheckpointError::MissingOldSize)?;
        let old = first
            .strip_prefix("old ")
            .and_then(parse_decimal)
            .ok_or(AddCheckpointError::MissingOldSize)?;
        let proof = parse_hash_lines(&mut rest)?;
        let checkpoint = SignedCheckpoint::parse(rest.as_bytes())?;
        Ok(AddCheckpoint {
            old,
            proof,
            checkpoint,
        })
    }

    /// The request body.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = proof_lines(self.old, &self.proof).into_bytes();
        out.push(b'\n');
        out.extend_from_slice(&self.checkpoint.encode());
        out
    }
}

/// `old N` and one base64 line per hash, each ending in a newline: the head of an
/// `add-checkpoint` request, and the consistency proof file `sealtrail prove --consistency-from`
/// writes.
pub fn proof_lines(old: u64, proof: &[[u8; 32]]) -> String {
    let mut out = format!("old {old}\n");
    for h in proof {
        out.push_str(&B64.encode(h));
        out.push('\n');
    }
    out
}

/// Parses a consistency proof file: an `old N` line, then one base64 hash per line (up to
/// [`MAX_CONSISTENCY_LINES`]), to the end or to an empty line.
pub fn parse_proof_lines(bytes: &[u8]) -> Result<(u64, Vec<[u8; 32]>), AddCheckpointError> {
    if bytes.len() > MAX_ADD_CHECKPOINT_SIZE {
        return Err(AddCheckpointError::TooLarge {
            size: bytes.len(),
            max: MAX_ADD_CHECKPOINT_SIZE,
        });
    }
    let s = std::str::from_utf8(bytes).map_err(|_| AddCheckpointError::InvalidUtf8)?;
    let (first, rest) = s
        .split_once('\n')
        .ok_or(AddCheckpointError::MissingOldSize)?;
    let old = first
        .strip_prefix("old ")
        .and_then(parse_decimal)
        .ok_or(AddCheckpointError::MissingOldSize)?;
    // The file may end without the empty line a request has.
    let text = format!("{rest}\n");
    let mut rest: &str = &text;
    let hashes = parse_hash_lines(&mut rest)?;
    Ok((old, hashes))
}

// Base64 hash lines up to and including an empty line; `rest` is left after it.
fn parse_hash_lines(rest: &mut &str) -> Result<Vec<[u8; 32]>, AddCheckpointError> {
    let mut hashes = Vec::new();
    loop {
        let (line, next) = rest
            .split_once('\n')
            .ok_or(AddCheckpointError::MissingCheckpoint)?;
        *rest = next;
        if line.is_empty() {
            return Ok(hashes);
        }
        if hashes.len() == MAX_CONSISTENCY_LINES {
            return Err(AddCheckpointError::TooManyHashes {
                max: MAX_CONSISTENCY_LINES,
            });
        }
        let position = hashes.len();
        let bytes = B64
            .decode(line)
            .map_err(|_| AddCheckpointError::InvalidHash { position })?;
        hashes.push(
            <[u8; 32]>::try_from(bytes.as_slice())
                .map_err(|_| AddCheckpointError::InvalidHash { position })?,
        );
    }
}

/// Why a witness refused to cosign. [`WitnessRefusal::http_status`] maps each to the status code
/// C2SP tlog-witness prescribes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WitnessRefusal {
    /// No trusted log key is named after the checkpoint's origin line (404).
    #[error("unknown log {origin:?}: no trusted key is named after it")]
    UnknownLog {
        /// The checkpoint's origin line.
        origin: String,
    },
    /// The log's signature does not verify (403).
    #[error("the log's signature: {0}")]
    Signature(CheckpointVerifyError),
    /// The old size is larger than the checkpoint's (400).
    #[error("old size {old} is larger than the checkpoint's size {size}")]
    OldSizeTooLarge {
        /// The old size sent.
        old: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// The checkpoint is smaller than the one this witness last cosigned, and the client says so
    /// (400, as any old size above the checkpoint's): the log went backwards.
    #[error("rollback: size {size} is smaller than {latest}, the size last cosigned for this log")]
    Rollback {
        /// The size last cosigned.
        latest: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// The old size is not the size this witness last cosigned (409): a stale client, or a
    /// rollback to a smaller tree.
    #[error("old size {old} is not {latest}, the size last cosigned for this log")]
    Conflict {
        /// The old size sent.
        old: u64,
        /// The size last cosigned (0 if none).
        latest: u64,
    },
    /// Same size as the last cosigned checkpoint but another root or log (409): a fork.
    #[error("fork: a checkpoint of size {size} with another root (or log id) was cosigned before")]
    Fork {
        /// The size.
        size: u64,
    },
    /// The consistency proof does not verify (422): the new tree does not extend the old one.
    #[error("{0}")]
    Inconsistent(ConsistencyError),
    /// The cosignature could not be made (500).
    #[error("{0}")]
    Cosign(#[from] CosignError),
}

impl WitnessRefusal {
    /// The HTTP status code of C2SP tlog-witness for this refusal.
    pub fn http_status(&self) -> u16 {
        match self {
            WitnessRefusal::UnknownLog { .. } => 404,
            WitnessRefusal::Signature(_) => 403,
            WitnessRefusal::OldSizeTooLarge { .. } | WitnessRefusal::Rollback { .. } => 400,
            WitnessRefusal::Conflict { .. } | WitnessRefusal::Fork { .. } => 409,
            WitnessRefusal::Inconsistent(_) => 422,
            WitnessRefusal::Cosign(_) => 500,
        }
    }
}

/// What a witness cosigned: the checkpoint with its cosignature line added (to be stored as the
/// new latest before the line is handed out), and the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosigned {
    /// The checkpoint with the new cosignature (any earlier line of this witness replaced).
    pub checkpoint: SignedCheckpoint,
    /// The cosignature line.
    pub line: NoteSignature,
}

/// A witness: its key and the log keys it trusts, each named after its log's checkpoint origin
/// line (the name C2SP matches).
#[derive(Debug, Clone)]
pub struct Witness {
    key: SecretKey,
    logs: Vec<PublicKey>,
}

impl Witness {
    /// A witness signing with `key` for the logs whose keys are `logs`.
    pub fn new(key: SecretKey, logs: Vec<PublicKey>) -> Witness {
        Witness { key, logs }
    }

    /// The witness's public key (type 0x04).
    pub fn public_key(&self) -> WitnessKey {
        WitnessKey::new(self.key.public_key())
    }

    /// Decides an `add-checkpoint` request (C2SP tlog-witness, SPEC §11.8) given `latest`, the
    /// last checkpoint this witness cosigned for the request's log (`None` if it never did), and
    /// cosigns at `time` (POSIX seconds) if every check passes. The caller MUST store the
    /// returned checkpoint as the new latest, atomically with reading `latest`, before handing
    /// out the line.
    pub fn add_checkpoint(
        &self,
        latest: Option<&SignedCheckpoint>,
        request: &AddCheckpoint,
        time: u64,
    ) -> Result<Cosigned, WitnessRefusal> {
        let origin = request.checkpoint.checkpoint().origin();
        let keys: Vec<PublicKey> = self
            .logs
            .iter()
            .filter(|k| k.name() == origin)
            .cloned()
            .collect();
        let unknown = || WitnessRefusal::UnknownLog {
            origin: origin.to_owned(),
        };
        let log = LogOrigin::from_checkpoint_origin(origin).map_err(|_| unknown())?;
        let trust =
            CheckpointTrust::new(log, keys, Witnesses::NotRequired).map_err(|_| unknown())?;
        let new = trust
            .verify(&request.checkpoint)
            .map_err(WitnessRefusal::Signature)?;
        let size = new.size();
        let last = match latest {
            // A stored checkpoint this witness accepted before; one that no longer verifies
            // (its log key was removed from the configuration) leaves the log unknown.
            Some(l) => Some(trust.verify(l).map_err(|_| unknown())?),
            None => None,
        };
        let latest_size = last.as_ref().map_or(0, |l| l.size());
        if request.old > size {
            if request.old == latest_size {
                return Err(WitnessRefusal::Rollback {
                    latest: latest_size,
                    size,
                });
            }
            return Err(WitnessRefusal::OldSizeTooLarge {
                old: request.old,
                size,
            });
        }
        if request.old != latest_size {
            return Err(WitnessRefusal::Conflict {
                old: request.old,
                latest: latest_size,
            });
        }
        if let Some(last) = &last {
            if size == last.size() {
                if new.root() != last.root() || new.log_id() != last.log_id() {
                    return Err(WitnessRefusal::Fork { size });
                }
            } else {
                new.verify_consistency(last, &request.proof)
                    .map_err(|e| match e {
                        ConsistencyError::DifferentLog { .. } => WitnessRefusal::Fork { size },
                        other => WitnessRefusal::Inconsistent(other),
                    })?;
            }
        } else if !request.proof.is_empty() {
            return Err(WitnessRefusal::Inconsistent(ConsistencyError::Fork {
                older: 0,
                newer: size,
                source: crate::merkle::ProofError::WrongProofLength {
                    expected: 0,
                    found: request.proof.len(),
                },
            }));
        }
        let mut checkpoint = request.checkpoint.clone();
        checkpoint.cosign(&self.key, time)?;
        let me = self.public_key();
        let line = checkpoint
            .note()
            .signatures()
            .iter()
            .find(|s| s.name() == me.name() && s.key_hash() == me.key_hash())
            .cloned()
            .ok_or(WitnessRefusal::Cosign(CosignError::TimeOutOfRange { time }))?;
        Ok(Cosigned { checkpoint, line })
    }
}
