//! The log directory's own tiles (SPEC §9.8): every stored checkpoint brings `<log>/tiles/`
//! up to date, the independent `tlog_tiles` crate (0.2.0, a port of Go's
//! `golang.org/x/mod/sumdb/tlog`) reads them and verifies proofs against the stored
//! checkpoints, proofs from tiles equal proofs from the store at every small size, and tiles
//! lost or left behind are rebuilt on the next checkpoint or open — never by a read-only open.

#![cfg(feature = "sled")]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sealtrail::checkpoint::SignedCheckpoint;
use sealtrail::keys::SecretKey;
use sealtrail::log::{TILES_DIR, TilesMode};
use sealtrail::merkle;
use sealtrail::registry::Role;
use sealtrail::tiles::{CHECKPOINT_FILE, Tile, tiles_for_size};
use sealtrail::{Durability, Log, Suite};
use tlog_tiles::Hash;

const ORIGIN: &str = "example.com/log-tiles";

fn owner() -> SecretKey {
    SecretKey::from_seed("owner", &[0x31; 32]).unwrap()
}

fn recorder() -> SecretKey {
    SecretKey::from_seed("recorder", &[0x32; 32]).unwrap()
}

/// A sha256 log on disk in `path`: the owner registers a recorder (entry 0).
fn create(path: &Path) -> Log {
    let log = Log::builder()
        .suite(Suite::Sha256)
        .durability(Durability::Buffered)
        .create(path, &owner(), ORIGIN)
        .unwrap();
    log.register_key(&owner(), recorder().key_id(), Role::Recorder, "tiles")
        .unwrap();
    log
}

fn open(path: &Path, mode: TilesMode) -> Log {
    Log::builder()
        .durability(Durability::Buffered)
        .tiles(mode)
        .open(path)
        .unwrap()
}

/// Appends records until the log has `size` entries.
fn grow_to(log: &Log, size: u64) {
    while log.len() < size {
        let n = (size - log.len()).min(5_000);
        let start = log.len();
        let batch = (0..n)
            .map(|i| sealtrail_testkit::fixtures::note(&(start + i, "log tiles record")))
            .collect();
        log.append_batch(&recorder(), batch).unwrap();
    }
}

#[path = "support/tiles_dir.rs"]
mod tiles_dir;
use tiles_dir::{DirTiles, files};

/// Checks with `tlog_tiles` alone that `tiles` publishes `cp` (its checkpoint file), that
/// the tiles hash to its root, and that inclusion proofs it builds from them for `indexes`
/// verify against the root.
fn tlog_tiles_checks(log: &Log, tiles: &Path, cp: &SignedCheckpoint, indexes: &[u64]) {
    assert_eq!(
        std::fs::read(tiles.join(CHECKPOINT_FILE)).unwrap(),
        cp.encode()
    );
    let (size, root) = (cp.checkpoint().size(), Hash(cp.checkpoint().root().0));
    let dir = DirTiles(tiles);
    let hashes = tlog_tiles::TileHashReader::new(size, root, &dir);
    assert_eq!(tlog_tiles::tree_hash(size, &hashes).unwrap(), root);
    for &index in indexes {
        let entry = log.read(index).unwrap().unwrap();
        let leaf = tlog_tiles::record_hash(entry.hash.as_bytes());
        let proof = tlog_tiles::prove_record(size, index, &hashes).unwrap();
        tlog_tiles::check_record(&proof, size, root, index, leaf).unwrap();
        assert_eq!(
            proof.iter().map(|h| h.0).collect::<Vec<_>>(),
            log.inclusion_proof(index, size).unwrap(),
            "inclusion of {index} in {size}"
        );
    }
}

#[cfg(unix)]
fn inode(p: &Path) -> u64 {
    std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(p).unwrap())
}

