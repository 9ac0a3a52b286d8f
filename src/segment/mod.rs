//! Segment files: an append-only sequence of records in numbered files, with a file backend
//! that can simulate power loss (SPEC §9.7). A log directory keeps its entries and its other
//! records in two directories of segments (`store::DirStore`).
//!
//! Writer-side code with no storage engine beneath it: plain files through a small
//! [`Backend`] trait ([`FsBackend`] on `std::fs`, [`SimBackend`] in memory with power loss).
//!
//! # Layout
//!
//! A directory holds segment files named by their number, 20 decimal digits and `.seg`
//! (`00000000000000000000.seg`, `00000000000000000001.seg`, …), numbered from 0 without gaps.
//! A segment is made under a temporary name, `.` + its name + `.tmp`, and renamed into place
//! once its header is durable. Other names are ignored. Records are numbered from 0 across segments; each segment holds a
//! run of consecutive records and is at most its *capacity* bytes long (64 MiB by default).
//! A record goes to a new segment when its frame would pass the current one's capacity.
//!
//! # Segment header (56 bytes)
//!
//! | offset | bytes | field |
//! |---:|---:|---|
//! | 0 | 8 | magic `73 74 73 65 67 00 0d 0a` (`"stseg\0\r\n"`) |
//! | 8 | 2 | format version, u16 LE: 1 |
//! | 10 | 2 | reserved, zero |
//! | 12 | 4 | capacity, u32 LE: the most bytes the file may hold, header included (≥ 128) |
//! | 16 | 8 | segment number, u64 LE (the same as in the file name) |
//! | 24 | 8 | index of the segment's first record, u64 LE |
//! | 32 | 16 | nonce: random bytes chosen when the segment is made |
//! | 48 | 8 | `BLAKE3-derive_key("sealtrail 2026-12-01 segment header v1", bytes 0..48)[0..8]` |
//!
//! # Record frames
//!
//! Frames follow the header back to back:
//!
//! | bytes | field |
//! |---:|---|
//! | 4 | body length `n`, u32 LE; at most capacity − 56 − 12 |
//! | `n` | body |
//! | 8 | check: `BLAKE3-keyed(K, index (u64 LE) ‖ body)[0..8]` |
//!
//! where `K = BLAKE3-derive_key("sealtrail 2026-12-01 segment record v1", header bytes 0..48)`
//! and `index` is the record's index in the whole sequence. The key binds the check to one
//! segment made once (number, first index, nonce), and the index to one place in it: a frame
//! left in a file from an earlier segment of the same number, or copied from another segment
//! or another place, fails its check. A frame overhead is 12 bytes per record.
//!
//! A reader takes the records from the header on up to the first frame that is cut short
//! (the file ends inside it), whose length passes the capacity or the file, or whose check
//! fails. A length is bounded by the capacity and by the file before anything is allocated
//! for it; nothing read from disk can make a reader panic.
//!
//! # Order of writes
//!
//! A segment file has one order, and it is the order of the record indexes: record `i + 1`
//! is never in a file before record `i`. Appenders that reserve indexes in order and then
//! fill them out of order (as the log's do, SPEC §9.2: positions are reserved under a lock,
//! entries signed outside it) use [`SegmentWriter::reserve`] and [`SegmentWriter::write`]; a
//! body written ahead of its turn waits in memory until every record before it is written,
//! then all are framed in order. The alternative — frames in completion order, each carrying
//! its index, recovery taking the longest contiguous prefix of indexes — was rejected: every
//! reader would need an index (or a sort) to read in order, and a frame past a hole could
//! only be told apart from garbage by scanning past it, which a torn tail forbids.
//!
//! # Durability
//!
//! Framed records are kept in memory and handed to the file system in one write per group:
//! [`SegmentWriter::sync`] writes everything framed and calls `fdatasync` once for every
//! thread waiting (group commit); [`SegmentWriter::write_out`] (and a buffer past
//! [`SegmentConfig::write_buffer_bytes`]) writes without syncing. Creating a segment
//! `fdatasync`s the segment before it (and `fsync`s the directory if that one's entry is not
//! yet durable), writes the new segment's header and first frames to its temporary name,
//! `fdatasync`s it and renames it into place; the directory is `fsync`ed before any record of
//! the new segment is acknowledged. So every segment but the last is durable in full before
//! the next exists, no segment file ever has a torn header, and recovery only ever repairs
//! the tail of the last one.
//!
//! # Preallocation (SPEC §9.7.3)
//!
//! The last segment holds zeros written ahead of its frames (a page at first, doubling up to
//! [`SegmentConfig::preallocate_bytes`], never past the capacity), written in the same write as
//! the frames that pass the zeros already there: the `fdatasync`s that follow change no file
//! size, so they commit no metadata. A zero frame fails its check, so readers stop there. The
//! zeros are cut before the next segment is made (every segment but the last ends with its last
//! frame) and on a clean close; after a crash, recovery cuts them with the torn tail. A valid
//! frame after a run of zeros can only be a write that was never acknowledged (an `fdatasync`
//! covers every write before it): readers never reach it and recovery cuts it.
//!
//! # Recovery
//!
//! [`SegmentWriter::open`] reads every sealed segment from its index file (`.idx`, written
//! when the segment is sealed; scanned instead, and the index written again, when it is missing
//! or does not match) and scans the last one (SPEC §9.7.1). A `state` file records how many
//! records are known durable: a bad frame before that count is damage, reported, never cut
//! (SPEC §9.7.2). Every segment but the last must be whole
//! and checked and continue the one before (number, first index), or the open fails with
//! [`SegmentError::Corrupt`] naming the place: a crash cannot cause that, so it is damage,
//! and nothing is removed. So does a segment whose header is bad. The last segment's torn
//! tail is cut off (`set_len`, then `fsync`); the temporary file of a segment whose creation
//! did not complete is removed (then the directory synced).
//! Recovery is idempotent: a crash during it leaves what the next open repairs the same way.
//! [`SegmentReader::open`] applies the same rules and writes nothing: it reads up to the last
//! complete, checked record and leaves any torn tail where it is.

