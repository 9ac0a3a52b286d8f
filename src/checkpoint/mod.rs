//! Checkpoints: the C2SP tlog-checkpoint body, its owner-signed note, the suite rule of the origin
//! line, and verification against pinned keys (SPEC §11).
//!
//! Witness cosignatures and the k-of-n policy are in [`witness`]; the `c2sp.org/tlog-proof@v1`
//! text format is in [`proof`]. A checkpoint is trusted only as a [`VerifiedCheckpoint`], made
//! by [`CheckpointTrust::verify`].

pub mod proof;
pub mod witness;
pub mod witnessing;

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::descriptor::{Descriptor, valid_origin};
use crate::entry::Link;
use crate::hash::{EntryHash, LogId, RootHash, Suite};
use crate::keys::{KeyId, PublicKey, SecretKey};
use crate::note::{NoteError, NoteVerifyError, SignedNote, check_controls};

pub use proof::{
    ExpectedEntry, MAX_PROOF_HASHES, MAX_PROOF_SIZE, ProofCheckError, TLOG_PROOF_HEADER, TlogProof,
    TlogProofError, verify_tlog_proof,
};
pub use witness::{
    COSIGNATURE_V1_HEADER, COSIGNATURE_V1_TYPE, CosignError, CosignatureProblem, CosignatureStatus,
    MAX_COSIGNATURE_TIME, PolicyError, WitnessError, WitnessKey, WitnessOutcome, WitnessPolicy,
    WitnessReport, cosignature_message,
};
pub use witnessing::{
    AddCheckpoint, AddCheckpointError, Cosigned, MAX_ADD_CHECKPOINT_SIZE, MAX_CONSISTENCY_LINES,
    Witness, WitnessRefusal, parse_proof_lines, proof_lines,
};

/// What a BLAKE3 log appends to its origin to make its checkpoint origin line (SPEC §11.3).
pub const BLAKE3_ORIGIN_SUFFIX: &str = "#blake3";

/// The checkpoint origin line of a log (SPEC §11.3): the origin itself for a `sha256` log (plain
/// C2SP and RFC 6962, readable by existing tools and witnesses), `origin#blake3` for a `blake3`
/// log, so that a BLAKE3 root is never read as the SHA-256 root of a log of the same name.
pub fn checkpoint_origin(origin: &str, suite: Suite) -> String {
    match suite {
        Suite::Sha256 => origin.to_owned(),
        Suite::Blake3 => format!("{origin}{BLAKE3_ORIGIN_SUFFIX}"),
    }
}

/// Why a checkpoint body, a signed checkpoint or the parts of one were rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The signed note around the body is malformed.
    #[error("checkpoint note: {0}")]
    Note(#[from] NoteError),
    /// The body does not end in a newline.
    #[error("checkpoint body does not end in a newline")]
    MissingFinalNewline,
    /// The body lacks one of its three mandatory lines.
    #[error("checkpoint body has no {0} line")]
    MissingLine(BodyLine),
    /// The origin line is empty.
    #[error("checkpoint origin line is empty")]
    EmptyOrigin,
    /// A line (origin or extension) offered for a checkpoint contains a newline.
    #[error("checkpoint line {line} contains a newline")]
    EmbeddedNewline {
        /// The body line, from 1.
        line: usize,
    },
    /// An ASCII control character other than newline.
    #[error("checkpoint contains control character {byte:#04x} at byte {offset}")]
    ControlCharacter {
        /// Where it is in the body.
        offset: usize,
        /// The byte.
        byte: u8,
    },
    /// The tree size is not a decimal number without leading zeros that fits in 64 bits.
    #[error("checkpoint tree size {0:?} is not a decimal number without leading zeros below 2^64")]
    InvalidSize(String),
    /// The root hash is not canonical padded standard base64.
    #[error("checkpoint root hash is not canonical padded standard base64")]
    InvalidRootHash,
    /// The root hash does not decode to 32 bytes.
    #[error("checkpoint root hash is {found} bytes, expected 32")]
    RootHashLength {
        /// The decoded length.
        found: usize,
    },
    /// An extension line is empty.
    #[error("checkpoint extension line {line} is empty")]
    EmptyExtension {
        /// The body line, from 1.
        line: usize,
    },
    /// An origin that is not a valid log origin (SPEC §5.1).
    #[error("invalid log origin {0:?}")]
    InvalidLogOrigin(String),
    /// An origin line that is neither a log origin nor a log origin with `#blake3`.
    #[error("checkpoint origin line {0:?} is not a log origin with an optional #blake3 suffix")]
    UnknownOriginSuffix(String),
    /// The origin line cannot be the owner's key name (it has white space or `+`).
    #[error("checkpoint origin {0:?} cannot be used as a signing key name")]
    OriginNotKeyName(String),
    /// The extension lines are not the two that bind a sealtrail checkpoint to its log
    /// (SPEC §11.2).
    #[error("checkpoint extension lines: {0}")]
    InvalidBinding(&'static str),
}

/// The mandatory lines of a checkpoint body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BodyLine {
    /// Line 1: the origin.
    Origin,
    /// Line 2: the tree size.
    Size,
    /// Line 3: the root hash.
    RootHash,
}

