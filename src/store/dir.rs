//! [`DirStore`]: a log directory (SPEC §9.1, §9.7). Entries live in append-only segment files,
//! the log's other records (descriptor, checkpoints, timestamp tokens, rewrites of erased
//! entries) in a second stream of segments, and sled holds only derived indexes.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

// Session run markers (derived), packed in sled (SPEC §9.7).
use super::runs::{self, RUN};
use super::{Pair, Store, StoreError};
use crate::segment::{FsBackend, SegmentConfig, SegmentError, SegmentReader, SegmentWriter};

/// Entry records, by sequence number: `0x01 ‖ seq (u64 BE)`.
const ENTRY: u8 = 0x01;
/// The durable watermark of the key-value layout: here the segments are their own watermark.
const WATERMARK_KEY: &[u8] = b"\x00watermark";
/// In sled's `state` tree: how many entries the index covers.
const INDEXED_KEY: &[u8] = b"indexed";
/// Beside `index/`: present when the index was found damaged while open, so the next open
/// for writing removes `index/` before opening it (SPEC §9.7).
const INDEX_STALE: &str = "index.stale";

/// Operations in the `meta` stream: one per record, `op ‖ key length (u32 LE) ‖ key ‖ value`.
const OP_PUT: u8 = 1;
const OP_DELETE: u8 = 2;

/// Where a key lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// An entry record: the `entries` segments (or, once rewritten, the `meta` stream).
    Entry(u64),
    /// Derived data: the index.
    Index,
    /// Everything else the log keeps: the `meta` stream.
    Meta,
}

fn class(key: &[u8]) -> Result<Class, StoreError> {
    match key.first() {
        Some(&ENTRY) => {
            let seq: [u8; 8] = key
                .get(1..)
                .and_then(|k| k.try_into().ok())
                .ok_or_else(|| StoreError::Backend("an entry key is 0x01 and 8 bytes".into()))?;
            Ok(Class::Entry(u64::from_be_bytes(seq)))
        }
        Some(&RUN) => Ok(Class::Index),
        _ => Ok(Class::Meta),
    }
}

fn entry_key(seq: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(9);
    k.push(ENTRY);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

// The first sequence number whose entry key is at or after `bound` (2^64 when none is).
fn first_seq_from(bound: &[u8]) -> u128 {
    match bound.first() {
        None => 0,
        Some(&b) if b < ENTRY => 0,
        Some(&b) if b > ENTRY => 1 << 64,
        Some(_) => {
            let rest = &bound[1..];
            let mut seq = [0u8; 8];
            let n = rest.len().min(8);
            seq[..n].copy_from_slice(&rest[..n]);
            let seq = u128::from(u64::from_be_bytes(seq));
            // A bound longer than a key sorts after the key it starts with.
            if rest.len() > 8 { seq + 1 } else { seq }
        }
    }
}

fn segment_err(e: SegmentError) -> StoreError {
    match e {
        SegmentError::Io { source, .. } => StoreError::Io(source),
        other => StoreError::Backend(other.to_string()),
    }
}

// Opening a directory of segments: damage is reported typed, naming the directory, the
// segment and the offset.
fn open_err(dir: &Path) -> impl Fn(SegmentError) -> StoreError + '_ {
    move |e| match e {
        SegmentError::Corrupt { .. } | SegmentError::BadState { .. } => StoreError::Segments {
            dir: dir.to_path_buf(),
            source: e,
        },
        other => segment_err(other),
    }
}

pub(super) fn sled_err(e: sled::Error) -> StoreError {
    match e {
        sled::Error::Io(io) => StoreError::Io(io),
        other => StoreError::Backend(other.to_string()),
    }
}

/// A failure of sled while it reads or writes the open index: damage when its files hold
/// something sled cannot read ([`index_damaged`]), which the store answers by setting the
/// index aside ([`DirStore::index_op`] names the directory).
pub(super) fn index_err(e: sled::Error) -> StoreError {
    if index_damaged(&e) {
        StoreError::IndexDamaged {
            path: PathBuf::new(),
            reason: format!("sled: {e}"),
        }
    } else {
        sled_err(e)
    }
}

/// Whether the keys `[start, end)` include run markers (`0x02 …`).
fn touches_markers(start: &[u8], end: &[u8]) -> bool {
    start < &[RUN + 1][..] && end > &[RUN][..]
}

fn read_lock<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    // As for `lock`: the index is swapped whole under the write lock, never left half-made.
    l.read().unwrap_or_else(|p| p.into_inner())
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Critical sections below leave their data consistent, so a poisoned lock is still usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn encode_op(op: u8, key: &[u8], value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + key.len() + value.len());
    out.push(op);
    out.extend_from_slice(&(key.len() as u32).to_le_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(value);
    out
}

// An operation of the `meta` stream: `(op, key, value)`.
fn decode_op(index: u64, body: &[u8]) -> Result<(u8, &[u8], &[u8]), StoreError> {
    let bad = |what: &str| StoreError::Backend(format!("meta record {index}: {what}"));
    let (&op, rest) = body.split_first().ok_or_else(|| bad("empty"))?;
    let len: [u8; 4] = rest
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| bad("cut short"))?;
    let len = u32::from_le_bytes(len) as usize;
    let key = rest.get(4..4 + len).ok_or_else(|| bad("key cut short"))?;
    let value = &rest[4 + len..];
    match op {
        OP_PUT => Ok((op, key, value)),
        OP_DELETE if value.is_empty() => Ok((op, key, value)),
        _ => Err(bad("unknown operation")),
    }
}

/// What the `meta` stream says, replayed.
#[derive(Debug, Default)]
struct Meta {
    /// Meta-class keys and their values.
    map: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Entries rewritten since they were appended (an erased payload): `None` when removed.
    rewritten: BTreeMap<u64, Option<Vec<u8>>>,
}

impl Meta {
    fn apply(&mut self, op: u8, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        match (class(key)?, op) {
            (Class::Entry(seq), OP_PUT) => {
                self.rewritten.insert(seq, Some(value.to_vec()));
            }
            (Class::Entry(seq), _) => {
                self.rewritten.insert(seq, None);
            }
            (_, OP_PUT) => {
                self.map.insert(key.to_vec(), value.to_vec());
            }
            (_, _) => {
                self.map.remove(key);
            }
        }
        Ok(())
    }
}

/// The entry records: appended by a writer, or read as found.
#[derive(Debug)]
enum Entries {
    Writer(Box<SegmentWriter>),
    Reader(SegmentReader),
}

impl Entries {
    fn len(&self) -> u64 {
        match self {
            Entries::Writer(w) => w.len(),
            Entries::Reader(r) => r.end_index(),
        }
    }

    fn read(&self, seq: u64) -> Result<Vec<u8>, StoreError> {
        match self {
            Entries::Writer(w) => w.read(seq),
            Entries::Reader(r) => r.read(seq),
        }
        .map_err(segment_err)
    }

    // Records `from..to`, read in spans of the segment files.
    fn read_many(&self, from: u64, to: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        match self {
            Entries::Writer(w) => w.read_many(from, to),
            Entries::Reader(r) => r.read_many(from, to),
        }
        .map_err(segment_err)
    }
}

