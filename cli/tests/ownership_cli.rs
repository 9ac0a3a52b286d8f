//! Ownership and incidents on a real git repository made here (SPEC §13.15): `why --incident`
//! walks an incident back to its commit, session, prompt, decisions, evidence, review and merge;
//! `owner` names who owns a change and on what evidence.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sealtrail::event::{
    Alternative, Answer, ChangeRef, ChecklistAnswer, ChecklistItem, CommandRun, Decision, Event,
    Incident, IncidentResolved, Merge, Outcome, Requirement, Review, ReviewVerdict, SessionStarted,
    Verification,
};
use sealtrail::registry::Role;
use sealtrail::{Clock, Durability, Log, Receipt, SessionId, Timestamp};
use sealtrail_testkit::fixtures::{ORIGIN, approval_of, keys};

const DAY: u64 = 86_400_000_000_000;
// 2026-03-02T00:00:00Z, a Monday.
const START: u64 = 1_772_409_600 * 1_000_000_000;

fn sealtrail(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sealtrail"))
        .args(args)
        .output()
        .unwrap()
}

fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

fn git(repo: &Path, args: &[&str], author: (&str, &str), seconds: u64) -> String {
    let date = format!("@{seconds} +0000");
    let o = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .env("GIT_AUTHOR_NAME", author.0)
        .env("GIT_AUTHOR_EMAIL", author.1)
        .env("GIT_COMMITTER_NAME", author.0)
        .env("GIT_COMMITTER_EMAIL", author.1)
        .env("GIT_AUTHOR_DATE", &date)
        .env("GIT_COMMITTER_DATE", &date)
        .output()
        .unwrap_or_else(|e| panic!("git is needed for these tests (apt-get install git): {e}"));
    assert!(
        o.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

const DEV: (&str, &str) = ("Dev", "dev@example.com");

/// A git repository in a temporary directory.
struct Repo {
    path: PathBuf,
}

impl Repo {
    fn new(dir: &Path) -> Repo {
        let path = dir.join("repo");
        std::fs::create_dir(&path).unwrap();
        git(&path, &["init", "-q"], DEV, 0);
        Repo { path }
    }

    // Writes `lines` lines to `file`, commits with `message` by `author` at `seconds`, and
    // returns the commit id.
    fn commit(
        &self,
        file: &str,
        lines: usize,
        message: &str,
        author: (&str, &str),
        seconds: u64,
    ) -> String {
        let title = message.lines().next().unwrap_or_default();
        let body: String = (0..lines)
            .map(|i| format!("line {i} of {title}\n"))
            .collect();
        let p = self.path.join(file);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, body).unwrap();
        git(&self.path, &["add", "-A"], author, seconds);
        git(
            &self.path,
            &["commit", "-q", "-m", message],
            author,
            seconds,
        );
        git(&self.path, &["rev-parse", "HEAD"], author, seconds)
            .trim()
            .to_owned()
    }

    fn arg(&self) -> &str {
        self.path.to_str().unwrap()
    }
}

// A log on disk with a clock from `start` stepping one second per entry, the recorder, the owner
// of changes ("Release Approver") and a senior reviewer ("Security Lead").
fn new_log(
    path: &Path,
    start: u64,
) -> (Log, sealtrail_testkit::fixtures::Keys, sealtrail::SecretKey) {
    new_log_stepping(path, start, std::time::Duration::from_secs(1))
}

// `new_log` with the clock stepping `step` per entry (zero: every entry at `start`).
fn new_log_stepping(
    path: &Path,
    start: u64,
    step: std::time::Duration,
) -> (Log, sealtrail_testkit::fixtures::Keys, sealtrail::SecretKey) {
    let k = keys();
    let log = Log::builder()
        .durability(Durability::Immediate)
        .clock(Clock::stepping(Timestamp(start), step))
        .create(path, &k.owner, ORIGIN)
        .unwrap();
    log.register_key(
        &k.owner,
        k.recorder.key_id(),
        Role::Recorder,
        "build harness",
    )
    .unwrap();
    log.register_key(
        &k.owner,
        k.approver.key_id(),
        Role::Approver,
        "Release Approver",
    )
    .unwrap();
    let senior = sealtrail::SecretKey::from_seed("senior", &[11; 32]).unwrap();
    log.register_key(&k.owner, senior.key_id(), Role::Approver, "Security Lead")
        .unwrap();
    (log, k, senior)
}

fn change(commit: &str) -> ChangeRef {
    ChangeRef {
        commit: Some(commit.to_owned()),
        ..ChangeRef::default()
    }
}

struct Recorded {
    decision: Receipt,
    parent_run: Receipt,
    approval: Receipt,
    review: Receipt,
    merge: Receipt,
    incident: Receipt,
    resolved: Receipt,
}

#[test]
fn why_incident_walks_back_to_the_prompt_and_owner_names_the_merger() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Repo::new(dir.path());
    let base = repo.commit("README.md", 3, "Start", DEV, START / 1_000_000_000);
    let xbrl = repo.commit(
        "src/report/xbrl.rs",
        40,
        "Add XBRL export\n\nSealtrail-Session: xbrl-1",
        DEV,
        START / 1_000_000_000 + 3600,
    );
    let log_dir = dir.path().join("log");
    let (log, k, senior) = new_log(&log_dir, START + 2 * 3600 * 1_000_000_000);
    let s = SessionId::new("xbrl-1").unwrap();
    let rec =
        |e: &Event, links: &[sealtrail::Link]| log.append_event(&k.recorder, &s, e, links).unwrap();
    rec(
        &Event::SessionStarted(SessionStarted {
            objective: "Add XBRL output beside the PDF renderer".into(),
            required_checks: vec!["cargo test".into(), "e2e export".into()],
            agent_name: "claude-code".into(),
            tags: vec!["new-feature".into()],
            ..SessionStarted::default()
        }),
        &[],
    );
    let decision = rec(
        &Event::Decision(Decision {
            question: "How to write XBRL?".into(),
            chosen: "the xbrl crate".into(),
            rejected: vec![Alternative {
                option: "hand-built XML".into(),
                reason: "namespaces and escaping by hand".into(),
            }],
            rationale: "it validates against the taxonomy".into(),
        }),
        &[],
    );
    rec(
        &Event::Verification(Verification::ran(
            "cargo test",
            Outcome::Pass,
            Requirement::Required,
        )),
        &[],
    );
    let approval = log
        .append(&k.approver, approval_of(&log, &[decision]).session(&s))
        .unwrap();
    let parent_run = rec(
        &Event::CommandRun(CommandRun {
            command: format!("git checkout {base} && cargo test"),
            exit_code: Some(101),
            duration_ms: 9_000,
            ..CommandRun::default()
        }),
        &[],
    );
    let review = log
        .append_event(
            &senior,
            &SessionId::new("review-xbrl").unwrap(),
            &Event::Review(Review {
                change: change(&xbrl),
                verdict: ReviewVerdict::Approve,
                checklist: vec![
                    ChecklistAnswer {
                        item: ChecklistItem::NewDependency,
                        answer: Answer::Yes,
                        note: Some("the xbrl crate, see the decision".into()),
                        evidence: vec![decision.link()],
                    },
                    ChecklistAnswer {
                        item: ChecklistItem::TestsFailWithoutChange,
                        answer: Answer::Yes,
                        note: None,
                        evidence: vec![parent_run.link()],
                    },
                ],
                comment: None,
                entries: vec![decision.link()],
            }),
            &[],
        )
        .unwrap();
    let merge = log
        .append_event(
            &k.approver,
            &SessionId::new("review-xbrl").unwrap(),
            &Event::Merge(Merge {
                change: change(&xbrl),
                into: "main".into(),
                repository: None,
                merge_commit: None,
                paths: vec!["src/report/xbrl.rs".into()],
            }),
            &[],
        )
        .unwrap();
    let detected = merge.time.0 + 21 * DAY + 5 * 3600 * 1_000_000_000;
    let incident = log
        .append_event(
            &k.approver,
            &SessionId::new("inc-2041").unwrap(),
            &Event::Incident(Incident {
                id: "INC-2041".into(),
                severity: "sev2".into(),
                detected_at: detected,
                description: "quarterly filing rejected: period is an instant".into(),
                commits: vec![xbrl.clone()],
                sessions: vec!["xbrl-1".into(), "hotfix-9".into()],
            }),
            &[],
        )
        .unwrap();
    let resolved = log
        .append_event(
            &k.approver,
            &SessionId::new("inc-2041").unwrap(),
            &Event::IncidentResolved(IncidentResolved {
                id: "INC-2041".into(),
                resolution: Some("period written as a duration".into()),
                fix_commits: Vec::new(),
            }),
            &[],
        )
        .unwrap();
    let r = Recorded {
        decision,
        parent_run,
        approval,
        review,
        merge,
        incident,
        resolved,
    };
    drop(log);

    let l = log_dir.to_str().unwrap();
    let out = ok(sealtrail(&[
        "why",
        "--log",
        l,
        "--incident",
        "INC-2041",
        "--repo",
        repo.arg(),
        "--json",
    ]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["schema"], "sealtrail.lineage/1");
    assert_eq!(v["seq"], r.incident.seq);
    assert_eq!(v["id"], "INC-2041");
    assert_eq!(v["severity"], "sev2");
    assert_eq!(v["reported_by"], "Release Approver");
    assert_eq!(v["detected_at"], Timestamp(detected).to_rfc3339());
    assert_eq!(
        v["resolved"],
        serde_json::json!([r.resolved.seq, "period written as a duration"])
    );
    let commits = v["commits"].as_array().unwrap();
    assert_eq!(commits.len(), 1);
    let c = &commits[0];
    assert_eq!(c["commit"], xbrl);
    assert_eq!(c["origin"], "mixed", "its Sealtrail-Session trailer");
    assert_eq!(
        c["committed_at"],
        Timestamp(START + 3600 * 1_000_000_000).to_rfc3339()
    );
    // The session: by its trailer, and by the review that links its decision.
    let sessions = c["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1);
    let sess = &sessions[0];
    assert_eq!(sess["session"], "xbrl-1");
    assert_eq!(
        sess["found_by"],
        serde_json::json!(["trailer", "review", "incident"])
    );
    assert_eq!(sess["entries"], 5);
    assert_eq!(sess["objective"], "Add XBRL output beside the PDF renderer");
    assert_eq!(sess["tags"], serde_json::json!(["new-feature"]));
    assert_eq!(sess["agent"], "claude-code");
    assert_eq!(
        sess["decisions"],
        serde_json::json!([{
            "seq": r.decision.seq,
            "question": "How to write XBRL?",
            "chosen": "the xbrl crate",
            "rationale": "it validates against the taxonomy",
            "rejected": [["hand-built XML", "namespaces and escaping by hand"]],
        }])
    );
    // Verification evidence, and what was missing.
    assert_eq!(sess["verification"], "missing_required_evidence");
    assert_eq!(sess["passed_checks"], serde_json::json!(["cargo test"]));
    assert_eq!(sess["missing_checks"], serde_json::json!(["e2e export"]));
    assert_eq!(sess["failed_checks"], serde_json::json!([]));
    assert_eq!(
        sess["approvals"],
        serde_json::json!([[r.approval.seq, "Release Approver", "file_write", "approved"]])
    );
    // The reviewer, with the checklist's evidence.
    let reviews = c["reviews"].as_array().unwrap();
    assert_eq!(reviews.len(), 1);
    assert_eq!(reviews[0]["seq"], r.review.seq);
    assert_eq!(reviews[0]["reviewer"], "Security Lead");
    assert_eq!(reviews[0]["verdict"], "approve");
    assert_eq!(
        reviews[0]["checklist"],
        serde_json::json!([
            ["new_dependency", "yes", [r.decision.seq]],
            ["tests_fail_without_change", "yes", [r.parent_run.seq]],
        ])
    );
    // The merge and its owner, and the time to incident from the merge.
    assert_eq!(c["merge"]["seq"], r.merge.seq);
    assert_eq!(c["merge"]["merged_by"], "Release Approver");
    assert_eq!(c["merge"]["into"], "main");
    assert_eq!(c["owner"]["name"], "Release Approver");
    assert_eq!(c["owner"]["entry"], r.merge.seq);
    assert_eq!(c["time_to_incident"], 21 * DAY + 5 * 3600 * 1_000_000_000);
    assert_eq!(c["measured_from"], "merge");
    // A session the incident names that no commit leads to, and that the log does not hold.
    assert_eq!(v["other_sessions"][0]["session"], "hotfix-9");
    assert_eq!(v["other_sessions"][0]["entries"], 0);

    // For people.
    let text = ok(sealtrail(&[
        "why",
        "--log",
        l,
        "--incident",
        "INC-2041",
        "--repo",
        repo.arg(),
    ]));
    for line in [
        "# Incident INC-2041 (sev2)".to_owned(),
        format!("## Commit {xbrl}"),
        format!(
            "- merged into main by Release Approver at {} (entry {})",
            r.merge.time.to_rfc3339(),
            r.merge.seq
        ),
        "- time to incident: 21d 5h (from the merge)".to_owned(),
        "- prompt: Add XBRL output beside the PDF renderer".to_owned(),
        "  - rejected hand-built XML: namespaces and escaping by hand".to_owned(),
        "  - missing: e2e export".to_owned(),
        format!(
            "  - tests_fail_without_change: yes (evidence: entry {})",
            r.parent_run.seq
        ),
    ] {
        assert!(text.contains(&line), "missing {line:?} in:\n{text}");
    }

    // Who owns it: the person who merged, on the evidence of the merge entry.
    let out = ok(sealtrail(&[
        "owner",
        "--log",
        l,
        "--repo",
        repo.arg(),
        "HEAD",
        "--json",
    ]));
    let o: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(o["schema"], "sealtrail.owner/1");
    assert_eq!(o["commit"], xbrl);
    assert_eq!(o["owner"], "Release Approver");
    assert_eq!(o["entry"], r.merge.seq);
    assert_eq!(o["key"], k.approver.key_id().to_string());
    // No evidence for the base commit: said so, not guessed.
    let out = ok(sealtrail(&[
        "owner",
        "--log",
        l,
        "--repo",
        repo.arg(),
        "HEAD~1",
    ]));
    assert_eq!(
        out.trim_end(),
        format!(
            "{base}: no owner on record\n  no evidence: no merge and no approving review of \
             this commit is recorded"
        )
    );
    // An incident the log does not hold: exit 1, named.
    let o = sealtrail(&["why", "--log", l, "--incident", "INC-1"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no incident `INC-1`"));
}

const BOT: (&str, &str) = ("Claude", "noreply@anthropic.com");

// `report defects` on a history of two quarters with commits of every origin, checked against a
// table computed by hand:
//
// Q1 (from 2026-01-05, t0): h1 human 10 lines (t0), h2 human 30 (t0+1d), a1 agent 100 (t0+2d),
// a2 agent 100 (t0+3d, merged at t0+4d), m1 mixed 60 (t0+4d, session s-feat), m2 mixed 40
// (t0+5d, session s-refactor). Q2 (from 2026-04-06, t1): h3 human 50 (t1), a3 agent 200 (t1+1d,
// session s-feat2). INC-1 (t0+12d) implicates a1: 10 days; INC-2 (t0+8d) implicates m1 (4 days
// from its commit) and a2 (4 days from its merge); INC-3 (t1+21d) implicates a3: 20 days.
#[test]
fn report_defects_matches_a_hand_computed_table() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Repo::new(dir.path());
    let t0 = 1_767_571_200u64; // 2026-01-05T00:00:00Z
    let t1 = 1_775_433_600u64; // 2026-04-06T00:00:00Z
    let d = 86_400u64;
    let _h1 = repo.commit("h1.txt", 10, "h1", DEV, t0);
    let _h2 = repo.commit("h2.txt", 30, "h2", DEV, t0 + d);
    let a1 = repo.commit("a1.txt", 100, "a1", BOT, t0 + 2 * d);
    let a2 = repo.commit("a2.txt", 100, "a2", BOT, t0 + 3 * d);
    let m1 = repo.commit(
        "m1.txt",
        60,
        "m1\n\nAssisted-by: claude-code:claude-sonnet-4\nSealtrail-Session: s-feat",
        DEV,
        t0 + 4 * d,
    );
    let _m2 = repo.commit(
        "m2.txt",
        40,
        "m2\n\nSealtrail-Session: s-refactor",
        DEV,
        t0 + 5 * d,
    );
    let _h3 = repo.commit("h3.txt", 50, "h3", DEV, t1);
    let a3 = repo.commit(
        "a3.txt",
        200,
        "a3\n\nSealtrail-Session: s-feat2",
        BOT,
        t1 + d,
    );

    let log_dir = dir.path().join("log");
    let ns = 1_000_000_000u64;
    let (log, k, _senior) =
        new_log_stepping(&log_dir, (t0 + 4 * d) * ns, std::time::Duration::ZERO);
    for (session, tags) in [
        ("s-feat", vec!["new-feature"]),
        ("s-refactor", vec!["refactor"]),
        ("s-feat2", vec!["new-feature", "xbrl"]),
    ] {
        log.append_event(
            &k.recorder,
            &SessionId::new(session).unwrap(),
            &Event::SessionStarted(SessionStarted {
                objective: format!("work of {session}"),
                agent_name: "claude-code".into(),
                tags: tags.into_iter().map(String::from).collect(),
                ..SessionStarted::default()
            }),
            &[],
        )
        .unwrap();
    }
    let ops = SessionId::new("ops").unwrap();
    // a2 merged at t0+4d (the clock's time).
    log.append_event(
        &k.approver,
        &ops,
        &Event::Merge(Merge {
            change: change(&a2),
            into: "main".into(),
            repository: None,
            merge_commit: None,
            paths: Vec::new(),
        }),
        &[],
    )
    .unwrap();
    for (id, detected, commits) in [
        ("INC-1", t0 + 12 * d, vec![a1.clone()]),
        ("INC-2", t0 + 8 * d, vec![m1.clone(), a2.clone()]),
        ("INC-3", t1 + 21 * d, vec![a3.clone()]),
    ] {
        log.append_event(
            &k.approver,
            &ops,
            &Event::Incident(Incident {
                id: id.into(),
                severity: "sev3".into(),
                detected_at: detected * ns,
                description: format!("{id} broke"),
                commits,
                sessions: Vec::new(),
            }),
            &[],
        )
        .unwrap();
    }
    drop(log);

    let day = d * ns;
    let row = |period: &str,
               group: &str,
               commits: u64,
               lines: u64,
               incidents: u64,
               median: Option<u64>,
               p90: Option<u64>| {
        serde_json::json!({
            "period": period,
            "group": group,
            "commits": commits,
            "changed_lines": lines,
            "incidents": incidents,
            "incidents_per_commit": incidents as f64 / commits as f64,
            "incidents_per_kloc": incidents as f64 * 1000.0 / lines as f64,
            "median_time_to_incident": median.map(|x| x * day),
            "p90_time_to_incident": p90.map(|x| x * day),
        })
    };
    let l = log_dir.to_str().unwrap();
    let out = ok(sealtrail(&[
        "report",
        "defects",
        "--log",
        l,
        "--repo",
        repo.arg(),
        "--period",
        "quarter",
        "--json",
    ]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["schema"], "sealtrail.defects/1");
    assert_eq!(v["period"], "quarter");
    assert_eq!(v["by"], "origin");
    let expected = serde_json::json!([
        row("2026-Q1", "agent", 2, 200, 2, Some(4), Some(10)),
        row("2026-Q1", "human", 2, 40, 0, None, None),
        row("2026-Q1", "mixed", 2, 100, 1, Some(4), Some(4)),
        row("2026-Q1", "all", 6, 340, 2, Some(4), Some(10)),
        row("2026-Q2", "agent", 1, 200, 1, Some(20), Some(20)),
        row("2026-Q2", "human", 1, 50, 0, None, None),
        row("2026-Q2", "all", 2, 250, 1, Some(20), Some(20)),
    ]);
    assert_eq!(
        v["rows"],
        expected,
        "{}",
        serde_json::to_string_pretty(&v).unwrap()
    );

    let out = ok(sealtrail(&[
        "report",
        "defects",
        "--log",
        l,
        "--repo",
        repo.arg(),
        "--by",
        "prompt-tag",
        "--json",
    ]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["by"], "prompt_tag");
    let expected = serde_json::json!([
        row("2026-Q1", "(untagged)", 4, 240, 2, Some(4), Some(10)),
        row("2026-Q1", "new-feature", 1, 60, 1, Some(4), Some(4)),
        row("2026-Q1", "refactor", 1, 40, 0, None, None),
        row("2026-Q1", "all", 6, 340, 2, Some(4), Some(10)),
        row("2026-Q2", "(untagged)", 1, 50, 0, None, None),
        row("2026-Q2", "new-feature", 1, 200, 1, Some(20), Some(20)),
        row("2026-Q2", "xbrl", 1, 200, 1, Some(20), Some(20)),
        row("2026-Q2", "all", 2, 250, 1, Some(20), Some(20)),
    ]);
    assert_eq!(
        v["rows"],
        expected,
        "{}",
        serde_json::to_string_pretty(&v).unwrap()
    );

    let text = ok(sealtrail(&[
        "report",
        "defects",
        "--log",
        l,
        "--repo",
        repo.arg(),
    ]));
    for line in [
        "| period | origin | commits | changed lines | incidents | incidents/commit | incidents/kLOC | median days to incident | p90 days to incident |",
        "| 2026-Q1 | agent | 2 | 200 | 2 | 1.000 | 10.000 | 4.0 | 10.0 |",
        "| 2026-Q1 | human | 2 | 40 | 0 | 0.000 | 0.000 | — | — |",
        "| 2026-Q2 | all | 2 | 250 | 1 | 0.500 | 4.000 | 20.0 | 20.0 |",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }

    // The auditor's page with the same tables, drawn: one bar per row, its height the rate on a
    // scale from 0 to the highest rate rounded up to a quarter (1.00 here: 160 units).
    let page = dir.path().join("page.html");
    let out = sealtrail(&[
        "report",
        "--log",
        l,
        "--html",
        page.to_str().unwrap(),
        "--repo",
        repo.arg(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(&page).unwrap();
    let bars: Vec<(String, String, String)> = html
        .match_indices("data-period=\"")
        .map(|(i, _)| {
            let attr = |name: &str| {
                let rest = &html[i..];
                let start = rest.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
                rest[start..start + rest[start..].find('"').unwrap()].to_owned()
            };
            (attr("data-period"), attr("data-group"), attr("data-rate"))
        })
        .collect();
    let bar = |p: &str, g: &str, r: &str| (p.to_owned(), g.to_owned(), r.to_owned());
    assert_eq!(
        bars,
        vec![
            // By origin.
            bar("2026-Q1", "agent", "1.000"),
            bar("2026-Q1", "human", "0.000"),
            bar("2026-Q1", "mixed", "0.500"),
            bar("2026-Q1", "all", "0.333"),
            bar("2026-Q2", "agent", "1.000"),
            bar("2026-Q2", "human", "0.000"),
            bar("2026-Q2", "all", "0.500"),
            // By prompt tag.
            bar("2026-Q1", "(untagged)", "0.500"),
            bar("2026-Q1", "new-feature", "1.000"),
            bar("2026-Q1", "refactor", "0.000"),
            bar("2026-Q1", "all", "0.333"),
            bar("2026-Q2", "(untagged)", "0.000"),
            bar("2026-Q2", "new-feature", "1.000"),
            bar("2026-Q2", "xbrl", "1.000"),
            bar("2026-Q2", "all", "0.500"),
        ]
    );
    assert!(html.contains(
        "height=\"160\" fill=\"#e65100\" stroke=\"#333\" data-period=\"2026-Q1\" \
         data-group=\"agent\""
    ));
    assert!(html.contains(
        "height=\"80\" fill=\"#6a1b9a\" stroke=\"#333\" data-period=\"2026-Q1\" \
         data-group=\"mixed\""
    ));
    assert!(html.contains(
        "<tr><td>2026-Q1</td><td>agent</td><td>2</td><td>200</td><td>2</td><td>1.000</td>\
         <td>10.000</td><td>4.0</td><td>10.0</td></tr>"
    ));
    assert!(html.contains("<a href=\"#defects\">Defect rate by code origin</a>"));
}

// Writes a secret key file (mode 0600) for the CLI.
fn key_file(dir: &Path, name: &str, key: &sealtrail::SecretKey) -> String {
    use std::os::unix::fs::PermissionsExt as _;
    let path = dir.join(name);
    std::fs::write(&path, format!("{}\n", key.to_skey().as_str())).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path.display().to_string()
}

fn senior_findings(log: &str) -> Vec<serde_json::Value> {
    let o = sealtrail(&["verify", "--log", log, "--json"]);
    let report: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&o.stdout).lines().next().unwrap()).unwrap();
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == "senior_review")
        .cloned()
        .collect()
}

// `review-policy set|show`: the owner declares the policy from the CLI; only an owner key may,
// senior keys must be the log's active approvers, and the verifier then judges merges by it —
// including a merge that lists no paths.
#[test]
fn review_policy_is_declared_and_shown_from_the_cli_and_judges_merges() {
    let dir = tempfile::tempdir().unwrap();
    let log_dir = dir.path().join("log");
    let l = log_dir.to_str().unwrap();
    let (log, k, senior) = new_log(&log_dir, START);
    drop(log);
    let owner = key_file(dir.path(), "owner.key", &k.owner);
    let approver = key_file(dir.path(), "approver.key", &k.approver);

    // Nothing declared yet.
    let shown: serde_json::Value = serde_json::from_str(&ok(sealtrail(&[
        "review-policy",
        "show",
        "--log",
        l,
        "--json",
    ])))
    .unwrap();
    assert_eq!(shown["policy"], serde_json::Value::Null);

    // Not an owner key: refused by the log (exit 1), nothing written.
    let o = sealtrail(&[
        "review-policy",
        "set",
        "--log",
        l,
        "--owner-key",
        &approver,
        "--senior-name",
        "Security Lead",
        "--path",
        "auth/**",
    ]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // A name no approver key has: a usage error that lists the approvers.
    let o = sealtrail(&[
        "review-policy",
        "set",
        "--log",
        l,
        "--owner-key",
        &owner,
        "--senior-name",
        "Nobody",
        "--path",
        "auth/**",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--senior-name \"Nobody\": no active approver key has that printed name"),
        "{err}"
    );
    assert!(err.contains("Release Approver ("), "{err}");
    assert!(err.contains("Security Lead ("), "{err}");
    // The recorder's key is not an approver key.
    let recorder_pub = dir.path().join("recorder.key.pub");
    std::fs::write(
        &recorder_pub,
        format!("{}\n", k.recorder.public_key().to_vkey()),
    )
    .unwrap();
    let o = sealtrail(&[
        "review-policy",
        "set",
        "--log",
        l,
        "--owner-key",
        &owner,
        "--senior",
        recorder_pub.to_str().unwrap(),
        "--path",
        "auth/**",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("is not an active approver key of this log")
    );

    let set: serde_json::Value = serde_json::from_str(&ok(sealtrail(&[
        "review-policy",
        "set",
        "--log",
        l,
        "--owner-key",
        &owner,
        "--senior-name",
        "Security Lead",
        "--path",
        "auth/**",
        "--path",
        "crypto/**",
        "--json",
    ])))
    .unwrap();
    let policy_seq = set["seq"].as_u64().unwrap();
    let shown: serde_json::Value = serde_json::from_str(&ok(sealtrail(&[
        "review-policy",
        "show",
        "--log",
        l,
        "--json",
    ])))
    .unwrap();
    assert_eq!(shown["seq"], policy_seq);
    assert_eq!(
        shown["policy"]["senior_paths"],
        serde_json::json!(["auth/**", "crypto/**"])
    );
    assert_eq!(
        shown["policy"]["senior_keys"],
        serde_json::json!([{"key": senior.key_id().to_string(), "name": "Security Lead"}])
    );
    let text = ok(sealtrail(&["review-policy", "show", "--log", l]));
    assert!(
        text.contains(&format!("entry {policy_seq}: merges touching these paths")),
        "{text}"
    );
    assert!(text.contains("  path:   crypto/**"), "{text}");
    assert!(text.contains("  senior: Security Lead ("), "{text}");

    // Merges after it: one on a senior path, one listing no paths, one elsewhere.
    let log = Log::open(&log_dir).unwrap();
    let session = SessionId::new("merge-1").unwrap();
    let merge = |paths: &[&str]| {
        let m = Event::Merge(Merge {
            change: change(&"ab".repeat(20)),
            into: "main".into(),
            repository: None,
            merge_commit: None,
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        });
        log.append_event(&k.approver, &session, &m, &[])
            .unwrap()
            .seq
    };
    let on_senior = merge(&["auth/login.rs"]);
    let unlisted = merge(&[]);
    merge(&["docs/readme.md"]);
    drop(log);
    let found: Vec<u64> = senior_findings(l)
        .iter()
        .map(|f| f["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(found, vec![on_senior, unlisted]);

    // Withdrawn: merges after it need nothing; the earlier findings stay.
    ok(sealtrail(&[
        "review-policy",
        "set",
        "--log",
        l,
        "--owner-key",
        &owner,
        "--withdraw",
    ]));
    let text = ok(sealtrail(&["review-policy", "show", "--log", l]));
    assert!(text.contains("review policy withdrawn"), "{text}");
    let log = Log::open(&log_dir).unwrap();
    merge_after(&log, &k.approver, &session);
    drop(log);
    assert_eq!(senior_findings(l).len(), 2);
}

fn merge_after(log: &Log, key: &sealtrail::SecretKey, session: &SessionId) {
    let m = Event::Merge(Merge {
        change: change(&"cd".repeat(20)),
        into: "main".into(),
        repository: None,
        merge_commit: None,
        paths: vec!["auth/login.rs".into()],
    });
    log.append_event(key, session, &m, &[]).unwrap();
}
