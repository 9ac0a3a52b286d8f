//! `demo`: the whole product on one example session, as a list of steps.
//!
//! Each step is a function over [`Demo`]; [`STEPS`] runs them in order. A step that needs what an
//! earlier one made (the log, the keys, the receipts) finds it in `Demo`, and a step can add
//! commands for the reader to run next.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow};
use sealtrail::bundle::TrustPolicy;
use sealtrail::checkpoint::{AddCheckpoint, Witness, WitnessKey, WitnessPolicy};
use sealtrail::keys::public_key_path;
use sealtrail::log::{Anchor, ExportOptions, Selection};
use sealtrail::trace::{DecisionTrace, TraceOptions};
use sealtrail::{Log, SecretKey, SessionId, Suite};
use sealtrail_testkit::scenario::{Content, ScenarioKeys, XbrlReceipts, record_xbrl_session_with};

use crate::cli::DemoArgs;
use crate::common::{Status, emit, invalid, load_secret};
use crate::keys::{create_log, key_name_for, write_key_pair_with};
use crate::output::{self, Existing, Output};
use crate::render::entry_line;

/// The demo log's name (its checkpoints' origin line).
pub const ORIGIN: &str = "example.com/sealtrail-demo";
/// The approver's printed name: a role, not a person.
pub const APPROVER_NAME: &str = "Release Approver";
/// The recorded session.
pub const SESSION: &str = "sess-xbrl-0001";
/// The files the demo writes in its directory besides keys/ and log/. It owns them: each run
/// replaces them ([`Existing::Replace`]), a symlink there itself, never its target, and never a
/// secret key file.
pub const OUTPUTS: [&str; 7] = [
    "checkpoint.txt",
    "demo.bundle",
    "trace.md",
    "log.vkey",
    "report.html",
    "compare.md",
    "compare.json",
];

/// The demo's keys.
pub struct DemoKeys {
    /// Manages the log: signs its descriptor and the key registrations.
    pub owner: SecretKey,
    /// The agent's harness: signs every session event.
    pub recorder: SecretKey,
    /// A person: signs the approvals.
    pub approver: SecretKey,
    /// An independent witness: cosigns the log's checkpoint.
    pub witness: SecretKey,
}

/// What the steps share.
pub struct Demo {
    /// The demo directory.
    pub dir: PathBuf,
    /// Made by the `keys` step.
    pub keys: Option<DemoKeys>,
    /// Made by the `log` step.
    pub log: Option<Log>,
    /// The session recorded.
    pub session: SessionId,
    /// Made by the `record` step.
    pub receipts: Option<XbrlReceipts>,
    /// How the trace is rendered (a checkpoint step can name its checkpoint here).
    pub trace_options: TraceOptions,
    /// Commands for the reader, with what each shows; printed by the last step.
    pub next: Vec<(String, String)>,
}

impl Demo {
    fn log_dir(&self) -> PathBuf {
        self.dir.join("log")
    }

    // The auditors' verifier key, where `sealtrail init` would write it: beside the log.
    fn vkey_path(&self) -> PathBuf {
        self.dir.join("log.vkey")
    }

    fn witness_vkey_path(&self) -> PathBuf {
        public_key_path(&self.key_path("witness"))
    }

    fn key_path(&self, role: &str) -> PathBuf {
        self.dir.join("keys").join(format!("{role}.key"))
    }

    fn keys(&self) -> Result<&DemoKeys> {
        self.keys.as_ref().ok_or_else(|| anyhow!("no keys yet"))
    }

    fn log(&self) -> Result<&Log> {
        self.log.as_ref().ok_or_else(|| anyhow!("no log yet"))
    }

    /// A path as the reader should type it.
    pub fn show(&self, p: &Path) -> String {
        p.display().to_string()
    }
}

/// One step of the demo.
pub struct Step {
    /// What the step does, as its heading.
    pub title: &'static str,
    /// The step.
    pub run: fn(&mut Demo) -> Result<()>,
}

