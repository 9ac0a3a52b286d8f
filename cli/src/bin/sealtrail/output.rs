//! Every file the command line writes goes through [`Output`]: nothing is silently overwritten,
//! a symlink is never followed, a secret key file is never replaced, and a file appears whole or
//! not at all.
//!
//! The content goes to a new temporary file beside the target, created with create-new
//! semantics (`O_EXCL`: it fails on anything already at that name, a symlink included) under an
//! unpredictable name. Once written and fsynced it is moved into place: with a hard link when an
//! existing path must be refused (the link fails if the path exists, so there is no window
//! between a check and the write), or by `rename` when it may be replaced (which replaces a
//! symlink itself, never its target). Then the directory is fsynced. The temporary file is
//! removed on every path that does not end in the move, including early returns and panics
//! (by `Drop`).

use std::fs::{File, OpenOptions};
use std::io::{self, Read as _, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow, bail};
use zeroize::Zeroizing;

/// How much of an existing file is read to tell whether it holds a secret key.
const SNIFF: u64 = 64 * 1024;

/// The first bytes of a C2SP secret key line (after any leading white space).
const SECRET_KEY_PREFIX: &[u8] = b"PRIVATE+KEY+";

/// What to do when the output path already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Refuse it (a command without `--force`).
    Refuse,
    /// Replace it (`--force`, or a file the demo owns): the entry itself is replaced, never a
    /// symlink's target, and never a secret key file.
    Replace,
    /// Refuse it: a key file is never overwritten, and no flag changes that.
    Key,
}

impl Existing {
    /// [`Existing::Replace`] with `--force`, else [`Existing::Refuse`].
    pub fn force(force: bool) -> Existing {
        if force {
            Existing::Replace
        } else {
            Existing::Refuse
        }
    }
}

/// A file being written: a temporary file beside `path` until [`Output::commit`] moves it into
/// place. Dropped without a commit, it removes the temporary file.
#[derive(Debug)]
pub struct Output {
    path: PathBuf,
    tmp: PathBuf,
    existing: Existing,
    // `None` once committed (or while committing): nothing left to remove.
    file: Option<File>,
}

impl Output {
    /// Starts writing `path`: refuses it now if it exists and `existing` does not allow
    /// replacing it (so a command fails before doing any work), then creates the temporary file.
    pub fn create(path: &Path, existing: Existing) -> Result<Output> {
        Output::open(path, existing, false)
    }

    /// Starts writing a secret key file: mode 0600 from the start, never replacing anything.
    pub fn create_secret(path: &Path) -> Result<Output> {
        Output::open(path, Existing::Key, true)
    }

