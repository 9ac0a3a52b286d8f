//! Code origin: whether a commit was written by a person, by an agent, or by both, read from
//! what the commit says about itself — its author and its trailers (`Assisted-by`,
//! `Generated-by`, `Co-authored-by` naming an agent, and the `Sealtrail-*` trailers a decision
//! trace ends with, SPEC §13.9).
//!
//! ```
//! use sealtrail::origin::{Commit, Origin, classify};
//! let commit = Commit {
//!     author_name: "Dana Dev".into(),
//!     author_email: "dana@example.com".into(),
//!     trailers: vec![("Co-authored-by".into(), "Claude <noreply@anthropic.com>".into())],
//! };
//! let found = classify(&commit, &[]);
//! assert_eq!(found.origin, Origin::Mixed);
//! ```

use serde::Serialize;

/// Who wrote a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// A person, with no agent named.
    Human,
    /// An agent: its author, or a `Generated-by` trailer.
    Agent,
    /// A person with an agent's help: `Assisted-by`, a co-author that is an agent, or a
    /// sealtrail session.
    Mixed,
}

impl Origin {
    /// The origin's name: `human`, `agent` or `mixed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Human => "human",
            Origin::Agent => "agent",
            Origin::Mixed => "mixed",
        }
    }
}

/// What a commit says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Commit {
    /// The author's name.
    pub author_name: String,
    /// The author's e-mail address.
    pub author_email: String,
    /// The commit's trailers, `(key, value)`, in order.
    pub trailers: Vec<(String, String)>,
}

/// A commit's origin and the evidence for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Classified {
    /// The origin.
    pub origin: Origin,
    /// Why, one item per piece of evidence (empty for a human commit).
    pub evidence: Vec<String>,
}

/// Names (matched case-insensitively as words of a name or e-mail address) of coding agents and
/// their vendors' commit identities; `extra` adds an organisation's own.
pub const KNOWN_AGENTS: &[&str] = &[
    "claude",
    "claude-code",
    "anthropic",
    "copilot",
    "codex",
    "openai",
    "cursor",
    "devin",
    "aider",
    "gemini",
    "jules",
    "codewhisperer",
    "amazon-q",
];

/// Whether `who` (a name, an e-mail address, or both as `Name <email>`) names an agent: one of
/// its words (split at anything but letters, digits and `-`) is a known agent, or an `extra`
/// name appears in it.
pub fn is_agent(who: &str, extra: &[String]) -> bool {
    let lower = who.to_ascii_lowercase();
    lower
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .any(|w| KNOWN_AGENTS.contains(&w))
        || extra
            .iter()
            .any(|e| !e.is_empty() && lower.contains(&e.to_ascii_lowercase()))
}

/// Classifies a commit: an agent author or a `Generated-by` trailer makes it `agent`;
/// otherwise `Assisted-by`, a `Co-authored-by` naming an agent, or a `Sealtrail-Session` trailer
/// make it `mixed`; otherwise it is `human`. `extra` names more agents.
pub fn classify(commit: &Commit, extra: &[String]) -> Classified {
    let mut agent = Vec::new();
    let mut mixed = Vec::new();
    let author = format!("{} <{}>", commit.author_name, commit.author_email);
    if is_agent(&author, extra) {
        agent.push(format!("author {author} is an agent"));
    }
    for (key, value) in &commit.trailers {
        match key.to_ascii_lowercase().as_str() {
            "generated-by" => agent.push(format!("Generated-by: {value}")),
            "assisted-by" => mixed.push(format!("Assisted-by: {value}")),
            "co-authored-by" if is_agent(value, extra) => {
                mixed.push(format!("Co-authored-by: {value}"));
            }
            "sealtrail-session" => mixed.push(format!("Sealtrail-Session: {value}")),
            _ => {}
        }
    }
    let origin = if !agent.is_empty() {
        Origin::Agent
    } else if !mixed.is_empty() {
        Origin::Mixed
    } else {
        Origin::Human
    };
    agent.extend(mixed);
    Classified {
        origin,
        evidence: agent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(name: &str, email: &str, trailers: &[(&str, &str)]) -> Commit {
        Commit {
            author_name: name.into(),
            author_email: email.into(),
            trailers: trailers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn each_origin_and_its_evidence() {
        let human = commit("Dana Dev", "dana@example.com", &[("Signed-off-by", "Dana")]);
        assert_eq!(classify(&human, &[]).origin, Origin::Human);
        assert!(classify(&human, &[]).evidence.is_empty());

        let bot = commit("Claude", "noreply@anthropic.com", &[]);
        assert_eq!(classify(&bot, &[]).origin, Origin::Agent);
        let generated = commit("Dana Dev", "dana@example.com", &[("Generated-by", "codex")]);
        assert_eq!(classify(&generated, &[]).origin, Origin::Agent);

        for (k, v) in [
            ("Assisted-by", "claude-code:claude-sonnet-4"),
            ("Co-authored-by", "Claude <noreply@anthropic.com>"),
            ("Sealtrail-Session", "sess-1"),
        ] {
            let c = commit("Dana Dev", "dana@example.com", &[(k, v)]);
            let found = classify(&c, &[]);
            assert_eq!(found.origin, Origin::Mixed, "{k}");
            assert_eq!(found.evidence, vec![format!("{k}: {v}")]);
        }
        // A person as co-author changes nothing; a word that merely contains an agent's name
        // is not one.
        let pair = commit(
            "Dana Dev",
            "dana@example.com",
            &[("Co-authored-by", "Claudette Roe <claudette@example.com>")],
        );
        assert_eq!(classify(&pair, &[]).origin, Origin::Human);
        // An organisation's own agent.
        let own = commit("build-robot", "robot@example.com", &[]);
        assert_eq!(
            classify(&own, &["build-robot".into()]).origin,
            Origin::Agent
        );
    }
}
