//! [`SegmentWriter`]: appends records to segment files, in index order, with group commit.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::backend::{Backend, BackendFile, OpenMode, parent};
use super::format::{self, FRAME_OVERHEAD, HEADER_LEN, Header};
use super::reader::{Seg, Span, load, locate, read_span, span_len, span_of};
use super::sidecar::{self, SealIndex};
use super::{SegmentConfig, SegmentError};

/// How often, at most, a sync also records the durable size in the state file (SPEC §9.7.2).
/// It costs a small file replaced (two syncs), so it is not done on every group commit;
/// closing the writer records it too.
const STATE_INTERVAL: Duration = Duration::from_secs(1);

/// What opening a directory for writing found and repaired.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Recovery {
    /// Records found whole and checked: the next record's index.
    pub records: u64,
    /// Segments found (after repair).
    pub segments: u64,
    /// Bytes cut from the end of the last segment (a torn or unchecked tail).
    pub cut_bytes: u64,
    /// Temporary files of segments whose creation did not complete, removed (and those of
    /// index or state files whose replacement did not).
    pub removed_temp_files: u64,
    /// The number of records the state file recorded as durable when the directory was
    /// opened (SPEC §9.7.2): no record below it may be cut.
    pub known_durable: u64,
    /// Index files of sealed segments written because one was missing or not believable.
    pub indexes_written: u64,
}

// Bytes framed but not yet handed to the file system: a run of one segment, starting at
// `offset`; `create` when the run starts the segment (its header first).
#[derive(Debug)]
struct Chunk {
    segment: u64,
    offset: u64,
    create: bool,
    bytes: Vec<u8>,
    // With `create`: the index file of the segment before, sealed by this one.
    seal: Option<Vec<u8>>,
}

/// A record's frame, made outside the state lock with the key of the segment that was the
/// tail then: kept as it is if the record lands in that segment, made again if it does not.
#[derive(Debug)]
struct Framed {
    key: [u8; 32],
    bytes: Vec<u8>,
}

impl Framed {
    fn new(key: [u8; 32], index: u64, body: &[u8]) -> Framed {
        Framed::checked(key, format::record_check(&key, index, body), body)
    }

    // A frame whose check was made already.
    fn checked(key: [u8; 32], check: [u8; 8], body: &[u8]) -> Framed {
        let mut bytes = Vec::with_capacity(FRAME_OVERHEAD as usize + body.len());
        format::push_checked_frame(&mut bytes, body, &check);
        Framed { key, bytes }
    }

    fn body(&self) -> &[u8] {
        &self.bytes[4..self.bytes.len() - 8]
    }

    // The frame's check: its last 8 bytes.
    fn check(&self) -> [u8; 8] {
        let mut c = [0u8; 8];
        c.copy_from_slice(&self.bytes[self.bytes.len() - 8..]);
        c
    }
}

#[derive(Debug)]
struct Tail {
    header: Header,
    key: [u8; 32],
    // Where the next frame goes.
    offset: u64,
    // The check of the last record framed (the segment's last 8 bytes).
    last_check: [u8; 8],
}

#[derive(Debug)]
struct State {
    // Indexes handed out by `reserve`.
    reserved: u64,
    // Records framed, in index order: the next one to frame.
    framed: u64,
    // Records written ahead of their turn, framed already.
    early: BTreeMap<u64, Framed>,
    chunks: Vec<Chunk>,
    chunk_bytes: usize,
    // Buffers of chunks already written, kept for the next chunks: a chunk then grows
    // without reallocating, and a group commit allocates nothing for its bytes.
    spare: Vec<Vec<u8>>,
    tail: Option<Tail>,
    segments: Vec<Seg>,
    // Records handed to the file system, and records made durable.
    written: u64,
    durable: u64,
    // One thread at a time writes and syncs.
    busy: bool,
    // Threads waiting on `synced`: with none, a finished write wakes no one (on Linux, a
    // condition variable's notify is a system call even with no waiter).
    synced_waiters: usize,
    poisoned: Option<String>,
}

#[derive(Debug, Default)]
struct Io {
    file: Option<(u64, Box<dyn BackendFile>)>,
    // The tail file's capacity, where its last frame ends, and how far it is filled with
    // frames and the zeros written ahead of them (SPEC §9.3, preallocation).
    capacity: u64,
    end: u64,
    allocated: u64,
    // Zeros the next extension writes: from a page, doubled at each extension up to the
    // configured bytes, so a process that appends one record writes few zeros.
    step: u64,
    // A segment was created since the directory was last synced.
    dir_dirty: bool,
    // The durable size last recorded in the state file, and when.
    state_records: u64,
    state_at: Option<Instant>,
}

// How many written chunks' buffers are kept for reuse.
const SPARE_BUFFERS: usize = 2;

