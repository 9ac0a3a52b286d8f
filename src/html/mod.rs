//! The auditor's archive page: one self-contained HTML file with the verdict, what was proven,
//! and — when every check passed — each session as a timeline, the approvals with their
//! signature manifestations (21 CFR 11.50), erasures and withheld payloads, keys, checkpoint and
//! witnesses. Informative: the page is not part of the format (SPEC §12.6 and §13 are).
//!
//! Everything on the page comes from a [`Report`] and the [`EntrySource`] it was computed over:
//! the local [`Log`](crate::Log) after `verify`, or a [`VerifiedBundle`](crate::bundle::VerifiedBundle).
//! When the report is not valid the page shows the verdict, the findings and the log's facts as
//! the evidence states them — never a timeline or an approval from entries that did not verify.
//!
//! The page needs nothing else: no script at all, no fonts, no images, no external style sheet.
//! A Content-Security-Policy (`default-src 'none'; style-src 'unsafe-inline'; img-src data:`)
//! keeps a browser from fetching anything even if a future change slipped a reference in, and
//! every link is to an anchor on the page: each entry is `#seq-N`, so an approval links to what
//! it approves, a correction to what it corrected, an erasure to what it erased. Every text an
//! entry carries is escaped. A print style sheet lays it out for paper.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use sealtrail::bundle::{BundleReading, TrustPolicy, verify_bundle_entries};
//! use sealtrail::html::Page;
//! use sealtrail::log::{ExportOptions, Selection};
//! use sealtrail::{Log, SecretKey};
//!
//! let owner = SecretKey::generate("example.com/agent-log")?;
//! let log = Log::in_memory(&owner, "example.com/agent-log")?;
//! let mut bundle = Vec::new();
//! log.export(&owner, &ExportOptions::new(Selection::Log), &mut bundle, &mut |_, _| {})?;
//! let reading = verify_bundle_entries(&bundle[..], &TrustPolicy::new(log.verifier_keys())?)?;
//! let html = Page::from_reading(&reading).subject("bundle all.bundle").render()?;
//! assert!(html.contains("VALID"));
//! # Ok(()) }
//! ```

mod defects;
mod escape;
mod sections;
mod timeline;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

use crate::bundle::BundleReading;
use crate::defects::DefectReport;
use crate::entry::{Erasure, Kind, SessionId};
use crate::event::Event;
use crate::hash::Digest;
use crate::keys::KeyId;
use crate::log::{ReadError, StoredEntry};
use crate::query::{self, SessionEvent, SignedApproval};
use crate::report::{Report, Validity};
use crate::source::{EntrySource, PayloadState};
use crate::time::Timestamp;

use escape::Esc;

/// At most this many entries are drawn on one page; the rest are counted, and named by the
/// command that lists them.
pub const MAX_ENTRIES: u64 = 100_000;

/// Why a page could not be rendered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HtmlError {
    /// Reading an entry from the source failed.
    #[error(transparent)]
    Read(#[from] ReadError),
}

/// The page for one verification: what it is about, and the entries to draw when it passed.
#[derive(Clone, Copy)]
pub struct Page<'a> {
    report: &'a Report,
    source: Option<&'a dyn EntrySource>,
    subject: Option<&'a str>,
    rendered_at: Option<Timestamp>,
    defects: &'a [DefectReport],
}

impl std::fmt::Debug for Page<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Page")
            .field("verdict", &self.report.verdict)
            .field("source", &self.source.map(|s| s.log_id()))
            .field("subject", &self.subject)
            .finish()
    }
}