/// Index writes not yet in sled, applied as one batch by a flush (or by the write that brings
/// them to this many): an append does no sled insert of its own.
const PENDING_MAX: usize = 4096;

/// A flush applies the pending index writes and records the index's reach only once the durable
/// entries are this many past the reach last recorded (and the close applies and records the
/// rest). Applying a few run markers and recording the reach at every group commit cost 40% of
/// Immediate appends from 16 sessions interleaved (a run marker per entry): sled work on the
/// path every waiter waits for. A crash leaves the index at most this many entries (plus those
/// not yet flushed) behind, which the next open rebuilds (SPEC §9.7).
const INDEX_LAG: u64 = 1024;

/// The derived index: sled for a writer, memory for a reader (rebuilt on open).
#[derive(Debug)]
enum Index {
    Sled {
        db: sled::Db,
        state: sled::Tree,
        /// Writes not yet applied to `db`; reads look here first.
        pending: Mutex<BTreeMap<Vec<u8>, Vec<u8>>>,
        /// Held while a batch taken from `pending` is applied, so a flush that records how
        /// far the index reaches never does so while another thread's batch is in flight,
        /// and by reads of `pending` and sled together, so a read never falls between them
        /// (a batch taken from `pending` and not yet in sled).
        applying: Mutex<()>,
        /// The durable entries the last flush saw: every index write of an entry below it is
        /// pending or applied, so the close records it once the pending writes are applied.
        covered: AtomicU64,
        /// The reach last recorded in `state`.
        recorded: AtomicU64,
    },
    Memory {
        map: Mutex<BTreeMap<Vec<u8>, Vec<u8>>>,
        /// Set by the first flush: the open that rebuilt it is done.
        built: AtomicBool,
    },
}

/// A read of the index. For sled: its pending writes and sled itself, read with `applying`
/// held (until this is dropped), so that no batch taken from `pending` is missing from both.
enum IndexRead<'a> {
    Sled {
        db: &'a sled::Db,
        pending: &'a Mutex<BTreeMap<Vec<u8>, Vec<u8>>>,
        _held: MutexGuard<'a, ()>,
    },
    Memory(&'a Mutex<BTreeMap<Vec<u8>, Vec<u8>>>),
}

impl Index {
    fn sled(db: sled::Db, state: sled::Tree) -> Index {
        Index::Sled {
            db,
            state,
            pending: Mutex::new(BTreeMap::new()),
            applying: Mutex::new(()),
            covered: AtomicU64::new(0),
            recorded: AtomicU64::new(0),
        }
    }

    // Applies every pending write to sled in one batch. The caller may hold `applying`
    // already (`held`); a batch is taken from `pending` only under it.
    fn apply_pending(&self) -> Result<(), StoreError> {
        let Index::Sled { applying, .. } = self else {
            return Ok(());
        };
        let held = lock(applying);
        self.apply_pending_held(&held)
    }

    fn apply_pending_held(&self, _held: &MutexGuard<'_, ()>) -> Result<(), StoreError> {
        let Index::Sled { db, pending, .. } = self else {
            return Ok(());
        };
        let mut taken = std::mem::take(&mut *lock(pending));
        if taken.is_empty() {
            return Ok(());
        }
        let applied = runs::apply(db, taken.keys());
        if applied.is_err() {
            // Kept for the index that replaces a damaged one (`DirStore::set_index_aside`).
            let mut p = lock(pending);
            taken.append(&mut p);
            *p = taken;
        }
        applied
    }

    // Where a read of the index looks (see [`IndexRead`]).
    fn read(&self) -> IndexRead<'_> {
        match self {
            Index::Sled {
                db,
                pending,
                applying,
                ..
            } => IndexRead::Sled {
                db,
                pending,
                _held: lock(applying),
            },
            Index::Memory { map, .. } => IndexRead::Memory(map),
        }
    }

    fn memory() -> Index {
        Index::Memory {
            map: Mutex::new(BTreeMap::new()),
            built: AtomicBool::new(false),
        }
    }
}

/// A log directory on disk (SPEC §9.7):
///
/// - `entries/`: segment files whose record `i` is entry `i`'s stored record (SPEC §9.1), in
///   order, appended and never rewritten;
/// - `meta/`: segment files whose records are operations `op ‖ key length (u32 LE) ‖ key ‖
///   value` (`op` 1 puts, 2 removes) on everything else the log keeps — the descriptor,
///   checkpoints, timestamp tokens — and on entry records rewritten after they were appended
///   (an erased payload); replayed into memory on open;
/// - `index/`: a sled database holding only derived data (session run markers, packed: one
///   sled key per session and batch of markers), with the number of entries it covers;
///   behind, missing or unreadable by sled, it is rebuilt from the entries when the log is
///   opened ([`Store::indexed_len`]). Its keys are run markers only: any other write under
///   `0x02` is refused. Damage found in it while open sets it aside for an empty index in
///   memory, which the log fills again ([`StoreError::IndexDamaged`]), and leaves the file
///   `index.stale`, so that the next open removes `index/`;
/// - `lock`: held (`flock`) by the one process that has the directory open for writing.
///
/// Durability: [`Store::flush`] `fdatasync`s the entries and the meta stream (group commit,
/// SPEC §9.2); nothing is written twice, and sled is never synced: it is rebuilt when behind.
/// Records found whole and checked after a crash are kept (a torn tail is cut), so the entries
/// on disk are always a contiguous prefix: the segments are their own durable watermark.
///
/// [`DirStore::open_read_only`] opens the same directory without the lock and without writing
/// anything, beside a writer in another process or on read-only media: it reads the records
/// complete and checked when it was opened, and keeps its index in memory.
#[derive(Debug, Clone)]
pub struct DirStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    entries: Entries,
    meta_writer: Option<SegmentWriter>,
    meta: Mutex<Meta>,
    /// Entries rewritten in the meta stream whose old bytes are still in their segment.
    uncompacted: Mutex<BTreeSet<u64>>,
    /// Replaced whole, under the write lock, when sled's index is found damaged.
    index: RwLock<Index>,
    /// Set when `index` was found damaged and replaced by an empty one in memory, until the log
    /// has written every marker again ([`Store::index_rebuilt`]): reads of markers fail
    /// meanwhile, so that no query answers from a partial index.
    index_rebuilding: AtomicBool,
    /// Dropped after `index` (fields drop in order): the next process may open the store.
    _lock: Option<File>,
    /// Dropped last: the directory may be opened again in this process.
    _registered: Option<Registered>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let index = self.index.get_mut().unwrap_or_else(|p| p.into_inner());
        if let Index::Sled {
            db,
            state,
            applying,
            covered,
            ..
        } = &*index
        {
            // Best effort: an index left behind is rebuilt on the next open.
            let held = lock(applying);
            if index.apply_pending_held(&held).is_ok() {
                let covered = covered.load(Ordering::Acquire);
                if covered > 0 {
                    let _ = state.insert(INDEXED_KEY, &covered.to_be_bytes());
                }
            }
            drop(held);
            let _ = db.flush();
        }
    }
}

