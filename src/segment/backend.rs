//! The file operations segment, tile and state files need, behind a trait (compare redb's
//! `StorageBackend`): [`FsBackend`] on `std::fs`, and [`super::SimBackend`] in memory for
//! power-loss tests.

use std::ffi::OsString;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// How [`Backend::open`] opens a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OpenMode {
    /// An existing file, for reading only: every write through the handle fails.
    Read,
    /// An existing file, for reading and writing.
    Write,
    /// A file for reading and writing, created empty if it does not exist. A new file's
    /// directory entry is durable only after [`Backend::sync_dir`] on its directory.
    Create,
    /// A file for reading and writing, created or emptied.
    Truncate,
}

/// A file opened through a [`Backend`]. Reads and writes are positional, so one handle can be
/// shared between threads.
pub trait BackendFile: Send + Sync + fmt::Debug {
    /// Reads up to `buf.len()` bytes at `offset`; returns how many were read (0 at or past the
    /// end).
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;
    /// Writes all of `buf` at `offset`, extending the file if needed (a gap reads as zeros).
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()>;
    /// The file's current length.
    fn len(&self) -> io::Result<u64>;
    /// Whether the file is empty.
    fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }
    /// Cuts or extends the file to `len` bytes. Durable after [`BackendFile::sync_all`].
    fn set_len(&self, len: u64) -> io::Result<()>;
    /// `fdatasync`: every byte written before the call is durable when it returns, with the
    /// file size needed to read it back. Creating, renaming or removing the file is not
    /// covered: that takes [`Backend::sync_dir`].
    fn sync_data(&self) -> io::Result<()>;
    /// `fsync`: as [`BackendFile::sync_data`], and the file's metadata too.
    fn sync_all(&self) -> io::Result<()>;

    /// Reads exactly `buf.len()` bytes at `offset`, failing with
    /// [`io::ErrorKind::UnexpectedEof`] if the file ends first.
    fn read_exact_at(&self, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
        while !buf.is_empty() {
            match self.read_at(buf, offset) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => {
                    buf = &mut buf[n..];
                    offset += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// A place to keep files: a file system, or a simulation of one.
pub trait Backend: Send + Sync + fmt::Debug {
    /// Creates `dir` and any missing parents. New directories are durable only after
    /// [`Backend::sync_dir`] on their parents.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// Opens the file at `path`.
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Box<dyn BackendFile>>;
    /// Renames `from` to `to` (both in one directory), replacing `to` atomically. Durable after
    /// [`Backend::sync_dir`].
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes the file at `path`. Durable after [`Backend::sync_dir`].
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Removes the empty directory `dir` (an error if it holds anything). Durable after
    /// [`Backend::sync_dir`] on its parent.
    fn remove_dir(&self, dir: &Path) -> io::Result<()>;
    /// The names of the entries of `dir`, in no particular order.
    fn list_dir(&self, dir: &Path) -> io::Result<Vec<OsString>>;
    /// Makes every creation, rename and removal in `dir` durable (`fsync` of the directory).
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;

    /// Replaces the file at `path` with `bytes` atomically: after a crash it holds either its
    /// old content or all of `bytes`. Writes a temporary file beside it, syncs it, renames it
    /// over `path` and syncs the directory (as Tessera's POSIX driver does).
    fn replace(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        let dir = parent(path)?;
        let mut tmp_name = OsString::from(".");
        tmp_name.push(path.file_name().unwrap_or_default());
        tmp_name.push(".tmp");
        let tmp = dir.join(tmp_name);
        let file = self.open(&tmp, OpenMode::Truncate)?;
        file.write_at(bytes, 0)?;
        file.sync_all()?;
        drop(file);
        self.rename(&tmp, path)?;
        self.sync_dir(&dir)
    }
}

/// The directory holding `path`.
pub(crate) fn parent(path: &Path) -> io::Result<PathBuf> {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => Ok(p.to_path_buf()),
        Some(_) => Ok(PathBuf::from(".")),
        None => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} has no parent directory", path.display()),
        )),
    }
}

