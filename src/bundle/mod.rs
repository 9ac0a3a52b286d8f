//! Export bundles: one self-describing, streamable file an auditor verifies offline (SPEC §12).
//!
//! A bundle is a CBOR sequence (RFC 8742) of canonical items, in this order:
//!
//! ```text
//! "sealtrail-bundle"   magic (text)
//! 1                    format version
//! header               descriptor, selection, checkpoints and the proofs that tie them together
//! control item × n     key-management and erasure entries the selection needs (with proofs)
//! entry item × count   the entries, in sequence order, with payloads or withheld markers
//! trailer              count, and the exporter's signature over a hash of every byte before it
//! ```
//!
//! Everything is laid out so the verifier reads it once, front to back, with memory bounded
//! independently of the bundle's size. Writing is on the log side ([`crate::log::Log::export`]);
//! reading and verifying is here and depends on no storage engine. A bundle that verified can be
//! read like the log ([`VerifiedBundle`], an [`EntrySource`](crate::source::EntrySource)).

mod verified;
mod verify;

use serde::{Deserialize, Serialize};
use serde_bytes::{ByteArray, ByteBuf};

use crate::codec::{DecodeError, Decoder, Encoder, from_canonical, to_canonical};
use crate::entry::{MAX_PAYLOAD_LEN, Payload};
use crate::hash::{Domain, Salt, Suite};

pub use verified::{BundleReading, VerifiedBundle};
pub(crate) use verify::verify_bundle_renewing;
pub use verify::{
    BundleError, Progress, TrustError, TrustPolicy, verify_bundle, verify_bundle_entries,
    verify_bundle_entries_with, verify_bundle_with,
};

/// The first item of every bundle.
pub const MAGIC: &str = "sealtrail-bundle";
/// The bundle format version this crate writes and reads.
pub const BUNDLE_VERSION: u64 = 2;
/// The signing context of the trailer signature (SPEC §12.5).
pub const BUNDLE_CONTEXT: &[u8] = b"sealtrail/v2/sign/bundle\0";
/// The largest header item.
pub const MAX_HEADER_LEN: usize = 16 * 1024 * 1024;
/// The largest entry or control item: the largest payload plus room for the rest.
pub const MAX_ITEM_LEN: usize = MAX_PAYLOAD_LEN + 64 * 1024;
/// The most checkpoints a header may carry.
pub const MAX_CHECKPOINTS: usize = 1024;
/// The most timestamp tokens a header may carry (SPEC §12.7).
pub const MAX_TIMESTAMPS: usize = 16;
/// The largest timestamp token, and the largest checkpoint note one is carried with, in bytes.
pub const MAX_TIMESTAMP_LEN: usize = 64 * 1024;
/// The most hashes an item's inclusion proof may have: no tree of fewer than 2^64 entries needs
/// more.
pub const MAX_PROOF_HASHES: usize = 64;

/// The hash of a bundle's bytes, as its trailer signs it: H_"sealtrail/v2/bundle"(bytes).
pub fn bundle_digest(suite: Suite, bytes_before_trailer: &[u8]) -> [u8; 32] {
    suite.tagged(Domain::Bundle, &[bytes_before_trailer])
}

/// How the entries of a bundle are tied to its anchor checkpoint (SPEC §12.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Shape {
    /// Entries `start..start+count`, all of them: with the frontier of the entries before
    /// `start`, they give the root at `start+count`, which the tail proof ties to the anchor.
    Contiguous,
    /// Any entries, each with its own inclusion proof against the anchor.
    Selection,
}

/// A checkpoint in a bundle, with the consistency proof from the one before it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointItem {
    /// The consistency proof from the previous checkpoint in the list (empty for the first).
    pub consistency: Vec<ByteArray<32>>,
    /// The signed checkpoint note, verbatim (SPEC §11).
    pub note: ByteBuf,
}

/// An RFC 3161 timestamp token with the exact checkpoint note it timestamps (SPEC §12.7): the
/// note's body is that of a checkpoint the bundle carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimestampItem {
    /// The signed checkpoint note whose SHA-256 is the token's message imprint, verbatim.
    pub note: ByteBuf,
    /// The DER `TimeStampToken` (CMS ContentInfo), verbatim.
    pub token: ByteBuf,
}

