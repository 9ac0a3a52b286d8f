//! The log's Merkle tree as C2SP tlog-tiles (SPEC §9.8), checked against code nobody here
//! wrote: `tlog_tiles` 0.2.0 (a port of Go's `golang.org/x/mod/sumdb/tlog`) reads the tiles a
//! sha256 log writes through its own `TileReader`/`TileHashReader`, which authenticates every
//! tile against the checkpoint's root, and its inclusion and consistency proofs built from our
//! tiles verify against our checkpoints' roots. Then: proofs from `sealtrail::tiles::TileReader`
//! equal the log's own, incremental writing equals writing at once, hostile tiles and paths are
//! typed errors, and the writer survives simulated power loss.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sealtrail::checkpoint::SignedCheckpoint;
use sealtrail::keys::SecretKey;
use sealtrail::log::LogTilesError;
use sealtrail::merkle::{self, NodeSource, Prover};
use sealtrail::registry::Role;
use sealtrail::segment::{SimBackend, SimRng};
use sealtrail::store::{MemoryStore, Store};
use sealtrail::tiles::{
    CHECKPOINT_FILE, Tile, TilePathError, TileReadError, TileReader, TileReaderOptions,
    TileWriteError, TileWriter,
};
use sealtrail::{Durability, Log, Suite};
use tlog_tiles::Hash;

const ORIGIN: &str = "example.com/tiles-log";

fn owner() -> SecretKey {
    SecretKey::from_seed("owner", &[0x11; 32]).unwrap()
}

fn recorder() -> SecretKey {
    SecretKey::from_seed("recorder", &[0x22; 32]).unwrap()
}

/// A log in memory: the owner registers a recorder (entry 0); nothing else yet.
fn new_log(suite: Suite, origin: &str) -> Log {
    let log = Log::builder()
        .suite(suite)
        .durability(Durability::Buffered)
        .create_in(
            Arc::new(MemoryStore::new()) as Arc<dyn Store>,
            &owner(),
            origin,
        )
        .unwrap();
    log.register_key(&owner(), recorder().key_id(), Role::Recorder, "tiles")
        .unwrap();
    log
}

/// Appends records until the log has `size` entries.
fn grow_to(log: &Log, size: u64) {
    while log.len() < size {
        let n = (size - log.len()).min(5_000);
        let start = log.len();
        let batch = (0..n)
            .map(|i| sealtrail_testkit::fixtures::note(&(start + i, "tiles record")))
            .collect();
        log.append_batch(&recorder(), batch).unwrap();
    }
}

#[path = "support/tiles_dir.rs"]
mod tiles_dir;
use tiles_dir::{DirTiles, files};

/// The sizes the test publishes, one checkpoint each: perfect trees and trees with partial
/// tiles at one, two and three levels.
const SIZES: [u64; 11] = [
    1, 2, 255, 256, 257, 511, 4_000, 65_535, 65_536, 65_537, 70_000,
];

/// Deterministic pseudo-random numbers (splitmix64).
fn rng(seed: u64) -> impl FnMut(u64) -> u64 {
    let mut x = seed;
    move |below| {
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % below
    }
}

