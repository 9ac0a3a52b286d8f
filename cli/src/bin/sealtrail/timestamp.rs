//! `timestamp`: an RFC 3161 timestamp token over a checkpoint, kept with it (SPEC §12.7).

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use clap::Args;
use sealtrail::log::TimestampStoreError;
use sealtrail::timestamp::{MAX_REPLY_LEN, TimestampRequest};
use serde_json::json;

use crate::common::{Status, emit, invalid, json_line, open_log};

pub const TIMESTAMP_HELP: &str = "\
Ask a time-stamping authority (TSA) for an RFC 3161 timestamp token over a checkpoint of the log
and keep the token with it. The request's message imprint is SHA-256 of the signed checkpoint
note exactly as stored; it carries a random nonce and asks for the TSA's certificate (certReq).
The reply is checked before it is kept: status granted, the imprint and nonce are the request's,
and the TSA's signature (RSA or ECDSA P-256) verifies under the time-stamping certificate in the
token. Whether that TSA is trusted is the auditor's decision: `verify-bundle --tsa-cert CERT`.

`sealtrail export` carries the tokens of the checkpoints a bundle carries, and the auditor's
report then says \"entries 0..N existed no later than T (TSA …)\". Running the command twice
asks for a second token (from the same or another TSA); the same token is stored once.

