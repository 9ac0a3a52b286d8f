//! The `s3` half of `sealtrail archive`: plan, export, upload, manifest (SPEC §15.3).

use std::io::{IsTerminal, Read};

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine as _;
use chrono::{DateTime, Months, NaiveDate, SecondsFormat, TimeDelta, Utc};
use sealtrail::archive::{
    MANIFEST_SCHEMA, MAX_MANIFEST_LEN, Manifest, SegmentRecord, checkpoint_key, manifest_key,
    parse_manifest_key, parse_segment_key, plan, renewal_key, segment_key,
};
use sealtrail::log::{ExportOptions, Selection};
use serde_json::json;
use sha2::Digest as _;

use crate::archive::ArchiveArgs;
use crate::common::{Status, count, emit, invalid, json_line, load_secret, open_log};
use crate::s3::{Put, S3, S3Location};

// When the lock of each new object ends, by the options: `None` when neither option is given
// and the log declares a retention (then each object's lock follows the log, `Lock::Log`).
fn retain_until(
    a: &ArchiveArgs,
    now: DateTime<Utc>,
    log_declares: bool,
) -> Result<Option<DateTime<Utc>>> {
    let until = match (&a.retain_until, &a.retention) {
        (Some(date), _) => parse_date(date).with_context(|| format!("--retain-until {date}"))?,
        (None, Some(d)) => add_duration(now, d).with_context(|| format!("--retention {d}"))?,
        (None, None) if log_declares => return Ok(None),
        (None, None) => add_duration(now, "6m")?,
    };
    if until <= now {
        bail!(
            "--retain-until {}: in the past; the lock must end after now",
            until.to_rfc3339_opts(SecondsFormat::Secs, true)
        );
    }
    Ok(Some(until))
}

// How long each new object is locked (SPEC §15.5).
enum Lock {
    // One date for every object (--retain-until, --retention, or the 6-month default).
    Fixed(String),
    // The log's retention: the newest entry an object covers plus the retention that applies
    // to the first (the longest from it on, §7.6), and never less than a day from now.
    Log {
        lifecycle: sealtrail::retention::Lifecycle,
        size: u64,
        now: DateTime<Utc>,
    },
}

impl Lock {
    // The retain-until date of an object covering entries `first..end` (`end > first`).
    fn until(&self, log: &sealtrail::Log, first: u64, end: u64) -> Result<String> {
        let (lifecycle, size, now) = match self {
            Lock::Fixed(until) => return Ok(until.clone()),
            Lock::Log {
                lifecycle,
                size,
                now,
            } => (lifecycle, *size, *now),
        };
        let floor = now + TimeDelta::days(1);
        let newest = end
            .checked_sub(1)
            .map(|last| log.read(last))
            .transpose()?
            .flatten()
            .map(|e| e.header().time);
        let date = match (newest, lifecycle.retention_for(first, size)) {
            (Some(t), Some(months)) => sealtrail::retention::retention_end(t, months)
                .map(|end| end.to_datetime())
                .unwrap_or_else(|| sealtrail::Timestamp(i64::MAX as u64).to_datetime()),
            _ => floor,
        };
        Ok(date.max(floor).to_rfc3339_opts(SecondsFormat::Secs, true))
    }

    fn describe(&self) -> &'static str {
        match self {
            Lock::Fixed(_) => "fixed",
            Lock::Log { .. } => "log_retention",
        }
    }
}

fn parse_date(s: &str) -> Result<DateTime<Utc>> {
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return d
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc())
            .ok_or_else(|| anyhow!("not a date"));
    }
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|_| anyhow!("not a date: use YYYY-MM-DD or RFC 3339 (2032-12-31T00:00:00Z)"))
}

