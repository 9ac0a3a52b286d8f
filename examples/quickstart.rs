//! Records a short agent session into a log on disk, verifies it, and prints what it did.
//!
//! `cargo run --release --example quickstart [DIR]` (default `./sealtrail-demo`).

use std::path::PathBuf;

use sealtrail::codec::to_canonical;
use sealtrail::registry::Role;
use sealtrail::{Kind, Log, Record, SecretKey, SessionId};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "sealtrail-demo".into()),
    );
    let log_dir = dir.join("quickstart-log");
    if log_dir.exists() {
        println!("removing the previous run's log at {}", log_dir.display());
        std::fs::remove_dir_all(&log_dir)?;
    }
    std::fs::create_dir_all(&dir)?;

    let owner = SecretKey::generate("example.com/quickstart")?;
    let recorder = SecretKey::generate("agent-harness")?;
    let log = Log::create(&log_dir, &owner, "example.com/quickstart")?;
    log.register_key(
        &owner,
        recorder.key_id(),
        Role::Recorder,
        "agent harness 1.0",
    )?;

    let session = SessionId::new("quickstart-session")?;
    let record =
        |kind: &str, body: &serde_json::Value| -> Result<Record, Box<dyn std::error::Error>> {
            Ok(Record::new(Kind::new(kind)?, to_canonical(body)?).session(&session))
        };
    let start = log.append(
        &recorder,
        record(
            "session_started",
            &serde_json::json!({"objective": "add XBRL output"}),
        )?,
    )?;
    let read = log.append(
        &recorder,
        record(
            "file_read",
            &serde_json::json!({"path": "src/render/pdf.rs"}),
        )?,
    )?;
    let decision = log.append(
        &recorder,
        record(
            "decision",
            &serde_json::json!({"question": "XBRL library or hand-built XML?", "chosen": "library"}),
        )?
        .link(start.link())
        .link(read.link()),
    )?;
    let ran = log.append(
        &recorder,
        record(
            "command_run",
            &serde_json::json!({"command": "cargo test", "exit_code": 0}),
        )?,
    )?;

    let summary = log.verify()?;
    println!("log:      {}", log_dir.display());
    println!("log id:   {}", log.log_id());
    println!("suite:    {}", log.suite());
    for r in [start, read, decision, ran] {
        let e = log.read(r.seq)?.expect("just appended");
        println!(
            "entry {:>2}  {}  {:<16} {}",
            r.seq,
            r.time,
            e.header().kind,
            r.hash.short()
        );
    }
    println!(
        "verified: {} entries, chain tip {}, every signature strict-verified",
        summary.entries, summary.tip
    );
    Ok(())
}
