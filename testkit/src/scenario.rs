//! Two recorded sessions that show what the log is for, used by the tests and by demonstrations.
//!
//! - [`record_xbrl_session`]: an agent adds XBRL export beside a PDF renderer — 47 model calls,
//!   a library-versus-hand-built-XML decision, two human approvals, a dead end (9 of 12 tests
//!   pass), a diagnosis, a fix, a pull request opened as an external action.
//! - [`record_hidden_failure_session`]: "tests passed locally", but a required end-to-end check
//!   never ran because the preview service was down.
//!
//! Content (prompts, files, reports) is represented by digests of fixed descriptive bytes, so
//! every payload is the same on every run; only the salts, and hence entry hashes, differ.

use sealtrail::approval::{Approval, ApprovalProblem, Gate, Meaning, Subjects, Verdict};
use sealtrail::entry::SessionId;
use sealtrail::event::{
    Alternative, Artifact, Assumption, CommandRun, ContextLoaded, Cost, Decision, Event,
    EventError, FailureSeen, FileRead, GateRequested, Handoff, HandoffStatus, ModelCall, Outcome,
    Requirement, SessionEnded, SessionStarted, SessionStatus, ToolCall, ToolOutcome, Verification,
    content_digest,
};
use sealtrail::hash::Digest;
use sealtrail::keys::SecretKey;
use sealtrail::log::{AppendError, Log, Receipt};
use sealtrail::registry::Role;

/// The keys a scenario signs with, and the printed names it registers them under.
#[derive(Debug, Clone)]
pub struct ScenarioKeys<'a> {
    /// An owner key of the log: registers the other two if the log does not know them yet.
    pub owner: &'a SecretKey,
    /// The agent harness's key: signs every session event.
    pub recorder: &'a SecretKey,
    /// The developer's own key: signs the approvals.
    pub approver: &'a SecretKey,
    /// The developer's printed name, shown with every approval.
    pub approver_name: String,
    /// The name the harness key is registered under.
    pub recorder_name: String,
}

impl<'a> ScenarioKeys<'a> {
    /// Keys with the approver's printed name; the recorder is registered as `xbrl-agent harness`.
    pub fn new(
        owner: &'a SecretKey,
        recorder: &'a SecretKey,
        approver: &'a SecretKey,
        approver_name: &str,
    ) -> Self {
        ScenarioKeys {
            owner,
            recorder,
            approver,
            approver_name: approver_name.to_owned(),
            recorder_name: "xbrl-agent harness".to_owned(),
        }
    }
}

