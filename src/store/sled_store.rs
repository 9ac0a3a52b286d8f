use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::{Pair, Store, StoreError};

/// WAL bytes after which a flush checkpoints instead: sled is flushed and fsynced, and the WAL
/// starts over.
const CHECKPOINT_BYTES: u64 = 64 * 1024 * 1024;
/// Pending WAL bytes after which the frames are dropped and the next flush checkpoints instead:
/// sled already holds every write, so making sled durable once is cheaper than writing the same
/// bytes a second time. Keeps memory bounded for Buffered logs that rarely flush.
const PENDING_BYTES: usize = 4 * 1024 * 1024;
/// The WAL file grows by zeros written ahead of the frames, at least this much at a time (and at
/// least as much as it holds, up to [`GROW_MAX`]), so that syncing a flush's frames changes no
/// file metadata: `fdatasync` then writes the frames' pages and nothing else.
const GROW_MIN: u64 = 64 * 1024;
const GROW_MAX: u64 = 8 * 1024 * 1024;
/// WAL bytes up to which closing leaves the frames where they are instead of checkpointing: the
/// next open replays them (well under a millisecond for this much), which costs less than the
/// eight or so fsyncs of a checkpoint. A process that opens the log, appends a few entries and
/// closes it — a Claude Code hook — then syncs only its own appends.
const CLOSE_CHECKPOINT_BYTES: u64 = 64 * 1024;

/// The WAL's header: magic, then the epoch its frames belong to, then `BLAKE3(magic ‖
/// epoch)[0..8]`.
const MAGIC: &[u8; 8] = b"stwal\x00\x00\x02";
const HEADER_LEN: u64 = 24;

const OP_PUT: u8 = 1;
const OP_DELETE: u8 = 2;

/// The on-disk backend: a sled tree for indexed reads, and a write-ahead log of our own for
/// durability (SPEC §9.2).
///
/// sled 0.34's `flush()` ends in `sync_file_range`, which neither flushes the device's write
/// cache nor syncs metadata, and sled never fsyncs its blob files: it is not an fsync. So every
/// write also goes, in order, to `wal`, and [`Store::flush`] writes the pending WAL frames and
/// calls `fdatasync`: one write and one sync per group commit. The WAL file is written over in
/// place, never truncated while open: a header names the current epoch, every frame's check
/// covers it, and replay stops at the first frame that fails, so frames left from earlier epochs
/// are never replayed. When the WAL would pass 64 MiB, when more than 4 MiB were written since
/// the last flush, and when the store is dropped holding more than 64 KiB of frames, a flush
/// checkpoints instead: sled is flushed, its files fsynced, and the WAL starts a new epoch.
/// Opening replays the WAL into sled, and goes on writing after its last frame when nothing
/// but zeros follows it (otherwise it checkpoints and starts a new epoch). sled's own periodic
/// flush is off: it would fsync sled's file every 500 ms, competing with group commits for the
/// disk, and durability does not depend on it.
///
/// One process at a time has the store open: an open store holds an exclusive lock (`flock`) on
/// `PATH/lock`, and [`SledStore::open_waiting`] blocks on it, so a waiting process is woken as
/// soon as the holder closes (sled's own lock on its files can only be polled).
///
/// Directory layout: `PATH/sled/` (sled's files), `PATH/wal` and `PATH/lock`.
#[derive(Debug, Clone)]
pub struct SledStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: sled::Db,
    dir: PathBuf,
    pending: Mutex<Pending>,
    wal: Mutex<Wal>,
    /// Dropped after `db` (fields drop in order): waits for sled to let go of its file lock.
    _released: LockRelease,
    /// Dropped after `db`: the next process may open the store once sled has let go of its files.
    _lock: File,
    /// Dropped last: the directory may be opened again in this process.
    _registered: Registered,
}

/// The directories this process has open, so that a second open says so instead of reporting
/// sled's file lock as held by another process.
static OPEN_HERE: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

