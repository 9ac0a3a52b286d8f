//! The log descriptor (genesis) and the log id derived from it (SPEC §5).

use crate::codec::{DecodeError, Decoder, Encoder};
use crate::hash::{LogId, Suite};
use crate::keys::{KeyError, KeyId, SecretKey, verifying_key};
use crate::time::Timestamp;

/// The format version this crate writes and reads (SPEC §1.3).
pub const FORMAT_VERSION: u64 = 2;

/// The signing context of a descriptor signature (SPEC §4.3).
pub const DESCRIPTOR_CONTEXT: &[u8] = b"sealtrail/v2/sign/descriptor\0";

/// The longest origin name, in bytes.
pub const MAX_ORIGIN_LEN: usize = 255;

/// What a log is: its format, hash suite, name and owner (SPEC §5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    /// Format version; 2.
    pub version: u64,
    /// The hash suite of every hash in the log.
    pub suite: Suite,
    /// The log's origin name, also the first line of its checkpoints.
    pub origin: String,
    /// The owner's public key.
    pub owner: KeyId,
    /// When the log was created.
    pub created: Timestamp,
}

/// Why a descriptor was rejected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DescriptorError {
    /// The bytes are not a descriptor in the canonical profile.
    #[error("descriptor does not decode: {0}")]
    Decode(#[from] DecodeError),
    /// A format version this crate does not know.
    #[error("unsupported format version {0} (this verifier reads version {FORMAT_VERSION})")]
    UnsupportedVersion(u64),
    /// A hash suite this crate does not know.
    #[error("unknown hash suite {0:?}")]
    UnknownSuite(String),
    /// An origin name outside the rules of SPEC §5.1.
    #[error("invalid origin {0:?}: 1 to 255 bytes, no white space, control characters, '+' or '#'")]
    InvalidOrigin(String),
    /// The owner key is not a valid, strong Ed25519 key.
    #[error("owner key: {0}")]
    OwnerKey(#[from] KeyError),
    /// The descriptor's signature does not verify under its owner key.
    #[error("descriptor signature does not verify under the owner key {}", .0.short())]
    BadSignature(KeyId),
    /// The key offered to sign a descriptor is not the descriptor's owner.
    #[error("the signing key is not the descriptor's owner")]
    NotOwner,
}

/// Checks an origin name (SPEC §5.1): it doubles as a C2SP key name and checkpoint origin line.
/// `#` is kept free for the suite suffix of BLAKE3 checkpoints (SPEC §11).
pub fn valid_origin(origin: &str) -> bool {
    !origin.is_empty()
        && origin.len() <= MAX_ORIGIN_LEN
        && !origin.contains(['+', '#'])
        && !origin.chars().any(|c| c.is_whitespace() || c.is_control())
}

impl Descriptor {
    /// A descriptor of the current format version.
    pub fn new(
        suite: Suite,
        origin: &str,
        owner: KeyId,
        created: Timestamp,
    ) -> Result<Self, DescriptorError> {
        if !valid_origin(origin) {
            return Err(DescriptorError::InvalidOrigin(origin.to_owned()));
        }
        Ok(Descriptor {
            version: FORMAT_VERSION,
            suite,
            origin: origin.to_owned(),
            owner,
            created,
        })
    }

    /// The canonical encoding (SPEC §5.1).
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Encoder::with_capacity(96 + self.origin.len());
        e.map(5);
        e.u64(1).u64(self.version);
        e.u64(2).text(self.suite.name());
        e.u64(3).text(&self.origin);
        e.u64(4).bytes(self.owner.as_bytes());
        e.u64(5).u64(self.created.0);
        e.into_bytes()
    }

    /// Strictly decodes and checks a descriptor.
    pub fn decode(bytes: &[u8]) -> Result<Self, DescriptorError> {
        let mut d = Decoder::new(bytes);
        d.map_of(5, "a descriptor map of 5 fields")?;
        d.key(1)?;
        let version = d.u64()?;
        if version != FORMAT_VERSION {
            return Err(DescriptorError::UnsupportedVersion(version));
        }
        d.key(2)?;
        let suite_name = d.text()?;
        let suite = Suite::from_name(suite_name)
            .ok_or_else(|| DescriptorError::UnknownSuite(suite_name.to_owned()))?;
        d.key(3)?;
        let origin = d.text()?;
        if !valid_origin(origin) {
            return Err(DescriptorError::InvalidOrigin(origin.to_owned()));
        }
        d.key(4)?;
        let owner = KeyId(d.bytes_fixed::<32>("owner")?);
        verifying_key(owner.as_bytes())?;
        d.key(5)?;
        let created = Timestamp(d.u64()?);
        d.finish()?;
        Ok(Descriptor {
            version,
            suite,
            origin: origin.to_owned(),
            owner,
            created,
        })
    }
}