/// Why a scenario could not be recorded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScenarioError {
    /// The log refused an entry.
    #[error(transparent)]
    Append(#[from] AppendError),
    /// An event could not be encoded.
    #[error(transparent)]
    Event(#[from] EventError),
    /// An approval could not be built.
    #[error(transparent)]
    Approval(#[from] ApprovalProblem),
}

/// Where the XBRL session's landmarks landed.
#[derive(Debug, Clone)]
pub struct XbrlReceipts {
    /// `session_started`.
    pub session_started: Receipt,
    /// The spec summary artifact (the record the decision read).
    pub spec_summary: Receipt,
    /// The code analysis artifact.
    pub code_analysis: Receipt,
    /// The library-versus-hand-built-XML decision.
    pub decision: Receipt,
    /// The mapping design artifact.
    pub design: Receipt,
    /// The generated patchset.
    pub patchset: Receipt,
    /// The gate before file writes.
    pub file_write_gate: Receipt,
    /// The developer's approval of the file writes.
    pub file_write_approval: Receipt,
    /// The first `cargo test` result: 9 of 12 pass.
    pub first_verification: Receipt,
    /// The diagnosis of the 3 failures.
    pub failure: Receipt,
    /// The fix patchset.
    pub fix: Receipt,
    /// The second `cargo test` result: 12 of 12 pass.
    pub second_verification: Receipt,
    /// The gate before opening the pull request.
    pub pr_gate: Receipt,
    /// The developer's approval of the pull request.
    pub pr_approval: Receipt,
    /// The pull request's receipt (an `artifact` of type `pull_request`).
    pub pull_request: Receipt,
    /// `session_ended`.
    pub session_ended: Receipt,
    /// Model calls recorded.
    pub model_calls: u32,
    /// Artifacts recorded.
    pub artifacts: u32,
}

/// Where the hidden-failure session's landmarks landed.
#[derive(Debug, Clone)]
pub struct HiddenFailureReceipts {
    /// `session_started`.
    pub session_started: Receipt,
    /// The unit tests that passed locally.
    pub unit_tests: Receipt,
    /// The failed attempt to reach the preview service.
    pub preview_failure: Receipt,
    /// The required end-to-end check that did not run.
    pub e2e_not_run: Receipt,
    /// `session_ended`.
    pub session_ended: Receipt,
}

/// Registers the recorder and approver keys unless the log already knows them.
fn ensure_registered(log: &Log, keys: &ScenarioKeys<'_>) -> Result<(), ScenarioError> {
    let known = log.keys();
    for (key, role, name) in [
        (keys.recorder, Role::Recorder, &keys.recorder_name),
        (keys.approver, Role::Approver, &keys.approver_name),
    ] {
        if !known.iter().any(|k| k.key == key.key_id()) {
            log.register_key(keys.owner, key.key_id(), role, name)?;
        }
    }
    Ok(())
}

// Appends a session's events with the recorder key and counts what it records.
struct Session<'a> {
    log: &'a Log,
    keys: &'a ScenarioKeys<'a>,
    session: &'a SessionId,
    calls: u32,
    artifacts: u32,
    // Keep prompts, responses, tool arguments and results as content (SPEC §13.4.4).
    content: Content,
}

/// Whether a scenario keeps the content of model and tool calls in their payloads, or only
/// their digests (the default, and what most harnesses record).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    /// Digests only.
    DigestOnly,
    /// The content too (`prompt`, `response`, `arguments`, `result`), so that a replay from
    /// record can answer every call.
    Kept,
}

