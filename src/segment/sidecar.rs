//! The small files beside the segments (SPEC §9.7.1, §9.7.2): the offset index of a sealed
//! segment (`NNNNNNNNNNNNNNNNNNNN.idx`), so opening a directory reads it instead of scanning
//! the segment, and the durable-size state (`state`), so opening tells damage before the last
//! record known durable from a torn tail after it.
//!
//! Both are derived, both are checked before they are believed, and both are replaced whole
//! ([`Backend::replace`]: temporary file, sync, rename, directory sync).

use std::path::{Path, PathBuf};

use super::backend::{Backend, BackendFile, OpenMode};
use super::format::{FRAME_OVERHEAD, HEADER_LEN, Header};
use super::{Corruption, SegmentError};

/// The first 8 bytes of a sealed segment's index file.
pub const INDEX_MAGIC: [u8; 8] = *b"stidx\x00\r\n";
/// BLAKE3 `derive_key` context of an index file's check.
pub const INDEX_CONTEXT: &str = "sealtrail 2026-12-01 segment index v1";
/// The first 8 bytes of the durable-size state file.
pub const STATE_MAGIC: [u8; 8] = *b"ststa\x00\r\n";
/// BLAKE3 `derive_key` context of the state file's check.
pub const STATE_CONTEXT: &str = "sealtrail 2026-12-01 segment state v1";
/// The state file's name in a directory of segments.
pub const STATE_FILE_NAME: &str = "state";
/// Bytes of an index file before its offsets.
pub const INDEX_FIXED_LEN: u64 = 72;
/// Bytes of the state file.
pub const STATE_LEN: u64 = 32;

const VERSION: u16 = 1;

/// The file name of segment `number`'s index: 20 decimal digits and `.idx`.
pub fn index_file_name(number: u64) -> String {
    format!("{number:020}.idx")
}

pub(crate) fn index_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(index_file_name(number))
}

pub(crate) fn state_path(dir: &Path) -> PathBuf {
    dir.join(STATE_FILE_NAME)
}

/// Whether `name` is the temporary name of an index or state file being replaced
/// (`.<name>.tmp`), left behind by a crash.
pub(crate) fn is_sidecar_temp(name: &str) -> bool {
    let Some(inner) = name.strip_prefix('.').and_then(|n| n.strip_suffix(".tmp")) else {
        return false;
    };
    inner == STATE_FILE_NAME
        || inner
            .strip_suffix(".idx")
            .is_some_and(|d| d.len() == 20 && d.bytes().all(|b| b.is_ascii_digit()))
}

fn check(context: &str, bytes: &[u8]) -> [u8; 8] {
    let mut out = [0u8; 8];
    out.copy_from_slice(&blake3::derive_key(context, bytes)[..8]);
    out
}

fn u64_at(b: &[u8], i: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[i..i + 8]);
    u64::from_le_bytes(a)
}

/// What a sealed segment's index says: where each record starts, where the last one ends,
/// and what the segment looked like when it was sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SealIndex {
    /// The segment's header (number, first index and nonce are bound into the index).
    pub header: Header,
    /// The segment file's length when sealed.
    pub file_len: u64,
    /// Where the last record ends.
    pub end: u64,
    /// The segment's last 8 bytes when sealed: its last record's check.
    pub tail_check: [u8; 8],
    /// The offset of each record.
    pub offsets: Vec<u32>,
}

