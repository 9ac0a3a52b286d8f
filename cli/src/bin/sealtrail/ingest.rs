//! `ingest claude-code`: one Claude Code hook payload into the log.
//!
//! Every payload is kept as a `custom` entry of type `claude-code/<hook_name>` (the hook record),
//! so nothing Claude Code sends is dropped; the typed events derived from it follow, each linking
//! the hook record (and a tool call its `PreToolUse` record).
//!
//! It fails closed. Whatever stops an event from being recorded — a payload that cannot be read
//! or parsed, a log that cannot be opened or written, a key the log refuses, a bug — ends the
//! same way: a `gap` entry saying what was not recorded and why (when the log can be opened and
//! the key may sign), one line on standard error, and exit 2 (`--on-failure block`: Claude Code
//! blocks the action) or 1 (`allow`). Exit 0 means every record was made and is durable.

use std::io::Read;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Result, anyhow};
use ciborium::value::Value;
use sealtrail::approval::Namespaced;
use sealtrail::event::{Custom, Event, Gap, content_digest};
use sealtrail::log::{AppendError, StoredEntry};
use sealtrail::{Digest, Link, Log, Receipt, Record, SecretKey, SessionId, Suite, Timestamp};
use serde_json::{Map, Value as Json};

use crate::cli::{IngestArgs, OnFailure, Prompts};
use crate::common::{Status, invalid, load_secret, open_log_batched, refused};

mod checks;
mod events;
mod patch;
pub mod settings;
mod spool;

pub use settings::base_command;

/// The largest hook payload read (tool output can be large; it is kept by digest). Reading stops
/// one byte past it: a larger payload is never buffered whole.
const MAX_PAYLOAD: u64 = 64 * 1024 * 1024;
/// The deepest nesting of JSON arrays and objects accepted in a payload. It is checked on the
/// bytes before parsing, and is below serde_json's own recursion limit (128), so a deeper payload
/// is refused here, by name, whatever features the parser was built with; the recursive code
/// after parsing (digests of sorted JSON) then stays shallow.
const MAX_NESTING: usize = 100;
/// The `source` of the gaps this command records.
const SOURCE: &str = "claude-code";
/// The longest reason kept in a gap and printed, in characters.
const MAX_REASON: usize = 1000;
/// Hook events whose action Claude Code holds back on exit 2, or tells Claude about: by default
/// a failure to record them blocks.
const BLOCKING: [&str; 5] = [
    "PreToolUse",
    "UserPromptSubmit",
    "PermissionRequest",
    "PostToolUse",
    "PostToolUseFailure",
];
/// How many of the log's latest entries are searched for a tool call's `PreToolUse` record.
const PAIR_WINDOW: u64 = 1024;
/// How many entries of that window are read at a time, newest first.
const PAIR_CHUNK: u64 = 64;
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
/// The most of a prompt's text kept in its hook record with `--prompts text`, in bytes.
const MAX_PROMPT_TEXT: usize = 256 * 1024;

/// The text of the last panic, kept by the panic hook this command installs.
static PANIC: Mutex<Option<String>> = Mutex::new(None);

