//! `sealtrail replay-harness` (hidden): a scripted, deterministic agent harness that plays the
//! XBRL export session (the test kit's scenario 1) through the replay protocol (SPEC §13.13).
//!
//! It stands in for a real agent in the demo and the tests. Its "model" is scripted too: the
//! response to a call depends on the model asked for, and the harness acts on the responses as
//! an agent would. With the recorded model (or `--from-record`) it takes the original path —
//! the quick-xml library, 9 of 12 tests passing, a fix, a pull request. Given
//! `claude-sonnet-4`, the answer at the design decision is "hand-built XML strings", and the
//! harness writes a different writer whose real test and validation scripts (shell, run by
//! sealtrail in the work directory) fail differently and are fixed differently.

use std::io::{BufRead, BufReader, Write};

use anyhow::{Result, anyhow, bail};
use clap::Args;
use sealtrail::Suite;
use sealtrail::event::content_digest;
use sealtrail::replay::{
    EndRequest, GateRequest, GateStatus, HarnessHello, HarnessMessage, ModelCallReport,
    ModelRequest, PROTOCOL, RecordRequest, RunnerMessage, StepKind, StepRequest, Task,
    parse_runner_line,
};
use serde_json::{Value as Json, json};

use crate::common::Status;

/// `replay-harness`.
#[derive(Debug, Args)]
pub struct HarnessArgs {}

/// The model the original session used.
pub const RECORDED_MODEL: &str = "claude-sonnet-4-5";

const PATCHSET_PATHS: [&str; 6] = [
    "Cargo.lock",
    "Cargo.toml",
    "src/report/mod.rs",
    "src/report/xbrl/context.rs",
    "src/report/xbrl/facts.rs",
    "src/report/xbrl/mod.rs",
];

/// `sealtrail replay-harness`: speaks the protocol on standard input and output.
pub fn harness(_: &HarnessArgs) -> Result<Status> {
    let stdin = std::io::stdin();
    let mut h = Harness {
        input: BufReader::new(stdin.lock()),
        output: std::io::stdout().lock(),
        next_id: 0,
        calls: 0,
        suite: Suite::default(),
        model: RECORDED_MODEL.to_owned(),
        from_record: false,
    };
    h.play()?;
    Ok(Status::Ok)
}

struct Harness<R, W> {
    input: R,
    output: W,
    next_id: u64,
    calls: u64,
    suite: Suite,
    model: String,
    from_record: bool,
}

// A check's result, from the command's output when there is some, else from what the script
// expects of its own code.
struct Tally {
    passed: u64,
    failed: u64,
    exit: Option<i64>,
}

impl<R: BufRead, W: Write> Harness<R, W> {
    fn send(&mut self, m: &HarnessMessage) -> Result<()> {
        self.output.write_all(m.to_line().as_bytes())?;
        self.output.flush()?;
        Ok(())
    }

