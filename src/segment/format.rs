//! The bytes of a segment file (see the module documentation of [`crate::segment`]): its
//! header, record frames and the scan that finds the last complete, checked record.

use std::path::{Path, PathBuf};

use super::backend::BackendFile;
use super::{Corruption, SegmentError};

/// The first 8 bytes of every segment file.
pub const MAGIC: [u8; 8] = *b"stseg\x00\r\n";
/// The format version in the header.
pub const VERSION: u16 = 1;
/// Header bytes: magic, version, reserved, capacity, segment number, first record index,
/// nonce, check.
pub const HEADER_LEN: u64 = 56;
/// Bytes a frame adds to its body: the length before it and the check after it.
pub const FRAME_OVERHEAD: u64 = 12;
/// The smallest capacity a segment may have.
pub const MIN_CAPACITY: u32 = 128;
/// BLAKE3 `derive_key` context of the header check.
pub const HEADER_CONTEXT: &str = "sealtrail 2026-12-01 segment header v1";
/// BLAKE3 `derive_key` context of the key every record check of a segment is made with.
pub const RECORD_CONTEXT: &str = "sealtrail 2026-12-01 segment record v1";

/// The file name of segment `number`: 20 decimal digits and `.seg`, so names sort in order.
pub fn file_name(number: u64) -> String {
    format!("{number:020}.seg")
}

/// The segment number a file name stands for, if it is a segment's.
pub fn parse_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".seg")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

pub(crate) fn path(dir: &Path, number: u64) -> PathBuf {
    dir.join(file_name(number))
}

/// The temporary name a segment is made under before it is renamed into place:
/// `.<file name>.tmp`.
pub fn temp_file_name(number: u64) -> String {
    format!(".{}.tmp", file_name(number))
}

/// Whether a file name is a segment's temporary name.
pub fn is_temp_file_name(name: &str) -> bool {
    name.strip_prefix('.')
        .and_then(|n| n.strip_suffix(".tmp"))
        .and_then(parse_file_name)
        .is_some()
}

/// A segment's header, decoded and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The largest the file may grow, header included.
    pub capacity: u32,
    /// The segment's number (also in its file name).
    pub number: u64,
    /// The index of the segment's first record in the whole sequence.
    pub first_index: u64,
    /// Random bytes chosen when the segment was made: a segment made again under the same
    /// number checks its records under another key.
    pub nonce: [u8; 16],
}

impl Header {
    /// The 56 header bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN as usize] {
        let mut b = [0u8; HEADER_LEN as usize];
        b[0..8].copy_from_slice(&MAGIC);
        b[8..10].copy_from_slice(&VERSION.to_le_bytes());
        b[12..16].copy_from_slice(&self.capacity.to_le_bytes());
        b[16..24].copy_from_slice(&self.number.to_le_bytes());
        b[24..32].copy_from_slice(&self.first_index.to_le_bytes());
        b[32..48].copy_from_slice(&self.nonce);
        let check = blake3::derive_key(HEADER_CONTEXT, &b[..48]);
        b[48..56].copy_from_slice(&check[..8]);
        b
    }

    /// Decodes and checks header bytes.
    pub fn decode(b: &[u8]) -> Result<Header, Corruption> {
        let b: &[u8; HEADER_LEN as usize] = b
            .get(..HEADER_LEN as usize)
            .and_then(|s| s.try_into().ok())
            .ok_or(Corruption::HeaderCut)?;
        let check = blake3::derive_key(HEADER_CONTEXT, &b[..48]);
        if b[0..8] != MAGIC {
            return Err(Corruption::Magic);
        }
        if b[48..56] != check[..8] {
            return Err(Corruption::HeaderCheck);
        }
        let u16_at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let u64_at = |i: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[i..i + 8]);
            u64::from_le_bytes(a)
        };
        let version = u16_at(8);
        if version != VERSION {
            return Err(Corruption::Version(version));
        }
        if u16_at(10) != 0 {
            return Err(Corruption::Reserved);
        }
        let capacity = u32_at(12);
        if capacity < MIN_CAPACITY {
            return Err(Corruption::Capacity(capacity));
        }
        let mut nonce = [0u8; 16];
        nonce.copy_from_slice(&b[32..48]);
        Ok(Header {
            capacity,
            number: u64_at(16),
            first_index: u64_at(24),
            nonce,
        })
    }

    /// The key this segment's record checks are made with.
    pub fn record_key(&self) -> [u8; 32] {
        blake3::derive_key(RECORD_CONTEXT, &self.encode()[..48])
    }

    /// The largest record body that fits in a segment of this capacity.
    pub fn max_body(&self) -> u64 {
        max_body(self.capacity)
    }
}

