//! Replay through a harness protocol (SPEC §13.13): the messages sealtrail and an agent harness
//! exchange, one JSON object per line, and the matching of a replay's deterministic steps to the
//! original run's entries by input digest.
//!
//! This module holds no process, file or network code: it parses and writes protocol lines and
//! answers "which original entry had these inputs?". The `sealtrail replay` command drives a
//! harness with it. Nothing on the verification path uses it.
//!
//! ```
//! use sealtrail::replay::{HarnessMessage, StepInput, input_digest, parse_harness_line};
//! use sealtrail::Suite;
//!
//! let line = br#"{"type":"step","id":7,"kind":"command_run","command":"cargo test -p report"}"#;
//! let HarnessMessage::Step(step) = parse_harness_line(line).unwrap() else { unreachable!() };
//! let input = step.input(Suite::Blake3).unwrap();
//! assert_eq!(input, StepInput::Command { command: "cargo test -p report".into(), cwd: None });
//! // The same command after another patch is another input.
//! let before = input_digest(Suite::Blake3, &input, None);
//! let after = input_digest(Suite::Blake3, &input, Some(&sealtrail::Digest([1; 32])));
//! assert_ne!(before, after);
//!
//! let err = parse_harness_line(br#"{"type":"teleport","id":1}"#).unwrap_err();
//! assert_eq!(err.to_string(), "unknown message type \"teleport\"");
//! ```

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::compare::patchset_fingerprint;
use crate::event::{Event, ModelCall, SessionStarted, content_digest};
use crate::hash::{Digest, Suite};
use crate::query::SessionEvent;

/// The protocol's name and version, sent in both `hello` messages.
pub const PROTOCOL: &str = "sealtrail.replay/1";

/// The longest line either side may send, in bytes, newline excluded (1 MiB).
pub const MAX_LINE: usize = 1 << 20;

/// The most content (a file read, a command's standard output) sealtrail returns in one answer;
/// longer content is cut at this many bytes and marked `truncated`.
pub const MAX_CONTENT: usize = 256 * 1024;

/// Tool names whose calls are deterministic (SPEC §13.13): a replay may execute them.
pub const DETERMINISTIC_TOOLS: [&str; 2] = ["apply_patch", "read_file"];

/// Why a protocol line was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The line is longer than [`MAX_LINE`].
    #[error("line longer than {limit} bytes")]
    LineTooLong {
        /// [`MAX_LINE`].
        limit: usize,
    },
    /// The line is not one JSON object.
    #[error("not a JSON object: {reason}")]
    Malformed {
        /// What the JSON parser said.
        reason: String,
    },
    /// `type` is missing or not a string.
    #[error("message has no `type` string")]
    NoType,
    /// `type` names no message of this protocol.
    #[error("unknown message type {0:?}")]
    UnknownMessage(String),
    /// A known message with a missing, unknown or mistyped member.
    #[error("`{message}` message: {reason}")]
    BadMessage {
        /// The message type.
        message: String,
        /// What is wrong, naming the member.
        reason: String,
    },
    /// The harness speaks another protocol version.
    #[error("harness speaks {found:?}, this sealtrail speaks {PROTOCOL:?}")]
    Version {
        /// The version the harness sent.
        found: String,
    },
}

impl ProtocolError {
    /// The short code of the `error` message sent for it (SPEC §13.13).
    pub fn code(&self) -> &'static str {
        match self {
            ProtocolError::LineTooLong { .. } => "line_too_long",
            ProtocolError::Malformed { .. } | ProtocolError::NoType => "malformed",
            ProtocolError::UnknownMessage(_) => "unknown_message",
            ProtocolError::BadMessage { .. } => "bad_message",
            ProtocolError::Version { .. } => "version",
        }
    }
}

/// A message from the harness.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HarnessMessage {
    /// The harness's answer to sealtrail's `hello`: its protocol version and who it is.
    Hello(HarnessHello),
    /// A deterministic step the harness wants to take.
    Step(StepRequest),
    /// A model call the harness made.
    ModelCall(ModelCallReport),
    /// Under `--from-record`: the harness asks for the original run's response.
    ModelRequest(ModelRequest),
    /// Any other event, in the JSON form of SPEC §13.10.
    Record(RecordRequest),
    /// The harness stops at a human gate.
    Gate(GateRequest),
    /// The harness is done.
    End(EndRequest),
}

