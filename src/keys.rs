//! Ed25519 keys: generation, the C2SP text forms, key files, strict verification (SPEC §4).
//!
//! Public keys travel as C2SP signed-note verifier keys (`name+hash+base64(0x01 ‖ key)`), secret
//! keys as the matching `PRIVATE+KEY+name+hash+base64(0x01 ‖ seed)` line, stored in files created
//! with mode 0600.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use zeroize::Zeroizing;

/// The algorithm byte C2SP signed notes put before an Ed25519 key (SPEC §4.2).
pub const ALG_ED25519: u8 = 0x01;

/// A key's identity inside a log: the 32-byte Ed25519 public key itself (SPEC §4.1). Using the key
/// as its own id leaves nothing to collide and nothing to look up.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub [u8; 32]);

impl KeyId {
    /// The 32 key bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The first eight hexadecimal digits, for messages.
    pub fn short(&self) -> String {
        hex::encode(&self.0[..4])
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", hex::encode(self.0))
    }
}

impl FromStr for KeyId {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|_| KeyError::Malformed {
            what: "key id",
            reason: "expected 64 hexadecimal digits",
        })?;
        Ok(KeyId(out))
    }
}

/// Why a key, a key string or a key file was rejected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// A key string or file does not have the expected form.
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// Which form was expected.
        what: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// The key hash in a C2SP key string does not match its name and key.
    #[error("key hash does not match the key name and key bytes")]
    HashMismatch,
    /// A key name that C2SP does not allow (empty, containing `+` or white space).
    #[error("invalid key name {0:?}: it must be non-empty, without '+' or white space")]
    InvalidName(String),
    /// The bytes are not a valid Ed25519 public key.
    #[error("not a valid Ed25519 public key")]
    InvalidPublicKey,
    /// A weak (small-order) public key, which can be made to verify forged signatures.
    #[error("weak Ed25519 public key (small order)")]
    WeakKey,
    /// A valid point in an encoding other than its canonical one (RFC 8032 §5.1.3 rejects it):
    /// one key would have two key ids.
    #[error("non-canonical encoding of an Ed25519 public key")]
    NonCanonical,
    /// The operating system's random source failed.
    #[error("random source failed: {0}")]
    Random(String),
    /// Reading or writing a key file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system reported.
        source: std::io::Error,
    },
}

/// A public key with the name it is known by in C2SP signed notes.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    name: String,
    key: VerifyingKey,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_vkey())
    }
}

/// Checks a C2SP key name: non-empty, valid UTF-8, no `+`, no Unicode white space.
pub fn valid_key_name(name: &str) -> bool {
    !name.is_empty() && !name.contains('+') && !name.chars().any(char::is_whitespace)
}

/// The C2SP signed-note key hash: the first four bytes of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ key).
pub fn note_key_hash(name: &str, key: &[u8; 32]) -> [u8; 4] {
    typed_key_hash(name, ALG_ED25519, key)
}