/// The directories this process has open for writing, so that a second open says so instead
/// of reporting the lock as held by another process, and those it closed in the last
/// [`INHERITED_LOCK_WAIT`] (see [`Registered::take`]).
static HERE: Mutex<BTreeMap<PathBuf, Here>> = Mutex::new(BTreeMap::new());
/// Notified whenever a directory of [`HERE`] is closed: an open waiting for a handle of this
/// process to close sleeps on it instead of polling.
static CLOSED_HERE: Condvar = Condvar::new();

/// What this process is doing with a directory in [`HERE`].
#[derive(Debug, Clone, Copy)]
enum Here {
    Open,
    ClosedAt(Instant),
}

/// How long after this process closed a directory the `flock` it held may still be held by a
/// child process this process was starting at that moment. A forked child shares the parent's
/// open file descriptions, the locked one among them, until it calls `exec` (which closes them,
/// all being close-on-exec): a process that spawns commands on one thread while it closes and
/// reopens a log on another — an agent host running tools — would otherwise find its own lock
/// held. The wait blocks on the lock and ends as soon as the child execs; its bound only turns
/// a holder that is not such a child into [`StoreError::Locked`].
const INHERITED_LOCK_WAIT: Duration = Duration::from_secs(10);

/// A directory's place in [`HERE`], given up when dropped.
#[derive(Debug)]
struct Registered(PathBuf);

impl Registered {
    /// Takes `dir`'s place, waiting up to `wait` for a handle of this process that has it to
    /// close (woken by its close, never polling). Also returns how long the open should wait
    /// for the directory's lock beyond `wait`: what is left of [`INHERITED_LOCK_WAIT`] since
    /// this process last closed it (none if it never did, or long enough ago).
    fn take(dir: &Path, wait: Duration) -> Result<(Registered, Duration), StoreError> {
        let dir = dir.canonicalize()?;
        let deadline = Instant::now() + wait;
        let mut here = lock(&HERE);
        loop {
            let inherited = match here.get(&dir) {
                Some(Here::Open) => None,
                Some(Here::ClosedAt(at)) => Some(INHERITED_LOCK_WAIT.saturating_sub(at.elapsed())),
                None => Some(Duration::ZERO),
            };
            if let Some(inherited) = inherited {
                here.insert(dir.clone(), Here::Open);
                return Ok((Registered(dir), inherited));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(StoreError::OpenInThisProcess { path: dir });
            }
            here = CLOSED_HERE
                .wait_timeout(here, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        let mut here = lock(&HERE);
        // Closes already past the wait are forgotten, so the map holds only open directories
        // and recent closes.
        here.retain(|_, h| match h {
            Here::Open => true,
            Here::ClosedAt(at) => at.elapsed() < INHERITED_LOCK_WAIT,
        });
        // Dropped after the lock file (`Inner`'s field order): the lock is let go now.
        here.insert(self.0.clone(), Here::ClosedAt(Instant::now()));
        drop(here);
        CLOSED_HERE.notify_all();
    }
}

/// The longest an open waits for sled's lock on `index/db` once it holds the log's own lock.
/// sled's worker threads can still hold that file for a moment after the `Db` that used it was
/// dropped (a finished job drops its handles only after it has handed back its result, and a
/// job may be in the middle of a write and sync, which a machine busy with other I/O can make
/// last seconds), so an open right after a close may find it held. Nobody else can hold it —
/// every writer takes the log's `lock` first, and a reader never opens sled — so the wait
/// blocks on the lock and wakes as soon as it is free; its bound only turns a stuck holder
/// into an error, and a close never waits for anything.
const SLED_RELEASE_WAIT: Duration = Duration::from_secs(30);

// Takes an exclusive lock (`flock`) on `lock_path`, waiting up to `wait` for the process that
// holds it to let go. The returned file holds the lock until it is closed.
fn lock_exclusive(lock_path: &Path, store: &Path, wait: Duration) -> Result<File, StoreError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(lock_path)?;
    let locked = || StoreError::Locked {
        path: store.to_owned(),
    };
    let held = fs2::lock_contended_error().raw_os_error();
    match fs2::FileExt::try_lock_exclusive(&file) {
        Ok(()) => return Ok(file),
        Err(e) if e.raw_os_error() == held => {}
        Err(e) => return Err(e.into()),
    }
    if wait.is_zero() {
        return Err(locked());
    }
    // A blocking lock wakes as soon as the holder lets go, with no polling. It has no timeout,
    // so it waits on a thread of its own: if `wait` ends first, that thread goes on waiting,
    // and closes the file, letting go of the lock, as soon as it gets it.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("sealtrail-lock".into())
        .spawn(move || {
            let taken = loop {
                match fs2::FileExt::lock_exclusive(&file) {
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    other => break other.map(|()| file),
                }
            };
            let _ = tx.send(taken);
        })?;
    match rx.recv_timeout(wait) {
        Ok(taken) => Ok(taken?),
        Err(_) => Err(locked()),
    }
}

// sled 0.34.7 reports a lock held by another process only as an `Other` I/O error with this
// message (sled's `Config::try_lock`).
fn is_lock_conflict(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::Other && e.to_string().starts_with("could not acquire lock")
}

/// sled's page cache for the index (its default is 1 GiB): the index holds only run markers,
/// read once per session query, so a small cache bounds a long-running writer's memory.
const INDEX_CACHE_BYTES: u64 = 8 << 20;

fn open_index(path: &Path) -> Result<(sled::Db, sled::Tree), StoreError> {
    let dir = path.join("index");
    let db_file = dir.join("db");
    // An index set aside as damaged while a writer had it open (`DirStore::index_op`) is
    // removed before sled sees it; the marker goes last, so a crash between the two removes
    // nothing that is still needed.
    let stale = path.join(INDEX_STALE);
    if stale.exists() {
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
        crate::segment::Backend::sync_dir(&FsBackend, path)?;
        std::fs::remove_file(&stale)?;
        crate::segment::Backend::sync_dir(&FsBackend, path)?;
    }
    // Opened, and its reach read once: damage sled finds only when it first reads a page
    // counts as damage found on open.
    let try_open = || {
        without_panics(|| {
            let db = sled::Config::new()
                .path(&dir)
                .cache_capacity(INDEX_CACHE_BYTES)
                .mode(sled::Mode::HighThroughput)
                .open()?;
            let state = db.open_tree("state")?;
            state.get(INDEXED_KEY)?;
            Ok((db, state))
        })
        .unwrap_or_else(|why| Err(sled::Error::ReportableBug(why)))
    };
    // sled only tries its lock on `index/db`. When that lock is held — by sled's threads
    // after a close, or by a child process being started, which shares every descriptor
    // until it execs (see INHERITED_LOCK_WAIT), our own wait below among them — the open
    // blocks until the holder lets go and then tries again, until SLED_RELEASE_WAIT is over.
    let deadline = Instant::now() + SLED_RELEASE_WAIT;
    let open = || loop {
        match try_open() {
            Err(sled::Error::Io(io)) if is_lock_conflict(&io) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(sled::Error::Io(io));
                }
                // Taken and let go at once: sled's own lock then finds it free.
                match lock_exclusive(&db_file, path, left) {
                    Ok(file) => drop(file),
                    Err(_) => return Err(sled::Error::Io(io)),
                }
            }
            other => return other,
        }
    };
    let opened = match open() {
        // The index is derived data (SPEC §9.7): one sled cannot read — a file a crash left
        // unfinished, or one changed by hand — is removed and built again from the segments
        // by the log's open, as if it were missing. The log's lock is held: no one else uses it.
        Err(e) if index_damaged(&e) => {
            std::fs::remove_dir_all(&dir)?;
            crate::segment::Backend::sync_dir(&FsBackend, path)?;
            open()
        }
        other => other,
    };
    opened.map_err(|e| match e {
        sled::Error::Io(io) if is_lock_conflict(&io) => StoreError::Locked {
            path: path.to_owned(),
        },
        other => sled_err(other),
    })
}

