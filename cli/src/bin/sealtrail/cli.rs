//! The command line: every command, its options and its help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub(crate) const EXIT_STATUS: &str = "\
Exit status:
  0  success
  1  the log or an input record is invalid: verification failed, a bad event line, a record
     the log refuses (an erasure of an approval, say)
  2  usage error (an unknown option, kind or session, an empty selection), or a file or log
     that cannot be read or opened

With --json, an error is also printed on standard output as one JSON object:
  {\"error\": {\"message\": \"…\", \"exit\": 2}}";

const ABOUT: &str =
    "Record, seal and check tamper-evident evidence of how AI coding agents produce code";

const LONG_ABOUT: &str = "\
Record, seal and check tamper-evident evidence of how AI coding agents produce code.

sealtrail keeps the path from a prompt to a diff (goal, context, files read, model and tool
calls, commands and their results, failures, decisions, human approvals) as a hash-chained,
Ed25519-signed, append-only log, and hands it to auditors as export bundles they check with
`verify-bundle`, trusting only the log's public key. Start with `sealtrail demo`.";

/// Tamper-evident, signed, hash-chained evidence of how AI coding agents produce code.
#[derive(Debug, Parser)]
#[command(name = "sealtrail", version, about = ABOUT, long_about = LONG_ABOUT, after_help = EXIT_STATUS)]
pub struct Cli {
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Every command. One module per group in `src/bin/sealtrail/`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a key pair: PATH (secret, mode 0600) and PATH.pub (public).
    #[command(long_about = KEYGEN_HELP, after_help = EXIT_STATUS)]
    Keygen(KeygenArgs),
    /// Create a new log in a directory, owned by an owner key (or, with --repo, set up a git
    /// repository for Claude Code in one step).
    #[command(after_help = EXIT_STATUS)]
    Init(InitArgs),
    /// Register, revoke and list the keys a log knows.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Append session events read as JSON lines (one object per line).
    #[command(long_about = APPEND_HELP, after_help = EXIT_STATUS)]
    Append(AppendArgs),
    /// Sign a human approval of earlier entries or artifacts, with an approver's own key.
    #[command(long_about = APPROVE_HELP, after_help = EXIT_STATUS)]
    Approve(ApproveArgs),
    /// List entries, optionally filtered by session, kind and position.
    #[command(after_help = EXIT_STATUS)]
    Show(ShowArgs),
    /// Render a session's decision trace (Markdown for a commit message, or a JSON run record).
    #[command(after_help = EXIT_STATUS)]
    Trace(TraceArgs),
    /// Explain an entry: what informed it (its causal inputs) and what depended on it; or an
    /// incident: the commits, sessions, reviews and merge behind it.
    #[command(long_about = WHY_HELP, after_help = EXIT_STATUS)]
    Why(WhyArgs),
    /// Who owns a change: the person who merged (approved) it, and the evidence for that.
    #[command(long_about = OWNER_HELP, after_help = EXIT_STATUS)]
    Owner(OwnerArgs),
    /// Sign a checkpoint of the log (C2SP signed note): its size and Merkle root.
    #[command(long_about = CHECKPOINT_HELP, after_help = EXIT_STATUS)]
    Checkpoint(CheckpointArgs),
    /// Write an export bundle for an auditor (verify it with `verify-bundle`).
    #[command(long_about = EXPORT_HELP, after_help = EXIT_STATUS)]
    Export(ExportArgs),
    /// Write a self-contained offline proof that one entry is in the log (.tlog-proof).
    #[command(long_about = PROVE_HELP, after_help = EXIT_STATUS)]
    Prove(ProveArgs),
    /// Verify the whole local log: signatures, roles, chain, payload commitments, approvals.
    #[command(long_about = VERIFY_HELP, after_help = EXIT_STATUS)]
    Verify(VerifyArgs),
    /// Verify the local log and write the auditor's page (--html); `report defects`: defect
    /// rates by code origin and prompt tag.
    #[command(long_about = REPORT_HELP, after_help = EXIT_STATUS)]
    Report(ReportArgs),
    /// Record events from an agent harness's hooks.
    #[command(subcommand)]
    Ingest(IngestCommand),
    /// Record, verify and explain an example session end to end (start here).
    #[command(long_about = DEMO_HELP, after_help = EXIT_STATUS)]
    Demo(DemoArgs),
    /// From a commit to its evidence: read its trailers, find and verify its bundle.
    #[command(long_about = VERIFY_COMMIT_HELP, after_help = EXIT_STATUS)]
    VerifyCommit(VerifyCommitArgs),
    /// Git integration: a hook that puts the decision trace in each commit message.
    #[command(subcommand)]
    Git(GitCommand),
    /// Compare two runs (sessions) side by side: every divergence, and what each cost.
    #[command(long_about = COMPARE_HELP, after_help = EXIT_STATUS)]
    Compare(CompareArgs),
    /// Erase one entry's payload (signed by an owner key); the chain and proofs stay valid.
    #[command(long_about = crate::erase::ERASE_HELP, after_help = EXIT_STATUS)]
    Erase(crate::erase::EraseArgs),
    /// Declare or show which paths need a senior's review before a merge (owner-signed).
    #[command(subcommand, after_help = EXIT_STATUS)]
    ReviewPolicy(crate::review_policy::ReviewPolicyCommand),
    /// How long payloads are kept: declare a retention (owner-signed), show it.
    #[command(subcommand)]
    Retention(crate::retention::RetentionCommand),
    /// Legal holds: place, release, list (owner-signed; a hold stops every purge).
    #[command(subcommand)]
    Hold(crate::retention::HoldCommand),
    /// Purge the payloads whose retention ended (one owner-signed purge entry); proofs stay valid.
    #[command(long_about = crate::retention::PURGE_HELP, after_help = EXIT_STATUS)]
    Purge(crate::retention::PurgeArgs),
    /// Archive the log to an S3 bucket with Object Lock: write-once, locked, verifiable objects.
    #[command(long_about = crate::archive::ARCHIVE_HELP, after_help = EXIT_STATUS)]
    Archive(crate::archive::ArchiveArgs),
    /// Obtain an RFC 3161 timestamp token over a checkpoint from a time-stamping authority and
    /// keep it with the checkpoint (exports carry it).
    #[command(long_about = crate::timestamp::TIMESTAMP_HELP, after_help = EXIT_STATUS)]
    Timestamp(crate::timestamp::TimestampArgs),
    /// Renew the log under another hash suite (an owner-signed renewal over the same entries).
    #[command(long_about = crate::renew::RENEW_HELP, after_help = EXIT_STATUS)]
    Renew(crate::renew::RenewArgs),
    /// Write the log's Merkle tree as a static C2SP tlog-tiles directory (tiles and the latest
    /// checkpoint) that any file server can serve and witnesses and tlog-tiles tools read.
    #[command(long_about = crate::tiles::TILES_HELP, after_help = EXIT_STATUS)]
    Tiles(crate::tiles::TilesArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(long_about = crate::completions::COMPLETIONS_HELP, after_help = EXIT_STATUS)]
    Completions(crate::completions::CompletionsArgs),
    /// Print or write the man pages of sealtrail and verify-bundle.
    #[command(long_about = crate::completions::MAN_HELP, after_help = EXIT_STATUS)]
    Man(crate::completions::ManArgs),
    /// Witness a log's checkpoints: keys, cosigning, attaching cosignatures, a tlog-witness
    /// HTTP server and client.
    #[command(subcommand)]
    Witness(crate::witness::WitnessCommand),
    /// Replay a recorded session through an agent harness, with overrides (e.g. another model),
    /// as a session of its own (SPEC §13.13).
    #[command(long_about = crate::replay::REPLAY_HELP, after_help = EXIT_STATUS)]
    Replay(crate::replay::ReplayArgs),
    /// The scripted XBRL harness that `sealtrail demo` and the tests replay through (speaks the
    /// replay protocol on standard input and output).
    #[command(hide = true)]
    ReplayHarness(crate::harness::HarnessArgs),
}

const COMPARE_HELP: &str = "\
Compare two runs of a log (a replay and its original, or any two sessions) step by step. Steps
are matched by what they do (a command by its text, a tool by its name, a decision by its
question, a model call by its purpose, a check by its name); a matched pair with a different
result (model output, option chosen, exit code, check outcome) and a step only one run has are
divergences. Prints the first divergence, every later one, and each run's totals: model calls,
tokens, cost, wall time, iteration cycles (fail → fix → re-run), checks passing on the first
try, files changed and the patchset fingerprint. Markdown by default; --json for tools
(schema sealtrail.compare/1, SPEC §13.12).";

/// `compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The log directory.
    #[arg(long, value_name = "DIR")]
    pub log: PathBuf,
    /// The first run's session (the original).
    #[arg(value_name = "A")]
    pub a: String,
    /// The second run's session (the replay).
    #[arg(value_name = "B")]
    pub b: String,
    /// Print the comparison as one JSON object.
    #[arg(long)]
    pub json: bool,
}

