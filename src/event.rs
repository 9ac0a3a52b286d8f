//! The agent-session vocabulary (SPEC §13): one entry kind per event, each with a text-keyed
//! payload in the canonical CBOR profile.
//!
//! Contents — prompts, responses, tool arguments, command output, files — are kept by digest,
//! never inline: a digest is `H(content)` under the log's suite with no domain tag
//! ([`content_digest`]), so `sha256sum` or `b3sum` of the same bytes reproduces it. Field names
//! follow the OpenTelemetry GenAI semantic conventions (mapping in SPEC §13.3). Floats are outside
//! the profile, so a temperature is kept in thousandths and a cost in millionths of a named
//! currency.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use sealtrail::event::{content_digest, Event, FileRead};
//! use sealtrail::{Log, SecretKey, SessionId};
//! use sealtrail::registry::Role;
//!
//! let owner = SecretKey::generate("example.com/agent-log")?;
//! let recorder = SecretKey::generate("harness")?;
//! let log = Log::in_memory(&owner, "example.com/agent-log")?;
//! log.register_key(&owner, recorder.key_id(), Role::Recorder, "build harness")?;
//!
//! let session = SessionId::new("s-1")?;
//! let read = Event::FileRead(FileRead {
//!     path: "src/report/mod.rs".into(),
//!     digest: content_digest(log.suite(), b"pub mod pdf;\n"),
//!     reason: Some("find the renderer entry point".into()),
//! });
//! let receipt = log.append(&recorder, read.to_record()?.session(&session))?;
//! let back = log.read(receipt.seq)?.unwrap();
//! assert_eq!(Event::decode(&back.header().kind, back.payload.data().unwrap())?, read);
//! # Ok(()) }
//! ```

pub mod json;

use std::fmt;

use ciborium::value::Value;
use serde::{Deserialize, Serialize};

use crate::approval::wire;
pub use crate::approval::{
    Approval, ApprovalProblem, Gate, Meaning, Namespaced, Subjects, Verdict,
};
use crate::codec::{DecodeError, EncodeError, from_canonical, to_canonical};
use crate::entry::{Kind, Link};
use crate::hash::{Digest, Suite};
use crate::log::Record;

/// The digest of content kept outside the log: `H(content)` under the log's suite, with no
/// domain tag (SPEC §13.1).
pub fn content_digest(suite: Suite, content: &[u8]) -> Digest {
    Digest(suite.hash(&[content]))
}

/// `session_started`: the goal, the declared scope and the agent (SPEC §13.4).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionStarted {
    /// What the developer asked for.
    pub objective: String,
    /// Path patterns the session may touch (SPEC §13.8); empty means everything not excluded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scope: Vec<String>,
    /// Path patterns the session must not touch, even inside the scope.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclusions: Vec<String>,
    /// Names of the verification checks that must pass before the work counts as done.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_checks: Vec<String>,
    /// The commit the work starts from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_commit: Option<String>,
    /// `gen_ai.agent.name`.
    pub agent_name: String,
    /// `gen_ai.agent.version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_version: Option<String>,
    /// `gen_ai.agent.id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// A replay (SPEC §13.13): the `session_started` entry of the session this one replays.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "wire::opt_link"
    )]
    pub replay_of: Option<Link>,
    /// A replay's overrides, each `KEY=VALUE` (e.g. `model=claude-sonnet-4`), in the order given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<String>,
    /// Tags naming the kind of prompt or task (e.g. `refactor`, `new-feature`), for analytics
    /// by prompt pattern (SPEC §13.16).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

/// `context_loaded`: a document or other context given to the agent, and why.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContextLoaded {
    /// Where it came from: a path, URL or name.
    pub source: String,
    /// Digest of the content loaded.
    #[serde(with = "wire::digest")]
    pub digest: Digest,
    /// Why it was loaded.
    pub reason: String,
    /// `gen_ai.data_source.id`, when the context came from a data source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_source_id: Option<String>,
}

/// `file_read`: a file the agent read.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRead {
    /// The path, relative to the repository root, `/`-separated.
    pub path: String,
    /// Digest of the content read.
    #[serde(with = "wire::digest")]
    pub digest: Digest,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A cost in millionths of a currency unit (no floats in the profile).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cost {
    /// ISO 4217 code: three upper-case ASCII letters, e.g. `USD`.
    pub currency: String,
    /// Millionths of one unit: 0.0123 USD is 12300.
    pub micros: u64,
}

