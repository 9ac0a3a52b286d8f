//! `witness keygen|cosign|attach|serve|request`: the witness role (SPEC §11.8, C2SP
//! tlog-witness), and `prove --consistency-from` for the log's side of it.
//!
//! A witness keeps, per log, the last checkpoint it cosigned in its state directory
//! (`STATE/<sha256(origin line) hex>.checkpoint`, replaced atomically). It cosigns a checkpoint
//! only when the log's key signed it and it extends that last one.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result, anyhow, bail};
use clap::{Args, Subcommand};
use sealtrail::Suite;
use sealtrail::checkpoint::{
    AddCheckpoint, MAX_ADD_CHECKPOINT_SIZE, SignedCheckpoint, Witness, WitnessKey, WitnessRefusal,
    parse_proof_lines, proof_lines,
};
use sealtrail::keys::{PublicKey, read_public_keys};
use sealtrail::note::MAX_NOTE_SIZE;
use serde_json::json;

use crate::cli::ProveArgs;
use crate::common::{Status, emit, invalid, json_line, load_secret, open_log, open_log_read_only};
use crate::keys::{key_name_for, write_key_pair_with};
use crate::output::{self, Existing, Output};

const WITNESS_HELP: &str = "\
A witness cosigns a log's checkpoints (C2SP tlog-cosignature, cosignature/v1) after checking
that the log's key signed them and that each extends the last one it cosigned for that log: it
never cosigns a fork or a rollback. Auditors then require cosignatures with
`verify-bundle BUNDLE --trusted-key LOG.vkey --witness W.key.pub --witness-quorum 1`.

  sealtrail witness keygen --out w.key                      # w.key, and w.key.pub (type 0x04)
  sealtrail checkpoint --log DIR --owner-key owner.key --out cp.txt
  sealtrail witness cosign --key w.key --state wstate --checkpoint cp.txt \\
      --trusted-key DIR.vkey --out cp.cosig
  sealtrail witness attach --log DIR --cosignature cp.cosig --witness w.key.pub
  sealtrail export --log DIR --owner-key owner.key --out b.bundle --require-witnesses 1

Over HTTP (C2SP tlog-witness, POST /add-checkpoint):
  sealtrail witness serve --listen 127.0.0.1:7380 --key w.key --state wstate --trusted-key DIR.vkey
  sealtrail witness request --url http://127.0.0.1:7380 --log DIR --witness w.key.pub";

/// `sealtrail witness …`.
#[derive(Debug, Subcommand)]
#[command(long_about = WITNESS_HELP)]
pub enum WitnessCommand {
    /// Create a witness key pair: PATH (secret, mode 0600) and PATH.pub (witness verifier key,
    /// type 0x04, for verify-bundle --witness).
    Keygen(KeygenArgs),
    /// Cosign a log's checkpoint after checking its signature and its consistency with the
    /// last checkpoint this witness cosigned for that log.
    Cosign(CosignArgs),
    /// Attach witness cosignatures to the log's stored checkpoint; export then carries them.
    Attach(AttachArgs),
    /// Serve the C2SP tlog-witness protocol (POST /add-checkpoint) over plain HTTP.
    Serve(ServeArgs),
    /// Ask a tlog-witness server to cosign the log's latest checkpoint, and attach the
    /// cosignature.
    Request(RequestArgs),
}

/// `witness keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// The secret key file to write (its public key goes to PATH.pub). Never overwritten.
    #[arg(long, value_name = "PATH")]
    pub out: PathBuf,
    /// The witness's name (a C2SP key name, e.g. witness.example/w1); default: the file name.
    #[arg(long)]
    pub name: Option<String>,
}

/// `witness cosign`.
#[derive(Debug, Args)]
pub struct CosignArgs {
    /// The witness's secret key.
    #[arg(long, value_name = "PATH")]
    pub key: PathBuf,
    /// The witness's state directory: the last checkpoint cosigned per log.
    #[arg(long, value_name = "DIR")]
    pub state: PathBuf,
    /// The signed checkpoint note to cosign.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: PathBuf,
    /// A log's verifier key (LOG.vkey: named after the checkpoint origin line), or a file of
    /// them. Repeat for several logs.
    #[arg(long = "trusted-key", value_name = "KEY", required = true)]
    pub trusted_keys: Vec<String>,
    /// The consistency proof from the last cosigned size (`sealtrail prove --consistency-from
    /// SIZE`). Not needed the first time, nor for the same tree again.
    #[arg(long, value_name = "FILE")]
    pub proof: Option<PathBuf>,
    /// Write the cosignature line to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Replace FILE if it exists.
    #[arg(long, requires = "out")]
    pub force: bool,
}