/// A directory's place in [`OPEN_HERE`], given up when dropped.
#[derive(Debug)]
struct Registered(PathBuf);

impl Registered {
    fn take(dir: &Path) -> Result<Registered, StoreError> {
        let dir = dir.canonicalize()?;
        if lock(&OPEN_HERE).insert(dir.clone()) {
            Ok(Registered(dir))
        } else {
            Err(StoreError::OpenInThisProcess { path: dir })
        }
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        lock(&OPEN_HERE).remove(&self.0);
    }
}

/// How long closing waits for sled's threads to let go of its file lock.
const RELEASE_WAIT: Duration = Duration::from_secs(2);

/// sled's background threads can hold its file, and with it the exclusive lock on its `db`
/// file, for a moment after the `Db` is dropped: on a loaded machine long enough that opening
/// the log again at once fails with [`StoreError::Locked`]. Dropping this waits, for at most
/// [`RELEASE_WAIT`], until the lock can be taken, so a log closed by its last handle can be
/// reopened at once. If another process takes the lock in that moment, the wait lasts until it
/// lets go or the time is up.
#[derive(Debug)]
struct LockRelease {
    lock_file: PathBuf,
}

impl Drop for LockRelease {
    fn drop(&mut self) {
        let Ok(file) = File::open(&self.lock_file) else {
            return;
        };
        let deadline = Instant::now() + RELEASE_WAIT;
        // sled locks with fs2 (flock); std's File::try_lock is newer than our MSRV.
        let held = fs2::lock_contended_error().raw_os_error();
        while let Err(e) = fs2::FileExt::try_lock_exclusive(&file) {
            // Another error, or waited long enough: give up, opening will report what it finds.
            if e.raw_os_error() != held || Instant::now() >= deadline {
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        // Taken: closing `file` releases it.
    }
}

/// WAL frames written since the last flush, not yet in the file.
#[derive(Debug, Default)]
struct Pending {
    /// The epoch frames are made in: the one in the WAL's header, or the one it will name once
    /// a restart in progress writes it.
    epoch: [u8; 8],
    frames: Vec<u8>,
    /// More than [`PENDING_BYTES`] were written since the last flush: the frames were dropped,
    /// writes are no longer framed, and the next flush checkpoints sled instead.
    overflowed: bool,
}

#[derive(Debug)]
struct Wal {
    file: File,
    /// Where the next frame goes.
    len: u64,
    /// The file's length: zeros from `len` on.
    allocated: u64,
}

fn backend(e: sled::Error) -> StoreError {
    match e {
        sled::Error::Io(io) => StoreError::Io(io),
        other => StoreError::Backend(other.to_string()),
    }
}

// sled 0.34.7 takes an exclusive advisory lock on its `db` file and reports a lock held by
// another process only as an `Other` I/O error with this message (sled's `Config::try_lock`).
fn is_lock_conflict(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::Other && e.to_string().starts_with("could not acquire lock")
}

// Opens sled's database in `PATH/sled`.
fn open_db(path: &Path) -> Result<sled::Db, StoreError> {
    sled::Config::new()
        .path(path.join("sled"))
        .mode(sled::Mode::HighThroughput)
        .flush_every_ms(None)
        .open()
        .map_err(|e| match e {
            sled::Error::Io(io) if is_lock_conflict(&io) => StoreError::Locked {
                path: path.to_owned(),
            },
            other => backend(other),
        })
}

// Takes an exclusive lock (`flock`, as sled's) on `lock_path`, waiting up to `wait` for the
// process that holds it to let go. The returned file holds the lock until it is closed.
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
    // A blocking lock wakes as soon as the holder lets go, in whatever order the kernel picks,
    // with no polling. It has no timeout, so it waits on a thread of its own: if `wait` ends
    // first, that thread goes on waiting, and closes the file, letting go of the lock, as soon
    // as it gets it.
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

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Critical sections below leave their data consistent, so a poisoned lock is still usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

// The first 8 bytes of a hash: every check in the WAL.
fn check8(hash: blake3::Hash) -> [u8; 8] {
    let mut out = [0u8; 8];
    out.copy_from_slice(&hash.as_bytes()[..8]);
    out
}

// A frame's check: the epoch and the body, so a frame of another epoch never passes.
fn frame_check(epoch: &[u8; 8], body: &[u8]) -> [u8; 8] {
    check8(blake3::Hasher::new().update(epoch).update(body).finalize())
}

fn frame(epoch: &[u8; 8], op: u8, key: &[u8], value: &[u8], out: &mut Vec<u8>) {
    let body_len = 1 + 4 + key.len() + value.len();
    out.reserve(4 + body_len + 8);
    out.extend_from_slice(&(body_len as u32).to_le_bytes());
    let start = out.len();
    out.push(op);
    out.extend_from_slice(&(key.len() as u32).to_le_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(value);
    let check = frame_check(epoch, &out[start..]);
    out.extend_from_slice(&check);
}

fn header(epoch: &[u8; 8]) -> [u8; HEADER_LEN as usize] {
    let mut h = [0u8; HEADER_LEN as usize];
    h[..8].copy_from_slice(MAGIC);
    h[8..16].copy_from_slice(epoch);
    let check = check8(blake3::hash(&h[..16]));
    h[16..].copy_from_slice(&check);
    h
}

impl SledStore {
    /// Opens (creating if needed) a store in directory `path`, replaying its WAL. Fails with
    /// [`StoreError::Locked`] at once if another process has it open.
    pub fn open(path: &Path) -> Result<SledStore, StoreError> {
        SledStore::open_waiting(path, Duration::ZERO)
    }

    /// Opens (creating if needed) a store in directory `path`, replaying its WAL, and waits up
    /// to `wait` for another process that has it open to close it, then fails with
    /// [`StoreError::Locked`]. The wait blocks on the store's lock file, so it ends as soon as
    /// the other process lets go.
    pub fn open_waiting(path: &Path, wait: Duration) -> Result<SledStore, StoreError> {
        let start = Instant::now();
        std::fs::create_dir_all(path)?;
        let registered = Registered::take(path)?;
        let process_lock = lock_exclusive(&path.join("lock"), path, wait)?;
        // Once the lock is ours, sled's own lock is free, unless a process that does not take
        // `lock` (an earlier version) has the store open: then poll it for the rest of the wait.
        let mut pause = Duration::from_millis(2);
        let db = loop {
            match open_db(path) {
                Err(StoreError::Locked { .. }) if start.elapsed() < wait => {
                    std::thread::sleep(pause.min(wait.saturating_sub(start.elapsed())));
                    pause = (pause * 2).min(Duration::from_millis(50));
                }
                other => break other?,
            }
        };
        let wal_path = path.join("wal");
        let created = !wal_path.exists();
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&wal_path)?;
        if created {
            // The directory entries are durable before any header is written: a WAL with a
            // valid header never needs the directory synced again.
            sync_dir(path)?;
        }
        let replayed = replay(&db, &mut file)?;
        let allocated = file.seek(SeekFrom::End(0))?;
        let inner = Inner {
            db,
            dir: path.to_owned(),
            pending: Mutex::new(Pending::default()),
            wal: Mutex::new(Wal {
                file,
                len: HEADER_LEN,
                allocated,
            }),
            _released: LockRelease {
                lock_file: path.join("sled").join("db"),
            },
            _lock: process_lock,
            _registered: registered,
        };
        match replayed.resume {
            // Frames follow on from the last one, in its epoch: nothing to write or sync.
            Some((epoch, end)) => {
                lock(&inner.pending).epoch = epoch;
                lock(&inner.wal).len = end;
            }
            None => inner.restart(&mut lock(&inner.wal), replayed.applied)?,
        }
        Ok(SledStore {
            inner: Arc::new(inner),
        })
    }

    // Frames writes already applied to sled, in order, under one lock.
    fn log_ops<'a>(&self, op: u8, pairs: impl IntoIterator<Item = (&'a [u8], &'a [u8])>) {
        let mut p = lock(&self.inner.pending);
        if p.overflowed {
            return;
        }
        let epoch = p.epoch;
        for (key, value) in pairs {
            frame(&epoch, op, key, value, &mut p.frames);
        }
        if p.frames.len() > PENDING_BYTES {
            p.frames = Vec::new();
            p.overflowed = true;
        }
    }
}

/// What opening found in the WAL.
struct Replayed {
    /// It held intact frames (applied to sled where sled lacked them): until a checkpoint, only
    /// the WAL makes them durable.
    applied: bool,
    /// The epoch of a valid header and where its last intact frame ends, when nothing but
    /// zeros follows: new frames can be written from there in the same epoch. Anything else
    /// after it (a torn frame, a frame written later than one that was lost, frames of an
    /// earlier epoch) could pass its check once frames are written over it, so the WAL then
    /// starts a new epoch.
    resume: Option<([u8; 8], u64)>,
}

// Applies every complete, intact frame of the WAL in order; a torn tail (a frame cut short or
// failing its check) or a frame of an earlier epoch ends the replay. A WAL written before
// epochs (no header) is replayed with its own check, `BLAKE3(body)[0..8]`; a header that fails
// its check was being rewritten after a checkpoint, so sled already holds everything before it.
fn replay(db: &sled::Db, file: &mut File) -> Result<Replayed, StoreError> {
    let nothing = Replayed {
        applied: false,
        resume: None,
    };
    file.seek(SeekFrom::Start(0))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    if bytes.is_empty() {
        return Ok(nothing);
    }
    if !bytes.starts_with(MAGIC) {
        let (applied, _) = apply_frames(db, &bytes, |body| check8(blake3::hash(body)))?;
        return Ok(Replayed {
            applied,
            resume: None,
        });
    }
    let Some(h) = bytes.get(..HEADER_LEN as usize) else {
        return Ok(nothing);
    };
    let epoch: [u8; 8] = h[8..16].try_into().unwrap_or_default();
    if h != header(&epoch) {
        return Ok(nothing);
    }
    let frames = &bytes[HEADER_LEN as usize..];
    let (applied, used) = apply_frames(db, frames, |body| frame_check(&epoch, body))?;
    let clean = frames[used..].iter().all(|&b| b == 0);
    Ok(Replayed {
        applied,
        resume: clean.then_some((epoch, HEADER_LEN + used as u64)),
    })
}

// Applies the intact frames at the start of `bytes` to sled; returns whether there were any and
// how many bytes they take. Only the last operation on each key counts (the frames hold every
// write since sled's state was last made durable, in order, so replaying all of them or only
// the last of each leaves the same state), and only where sled does not hold its result
// already: after a clean close it holds everything, and writing it again would make sled write
// and sync it again at the next close.
fn apply_frames(
    db: &sled::Db,
    bytes: &[u8],
    check_of: impl Fn(&[u8]) -> [u8; 8],
) -> Result<(bool, usize), StoreError> {
    let mut last: BTreeMap<&[u8], Option<&[u8]>> = BTreeMap::new();
    let mut at = 0usize;
    while let Some(len_bytes) = bytes.get(at..at + 4) {
        let body_len = u32::from_le_bytes(len_bytes.try_into().unwrap_or([0; 4])) as usize;
        let Some(body) = bytes.get(at + 4..at + 4 + body_len) else {
            break;
        };
        let Some(check) = bytes.get(at + 4 + body_len..at + 4 + body_len + 8) else {
            break;
        };
        if body.len() < 5 || check_of(body) != check {
            break;
        }
        let key_len = u32::from_le_bytes(body[1..5].try_into().unwrap_or([0; 4])) as usize;
        let Some(key) = body.get(5..5 + key_len) else {
            break;
        };
        let value = &body[5 + key_len..];
        match body[0] {
            OP_PUT => last.insert(key, Some(value)),
            OP_DELETE => last.insert(key, None),
            _ => break,
        };
        at += 4 + body_len + 8;
    }
    for (key, value) in &last {
        let held = db.get(key).map_err(backend)?;
        match value {
            Some(v) if held.as_deref() != Some(*v) => {
                db.insert(*key, *v).map_err(backend)?;
            }
            None if held.is_some() => {
                db.remove(*key).map_err(backend)?;
            }
            _ => {}
        }
    }
    Ok((!last.is_empty(), at))
}

impl Wal {
    // Writes frames at the end, growing the file by zeros ahead of them when they reach its end.
    fn append(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        let end = self.len + bytes.len() as u64;
        self.file.write_all_at(bytes, self.len)?;
        if end > self.allocated {
            let grow = self.allocated.clamp(GROW_MIN, GROW_MAX);
            let zeros = vec![0u8; grow as usize];
            self.file.write_all_at(&zeros, end)?;
            self.allocated = end + grow;
        }
        self.len = end;
        Ok(())
    }
}

fn sync_dir(path: &Path) -> Result<(), StoreError> {
    File::open(path)?.sync_all()?;
    Ok(())
}

// fsyncs every file and directory under `path`: sled's log file, its blobs and snapshots.
fn sync_tree(path: &Path) -> Result<(), StoreError> {
    for entry in std::fs::read_dir(path)? {
        let entry = entry?;
        let p = entry.path();
        if entry.file_type()?.is_dir() {
            sync_tree(&p)?;
        } else {
            File::open(&p)?.sync_all()?;
        }
    }
    sync_dir(path)
}

impl Inner {
    // Starts the WAL over in a new epoch. Frames pending are dropped and frames made from here
    // on carry the new epoch; with `checkpoint`, sled's files are made durable first. Everything
    // the WAL holds or dropped was inserted into sled before it was framed, and the epoch
    // changes before sled's flush, so that flush covers every write framed in the old epoch.
    fn restart(&self, wal: &mut Wal, checkpoint: bool) -> Result<(), StoreError> {
        let mut epoch = [0u8; 8];
        getrandom::fill(&mut epoch).map_err(|e| StoreError::Io(std::io::Error::other(e)))?;
        {
            let mut p = lock(&self.pending);
            p.epoch = epoch;
            p.frames.clear();
            p.overflowed = false;
        }
        if checkpoint {
            self.db.flush().map_err(backend)?;
            sync_tree(&self.dir.join("sled"))?;
        }
        // The header is durable before any frame of its epoch is written.
        wal.file.write_all_at(&header(&epoch), 0)?;
        wal.allocated = wal.allocated.max(HEADER_LEN);
        wal.file.sync_data()?;
        wal.len = HEADER_LEN;
        Ok(())
    }

