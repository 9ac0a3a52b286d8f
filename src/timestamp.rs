//! RFC 3161 trusted time over checkpoints (SPEC §12.7).
//!
//! A time-stamping authority (TSA) signs a token saying that a hash existed no later than its
//! time. sealtrail asks for one over a signed checkpoint note: the token's message imprint is
//! SHA-256 of the note's bytes, so a verified token proves that the tree the checkpoint names —
//! every entry below its size — existed no later than the TSA's time.
//!
//! [`TimestampRequest`] builds the DER `TimeStampReq` and checks the TSA's reply before it is
//! kept ([`TimestampRequest::accept`]); [`verify_token`] checks a stored token offline against
//! the certificate an auditor trusts ([`TsaTrust`]). Every structure is decoded by RustCrypto's
//! DER crates (`x509-tsp`, `cms`, `x509-cert`); signatures by `rsa` and `p256`. Every check that
//! fails is a typed [`TimestampError`]: nothing a hostile token holds panics, and no length from
//! it is trusted before its bytes are (DER decoding reads only what is there).

use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use der::asn1::{Int, ObjectIdentifier as Oid, OctetString};
use der::{Any, Decode, Encode, Sequence};
use sha2::Digest as _;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::Certificate;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, SubjectKeyIdentifier};
use x509_tsp::{MessageImprint, TimeStampReq, TimeStampResp, TspVersion, TstInfo};

use crate::time::Timestamp;

/// The largest timestamp token accepted, in bytes (a token with a certificate chain of a few
/// RSA-4096 certificates is under 16 KiB).
pub const MAX_TOKEN_LEN: usize = 64 * 1024;
/// The largest TSA reply accepted, in bytes.
pub const MAX_REPLY_LEN: usize = MAX_TOKEN_LEN + 4096;
/// The longest certificate path from the TSA's certificate to a trusted one.
pub const MAX_CHAIN: usize = 8;
/// The most certificates a trusted-certificate file may hold.
pub const MAX_TRUSTED: usize = 64;

const ID_SHA256: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.1");
const ID_SHA384: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.2");
const ID_SHA512: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.3");
const ID_SIGNED_DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.2");
const ID_CT_TST_INFO: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.1.4");
const ID_CONTENT_TYPE: Oid = Oid::new_unwrap("1.2.840.113549.1.9.3");
const ID_MESSAGE_DIGEST: Oid = Oid::new_unwrap("1.2.840.113549.1.9.4");
const ID_SIGNING_CERT: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.2.12");
const ID_SIGNING_CERT_V2: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.2.47");
const RSA_ENCRYPTION: Oid = Oid::new_unwrap("1.2.840.113549.1.1.1");
const SHA256_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.11");
const SHA384_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.12");
const SHA512_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.13");
const EC_PUBLIC_KEY: Oid = Oid::new_unwrap("1.2.840.10045.2.1");
const PRIME256V1: Oid = Oid::new_unwrap("1.2.840.10045.3.1.7");
const ECDSA_SHA256: Oid = Oid::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_SHA384: Oid = Oid::new_unwrap("1.2.840.10045.4.3.3");
const ECDSA_SHA512: Oid = Oid::new_unwrap("1.2.840.10045.4.3.4");
const ID_CE_EXT_KEY_USAGE: Oid = Oid::new_unwrap("2.5.29.37");
const ID_CE_BASIC_CONSTRAINTS: Oid = Oid::new_unwrap("2.5.29.19");
const ID_CE_SUBJECT_KEY_ID: Oid = Oid::new_unwrap("2.5.29.14");
const ID_KP_TIME_STAMPING: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.8");

/// ESSCertIDv2 (RFC 5035 §3): the hash of the signer's certificate in the signed attributes.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct EssCertIdV2 {
    #[asn1(optional = "true")]
    hash_algorithm: Option<AlgorithmIdentifierOwned>,
    cert_hash: OctetString,
    #[asn1(optional = "true")]
    issuer_serial: Option<Any>,
}

/// SigningCertificateV2 (RFC 5035 §3).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct SigningCertificateV2 {
    certs: Vec<EssCertIdV2>,
    #[asn1(optional = "true")]
    policies: Option<Vec<Any>>,
}