/// `sealtrail ingest claude-code`.
pub fn claude_code(a: &IngestArgs) -> Result<Status> {
    if a.print_settings {
        return settings::print(a);
    }
    // A panic is a failure like any other: it must not end the hook with Rust's exit code 101,
    // which Claude Code takes as non-blocking, nor print a backtrace note.
    std::panic::set_hook(Box::new(|info| {
        if let Ok(mut p) = PANIC.lock() {
            *p = Some(info.to_string());
        }
    }));
    let input = read_payload(std::io::stdin().lock(), MAX_PAYLOAD);
    let parsed = input.parse();
    // What the payload says about itself, as far as it can be read: the default mode, the gap's
    // event and session.
    let member = |name: &str| {
        parsed
            .as_ref()
            .ok()
            .and_then(|v| v.get(name))
            .and_then(Json::as_str)
            .filter(|s| !s.is_empty())
    };
    let event = member("hook_event_name");
    let session = member("session_id").and_then(|s| SessionId::new(s).ok());
    let mode = a.on_failure.unwrap_or_else(|| default_mode(event));

    let mut opened = None;
    let failure = match guarded(|| attempt(a, &input, &parsed, &mut opened)) {
        Ok(()) => return Ok(Status::Ok),
        Err(f) => f,
    };
    let gap = match failure.stage {
        // The log cannot be opened, or refused the key: a gap cannot be written either.
        Stage::Unwritable | Stage::KeyRefused => None,
        Stage::Input | Stage::Record | Stage::Internal => Some(guarded(|| {
            if failure.stage == Stage::Internal {
                // The handle may be in any state after a panic: reopen.
                opened = None;
            }
            write_gap(a, &mut opened, &failure, &input, event, session.as_ref())
        })),
    };
    let what = match event.filter(|e| inline(e)) {
        Some(e) => format!("the {e} event"),
        None => "the hook event".to_owned(),
    };
    let verdict = match mode {
        OnFailure::Block => "was not recorded, so it is blocked",
        OnFailure::Allow => "was not recorded",
    };
    let note = match gap {
        Some(Ok(receipt)) => format!("gap recorded as entry {}", receipt.seq),
        Some(Err(f)) => format!("no gap recorded either: {}", f.reason),
        None if failure.recorded.is_some() => "no gap recorded".to_owned(),
        None => "nothing recorded".to_owned(),
    };
    let line = format!("{what} {verdict}: {} ({note})", failure.reason);
    // main prints the line as `error: …`; an invalid-data error exits 1, any other error 2.
    Err(match mode {
        OnFailure::Block => anyhow!(line),
        OnFailure::Allow => invalid(line),
    })
}

/// The mode when `--on-failure` is not given: block the hook events whose action Claude Code
/// holds back (or tells Claude about) on exit 2, and a payload whose hook event cannot be read;
/// allow the others — exit 2 on `Stop` or `SubagentStop` keeps Claude working, and would loop
/// on a broken log, and on `SessionStart`, `SessionEnd` or a notification it blocks nothing.
fn default_mode(event: Option<&str>) -> OnFailure {
    match event {
        None => OnFailure::Block,
        Some(e) if BLOCKING.contains(&e) => OnFailure::Block,
        Some(_) => OnFailure::Allow,
    }
}

/// How far recording got when it failed, which says whether a gap can be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// The payload could not be read, or is not a hook payload; the log was not opened yet.
    Input,
    /// The log cannot be opened, or the key cannot be loaded.
    Unwritable,
    /// The log refused the key (unknown, revoked, or its role may not sign session events).
    KeyRefused,
    /// The log refused or failed a record after it was opened.
    Record,
    /// A bug: recording panicked.
    Internal,
}

/// Why an event was not recorded.
#[derive(Debug)]
struct Failure {
    stage: Stage,
    /// One line, at most [`MAX_REASON`] characters.
    reason: String,
    /// The hook record, when it was recorded before a typed event failed.
    recorded: Option<Link>,
}

impl Failure {
    fn new(stage: Stage, reason: impl AsRef<str>) -> Failure {
        let line: String = reason
            .as_ref()
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let line = line.trim();
        let reason = if line.chars().count() > MAX_REASON {
            let mut cut: String = line.chars().take(MAX_REASON - 1).collect();
            cut.push('…');
            cut
        } else if line.is_empty() {
            "unknown error".to_owned()
        } else {
            line.to_owned()
        };
        Failure {
            stage,
            reason,
            recorded: None,
        }
    }
}

// Runs `f`, turning a panic into a failure.
fn guarded<T>(f: impl FnOnce() -> Result<T, Failure>) -> Result<T, Failure> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        let text = PANIC
            .lock()
            .ok()
            .and_then(|mut p| p.take())
            .unwrap_or_else(|| "a panic".to_owned());
        Err(Failure::new(
            Stage::Internal,
            format!("internal error: {text}"),
        ))
    })
}

/// The payload as read from standard input.
struct Input {
    /// The bytes read; empty when the payload was not read whole.
    bytes: Vec<u8>,
    /// Why the payload was not read whole: a read error, or the cap.
    problem: Option<String>,
}