/// A sha256 log of 70,000 entries published as tiles at eleven sizes into one directory,
/// incrementally: after each, `tlog_tiles` authenticates the tiles against the checkpoint,
/// computes the tree hash, and proves entries and consistency with every earlier size; its
/// proofs equal the log's and verify in both libraries. Then the directory equals one written
/// at 70,000 at once, file for file.
#[test]
fn tlog_tiles_reads_a_sha256_logs_tiles() {
    let log = new_log(Suite::Sha256, ORIGIN);
    let tmp = tempfile::tempdir().unwrap();
    let inc = tmp.path().join("incremental");
    let mut published: Vec<SignedCheckpoint> = Vec::new();
    let mut next = rng(7);
    for &size in &SIZES {
        grow_to(&log, size);
        let cp = log.checkpoint(&owner()).unwrap();
        assert_eq!(cp.checkpoint().size(), size);
        let summary = log.write_tiles(&inc, &cp).unwrap();
        assert_eq!(
            summary.previous,
            published.last().map_or(0, |c| c.checkpoint().size())
        );
        assert!(summary.checkpoint_written);
        assert_eq!(
            std::fs::read(inc.join(CHECKPOINT_FILE)).unwrap(),
            cp.encode()
        );

        let root = Hash(cp.checkpoint().root().0);
        let dir = DirTiles(&inc);
        let hashes = tlog_tiles::TileHashReader::new(size, root, &dir);
        assert_eq!(
            tlog_tiles::tree_hash(size, &hashes).unwrap(),
            root,
            "size {size}"
        );
        let mut indexes: Vec<u64> = (0..12).map(|_| next(size)).collect();
        indexes.extend([0, size - 1]);
        for index in indexes {
            let entry = log.read(index).unwrap().unwrap();
            let leaf = tlog_tiles::record_hash(entry.hash.as_bytes());
            let proof = tlog_tiles::prove_record(size, index, &hashes).unwrap();
            tlog_tiles::check_record(&proof, size, root, index, leaf).unwrap();
            let ours = log.inclusion_proof(index, size).unwrap();
            assert_eq!(
                proof.iter().map(|h| h.0).collect::<Vec<_>>(),
                ours,
                "inclusion of {index} in {size}"
            );
        }
        for old in &published {
            let (o, old_root) = (old.checkpoint().size(), Hash(old.checkpoint().root().0));
            let proof = tlog_tiles::prove_tree(size, o, &hashes).unwrap();
            tlog_tiles::check_tree(&proof, size, root, o, old_root).unwrap();
            let ours = log.consistency_proof(o, size).unwrap();
            assert_eq!(proof.iter().map(|h| h.0).collect::<Vec<_>>(), ours);
            merkle::verify_consistency(&Suite::Sha256, o, size, &ours, &old_root.0, &root.0)
                .unwrap();
        }
        published.push(cp);
    }

    // A hash changed on disk (leaf 301's, a sibling in leaf 300's proof) is caught: by
    // tlog_tiles' tile authentication where it applies, else by the proof's check against the
    // checkpoint's root. (tlog_tiles 0.2.0 skips authenticating a tile against its parent when
    // the tree's own hash needs more subtree hashes than tiles, as at 70,000.)
    let last = published.last().unwrap().checkpoint();
    let victim = inc.join("tile/0/001");
    let good = std::fs::read(&victim).unwrap();
    let mut bad = good.clone();
    bad[45 * 32] ^= 1;
    std::fs::write(&victim, &bad).unwrap();
    let dir = DirTiles(&inc);
    let root = Hash(last.root().0);
    let hashes = tlog_tiles::TileHashReader::new(last.size(), root, &dir);
    let leaf = tlog_tiles::record_hash(log.read(300).unwrap().unwrap().hash.as_bytes());
    let caught = match tlog_tiles::prove_record(last.size(), 300, &hashes) {
        Err(_) => true,
        Ok(proof) => tlog_tiles::check_record(&proof, last.size(), root, 300, leaf).is_err(),
    };
    assert!(caught, "a changed tile gave a proof that verifies");
    std::fs::write(&victim, &good).unwrap();
    let proof = tlog_tiles::prove_record(last.size(), 300, &hashes).unwrap();
    tlog_tiles::check_record(&proof, last.size(), root, 300, leaf).unwrap();

    // Written at once: the same files, byte for byte.
    let once = tmp.path().join("once");
    let summary = log.write_tiles(&once, published.last().unwrap()).unwrap();
    assert_eq!(summary.previous, 0);
    assert_eq!(summary.partial_written, 3);
    assert_eq!(summary.full_written, 273 + 1);
    let (a, b) = (files(&inc), files(&once));
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "incremental and at-once write different files"
    );
    assert!(a == b, "incremental and at-once files differ in content");
    // C2SP's own example: 273 full level-0 tiles, a partial of 112, one full level-1 tile, a
    // partial of 17, a partial level-2 tile of 1 — and the checkpoint.
    assert_eq!(b.len(), 273 + 1 + 1 + 1 + 1 + 1);
    for p in [
        "tile/0/273.p/112",
        "tile/1/000",
        "tile/1/001.p/17",
        "tile/2/000.p/1",
    ] {
        assert!(b.contains_key(Path::new(p)), "{p} missing");
    }
    assert_eq!(b[Path::new("tile/0/000")].len(), 8192);

    // Writing the same checkpoint again writes nothing.
    let again = log.write_tiles(&once, published.last().unwrap()).unwrap();
    assert_eq!(
        (
            again.full_written,
            again.partial_written,
            again.checkpoint_written
        ),
        (0, 0, false)
    );
}

