//! Key roles and the key registry a log builds from its key-management entries (SPEC §7).

use std::collections::HashMap;
use std::fmt;

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use crate::codec::{DecodeError, EncodeError, from_canonical, to_canonical};
use crate::descriptor::Descriptor;
use crate::entry::Kind;
use crate::keys::{KeyError, KeyId, verifying_key};

/// The longest printed name, in bytes.
pub const MAX_NAME_LEN: usize = 128;

/// The largest payload of a control entry (key management, erasure), in bytes (SPEC §7.3). Such
/// payloads are decoded into memory on the verification path, so they are kept small.
pub const MAX_CONTROL_PAYLOAD_LEN: usize = 64 * 1024;

/// What a key may sign (SPEC §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Role {
    /// Signs the descriptor, key-management and erasure entries, and checkpoints.
    Owner,
    /// The agent or harness: signs session events.
    Recorder,
    /// A human, bound to a printed name: signs approvals.
    Approver,
    /// Cosigns checkpoints; signs no entries.
    Witness,
}

impl Role {
    /// The role's name as written in payloads.
    pub fn name(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Recorder => "recorder",
            Role::Approver => "approver",
            Role::Witness => "witness",
        }
    }

    /// Parses a role name.
    pub fn from_name(s: &str) -> Option<Role> {
        match s {
            "owner" => Some(Role::Owner),
            "recorder" => Some(Role::Recorder),
            "approver" => Some(Role::Approver),
            "witness" => Some(Role::Witness),
            _ => None,
        }
    }

    /// Whether a key with this role may sign an entry of this kind (SPEC §7.2).
    pub fn may_sign(self, kind: &Kind) -> bool {
        match self {
            Role::Owner => kind.is_control(),
            Role::Approver => matches!(
                kind.as_str(),
                Kind::APPROVAL | "review" | "merge" | "incident" | "incident_resolved"
            ),
            // An agent never signs a person's statement: no approval, review or merge.
            Role::Recorder => {
                !kind.is_key_management()
                    && !matches!(kind.as_str(), Kind::APPROVAL | "review" | "merge")
                    && !kind.is_control()
            }
            Role::Witness => false,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// Payload of a `key_register` entry (SPEC §7.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRegistration {
    /// The Ed25519 public key.
    pub key: serde_bytes::ByteArray<32>,
    /// Its role.
    pub role: Role,
    /// The printed name of the person or system that holds it.
    pub name: String,
}

/// Payload of a `key_revoke` entry (SPEC §7.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRevocation {
    /// The key revoked.
    pub key: serde_bytes::ByteArray<32>,
    /// Why.
    pub reason: String,
}

/// Payload of a `key_rotate` entry (SPEC §7.3): `new` takes over the role and name of `old`,
/// which is revoked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRotation {
    /// The key retired.
    pub old: serde_bytes::ByteArray<32>,
    /// The key that replaces it.
    pub new: serde_bytes::ByteArray<32>,
    /// Why.
    pub reason: String,
}

impl KeyRegistration {
    /// A registration payload.
    pub fn new(key: KeyId, role: Role, name: &str) -> Self {
        KeyRegistration {
            key: serde_bytes::ByteArray::new(key.0),
            role,
            name: name.to_owned(),
        }
    }
}

impl KeyRevocation {
    /// A revocation payload.
    pub fn new(key: KeyId, reason: &str) -> Self {
        KeyRevocation {
            key: serde_bytes::ByteArray::new(key.0),
            reason: reason.to_owned(),
        }
    }
}

impl KeyRotation {
    /// A rotation payload.
    pub fn new(old: KeyId, new: KeyId, reason: &str) -> Self {
        KeyRotation {
            old: serde_bytes::ByteArray::new(old.0),
            new: serde_bytes::ByteArray::new(new.0),
            reason: reason.to_owned(),
        }
    }
}

/// One key a log knows, with its history.
#[derive(Debug, Clone)]
pub struct KeyRecord {
    /// The key.
    pub key: KeyId,
    /// Its role.
    pub role: Role,
    /// The printed name bound to it.
    pub name: String,
    /// The entry that registered it; `None` for the owner key of the descriptor.
    pub registered_at: Option<u64>,
    /// The entry that revoked or rotated it away, if any. It may sign entries up to and including
    /// that one, none after.
    pub revoked_at: Option<u64>,
    /// The key that replaced it by rotation, if any.
    pub replaced_by: Option<KeyId>,
    vk: VerifyingKey,
}

