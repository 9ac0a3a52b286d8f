//! RFC 3161 tokens from a real TSA (`openssl ts -reply`) checked by the library (SPEC §12.7).
#![cfg(feature = "tsa")]

use sealtrail::timestamp::{TimestampError, TimestampRequest, TsaTrust, verify_token};
use sealtrail_testkit::openssl_tsa::{KeyType, Pki, Usage};

const NOTE: &[u8] = b"example.com/log#sha256\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\xe2\x80\x94 example.com/log#sha256 abcd\n";

fn trust(path: &std::path::Path) -> TsaTrust {
    TsaTrust::from_pem_or_der(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn openssl_tokens_verify_and_mismatches_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path(), "a");
    for key in [KeyType::Rsa, KeyType::P256] {
        let tsa = pki.tsa(&format!("tsa-{key:?}"), Usage::Timestamping, key);
        let req = TimestampRequest::new(NOTE, [7; 16]).unwrap();
        let reply = tsa.reply(req.der());
        let (token, info) = req.accept(&reply).unwrap();
        assert!(info.tsa.contains("tsa-"), "{info:?}");
        let checked = verify_token(&token, NOTE, &trust(&pki.ca_pem())).unwrap();
        assert_eq!(checked, info);
        tsa.openssl_verify(&token, NOTE).unwrap();
        // Another note: the imprint does not match.
        assert_eq!(
            verify_token(&token, b"another note", &trust(&pki.ca_pem())),
            Err(TimestampError::ImprintMismatch)
        );
        // A reply to another request (another nonce).
        let other = TimestampRequest::new(NOTE, [9; 16]).unwrap();
        assert_eq!(
            other.accept(&reply).unwrap_err(),
            TimestampError::NonceMismatch
        );
    }
}

// ---- Tokens in bundles (SPEC §12.7), and insiders against them. ----

use std::sync::Arc;

use sealtrail::bundle::{
    BundleHeader, Trailer, TrustPolicy, bundle_digest, preamble, verify_bundle,
};
use sealtrail::checkpoint::checkpoint_origin;
use sealtrail::codec::read_item;
use sealtrail::log::{ExportOptions, Selection};
use sealtrail::registry::Role;
use sealtrail::report::{Report, TimestampStatus};
use sealtrail::store::{MemoryStore, Store};
use sealtrail::{Clock, Durability, Log, SecretKey, SignedDescriptor, Suite, Timestamp};
use sealtrail_testkit::openssl_tsa::Tsa;

const ORIGIN: &str = "example.com/tsa-log";
const HOUR: u64 = 3_600_000_000_000;

fn owner() -> SecretKey {
    SecretKey::from_seed(ORIGIN, &[1; 32]).unwrap()
}

fn recorder() -> SecretKey {
    SecretKey::from_seed("recorder", &[2; 32]).unwrap()
}

fn now() -> u64 {
    Timestamp::now().0
}

/// A log in memory whose clock starts at `start` and steps one second per reading, with four
/// entries, checkpointed.
fn log_at(start: u64) -> Log {
    let store = Arc::new(MemoryStore::new());
    let log = Log::builder()
        .durability(Durability::Buffered)
        .clock(Clock::stepping(
            Timestamp(start),
            std::time::Duration::from_secs(1),
        ))
        .create_in(store as Arc<dyn Store>, &owner(), ORIGIN)
        .unwrap();
    log.register_key(&owner(), recorder().key_id(), Role::Recorder, "harness")
        .unwrap();
    for i in 0..3 {
        log.append(
            &recorder(),
            sealtrail_testkit::fixtures::note(&format!("step {i}")),
        )
        .unwrap();
    }
    log.checkpoint(&owner()).unwrap();
    log
}

/// Timestamps the latest checkpoint with `tsa` (a real `openssl ts -reply`) and stores it.
fn timestamp(log: &Log, tsa: &Tsa) -> Vec<u8> {
    let note = log.latest_checkpoint().unwrap().unwrap().encode();
    let req = TimestampRequest::new(&note, [3; 16]).unwrap();
    let (token, _) = req.accept(&tsa.reply(req.der())).unwrap();
    assert!(log.add_timestamp(&note, &token).unwrap());
    // The same token again: stored once.
    assert!(!log.add_timestamp(&note, &token).unwrap());
    token
}

fn export(log: &Log) -> Vec<u8> {
    let mut out = Vec::new();
    log.export(
        &owner(),
        &ExportOptions::new(Selection::Log),
        &mut out,
        &mut |_, _| {},
    )
    .unwrap();
    out
}

