//! Hooks that find the log held hand their event to the process holding it.
//!
//! Claude Code runs the hooks of parallel tool calls at the same time, one process each, and
//! one process at a time has the log open. Opening it costs a process several milliseconds
//! (sled starting up, recovery, closing), so sixteen hooks taking turns wait for sixteen opens.
//! Instead, a hook that finds the log held writes its event to the log's `spool/` directory and
//! waits; the process holding the log records every event waiting there (with the same recording
//! options and key as its own), makes them durable with one fsync, and answers each in a result
//! file. A hook exits 0 only once the answer says its records are durable, exactly as when it
//! records them itself.
//!
//! Files, in `LOG/spool/` (created with mode 0700: only the log's owner hands events over):
//! - `ID.req`: the request, written to `ID.tmp` then renamed, so it is never read half-written.
//!   Its first line is the recording options as JSON, the rest the hook payload as read.
//! - `ID.work`: a request the holder has claimed (renamed from `ID.req`). Claiming and a
//!   waiter's withdrawal are both renames of `ID.req`: exactly one of them succeeds.
//! - `ID.res`: the answer, JSON, written to `ID.rtmp` then renamed; the waiter reads it and
//!   removes it.
//!
//! A holder that dies between claiming a request and answering it leaves `ID.work` behind: the
//! waiter, once it holds the log itself, finds its request claimed and unanswered and records a
//! `gap` (its records may or may not have been made durable), as a hook that crashed would.

use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sealtrail::{EntryHash, Link, Log};
use serde_json::{Value as Json, json};

use super::{Failure, Input, Opened, Stage, guarded, hook_payload, record};
use crate::cli::{IngestArgs, Prompts};
use crate::common::try_open_log_batched;

/// The spool directory's name, inside the log's directory.
pub const SPOOL: &str = "spool";
/// How often a waiting hook looks for its answer, and for the log to be free.
const POLL: Duration = Duration::from_millis(1);
/// The most requests one holder records before it lets go of the log, so that it cannot be
/// kept holding it for ever by a steady stream of hooks.
const MAX_DRAIN: usize = 256;
/// How long a hook whose request was claimed goes on waiting for the answer after its own wait
/// ended: the holder is recording it.
const CLAIMED_GRACE: Duration = Duration::from_secs(10);
/// The largest options line read from a request.
const MAX_OPTIONS: usize = 64 * 1024;

/// How the log was obtained for a hook's event.
pub enum Turn {
    /// This process holds the log: it records its own event, then everyone else's.
    Holder(Log),
    /// The process holding the log recorded this hook's event: its answer.
    Answered(Result<(), Failure>),
    /// This process holds the log, and finds its request claimed by a holder that ended before
    /// answering it: the event may or may not be recorded.
    Orphaned(Log, Failure),
}

/// The recording options a holder must share with a request to record it: the same key file and
/// the same way of making records from a payload.
fn options(a: &IngestArgs) -> String {
    let key = a.key.canonicalize().unwrap_or_else(|_| a.key.clone());
    json!({
        "key": key.to_string_lossy(),
        "prompts": match a.prompts { Prompts::Text => "text", Prompts::Digest => "digest" },
        "check_pattern": a.check_pattern,
        "no_default_checks": a.no_default_checks,
        "require": a.require,
    })
    .to_string()
}

fn spool_dir(a: &IngestArgs) -> PathBuf {
    a.log.join(SPOOL)
}

/// Opens the log if no other process has it; otherwise hands the event over and waits for the
/// holder's answer, or for the log to be free, for at most `--wait` seconds.
pub fn take_or_hand_over(a: &IngestArgs, payload: &[u8]) -> Result<Turn, Failure> {
    let unwritable = |e: anyhow::Error| Failure::new(Stage::Unwritable, format!("{e:#}"));
    if let Some(log) = try_open_log_batched(&a.log).map_err(unwritable)? {
        return Ok(Turn::Holder(log));
    }
    let request = submit(a, payload).map_err(|e| {
        Failure::new(
            Stage::Unwritable,
            format!(
                "the log is open in another process, and the event cannot be handed to it: {e}"
            ),
        )
    })?;
    let wait = Duration::from_secs(a.wait);
    let start = Instant::now();
    loop {
        if let Some(answer) = request.answer() {
            return Ok(Turn::Answered(answer));
        }
        if let Some(log) = try_open_log_batched(&a.log).map_err(unwritable)? {
            // The log is ours: whoever held it has answered, or left our request alone, or died.
            if request.withdraw() {
                return Ok(Turn::Holder(log));
            }
            if let Some(answer) = request.answer() {
                return Ok(Turn::Answered(answer));
            }
            request.forget();
            return Ok(Turn::Orphaned(
                log,
                Failure::new(
                    Stage::Record,
                    "the process that took this event over from this hook ended before \
                     confirming it was recorded; it may or may not be in the log",
                ),
            ));
        }
        if start.elapsed() >= wait {
            if request.withdraw() {
                return Err(Failure::new(
                    Stage::Unwritable,
                    format!(
                        "{}: the log is open in another process (waited {} s)",
                        a.log.display(),
                        wait.as_secs()
                    ),
                ));
            }
            // Claimed: the holder is recording it now.
            if start.elapsed() >= wait + CLAIMED_GRACE {
                return Err(Failure::new(
                    Stage::Record,
                    format!(
                        "the process holding the log took this event over but gave no answer \
                         within {} s; it may or may not be in the log",
                        (wait + CLAIMED_GRACE).as_secs()
                    ),
                ));
            }
        }
        std::thread::sleep(POLL);
    }
}

