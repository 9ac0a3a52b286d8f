//! What every command shares: opening logs and keys, error classes, output.

use std::fmt;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::{Result, anyhow};
use sealtrail::keys::{KeyError, PublicKey, read_public_key};
use sealtrail::log::{AppendError, OpenError};
use sealtrail::log::{IndexProgress, LogBuilder};
use sealtrail::store::StoreError;
use sealtrail::{Durability, Log, SecretKey};

/// How long a command waits for another process to close the log (one process at a time has it
/// open; Claude Code hooks may run at the same time). The wait blocks on the log's lock file.
pub const LOCK_WAIT: Duration = Duration::from_secs(10);

/// How a command ended, when it did not fail outright.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Everything succeeded (exit 0).
    Ok,
    /// The command ran, and found the log or its input invalid (exit 1).
    Invalid,
}

/// An error about the data (a bad event, a record the log refuses, a damaged log): exit 1.
/// Any other error is a usage or I/O error: exit 2.
#[derive(Debug)]
pub struct Invalid(pub String);

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Invalid {}

/// An error about the data: exit 1.
pub fn invalid(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Invalid(message.into()))
}

/// Whether an error is about the data (exit 1) rather than usage or I/O (exit 2).
pub fn is_invalid(e: &anyhow::Error) -> bool {
    e.downcast_ref::<Invalid>().is_some()
}

/// Checks that `dir` looks like a log directory before opening it, so that a wrong path does not
/// leave an empty database behind.
pub fn check_log_dir(dir: &Path) -> Result<()> {
    if !dir.exists() {
        return Err(anyhow!(
            "{}: no such directory (create a log with `sealtrail init --log {}`)",
            dir.display(),
            dir.display()
        ));
    }
    if !dir.is_dir() {
        return Err(anyhow!("{}: not a directory", dir.display()));
    }
    if !sealtrail::store::DirStore::is_log_dir(dir) {
        return Err(anyhow!(
            "{}: not a sealtrail log (no entries/ and meta/ inside)",
            dir.display()
        ));
    }
    Ok(())
}

/// A builder that, when stderr is a terminal, draws a progress bar there while an open
/// rebuilds the log's index for more than a second (after a crash, when `index/` was removed,
/// and on every read-only open). Scripts reading stderr see nothing of it.
pub fn builder() -> LogBuilder {
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return Log::builder();
    }
    let bar: std::sync::OnceLock<indicatif::ProgressBar> = std::sync::OnceLock::new();
    Log::builder().on_index_progress(move |p: IndexProgress| {
        let bar = bar.get_or_init(|| {
            let bar = indicatif::ProgressBar::new(p.total);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} indexing {pos}/{len} entries [{bar:40}] {per_sec} eta {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar
        });
        bar.set_position(p.done);
        if p.done >= p.total {
            bar.finish_and_clear();
        }
    })
}

/// Opens the log in `dir` for reading only: never waits for a writer in another process,
/// never writes, and sees what was completely written when it opened.
pub fn open_log_read_only(dir: &Path) -> Result<Log> {
    check_log_dir(dir)?;
    builder()
        .open_read_only(dir)
        .map_err(|e| open_error(dir, e, Duration::ZERO))
}

/// Opens the log in `dir` for reading and appending (Immediate durability), waiting up to
/// `wait` for another process to close it.
pub fn open_log_waiting(dir: &Path, wait: Duration) -> Result<Log> {
    check_log_dir(dir)?;
    builder()
        .durability(Durability::Immediate)
        .lock_wait(wait)
        .open(dir)
        .map_err(|e| open_error(dir, e, wait))
}

/// Opens the log in `dir` for appends that the caller makes durable together with
/// [`Log::flush`] before it reports them (Buffered durability: one fsync for all of them
/// instead of one each, while other processes wait for the log), waiting up to `wait` for
/// another process to close it.
pub fn open_log_batched(dir: &Path, wait: Duration) -> Result<Log> {
    check_log_dir(dir)?;
    builder()
        .durability(Durability::Buffered)
        .lock_wait(wait)
        .open(dir)
        .map_err(|e| open_error(dir, e, wait))
}

/// Opens the log in `dir` like [`open_log_batched`] if no other process has it open, without
/// waiting: `None` if one has.
pub fn try_open_log_batched(dir: &Path) -> Result<Option<Log>> {
    check_log_dir(dir)?;
    match builder()
        .durability(Durability::Buffered)
        .lock_wait(Duration::ZERO)
        .open(dir)
    {
        Ok(log) => Ok(Some(log)),
        Err(OpenError::Store(StoreError::Locked { .. } | StoreError::OpenInThisProcess { .. })) => {
            Ok(None)
        }
        Err(e) => Err(open_error(dir, e, Duration::ZERO)),
    }
}

