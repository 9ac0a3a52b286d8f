//! [`SimBackend`]: files in memory, with power loss.
//!
//! What it models, per file: a durable content and a volatile one (what reads see). A write
//! changes the volatile content and is queued as pending. [`BackendFile::sync_data`] and
//! [`BackendFile::sync_all`] make the file's content durable, size included (Linux's
//! `fdatasync` persists the size needed to read the data back; nothing else of a file's metadata
//! matters here, so the two are the same). Directory entries are modelled the same way: creating,
//! renaming and removing a file (or creating a directory) change the volatile namespace and are
//! queued; [`Backend::sync_dir`] makes the queued changes of that one directory durable, and
//! nothing else does (not a file's `sync_all`, not a parent's sync): harsher than ext4 or xfs,
//! whose journal commits every earlier metadata change with any of them.
//!
//! A power loss ([`SimBackend::crash`], or a planned one, [`SimBackend::crash_after`]) keeps
//! everything durable and, of what is not, what a disk might: for each file, either a prefix
//! of its pending writes in order, the one after them torn (a random prefix of its bytes kept),
//! or any subset of them, in order, each kept, dropped or torn (a disk may reorder writes; a
//! write that lands past a lost one leaves a gap of zeros); of the namespace, a prefix of the
//! queued changes in the order they were made (a journal). A disk may keep more than was
//! synced, never less. Handles opened before a power loss fail from then on, as a process
//! would not survive it.
//!
//! It is deterministic for a given seed and sequence of calls, so a failing test can print its
//! seed and be replayed.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use super::backend::{Backend, BackendFile, OpenMode};

/// A small deterministic random number generator (SplitMix64) for simulations and their
/// tests: not for anything secret.
#[derive(Debug, Clone)]
pub struct SimRng(u64);

impl SimRng {
    /// A generator started from `seed`.
    pub fn new(seed: u64) -> SimRng {
        SimRng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    /// True with probability `num / den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Node {
    Dir,
    File(u64),
}

#[derive(Debug)]
enum Write {
    At(u64, Vec<u8>),
    SetLen(u64),
}

impl Write {
    fn apply(&self, content: &mut Vec<u8>, keep: Option<usize>) {
        match self {
            Write::At(offset, bytes) => {
                let bytes = &bytes[..keep.unwrap_or(bytes.len()).min(bytes.len())];
                let start = *offset as usize;
                let end = start + bytes.len();
                if content.len() < end {
                    content.resize(end, 0);
                }
                content[start..end].copy_from_slice(bytes);
            }
            Write::SetLen(len) => content.resize(*len as usize, 0),
        }
    }
}

#[derive(Debug, Default)]
struct Inode {
    durable: Vec<u8>,
    volatile: Vec<u8>,
    pending: Vec<Write>,
}

#[derive(Debug, Clone)]
enum NsOp {
    Create(PathBuf, Node),
    Remove(PathBuf),
    Rename(PathBuf, PathBuf),
}

impl NsOp {
    fn touches(&self, dir: &Path) -> bool {
        match self {
            NsOp::Create(p, _) | NsOp::Remove(p) => p.parent() == Some(dir),
            NsOp::Rename(a, b) => a.parent() == Some(dir) || b.parent() == Some(dir),
        }
    }

    fn apply(&self, ns: &mut BTreeMap<PathBuf, Node>) {
        match self {
            NsOp::Create(p, n) => {
                ns.insert(p.clone(), *n);
            }
            NsOp::Remove(p) => {
                ns.remove(p);
            }
            NsOp::Rename(a, b) => {
                if let Some(n) = ns.remove(a) {
                    ns.insert(b.clone(), n);
                }
            }
        }
    }
}

#[derive(Debug)]
struct Sim {
    rng: SimRng,
    generation: u64,
    next_inode: u64,
    inodes: HashMap<u64, Inode>,
    volatile: BTreeMap<PathBuf, Node>,
    durable: BTreeMap<PathBuf, Node>,
    pending: Vec<NsOp>,
    crash_after: Option<u64>,
    mutations: u64,
    crashes: u64,
}

fn power_lost() -> io::Error {
    io::Error::other("simulated power loss")
}

fn is_root(p: &Path) -> bool {
    p.as_os_str().is_empty() || p == Path::new("/")
}

impl Sim {
    fn dir_exists(&self, p: &Path) -> bool {
        is_root(p) || self.volatile.get(p) == Some(&Node::Dir)
    }

