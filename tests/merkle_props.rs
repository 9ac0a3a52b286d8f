//! Property tests of the Merkle tree (SPEC §10) against textbook references written here:
//!
//! * the recursive RFC 6962 §2.1 definitions `MTH`, `PATH` and `PROOF` over a list of leaf
//!   hashes, which the generated proofs (through `NodeSource` over `MemoryTree`) must equal;
//! * the RFC 9162 §2.1.3.2 and §2.1.4.2 verification algorithms written literally (bit shifts on
//!   `fn` and `sn`), with transparency-dev's edge rules, which our verifiers must agree with on
//!   every input, honest or mutated or random.

use proptest::prelude::*;
use sealtrail::Suite;
use sealtrail::merkle::math::{consistency_proof_ranges, inclusion_proof_ranges};
use sealtrail::merkle::{
    Frontier, MemoryTree, NodeId, NodeSource, ProofError, Prover, TreeHasher, consistency_proof,
    inclusion_proof, root, root_from_inclusion_proof, verify_consistency, verify_inclusion,
};

// ---- Textbook RFC 6962 §2.1 over leaf hashes ----

/// k: the largest power of two smaller than n (n ≥ 2).
fn split(n: u64) -> u64 {
    let mut k = 1u64;
    while k.checked_mul(2).is_some_and(|k2| k2 < n) {
        k *= 2;
    }
    k
}

/// MTH(D[n]) over leaf hashes.
fn mth(h: Suite, d: &[[u8; 32]]) -> [u8; 32] {
    match d.len() {
        0 => h.empty(),
        1 => d[0],
        n => {
            let k = split(n as u64) as usize;
            h.node(&mth(h, &d[..k]), &mth(h, &d[k..]))
        }
    }
}

/// PATH(m, D[n]).
fn path(h: Suite, m: usize, d: &[[u8; 32]]) -> Vec<[u8; 32]> {
    let n = d.len();
    if n <= 1 {
        return vec![];
    }
    let k = split(n as u64) as usize;
    if m < k {
        let mut p = path(h, m, &d[..k]);
        p.push(mth(h, &d[k..]));
        p
    } else {
        let mut p = path(h, m - k, &d[k..]);
        p.push(mth(h, &d[..k]));
        p
    }
}

/// SUBPROOF(m, D[n], b).
fn subproof(h: Suite, m: usize, d: &[[u8; 32]], b: bool) -> Vec<[u8; 32]> {
    let n = d.len();
    if m == n {
        return if b { vec![] } else { vec![mth(h, d)] };
    }
    let k = split(n as u64) as usize;
    if m <= k {
        let mut p = subproof(h, m, &d[..k], b);
        p.push(mth(h, &d[k..]));
        p
    } else {
        let mut p = subproof(h, m - k, &d[k..], false);
        p.push(mth(h, &d[..k]));
        p
    }
}

/// PROOF(m, D[n]).
fn proof(h: Suite, m: usize, d: &[[u8; 32]]) -> Vec<[u8; 32]> {
    subproof(h, m, d, true)
}

/// Which side of the running hash each element of PATH(m, D[n]) goes on: the shape that
/// decides what a proof hashes to, whatever its hashes.
fn path_sides(m: u64, n: u64) -> Vec<bool> {
    if n <= 1 {
        return vec![];
    }
    let k = split(n);
    let (mut sides, right) = if m < k {
        (path_sides(m, k), true)
    } else {
        (path_sides(m - k, n - k), false)
    };
    sides.push(right);
    sides
}

// ---- RFC 9162 verification, written literally ----

fn arr(b: &[u8]) -> [u8; 32] {
    b.try_into().unwrap()
}

