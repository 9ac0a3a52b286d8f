//! The seed corpora of the fuzz targets in `fuzz/` (FUZZING.md): real entries, descriptors,
//! checkpoint notes, tlog proofs, bundles, JSON events and CBOR items, made from small realistic
//! logs on fixed keys and a fixed clock, plus the external vectors of `tests/vectors/`.
//!
//! `SEALTRAIL_WRITE_FUZZ_SEEDS=1 cargo test --test fuzz_seeds` rewrites `fuzz/seeds/`. Without it,
//! the test checks the checked-in seeds instead: the generator still makes exactly the files that
//! are checked in, every seed not named `fail_*` is still accepted by the parser its target
//! fuzzes (so a format change cannot leave the fuzzers starting from stale inputs), every
//! `fail_*` seed is still rejected, every seed bundle verifies under the fuzz targets' pinned key,
//! and `fuzz/seeds/bundle_verify.valid` lists exactly the seed bundles. Payload salts are random,
//! so entries, roots and bundles differ from one generation to the next; everything else (keys,
//! times, payloads, descriptors) is fixed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value as Json, json};

use sealtrail::bundle::{BundleHeader, TrustPolicy, verify_bundle};
use sealtrail::checkpoint::{Checkpoint, SignedCheckpoint, TlogProof, checkpoint_origin};
use sealtrail::codec::{decode_value, read_item};
use sealtrail::event::json::{event_to_json, from_json};
use sealtrail::log::{ExportOptions, Selection};
use sealtrail::registry::Role;
use sealtrail::store::{MemoryStore, Store};
use sealtrail::{
    Clock, Descriptor, Durability, Entry, EntryHash, Event, Kind, Log, Receipt, SecretKey,
    SessionId, SignedDescriptor, SignedNote, Suite, Timestamp,
};
use sealtrail_testkit::scenario::{
    ScenarioKeys, record_hidden_failure_session, record_xbrl_session,
};

/// The origin of the seed logs. The fuzz targets hold the same constants (fuzz/src/lib.rs).
const ORIGIN: &str = "example.com/fuzz-seeds";
/// Key seeds: owner, recorder, approver, the recorder's replacement, a revoked contractor, a
/// witness. The owner key is the one the fuzz targets pin.
const OWNER_SEED: [u8; 32] = [0x11; 32];
const RECORDER_SEED: [u8; 32] = [0x22; 32];
const APPROVER_SEED: [u8; 32] = [0x33; 32];
const RECORDER2_SEED: [u8; 32] = [0x44; 32];
const CONTRACTOR_SEED: [u8; 32] = [0x55; 32];
const WITNESS_SEED: [u8; 32] = [0x66; 32];
const WITNESS_NAME: &str = "witness.example.com/w1";
/// 2026-01-01T00:00:00Z in nanoseconds; the clock steps one second per reading.
const START: u64 = 1_767_225_600_000_000_000;
/// Seed bundles stay small so the fuzzer runs fast; the whole corpus stays under 2 MB.
const MAX_BUNDLE_SEED: usize = 96 * 1024;
const MAX_CORPUS: usize = 2 * 1024 * 1024;

/// The targets, each with its seed directory `fuzz/seeds/<target>`.
const TARGETS: [&str; 6] = [
    "decode_entry",
    "descriptor",
    "note_checkpoint",
    "bundle_verify",
    "event_json",
    "roundtrip",
];

struct Keys {
    owner: SecretKey,
    recorder: SecretKey,
    approver: SecretKey,
    recorder2: SecretKey,
    contractor: SecretKey,
    witness: SecretKey,
}

fn keys() -> Keys {
    Keys {
        owner: SecretKey::from_seed(ORIGIN, &OWNER_SEED).unwrap(),
        recorder: SecretKey::from_seed("recorder", &RECORDER_SEED).unwrap(),
        approver: SecretKey::from_seed("approver", &APPROVER_SEED).unwrap(),
        recorder2: SecretKey::from_seed("recorder-2", &RECORDER2_SEED).unwrap(),
        contractor: SecretKey::from_seed("contractor", &CONTRACTOR_SEED).unwrap(),
        witness: SecretKey::from_seed(WITNESS_NAME, &WITNESS_SEED).unwrap(),
    }
}

