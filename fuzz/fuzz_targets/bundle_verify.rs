//! Bundle verification (SPEC §12.6) over arbitrary bytes, with the seed bundles' owner key pinned:
//! decoding plus every check. `verify_bundle` must return a report, or `NotABundle` exactly when
//! the input does not start with the magic item, and never panic, hang or allocate without bound.
//! A valid verdict is only possible for the seed bundles themselves: any other input that verifies
//! would be a forgery (their SHA-256 is listed in `fuzz/seeds/bundle_verify.valid`).
//!
//! Each item is also decoded as a bundle header, entry item and trailer, and must re-encode to
//! itself when accepted. When the bundle's header carries an earlier checkpoint (the one a
//! since-export starts at, or else the first of several), the bundle is verified a
//! second time with it as the auditor's previous checkpoint and with a witness required.
#![no_main]

use libfuzzer_sys::{fuzz_mutator, fuzz_target};
use sealtrail::Suite;
use sealtrail::bundle::{
    BundleError, BundleHeader, EntryItem, MAGIC, Trailer, TrustPolicy, verify_bundle,
};
use sealtrail::checkpoint::SignedCheckpoint;
use sealtrail::codec::{Encoder, read_item};
use sealtrail::report::Report;
use sealtrail_fuzz::{owner_keys, witness_policy};

const VALID: &str = include_str!("../seeds/bundle_verify.valid");

fn is_seed(data: &[u8]) -> bool {
    let h: String = Suite::Sha256
        .hash(&[data])
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    VALID
        .lines()
        .any(|l| l.split(' ').next() == Some(h.as_str()))
}

fn magic() -> Vec<u8> {
    let mut e = Encoder::new();
    e.text(MAGIC);
    e.into_bytes()
}

fn verify(data: &[u8], policy: &TrustPolicy) -> Option<Report> {
    match verify_bundle(data, policy) {
        Ok(report) => {
            let _ = report.render();
            let _ = report.to_json();
            assert_eq!(report.is_valid(), report.findings.is_empty());
            Some(report)
        }
        Err(BundleError::NotABundle(_)) => {
            assert!(
                !data.starts_with(&magic()),
                "a bundle's magic item, but NotABundle"
            );
            None
        }
        Err(e) => panic!("reading from memory cannot fail: {e}"),
    }
}

// Every item's typed decoders re-encode what they accept; returns the header, if it decodes.
fn items(data: &[u8]) -> Option<BundleHeader> {
    let mut r = data;
    let mut buf = Vec::new();
    let mut header = None;
    let mut index = 0;
    while let Ok(true) = read_item(&mut r, &mut buf, 1 << 24) {
        if let Ok(h) = BundleHeader::decode(&buf) {
            assert_eq!(h.encode(), buf);
            if index == 2 {
                header = Some(h);
            }
        }
        if let Ok(item) = EntryItem::decode(&buf) {
            assert_eq!(item.encode(), buf);
        }
        if let Ok(t) = Trailer::decode(&buf) {
            assert_eq!(t.encode(), buf);
        }
        index += 1;
    }
    header
}

// The checkpoint an auditor would have seen before: the one a since-export starts from (a
// contiguous bundle's `start`), or the first of several.
fn previous(header: &BundleHeader) -> Option<Vec<u8>> {
    let since = (header.start > 0)
        .then(|| {
            header.checkpoints.iter().find(|c| {
                SignedCheckpoint::parse(&c.note)
                    .is_ok_and(|n| n.checkpoint().size() == header.start)
            })
        })
        .flatten();
    let first = (header.checkpoints.len() > 1)
        .then(|| header.checkpoints.first())
        .flatten();
    since.or(first).map(|c| c.note.to_vec())
}

fuzz_target!(|data: &[u8]| {
    let policy = TrustPolicy::new(owner_keys().to_vec()).expect("pinned keys");
    if let Some(report) = verify(data, &policy)
        && report.is_valid()
    {
        assert!(
            is_seed(data),
            "a bundle that is not a seed verified:\n{}",
            report.render()
        );
    }
    if let Some(note) = items(data).as_ref().and_then(previous) {
        let policy = policy
            .with_previous_checkpoint(note)
            .with_witnesses(witness_policy());
        let report = verify(data, &policy);
        // Export never has the anchor cosigned: with a witness required, nothing is valid.
        assert!(report.is_none_or(|r| !r.is_valid()));
    }
});

// Half libFuzzer's byte mutations, half edits of the CBOR tree (fuzz/src/mutator.rs).
fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    sealtrail_fuzz::mutator::mutate_cbor(data, size, max_size, seed)
});