impl fmt::Display for BodyLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BodyLine::Origin => "origin",
            BodyLine::Size => "tree size",
            BodyLine::RootHash => "root hash",
        })
    }
}

/// Parses an ASCII decimal number without leading zeros (except `0` itself) that fits in 64
/// bits. Rejects signs, spaces and empty strings (SPEC §11.2).
pub(crate) fn parse_decimal(s: &str) -> Option<u64> {
    let canonical =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    if canonical { s.parse().ok() } else { None }
}

fn check_line(line: &str, number: usize) -> Result<(), CheckpointError> {
    if line.contains('\n') {
        return Err(CheckpointError::EmbeddedNewline { line: number });
    }
    check_controls(line).map_err(|e| match e {
        NoteError::ControlCharacter { offset, byte } => {
            CheckpointError::ControlCharacter { offset, byte }
        }
        other => CheckpointError::Note(other),
    })
}

/// The first word of both extension lines of a sealtrail checkpoint (SPEC §11.2).
pub const BINDING_PREFIX: &str = "sealtrail";

/// What binds a checkpoint to one log and to that log's key history (SPEC §11.2): the log id,
/// and the control head at the checkpoint's size — the latest control entry (key management or
/// erasure, SPEC §7.5) below it, or none. Written as the checkpoint's two extension lines:
///
/// ```text
/// sealtrail log <log id, 64 lower-case hex digits>
/// sealtrail control <seq> <entry hash, 64 lower-case hex digits>     (or: sealtrail control none)
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogBinding {
    /// The log the checkpoint is of.
    pub log_id: LogId,
    /// The latest control entry below the checkpoint's size.
    pub control: Option<Link>,
}

impl LogBinding {
    /// The two extension lines, without newlines.
    pub fn extension_lines(&self) -> Vec<String> {
        let control = match &self.control {
            None => format!("{BINDING_PREFIX} control none"),
            Some(l) => format!("{BINDING_PREFIX} control {} {}", l.seq, l.hash.to_hex()),
        };
        vec![
            format!("{BINDING_PREFIX} log {}", self.log_id.to_hex()),
            control,
        ]
    }

    /// Strictly reads the extension lines of a checkpoint of `size` entries: exactly the two
    /// lines of [`LogBinding::extension_lines`], in that order, with a control entry below
    /// `size`.
    pub fn from_extensions(
        extensions: &[String],
        size: u64,
    ) -> Result<LogBinding, CheckpointError> {
        let bad = CheckpointError::InvalidBinding;
        let [log, control] = extensions else {
            return Err(bad(
                "a sealtrail checkpoint has exactly two: `sealtrail log …` and `sealtrail control …`",
            ));
        };
        let log_id = log
            .strip_prefix("sealtrail log ")
            .and_then(lower_hex32)
            .map(LogId)
            .ok_or(bad(
                "the first must be `sealtrail log` and 64 lower-case hex digits",
            ))?;
        let rest = control.strip_prefix("sealtrail control ").ok_or(bad(
            "the second must be `sealtrail control none` or `sealtrail control SEQ HASH`",
        ))?;
        let control = if rest == "none" {
            None
        } else {
            let (seq, hash) = rest.split_once(' ').ok_or(bad(
                "`sealtrail control` needs a sequence number and a hash",
            ))?;
            let seq = parse_decimal(seq).ok_or(bad(
                "the control entry's sequence number is not a decimal without leading zeros",
            ))?;
            let hash = lower_hex32(hash).ok_or(bad(
                "the control entry's hash is not 64 lower-case hex digits",
            ))?;
            if seq >= size {
                return Err(bad("the control entry is not below the checkpoint's size"));
            }
            Some(Link {
                seq,
                hash: EntryHash(hash),
            })
        };
        Ok(LogBinding { log_id, control })
    }
}

