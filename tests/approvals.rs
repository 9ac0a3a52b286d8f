//! Approvals (SPEC §13.5): forged, self-made, revoked or detached approvals are refused by the
//! log at append time and rejected by verification of a log that holds one anyway (written
//! with the low-level API, as an attacker with write access to the store would).

use std::sync::Arc;

use sealtrail::approval::{Approval, ApprovalProblem, Gate, Meaning, Subjects, Verdict};
use sealtrail::codec::to_canonical;
use sealtrail::entry::{Entry, EntryHeader, Link};
use sealtrail::event::{Event, FileRead, content_digest};
use sealtrail::hash::{PayloadCommitment, Salt};
use sealtrail::log::{AppendError, LogVerifyError, verify_store};
use sealtrail::registry::{Role, SignerError};
use sealtrail::store::{MemoryStore, Store};
use sealtrail::verify::{Check, VerifyError};
use sealtrail::{Digest, Kind, Log, Receipt, Record, SecretKey, SessionId};

const ORIGIN: &str = "example.com/approvals-log";

struct Keys {
    owner: SecretKey,
    recorder: SecretKey,
    approver: SecretKey,
    // The same person as the recorder's operator: another key under the recorder's name.
    twin: SecretKey,
}

struct Fixture {
    store: Arc<MemoryStore>,
    log: Log,
    k: Keys,
    session: SessionId,
    // A recorder entry to approve.
    work: Receipt,
    // An approval of `work` by the approver.
    approved: Receipt,
}

fn fixture() -> Fixture {
    let k = Keys {
        owner: SecretKey::from_seed(ORIGIN, &[0x11; 32]).unwrap(),
        recorder: SecretKey::from_seed("recorder", &[0x12; 32]).unwrap(),
        approver: SecretKey::from_seed("approver", &[0x13; 32]).unwrap(),
        twin: SecretKey::from_seed("twin", &[0x14; 32]).unwrap(),
    };
    let store = Arc::new(MemoryStore::new());
    let log = Log::builder()
        .create_in(store.clone() as Arc<dyn Store>, &k.owner, ORIGIN)
        .unwrap();
    log.register_key(
        &k.owner,
        k.recorder.key_id(),
        Role::Recorder,
        "Harness Operator",
    )
    .unwrap();
    log.register_key(
        &k.owner,
        k.approver.key_id(),
        Role::Approver,
        "Release Approver",
    )
    .unwrap();
    // Registered with the recorder's printed name, spaced and cased differently.
    log.register_key(
        &k.owner,
        k.twin.key_id(),
        Role::Approver,
        "harness  operator",
    )
    .unwrap();
    let session = SessionId::new("sess-approvals").unwrap();
    let work = log
        .append(
            &k.recorder,
            Event::FileRead(FileRead {
                path: "src/lib.rs".into(),
                digest: content_digest(log.suite(), b"fn main() {}"),
                reason: None,
            })
            .to_record()
            .unwrap()
            .session(&session),
        )
        .unwrap();
    let approved = log
        .append(&k.approver, approval(&[work]).session(&session))
        .unwrap();
    Fixture {
        store,
        log,
        k,
        session,
        work,
        approved,
    }
}

fn approval_payload(subjects: &[Receipt]) -> Approval {
    Approval::new(
        Gate::FileWrite,
        Meaning::Approval,
        Verdict::Approve,
        Subjects::new(subjects.iter().map(Receipt::link), [Digest([0x44; 32])]),
    )
    .unwrap()
}

fn approval(subjects: &[Receipt]) -> Record {
    Event::Approval(approval_payload(subjects))
        .to_record()
        .unwrap()
}

fn approval_kind() -> Kind {
    Kind::new("approval").unwrap()
}

fn expect_append_approval(err: AppendError) -> ApprovalProblem {
    match err {
        AppendError::Approval { source, .. } => source,
        other => panic!("expected an approval error, got {other}"),
    }
}

/// The happy path verifies, and the approval links what it approves.
#[test]
fn a_proper_approval_is_accepted_and_verifies() {
    let f = fixture();
    f.log.verify().unwrap();
    let stored = f.log.read(f.approved.seq).unwrap().unwrap();
    assert_eq!(stored.header().links, vec![f.work.link()]);
    let a = Approval::decode(stored.payload.data().unwrap()).unwrap();
    assert_eq!(a.meaning(), Meaning::Approval);
    assert_eq!(a.entries(), &[f.work.link()]);
}