const VERIFY_COMMIT_HELP: &str = "\
Check a commit's evidence. Reads the commit's Sealtrail-* trailers with git (Sealtrail-Log and
Sealtrail-Session required; Sealtrail-Checkpoint and Sealtrail-Evidence when present), opens the
bundle Sealtrail-Evidence names (a path relative to the repository's top level, or absolute) or
the one given with --bundle, verifies it exactly as verify-bundle does trusting only
--trusted-key, and then checks that it is the commit's evidence: its log id is Sealtrail-Log,
it holds entries of Sealtrail-Session, and the log's root at the Sealtrail-Checkpoint size is
the root the trailer names (proven by the bundle, never taken from it).";

/// `verify-commit`.
#[derive(Debug, Args)]
pub struct VerifyCommitArgs {
    /// The commit (any revision git understands).
    #[arg(value_name = "REV", default_value = "HEAD")]
    pub rev: String,
    /// The git repository (default: the current directory).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub repo: PathBuf,
    /// The log owner's public key (a file or a C2SP verifier key string), obtained out of band.
    /// Repeat for a log whose owner key was rotated.
    #[arg(long = "trusted-key", value_name = "KEY", required = true)]
    pub trusted_keys: Vec<String>,
    /// The bundle to verify, instead of the one Sealtrail-Evidence names.
    #[arg(long, value_name = "FILE")]
    pub bundle: Option<PathBuf>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// `git …`.
#[derive(Debug, Subcommand)]
pub enum GitCommand {
    /// Install a prepare-commit-msg hook that appends a session's decision trace and trailers.
    #[command(long_about = INSTALL_HOOK_HELP, after_help = EXIT_STATUS)]
    InstallHook(InstallHookArgs),
    /// Classify each commit as written by a person, an agent, or both, from its trailers.
    #[command(long_about = SCAN_HELP, after_help = EXIT_STATUS)]
    Scan(ScanArgs),
}

const SCAN_HELP: &str = "\
Read a repository's history with git and classify each commit's origin: `agent` when its author
is an agent or it has a Generated-by trailer; `mixed` when a person committed it with an agent's
help (Assisted-by, a Co-authored-by naming an agent, or a Sealtrail-Session trailer); `human`
otherwise. Known agents: claude, anthropic, copilot, codex, openai, cursor, devin, aider, gemini,
jules, codewhisperer, amazon-q (as words of a name or address); add your own with --agent. With
--log, each commit's Sealtrail-Session is looked up in that log (when its Sealtrail-Log is the
log's id): its entries and the approvals signed in it, by printed name. The result is a derived
index, printed (or written with --json): git history and the log stay the records; the index is
rebuilt from them at any time and adds nothing that needs a signature.";

/// `git scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// The git repository (default: the current directory).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub repo: PathBuf,
    /// Only commits after this date (anything `git log --since` takes: 2026-10-01, "3 months
    /// ago").
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// The revision range to read (default: HEAD).
    #[arg(long, value_name = "REV", default_value = "HEAD")]
    pub rev: String,
    /// Another name or address that marks an agent (repeatable).
    #[arg(long = "agent", value_name = "NAME")]
    pub agents: Vec<String>,
    /// A log to resolve Sealtrail-Session trailers in: sessions and their approvals.
    #[arg(long, value_name = "DIR")]
    pub log: Option<PathBuf>,
    /// Print one JSON object (schema sealtrail.git-scan/1).
    #[arg(long)]
    pub json: bool,
}

const INSTALL_HOOK_HELP: &str = "\
Install .git/hooks/prepare-commit-msg in a repository. On each commit it appends, to the
message git opened, the decision trace of the log's latest session (or the session named in
$SEALTRAIL_SESSION) with its trailers — Sealtrail-Log, Sealtrail-Session, the log's latest
checkpoint when one covers the session (--checkpoint), and Sealtrail-Evidence when --evidence
is given — so the reasoning ships with the diff. It does nothing for merges, squashes, amends
and messages that already carry a Sealtrail-Session trailer, and never blocks a commit: if the
trace cannot be made, the message is left as it was and the reason goes to standard error. An
existing hook is never replaced unless --force.";

