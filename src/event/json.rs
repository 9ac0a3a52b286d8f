//! The JSON form of session events (SPEC §13.10, informative): what a harness written in any
//! language pipes into `sealtrail append`, one object per line.
//!
//! An object names its event with `kind` and holds the payload fields of SPEC §13.4 by the same
//! names; `session` and `links` are optional. Digests are 64 hexadecimal digits, or
//! `{"text": "…"}` to have the UTF-8 bytes of a text digested with the log's suite. Entry
//! references are a sequence number (the hash is looked up in the log), `[seq, "hash"]` or
//! `{"seq": …, "hash": "…"}`. Every error names the field at fault.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use sealtrail::event::json::{from_json, JsonEventError};
//! use sealtrail::event::Event;
//! use sealtrail::Suite;
//!
//! let line = r#"{"kind":"command_run","command":"cargo test","exit_code":0,"duration_ms":41000}"#;
//! let parsed = from_json(&serde_json::from_str(line)?, Suite::Blake3, &|_| None)?;
//! assert!(matches!(parsed.event, Event::CommandRun(ref c) if c.duration_ms == 41_000));
//!
//! let bad = r#"{"kind":"command_run","command":"cargo test","exit_code":"0","duration_ms":1}"#;
//! let err = from_json(&serde_json::from_str(bad)?, Suite::Blake3, &|_| None).unwrap_err();
//! assert_eq!(err.to_string(), "field exit_code: expected an integer");
//! # Ok(()) }
//! ```

use ciborium::value::Value;
use serde_json::{Map, Value as Json};

use super::{Event, EventDecodeError, KINDS, content_digest};
use crate::approval::ApprovalProblem;
use crate::codec::{MAX_DEPTH, decode_value, encode_value};
use crate::entry::{Kind, Link, SessionId};
use crate::hash::{EntryHash, Suite};

/// Why a JSON object is not a session event. Every variant names the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JsonEventError {
    /// The value is not a JSON object.
    #[error("expected a JSON object with a `kind` member")]
    NotAnObject,
    /// A required field is absent (or `null`).
    #[error("field {field}: missing")]
    Missing {
        /// The field's path, e.g. `duration_ms` or `rejected[0].reason`.
        field: String,
    },
    /// `kind` is not a session event kind.
    #[error("field kind: unknown event kind {kind:?}; the kinds are {}", KINDS.join(", "))]
    UnknownKind {
        /// The kind given.
        kind: String,
    },
    /// A field that the event does not have.
    #[error("field {field}: `{kind}` has no such field (its fields: {expected})")]
    UnknownField {
        /// The field's path.
        field: String,
        /// The event kind (or the nested structure) it was found in.
        kind: &'static str,
        /// The fields it has.
        expected: String,
    },
    /// A field of the wrong JSON type or form.
    #[error("field {field}: expected {expected}")]
    WrongType {
        /// The field's path.
        field: String,
        /// What was expected, e.g. `an integer`.
        expected: &'static str,
    },
    /// An entry reference names no entry of the log.
    #[error("field {field}: no entry {seq} in this log")]
    NoSuchEntry {
        /// The field's path.
        field: String,
        /// The sequence number given.
        seq: u64,
    },
    /// A field breaks a rule of SPEC §13 (an empty text, an unsorted list, a bad name, …).
    #[error("field {field}: {reason}")]
    Invalid {
        /// The field's path.
        field: String,
        /// The rule broken.
        reason: String,
    },
}

/// A session event read from its JSON form, with the envelope members.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonEvent {
    /// The event.
    pub event: Event,
    /// `session`, when the object names one.
    pub session: Option<SessionId>,
    /// `links`: the earlier entries that informed this one (besides the references the payload
    /// makes, which [`Event::to_record`] links by itself).
    pub links: Vec<Link>,
}

// The JSON types of payload fields.
#[derive(Clone, Copy)]
enum Ty {
    Text,
    UInt,
    Int,
    Digest,
    // Kept content (SPEC §13.4.4): hexadecimal, or {"text": …} for the UTF-8 bytes of a text.
    Bytes,
    Ref,
    // Entry references or digests that form a set: sorted and deduplicated, as SPEC §13 wants.
    RefSet,
    DigestSet,
    Enum(&'static [&'static str]),
    List(&'static Ty),
    Obj(&'static str, &'static [F]),
    Any,
}

struct F {
    name: &'static str,
    ty: Ty,
    required: bool,
}

const fn req(name: &'static str, ty: Ty) -> F {
    F {
        name,
        ty,
        required: true,
    }
}

const fn opt(name: &'static str, ty: Ty) -> F {
    F {
        name,
        ty,
        required: false,
    }
}

const TEXTS: Ty = Ty::List(&Ty::Text);
const COST: &[F] = &[req("currency", Ty::Text), req("micros", Ty::UInt)];
const ALTERNATIVE: &[F] = &[req("option", Ty::Text), req("reason", Ty::Text)];
const MEANINGS: &[&str] = &["review", "approval", "responsibility", "authorship"];
const CHANGE: &[F] = &[
    opt("pr", Ty::Text),
    opt("commit", Ty::Text),
    opt("patchset", Ty::Digest),
];
const CHECKLIST_ANSWER: &[F] = &[
    req(
        "item",
        Ty::Enum(&[
            "new_dependency",
            "tests_fail_without_change",
            "error_handling",
            "security_boundary",
        ]),
    ),
    req("answer", Ty::Enum(&["yes", "no", "not_applicable"])),
    opt("note", Ty::Text),
    opt("evidence", Ty::RefSet),
];