#[test]
fn recorder_signed_approval_is_refused() {
    let f = fixture();
    let len = f.log.len();
    let err = f
        .log
        .append(&f.k.recorder, approval(&[f.work]).session(&f.session))
        .unwrap_err();
    assert!(
        matches!(
            err,
            AppendError::Signer {
                source: SignerError::RoleNotPermitted {
                    role: Role::Recorder,
                    ..
                },
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(f.log.len(), len);
}

#[test]
fn approving_work_signed_by_the_same_key_is_refused() {
    let f = fixture();
    // The approver approving its own approval entry.
    let err = f
        .log
        .append(&f.k.approver, approval(&[f.approved]).session(&f.session))
        .unwrap_err();
    assert_eq!(
        expect_append_approval(err),
        ApprovalProblem::OwnKey {
            subject: f.approved.seq,
            key: f.k.approver.key_id()
        }
    );
}

#[test]
fn approving_work_under_the_same_printed_name_is_refused() {
    let f = fixture();
    let err = f
        .log
        .append(&f.k.twin, approval(&[f.work]).session(&f.session))
        .unwrap_err();
    assert_eq!(
        expect_append_approval(err),
        ApprovalProblem::SamePrintedName {
            subject: f.work.seq,
            subject_key: f.k.recorder.key_id(),
            name: "Harness Operator".into(),
        }
    );
    // Approving someone else's approval under the twin key is fine.
    f.log
        .append(&f.k.twin, approval(&[f.approved]).session(&f.session))
        .unwrap();
    f.log.verify().unwrap();
}

#[test]
fn approval_by_a_revoked_key_is_refused() {
    let f = fixture();
    f.log
        .revoke_key(&f.k.owner, f.k.approver.key_id(), "left the team")
        .unwrap();
    let err = f
        .log
        .append(&f.k.approver, approval(&[f.work]).session(&f.session))
        .unwrap_err();
    assert!(
        matches!(
            err,
            AppendError::Signer {
                source: SignerError::Revoked { .. },
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn approval_whose_subjects_are_not_its_links_is_refused() {
    let f = fixture();
    let payload = approval_payload(&[f.work]).encode().unwrap();
    // No link at all.
    let err = f
        .log
        .append(
            &f.k.approver,
            Record::new(approval_kind(), payload.clone()).session(&f.session),
        )
        .unwrap_err();
    assert_eq!(
        expect_append_approval(err),
        ApprovalProblem::SubjectNotLinked {
            subject: f.work.seq
        }
    );
    // A link to a different entry than the subject.
    let err = f
        .log
        .append(
            &f.k.approver,
            Record::new(approval_kind(), payload)
                .session(&f.session)
                .link(Link {
                    seq: 0,
                    hash: f.log.read(0).unwrap().unwrap().hash,
                }),
        )
        .unwrap_err();
    assert!(matches!(
        expect_append_approval(err),
        ApprovalProblem::SubjectNotLinked { .. }
    ));
}

#[test]
fn malformed_approval_payloads_are_refused() {
    let f = fixture();
    for (what, payload) in [
        ("a number", to_canonical(&1).unwrap()),
        (
            "no meaning",
            to_canonical(&serde_json::json!({
                "gate": "file_write", "decision": "approve",
                "artifacts": [serde_bytes::ByteBuf::from(vec![1u8; 32])],
            }))
            .unwrap(),
        ),
    ] {
        let err = f
            .log
            .append(
                &f.k.approver,
                Record::new(approval_kind(), payload).session(&f.session),
            )
            .unwrap_err();
        assert!(
            matches!(expect_append_approval(err), ApprovalProblem::Payload(_)),
            "{what}"
        );
    }
}

// ---- Verification of logs that hold a bad approval, written past the log's checks. ----

fn entry_key(seq: u64) -> Vec<u8> {
    let mut k = vec![0x01];
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// Writes the next entry straight into the store, signed by `signer`, as an attacker with write
/// access to storage could. Returns its position.
fn forge(f: &Fixture, signer: &SecretKey, payload: &[u8], links: Vec<Link>) -> u64 {
    forge_kind(f, signer, approval_kind(), payload, links)
}

/// [`forge`], of any kind.
fn forge_kind(
    f: &Fixture,
    signer: &SecretKey,
    kind: sealtrail::Kind,
    payload: &[u8],
    links: Vec<Link>,
) -> u64 {
    let seq = f.log.len();
    let last = f.log.read(seq - 1).unwrap().unwrap();
    let salt = Salt([0x5a; 32]);
    let header = EntryHeader {
        version: sealtrail::descriptor::FORMAT_VERSION,
        log_id: f.log.log_id(),
        seq,
        prev: last.hash,
        time: last.header().time,
        session: f.session.clone(),
        signer: signer.key_id(),
        kind,
        payload: PayloadCommitment::compute(f.log.suite(), &salt, payload),
        links,
        control: if last.header().kind.is_control() {
            Some(Link {
                seq: last.seq(),
                hash: last.hash,
            })
        } else {
            last.header().control
        },
    };
    let hb = header.encode();
    let entry = Entry::sign(header, &hb, signer);
    // The Merkle nodes this leaf completes (SPEC §9.1), from the entries before it.
    let suite = f.log.suite();
    let mut frontier = sealtrail::merkle::Frontier::new();
    for e in f.log.range(0..seq) {
        frontier
            .append(
                &suite,
                sealtrail::merkle::leaf_hash(suite, &e.unwrap().hash),
            )
            .unwrap();
    }
    let nodes: Vec<u8> = frontier
        .append(
            &suite,
            sealtrail::merkle::leaf_hash(suite, &entry.hash(suite)),
        )
        .unwrap()
        .iter()
        .filter(|n| n.id.level >= sealtrail::log::RECORD_NODE_LEVEL)
        .flat_map(|n| n.hash)
        .collect();
    let record = sealtrail::log::encode_record(
        &entry,
        &sealtrail::entry::Payload::Present {
            salt,
            data: payload.to_vec(),
        },
        &nodes,
    );
    f.store.put(&entry_key(seq), &record).unwrap();
    seq
}

fn rejected(f: &Fixture, seq: u64) -> VerifyError {
    match verify_store(f.store.as_ref()).unwrap_err() {
        LogVerifyError::Invalid(e) => {
            assert_eq!(e.seq(), Some(seq), "{e}");
            e
        }
        other => panic!("{other}"),
    }
}

fn approval_problem(e: VerifyError) -> ApprovalProblem {
    assert_eq!(e.check(), Check::Approval);
    assert_eq!(e.check().as_str(), "approval");
    match e {
        VerifyError::Approval { problem, .. } => problem,
        other => panic!("{other}"),
    }
}

// An agent never signs a person's statement (SPEC §7.1): a review or merge that a recorder key
// signed, written past the writer's checks, fails verification on its signer.
#[test]
fn verification_rejects_a_recorder_signed_review_or_merge() {
    use sealtrail::event::{ChangeRef, Event, Merge, Review, ReviewVerdict};
    let change = ChangeRef {
        commit: Some("c".repeat(40)),
        ..ChangeRef::default()
    };
    for event in [
        Event::Review(Review {
            change: change.clone(),
            verdict: ReviewVerdict::Approve,
            checklist: Vec::new(),
            comment: None,
            entries: Vec::new(),
        }),
        Event::Merge(Merge {
            change: change.clone(),
            into: "main".into(),
            repository: None,
            merge_commit: None,
            paths: Vec::new(),
        }),
    ] {
        let f = fixture();
        let payload = event.encode().unwrap();
        let seq = forge_kind(&f, &f.k.recorder, event.kind(), &payload, Vec::new());
        let e = rejected(&f, seq);
        assert_eq!(e.check(), Check::Signer, "{e}");
        // Signed by the approver, the same bytes verify.
        let f = fixture();
        forge_kind(&f, &f.k.approver, event.kind(), &payload, Vec::new());
        verify_store(f.store.as_ref()).unwrap();
    }
}

// A self-review written past the writer's checks (SPEC §13.4.20): the approver reviews an entry
// its own key signed, and verification fails it on `approval`.
#[test]
fn verification_rejects_a_review_of_the_reviewers_own_entry() {
    use sealtrail::event::{ChangeRef, Event, Review, ReviewVerdict};
    let f = fixture();
    let own = f.approved.link();
    let event = Event::Review(Review {
        change: ChangeRef {
            pr: Some("!7".into()),
            ..ChangeRef::default()
        },
        verdict: ReviewVerdict::Approve,
        checklist: Vec::new(),
        comment: None,
        entries: vec![own],
    });
    let payload = event.encode().unwrap();
    let seq = forge_kind(&f, &f.k.approver, event.kind(), &payload, vec![own]);
    let e = rejected(&f, seq);
    assert_eq!(e.check(), Check::Approval, "{e}");
    // The same review of the recorder's work verifies.
    let f = fixture();
    let work = f.work.link();
    let event = Event::Review(Review {
        change: ChangeRef {
            pr: Some("!7".into()),
            ..ChangeRef::default()
        },
        verdict: ReviewVerdict::Approve,
        checklist: Vec::new(),
        comment: None,
        entries: vec![work],
    });
    let payload = event.encode().unwrap();
    forge_kind(&f, &f.k.approver, event.kind(), &payload, vec![work]);
    verify_store(f.store.as_ref()).unwrap();
}

#[test]
fn verification_rejects_a_recorder_signed_approval() {
    let f = fixture();
    verify_store(f.store.as_ref()).unwrap();
    let payload = approval_payload(&[f.work]).encode().unwrap();
    let seq = forge(&f, &f.k.recorder, &payload, vec![f.work.link()]);
    let e = rejected(&f, seq);
    assert!(
        matches!(
            e,
            VerifyError::Signer {
                source: SignerError::RoleNotPermitted { .. },
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn verification_rejects_self_approval_by_key() {
    let f = fixture();
    let payload = approval_payload(&[f.approved]).encode().unwrap();
    let seq = forge(&f, &f.k.approver, &payload, vec![f.approved.link()]);
    assert_eq!(
        approval_problem(rejected(&f, seq)),
        ApprovalProblem::OwnKey {
            subject: f.approved.seq,
            key: f.k.approver.key_id()
        }
    );
}

#[test]
fn verification_rejects_self_approval_by_printed_name() {
    let f = fixture();
    let payload = approval_payload(&[f.work]).encode().unwrap();
    let seq = forge(&f, &f.k.twin, &payload, vec![f.work.link()]);
    assert!(matches!(
        approval_problem(rejected(&f, seq)),
        ApprovalProblem::SamePrintedName { subject, .. } if subject == f.work.seq
    ));
}

#[test]
fn verification_rejects_an_approval_by_a_revoked_key() {
    let f = fixture();
    f.log
        .revoke_key(&f.k.owner, f.k.approver.key_id(), "left the team")
        .unwrap();
    let payload = approval_payload(&[f.work]).encode().unwrap();
    let seq = forge(&f, &f.k.approver, &payload, vec![f.work.link()]);
    let e = rejected(&f, seq);
    assert!(
        matches!(
            e,
            VerifyError::Signer {
                source: SignerError::Revoked { .. },
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn verification_rejects_an_approval_whose_subjects_are_not_its_links() {
    let f = fixture();
    let payload = approval_payload(&[f.work]).encode().unwrap();
    let seq = forge(&f, &f.k.approver, &payload, vec![]);
    assert_eq!(
        approval_problem(rejected(&f, seq)),
        ApprovalProblem::SubjectNotLinked {
            subject: f.work.seq
        }
    );
}

#[test]
fn verification_rejects_a_malformed_approval() {
    let f = fixture();
    let payload = to_canonical(&serde_json::json!({"gate": "file_write"})).unwrap();
    let seq = forge(&f, &f.k.approver, &payload, vec![]);
    assert!(matches!(
        approval_problem(rejected(&f, seq)),
        ApprovalProblem::Payload(_)
    ));
}

/// A correct approval written by hand verifies: the checks above fail for the reasons named,
/// not because hand-written entries are rejected.
#[test]
fn a_hand_written_correct_approval_verifies() {
    let f = fixture();
    let payload = approval_payload(&[f.work]).encode().unwrap();
    forge(&f, &f.k.approver, &payload, vec![f.work.link()]);
    verify_store(f.store.as_ref()).unwrap();
}

/// An approval without a meaning cannot be built: `Approval::new` takes one (see the
/// `compile_fail` examples in `sealtrail::approval`), and there is no `Default`. Nor can one be
/// built that names nothing.
#[test]
fn an_approval_needs_a_meaning_and_subjects() {
    let empty = Approval::new(
        Gate::Merge,
        Meaning::Review,
        Verdict::Reject,
        Subjects::new([], []),
    );
    assert_eq!(empty, Err(ApprovalProblem::NoSubjects));
    let ok = Approval::new(
        Gate::Merge,
        Meaning::Review,
        Verdict::Reject,
        Subjects::artifacts([Digest([1; 32])]),
    )
    .unwrap();
    assert_eq!(ok.meaning(), Meaning::Review);
}