/// Proofs made by `sealtrail::merkle` from a `TileReader` equal the log's, for random
/// (index, size) pairs, at sizes the directory published and at sizes it did not (read from
/// wider tiles); the roots equal the log's at every size.
#[test]
fn proofs_from_tiles_equal_proofs_from_the_log() {
    for suite in [Suite::Sha256, Suite::Blake3] {
        let log = new_log(suite, ORIGIN);
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("tiles");
        for size in [300, 5_000, 70_001] {
            grow_to(&log, size);
            let cp = log.checkpoint(&owner()).unwrap();
            log.write_tiles(&dir, &cp).unwrap();
        }
        let n = log.len();
        let mut next = rng(11);
        for round in 0..400 {
            let size = 1 + next(n);
            let index = next(size);
            // A fresh reader now and then, so that cold reads are covered too.
            let reader = TileReader::new(&dir, suite, size);
            assert_eq!(
                merkle::inclusion_proof(&reader, &suite, index, size).unwrap(),
                log.inclusion_proof(index, size).unwrap(),
                "{suite:?}: inclusion of {index} in {size} (round {round})"
            );
            let old = 1 + next(size);
            assert_eq!(
                merkle::consistency_proof(&reader, &suite, old, size).unwrap(),
                log.consistency_proof(old, size).unwrap(),
                "{suite:?}: consistency {old} → {size}"
            );
            assert_eq!(
                merkle::root(&reader, &suite, size).unwrap(),
                log.root(size).unwrap()
            );
        }
        // One reader, many proofs through its caches, and a Prover over it.
        let reader = TileReader::new(&dir, suite, n);
        let prover = Prover::new(&reader, &suite, n).unwrap();
        assert_eq!(prover.root(), log.root(n).unwrap());
        for _ in 0..2_000 {
            let index = next(n);
            assert_eq!(
                prover.inclusion_proof(index).unwrap(),
                log.inclusion_proof(index, n).unwrap()
            );
        }
        // Without caches, the same.
        let bare = TileReader::with_backend(
            sealtrail::segment::FsBackend,
            &dir,
            suite,
            n,
            TileReaderOptions::new(0, 0),
        );
        for _ in 0..200 {
            let index = next(n);
            assert_eq!(
                merkle::inclusion_proof(&bare, &suite, index, n).unwrap(),
                log.inclusion_proof(index, n).unwrap()
            );
        }
        // Nodes the tree of the reader's size does not complete are refused.
        assert!(matches!(
            reader.perfect_node(0, n),
            Err(TileReadError::NotInTree { .. })
        ));
        assert!(matches!(
            reader.perfect_node(17, 0),
            Err(TileReadError::NotInTree { .. })
        ));
        assert!(matches!(
            reader.perfect_node(64, 0),
            Err(TileReadError::NotInTree { .. })
        ));
    }
}

/// The tiles of a 1,000-entry log, and a checkpoint of it.
fn small_published(dir: &Path) -> (Log, SignedCheckpoint) {
    let log = new_log(Suite::Sha256, ORIGIN);
    grow_to(&log, 1_000);
    let cp = log.checkpoint(&owner()).unwrap();
    log.write_tiles(dir, &cp).unwrap();
    (log, cp)
}

