//! `replay`: re-run a recorded session's task through an agent harness (SPEC §13.13), and record
//! the new run as a session of its own, linked `replay_of` the original.
//!
//! The protocol's messages, input digests and the index of the original run are the library's
//! (`sealtrail::replay`); this module starts the harness, executes what may be executed, waits
//! for approvals and writes the entries.

use std::io::{BufRead, BufReader, Read as _, Write as _};
use std::os::unix::process::CommandExt as _;
use std::path::{Component, Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow};
use sealtrail::approval::{Gate, Subjects};
use sealtrail::event::json::from_json;
use sealtrail::event::{
    CommandRun, Event, FailureSeen, FileRead, GateRequested, SessionEnded, SessionStarted,
    SessionStatus, ToolCall, ToolOutcome, content_digest,
};
use sealtrail::query::session_events;
use sealtrail::replay::{
    DETERMINISTIC_TOOLS, GateAnswer, GateRequest, GateStatus, HarnessMessage, MAX_CONTENT,
    MAX_LINE, ModelRequest, OriginalRun, PROTOCOL, PatchState, ProtocolError, RecordRequest,
    RunnerMessage, StepAnswer, StepInput, StepRequest, StepStatus, Task, Unreplayable,
    input_digest, parse_harness_line,
};
use sealtrail::{Digest, Link, Log, Receipt, SecretKey, SessionId};
use serde_json::json;

use crate::common::{Status, emit, invalid, json_line, load_secret, open_log};
use clap::Args;

/// The version of `sealtrail replay --json`.
pub const SCHEMA: &str = "sealtrail.replay/1";

/// `replay --help`.
pub const REPLAY_HELP: &str = "\
Replay a recorded session (--session) through an agent harness (--agent, a command line run with
`sh -c`), and record the new run as a session of its own, linked `replay_of` the original and
signed by --key (a recorder key). sealtrail hands the harness the original task and the
overrides, and answers its steps over a line-delimited JSON protocol on the harness's standard
input and output (SPEC §13.13):

- deterministic steps (commands, file reads, apply_patch/read_file tool calls) whose input
  digest equals an original step's are reused and recorded with a link to the original entry;
  others are executed in --workdir, or refused with --no-exec;
- model calls are made by the harness and reported; with --from-record sealtrail answers them
  from the original run (which must have kept their content), so a replay with no overrides
  reproduces the original's artifacts, patchset fingerprint and pull request description;
- gates reuse the original approval by reference (never re-signed); with --regate the replay
  stops at each gate until a person runs `sealtrail approve --entry SEQ`.

A harness that breaks the protocol or dies ends the replay with a recorded failure_seen and
session_ended (failed); what was recorded stays. Compare the runs with `sealtrail compare`.

  sealtrail replay --log DIR --session S --key recorder.key --override model=claude-sonnet-4 \\
    --workdir work/ --agent 'my-harness --replay'";

/// `replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The log directory.
    #[arg(long, value_name = "DIR")]
    pub log: PathBuf,
    /// The session to replay.
    #[arg(long, value_name = "ID")]
    pub session: String,
    /// A recorder key of the log: signs every entry of the replay.
    #[arg(long, value_name = "RECORDER.key")]
    pub key: PathBuf,
    /// An override handed to the harness, KEY=VALUE (e.g. model=claude-sonnet-4); repeatable.
    #[arg(long = "override", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Stop at every gate until a person approves it (instead of reusing the original approval).
    #[arg(long)]
    pub regate: bool,
    /// Execute nothing: steps that cannot be reused are refused.
    #[arg(long)]
    pub no_exec: bool,
    /// Where steps that cannot be reused are executed.
    #[arg(long, value_name = "DIR")]
    pub workdir: Option<PathBuf>,
    /// Answer the harness's model calls from the original run.
    #[arg(long)]
    pub from_record: bool,
    /// The replay's session id (default: <SESSION>.replay-<n>, the first unused).
    #[arg(long, value_name = "ID")]
    pub replay_session: Option<String>,
    /// The harness command line, run with `sh -c`.
    #[arg(long, value_name = "'CMD ARGS…'")]
    pub agent: String,
    /// Stop the replay (a recorded failure) when the harness sends nothing for this many
    /// seconds while the replay waits for it. Time spent executing a step or waiting at a gate
    /// does not count.
    #[arg(long, value_name = "SECONDS", default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..))]
    pub harness_timeout: u64,
    /// Print the summary as one JSON object (schema sealtrail.replay/1).
    #[arg(long)]
    pub json: bool,
}

/// How often a replay waiting at a gate (`--regate`) looks for the approval.
const GATE_POLL: Duration = Duration::from_millis(200);

/// What a replay does.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// The original session.
    pub original: SessionId,
    /// The replay's session.
    pub replay: SessionId,
    /// `KEY=VALUE` overrides, as given.
    pub overrides: Vec<String>,
    /// Gates wait for a new approval.
    pub regate: bool,
    /// Nothing is executed.
    pub no_exec: bool,
    /// Model calls are answered from the original run.
    pub from_record: bool,
    /// Where steps are executed.
    pub workdir: Option<PathBuf>,
    /// The harness command line (run with `sh -c`).
    pub agent: String,
    /// How long the harness may stay silent while the replay waits for its next line.
    pub harness_timeout: Duration,
}