/// Runs `f`, a call into sled over files that may be damaged, returning what it panicked with
/// if it panics: sled 0.34 panics on some damage rather than reporting it (a page table it
/// cannot read makes its open panic while it writes a snapshot), and damage in derived data
/// must not take the process down.
fn without_panics<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|p| {
        let why = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".into());
        format!("sled panicked: {why}")
    })
}

/// Whether sled failed to open the index because of what its files hold, rather than because
/// the file system refused (permissions, space, a lock): then rebuilding the index mends it.
fn index_damaged(e: &sled::Error) -> bool {
    match e {
        sled::Error::Corruption { .. }
        | sled::Error::Unsupported(_)
        | sled::Error::ReportableBug(_) => true,
        sled::Error::Io(io) => matches!(
            io.kind(),
            std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::InvalidData
        ),
        _ => false,
    }
}

fn replay(read: impl Fn(u64) -> Result<Vec<u8>, StoreError>, len: u64) -> Result<Meta, StoreError> {
    let mut meta = Meta::default();
    for i in 0..len {
        let body = read(i)?;
        let (op, key, value) = decode_op(i, &body)?;
        meta.apply(op, key, value)?;
    }
    Ok(meta)
}

impl DirStore {
    /// Opens (creating if needed) the log directory `path` for writing: recovers the segments
    /// (SPEC §9.7) and replays the meta stream. Fails with [`StoreError::Locked`] at once if
    /// another process has it open — except shortly after this process closed it, when the
    /// holder may be a child process this one was starting, whose exec lets go of the lock:
    /// then it waits for the lock up to 10 s from the close.
    pub fn open(path: &Path) -> Result<DirStore, StoreError> {
        DirStore::open_waiting(path, Duration::ZERO)
    }

    /// Like [`DirStore::open`], waiting up to `wait` for another process to close the
    /// directory. Woken as soon as it does: the wait blocks on the lock, never polls.
    pub fn open_waiting(path: &Path, wait: Duration) -> Result<DirStore, StoreError> {
        std::fs::create_dir_all(path)?;
        let start = Instant::now();
        let (registered, inherited_wait) = Registered::take(path, wait)?;
        let lock_wait = wait.saturating_sub(start.elapsed()).max(inherited_wait);
        let lock_file = lock_exclusive(&path.join("lock"), path, lock_wait)?;
        let (db, state) = open_index(path)?;
        let mut store = DirStore::open_writer(Arc::new(FsBackend), path, Index::sled(db, state))?;
        let inner = Arc::get_mut(&mut store.inner).expect("not shared yet");
        inner._lock = Some(lock_file);
        inner._registered = Some(registered);
        Ok(store)
    }

    /// Opens (creating if needed) the log directory `path` for writing on any file
    /// [`Backend`](crate::segment::Backend) — the power-loss simulator among them — with its
    /// index in memory, rebuilt when a log is opened over it. It takes no lock: the caller
    /// makes sure no one else writes the directory.
    pub fn open_with_backend(
        backend: Arc<dyn crate::segment::Backend>,
        path: &Path,
    ) -> Result<DirStore, StoreError> {
        DirStore::open_writer(backend, path, Index::memory())
    }

    fn open_writer(
        backend: Arc<dyn crate::segment::Backend>,
        path: &Path,
        index: Index,
    ) -> Result<DirStore, StoreError> {
        let config = SegmentConfig::default();
        let (entries_dir, meta_dir) = (path.join("entries"), path.join("meta"));
        let (entries, _) = SegmentWriter::open(backend.clone(), &entries_dir, config)
            .map_err(open_err(&entries_dir))?;
        let (meta_writer, _) =
            SegmentWriter::open(backend, &meta_dir, config).map_err(open_err(&meta_dir))?;
        let meta = replay(
            |i| meta_writer.read(i).map_err(segment_err),
            meta_writer.len(),
        )?;
        // A rewrite recorded before a crash stopped its compaction is finished now.
        let mut uncompacted = BTreeSet::new();
        for (&seq, value) in &meta.rewritten {
            if let Some(v) = value {
                if seq < entries.len() && entries.read(seq).map_err(segment_err)? != *v {
                    uncompacted.insert(seq);
                }
            }
        }
        let store = DirStore {
            inner: Arc::new(Inner {
                dir: path.to_path_buf(),
                entries: Entries::Writer(Box::new(entries)),
                meta_writer: Some(meta_writer),
                meta: Mutex::new(meta),
                uncompacted: Mutex::new(uncompacted),
                index: RwLock::new(index),
                index_rebuilding: AtomicBool::new(false),
                _lock: None,
                _registered: None,
            }),
        };
        store.compact()?;
        Ok(store)
    }

    /// Opens the log directory `path` for reading only, beside a writer or on read-only
    /// media: takes no lock, writes nothing, and sees the records complete and checked now
    /// (a torn or unfinished tail is left where it is). Its index starts empty, in memory:
    /// [`Store::indexed_len`] is 0 until the first flush, and a log opened read-only over it
    /// builds the index when a query first needs it (SPEC §9.7). Writes to anything but the
    /// index fail with [`StoreError::ReadOnly`].
    pub fn open_read_only(path: &Path) -> Result<DirStore, StoreError> {
        let backend = FsBackend;
        // The meta stream first: every checkpoint it holds was made over entries already
        // written, so the entries read after it reach at least as far.
        let (entries_dir, meta_dir) = (path.join("entries"), path.join("meta"));
        let meta_reader = SegmentReader::open(&backend, &meta_dir).map_err(open_err(&meta_dir))?;
        let meta = replay(
            |i| meta_reader.read(i).map_err(segment_err),
            meta_reader.end_index(),
        )?;
        let entries =
            SegmentReader::open(&backend, &entries_dir).map_err(open_err(&entries_dir))?;
        Ok(DirStore {
            inner: Arc::new(Inner {
                dir: path.to_path_buf(),
                entries: Entries::Reader(entries),
                meta_writer: None,
                meta: Mutex::new(meta),
                uncompacted: Mutex::new(BTreeSet::new()),
                index: RwLock::new(Index::memory()),
                index_rebuilding: AtomicBool::new(false),
                _lock: None,
                _registered: None,
            }),
        })
    }

