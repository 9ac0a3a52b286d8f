//! Pure index math for RFC 9162 trees: no hashing, no storage (SPEC §10.7).
//!
//! A proof is a list of Merkle tree hashes of leaf ranges `[start, end)`. The functions here say
//! which ranges, in proof order, and how a range decomposes into *perfect* subtrees — complete
//! subtrees of `2^level` leaves starting at a multiple of `2^level`, named by [`NodeId`]. Those
//! are the only nodes a log stores: a perfect node never changes once its last leaf is appended.
//!
//! Every function is total: sizes up to `u64::MAX` are handled with checked arithmetic, and bad
//! arguments are [`RangeError`]s.

use std::ops::Range;

/// A perfect subtree: the `2^level` leaves `[index·2^level, (index+1)·2^level)` (SPEC §10.7).
/// Level 0 names single leaves, whose hashes are the leaf hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    /// The height above the leaves: the subtree has `2^level` leaves. At most 63.
    pub level: u32,
    /// The subtree's position among the subtrees of its level, from 0.
    pub index: u64,
}

impl NodeId {
    /// The node `(level, index)`.
    pub const fn new(level: u32, index: u64) -> NodeId {
        NodeId { level, index }
    }

    /// The leaves this subtree covers, or `None` if they do not fit in `u64` (no tree has them).
    pub fn leaves(&self) -> Option<Range<u64>> {
        let width = 1u64.checked_shl(self.level)?;
        let start = self.index.checked_mul(width)?;
        let end = start.checked_add(width)?;
        Some(start..end)
    }
}

/// A request that names no valid proof or range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RangeError {
    /// An inclusion proof was asked for a leaf the tree does not have.
    #[error("leaf index {index} is not in a tree of size {size}")]
    IndexOutOfRange {
        /// The leaf asked for.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// A consistency proof was asked from a larger tree to a smaller one.
    #[error("tree size {new} is smaller than the old size {old}")]
    SizeRegression {
        /// The old (first) tree size.
        old: u64,
        /// The new (second) tree size.
        new: u64,
    },
    /// A consistency proof was asked from the empty tree: there is nothing to prove, and the
    /// verifier rejects it (SPEC §10.6).
    #[error("a consistency proof from the empty tree proves nothing")]
    EmptyOldTree,
    /// `start` is after `end`.
    #[error("range [{start}, {end}) is reversed")]
    Reversed {
        /// First leaf.
        start: u64,
        /// One past the last leaf.
        end: u64,
    },
    /// The range is not a subtree of any RFC 9162 tree: its start is not a multiple of the
    /// largest power of two not above its length, so its Merkle tree hash is not made of the
    /// stored perfect nodes.
    #[error("range [{start}, {end}) is not a subtree of the log's tree")]
    NotATreeRange {
        /// First leaf.
        start: u64,
        /// One past the last leaf.
        end: u64,
    },
}

/// The largest power of two strictly less than `n`, for `n ≥ 2` (RFC 9162 §2.1.1's `k`).
fn split_point(n: u64) -> u64 {
    // n ≥ 2, so n - 1 ≥ 1 and the shift is at most 63.
    1u64 << (63 - (n - 1).leading_zeros())
}

/// The ranges whose Merkle tree hashes make the inclusion proof of leaf `index` in a tree of
/// `size` leaves, in proof order (nearest the leaf first): RFC 9162 §2.1.3.1 `PATH(m, D[n])`.
pub fn inclusion_proof_ranges(index: u64, size: u64) -> Result<Vec<Range<u64>>, RangeError> {
    if index >= size {
        return Err(RangeError::IndexOutOfRange { index, size });
    }
    let mut out = Vec::with_capacity(64);
    let (mut lo, mut hi) = (0u64, size);
    // Invariant: lo ≤ index < hi, and [lo, hi) is a node of the RFC tree of `size` leaves.
    while hi - lo > 1 {
        let mid = lo + split_point(hi - lo);
        if index < mid {
            out.push(mid..hi);
            hi = mid;
        } else {
            out.push(lo..mid);
            lo = mid;
        }
    }
    out.reverse();
    Ok(out)
}

/// The ranges whose Merkle tree hashes make the consistency proof from a tree of `old` leaves to
/// one of `new` leaves, in proof order: RFC 9162 §2.1.4.1 `PROOF(m, D[n])`. Equal sizes give the
/// empty proof; `old = 0` is [`RangeError::EmptyOldTree`] (SPEC §10.6).
pub fn consistency_proof_ranges(old: u64, new: u64) -> Result<Vec<Range<u64>>, RangeError> {
    if new < old {
        return Err(RangeError::SizeRegression { old, new });
    }
    if old == 0 {
        return Err(RangeError::EmptyOldTree);
    }
    let mut out = Vec::with_capacity(64);
    // SUBPROOF(m, D[lo:hi], b) with m = old - lo; `whole` is b: the subtree is the whole old tree.
    let (mut lo, mut hi, mut whole) = (0u64, new, true);
    // Invariant: lo < old ≤ hi.
    while old < hi {
        let mid = lo + split_point(hi - lo);
        if old <= mid {
            out.push(mid..hi);
            hi = mid;
        } else {
            out.push(lo..mid);
            lo = mid;
            whole = false;
        }
    }
    if !whole {
        out.push(lo..hi);
    }
    out.reverse();
    Ok(out)
}