const HARNESS_TYPES: [&str; 7] = [
    "hello",
    "step",
    "model_call",
    "model_request",
    "record",
    "gate",
    "end",
];

/// `hello` from the harness.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HarnessHello {
    /// Must be [`PROTOCOL`].
    pub protocol: String,
    /// The harness's name (informative).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
}

/// What a deterministic step is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// Run a command line.
    CommandRun,
    /// Read a file.
    FileRead,
    /// Call a tool (a deterministic one may be executed; any may be reused).
    ToolCall,
}

/// `step`: a deterministic step, with the inputs its kind needs.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepRequest {
    /// The harness's number for this request; the answer carries it.
    pub id: u64,
    /// `command_run`, `file_read` or `tool_call`.
    pub kind: Option<StepKind>,
    /// `command_run`: the command line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// `command_run`: the working directory, relative to the work directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// `file_read`: the path, relative to the work directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// `tool_call`: the tool's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `tool_call`: the call id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
    /// `tool_call`: the arguments, as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<String>,
    /// `tool_call`: the files the call reads or writes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
}

/// A step's inputs, from which its input digest is computed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepInput {
    /// A command line in a directory.
    Command {
        /// The command line.
        command: String,
        /// The directory, if not the work directory itself.
        cwd: Option<String>,
    },
    /// A file read.
    FileRead {
        /// The path.
        path: String,
    },
    /// A tool call.
    Tool {
        /// The tool's name.
        name: String,
        /// The digest of its arguments.
        arguments: Digest,
    },
}

impl StepRequest {
    /// The step's inputs, checking that its kind's members are present.
    pub fn input(&self, suite: Suite) -> Result<StepInput, ProtocolError> {
        let bad = |reason: &str| ProtocolError::BadMessage {
            message: "step".into(),
            reason: reason.into(),
        };
        let text = |v: &Option<String>, member: &str| {
            v.clone()
                .filter(|s| !s.trim().is_empty())
                .ok_or_else(|| bad(&format!("member `{member}` is required and not blank")))
        };
        match self.kind {
            None => Err(bad("member `kind` is required")),
            Some(StepKind::CommandRun) => Ok(StepInput::Command {
                command: text(&self.command, "command")?,
                cwd: self.cwd.clone(),
            }),
            Some(StepKind::FileRead) => Ok(StepInput::FileRead {
                path: text(&self.path, "path")?,
            }),
            Some(StepKind::ToolCall) => {
                text(&self.call_id, "call_id")?;
                Ok(StepInput::Tool {
                    name: text(&self.name, "name")?,
                    arguments: content_digest(
                        suite,
                        self.arguments.as_deref().unwrap_or("").as_bytes(),
                    ),
                })
            }
        }
    }
}

/// `model_call`: a call the harness made, with usage, cost and content.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelCallReport {
    /// The harness's number for this message.
    pub id: u64,
    /// `gen_ai.provider.name`.
    pub provider: String,
    /// The model asked for (after overrides).
    pub request_model: String,
    /// The model that answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_model: Option<String>,
    /// `gen_ai.response.id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_id: Option<String>,
    /// `gen_ai.response.finish_reasons`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finish_reasons: Vec<String>,
    /// Input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Cached input tokens read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_input_tokens: Option<u64>,
    /// Cached input tokens written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_tokens: Option<u64>,
    /// Temperature × 1000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature_milli: Option<u64>,
    /// The seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    /// The cost: `{"currency": "USD", "micros": …}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<crate::event::Cost>,
    /// Wall time of the call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// What the call was for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// The request as sent.
    pub prompt: String,
    /// The response as received.
    pub response: String,
}