impl KeyRecord {
    /// Whether the key may still sign entries after `seq`.
    pub fn active_after(&self, seq: u64) -> bool {
        self.revoked_at.is_none_or(|r| r > seq)
    }

    /// The parsed key, for verification.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.vk
    }
}

/// Why a signer may not sign an entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignerError {
    /// The key was never registered in this log.
    #[error("key {} is not registered in this log", .0.short())]
    Unknown(KeyId),
    /// The key was revoked by an earlier entry.
    #[error("key {} was revoked at entry {since}", .key.short())]
    Revoked {
        /// The key.
        key: KeyId,
        /// The revoking entry.
        since: u64,
    },
    /// The key's role does not allow this kind.
    #[error("key {} has role {role}, which may not sign `{kind}` entries", .key.short())]
    RoleNotPermitted {
        /// The key.
        key: KeyId,
        /// Its role.
        role: Role,
        /// The kind it tried to sign.
        kind: String,
    },
}

/// Why a key-management entry cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The payload is not the expected structure in the canonical profile.
    #[error("key-management payload: {0}")]
    Payload(#[from] DecodeError),
    /// The key is invalid or weak.
    #[error("key {}: {reason}", .key.short())]
    BadKey {
        /// The key.
        key: KeyId,
        /// What is wrong with it.
        reason: String,
    },
    /// The key is already known to this log (keys are never re-bound, SPEC §7.4).
    #[error("key {} is already registered in this log", .0.short())]
    AlreadyRegistered(KeyId),
    /// The key to revoke or rotate is not registered.
    #[error("key {} is not registered in this log", .0.short())]
    UnknownKey(KeyId),
    /// The key to revoke or rotate is already revoked.
    #[error("key {} is already revoked", .0.short())]
    AlreadyRevoked(KeyId),
    /// A printed name that is empty, too long or holds control characters.
    #[error("invalid printed name {0:?}: 1 to 128 bytes, no control characters")]
    InvalidName(String),
    /// The payload is larger than a control payload may be.
    #[error("key-management payload of {0} bytes is over the 64 KiB limit")]
    TooLarge(usize),
    /// The payload would leave the log without an active owner key.
    #[error("this would revoke the last active owner key")]
    LastOwner,
}

/// A key-management payload, decoded by kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyChange {
    /// `key_register`.
    Register(KeyRegistration),
    /// `key_revoke`.
    Revoke(KeyRevocation),
    /// `key_rotate`.
    Rotate(KeyRotation),
}

impl KeyChange {
    /// Decodes the payload of a key-management entry of `kind`; `None` for other kinds.
    pub fn decode(kind: &Kind, payload: &[u8]) -> Option<Result<KeyChange, RegistryError>> {
        if kind.is_key_management() && payload.len() > MAX_CONTROL_PAYLOAD_LEN {
            return Some(Err(RegistryError::TooLarge(payload.len())));
        }
        Some(match kind.as_str() {
            Kind::KEY_REGISTER => from_canonical(payload)
                .map(KeyChange::Register)
                .map_err(Into::into),
            Kind::KEY_REVOKE => from_canonical(payload)
                .map(KeyChange::Revoke)
                .map_err(Into::into),
            Kind::KEY_ROTATE => from_canonical(payload)
                .map(KeyChange::Rotate)
                .map_err(Into::into),
            _ => return None,
        })
    }

    /// The kind of entry that carries this change.
    pub fn kind(&self) -> Kind {
        let k = match self {
            KeyChange::Register(_) => Kind::KEY_REGISTER,
            KeyChange::Revoke(_) => Kind::KEY_REVOKE,
            KeyChange::Rotate(_) => Kind::KEY_ROTATE,
        };
        Kind::new(k).expect("built-in kinds are valid")
    }

    /// The canonical payload bytes.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        match self {
            KeyChange::Register(p) => to_canonical(p),
            KeyChange::Revoke(p) => to_canonical(p),
            KeyChange::Rotate(p) => to_canonical(p),
        }
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= MAX_NAME_LEN && !name.chars().any(char::is_control)
}

