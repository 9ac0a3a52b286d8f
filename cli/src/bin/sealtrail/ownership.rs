//! Ownership and incidents: `why --incident`, `owner`, and the git history they read.

use std::path::Path;
use std::process::Command;

use anyhow::{Result, anyhow};
use sealtrail::lineage::{CommitFacts, LineageError, lineage, owner};
use sealtrail::origin::classify;
use sealtrail::{Log, Timestamp};
use serde_json::json;

use crate::cli::OwnerArgs;
use crate::common::{Status, emit, invalid, json_line, open_log_read_only};

/// Runs git in `repo` and returns its standard output.
pub fn git(repo: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .output()
        .map_err(|e| anyhow!("cannot run git (is it installed and on PATH?): {e}"))?;
    if !out.status.success() {
        return Err(anyhow!(
            "git {} in {}: {}",
            args.join(" "),
            repo.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    String::from_utf8(out.stdout).map_err(|_| anyhow!("git {}: output is not UTF-8", args[0]))
}

/// One commit of the history, as git tells it.
#[derive(Debug, Clone)]
pub struct HistoryCommit {
    /// What the lineage and analytics use.
    pub facts: CommitFacts,
    /// The author's name.
    pub author_name: String,
    /// The author's e-mail address.
    pub author_email: String,
    /// The author date, as git prints it (ISO 8601 with the author's offset).
    pub author_date: String,
    /// The commit's trailers, unfolded, in order.
    pub trailers: Vec<(String, String)>,
    /// Its origin and the evidence for it.
    pub classified: sealtrail::origin::Classified,
}

impl HistoryCommit {
    /// The value of the first trailer named `key` (case-insensitively).
    pub fn trailer(&self, key: &str) -> Option<&str> {
        self.trailers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads `rev` (and `--since`) of the repository: each commit's id, author, commit time,
/// trailers (so its origin and session) and changed lines (`--numstat`; binary files count 0).
pub fn history(
    repo: &Path,
    rev: &str,
    since: Option<&str>,
    agents: &[String],
) -> Result<Vec<HistoryCommit>> {
    let mut args = vec![
        "log".to_owned(),
        "--numstat".to_owned(),
        "--format=%x1e%H%x1f%an%x1f%ae%x1f%ct%x1f%aI%x1f%(trailers:only,unfold)%x1d".to_owned(),
    ];
    if let Some(since) = since {
        args.push(format!("--since={since}"));
    }
    args.push(rev.to_owned());
    args.push("--".to_owned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let text = git(repo, &args)?;
    let mut out = Vec::new();
    for record in text.split('\x1e').skip(1) {
        let (head, numstat) = record
            .split_once('\x1d')
            .ok_or_else(|| anyhow!("git log printed a record this version cannot read"))?;
        let fields: Vec<&str> = head.splitn(6, '\x1f').collect();
        let [hash, name, email, time, author_date, trailer_text] = fields[..] else {
            return Err(anyhow!("git log printed a record this version cannot read"));
        };
        let trailers: Vec<(String, String)> = trailer_text
            .lines()
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect();
        let session = trailers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("Sealtrail-Session"))
            .map(|(_, v)| v.clone());
        let seconds: u64 = time
            .trim()
            .parse()
            .map_err(|_| anyhow!("git log: commit {hash} has no readable time"))?;
        let changed: u64 = numstat
            .lines()
            .filter_map(|l| {
                let mut parts = l.split('\t');
                let added = parts.next()?.parse::<u64>().ok()?;
                let deleted = parts.next()?.parse::<u64>().ok()?;
                Some(added + deleted)
            })
            .sum();
        let commit = sealtrail::origin::Commit {
            author_name: name.to_owned(),
            author_email: email.to_owned(),
            trailers,
        };
        let classified = classify(&commit, agents);
        out.push(HistoryCommit {
            facts: CommitFacts {
                commit: hash.to_owned(),
                time: Some(Timestamp(seconds.saturating_mul(1_000_000_000))),
                origin: Some(classified.origin),
                session,
                changed_lines: Some(changed),
            },
            author_name: commit.author_name,
            author_email: commit.author_email,
            author_date: author_date.to_owned(),
            trailers: commit.trailers,
            classified,
        });
    }
    Ok(out)
}

/// `why --incident ID`.
pub fn why_incident(
    log_dir: &Path,
    id: &str,
    repo: Option<&Path>,
    agents: &[String],
    as_json: bool,
) -> Result<Status> {
    let log = open_log_read_only(log_dir)?;
    let facts: Vec<CommitFacts> = match repo {
        Some(r) => history(r, "HEAD", None, agents)?
            .into_iter()
            .map(|c| c.facts)
            .collect(),
        None => Vec::new(),
    };
    let l = lineage(&log, id, &facts).map_err(|e| match e {
        LineageError::NoSuchIncident(_) => invalid(format!(
            "--incident {id}: no incident `{id}` in the log {}",
            log_dir.display()
        )),
        other => anyhow!("{other}"),
    })?;
    if as_json {
        let mut v = serde_json::to_value(&l)?;
        if let Some(o) = v.as_object_mut() {
            o.insert("schema".into(), "sealtrail.lineage/1".into());
        }
        emit(json_line(&v))?;
    } else {
        emit(l.to_markdown().trim_end())?;
    }
    Ok(Status::Ok)
}

// A revision as a full commit id: resolved by git in `repo`, or taken as given when it is one
// and no repository is readable.
fn resolve(repo: &Path, rev: &str) -> Result<String> {
    match git(
        repo,
        &["rev-parse", "--verify", &format!("{rev}^{{commit}}")],
    ) {
        Ok(id) => Ok(id.trim().to_owned()),
        Err(_) if matches!(rev.len(), 40 | 64) && rev.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Ok(rev.to_ascii_lowercase())
        }
        Err(e) => Err(e),
    }
}

/// `owner COMMIT`.
pub fn owner_of(a: &OwnerArgs) -> Result<Status> {
    let log: Log = open_log_read_only(&a.log)?;
    let commit = resolve(&a.repo, &a.commit)?;
    let o = owner(&log, &commit).map_err(|e| anyhow!("{e}"))?;
    if a.json {
        emit(json_line(&json!({
            "schema": "sealtrail.owner/1",
            "commit": commit,
            "owner": o.name,
            "key": o.key.map(|k| k.to_string()),
            "entry": o.entry,
            "basis": o.basis,
        })))?;
    } else {
        match &o.name {
            Some(name) => emit(format!(
                "{commit}: owned by {name}\n  evidence: {}",
                o.basis
            ))?,
            None => emit(format!("{commit}: no owner on record\n  {}", o.basis))?,
        }
    }
    Ok(Status::Ok)
}

/// `report defects`.
/// The defect-rate tables of the auditor's page (`report --html --repo`): by origin and by
/// prompt tag, per `period`, from the repository's history at HEAD.
pub fn defect_tables(
    log: &sealtrail::Log,
    repo: &Path,
    period: crate::cli::PeriodArg,
    agents: &[String],
) -> Result<Vec<sealtrail::defects::DefectReport>> {
    use sealtrail::defects::{GroupBy, defect_report};
    let facts: Vec<CommitFacts> = history(repo, "HEAD", None, agents)?
        .into_iter()
        .map(|c| c.facts)
        .collect();
    [GroupBy::Origin, GroupBy::PromptTag]
        .into_iter()
        .map(|by| defect_report(log, &facts, period_of(period), by).map_err(|e| anyhow!("{e}")))
        .collect()
}

fn period_of(p: crate::cli::PeriodArg) -> sealtrail::defects::Period {
    match p {
        crate::cli::PeriodArg::Quarter => sealtrail::defects::Period::Quarter,
        crate::cli::PeriodArg::Month => sealtrail::defects::Period::Month,
    }
}

pub fn defects(a: &crate::cli::DefectsArgs) -> Result<Status> {
    use crate::cli::ByArg;
    use sealtrail::defects::{GroupBy, defect_report};
    let log = open_log_read_only(&a.log)?;
    let facts: Vec<CommitFacts> = history(&a.repo, &a.rev, a.since.as_deref(), &a.agents)?
        .into_iter()
        .map(|c| c.facts)
        .collect();
    let period = period_of(a.period);
    let by = match a.by {
        ByArg::Origin => GroupBy::Origin,
        ByArg::PromptTag => GroupBy::PromptTag,
    };
    let report = defect_report(&log, &facts, period, by).map_err(|e| anyhow!("{e}"))?;
    if a.json {
        emit(json_line(&report.to_json()))?;
    } else if report.rows.is_empty() {
        emit("no commits in the range read")?;
    } else {
        emit(report.to_markdown().trim_end())?;
    }
    Ok(Status::Ok)
}
