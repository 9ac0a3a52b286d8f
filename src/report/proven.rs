//! What a verification proved: each statement once, as structured facts with a stable code, and
//! its sentence derived from those facts (SPEC §12.6, the report), so the two cannot disagree.

use serde::Serialize;

use crate::hash::{EntryHash, RootHash};

/// One statement a verification proved. `--json` lists it under `proven_items` (tagged by
/// `code`), and its [`sentence`](Proven::sentence) under `proven`, at the same index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Proven {
    /// Local log: entries `first..=last` are each signed by a key registered with a role allowed
    /// to sign their kind, and not revoked.
    LogEntriesSigned {
        /// The first entry.
        first: u64,
        /// The last entry.
        last: u64,
    },
    /// Local log: the hash chain links every entry to the one before it, from the descriptor to
    /// entry `last`, whose hash is `tip`.
    LogChain {
        /// The last entry.
        last: u64,
        /// Its hash.
        #[serde(serialize_with = "hex::entry")]
        tip: EntryHash,
    },
    /// Local log: every payload present matches its salted commitment, and each of the `erased`
    /// erased payloads is recorded by an owner-signed erasure or purge entry (SPEC §6.5, §7.8).
    LogPayloads {
        /// Entries whose payload is erased.
        erased: u64,
    },
    /// Bundle: every byte before the trailer is signed by the pinned key `key`.
    BundleSigned {
        /// The pinned key (C2SP verifier key, or key id hex).
        key: String,
    },
    /// Bundle: each of the `count` entries is signed by a key the log registered with a role
    /// allowed to sign its kind and not revoked as of that entry; each names the latest control
    /// entry before it; the `control_entries` the bundle carries are the log's whole key and
    /// erasure history below the checkpoint.
    BundleEntriesSigned {
        /// Entries in the bundle.
        count: u64,
        /// Control entries the bundle carries.
        control_entries: u64,
    },
    /// Bundle: entries `start..end` form an unbroken hash chain.
    BundleChain {
        /// The first entry.
        start: u64,
        /// One past the last entry.
        end: u64,
    },
    /// Bundle: entries `start..end` are exactly the log's entries at those positions: with the
    /// frontier before them they give `root` at size `end`, which is the checkpoint's root
    /// (`relation` `equal`) or is proven a prefix of it (`prefix`).
    EntriesMatchCheckpoint {
        /// The first entry.
        start: u64,
        /// One past the last entry.
        end: u64,
        /// The root at size `end`.
        #[serde(serialize_with = "hex::root")]
        root: RootHash,
        /// How that root relates to the checkpoint's.
        relation: RootRelation,
        /// The checkpoint's size.
        checkpoint_size: u64,
        /// The checkpoint's root.
        #[serde(serialize_with = "hex::root")]
        checkpoint_root: RootHash,
    },
    /// Bundle (a selection): each entry is included at its position in the log's Merkle tree of
    /// the checkpoint.
    EntriesIncluded {
        /// The checkpoint's size.
        checkpoint_size: u64,
        /// The checkpoint's root.
        #[serde(serialize_with = "hex::root")]
        checkpoint_root: RootHash,
    },
    /// Bundle: the anchor checkpoint is signed by the pinned key `key`.
    CheckpointSigned {
        /// Tree size.
        size: u64,
        /// Root hash.
        #[serde(serialize_with = "hex::root")]
        root: RootHash,
        /// The pinned key (C2SP verifier key, or key id hex).
        key: String,
    },
    /// Bundle: the checkpoint carries valid cosignatures from the witnesses `cosigned`, at least
    /// the `quorum` the auditor's policy requires.
    WitnessQuorum {
        /// Cosignatures required.
        quorum: u64,
        /// The witnesses whose cosignature verified.
        cosigned: Vec<super::Cosigner>,
    },
    /// Bundle: the log only grew since the auditor's checkpoint: its size and root are a prefix
    /// of the anchor's.
    PreviousCheckpointExtended {
        /// The auditor's checkpoint's size.
        previous_size: u64,
        /// Its root.
        #[serde(serialize_with = "hex::root")]
        previous_root: RootHash,
        /// The anchor's size.
        size: u64,
        /// The anchor's root.
        #[serde(serialize_with = "hex::root")]
        root: RootHash,
    },
    /// Bundle: a root claimed outside any signature is the log's root at that size.
    ClaimedRoot {
        /// Who makes the claim (e.g. "the commit's Sealtrail-Checkpoint trailer").
        claim: String,
        /// The size claimed.
        size: u64,
        /// The root claimed, and proven.
        #[serde(serialize_with = "hex::root")]
        root: RootHash,
        /// What proved it: a carried checkpoint, or the bundle's entries.
        source: String,
    },
    /// Bundle: an RFC 3161 timestamp token, verified against the auditor's trusted TSA
    /// certificate, says the carried checkpoint of size `size` (root `root`) — so entries
    /// `0..size` — existed no later than `time` (SPEC §12.7).
    EntriesTimestamped {
        /// The checkpoint's tree size: entries `0..size` are covered.
        size: u64,
        /// Its root.
        #[serde(serialize_with = "hex::root")]
        root: RootHash,
        /// The TSA's time (UTC, RFC 3339).
        time: String,
        /// The subject of the TSA's certificate.
        tsa: String,
        /// The token's serial number, hex.
        serial: String,
    },
    /// Bundle or archive: a renewal signed by the pinned owner key `key` re-protects entries
    /// `0..size` under `suite`: the entries carried give its root `root` under that suite, and
    /// the earlier protections it names are the ones carried with it (SPEC §15.6).
    EntriesRenewed {
        /// The renewal suite.
        suite: String,
        /// Entries covered: `0..size`.
        size: u64,
        /// The renewal tree's root.
        #[serde(serialize_with = "hex::root")]
        root: RootHash,
        /// The pinned key that signed it.
        key: String,
        /// When the owner says it signed it (UTC, RFC 3339).
        time: String,
        /// How many earlier protections it covers.
        protected: u64,
    },
}