/// The C2SP key hash of a key of any signature type: the first four bytes of
/// SHA-256(name ‖ 0x0A ‖ type ‖ key) (SPEC §4.2, §11.1). Type 0x01 is a note signature, 0x04 a
/// witness cosignature.
pub fn typed_key_hash(name: &str, sig_type: u8, key: &[u8; 32]) -> [u8; 4] {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    h.update(name.as_bytes());
    h.update([0x0a, sig_type]);
    h.update(key);
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

/// Parses a C2SP verifier key `name+hash+base64(type ‖ key)` whose signature type byte must be
/// `sig_type`, checking the name, the key (valid, not weak) and the hash. The returned key keeps the
/// name; its own [`PublicKey::note_key_hash`] is the type-0x01 hash, so callers of other types
/// compute theirs with [`typed_key_hash`].
pub fn parse_typed_vkey(s: &str, sig_type: u8) -> Result<PublicKey, KeyError> {
    const WHAT: &str = "verifier key (name+hash+key)";
    let s = s.trim();
    // The base64 part may itself contain '+': split on the first two only.
    let mut parts = s.splitn(3, '+');
    let (name, hash, key) = match (parts.next(), parts.next(), parts.next()) {
        (Some(n), Some(h), Some(k)) => (n, h, k),
        _ => {
            return Err(KeyError::Malformed {
                what: WHAT,
                reason: "expected three '+'-separated fields",
            });
        }
    };
    let key = decode_alg_key(key, sig_type, WHAT)?;
    let pk = PublicKey::from_bytes(name, &key)?;
    check_hash(hash, &typed_key_hash(name, sig_type, &key), WHAT)?;
    Ok(pk)
}

/// The C2SP verifier key string `name+hash+base64(type ‖ key)` of a key of signature type
/// `sig_type`.
pub fn typed_vkey(name: &str, sig_type: u8, key: &[u8; 32]) -> String {
    let mut blob = Vec::with_capacity(33);
    blob.push(sig_type);
    blob.extend_from_slice(key);
    format!(
        "{}+{}+{}",
        name,
        hex::encode(typed_key_hash(name, sig_type, key)),
        B64.encode(blob)
    )
}

impl PublicKey {
    /// A named public key from its 32 bytes. Rejects invalid and weak keys.
    pub fn from_bytes(name: &str, bytes: &[u8; 32]) -> Result<PublicKey, KeyError> {
        if !valid_key_name(name) {
            return Err(KeyError::InvalidName(name.to_owned()));
        }
        let key = verifying_key(bytes)?;
        Ok(PublicKey {
            name: name.to_owned(),
            key,
        })
    }

    /// Parses a C2SP verifier key `name+hash+base64(0x01 ‖ key)`, checking the hash.
    pub fn from_vkey(s: &str) -> Result<PublicKey, KeyError> {
        parse_typed_vkey(s, ALG_ED25519)
    }

    /// The C2SP verifier key string.
    pub fn to_vkey(&self) -> String {
        typed_vkey(&self.name, ALG_ED25519, self.key.as_bytes())
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The same key under another C2SP name (the name is bound into the note key hash).
    pub fn renamed(&self, name: &str) -> Result<PublicKey, KeyError> {
        PublicKey::from_bytes(name, self.key.as_bytes())
    }

    /// The key's id in a log: its 32 bytes.
    pub fn key_id(&self) -> KeyId {
        KeyId(self.key.to_bytes())
    }

    /// The 32 key bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.key.as_bytes()
    }

    /// The C2SP note key hash of this name and key.
    pub fn note_key_hash(&self) -> [u8; 4] {
        note_key_hash(&self.name, self.key.as_bytes())
    }

    /// Verifies a signature with the strict rules of SPEC §4.3.
    pub fn verify(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        verify_strict(&self.key, message, signature)
    }

    /// The underlying ed25519-dalek key.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }
}

/// Strict Ed25519 verification (SPEC §4.3): non-canonical S, small-order A or R are rejected.
pub fn verify_strict(key: &VerifyingKey, message: &[u8], signature: &[u8; 64]) -> bool {
    let sig = ed25519_dalek::Signature::from_bytes(signature);
    key.verify_strict(message, &sig).is_ok()
}

/// Parses a 32-byte public key for verification only, rejecting invalid, non-canonical and weak
/// keys (SPEC §4.1).
///
/// ed25519-dalek decodes points as ZIP-215 does, accepting a y coordinate that is not reduced
/// modulo p and the sign bit set on x = 0; RFC 8032 §5.1.3 rejects both. A point with two
/// encodings would have two key ids, so only the encoding the point re-encodes to is accepted.
pub fn verifying_key(bytes: &[u8; 32]) -> Result<VerifyingKey, KeyError> {
    let key = VerifyingKey::from_bytes(bytes).map_err(|_| KeyError::InvalidPublicKey)?;
    if key.to_edwards().compress().to_bytes() != *bytes {
        return Err(KeyError::NonCanonical);
    }
    if key.is_weak() {
        return Err(KeyError::WeakKey);
    }
    Ok(key)
}

fn decode_alg_key(b64: &str, alg: u8, what: &'static str) -> Result<[u8; 32], KeyError> {
    let blob = Zeroizing::new(B64.decode(b64).map_err(|_| KeyError::Malformed {
        what,
        reason: "key is not valid base64",
    })?);
    match blob.split_first() {
        Some((&a, rest)) if a == alg && rest.len() == 32 => {
            let mut k = [0u8; 32];
            k.copy_from_slice(rest);
            Ok(k)
        }
        Some((&a, _)) if a == alg => Err(KeyError::Malformed {
            what,
            reason: "Ed25519 key must be 32 bytes",
        }),
        _ => Err(KeyError::Malformed {
            what,
            reason: "unexpected signature type byte (0x01 for Ed25519 note keys, 0x04 for witness keys)",
        }),
    }
}

fn check_hash(hash: &str, expected: &[u8; 4], what: &'static str) -> Result<(), KeyError> {
    let mut h = [0u8; 4];
    // SPEC §4.2: lower-case only, so every accepted string re-encodes to itself.
    let lower = hash
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if hash.len() != 8 || !lower || hex::decode_to_slice(hash, &mut h).is_err() {
        return Err(KeyError::Malformed {
            what,
            reason: "key hash must be 8 lower-case hexadecimal digits",
        });
    }
    if &h != expected {
        return Err(KeyError::HashMismatch);
    }
    Ok(())
}

/// A secret signing key with its C2SP name. The key bytes are zeroized when dropped.
#[derive(Clone)]
pub struct SecretKey {
    name: String,
    key: SigningKey,
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SecretKey({}, public {})",
            self.name,
            self.key_id().short()
        )
    }
}