/// Opens the log in `dir`, waiting up to [`LOCK_WAIT`] for another process to close it.
pub fn open_log(dir: &Path) -> Result<Log> {
    open_log_waiting(dir, LOCK_WAIT)
}

/// Explains why a log could not be opened, naming the directory.
pub fn open_error(dir: &Path, e: OpenError, wait: Duration) -> anyhow::Error {
    let d = dir.display();
    match e {
        OpenError::NotALog => anyhow!("{d}: not a sealtrail log (no descriptor found)"),
        OpenError::Store(StoreError::Locked { .. }) => anyhow!(
            "{d}: the log is open in another process (waited {} s)",
            wait.as_secs()
        ),
        OpenError::Damaged { seq, reason } => invalid(format!(
            "{d}: the log is damaged at entry {seq}: {reason}; `sealtrail verify --log {d}` \
             examines it"
        )),
        OpenError::Descriptor(e) => invalid(format!("{d}: descriptor: {e}")),
        other => anyhow!("{d}: {other}"),
    }
}

/// Loads a secret key file, printing any warning about it (for example permissions that let
/// other users read it) on standard error.
pub fn load_secret(path: &Path) -> Result<SecretKey> {
    match SecretKey::load(path) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                eprintln!("warning: {w}");
            }
            Ok(loaded.key)
        }
        Err(KeyError::Io { source, .. }) => Err(anyhow!(
            "{}: cannot read the secret key file: {source}",
            path.display()
        )),
        Err(e) => Err(anyhow!("{}: {e}", path.display())),
    }
}

/// Reads a public key given as a file or a C2SP verifier key string.
pub fn load_public(arg: &str) -> Result<PublicKey> {
    read_public_key(arg).map_err(|e| match e {
        KeyError::Io { path, source } => {
            anyhow!(
                "{}: cannot read the public key file: {source}",
                path.display()
            )
        }
        e if Path::new(arg).exists() => anyhow!("{arg}: {e}"),
        e => anyhow!("{arg}: neither a public key file nor a verifier key string: {e}"),
    })
}

/// Explains why the log refused a record signed with the key in `key_file`. A refusal is about
/// the data (exit 1); a storage failure is I/O (exit 2).
pub fn refused(key_file: &Path, e: AppendError) -> anyhow::Error {
    let k = key_file.display();
    match e {
        AppendError::Signer { source, .. } => invalid(format!("{k}: {source}")),
        AppendError::PayloadTooLarge { size, max, .. } => invalid(format!(
            "payload of {size} bytes is over the log's cap of {max} bytes"
        )),
        AppendError::Payload { source, .. } => {
            invalid(format!("payload is not canonical CBOR: {source}"))
        }
        AppendError::Link { target, reason, .. } => {
            invalid(format!("link to entry {target}: {reason}"))
        }
        AppendError::Approval { source, .. } => invalid(format!("{k}: {source}")),
        AppendError::KeyChange { source, .. } => invalid(source.to_string()),
        e @ (AppendError::UnknownKind { .. }
        | AppendError::Event { .. }
        | AppendError::Encode { .. }
        | AppendError::Erasure { .. }) => invalid(e.to_string()),
        other => anyhow!("{other}"),
    }
}

/// A count with its noun in the right number: `count(1, "entry", "entries")` is "1 entry".
pub fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Writes a line to standard output and flushes it (receipts must show as soon as they are
/// true).
pub fn emit(line: impl fmt::Display) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()?;
    Ok(())
}

/// Whether an error is standard output closed early (`sealtrail show | head`).
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// A JSON value on one line.
pub fn json_line(v: &serde_json::Value) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

/// Whether `--json` is among the command-line arguments (before any `--`): errors are then also
/// printed on standard output as JSON, even those found before the arguments parse.
pub fn json_requested() -> bool {
    std::env::args_os()
        .skip(1)
        .take_while(|a| a != "--")
        .any(|a| a == "--json")
}

/// An error as one JSON line: `{"error": {"message": "…", "exit": 2}}`.
pub fn json_error(message: &str, exit: u8) -> String {
    json_line(&serde_json::json!({"error": {"message": message, "exit": exit}}))
}
