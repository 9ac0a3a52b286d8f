//! Which Bash commands are checks — tests, builds, linters — and what a command's exit status
//! says about each (SPEC §13.11).
//!
//! A command line is split into simple commands at `&&`, `||`, `;`, `|`, `&` and newlines
//! outside quotes. A check's pattern is matched against each simple command, after leading
//! `(`, variable assignments (`RUST_LOG=debug`) and the wrappers `env`, `time`, `nice` and
//! `timeout DURATION`. The exit status is the command line's, so it is credited to a check only
//! where the shell makes it that check's: a result that cannot be attributed is recorded as
//! not run, with the reason — never as a pass.

use regex::{Regex, RegexBuilder};

/// The checks recognised unless `--no-default-checks` is given: a name, and a pattern over one
/// simple command.
const DEFAULT_CHECKS: &[(&str, &str)] = &[
    ("cargo test", r"^cargo\s+(\+\S+\s+)?(test|nextest\s+run)\b"),
    ("cargo build", r"^cargo\s+(\+\S+\s+)?build\b"),
    ("cargo clippy", r"^cargo\s+(\+\S+\s+)?clippy\b"),
    ("npm test", r"^npm\s+(run\s+)?test\b"),
    ("npm run lint", r"^npm\s+run\s+lint\b"),
    ("pnpm test", r"^pnpm\s+(run\s+)?test\b"),
    ("pnpm lint", r"^pnpm\s+(run\s+)?lint\b"),
    ("yarn test", r"^yarn\s+(run\s+)?test\b"),
    ("yarn lint", r"^yarn\s+(run\s+)?lint\b"),
    (
        "pytest",
        r"^((uv|poetry|pipenv)\s+run\s+)?(pytest|py\.test|python3?\s+-m\s+pytest)\b",
    ),
    ("go test", r"^go\s+test\b"),
    ("mix test", r"^mix\s+test\b"),
    ("make test", r"^make\s+(\S+\s+)*?test\b"),
    ("make check", r"^make\s+(\S+\s+)*?check\b"),
];

/// The largest compiled pattern accepted, in bytes (regex's own measure).
const MAX_PATTERN_SIZE: usize = 1 << 20;

/// A named check and the pattern that recognises it.
#[derive(Debug)]
pub struct Check {
    /// The check's name, as `verification.check` records it.
    pub name: String,
    pattern: Regex,
}

/// The checks in force: the defaults (unless `defaults` is false) with each `NAME=REGEX` of
/// `custom` added, a custom check replacing a default of the same name.
pub fn checks(custom: &[String], defaults: bool) -> Result<Vec<Check>, String> {
    let mut out: Vec<Check> = Vec::new();
    let mut add = |name: &str, pattern: &str| -> Result<(), String> {
        let compiled = RegexBuilder::new(pattern)
            .size_limit(MAX_PATTERN_SIZE)
            .build()
            .map_err(|e| {
                let e = e.to_string().replace('\n', " ");
                format!("--check-pattern {name}: not a valid regular expression: {e}")
            })?;
        out.retain(|c| c.name != name);
        out.push(Check {
            name: name.to_owned(),
            pattern: compiled,
        });
        Ok(())
    };
    if defaults {
        for (name, pattern) in DEFAULT_CHECKS {
            add(name, pattern)?;
        }
    }
    for spec in custom {
        let (name, pattern) = parse_spec(spec)?;
        add(name, pattern)?;
    }
    Ok(out)
}

/// `NAME=REGEX`: the name is text (SPEC §13.1) without `=`.
fn parse_spec(spec: &str) -> Result<(&str, &str), String> {
    match spec.split_once('=') {
        Some((name, pattern)) if !name.trim().is_empty() && !pattern.is_empty() => {
            Ok((name.trim(), pattern))
        }
        _ => Err(format!(
            "--check-pattern {spec:?}: expected NAME=REGEX, e.g. \"e2e=^npx playwright test\""
        )),
    }
}

/// What a command line's exit status says about one check it ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The check ran and passed.
    Pass,
    /// The check ran and failed (or the command line failed where it is the check's to say).
    Fail,
    /// The check ran, but its result cannot be told from what Claude Code reports; why.
    Unknown(String),
}

/// Each check a command line runs, in order of first appearance, with what its exit status
/// says about it. `exit` is the command line's exit status when known, else why it is not.
pub fn results(checks: &[Check], command: &str, exit: Result<i64, &str>) -> Vec<(String, Verdict)> {
    let (segments, seps) = split(command);
    let mut out: Vec<(String, Verdict)> = Vec::new();
    for (i, segment) in segments.iter().enumerate() {
        let simple = strip_prefixes(segment);
        for c in checks.iter().filter(|c| c.pattern.is_match(simple)) {
            let r = attribute(i, &seps, exit);
            match out.iter_mut().find(|(n, _)| *n == c.name) {
                Some((_, prev)) => *prev = worse(prev.clone(), r),
                None => out.push((c.name.clone(), r)),
            }
        }
    }
    out
}

