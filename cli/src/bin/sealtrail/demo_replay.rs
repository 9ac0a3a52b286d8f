//! The demo's replay step: the XBRL session replayed through the scripted harness with another
//! model and from record, and the runs compared (SPEC §13.12, §13.13).

use std::path::Path;

use anyhow::{Result, anyhow};
use sealtrail::compare::compare_sessions;

use crate::common::emit;
use crate::demo::Demo;
use crate::output::{self, Existing};
use crate::replay::{LogSlot, ReplayOptions, next_replay_id, run};

/// The model the demo replays with.
pub const OVERRIDE_MODEL: &str = "claude-sonnet-4";

// Marks the work directory as the demo's, so a later run may empty it.
const MARKER: &str = ".sealtrail-replay-work";

// The scripted harness is this binary's hidden `replay-harness` command.
fn harness_command() -> Result<String> {
    let exe = std::env::current_exe()?;
    let exe = exe
        .to_str()
        .ok_or_else(|| anyhow!("{}: not UTF-8", exe.display()))?;
    Ok(format!("'{}' replay-harness", exe.replace('\'', r"'\''")))
}

// An empty work directory; one the demo made before is emptied, anything else is refused.
fn fresh_workdir(dir: &Path) -> Result<()> {
    if dir.exists() {
        if !dir.join(MARKER).is_file() {
            return Err(anyhow!(
                "{}: exists and is not the demo's replay work directory; move it away",
                dir.display()
            ));
        }
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join(MARKER), b"sealtrail demo replay work directory\n")?;
    Ok(())
}

/// Replays the session with [`OVERRIDE_MODEL`] (steps that cannot be reused run in
/// `DIR/replay-work`) and from record with no overrides, and writes `DIR/compare.md` and
/// `DIR/compare.json` for the first.
pub fn replay(d: &mut Demo) -> Result<()> {
    let log = d.log.as_ref().ok_or_else(|| anyhow!("no log yet"))?;
    let recorder = &d
        .keys
        .as_ref()
        .ok_or_else(|| anyhow!("no keys yet"))?
        .recorder;
    let agent = harness_command()?;
    let workdir = d.dir.join("replay-work");
    fresh_workdir(&workdir)?;
    let mut slot = LogSlot::Borrowed(log);
    let with_model = ReplayOptions {
        original: d.session.clone(),
        replay: next_replay_id(log, &d.session)?,
        overrides: vec![format!("model={OVERRIDE_MODEL}")],
        regate: false,
        no_exec: false,
        from_record: false,
        workdir: Some(workdir.clone()),
        agent: agent.clone(),
        harness_timeout: std::time::Duration::from_secs(600),
    };
    let a = run(&mut slot, recorder, &with_model)?;
    if let Some(e) = &a.error {
        return Err(anyhow!("replay with {OVERRIDE_MODEL} failed: {e}"));
    }
    emit(format!(
        "  {}: model={OVERRIDE_MODEL} — {} entries, {} steps reused, {} executed in {}, {} refused, gates reused by reference: {}",
        a.session,
        a.entries,
        a.reused,
        a.executed,
        d.show(&workdir),
        a.refused,
        a.gates.reused
    ))?;
    let from_record = ReplayOptions {
        replay: next_replay_id(log, &d.session)?,
        overrides: Vec::new(),
        from_record: true,
        no_exec: true,
        workdir: None,
        ..with_model.clone()
    };
    let b = run(&mut slot, recorder, &from_record)?;
    if let Some(e) = &b.error {
        return Err(anyhow!("replay from record failed: {e}"));
    }
    let c = compare_sessions(log, &d.session, &with_model.replay)?;
    let same = compare_sessions(log, &d.session, &from_record.replay)?;
    let md = d.dir.join("compare.md");
    let js = d.dir.join("compare.json");
    output::write(&md, c.to_markdown().as_bytes(), Existing::Replace)?;
    let mut json = serde_json::to_string_pretty(&c.to_json())?;
    json.push('\n');
    output::write(&js, json.as_bytes(), Existing::Replace)?;
    if let Some(first) = c.first_divergence() {
        emit(format!(
            "  first divergence, step {}: {} `{}`: {}",
            first.step, first.kind, first.step_name, first.what
        ))?;
    }
    if let Some(decision) = c.divergences.iter().find(|x| x.kind == "decision") {
        emit(format!(
            "  the design decision, step {}: {}",
            decision.step, decision.what
        ))?;
    }
    let cost = |t: &sealtrail::compare::RunTotals| {
        let m = t.cost_micros.get("USD").copied().unwrap_or(0);
        (m, format!("{}.{:06} USD", m / 1_000_000, m % 1_000_000))
    };
    let (ca, sa) = cost(&c.a);
    let (cb, sb) = cost(&c.b);
    let diff = cb.abs_diff(ca);
    emit(format!(
        "  cost: {sa} recorded vs {sb} with {OVERRIDE_MODEL} ({}{}.{:06} USD); model calls {} vs {}",
        if cb >= ca { "+" } else { "-" },
        diff / 1_000_000,
        diff % 1_000_000,
        c.a.model_calls,
        c.b.model_calls
    ))?;
    emit(format!(
        "  checks passing on the first try: {} of {} vs {} of {}; iteration cycles {} vs {}",
        c.a.first_try_passes,
        c.a.checks,
        c.b.first_try_passes,
        c.b.checks,
        c.a.iteration_cycles,
        c.b.iteration_cycles
    ))?;
    emit(format!(
        "  {}: from record, no overrides — {} model calls answered from the original, {}; patchsets {}",
        from_record.replay,
        b.model_calls.from_record,
        if same.is_identical() {
            "compare says identical"
        } else {
            "compare finds divergences"
        },
        if same.identical_patchsets {
            "identical"
        } else {
            "different"
        }
    ))?;
    emit(format!("  wrote {} and {}", d.show(&md), d.show(&js)))?;
    d.next.push((
        format!(
            "sealtrail compare --log {} {} {}",
            d.show(&d.dir.join("log")),
            d.session,
            with_model.replay
        ),
        format!("the recorded run beside the {OVERRIDE_MODEL} replay, every divergence"),
    ));
    Ok(())
}
