//! `keygen`, `init` and `keys add|revoke|list`: keys and the log they sign.

use std::io::Write as _;
use std::path::Path;
use std::str::FromStr;

use anyhow::{Result, anyhow};
use sealtrail::descriptor::valid_origin;
use sealtrail::keys::{public_key_path, valid_key_name};
use sealtrail::registry::{KeyRecord, Role};
use sealtrail::{Durability, KeyId, Log, Receipt, SecretKey, Suite};
use serde_json::json;

use crate::cli::{
    InitArgs, KeygenArgs, KeysAddArgs, KeysListArgs, KeysRevokeArgs, KeysVkeyArgs, RoleArg,
    SuiteArg,
};
use crate::common::{
    LOCK_WAIT, Status, emit, json_line, load_public, load_secret, open_error, open_log,
    open_log_read_only, refused,
};
use crate::output::{Existing, Output};

/// The C2SP key name for a key written to `out`: the printed name with white space runs
/// replaced by `-` and `+` removed, else the file name without its extension.
pub fn key_name_for(out: &Path, printed: Option<&str>) -> Result<String> {
    let name = match printed {
        Some(p) => p
            .split_whitespace()
            .collect::<Vec<_>>()
            .join("-")
            .replace('+', ""),
        None => out
            .file_stem()
            .map(|s| s.to_string_lossy().replace('+', ""))
            .unwrap_or_default(),
    };
    if valid_key_name(&name) {
        Ok(name)
    } else {
        Err(anyhow!(
            "{}: cannot make a key name from {:?}; give --name",
            out.display(),
            printed.unwrap_or("the file name")
        ))
    }
}

/// Generates a key named `name` and writes it to `out` (mode 0600) and `out.pub`, creating
/// `out`'s directory if needed. Never overwrites either file, nor writes through a symlink; a
/// crash leaves either file whole or absent.
pub fn write_key_pair(out: &Path, name: &str) -> Result<SecretKey> {
    write_key_pair_with(out, name, |k| k.public_key().to_vkey())
}

/// [`write_key_pair`] with the public file's verifier key made by `vkey` (a witness's has its
/// own type, `sealtrail::checkpoint::WitnessKey::to_vkey`).
pub fn write_key_pair_with(
    out: &Path,
    name: &str,
    vkey: impl Fn(&SecretKey) -> String,
) -> Result<SecretKey> {
    let public = public_key_path(out);
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| anyhow!("{}: cannot create the directory: {e}", parent.display()))?;
    }
    // Both refused here if they exist, before a key is made.
    let mut secret_file = Output::create_secret(out)?;
    let mut public_file = Output::create(&public, Existing::Key)?;
    let key = SecretKey::generate(name)?;
    // Written straight from the zeroized line (the file is unbuffered): no copy of the secret.
    secret_file
        .write_all(key.to_skey().as_bytes())
        .and_then(|()| secret_file.write_all(b"\n"))
        .map_err(|e| anyhow!("{}: cannot write: {e}", out.display()))?;
    public_file
        .write_all(format!("{}\n", vkey(&key)).as_bytes())
        .map_err(|e| anyhow!("{}: cannot write: {e}", public.display()))?;
    secret_file.commit()?;
    if let Err(e) = public_file.commit() {
        // No secret key without its public key: the secret file was created just above.
        if let Err(r) = std::fs::remove_file(out) {
            eprintln!("warning: {}: cannot remove: {r}", out.display());
        }
        return Err(e);
    }
    Ok(key)
}

/// `sealtrail keygen`.
pub fn keygen(a: &KeygenArgs) -> Result<Status> {
    let name = key_name_for(&a.out, a.name.as_deref())?;
    let key = write_key_pair(&a.out, &name)?;
    let public = public_key_path(&a.out);
    if a.json {
        emit(json_line(&json!({
            "secret_key_file": a.out.display().to_string(),
            "public_key_file": public.display().to_string(),
            "key_name": name,
            "key_id": key.key_id().to_string(),
            "vkey": key.public_key().to_vkey(),
        })))?;
        return Ok(Status::Ok);
    }
    emit(format!(
        "wrote {} (secret key, mode 0600) and {} (public key)",
        a.out.display(),
        public.display()
    ))?;
    emit(format!("key name: {name}"))?;
    emit(format!("key id:   {}", key.key_id()))?;
    emit(format!("public:   {}", key.public_key().to_vkey()))?;
    let printed = a.name.as_deref().unwrap_or("PRINTED NAME");
    emit(format!(
        "A log shows a printed name with this key's signatures once you bind it (never re-bound):\n  \
         sealtrail keys add --log DIR --owner-key OWNER.key --pub {} --role ROLE --name {printed:?}",
        public.display()
    ))?;
    Ok(Status::Ok)
}