impl ModelCallReport {
    /// The `model_call` event to record: digests computed from the content with `suite`, the
    /// content kept.
    pub fn to_event(&self, suite: Suite) -> ModelCall {
        ModelCall {
            provider: self.provider.clone(),
            request_model: self.request_model.clone(),
            response_model: self.response_model.clone(),
            response_id: self.response_id.clone(),
            finish_reasons: self.finish_reasons.clone(),
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
            cache_read_input_tokens: self.cache_read_input_tokens,
            cache_creation_input_tokens: self.cache_creation_input_tokens,
            reasoning_output_tokens: None,
            temperature_milli: self.temperature_milli,
            seed: self.seed,
            cost: self.cost.clone(),
            prompt_digest: content_digest(suite, self.prompt.as_bytes()),
            response_digest: Some(content_digest(suite, self.response.as_bytes())),
            duration_ms: self.duration_ms,
            purpose: self.purpose.clone(),
            prompt: Some(self.prompt.as_bytes().to_vec()),
            response: Some(self.response.as_bytes().to_vec()),
        }
    }
}

/// `model_request`: under `--from-record`, the next model call, answered from the original run.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelRequest {
    /// The harness's number for this message.
    pub id: u64,
    /// What the call is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// The request the harness would send: its digest must equal the original call's.
    pub prompt: String,
}

/// `record`: an event the harness reports (a decision, an artifact, a verification…).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordRequest {
    /// The harness's number for this message.
    pub id: u64,
    /// The event in the JSON form of SPEC §13.10 (`kind` and payload fields, optional `links`).
    pub event: Json,
}

/// `gate`: the harness stops before an action that needs a person's approval.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateRequest {
    /// The harness's number for this message.
    pub id: u64,
    /// The gate: `file_write`, `pr_create`, `merge` or a namespaced name.
    pub gate: String,
    /// What is asked, in a line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Digests (64 hex digits) of the content to approve.
    #[serde(default)]
    pub artifacts: Vec<String>,
}

/// `end`: the harness is done.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndRequest {
    /// The harness's number for this message.
    pub id: u64,
    /// `completed`, `failed`, `abandoned` or `handed_off`.
    pub status: String,
    /// In a line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
}

impl HarnessMessage {
    /// The message's `id` (0 for `hello`).
    pub fn id(&self) -> u64 {
        match self {
            HarnessMessage::Hello(_) => 0,
            HarnessMessage::Step(m) => m.id,
            HarnessMessage::ModelCall(m) => m.id,
            HarnessMessage::ModelRequest(m) => m.id,
            HarnessMessage::Record(m) => m.id,
            HarnessMessage::Gate(m) => m.id,
            HarnessMessage::End(m) => m.id,
        }
    }

    /// The message as one line of JSON, newline included.
    pub fn to_line(&self) -> String {
        let mut s = serde_json::to_string(self).unwrap_or_default();
        s.push('\n');
        s
    }
}

/// Parses one line from the harness (without its newline): at most [`MAX_LINE`] bytes, one JSON
/// object, a known `type`, every member known and of its type.
pub fn parse_harness_line(line: &[u8]) -> Result<HarnessMessage, ProtocolError> {
    let value = parse_object(line)?;
    let t = value
        .get("type")
        .and_then(Json::as_str)
        .ok_or(ProtocolError::NoType)?
        .to_owned();
    if !HARNESS_TYPES.contains(&t.as_str()) {
        return Err(ProtocolError::UnknownMessage(t));
    }
    let message: HarnessMessage =
        serde_json::from_value(Json::Object(value)).map_err(|e| ProtocolError::BadMessage {
            message: t.clone(),
            reason: e.to_string(),
        })?;
    if let HarnessMessage::Hello(h) = &message {
        if h.protocol != PROTOCOL {
            return Err(ProtocolError::Version {
                found: h.protocol.clone(),
            });
        }
    }
    Ok(message)
}

fn parse_object(line: &[u8]) -> Result<serde_json::Map<String, Json>, ProtocolError> {
    if line.len() > MAX_LINE {
        return Err(ProtocolError::LineTooLong { limit: MAX_LINE });
    }
    match serde_json::from_slice::<Json>(line) {
        Ok(Json::Object(o)) => Ok(o),
        Ok(_) => Err(ProtocolError::Malformed {
            reason: "expected an object".into(),
        }),
        Err(e) => Err(ProtocolError::Malformed {
            reason: e.to_string(),
        }),
    }
}