impl Session<'_> {
    fn kept(&self, content: &str) -> Option<Vec<u8>> {
        (self.content == Content::Kept).then(|| content.as_bytes().to_vec())
    }

    fn digest(&self, content: &str) -> Digest {
        content_digest(self.log.suite(), content.as_bytes())
    }

    fn put(&mut self, event: Event, links: &[Receipt]) -> Result<Receipt, ScenarioError> {
        match &event {
            Event::ModelCall(_) => self.calls += 1,
            Event::Artifact(_) => self.artifacts += 1,
            _ => {}
        }
        let record = event
            .to_record()?
            .session(self.session)
            .links(links.iter().map(Receipt::link));
        Ok(self.log.append(self.keys.recorder, record)?)
    }

    // One model call; token counts and cost follow from its number so every run is identical.
    fn call(&mut self, purpose: &str, links: &[Receipt]) -> Result<Receipt, ScenarioError> {
        let n = u64::from(self.calls);
        let input = 6_000 + 373 * n;
        let output = 350 + (97 * n) % 900;
        let cache_read = if n == 0 { 0 } else { 4_096 };
        let event = Event::ModelCall(ModelCall {
            provider: "anthropic".into(),
            request_model: "claude-sonnet-4-5".into(),
            response_model: Some("claude-sonnet-4-5-20250929".into()),
            response_id: Some(format!("msg_{:04}", n + 1)),
            finish_reasons: vec!["end_turn".into()],
            input_tokens: input,
            output_tokens: output,
            cache_read_input_tokens: Some(cache_read),
            cache_creation_input_tokens: Some(if n == 0 { 4_096 } else { 0 }),
            reasoning_output_tokens: None,
            temperature_milli: Some(200),
            seed: None,
            // 3 USD per million input tokens, 15 per million output: micros per token.
            cost: Some(Cost {
                currency: "USD".into(),
                micros: input * 3 + output * 15,
            }),
            prompt_digest: self.digest(&format!("prompt {n}: {purpose}")),
            response_digest: Some(self.digest(&format!("response {n}: {purpose}"))),
            duration_ms: Some(2_000 + (137 * n) % 5_000),
            purpose: Some(purpose.into()),
            prompt: self.kept(&format!("prompt {n}: {purpose}")),
            response: self.kept(&format!("response {n}: {purpose}")),
        });
        self.put(event, links)
    }

    // `count` model calls for one phase, each linked to the one before; the first to `links`.
    fn calls(
        &mut self,
        purpose: &str,
        count: u32,
        links: &[Receipt],
    ) -> Result<Receipt, ScenarioError> {
        let mut last = self.call(purpose, links)?;
        for _ in 1..count {
            last = self.call(purpose, &[last])?;
        }
        Ok(last)
    }

    fn artifact(
        &mut self,
        artifact_type: &str,
        name: &str,
        paths: &[&str],
        links: &[Receipt],
    ) -> Result<(Receipt, Digest), ScenarioError> {
        let digest = self.digest(&format!("{artifact_type}: {name}"));
        let media = match artifact_type {
            "patchset" => "text/x-diff",
            "test_result" => "application/junit+xml",
            _ => "text/markdown",
        };
        let event = Event::Artifact(Artifact {
            artifact_type: artifact_type.into(),
            name: Some(name.into()),
            uri: None,
            digest,
            size: 1_024 + 64 * name.len() as u64,
            paths: paths.iter().map(|p| p.to_string()).collect(),
            media_type: Some(media.into()),
        });
        Ok((self.put(event, links)?, digest))
    }

    fn read(&mut self, path: &str, reason: &str) -> Result<Receipt, ScenarioError> {
        let digest = self.digest(&format!("file {path}"));
        self.put(
            Event::FileRead(FileRead {
                path: path.into(),
                digest,
                reason: Some(reason.into()),
            }),
            &[],
        )
    }

    fn command(
        &mut self,
        command: &str,
        exit_code: i64,
        duration_ms: u64,
        links: &[Receipt],
    ) -> Result<Receipt, ScenarioError> {
        let event = Event::CommandRun(CommandRun {
            command: command.into(),
            exit_code: Some(exit_code),
            duration_ms,
            stdout_digest: Some(self.digest(&format!("stdout of {command} ({exit_code})"))),
            stderr_digest: Some(self.digest(&format!("stderr of {command} ({exit_code})"))),
            cwd: None,
        });
        self.put(event, links)
    }

    fn tool(
        &mut self,
        name: &str,
        call_id: &str,
        paths: &[&str],
        links: &[Receipt],
    ) -> Result<Receipt, ScenarioError> {
        let event = Event::ToolCall(ToolCall {
            name: name.into(),
            call_id: call_id.into(),
            tool_type: Some("function".into()),
            arguments_digest: self.digest(&format!("arguments of {call_id}")),
            result_digest: Some(self.digest(&format!("result of {call_id}"))),
            outcome: Some(ToolOutcome::Ok),
            duration_ms: Some(120),
            paths: paths.iter().map(|p| p.to_string()).collect(),
            arguments: self.kept(&format!("arguments of {call_id}")),
            result: self.kept(&format!("result of {call_id}")),
        });
        self.put(event, links)
    }

    // A gate request by the recorder, then the developer's approval with their own key.
    fn gate(
        &mut self,
        gate: Gate,
        meaning: Meaning,
        summary: &str,
        subjects: Subjects,
    ) -> Result<(Receipt, Receipt), ScenarioError> {
        let mut request = GateRequested::new(gate.clone(), &subjects);
        request.summary = Some(summary.into());
        let requested = self.put(Event::GateRequested(request), &[])?;
        let approval = Approval::new(gate, meaning, Verdict::Approve, subjects)?
            .with_signed_at(self.log.now());
        let record = Event::Approval(approval)
            .to_record()?
            .session(self.session)
            .link(requested.link());
        let approved = self.log.append(self.keys.approver, record)?;
        Ok((requested, approved))
    }
}

