//! C2SP signed notes: text followed by signature lines (SPEC §11.1).
//!
//! A note is `text ‖ "\n" ‖ signature lines`, each signature line being
//! `"— " ‖ key name ‖ " " ‖ base64(key hash (4 bytes) ‖ signature) ‖ "\n"`. This module parses
//! and encodes notes strictly (an accepted note re-encodes to the same bytes), makes Ed25519
//! (type 0x01) signatures, and verifies them against trusted keys. Witness cosignatures
//! (type 0x04) are note signatures too; their message is built in [`crate::checkpoint`].

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::keys::{KeyId, PublicKey, SecretKey, note_key_hash, valid_key_name};

/// The largest note accepted or produced, in bytes: 1 MiB (SPEC §11.1).
pub const MAX_NOTE_SIZE: usize = 1 << 20;

/// The most signature lines a note may carry (SPEC §11.1). C2SP requires accepting at least 16;
/// Go's `sumdb/note` rejects more than 100.
pub const MAX_SIGNATURES: usize = 100;

/// What starts every signature line: an em dash (U+2014) and a space.
pub const SIGNATURE_PREFIX: &str = "\u{2014} ";

/// Why a note's bytes, or the parts offered to build one, do not form a signed note.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteError {
    /// The note is larger than [`MAX_NOTE_SIZE`].
    #[error("note is {size} bytes; at most {max} are accepted")]
    TooLarge {
        /// The note's size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The note is not valid UTF-8.
    #[error("note is not valid UTF-8 (at byte {offset})")]
    InvalidUtf8 {
        /// Where the first invalid sequence starts.
        offset: usize,
    },
    /// An ASCII control character other than newline.
    #[error("note contains control character {byte:#04x} at byte {offset}")]
    ControlCharacter {
        /// Where it is.
        offset: usize,
        /// The byte.
        byte: u8,
    },
    /// No blank line separates the text from a signature block.
    #[error("note has no blank line before a signature block")]
    MissingSignatureBlock,
    /// The blank line is followed by nothing.
    #[error("note has an empty signature block")]
    EmptySignatureBlock,
    /// The note does not end in a newline.
    #[error("note does not end in a newline")]
    MissingFinalNewline,
    /// More signature lines than [`MAX_SIGNATURES`].
    #[error("note has more than {max} signature lines")]
    TooManySignatures {
        /// The limit.
        max: usize,
    },
    /// A signature line is not of the form `— name base64`.
    #[error("signature line {line}: {problem}")]
    MalformedSignatureLine {
        /// The line's position in the signature block, from 0.
        line: usize,
        /// What is wrong with it.
        problem: LineProblem,
    },
    /// Text offered for signing does not end in a newline (or is empty).
    #[error("note text must be non-empty and end in a newline")]
    TextWithoutFinalNewline,
    /// A key name offered for signing that C2SP does not allow.
    #[error("invalid key name {0:?}: it must be non-empty, without '+' or white space")]
    InvalidKeyName(String),
    /// A signature offered for a new line is empty.
    #[error("a signature line needs at least one signature byte")]
    EmptySignature,
}

/// What is wrong with one signature line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LineProblem {
    /// The line does not start with an em dash and a space.
    MissingPrefix,
    /// No space separates the key name from the signature.
    MissingSignature,
    /// The key name is empty or contains `+` or white space.
    InvalidKeyName,
    /// The signature is not canonical, padded, standard base64.
    InvalidBase64,
    /// The signature is shorter than a key hash plus one byte.
    TooShort,
}

impl fmt::Display for LineProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LineProblem::MissingPrefix => "does not start with an em dash and a space",
            LineProblem::MissingSignature => "no space between key name and signature",
            LineProblem::InvalidKeyName => "key name is empty or contains '+' or white space",
            LineProblem::InvalidBase64 => "signature is not canonical padded standard base64",
            LineProblem::TooShort => "signature is shorter than 5 bytes",
        })
    }
}