impl SealIndex {
    /// The file's bytes (SPEC §9.7.1).
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(INDEX_FIXED_LEN as usize + 4 * self.offsets.len() + 8);
        b.extend_from_slice(&INDEX_MAGIC);
        b.extend_from_slice(&VERSION.to_le_bytes());
        b.extend_from_slice(&[0, 0]);
        b.extend_from_slice(&(self.offsets.len() as u32).to_le_bytes());
        b.extend_from_slice(&self.header.number.to_le_bytes());
        b.extend_from_slice(&self.header.first_index.to_le_bytes());
        b.extend_from_slice(&self.header.nonce);
        b.extend_from_slice(&self.file_len.to_le_bytes());
        b.extend_from_slice(&self.end.to_le_bytes());
        debug_assert_eq!(b.len() as u64, INDEX_FIXED_LEN - 8);
        b.extend_from_slice(&self.tail_check);
        for o in &self.offsets {
            b.extend_from_slice(&o.to_le_bytes());
        }
        let c = check(INDEX_CONTEXT, &b);
        b.extend_from_slice(&c);
        b
    }

    /// Decodes index bytes and checks them against the segment they describe: `None` when
    /// anything is off (the caller then scans the segment).
    pub fn decode(b: &[u8], header: &Header, file_len: u64) -> Option<SealIndex> {
        let body_len = b.len().checked_sub(8)?;
        if (body_len as u64) < INDEX_FIXED_LEN || (body_len as u64 - INDEX_FIXED_LEN) % 4 != 0 {
            return None;
        }
        let (body, c) = b.split_at(body_len);
        if b[..8] != INDEX_MAGIC || c != check(INDEX_CONTEXT, body) {
            return None;
        }
        if b[8..10] != VERSION.to_le_bytes() || b[10..12] != [0, 0] {
            return None;
        }
        let count = u64::from(u32::from_le_bytes(b[12..16].try_into().ok()?));
        if count == 0 || (body_len as u64 - INDEX_FIXED_LEN) / 4 != count {
            return None;
        }
        if u64_at(b, 16) != header.number || u64_at(b, 24) != header.first_index {
            return None;
        }
        if b[32..48] != header.nonce || u64_at(b, 48) != file_len {
            return None;
        }
        let end = u64_at(b, 56);
        let mut tail_check = [0u8; 8];
        tail_check.copy_from_slice(&b[64..72]);
        let offsets: Vec<u32> = body[INDEX_FIXED_LEN as usize..]
            .chunks_exact(4)
            .map(|o| u32::from_le_bytes([o[0], o[1], o[2], o[3]]))
            .collect();
        // Offsets climb from the header by at least a frame each and stay below the end.
        let mut next = HEADER_LEN;
        for &o in &offsets {
            if u64::from(o) < next {
                return None;
            }
            next = u64::from(o) + FRAME_OVERHEAD;
        }
        if end < next || end > file_len || end > u64::from(header.capacity) {
            return None;
        }
        Some(SealIndex {
            header: header.clone(),
            file_len,
            end,
            tail_check,
            offsets,
        })
    }
}

/// Reads and checks segment `number`'s index, if it has a believable one: the file's own
/// check passes, it names this segment (number, first index, nonce), the segment is as long as
/// when it was sealed, and its last 8 bytes are the ones recorded. Any I/O failure or mismatch
/// gives `None`; the caller scans the segment instead.
pub(crate) fn read_index(
    backend: &dyn Backend,
    dir: &Path,
    header: &Header,
    segment: &dyn BackendFile,
    file_len: u64,
) -> Option<SealIndex> {
    let file = backend
        .open(&index_path(dir, header.number), OpenMode::Read)
        .ok()?;
    let len = file.len().ok()?;
    // Bounded by the segment it describes before anything is allocated: at most one offset
    // per 12 bytes of frames.
    let most = INDEX_FIXED_LEN + 8 + 4 * (file_len.saturating_sub(HEADER_LEN) / FRAME_OVERHEAD);
    if len > most {
        return None;
    }
    let mut bytes = vec![0u8; usize::try_from(len).ok()?];
    file.read_exact_at(&mut bytes, 0).ok()?;
    let index = SealIndex::decode(&bytes, header, file_len)?;
    let mut tail = [0u8; 8];
    segment
        .read_exact_at(&mut tail, index.end.checked_sub(8)?)
        .ok()?;
    (tail == index.tail_check).then_some(index)
}