/// The real file system, through `std::fs`: `sync_data` is `fdatasync`, `sync_dir` opens the
/// directory and `fsync`s it.
#[derive(Debug, Clone, Copy, Default)]
pub struct FsBackend;

#[derive(Debug)]
struct FsFile(File);

impl BackendFile for FsFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        #[cfg(unix)]
        {
            std::os::unix::fs::FileExt::read_at(&self.0, buf, offset)
        }
        #[cfg(windows)]
        {
            std::os::windows::fs::FileExt::seek_read(&self.0, buf, offset)
        }
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        #[cfg(unix)]
        {
            std::os::unix::fs::FileExt::write_all_at(&self.0, buf, offset)
        }
        #[cfg(windows)]
        {
            let (mut buf, mut offset) = (buf, offset);
            while !buf.is_empty() {
                let n = std::os::windows::fs::FileExt::seek_write(&self.0, buf, offset)?;
                if n == 0 {
                    return Err(io::ErrorKind::WriteZero.into());
                }
                buf = &buf[n..];
                offset += n as u64;
            }
            Ok(())
        }
    }

    fn len(&self) -> io::Result<u64> {
        Ok(self.0.metadata()?.len())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }

    fn sync_data(&self) -> io::Result<()> {
        self.0.sync_data()
    }

    fn sync_all(&self) -> io::Result<()> {
        self.0.sync_all()
    }
}

impl Backend for FsBackend {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir)
    }

    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Box<dyn BackendFile>> {
        let mut o = OpenOptions::new();
        o.read(true);
        match mode {
            OpenMode::Read => {}
            OpenMode::Write => {
                o.write(true);
            }
            OpenMode::Create => {
                o.write(true).create(true);
            }
            OpenMode::Truncate => {
                o.write(true).create(true).truncate(true);
            }
        }
        Ok(Box::new(FsFile(o.open(path)?)))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    fn remove_dir(&self, dir: &Path) -> io::Result<()> {
        std::fs::remove_dir(dir)
    }

    fn list_dir(&self, dir: &Path) -> io::Result<Vec<OsString>> {
        std::fs::read_dir(dir)?
            .map(|e| e.map(|e| e.file_name()))
            .collect()
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        #[cfg(unix)]
        {
            File::open(dir)?.sync_all()
        }
        // Windows has no directory fsync; NTFS journals its metadata.
        #[cfg(not(unix))]
        {
            let _ = dir;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fs_backend_writes_reads_replaces_and_lists() {
        let dir = tempfile::tempdir().unwrap();
        let fs = FsBackend;
        let path = dir.path().join("a");
        let f = fs.open(&path, OpenMode::Create).unwrap();
        f.write_at(b"hello", 0).unwrap();
        f.write_at(b"!", 7).unwrap();
        f.sync_data().unwrap();
        assert_eq!(f.len().unwrap(), 8);
        let mut buf = [0xffu8; 8];
        f.read_exact_at(&mut buf, 0).unwrap();
        assert_eq!(&buf, b"hello\0\0!");
        assert!(f.read_exact_at(&mut buf, 1).is_err());
        fs.replace(&path, b"new").unwrap();
        let r = fs.open(&path, OpenMode::Read).unwrap();
        assert!(r.write_at(b"x", 0).is_err(), "a read-only handle wrote");
        let mut buf = [0u8; 3];
        r.read_exact_at(&mut buf, 0).unwrap();
        assert_eq!(&buf, b"new");
        assert_eq!(fs.list_dir(dir.path()).unwrap(), vec![OsString::from("a")]);
        fs.sync_dir(dir.path()).unwrap();
        fs.remove_file(&path).unwrap();
        assert!(fs.list_dir(dir.path()).unwrap().is_empty());
    }
}
