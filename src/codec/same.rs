//! Whether a typed value would re-encode to the bytes it was decoded from, decided without
//! re-encoding it: its serde serialization is walked against the decoded [`Value`].
//!
//! [`from_canonical`](super::from_canonical) accepts bytes only if the typed value they decode to
//! encodes back to them, byte for byte. Re-encoding builds a second [`Value`] tree through
//! ciborium's serializer and a sorted encoding of it: an allocation for every text, byte string,
//! array, map and map key, on every payload decoded (every append checks one). The bytes are
//! canonical already (the strict decoder accepted them), so they are the one encoding of the
//! decoded value, and comparing the typed value's serialization with that value decides the same
//! question with no allocation.
//!
//! The walk mirrors ciborium's `Value` serializer call for call (`is_human_readable` false; a
//! unit, a unit struct and `None` are null; a unit variant is its name as text; a newtype or
//! tuple or struct variant is a one-pair map from its name; a struct is a map from its field
//! names). Two serializations are left [`Stop::Undecided`], for the caller to decide by
//! re-encoding: a map (its keys can be any serializable value, and its order is the serializer's,
//! not the encoding's) and a struct of more than 64 fields. A float, a tag, or a serializer
//! error is [`Stop::Different`], as each makes re-encoding fail.

use ciborium::value::Value;
use serde::ser::{self, Impossible, Serialize};

/// Why the walk stopped short of a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stop {
    /// The value does not re-encode to the decoded one.
    Different,
    /// The walk cannot tell; re-encoding decides.
    Undecided,
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Stop::Different => "the value re-encodes differently",
            Stop::Undecided => "the walk cannot decide",
        })
    }
}

impl std::error::Error for Stop {}

impl ser::Error for Stop {
    // A serializer error makes re-encoding fail: the bytes are not this value's encoding.
    fn custom<T: std::fmt::Display>(_msg: T) -> Self {
        Stop::Different
    }
}

/// `Ok` when `v` serializes to exactly `value` as ciborium's serializer would build it (maps
/// compared as sets of pairs, as their canonical encodings are).
pub(super) fn same<T: Serialize + ?Sized>(v: &T, value: &Value) -> Result<(), Stop> {
    v.serialize(Same(value))
}

fn check(ok: bool) -> Result<(), Stop> {
    if ok { Ok(()) } else { Err(Stop::Different) }
}

fn int(value: &Value, v: i128) -> Result<(), Stop> {
    check(matches!(value, Value::Integer(i) if i128::from(*i) == v))
}

// The value of a one-pair map keyed by `name`, as a variant with content is serialized.
fn variant<'a>(value: &'a Value, name: &str) -> Result<&'a Value, Stop> {
    match value {
        Value::Map(pairs) => match pairs.as_slice() {
            [(Value::Text(k), v)] if k == name => Ok(v),
            _ => Err(Stop::Different),
        },
        _ => Err(Stop::Different),
    }
}

fn elements(value: &Value) -> Result<Elements<'_>, Stop> {
    match value {
        Value::Array(items) => Ok(Elements { items, at: 0 }),
        _ => Err(Stop::Different),
    }
}

fn fields(value: &Value) -> Result<Fields<'_>, Stop> {
    match value {
        Value::Map(pairs) if pairs.len() > 64 => Err(Stop::Undecided),
        Value::Map(pairs) => Ok(Fields { pairs, seen: 0 }),
        _ => Err(Stop::Different),
    }
}

struct Same<'a>(&'a Value);

// A serializer method per integer type: the value must be that integer.
macro_rules! integers {
    ($($method:ident: $t:ty),+) => {$(
        fn $method(self, v: $t) -> Result<(), Stop> {
            int(self.0, v.into())
        }
    )+};
}

impl<'a> ser::Serializer for Same<'a> {
    type Ok = ();
    type Error = Stop;
    type SerializeSeq = Elements<'a>;
    type SerializeTuple = Elements<'a>;
    type SerializeTupleStruct = Elements<'a>;
    type SerializeTupleVariant = Elements<'a>;
    type SerializeMap = Impossible<(), Stop>;
    type SerializeStruct = Fields<'a>;
    type SerializeStructVariant = Fields<'a>;