/// Encodes the state file: `records`, the number of records known durable.
pub(crate) fn encode_state(records: u64) -> [u8; STATE_LEN as usize] {
    let mut b = [0u8; STATE_LEN as usize];
    b[0..8].copy_from_slice(&STATE_MAGIC);
    b[8..10].copy_from_slice(&VERSION.to_le_bytes());
    b[16..24].copy_from_slice(&records.to_le_bytes());
    let c = check(STATE_CONTEXT, &b[..24]);
    b[24..32].copy_from_slice(&c);
    b
}

/// Decodes and checks the state file's bytes: the number of records known durable.
pub(crate) fn decode_state(b: &[u8]) -> Result<u64, Corruption> {
    if b.len() as u64 != STATE_LEN {
        return Err(Corruption::State);
    }
    if b[0..8] != STATE_MAGIC || b[24..32] != check(STATE_CONTEXT, &b[..24]) {
        return Err(Corruption::State);
    }
    if b[8..10] != VERSION.to_le_bytes() || b[10..16] != [0; 6] {
        return Err(Corruption::State);
    }
    Ok(u64_at(b, 16))
}

/// Reads the state file of `dir`: the number of records known durable (0 when there is no
/// state file). A state file that is present but fails its check is damage: it is replaced
/// only whole, so no crash leaves it so.
pub(crate) fn read_state(backend: &dyn Backend, dir: &Path) -> Result<u64, SegmentError> {
    let path = state_path(dir);
    let io = |e| SegmentError::io(path.display().to_string(), e);
    let file = match backend.open(&path, OpenMode::Read) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(io(e)),
    };
    let len = file.len().map_err(io)?;
    if len != STATE_LEN {
        return Err(SegmentError::BadState {
            problem: Corruption::State,
        });
    }
    let mut b = [0u8; STATE_LEN as usize];
    file.read_exact_at(&mut b, 0).map_err(io)?;
    decode_state(&b).map_err(|problem| SegmentError::BadState { problem })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            capacity: 4096,
            number: 3,
            first_index: 40,
            nonce: [7; 16],
        }
    }

    #[test]
    fn an_index_round_trips_and_any_changed_byte_is_refused() {
        let index = SealIndex {
            header: header(),
            file_len: 200,
            end: 200,
            tail_check: [9; 8],
            offsets: vec![56, 100, 150],
        };
        let bytes = index.encode();
        assert_eq!(bytes.len() as u64, INDEX_FIXED_LEN + 12 + 8);
        assert_eq!(SealIndex::decode(&bytes, &header(), 200), Some(index));
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x10;
            assert_eq!(SealIndex::decode(&b, &header(), 200), None, "byte {i}");
        }
        // Another length of segment, or another segment made under the same number.
        assert_eq!(SealIndex::decode(&bytes, &header(), 201), None);
        let mut other = header();
        other.nonce[0] ^= 1;
        assert_eq!(SealIndex::decode(&bytes, &other, 200), None);
        assert_eq!(SealIndex::decode(&bytes[..20], &header(), 200), None);
    }

    #[test]
    fn the_state_round_trips_and_any_changed_byte_is_refused() {
        let b = encode_state(12_345);
        assert_eq!(decode_state(&b), Ok(12_345));
        for i in 0..b.len() {
            let mut c = b;
            c[i] ^= 1;
            assert_eq!(decode_state(&c), Err(Corruption::State), "byte {i}");
        }
    }

    #[test]
    fn temporary_names_of_sidecars_are_recognised() {
        assert!(is_sidecar_temp(".state.tmp"));
        assert!(is_sidecar_temp(&format!(".{}.tmp", index_file_name(5))));
        assert!(!is_sidecar_temp(".00000000000000000005.seg.tmp"));
        assert!(!is_sidecar_temp("state"));
        assert!(!is_sidecar_temp(".5.idx.tmp"));
    }
}
