//! `sealtrail`: the command-line tool. Only this binary prints and exits; the library returns
//! errors.

#![forbid(unsafe_code)]

mod append;
mod approve;
mod cli;
mod common;
mod demo;
mod ingest;
mod inspect;
mod keys;
mod output;
mod render;
mod seal;
mod setup;
mod verify;
mod witness;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command, IngestCommand, KeysCommand};
use common::{Status, is_broken_pipe, is_invalid};

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
        Command::Checkpoint(a) => seal::checkpoint(a),
        Command::Export(a) => seal::export(a),
        Command::Prove(a) => seal::prove(a),
        Command::Verify(a) => verify::verify(a),
        Command::Ingest(IngestCommand::ClaudeCode(a)) => ingest::claude_code(a),
        Command::Demo(a) => demo::demo(a),
        Command::Witness(w) => witness::run(w),
    }
}

// Commands that only read: stopping early because their reader went away is not a failure.
fn reads_only(command: &Command) -> bool {
    matches!(
        command,
        Command::Show(_)
            | Command::Trace(_)
            | Command::Why(_)
            | Command::Keys(KeysCommand::List(_))
            | Command::Keys(KeysCommand::Vkey(_))
    ) || matches!(command, Command::Ingest(IngestCommand::ClaudeCode(a)) if a.print_settings)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli.command) {
        Ok(Status::Ok) => ExitCode::SUCCESS,
        Ok(Status::Invalid) => ExitCode::from(1),
        Err(e) if is_broken_pipe(&e) && reads_only(&cli.command) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(if is_invalid(&e) { 1 } else { 2 })
        }
    }
}