/// Why a timestamp reply or token was not accepted (SPEC §12.7). In a bundle's report each is a
/// `timestamp` finding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimestampError {
    /// Longer than this crate accepts.
    #[error("the {what} is {len} bytes, more than the {max} accepted")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Not DER of the expected structure, or a structure RFC 3161 / RFC 5652 forbids.
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// The structure.
        what: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The TSA refused, or sent no token.
    #[error("the TSA did not grant the request: {status}")]
    NotGranted {
        /// The status and the TSA's text, in words.
        status: String,
    },
    /// An algorithm this verifier does not implement.
    #[error("unsupported {what}: {found}")]
    Unsupported {
        /// What kind of algorithm.
        what: &'static str,
        /// Its object identifier.
        found: String,
    },
    /// The token's message imprint is not SHA-256 of the checkpoint note it is stored with.
    #[error(
        "the token's message imprint is not SHA-256 of this checkpoint note: it timestamps \
         something else"
    )]
    ImprintMismatch,
    /// The token does not carry the request's nonce.
    #[error("the token's nonce is not the one the request sent (a replayed or foreign reply)")]
    NonceMismatch,
    /// The signed messageDigest attribute is not the hash of the token's TSTInfo.
    #[error("the messageDigest attribute is not the hash of the token's TSTInfo")]
    MessageDigestMismatch,
    /// The signing-certificate attribute names another certificate than the signer's.
    #[error(
        "the signing-certificate attribute (ESSCertIDv2) does not name the signer's certificate"
    )]
    CertIdMismatch,
    /// The token does not hold the certificate its signer identifies.
    #[error("the signer's certificate is not in the token")]
    NoSignerCertificate,
    /// The TSA's signature over the signed attributes does not verify.
    #[error("the TSA's signature does not verify under its certificate ({subject})")]
    BadSignature {
        /// The signer certificate's subject.
        subject: String,
    },
    /// The signer's certificate is not a time-stamping certificate (RFC 3161 §2.3).
    #[error(
        "the TSA certificate ({subject}) is not for time-stamping: {reason} (RFC 3161 requires \
         exactly one critical extendedKeyUsage, id-kp-timeStamping)"
    )]
    NotTimestamping {
        /// The signer certificate's subject.
        subject: String,
        /// What is missing.
        reason: &'static str,
    },
    /// The signer's certificate does not chain to a trusted certificate.
    #[error("the TSA certificate ({subject}) does not chain to the trusted certificate: {reason}")]
    Untrusted {
        /// The signer certificate's subject.
        subject: String,
        /// Where the path ended.
        reason: String,
    },
    /// A certificate on the path was not valid at the token's time.
    #[error("certificate {subject} is not valid at the token's time {time}")]
    NotValidAtTime {
        /// The certificate's subject.
        subject: String,
        /// The token's time (RFC 3339).
        time: String,
    },
}

fn malformed(what: &'static str, e: impl std::fmt::Display) -> TimestampError {
    TimestampError::Malformed {
        what,
        reason: e.to_string(),
    }
}

/// What a token that verified says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// The TSA's time (`genTime`), nanoseconds since the epoch, UTC.
    pub time: Timestamp,
    /// The subject of the TSA's (signer's) certificate, as an RFC 4514 string.
    pub tsa: String,
    /// The token's serial number, hex.
    pub serial: String,
    /// The TSA's policy, a dotted object identifier.
    pub policy: String,
}

/// The message imprint sealtrail asks for: SHA-256 of the signed checkpoint note, as its bytes
/// are stored and carried (SPEC §12.7).
pub fn imprint(note: &[u8]) -> [u8; 32] {
    sha2::Sha256::digest(note).into()
}

/// An RFC 3161 `TimeStampReq` over a checkpoint note, with its nonce, and the check of the reply.
#[derive(Debug, Clone)]
pub struct TimestampRequest {
    der: Vec<u8>,
    nonce: Int,
    imprint: [u8; 32],
}

impl TimestampRequest {
    /// A request over `note` (the signed checkpoint note's bytes): SHA-256 imprint, the nonce
    /// from `nonce` (made positive and minimal), `certReq` true, no policy.
    pub fn new(note: &[u8], nonce: [u8; 16]) -> Result<TimestampRequest, TimestampError> {
        let mut n = nonce;
        // A positive INTEGER with no leading zero octet: top bit clear, first octet non-zero.
        n[0] = (n[0] & 0x7f) | 0x01;
        let nonce = Int::new(&n).map_err(|e| malformed("nonce", e))?;
        let imprint = imprint(note);
        let req = TimeStampReq {
            version: TspVersion::V1,
            message_imprint: MessageImprint {
                hash_algorithm: AlgorithmIdentifierOwned {
                    oid: ID_SHA256,
                    parameters: Some(Any::null()),
                },
                hashed_message: OctetString::new(imprint.to_vec())
                    .map_err(|e| malformed("imprint", e))?,
            },
            req_policy: None,
            nonce: Some(nonce.clone()),
            cert_req: true,
            extensions: None,
        };
        let der = req.to_der().map_err(|e| malformed("request", e))?;
        Ok(TimestampRequest {
            der,
            nonce,
            imprint,
        })
    }

