//! Algorithm renewal (SPEC §15.6): a blake3 log re-protected under SHA-256, its root checked by
//! an independent RFC 6962 implementation, and insiders holding the real owner key trying to
//! bend what a renewal proves with validly signed bytes.

use ct_merkle::mem_backed_tree::MemoryBackedTree;
use serde_bytes::ByteBuf;
use sha2::Sha256;

use sealtrail::bundle::{
    BundleHeader, Trailer, TrustPolicy, bundle_digest, preamble, verify_bundle,
};
use sealtrail::checkpoint::checkpoint_origin;
use sealtrail::codec::read_item;
use sealtrail::hash::Domain;
use sealtrail::log::{ExportOptions, Selection};
use sealtrail::renewal::{
    ProtectedKind, Protection, Renewal, RenewalItem, RenewalTree, SignedRenewal, protection_hash,
};
use sealtrail::report::{Report, TimestampStatus};
use sealtrail::{Durability, Log, LogId, SignedDescriptor, Suite};
use sealtrail_testkit::fixtures::{Keys, ORIGIN, memory_log, owner_vkeys, populate};

fn log() -> (Log, Keys) {
    let (_, log, k) = memory_log(Suite::Blake3, Durability::Buffered);
    populate(&log, &k);
    log.checkpoint(&k.owner).unwrap();
    (log, k)
}

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

fn distrusting(k: &Keys) -> TrustPolicy {
    TrustPolicy::new(owner_vkeys(k))
        .unwrap()
        .distrust_suite(Suite::Blake3)
}

fn verify(bundle: &[u8], policy: &TrustPolicy) -> Report {
    let r = verify_bundle(bundle, policy).unwrap();
    sealtrail_testkit::report_schema::assert_report_schema(&r.to_json());
    r
}

#[track_caller]
fn assert_finding(r: &Report, says: &str) {
    assert!(
        !r.is_valid(),
        "VALID, expected a `renewal` finding:\n{}",
        r.render()
    );
    assert!(
        r.findings
            .iter()
            .any(|f| f.check.as_str() == "renewal" && f.message.contains(says)),
        "expected a `renewal` finding saying {says:?}:\n{}",
        r.render()
    );
}

/// The bundle with its header's renewals replaced, re-signed by the owner: what an exporter
/// holding the owner key can do.
fn with_renewals(bundle: &[u8], k: &Keys, renewals: Vec<RenewalItem>) -> Vec<u8> {
    let mut r = bundle;
    let mut buf = Vec::new();
    let mut items = Vec::new();
    while read_item(&mut r, &mut buf, 1 << 26).unwrap() {
        items.push(buf.clone());
    }
    let mut header = BundleHeader::decode(&items[2]).unwrap();
    header.renewals = renewals;
    let suite = SignedDescriptor::from_bytes(&header.descriptor)
        .unwrap()
        .suite();
    let mut out = preamble();
    out.extend_from_slice(&header.encode());
    for item in &items[3..items.len() - 1] {
        out.extend_from_slice(item);
    }
    let digest = bundle_digest(suite, &out);
    let trailer = Trailer {
        count: header.count,
        digest: serde_bytes::ByteArray::new(digest),
        signature: serde_bytes::ByteArray::new(k.owner.sign(&Trailer::signing_input(&digest))),
        signer: serde_bytes::ByteArray::new(*k.owner.key_id().as_bytes()),
    };
    out.extend_from_slice(&trailer.encode());
    out
}

/// The entries' header bytes, in order.
fn headers(log: &Log) -> Vec<Vec<u8>> {
    log.range(0..log.len())
        .map(|e| e.unwrap().entry.header_bytes().to_vec())
        .collect()
}

