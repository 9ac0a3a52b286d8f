//! Entries: the signed header, the wire form, and payloads kept apart from it (SPEC §6).

use std::fmt;

use crate::codec::{DecodeError, Decoder, Encoder};
use crate::descriptor::FORMAT_VERSION;
use crate::hash::{EntryHash, LogId, PayloadCommitment, Salt, Suite};
use crate::keys::{KeyId, SecretKey};
use crate::time::Timestamp;

/// The signing context of an entry signature (SPEC §4.3).
pub const ENTRY_CONTEXT: &[u8] = b"sealtrail/v2/sign/entry\0";
/// The most causal links one entry may carry.
pub const MAX_LINKS: usize = 64;
/// The longest session id, in bytes.
pub const MAX_SESSION_LEN: usize = 128;
/// The longest kind, in bytes.
pub const MAX_KIND_LEN: usize = 64;
/// The largest payload the format allows, in bytes (a log may set a lower cap).
pub const MAX_PAYLOAD_LEN: usize = 16 * 1024 * 1024;

/// An entry's event kind: 1–64 bytes of `[a-z][a-z0-9_]*` (SPEC §6.2, field 8).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Kind(String);

/// A kind, session id or link that breaks the rules of SPEC §6.2.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FieldError {
    /// Not a valid kind.
    #[error("invalid kind {0:?}: 1 to 64 characters of a-z, 0-9 and _, starting with a letter")]
    Kind(String),
    /// Not a valid session id.
    #[error("invalid session id {0:?}: at most 128 bytes, no control characters")]
    Session(String),
    /// Links out of order, duplicated, too many, or not pointing backwards.
    #[error("invalid links: {0}")]
    Links(&'static str),
}

impl Kind {
    /// Registers a key (owner only).
    pub const KEY_REGISTER: &'static str = "key_register";
    /// Revokes a key (owner only).
    pub const KEY_REVOKE: &'static str = "key_revoke";
    /// Replaces a key by a new one with the same role and name (owner only).
    pub const KEY_ROTATE: &'static str = "key_rotate";
    /// A human approval (approver only).
    pub const APPROVAL: &'static str = "approval";
    /// Records that an earlier entry's payload was erased (owner only; SPEC §6.5).
    pub const ERASURE: &'static str = "erasure";

    /// Checks and wraps a kind.
    pub fn new(kind: &str) -> Result<Kind, FieldError> {
        if valid_kind(kind) {
            Ok(Kind(kind.to_owned()))
        } else {
            Err(FieldError::Kind(kind.to_owned()))
        }
    }

    /// The kind as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is one of the key-management kinds.
    pub fn is_key_management(&self) -> bool {
        matches!(
            self.0.as_str(),
            Kind::KEY_REGISTER | Kind::KEY_REVOKE | Kind::KEY_ROTATE
        )
    }

    /// Whether entries of this kind are control entries (SPEC §7.5): key management, erasure,
    /// retention, legal holds, purges and review policy, signed by an owner key, chained to one another by the header's
    /// `control` field and carried by every bundle.
    pub fn is_control(&self) -> bool {
        self.is_key_management()
            || self.0 == Kind::ERASURE
            || crate::retention::is_lifecycle_kind(&self.0)
            || self.0 == crate::policy::REVIEW_POLICY
    }
}

fn valid_kind(k: &str) -> bool {
    let b = k.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_KIND_LEN
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl fmt::Debug for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Kind({})", self.0)
    }
}

/// The session an entry belongs to; empty for entries outside any session (SPEC §6.2, field 6).
/// Maps onto OpenTelemetry's `gen_ai.conversation.id`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SessionId(String);

impl SessionId {
    /// Checks and wraps a session id: at most 128 bytes of UTF-8 without control characters.
    pub fn new(id: &str) -> Result<SessionId, FieldError> {
        if valid_session(id) {
            Ok(SessionId(id.to_owned()))
        } else {
            Err(FieldError::Session(id.to_owned()))
        }
    }

    /// No session.
    pub fn none() -> SessionId {
        SessionId(String::new())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is "no session".
    pub fn is_none(&self) -> bool {
        self.0.is_empty()
    }
}

fn valid_session(s: &str) -> bool {
    s.len() <= MAX_SESSION_LEN && !s.chars().any(char::is_control)
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({:?})", self.0)
    }
}

/// A causal link: an earlier entry this one depended on, by position and hash (SPEC §6.2,
/// field 10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Link {
    /// The earlier entry's sequence number.
    pub seq: u64,
    /// The earlier entry's hash.
    pub hash: EntryHash,
}