    // Writes the pending frames after the last one and syncs them, or checkpoints when due.
    // The caller holds the WAL lock, which orders flushes; the frames taken include every write
    // that completed before the call.
    fn flush(&self, wal: &mut Wal) -> Result<(), StoreError> {
        let frames = {
            let mut p = lock(&self.pending);
            if p.overflowed || wal.len + p.frames.len() as u64 > CHECKPOINT_BYTES {
                drop(p);
                return self.restart(wal, true);
            }
            std::mem::take(&mut p.frames)
        };
        wal.append(&frames)?;
        wal.file.sync_data()?;
        Ok(())
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Last handle gone: make every write durable. Frames left in the WAL are replayed by
        // the next open; a WAL past CLOSE_CHECKPOINT_BYTES is checkpointed instead, and its
        // space given back.
        let mut wal = lock(&self.wal);
        let dirty = {
            let p = lock(&self.pending);
            p.overflowed || !p.frames.is_empty()
        };
        let flushed = !dirty || self.flush(&mut wal).is_ok();
        if flushed && wal.len <= CLOSE_CHECKPOINT_BYTES {
            return;
        }
        if self.restart(&mut wal, true).is_ok() && wal.file.set_len(HEADER_LEN).is_ok() {
            wal.allocated = HEADER_LEN;
            let _ = wal.file.sync_all();
        }
    }
}

impl Store for SledStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.inner.db.get(key).map_err(backend)?.map(|v| v.to_vec()))
    }

    fn put(&self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.put_many(&[(key, value)])
    }

    fn put_many(&self, pairs: &[(&[u8], &[u8])]) -> Result<(), StoreError> {
        // sled first, then the WAL: whatever the WAL holds, sled already has (see checkpoint).
        for (key, value) in pairs {
            self.inner.db.insert(*key, *value).map_err(backend)?;
        }
        self.log_ops(OP_PUT, pairs.iter().copied());
        Ok(())
    }

    fn delete(&self, key: &[u8]) -> Result<(), StoreError> {
        self.inner.db.remove(key).map_err(backend)?;
        self.log_ops(OP_DELETE, [(key, &[][..])]);
        Ok(())
    }

    fn scan(&self, start: &[u8], end: &[u8], limit: usize) -> Result<Vec<Pair>, StoreError> {
        self.inner
            .db
            .range(start..end)
            .take(limit)
            .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).map_err(backend))
            .collect()
    }

    fn last(&self, start: &[u8], end: &[u8]) -> Result<Option<Pair>, StoreError> {
        match self.inner.db.range(start..end).next_back() {
            Some(r) => r
                .map(|(k, v)| Some((k.to_vec(), v.to_vec())))
                .map_err(backend),
            None => Ok(None),
        }
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.inner.flush(&mut lock(&self.inner.wal))
    }

    fn size_on_disk(&self) -> Result<Option<u64>, StoreError> {
        let sled = self.inner.db.size_on_disk().map_err(backend)?;
        Ok(Some(sled + lock(&self.inner.wal).allocated))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // What a crash leaves: the store's files as they are now, copied while it is open.
    fn crash_copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            let dst = to.join(e.file_name());
            if e.file_type().unwrap().is_dir() {
                crash_copy(&e.path(), &dst);
            } else {
                std::fs::copy(e.path(), &dst).unwrap();
            }
        }
    }

    fn value(store: &SledStore, key: &[u8]) -> Option<Vec<u8>> {
        store.get(key).unwrap()
    }

    fn wal_header(path: &Path) -> Vec<u8> {
        std::fs::read(path.join("wal")).unwrap()[..HEADER_LEN as usize].to_vec()
    }

    #[test]
    fn an_open_store_holds_its_lock_file_and_a_waiting_open_takes_it_after() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let store = SledStore::open(&path).unwrap();
        let lock_file = File::open(path.join("lock")).unwrap();
        assert!(
            fs2::FileExt::try_lock_exclusive(&lock_file).is_err(),
            "the open store holds `lock`"
        );
        drop(store);
        fs2::FileExt::try_lock_exclusive(&lock_file).unwrap();
        // Whoever holds `lock` keeps the store closed to others, sled's lock or not…
        assert!(matches!(
            SledStore::open(&path),
            Err(StoreError::Locked { .. })
        ));
        assert!(matches!(
            SledStore::open_waiting(&path, Duration::from_millis(50)),
            Err(StoreError::Locked { .. })
        ));
        // …and a waiting open gets the store once it lets go.
        let holder = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            drop(lock_file);
        });
        let store = SledStore::open_waiting(&path, Duration::from_secs(30)).unwrap();
        holder.join().unwrap();
        drop(store);
    }

    #[test]
    fn closing_leaves_a_small_wal_and_reopening_writes_on_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let store = SledStore::open(&path).unwrap();
        store.put(b"k1", b"one").unwrap();
        store.flush().unwrap();
        let header = wal_header(&path);
        drop(store);
        // No checkpoint on close: the frame is still there, in the same epoch.
        let wal = std::fs::read(path.join("wal")).unwrap();
        assert!(wal.windows(3).any(|w| w == b"one"));
        let store = SledStore::open(&path).unwrap();
        assert_eq!(wal_header(&path), header, "reopening kept the epoch");
        assert_eq!(value(&store, b"k1").as_deref(), Some(&b"one"[..]));
        store.put(b"k2", b"two").unwrap();
        store.flush().unwrap();
        let copy = dir.path().join("copy");
        crash_copy(&path, &copy);
        drop(store);
        let reopened = SledStore::open(&copy).unwrap();
        assert_eq!(value(&reopened, b"k1").as_deref(), Some(&b"one"[..]));
        assert_eq!(value(&reopened, b"k2").as_deref(), Some(&b"two"[..]));
    }

    #[test]
    fn replaying_writes_only_the_last_operation_on_each_key_and_only_where_sled_lacks_it() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        db.insert(b"held", b"same").unwrap();
        db.insert(b"stale", b"old").unwrap();
        db.insert(b"gone", b"x").unwrap();
        let epoch = [7u8; 8];
        let mut frames = Vec::new();
        frame(&epoch, OP_PUT, b"held", b"earlier", &mut frames);
        frame(&epoch, OP_PUT, b"held", b"same", &mut frames);
        frame(&epoch, OP_PUT, b"stale", b"new", &mut frames);
        frame(&epoch, OP_DELETE, b"gone", b"", &mut frames);
        frame(&epoch, OP_PUT, b"absent", b"y", &mut frames);
        frame(&epoch, OP_DELETE, b"absent", b"", &mut frames);
        let mut events = db.watch_prefix(vec![]);
        let (found, used) = apply_frames(&db, &frames, |b| frame_check(&epoch, b)).unwrap();
        assert!(found);
        assert_eq!(used, frames.len());
        let mut written = Vec::new();
        while let Ok(e) = events.next_timeout(Duration::from_millis(100)) {
            written.push(e.key().to_vec());
        }
        assert_eq!(written, [b"gone".to_vec(), b"stale".to_vec()]);
        assert_eq!(db.get(b"held").unwrap().as_deref(), Some(&b"same"[..]));
        assert_eq!(db.get(b"stale").unwrap().as_deref(), Some(&b"new"[..]));
        assert_eq!(db.get(b"gone").unwrap(), None);
        assert_eq!(db.get(b"absent").unwrap(), None);
    }

    #[test]
    fn a_wal_with_anything_but_zeros_after_its_last_frame_starts_a_new_epoch() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let store = SledStore::open(&path).unwrap();
        store.put(b"k", b"first").unwrap();
        store.flush().unwrap();
        let end = lock(&store.inner.wal).len;
        let epoch = lock(&store.inner.pending).epoch;
        drop(store);
        // What a crash can leave: a torn frame, and after it an intact frame of the same epoch
        // that was written but never acknowledged.
        let mut stale = Vec::new();
        frame(&epoch, OP_PUT, b"k", b"stale", &mut stale);
        let mut torn = vec![0xa5u8; stale.len()];
        torn[..4].copy_from_slice(&((stale.len() - 12) as u32).to_le_bytes());
        let file = OpenOptions::new()
            .write(true)
            .open(path.join("wal"))
            .unwrap();
        file.write_all_at(&torn, end).unwrap();
        file.write_all_at(&stale, end + torn.len() as u64).unwrap();
        drop(file);

        let store = SledStore::open(&path).unwrap();
        assert_eq!(value(&store, b"k").as_deref(), Some(&b"first"[..]));
        // A frame as long as the torn one, where it was: in the old epoch the stale frame
        // would follow it intact and be replayed after it.
        store.put(b"k", b"fresh").unwrap();
        store.flush().unwrap();
        let copy = dir.path().join("copy");
        crash_copy(&path, &copy);
        drop(store);
        let reopened = SledStore::open(&copy).unwrap();
        assert_eq!(value(&reopened, b"k").as_deref(), Some(&b"fresh"[..]));
    }

    #[test]
    fn frames_left_from_an_earlier_epoch_are_not_replayed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let store = SledStore::open(&path).unwrap();
        store.put(b"k1", b"AAAA").unwrap();
        store.put(b"k2", b"old").unwrap();
        store.flush().unwrap();
        store.put(b"k2", b"new").unwrap();
        // More than PENDING_BYTES since the last flush: the flush checkpoints and starts a new
        // epoch, without writing these frames.
        let filler = vec![0x55u8; 64 * 1024];
        for i in 0..=(PENDING_BYTES / filler.len()) {
            store.put(&[b'f', i as u8], &filler).unwrap();
        }
        store.flush().unwrap();
        // A frame as long as the first one of the old epoch: the old `k2 = old` frame follows
        // it intact in the file.
        store.put(b"k1", b"BBBB").unwrap();
        store.flush().unwrap();
        let wal = std::fs::read(path.join("wal")).unwrap();
        assert!(
            wal.windows(3).any(|w| w == b"old"),
            "the stale frame is still in the file"
        );

        let copy = dir.path().join("copy");
        crash_copy(&path, &copy);
        drop(store);
        let reopened = SledStore::open(&copy).unwrap();
        assert_eq!(value(&reopened, b"k1").as_deref(), Some(&b"BBBB"[..]));
        assert_eq!(value(&reopened, b"k2").as_deref(), Some(&b"new"[..]));
        assert_eq!(value(&reopened, &[b'f', 0]), Some(filler));
    }

    #[test]
    fn a_wal_written_before_epochs_is_replayed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        drop(SledStore::open(&path).unwrap());
        // One frame in the earlier format: no header, check BLAKE3(body)[0..8].
        let mut body = vec![OP_PUT];
        body.extend_from_slice(&3u32.to_le_bytes());
        body.extend_from_slice(b"key");
        body.extend_from_slice(b"legacy");
        let mut wal = (body.len() as u32).to_le_bytes().to_vec();
        wal.extend_from_slice(&body);
        wal.extend_from_slice(&blake3::hash(&body).as_bytes()[..8]);
        std::fs::write(path.join("wal"), &wal).unwrap();

        let store = SledStore::open(&path).unwrap();
        assert_eq!(value(&store, b"key").as_deref(), Some(&b"legacy"[..]));
        drop(store);
        let wal = std::fs::read(path.join("wal")).unwrap();
        assert!(wal.starts_with(MAGIC), "reopening wrote the current header");
    }

    #[test]
    fn writes_flushed_since_the_last_checkpoint_survive_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let store = SledStore::open(&path).unwrap();
        for i in 0u32..2_000 {
            store.put(&i.to_be_bytes(), &[7; 300]).unwrap();
            if i % 100 == 99 {
                store.flush().unwrap();
            }
        }
        store.delete(&5u32.to_be_bytes()).unwrap();
        store.flush().unwrap();
        // The file grew ahead of the frames.
        let len = std::fs::metadata(path.join("wal")).unwrap().len();
        assert!(len >= 2_000 * 300, "{len}");

        let copy = dir.path().join("copy");
        crash_copy(&path, &copy);
        drop(store);
        // Closing checkpoints and gives the WAL's space back.
        assert_eq!(
            std::fs::metadata(path.join("wal")).unwrap().len(),
            HEADER_LEN
        );
        let reopened = SledStore::open(&copy).unwrap();
        for i in 0u32..2_000 {
            let want = (i != 5).then(|| vec![7; 300]);
            assert_eq!(value(&reopened, &i.to_be_bytes()), want, "key {i}");
        }
    }
}