/// Truncated, overlong and wrong-length tiles, missing tiles and garbage names are typed
/// errors; a tile with a changed hash gives a proof that does not verify. Nothing panics.
#[test]
fn hostile_tiles_are_typed_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("tiles");
    let (log, cp) = small_published(&dir);
    let size = cp.checkpoint().size();
    let full = dir.join("tile/0/001");
    let partial = dir.join("tile/0/003.p/232");
    assert_eq!(std::fs::metadata(&partial).unwrap().len(), 232 * 32);
    let good_full = std::fs::read(&full).unwrap();
    let good_partial = std::fs::read(&partial).unwrap();
    let node_in_full = 300; // leaf 300 is hash 44 of tile 0/001
    let node_in_partial = 900;
    let read = |leaf: u64| {
        let r = TileReader::new(&dir, Suite::Sha256, size);
        r.perfect_node(0, leaf)
    };
    let leaf_300 = merkle::leaf_hash(Suite::Sha256, &log.read(300).unwrap().unwrap().hash);
    assert_eq!(read(node_in_full).unwrap(), leaf_300);

    let cases: Vec<(&Path, Vec<u8>, u64, &str)> = vec![
        (
            &full,
            good_full[..8191].to_vec(),
            node_in_full,
            "truncated full",
        ),
        (
            &full,
            good_full[..32].to_vec(),
            node_in_full,
            "one-hash full",
        ),
        (&full, Vec::new(), node_in_full, "empty full"),
        (
            &full,
            [&good_full[..], &[0u8][..]].concat(),
            node_in_full,
            "overlong by one byte",
        ),
        (&full, vec![0u8; 1 << 20], node_in_full, "a megabyte"),
        (
            &partial,
            good_partial[..232 * 32 - 1].to_vec(),
            node_in_partial,
            "truncated partial",
        ),
        (
            &partial,
            [&good_partial[..], &[0u8; 32][..]].concat(),
            node_in_partial,
            "partial of 233",
        ),
        (
            &partial,
            vec![0u8; 8192],
            node_in_partial,
            "partial as long as a full tile",
        ),
    ];
    for (path, bytes, leaf, what) in cases {
        std::fs::write(path, &bytes).unwrap();
        let err = read(leaf).expect_err(what);
        let len = bytes.len() as u64;
        match err {
            TileReadError::TooLarge { len: l, .. } => {
                assert!(len > 8192, "{what}: TooLarge for {len} bytes");
                assert_eq!(l, len);
            }
            TileReadError::WrongLength {
                expected, found, ..
            } => {
                assert!(len <= 8192, "{what}");
                assert_eq!(found, len, "{what}");
                assert_eq!(
                    expected,
                    if path == full { 8192 } else { 232 * 32 },
                    "{what}"
                );
            }
            other => panic!("{what}: {other}"),
        }
        std::fs::write(
            path,
            if path == full {
                &good_full
            } else {
                &good_partial
            },
        )
        .unwrap();
        read(leaf).unwrap();
    }

    // A missing tile.
    std::fs::remove_file(&full).unwrap();
    assert!(matches!(
        read(node_in_full),
        Err(TileReadError::Missing { .. })
    ));
    std::fs::write(&full, &good_full).unwrap();
    // A directory where a tile should be.
    std::fs::remove_file(&partial).unwrap();
    std::fs::create_dir(&partial).unwrap();
    assert!(read(node_in_partial).is_err());
    std::fs::remove_dir(&partial).unwrap();
    std::fs::write(&partial, &good_partial).unwrap();

    // A changed hash: the proof made from it fails to verify against the checkpoint's root.
    let mut bad = good_full.clone();
    bad[44 * 32] ^= 0x80;
    std::fs::write(&full, &bad).unwrap();
    let r = TileReader::new(&dir, Suite::Sha256, size);
    let entry = log.read(301).unwrap().unwrap();
    let proof = merkle::inclusion_proof(&r, &Suite::Sha256, 301, size).unwrap();
    let leaf = merkle::leaf_hash(Suite::Sha256, &entry.hash);
    assert!(
        merkle::verify_inclusion(
            &Suite::Sha256,
            &leaf,
            301,
            size,
            &proof,
            cp.checkpoint().root().as_bytes()
        )
        .is_err()
    );
    std::fs::write(&full, &good_full).unwrap();

    // Garbage names: typed errors.
    for (path, want) in [
        ("tile/0/1", "Index"),
        ("tile/00/001", "Level"),
        ("tile/0/001.p/0", "Width"),
        ("tile/0/001.p/256", "Width"),
        ("tiles/0/001", "Shape"),
        ("../tile/0/001", "Shape"),
        ("tile/0/x000/001", "Index"),
    ] {
        let err = Tile::parse(path).unwrap_err();
        let got = match err {
            TilePathError::Index { .. } => "Index",
            TilePathError::Level { .. } => "Level",
            TilePathError::Width { .. } => "Width",
            TilePathError::Shape { .. } => "Shape",
            TilePathError::TooLong { .. } => "TooLong",
            _ => "other",
        };
        assert_eq!(got, want, "{path}");
    }
    assert!(matches!(
        Tile::parse(&"x".repeat(10_000)),
        Err(TilePathError::TooLong { len: 10_000 })
    ));
}