/// The steps, in order.
pub const STEPS: &[Step] = &[
    Step {
        title: "Prepare the demo directory",
        run: prepare,
    },
    Step {
        title: "Keys: the log's owner, the agent's recorder, a human approver, a witness",
        run: keys,
    },
    Step {
        title: "Create the log",
        run: create,
    },
    Step {
        title: "Record the XBRL export session",
        run: record,
    },
    Step {
        title: "Verify the log",
        run: verify,
    },
    Step {
        title: "Checkpoint: the owner signs the log's size and Merkle root; a witness cosigns it",
        run: checkpoint,
    },
    Step {
        title: "Export the evidence bundle for an auditor",
        run: export,
    },
    Step {
        title: "Verify the bundle exactly as verify-bundle does (trusting only the log's verifier key and the witness's), and write the auditor's page",
        run: verify_bundle,
    },
    Step {
        title: "Write the decision trace (for the commit message)",
        run: trace,
    },
    Step {
        title: "Replay the session with another model, and from record; compare the runs",
        run: crate::demo_replay::replay,
    },
    Step {
        title: "Review, merge, an incident three weeks later: its lineage, and defect rates by origin",
        run: crate::demo_ownership::ownership,
    },
    Step {
        title: "Next",
        run: next,
    },
];

/// `sealtrail demo`.
pub fn demo(a: &DemoArgs) -> Result<Status> {
    let mut d = Demo {
        dir: a.dir.clone(),
        keys: None,
        log: None,
        session: SessionId::new(SESSION)?,
        receipts: None,
        trace_options: TraceOptions::default(),
        next: Vec::new(),
    };
    emit(format!(
        "sealtrail demo: an agent adds XBRL export beside a PDF renderer; every step it takes is \
         signed into a log in {}, verified, and explained.",
        d.show(&d.dir)
    ))?;
    for (i, step) in STEPS.iter().enumerate() {
        emit(format!("\n[{}/{}] {}", i + 1, STEPS.len(), step.title))?;
        (step.run)(&mut d).with_context(|| format!("demo step {:?}", step.title))?;
    }
    Ok(Status::Ok)
}

// Only a directory holding exactly what a sealtrail log holds is ever removed.
fn is_log_dir(p: &Path) -> Result<bool> {
    let mut names = Vec::new();
    for e in std::fs::read_dir(p).with_context(|| format!("{}: cannot read", p.display()))? {
        names.push(e?.file_name().to_string_lossy().into_owned());
    }
    // A log directory's layout (`sealtrail::store::DirStore`).
    const LAYOUT: [&str; 6] = ["entries", "meta", "index", "lock", "spool", "tiles"];
    Ok(!names.is_empty() && names.iter().all(|n| LAYOUT.contains(&n.as_str())))
}

fn prepare(d: &mut Demo) -> Result<()> {
    let dir = d.show(&d.dir);
    if d.dir.exists() && !d.dir.is_dir() {
        return Err(anyhow!("{dir}: exists and is not a directory"));
    }
    // The demo's own outputs, replaced on every run: never a secret key put there, and checked
    // before anything is removed.
    for name in OUTPUTS {
        output::refuse_existing(&d.dir.join(name), Existing::Replace)?;
    }
    let log_dir = d.log_dir();
    if log_dir.exists() {
        if !is_log_dir(&log_dir)? {
            return Err(anyhow!(
                "{}: holds files that are not a sealtrail log; not touching it (remove it or \
                 choose another --dir)",
                d.show(&log_dir)
            ));
        }
        std::fs::remove_dir_all(&log_dir)
            .with_context(|| format!("{}: cannot remove", d.show(&log_dir)))?;
        for name in OUTPUTS {
            let file = d.dir.join(name);
            if file.exists() {
                std::fs::remove_file(&file)
                    .with_context(|| format!("{}: cannot remove", d.show(&file)))?;
            }
        }
        emit(format!(
            "{dir} exists from an earlier run: replacing log/, log.vkey, demo.bundle, checkpoint.txt, trace.md and report.html, keeping keys/ (the \
             same keys sign the new log)"
        ))?;
    } else if d.dir.exists() {
        emit(format!(
            "{dir} exists: adding keys/, log/ and trace.md to it"
        ))?;
    } else {
        std::fs::create_dir_all(&d.dir).with_context(|| format!("{dir}: cannot create"))?;
        emit(format!("created {dir}"))?;
    }
    Ok(())
}