/// A checkpoint writes `<log>/tiles/`, which `tlog_tiles` reads and proves from; after more
/// appends the next checkpoint updates it incrementally (full tiles already there are not
/// rewritten, the partial tiles a full tile replaced are removed), and a consistency proof
/// between the two checkpoints, made by `tlog_tiles` from the tiles, verifies.
#[test]
fn each_checkpoint_brings_the_log_directorys_tiles_up_to_date() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("log");
    let log = create(&path);
    let tiles = path.join(TILES_DIR);
    assert_eq!(log.tiles_dir(), Some(tiles.as_path()));
    assert!(!tiles.exists(), "tiles before any checkpoint");

    grow_to(&log, 1_000);
    let first = log.checkpoint(&owner()).unwrap();
    assert_eq!(log.tiles_size(), 1_000);
    tlog_tiles_checks(&log, &tiles, &first, &[0, 1, 255, 256, 700, 999]);
    let had: BTreeMap<PathBuf, Vec<u8>> = files(&tiles);
    let expected: Vec<PathBuf> = tiles_for_size(1_000)
        .map(|t| PathBuf::from(t.path()))
        .chain([PathBuf::from(CHECKPOINT_FILE)])
        .collect();
    assert_eq!(
        had.keys()
            .cloned()
            .collect::<std::collections::BTreeSet<_>>(),
        expected.into_iter().collect()
    );
    #[cfg(unix)]
    let full_inode = inode(&tiles.join("tile/0/001"));

    grow_to(&log, 70_001);
    let second = log.checkpoint(&owner()).unwrap();
    assert_eq!(log.tiles_size(), 70_001);
    tlog_tiles_checks(
        &log,
        &tiles,
        &second,
        &[0, 999, 1_000, 65_535, 65_536, 70_000],
    );
    // A consistency proof from the first checkpoint to the second, from the tiles alone.
    let (o, n) = (first.checkpoint().size(), second.checkpoint().size());
    let (old_root, new_root) = (
        Hash(first.checkpoint().root().0),
        Hash(second.checkpoint().root().0),
    );
    let dir = DirTiles(&tiles);
    let hashes = tlog_tiles::TileHashReader::new(n, new_root, &dir);
    let proof = tlog_tiles::prove_tree(n, o, &hashes).unwrap();
    tlog_tiles::check_tree(&proof, n, new_root, o, old_root).unwrap();
    let ours = log.consistency_proof(o, n).unwrap();
    assert_eq!(proof.iter().map(|h| h.0).collect::<Vec<_>>(), ours);
    merkle::verify_consistency(&Suite::Sha256, o, n, &ours, &old_root.0, &new_root.0).unwrap();

    // Incremental: the full tiles of the first checkpoint are the same files, the partial
    // tile their place had is gone, the level-1 partial of width 3 too (tile/1/000 is full).
    #[cfg(unix)]
    assert_eq!(
        inode(&tiles.join("tile/0/001")),
        full_inode,
        "a full tile was rewritten"
    );
    let now = files(&tiles);
    for (p, bytes) in &had {
        if Tile::parse(p.to_str().unwrap()).is_ok_and(|t| t.is_full()) {
            assert_eq!(&now[p], bytes, "{} changed", p.display());
        }
    }
    for gone in ["tile/0/003.p/232", "tile/1/000.p/3"] {
        assert!(!tiles.join(gone).exists(), "{gone} left behind");
    }
    // It holds what a fresh publication of the second checkpoint holds, byte for byte.
    let fresh = tmp.path().join("fresh");
    log.write_tiles(&fresh, &second).unwrap();
    assert!(
        files(&fresh) == now,
        "the log's tiles differ from a fresh write"
    );
}

