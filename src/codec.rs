//! The canonical CBOR profile of SPEC §3: a deterministic encoder and a strict decoder.
//!
//! ciborium is neither canonical when it encodes nor strict when it decodes, so the bytes that are
//! signed, hashed and checked are produced and parsed here. ciborium's [`Value`] is kept as the
//! generic data model and as the bridge to serde for typed payloads.
//!
//! The profile (SPEC §3.1): major types 0–5 and the simple values `false`, `true` and `null`;
//! every argument in its shortest form; definite lengths only; map keys are integers or text,
//! sorted by their encoded bytes, without duplicates; no floats; no tags; text is valid UTF-8;
//! nesting at most [`MAX_DEPTH`] deep; exactly one item, with no trailing bytes.

mod same;

use ciborium::value::Integer;
/// A decoded CBOR item: what a `custom` event's body is (re-exported from ciborium, so building
/// one needs no direct dependency on it).
pub use ciborium::value::Value;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The deepest nesting the profile accepts: the top-level item is at depth 1 (SPEC §3.1).
pub const MAX_DEPTH: usize = 16;

/// Why bytes were rejected by the strict decoder, or a decoded structure by its schema.
///
/// Every variant carries the byte offset (from the start of the input) where the problem was
/// found, so a report can point at it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended inside an item.
    #[error("input ends early at byte {offset}")]
    UnexpectedEnd {
        /// Offset at which more bytes were needed.
        offset: usize,
    },
    /// A length field claims more bytes or items than the input still holds.
    #[error("length at byte {offset} claims {claimed} but only {remaining} bytes remain")]
    LengthExceedsInput {
        /// Offset of the item head.
        offset: usize,
        /// The length the head claims (bytes for strings, items for arrays and maps).
        claimed: u64,
        /// Bytes left in the input after the head.
        remaining: usize,
    },
    /// Bytes remain after the one top-level item.
    #[error("{count} trailing bytes after the item, from byte {offset}")]
    TrailingBytes {
        /// Offset of the first trailing byte.
        offset: usize,
        /// How many bytes trail.
        count: usize,
    },
    /// An integer or length is not in its shortest form (RFC 8949 §4.2.1).
    #[error("argument at byte {offset} is not in its shortest form")]
    NotShortest {
        /// Offset of the item head.
        offset: usize,
    },
    /// An indefinite-length item, which the profile forbids.
    #[error("indefinite-length item at byte {offset}")]
    IndefiniteLength {
        /// Offset of the item head.
        offset: usize,
    },
    /// Additional information 28–30, reserved by RFC 8949.
    #[error("reserved additional information at byte {offset}")]
    Reserved {
        /// Offset of the item head.
        offset: usize,
    },
    /// A floating-point number, which the profile forbids.
    #[error("floating-point number at byte {offset}")]
    Float {
        /// Offset of the item head.
        offset: usize,
    },
    /// A tag, which the profile forbids (SPEC lists none).
    #[error("tag {tag} at byte {offset} is not allowed")]
    Tag {
        /// Offset of the item head.
        offset: usize,
        /// The tag number.
        tag: u64,
    },
    /// A simple value other than `false`, `true` or `null`.
    #[error("simple value {value} at byte {offset} is not allowed")]
    SimpleValue {
        /// Offset of the item head.
        offset: usize,
        /// The simple value.
        value: u64,
    },
    /// A text string that is not valid UTF-8.
    #[error("text string at byte {offset} is not valid UTF-8")]
    InvalidUtf8 {
        /// Offset of the item head.
        offset: usize,
    },
    /// Nesting deeper than [`MAX_DEPTH`].
    #[error("nesting deeper than {limit} at byte {offset}")]
    TooDeep {
        /// Offset of the item that went too deep.
        offset: usize,
        /// The limit.
        limit: usize,
    },
    /// A map key that is neither an integer nor a text string.
    #[error("map key at byte {offset} is neither an integer nor text")]
    KeyType {
        /// Offset of the key.
        offset: usize,
    },
    /// A map key equal to the one before it.
    #[error("duplicate map key at byte {offset}")]
    DuplicateKey {
        /// Offset of the repeated key.
        offset: usize,
    },
    /// A map key that sorts before the one before it.
    #[error("map key at byte {offset} is out of canonical order")]
    UnsortedKeys {
        /// Offset of the misplaced key.
        offset: usize,
    },
    /// An item of the wrong type for the structure being decoded.
    #[error("expected {expected} at byte {offset}")]
    UnexpectedType {
        /// Offset of the item head.
        offset: usize,
        /// What the structure needs there.
        expected: &'static str,
    },
    /// A map of a fixed-shape structure holds the wrong key, or misses one.
    #[error("expected map key {expected} at byte {offset}")]
    UnexpectedKey {
        /// Offset of the key.
        offset: usize,
        /// The key the structure needs next.
        expected: u64,
    },
    /// A field holds a value its structure does not allow.
    #[error("field `{field}` at byte {offset}: {reason}")]
    InvalidField {
        /// Offset of the field's value.
        offset: usize,
        /// The field's name in SPEC.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A format version this crate does not read.
    #[error("unsupported format version {version} at byte {offset}")]
    UnsupportedVersion {
        /// Offset of the version field.
        offset: usize,
        /// The version found.
        version: u64,
    },
    /// The bytes are well-formed CBOR in the profile but do not match the typed structure.
    #[error("does not match the expected structure: {message}")]
    Schema {
        /// What serde reported.
        message: String,
    },
    /// The bytes decode, but re-encoding the typed value gives different bytes: the input is not
    /// the one canonical encoding of what it holds (for example `null` where SPEC omits a field).
    #[error("not the canonical encoding of its content")]
    NotCanonical,
}

