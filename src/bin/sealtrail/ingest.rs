//! `ingest claude-code`: one Claude Code hook payload into the log.
//!
//! Every payload is kept as a `custom` entry of type `claude-code/<hook_name>` (the hook record),
//! so nothing Claude Code sends is dropped; the typed events derived from it follow, each linking
//! the hook record (and a tool call its `PreToolUse` record).

use std::io::Read;
use std::time::Duration;

use anyhow::{Result, anyhow};
use ciborium::value::Value;
use sealtrail::approval::{Gate, Namespaced};
use sealtrail::event::{
    CommandRun, ContextLoaded, Custom, Event, FailureSeen, FileRead, GateRequested, Handoff,
    HandoffStatus, SessionEnded, SessionStarted, SessionStatus, ToolCall, ToolOutcome,
    content_digest,
};
use sealtrail::{Digest, Link, Log, Receipt, SecretKey, SessionId, Suite, Timestamp};
use serde_json::{Map, Value as Json};

use crate::cli::IngestArgs;
use crate::common::{Status, invalid, is_invalid, load_secret, open_log_waiting, refused};

/// The largest hook payload read (tool output can be large; it is kept by digest).
const MAX_PAYLOAD: u64 = 64 * 1024 * 1024;
/// How many of the log's latest entries are searched for a tool call's `PreToolUse` record.
const PAIR_WINDOW: u64 = 1024;
/// Strings up to this many bytes, on one line, are kept inline in the hook record.
const MAX_INLINE: usize = 256;
/// Members whose content is kept by digest whatever its size: what the developer, the model or
/// a tool said.
const CONTENT: [&str; 8] = [
    "prompt",
    "tool_input",
    "tool_response",
    "error",
    "error_message",
    "last_assistant_message",
    "message",
    "custom_instructions",
];
/// The failure text kept inline in `failure_seen` (the whole text is in the tool call, by
/// digest).
const MAX_ERROR: usize = 500;

/// `sealtrail ingest claude-code`.
pub fn claude_code(a: &IngestArgs) -> Result<Status> {
    let mut raw = Vec::new();
    std::io::stdin()
        .lock()
        .take(MAX_PAYLOAD + 1)
        .read_to_end(&mut raw)
        .map_err(|e| anyhow!("stdin: cannot read: {e}"))?;
    if raw.len() as u64 > MAX_PAYLOAD {
        return Err(invalid(format!(
            "stdin: hook payload longer than {} MiB",
            MAX_PAYLOAD >> 20
        )));
    }
    let value: Json =
        serde_json::from_slice(&raw).map_err(|e| invalid(format!("stdin: not valid JSON: {e}")))?;
    let obj = value.as_object().ok_or_else(|| {
        invalid("stdin: expected a JSON object (a Claude Code hook payload)".to_owned())
    })?;
    let hook = text(obj, "hook_event_name")?;
    let session = SessionId::new(text(obj, "session_id")?)
        .map_err(|e| invalid(format!("stdin: field session_id: {e}")))?;
    match record(a, obj, &raw, hook, &session) {
        // Claude Code keeps working after a Stop hook that exits 2; never let a log that
        // cannot be written do that.
        Err(e) if matches!(hook, "Stop" | "SessionEnd") && !is_invalid(&e) => {
            Err(invalid(format!("{e:#}")))
        }
        other => other,
    }
}

fn text<'a>(obj: &'a Map<String, Json>, field: &str) -> Result<&'a str> {
    match obj.get(field) {
        Some(Json::String(s)) if !s.is_empty() => Ok(s),
        Some(Json::String(_)) | None | Some(Json::Null) => {
            Err(invalid(format!("stdin: field {field}: missing")))
        }
        Some(_) => Err(invalid(format!("stdin: field {field}: expected a string"))),
    }
}

fn str_of(v: Option<&Json>) -> Option<&str> {
    v.and_then(Json::as_str)
}