/// The maximal perfect subtrees that exactly cover `[start, end)`, left to right. There are at
/// most 2·64 of them; for a range of a proof (a subtree of the RFC tree) they have strictly
/// decreasing levels, and for `[0, size)` they are the tree's frontier (one per set bit of
/// `size`).
pub fn perfect_subtrees(start: u64, end: u64) -> Result<Vec<NodeId>, RangeError> {
    if start > end {
        return Err(RangeError::Reversed { start, end });
    }
    let mut out = Vec::new();
    let mut at = start;
    while at < end {
        // The largest aligned block at `at` that fits before `end`.
        let fits = 63 - (end - at).leading_zeros();
        let level = at.trailing_zeros().min(fits);
        out.push(NodeId::new(level, at >> level));
        at += 1u64 << level;
    }
    Ok(out)
}

/// Checks that `[start, end)` is a subtree of some RFC 9162 tree, i.e. its Merkle tree hash is the
/// right fold of [`perfect_subtrees`], and returns those subtrees (strictly decreasing levels).
/// The empty range gives no subtrees (its hash is that of the empty tree).
pub fn tree_range_subtrees(start: u64, end: u64) -> Result<Vec<NodeId>, RangeError> {
    if start > end {
        return Err(RangeError::Reversed { start, end });
    }
    if start < end {
        let top = 63 - (end - start).leading_zeros();
        if start.trailing_zeros() < top {
            return Err(RangeError::NotATreeRange { start, end });
        }
    }
    perfect_subtrees(start, end)
}

/// The number of hashes in the inclusion proof of leaf `index` in a tree of `size` leaves,
/// split as `(inner, border)` (SPEC §10.5): `inner` hashes of siblings below the point where the
/// leaf's path meets the right edge of the tree, then `border` hashes of left siblings along it.
pub fn inclusion_proof_shape(index: u64, size: u64) -> Result<(u32, u32), RangeError> {
    if index >= size {
        return Err(RangeError::IndexOutOfRange { index, size });
    }
    let inner = 64 - (index ^ (size - 1)).leading_zeros();
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    Ok((inner, border))
}