/// RFC 9162 §2.1.3.2, plus transparency-dev's rule that every hash is exactly 32 bytes.
fn rfc9162_inclusion(
    h: Suite,
    leaf: &[u8],
    index: u64,
    size: u64,
    inclusion_path: &[Vec<u8>],
    root_hash: &[u8],
) -> bool {
    if leaf.len() != 32 || root_hash.len() != 32 || inclusion_path.iter().any(|p| p.len() != 32) {
        return false;
    }
    if index >= size {
        return false;
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = arr(leaf);
    for p in inclusion_path {
        let p = arr(p);
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = h.node(&p, &r);
            if fn_ & 1 == 0 {
                while !(fn_ & 1 == 1 || fn_ == 0) {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = h.node(&r, &p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    sn == 0 && r == root_hash
}

/// RFC 9162 §2.1.4.2, with transparency-dev's edge rules for what the RFC leaves open
/// (size regression, first = 0, first = second) and 32-byte hashes.
fn rfc9162_consistency(
    h: Suite,
    first: u64,
    second: u64,
    consistency_path: &[Vec<u8>],
    first_hash: &[u8],
    second_hash: &[u8],
) -> bool {
    if second < first || first == 0 {
        return false;
    }
    if first == second {
        return consistency_path.is_empty() && first_hash == second_hash;
    }
    if first_hash.len() != 32
        || second_hash.len() != 32
        || consistency_path.iter().any(|p| p.len() != 32)
    {
        return false;
    }
    // 1.
    if consistency_path.is_empty() {
        return false;
    }
    let mut path: Vec<[u8; 32]> = consistency_path.iter().map(|p| arr(p)).collect();
    // 2.
    if first.is_power_of_two() {
        path.insert(0, arr(first_hash));
    }
    // 3.
    let (mut fn_, mut sn) = (first - 1, second - 1);
    // 4.
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    // 5.
    let (mut fr, mut sr) = (path[0], path[0]);
    // 6.
    for c in &path[1..] {
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = h.node(c, &fr);
            sr = h.node(c, &sr);
            if fn_ & 1 == 0 {
                while !(fn_ & 1 == 1 || fn_ == 0) {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            sr = h.node(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    // 7.
    fr == first_hash && sr == second_hash && sn == 0
}

// ---- Fixtures ----

fn suite() -> impl Strategy<Value = Suite> {
    prop_oneof![Just(Suite::Sha256), Just(Suite::Blake3)]
}

/// Distinct leaf hashes, so no two subtrees hash alike and a changed input must change a root.
fn leaves(h: Suite, n: u64) -> Vec<[u8; 32]> {
    (0..n).map(|i| h.leaf(&i.to_be_bytes())).collect()
}

fn vecs(p: &[[u8; 32]]) -> Vec<Vec<u8>> {
    p.iter().map(|x| x.to_vec()).collect()
}

/// A tree of `cap` leaves and two sizes in it, 1 ≤ a, b ≤ cap.
fn tree_and_two_sizes() -> impl Strategy<Value = (Suite, u64, u64, u64)> {
    (suite(), 1u64..=5000).prop_flat_map(|(s, cap)| (Just(s), Just(cap), 1..=cap, 1..=cap))
}

/// u64 values that reach the edges: small, powers of two and their neighbours, near u64::MAX.
fn edge_u64() -> impl Strategy<Value = u64> {
    prop_oneof![
        0u64..20,
        (0u32..64, -2i64..=2).prop_map(|(k, d)| (1u64 << k).wrapping_add_signed(d)),
        (0u64..20).prop_map(|d| u64::MAX - d),
        any::<u64>(),
    ]
}

fn some_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => proptest::collection::vec(any::<u8>(), 32),
        1 => proptest::collection::vec(any::<u8>(), 0..40),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Generated inclusion proofs equal PATH, verify, and reject every single change.
    #[test]
    fn inclusion_proofs((h, cap, size, other) in tree_and_two_sizes(), pick in any::<prop::sample::Index>(), flip in 0usize..32) {
        let d = leaves(h, cap);
        let t = MemoryTree::from_leaf_hashes(&h, d.iter().copied());
        let index = pick.index(size as usize) as u64;
        let prefix = &d[..size as usize];
        let root_hash = mth(h, prefix);
        prop_assert_eq!(root(&t, &h, size).unwrap().0, root_hash);

        let p = inclusion_proof(&t, &h, index, size).unwrap();
        prop_assert_eq!(&p, &path(h, index as usize, prefix));
        let prover = Prover::new(&t, &h, size).unwrap();
        prop_assert_eq!(prover.root().0, root_hash);
        prop_assert_eq!(&prover.inclusion_proof(index).unwrap(), &p);
        let leaf = d[index as usize];
        prop_assert_eq!(verify_inclusion(&h, &leaf, index, size, &p, &root_hash), Ok(()));
        prop_assert_eq!(root_from_inclusion_proof(&h, &leaf, index, size, &p).unwrap().0, root_hash);
        prop_assert!(rfc9162_inclusion(h, &leaf, index, size, &vecs(&p), &root_hash));

        // Any one proof hash changed.
        for j in 0..p.len() {
            let mut bad = p.clone();
            bad[j][flip] ^= 0x01;
            prop_assert!(verify_inclusion(&h, &leaf, index, size, &bad, &root_hash).is_err());
        }
        // The leaf or the root changed.
        let mut bad_leaf = leaf;
        bad_leaf[flip] ^= 0x80;
        prop_assert!(verify_inclusion(&h, &bad_leaf, index, size, &p, &root_hash).is_err());
        let mut bad_root = root_hash;
        bad_root[flip] ^= 0x80;
        prop_assert_eq!(
            verify_inclusion(&h, &leaf, index, size, &p, &bad_root),
            Err(ProofError::RootMismatch { root: sealtrail::merkle::RootRole::Tree })
        );
        // A hash added or taken away.
        let mut longer = p.clone();
        longer.push(root_hash);
        let r = verify_inclusion(&h, &leaf, index, size, &longer, &root_hash);
        prop_assert!(matches!(r, Err(ProofError::WrongProofLength { .. })), "{:?}", r);
        if !p.is_empty() {
            let r = verify_inclusion(&h, &leaf, index, size, &p[1..], &root_hash);
            prop_assert!(matches!(r, Err(ProofError::WrongProofLength { .. })), "{:?}", r);
        }
        // Any other index.
        for i in [index ^ 1, index.wrapping_add(1), index.wrapping_sub(1), other - 1, size, u64::MAX] {
            if i != index {
                prop_assert!(verify_inclusion(&h, &leaf, i, size, &p, &root_hash).is_err(), "index {}", i);
            }
        }
        // Another size with its own honest root: never.
        if other != size && index < other {
            let other_root = mth(h, &d[..other as usize]);
            prop_assert!(verify_inclusion(&h, &leaf, index, other, &p, &other_root).is_err());
        }
        // Another size with the old root: a proof binds the size only through its shape (the
        // checkpoint signature binds size and root), so it verifies exactly when the path has the
        // same shape — and always as the literal RFC 9162 algorithm says.
        for n in [other, size + 1, size * 2, size / 2, u64::MAX] {
            let ours = verify_inclusion(&h, &leaf, index, n, &p, &root_hash).is_ok();
            prop_assert_eq!(ours, rfc9162_inclusion(h, &leaf, index, n, &vecs(&p), &root_hash));
            let same_shape = index < n && path_sides(index, n) == path_sides(index, size);
            prop_assert_eq!(ours, same_shape, "size {} -> {}", size, n);
        }
    }

    /// Generated consistency proofs equal PROOF, verify, and reject every single change.
    #[test]
    fn consistency_proofs((h, cap, a, b) in tree_and_two_sizes(), moved in (1u64..=5000, 1u64..=5000), flip in 0usize..32) {
        let (old, new) = (a.min(b), a.max(b));
        let d = leaves(h, cap);
        let t = MemoryTree::from_leaf_hashes(&h, d.iter().copied());
        let (r1, r2) = (mth(h, &d[..old as usize]), mth(h, &d[..new as usize]));

        let p = consistency_proof(&t, &h, old, new).unwrap();
        prop_assert_eq!(&p, &proof(h, old as usize, &d[..new as usize]));
        let prover = Prover::new(&t, &h, new).unwrap();
        prop_assert_eq!(&prover.consistency_proof(old).unwrap(), &p);
        prop_assert!(prover.consistency_proof(new + 1).is_err());
        prop_assert_eq!(verify_consistency(&h, old, new, &p, &r1, &r2), Ok(()));
        prop_assert!(rfc9162_consistency(h, old, new, &vecs(&p), &r1, &r2));

        for j in 0..p.len() {
            let mut bad = p.clone();
            bad[j][flip] ^= 0x01;
            prop_assert!(verify_consistency(&h, old, new, &bad, &r1, &r2).is_err());
        }
        let (mut bad1, mut bad2) = (r1, r2);
        bad1[flip] ^= 0x80;
        bad2[flip] ^= 0x80;
        prop_assert!(verify_consistency(&h, old, new, &p, &bad1, &r2).is_err());
        prop_assert!(verify_consistency(&h, old, new, &p, &r1, &bad2).is_err());
        let mut longer = p.clone();
        longer.push(r2);
        prop_assert!(verify_consistency(&h, old, new, &longer, &r1, &r2).is_err());
        if !p.is_empty() {
            prop_assert!(verify_consistency(&h, old, new, &p[1..], &r1, &r2).is_err());
            prop_assert!(verify_consistency(&h, old, new, &p[..p.len() - 1], &r1, &r2).is_err());
        }

        // Other sizes, with their honest roots: accepted only where this very list is the proof
        // for them (e.g. the empty proof between any equal sizes).
        let (m2, n2) = ((moved.0 - 1) % cap + 1, (moved.1 - 1) % cap + 1);
        for (m, n) in [(m2, new), (old, n2), (m2, n2), (old + 1, new), (old, new + 1), (old - 1, new)] {
            if (m, n) == (old, new) || m > cap || n > cap {
                continue;
            }
            let rm = mth(h, &d[..m as usize]);
            let rn = mth(h, &d[..n as usize]);
            let ours = verify_consistency(&h, m, n, &p, &rm, &rn).is_ok();
            let legit = m >= 1 && m <= n && proof(h, m as usize, &d[..n as usize]) == p;
            prop_assert_eq!(ours, legit, "({}, {}) -> ({}, {})", old, new, m, n);
            // Same sizes, old roots: whatever the literal RFC 9162 algorithm says.
            let ours = verify_consistency(&h, m, n, &p, &r1, &r2).is_ok();
            prop_assert_eq!(ours, rfc9162_consistency(h, m, n, &vecs(&p), &r1, &r2));
        }
    }

    /// The frontier's root equals MTH at every size, each append reports exactly the perfect
    /// nodes it completed, and restoring from the stored nodes gives the same frontier.
    #[test]
    fn frontier_appends((h, size) in (suite(), 1u64..=5000), checks in proptest::collection::vec(any::<prop::sample::Index>(), 12)) {
        let d = leaves(h, size);
        let t = MemoryTree::from_leaf_hashes(&h, d.iter().copied());
        let mut checkpoints: Vec<u64> = checks.iter().map(|c| c.index(size as usize + 1) as u64).collect();
        checkpoints.extend([0, 1, size]);
        let mut f = Frontier::new();
        let mut reported: Vec<NodeId> = Vec::new();
        for n in 0..=size {
            prop_assert_eq!(f.size(), n);
            // Every size: against the root from the stored nodes (O(log n) each); at the
            // checkpoints, against the textbook MTH and a restored frontier.
            prop_assert_eq!(f.root(&h), root(&t, &h, n).unwrap());
            if checkpoints.contains(&n) {
                prop_assert_eq!(f.root(&h).0, mth(h, &d[..n as usize]));
                prop_assert_eq!(&Frontier::restore(&t, n).unwrap(), &f);
                // A prover made from the in-memory frontier, without reads, proves as the
                // one-off functions do.
                let prover = Prover::from_frontier(&t, &h, &f);
                prop_assert_eq!(prover.root(), f.root(&h));
                for i in [0, n / 3, n / 2, n.saturating_sub(1)] {
                    if i < n {
                        prop_assert_eq!(prover.inclusion_proof(i).unwrap(), inclusion_proof(&t, &h, i, n).unwrap());
                    }
                    if i >= 1 {
                        prop_assert_eq!(prover.consistency_proof(i).unwrap(), consistency_proof(&t, &h, i, n).unwrap());
                    }
                }
            }
            if n < size {
                for node in f.append(&h, d[n as usize]).unwrap() {
                    prop_assert_eq!(node.hash, t.perfect_node(node.id.level, node.id.index).unwrap());
                    let leaves = node.id.leaves().unwrap();
                    prop_assert_eq!(leaves.end, n + 1, "a completed node ends at the new leaf");
                    reported.push(node.id);
                }
            }
        }
        // Every perfect node of the tree was reported exactly once.
        let mut all: Vec<NodeId> = (0..64u32)
            .flat_map(|l| (0..t.level(l).len() as u64).map(move |i| NodeId::new(l, i)))
            .collect();
        all.sort();
        reported.sort();
        prop_assert_eq!(reported, all);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Any inputs at all, sizes up to u64::MAX, random hashes of random lengths: no panic, and the
    /// same answer as the literal RFC 9162 algorithm.
    #[test]
    fn arbitrary_inclusion_inputs(h in suite(), index in edge_u64(), size in edge_u64(), leaf in some_bytes(), root_hash in some_bytes(), p in proptest::collection::vec(some_bytes(), 0..70)) {
        let ours = verify_inclusion(&h, &leaf, index, size, &p, &root_hash);
        prop_assert_eq!(ours.is_ok(), rfc9162_inclusion(h, &leaf, index, size, &p, &root_hash));
        if index >= size {
            prop_assert_eq!(ours, Err(ProofError::IndexOutOfRange { index, size }));
        }
    }

    #[test]
    fn arbitrary_consistency_inputs(h in suite(), size1 in edge_u64(), size2 in edge_u64(), r1 in some_bytes(), r2 in some_bytes(), p in proptest::collection::vec(some_bytes(), 0..70)) {
        let ours = verify_consistency(&h, size1, size2, &p, &r1, &r2);
        prop_assert_eq!(ours.is_ok(), rfc9162_consistency(h, size1, size2, &p, &r1, &r2));
    }

    /// Shape-correct proofs of random hashes at huge sizes: the proof length is right, so the
    /// hashing path runs to the end, and still agrees with RFC 9162.
    #[test]
    fn huge_trees_with_right_length_proofs(h in suite(), index in edge_u64(), size in edge_u64(), old in edge_u64(), fill in any::<u8>()) {
        if let Ok(ranges) = inclusion_proof_ranges(index, size) {
            let p: Vec<Vec<u8>> = ranges.iter().enumerate().map(|(i, _)| vec![fill ^ i as u8; 32]).collect();
            let leaf = [fill; 32];
            let computed = root_from_inclusion_proof(&h, &leaf, index, size, &p).unwrap();
            prop_assert!(rfc9162_inclusion(h, &leaf, index, size, &p, &computed.0));
            prop_assert_eq!(verify_inclusion(&h, &leaf, index, size, &p, &computed.0), Ok(()));
        }
        if let Ok(ranges) = consistency_proof_ranges(old, size) {
            let p: Vec<Vec<u8>> = ranges.iter().enumerate().map(|(i, _)| vec![fill ^ i as u8; 32]).collect();
            let ours = verify_consistency(&h, old, size, &p, &[fill; 32], &[!fill; 32]);
            prop_assert_eq!(ours.is_ok(), rfc9162_consistency(h, old, size, &p, &[fill; 32], &[!fill; 32]));
            prop_assert!(!matches!(ours, Err(ProofError::WrongProofLength { .. })), "{:?}", ours);
        }
        // Asking a small tree for nodes it does not have is an error, not a panic.
        let t = MemoryTree::from_leaf_hashes(&h, [[1u8; 32], [2; 32], [3; 32]]);
        let _ = inclusion_proof(&t, &h, index, size);
        let _ = consistency_proof(&t, &h, old, size);
        let _ = root(&t, &h, size);
        let _ = Frontier::restore(&t, size);
        if let Ok(prover) = Prover::new(&t, &h, size) {
            let _ = prover.inclusion_proof(index);
            let _ = prover.consistency_proof(old);
        }
    }
}
