//! Roots and proofs from stored perfect nodes (SPEC §10.3–§10.4, §10.7).

use super::math::{self, RangeError};
use super::{Frontier, TreeHasher};
use crate::hash::RootHash;

/// Where the hashes of perfect subtrees come from: a store, or [`super::MemoryTree`].
///
/// `(level, index)` names the perfect subtree over the leaves `[index·2^level, (index+1)·2^level)`
/// ([`super::NodeId`]); level 0 returns leaf hashes. Proof generation asks only for nodes that
/// are complete in the tree size it was given, O(log n) of them per proof.
pub trait NodeSource {
    /// Why a node could not be read (missing, or a storage failure).
    type Error: std::error::Error + 'static;

    /// The hash of the perfect subtree `(level, index)`.
    fn perfect_node(&self, level: u32, index: u64) -> Result<[u8; 32], Self::Error>;
}

impl<S: NodeSource + ?Sized> NodeSource for &S {
    type Error = S::Error;
    fn perfect_node(&self, level: u32, index: u64) -> Result<[u8; 32], Self::Error> {
        (**self).perfect_node(level, index)
    }
}

/// A root or proof could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProveError<E: std::error::Error + 'static> {
    /// The request names no valid proof (index out of range, sizes reversed, empty old tree).
    #[error(transparent)]
    Range(#[from] RangeError),
    /// The node source could not give a node the proof needs.
    #[error("reading Merkle node (level {level}, index {index})")]
    Source {
        /// The node's level.
        level: u32,
        /// The node's index in its level.
        index: u64,
        /// What the source reported.
        #[source]
        source: E,
    },
}

fn read<S: NodeSource + ?Sized>(
    source: &S,
    level: u32,
    index: u64,
) -> Result<[u8; 32], ProveError<S::Error>> {
    source
        .perfect_node(level, index)
        .map_err(|source| ProveError::Source {
            level,
            index,
            source,
        })
}

/// The Merkle tree hash `MTH(D[start:end])` of a range that is a subtree of the log's tree
/// (SPEC §10.3), from its perfect subtrees: one read per set bit of `end − start`, one node hash
/// fewer. The empty range gives the empty tree's hash.
pub fn range_root<S, H>(
    source: &S,
    hasher: &H,
    start: u64,
    end: u64,
) -> Result<[u8; 32], ProveError<S::Error>>
where
    S: NodeSource + ?Sized,
    H: TreeHasher + ?Sized,
{
    if start > end {
        return Err(RangeError::Reversed { start, end }.into());
    }
    let len = end - start;
    if len == 0 {
        return Ok(hasher.empty());
    }
    let top = 63 - len.leading_zeros();
    if start.trailing_zeros() < top {
        return Err(RangeError::NotATreeRange { start, end }.into());
    }
    // The perfect parts have the sizes of the set bits of `len`, largest first; MTH folds them
    // from the right: MTH = node(P₁, node(P₂, … node(Pₖ₋₁, Pₖ))).
    let mut at = end;
    let mut acc: Option<[u8; 32]> = None;
    let mut bits = len;
    while bits != 0 {
        let level = bits.trailing_zeros();
        bits &= bits - 1;
        at -= 1u64 << level;
        let part = read(source, level, at >> level)?;
        acc = Some(match acc {
            None => part,
            Some(right) => hasher.node(&part, &right),
        });
    }
    Ok(acc.unwrap_or_else(|| hasher.empty()))
}

/// The root hash of the tree of the first `size` leaves (SPEC §10.3), from at most 64 perfect
/// nodes.
pub fn root<S, H>(source: &S, hasher: &H, size: u64) -> Result<RootHash, ProveError<S::Error>>
where
    S: NodeSource + ?Sized,
    H: TreeHasher + ?Sized,
{
    range_root(source, hasher, 0, size).map(RootHash)
}

/// The root hash of a tree with the given leaf hashes, computed directly (SPEC §10.3). O(n)
/// hashing, O(log n) memory.
pub fn root_of_leaf_hashes<H: TreeHasher + ?Sized>(hasher: &H, leaves: &[[u8; 32]]) -> RootHash {
    let mut f = Frontier::new();
    for leaf in leaves {
        // A slice never holds u64::MAX elements, so the frontier cannot be full.
        let _ = f.append_with(hasher, *leaf, |_| {});
    }
    f.root(hasher)
}

/// The inclusion proof of leaf `index` in the tree of the first `size` leaves (SPEC §10.4,
/// RFC 9162 §2.1.3.1), nearest the leaf first. Reads O(log n) perfect nodes.
pub fn inclusion_proof<S, H>(
    source: &S,
    hasher: &H,
    index: u64,
    size: u64,
) -> Result<Vec<[u8; 32]>, ProveError<S::Error>>
where
    S: NodeSource + ?Sized,
    H: TreeHasher + ?Sized,
{
    math::inclusion_proof_ranges(index, size)?
        .into_iter()
        .map(|r| range_root(source, hasher, r.start, r.end))
        .collect()
}

