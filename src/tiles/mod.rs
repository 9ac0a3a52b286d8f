//! The log's Merkle tree as C2SP tlog-tiles (<https://c2sp.org/tlog-tiles>, SPEC §9.8): a
//! static directory of immutable full tiles, replaceable partial tiles and the latest signed
//! checkpoint, which any file server or object store can serve and witnesses and tlog-tiles
//! tools can read.
//!
//! No storage engine and no command line: the pure tile math (this module), a [`TileWriter`]
//! that publishes the tiles of a tree from any [`crate::merkle::NodeSource`], and a
//! [`TileReader`] that is itself a `NodeSource`, so inclusion and consistency proofs come from
//! tiles through [`crate::merkle`]'s proof code. File I/O goes through
//! [`crate::segment::Backend`], so the writer runs on the power-loss simulator too.
//!
//! A tile at level `L` holds the hashes of perfect nodes of tree level `8·L`: tile `n` of level
//! `L` holds nodes `(8L, 256n)` to `(8L, 256n + 255)`, 32 bytes each, concatenated. A node of a
//! level that is not a multiple of 8 is the Merkle tree hash of `2^(level mod 8)` consecutive
//! hashes of one tile below it ([`locate`]).

mod reader;
mod writer;

pub(crate) use reader::read_tile_file;
pub use reader::{TileReadError, TileReader, TileReaderOptions};
pub use writer::{TileWriteError, TileWriter, WriteMode, WriteSummary};

use std::fmt;

use crate::merkle::{HASH_LEN, NodeId, RangeError, TreeHasher};

/// Tree levels per tile level: a tile is a subtree of height 8.
pub const TILE_HEIGHT: u32 = 8;
/// Hashes in a full tile.
pub const TILE_WIDTH: u16 = 256;
/// Bytes in a full tile: 256 hashes of 32 bytes. No tile file is longer.
pub const FULL_TILE_LEN: usize = TILE_WIDTH as usize * HASH_LEN;
/// The name of the file beside `tile/` that holds the latest signed checkpoint note.
pub const CHECKPOINT_FILE: &str = "checkpoint";

/// The highest tile level C2SP allows in a path.
const MAX_LEVEL: u8 = 63;
/// No canonical tile path is longer: `tile/63/` + seven groups of the index + `.p/255`.
const MAX_PATH_LEN: usize = 64;
/// An index is written in groups of three decimal digits.
const PATH_BASE: u64 = 1000;

/// One tile: its level, its index within the level and its width (SPEC §9.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tile {
    level: u8,
    index: u64,
    width: u16,
}

/// A tile path that is not the canonical path of a tile (SPEC §9.8).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TilePathError {
    /// Longer than any tile path; not looked at further.
    #[error("a tile path of {len} bytes is longer than any tile's")]
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// It does not start with `tile/`, or has too few parts.
    #[error("{path:?} is not of the form tile/<L>/<N>[.p/<W>]")]
    Shape {
        /// The path.
        path: String,
    },
    /// The level is not a decimal from 0 to 63 without leading zeros.
    #[error("{path:?}: the level is not a decimal from 0 to 63 without leading zeros")]
    Level {
        /// The path.
        path: String,
    },
    /// The index is not written as `x`-prefixed 3-digit groups and a final 3-digit group, with
    /// no leading `x000` group, or does not fit in 64 bits.
    #[error("{path:?}: the index is not in canonical 3-digit groups (e.g. x001/x234/067)")]
    Index {
        /// The path.
        path: String,
    },
    /// The `.p/<W>` width is not a decimal from 1 to 255 without leading zeros.
    #[error("{path:?}: a partial tile's width is not a decimal from 1 to 255")]
    Width {
        /// The path.
        path: String,
    },
}

impl Tile {
    /// The tile `(level, index)` of `width` hashes, or `None` if the level is above 63 or the
    /// width is not in `1..=256`.
    pub fn new(level: u8, index: u64, width: u16) -> Option<Tile> {
        (level <= MAX_LEVEL && (1..=TILE_WIDTH).contains(&width)).then_some(Tile {
            level,
            index,
            width,
        })
    }