// The payload fields of every kind, as in SPEC §13.4 (and src/event.rs).
fn fields(kind: &str) -> Option<&'static [F]> {
    Some(match kind {
        "session_started" => {
            const {
                &[
                    req("objective", Ty::Text),
                    opt("scope", TEXTS),
                    opt("exclusions", TEXTS),
                    opt("required_checks", TEXTS),
                    opt("base_commit", Ty::Text),
                    req("agent_name", Ty::Text),
                    opt("agent_version", Ty::Text),
                    opt("agent_id", Ty::Text),
                    opt("replay_of", Ty::Ref),
                    opt("overrides", TEXTS),
                    opt("tags", TEXTS),
                ]
            }
        }
        "context_loaded" => {
            const {
                &[
                    req("source", Ty::Text),
                    req("digest", Ty::Digest),
                    req("reason", Ty::Text),
                    opt("data_source_id", Ty::Text),
                ]
            }
        }
        "file_read" => {
            const {
                &[
                    req("path", Ty::Text),
                    req("digest", Ty::Digest),
                    opt("reason", Ty::Text),
                ]
            }
        }
        "model_call" => {
            const {
                &[
                    req("provider", Ty::Text),
                    req("request_model", Ty::Text),
                    opt("response_model", Ty::Text),
                    opt("response_id", Ty::Text),
                    opt("finish_reasons", TEXTS),
                    req("input_tokens", Ty::UInt),
                    req("output_tokens", Ty::UInt),
                    opt("cache_read_input_tokens", Ty::UInt),
                    opt("cache_creation_input_tokens", Ty::UInt),
                    opt("reasoning_output_tokens", Ty::UInt),
                    opt("temperature_milli", Ty::UInt),
                    opt("seed", Ty::Int),
                    opt("cost", Ty::Obj("cost", COST)),
                    req("prompt_digest", Ty::Digest),
                    opt("response_digest", Ty::Digest),
                    opt("duration_ms", Ty::UInt),
                    opt("purpose", Ty::Text),
                    opt("prompt", Ty::Bytes),
                    opt("response", Ty::Bytes),
                ]
            }
        }
        "tool_call" => {
            const {
                &[
                    req("name", Ty::Text),
                    req("call_id", Ty::Text),
                    opt("tool_type", Ty::Text),
                    req("arguments_digest", Ty::Digest),
                    opt("result_digest", Ty::Digest),
                    opt("outcome", Ty::Enum(&["ok", "error"])),
                    opt("duration_ms", Ty::UInt),
                    opt("paths", TEXTS),
                    opt("arguments", Ty::Bytes),
                    opt("result", Ty::Bytes),
                ]
            }
        }
        "command_run" => {
            const {
                &[
                    req("command", Ty::Text),
                    opt("exit_code", Ty::Int),
                    req("duration_ms", Ty::UInt),
                    opt("stdout_digest", Ty::Digest),
                    opt("stderr_digest", Ty::Digest),
                    opt("cwd", Ty::Text),
                ]
            }
        }
        "failure_seen" => {
            const {
                &[
                    req("error", Ty::Text),
                    opt("command", Ty::Text),
                    opt("suspected_cause", Ty::Text),
                ]
            }
        }
        "decision" => {
            const {
                &[
                    req("question", Ty::Text),
                    req("chosen", Ty::Text),
                    opt("rejected", Ty::List(&Ty::Obj("alternative", ALTERNATIVE))),
                    req("rationale", Ty::Text),
                ]
            }
        }
        "assumption" => const { &[req("statement", Ty::Text), opt("basis", Ty::Text)] },
        "correction" => {
            const {
                &[
                    req("corrects", Ty::Ref),
                    req("redirected", Ty::Text),
                    opt("instruction", Ty::Text),
                ]
            }
        }
        "supersession" => {
            const {
                &[
                    req("reason", Ty::Text),
                    req("supersedes", Ty::Ref),
                    req("replacement", Ty::Ref),
                ]
            }
        }
        "artifact" => {
            const {
                &[
                    req("type", Ty::Text),
                    opt("name", Ty::Text),
                    opt("uri", Ty::Text),
                    req("digest", Ty::Digest),
                    req("size", Ty::UInt),
                    opt("paths", TEXTS),
                    opt("media_type", Ty::Text),
                ]
            }
        }
        "verification" => {
            const {
                &[
                    req("check", Ty::Text),
                    opt("reason", Ty::Text),
                    opt("passed", Ty::UInt),
                    opt("failed", Ty::UInt),
                    opt("command", Ty::Text),
                    req("outcome", Ty::Enum(&["pass", "fail", "not_run"])),
                    opt("duration_ms", Ty::UInt),
                    req("requirement", Ty::Enum(&["required", "optional"])),
                    opt("evidence_digest", Ty::Digest),
                ]
            }
        }
        "gate_requested" => {
            const {
                &[
                    req("gate", Ty::Text),
                    opt("summary", Ty::Text),
                    opt("entries", Ty::RefSet),
                    opt("artifacts", Ty::DigestSet),
                ]
            }
        }
        "approval" => {
            const {
                &[
                    req("gate", Ty::Text),
                    opt("comment", Ty::Text),
                    opt("entries", Ty::RefSet),
                    req("meaning", Ty::Enum(MEANINGS)),
                    req("decision", Ty::Enum(&["approve", "reject"])),
                    opt("artifacts", Ty::DigestSet),
                    req("signed_at", Ty::UInt),
                ]
            }
        }
        "handoff" => {
            const {
                &[
                    req(
                        "status",
                        Ty::Enum(&["ready_for_review", "blocked", "in_progress", "done"]),
                    ),
                    opt("summary", Ty::Text),
                    opt("blockers", TEXTS),
                    opt("open_risks", TEXTS),
                    opt("next_action", Ty::Text),
                ]
            }
        }
        "session_ended" => {
            const {
                &[
                    req(
                        "status",
                        Ty::Enum(&["completed", "failed", "abandoned", "handed_off"]),
                    ),
                    opt("summary", Ty::Text),
                ]
            }
        }
        "custom" => const { &[req("type", Ty::Text), req("body", Ty::Any)] },
        "gap" => {
            const {
                &[
                    opt("event", Ty::Text),
                    req("reason", Ty::Text),
                    opt("source", Ty::Text),
                    opt("input_size", Ty::UInt),
                    opt("input_digest", Ty::Digest),
                ]
            }
        }
        "review" => {
            const {
                &[
                    req("change", Ty::Obj("change", CHANGE)),
                    req(
                        "verdict",
                        Ty::Enum(&["approve", "request_changes", "comment"]),
                    ),
                    opt("checklist", Ty::List(&Ty::Obj("answer", CHECKLIST_ANSWER))),
                    opt("comment", Ty::Text),
                    opt("entries", Ty::RefSet),
                ]
            }
        }
        "merge" => {
            const {
                &[
                    req("change", Ty::Obj("change", CHANGE)),
                    req("into", Ty::Text),
                    opt("repository", Ty::Text),
                    opt("merge_commit", Ty::Text),
                    opt("paths", TEXTS),
                ]
            }
        }
        "incident" => {
            const {
                &[
                    req("id", Ty::Text),
                    req("severity", Ty::Text),
                    req("detected_at", Ty::UInt),
                    req("description", Ty::Text),
                    opt("commits", TEXTS),
                    opt("sessions", TEXTS),
                ]
            }
        }
        "incident_resolved" => {
            const {
                &[
                    req("id", Ty::Text),
                    opt("resolution", Ty::Text),
                    opt("fix_commits", TEXTS),
                ]
            }
        }
        _ => return None,
    })
}

