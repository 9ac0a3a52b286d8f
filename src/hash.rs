//! Hash suites, domain separation and the newtypes for every hash-like value (SPEC §2).

use std::fmt;
use std::str::FromStr;

use sha2::Digest as _;

/// The hash function a log uses for every hash it makes (SPEC §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Suite {
    /// BLAKE3 with 32-byte output: the default.
    #[default]
    Blake3,
    /// SHA-256: FIPS-approved, and exactly RFC 6962 / C2SP for Merkle trees.
    Sha256,
}

impl Suite {
    /// The suite's name as written in a descriptor: `blake3` or `sha256`.
    pub fn name(self) -> &'static str {
        match self {
            Suite::Blake3 => "blake3",
            Suite::Sha256 => "sha256",
        }
    }

    /// Parses a suite name.
    pub fn from_name(name: &str) -> Option<Suite> {
        match name {
            "blake3" => Some(Suite::Blake3),
            "sha256" => Some(Suite::Sha256),
            _ => None,
        }
    }

    /// H(parts₀ ‖ parts₁ ‖ …): the plain hash of the concatenated parts.
    pub fn hash(self, parts: &[&[u8]]) -> [u8; 32] {
        let mut h = Hasher::new(self);
        for p in parts {
            h.update(p);
        }
        h.finalize()
    }

    /// H(tag ‖ 0x00 ‖ parts…): the domain-separated hash of SPEC §2.2.
    pub fn tagged(self, domain: Domain, parts: &[&[u8]]) -> [u8; 32] {
        let mut h = Hasher::new(self);
        h.update(domain.tag().as_bytes());
        h.update(&[0]);
        for p in parts {
            h.update(p);
        }
        h.finalize()
    }
}

/// An incremental hasher of either suite. Kept on the stack: hashing is on every append's path.
#[derive(Clone)]
#[allow(clippy::large_enum_variant)]
pub(crate) enum Hasher {
    Blake3(blake3::Hasher),
    Sha256(sha2::Sha256),
}

impl Hasher {
    pub(crate) fn new(suite: Suite) -> Self {
        match suite {
            Suite::Blake3 => Hasher::Blake3(blake3::Hasher::new()),
            Suite::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
        }
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Blake3(h) => {
                h.update(data);
            }
            Hasher::Sha256(h) => h.update(data),
        }
    }

    pub(crate) fn finalize(self) -> [u8; 32] {
        match self {
            Hasher::Blake3(h) => *h.finalize().as_bytes(),
            Hasher::Sha256(h) => h.finalize().into(),
        }
    }
}

impl fmt::Display for Suite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

impl FromStr for Suite {
    type Err = ParseHashError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Suite::from_name(s).ok_or(ParseHashError::UnknownSuite)
    }
}

/// The purposes a hash is made for; each has its own tag (SPEC §2.2). Merkle tree hashes use the
/// RFC 6962 prefixes 0x00 and 0x01 instead; no tag starts with either byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Domain {
    /// The log id, over the descriptor bytes.
    LogId,
    /// An entry hash, over the entry header bytes.
    Entry,
    /// A payload commitment, over the salt and the payload bytes.
    Payload,
    /// A bundle digest, over every byte of a bundle before its trailer.
    Bundle,
    /// An earlier protection (checkpoint note, renewal note, timestamp token) a renewal names,
    /// over its bytes (SPEC §15.6).
    Protected,
}

impl Domain {
    /// The ASCII tag hashed before the 0x00 separator.
    pub fn tag(self) -> &'static str {
        match self {
            Domain::LogId => "sealtrail/v2/log-id",
            Domain::Entry => "sealtrail/v2/entry",
            Domain::Payload => "sealtrail/v2/payload",
            Domain::Bundle => "sealtrail/v2/bundle",
            Domain::Protected => "sealtrail/v2/renewal/protected",
        }
    }
}

/// A hash-like value could not be parsed from text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseHashError {
    /// Not 64 hexadecimal digits.
    #[error("expected 64 hexadecimal digits")]
    BadHex,
    /// Not `blake3` or `sha256`.
    #[error("unknown hash suite (expected blake3 or sha256)")]
    UnknownSuite,
}