/// Checks links for an entry at `seq`: at most 64, strictly increasing by sequence number, all
/// pointing backwards.
pub fn check_links(seq: u64, links: &[Link]) -> Result<(), FieldError> {
    check_link_order(links)?;
    if links.last().is_some_and(|l| l.seq >= seq) {
        return Err(FieldError::Links("a link must point to an earlier entry"));
    }
    Ok(())
}

/// The rules of SPEC §6.2 for `links` that do not depend on the entry's position: at most 64,
/// sorted by sequence number, no repeats.
pub fn check_link_order(links: &[Link]) -> Result<(), FieldError> {
    if links.len() > MAX_LINKS {
        return Err(FieldError::Links("more than 64 links"));
    }
    if links.windows(2).any(|w| w[0].seq >= w[1].seq) {
        return Err(FieldError::Links(
            "links must be sorted by sequence number, without repeats",
        ));
    }
    Ok(())
}

/// The signed part of an entry (SPEC §6.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryHeader {
    /// Format version (SPEC §1.3).
    pub version: u64,
    /// The log this entry belongs to.
    pub log_id: LogId,
    /// Position in the log, from 0.
    pub seq: u64,
    /// Hash of the entry at `seq - 1`; for entry 0, the log id.
    pub prev: EntryHash,
    /// When the entry was appended.
    pub time: Timestamp,
    /// The session, or none.
    pub session: SessionId,
    /// The signing key.
    pub signer: KeyId,
    /// What happened.
    pub kind: Kind,
    /// The commitment to the payload.
    pub payload: PayloadCommitment,
    /// Earlier entries this one depended on.
    pub links: Vec<Link>,
    /// The latest control entry (key management, erasure or review policy) before this one, or `None` when
    /// there is none (SPEC §6.2 field 11, §7.5). Binds the entry to the key history it was
    /// signed under, so a bundle cannot leave a revocation out.
    pub control: Option<Link>,
}

impl EntryHeader {
    /// The canonical encoding (SPEC §6.2): the bytes that are signed and hashed.
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Encoder::with_capacity(
            240 + self.session.0.len() + self.kind.0.len() + 40 * self.links.len(),
        );
        e.map(11);
        e.u64(1).u64(self.version);
        e.u64(2).bytes(self.log_id.as_bytes());
        e.u64(3).u64(self.seq);
        e.u64(4).bytes(self.prev.as_bytes());
        e.u64(5).u64(self.time.0);
        e.u64(6).text(&self.session.0);
        e.u64(7).bytes(self.signer.as_bytes());
        e.u64(8).text(&self.kind.0);
        e.u64(9).bytes(self.payload.as_bytes());
        e.u64(10).array(self.links.len());
        for l in &self.links {
            e.array(2).u64(l.seq).bytes(l.hash.as_bytes());
        }
        e.u64(11);
        match &self.control {
            None => e.null(),
            Some(l) => e.array(2).u64(l.seq).bytes(l.hash.as_bytes()),
        };
        e.into_bytes()
    }

    /// Strictly decodes a header. Offsets in errors are relative to `bytes`.
    pub fn decode(bytes: &[u8]) -> Result<EntryHeader, DecodeError> {
        EntryHeader::decode_at(bytes, 0)
    }

    /// Strictly decodes a header that sits at offset `base` of a larger input.
    pub fn decode_at(bytes: &[u8], base: usize) -> Result<EntryHeader, DecodeError> {
        let mut d = Decoder::with_base(bytes, base);
        d.map_of(11, "an entry header map of 11 fields")?;
        d.key(1)?;
        let at = d.at();
        let version = d.u64()?;
        if version != FORMAT_VERSION {
            return Err(DecodeError::UnsupportedVersion {
                offset: at,
                version,
            });
        }
        d.key(2)?;
        let log_id = LogId(d.bytes_fixed::<32>("log_id")?);
        d.key(3)?;
        let seq = d.u64()?;
        d.key(4)?;
        let prev = EntryHash(d.bytes_fixed::<32>("prev")?);
        d.key(5)?;
        let time = Timestamp(d.u64()?);
        d.key(6)?;
        let at = d.at();
        let session = d.text()?;
        if !valid_session(session) {
            return Err(DecodeError::InvalidField {
                offset: at,
                field: "session",
                reason: "longer than 128 bytes or holds control characters",
            });
        }
        d.key(7)?;
        let signer = KeyId(d.bytes_fixed::<32>("signer")?);
        d.key(8)?;
        let at = d.at();
        let kind = d.text()?;
        if !valid_kind(kind) {
            return Err(DecodeError::InvalidField {
                offset: at,
                field: "kind",
                reason: "not 1 to 64 characters of [a-z][a-z0-9_]*",
            });
        }
        d.key(9)?;
        let payload = PayloadCommitment(d.bytes_fixed::<32>("payload")?);
        d.key(10)?;
        let at = d.at();
        let n = d.array()?;
        if n > MAX_LINKS {
            return Err(DecodeError::InvalidField {
                offset: at,
                field: "links",
                reason: "more than 64 links",
            });
        }
        let mut links = Vec::with_capacity(n);
        for _ in 0..n {
            d.array_of(2, "a link [seq, hash]")?;
            let lseq = d.u64()?;
            let hash = EntryHash(d.bytes_fixed::<32>("links")?);
            links.push(Link { seq: lseq, hash });
        }
        if let Err(FieldError::Links(reason)) = check_links(seq, &links) {
            return Err(DecodeError::InvalidField {
                offset: at,
                field: "links",
                reason,
            });
        }
        d.key(11)?;
        let at = d.at();
        let control = if d.peek_null() {
            d.null()?;
            None
        } else {
            d.array_of(2, "a control link [seq, hash] or null")?;
            let cseq = d.u64()?;
            let hash = EntryHash(d.bytes_fixed::<32>("control")?);
            if cseq >= seq {
                return Err(DecodeError::InvalidField {
                    offset: at,
                    field: "control",
                    reason: "the control link must name an earlier entry",
                });
            }
            Some(Link { seq: cseq, hash })
        };
        d.finish()?;
        Ok(EntryHeader {
            version,
            log_id,
            seq,
            prev,
            time,
            session: SessionId(session.to_owned()),
            signer,
            kind: Kind(kind.to_owned()),
            payload,
            links,
            control,
        })
    }
}