/// The largest record body that fits in a segment of `capacity` bytes.
pub fn max_body(capacity: u32) -> u64 {
    u64::from(capacity).saturating_sub(HEADER_LEN + FRAME_OVERHEAD)
}

/// The check that ends a record's frame: the first 8 bytes of BLAKE3 keyed with the
/// segment's record key, over the record's index (8 bytes LE) and its body.
pub fn record_check(key: &[u8; 32], index: u64, body: &[u8]) -> [u8; 8] {
    let mut h = blake3::Hasher::new_keyed(key);
    h.update(&index.to_le_bytes());
    h.update(body);
    let mut out = [0u8; 8];
    out.copy_from_slice(&h.finalize().as_bytes()[..8]);
    out
}

/// Appends the frame of record `index` to `out`; returns its check (the frame's last 8 bytes).
pub(crate) fn push_frame(out: &mut Vec<u8>, key: &[u8; 32], index: u64, body: &[u8]) -> [u8; 8] {
    let check = record_check(key, index, body);
    push_checked_frame(out, body, &check);
    check
}

/// Appends a frame whose check was made already by [`record_check`].
pub(crate) fn push_checked_frame(out: &mut Vec<u8>, body: &[u8], check: &[u8; 8]) {
    let len = u32::try_from(body.len()).expect("bodies are bounded by the capacity");
    out.reserve(FRAME_OVERHEAD as usize + body.len());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(body);
    out.extend_from_slice(check);
}

/// Reads a file front to back through a window, so a scan makes few system calls.
struct Window<'a> {
    file: &'a dyn BackendFile,
    start: u64,
    buf: Vec<u8>,
}

const WINDOW: usize = 1 << 20;

impl Window<'_> {
    // `len` bytes at `offset`, which the caller has checked lie within the file.
    fn get(&mut self, offset: u64, len: usize) -> std::io::Result<&[u8]> {
        let have =
            offset >= self.start && offset + len as u64 <= self.start + self.buf.len() as u64;
        if !have {
            self.start = offset;
            self.buf.clear();
            self.buf.resize(len.max(WINDOW), 0);
            let mut filled = 0;
            while filled < self.buf.len() {
                match self
                    .file
                    .read_at(&mut self.buf[filled..], offset + filled as u64)?
                {
                    0 => break,
                    n => filled += n,
                }
            }
            self.buf.truncate(filled);
            if filled < len {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
        }
        let at = (offset - self.start) as usize;
        Ok(&self.buf[at..at + len])
    }
}

/// What a scan of one segment found.
#[derive(Debug)]
pub(crate) struct Scanned {
    pub header: Header,
    pub key: [u8; 32],
    /// The offset of each complete, checked record, in order.
    pub offsets: Vec<u32>,
    /// Where the last complete, checked record ends.
    pub end: u64,
    /// The file's length when scanned.
    pub file_len: u64,
}

