//! Reading segments: the scan shared by the writer's recovery and by read-only opens, and
//! [`SegmentReader`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::backend::{Backend, BackendFile, OpenMode};
use super::format::{self, Header, Scanned};
use super::{Corruption, SegmentError, sidecar};

/// One segment as found on open: its header, the offsets of its records, and how far its
/// checked records reach.
#[derive(Debug)]
pub(crate) struct Seg {
    pub header: Header,
    pub key: [u8; 32],
    pub offsets: Vec<u32>,
    pub end: u64,
    pub file_len: u64,
}

impl Seg {
    pub(crate) fn from_scan(s: Scanned) -> Seg {
        Seg {
            header: s.header,
            key: s.key,
            offsets: s.offsets,
            end: s.end,
            file_len: s.file_len,
        }
    }

    pub(crate) fn next_index(&self) -> u64 {
        self.header.first_index + self.offsets.len() as u64
    }
}

/// What a directory of segments holds.
#[derive(Debug)]
pub(crate) struct Loaded {
    /// The segments, in order; only the last may end in a torn tail.
    pub segments: Vec<Seg>,
    /// Temporary files of segments whose creation did not complete, and of index or state
    /// files whose replacement did not (never read).
    pub temps: Vec<String>,
    /// Positions in `segments` of sealed segments that were scanned for want of a believable
    /// index file (a writer writes one).
    pub unindexed: Vec<usize>,
    /// The number of records the state file records as durable (0 without one).
    pub durable: u64,
}

/// Lists and reads the segments in `dir`. Every segment must have a whole, checked header
/// (it is renamed into place only once its header is durable), every segment but the last
/// must be whole and checked, and each must continue the one before (number and first record
/// index): a crash cannot leave them otherwise, since a segment is made durable in full
/// before the next one is created. A sealed segment (every one but the last) is read from its
/// index file when that one is believable (SPEC §9.7.1), else scanned; the last is always
/// scanned, and may end in a torn tail, but never before the number of records the state file
/// records as durable (SPEC §9.7.2): fewer is damage, reported, never cut.
pub(crate) fn load(backend: &dyn Backend, dir: &Path) -> Result<Loaded, SegmentError> {
    // The state first: everything it counts was durable before it was written, so the
    // segments read after it hold at least that many records, even with a writer beside.
    let durable = sidecar::read_state(backend, dir)?;
    let names = backend
        .list_dir(dir)
        .map_err(|e| SegmentError::io(dir.display().to_string(), e))?;
    let mut numbers: Vec<u64> = names
        .iter()
        .filter_map(|n| n.to_str().and_then(format::parse_file_name))
        .collect();
    numbers.sort_unstable();
    let temps = names
        .iter()
        .filter_map(|n| n.to_str())
        .filter(|n| format::is_temp_file_name(n) || sidecar::is_sidecar_temp(n))
        .map(str::to_owned)
        .collect();
    let mut segments: Vec<Seg> = Vec::new();
    let mut unindexed = Vec::new();
    for (i, &number) in numbers.iter().enumerate() {
        let last = i + 1 == numbers.len();
        if let Some(prev) = segments.last() {
            if number != prev.header.number + 1 {
                return Err(SegmentError::Corrupt {
                    segment: prev.header.number + 1,
                    offset: 0,
                    problem: Corruption::Missing,
                });
            }
        }
        let path = format::path(dir, number);
        let file = backend
            .open(&path, OpenMode::Read)
            .map_err(|e| SegmentError::io(path.display().to_string(), e))?;
        let seg = if last {
            Seg::from_scan(format::scan(file.as_ref(), number)?)
        } else {
            read_sealed(
                backend,
                dir,
                file.as_ref(),
                number,
                segments.len(),
                &mut unindexed,
            )?
        };
        if let Some(prev) = segments.last() {
            if seg.header.first_index != prev.next_index() {
                return Err(SegmentError::Corrupt {
                    segment: number,
                    offset: 0,
                    problem: Corruption::FirstIndex {
                        expected: prev.next_index(),
                        found: seg.header.first_index,
                    },
                });
            }
        }
        if !last && seg.end != seg.file_len {
            return Err(SegmentError::Corrupt {
                segment: number,
                offset: seg.end,
                problem: Corruption::Torn,
            });
        }
        segments.push(seg);
    }
    let found = segments.last().map_or(0, Seg::next_index);
    if found < durable {
        let (segment, offset) = segments.last().map_or((0, 0), |s| (s.header.number, s.end));
        return Err(SegmentError::Corrupt {
            segment,
            offset,
            problem: Corruption::BeforeDurable { durable, found },
        });
    }
    Ok(Loaded {
        segments,
        temps,
        unindexed,
        durable,
    })
}

