//! Proof verification over untrusted bytes (SPEC §10.5, §10.6).
//!
//! The algorithms are RFC 9162 §2.1.3.2 and §2.1.4.2, written in transparency-dev/merkle's
//! equivalent form: the proof's exact length is computed from the sizes first, then the hashes
//! are chained without further bookkeeping. Every input is a byte slice, so a hash of the wrong
//! length is an error rather than a panic or a silent mismatch.

use std::fmt;

use super::math;
use super::{HASH_LEN, TreeHasher};
use crate::hash::RootHash;

/// Which root a [`ProofError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RootRole {
    /// The root an inclusion proof is checked against.
    Tree,
    /// The old (first) root of a consistency proof.
    Old,
    /// The new (second) root of a consistency proof.
    New,
}

impl fmt::Display for RootRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RootRole::Tree => "tree",
            RootRole::Old => "old",
            RootRole::New => "new",
        })
    }
}

/// Why an inclusion or consistency proof does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The leaf index is not below the tree size (this includes every index in the empty tree).
    #[error("leaf index {index} is not in a tree of size {size}")]
    IndexOutOfRange {
        /// The claimed leaf index.
        index: u64,
        /// The claimed tree size.
        size: u64,
    },
    /// The new tree is smaller than the old one.
    #[error("new tree size {new} is smaller than old tree size {old}")]
    SizeRegression {
        /// The old (first) tree size.
        old: u64,
        /// The new (second) tree size.
        new: u64,
    },
    /// A consistency proof from the empty tree, which proves nothing (SPEC §10.6).
    #[error("a consistency proof from the empty tree proves nothing")]
    EmptyOldTree,
    /// The proof does not have the number of hashes the sizes call for.
    #[error("proof has {found} hashes, expected {expected}")]
    WrongProofLength {
        /// The number of hashes the sizes call for.
        expected: usize,
        /// The number of hashes given.
        found: usize,
    },
    /// The leaf hash is not 32 bytes.
    #[error("leaf hash is {found} bytes, expected 32")]
    WrongLeafHashLength {
        /// Its length.
        found: usize,
    },
    /// A proof hash is not 32 bytes.
    #[error("proof hash {position} is {found} bytes, expected 32")]
    WrongProofHashLength {
        /// Its position in the proof, from 0.
        position: usize,
        /// Its length.
        found: usize,
    },
    /// A root hash is not 32 bytes.
    #[error("{root} root is {found} bytes, expected 32")]
    WrongRootLength {
        /// Which root.
        root: RootRole,
        /// Its length.
        found: usize,
    },
    /// The root computed from the proof differs from the given root. For a consistency proof
    /// between equal sizes, [`RootRole::New`]: the new root differs from the old one.
    #[error("the {root} root does not match the proof")]
    RootMismatch {
        /// Which root.
        root: RootRole,
    },
}

fn check_proof_hashes<P: AsRef<[u8]>>(proof: &[P]) -> Result<(), ProofError> {
    for (position, p) in proof.iter().enumerate() {
        let found = p.as_ref().len();
        if found != HASH_LEN {
            return Err(ProofError::WrongProofHashLength { position, found });
        }
    }
    Ok(())
}

fn proof_hash<P: AsRef<[u8]>>(p: &P, position: usize) -> Result<&[u8; 32], ProofError> {
    let bytes = p.as_ref();
    bytes
        .try_into()
        .map_err(|_| ProofError::WrongProofHashLength {
            position,
            found: bytes.len(),
        })
}

fn root_hash(root: &[u8], role: RootRole) -> Result<&[u8; 32], ProofError> {
    root.try_into().map_err(|_| ProofError::WrongRootLength {
        root: role,
        found: root.len(),
    })
}

/// Bit `i` of `x`, for any `i` (0 above bit 63).
fn bit(x: u64, i: usize) -> bool {
    u32::try_from(i)
        .ok()
        .and_then(|i| x.checked_shr(i))
        .is_some_and(|v| v & 1 == 1)
}

/// Recomputes the root hash that an inclusion proof leads to (SPEC §10.5, RFC 9162 §2.1.3.2),
/// checking the index and every length first. The caller compares it with a root it trusts;
/// [`verify_inclusion`] does both.
pub fn root_from_inclusion_proof<H, P>(
    hasher: &H,
    leaf_hash: &[u8],
    index: u64,
    size: u64,
    proof: &[P],
) -> Result<RootHash, ProofError>
where
    H: TreeHasher + ?Sized,
    P: AsRef<[u8]>,
{
    let (inner, border) = math::inclusion_proof_shape(index, size)
        .map_err(|_| ProofError::IndexOutOfRange { index, size })?;
    let leaf: &[u8; 32] = leaf_hash
        .try_into()
        .map_err(|_| ProofError::WrongLeafHashLength {
            found: leaf_hash.len(),
        })?;
    let (inner, border) = (inner as usize, border as usize);
    if proof.len() != inner + border {
        return Err(ProofError::WrongProofLength {
            expected: inner + border,
            found: proof.len(),
        });
    }
    check_proof_hashes(proof)?;
    let mut h = *leaf;
    for (i, p) in proof.iter().enumerate() {
        let p = proof_hash(p, i)?;
        // Below `inner`, the index's bit says which side the leaf's subtree is on; above it the
        // path runs along the right edge of the tree, where every sibling is on the left.
        h = if i < inner && !bit(index, i) {
            hasher.node(&h, p)
        } else {
            hasher.node(p, &h)
        };
    }
    Ok(RootHash(h))
}

