//! The compact right edge of an append-only tree (SPEC §10.7).

use super::math::{self, NodeId};
use super::{NodeSource, ProveError, TreeHasher};
use crate::hash::RootHash;

/// A perfect subtree's id and hash, as completed by [`Frontier::append`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PerfectNode {
    /// Which subtree.
    pub id: NodeId,
    /// Its Merkle tree hash.
    pub hash: [u8; 32],
}

/// An append could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrontierError {
    /// The tree already has `u64::MAX` leaves.
    #[error("the tree is full ({size} leaves)")]
    Full {
        /// The tree size.
        size: u64,
    },
}

/// The frontier of a tree of `size` leaves: the hashes of its maximal perfect subtrees, largest
/// (leftmost) first, one per set bit of `size` (SPEC §10.7). That is all an appender needs to
/// keep in memory: it gives the root in O(log n) hashes, and each append completes O(1) nodes
/// on average.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Frontier {
    size: u64,
    /// `math::perfect_subtrees(0, size)`'s hashes, in that order.
    nodes: Vec<[u8; 32]>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Frontier {
        Frontier::default()
    }

    /// A frontier from its hashes, as carried in a bundle (SPEC §12.2): the perfect subtrees of
    /// `[0, size)`, largest first, one per set bit of `size`. `None` if the count is wrong.
    pub fn from_nodes(size: u64, nodes: Vec<[u8; 32]>) -> Option<Frontier> {
        (nodes.len() == size.count_ones() as usize).then_some(Frontier { size, nodes })
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The frontier's perfect subtrees and their hashes, largest first.
    pub fn nodes(&self) -> impl Iterator<Item = PerfectNode> + '_ {
        // The ids are those of `perfect_subtrees(0, size)`: one per set bit, from the top.
        let mut at = 0u64;
        let mut bits = self.size;
        self.nodes.iter().map(move |hash| {
            let level = 63 - bits.leading_zeros();
            bits &= !(1u64 << level);
            let id = NodeId::new(level, at >> level);
            at += 1u64 << level;
            PerfectNode { id, hash: *hash }
        })
    }

    /// Appends a leaf hash and returns every perfect node the append completed, from the leaf
    /// itself (level 0) upwards, for the caller to store.
    pub fn append<H: TreeHasher + ?Sized>(
        &mut self,
        hasher: &H,
        leaf_hash: [u8; 32],
    ) -> Result<Vec<PerfectNode>, FrontierError> {
        let mut completed = Vec::with_capacity(1 + self.size.trailing_ones() as usize);
        self.append_with(hasher, leaf_hash, |n| completed.push(n))?;
        Ok(completed)
    }

    /// [`Frontier::append`] without the allocation: `completed` is called for each node.
    pub fn append_with<H: TreeHasher + ?Sized>(
        &mut self,
        hasher: &H,
        leaf_hash: [u8; 32],
        mut completed: impl FnMut(PerfectNode),
    ) -> Result<(), FrontierError> {
        let index = self.size;
        let size = index
            .checked_add(1)
            .ok_or(FrontierError::Full { size: self.size })?;
        let mut id = NodeId::new(0, index);
        let mut hash = leaf_hash;
        completed(PerfectNode { id, hash });
        // Each trailing one bit of the old size is a left sibling waiting for this subtree.
        while id.index & 1 == 1 {
            let Some(left) = self.nodes.pop() else {
                break; // Unreachable: the frontier has one node per set bit of the size.
            };
            hash = hasher.node(&left, &hash);
            id = NodeId::new(id.level + 1, id.index >> 1);
            completed(PerfectNode { id, hash });
        }
        self.nodes.push(hash);
        self.size = size;
        Ok(())
    }

    /// The root hash of the tree (SPEC §10.3): the frontier folded from the right.
    pub fn root<H: TreeHasher + ?Sized>(&self, hasher: &H) -> RootHash {
        let mut it = self.nodes.iter().rev();
        let Some(last) = it.next() else {
            return RootHash(hasher.empty());
        };
        RootHash(it.fold(*last, |acc, left| hasher.node(left, &acc)))
    }

    /// Rebuilds the frontier of the first `size` leaves from stored perfect nodes: one read per
    /// set bit of `size`, no hashing.
    pub fn restore<S: NodeSource + ?Sized>(
        source: &S,
        size: u64,
    ) -> Result<Frontier, ProveError<S::Error>> {
        let ids = math::perfect_subtrees(0, size)?;
        let mut nodes = Vec::with_capacity(ids.len());
        for id in ids {
            let hash =
                source
                    .perfect_node(id.level, id.index)
                    .map_err(|source| ProveError::Source {
                        level: id.level,
                        index: id.index,
                        source,
                    })?;
            nodes.push(hash);
        }
        Ok(Frontier { size, nodes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::Suite;

    #[test]
    fn append_reports_completed_nodes() {
        let s = Suite::Sha256;
        let mut f = Frontier::new();
        let ids = |v: Vec<PerfectNode>| v.into_iter().map(|n| n.id).collect::<Vec<_>>();
        assert_eq!(ids(f.append(&s, [0; 32]).unwrap()), vec![NodeId::new(0, 0)]);
        assert_eq!(
            ids(f.append(&s, [1; 32]).unwrap()),
            vec![NodeId::new(0, 1), NodeId::new(1, 0)]
        );
        assert_eq!(ids(f.append(&s, [2; 32]).unwrap()), vec![NodeId::new(0, 2)]);
        assert_eq!(
            ids(f.append(&s, [3; 32]).unwrap()),
            vec![NodeId::new(0, 3), NodeId::new(1, 1), NodeId::new(2, 0)]
        );
        assert_eq!(f.size(), 4);
        f.append(&s, [4; 32]).unwrap();
        let nodes: Vec<NodeId> = f.nodes().map(|n| n.id).collect();
        assert_eq!(nodes, vec![NodeId::new(2, 0), NodeId::new(0, 4)]);
    }

    #[test]
    fn a_full_tree_refuses_appends() {
        let mut f = Frontier {
            size: u64::MAX,
            nodes: vec![[0; 32]; 64],
        };
        assert_eq!(
            f.append(&Suite::Blake3, [1; 32]),
            Err(FrontierError::Full { size: u64::MAX })
        );
        assert_eq!(f.nodes().count(), 64);
        assert_eq!(f.nodes().last().unwrap().id, NodeId::new(0, u64::MAX - 1));
    }
}