/// How the root a bundle's entries give relates to its checkpoint's root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RootRelation {
    /// The same tree: the roots are equal (or both trees are empty).
    Equal,
    /// A smaller tree, proven a prefix of the checkpoint's by the bundle's tail proof.
    Prefix,
}

// `Proven::CODES` and `Proven::code` from one list: `code`'s match is exhaustive, so a new
// statement does not compile until it is listed here, and then it is in `CODES` too. The serde tag
// is the same name (`rename_all = "snake_case"`); a unit test holds them equal.
macro_rules! codes {
    ($($variant:ident => $code:literal,)*) => {
        impl Proven {
            /// Every code, in the order of the variants (the report schema's enumeration).
            pub const CODES: &'static [&'static str] = &[$($code,)*];

            /// The stable code: the `code` member of its JSON form.
            pub fn code(&self) -> &'static str {
                match self {
                    $(Proven::$variant { .. } => $code,)*
                }
            }
        }
    };
}

codes! {
    LogEntriesSigned => "log_entries_signed",
    LogChain => "log_chain",
    LogPayloads => "log_payloads",
    BundleSigned => "bundle_signed",
    BundleEntriesSigned => "bundle_entries_signed",
    BundleChain => "bundle_chain",
    EntriesMatchCheckpoint => "entries_match_checkpoint",
    EntriesIncluded => "entries_included",
    CheckpointSigned => "checkpoint_signed",
    WitnessQuorum => "witness_quorum",
    PreviousCheckpointExtended => "previous_checkpoint_extended",
    ClaimedRoot => "claimed_root",
    EntriesTimestamped => "entries_timestamped",
    EntriesRenewed => "entries_renewed",
}