/// The hash suite a `--suite` names.
pub fn suite(s: SuiteArg) -> Suite {
    match s {
        SuiteArg::Blake3 => Suite::Blake3,
        SuiteArg::Sha256 => Suite::Sha256,
    }
}

/// Creates a log in `dir`, which must be new or empty.
pub fn create_log(dir: &Path, owner: &SecretKey, origin: &str, suite: Suite) -> Result<Log> {
    refuse_log_dir(dir)?;
    Log::builder()
        .suite(suite)
        .durability(Durability::Immediate)
        .lock_wait(LOCK_WAIT)
        .create(dir, owner, origin)
        .map_err(|e| open_error(dir, e, LOCK_WAIT))
}

/// Refuses a log directory that exists and is not empty: a log needs a new or empty one.
pub fn refuse_log_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        let mut entries = std::fs::read_dir(dir)
            .map_err(|e| anyhow!("{}: cannot read the directory: {e}", dir.display()))?;
        if entries.next().is_some() {
            return Err(anyhow!(
                "{}: exists and is not empty; a log needs a new or empty directory",
                dir.display()
            ));
        }
    }
    Ok(())
}

/// `sealtrail init`.
pub fn init(a: &InitArgs) -> Result<Status> {
    let (log_dir, owner_key) = match (&a.repo, &a.log, &a.owner_key) {
        (Some(repo), _, _) => return crate::setup::init_repo(a, repo),
        (None, Some(log), Some(key)) => (log, key),
        _ => return Err(anyhow!("give --log and --owner-key, or --repo")),
    };
    let owner = load_secret(owner_key)?;
    let origin = a.origin.clone().unwrap_or_else(|| owner.name().to_owned());
    if !valid_origin(&origin) {
        return Err(anyhow!(
            "origin {origin:?}: 1 to 255 bytes without white space, '+' or '#' (give --origin, \
             e.g. example.com/agent-log)"
        ));
    }
    let vkey_path = match &a.vkey_out {
        Some(p) => p.clone(),
        None => default_vkey_path(log_dir)?,
    };
    // Both refused before the log is made, so a failed init leaves nothing behind.
    refuse_log_dir(log_dir)?;
    crate::output::refuse_existing(&vkey_path, Existing::Refuse)?;
    let log = create_log(log_dir, &owner, &origin, suite(a.suite))?;
    let vkeys = vkey_text(&log);
    crate::output::write(&vkey_path, vkeys.as_bytes(), Existing::Refuse)?;
    if a.json {
        emit(json_line(&json!({
            "log": log_dir.display().to_string(),
            "origin": origin,
            "suite": log.suite().name(),
            "log_id": log.log_id().to_hex(),
            "owner_key_id": owner.key_id().to_string(),
            "vkey_file": vkey_path.display().to_string(),
            "vkey": vkeys.trim_end(),
        })))?;
    } else {
        emit(format!("created a log in {}", log_dir.display()))?;
        emit(format!("origin:    {origin}"))?;
        emit(format!("suite:     {}", log.suite()))?;
        emit(format!("log id:    {}", log.log_id()))?;
        emit(format!("owner key: {}", owner.key_id()))?;
        emit(format!(
            "wrote {}: the verifier key auditors pin (verify-bundle --trusted-key {}); it is the \
             owner key named after the checkpoint origin line, as C2SP verifiers require",
            vkey_path.display(),
            vkey_path.display()
        ))?;
    }
    Ok(Status::Ok)
}

/// Where `init` writes the auditors' verifier key by default: `LOG.vkey` beside the log
/// directory.
pub fn default_vkey_path(log: &Path) -> Result<std::path::PathBuf> {
    let name = log.file_name().ok_or_else(|| {
        anyhow!(
            "{}: no directory name to name the verifier key after; give --vkey-out",
            log.display()
        )
    })?;
    let mut file = name.to_os_string();
    file.push(".vkey");
    Ok(log.with_file_name(file))
}

/// The log's verifier keys, one C2SP verifier key per line.
pub fn vkey_text(log: &Log) -> String {
    log.verifier_keys()
        .iter()
        .map(|k| format!("{}\n", k.to_vkey()))
        .collect()
}