fn add_duration(now: DateTime<Utc>, s: &str) -> Result<DateTime<Utc>> {
    let unit_at = s.len().saturating_sub(1);
    let (n, unit) = (
        s.get(..unit_at).unwrap_or(""),
        s.get(unit_at..).unwrap_or(""),
    );
    let n: u32 = n
        .parse()
        .map_err(|_| anyhow!("not a duration: use N followed by d, m or y (e.g. 6y, 18m, 200d)"))?;
    let later = match unit {
        "d" => now.checked_add_signed(TimeDelta::days(i64::from(n))),
        "m" => now.checked_add_months(Months::new(n)),
        "y" => n
            .checked_mul(12)
            .and_then(|m| now.checked_add_months(Months::new(m))),
        _ => bail!("unknown unit {unit:?}: use d (days), m (months) or y (years)"),
    };
    later.ok_or_else(|| anyhow!("too far in the future"))
}

// The headers every new object carries: its lock, legal hold and checksum (signed).
fn object_headers(
    body: &[u8],
    until: &str,
    legal_hold: bool,
) -> (Vec<(&'static str, String)>, String) {
    let digest = sha2::Sha256::digest(body);
    let mut headers = vec![
        ("x-amz-object-lock-mode", "COMPLIANCE".to_owned()),
        ("x-amz-object-lock-retain-until-date", until.to_owned()),
        // With the checksum, what S3 requires of an upload with an Object Lock retention
        // (instead of Content-MD5), as the AWS SDKs send it.
        ("x-amz-sdk-checksum-algorithm", "SHA256".to_owned()),
        (
            "x-amz-checksum-sha256",
            base64::engine::general_purpose::STANDARD.encode(digest),
        ),
    ];
    if legal_hold {
        headers.push(("x-amz-object-lock-legal-hold", "ON".to_owned()));
    }
    (headers, hex::encode(digest))
}

/// `sealtrail archive`.
pub fn archive(a: &ArchiveArgs) -> Result<Status> {
    let location = S3Location::parse(&a.to).context("--to")?;
    let now = Utc::now();
    let log = open_log(&a.log)?;
    let size = log.len();
    // The log's retention and holds decide the locks unless the options say otherwise.
    let lifecycle = log
        .lifecycle()
        .map_err(|e| anyhow!("{}: {e}", a.log.display()))?;
    let held: Vec<String> = lifecycle
        .active_holds(size)
        .iter()
        .map(|h| h.matter.clone())
        .collect();
    let ever_held = !lifecycle.holds().is_empty();
    let lock = match retain_until(a, now, lifecycle.in_force(size).is_some())? {
        Some(until) => Lock::Fixed(until.to_rfc3339_opts(SecondsFormat::Secs, true)),
        None => Lock::Log {
            lifecycle,
            size,
            now,
        },
    };
    let legal_hold = a.legal_hold || !held.is_empty();
    let owner = load_secret(&a.owner_key)?;
    let s3 = S3::connect(&location, a.endpoint.as_deref())?;
    let log_id = log.log_id().to_hex();
    let until = lock.until(&log, 0, size)?;

    // What the bucket holds already.
    let listing = s3.list(&location.prefix)?;
    // The objects already there follow the log's holds: ON while one is active, OFF once every
    // hold is released (unless --legal-hold keeps them).
    let hold_state = if !held.is_empty() {
        Some(true)
    } else if ever_held && !a.legal_hold {
        Some(false)
    } else {
        None
    };
    let mut holds_set = 0u64;
    if let Some(on) = hold_state {
        for (key, _) in &listing {
            s3.put_legal_hold(key, on)?;
            holds_set += 1;
        }
    }
    let held_report = HoldReport {
        legal_hold,
        matters: &held,
        existing: hold_state.map(|on| (on, holds_set)),
        lock: lock.describe(),
    };
    let names = listing
        .iter()
        .filter_map(|(k, _)| k.strip_prefix(&location.prefix));
    let latest = names.clone().filter_map(parse_manifest_key).max();
    let existing: Vec<_> = names.filter_map(parse_segment_key).collect();
    let previous = match latest {
        Some(m) => {
            let key = location.key(&manifest_key(m));
            let bytes = s3
                .get_bytes(&key, MAX_MANIFEST_LEN)?
                .ok_or_else(|| anyhow!("{key}: listed but not found"))?;
            let manifest = Manifest::parse(&bytes).with_context(|| key.clone())?;
            if manifest.log_id != log_id {
                return Err(invalid(format!(
                    "{location} holds the archive of log {} ({}), not of {} ({log_id}): archive \
                     each log under its own prefix",
                    manifest.log_id,
                    manifest.origin,
                    a.log.display()
                )));
            }
            if manifest.size > size {
                return Err(invalid(format!(
                    "{location} archived {} of this log, and the log has only {}: the log \
                     was rolled back or replaced",
                    count(manifest.size, "entry", "entries"),
                    size
                )));
            }
            Some(manifest)
        }
        None => None,
    };
    let archived = previous.as_ref().map_or(0, Manifest::end);
    if previous.is_some() && archived == size {
        // Renewals made since the last run are still added (SPEC §15.6).
        let (renewed, bytes) = upload_renewals(&s3, &location, &log, &listing, &until, legal_hold)?;
        report(
            a,
            &location,
            size,
            &renewed,
            0,
            bytes,
            &until,
            None,
            &held_report,
        )?;
        return Ok(Status::Ok);
    }
    let work = plan(archived, &existing, size, a.segment_entries);
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(size - archived);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} archiving {pos}/{len} entries [{bar:40}] {bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let mut segments = previous.map(|m| m.segments).unwrap_or_default();
    // Segments an interrupted run left: listed as they are, after reading them back whole.
    for r in &work.reuse {
        let key = location.key(&segment_key(r.start, r.end));
        let mut reader = s3
            .get(&key)?
            .ok_or_else(|| anyhow!("{key}: listed but not found"))?;
        let mut hasher = sha2::Sha256::new();
        let mut bytes = 0u64;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = reader
                .read(&mut buf)
                .with_context(|| format!("GET {key}"))?;
            if n == 0 {
                break;
            }
            hasher.update(buf.get(..n).unwrap_or_default());
            bytes += n as u64;
        }
        segments.push(SegmentRecord {
            key: segment_key(r.start, r.end),
            start: r.start,
            end: r.end,
            bytes,
            sha256: hex::encode(hasher.finalize()),
        });
        if let Some(bar) = &bar {
            bar.inc(r.end - r.start);
        }
    }
    // The run's checkpoint: what every new segment is anchored on.
    let checkpoint = log
        .checkpoint(&owner)
        .map_err(|e| invalid(format!("checkpoint: {e}")))?;
    let mut uploaded: Vec<String> = Vec::new();
    let mut uploaded_bytes = 0u64;
    for r in &work.upload {
        let mut body = Vec::new();
        let options = ExportOptions::new(Selection::Range(r.clone()));
        log.export(&owner, &options, &mut body, &mut |_, _| {})
            .map_err(|e| invalid(format!("export of entries {}..{}: {e}", r.start, r.end)))?;
        let name = segment_key(r.start, r.end);
        let segment_until = lock.until(&log, r.start, r.end)?;
        let (headers, sha256) = object_headers(&body, &segment_until, legal_hold);
        match s3.put_once(&location.key(&name), &body, &headers)? {
            Put::Written(_) => {}
            Put::Exists => bail!(
                "{}: written meanwhile by another archive run: run again when it has finished",
                location.key(&name)
            ),
        }
        uploaded_bytes += body.len() as u64;
        segments.push(SegmentRecord {
            key: name.clone(),
            start: r.start,
            end: r.end,
            bytes: body.len() as u64,
            sha256,
        });
        uploaded.push(name);
        if let Some(bar) = &bar {
            bar.inc(r.end - r.start);
        }
    }
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let note = checkpoint.encode();
    let cp_name = checkpoint_key(size);
    let (headers, _) = object_headers(&note, &until, legal_hold);
    // A run interrupted after its checkpoint left one of the same size: a checkpoint of the
    // same log at the same size, which the segments' own checkpoints are checked against.
    if let Put::Written(_) = s3.put_once(&location.key(&cp_name), &note, &headers)? {
        uploaded_bytes += note.len() as u64;
        uploaded.push(cp_name.clone());
    }
    let manifest = Manifest {
        schema: MANIFEST_SCHEMA.into(),
        log_id,
        origin: log.descriptor().descriptor().origin.clone(),
        size,
        checkpoint: cp_name,
        created: Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
        segments,
    };
    let (renewed, renewal_bytes) =
        upload_renewals(&s3, &location, &log, &listing, &until, legal_hold)?;
    uploaded_bytes += renewal_bytes;
    uploaded.extend(renewed);
    let bytes = manifest.to_bytes();
    let m_name = manifest_key(size);
    let (headers, _) = object_headers(&bytes, &until, legal_hold);
    if s3.put_once(&location.key(&m_name), &bytes, &headers)? == Put::Exists {
        bail!(
            "{}: written meanwhile by another archive run",
            location.key(&m_name)
        );
    }
    uploaded_bytes += bytes.len() as u64;
    uploaded.push(m_name.clone());
    report(
        a,
        &location,
        size,
        &uploaded,
        work.reuse.len(),
        uploaded_bytes,
        &until,
        Some(&m_name),
        &held_report,
    )?;
    Ok(Status::Ok)
}

