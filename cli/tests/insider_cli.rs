//! An insider's fork made with the shipped command line, as it was first reported (issue 13,
//! item 1; the library-level forks are in the library's tests/insider.rs).

#![cfg(feature = "sled")]

fn sealtrail(dir: &std::path::Path, args: &[&str], stdin: Option<&str>) -> std::process::Output {
    use std::io::Write as _;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sealtrail"))
        .current_dir(dir)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "sealtrail {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `sealtrail demo` makes log A and its checkpoint of size 84. The owner makes log B with the
/// same origin and owner key, registers a new recorder, appends 90 fabricated `command_run`
/// entries and exports entries 84..91 (and the empty range 84..84). With A's checkpoint,
/// `verify-bundle` must say INVALID (exit 1) and name the checkpoint check; without it, B's
/// bundle is a valid bundle of B.
#[test]
fn a_fork_made_with_the_cli_fails_verify_bundle_with_the_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    sealtrail(d, &["demo", "--dir", "a"], None);
    let owner_key = "a/keys/owner.key";
    sealtrail(
        d,
        &[
            "init",
            "--log",
            "b",
            "--owner-key",
            owner_key,
            "--origin",
            "example.com/sealtrail-demo",
        ],
        None,
    );
    sealtrail(d, &["keygen", "--out", "fake.key"], None);
    sealtrail(
        d,
        &[
            "keys",
            "add",
            "--log",
            "b",
            "--owner-key",
            owner_key,
            "--pub",
            "fake.key.pub",
            "--role",
            "recorder",
            "--name",
            "fabricated",
        ],
        None,
    );
    let lines: String = (0..90)
        .map(|i| {
            format!(
                "{{\"kind\":\"command_run\",\"command\":\"deploy {i}\",\"exit_code\":0,\"duration_ms\":1}}\n"
            )
        })
        .collect();
    sealtrail(
        d,
        &[
            "append",
            "--log",
            "b",
            "--key",
            "fake.key",
            "--session",
            "s-fork",
        ],
        Some(&lines),
    );
    for (range, out) in [("84..91", "fork.bundle"), ("84..84", "empty.bundle")] {
        sealtrail(
            d,
            &[
                "export",
                "--log",
                "b",
                "--owner-key",
                owner_key,
                "--range",
                range,
                "--out",
                out,
            ],
            None,
        );
        let verify = |extra: &[&str]| {
            let mut args = vec![out, "--trusted-key", "a/log.vkey"];
            args.extend_from_slice(extra);
            std::process::Command::new(env!("CARGO_BIN_EXE_verify-bundle"))
                .current_dir(d)
                .args(&args)
                .output()
                .unwrap()
        };
        let alone = verify(&[]);
        assert_eq!(
            alone.status.code(),
            Some(0),
            "{range} alone: {}",
            String::from_utf8_lossy(&alone.stdout)
        );
        let with_a = verify(&["--checkpoint", "a/checkpoint.txt"]);
        let shown = String::from_utf8_lossy(&with_a.stdout);
        assert_eq!(with_a.status.code(), Some(1), "{range}: {shown}");
        assert!(shown.contains("verdict:     INVALID"), "{range}: {shown}");
        assert!(shown.contains("[checkpoint]"), "{range}: {shown}");
    }
}