impl Proven {
    /// The statement in words, from the same facts.
    pub fn sentence(&self) -> String {
        match self {
            Proven::LogEntriesSigned { first, last } => format!(
                "entries {first}..={last} are each signed (strict Ed25519) by a key registered \
                 with a role allowed to sign their kind, and not revoked"
            ),
            Proven::LogChain { last, tip } => format!(
                "the hash chain links every entry to the one before it, from the descriptor to \
                 entry {last} (hash {tip})"
            ),
            Proven::LogPayloads { erased } => format!(
                "every payload present matches its salted commitment, and every erased payload \
                 ({erased}) is recorded by an owner-signed erasure or purge entry"
            ),
            Proven::BundleSigned { key } => format!(
                "the bundle is complete and unaltered: every byte before the trailer is signed by \
                 the pinned key {key}"
            ),
            Proven::BundleEntriesSigned {
                count,
                control_entries,
            } => format!(
                "{}, each signed (strict Ed25519) by a key the log registered with a role allowed \
                 to sign its kind and not revoked as of that entry; each names the latest control \
                 entry before it, and the {} the bundle carries are the log's whole key and \
                 erasure history below the checkpoint",
                crate::text::entries(*count),
                crate::text::Count(*control_entries, "control entry", "control entries")
            ),
            Proven::BundleChain { start, end } => {
                format!("entries {start}..{end} form an unbroken hash chain")
            }
            Proven::EntriesMatchCheckpoint {
                start,
                end,
                root,
                relation,
                checkpoint_size,
                checkpoint_root,
            } => format!(
                "entries {start}..{end} are exactly the log's entries at those positions: with \
                 the frontier before them they give root {} at size {end}, {} checkpoint size \
                 {checkpoint_size} (root {})",
                root.short(),
                match relation {
                    RootRelation::Equal => "the root of",
                    RootRelation::Prefix => "proven a prefix of",
                },
                checkpoint_root.short()
            ),
            Proven::EntriesIncluded {
                checkpoint_size,
                checkpoint_root,
            } => format!(
                "each entry is included at its position in the log's Merkle tree of checkpoint \
                 size {checkpoint_size} (root {})",
                checkpoint_root.short()
            ),
            Proven::CheckpointSigned { size, root, key } => format!(
                "the checkpoint of size {size} (root {}) is signed by the pinned key {key}",
                root.short()
            ),
            Proven::WitnessQuorum { quorum, cosigned } => format!(
                "the checkpoint is cosigned by {} of the {quorum} witnesses required: {}",
                cosigned.len(),
                if cosigned.is_empty() {
                    "none".to_owned()
                } else {
                    cosigned
                        .iter()
                        .map(|c| format!("{} (at {})", c.name, c.time))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ),
            Proven::PreviousCheckpointExtended {
                previous_size,
                previous_root,
                size,
                root,
            } => format!(
                "the log only grew since the checkpoint you supplied: size {previous_size} (root \
                 {}) is a prefix of size {size} (root {})",
                previous_root.short(),
                root.short()
            ),
            Proven::ClaimedRoot {
                claim,
                size,
                root,
                source,
            } => format!(
                "{claim}: the log's root at size {size} is {}, as claimed ({source})",
                root.short()
            ),
            Proven::EntriesTimestamped {
                size,
                root,
                time,
                tsa,
                serial: _,
            } => format!(
                "entries 0..{size} existed no later than {time} (TSA {tsa}): an RFC 3161 token \
                 over the checkpoint of size {size} (root {}) verified against the trusted TSA \
                 certificate",
                root.short()
            ),
            Proven::EntriesRenewed {
                suite,
                size,
                root,
                key,
                time,
                protected,
            } => format!(
                "entries 0..{size} re-protected under {suite} by owner key {key} at {time}: \
                 they give the renewal's root {} under {suite}, and the {} it names are carried \
                 with it",
                root.short(),
                crate::text::Count(*protected, "earlier protection", "earlier protections")
            ),
        }
    }
}

// Hashes as lowercase hex in JSON.
mod hex {
    use serde::Serializer;

    use crate::hash::{EntryHash, RootHash};

    pub(super) fn root<S: Serializer>(r: &RootHash, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&r.to_hex())
    }

    pub(super) fn entry<S: Serializer>(h: &EntryHash, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&h.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_json_tags() {
        let samples = [
            Proven::LogEntriesSigned { first: 0, last: 1 },
            Proven::LogChain {
                last: 1,
                tip: EntryHash([1; 32]),
            },
            Proven::LogPayloads { erased: 0 },
            Proven::BundleSigned { key: "k".into() },
            Proven::BundleEntriesSigned {
                count: 1,
                control_entries: 0,
            },
            Proven::BundleChain { start: 0, end: 1 },
            Proven::EntriesMatchCheckpoint {
                start: 0,
                end: 1,
                root: RootHash([2; 32]),
                relation: RootRelation::Equal,
                checkpoint_size: 1,
                checkpoint_root: RootHash([2; 32]),
            },
            Proven::EntriesIncluded {
                checkpoint_size: 1,
                checkpoint_root: RootHash([2; 32]),
            },
            Proven::CheckpointSigned {
                size: 1,
                root: RootHash([2; 32]),
                key: "k".into(),
            },
            Proven::WitnessQuorum {
                quorum: 1,
                cosigned: Vec::new(),
            },
            Proven::PreviousCheckpointExtended {
                previous_size: 1,
                previous_root: RootHash([2; 32]),
                size: 2,
                root: RootHash([3; 32]),
            },
            Proven::ClaimedRoot {
                claim: "c".into(),
                size: 1,
                root: RootHash([2; 32]),
                source: "s".into(),
            },
            Proven::EntriesTimestamped {
                size: 1,
                root: RootHash([2; 32]),
                time: "t".into(),
                tsa: "CN=t".into(),
                serial: "01".into(),
            },
            Proven::EntriesRenewed {
                suite: "sha256".into(),
                size: 1,
                root: RootHash([2; 32]),
                key: "k".into(),
                time: "t".into(),
                protected: 0,
            },
        ];
        let codes: Vec<&str> = samples.iter().map(Proven::code).collect();
        assert_eq!(codes, Proven::CODES);
        for p in &samples {
            let v = serde_json::to_value(p).unwrap();
            assert_eq!(v["code"], p.code());
        }
    }
}