// Reads at most `cap` + 1 bytes: one more than the cap says the payload is over it.
fn read_payload(r: impl Read, cap: u64) -> Input {
    let mut bytes = Vec::new();
    let problem = match r.take(cap + 1).read_to_end(&mut bytes) {
        Err(e) => Some(format!(
            "cannot read the hook payload from standard input after {} bytes: {e}",
            bytes.len()
        )),
        Ok(n) if n as u64 > cap => Some(format!(
            "the hook payload is more than {} MiB (reading stopped after {n} bytes)",
            cap >> 20
        )),
        Ok(_) => None,
    };
    if problem.is_some() {
        bytes = Vec::new();
    }
    Input { bytes, problem }
}

impl Input {
    fn parse(&self) -> Result<Json, String> {
        if let Some(p) = &self.problem {
            return Err(p.clone());
        }
        if nested_deeper_than(&self.bytes, MAX_NESTING) {
            return Err(format!(
                "the hook payload is nested more than {MAX_NESTING} levels deep"
            ));
        }
        serde_json::from_slice(&self.bytes)
            .map_err(|e| format!("the hook payload is not valid JSON: {e}"))
    }

    /// The size and digest of the payload, when it was read whole.
    fn fingerprint(&self, suite: Suite) -> (Option<u64>, Option<Digest>) {
        if self.problem.is_some() {
            return (None, None);
        }
        (
            Some(self.bytes.len() as u64),
            Some(content_digest(suite, &self.bytes)),
        )
    }
}

/// Whether JSON text nests arrays and objects more than `max` levels deep. Brackets inside
/// strings do not count. Text that is not JSON gets an answer too; the parser then reports what
/// else is wrong with it.
fn nested_deeper_than(bytes: &[u8], max: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in bytes {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

// The object, its hook event name and its session: what every hook payload has.
fn hook_payload(value: &Json) -> Result<(&Map<String, Json>, &str, SessionId), String> {
    let obj = value
        .as_object()
        .ok_or("the hook payload is not a JSON object")?;
    let hook = text(obj, "hook_event_name")?;
    let session = SessionId::new(text(obj, "session_id")?).map_err(|_| {
        "the hook payload's session_id is not a valid session id (at most 128 bytes, no \
         control characters)"
            .to_owned()
    })?;
    Ok((obj, hook, session))
}

fn text<'a>(obj: &'a Map<String, Json>, field: &str) -> Result<&'a str, String> {
    match obj.get(field) {
        Some(Json::String(s)) if !s.is_empty() => Ok(s),
        Some(Json::String(_)) | None | Some(Json::Null) => {
            Err(format!("the hook payload has no {field}"))
        }
        Some(_) => Err(format!("the hook payload's {field} is not a string")),
    }
}

// Whether a string is short and on one line: kept inline in a record.
fn inline(s: &str) -> bool {
    s.len() <= MAX_INLINE && !s.chars().any(char::is_control)
}

/// The log, opened, and the recorder's key.
struct Opened {
    log: Log,
    key: SecretKey,
    key_file: PathBuf,
}

impl Opened {
    fn open(a: &IngestArgs) -> Result<Opened, Failure> {
        let unwritable = |e: anyhow::Error| Failure::new(Stage::Unwritable, format!("{e:#}"));
        // A hook's entries are made durable together by `flush`, before it exits 0.
        let log = open_log_batched(&a.log, Duration::from_secs(a.wait)).map_err(unwritable)?;
        Opened::with(a, log)
    }

    fn with(a: &IngestArgs, log: Log) -> Result<Opened, Failure> {
        let unwritable = |e: anyhow::Error| Failure::new(Stage::Unwritable, format!("{e:#}"));
        let key = load_secret(&a.key).map_err(unwritable)?;
        Ok(Opened {
            log,
            key,
            key_file: a.key.clone(),
        })
    }

    // Makes every entry appended so far durable: one fsync for all of them.
    fn flush(&self) -> Result<(), Failure> {
        self.log.flush().map_err(|e| {
            Failure::new(
                Stage::Record,
                format!("the entries could not be made durable: {e}"),
            )
        })
    }

    fn append(&self, record: Record) -> Result<Receipt, Failure> {
        self.log.append(&self.key, record).map_err(|e| {
            let stage = if matches!(e, AppendError::Signer { .. }) {
                Stage::KeyRefused
            } else {
                Stage::Record
            };
            Failure::new(stage, format!("{:#}", refused(&self.key_file, e)))
        })
    }
}