/// Why a well-formed note is not accepted as signed by the trusted keys.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteVerifyError {
    /// A signature line names a trusted key but its signature does not verify.
    #[error("invalid signature for key {name}+{}", hex::encode(.key_hash))]
    InvalidSignature {
        /// The key name on the line.
        name: String,
        /// The key hash on the line.
        key_hash: [u8; 4],
    },
    /// Two signature lines name the same trusted key.
    #[error("more than one signature line for key {name}+{}", hex::encode(.key_hash))]
    DuplicateSignature {
        /// The key name on the second line.
        name: String,
        /// The key hash on the second line.
        key_hash: [u8; 4],
    },
    /// No signature line is from a trusted key.
    #[error("note has no verifiable signatures")]
    NoVerifiableSignatures,
    /// No signature line is from a trusted key, but one is from a trusted key's bytes under
    /// another name. C2SP matches keys by name and key hash, so the line is not the trusted
    /// key's; the verifier key to use is the same key under the line's name.
    #[error(
        "note has no verifiable signatures: it is signed by your key {trusted:?} under the name \
         {signed_as:?}, and a key verifies a note only under its own name (C2SP); use the \
         verifier key named {signed_as:?} (for a sealtrail log, the one `sealtrail init` wrote)"
    )]
    KeyNameMismatch {
        /// The name on the signature line.
        signed_as: String,
        /// The trusted key's name.
        trusted: String,
    },
}

/// One signature line: key name, key hash and the signature bytes after the key hash.
#[derive(Clone, PartialEq, Eq)]
pub struct NoteSignature {
    name: String,
    key_hash: [u8; 4],
    signature: Vec<u8>,
}

impl fmt::Debug for NoteSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "NoteSignature({} {} {} bytes)",
            self.name,
            hex::encode(self.key_hash),
            self.signature.len()
        )
    }
}

impl NoteSignature {
    /// A signature line from its parts. The key name must be a valid C2SP key name and the
    /// signature at least one byte.
    pub fn new(name: &str, key_hash: [u8; 4], signature: Vec<u8>) -> Result<Self, NoteError> {
        if !valid_key_name(name) {
            return Err(NoteError::InvalidKeyName(name.to_owned()));
        }
        if signature.is_empty() {
            return Err(NoteError::EmptySignature);
        }
        Ok(NoteSignature {
            name: name.to_owned(),
            key_hash,
            signature,
        })
    }

    /// The key name on the line.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 4-byte key hash (the C2SP "key ID").
    pub fn key_hash(&self) -> [u8; 4] {
        self.key_hash
    }

    /// The signature bytes after the key hash.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// The line as written in a note, with its final newline.
    pub fn to_line(&self) -> String {
        let mut blob = Vec::with_capacity(4 + self.signature.len());
        blob.extend_from_slice(&self.key_hash);
        blob.extend_from_slice(&self.signature);
        format!("{SIGNATURE_PREFIX}{} {}\n", self.name, B64.encode(blob))
    }

    // SPEC §11.1: `— name base64(key hash ‖ signature)`, without the newline.
    fn parse_line(line: &str, index: usize) -> Result<Self, NoteError> {
        let bad = |problem| NoteError::MalformedSignatureLine {
            line: index,
            problem,
        };
        let rest = line
            .strip_prefix(SIGNATURE_PREFIX)
            .ok_or(bad(LineProblem::MissingPrefix))?;
        let (name, b64) = rest
            .split_once(' ')
            .ok_or(bad(LineProblem::MissingSignature))?;
        if !valid_key_name(name) {
            return Err(bad(LineProblem::InvalidKeyName));
        }
        // The standard engine rejects missing or extra padding and non-zero trailing bits, so the
        // decoded bytes have exactly one encoding: the line re-encodes byte for byte.
        let blob = B64
            .decode(b64)
            .map_err(|_| bad(LineProblem::InvalidBase64))?;
        match blob.split_first_chunk::<4>() {
            Some((hash, sig)) if !sig.is_empty() => Ok(NoteSignature {
                name: name.to_owned(),
                key_hash: *hash,
                signature: sig.to_vec(),
            }),
            _ => Err(bad(LineProblem::TooShort)),
        }
    }
}