// Uploads the log's renewals the prefix does not hold yet (SPEC §15.6): each object is the
// canonical renewal item, written once and locked like the rest. Returns the names written and
// their bytes.
fn upload_renewals(
    s3: &S3,
    location: &S3Location,
    log: &sealtrail::Log,
    listing: &[(String, u64)],
    until: &str,
    legal_hold: bool,
) -> Result<(Vec<String>, u64)> {
    let mut written = Vec::new();
    let mut bytes = 0u64;
    for r in log.renewals()? {
        if r.size > log.len() {
            continue;
        }
        let name = renewal_key(r.suite, r.size);
        let key = location.key(&name);
        if listing.iter().any(|(k, _)| *k == key) {
            continue;
        }
        let body = r.item.encode();
        let (headers, _) = object_headers(&body, until, legal_hold);
        if let Put::Written(_) = s3.put_once(&key, &body, &headers)? {
            bytes += body.len() as u64;
            written.push(name);
        }
    }
    Ok((written, bytes))
}

// What the run did about legal holds and lock dates, for the report.
struct HoldReport<'a> {
    // Whether new objects carry a legal hold.
    legal_hold: bool,
    // The log's active holds.
    matters: &'a [String],
    // The legal hold set on the objects already there (ON or OFF), and on how many.
    existing: Option<(bool, u64)>,
    // How lock dates were chosen: `fixed` or `log_retention`.
    lock: &'static str,
}