fn policy(tsa_ca: Option<&std::path::Path>) -> TrustPolicy {
    let pinned = [Suite::Blake3, Suite::Sha256]
        .iter()
        .map(|s| {
            owner()
                .public_key()
                .renamed(&checkpoint_origin(ORIGIN, *s))
                .unwrap()
        })
        .collect();
    let p = TrustPolicy::new(pinned).unwrap();
    match tsa_ca {
        Some(ca) => p.with_tsa(trust(ca)),
        None => p,
    }
}

fn verify(bundle: &[u8], policy: &TrustPolicy) -> Report {
    let report = verify_bundle(bundle, policy).unwrap();
    sealtrail_testkit::report_schema::assert_report_schema(&report.to_json());
    report
}

#[track_caller]
fn assert_finding(r: &Report, check: &str, says: &str) {
    assert!(!r.is_valid(), "VALID, expected a `{check}` finding");
    assert!(
        r.findings
            .iter()
            .any(|f| f.check.as_str() == check && f.message.contains(says)),
        "expected a `{check}` finding saying {says:?}:\n{}",
        r.render()
    );
}

/// The header of a bundle, and every item after it, as bytes.
fn split(bundle: &[u8]) -> (BundleHeader, Vec<Vec<u8>>) {
    let mut r = bundle;
    let mut buf = Vec::new();
    let mut items = Vec::new();
    while read_item(&mut r, &mut buf, 1 << 26).unwrap() {
        items.push(buf.clone());
    }
    let header = BundleHeader::decode(&items[2]).unwrap();
    // Magic, version and header off the front; the trailer off the end.
    items.drain(..3);
    items.pop();
    (header, items)
}

/// The bundle with `edit` applied to its header, re-signed by the owner: what an exporter
/// holding the owner key can do.
fn reassemble(bundle: &[u8], edit: impl FnOnce(&mut BundleHeader)) -> Vec<u8> {
    let (mut header, items) = split(bundle);
    edit(&mut header);
    let suite = SignedDescriptor::from_bytes(&header.descriptor)
        .unwrap()
        .suite();
    let mut out = preamble();
    out.extend_from_slice(&header.encode());
    for item in &items {
        out.extend_from_slice(item);
    }
    let digest = bundle_digest(suite, &out);
    let trailer = Trailer {
        count: header.count,
        digest: serde_bytes::ByteArray::new(digest),
        signature: serde_bytes::ByteArray::new(owner().sign(&Trailer::signing_input(&digest))),
        signer: serde_bytes::ByteArray::new(*owner().key_id().as_bytes()),
    };
    out.extend_from_slice(&trailer.encode());
    out
}

#[test]
fn a_verified_token_bounds_the_entries_it_covers() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path(), "trusted");
    let tsa = pki.tsa("Example TSA", Usage::Timestamping, KeyType::Rsa);
    let log = log_at(now() - HOUR);
    timestamp(&log, &tsa);
    let size = log.len();
    log.append(
        &recorder(),
        sealtrail_testkit::fixtures::note("after the token"),
    )
    .unwrap();
    let bundle = export(&log);

    let r = verify(&bundle, &policy(Some(&pki.ca_pem())));
    assert!(r.is_valid(), "{}", r.render());
    assert_eq!(r.timestamps.len(), 1);
    assert_eq!(r.timestamps[0].status, TimestampStatus::Verified);
    assert_eq!(r.timestamps[0].size, size);
    let said = format!("entries 0..{size} existed no later than");
    let sentence = r.proven.iter().find(|p| p.starts_with(&said));
    let sentence = sentence.unwrap_or_else(|| panic!("{}", r.render()));
    assert!(
        sentence.contains(
            "(TSA CN=Example TSA,O=sealtrail tests): an RFC 3161 token over the checkpoint"
        ) && !sentence.contains("  "),
        "{sentence}"
    );
    assert!(r.render().contains("CN=Example TSA"), "{}", r.render());
    let json = r.to_json();
    let item = json["proven_items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["code"] == "entries_timestamped")
        .expect("an entries_timestamped item");
    assert_eq!(item["size"], size);
    // The auditor's page shows it among the facts.
    let html = sealtrail::html::Page::report_only(&r).render().unwrap();
    assert!(
        html.contains(&format!(
            "<dt>Trusted time</dt><dd>checkpoint of size {size}: entries 0..{size} existed no \
             later than"
        )),
        "{html}"
    );

    // Without a trusted TSA certificate: valid, the token not checked, nothing claimed.
    let r = verify(&bundle, &policy(None));
    assert!(r.is_valid(), "{}", r.render());
    assert_eq!(r.timestamps[0].status, TimestampStatus::NotChecked);
    assert!(
        r.render()
            .contains("not checked (no trusted TSA certificate given: --tsa-cert)")
    );
    assert!(!r.proven.iter().any(|p| p.contains("existed no later than")));
}