/// The header item (SPEC §12.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleHeader {
    /// Checkpoints, smallest first; the last is the anchor everything is proven against.
    pub checkpoints: Vec<CheckpointItem>,
    /// Control items that follow the header.
    pub controls: u64,
    /// Entry items that follow the control items.
    pub count: u64,
    /// The signed descriptor (SPEC §5.3).
    pub descriptor: ByteBuf,
    /// When the bundle was made (nanoseconds since the epoch, UTC).
    pub exported: u64,
    /// Contiguous only: the perfect subtree hashes of entries `0..start`, largest first.
    pub frontier: Vec<ByteArray<32>>,
    /// What the exporter selected, in words (covered by the trailer signature).
    pub selection: String,
    /// How the entries are tied to the anchor.
    pub shape: Shape,
    /// Contiguous only: the first entry's sequence number.
    pub start: u64,
    /// Contiguous only: the consistency proof from `start+count` to the anchor's size.
    pub tail: Vec<ByteArray<32>>,
    /// RFC 3161 timestamp tokens over carried checkpoints (SPEC §12.7); the key is absent when
    /// there are none, so a bundle without tokens has the bytes it had before.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timestamps: Vec<TimestampItem>,
    /// Renewals of the log's entries under another suite (SPEC §15.6); the key is absent when
    /// there are none, so a bundle without renewals has the bytes it had before.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub renewals: Vec<crate::renewal::RenewalItem>,
}

impl BundleHeader {
    /// The canonical encoding.
    pub fn encode(&self) -> Vec<u8> {
        to_canonical(self).expect("a header holds only integers, text and byte strings")
    }

    /// Strictly decodes a header.
    pub fn decode(bytes: &[u8]) -> Result<BundleHeader, DecodeError> {
        let h: BundleHeader = from_canonical(bytes)?;
        if h.checkpoints.len() > MAX_CHECKPOINTS {
            return Err(DecodeError::InvalidField {
                offset: 0,
                field: "checkpoints",
                reason: "more than 1024 checkpoints",
            });
        }
        if h.timestamps.len() > MAX_TIMESTAMPS {
            return Err(DecodeError::InvalidField {
                offset: 0,
                field: "timestamps",
                reason: "more than 16 timestamp tokens",
            });
        }
        if h.timestamps
            .iter()
            .any(|t| t.note.len() > MAX_TIMESTAMP_LEN || t.token.len() > MAX_TIMESTAMP_LEN)
        {
            return Err(DecodeError::InvalidField {
                offset: 0,
                field: "timestamps",
                reason: "a timestamp token or its note is over 64 KiB",
            });
        }
        if h.renewals.len() > crate::renewal::MAX_RENEWALS {
            return Err(DecodeError::InvalidField {
                offset: 0,
                field: "renewals",
                reason: "more than 16 renewals",
            });
        }
        if h.renewals.iter().any(|r| r.check_bounds().is_err()) {
            return Err(DecodeError::InvalidField {
                offset: 0,
                field: "renewals",
                reason: "a renewal note or protected item over 64 KiB, or over 64 protected items",
            });
        }
        Ok(h)
    }
}

/// Why a payload is not in the bundle (SPEC §12.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WithheldReason {
    /// Payloads of this entry's kind were withheld.
    Kind,
    /// This entry's payload was withheld by name.
    Entry,
}

impl WithheldReason {
    fn code(self) -> &'static str {
        match self {
            WithheldReason::Kind => "withheld-kind",
            WithheldReason::Entry => "withheld-entry",
        }
    }

    /// In words, for reports.
    pub fn describe(self) -> &'static str {
        match self {
            WithheldReason::Kind => "payloads of this kind withheld by the exporter",
            WithheldReason::Entry => "this payload withheld by the exporter",
        }
    }
}

/// A payload as a bundle carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BundlePayload {
    /// The payload and its salt.
    Present {
        /// The salt.
        salt: Salt,
        /// The payload.
        data: Vec<u8>,
    },
    /// Erased from the log (an erasure entry records it).
    Erased,
    /// Left out of this bundle.
    Withheld(WithheldReason),
}

impl BundlePayload {
    /// The payload as the log keeps it, and whether (and why) it was withheld.
    pub fn to_payload(&self) -> (Payload, Option<WithheldReason>) {
        match self {
            BundlePayload::Present { salt, data } => (
                Payload::Present {
                    salt: *salt,
                    data: data.clone(),
                },
                None,
            ),
            BundlePayload::Erased => (Payload::Erased, None),
            BundlePayload::Withheld(r) => (Payload::Erased, Some(*r)),
        }
    }