// A sealed segment: from its index file when that one is believable, else scanned (and its
// place noted in `unindexed`).
fn read_sealed(
    backend: &dyn Backend,
    dir: &Path,
    file: &dyn BackendFile,
    number: u64,
    position: usize,
    unindexed: &mut Vec<usize>,
) -> Result<Seg, SegmentError> {
    let file_len = file
        .len()
        .map_err(|e| SegmentError::io(format!("segment {number}"), e))?;
    let header = format::read_header(file, number, file_len)?;
    if let Some(index) = sidecar::read_index(backend, dir, &header, file, file_len) {
        return Ok(Seg {
            key: header.record_key(),
            header,
            offsets: index.offsets,
            end: index.end,
            file_len,
        });
    }
    unindexed.push(position);
    Ok(Seg::from_scan(format::scan(file, number)?))
}

/// Finds the segment holding record `index`.
pub(crate) fn locate(segments: &[Seg], index: u64) -> Option<(usize, u32)> {
    let i = segments
        .partition_point(|s| s.header.first_index <= index)
        .checked_sub(1)?;
    let s = &segments[i];
    let offset = *s
        .offsets
        .get(usize::try_from(index - s.header.first_index).ok()?)?;
    Some((i, offset))
}

/// The most bytes [`SegmentReader::read_many`] reads at once, but for a single larger record.
pub const SPAN_BYTES: u64 = 1 << 20;

/// A run of records of one segment to read at once: what [`read_span`] needs, borrowed from a
/// segment or copied from it (the writer copies, to read without its lock).
pub(crate) struct Span<'a> {
    /// The segment's number.
    pub number: u64,
    /// The segment's record key (SPEC §9.7).
    pub key: &'a [u8; 32],
    /// Where the segment's checked records end.
    pub end: u64,
    /// The index of the span's first record.
    pub first_index: u64,
    /// The offsets of the span's records' frames.
    pub offsets: &'a [u32],
    /// Where the span's last frame ends: the next record's offset, or `end`.
    pub stop: u64,
}

/// Of records `first..stop` of a segment whose frames start at `offsets`, how many from
/// `first` on one span holds: those starting within [`SPAN_BYTES`] of the first, at least one.
pub(crate) fn span_len(offsets: &[u32], first: usize, stop: usize) -> usize {
    let start = u64::from(offsets[first]);
    1 + offsets[first + 1..stop].partition_point(|&o| u64::from(o) - start <= SPAN_BYTES)
}

/// The span of records `first..first + n` of `s`.
pub(crate) fn span_of(s: &Seg, first: usize, n: usize) -> Span<'_> {
    let last = first + n;
    Span {
        number: s.header.number,
        key: &s.key,
        end: s.end,
        first_index: s.header.first_index + first as u64,
        offsets: &s.offsets[first..last],
        stop: s
            .offsets
            .get(last)
            .map_or(s.end, |&o| u64::from(o))
            .min(s.end),
    }
}

// The span's records read with one read of the file and checked, their bodies pushed to
// `out`. A frame that does not end where the next begins is read and judged alone, by
// `format::read_record`, so that damage is reported as a lone read reports it.
pub(crate) fn read_span(
    file: &dyn BackendFile,
    span: &Span<'_>,
    out: &mut Vec<Vec<u8>>,
) -> Result<(), SegmentError> {
    let number = span.number;
    let Some(&first) = span.offsets.first() else {
        return Ok(());
    };
    let start = u64::from(first);
    let stop = span.stop;
    let mut bytes = vec![0u8; usize::try_from(stop.saturating_sub(start)).unwrap_or(0)];
    file.read_exact_at(&mut bytes, start)
        .map_err(|e| SegmentError::io(format!("segment {number}"), e))?;
    for (p, &offset) in span.offsets.iter().enumerate() {
        let index = span.first_index + p as u64;
        let frame_end = span.offsets.get(p + 1).map_or(stop, |&o| u64::from(o));
        let at = (u64::from(offset) - start) as usize;
        let framed = bytes
            .get(at..at + 4)
            .map(|l| u64::from(u32::from_le_bytes(l.try_into().expect("4 bytes"))))
            .filter(|&len| u64::from(offset) + format::FRAME_OVERHEAD + len == frame_end);
        let Some(len) = framed else {
            out.push(format::read_record(
                file, number, span.key, span.end, index, offset,
            )?);
            continue;
        };
        let (body, check) = bytes[at + 4..].split_at(len as usize);
        format::check_body(number, span.key, index, offset, body, &check[..8])?;
        out.push(body.to_vec());
    }
    Ok(())
}