mod backend;
mod format;
mod reader;
mod sidecar;
mod sim;
mod writer;

pub(crate) use backend::parent;
pub use backend::{Backend, BackendFile, FsBackend, OpenMode};
pub use format::{
    FRAME_OVERHEAD, HEADER_CONTEXT, HEADER_LEN, Header, MAGIC, MIN_CAPACITY, RECORD_CONTEXT,
    VERSION, file_name, is_temp_file_name, max_body, parse_file_name, record_check, temp_file_name,
};
pub use reader::{SPAN_BYTES, SegmentReader};
pub use sidecar::{
    INDEX_CONTEXT, INDEX_FIXED_LEN, INDEX_MAGIC, STATE_CONTEXT, STATE_FILE_NAME, STATE_LEN,
    STATE_MAGIC, index_file_name,
};
pub use sim::{SimBackend, SimRng};
pub use writer::{Recovery, SegmentWriter};

/// Default segment capacity: 64 MiB.
pub const DEFAULT_MAX_SEGMENT_BYTES: u32 = 64 << 20;
/// Default bytes framed in memory before they are written out without a sync: 1 MiB.
pub const DEFAULT_WRITE_BUFFER_BYTES: usize = 1 << 20;
/// Default zeros written ahead of the last frame of a segment: 1 MiB.
pub const DEFAULT_PREALLOCATE_BYTES: u64 = 1 << 20;

/// How a [`SegmentWriter`] sizes its segments and buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentConfig {
    max_segment_bytes: u32,
    write_buffer_bytes: usize,
    preallocate_bytes: u64,
}

impl Default for SegmentConfig {
    fn default() -> Self {
        SegmentConfig {
            max_segment_bytes: DEFAULT_MAX_SEGMENT_BYTES,
            write_buffer_bytes: DEFAULT_WRITE_BUFFER_BYTES,
            preallocate_bytes: DEFAULT_PREALLOCATE_BYTES,
        }
    }
}

impl SegmentConfig {
    /// The capacity of new segments, header included, at least [`MIN_CAPACITY`] (smaller
    /// values are raised to it). Existing segments keep the capacity in their header.
    pub fn max_segment_bytes(mut self, bytes: u32) -> Self {
        self.max_segment_bytes = bytes.max(MIN_CAPACITY);
        self
    }