/// `model_call`: one request to a model and its response, by digest.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelCall {
    /// `gen_ai.provider.name`, e.g. `anthropic`, `openai`.
    pub provider: String,
    /// `gen_ai.request.model`.
    pub request_model: String,
    /// `gen_ai.response.model`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_model: Option<String>,
    /// `gen_ai.response.id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_id: Option<String>,
    /// `gen_ai.response.finish_reasons`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finish_reasons: Vec<String>,
    /// `gen_ai.usage.input_tokens` (including cached tokens).
    pub input_tokens: u64,
    /// `gen_ai.usage.output_tokens` (including reasoning tokens).
    pub output_tokens: u64,
    /// `gen_ai.usage.cache_read.input_tokens`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_input_tokens: Option<u64>,
    /// `gen_ai.usage.cache_creation.input_tokens`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_tokens: Option<u64>,
    /// `gen_ai.usage.reasoning.output_tokens`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_output_tokens: Option<u64>,
    /// `gen_ai.request.temperature` × 1000, rounded to the nearest integer (0.2 is 200).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature_milli: Option<u64>,
    /// `gen_ai.request.seed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    /// What the call cost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<Cost>,
    /// Digest of the request as sent (messages, system prompt, tool definitions).
    #[serde(with = "wire::digest")]
    pub prompt_digest: Digest,
    /// Digest of the response as received.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "wire::opt_digest"
    )]
    pub response_digest: Option<Digest>,
    /// Wall time of the call, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// What the call was for, in a few words (e.g. `analyse code`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// The request as sent, when the operator keeps content (its digest is `prompt_digest`).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "serde_bytes")]
    pub prompt: Option<Vec<u8>>,
    /// The response as received, when the operator keeps content (its digest is
    /// `response_digest`, which is then required).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "serde_bytes")]
    pub response: Option<Vec<u8>>,
}

/// How a tool call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ToolOutcome {
    /// The tool returned a result.
    Ok,
    /// The tool failed.
    Error,
}

/// `tool_call`: one tool invocation, arguments and result by digest.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolCall {
    /// `gen_ai.tool.name`.
    pub name: String,
    /// `gen_ai.tool.call.id`.
    pub call_id: String,
    /// `gen_ai.tool.type`: `function`, `extension` or `datastore`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_type: Option<String>,
    /// Digest of the arguments as sent.
    #[serde(with = "wire::digest")]
    pub arguments_digest: Digest,
    /// Digest of the result as received.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "wire::opt_digest"
    )]
    pub result_digest: Option<Digest>,
    /// How it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<ToolOutcome>,
    /// Wall time, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// Files the call read or wrote, relative to the repository root (for the scope query).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
    /// The arguments as sent, when the operator keeps content (their digest is
    /// `arguments_digest`).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "serde_bytes")]
    pub arguments: Option<Vec<u8>>,
    /// The result as received, when the operator keeps content (its digest is `result_digest`,
    /// which is then required).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "serde_bytes")]
    pub result: Option<Vec<u8>>,
}

/// `command_run`: a command the agent ran and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandRun {
    /// The command line.
    pub command: String,
    /// The exit code; absent if the process was killed or never exited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    /// Wall time, in milliseconds.
    pub duration_ms: u64,
    /// Digest of standard output.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "wire::opt_digest"
    )]
    pub stdout_digest: Option<Digest>,
    /// Digest of standard error.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "wire::opt_digest"
    )]
    pub stderr_digest: Option<Digest>,
    /// The working directory, relative to the repository root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
}

/// `failure_seen`: a failure the agent noticed, with what it thinks caused it. Links name the
/// command run or tool call that failed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailureSeen {
    /// The error as seen.
    pub error: String,
    /// The command that failed, if it was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// The agent's diagnosis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspected_cause: Option<String>,
}

/// An option a decision did not take, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alternative {
    /// The option.
    pub option: String,
    /// Why it was rejected.
    pub reason: String,
}

/// `decision`: a choice between options. The records that informed it are the entry's causal
/// links.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// The question decided.
    pub question: String,
    /// The option chosen.
    pub chosen: String,
    /// The options rejected, each with its reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rejected: Vec<Alternative>,
    /// Why the chosen option.
    pub rationale: String,
}

/// `assumption`: something the agent took to be true without checking.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assumption {
    /// The assumption.
    pub statement: String,
    /// What it rests on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis: Option<String>,
}

/// `correction`: the developer redirected the agent. It points at the entry whose course it
/// corrects, which is also one of its links (SPEC §13.6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Correction {
    /// The entry corrected.
    #[serde(with = "wire::link")]
    pub corrects: Link,
    /// What the developer redirected, e.g. "do not add a dependency on the PDF crate".
    pub redirected: String,
    /// The new direction, if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instruction: Option<String>,
}

/// `supersession`: an entry is replaced by a newer version of the same record. Both are links;
/// the superseded entry stays readable (SPEC §13.6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Supersession {
    /// Why.
    pub reason: String,
    /// The older version.
    #[serde(with = "wire::link")]
    pub supersedes: Link,
    /// The newer version: a later entry of the same kind.
    #[serde(with = "wire::link")]
    pub replacement: Link,
}

/// `artifact`: something the session produced, by digest — a patchset, a test report, a
/// design note, the receipt of an external action.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Artifact {
    /// What it is: `patchset`, `test_result`, `design`, `pull_request`, … (`[a-z][a-z0-9_]*`).
    #[serde(rename = "type")]
    pub artifact_type: String,
    /// A name for people: a file name, a title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Where it lives, for artifacts outside the repository (e.g. the pull request's URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// Digest of its bytes: its fingerprint.
    #[serde(with = "wire::digest")]
    pub digest: Digest,
    /// Size in bytes.
    pub size: u64,
    /// Files it changes (for patchsets), relative to the repository root.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
    /// Media type, e.g. `text/x-diff`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
}