const XBRL_SCOPE: [&str; 5] = [
    "src/report/",
    "tests/report/",
    "docs/xbrl/",
    "Cargo.toml",
    "Cargo.lock",
];
const PATCHSET_PATHS: [&str; 6] = [
    "Cargo.lock",
    "Cargo.toml",
    "src/report/mod.rs",
    "src/report/xbrl/context.rs",
    "src/report/xbrl/facts.rs",
    "src/report/xbrl/mod.rs",
];

/// Records scenario 1, the XBRL export session, into `log` under `session`: the agent reads a
/// spec summary, analyses the code (3 model calls), decides between an XML library and
/// hand-built XML (a decision informed by the spec summary and the code analysis, with the
/// rejected alternative and why), designs a mapping (7 calls), generates code (16 calls, a
/// patchset artifact), stops at a `file_write` gate that the developer approves with their own
/// key, writes 12 tests, runs them (9 pass, 3 fail), diagnoses ("period reference must be a
/// duration, not an instant"), fixes, re-runs (12 pass), stops at a `pr_create` gate that the
/// developer approves, and opens the pull request (a tool call and a `pull_request` artifact
/// holding the receipt). 47 model calls, 2 approvals, 11 artifacts.
///
/// The recorder and approver keys are registered by `keys.owner` if the log does not know them.
pub fn record_xbrl_session(
    log: &Log,
    keys: &ScenarioKeys<'_>,
    session: &SessionId,
) -> Result<XbrlReceipts, ScenarioError> {
    record_xbrl_session_with(log, keys, session, Content::DigestOnly)
}