/// The log a replay writes to: borrowed from a caller that holds it open (the demo), or owned
/// with its directory, so that a gate can release it while a person approves (`--regate`).
pub enum LogSlot<'a> {
    /// Held by the caller for the whole replay.
    Borrowed(&'a Log),
    /// Opened from (and released to) a directory.
    Owned {
        /// The log directory.
        dir: PathBuf,
        /// The open log; `None` while released.
        log: Option<Log>,
    },
}

impl LogSlot<'_> {
    fn log(&mut self) -> Result<&Log> {
        match self {
            LogSlot::Borrowed(l) => Ok(l),
            LogSlot::Owned { dir, log } => {
                if log.is_none() {
                    *log = Some(open_log(dir)?);
                }
                log.as_ref().ok_or_else(|| anyhow!("log not open"))
            }
        }
    }
}

/// What a replay did (`--json`: schema `sealtrail.replay/1`, SPEC §13.13).
#[derive(Debug, Clone, Default)]
pub struct ReplaySummary {
    /// Always [`SCHEMA`].
    pub schema: &'static str,
    /// The replay's session.
    pub session: String,
    /// The original session.
    pub replay_of: String,
    /// Entries written.
    pub entries: u64,
    /// Steps reused from the original.
    pub reused: u64,
    /// Steps executed.
    pub executed: u64,
    /// Requests refused.
    pub refused: u64,
    /// Model calls.
    pub model_calls: ModelCalls,
    /// Gates.
    pub gates: Gates,
    /// Original steps a replay cannot reproduce from record.
    pub unreplayable: Vec<Unreplayable>,
    /// `completed` or `failed`.
    pub outcome: &'static str,
    /// Why it failed.
    pub error: Option<String>,
    /// The replay's first and last entries.
    pub first_entry: Option<u64>,
    /// The last entry written.
    pub last_entry: Option<u64>,
}

impl ReplaySummary {
    /// The JSON form (schema `sealtrail.replay/1`, SPEC §13.13).
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = json!({
            "schema": self.schema,
            "session": self.session,
            "replay_of": self.replay_of,
            "entries": self.entries,
            "first_entry": self.first_entry,
            "last_entry": self.last_entry,
            "reused": self.reused,
            "executed": self.executed,
            "refused": self.refused,
            "model_calls": {
                "reported": self.model_calls.reported,
                "from_record": self.model_calls.from_record,
            },
            "gates": {
                "reused": self.gates.reused,
                "approved": self.gates.approved,
                "rejected": self.gates.rejected,
            },
            "unreplayable": serde_json::to_value(&self.unreplayable).unwrap_or_default(),
            "outcome": self.outcome,
        });
        if let Some(e) = &self.error {
            v["error"] = json!(e);
        }
        v
    }
}

/// Model calls of a replay.
#[derive(Debug, Clone, Default)]
pub struct ModelCalls {
    /// Reported by the harness.
    pub reported: u64,
    /// Answered from the original run.
    pub from_record: u64,
}

/// Gates of a replay.
#[derive(Debug, Clone, Default)]
pub struct Gates {
    /// Passed by reference to the original approval.
    pub reused: u64,
    /// Approved during the replay.
    pub approved: u64,
    /// Rejected during the replay.
    pub rejected: u64,
}

/// `sealtrail replay`.
pub fn replay(a: &ReplayArgs) -> Result<Status> {
    let key = load_secret(&a.key)?;
    let original = SessionId::new(&a.session).map_err(|e| anyhow!("--session: {e}"))?;
    for o in &a.overrides {
        if o.split_once('=').is_none_or(|(k, _)| k.trim().is_empty()) {
            return Err(anyhow!("--override {o}: expected KEY=VALUE"));
        }
    }
    let mut slot = LogSlot::Owned {
        dir: a.log.clone(),
        log: None,
    };
    let replay = match &a.replay_session {
        Some(s) => SessionId::new(s).map_err(|e| anyhow!("--replay-session: {e}"))?,
        None => next_replay_id(slot.log()?, &original)?,
    };
    let opts = ReplayOptions {
        original,
        replay,
        overrides: a.overrides.clone(),
        regate: a.regate,
        no_exec: a.no_exec,
        from_record: a.from_record,
        workdir: a.workdir.clone(),
        agent: a.agent.clone(),
        harness_timeout: Duration::from_secs(a.harness_timeout),
    };
    let summary = run(&mut slot, &key, &opts)?;
    if a.json {
        emit(json_line(&summary.to_json()))?;
    } else {
        emit(format!(
            "replay {} of {}: {} ({} entries: {} reused, {} executed, {} refused; {} model calls reported, {} from record; gates {} reused, {} approved, {} rejected)",
            summary.session,
            summary.replay_of,
            summary.outcome,
            summary.entries,
            summary.reused,
            summary.executed,
            summary.refused,
            summary.model_calls.reported,
            summary.model_calls.from_record,
            summary.gates.reused,
            summary.gates.approved,
            summary.gates.rejected,
        ))?;
        if let Some(e) = &summary.error {
            emit(format!("  error: {e}"))?;
        }
        emit(format!(
            "  compare: sealtrail compare --log {} {} {}",
            a.log.display(),
            summary.replay_of,
            summary.session
        ))?;
    }
    match &summary.error {
        None => Ok(Status::Ok),
        Some(e) => Err(invalid(format!("replay {} failed: {e}", summary.session))),
    }
}