    /// The DER bytes to send (`application/timestamp-query`).
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// Checks the TSA's DER reply (`application/timestamp-reply`): status granted, a token whose
    /// imprint and nonce are the request's, signed (with every signed attribute checked) by the
    /// time-stamping certificate the token carries. Returns the token's DER bytes and what it
    /// says. Whether that certificate is trusted is the auditor's check ([`verify_token`]).
    pub fn accept(&self, reply: &[u8]) -> Result<(Vec<u8>, TokenInfo), TimestampError> {
        if reply.len() > MAX_REPLY_LEN {
            return Err(TimestampError::TooLarge {
                what: "reply",
                len: reply.len(),
                max: MAX_REPLY_LEN,
            });
        }
        let resp = TimeStampResp::from_der(reply).map_err(|e| malformed("TimeStampResp", e))?;
        use cmpv2::status::PkiStatus;
        let status = resp.status.status;
        if !matches!(status, PkiStatus::Accepted | PkiStatus::GrantedWithMods) {
            let text = resp
                .status
                .status_string
                .as_ref()
                .map(|t| {
                    t.iter()
                        .map(|s| s.as_str().to_owned())
                        .collect::<Vec<_>>()
                        .join("; ")
                })
                .unwrap_or_default();
            return Err(TimestampError::NotGranted {
                status: format!("{status:?} {text}").trim().to_owned(),
            });
        }
        let Some(token) = resp.time_stamp_token else {
            return Err(TimestampError::NotGranted {
                status: "granted, but the reply holds no token".into(),
            });
        };
        let token = token.to_der().map_err(|e| malformed("token", e))?;
        let parsed = Parsed::parse(&token)?;
        if parsed.tst.nonce.as_ref() != Some(&self.nonce) {
            return Err(TimestampError::NonceMismatch);
        }
        let info = parsed.check(&self.imprint)?;
        Ok((token, info))
    }
}

/// The certificates an auditor trusts for time-stamping: a TSA's own certificate or a CA's
/// (PEM, one or more, or one DER certificate).
#[derive(Debug, Clone)]
pub struct TsaTrust {
    certs: Vec<(Certificate, Vec<u8>)>,
}

impl TsaTrust {
    /// Reads trusted certificates from PEM (`-----BEGIN CERTIFICATE-----`, any number up to
    /// [`MAX_TRUSTED`]) or from one DER certificate.
    pub fn from_pem_or_der(bytes: &[u8]) -> Result<TsaTrust, TimestampError> {
        let certs = if bytes.starts_with(b"-----") || bytes.windows(11).any(|w| w == b"-----BEGIN ")
        {
            Certificate::load_pem_chain(bytes).map_err(|e| malformed("PEM certificate", e))?
        } else {
            vec![Certificate::from_der(bytes).map_err(|e| malformed("DER certificate", e))?]
        };
        if certs.is_empty() {
            return Err(malformed("certificate file", "no certificate in it"));
        }
        if certs.len() > MAX_TRUSTED {
            return Err(TimestampError::TooLarge {
                what: "trusted certificate list",
                len: certs.len(),
                max: MAX_TRUSTED,
            });
        }
        let certs = certs
            .into_iter()
            .map(|c| {
                let der = c.to_der().map_err(|e| malformed("certificate", e))?;
                Ok((c, der))
            })
            .collect::<Result<_, TimestampError>>()?;
        Ok(TsaTrust { certs })
    }

    /// The subjects of the trusted certificates, for messages.
    pub fn subjects(&self) -> Vec<String> {
        self.certs
            .iter()
            .map(|(c, _)| c.tbs_certificate.subject.to_string())
            .collect()
    }
}