macro_rules! hash_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name(pub [u8; 32]);

        impl $name {
            /// Wraps 32 bytes.
            pub const fn from_bytes(bytes: [u8; 32]) -> Self {
                Self(bytes)
            }
            /// The 32 bytes.
            pub const fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }
            /// Lower-case hexadecimal.
            pub fn to_hex(&self) -> String {
                hex::encode(self.0)
            }
            /// The first eight hexadecimal digits, for messages.
            pub fn short(&self) -> String {
                hex::encode(&self.0[..4])
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&hex::encode(self.0))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), hex::encode(self.0))
            }
        }

        impl FromStr for $name {
            type Err = ParseHashError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let mut out = [0u8; 32];
                hex::decode_to_slice(s, &mut out).map_err(|_| ParseHashError::BadHex)?;
                Ok(Self(out))
            }
        }

        impl AsRef<[u8]> for $name {
            fn as_ref(&self) -> &[u8] {
                &self.0
            }
        }
    };
}

hash_newtype!(
    /// A log's identity: H_LogId(descriptor bytes) (SPEC §5.2).
    LogId
);
hash_newtype!(
    /// An entry's hash: H_Entry(header bytes) (SPEC §6.3). Chain links and Merkle leaves use it.
    EntryHash
);
hash_newtype!(
    /// A payload commitment: H_Payload(salt ‖ payload) (SPEC §6.4).
    PayloadCommitment
);
hash_newtype!(
    /// A 32-byte digest of some content kept outside the log (a file, a prompt, a patchset).
    Digest
);
hash_newtype!(
    /// The root hash of the log's Merkle tree at some size (SPEC §10).
    RootHash
);

impl LogId {
    /// The log id of a descriptor's encoded bytes.
    pub fn compute(suite: Suite, descriptor_bytes: &[u8]) -> LogId {
        LogId(suite.tagged(Domain::LogId, &[descriptor_bytes]))
    }
}

impl EntryHash {
    /// The entry hash of an encoded header.
    pub fn compute(suite: Suite, header_bytes: &[u8]) -> EntryHash {
        EntryHash(suite.tagged(Domain::Entry, &[header_bytes]))
    }
}

impl PayloadCommitment {
    /// The commitment to a payload under a salt.
    pub fn compute(suite: Suite, salt: &Salt, payload: &[u8]) -> PayloadCommitment {
        PayloadCommitment(suite.tagged(Domain::Payload, &[&salt.0, payload]))
    }
}

/// The 32 random bytes that hide a payload behind its commitment (SPEC §6.4). A fresh salt is
/// drawn for every entry; a withheld payload is withheld with its salt, so it cannot be confirmed
/// by guessing.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Salt(pub [u8; 32]);

impl Salt {
    /// A fresh salt from the operating system's random source. Salts are drawn from a small
    /// per-thread buffer refilled by one `getrandom` call per 64 salts; each byte is used once
    /// and wiped when taken.
    pub fn random() -> Result<Salt, getrandom::Error> {
        thread_local! {
            static POOL: std::cell::RefCell<([u8; 2048], usize)> =
                const { std::cell::RefCell::new(([0; 2048], 2048)) };
        }
        POOL.with(|pool| {
            let mut pool = pool.borrow_mut();
            let (buf, used) = &mut *pool;
            if *used + 32 > buf.len() {
                getrandom::fill(buf)?;
                *used = 0;
            }
            let mut s = [0u8; 32];
            s.copy_from_slice(&buf[*used..*used + 32]);
            buf[*used..*used + 32].fill(0);
            *used += 32;
            Ok(Salt(s))
        })
    }
}

impl fmt::Debug for Salt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A salt is not secret once published, but keeping it out of logs costs nothing.
        f.write_str("Salt(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_do_not_collide_with_merkle_prefixes() {
        for d in [
            Domain::LogId,
            Domain::Entry,
            Domain::Payload,
            Domain::Bundle,
            Domain::Protected,
        ] {
            let first = d.tag().as_bytes()[0];
            assert!(first != 0 && first != 1);
            assert!(!d.tag().contains('\0'));
        }
    }

    #[test]
    fn salts_are_fresh() {
        let salts: std::collections::HashSet<[u8; 32]> =
            (0..1000).map(|_| Salt::random().unwrap().0).collect();
        assert_eq!(salts.len(), 1000);
        assert!(!salts.contains(&[0u8; 32]));
    }

    #[test]
    fn tagged_is_tag_zero_data() {
        for suite in [Suite::Blake3, Suite::Sha256] {
            let direct = suite.hash(&[b"sealtrail/v2/entry\0abc"]);
            assert_eq!(suite.tagged(Domain::Entry, &[b"ab", b"c"]), direct);
        }
    }
}