// A check run twice in one command line: a failure wins, then an unknown result.
fn worse(a: Verdict, b: Verdict) -> Verdict {
    match (a, b) {
        (Verdict::Fail, _) | (_, Verdict::Fail) => Verdict::Fail,
        (u @ Verdict::Unknown(_), _) | (_, u @ Verdict::Unknown(_)) => u,
        _ => Verdict::Pass,
    }
}

/// How two simple commands are joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sep {
    /// `&&`
    And,
    /// `||`
    Or,
    /// `;` or a newline
    Then,
    /// `|` or `|&`
    Pipe,
    /// `&`: the command before it runs in the background.
    Background,
}

// What the command line's exit status says about its `i`th simple command. A false pass is
// the one mistake this must not make; a false failure is tolerated (a command before the
// check failed in an `&&` chain, so the check never ran).
fn attribute(i: usize, seps: &[Sep], exit: Result<i64, &str>) -> Verdict {
    let code = match exit {
        Ok(code) => code,
        Err(why) => return Verdict::Unknown(why.to_owned()),
    };
    if let Some(s) = seps.iter().find(|s| matches!(s, Sep::Or | Sep::Background)) {
        let op = if *s == Sep::Or { "||" } else { "&" };
        return Verdict::Unknown(format!(
            "result unknown: the command line joins commands with `{op}`, so its exit status \
             ({code}) is not the check's"
        ));
    }
    let after = seps.get(i..).unwrap_or(&[]);
    if after.contains(&Sep::Pipe) {
        return Verdict::Unknown(format!(
            "result unknown: its output is piped to another command, whose exit status ({code}) \
             is the command line's"
        ));
    }
    if after.contains(&Sep::Then) {
        return Verdict::Unknown(format!(
            "result unknown: a later command's exit status ({code}) is the command line's"
        ));
    }
    if code == 0 {
        Verdict::Pass
    } else if after.is_empty() {
        Verdict::Fail
    } else {
        Verdict::Unknown(format!(
            "result unknown: the command line exited {code}, at this check or a later command"
        ))
    }
}

/// The simple commands of a command line and the operators between them (one fewer).
/// Operators inside single or double quotes, or escaped, do not split; `>&`, `<&` and `&>`
/// are redirections, not operators.
fn split(command: &str) -> (Vec<&str>, Vec<Sep>) {
    let b = command.as_bytes();
    let (mut segments, mut seps) = (Vec::new(), Vec::new());
    let (mut start, mut i) = (0, 0);
    let (mut single, mut double) = (false, false);
    while i < b.len() {
        let c = b[i];
        if single {
            single = c != b'\'';
            i += 1;
            continue;
        }
        if c == b'\\' {
            i += 2;
            continue;
        }
        if double {
            double = c != b'"';
            i += 1;
            continue;
        }
        let next = b.get(i + 1).copied();
        let prev = i.checked_sub(1).and_then(|p| b.get(p)).copied();
        let op = match c {
            b'\'' => {
                single = true;
                None
            }
            b'"' => {
                double = true;
                None
            }
            b'&' if next == Some(b'&') => Some((Sep::And, 2)),
            b'&' if matches!(prev, Some(b'>' | b'<')) || next == Some(b'>') => None,
            b'&' => Some((Sep::Background, 1)),
            b'|' if next == Some(b'|') => Some((Sep::Or, 2)),
            b'|' if next == Some(b'&') => Some((Sep::Pipe, 2)),
            b'|' => Some((Sep::Pipe, 1)),
            b';' | b'\n' => Some((Sep::Then, 1)),
            _ => None,
        };
        match op {
            Some((sep, len)) => {
                segments.push(command.get(start..i).unwrap_or(""));
                seps.push(sep);
                i += len;
                start = i;
            }
            None => i += 1,
        }
    }
    segments.push(command.get(start..).unwrap_or(""));
    // A trailing `;` or `&` ends the last command rather than joining another to it.
    while segments.len() > 1 && segments.last().is_some_and(|s| s.trim().is_empty()) {
        segments.pop();
        if seps.pop() == Some(Sep::Background) {
            seps.push(Sep::Background);
            segments.push("");
            break;
        }
    }
    (segments, seps)
}