/// [`record_xbrl_session`], keeping the content of model and tool calls as `content` says:
/// with [`Content::Kept`], a replay from record (SPEC §13.13) can answer every model call.
pub fn record_xbrl_session_with(
    log: &Log,
    keys: &ScenarioKeys<'_>,
    session: &SessionId,
    content: Content,
) -> Result<XbrlReceipts, ScenarioError> {
    ensure_registered(log, keys)?;
    let mut s = Session {
        log,
        keys,
        session,
        calls: 0,
        artifacts: 0,
        content,
    };
    let session_started = s.put(
        Event::SessionStarted(SessionStarted {
            objective: "Add XBRL export beside the existing PDF renderer".into(),
            scope: XBRL_SCOPE.iter().map(|p| p.to_string()).collect(),
            exclusions: vec!["src/report/legacy/".into(), "**/*.pem".into()],
            required_checks: vec!["cargo test".into(), "xbrl taxonomy validation".into()],
            base_commit: Some("4f2c9e1d8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d".into()),
            agent_name: "xbrl-agent".into(),
            agent_version: Some("1.4.0".into()),
            agent_id: None,
            tags: vec!["new-feature".into()],
            ..SessionStarted::default()
        }),
        &[],
    )?;

    // Read the spec and summarise it (2 calls): the summary is the record later decisions use.
    let spec = s.put(
        Event::ContextLoaded(ContextLoaded {
            source: "docs/xbrl/xbrl-2.1-spec.html".into(),
            digest: s.digest("XBRL 2.1 specification"),
            reason: "the instance document rules: contexts, periods, units, facts".into(),
            data_source_id: None,
        }),
        &[session_started],
    )?;
    let summarised = s.calls("summarise the XBRL 2.1 spec", 2, &[spec])?;
    let (spec_summary, _) = s.artifact(
        "spec_summary",
        "XBRL 2.1 instance rules in one page",
        &[],
        &[spec, summarised],
    )?;

    // Analyse the code (3 calls over 3 files).
    let files = [
        (
            "src/report/mod.rs",
            "how reports are dispatched to renderers",
        ),
        ("src/report/pdf.rs", "what the PDF renderer walks"),
        ("src/report/model.rs", "the typed report model"),
    ];
    let mut analysed = Vec::new();
    for (path, reason) in files {
        let read = s.read(path, reason)?;
        analysed.push(s.call("analyse code", &[read])?);
    }
    let (code_analysis, _) = s.artifact(
        "code_analysis",
        "renderers share a typed report model",
        &[],
        &analysed,
    )?;

    // Decide: library or hand-built XML.
    s.call(
        "decide between an XML library and hand-built XML",
        &[spec_summary, code_analysis],
    )?;
    let decision = s.put(
        Event::Decision(Decision {
            question: "How should the XBRL instance document be written?".into(),
            chosen: "the quick-xml crate behind a typed XBRL layer".into(),
            rejected: vec![Alternative {
                option: "hand-built XML strings".into(),
                reason: "escaping and six namespace declarations would be re-implemented by hand, \
                         and malformed output would only show up in the taxonomy validator"
                    .into(),
            }],
            rationale: "the spec summary requires namespace-qualified contexts and units, and the \
                        code analysis shows a typed report model a writer can walk as the PDF \
                        renderer does"
                .into(),
        }),
        &[spec_summary, code_analysis],
    )?;
    s.put(
        Event::Assumption(Assumption {
            statement: "every reported amount is in one currency per report".into(),
            basis: Some("the report model has a single currency field".into()),
        }),
        &[code_analysis],
    )?;

    // Design the mapping (7 calls), generate the code (16 calls).
    let designed = s.calls("design the report-model-to-XBRL mapping", 7, &[decision])?;
    let (design, _) = s.artifact(
        "design",
        "report model to XBRL mapping",
        &[],
        &[decision, designed],
    )?;
    let generated = s.calls("generate the XBRL writer", 16, &[design])?;
    let (patchset, patch_digest) = s.artifact(
        "patchset",
        "xbrl writer",
        &PATCHSET_PATHS,
        &[decision, design, generated],
    )?;

    // Gate 1: the developer approves the file writes.
    let (file_write_gate, file_write_approval) = s.gate(
        Gate::FileWrite,
        Meaning::Approval,
        "write the XBRL writer (6 files)",
        Subjects::new([patchset.link()], [patch_digest]),
    )?;
    s.tool(
        "apply_patch",
        "toolu_0001",
        &PATCHSET_PATHS,
        &[patchset, file_write_approval],
    )?;

    // Write 12 tests (8 calls) and run them: 9 pass, 3 fail.
    let tests_written = s.calls("write tests for the XBRL writer", 8, &[patchset])?;
    let test_paths = ["tests/report/xbrl_export.rs"];
    let (tests_patch, _) = s.artifact(
        "patchset",
        "12 XBRL export tests",
        &test_paths,
        &[tests_written],
    )?;
    s.tool(
        "apply_patch",
        "toolu_0002",
        &test_paths,
        &[tests_patch, file_write_approval],
    )?;
    let first_run = s.command("cargo test -p report", 101, 38_400, &[tests_patch])?;
    let (first_report, first_digest) = s.artifact(
        "test_result",
        "cargo test: 9 passed, 3 failed",
        &[],
        &[first_run],
    )?;
    let first_verification = s.put(
        Event::Verification(Verification {
            passed: Some(9),
            failed: Some(3),
            command: Some("cargo test -p report".into()),
            duration_ms: Some(38_400),
            evidence_digest: Some(first_digest),
            ..Verification::ran("cargo test", Outcome::Fail, Requirement::Required)
        }),
        &[first_run, first_report],
    )?;

    // Diagnose (3 calls), fix (4 calls), re-run: 12 pass.
    let diagnosed = s.calls(
        "diagnose the failing period tests",
        3,
        &[first_verification],
    )?;
    let failure = s.put(
        Event::FailureSeen(FailureSeen {
            error: "3 of 12 tests failed: context_period_duration, context_period_quarter, \
                    facts_flow_amounts"
                .into(),
            command: Some("cargo test -p report".into()),
            suspected_cause: Some("period reference must be a duration, not an instant".into()),
        }),
        &[first_run, diagnosed],
    )?;
    let fixed = s.calls("fix the period contexts", 4, &[failure])?;
    let (fix, _) = s.artifact(
        "patchset",
        "flow facts use duration periods",
        &["src/report/xbrl/context.rs"],
        &[failure, fixed],
    )?;
    s.tool(
        "apply_patch",
        "toolu_0003",
        &["src/report/xbrl/context.rs"],
        &[fix, file_write_approval],
    )?;
    let second_run = s.command("cargo test -p report", 0, 41_200, &[fix])?;
    let (second_report, second_digest) =
        s.artifact("test_result", "cargo test: 12 passed", &[], &[second_run])?;
    let second_verification = s.put(
        Event::Verification(Verification {
            passed: Some(12),
            failed: Some(0),
            command: Some("cargo test -p report".into()),
            duration_ms: Some(41_200),
            evidence_digest: Some(second_digest),
            ..Verification::ran("cargo test", Outcome::Pass, Requirement::Required)
        }),
        &[second_run, second_report],
    )?;
    let validated = s.command(
        "xbrl-validate --taxonomy ifrs-2024 target/report.xbrl",
        0,
        6_300,
        &[fix],
    )?;
    let (validation_report, validation_digest) = s.artifact(
        "validation_report",
        "taxonomy validation: no errors",
        &[],
        &[validated],
    )?;
    s.put(
        Event::Verification(Verification {
            command: Some("xbrl-validate --taxonomy ifrs-2024 target/report.xbrl".into()),
            duration_ms: Some(6_300),
            evidence_digest: Some(validation_digest),
            ..Verification::ran(
                "xbrl taxonomy validation",
                Outcome::Pass,
                Requirement::Required,
            )
        }),
        &[validated, validation_report],
    )?;
    s.call(
        "check the results against the objective",
        &[second_verification],
    )?;

    // The pull request: description (2 calls), gate 2, the external action and its receipt.
    let described = s.calls(
        "write the pull request description",
        2,
        &[second_verification],
    )?;
    let (description, description_digest) = s.artifact(
        "pr_description",
        "Add XBRL export beside the PDF renderer",
        &[],
        &[described],
    )?;
    let (pr_gate, pr_approval) = s.gate(
        Gate::PrCreate,
        Meaning::Responsibility,
        "open the pull request with the writer, its tests and the fix",
        Subjects::new(
            [
                patchset.link(),
                tests_patch.link(),
                fix.link(),
                second_verification.link(),
                description.link(),
            ],
            [description_digest],
        ),
    )?;
    let opened = s.tool("create_pull_request", "toolu_0004", &[], &[pr_approval])?;
    let receipt_digest = s.digest("pull request 482 created");
    let pull_request = s.put(
        Event::Artifact(Artifact {
            artifact_type: "pull_request".into(),
            name: Some("Add XBRL export beside the PDF renderer".into()),
            uri: Some("https://git.example.com/acme/reports/pull/482".into()),
            digest: receipt_digest,
            size: 2_311,
            paths: Vec::new(),
            media_type: Some("application/json".into()),
        }),
        &[opened],
    )?;
    s.put(
        Event::Handoff(Handoff {
            status: HandoffStatus::ReadyForReview,
            summary: Some("XBRL export with 12 passing tests; taxonomy validation clean".into()),
            blockers: Vec::new(),
            open_risks: vec![
                "decimals attributes follow the PDF's rounding; not checked against a filer manual"
                    .into(),
                "src/report/xbrl/context.rs: period handling was wrong once".into(),
            ],
            next_action: Some("review pull request 482".into()),
        }),
        &[pull_request],
    )?;
    let session_ended = s.put(
        Event::SessionEnded(SessionEnded {
            status: SessionStatus::Completed,
            summary: None,
        }),
        &[],
    )?;
    Ok(XbrlReceipts {
        session_started,
        spec_summary,
        code_analysis,
        decision,
        design,
        patchset,
        file_write_gate,
        file_write_approval,
        first_verification,
        failure,
        fix,
        second_verification,
        pr_gate,
        pr_approval,
        pull_request,
        session_ended,
        model_calls: s.calls,
        artifacts: s.artifacts,
    })
}