/// A signed note: its text (ending in a newline) and one or more signature lines, in order.
///
/// Parsing checks the form only; nothing in the text may be used before [`SignedNote::verify`]
/// (or a checkpoint verification built on it) has succeeded.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedNote {
    text: String,
    signatures: Vec<NoteSignature>,
}

impl fmt::Debug for SignedNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedNote")
            .field("text", &self.text)
            .field("signatures", &self.signatures)
            .finish()
    }
}

/// A signature line that verified under a trusted key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSignature {
    /// The line's position in the signature block, from 0.
    pub line: usize,
    /// The key name on the line.
    pub name: String,
    /// The trusted key that verified it.
    pub key: KeyId,
}

/// The outcome of verifying a note: the lines that verified, and how many were ignored as
/// coming from keys not trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerification {
    /// Every line from a trusted key, in note order (each verified).
    pub verified: Vec<VerifiedSignature>,
    /// The positions of the lines from keys not trusted, which were ignored.
    pub ignored: Vec<usize>,
}

// SPEC §11.1: valid UTF-8 (guaranteed by `&str`), no ASCII control character other than newline.
pub(crate) fn check_controls(s: &str) -> Result<(), NoteError> {
    match s.bytes().enumerate().find(|&(_, b)| b < 0x20 && b != b'\n') {
        Some((offset, byte)) => Err(NoteError::ControlCharacter { offset, byte }),
        None => Ok(()),
    }
}