/// A simple command without what runs it rather than names it: leading `(` and `{`, variable
/// assignments, and the wrappers `env`, `time`, `nice`, `command` and `timeout DURATION`.
fn strip_prefixes(segment: &str) -> &str {
    let mut s = segment.trim_start_matches(|c: char| c.is_whitespace() || c == '(' || c == '{');
    loop {
        let (word, rest) = s.split_once(char::is_whitespace).unwrap_or((s, ""));
        let rest = rest.trim_start();
        let assignment = word
            .split_once('=')
            .is_some_and(|(name, _)| is_name(name) && !word.contains(['\'', '"']));
        s = match word {
            "env" | "time" | "nice" | "command" => rest,
            "timeout" => rest
                .split_once(char::is_whitespace)
                .map_or("", |(_, r)| r.trim_start()),
            _ if assignment => rest,
            _ => return s,
        };
    }
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(command: &str) -> Vec<String> {
        let all = checks(&[], true).unwrap();
        results(&all, command, Ok(0))
            .into_iter()
            .map(|(n, _)| n)
            .collect()
    }

    #[test]
    fn default_checks_recognise_the_usual_commands() {
        assert_eq!(names("cargo test --workspace"), ["cargo test"]);
        assert_eq!(names("cargo +nightly test"), ["cargo test"]);
        assert_eq!(names("cargo nextest run"), ["cargo test"]);
        assert_eq!(
            names("cargo build && cargo clippy -- -D warnings"),
            ["cargo build", "cargo clippy"]
        );
        assert_eq!(names("RUST_LOG=debug cargo test -p x"), ["cargo test"]);
        assert_eq!(names("cd /repo && timeout 600 cargo test"), ["cargo test"]);
        assert_eq!(names("(cd web && pnpm run lint)"), ["pnpm lint"]);
        assert_eq!(names("npm test"), ["npm test"]);
        assert_eq!(names("npm run test:unit"), ["npm test"]);
        assert_eq!(names("yarn lint"), ["yarn lint"]);
        assert_eq!(names("python -m pytest tests/"), ["pytest"]);
        assert_eq!(names("uv run pytest -x"), ["pytest"]);
        assert_eq!(names("go test ./..."), ["go test"]);
        assert_eq!(names("mix test"), ["mix test"]);
        assert_eq!(names("make -C build check"), ["make check"]);
        assert_eq!(names("make test"), ["make test"]);
        // Named, not run.
        assert!(names("grep -r 'cargo test' README.md").is_empty());
        assert!(names("echo cargo test").is_empty());
        assert!(names("git commit -m \"fix; cargo test passes\"").is_empty());
        assert!(names("make testdata").is_empty());
        assert!(names("cargo testify").is_empty());
    }

    fn result(command: &str, exit: Result<i64, &str>) -> Verdict {
        let all = checks(&[], true).unwrap();
        let mut r = results(&all, command, exit);
        assert_eq!(r.len(), 1, "{command}: {r:?}");
        r.remove(0).1
    }

    #[test]
    fn the_exit_status_is_credited_only_where_it_is_the_checks() {
        assert_eq!(result("cargo test", Ok(0)), Verdict::Pass);
        assert_eq!(result("cargo test", Ok(101)), Verdict::Fail);
        assert_eq!(result("cd x && cargo test", Ok(0)), Verdict::Pass);
        assert_eq!(result("cargo test && echo ok", Ok(0)), Verdict::Pass);
        assert_eq!(result("cargo test 2>&1", Ok(1)), Verdict::Fail);
        assert_eq!(result("cargo test &> out.txt", Ok(0)), Verdict::Pass);
        assert_eq!(result("cargo test;", Ok(0)), Verdict::Pass);
        assert_eq!(result("echo start; cargo test", Ok(0)), Verdict::Pass);
        for (command, code) in [
            ("cargo test 2>&1 | tail -20", 0),
            ("cargo test | grep FAILED", 1),
            ("cargo test || true", 0),
            ("cargo test; echo done", 0),
            ("cargo test &", 0),
            ("cargo test && echo ok", 1),
        ] {
            assert!(
                matches!(result(command, Ok(code)), Verdict::Unknown(_)),
                "{command}"
            );
        }
        assert_eq!(
            result("cargo test", Err("interrupted")),
            Verdict::Unknown("interrupted".into())
        );
    }

    #[test]
    fn quotes_and_escapes_do_not_split() {
        let (segments, seps) = split(r#"echo 'a && b' "c | d" e\;f && cargo test"#);
        assert_eq!(segments.len(), 2, "{segments:?}");
        assert_eq!(seps, [Sep::And]);
        // Unbalanced quotes and a trailing backslash end the scan without a panic.
        let _ = split("echo \"unterminated && x");
        let _ = split("echo x\\");
        let _ = split("'");
    }

    #[test]
    fn custom_checks_add_to_or_replace_the_defaults() {
        let c = checks(
            &[
                "e2e=^npx playwright test".into(),
                "cargo test=^just test".into(),
            ],
            true,
        )
        .unwrap();
        let r = results(&c, "npx playwright test && just test", Ok(0));
        assert_eq!(
            r.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
            ["e2e", "cargo test"]
        );
        assert!(results(&c, "cargo test", Ok(0)).is_empty());
        let only = checks(&["e2e=^npx playwright test".into()], false).unwrap();
        assert_eq!(only.len(), 1);
        assert!(checks(&["nothing".into()], true).is_err());
        assert!(checks(&["=x".into()], true).is_err());
        let e = checks(&["bad=(".into()], true).unwrap_err();
        assert!(
            e.starts_with("--check-pattern bad: not a valid regular expression"),
            "{e}"
        );
    }
}