/// How a verification check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Outcome {
    /// It ran and passed.
    Pass,
    /// It ran and failed.
    Fail,
    /// It did not run; `reason` says why.
    NotRun,
}

impl Outcome {
    /// The outcome as written in payloads.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::NotRun => "not_run",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Whether a check must pass for the work to count as done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Requirement {
    /// It must pass.
    Required,
    /// It is informative.
    Optional,
}

impl Requirement {
    /// The requirement as written in payloads.
    pub fn as_str(self) -> &'static str {
        match self {
            Requirement::Required => "required",
            Requirement::Optional => "optional",
        }
    }
}

/// `verification`: the result of one check (maps onto `gen_ai.evaluation.name` /
/// `gen_ai.evaluation.score.label`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Verification {
    /// The check's name, e.g. `cargo test`; re-runs use the same name.
    pub check: String,
    /// Why it did not run, or anything else worth knowing about the outcome. Required when the
    /// outcome is `not_run`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Tests (or items) that passed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passed: Option<u64>,
    /// Tests (or items) that failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<u64>,
    /// The command that ran the check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// How it ended.
    pub outcome: Outcome,
    /// Wall time, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// Whether it must pass.
    pub requirement: Requirement,
    /// Digest of the evidence (e.g. the test report).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "wire::opt_digest"
    )]
    pub evidence_digest: Option<Digest>,
}

impl Verification {
    /// A check that ran, with its outcome.
    pub fn ran(check: &str, outcome: Outcome, requirement: Requirement) -> Verification {
        Verification {
            check: check.to_owned(),
            reason: None,
            passed: None,
            failed: None,
            command: None,
            outcome,
            duration_ms: None,
            requirement,
            evidence_digest: None,
        }
    }

    /// A check that did not run, and why.
    pub fn not_run(check: &str, reason: &str, requirement: Requirement) -> Verification {
        Verification {
            reason: Some(reason.to_owned()),
            ..Verification::ran(check, Outcome::NotRun, requirement)
        }
    }
}

/// `gate_requested`: the agent stops at a gate and asks for approval of its subjects, which are
/// also the entry's links.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateRequested {
    /// The gate.
    pub gate: Gate,
    /// What the agent asks the approver to look at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Entries to approve.
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "wire::links")]
    pub entries: Vec<Link>,
    /// Artifacts to approve, by digest.
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "wire::digests")]
    pub artifacts: Vec<Digest>,
}

/// Where a session's work stands at a handoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum HandoffStatus {
    /// Done and ready for a person to review.
    ReadyForReview,
    /// Cannot go on; see the blockers.
    Blocked,
    /// Partly done; see the next action.
    InProgress,
    /// Done; nothing left to review.
    Done,
}

impl HandoffStatus {
    /// The status as written in payloads.
    pub fn as_str(self) -> &'static str {
        match self {
            HandoffStatus::ReadyForReview => "ready_for_review",
            HandoffStatus::Blocked => "blocked",
            HandoffStatus::InProgress => "in_progress",
            HandoffStatus::Done => "done",
        }
    }
}

/// `handoff`: what the agent leaves for the next person or agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Handoff {
    /// Where the work stands.
    pub status: HandoffStatus,
    /// A short account of the work.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// What stops the work from going on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blockers: Vec<String>,
    /// Risks a reviewer should look at.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub open_risks: Vec<String>,
    /// What should happen next.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_action: Option<String>,
}

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SessionStatus {
    /// The agent finished the objective.
    Completed,
    /// The agent gave up or crashed.
    Failed,
    /// The developer stopped the session.
    Abandoned,
    /// The work was handed to someone else.
    HandedOff,
}

impl SessionStatus {
    /// The status as written in payloads.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Completed => "completed",
            SessionStatus::Failed => "failed",
            SessionStatus::Abandoned => "abandoned",
            SessionStatus::HandedOff => "handed_off",
        }
    }
}

/// `session_ended`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionEnded {
    /// How it ended.
    pub status: SessionStatus,
    /// A closing note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
}

/// `custom`: an event outside this vocabulary, with a namespaced type and any CBOR body in the
/// profile. A decoded body holds its map keys in canonical order (SPEC §3.1), whatever order
/// they were given in before encoding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Custom {
    /// The event's type, `<namespace>/<name>`.
    #[serde(rename = "type")]
    pub custom_type: Namespaced,
    /// The body.
    pub body: Value,
}

/// `gap`: an event that could not be recorded, and why (SPEC §13.4.19). A recorder writes it in
/// place of an event it received but could not record — a payload that does not parse, a
/// session it cannot name, a record the log refused — so that the hole in the record is itself
/// on the record. The event itself is not in the log.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gap {
    /// The event not recorded, by its source's name (for Claude Code, the hook event name), when
    /// known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// Why it was not recorded.
    pub reason: String,
    /// What was recording, e.g. `claude-code`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Bytes of the input received, when it was read whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_size: Option<u64>,
    /// Digest of the input received (`H(bytes)` under the log's suite), when it was read whole.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "wire::opt_digest"
    )]
    pub input_digest: Option<Digest>,
}