/// A renewal the owner signs over `headers` (under SHA-256), with the given log id.
fn signed(k: &Keys, log_id: LogId, headers: &[Vec<u8>], protected: Vec<Vec<u8>>) -> RenewalItem {
    let size = headers.len() as u64;
    let mut tree = RenewalTree::new([(Suite::Sha256, size)]);
    for (i, h) in headers.iter().enumerate() {
        tree.push(i as u64, h);
    }
    let renewal = Renewal {
        origin: ORIGIN.into(),
        suite: Suite::Sha256,
        size,
        root: tree.root_at(Suite::Sha256, size).unwrap(),
        log_id,
        renews: Suite::Blake3,
        time: 1_764_626_400,
        protects: protected
            .iter()
            .map(|b| Protection {
                kind: ProtectedKind::Checkpoint,
                hash: protection_hash(Suite::Sha256, b),
            })
            .collect(),
    };
    let note =
        SignedRenewal::sign(renewal, &k.owner, &checkpoint_origin(ORIGIN, Suite::Blake3)).unwrap();
    RenewalItem {
        note: ByteBuf::from(note.encode()),
        protected: protected.into_iter().map(ByteBuf::from).collect(),
    }
}

// The library test: the renewal's root is the RFC 6962 SHA-256 root (computed by
// ct-merkle, an implementation nobody here wrote) over the entries' SHA-256 entry hashes; the
// bundle carries the renewal and verifies with blake3 distrusted, and did not before.
#[test]
fn a_renewal_is_the_rfc6962_sha256_tree_of_the_entries_and_makes_the_bundle_valid() {
    let (log, k) = log();
    let before = verify(&export(&log, &k, Selection::Log), &distrusting(&k));
    assert_finding(
        &before,
        &format!("entries 0..{} are not re-protected", log.len()),
    );

    let (stored, new) = log.renew(&k.owner, Suite::Sha256, None).unwrap();
    assert!(new);
    let (again, new) = log.renew(&k.owner, Suite::Sha256, None).unwrap();
    assert!(!new, "renewing again returns the stored renewal");
    assert_eq!(again, stored);
    assert!(
        log.renew(&k.owner, Suite::Blake3, None).is_err(),
        "the log's own suite"
    );
    assert!(
        log.renew(&k.recorder, Suite::Sha256, Some(2)).is_err(),
        "not an owner key"
    );

    let note = SignedRenewal::parse(&stored.item.note).unwrap();
    let mut ct = MemoryBackedTree::<Sha256, [u8; 32]>::new();
    for h in headers(&log) {
        ct.push(Suite::Sha256.tagged(Domain::Entry, &[&h]));
    }
    assert_eq!(note.renewal().size, log.len());
    assert_eq!(
        ct.root().as_bytes().as_slice(),
        note.renewal().root.as_bytes()
    );
    // The checkpoint the log signed is what it protects, verbatim.
    assert_eq!(note.renewal().protects[0].kind, ProtectedKind::Checkpoint);
    assert_eq!(
        stored.item.protected[0].as_slice(),
        log.checkpoint_at(log.len())
            .unwrap()
            .unwrap()
            .encode()
            .as_slice()
    );

    let after = verify(&export(&log, &k, Selection::Log), &distrusting(&k));
    assert!(after.is_valid(), "{}", after.render());
    assert_eq!(after.renewals.len(), 1);
    assert_eq!(after.renewals[0].status, TimestampStatus::Verified);
    assert!(
        after.proven.iter().any(|p| p.starts_with(&format!(
            "entries 0..{} re-protected under sha256 by owner key",
            log.len()
        ))),
        "{}",
        after.render()
    );
}

#[test]
fn an_insider_renewal_over_altered_entries_is_named() {
    let (log, k) = log();
    let bundle = export(&log, &k, Selection::Log);
    let mut altered = headers(&log);
    altered[2][5] ^= 1;
    let forged = signed(&k, log.log_id(), &altered, vec![]);
    let r = verify(&with_renewals(&bundle, &k, vec![forged]), &distrusting(&k));
    assert_finding(&r, "is not a renewal of these entries");
    assert_eq!(r.renewals[0].status, TimestampStatus::Failed);
    // Trusting blake3, the same bad renewal is still a finding.
    let trusting = TrustPolicy::new(owner_vkeys(&k)).unwrap();
    let forged = signed(&k, log.log_id(), &altered, vec![]);
    let r = verify(&with_renewals(&bundle, &k, vec![forged]), &trusting);
    assert_finding(&r, "is not a renewal of these entries");
}

#[test]
fn an_insider_renewal_of_another_log_id_is_named() {
    let (log, k) = log();
    let bundle = export(&log, &k, Selection::Log);
    let forged = signed(&k, LogId([7; 32]), &headers(&log), vec![]);
    let r = verify(&with_renewals(&bundle, &k, vec![forged]), &distrusting(&k));
    assert_finding(&r, "it names log");
}