/// The number of hashes in the consistency proof from `old` to `new` leaves (SPEC §10.6).
pub fn consistency_proof_len(old: u64, new: u64) -> Result<u32, RangeError> {
    if new < old {
        return Err(RangeError::SizeRegression { old, new });
    }
    if old == 0 {
        return Err(RangeError::EmptyOldTree);
    }
    if old == new {
        return Ok(0);
    }
    let (inner, border) = inclusion_proof_shape(old - 1, new)?;
    let shift = old.trailing_zeros();
    let seed = u32::from(!old.is_power_of_two());
    Ok(seed + inner.saturating_sub(shift) + border)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_point_is_largest_power_below() {
        for n in 2u64..2000 {
            let k = split_point(n);
            assert!(k.is_power_of_two() && k < n && 2 * k >= n, "n={n} k={k}");
        }
        assert_eq!(split_point(u64::MAX), 1 << 63);
        assert_eq!(split_point((1 << 63) + 1), 1 << 63);
        assert_eq!(split_point(1 << 63), 1 << 62);
    }

    #[test]
    fn small_tree_ranges() {
        // RFC 9162 §2.1.5's example tree of 7 leaves.
        assert_eq!(
            inclusion_proof_ranges(0, 7).unwrap(),
            vec![1..2, 2..4, 4..7]
        );
        assert_eq!(
            inclusion_proof_ranges(3, 7).unwrap(),
            vec![2..3, 0..2, 4..7]
        );
        assert_eq!(
            inclusion_proof_ranges(4, 7).unwrap(),
            vec![5..6, 6..7, 0..4]
        );
        assert_eq!(inclusion_proof_ranges(6, 7).unwrap(), vec![4..6, 0..4]);
        assert_eq!(
            inclusion_proof_ranges(0, 1).unwrap(),
            Vec::<Range<u64>>::new()
        );
        // The consistency examples of RFC 9162 §2.1.5.
        assert_eq!(
            consistency_proof_ranges(3, 7).unwrap(),
            vec![2..3, 3..4, 0..2, 4..7]
        );
        assert_eq!(consistency_proof_ranges(4, 7).unwrap(), vec![4..7]);
        assert_eq!(
            consistency_proof_ranges(6, 7).unwrap(),
            vec![4..6, 6..7, 0..4]
        );
        assert_eq!(
            consistency_proof_ranges(5, 5).unwrap(),
            Vec::<Range<u64>>::new()
        );
    }

    #[test]
    fn bad_requests_are_errors() {
        assert_eq!(
            inclusion_proof_ranges(5, 5),
            Err(RangeError::IndexOutOfRange { index: 5, size: 5 })
        );
        assert!(inclusion_proof_ranges(0, 0).is_err());
        assert!(inclusion_proof_shape(u64::MAX, u64::MAX).is_err());
        assert_eq!(
            consistency_proof_ranges(3, 2),
            Err(RangeError::SizeRegression { old: 3, new: 2 })
        );
        assert_eq!(
            consistency_proof_ranges(0, 0),
            Err(RangeError::EmptyOldTree)
        );
        assert_eq!(consistency_proof_len(0, 4), Err(RangeError::EmptyOldTree));
        assert_eq!(
            perfect_subtrees(3, 2),
            Err(RangeError::Reversed { start: 3, end: 2 })
        );
        assert_eq!(
            tree_range_subtrees(2, 6),
            Err(RangeError::NotATreeRange { start: 2, end: 6 })
        );
        assert_eq!(NodeId::new(63, 1).leaves(), None);
        assert_eq!(NodeId::new(64, 0).leaves(), None);
        assert_eq!(NodeId::new(63, 0).leaves(), Some(0..1 << 63));
    }

    #[test]
    fn perfect_subtrees_cover_exactly() {
        for start in 0u64..70 {
            for end in start..140 {
                let parts = perfect_subtrees(start, end).unwrap();
                let mut at = start;
                for p in &parts {
                    let r = p.leaves().unwrap();
                    assert_eq!(r.start, at, "[{start},{end}) {parts:?}");
                    at = r.end;
                }
                assert_eq!(at, end);
                assert!(parts.len() <= 2 * 64);
                if let Ok(tree) = tree_range_subtrees(start, end) {
                    assert_eq!(tree, parts);
                    assert!(tree.windows(2).all(|w| w[0].level > w[1].level));
                }
            }
        }
        let frontier = perfect_subtrees(0, 0b1011).unwrap();
        assert_eq!(
            frontier,
            vec![NodeId::new(3, 0), NodeId::new(1, 4), NodeId::new(0, 10)]
        );
    }

    #[test]
    fn every_proof_range_is_a_tree_range() {
        for size in 1u64..200 {
            for index in 0..size {
                let ranges = inclusion_proof_ranges(index, size).unwrap();
                let (inner, border) = inclusion_proof_shape(index, size).unwrap();
                assert_eq!(ranges.len() as u32, inner + border);
                for r in ranges {
                    tree_range_subtrees(r.start, r.end).unwrap();
                }
            }
            for old in 1..=size {
                let ranges = consistency_proof_ranges(old, size).unwrap();
                assert_eq!(
                    ranges.len() as u32,
                    consistency_proof_len(old, size).unwrap()
                );
                for r in ranges {
                    tree_range_subtrees(r.start, r.end).unwrap();
                }
            }
        }
    }

    #[test]
    fn huge_sizes_do_not_overflow() {
        let max = u64::MAX;
        for (index, size) in [
            (0, max),
            (max - 1, max),
            (1 << 63, max),
            ((1 << 63) - 1, max),
            (0, (1 << 63) + 1),
            ((1 << 63) - 1, 1 << 63),
        ] {
            let ranges = inclusion_proof_ranges(index, size).unwrap();
            let (inner, border) = inclusion_proof_shape(index, size).unwrap();
            assert_eq!(ranges.len() as u32, inner + border, "{index} {size}");
            for r in ranges {
                tree_range_subtrees(r.start, r.end).unwrap();
            }
        }
        for (old, new) in [
            (1, max),
            (max - 1, max),
            (max, max),
            (1 << 63, max),
            (3, 1 << 63),
        ] {
            let ranges = consistency_proof_ranges(old, new).unwrap();
            assert_eq!(
                ranges.len() as u32,
                consistency_proof_len(old, new).unwrap()
            );
        }
        // The longest proofs: 64 hashes for inclusion, 65 for consistency.
        assert_eq!(inclusion_proof_ranges(0, max).unwrap().len(), 64);
        assert_eq!(consistency_proof_len(max - 2, max), Ok(65));
        assert_eq!(consistency_proof_ranges(max - 2, max).unwrap().len(), 65);
        assert_eq!(perfect_subtrees(0, max).unwrap().len(), 64);
        assert_eq!(perfect_subtrees(1, max).unwrap().len(), 63 + 63);
    }
}
