//! The Merkle tree (SPEC §10) against external vectors, and our own BLAKE3 golden vectors.
//!
//! * SHA-256: transparency-dev/merkle's accept/reject probes for both verifiers, the RFC 6962
//!   reference tree (every node and every root for sizes 0–8), the published proofs (generated
//!   exactly, and verified), and every proof for n ≤ 8 (derived file).
//! * BLAKE3: no published vectors exist, so tests/vectors/merkle_blake3_golden.json is generated
//!   here over the same leaf inputs. The test fails when the checked-in file is stale; regenerate
//!   with `SEALTRAIL_REGENERATE=1 cargo test --test merkle_vectors` and review the diff. The same
//!   generator run with SHA-256 must reproduce the external files, which shows it is right
//!   whatever the hash.

use sealtrail::Suite;
use sealtrail::hash::EntryHash;
use sealtrail::merkle::{
    Frontier, MemoryTree, NodeSource, ProofError, Prover, TreeHasher, consistency_proof,
    inclusion_proof, leaf_hash, root, root_of_leaf_hashes, verify_consistency, verify_inclusion,
};
use serde_json::{Value as Json, json};

const GOLDEN: &str = "tests/vectors/merkle_blake3_golden.json";

fn path(file: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file)
}

fn load(file: &str) -> Json {
    let text = std::fs::read_to_string(path(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    serde_json::from_str(&text).unwrap()
}

fn unhex(j: &Json) -> Vec<u8> {
    hex::decode(j.as_str().unwrap()).unwrap()
}

fn hash32(j: &Json) -> [u8; 32] {
    unhex(j).try_into().unwrap()
}

fn hexes(j: &Json) -> Vec<Vec<u8>> {
    j.as_array().unwrap().iter().map(unhex).collect()
}

fn vecs(p: &[[u8; 32]]) -> Vec<Vec<u8>> {
    p.iter().map(|h| h.to_vec()).collect()
}

fn u64_of(j: &Json) -> u64 {
    j.as_u64().unwrap()
}

fn leaf_inputs() -> Vec<Vec<u8>> {
    hexes(&load("tests/vectors/rfc6962_sha256_reference_tree.json")["leaf_inputs_hex"])
}

fn tree(suite: Suite) -> MemoryTree {
    MemoryTree::from_leaf_hashes(&suite, leaf_inputs().iter().map(|d| suite.leaf(d)))
}

/// The textbook MTH of RFC 6962 §2.1, recursively, for the roots of the golden file.
fn textbook_mth(suite: Suite, leaves: &[Vec<u8>]) -> [u8; 32] {
    match leaves.len() {
        0 => suite.empty(),
        1 => suite.leaf(&leaves[0]),
        n => {
            let k = 1usize << (usize::BITS - 1 - (n - 1).leading_zeros());
            suite.node(
                &textbook_mth(suite, &leaves[..k]),
                &textbook_mth(suite, &leaves[k..]),
            )
        }
    }
}

#[test]
fn transparency_dev_inclusion_probes() {
    let file = load("tests/vectors/tdmerkle_inclusion_probes.json");
    let probes = file["probes"].as_array().unwrap();
    assert_eq!(probes.len(), 98);
    let mut wrong = Vec::new();
    let (mut accepted, mut rejected) = (0, 0);
    for p in probes {
        let result = verify_inclusion(
            &Suite::Sha256,
            &unhex(&p["leafHash_hex"]),
            u64_of(&p["leafIdx"]),
            u64_of(&p["treeSize"]),
            &hexes(&p["proof_hex"]),
            &unhex(&p["root_hex"]),
        );
        if result.is_err() != p["wantErr"].as_bool().unwrap() {
            wrong.push(format!("{}: {:?}", p["file"], result));
        }
        if result.is_ok() {
            accepted += 1;
        } else {
            rejected += 1;
        }
    }
    assert!(wrong.is_empty(), "probes judged wrongly: {wrong:#?}");
    assert_eq!((accepted, rejected), (6, 92));
}

#[test]
fn transparency_dev_consistency_probes() {
    let file = load("tests/vectors/tdmerkle_consistency_probes.json");
    let probes = file["probes"].as_array().unwrap();
    assert_eq!(probes.len(), 98);
    let mut wrong = Vec::new();
    let (mut accepted, mut rejected) = (0, 0);
    for p in probes {
        let result = verify_consistency(
            &Suite::Sha256,
            u64_of(&p["size1"]),
            u64_of(&p["size2"]),
            &hexes(&p["proof_hex"]),
            &unhex(&p["root1_hex"]),
            &unhex(&p["root2_hex"]),
        );
        if result.is_err() != p["wantErr"].as_bool().unwrap() {
            wrong.push(format!("{}: {:?}", p["file"], result));
        }
        if result.is_ok() {
            accepted += 1;
        } else {
            rejected += 1;
        }
    }
    assert!(wrong.is_empty(), "probes judged wrongly: {wrong:#?}");
    assert_eq!((accepted, rejected), (6, 92));
}

/// A few probes name the exact rule that rejects them.
#[test]
fn probe_edge_rules_give_precise_errors() {
    let s = Suite::Sha256;
    let none: [&[u8]; 0] = [];
    let r = [7u8; 32];
    assert_eq!(
        verify_consistency(&s, 0, 0, &none, &r, &r),
        Err(ProofError::EmptyOldTree)
    );
    assert_eq!(
        verify_consistency(&s, 2, 1, &none, &r, &r),
        Err(ProofError::SizeRegression { old: 2, new: 1 })
    );
    assert_eq!(
        verify_consistency(&s, 1, 1, &[r], &r, &r),
        Err(ProofError::WrongProofLength {
            expected: 0,
            found: 1
        })
    );
    // Equal sizes compare the roots as given, whatever their length.
    assert_eq!(
        verify_consistency(&s, 1, 1, &none, b"dont", b"dont"),
        Ok(())
    );
    assert_eq!(
        verify_inclusion(&s, &[], 0, 1, &none, &[]),
        Err(ProofError::WrongLeafHashLength { found: 0 })
    );
    assert_eq!(
        verify_inclusion(&s, &r, 0, 0, &none, &r),
        Err(ProofError::IndexOutOfRange { index: 0, size: 0 })
    );
    let short: [&[u8]; 2] = [&r, &r[..31]];
    assert_eq!(
        verify_inclusion(&s, &r, 0, 3, &short, &r),
        Err(ProofError::WrongProofHashLength {
            position: 1,
            found: 31
        })
    );
    assert_eq!(
        verify_consistency(&s, 3, 4, &[r, r, r], &r, &r[..1]),
        Err(ProofError::WrongRootLength {
            root: sealtrail::merkle::RootRole::New,
            found: 1
        })
    );
    assert_eq!(
        verify_consistency(&s, 3, 4, &[r, r], &r, &r),
        Err(ProofError::WrongProofLength {
            expected: 3,
            found: 2
        })
    );
}

#[test]
fn rfc6962_reference_tree() {
    let file = load("tests/vectors/rfc6962_sha256_reference_tree.json");
    let s = Suite::Sha256;
    let t = tree(s);
    assert_eq!(t.size(), 8);
    let leaf_hashes = hexes(&file["leaf_hashes_hex"]);
    for (i, d) in leaf_inputs().iter().enumerate() {
        assert_eq!(s.leaf(d).to_vec(), leaf_hashes[i], "leaf {i}");
    }
    // Every perfect node, through the node source.
    let levels = file["node_hashes_by_level_hex"].as_array().unwrap();
    assert_eq!(levels.len(), 4);
    for (level, nodes) in levels.iter().enumerate() {
        let nodes = hexes(nodes);
        assert_eq!(t.level(level as u32).len(), nodes.len());
        for (index, node) in nodes.iter().enumerate() {
            let got = t.perfect_node(level as u32, index as u64).unwrap();
            assert_eq!(got.to_vec(), *node, "node ({level}, {index})");
        }
    }
    // Every root, three ways.
    let mut frontier = Frontier::new();
    for size in 0..=8u64 {
        let want = hash32(&file["root_by_tree_size_hex"][size.to_string()]);
        assert_eq!(root(&t, &s, size).unwrap().0, want, "root({size})");
        assert_eq!(frontier.root(&s).0, want, "frontier root({size})");
        assert_eq!(
            root_of_leaf_hashes(&s, &t.leaf_hashes()[..size as usize]).0,
            want
        );
        assert_eq!(Frontier::restore(&t, size).unwrap(), frontier);
        if size < 8 {
            frontier.append(&s, t.leaf_hashes()[size as usize]).unwrap();
        }
    }
    // The hasher's unit vectors (the raw-bytes HashChildren vector does not apply: our node
    // hash takes two 32-byte hashes).
    let units = file["hasher_unit_vectors"].as_array().unwrap();
    assert_eq!(unhex(&units[0]["hex"]), s.empty());
    assert_eq!(unhex(&units[1]["hex"]), s.leaf(b""));
    assert_eq!(unhex(&units[2]["hex"]), s.leaf(b"L123456"));
}

/// Checks a file of inclusion and consistency proofs over the reference leaves: each proof is
/// generated exactly from the tree and verifies against the file's roots. Returns the counts.
fn check_proof_file(suite: Suite, file: &Json) -> (usize, usize) {
    let t = tree(suite);
    let inclusion = file["inclusion"].as_array().unwrap();
    for p in inclusion {
        let (index, size) = (u64_of(&p["leaf_index"]), u64_of(&p["tree_size"]));
        let want = hexes(&p["proof_hex"]);
        let got = inclusion_proof(&t, &suite, index, size).unwrap();
        let got: Vec<Vec<u8>> = got.iter().map(|h| h.to_vec()).collect();
        assert_eq!(got, want, "inclusion proof ({index}, {size})");
        let by_prover = Prover::new(&t, &suite, size)
            .unwrap()
            .inclusion_proof(index)
            .unwrap();
        assert_eq!(vecs(&by_prover), want);
        let leaf = unhex(&p["leaf_hash_hex"]);
        assert_eq!(leaf, t.leaf_hashes()[index as usize]);
        if let Some(input) = p.get("leaf_input_hex") {
            assert_eq!(suite.leaf(&unhex(input)).to_vec(), leaf);
        }
        let root_hex = unhex(&p["root_hex"]);
        assert_eq!(root(&t, &suite, size).unwrap().0.to_vec(), root_hex);
        verify_inclusion(&suite, &leaf, index, size, &want, &root_hex).unwrap();
    }
    let consistency = file["consistency"].as_array().unwrap();
    for p in consistency {
        let (m, n) = (u64_of(&p["size1"]), u64_of(&p["size2"]));
        let want = hexes(&p["proof_hex"]);
        let got = consistency_proof(&t, &suite, m, n).unwrap();
        let got: Vec<Vec<u8>> = got.iter().map(|h| h.to_vec()).collect();
        assert_eq!(got, want, "consistency proof ({m}, {n})");
        let by_prover = Prover::new(&t, &suite, n)
            .unwrap()
            .consistency_proof(m)
            .unwrap();
        assert_eq!(vecs(&by_prover), want);
        let (r1, r2) = (unhex(&p["root1_hex"]), unhex(&p["root2_hex"]));
        assert_eq!(root(&t, &suite, m).unwrap().0.to_vec(), r1);
        assert_eq!(root(&t, &suite, n).unwrap().0.to_vec(), r2);
        verify_consistency(&suite, m, n, &want, &r1, &r2).unwrap();
    }
    (inclusion.len(), consistency.len())
}

#[test]
fn rfc6962_published_proofs() {
    let file = load("tests/vectors/rfc6962_sha256_published_proofs.json");
    assert_eq!(check_proof_file(Suite::Sha256, &file), (5, 5));
}

#[test]
fn rfc6962_derived_all_proofs() {
    let file = load("tests/vectors/rfc6962_sha256_derived_all_proofs_n8.json");
    assert_eq!(check_proof_file(Suite::Sha256, &file), (36, 28));
}

fn generate(suite: Suite) -> Json {
    let t = tree(suite);
    let h = |b: &[u8; 32]| hex::encode(b);
    let levels: Vec<Vec<String>> = (0..4).map(|l| t.level(l).iter().map(h).collect()).collect();
    let mut roots = serde_json::Map::new();
    for size in 0..=8u64 {
        roots.insert(
            size.to_string(),
            json!(h(&root(&t, &suite, size).unwrap().0)),
        );
    }
    let mut inclusion = Vec::new();
    let mut consistency = Vec::new();
    for n in 1..=8u64 {
        for i in 0..n {
            let proof = inclusion_proof(&t, &suite, i, n).unwrap();
            inclusion.push(json!({
                "leaf_index": i,
                "tree_size": n,
                "leaf_hash_hex": h(&t.leaf_hashes()[i as usize]),
                "root_hex": h(&root(&t, &suite, n).unwrap().0),
                "proof_hex": proof.iter().map(h).collect::<Vec<_>>(),
            }));
        }
        for m in 1..=n {
            let proof = consistency_proof(&t, &suite, m, n).unwrap();
            consistency.push(json!({
                "size1": m,
                "size2": n,
                "root1_hex": h(&root(&t, &suite, m).unwrap().0),
                "root2_hex": h(&root(&t, &suite, n).unwrap().0),
                "proof_hex": proof.iter().map(h).collect::<Vec<_>>(),
            }));
        }
    }
    json!({
        "_comment": format!(
            "sealtrail Merkle tree golden vectors, suite {suite} (SPEC.md §10). Generated by \
             tests/merkle_vectors.rs; regenerate with SEALTRAIL_REGENERATE=1 cargo test --test \
             merkle_vectors. Leaves are rfc6962_sha256_reference_tree.json leaf_inputs_hex; leaf \
             indices are 0-based; consistency includes size1 = size2 (empty proof)."
        ),
        "hash": format!(
            "{suite}: leaf = H(0x00||d), node = H(0x01||l||r), empty tree = H('')"
        ),
        "leaf_inputs_hex": leaf_inputs().iter().map(hex::encode).collect::<Vec<_>>(),
        "leaf_hashes_hex": t.leaf_hashes().iter().map(h).collect::<Vec<_>>(),
        "node_hashes_by_level_hex": levels,
        "root_by_tree_size_hex": roots,
        "inclusion": inclusion,
        "consistency": consistency,
    })
}

/// The generator, run with SHA-256, reproduces the external files: so it is right whatever the
/// hash, and the BLAKE3 file it writes can be trusted as far as BLAKE3 itself.
#[test]
fn generator_reproduces_the_sha256_files() {
    let ours = generate(Suite::Sha256);
    let reference = load("tests/vectors/rfc6962_sha256_reference_tree.json");
    for field in [
        "leaf_inputs_hex",
        "leaf_hashes_hex",
        "node_hashes_by_level_hex",
        "root_by_tree_size_hex",
    ] {
        assert_eq!(ours[field], reference[field], "{field}");
    }
    let derived = load("tests/vectors/rfc6962_sha256_derived_all_proofs_n8.json");
    assert_eq!(ours["inclusion"], derived["inclusion"]);
    let ours_strict: Vec<&Json> = ours["consistency"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["size1"] != c["size2"])
        .collect();
    let derived_consistency: Vec<&Json> =
        derived["consistency"].as_array().unwrap().iter().collect();
    assert_eq!(ours_strict, derived_consistency);
}

#[test]
fn blake3_golden_file_is_fresh() {
    let fresh = serde_json::to_string_pretty(&generate(Suite::Blake3)).unwrap() + "\n";
    if std::env::var_os("SEALTRAIL_REGENERATE").is_some() {
        std::fs::write(path(GOLDEN), &fresh).unwrap();
    }
    let on_disk =
        std::fs::read_to_string(path(GOLDEN)).expect("golden file missing: regenerate it");
    assert!(
        on_disk == fresh,
        "{GOLDEN} is stale: the tree no longer produces the checked-in hashes. A change here is a \
         format change: bump the version, regenerate with SEALTRAIL_REGENERATE=1 and say so in \
         SPEC.md's Version changes"
    );
}

/// The checked-in BLAKE3 file on its own: roots match the textbook MTH, every proof is generated
/// exactly and verifies, and nothing in it is SHA-256.
#[test]
fn blake3_golden_vectors_verify() {
    let file = load(GOLDEN);
    let s = Suite::Blake3;
    let inputs = hexes(&file["leaf_inputs_hex"]);
    assert_eq!(inputs, leaf_inputs());
    for size in 0..=8usize {
        let want = hash32(&file["root_by_tree_size_hex"][size.to_string()]);
        assert_eq!(textbook_mth(s, &inputs[..size]), want, "root({size})");
        assert_ne!(textbook_mth(Suite::Sha256, &inputs[..size]), want);
    }
    assert_eq!(check_proof_file(s, &file), (36, 36));
    // Two values meet BLAKE3's official vectors (input i % 251, the first 32 bytes): the empty
    // tree is BLAKE3(""), and the leaf hash of the empty leaf input is BLAKE3(0x00).
    let official = load("tests/vectors/blake3_official_test_vectors.json");
    let official_hash = |len: u64| -> String {
        let case = official["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["input_len"] == len)
            .unwrap();
        case["hash"].as_str().unwrap()[..64].to_string()
    };
    assert_eq!(file["root_by_tree_size_hex"]["0"], official_hash(0));
    assert_eq!(file["leaf_hashes_hex"][0], official_hash(1));
    // A proof verifies under its own suite only.
    let p = &file["inclusion"][3];
    assert_eq!(
        verify_inclusion(
            &Suite::Sha256,
            &unhex(&p["leaf_hash_hex"]),
            u64_of(&p["leaf_index"]),
            u64_of(&p["tree_size"]),
            &hexes(&p["proof_hex"]),
            &unhex(&p["root_hex"]),
        ),
        Err(ProofError::RootMismatch {
            root: sealtrail::merkle::RootRole::Tree
        })
    );
}

/// A log's leaf is the entry hash under the 0x00 prefix.
#[test]
fn log_leaf_is_the_entry_hash() {
    let e = EntryHash([0xab; 32]);
    let mut input = vec![0u8];
    input.extend_from_slice(&[0xab; 32]);
    assert_eq!(leaf_hash(Suite::Sha256, &e), Suite::Sha256.hash(&[&input]));
    assert_eq!(
        leaf_hash(Suite::Blake3, &e),
        *blake3::hash(&input).as_bytes()
    );
}