// Exactly 64 lower-case hexadecimal digits.
fn lower_hex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64
        || !s
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

/// A log and the hash suite its checkpoints are made with: what a verifier expects the origin
/// line to be (SPEC §11.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LogOrigin {
    origin: String,
    suite: Suite,
}

impl LogOrigin {
    /// A log origin (SPEC §5.1 rules) and suite.
    pub fn new(origin: &str, suite: Suite) -> Result<LogOrigin, CheckpointError> {
        if !valid_origin(origin) {
            return Err(CheckpointError::InvalidLogOrigin(origin.to_owned()));
        }
        Ok(LogOrigin {
            origin: origin.to_owned(),
            suite,
        })
    }

    /// The origin and suite a descriptor names.
    pub fn of(descriptor: &Descriptor) -> Result<LogOrigin, CheckpointError> {
        LogOrigin::new(&descriptor.origin, descriptor.suite)
    }

    /// The inverse of [`checkpoint_origin`]: reads a checkpoint origin line as a log origin and
    /// suite. `name#blake3` is a BLAKE3 log; a line without `#` a SHA-256 log; anything else is
    /// rejected.
    pub fn from_checkpoint_origin(line: &str) -> Result<LogOrigin, CheckpointError> {
        let (origin, suite) = match line.strip_suffix(BLAKE3_ORIGIN_SUFFIX) {
            Some(stem) => (stem, Suite::Blake3),
            None => (line, Suite::Sha256),
        };
        if origin.contains('#') {
            return Err(CheckpointError::UnknownOriginSuffix(line.to_owned()));
        }
        LogOrigin::new(origin, suite)
    }

    /// The log's origin, as in its descriptor.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The log's hash suite.
    pub fn suite(&self) -> Suite {
        self.suite
    }

    /// The origin line of the log's checkpoints, and the key name its owner signs them under.
    pub fn checkpoint_origin(&self) -> String {
        checkpoint_origin(&self.origin, self.suite)
    }
}

/// The body of a checkpoint (C2SP tlog-checkpoint, SPEC §11.2): origin line, tree size, root
/// hash and optional extension lines.
#[derive(Clone, PartialEq, Eq)]
pub struct Checkpoint {
    origin: String,
    size: u64,
    root: RootHash,
    extensions: Vec<String>,
}

impl fmt::Debug for Checkpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Checkpoint")
            .field("origin", &self.origin)
            .field("size", &self.size)
            .field("root", &self.root)
            .field("extensions", &self.extensions)
            .finish()
    }
}

impl Checkpoint {
    /// A checkpoint of a log at a tree size, with the log's origin line (SPEC §11.3) and the
    /// extension lines that bind it to the log and its key history (SPEC §11.2).
    pub fn for_log(log: &LogOrigin, binding: &LogBinding, size: u64, root: RootHash) -> Checkpoint {
        Checkpoint {
            origin: log.checkpoint_origin(),
            size,
            root,
            extensions: binding.extension_lines(),
        }
    }