/// A change: a commit, a pull request or a patchset, named by at least one of them (SPEC
/// §13.4.20).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeRef {
    /// A pull or merge request, e.g. `https://git.example.com/app/pull/42` or `!42`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pr: Option<String>,
    /// A commit id (40 or 64 lower-case hex digits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// A patchset, by the digest of its `artifact`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "wire::opt_digest"
    )]
    pub patchset: Option<Digest>,
}

/// A reviewer's verdict on a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ReviewVerdict {
    /// The change may be merged.
    Approve,
    /// The change must change first.
    RequestChanges,
    /// Comments only.
    Comment,
}

/// An item of the review checklist (SPEC §13.4.20).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ChecklistItem {
    /// Does the change introduce a dependency (justified, or to be removed)?
    NewDependency,
    /// Do the tests fail without the change (run on the parent commit)?
    TestsFailWithoutChange,
    /// Does it touch error handling?
    ErrorHandling,
    /// Does it cross a security boundary (senior review required)?
    SecurityBoundary,
}

/// An answer to a checklist item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Answer {
    /// Yes.
    Yes,
    /// No.
    No,
    /// The item does not apply.
    NotApplicable,
}

/// One answered checklist item, with the entries that show it (e.g. the `command_run` on the
/// parent commit whose failure shows the tests fail without the change).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChecklistAnswer {
    /// The item.
    pub item: ChecklistItem,
    /// The answer.
    pub answer: Answer,
    /// A note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Evidence: earlier entries, sorted by sequence number, each also a link of the entry.
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "wire::links")]
    pub evidence: Vec<Link>,
}

/// `review`: a person's review of a change, signed by their own (approver) key (SPEC §13.4.20).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Review {
    /// The change reviewed.
    pub change: ChangeRef,
    /// The verdict.
    pub verdict: ReviewVerdict,
    /// The checklist, one answer per item at most, in the order of [`ChecklistItem`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checklist: Vec<ChecklistAnswer>,
    /// A comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The entries under review (the session's patchset artifact, say), sorted by sequence
    /// number, each also a link: no entry a review links may be the reviewer's own work.
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "wire::links")]
    pub entries: Vec<Link>,
}

/// `merge`: a person merged a change (SPEC §13.4.21).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Merge {
    /// The change merged.
    pub change: ChangeRef,
    /// Where: the target branch, e.g. `main`.
    pub into: String,
    /// The repository, e.g. its URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// The merge commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_commit: Option<String>,
    /// The paths the change touches, as the person merging states them (e.g. from
    /// `git diff --name-only`): what a review policy is judged on (SPEC §13.14).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
}

/// `incident`: something broke, and what is implicated (SPEC §13.4.22).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Incident {
    /// The incident's id in the organisation's tracker, e.g. `INC-2041`.
    pub id: String,
    /// Its severity, e.g. `sev2`.
    pub severity: String,
    /// When it was detected: nanoseconds since the Unix epoch, UTC (it is usually earlier than
    /// the entry's own time).
    pub detected_at: u64,
    /// What happened.
    pub description: String,
    /// Commits implicated.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commits: Vec<String>,
    /// Sessions implicated.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sessions: Vec<String>,
}

/// `incident_resolved`: an incident is closed (SPEC §13.4.23).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentResolved {
    /// The incident's id, as in its `incident` entry.
    pub id: String,
    /// How it was resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<String>,
    /// The commits that fixed it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fix_commits: Vec<String>,
}

/// One session event (SPEC §13.4). Each variant is one entry kind.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// `session_started`.
    SessionStarted(SessionStarted),
    /// `context_loaded`.
    ContextLoaded(ContextLoaded),
    /// `file_read`.
    FileRead(FileRead),
    /// `model_call`.
    ModelCall(ModelCall),
    /// `tool_call`.
    ToolCall(ToolCall),
    /// `command_run`.
    CommandRun(CommandRun),
    /// `failure_seen`.
    FailureSeen(FailureSeen),
    /// `decision`.
    Decision(Decision),
    /// `assumption`.
    Assumption(Assumption),
    /// `correction`.
    Correction(Correction),
    /// `supersession`.
    Supersession(Supersession),
    /// `artifact`.
    Artifact(Artifact),
    /// `verification`.
    Verification(Verification),
    /// `gate_requested`.
    GateRequested(GateRequested),
    /// `approval` (signed by an approver key, SPEC §13.5).
    Approval(Approval),
    /// `handoff`.
    Handoff(Handoff),
    /// `session_ended`.
    SessionEnded(SessionEnded),
    /// `custom`.
    Custom(Custom),
    /// `gap`: an event that could not be recorded.
    Gap(Gap),
    /// `review` (signed by an approver key).
    Review(Review),
    /// `merge` (signed by an approver key).
    Merge(Merge),
    /// `incident`.
    Incident(Incident),
    /// `incident_resolved`.
    IncidentResolved(IncidentResolved),
}