/// `git install-hook`.
#[derive(Debug, Args)]
pub struct InstallHookArgs {
    /// The git repository (default: the current directory).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub repo: PathBuf,
    /// The log directory.
    #[arg(long, value_name = "DIR")]
    pub log: PathBuf,
    /// Name the log's latest checkpoint in a Sealtrail-Checkpoint trailer (sign one with
    /// `sealtrail checkpoint` before committing).
    #[arg(long)]
    pub checkpoint: bool,
    /// Where reviewers will find the bundle, for the Sealtrail-Evidence trailer.
    #[arg(long, value_name = "LOCATION")]
    pub evidence: Option<String>,
    /// Replace an existing prepare-commit-msg hook.
    #[arg(long)]
    pub force: bool,
}

const CHECKPOINT_HELP: &str = "\
Sign a checkpoint of everything appended so far with an owner key: a C2SP signed note holding
the log's origin (with #blake3 for a BLAKE3 log), its size and its Merkle root. The entries it
covers are made durable first, and the new tree is checked to extend the last checkpoint: the
log never signs a fork. Give the note to auditors (verify-bundle --checkpoint) and witnesses.";

const EXPORT_HELP: &str = "\
Write an export bundle: one file with the log's descriptor, the selected entries and their
payloads (or markers for withheld and erased ones), the key registrations they need, a fresh
checkpoint signed by the owner, the Merkle proofs that tie the entries to it, and a trailer that
signs every byte. Without a selection option the whole log is exported.

  sealtrail export --log DIR --owner-key owner.key --out all.bundle
  sealtrail export --log DIR --owner-key owner.key --out s.bundle --session sess-1 \\
      --withhold-kind model_call
  sealtrail export --log DIR --owner-key owner.key --out new.bundle \\
      --since-checkpoint last-month.checkpoint

The auditor verifies it with: verify-bundle FILE --trusted-key owner.key.pub";

const PROVE_HELP: &str = "\
Write a c2sp.org/tlog-proof@v1 file: the entry's hash, its inclusion proof and the latest
checkpoint, verifiable offline against the owner's public key. Make a checkpoint first if none
covers the entry.";

const KEYGEN_HELP: &str = "\
Create an Ed25519 key pair: PATH holds the secret key (a C2SP `PRIVATE+KEY+…` line, mode 0600)
and PATH.pub the public key (a C2SP verifier key `name+hash+key`). Neither file may exist yet:
a key is never overwritten, and there is no --force.

