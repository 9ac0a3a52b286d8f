//! `verify-bundle --archive s3://BUCKET/PREFIX`: verify an archive `sealtrail archive` wrote,
//! streaming each segment from the bucket (SPEC §15.4).

use anyhow::Result;

use crate::cli::Args;

/// Verifies the archive `args.archive` names; `Ok(true)` when every check passed.
#[cfg(feature = "s3")]
pub fn verify(args: &Args) -> Result<bool> {
    use std::io::IsTerminal;

    use anyhow::{Context, anyhow, bail};
    use sealtrail::archive::{
        ArchiveError, ArchiveProgress, MAX_ARCHIVE_RENEWALS, MAX_MANIFEST_LEN, Manifest,
        manifest_key, parse_manifest_key, parse_renewal_key, verify_archive_with,
    };

    use crate::s3::{S3, S3Location};

    let url = args.archive.as_deref().unwrap_or_default();
    let location = S3Location::parse(url).context("--archive")?;
    let policy = crate::policy(args, crate::Earlier::Leave)?;
    let earlier = crate::earlier_checkpoint(args)?;
    let s3 = S3::connect(&location, args.endpoint.as_deref())?;
    let latest = s3
        .list(&location.key("manifests/"))?
        .iter()
        .filter_map(|(k, _)| parse_manifest_key(k.strip_prefix(&location.prefix)?))
        .max();
    let Some(size) = latest else {
        bail!(
            "{location}: no archive here (no manifests/ object): write one with `sealtrail \
             archive --to {location}`"
        );
    };
    let key = location.key(&manifest_key(size));
    let bytes = s3
        .get_bytes(&key, MAX_MANIFEST_LEN)?
        .ok_or_else(|| anyhow!("{key}: listed but not found"))?;
    let manifest = Manifest::parse(&bytes).with_context(|| key.clone())?;
    // The renewals (SPEC §15.6), in name order: suite, then size.
    let mut renewal_keys: Vec<String> = s3
        .list(&location.key("renewals/"))?
        .into_iter()
        .map(|(k, _)| k)
        .filter(|k| {
            k.strip_prefix(&location.prefix)
                .and_then(parse_renewal_key)
                .is_some()
        })
        .collect();
    renewal_keys.sort();
    if renewal_keys.len() > MAX_ARCHIVE_RENEWALS {
        bail!(
            "{location}: {} renewal objects; this verifier reads at most {MAX_ARCHIVE_RENEWALS}",
            renewal_keys.len()
        );
    }
    let mut renewals = Vec::with_capacity(renewal_keys.len());
    for k in &renewal_keys {
        let bytes = s3
            .get_bytes(k, sealtrail::renewal::MAX_RENEWAL_ITEM_LEN as u64)?
            .ok_or_else(|| anyhow!("{k}: listed but not found"))?;
        renewals.push(bytes);
    }
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} verifying segment {msg} [{bar:40}] {pos}/{len} entries {per_sec}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let mut fetch =
        |seg: &sealtrail::archive::SegmentRecord| -> std::io::Result<Box<dyn std::io::Read>> {
            let key = location.key(&seg.key);
            match s3.get(&key) {
                Ok(Some(r)) => Ok(r),
                Ok(None) => Err(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "the manifest lists it, the bucket does not have it",
                )),
                Err(e) => Err(std::io::Error::other(format!("{e:#}"))),
            }
        };
    let mut progress = |p: ArchiveProgress| {
        if let Some(bar) = &bar {
            bar.set_message(format!("{}/{}", p.segment + 1, p.segments));
            bar.set_length(p.total);
            bar.set_position(p.done);
        }
    };
    let result = verify_archive_with(
        &manifest,
        &policy,
        earlier.as_deref(),
        &renewals,
        &mut fetch,
        &mut progress,
    );
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let report = result.map_err(|e| match e {
        ArchiveError::Fetch { key, source } => anyhow!("{}{key}: {source}", location.prefix),
        e => anyhow!("{location}: {e}"),
    })?;
    crate::print_report(&report, args.json)?;
    Ok(report.is_valid())
}

/// `--archive` in a build without the `s3` feature.
#[cfg(not(feature = "s3"))]
pub fn verify(_: &Args) -> Result<bool> {
    anyhow::bail!(
        "--archive: this verify-bundle was built without S3 support: build it with `cargo \
         build --release -p sealtrail-cli --no-default-features --features s3 --bin verify-bundle`"
    )
}