/// A descriptor with the owner's signature: the genesis of a log, as stored and as carried in
/// bundles. Wire form: `[descriptor: bstr, signature: bstr .size 64]` (SPEC §5.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedDescriptor {
    bytes: Vec<u8>,
    descriptor: Descriptor,
    descriptor_bytes: Vec<u8>,
    signature: [u8; 64],
    log_id: LogId,
}

impl SignedDescriptor {
    /// Signs a descriptor with its owner's key.
    pub fn sign(descriptor: Descriptor, owner: &SecretKey) -> Result<Self, DescriptorError> {
        if owner.key_id() != descriptor.owner {
            return Err(DescriptorError::NotOwner);
        }
        let descriptor_bytes = descriptor.encode();
        let signature = owner.sign(&signing_input(&descriptor_bytes));
        let mut e = Encoder::with_capacity(descriptor_bytes.len() + 72);
        e.array(2).bytes(&descriptor_bytes).bytes(&signature);
        let log_id = LogId::compute(descriptor.suite, &descriptor_bytes);
        Ok(SignedDescriptor {
            bytes: e.into_bytes(),
            descriptor,
            descriptor_bytes,
            signature,
            log_id,
        })
    }

    /// Strictly decodes a signed descriptor and verifies its signature over the bytes received.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DescriptorError> {
        let mut d = Decoder::new(bytes);
        d.array_of(2, "a signed descriptor [descriptor, signature]")?;
        let descriptor_bytes = d.bytes()?;
        let signature = d.bytes_fixed::<64>("signature")?;
        d.finish()?;
        let descriptor = Descriptor::decode(descriptor_bytes)?;
        let key = verifying_key(descriptor.owner.as_bytes())?;
        if !crate::keys::verify_strict(&key, &signing_input(descriptor_bytes), &signature) {
            return Err(DescriptorError::BadSignature(descriptor.owner));
        }
        let log_id = LogId::compute(descriptor.suite, descriptor_bytes);
        Ok(SignedDescriptor {
            bytes: bytes.to_vec(),
            descriptor,
            descriptor_bytes: descriptor_bytes.to_vec(),
            signature,
            log_id,
        })
    }

    /// The wire bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The descriptor.
    pub fn descriptor(&self) -> &Descriptor {
        &self.descriptor
    }

    /// The encoded descriptor (what the log id and the signature cover).
    pub fn descriptor_bytes(&self) -> &[u8] {
        &self.descriptor_bytes
    }

    /// The owner's signature.
    pub fn signature(&self) -> &[u8; 64] {
        &self.signature
    }

    /// The log id.
    pub fn log_id(&self) -> LogId {
        self.log_id
    }

    /// The log's hash suite.
    pub fn suite(&self) -> Suite {
        self.descriptor.suite
    }
}

fn signing_input(descriptor_bytes: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(DESCRIPTOR_CONTEXT.len() + descriptor_bytes.len());
    m.extend_from_slice(DESCRIPTOR_CONTEXT);
    m.extend_from_slice(descriptor_bytes);
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_descriptor_round_trips_and_rejects_tamper() {
        let owner = SecretKey::from_seed("owner", &[1; 32]).unwrap();
        let d = Descriptor::new(
            Suite::Sha256,
            "example.com/log",
            owner.key_id(),
            Timestamp(5),
        )
        .unwrap();
        let sd = SignedDescriptor::sign(d.clone(), &owner).unwrap();
        let back = SignedDescriptor::from_bytes(sd.as_bytes()).unwrap();
        assert_eq!(back, sd);
        for i in 0..sd.as_bytes().len() {
            let mut b = sd.as_bytes().to_vec();
            b[i] ^= 1;
            assert!(SignedDescriptor::from_bytes(&b).is_err(), "flip at {i}");
        }
    }
}
