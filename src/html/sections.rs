//! The page's sections, top to bottom: contents, verdict, the log's facts, findings, approvals,
//! erasures and withheld payloads, sessions, keys and other entries, and what the page is.

use std::fmt::Write as _;

use super::escape::Esc;
use super::{Held, Item, MAX_ENTRIES, time, timeline};
use crate::keys::KeyId;
use crate::registry::KeyChange;
use crate::report::{RedactionReason, Report, Validity};

pub(super) fn toc(w: &mut String, h: &Held, defects: bool) {
    w.push_str("<nav><h2>Contents</h2><ol>");
    w.push_str("<li><a href=\"#verdict\">Verdict and what was proven</a></li>");
    w.push_str("<li><a href=\"#facts\">The log, checkpoint and witnesses</a></li>");
    w.push_str("<li><a href=\"#approvals\">Approvals</a></li>");
    w.push_str("<li><a href=\"#redactions\">Erasures and withheld payloads</a></li>");
    for (i, (id, items)) in h.sessions.iter().enumerate() {
        let _ = write!(
            w,
            "<li><a href=\"#session-{i}\">Session {}</a> ({} entries)</li>",
            Esc(id.as_str()),
            items.len()
        );
    }
    w.push_str("<li><a href=\"#log-entries\">Keys and other log entries</a></li>");
    if defects {
        w.push_str("<li><a href=\"#defects\">Defect rate by code origin</a></li>");
    }
    w.push_str("</ol></nav>\n");
}

pub(super) fn verdict(w: &mut String, r: &Report, drawn: bool, had_source: bool) {
    let valid = r.verdict == Validity::Valid;
    let _ = write!(
        w,
        "<section id=\"verdict\"><h2>Verdict</h2><div class=\"verdict {}\"><strong>{}</strong>",
        if valid { "valid" } else { "invalid" },
        if valid { "VALID" } else { "INVALID" }
    );
    if valid {
        w.push_str("<p>Every check passed. Everything below is read from the verified entries.");
        if !drawn && !had_source {
            w.push_str(" This page shows the report only.");
        }
        w.push_str("</p>");
    } else {
        let total = r.findings.len() as u64 + r.findings_unlisted;
        let _ = write!(
            w,
            "<p>{} failed. Nothing in this evidence is trusted: no session, approval or payload \
             is shown, only the findings and what the evidence says about itself.</p>",
            if total == 1 {
                "1 check".to_owned()
            } else {
                format!("{total} checks")
            }
        );
    }
    w.push_str("</div>");
    if !r.proven.is_empty() {
        w.push_str("<h3>What was proven</h3><ul>");
        for p in &r.proven {
            let _ = write!(w, "<li>{}</li>", Esc(p));
        }
        w.push_str("</ul>");
    }
    w.push_str("</section>\n");
}

