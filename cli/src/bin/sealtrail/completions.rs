//! `completions` and `man`: shell completions and man pages for both tools, generated from their
//! clap definitions so they never drift from `--help`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::{Args, CommandFactory, ValueEnum};
use clap_complete::Shell;

use crate::common::{Status, emit};

// verify-bundle's arguments, compiled into this binary too: the auditor's tool stays free of the
// generators' crates, and its completions and man page come from the very definitions it parses.
#[allow(dead_code)]
#[path = "../verify-bundle/cli.rs"]
mod verify_bundle_cli;

/// Which tool to generate for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Tool {
    /// `sealtrail`, the log's command line.
    Sealtrail,
    /// `verify-bundle`, the auditor's tool.
    VerifyBundle,
}

impl Tool {
    fn command(self) -> clap::Command {
        match self {
            Tool::Sealtrail => crate::cli::Cli::command(),
            Tool::VerifyBundle => verify_bundle_cli::Args::command(),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Tool::Sealtrail => "sealtrail",
            Tool::VerifyBundle => "verify-bundle",
        }
    }
}

pub const COMPLETIONS_HELP: &str = "\
Print a shell completion script for sealtrail (or, with --tool verify-bundle, for the auditor's
tool) on standard output. For example:

  sealtrail completions bash > ~/.local/share/bash-completion/completions/sealtrail
  sealtrail completions zsh > \"${fpath[1]}/_sealtrail\"
  sealtrail completions fish > ~/.config/fish/completions/sealtrail.fish
  sealtrail completions bash --tool verify-bundle > ~/.local/share/bash-completion/completions/verify-bundle";

/// `completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: Shell,
    /// The tool to complete.
    #[arg(long, value_enum, default_value_t = Tool::Sealtrail)]
    pub tool: Tool,
}

pub const MAN_HELP: &str = "\
Write man pages (roff). Without --out, print sealtrail(1) (or, with --tool verify-bundle,
verify-bundle(1)) on standard output: `sealtrail man | man -l -`. With --out DIR, write into DIR
(created if missing, existing pages replaced) a page for each tool and each sealtrail command:
sealtrail.1, sealtrail-export.1, …, verify-bundle.1.";

/// `man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write every page into this directory instead of printing one.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// The tool whose page to print (without --out).
    #[arg(long, value_enum, default_value_t = Tool::Sealtrail, conflicts_with = "out")]
    pub tool: Tool,
}

/// `sealtrail completions`.
pub fn completions(a: &CompletionsArgs) -> Result<Status> {
    let mut script = Vec::new();
    clap_complete::generate(a.shell, &mut a.tool.command(), a.tool.name(), &mut script);
    let mut out = std::io::stdout().lock();
    out.write_all(&script)?;
    out.flush()?;
    Ok(Status::Ok)
}

/// `sealtrail man`.
pub fn man(a: &ManArgs) -> Result<Status> {
    let Some(dir) = &a.out else {
        let mut page = Vec::new();
        clap_mangen::Man::new(a.tool.command()).render(&mut page)?;
        let mut out = std::io::stdout().lock();
        out.write_all(&page)?;
        out.flush()?;
        return Ok(Status::Ok);
    };
    std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    for tool in [Tool::Sealtrail, Tool::VerifyBundle] {
        clap_mangen::generate_to(tool.command(), dir)
            .with_context(|| format!("{}: cannot write the man pages", dir.display()))?;
    }
    emit(format!(
        "wrote the man pages of sealtrail, its commands and verify-bundle to {}",
        dir.display()
    ))?;
    Ok(Status::Ok)
}
