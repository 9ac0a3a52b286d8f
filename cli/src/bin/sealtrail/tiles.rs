//! `tiles`: the log's Merkle tree as a static C2SP tlog-tiles directory (SPEC §9.8).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use sealtrail::log::LogTilesError;
use sealtrail::tiles::TileWriteError;
use serde_json::json;

use crate::common::{Status, count, emit, invalid, json_line, open_log};

pub const TILES_HELP: &str = "\
Write the log's Merkle tree as a static C2SP tlog-tiles directory (https://c2sp.org/tlog-tiles,
SPEC §9.8) for the log's latest checkpoint: DIR/tile/<L>/<N> (full tiles of 256 hashes, written
once), DIR/tile/<L>/<N>.p/<W> (the partial tiles of the tree's right edge) and DIR/checkpoint
(the signed checkpoint note), written last, so a reader that finds a checkpoint finds every
tile it needs.

The directory is plain files: any file server or object store can serve it as it is (serve
`checkpoint` with a short cache lifetime, `tile/` as immutable), and witnesses, monitors and
tlog-tiles tools read it to check the checkpoint's tree and build inclusion and consistency
proofs themselves. For a log created with --suite sha256 the layout is exactly C2SP
tlog-tiles; a blake3 log's tiles hold BLAKE3 hashes in the same layout, which only sealtrail
tools read.

Run it again after each `sealtrail checkpoint`: it writes only what changed since the
checkpoint DIR holds, and removes partial tiles that a full tile replaced. It refuses to roll
DIR back to a smaller tree, to write another log's tree into it, or to change a full tile.

Examples:
  sealtrail checkpoint --log DIR --owner-key owner.key
  sealtrail tiles --log DIR --out /srv/www/agent-log
  sealtrail tiles --log DIR --out /srv/www/agent-log --json";

/// `tiles`.
#[derive(Debug, Args)]
pub struct TilesArgs {
    /// The log directory.
    #[arg(long, value_name = "DIR")]
    pub log: PathBuf,
    /// The directory to write the tiles and the checkpoint into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Print what was written as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// `sealtrail tiles`.
pub fn tiles(a: &TilesArgs) -> Result<Status> {
    let log = open_log(&a.log)?;
    let checkpoint = log.latest_checkpoint()?.ok_or_else(|| {
        invalid(format!(
            "{}: no checkpoint yet; make one with `sealtrail checkpoint`",
            a.log.display()
        ))
    })?;
    let s = log.write_tiles(&a.out, &checkpoint).map_err(|e| match e {
        // What DIR holds contradicts this log: the user picked the wrong directory or log.
        e @ (LogTilesError::OtherLog { .. }
        | LogTilesError::Write(
            TileWriteError::Rollback { .. }
            | TileWriteError::Fork { .. }
            | TileWriteError::OtherLog { .. }
            | TileWriteError::Conflict { .. }
            | TileWriteError::Published { .. },
        )) => invalid(format!("{}: {e}", a.out.display())),
        e => anyhow::anyhow!("{}: {e}", a.out.display()),
    })?;
    let c = checkpoint.checkpoint();
    if a.json {
        emit(json_line(&json!({
            "out": a.out.display().to_string(),
            "size": c.size(),
            "root": c.root().to_hex(),
            "origin": c.origin(),
            "previous_size": s.previous,
            "full_tiles_written": s.full_written,
            "full_tiles_present": s.full_present,
            "partial_tiles_written": s.partial_written,
            "partial_tiles_removed": s.partial_removed,
            "tile_bytes_written": s.tile_bytes,
            "checkpoint_written": s.checkpoint_written,
        })))?;
    } else {
        emit(format!(
            "{}: tiles of {} (root {}), from size {}: {} and {} written{}{}",
            a.out.display(),
            count(c.size(), "entry", "entries"),
            c.root().short(),
            s.previous,
            count(s.full_written, "full tile", "full tiles"),
            count(s.partial_written, "partial tile", "partial tiles"),
            if s.partial_removed > 0 {
                format!(
                    ", {} removed",
                    count(s.partial_removed, "partial tile", "partial tiles")
                )
            } else {
                String::new()
            },
            if s.checkpoint_written {
                "; checkpoint written"
            } else {
                "; checkpoint unchanged"
            },
        ))?;
    }
    Ok(Status::Ok)
}