/// A message from sealtrail to the harness.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RunnerMessage {
    /// The first line: the protocol, the replay's session and the original's.
    Hello {
        /// [`PROTOCOL`].
        protocol: String,
        /// The replay's session id.
        session: String,
        /// The original session id.
        replay_of: String,
    },
    /// The task, after the harness's `hello`.
    Task(Task),
    /// The answer to a `step`: reused, executed, or refused (below).
    Result(StepAnswer),
    /// A step, model request, gate or record that sealtrail will not perform or answer.
    Refused {
        /// The request's `id`.
        id: u64,
        /// Why, in a sentence.
        reason: String,
    },
    /// The answer to a `model_request`: the original call's response.
    ModelResponse {
        /// The request's `id`.
        id: u64,
        /// The replay's entry recording the reused call.
        entry: u64,
        /// The original call's entry.
        original: u64,
        /// The model that answered originally.
        model: String,
        /// The response content.
        response: String,
    },
    /// The answer to a `model_call` or `record`: the entry written.
    Recorded {
        /// The request's `id`.
        id: u64,
        /// The entry.
        entry: u64,
    },
    /// The answer to a `gate`.
    Gate(GateAnswer),
    /// The answer to `end`: the `session_ended` entry. The harness exits after it.
    Ended {
        /// The request's `id`.
        id: u64,
        /// The entry.
        entry: u64,
    },
    /// A protocol error: sealtrail stops the replay after sending it.
    Error {
        /// `malformed`, `line_too_long`, `unknown_message`, `bad_message`, `version`,
        /// `out_of_order`.
        code: String,
        /// What was wrong, in a sentence.
        message: String,
    },
}

/// The task a replay hands the harness.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Task {
    /// The log's hash suite (`blake3` or `sha256`): content digests the harness names (gate
    /// artifacts) are computed with it.
    pub suite: String,
    /// What the developer asked for.
    pub objective: String,
    /// Path patterns the session may touch.
    pub scope: Vec<String>,
    /// Path patterns it must not touch.
    pub exclusions: Vec<String>,
    /// Checks that must pass.
    pub required_checks: Vec<String>,
    /// The commit the work starts from.
    pub base_commit: Option<String>,
    /// The original agent's name.
    pub agent_name: String,
    /// The original agent's version.
    pub agent_version: Option<String>,
    /// The context the original run loaded, in order.
    pub context: Vec<ContextSource>,
    /// The overrides, key to value (e.g. `model` → `claude-sonnet-4`).
    pub overrides: BTreeMap<String, String>,
    /// Model calls are answered from the original run (`model_request`).
    pub from_record: bool,
    /// Gates wait for a new approval instead of reusing the original.
    pub regate: bool,
    /// Nothing is executed: steps are reused or refused.
    pub no_exec: bool,
}

/// A context source the original run loaded.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ContextSource {
    /// A path, URL or name.
    pub source: String,
    /// Its digest, hex.
    pub digest: String,
    /// Why it was loaded.
    pub reason: String,
}

/// Whether a step's result was reused or executed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// Taken from the original entry with the same input digest.
    Reused,
    /// Executed now.
    Executed,
}

/// The answer to a `step`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StepAnswer {
    /// The request's `id`.
    pub id: u64,
    /// Reused or executed.
    pub status: Option<StepStatus>,
    /// The replay's entry recording the step.
    pub entry: u64,
    /// The original entry reused, if any.
    pub original: Option<u64>,
    /// The step's input digest, hex.
    pub input_digest: String,
    /// `command_run`: the exit code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    /// `command_run`: standard output as text, when executed now (at most [`MAX_CONTENT`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdout: Option<String>,
    /// `file_read` / `tool_call`: the content read or the tool's result, when available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Content was cut at [`MAX_CONTENT`] bytes.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    /// The digest of the file read, the tool's result or standard output, hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// `tool_call`: `ok` or `error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// Why some of the result is missing (e.g. the original kept only a digest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// How a gate was passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GateStatus {
    /// The original approval is reused by reference.
    Reused,
    /// A person approved it during the replay (`--regate`).
    Approved,
    /// A person rejected it during the replay (`--regate`).
    Rejected,
}

/// The answer to a `gate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateAnswer {
    /// The request's `id`.
    pub id: u64,
    /// Reused, approved or rejected.
    pub status: GateStatus,
    /// The replay's `gate_requested` entry.
    pub entry: u64,
    /// The approval entry (the original's when reused).
    pub approval: u64,
    /// Whether the approval covers exactly the artifacts this gate names.
    pub same_artifacts: bool,
}