/// Verifies a timestamp token offline (SPEC §12.7): the CMS SignedData signature by the TSA's
/// certificate, its signed attributes (content type, messageDigest over the TSTInfo,
/// ESSCertIDv2 naming the signer's certificate), the certificate's critical extendedKeyUsage
/// id-kp-timeStamping, its path to a certificate of `trust` (each certificate valid at the
/// token's time), and that the imprint is SHA-256 of `note`.
pub fn verify_token(
    token: &[u8],
    note: &[u8],
    trust: &TsaTrust,
) -> Result<TokenInfo, TimestampError> {
    let parsed = Parsed::parse(token)?;
    let info = parsed.check(&imprint(note))?;
    parsed.chain(trust)?;
    Ok(info)
}

/// What a token claims, read without any check: the TSA's time and the imprint. For reports of
/// tokens that were not checked, and to match a stored token to its note.
pub fn peek_token(token: &[u8]) -> Result<(Timestamp, [u8; 32]), TimestampError> {
    let parsed = Parsed::parse(token)?;
    let time = gen_time(&parsed.tst)?;
    let imprint: [u8; 32] = parsed
        .tst
        .message_imprint
        .hashed_message
        .as_bytes()
        .try_into()
        .map_err(|_| malformed("TSTInfo", "the message imprint is not 32 bytes"))?;
    Ok((time, imprint))
}

fn gen_time(tst: &TstInfo) -> Result<Timestamp, TimestampError> {
    let d = tst.gen_time.to_unix_duration();
    u64::try_from(d.as_nanos())
        .map(Timestamp)
        .map_err(|_| malformed("TSTInfo", "genTime beyond 2554"))
}

/// The hashes a TSA may use for its signature and signed attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    fn from_oid(oid: &Oid) -> Result<Hash, TimestampError> {
        match *oid {
            ID_SHA256 => Ok(Hash::Sha256),
            ID_SHA384 => Ok(Hash::Sha384),
            ID_SHA512 => Ok(Hash::Sha512),
            other => Err(TimestampError::Unsupported {
                what: "digest algorithm",
                found: other.to_string(),
            }),
        }
    }

    fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Hash::Sha256 => sha2::Sha256::digest(data).to_vec(),
            Hash::Sha384 => sha2::Sha384::digest(data).to_vec(),
            Hash::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }
}

/// A signature algorithm: the key type and, when the identifier fixes it, the hash.
fn signature_scheme(
    alg: &Oid,
    digest: Option<Hash>,
) -> Result<(bool /* rsa */, Hash), TimestampError> {
    let unsupported = || TimestampError::Unsupported {
        what: "signature algorithm",
        found: alg.to_string(),
    };
    let (rsa, hash) = match *alg {
        SHA256_WITH_RSA => (true, Hash::Sha256),
        SHA384_WITH_RSA => (true, Hash::Sha384),
        SHA512_WITH_RSA => (true, Hash::Sha512),
        ECDSA_SHA256 => (false, Hash::Sha256),
        ECDSA_SHA384 => (false, Hash::Sha384),
        ECDSA_SHA512 => (false, Hash::Sha512),
        // CMS signer infos name the key alone; the digest algorithm gives the hash.
        RSA_ENCRYPTION => (true, digest.ok_or_else(unsupported)?),
        _ => return Err(unsupported()),
    };
    // A signer info's digest algorithm and its signature algorithm must agree.
    if digest.is_some_and(|d| d != hash) {
        return Err(malformed(
            "signer info",
            "the signature algorithm's hash is not the digest algorithm",
        ));
    }
    Ok((rsa, hash))
}