// Loads the key at `path`, or creates it; makes sure its .pub file is there.
fn key(d: &Demo, role: &str, does: &str) -> Result<SecretKey> {
    key_with(d, role, does, |k| k.public_key().to_vkey())
}

// `vkey` makes the public file's verifier key (a witness's has its own type).
fn key_with(
    d: &Demo,
    role: &str,
    does: &str,
    vkey: impl Fn(&SecretKey) -> String,
) -> Result<SecretKey> {
    let path = d.key_path(role);
    let shown = d.show(&path);
    if path.exists() {
        let key = load_secret(&path)?;
        let public = public_key_path(&path);
        if !public.exists() {
            output::write(
                &public,
                format!("{}\n", vkey(&key)).as_bytes(),
                Existing::Key,
            )?;
        }
        emit(format!("  kept    {role:<9} {shown}: {does}"))?;
        Ok(key)
    } else {
        let key = write_key_pair_with(&path, &key_name_for(&path, None)?, vkey)?;
        emit(format!("  created {role:<9} {shown}: {does}"))?;
        Ok(key)
    }
}

fn keys(d: &mut Demo) -> Result<()> {
    let owner = key(d, "owner", "manages the log: descriptor, key registrations")?;
    let recorder = key(
        d,
        "recorder",
        "the agent's harness: signs every session event",
    )?;
    let approver = key(
        d,
        "approver",
        &format!("a person, {APPROVER_NAME:?}: signs the approvals"),
    )?;
    let witness = key_with(
        d,
        "witness",
        "an independent witness: cosigns a checkpoint only if it extends the last one it saw",
        |k| WitnessKey::new(k.public_key()).to_vkey(),
    )?;
    emit("  each secret key has mode 0600; its public key is beside it in .key.pub")?;
    d.keys = Some(DemoKeys {
        owner,
        recorder,
        approver,
        witness,
    });
    Ok(())
}

fn create(d: &mut Demo) -> Result<()> {
    let log_dir = d.log_dir();
    let log = create_log(&log_dir, &d.keys()?.owner, ORIGIN, Suite::Blake3)?;
    emit(format!(
        "  {}: origin {ORIGIN}, suite {}, log id {}",
        d.show(&log_dir),
        log.suite(),
        log.log_id()
    ))?;
    // What an auditor pins: the owner key under the checkpoints' origin line (SPEC §11.3).
    let vkeys: String = log
        .verifier_keys()
        .iter()
        .map(|k| format!("{}\n", k.to_vkey()))
        .collect();
    output::write(&d.vkey_path(), vkeys.as_bytes(), Existing::Replace)?;
    emit(format!(
        "  wrote {}: the verifier key an auditor pins — the owner's public key named after the \
         checkpoint origin line, as C2SP verifiers require",
        d.show(&d.vkey_path())
    ))?;
    d.next.push((
        format!("sealtrail verify --log {}", d.show(&log_dir)),
        "verify every signature, role, link and payload again".into(),
    ));
    d.log = Some(log);
    Ok(())
}

