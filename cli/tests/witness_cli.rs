//! The witness role from the command line (`sealtrail witness …`, SPEC §11.8) and
//! `verify-bundle proof` (SPEC §11.7), run as real binaries: cosign, refuse forks and rollbacks,
//! attach, export a witnessed bundle, serve and request C2SP tlog-witness over loopback HTTP.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

fn sealtrail(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sealtrail"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

fn verify_bundle(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_verify-bundle"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[track_caller]
fn ok(o: Output) -> Output {
    assert_eq!(code(&o), 0, "{}", text(&o));
    o
}

/// A sha256 log `log` in `dir` (origin example.com/log, LOG.vkey beside it) with a recorder.
fn new_log(dir: &Path, log: &str) {
    if !dir.join("owner.key").exists() {
        ok(sealtrail(dir, &["keygen", "--out", "owner.key"]));
        ok(sealtrail(dir, &["keygen", "--out", "rec.key"]));
    }
    let vkey = format!("{log}.vkey");
    ok(sealtrail(
        dir,
        &[
            "init",
            "--log",
            log,
            "--owner-key",
            "owner.key",
            "--origin",
            "example.com/log",
            "--suite",
            "sha256",
            "--vkey-out",
            &vkey,
        ],
    ));
    ok(sealtrail(
        dir,
        &[
            "keys",
            "add",
            "--log",
            log,
            "--owner-key",
            "owner.key",
            "--pub",
            "rec.key.pub",
            "--role",
            "recorder",
            "--name",
            "rec",
        ],
    ));
}

fn append(dir: &Path, log: &str, n: usize, tag: &str) {
    let lines: String = (0..n)
        .map(|i| {
            format!(
                "{{\"kind\":\"decision\",\"session\":\"s1\",\"question\":\"{tag}{i}\",\
                 \"chosen\":\"a\",\"rejected\":[],\"rationale\":\"r\"}}\n"
            )
        })
        .collect();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sealtrail"))
        .current_dir(dir)
        .args(["append", "--log", log, "--key", "rec.key"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(lines.as_bytes())
        .unwrap();
    ok(child.wait_with_output().unwrap());
}

fn checkpoint(dir: &Path, log: &str, out: &str) {
    ok(sealtrail(
        dir,
        &[
            "checkpoint",
            "--log",
            log,
            "--owner-key",
            "owner.key",
            "--out",
            out,
        ],
    ));
}

fn cosign(dir: &Path, cp: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "witness",
        "cosign",
        "--key",
        "w1.key",
        "--state",
        "wstate",
        "--checkpoint",
        cp,
        "--trusted-key",
        "L.vkey",
    ];
    args.extend_from_slice(extra);
    sealtrail(dir, &args)
}

#[test]
fn cosign_attach_export_and_verify_with_a_witness() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    new_log(d, "L");
    append(d, "L", 4, "a");
    checkpoint(d, "L", "cp1.txt");
    ok(sealtrail(
        d,
        &[
            "witness",
            "keygen",
            "--out",
            "w1.key",
            "--name",
            "witness.example/w1",
        ],
    ));

    // Owner-only: the export cannot meet --require-witnesses, and the bundle fails the policy.
    let o = sealtrail(
        d,
        &[
            "export",
            "--log",
            "L",
            "--owner-key",
            "owner.key",
            "--out",
            "plain.bundle",
            "--require-witnesses",
            "1",
        ],
    );
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(text(&o).contains("witness cosignatures"), "{}", text(&o));
    ok(sealtrail(
        d,
        &[
            "export",
            "--log",
            "L",
            "--owner-key",
            "owner.key",
            "--out",
            "plain.bundle",
        ],
    ));
    let witnessed = [
        "--trusted-key",
        "L.vkey",
        "--witness",
        "w1.key.pub",
        "--witness-quorum",
        "1",
    ];
    let mut args = vec!["plain.bundle"];
    args.extend_from_slice(&witnessed);
    assert_eq!(code(&verify_bundle(d, &args)), 1);

    // Cosign, attach, export: the bundle passes with the witness required.
    ok(cosign(d, "cp1.txt", &["--out", "cp1.cosig"]));
    let line = std::fs::read_to_string(d.join("cp1.cosig")).unwrap();
    assert!(line.starts_with("\u{2014} witness.example/w1 "), "{line}");
    ok(sealtrail(
        d,
        &[
            "witness",
            "attach",
            "--log",
            "L",
            "--cosignature",
            "cp1.cosig",
            "--witness",
            "w1.key.pub",
        ],
    ));
    let o = ok(sealtrail(
        d,
        &[
            "export",
            "--log",
            "L",
            "--owner-key",
            "owner.key",
            "--out",
            "w.bundle",
            "--require-witnesses",
            "1",
        ],
    ));
    assert!(text(&o).contains("1 witness cosignature"), "{}", text(&o));
    let mut args = vec!["w.bundle"];
    args.extend_from_slice(&witnessed);
    let o = ok(verify_bundle(d, &args));
    assert!(text(&o).contains("witness.example/w1"), "{}", text(&o));

    // Interop: the line the CLI wrote verifies in metamorphic-log under the CLI's vkey file.
    {
        use metamorphic_log::note::{SignedNote as MNote, VerifierKey};
        let note = format!(
            "{}{line}",
            std::fs::read_to_string(d.join("cp1.txt")).unwrap()
        );
        let vk = VerifierKey::parse(
            std::fs::read_to_string(d.join("w1.key.pub"))
                .unwrap()
                .trim(),
        )
        .unwrap();
        let parsed = MNote::parse(&note).unwrap();
        let verified = parsed.verify(std::slice::from_ref(&vk)).unwrap();
        assert_eq!(verified.len(), 1);
    }

    // The log grows: without a proof the witness refuses; with the log's proof it cosigns.
    append(d, "L", 3, "b");
    checkpoint(d, "L", "cp2.txt");
    let o = cosign(d, "cp2.txt", &[]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(text(&o).contains("--consistency-from"), "{}", text(&o));
    let size1 = std::fs::read_to_string(d.join("cp1.txt"))
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .to_owned();
    ok(sealtrail(
        d,
        &[
            "prove",
            "--log",
            "L",
            "--consistency-from",
            &size1,
            "--out",
            "c.proof",
        ],
    ));
    ok(cosign(
        d,
        "cp2.txt",
        &["--proof", "c.proof", "--out", "cp2.cosig"],
    ));
    // A rollback to the first checkpoint is refused, typed, exit 1.
    let o = cosign(d, "cp1.txt", &[]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(text(&o).contains("rollback"), "{}", text(&o));

    // A fork: another log under the same origin and owner key, the same size as cp2.
    new_log(d, "F");
    append(d, "F", 7, "fork");
    checkpoint(d, "F", "fork.txt");
    let fork_size = std::fs::read_to_string(d.join("fork.txt")).unwrap();
    let cp2 = std::fs::read_to_string(d.join("cp2.txt")).unwrap();
    assert_eq!(fork_size.lines().nth(1), cp2.lines().nth(1));
    let o = cosign(d, "fork.txt", &[]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(text(&o).contains("fork"), "{}", text(&o));
}

#[test]
fn verify_bundle_proof_checks_key_checkpoint_proof_and_entry() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    new_log(d, "L");
    append(d, "L", 9, "a");
    checkpoint(d, "L", "cp.txt");
    for seq in ["4", "5"] {
        ok(sealtrail(
            d,
            &[
                "prove",
                "--log",
                "L",
                "--seq",
                seq,
                "--out",
                &format!("e{seq}.tlog-proof"),
                "--entry-out",
                &format!("e{seq}.entry"),
            ],
        ));
    }
    let proof = std::fs::read_to_string(d.join("e4.tlog-proof")).unwrap();
    let hash = sealtrail::checkpoint::TlogProof::parse(proof.as_bytes())
        .unwrap()
        .entry_hash()
        .unwrap()
        .to_hex();

    let o = ok(verify_bundle(
        d,
        &["proof", "e4.tlog-proof", "--trusted-key", "L.vkey"],
    ));
    assert!(text(&o).contains("VALID"), "{}", text(&o));
    assert!(text(&o).contains("entry 4"), "{}", text(&o));
    let o = ok(verify_bundle(
        d,
        &[
            "proof",
            "e4.tlog-proof",
            "--trusted-key",
            "L.vkey",
            "--entry-hash",
            &hash,
            "--json",
        ],
    ));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(json["verdict"], "valid");
    assert_eq!(json["entry"]["seq"], 4);
    assert_eq!(json["entry"]["hash"], hash.as_str());

    // The entry's wire form proves it is that entry; another entry's does not.
    let o = ok(verify_bundle(
        d,
        &[
            "proof",
            "e4.tlog-proof",
            "--trusted-key",
            "L.vkey",
            "--entry",
            "e4.entry",
        ],
    ));
    assert!(text(&o).contains("--entry file"), "{}", text(&o));
    let o = verify_bundle(
        d,
        &[
            "proof",
            "e4.tlog-proof",
            "--trusted-key",
            "L.vkey",
            "--entry",
            "e5.entry",
        ],
    );
    assert_eq!(code(&o), 1, "{}", text(&o));

    // Another entry's hash: exit 1.
    let other = format!("{}0", &hash[..63]);
    let other = if other == hash {
        format!("{}1", &hash[..63])
    } else {
        other
    };
    let o = verify_bundle(
        d,
        &[
            "proof",
            "e4.tlog-proof",
            "--trusted-key",
            "L.vkey",
            "--entry-hash",
            &other,
        ],
    );
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(text(&o).contains("INVALID"), "{}", text(&o));

    // Wrong key: the owner's key under its own name (not the log's verifier key): exit 1.
    let o = verify_bundle(
        d,
        &["proof", "e4.tlog-proof", "--trusted-key", "owner.key.pub"],
    );
    assert_eq!(code(&o), 1, "{}", text(&o));

    // A tampered proof hash, a tampered checkpoint root: exit 1.
    let lines: Vec<&str> = proof.split_inclusive('\n').collect();
    let hash_line = lines.iter().position(|l| l.starts_with("index ")).unwrap() + 1;
    let root_line = lines.iter().position(|l| *l == "\n").unwrap() + 3;
    for (name, at) in [
        ("bad-hash.tlog-proof", hash_line),
        ("bad-root.tlog-proof", root_line),
    ] {
        let mut tampered: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        let l = &mut tampered[at];
        let c = if l.starts_with('A') { "B" } else { "A" };
        l.replace_range(0..1, c);
        std::fs::write(d.join(name), tampered.concat()).unwrap();
        let o = verify_bundle(d, &["proof", name, "--trusted-key", "L.vkey"]);
        assert_eq!(code(&o), 1, "{name}: {}", text(&o));
    }

    // Not a proof, no key, a missing file: exit 2. A proof given as a bundle says what it is.
    std::fs::write(d.join("junk"), "hello\n").unwrap();
    assert_eq!(
        code(&verify_bundle(
            d,
            &["proof", "junk", "--trusted-key", "L.vkey"]
        )),
        2
    );
    assert_eq!(code(&verify_bundle(d, &["proof", "e4.tlog-proof"])), 2);
    assert_eq!(
        code(&verify_bundle(
            d,
            &["proof", "nope", "--trusted-key", "L.vkey"]
        )),
        2
    );
    let o = verify_bundle(d, &["e4.tlog-proof", "--trusted-key", "L.vkey"]);
    assert_eq!(code(&o), 2);
    assert!(text(&o).contains("verify-bundle proof"), "{}", text(&o));
}

/// A witness server on a free loopback port; killed when dropped.
struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(dir: &Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sealtrail"))
        .current_dir(dir)
        .args([
            "witness",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--key",
            "w1.key",
            "--state",
            "wstate",
            "--trusted-key",
            "L.vkey",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .rsplit_once("http://")
        .map(|(_, a)| a.to_owned())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    Server { child, addr }
}

/// POSTs `body` to /add-checkpoint by hand: (status, content type, body).
fn post(addr: &str, body: &[u8]) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    write!(
        s,
        "POST /add-checkpoint HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let ctype = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type: ")
                .map(str::to_owned)
        })
        .unwrap_or_default();
    (status, ctype, body.to_owned())
}

#[test]
fn tlog_witness_over_http() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    new_log(d, "L");
    append(d, "L", 5, "a");
    checkpoint(d, "L", "cp1.txt");
    ok(sealtrail(
        d,
        &[
            "witness",
            "keygen",
            "--out",
            "w1.key",
            "--name",
            "witness.example/w1",
        ],
    ));
    let server = serve(d);
    let url = format!("http://{}", server.addr);

    // The client sends the latest checkpoint and attaches the cosignature it gets back.
    let request = [
        "witness",
        "request",
        "--url",
        &url,
        "--log",
        "L",
        "--witness",
        "w1.key.pub",
    ];
    let o = ok(sealtrail(d, &request));
    assert!(
        text(&o).contains("cosigned the checkpoint of size 6"),
        "{}",
        text(&o)
    );
    // The log grows; the client learns the witness's size from a 409 and sends a proof.
    append(d, "L", 4, "b");
    checkpoint(d, "L", "cp2.txt");
    let o = ok(sealtrail(d, &request));
    assert!(text(&o).contains("it had seen size 6"), "{}", text(&o));
    ok(sealtrail(
        d,
        &[
            "export",
            "--log",
            "L",
            "--owner-key",
            "owner.key",
            "--out",
            "w.bundle",
            "--require-witnesses",
            "1",
        ],
    ));
    ok(verify_bundle(
        d,
        &[
            "w.bundle",
            "--trusted-key",
            "L.vkey",
            "--witness",
            "w1.key.pub",
            "--witness-quorum",
            "1",
        ],
    ));

    // A stale old size: 409 Conflict, text/x.tlog.size, the size the witness holds.
    let cp2 = std::fs::read(d.join("cp2.txt")).unwrap();
    let mut body = b"old 6\n\n".to_vec();
    body.extend_from_slice(&cp2);
    let (status, ctype, text_body) = post(&server.addr, &body);
    assert_eq!(
        (status, ctype.as_str(), text_body.as_str()),
        (409, "text/x.tlog.size", "10\n")
    );

    // A fork of the same size, signed by the log's key: refused (409), nothing cosigned.
    new_log(d, "F");
    append(d, "F", 9, "fork");
    checkpoint(d, "F", "fork.txt");
    let mut body = b"old 10\n\n".to_vec();
    body.extend_from_slice(&std::fs::read(d.join("fork.txt")).unwrap());
    let (status, _, why) = post(&server.addr, &body);
    assert_eq!(status, 409, "{why}");
    assert!(why.contains("fork"), "{why}");

    // Malformed and oversized bodies: 400 and 413; another path: 404.
    assert_eq!(post(&server.addr, b"hello").0, 400);
    let mut s = TcpStream::connect(&server.addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    write!(
        s,
        "POST /add-checkpoint HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        4 << 20
    )
    .unwrap();
    let mut r = String::new();
    let _ = s.read_to_string(&mut r);
    assert!(r.starts_with("HTTP/1.1 413"), "{r}");
    // That client still holds its connection (the server waits for a body that never comes):
    // others are served meanwhile.
    let mut s2 = TcpStream::connect(&server.addr).unwrap();
    s2.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let s = &mut s2;
    write!(s, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut r = String::new();
    s.read_to_string(&mut r).unwrap();
    assert!(r.starts_with("HTTP/1.1 404"), "{r}");
}