impl SignedNote {
    /// Strictly parses a signed note (SPEC §11.1). Checks the form only, not the signatures.
    pub fn parse(bytes: &[u8]) -> Result<SignedNote, NoteError> {
        if bytes.len() > MAX_NOTE_SIZE {
            return Err(NoteError::TooLarge {
                size: bytes.len(),
                max: MAX_NOTE_SIZE,
            });
        }
        let s = std::str::from_utf8(bytes).map_err(|e| NoteError::InvalidUtf8 {
            offset: e.valid_up_to(),
        })?;
        check_controls(s)?;
        // The text ends at the last blank line: no signature line is empty, so the signature
        // block cannot hold "\n\n".
        let split = s.rfind("\n\n").ok_or(NoteError::MissingSignatureBlock)?;
        let (text, sigs) = match (s.get(..split + 1), s.get(split + 2..)) {
            (Some(t), Some(g)) => (t, g),
            _ => return Err(NoteError::MissingSignatureBlock),
        };
        if sigs.is_empty() {
            return Err(NoteError::EmptySignatureBlock);
        }
        let body = sigs
            .strip_suffix('\n')
            .ok_or(NoteError::MissingFinalNewline)?;
        if body.split('\n').count() > MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures {
                max: MAX_SIGNATURES,
            });
        }
        let signatures = body
            .split('\n')
            .enumerate()
            .map(|(i, line)| NoteSignature::parse_line(line, i))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SignedNote {
            text: text.to_owned(),
            signatures,
        })
    }

    /// A note of `text` signed with `key` under the key name `name` (Ed25519, type 0x01): the
    /// signature covers exactly the text bytes. The key's own name is not used.
    pub fn sign(text: &str, key: &SecretKey, name: &str) -> Result<SignedNote, NoteError> {
        if text.is_empty() || !text.ends_with('\n') {
            return Err(NoteError::TextWithoutFinalNewline);
        }
        check_controls(text)?;
        let mut note = SignedNote {
            text: text.to_owned(),
            signatures: Vec::new(),
        };
        note.add_signature(key, name)?;
        Ok(note)
    }

    /// Adds an Ed25519 (type 0x01) signature line by `key` under the key name `name`.
    pub fn add_signature(&mut self, key: &SecretKey, name: &str) -> Result<(), NoteError> {
        if !valid_key_name(name) {
            return Err(NoteError::InvalidKeyName(name.to_owned()));
        }
        let sig = key.sign(self.text.as_bytes());
        let line = NoteSignature {
            name: name.to_owned(),
            key_hash: note_key_hash(name, key.key_id().as_bytes()),
            signature: sig.to_vec(),
        };
        self.push_signature(line)
    }

    /// Appends a ready-made signature line (for example a witness cosignature), keeping the note
    /// within [`MAX_SIGNATURES`] and [`MAX_NOTE_SIZE`].
    pub fn push_signature(&mut self, signature: NoteSignature) -> Result<(), NoteError> {
        if self.signatures.len() >= MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures {
                max: MAX_SIGNATURES,
            });
        }
        let size = self.encoded_len() + signature.to_line().len();
        if size > MAX_NOTE_SIZE {
            return Err(NoteError::TooLarge {
                size,
                max: MAX_NOTE_SIZE,
            });
        }
        self.signatures.push(signature);
        Ok(())
    }

    /// Removes every signature line for which `drop` returns true.
    pub(crate) fn remove_signatures(&mut self, drop: impl Fn(&NoteSignature) -> bool) {
        self.signatures.retain(|s| !drop(s));
    }

    /// The note text, with its final newline: the bytes every signature covers.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The signature lines, in order.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    fn encoded_len(&self) -> usize {
        1 + self.text.len()
            + self
                .signatures
                .iter()
                .map(|s| s.to_line().len())
                .sum::<usize>()
    }

    /// The note's bytes: text, blank line, signature lines.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = String::with_capacity(self.encoded_len());
        out.push_str(&self.text);
        out.push('\n');
        for s in &self.signatures {
            out.push_str(&s.to_line());
        }
        out.into_bytes()
    }

    /// Verifies the note's Ed25519 (type 0x01) signatures against trusted keys (SPEC §11.1).
    ///
    /// A line is from a trusted key when the line's key name equals the key's name and the
    /// line's key hash equals SHA-256(name ‖ 0x0A ‖ 0x01 ‖ key)[0..4] (C2SP: keys are matched
    /// by name and key hash; a line that shares only one of them with a trusted key is another
    /// key's). Every line from a trusted key must verify (strictly, SPEC §4.3) over the text; a
    /// trusted key may sign only once; other lines are ignored; at least one line must verify.
    pub fn verify(&self, trusted: &[PublicKey]) -> Result<NoteVerification, NoteVerifyError> {
        let mut verified: Vec<VerifiedSignature> = Vec::new();
        let mut ignored = Vec::new();
        for (i, line) in self.signatures.iter().enumerate() {
            let mut candidates = trusted
                .iter()
                .filter(|k| k.name() == line.name && k.note_key_hash() == line.key_hash)
                .peekable();
            if candidates.peek().is_none() {
                ignored.push(i);
                continue;
            }
            let sig: Option<&[u8; 64]> = line.signature.as_slice().try_into().ok();
            let good = sig.and_then(|sig| candidates.find(|k| k.verify(self.text.as_bytes(), sig)));
            let Some(key) = good else {
                return Err(NoteVerifyError::InvalidSignature {
                    name: line.name.clone(),
                    key_hash: line.key_hash,
                });
            };
            if verified.iter().any(|v| v.key == key.key_id()) {
                return Err(NoteVerifyError::DuplicateSignature {
                    name: line.name.clone(),
                    key_hash: line.key_hash,
                });
            }
            verified.push(VerifiedSignature {
                line: i,
                name: line.name.clone(),
                key: key.key_id(),
            });
        }
        if verified.is_empty() {
            // Say so when a trusted key signed under another name: the usual mistake is pinning
            // the owner's key file under its own name instead of the log's verifier key.
            for line in &self.signatures {
                if let Some(k) = trusted
                    .iter()
                    .find(|k| note_key_hash(&line.name, k.as_bytes()) == line.key_hash)
                {
                    return Err(NoteVerifyError::KeyNameMismatch {
                        signed_as: line.name.clone(),
                        trusted: k.name().to_owned(),
                    });
                }
            }
            return Err(NoteVerifyError::NoVerifiableSignatures);
        }
        Ok(NoteVerification { verified, ignored })
    }
}