fn new_log(suite: Suite, k: &Keys) -> Log {
    Log::builder()
        .suite(suite)
        .durability(Durability::Buffered)
        .clock(Clock::stepping(Timestamp(START), Duration::from_secs(1)))
        .create_in(
            Arc::new(MemoryStore::new()) as Arc<dyn Store>,
            &k.owner,
            ORIGIN,
        )
        .unwrap()
}

/// The hash of entry `seq`, for JSON references given by sequence number.
fn resolver(log: &Log) -> impl Fn(u64) -> Option<EntryHash> + '_ {
    move |seq| log.read(seq).ok().flatten().map(|e| e.hash)
}

/// Appends a session event given in its JSON form (SPEC §13.10), as `sealtrail append` does.
fn put(log: &Log, signer: &SecretKey, event: Json) -> Receipt {
    let parsed = from_json(&event, log.suite(), &resolver(log)).unwrap();
    let mut record = parsed.event.to_record().unwrap().links(parsed.links);
    if let Some(s) = &parsed.session {
        record = record.session(s);
    }
    log.append(signer, record).unwrap()
}

/// A small log with everything a bundle can carry: key registration, rotation and revocation,
/// two sessions, links, a gate and an approval, a custom event, an erased payload and several
/// checkpoints. Returns the log and the sizes of its checkpoints.
fn small_log(suite: Suite, k: &Keys) -> (Log, Vec<u64>) {
    let log = new_log(suite, k);
    let mut checkpoints = Vec::new();
    log.register_key(
        &k.owner,
        k.recorder.key_id(),
        Role::Recorder,
        "fuzz harness",
    )
    .unwrap();
    log.register_key(
        &k.owner,
        k.approver.key_id(),
        Role::Approver,
        "Release Approver",
    )
    .unwrap();
    let started = put(
        &log,
        &k.recorder,
        json!({"kind": "session_started", "session": "sess-1",
               "objective": "Add XBRL export beside the PDF renderer", "agent_name": "xbrl-agent",
               "scope": ["src/report/"], "required_checks": ["cargo test"]}),
    );
    let read = put(
        &log,
        &k.recorder,
        json!({"kind": "file_read", "session": "sess-1", "path": "src/report/mod.rs",
               "digest": {"text": "pub mod pdf;\n"}, "reason": "find the renderer entry point",
               "links": [started.seq]}),
    );
    checkpoints.push(log.checkpoint(&k.owner).unwrap().checkpoint().size());
    let other = put(
        &log,
        &k.recorder,
        json!({"kind": "command_run", "session": "sess-2", "command": "cargo test",
               "exit_code": 0, "duration_ms": 41000, "stdout_digest": {"text": "ok"}}),
    );
    let decision = put(
        &log,
        &k.recorder,
        json!({"kind": "decision", "session": "sess-1",
               "question": "How should the XBRL document be written?",
               "chosen": "a typed XML layer",
               "rejected": [{"option": "hand-built strings", "reason": "escaping by hand"}],
               "rationale": "namespaces are required", "links": [started.seq, read.seq]}),
    );
    let gate = put(
        &log,
        &k.recorder,
        json!({"kind": "gate_requested", "session": "sess-1", "gate": "file_write",
               "summary": "write 6 files", "entries": [decision.seq],
               "artifacts": [{"text": "patchset"}]}),
    );
    put(
        &log,
        &k.approver,
        json!({"kind": "approval", "session": "sess-1", "gate": "file_write",
               "meaning": "approval", "decision": "approve", "entries": [decision.seq],
               "signed_at": log.now().0,
               "comment": "looks right", "links": [gate.seq]}),
    );
    checkpoints.push(log.checkpoint(&k.owner).unwrap().checkpoint().size());
    log.rotate_key(
        &k.owner,
        k.recorder.key_id(),
        k.recorder2.key_id(),
        "scheduled rotation",
    )
    .unwrap();
    log.register_key(
        &k.owner,
        k.contractor.key_id(),
        Role::Recorder,
        "contract harness",
    )
    .unwrap();
    put(
        &log,
        &k.contractor,
        json!({"kind": "assumption", "session": "sess-2",
               "statement": "the preview service is up", "basis": "it was yesterday"}),
    );
    log.revoke_key(&k.owner, k.contractor.key_id(), "contract ended")
        .unwrap();
    put(
        &log,
        &k.recorder2,
        json!({"kind": "verification", "session": "sess-1", "check": "cargo test",
               "outcome": "fail", "passed": 9, "failed": 3, "requirement": "required",
               "command": "cargo test", "links": [decision.seq]}),
    );
    put(
        &log,
        &k.recorder2,
        json!({"kind": "custom", "session": "sess-2", "type": "example.com/lint",
               "body": {"warnings": 2, "files": ["a.rs", "b.rs"], "clean": false,
                        "nested": {"depth": [1, [2, [3]]], "none": null, "neg": -7}}}),
    );
    put(
        &log,
        &k.recorder2,
        json!({"kind": "session_ended", "session": "sess-1", "status": "completed",
               "summary": "done"}),
    );
    log.erase_payload(&k.owner, other.seq, "contains a customer name")
        .unwrap();
    checkpoints.push(log.checkpoint(&k.owner).unwrap().checkpoint().size());
    (log, checkpoints)
}