/// The first `<original>.replay-<n>` the log has no entries of.
pub fn next_replay_id(log: &Log, original: &SessionId) -> Result<SessionId> {
    for n in 1..10_000 {
        let id = SessionId::new(&format!("{}.replay-{n}", original.as_str()))?;
        if log.session(&id)?.is_empty() {
            return Ok(id);
        }
    }
    Err(anyhow!("{original}: no free replay session id"))
}

// Why a replay stopped early.
enum Stop {
    Protocol(ProtocolError),
    OutOfOrder(String),
    Harness(String),
    Fatal(anyhow::Error),
}

impl Stop {
    fn describe(&self) -> String {
        match self {
            Stop::Protocol(e) => format!("protocol error ({}): {e}", e.code()),
            Stop::OutOfOrder(m) => format!("protocol error (out_of_order): {m}"),
            Stop::Harness(m) => m.clone(),
            Stop::Fatal(e) => format!("{e:#}"),
        }
    }
}

impl From<anyhow::Error> for Stop {
    fn from(e: anyhow::Error) -> Self {
        Stop::Fatal(e)
    }
}

struct Runner<'s, 'a> {
    slot: &'s mut LogSlot<'a>,
    key: &'s SecretKey,
    opts: &'s ReplayOptions,
    original: OriginalRun,
    patches: PatchState,
    summary: ReplaySummary,
}

/// Replays `opts.original` through the harness `opts.agent`, recording into the log in `slot`.
/// A harness that breaks the protocol or dies ends the replay with a recorded `failure_seen`
/// and `session_ended` (status `failed`); the summary says so. An error is returned only when
/// nothing could be started (no such session, the harness cannot be started) or the log
/// refuses to record.
pub fn run(slot: &mut LogSlot<'_>, key: &SecretKey, opts: &ReplayOptions) -> Result<ReplaySummary> {
    let log = slot.log()?;
    let suite = log.suite();
    if !log.session(&opts.replay)?.is_empty() {
        return Err(invalid(format!(
            "session {} already has entries: a replay needs a session of its own",
            opts.replay
        )));
    }
    let events = session_events(log, &opts.original)
        .map_err(|e| invalid(format!("--session {}: {e}", opts.original)))?;
    let original = OriginalRun::index(suite, &events)
        .map_err(|e| invalid(format!("session {}: {e}", opts.original)))?;
    // Grouped by reason: a session recorded by digest only has one line per reason, not
    // one per call.
    let mut grouped: Vec<(&str, &str, Vec<u64>)> = Vec::new();
    for u in &original.unreplayable {
        match grouped
            .iter_mut()
            .find(|(k, r, _)| *k == u.kind && *r == u.reason)
        {
            Some((_, _, seqs)) => seqs.push(u.seq),
            None => grouped.push((&u.kind, &u.reason, vec![u.seq])),
        }
    }
    for (kind, reason, seqs) in grouped {
        let list: Vec<String> = seqs.iter().take(12).map(u64::to_string).collect();
        let more = if seqs.len() > 12 { ", …" } else { "" };
        eprintln!(
            "sealtrail replay: {} {kind} step(s) cannot be replayed from record: {reason} (entries {}{more})",
            seqs.len(),
            list.join(", ")
        );
    }
    // In a process group of its own, so that stopping it stops whatever it started (`sh -c`
    // runs the harness as a grandchild, which would otherwise outlive a kill of the shell and
    // keep our standard error open).
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(&opts.agent)
        .process_group(0)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("--agent {:?}: cannot start the harness", opts.agent))?;
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(anyhow!(
            "the harness's standard input and output are not pipes"
        ));
    };
    let mut runner = Runner {
        slot,
        key,
        opts,
        summary: ReplaySummary {
            schema: SCHEMA,
            session: opts.replay.as_str().to_owned(),
            replay_of: opts.original.as_str().to_owned(),
            unreplayable: original.unreplayable.clone(),
            outcome: "completed",
            ..ReplaySummary::default()
        },
        original,
        patches: PatchState::default(),
    };
    let mut io = HarnessIo {
        stdin: Some(stdin),
        lines: read_lines(stdout),
        timeout: opts.harness_timeout,
    };
    let result = runner.start().and_then(|()| runner.converse(&mut io));
    if let Err(stop) = result {
        runner.fail(io, &mut child, &stop)?;
    } else {
        io.stdin = None;
        let _ = child.wait();
    }
    Ok(runner.summary)
}

