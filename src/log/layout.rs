//! How a log lies in its store (SPEC §9.1, informative): key prefixes and the stored record.

use crate::codec::{DecodeError, Decoder, Encoder};

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

/// The entry whose record holds perfect node (level, index): the last leaf it covers.
pub(crate) fn record_of_node(level: u32, index: u64) -> Option<u64> {
    index
        .checked_add(1)?
        .checked_shl(level)
        .filter(|v| v.leading_zeros() >= level)?
        .checked_sub(1)
}

/// The lowest level of the Merkle nodes a stored record holds (SPEC §9.1): the nodes of levels 1
/// to 7 lie inside one level-0 tile of 256 leaves (§9.8) and are recomputed from its leaves, so
/// a record of entry `seq` holds the nodes of levels 8 to `t` its leaf completes, `t` the
/// number of trailing one bits of `seq`: one record in 256 holds any.
pub const RECORD_NODE_LEVEL: u32 = 8;

/// How many Merkle nodes the record of entry `seq` holds: those of levels
/// [`RECORD_NODE_LEVEL`] to `t` that its leaf completes, where `t` is the number of trailing
/// one bits of `seq` (SPEC §9.1).
pub(crate) fn record_node_count(seq: u64) -> usize {
    seq.trailing_ones().saturating_sub(RECORD_NODE_LEVEL - 1) as usize
}

// Flag bits of a stored record (SPEC §9.1).
const PRESENT: u8 = 1 << 0;
const CONTROL: u8 = 1 << 1;
const SIGNER_INLINE: u8 = 1 << 2;
const SESSION_INLINE: u8 = 1 << 3;
const KIND_INLINE: u8 = 1 << 4;
const KNOWN_FLAGS: u8 = PRESENT | CONTROL | SIGNER_INLINE | SESSION_INLINE | KIND_INLINE;

/// A header field a record holds itself, or finds in the earlier record `At` names, which
/// holds it itself (SPEC §9.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Held<T> {
    /// In this record.
    Inline(T),
    /// In the record of this earlier entry.
    At(u64),
}

/// The payload part of a stored record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeldPayload<'a> {
    /// The salt and the payload: the header's commitment is recomputed from them.
    Present {
        /// The salt.
        salt: [u8; 32],
        /// The payload.
        data: &'a [u8],
    },
    /// Erased: only the commitment is kept.
    Erased {
        /// The header's payload commitment.
        commitment: [u8; 32],
    },
}

/// A stored record (SPEC §9.1) as its bytes say, before the fields it elides are restored:
/// what a reader cannot recompute. The log id comes from the descriptor, `seq` from the
/// record's position, the format version is the one this writer writes, the payload
/// commitment is recomputed from salt and payload while they are present, the hash of a linked
/// entry `k` (control link and links) is the `prev` of record `k + 1`, and a signer, session or
/// kind may be held by an earlier record. Reading restores the header's exact bytes, and the
/// signature and chain checks run over them: a field restored wrong fails them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredRecord<'a> {
    /// The entry's time, in nanoseconds since the Unix epoch.
    pub(crate) time: u64,
    /// The signer's key id.
    pub(crate) signer: Held<[u8; 32]>,
    /// The session (empty for none).
    pub(crate) session: Held<&'a str>,
    /// The kind.
    pub(crate) kind: Held<&'a str>,
    /// The previous entry's hash.
    pub(crate) prev: [u8; 32],
    /// The control link's position.
    pub(crate) control: Option<u64>,
    /// The links' positions, increasing.
    pub(crate) links: Vec<u64>,
    /// The entry's signature.
    pub(crate) signature: [u8; 64],
    /// The Merkle nodes of levels [`RECORD_NODE_LEVEL`] and up that the entry's leaf
    /// completes, 32 bytes each, lowest first.
    pub(crate) nodes: &'a [u8],
    /// The payload, or its commitment once erased.
    pub(crate) payload: HeldPayload<'a>,
}

impl StoredRecord<'_> {
    /// The record's bytes (SPEC §9.1).
    pub(crate) fn encode(&self) -> Vec<u8> {
        let payload_len = match self.payload {
            HeldPayload::Present { data, .. } => 32 + data.len(),
            HeldPayload::Erased { .. } => 32,
        };
        let mut e = Encoder::with_capacity(200 + self.nodes.len() + payload_len);
        let mut flags = 0;
        if matches!(self.payload, HeldPayload::Present { .. }) {
            flags |= PRESENT;
        }
        if self.control.is_some() {
            flags |= CONTROL;
        }
        if matches!(self.signer, Held::Inline(_)) {
            flags |= SIGNER_INLINE;
        }
        if matches!(self.session, Held::Inline(_)) {
            flags |= SESSION_INLINE;
        }
        if matches!(self.kind, Held::Inline(_)) {
            flags |= KIND_INLINE;
        }
        e.raw(&[flags]).raw(&self.time.to_be_bytes());
        match self.signer {
            Held::Inline(k) => e.raw(&k),
            Held::At(s) => e.u64(s),
        };
        for field in [self.session, self.kind] {
            match field {
                Held::Inline(t) => e.text(t),
                Held::At(s) => e.u64(s),
            };
        }
        e.raw(&self.prev);
        if let Some(c) = self.control {
            e.u64(c);
        }
        e.u64(self.links.len() as u64);
        for &l in &self.links {
            e.u64(l);
        }
        e.raw(&self.signature).raw(self.nodes);
        match self.payload {
            HeldPayload::Present { salt, data } => e.raw(&salt).raw(data),
            HeldPayload::Erased { commitment } => e.raw(&commitment),
        };
        e.into_bytes()
    }
}

