//! `archive`: copy a log to an S3 bucket with Object Lock, as write-once objects an auditor
//! verifies without the writer (SPEC §15).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use sealtrail::archive::DEFAULT_SEGMENT_ENTRIES;

use crate::common::Status;

pub const ARCHIVE_HELP: &str = "\
Archive a log to an S3 bucket with Object Lock (AWS S3, MinIO, or any S3-compatible store), as
write-once objects an auditor verifies without the writer:

  segments/<start>-<end>.bundle   contiguous export bundles of the log's entries with payloads
  checkpoints/<size>.checkpoint   the checkpoint the run signed (a C2SP signed note)
  manifests/<size>.json           written last: which segments make up entries 0..size

Every object is written once (If-None-Match: *), locked in COMPLIANCE mode until the retention
date (nobody, not even the account's root user, can delete or overwrite it before then), with
an x-amz-checksum-sha256 the store checks on arrival, and with a legal hold if asked. A second
run uploads only the entries added since; a run that was interrupted leaves segments but no
manifest, and the next run reuses them.

Without --retain-until or --retention, the locks follow the log (SPEC §15.5): each object is
locked until the newest entry it covers plus the log's retention (`sealtrail retention set`),
or six months from now when the log declares none. While the log has an active legal hold
(`sealtrail hold place`), every object, old and new, is put under an S3 legal hold; after the
last hold is released, the next run turns the objects' legal holds off.

The bucket must have Object Lock enabled (created with
it: `aws s3api create-bucket --bucket NAME --object-lock-enabled-for-bucket`).

Credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, or AWS_PROFILE's
entry in ~/.aws/credentials; region: AWS_REGION or the profile's (default us-east-1);
endpoint: --endpoint, AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL (path-style), else AWS S3.

  sealtrail archive --log DIR --owner-key owner.key --to s3://audit-archive/agent-log --retention 6y
  sealtrail archive --log DIR --owner-key owner.key --to s3://bkt/log --endpoint http://127.0.0.1:9000 --retain-until 2032-12-31 --legal-hold
  verify-bundle --archive s3://audit-archive/agent-log --trusted-key log.vkey";

/// `archive`.
#[derive(Debug, Args)]
pub struct ArchiveArgs {
    /// The log directory.
    #[arg(long, value_name = "DIR")]
    pub log: PathBuf,
    /// Where: s3://BUCKET/PREFIX (the bucket must have Object Lock enabled).
    #[arg(long, value_name = "s3://BUCKET/PREFIX")]
    pub to: String,
    /// An owner key of the log: it signs the checkpoint and each segment bundle.
    #[arg(long, value_name = "PATH")]
    pub owner_key: PathBuf,
    /// The S3 endpoint, for MinIO or another S3-compatible store (path-style requests).
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// Lock each new object until this date (YYYY-MM-DD, midnight UTC, or RFC 3339).
    #[arg(long, value_name = "DATE", conflicts_with = "retention")]
    pub retain_until: Option<String>,
    /// Lock each new object for this long from now: N followed by d (days), m (months) or y
    /// (years), e.g. 6y. Default, without --retain-until: the log's retention from each
    /// object's newest entry, or 6m from now if the log declares none (SPEC §15.5).
    #[arg(long, value_name = "DURATION")]
    pub retention: Option<String>,
    /// Also put a legal hold on each new object (it stays until released in the bucket, even
    /// past the retention date). Without it, objects are held while the log has an active
    /// legal hold.
    #[arg(long)]
    pub legal_hold: bool,
    /// At most this many entries per segment object (an interrupted run redoes at most one).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_SEGMENT_ENTRIES,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub segment_entries: u64,
    /// Print what was uploaded as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// `sealtrail archive`.
#[cfg(feature = "s3")]
pub fn archive(a: &ArchiveArgs) -> Result<Status> {
    crate::archive_upload::archive(a)
}

/// `sealtrail archive`, in a build without the `s3` feature.
#[cfg(not(feature = "s3"))]
pub fn archive(_: &ArchiveArgs) -> Result<Status> {
    anyhow::bail!(
        "this sealtrail was built without S3 support: build it with \
         `cargo install --path cli --features s3` (or `cargo run -p sealtrail-cli --features s3 -- archive …`)"
    )
}
