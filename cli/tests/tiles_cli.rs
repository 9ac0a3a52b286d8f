//! `sealtrail tiles` (SPEC §9.8): the binary writes a log's tiles and checkpoint into a
//! directory, incrementally, and the tiles give back the checkpoint's root; it refuses a log
//! without a checkpoint and a directory that publishes another log.

#![cfg(feature = "sled")]

use std::path::Path;
use std::process::{Command, Output};

use sealtrail::registry::Role;
use sealtrail::tiles::TileReader;
use sealtrail::{Durability, Log, SecretKey, Suite};
use serde_json::Value;

const ORIGIN: &str = "example.com/tiles-cli";

fn sealtrail(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sealtrail"))
        .args(args)
        .output()
        .expect("the binary runs")
}

#[track_caller]
fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn owner() -> SecretKey {
    SecretKey::from_seed(ORIGIN, &[0x31; 32]).unwrap()
}

fn recorder() -> SecretKey {
    SecretKey::from_seed("harness", &[0x32; 32]).unwrap()
}

/// Opens (or creates) the sha256 log at `path`, grows it to `size` entries and, if asked, signs
/// a checkpoint; closes it again so that the binary can open it.
fn grow(path: &Path, size: u64, checkpoint: bool) -> (u64, String) {
    let log = if path.exists() {
        Log::builder()
            .durability(Durability::Buffered)
            .open(path)
            .unwrap()
    } else {
        let log = Log::builder()
            .suite(Suite::Sha256)
            .durability(Durability::Buffered)
            .create(path, &owner(), ORIGIN)
            .unwrap();
        log.register_key(&owner(), recorder().key_id(), Role::Recorder, "harness")
            .unwrap();
        log
    };
    let start = log.len();
    let batch = (start..size)
        .map(|i| sealtrail_testkit::fixtures::note(&(i, "tiles cli")))
        .collect();
    log.append_batch(&recorder(), batch).unwrap();
    log.flush().unwrap();
    let root = if checkpoint {
        log.checkpoint(&owner())
            .unwrap()
            .checkpoint()
            .root()
            .to_hex()
    } else {
        String::new()
    };
    (log.len(), root)
}

fn json(out: &str) -> Value {
    serde_json::from_str(out.trim()).unwrap()
}

fn tiles_root(dir: &Path, size: u64) -> String {
    let reader = TileReader::new(dir, Suite::Sha256, size);
    sealtrail::merkle::root(&reader, &Suite::Sha256, size)
        .unwrap()
        .to_hex()
}

#[test]
fn tiles_writes_the_static_layout_incrementally() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("log");
    let out = tmp.path().join("www");
    let (log_s, out_s) = (log.display().to_string(), out.display().to_string());

    // No checkpoint yet: refused, exit 1, with the way out.
    grow(&log, 600, false);
    let o = sealtrail(&["tiles", "--log", &log_s, "--out", &out_s, "--json"]);
    assert_eq!(o.status.code(), Some(1));
    let err = json(&String::from_utf8_lossy(&o.stdout));
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("sealtrail checkpoint"),
        "{err}"
    );

    let (size, root) = grow(&log, 600, true);
    let v = json(&ok(&sealtrail(&[
        "tiles", "--log", &log_s, "--out", &out_s, "--json",
    ])));
    assert_eq!(v["size"], size);
    assert_eq!(v["root"], root.as_str());
    assert_eq!(v["origin"], ORIGIN);
    assert_eq!(v["previous_size"], 0);
    // 600 = 2·256 + 88: two full tiles, a partial level-0 tile and a partial level-1 tile.
    assert_eq!(v["full_tiles_written"], 2);
    assert_eq!(v["partial_tiles_written"], 2);
    assert_eq!(v["checkpoint_written"], true);
    assert!(out.join("tile/0/002.p/88").is_file());
    assert!(out.join("tile/1/000.p/2").is_file());
    assert_eq!(tiles_root(&out, size), root);
    let note = std::fs::read(out.join("checkpoint")).unwrap();
    let cp = sealtrail::checkpoint::SignedCheckpoint::parse(&note).unwrap();
    assert_eq!(cp.checkpoint().size(), size);

    // Again: nothing to write.
    let v = json(&ok(&sealtrail(&[
        "tiles", "--log", &log_s, "--out", &out_s, "--json",
    ])));
    assert_eq!(
        (
            &v["full_tiles_written"],
            &v["partial_tiles_written"],
            &v["checkpoint_written"]
        ),
        (&Value::from(0), &Value::from(0), &Value::from(false))
    );

    // Grown and checkpointed: only what changed, and the replaced partial tile is removed.
    let (size2, root2) = grow(&log, 800, true);
    let text = ok(&sealtrail(&["tiles", "--log", &log_s, "--out", &out_s]));
    assert!(text.contains("from size 600"), "{text}");
    assert!(
        text.contains("1 full tile and 2 partial tiles written"),
        "{text}"
    );
    assert!(text.contains("1 partial tile removed"), "{text}");
    assert!(!out.join("tile/0/002.p/88").exists());
    assert_eq!(tiles_root(&out, size2), root2);
    // The older tree still reads back from the newer tiles.
    assert_eq!(tiles_root(&out, size), root);

    // A directory that publishes another log is refused (exit 1), and left as it was.
    let published = std::fs::read(out.join("checkpoint")).unwrap();
    let other = tmp.path().join("other");
    std::fs::create_dir(&other).unwrap();
    let other_log = Log::builder()
        .suite(Suite::Sha256)
        .create(
            &other.join("log"),
            &SecretKey::from_seed("x", &[9; 32]).unwrap(),
            "example.com/other",
        )
        .unwrap();
    other_log
        .checkpoint(&SecretKey::from_seed("x", &[9; 32]).unwrap())
        .unwrap();
    drop(other_log);
    let o = sealtrail(&[
        "tiles",
        "--log",
        &other.join("log").display().to_string(),
        "--out",
        &out_s,
    ]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("example.com/other"));
    assert_eq!(std::fs::read(out.join("checkpoint")).unwrap(), published);
    assert_eq!(tiles_root(&out, size2), root2);
}

#[test]
fn tiles_help_says_who_reads_it() {
    let help = ok(&sealtrail(&["tiles", "--help"]));
    for words in [
        "file server",
        "object store",
        "witnesses",
        "tlog-tiles",
        "--json",
        "--out",
    ] {
        assert!(help.contains(words), "--help lacks {words:?}:\n{help}");
    }
}
