//! `sealtrail init --repo DIR`: a git repository set up for Claude Code in one step.
//!
//! The keys go outside the repository (an agent working in it can read the repository, and
//! whoever holds the owner key can rewrite the log's key history); the log goes in
//! `DIR/.sealtrail/`, which git is told to ignore. Nothing is overwritten: every file and the
//! log directory are checked before the first is made.

use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow};
use sealtrail::descriptor::valid_origin;
use sealtrail::keys::public_key_path;
use sealtrail::registry::Role;
use serde_json::json;

use crate::cli::{IngestArgs, InitArgs, Prompts};
use crate::common::{Status, emit, json_line};
use crate::ingest::base_command;
use crate::keys::{create_log, key_name_for, refuse_log_dir, suite, vkey_text, write_key_pair};
use crate::output::{self, Existing};

/// The directory in the repository that holds the log; git ignores it.
const DIR: &str = ".sealtrail";
/// The printed name the Claude Code recorder key is registered under.
const RECORDER: &str = "Claude Code harness";

/// `sealtrail init --repo DIR`.
pub fn init_repo(a: &InitArgs, repo: &Path) -> Result<Status> {
    let repo = std::fs::canonicalize(repo)
        .map_err(|e| anyhow!("{}: cannot open the repository: {e}", repo.display()))?;
    if !repo.join(".git").exists() {
        return Err(anyhow!(
            "{}: not the top of a git repository (no .git); run `git init` there first",
            repo.display()
        ));
    }
    let name = repo
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = slug(&name);
    let keys_dir = match &a.keys {
        Some(k) => std::path::absolute(k)
            .map_err(|e| anyhow!("{}: cannot make the path absolute: {e}", k.display()))?,
        None => config_dir()?.join("sealtrail").join(&name),
    };
    let origin = a
        .origin
        .clone()
        .unwrap_or_else(|| format!("sealtrail.local/{name}"));
    if !valid_origin(&origin) {
        return Err(anyhow!(
            "origin {origin:?}: 1 to 255 bytes without white space, '+' or '#' (give --origin, \
             e.g. example.com/my-repo)"
        ));
    }
    let log_dir = repo.join(DIR).join("log");
    let vkey_path = repo.join(DIR).join("log.vkey");
    let owner_key = keys_dir.join("owner.key");
    let recorder_key = keys_dir.join("claude-code.key");
    let approver_key = a.approver.as_ref().map(|_| keys_dir.join("approver.key"));

    // Everything is refused before anything is made, so a failed setup leaves nothing behind.
    let mut key_files = vec![&owner_key, &recorder_key];
    key_files.extend(&approver_key);
    for k in &key_files {
        for f in [k.to_path_buf(), public_key_path(k)] {
            output::refuse_existing(&f, Existing::Key)
                .map_err(|e| anyhow!("{e:#}; give --keys DIR to make new keys elsewhere"))?;
        }
    }
    let approver_name = match (&a.approver, &approver_key) {
        (Some(printed), Some(path)) => Some(key_name_for(path, Some(printed))?),
        _ => None,
    };
    refuse_log_dir(&log_dir)?;
    output::refuse_existing(&vkey_path, Existing::Refuse)?;
    if keys_dir.starts_with(&repo) {
        eprintln!(
            "warning: {} is inside the repository: make sure git ignores it and the agent \
             cannot read it",
            keys_dir.display()
        );
    }

    let owner = write_key_pair(&owner_key, &key_name_for(&owner_key, None)?)?;
    let recorder = write_key_pair(&recorder_key, &key_name_for(&recorder_key, Some(RECORDER))?)?;
    let approver = match (&approver_key, &approver_name) {
        (Some(path), Some(key_name)) => Some(write_key_pair(path, key_name)?),
        _ => None,
    };
    let log = create_log(&log_dir, &owner, &origin, suite(a.suite))?;
    output::write(&vkey_path, vkey_text(&log).as_bytes(), Existing::Refuse)?;
    let register = |key: sealtrail::KeyId, role: Role, printed: &str| {
        log.register_key(&owner, key, role, printed)
            .map_err(|e| anyhow!("cannot register the {role} key: {e}"))
    };
    register(recorder.key_id(), Role::Recorder, RECORDER)?;
    if let (Some(k), Some(printed)) = (&approver, &a.approver) {
        register(k.key_id(), Role::Approver, printed)?;
    }
    let ignored = ignore(&repo)?;

    let exe = std::env::current_exe()
        .map_err(|e| anyhow!("cannot tell where this sealtrail binary is: {e}"))?;
    let hook_args = IngestArgs {
        log: log_dir.clone(),
        key: recorder_key.clone(),
        wait: 10,
        on_failure: None,
        prompts: Prompts::Text,
        check_pattern: Vec::new(),
        no_default_checks: false,
        require: Vec::new(),
        print_settings: true,
    };
    let print_settings = format!("{} --print-settings", base_command(&hook_args, &exe)?);
    let d = |p: &Path| p.display().to_string();
    if a.json {
        emit(json_line(&json!({
            "repo": d(&repo),
            "log": d(&log_dir),
            "log_id": log.log_id().to_hex(),
            "origin": origin,
            "vkey_file": d(&vkey_path),
            "owner_key": d(&owner_key),
            "recorder_key": d(&recorder_key),
            "approver_key": approver_key.as_deref().map(d),
            "gitignore_updated": ignored,
            "print_settings": print_settings,
            "commit": [".gitignore"],
        })))?;
        return Ok(Status::Ok);
    }
    emit(format!("set up {} for Claude Code", repo.display()))?;
    emit(format!(
        "  log:          {} (log id {})",
        log_dir.display(),
        log.log_id()
    ))?;
    emit(format!(
        "  verifier key: {} (what auditors pin)",
        vkey_path.display()
    ))?;
    emit(format!(
        "  owner key:    {} (manages the log's keys; keep it safe, back it up)",
        owner_key.display()
    ))?;
    emit(format!(
        "  recorder key: {} (registered as {RECORDER:?}; the hooks sign with it)",
        recorder_key.display()
    ))?;
    if let (Some(path), Some(printed)) = (&approver_key, &a.approver) {
        emit(format!(
            "  approver key: {} (registered as {printed:?}; signs your approvals)",
            path.display()
        ))?;
    }
    emit(if ignored {
        format!("  .gitignore:   added /{DIR}/ (the log is evidence, not source)")
    } else {
        format!("  .gitignore:   already ignores /{DIR}/")
    })?;
    emit("Next:")?;
    emit(
        "  1. Install the hooks in .claude/settings.local.json (they name your own paths, so \
         keep them out of the shared .claude/settings.json); add --require NAME for each check \
         that must pass, e.g. --require \"cargo test\":",
    )?;
    emit(format!("     {print_settings}"))?;
    emit(format!(
        "  2. Commit .gitignore. Never commit {}/ or the keys.",
        DIR
    ))?;
    Ok(Status::Ok)
}

