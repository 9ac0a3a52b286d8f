//! Defect rate by code origin and by prompt pattern (SPEC §13.16): per period, the commits of
//! each origin (or of sessions with each tag), their changed lines, the incidents that implicate
//! them, incidents per commit and per thousand changed lines, and the median and 90th-percentile
//! time to incident.
//!
//! The commits and their origins come from the repository ([`CommitFacts`], read by the caller);
//! the incidents, merges and session tags from verified entries ([`EntrySource`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

use chrono::Datelike;
use serde::Serialize;

use crate::event::Event;
use crate::lineage::CommitFacts;
use crate::query::{QueryError, decode_event};
use crate::source::EntrySource;

/// The version of the JSON form: its `schema` member.
pub const SCHEMA: &str = "sealtrail.defects/1";

/// The group of rows for commits whose session has no tags (or that no session wrote).
pub const UNTAGGED: &str = "(untagged)";

/// How commits are grouped in time, by commit time (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Period {
    /// Calendar quarters: `2026-Q1`.
    Quarter,
    /// Calendar months: `2026-03`.
    Month,
}

/// How commits are grouped within a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum GroupBy {
    /// By origin: `human`, `agent`, `mixed` (SPEC §13.9 trailers; `unknown` without one).
    Origin,
    /// By the tags of the session a commit's `Sealtrail-Session` trailer names; a commit counts
    /// once under each tag.
    PromptTag,
}

/// One row: a period and a group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DefectRow {
    /// The period, e.g. `2026-Q1`.
    pub period: String,
    /// The group: an origin, a tag, [`UNTAGGED`], or `all` for the period's total.
    pub group: String,
    /// Commits.
    pub commits: u64,
    /// Lines added plus deleted.
    pub changed_lines: u64,
    /// Distinct incidents implicating at least one of these commits.
    pub incidents: u64,
    /// `incidents / commits`.
    pub incidents_per_commit: f64,
    /// `incidents · 1000 / changed_lines`; `None` with no changed lines.
    pub incidents_per_kloc: Option<f64>,
    /// Median time to incident (ns), over (incident, commit) pairs.
    pub median_time_to_incident: Option<u64>,
    /// 90th-percentile time to incident (ns).
    pub p90_time_to_incident: Option<u64>,
}

/// The defect-rate table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DefectReport {
    /// The period.
    pub period: Period,
    /// The grouping.
    pub by: GroupBy,
    /// Rows, by period, then the groups in name order, then `all`.
    pub rows: Vec<DefectRow>,
}

/// The nearest-rank percentile `p` (1–100) of sorted values: the value at rank `⌈p·n/100⌉`.
pub fn nearest_rank(sorted: &[u64], p: u64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len() as u64;
    let rank = (p * n).div_ceil(100).max(1);
    sorted.get(usize::try_from(rank - 1).ok()?).copied()
}

fn period_of(period: Period, t: crate::time::Timestamp) -> String {
    let d = t.to_datetime();
    match period {
        Period::Quarter => format!("{}-Q{}", d.year(), (d.month() - 1) / 3 + 1),
        Period::Month => format!("{}-{:02}", d.year(), d.month()),
    }
}

#[derive(Default)]
struct Acc {
    commits: u64,
    lines: u64,
    incidents: BTreeSet<String>,
    times: Vec<u64>,
}