/// Why a value could not be encoded in the canonical profile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// Floats are outside the profile.
    #[error("floating-point numbers are not allowed")]
    Float,
    /// Tags are outside the profile.
    #[error("tag {0} is not allowed")]
    Tag(u64),
    /// A map key that is neither an integer nor text.
    #[error("map keys must be integers or text")]
    KeyType,
    /// Two map keys with the same encoding.
    #[error("duplicate map key")]
    DuplicateKey,
    /// Nesting deeper than [`MAX_DEPTH`].
    #[error("nesting deeper than {0}")]
    TooDeep(usize),
    /// serde could not map the value onto the CBOR data model.
    #[error("cannot serialize: {0}")]
    Serialize(String),
}

const MAJOR_UINT: u8 = 0;
const MAJOR_NINT: u8 = 1;
const MAJOR_BYTES: u8 = 2;
const MAJOR_TEXT: u8 = 3;
const MAJOR_ARRAY: u8 = 4;
const MAJOR_MAP: u8 = 5;
const MAJOR_TAG: u8 = 6;
const MAJOR_SIMPLE: u8 = 7;

/// Writes items in the canonical profile. Fixed-shape structures call the typed methods in SPEC
/// order; generic data goes through [`Encoder::value`], which sorts map keys.
#[derive(Debug, Default, Clone)]
pub struct Encoder {
    buf: Vec<u8>,
}

