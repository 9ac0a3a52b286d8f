//! Shared by the tiles tests: a directory's files, and `tlog_tiles`' reader over a directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Every file under `dir` with its bytes, by path relative to `dir`.
pub fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                let rel = e.path().strip_prefix(dir).unwrap().to_path_buf();
                out.insert(rel, std::fs::read(e.path()).unwrap());
            }
        }
    }
    out
}

/// `tlog_tiles`' tile reader over a directory: C2SP paths are the Go paths without the height
/// (`tile/8/0/x001/234` is served as `tile/0/x001/234`). Every file is read whole, as a client
/// fetches it, and must have the length the Go code demands.
pub struct DirTiles<'a>(pub &'a Path);

impl tlog_tiles::TileReader for DirTiles<'_> {
    fn height(&self) -> u8 {
        8
    }

    fn read_tiles(&self, tiles: &[tlog_tiles::Tile]) -> Result<Vec<Vec<u8>>, tlog_tiles::Error> {
        tiles
            .iter()
            .map(|t| {
                let go = t.path();
                let c2sp = format!("tile/{}", go.strip_prefix("tile/8/").unwrap());
                std::fs::read(self.0.join(&c2sp)).map_err(|_| tlog_tiles::Error::InvalidTile)
            })
            .collect()
    }

    fn save_tiles(&self, _: &[tlog_tiles::Tile], _: &[Vec<u8>]) {}
}