impl<'a> StoredRecord<'a> {
    /// Parses the record of entry `seq`. Checks the layout only: that every reference names an
    /// earlier entry, links increase, and the record holds the nodes its position calls for.
    pub(crate) fn parse(seq: u64, bytes: &'a [u8]) -> Result<StoredRecord<'a>, DecodeError> {
        let mut d = Decoder::new(bytes);
        let invalid = |d: &Decoder<'_>, field, reason| DecodeError::InvalidField {
            offset: d.at(),
            field,
            reason,
        };
        let [flags] = d.raw_fixed::<1>()?;
        if flags & !KNOWN_FLAGS != 0 {
            return Err(invalid(&d, "flags", "unknown flag bits"));
        }
        let time = u64::from_be_bytes(d.raw_fixed::<8>()?);
        let earlier = |d: &mut Decoder<'_>, field| -> Result<u64, DecodeError> {
            let at = d.u64()?;
            if at >= seq {
                return Err(invalid(d, field, "names an entry that is not earlier"));
            }
            Ok(at)
        };
        let signer = if flags & SIGNER_INLINE != 0 {
            Held::Inline(d.raw_fixed::<32>()?)
        } else {
            Held::At(earlier(&mut d, "signer")?)
        };
        let session = if flags & SESSION_INLINE != 0 {
            Held::Inline(d.text()?)
        } else {
            Held::At(earlier(&mut d, "session")?)
        };
        let kind = if flags & KIND_INLINE != 0 {
            Held::Inline(d.text()?)
        } else {
            Held::At(earlier(&mut d, "kind")?)
        };
        let prev = d.raw_fixed::<32>()?;
        let control = if flags & CONTROL != 0 {
            Some(earlier(&mut d, "control")?)
        } else {
            None
        };
        let n = d.u64()?;
        if n > crate::entry::MAX_LINKS as u64 {
            return Err(invalid(&d, "links", "more than 64 links"));
        }
        let mut links = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let l = earlier(&mut d, "links")?;
            if links.last().is_some_and(|&p| p >= l) {
                return Err(invalid(&d, "links", "not increasing"));
            }
            links.push(l);
        }
        let signature = d.raw_fixed::<64>()?;
        let nodes = d.raw_bytes(32 * record_node_count(seq))?;
        let payload = if flags & PRESENT != 0 {
            let salt = d.raw_fixed::<32>()?;
            HeldPayload::Present {
                salt,
                data: d.rest(),
            }
        } else {
            let commitment = d.raw_fixed::<32>()?;
            d.finish()?;
            HeldPayload::Erased { commitment }
        };
        Ok(StoredRecord {
            time,
            signer,
            session,
            kind,
            prev,
            control,
            links,
            signature,
            nodes,
            payload,
        })
    }

    /// Perfect node `level` ([`RECORD_NODE_LEVEL`] and up) from the record's nodes, if it
    /// holds it.
    pub(crate) fn node(&self, level: u32) -> Option<[u8; 32]> {
        let start = (level.checked_sub(RECORD_NODE_LEVEL)? as usize).checked_mul(32)?;
        self.nodes.get(start..start + 32)?.try_into().ok()
    }
}

/// The stored record of `entry` (SPEC §9.1), holding its signer, session and kind itself, with
/// `payload` and `nodes`: the 32-byte Merkle nodes of levels [`RECORD_NODE_LEVEL`] and up that
/// the entry's leaf completes, lowest first (none unless `seq` ends in eight one bits). A log writes its own records; this is for tools and tests that
/// write a store directly. The record keeps links and the control link by position only (a
/// reader takes their hashes from the chain), so an entry whose links name other hashes reads
/// back as a different entry, which its signature no longer covers.
pub fn encode_record(
    entry: &crate::entry::Entry,
    payload: &crate::entry::Payload,
    nodes: &[u8],
) -> Vec<u8> {
    let h = entry.header();
    StoredRecord {
        time: h.time.0,
        signer: Held::Inline(h.signer.0),
        session: Held::Inline(h.session.as_str()),
        kind: Held::Inline(h.kind.as_str()),
        prev: h.prev.0,
        control: h.control.map(|l| l.seq),
        links: h.links.iter().map(|l| l.seq).collect(),
        signature: *entry.signature(),
        nodes,
        payload: match payload {
            crate::entry::Payload::Present { salt, data } => {
                HeldPayload::Present { salt: salt.0, data }
            }
            crate::entry::Payload::Erased => HeldPayload::Erased {
                commitment: h.payload.0,
            },
        },
    }
    .encode()
}

/// Adds node `n`, one its record's leaf completed, to the record's node bytes `out` if a
/// record holds it (SPEC §9.1): the completed nodes of level [`RECORD_NODE_LEVEL`] and up,
/// lowest first, which is the order [`crate::merkle::Frontier::append_with`] completes them in.
pub(crate) fn push_record_node(out: &mut Vec<u8>, n: &crate::merkle::PerfectNode) {
    if n.id.level >= RECORD_NODE_LEVEL {
        out.extend_from_slice(&n.hash);
    }
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

    #[test]
    fn records_hold_the_nodes_of_level_eight_and_up() {
        assert_eq!(record_node_count(0), 0);
        assert_eq!(record_node_count(127), 0);
        assert_eq!(record_node_count(254), 0);
        assert_eq!(record_node_count(255), 1);
        assert_eq!(record_node_count(511), 2);
        assert_eq!(record_node_count(767), 1);
        assert_eq!(record_node_count(u64::MAX), 57);
    }
}
