//! Roots claimed outside any signature (a commit's `Sealtrail-Checkpoint` trailer): a bundle
//! must prove them, and an owner who forks the log after the claim was published cannot.

use sealtrail::bundle::{TrustPolicy, verify_bundle};
use sealtrail::log::{ExportOptions, Selection};
use sealtrail::report::Report;
use sealtrail::{Durability, Log, RootHash, Suite};
use sealtrail_testkit::fixtures::*;

const WHAT: &str = "the commit's Sealtrail-Checkpoint trailer";

fn export(log: &Log, k: &Keys, selection: Selection) -> Vec<u8> {
    let mut out = Vec::new();
    log.export(
        &k.owner,
        &ExportOptions::new(selection),
        &mut out,
        &mut |_, _| {},
    )
    .unwrap();
    out
}

fn verify_claim(bundle: &[u8], k: &Keys, size: u64, root: RootHash) -> Report {
    let policy = TrustPolicy::new(owner_vkeys(k))
        .unwrap()
        .with_claimed_root(size, root, WHAT);
    let report = verify_bundle(bundle, &policy).unwrap();
    sealtrail_testkit::report_schema::assert_report_schema(&report.to_json());
    report
}

fn has_finding(r: &Report, says: &str) -> bool {
    r.findings
        .iter()
        .any(|f| f.check == sealtrail::Check::Checkpoint && f.message.contains(says))
}

fn populated() -> (Log, Keys) {
    let (_store, log, k) = memory_log(Suite::Blake3, Durability::Buffered);
    populate(&log, &k);
    (log, k)
}

#[test]
fn a_claim_the_entries_prove_is_reported_as_proven() {
    let (log, k) = populated();
    let bundle = export(&log, &k, Selection::Log);
    let size = log.len() - 2;
    let r = verify_claim(&bundle, &k, size, log.root(size).unwrap());
    assert!(r.is_valid(), "{}", r.render());
    assert!(
        r.proven
            .iter()
            .any(|p| p.contains(WHAT) && p.contains("as claimed")),
        "{}",
        r.render()
    );
}

#[test]
fn a_wrong_root_a_size_beyond_and_an_unreachable_size_are_findings() {
    let (log, k) = populated();
    let whole = export(&log, &k, Selection::Log);
    let size = log.len() - 2;
    let wrong = log.root(size - 1).unwrap();
    let r = verify_claim(&whole, &k, size, wrong);
    assert!(
        has_finding(&r, "is not this log's history"),
        "{}",
        r.render()
    );

    let r = verify_claim(&whole, &k, log.len() + 5, wrong);
    assert!(
        has_finding(&r, "beyond the bundle's checkpoint"),
        "{}",
        r.render()
    );

    // A session's bundle carries entries with inclusion proofs, not the tree at every size.
    let session = sealtrail::SessionId::new("sess-1").unwrap();
    let partial = export(&log, &k, Selection::Session(session));
    let r = verify_claim(&partial, &k, size, log.root(size).unwrap());
    assert!(has_finding(&r, "cannot prove"), "{}", r.render());
    // …but the size of its own checkpoint it proves.
    let r = verify_claim(&partial, &k, log.len(), log.root(log.len()).unwrap());
    assert!(r.is_valid(), "{}", r.render());
}

// The owner publishes a commit whose trailer names the log at size n, then builds another log
// with the same key and origin (a fork) and exports it: every byte of the fork is validly
// signed, and the claim still fails.
#[test]
fn a_fork_made_after_the_claim_was_published_fails_it() {
    let (log, k) = populated();
    let size = log.len();
    let claimed = log.root(size).unwrap();
    let (_store, fork, k2) = memory_log(Suite::Blake3, Durability::Buffered);
    populate(&fork, &k2);
    fork.append(&k2.recorder, note("rewritten history"))
        .unwrap();
    let bundle = export(&fork, &k2, Selection::Log);
    let plain = verify_bundle(&bundle[..], &TrustPolicy::new(owner_vkeys(&k2)).unwrap()).unwrap();
    sealtrail_testkit::report_schema::assert_report_schema(&plain.to_json());
    assert!(plain.is_valid(), "the fork on its own verifies");
    let r = verify_claim(&bundle, &k, size, claimed);
    assert!(!r.is_valid());
    assert!(
        has_finding(&r, "is not this log's history"),
        "{}",
        r.render()
    );
}