C2SP key names cannot contain spaces. The key's name is --name with every run of white space
replaced by '-' and '+' removed (\"Release Approver\" → Release-Approver), or the file name
without its extension (keys/approver.key → approver). The printed name itself is not stored in
the key: a log binds it to the key once, with `sealtrail keys add --name \"PRINTED NAME\"`, and
shows it with every signature the key makes.";

const APPEND_HELP: &str = "\
Append session events read from standard input (or --file), one JSON object per line. `kind`
names the event (session_started, context_loaded, file_read, model_call, tool_call, command_run,
failure_seen, decision, assumption, correction, supersession, artifact, verification,
gate_requested, handoff, session_ended, custom); the other members are the payload fields of
SPEC §13.4 by the same names, for example

  {\"kind\":\"command_run\",\"command\":\"cargo test\",\"exit_code\":0,\"duration_ms\":41000}

Optional members: `session` (overrides --session) and `links` (the earlier entries that informed
this one). Digests are 64 hex digits, or {\"text\": \"…\"} to digest a text with the log's hash;
entry references are a sequence number, [seq, \"hash\"] or {\"seq\": …, \"hash\": \"…\"}.

Each event is appended and fsynced before its receipt is printed (`entry SEQ KIND HASH`, or one
JSON object per line with --json). A bad line is reported with its line number and field, and
nothing after it is appended.";

const APPROVE_HELP: &str = "\
Sign an approval (or, with --reject, a rejection) of earlier entries and/or artifacts, with the
approver's own key. The signature shows the printed name the key was registered under, the time
of signing (UTC) and its meaning. The log refuses an approval signed by a key that is not an
approver's, or of entries the approver's own key (or printed name) signed.";

const VERIFY_HELP: &str = "\
Verify the whole local log: every entry decodes, sits at its position, chains to the one
before, is signed by a registered key whose role allows its kind, matches its payload, and every
approval obeys SPEC §13.5. Prints what was proven, or every finding with the entry at fault.
A damaged log that cannot be opened for appends is still examined.

Exit status: 0 valid; 1 invalid; 2 the log cannot be opened or read.";

const REPORT_HELP: &str = "\
Verify the local log as `sealtrail verify` does, print the report, and write the auditor's page
with --html FILE: one self-contained HTML file (no script, no fonts, nothing fetched) with the
verdict, what was proven, each session as a timeline (goal, context, files read, model calls
with tokens, tool calls and commands with results, failures, decisions with the alternatives
rejected, corrections, artifacts with digests, checks, handoff), the approvals with the
approver's printed name, date and time of signing and meaning (21 CFR 11.50) linked to what they
approve, erasures with reason, signer and time, keys and checkpoint. Every entry has an anchor
(#seq-N). A print style sheet lays it out for paper.

The page is written whatever the verdict: when the log does not verify it shows the verdict and
the findings only, never a timeline or an approval. For an export bundle, use
`verify-bundle BUNDLE --trusted-key K --html FILE`.

`sealtrail report defects` (see its --help) reports defect rates by code origin and prompt tag
instead.

Exit status: 0 valid; 1 invalid (the page is still written); 2 the log cannot be opened or read,
or FILE cannot be written.

Example:
  sealtrail report --log log --html evidence.html";

const DEMO_HELP: &str = "\
Record the XBRL export session (an agent adds XBRL output beside a PDF renderer: 47 model
calls, a library-versus-hand-built-XML decision, a dead end, two human approvals, a pull request)
into a log on disk, verify it, write its decision trace, and print the commands to run next.

DIR keeps keys/{owner,recorder,approver}.key (with .key.pub), log/, log.vkey, checkpoint.txt,
demo.bundle, trace.md and report.html (the auditor's page, from the verified bundle). Run again,
it keeps keys/ (so the same keys sign) and replaces the rest.";

/// `keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Where to write the secret key; the public key goes to PATH.pub.
    #[arg(long, value_name = "PATH")]
    pub out: PathBuf,
    /// The printed name of the person or system that will hold the key (sets the key name).
    #[arg(long, value_name = "PRINTED NAME")]
    pub name: Option<String>,
    /// Print the result as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// The hash suite of a new log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SuiteArg {
    /// BLAKE3 (fast; the default).
    Blake3,
    /// SHA-256 (FIPS-approved; checkpoints readable by C2SP tools).
    Sha256,
}

/// `init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The directory to create the log in (it must not hold a log yet).
    #[arg(
        long,
        value_name = "DIR",
        required_unless_present = "repo",
        conflicts_with = "repo"
    )]
    pub log: Option<PathBuf>,
    /// The owner's secret key: signs the descriptor and manages keys.
    #[arg(
        long,
        value_name = "PATH",
        required_unless_present = "repo",
        conflicts_with = "repo"
    )]
    pub owner_key: Option<PathBuf>,
    /// The log's name, also its checkpoints' origin line, e.g. example.com/agent-log
    /// (default: the owner key's name; with --repo, sealtrail.local/<repository name>).
    #[arg(long, value_name = "NAME")]
    pub origin: Option<String>,
    /// The hash suite.
    #[arg(long, value_enum, default_value_t = SuiteArg::Blake3)]
    pub suite: SuiteArg,
    /// Where to write the verifier key auditors pin (the owner's public key named after the
    /// checkpoint origin line; default: LOG.vkey beside the log directory).
    #[arg(long, value_name = "PATH", conflicts_with = "repo")]
    pub vkey_out: Option<PathBuf>,
    /// Set up a git repository for Claude Code in one step: new keys outside it (--keys), a
    /// log in DIR/.sealtrail/ (added to DIR/.gitignore), the Claude Code recorder key
    /// registered; then it says what to commit and how to install the hooks.
    #[arg(long, value_name = "DIR")]
    pub repo: Option<PathBuf>,
    /// With --repo: the directory for the new keys (default:
    /// $XDG_CONFIG_HOME/sealtrail/<repository name>, else ~/.config/sealtrail/<repository
    /// name>). Existing keys are never overwritten.
    #[arg(long, value_name = "DIR", requires = "repo")]
    pub keys: Option<PathBuf>,
    /// With --repo: also make an approver key, bound to this printed name (yours).
    #[arg(long, value_name = "PRINTED NAME", requires = "repo")]
    pub approver: Option<String>,
    /// Print the result as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// `keys vkey`.
#[derive(Debug, Args)]
pub struct KeysVkeyArgs {
    /// The log directory.
    #[arg(long, value_name = "DIR")]
    pub log: PathBuf,
    /// Also write the keys to this file (refused if it exists, unless --force).
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Replace --out if it exists (never a secret key file).
    #[arg(long, requires = "out")]
    pub force: bool,
    /// Print a JSON array.
    #[arg(long)]
    pub json: bool,
}