/// The consistency proof from the tree of the first `old` leaves to that of the first `new`
/// leaves (SPEC §10.4, RFC 9162 §2.1.4.1). Equal sizes give the empty proof; `old = 0` is an
/// error, as the verifier rejects it (SPEC §10.6). Reads O(log n) perfect nodes.
pub fn consistency_proof<S, H>(
    source: &S,
    hasher: &H,
    old: u64,
    new: u64,
) -> Result<Vec<[u8; 32]>, ProveError<S::Error>>
where
    S: NodeSource + ?Sized,
    H: TreeHasher + ?Sized,
{
    math::consistency_proof_ranges(old, new)?
        .into_iter()
        .map(|r| range_root(source, hasher, r.start, r.end))
        .collect()
}

/// Proofs in the tree of one fixed size, with the tree's right edge precomputed.
///
/// The ranges of a proof are perfect subtrees, except at most one that runs to the end of the
/// tree. [`inclusion_proof`] folds that one from its perfect parts (a few reads and hashes per
/// proof); a `Prover` folds every such suffix once, when it is made, so each proof then reads
/// one perfect node per hash and hashes nothing. Make one from the [`Frontier`] an appender
/// keeps (no reads), or from the source for any earlier size (one read per set bit of the size).
#[derive(Debug)]
pub struct Prover<'a, S: NodeSource + ?Sized> {
    source: &'a S,
    size: u64,
    root: RootHash,
    /// For each frontier subtree, largest first: its first leaf, and MTH of [first leaf, size).
    edge: Vec<(u64, [u8; 32])>,
}

impl<'a, S: NodeSource + ?Sized> Prover<'a, S> {
    /// A prover for the tree of the first `size` leaves of `source`.
    pub fn new<H: TreeHasher + ?Sized>(
        source: &'a S,
        hasher: &H,
        size: u64,
    ) -> Result<Self, ProveError<S::Error>> {
        let frontier = Frontier::restore(source, size)?;
        Ok(Prover::from_frontier(source, hasher, &frontier))
    }

    /// A prover for the tree whose frontier is `frontier`, which must be the frontier of the
    /// first `frontier.size()` leaves of `source` (as the one an appender keeps beside its store).
    pub fn from_frontier<H: TreeHasher + ?Sized>(
        source: &'a S,
        hasher: &H,
        frontier: &Frontier,
    ) -> Self {
        let nodes: Vec<_> = frontier.nodes().collect();
        let mut edge = Vec::with_capacity(nodes.len());
        let mut suffix: Option<[u8; 32]> = None;
        for node in nodes.iter().rev() {
            let hash = match suffix {
                None => node.hash,
                Some(right) => hasher.node(&node.hash, &right),
            };
            suffix = Some(hash);
            // A frontier node's first leaf is below the tree size, so it fits in u64.
            let first = node.id.index.checked_shl(node.id.level).unwrap_or(0);
            edge.push((first, hash));
        }
        edge.reverse();
        Prover {
            source,
            size: frontier.size(),
            root: RootHash(suffix.unwrap_or_else(|| hasher.empty())),
            edge,
        }
    }

    /// The tree size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The root hash.
    pub fn root(&self) -> RootHash {
        self.root
    }

    /// MTH of a range of a proof: a suffix of the tree, precomputed, or a perfect subtree, read.
    fn range_root(&self, start: u64, end: u64) -> Result<[u8; 32], ProveError<S::Error>> {
        if end == self.size {
            // The suffix starting at frontier node i starts after the i largest set bits.
            let i = start.count_ones() as usize;
            if let Some(&(first, hash)) = self.edge.get(i) {
                if first == start {
                    return Ok(hash);
                }
            }
        }
        let len = end.saturating_sub(start);
        let level = len.trailing_zeros();
        if len.is_power_of_two() && start.trailing_zeros() >= level {
            read(self.source, level, start >> level)
        } else {
            Err(RangeError::NotATreeRange { start, end }.into())
        }
    }

    /// The inclusion proof of leaf `index` in this tree (SPEC §10.4), as [`inclusion_proof`].
    pub fn inclusion_proof(&self, index: u64) -> Result<Vec<[u8; 32]>, ProveError<S::Error>> {
        math::inclusion_proof_ranges(index, self.size)?
            .into_iter()
            .map(|r| self.range_root(r.start, r.end))
            .collect()
    }

    /// The consistency proof from the tree of the first `old` leaves to this tree (SPEC §10.4),
    /// as [`consistency_proof`].
    pub fn consistency_proof(&self, old: u64) -> Result<Vec<[u8; 32]>, ProveError<S::Error>> {
        math::consistency_proof_ranges(old, self.size)?
            .into_iter()
            .map(|r| self.range_root(r.start, r.end))
            .collect()
    }
}
