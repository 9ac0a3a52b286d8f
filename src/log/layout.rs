//! How a log lies in its store (SPEC §9.1, informative): key prefixes and the stored record.

use crate::codec::{DecodeError, Decoder, Encoder};
use crate::entry::Payload;
use crate::hash::Salt;

/// Entry records by sequence number.
pub(crate) const ENTRY: u8 = 0x01;
/// Session run markers: where a run of one session's entries starts.
pub(crate) const RUN: u8 = 0x02;

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

/// Checkpoints by tree size.
pub(crate) const CHECKPOINTS: u8 = 0x04;

/// Perfect Merkle nodes of level [`RECORD_LEVELS`] and above, by level and index.
pub(crate) const NODES: u8 = 0x05;

/// Nodes of levels below this are stored in the record of the last leaf they cover; higher ones
/// (one per 8 entries on average) under [`NODES`], compact and close together, so a proof reads
/// one small neighbourhood of records and a handful of small keys (SPEC §9.1).
pub(crate) const RECORD_LEVELS: u32 = 4;

pub(crate) fn node_key(level: u32, index: u64) -> [u8; 10] {
    let mut k = [0u8; 10];
    k[0] = NODES;
    k[1] = level as u8;
    k[2..].copy_from_slice(&index.to_be_bytes());
    k
}

/// The entry whose record holds perfect node (level, index): the last leaf it covers.
pub(crate) fn record_of_node(level: u32, index: u64) -> Option<u64> {
    index
        .checked_add(1)?
        .checked_shl(level)
        .filter(|v| v.leading_zeros() >= level)?
        .checked_sub(1)
}

/// A stored record (SPEC §9.1): `[entry, salt, payload, nodes]`, or `[entry, nodes]` once the
/// payload is erased, where `nodes` holds the 32-byte Merkle nodes the entry's leaf completed.
/// Every byte is covered by verification: the entry by its signature and the chain, salt and
/// payload by the commitment, the nodes by recomputing the tree, and an erasure by its signed
/// `erasure` entry.
pub(crate) fn encode_record(entry: &[u8], payload: &Payload, nodes: &[u8]) -> Vec<u8> {
    match payload {
        Payload::Present { salt, data } => {
            let mut e = Encoder::with_capacity(entry.len() + data.len() + nodes.len() + 48);
            e.array(4)
                .bytes(entry)
                .bytes(&salt.0)
                .bytes(data)
                .bytes(nodes);
            e.into_bytes()
        }
        Payload::Erased => {
            let mut e = Encoder::with_capacity(entry.len() + nodes.len() + 16);
            e.array(2).bytes(entry).bytes(nodes);
            e.into_bytes()
        }
    }
}

/// A decoded record: the entry bytes, the payload, and the stored nodes.
pub(crate) type RecordParts<'a> = (&'a [u8], Payload, &'a [u8]);

pub(crate) fn decode_record(bytes: &[u8]) -> Result<RecordParts<'_>, DecodeError> {
    let mut d = Decoder::new(bytes);
    let n = d.array()?;
    let entry = d.bytes()?;
    let payload = match n {
        4 => {
            let salt = Salt(d.bytes_fixed::<32>("salt")?);
            let data = d.bytes()?.to_vec();
            Payload::Present { salt, data }
        }
        2 => Payload::Erased,
        _ => {
            return Err(DecodeError::UnexpectedType {
                offset: 0,
                expected: "a stored record of 2 or 4 items",
            });
        }
    };
    let nodes = d.bytes()?;
    d.finish()?;
    Ok((entry, payload, nodes))
}

/// Perfect node `level` from a record's nodes, if the record holds it.
pub(crate) fn node_at(nodes: &[u8], level: u32) -> Option<[u8; 32]> {
    let start = (level as usize).checked_mul(32)?;
    nodes.get(start..start + 32)?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_placement() {
        // A node is stored with the last leaf it covers.
        assert_eq!(record_of_node(0, 5), Some(5));
        assert_eq!(record_of_node(3, 0), Some(7));
        assert_eq!(record_of_node(2, 1), Some(7));
        assert_eq!(record_of_node(1, 2), Some(5));
        assert_eq!(record_of_node(63, 2), None);
        assert_eq!(record_of_node(0, u64::MAX), None);
    }
}