/// Compact JSON with object members sorted by key, bytewise: the bytes a JSON value's digest
/// is taken over (whatever order Claude Code wrote the members in).
pub fn sorted_json(v: &Json) -> String {
    match v {
        Json::Object(o) => {
            let mut members: Vec<_> = o.iter().collect();
            members.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            let inner: Vec<String> = members
                .into_iter()
                .map(|(k, x)| format!("{}:{}", Json::String(k.clone()), sorted_json(x)))
                .collect();
            format!("{{{}}}", inner.join(","))
        }
        Json::Array(items) => format!(
            "[{}]",
            items.iter().map(sorted_json).collect::<Vec<_>>().join(",")
        ),
        other => other.to_string(),
    }
}

/// The digest of a member: of a string's UTF-8 bytes, of anything else's [`sorted_json`].
fn digest_of(suite: Suite, v: &Json) -> (Digest, usize, &'static str) {
    match v {
        Json::String(s) => (content_digest(suite, s.as_bytes()), s.len(), "utf8"),
        other => {
            let j = sorted_json(other);
            (content_digest(suite, j.as_bytes()), j.len(), "json")
        }
    }
}

fn by_digest(suite: Suite, v: &Json) -> Value {
    let (d, size, form) = digest_of(suite, v);
    Value::Map(vec![
        (Value::Text("digest".into()), Value::Bytes(d.0.to_vec())),
        (Value::Text("form".into()), Value::Text(form.into())),
        (Value::Text("size".into()), Value::Integer(size.into())),
    ])
}

// A member as kept in the hook record: inline when it is a scalar or a short one-line string
// and not content; by digest otherwise.
fn kept(suite: Suite, name: &str, v: &Json) -> Value {
    if CONTENT.contains(&name) {
        return by_digest(suite, v);
    }
    match v {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => Value::Integer(u.into()),
            (None, Some(i)) => Value::Integer(i.into()),
            // Floats are outside the canonical profile: kept as their JSON text.
            _ => Value::Text(n.to_string()),
        },
        Json::String(s) if s.len() <= MAX_INLINE && !s.chars().any(char::is_control) => {
            Value::Text(s.clone())
        }
        other => by_digest(suite, other),
    }
}

/// `claude-code/<hook_name>`: the hook's name in snake case (PreToolUse → pre_tool_use), made to
/// fit SPEC §13.1.
pub fn hook_type(hook: &str) -> Namespaced {
    let mut name = String::new();
    for c in hook.chars() {
        if c.is_ascii_uppercase() {
            if !name.is_empty() && !name.ends_with('_') {
                name.push('_');
            }
            name.push(c.to_ascii_lowercase());
        } else if c.is_ascii_lowercase() || c.is_ascii_digit() {
            name.push(c);
        } else if !name.is_empty() && !name.ends_with('_') {
            name.push('_');
        }
    }
    let mut name = name.trim_end_matches('_').to_owned();
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        name.insert_str(0, "hook_");
    }
    name.truncate(100);
    let name = name.trim_end_matches('_');
    Namespaced::new(&format!("claude-code/{name}"))
        .unwrap_or_else(|_| Namespaced::new("claude-code/hook").expect("a valid name"))
}

fn hook_record(suite: Suite, obj: &Map<String, Json>, raw: &[u8], hook: &str) -> Event {
    let fields = obj
        .iter()
        .filter(|(k, _)| *k != "session_id" && *k != "hook_event_name")
        .map(|(k, v)| (Value::Text(k.clone()), kept(suite, k, v)))
        .collect();
    Event::Custom(Custom {
        custom_type: hook_type(hook),
        body: Value::Map(vec![
            (
                Value::Text("hook_event_name".into()),
                Value::Text(hook.into()),
            ),
            (
                Value::Text("payload_digest".into()),
                Value::Bytes(content_digest(suite, raw).0.to_vec()),
            ),
            (
                Value::Text("payload_size".into()),
                Value::Integer(raw.len().into()),
            ),
            (Value::Text("fields".into()), Value::Map(fields)),
        ]),
    })
}