fn record(d: &mut Demo) -> Result<()> {
    let k = d.keys()?;
    let log = d.log()?;
    let sk = ScenarioKeys::new(&k.owner, &k.recorder, &k.approver, APPROVER_NAME);
    // Content kept, so that a replay from record can answer every model call (SPEC §13.13).
    let r = record_xbrl_session_with(log, &sk, &d.session, Content::Kept)?;
    emit(format!(
        "  {} entries: the recorder and approver keys registered by the owner, then session {} \
         — {} model calls, {} artifacts, 2 approvals signed by {APPROVER_NAME}",
        log.len(),
        d.session,
        r.model_calls,
        r.artifacts
    ))?;
    emit("  landmarks (entry, time, session, kind, signer: what):")?;
    let names = sealtrail::query::printed_names(log);
    for receipt in [
        &r.session_started,
        &r.decision,
        &r.file_write_approval,
        &r.first_verification,
        &r.failure,
        &r.second_verification,
        &r.pr_approval,
        &r.pull_request,
        &r.session_ended,
    ] {
        let e = log
            .read(receipt.seq)?
            .ok_or_else(|| anyhow!("entry {} missing", receipt.seq))?;
        let state = sealtrail::EntrySource::payload_state(log, &e);
        emit(format!("  {}", entry_line(&e, &names, state)))?;
    }
    let l = d.show(&d.log_dir());
    d.next.push((
        format!("sealtrail why --log {l} --seq {}", r.decision.seq),
        "why this library? what informed the decision, and what depended on it".into(),
    ));
    d.next.push((
        format!(
            "sealtrail show --log {l} --session {} --kind approval",
            d.session
        ),
        "the approvals, with printed name, meaning and time".into(),
    ));
    d.next.push((
        format!(
            "sealtrail trace --log {l} --session {} --format json",
            d.session
        ),
        "the run record, for tools".into(),
    ));
    d.next.push((
        format!("sealtrail keys list --log {l}"),
        "who may sign what".into(),
    ));
    d.next.push((
        format!(
            "echo '{{\"kind\":\"command_run\",\"command\":\"cargo test\",\"exit_code\":0,\
             \"duration_ms\":41000}}' | sealtrail append --log {l} --key {} --session {}",
            d.show(&d.key_path("recorder")),
            d.session
        ),
        "append an event as a harness in any language would".into(),
    ));
    d.receipts = Some(r);
    Ok(())
}

fn verify(d: &mut Demo) -> Result<()> {
    let report = d.log()?.verify_report()?;
    for line in report.render().trim_end().lines() {
        emit(format!("  {line}"))?;
    }
    if !report.is_valid() {
        return Err(invalid("the demo log does not verify"));
    }
    Ok(())
}

fn checkpoint(d: &mut Demo) -> Result<()> {
    let log = d.log()?;
    let keys = d.keys()?;
    let signed = log.checkpoint(&keys.owner)?;
    // The witness checks the owner's signature (it trusts the log's verifier key) and that the
    // checkpoint extends the last one it cosigned for this log: here, the first.
    let witness = Witness::new(keys.witness.clone(), log.verifier_keys());
    let request = AddCheckpoint {
        old: 0,
        proof: Vec::new(),
        checkpoint: signed,
    };
    let time = sealtrail::Timestamp::now().as_nanos() / 1_000_000_000;
    let cosigned = witness
        .add_checkpoint(None, &request, time)
        .map_err(|r| anyhow!("the witness refused to cosign: {r}"))?;
    let signed = log.attach_cosignatures(&cosigned.checkpoint, &[witness.public_key()])?;
    let c = signed.checkpoint();
    let path = d.dir.join("checkpoint.txt");
    output::write(&path, &signed.encode(), Existing::Replace)?;
    emit(format!(
        "  size {}, root {}; the witness {} cosigned it; wrote {} (a C2SP signed note, the \
         owner's signature then the witness's cosignature):",
        c.size(),
        c.root(),
        d.show(&d.witness_vkey_path()),
        d.show(&path)
    ))?;
    for line in String::from_utf8_lossy(&signed.encode()).trim_end().lines() {
        emit(format!("    {line}"))?;
    }
    d.trace_options = std::mem::take(&mut d.trace_options).checkpoint(c.size(), c.root());
    Ok(())
}

fn bundle_path(d: &Demo) -> PathBuf {
    d.dir.join("demo.bundle")
}