/// `witness attach`.
#[derive(Debug, Args)]
pub struct AttachArgs {
    /// The log directory.
    #[arg(long, value_name = "DIR")]
    pub log: PathBuf,
    /// Cosignature lines (what `witness cosign` writes) or a whole cosigned checkpoint note.
    #[arg(long, value_name = "FILE")]
    pub cosignature: PathBuf,
    /// The witness verifier key (or a file holding it) whose lines to attach; others are
    /// ignored. Repeat for several.
    #[arg(long = "witness", value_name = "VKEY", required = true)]
    pub witnesses: Vec<String>,
}

/// `witness serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address to listen on (port 0 picks a free port; the address is printed).
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: String,
    /// The witness's secret key.
    #[arg(long, value_name = "PATH")]
    pub key: PathBuf,
    /// The witness's state directory.
    #[arg(long, value_name = "DIR")]
    pub state: PathBuf,
    /// A log's verifier key, or a file of them. Repeat for several logs.
    #[arg(long = "trusted-key", value_name = "KEY", required = true)]
    pub trusted_keys: Vec<String>,
}

/// `witness request`.
#[derive(Debug, Args)]
pub struct RequestArgs {
    /// The witness's submission prefix, e.g. http://127.0.0.1:7380.
    #[arg(long, value_name = "URL")]
    pub url: String,
    /// The log directory: its latest checkpoint is sent.
    #[arg(long, value_name = "DIR")]
    pub log: PathBuf,
    /// The witness's verifier key (or a file holding it): only its cosignature is attached.
    #[arg(long = "witness", value_name = "VKEY")]
    pub witness: String,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Runs a `witness` subcommand.
pub fn run(command: &WitnessCommand) -> Result<Status> {
    match command {
        WitnessCommand::Keygen(a) => keygen(a),
        WitnessCommand::Cosign(a) => cosign(a),
        WitnessCommand::Attach(a) => attach(a),
        WitnessCommand::Serve(a) => serve(a),
        WitnessCommand::Request(a) => request(a),
    }
}

fn keygen(a: &KeygenArgs) -> Result<Status> {
    let name = key_name_for(&a.out, a.name.as_deref())?;
    let public = sealtrail::keys::public_key_path(&a.out);
    let key = write_key_pair_with(&a.out, &name, |k| WitnessKey::new(k.public_key()).to_vkey())?;
    let vkey = WitnessKey::new(key.public_key()).to_vkey();
    emit(format!(
        "wrote {} (witness secret key, mode 0600) and {} (witness verifier key)",
        a.out.display(),
        public.display()
    ))?;
    emit(format!("witness: {vkey}"))?;
    Ok(Status::Ok)
}

fn trusted_logs(args: &[String]) -> Result<Vec<PublicKey>> {
    let mut keys = Vec::new();
    for k in args {
        keys.extend(read_public_keys(k).with_context(|| format!("--trusted-key {k}"))?);
    }
    Ok(keys)
}

fn read_witness(arg: &str) -> Result<WitnessKey> {
    if let Ok(k) = WitnessKey::from_vkey(arg.trim()) {
        return Ok(k);
    }
    let text = std::fs::read_to_string(arg)
        .with_context(|| format!("--witness {arg}: not a witness key, and not a readable file"))?;
    WitnessKey::from_vkey(text.trim()).with_context(|| format!("--witness {arg}"))
}

// Reads at most `max` bytes of a file, refusing a larger one.
fn read_bounded(path: &Path, max: usize) -> Result<Vec<u8>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let mut bytes = Vec::new();
    file.take(max as u64 + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    if bytes.len() > max {
        bail!("{}: larger than {max} bytes", path.display());
    }
    Ok(bytes)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A witness's state: the last checkpoint it cosigned for each log, one file per origin line.
struct State {
    dir: PathBuf,
}

impl State {
    fn open(dir: &Path) -> Result<State> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("{}: cannot create the state directory", dir.display()))?;
        Ok(State {
            dir: dir.to_owned(),
        })
    }

    fn path(&self, origin: &str) -> PathBuf {
        let name = hex::encode(Suite::Sha256.hash(&[origin.as_bytes()]));
        self.dir.join(format!("{name}.checkpoint"))
    }

