//! The replay protocol's messages (SPEC §13.13): every harness message parses as the SPEC
//! shows it, every answer reads back, and each kind of bad line gets its own error code.

use sealtrail::replay::{
    GateAnswer, GateStatus, HarnessMessage, MAX_LINE, ProtocolError, RunnerMessage, StepAnswer,
    StepInput, StepKind, StepStatus, Task, input_digest, parse_harness_line, parse_runner_line,
};
use sealtrail::{Digest, Suite};

fn parse(line: &str) -> HarnessMessage {
    parse_harness_line(line.as_bytes()).unwrap_or_else(|e| panic!("{line}: {e}"))
}

#[test]
fn every_harness_message_parses() {
    assert!(matches!(
        parse(r#"{"type":"hello","protocol":"sealtrail.replay/1","agent":"xbrl-agent"}"#),
        HarnessMessage::Hello(h) if h.agent.as_deref() == Some("xbrl-agent")
    ));
    let HarnessMessage::Step(s) =
        parse(r#"{"type":"step","id":2,"kind":"file_read","path":"src/report/mod.rs"}"#)
    else {
        panic!()
    };
    assert_eq!(s.kind, Some(StepKind::FileRead));
    assert_eq!(
        s.input(Suite::Blake3).unwrap(),
        StepInput::FileRead {
            path: "src/report/mod.rs".into()
        }
    );
    let HarnessMessage::Step(t) = parse(
        r#"{"type":"step","id":3,"kind":"tool_call","name":"apply_patch","call_id":"t1","arguments":"{}","paths":["a.rs"]}"#,
    ) else {
        panic!()
    };
    assert!(
        matches!(t.input(Suite::Blake3).unwrap(), StepInput::Tool { name, .. } if name == "apply_patch")
    );
    let HarnessMessage::ModelCall(m) = parse(
        r#"{"type":"model_call","id":1,"provider":"anthropic","request_model":"claude-sonnet-4","response_model":"claude-sonnet-4-20250514","input_tokens":6000,"output_tokens":350,"cost":{"currency":"USD","micros":23250},"purpose":"summarise","prompt":"p","response":"r"}"#,
    ) else {
        panic!()
    };
    let event = m.to_event(Suite::Blake3);
    assert_eq!(event.response.as_deref(), Some(&b"r"[..]));
    assert_eq!(
        event.response_digest,
        Some(sealtrail::event::content_digest(Suite::Blake3, b"r"))
    );
    assert!(matches!(
        parse(r#"{"type":"model_request","id":4,"purpose":"x","prompt":"p"}"#),
        HarnessMessage::ModelRequest(r) if r.prompt == "p"
    ));
    assert!(matches!(
        parse(r#"{"type":"record","id":5,"event":{"kind":"decision","question":"q","chosen":"c","rationale":"r"}}"#),
        HarnessMessage::Record(r) if r.event["kind"] == "decision"
    ));
    assert!(matches!(
        parse(r#"{"type":"gate","id":6,"gate":"file_write","summary":"s","artifacts":["ab"]}"#),
        HarnessMessage::Gate(g) if g.gate == "file_write"
    ));
    assert!(matches!(
        parse(r#"{"type":"end","id":7,"status":"completed"}"#),
        HarnessMessage::End(e) if e.id == 7
    ));
}

#[test]
fn every_answer_reads_back() {
    let answers = [
        RunnerMessage::Hello {
            protocol: "sealtrail.replay/1".into(),
            session: "s.replay-1".into(),
            replay_of: "s".into(),
        },
        RunnerMessage::Task(Task {
            suite: "blake3".into(),
            objective: "o".into(),
            ..Task::default()
        }),
        RunnerMessage::Result(StepAnswer {
            id: 2,
            status: Some(StepStatus::Reused),
            entry: 9,
            original: Some(3),
            input_digest: "00".repeat(32),
            exit_code: Some(101),
            ..StepAnswer::default()
        }),
        RunnerMessage::Refused {
            id: 3,
            reason: "--no-exec".into(),
        },
        RunnerMessage::ModelResponse {
            id: 4,
            entry: 10,
            original: 4,
            model: "m".into(),
            response: "r".into(),
        },
        RunnerMessage::Recorded { id: 5, entry: 11 },
        RunnerMessage::Gate(GateAnswer {
            id: 6,
            status: GateStatus::Reused,
            entry: 12,
            approval: 43,
            same_artifacts: false,
        }),
        RunnerMessage::Ended { id: 7, entry: 13 },
        RunnerMessage::Error {
            code: "malformed".into(),
            message: "m".into(),
        },
    ];
    for a in answers {
        let line = a.to_line();
        assert!(line.ends_with('\n') && !line[..line.len() - 1].contains('\n'));
        assert_eq!(parse_runner_line(line.trim_end().as_bytes()).unwrap(), a);
    }
}

#[test]
fn each_kind_of_bad_line_has_its_error() {
    let code = |line: &[u8]| parse_harness_line(line).unwrap_err().code();
    assert_eq!(code(b"not json"), "malformed");
    assert_eq!(code(b"[1,2]"), "malformed");
    assert_eq!(code(br#"{"id":1}"#), "malformed");
    assert_eq!(code(br#"{"type":"teleport","id":1}"#), "unknown_message");
    assert_eq!(
        code(br#"{"type":"end","id":1,"status":"completed","extra":1}"#),
        "bad_message"
    );
    assert_eq!(
        code(br#"{"type":"end","id":"one","status":"x"}"#),
        "bad_message"
    );
    assert_eq!(
        code(br#"{"type":"hello","protocol":"sealtrail.replay/2"}"#),
        "version"
    );
    let mut long = br#"{"type":"end","id":1,"status":""#.to_vec();
    long.resize(MAX_LINE + 1, b'a');
    assert_eq!(
        parse_harness_line(&long).unwrap_err(),
        ProtocolError::LineTooLong { limit: MAX_LINE }
    );
    // A step without its kind's members is refused by name.
    let HarnessMessage::Step(s) = parse(r#"{"type":"step","id":1,"kind":"command_run"}"#) else {
        panic!()
    };
    assert_eq!(
        s.input(Suite::Blake3).unwrap_err().to_string(),
        "`step` message: member `command` is required and not blank"
    );
}

#[test]
fn an_input_digest_changes_with_any_byte_of_any_input() {
    let suite = Suite::Sha256;
    let base = StepInput::Command {
        command: "cargo test -p report".into(),
        cwd: None,
    };
    let d = input_digest(suite, &base, None);
    assert_eq!(d, input_digest(suite, &base, None));
    let changed = [
        input_digest(
            suite,
            &StepInput::Command {
                command: "cargo test -p reporu".into(),
                cwd: None,
            },
            None,
        ),
        input_digest(
            suite,
            &StepInput::Command {
                command: "cargo test -p report".into(),
                cwd: Some("".into()),
            },
            Some(&Digest([0; 32])),
        ),
        input_digest(suite, &base, Some(&Digest([0; 32]))),
        input_digest(Suite::Blake3, &base, None),
    ];
    for c in changed {
        assert_ne!(c, d);
    }
    // Fields are length-prefixed: moving a byte from one field to the next is another input.
    let a = StepInput::Command {
        command: "ab".into(),
        cwd: Some("c".into()),
    };
    let b = StepInput::Command {
        command: "a".into(),
        cwd: Some("bc".into()),
    };
    assert_ne!(input_digest(suite, &a, None), input_digest(suite, &b, None));
}