/// `keys …`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Register a public key with a role and a printed name (signed by an owner key).
    #[command(after_help = EXIT_STATUS)]
    Add(KeysAddArgs),
    /// Revoke a key: its signature on any later entry is invalid (signed by an owner key).
    #[command(after_help = EXIT_STATUS)]
    Revoke(KeysRevokeArgs),
    /// List the keys the log knows, with roles, printed names and history.
    #[command(after_help = EXIT_STATUS)]
    List(KeysListArgs),
    /// Print the verifier keys an auditor pins: the active owner keys, each named after the
    /// log's checkpoint origin line (C2SP verifiers match keys by name and key hash, so only
    /// under that name do they verify the log's checkpoints).
    #[command(after_help = EXIT_STATUS)]
    Vkey(KeysVkeyArgs),
}

/// A key role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    /// Manages keys and erasures; signs checkpoints.
    Owner,
    /// The agent or harness: signs session events.
    Recorder,
    /// A person, bound to a printed name: signs approvals.
    Approver,
    /// Cosigns checkpoints; signs no entries.
    Witness,
}

/// `keys add`.
#[derive(Debug, Args)]
pub struct KeysAddArgs {
    /// The log directory.
    #[arg(long, value_name = "DIR")]
    pub log: PathBuf,
    /// An owner's secret key.
    #[arg(long, value_name = "PATH")]
    pub owner_key: PathBuf,
    /// The public key to register: a .pub file or a C2SP verifier key string.
    #[arg(long = "pub", value_name = "PATH.pub")]
    pub public: String,
    /// The role.
    #[arg(long, value_enum)]
    pub role: RoleArg,
    /// The printed name shown with the key's signatures (required for approvers; default: the
    /// key's name). A key is bound to one printed name once, never re-bound.
    #[arg(long, value_name = "PRINTED NAME")]
    pub name: Option<String>,
    /// Print the receipt as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// `keys revoke`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("which").required(true).args(["public", "key_id"]))]
pub struct KeysRevokeArgs {
    /// The log directory.
    #[arg(long, value_name = "DIR")]
    pub log: PathBuf,
    /// An owner's secret key.
    #[arg(long, value_name = "PATH")]
    pub owner_key: PathBuf,
    /// The public key to revoke: a .pub file or a C2SP verifier key string.
    #[arg(long = "pub", value_name = "PATH.pub")]
    pub public: Option<String>,
    /// The key to revoke, by id (64 hex digits, as `keys list` shows).
    #[arg(long, value_name = "HEX")]
    pub key_id: Option<String>,
    /// Why, recorded in the log.
    #[arg(
        long,
        value_name = "TEXT",
        default_value = "revoked by the log's owner"
    )]
    pub reason: String,
    /// Print the receipt as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// `keys list`.
#[derive(Debug, Args)]
pub struct KeysListArgs {
    /// The log directory.
    #[arg(long, value_name = "DIR")]
    pub log: PathBuf,
    /// Print a JSON array.
    #[arg(long)]
    pub json: bool,
}

/// `append`.
#[derive(Debug, Args)]
pub struct AppendArgs {
    /// The log directory.
    #[arg(long, value_name = "DIR")]
    pub log: PathBuf,
    /// The recorder's secret key.
    #[arg(long, value_name = "PATH")]
    pub key: PathBuf,
    /// The session of events that do not name one.
    #[arg(long, value_name = "ID")]
    pub session: Option<String>,
    /// Read events from FILE instead of standard input.
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Print one JSON object per receipt.
    #[arg(long)]
    pub json: bool,
}

/// The meaning of a signature (21 CFR 11.50).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MeaningArg {
    /// The signer reviewed the subjects.
    Review,
    /// The signer approves the subjects.
    Approval,
    /// The signer takes responsibility for the subjects.
    Responsibility,
    /// The signer is the author of the subjects.
    Authorship,
}

/// `approve`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("subjects").required(true).multiple(true).args(["entry", "artifact"]))]
pub struct ApproveArgs {
    /// The log directory.
    #[arg(long, value_name = "DIR")]
    pub log: PathBuf,
    /// The approver's own secret key.
    #[arg(long, value_name = "APPROVER.key")]
    pub key: PathBuf,
    /// The gate: file_write, pr_create, merge, or a namespaced name such as example.com/deploy.
    #[arg(long)]
    pub gate: String,
    /// What the signature means.
    #[arg(long, value_enum)]
    pub meaning: MeaningArg,
    /// Reject instead of approve.
    #[arg(long)]
    pub reject: bool,
    /// Entries approved, by sequence number.
    #[arg(long, value_name = "SEQ", num_args = 1..)]
    pub entry: Vec<u64>,
    /// Content approved, by digest (64 hex digits), e.g. a patchset's fingerprint.
    #[arg(long, value_name = "DIGEST", num_args = 1..)]
    pub artifact: Vec<String>,
    /// The session to record the approval in (default: the session of the approved entries).
    #[arg(long, value_name = "ID")]
    pub session: Option<String>,
    /// A comment shown with the signature.
    #[arg(long, value_name = "TEXT")]
    pub comment: Option<String>,
    /// Print the approval as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// `show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The log directory.
    #[arg(long, value_name = "DIR")]
    pub log: PathBuf,
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
    /// Print one JSON object per entry, with its payload in the JSON form of `append`.
    #[arg(long)]
    pub json: bool,
}

/// The output of `trace`: the renderings both tools share.
pub use crate::answer::TraceOutput as TraceFormat;