fn export(d: &mut Demo) -> Result<()> {
    let path = bundle_path(d);
    let mut out = std::io::BufWriter::new(Output::create(&path, Existing::Replace)?);
    // Anchored on the cosigned checkpoint, and refused if it lost its cosignature.
    let summary = d.log()?.export(
        &d.keys()?.owner,
        &ExportOptions::new(Selection::Log)
            .anchor(Anchor::PreferWitnessed)
            .require_cosignatures(1),
        &mut out,
        &mut |_, _| {},
    )?;
    out.into_inner()
        .map_err(|e| anyhow!("{}: cannot write: {}", d.show(&path), e.error()))?
        .commit()?;
    emit(format!(
        "  wrote {}: {} entries with payloads, the witnessed checkpoint of size {}, and a \
         trailer signing every byte — {} bytes",
        d.show(&path),
        summary.entries,
        summary.size,
        summary.bytes
    ))?;
    Ok(())
}

fn verify_bundle(d: &mut Demo) -> Result<()> {
    let path = bundle_path(d);
    let pinned = sealtrail::keys::read_public_keys(&d.vkey_path().display().to_string())?;
    // The auditor also requires the witness's cosignature (a quorum of one).
    let witness = WitnessKey::new(d.keys()?.witness.public_key());
    let policy = TrustPolicy::new(pinned)?.with_witnesses(WitnessPolicy::new(vec![witness], 1)?);
    let file =
        std::fs::File::open(&path).with_context(|| format!("{}: cannot open", d.show(&path)))?;
    let reading = sealtrail::bundle::verify_bundle_entries(file, &policy)?;
    let report = reading.report();
    for line in report.render().trim_end().lines() {
        emit(format!("  {line}"))?;
    }
    if !report.is_valid() {
        return Err(invalid("the demo bundle does not verify"));
    }
    // The auditor's page, from the bundle's verified entries.
    let page_path = d.dir.join("report.html");
    let subject = format!("bundle {}", d.show(&path));
    let page = sealtrail::html::Page::from_reading(&reading)
        .subject(&subject)
        .rendered_at(sealtrail::Timestamp::now())
        .render()?;
    output::write(&page_path, page.as_bytes(), Existing::Replace)?;
    emit(format!(
        "  wrote {}: the auditor's page — verdict, what was proven, the session as a timeline, \
         approvals with printed name, time and meaning; open it in a browser or print it",
        d.show(&page_path)
    ))?;
    d.next.insert(
        0,
        (
            format!(
                "verify-bundle {} --trusted-key {} --witness {} --witness-quorum 1",
                d.show(&path),
                d.show(&d.vkey_path()),
                d.show(&d.witness_vkey_path())
            ),
            "verify the bundle yourself, trusting only the log's verifier key and requiring the \
             witness's cosignature (from a checkout: cargo run --release -p sealtrail-cli --bin \
             verify-bundle -- …)"
                .into(),
        ),
    );
    d.next.insert(
        1,
        (
            format!(
                "verify-bundle {} --trusted-key {} --checkpoint {} --json",
                d.show(&path),
                d.show(&d.vkey_path()),
                d.show(&d.dir.join("checkpoint.txt"))
            ),
            "the same, proving the log only grew since the checkpoint you saw, as JSON".into(),
        ),
    );
    d.next.insert(
        2,
        (
            format!(
                "verify-bundle {} --trusted-key {} --html {} --force",
                d.show(&path),
                d.show(&d.vkey_path()),
                d.show(&page_path)
            ),
            "the auditor's page again, written by the auditor's own tool".into(),
        ),
    );
    Ok(())
}

fn trace(d: &mut Demo) -> Result<()> {
    let trace = DecisionTrace::from_session(d.log()?, &d.session)?;
    let text = trace.to_markdown(&d.trace_options);
    let path = d.dir.join("trace.md");
    output::write(&path, text.as_bytes(), Existing::Replace)?;
    emit(format!(
        "  wrote {} — every line derived from signed entries:\n",
        d.show(&path)
    ))?;
    for line in text.trim_end().lines() {
        emit(format!("    {line}"))?;
    }
    Ok(())
}

fn next(d: &mut Demo) -> Result<()> {
    emit(
        "  try (from a checkout, `cargo run --release -p sealtrail-cli -- <command>` runs `sealtrail <command>`):",
    )?;
    for (command, what) in &d.next {
        emit(format!("\n  # {what}\n  {command}"))?;
    }
    Ok(())
}