// Reads the payload and records it: the hook record, then its typed events.
fn attempt(
    a: &IngestArgs,
    input: &Input,
    parsed: &Result<Json, String>,
    opened: &mut Option<Opened>,
) -> Result<(), Failure> {
    let value = parsed
        .as_ref()
        .map_err(|reason| Failure::new(Stage::Input, reason))?;
    let (obj, hook, session) =
        hook_payload(value).map_err(|reason| Failure::new(Stage::Input, reason))?;
    match spool::take_or_hand_over(a, &input.bytes)? {
        spool::Turn::Answered(answer) => answer,
        spool::Turn::Orphaned(log, failure) => {
            *opened = Some(Opened::with(a, log)?);
            Err(failure)
        }
        spool::Turn::Holder(log) => {
            let o = opened.insert(Opened::with(a, log)?);
            let own = record(o, a, obj, &input.bytes, hook, &session);
            // The events other hooks handed over while this one held the log: one fsync for
            // all of them, and each answered only after it.
            let others = spool::drain(o, a);
            let flushed = o.flush();
            spool::answer(others, &flushed);
            own.and(flushed)
        }
    }
}

// Records a `gap` for an event that was not recorded, in its session when the payload names a
// valid one, linking the hook record if that was made.
fn write_gap(
    a: &IngestArgs,
    opened: &mut Option<Opened>,
    failure: &Failure,
    input: &Input,
    event: Option<&str>,
    session: Option<&SessionId>,
) -> Result<Receipt, Failure> {
    let o = match opened {
        Some(o) => o,
        None => opened.insert(Opened::open(a)?),
    };
    let (input_size, input_digest) = input.fingerprint(o.log.suite());
    let gap = Event::Gap(Gap {
        event: event.filter(|e| inline(e)).map(str::to_owned),
        reason: failure.reason.clone(),
        source: Some(SOURCE.to_owned()),
        input_size,
        input_digest,
    });
    let mut record = gap
        .to_record()
        .map_err(|e| Failure::new(Stage::Record, e.to_string()))?
        .links(failure.recorded);
    if let Some(s) = session {
        record = record.session(s);
    }
    let receipt = o.append(record)?;
    o.flush()?;
    Ok(receipt)
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
fn kept(suite: Suite, name: &str, v: &Json, prompts: Prompts) -> Value {
    if let ("prompt", Prompts::Text, Json::String(text)) = (name, prompts, v) {
        return with_text(by_digest(suite, v), text);
    }
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

/// A prompt kept by digest with its text (SPEC §13.11 `--prompts text`): the whole text, or its
/// first [`MAX_PROMPT_TEXT`] bytes (cut at a character boundary; `size` says how long it was).
fn with_text(by_digest: Value, text: &str) -> Value {
    let mut end = text.len().min(MAX_PROMPT_TEXT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    match by_digest {
        Value::Map(mut members) => {
            members.push((
                Value::Text("text".into()),
                Value::Text(text[..end].to_owned()),
            ));
            Value::Map(members)
        }
        other => other,
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

fn hook_record(
    suite: Suite,
    obj: &Map<String, Json>,
    raw: &[u8],
    hook: &str,
    prompts: Prompts,
) -> Event {
    let fields = obj
        .iter()
        .filter(|(k, _)| *k != "session_id" && *k != "hook_event_name")
        .map(|(k, v)| (Value::Text(k.clone()), kept(suite, k, v, prompts)))
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
    o: &'a Opened,
    session: &'a SessionId,
}

impl Recorder<'_> {
    fn put(&self, event: Event, links: &[Link]) -> Result<Receipt, Failure> {
        let record = event
            .to_record()
            .map_err(|e| Failure::new(Stage::Record, e.to_string()))?
            .session(self.session)
            .links(links.iter().copied());
        self.o.append(record)
    }

    // The PreToolUse record of a tool call, among the latest entries of the session: read
    // newest first, PAIR_CHUNK entries at a time, since it is usually a few entries back and
    // every entry read is time the log is held from other hooks.
    fn pre_tool_use(&self, call_id: &str) -> Option<(Link, Timestamp)> {
        let floor = self.o.log.len().saturating_sub(PAIR_WINDOW);
        let mut end = self.o.log.len();
        while end > floor {
            let start = end.saturating_sub(PAIR_CHUNK).max(floor);
            let entries: Vec<_> = self
                .o
                .log
                .range(start..end)
                .collect::<Result<_, _>>()
                .ok()?;
            if let Some(found) = self.pre_tool_use_in(&entries, call_id) {
                return Some(found);
            }
            end = start;
        }
        None
    }

    fn pre_tool_use_in(&self, entries: &[StoredEntry], call_id: &str) -> Option<(Link, Timestamp)> {
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

// The hook record, then the typed events derived from it.
fn record(
    o: &Opened,
    a: &IngestArgs,
    obj: &Map<String, Json>,
    raw: &[u8],
    hook: &str,
    session: &SessionId,
) -> Result<(), Failure> {
    let suite = o.log.suite();
    let now = Timestamp::now();
    let r = Recorder { o, session };
    let h = r
        .put(hook_record(suite, obj, raw, hook, a.prompts), &[])?
        .link();
    events::typed_events(&r, a, obj, hook, h, now).map_err(|f| Failure {
        recorded: Some(h),
        ..Failure::new(
            f.stage,
            format!(
                "the hook record is entry {}, but a typed event was not recorded: {}",
                h.seq, f.reason
            ),
        )
    })
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
    fn nesting_is_measured_outside_strings() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(!nested_deeper_than(
            deep(MAX_NESTING).as_bytes(),
            MAX_NESTING
        ));
        assert!(nested_deeper_than(
            deep(MAX_NESTING + 1).as_bytes(),
            MAX_NESTING
        ));
        // Brackets in strings, escaped quotes included, are text.
        let text = format!(r#"{{"a":"\"{}"}}"#, "[{".repeat(200));
        assert!(!nested_deeper_than(text.as_bytes(), 1));
        // What is not JSON gets a bound too.
        assert!(nested_deeper_than("{{{".as_bytes(), 2));
        // Within the bound, serde_json's own recursion limit is never the one that applies.
        let v: Json = serde_json::from_str(&deep(MAX_NESTING)).unwrap();
        assert!(sorted_json(&v).starts_with("[[["));
        let parsed = read_payload(deep(200).as_bytes(), MAX_PAYLOAD).parse();
        assert_eq!(
            parsed.unwrap_err(),
            "the hook payload is nested more than 100 levels deep"
        );
    }

    #[test]
    fn payloads_are_read_up_to_the_cap() {
        let input = read_payload(&b"12345"[..], 5);
        assert_eq!(input.bytes, b"12345");
        assert!(input.problem.is_none());
        assert_eq!(input.fingerprint(Suite::Blake3).0, Some(5));
        // One byte over: refused, not kept, no fingerprint.
        let endless = std::io::repeat(b'[');
        let input = read_payload(endless, 1 << 20);
        assert!(input.bytes.is_empty());
        assert_eq!(
            input.parse().unwrap_err(),
            "the hook payload is more than 1 MiB (reading stopped after 1048577 bytes)"
        );
        assert_eq!(input.fingerprint(Suite::Blake3), (None, None));
    }

    #[test]
    fn failures_block_the_hooks_whose_action_waits_for_them() {
        for e in BLOCKING {
            assert_eq!(default_mode(Some(e)), OnFailure::Block, "{e}");
        }
        assert_eq!(default_mode(None), OnFailure::Block);
        for e in [
            "Stop",
            "SubagentStop",
            "SessionEnd",
            "SessionStart",
            "Notification",
        ] {
            assert_eq!(default_mode(Some(e)), OnFailure::Allow, "{e}");
        }
    }

    #[test]
    fn reasons_are_one_bounded_line() {
        let f = Failure::new(Stage::Input, "a\nb\r\tc");
        assert_eq!(f.reason, "a b  c");
        let f = Failure::new(Stage::Input, "x".repeat(5000));
        assert_eq!(f.reason.chars().count(), MAX_REASON);
        assert_eq!(Failure::new(Stage::Input, " ").reason, "unknown error");
    }

    #[test]
    fn json_digests_ignore_member_order() {
        let a: Json = serde_json::from_str(r#"{"b":1,"a":{"d":[1,2],"c":"x"}}"#).unwrap();
        assert_eq!(sorted_json(&a), r#"{"a":{"c":"x","d":[1,2]},"b":1}"#);
    }
}