/// The XBRL and hidden-failure scenarios (src/scenario.rs) in one log.
fn scenario_log(k: &Keys) -> Log {
    let log = new_log(Suite::Blake3, k);
    let keys = ScenarioKeys::new(&k.owner, &k.recorder, &k.approver, "Release Approver");
    record_xbrl_session(&log, &keys, &SessionId::new("xbrl-1").unwrap()).unwrap();
    log.checkpoint(&k.owner).unwrap();
    record_hidden_failure_session(&log, &keys, &SessionId::new("invite-7").unwrap()).unwrap();
    log.checkpoint(&k.owner).unwrap();
    log
}

fn export(log: &Log, k: &Keys, options: ExportOptions) -> Vec<u8> {
    let mut out = Vec::new();
    log.export(&k.owner, &options, &mut out, &mut |_, _| {})
        .unwrap();
    out
}

fn kind(k: &str) -> Kind {
    Kind::new(k).unwrap()
}

fn vectors(name: &str) -> Json {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(name);
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Every seed, by target and file name.
type Seeds = BTreeMap<&'static str, BTreeMap<String, Vec<u8>>>;

fn add(seeds: &mut Seeds, target: &'static str, name: String, bytes: Vec<u8>) {
    let previous = seeds.get_mut(target).unwrap().insert(name.clone(), bytes);
    assert!(previous.is_none(), "{target}/{name} twice");
}

fn generate() -> Seeds {
    let k = keys();
    let mut seeds: Seeds = TARGETS.iter().map(|t| (*t, BTreeMap::new())).collect();
    let (small, small_cps) = small_log(Suite::Blake3, &k);
    let (small256, _) = small_log(Suite::Sha256, &k);
    let scenario = scenario_log(&k);

    // Bundles (SPEC §12): every shape and option, from the small logs and the scenario.
    let bundles = [
        ("whole_log", &small, ExportOptions::new(Selection::Log)),
        (
            "whole_log_sha256",
            &small256,
            ExportOptions::new(Selection::Log),
        ),
        (
            "session",
            &small,
            ExportOptions::new(Selection::Session(SessionId::new("sess-1").unwrap())),
        ),
        (
            "since_checkpoint",
            &small,
            ExportOptions::new(Selection::Since { size: small_cps[0] }),
        ),
        ("range", &small, ExportOptions::new(Selection::Range(3..9))),
        (
            "entries",
            &small256,
            ExportOptions::new(Selection::Entries(vec![2, 5, 7])),
        ),
        (
            "withheld",
            &small,
            ExportOptions::new(Selection::Log)
                .withhold_kind(kind("file_read"))
                .withhold_entry(4),
        ),
        (
            "scenario_session_withheld",
            &scenario,
            ExportOptions::new(Selection::Session(SessionId::new("invite-7").unwrap()))
                .withhold_kind(kind("model_call")),
        ),
        (
            "scenario_whole_log",
            &scenario,
            ExportOptions::new(Selection::Log),
        ),
        (
            "scenario_xbrl_decisions",
            &scenario,
            ExportOptions::new(Selection::Range(0..40)).withhold_kind(kind("model_call")),
        ),
    ];
    for (name, log, options) in bundles {
        let bundle = export(log, &k, options);
        assert!(
            bundle.len() <= MAX_BUNDLE_SEED,
            "{name}: {} bytes",
            bundle.len()
        );
        add(
            &mut seeds,
            "bundle_verify",
            format!("{name}.bundle"),
            bundle,
        );
    }

    // Entries (SPEC §6): one of each kind in each log.
    for (prefix, log) in [("b3", &small), ("s256", &small256), ("scenario", &scenario)] {
        let mut kinds = std::collections::BTreeSet::new();
        for e in log.range(0..log.len()) {
            let e = e.unwrap();
            let kind = e.header().kind.as_str().to_owned();
            let name = format!("{prefix}_{:03}_{kind}.entry", e.seq());
            if kinds.insert(kind) {
                add(
                    &mut seeds,
                    "decode_entry",
                    name,
                    e.entry.as_bytes().to_vec(),
                );
            }
        }
    }

    // Descriptors (SPEC §5): signed, and the descriptor bytes alone.
    let plain_descriptor = |log: &Log| log.descriptor().descriptor_bytes().to_vec();
    add(
        &mut seeds,
        "descriptor",
        "signed_blake3.descriptor".into(),
        small.descriptor().as_bytes().to_vec(),
    );
    add(
        &mut seeds,
        "descriptor",
        "signed_sha256.descriptor".into(),
        small256.descriptor().as_bytes().to_vec(),
    );
    add(
        &mut seeds,
        "descriptor",
        "plain_blake3.descriptor".into(),
        plain_descriptor(&small),
    );
    let long_origin = format!("example.com/{}", "o".repeat(243));
    let long = Descriptor::new(
        Suite::Sha256,
        &long_origin,
        k.owner.key_id(),
        Timestamp(u64::MAX),
    )
    .unwrap();
    add(
        &mut seeds,
        "descriptor",
        "signed_long_origin.descriptor".into(),
        SignedDescriptor::sign(long, &k.owner)
            .unwrap()
            .as_bytes()
            .to_vec(),
    );

    // Checkpoints and notes (SPEC §11): bodies, owner-signed notes of both suites, a cosigned
    // note, tlog proofs with and without the entry hash, and the C2SP / Go sumdb examples.
    let latest = small.latest_checkpoint().unwrap().unwrap();
    add(
        &mut seeds,
        "note_checkpoint",
        "body_blake3.checkpoint".into(),
        latest.checkpoint().encode().into_bytes(),
    );
    add(
        &mut seeds,
        "note_checkpoint",
        "signed_blake3.note".into(),
        latest.encode(),
    );
    let latest256 = small256.latest_checkpoint().unwrap().unwrap();
    add(
        &mut seeds,
        "note_checkpoint",
        "signed_sha256.note".into(),
        latest256.encode(),
    );
    let mut cosigned = latest256.clone();
    cosigned.cosign(&k.witness, 1_767_230_000).unwrap();
    add(
        &mut seeds,
        "note_checkpoint",
        "cosigned_sha256.note".into(),
        cosigned.encode(),
    );
    let with_ext = Checkpoint::new(
        latest.checkpoint().origin(),
        latest.checkpoint().size(),
        latest.checkpoint().root(),
    )
    .unwrap()
    .with_extensions(vec!["ext one".into(), "ext-two".into()])
    .unwrap();
    add(
        &mut seeds,
        "note_checkpoint",
        "signed_extensions.note".into(),
        SignedCheckpoint::sign(with_ext, &k.owner).unwrap().encode(),
    );
    for (name, log, seq) in [
        ("proof_first", &small, 0),
        ("proof_middle", &small, 5),
        ("proof_sha256_last", &small256, small256.len() - 1),
    ] {
        add(
            &mut seeds,
            "note_checkpoint",
            format!("{name}.tlog"),
            log.prove(seq).unwrap().encode(),
        );
    }
    let bare = small.prove(3).unwrap();
    let bare = TlogProof::new(
        bare.index(),
        bare.hashes().to_vec(),
        bare.checkpoint().clone(),
    )
    .unwrap();
    add(
        &mut seeds,
        "note_checkpoint",
        "proof_without_hash.tlog".into(),
        bare.encode(),
    );
    let v = vectors("signed_note_checkpoint_vectors.json");
    for (i, note) in v["notes"].as_array().unwrap().iter().enumerate() {
        let text = |j: &Json| j.as_str().unwrap().as_bytes().to_vec();
        add(
            &mut seeds,
            "note_checkpoint",
            format!("c2sp_{i}.note"),
            text(&note["note_utf8"]),
        );
        if let Some(both) = note["second_signer"]["note_with_both_sigs_utf8"].as_str() {
            add(
                &mut seeds,
                "note_checkpoint",
                format!("c2sp_{i}_two_signers.note"),
                both.as_bytes().to_vec(),
            );
        }
        for (j, neg) in note["negative"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            if let Some(bad) = neg["note_utf8"].as_str() {
                // "invalid signature" negatives are well-formed notes; the rest are malformed.
                let malformed = neg["expect"].as_str().unwrap() == "malformed";
                let name = if malformed {
                    format!("fail_c2sp_{i}_{j}.note")
                } else {
                    format!("c2sp_{i}_bad_signature_{j}.note")
                };
                add(&mut seeds, "note_checkpoint", name, bad.as_bytes().to_vec());
            }
        }
    }
    for (i, cp) in v["checkpoint_bodies"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        for field in ["body_utf8", "note_utf8"] {
            if let Some(s) = cp[field].as_str() {
                add(
                    &mut seeds,
                    "note_checkpoint",
                    format!("c2sp_checkpoint_{i}_{field}.txt"),
                    s.as_bytes().to_vec(),
                );
            }
        }
    }

    // JSON events (SPEC §13.10): at most two of each kind, as `sealtrail show --json` writes
    // them, and hand-written ones using every reference and digest form.
    let mut per_kind: BTreeMap<String, usize> = BTreeMap::new();
    for log in [&scenario, &small] {
        for e in log.range(0..log.len()) {
            let e = e.unwrap();
            let Some(data) = e.payload.data() else {
                continue;
            };
            let Ok(event) = Event::decode(&e.header().kind, data) else {
                continue;
            };
            let n = per_kind.entry(event.kind_str().to_owned()).or_default();
            if *n < 2 {
                *n += 1;
                let json = event_to_json(&event).unwrap();
                add(
                    &mut seeds,
                    "event_json",
                    format!("{}_{n}.json", event.kind_str()),
                    serde_json::to_vec(&json).unwrap(),
                );
            }
        }
    }
    let hash = hex::encode([7u8; 32]);
    let handwritten = [
        (
            "refs_every_form",
            json!({"kind": "gate_requested", "gate": "pr_create", "session": "s-1",
                   "entries": [3, [1, hash], {"seq": 2, "hash": hash}, {"seq": 3}],
                   "artifacts": [{"text": "patch"}, hash], "links": [1, [2, hash]]}),
        ),
        (
            "supersession",
            json!({"kind": "supersession", "reason": "a better plan", "supersedes": 4,
                   "replacement": [9, hash]}),
        ),
        (
            "correction",
            json!({"kind": "correction", "corrects": {"seq": 5}, "redirected": "use the typed layer",
                   "instruction": "no strings"}),
        ),
        (
            "model_call_full",
            json!({"kind": "model_call", "provider": "anthropic", "request_model": "m-1",
                   "response_model": "m-1-2026", "response_id": "r-9", "finish_reasons": ["stop"],
                   "input_tokens": 1200, "output_tokens": 300, "cache_read_input_tokens": 1000,
                   "cache_creation_input_tokens": 0, "reasoning_output_tokens": 50,
                   "temperature_milli": 700, "seed": -42, "cost": {"currency": "USD", "micros": 1234},
                   "prompt_digest": {"text": "prompt"}, "response_digest": hash,
                   "duration_ms": 900, "purpose": "plan"}),
        ),
        (
            "tool_call",
            json!({"kind": "tool_call", "name": "Edit", "call_id": "c-1", "tool_type": "function",
                   "arguments_digest": hash, "result_digest": {"text": "ok"}, "outcome": "error",
                   "duration_ms": 3, "paths": ["src/a.rs", "src/b.rs"]}),
        ),
        (
            "handoff",
            json!({"kind": "handoff", "status": "blocked", "summary": "needs a key",
                   "blockers": ["no access"], "open_risks": ["time"], "next_action": "ask"}),
        ),
        (
            "custom_deep",
            json!({"kind": "custom", "type": "example.com/x",
                   "body": {"a": [1, -1, 18446744073709551615u64, -9223372036854775808i64, "t", true, null,
                                  {"b": {"c": {"d": [[[[]]]]}}}]}}),
        ),
        (
            "artifact",
            json!({"kind": "artifact", "type": "pull_request", "name": "PR 12",
                   "uri": "https://example.com/pr/12", "digest": {"text": "diff"}, "size": 4096,
                   "paths": ["src/"], "media_type": "text/x-diff", "session": "s-2"}),
        ),
        (
            "gap",
            json!({"kind": "gap", "session": "s-1", "event": "PreToolUse",
                   "reason": "the hook payload is not valid JSON", "source": "claude-code",
                   "input_size": 9, "input_digest": {"text": "{not json"}}),
        ),
        (
            "fail_float_in_custom_body",
            json!({"kind": "custom", "type": "example.com/x", "body": {"a": [1.5]}}),
        ),
        (
            "fail_unknown_field",
            json!({"kind": "command_run", "command": "x", "duration_ms": 1, "exit": 0}),
        ),
        (
            "fail_unsorted_supersession",
            json!({"kind": "supersession", "reason": "r", "supersedes": 9, "replacement": 4}),
        ),
    ];
    for (name, json) in handwritten {
        add(
            &mut seeds,
            "event_json",
            format!("{name}.json"),
            serde_json::to_vec(&json).unwrap(),
        );
    }

    // CBOR items (SPEC §3): the RFC 8949 Appendix A examples (those outside the profile as
    // fail_*), and real items: payloads, headers, entries, bundle headers and trailers.
    for (i, case) in vectors("rfc8949_appendix_a_cbor.json")
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let bytes = hex::decode(case["hex"].as_str().unwrap()).unwrap();
        let name = if decode_value(&bytes).is_ok() {
            format!("rfc8949_{i:02}.cbor")
        } else {
            format!("fail_rfc8949_{i:02}.cbor")
        };
        add(&mut seeds, "roundtrip", name, bytes);
    }
    let mut payload_kinds = std::collections::BTreeSet::new();
    for e in small.range(0..small.len()) {
        let e = e.unwrap();
        if let Some(data) = e.payload.data() {
            if payload_kinds.insert(e.header().kind.as_str().to_owned()) {
                add(
                    &mut seeds,
                    "roundtrip",
                    format!("payload_{}.cbor", e.header().kind),
                    data.to_vec(),
                );
            }
        }
        if e.seq() == 6 {
            add(
                &mut seeds,
                "roundtrip",
                "entry_header.cbor".into(),
                e.entry.header_bytes().to_vec(),
            );
            add(
                &mut seeds,
                "roundtrip",
                "entry_wire.cbor".into(),
                e.entry.as_bytes().to_vec(),
            );
        }
    }
    let whole = seeds["bundle_verify"]["session.bundle"].clone();
    let mut r = &whole[..];
    let mut buf = Vec::new();
    let mut items = Vec::new();
    while read_item(&mut r, &mut buf, 1 << 20).unwrap() {
        items.push(buf.clone());
    }
    add(
        &mut seeds,
        "roundtrip",
        "bundle_header.cbor".into(),
        items[2].clone(),
    );
    add(
        &mut seeds,
        "roundtrip",
        "bundle_entry_item.cbor".into(),
        items[4].clone(),
    );
    add(
        &mut seeds,
        "roundtrip",
        "bundle_trailer.cbor".into(),
        items.last().unwrap().clone(),
    );
    add(
        &mut seeds,
        "roundtrip",
        "descriptor.cbor".into(),
        plain_descriptor(&small),
    );
    seeds
}

