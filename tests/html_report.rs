//! The auditor's HTML page (`sealtrail::html`): every kind of record the archive must show, drawn
//! from verified entries only; hostile text shown as text; nothing fetched; no timeline and no
//! "approved by" from evidence that did not verify.

use std::collections::BTreeSet;

use sealtrail::bundle::{BundleReading, TrustPolicy, verify_bundle_entries};
use sealtrail::event::{Correction, Decision, Event, SessionStarted, Supersession};
use sealtrail::html::Page;
use sealtrail::log::{ExportOptions, Selection};
use sealtrail::query::session_events;
use sealtrail::report::{Finding, Validity};
use sealtrail::{Check, Durability, Log, SessionId, Suite};
use sealtrail_testkit::fixtures::*;
use sealtrail_testkit::scenario::{ScenarioKeys, XbrlReceipts, record_xbrl_session};

const HOSTILE_GOAL: &str =
    "<script>alert('x')</script> & \"quoted\" <img src=http://evil.example/x>";

struct Fixture {
    log: Log,
    k: Keys,
    xbrl: SessionId,
    receipts: XbrlReceipts,
    /// The decision corrected and superseded, the correction, the supersession, the replacement.
    corrected: u64,
    correction: u64,
    supersession: u64,
    replacement: u64,
    /// The entry whose payload is erased (by `populate`).
    erased: u64,
}

// A log with `populate`'s history (an approval, an erased payload), the XBRL session, a
// corrected and superseded decision, and a session whose goal is markup.
fn fixture() -> Fixture {
    let (_store, log, k) = memory_log(Suite::Blake3, Durability::Buffered);
    let history = populate(&log, &k);
    let keys = ScenarioKeys::new(&k.owner, &k.recorder, &k.approver, "Release Approver");
    let xbrl = SessionId::new("xbrl").unwrap();
    let receipts = record_xbrl_session(&log, &keys, &xbrl).unwrap();
    let w = log.session_writer(&k.recorder, &xbrl);
    let decide = |chosen: &str| {
        Event::Decision(Decision {
            question: "Where does the XBRL writer live?".into(),
            chosen: chosen.into(),
            rejected: vec![],
            rationale: "it keeps the PDF code untouched".into(),
        })
    };
    let v1 = w.append(&decide("inside src/report/pdf.rs")).unwrap();
    let c = w
        .append(&Event::Correction(Correction {
            corrects: v1.link(),
            redirected: "not beside the PDF code".into(),
            instruction: Some("put XBRL in its own module".into()),
        }))
        .unwrap();
    let v2 = w
        .append_linked(&decide("a new src/report/xbrl module"), &[c.link()])
        .unwrap();
    let s = w
        .append(&Event::Supersession(Supersession {
            reason: "the developer's correction".into(),
            supersedes: v1.link(),
            replacement: v2.link(),
        }))
        .unwrap();
    let hostile = SessionId::new("hostile").unwrap();
    log.session_writer(&k.recorder, &hostile)
        .append(&Event::SessionStarted(SessionStarted {
            objective: HOSTILE_GOAL.into(),
            agent_name: "agent\u{202E}gnp.exe".into(),
            ..SessionStarted::default()
        }))
        .unwrap();
    Fixture {
        log,
        k,
        xbrl,
        receipts,
        corrected: v1.seq,
        correction: c.seq,
        supersession: s.seq,
        replacement: v2.seq,
        erased: history[3].seq,
    }
}

fn export(f: &Fixture, options: ExportOptions) -> Vec<u8> {
    let mut out = Vec::new();
    f.log
        .export(&f.k.owner, &options, &mut out, &mut |_, _| {})
        .unwrap();
    out
}

fn reading(bundle: &[u8], k: &Keys) -> BundleReading {
    verify_bundle_entries(bundle, &TrustPolicy::new(owner_vkeys(k)).unwrap()).unwrap()
}

// Text as it appears in HTML once escaped.
fn html_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

// Every `attr="value"` in the page.
fn attribute_values(html: &str, attr: &str) -> Vec<String> {
    let needle = format!("{attr}=\"");
    html.match_indices(&needle)
        .map(|(i, _)| {
            let rest = &html[i + needle.len()..];
            rest[..rest.find('"').unwrap()].to_owned()
        })
        .collect()
}

fn ids(html: &str) -> BTreeSet<String> {
    attribute_values(html, " id").into_iter().collect()
}

