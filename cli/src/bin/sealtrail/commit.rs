//! From a commit to its evidence: `verify-commit` reads a commit's trailers with git and
//! verifies the bundle they name; `git install-hook` puts the decision trace and trailers into
//! each commit message.

use std::io::BufReader;
use std::path::PathBuf;

use anyhow::{Result, anyhow};
use sealtrail::RootHash;
use sealtrail::bundle::{BundleError, TrustPolicy, verify_bundle};
use serde_json::json;

use crate::cli::{InstallHookArgs, ScanArgs, VerifyCommitArgs};
use crate::common::{Status, check_log_dir, emit, invalid, json_line, load_public, open_log};
use crate::ingest::settings::shell_word;
use crate::output::{Existing, Output};
use crate::ownership::git;

/// What the commit's trailer claims a checkpoint is, as the report names it.
const CLAIM: &str = "the commit's Sealtrail-Checkpoint trailer";

/// The `Sealtrail-*` trailers of a commit message, as git parses them.
#[derive(Debug, Default)]
struct Trailers {
    log: Option<String>,
    session: Option<String>,
    checkpoint: Option<String>,
    evidence: Option<String>,
}

impl Trailers {
    // `git show --format=%(trailers:only,unfold)`: one `Key: value` per line. A repeated
    // Sealtrail trailer is refused: which one would be the evidence?
    fn parse(text: &str) -> Result<Trailers> {
        let mut t = Trailers::default();
        for line in text.lines() {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let slot = match key.trim().to_ascii_lowercase().as_str() {
                "sealtrail-log" => &mut t.log,
                "sealtrail-session" => &mut t.session,
                "sealtrail-checkpoint" => &mut t.checkpoint,
                "sealtrail-evidence" => &mut t.evidence,
                _ => continue,
            };
            if slot.is_some() {
                return Err(invalid(format!(
                    "the commit has two {} trailers: which one is its evidence?",
                    key.trim()
                )));
            }
            *slot = Some(value.trim().to_owned());
        }
        Ok(t)
    }

    fn json(&self) -> serde_json::Value {
        json!({
            "log": self.log,
            "session": self.session,
            "checkpoint": self.checkpoint,
            "evidence": self.evidence,
        })
    }
}

// `SIZE ROOT` (decimal, 64 hex digits).
fn parse_checkpoint(text: &str) -> Result<(u64, RootHash)> {
    let bad = || {
        invalid(format!(
            "Sealtrail-Checkpoint: {text:?} is not a size and a root (`SIZE HEX`)"
        ))
    };
    let (size, root) = text.split_once(' ').ok_or_else(bad)?;
    let size = size.parse().map_err(|_| bad())?;
    let root = root.trim().parse().map_err(|_| bad())?;
    Ok((size, root))
}