    fn latest(&self, origin: &str) -> Result<Option<SignedCheckpoint>> {
        let path = self.path(origin);
        if !path.exists() {
            return Ok(None);
        }
        let bytes = read_bounded(&path, MAX_NOTE_SIZE)?;
        let c = SignedCheckpoint::parse(&bytes)
            .map_err(|e| anyhow!("{}: damaged witness state: {e}", path.display()))?;
        if c.checkpoint().origin() != origin {
            bail!("{}: holds the state of another log", path.display());
        }
        Ok(Some(c))
    }

    // Atomic: a temporary file, fsynced, renamed over the old state, directory fsynced.
    fn store(&self, c: &SignedCheckpoint) -> Result<()> {
        output::write(
            &self.path(c.checkpoint().origin()),
            &c.encode(),
            Existing::Replace,
        )
    }

    // Checks, cosigns and stores; the caller hands out the line only after this returns.
    fn add(
        &self,
        witness: &Witness,
        request: &AddCheckpoint,
    ) -> Result<std::result::Result<String, WitnessRefusal>> {
        let latest = self.latest(request.checkpoint.checkpoint().origin())?;
        match witness.add_checkpoint(latest.as_ref(), request, now()) {
            Ok(cosigned) => {
                self.store(&cosigned.checkpoint)?;
                Ok(Ok(cosigned.line.to_line()))
            }
            Err(refusal) => Ok(Err(refusal)),
        }
    }
}

fn cosign(a: &CosignArgs) -> Result<Status> {
    let file = a
        .out
        .as_deref()
        .map(|out| Output::create(out, Existing::force(a.force)))
        .transpose()?;
    let key = load_secret(&a.key)?;
    let witness = Witness::new(key, trusted_logs(&a.trusted_keys)?);
    let state = State::open(&a.state)?;
    let bytes = read_bounded(&a.checkpoint, MAX_NOTE_SIZE)?;
    let checkpoint = SignedCheckpoint::parse(&bytes)
        .map_err(|e| invalid(format!("{}: not a checkpoint: {e}", a.checkpoint.display())))?;
    let (old, proof) = match &a.proof {
        Some(p) => parse_proof_lines(&read_bounded(p, MAX_ADD_CHECKPOINT_SIZE)?)
            .map_err(|e| invalid(format!("{}: {e}", p.display())))?,
        // Without a proof: the first checkpoint of this log, or the same tree again.
        None => {
            let latest = state.latest(checkpoint.checkpoint().origin())?;
            (latest.map_or(0, |l| l.checkpoint().size()), Vec::new())
        }
    };
    let request = AddCheckpoint {
        old,
        proof,
        checkpoint,
    };
    let line = state.add(&witness, &request)?.map_err(|r| {
        let hint = match &r {
            WitnessRefusal::Inconsistent(_) if a.proof.is_none() => {
                " (give --proof: `sealtrail prove --log DIR --consistency-from SIZE` with the \
                 size this witness last cosigned)"
            }
            _ => "",
        };
        invalid(format!(
            "{}: refusing to cosign: {r}{hint}",
            a.checkpoint.display()
        ))
    })?;
    match file {
        Some(mut f) => {
            f.write_all(line.as_bytes())
                .with_context(|| format!("{}: cannot write", f.path().display()))?;
            let path = f.path().to_owned();
            f.commit()?;
            let c = request.checkpoint.checkpoint();
            emit(format!(
                "cosigned {} size {} root {}; wrote {}",
                c.origin(),
                c.size(),
                c.root(),
                path.display()
            ))?;
        }
        None => emit(line.trim_end())?,
    }
    Ok(Status::Ok)
}

// The cosigned note: the file itself when it is one, else the log's checkpoint (newest first)
// with the file's lines appended.
fn attach(a: &AttachArgs) -> Result<Status> {
    let witnesses = a
        .witnesses
        .iter()
        .map(|w| read_witness(w))
        .collect::<Result<Vec<_>>>()?;
    let bytes = read_bounded(&a.cosignature, MAX_NOTE_SIZE)?;
    let log = open_log(&a.log)?;
    let candidates: Vec<SignedCheckpoint> = match SignedCheckpoint::parse(&bytes) {
        Ok(c) => vec![c],
        Err(_) => {
            let stored = log
                .checkpoints()
                .map_err(|e| anyhow!("{}: {e}", a.log.display()))?;
            let mut out = Vec::new();
            for c in stored.into_iter().rev() {
                let note = with_lines(&c, &bytes);
                if let Ok(joined) = SignedCheckpoint::parse(&note) {
                    out.push(joined);
                }
            }
            if out.is_empty() {
                return Err(invalid(format!(
                    "{}: neither a cosigned checkpoint nor cosignature lines for one of the \
                     log's checkpoints",
                    a.cosignature.display()
                )));
            }
            out
        }
    };
    let mut last_error = None;
    for c in &candidates {
        match log.attach_cosignatures(c, &witnesses) {
            Ok(stored) => {
                emit(format!(
                    "attached to the checkpoint of size {}: it now carries {} witness \
                     cosignature(s)",
                    stored.checkpoint().size(),
                    stored.cosignature_lines()
                ))?;
                return Ok(Status::Ok);
            }
            Err(e) => last_error = Some(e),
        }
    }
    Err(invalid(format!(
        "{}: {}",
        a.cosignature.display(),
        last_error.map_or_else(|| "nothing to attach".into(), |e| e.to_string())
    )))
}