/// Each way a token can fail is a finding that names it; the honest bundle verifies beside it.
#[test]
fn tokens_that_prove_nothing_are_named_findings() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path(), "trusted");
    let tsa = pki.tsa("Example TSA", Usage::Timestamping, KeyType::Rsa);
    let log = log_at(now() - HOUR);
    let good = timestamp(&log, &tsa);
    let bundle = export(&log);
    let trusted = policy(Some(&pki.ca_pem()));
    assert!(verify(&bundle, &trusted).is_valid());
    let note = split(&bundle).0.timestamps[0].note.to_vec();
    let with_token = |token: Vec<u8>| {
        reassemble(&bundle, |h| {
            h.timestamps[0].token = serde_bytes::ByteBuf::from(token);
        })
    };

    // A genuine token over another checkpoint note (an earlier one of the same log).
    let earlier = log_at(now() - HOUR);
    earlier
        .append(&recorder(), sealtrail_testkit::fixtures::note("other"))
        .unwrap();
    earlier.checkpoint(&owner()).unwrap();
    let other_note = earlier.latest_checkpoint().unwrap().unwrap().encode();
    assert_ne!(other_note, note);
    let req = TimestampRequest::new(&other_note, [4; 16]).unwrap();
    let (other, _) = req.accept(&tsa.reply(req.der())).unwrap();
    let r = verify(&with_token(other), &trusted);
    assert_finding(
        &r,
        "timestamp",
        "message imprint is not SHA-256 of this checkpoint note",
    );

    // A token by a TSA whose certificate does not chain to the trusted one.
    let rogue_pki = Pki::new(dir.path(), "rogue");
    let rogue = rogue_pki.tsa("Rogue TSA", Usage::Timestamping, KeyType::P256);
    let req = TimestampRequest::new(&note, [5; 16]).unwrap();
    let (rogue_token, _) = req.accept(&rogue.reply(req.der())).unwrap();
    let r = verify(&with_token(rogue_token.clone()), &trusted);
    assert_finding(&r, "timestamp", "does not chain to the trusted certificate");
    // … which verifies against its own CA: the chain, not the token, is what failed.
    assert!(verify(&with_token(rogue_token), &policy(Some(&rogue_pki.ca_pem()))).is_valid());

    // A certificate of the trusted CA without the timeStamping extended key usage.
    let no_eku = pki.tsa("Plain Signer", Usage::NoEku, KeyType::Rsa);
    let r = verify(&with_token(no_eku.resign_token(&good)), &trusted);
    assert_finding(
        &r,
        "timestamp",
        "is not for time-stamping: it has no extendedKeyUsage",
    );

    // A token whose note is not one of the bundle's checkpoints.
    let r = verify(
        &reassemble(&bundle, |h| {
            h.timestamps[0].note = serde_bytes::ByteBuf::from(other_note.clone());
        }),
        &trusted,
    );
    assert_finding(
        &r,
        "timestamp",
        "not one of the bundle's verified checkpoints",
    );

    // Garbage where the token should be: a typed finding, no panic.
    let r = verify(&with_token(b"\x30\x03\x02\x01\x01".to_vec()), &trusted);
    assert_finding(&r, "timestamp", "malformed");

    // One flipped byte in the token, the trailer left as it was: the trailer catches it.
    let (header, _) = split(&bundle);
    let token_at = bundle
        .windows(good.len())
        .position(|w| w == good.as_slice())
        .expect("the token is in the bundle verbatim");
    assert_eq!(header.timestamps[0].token.as_slice(), good.as_slice());
    let mut flipped = bundle.clone();
    flipped[token_at + good.len() / 2] ^= 0x01;
    let r = verify(&flipped, &trusted);
    assert_finding(
        &r,
        "signature",
        "do not hash to the digest its trailer signs",
    );
}

/// The recorder holds a real key and dates entries an hour ahead: once a TSA timestamps the
/// checkpoint over them, every such entry is dated after the time they provably existed by.
#[test]
fn entries_dated_after_the_tsa_time_are_findings() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path(), "trusted");
    let tsa = pki.tsa("Example TSA", Usage::Timestamping, KeyType::Rsa);
    let log = log_at(now() + HOUR);
    timestamp(&log, &tsa);
    let bundle = export(&log);
    // Without the TSA's time, nothing contradicts the recorder's clock.
    assert!(verify(&bundle, &policy(None)).is_valid());
    let r = verify(&bundle, &policy(Some(&pki.ca_pem())));
    assert_finding(&r, "time", "the time the TSA");
    // Every entry below the checkpoint's size (the control entry is named as a control item and
    // again as an entry item).
    let late: std::collections::BTreeSet<u64> = r
        .findings
        .iter()
        .filter(|f| f.check.as_str() == "time")
        .filter_map(|f| f.seq)
        .collect();
    assert_eq!(late, (0..log.len()).collect(), "{}", r.render());
}