/// The key the seed bundles are signed with, as the fuzz targets pin it.
fn policy() -> TrustPolicy {
    let owner = keys().owner.public_key();
    let names = [
        checkpoint_origin(ORIGIN, Suite::Blake3),
        checkpoint_origin(ORIGIN, Suite::Sha256),
    ];
    TrustPolicy::new(names.iter().map(|n| owner.renamed(n).unwrap()).collect()).unwrap()
}

/// What `bundle_verify` compares valid verdicts against: the SHA-256 of every seed bundle.
fn valid_list(bundles: &BTreeMap<String, Vec<u8>>) -> String {
    bundles
        .iter()
        .map(|(name, b)| {
            format!(
                "{} {name}\n",
                hex::encode(Suite::Sha256.hash(&[b.as_slice()]))
            )
        })
        .collect()
}

fn fuzz_resolver(seq: u64) -> Option<EntryHash> {
    // As in fuzz/src/lib.rs: every position below 1000 resolves.
    (seq < 1000).then_some(EntryHash([(seq % 251) as u8; 32]))
}

/// Whether the parser a target fuzzes accepts a seed.
fn accepted(target: &str, bytes: &[u8]) -> bool {
    match target {
        "decode_entry" => Entry::from_bytes(bytes).is_ok(),
        "descriptor" => {
            SignedDescriptor::from_bytes(bytes).is_ok() || Descriptor::decode(bytes).is_ok()
        }
        "note_checkpoint" => {
            SignedNote::parse(bytes).is_ok()
                || TlogProof::parse(bytes).is_ok()
                || std::str::from_utf8(bytes).is_ok_and(|s| Checkpoint::parse(s).is_ok())
        }
        "bundle_verify" => verify_bundle(bytes, &policy()).is_ok_and(|r| {
            sealtrail_testkit::report_schema::assert_report_schema(&r.to_json());
            r.is_valid()
        }),
        "event_json" => serde_json::from_slice::<Json>(bytes)
            .is_ok_and(|j| from_json(&j, Suite::Blake3, &fuzz_resolver).is_ok()),
        "roundtrip" => decode_value(bytes).is_ok(),
        _ => unreachable!("{target}"),
    }
}