    /// A checkpoint with any origin line: non-empty, no newline or other control character.
    pub fn new(origin: &str, size: u64, root: RootHash) -> Result<Checkpoint, CheckpointError> {
        if origin.is_empty() {
            return Err(CheckpointError::EmptyOrigin);
        }
        check_line(origin, 1)?;
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions: Vec::new(),
        })
    }

    /// The same checkpoint with extension lines (each non-empty, without control characters).
    /// C2SP does not recommend them: monitors cannot audit them.
    pub fn with_extensions(mut self, extensions: Vec<String>) -> Result<Self, CheckpointError> {
        for (i, ext) in extensions.iter().enumerate() {
            if ext.is_empty() {
                return Err(CheckpointError::EmptyExtension { line: 4 + i });
            }
            check_line(ext, 4 + i)?;
        }
        self.extensions = extensions;
        Ok(self)
    }

    /// Strictly parses a checkpoint body (SPEC §11.2).
    pub fn parse(text: &str) -> Result<Checkpoint, CheckpointError> {
        if let Err(NoteError::ControlCharacter { offset, byte }) = check_controls(text) {
            return Err(CheckpointError::ControlCharacter { offset, byte });
        }
        let body = text
            .strip_suffix('\n')
            .ok_or(CheckpointError::MissingFinalNewline)?;
        let mut lines = body.split('\n');
        let origin = lines
            .next()
            .ok_or(CheckpointError::MissingLine(BodyLine::Origin))?;
        if origin.is_empty() {
            return Err(CheckpointError::EmptyOrigin);
        }
        let size = lines
            .next()
            .ok_or(CheckpointError::MissingLine(BodyLine::Size))?;
        let size = parse_decimal(size).ok_or_else(|| CheckpointError::InvalidSize(size.into()))?;
        let root = lines
            .next()
            .ok_or(CheckpointError::MissingLine(BodyLine::RootHash))?;
        let root = B64
            .decode(root)
            .map_err(|_| CheckpointError::InvalidRootHash)?;
        let root: [u8; 32] = root
            .as_slice()
            .try_into()
            .map_err(|_| CheckpointError::RootHashLength { found: root.len() })?;
        let mut extensions = Vec::new();
        for (i, ext) in lines.enumerate() {
            if ext.is_empty() {
                return Err(CheckpointError::EmptyExtension { line: 4 + i });
            }
            extensions.push(ext.to_owned());
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root: RootHash(root),
            extensions,
        })
    }

    /// The body's text: every line ends in a newline.
    pub fn encode(&self) -> String {
        let mut out = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root.0)
        );
        for ext in &self.extensions {
            out.push_str(ext);
            out.push('\n');
        }
        out
    }

    /// The origin line.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The tree size: how many entries the tree holds.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The root hash of the tree at that size.
    pub fn root(&self) -> RootHash {
        self.root
    }

    /// The extension lines, without their newlines.
    pub fn extensions(&self) -> &[String] {
        &self.extensions
    }

    /// The log and control head a sealtrail checkpoint's extension lines bind it to
    /// (SPEC §11.2). Not to be trusted before the checkpoint is verified.
    pub fn binding(&self) -> Result<LogBinding, CheckpointError> {
        LogBinding::from_extensions(&self.extensions, self.size)
    }
}

/// A checkpoint as a signed note: its body and the owner's signature, plus any witness
/// cosignatures and other signature lines (SPEC §11.2–§11.4). Parsing checks the form only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    checkpoint: Checkpoint,
    note: SignedNote,
}

impl SignedCheckpoint {
    /// Signs a checkpoint with the owner's key, under the key name = the origin line (the C2SP
    /// convention; SPEC §11.3).
    pub fn sign(checkpoint: Checkpoint, owner: &SecretKey) -> Result<Self, CheckpointError> {
        let name = checkpoint.origin.clone();
        let note = SignedNote::sign(&checkpoint.encode(), owner, &name).map_err(|e| match e {
            NoteError::InvalidKeyName(n) => CheckpointError::OriginNotKeyName(n),
            other => CheckpointError::Note(other),
        })?;
        Ok(SignedCheckpoint { checkpoint, note })
    }

    /// Strictly parses a signed checkpoint note: the note form (SPEC §11.1), then the body
    /// (SPEC §11.2).
    pub fn parse(bytes: &[u8]) -> Result<Self, CheckpointError> {
        SignedCheckpoint::from_note(SignedNote::parse(bytes)?)
    }