// The first extension's zeros: one page.
const FIRST_STEP: u64 = 4096;

impl Io {
    // The length the tail file is filled to once bytes up to `end` are written: unchanged
    // while they fit, else zeros up to a step past them (never past the capacity), so the
    // `fdatasync`s that follow change no file size.
    fn fill_to(&mut self, end: u64, preallocate: u64) -> u64 {
        if end <= self.allocated {
            return self.allocated;
        }
        let step = self.step.clamp(preallocate.min(FIRST_STEP), preallocate);
        self.step = step.saturating_mul(2);
        end.saturating_add(step).min(self.capacity).max(end)
    }
}

/// Appends records to the segment files of one directory (see [`crate::segment`]).
///
/// Many threads may append at once. [`SegmentWriter::append`] frames a record in memory and
/// returns its index; [`SegmentWriter::sync`] hands every framed record to the file system
/// and `fdatasync`s it, one thread doing it for everyone waiting (group commit): threads that
/// call `sync` while a sync runs wait for it and then, if their records were framed after it
/// began, one of them runs the next. A record is acknowledged (durable) once a `sync` that
/// began after it was framed has returned.
///
/// For appenders that reserve positions under a lock of their own and fill them in later,
/// out of order, [`SegmentWriter::reserve`] and [`SegmentWriter::write`] keep the file in
/// index order: a record written ahead of its turn waits in memory until every record before
/// it is written.
///
/// Any failure to write or sync poisons the writer: every later call fails, because what
/// reached the disk is no longer known. Reopen the directory to recover.
#[derive(Debug)]
pub struct SegmentWriter {
    backend: Arc<dyn Backend>,
    dir: PathBuf,
    config: SegmentConfig,
    state: Mutex<State>,
    // The tail segment's record key, readable without the state lock, so that appenders
    // frame their records (copy and check) before taking it.
    tail_key: Mutex<[u8; 32]>,
    synced: Condvar,
    io: Mutex<Io>,
    readers: Mutex<BTreeMap<u64, Arc<dyn BackendFile>>>,
}