/// Builds the table from the repository's commits and the source's incidents, merges and
/// session tags. Commits without a time are left out.
pub fn defect_report<S: EntrySource + ?Sized>(
    source: &S,
    commits: &[CommitFacts],
    period: Period,
    by: GroupBy,
) -> Result<DefectReport, QueryError> {
    // One pass: incidents by commit, the first merge time of each commit, session tags.
    let mut incidents: HashMap<String, Vec<(String, u64)>> = HashMap::new();
    let mut merged: HashMap<String, u64> = HashMap::new();
    let mut tags: HashMap<String, Vec<String>> = HashMap::new();
    for e in source.range(0..source.len()) {
        let e = e.map_err(QueryError::Read)?;
        match decode_event(&e)? {
            Some(Event::Incident(i)) => {
                for c in &i.commits {
                    incidents
                        .entry(c.clone())
                        .or_default()
                        .push((i.id.clone(), i.detected_at));
                }
            }
            Some(Event::Merge(m)) => {
                for c in m.change.commit.iter().chain(m.merge_commit.iter()) {
                    merged.entry(c.clone()).or_insert(e.header().time.0);
                }
            }
            Some(Event::SessionStarted(s)) => {
                tags.entry(e.header().session.as_str().to_owned())
                    .or_insert(s.tags);
            }
            _ => {}
        }
    }
    let mut table: BTreeMap<(String, String), Acc> = BTreeMap::new();
    for c in commits {
        let Some(time) = c.time else { continue };
        let p = period_of(period, time);
        let groups: Vec<String> = match by {
            GroupBy::Origin => vec![c.origin.map_or("unknown", |o| o.as_str()).to_owned()],
            GroupBy::PromptTag => {
                let t = c
                    .session
                    .as_ref()
                    .and_then(|s| tags.get(s))
                    .filter(|t| !t.is_empty());
                match t {
                    Some(t) => t.clone(),
                    None => vec![UNTAGGED.to_owned()],
                }
            }
        };
        let start = merged.get(&c.commit).copied().unwrap_or(time.0);
        let implicated = incidents.get(&c.commit).cloned().unwrap_or_default();
        let mut keys = groups;
        keys.push("all".to_owned());
        keys.dedup();
        for g in keys {
            let acc = table.entry((p.clone(), g)).or_default();
            acc.commits += 1;
            acc.lines += c.changed_lines.unwrap_or(0);
            for (id, detected) in &implicated {
                acc.incidents.insert(id.clone());
                if let Some(t) = detected.checked_sub(start) {
                    acc.times.push(t);
                }
            }
        }
    }
    let mut rows: Vec<DefectRow> = table
        .into_iter()
        .map(|((period, group), mut acc)| {
            acc.times.sort_unstable();
            let incidents = acc.incidents.len() as u64;
            DefectRow {
                period,
                group,
                commits: acc.commits,
                changed_lines: acc.lines,
                incidents,
                incidents_per_commit: incidents as f64 / acc.commits as f64,
                incidents_per_kloc: (acc.lines > 0)
                    .then(|| incidents as f64 * 1000.0 / acc.lines as f64),
                median_time_to_incident: nearest_rank(&acc.times, 50),
                p90_time_to_incident: nearest_rank(&acc.times, 90),
            }
        })
        .collect();
    // `all` last within each period.
    rows.sort_by(|a, b| {
        (a.period.as_str(), a.group == "all", a.group.as_str()).cmp(&(
            b.period.as_str(),
            b.group == "all",
            b.group.as_str(),
        ))
    });
    Ok(DefectReport { period, by, rows })
}

pub(crate) fn days(ns: Option<u64>) -> String {
    match ns {
        Some(ns) => format!("{:.1}", ns as f64 / 86_400e9),
        None => "—".to_owned(),
    }
}

impl DefectReport {
    /// The table as one JSON object, with `schema`.
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        if let Some(o) = v.as_object_mut() {
            o.insert("schema".into(), SCHEMA.into());
        }
        v
    }

    /// The table for people, as Markdown (rates to three decimals, times in days).
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        let group = match self.by {
            GroupBy::Origin => "origin",
            GroupBy::PromptTag => "prompt tag",
        };
        let _ = writeln!(
            s,
            "| period | {group} | commits | changed lines | incidents | incidents/commit | incidents/kLOC | median days to incident | p90 days to incident |"
        );
        let _ = writeln!(s, "|---|---|---:|---:|---:|---:|---:|---:|---:|");
        for r in &self.rows {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {:.3} | {} | {} | {} |",
                r.period,
                r.group,
                r.commits,
                r.changed_lines,
                r.incidents,
                r.incidents_per_commit,
                r.incidents_per_kloc
                    .map_or_else(|| "—".to_owned(), |k| format!("{k:.3}")),
                days(r.median_time_to_incident),
                days(r.p90_time_to_incident),
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        assert_eq!(nearest_rank(&[], 50), None);
        assert_eq!(nearest_rank(&[7], 90), Some(7));
        assert_eq!(nearest_rank(&[1, 2, 3, 4], 50), Some(2));
        assert_eq!(nearest_rank(&[1, 2, 3, 4], 90), Some(4));
        let ten: Vec<u64> = (1..=10).collect();
        assert_eq!(nearest_rank(&ten, 90), Some(9));
        assert_eq!(nearest_rank(&ten, 50), Some(5));
    }
}