impl<'a> Page<'a> {
    /// The page for `report`, computed over `source`. The source's entries are drawn only if the
    /// report is valid, and only those in the report's range (a log may have grown since).
    pub fn verified(report: &'a Report, source: &'a dyn EntrySource) -> Page<'a> {
        Page {
            report,
            source: Some(source),
            subject: None,
            rendered_at: None,
            defects: &[],
        }
    }

    /// The page for a report with no entries to draw (an invalid bundle): verdict, findings and
    /// facts.
    pub fn report_only(report: &'a Report) -> Page<'a> {
        Page {
            report,
            source: None,
            subject: None,
            rendered_at: None,
            defects: &[],
        }
    }

    /// The page for a bundle's verification: its entries when it verified, its report alone
    /// when it did not.
    pub fn from_reading(reading: &'a BundleReading) -> Page<'a> {
        match reading {
            BundleReading::Valid(b) => Page::verified(b.report(), b),
            other => Page::report_only(other.report()),
        }
    }

    /// What was verified, in words, for the title (`bundle demo.bundle`, `log ./log`).
    pub fn subject(mut self, subject: &'a str) -> Page<'a> {
        self.subject = Some(subject);
        self
    }

    /// When the page was made, printed in its header.
    pub fn rendered_at(mut self, time: Timestamp) -> Page<'a> {
        self.rendered_at = Some(time);
        self
    }

    /// Adds defect-rate tables (SPEC §13.16), each drawn as a chart and a table. They are shown
    /// only when the report is valid: their incidents and merges come from the entries.
    pub fn defects(mut self, tables: &'a [DefectReport]) -> Page<'a> {
        self.defects = tables;
        self
    }

    /// The page, as one HTML document.
    pub fn render(&self) -> Result<String, HtmlError> {
        let r = self.report;
        let valid = r.verdict == Validity::Valid;
        // Entries only from a source whose verification passed.
        let held = match (valid, self.source) {
            (true, Some(source)) => Some(Held::collect(source, r)?),
            _ => None,
        };
        let mut w = String::with_capacity(64 * 1024);
        let title = match self.subject {
            Some(s) => format!("sealtrail evidence: {s}"),
            None => format!("sealtrail evidence: log {}", r.log.origin),
        };
        head(&mut w, &title);
        let _ = write!(w, "<header><h1>{}</h1>", Esc(&title));
        let _ = write!(
            w,
            "<p class=\"meta\">Made by sealtrail {} from the verified record",
            env!("CARGO_PKG_VERSION")
        );
        if let Some(t) = self.rendered_at {
            let _ = write!(w, " on {}", time(t));
        }
        w.push_str(".</p></header>\n");
        if let Some(h) = &held {
            sections::toc(&mut w, h, !self.defects.is_empty());
        }
        w.push_str("<main>\n");
        sections::verdict(&mut w, r, held.is_some(), self.source.is_some());
        sections::facts(&mut w, r, valid);
        sections::findings(&mut w, r);
        if let Some(h) = &held {
            sections::approvals(&mut w, h);
            sections::redactions(&mut w, r, h);
            sections::sessions(&mut w, h);
            sections::others(&mut w, h);
            if !self.defects.is_empty() {
                defects::section(&mut w, self.defects);
            }
        }
        sections::footer(&mut w, r);
        w.push_str("</main>\n</body>\n</html>\n");
        Ok(w)
    }
}

/// An entry drawn on the page, with its payload state and its event (or why it does not decode).
struct Item {
    entry: StoredEntry,
    state: PayloadState,
    event: Result<Option<Event>, String>,
}

impl Item {
    fn seq(&self) -> u64 {
        self.entry.seq()
    }

    fn event(&self) -> Option<&Event> {
        self.event.as_ref().ok().and_then(Option::as_ref)
    }

    fn session_event(&self) -> SessionEvent {
        let h = self.entry.header();
        SessionEvent {
            seq: h.seq,
            time: h.time,
            signer: h.signer,
            kind: h.kind.clone(),
            links: h.links.clone(),
            event: self.event().cloned(),
            erased: self.state == PayloadState::Erased,
            payload: self.state,
        }
    }
}

/// An erasure entry: what it erased, why, who and when.
struct ErasureNote {
    seq: u64,
    erased: Option<u64>,
    reason: Option<String>,
    signer: KeyId,
    time: Timestamp,
}

/// Everything drawn from a verified source, with the cross-references between entries.
struct Held {
    names: HashMap<KeyId, String>,
    /// Sessions in order of their first entry.
    sessions: Vec<(SessionId, Vec<Item>)>,
    /// Entries outside any session: key changes, erasures.
    others: Vec<Item>,
    /// Every position drawn (the anchors that exist).
    drawn: BTreeSet<u64>,
    /// Entries in the report's range not drawn (over [`MAX_ENTRIES`]).
    not_drawn: u64,
    approvals: Vec<SignedApproval>,
    erasures: Vec<ErasureNote>,
    /// Erased entry → its erasure entry.
    erased_by: BTreeMap<u64, usize>,
    /// Purged entry → the purge entry that records it (SPEC §7.8), from the report.
    purged_by: BTreeMap<u64, crate::report::ErasureRecord>,
    /// Entry → the corrections that correct it.
    corrected_by: BTreeMap<u64, Vec<u64>>,
    /// Entry → (supersession entry, replacement).
    superseded_by: BTreeMap<u64, Vec<(u64, u64)>>,
    /// Entry → the approvals (and rejections) of it.
    approved_in: BTreeMap<u64, Vec<u64>>,
    /// Artifact digest → the artifact entry that declared it first.
    artifacts: HashMap<Digest, u64>,
}

impl Held {
    fn collect(source: &dyn EntrySource, report: &Report) -> Result<Held, HtmlError> {
        let names = source.printed_names();
        let mut held = Held {
            names,
            sessions: Vec::new(),
            others: Vec::new(),
            drawn: BTreeSet::new(),
            not_drawn: 0,
            approvals: Vec::new(),
            erasures: Vec::new(),
            erased_by: BTreeMap::new(),
            purged_by: report
                .redacted
                .iter()
                .filter(|x| x.reason == crate::report::RedactionReason::Purged)
                .filter_map(|x| Some((x.seq, x.erasure.clone()?)))
                .collect(),
            corrected_by: BTreeMap::new(),
            superseded_by: BTreeMap::new(),
            approved_in: BTreeMap::new(),
            artifacts: HashMap::new(),
        };
        let Some(range) = report.range else {
            return Ok(held);
        };
        let mut index: HashMap<String, usize> = HashMap::new();
        for e in source.range(range.first..range.last.saturating_add(1)) {
            let entry = e?;
            if held.drawn.len() as u64 >= MAX_ENTRIES {
                held.not_drawn += 1;
                continue;
            }
            let state = source.payload_state(&entry);
            let event = query::decode_event(&entry).map_err(|e| e.to_string());
            let item = Item {
                entry,
                state,
                event,
            };
            held.note(&item);
            held.drawn.insert(item.seq());
            let session = &item.entry.header().session;
            if session.is_none() {
                held.others.push(item);
            } else {
                let i = *index.entry(session.as_str().to_owned()).or_insert_with(|| {
                    held.sessions.push((session.clone(), Vec::new()));
                    held.sessions.len() - 1
                });
                held.sessions[i].1.push(item);
            }
        }
        Ok(held)
    }

    // Cross-references: what each entry says about earlier ones.
    fn note(&mut self, item: &Item) {
        let h = item.entry.header();
        let seq = h.seq;
        if h.kind.as_str() == Kind::ERASURE {
            let reason = item
                .entry
                .payload
                .data()
                .and_then(|d| crate::codec::from_canonical::<Erasure>(d).ok())
                .map(|e| e.reason);
            let erased = h.links.first().map(|l| l.seq);
            if let Some(target) = erased {
                self.erased_by.insert(target, self.erasures.len());
            }
            self.erasures.push(ErasureNote {
                seq,
                erased,
                reason,
                signer: h.signer,
                time: h.time,
            });
            return;
        }
        match item.event() {
            Some(Event::Correction(c)) => {
                self.corrected_by
                    .entry(c.corrects.seq)
                    .or_default()
                    .push(seq);
            }
            Some(Event::Supersession(s)) => {
                self.superseded_by
                    .entry(s.supersedes.seq)
                    .or_default()
                    .push((seq, s.replacement.seq));
            }
            Some(Event::Artifact(a)) => {
                self.artifacts.entry(a.digest).or_insert(seq);
            }
            Some(Event::Approval(a)) => {
                for l in a.entries() {
                    self.approved_in.entry(l.seq).or_default().push(seq);
                }
                self.approvals.push(SignedApproval {
                    seq,
                    time: h.time,
                    signer: h.signer,
                    printed_name: self.name(&h.signer),
                    approval: a.clone(),
                });
            }
            _ => {}
        }
    }

    fn name(&self, key: &KeyId) -> String {
        self.names
            .get(key)
            .cloned()
            .unwrap_or_else(|| format!("unregistered key {}", key.short()))
    }

    /// `entry N` as a link to its anchor, or as text (with why) when it is not on the page.
    fn entry_ref(&self, seq: u64) -> String {
        if self.drawn.contains(&seq) {
            format!("<a href=\"#seq-{seq}\">entry {seq}</a>")
        } else {
            format!("entry {seq} <span class=\"note\">(not in this record)</span>")
        }
    }

    fn entry_refs(&self, seqs: impl IntoIterator<Item = u64>) -> String {
        seqs.into_iter()
            .map(|s| self.entry_ref(s))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// An artifact digest, linked to the artifact entry that declared it when there is one.
    fn digest_ref(&self, d: &Digest) -> String {
        match self.artifacts.get(d) {
            Some(seq) if self.drawn.contains(seq) => format!(
                "<a href=\"#seq-{seq}\"><code>{}</code></a>",
                Esc(&d.to_hex())
            ),
            _ => format!("<code>{}</code>", Esc(&d.to_hex())),
        }
    }

    /// A signer: printed name and key id.
    fn signer(&self, key: &KeyId) -> String {
        format!(
            "{} <span class=\"key\" title=\"{}\">key {}</span>",
            Esc(&self.name(key)),
            Esc(&key.to_string()),
            Esc(&key.short())
        )
    }
}

/// A time for people, with its exact machine-readable form.
fn time(t: Timestamp) -> String {
    format!(
        "<time datetime=\"{}\">{}</time>",
        Esc(&t.to_rfc3339()),
        Esc(&t.to_datetime().format("%Y-%m-%d %H:%M:%S UTC").to_string())
    )
}

/// The document's head, with its policy and styles. Nothing is fetched: no script, no font, no
/// style sheet, no image.
fn head(w: &mut String, title: &str) {
    let _ = write!(
        w,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        Esc(title)
    );
}

/// The page's Content-Security-Policy: nothing may be fetched or run.
pub const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

const CSS: &str = "
:root { --ok: #1b5e20; --bad: #b71c1c; --line: #c8c8c8; --soft: #f4f4f4; }
body { font: 15px/1.45 system-ui, -apple-system, 'Segoe UI', sans-serif; color: #111;
  max-width: 72rem; margin: 0 auto; padding: 1rem 1.5rem; }
h1 { font-size: 1.5rem; margin: .2rem 0; } h2 { font-size: 1.25rem; border-bottom: 1px solid var(--line);
  padding-bottom: .2rem; margin-top: 2rem; } h3 { font-size: 1.05rem; margin-top: 1.4rem; }
code, .key, pre { font-family: ui-monospace, 'DejaVu Sans Mono', monospace; font-size: .88em; }
code { overflow-wrap: anywhere; } pre { white-space: pre-wrap; overflow-wrap: anywhere;
  background: var(--soft); padding: .4rem .6rem; margin: .3rem 0; }
.meta, .note, .key { color: #555; } .text { white-space: pre-wrap; overflow-wrap: anywhere; }
.verdict { border: 3px solid; padding: .6rem 1rem; margin: 1rem 0; }
.verdict.valid { border-color: var(--ok); } .verdict.invalid { border-color: var(--bad); }
.verdict strong { font-size: 1.6rem; letter-spacing: .05em; }
.valid strong, .pass { color: var(--ok); } .invalid strong, .fail, .failed { color: var(--bad); }
table { border-collapse: collapse; width: 100%; margin: .4rem 0; }
th, td { border: 1px solid var(--line); padding: .25rem .45rem; text-align: left; vertical-align: top; }
th { background: var(--soft); } dl.facts { display: grid; grid-template-columns: max-content 1fr;
  gap: .15rem 1rem; } dl.facts dt { font-weight: 600; } dl.facts dd { margin: 0; overflow-wrap: anywhere; }
nav ol { columns: 2; } ol.timeline { list-style: none; padding: 0; border-left: 3px solid var(--line); }
li.entry { margin: 0 0 .55rem 0; padding: .3rem .6rem; border-bottom: 1px dotted var(--line); }
li.entry:target { background: #fff8c4; }
.head { font-size: .9em; color: #333; } .kind { font-weight: 700; }
.k-decision, .k-approval, .k-correction, .k-supersession, .k-failure_seen { border-left: 4px solid #555; }
.k-failure_seen { border-left-color: var(--bad); } .k-approval { border-left-color: var(--ok); }
.absent { font-style: italic; color: #555; }
@page { margin: 14mm; }
@media print {
  body { font-size: 10pt; max-width: none; padding: 0; } nav { display: none; }
  a { color: inherit; text-decoration: none; } li.entry { break-inside: avoid; }
  h2, h3 { break-after: avoid; } table, .verdict { break-inside: avoid; }
  pre { background: none; border: 1px solid var(--line); } figure.chart { break-inside: avoid; }
}
figure.chart { margin: .6rem 0; overflow-x: auto; } figure.chart figcaption { color: #555; font-size: .9em; }
";