#[test]
fn a_verified_bundle_shows_every_kind_of_record() {
    let f = fixture();
    let bundle = export(
        &f,
        ExportOptions::new(Selection::Log).withhold_kind(kind("model_call")),
    );
    let reading = reading(&bundle, &f.k);
    assert!(reading.report().is_valid(), "{}", reading.report().render());
    let html = Page::from_reading(&reading)
        .subject("bundle all.bundle")
        .render()
        .unwrap();

    // The verdict and what was proven.
    assert!(html.contains("<strong>VALID</strong>"));
    for p in &reading.report().proven {
        assert!(html.contains(&html_text(p)), "proven: {p}");
    }
    // Every entry has its anchor, exactly once.
    let anchors = ids(&html);
    for seq in 0..f.log.len() {
        assert!(anchors.contains(&format!("seq-{seq}")), "entry {seq}");
        assert_eq!(html.matches(&format!("id=\"seq-{seq}\"")).count(), 1);
    }
    // Each session as a timeline, with its goal and declared checks.
    assert!(html.contains("Session xbrl"));
    assert!(html.contains("Add XBRL export beside the existing PDF renderer"));
    assert!(html.contains("<code>xbrl taxonomy validation</code>"));
    // Context loaded, files read, commands and tool calls with results, failures.
    assert!(html.contains("docs/xbrl/xbrl-2.1-spec.html"));
    assert!(html.contains("<b>File read:</b> <code>src/report/model.rs</code>"));
    assert!(html.contains("<b>Command:</b> <code>cargo test</code>"));
    assert!(html.contains("<b>Tool call:</b>"));
    assert!(html.contains("period reference must be a duration"));
    // Every decision: question, choice, rejected alternatives and rationale.
    let mut decisions = 0;
    for e in session_events(&f.log, &f.xbrl).unwrap() {
        if let Some(Event::Decision(d)) = e.event {
            decisions += 1;
            for text in [&d.question, &d.chosen, &d.rationale] {
                assert!(
                    html.contains(&html_text(text)),
                    "decision {}: {text}",
                    e.seq
                );
            }
            for r in &d.rejected {
                assert!(html.contains(&html_text(&r.option)));
                assert!(html.contains(&html_text(&r.reason)));
            }
        }
    }
    assert_eq!(decisions, 3);
    // Corrections and supersessions link to what they corrected and superseded, and back.
    let link = |seq: u64| format!("<a href=\"#seq-{seq}\">entry {seq}</a>");
    assert!(html.contains(&format!("<b>Corrects:</b> {}", link(f.corrected))));
    assert!(html.contains(&format!("<b>Corrected by:</b> {}", link(f.correction))));
    assert!(html.contains(&format!("<b>Supersedes:</b> {}", link(f.corrected))));
    assert!(html.contains(&format!("<b>Replacement:</b> {}", link(f.replacement))));
    assert!(html.contains(&format!(
        "<b>Superseded by:</b> {} (replacement: {})",
        link(f.supersession),
        link(f.replacement)
    )));
    // Artifacts with their digests; verification with status.
    assert!(html.contains("<b>Artifact:</b> patchset"));
    assert!(html.contains("Status: <strong class=\"pass\">complete</strong>"));
    // Handoff.
    assert!(html.contains("<b>Handoff:</b> ready_for_review"));
    // Model calls are withheld here: the exporter's reason, per entry and in the table.
    assert!(html.contains("Payload withheld by the exporter: payloads of this kind withheld"));
    assert!(
        html.contains("<td>model_call</td><td>payloads of this kind withheld by the exporter</td>")
    );
    // Approvals: printed name, key, time of signing, meaning, subjects linked.
    let approval = f.receipts.file_write_approval.seq;
    let row_start = html
        .find(&format!(
            "<tr class=\"approval\"><td><a href=\"#seq-{approval}\">"
        ))
        .expect("the file_write approval's row");
    let row = &html[row_start..row_start + html[row_start..].find("</tr>").unwrap()];
    assert!(row.contains("<td class=\"printed-name\">Release Approver <span class=\"key\""));
    assert!(row.contains(&f.k.approver.key_id().short()));
    assert!(row.contains("<td>approval</td><td>approve</td><td>file_write</td>"));
    let approved = match f.log.read(approval).unwrap().unwrap().payload.data() {
        Some(d) => match Event::decode(&kind("approval"), d).unwrap() {
            Event::Approval(a) => a,
            _ => unreachable!(),
        },
        None => unreachable!(),
    };
    assert!(row.contains(&format!(
        "<time datetime=\"{}\">",
        approved.signed_at().to_rfc3339()
    )));
    for subject in approved.entries() {
        assert!(row.contains(&format!("href=\"#seq-{}\">entry", subject.seq)));
    }
    // An approved artifact links to the entry that declared it.
    assert!(!approved.artifacts().is_empty());
    for d in approved.artifacts() {
        assert!(row.contains(&format!("\"><code>{}</code></a>", d.to_hex())));
    }
    // The approved entries say who signed them off.
    assert!(html.contains(
        "<b>Signed off:</b> approved by <span class=\"printed-name\">Release Approver</span>"
    ));
    // The erasure: what, why, who and when, from the erasure entry.
    let erasure_row = html
        .find(&format!(
            "<tr><td>{}</td><td class=\"text\">test erasure</td>",
            link(f.erased)
        ))
        .expect("the erasure's row");
    assert!(html[erasure_row..].contains(&f.k.owner.key_id().short()));
    assert!(html.contains("Payload erased from the log by"));
    // Keys, checkpoint.
    assert!(html.contains("<td>registered</td>"));
    let c = reading.report().checkpoint.as_ref().unwrap();
    assert!(html.contains(&format!("size {}, root <code>{}</code>", c.size, c.root)));
    // Every link points at an anchor on the page, and nothing points anywhere else.
    for href in attribute_values(&html, "href") {
        let target = href.strip_prefix('#').expect("only anchors");
        assert!(anchors.contains(target), "dangling #{target}");
    }
    assert_only_inert(&html);
}