/// A request this hook wrote to the spool.
struct Request {
    dir: PathBuf,
    id: String,
}

impl Request {
    fn path(&self, ext: &str) -> PathBuf {
        self.dir.join(format!("{}.{ext}", self.id))
    }

    /// The holder's answer, once written (and then removed).
    fn answer(&self) -> Option<Result<(), Failure>> {
        let path = self.path("res");
        let text = fs::read_to_string(&path).ok()?;
        let _ = fs::remove_file(&path);
        Some(parse_answer(&text))
    }

    /// Takes the request back, unless a holder claimed it: true if it is withdrawn.
    fn withdraw(&self) -> bool {
        fs::remove_file(self.path("req")).is_ok()
    }

    /// Removes a claimed request its holder never answered.
    fn forget(&self) {
        let _ = fs::remove_file(self.path("work"));
    }
}

// Writes the request atomically: `ID.tmp`, then renamed to `ID.req`.
fn submit(a: &IngestArgs, payload: &[u8]) -> std::io::Result<Request> {
    let dir = spool_dir(a);
    match fs::DirBuilder::new().mode(0o700).create(&dir) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(e),
        _ => {}
    }
    // Names sort by time: a holder records requests in the order they were made.
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let id = format!("{nanos:039}-{}", std::process::id());
    let request = Request { dir, id };
    let tmp = request.path("tmp");
    let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
    f.write_all(options(a).as_bytes())?;
    f.write_all(b"\n")?;
    f.write_all(payload)?;
    drop(f);
    fs::rename(&tmp, request.path("req"))?;
    Ok(request)
}

/// A request claimed by this holder.
pub struct Claimed {
    dir: PathBuf,
    id: String,
    /// What recording it gave, before the flush.
    outcome: Result<(), Failure>,
}

/// Records the requests waiting in the spool that share this hook's options, oldest first, in
/// the log `o` holds, until none is left (or [`MAX_DRAIN`]). Nothing is durable yet: the caller
/// flushes, then [`answer`]s.
pub fn drain(o: &Opened, a: &IngestArgs) -> Vec<Claimed> {
    let dir = spool_dir(a);
    let mine = options(a);
    let mut claimed = Vec::new();
    let mut skipped = std::collections::BTreeSet::new();
    while claimed.len() < MAX_DRAIN {
        let Ok(read) = fs::read_dir(&dir) else { break };
        let mut waiting: Vec<String> = read
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                name.strip_suffix(".req").map(str::to_owned)
            })
            .filter(|id| !skipped.contains(id))
            .collect();
        if waiting.is_empty() {
            break;
        }
        waiting.sort();
        for id in waiting {
            if claimed.len() == MAX_DRAIN {
                break;
            }
            let work = dir.join(format!("{id}.work"));
            // The waiter may have withdrawn it, or another holder (an earlier version's
            // waiter cannot be one) claimed it.
            if fs::rename(dir.join(format!("{id}.req")), &work).is_err() {
                continue;
            }
            match read_request(&work) {
                Some((options, payload)) if options == mine => {
                    let outcome = guarded(|| record_payload(o, a, &payload));
                    claimed.push(Claimed {
                        dir: dir.clone(),
                        id,
                        outcome,
                    });
                }
                // Another key or other options: give it back for a holder of its own kind.
                _ => {
                    let _ = fs::rename(&work, dir.join(format!("{id}.req")));
                    skipped.insert(id);
                }
            }
        }
    }
    claimed
}