// The checkpoint's body with only `lines` as its signatures: lines the stored note already has
// from the same witness would otherwise make two.
fn with_lines(c: &SignedCheckpoint, lines: &[u8]) -> Vec<u8> {
    let mut note = c.note().text().as_bytes().to_vec();
    note.push(b'\n');
    note.extend_from_slice(lines);
    note
}

/// `sealtrail prove --consistency-from SIZE`: the proof lines a witness needs to go from SIZE
/// to the log's latest checkpoint.
pub fn prove_consistency(a: &ProveArgs, old: u64) -> Result<Status> {
    let file = a
        .out
        .as_deref()
        .map(|out| Output::create(out, Existing::force(a.force)))
        .transpose()?;
    let log = open_log_read_only(&a.log)?;
    let latest = log
        .latest_checkpoint()
        .map_err(|e| anyhow!("{}: {e}", a.log.display()))?
        .ok_or_else(|| invalid(format!("{}: no checkpoint yet; make one", a.log.display())))?;
    let size = latest.checkpoint().size();
    if old > size {
        return Err(invalid(format!(
            "--consistency-from {old}: the latest checkpoint has size {size}"
        )));
    }
    let proof = if old == 0 || old == size {
        Vec::new()
    } else {
        log.consistency_proof(old, size)
            .map_err(|e| anyhow!("{}: {e}", a.log.display()))?
    };
    let text = proof_lines(old, &proof);
    match file {
        Some(mut f) => {
            f.write_all(text.as_bytes())
                .with_context(|| format!("{}: cannot write", f.path().display()))?;
            let path = f.path().to_owned();
            f.commit()?;
            emit(format!(
                "wrote {}: consistency proof from size {old} to the checkpoint of size {size}",
                path.display()
            ))?;
        }
        None => emit(text.trim_end())?,
    }
    Ok(Status::Ok)
}

fn respond(request: tiny_http::Request, status: u16, content_type: &str, body: String) {
    let mut response = tiny_http::Response::from_string(body).with_status_code(status);
    if let Ok(header) = tiny_http::Header::from_bytes(&b"Content-Type"[..], content_type.as_bytes())
    {
        response = response.with_header(header);
    }
    // A client that went away is its own problem, not the server's.
    let _ = request.respond(response);
}

fn serve(a: &ServeArgs) -> Result<Status> {
    let key = load_secret(&a.key)?;
    let witness = Witness::new(key, trusted_logs(&a.trusted_keys)?);
    let state = State::open(&a.state)?;
    let server =
        tiny_http::Server::http(&a.listen).map_err(|e| anyhow!("--listen {}: {e}", a.listen))?;
    let addr = server
        .server_addr()
        .to_ip()
        .ok_or_else(|| anyhow!("--listen {}: not an IP address", a.listen))?;
    emit(format!(
        "witness {} listening on http://{addr}",
        witness.public_key()
    ))?;
    let _ = std::io::stdout().flush();
    // Each request in its own thread, so a slow or stalled client holds up no one; the
    // decision itself runs under one lock: reading the state, checking and storing the new one
    // are atomic with respect to every other request (C2SP tlog-witness's rollback race).
    let shared = std::sync::Arc::new(std::sync::Mutex::new((witness, state)));
    for request in server.incoming_requests() {
        let shared = std::sync::Arc::clone(&shared);
        std::thread::spawn(move || handle(request, &shared));
    }
    Ok(Status::Ok)
}