fn check(seeds: &Seeds) {
    let mut total = 0;
    for (target, files) in seeds {
        assert!(!files.is_empty(), "{target} has no seeds");
        for (name, bytes) in files {
            total += bytes.len();
            let expect = !name.starts_with("fail_");
            assert_eq!(
                accepted(target, bytes),
                expect,
                "{target}/{name} should be {}",
                if expect { "accepted" } else { "rejected" }
            );
        }
    }
    assert!(total < MAX_CORPUS, "the seed corpus is {total} bytes");
    // A since-export starts at the checkpoint it proves growth from, whose root the frontier
    // before its first entry gives, and carries that checkpoint.
    let since = &seeds["bundle_verify"]["since_checkpoint.bundle"];
    let mut r = &since[..];
    let mut buf = Vec::new();
    for _ in 0..3 {
        assert!(read_item(&mut r, &mut buf, 1 << 24).unwrap());
    }
    let header = BundleHeader::decode(&buf).unwrap();
    assert!(header.start > 0 && !header.frontier.is_empty());
    assert!(header.checkpoints.len() >= 2);
}

fn seeds_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds")
}

fn read_checked_in() -> Seeds {
    let dir = seeds_dir();
    TARGETS
        .iter()
        .map(|t| {
            let files = std::fs::read_dir(dir.join(t))
                .unwrap_or_else(|e| panic!("fuzz/seeds/{t}: {e}"))
                .map(|f| {
                    let f = f.unwrap();
                    (
                        f.file_name().into_string().unwrap(),
                        std::fs::read(f.path()).unwrap(),
                    )
                })
                .collect();
            (*t, files)
        })
        .collect()
}