    /// Reads a parsed note's text as a checkpoint body.
    pub fn from_note(note: SignedNote) -> Result<Self, CheckpointError> {
        let checkpoint = Checkpoint::parse(note.text())?;
        Ok(SignedCheckpoint { checkpoint, note })
    }

    /// The note's bytes.
    pub fn encode(&self) -> Vec<u8> {
        self.note.encode()
    }

    /// The body. Not to be trusted before verification.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The note: body text and signature lines.
    pub fn note(&self) -> &SignedNote {
        &self.note
    }

    pub(crate) fn note_mut(&mut self) -> &mut SignedNote {
        &mut self.note
    }
}

/// Which witnesses a verifier requires.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Witnesses {
    /// None: the owner's signature alone is trusted (no protection against a split view).
    NotRequired,
    /// A quorum of the policy's witnesses must have cosigned.
    Quorum(WitnessPolicy),
}

/// Why a signed checkpoint is not trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointVerifyError {
    /// The bytes are not a signed checkpoint.
    #[error("{0}")]
    Parse(#[from] CheckpointError),
    /// The origin line is not the expected log's.
    #[error("checkpoint origin {found:?} is not the expected {expected:?}")]
    WrongOrigin {
        /// The expected origin line.
        expected: String,
        /// The origin line found.
        found: String,
    },
    /// The checkpoint is of the expected log but made with another hash suite.
    #[error("checkpoint is for the {found} suite; the log uses {expected}")]
    SuiteMismatch {
        /// The log's suite.
        expected: Suite,
        /// The suite the origin line names.
        found: Suite,
    },
    /// The owner's signature is missing, invalid or repeated.
    #[error("owner signature: {0}")]
    Owner(#[from] NoteVerifyError),
    /// The checkpoint is of another log with the same origin (its log id differs).
    #[error("checkpoint is of log {}, not of log {}", .found.short(), .expected.short())]
    WrongLog {
        /// The log id expected.
        expected: LogId,
        /// The log id the checkpoint names.
        found: LogId,
    },
    /// Too few witnesses cosigned.
    #[error("{0}")]
    Witnesses(#[from] WitnessError),
}

/// What a verifier trusts about one log's checkpoints: the log (origin and suite), its pinned
/// owner keys, and the witnesses required.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointTrust {
    log: LogOrigin,
    log_id: Option<LogId>,
    owners: Vec<PublicKey>,
    witnesses: Witnesses,
}

impl CheckpointTrust {
    /// A trust configuration. At least one owner key is required.
    pub fn new(
        log: LogOrigin,
        owners: Vec<PublicKey>,
        witnesses: Witnesses,
    ) -> Result<Self, PolicyError> {
        if owners.is_empty() {
            return Err(PolicyError::NoOwnerKeys);
        }
        Ok(CheckpointTrust {
            log,
            log_id: None,
            owners,
            witnesses,
        })
    }

    /// Also require the checkpoint to name this log id (SPEC §11.2): a checkpoint of another
    /// log with the same origin and owner key is then rejected.
    pub fn with_log_id(mut self, log_id: LogId) -> Self {
        self.log_id = Some(log_id);
        self
    }

    /// The log this configuration is for.
    pub fn log(&self) -> &LogOrigin {
        &self.log
    }

    /// Parses and verifies a signed checkpoint note in one call.
    pub fn verify_bytes(&self, bytes: &[u8]) -> Result<VerifiedCheckpoint, CheckpointVerifyError> {
        self.verify(&SignedCheckpoint::parse(bytes)?)
    }

    /// Verifies a signed checkpoint (SPEC §11.6): the origin line names this log and suite, the
    /// extension lines bind it to a log (and to this trust's log id, if set), a pinned owner key
    /// signed the body under the origin line's name, and the witness requirement is met.
    pub fn verify(
        &self,
        signed: &SignedCheckpoint,
    ) -> Result<VerifiedCheckpoint, CheckpointVerifyError> {
        let expected = self.log.checkpoint_origin();
        let found = signed.checkpoint.origin();
        if found != expected {
            if let Ok(other) = LogOrigin::from_checkpoint_origin(found) {
                if other.origin == self.log.origin {
                    return Err(CheckpointVerifyError::SuiteMismatch {
                        expected: self.log.suite,
                        found: other.suite,
                    });
                }
            }
            return Err(CheckpointVerifyError::WrongOrigin {
                expected,
                found: found.to_owned(),
            });
        }
        let binding = signed.checkpoint.binding()?;
        let owner = signed.note.verify(&self.owners)?;
        let signer = owner
            .verified
            .first()
            .map(|v| v.key)
            .ok_or(NoteVerifyError::NoVerifiableSignatures)?;
        if let Some(expected) = self.log_id {
            if binding.log_id != expected {
                return Err(CheckpointVerifyError::WrongLog {
                    expected,
                    found: binding.log_id,
                });
            }
        }
        let witnesses = match &self.witnesses {
            Witnesses::NotRequired => WitnessReport::none(),
            Witnesses::Quorum(policy) => policy.verify(signed)?,
        };
        Ok(VerifiedCheckpoint {
            checkpoint: signed.checkpoint.clone(),
            log: self.log.clone(),
            binding,
            signer,
            witnesses,
        })
    }
}

/// A checkpoint that verified under a [`CheckpointTrust`]: the trusted anchor for proofs about
/// the log at its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCheckpoint {
    checkpoint: Checkpoint,
    log: LogOrigin,
    binding: LogBinding,
    signer: KeyId,
    witnesses: WitnessReport,
}