// Kills the harness's process group (its id is the harness's pid: `process_group(0)`), then
// the harness itself should the group be gone already.
fn kill_group(child: &mut Child) {
    // The shell's own `kill` (the harness runs under `sh` already; a `kill` binary may not be
    // installed).
    let _ = Command::new("sh")
        .arg("-c")
        .arg(format!("kill -KILL -{}", child.id()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let _ = child.kill();
}

struct HarnessIo {
    stdin: Option<ChildStdin>,
    // Lines of the harness's output, read by their own thread so that waiting for one can time
    // out: each at most MAX_LINE + 2 bytes (a longer one is cut there and refused below).
    lines: mpsc::Receiver<std::io::Result<Vec<u8>>>,
    timeout: Duration,
}

// Reads the harness's output line by line on a thread of its own, until the end of the output,
// an error, or the receiver is gone. The thread ends when the harness's output closes (the
// harness exits or is killed).
fn read_lines(stdout: ChildStdout) -> mpsc::Receiver<std::io::Result<Vec<u8>>> {
    let (tx, rx) = mpsc::sync_channel(1);
    std::thread::spawn(move || {
        let mut stdout = BufReader::new(stdout);
        loop {
            let mut buf = Vec::new();
            let read = (&mut stdout)
                .take(MAX_LINE as u64 + 2)
                .read_until(b'\n', &mut buf);
            let done = !matches!(read, Ok(n) if n > 0);
            if tx.send(read.map(|_| buf)).is_err() || done {
                return;
            }
        }
    });
    rx
}

impl HarnessIo {
    fn send(&mut self, m: &RunnerMessage) -> Result<(), Stop> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| Stop::Harness("the harness's input is closed".into()))?;
        stdin
            .write_all(m.to_line().as_bytes())
            .and_then(|()| stdin.flush())
            .map_err(|e| Stop::Harness(format!("the harness stopped reading its input ({e})")))
    }

    // One line, at most MAX_LINE bytes; `None` at end of output.
    fn receive(&mut self) -> Result<Option<Vec<u8>>, Stop> {
        let mut buf = match self.lines.recv_timeout(self.timeout) {
            Ok(read) => {
                read.map_err(|e| Stop::Harness(format!("reading the harness's output: {e}")))?
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                return Err(Stop::Harness(format!(
                    "the harness sent nothing for {} s (--harness-timeout)",
                    self.timeout.as_secs()
                )));
            }
            // The reader ended after the end of the output: still the end.
            Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(None),
        };
        if buf.is_empty() {
            return Ok(None);
        }
        if buf.last() == Some(&b'\n') {
            buf.pop();
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
        }
        if buf.len() > MAX_LINE {
            return Err(Stop::Protocol(ProtocolError::LineTooLong {
                limit: MAX_LINE,
            }));
        }
        Ok(Some(buf))
    }

    fn next_message(&mut self) -> Result<HarnessMessage, Stop> {
        loop {
            match self.receive()? {
                None => {
                    return Err(Stop::Harness(
                        "the harness closed its output before `end`".into(),
                    ));
                }
                Some(line) if line.iter().all(u8::is_ascii_whitespace) => continue,
                Some(line) => return parse_harness_line(&line).map_err(Stop::Protocol),
            }
        }
    }
}

impl Runner<'_, '_> {
    fn log(&mut self) -> Result<&Log> {
        self.slot.log()
    }

    fn put(&mut self, event: &Event, links: Vec<Link>) -> Result<Receipt> {
        let record = event
            .to_record()
            .map_err(|e| invalid(e.to_string()))?
            .session(&self.opts.replay)
            .links(links);
        let key = self.key;
        let r = self
            .log()?
            .append(key, record)
            .map_err(|e| anyhow!("{e}"))?;
        self.summary.entries += 1;
        self.summary.first_entry.get_or_insert(r.seq);
        self.summary.last_entry = Some(r.seq);
        self.patches.observe(event);
        Ok(r)
    }

    fn link_to(&mut self, seq: u64) -> Result<Link> {
        let e = self
            .log()?
            .read(seq)?
            .ok_or_else(|| anyhow!("entry {seq} is not in the log"))?;
        Ok(Link { seq, hash: e.hash })
    }

    fn start(&mut self) -> Result<(), Stop> {
        let (seq, s) = self.original.started.clone();
        let link = self.link_to(seq)?;
        let started = SessionStarted {
            replay_of: Some(link),
            overrides: self.opts.overrides.clone(),
            ..s
        };
        self.put(&Event::SessionStarted(started), Vec::new())?;
        Ok(())
    }

    fn task(&mut self) -> Result<Task> {
        let suite = self.log()?.suite().name().to_owned();
        let s = &self.original.started.1;
        Ok(Task {
            suite,
            objective: s.objective.clone(),
            scope: s.scope.clone(),
            exclusions: s.exclusions.clone(),
            required_checks: s.required_checks.clone(),
            base_commit: s.base_commit.clone(),
            agent_name: s.agent_name.clone(),
            agent_version: s.agent_version.clone(),
            context: self.original.context.clone(),
            overrides: self
                .opts
                .overrides
                .iter()
                .filter_map(|o| o.split_once('='))
                .map(|(k, v)| (k.trim().to_owned(), v.to_owned()))
                .collect(),
            from_record: self.opts.from_record,
            regate: self.opts.regate,
            no_exec: self.opts.no_exec,
        })
    }