    fn receive(&mut self) -> Result<RunnerMessage> {
        let mut line = String::new();
        if self.input.read_line(&mut line)? == 0 {
            bail!("sealtrail closed the protocol");
        }
        let m = parse_runner_line(line.trim_end().as_bytes())?;
        if let RunnerMessage::Error { code, message } = &m {
            bail!("sealtrail reported a protocol error ({code}): {message}");
        }
        Ok(m)
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn ask(&mut self, m: HarnessMessage) -> Result<RunnerMessage> {
        self.send(&m)?;
        self.receive()
    }

    fn digest(&self, content: &str) -> String {
        content_digest(self.suite, content.as_bytes()).to_hex()
    }

    // One model call: asked of sealtrail under --from-record, else of the scripted model.
    fn call(&mut self, purpose: &str) -> Result<String> {
        let n = self.calls;
        self.calls += 1;
        let prompt = format!("prompt {n}: {purpose}");
        let id = self.id();
        if self.from_record {
            return match self.ask(HarnessMessage::ModelRequest(ModelRequest {
                id,
                purpose: Some(purpose.into()),
                prompt,
            }))? {
                RunnerMessage::ModelResponse { response, .. } => Ok(response),
                RunnerMessage::Refused { reason, .. } => {
                    bail!("model call {n} ({purpose}) cannot be answered from record: {reason}")
                }
                other => bail!("unexpected answer to model_request: {other:?}"),
            };
        }
        let response = scripted_response(&self.model, n, purpose);
        let input = 6_000 + 373 * n;
        let output = 350 + (97 * n) % 900;
        let report = ModelCallReport {
            id,
            provider: "anthropic".into(),
            request_model: self.model.clone(),
            response_model: Some(response_model(&self.model)),
            response_id: Some(format!("msg_{:04}", n + 1)),
            finish_reasons: vec!["end_turn".into()],
            input_tokens: input,
            output_tokens: output,
            cache_read_input_tokens: Some(if n == 0 { 0 } else { 4_096 }),
            cache_creation_input_tokens: Some(if n == 0 { 4_096 } else { 0 }),
            temperature_milli: Some(200),
            seed: None,
            // 3 USD per million input tokens and 15 per million output, for both models.
            cost: Some(sealtrail::event::Cost {
                currency: "USD".into(),
                micros: input * 3 + output * 15,
            }),
            duration_ms: Some(2_000 + (137 * n) % 5_000),
            purpose: Some(purpose.into()),
            prompt,
            response: response.clone(),
        };
        match self.ask(HarnessMessage::ModelCall(report))? {
            RunnerMessage::Recorded { .. } => Ok(response),
            other => bail!("unexpected answer to model_call: {other:?}"),
        }
    }

    fn calls(&mut self, purpose: &str, count: u32) -> Result<String> {
        let mut last = String::new();
        for _ in 0..count {
            last = self.call(purpose)?;
        }
        Ok(last)
    }

    fn record(&mut self, event: Json) -> Result<u64> {
        let id = self.id();
        match self.ask(HarnessMessage::Record(RecordRequest { id, event }))? {
            RunnerMessage::Recorded { entry, .. } => Ok(entry),
            RunnerMessage::Refused { reason, .. } => bail!("record refused: {reason}"),
            other => bail!("unexpected answer to record: {other:?}"),
        }
    }

    // An artifact whose content is `content`; returns its digest.
    fn artifact(
        &mut self,
        kind: &str,
        name: &str,
        paths: &[&str],
        content: &str,
    ) -> Result<String> {
        let digest = self.digest(content);
        let media = match kind {
            "patchset" => "text/x-diff",
            "test_result" => "application/junit+xml",
            _ => "text/markdown",
        };
        self.record(json!({
            "kind": "artifact",
            "type": kind,
            "name": name,
            "digest": digest,
            "size": 1_024 + 64 * name.len() as u64,
            "paths": paths,
            "media_type": media,
        }))?;
        Ok(digest)
    }

    // An artifact named as the recorded session names its content: "<type>: <name>".
    fn named_artifact(&mut self, kind: &str, name: &str, paths: &[&str]) -> Result<String> {
        self.artifact(kind, name, paths, &format!("{kind}: {name}"))
    }

    fn step(&mut self, mut s: StepRequest) -> Result<RunnerMessage> {
        s.id = self.id();
        self.ask(HarnessMessage::Step(s))
    }

    fn command(&mut self, command: &str, expected_failures: u64) -> Result<Tally> {
        let answer = self.step(StepRequest {
            kind: Some(StepKind::CommandRun),
            command: Some(command.into()),
            ..StepRequest::default()
        })?;
        let RunnerMessage::Result(r) = answer else {
            return Ok(Tally {
                passed: 0,
                failed: 0,
                exit: None,
            });
        };
        // "N passed, M failed" when the command ran now; otherwise what the script expects.
        let counted = r.stdout.as_deref().and_then(|out| {
            let line = out.lines().rev().find(|l| l.contains(" passed, "))?;
            let mut words = line.split_whitespace();
            let passed = words.next()?.parse().ok()?;
            let failed = words.nth(1)?.parse().ok()?;
            Some((passed, failed))
        });
        let (passed, failed) = match (counted, r.exit_code) {
            (Some(c), _) => c,
            (None, Some(0)) => (12, 0),
            (None, _) => (12 - expected_failures, expected_failures),
        };
        Ok(Tally {
            passed,
            failed,
            exit: r.exit_code,
        })
    }

    fn apply_patch(&mut self, call_id: &str, arguments: String, paths: &[&str]) -> Result<()> {
        match self.step(StepRequest {
            kind: Some(StepKind::ToolCall),
            name: Some("apply_patch".into()),
            call_id: Some(call_id.into()),
            arguments: Some(arguments),
            paths: paths.iter().map(|p| p.to_string()).collect(),
            ..StepRequest::default()
        })? {
            RunnerMessage::Result(_) => Ok(()),
            RunnerMessage::Refused { reason, .. } => bail!("apply_patch {call_id}: {reason}"),
            other => bail!("unexpected answer to step: {other:?}"),
        }
    }

    fn gate(&mut self, gate: &str, summary: &str, artifacts: Vec<String>) -> Result<()> {
        let id = self.id();
        match self.ask(HarnessMessage::Gate(GateRequest {
            id,
            gate: gate.into(),
            summary: Some(summary.into()),
            artifacts,
        }))? {
            RunnerMessage::Gate(g) if g.status != GateStatus::Rejected => Ok(()),
            RunnerMessage::Gate(_) => bail!("gate {gate}: rejected"),
            RunnerMessage::Refused { reason, .. } => bail!("gate {gate}: {reason}"),
            other => bail!("unexpected answer to gate: {other:?}"),
        }
    }

    fn verification(
        &mut self,
        check: &str,
        command: &str,
        t: &Tally,
        evidence: &str,
    ) -> Result<()> {
        let pass = t.exit == Some(0);
        let mut v = json!({
            "kind": "verification",
            "check": check,
            "outcome": if pass { "pass" } else { "fail" },
            "requirement": "required",
            "command": command,
            "evidence_digest": evidence,
        });
        if check == "cargo test" {
            v["passed"] = json!(t.passed);
            v["failed"] = json!(t.failed);
        }
        self.record(v)?;
        Ok(())
    }

    fn play(&mut self) -> Result<()> {
        let RunnerMessage::Hello { protocol, .. } = self.receive()? else {
            bail!("expected sealtrail's hello");
        };
        if protocol != PROTOCOL {
            bail!("sealtrail speaks {protocol}, this harness {PROTOCOL}");
        }
        self.send(&HarnessMessage::Hello(HarnessHello {
            protocol: PROTOCOL.into(),
            agent: Some("xbrl-agent (scripted)".into()),
        }))?;
        let RunnerMessage::Task(task) = self.receive()? else {
            bail!("expected the task");
        };
        self.setup(&task)?;
        self.shared_start(&task)?;
        let decision = self.call("decide between an XML library and hand-built XML")?;
        let hand_built = decision.contains("choose: hand-built XML");
        if hand_built {
            self.hand_built()?;
        } else {
            self.library()?;
        }
        let id = self.id();
        match self.ask(HarnessMessage::End(EndRequest {
            id,
            status: "completed".into(),
            summary: None,
        }))? {
            RunnerMessage::Ended { .. } => Ok(()),
            other => Err(anyhow!("unexpected answer to end: {other:?}")),
        }
    }

    fn setup(&mut self, task: &Task) -> Result<()> {
        self.suite = task
            .suite
            .parse()
            .map_err(|_| anyhow!("unknown suite {:?}", task.suite))?;
        self.from_record = task.from_record;
        if let Some(m) = task.overrides.get("model") {
            self.model = m.clone();
        }
        Ok(())
    }

    // What every path does before the design decision: the spec and the code.
    fn shared_start(&mut self, task: &Task) -> Result<()> {
        for c in &task.context {
            self.record(json!({
                "kind": "context_loaded",
                "source": c.source,
                "digest": c.digest,
                "reason": c.reason,
            }))?;
        }
        self.calls("summarise the XBRL 2.1 spec", 2)?;
        self.named_artifact("spec_summary", "XBRL 2.1 instance rules in one page", &[])?;
        for path in [
            "src/report/mod.rs",
            "src/report/pdf.rs",
            "src/report/model.rs",
        ] {
            self.step(StepRequest {
                kind: Some(StepKind::FileRead),
                path: Some(path.into()),
                ..StepRequest::default()
            })?;
            self.call("analyse code")?;
        }
        self.named_artifact("code_analysis", "renderers share a typed report model", &[])?;
        Ok(())
    }

    // The recorded path: the quick-xml crate.
    fn library(&mut self) -> Result<()> {
        self.record(json!({
            "kind": "decision",
            "question": "How should the XBRL instance document be written?",
            "chosen": "the quick-xml crate behind a typed XBRL layer",
            "rejected": [{
                "option": "hand-built XML strings",
                "reason": "escaping and six namespace declarations would be re-implemented by hand, \
                           and malformed output would only show up in the taxonomy validator",
            }],
            "rationale": "the spec summary requires namespace-qualified contexts and units, and the \
                          code analysis shows a typed report model a writer can walk as the PDF \
                          renderer does",
        }))?;
        self.assumption()?;
        self.calls("design the report-model-to-XBRL mapping", 7)?;
        self.named_artifact("design", "report model to XBRL mapping", &[])?;
        self.calls("generate the XBRL writer", 16)?;
        let patch = self.named_artifact("patchset", "xbrl writer", &PATCHSET_PATHS)?;
        self.gate("file_write", "write the XBRL writer (6 files)", vec![patch])?;
        self.apply_patch(
            "toolu_0001",
            "arguments of toolu_0001".into(),
            &PATCHSET_PATHS,
        )?;
        self.calls("write tests for the XBRL writer", 8)?;
        let tests = ["tests/report/xbrl_export.rs"];
        self.named_artifact("patchset", "12 XBRL export tests", &tests)?;
        self.apply_patch("toolu_0002", "arguments of toolu_0002".into(), &tests)?;
        let test = "cargo test -p report";
        let first = self.command(test, 3)?;
        let report = self.test_report(&first)?;
        self.verification("cargo test", test, &first, &report)?;
        if first.exit != Some(0) {
            self.calls("diagnose the failing period tests", 3)?;
            self.record(json!({
                "kind": "failure_seen",
                "error": "3 of 12 tests failed: context_period_duration, context_period_quarter, \
                          facts_flow_amounts",
                "command": test,
                "suspected_cause": "period reference must be a duration, not an instant",
            }))?;
            self.calls("fix the period contexts", 4)?;
            let fix = ["src/report/xbrl/context.rs"];
            self.named_artifact("patchset", "flow facts use duration periods", &fix)?;
            self.apply_patch("toolu_0003", "arguments of toolu_0003".into(), &fix)?;
            let second = self.command(test, 3)?;
            let report = self.test_report(&second)?;
            self.verification("cargo test", test, &second, &report)?;
        }
        let validate = "xbrl-validate --taxonomy ifrs-2024 target/report.xbrl";
        let v = self.command(validate, 0)?;
        let name = if v.exit == Some(0) {
            "taxonomy validation: no errors"
        } else {
            "taxonomy validation: errors"
        };
        let evidence = self.named_artifact("validation_report", name, &[])?;
        self.verification("xbrl taxonomy validation", validate, &v, &evidence)?;
        self.pull_request("Add XBRL export beside the PDF renderer", "toolu_0004")
    }

    // The path a model that prefers hand-built XML takes: real files, real (shell) tests.
    fn hand_built(&mut self) -> Result<()> {
        self.record(json!({
            "kind": "decision",
            "question": "How should the XBRL instance document be written?",
            "chosen": "hand-built XML strings behind a small writer",
            "rejected": [{
                "option": "the quick-xml crate behind a typed XBRL layer",
                "reason": "a new dependency for a document of a dozen element types",
            }],
            "rationale": "the instance document is small and flat, and the code analysis shows \
                          a typed report model the writer can walk directly",
        }))?;
        self.assumption()?;
        self.calls("design the report-model-to-XBRL mapping", 5)?;
        self.named_artifact("design", "report model to hand-built XBRL strings", &[])?;
        self.calls("generate the XBRL writer", 14)?;
        let writer = file_set(&[("src/report/xbrl/mod.rs", WRITER_V1)]);
        let paths = ["src/report/xbrl/mod.rs"];
        let patch = self.artifact("patchset", "hand-built xbrl writer", &paths, &writer)?;
        self.gate(
            "file_write",
            "write the hand-built XBRL writer (1 file)",
            vec![patch],
        )?;
        self.apply_patch("toolu_0001", writer, &paths)?;
        self.calls("write tests for the XBRL writer", 8)?;
        let tests = file_set(&[
            ("tests/report/xbrl_export.sh", TESTS),
            ("tests/report/validate.sh", VALIDATE),
        ]);
        let test_paths = ["tests/report/validate.sh", "tests/report/xbrl_export.sh"];
        self.artifact("patchset", "12 XBRL export tests", &test_paths, &tests)?;
        self.apply_patch("toolu_0002", tests, &test_paths)?;

        let test = "sh tests/report/xbrl_export.sh";
        let first = self.command(test, 2)?;
        let report = self.test_report(&first)?;
        self.verification("cargo test", test, &first, &report)?;
        if first.exit != Some(0) {
            self.calls("diagnose the failing escaping tests", 2)?;
            self.record(json!({
                "kind": "failure_seen",
                "error": format!("{} of 12 tests failed: labels_escape_ampersands, \
                                  values_escape_less_than", first.failed),
                "command": test,
                "suspected_cause": "hand-built strings do not escape & and <",
            }))?;
            self.calls("escape text in the hand-built writer", 3)?;
            let fix = file_set(&[
                ("src/report/xbrl/escape.rs", ESCAPE),
                ("src/report/xbrl/mod.rs", WRITER_V2),
            ]);
            let fix_paths = ["src/report/xbrl/escape.rs", "src/report/xbrl/mod.rs"];
            self.artifact("patchset", "escape text and values", &fix_paths, &fix)?;
            self.apply_patch("toolu_0003", fix, &fix_paths)?;
            let second = self.command(test, 2)?;
            let report = self.test_report(&second)?;
            self.verification("cargo test", test, &second, &report)?;
        }
        let validate = "sh tests/report/validate.sh";
        let v = self.command(validate, 0)?;
        let evidence = self.validation_report(&v)?;
        self.verification("xbrl taxonomy validation", validate, &v, &evidence)?;
        if v.exit != Some(0) {
            self.calls("diagnose the taxonomy validation errors", 1)?;
            self.record(json!({
                "kind": "failure_seen",
                "error": "taxonomy validation: undeclared namespace prefixes iso4217 and ifrs",
                "command": validate,
                "suspected_cause": "the hand-built root element declares only xbrli",
            }))?;
            self.calls("declare the namespaces", 2)?;
            let fix = file_set(&[("src/report/xbrl/mod.rs", WRITER_V3)]);
            let fix_paths = ["src/report/xbrl/mod.rs"];
            self.artifact("patchset", "declare every namespace", &fix_paths, &fix)?;
            self.apply_patch("toolu_0005", fix, &fix_paths)?;
            let again = self.command(validate, 0)?;
            let evidence = self.validation_report(&again)?;
            self.verification("xbrl taxonomy validation", validate, &again, &evidence)?;
        }
        self.pull_request(
            "Add XBRL export beside the PDF renderer (hand-built XML)",
            "toolu_0004",
        )
    }

    fn assumption(&mut self) -> Result<()> {
        self.record(json!({
            "kind": "assumption",
            "statement": "every reported amount is in one currency per report",
            "basis": "the report model has a single currency field",
        }))?;
        Ok(())
    }

    fn test_report(&mut self, t: &Tally) -> Result<String> {
        let name = if t.failed == 0 {
            format!("cargo test: {} passed", t.passed)
        } else {
            format!("cargo test: {} passed, {} failed", t.passed, t.failed)
        };
        self.named_artifact("test_result", &name, &[])
    }

    fn validation_report(&mut self, t: &Tally) -> Result<String> {
        let name = if t.exit == Some(0) {
            "taxonomy validation: no errors"
        } else {
            "taxonomy validation: undeclared namespace prefixes"
        };
        self.named_artifact("validation_report", name, &[])
    }

    // The check against the objective, the description, the gate, and the pull request: an
    // external action a replay reuses only when it is the original's, else never performs.
    fn pull_request(&mut self, title: &str, call_id: &str) -> Result<()> {
        self.call("check the results against the objective")?;
        self.calls("write the pull request description", 2)?;
        let description = self.named_artifact("pr_description", title, &[])?;
        self.gate(
            "pr_create",
            "open the pull request with the writer, its tests and the fix",
            vec![description.clone()],
        )?;
        let arguments = if title == "Add XBRL export beside the PDF renderer" {
            format!("arguments of {call_id}")
        } else {
            json!({"title": title, "description": description}).to_string()
        };
        let opened = self.step(StepRequest {
            kind: Some(StepKind::ToolCall),
            name: Some("create_pull_request".into()),
            call_id: Some(call_id.into()),
            arguments: Some(arguments),
            ..StepRequest::default()
        })?;
        let mut blockers = Vec::new();
        if let RunnerMessage::Result(_) = opened {
            self.record(json!({
                "kind": "artifact",
                "type": "pull_request",
                "name": title,
                "uri": "https://git.example.com/acme/reports/pull/482",
                "digest": self.digest("pull request 482 created"),
                "size": 2_311,
                "media_type": "application/json",
            }))?;
        } else {
            blockers.push("the pull request was not opened: a replay performs no external action");
        }
        self.record(json!({
            "kind": "handoff",
            "status": if blockers.is_empty() { "ready_for_review" } else { "blocked" },
            "summary": "XBRL export with 12 passing tests; taxonomy validation clean",
            "blockers": blockers,
            "open_risks": [
                "decimals attributes follow the PDF's rounding; not checked against a filer manual",
                "src/report/xbrl/context.rs: period handling was wrong once",
            ],
            "next_action": "review pull request 482",
        }))?;
        Ok(())
    }
}

// The scripted model: the recorded session's responses, except that claude-sonnet-4 answers
// differently, and at the design decision prefers hand-built XML.
fn scripted_response(model: &str, n: u64, purpose: &str) -> String {
    if model == "claude-sonnet-4" {
        let mut r = format!("response {n} ({model}): {purpose}");
        if purpose == "decide between an XML library and hand-built XML" {
            r.push_str("\nchoose: hand-built XML strings; the document is small and flat");
        }
        r
    } else {
        format!("response {n}: {purpose}")
    }
}

fn response_model(model: &str) -> String {
    match model {
        "claude-sonnet-4-5" => "claude-sonnet-4-5-20250929".into(),
        "claude-sonnet-4" => "claude-sonnet-4-20250514".into(),
        other => other.into(),
    }
}

// apply_patch's arguments (SPEC §13.13): the files, each written whole.
fn file_set(files: &[(&str, &str)]) -> String {
    let files: Vec<Json> = files
        .iter()
        .map(|(path, content)| json!({"path": path, "content": content}))
        .collect();
    json!({ "files": files }).to_string()
}

const WRITER_V1: &str = r#"// The XBRL instance writer: hand-built strings.
pub fn instance(report: &Report) -> String {
    let mut out = String::from("<xbrli:xbrl xmlns:xbrli=\"http://www.xbrl.org/2003/instance\">");
    out += "<xbrli:context id=\"c1\"><xbrli:period><xbrli:startDate/><xbrli:endDate/></xbrli:period></xbrli:context>";
    out += "<xbrli:unit id=\"u1\"><xbrli:measure>iso4217:EUR</xbrli:measure></xbrli:unit>";
    for fact in &report.facts {
        out += &format!("<ifrs:{0}>{1}</ifrs:{0}>", fact.name, fact.value);
    }
    out += "</xbrli:xbrl>";
    out
}
"#;

const WRITER_V2: &str = r#"// The XBRL instance writer: hand-built strings, text escaped.
mod escape;
pub fn instance(report: &Report) -> String {
    let mut out = String::from("<xbrli:xbrl xmlns:xbrli=\"http://www.xbrl.org/2003/instance\">");
    out += "<xbrli:context id=\"c1\"><xbrli:period><xbrli:startDate/><xbrli:endDate/></xbrli:period></xbrli:context>";
    out += "<xbrli:unit id=\"u1\"><xbrli:measure>iso4217:EUR</xbrli:measure></xbrli:unit>";
    for fact in &report.facts {
        out += &format!("<ifrs:{0}>{1}</ifrs:{0}>", fact.name, escape::text(&fact.value));
    }
    out += "</xbrli:xbrl>";
    out
}
"#;

const WRITER_V3: &str = r#"// The XBRL instance writer: hand-built strings, text escaped, every prefix declared.
mod escape;
pub fn instance(report: &Report) -> String {
    let mut out = String::from("<xbrli:xbrl xmlns:xbrli=\"http://www.xbrl.org/2003/instance\" xmlns:iso4217=\"http://www.xbrl.org/2003/iso4217\" xmlns:ifrs=\"https://xbrl.ifrs.org/taxonomy/2024\">");
    out += "<xbrli:context id=\"c1\"><xbrli:period><xbrli:startDate/><xbrli:endDate/></xbrli:period></xbrli:context>";
    out += "<xbrli:unit id=\"u1\"><xbrli:measure>iso4217:EUR</xbrli:measure></xbrli:unit>";
    for fact in &report.facts {
        out += &format!("<ifrs:{0}>{1}</ifrs:{0}>", fact.name, escape::text(&fact.value));
    }
    out += "</xbrli:xbrl>";
    out
}
"#;

const ESCAPE: &str = r#"// Text and attribute values: & first, then <.
pub fn text(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;")
}
"#;

const TESTS: &str = r#"#!/bin/sh
# The 12 XBRL export tests of the hand-built writer: what the written code must contain.
pass=0; fail=0
t() { if grep -rqF -- "$2" src/report/xbrl; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAILED $1"; fi; }
t root_element '<xbrli:xbrl'
t instance_namespace 'xmlns:xbrli='
t context_id '<xbrli:context id='
t context_period_start '<xbrli:startDate'
t context_period_end '<xbrli:endDate'
t unit_element '<xbrli:unit'
t unit_measure '<xbrli:measure>'
t facts_written '<ifrs:'
t facts_closed '</ifrs:'
t root_closed '</xbrli:xbrl>'
t labels_escape_ampersands '&amp;'
t values_escape_less_than '&lt;'
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
"#;

const VALIDATE: &str = r#"#!/bin/sh
# Taxonomy validation stand-in: every prefix the writer uses is declared on the root.
missing=""
for p in iso4217 ifrs; do
  grep -rqF -- "xmlns:$p=" src/report/xbrl || missing="$missing $p"
done
if [ -n "$missing" ]; then echo "undeclared namespace prefixes:$missing"; exit 1; fi
echo "no errors"
"#;