/// Reads and checks the header of segment `number`.
pub(crate) fn read_header(
    file: &dyn BackendFile,
    number: u64,
    file_len: u64,
) -> Result<Header, SegmentError> {
    let corrupt = |problem| SegmentError::Corrupt {
        segment: number,
        offset: 0,
        problem,
    };
    if file_len < HEADER_LEN {
        return Err(corrupt(Corruption::HeaderCut));
    }
    let mut b = [0u8; HEADER_LEN as usize];
    file.read_exact_at(&mut b, 0)
        .map_err(|source| SegmentError::io(format!("segment {number}"), source))?;
    let header = Header::decode(&b).map_err(corrupt)?;
    if header.number != number {
        return Err(corrupt(Corruption::Number(header.number)));
    }
    Ok(header)
}

/// Scans segment `number` from its header on, stopping at the first frame cut short or
/// failing its check, or one that would pass the segment's capacity. Every length read is
/// bounded before anything is allocated for it.
pub(crate) fn scan(file: &dyn BackendFile, number: u64) -> Result<Scanned, SegmentError> {
    let io = |source| SegmentError::io(format!("segment {number}"), source);
    let file_len = file.len().map_err(io)?;
    let header = read_header(file, number, file_len)?;
    let key = header.record_key();
    let limit = file_len.min(u64::from(header.capacity));
    let mut w = Window {
        file,
        start: 0,
        buf: Vec::new(),
    };
    let mut offsets = Vec::new();
    let mut at = HEADER_LEN;
    loop {
        if at + FRAME_OVERHEAD > limit {
            break;
        }
        let len_bytes = w.get(at, 4).map_err(io)?;
        let len = u64::from(u32::from_le_bytes([
            len_bytes[0],
            len_bytes[1],
            len_bytes[2],
            len_bytes[3],
        ]));
        // A length past the capacity or the file is a torn or corrupt frame, never an
        // allocation.
        if len > header.max_body() || at + FRAME_OVERHEAD + len > limit {
            break;
        }
        let frame = w.get(at + 4, len as usize + 8).map_err(io)?;
        let (body, check) = frame.split_at(len as usize);
        let index = header.first_index + offsets.len() as u64;
        if record_check(&key, index, body) != check {
            break;
        }
        offsets.push(at as u32);
        at += FRAME_OVERHEAD + len;
    }
    Ok(Scanned {
        header,
        key,
        offsets,
        end: at,
        file_len,
    })
}

/// Reads the body of the record at `offset` of a segment and checks it; `end` bounds the
/// frame (the end of the checked records found when the segment was scanned).
pub(crate) fn read_record(
    file: &dyn BackendFile,
    header_number: u64,
    key: &[u8; 32],
    end: u64,
    index: u64,
    offset: u32,
) -> Result<Vec<u8>, SegmentError> {
    let io = |source| SegmentError::io(format!("segment {header_number}"), source);
    let corrupt = |problem| SegmentError::Corrupt {
        segment: header_number,
        offset: u64::from(offset),
        problem,
    };
    let mut len = [0u8; 4];
    file.read_exact_at(&mut len, u64::from(offset))
        .map_err(io)?;
    let len = u64::from(u32::from_le_bytes(len));
    if u64::from(offset) + FRAME_OVERHEAD + len > end {
        return Err(corrupt(Corruption::Length(len)));
    }
    let mut frame = vec![0u8; len as usize + 8];
    file.read_exact_at(&mut frame, u64::from(offset) + 4)
        .map_err(io)?;
    let check = frame.split_off(len as usize);
    check_body(header_number, key, index, offset, &frame, &check)?;
    Ok(frame)
}

/// Checks the body of record `index`, framed at `offset` of segment `number`, against the
/// check its frame carries (SPEC §9.7).
pub(crate) fn check_body(
    number: u64,
    key: &[u8; 32],
    index: u64,
    offset: u32,
    body: &[u8],
    check: &[u8],
) -> Result<(), SegmentError> {
    if record_check(key, index, body) != check {
        return Err(SegmentError::Corrupt {
            segment: number,
            offset: u64::from(offset),
            problem: Corruption::RecordCheck(index),
        });
    }
    Ok(())
}