#[allow(clippy::too_many_arguments)]
fn report(
    a: &ArchiveArgs,
    location: &S3Location,
    size: u64,
    uploaded: &[String],
    reused: usize,
    bytes: u64,
    until: &str,
    manifest: Option<&str>,
    holds: &HoldReport,
) -> Result<()> {
    if a.json {
        return emit(json_line(&json!({
            "to": location.to_string(),
            "size": size,
            "uploaded": uploaded,
            "reused_segments": reused,
            "bytes": bytes,
            "retain_until": until,
            "mode": "COMPLIANCE",
            "legal_hold": holds.legal_hold,
            "log_holds": holds.matters,
            "existing_legal_hold": holds.existing.map(|(on, n)| json!({
                "status": if on { "ON" } else { "OFF" },
                "objects": n,
            })),
            "lock": holds.lock,
            "manifest": manifest,
        })));
    }
    match manifest {
        None if uploaded.is_empty() => emit(format!(
            "{location}: up to date ({} archived); nothing uploaded",
            count(size, "entry", "entries")
        )),
        None => emit(format!(
            "{location}: up to date ({} archived); uploaded {} ({bytes} bytes): {}",
            count(size, "entry", "entries"),
            count(uploaded.len() as u64, "renewal", "renewals"),
            uploaded.join(", ")
        )),
        Some(m) => emit(format!(
            "{location}: archived {} in {} ({bytes} bytes{}), locked in COMPLIANCE mode until \
             {until}{}; manifest {m}",
            count(size, "entry", "entries"),
            count(uploaded.len() as u64, "new object", "new objects"),
            if reused > 0 {
                format!(
                    "; {} of an interrupted run reused",
                    count(reused as u64, "segment", "segments")
                )
            } else {
                String::new()
            },
            if holds.legal_hold {
                ", with a legal hold"
            } else {
                ""
            },
        )),
    }
}