    fn converse(&mut self, io: &mut HarnessIo) -> Result<(), Stop> {
        io.send(&RunnerMessage::Hello {
            protocol: PROTOCOL.into(),
            session: self.opts.replay.as_str().into(),
            replay_of: self.opts.original.as_str().into(),
        })?;
        match io.next_message()? {
            HarnessMessage::Hello(_) => {}
            other => {
                return Err(Stop::OutOfOrder(format!(
                    "expected the harness's `hello`, got `{}`",
                    message_type(&other)
                )));
            }
        }
        let task = self.task()?;
        io.send(&RunnerMessage::Task(task))?;
        loop {
            let message = io.next_message()?;
            let answer = match message {
                HarnessMessage::Hello(_) => {
                    return Err(Stop::OutOfOrder("a second `hello`".into()));
                }
                HarnessMessage::Step(s) => self.step(&s)?,
                HarnessMessage::ModelCall(m) => {
                    let event = Event::ModelCall(m.to_event(self.log()?.suite()));
                    let r = self.put(&event, Vec::new())?;
                    self.summary.model_calls.reported += 1;
                    RunnerMessage::Recorded {
                        id: m.id,
                        entry: r.seq,
                    }
                }
                HarnessMessage::ModelRequest(m) => self.model_request(&m)?,
                HarnessMessage::Record(r) => self.record(&r)?,
                HarnessMessage::Gate(g) => self.gate(&g)?,
                HarnessMessage::End(e) => {
                    let status = match e.status.as_str() {
                        "completed" => SessionStatus::Completed,
                        "failed" => SessionStatus::Failed,
                        "abandoned" => SessionStatus::Abandoned,
                        "handed_off" => SessionStatus::HandedOff,
                        other => {
                            return Err(Stop::Protocol(ProtocolError::BadMessage {
                                message: "end".into(),
                                reason: format!(
                                    "status {other:?}: expected completed, failed, abandoned or handed_off"
                                ),
                            }));
                        }
                    };
                    let r = self.put(
                        &Event::SessionEnded(SessionEnded {
                            status,
                            summary: e.summary.clone(),
                        }),
                        Vec::new(),
                    )?;
                    io.send(&RunnerMessage::Ended {
                        id: e.id,
                        entry: r.seq,
                    })?;
                    return Ok(());
                }
            };
            if matches!(answer, RunnerMessage::Refused { .. }) {
                self.summary.refused += 1;
            }
            io.send(&answer)?;
        }
    }

    // The harness broke the protocol or died: say so, stop it, and record the end.
    fn fail(&mut self, mut io: HarnessIo, child: &mut Child, stop: &Stop) -> Result<()> {
        let message = stop.describe();
        if let Stop::Protocol(e) = stop {
            let _ = io.send(&RunnerMessage::Error {
                code: e.code().into(),
                message: e.to_string(),
            });
        } else if let Stop::OutOfOrder(m) = stop {
            let _ = io.send(&RunnerMessage::Error {
                code: "out_of_order".into(),
                message: m.clone(),
            });
        }
        // Both pipes closed: a harness still writing or reading stops.
        drop(io);
        // Our own child: give it a moment to exit on its closed input, then stop it.
        let deadline = Instant::now() + Duration::from_secs(2);
        let status = loop {
            match child.try_wait() {
                Ok(Some(s)) => break Some(s),
                Ok(None) if Instant::now() < deadline => std::thread::sleep(GATE_POLL / 4),
                _ => {
                    kill_group(child);
                    break child.wait().ok();
                }
            }
        };
        let message = match (stop, status) {
            (Stop::Harness(_), Some(s)) => format!("{message} (harness {s})"),
            _ => message,
        };
        self.summary.outcome = "failed";
        self.summary.error = Some(message.clone());
        let failure = self.put(
            &Event::FailureSeen(FailureSeen {
                error: format!("replay of {} stopped: {message}", self.opts.original),
                command: Some(self.opts.agent.clone()),
                suspected_cause: None,
            }),
            Vec::new(),
        )?;
        self.put(
            &Event::SessionEnded(SessionEnded {
                status: SessionStatus::Failed,
                summary: Some(message),
            }),
            vec![failure.link()],
        )?;
        Ok(())
    }

    fn refuse(&self, id: u64, reason: String) -> RunnerMessage {
        RunnerMessage::Refused { id, reason }
    }