/// Records scenario 2, the hidden test failure, into `log` under `session`: a fix to invite
/// links whose unit tests pass locally (`cargo test`, 41 s), while the required end-to-end check
/// `e2e invite-flow` never ran because the preview service was down. The session's verification
/// status is `missing_required_evidence`, not `complete`.
pub fn record_hidden_failure_session(
    log: &Log,
    keys: &ScenarioKeys<'_>,
    session: &SessionId,
) -> Result<HiddenFailureReceipts, ScenarioError> {
    ensure_registered(log, keys)?;
    let mut s = Session {
        log,
        keys,
        session,
        calls: 0,
        artifacts: 0,
        content: Content::DigestOnly,
    };
    let session_started = s.put(
        Event::SessionStarted(SessionStarted {
            objective: "Fix invite links that expire after one hour instead of 24".into(),
            scope: vec!["src/invite/".into(), "tests/".into()],
            exclusions: Vec::new(),
            required_checks: vec!["cargo test".into(), "e2e invite-flow".into()],
            base_commit: Some("9b1e0c7a3f5d2e4b6a8c0d1e2f3a4b5c6d7e8f90".into()),
            agent_name: "xbrl-agent".into(),
            agent_version: Some("1.4.0".into()),
            agent_id: None,
            ..SessionStarted::default()
        }),
        &[],
    )?;
    let read = s.read("src/invite/token.rs", "where the expiry is computed")?;
    let analysed = s.calls("find why invites expire early", 2, &[read])?;
    let written = s.calls("fix the expiry unit", 2, &[analysed])?;
    let (patch, _) = s.artifact(
        "patchset",
        "expiry in seconds, not minutes",
        &["src/invite/token.rs", "tests/invite_expiry.rs"],
        &[written],
    )?;
    let ran = s.command("cargo test", 0, 41_000, &[patch])?;
    let unit_tests = s.put(
        Event::Verification(Verification {
            passed: Some(57),
            failed: Some(0),
            command: Some("cargo test".into()),
            duration_ms: Some(41_000),
            ..Verification::ran("cargo test", Outcome::Pass, Requirement::Required)
        }),
        &[ran],
    )?;
    let probe = s.command(
        "curl -fsS https://preview.internal.example/health",
        7,
        2_000,
        &[],
    )?;
    let preview_failure = s.put(
        Event::FailureSeen(FailureSeen {
            error: "could not connect to the preview service (curl exit 7)".into(),
            command: Some("curl -fsS https://preview.internal.example/health".into()),
            suspected_cause: Some("the preview environment is down".into()),
        }),
        &[probe],
    )?;
    let e2e_not_run = s.put(
        Event::Verification(Verification::not_run(
            "e2e invite-flow",
            "preview service down",
            Requirement::Required,
        )),
        &[preview_failure],
    )?;
    s.put(
        Event::Handoff(Handoff {
            status: HandoffStatus::Blocked,
            summary: Some("tests passed locally".into()),
            blockers: vec!["e2e invite-flow needs the preview service".into()],
            open_risks: vec!["expiry across time zones is covered only by the e2e test".into()],
            next_action: Some("re-run e2e invite-flow once the preview service is back".into()),
        }),
        &[unit_tests, e2e_not_run],
    )?;
    let session_ended = s.put(
        Event::SessionEnded(SessionEnded {
            status: SessionStatus::HandedOff,
            summary: Some("tests passed locally".into()),
        }),
        &[],
    )?;
    Ok(HiddenFailureReceipts {
        session_started,
        unit_tests,
        preview_failure,
        e2e_not_run,
        session_ended,
    })
}