impl RunnerMessage {
    /// The message as one line of JSON, newline included.
    pub fn to_line(&self) -> String {
        let mut s = serde_json::to_string(self).unwrap_or_default();
        s.push('\n');
        s
    }
}

/// Parses one line from sealtrail (a harness's side of the protocol).
pub fn parse_runner_line(line: &[u8]) -> Result<RunnerMessage, ProtocolError> {
    let value = parse_object(line)?;
    let t = value
        .get("type")
        .and_then(Json::as_str)
        .ok_or(ProtocolError::NoType)?
        .to_owned();
    serde_json::from_value(Json::Object(value)).map_err(|e| {
        if e.to_string().contains("unknown variant") {
            ProtocolError::UnknownMessage(t)
        } else {
            ProtocolError::BadMessage {
                message: t,
                reason: e.to_string(),
            }
        }
    })
}

/// A deterministic step's input digest (SPEC §13.13): `H("sealtrail replay input v1" ‖ 0x00 ‖
/// field₁ ‖ … ‖ fieldₙ)` with the log's suite and no domain tag, each field its length as 8
/// bytes big-endian and then its bytes. The fields are the kind, the kind's inputs (command
/// and working directory; path; tool name and argument digest) and the state: the session's
/// patchset fingerprint so far (SPEC §13.12), or nothing before its first patchset.
pub fn input_digest(suite: Suite, input: &StepInput, state: Option<&Digest>) -> Digest {
    let mut bytes = b"sealtrail replay input v1\0".to_vec();
    let mut field = |f: &[u8]| {
        bytes.extend_from_slice(&(f.len() as u64).to_be_bytes());
        bytes.extend_from_slice(f);
    };
    match input {
        StepInput::Command { command, cwd } => {
            field(b"command_run");
            field(command.as_bytes());
            field(cwd.as_deref().unwrap_or("").as_bytes());
        }
        StepInput::FileRead { path } => {
            field(b"file_read");
            field(path.as_bytes());
        }
        StepInput::Tool { name, arguments } => {
            field(b"tool_call");
            field(name.as_bytes());
            field(arguments.as_bytes());
        }
    }
    field(state.map_or(&[][..], |d| d.as_bytes()));
    content_digest(suite, &bytes)
}

/// The patchset state of a run as it goes: the fingerprint of its patchsets so far.
#[derive(Debug, Clone, Default)]
pub struct PatchState {
    patches: Vec<Digest>,
}

impl PatchState {
    /// Counts an event: a `patchset` artifact changes the state.
    pub fn observe(&mut self, event: &Event) {
        if let Event::Artifact(a) = event {
            if a.artifact_type == "patchset" {
                self.patches.push(a.digest);
            }
        }
    }

    /// The state: the patchset fingerprint so far, `None` before the first patchset.
    pub fn state(&self, suite: Suite) -> Option<Digest> {
        patchset_fingerprint(suite, &self.patches)
    }
}

/// A step of the original run that a replay cannot reproduce from record, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unreplayable {
    /// The original entry.
    pub seq: u64,
    /// Its kind.
    pub kind: String,
    /// Why, in a sentence.
    pub reason: String,
}

/// What the original run recorded, indexed for a replay.
#[derive(Debug, Clone)]
pub struct OriginalRun {
    /// The original's `session_started` entry and payload.
    pub started: (u64, SessionStarted),
    /// The context it loaded.
    pub context: Vec<ContextSource>,
    // Input digest → original entries with it, in log order, each taken once.
    by_input: HashMap<Digest, VecDeque<(u64, Event)>>,
    // The model calls, in log order.
    model_calls: VecDeque<(u64, ModelCall)>,
    // Gate name → approvals (entry, artifacts approved), in log order.
    approvals: HashMap<String, VecDeque<(u64, Vec<Digest>)>>,
    /// Steps that cannot be replayed from record (content kept only as a digest, or content
    /// that does not match its digest), in log order.
    pub unreplayable: Vec<Unreplayable>,
}

/// Why an original run cannot be replayed at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OriginalError {
    /// The session has no readable `session_started`.
    #[error("session has no readable session_started entry")]
    NoStart,
}