/// `$XDG_CONFIG_HOME`, else `$HOME/.config` (both only when absolute).
fn config_dir() -> Result<PathBuf> {
    let absolute = |v: &str| {
        std::env::var_os(v)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    absolute("XDG_CONFIG_HOME")
        .or_else(|| absolute("HOME").map(|h| h.join(".config")))
        .ok_or_else(|| {
            anyhow!("neither XDG_CONFIG_HOME nor HOME is set: give --keys DIR for the keys")
        })
}

/// A repository's name as a key-directory and origin component: `[A-Za-z0-9._-]`, every other
/// character `-`.
fn slug(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    if s.trim_matches(['.', '-']).is_empty() {
        "repo".to_owned()
    } else {
        s
    }
}

/// Adds `/.sealtrail/` to the repository's `.gitignore` unless a line there already ignores
/// it; whether it was added.
fn ignore(repo: &Path) -> Result<bool> {
    let path = repo.join(".gitignore");
    let old = match std::fs::read_to_string(&path) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(anyhow!("{}: cannot read: {e}", path.display())),
    };
    let covered = old.lines().map(str::trim).any(|l| {
        let l = l.strip_prefix('/').unwrap_or(l);
        l == DIR || l.strip_suffix('/') == Some(DIR)
    });
    if covered {
        return Ok(false);
    }
    let mut new = old;
    if !new.is_empty() && !new.ends_with('\n') {
        new.push('\n');
    }
    new.push_str(&format!(
        "# sealtrail: the evidence log of agent sessions\n/{DIR}/\n"
    ));
    output::write(&path, new.as_bytes(), Existing::Replace)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_names_become_slugs() {
        assert_eq!(slug("my repo"), "my-repo");
        assert_eq!(slug("billing-service.v2"), "billing-service.v2");
        assert_eq!(slug("dépôt"), "d-p-t");
        assert_eq!(slug(".."), "repo");
    }
}
