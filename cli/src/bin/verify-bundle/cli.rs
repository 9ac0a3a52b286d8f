//! Command-line arguments of `verify-bundle`.

use std::path::PathBuf;

use clap::{Args as ClapArgs, Parser, Subcommand};

const ABOUT: &str =
    "Verify a sealtrail export bundle offline, trusting only the public keys you pin";

const LONG_ABOUT: &str = "\
Verify a sealtrail export bundle offline, trusting only the public keys you pin.

verify-bundle is the auditor's tool: it checks a sealtrail export bundle offline (every entry's
signature, role, chain position and payload commitment, the Merkle proofs that tie the entries
to the owner-signed checkpoint, the approvals, and the trailer that signs every byte), trusting
only the public keys you pin, and says exactly what was proven. It needs no log, no network and
no storage engine.";

/// Verifies a sealtrail export bundle offline, trusting only the public keys you pin.
#[derive(Debug, Parser)]
#[command(name = "verify-bundle", version, about = ABOUT, long_about = LONG_ABOUT)]
#[command(after_help = "\
Exit status:
  0  every check passed: the verdict is VALID
  1  the bundle is invalid (any tamper, any failed check): every finding names the entry and
     the check
  2  usage error, or the file cannot be read or is not a bundle

With --json, an error is also printed on standard output as one JSON object:
  {\"error\": {\"message\": \"…\", \"exit\": 2}}

Examples:
  verify-bundle demo.bundle --trusted-key sealtrail-demo/log.vkey
  curl -s https://example.com/demo.bundle | verify-bundle - --trusted-key log.vkey
  verify-bundle demo.bundle --trusted-key 'example.com/log#blake3+3f9a1c2e+AQ...' --json
  verify-bundle new.bundle --trusted-key log.vkey --checkpoint last-month.checkpoint
  verify-bundle b.bundle --trusted-key log.vkey --witness w1.pub --witness w2.pub --witness-quorum 1
  verify-bundle b.bundle --trusted-key log.vkey --tsa-cert tsa-ca.pem   (RFC 3161 timestamps)
  verify-bundle --archive s3://audit-archive/agent-log --trusted-key log.vkey   (the s3 feature)
  verify-bundle audit.bundle --trusted-key log.vkey --distrust-suite blake3   (renewals, SPEC §15.6)

The auditor's page, for a browser or a printer (written whatever the verdict; the exit status
is the verdict's):
  verify-bundle demo.bundle --trusted-key log.vkey --html demo.html
  verify-bundle - --trusted-key log.vkey --html demo.html --json < demo.bundle > demo.json

Reading a bundle that verified (as `sealtrail show`, `trace` and `why` read a log):
  verify-bundle demo.bundle --trusted-key log.vkey show --session sess-0001
  verify-bundle demo.bundle --trusted-key log.vkey trace --session sess-0001 --json
  verify-bundle demo.bundle --trusted-key log.vkey why 12

A query runs only when every check passed: an invalid bundle prints its report, answers nothing
and exits 1. The answer goes to standard output and a one-line verdict to standard error; what the
bundle cannot answer because payloads were withheld by the exporter or erased from the log is
said, entry by entry.

Get the log's verifier key out of band (not from the bundle): the bundle is never trusted on the
strength of keys it carries. `sealtrail init` writes it (LOG.vkey) and `sealtrail keys vkey`
prints it: the owner's public key named after the log's checkpoint origin line, the name its
checkpoints are signed under. C2SP verifiers match keys by name and key hash, so the owner's key
under another name verifies the descriptor and the bundle's signature but not its checkpoints.")]
pub struct Args {
    /// The bundle file to verify, or - to read it from standard input.
    #[arg(required_unless_present = "archive")]
    pub bundle: Option<PathBuf>,

    /// Verify an archive in S3 instead (s3://BUCKET/PREFIX, written by `sealtrail archive`):
    /// every segment of its latest manifest, streamed from the bucket, as one report.
    #[arg(long, value_name = "s3://BUCKET/PREFIX", conflicts_with = "bundle")]
    pub archive: Option<String>,

    /// The S3 endpoint of --archive, for MinIO or another S3-compatible store (default:
    /// AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, else AWS S3 in AWS_REGION).
    #[arg(long, value_name = "URL", requires = "archive")]
    pub endpoint: Option<String>,

    /// A pinned public key: a C2SP verifier key string (name+hash+base64) or a file of them, one
    /// per line (the LOG.vkey file `sealtrail init` writes). Repeat for several keys. At least
    /// one is required.
    #[arg(long = "trusted-key", value_name = "KEY")]
    pub trusted_keys: Vec<String>,

    /// A signed checkpoint you saw earlier (a file holding the checkpoint note): prove the log
    /// only grew since, and report a fork if it did not.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,

    /// A witness verifier key (C2SP, type 0x04) or a file holding one. Repeat for several.
    #[arg(long = "witness", value_name = "VKEY")]
    pub witnesses: Vec<String>,

    /// How many of the --witness keys must have cosigned the bundle's checkpoint
    /// (default: all of them).
    #[arg(long, value_name = "K", requires = "witnesses")]
    pub witness_quorum: Option<usize>,

    /// A trusted time-stamping certificate (PEM, one or more, or DER): the TSA's own or its
    /// CA's. Each RFC 3161 timestamp token the bundle carries is verified against it offline
    /// (CMS signature, critical extendedKeyUsage timeStamping, ESSCertIDv2, messageDigest,
    /// imprint = SHA-256 of the carried checkpoint note, path to this certificate); the report
    /// then says "entries 0..N existed no later than T (TSA …)", and any entry dated later is a
    /// `time` finding. Without it, tokens are reported as not checked.
    #[arg(long, value_name = "CERT")]
    pub tsa_cert: Option<PathBuf>,

    /// No longer trust this hash suite (blake3 or sha256; repeat for both): when it is the
    /// log's own, the verdict rests on the renewals the evidence carries (`sealtrail renew`,
    /// SPEC §15.6), each checked against the entries, and any entry no verified renewal under a
    /// trusted suite covers is a `renewal` finding.
    #[arg(long = "distrust-suite", value_name = "SUITE", value_parser = ["blake3", "sha256"])]
    pub distrust_suites: Vec<String>,

    /// Print one JSON object (verdict, entries, sessions, approvals, redacted, checkpoint,
    /// findings, …) instead of the report.
    #[arg(long)]
    pub json: bool,

    /// Also write the auditor's page to FILE: one self-contained HTML file (no script, nothing
    /// fetched) with the verdict, what was proven, each session as a timeline, the approvals
    /// with printed name, time of signing and meaning, erasures, withheld payloads, checkpoint
    /// and witnesses. An invalid bundle's page shows the verdict and findings only. Refused if
    /// FILE exists, unless --force.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,

    /// Replace the --html FILE if it exists (a symlink there is replaced, never followed; a
    /// secret key file is never replaced).
    #[arg(long, requires = "html")]
    pub force: bool,

    /// Read the bundle's entries once it verified.
    #[command(subcommand)]
    pub query: Option<Query>,
}

/// A question asked of a bundle that verified.
#[derive(Debug, Subcommand)]
pub enum Query {
    /// List the bundle's entries, as `sealtrail show` lists a log's.
    Show(ShowArgs),
    /// A session's decision trace (Markdown) or run record (JSON), as `sealtrail trace` writes.
    Trace(TraceArgs),
    /// What informed an entry and what depended on it, as `sealtrail why` says.
    Why(WhyArgs),
}

/// `show`.
#[derive(Debug, ClapArgs)]
pub struct ShowArgs {
    /// Only entries of this session.
    #[arg(long, value_name = "ID")]
    pub session: Option<String>,
    /// Only entries of this kind (e.g. decision, approval, key_register).
    #[arg(long, value_name = "KIND")]
    pub kind: Option<String>,
    /// From this sequence number.
    #[arg(long, value_name = "SEQ")]
    pub from: Option<u64>,
    /// Up to and including this sequence number.
    #[arg(long, value_name = "SEQ")]
    pub to: Option<u64>,
    /// Print one JSON object per entry, with its payload (`null` and `withheld` when the
    /// exporter left it out).
    #[arg(long)]
    pub json: bool,
}

/// The output of `trace`: the renderings both tools share.
pub use crate::answer::TraceOutput as TraceFormat;

/// `trace`.
#[derive(Debug, ClapArgs)]
pub struct TraceArgs {
    /// The session.
    #[arg(long, value_name = "ID")]
    pub session: String,
    /// The output format.
    #[arg(long, value_enum, default_value_t = TraceFormat::Markdown, conflicts_with = "json")]
    pub format: TraceFormat,
    /// The run record (JSON): the same as --format json.
    #[arg(long)]
    pub json: bool,
    /// Where reviewers find the evidence, for the Markdown trace's `Sealtrail-Evidence` trailer.
    #[arg(long, value_name = "LOCATION")]
    pub evidence: Option<String>,
}

/// `why`.
#[derive(Debug, ClapArgs)]
pub struct WhyArgs {
    /// The entry to explain.
    #[arg(
        value_name = "SEQ",
        required_unless_present = "seq_flag",
        conflicts_with = "seq_flag"
    )]
    pub seq: Option<u64>,
    /// The entry to explain (as `sealtrail why --seq N`).
    #[arg(long = "seq", value_name = "N", id = "seq_flag")]
    pub seq_flag: Option<u64>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}