/// Verifies `signature` over `message` under `key` with algorithm `alg`.
fn verify_signature(
    key: &SubjectPublicKeyInfoOwned,
    alg: &Oid,
    digest: Option<Hash>,
    message: &[u8],
    signature: &[u8],
) -> Result<bool, TimestampError> {
    let (rsa, hash) = signature_scheme(alg, digest)?;
    let hashed = hash.digest(message);
    let raw = key
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| malformed("subject public key", "the key's bit string has unused bits"))?;
    if rsa {
        use rsa::pkcs1::DecodeRsaPublicKey;
        if key.algorithm.oid != RSA_ENCRYPTION {
            return Ok(false);
        }
        // At most 4096-bit moduli (RsaPublicKey::MAX_SIZE): a hostile key costs little.
        let k = rsa::RsaPublicKey::from_pkcs1_der(raw).map_err(|e| malformed("RSA key", e))?;
        let scheme = match hash {
            Hash::Sha256 => rsa::Pkcs1v15Sign::new::<rsa::sha2::Sha256>(),
            Hash::Sha384 => rsa::Pkcs1v15Sign::new::<rsa::sha2::Sha384>(),
            Hash::Sha512 => rsa::Pkcs1v15Sign::new::<rsa::sha2::Sha512>(),
        };
        Ok(k.verify(scheme, &hashed, signature).is_ok())
    } else {
        use p256::ecdsa::signature::hazmat::PrehashVerifier;
        let curve = key
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as::<Oid>().ok());
        if key.algorithm.oid != EC_PUBLIC_KEY || curve != Some(PRIME256V1) {
            return Err(TimestampError::Unsupported {
                what: "ECDSA curve (P-256 only)",
                found: curve.map_or_else(|| "none".into(), |c| c.to_string()),
            });
        }
        let k = p256::ecdsa::VerifyingKey::from_sec1_bytes(raw)
            .map_err(|e| malformed("P-256 key", e))?;
        let Ok(sig) = p256::ecdsa::Signature::from_der(signature) else {
            return Ok(false);
        };
        Ok(k.verify_prehash(&hashed, &sig).is_ok())
    }
}

fn subject(c: &Certificate) -> String {
    c.tbs_certificate.subject.to_string()
}

fn extension<'c>(c: &'c Certificate, oid: &Oid) -> Vec<&'c x509_cert::ext::Extension> {
    c.tbs_certificate
        .extensions
        .iter()
        .flatten()
        .filter(|e| e.extn_id == *oid)
        .collect()
}

fn is_ca(c: &Certificate) -> bool {
    extension(c, &ID_CE_BASIC_CONSTRAINTS)
        .first()
        .and_then(|e| BasicConstraints::from_der(e.extn_value.as_bytes()).ok())
        .is_some_and(|b| b.ca)
}

fn valid_at(c: &Certificate, time: Timestamp) -> Result<(), TimestampError> {
    let v = &c.tbs_certificate.validity;
    let t = std::time::Duration::from_nanos(time.0);
    if v.not_before.to_unix_duration() <= t && t <= v.not_after.to_unix_duration() {
        Ok(())
    } else {
        Err(TimestampError::NotValidAtTime {
            subject: subject(c),
            time: time.to_rfc3339(),
        })
    }
}

/// A token decoded as far as its structure goes, before any check.
struct Parsed {
    tst: TstInfo,
    tst_der: Vec<u8>,
    signer: SignerInfo,
    certs: Vec<(Certificate, Vec<u8>)>,
}