/// `trace`.
#[derive(Debug, Args)]
pub struct TraceArgs {
    /// The log directory.
    #[arg(long, value_name = "DIR")]
    pub log: PathBuf,
    /// The session (default with --latest: the session of the log's last session entry).
    #[arg(long, value_name = "ID", required_unless_present = "latest")]
    pub session: Option<String>,
    /// Trace the session of the log's last entry that belongs to a session.
    #[arg(long, conflicts_with = "session")]
    pub latest: bool,
    /// The output format.
    #[arg(long, value_enum, default_value_t = TraceFormat::Markdown)]
    pub format: TraceFormat,
    /// Name the log's latest signed checkpoint in a `Sealtrail-Checkpoint` trailer (size and
    /// root). It must cover the session's last entry: sign one with `sealtrail checkpoint`
    /// first.
    #[arg(long)]
    pub checkpoint: bool,
    /// Where reviewers find the evidence — an export bundle's path or URL, say — for the
    /// Markdown trace's `Sealtrail-Evidence` trailer (beside `Sealtrail-Log`, the log's id).
    #[arg(long, value_name = "LOCATION")]
    pub evidence: Option<String>,
    /// Write to FILE instead of standard output (refused if it exists, unless --force).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Replace FILE if it exists (a symlink there is replaced, never followed; a secret key file
    /// is never replaced).
    #[arg(long, requires = "out")]
    pub force: bool,
}

const WHY_HELP: &str = "\
Explain an entry (--seq): what informed it (its causal inputs) and what depended on it.

Or explain an incident (--incident ID, SPEC §13.15): the commits it implicates; for each, its
origin and commit time (with --repo), the sessions that wrote it (its Sealtrail-Session trailer,
the entries its reviews link, the sessions the incident names) with each session's prompt,
decisions and the alternatives they rejected, verification evidence and what was missing, and
approvals; the reviews with their checklists; the merge and its owner (the person who merged);
and the time from merge (else commit) to the incident's detection. Markdown by default; --json
for tools (schema sealtrail.lineage/1).";

/// `why`.
#[derive(Debug, Args)]
pub struct WhyArgs {
    /// The log directory.
    #[arg(long, value_name = "DIR")]
    pub log: PathBuf,
    /// The entry to explain.
    #[arg(
        long,
        value_name = "N",
        required_unless_present = "incident",
        conflicts_with = "incident"
    )]
    pub seq: Option<u64>,
    /// The incident to explain, by its id (as in its `incident` entry).
    #[arg(long, value_name = "ID")]
    pub incident: Option<String>,
    /// With --incident: the git repository whose commits the incident names (for each commit's
    /// origin, time and Sealtrail-Session trailer).
    #[arg(long, value_name = "DIR", requires = "incident")]
    pub repo: Option<PathBuf>,
    /// Another name or address that marks an agent in commit authors and trailers (repeatable).
    #[arg(long = "agent", value_name = "NAME", requires = "repo")]
    pub agents: Vec<String>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// `report …`: the reports that are not the auditor's page.
#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Defect rate per period by code origin (human, agent, mixed) or by prompt tag.
    #[command(long_about = DEFECTS_HELP, after_help = EXIT_STATUS)]
    Defects(DefectsArgs),
}

const DEFECTS_HELP: &str = "\
Defect rate by code origin and by prompt pattern (SPEC §13.16). Reads the repository's history
with git (each commit's time, changed lines from --numstat, origin from its author and trailers
as `git scan` does, and its Sealtrail-Session trailer) and the log's `incident`, `merge` and
`session_started` entries. Per period (by commit time, UTC) and group: commits, changed lines,
distinct incidents implicating them, incidents per commit and per thousand changed lines, and the
median and 90th-percentile time to incident (nearest rank; from the merge entry, else the commit).
--by prompt-tag groups commits by the tags of their session's session_started (a commit counts
under each tag; `(untagged)` without any). Each period ends with an `all` row. A Markdown table
by default; --json for tools (schema sealtrail.defects/1).";

/// A period for `report defects`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PeriodArg {
    /// Calendar quarters (2026-Q1).
    Quarter,
    /// Calendar months (2026-03).
    Month,
}

/// A grouping for `report defects`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ByArg {
    /// human, agent, mixed.
    Origin,
    /// The session's tags.
    PromptTag,
}

