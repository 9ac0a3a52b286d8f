//! The defect-rate section (SPEC §13.16): per period, a bar chart of incidents per commit by
//! group (an inline SVG: no script, nothing fetched) and the table the chart is drawn from.

use std::fmt::Write as _;

use super::escape::Esc;
use crate::defects::{DefectReport, DefectRow, GroupBy, Period, days};

/// Chart geometry, in SVG user units.
const BAR: u32 = 26;
const GAP: u32 = 6;
const PERIOD_GAP: u32 = 28;
const PLOT_HEIGHT: u32 = 160;
const LEFT: u32 = 48;
const TOP: u32 = 14;
const BOTTOM: u32 = 44;

/// Bar colours for the origins; tags and anything else take the neutral one, and `all` is
/// outlined.
fn colour(group: &str) -> &'static str {
    match group {
        "human" => "#1565c0",
        "agent" => "#e65100",
        "mixed" => "#6a1b9a",
        "all" => "#ffffff",
        _ => "#607d8b",
    }
}

/// The section for one or more defect tables (for example by origin and by prompt tag).
pub(super) fn section(w: &mut String, tables: &[DefectReport]) {
    w.push_str("<section id=\"defects\"><h2>Defect rate by code origin</h2>");
    w.push_str(
        "<p class=\"note\">Commits, their changed lines and origins come from the repository's \
         history (as <code>git log</code> gives them, not signed); incidents and merges from the \
         verified entries. A rate is incidents naming at least one of the group's commits, per \
         commit.</p>",
    );
    for (i, table) in tables.iter().enumerate() {
        let by = match table.by {
            GroupBy::Origin => "origin",
            GroupBy::PromptTag => "prompt tag",
        };
        let period = match table.period {
            Period::Quarter => "quarter",
            Period::Month => "month",
        };
        let _ = write!(w, "<h3>By {by}, per {period}</h3>");
        if table.rows.is_empty() {
            w.push_str("<p>No commits in the range read.</p>");
            continue;
        }
        chart(w, table, &format!("defects-chart-{i}"), by);
        rows(w, table, by);
    }
    w.push_str("</section>\n");
}

fn chart(w: &mut String, table: &DefectReport, id: &str, by: &str) {
    let max = table
        .rows
        .iter()
        .map(|r| r.incidents_per_commit)
        .fold(0.0f64, f64::max);
    // The scale's top: the highest rate rounded up to a quarter, at least 0.25.
    let top = ((max * 4.0).ceil() / 4.0).max(0.25);
    // Periods in order, each with its rows.
    let mut periods: Vec<(&str, Vec<&DefectRow>)> = Vec::new();
    for r in &table.rows {
        match periods.last_mut() {
            Some((p, rows)) if *p == r.period => rows.push(r),
            _ => periods.push((&r.period, vec![r])),
        }
    }
    let bars: u32 = periods.iter().map(|(_, r)| r.len() as u32).sum();
    let width =
        LEFT + bars * (BAR + GAP) + (periods.len() as u32).saturating_sub(1) * PERIOD_GAP + GAP;
    let height = TOP + PLOT_HEIGHT + BOTTOM;
    let _ = write!(
        w,
        "<figure class=\"chart\"><svg id=\"{id}\" xmlns=\"http://www.w3.org/2000/svg\" \
         viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\" role=\"img\" \
         aria-labelledby=\"{id}-title\"><title id=\"{id}-title\">Incidents per commit by {by} \
         and period</title>"
    );
    // Axis and gridlines at each quarter of the scale.
    for step in 0..=4u32 {
        let value = top * f64::from(step) / 4.0;
        let y = TOP + PLOT_HEIGHT - PLOT_HEIGHT * step / 4;
        let _ = write!(
            w,
            "<line x1=\"{LEFT}\" x2=\"{width}\" y1=\"{y}\" y2=\"{y}\" stroke=\"#ddd\"/>\
             <text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">{value:.2}</text>",
            LEFT - 4,
            y + 3
        );
    }
    let mut x = LEFT + GAP;
    for (i, (period, rows)) in periods.iter().enumerate() {
        if i > 0 {
            x += PERIOD_GAP;
        }
        let start = x;
        for r in rows {
            let h = if top > 0.0 {
                (r.incidents_per_commit / top * f64::from(PLOT_HEIGHT)).round() as u32
            } else {
                0
            };
            let h = h.min(PLOT_HEIGHT);
            let y = TOP + PLOT_HEIGHT - h;
            let _ = write!(
                w,
                "<rect class=\"bar\" x=\"{x}\" y=\"{y}\" width=\"{BAR}\" height=\"{h}\" \
                 fill=\"{}\" stroke=\"#333\" data-period=\"{}\" data-group=\"{}\" \
                 data-rate=\"{:.3}\"><title>{} {}: {} incidents in {} commits ({:.3} per \
                 commit)</title></rect>\
                 <text x=\"{}\" y=\"{}\" font-size=\"9\" text-anchor=\"middle\">{:.2}</text>\
                 <text x=\"{}\" y=\"{}\" font-size=\"9\" text-anchor=\"middle\">{}</text>",
                colour(&r.group),
                Esc(&r.period),
                Esc(&r.group),
                r.incidents_per_commit,
                Esc(&r.period),
                Esc(&r.group),
                r.incidents,
                r.commits,
                r.incidents_per_commit,
                x + BAR / 2,
                y.saturating_sub(3).max(9),
                r.incidents_per_commit,
                x + BAR / 2,
                TOP + PLOT_HEIGHT + 12,
                Esc(&short(&r.group))
            );
            x += BAR + GAP;
        }
        let _ = write!(
            w,
            "<text x=\"{}\" y=\"{}\" font-size=\"11\" font-weight=\"600\" \
             text-anchor=\"middle\">{}</text>",
            (start + x - GAP) / 2,
            TOP + PLOT_HEIGHT + 30,
            Esc(period)
        );
    }
    let _ = write!(
        w,
        "</svg><figcaption>Incidents per commit, by {by}; the outlined bar is the period's \
         total.</figcaption></figure>"
    );
}

// A bar label fits in about six characters.
fn short(group: &str) -> String {
    if group.chars().count() <= 7 {
        group.to_owned()
    } else {
        let mut s: String = group.chars().take(6).collect();
        s.push('…');
        s
    }
}

fn rows(w: &mut String, table: &DefectReport, by: &str) {
    let _ = write!(
        w,
        "<table class=\"defects\"><thead><tr><th>period</th><th>{by}</th><th>commits</th>\
         <th>changed lines</th><th>incidents</th><th>incidents/commit</th>\
         <th>incidents/kLOC</th><th>median days to incident</th><th>p90 days to incident</th>\
         </tr></thead><tbody>"
    );
    for r in &table.rows {
        let _ = write!(
            w,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.3}</td><td>{}</td>\
             <td>{}</td><td>{}</td></tr>",
            Esc(&r.period),
            Esc(&r.group),
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
    w.push_str("</tbody></table>");
}
