//! From a commit to its evidence, on real git repositories made here: `trace --checkpoint`
//! trailers, `verify-commit` (including an owner who forks the log after the commit), and the
//! `prepare-commit-msg` hook `git install-hook` writes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn sealtrail(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sealtrail"))
        .args(args)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn ok(o: Output) -> String {
    assert!(o.status.success(), "{}", text(&o));
    String::from_utf8(o.stdout).unwrap()
}

fn git(repo: &Path, args: &[&str]) -> String {
    let o = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .env("GIT_AUTHOR_NAME", "Dev")
        .env("GIT_AUTHOR_EMAIL", "dev@example.com")
        .env("GIT_COMMITTER_NAME", "Dev")
        .env("GIT_COMMITTER_EMAIL", "dev@example.com")
        .output()
        .unwrap_or_else(|e| panic!("git is needed for these tests (apt-get install git): {e}"));
    assert!(o.status.success(), "git {args:?}: {}", text(&o));
    String::from_utf8(o.stdout).unwrap()
}

struct Fixture {
    _dir: tempfile::TempDir,
    demo: PathBuf,
    repo: PathBuf,
}

impl Fixture {
    // The demo's log and keys, a git repository with one commit, and a bundle of the whole log
    // inside it at evidence/demo.bundle.
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let demo = dir.path().join("demo");
        ok(sealtrail(&["demo", "--dir", demo.to_str().unwrap()]));
        let repo = dir.path().join("repo");
        std::fs::create_dir(&repo).unwrap();
        git(&repo, &["init", "-q"]);
        std::fs::create_dir(repo.join("evidence")).unwrap();
        let f = Fixture {
            _dir: dir,
            demo,
            repo,
        };
        ok(sealtrail(&[
            "export",
            "--log",
            &f.path("log"),
            "--owner-key",
            &f.path("keys/owner.key"),
            "--out",
            f.repo.join("evidence/demo.bundle").to_str().unwrap(),
        ]));
        f
    }

    fn path(&self, p: &str) -> String {
        self.demo.join(p).to_str().unwrap().to_owned()
    }

    fn trace(&self) -> String {
        ok(sealtrail(&[
            "trace",
            "--log",
            &self.path("log"),
            // The recorded session, not the demo's later replays of it.
            "--session",
            "sess-xbrl-0001",
            "--checkpoint",
            "--evidence",
            "evidence/demo.bundle",
        ]))
    }

    // Commits a change with `message`.
    fn commit(&self, message: &str) {
        let n = git(&self.repo, &["rev-list", "--all", "--count"])
            .trim()
            .len();
        std::fs::write(self.repo.join(format!("file{n}.txt")), message).unwrap();
        git(&self.repo, &["add", "-A"]);
        let msg = self.repo.join("../msg.txt");
        std::fs::write(&msg, message).unwrap();
        git(&self.repo, &["commit", "-q", "-F", msg.to_str().unwrap()]);
    }

    fn verify_commit(&self, extra: &[&str]) -> Output {
        let mut args = vec![
            "verify-commit",
            "HEAD",
            "--repo",
            self.repo.to_str().unwrap(),
        ];
        let vkey = self.path("log.vkey");
        args.extend(["--trusted-key", &vkey]);
        args.extend(extra);
        sealtrail(&args)
    }
}