/// The message an entry signature covers: the context, then the header bytes (SPEC §4.3).
pub fn entry_signing_input(header_bytes: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(ENTRY_CONTEXT.len() + header_bytes.len());
    m.extend_from_slice(ENTRY_CONTEXT);
    m.extend_from_slice(header_bytes);
    m
}

/// A signed entry in its wire form `[header: bstr, signature: bstr .size 64]` (SPEC §6.1).
/// The wire bytes are kept as received; the header is decoded from them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    bytes: Vec<u8>,
    header_start: usize,
    header_len: usize,
    header: EntryHeader,
    signature: [u8; 64],
}

impl Entry {
    /// Signs an encoded header and wraps it in the wire form. `header_bytes` must be the
    /// encoding of `header`.
    pub fn sign(header: EntryHeader, header_bytes: &[u8], key: &SecretKey) -> Entry {
        Entry::assemble(header, header_bytes, Entry::sign_header(header_bytes, key))
    }

    /// The signature of an encoded header (SPEC §4.3), without assembling the entry: the
    /// one place the signing input is signed.
    pub fn sign_header(header_bytes: &[u8], key: &SecretKey) -> [u8; 64] {
        key.sign(&entry_signing_input(header_bytes))
    }

    /// Wraps an encoded header and a signature made elsewhere.
    pub fn assemble(header: EntryHeader, header_bytes: &[u8], signature: [u8; 64]) -> Entry {
        let mut e = Encoder::with_capacity(header_bytes.len() + 72);
        e.array(2).bytes(header_bytes);
        let mut bytes = e.into_bytes();
        let header_start = bytes.len() - header_bytes.len();
        bytes.extend_from_slice(&[0x58, 64]);
        bytes.extend_from_slice(&signature);
        Entry {
            bytes,
            header_start,
            header_len: header_bytes.len(),
            header,
            signature,
        }
    }

    /// Strictly decodes the wire form. Does not check the signature: that needs the log's key
    /// registry (see [`crate::verify`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<Entry, DecodeError> {
        let mut d = Decoder::new(bytes);
        d.array_of(2, "an entry [header, signature]")?;
        let header_bytes = d.bytes()?;
        let header_start = d.position() - header_bytes.len();
        let signature = d.bytes_fixed::<64>("signature")?;
        d.finish()?;
        let header = EntryHeader::decode_at(header_bytes, header_start)?;
        Ok(Entry {
            bytes: bytes.to_vec(),
            header_start,
            header_len: header_bytes.len(),
            header,
            signature,
        })
    }

    /// The wire bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The wire bytes, by value.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// The decoded header.
    pub fn header(&self) -> &EntryHeader {
        &self.header
    }

    /// The header bytes exactly as received: what is signed and hashed.
    pub fn header_bytes(&self) -> &[u8] {
        &self.bytes[self.header_start..self.header_start + self.header_len]
    }

    /// The signature.
    pub fn signature(&self) -> &[u8; 64] {
        &self.signature
    }

    /// The entry hash under a suite.
    pub fn hash(&self, suite: Suite) -> EntryHash {
        EntryHash::compute(suite, self.header_bytes())
    }

    /// The sequence number.
    pub fn seq(&self) -> u64 {
        self.header.seq
    }

    /// The message the signature covers.
    pub fn signing_input(&self) -> Vec<u8> {
        entry_signing_input(self.header_bytes())
    }
}