    /// The full tile `(level, index)`, or `None` if the level is above 63.
    pub fn full(level: u8, index: u64) -> Option<Tile> {
        Tile::new(level, index, TILE_WIDTH)
    }

    /// The tile level: its hashes are perfect nodes of tree level `8 × level`.
    pub fn level(&self) -> u8 {
        self.level
    }

    /// The tile's index within its level.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// How many hashes it holds: 256 for a full tile, 1 to 255 for a partial one.
    pub fn width(&self) -> u16 {
        self.width
    }

    /// Whether it holds 256 hashes.
    pub fn is_full(&self) -> bool {
        self.width == TILE_WIDTH
    }

    /// The full tile at the same place.
    pub fn to_full(self) -> Tile {
        Tile {
            width: TILE_WIDTH,
            ..self
        }
    }

    /// The length of its file: 32 bytes per hash.
    pub fn byte_len(&self) -> usize {
        usize::from(self.width) * HASH_LEN
    }

    /// The perfect node that hash `i` of the tile is: `(8·level, 256·index + i)`, or `None` if
    /// `i` is not below the width or the node is beyond any 64-bit tree.
    pub fn node(&self, i: u16) -> Option<NodeId> {
        if i >= self.width {
            return None;
        }
        let level = u32::from(self.level) * TILE_HEIGHT;
        let index = self
            .index
            .checked_mul(u64::from(TILE_WIDTH))?
            .checked_add(u64::from(i))?;
        let node = NodeId::new(level, index);
        node.leaves().map(|_| node)
    }

    /// The tile's canonical path, relative to the directory: `tile/<L>/<N>` for a full tile,
    /// `tile/<L>/<N>.p/<W>` for a partial one, `<N>` in 3-digit groups (`x001/x234/067`).
    pub fn path(&self) -> String {
        let mut groups = vec![format!("{:03}", self.index % PATH_BASE)];
        let mut n = self.index / PATH_BASE;
        while n > 0 {
            groups.push(format!("x{:03}", n % PATH_BASE));
            n /= PATH_BASE;
        }
        groups.reverse();
        let mut path = format!("tile/{}/{}", self.level, groups.join("/"));
        if !self.is_full() {
            path.push_str(&format!(".p/{}", self.width));
        }
        path
    }

    /// Parses a tile path strictly: only the canonical path of a tile is accepted (no leading
    /// zeros, no `x000` group in front, no `.p/256`, no empty parts, nothing after the width).
    pub fn parse(path: &str) -> Result<Tile, TilePathError> {
        if path.len() > MAX_PATH_LEN {
            return Err(TilePathError::TooLong { len: path.len() });
        }
        let shape = || TilePathError::Shape { path: path.into() };
        let rest = path.strip_prefix("tile/").ok_or_else(shape)?;
        let (level, rest) = rest.split_once('/').ok_or_else(shape)?;
        let level = decimal(level)
            .filter(|l| *l <= u64::from(MAX_LEVEL))
            .and_then(|l| u8::try_from(l).ok())
            .ok_or_else(|| TilePathError::Level { path: path.into() })?;
        let (index_part, width) = match rest.split_once(".p/") {
            Some((index, width)) => {
                let w = decimal(width)
                    .filter(|w| (1..u64::from(TILE_WIDTH)).contains(w))
                    .and_then(|w| u16::try_from(w).ok())
                    .ok_or_else(|| TilePathError::Width { path: path.into() })?;
                (index, w)
            }
            None => (rest, TILE_WIDTH),
        };
        let index =
            parse_index(index_part).ok_or_else(|| TilePathError::Index { path: path.into() })?;
        let tile = Tile {
            level,
            index,
            width,
        };
        // The groups are parsed strictly, so only the canonical path gets here; checked again
        // so that no other spelling of a tile can ever be accepted.
        if tile.path() != path {
            return Err(TilePathError::Index { path: path.into() });
        }
        Ok(tile)
    }
}