impl Encoder {
    /// An empty encoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty encoder with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            buf: Vec::with_capacity(capacity),
        }
    }

    /// The bytes written so far.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    fn head(&mut self, major: u8, arg: u64) {
        let m = major << 5;
        if arg < 24 {
            self.buf.push(m | arg as u8);
        } else if arg <= u64::from(u8::MAX) {
            self.buf.extend_from_slice(&[m | 24, arg as u8]);
        } else if arg <= u64::from(u16::MAX) {
            self.buf.push(m | 25);
            self.buf.extend_from_slice(&(arg as u16).to_be_bytes());
        } else if arg <= u64::from(u32::MAX) {
            self.buf.push(m | 26);
            self.buf.extend_from_slice(&(arg as u32).to_be_bytes());
        } else {
            self.buf.push(m | 27);
            self.buf.extend_from_slice(&arg.to_be_bytes());
        }
    }

    /// An unsigned integer.
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.head(MAJOR_UINT, v);
        self
    }

    /// A byte string.
    pub fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.head(MAJOR_BYTES, v.len() as u64);
        self.buf.extend_from_slice(v);
        self
    }

    /// A text string.
    pub fn text(&mut self, v: &str) -> &mut Self {
        self.head(MAJOR_TEXT, v.len() as u64);
        self.buf.extend_from_slice(v.as_bytes());
        self
    }

    /// The head of an array of `len` items; the items follow.
    pub fn array(&mut self, len: usize) -> &mut Self {
        self.head(MAJOR_ARRAY, len as u64);
        self
    }

    /// The head of a map of `len` pairs; the caller writes keys in canonical order.
    pub fn map(&mut self, len: usize) -> &mut Self {
        self.head(MAJOR_MAP, len as u64);
        self
    }

    /// `true` or `false`.
    pub fn bool(&mut self, v: bool) -> &mut Self {
        self.buf.push(if v { 0xf5 } else { 0xf4 });
        self
    }

    /// `null`.
    pub fn null(&mut self) -> &mut Self {
        self.buf.push(0xf6);
        self
    }

    /// Bytes that are already one canonical item (for example a nested structure encoded
    /// separately). The caller vouches for them.
    pub fn raw(&mut self, item: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(item);
        self
    }

    /// A generic value, with map keys sorted by their encoded bytes (RFC 8949 §4.2.1).
    pub fn value(&mut self, v: &Value) -> Result<&mut Self, EncodeError> {
        self.value_at(v, 1)?;
        Ok(self)
    }

    fn value_at(&mut self, v: &Value, depth: usize) -> Result<(), EncodeError> {
        if depth > MAX_DEPTH {
            return Err(EncodeError::TooDeep(MAX_DEPTH));
        }
        match v {
            Value::Integer(i) => {
                let i = i128::from(*i);
                if i >= 0 {
                    self.head(MAJOR_UINT, i as u64);
                } else {
                    self.head(MAJOR_NINT, (-1 - i) as u64);
                }
            }
            Value::Bytes(b) => {
                self.bytes(b);
            }
            Value::Text(t) => {
                self.text(t);
            }
            Value::Bool(b) => {
                self.bool(*b);
            }
            Value::Null => {
                self.null();
            }
            Value::Float(_) => return Err(EncodeError::Float),
            Value::Tag(t, _) => return Err(EncodeError::Tag(*t)),
            Value::Array(items) => {
                self.array(items.len());
                for item in items {
                    self.value_at(item, depth + 1)?;
                }
            }
            Value::Map(pairs) => {
                let mut encoded = Vec::with_capacity(pairs.len());
                for (k, val) in pairs {
                    if !matches!(k, Value::Integer(_) | Value::Text(_)) {
                        return Err(EncodeError::KeyType);
                    }
                    let mut ke = Encoder::new();
                    ke.value_at(k, depth + 1)?;
                    encoded.push((ke.buf, val));
                }
                encoded.sort_by(|a, b| a.0.cmp(&b.0));
                if encoded.windows(2).any(|w| w[0].0 == w[1].0) {
                    return Err(EncodeError::DuplicateKey);
                }
                self.map(encoded.len());
                for (k, val) in encoded {
                    self.buf.extend_from_slice(&k);
                    self.value_at(val, depth + 1)?;
                }
            }
            // ciborium's Value is non_exhaustive; nothing else is in the profile.
            _ => return Err(EncodeError::Serialize("unsupported value".into())),
        }
        Ok(())
    }
}

/// Encodes a generic value canonically.
pub fn encode_value(v: &Value) -> Result<Vec<u8>, EncodeError> {
    let mut e = Encoder::new();
    e.value(v)?;
    Ok(e.into_bytes())
}

/// Encodes a serde value canonically (through ciborium's data model, then sorted and checked).
pub fn to_canonical<T: Serialize + ?Sized>(v: &T) -> Result<Vec<u8>, EncodeError> {
    to_canonical_in(v, Encoder::new())
}

// `to_canonical` into the encoder given (one sized for the result makes one allocation).
fn to_canonical_in<T: Serialize + ?Sized>(v: &T, mut e: Encoder) -> Result<Vec<u8>, EncodeError> {
    let value = Value::serialized(v).map_err(|e| EncodeError::Serialize(e.to_string()))?;
    e.value(&value)?;
    Ok(e.into_bytes())
}

#[cfg(test)]
thread_local! {
    /// Tests only: every [`from_canonical`] on this thread decides by re-encoding, so that the
    /// walk's verdicts can be compared with re-encoding's.
    pub(crate) static REENCODE_ONLY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Decodes bytes strictly into a serde value, and insists that they are the canonical encoding
/// of that value: re-encoding must reproduce them byte for byte.
pub fn from_canonical<T: Serialize + DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    let value = decode_value(bytes)?;
    let typed: T = value.deserialized().map_err(|e| DecodeError::Schema {
        message: e.to_string(),
    })?;
    // The bytes are canonical, so they are the one encoding of `value`: the typed value
    // re-encodes to them exactly when it serializes to `value`. That is checked without
    // building anything; what the walk leaves undecided (maps) is re-encoded.
    #[cfg(test)]
    let walk = !REENCODE_ONLY.with(std::cell::Cell::get);
    #[cfg(not(test))]
    let walk = true;
    let verdict = if walk {
        same::same(&typed, &value)
    } else {
        Err(same::Stop::Undecided)
    };
    match verdict {
        Ok(()) => Ok(typed),
        Err(same::Stop::Different) => Err(DecodeError::NotCanonical),
        // Encoded into a buffer of the size it must have: one allocation.
        Err(same::Stop::Undecided) => {
            match to_canonical_in(&typed, Encoder::with_capacity(bytes.len())) {
                Ok(again) if again == bytes => Ok(typed),
                _ => Err(DecodeError::NotCanonical),
            }
        }
    }
}

