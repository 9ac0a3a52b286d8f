//! The typed events each hook becomes (SPEC §13.11), each linking the hook record `h`.

use sealtrail::approval::{Gate, Namespaced};
use sealtrail::event::{
    Artifact, CommandRun, ContextLoaded, Event, FailureSeen, FileRead, GateRequested, Handoff,
    HandoffStatus, Outcome, Requirement, SessionEnded, SessionStarted, SessionStatus, ToolCall,
    ToolOutcome, Verification, content_digest,
};
use sealtrail::query::{SessionEvent, session_events, session_start, verification_report};
use sealtrail::{Digest, Link, Suite, Timestamp};
use serde_json::{Map, Value as Json};

use super::checks::{self, Verdict};
use super::patch;
use super::{Failure, MAX_ERROR, Recorder, Stage, digest_of, str_of};
use crate::cli::{IngestArgs, Prompts};

/// The longest goal taken from the first prompt, in characters (the whole prompt is in the hook
/// record).
const MAX_GOAL: usize = 1000;
/// The agent every session of this command names.
const AGENT: &str = "claude-code";

/// The typed events of a hook, each linking its hook record `h`.
pub(super) fn typed_events(
    r: &Recorder<'_>,
    a: &IngestArgs,
    obj: &Map<String, Json>,
    hook: &str,
    h: Link,
    now: Timestamp,
) -> Result<(), Failure> {
    let suite = r.o.log.suite();
    match hook {
        // The session starts with the developer's first request (its goal), not here: the hook
        // record keeps the time and the source.
        "SessionStart" => {}
        "UserPromptSubmit" => {
            let prompt = obj.get("prompt");
            if !has_started(r)? {
                r.put(started(goal(prompt, a.prompts, h), a), &[h])?;
            }
            if let Some(p) = prompt {
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
                t if patch::edits_files(t) => Gate::FileWrite,
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
            tool_events(r, a, obj, hook == "PostToolUseFailure", h, now)?;
        }
        "Stop" => handoff(
            r,
            a,
            h,
            "Claude Code finished its turn and handed back to the developer",
        )?,
        "SessionEnd" => {
            let reason = str_of(obj.get("reason")).unwrap_or("not given");
            let summary = format!("Claude Code session ended (reason: {reason})");
            handoff(r, a, h, &summary)?;
            r.put(
                Event::SessionEnded(SessionEnded {
                    status: SessionStatus::Completed,
                    summary: Some(format!(
                        "{summary}; Claude Code does not say whether the objective was met"
                    )),
                }),
                &[h],
            )?;
        }
        // Every other hook event is kept as its hook record alone.
        _ => {}
    }
    Ok(())
}

/// A `session_started` naming the agent and the checks `--require` declares.
fn started(objective: String, a: &IngestArgs) -> Event {
    let mut required_checks: Vec<String> = Vec::new();
    for c in &a.require {
        if !required_checks.contains(c) {
            required_checks.push(c.clone());
        }
    }
    Event::SessionStarted(SessionStarted {
        objective,
        agent_name: AGENT.into(),
        required_checks,
        ..SessionStarted::default()
    })
}

/// The session's goal from its first prompt: the text itself when prompts are kept as text.
fn goal(prompt: Option<&Json>, prompts: Prompts, h: Link) -> String {
    match (prompts, prompt) {
        (Prompts::Text, Some(Json::String(p))) if !p.trim().is_empty() => {
            let p = p.trim();
            if p.chars().count() > MAX_GOAL {
                let mut cut: String = p.chars().take(MAX_GOAL - 1).collect();
                cut.push('…');
                cut
            } else {
                p.to_owned()
            }
        }
        (Prompts::Digest, Some(_)) => format!(
            "the developer's first prompt, kept by digest only (entry {})",
            h.seq
        ),
        _ => format!(
            "Claude Code session; its first prompt event carries no prompt (entry {})",
            h.seq
        ),
    }
}

fn read_session(r: &Recorder<'_>) -> Result<Vec<SessionEvent>, Failure> {
    session_events(&r.o.log, r.session).map_err(|e| {
        Failure::new(
            Stage::Record,
            format!("cannot read the session back from the log: {e}"),
        )
    })
}

// Whether the session already has a `session_started` (a resumed session does).
fn has_started(r: &Recorder<'_>) -> Result<bool, Failure> {
    let entries = r.o.log.session(r.session).map_err(|e| {
        Failure::new(
            Stage::Record,
            format!("cannot read the session back from the log: {e}"),
        )
    })?;
    Ok(entries
        .iter()
        .any(|e| e.header().kind.as_str() == "session_started"))
}

/// The `handoff` of a turn or session that ended: ready for review when every required check's
/// latest result passed, else in progress, with the failed and missing checks as blockers
/// (SPEC §13.7). A session that never had a prompt gets its `session_started` first, so that
/// its required checks count. Optional checks are left to the trace's verification line: a
/// handoff written each turn would repeat a stale risk in every later trace.
fn handoff(r: &Recorder<'_>, a: &IngestArgs, h: Link, summary: &str) -> Result<(), Failure> {
    let mut events = read_session(r)?;
    if session_start(&events).is_none() {
        let objective = "Claude Code session; no prompt was recorded".to_owned();
        r.put(started(objective, a), &[h])?;
        events = read_session(r)?;
    }
    let report = verification_report(&events);
    let (mut blockers, mut to_run) = (Vec::new(), Vec::new());
    for c in &report.checks {
        if c.requirement != Requirement::Required {
            continue;
        }
        let line = match &c.latest {
            None => format!("required check {} never ran", c.check),
            Some((seq, v)) => match v.outcome {
                Outcome::Pass => continue,
                Outcome::Fail => format!("required check {} failed (entry {seq})", c.check),
                _ => format!(
                    "required check {} has no result: {} (entry {seq})",
                    c.check,
                    v.reason.as_deref().unwrap_or("no reason given")
                ),
            },
        };
        blockers.push(line);
        to_run.push(c.check.clone());
    }
    let status = if blockers.is_empty() {
        HandoffStatus::ReadyForReview
    } else {
        HandoffStatus::InProgress
    };
    r.put(
        Event::Handoff(Handoff {
            status,
            summary: Some(format!("{summary}; verification status: {}", report.status)),
            blockers,
            open_risks: Vec::new(),
            next_action: (!to_run.is_empty()).then(|| {
                format!(
                    "run the required checks until they pass: {}",
                    to_run.join(", ")
                )
            }),
        }),
        &[h],
    )?;
    Ok(())
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

/// What a `PostToolUse` or `PostToolUseFailure` payload says about its tool call.
struct Call<'p> {
    call_id: &'p str,
    input: &'p Json,
    response: Option<&'p Json>,
    error: Option<&'p Json>,
    failed: bool,
    interrupted: bool,
    /// From the payload, else measured from the `PreToolUse` record; `None` without either.
    duration_ms: Option<u64>,
    path: Option<String>,
}

/// The events of a finished tool call: `tool_call`, then `file_read` (a `Read`), a patchset
/// `artifact` (a file edit), `command_run` and `verification`s (a `Bash` command), and
/// `failure_seen` (a failure).
fn tool_events(
    r: &Recorder<'_>,
    a: &IngestArgs,
    obj: &Map<String, Json>,
    failed: bool,
    h: Link,
    now: Timestamp,
) -> Result<(), Failure> {
    let suite = r.o.log.suite();
    // Without a tool name and call id there is no tool call to type; the hook record keeps all.
    let (Some(tool), Some(call_id)) = (
        str_of(obj.get("tool_name")).filter(|s| !s.trim().is_empty()),
        str_of(obj.get("tool_use_id")).filter(|s| !s.trim().is_empty()),
    ) else {
        return Ok(());
    };
    let input = obj.get("tool_input").unwrap_or(&Json::Null);
    let response = obj.get("tool_response");
    let pre = r.pre_tool_use(call_id);
    let c = Call {
        call_id,
        input,
        response,
        error: obj.get("error").or_else(|| obj.get("error_message")),
        failed,
        interrupted: obj.get("is_interrupt").and_then(Json::as_bool) == Some(true)
            || response
                .and_then(|x| x.get("interrupted"))
                .and_then(Json::as_bool)
                == Some(true),
        // Measured between the two hooks when Claude Code does not say.
        duration_ms: obj
            .get("duration_ms")
            .and_then(Json::as_u64)
            .or_else(|| pre.map(|(_, t)| now.as_nanos().saturating_sub(t.as_nanos()) / 1_000_000)),
        path: tool_path(input, str_of(obj.get("cwd"))),
    };
    let mut links = vec![h];
    links.extend(pre.map(|(l, _)| l));
    let call = r
        .put(
            Event::ToolCall(ToolCall {
                name: tool.into(),
                call_id: c.call_id.into(),
                tool_type: Some(if tool.starts_with("mcp__") {
                    "extension".into()
                } else {
                    "function".into()
                }),
                arguments_digest: digest_of(suite, input).0,
                result_digest: c.result().map(|v| digest_of(suite, v).0),
                outcome: Some(if failed {
                    ToolOutcome::Error
                } else {
                    ToolOutcome::Ok
                }),
                duration_ms: c.duration_ms,
                paths: c.path.iter().cloned().collect(),
                ..ToolCall::default()
            }),
            &links,
        )?
        .link();
    let mut after_call = vec![call];
    match (tool, &c.path) {
        ("Read", Some(path)) if !failed => {
            let content = response
                .and_then(|x| x.get("file"))
                .and_then(|f| f.get("content"));
            if let Some(Json::String(content)) = content {
                r.put(
                    Event::FileRead(FileRead {
                        path: path.clone(),
                        digest: content_digest(suite, content.as_bytes()),
                        reason: None,
                    }),
                    &[call],
                )?;
            }
        }
        (t, Some(path)) if patch::edits_files(t) && !failed => {
            let p = patch::patch(t, path, input, response);
            r.put(
                Event::Artifact(Artifact {
                    artifact_type: "patchset".into(),
                    name: Some(format!("{t} {path}")),
                    uri: None,
                    digest: content_digest(suite, &p.bytes),
                    size: p.bytes.len() as u64,
                    paths: vec![path.clone()],
                    media_type: Some(p.media_type.into()),
                }),
                &[call],
            )?;
        }
        _ => {}
    }
    if tool == "Bash" {
        bash_events(r, a, &c, call, &mut after_call)?;
    }
    if failed {
        let mut text = c
            .error
            .map(|e| match e {
                Json::String(s) => first_line(s),
                other => first_line(&other.to_string()),
            })
            .unwrap_or_default();
        if text.is_empty() {
            text = if c.interrupted {
                "tool call interrupted".into()
            } else {
                "tool call failed".into()
            };
        }
        r.put(
            Event::FailureSeen(FailureSeen {
                error: text,
                command: if tool == "Bash" {
                    c.command().map(str::to_owned)
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

impl Call<'_> {
    /// What the call returned: its response, or its error.
    fn result(&self) -> Option<&Json> {
        if self.failed {
            self.error
        } else {
            self.response
        }
    }

    fn command(&self) -> Option<&str> {
        str_of(self.input.get("command")).filter(|c| !c.trim().is_empty())
    }

    fn output_digest(&self, suite: Suite, name: &str) -> Option<Digest> {
        str_of(self.response.and_then(|x| x.get(name))).map(|s| content_digest(suite, s.as_bytes()))
    }
}

/// A `Bash` call's `command_run`, and a `verification` for each check the command ran, linking
/// the `command_run` (else the tool call). The `command_run` is pushed to `after_call`.
fn bash_events(
    r: &Recorder<'_>,
    a: &IngestArgs,
    c: &Call<'_>,
    call: Link,
    after_call: &mut Vec<Link>,
) -> Result<(), Failure> {
    let suite = r.o.log.suite();
    let Some(command) = c.command() else {
        return Ok(());
    };
    let background = c.input.get("run_in_background").and_then(Json::as_bool) == Some(true);
    // Claude Code reports a command that exits non-zero as PostToolUseFailure, so a PostToolUse
    // for a command that ran to its end means exit status 0.
    let exit: Result<i64, &str> = match (c.failed, c.interrupted, background) {
        (_, true, _) => Err("interrupted before it finished"),
        (_, _, true) => Err("run in the background: Claude Code does not report its exit status"),
        (false, false, false) => Ok(0),
        (true, false, false) => str_of(c.error)
            .and_then(exit_code_in)
            .ok_or("Claude Code reported a failure without an exit status"),
    };
    let mut evidence = call;
    // A failure that names no exit status may be a command killed or never started: no
    // command_run claims otherwise.
    if exit.is_ok() || c.interrupted || background {
        let run = r.put(
            Event::CommandRun(CommandRun {
                command: command.into(),
                exit_code: exit.ok(),
                // SPEC §13.11: 0 when neither the payload nor a PreToolUse record gives it.
                duration_ms: c.duration_ms.unwrap_or(0),
                stdout_digest: c.output_digest(suite, "stdout"),
                stderr_digest: c.output_digest(suite, "stderr"),
                cwd: None,
            }),
            &[call],
        )?;
        evidence = run.link();
        after_call.push(evidence);
    }
    let results = checks::results(&checks_of(a)?, command, exit);
    for (name, verdict) in results {
        let requirement = if a.require.contains(&name) {
            Requirement::Required
        } else {
            Requirement::Optional
        };
        let (outcome, reason) = match verdict {
            Verdict::Pass => (Outcome::Pass, None),
            Verdict::Fail => (
                Outcome::Fail,
                exit.ok().map(|code| format!("exit status {code}")),
            ),
            Verdict::Unknown(why) => (Outcome::NotRun, Some(why)),
        };
        r.put(
            Event::Verification(Verification {
                reason,
                command: Some(command.into()),
                duration_ms: c.duration_ms,
                evidence_digest: c
                    .output_digest(suite, "stdout")
                    .or_else(|| c.result().map(|v| digest_of(suite, v).0)),
                ..Verification::ran(&name, outcome, requirement)
            }),
            &[evidence],
        )?;
    }
    Ok(())
}

/// The checks `--check-pattern` and `--no-default-checks` put in force.
fn checks_of(a: &IngestArgs) -> Result<Vec<checks::Check>, Failure> {
    checks::checks(&a.check_pattern, !a.no_default_checks)
        .map_err(|e| Failure::new(Stage::Input, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_read_from_errors() {
        assert_eq!(
            exit_code_in("Command exited with non-zero status code 1"),
            Some(1)
        );
        assert_eq!(exit_code_in("Exit code 127\ncommand not found"), Some(127));
        assert_eq!(exit_code_in("permission denied"), None);
    }
}