#[test]
fn an_insider_renewal_naming_another_logs_checkpoint_is_named() {
    let (log, k) = log();
    // Another log of the same origin and owner, of the same size: its checkpoint verifies under
    // the pinned key but names another log id.
    let (other, _) = self::log();
    assert_eq!(other.len(), log.len());
    let foreign = other.latest_checkpoint().unwrap().unwrap().encode();
    let bundle = export(&log, &k, Selection::Log);
    let forged = signed(&k, log.log_id(), &headers(&log), vec![foreign]);
    let r = verify(&with_renewals(&bundle, &k, vec![forged]), &distrusting(&k));
    assert_finding(&r, "protected item 1 (checkpoint)");
    // The log's own checkpoint is accepted in its place.
    let own = log.latest_checkpoint().unwrap().unwrap().encode();
    let honest = signed(&k, log.log_id(), &headers(&log), vec![own]);
    let r = verify(&with_renewals(&bundle, &k, vec![honest]), &distrusting(&k));
    assert!(r.is_valid(), "{}", r.render());
}

#[test]
fn a_renewal_spliced_from_another_log_is_named() {
    let (log, k) = log();
    let (other, _) = self::log();
    other
        .append(&k.recorder, sealtrail_testkit::fixtures::note("other"))
        .unwrap();
    let (theirs, _) = other.renew(&k.owner, Suite::Sha256, None).unwrap();
    let bundle = export(&log, &k, Selection::Log);
    let r = verify(
        &with_renewals(&bundle, &k, vec![theirs.item]),
        &distrusting(&k),
    );
    assert_finding(&r, "it names log");
}

#[test]
fn a_renewal_larger_than_the_entries_carried_proves_nothing() {
    let (log, k) = log();
    let size = log.len();
    let (stored, _) = log.renew(&k.owner, Suite::Sha256, None).unwrap();
    // A bundle of fewer entries than the renewal covers: it cannot check it, and says so.
    let short = export(&log, &k, Selection::Range(0..size - 2));
    let r = verify(
        &with_renewals(&short, &k, vec![stored.item.clone()]),
        &TrustPolicy::new(owner_vkeys(&k)).unwrap(),
    );
    assert!(r.is_valid(), "{}", r.render());
    assert_eq!(r.renewals[0].status, TimestampStatus::NotChecked);
    assert!(
        r.renewals[0].detail.contains("not 0.."),
        "{:?}",
        r.renewals[0]
    );
    assert!(r.proven_items.iter().all(|p| p.code() != "entries_renewed"));
    // With blake3 distrusted, nothing covers those entries.
    let r = verify(
        &with_renewals(&short, &k, vec![stored.item]),
        &distrusting(&k),
    );
    assert_finding(&r, "are not re-protected");
    // An owner-signed renewal claiming more entries than the log has: not checked, not covering.
    let mut more = headers(&log);
    more.push(vec![0xa0]);
    let forged = signed(&k, log.log_id(), &more, vec![]);
    let whole = export(&log, &k, Selection::Log);
    let r = verify(&with_renewals(&whole, &k, vec![forged]), &distrusting(&k));
    assert_finding(&r, &format!("entries 0..{size} are not re-protected"));
    assert_eq!(r.renewals[0].status, TimestampStatus::NotChecked);
}

// Exports from entry 0 carry the renewals; other shapes carry none, and a bundle without
// renewals keeps its bytes (no `renewals` key).
#[test]
fn only_exports_from_entry_zero_carry_renewals() {
    let (log, k) = log();
    let plain = export(&log, &k, Selection::Range(1..3));
    assert!(!plain.windows(8).any(|w| w == b"renewals"));
    log.renew(&k.owner, Suite::Sha256, Some(3)).unwrap();
    assert!(
        export(&log, &k, Selection::Log)
            .windows(8)
            .any(|w| w == b"renewals")
    );
    assert!(
        !export(&log, &k, Selection::Range(1..3))
            .windows(8)
            .any(|w| w == b"renewals")
    );
    assert!(
        !export(&log, &k, Selection::Entries(vec![1]))
            .windows(8)
            .any(|w| w == b"renewals")
    );
}