// Kept content: lower-case or upper-case hexadecimal (as payloads are displayed), or
// {"text": T} for the UTF-8 bytes of T.
fn content_bytes(v: &Json, field: &str) -> Result<Vec<u8>, JsonEventError> {
    const EXPECTED: &str = "content: hexadecimal, or {\"text\": \"…\"} for a text's UTF-8 bytes";
    match v {
        Json::String(s) => hex::decode(s).map_err(|_| wrong(field, EXPECTED)),
        Json::Object(o) if o.len() == 1 => match o.get("text") {
            Some(Json::String(t)) => Ok(t.as_bytes().to_vec()),
            _ => Err(wrong(field, EXPECTED)),
        },
        _ => Err(wrong(field, EXPECTED)),
    }
}

/// The members of a JSON event object that are not payload fields.
pub const ENVELOPE: [&str; 3] = ["kind", "session", "links"];

/// Reads a session event from its JSON form (SPEC §13.10). Digests given as `{"text": …}` are
/// computed with `suite`; entry references given by sequence number alone get their hash from
/// `resolve`, which returns `None` for a position the log does not hold. The event is checked
/// against every rule of SPEC §13 (as [`Event::decode`] does).
pub fn from_json(
    value: &Json,
    suite: Suite,
    resolve: &dyn Fn(u64) -> Option<EntryHash>,
) -> Result<JsonEvent, JsonEventError> {
    let obj = value.as_object().ok_or(JsonEventError::NotAnObject)?;
    let kind = match obj.get("kind") {
        None | Some(Json::Null) => {
            return Err(JsonEventError::Missing {
                field: "kind".into(),
            });
        }
        Some(Json::String(k)) => k.as_str(),
        Some(_) => {
            return Err(JsonEventError::WrongType {
                field: "kind".into(),
                expected: "a string naming the event kind",
            });
        }
    };
    let (kind, schema) = KINDS
        .iter()
        .find(|k| **k == kind)
        .and_then(|k| Some((*k, fields(k)?)))
        .ok_or_else(|| JsonEventError::UnknownKind {
            kind: kind.to_owned(),
        })?;
    let cx = Cx { suite, resolve };
    let payload = cx.object(obj, kind, schema, "", &ENVELOPE, 1)?;
    let bytes = encode_value(&payload).map_err(|e| JsonEventError::Invalid {
        field: kind.into(),
        reason: e.to_string(),
    })?;
    let kind_id = Kind::new(kind).map_err(|e| JsonEventError::Invalid {
        field: "kind".into(),
        reason: e.to_string(),
    })?;
    let event = Event::decode(&kind_id, &bytes).map_err(decode_error)?;
    let session = match obj.get("session") {
        None | Some(Json::Null) => None,
        Some(Json::String(s)) => Some(SessionId::new(s).map_err(|e| JsonEventError::Invalid {
            field: "session".into(),
            reason: e.to_string(),
        })?),
        Some(_) => {
            return Err(JsonEventError::WrongType {
                field: "session".into(),
                expected: "a string",
            });
        }
    };
    let links = match obj.get("links") {
        None | Some(Json::Null) => Vec::new(),
        Some(Json::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| cx.link(item, &format!("links[{i}]")))
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(JsonEventError::WrongType {
                field: "links".into(),
                expected: "an array of entry references",
            });
        }
    };
    Ok(JsonEvent {
        event,
        session,
        links,
    })
}