impl Parsed {
    fn parse(token: &[u8]) -> Result<Parsed, TimestampError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TimestampError::TooLarge {
                what: "timestamp token",
                len: token.len(),
                max: MAX_TOKEN_LEN,
            });
        }
        let ci = ContentInfo::from_der(token).map_err(|e| malformed("token ContentInfo", e))?;
        if ci.content_type != ID_SIGNED_DATA {
            return Err(malformed("token", "its content is not CMS SignedData"));
        }
        let sd: SignedData = ci
            .content
            .decode_as()
            .map_err(|e| malformed("token SignedData", e))?;
        if sd.encap_content_info.econtent_type != ID_CT_TST_INFO {
            return Err(malformed("token", "its content type is not id-ct-TSTInfo"));
        }
        let Some(econtent) = sd.encap_content_info.econtent else {
            return Err(malformed("token", "it holds no TSTInfo"));
        };
        if der::Tagged::tag(&econtent) != der::Tag::OctetString {
            return Err(malformed("token", "its eContent is not an OCTET STRING"));
        }
        let tst_der = econtent.value().to_vec();
        let tst = TstInfo::from_der(&tst_der).map_err(|e| malformed("TSTInfo", e))?;
        let mut signers = sd.signer_infos.0.into_vec();
        if signers.len() != 1 {
            return Err(malformed(
                "token",
                format!(
                    "{} signer infos; a timestamp token has exactly one",
                    signers.len()
                ),
            ));
        }
        let signer = signers.remove(0);
        let certs = sd
            .certificates
            .map(|s| s.0.into_vec())
            .unwrap_or_default()
            .into_iter()
            .filter_map(|c| match c {
                CertificateChoices::Certificate(c) => Some(c),
                CertificateChoices::Other(_) => None,
            })
            .map(|c| {
                let der = c.to_der().map_err(|e| malformed("certificate", e))?;
                Ok((c, der))
            })
            .collect::<Result<_, TimestampError>>()?;
        Ok(Parsed {
            tst,
            tst_der,
            signer,
            certs,
        })
    }

    /// The certificate the signer info identifies, among those the token carries.
    fn signer_cert(&self) -> Result<&(Certificate, Vec<u8>), TimestampError> {
        let matches = |c: &Certificate| match &self.signer.sid {
            SignerIdentifier::IssuerAndSerialNumber(is) => {
                c.tbs_certificate.issuer == is.issuer
                    && c.tbs_certificate.serial_number == is.serial_number
            }
            SignerIdentifier::SubjectKeyIdentifier(ski) => extension(c, &ID_CE_SUBJECT_KEY_ID)
                .first()
                .and_then(|e| SubjectKeyIdentifier::from_der(e.extn_value.as_bytes()).ok())
                .is_some_and(|k| k == *ski),
        };
        self.certs
            .iter()
            .find(|(c, _)| matches(c))
            .ok_or(TimestampError::NoSignerCertificate)
    }

    /// Every check that needs no trusted certificate: TSTInfo, signed attributes, signature,
    /// extended key usage, imprint.
    fn check(&self, expected_imprint: &[u8; 32]) -> Result<TokenInfo, TimestampError> {
        let tst = &self.tst;
        let mi = &tst.message_imprint;
        if mi.hash_algorithm.oid != ID_SHA256 {
            return Err(TimestampError::Unsupported {
                what: "message imprint hash (SHA-256 only)",
                found: mi.hash_algorithm.oid.to_string(),
            });
        }
        if mi.hashed_message.as_bytes() != expected_imprint {
            return Err(TimestampError::ImprintMismatch);
        }
        let (cert, cert_der) = self.signer_cert()?;
        let digest = Hash::from_oid(&self.signer.digest_alg.oid)?;
        let Some(attrs) = &self.signer.signed_attrs else {
            return Err(malformed("signer info", "no signed attributes"));
        };
        // Each required attribute exactly once, with exactly one value.
        let one = |oid: &Oid, name: &'static str| -> Result<Option<&Any>, TimestampError> {
            let found: Vec<_> = attrs.iter().filter(|a| a.oid == *oid).collect();
            match found.as_slice() {
                [] => Ok(None),
                [a] if a.values.len() == 1 => Ok(a.values.get(0)),
                _ => Err(malformed(
                    "signed attributes",
                    format!("{name} appears more than once or with more than one value"),
                )),
            }
        };
        let content_type = one(&ID_CONTENT_TYPE, "contentType")?
            .ok_or_else(|| malformed("signed attributes", "no contentType"))?
            .decode_as::<Oid>()
            .map_err(|e| malformed("contentType", e))?;
        if content_type != ID_CT_TST_INFO {
            return Err(malformed(
                "signed attributes",
                "contentType is not id-ct-TSTInfo",
            ));
        }
        let md = one(&ID_MESSAGE_DIGEST, "messageDigest")?
            .ok_or_else(|| malformed("signed attributes", "no messageDigest"))?
            .decode_as::<OctetString>()
            .map_err(|e| malformed("messageDigest", e))?;
        if md.as_bytes() != digest.digest(&self.tst_der).as_slice() {
            return Err(TimestampError::MessageDigestMismatch);
        }
        match one(&ID_SIGNING_CERT_V2, "signingCertificateV2")? {
            Some(v) => {
                let sc: SigningCertificateV2 = v
                    .decode_as()
                    .map_err(|e| malformed("signingCertificateV2", e))?;
                // The first ESSCertIDv2 names the signer's certificate (RFC 5035 §3).
                let first = sc
                    .certs
                    .first()
                    .ok_or_else(|| malformed("signingCertificateV2", "no ESSCertIDv2"))?;
                let h = match &first.hash_algorithm {
                    None => Hash::Sha256,
                    Some(a) => Hash::from_oid(&a.oid)?,
                };
                if first.cert_hash.as_bytes() != h.digest(cert_der).as_slice() {
                    return Err(TimestampError::CertIdMismatch);
                }
            }
            None if one(&ID_SIGNING_CERT, "signingCertificate")?.is_some() => {
                return Err(TimestampError::Unsupported {
                    what: "signing-certificate attribute (ESSCertID with SHA-1; configure the \
                           TSA for ESSCertIDv2, e.g. openssl ts `ess_cert_id_alg = sha256`)",
                    found: ID_SIGNING_CERT.to_string(),
                });
            }
            None => {
                return Err(malformed(
                    "signed attributes",
                    "no signingCertificateV2 (ESSCertIDv2)",
                ));
            }
        }
        let signed = attrs
            .to_der()
            .map_err(|e| malformed("signed attributes", e))?;
        let ok = verify_signature(
            &cert.tbs_certificate.subject_public_key_info,
            &self.signer.signature_algorithm.oid,
            Some(digest),
            &signed,
            self.signer.signature.as_bytes(),
        )?;
        if !ok {
            return Err(TimestampError::BadSignature {
                subject: subject(cert),
            });
        }
        check_timestamping(cert)?;
        Ok(TokenInfo {
            time: gen_time(tst)?,
            tsa: subject(cert),
            serial: hex::encode(tst.serial_number.as_bytes()),
            policy: tst.policy.to_string(),
        })
    }

    /// The path from the signer's certificate to a trusted one, through the certificates the
    /// token carries, each valid at the token's time, every issuer a CA.
    fn chain(&self, trust: &TsaTrust) -> Result<(), TimestampError> {
        let time = gen_time(&self.tst)?;
        let (signer, signer_der) = self.signer_cert()?;
        let untrusted = |reason: String| TimestampError::Untrusted {
            subject: subject(signer),
            reason,
        };
        let issued_by = |c: &Certificate, issuer: &Certificate| -> Result<bool, TimestampError> {
            if issuer.tbs_certificate.subject != c.tbs_certificate.issuer {
                return Ok(false);
            }
            let tbs = c
                .tbs_certificate
                .to_der()
                .map_err(|e| malformed("certificate", e))?;
            let Some(sig) = c.signature.as_bytes() else {
                return Ok(false);
            };
            verify_signature(
                &issuer.tbs_certificate.subject_public_key_info,
                &c.signature_algorithm.oid,
                None,
                &tbs,
                sig,
            )
        };
        let mut current: (&Certificate, &[u8]) = (signer, signer_der);
        for _ in 0..MAX_CHAIN {
            valid_at(current.0, time)?;
            if trust.certs.iter().any(|(_, d)| d.as_slice() == current.1) {
                return Ok(());
            }
            for (t, _) in &trust.certs {
                if issued_by(current.0, t)? {
                    if !is_ca(t) {
                        return Err(untrusted(format!(
                            "the trusted certificate {} is not a CA (basicConstraints cA) and \
                             cannot issue {}",
                            subject(t),
                            subject(current.0)
                        )));
                    }
                    valid_at(t, time)?;
                    return Ok(());
                }
            }
            let mut next = None;
            for (i, d) in &self.certs {
                if d.as_slice() != current.1 && is_ca(i) && issued_by(current.0, i)? {
                    next = Some((i, d.as_slice()));
                    break;
                }
            }
            match next {
                Some(n) => current = n,
                None => {
                    return Err(untrusted(format!(
                        "no trusted certificate ({}) or CA certificate in the token issued {}",
                        trust.subjects().join("; "),
                        subject(current.0)
                    )));
                }
            }
        }
        Err(untrusted(format!(
            "no trusted certificate within {MAX_CHAIN} certificates"
        )))
    }
}

/// RFC 3161 §2.3: exactly one extendedKeyUsage extension, critical, with id-kp-timeStamping as
/// its only purpose.
fn check_timestamping(cert: &Certificate) -> Result<(), TimestampError> {
    let not = |reason| TimestampError::NotTimestamping {
        subject: subject(cert),
        reason,
    };
    let ekus = extension(cert, &ID_CE_EXT_KEY_USAGE);
    let [eku] = ekus.as_slice() else {
        return Err(not(if ekus.is_empty() {
            "it has no extendedKeyUsage"
        } else {
            "it has more than one extendedKeyUsage"
        }));
    };
    if !eku.critical {
        return Err(not("its extendedKeyUsage is not critical"));
    }
    let usage = ExtendedKeyUsage::from_der(eku.extn_value.as_bytes())
        .map_err(|e| malformed("extendedKeyUsage", e))?;
    if usage.0.as_slice() != [ID_KP_TIME_STAMPING] {
        return Err(not(
            "its extendedKeyUsage is not exactly id-kp-timeStamping",
        ));
    }
    Ok(())
}
