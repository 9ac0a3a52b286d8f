//! `ingest claude-code --print-settings`: the `.claude/settings.json` hooks that run this
//! command on every hook event.

use std::path::Path;

use anyhow::{Result, anyhow};
use serde_json::{Value as Json, json};

use super::{checks, default_mode};
use crate::cli::{IngestArgs, OnFailure, Prompts};
use crate::common::{Status, emit};

/// Each hook event and whether it takes a tool matcher. Each gets `--on-failure` written out
/// as its default (block where Claude Code holds the action back on exit 2, allow where exit 2
/// would loop or blocks nothing), so the intent is in the file.
const HOOKS: [(&str, bool); 8] = [
    ("SessionStart", false),
    ("UserPromptSubmit", false),
    ("PreToolUse", true),
    ("PermissionRequest", true),
    ("PostToolUse", true),
    ("PostToolUseFailure", true),
    ("Stop", false),
    ("SessionEnd", false),
];

/// Seconds Claude Code gives each hook: more than the default --wait of 10 s for the log.
const TIMEOUT: u64 = 15;

/// Prints the hooks block as pretty JSON.
pub fn print(a: &IngestArgs) -> Result<Status> {
    // A pattern that does not compile would fail every Bash hook: say so now.
    checks::checks(&a.check_pattern, !a.no_default_checks).map_err(|e| anyhow!(e))?;
    let exe = std::env::current_exe()
        .map_err(|e| anyhow!("cannot tell where this sealtrail binary is: {e}"))?;
    let command = base_command(a, &exe)?;
    emit(serde_json::to_string_pretty(&settings(&command, a.wait)).unwrap_or_default())?;
    Ok(Status::Ok)
}

/// The command line every hook runs, but `--on-failure`: absolute paths, each word quoted for
/// the shell Claude Code runs it with.
pub fn base_command(a: &IngestArgs, exe: &Path) -> Result<String> {
    let absolute = |p: &Path| {
        std::path::absolute(p)
            .map_err(|e| anyhow!("{}: cannot make the path absolute: {e}", p.display()))
    };
    let mut words: Vec<String> = vec![
        absolute(exe)?.display().to_string(),
        "ingest".into(),
        "claude-code".into(),
        "--log".into(),
        absolute(&a.log)?.display().to_string(),
        "--key".into(),
        absolute(&a.key)?.display().to_string(),
    ];
    if a.wait != 10 {
        words.extend(["--wait".into(), a.wait.to_string()]);
    }
    if a.prompts == Prompts::Digest {
        words.extend(["--prompts".into(), "digest".into()]);
    }
    for p in &a.check_pattern {
        words.extend(["--check-pattern".into(), p.clone()]);
    }
    if a.no_default_checks {
        words.push("--no-default-checks".into());
    }
    for r in &a.require {
        words.extend(["--require".into(), r.clone()]);
    }
    Ok(words
        .iter()
        .map(|w| shell_word(w))
        .collect::<Vec<_>>()
        .join(" "))
}

/// `{"hooks": {EVENT: [{"matcher"?, "hooks": [{"type": "command", "command", "timeout"}]}]}}`.
fn settings(command: &str, wait: u64) -> Json {
    let mut hooks = serde_json::Map::new();
    for (event, matcher) in HOOKS {
        let mode = match default_mode(Some(event)) {
            OnFailure::Block => "block",
            OnFailure::Allow => "allow",
        };
        let hook = json!({
            "type": "command",
            "command": format!("{command} --on-failure {mode}"),
            "timeout": TIMEOUT.max(wait.saturating_add(5)),
        });
        let mut group = json!({ "hooks": [hook] });
        if matcher {
            group["matcher"] = json!("*");
        }
        hooks.insert(event.to_owned(), json!([group]));
    }
    json!({ "hooks": hooks })
}

/// A word as the shell reads it back: as is when it holds only characters the shell leaves
/// alone, else in single quotes (a single quote inside written `'\''`).
pub fn shell_word(w: &str) -> String {
    let plain = !w.is_empty()
        && w.chars()
            .all(|c| c.is_ascii_alphanumeric() || "@%+=:,./_-".contains(c));
    if plain {
        w.to_owned()
    } else {
        format!("'{}'", w.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_for_the_shell() {
        assert_eq!(
            shell_word("/home/dev/.sealtrail/log"),
            "/home/dev/.sealtrail/log"
        );
        assert_eq!(shell_word("/home/my dev/log"), "'/home/my dev/log'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
        assert_eq!(shell_word("$HOME"), "'$HOME'");
        assert_eq!(shell_word(""), "''");
        assert_eq!(shell_word("e2e=^npx playwright"), "'e2e=^npx playwright'");
    }

    #[test]
    fn every_hook_event_runs_the_command() {
        let s = settings("sealtrail ingest claude-code", 10);
        let hooks = s["hooks"].as_object().unwrap();
        assert_eq!(hooks.len(), 8);
        assert_eq!(
            s["hooks"]["PreToolUse"][0]["hooks"][0]["command"],
            "sealtrail ingest claude-code --on-failure block"
        );
        assert_eq!(s["hooks"]["PreToolUse"][0]["matcher"], "*");
        assert!(s["hooks"]["Stop"][0].get("matcher").is_none());
        assert_eq!(
            s["hooks"]["Stop"][0]["hooks"][0]["command"],
            "sealtrail ingest claude-code --on-failure allow"
        );
        assert_eq!(s["hooks"]["Stop"][0]["hooks"][0]["timeout"], 15);
        assert_eq!(
            settings("x", 60)["hooks"]["Stop"][0]["hooks"][0]["timeout"],
            65
        );
    }
}