fn decode_error(e: EventDecodeError) -> JsonEventError {
    match e {
        EventDecodeError::Invalid { field, reason, .. } => JsonEventError::Invalid {
            field: field.into(),
            reason: reason.into(),
        },
        EventDecodeError::Approval(p) => {
            let field = match &p {
                ApprovalProblem::Comment => "comment",
                ApprovalProblem::Unsorted { field } => field,
                _ => "entries",
            };
            JsonEventError::Invalid {
                field: field.into(),
                reason: p.to_string(),
            }
        }
        EventDecodeError::UnknownKind(kind) => JsonEventError::UnknownKind { kind },
        // The object was checked field by field before encoding, so this is a rule the schema
        // above does not know (for example a gate or custom type name).
        EventDecodeError::Payload { kind, source } => JsonEventError::Invalid {
            field: custom_field(kind).into(),
            reason: source.to_string(),
        },
    }
}

// The field whose text is checked only when decoding: the gate, or the custom type.
fn custom_field(kind: &str) -> &'static str {
    match kind {
        "custom" => "type",
        "gate_requested" | "approval" => "gate",
        _ => "kind",
    }
}

struct Cx<'a> {
    suite: Suite,
    resolve: &'a dyn Fn(u64) -> Option<EntryHash>,
}

fn path(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

fn wrong(field: &str, expected: &'static str) -> JsonEventError {
    JsonEventError::WrongType {
        field: field.to_owned(),
        expected,
    }
}

impl Cx<'_> {
    // A JSON object with the fields of `schema` (and, at the top, the envelope members) as a
    // text-keyed CBOR map. Absent optional fields, nulls and empty lists are omitted (SPEC §13.1).
    fn object(
        &self,
        obj: &Map<String, Json>,
        what: &'static str,
        schema: &[F],
        prefix: &str,
        skip: &[&str],
        depth: usize,
    ) -> Result<Value, JsonEventError> {
        if let Some(name) = obj
            .keys()
            .find(|k| !skip.contains(&k.as_str()) && !schema.iter().any(|f| f.name == *k))
        {
            return Err(JsonEventError::UnknownField {
                field: path(prefix, name),
                kind: what,
                expected: schema.iter().map(|f| f.name).collect::<Vec<_>>().join(", "),
            });
        }
        let mut out = Vec::with_capacity(schema.len());
        for f in schema {
            let field = path(prefix, f.name);
            match obj.get(f.name) {
                None | Some(Json::Null) if f.required => {
                    return Err(JsonEventError::Missing { field });
                }
                None | Some(Json::Null) => {}
                Some(v) => {
                    if let Some(cbor) = self.value(v, f.ty, &field, depth + 1)? {
                        out.push((Value::Text(f.name.to_owned()), cbor));
                    } else if f.required {
                        return Err(JsonEventError::Missing { field });
                    }
                }
            }
        }
        Ok(Value::Map(out))
    }

    // One field; `None` when it is an empty list (omitted).
    fn value(
        &self,
        v: &Json,
        ty: Ty,
        field: &str,
        depth: usize,
    ) -> Result<Option<Value>, JsonEventError> {
        if depth > MAX_DEPTH {
            return Err(JsonEventError::Invalid {
                field: field.to_owned(),
                reason: format!("nested more than {MAX_DEPTH} levels deep"),
            });
        }
        Ok(Some(match ty {
            Ty::Text => Value::Text(v.as_str().ok_or_else(|| wrong(field, "a string"))?.into()),
            Ty::UInt => Value::Integer(
                v.as_u64()
                    .ok_or_else(|| wrong(field, "a non-negative integer"))?
                    .into(),
            ),
            Ty::Int => Value::Integer(v.as_i64().ok_or_else(|| wrong(field, "an integer"))?.into()),
            Ty::Digest => Value::Bytes(self.digest(v, field)?.to_vec()),
            Ty::Bytes => Value::Bytes(content_bytes(v, field)?),
            Ty::Ref => link_value(self.link(v, field)?),
            Ty::Enum(allowed) => {
                let s = v.as_str().filter(|s| allowed.contains(s));
                match s {
                    Some(s) => Value::Text(s.to_owned()),
                    None => {
                        return Err(JsonEventError::Invalid {
                            field: field.to_owned(),
                            reason: format!("expected one of {}", allowed.join(", ")),
                        });
                    }
                }
            }
            Ty::List(item) => {
                let items = v.as_array().ok_or_else(|| wrong(field, "an array"))?;
                if items.is_empty() {
                    return Ok(None);
                }
                let mut out = Vec::with_capacity(items.len());
                for (i, x) in items.iter().enumerate() {
                    let f = format!("{field}[{i}]");
                    out.extend(self.value(x, *item, &f, depth + 1)?);
                }
                Value::Array(out)
            }
            Ty::RefSet => {
                let items = v
                    .as_array()
                    .ok_or_else(|| wrong(field, "an array of entry references"))?;
                let mut links = items
                    .iter()
                    .enumerate()
                    .map(|(i, x)| self.link(x, &format!("{field}[{i}]")))
                    .collect::<Result<Vec<_>, _>>()?;
                links.sort();
                links.dedup();
                if links.is_empty() {
                    return Ok(None);
                }
                Value::Array(links.into_iter().map(link_value).collect())
            }
            Ty::DigestSet => {
                let items = v
                    .as_array()
                    .ok_or_else(|| wrong(field, "an array of digests"))?;
                let mut digests = items
                    .iter()
                    .enumerate()
                    .map(|(i, x)| self.digest(x, &format!("{field}[{i}]")))
                    .collect::<Result<Vec<_>, _>>()?;
                digests.sort();
                digests.dedup();
                if digests.is_empty() {
                    return Ok(None);
                }
                Value::Array(
                    digests
                        .into_iter()
                        .map(|d| Value::Bytes(d.to_vec()))
                        .collect(),
                )
            }
            Ty::Obj(what, schema) => {
                let obj = v.as_object().ok_or_else(|| wrong(field, "an object"))?;
                self.object(obj, what, schema, field, &[], depth)?
            }
            Ty::Any => any_value(v, field, depth)?,
        }))
    }

    fn digest(&self, v: &Json, field: &str) -> Result<[u8; 32], JsonEventError> {
        const EXPECTED: &str =
            "a digest: 64 hexadecimal digits, or {\"text\": \"…\"} to digest a text";
        match v {
            Json::String(s) => {
                let mut out = [0u8; 32];
                hex::decode_to_slice(s, &mut out).map_err(|_| wrong(field, EXPECTED))?;
                Ok(out)
            }
            Json::Object(o) if o.len() == 1 => match o.get("text") {
                Some(Json::String(t)) => Ok(content_digest(self.suite, t.as_bytes()).0),
                _ => Err(wrong(field, EXPECTED)),
            },
            _ => Err(wrong(field, EXPECTED)),
        }
    }

    fn link(&self, v: &Json, field: &str) -> Result<Link, JsonEventError> {
        const EXPECTED: &str = "an entry reference: a sequence number, [seq, \"hash\"] or {\"seq\": …, \"hash\": \"…\"}";
        let (seq, hash) = match v {
            Json::Number(n) => (n.as_u64().ok_or_else(|| wrong(field, EXPECTED))?, None),
            Json::Array(a) => match a.as_slice() {
                [s, h] => (
                    s.as_u64().ok_or_else(|| wrong(field, EXPECTED))?,
                    Some(h.as_str().ok_or_else(|| wrong(field, EXPECTED))?),
                ),
                _ => return Err(wrong(field, EXPECTED)),
            },
            Json::Object(o) => {
                if o.keys().any(|k| k != "seq" && k != "hash") {
                    return Err(wrong(field, EXPECTED));
                }
                let seq = o
                    .get("seq")
                    .and_then(Json::as_u64)
                    .ok_or_else(|| wrong(field, EXPECTED))?;
                let hash = match o.get("hash") {
                    None | Some(Json::Null) => None,
                    Some(h) => Some(h.as_str().ok_or_else(|| wrong(field, EXPECTED))?),
                };
                (seq, hash)
            }
            _ => return Err(wrong(field, EXPECTED)),
        };
        let hash = match hash {
            Some(h) => {
                let mut out = [0u8; 32];
                hex::decode_to_slice(h, &mut out)
                    .map_err(|_| wrong(field, "an entry hash of 64 hexadecimal digits"))?;
                EntryHash(out)
            }
            None => (self.resolve)(seq).ok_or_else(|| JsonEventError::NoSuchEntry {
                field: field.to_owned(),
                seq,
            })?,
        };
        Ok(Link { seq, hash })
    }
}