    /// Bytes framed in memory after which an appender writes them out (without a sync).
    pub fn write_buffer_bytes(mut self, bytes: usize) -> Self {
        self.write_buffer_bytes = bytes;
        self
    }

    /// Zeros written ahead of the frames of the last segment when a write passes the zeros
    /// already there (never past the capacity; 0 writes none). An `fdatasync` that changes a
    /// file's size also commits its metadata; within the zeros, one changes only data.
    pub fn preallocate_bytes(mut self, bytes: u64) -> Self {
        self.preallocate_bytes = bytes;
        self
    }
}

/// What is wrong with bytes found in a segment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Corruption {
    /// The file is shorter than a header.
    #[error("the header is cut short")]
    HeaderCut,
    /// The file does not start with the segment magic.
    #[error("not a segment file (wrong magic)")]
    Magic,
    /// The header's check fails.
    #[error("the header's check fails")]
    HeaderCheck,
    /// An unknown format version.
    #[error("format version {0} is not known")]
    Version(u16),
    /// The reserved header bytes are not zero.
    #[error("reserved header bytes are not zero")]
    Reserved,
    /// A capacity below the minimum.
    #[error("capacity {0} is below the minimum")]
    Capacity(u32),
    /// The header names another segment number than the file name.
    #[error("the header names segment {0}")]
    Number(u64),
    /// A segment's first record does not follow the segment before.
    #[error("the first record is {found}, expected {expected}")]
    FirstIndex {
        /// The index that follows the segment before.
        expected: u64,
        /// The index in the header.
        found: u64,
    },
    /// A segment other than the last ends in a torn or unchecked frame.
    #[error("a segment before the last ends in a torn or unchecked frame")]
    Torn,
    /// A segment number between two present ones is missing.
    #[error("the segment is missing")]
    Missing,
    /// A record length past the capacity.
    #[error("record length {0} passes the capacity")]
    Length(u64),
    /// A record read again fails its check.
    #[error("record {0} fails its check")]
    RecordCheck(u64),
    /// The records end before the number the state file records as durable: a record known
    /// durable is damaged or missing (SPEC §9.7.2). Nothing is cut.
    #[error(
        "the records end at {found}, before {durable} known durable: a durable record is damaged"
    )]
    BeforeDurable {
        /// The number of records the state file records as durable.
        durable: u64,
        /// The number of complete, checked records found.
        found: u64,
    },
    /// The durable-size state file is not one this format writes (bad magic, version,
    /// length or check).
    #[error("the durable-size state file is damaged")]
    State,
}

/// A segment operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SegmentError {
    /// The backend failed.
    #[error("{what}: {source}")]
    Io {
        /// The file or directory.
        what: String,
        /// What the backend reported.
        #[source]
        source: std::io::Error,
    },
    /// A segment holds bytes no crash can leave: damage, reported and left alone.
    #[error("segment {segment}, offset {offset}: {problem}")]
    Corrupt {
        /// The segment number.
        segment: u64,
        /// The byte offset in it.
        offset: u64,
        /// What is wrong.
        problem: Corruption,
    },
    /// The durable-size state file (SPEC §9.7.2) of the directory is damaged: it is only
    /// ever replaced whole, so no crash leaves it so.
    #[error("state file: {problem}")]
    BadState {
        /// What is wrong.
        problem: Corruption,
    },
    /// A record body larger than a segment can hold.
    #[error("a record of {size} bytes does not fit in a segment (at most {max})")]
    RecordTooLarge {
        /// The body's size.
        size: u64,
        /// The largest body a segment holds.
        max: u64,
    },
    /// No record at this index (not yet appended, or past what was found).
    #[error("no record {index}")]
    NoRecord {
        /// The index asked for.
        index: u64,
    },
    /// [`SegmentWriter::write`] of an index that was not reserved, or already written.
    #[error("record {index} was not reserved or is already written")]
    NotReserved {
        /// The index.
        index: u64,
    },
    /// An earlier write or sync failed: what reached the disk is unknown until the directory
    /// is opened again.
    #[error("the segment writer stopped after a failure: {0}")]
    Poisoned(String),
}

impl SegmentError {
    pub(crate) fn io(what: String, source: std::io::Error) -> SegmentError {
        SegmentError::Io { what, source }
    }
}
