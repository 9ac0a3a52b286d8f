//! Every file the `sealtrail` binary writes: an existing path is refused without `--force`, a
//! secret key file is never replaced, a symlink is never followed (at the output path or at a
//! temporary name beside it), and nothing is left behind.

#![cfg(feature = "sled")]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sealtrail::registry::Role;
use sealtrail::{Log, SecretKey};
use tempfile::TempDir;

const ORIGIN: &str = "example.com/cli-outputs";
const REFUSED: &str = "pass --force to replace it";
const SECRET: &str = "a secret key file is never replaced, even with --force";

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(args: &[&str], stdin: Option<&str>) -> Out {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sealtrail"));
    cmd.args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("the binary runs");
    if let Some(input) = stdin {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[track_caller]
fn expect(out: &Out, code: i32, pieces: &[&str]) {
    assert_eq!(
        out.code, code,
        "exit code\nstdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    let all = format!("{}{}", out.stdout, out.stderr);
    for p in pieces {
        assert!(all.contains(p), "missing {p:?} in\n{all}");
    }
}

/// A log with an owner and a recorder, and a session `s-1` of two events, checkpointed by
/// nothing yet.
struct Fx {
    dir: TempDir,
}

impl Fx {
    fn new() -> Fx {
        let fx = Fx {
            dir: tempfile::tempdir().unwrap(),
        };
        std::fs::create_dir_all(fx.path("keys")).unwrap();
        let owner = SecretKey::generate(ORIGIN).unwrap();
        let recorder = SecretKey::generate("harness").unwrap();
        owner.save(&fx.path("keys/owner.key")).unwrap();
        recorder.save(&fx.path("keys/recorder.key")).unwrap();
        let log = Log::create(&fx.path("log"), &owner, ORIGIN).unwrap();
        log.register_key(&owner, recorder.key_id(), Role::Recorder, "harness")
            .unwrap();
        drop(log);
        let (l, k) = (fx.s("log"), fx.s("keys/recorder.key"));
        expect(
            &run(
                &["append", "--log", &l, "--key", &k, "--session", "s-1"],
                Some(
                    "{\"kind\":\"session_started\",\"objective\":\"add XBRL export\",\
                     \"agent_name\":\"xbrl-agent\"}\n\
                     {\"kind\":\"command_run\",\"command\":\"cargo test\",\"exit_code\":0,\
                     \"duration_ms\":41000}\n",
                ),
            ),
            0,
            &[],
        );
        fx
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn s(&self, p: &str) -> String {
        self.path(p).display().to_string()
    }

    /// `checkpoint --out OUT` plus `extra`.
    fn checkpoint(&self, out: &str, extra: &[&str]) -> Out {
        let (l, k, o) = (self.s("log"), self.s("keys/owner.key"), self.s(out));
        let mut args = vec!["checkpoint", "--log", &l, "--owner-key", &k, "--out", &o];
        args.extend_from_slice(extra);
        run(&args, None)
    }

    /// `export --out OUT` plus `extra`.
    fn export(&self, out: &str, extra: &[&str]) -> Out {
        let (l, k, o) = (self.s("log"), self.s("keys/owner.key"), self.s(out));
        let mut args = vec!["export", "--log", &l, "--owner-key", &k, "--out", &o];
        args.extend_from_slice(extra);
        run(&args, None)
    }

    /// `prove --seq 2 --out OUT` plus `extra`.
    fn prove(&self, out: &str, extra: &[&str]) -> Out {
        let (l, o) = (self.s("log"), self.s(out));
        let mut args = vec!["prove", "--log", &l, "--seq", "2", "--out", &o];
        args.extend_from_slice(extra);
        run(&args, None)
    }

    /// `trace --session s-1 --out OUT` plus `extra`.
    fn trace(&self, out: &str, extra: &[&str]) -> Out {
        let (l, o) = (self.s("log"), self.s(out));
        let mut args = vec!["trace", "--log", &l, "--session", "s-1", "--out", &o];
        args.extend_from_slice(extra);
        run(&args, None)
    }

    /// Runs verify-bundle on BUNDLE, trusting the owner's key.
    fn verify_bundle(&self, bundle: &str) -> Out {
        let out = Command::new(env!("CARGO_BIN_EXE_verify-bundle"))
            .args([
                &self.s(bundle),
                "--trusted-key",
                // What `sealtrail init` writes for auditors: the owner key under the origin line.
                &Log::open(&self.path("log")).unwrap().verifier_keys()[0].to_vkey(),
            ])
            .output()
            .unwrap();
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// Names in `dir` other than `expected`: temporary files left behind.
#[track_caller]
fn only(dir: &Path, expected: &[&str]) {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut want: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(names, want, "{}", dir.display());
}

/// `path` still holds exactly `want` (printed as text when it does not).
#[track_caller]
fn unchanged(path: &Path, want: &[u8]) {
    let now = std::fs::read(path).unwrap();
    assert!(
        now == want,
        "{} was written: {:?}",
        path.display(),
        String::from_utf8_lossy(&now[..now.len().min(200)])
    );
}

#[cfg(unix)]
fn is_symlink(p: &Path) -> bool {
    std::fs::symlink_metadata(p)
        .map(|m| m.file_type().is_symlink())
        .unwrap_or(false)
}

#[test]
fn a_secret_key_file_is_never_replaced_even_with_force() {
    let fx = Fx::new();
    let key = fx.path("keys/owner.key");
    let before = std::fs::read(&key).unwrap();
    assert!(before.starts_with(b"PRIVATE+KEY+"));
    for extra in [&[][..], &["--force"]] {
        expect(
            &fx.checkpoint("keys/owner.key", extra),
            2,
            &["keys/owner.key: holds a secret key", SECRET],
        );
        unchanged(&key, &before);
    }
    // Every other output refuses it the same way.
    expect(
        &fx.checkpoint("seen.checkpoint", &[]),
        0,
        &["seen.checkpoint"],
    );
    for out in [
        fx.prove("keys/owner.key", &["--force"]),
        fx.trace("keys/owner.key", &["--force"]),
        fx.export("keys/owner.key", &["--force"]),
    ] {
        expect(&out, 2, &["keys/owner.key: holds a secret key", SECRET]);
        unchanged(&key, &before);
    }
    // A key written with white space before it is still a key.
    let mut spaced = b"\n  ".to_vec();
    spaced.extend_from_slice(&before);
    std::fs::write(fx.path("keys/spaced.key"), &spaced).unwrap();
    expect(
        &fx.checkpoint("keys/spaced.key", &["--force"]),
        2,
        &[SECRET],
    );
    unchanged(&fx.path("keys/spaced.key"), &spaced);
    only(
        &fx.path("keys"),
        &[
            "owner.key",
            "owner.key.pub",
            "recorder.key",
            "recorder.key.pub",
            "spaced.key",
        ],
    );
}

#[test]
fn an_existing_output_is_refused_without_force_and_replaced_with_it() {
    let fx = Fx::new();
    expect(
        &fx.checkpoint("first.checkpoint", &[]),
        0,
        &["first.checkpoint"],
    );
    type Command = fn(&Fx, &str, &[&str]) -> Out;
    let outputs: [(&str, Command, &[u8]); 3] = [
        (
            "cp.note",
            Fx::checkpoint,
            b"example.com/cli-outputs#blake3\n",
        ),
        ("e2.tlog-proof", Fx::prove, b"c2sp.org/tlog-proof@v1\n"),
        ("trace.md", Fx::trace, b"add XBRL export"),
    ];
    for (name, command, written) in outputs {
        std::fs::write(fx.path(name), "mine\n").unwrap();
        expect(
            &command(&fx, name, &[]),
            2,
            &[&format!(
                "{name}: exists; choose another --out or {REFUSED}"
            )],
        );
        unchanged(&fx.path(name), b"mine\n");
        expect(&command(&fx, name, &["--force"]), 0, &[name]);
        let now = std::fs::read(fx.path(name)).unwrap();
        assert!(
            now.windows(written.len()).any(|w| w == written),
            "{name}: {}",
            String::from_utf8_lossy(&now)
        );
    }
    // --force means nothing without --out.
    let l = fx.s("log");
    expect(
        &run(&["prove", "--log", &l, "--seq", "2", "--force"], None),
        2,
        &["--out"],
    );
    only(
        fx.dir.path(),
        &[
            "keys",
            "log",
            "first.checkpoint",
            "cp.note",
            "e2.tlog-proof",
            "trace.md",
        ],
    );
}

#[cfg(unix)]
#[test]
fn checkpoint_never_writes_through_a_symlink() {
    use std::os::unix::fs::symlink;
    let fx = Fx::new();
    std::fs::write(fx.path("victim.txt"), "precious\n").unwrap();
    symlink(fx.path("victim.txt"), fx.path("cp.note")).unwrap();
    symlink(fx.path("not-there.txt"), fx.path("dangling.note")).unwrap();
    symlink(fx.path("keys/owner.key"), fx.path("key-link.note")).unwrap();
    let key = std::fs::read(fx.path("keys/owner.key")).unwrap();

    // Without --force a symlink is an existing path like any other, dangling or not.
    for name in ["cp.note", "dangling.note", "key-link.note"] {
        expect(&fx.checkpoint(name, &[]), 2, &[name, REFUSED]);
        assert!(is_symlink(&fx.path(name)), "{name}");
    }
    unchanged(&fx.path("victim.txt"), b"precious\n");
    assert!(!fx.path("not-there.txt").exists());

    // With --force the symlink itself is replaced; its target is never written.
    for name in ["cp.note", "dangling.note", "key-link.note"] {
        expect(&fx.checkpoint(name, &["--force"]), 0, &[name]);
        assert!(!is_symlink(&fx.path(name)), "{name}");
        let note = std::fs::read_to_string(fx.path(name)).unwrap();
        assert!(
            note.starts_with("example.com/cli-outputs#blake3\n"),
            "{note}"
        );
    }
    unchanged(&fx.path("victim.txt"), b"precious\n");
    assert!(!fx.path("not-there.txt").exists());
    unchanged(&fx.path("keys/owner.key"), &key);
    only(
        fx.dir.path(),
        &[
            "keys",
            "log",
            "victim.txt",
            "cp.note",
            "dangling.note",
            "key-link.note",
        ],
    );
}

#[cfg(unix)]
#[test]
fn export_follows_no_symlink_and_its_bundle_verifies() {
    use std::os::unix::fs::symlink;
    let fx = Fx::new();
    std::fs::write(fx.path("victim.txt"), "precious\n").unwrap();
    // The temporary names an attacker could predict: the old `OUT.bundle.partial`, and others.
    for planted in [
        "all.bundle.partial",
        "all.partial",
        ".all.bundle.partial",
        "all.bundle.tmp",
    ] {
        symlink(fx.path("victim.txt"), fx.path(planted)).unwrap();
    }
    let out = fx.export("all.bundle", &["--json"]);
    expect(&out, 0, &[]);
    unchanged(&fx.path("victim.txt"), b"precious\n");
    assert!(!is_symlink(&fx.path("all.bundle")));
    expect(&fx.verify_bundle("all.bundle"), 0, &["VALID"]);
    for planted in ["all.bundle.partial", "all.partial", ".all.bundle.partial"] {
        assert!(is_symlink(&fx.path(planted)), "{planted}");
    }

    // A symlink at the output path: refused without --force, replaced (not followed) with it.
    symlink(fx.path("victim.txt"), fx.path("s.bundle")).unwrap();
    expect(&fx.export("s.bundle", &[]), 2, &["s.bundle", REFUSED]);
    assert!(is_symlink(&fx.path("s.bundle")));
    expect(&fx.export("s.bundle", &["--force"]), 0, &["wrote "]);
    assert!(!is_symlink(&fx.path("s.bundle")));
    unchanged(&fx.path("victim.txt"), b"precious\n");
    expect(&fx.verify_bundle("s.bundle"), 0, &["VALID"]);

    // A failed export leaves nothing behind.
    expect(&fx.export("r.bundle", &["--range", "0..99"]), 1, &[]);
    only(
        fx.dir.path(),
        &[
            "keys",
            "log",
            "victim.txt",
            "all.bundle",
            "s.bundle",
            "all.bundle.partial",
            "all.partial",
            ".all.bundle.partial",
            "all.bundle.tmp",
        ],
    );
}

#[cfg(unix)]
#[test]
fn keygen_never_replaces_a_file_and_leaves_nothing_half_made() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    let s = |n: &str| p(n).display().to_string();
    // A dangling symlink at PATH.pub: refused before the secret key is written.
    symlink(p("elsewhere.pub"), p("a.key.pub")).unwrap();
    expect(
        &run(&["keygen", "--out", &s("a.key")], None),
        2,
        &["a.key.pub: already exists; not overwriting a key"],
    );
    assert!(!p("a.key").exists());
    assert!(!p("elsewhere.pub").exists());
    // A dangling symlink at PATH: refused, nothing created at its target.
    symlink(p("elsewhere.key"), p("b.key")).unwrap();
    expect(
        &run(&["keygen", "--out", &s("b.key")], None),
        2,
        &["b.key: already exists; not overwriting a key"],
    );
    assert!(!p("elsewhere.key").exists());
    assert!(!p("b.key.pub").exists());
    // There is no --force for keys.
    expect(
        &run(&["keygen", "--out", &s("c.key"), "--force"], None),
        2,
        &["--force"],
    );
    expect(&run(&["keygen", "--out", &s("c.key")], None), 0, &[]);
    only(dir.path(), &["a.key.pub", "b.key", "c.key", "c.key.pub"]);
}

#[cfg(unix)]
#[test]
fn the_demo_replaces_its_own_outputs_but_follows_no_symlink_and_keeps_keys() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    let d = demo.display().to_string();
    expect(
        &run(&["demo", "--dir", &d], None),
        0,
        &["verdict:     VALID"],
    );
    // Planted between runs: a dangling symlink at an output, and one at the old temporary name.
    std::fs::remove_file(demo.join("checkpoint.txt")).unwrap();
    symlink(dir.path().join("created.txt"), demo.join("checkpoint.txt")).unwrap();
    std::fs::write(dir.path().join("victim.txt"), "precious\n").unwrap();
    symlink(
        dir.path().join("victim.txt"),
        demo.join("demo.bundle.partial"),
    )
    .unwrap();
    expect(
        &run(&["demo", "--dir", &d], None),
        0,
        &["exists from an earlier run", "verdict:     VALID"],
    );
    assert!(!dir.path().join("created.txt").exists());
    assert!(!is_symlink(&demo.join("checkpoint.txt")));
    unchanged(&dir.path().join("victim.txt"), b"precious\n");
    assert!(is_symlink(&demo.join("demo.bundle.partial")));
    // A secret key where the demo's trace goes is neither removed nor replaced.
    let key = std::fs::read(demo.join("keys/owner.key")).unwrap();
    std::fs::write(demo.join("trace.md"), &key).unwrap();
    expect(
        &run(&["demo", "--dir", &d], None),
        2,
        &["trace.md: holds a secret key", SECRET],
    );
    unchanged(&demo.join("trace.md"), &key);
    only(
        &demo,
        &[
            "keys",
            "log",
            "log.vkey",
            "checkpoint.txt",
            "demo.bundle",
            "demo.bundle.partial",
            "trace.md",
            "report.html",
            "compare.md",
            "compare.json",
            "replay-work",
            "repo",
        ],
    );
}