    /// [`BundlePayload::to_payload`], moving the payload bytes rather than copying them.
    pub fn into_payload(self) -> (Payload, Option<WithheldReason>) {
        match self {
            BundlePayload::Present { salt, data } => (Payload::Present { salt, data }, None),
            BundlePayload::Erased => (Payload::Erased, None),
            BundlePayload::Withheld(r) => (Payload::Erased, Some(r)),
        }
    }
}

/// An entry or control item: `[entry: bstr, payload, proof: [* bstr .size 32]]` where payload is
/// `[salt: bstr .size 32, data: bstr]`, or the text `erased`, `withheld-kind` or
/// `withheld-entry` (SPEC §12.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryItem {
    /// The entry's wire bytes (SPEC §6.1).
    pub entry: Vec<u8>,
    /// Its payload.
    pub payload: BundlePayload,
    /// Its inclusion proof against the anchor (empty in contiguous bundles).
    pub proof: Vec<[u8; 32]>,
}

impl EntryItem {
    /// The canonical encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Encoder::with_capacity(self.entry.len() + 64 + 33 * self.proof.len() + 400);
        e.array(3).bytes(&self.entry);
        match &self.payload {
            BundlePayload::Present { salt, data } => {
                e.array(2).bytes(&salt.0).bytes(data);
            }
            BundlePayload::Erased => {
                e.text("erased");
            }
            BundlePayload::Withheld(r) => {
                e.text(r.code());
            }
        }
        e.array(self.proof.len());
        for h in &self.proof {
            e.bytes(h);
        }
        e.into_bytes()
    }

    /// Strictly decodes an item.
    pub fn decode(bytes: &[u8]) -> Result<EntryItem, DecodeError> {
        EntryItem::decode_owned(bytes.to_vec())
    }

    /// Strictly decodes an item read into `bytes`, moving a present payload out of them rather
    /// than copying it: a 16 MiB payload is held once, not twice.
    pub fn decode_owned(bytes: Vec<u8>) -> Result<EntryItem, DecodeError> {
        let mut d = Decoder::new(&bytes);
        d.array_of(3, "an entry item [entry, payload, proof]")?;
        let entry = d.bytes()?.to_vec();
        let at = d.at();
        let payload = match bytes.get(d.position()).map(|b| b >> 5) {
            Some(4) => {
                d.array_of(2, "a payload [salt, data]")?;
                let salt = Salt(d.bytes_fixed::<32>("salt")?);
                let data = d.bytes()?;
                let end = d.position();
                Marker::Present {
                    salt,
                    range: end - data.len()..end,
                }
            }
            _ => match d.text()? {
                "erased" => Marker::Erased,
                "withheld-kind" => Marker::Withheld(WithheldReason::Kind),
                "withheld-entry" => Marker::Withheld(WithheldReason::Entry),
                _ => {
                    return Err(DecodeError::InvalidField {
                        offset: at,
                        field: "payload",
                        reason: "not a payload, `erased`, `withheld-kind` or `withheld-entry`",
                    });
                }
            },
        };
        let at = d.at();
        let n = d.array()?;
        if n > MAX_PROOF_HASHES {
            return Err(DecodeError::InvalidField {
                offset: at,
                field: "proof",
                reason: "more than 64 hashes",
            });
        }
        let mut proof = Vec::with_capacity(n);
        for _ in 0..n {
            proof.push(d.bytes_fixed::<32>("proof")?);
        }
        d.finish()?;
        let payload = match payload {
            Marker::Present { salt, range } => {
                let mut data = bytes;
                data.truncate(range.end);
                data.drain(..range.start);
                BundlePayload::Present { salt, data }
            }
            Marker::Erased => BundlePayload::Erased,
            Marker::Withheld(r) => BundlePayload::Withheld(r),
        };
        Ok(EntryItem {
            entry,
            payload,
            proof,
        })
    }
}

// Where a decoded item's payload is, before it is moved out of the item's bytes.
enum Marker {
    Present {
        salt: Salt,
        range: std::ops::Range<usize>,
    },
    Erased,
    Withheld(WithheldReason),
}

/// The trailer item (SPEC §12.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trailer {
    /// Entry items in the bundle.
    pub count: u64,
    /// H_"sealtrail/v2/bundle"(every byte before the trailer).
    pub digest: ByteArray<32>,
    /// The exporter's signature over the context and the digest.
    pub signature: ByteArray<64>,
    /// The exporter's key (a pinned owner key).
    pub signer: ByteArray<32>,
}

impl Trailer {
    /// The canonical encoding.
    pub fn encode(&self) -> Vec<u8> {
        to_canonical(self).expect("a trailer holds only integers and byte strings")
    }