/// `report defects`.
#[derive(Debug, Args)]
pub struct DefectsArgs {
    /// The log directory.
    #[arg(long, value_name = "DIR")]
    pub log: PathBuf,
    /// The git repository (default: the current directory).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub repo: PathBuf,
    /// The revision range to read (default: HEAD).
    #[arg(long, value_name = "REV", default_value = "HEAD")]
    pub rev: String,
    /// Only commits after this date (anything `git log --since` takes).
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// The period.
    #[arg(long, value_enum, default_value = "quarter")]
    pub period: PeriodArg,
    /// The grouping within a period.
    #[arg(long, value_enum, default_value = "origin")]
    pub by: ByArg,
    /// Another name or address that marks an agent (repeatable).
    #[arg(long = "agent", value_name = "NAME")]
    pub agents: Vec<String>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

const OWNER_HELP: &str = "\
Who owns a change (SPEC §13.15): the developer who approved the pull request owns it. The
answer is the signer of the first `merge` entry of the commit (a person's own approver key;
agents cannot sign merges), else the signer of the first approving `review` of it; the entry it
rests on is named. When the log holds neither, the answer says so: no owner on record.
COMMIT is resolved by git in --repo (any revision: HEAD, a branch, a short id).";

/// `owner`.
#[derive(Debug, Args)]
pub struct OwnerArgs {
    /// The log directory.
    #[arg(long, value_name = "DIR")]
    pub log: PathBuf,
    /// The commit (any revision git understands, or a full commit id).
    #[arg(value_name = "COMMIT")]
    pub commit: String,
    /// The git repository (default: the current directory).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub repo: PathBuf,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// `verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The log directory.
    #[arg(long, value_name = "DIR")]
    pub log: PathBuf,
    /// Print the report as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// `report`: a verification's report in other forms. Its options write the auditor's page; a
/// subcommand (`defects`) asks another question of the log and its repository instead.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct ReportArgs {
    /// The log directory.
    #[arg(long, value_name = "DIR", default_value = ".sealtrail/log")]
    pub log: PathBuf,
    /// Write the auditor's page to FILE (refused if it exists, unless --force).
    #[arg(long, value_name = "FILE", required = true)]
    pub html: Option<PathBuf>,
    /// Replace FILE if it exists (a symlink there is replaced, never followed; a secret key file
    /// is never replaced).
    #[arg(long, requires = "html")]
    pub force: bool,
    /// Print the verification report as one JSON object (as `sealtrail verify --json`).
    #[arg(long)]
    pub json: bool,
    /// Add the defect rate by code origin and by prompt tag (as `report defects`) to the page,
    /// as charts and tables, from this git repository's history (HEAD).
    #[arg(long, value_name = "DIR", requires = "html")]
    pub repo: Option<PathBuf>,
    /// The period of the defect-rate charts.
    #[arg(long, value_enum, default_value = "quarter", requires = "repo")]
    pub period: PeriodArg,
    /// Another name or address that marks an agent in the repository (repeatable).
    #[arg(long = "agent", value_name = "NAME", requires = "repo")]
    pub agents: Vec<String>,
    /// Another report on the log.
    #[command(subcommand)]
    pub command: Option<ReportCommand>,
}

/// `ingest …`.
#[derive(Debug, Subcommand)]
pub enum IngestCommand {
    /// Record one Claude Code hook payload (JSON on standard input).
    #[command(long_about = CLAUDE_CODE_HELP)]
    ClaudeCode(IngestArgs),
}

const CLAUDE_CODE_HELP: &str = "\
Record one Claude Code hook payload, read as JSON from standard input, into the log. Configure
the same command for every hook event; --print-settings prints the .claude/settings.json block
that does, with this command's paths and options filled in.

Every payload is kept as a `custom` entry of type claude-code/<hook_name> (PreToolUse →
claude-code/pre_tool_use): the digest of the payload's bytes, and each member but session_id
and hook_event_name — booleans, integers and short single-line strings inline, everything else
(tool input and output, errors, objects) by digest; the prompt by digest and, unless
--prompts digest, with its text. Typed events follow, linked to it:

  UserPromptSubmit    context_loaded; the session's first prompt also session_started, whose
                      objective (the trace's Goal) is the prompt's text (with --prompts digest,
                      a reference to it), and whose required checks are the --require names
  PermissionRequest   gate_requested
  PostToolUse         tool_call, + file_read (Read), + a patchset artifact with the diff's
                      digest and the file's path (Edit, MultiEdit, Write, NotebookEdit),
                      + command_run and a verification per check the command ran (Bash)
  PostToolUseFailure  the same, + failure_seen
  Stop                handoff: ready_for_review when every required check passed last,
                      else in_progress with the failed or missing checks as blockers
  SessionEnd          handoff, session_ended
  SessionStart, others  the custom entry alone

A Bash command is a check when one of its simple commands matches a pattern: the defaults
(cargo test|build|clippy, npm|pnpm|yarn test and lint, pytest, go test, mix test, make
test|check) and each --check-pattern NAME=REGEX. Its exit status is the check's pass or fail
only where the shell makes it so: after `| tail`, `|| true`, `; echo` or in the background the
check is recorded as not run, with the reason. Nothing is printed on success (the standard
output of some hooks becomes Claude's context).

Several hooks may run at once: the log is opened by one process at a time. A hook that finds it
open hands its event to the process holding it (through the log's spool/ directory), which
records it with its own and answers once it is durable; if that process is gone, the hook waits
up to --wait seconds to open the log itself.

When the event cannot be recorded — the payload cannot be read, is over 64 MiB, is nested more
than 100 levels deep, is not JSON or lacks a valid session_id or hook_event_name; the log cannot
be opened or written; the key is unknown, revoked or may not sign; a --check-pattern is not a
valid regular expression; any other error — it says why on one line of standard error, and, if
the log can be opened and the key may sign, records a `gap` entry saying what was not recorded
and why (in the payload's session when it names a valid one). Then:

  --on-failure block  exit 2: Claude Code blocks the tool call, prompt or permission (after
                      a tool ran, it tells Claude)
  --on-failure allow  exit 1: Claude Code goes on (the failure shows in verbose mode)

The default is block for PreToolUse, UserPromptSubmit, PermissionRequest, PostToolUse,
PostToolUseFailure and for a payload whose hook event cannot be read (fail closed), and allow
for every other hook event: exit 2 on Stop or SubagentStop would keep Claude working, and
loop, on a broken log; on SessionStart, SessionEnd and notifications it blocks nothing.

Exit status: 0 recorded; 1 not recorded, --on-failure allow; 2 not recorded, --on-failure block
(or a usage error).";

/// What `ingest claude-code` does when it cannot record an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnFailure {
    /// Exit 2: Claude Code blocks the action the hook was for (fail closed).
    Block,
    /// Exit 1: Claude Code goes on without the record (fail open).
    Allow,
}

/// `ingest claude-code`.
#[derive(Debug, Args)]
pub struct IngestArgs {
    /// The log directory.
    #[arg(long, value_name = "DIR")]
    pub log: PathBuf,
    /// The recorder's secret key (registered with role recorder).
    #[arg(long, value_name = "PATH")]
    pub key: PathBuf,
    /// How long to wait for another process to close the log, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub wait: u64,
    /// When the event cannot be recorded: block (exit 2) or allow (exit 1). Default: block for
    /// PreToolUse, UserPromptSubmit, PermissionRequest, PostToolUse, PostToolUseFailure and an
    /// unreadable payload; allow for every other hook event.
    #[arg(long, value_enum, value_name = "MODE")]
    pub on_failure: Option<OnFailure>,
    /// How prompts are kept: their text and digest (the first prompt is the session's goal), or
    /// their digest only, for teams that must not store prompts.
    #[arg(long, value_enum, value_name = "MODE", default_value_t = Prompts::Text)]
    pub prompts: Prompts,
    /// A check: a Bash command one of whose simple commands matches REGEX is recorded as a
    /// `verification` named NAME (repeatable; replaces a default check of the same name).
    #[arg(long, value_name = "NAME=REGEX")]
    pub check_pattern: Vec<String>,
    /// Recognise only the checks --check-pattern gives, none of the defaults.
    #[arg(long)]
    pub no_default_checks: bool,
    /// A check that must pass (repeatable): listed in the session's required checks, so that a
    /// session where it never ran reads "missing_required_evidence".
    #[arg(long, value_name = "NAME")]
    pub require: Vec<String>,
    /// Print the .claude/settings.json hooks that run this command on every hook event, with
    /// absolute paths to this binary, --log and --key, and this command's other options; read
    /// nothing, record nothing.
    #[arg(long)]
    pub print_settings: bool,
}

/// How `ingest claude-code` keeps the developer's prompts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Prompts {
    /// Each prompt's text and digest; the first prompt's text is the session's goal.
    Text,
    /// Each prompt's digest only; the goal refers to the first prompt's entry.
    Digest,
}

/// `demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where to keep the demo's keys, log and trace.
    #[arg(long, value_name = "DIR", default_value = "sealtrail-demo")]
    pub dir: PathBuf,
}

/// `checkpoint`.
#[derive(Debug, Args)]
pub struct CheckpointArgs {
    /// The log directory.
    #[arg(long, value_name = "DIR")]
    pub log: PathBuf,
    /// An owner key of the log: it signs the checkpoint.
    #[arg(long, value_name = "PATH")]
    pub owner_key: PathBuf,
    /// Also write the signed checkpoint note to FILE (for `verify-bundle --checkpoint`; refused
    /// if it exists, unless --force).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Replace FILE if it exists (a symlink there is replaced, never followed; a secret key file
    /// is never replaced).
    #[arg(long, requires = "out")]
    pub force: bool,
    /// Print one JSON object (size, root, origin, note).
    #[arg(long)]
    pub json: bool,
}

/// `export`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("selection").args(["session", "range", "entries", "since", "since_checkpoint"])))]
pub struct ExportArgs {
    /// The log directory.
    #[arg(long, value_name = "DIR")]
    pub log: PathBuf,
    /// An owner key of the log: it signs the bundle's checkpoint and trailer.
    #[arg(long, value_name = "PATH")]
    pub owner_key: PathBuf,
    /// The bundle file to write (refused if it exists, unless --force).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Replace FILE if it exists (a symlink there is replaced, never followed; a secret key file
    /// is never replaced).
    #[arg(long, requires = "out")]
    pub force: bool,
    /// Export one session (each entry with an inclusion proof).
    #[arg(long, value_name = "ID")]
    pub session: Option<String>,
    /// Export a range of sequence numbers, START..END (END excluded).
    #[arg(long, value_name = "START..END")]
    pub range: Option<String>,
    /// Export chosen entries, comma-separated (each with an inclusion proof).
    #[arg(long, value_name = "SEQ,SEQ,…", value_delimiter = ',')]
    pub entries: Option<Vec<u64>>,
    /// Export everything after the tree size an auditor has already seen, with the consistency
    /// proof from it.
    #[arg(long, value_name = "SIZE")]
    pub since: Option<u64>,
    /// Like --since, reading the size from a checkpoint note file the auditor has.
    #[arg(long, value_name = "FILE")]
    pub since_checkpoint: Option<PathBuf>,
    /// Withhold the payloads of this kind (repeatable). Key, approval and erasure payloads are
    /// never withheld.
    #[arg(long, value_name = "KIND")]
    pub withhold_kind: Vec<String>,
    /// Withhold the payload of this entry (repeatable).
    #[arg(long, value_name = "SEQ")]
    pub withhold_entry: Vec<u64>,
    /// Fail unless the bundle's checkpoint carries at least N witness cosignatures (attached
    /// with `sealtrail witness attach` or `witness request`). Without it, the latest cosigned
    /// checkpoint is used when it covers the selection, and a fresh one otherwise.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub require_witnesses: usize,
    /// Print one JSON object describing what was written.
    #[arg(long)]
    pub json: bool,
}

/// `prove`.
#[derive(Debug, Args)]
pub struct ProveArgs {
    /// The log directory.
    #[arg(long, value_name = "DIR")]
    pub log: PathBuf,
    /// The entry to prove.
    #[arg(long, value_name = "N", required_unless_present = "consistency_from")]
    pub seq: Option<u64>,
    /// Instead of an entry: the consistency proof a witness needs, from the tree SIZE it last
    /// cosigned to the latest checkpoint (`old SIZE` then one base64 hash per line).
    #[arg(long, value_name = "SIZE", conflicts_with = "seq")]
    pub consistency_from: Option<u64>,
    /// Also write the entry's wire form (SPEC §6.1) to FILE, for `verify-bundle proof --entry`
    /// (refused if it exists, unless --force).
    #[arg(long, value_name = "FILE", requires = "seq")]
    pub entry_out: Option<PathBuf>,
    /// Write the proof to FILE instead of standard output (refused if it exists, unless
    /// --force).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Replace FILE if it exists (a symlink there is replaced, never followed; a secret key file
    /// is never replaced).
    #[arg(long, requires = "out")]
    pub force: bool,
}