/// The writer refuses what would make the directory lie: a rollback, another log, a tree that
/// is not the published one's extension, a checkpoint whose root is not the tree's, a changed
/// full tile, a checkpoint beyond the log.
#[test]
fn the_writer_refuses_to_publish_a_lie() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("tiles");
    let (log, small) = small_published(&dir);
    grow_to(&log, 1_300);
    let big = log.checkpoint(&owner()).unwrap();
    log.write_tiles(&dir, &big).unwrap();

    // Back to 1,000: a rollback.
    assert!(matches!(
        log.write_tiles(&dir, &small),
        Err(LogTilesError::Write(TileWriteError::Rollback {
            published: 1_300,
            size: 1_000
        }))
    ));
    // Another log with the same origin and keys but other entries: a fork.
    let other = new_log(Suite::Sha256, ORIGIN);
    grow_to(&other, 1_250);
    other
        .append_batch(
            &recorder(),
            vec![sealtrail_testkit::fixtures::note(&"fork")],
        )
        .unwrap();
    grow_to(&other, 1_400);
    let other_cp = other.checkpoint(&owner()).unwrap();
    assert!(matches!(
        other.write_tiles(&dir, &other_cp),
        Err(LogTilesError::Write(TileWriteError::Fork {
            size: 1_300,
            ..
        }))
    ));
    // The other log's checkpoint with this log's tree: the roots differ.
    grow_to(&log, 1_400);
    assert!(matches!(
        log.write_tiles(&dir, &other_cp),
        Err(LogTilesError::Write(TileWriteError::RootMismatch {
            size: 1_400,
            ..
        }))
    ));
    // A log of another origin.
    let elsewhere = new_log(Suite::Sha256, "example.com/another-log");
    grow_to(&elsewhere, 1_400);
    let elsewhere_cp = elsewhere.checkpoint(&owner()).unwrap();
    assert!(matches!(
        log.write_tiles(&dir, &elsewhere_cp),
        Err(LogTilesError::OtherLog { .. })
    ));
    assert!(matches!(
        elsewhere.write_tiles(&dir, &elsewhere_cp),
        Err(LogTilesError::Write(TileWriteError::OtherLog { .. }))
    ));
    // A checkpoint beyond the log.
    let short = new_log(Suite::Sha256, ORIGIN);
    assert!(matches!(
        short.write_tiles(&dir, &big),
        Err(LogTilesError::BeyondLog {
            size: 1_300,
            len: 1
        })
    ));
    // A full tile changed on disk is never overwritten: writing from scratch stops on it.
    let full = dir.join("tile/0/002");
    let mut bytes = std::fs::read(&full).unwrap();
    bytes[0] ^= 1;
    std::fs::write(&full, &bytes).unwrap();
    std::fs::remove_file(dir.join(CHECKPOINT_FILE)).unwrap();
    assert!(matches!(
        log.write_tiles(&dir, &big),
        Err(LogTilesError::Write(TileWriteError::Conflict { .. }))
    ));
    assert_eq!(
        std::fs::read(&full).unwrap(),
        bytes,
        "a full tile was rewritten"
    );
    // A checkpoint file that is not a checkpoint.
    std::fs::write(dir.join(CHECKPOINT_FILE), b"not a note").unwrap();
    assert!(matches!(
        log.write_tiles(&dir, &big),
        Err(LogTilesError::Write(TileWriteError::Published { .. }))
    ));
}

