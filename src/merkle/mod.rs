//! The log's Merkle tree: RFC 9162 §2.1 (RFC 6962 §2.1) trees, inclusion and consistency proofs
//! (SPEC §10).
//!
//! The module is pure: it never touches storage. It is split the way a stored log uses it:
//!
//! * [`TreeHasher`]: leaf and node hashing with the RFC 6962 prefixes, implemented for
//!   [`Suite`] (SPEC §10.2).
//! * [`math`]: which leaf ranges a proof consists of, and how a range decomposes into perfect
//!   subtrees named by [`NodeId`] (SPEC §10.7). No hashing, no storage.
//! * [`NodeSource`]: anything that can hand out perfect-subtree hashes by `(level, index)`. The
//!   generation functions [`root`], [`inclusion_proof`] and [`consistency_proof`] read O(log n)
//!   nodes from it and never rebuild the tree; a [`Prover`] does the same for many proofs at one
//!   size without hashing. [`MemoryTree`] is the in-memory source.
//! * [`Frontier`]: the O(log n) right edge of the tree that an appending log keeps in memory; each
//!   append returns the perfect nodes it completed, for storage.
//! * [`verify_inclusion`] and [`verify_consistency`]: RFC 9162 §2.1.3.2 and §2.1.4.2 over
//!   untrusted byte slices, following transparency-dev's edge rules (SPEC §10.5, §10.6).

mod frontier;
pub mod math;
mod memory;
mod prove;
mod verify;

pub use frontier::{Frontier, FrontierError, PerfectNode};
pub use math::{NodeId, RangeError};
pub use memory::{MemoryTree, MissingNode};
pub use prove::{
    NodeSource, ProveError, Prover, consistency_proof, inclusion_proof, range_root, root,
    root_of_leaf_hashes,
};
pub use verify::{
    ProofError, RootRole, root_from_inclusion_proof, verify_consistency, verify_inclusion,
};

use sha2::Digest as _;

use crate::hash::{EntryHash, Suite};

/// The length of every hash in the tree, in bytes.
pub const HASH_LEN: usize = 32;

/// Leaf and node hashing for a Merkle tree (SPEC §10.2).
///
/// The implementation for [`Suite`] is RFC 6962's: `leaf = H(0x00 ‖ data)`,
/// `node = H(0x01 ‖ left ‖ right)`, and the root of the empty tree is `H("")`. With
/// [`Suite::Sha256`] it is exactly RFC 6962 / RFC 9162's SHA-256 tree.
pub trait TreeHasher {
    /// The hash of a leaf: `H(0x00 ‖ data)`.
    fn leaf(&self, data: &[u8]) -> [u8; 32];
    /// The hash of an interior node: `H(0x01 ‖ left ‖ right)`.
    fn node(&self, left: &[u8; 32], right: &[u8; 32]) -> [u8; 32];
    /// The root of the empty tree: `H("")`, the hash of the empty string.
    fn empty(&self) -> [u8; 32];
}

impl TreeHasher for Suite {
    fn leaf(&self, data: &[u8]) -> [u8; 32] {
        // A log's leaf data is a 32-byte entry hash: short data is hashed in one shot, as
        // `node` does. The buffer starts with the 0x00 prefix.
        let mut buf = [0u8; 1 + 2 * HASH_LEN];
        match buf.get_mut(..=data.len()) {
            Some(input) => {
                if let Some((_, rest)) = input.split_first_mut() {
                    rest.copy_from_slice(data);
                }
                one_shot(*self, input)
            }
            None => self.hash(&[&[0x00], data]),
        }
    }

    fn node(&self, left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
        // One contiguous 65-byte input hashed by the suite's one-shot function: node hashing is
        // the whole cost of verification, and the one-shot calls skip the incremental hasher
        // (for BLAKE3 a 2 KiB state) that `Suite::hash` builds.
        let mut input = [0u8; 1 + 2 * HASH_LEN];
        let (prefix, rest) = input.split_at_mut(1);
        let (l, r) = rest.split_at_mut(HASH_LEN);
        prefix[0] = 0x01;
        l.copy_from_slice(left);
        r.copy_from_slice(right);
        one_shot(*self, &input)
    }

    fn empty(&self) -> [u8; 32] {
        self.hash(&[])
    }
}

fn one_shot(suite: Suite, input: &[u8]) -> [u8; 32] {
    match suite {
        Suite::Blake3 => *blake3::hash(input).as_bytes(),
        Suite::Sha256 => sha2::Sha256::digest(input).into(),
    }
}

/// The Merkle leaf hash of a log entry: `H(0x00 ‖ entry_hash)` (SPEC §10.1). Leaf `n` of a
/// sealtrail log's tree is the entry at position `n`, and its leaf data is the 32-byte entry
/// hash (SPEC §6.3).
pub fn leaf_hash(suite: Suite, entry: &EntryHash) -> [u8; 32] {
    suite.leaf(entry.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suite_hasher_uses_rfc6962_prefixes() {
        for suite in [Suite::Blake3, Suite::Sha256] {
            let (l, r) = ([7u8; 32], [9u8; 32]);
            let mut node_input = vec![0x01];
            node_input.extend_from_slice(&l);
            node_input.extend_from_slice(&r);
            assert_eq!(suite.node(&l, &r), suite.hash(&[&node_input]));
            assert_eq!(suite.leaf(b"abc"), suite.hash(&[b"\x00abc"]));
            for len in [0, 1, 31, 32, 63, 64, 65, 200] {
                let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
                assert_eq!(suite.leaf(&data), suite.hash(&[&[0], &data]), "{len}");
            }
            assert_eq!(suite.empty(), suite.hash(&[b""]));
            let e = EntryHash([5; 32]);
            assert_eq!(leaf_hash(suite, &e), suite.hash(&[&[0], &[5; 32]]));
        }
    }
}
