//! An in-memory tree of every perfect node, for tests, benchmarks and small logs.

use super::{NodeSource, TreeHasher};

/// A perfect node that the tree does not have (yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no perfect Merkle node at level {level}, index {index}")]
pub struct MissingNode {
    /// The node's level.
    pub level: u32,
    /// The node's index in its level.
    pub index: u64,
}

/// Every leaf hash and every perfect node of a tree, by level: level `l` holds the complete
/// subtrees of `2^l` leaves, left to right. About 2n hashes for n leaves; appends cost one node
/// hash on average.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemoryTree {
    levels: Vec<Vec<[u8; 32]>>,
}

impl MemoryTree {
    /// The empty tree.
    pub fn new() -> MemoryTree {
        MemoryTree::default()
    }

    /// A tree of the given leaf hashes.
    pub fn from_leaf_hashes<H: TreeHasher + ?Sized>(
        hasher: &H,
        leaves: impl IntoIterator<Item = [u8; 32]>,
    ) -> MemoryTree {
        let mut t = MemoryTree::new();
        for leaf in leaves {
            t.push(hasher, leaf);
        }
        t
    }

    /// Appends a leaf hash, computing the perfect nodes it completes.
    pub fn push<H: TreeHasher + ?Sized>(&mut self, hasher: &H, leaf_hash: [u8; 32]) {
        let mut level = 0;
        let mut hash = leaf_hash;
        loop {
            if self.levels.len() <= level {
                self.levels.push(Vec::new());
            }
            let Some(row) = self.levels.get_mut(level) else {
                return;
            };
            row.push(hash);
            // An even count means the node just pushed is a right child: its parent is complete.
            if row.len() % 2 != 0 {
                return;
            }
            let [left, right] = match row.as_slice() {
                [.., l, r] => [l, r],
                _ => return,
            };
            hash = hasher.node(left, right);
            level += 1;
        }
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// The leaf hashes, in order.
    pub fn leaf_hashes(&self) -> &[[u8; 32]] {
        self.levels.first().map_or(&[], |l| l.as_slice())
    }

    /// The perfect nodes of one level, left to right (level 0: the leaf hashes).
    pub fn level(&self, level: u32) -> &[[u8; 32]] {
        usize::try_from(level)
            .ok()
            .and_then(|l| self.levels.get(l))
            .map_or(&[], |l| l.as_slice())
    }
}

impl NodeSource for MemoryTree {
    type Error = MissingNode;

    fn perfect_node(&self, level: u32, index: u64) -> Result<[u8; 32], MissingNode> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.level(level).get(i))
            .copied()
            .ok_or(MissingNode { level, index })
    }
}