/// Proofs from the log directory's tiles equal proofs from the store, for every tree size of
/// a 600-entry log, every index and every earlier size: tiles published at five sizes, the
/// last below the log's length (proofs of larger trees take their right edge from the store).
/// A hash changed in a tile then shows in the proofs, so they did come from the tiles.
#[test]
fn proofs_from_tiles_equal_proofs_from_the_store_at_every_small_size() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("log");
    let log = create(&path);
    for size in [1, 255, 256, 257, 520] {
        grow_to(&log, size);
        log.checkpoint(&owner()).unwrap();
    }
    grow_to(&log, 600);
    log.flush().unwrap();
    assert_eq!(log.tiles_size(), 520);
    // Beside the writer: a reader of the same directory that ignores the tiles.
    let store = Log::builder()
        .tiles(TilesMode::Ignored)
        .open_read_only(&path)
        .unwrap();
    assert_eq!((store.tiles_size(), store.tiles_dir()), (0, None));
    let n = log.len();
    assert_eq!(store.len(), n);
    for size in 1..=n {
        for index in 0..size {
            assert_eq!(
                log.inclusion_proof(index, size).unwrap(),
                store.inclusion_proof(index, size).unwrap(),
                "inclusion of {index} in {size}"
            );
        }
        for old in 1..=size {
            assert_eq!(
                log.consistency_proof(old, size).unwrap(),
                store.consistency_proof(old, size).unwrap(),
                "consistency {old} → {size}"
            );
        }
        assert_eq!(log.root(size).unwrap(), store.root(size).unwrap());
    }
    // A reader that keeps tiles reads them too, and writes nothing.
    let reader = Log::builder().open_read_only(&path).unwrap();
    assert_eq!(reader.tiles_size(), 520);
    for size in [1, 300, 520, 600] {
        for index in 0..size {
            assert_eq!(
                reader.inclusion_proof(index, size).unwrap(),
                store.inclusion_proof(index, size).unwrap()
            );
        }
    }
    drop(reader);

    // Leaf 301's hash changed in its tile: leaf 300's proof at 520 carries it, from the tiles.
    let victim = path.join(TILES_DIR).join("tile/0/001");
    let mut bad = std::fs::read(&victim).unwrap();
    bad[45 * 32] ^= 1;
    std::fs::write(&victim, &bad).unwrap();
    let fresh = open_read_only_kept(&path);
    let proof = fresh.inclusion_proof(300, 520).unwrap();
    assert_ne!(proof, store.inclusion_proof(300, 520).unwrap());
    let leaf = merkle::leaf_hash(Suite::Sha256, &log.read(300).unwrap().unwrap().hash);
    let root = log.root(520).unwrap();
    assert!(
        merkle::verify_inclusion(&Suite::Sha256, &leaf, 300, 520, &proof, root.as_bytes()).is_err()
    );
}

fn open_read_only_kept(path: &Path) -> Log {
    Log::builder().open_read_only(path).unwrap()
}