/// `sealtrail verify-commit`.
pub fn verify_commit(a: &VerifyCommitArgs) -> Result<Status> {
    let keys = a
        .trusted_keys
        .iter()
        .map(|k| load_public(k))
        .collect::<Result<Vec<_>>>()?;
    let mut policy = TrustPolicy::new(keys).map_err(|e| anyhow!("{e}"))?;
    let commit = git(
        &a.repo,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{}^{{commit}}", a.rev),
        ],
    )
    .map_err(|_| anyhow!("{}: not a commit in {}", a.rev, a.repo.display()))?
    .trim()
    .to_owned();
    let top = PathBuf::from(git(&a.repo, &["rev-parse", "--show-toplevel"])?.trim());
    let text = git(
        &a.repo,
        &["show", "-s", "--format=%(trailers:only,unfold)", &commit],
    )?;
    let trailers = Trailers::parse(&text)?;
    let (Some(log_id), Some(session)) = (&trailers.log, &trailers.session) else {
        return Err(invalid(format!(
            "commit {commit} names no evidence: it needs Sealtrail-Log and Sealtrail-Session \
             trailers (`sealtrail trace` writes them; `sealtrail git install-hook` adds them to \
             every commit)"
        )));
    };
    let claim = trailers
        .checkpoint
        .as_deref()
        .map(parse_checkpoint)
        .transpose()?;
    if let Some((size, root)) = claim {
        policy = policy.with_claimed_root(size, root, CLAIM);
    }
    let bundle = match (&a.bundle, &trailers.evidence) {
        (Some(path), _) => path.clone(),
        (None, Some(e)) if e.contains("://") => {
            return Err(anyhow!(
                "Sealtrail-Evidence names {e}: fetch the bundle and pass it with --bundle FILE"
            ));
        }
        (None, Some(e)) => top.join(e),
        (None, None) => {
            return Err(anyhow!(
                "commit {commit} has no Sealtrail-Evidence trailer: pass the bundle with \
                 --bundle FILE"
            ));
        }
    };
    let file = std::fs::File::open(&bundle)
        .map_err(|e| anyhow!("{}: cannot read the bundle: {e}", bundle.display()))?;
    let report = verify_bundle(BufReader::new(file), &policy).map_err(|e| match e {
        BundleError::NotABundle(m) => anyhow!("{}: not a sealtrail bundle: {m}", bundle.display()),
        e => anyhow!("{}: {e}", bundle.display()),
    })?;

    // Is this bundle the commit's evidence? Established only on a valid bundle.
    let mut mismatches = Vec::new();
    if !report.log.log_id.eq_ignore_ascii_case(log_id) {
        mismatches.push(format!(
            "the bundle is of log {}, the commit's Sealtrail-Log names {log_id}",
            report.log.log_id
        ));
    }
    let holds_session = report
        .sessions
        .iter()
        .any(|s| s.id == *session && s.entries > 0);
    if !holds_session {
        mismatches.push(if report.sessions_unlisted > 0 {
            format!(
                "session {session} is not among the {} sessions the report lists ({} more are \
                 not listed): export that session's bundle",
                report.sessions.len(),
                report.sessions_unlisted
            )
        } else {
            format!("the bundle holds no entry of session {session}, the commit's session")
        });
    }
    let valid = report.is_valid() && mismatches.is_empty();
    if a.json {
        emit(json_line(&json!({
            "commit": commit,
            "verdict": if valid { "valid" } else { "invalid" },
            "bundle": bundle.display().to_string(),
            "trailers": trailers.json(),
            "commit_findings": mismatches,
            "report": report.to_json(),
        })))?;
    } else {
        let mut out = format!(
            "commit:      {commit}\nverdict:     {}\nbundle:      {}\nsession:     {session}\n",
            if valid { "VALID" } else { "INVALID" },
            bundle.display()
        );
        match claim {
            Some((size, root)) => out.push_str(&format!(
                "checkpoint:  size {size} root {} (from the trailer; see the bundle's proof \
                 below)\n",
                root.short()
            )),
            None => out.push_str(
                "checkpoint:  the commit names none: only that the bundle holds its session is \
                 checked\n",
            ),
        }
        for m in &mismatches {
            out.push_str(&format!("  [commit]: {m}\n"));
        }
        out.push_str("\nthe bundle:\n");
        out.push_str(&report.render());
        emit(out.trim_end())?;
    }
    Ok(if valid { Status::Ok } else { Status::Invalid })
}

/// `sealtrail git install-hook`.
pub fn install_hook(a: &InstallHookArgs) -> Result<Status> {
    check_log_dir(&a.log)?;
    let log = std::fs::canonicalize(&a.log)
        .map_err(|e| anyhow!("{}: cannot resolve: {e}", a.log.display()))?;
    let exe = std::env::current_exe()
        .map_err(|e| anyhow!("cannot tell where this sealtrail binary is: {e}"))?;
    let hooks = PathBuf::from(git(&a.repo, &["rev-parse", "--git-path", "hooks"])?.trim());
    let hooks = if hooks.is_relative() {
        a.repo.join(hooks)
    } else {
        hooks
    };
    std::fs::create_dir_all(&hooks)
        .map_err(|e| anyhow!("{}: cannot create: {e}", hooks.display()))?;
    let path = hooks.join("prepare-commit-msg");
    let mut options = String::new();
    if a.checkpoint {
        options.push_str(" --checkpoint");
    }
    if let Some(e) = &a.evidence {
        options.push_str(&format!(" --evidence {}", shell_word(e)));
    }
    let exe = shell_word(&exe.to_string_lossy());
    let log = shell_word(&log.to_string_lossy());
    let script = format!(
        r#"#!/bin/sh
# Installed by `sealtrail git install-hook`: appends the decision trace of the log's latest
# session (or of $SEALTRAIL_SESSION) and its Sealtrail trailers to the commit message. It never
# blocks a commit: when no trace can be made, the message stays as it was.
msg="$1"
case "$2" in merge|squash|commit) exit 0 ;; esac
grep -q '^Sealtrail-Session:' "$msg" && exit 0
if [ -n "${{SEALTRAIL_SESSION:-}}" ]; then
  which="--session=$SEALTRAIL_SESSION"
else
  which=--latest
fi
if trace=$({exe} trace --log {log} "$which"{options}); then
  printf '\n%s\n' "$trace" >> "$msg"
else
  echo "sealtrail: no decision trace added to the commit message (see above)" >&2
fi
exit 0
"#
    );
    let mut out = Output::create(&path, Existing::force(a.force))?;
    std::io::Write::write_all(&mut out, script.as_bytes())
        .map_err(|e| anyhow!("{}: cannot write: {e}", path.display()))?;
    out.commit()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| anyhow!("{}: cannot make it executable: {e}", path.display()))?;
    }
    emit(format!(
        "installed {}: each commit message gets the decision trace of the latest session in {}",
        path.display(),
        a.log.display()
    ))?;
    Ok(Status::Ok)
}