/// A warning raised while loading a secret key that still loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyFileWarning {
    /// The file can be read or written by users other than its owner.
    ReadableByOthers {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
}

impl fmt::Display for KeyFileWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyFileWarning::ReadableByOthers { path, mode } => write!(
                f,
                "secret key file {} has mode {:04o}: other users can read it; run chmod 600",
                path.display(),
                mode & 0o7777
            ),
        }
    }
}

/// A secret key loaded from a file, with anything worth telling the user about the file.
#[derive(Debug)]
pub struct LoadedSecretKey {
    /// The key.
    pub key: SecretKey,
    /// Warnings about the file (for example, permissions that let others read it).
    pub warnings: Vec<KeyFileWarning>,
}

impl SecretKey {
    /// A new key from the operating system's random source.
    pub fn generate(name: &str) -> Result<SecretKey, KeyError> {
        if !valid_key_name(name) {
            return Err(KeyError::InvalidName(name.to_owned()));
        }
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::fill(seed.as_mut()).map_err(|e| KeyError::Random(e.to_string()))?;
        SecretKey::from_seed(name, &seed)
    }

    /// A key from its 32-byte RFC 8032 seed (for tests and known-answer vectors).
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<SecretKey, KeyError> {
        if !valid_key_name(name) {
            return Err(KeyError::InvalidName(name.to_owned()));
        }
        Ok(SecretKey {
            name: name.to_owned(),
            key: SigningKey::from_bytes(seed),
        })
    }

    /// Parses a C2SP secret key line `PRIVATE+KEY+name+hash+base64(0x01 ‖ seed)`.
    pub fn from_skey(s: &str) -> Result<SecretKey, KeyError> {
        const WHAT: &str = "secret key (PRIVATE+KEY+name+hash+key)";
        let s = s.trim();
        let rest = s.strip_prefix("PRIVATE+KEY+").ok_or(KeyError::Malformed {
            what: WHAT,
            reason: "missing PRIVATE+KEY+ prefix",
        })?;
        let mut parts = rest.splitn(3, '+');
        let (name, hash, key) = match (parts.next(), parts.next(), parts.next()) {
            (Some(n), Some(h), Some(k)) => (n, h, k),
            _ => {
                return Err(KeyError::Malformed {
                    what: WHAT,
                    reason: "expected name, hash and key",
                });
            }
        };
        let seed = Zeroizing::new(decode_alg_key(key, ALG_ED25519, WHAT)?);
        let sk = SecretKey::from_seed(name, &seed)?;
        check_hash(hash, &sk.public_key().note_key_hash(), WHAT)?;
        Ok(sk)
    }

    /// The C2SP secret key line. Treat the result as secret.
    pub fn to_skey(&self) -> Zeroizing<String> {
        let mut blob = Zeroizing::new(Vec::with_capacity(33));
        blob.push(ALG_ED25519);
        blob.extend_from_slice(self.key.as_bytes());
        Zeroizing::new(format!(
            "PRIVATE+KEY+{}+{}+{}",
            self.name,
            hex::encode(self.public_key().note_key_hash()),
            B64.encode(blob.as_slice())
        ))
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The public half, under the same name.
    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            name: self.name.clone(),
            key: self.key.verifying_key(),
        }
    }

    /// The key's id in a log.
    pub fn key_id(&self) -> KeyId {
        KeyId(self.key.verifying_key().to_bytes())
    }

    /// Signs a message (the caller supplies the signing context; see SPEC §4.3).
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }

    /// Writes the key to a new file with mode 0600, and its public key to `PATH.pub`.
    /// Refuses to overwrite either file.
    pub fn save(&self, path: &Path) -> Result<(), KeyError> {
        fn io(path: &Path) -> impl Fn(std::io::Error) -> KeyError + '_ {
            move |source| KeyError::Io {
                path: path.to_owned(),
                source,
            }
        }
        let pub_path = public_key_path(path);
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(path).map_err(io(path))?;
        let mut line = self.to_skey();
        line.push('\n');
        f.write_all(line.as_bytes()).map_err(io(path))?;
        f.sync_all().map_err(io(path))?;
        let mut pf = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&pub_path)
            .map_err(io(&pub_path))?;
        writeln!(pf, "{}", self.public_key().to_vkey()).map_err(io(&pub_path))?;
        pf.sync_all().map_err(io(&pub_path))?;
        Ok(())
    }

    /// Reads a key file, warning when other users can read it.
    pub fn load(path: &Path) -> Result<LoadedSecretKey, KeyError> {
        let io = |source| KeyError::Io {
            path: path.to_owned(),
            source,
        };
        let mut warnings = Vec::new();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path).map_err(io)?.permissions().mode();
            if mode & 0o077 != 0 {
                warnings.push(KeyFileWarning::ReadableByOthers {
                    path: path.to_owned(),
                    mode,
                });
            }
        }
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(io)?);
        let key = SecretKey::from_skey(&text)?;
        Ok(LoadedSecretKey { key, warnings })
    }
}