fn handle(mut request: tiny_http::Request, shared: &std::sync::Mutex<(Witness, State)>) {
    let text = "text/plain; charset=utf-8";
    if request.url() != "/add-checkpoint" {
        return respond(request, 404, text, "not found\n".into());
    }
    if *request.method() != tiny_http::Method::Post {
        return respond(request, 405, text, "POST only\n".into());
    }
    if request
        .body_length()
        .is_some_and(|n| n > MAX_ADD_CHECKPOINT_SIZE)
    {
        return respond(request, 413, text, "request too large\n".into());
    }
    let mut body = Vec::new();
    let read = request
        .as_reader()
        .take(MAX_ADD_CHECKPOINT_SIZE as u64 + 1)
        .read_to_end(&mut body);
    if read.is_err() {
        return respond(request, 400, text, "cannot read the request\n".into());
    }
    let parsed = match AddCheckpoint::parse(&body) {
        Ok(p) => p,
        Err(e) => return respond(request, 400, text, format!("{e}\n")),
    };
    let outcome = match shared.lock() {
        Ok(guard) => {
            let (witness, state) = &*guard;
            state.add(witness, &parsed)
        }
        Err(_) => Err(anyhow!("an earlier request panicked")),
    };
    match outcome {
        Ok(Ok(line)) => {
            let c = parsed.checkpoint.checkpoint();
            eprintln!("cosigned {} size {}", c.origin(), c.size());
            respond(request, 200, text, line);
        }
        Ok(Err(WitnessRefusal::Conflict { latest, .. })) => {
            eprintln!("refused: old size is not {latest}");
            respond(request, 409, "text/x.tlog.size", format!("{latest}\n"));
        }
        Ok(Err(other)) => {
            eprintln!("refused: {other}");
            respond(request, other.http_status(), text, format!("{other}\n"));
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            respond(request, 500, text, "internal error\n".into());
        }
    }
}

fn post(agent: &ureq::Agent, url: &str, body: &[u8]) -> Result<(u16, String)> {
    let mut response = agent
        .post(url)
        .content_type("text/plain; charset=utf-8")
        .send(body)
        .map_err(|e| anyhow!("{url}: {e}"))?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(64 * 1024)
        .read_to_string()
        .map_err(|e| anyhow!("{url}: reading the response: {e}"))?;
    Ok((status, body))
}

fn request(a: &RequestArgs) -> Result<Status> {
    let witness = read_witness(&a.witness)?;
    let log = open_log(&a.log)?;
    let checkpoint = log
        .latest_checkpoint()
        .map_err(|e| anyhow!("{}: {e}", a.log.display()))?
        .ok_or_else(|| {
            invalid(format!(
                "{}: no checkpoint yet; make one with `sealtrail checkpoint`",
                a.log.display()
            ))
        })?;
    let size = checkpoint.checkpoint().size();
    let url = format!("{}/add-checkpoint", a.url.trim_end_matches('/'));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    // First as if the witness never saw the log; a 409 tells the size it last cosigned.
    let mut old = 0;
    let mut proof = Vec::new();
    let mut tries = 0;
    let lines = loop {
        tries += 1;
        let body = AddCheckpoint {
            old,
            proof: proof.clone(),
            checkpoint: checkpoint.clone(),
        }
        .encode();
        let (status, text) = post(&agent, &url, &body)?;
        match status {
            200 => break text,
            409 if tries == 1 => {
                let latest: u64 = text
                    .trim()
                    .parse()
                    .map_err(|_| invalid(format!("{url}: 409 Conflict: {}", text.trim())))?;
                if latest > size {
                    return Err(invalid(format!(
                        "{url}: the witness has cosigned size {latest}, larger than the log's \
                         latest checkpoint ({size}): the log was rolled back or forked"
                    )));
                }
                old = latest;
                proof = if latest == 0 || latest == size {
                    Vec::new()
                } else {
                    log.consistency_proof(latest, size)
                        .map_err(|e| anyhow!("{}: {e}", a.log.display()))?
                };
            }
            _ => {
                return Err(invalid(format!(
                    "{url}: the witness refused (HTTP {status}): {}",
                    text.trim()
                )));
            }
        }
    };
    let note = with_lines(&checkpoint, lines.as_bytes());
    let cosigned = SignedCheckpoint::parse(&note)
        .map_err(|e| invalid(format!("{url}: the response is not cosignature lines: {e}")))?;
    let stored = log
        .attach_cosignatures(&cosigned, std::slice::from_ref(&witness))
        .map_err(|e| invalid(format!("{url}: {e}")))?;
    if a.json {
        emit(json_line(&json!({
            "witness": witness.to_vkey(),
            "size": size,
            "old": old,
            "cosignatures": stored.cosignature_lines(),
        })))?;
    } else {
        emit(format!(
            "witness {} cosigned the checkpoint of size {size} (it had seen size {old}); \
             attached: the checkpoint now carries {} witness cosignature(s)",
            witness.name(),
            stored.cosignature_lines()
        ))?;
    }
    Ok(Status::Ok)
}