impl VerifiedCheckpoint {
    /// The verified body.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The log (origin and suite) the checkpoint is of.
    pub fn log(&self) -> &LogOrigin {
        &self.log
    }

    /// The hash suite of the tree.
    pub fn suite(&self) -> Suite {
        self.log.suite
    }

    /// The tree size.
    pub fn size(&self) -> u64 {
        self.checkpoint.size
    }

    /// The root hash at that size.
    pub fn root(&self) -> RootHash {
        self.checkpoint.root
    }

    /// The log id the checkpoint names (SPEC §11.2).
    pub fn log_id(&self) -> LogId {
        self.binding.log_id
    }

    /// The latest control entry below the checkpoint's size, as the checkpoint names it
    /// (SPEC §11.2, §7.5).
    pub fn control(&self) -> Option<Link> {
        self.binding.control
    }

    /// The pinned owner key whose signature verified.
    pub fn signer(&self) -> KeyId {
        self.signer
    }

    /// What each required witness did (empty when witnesses were not required).
    pub fn witnesses(&self) -> &WitnessReport {
        &self.witnesses
    }
}

/// Why a consistency proof between two checkpoints failed (SPEC §10.6, §11.6).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConsistencyError {
    /// The two checkpoints are of different logs (or suites).
    #[error("the checkpoints are of different logs: {older:?} and {newer:?}")]
    DifferentLog {
        /// The older checkpoint's origin line.
        older: String,
        /// The newer checkpoint's origin line.
        newer: String,
    },
    /// The "newer" checkpoint is smaller than the older one: the log went backwards.
    #[error("size regression: the newer checkpoint has {newer} entries, the older {older}")]
    SizeRegression {
        /// The older size.
        older: u64,
        /// The newer size.
        newer: u64,
    },
    /// The proof does not show the older tree is a prefix of the newer one: a fork.
    #[error("fork: the tree of {older} entries is not a prefix of the tree of {newer}: {source}")]
    Fork {
        /// The older size.
        older: u64,
        /// The newer size.
        newer: u64,
        /// What the proof check found.
        source: crate::merkle::ProofError,
    },
}

impl VerifiedCheckpoint {
    /// Verifies that the entry with hash `entry_hash` sits at position `seq` in this checkpoint's
    /// tree (SPEC §10.5): the leaf is `H(0x00 ‖ entry_hash)`.
    pub fn verify_inclusion(
        &self,
        entry_hash: &EntryHash,
        seq: u64,
        proof: &[[u8; 32]],
    ) -> Result<(), crate::merkle::ProofError> {
        let suite = self.suite();
        let leaf = crate::merkle::leaf_hash(suite, entry_hash);
        crate::merkle::verify_inclusion(
            &suite,
            &leaf,
            seq,
            self.size(),
            proof,
            self.root().as_bytes(),
        )
    }