    fn parent_exists(&self, p: &Path) -> io::Result<()> {
        match p.parent() {
            Some(d) if self.dir_exists(d) => Ok(()),
            _ => Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{}: no such directory", p.display()),
            )),
        }
    }

    // Counts a mutating operation; fails with a power loss when a planned one is due. A write
    // that is due is queued first, so the power loss can tear it.
    fn mutate(&mut self, write: Option<(u64, Write)>) -> io::Result<()> {
        self.mutations += 1;
        if let Some(left) = self.crash_after.as_mut() {
            if *left == 0 {
                self.crash_after = None;
                if let Some((inode, w)) = write {
                    self.queue(inode, w);
                }
                self.crash();
                return Err(power_lost());
            }
            *left -= 1;
        }
        if let Some((inode, w)) = write {
            self.queue(inode, w);
        }
        Ok(())
    }

    fn queue(&mut self, inode: u64, w: Write) {
        if let Some(i) = self.inodes.get_mut(&inode) {
            let mut content = std::mem::take(&mut i.volatile);
            w.apply(&mut content, None);
            i.volatile = content;
            i.pending.push(w);
        }
    }

    fn crash(&mut self) {
        self.crashes += 1;
        self.generation += 1;
        let mut ids: Vec<u64> = self.inodes.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            let inode = self.inodes.get_mut(&id).expect("listed");
            let mut content = std::mem::take(&mut inode.durable);
            let pending = std::mem::take(&mut inode.pending);
            if self.rng.chance(1, 2) {
                // A prefix in order, the next one torn.
                let kept = self.rng.below(pending.len() as u64 + 1) as usize;
                for w in &pending[..kept] {
                    w.apply(&mut content, None);
                }
                if let Some(w @ Write::At(_, bytes)) = pending.get(kept) {
                    let keep = self.rng.below(bytes.len() as u64 + 1) as usize;
                    w.apply(&mut content, Some(keep));
                }
            } else {
                // Any subset, each kept whole or torn.
                for w in &pending {
                    match self.rng.below(3) {
                        0 => {}
                        1 => w.apply(&mut content, None),
                        _ => {
                            let len = match w {
                                Write::At(_, b) => b.len() as u64,
                                Write::SetLen(_) => 0,
                            };
                            let keep = self.rng.below(len + 1) as usize;
                            w.apply(&mut content, Some(keep));
                        }
                    }
                }
            }
            inode.volatile = content.clone();
            inode.durable = content;
        }
        let pending = std::mem::take(&mut self.pending);
        let kept = self.rng.below(pending.len() as u64 + 1) as usize;
        for op in &pending[..kept] {
            op.apply(&mut self.durable);
        }
        // An entry whose directory was lost is lost with it (shortest paths first).
        let paths: Vec<PathBuf> = self.durable.keys().cloned().collect();
        for p in paths {
            let orphan = match p.parent() {
                Some(d) => !is_root(d) && self.durable.get(d) != Some(&Node::Dir),
                None => false,
            };
            if orphan {
                self.durable.remove(&p);
            }
        }
        self.volatile = self.durable.clone();
        let live: std::collections::HashSet<u64> = self
            .durable
            .values()
            .filter_map(|n| match n {
                Node::File(i) => Some(*i),
                Node::Dir => None,
            })
            .collect();
        self.inodes.retain(|id, _| live.contains(id));
    }
}

/// A file system in memory that can lose power: see the module documentation for what it
/// models. Cheap to clone (clones share the files).
#[derive(Debug, Clone)]
pub struct SimBackend {
    sim: Arc<Mutex<Sim>>,
}