    fn open(path: &Path, existing: Existing, secret: bool) -> Result<Output> {
        refuse_existing(path, existing)?;
        let name = path
            .file_name()
            .ok_or_else(|| anyhow!("{}: not a file name", path.display()))?;
        let mut random = [0u8; 8];
        getrandom::fill(&mut random).map_err(|e| {
            anyhow!(
                "{}: no randomness for a temporary name: {e}",
                path.display()
            )
        })?;
        // Bounded, so that a long file name still leaves room for the suffix (NAME_MAX).
        let stem: String = name.to_string_lossy().chars().take(64).collect();
        let tmp = dir_of(path).join(format!(".{stem}.{}.partial", hex::encode(random)));
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        if secret {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        #[cfg(not(unix))]
        let _ = secret;
        let file = options.open(&tmp).with_context(|| {
            format!(
                "{}: cannot create the temporary file {}",
                path.display(),
                tmp.display()
            )
        })?;
        Ok(Output {
            path: path.to_owned(),
            tmp,
            existing,
            file: Some(file),
        })
    }

    /// The path this output is written to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Makes the content durable and moves it into place, then fsyncs the directory.
    pub fn commit(mut self) -> Result<()> {
        let path = self.path.clone();
        let shown = path.display();
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| anyhow!("{shown}: already committed"))?;
        file.sync_all()
            .with_context(|| format!("{shown}: cannot write {}", self.tmp.display()))?;
        match self.existing {
            Existing::Replace => {
                // Checked again, as close to the rename as possible.
                refuse_existing(&path, Existing::Replace)?;
                std::fs::rename(&self.tmp, &path)
                    .with_context(|| format!("{shown}: cannot move the new file into place"))?;
                self.file = None;
            }
            Existing::Refuse | Existing::Key => {
                match std::fs::hard_link(&self.tmp, &path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                        // Created since `create` looked: the same refusal, with its reason.
                        refuse_existing(&path, self.existing)?;
                        bail!("{shown}: exists; {}", self.advice());
                    }
                    Err(e) => {
                        let hint = match self.existing {
                            Existing::Refuse => {
                                " (on a file system without hard links, --force moves it into \
                                 place with rename instead)"
                            }
                            _ => "",
                        };
                        bail!("{shown}: cannot link the new file into place: {e}{hint}");
                    }
                }
                self.file = None;
                if let Err(e) = std::fs::remove_file(&self.tmp) {
                    eprintln!(
                        "warning: {}: wrote it, but cannot remove the temporary file {}: {e}",
                        shown,
                        self.tmp.display()
                    );
                }
            }
        }
        sync_dir(dir_of(&path)).with_context(|| format!("{shown}: cannot sync its directory"))
    }

    fn advice(&self) -> &'static str {
        match self.existing {
            Existing::Key => "not overwriting a key",
            _ => "choose another --out or pass --force to replace it",
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.file {
            Some(f) => f.write(buf),
            None => Err(io::Error::other("output already committed")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.file {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Writes `bytes` to `path` through an [`Output`].
pub fn write(path: &Path, bytes: &[u8], existing: Existing) -> Result<()> {
    let mut out = Output::create(path, existing)?;
    out.write_all(bytes)
        .with_context(|| format!("{}: cannot write", path.display()))?;
    out.commit()
}

/// Refuses `path` if something is there that `existing` does not allow replacing (a secret key
/// file is never replaced). Never follows a symlink at `path`: a symlink is an existing entry
/// like any other. [`Output::create`] checks this itself; call it to refuse before other work.
pub fn refuse_existing(path: &Path, existing: Existing) -> Result<()> {
    refuse_existing_for(path, existing, "--out")
}

/// [`refuse_existing`] for a file named by another option than `--out` (`--html`, say): the
/// refusal names that option.
pub fn refuse_existing_for(path: &Path, existing: Existing, option: &str) -> Result<()> {
    let shown = path.display();
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(anyhow!("{shown}: cannot examine: {e}")),
    };
    match existing {
        Existing::Key => bail!("{shown}: already exists; not overwriting a key"),
        Existing::Refuse | Existing::Replace if meta.is_file() => match holds_secret_key(path) {
            Ok(false) => {}
            Ok(true) => bail!(
                "{shown}: holds a secret key (PRIVATE+KEY+…); a secret key file is never \
                 replaced, even with --force"
            ),
            Err(e) => bail!(
                "{shown}: exists and cannot be read to check that it is not a secret key \
                 ({e}); not replacing it"
            ),
        },
        _ => {}
    }
    if existing == Existing::Refuse {
        bail!("{shown}: exists; choose another {option} or pass --force to replace it");
    }
    Ok(())
}

// Whether the regular file at `path` starts, after white space, with a C2SP secret key line.
fn holds_secret_key(path: &Path) -> io::Result<bool> {
    // The head of a key file is its secret: wiped once looked at.
    let mut head = Zeroizing::new(Vec::new());
    File::open(path)?.take(SNIFF).read_to_end(&mut head)?;
    Ok(head.trim_ascii_start().starts_with(SECRET_KEY_PREFIX))
}

fn dir_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}
