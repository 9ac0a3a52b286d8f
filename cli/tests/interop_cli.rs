//! The verifier key file the command line hands an auditor, checked by an implementation nobody
//! here wrote (the `signed_note` crate, a port of Go's `sumdb/note`).

#![cfg(feature = "sled")]

use sealtrail::checkpoint::{CheckpointTrust, LogOrigin, Witnesses};
use sealtrail::keys::PublicKey;
use signed_note::{Note, NoteError, StandardVerifier, VerifierList};

const ORIGIN: &str = "example.com/interop-log";

/// A `signed_note` verifier list holding the given verifier keys.
fn verifiers(vkeys: &[&str]) -> VerifierList {
    VerifierList::new(
        vkeys
            .iter()
            .map(|v| Box::new(StandardVerifier::new(v).unwrap()) as Box<dyn signed_note::Verifier>)
            .collect(),
    )
}

/// The verifier key file `sealtrail init` writes (and the README tells an auditor to pin)
/// verifies the log's checkpoints in `signed_note` as it is, for both suites; the owner's own
/// `.key.pub` (named after its file) does not, there or in sealtrail.
#[test]
fn the_vkey_file_init_writes_verifies_checkpoints_in_signed_note() {
    use std::process::Command;
    let run = |dir: &std::path::Path, args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_sealtrail"))
            .current_dir(dir)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    for suite in ["sha256", "blake3"] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        run(d, &["keygen", "--out", "owner.key"]);
        run(
            d,
            &[
                "init",
                "--log",
                "log",
                "--owner-key",
                "owner.key",
                "--origin",
                ORIGIN,
                "--suite",
                suite,
            ],
        );
        run(
            d,
            &[
                "checkpoint",
                "--log",
                "log",
                "--owner-key",
                "owner.key",
                "--out",
                "cp",
            ],
        );
        let vkey = std::fs::read_to_string(d.join("log.vkey")).unwrap();
        let note = Note::from_bytes(&std::fs::read(d.join("cp")).unwrap()).unwrap();
        let (verified, _) = note.verify(&verifiers(&[vkey.trim()])).unwrap();
        assert_eq!(verified.len(), 1, "{suite}");
        let pub_key = std::fs::read_to_string(d.join("owner.key.pub")).unwrap();
        assert!(matches!(
            note.verify(&verifiers(&[pub_key.trim()])),
            Err(NoteError::UnverifiedNote)
        ));
        // sealtrail's verifier takes the same file, and refuses the .pub the same way.
        let line = std::str::from_utf8(note.text())
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .to_owned();
        let log_origin = LogOrigin::from_checkpoint_origin(&line).unwrap();
        let trusted = |k: &str| {
            CheckpointTrust::new(
                log_origin.clone(),
                vec![PublicKey::from_vkey(k.trim()).unwrap()],
                Witnesses::NotRequired,
            )
            .unwrap()
            .verify_bytes(&std::fs::read(d.join("cp")).unwrap())
        };
        assert!(trusted(&vkey).is_ok(), "{suite}");
        assert!(trusted(&pub_key).is_err(), "{suite}");
    }
}