impl OriginalRun {
    /// Indexes a session's events (in log order).
    pub fn index(suite: Suite, events: &[SessionEvent]) -> Result<OriginalRun, OriginalError> {
        let mut started = None;
        let mut context = Vec::new();
        let mut by_input: HashMap<Digest, VecDeque<(u64, Event)>> = HashMap::new();
        let mut model_calls = VecDeque::new();
        let mut approvals: HashMap<String, VecDeque<(u64, Vec<Digest>)>> = HashMap::new();
        let mut unreplayable = Vec::new();
        let mut state = PatchState::default();
        for e in events {
            let Some(event) = &e.event else {
                if e.erased || e.payload != crate::source::PayloadState::Present {
                    unreplayable.push(Unreplayable {
                        seq: e.seq,
                        kind: e.kind.as_str().to_owned(),
                        reason: "its payload is erased or withheld".into(),
                    });
                }
                continue;
            };
            let here = state.state(suite);
            let input = match event {
                Event::SessionStarted(s) if started.is_none() => {
                    started = Some((e.seq, s.clone()));
                    None
                }
                Event::ContextLoaded(c) => {
                    context.push(ContextSource {
                        source: c.source.clone(),
                        digest: c.digest.to_hex(),
                        reason: c.reason.clone(),
                    });
                    None
                }
                Event::CommandRun(c) => Some(StepInput::Command {
                    command: c.command.clone(),
                    cwd: c.cwd.clone(),
                }),
                Event::FileRead(f) => Some(StepInput::FileRead {
                    path: f.path.clone(),
                }),
                Event::ToolCall(t) => {
                    if let Some(field) = event.content_mismatch(suite) {
                        unreplayable.push(Unreplayable {
                            seq: e.seq,
                            kind: "tool_call".into(),
                            reason: format!("its kept {field} does not match its digest"),
                        });
                    } else if t.result.is_none() {
                        unreplayable.push(Unreplayable {
                            seq: e.seq,
                            kind: "tool_call".into(),
                            reason: format!(
                                "tool {} kept its result by digest only: a reuse returns no content",
                                t.name
                            ),
                        });
                    }
                    Some(StepInput::Tool {
                        name: t.name.clone(),
                        arguments: t.arguments_digest,
                    })
                }
                Event::ModelCall(m) => {
                    if let Some(field) = event.content_mismatch(suite) {
                        unreplayable.push(Unreplayable {
                            seq: e.seq,
                            kind: "model_call".into(),
                            reason: format!("its kept {field} does not match its digest"),
                        });
                    } else if m.response.is_none() {
                        unreplayable.push(Unreplayable {
                            seq: e.seq,
                            kind: "model_call".into(),
                            reason: "the response was recorded by digest only: \
                                     it cannot be answered from record"
                                .into(),
                        });
                    }
                    model_calls.push_back((e.seq, m.clone()));
                    None
                }
                Event::Approval(a) => {
                    approvals
                        .entry(a.gate().as_str().to_owned())
                        .or_default()
                        .push_back((e.seq, a.artifacts().to_vec()));
                    None
                }
                _ => None,
            };
            if let Some(input) = input {
                by_input
                    .entry(input_digest(suite, &input, here.as_ref()))
                    .or_default()
                    .push_back((e.seq, event.clone()));
            }
            state.observe(event);
        }
        let started = started.ok_or(OriginalError::NoStart)?;
        Ok(OriginalRun {
            started,
            context,
            by_input,
            model_calls,
            approvals,
            unreplayable,
        })
    }

    /// The next original entry with this input digest, taken (a repeated step with the same
    /// inputs matches the next original one).
    pub fn take_step(&mut self, input_digest: &Digest) -> Option<(u64, Event)> {
        self.by_input.get_mut(input_digest)?.pop_front()
    }

    /// The next original model call, taken.
    pub fn take_model_call(&mut self) -> Option<(u64, ModelCall)> {
        self.model_calls.pop_front()
    }

    /// The next original approval of `gate` (its entry, the artifacts it approved), taken.
    pub fn take_approval(&mut self, gate: &str) -> Option<(u64, Vec<Digest>)> {
        self.approvals.get_mut(gate)?.pop_front()
    }
}