impl fmt::Display for Tile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path())
    }
}

/// A decimal without sign or leading zeros ("0" itself is allowed), at most 19 digits.
fn decimal(s: &str) -> Option<u64> {
    let ok = !s.is_empty()
        && s.len() <= 19
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'));
    ok.then(|| s.parse().ok()).flatten()
}

/// `x001/x234/067` → 1234067: `x`-prefixed groups then a final group, each exactly three digits,
/// the first `x` group not `x000`.
fn parse_index(s: &str) -> Option<u64> {
    let parts: Vec<&str> = s.split('/').collect();
    let (last, xs) = parts.split_last()?;
    let three = |g: &str| -> Option<u64> {
        (g.len() == 3 && g.bytes().all(|b| b.is_ascii_digit()))
            .then(|| g.parse().ok())
            .flatten()
    };
    let mut n: u64 = 0;
    for (i, g) in xs.iter().enumerate() {
        let digits = three(g.strip_prefix('x')?)?;
        if i == 0 && digits == 0 {
            return None;
        }
        n = n.checked_mul(PATH_BASE)?.checked_add(digits)?;
    }
    n.checked_mul(PATH_BASE)?.checked_add(three(last)?)
}

/// Where a perfect node's hash is in the tiles (SPEC §9.8): `count` consecutive hashes of
/// `tile` starting at `start`, whose Merkle tree hash ([`subtree_hash`]) it is. `count` is
/// `2^(level mod 8)`: 1 when the node's level is a multiple of 8 and the tile holds it as is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeLocation {
    /// The narrowest tile that holds the hashes.
    pub tile: Tile,
    /// The first of them.
    pub start: u16,
    /// How many: a power of two from 1 to 128.
    pub count: u16,
}

/// Where perfect node `(level, index)` is in the tiles, or `None` if no 64-bit tree has it.
pub fn locate(level: u32, index: u64) -> Option<NodeLocation> {
    NodeId::new(level, index).leaves()?;
    let sub = level % TILE_HEIGHT;
    let tile_level = u8::try_from(level / TILE_HEIGHT).ok()?;
    // The node covers hashes [index·2^sub, (index+1)·2^sub) of tree level 8·tile_level; an
    // aligned run of at most 128 of them lies in one tile.
    let first = index.checked_shl(sub).filter(|f| f >> sub == index)?;
    let start = u16::try_from(first % u64::from(TILE_WIDTH)).ok()?;
    let count = 1u16 << sub;
    let tile = Tile::new(tile_level, first / u64::from(TILE_WIDTH), start + count)?;
    Some(NodeLocation { tile, start, count })
}

/// The Merkle tree hash of a power-of-two run of hashes (SPEC §10.3): the run itself for one
/// hash, else `NH(left half, right half)`. `None` for an empty run or one whose length is not a
/// power of two, or longer than a tile.
pub fn subtree_hash<H: TreeHasher + ?Sized>(hasher: &H, hashes: &[[u8; 32]]) -> Option<[u8; 32]> {
    let n = hashes.len();
    if !n.is_power_of_two() || n > usize::from(TILE_WIDTH) {
        return None;
    }
    Some(perfect_hash(hasher, hashes))
}

// The Merkle tree hash of a power-of-two run, by halves (at most 8 deep for a tile's 256
// hashes; no buffer to fill).
fn perfect_hash<H: TreeHasher + ?Sized>(hasher: &H, hashes: &[[u8; 32]]) -> [u8; 32] {
    match hashes {
        [] => hasher.empty(),
        [one] => *one,
        [left, right] => hasher.node(left, right),
        _ => {
            let (left, right) = hashes.split_at(hashes.len() / 2);
            hasher.node(&perfect_hash(hasher, left), &perfect_hash(hasher, right))
        }
    }
}