fn link_value(l: Link) -> Value {
    Value::Array(vec![
        Value::Integer(l.seq.into()),
        Value::Bytes(l.hash.0.to_vec()),
    ])
}

// Any JSON value in the canonical profile: no floats, nesting bounded.
fn any_value(v: &Json, field: &str, depth: usize) -> Result<Value, JsonEventError> {
    if depth > MAX_DEPTH {
        return Err(JsonEventError::Invalid {
            field: field.to_owned(),
            reason: format!("nested more than {MAX_DEPTH} levels deep"),
        });
    }
    Ok(match v {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => {
            if let Some(u) = n.as_u64() {
                Value::Integer(u.into())
            } else if let Some(i) = n.as_i64() {
                Value::Integer(i.into())
            } else {
                return Err(JsonEventError::Invalid {
                    field: field.to_owned(),
                    reason: "floating-point numbers are outside the canonical CBOR profile \
                             (SPEC §3.1): use an integer or a string"
                        .into(),
                });
            }
        }
        Json::String(s) => Value::Text(s.clone()),
        Json::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, x)| any_value(x, &format!("{field}[{i}]"), depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Json::Object(o) => Value::Map(
            o.iter()
                .map(|(k, x)| {
                    Ok((
                        Value::Text(k.clone()),
                        any_value(x, &path(field, k), depth + 1)?,
                    ))
                })
                .collect::<Result<_, JsonEventError>>()?,
        ),
    })
}

/// A payload in the canonical profile as JSON: maps become objects (integer keys as decimal
/// text), byte strings lower-case hex, so digests read as in SPEC §13.10 and entry references
/// as `[seq, "hash"]`. The JSON form of an event is this object with its `kind` added; it reads
/// back with [`from_json`], except that byte strings inside a `custom` body come back as text.
pub fn payload_to_json(payload: &[u8]) -> Result<Json, crate::codec::DecodeError> {
    Ok(value_to_json(&decode_value(payload)?))
}