struct Recorder<'a> {
    log: Log,
    key: SecretKey,
    key_file: &'a std::path::Path,
    session: &'a SessionId,
}

impl Recorder<'_> {
    fn put(&self, event: Event, links: &[Link]) -> Result<Receipt> {
        let record = event
            .to_record()
            .map_err(|e| invalid(e.to_string()))?
            .session(self.session)
            .links(links.iter().copied());
        self.log
            .append(&self.key, record)
            .map_err(|e| refused(self.key_file, e))
    }

    // The PreToolUse record of a tool call, among the latest entries of the session.
    fn pre_tool_use(&self, call_id: &str) -> Option<(Link, Timestamp)> {
        let len = self.log.len();
        let entries: Vec<_> = self
            .log
            .range(len.saturating_sub(PAIR_WINDOW)..len)
            .collect::<Result<_, _>>()
            .ok()?;
        let want = hook_type("PreToolUse");
        entries.iter().rev().find_map(|e| {
            let h = e.header();
            if h.session != *self.session || h.kind.as_str() != "custom" {
                return None;
            }
            let Ok(Event::Custom(c)) = Event::decode(&h.kind, e.payload.data()?) else {
                return None;
            };
            let id = get(get(&c.body, "fields")?, "tool_use_id")?;
            (c.custom_type == want && id.as_text() == Some(call_id)).then_some((
                Link {
                    seq: e.seq(),
                    hash: e.hash,
                },
                h.time,
            ))
        })
    }
}

fn get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.as_map()?
        .iter()
        .find(|(k, _)| k.as_text() == Some(key))
        .map(|(_, x)| x)
}

fn record(
    a: &IngestArgs,
    obj: &Map<String, Json>,
    raw: &[u8],
    hook: &str,
    session: &SessionId,
) -> Result<Status> {
    let log = open_log_waiting(&a.log, Duration::from_secs(a.wait))?;
    let key = load_secret(&a.key)?;
    let suite = log.suite();
    let now = Timestamp::now();
    let r = Recorder {
        log,
        key,
        key_file: &a.key,
        session,
    };
    let h = r.put(hook_record(suite, obj, raw, hook), &[])?.link();
    match hook {
        "SessionStart" => {
            let source = str_of(obj.get("source")).unwrap_or("startup");
            // A resumed or compacted session keeps its id: it started earlier.
            if !matches!(source, "resume" | "compact") {
                r.put(
                    Event::SessionStarted(SessionStarted {
                        objective: format!(
                            "Claude Code session ({source}); the developer's requests follow \
                             as prompts"
                        ),
                        agent_name: "claude-code".into(),
                        ..SessionStarted::default()
                    }),
                    &[h],
                )?;
            }
        }
        "UserPromptSubmit" => {
            if let Some(p) = obj.get("prompt") {
                r.put(
                    Event::ContextLoaded(ContextLoaded {
                        source: "Claude Code user prompt".into(),
                        digest: digest_of(suite, p).0,
                        reason: "prompt submitted by the developer".into(),
                        data_source_id: None,
                    }),
                    &[h],
                )?;
            }
        }
        "PermissionRequest" => {
            let tool = str_of(obj.get("tool_name")).unwrap_or("a tool");
            let input = obj.get("tool_input").unwrap_or(&Json::Null);
            let command = str_of(input.get("command")).unwrap_or("");
            let gate = match tool {
                "Write" | "Edit" | "MultiEdit" | "NotebookEdit" => Gate::FileWrite,
                "Bash" if command.contains("gh pr create") => Gate::PrCreate,
                _ => Gate::Custom(Namespaced::new("claude-code/tool_use").expect("valid")),
            };
            r.put(
                Event::GateRequested(GateRequested {
                    gate,
                    summary: Some(format!("Claude Code asks permission to use {tool}")),
                    entries: vec![h],
                    artifacts: vec![digest_of(suite, input).0],
                }),
                &[h],
            )?;
        }
        "PostToolUse" | "PostToolUseFailure" => {
            tool_events(&r, obj, hook == "PostToolUseFailure", h, now, suite)?;
        }
        "Stop" => {
            r.put(
                Event::Handoff(Handoff {
                    status: HandoffStatus::ReadyForReview,
                    summary: Some(
                        "Claude Code finished its turn and handed back to the developer".into(),
                    ),
                    blockers: Vec::new(),
                    open_risks: Vec::new(),
                    next_action: None,
                }),
                &[h],
            )?;
        }
        "SessionEnd" => {
            let reason = str_of(obj.get("reason")).unwrap_or("not given");
            r.put(
                Event::SessionEnded(SessionEnded {
                    status: SessionStatus::Completed,
                    summary: Some(format!(
                        "Claude Code session ended (reason: {reason}); Claude Code does not say \
                         whether the objective was met"
                    )),
                }),
                &[h],
            )?;
        }
        // Every other hook event is kept as its hook record alone.
        _ => {}
    }
    Ok(Status::Ok)
}