    fn step(&mut self, s: &StepRequest) -> Result<RunnerMessage, Stop> {
        let suite = self.log()?.suite();
        let input = s.input(suite).map_err(Stop::Protocol)?;
        let state = self.patches.state(suite);
        let digest = input_digest(suite, &input, state.as_ref());
        let mut answer = StepAnswer {
            id: s.id,
            input_digest: digest.to_hex(),
            ..StepAnswer::default()
        };
        if let Some((seq, event)) = self.original.take_step(&digest) {
            let link = self.link_to(seq)?;
            let r = self.put(&event, vec![link])?;
            self.summary.reused += 1;
            answer.status = Some(StepStatus::Reused);
            answer.entry = r.seq;
            answer.original = Some(seq);
            describe_reused(&event, &mut answer);
            return Ok(RunnerMessage::Result(answer));
        }
        let deterministic = match &input {
            StepInput::Tool { name, .. } => DETERMINISTIC_TOOLS.contains(&name.as_str()),
            _ => true,
        };
        if !deterministic {
            return Ok(self.refuse(
                s.id,
                format!(
                    "no original step has input digest {digest}, and tool {:?} is not deterministic: a replay never performs an external action",
                    s.name.as_deref().unwrap_or("")
                ),
            ));
        }
        if self.opts.no_exec {
            return Ok(self.refuse(
                s.id,
                format!("--no-exec: no original step has input digest {digest}, so it would have to be executed"),
            ));
        }
        let Some(workdir) = self.opts.workdir.clone() else {
            return Ok(self.refuse(
                s.id,
                format!("no original step has input digest {digest}, and no --workdir was given to execute it in"),
            ));
        };
        let executed = match execute(suite, &workdir, s, &input) {
            Ok(x) => x,
            Err(reason) => return Ok(self.refuse(s.id, reason)),
        };
        let r = self.put(&executed.event, Vec::new())?;
        self.summary.executed += 1;
        let mut answer = executed.answer;
        answer.id = s.id;
        answer.input_digest = digest.to_hex();
        answer.status = Some(StepStatus::Executed);
        answer.entry = r.seq;
        Ok(RunnerMessage::Result(answer))
    }

    fn model_request(&mut self, m: &ModelRequest) -> Result<RunnerMessage, Stop> {
        if !self.opts.from_record {
            return Ok(self.refuse(
                m.id,
                "model_request is answered only under --from-record; report your own calls with model_call".into(),
            ));
        }
        let suite = self.log()?.suite();
        let Some((seq, call)) = self.original.take_model_call() else {
            return Ok(self.refuse(m.id, "the original run made no further model call".into()));
        };
        if content_digest(suite, m.prompt.as_bytes()) != call.prompt_digest {
            return Ok(self.refuse(
                m.id,
                format!("the prompt differs from the original call's (entry {seq}): the runs have diverged"),
            ));
        }
        let event = Event::ModelCall(call.clone());
        let response = match (&call.response, event.content_mismatch(suite)) {
            (Some(r), None) => String::from_utf8_lossy(r).into_owned(),
            (None, _) => {
                return Ok(self.refuse(
                    m.id,
                    format!("the original call (entry {seq}) recorded its response by digest only"),
                ));
            }
            (Some(_), Some(field)) => {
                return Ok(self.refuse(
                    m.id,
                    format!(
                        "the original call's (entry {seq}) kept {field} does not match its digest"
                    ),
                ));
            }
        };
        let link = self.link_to(seq)?;
        let r = self.put(&event, vec![link])?;
        self.summary.model_calls.from_record += 1;
        self.summary.reused += 1;
        Ok(RunnerMessage::ModelResponse {
            id: m.id,
            entry: r.seq,
            original: seq,
            model: call
                .response_model
                .clone()
                .unwrap_or_else(|| call.request_model.clone()),
            response,
        })
    }

    fn record(&mut self, r: &RecordRequest) -> Result<RunnerMessage, Stop> {
        let suite = self.log()?.suite();
        let parsed = {
            let log = self.log()?;
            let resolve = |seq: u64| log.read(seq).ok().flatten().map(|e| e.hash);
            from_json(&r.event, suite, &resolve)
        };
        let parsed = match parsed {
            Ok(p) => p,
            Err(e) => return Ok(self.refuse(r.id, format!("event: {e}"))),
        };
        if matches!(
            parsed.event,
            Event::SessionStarted(_)
                | Event::SessionEnded(_)
                | Event::ModelCall(_)
                | Event::ToolCall(_)
                | Event::CommandRun(_)
                | Event::FileRead(_)
                | Event::GateRequested(_)
                | Event::Approval(_)
        ) {
            return Ok(self.refuse(
                r.id,
                format!(
                    "a {} is recorded through its own message, not `record` (SPEC §13.13)",
                    parsed.event.kind_str()
                ),
            ));
        }
        if parsed
            .session
            .as_ref()
            .is_some_and(|s| s != &self.opts.replay)
        {
            return Ok(self.refuse(
                r.id,
                "an event of a replay belongs to the replay's session".into(),
            ));
        }
        let links = parsed.links.clone();
        let entry = self.put(&parsed.event, links)?;
        Ok(RunnerMessage::Recorded {
            id: r.id,
            entry: entry.seq,
        })
    }