fn strong_key(key: &[u8; 32]) -> Result<VerifyingKey, RegistryError> {
    verifying_key(key).map_err(|e: KeyError| RegistryError::BadKey {
        key: KeyId(*key),
        reason: e.to_string(),
    })
}

/// The keys of a log and their roles, as of some position (SPEC §7.4).
#[derive(Debug, Clone, Default)]
pub struct KeyRegistry {
    keys: HashMap<KeyId, KeyRecord>,
}

impl KeyRegistry {
    /// The registry before entry 0: the descriptor's owner key, named after the log's origin.
    pub fn genesis(descriptor: &Descriptor) -> Result<KeyRegistry, KeyError> {
        let vk = verifying_key(descriptor.owner.as_bytes())?;
        let mut keys = HashMap::new();
        keys.insert(
            descriptor.owner,
            KeyRecord {
                key: descriptor.owner,
                role: Role::Owner,
                name: descriptor.origin.clone(),
                registered_at: None,
                revoked_at: None,
                replaced_by: None,
                vk,
            },
        );
        Ok(KeyRegistry { keys })
    }

    /// The record of a key.
    pub fn get(&self, key: &KeyId) -> Option<&KeyRecord> {
        self.keys.get(key)
    }

    /// Every key, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &KeyRecord> {
        self.keys.values()
    }

    /// Checks that `signer` may sign an entry of `kind` at `seq`.
    pub fn check_signer(
        &self,
        seq: u64,
        signer: &KeyId,
        kind: &Kind,
    ) -> Result<&KeyRecord, SignerError> {
        let rec = self.keys.get(signer).ok_or(SignerError::Unknown(*signer))?;
        // A registry built ahead (a bundle's control entries come first) knows keys registered
        // after this entry: they may not sign it.
        if rec.registered_at.is_some_and(|r| r >= seq) {
            return Err(SignerError::Unknown(*signer));
        }
        if let Some(since) = rec.revoked_at {
            if seq > since {
                return Err(SignerError::Revoked {
                    key: *signer,
                    since,
                });
            }
        }
        if !rec.role.may_sign(kind) {
            return Err(SignerError::RoleNotPermitted {
                key: *signer,
                role: rec.role,
                kind: kind.as_str().to_owned(),
            });
        }
        Ok(rec)
    }

    /// Checks a change without applying it, as the log does before appending: also refuses to
    /// revoke the last active owner key, which verification alone would allow. Costs no copy of
    /// the registry: a log may register many keys.
    pub fn check_change(&self, seq: u64, change: &KeyChange) -> Result<(), RegistryError> {
        if let Plan::Revoke(key) = self.plan(seq, change)? {
            let active_owner = |r: &KeyRecord| r.role == Role::Owner && r.active_after(seq);
            let others = self.keys.values().any(|r| r.key != key && active_owner(r));
            if self.keys.get(&key).is_some_and(active_owner) && !others {
                return Err(RegistryError::LastOwner);
            }
        }
        Ok(())
    }

    /// Applies a change made by the entry at `seq`.
    pub fn apply(&mut self, seq: u64, change: &KeyChange) -> Result<(), RegistryError> {
        let plan = self.plan(seq, change)?;
        self.commit(seq, plan);
        Ok(())
    }

    /// Applies a change and says how to take it back: the writer applies a batch's changes in
    /// place and takes them back, newest first, when a later record of the batch is refused.
    pub(crate) fn apply_undoable(
        &mut self,
        seq: u64,
        change: &KeyChange,
    ) -> Result<Undo, RegistryError> {
        let plan = self.plan(seq, change)?;
        let undo = match &plan {
            Plan::Register(r) => Undo::Register(r.key),
            Plan::Revoke(k) => Undo::Revoke(*k),
            Plan::Rotate { old, new } => Undo::Rotate {
                old: *old,
                new: new.key,
            },
        };
        self.commit(seq, plan);
        Ok(undo)
    }

    /// Takes back a change [`KeyRegistry::apply_undoable`] applied.
    pub(crate) fn undo(&mut self, undo: Undo) {
        match undo {
            Undo::Register(k) => {
                self.keys.remove(&k);
            }
            Undo::Revoke(k) => {
                if let Some(r) = self.keys.get_mut(&k) {
                    r.revoked_at = None;
                }
            }
            Undo::Rotate { old, new } => {
                self.keys.remove(&new);
                if let Some(r) = self.keys.get_mut(&old) {
                    r.revoked_at = None;
                    r.replaced_by = None;
                }
            }
        }
    }

    // Every rule of SPEC §7.4 for a change at `seq`, without changing anything.
    fn plan(&self, seq: u64, change: &KeyChange) -> Result<Plan, RegistryError> {
        let unrevoked = |key: KeyId| -> Result<&KeyRecord, RegistryError> {
            let rec = self.keys.get(&key).ok_or(RegistryError::UnknownKey(key))?;
            if rec.revoked_at.is_some() {
                return Err(RegistryError::AlreadyRevoked(key));
            }
            Ok(rec)
        };
        let new_key = |key: KeyId, role: Role, name: &str| -> Result<KeyRecord, RegistryError> {
            if self.keys.contains_key(&key) {
                return Err(RegistryError::AlreadyRegistered(key));
            }
            let vk = strong_key(key.as_bytes())?;
            if !valid_name(name) {
                return Err(RegistryError::InvalidName(name.to_owned()));
            }
            Ok(KeyRecord {
                key,
                role,
                name: name.to_owned(),
                registered_at: Some(seq),
                revoked_at: None,
                replaced_by: None,
                vk,
            })
        };
        Ok(match change {
            KeyChange::Register(r) => Plan::Register(new_key(KeyId(*r.key), r.role, &r.name)?),
            KeyChange::Revoke(r) => Plan::Revoke(unrevoked(KeyId(*r.key))?.key),
            KeyChange::Rotate(r) => {
                let new = KeyId(*r.new);
                if self.keys.contains_key(&new) {
                    return Err(RegistryError::AlreadyRegistered(new));
                }
                let old = unrevoked(KeyId(*r.old))?;
                Plan::Rotate {
                    old: old.key,
                    new: new_key(new, old.role, &old.name)?,
                }
            }
        })
    }

    fn commit(&mut self, seq: u64, plan: Plan) {
        match plan {
            Plan::Register(r) => {
                self.keys.insert(r.key, r);
            }
            Plan::Revoke(key) => {
                if let Some(r) = self.keys.get_mut(&key) {
                    r.revoked_at = Some(seq);
                }
            }
            Plan::Rotate { old, new } => {
                if let Some(r) = self.keys.get_mut(&old) {
                    r.revoked_at = Some(seq);
                    r.replaced_by = Some(new.key);
                }
                self.keys.insert(new.key, new);
            }
        }
    }
}