/// The tiles a tree of `size` leaves has, level by level from 0, left to right within a level:
/// at level `L`, `⌊s / 256⌋` full tiles and a partial tile of width `s mod 256` if that is not
/// 0, where `s = ⌊size / 256^L⌋`.
pub fn tiles_for_size(size: u64) -> NewTiles {
    NewTiles::new(0, size)
}

/// The tiles a tree of `new` leaves has that one of `old` leaves does not have with the same
/// contents: at each level, the full tiles from the one that held `old`'s partial tile (or
/// would have) on, and `new`'s partial tile. Publishing these and then `new`'s checkpoint takes
/// a tiles directory from `old` to `new`.
pub fn new_tiles(old: u64, new: u64) -> Result<NewTiles, RangeError> {
    if old > new {
        return Err(RangeError::SizeRegression { old, new });
    }
    Ok(NewTiles::new(old, new))
}

/// The tiles of [`tiles_for_size`] and [`new_tiles`], in order. Computed as they are taken:
/// a tree of 2^40 leaves has billions of tiles.
#[derive(Debug, Clone)]
pub struct NewTiles {
    old: u64,
    new: u64,
    /// The tile level being listed, or `None` when done.
    level: Option<u8>,
    /// The next full tile of this level, and one past the last.
    next: u64,
    end: u64,
    /// This level's partial tile, given after its full tiles.
    partial: Option<Tile>,
}

impl NewTiles {
    fn new(old: u64, new: u64) -> NewTiles {
        let mut t = NewTiles {
            old,
            new,
            level: None,
            next: 0,
            end: 0,
            partial: None,
        };
        t.start_level(0);
        t
    }

    // Sets up level `level`, or ends the listing if the tree has no hashes there.
    fn start_level(&mut self, level: u8) {
        let shift = u32::from(level) * TILE_HEIGHT;
        let new_n = self.new.checked_shr(shift).unwrap_or(0);
        if new_n == 0 {
            self.level = None;
            return;
        }
        let old_n = self.old.checked_shr(shift).unwrap_or(0);
        self.level = Some(level);
        let width = u64::from(TILE_WIDTH);
        if old_n == new_n {
            // Nothing changed at this level.
            (self.next, self.end, self.partial) = (0, 0, None);
        } else {
            self.next = old_n / width;
            self.end = new_n / width;
            // new_n % 256 is below 256 and the level below 8 (new_n ≥ 1 needs shift < 64).
            self.partial = u16::try_from(new_n % width)
                .ok()
                .filter(|w| *w > 0)
                .and_then(|w| Tile::new(level, new_n / width, w));
        }
    }
}

impl Iterator for NewTiles {
    type Item = Tile;

    fn next(&mut self) -> Option<Tile> {
        loop {
            let level = self.level?;
            if self.next < self.end {
                let tile = Tile::full(level, self.next);
                self.next += 1;
                return tile;
            }
            if let Some(p) = self.partial.take() {
                return Some(p);
            }
            match level
                .checked_add(1)
                .filter(|l| u32::from(*l) * TILE_HEIGHT < 64)
            {
                Some(l) => self.start_level(l),
                None => self.level = None,
            }
        }
    }
}

/// The width tile `(level, index)` has in a tree of `size` leaves: 256 if it is full, 1 to 255
/// if it is the partial tile, `None` if the tree does not have it.
pub fn width_in_tree(level: u8, index: u64, size: u64) -> Option<u16> {
    let hashes = size
        .checked_shr(u32::from(level) * TILE_HEIGHT)
        .unwrap_or(0);
    let first = index.checked_mul(u64::from(TILE_WIDTH))?;
    let have = hashes.checked_sub(first).filter(|h| *h > 0)?;
    u16::try_from(have.min(u64::from(TILE_WIDTH))).ok()
}