#[test]
fn fuzz_seed_corpora_are_current_and_accepted() {
    let fresh = generate();
    check(&fresh);
    let dir = seeds_dir();
    if std::env::var_os("SEALTRAIL_WRITE_FUZZ_SEEDS").is_some() {
        for (target, files) in &fresh {
            let d = dir.join(target);
            if d.exists() {
                std::fs::remove_dir_all(&d).unwrap();
            }
            std::fs::create_dir_all(&d).unwrap();
            for (name, bytes) in files {
                std::fs::write(d.join(name), bytes).unwrap();
            }
        }
        std::fs::write(
            dir.join("bundle_verify.valid"),
            valid_list(&fresh["bundle_verify"]),
        )
        .unwrap();
    }
    let stored = read_checked_in();
    for target in TARGETS {
        let names = |s: &Seeds| s[target].keys().cloned().collect::<Vec<_>>();
        assert_eq!(
            names(&stored),
            names(&fresh),
            "fuzz/seeds/{target} is stale: SEALTRAIL_WRITE_FUZZ_SEEDS=1 cargo test --test fuzz_seeds"
        );
    }
    check(&stored);
    let listed = std::fs::read_to_string(dir.join("bundle_verify.valid")).unwrap();
    assert_eq!(
        listed,
        valid_list(&stored["bundle_verify"]),
        "fuzz/seeds/bundle_verify.valid does not list the seed bundles"
    );
}