/// A CBOR value as JSON, as [`payload_to_json`] does.
pub fn value_to_json(v: &Value) -> Json {
    match v {
        Value::Integer(i) => {
            let i = i128::from(*i);
            if let Ok(u) = u64::try_from(i) {
                Json::from(u)
            } else if let Ok(s) = i64::try_from(i) {
                Json::from(s)
            } else {
                Json::String(i.to_string())
            }
        }
        Value::Bytes(b) => Json::String(hex::encode(b)),
        Value::Text(t) => Json::String(t.clone()),
        Value::Bool(b) => Json::Bool(*b),
        Value::Null => Json::Null,
        Value::Array(items) => Json::Array(items.iter().map(value_to_json).collect()),
        Value::Map(pairs) => Json::Object(
            pairs
                .iter()
                .map(|(k, v)| {
                    let key = match k {
                        Value::Text(t) => t.clone(),
                        Value::Integer(i) => i128::from(*i).to_string(),
                        other => value_to_json(other).to_string(),
                    };
                    (key, value_to_json(v))
                })
                .collect(),
        ),
        // Not in the profile (floats, tags): shown, never produced by the codec.
        other => Json::String(format!("{other:?}")),
    }
}

/// The JSON form of an event: its payload fields ([`payload_to_json`]) with `kind`.
pub fn event_to_json(event: &Event) -> Result<Json, super::EventError> {
    let bytes = event.encode()?;
    let mut json = payload_to_json(&bytes).unwrap_or(Json::Null);
    if let Json::Object(o) = &mut json {
        o.insert("kind".into(), Json::String(event.kind_str().into()));
    }
    Ok(json)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // The payload schema lives in the serde structs of src/event.rs; the JSON table above only
    // adds each field's JSON form. These two tests make the two agree, kind by kind, so the
    // table cannot drift: a field added to a struct and not to the table (or the other way
    // round), or a kind in KINDS that decodes as another, fails here.

    // The field names serde's derive gives a struct, read by asking it to deserialize from a
    // deserializer that only records what `deserialize_struct` is told.
    fn struct_fields<T: serde::de::DeserializeOwned>() -> Option<&'static [&'static str]> {
        use serde::de::{self, Visitor};
        #[derive(Debug)]
        struct Stop;
        impl std::fmt::Display for Stop {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("stop")
            }
        }
        impl std::error::Error for Stop {}
        impl de::Error for Stop {
            fn custom<M: std::fmt::Display>(_: M) -> Stop {
                Stop
            }
        }
        struct Names<'a>(&'a mut Option<&'static [&'static str]>);
        impl<'de> de::Deserializer<'de> for Names<'_> {
            type Error = Stop;
            fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
                Err(Stop)
            }
            fn deserialize_struct<V: Visitor<'de>>(
                self,
                _: &'static str,
                fields: &'static [&'static str],
                _: V,
            ) -> Result<V::Value, Stop> {
                *self.0 = Some(fields);
                Err(Stop)
            }
            serde::forward_to_deserialize_any! {
                bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
                byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
                identifier ignored_any
            }
        }
        let mut names = None;
        let _ = T::deserialize(Names(&mut names));
        names
    }

    fn serde_fields(kind: &str) -> Option<&'static [&'static str]> {
        use crate::event::*;
        match kind {
            "session_started" => struct_fields::<SessionStarted>(),
            "context_loaded" => struct_fields::<ContextLoaded>(),
            "file_read" => struct_fields::<FileRead>(),
            "model_call" => struct_fields::<ModelCall>(),
            "tool_call" => struct_fields::<ToolCall>(),
            "command_run" => struct_fields::<CommandRun>(),
            "failure_seen" => struct_fields::<FailureSeen>(),
            "decision" => struct_fields::<Decision>(),
            "assumption" => struct_fields::<Assumption>(),
            "correction" => struct_fields::<Correction>(),
            "supersession" => struct_fields::<Supersession>(),
            "artifact" => struct_fields::<Artifact>(),
            "verification" => struct_fields::<Verification>(),
            "gate_requested" => struct_fields::<GateRequested>(),
            "handoff" => struct_fields::<Handoff>(),
            "session_ended" => struct_fields::<SessionEnded>(),
            "custom" => struct_fields::<Custom>(),
            "gap" => struct_fields::<Gap>(),
            "review" => struct_fields::<Review>(),
            "merge" => struct_fields::<Merge>(),
            "incident" => struct_fields::<Incident>(),
            "incident_resolved" => struct_fields::<IncidentResolved>(),
            // The approval's payload is decoded by its own rules (SPEC §13.5): checked by the
            // round trip below.
            _ => None,
        }
    }

    #[test]
    fn the_json_table_names_exactly_the_fields_of_each_payload_struct() {
        for kind in KINDS {
            let table = fields(kind).unwrap_or_else(|| panic!("no JSON fields for `{kind}`"));
            let mut from_table: Vec<&str> = table.iter().map(|f| f.name).collect();
            from_table.sort_unstable();
            let Some(names) = serde_fields(kind) else {
                assert_eq!(kind, "approval");
                continue;
            };
            let mut from_struct = names.to_vec();
            from_struct.sort_unstable();
            assert_eq!(
                from_table, from_struct,
                "`{kind}`: JSON table vs payload struct"
            );
        }
        assert_eq!(
            struct_fields::<super::super::Cost>().map(<[_]>::len),
            Some(COST.len())
        );
        assert_eq!(
            struct_fields::<super::super::Alternative>().map(<[_]>::len),
            Some(ALTERNATIVE.len())
        );
        assert_eq!(
            struct_fields::<super::super::ChangeRef>().map(<[_]>::len),
            Some(CHANGE.len())
        );
        assert_eq!(
            struct_fields::<super::super::ChecklistAnswer>().map(<[_]>::len),
            Some(CHECKLIST_ANSWER.len())
        );
    }

    // A value of each JSON type the table knows, as from_json accepts it.
    fn sample(ty: Ty) -> Json {
        match ty {
            Ty::Text => json!("a"),
            Ty::UInt | Ty::Int => json!(1),
            Ty::Digest => json!("ab".repeat(32)),
            Ty::Bytes => json!({"text": "content"}),
            Ty::Ref => json!(3),
            Ty::RefSet => json!([3]),
            Ty::DigestSet => json!(["ab".repeat(32)]),
            Ty::Enum(choices) => json!(choices[0]),
            Ty::List(item) => json!([sample(*item)]),
            Ty::Obj(_, fields) => sample_object(fields),
            Ty::Any => json!({"x": 1}),
        }
    }

    fn sample_object(fields: &[F]) -> Json {
        let value = |f: &F| match f.name {
            // Texts with rules of their own.
            "currency" => json!("USD"),
            "commit" | "merge_commit" => json!("a".repeat(40)),
            "commits" | "fix_commits" => json!(["a".repeat(40)]),
            "gate" => json!("file_write"),
            "type" => json!("example.com/x"),
            "overrides" => json!(["model=m"]),
            _ => sample(f.ty),
        };
        Json::Object(
            fields
                .iter()
                .map(|f| (f.name.to_owned(), value(f)))
                .collect(),
        )
    }

    #[test]
    fn every_kind_round_trips_with_every_field_set() {
        for kind in KINDS {
            let event = full_event(kind);
            assert_eq!(event.kind_str(), kind, "KINDS vs Event");
            let record = event.to_record().unwrap();
            let Value::Map(payload) = decode_value(record.payload()).unwrap() else {
                panic!("`{kind}`: the payload is not a map");
            };
            let mut written: Vec<String> = payload
                .iter()
                .map(|(k, _)| k.as_text().unwrap().to_owned())
                .collect();
            written.sort_unstable();
            let mut named: Vec<String> = fields(kind)
                .unwrap()
                .iter()
                .map(|f| f.name.to_owned())
                .collect();
            named.sort_unstable();
            assert_eq!(written, named, "`{kind}`: every field set is written");
        }
    }

    // An event of `kind` with every field set.
    fn full_event(kind: &str) -> Event {
        let mut obj = sample_object(fields(kind).unwrap());
        let o = obj.as_object_mut().unwrap();
        o.insert("kind".into(), json!(kind));
        if kind == "artifact" {
            o.insert("type".into(), json!("patchset"));
        }
        if kind == "supersession" {
            o.insert("replacement".into(), json!(4));
        }
        parse(obj).unwrap_or_else(|e| panic!("`{kind}`: {e}")).event
    }

    // Values of every type in the profile, some nested.
    fn stand_ins() -> Vec<Value> {
        let int = |i: i64| Value::Integer(i.into());
        vec![
            Value::Null,
            Value::Bool(true),
            int(0),
            int(1),
            int(-1),
            int(i64::MAX),
            Value::Text(String::new()),
            Value::Text("a".into()),
            Value::Text("example.com/x".into()),
            Value::Text("ab".repeat(32)),
            Value::Bytes(Vec::new()),
            Value::Bytes(vec![0xab; 32]),
            Value::Array(Vec::new()),
            Value::Array(vec![int(3)]),
            Value::Array(vec![Value::Text("a".into())]),
            Value::Map(Vec::new()),
            Value::Map(vec![(Value::Text("x".into()), int(1))]),
            Value::Map(vec![(int(1), Value::Text("x".into()))]),
        ]
    }

    // The value with each of its map's pairs removed, each value replaced by every stand-in and
    // by its own variations one level down, and an unknown pair added.
    fn variations(v: &Value, depth: usize) -> Vec<Value> {
        let mut out = Vec::new();
        match v {
            Value::Map(pairs) => {
                for i in 0..pairs.len() {
                    let mut fewer = pairs.clone();
                    fewer.remove(i);
                    out.push(Value::Map(fewer));
                    let mut replaced: Vec<Value> = stand_ins();
                    if depth > 0 {
                        replaced.extend(variations(&pairs[i].1, depth - 1));
                    }
                    for r in replaced {
                        let mut changed = pairs.clone();
                        changed[i].1 = r;
                        out.push(Value::Map(changed));
                    }
                }
                let mut more = pairs.clone();
                more.push((Value::Text("zz_unknown".into()), Value::Null));
                out.push(Value::Map(more));
            }
            Value::Array(items) => {
                out.push(Value::Array(Vec::new()));
                if let Some(first) = items.first() {
                    let mut twice = items.clone();
                    twice.push(first.clone());
                    out.push(Value::Array(twice));
                    if depth > 0 {
                        for r in variations(first, depth - 1) {
                            let mut changed = items.clone();
                            changed[0] = r;
                            out.push(Value::Array(changed));
                        }
                    }
                }
            }
            _ => {}
        }
        out
    }

    // Decoding decides whether a payload is its value's canonical encoding by walking the typed
    // value against the decoded one (codec's `same`), not by re-encoding it. The two must agree
    // on every payload: every kind's, and its variations with fields missing, unknown, of every
    // type, nested one level down.
    #[test]
    fn decoding_without_re_encoding_decides_as_re_encoding_does() {
        let (mut accepted, mut rejected) = (0, 0);
        for kind in KINDS {
            let record = full_event(kind).to_record().unwrap();
            let value = decode_value(record.payload()).unwrap();
            let mut all = vec![value.clone()];
            all.extend(variations(&value, 2));
            let kind = Kind::new(kind).unwrap();
            for v in all {
                let Ok(bytes) = crate::codec::encode_value(&v) else {
                    continue;
                };
                let walked = Event::decode(&kind, &bytes);
                let re_encoded = crate::codec::REENCODE_ONLY.with(|only| {
                    only.set(true);
                    let out = Event::decode(&kind, &bytes);
                    only.set(false);
                    out
                });
                assert_eq!(walked, re_encoded, "`{kind}`: {v:?}");
                if walked.is_ok() {
                    accepted += 1;
                } else {
                    rejected += 1;
                }
            }
        }
        assert!(
            accepted > 100 && rejected > 1000,
            "{accepted} accepted, {rejected} rejected"
        );
    }

    fn parse(v: Json) -> Result<JsonEvent, JsonEventError> {
        from_json(&v, Suite::Blake3, &|seq| {
            (seq < 10).then_some(EntryHash([seq as u8; 32]))
        })
    }

    fn err(v: Json) -> String {
        parse(v).unwrap_err().to_string()
    }

    #[test]
    fn names_the_field_at_fault() {
        assert_eq!(
            err(json!({"kind": "command_run", "command": "x", "duration_ms": -1})),
            "field duration_ms: expected a non-negative integer"
        );
        assert_eq!(
            err(json!({"kind": "command_run", "command": "x"})),
            "field duration_ms: missing"
        );
        assert!(
            err(json!({"kind": "command_run", "command": "x", "duration_ms": 1, "exit": 0}))
                .starts_with("field exit: `command_run` has no such field")
        );
        assert!(
            err(json!({"kind": "nope"})).starts_with("field kind: unknown event kind \"nope\"")
        );
        assert_eq!(err(json!({"command": "x"})), "field kind: missing");
        assert_eq!(
            err(json!([1])),
            "expected a JSON object with a `kind` member"
        );
        assert_eq!(
            err(json!({"kind": "command_run", "command": " ", "duration_ms": 1})),
            "field command: must not be empty"
        );
        assert!(
            err(
                json!({"kind": "decision", "question": "q", "chosen": "a", "rationale": "r",
                       "rejected": [{"option": "b"}]})
            ) == "field rejected[0].reason: missing"
        );
        assert!(
            err(
                json!({"kind": "verification", "check": "c", "outcome": "maybe",
                       "requirement": "required"})
            )
            .starts_with("field outcome: expected one of pass, fail, not_run")
        );
        assert_eq!(
            err(json!({"kind": "correction", "corrects": 99, "redirected": "r"})),
            "field corrects: no entry 99 in this log"
        );
        assert!(
            err(json!({"kind": "custom", "type": "example.com/x", "body": {"a": [1.5]}}))
                .starts_with("field body.a[0]: floating-point numbers")
        );
        assert!(
            err(json!({"kind": "custom", "type": "Bad", "body": 1})).starts_with("field type:")
        );
        assert!(
            err(json!({"kind": "file_read", "path": "a", "digest": "abc"}))
                .starts_with("field digest: expected a digest")
        );
    }

    #[test]
    fn reads_digests_references_and_sets() {
        let p = parse(json!({
            "kind": "gate_requested", "gate": "file_write", "session": "s-1",
            "entries": [3, [1, hex::encode([9u8; 32])], {"seq": 3}],
            "artifacts": [{"text": "patch"}], "links": [2]
        }))
        .unwrap();
        let Event::GateRequested(g) = &p.event else {
            panic!("not a gate")
        };
        assert_eq!(
            g.entries,
            [
                Link {
                    seq: 1,
                    hash: EntryHash([9; 32])
                },
                Link {
                    seq: 3,
                    hash: EntryHash([3; 32])
                }
            ]
        );
        assert_eq!(g.artifacts, [content_digest(Suite::Blake3, b"patch")]);
        assert_eq!(p.session.unwrap().as_str(), "s-1");
        assert_eq!(p.links[0].seq, 2);
        // Empty lists are omitted, as the canonical payload requires.
        let p = parse(
            json!({"kind": "session_started", "objective": "o", "agent_name": "a",
                             "scope": []}),
        )
        .unwrap();
        assert!(matches!(p.event, Event::SessionStarted(ref s) if s.scope.is_empty()));
    }

    #[test]
    fn gaps_read_and_display_in_the_json_form() {
        let p = parse(json!({
            "kind": "gap", "session": "s-1", "event": "PreToolUse",
            "reason": "hook payload is not valid JSON", "source": "claude-code",
            "input_size": 9, "input_digest": {"text": "{not json"}
        }))
        .unwrap();
        let Event::Gap(g) = &p.event else {
            panic!("not a gap")
        };
        assert_eq!(g.event.as_deref(), Some("PreToolUse"));
        assert_eq!(g.input_size, Some(9));
        assert_eq!(
            g.input_digest,
            Some(content_digest(Suite::Blake3, b"{not json"))
        );
        let shown = event_to_json(&p.event).unwrap();
        assert_eq!(
            shown["input_digest"],
            content_digest(Suite::Blake3, b"{not json").to_hex()
        );
        assert_eq!(parse(shown).unwrap().event, p.event);
        assert!(
            err(json!({"kind": "gap", "reason": "r", "payload": "the prompt"}))
                .starts_with("field payload: `gap` has no such field")
        );
        assert_eq!(
            err(json!({"kind": "gap", "event": "Stop"})),
            "field reason: missing"
        );
        assert_eq!(
            err(json!({"kind": "gap", "reason": "r", "input_size": -1})),
            "field input_size: expected a non-negative integer"
        );
        assert_eq!(
            err(json!({"kind": "gap", "reason": " "})),
            "field reason: must not be empty"
        );
    }
}