/// Tiles lost or left behind are derived data: a full tile and every partial tile removed are
/// rebuilt by the next checkpoint after reopening (proofs meanwhile come from the store); tiles
/// left behind a checkpoint (a crash between the checkpoint and its tiles, here a writer that
/// ignored them) are brought up to date when the log is opened; the whole directory removed,
/// likewise. A read-only open never writes them.
#[test]
fn lost_or_stale_tiles_are_rebuilt_on_the_next_checkpoint_or_open() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("log");
    let tiles = path.join(TILES_DIR);
    let log = create(&path);
    grow_to(&log, 3_000);
    let cp = log.checkpoint(&owner()).unwrap();
    let complete = files(&tiles);
    drop(log);

    // A full tile and the partial tiles removed.
    let mut removed = vec![PathBuf::from("tile/0/002")];
    for p in complete.keys() {
        if p.to_str().unwrap().contains(".p/") {
            removed.push(p.clone());
        }
    }
    assert_eq!(removed.len(), 1 + 2, "{removed:?}");
    for p in &removed {
        std::fs::remove_file(tiles.join(p)).unwrap();
    }
    let log = open(&path, TilesMode::Kept);
    // Proofs still come out right: what the tiles lack is read from the store.
    let store = Log::builder()
        .tiles(TilesMode::Ignored)
        .open_read_only(&path)
        .unwrap();
    for index in [0, 511, 512, 600, 2_999] {
        assert_eq!(
            log.inclusion_proof(index, 3_000).unwrap(),
            store.inclusion_proof(index, 3_000).unwrap()
        );
    }
    drop(store);
    // The next checkpoint (of the same size) rebuilds them.
    assert_eq!(log.checkpoint(&owner()).unwrap().encode(), cp.encode());
    assert!(
        files(&tiles) == complete,
        "tiles not rebuilt by the checkpoint"
    );
    tlog_tiles_checks(&log, &tiles, &cp, &[512, 2_999]);

    // Tiles behind the latest checkpoint: a checkpoint made by a writer that ignores them.
    grow_to(&log, 5_000);
    log.flush().unwrap();
    drop(log);
    // The flush made runs 11 (2,816..3,072, partly stored when the log was opened) to 18
    // durable, and the writer wrote their full level-0 tiles ahead (SPEC §9.8, item 5).
    let ahead = files(&tiles);
    let written: Vec<PathBuf> = ahead
        .keys()
        .filter(|p| !complete.contains_key(*p))
        .cloned()
        .collect();
    let runs: Vec<PathBuf> = (11..=18)
        .map(|n| PathBuf::from(Tile::full(0, n).unwrap().path()))
        .collect();
    assert_eq!(written, runs);
    let ignoring = open(&path, TilesMode::Ignored);
    assert_eq!(ignoring.tiles_dir(), None);
    let later = ignoring.checkpoint(&owner()).unwrap();
    drop(ignoring);
    assert!(files(&tiles) == ahead, "a writer ignoring tiles wrote them");
    // A read-only open writes nothing, and reads the tiles only as far as they go.
    let reader = open_read_only_kept(&path);
    assert_eq!(reader.tiles_size(), 3_000);
    assert_eq!(
        reader.inclusion_proof(4_321, 5_000).unwrap(),
        log_proof_from_store(&path, 4_321, 5_000)
    );
    drop(reader);
    assert!(files(&tiles) == ahead, "a read-only open wrote tiles");
    // A writer's open brings them up to date, keeping the tiles written ahead: they hold
    // what the publication needs there.
    let log = open(&path, TilesMode::Kept);
    assert_eq!(log.tiles_size(), 5_000);
    tlog_tiles_checks(&log, &tiles, &later, &[0, 2_999, 3_000, 4_999]);
    let now = files(&tiles);
    for p in &runs {
        assert!(
            now[p] == ahead[p],
            "{} was written ahead wrong",
            p.display()
        );
    }
    drop(log);

    // The whole directory removed: rebuilt on open, as a fresh publication of the checkpoint.
    std::fs::remove_dir_all(&tiles).unwrap();
    let log = open(&path, TilesMode::Kept);
    let fresh = tmp.path().join("fresh");
    log.write_tiles(&fresh, &later).unwrap();
    assert!(files(&tiles) == files(&fresh), "tiles not rebuilt on open");
    tlog_tiles_checks(&log, &tiles, &later, &[1, 4_998]);
}

fn log_proof_from_store(path: &Path, index: u64, size: u64) -> Vec<[u8; 32]> {
    Log::builder()
        .tiles(TilesMode::Ignored)
        .open_read_only(path)
        .unwrap()
        .inclusion_proof(index, size)
        .unwrap()
}

