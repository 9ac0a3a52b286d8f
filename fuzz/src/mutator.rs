//! A structure-aware mutator for the CBOR targets (SPEC §3): half of the mutations are
//! libFuzzer's own byte-level ones; the other half decode the input as a CBOR sequence and change
//! one value somewhere in its tree, descending into byte strings that hold CBOR themselves (an
//! entry's header inside its wire form, inside a bundle's entry item), then re-encode every level
//! canonically. Byte-level mutation almost never gets past a length prefix or a nested byte
//! string's length, so without this the fuzzer rarely builds, say, a well-formed entry with an
//! extreme sequence number inside a bundle.

use ciborium::value::{Integer, Value};
use sealtrail::codec::{Decoder, decode_value, encode_value};

/// A small deterministic generator: libFuzzer hands each mutation a seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }
}

/// Integers at the edges of every range the format uses.
const INTEGERS: &[i128] = &[
    0,
    1,
    2,
    23,
    24,
    255,
    256,
    65_535,
    65_536,
    u32::MAX as i128,
    1 << 32,
    i64::MAX as i128,
    1 << 63,
    u64::MAX as i128 - 1,
    u64::MAX as i128,
    -1,
    -24,
    -25,
    i64::MIN as i128,
    -(u64::MAX as i128) - 1,
];

/// Texts the format gives meaning to.
const TEXTS: &[&str] = &[
    "",
    " ",
    "erased",
    "withheld-kind",
    "withheld-entry",
    "contiguous",
    "selection",
    "blake3",
    "sha256",
    "key_register",
    "key_revoke",
    "key_rotate",
    "approval",
    "erasure",
    "session_started",
    "custom",
    "sealtrail-bundle",
    "example.com/fuzz-seeds",
    "a#blake3",
    "\u{7f}",
    "\u{2014}",
];

fn integer(rng: &mut Rng, old: i128) -> Value {
    let v = match rng.below(6) {
        0 => old.wrapping_add(1),
        1 => old.wrapping_sub(1),
        2 => i128::from(rng.next()),
        _ => INTEGERS[rng.below(INTEGERS.len())],
    };
    Integer::try_from(v).map_or(Value::Integer(0.into()), Value::Integer)
}

fn bytes(rng: &mut Rng, b: &mut Vec<u8>) {
    match rng.below(6) {
        0 if !b.is_empty() => {
            let i = rng.below(b.len());
            b[i] ^= 1 << rng.below(8);
        }
        1 => b.truncate(rng.below(b.len() + 1)),
        2 => b.push(rng.next() as u8),
        3 => *b = vec![0; [0, 1, 31, 32, 33, 63, 64, 65][rng.below(8)]],
        4 if !b.is_empty() => {
            let i = rng.below(b.len());
            b.insert(i, b[i]);
        }
        _ => b.clear(),
    }
}

// A value of another type, to break the schema.
fn replacement(rng: &mut Rng) -> Value {
    match rng.below(6) {
        0 => Value::Null,
        1 => Value::Bool(rng.one_in(2)),
        2 => Value::Integer(0.into()),
        3 => Value::Bytes(vec![0; 32]),
        4 => Value::Text(TEXTS[rng.below(TEXTS.len())].to_owned()),
        _ => Value::Array(Vec::new()),
    }
}

/// Changes one value in the tree under `v`; false if nothing could be changed.
fn mutate(v: &mut Value, rng: &mut Rng, depth: usize) -> bool {
    if depth > 24 {
        return false;
    }
    if rng.one_in(16) {
        *v = replacement(rng);
        return true;
    }
    match v {
        Value::Integer(i) => {
            *v = integer(rng, i128::from(*i));
            true
        }
        Value::Bytes(b) => {
            // Bytes that are themselves one CBOR container: change something inside them.
            if !rng.one_in(4)
                && let Ok(mut inner @ (Value::Array(_) | Value::Map(_))) = decode_value(b)
            {
                if mutate(&mut inner, rng, depth + 1)
                    && let Ok(encoded) = encode_value(&inner)
                {
                    *b = encoded;
                    return true;
                }
                return false;
            }
            bytes(rng, b);
            true
        }
        Value::Text(t) => {
            if rng.one_in(2) {
                *t = TEXTS[rng.below(TEXTS.len())].to_owned();
            } else {
                let mut b = std::mem::take(t).into_bytes();
                bytes(rng, &mut b);
                *t = String::from_utf8_lossy(&b).into_owned();
            }
            true
        }
        Value::Bool(b) => {
            *b = !*b;
            true
        }
        Value::Array(items) => {
            if items.is_empty() || rng.one_in(8) {
                match rng.below(3) {
                    0 if !items.is_empty() => {
                        items.remove(rng.below(items.len()));
                    }
                    1 if !items.is_empty() => {
                        let i = rng.below(items.len());
                        items.insert(i, items[i].clone());
                    }
                    _ if items.len() > 1 => {
                        let (i, j) = (rng.below(items.len()), rng.below(items.len()));
                        items.swap(i, j);
                    }
                    _ => items.push(replacement(rng)),
                }
                return true;
            }
            let i = rng.below(items.len());
            mutate(&mut items[i], rng, depth + 1)
        }
        Value::Map(pairs) => {
            if pairs.is_empty() {
                return false;
            }
            if rng.one_in(8) {
                pairs.remove(rng.below(pairs.len()));
                return true;
            }
            let i = rng.below(pairs.len());
            if rng.one_in(8) {
                mutate(&mut pairs[i].0, rng, depth + 1)
            } else {
                mutate(&mut pairs[i].1, rng, depth + 1)
            }
        }
        _ => false,
    }
}

// The items of a CBOR sequence and the bytes after the last item that decodes.
fn items(data: &[u8]) -> (Vec<Vec<u8>>, Vec<u8>) {
    let mut d = Decoder::new(data);
    let mut out = Vec::new();
    while d.remaining() > 0 {
        match d.raw_item() {
            Ok(item) => out.push(item.to_vec()),
            Err(_) => break,
        }
    }
    let rest = data.get(d.position()..).unwrap_or_default().to_vec();
    (out, rest)
}

/// The structure-aware half; `None` when the input has no CBOR item to work on.
fn structured(input: &[u8], seed: u32) -> Option<Vec<u8>> {
    let mut rng = Rng(u64::from(seed) | 1 << 40);
    let (mut items, rest) = items(input);
    if items.is_empty() {
        return None;
    }
    let i = rng.below(items.len());
    if rng.one_in(10) {
        // Sequence level: drop, repeat or swap whole items (entries in a bundle).
        match rng.below(3) {
            0 => {
                items.remove(i);
            }
            1 => items.insert(i, items[i].clone()),
            _ => {
                let j = rng.below(items.len());
                items.swap(i, j);
            }
        }
    } else {
        let mut v = decode_value(&items[i]).ok()?;
        let mut changed = false;
        for _ in 0..4 {
            if mutate(&mut v, &mut rng, 0) {
                changed = true;
                break;
            }
        }
        if !changed {
            return None;
        }
        items[i] = encode_value(&v).ok()?;
    }
    let mut out = items.concat();
    out.extend_from_slice(&rest);
    Some(out)
}

/// The mutator: call it from `fuzz_mutator!`.
pub fn mutate_cbor(data: &mut [u8], size: usize, max_size: usize, seed: u32) -> usize {
    if seed.is_multiple_of(2)
        && let Some(out) = data.get(..size).and_then(|input| structured(input, seed))
        && out.len() <= max_size
    {
        data[..out.len()].copy_from_slice(&out);
        return out.len();
    }
    libfuzzer_sys::fuzzer_mutate(data, size, max_size)
}