/// Decodes exactly one item strictly into a generic value.
pub fn decode_value(bytes: &[u8]) -> Result<Value, DecodeError> {
    let mut d = Decoder::new(bytes);
    let v = d.value()?;
    d.finish()?;
    Ok(v)
}

/// Checks that bytes are exactly one item in the profile, without building a value.
pub fn check_canonical(bytes: &[u8]) -> Result<(), DecodeError> {
    let mut d = Decoder::new(bytes);
    d.skip_item()?;
    d.finish()
}

/// The head of an item: its major type, additional information and argument.
#[derive(Debug, Clone, Copy)]
struct Head {
    major: u8,
    arg: u64,
    offset: usize,
}

/// A strict pull decoder over a byte slice. Every read checks the profile; lengths are checked
/// against the bytes that remain before anything is allocated.
#[derive(Debug, Clone)]
pub struct Decoder<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Decoder<'a> {
    /// A decoder at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self::with_base(buf, 0)
    }

    /// A decoder over `buf` that reports error offsets as `base + position`, for bytes nested
    /// inside a larger input.
    pub fn with_base(buf: &'a [u8], base: usize) -> Self {
        Self { buf, pos: 0, base }
    }

    /// The absolute offset of the current position (`base + position`), for errors.
    pub fn at(&self) -> usize {
        self.base + self.pos
    }

    /// The current offset.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes not yet consumed.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Fails unless every byte has been consumed.
    pub fn finish(&self) -> Result<(), DecodeError> {
        if self.pos == self.buf.len() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes {
                offset: self.at(),
                count: self.buf.len() - self.pos,
            })
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.remaining() {
            return Err(DecodeError::UnexpectedEnd { offset: self.at() });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn head(&mut self) -> Result<Head, DecodeError> {
        let offset = self.at();
        let ib = self.take(1)?[0];
        let major = ib >> 5;
        let ai = ib & 0x1f;
        let (arg, min) = match ai {
            0..=23 => (u64::from(ai), 0),
            24 => (u64::from(self.take(1)?[0]), 24),
            25 => {
                let b = self.take(2)?;
                (u64::from(u16::from_be_bytes([b[0], b[1]])), 0x100)
            }
            26 => {
                let b = self.take(4)?;
                (
                    u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]])),
                    0x1_0000,
                )
            }
            27 => {
                let b = self.take(8)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                (u64::from_be_bytes(a), 0x1_0000_0000)
            }
            28..=30 => return Err(DecodeError::Reserved { offset }),
            _ => {
                return Err(match major {
                    MAJOR_SIMPLE => DecodeError::SimpleValue { offset, value: 31 },
                    _ => DecodeError::IndefiniteLength { offset },
                });
            }
        };
        if major == MAJOR_SIMPLE {
            // Floats are heads with ai 25–27 under major 7; check them before minimality so the
            // error says "float" rather than "not shortest".
            if (25..=27).contains(&ai) {
                return Err(DecodeError::Float { offset });
            }
            if ai == 24 {
                return Err(DecodeError::SimpleValue { offset, value: arg });
            }
        }
        if arg < min {
            return Err(DecodeError::NotShortest { offset });
        }
        Ok(Head { major, arg, offset })
    }

    fn expect(&mut self, major: u8, expected: &'static str) -> Result<Head, DecodeError> {
        let h = self.head()?;
        if h.major != major {
            if h.major == MAJOR_TAG {
                return Err(DecodeError::Tag {
                    offset: h.offset,
                    tag: h.arg,
                });
            }
            return Err(DecodeError::UnexpectedType {
                offset: h.offset,
                expected,
            });
        }
        Ok(h)
    }

    fn check_len(&self, h: &Head, per_item: u64) -> Result<usize, DecodeError> {
        let remaining = self.remaining();
        match h.arg.checked_mul(per_item) {
            Some(need) if need <= remaining as u64 => Ok(h.arg as usize),
            _ => Err(DecodeError::LengthExceedsInput {
                offset: h.offset,
                claimed: h.arg,
                remaining,
            }),
        }
    }

    /// Exactly `N` bytes as they are, with no head: for binary layouts that mix fixed-width
    /// fields with CBOR items (the stored record, SPEC §9.1).
    pub fn raw_fixed<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let b = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(b);
        Ok(out)
    }

    /// Exactly `n` bytes as they are, with no head (`n` is checked against what is left).
    pub fn raw_bytes(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        self.take(n)
    }

    /// Every byte not yet consumed, as they are.
    pub fn rest(&mut self) -> &'a [u8] {
        let s = &self.buf[self.pos..];
        self.pos = self.buf.len();
        s
    }

    /// An unsigned integer.
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(self.expect(MAJOR_UINT, "an unsigned integer")?.arg)
    }

    /// A byte string, borrowed from the input.
    pub fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let h = self.expect(MAJOR_BYTES, "a byte string")?;
        let n = self.check_len(&h, 1)?;
        self.take(n)
    }

    /// A byte string of exactly `N` bytes.
    pub fn bytes_fixed<const N: usize>(
        &mut self,
        field: &'static str,
    ) -> Result<[u8; N], DecodeError> {
        let offset = self.at();
        let b = self.bytes()?;
        b.try_into().map_err(|_| DecodeError::InvalidField {
            offset,
            field,
            reason: "wrong length",
        })
    }

    /// A text string, borrowed from the input.
    pub fn text(&mut self) -> Result<&'a str, DecodeError> {
        let h = self.expect(MAJOR_TEXT, "a text string")?;
        let n = self.check_len(&h, 1)?;
        let b = self.take(n)?;
        std::str::from_utf8(b).map_err(|_| DecodeError::InvalidUtf8 { offset: h.offset })
    }

    /// The head of an array; returns its length, already checked against the remaining input.
    pub fn array(&mut self) -> Result<usize, DecodeError> {
        let h = self.expect(MAJOR_ARRAY, "an array")?;
        self.check_len(&h, 1)
    }

    /// The head of an array that must hold exactly `len` items.
    pub fn array_of(&mut self, len: usize, what: &'static str) -> Result<(), DecodeError> {
        let offset = self.at();
        if self.array()? != len {
            return Err(DecodeError::UnexpectedType {
                offset,
                expected: what,
            });
        }
        Ok(())
    }

    /// The head of a map; returns its number of pairs, checked against the remaining input.
    pub fn map(&mut self) -> Result<usize, DecodeError> {
        let h = self.expect(MAJOR_MAP, "a map")?;
        self.check_len(&h, 2)
    }

    /// The head of a map that must hold exactly `len` pairs.
    pub fn map_of(&mut self, len: usize, what: &'static str) -> Result<(), DecodeError> {
        let offset = self.at();
        if self.map()? != len {
            return Err(DecodeError::UnexpectedType {
                offset,
                expected: what,
            });
        }
        Ok(())
    }

    /// The next map key of a fixed-shape, integer-keyed map, which must be `expected`. Reading
    /// keys in ascending order this way enforces canonical order and the absence of duplicates.
    pub fn key(&mut self, expected: u64) -> Result<(), DecodeError> {
        let offset = self.at();
        match self.head() {
            Ok(h) if h.major == MAJOR_UINT && h.arg == expected => Ok(()),
            Ok(_) => Err(DecodeError::UnexpectedKey { offset, expected }),
            Err(e) => Err(e),
        }
    }

    /// Whether the next item is `null` (without consuming anything else).
    pub fn peek_null(&self) -> bool {
        self.buf.get(self.pos) == Some(&0xf6)
    }

    /// Consumes a `null`.
    pub fn null(&mut self) -> Result<(), DecodeError> {
        let offset = self.at();
        match self.take(1)?[0] {
            0xf6 => Ok(()),
            _ => Err(DecodeError::UnexpectedType {
                offset,
                expected: "null",
            }),
        }
    }

    /// Any one item, returned as the slice of input it occupies.
    pub fn raw_item(&mut self) -> Result<&'a [u8], DecodeError> {
        let start = self.pos;
        self.skip_item()?;
        Ok(&self.buf[start..self.pos])
    }

    /// Skips one item, checking it against the whole profile.
    pub fn skip_item(&mut self) -> Result<(), DecodeError> {
        self.walk(1)
    }

    /// One generic item.
    pub fn value(&mut self) -> Result<Value, DecodeError> {
        self.value_at(1)
    }

    // Walks one item without building it.
    fn walk(&mut self, depth: usize) -> Result<(), DecodeError> {
        let offset = self.at();
        if depth > MAX_DEPTH {
            return Err(DecodeError::TooDeep {
                offset,
                limit: MAX_DEPTH,
            });
        }
        let h = self.head()?;
        match h.major {
            MAJOR_UINT | MAJOR_NINT => {}
            MAJOR_BYTES => {
                let n = self.check_len(&h, 1)?;
                self.take(n)?;
            }
            MAJOR_TEXT => {
                let n = self.check_len(&h, 1)?;
                let b = self.take(n)?;
                std::str::from_utf8(b)
                    .map_err(|_| DecodeError::InvalidUtf8 { offset: h.offset })?;
            }
            MAJOR_ARRAY => {
                let n = self.check_len(&h, 1)?;
                for _ in 0..n {
                    self.walk(depth + 1)?;
                }
            }
            MAJOR_MAP => {
                let n = self.check_len(&h, 2)?;
                let mut prev: Option<&[u8]> = None;
                for _ in 0..n {
                    let start = self.pos;
                    check_key_type(self.buf, start, self.base)?;
                    self.walk(depth + 1)?;
                    prev = Some(check_key_order(
                        &self.buf[start..self.pos],
                        prev,
                        self.base + start,
                    )?);
                    self.walk(depth + 1)?;
                }
            }
            MAJOR_TAG => {
                return Err(DecodeError::Tag {
                    offset: h.offset,
                    tag: h.arg,
                });
            }
            _ => self.simple(&h)?,
        }
        Ok(())
    }

    fn simple(&self, h: &Head) -> Result<(), DecodeError> {
        match h.arg {
            20..=22 => Ok(()),
            v => Err(DecodeError::SimpleValue {
                offset: h.offset,
                value: v,
            }),
        }
    }

    fn value_at(&mut self, depth: usize) -> Result<Value, DecodeError> {
        let offset = self.at();
        if depth > MAX_DEPTH {
            return Err(DecodeError::TooDeep {
                offset,
                limit: MAX_DEPTH,
            });
        }
        let h = self.head()?;
        Ok(match h.major {
            MAJOR_UINT => Value::Integer(Integer::from(h.arg)),
            MAJOR_NINT => {
                let v = -1i128 - i128::from(h.arg);
                // Always in range: ciborium's Integer spans -2^64 ..= 2^64 - 1.
                Value::Integer(Integer::try_from(v).map_err(|_| DecodeError::InvalidField {
                    offset,
                    field: "integer",
                    reason: "out of range",
                })?)
            }
            MAJOR_BYTES => {
                let n = self.check_len(&h, 1)?;
                Value::Bytes(self.take(n)?.to_vec())
            }
            MAJOR_TEXT => {
                let n = self.check_len(&h, 1)?;
                let b = self.take(n)?;
                let t = std::str::from_utf8(b)
                    .map_err(|_| DecodeError::InvalidUtf8 { offset: h.offset })?;
                Value::Text(t.to_owned())
            }
            MAJOR_ARRAY => {
                let n = self.check_len(&h, 1)?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.value_at(depth + 1)?);
                }
                Value::Array(items)
            }
            MAJOR_MAP => {
                let n = self.check_len(&h, 2)?;
                let mut pairs = Vec::with_capacity(n);
                let mut prev: Option<&[u8]> = None;
                for _ in 0..n {
                    let start = self.pos;
                    check_key_type(self.buf, start, self.base)?;
                    let key = self.value_at(depth + 1)?;
                    prev = Some(check_key_order(
                        &self.buf[start..self.pos],
                        prev,
                        self.base + start,
                    )?);
                    let val = self.value_at(depth + 1)?;
                    pairs.push((key, val));
                }
                Value::Map(pairs)
            }
            MAJOR_TAG => {
                return Err(DecodeError::Tag {
                    offset: h.offset,
                    tag: h.arg,
                });
            }
            _ => {
                self.simple(&h)?;
                match h.arg {
                    20 => Value::Bool(false),
                    21 => Value::Bool(true),
                    _ => Value::Null,
                }
            }
        })
    }
}