/// The public key file that goes with a secret key file: `PATH.pub`.
pub fn public_key_path(secret: &Path) -> PathBuf {
    let mut s = secret.as_os_str().to_owned();
    s.push(".pub");
    PathBuf::from(s)
}

/// Reads a public key given as a C2SP verifier key string or as a file holding one.
pub fn read_public_key(arg: &str) -> Result<PublicKey, KeyError> {
    match PublicKey::from_vkey(arg) {
        Ok(k) => Ok(k),
        Err(parse_err) => {
            let path = Path::new(arg);
            if path.exists() {
                let text = std::fs::read_to_string(path).map_err(|source| KeyError::Io {
                    path: path.to_owned(),
                    source,
                })?;
                PublicKey::from_vkey(&text)
            } else {
                Err(parse_err)
            }
        }
    }
}

/// Reads one or more public keys given on the command line: a verifier key string, or a file of
/// verifier keys, one per line (blank lines ignored), as `sealtrail init` and `sealtrail keys
/// vkey` write them.
pub fn read_public_keys(arg: &str) -> Result<Vec<PublicKey>, KeyError> {
    if let Ok(k) = PublicKey::from_vkey(arg) {
        return Ok(vec![k]);
    }
    let path = Path::new(arg);
    if !path.exists() {
        return PublicKey::from_vkey(arg).map(|k| vec![k]);
    }
    let text = std::fs::read_to_string(path).map_err(|source| KeyError::Io {
        path: path.to_owned(),
        source,
    })?;
    let keys = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(PublicKey::from_vkey)
        .collect::<Result<Vec<_>, _>>()?;
    if keys.is_empty() {
        return Err(KeyError::Malformed {
            what: "verifier key file",
            reason: "it holds no key",
        });
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vkey_round_trip_and_hash_check() {
        let sk = SecretKey::from_seed("signer", &[7; 32]).unwrap();
        let vk = sk.public_key().to_vkey();
        let back = PublicKey::from_vkey(&vk).unwrap();
        assert_eq!(back, sk.public_key());
        let upper = {
            let (name, rest) = vk.split_once('+').unwrap();
            let (hash, key) = rest.split_once('+').unwrap();
            format!("{name}+{}+{key}", hash.to_uppercase())
        };
        assert!(matches!(
            PublicKey::from_vkey(&upper),
            Err(KeyError::Malformed { .. })
        ));
        let tampered = vk.replacen("signer", "alicf", 1);
        assert!(matches!(
            PublicKey::from_vkey(&tampered),
            Err(KeyError::HashMismatch)
        ));
        let sk2 = SecretKey::from_skey(&sk.to_skey()).unwrap();
        assert_eq!(sk2.key_id(), sk.key_id());
    }

    #[test]
    fn names_are_checked() {
        assert!(SecretKey::from_seed("a b", &[1; 32]).is_err());
        assert!(SecretKey::from_seed("a+b", &[1; 32]).is_err());
        assert!(SecretKey::from_seed("", &[1; 32]).is_err());
    }

    #[test]
    fn weak_keys_are_rejected() {
        // The identity point: small order.
        let mut id = [0u8; 32];
        id[0] = 1;
        assert!(matches!(
            PublicKey::from_bytes("w", &id),
            Err(KeyError::WeakKey)
        ));
    }

    #[test]
    fn non_canonical_point_encodings_are_rejected() {
        // y + p for a small y is a second, non-reduced encoding of the point with that y.
        // ed25519-dalek accepts it (ZIP-215); SPEC §4.1 and RFC 8032 reject it.
        let p_le = {
            let mut b = [0xffu8; 32];
            b[0] = 0xed;
            b[31] = 0x7f;
            b
        };
        let mut tested = 0;
        for y in 2u8..19 {
            let mut canonical = [0u8; 32];
            canonical[0] = y;
            let Ok(key) = verifying_key(&canonical) else {
                continue;
            };
            let mut alias = p_le;
            alias[0] = 0xed + y;
            assert!(
                VerifyingKey::from_bytes(&alias).is_ok(),
                "dalek decodes y + p"
            );
            assert!(matches!(verifying_key(&alias), Err(KeyError::NonCanonical)));
            assert!(matches!(
                PublicKey::from_bytes("k", &alias),
                Err(KeyError::NonCanonical)
            ));
            assert_eq!(key.to_bytes(), canonical);
            tested += 1;
        }
        assert!(tested > 0, "some small y is on the curve");
    }
}