    fn serialize_bool(self, v: bool) -> Result<(), Stop> {
        check(matches!(self.0, Value::Bool(b) if *b == v))
    }
    // Every integer type but u128 (which may not fit an i128) converts losslessly.
    integers!(
        serialize_i8: i8,
        serialize_i16: i16,
        serialize_i32: i32,
        serialize_i64: i64,
        serialize_i128: i128,
        serialize_u8: u8,
        serialize_u16: u16,
        serialize_u32: u32,
        serialize_u64: u64
    );
    fn serialize_u128(self, v: u128) -> Result<(), Stop> {
        int(self.0, i128::try_from(v).map_err(|_| Stop::Different)?)
    }
    // Floats are outside the profile: re-encoding fails.
    fn serialize_f32(self, _v: f32) -> Result<(), Stop> {
        Err(Stop::Different)
    }
    fn serialize_f64(self, _v: f64) -> Result<(), Stop> {
        Err(Stop::Different)
    }
    fn serialize_char(self, v: char) -> Result<(), Stop> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result<(), Stop> {
        check(matches!(self.0, Value::Text(t) if t == v))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), Stop> {
        check(matches!(self.0, Value::Bytes(b) if b.as_slice() == v))
    }
    fn serialize_none(self) -> Result<(), Stop> {
        check(matches!(self.0, Value::Null))
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<(), Stop> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Stop> {
        self.serialize_none()
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Stop> {
        self.serialize_none()
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Stop> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        v: &T,
    ) -> Result<(), Stop> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        _index: u32,
        name_of_variant: &'static str,
        v: &T,
    ) -> Result<(), Stop> {
        // ciborium's marker for a value it serializes without a tag.
        if (name, name_of_variant) == ("@@TAG@@", "@@UNTAGGED@@") {
            return Err(Stop::Undecided);
        }
        v.serialize(Same(variant(self.0, name_of_variant)?))
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Elements<'a>, Stop> {
        elements(self.0)
    }
    fn serialize_tuple(self, _len: usize) -> Result<Elements<'a>, Stop> {
        elements(self.0)
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Elements<'a>, Stop> {
        elements(self.0)
    }
    fn serialize_tuple_variant(
        self,
        name: &'static str,
        _index: u32,
        name_of_variant: &'static str,
        _len: usize,
    ) -> Result<Elements<'a>, Stop> {
        // ciborium's marker for a tagged value.
        if name == "@@TAG@@" {
            return Err(Stop::Undecided);
        }
        elements(variant(self.0, name_of_variant)?)
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, Stop> {
        Err(Stop::Undecided)
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Fields<'a>, Stop> {
        fields(self.0)
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        name_of_variant: &'static str,
        _len: usize,
    ) -> Result<Fields<'a>, Stop> {
        fields(variant(self.0, name_of_variant)?)
    }
    fn is_human_readable(&self) -> bool {
        false
    }
}

/// An array's items, matched in order.
struct Elements<'a> {
    items: &'a [Value],
    at: usize,
}

impl Elements<'_> {
    fn element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Stop> {
        let item = self.items.get(self.at).ok_or(Stop::Different)?;
        self.at += 1;
        same(v, item)
    }

    fn finish(self) -> Result<(), Stop> {
        check(self.at == self.items.len())
    }
}

// The four ways serde hands over a sequence's items: each matches the next array item.
macro_rules! elements_impl {
    ($($trait:ident :: $method:ident),+) => {$(
        impl ser::$trait for Elements<'_> {
            type Ok = ();
            type Error = Stop;
            fn $method<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Stop> {
                self.element(v)
            }
            fn end(self) -> Result<(), Stop> {
                self.finish()
            }
        }
    )+};
}

elements_impl!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

/// A map's pairs, matched by text key: each field names a distinct pair, and every pair is named
/// (a canonical map has no two equal keys, so this is equality of the two sets of pairs).
struct Fields<'a> {
    pairs: &'a [(Value, Value)],
    /// Which pairs a field has named (at most 64 pairs).
    seen: u64,
}

impl Fields<'_> {
    fn field<T: Serialize + ?Sized>(&mut self, key: &str, v: &T) -> Result<(), Stop> {
        let at = self
            .pairs
            .iter()
            .position(|(k, _)| matches!(k, Value::Text(t) if t == key))
            .ok_or(Stop::Different)?;
        let bit = 1u64 << at;
        // A key serialized twice makes re-encoding fail.
        check(self.seen & bit == 0)?;
        self.seen |= bit;
        same(v, &self.pairs[at].1)
    }

    fn finish(self) -> Result<(), Stop> {
        check(self.seen.count_ones() as usize == self.pairs.len())
    }
}

// A struct's fields and a struct variant's: each names the pair it matches.
macro_rules! fields_impl {
    ($($trait:ident),+) => {$(
        impl ser::$trait for Fields<'_> {
            type Ok = ();
            type Error = Stop;
            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                v: &T,
            ) -> Result<(), Stop> {
                self.field(key, v)
            }
            fn end(self) -> Result<(), Stop> {
                self.finish()
            }
        }
    )+};
}

fields_impl!(SerializeStruct, SerializeStructVariant);