The checkpoint: the latest stored one, or --size N, or --checkpoint FILE (a note written by
`sealtrail checkpoint --out`, which must be the log's stored checkpoint of that size).

The TSA:
  --tsa URL      HTTP(S) POST of the DER request as application/timestamp-query; the reply
                 must be application/timestamp-reply.
  --tsa-cmd CMD  a local signer: CMD runs under `sh -c`, reads the DER TimeStampReq on
                 standard input and writes the DER TimeStampResp on standard output
                 (exit status 0). With OpenSSL as the TSA:
                   openssl ts -reply -queryfile /dev/stdin -signer tsa.crt -inkey tsa.key \\
                     -config ts.cnf -out /dev/stdout

Examples:
  sealtrail checkpoint --log DIR --owner-key owner.key
  sealtrail timestamp --log DIR --tsa http://timestamp.example.com/tsr
  sealtrail timestamp --log DIR --tsa-cmd 'openssl ts -reply -queryfile /dev/stdin …' --json
  sealtrail export --log DIR --owner-key owner.key --out audit.bundle
  verify-bundle audit.bundle --trusted-key owner.vkey --tsa-cert tsa-ca.pem";

/// `timestamp`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("authority").required(true).args(["tsa", "tsa_cmd"])))]
pub struct TimestampArgs {
    /// The log directory.
    #[arg(long, value_name = "DIR")]
    pub log: PathBuf,
    /// The TSA's URL (RFC 3161 over HTTP).
    #[arg(long, value_name = "URL")]
    pub tsa: Option<String>,
    /// A local signer: reads the DER request on stdin, writes the DER reply on stdout.
    #[arg(long, value_name = "CMD")]
    pub tsa_cmd: Option<String>,
    /// The checkpoint of this size (default: the latest stored checkpoint).
    #[arg(long, value_name = "N", conflicts_with = "checkpoint")]
    pub size: Option<u64>,
    /// The checkpoint in this note file (the log's stored checkpoint of its size).
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,
    /// Seconds to wait for the TSA.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub timeout: u64,
    /// Print the outcome as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// `sealtrail timestamp`.
pub fn timestamp(a: &TimestampArgs) -> Result<Status> {
    let log = open_log(&a.log)?;
    let stored = match (&a.checkpoint, a.size) {
        (Some(file), _) => {
            let bytes =
                std::fs::read(file).with_context(|| format!("{}: cannot read", file.display()))?;
            let c = sealtrail::checkpoint::SignedCheckpoint::parse(&bytes)
                .map_err(|e| invalid(format!("{}: not a checkpoint note: {e}", file.display())))?;
            let size = c.checkpoint().size();
            log.checkpoint_at(size)?
                .filter(|s| s.note().text() == c.note().text())
                .ok_or_else(|| {
                    invalid(format!(
                        "{}: the log {} has no stored checkpoint of size {size} with this body",
                        file.display(),
                        a.log.display()
                    ))
                })?
        }
        (None, Some(size)) => log.checkpoint_at(size)?.ok_or_else(|| {
            invalid(format!(
                "--size {size}: the log {} has no checkpoint of that size",
                a.log.display()
            ))
        })?,
        (None, None) => log.latest_checkpoint()?.ok_or_else(|| {
            invalid(format!(
                "{}: no checkpoint yet; make one with `sealtrail checkpoint`",
                a.log.display()
            ))
        })?,
    };
    // Exactly the note as stored: what export carries and the auditor hashes.
    let note = stored.encode();
    let mut nonce = [0u8; 16];
    getrandom::fill(&mut nonce).map_err(|e| anyhow!("no randomness for the nonce: {e}"))?;
    let request = TimestampRequest::new(&note, nonce).map_err(|e| anyhow!("{e}"))?;
    let timeout = Duration::from_secs(a.timeout);
    let (reply, from) = match (&a.tsa, &a.tsa_cmd) {
        (Some(url), _) => (post(url, request.der(), timeout)?, url.clone()),
        (None, Some(cmd)) => (run(cmd, request.der())?, format!("--tsa-cmd {cmd:?}")),
        (None, None) => unreachable!("clap requires --tsa or --tsa-cmd"),
    };
    let (token, info) = request
        .accept(&reply)
        .map_err(|e| invalid(format!("{from}: the reply is not accepted: {e}")))?;
    let added = log.add_timestamp(&note, &token).map_err(|e| match e {
        e @ TimestampStoreError::NoSuchCheckpoint { .. } => invalid(e.to_string()),
        e => anyhow!("{}: {e}", a.log.display()),
    })?;
    let c = stored.checkpoint();
    if a.json {
        emit(json_line(&json!({
            "size": c.size(),
            "root": c.root().to_hex(),
            "time": info.time.to_rfc3339(),
            "tsa": info.tsa,
            "serial": info.serial,
            "policy": info.policy,
            "token_bytes": token.len(),
            "stored": added,
        })))?;
    } else {
        emit(format!(
            "timestamped checkpoint of size {} (root {}): {} by TSA {} (serial {}){}",
            c.size(),
            c.root().short(),
            info.time.to_rfc3339(),
            info.tsa,
            info.serial,
            if added {
                ""
            } else {
                "; this token was stored already"
            }
        ))?;
    }
    Ok(Status::Ok)
}

// RFC 3161 §3.4: POST the DER request, read a DER reply of bounded size.
fn post(url: &str, body: &[u8], timeout: Duration) -> Result<Vec<u8>> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .build()
        .into();
    let mut response = agent
        .post(url)
        .content_type("application/timestamp-query")
        .send(body)
        .map_err(|e| anyhow!("{url}: {e}"))?;
    let status = response.status().as_u16();
    if status != 200 {
        return Err(invalid(format!("{url}: the TSA answered HTTP {status}")));
    }
    let kind = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    if !kind
        .split(';')
        .next()
        .is_some_and(|k| k.trim().eq_ignore_ascii_case("application/timestamp-reply"))
    {
        return Err(invalid(format!(
            "{url}: the reply's content type is {kind:?}, not application/timestamp-reply"
        )));
    }
    response
        .body_mut()
        .with_config()
        .limit(MAX_REPLY_LEN as u64)
        .read_to_vec()
        .map_err(|e| anyhow!("{url}: reading the reply: {e}"))
}

// A local signer: request on stdin, reply on stdout, at most MAX_REPLY_LEN bytes.
fn run(cmd: &str, request: &[u8]) -> Result<Vec<u8>> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("--tsa-cmd {cmd:?}: cannot start"))?;
    let mut stdin = child.stdin.take().ok_or_else(|| anyhow!("no stdin"))?;
    let request = request.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&request));
    let mut reply = Vec::new();
    child
        .stdout
        .take()
        .ok_or_else(|| anyhow!("no stdout"))?
        .take(MAX_REPLY_LEN as u64 + 1)
        .read_to_end(&mut reply)
        .with_context(|| format!("--tsa-cmd {cmd:?}: reading its output"))?;
    let status = child.wait()?;
    let _ = writer.join();
    if !status.success() {
        return Err(invalid(format!("--tsa-cmd {cmd:?}: exited with {status}")));
    }
    if reply.len() > MAX_REPLY_LEN {
        return Err(invalid(format!(
            "--tsa-cmd {cmd:?}: the reply is over {MAX_REPLY_LEN} bytes"
        )));
    }
    Ok(reply)
}