/// A read-only view of a directory of segments: the records up to the last complete, checked
/// one, as they were when it was opened. It never writes (so it works beside a writer in
/// another process, and on read-only media): a torn tail, or a segment still being made
/// under its temporary name, is left where it is and not read.
#[derive(Debug)]
pub struct SegmentReader {
    dir: PathBuf,
    segments: Vec<Seg>,
    files: Vec<Arc<dyn BackendFile>>,
}

impl SegmentReader {
    /// Opens the segments in `dir` for reading.
    pub fn open(backend: &dyn Backend, dir: &Path) -> Result<SegmentReader, SegmentError> {
        let loaded = load(backend, dir)?;
        let mut files = Vec::with_capacity(loaded.segments.len());
        for s in &loaded.segments {
            let path = format::path(dir, s.header.number);
            let f = backend
                .open(&path, OpenMode::Read)
                .map_err(|e| SegmentError::io(path.display().to_string(), e))?;
            files.push(Arc::from(f));
        }
        Ok(SegmentReader {
            dir: dir.to_path_buf(),
            segments: loaded.segments,
            files,
        })
    }

    /// The directory read.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The index of the first record (0 unless earlier segments were removed).
    pub fn first_index(&self) -> u64 {
        self.segments.first().map_or(0, |s| s.header.first_index)
    }

    /// One past the index of the last record.
    pub fn end_index(&self) -> u64 {
        self.segments.last().map_or(0, |s| s.next_index())
    }

    /// The number of segments.
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// The body of record `index`, read again and checked.
    pub fn read(&self, index: u64) -> Result<Vec<u8>, SegmentError> {
        let (i, offset) = locate(&self.segments, index).ok_or(SegmentError::NoRecord { index })?;
        let s = &self.segments[i];
        format::read_record(
            self.files[i].as_ref(),
            s.header.number,
            &s.key,
            s.end,
            index,
            offset,
        )
    }

    /// The bodies of records `from..to` (clipped to what the reader holds), in order, each
    /// checked as [`SegmentReader::read`] checks it, read a span of up to [`SPAN_BYTES`] of a
    /// segment at a time rather than a record at a time.
    pub fn read_many(&self, from: u64, to: u64) -> Result<Vec<Vec<u8>>, SegmentError> {
        let to = to.min(self.end_index());
        let mut out = Vec::with_capacity(usize::try_from(to.saturating_sub(from)).unwrap_or(0));
        let mut next = from.max(self.first_index());
        if from < next && from < to {
            return Err(SegmentError::NoRecord { index: from });
        }
        while next < to {
            let (i, _) =
                locate(&self.segments, next).ok_or(SegmentError::NoRecord { index: next })?;
            let s = &self.segments[i];
            let first = usize::try_from(next - s.header.first_index).unwrap_or(usize::MAX);
            // Records of this segment up to `to`, as many as fit a span (at least one).
            let stop = usize::try_from(to - s.header.first_index)
                .unwrap_or(usize::MAX)
                .min(s.offsets.len());
            let n = span_len(&s.offsets, first, stop);
            read_span(self.files[i].as_ref(), &span_of(s, first, n), &mut out)?;
            next += n as u64;
        }
        Ok(out)
    }

    /// Every record in order, as `(index, body)`.
    pub fn iter(&self) -> impl Iterator<Item = Result<(u64, Vec<u8>), SegmentError>> + '_ {
        (self.first_index()..self.end_index()).map(|i| self.read(i).map(|b| (i, b)))
    }
}