/// Past the last checkpoint a writer writes the full level-0 tile of each run of 256 entries
/// once the run is durable (SPEC §9.8, item 5): none while its entries are only buffered, all
/// at the flush; with Immediate appends as each run completes. Proofs past the checkpoint
/// equal proofs from the store whether the tiles are right, changed by hand or cut short; the
/// writer writes a wrong tile again when a proof reads its run from the records, a read-only
/// open never does; and a checkpoint's publication keeps the tiles written ahead (the same
/// files), which `tlog_tiles` then reads.
#[test]
fn full_tiles_are_written_ahead_once_durable_and_are_used_only_when_right() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("log");
    let tiles = path.join(TILES_DIR);
    let tile = |n: u64| tiles.join(Tile::full(0, n).unwrap().path());
    let log = create(&path);
    grow_to(&log, 700);
    assert!(!tile(0).exists(), "a tile of entries not yet durable");
    log.flush().unwrap();
    assert!(tile(0).exists() && tile(1).exists() && !tile(2).exists());
    let right = files(&tiles);
    let proofs = [
        (0, 700),
        (255, 700),
        (300, 512),
        (511, 700),
        (699, 700),
        (256, 600),
    ];
    let check = |log: &Log, why: &str| {
        for (index, size) in proofs {
            assert_eq!(
                log.inclusion_proof(index, size).unwrap(),
                log_proof_from_store(&path, index, size),
                "{why}: inclusion of {index} in {size}"
            );
            assert_eq!(
                log.consistency_proof(index + 1, size).unwrap(),
                Log::builder()
                    .tiles(TilesMode::Ignored)
                    .open_read_only(&path)
                    .unwrap()
                    .consistency_proof(index + 1, size)
                    .unwrap(),
                "{why}: consistency of {} and {size}",
                index + 1
            );
        }
    };
    check(&log, "right tiles");
    drop(log);

    // A hash changed in one tile, the other cut short: a read-only open gives the same proofs
    // and leaves the files as they are.
    let mut changed = right[&PathBuf::from("tile/0/000")].clone();
    changed[100] ^= 0x20;
    std::fs::write(tile(0), &changed).unwrap();
    std::fs::write(tile(1), &right[&PathBuf::from("tile/0/001")][..4096]).unwrap();
    let spoiled = files(&tiles);
    let reader = open_read_only_kept(&path);
    check(&reader, "read-only, wrong tiles");
    drop(reader);
    assert!(files(&tiles) == spoiled, "a read-only open wrote tiles");
    // A writer gives the same proofs, and writes both tiles again.
    let log = Log::builder()
        .durability(Durability::Immediate)
        .open(&path)
        .unwrap();
    check(&log, "writer, wrong tiles");
    assert!(
        files(&tiles) == right,
        "the wrong tiles were not written again"
    );

    // Immediate appends: each run's tile is there once the append that completes it returns.
    // Run 2 was partly stored when the log was opened: read from its records.
    while log.len() < 768 {
        assert!(!tile(2).exists(), "run 2 tiled at {}", log.len());
        log.append(&recorder(), sealtrail_testkit::fixtures::note(&log.len()))
            .unwrap();
    }
    assert!(tile(2).exists(), "run 2 not tiled when it became durable");
    #[cfg(unix)]
    let first = inode(&tile(0));
    // The checkpoint's publication keeps them: the same files, fsynced, and read by tlog_tiles.
    let cp = log.checkpoint(&owner()).unwrap();
    #[cfg(unix)]
    assert_eq!(inode(&tile(0)), first, "a tile written ahead was rewritten");
    tlog_tiles_checks(&log, &tiles, &cp, &[0, 256, 600, 767]);
    let fresh = tmp.path().join("fresh");
    log.write_tiles(&fresh, &cp).unwrap();
    assert!(
        files(&fresh) == files(&tiles),
        "the tiles differ from a fresh write"
    );
    drop(log);

    // A Buffered writer closed without a flush: the close makes its entries durable, and
    // the runs they complete get their tiles.
    let log = open(&path, TilesMode::Kept);
    grow_to(&log, 1_100);
    assert!(!tile(3).exists(), "a tile of entries not yet durable");
    drop(log);
    assert!(
        tile(3).exists(),
        "run 3 not tiled when the close made it durable"
    );
    assert!(!tile(4).exists());
}
