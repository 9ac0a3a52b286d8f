//! Appending from async code (feature `tokio`).
//!
//! [`Log::append`] blocks its thread until the entry is written, and with
//! [`Durability::Immediate`](crate::Durability::Immediate) until it is fsynced: milliseconds on
//! a quiet disk, far longer on a busy one. On a tokio runtime that stalls every task scheduled
//! on the same worker, and on a current-thread runtime everything. [`AsyncLog`] runs each append
//! on tokio's blocking pool instead, so the runtime's own threads never wait for the disk.
//!
//! Reads of entries the log already holds ([`Log::read`], [`Log::len`], [`Log::keys`]) are
//! short and may be made through [`AsyncLog::log`]; anything long (a checkpoint, an export, a
//! full verification) goes through [`AsyncLog::run`].
//!
//! **Cancellation.** Dropping an append's future does not stop the append: once handed to the
//! blocking pool it runs to the end, and the entry is written (and, with `Immediate`, durable)
//! although its receipt is lost. An append the pool never started (the runtime was shutting
//! down) wrote nothing and fails with [`AppendError::Interrupted`].

use crate::entry::{Link, SessionId};
use crate::event::Event;
use crate::keys::SecretKey;

use super::{AppendError, Log, Receipt, Record};
#[cfg(feature = "sled")]
use {
    super::{LogBuilder, OpenError},
    std::path::PathBuf,
};

/// The async runtime shut down before a task handed to [`AsyncLog::run`] started: it did
/// nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the async runtime shut down before the task started; it did nothing")]
pub struct Interrupted;

/// A [`Log`] handle for async code: appends run on tokio's blocking pool, never on the
/// runtime's threads. Cloning is cheap and every clone appends to the same log.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use sealtrail::event::{CommandRun, Event};
/// use sealtrail::log::AsyncLog;
/// use sealtrail::registry::Role;
/// use sealtrail::{Log, SecretKey, SessionId};
///
/// let dir = tempfile::tempdir()?;
/// let owner = SecretKey::generate("example.com/agent-log")?;
/// let recorder = SecretKey::generate("harness")?;
/// let log = AsyncLog::create(Log::builder(), dir.path().join("log"), &owner, "example.com/agent-log")
///     .await?;
/// log.run({
///     let owner = owner.clone();
///     let id = recorder.key_id();
///     move |log| log.register_key(&owner, id, Role::Recorder, "build harness")
/// })
/// .await??;
/// let session = SessionId::new("s-1")?;
/// let ran = Event::CommandRun(CommandRun {
///     command: "cargo test".into(),
///     exit_code: Some(0),
///     duration_ms: 41_000,
///     ..CommandRun::default()
/// });
/// // Returns once the entry is fsynced, without blocking the runtime meanwhile.
/// let receipt = log.append_event(&recorder, &session, &ran, &[]).await?;
/// assert_eq!(log.log().read(receipt.seq)?.unwrap().header().kind.as_str(), "command_run");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct AsyncLog {
    log: Log,
}

impl From<Log> for AsyncLog {
    fn from(log: Log) -> AsyncLog {
        AsyncLog { log }
    }
}

impl AsyncLog {
    /// Wraps an open log.
    pub fn new(log: Log) -> AsyncLog {
        AsyncLog { log }
    }

    /// Creates a log on disk in directory `path` with `builder`'s options, on the blocking
    /// pool (creating fsyncs the new files).
    #[cfg(feature = "sled")]
    pub async fn create(
        builder: LogBuilder,
        path: PathBuf,
        owner: &SecretKey,
        origin: &str,
    ) -> Result<AsyncLog, OpenError> {
        let owner = owner.clone();
        let origin = origin.to_owned();
        blocking(move || builder.create(&path, &owner, &origin))
            .await
            .ok_or(OpenError::Interrupted)?
            .map(AsyncLog::new)
    }

    /// Opens the log on disk in directory `path` with `builder`'s options, on the blocking
    /// pool (opening reads the log and recovers from a crash; with
    /// [`LogBuilder::lock_wait`] it may wait for another process).
    #[cfg(feature = "sled")]
    pub async fn open(builder: LogBuilder, path: PathBuf) -> Result<AsyncLog, OpenError> {
        blocking(move || builder.open(&path))
            .await
            .ok_or(OpenError::Interrupted)?
            .map(AsyncLog::new)
    }

    /// The log, for short reads (see the module documentation).
    pub fn log(&self) -> &Log {
        &self.log
    }

    /// The log, unwrapped.
    pub fn into_inner(self) -> Log {
        self.log
    }

    /// Runs `f` with the log on the blocking pool and returns what it returns: for work that
    /// is long or waits for the disk (a checkpoint, an export, a verification, a key change).
    /// [`Interrupted`] if the runtime shut down before `f` started.
    ///
    /// # Panics
    ///
    /// If `f` panics, the panic resumes here.
    pub async fn run<T, F>(&self, f: F) -> Result<T, Interrupted>
    where
        F: FnOnce(&Log) -> T + Send + 'static,
        T: Send + 'static,
    {
        let log = self.log.clone();
        blocking(move || f(&log)).await.ok_or(Interrupted)
    }

    /// Appends one record signed by `signer`, as [`Log::append`] does, on the blocking pool.
    pub async fn append(&self, signer: &SecretKey, record: Record) -> Result<Receipt, AppendError> {
        let (log, signer) = (self.log.clone(), signer.clone());
        blocking(move || log.append(&signer, record))
            .await
            .unwrap_or(Err(AppendError::Interrupted))
    }

    /// Appends records signed by `signer` at consecutive positions, all or none, as
    /// [`Log::append_batch`] does, on the blocking pool.
    pub async fn append_batch(
        &self,
        signer: &SecretKey,
        records: Vec<Record>,
    ) -> Result<Vec<Receipt>, AppendError> {
        let (log, signer) = (self.log.clone(), signer.clone());
        blocking(move || log.append_batch(&signer, records))
            .await
            .unwrap_or(Err(AppendError::Interrupted))
    }

    /// Appends one session event, as [`Log::append_event`] does, on the blocking pool.
    pub async fn append_event(
        &self,
        signer: &SecretKey,
        session: &SessionId,
        event: &Event,
        links: &[Link],
    ) -> Result<Receipt, AppendError> {
        let (log, signer) = (self.log.clone(), signer.clone());
        let (session, event, links) = (session.clone(), event.clone(), links.to_vec());
        blocking(move || log.append_event(&signer, &session, &event, &links))
            .await
            .unwrap_or(Err(AppendError::Interrupted))
    }

    /// Makes every acknowledged append durable, as [`Log::flush`] does, on the blocking pool.
    pub async fn flush(&self) -> Result<(), AppendError> {
        let log = self.log.clone();
        blocking(move || log.flush())
            .await
            .unwrap_or(Err(AppendError::Interrupted))
    }
}

// Runs `f` on tokio's blocking pool. `None` if the runtime shut down before `f` started (so `f`
// did nothing); a panic in `f` resumes in the caller.
async fn blocking<T, F>(f: F) -> Option<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(value) => Some(value),
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => None,
    }
}
