//! Archive throughput (BENCHMARKS.md): `sealtrail archive` of a log of N entries to an S3 server,
//! beside a plain PutObject loop of the same bytes with the same client (rusty-s3 + ureq), and
//! `verify-bundle --archive` beside `verify-bundle` of the whole log exported to a local file.
//!
//! ```sh
//! moto_server -H 127.0.0.1 -p 5123 &
//! cargo build --release -p sealtrail-cli --features s3
//! AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench SEALTRAIL_TEST_S3=http://127.0.0.1:5123 \
//!   cargo run --release -p sealtrail-cli --features s3 \
//!   --example archive_throughput -- 20000 1000
//! ```
//!
//! Arguments: entries (default 20,000) and entries per segment (default 1,000). The binaries are
//! the ones beside this example's (target/release or target/debug). Prints one table.

#![forbid(unsafe_code)]

#[allow(dead_code)]
#[path = "../src/bin/sealtrail/s3.rs"]
mod s3;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail, ensure};

fn bin(name: &str) -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    // target/<profile>/examples/archive_throughput -> target/<profile>/<name>
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .context("no target directory")?;
    let path = dir.join(name);
    ensure!(
        path.exists(),
        "{}: build it first (cargo build [--release] -p sealtrail-cli --features s3)",
        path.display()
    );
    Ok(path)
}