/// The tile's bytes: its hashes concatenated.
pub fn tile_bytes(hashes: &[[u8; 32]]) -> Vec<u8> {
    hashes.concat()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::Suite;
    use crate::merkle::{MemoryTree, NodeSource};

    #[test]
    fn paths_round_trip_and_match_c2sp_examples() {
        let t = Tile::full(0, 1_234_067).unwrap();
        assert_eq!(t.path(), "tile/0/x001/x234/067");
        assert_eq!(
            Tile::new(3, 1_234_067, 1).unwrap().path(),
            "tile/3/x001/x234/067.p/1"
        );
        assert_eq!(Tile::full(1, 0).unwrap().path(), "tile/1/000");
        assert_eq!(Tile::full(0, 1000).unwrap().path(), "tile/0/x001/000");
        assert_eq!(Tile::new(2, 999, 17).unwrap().path(), "tile/2/999.p/17");
        let max = Tile::new(63, u64::MAX, 255).unwrap();
        assert!(max.path().len() <= MAX_PATH_LEN, "{}", max.path());
        for t in [
            t,
            max,
            Tile::full(0, 0).unwrap(),
            Tile::new(7, 5, 1).unwrap(),
        ] {
            assert_eq!(Tile::parse(&t.path()), Ok(t));
        }
    }

    #[test]
    fn non_canonical_paths_are_rejected() {
        for bad in [
            "",
            "tile",
            "tile/",
            "tile/0",
            "tile/0/",
            "tiles/0/000",
            "/tile/0/000",
            "tile/00/000",
            "tile/01/000",
            "tile/64/000",
            "tile/-1/000",
            "tile/+1/000",
            "tile/0/0",
            "tile/0/00",
            "tile/0/0000",
            "tile/0/x000/001",
            "tile/0/x1/000",
            "tile/0/001/000",
            "tile/0/x001",
            "tile/0/x001/x002",
            "tile/0/000/",
            "tile/0//000",
            "tile/0/000.p/0",
            "tile/0/000.p/256",
            "tile/0/000.p/01",
            "tile/0/000.p/",
            "tile/0/000.p/1/2",
            "tile/0/000.p",
            "tile/0/000.p/1.p/2",
            "tile/0/x018/x446/x744/x073/x709/x551/616",
            "tile/0/x999/x999/x999/x999/x999/x999/x999/999",
            "tile/data/000",
            "tile/entries/000",
            "tile/8/0/000",
            "tile/0/ 00",
            "tile/0/0a0",
            "tile/0/000\n",
            "tile/0/٠٠٠",
        ] {
            assert!(Tile::parse(bad).is_err(), "{bad:?} parsed");
        }
        let long = format!("tile/0/{}", "x001/".repeat(20));
        assert_eq!(
            Tile::parse(&long),
            Err(TilePathError::TooLong { len: long.len() })
        );
        assert!(Tile::parse("tile/0/x018/x446/x744/x073/x709/x551/615").is_ok());
    }

    #[test]
    fn tiles_of_c2sp_example_sizes() {
        // C2SP tlog-tiles: "a tree of size 70,000 will be represented by 273 full level 0
        // tiles, one partial level 0 tile of width 112, one full level 1 tile, one partial
        // level 1 tile of width 17, and one partial level 2 tile of width 1."
        let tiles: Vec<Tile> = tiles_for_size(70_000).collect();
        let full0 = tiles.iter().filter(|t| t.level == 0 && t.is_full()).count();
        assert_eq!(full0, 273);
        let rest: Vec<Tile> = tiles
            .into_iter()
            .filter(|t| t.level > 0 || !t.is_full())
            .collect();
        assert_eq!(
            rest,
            vec![
                Tile::new(0, 273, 112).unwrap(),
                Tile::full(1, 0).unwrap(),
                Tile::new(1, 1, 17).unwrap(),
                Tile::new(2, 0, 1).unwrap(),
            ]
        );
        // "a tree of size 256 will be represented by a full level 0 tile and a partial level 1
        // tile of width 1."
        assert_eq!(
            tiles_for_size(256).collect::<Vec<_>>(),
            vec![Tile::full(0, 0).unwrap(), Tile::new(1, 0, 1).unwrap()]
        );
        assert_eq!(tiles_for_size(0).count(), 0);
        assert_eq!(tiles_for_size(u64::MAX).take(3).count(), 3);
    }

    #[test]
    fn new_tiles_are_what_changed() {
        for (old, new) in [
            (0, 1),
            (1, 1),
            (255, 256),
            (256, 257),
            (1000, 70_000),
            (65_535, 65_536),
        ] {
            let all: std::collections::BTreeSet<Tile> = tiles_for_size(new).collect();
            let before: std::collections::BTreeSet<Tile> = tiles_for_size(old).collect();
            let want: std::collections::BTreeSet<Tile> = all.difference(&before).copied().collect();
            let got: std::collections::BTreeSet<Tile> = new_tiles(old, new).unwrap().collect();
            assert_eq!(got, want, "{old} → {new}");
        }
        assert!(new_tiles(2, 1).is_err());
    }

    #[test]
    fn nodes_are_located_in_the_tile_below() {
        assert_eq!(
            locate(0, 300),
            Some(NodeLocation {
                tile: Tile::new(0, 1, 45).unwrap(),
                start: 44,
                count: 1
            })
        );
        assert_eq!(
            locate(3, 33),
            Some(NodeLocation {
                tile: Tile::new(0, 1, 16).unwrap(),
                start: 8,
                count: 8
            })
        );
        assert_eq!(
            locate(8, 256),
            Some(NodeLocation {
                tile: Tile::new(1, 1, 1).unwrap(),
                start: 0,
                count: 1
            })
        );
        assert_eq!(locate(15, 1).unwrap().tile, Tile::full(1, 0).unwrap());
        assert_eq!(locate(63, 0).unwrap().tile, Tile::new(7, 0, 128).unwrap());
        assert_eq!(locate(63, 1), None);
        assert_eq!(locate(64, 0), None);
        assert_eq!(locate(0, u64::MAX - 1).unwrap().tile.index, u64::MAX / 256);
        assert_eq!(locate(0, u64::MAX), None);

        // Every perfect node of a 3000-leaf tree is the subtree hash of its location's hashes.
        let suite = Suite::Sha256;
        let mut tree = MemoryTree::new();
        for i in 0u64..3000 {
            tree.push(&suite, suite.leaf(&i.to_be_bytes()));
        }
        for level in 0..12u32 {
            for index in 0..(3000u64 >> level) {
                let loc = locate(level, index).unwrap();
                let t = &loc.tile;
                let hashes: Vec<[u8; 32]> = (loc.start..loc.start + loc.count)
                    .map(|i| {
                        let n = t.node(i).unwrap();
                        tree.perfect_node(n.level, n.index).unwrap()
                    })
                    .collect();
                assert_eq!(
                    subtree_hash(&suite, &hashes),
                    Some(tree.perfect_node(level, index).unwrap()),
                    "({level}, {index})"
                );
            }
        }
        assert_eq!(subtree_hash(&suite, &[]), None);
        assert_eq!(subtree_hash(&suite, &[[0; 32]; 3]), None);
    }

    #[test]
    fn widths_in_a_tree() {
        assert_eq!(width_in_tree(0, 0, 70_000), Some(256));
        assert_eq!(width_in_tree(0, 273, 70_000), Some(112));
        assert_eq!(width_in_tree(0, 274, 70_000), None);
        assert_eq!(width_in_tree(1, 1, 70_000), Some(17));
        assert_eq!(width_in_tree(2, 0, 70_000), Some(1));
        assert_eq!(width_in_tree(3, 0, 70_000), None);
        assert_eq!(width_in_tree(7, 0, u64::MAX), Some(255));
        assert_eq!(width_in_tree(0, u64::MAX / 256, u64::MAX), Some(255));
        assert_eq!(width_in_tree(0, u64::MAX, u64::MAX), None);
    }
}
