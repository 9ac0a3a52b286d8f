//! What the fuzz targets share: the fixed keys and trust configuration the seed corpora were made
//! with. `tests/fuzz_seeds.rs` in the main crate makes the seeds from the same constants; see
//! FUZZING.md.

pub mod mutator;

use std::sync::OnceLock;

use sealtrail::checkpoint::{
    CheckpointTrust, LogOrigin, WitnessKey, WitnessPolicy, Witnesses, checkpoint_origin,
};
use sealtrail::{EntryHash, PublicKey, SecretKey, Suite};

/// The origin of the seed logs.
pub const ORIGIN: &str = "example.com/fuzz-seeds";
/// The seed of the owner key that signed the seed logs, checkpoints and bundles.
pub const OWNER_SEED: [u8; 32] = [0x11; 32];
/// The seed of the witness key that cosigned a seed checkpoint.
pub const WITNESS_SEED: [u8; 32] = [0x66; 32];
/// The witness's name.
pub const WITNESS_NAME: &str = "witness.example.com/w1";

/// The pinned owner key, named after the checkpoint origin line of each suite's seed log
/// (SPEC §11.3: the log's verifier key), blake3 first.
pub fn owner_keys() -> &'static [PublicKey] {
    static KEYS: OnceLock<Vec<PublicKey>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let key = SecretKey::from_seed(ORIGIN, &OWNER_SEED)
            .expect("a fixed seed makes a key")
            .public_key();
        [Suite::Blake3, Suite::Sha256]
            .into_iter()
            .map(|s| key.renamed(&checkpoint_origin(ORIGIN, s)).expect("a valid key name"))
            .collect()
    })
}

/// The trusted witness.
pub fn witness() -> &'static WitnessKey {
    static KEY: OnceLock<WitnessKey> = OnceLock::new();
    KEY.get_or_init(|| {
        WitnessKey::new(
            SecretKey::from_seed(WITNESS_NAME, &WITNESS_SEED)
                .expect("a fixed seed makes a key")
                .public_key(),
        )
    })
}

/// A 1-of-1 policy of the trusted witness.
pub fn witness_policy() -> WitnessPolicy {
    WitnessPolicy::new(vec![witness().clone()], 1).expect("one witness, quorum one")
}

/// Trust configurations for the seed log's checkpoints, one per suite and witness requirement:
/// the owner key pinned, with and without the witness.
pub fn trusts() -> &'static [CheckpointTrust] {
    static TRUSTS: OnceLock<Vec<CheckpointTrust>> = OnceLock::new();
    TRUSTS.get_or_init(|| {
        let mut out = Vec::new();
        for suite in [Suite::Blake3, Suite::Sha256] {
            let log = LogOrigin::new(ORIGIN, suite).expect("a valid origin");
            for witnesses in [Witnesses::NotRequired, Witnesses::Quorum(witness_policy())] {
                out.push(
                    CheckpointTrust::new(log.clone(), owner_keys().to_vec(), witnesses)
                        .expect("an owner key is pinned"),
                );
            }
        }
        out
    })
}

/// Keys a note may be verified against: the owner, the witness's key (as a plain note key), and
/// the keys of the C2SP and Go sumdb example notes among the seeds.
pub fn note_keys() -> &'static [PublicKey] {
    static KEYS: OnceLock<Vec<PublicKey>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut keys = owner_keys().to_vec();
        keys.push(witness().public_key().clone());
        for vkey in [
            "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop",
        ] {
            keys.push(PublicKey::from_vkey(vkey).expect("a published verifier key"));
        }
        keys
    })
}

/// How the targets resolve entry references given by sequence number alone: every position
/// below 1000 holds an entry, whose hash is made from its position.
pub fn resolve(seq: u64) -> Option<EntryHash> {
    (seq < 1000).then_some(EntryHash([(seq % 251) as u8; 32]))
}