    /// Verifies that an entry is in this checkpoint's tree at the position its header states.
    pub fn verify_entry(
        &self,
        entry: &crate::entry::Entry,
        proof: &[[u8; 32]],
    ) -> Result<(), crate::merkle::ProofError> {
        self.verify_inclusion(&entry.hash(self.suite()), entry.seq(), proof)
    }

    /// Verifies that this checkpoint's tree extends `older`'s: the log only grew (SPEC §10.6).
    /// Any tree extends the empty tree, so an older checkpoint of size 0 needs an empty proof
    /// (the C2SP tlog-witness rule; the raw verifier of §10.6 refuses size 0, §10.6 explains).
    pub fn verify_consistency(
        &self,
        older: &VerifiedCheckpoint,
        proof: &[[u8; 32]],
    ) -> Result<(), ConsistencyError> {
        if older.log != self.log || older.log_id() != self.log_id() {
            return Err(ConsistencyError::DifferentLog {
                older: older.log.checkpoint_origin(),
                newer: self.log.checkpoint_origin(),
            });
        }
        let (o, n) = (older.size(), self.size());
        if n < o {
            return Err(ConsistencyError::SizeRegression { older: o, newer: n });
        }
        let fork = |source| ConsistencyError::Fork {
            older: o,
            newer: n,
            source,
        };
        if o == 0 {
            return if proof.is_empty() {
                Ok(())
            } else {
                Err(fork(crate::merkle::ProofError::WrongProofLength {
                    expected: 0,
                    found: proof.len(),
                }))
            };
        }
        let suite = self.suite();
        crate::merkle::verify_consistency(
            &suite,
            o,
            n,
            proof,
            older.root().as_bytes(),
            self.root().as_bytes(),
        )
        .map_err(fork)
    }
}

/// What a tlog proof established: this entry hash is at this position in a verified checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedInclusion {
    /// The entry's position.
    pub seq: u64,
    /// The entry's hash.
    pub entry_hash: EntryHash,
    /// The checkpoint it is included in.
    pub checkpoint: VerifiedCheckpoint,
}

/// Why a tlog proof did not verify (SPEC §11.7).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlogVerifyError {
    /// The checkpoint does not verify under the trust configuration.
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] CheckpointVerifyError),
    /// The proof carries no entry hash and none was supplied.
    #[error("the proof carries no entry hash; supply the entry")]
    NoEntryHash,
    /// The supplied entry's hash differs from the one the proof carries.
    #[error("the entry's hash {} is not the proof's {}", .supplied.short(), .carried.short())]
    EntryMismatch {
        /// The hash of the entry supplied.
        supplied: EntryHash,
        /// The hash in the proof.
        carried: EntryHash,
    },
    /// The inclusion proof does not verify.
    #[error("inclusion: {0}")]
    Inclusion(#[from] crate::merkle::ProofError),
}

impl TlogProof {
    /// Verifies the proof offline: the checkpoint under `trust`, then the entry's inclusion at
    /// the proof's index. `entry_hash` supplies the hash when the proof does not carry one, and
    /// must equal it when it does.
    pub fn verify(
        &self,
        trust: &CheckpointTrust,
        entry_hash: Option<EntryHash>,
    ) -> Result<VerifiedInclusion, TlogVerifyError> {
        let checkpoint = trust.verify(self.checkpoint())?;
        let hash = match (self.entry_hash(), entry_hash) {
            (Some(carried), Some(supplied)) if carried != supplied => {
                return Err(TlogVerifyError::EntryMismatch { supplied, carried });
            }
            (Some(h), _) | (None, Some(h)) => h,
            (None, None) => return Err(TlogVerifyError::NoEntryHash),
        };
        checkpoint.verify_inclusion(&hash, self.index(), self.hashes())?;
        Ok(VerifiedInclusion {
            seq: self.index(),
            entry_hash: hash,
            checkpoint,
        })
    }
}