/// Every kind of the vocabulary, in SPEC order.
pub const KINDS: [&str; 23] = [
    "session_started",
    "context_loaded",
    "file_read",
    "model_call",
    "tool_call",
    "command_run",
    "failure_seen",
    "decision",
    "assumption",
    "correction",
    "supersession",
    "artifact",
    "verification",
    "gate_requested",
    "approval",
    "handoff",
    "session_ended",
    "custom",
    "gap",
    "review",
    "merge",
    "incident",
    "incident_resolved",
];

/// Why an event could not be turned into a record.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    /// A field breaks a rule of SPEC §13.
    #[error("`{kind}` field `{field}`: {reason}")]
    Invalid {
        /// The event's kind.
        kind: &'static str,
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// The approval breaks a rule of SPEC §13.5.
    #[error(transparent)]
    Approval(#[from] ApprovalProblem),
    /// The payload cannot be encoded in the canonical profile (e.g. a float in a custom body).
    #[error("`{kind}` payload: {source}")]
    Encode {
        /// The event's kind.
        kind: &'static str,
        /// Why.
        source: EncodeError,
    },
}

/// Why a payload is not the event its kind says.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EventDecodeError {
    /// The kind is not in the vocabulary of SPEC §13.
    #[error("`{0}` is not a session event kind")]
    UnknownKind(String),
    /// The payload is not canonical CBOR in the event's shape (unknown fields, `null` for an
    /// absent field, wrong types, …).
    #[error("`{kind}` payload does not decode: {source}")]
    Payload {
        /// The kind.
        kind: &'static str,
        /// Why.
        source: DecodeError,
    },
    /// A field breaks a rule of SPEC §13.
    #[error("`{kind}` field `{field}`: {reason}")]
    Invalid {
        /// The kind.
        kind: &'static str,
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// The approval breaks a rule of SPEC §13.5.
    #[error(transparent)]
    Approval(ApprovalProblem),
}

// A rule broken: (field, reason).
type Broken = (&'static str, &'static str);

fn required(field: &'static str, v: &str) -> Result<(), Broken> {
    if v.trim().is_empty() {
        Err((field, "must not be empty"))
    } else {
        Ok(())
    }
}

impl Event {
    /// The entry kind as text.
    pub fn kind_str(&self) -> &'static str {
        match self {
            Event::SessionStarted(_) => "session_started",
            Event::ContextLoaded(_) => "context_loaded",
            Event::FileRead(_) => "file_read",
            Event::ModelCall(_) => "model_call",
            Event::ToolCall(_) => "tool_call",
            Event::CommandRun(_) => "command_run",
            Event::FailureSeen(_) => "failure_seen",
            Event::Decision(_) => "decision",
            Event::Assumption(_) => "assumption",
            Event::Correction(_) => "correction",
            Event::Supersession(_) => "supersession",
            Event::Artifact(_) => "artifact",
            Event::Verification(_) => "verification",
            Event::GateRequested(_) => "gate_requested",
            Event::Approval(_) => "approval",
            Event::Handoff(_) => "handoff",
            Event::SessionEnded(_) => "session_ended",
            Event::Custom(_) => "custom",
            Event::Gap(_) => "gap",
            Event::Review(_) => "review",
            Event::Merge(_) => "merge",
            Event::Incident(_) => "incident",
            Event::IncidentResolved(_) => "incident_resolved",
        }
    }

    /// The entry kind.
    pub fn kind(&self) -> Kind {
        Kind::new(self.kind_str()).expect("the vocabulary's kinds are valid")
    }

    /// Entries the payload names, which must also be the entry's causal links (SPEC §13.1):
    /// approval and gate subjects, the entry a correction corrects, both sides of a supersession.
    pub fn references(&self) -> Vec<Link> {
        match self {
            Event::Approval(a) => a.entries().to_vec(),
            Event::GateRequested(g) => g.entries.clone(),
            Event::Correction(c) => vec![c.corrects],
            Event::Supersession(s) => vec![s.supersedes, s.replacement],
            Event::SessionStarted(s) => s.replay_of.into_iter().collect(),
            Event::Review(r) => {
                let mut all: Vec<Link> = r
                    .checklist
                    .iter()
                    .flat_map(|c| c.evidence.iter().copied())
                    .chain(r.entries.iter().copied())
                    .collect();
                all.sort();
                all.dedup();
                all
            }
            _ => Vec::new(),
        }
    }

    /// The first entry the payload names that is not among `links` (with the same hash).
    pub fn unlinked_reference(&self, links: &[Link]) -> Option<Link> {
        self.references().into_iter().find(|r| !links.contains(r))
    }

    /// The canonical payload bytes (after checking the rules of SPEC §13).
    pub fn encode(&self) -> Result<Vec<u8>, EventError> {
        let kind = self.kind_str();
        self.check()
            .map_err(|(field, reason)| EventError::Invalid {
                kind,
                field,
                reason,
            })?;
        let bytes = match self {
            Event::SessionStarted(e) => to_canonical(e),
            Event::ContextLoaded(e) => to_canonical(e),
            Event::FileRead(e) => to_canonical(e),
            Event::ModelCall(e) => to_canonical(e),
            Event::ToolCall(e) => to_canonical(e),
            Event::CommandRun(e) => to_canonical(e),
            Event::FailureSeen(e) => to_canonical(e),
            Event::Decision(e) => to_canonical(e),
            Event::Assumption(e) => to_canonical(e),
            Event::Correction(e) => to_canonical(e),
            Event::Supersession(e) => to_canonical(e),
            Event::Artifact(e) => to_canonical(e),
            Event::Verification(e) => to_canonical(e),
            Event::GateRequested(e) => to_canonical(e),
            Event::Approval(e) => e.encode(),
            Event::Handoff(e) => to_canonical(e),
            Event::SessionEnded(e) => to_canonical(e),
            Event::Custom(e) => to_canonical(e),
            Event::Gap(e) => to_canonical(e),
            Event::Review(e) => to_canonical(e),
            Event::Merge(e) => to_canonical(e),
            Event::Incident(e) => to_canonical(e),
            Event::IncidentResolved(e) => to_canonical(e),
        };
        bytes.map_err(|source| EventError::Encode { kind, source })
    }

    /// A record of this event, with its references as causal links. Add the session and any
    /// further links (the records that informed it) before appending.
    pub fn to_record(&self) -> Result<Record, EventError> {
        let payload = self.encode()?;
        Ok(Record::new(self.kind(), payload).links(self.references()))
    }

    /// Strictly decodes the payload of an entry of `kind` (SPEC §13): canonical bytes only,
    /// unknown fields rejected, every rule checked.
    pub fn decode(kind: &Kind, payload: &[u8]) -> Result<Event, EventDecodeError> {
        fn de<T: Serialize + serde::de::DeserializeOwned>(
            kind: &'static str,
            payload: &[u8],
        ) -> Result<T, EventDecodeError> {
            from_canonical(payload).map_err(|source| EventDecodeError::Payload { kind, source })
        }
        let k = KINDS
            .iter()
            .find(|k| **k == kind.as_str())
            .copied()
            .ok_or_else(|| EventDecodeError::UnknownKind(kind.as_str().to_owned()))?;
        let event = match k {
            "session_started" => Event::SessionStarted(de(k, payload)?),
            "context_loaded" => Event::ContextLoaded(de(k, payload)?),
            "file_read" => Event::FileRead(de(k, payload)?),
            "model_call" => Event::ModelCall(de(k, payload)?),
            "tool_call" => Event::ToolCall(de(k, payload)?),
            "command_run" => Event::CommandRun(de(k, payload)?),
            "failure_seen" => Event::FailureSeen(de(k, payload)?),
            "decision" => Event::Decision(de(k, payload)?),
            "assumption" => Event::Assumption(de(k, payload)?),
            "correction" => Event::Correction(de(k, payload)?),
            "supersession" => Event::Supersession(de(k, payload)?),
            "artifact" => Event::Artifact(de(k, payload)?),
            "verification" => Event::Verification(de(k, payload)?),
            "gate_requested" => Event::GateRequested(de(k, payload)?),
            "approval" => {
                Event::Approval(Approval::decode(payload).map_err(EventDecodeError::Approval)?)
            }
            "handoff" => Event::Handoff(de(k, payload)?),
            "session_ended" => Event::SessionEnded(de(k, payload)?),
            "gap" => Event::Gap(de(k, payload)?),
            "review" => Event::Review(de(k, payload)?),
            "merge" => Event::Merge(de(k, payload)?),
            "incident" => Event::Incident(de(k, payload)?),
            "incident_resolved" => Event::IncidentResolved(de(k, payload)?),
            _ => Event::Custom(de(k, payload)?),
        };
        event
            .check()
            .map_err(|(field, reason)| EventDecodeError::Invalid {
                kind: k,
                field,
                reason,
            })?;
        Ok(event)
    }

    /// The first kept content (SPEC §13.4.4, §13.4.5) whose digest under `suite` is not the
    /// digest the payload gives for it, by field name: a reader that uses kept content checks
    /// it first.
    pub fn content_mismatch(&self, suite: Suite) -> Option<&'static str> {
        let differs = |content: &Option<Vec<u8>>, digest: Option<&Digest>| {
            content
                .as_ref()
                .is_some_and(|c| digest != Some(&content_digest(suite, c)))
        };
        match self {
            Event::ModelCall(m) if differs(&m.prompt, Some(&m.prompt_digest)) => Some("prompt"),
            Event::ModelCall(m) if differs(&m.response, m.response_digest.as_ref()) => {
                Some("response")
            }
            Event::ToolCall(t) if differs(&t.arguments, Some(&t.arguments_digest)) => {
                Some("arguments")
            }
            Event::ToolCall(t) if differs(&t.result, t.result_digest.as_ref()) => Some("result"),
            _ => None,
        }
    }

    // The rules of SPEC §13.4 beyond the payload's shape.
    fn check(&self) -> Result<(), Broken> {
        match self {
            Event::SessionStarted(e) => {
                required("objective", &e.objective)?;
                required("agent_name", &e.agent_name)?;
                for p in e.scope.iter().chain(&e.exclusions) {
                    required("scope", p)?;
                }
                for o in &e.overrides {
                    if o.split_once('=').is_none_or(|(k, _)| k.trim().is_empty()) {
                        return Err(("overrides", "each override is KEY=VALUE"));
                    }
                }
                for t in &e.tags {
                    required("tags", t)?;
                }
            }
            Event::ContextLoaded(e) => {
                required("source", &e.source)?;
                required("reason", &e.reason)?;
            }
            Event::FileRead(e) => required("path", &e.path)?,
            Event::ModelCall(e) => {
                required("provider", &e.provider)?;
                required("request_model", &e.request_model)?;
                if let Some(c) = &e.cost {
                    if c.currency.len() != 3 || !c.currency.bytes().all(|b| b.is_ascii_uppercase())
                    {
                        return Err(("cost", "currency must be three upper-case letters"));
                    }
                }
                if e.response.is_some() && e.response_digest.is_none() {
                    return Err((
                        "response",
                        "kept response content needs its response_digest",
                    ));
                }
            }
            Event::ToolCall(e) => {
                required("name", &e.name)?;
                required("call_id", &e.call_id)?;
                if e.result.is_some() && e.result_digest.is_none() {
                    return Err(("result", "kept result content needs its result_digest"));
                }
            }
            Event::CommandRun(e) => required("command", &e.command)?,
            Event::FailureSeen(e) => required("error", &e.error)?,
            Event::Decision(e) => {
                required("question", &e.question)?;
                required("chosen", &e.chosen)?;
                required("rationale", &e.rationale)?;
                for r in &e.rejected {
                    required("rejected", &r.option)?;
                    required("rejected", &r.reason)?;
                }
            }
            Event::Assumption(e) => required("statement", &e.statement)?,
            Event::Correction(e) => required("redirected", &e.redirected)?,
            Event::Supersession(e) => {
                required("reason", &e.reason)?;
                if e.replacement.seq <= e.supersedes.seq {
                    return Err(("replacement", "must be a later entry than `supersedes`"));
                }
            }
            Event::Artifact(e) => {
                let t = e.artifact_type.as_bytes();
                if t.is_empty()
                    || t.len() > 64
                    || !t[0].is_ascii_lowercase()
                    || !t
                        .iter()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
                {
                    return Err(("type", "must be 1 to 64 characters of [a-z][a-z0-9_]*"));
                }
            }
            Event::Verification(e) => {
                required("check", &e.check)?;
                if e.outcome == Outcome::NotRun && e.reason.as_deref().is_none_or(str::is_empty) {
                    return Err(("reason", "a check that did not run must say why"));
                }
            }
            Event::GateRequested(e) => {
                if e.entries.is_empty() && e.artifacts.is_empty() {
                    return Err(("entries", "a gate request must name entries or artifacts"));
                }
                if e.entries.windows(2).any(|w| w[0].seq >= w[1].seq) {
                    return Err(("entries", "must be sorted by seq without repeats"));
                }
                if e.artifacts.windows(2).any(|w| w[0] >= w[1]) {
                    return Err(("artifacts", "must be sorted without repeats"));
                }
            }
            Event::Gap(e) => required("reason", &e.reason)?,
            Event::Review(e) => {
                e.change.check()?;
                if e.entries.windows(2).any(|w| w[0].seq >= w[1].seq) {
                    return Err(("entries", "must be sorted by seq without repeats"));
                }
                if e.checklist.windows(2).any(|w| w[0].item >= w[1].item) {
                    return Err(("checklist", "one answer per item, in the items' order"));
                }
                for c in &e.checklist {
                    if c.evidence.windows(2).any(|w| w[0].seq >= w[1].seq) {
                        return Err((
                            "checklist",
                            "evidence must be sorted by seq without repeats",
                        ));
                    }
                }
            }
            Event::Merge(e) => {
                e.change.check()?;
                required("into", &e.into)?;
                if let Some(c) = &e.merge_commit {
                    commit_id("merge_commit", c)?;
                }
                for p in &e.paths {
                    required("paths", p)?;
                }
            }
            Event::Incident(e) => {
                required("id", &e.id)?;
                required("severity", &e.severity)?;
                required("description", &e.description)?;
                for c in &e.commits {
                    commit_id("commits", c)?;
                }
                for s in &e.sessions {
                    required("sessions", s)?;
                }
            }
            Event::IncidentResolved(e) => {
                required("id", &e.id)?;
                for c in &e.fix_commits {
                    commit_id("fix_commits", c)?;
                }
            }
            Event::Approval(_) | Event::Handoff(_) | Event::SessionEnded(_) | Event::Custom(_) => {}
        }
        Ok(())
    }
}

