//! The CLI's JSON event parser (`sealtrail append`, SPEC §13.10): `from_json` never panics on any
//! JSON value, and an event it accepts encodes canonically (SPEC §3), decodes back with
//! `Event::decode` to an equal event, and has a JSON form (`event_to_json`, what `sealtrail show
//! --json` prints) that `from_json` reads back to an equal event. The hash suite only changes the
//! digests of `{"text": …}`, so both suites accept the same objects.
//!
//! Input that is JSON is parsed as such. Any other input drives a structured generator (the
//! `arbitrary` crate) that builds an event object from the kinds and field names of SPEC §13.4,
//! so the fuzzer reaches the field checks without first having to write valid JSON.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use sealtrail::Suite;
use sealtrail::codec::{check_canonical, decode_value, encode_value};
use sealtrail::event::json::{event_to_json, from_json};
use sealtrail::event::{Event, KINDS};
use sealtrail_fuzz::resolve;
use serde_json::{Map, Value as Json};

/// Every payload field name of SPEC §13.4, the envelope members, and the members of digests,
/// entry references, costs and alternatives.
const FIELDS: &[&str] = &[
    "agent_id",
    "agent_name",
    "agent_version",
    "arguments_digest",
    "artifacts",
    "base_commit",
    "basis",
    "blockers",
    "body",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
    "call_id",
    "check",
    "chosen",
    "command",
    "comment",
    "correction",
    "corrects",
    "cost",
    "currency",
    "cwd",
    "data_source_id",
    "decision",
    "digest",
    "duration_ms",
    "entries",
    "error",
    "event",
    "evidence_digest",
    "exclusions",
    "exit_code",
    "failed",
    "finish_reasons",
    "gate",
    "hash",
    "input_digest",
    "input_size",
    "input_tokens",
    "instruction",
    "kind",
    "links",
    "meaning",
    "media_type",
    "micros",
    "name",
    "next_action",
    "objective",
    "open_risks",
    "option",
    "outcome",
    "output_tokens",
    "passed",
    "path",
    "paths",
    "prompt_digest",
    "provider",
    "purpose",
    "question",
    "rationale",
    "reasoning_output_tokens",
    "reason",
    "redirected",
    "rejected",
    "replacement",
    "request_model",
    "required_checks",
    "requirement",
    "response_digest",
    "response_id",
    "response_model",
    "result_digest",
    "scope",
    "seed",
    "seq",
    "session",
    "size",
    "source",
    "statement",
    "status",
    "stderr_digest",
    "stdout_digest",
    "summary",
    "supersedes",
    "suspected_cause",
    "temperature_milli",
    "text",
    "tool_type",
    "type",
    "uri",
];

/// Enumeration values, gate and type names, and texts the rules single out.
const TEXTS: &[&str] = &[
    "ok",
    "error",
    "pass",
    "fail",
    "not_run",
    "required",
    "optional",
    "approve",
    "reject",
    "review",
    "approval",
    "responsibility",
    "authorship",
    "ready_for_review",
    "blocked",
    "in_progress",
    "done",
    "completed",
    "failed",
    "abandoned",
    "handed_off",
    "file_write",
    "pr_create",
    "command_exec",
    "example.com/x",
    "pull_request",
    "USD",
    "usd",
    "",
    " ",
    "\t",
    "sess-1",
    "PreToolUse",
    "claude-code",
];

fn text(u: &mut Unstructured) -> Result<String> {
    if u.ratio(1, 2)? {
        Ok((*u.choose(TEXTS)?).to_owned())
    } else {
        u.arbitrary()
    }
}

fn value(u: &mut Unstructured, depth: usize) -> Result<Json> {
    let last = if depth >= 4 { 8 } else { 10 };
    Ok(match u.int_in_range(0..=last)? {
        0 => Json::Null,
        1 => Json::Bool(u.arbitrary()?),
        2 => Json::from(u.int_in_range(0..=1100u64)?),
        3 => Json::from(u.arbitrary::<i64>()?),
        4 => Json::from(u.arbitrary::<u64>()?),
        5 => serde_json::Number::from_f64(u.arbitrary()?).map_or(Json::Null, Json::Number),
        6 => Json::String(text(u)?),
        7 => {
            let bytes: [u8; 32] = u.arbitrary()?;
            Json::String(bytes.iter().map(|b| format!("{b:02x}")).collect())
        }
        8 => {
            let mut m = Map::new();
            m.insert("text".into(), Json::String(text(u)?));
            Json::Object(m)
        }
        9 => {
            let n = u.int_in_range(0..=4)?;
            Json::Array((0..n).map(|_| value(u, depth + 1)).collect::<Result<_>>()?)
        }
        _ => object(u, depth + 1, None)?,
    })
}

fn object(u: &mut Unstructured, depth: usize, kind: Option<&str>) -> Result<Json> {
    let mut m = Map::new();
    if let Some(k) = kind {
        m.insert("kind".into(), Json::String(k.to_owned()));
    }
    let n = u.int_in_range(0..=12)?;
    for _ in 0..n {
        let name = if u.ratio(1, 32)? {
            u.arbitrary()?
        } else {
            (*u.choose(FIELDS)?).to_owned()
        };
        m.insert(name, value(u, depth)?);
    }
    Ok(Json::Object(m))
}

fn event_object(data: &[u8]) -> Result<Json> {
    let mut u = Unstructured::new(data);
    let kind = *u.choose(&KINDS)?;
    object(&mut u, 0, Some(kind))
}

fn check(v: &Json) {
    let parsed = from_json(v, Suite::Blake3, &resolve);
    let other = from_json(v, Suite::Sha256, &resolve);
    assert_eq!(parsed.is_ok(), other.is_ok(), "{parsed:?} but {other:?}");
    let Ok(parsed) = parsed else {
        return;
    };
    let event = &parsed.event;
    assert_eq!(event.kind().as_str(), event.kind_str());
    let bytes = event.encode().expect("an accepted event encodes");
    assert!(check_canonical(&bytes).is_ok());
    let value = decode_value(&bytes).expect("canonical bytes decode");
    assert_eq!(encode_value(&value).ok(), Some(bytes.clone()));
    let back = Event::decode(&event.kind(), &bytes).expect("an accepted event decodes");
    assert_eq!(&back, event);
    let json = event_to_json(event).expect("an accepted event has a JSON form");
    let again = from_json(&json, Suite::Blake3, &|_| None);
    assert_eq!(again.map(|j| j.event).as_ref(), Ok(event), "{json}");
}

fuzz_target!(|data: &[u8]| {
    match serde_json::from_slice::<Json>(data) {
        Ok(v) => check(&v),
        Err(_) => {
            if let Ok(v) = event_object(data) {
                check(&v);
            }
        }
    }
});