/// Verifies that `leaf_hash` is leaf `index` of the tree of `size` leaves whose root is `root`
/// (SPEC §10.5, RFC 9162 §2.1.3.2). All of `leaf_hash`, each proof hash and `root` must be 32
/// bytes, and the proof must have exactly the length the index and size call for.
pub fn verify_inclusion<H, P>(
    hasher: &H,
    leaf_hash: &[u8],
    index: u64,
    size: u64,
    proof: &[P],
    root: &[u8],
) -> Result<(), ProofError>
where
    H: TreeHasher + ?Sized,
    P: AsRef<[u8]>,
{
    let computed = root_from_inclusion_proof(hasher, leaf_hash, index, size, proof)?;
    let root = root_hash(root, RootRole::Tree)?;
    if computed.as_bytes() == root {
        Ok(())
    } else {
        Err(ProofError::RootMismatch {
            root: RootRole::Tree,
        })
    }
}

/// Verifies that the tree of `size2` leaves with root `root2` extends the tree of `size1` leaves
/// with root `root1` (SPEC §10.6, RFC 9162 §2.1.4.2), with transparency-dev's edge rules:
///
/// * `size2 < size1` is [`ProofError::SizeRegression`];
/// * `size1 = 0` is [`ProofError::EmptyOldTree`], even when `size2 = 0`: every tree extends the
///   empty tree, and a policy that wants to say so decides it above this function;
/// * `size1 = size2` needs the empty proof and byte-identical roots (of any length).
pub fn verify_consistency<H, P>(
    hasher: &H,
    size1: u64,
    size2: u64,
    proof: &[P],
    root1: &[u8],
    root2: &[u8],
) -> Result<(), ProofError>
where
    H: TreeHasher + ?Sized,
    P: AsRef<[u8]>,
{
    if size2 < size1 {
        return Err(ProofError::SizeRegression {
            old: size1,
            new: size2,
        });
    }
    if size1 == 0 {
        return Err(ProofError::EmptyOldTree);
    }
    if size1 == size2 {
        if !proof.is_empty() {
            return Err(ProofError::WrongProofLength {
                expected: 0,
                found: proof.len(),
            });
        }
        return if root1 == root2 {
            Ok(())
        } else {
            Err(ProofError::RootMismatch {
                root: RootRole::New,
            })
        };
    }
    // 0 < size1 < size2 from here on.
    let (inner, border) =
        math::inclusion_proof_shape(size1 - 1, size2).map_err(|_| ProofError::SizeRegression {
            old: size1,
            new: size2,
        })?;
    // The levels below `shift` lie inside the old tree's last perfect subtree, whose hash is
    // the seed: root1 itself if the old tree is perfect, otherwise the proof's first hash.
    let shift = size1.trailing_zeros();
    let inner = inner.saturating_sub(shift) as usize;
    let border = border as usize;
    let seeded = !size1.is_power_of_two();
    let expected = usize::from(seeded) + inner + border;
    if proof.len() != expected {
        return Err(ProofError::WrongProofLength {
            expected,
            found: proof.len(),
        });
    }
    check_proof_hashes(proof)?;
    let r1 = root_hash(root1, RootRole::Old)?;
    let r2 = root_hash(root2, RootRole::New)?;
    let (seed, path) = match (seeded, proof.split_first()) {
        (true, Some((first, rest))) => (proof_hash(first, 0)?, rest),
        _ => (r1, proof),
    };
    let offset = usize::from(seeded);
    let mask = (size1 - 1) >> shift;

    let (mut h1, mut h2) = (*seed, *seed);
    for (i, p) in path.iter().enumerate() {
        let p = proof_hash(p, i + offset)?;
        if i < inner && !bit(mask, i) {
            // A right sibling: part of the new tree only.
            h2 = hasher.node(&h2, p);
        } else {
            // A left sibling: in both trees.
            h1 = hasher.node(p, &h1);
            h2 = hasher.node(p, &h2);
        }
    }
    if &h1 != r1 {
        return Err(ProofError::RootMismatch {
            root: RootRole::Old,
        });
    }
    if &h2 != r2 {
        return Err(ProofError::RootMismatch {
            root: RootRole::New,
        });
    }
    Ok(())
}
