use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use super::{Pair, Store, StoreError};

/// WAL bytes after which a flush also checkpoints: sled is flushed and fsynced, and the WAL is
/// emptied.
const CHECKPOINT_BYTES: u64 = 64 * 1024 * 1024;
/// Buffered WAL bytes after which a write goes to the file without waiting for a flush, so
/// memory stays bounded for Buffered logs that rarely flush.
const SPILL_BYTES: usize = 4 * 1024 * 1024;

const OP_PUT: u8 = 1;
const OP_DELETE: u8 = 2;

/// The on-disk backend: a sled tree for indexed reads, and a write-ahead log of our own for
/// durability (SPEC §9.2).
///
/// sled 0.34's `flush()` ends in `sync_file_range`, which neither flushes the device's write
/// cache nor syncs metadata, and sled never fsyncs its blob files: it is not an fsync. So every
/// write also goes, in order, to `wal`, and [`Store::flush`] appends the pending WAL frames and
/// calls `fdatasync`: one sequential write and one sync per group commit. When the WAL grows past
/// 64 MiB (and when the store is dropped) sled is flushed, its files fsynced, and the WAL emptied.
/// Opening replays the WAL into sled.
///
/// Directory layout: `PATH/sled/` (sled's files) and `PATH/wal`.
#[derive(Debug, Clone)]
pub struct SledStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: sled::Db,
    dir: PathBuf,
    pending: Mutex<Vec<u8>>,
    wal: Mutex<Wal>,
}

#[derive(Debug)]
struct Wal {
    file: File,
    len: u64,
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

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Critical sections below leave their data consistent, so a poisoned lock is still usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn frame(op: u8, key: &[u8], value: &[u8], out: &mut Vec<u8>) {
    let body_len = 1 + 4 + key.len() + value.len();
    out.reserve(4 + body_len + 8);
    out.extend_from_slice(&(body_len as u32).to_le_bytes());
    let start = out.len();
    out.push(op);
    out.extend_from_slice(&(key.len() as u32).to_le_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(value);
    let check = blake3::hash(&out[start..]);
    out.extend_from_slice(&check.as_bytes()[..8]);
}

impl SledStore {
    /// Opens (creating if needed) a store in directory `path`, replaying its WAL.
    pub fn open(path: &Path) -> Result<SledStore, StoreError> {
        std::fs::create_dir_all(path)?;
        let db = sled::Config::new()
            .path(path.join("sled"))
            .mode(sled::Mode::HighThroughput)
            .open()
            .map_err(|e| match e {
                sled::Error::Io(io) if is_lock_conflict(&io) => StoreError::Locked {
                    path: path.to_owned(),
                },
                other => backend(other),
            })?;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path.join("wal"))?;
        let replayed = replay(&db, &mut file)?;
        let len = file.seek(SeekFrom::End(0))?;
        let inner = Inner {
            db,
            dir: path.to_owned(),
            pending: Mutex::new(Vec::new()),
            wal: Mutex::new(Wal { file, len }),
        };
        if replayed || len > 0 {
            inner.checkpoint(&mut lock(&inner.wal))?;
        }
        sync_dir(path)?;
        Ok(SledStore {
            inner: Arc::new(inner),
        })
    }

    fn log_op(&self, op: u8, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        let spill = {
            let mut p = lock(&self.inner.pending);
            frame(op, key, value, &mut p);
            (p.len() > SPILL_BYTES).then(|| std::mem::take(&mut *p))
        };
        if let Some(bytes) = spill {
            let mut wal = lock(&self.inner.wal);
            wal.append(&bytes)?;
        }
        Ok(())
    }
}

// Applies every complete, intact frame of the WAL in order; a torn tail (a frame cut short or
// failing its check) ends the replay. Returns whether anything was applied.
fn replay(db: &sled::Db, file: &mut File) -> Result<bool, StoreError> {
    file.seek(SeekFrom::Start(0))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    let mut at = 0usize;
    let mut applied = false;
    while let Some(len_bytes) = bytes.get(at..at + 4) {
        let body_len = u32::from_le_bytes(len_bytes.try_into().unwrap_or([0; 4])) as usize;
        let Some(body) = bytes.get(at + 4..at + 4 + body_len) else {
            break;
        };
        let Some(check) = bytes.get(at + 4 + body_len..at + 4 + body_len + 8) else {
            break;
        };
        if &blake3::hash(body).as_bytes()[..8] != check || body.len() < 5 {
            break;
        }
        let key_len = u32::from_le_bytes(body[1..5].try_into().unwrap_or([0; 4])) as usize;
        let Some(key) = body.get(5..5 + key_len) else {
            break;
        };
        let value = &body[5 + key_len..];
        match body[0] {
            OP_PUT => {
                db.insert(key, value).map_err(backend)?;
            }
            OP_DELETE => {
                db.remove(key).map_err(backend)?;
            }
            _ => break,
        }
        applied = true;
        at += 4 + body_len + 8;
    }
    Ok(applied)
}

impl Wal {
    fn append(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        use std::os::unix::fs::FileExt;
        self.file.write_all_at(bytes, self.len)?;
        self.len += bytes.len() as u64;
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
    // Makes sled's own files durable, then empties the WAL. Everything the WAL holds was inserted
    // into sled before it was appended to the WAL, so sled's flush covers it.
    fn checkpoint(&self, wal: &mut Wal) -> Result<(), StoreError> {
        self.db.flush().map_err(backend)?;
        sync_tree(&self.dir.join("sled"))?;
        wal.file.set_len(0)?;
        wal.file.sync_all()?;
        wal.len = 0;
        Ok(())
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Last handle gone: write what is pending and leave sled durable with an empty WAL.
        let pending = std::mem::take(&mut *lock(&self.pending));
        let mut wal = lock(&self.wal);
        if wal
            .append(&pending)
            .and_then(|()| Ok(wal.file.sync_data()?))
            .is_ok()
        {
            let _ = self.checkpoint(&mut wal);
        }
    }
}

impl Store for SledStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.inner.db.get(key).map_err(backend)?.map(|v| v.to_vec()))
    }

    fn put(&self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        // sled first, then the WAL: whatever the WAL holds, sled already has (see checkpoint).
        self.inner.db.insert(key, value).map_err(backend)?;
        self.log_op(OP_PUT, key, value)
    }

    fn delete(&self, key: &[u8]) -> Result<(), StoreError> {
        self.inner.db.remove(key).map_err(backend)?;
        self.log_op(OP_DELETE, key, &[])
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
        // Holding the WAL lock orders flushes; frames taken here include every write that
        // completed before this call.
        let mut wal = lock(&self.inner.wal);
        let pending = std::mem::take(&mut *lock(&self.inner.pending));
        wal.append(&pending)?;
        wal.file.sync_data()?;
        if wal.len > CHECKPOINT_BYTES {
            self.inner.checkpoint(&mut wal)?;
        }
        Ok(())
    }

    fn size_on_disk(&self) -> Result<Option<u64>, StoreError> {
        let sled = self.inner.db.size_on_disk().map_err(backend)?;
        Ok(Some(sled + lock(&self.inner.wal).len))
    }
}