fn run(dir: &Path, name: &str, args: &[&str]) -> Result<Output> {
    let o = Command::new(bin(name)?)
        .current_dir(dir)
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "bench")
        .env("AWS_SECRET_ACCESS_KEY", "bench")
        .env("AWS_REGION", "us-east-1")
        .output()?;
    if !o.status.success() {
        bail!(
            "{name} {args:?}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }
    Ok(o)
}

fn main() -> Result<()> {
    let endpoint = std::env::var("SEALTRAIL_TEST_S3").context(
        "SEALTRAIL_TEST_S3: start an S3 server (moto_server -H 127.0.0.1 -p 5123) and set it",
    )?;
    let mut args = std::env::args().skip(1);
    let entries: usize = args.next().map_or(Ok(20_000), |a| a.parse())?;
    let per_segment: u64 = args.next().map_or(Ok(1_000), |a| a.parse())?;
    let dir = tempfile::tempdir()?;
    let d = dir.path();
    run(d, "sealtrail", &["keygen", "--out", "owner.key"])?;
    run(d, "sealtrail", &["keygen", "--out", "rec.key"])?;
    run(
        d,
        "sealtrail",
        &[
            "init",
            "--log",
            "log",
            "--owner-key",
            "owner.key",
            "--origin",
            "bench.example/archive",
        ],
    )?;
    run(
        d,
        "sealtrail",
        &[
            "keys",
            "add",
            "--log",
            "log",
            "--owner-key",
            "owner.key",
            "--pub",
            "rec.key.pub",
            "--role",
            "recorder",
            "--name",
            "bench",
        ],
    )?;
    let mut child = Command::new(bin("sealtrail")?)
        .current_dir(d)
        .args([
            "append",
            "--log",
            "log",
            "--key",
            "rec.key",
            "--session",
            "bench",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()?;
    {
        let mut stdin = std::io::BufWriter::new(child.stdin.take().context("stdin")?);
        for i in 0..entries {
            writeln!(
                stdin,
                "{{\"kind\":\"command_run\",\"command\":\"cargo test --package p{i}\",\"exit_code\":0,\"duration_ms\":{i}}}"
            )?;
        }
    }
    ensure!(child.wait()?.success(), "append failed");

    // A bucket with Object Lock, through the same client's signer: CreateBucket with the header.
    let bucket = format!("bench-{}", std::process::id());
    let location = s3::S3Location::parse(&format!("s3://{bucket}/log"))?;
    create_bucket(&endpoint, &bucket)?;

    let to = format!("s3://{bucket}/log");
    let seg = per_segment.to_string();
    let t = Instant::now();
    let o = run(
        d,
        "sealtrail",
        &[
            "archive",
            "--log",
            "log",
            "--owner-key",
            "owner.key",
            "--to",
            &to,
            "--endpoint",
            &endpoint,
            "--segment-entries",
            &seg,
            "--json",
        ],
    )?;
    let archive_s = t.elapsed().as_secs_f64();
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout)?;
    let objects = summary["uploaded"].as_array().map_or(0, Vec::len);
    let bytes = summary["bytes"].as_u64().unwrap_or(0);

    // The same bytes, PUT one after another by the same client, no export, no lock headers.
    let client = s3::S3::connect(&location, Some(&endpoint))?;
    let mut bodies = Vec::new();
    for (key, _) in client.list(&location.prefix)? {
        bodies.push(client.get_bytes(&key, u64::MAX)?.context("listed")?);
    }
    let plain = s3::S3Location::parse(&format!("s3://{bucket}/plain"))?;
    let t = Instant::now();
    for (i, body) in bodies.iter().enumerate() {
        client.put_once(&plain.key(&format!("object-{i}")), body, &[])?;
    }
    let put_s = t.elapsed().as_secs_f64();
    let put_bytes: usize = bodies.iter().map(Vec::len).sum();

    // Verify from the bucket, and the whole log exported to one local file.
    let t = Instant::now();
    run(
        d,
        "verify-bundle",
        &[
            "--archive",
            &to,
            "--endpoint",
            &endpoint,
            "--trusted-key",
            "log.vkey",
        ],
    )?;
    let verify_archive_s = t.elapsed().as_secs_f64();
    run(
        d,
        "sealtrail",
        &[
            "export",
            "--log",
            "log",
            "--owner-key",
            "owner.key",
            "--out",
            "all.bundle",
        ],
    )?;
    let local_bytes = std::fs::metadata(d.join("all.bundle"))?.len();
    let t = Instant::now();
    run(
        d,
        "verify-bundle",
        &["all.bundle", "--trusted-key", "log.vkey"],
    )?;
    let verify_local_s = t.elapsed().as_secs_f64();

    let n = entries as f64 + 1.0;
    let mib = |b: f64, s: f64| b / (1024.0 * 1024.0) / s;
    println!(
        "{} entries, {per_segment} per segment, {objects} objects, {bytes} bytes",
        entries + 1
    );
    println!("| what | time | MiB/s | objects/s | entries/s |");
    println!("|---|---:|---:|---:|---:|");
    println!(
        "| sealtrail archive (export + lock + checksum + PUT) | {archive_s:.2} s | {:.2} | {:.1} | {:.0} |",
        mib(bytes as f64, archive_s),
        objects as f64 / archive_s,
        n / archive_s
    );
    println!(
        "| plain PutObject loop, same bytes, same client | {put_s:.2} s | {:.2} | {:.1} | |",
        mib(put_bytes as f64, put_s),
        bodies.len() as f64 / put_s
    );
    println!(
        "| verify-bundle --archive (streamed from the server) | {verify_archive_s:.2} s | {:.2} | | {:.0} |",
        mib(bytes as f64, verify_archive_s),
        n / verify_archive_s
    );
    println!(
        "| verify-bundle of the whole log in a local file | {verify_local_s:.2} s | {:.2} | | {:.0} |",
        mib(local_bytes as f64, verify_local_s),
        n / verify_local_s
    );
    Ok(())
}

// CreateBucket with Object Lock enabled, signed by rusty-s3 and sent by ureq like the rest.
fn create_bucket(endpoint: &str, bucket: &str) -> Result<()> {
    use rusty_s3::S3Action as _;
    let b = rusty_s3::Bucket::new(
        endpoint.parse()?,
        rusty_s3::UrlStyle::Path,
        bucket.to_owned(),
        "us-east-1",
    )?;
    let creds = rusty_s3::Credentials::new("bench", "bench");
    let mut action = rusty_s3::actions::CreateBucket::new(&b, &creds);
    action
        .headers_mut()
        .insert("x-amz-bucket-object-lock-enabled", "true");
    let url = action.sign(std::time::Duration::from_secs(600));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let r = agent
        .put(url.as_str())
        .header("x-amz-bucket-object-lock-enabled", "true")
        .send_empty()?;
    ensure!(
        r.status().is_success(),
        "CreateBucket {bucket}: HTTP {}",
        r.status()
    );
    Ok(())
}
