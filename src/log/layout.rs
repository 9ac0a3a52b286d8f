//! How a log lies in its store (SPEC §9.1, informative): key prefixes and the stored record.

use crate::codec::{DecodeError, Decoder, Encoder};
use crate::entry::Payload;
use crate::hash::Salt;

/// Entry records by sequence number.
pub(crate) const ENTRY: u8 = 0x01;
/// Session run markers: where a run of one session's entries starts.
pub(crate) const RUN: u8 = 0x02;
/// Key-management entries by sequence number (to rebuild the registry on open).
pub(crate) const KEYS: u8 = 0x03;

/// Meta keys (prefix 0x00): the descriptor and the durable watermark.
pub(crate) const DESCRIPTOR_KEY: &[u8] = b"\x00descriptor";
pub(crate) const WATERMARK_KEY: &[u8] = b"\x00watermark";

pub(crate) fn seq_key(prefix: u8, seq: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = prefix;
    k[1..].copy_from_slice(&seq.to_be_bytes());
    k
}

/// The end of a prefix's key range (exclusive).
pub(crate) fn prefix_end(prefix: u8) -> [u8; 1] {
    [prefix + 1]
}

pub(crate) fn seq_of(key: &[u8]) -> Option<u64> {
    let b: [u8; 8] = key.get(key.len().checked_sub(8)?..)?.try_into().ok()?;
    Some(u64::from_be_bytes(b))
}

/// Prefix of every run marker of one session: `0x02 ‖ len ‖ session`.
pub(crate) fn run_prefix(session: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(2 + session.len() + 8);
    k.push(RUN);
    // Session ids are at most 128 bytes, so the length fits in one byte.
    k.push(session.len() as u8);
    k.extend_from_slice(session.as_bytes());
    k
}

pub(crate) fn run_key(session: &str, seq: u64) -> Vec<u8> {
    let mut k = run_prefix(session);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// The range of all run markers of a session, `[start, end)`.
pub(crate) fn run_range(session: &str) -> (Vec<u8>, Vec<u8>) {
    let start = run_prefix(session);
    let mut end = start.clone();
    end.extend_from_slice(&[0xff; 9]);
    (start, end)
}

/// A stored record: `[entry, salt, payload]`, or `[entry]` once the payload is erased. Every
/// byte of it is covered by verification: the erasure's reason lives in a signed `erasure` entry.
pub(crate) fn encode_record(entry: &[u8], payload: &Payload) -> Vec<u8> {
    match payload {
        Payload::Present { salt, data } => {
            let mut e = Encoder::with_capacity(entry.len() + data.len() + 48);
            e.array(3).bytes(entry).bytes(&salt.0).bytes(data);
            e.into_bytes()
        }
        Payload::Erased => {
            let mut e = Encoder::with_capacity(entry.len() + 8);
            e.array(1).bytes(entry);
            e.into_bytes()
        }
    }
}

pub(crate) fn decode_record(bytes: &[u8]) -> Result<(&[u8], Payload), DecodeError> {
    let mut d = Decoder::new(bytes);
    let n = d.array()?;
    let entry = d.bytes()?;
    let payload = match n {
        3 => {
            let salt = Salt(d.bytes_fixed::<32>("salt")?);
            let data = d.bytes()?.to_vec();
            Payload::Present { salt, data }
        }
        1 => Payload::Erased,
        _ => {
            return Err(DecodeError::UnexpectedType {
                offset: 0,
                expected: "a stored record of 1 or 3 items",
            });
        }
    };
    d.finish()?;
    Ok((entry, payload))
}