// A git commit id: 40 (SHA-1) or 64 (SHA-256) lower-case hex digits.
fn commit_id(field: &'static str, id: &str) -> Result<(), Broken> {
    if matches!(id.len(), 40 | 64) && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(())
    } else {
        Err((field, "a commit id is 40 or 64 lower-case hex digits"))
    }
}

impl ChangeRef {
    fn check(&self) -> Result<(), Broken> {
        if self.pr.is_none() && self.commit.is_none() && self.patchset.is_none() {
            return Err(("change", "name a commit, a pull request or a patchset"));
        }
        if let Some(pr) = &self.pr {
            required("change", pr)?;
        }
        if let Some(c) = &self.commit {
            commit_id("change", c)?;
        }
        Ok(())
    }
}

impl Custom {
    /// A `custom` event of a namespaced type (`example.com/deploy`) whose body is any serde value
    /// in the profile (no floats): `Custom::new("example.com/deploy", &("prod", 42))`.
    pub fn new<T: Serialize + ?Sized>(custom_type: &str, body: &T) -> Result<Custom, EventError> {
        let custom_type = Namespaced::new(custom_type).map_err(|_| EventError::Invalid {
            kind: "custom",
            field: "type",
            reason: "must be <namespace>/<name> (SPEC §13.1)",
        })?;
        let encoded = to_canonical(body).map_err(|source| EventError::Encode {
            kind: "custom",
            source,
        })?;
        let body = crate::codec::decode_value(&encoded).map_err(|_| EventError::Invalid {
            kind: "custom",
            field: "body",
            reason: "does not decode in the canonical profile",
        })?;
        Ok(Custom { custom_type, body })
    }
}