    /// Whether `path` holds a log directory's layout (`entries/` and `meta/`).
    pub fn is_log_dir(path: &Path) -> bool {
        path.join("entries").is_dir() && path.join("meta").is_dir()
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    fn read_only(&self) -> StoreError {
        StoreError::ReadOnly {
            path: self.inner.dir.clone(),
        }
    }

    fn writer(&self) -> Result<&SegmentWriter, StoreError> {
        match &self.inner.entries {
            Entries::Writer(w) => Ok(w),
            Entries::Reader(_) => Err(self.read_only()),
        }
    }

    fn meta_op(&self, op: u8, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        let writer = self
            .inner
            .meta_writer
            .as_ref()
            .ok_or_else(|| self.read_only())?;
        // Under the lock: the stream's order is the order the operations apply in.
        let mut meta = lock(&self.inner.meta);
        writer
            .append(&encode_op(op, key, value))
            .map_err(segment_err)?;
        meta.apply(op, key, value)
    }

    fn put_entry(&self, seq: u64, value: &[u8]) -> Result<(), StoreError> {
        let writer = self.writer()?;
        if seq < writer.len() {
            // A rewrite of an appended entry (its payload erased): recorded in the meta stream,
            // and written into its segment by the next compaction.
            self.meta_op(OP_PUT, &entry_key(seq), value)?;
            lock(&self.inner.uncompacted).insert(seq);
            return Ok(());
        }
        writer.reserve_to(seq + 1).map_err(segment_err)?;
        writer.write(seq, value).map_err(segment_err)
    }

    fn get_entry(&self, seq: u64) -> Result<Option<Vec<u8>>, StoreError> {
        if let Some(rewritten) = lock(&self.inner.meta).rewritten.get(&seq) {
            return Ok(rewritten.clone());
        }
        if seq < self.inner.entries.len() {
            return self.inner.entries.read(seq).map(Some);
        }
        Ok(None)
    }

    /// Runs `op` on the index. When it finds the index damaged, the index is set aside
    /// ([`DirStore::set_index_aside`]) and the error names the directory; a read of markers
    /// made while the log rebuilds the index fails the same way (`reads`).
    fn index_op<T>(
        &self,
        reads: bool,
        op: impl FnOnce(&Index) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let rebuilding = || StoreError::IndexDamaged {
            path: self.inner.dir.clone(),
            reason: "found damaged earlier, and not yet rebuilt".into(),
        };
        if reads && self.inner.index_rebuilding.load(Ordering::Acquire) {
            return Err(rebuilding());
        }
        let done = without_panics(|| op(&read_lock(&self.inner.index))).unwrap_or_else(|why| {
            Err(StoreError::IndexDamaged {
                path: PathBuf::new(),
                reason: why,
            })
        });
        match done {
            Err(StoreError::IndexDamaged { reason, .. }) => {
                self.set_index_aside();
                Err(StoreError::IndexDamaged {
                    path: self.inner.dir.clone(),
                    reason,
                })
            }
            // Checked again after the read: the index may have been set aside while it ran.
            Ok(_) if reads && self.inner.index_rebuilding.load(Ordering::Acquire) => {
                Err(rebuilding())
            }
            other => other,
        }
    }

    /// Writes to the index (pending markers applied, the reach recorded): damage found is
    /// answered by setting the index aside, and the write that found it succeeds, since the
    /// marker it carried is kept in the index that replaces it: an append or a group commit
    /// never fails because of derived data.
    fn index_write(
        &self,
        op: impl FnOnce(&Index) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        match self.index_op(false, op) {
            Err(StoreError::IndexDamaged { .. }) => Ok(()),
            other => other,
        }
    }

    /// Replaces a sled index found damaged by an empty one in memory, keeping the markers not
    /// yet applied, and marks `index/` stale so that the next open for writing removes it
    /// (SPEC §9.7). Reads of markers fail until the log has rebuilt the index from its entries
    /// ([`Store::index_rebuilt`]). Only the first damage found does anything.
    fn set_index_aside(&self) {
        let mut index = self.inner.index.write().unwrap_or_else(|p| p.into_inner());
        let Index::Sled { pending, .. } = &*index else {
            return;
        };
        let kept = std::mem::take(&mut *lock(pending));
        self.inner.index_rebuilding.store(true, Ordering::Release);
        let damaged = std::mem::replace(
            &mut *index,
            Index::Memory {
                map: Mutex::new(kept),
                built: AtomicBool::new(true),
            },
        );
        drop(index);
        // sled's handles are closed outside the lock: its last flush may take a while, and
        // over damaged files it may panic.
        let _ = without_panics(|| drop(damaged));
        // Best effort: if the marker is lost, the next open finds the damage again, when a
        // query reads it, and sets the index aside again.
        let stale = self.inner.dir.join(INDEX_STALE);
        if File::create(&stale).and_then(|f| f.sync_all()).is_ok() {
            let _ = crate::segment::Backend::sync_dir(&FsBackend, &self.inner.dir);
        }
    }

    fn index_put(&self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        runs::check(key, value)?;
        self.index_write(|index| match index {
            // SPEC §9.7: derived data, so not written on the append path; a crash before the
            // next flush loses nothing the open does not rebuild.
            Index::Sled { pending, .. } => {
                let full = {
                    let mut p = lock(pending);
                    p.insert(key.to_vec(), value.to_vec());
                    p.len() >= PENDING_MAX
                };
                if full {
                    index.apply_pending()?;
                }
                Ok(())
            }
            Index::Memory { map: m, .. } => {
                lock(m).insert(key.to_vec(), value.to_vec());
                Ok(())
            }
        })
    }

    // The index holds run markers only (`class`): a range without them never touches it.
    fn index_scan(&self, start: &[u8], end: &[u8], limit: usize) -> Result<Vec<Pair>, StoreError> {
        if !touches_markers(start, end) {
            return Ok(Vec::new());
        }
        self.index_op(true, |index| match index.read() {
            IndexRead::Sled { db, pending, .. } => {
                // Pending markers and sled's, merged (a marker may be in both).
                let mut merged: BTreeSet<Vec<u8>> = lock(pending)
                    .range(start.to_vec()..end.to_vec())
                    .take(limit)
                    .map(|(k, _)| k.clone())
                    .collect();
                merged.extend(runs::scan(db, start, end, limit)?);
                Ok(merged
                    .into_iter()
                    .take(limit)
                    .map(|k| (k, Vec::new()))
                    .collect())
            }
            IndexRead::Memory(m) => Ok(lock(m)
                .range(start.to_vec()..end.to_vec())
                .take(limit)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()),
        })
    }

    fn index_last(&self, start: &[u8], end: &[u8]) -> Result<Option<Pair>, StoreError> {
        if !touches_markers(start, end) {
            return Ok(None);
        }
        self.index_op(true, |index| match index.read() {
            IndexRead::Sled { db, pending, .. } => {
                let from_pending = lock(pending)
                    .range(start.to_vec()..end.to_vec())
                    .next_back()
                    .map(|(k, _)| k.clone());
                let from_db = runs::last(db, start, end)?;
                Ok(from_pending.max(from_db).map(|k| (k, Vec::new())))
            }
            IndexRead::Memory(m) => Ok(lock(m)
                .range(start.to_vec()..end.to_vec())
                .next_back()
                .map(|(k, v)| (k.clone(), v.clone()))),
        })
    }

    // The entry records in `[start, end)`, at most `limit`, rewrites applied.
    fn entry_scan(&self, start: &[u8], end: &[u8], limit: usize) -> Result<Vec<Pair>, StoreError> {
        let len = u128::from(self.inner.entries.len());
        let (from, to) = (first_seq_from(start), first_seq_from(end).min(len));
        // Read in spans of the segment files, not a record at a time; rewrites applied.
        let mut out = Vec::new();
        let mut next = from;
        while next < to && out.len() < limit {
            let upto = to.min(next + (limit - out.len()) as u128);
            let bodies = self.inner.entries.read_many(next as u64, upto as u64)?;
            let meta = lock(&self.inner.meta);
            for (seq, body) in (next as u64..).zip(bodies) {
                match meta.rewritten.get(&seq) {
                    Some(Some(v)) => out.push((entry_key(seq), v.clone())),
                    Some(None) => {}
                    None => out.push((entry_key(seq), body)),
                }
            }
            next = upto;
        }
        Ok(out)
    }

    fn entry_last(&self, start: &[u8], end: &[u8]) -> Result<Option<Pair>, StoreError> {
        let len = u128::from(self.inner.entries.len());
        let (from, mut to) = (first_seq_from(start), first_seq_from(end).min(len));
        while to > from {
            to -= 1;
            let s = to as u64;
            if let Some(v) = self.get_entry(s)? {
                return Ok(Some((entry_key(s), v)));
            }
        }
        Ok(None)
    }

    // The entries' segments and the meta stream made durable: how many entries are.
    fn sync_segments(&self) -> Result<u64, StoreError> {
        match &self.inner.entries {
            Entries::Writer(entries) => {
                let durable = entries.sync().map_err(segment_err)?;
                if let Some(meta) = &self.inner.meta_writer {
                    meta.sync().map_err(segment_err)?;
                }
                Ok(durable)
            }
            Entries::Reader(_) => Ok(0),
        }
    }

    // Applies the index writes kept in memory to sled once `durable` entries are far enough
    // past the reach last recorded (SPEC §9.2).
    fn settle_index(&self, durable: u64) -> Result<(), StoreError> {
        self.index_write(|index| {
            match index {
                // Every durable entry's index writes were made before the entry itself, so
                // they are pending or applied: once the pending ones are applied, the index
                // covers the durable entries. Not synced: sled keeps its updates in order, and
                // an index found behind after a crash is rebuilt.
                Index::Sled {
                    state,
                    applying,
                    covered,
                    recorded,
                    ..
                } => {
                    covered.fetch_max(durable, Ordering::AcqRel);
                    if durable >= recorded.load(Ordering::Acquire).saturating_add(INDEX_LAG) {
                        let held = lock(applying);
                        index.apply_pending_held(&held)?;
                        state
                            .insert(INDEXED_KEY, &durable.to_be_bytes())
                            .map_err(index_err)?;
                        recorded.fetch_max(durable, Ordering::AcqRel);
                    }
                }
                // Rebuilt by the open that flushes first; kept up to date from then on.
                Index::Memory { built, .. } => built.store(true, Ordering::Release),
            }
            Ok(())
        })
    }
}

impl Store for DirStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        if key == WATERMARK_KEY {
            return Ok(Some(self.inner.entries.len().to_be_bytes().to_vec()));
        }
        match class(key) {
            Ok(Class::Entry(seq)) => self.get_entry(seq),
            Ok(Class::Index) => self.index_op(true, |index| match index.read() {
                IndexRead::Sled { db, pending, .. } => {
                    if let Some(v) = lock(pending).get(key) {
                        return Ok(Some(v.clone()));
                    }
                    Ok(runs::contains(db, key)?.then(Vec::new))
                }
                IndexRead::Memory(m) => Ok(lock(m).get(key).cloned()),
            }),
            Ok(Class::Meta) => Ok(lock(&self.inner.meta).map.get(key).cloned()),
            Err(_) => Ok(None),
        }
    }

    fn put(&self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        if key == WATERMARK_KEY {
            // Records found whole after a crash are kept: the segments say what is written.
            return Ok(());
        }
        match class(key)? {
            Class::Entry(seq) => self.put_entry(seq, value),
            Class::Index => self.index_put(key, value),
            Class::Meta => self.meta_op(OP_PUT, key, value),
        }
    }

    fn delete(&self, key: &[u8]) -> Result<(), StoreError> {
        if key == WATERMARK_KEY {
            return Ok(());
        }
        match class(key)? {
            Class::Entry(seq) => {
                if seq < self.inner.entries.len() {
                    self.meta_op(OP_DELETE, &entry_key(seq), &[])
                } else {
                    Ok(())
                }
            }
            Class::Index => self.index_write(|index| match index {
                // Pending writes reach sled first, so none of them comes back after the
                // removal.
                Index::Sled { db, applying, .. } => {
                    let held = lock(applying);
                    index.apply_pending_held(&held)?;
                    runs::remove(db, key)
                }
                Index::Memory { map: m, .. } => {
                    lock(m).remove(key);
                    Ok(())
                }
            }),
            Class::Meta => {
                if lock(&self.inner.meta).map.contains_key(key) {
                    self.meta_op(OP_DELETE, key, &[])
                } else {
                    Ok(())
                }
            }
        }
    }

    fn scan(&self, start: &[u8], end: &[u8], limit: usize) -> Result<Vec<Pair>, StoreError> {
        if start >= end || limit == 0 {
            return Ok(Vec::new());
        }
        // The three places hold disjoint keys: take up to `limit` from each, then merge.
        let mut out: Vec<Pair> = lock(&self.inner.meta)
            .map
            .range(start.to_vec()..end.to_vec())
            .filter(|(k, _)| k.as_slice() != WATERMARK_KEY)
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        out.extend(self.entry_scan(start, end, limit)?);
        out.extend(self.index_scan(start, end, limit)?);
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out.truncate(limit);
        Ok(out)
    }

    fn last(&self, start: &[u8], end: &[u8]) -> Result<Option<Pair>, StoreError> {
        if start >= end {
            return Ok(None);
        }
        let meta = lock(&self.inner.meta)
            .map
            .range(start.to_vec()..end.to_vec())
            .next_back()
            .map(|(k, v)| (k.clone(), v.clone()));
        let candidates = [
            meta,
            self.entry_last(start, end)?,
            self.index_last(start, end)?,
        ];
        Ok(candidates
            .into_iter()
            .flatten()
            .max_by(|a, b| a.0.cmp(&b.0)))
    }

    fn flush(&self) -> Result<(), StoreError> {
        let durable = self.sync_segments()?;
        self.settle_index(durable)
    }

    // The segments' `fdatasync`: what makes the completed writes durable.
    fn sync(&self) -> Result<(), StoreError> {
        self.sync_segments().map(drop)
    }

    // The index brought up to the durable entries: derived data, which no group commit
    // waits for.
    fn settle(&self) -> Result<(), StoreError> {
        let durable = match &self.inner.entries {
            Entries::Writer(entries) => entries.durable_len(),
            Entries::Reader(_) => 0,
        };
        self.settle_index(durable)
    }

    fn size_on_disk(&self) -> Result<Option<u64>, StoreError> {
        fn walk(p: &Path) -> std::io::Result<u64> {
            let mut total = 0;
            for e in std::fs::read_dir(p)? {
                let e = e?;
                let t = e.file_type()?;
                total += if t.is_dir() {
                    walk(&e.path())?
                } else {
                    e.metadata()?.len()
                };
            }
            Ok(total)
        }
        Ok(Some(walk(&self.inner.dir)?))
    }

    fn compact(&self) -> Result<(), StoreError> {
        let Entries::Writer(entries) = &self.inner.entries else {
            return Ok(());
        };
        let mut uncompacted = lock(&self.inner.uncompacted);
        if uncompacted.is_empty() {
            return Ok(());
        }
        // The rewrites reach the disk in the meta stream first: a crash during the compaction
        // leaves them there for the next open to finish.
        if let Some(meta) = &self.inner.meta_writer {
            meta.sync().map_err(segment_err)?;
        }
        let bodies: BTreeMap<u64, Vec<u8>> = {
            let meta = lock(&self.inner.meta);
            uncompacted
                .iter()
                .filter_map(|seq| match meta.rewritten.get(seq) {
                    Some(Some(v)) => Some((*seq, v.clone())),
                    _ => None,
                })
                .collect()
        };
        entries.rewrite(&bodies).map_err(segment_err)?;
        uncompacted.clear();
        Ok(())
    }

    fn indexed_len(&self) -> Result<Option<u64>, StoreError> {
        match &*read_lock(&self.inner.index) {
            Index::Sled { state, .. } => {
                let Some(v) = state.get(INDEXED_KEY).map_err(sled_err)? else {
                    return Ok(Some(0));
                };
                let v: [u8; 8] = v.as_ref().try_into().unwrap_or([0; 8]);
                Ok(Some(u64::from_be_bytes(v)))
            }
            // Built once, by the open that rebuilds it; complete from then on.
            Index::Memory { built, .. } => Ok((!built.load(Ordering::Acquire)).then_some(0)),
        }
    }

    fn index_rebuild_needed(&self) -> bool {
        self.inner.index_rebuilding.load(Ordering::Acquire)
    }

    fn index_rebuilt(&self) {
        self.inner.index_rebuilding.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The run marker of entry `seq` in session `s`.
    fn marker(seq: u64) -> Vec<u8> {
        let mut k = vec![RUN, 1, b's'];
        k.extend_from_slice(&seq.to_be_bytes());
        k
    }

    #[test]
    fn keys_route_to_their_place_and_scans_merge_in_key_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirStore::open(dir.path()).unwrap();
        store.put(b"\x00descriptor", b"d").unwrap();
        store.put(&entry_key(1), b"e1").unwrap();
        store.put(&entry_key(0), b"e0").unwrap();
        store
            .put(&[RUN, 1, b's', 0, 0, 0, 0, 0, 0, 0, 0], b"")
            .unwrap();
        store.put(&[0x04, 0, 0, 0, 0, 0, 0, 0, 2], b"cp").unwrap();
        let all = store.scan(&[], &[0xff], usize::MAX).unwrap();
        let keys: Vec<_> = all.iter().map(|(k, _)| k[0]).collect();
        assert_eq!(keys, [0x00, 0x01, 0x01, 0x02, 0x04]);
        assert_eq!(store.scan(&entry_key(1), &[0x02], 10).unwrap().len(), 1);
        assert_eq!(store.last(&[0x01], &[0x02]).unwrap().unwrap().1, b"e1");
        // A rewrite of an appended entry replaces what reads return.
        store.put(&entry_key(0), b"erased").unwrap();
        store.flush().unwrap();
        drop(store);

        let store = DirStore::open(dir.path()).unwrap();
        assert_eq!(store.get(&entry_key(0)).unwrap().unwrap(), b"erased");
        assert_eq!(store.get(&entry_key(1)).unwrap().unwrap(), b"e1");
        assert_eq!(store.get(b"\x00descriptor").unwrap().unwrap(), b"d");
        assert_eq!(store.indexed_len().unwrap(), Some(2));
        drop(store);

        // A reader sees the same, writes nothing, and refuses writes.
        let reader = DirStore::open_read_only(dir.path()).unwrap();
        assert_eq!(reader.get(&entry_key(0)).unwrap().unwrap(), b"erased");
        assert!(matches!(
            reader.put(&entry_key(2), b"x"),
            Err(StoreError::ReadOnly { .. })
        ));
        assert_eq!(reader.indexed_len().unwrap(), Some(0));
    }

    #[test]
    fn a_reader_opens_beside_a_writer_and_sees_what_was_written() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirStore::open(dir.path()).unwrap();
        for seq in 0..10 {
            store.put(&entry_key(seq), &[seq as u8; 40]).unwrap();
        }
        store.flush().unwrap();
        // A second writer is refused; a reader is not.
        assert!(matches!(
            DirStore::open(dir.path()),
            Err(StoreError::OpenInThisProcess { .. })
        ));
        let reader = DirStore::open_read_only(dir.path()).unwrap();
        assert_eq!(
            reader.get(WATERMARK_KEY).unwrap().unwrap(),
            10u64.to_be_bytes()
        );
        assert_eq!(reader.get(&entry_key(9)).unwrap().unwrap(), [9u8; 40]);
        assert_eq!(reader.get(&entry_key(10)).unwrap(), None);
    }

    /// SPEC §9.2: an index write is not a sled insert on the append path; reads see it at
    /// once; a flush applies the pending writes to sled in one batch and records the index's
    /// reach once the durable entries are [`INDEX_LAG`] past the reach last recorded, and the
    /// close applies and records the rest.
    #[test]
    fn index_writes_reach_sled_when_the_index_lags_or_at_close_and_reads_see_them_before() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirStore::open(dir.path()).unwrap();
        let index = read_lock(&store.inner.index);
        let Index::Sled { db, .. } = &*index else {
            panic!("a writer's index is sled");
        };
        let run = [RUN, 1, b's', 0, 0, 0, 0, 0, 0, 0, 0];
        let node = [RUN, 1, b't', 0, 0, 0, 0, 0, 0, 0, 1];
        store.put(&run, b"").unwrap();
        store.put(&node, b"").unwrap();
        store.put(&entry_key(0), b"e0").unwrap();
        assert_eq!(db.get(run).unwrap(), None, "an append wrote to sled");
        assert_eq!(db.get(node).unwrap(), None, "an append wrote to sled");
        assert_eq!(store.get(&run).unwrap(), Some(Vec::new()));
        assert_eq!(store.get(&node).unwrap(), Some(Vec::new()));
        let scanned = store.scan(&[RUN], &[RUN + 1], 10).unwrap();
        assert_eq!(scanned.len(), 2);
        assert_eq!(store.last(&[RUN], &[RUN + 1]).unwrap().unwrap().0, node);
        // The index holds run markers only.
        assert!(store.put(&node, &[9; 32]).is_err());
        assert!(store.put(&[RUN, 1, b's'], b"").is_err());
        // One durable entry: the index may lag, so the flush leaves sled alone.
        store.flush().unwrap();
        assert_eq!(
            db.get(run).unwrap(),
            None,
            "a flush within the lag wrote to sled"
        );
        assert_eq!(store.indexed_len().unwrap(), Some(0));
        assert_eq!(store.get(&run).unwrap(), Some(Vec::new()));
        // Once the durable entries are INDEX_LAG past the recorded reach, the flush applies
        // the pending writes (each marker here a pack of one) and records the reach.
        for seq in 1..INDEX_LAG {
            store.put(&entry_key(seq), b"e").unwrap();
        }
        store.flush().unwrap();
        assert_eq!(db.get(run).unwrap().as_deref(), Some(&b""[..]));
        assert_eq!(db.get(node).unwrap().as_deref(), Some(&b""[..]));
        assert_eq!(store.indexed_len().unwrap(), Some(INDEX_LAG));
        // Within the lag again; the close applies a later marker of session `t` and records
        // the last flush's reach.
        let later = [RUN, 1, b't', 0, 0, 0, 0, 0, 0, 0, 9];
        store.put(&later, b"").unwrap();
        assert_eq!(store.get(&later).unwrap(), Some(Vec::new()));
        store.put(&entry_key(INDEX_LAG), b"e").unwrap();
        store.flush().unwrap();
        assert_eq!(store.indexed_len().unwrap(), Some(INDEX_LAG));
        drop(index);
        drop(store);
        let store = DirStore::open(dir.path()).unwrap();
        assert_eq!(store.get(&later).unwrap(), Some(Vec::new()));
        assert_eq!(store.get(&node).unwrap(), Some(Vec::new()));
        let index = read_lock(&store.inner.index);
        let Index::Sled { db, .. } = &*index else {
            panic!("a writer's index is sled");
        };
        // A later batch's markers form packs of their own.
        assert_eq!(db.get(node).unwrap().as_deref(), Some(&b""[..]));
        assert_eq!(db.get(later).unwrap().as_deref(), Some(&b""[..]));
        assert_eq!(store.indexed_len().unwrap(), Some(INDEX_LAG + 1));
        // A marker removed is gone from its pack.
        store.delete(&node).unwrap();
        assert_eq!(store.get(&node).unwrap(), None);
        assert_eq!(store.get(&later).unwrap(), Some(Vec::new()));
    }

    /// SPEC §9.7: damage sled's index shows to a write (a flush applying markers over a pack
    /// of another form) does not fail the write: the index is set aside with the markers not
    /// yet applied, reads of markers fail until the log says it rebuilt them, and the next
    /// open removes the damaged index.
    #[test]
    fn an_index_found_damaged_by_a_write_is_set_aside_and_reads_wait_for_its_rebuild() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirStore::open(dir.path()).unwrap();
        {
            let index = read_lock(&store.inner.index);
            let Index::Sled { db, .. } = &*index else {
                panic!("a writer's index is sled");
            };
            db.insert(marker(0), &[7u8; 5][..]).unwrap();
        }
        for seq in 1..=PENDING_MAX as u64 {
            store.put(&marker(seq), b"").unwrap();
        }
        assert!(store.index_rebuild_needed());
        assert!(dir.path().join(INDEX_STALE).exists());
        let (start, end) = (vec![RUN], vec![RUN + 1]);
        assert!(matches!(
            store.scan(&start, &end, 10),
            Err(StoreError::IndexDamaged { .. })
        ));
        assert!(matches!(
            store.get(&marker(3)),
            Err(StoreError::IndexDamaged { .. })
        ));
        // Reads of anything else go on.
        store.put(&entry_key(0), b"e0").unwrap();
        assert_eq!(store.scan(&[ENTRY], &[RUN], 10).unwrap().len(), 1);
        // The markers the damaged index had not taken are kept; the log writes the others.
        store.put(&marker(0), b"").unwrap();
        store.index_rebuilt();
        assert_eq!(
            store.scan(&start, &end, usize::MAX).unwrap().len(),
            PENDING_MAX + 1
        );
        store.flush().unwrap();
        drop(store);

        let store = DirStore::open(dir.path()).unwrap();
        assert!(!dir.path().join(INDEX_STALE).exists());
        assert_eq!(
            store.indexed_len().unwrap(),
            Some(0),
            "the index starts afresh"
        );
        assert_eq!(store.scan(&start, &end, 10).unwrap(), Vec::<Pair>::new());
    }

    /// A read of the index beside a batch being applied sees every marker written before it
    /// began: none falls between the pending writes and sled.
    #[test]
    fn reads_beside_an_apply_see_every_marker_written_before_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirStore::open(dir.path()).unwrap();
        let (start, end) = (vec![RUN, 1, b's'], vec![RUN, 1, b't']);
        let written = AtomicU64::new(0);
        let total = 6 * PENDING_MAX as u64;
        std::thread::scope(|t| {
            t.spawn(|| {
                // Every PENDING_MAX-th write applies the pending batch to sled.
                for seq in 0..total {
                    store.put(&marker(seq), b"").unwrap();
                    written.store(seq + 1, Ordering::Release);
                }
            });
            let mut reads = 0;
            loop {
                let before = written.load(Ordering::Acquire);
                let seen = store.scan(&start, &end, usize::MAX).unwrap().len() as u64;
                assert!(
                    seen >= before,
                    "{seen} markers read, {before} written before"
                );
                reads += 1;
                if before == total {
                    break;
                }
            }
            assert!(reads > 1);
        });
    }

    /// sled's threads may hold `index/db` for seconds after a close on a machine busy with
    /// other I/O: an open right after waits for them rather than failing as `Locked`.
    #[test]
    fn an_open_waits_for_a_closed_index_to_be_let_go() {
        let dir = tempfile::tempdir().unwrap();
        drop(DirStore::open(dir.path()).unwrap());
        let held = File::open(dir.path().join("index").join("db")).unwrap();
        fs2::FileExt::lock_exclusive(&held).unwrap();
        let slow_sync = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(2500));
            drop(held);
        });
        let store = DirStore::open(dir.path());
        slow_sync.join().unwrap();
        assert!(store.is_ok(), "{:?}", store.err());
    }

    /// A process that starts commands on one thread while it closes and reopens a log on
    /// another (an agent host running tools) opens it every time: a child being started
    /// shares the closed lock file's descriptor until it execs, and an open waits for that.
    #[test]
    fn a_reopen_beside_a_thread_starting_processes_is_not_locked_out() {
        let dir = tempfile::tempdir().unwrap();
        drop(DirStore::open(dir.path()).unwrap());
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let spawner = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut started = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    std::process::Command::new("true").status().unwrap();
                    started += 1;
                }
                started
            })
        };
        let mut refused = Vec::new();
        for _ in 0..200 {
            match DirStore::open(dir.path()) {
                Ok(store) => drop(store),
                Err(e) => refused.push(e.to_string()),
            }
        }
        stop.store(true, Ordering::Relaxed);
        let started = spawner.join().unwrap();
        assert!(started > 0, "no process was started beside the opens");
        assert!(
            refused.is_empty(),
            "{} of 200 opens refused: {:?}",
            refused.len(),
            refused[0]
        );
    }

    #[test]
    fn bounds_map_to_sequence_numbers() {
        assert_eq!(first_seq_from(&[]), 0);
        assert_eq!(first_seq_from(&[0x00, 5]), 0);
        assert_eq!(first_seq_from(&[0x02]), 1 << 64);
        assert_eq!(first_seq_from(&entry_key(7)), 7);
        assert_eq!(first_seq_from(&[0x01]), 0);
        let mut longer = entry_key(7);
        longer.push(0);
        assert_eq!(first_seq_from(&longer), 8);
    }
}
