//! The demo's ownership step: a review of the XBRL change with its checklist answered with
//! evidence, a merge by the human owner, an incident three weeks later implicating the XBRL
//! commit, the incident's lineage, and a defect-rate table over a generated history of commits
//! of all three origins in a real git repository the demo creates.

use std::path::Path;
use std::process::Command;

use anyhow::{Context as _, Result, anyhow};
use sealtrail::defects::{GroupBy, Period, defect_report};
use sealtrail::event::{
    Answer, ChangeRef, ChecklistAnswer, ChecklistItem, CommandRun, Event, Incident, Merge, Review,
    ReviewVerdict,
};
use sealtrail::lineage::lineage;
use sealtrail::{SessionId, Timestamp};

use crate::common::emit;
use crate::demo::Demo;

/// The demo's repository, beside its log.
pub const REPO: &str = "repo";
/// Marks a repository the demo made (and may replace).
const MARKER: &str = ".sealtrail-demo";
/// The incident the demo records.
pub const INCIDENT: &str = "INC-2041";

const DAY: u64 = 86_400;

// git in `repo`, as `who` at `seconds` since the epoch.
fn git(repo: &Path, args: &[&str], who: (&str, &str), seconds: u64) -> Result<String> {
    let date = format!("@{seconds} +0000");
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .env("GIT_AUTHOR_NAME", who.0)
        .env("GIT_AUTHOR_EMAIL", who.1)
        .env("GIT_COMMITTER_NAME", who.0)
        .env("GIT_COMMITTER_EMAIL", who.1)
        .env("GIT_AUTHOR_DATE", &date)
        .env("GIT_COMMITTER_DATE", &date)
        .output()
        .map_err(|e| anyhow!("the demo's repository needs git (apt-get install git): {e}"))?;
    if !out.status.success() {
        return Err(anyhow!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

const DEV: (&str, &str) = ("Release Approver", "approver@example.com");
const BOT: (&str, &str) = ("Claude", "noreply@anthropic.com");

// One commit of `lines` new lines in `file`.
fn commit(
    repo: &Path,
    file: &str,
    lines: u64,
    message: &str,
    who: (&str, &str),
    at: u64,
) -> Result<String> {
    let path = repo.join(file);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let title = message.lines().next().unwrap_or_default();
    let body: String = (0..lines)
        .map(|i| format!("// {title}: line {i}\n"))
        .collect();
    std::fs::write(&path, body)?;
    git(repo, &["add", "-A"], who, at)?;
    git(repo, &["commit", "-q", "-m", message], who, at)?;
    git(repo, &["rev-parse", "HEAD"], who, at)
}

// A fresh repository: one the demo made before is replaced; anything else is left alone.
fn fresh_repo(d: &Demo) -> Result<std::path::PathBuf> {
    let repo = d.dir.join(REPO);
    if repo.exists() {
        if !repo.join(MARKER).is_file() {
            return Err(anyhow!(
                "{}: exists and is not the demo's repository; not touching it",
                d.show(&repo)
            ));
        }
        std::fs::remove_dir_all(&repo)
            .with_context(|| format!("{}: cannot remove", d.show(&repo)))?;
    }
    std::fs::create_dir_all(&repo)?;
    git(&repo, &["init", "-q"], DEV, 0)?;
    std::fs::write(repo.join(MARKER), "made by sealtrail demo\n")?;
    Ok(repo)
}

/// The step.
pub fn ownership(d: &mut Demo) -> Result<()> {
    let log = d.log.as_ref().ok_or_else(|| anyhow!("no log yet"))?;
    let keys = d.keys.as_ref().ok_or_else(|| anyhow!("no keys yet"))?;
    let r = d
        .receipts
        .as_ref()
        .ok_or_else(|| anyhow!("no session yet"))?;
    let repo = fresh_repo(d)?;
    let now = Timestamp::now().as_nanos() / 1_000_000_000;
    // Two quarters of history before the session: every fourth commit an agent's own, every
    // third one written with an agent's help, the rest by people.
    let start = now - 180 * DAY;
    let mut generated = Vec::new();
    for i in 0..36u64 {
        let at = start + i * 5 * DAY;
        let (who, message) = match i % 4 {
            0 => (
                BOT,
                format!("Agent change {i}\n\nGenerated-by: claude-code"),
            ),
            1 | 2 if i % 3 == 0 => (
                DEV,
                format!("Paired change {i}\n\nAssisted-by: claude-code:claude-sonnet-4"),
            ),
            _ => (DEV, format!("Change {i}")),
        };
        let lines = 20 + (i * 37) % 180;
        generated.push((
            commit(
                &repo,
                &format!("src/module_{i}.rs"),
                lines,
                &message,
                who,
                at,
            )?,
            at,
        ));
    }
    let xbrl = commit(
        &repo,
        "src/report/xbrl/mod.rs",
        240,
        &format!(
            "Add XBRL export beside the PDF renderer\n\nSealtrail-Log: {}\nSealtrail-Session: {}",
            log.log_id(),
            d.session
        ),
        DEV,
        now,
    )?;
    emit(format!(
        "  made {}: {} commits of all three origins over two quarters, the XBRL commit {} last",
        d.show(&repo),
        generated.len() + 1,
        &xbrl[..12]
    ))?;

    // The review: the tests on the parent commit fail (a command run is the evidence), the new
    // dependency is the decision's library.
    // Outside any session: the agent's session stays the log's latest (`trace --latest`).
    let review_session = SessionId::none();
    let parent_run = log.append_event(
        &keys.recorder,
        &review_session,
        &Event::CommandRun(CommandRun {
            command: "git checkout HEAD~1 -- src && cargo test report::xbrl".into(),
            exit_code: Some(101),
            duration_ms: 8_400,
            ..CommandRun::default()
        }),
        &[],
    )?;
    let change = ChangeRef {
        commit: Some(xbrl.clone()),
        ..ChangeRef::default()
    };
    let answer = |item, answer, note: &str, evidence: Vec<sealtrail::Link>| ChecklistAnswer {
        item,
        answer,
        note: Some(note.to_owned()),
        evidence,
    };
    let review = log.append_event(
        &keys.approver,
        &review_session,
        &Event::Review(Review {
            change: change.clone(),
            verdict: ReviewVerdict::Approve,
            checklist: vec![
                answer(
                    ChecklistItem::NewDependency,
                    Answer::Yes,
                    "an XBRL library: justified by the decision record",
                    vec![r.decision.link()],
                ),
                answer(
                    ChecklistItem::TestsFailWithoutChange,
                    Answer::Yes,
                    "cargo test on the parent commit fails",
                    vec![parent_run.link()],
                ),
                answer(
                    ChecklistItem::ErrorHandling,
                    Answer::No,
                    "no error paths changed",
                    Vec::new(),
                ),
                answer(
                    ChecklistItem::SecurityBoundary,
                    Answer::No,
                    "report rendering only",
                    Vec::new(),
                ),
            ],
            comment: Some("period handling reviewed against the failing-then-passing runs".into()),
            entries: vec![r.pull_request.link()],
        }),
        &[],
    )?;
    let merge = log.append_event(
        &keys.approver,
        &review_session,
        &Event::Merge(Merge {
            change,
            into: "main".into(),
            repository: Some(d.show(&repo)),
            merge_commit: None,
            paths: vec!["src/report/xbrl/mod.rs".into()],
        }),
        &[],
    )?;
    // Three weeks later (simulated: the demo runs in seconds), filings are rejected.
    let detected = merge.time.as_nanos() + 21 * DAY * 1_000_000_000 + 4 * 3_600 * 1_000_000_000;
    let mut incidents = vec![(INCIDENT.to_owned(), detected, vec![xbrl.clone()])];
    // Earlier incidents of the generated history: a few agent and mixed commits, one human.
    for (n, i) in [(1, 4usize), (2, 9), (3, 14), (4, 22), (5, 27)] {
        let (c, at) = &generated[i];
        incidents.push((
            format!("INC-19{n:02}"),
            (at + (3 + 2 * n) * DAY) * 1_000_000_000,
            vec![c.clone()],
        ));
    }
    let ops = SessionId::none();
    for (id, detected_at, commits) in &incidents {
        log.append_event(
            &keys.approver,
            &ops,
            &Event::Incident(Incident {
                id: id.clone(),
                severity: if id == INCIDENT { "sev2" } else { "sev3" }.into(),
                detected_at: *detected_at,
                description: if id == INCIDENT {
                    "quarterly XBRL filing rejected: a period was written as an instant".into()
                } else {
                    format!("{id}: regression in a generated module")
                },
                commits: commits.clone(),
                sessions: if id == INCIDENT {
                    vec![d.session.to_string()]
                } else {
                    Vec::new()
                },
            }),
            &[],
        )?;
    }
    emit(format!(
        "  review (entry {}) and merge (entry {}) by {}; {} incidents recorded, {INCIDENT} three \
         weeks after the merge",
        review.seq,
        merge.seq,
        crate::demo::APPROVER_NAME,
        incidents.len()
    ))?;

    let facts: Vec<_> = crate::ownership::history(&repo, "HEAD", None, &[])?
        .into_iter()
        .map(|c| c.facts)
        .collect();
    let l = lineage(log, INCIDENT, &facts)?;
    emit(format!("\n  the lineage of {INCIDENT}:\n"))?;
    for line in l.to_markdown().trim_end().lines() {
        emit(format!("    {line}"))?;
    }
    let table = defect_report(log, &facts, Period::Quarter, GroupBy::Origin)?;
    emit("\n  defect rate by origin, per quarter:\n")?;
    for line in table.to_markdown().trim_end().lines() {
        emit(format!("    {line}"))?;
    }
    let (lg, rp) = (d.show(&d.dir.join("log")), d.show(&repo));
    d.next.push((
        format!("sealtrail why --log {lg} --incident {INCIDENT} --repo {rp}"),
        "the incident's lineage: commit, session, prompt, decisions, evidence, review, merge"
            .into(),
    ));
    d.next.push((
        format!("sealtrail owner --log {lg} --repo {rp} HEAD"),
        "who owns the XBRL change, and on what evidence".into(),
    ));
    d.next.push((
        format!("sealtrail report defects --log {lg} --repo {rp} --by origin"),
        "defect rate by code origin, per quarter (--by prompt-tag, --json)".into(),
    ));
    Ok(())
}