// A file path from a tool's input, relative to the session's working directory when inside it.
fn tool_path(input: &Json, cwd: Option<&str>) -> Option<String> {
    let p = str_of(input.get("file_path")).or_else(|| str_of(input.get("notebook_path")))?;
    let rel = cwd
        .map(|c| c.trim_end_matches('/'))
        .filter(|c| !c.is_empty())
        .and_then(|c| p.strip_prefix(c))
        .and_then(|r| r.strip_prefix('/'));
    Some(rel.unwrap_or(p).to_owned())
}

// "Command exited with non-zero status code 1", "Exit code 2": the number after "code".
fn exit_code_in(error: &str) -> Option<i64> {
    let lower = error.to_ascii_lowercase();
    let at = lower
        .find("exit code ")
        .map(|i| i + 10)
        .or_else(|| lower.find("status code ").map(|i| i + "status code ".len()))?;
    let digits: String = lower[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '-')
        .collect();
    digits.parse().ok()
}

fn first_line(s: &str) -> String {
    let line = s
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    if line.chars().count() > MAX_ERROR {
        let mut cut: String = line.chars().take(MAX_ERROR - 1).collect();
        cut.push('…');
        cut
    } else {
        line.to_owned()
    }
}

fn tool_events(
    r: &Recorder<'_>,
    obj: &Map<String, Json>,
    failed: bool,
    h: Link,
    now: Timestamp,
    suite: Suite,
) -> Result<()> {
    // Without a tool name and call id there is no tool call to type; the hook record keeps all.
    let (Some(tool), Some(call_id)) = (
        str_of(obj.get("tool_name")).filter(|s| !s.trim().is_empty()),
        str_of(obj.get("tool_use_id")).filter(|s| !s.trim().is_empty()),
    ) else {
        return Ok(());
    };
    let input = obj.get("tool_input").unwrap_or(&Json::Null);
    let response = obj.get("tool_response");
    let error = obj.get("error").or_else(|| obj.get("error_message"));
    let interrupted = obj.get("is_interrupt").and_then(Json::as_bool) == Some(true)
        || response
            .and_then(|x| x.get("interrupted"))
            .and_then(Json::as_bool)
            == Some(true);
    let pre = r.pre_tool_use(call_id);
    // Measured between the two hooks when Claude Code does not say.
    let duration_ms = obj
        .get("duration_ms")
        .and_then(Json::as_u64)
        .or_else(|| pre.map(|(_, t)| now.as_nanos().saturating_sub(t.as_nanos()) / 1_000_000));
    let path = tool_path(input, str_of(obj.get("cwd")));
    let mut links = vec![h];
    links.extend(pre.map(|(l, _)| l));
    let call = r.put(
        Event::ToolCall(ToolCall {
            name: tool.into(),
            call_id: call_id.into(),
            tool_type: Some(if tool.starts_with("mcp__") {
                "extension".into()
            } else {
                "function".into()
            }),
            arguments_digest: digest_of(suite, input).0,
            result_digest: if failed { error } else { response }.map(|v| digest_of(suite, v).0),
            outcome: Some(if failed {
                ToolOutcome::Error
            } else {
                ToolOutcome::Ok
            }),
            duration_ms,
            paths: path.iter().cloned().collect(),
        }),
        &links,
    )?;
    let mut after_call = vec![call.link()];
    if tool == "Read" && !failed {
        let content = response
            .and_then(|x| x.get("file"))
            .and_then(|f| f.get("content"));
        if let (Some(path), Some(Json::String(content))) = (&path, content) {
            r.put(
                Event::FileRead(FileRead {
                    path: path.clone(),
                    digest: content_digest(suite, content.as_bytes()),
                    reason: None,
                }),
                &[call.link()],
            )?;
        }
    }
    let command = str_of(input.get("command")).filter(|c| !c.trim().is_empty());
    if tool == "Bash" {
        let background = input.get("run_in_background").and_then(Json::as_bool) == Some(true);
        // Claude Code reports a command that exits non-zero as PostToolUseFailure, so a
        // PostToolUse for a command that ran to its end means exit status 0.
        let exit_code = match (failed, interrupted || background) {
            (_, true) => None,
            (false, false) => Some(0),
            (true, false) => str_of(error).and_then(exit_code_in),
        };
        let known = !failed || exit_code.is_some() || interrupted;
        if let (Some(cmd), Some(ms), true) = (command, duration_ms, known) {
            let digest = |name: &str| {
                str_of(response.and_then(|x| x.get(name)))
                    .map(|s| content_digest(suite, s.as_bytes()))
            };
            let run = r.put(
                Event::CommandRun(CommandRun {
                    command: cmd.into(),
                    exit_code,
                    duration_ms: ms,
                    stdout_digest: digest("stdout"),
                    stderr_digest: digest("stderr"),
                    cwd: None,
                }),
                &[call.link()],
            )?;
            after_call.push(run.link());
        }
    }
    if failed {
        let mut text = error
            .map(|e| match e {
                Json::String(s) => first_line(s),
                other => first_line(&other.to_string()),
            })
            .unwrap_or_default();
        if text.is_empty() {
            text = if interrupted {
                "tool call interrupted".into()
            } else {
                "tool call failed".into()
            };
        }
        r.put(
            Event::FailureSeen(FailureSeen {
                error: text,
                command: if tool == "Bash" {
                    command.map(str::to_owned)
                } else {
                    None
                },
                suspected_cause: None,
            }),
            &after_call,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hook_names_become_custom_types() {
        assert_eq!(hook_type("PreToolUse").as_str(), "claude-code/pre_tool_use");
        assert_eq!(
            hook_type("PostToolUseFailure").as_str(),
            "claude-code/post_tool_use_failure"
        );
        assert_eq!(
            hook_type("Notification").as_str(),
            "claude-code/notification"
        );
        assert_eq!(hook_type("9 Lives!").as_str(), "claude-code/hook_9_lives");
        assert_eq!(hook_type("").as_str(), "claude-code/hook");
    }

    #[test]
    fn exit_codes_are_read_from_errors() {
        assert_eq!(
            exit_code_in("Command exited with non-zero status code 1"),
            Some(1)
        );
        assert_eq!(exit_code_in("Exit code 127\ncommand not found"), Some(127));
        assert_eq!(exit_code_in("permission denied"), None);
    }

    #[test]
    fn json_digests_ignore_member_order() {
        let a: Json = serde_json::from_str(r#"{"b":1,"a":{"d":[1,2],"c":"x"}}"#).unwrap();
        assert_eq!(sorted_json(&a), r#"{"a":{"c":"x","d":[1,2]},"b":1}"#);
    }
}