#[test]
fn a_commit_with_the_trace_verifies_against_its_bundle() {
    let f = Fixture::new();
    let trace = f.trace();
    assert!(trace.contains("Sealtrail-Checkpoint: "), "{trace}");
    f.commit(&format!("Add XBRL export\n\n{trace}"));
    let out = f.verify_commit(&[]);
    let shown = text(&out);
    assert!(out.status.success(), "{shown}");
    assert!(shown.contains("verdict:     VALID"), "{shown}");
    assert!(
        shown.contains("as claimed"),
        "the trailer's checkpoint is proven: {shown}"
    );

    let out = f.verify_commit(&["--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    sealtrail_testkit::report_schema::assert_report_schema(&v["report"]);
    assert_eq!(v["verdict"], "valid");
    assert_eq!(v["report"]["verdict"], "valid");
    assert!(v["trailers"]["checkpoint"].is_string());
}

// The owner, after the commit named the log at size n with root r, cannot hand the reviewer a
// different history: a trailer root that the bundle does not prove fails, and so do a session
// the bundle does not hold and a commit that names no evidence.
#[test]
fn a_commit_whose_trailers_the_bundle_does_not_prove_fails() {
    let f = Fixture::new();
    let trace = f.trace();
    let line = trace
        .lines()
        .find(|l| l.starts_with("Sealtrail-Checkpoint: "))
        .unwrap();
    let (size, _) = line["Sealtrail-Checkpoint: ".len()..]
        .split_once(' ')
        .unwrap();
    let forged = trace.replace(
        line,
        &format!("Sealtrail-Checkpoint: {size} {}", "ab".repeat(32)),
    );
    f.commit(&format!("Add XBRL export\n\n{forged}"));
    let out = f.verify_commit(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("is not this log's history"),
        "{}",
        text(&out)
    );

    let session_line = trace
        .lines()
        .find(|l| l.starts_with("Sealtrail-Session: "))
        .unwrap();
    let other = trace.replace(session_line, "Sealtrail-Session: sess-elsewhere");
    f.commit(&format!("Another change\n\n{other}"));
    let out = f.verify_commit(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("holds no entry of session sess-elsewhere"),
        "{}",
        text(&out)
    );

    f.commit("A change without evidence");
    let out = f.verify_commit(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("names no evidence"), "{}", text(&out));
}

#[test]
fn the_installed_hook_puts_the_trace_in_each_commit_message() {
    let f = Fixture::new();
    let repo = f.repo.to_str().unwrap();
    ok(sealtrail(&[
        "git",
        "install-hook",
        "--repo",
        repo,
        "--log",
        &f.path("log"),
        "--checkpoint",
        "--evidence",
        "evidence/demo.bundle",
    ]));
    // An existing hook is not replaced without --force.
    let again = sealtrail(&[
        "git",
        "install-hook",
        "--repo",
        repo,
        "--log",
        &f.path("log"),
    ]);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert!(text(&again).contains("exists"), "{}", text(&again));

    f.commit("Add XBRL export");
    let message = git(&f.repo, &["log", "-1", "--format=%B"]);
    assert!(message.starts_with("Add XBRL export"), "{message}");
    assert!(message.contains("Sealtrail-Session: "), "{message}");
    assert!(
        message.contains("Sealtrail-Evidence: evidence/demo.bundle"),
        "{message}"
    );
    let out = f.verify_commit(&[]);
    assert!(out.status.success(), "{}", text(&out));
}

// Commits of each origin, made here, classified from their authors and trailers; the commit
// with a decision trace is linked to its session and approvals in the log.
#[test]
fn git_scan_classifies_each_commit_and_links_sessions() {
    let f = Fixture::new();
    f.commit("Human change\n\nSigned-off-by: Dev <dev@example.com>");
    f.commit("Pair with an agent\n\nCo-authored-by: Claude <noreply@anthropic.com>");
    f.commit(&format!("Agent session\n\n{}", f.trace()));
    std::fs::write(f.repo.join("bot.txt"), "generated").unwrap();
    git(&f.repo, &["add", "-A"]);
    git(
        &f.repo,
        &[
            "-c",
            "user.name=Claude",
            "-c",
            "user.email=noreply@anthropic.com",
            "commit",
            "-q",
            "--author=Claude <noreply@anthropic.com>",
            "-m",
            "Agent's own commit",
        ],
    );
    let repo = f.repo.to_str().unwrap();
    let log = f.path("log");
    let out = ok(sealtrail(&[
        "git", "scan", "--repo", repo, "--log", &log, "--json",
    ]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["schema"], "sealtrail.git-scan/1");
    let origins: Vec<&str> = v["commits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["origin"].as_str().unwrap())
        .collect();
    // Newest first: the agent's commit, the traced session, the pair, the human.
    assert_eq!(origins, ["agent", "mixed", "mixed", "human"]);
    assert_eq!(
        v["totals"],
        serde_json::json!({"human": 1, "agent": 1, "mixed": 2})
    );
    let traced = &v["commits"][1];
    assert!(traced["session"].is_string());
    assert!(
        traced["in_log"]["entries"].as_u64().unwrap() > 0,
        "{traced}"
    );
    assert_eq!(
        traced["in_log"]["approved_by"][0], "Release Approver",
        "{traced}"
    );

    let text = ok(sealtrail(&["git", "scan", "--repo", repo]));
    assert!(
        text.ends_with("4 commits: 1 human, 1 agent, 2 mixed\n"),
        "{text}"
    );
}