/// Partial tiles a full tile replaced are removed after the checkpoint; those of other places
/// stay, as C2SP requires for every size a checkpoint was made at.
#[test]
fn superseded_partial_tiles_are_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("tiles");
    let log = new_log(Suite::Sha256, ORIGIN);
    for size in [100, 200, 300] {
        grow_to(&log, size);
        let cp = log.checkpoint(&owner()).unwrap();
        log.write_tiles(&dir, &cp).unwrap();
    }
    let names: Vec<PathBuf> = files(&dir).into_keys().collect();
    assert_eq!(
        names,
        [
            "checkpoint",
            "tile/0/000",
            "tile/0/001.p/44",
            "tile/1/000.p/1"
        ]
        .iter()
        .map(PathBuf::from)
        .collect::<Vec<_>>()
    );
    grow_to(&log, 400);
    let cp = log.checkpoint(&owner()).unwrap();
    let s = log.write_tiles(&dir, &cp).unwrap();
    assert_eq!((s.partial_written, s.partial_removed), (1, 0));
    assert!(
        dir.join("tile/0/001.p/44").exists(),
        "a published partial tile was removed"
    );
    grow_to(&log, 600);
    let cp = log.checkpoint(&owner()).unwrap();
    let s = log.write_tiles(&dir, &cp).unwrap();
    assert_eq!(s.partial_removed, 2);
    assert!(!dir.join("tile/0/001.p/44").exists());
    assert!(
        !dir.join("tile/0/001.p").exists(),
        "an emptied partial tiles' directory was left"
    );
    // A reader at an old size reads the full tile in place of the removed partial one.
    let r = TileReader::new(&dir, Suite::Sha256, 300);
    assert_eq!(
        merkle::root(&r, &Suite::Sha256, 300).unwrap(),
        log.root(300).unwrap()
    );
}

/// Power loss at a random point while publishing: afterwards the `checkpoint` file is the old
/// one or the new one, never a torn one, and every tile its tree needs reads back with the
/// checkpoint's root; publishing again then succeeds. 300 simulated power losses.
#[test]
fn power_loss_while_writing_tiles() {
    let log = new_log(Suite::Sha256, ORIGIN);
    let mut checkpoints = Vec::new();
    for size in [200, 700, 1_100, 1_500] {
        grow_to(&log, size);
        checkpoints.push(log.checkpoint(&owner()).unwrap());
    }
    let dir = Path::new("/srv/log/tiles");
    let mut rng = SimRng::new(99);
    for seed in 0..300u64 {
        let sim = SimBackend::new(seed);
        let writer = TileWriter::with_backend(sim.clone(), dir);
        log.write_tiles_with(&writer, &checkpoints[0]).unwrap();
        let target = 1 + rng.below(3) as usize;
        sim.crash_after(rng.below(40));
        let result = log.write_tiles_with(&writer, &checkpoints[target]);
        sim.cancel_crash();
        sim.crash();
        let on_disk = sim
            .files()
            .get(&dir.join(CHECKPOINT_FILE))
            .cloned()
            .expect("the checkpoint file is gone");
        let published = SignedCheckpoint::parse(&on_disk).expect("a torn checkpoint file");
        let size = published.checkpoint().size();
        assert!(
            size == 200 || size == checkpoints[target].checkpoint().size(),
            "seed {seed}: published {size}"
        );
        if result.is_ok() {
            assert_eq!(size, checkpoints[target].checkpoint().size(), "seed {seed}");
        }
        let reader = TileReader::with_backend(
            sim.clone(),
            dir,
            Suite::Sha256,
            size,
            TileReaderOptions::default(),
        );
        assert_eq!(
            merkle::root(&reader, &Suite::Sha256, size)
                .unwrap_or_else(|e| panic!("seed {seed}: tiles of {size}: {e}")),
            published.checkpoint().root(),
            "seed {seed}"
        );
        // Publishing again after the power loss works, up to the newest.
        log.write_tiles_with(&writer, &checkpoints[3])
            .unwrap_or_else(|e| panic!("seed {seed}: after recovery: {e}"));
        let reader = TileReader::with_backend(
            sim.clone(),
            dir,
            Suite::Sha256,
            1_500,
            TileReaderOptions::default(),
        );
        assert_eq!(
            merkle::root(&reader, &Suite::Sha256, 1_500).unwrap(),
            checkpoints[3].checkpoint().root()
        );
    }
}