// Creates `dir` and its missing parents, each made durable in its parent before returning.
fn create_dirs(backend: &dyn Backend, dir: &Path) -> Result<(), SegmentError> {
    let mut missing = Vec::new();
    let mut at = dir.to_path_buf();
    loop {
        match backend.list_dir(&at) {
            Ok(_) => break,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let up = parent(&at).map_err(|e| io_err(at.display(), e))?;
                missing.push(at);
                if up == Path::new("/") || up == Path::new(".") {
                    break;
                }
                at = up;
            }
            Err(e) => return Err(io_err(at.display(), e)),
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    backend
        .create_dir_all(dir)
        .map_err(|e| io_err(dir.display(), e))?;
    // Outermost first: a directory's entry is durable only once its parent's is.
    for d in missing.iter().rev() {
        let up = parent(d).map_err(|e| io_err(d.display(), e))?;
        backend.sync_dir(&up).map_err(|e| io_err(up.display(), e))?;
    }
    Ok(())
}

fn io_err(what: impl std::fmt::Display, source: std::io::Error) -> SegmentError {
    SegmentError::io(what.to_string(), source)
}

// The index file of a sealed segment (SPEC §9.7.1).
fn seal_index(seg: &Seg, tail_check: [u8; 8]) -> Vec<u8> {
    SealIndex {
        header: seg.header.clone(),
        file_len: seg.end,
        end: seg.end,
        tail_check,
        offsets: seg.offsets.clone(),
    }
    .encode()
}

// Replaces segment `seg`'s index file (temporary file, sync, rename, directory sync).
fn write_index(
    backend: &dyn Backend,
    dir: &Path,
    seg: &Seg,
    tail_check: [u8; 8],
) -> Result<(), SegmentError> {
    let path = sidecar::index_path(dir, seg.header.number);
    backend
        .replace(&path, &seal_index(seg, tail_check))
        .map_err(|e| io_err(path.display(), e))
}

// Records `records` as durable in the state file (SPEC §9.7.2): every one of them must be.
fn write_state(backend: &dyn Backend, dir: &Path, records: u64) -> Result<(), SegmentError> {
    let path = sidecar::state_path(dir);
    backend
        .replace(&path, &sidecar::encode_state(records))
        .map_err(|e| io_err(path.display(), e))
}

impl SegmentWriter {
    /// Opens (creating if needed) the segments in `dir` for appending. Recovery: sealed
    /// segments are read from their index files (scanned, and the index written again, when
    /// one is missing or not believable); the last segment is scanned and a torn tail (a frame
    /// cut short or failing its check) after the records known durable is cut off and the cut
    /// synced, while one before them is reported as [`SegmentError::Corrupt`]; leftover
    /// temporary files are removed. The records found are then synced and recorded durable in
    /// the state file.
    pub fn open(
        backend: Arc<dyn Backend>,
        dir: &Path,
        config: SegmentConfig,
    ) -> Result<(SegmentWriter, Recovery), SegmentError> {
        create_dirs(backend.as_ref(), dir)?;
        let loaded = load(backend.as_ref(), dir)?;
        let mut recovery = Recovery {
            records: 0,
            segments: loaded.segments.len() as u64,
            cut_bytes: 0,
            removed_temp_files: 0,
            known_durable: loaded.durable,
            indexes_written: 0,
        };
        for name in &loaded.temps {
            let path = dir.join(name);
            backend
                .remove_file(&path)
                .map_err(|e| io_err(path.display(), e))?;
            recovery.removed_temp_files += 1;
        }
        if !loaded.temps.is_empty() {
            backend
                .sync_dir(dir)
                .map_err(|e| io_err(dir.display(), e))?;
        }
        for &i in &loaded.unindexed {
            let seg = &loaded.segments[i];
            let path = format::path(dir, seg.header.number);
            let file = backend
                .open(&path, OpenMode::Read)
                .map_err(|e| io_err(path.display(), e))?;
            let mut tail_check = [0u8; 8];
            file.read_exact_at(&mut tail_check, seg.end.saturating_sub(8))
                .map_err(|e| io_err(path.display(), e))?;
            write_index(backend.as_ref(), dir, seg, tail_check)?;
            recovery.indexes_written += 1;
        }
        let mut io = Io {
            state_records: loaded.durable,
            ..Io::default()
        };
        let mut tail = None;
        let next = loaded.segments.last().map_or(0, Seg::next_index);
        if let Some(last) = loaded.segments.last() {
            let number = last.header.number;
            let path = format::path(dir, number);
            let file = backend
                .open(&path, OpenMode::Write)
                .map_err(|e| io_err(path.display(), e))?;
            if last.file_len > last.end {
                file.set_len(last.end)
                    .and_then(|()| file.sync_all())
                    .map_err(|e| io_err(path.display(), e))?;
                recovery.cut_bytes = last.file_len - last.end;
            } else if next > loaded.durable {
                // Found whole, but maybe only in the page cache (after a kill): durable now.
                file.sync_data().map_err(|e| io_err(path.display(), e))?;
            }
            let mut last_check = [0u8; 8];
            if !last.offsets.is_empty() {
                file.read_exact_at(&mut last_check, last.end - 8)
                    .map_err(|e| io_err(path.display(), e))?;
            }
            tail = Some(Tail {
                header: last.header.clone(),
                key: last.key,
                offset: last.end,
                last_check,
            });
            io.file = Some((number, file));
            io.capacity = u64::from(last.header.capacity);
            io.end = last.end;
            io.allocated = last.end;
        }
        let tail_key = loaded.segments.last().map_or([0; 32], |s| s.key);
        if next > loaded.durable {
            write_state(backend.as_ref(), dir, next)?;
            io.state_records = next;
            io.state_at = Some(Instant::now());
        }
        recovery.records = next;
        let writer = SegmentWriter {
            backend,
            dir: dir.to_path_buf(),
            config,
            state: Mutex::new(State {
                reserved: next,
                framed: next,
                early: BTreeMap::new(),
                chunks: Vec::new(),
                chunk_bytes: 0,
                spare: Vec::new(),
                tail,
                segments: loaded.segments,
                written: next,
                durable: next,
                busy: false,
                synced_waiters: 0,
                poisoned: None,
            }),
            tail_key: Mutex::new(tail_key),
            synced: Condvar::new(),
            io: Mutex::new(io),
            readers: Mutex::new(BTreeMap::new()),
        };
        Ok((writer, recovery))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The directory written.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    // The largest chunk buffer kept for reuse: a full write buffer, the frame that passed it
    // and the zeros written ahead of them.
    fn spare_capacity(&self) -> usize {
        let zeros = usize::try_from(self.config.preallocate_bytes).unwrap_or(usize::MAX);
        self.config
            .write_buffer_bytes
            .saturating_mul(2)
            .saturating_add(zeros)
    }

    /// The largest record body this writer accepts.
    pub fn max_body(&self) -> u64 {
        format::max_body(self.config.max_segment_bytes)
    }

    /// Records framed so far: one past the last index framed in order.
    pub fn len(&self) -> u64 {
        self.lock().framed
    }

    /// Whether no record was ever framed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Records known durable: every record below this index is.
    pub fn durable_len(&self) -> u64 {
        self.lock().durable
    }

    /// Records handed to the file system (visible to readers, durable or not).
    pub fn written_len(&self) -> u64 {
        self.lock().written
    }

    fn check_size(&self, body: &[u8]) -> Result<(), SegmentError> {
        if body.len() as u64 > self.max_body() {
            return Err(SegmentError::RecordTooLarge {
                size: body.len() as u64,
                max: self.max_body(),
            });
        }
        Ok(())
    }

    /// Appends one record at the next index and returns the index. The record is framed in
    /// memory; [`SegmentWriter::sync`] makes it durable.
    pub fn append(&self, body: &[u8]) -> Result<u64, SegmentError> {
        self.check_size(body)?;
        let mut s = self.lock();
        if let Some(p) = &s.poisoned {
            return Err(SegmentError::Poisoned(p.clone()));
        }
        if s.reserved != s.framed {
            // Records reserved earlier go first: this one waits its turn behind them.
            let index = s.reserved;
            s.reserved += 1;
            let key = s.tail.as_ref().map_or([0; 32], |t| t.key);
            s.early.insert(index, Framed::new(key, index, body));
            return Ok(index);
        }
        let index = s.reserved;
        s.reserved += 1;
        self.frame(&mut s, index, Frame::Body(body));
        self.spill(s)?;
        Ok(index)
    }

    /// Reserves `count` consecutive indexes and returns the first. Each must then be given
    /// its body with [`SegmentWriter::write`]: no later record reaches the file until it is.
    pub fn reserve(&self, count: u64) -> Result<u64, SegmentError> {
        let mut s = self.lock();
        if let Some(p) = &s.poisoned {
            return Err(SegmentError::Poisoned(p.clone()));
        }
        let first = s.reserved;
        s.reserved += count;
        Ok(first)
    }

    /// Reserves every index below `end` not yet reserved (none when all are): for appenders
    /// that number their records themselves.
    pub fn reserve_to(&self, end: u64) -> Result<(), SegmentError> {
        let mut s = self.lock();
        if let Some(p) = &s.poisoned {
            return Err(SegmentError::Poisoned(p.clone()));
        }
        s.reserved = s.reserved.max(end);
        Ok(())
    }

    /// Writes the body of reserved record `index`, in any order. A body too large for a
    /// segment poisons the writer: the index can never be filled.
    pub fn write(&self, index: u64, body: &[u8]) -> Result<(), SegmentError> {
        // The check is made before the state lock is taken: the costly part is not done while
        // other appenders wait for it. The body is copied once: into the tail's chunk when
        // it is written in its turn, into a frame of its own when it is written ahead.
        let checked = (body.len() as u64 <= self.max_body()).then(|| {
            let key = *self.tail_key.lock().unwrap_or_else(|p| p.into_inner());
            (key, format::record_check(&key, index, body))
        });
        let mut s = self.lock();
        if let Some(p) = &s.poisoned {
            return Err(SegmentError::Poisoned(p.clone()));
        }
        if index >= s.reserved || index < s.framed || s.early.contains_key(&index) {
            return Err(SegmentError::NotReserved { index });
        }
        let Some((key, check)) = checked else {
            let e = self.check_size(body).expect_err("a body past the largest");
            self.poison(&mut s, format!("record {index}: {e}"));
            return Err(e);
        };
        if index != s.framed {
            s.early.insert(index, Framed::checked(key, check, body));
            return Ok(());
        }
        self.frame(&mut s, index, Frame::Checked { key, check, body });
        loop {
            let next = s.framed;
            let Some(framed) = s.early.remove(&next) else {
                break;
            };
            self.frame(&mut s, next, Frame::Framed(framed));
        }
        self.spill(s)
    }

    fn poison(&self, s: &mut State, why: String) {
        s.poisoned.get_or_insert(why);
        self.synced.notify_all();
    }

    // Frames record `index` (the next in order) at the tail, starting a new segment first if
    // it does not fit.
    fn frame(&self, s: &mut State, index: u64, frame: Frame<'_>) {
        debug_assert_eq!(index, s.framed);
        let body: &[u8] = match &frame {
            Frame::Body(b) | Frame::Checked { body: b, .. } => b,
            Frame::Framed(f) => f.body(),
        };
        let need = FRAME_OVERHEAD + body.len() as u64;
        let fits = s
            .tail
            .as_ref()
            .is_some_and(|t| t.offset + need <= u64::from(t.header.capacity));
        if !fits {
            let number = s.tail.as_ref().map_or(0, |t| t.header.number + 1);
            let mut nonce = [0u8; 16];
            // Without randomness a remade segment would check records under its old key.
            if getrandom::fill(&mut nonce).is_err() {
                nonce = blake3::hash(&[&index.to_le_bytes()[..], &number.to_le_bytes()].concat())
                    .as_bytes()[..16]
                    .try_into()
                    .expect("16 bytes");
            }
            let header = Header {
                capacity: self.config.max_segment_bytes,
                number,
                first_index: index,
                nonce,
            };
            let key = header.record_key();
            // The segment before is sealed: its index goes to disk before this one exists.
            let seal = match (&s.tail, s.segments.last_mut()) {
                (Some(t), Some(prev)) if !prev.offsets.is_empty() => {
                    // A sealed segment's offsets never grow again: give back the slack.
                    prev.offsets.shrink_to_fit();
                    Some(seal_index(prev, t.last_check))
                }
                _ => None,
            };
            s.chunks.push(Chunk {
                segment: number,
                offset: 0,
                create: true,
                bytes: header.encode().to_vec(),
                seal,
            });
            s.chunk_bytes += HEADER_LEN as usize;
            s.segments.push(Seg {
                header: header.clone(),
                key,
                offsets: Vec::new(),
                end: HEADER_LEN,
                file_len: 0,
            });
            s.tail = Some(Tail {
                header,
                key,
                offset: HEADER_LEN,
                last_check: [0; 8],
            });
            *self.tail_key.lock().unwrap_or_else(|p| p.into_inner()) = key;
        }
        let tail = s.tail.as_mut().expect("a tail was just made");
        let (number, offset, key) = (tail.header.number, tail.offset, tail.key);
        tail.offset += need;
        let contiguous = s
            .chunks
            .last()
            .is_some_and(|c| c.segment == number && c.offset + c.bytes.len() as u64 == offset);
        if !contiguous {
            s.chunks.push(Chunk {
                segment: number,
                offset,
                create: false,
                bytes: s.spare.pop().unwrap_or_default(),
                seal: None,
            });
        }
        let chunk = s.chunks.last_mut().expect("a chunk was just made");
        let check = match &frame {
            Frame::Framed(f) if f.key == key => {
                chunk.bytes.extend_from_slice(&f.bytes);
                f.check()
            }
            Frame::Checked {
                key: made_with,
                check,
                body,
            } if *made_with == key => {
                format::push_checked_frame(&mut chunk.bytes, body, check);
                *check
            }
            _ => format::push_frame(&mut chunk.bytes, &key, index, body),
        };
        s.tail.as_mut().expect("a tail").last_check = check;
        s.chunk_bytes += need as usize;
        let seg = s.segments.last_mut().expect("the tail's segment");
        seg.offsets.push(offset as u32);
        seg.end = offset + need;
        s.framed += 1;
    }

    // Hands framed bytes to the file system once they pass the configured buffer, unless a
    // write is running (it will take them, or the next one will).
    fn spill(&self, s: MutexGuard<'_, State>) -> Result<(), SegmentError> {
        if s.chunk_bytes < self.config.write_buffer_bytes || s.busy {
            return Ok(());
        }
        self.run_io(s, false).map(|_| ())
    }

    /// Writes every record framed before the call and `fdatasync`s it (one sync for every
    /// thread waiting: group commit). Returns the number of records durable: every index
    /// below it is. A record reserved but not yet written, and every record after it, is not
    /// covered.
    pub fn sync(&self) -> Result<u64, SegmentError> {
        let mut s = self.lock();
        let target = s.framed;
        loop {
            if let Some(p) = &s.poisoned {
                return Err(SegmentError::Poisoned(p.clone()));
            }
            if s.durable >= target {
                return Ok(s.durable);
            }
            if !s.busy {
                return self.run_io(s, true);
            }
            s = self.wait_synced(s);
        }
    }

    /// Hands every framed record to the file system without syncing: readers in other
    /// processes see them, a power loss may not keep them.
    pub fn write_out(&self) -> Result<(), SegmentError> {
        let mut s = self.lock();
        let target = s.framed;
        loop {
            if let Some(p) = &s.poisoned {
                return Err(SegmentError::Poisoned(p.clone()));
            }
            if s.written >= target {
                return Ok(());
            }
            if !s.busy {
                return self.run_io(s, false).map(|_| ());
            }
            s = self.wait_synced(s);
        }
    }

    // Takes the framed chunks, writes them (and syncs, with `sync`) without the state lock,
    // then records the result and wakes every waiter.
    fn run_io(&self, mut s: MutexGuard<'_, State>, sync: bool) -> Result<u64, SegmentError> {
        s.busy = true;
        let mut chunks = std::mem::take(&mut s.chunks);
        s.chunk_bytes = 0;
        let target = s.framed;
        drop(s);
        let result = self.write_chunks(&mut chunks, sync, target);
        let mut s = self.lock();
        s.busy = false;
        for c in chunks {
            if s.spare.len() < SPARE_BUFFERS && c.bytes.capacity() <= self.spare_capacity() {
                let mut bytes = c.bytes;
                bytes.clear();
                s.spare.push(bytes);
            }
        }
        let out = match result {
            Ok(()) => {
                s.written = s.written.max(target);
                if sync {
                    s.durable = s.durable.max(target);
                }
                Ok(s.durable)
            }
            Err(e) => {
                self.poison(&mut s, e.to_string());
                Err(e)
            }
        };
        if s.synced_waiters > 0 {
            self.synced.notify_all();
        }
        out
    }

    // Waits until a running write or sync has finished (or the writer is poisoned).
    fn wait_synced<'a>(&self, mut s: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        s.synced_waiters += 1;
        let mut s = self.synced.wait(s).unwrap_or_else(|p| p.into_inner());
        s.synced_waiters -= 1;
        s
    }

    fn write_chunks(
        &self,
        chunks: &mut [Chunk],
        sync: bool,
        target: u64,
    ) -> Result<(), SegmentError> {
        let mut io = self.io.lock().unwrap_or_else(|p| p.into_inner());
        let io = &mut *io;
        let preallocate = self.config.preallocate_bytes;
        for chunk in chunks.iter_mut() {
            let path = format::path(&self.dir, chunk.segment);
            let end = chunk.offset + chunk.bytes.len() as u64;
            if chunk.create {
                // The segment before is made durable in full, its directory entry too, before
                // the next one exists: recovery then only ever repairs the last segment. The
                // zeros written ahead of its frames are cut first, so that every segment but
                // the last ends with its last frame.
                if let Some((number, f)) = &io.file {
                    let what = |e| io_err(format!("segment {number}"), e);
                    if io.allocated > io.end {
                        f.set_len(io.end)
                            .and_then(|()| f.sync_all())
                            .map_err(what)?;
                    } else {
                        f.sync_data().map_err(what)?;
                    }
                }
                if let Some(seal) = &chunk.seal {
                    // Replaced whole, the directory synced with it (SPEC §9.7.1).
                    let path = sidecar::index_path(&self.dir, chunk.segment - 1);
                    self.backend
                        .replace(&path, seal)
                        .map_err(|e| io_err(path.display(), e))?;
                    io.dir_dirty = false;
                }
                if io.dir_dirty {
                    self.backend
                        .sync_dir(&self.dir)
                        .map_err(|e| io_err(self.dir.display(), e))?;
                    io.dir_dirty = false;
                }
                // Made under a temporary name with its first bytes (the header at least) and
                // synced before it is renamed into place: a segment file's header is never
                // torn, so a bad one is damage, reported, never repaired away.
                let tmp = self.dir.join(format::temp_file_name(chunk.segment));
                let f = self
                    .backend
                    .open(&tmp, OpenMode::Truncate)
                    .map_err(|e| io_err(tmp.display(), e))?;
                io.capacity = u64::from(self.config.max_segment_bytes);
                io.allocated = 0;
                let fill = io.fill_to(end, preallocate);
                chunk.bytes.resize((fill - chunk.offset) as usize, 0);
                f.write_at(&chunk.bytes, chunk.offset)
                    .and_then(|()| f.sync_data())
                    .map_err(|e| io_err(tmp.display(), e))?;
                self.backend
                    .rename(&tmp, &path)
                    .map_err(|e| io_err(path.display(), e))?;
                io.file = Some((chunk.segment, f));
                io.end = end;
                io.allocated = fill;
                io.dir_dirty = true;
                continue;
            }
            // Zeros ahead of the frames in the same write: one system call, and the next
            // `fdatasync` commits the new size once for many groups.
            let extends = end > io.allocated;
            let fill = io.fill_to(end, preallocate);
            if extends {
                chunk.bytes.resize((fill - chunk.offset) as usize, 0);
            }
            match &io.file {
                Some((number, f)) if *number == chunk.segment => f
                    .write_at(&chunk.bytes, chunk.offset)
                    .map_err(|e| io_err(path.display(), e))?,
                _ => unreachable!("chunks follow the segment they were framed in"),
            }
            io.end = io.end.max(end);
            io.allocated = fill;
        }
        if sync {
            if let Some((number, f)) = &io.file {
                f.sync_data()
                    .map_err(|e| io_err(format!("segment {number}"), e))?;
            }
            if io.dir_dirty {
                self.backend
                    .sync_dir(&self.dir)
                    .map_err(|e| io_err(self.dir.display(), e))?;
                io.dir_dirty = false;
            }
            // Now and then, what is durable is recorded as such (SPEC §9.7.2).
            let due = io.state_at.is_none_or(|t| t.elapsed() >= STATE_INTERVAL);
            if target > io.state_records && due {
                write_state(self.backend.as_ref(), &self.dir, target)?;
                io.state_records = target;
                io.state_at = Some(Instant::now());
            }
        }
        Ok(())
    }

    /// Replaces the bodies of records already appended (`bodies`: index → new body), leaving
    /// no trace of the old ones in the directory: each segment holding one is written again
    /// in full under its temporary name, synced, renamed over the old file, and the directory
    /// synced (SPEC §9.7). Appends wait while it runs; everything framed before is made
    /// durable first. A power loss leaves the old segment or the new one, both whole.
    pub fn rewrite(&self, bodies: &BTreeMap<u64, Vec<u8>>) -> Result<(), SegmentError> {
        if bodies.is_empty() {
            return Ok(());
        }
        // Everything framed reaches the disk, then nothing runs beside the rewrite.
        let mut s = loop {
            self.sync()?;
            let s = self.lock();
            if let Some(p) = &s.poisoned {
                return Err(SegmentError::Poisoned(p.clone()));
            }
            if !s.busy && s.chunks.is_empty() {
                break s;
            }
            drop(s);
        };
        let mut by_segment: BTreeMap<usize, Vec<u64>> = BTreeMap::new();
        for &index in bodies.keys() {
            let (i, _) = locate(&s.segments, index).ok_or(SegmentError::NoRecord { index })?;
            by_segment.entry(i).or_default().push(index);
        }
        let last = s.segments.len() - 1;
        for (i, _) in by_segment {
            let result = self.rewrite_segment(&mut s, i, i == last, bodies);
            if let Err(e) = result {
                self.poison(&mut s, e.to_string());
                return Err(e);
            }
        }
        Ok(())
    }

    fn rewrite_segment(
        &self,
        s: &mut State,
        i: usize,
        is_tail: bool,
        bodies: &BTreeMap<u64, Vec<u8>>,
    ) -> Result<(), SegmentError> {
        let seg = &s.segments[i];
        let (header, key) = (seg.header.clone(), seg.key);
        let file = self.reader(header.number)?;
        let mut bytes = header.encode().to_vec();
        let mut offsets = Vec::with_capacity(seg.offsets.len());
        let mut last_check = [0u8; 8];
        for (n, &offset) in seg.offsets.iter().enumerate() {
            let index = header.first_index + n as u64;
            let body = match bodies.get(&index) {
                Some(b) => b.clone(),
                None => {
                    format::read_record(file.as_ref(), header.number, &key, seg.end, index, offset)?
                }
            };
            self.check_size(&body)?;
            offsets.push(u32::try_from(bytes.len()).expect("within the capacity"));
            last_check = format::push_frame(&mut bytes, &key, index, &body);
        }
        if bytes.len() as u64 > u64::from(header.capacity) {
            return Err(SegmentError::RecordTooLarge {
                size: bytes.len() as u64,
                max: u64::from(header.capacity),
            });
        }
        let path = format::path(&self.dir, header.number);
        // The old index goes first, durably: an index never describes a segment it was not
        // made for (SPEC §9.7.1). A new one is written once the new segment is in place.
        let index = sidecar::index_path(&self.dir, header.number);
        match self.backend.remove_file(&index) {
            Ok(()) => self
                .backend
                .sync_dir(&self.dir)
                .map_err(|e| io_err(self.dir.display(), e))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(index.display(), e)),
        }
        let tmp = self.dir.join(format::temp_file_name(header.number));
        let f = self
            .backend
            .open(&tmp, OpenMode::Truncate)
            .map_err(|e| io_err(tmp.display(), e))?;
        f.write_at(&bytes, 0)
            .and_then(|()| f.sync_data())
            .map_err(|e| io_err(tmp.display(), e))?;
        self.backend
            .rename(&tmp, &path)
            .map_err(|e| io_err(path.display(), e))?;
        self.backend
            .sync_dir(&self.dir)
            .map_err(|e| io_err(self.dir.display(), e))?;
        let end = bytes.len() as u64;
        let seg = &mut s.segments[i];
        seg.offsets = offsets;
        seg.end = end;
        seg.file_len = end;
        if !is_tail {
            write_index(self.backend.as_ref(), &self.dir, seg, last_check)?;
        }
        let f: Arc<dyn BackendFile> = Arc::from(f);
        if is_tail {
            if let Some(t) = s.tail.as_mut() {
                t.offset = end;
                t.last_check = last_check;
            }
            let mut io = self.io.lock().unwrap_or_else(|p| p.into_inner());
            io.file = Some((header.number, Box::new(SharedFile(f.clone()))));
            io.capacity = u64::from(header.capacity);
            io.end = end;
            io.allocated = end;
        }
        self.readers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(header.number, f);
        Ok(())
    }

    /// The body of record `index`: from memory if it has not reached the file yet, else read
    /// from its segment and checked again.
    pub fn read(&self, index: u64) -> Result<Vec<u8>, SegmentError> {
        let s = self.lock();
        let (i, offset) = locate(&s.segments, index).ok_or(SegmentError::NoRecord { index })?;
        let seg = &s.segments[i];
        let (number, key, end) = (seg.header.number, seg.key, seg.end);
        if index >= s.written {
            let off = u64::from(offset);
            for c in &s.chunks {
                let end = c.offset + c.bytes.len() as u64;
                if c.segment == number && c.offset <= off && off + FRAME_OVERHEAD <= end {
                    let at = (off - c.offset) as usize;
                    let len = u32::from_le_bytes(c.bytes[at..at + 4].try_into().expect("4 bytes"))
                        as usize;
                    return Ok(c.bytes[at + 4..at + 4 + len].to_vec());
                }
            }
            // Taken by a write running now: read from the file once it is there.
            drop(s);
            self.write_out()?;
        } else {
            drop(s);
        }
        let file = self.reader(number)?;
        format::read_record(file.as_ref(), number, &key, end, index, offset)
    }

    /// The bodies of records `from..to` (clipped to what is appended), in order, as
    /// [`SegmentWriter::read`] returns each: the records already handed to the file system
    /// are read a span of a segment at a time (what a span needs is copied under the lock, and
    /// the file read without it), the others one by one.
    pub fn read_many(&self, from: u64, to: u64) -> Result<Vec<Vec<u8>>, SegmentError> {
        let to = to.min(self.len());
        let mut out = Vec::with_capacity(usize::try_from(to.saturating_sub(from)).unwrap_or(0));
        let mut next = from;
        while next < to {
            let copied = {
                let s = self.lock();
                let written = to.min(s.written);
                if next >= written {
                    None
                } else {
                    let (i, _) =
                        locate(&s.segments, next).ok_or(SegmentError::NoRecord { index: next })?;
                    let seg = &s.segments[i];
                    let first =
                        usize::try_from(next - seg.header.first_index).unwrap_or(usize::MAX);
                    let stop = usize::try_from(written - seg.header.first_index)
                        .unwrap_or(usize::MAX)
                        .min(seg.offsets.len());
                    let span = span_of(seg, first, span_len(&seg.offsets, first, stop));
                    Some((
                        span.number,
                        *span.key,
                        span.end,
                        span.offsets.to_vec(),
                        span.stop,
                    ))
                }
            };
            let Some((number, key, end, offsets, stop)) = copied else {
                out.push(self.read(next)?);
                next += 1;
                continue;
            };
            let span = Span {
                number,
                key: &key,
                end,
                first_index: next,
                offsets: &offsets,
                stop,
            };
            read_span(self.reader(number)?.as_ref(), &span, &mut out)?;
            next += offsets.len() as u64;
        }
        Ok(out)
    }

    fn reader(&self, number: u64) -> Result<Arc<dyn BackendFile>, SegmentError> {
        let mut r = self.readers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(f) = r.get(&number) {
            return Ok(f.clone());
        }
        let path = format::path(&self.dir, number);
        let f: Arc<dyn BackendFile> = Arc::from(
            self.backend
                .open(&path, OpenMode::Read)
                .map_err(|e| io_err(path.display(), e))?,
        );
        r.insert(number, f.clone());
        Ok(f)
    }
}