impl SimBackend {
    /// An empty file system whose power losses are drawn from `seed`.
    pub fn new(seed: u64) -> SimBackend {
        SimBackend {
            sim: Arc::new(Mutex::new(Sim {
                rng: SimRng::new(seed),
                generation: 0,
                next_inode: 0,
                inodes: HashMap::new(),
                volatile: BTreeMap::new(),
                durable: BTreeMap::new(),
                pending: Vec::new(),
                crash_after: None,
                mutations: 0,
                crashes: 0,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Sim> {
        self.sim.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Loses power now: everything not durable is dropped, except what a disk might have
    /// kept anyway; handles opened before fail from now on.
    pub fn crash(&self) {
        self.lock().crash();
    }

    /// Plans a power loss: the `ops`-th mutating operation from now (writes, syncs, creations,
    /// renames, removals; 0 is the next one) fails with it instead of completing. A write that
    /// fails so may still be kept in part.
    pub fn crash_after(&self, ops: u64) {
        self.lock().crash_after = Some(ops);
    }

    /// Cancels a planned power loss that has not happened.
    pub fn cancel_crash(&self) {
        self.lock().crash_after = None;
    }

    /// Mutating operations so far (a read-only user must make none).
    pub fn mutations(&self) -> u64 {
        self.lock().mutations
    }

    /// Power losses so far.
    pub fn crashes(&self) -> u64 {
        self.lock().crashes
    }

    /// Every file's current content, by path (what a raw scan of the disk would find now).
    pub fn files(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        let s = self.lock();
        s.volatile
            .iter()
            .filter_map(|(p, n)| match n {
                Node::File(i) => Some((p.clone(), s.inodes[i].volatile.clone())),
                Node::Dir => None,
            })
            .collect()
    }
}

#[derive(Debug)]
struct SimFile {
    sim: Arc<Mutex<Sim>>,
    inode: u64,
    generation: u64,
    writable: bool,
}

impl SimFile {
    fn lock(&self) -> io::Result<MutexGuard<'_, Sim>> {
        let s = self.sim.lock().unwrap_or_else(|p| p.into_inner());
        if s.generation != self.generation {
            return Err(power_lost());
        }
        Ok(s)
    }

    fn writable(&self) -> io::Result<()> {
        if self.writable {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "file opened for reading only",
            ))
        }
    }
}

impl BackendFile for SimFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let s = self.lock()?;
        let content = &s.inodes[&self.inode].volatile;
        let Ok(start) = usize::try_from(offset) else {
            return Ok(0);
        };
        if start >= content.len() {
            return Ok(0);
        }
        let n = buf.len().min(content.len() - start);
        buf[..n].copy_from_slice(&content[start..start + n]);
        Ok(n)
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.writable()?;
        let mut s = self.lock()?;
        s.mutate(Some((self.inode, Write::At(offset, buf.to_vec()))))
    }

    fn len(&self) -> io::Result<u64> {
        Ok(self.lock()?.inodes[&self.inode].volatile.len() as u64)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.writable()?;
        let mut s = self.lock()?;
        s.mutate(Some((self.inode, Write::SetLen(len))))
    }

    fn sync_data(&self) -> io::Result<()> {
        let mut s = self.lock()?;
        s.mutate(None)?;
        let i = s.inodes.get_mut(&self.inode).expect("open file");
        i.durable = i.volatile.clone();
        i.pending.clear();
        Ok(())
    }

    fn sync_all(&self) -> io::Result<()> {
        self.sync_data()
    }
}

impl Backend for SimBackend {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        let mut s = self.lock();
        let mut missing = Vec::new();
        let mut at = Some(dir);
        while let Some(d) = at {
            if is_root(d) || s.volatile.contains_key(d) {
                if !s.dir_exists(d) {
                    return Err(io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        format!("{} is a file", d.display()),
                    ));
                }
                break;
            }
            missing.push(d.to_path_buf());
            at = d.parent();
        }
        for d in missing.into_iter().rev() {
            s.mutate(None)?;
            s.volatile.insert(d.clone(), Node::Dir);
            s.pending.push(NsOp::Create(d, Node::Dir));
        }
        Ok(())
    }

    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Box<dyn BackendFile>> {
        let mut s = self.lock();
        let inode = match (s.volatile.get(path).copied(), mode) {
            (Some(Node::Dir), _) => {
                return Err(io::Error::new(
                    io::ErrorKind::IsADirectory,
                    format!("{} is a directory", path.display()),
                ));
            }
            (Some(Node::File(i)), OpenMode::Truncate) => {
                s.mutate(Some((i, Write::SetLen(0))))?;
                i
            }
            (Some(Node::File(i)), _) => i,
            (None, OpenMode::Read | OpenMode::Write) => {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("{}: no such file", path.display()),
                ));
            }
            (None, OpenMode::Create | OpenMode::Truncate) => {
                s.parent_exists(path)?;
                s.mutate(None)?;
                let i = s.next_inode;
                s.next_inode += 1;
                s.inodes.insert(i, Inode::default());
                s.volatile.insert(path.to_path_buf(), Node::File(i));
                s.pending
                    .push(NsOp::Create(path.to_path_buf(), Node::File(i)));
                i
            }
        };
        Ok(Box::new(SimFile {
            sim: self.sim.clone(),
            inode,
            generation: s.generation,
            writable: mode != OpenMode::Read,
        }))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut s = self.lock();
        let Some(node @ Node::File(_)) = s.volatile.get(from).copied() else {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{}: no such file", from.display()),
            ));
        };
        if from.parent() != to.parent() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "renames stay in one directory",
            ));
        }
        s.mutate(None)?;
        s.volatile.remove(from);
        s.volatile.insert(to.to_path_buf(), node);
        s.pending
            .push(NsOp::Rename(from.to_path_buf(), to.to_path_buf()));
        Ok(())
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        let mut s = self.lock();
        if !matches!(s.volatile.get(path), Some(Node::File(_))) {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{}: no such file", path.display()),
            ));
        }
        s.mutate(None)?;
        s.volatile.remove(path);
        s.pending.push(NsOp::Remove(path.to_path_buf()));
        Ok(())
    }

    fn remove_dir(&self, dir: &Path) -> io::Result<()> {
        let mut s = self.lock();
        if !s.dir_exists(dir) || is_root(dir) {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{}: no such directory", dir.display()),
            ));
        }
        if s.volatile.keys().any(|p| p.parent() == Some(dir)) {
            return Err(io::Error::new(
                io::ErrorKind::DirectoryNotEmpty,
                format!("{}: not empty", dir.display()),
            ));
        }
        s.mutate(None)?;
        s.volatile.remove(dir);
        s.pending.push(NsOp::Remove(dir.to_path_buf()));
        Ok(())
    }

    fn list_dir(&self, dir: &Path) -> io::Result<Vec<OsString>> {
        let s = self.lock();
        if !s.dir_exists(dir) {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{}: no such directory", dir.display()),
            ));
        }
        Ok(s.volatile
            .keys()
            .filter(|p| p.parent() == Some(dir))
            .filter_map(|p| p.file_name().map(|n| n.to_os_string()))
            .collect())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut s = self.lock();
        if !s.dir_exists(dir) {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{}: no such directory", dir.display()),
            ));
        }
        s.mutate(None)?;
        let pending = std::mem::take(&mut s.pending);
        let (now, later): (Vec<NsOp>, Vec<NsOp>) =
            pending.into_iter().partition(|op| op.touches(dir));
        for op in &now {
            op.apply(&mut s.durable);
        }
        s.pending = later;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(b: &SimBackend, p: &Path) -> Option<Vec<u8>> {
        b.files().get(p).cloned()
    }

    #[test]
    fn synced_data_and_entries_survive_and_unsynced_entries_may_not() {
        let dir = Path::new("/log");
        let a = dir.join("a");
        // Over many seeds: what was synced (data and entry) is always there whole; a file
        // whose entry was never synced is sometimes lost; unsynced bytes are sometimes lost.
        let (mut lost_file, mut lost_bytes, mut torn) = (0, 0, 0);
        for seed in 0..200 {
            let b = SimBackend::new(seed);
            b.create_dir_all(dir).unwrap();
            b.sync_dir(Path::new("/")).unwrap();
            let f = b.open(&a, OpenMode::Create).unwrap();
            f.write_at(b"durable", 0).unwrap();
            f.sync_data().unwrap();
            b.sync_dir(dir).unwrap();
            f.write_at(b" and more", 7).unwrap();
            let g = b.open(&dir.join("b"), OpenMode::Create).unwrap();
            g.write_at(b"x", 0).unwrap();
            g.sync_data().unwrap();
            b.crash();
            assert!(
                f.write_at(b"!", 0).is_err(),
                "seed {seed}: a stale handle wrote"
            );
            let content = read_all(&b, &a).expect("synced file lost");
            assert!(content.starts_with(b"durable"), "seed {seed}");
            assert!(b"durable and more".starts_with(&content), "seed {seed}");
            match content.len() {
                7 => lost_bytes += 1,
                16 => {}
                _ => torn += 1,
            }
            if read_all(&b, &dir.join("b")).is_none() {
                lost_file += 1;
            }
        }
        assert!(lost_file > 0 && lost_bytes > 0 && torn > 0);
        assert!(lost_file < 200 && lost_bytes < 200);
    }

    #[test]
    fn a_directory_is_removed_only_empty_and_durably_once_its_parent_is_synced() {
        let (d, e) = (Path::new("/d"), Path::new("/d/e"));
        let mut came_back = 0;
        for seed in 0..100 {
            let b = SimBackend::new(seed);
            b.create_dir_all(e).unwrap();
            b.sync_dir(Path::new("/")).unwrap();
            b.sync_dir(d).unwrap();
            let f = e.join("f");
            b.open(&f, OpenMode::Create).unwrap().sync_data().unwrap();
            b.sync_dir(e).unwrap();
            let err = b.remove_dir(e).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::DirectoryNotEmpty, "seed {seed}");
            b.remove_file(&f).unwrap();
            b.sync_dir(e).unwrap();
            b.remove_dir(e).unwrap();
            assert!(b.list_dir(e).is_err(), "seed {seed}: still listed");
            if seed % 2 == 0 {
                b.sync_dir(d).unwrap();
            }
            b.crash();
            match b.list_dir(e) {
                Ok(names) => {
                    assert!(seed % 2 == 1, "seed {seed}: a synced removal undone");
                    assert!(names.is_empty(), "seed {seed}: {names:?}");
                    came_back += 1;
                }
                Err(err) => assert_eq!(err.kind(), io::ErrorKind::NotFound),
            }
        }
        assert!(came_back > 0, "an unsynced removal always survived");
    }

    #[test]
    fn replace_is_atomic_and_planned_crashes_happen_on_time() {
        let dir = Path::new("/d");
        let p = dir.join("state");
        for seed in 0..200 {
            let b = SimBackend::new(seed);
            b.create_dir_all(dir).unwrap();
            b.sync_dir(Path::new("/")).unwrap();
            b.replace(&p, b"old state").unwrap();
            b.crash_after(seed % 6);
            let r = b.replace(&p, b"the new state");
            let got = read_all(&b, &p);
            if r.is_ok() {
                assert_eq!(got.as_deref(), Some(&b"the new state"[..]), "seed {seed}");
            } else {
                assert!(
                    got.as_deref() == Some(b"old state")
                        || got.as_deref() == Some(b"the new state"),
                    "seed {seed}: {got:?}"
                );
            }
        }
    }

    #[test]
    fn read_only_handles_do_not_write_and_gaps_read_as_zeros() {
        let b = SimBackend::new(1);
        b.create_dir_all(Path::new("/d")).unwrap();
        let f = b.open(Path::new("/d/f"), OpenMode::Create).unwrap();
        f.write_at(b"ab", 3).unwrap();
        let before = b.mutations();
        let r = b.open(Path::new("/d/f"), OpenMode::Read).unwrap();
        assert!(r.write_at(b"x", 0).is_err());
        assert!(r.set_len(0).is_err());
        let mut buf = [9u8; 5];
        r.read_exact_at(&mut buf, 0).unwrap();
        assert_eq!(&buf, b"\0\0\0ab");
        assert_eq!(b.mutations(), before);
        assert_eq!(
            b.list_dir(Path::new("/d")).unwrap(),
            vec![OsString::from("f")]
        );
    }
}
