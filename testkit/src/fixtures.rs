//! Keys, logs and a small history shared by the integration tests of every crate of the
//! workspace.

use std::sync::Arc;

use sealtrail::codec::to_canonical;
use sealtrail::event::{
    Alternative, CommandRun, Custom, Decision, Event, FileRead, SessionEnded, SessionStarted,
    SessionStatus, content_digest,
};
use sealtrail::registry::Role;
use sealtrail::store::{MemoryStore, Store};
use sealtrail::{Durability, Kind, Log, Receipt, Record, SecretKey, SessionId, Suite};

/// The origin of the test logs.
pub const ORIGIN: &str = "example.com/test-log";

/// The keys of the test logs, from fixed seeds.
pub struct Keys {
    /// The log's owner (named after the origin).
    pub owner: SecretKey,
    /// The harness's recorder key.
    pub recorder: SecretKey,
    /// A person's approver key.
    pub approver: SecretKey,
    /// A key the log never registers.
    pub outsider: SecretKey,
}

/// The fixed test keys.
pub fn keys() -> Keys {
    Keys {
        owner: SecretKey::from_seed(ORIGIN, &[1; 32]).unwrap(),
        recorder: SecretKey::from_seed("recorder", &[2; 32]).unwrap(),
        approver: SecretKey::from_seed("approver", &[3; 32]).unwrap(),
        outsider: SecretKey::from_seed("outsider", &[4; 32]).unwrap(),
    }
}

/// A kind from its name.
pub fn kind(k: &str) -> Kind {
    Kind::new(k).unwrap()
}

/// A value as canonical CBOR.
pub fn payload<T: serde::Serialize>(v: &T) -> Vec<u8> {
    to_canonical(v).unwrap()
}

/// A new log in memory, with its store and the test keys.
pub fn memory_log(suite: Suite, durability: Durability) -> (Arc<MemoryStore>, Log, Keys) {
    let store = Arc::new(MemoryStore::new());
    let k = keys();
    let log = Log::builder()
        .suite(suite)
        .durability(durability)
        .create_in(store.clone() as Arc<dyn Store>, &k.owner, ORIGIN)
        .unwrap();
    (store, log, k)
}

/// A `custom` record of type `example.com/note` carrying `body`: a valid entry of any content,
/// for tests that need entries but not their meaning.
pub fn note<T: serde::Serialize + ?Sized>(body: &T) -> Record {
    Event::Custom(Custom::new("example.com/note", body).unwrap())
        .to_record()
        .unwrap()
}

/// A `command_run` record of `command`, with its exit code and duration.
pub fn command(command: &str, exit_code: i64, duration_ms: u64) -> Record {
    Event::CommandRun(CommandRun {
        command: command.to_owned(),
        exit_code: Some(exit_code),
        duration_ms,
        ..CommandRun::default()
    })
    .to_record()
    .unwrap()
}

fn started(objective: &str) -> Record {
    Event::SessionStarted(SessionStarted {
        objective: objective.to_owned(),
        agent_name: "test agent".to_owned(),
        ..SessionStarted::default()
    })
    .to_record()
    .unwrap()
}

/// Registers a recorder and an approver, then appends a small two-session history with links,
/// an approval and an erased payload. Returns the receipts of every entry.
pub fn populate(log: &Log, k: &Keys) -> Vec<Receipt> {
    let mut r = vec![
        log.register_key(
            &k.owner,
            k.recorder.key_id(),
            Role::Recorder,
            "test harness",
        )
        .unwrap(),
        log.register_key(
            &k.owner,
            k.approver.key_id(),
            Role::Approver,
            "Release Approver",
        )
        .unwrap(),
    ];
    let s1 = SessionId::new("sess-1").unwrap();
    let s2 = SessionId::new("sess-2").unwrap();
    let append = |signer: &SecretKey, record: Record| log.append(signer, record).unwrap();
    r.push(append(&k.recorder, started("add XBRL output").session(&s1)));
    let read = Event::FileRead(FileRead {
        path: "src/render.rs".to_owned(),
        digest: content_digest(log.suite(), b"pub fn render() {}"),
        reason: None,
    });
    r.push(append(&k.recorder, read.to_record().unwrap().session(&s1)));
    r.push(append(&k.recorder, started("other work").session(&s2)));
    let decision = Event::Decision(Decision {
        question: "how to write XBRL".to_owned(),
        chosen: "a library".to_owned(),
        rejected: vec![Alternative {
            option: "hand-built XML".to_owned(),
            reason: "escaping by hand".to_owned(),
        }],
        rationale: "namespaces".to_owned(),
    });
    let decided = append(
        &k.recorder,
        decision
            .to_record()
            .unwrap()
            .session(&s1)
            .link(r[2].link())
            .link(r[3].link()),
    );
    r.push(decided);
    r.push(append(
        &k.approver,
        approval_of(log, &[decided]).session(&s1),
    ));
    r.push(append(
        &k.recorder,
        command("cargo test", 0, 41_000).session(&s2),
    ));
    r.push(append(
        &k.recorder,
        command("cargo test", 1, 12_000).session(&s1),
    ));
    let ended = Event::SessionEnded(SessionEnded {
        status: SessionStatus::Completed,
        summary: Some("done".to_owned()),
    });
    r.push(append(&k.recorder, ended.to_record().unwrap().session(&s1)));
    r.push(
        log.erase_payload(&k.owner, r[3].seq, "test erasure")
            .unwrap(),
    );
    r
}

/// An approval record (SPEC §13.5) of earlier entries at the `file_write` gate, signed at the
/// time of the log's clock.
pub fn approval_of(log: &Log, subjects: &[Receipt]) -> Record {
    use sealtrail::approval::{Approval, Gate, Meaning, Subjects, Verdict};
    let a = Approval::new(
        Gate::FileWrite,
        Meaning::Approval,
        Verdict::Approve,
        Subjects::entries(subjects.iter().map(Receipt::link)),
    )
    .unwrap()
    .with_signed_at(log.now());
    sealtrail::Event::Approval(a).to_record().unwrap()
}

/// The owner's verifier key as an auditor pins it (SPEC §11.3): named after the checkpoint
/// origin line of the log's suite.
pub fn owner_vkey(k: &Keys, suite: Suite) -> sealtrail::PublicKey {
    let line = sealtrail::checkpoint::checkpoint_origin(ORIGIN, suite);
    k.owner.public_key().renamed(&line).unwrap()
}

/// The owner's verifier keys for both suites: an auditor's trust for any test log.
pub fn owner_vkeys(k: &Keys) -> Vec<sealtrail::PublicKey> {
    vec![owner_vkey(k, Suite::Blake3), owner_vkey(k, Suite::Sha256)]
}