    fn gate(&mut self, g: &GateRequest) -> Result<RunnerMessage, Stop> {
        let gate = match Gate::from_name(&g.gate) {
            Ok(gate) => gate,
            Err(e) => return Ok(self.refuse(g.id, format!("gate {:?}: {e}", g.gate))),
        };
        let mut artifacts = Vec::with_capacity(g.artifacts.len().min(1_024));
        for d in &g.artifacts {
            let mut b = [0u8; 32];
            if hex::decode_to_slice(d, &mut b).is_err() {
                return Ok(self.refuse(
                    g.id,
                    format!("artifact {d:?}: expected 64 hexadecimal digits"),
                ));
            }
            artifacts.push(Digest(b));
        }
        artifacts.sort();
        artifacts.dedup();
        if artifacts.is_empty() {
            return Ok(self.refuse(g.id, "a gate names the artifacts to approve".into()));
        }
        let mut request = GateRequested::new(gate.clone(), &Subjects::artifacts(artifacts.clone()));
        request.summary = g.summary.clone();
        if !self.opts.regate {
            let Some((approval, approved)) = self.original.take_approval(gate.as_str()) else {
                return Ok(self.refuse(
                    g.id,
                    format!("the original run has no further approval of gate {gate} to reuse; replay with --regate to ask for one"),
                ));
            };
            let link = self.link_to(approval)?;
            let r = self.put(&Event::GateRequested(request), vec![link])?;
            self.summary.gates.reused += 1;
            let mut approved = approved;
            approved.sort();
            return Ok(RunnerMessage::Gate(GateAnswer {
                id: g.id,
                status: GateStatus::Reused,
                entry: r.seq,
                approval,
                same_artifacts: approved == artifacts,
            }));
        }
        let r = self.put(&Event::GateRequested(request), Vec::new())?;
        let (approval, verdict, covered) = self.wait_for_approval(&gate, r.seq)?;
        let status = if verdict {
            self.summary.gates.approved += 1;
            GateStatus::Approved
        } else {
            self.summary.gates.rejected += 1;
            GateStatus::Rejected
        };
        Ok(RunnerMessage::Gate(GateAnswer {
            id: g.id,
            status,
            entry: r.seq,
            approval,
            same_artifacts: covered == artifacts,
        }))
    }

    // --regate: release the log, and look for an approval linking `gate_seq` until one comes.
    fn wait_for_approval(
        &mut self,
        gate: &Gate,
        gate_seq: u64,
    ) -> Result<(u64, bool, Vec<Digest>)> {
        let LogSlot::Owned { dir, log } = &mut *self.slot else {
            return Err(anyhow!("--regate needs the log by its directory"));
        };
        eprintln!(
            "sealtrail replay: waiting at gate {gate} (entry {gate_seq}): approve it with\n  sealtrail approve --log {} --key APPROVER.key --gate {gate} --meaning approval --entry {gate_seq}",
            dir.display()
        );
        let mut next = gate_seq + 1;
        loop {
            let l = match log.take() {
                Some(l) => l,
                None => open_log(dir)?,
            };
            while next < l.len() {
                let e = l
                    .read(next)?
                    .ok_or_else(|| anyhow!("entry {next} is missing"))?;
                next += 1;
                if e.header().kind.as_str() != "approval"
                    || !e.header().links.iter().any(|x| x.seq == gate_seq)
                {
                    continue;
                }
                let Some(data) = e.payload.data() else {
                    continue;
                };
                if let Ok(Event::Approval(a)) = Event::decode(&e.header().kind, data) {
                    if a.gate() == gate {
                        let mut covered = a.artifacts().to_vec();
                        covered.sort();
                        let approve = a.decision() == sealtrail::approval::Verdict::Approve;
                        *log = Some(l);
                        return Ok((e.seq(), approve, covered));
                    }
                }
            }
            // Released while a person approves with `sealtrail approve`.
            drop(l);
            std::thread::sleep(GATE_POLL);
        }
    }
}

fn message_type(m: &HarnessMessage) -> &'static str {
    match m {
        HarnessMessage::Hello(_) => "hello",
        HarnessMessage::Step(_) => "step",
        HarnessMessage::ModelCall(_) => "model_call",
        HarnessMessage::ModelRequest(_) => "model_request",
        HarnessMessage::Record(_) => "record",
        HarnessMessage::Gate(_) => "gate",
        HarnessMessage::End(_) => "end",
    }
}

// What a reused entry tells the harness.
fn describe_reused(event: &Event, a: &mut StepAnswer) {
    match event {
        Event::CommandRun(c) => {
            a.exit_code = c.exit_code;
            a.digest = c.stdout_digest.map(|d| d.to_hex());
            a.note = Some("the original kept standard output by digest only".into());
        }
        Event::FileRead(f) => {
            a.digest = Some(f.digest.to_hex());
            a.note = Some("the original kept the file by digest only".into());
        }
        Event::ToolCall(t) => {
            a.digest = t.result_digest.map(|d| d.to_hex());
            a.outcome = t.outcome.map(|o| {
                match o {
                    ToolOutcome::Error => "error",
                    _ => "ok",
                }
                .to_owned()
            });
            match &t.result {
                Some(r) => {
                    let (text, cut) = bounded(r);
                    a.content = Some(text);
                    a.truncated = cut;
                }
                None => a.note = Some("the original kept the result by digest only".into()),
            }
        }
        _ => {}
    }
}

fn bounded(bytes: &[u8]) -> (String, bool) {
    let cut = bytes.len() > MAX_CONTENT;
    let b = &bytes[..bytes.len().min(MAX_CONTENT)];
    (String::from_utf8_lossy(b).into_owned(), cut)
}

struct Executed {
    event: Event,
    answer: StepAnswer,
}