// A checked change, ready to apply.
enum Plan {
    Register(KeyRecord),
    Revoke(KeyId),
    Rotate { old: KeyId, new: KeyRecord },
}

/// How to take back one applied change.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Undo {
    Register(KeyId),
    Revoke(KeyId),
    Rotate { old: KeyId, new: KeyId },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_table() {
        let k = |s| Kind::new(s).unwrap();
        assert!(Role::Owner.may_sign(&k("key_register")));
        assert!(!Role::Owner.may_sign(&k("command_run")));
        assert!(Role::Recorder.may_sign(&k("command_run")));
        assert!(!Role::Recorder.may_sign(&k("approval")));
        assert!(!Role::Recorder.may_sign(&k("key_revoke")));
        assert!(Role::Approver.may_sign(&k("approval")));
        assert!(!Role::Approver.may_sign(&k("command_run")));
        assert!(!Role::Witness.may_sign(&k("command_run")));
    }

    #[test]
    fn registration_payload_is_canonical() {
        let p = KeyRegistration::new(KeyId([9; 32]), Role::Approver, "Release Approver");
        let b = to_canonical(&p).unwrap();
        // Text keys sort by encoded bytes: shorter first, then bytewise.
        let back: KeyRegistration = from_canonical(&b).unwrap();
        assert_eq!(back, p);
        let v = crate::codec::decode_value(&b).unwrap();
        let keys: Vec<_> = v
            .as_map()
            .unwrap()
            .iter()
            .map(|(k, _)| k.as_text().unwrap().to_owned())
            .collect();
        assert_eq!(keys, ["key", "name", "role"]);
    }
}