impl GateRequested {
    /// A request for approval of `subjects` at `gate`.
    pub fn new(gate: Gate, subjects: &Subjects) -> GateRequested {
        GateRequested {
            gate,
            summary: None,
            entries: subjects.entry_links().to_vec(),
            artifacts: subjects.artifact_digests().to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{decode_value, encode_value};

    fn gap_kind() -> Kind {
        Kind::new("gap").unwrap()
    }

    fn full_gap() -> Gap {
        Gap {
            event: Some("PreToolUse".into()),
            reason: "hook payload is not valid JSON".into(),
            source: Some("claude-code".into()),
            input_size: Some(9),
            input_digest: Some(content_digest(Suite::Blake3, b"{not json")),
        }
    }

    #[test]
    fn gap_round_trips_with_its_fields_in_canonical_order() {
        let minimal = Gap {
            reason: "the log refused the record".into(),
            ..Gap::default()
        };
        for gap in [full_gap(), minimal] {
            let event = Event::Gap(gap);
            assert_eq!(event.kind().as_str(), "gap");
            let bytes = event.encode().unwrap();
            assert_eq!(Event::decode(&gap_kind(), &bytes).unwrap(), event);
            // Absent optional fields are omitted, never null.
            let Value::Map(pairs) = decode_value(&bytes).unwrap() else {
                panic!("a gap is a map")
            };
            assert!(pairs.iter().all(|(_, v)| !v.is_null()));
        }
        let Value::Map(pairs) = decode_value(&Event::Gap(full_gap()).encode().unwrap()).unwrap()
        else {
            panic!("a gap is a map")
        };
        let keys: Vec<&str> = pairs.iter().map(|(k, _)| k.as_text().unwrap()).collect();
        assert_eq!(
            keys,
            ["event", "reason", "source", "input_size", "input_digest"]
        );
    }

    // The full gap's payload with one more member, or with one member replaced.
    fn gap_with(key: &str, value: Value) -> Vec<u8> {
        let Value::Map(mut pairs) =
            decode_value(&Event::Gap(full_gap()).encode().unwrap()).unwrap()
        else {
            panic!("a gap is a map")
        };
        pairs.retain(|(k, _)| k.as_text() != Some(key));
        pairs.push((Value::Text(key.into()), value));
        // Re-encoding puts the keys in canonical order.
        encode_value(&Value::Map(pairs)).unwrap()
    }

    #[test]
    fn gap_rejects_unknown_fields_nulls_and_an_empty_reason() {
        let unknown = gap_with("payload", Value::Text("the prompt".into()));
        assert!(matches!(
            Event::decode(&gap_kind(), &unknown),
            Err(EventDecodeError::Payload { kind: "gap", .. })
        ));
        let null = gap_with("event", Value::Null);
        assert!(matches!(
            Event::decode(&gap_kind(), &null),
            Err(EventDecodeError::Payload { kind: "gap", .. })
        ));
        let short = gap_with("input_digest", Value::Bytes(vec![1; 31]));
        assert!(Event::decode(&gap_kind(), &short).is_err());
        let negative = gap_with("input_size", Value::Integer((-1).into()));
        assert!(Event::decode(&gap_kind(), &negative).is_err());
        let blank = gap_with("reason", Value::Text(" \n".into()));
        assert_eq!(
            Event::decode(&gap_kind(), &blank),
            Err(EventDecodeError::Invalid {
                kind: "gap",
                field: "reason",
                reason: "must not be empty"
            })
        );
        let no_reason = Event::Gap(Gap::default());
        assert!(matches!(
            no_reason.encode(),
            Err(EventError::Invalid {
                kind: "gap",
                field: "reason",
                ..
            })
        ));
    }
}