pub(super) fn facts(w: &mut String, r: &Report, valid: bool) {
    w.push_str("<section id=\"facts\"><h2>The log</h2>");
    if !valid {
        w.push_str(
            "<p class=\"note\">As the evidence states it; not verified, since a check failed.</p>",
        );
    }
    w.push_str("<dl class=\"facts\">");
    let _ = write!(
        w,
        "<dt>Origin</dt><dd>{}</dd><dt>Log id</dt><dd><code>{}</code></dd>\
         <dt>Hash suite</dt><dd>{}</dd>",
        Esc(&r.log.origin),
        Esc(&r.log.log_id),
        Esc(&r.log.suite)
    );
    let _ = write!(
        w,
        "<dt>Entries {}</dt><dd>{}",
        if valid { "verified" } else { "examined" },
        r.entries
    );
    if let Some(range) = r.range {
        let _ = write!(w, " (positions {} to {})", range.first, range.last);
    }
    w.push_str("</dd>");
    if let Some(t) = &r.time_span {
        let _ = write!(
            w,
            "<dt>Time span</dt><dd>{} to {}</dd>",
            Esc(&t.first),
            Esc(&t.last)
        );
    }
    if valid {
        let sessions = r.sessions.len() as u64 + r.sessions_unlisted;
        let _ = write!(w, "<dt>Sessions</dt><dd>{sessions}</dd>");
        match &r.checkpoint {
            Some(c) => {
                let _ = write!(
                    w,
                    "<dt>Checkpoint</dt><dd>size {}, root <code>{}</code>, signed by the pinned \
                     key <code>{}</code></dd>",
                    c.size,
                    Esc(&c.root),
                    Esc(&c.key)
                );
            }
            None => w.push_str("<dt>Checkpoint</dt><dd>none: not tied to a signed checkpoint</dd>"),
        }
        if let Some(wi) = &r.witnesses {
            let names = if wi.cosigned.is_empty() {
                "none".to_owned()
            } else {
                wi.cosigned
                    .iter()
                    .map(|c| Esc(&c.name).to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let _ = write!(
                w,
                "<dt>Witnesses</dt><dd>{} of {} required cosigned: {names}</dd>",
                wi.cosigned.len(),
                wi.quorum
            );
        }
        // RFC 3161 tokens (SPEC §12.7): what each established, or that it was not checked.
        for t in &r.timestamps {
            let _ = write!(
                w,
                "<dt>Trusted time</dt><dd>checkpoint of size {}: {}</dd>",
                t.size,
                Esc(&t.detail)
            );
        }
    }
    w.push_str("</dl></section>\n");
}

pub(super) fn findings(w: &mut String, r: &Report) {
    if r.findings.is_empty() && r.findings_unlisted == 0 {
        return;
    }
    w.push_str(
        "<section id=\"findings\"><h2>Findings</h2><table><thead><tr><th>Entry</th>\
         <th>Check</th><th>What failed</th></tr></thead><tbody>",
    );
    for f in &r.findings {
        let seq = f.seq.map_or_else(|| "—".to_owned(), |s| s.to_string());
        let _ = write!(
            w,
            "<tr><td>{seq}</td><td>{}</td><td class=\"text\">{}</td></tr>",
            Esc(&f.check.to_string()),
            Esc(&f.message)
        );
    }
    w.push_str("</tbody></table>");
    if r.findings_unlisted > 0 {
        let _ = write!(
            w,
            "<p class=\"note\">… and {} more findings, not listed.</p>",
            r.findings_unlisted
        );
    }
    w.push_str("</section>\n");
}

pub(super) fn approvals(w: &mut String, h: &Held) {
    w.push_str(
        "<section id=\"approvals\"><h2>Approvals</h2><p class=\"note\">Each signed with the \
         approver's own key: the printed name the key is registered under, the date and time of \
         signing (the approver's own clock; the log recorded it within five minutes) and the \
         meaning of the signature (21 CFR 11.50).</p>",
    );
    if h.approvals.is_empty() {
        w.push_str("<p>None.</p></section>\n");
        return;
    }
    w.push_str(
        "<table><thead><tr><th>Entry</th><th>Signed by</th><th>Signed at</th><th>Meaning</th>\
         <th>Decision</th><th>Gate</th><th>Approves</th><th>Comment</th></tr></thead><tbody>",
    );
    for a in &h.approvals {
        let ap = &a.approval;
        let mut subjects: Vec<String> = ap.entries().iter().map(|l| h.entry_ref(l.seq)).collect();
        subjects.extend(
            ap.artifacts()
                .iter()
                .map(|d| format!("artifact {}", h.digest_ref(d))),
        );
        let _ = write!(
            w,
            "<tr class=\"approval\"><td><a href=\"#seq-{seq}\">{seq}</a></td>\
             <td class=\"printed-name\">{}</td><td>{}<br><span class=\"note\">recorded {}</span></td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"text\">{}</td></tr>",
            h.signer(&a.signer),
            time(ap.signed_at()),
            time(a.time),
            Esc(ap.meaning().as_str()),
            Esc(ap.decision().as_str()),
            Esc(ap.gate().as_str()),
            subjects.join("<br>"),
            Esc(ap.comment().unwrap_or("")),
            seq = a.seq,
        );
    }
    w.push_str("</tbody></table></section>\n");
}

pub(super) fn redactions(w: &mut String, r: &Report, h: &Held) {
    w.push_str("<section id=\"redactions\"><h2>Erasures and withheld payloads</h2>");
    w.push_str(
        "<h3>Erasures</h3><p class=\"note\">A payload erased from the log (GDPR Art. 17, say): \
         the entry, its signature and its commitment stay, so every proof still verifies; an \
         owner-signed erasure entry says why.</p>",
    );
    if h.erasures.is_empty() {
        w.push_str("<p>None.</p>");
    } else {
        w.push_str(
            "<table><thead><tr><th>Erased</th><th>Reason</th><th>Erased by</th><th>When</th>\
             <th>Erasure entry</th></tr></thead><tbody>",
        );
        for e in &h.erasures {
            let _ = write!(
                w,
                "<tr><td>{}</td><td class=\"text\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                e.erased.map_or_else(|| "—".to_owned(), |s| h.entry_ref(s)),
                match &e.reason {
                    Some(reason) => Esc(reason).to_string(),
                    None => "<span class=\"absent\">(unreadable)</span>".to_owned(),
                },
                h.signer(&e.signer),
                time(e.time),
                h.entry_ref(e.seq)
            );
        }
        w.push_str("</tbody></table>");
    }
    // Entries whose payload was erased but whose erasure entry is not in this record.
    let orphans: Vec<u64> = r
        .redacted
        .iter()
        .filter(|x| x.reason == RedactionReason::Erased && !h.erased_by.contains_key(&x.seq))
        .map(|x| x.seq)
        .collect();
    if !orphans.is_empty() {
        let _ = write!(
            w,
            "<p>Also erased, by erasure entries this record does not hold: {}.</p>",
            h.entry_refs(orphans)
        );
    }
    let purged: Vec<_> = r
        .redacted
        .iter()
        .filter(|x| x.reason == RedactionReason::Purged)
        .collect();
    if !purged.is_empty() {
        w.push_str(
            "<h3>Purged at end of retention</h3><p class=\"note\">Payloads removed because \
             their retention ended (SPEC §7.8): the entries, signatures and commitments stay; \
             one owner-signed purge entry records each purge.</p><table><thead><tr><th>Entry\
             </th><th>Kind</th><th>Purge entry</th><th>Purged by</th><th>When</th></tr>\
             </thead><tbody>",
        );
        for x in purged {
            let (entry, by, when) = match &x.erasure {
                Some(p) => (
                    h.entry_ref(p.seq),
                    Esc(&p.printed_name).to_string(),
                    Esc(&p.time).to_string(),
                ),
                None => ("—".to_owned(), "—".to_owned(), "—".to_owned()),
            };
            let _ = write!(
                w,
                "<tr><td>{}</td><td>{}</td><td>{entry}</td><td>{by}</td><td>{when}</td></tr>",
                h.entry_ref(x.seq),
                Esc(&x.kind)
            );
        }
        w.push_str("</tbody></table>");
    }
    w.push_str(
        "<h3>Withheld payloads</h3><p class=\"note\">Payloads the log holds but the exporter \
         left out of this bundle; the entries themselves are verified.</p>",
    );
    let withheld: Vec<_> = r
        .redacted
        .iter()
        .filter(|x| {
            matches!(
                x.reason,
                RedactionReason::WithheldKind | RedactionReason::WithheldEntry
            )
        })
        .collect();
    if withheld.is_empty() {
        w.push_str("<p>None.</p>");
    } else {
        w.push_str(
            "<table><thead><tr><th>Entry</th><th>Kind</th><th>The exporter's reason</th></tr>\
             </thead><tbody>",
        );
        for x in withheld {
            let _ = write!(
                w,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                h.entry_ref(x.seq),
                Esc(&x.kind),
                Esc(&x.detail)
            );
        }
        w.push_str("</tbody></table>");
    }
    if r.redacted_unlisted > 0 {
        let _ = write!(
            w,
            "<p class=\"note\">… and {} more payloads absent, not listed.</p>",
            r.redacted_unlisted
        );
    }
    w.push_str("</section>\n");
}

pub(super) fn sessions(w: &mut String, h: &Held) {
    for (i, (id, items)) in h.sessions.iter().enumerate() {
        timeline::session(w, h, i, id, items);
    }
    if h.not_drawn > 0 {
        let _ = write!(
            w,
            "<p class=\"note\">{} more entries verified but not drawn (a page shows at most {}); \
             `verify-bundle BUNDLE --trusted-key K show --from N` lists them.</p>",
            h.not_drawn, MAX_ENTRIES
        );
    }
}

pub(super) fn others(w: &mut String, h: &Held) {
    w.push_str(
        "<section id=\"log-entries\"><h2>Keys and other log entries</h2><p class=\"note\">Entries \
         outside any session: who may sign what (registered by the log's owner), and \
         erasures.</p>",
    );
    let keys: Vec<&Item> = h
        .others
        .iter()
        .filter(|i| i.entry.header().kind.is_key_management())
        .collect();
    if !keys.is_empty() {
        w.push_str(
            "<table><thead><tr><th>Entry</th><th>Change</th><th>Key</th><th>Role</th>\
             <th>Printed name or reason</th><th>Signed by</th></tr></thead><tbody>",
        );
        for item in keys {
            key_row(w, h, item);
        }
        w.push_str("</tbody></table>");
    }
    let rest: Vec<&Item> = h
        .others
        .iter()
        .filter(|i| !i.entry.header().kind.is_key_management())
        .collect();
    if !rest.is_empty() {
        w.push_str("<ol class=\"timeline\">");
        for item in rest {
            timeline::entry(w, h, item);
        }
        w.push_str("</ol>");
    }
    w.push_str("</section>\n");
}

fn key_row(w: &mut String, h: &Held, item: &Item) {
    let head = item.entry.header();
    let seq = head.seq;
    let change = item
        .entry
        .payload
        .data()
        .and_then(|d| KeyChange::decode(&head.kind, d))
        .and_then(Result::ok);
    let (what, key, role, name) = match change {
        Some(KeyChange::Register(r)) => (
            "registered",
            KeyId(*r.key),
            r.role.name().to_owned(),
            Esc(&r.name).to_string(),
        ),
        Some(KeyChange::Revoke(r)) => (
            "revoked",
            KeyId(*r.key),
            String::new(),
            Esc(&r.reason).to_string(),
        ),
        Some(KeyChange::Rotate(r)) => (
            "rotated",
            KeyId(*r.old),
            String::new(),
            format!(
                "replaced by key <code>{}</code>: {}",
                Esc(&KeyId(*r.new).short()),
                Esc(&r.reason)
            ),
        ),
        None => {
            let _ = write!(
                w,
                "<tr id=\"seq-{seq}\"><td>{seq}</td><td colspan=\"5\" class=\"absent\">{}</td></tr>",
                Esc(head.kind.as_str())
            );
            return;
        }
    };
    let _ = write!(
        w,
        "<tr id=\"seq-{seq}\"><td>{seq}</td><td>{what}</td><td><code title=\"{}\">{}</code></td>\
         <td>{}</td><td>{name}</td><td>{}</td></tr>",
        Esc(&key.to_string()),
        Esc(&key.short()),
        Esc(&role),
        h.signer(&head.signer)
    );
}

pub(super) fn footer(w: &mut String, r: &Report) {
    w.push_str(
        "<section id=\"about\"><h2>About this page</h2><p>A human-readable copy of the record, \
         made from the same verified data as the machine-readable report \
         (<code>verify-bundle … --json</code>, or <code>sealtrail verify --json</code> for a \
         local log). It is not itself evidence: the bundle and the pinned key are. To check \
         again, run <code>verify-bundle BUNDLE --trusted-key KEY</code> with the log owner's \
         public key obtained out of band.</p>",
    );
    let _ = writeln!(
        w,
        "<p class=\"note\">Log id <code>{}</code>; report schema {}.</p></section>",
        Esc(&r.log.log_id),
        Esc(crate::report::SCHEMA)
    );
}