/// `sealtrail keys vkey`.
pub fn vkey(a: &KeysVkeyArgs) -> Result<Status> {
    let log = open_log_read_only(&a.log)?;
    let text = vkey_text(&log);
    if let Some(out) = &a.out {
        crate::output::write(out, text.as_bytes(), Existing::force(a.force))?;
    }
    if a.json {
        let keys: Vec<_> = log
            .verifier_keys()
            .iter()
            .map(|k| json!({"vkey": k.to_vkey(), "key_id": k.key_id().to_string(), "name": k.name()}))
            .collect();
        emit(json_line(&serde_json::Value::Array(keys)))?;
    } else {
        emit(text.trim_end())?;
    }
    Ok(Status::Ok)
}

fn role(r: RoleArg) -> Role {
    match r {
        RoleArg::Owner => Role::Owner,
        RoleArg::Recorder => Role::Recorder,
        RoleArg::Approver => Role::Approver,
        RoleArg::Witness => Role::Witness,
    }
}

fn receipt_json(r: &Receipt) -> serde_json::Value {
    json!({"seq": r.seq, "entry_hash": r.hash.to_hex(), "time": r.time.to_rfc3339()})
}

/// `sealtrail keys add`.
pub fn add(a: &KeysAddArgs) -> Result<Status> {
    let public = load_public(&a.public)?;
    let role = role(a.role);
    let name = match (&a.name, role) {
        (Some(n), _) => n.clone(),
        (None, Role::Approver) => {
            return Err(anyhow!(
                "--name is required with --role approver: it is the printed name shown with \
                 every approval the key signs"
            ));
        }
        (None, _) => public.name().to_owned(),
    };
    let log = open_log(&a.log)?;
    let owner = load_secret(&a.owner_key)?;
    let r = log
        .register_key(&owner, public.key_id(), role, &name)
        .map_err(|e| refused(&a.owner_key, e))?;
    if a.json {
        let mut v = receipt_json(&r);
        v["key_id"] = json!(public.key_id().to_string());
        v["role"] = json!(role.name());
        v["name"] = json!(name);
        emit(json_line(&v))?;
    } else {
        emit(format!(
            "entry {}: registered key {} ({}) as {role} {name:?}",
            r.seq,
            public.key_id().short(),
            public.name()
        ))?;
    }
    Ok(Status::Ok)
}

/// `sealtrail keys revoke`.
pub fn revoke(a: &KeysRevokeArgs) -> Result<Status> {
    let key = match (&a.public, &a.key_id) {
        (Some(p), _) => load_public(p)?.key_id(),
        (None, Some(hex)) => KeyId::from_str(hex).map_err(|e| anyhow!("--key-id {hex}: {e}"))?,
        (None, None) => return Err(anyhow!("give --pub or --key-id")),
    };
    let log = open_log(&a.log)?;
    let owner = load_secret(&a.owner_key)?;
    let r = log
        .revoke_key(&owner, key, &a.reason)
        .map_err(|e| refused(&a.owner_key, e))?;
    if a.json {
        let mut v = receipt_json(&r);
        v["key_id"] = json!(key.to_string());
        v["reason"] = json!(a.reason);
        emit(json_line(&v))?;
    } else {
        emit(format!(
            "entry {}: revoked key {}: {}",
            r.seq,
            key.short(),
            a.reason
        ))?;
    }
    Ok(Status::Ok)
}

fn key_json(k: &KeyRecord) -> serde_json::Value {
    json!({
        "key_id": k.key.to_string(),
        "role": k.role.name(),
        "name": k.name,
        "registered_at": k.registered_at,
        "revoked_at": k.revoked_at,
        "replaced_by": k.replaced_by.map(|r| r.to_string()),
    })
}

/// `sealtrail keys list`.
pub fn list(a: &KeysListArgs) -> Result<Status> {
    let log = open_log_read_only(&a.log)?;
    let keys = log.keys();
    if a.json {
        emit(json_line(&serde_json::Value::Array(
            keys.iter().map(key_json).collect(),
        )))?;
        return Ok(Status::Ok);
    }
    for k in &keys {
        let registered = k
            .registered_at
            .map_or_else(|| "descriptor".to_owned(), |s| format!("entry {s}"));
        let status = match (k.revoked_at, k.replaced_by) {
            (Some(s), Some(by)) => format!("rotated at entry {s} to {}", by.short()),
            (Some(s), None) => format!("revoked at entry {s}"),
            _ => "active".to_owned(),
        };
        emit(format!(
            "{}  {:<8}  {:<24}  {:<10}  {status}",
            k.key,
            k.role.name(),
            k.name,
            registered
        ))?;
    }
    Ok(Status::Ok)
}