// Map keys are integers or text (SPEC §3.1).
fn check_key_type(buf: &[u8], at: usize, base: usize) -> Result<(), DecodeError> {
    let offset = base + at;
    match buf.get(at).map(|b| b >> 5) {
        Some(MAJOR_UINT | MAJOR_NINT | MAJOR_TEXT) => Ok(()),
        Some(_) => Err(DecodeError::KeyType { offset }),
        None => Err(DecodeError::UnexpectedEnd { offset }),
    }
}

// Each key's encoding must sort strictly after the one before it (RFC 8949 §4.2.1).
fn check_key_order<'a>(
    key: &'a [u8],
    prev: Option<&[u8]>,
    offset: usize,
) -> Result<&'a [u8], DecodeError> {
    match prev.map(|p| p.cmp(key)) {
        None | Some(std::cmp::Ordering::Less) => Ok(key),
        Some(std::cmp::Ordering::Equal) => Err(DecodeError::DuplicateKey { offset }),
        Some(std::cmp::Ordering::Greater) => Err(DecodeError::UnsortedKeys { offset }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    #[test]
    fn rejects_non_shortest_integers() {
        assert_eq!(
            decode_value(&hex("1817")),
            Err(DecodeError::NotShortest { offset: 0 })
        );
        assert_eq!(
            decode_value(&hex("190017")),
            Err(DecodeError::NotShortest { offset: 0 })
        );
        assert!(decode_value(&hex("1818")).is_ok());
        assert_eq!(
            decode_value(&hex("1a0000ffff")),
            Err(DecodeError::NotShortest { offset: 0 })
        );
        assert_eq!(
            decode_value(&hex("1b00000000ffffffff")),
            Err(DecodeError::NotShortest { offset: 0 })
        );
    }

    #[test]
    fn rejects_unsorted_and_duplicate_keys() {
        // {2: 0, 1: 0}
        assert_eq!(
            decode_value(&hex("a202000100")),
            Err(DecodeError::UnsortedKeys { offset: 3 })
        );
        // {1: 0, 1: 0}
        assert_eq!(
            decode_value(&hex("a201000100")),
            Err(DecodeError::DuplicateKey { offset: 3 })
        );
        // {"b": 0, "aa": 0} is canonical: shorter encodings sort first.
        assert!(decode_value(&hex("a261620062616100")).is_ok());
        assert_eq!(
            decode_value(&hex("a262616100616200")),
            Err(DecodeError::UnsortedKeys { offset: 5 })
        );
    }

    #[test]
    fn length_bombs_do_not_allocate() {
        // A byte string claiming 2^63 bytes, an array claiming 2^32 items.
        assert!(matches!(
            decode_value(&hex("5b8000000000000000")),
            Err(DecodeError::LengthExceedsInput { .. })
        ));
        assert!(matches!(
            decode_value(&hex("9b0000000100000000")),
            Err(DecodeError::LengthExceedsInput { .. })
        ));
        assert!(matches!(
            decode_value(&hex("bbffffffffffffffff")),
            Err(DecodeError::LengthExceedsInput { .. })
        ));
    }

    #[test]
    fn depth_is_bounded() {
        let mut deep = vec![0x81u8; 10_000];
        deep.push(0);
        assert!(matches!(
            decode_value(&deep),
            Err(DecodeError::TooDeep { .. })
        ));
        let mut ok = vec![0x81u8; MAX_DEPTH - 1];
        ok.push(0);
        assert!(decode_value(&ok).is_ok());
    }

    #[test]
    fn encoder_sorts_map_keys_by_encoding() {
        let v = Value::Map(vec![
            (Value::Text("aa".into()), Value::Integer(1.into())),
            (Value::Text("b".into()), Value::Integer(2.into())),
            (Value::Integer(10.into()), Value::Integer(3.into())),
            (Value::Integer((-1).into()), Value::Integer(4.into())),
        ]);
        let b = encode_value(&v).unwrap();
        assert_eq!(
            b,
            hex("a40a032004616202626161 01".replace(' ', "").as_str())
        );
        assert_eq!(encode_value(&decode_value(&b).unwrap()).unwrap(), b);
    }
}

/// Why one item could not be read from a stream.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadItemError {
    /// The stream ended inside an item, after `read` bytes of it.
    #[error("stream ends inside an item ({read} bytes into it)")]
    Truncated {
        /// Bytes of the item read before the end.
        read: usize,
    },
    /// The item is larger than the caller allows.
    #[error("item larger than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// The item is outside the canonical profile.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// Reading failed.
    #[error("read failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Reads exactly one canonical item from a stream into `buf` (cleared first), reading no further
/// than the item's end and never more than `limit` bytes: lengths are checked against the limit
/// before anything is read or allocated. Returns `Ok(false)` at a clean end of stream (no byte of
/// a new item). The item is checked against the whole profile (SPEC §3.1) before returning.
pub fn read_item<R: std::io::Read>(
    r: &mut R,
    buf: &mut Vec<u8>,
    limit: usize,
) -> Result<bool, ReadItemError> {
    buf.clear();
    // Items still to read at each open level; depth is bounded by MAX_DEPTH.
    let mut pending: Vec<u64> = vec![1];
    while let Some(top) = pending.last_mut() {
        if *top == 0 {
            pending.pop();
            continue;
        }
        *top -= 1;
        if pending.len() > MAX_DEPTH {
            return Err(DecodeError::TooDeep {
                offset: buf.len(),
                limit: MAX_DEPTH,
            }
            .into());
        }
        let start = buf.len();
        if !read_exact_into(r, buf, 1, limit)? {
            if start == 0 {
                return Ok(false);
            }
            return Err(ReadItemError::Truncated { read: start });
        }
        let ib = buf[start];
        let extra = match ib & 0x1f {
            24 => 1,
            25 => 2,
            26 => 4,
            27 => 8,
            _ => 0,
        };
        if extra > 0 && !read_exact_into(r, buf, extra, limit)? {
            return Err(ReadItemError::Truncated { read: buf.len() });
        }
        // Parse the head with the strict decoder (minimality, floats, reserved values).
        let mut d = Decoder::with_base(&buf[start..], start);
        let h = d.head()?;
        match h.major {
            MAJOR_BYTES | MAJOR_TEXT => {
                let n = usize::try_from(h.arg).map_err(|_| ReadItemError::TooLarge { limit })?;
                if !read_exact_into(r, buf, n, limit)? {
                    return Err(ReadItemError::Truncated { read: buf.len() });
                }
            }
            MAJOR_ARRAY => pending.push(h.arg),
            MAJOR_MAP => pending.push(h.arg.saturating_mul(2)),
            MAJOR_TAG => {
                return Err(DecodeError::Tag {
                    offset: start,
                    tag: h.arg,
                }
                .into());
            }
            _ => {}
        }
    }
    // Keys' order, UTF-8 and the rest of the profile.
    check_canonical(buf)?;
    Ok(true)
}

// Appends exactly `n` bytes from `r` to `buf`, refusing to go past `limit` in total. Returns
// false if the stream ends before any of the `n` bytes (or before all of them; the caller tells
// the two apart by the buffer length).
fn read_exact_into<R: std::io::Read>(
    r: &mut R,
    buf: &mut Vec<u8>,
    n: usize,
    limit: usize,
) -> Result<bool, ReadItemError> {
    if buf.len().checked_add(n).is_none_or(|total| total > limit) {
        return Err(ReadItemError::TooLarge { limit });
    }
    let start = buf.len();
    // Grow in bounded steps so a short stream cannot make us allocate its claimed length.
    let mut filled = 0;
    while filled < n {
        let step = (n - filled).min(64 * 1024);
        buf.resize(start + filled + step, 0);
        let mut got = 0;
        while got < step {
            match r.read(&mut buf[start + filled + got..start + filled + step]) {
                Ok(0) => {
                    buf.truncate(start + filled + got);
                    return Ok(false);
                }
                Ok(k) => got += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        filled += step;
    }
    Ok(true)
}

#[cfg(test)]
mod stream_tests {
    use super::*;

    #[test]
    fn reads_a_sequence_item_by_item() {
        let mut seq = Vec::new();
        for v in [
            Value::Text("sealtrail-bundle".into()),
            Value::Integer(1.into()),
            Value::Map(vec![(
                Value::Text("a".into()),
                Value::Array(vec![Value::Bytes(vec![1; 300]), Value::Null]),
            )]),
        ] {
            seq.extend(encode_value(&v).unwrap());
        }
        let mut r = &seq[..];
        let mut buf = Vec::new();
        let mut items = Vec::new();
        let mut read = 0;
        while read_item(&mut r, &mut buf, 1 << 20).unwrap() {
            items.push(decode_value(&buf).unwrap());
            read += buf.len();
        }
        assert_eq!(items.len(), 3);
        assert_eq!(read, seq.len());
    }

    #[test]
    fn truncation_limits_and_bombs() {
        let mut buf = Vec::new();
        // Truncated inside a string.
        let mut r: &[u8] = &[0x43, 1, 2];
        assert!(matches!(
            read_item(&mut r, &mut buf, 100),
            Err(ReadItemError::Truncated { .. })
        ));
        // A string claiming 2^60 bytes is refused before reading or allocating.
        let mut r: &[u8] = &[0x5b, 0x10, 0, 0, 0, 0, 0, 0, 0, 1];
        assert!(matches!(
            read_item(&mut r, &mut buf, 1 << 20),
            Err(ReadItemError::TooLarge { .. })
        ));
        // An array claiming 2^60 items of which none arrive.
        let mut r: &[u8] = &[0x9b, 0x10, 0, 0, 0, 0, 0, 0, 0];
        assert!(matches!(
            read_item(&mut r, &mut buf, 1 << 20),
            Err(ReadItemError::Truncated { .. })
        ));
        // Non-canonical map order is caught at the end of the item.
        let mut r: &[u8] = &[0xa2, 0x02, 0x00, 0x01, 0x00];
        assert!(matches!(
            read_item(&mut r, &mut buf, 100),
            Err(ReadItemError::Decode(DecodeError::UnsortedKeys { .. }))
        ));
        // Deep nesting.
        let deep = [0x81u8; 100];
        let mut r = &deep[..];
        assert!(matches!(
            read_item(&mut r, &mut buf, 1000),
            Err(ReadItemError::Decode(DecodeError::TooDeep { .. }))
        ));
        // Clean end of stream.
        let mut r: &[u8] = &[];
        assert!(!read_item(&mut r, &mut buf, 100).unwrap());
    }
}