impl Drop for SegmentWriter {
    // A clean close cuts the zeros written ahead of the last frame, so a closed log takes no
    // more room than its records (zeros left by a crash are cut on the next open), and records
    // what is durable in the state file (SPEC §9.7.2). Best effort: nothing is synced that was
    // not, so closing without a sync keeps what a power loss would drop droppable.
    fn drop(&mut self) {
        let s = self.lock();
        if s.poisoned.is_some() {
            return;
        }
        let durable = s.durable;
        drop(s);
        let mut guard = self.io.lock().unwrap_or_else(|p| p.into_inner());
        let io = &mut *guard;
        if let Some((_, f)) = &io.file {
            if io.allocated > io.end && f.set_len(io.end).is_ok() {
                io.allocated = io.end;
            }
        }
        if durable > io.state_records
            && write_state(self.backend.as_ref(), &self.dir, durable).is_ok()
        {
            io.state_records = durable;
        }
    }
}

/// What [`SegmentWriter::frame`] is given: a body, a body with the check made under a
/// segment's key, or a frame made ahead of time.
enum Frame<'a> {
    Body(&'a [u8]),
    Checked {
        key: [u8; 32],
        check: [u8; 8],
        body: &'a [u8],
    },
    Framed(Framed),
}

/// A file handle shared between the writer's tail and its readers (after a rewrite).
#[derive(Debug)]
struct SharedFile(Arc<dyn BackendFile>);

impl BackendFile for SharedFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        self.0.read_at(buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> std::io::Result<()> {
        self.0.write_at(buf, offset)
    }
    fn len(&self) -> std::io::Result<u64> {
        self.0.len()
    }
    fn set_len(&self, len: u64) -> std::io::Result<()> {
        self.0.set_len(len)
    }
    fn sync_data(&self) -> std::io::Result<()> {
        self.0.sync_data()
    }
    fn sync_all(&self) -> std::io::Result<()> {
        self.0.sync_all()
    }
}