/// Payload of an `erasure` entry (SPEC §6.5). The entry links to exactly one earlier entry:
/// the one whose payload was erased.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Erasure {
    /// Why (for example a reference to a GDPR Art. 17 request).
    pub reason: String,
}

/// A payload as kept beside its entry (SPEC §6.4): present with its salt, or erased.
#[derive(Clone, PartialEq, Eq)]
pub enum Payload {
    /// The payload and the salt it was committed with.
    Present {
        /// The salt.
        salt: Salt,
        /// The payload: one item in the canonical CBOR profile.
        data: Vec<u8>,
    },
    /// The payload and its salt were erased; only the commitment in the header remains. A later
    /// `erasure` entry says who erased it and why.
    Erased,
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Payload::Present { data, .. } => write!(f, "Payload::Present({} bytes)", data.len()),
            Payload::Erased => f.write_str("Payload::Erased"),
        }
    }
}

impl Payload {
    /// Whether the payload matches a commitment under a suite. An erased payload matches nothing.
    pub fn matches(&self, suite: Suite, commitment: &PayloadCommitment) -> bool {
        match self {
            Payload::Present { salt, data } => {
                PayloadCommitment::compute(suite, salt, data) == *commitment
            }
            Payload::Erased => false,
        }
    }

    /// The payload bytes, when present.
    pub fn data(&self) -> Option<&[u8]> {
        match self {
            Payload::Present { data, .. } => Some(data),
            Payload::Erased => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> EntryHeader {
        EntryHeader {
            version: FORMAT_VERSION,
            log_id: LogId([1; 32]),
            seq: 7,
            prev: EntryHash([2; 32]),
            time: Timestamp(1_700_000_000_000_000_000),
            session: SessionId::new("s-1").unwrap(),
            signer: KeyId([3; 32]),
            kind: Kind::new("command_run").unwrap(),
            payload: PayloadCommitment([4; 32]),
            links: vec![
                Link {
                    seq: 1,
                    hash: EntryHash([5; 32]),
                },
                Link {
                    seq: 6,
                    hash: EntryHash([6; 32]),
                },
            ],
            control: Some(Link {
                seq: 3,
                hash: EntryHash([8; 32]),
            }),
        }
    }

    #[test]
    fn header_round_trips() {
        let h = header();
        let b = h.encode();
        assert_eq!(EntryHeader::decode(&b).unwrap(), h);
    }

    #[test]
    fn links_must_point_back_in_order() {
        let mut h = header();
        h.links.reverse();
        assert!(EntryHeader::decode(&h.encode()).is_err());
        let mut h = header();
        h.links[1].seq = 7;
        assert!(EntryHeader::decode(&h.encode()).is_err());
    }

    #[test]
    fn control_link_is_null_or_an_earlier_entry() {
        let mut h = header();
        h.control = None;
        let b = h.encode();
        assert_eq!(b.last(), Some(&0xf6), "no control entry is written as null");
        assert_eq!(EntryHeader::decode(&b).unwrap(), h);
        let mut h = header();
        h.control = Some(Link {
            seq: 7,
            hash: EntryHash([8; 32]),
        });
        assert!(EntryHeader::decode(&h.encode()).is_err());
    }

    #[test]
    fn display_honours_width() {
        let k = Kind::new("ab").unwrap();
        assert_eq!(format!("{k:<6}|"), "ab    |");
        assert_eq!(format!("{:>4}|", SessionId::new("s").unwrap()), "   s|");
    }

    #[test]
    fn kinds_are_checked() {
        assert!(Kind::new("command_run").is_ok());
        assert!(Kind::new("Command").is_err());
        assert!(Kind::new("1x").is_err());
        assert!(Kind::new("").is_err());
        assert!(Kind::new(&"a".repeat(65)).is_err());
    }
}