    /// Strictly decodes a trailer.
    pub fn decode(bytes: &[u8]) -> Result<Trailer, DecodeError> {
        from_canonical(bytes)
    }

    /// The message the signature covers.
    pub fn signing_input(digest: &[u8; 32]) -> Vec<u8> {
        let mut m = BUNDLE_CONTEXT.to_vec();
        m.extend_from_slice(digest);
        m
    }
}

/// The bytes of the magic item and the version item, which every bundle starts with.
pub fn preamble() -> Vec<u8> {
    let mut e = Encoder::new();
    e.text(MAGIC).u64(BUNDLE_VERSION);
    e.into_bytes()
}

/// Hashes proof elements into the byte-array form the header stores.
pub(crate) fn arrays(hashes: &[[u8; 32]]) -> Vec<ByteArray<32>> {
    hashes.iter().map(|h| ByteArray::new(*h)).collect()
}

/// The plain form of stored proof elements.
pub(crate) fn plain(hashes: &[ByteArray<32>]) -> Vec<[u8; 32]> {
    hashes.iter().map(|h| **h).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_items_round_trip_and_reject_unknown_markers() {
        for payload in [
            BundlePayload::Present {
                salt: Salt([3; 32]),
                data: vec![0x01],
            },
            BundlePayload::Erased,
            BundlePayload::Withheld(WithheldReason::Kind),
            BundlePayload::Withheld(WithheldReason::Entry),
        ] {
            let item = EntryItem {
                entry: vec![1, 2, 3],
                payload,
                proof: vec![[7; 32], [8; 32]],
            };
            let b = item.encode();
            assert_eq!(EntryItem::decode(&b).unwrap(), item);
        }
        let item = EntryItem {
            entry: vec![],
            payload: BundlePayload::Erased,
            proof: vec![],
        };
        let mut b = item.encode();
        let at = b.iter().position(|&c| c == b'e').unwrap();
        b[at] = b'f';
        assert!(EntryItem::decode(&b).is_err());
    }

    #[test]
    fn headers_are_canonical() {
        let h = BundleHeader {
            checkpoints: vec![],
            controls: 0,
            count: 3,
            descriptor: ByteBuf::from(vec![1, 2]),
            exported: 5,
            frontier: vec![],
            selection: "whole log".into(),
            shape: Shape::Contiguous,
            start: 0,
            tail: vec![],
            timestamps: vec![],
            renewals: vec![],
        };
        let b = h.encode();
        assert_eq!(BundleHeader::decode(&b).unwrap(), h);
        // No tokens: no `timestamps` key at all, so older bundles keep their bytes.
        assert!(!b.windows(10).any(|w| w == b"timestamps"));
    }

    // SPEC §12.7: the `timestamps` member is absent or non-empty, at most 16 tokens.
    #[test]
    fn timestamps_are_strictly_decoded() {
        let item = TimestampItem {
            note: ByteBuf::from(b"note".to_vec()),
            token: ByteBuf::from(vec![0x30, 0x00]),
        };
        let mut h = BundleHeader {
            checkpoints: vec![],
            controls: 0,
            count: 0,
            descriptor: ByteBuf::from(vec![1]),
            exported: 0,
            frontier: vec![],
            selection: String::new(),
            shape: Shape::Selection,
            start: 0,
            tail: vec![],
            timestamps: vec![item.clone()],
            renewals: vec![],
        };
        assert_eq!(BundleHeader::decode(&h.encode()).unwrap(), h);
        h.timestamps = vec![item.clone(); MAX_TIMESTAMPS + 1];
        assert!(BundleHeader::decode(&h.encode()).is_err());
        h.timestamps = vec![TimestampItem {
            note: item.note.clone(),
            token: ByteBuf::from(vec![0; MAX_TIMESTAMP_LEN + 1]),
        }];
        assert!(BundleHeader::decode(&h.encode()).is_err());
        // An explicit empty list, keys otherwise canonical, is not the canonical form.
        let mut v: ciborium::Value = ciborium::Value::serialized(&BundleHeader {
            timestamps: vec![],
            ..h.clone()
        })
        .unwrap();
        if let ciborium::Value::Map(m) = &mut v {
            m.push((
                ciborium::Value::Text("timestamps".into()),
                ciborium::Value::Array(vec![]),
            ));
        }
        let b = to_canonical(&v).unwrap();
        assert_eq!(BundleHeader::decode(&b), Err(DecodeError::NotCanonical));
    }
}