// A path inside the work directory: relative, no `..`, no root.
fn inside(workdir: &Path, rel: &str) -> Result<PathBuf, String> {
    let p = Path::new(rel);
    if rel.is_empty()
        || p.components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(format!(
            "path {rel:?}: must be relative to the work directory, without `..`"
        ));
    }
    Ok(workdir.join(p))
}

fn execute(
    suite: sealtrail::Suite,
    workdir: &Path,
    s: &StepRequest,
    input: &StepInput,
) -> Result<Executed, String> {
    let mut answer = StepAnswer::default();
    let started = Instant::now();
    let event = match input {
        StepInput::Command { command, cwd } => {
            let dir = match cwd {
                Some(c) => inside(workdir, c)?,
                None => workdir.to_path_buf(),
            };
            let out = Command::new("sh")
                .arg("-c")
                .arg(command)
                .current_dir(&dir)
                .stdin(Stdio::null())
                .output()
                .map_err(|e| format!("cannot run {command:?} in {}: {e}", dir.display()))?;
            let (text, cut) = bounded(&out.stdout);
            let stdout_digest = content_digest(suite, &out.stdout);
            answer.exit_code = out.status.code().map(i64::from);
            answer.stdout = Some(text);
            answer.truncated = cut;
            answer.digest = Some(stdout_digest.to_hex());
            Event::CommandRun(CommandRun {
                command: command.clone(),
                exit_code: answer.exit_code,
                duration_ms: started.elapsed().as_millis() as u64,
                stdout_digest: Some(stdout_digest),
                stderr_digest: Some(content_digest(suite, &out.stderr)),
                cwd: cwd.clone(),
            })
        }
        StepInput::FileRead { path } => {
            let bytes = read_bounded(&inside(workdir, path)?)?;
            let digest = content_digest(suite, &bytes);
            let (text, cut) = bounded(&bytes);
            answer.content = Some(text);
            answer.truncated = cut;
            answer.digest = Some(digest.to_hex());
            Event::FileRead(FileRead {
                path: path.clone(),
                digest,
                reason: None,
            })
        }
        StepInput::Tool { name, arguments } => {
            let args = s.arguments.as_deref().unwrap_or("");
            let (result, paths) = match name.as_str() {
                "apply_patch" => apply_patch(workdir, args)?,
                _ => {
                    let v: serde_json::Value = serde_json::from_str(args)
                        .map_err(|e| format!("read_file arguments: {e}"))?;
                    let path = v
                        .get("path")
                        .and_then(serde_json::Value::as_str)
                        .ok_or("read_file arguments: expected {\"path\": …}")?;
                    let bytes = read_bounded(&inside(workdir, path)?)?;
                    (bytes, vec![path.to_owned()])
                }
            };
            let digest = content_digest(suite, &result);
            let (text, cut) = bounded(&result);
            answer.content = Some(text);
            answer.truncated = cut;
            answer.digest = Some(digest.to_hex());
            answer.outcome = Some("ok".into());
            Event::ToolCall(ToolCall {
                name: name.clone(),
                call_id: s.call_id.clone().unwrap_or_default(),
                tool_type: Some("function".into()),
                arguments_digest: *arguments,
                result_digest: Some(digest),
                outcome: Some(ToolOutcome::Ok),
                duration_ms: Some(started.elapsed().as_millis() as u64),
                paths: if s.paths.is_empty() {
                    paths
                } else {
                    s.paths.clone()
                },
                arguments: Some(args.as_bytes().to_vec()),
                result: Some(result),
            })
        }
    };
    Ok(Executed { event, answer })
}

// Files the replay reads: at most 64 MiB.
fn read_bounded(path: &Path) -> Result<Vec<u8>, String> {
    const LIMIT: u64 = 64 << 20;
    let f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut bytes = Vec::new();
    f.take(LIMIT + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if bytes.len() as u64 > LIMIT {
        return Err(format!("{}: larger than 64 MiB", path.display()));
    }
    Ok(bytes)
}

// `apply_patch`: {"files": [{"path": P, "content": C}, …]}, each written whole.
fn apply_patch(workdir: &Path, args: &str) -> Result<(Vec<u8>, Vec<String>), String> {
    let v: serde_json::Value =
        serde_json::from_str(args).map_err(|e| format!("apply_patch arguments: {e}"))?;
    let files = v
        .get("files")
        .and_then(serde_json::Value::as_array)
        .ok_or("apply_patch arguments: expected {\"files\": [{\"path\": …, \"content\": …}]}")?;
    let mut written = Vec::new();
    for f in files {
        let (Some(path), Some(content)) = (
            f.get("path").and_then(serde_json::Value::as_str),
            f.get("content").and_then(serde_json::Value::as_str),
        ) else {
            return Err("apply_patch: each file has a `path` and a `content` string".into());
        };
        let target = inside(workdir, path)?;
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        std::fs::write(&target, content).map_err(|e| format!("{}: {e}", target.display()))?;
        written.push(path.to_owned());
    }
    let result = format!("applied {} files: {}", written.len(), written.join(", "));
    Ok((result.into_bytes(), written))
}