/// `sealtrail git scan`.
pub fn scan(a: &ScanArgs) -> Result<Status> {
    use sealtrail::origin::Origin;
    let log = a.log.as_deref().map(open_log).transpose()?;
    let log_id = log.as_ref().map(|l| l.log_id().to_hex());
    // Read once: the printed names every approval is shown with.
    let names = log
        .as_ref()
        .map(sealtrail::query::printed_names)
        .unwrap_or_default();
    let commits = crate::ownership::history(&a.repo, &a.rev, a.since.as_deref(), &a.agents)?;
    let mut totals = std::collections::BTreeMap::from([
        (Origin::Human, 0u64),
        (Origin::Agent, 0),
        (Origin::Mixed, 0),
    ]);
    let mut rows = Vec::new();
    for c in &commits {
        let (hash, name, email, time) = (
            &c.facts.commit,
            &c.author_name,
            &c.author_email,
            &c.author_date,
        );
        let (session, trailer_log) = (c.trailer("Sealtrail-Session"), c.trailer("Sealtrail-Log"));
        let found = &c.classified;
        *totals.entry(found.origin).or_default() += 1;
        // The session, in the log the commit names, when that is the log given.
        let mut resolved = serde_json::Value::Null;
        if let (Some(log), Some(s), Some(id)) = (&log, session, &log_id) {
            if trailer_log.is_some_and(|l| l.eq_ignore_ascii_case(id)) {
                if let Ok(sid) = sealtrail::SessionId::new(s) {
                    // One read of the session: its entries, and the approvals among them.
                    let events = sealtrail::query::session_events(log, &sid).unwrap_or_default();
                    let approvers: Vec<String> =
                        sealtrail::query::signed_approvals(&events, &names)
                            .into_iter()
                            .map(|a| a.printed_name)
                            .collect();
                    resolved = json!({"entries": events.len(), "approved_by": approvers});
                }
            }
        }
        rows.push(json!({
            "commit": hash,
            "author": name,
            "email": email,
            "time": time,
            "origin": found.origin.as_str(),
            "evidence": found.evidence,
            "log": trailer_log,
            "session": session,
            "in_log": resolved,
        }));
    }
    if a.json {
        emit(json_line(&json!({
            "schema": "sealtrail.git-scan/1",
            "commits": rows,
            "totals": {
                "human": totals[&Origin::Human],
                "agent": totals[&Origin::Agent],
                "mixed": totals[&Origin::Mixed],
            },
        })))?;
        return Ok(Status::Ok);
    }
    let mut out = String::new();
    for r in &rows {
        let hash = r["commit"].as_str().unwrap_or_default();
        let short = hash.get(..12).unwrap_or(hash);
        out.push_str(&format!(
            "{short}  {:<5}  {}  {}",
            r["origin"].as_str().unwrap_or_default(),
            r["time"].as_str().unwrap_or_default(),
            r["author"].as_str().unwrap_or_default()
        ));
        if let Some(s) = r["session"].as_str() {
            out.push_str(&format!("  session {s}"));
            if let Some(names) = r["in_log"]["approved_by"].as_array() {
                let names: Vec<&str> = names.iter().filter_map(|n| n.as_str()).collect();
                if names.is_empty() {
                    out.push_str(" (no approval)");
                } else {
                    out.push_str(&format!(" (approved by {})", names.join(", ")));
                }
            }
        }
        out.push('\n');
    }
    out.push_str(&format!(
        "{} commits: {} human, {} agent, {} mixed",
        rows.len(),
        totals[&Origin::Human],
        totals[&Origin::Agent],
        totals[&Origin::Mixed]
    ));
    emit(out)?;
    Ok(Status::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailers_are_read_and_a_repeat_is_refused() {
        let t = Trailers::parse(
            "Signed-off-by: A <a@example.com>\nSealtrail-Log: ab12\nSealtrail-Session: s-1\n\
             Sealtrail-Checkpoint: 84 00ff\nSealtrail-Evidence: evidence/s-1.bundle\n",
        )
        .unwrap();
        assert_eq!(t.log.as_deref(), Some("ab12"));
        assert_eq!(t.session.as_deref(), Some("s-1"));
        assert_eq!(t.checkpoint.as_deref(), Some("84 00ff"));
        assert_eq!(t.evidence.as_deref(), Some("evidence/s-1.bundle"));
        assert!(Trailers::parse("Sealtrail-Session: a\nSealtrail-Session: b\n").is_err());
        assert!(
            parse_checkpoint("84 00ff").is_err(),
            "a root is 64 hex digits"
        );
        assert_eq!(
            parse_checkpoint(&format!("84 {}", "00".repeat(32)))
                .unwrap()
                .0,
            84
        );
    }
}
