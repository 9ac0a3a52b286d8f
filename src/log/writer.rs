//! Session events, typed (SPEC §13): the way to record what an agent does.
//!
//! [`Log::append`] takes raw records and checks every known kind's payload against its schema;
//! [`Log::append_event`] and [`SessionWriter`] build the record from an [`Event`], so a payload
//! of the wrong shape cannot be written at all.

use crate::entry::{Link, SessionId};
use crate::event::{Event, EventError};
use crate::keys::SecretKey;

use super::{AppendError, Log, Receipt};

impl Log {
    /// Appends one session event, signed by `signer`, in `session`: its payload encoded and
    /// checked (SPEC §13.4), its entry references as causal links, and `links` — the earlier
    /// entries that informed it — besides. With [`crate::Durability::Immediate`] it returns
    /// once the entry is fsynced.
    pub fn append_event(
        &self,
        signer: &SecretKey,
        session: &SessionId,
        event: &Event,
        links: &[Link],
    ) -> Result<Receipt, AppendError> {
        let record = event
            .to_record()
            .map_err(|source| AppendError::Encode { index: 0, source })?
            .session(session)
            .links(links.iter().copied());
        self.append(signer, record)
    }

    /// Declares the log's review policy (SPEC §13.14), signed by an owner key: the paths whose
    /// merge needs an approving review by one of the senior keys. It replaces any earlier
    /// policy from this entry on; it does not apply to merges recorded before it.
    pub fn declare_review_policy(
        &self,
        owner: &SecretKey,
        policy: &crate::policy::ReviewPolicy,
    ) -> Result<Receipt, AppendError> {
        let payload = policy
            .encode()
            .map_err(|problem| AppendError::ReviewPolicy { index: 0, problem })?;
        let kind = crate::entry::Kind::new(crate::policy::REVIEW_POLICY).expect("built-in kind");
        self.append(owner, super::Record::new(kind, payload))
    }

    /// A writer of one session's events, all signed by `signer`.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use sealtrail::event::{CommandRun, Event};
    /// use sealtrail::registry::Role;
    /// use sealtrail::{Log, SecretKey, SessionId};
    ///
    /// let owner = SecretKey::generate("example.com/agent-log")?;
    /// let recorder = SecretKey::generate("harness")?;
    /// let log = Log::in_memory(&owner, "example.com/agent-log")?;
    /// log.register_key(&owner, recorder.key_id(), Role::Recorder, "build harness")?;
    /// let session = SessionId::new("s-1")?;
    /// let events = log.session_writer(&recorder, &session);
    /// let ran = events.append(&Event::CommandRun(CommandRun {
    ///     command: "cargo test".into(),
    ///     exit_code: Some(0),
    ///     duration_ms: 41_000,
    ///     ..CommandRun::default()
    /// }))?;
    /// let read = sealtrail::query::session_events(&log, &session)?;
    /// assert_eq!(read[0].seq, ran.seq);
    /// # Ok(()) }
    /// ```
    pub fn session_writer<'a>(
        &'a self,
        signer: &'a SecretKey,
        session: &SessionId,
    ) -> SessionWriter<'a> {
        SessionWriter {
            log: self,
            signer,
            session: session.clone(),
        }
    }
}

/// Appends the events of one session, signed by one key: [`Log::session_writer`]. Cheap to
/// make; share the log, not the writer, between threads.
#[derive(Debug, Clone)]
pub struct SessionWriter<'a> {
    log: &'a Log,
    signer: &'a SecretKey,
    session: SessionId,
}

impl SessionWriter<'_> {
    /// Appends an event, with its entry references as causal links.
    pub fn append(&self, event: &Event) -> Result<Receipt, AppendError> {
        self.append_linked(event, &[])
    }

    /// Appends an event with further causal links: the earlier entries that informed it (a
    /// decision's evidence, the command a failure came from).
    pub fn append_linked(&self, event: &Event, links: &[Link]) -> Result<Receipt, AppendError> {
        self.log
            .append_event(self.signer, &self.session, event, links)
    }

    /// The session written to.
    pub fn session(&self) -> &SessionId {
        &self.session
    }

    /// The log written to.
    pub fn log(&self) -> &Log {
        self.log
    }
}

impl From<EventError> for AppendError {
    fn from(source: EventError) -> Self {
        AppendError::Encode { index: 0, source }
    }
}