// Reads a claimed request: the options line and the payload, within the payload cap.
fn read_request(path: &Path) -> Option<(String, Vec<u8>)> {
    let f = fs::File::open(path).ok()?;
    let mut bytes = Vec::new();
    let cap = super::MAX_PAYLOAD + MAX_OPTIONS as u64 + 1;
    f.take(cap + 1).read_to_end(&mut bytes).ok()?;
    if bytes.len() as u64 > cap {
        return None;
    }
    let newline = bytes
        .iter()
        .take(MAX_OPTIONS + 1)
        .position(|&b| b == b'\n')?;
    let payload = bytes.split_off(newline + 1);
    bytes.truncate(newline);
    Some((String::from_utf8(bytes).ok()?, payload))
}

// Records a handed-over payload as the hook that received it would have.
fn record_payload(o: &Opened, a: &IngestArgs, payload: &[u8]) -> Result<(), Failure> {
    let input = Input {
        bytes: payload.to_vec(),
        problem: None,
    };
    let value = input
        .parse()
        .map_err(|reason| Failure::new(Stage::Input, reason))?;
    let (obj, hook, session) =
        hook_payload(&value).map_err(|reason| Failure::new(Stage::Input, reason))?;
    record(o, a, obj, &input.bytes, hook, &session)
}

/// Answers every claimed request, once the flush that makes their records durable has ended:
/// what recording gave, or the flush's failure.
pub fn answer(claimed: Vec<Claimed>, flushed: &Result<(), Failure>) {
    for c in claimed {
        let outcome = match (&c.outcome, flushed) {
            (Ok(()), Err(f)) => Err(Failure::new(f.stage, &f.reason)),
            (o, _) => o.as_ref().map(|_| ()).map_err(|f| Failure {
                recorded: f.recorded,
                ..Failure::new(f.stage, &f.reason)
            }),
        };
        let tmp = c.dir.join(format!("{}.rtmp", c.id));
        let written = fs::write(&tmp, answer_json(&outcome).to_string())
            .and_then(|()| fs::rename(&tmp, c.dir.join(format!("{}.res", c.id))));
        if written.is_ok() {
            let _ = fs::remove_file(c.dir.join(format!("{}.work", c.id)));
        }
    }
}

fn stage_name(s: Stage) -> &'static str {
    match s {
        Stage::Input => "input",
        Stage::Unwritable => "unwritable",
        Stage::KeyRefused => "key_refused",
        Stage::Record => "record",
        Stage::Internal => "internal",
    }
}

fn answer_json(outcome: &Result<(), Failure>) -> Json {
    match outcome {
        Ok(()) => json!({ "ok": true }),
        Err(f) => json!({
            "ok": false,
            "stage": stage_name(f.stage),
            "reason": f.reason,
            "recorded": f.recorded.map(|l| json!({ "seq": l.seq, "hash": l.hash.to_hex() })),
        }),
    }
}

fn parse_answer(text: &str) -> Result<(), Failure> {
    let garbled = || {
        Failure::new(
            Stage::Record,
            "the process that took this event over gave an answer that cannot be read; the \
             event may or may not be in the log",
        )
    };
    let v: Json = serde_json::from_str(text).map_err(|_| garbled())?;
    if v["ok"] == Json::Bool(true) {
        return Ok(());
    }
    let stage = match v["stage"].as_str() {
        Some("input") => Stage::Input,
        Some("unwritable") => Stage::Unwritable,
        Some("key_refused") => Stage::KeyRefused,
        Some("internal") => Stage::Internal,
        Some("record") => Stage::Record,
        _ => return Err(garbled()),
    };
    let reason = v["reason"].as_str().ok_or_else(garbled)?;
    let recorded = match &v["recorded"] {
        Json::Null => None,
        r => Some(Link {
            seq: r["seq"].as_u64().ok_or_else(garbled)?,
            hash: r["hash"]
                .as_str()
                .and_then(|h| h.parse::<EntryHash>().ok())
                .ok_or_else(garbled)?,
        }),
    };
    Err(Failure {
        recorded,
        ..Failure::new(stage, reason)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_round_trip() {
        assert!(parse_answer(&answer_json(&Ok(())).to_string()).is_ok());
        let link = Link {
            seq: 7,
            hash: EntryHash::from_bytes([9; 32]),
        };
        let failed = Err(Failure {
            recorded: Some(link),
            ..Failure::new(Stage::KeyRefused, "refused")
        });
        let back = parse_answer(&answer_json(&failed).to_string()).unwrap_err();
        assert_eq!(back.stage, Stage::KeyRefused);
        assert_eq!(back.reason, "refused");
        assert_eq!(back.recorded, Some(link));
        assert_eq!(parse_answer("{").unwrap_err().stage, Stage::Record);
        assert_eq!(
            parse_answer(r#"{"ok":false}"#).unwrap_err().stage,
            Stage::Record
        );
    }
}