// No script, no fetch: the static half of "the page makes no network request".
fn assert_only_inert(html: &str) {
    let lower = html.to_ascii_lowercase();
    assert!(lower.contains(
        "<meta http-equiv=\"content-security-policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; img-src data:\">"
    ));
    for forbidden in [
        "<script", "<link", "<iframe", "<object", "<embed", "@import", "url(",
    ] {
        assert!(!lower.contains(forbidden), "{forbidden}");
    }
    for attr in ["src", "href", "action", "srcset", "poster", "data"] {
        for v in attribute_values(&lower, &format!(" {attr}")) {
            assert!(
                v.starts_with('#') || v.starts_with("data:"),
                "{attr}=\"{v}\" points outside the page"
            );
        }
    }
}

#[test]
fn hostile_text_is_shown_as_text() {
    let f = fixture();
    let bundle = export(&f, ExportOptions::new(Selection::Log));
    let html = Page::from_reading(&reading(&bundle, &f.k))
        .render()
        .unwrap();
    assert!(html.contains(&html_text(HOSTILE_GOAL)), "the goal, escaped");
    assert!(!html.to_ascii_lowercase().contains("<script"));
    assert!(!html.contains("<img"));
    // A right-to-left override cannot reorder what the auditor reads.
    assert!(html.contains("agent[U+202E]gnp.exe"));
    assert!(!html.contains('\u{202E}'));
    assert_only_inert(&html);
}

#[test]
fn the_local_log_renders_from_its_own_verification() {
    let f = fixture();
    let report = f.log.verify_report().unwrap();
    let html = Page::verified(&report, &f.log)
        .subject("log ./log")
        .render()
        .unwrap();
    assert!(html.contains("<strong>VALID</strong>"));
    assert!(html.contains("<title>sealtrail evidence: log ./log</title>"));
    assert!(html.contains("Release Approver"));
    // Nothing withheld from the owner's own log; the erased payload is still erased.
    assert!(html.contains("<h3>Withheld payloads</h3><p class=\"note\">"));
    assert!(!html.contains("Payload withheld by the exporter"));
    assert!(html.contains("Payload erased from the log by"));
    // Entries appended after the verification are not drawn: the page is the report's.
    let later = f
        .log
        .append(
            &f.k.recorder,
            command("cargo build", 0, 1_000).session(&f.xbrl),
        )
        .unwrap();
    let html = Page::verified(&report, &f.log).render().unwrap();
    assert!(!html.contains(&format!("id=\"seq-{}\"", later.seq)));
}

#[test]
fn an_invalid_bundle_shows_no_timeline_and_no_approval() {
    let f = fixture();
    let mut bundle = export(&f, ExportOptions::new(Selection::Log));
    // A change inside the entries: an entry no longer matches its signature or its hash.
    let at = bundle.len() / 2;
    bundle[at] ^= 0x01;
    let reading = reading(&bundle, &f.k);
    assert!(!reading.report().is_valid());
    let html = Page::from_reading(&reading).render().unwrap();
    assert_no_trust(&html);
    for finding in &reading.report().findings {
        assert!(
            html.contains(&html_text(&finding.message)),
            "{}",
            finding.message
        );
    }
}

#[test]
fn a_source_is_not_drawn_for_a_report_that_failed() {
    // Even handed the entries, the page draws none of them once a check failed.
    let f = fixture();
    let mut report = f.log.verify_report().unwrap();
    report.verdict = Validity::Invalid;
    report.findings.push(Finding {
        seq: Some(5),
        check: Check::Signature,
        message: "entry 5: signature does not verify".into(),
    });
    report.proven.clear();
    let html = Page::verified(&report, &f.log).render().unwrap();
    assert_no_trust(&html);
    assert!(html.contains("<tr><td>5</td><td>signature</td>"));
    // The report and the source both hold approvals; the page shows neither.
    assert!(!report.approvals.is_empty());
    assert!(!f.log.is_empty());
}

fn assert_no_trust(html: &str) {
    assert!(html.contains("<strong>INVALID</strong>"));
    assert!(html.contains("Nothing in this evidence is trusted"));
    assert!(html.contains("<h2>Findings</h2>"));
    for absent in [
        "id=\"seq-",
        "class=\"timeline\"",
        "Release Approver",
        "Add XBRL export",
        "<h2>Approvals</h2>",
        "class=\"session\"",
    ] {
        assert!(!html.contains(absent), "{absent} on an invalid page");
    }
    assert_only_inert(html);
}
