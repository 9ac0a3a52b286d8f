//! `sealtrail`: the command-line tool. Only this binary prints and exits; the library returns
//! errors.

#![forbid(unsafe_code)]

// Shared with verify-bundle, which uses the parts about withheld payloads that a log never has.
#[allow(dead_code)]
mod answer;
mod append;
mod approve;
mod archive;
#[cfg(feature = "s3")]
mod archive_upload;
mod cli;
mod commit;
mod common;
mod completions;
mod demo;
mod demo_ownership;
mod demo_replay;
mod erase;
mod harness;
mod ingest;
mod inspect;
mod keys;
mod output;
mod ownership;
mod render;
mod renew;
mod replay;
mod retention;
mod review_policy;
#[cfg(feature = "s3")]
mod s3;
mod seal;
mod setup;
mod tiles;
mod timestamp;
mod verify;
mod witness;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command, GitCommand, IngestCommand, KeysCommand};
use common::{Status, emit, is_broken_pipe, is_invalid, json_error, json_requested};

fn run(command: &Command) -> anyhow::Result<Status> {
    match command {
        Command::Keygen(a) => keys::keygen(a),
        Command::Init(a) => keys::init(a),
        Command::Keys(KeysCommand::Add(a)) => keys::add(a),
        Command::Keys(KeysCommand::Revoke(a)) => keys::revoke(a),
        Command::Keys(KeysCommand::List(a)) => keys::list(a),
        Command::Keys(KeysCommand::Vkey(a)) => keys::vkey(a),
        Command::Append(a) => append::append(a),
        Command::Approve(a) => approve::approve(a),
        Command::Show(a) => inspect::show(a),
        Command::Trace(a) => inspect::trace(a),
        Command::Why(a) => inspect::why(a),
        Command::Owner(a) => ownership::owner_of(a),
        Command::Checkpoint(a) => seal::checkpoint(a),
        Command::Export(a) => seal::export(a),
        Command::Prove(a) => seal::prove(a),
        Command::Verify(a) => verify::verify(a),
        Command::Report(a) => verify::report(a),
        Command::Ingest(IngestCommand::ClaudeCode(a)) => ingest::claude_code(a),
        Command::Demo(a) => demo::demo(a),
        Command::VerifyCommit(a) => commit::verify_commit(a),
        Command::Git(GitCommand::InstallHook(a)) => commit::install_hook(a),
        Command::Git(GitCommand::Scan(a)) => commit::scan(a),
        Command::Compare(a) => inspect::compare(a),
        Command::Erase(a) => erase::erase(a),
        Command::ReviewPolicy(c) => review_policy::run(c),
        Command::Retention(retention::RetentionCommand::Set(a)) => retention::set(a),
        Command::Retention(retention::RetentionCommand::Show(a)) => retention::status(a),
        Command::Hold(retention::HoldCommand::Place(a)) => retention::place(a),
        Command::Hold(retention::HoldCommand::Release(a)) => retention::release(a),
        Command::Hold(retention::HoldCommand::List(a)) => retention::status(a),
        Command::Purge(a) => retention::purge(a),
        Command::Archive(a) => archive::archive(a),
        Command::Timestamp(a) => timestamp::timestamp(a),
        Command::Renew(a) => renew::renew(a),
        Command::Tiles(a) => tiles::tiles(a),
        Command::Completions(a) => completions::completions(a),
        Command::Man(a) => completions::man(a),
        Command::Witness(w) => witness::run(w),
        Command::Replay(a) => replay::replay(a),
        Command::ReplayHarness(a) => harness::harness(a),
    }
}

// Commands that only read: stopping early because their reader went away is not a failure.
fn reads_only(command: &Command) -> bool {
    matches!(
        command,
        Command::Show(_)
            | Command::Trace(_)
            | Command::Why(_)
            | Command::Owner(_)
            | Command::Report(_)
            | Command::Compare(_)
            | Command::Keys(KeysCommand::List(_))
            | Command::Keys(KeysCommand::Vkey(_))
            | Command::Retention(retention::RetentionCommand::Show(_))
            | Command::Hold(retention::HoldCommand::List(_))
            | Command::Completions(_)
    ) || matches!(command, Command::Ingest(IngestCommand::ClaudeCode(a)) if a.print_settings)
}

// Every error ends here: on standard error, and with --json on standard output as well.
fn fail(message: &str, code: u8) -> ExitCode {
    if json_requested() {
        let _ = emit(json_error(message, code));
    }
    ExitCode::from(code)
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version are not errors.
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let _ = e.print();
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or_default();
            return fail(first.trim_start_matches("error: "), 2);
        }
    };
    match run(&cli.command) {
        Ok(Status::Ok) => ExitCode::SUCCESS,
        Ok(Status::Invalid) => ExitCode::from(1),
        Err(e) if is_broken_pipe(&e) && reads_only(&cli.command) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            fail(&format!("{e:#}"), if is_invalid(&e) { 1 } else { 2 })
        }
    }
}
