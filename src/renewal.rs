//! Algorithm renewal (SPEC §15.6): re-protecting a log's entries under another hash suite
//! before the log's own suite weakens, without changing a byte of what was written (the idea of
//! RFC 4998's hash-tree renewal).
//!
//! A **renewal** is an owner-signed C2SP signed note whose body is a tlog-checkpoint body of its
//! own origin line, `<origin>#renewal/<suite>` (never the origin line of any log's checkpoint,
//! since origins never contain `#`): the size `N` and the RFC 6962 root, computed with the
//! renewal suite, of the tree whose leaf data are the entries' hashes under that suite (the
//! leaf input the log's own tree uses, hashed anew). Its extension lines bind it to the log, say
//! which suite it renews, and name by their renewal-suite hash every earlier protection it
//! covers — checkpoint notes, earlier renewals, RFC 3161 tokens — which travel beside it
//! verbatim ([`RenewalItem`]), so that the chain of protection is itself re-protected.
//!
//! Verification ([`RenewalTrust::verify`]) checks the note, its binding and the protections it
//! names; whether its root is the root of the entries is checked with a [`RenewalTree`] fed the
//! entries 0..N in order (the bundle and archive verifiers do this while they stream).

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use crate::checkpoint::{Checkpoint, CheckpointTrust, LogOrigin, Witnesses};
use crate::codec::{DecodeError, from_canonical, to_canonical};
use crate::hash::{Domain, LogId, RootHash, Suite};
use crate::keys::{KeyId, PublicKey, SecretKey};
use crate::merkle::{Frontier, TreeHasher};
use crate::note::SignedNote;

/// What a renewal's origin line appends to the log's origin, before the renewal suite's name.
pub const RENEWAL_ORIGIN_INFIX: &str = "#renewal/";
/// The most renewals a bundle header carries.
pub const MAX_RENEWALS: usize = 16;
/// The largest renewal note, and the largest protected item, in bytes.
pub const MAX_RENEWAL_LEN: usize = 64 * 1024;
/// The most earlier protections one renewal names.
pub const MAX_PROTECTED: usize = 64;
/// The largest encoded [`RenewalItem`] (the note and every protected item, with room for CBOR).
pub const MAX_RENEWAL_ITEM_LEN: usize = (MAX_PROTECTED + 1) * (MAX_RENEWAL_LEN + 16);

const LOG_PREFIX: &str = "sealtrail log ";
const RENEWS_PREFIX: &str = "sealtrail renews ";
const PROTECTS_PREFIX: &str = "sealtrail protects ";

/// The origin line of a renewal of the log `origin` under `suite`.
pub fn renewal_origin(origin: &str, suite: Suite) -> String {
    format!("{origin}{RENEWAL_ORIGIN_INFIX}{suite}")
}

/// The hash a renewal names an earlier protection by: `H'_"sealtrail/v2/renewal/protected"` of
/// its exact bytes, with `H'` the renewal suite (SPEC §15.6).
pub fn protection_hash(suite: Suite, bytes: &[u8]) -> [u8; 32] {
    suite.tagged(Domain::Protected, &[bytes])
}

/// The kinds of earlier protection a renewal covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProtectedKind {
    /// A signed checkpoint note of the log (SPEC §11).
    Checkpoint,
    /// An earlier renewal note of the log.
    Renewal,
    /// An RFC 3161 timestamp token (DER) over a checkpoint or renewal note it also protects.
    Timestamp,
}

impl ProtectedKind {
    /// The word on the `sealtrail protects` line.
    pub fn as_str(self) -> &'static str {
        match self {
            ProtectedKind::Checkpoint => "checkpoint",
            ProtectedKind::Renewal => "renewal",
            ProtectedKind::Timestamp => "timestamp",
        }
    }

    fn parse(s: &str) -> Option<ProtectedKind> {
        match s {
            "checkpoint" => Some(ProtectedKind::Checkpoint),
            "renewal" => Some(ProtectedKind::Renewal),
            "timestamp" => Some(ProtectedKind::Timestamp),
            _ => None,
        }
    }
}

impl fmt::Display for ProtectedKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One earlier protection a renewal names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Protection {
    /// What it is.
    pub kind: ProtectedKind,
    /// [`protection_hash`] of its bytes under the renewal suite.
    pub hash: [u8; 32],
}

/// A renewal body (SPEC §15.6): the renewal tree's size and root, and what binds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Renewal {
    /// The log's origin (SPEC §5.1), without any suffix.
    pub origin: String,
    /// The renewal suite: the hash of the renewal tree and of the protections.
    pub suite: Suite,
    /// Entries covered: `0..size`.
    pub size: u64,
    /// The root of the renewal tree at `size`.
    pub root: RootHash,
    /// The log renewed.
    pub log_id: LogId,
    /// The suite renewed: the log's own.
    pub renews: Suite,
    /// When the owner signed it (POSIX seconds, the owner's clock).
    pub time: u64,
    /// The earlier protections it covers, in the order their bytes travel.
    pub protects: Vec<Protection>,
}

/// A renewal body or note that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RenewalError {
    /// The note or its tlog-checkpoint body is malformed.
    #[error("{0}")]
    Body(#[from] crate::checkpoint::CheckpointError),
    /// The origin line is not `<origin>#renewal/<suite>`.
    #[error("origin line {0:?} is not a renewal's (<origin>#renewal/<suite>)")]
    Origin(String),
    /// The extension lines are not those of a renewal.
    #[error("extension line {line}: {reason}")]
    Extension {
        /// The line number (from 1).
        line: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// The renewal suite is the suite it renews.
    #[error("a renewal under {0} of a {0} log renews nothing")]
    SameSuite(Suite),
    /// Too many protections, or a note or item too large.
    #[error("over the bounds of SPEC §15.6: {0}")]
    TooLarge(&'static str),
    /// The item is not CBOR of a renewal item's shape.
    #[error("renewal item: {0}")]
    Decode(#[from] DecodeError),
}

fn lower_hex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

impl Renewal {
    /// The origin line: `<origin>#renewal/<suite>`.
    pub fn origin_line(&self) -> String {
        renewal_origin(&self.origin, self.suite)
    }

    /// The body as a tlog-checkpoint body (SPEC §15.6).
    pub fn to_checkpoint(&self) -> Result<Checkpoint, RenewalError> {
        let mut ext = vec![
            format!("{LOG_PREFIX}{}", self.log_id.to_hex()),
            format!("{RENEWS_PREFIX}{} {}", self.renews, self.time),
        ];
        for p in &self.protects {
            ext.push(format!(
                "{PROTECTS_PREFIX}{} {}",
                p.kind,
                hex::encode(p.hash)
            ));
        }
        Ok(Checkpoint::new(&self.origin_line(), self.size, self.root)?.with_extensions(ext)?)
    }

    /// The body's text.
    pub fn encode(&self) -> Result<String, RenewalError> {
        Ok(self.to_checkpoint()?.encode())
    }

    /// Strictly parses a renewal body.
    pub fn parse(text: &str) -> Result<Renewal, RenewalError> {
        Renewal::from_checkpoint(&Checkpoint::parse(text)?)
    }

    fn from_checkpoint(c: &Checkpoint) -> Result<Renewal, RenewalError> {
        let line = c.origin();
        let (origin, suite) = line
            .rsplit_once(RENEWAL_ORIGIN_INFIX)
            .and_then(|(o, s)| Some((o, Suite::from_name(s)?)))
            .filter(|(o, _)| crate::descriptor::valid_origin(o))
            .ok_or_else(|| RenewalError::Origin(line.to_owned()))?;
        let ext = c.extensions();
        let bad = |line: usize, reason| RenewalError::Extension { line, reason };
        let log_id = ext
            .first()
            .and_then(|l| l.strip_prefix(LOG_PREFIX))
            .and_then(lower_hex32)
            .map(LogId)
            .ok_or(bad(4, "not `sealtrail log <64 lower-case hex digits>`"))?;
        let (renews, time) = ext
            .get(1)
            .and_then(|l| l.strip_prefix(RENEWS_PREFIX))
            .and_then(|l| l.split_once(' '))
            .and_then(|(s, t)| {
                Some((
                    Suite::from_name(s)?,
                    crate::checkpoint::parse_decimal(t).filter(|t| *t <= i64::MAX as u64)?,
                ))
            })
            .ok_or(bad(5, "not `sealtrail renews <suite> <POSIX seconds>`"))?;
        if renews == suite {
            return Err(RenewalError::SameSuite(suite));
        }
        let rest = ext.get(2..).unwrap_or_default();
        if rest.len() > MAX_PROTECTED {
            return Err(RenewalError::TooLarge("more than 64 protections"));
        }
        let mut protects = Vec::with_capacity(rest.len());
        for (i, l) in rest.iter().enumerate() {
            let p = l
                .strip_prefix(PROTECTS_PREFIX)
                .and_then(|l| l.split_once(' '))
                .and_then(|(k, h)| {
                    Some(Protection {
                        kind: ProtectedKind::parse(k)?,
                        hash: lower_hex32(h)?,
                    })
                })
                .ok_or(bad(
                    6 + i,
                    "not `sealtrail protects <checkpoint|renewal|timestamp> <64 hex digits>`",
                ))?;
            protects.push(p);
        }
        Ok(Renewal {
            origin: origin.to_owned(),
            suite,
            size: c.size(),
            root: c.root(),
            log_id,
            renews,
            time,
            protects,
        })
    }
}

/// A renewal with its owner-signed note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRenewal {
    renewal: Renewal,
    note: SignedNote,
}

impl SignedRenewal {
    /// Signs `renewal` with `owner` under the log's checkpoint origin line as key name (so the
    /// log's verifier key, SPEC §11.3, verifies it).
    pub fn sign(
        renewal: Renewal,
        owner: &SecretKey,
        key_name: &str,
    ) -> Result<SignedRenewal, RenewalError> {
        let text = renewal.encode()?;
        let note = SignedNote::sign(&text, owner, key_name)
            .map_err(crate::checkpoint::CheckpointError::Note)?;
        Ok(SignedRenewal { renewal, note })
    }

    /// Strictly parses a signed renewal note (form only; nothing is trusted before
    /// [`RenewalTrust::verify`]).
    pub fn parse(bytes: &[u8]) -> Result<SignedRenewal, RenewalError> {
        if bytes.len() > MAX_RENEWAL_LEN {
            return Err(RenewalError::TooLarge("a renewal note over 64 KiB"));
        }
        let note = SignedNote::parse(bytes).map_err(crate::checkpoint::CheckpointError::Note)?;
        let renewal = Renewal::parse(note.text())?;
        Ok(SignedRenewal { renewal, note })
    }

    /// The body.
    pub fn renewal(&self) -> &Renewal {
        &self.renewal
    }

    /// The note.
    pub fn note(&self) -> &SignedNote {
        &self.note
    }

    /// The note's bytes.
    pub fn encode(&self) -> Vec<u8> {
        self.note.encode()
    }
}

/// A renewal as it is stored and carried (SPEC §15.6): its note and the bytes of every earlier
/// protection it names, in the order of its `sealtrail protects` lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenewalItem {
    /// The signed renewal note, verbatim.
    pub note: ByteBuf,
    /// The protected items, verbatim.
    pub protected: Vec<ByteBuf>,
}

impl RenewalItem {
    /// The canonical encoding.
    pub fn encode(&self) -> Vec<u8> {
        to_canonical(self).expect("a renewal item holds only byte strings")
    }

    /// Strictly decodes an item and checks its bounds.
    pub fn decode(bytes: &[u8]) -> Result<RenewalItem, RenewalError> {
        if bytes.len() > MAX_RENEWAL_ITEM_LEN {
            return Err(RenewalError::TooLarge("a renewal item over its bound"));
        }
        let item: RenewalItem = from_canonical(bytes)?;
        item.check_bounds()?;
        Ok(item)
    }

    /// The bounds of SPEC §15.6: a note of at most 64 KiB, at most 64 protected items of at
    /// most 64 KiB each.
    pub fn check_bounds(&self) -> Result<(), RenewalError> {
        if self.note.len() > MAX_RENEWAL_LEN {
            return Err(RenewalError::TooLarge("a renewal note over 64 KiB"));
        }
        if self.protected.len() > MAX_PROTECTED {
            return Err(RenewalError::TooLarge("more than 64 protected items"));
        }
        if self.protected.iter().any(|p| p.len() > MAX_RENEWAL_LEN) {
            return Err(RenewalError::TooLarge("a protected item over 64 KiB"));
        }
        Ok(())
    }
}

/// Why a renewal does not verify. Each names the step of SPEC §15.6 that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RenewalVerifyError {
    /// Not a renewal note.
    #[error("not a renewal note: {0}")]
    Malformed(#[from] RenewalError),
    /// A renewal of another log's origin.
    #[error("it renews the log of origin {found:?}, not {expected:?}")]
    Origin {
        /// This log's origin.
        expected: String,
        /// The renewal's.
        found: String,
    },
    /// It says it renews another suite than the log's.
    #[error("it renews suite {found}, the log's suite is {expected}")]
    Renews {
        /// The log's suite.
        expected: Suite,
        /// The suite it names.
        found: Suite,
    },
    /// No pinned owner key signed it.
    #[error("owner signature: {0}")]
    Signature(crate::note::NoteVerifyError),
    /// It names another log id.
    #[error("it names log {found}, not this log ({expected})")]
    LogId {
        /// This log.
        expected: LogId,
        /// The one it names.
        found: LogId,
    },
    /// The protected items carried are not the ones it names.
    #[error("it names {named} earlier protections and {carried} are carried with it")]
    ProtectedCount {
        /// Lines.
        named: usize,
        /// Items.
        carried: usize,
    },
    /// A protected item's hash is not the one named.
    #[error("protected item {index} ({kind}) does not have the hash its line names")]
    ProtectedHash {
        /// From 1.
        index: usize,
        /// Its kind.
        kind: ProtectedKind,
    },
    /// A protected item is not what its kind says, or not of this log.
    #[error("protected item {index} ({kind}): {reason}")]
    Protected {
        /// From 1.
        index: usize,
        /// Its kind.
        kind: ProtectedKind,
        /// Why.
        reason: String,
    },
}

/// A renewal that verified (SPEC §15.6 steps 1–6): whether its root is the entries' root is a
/// separate check, [`VerifiedRenewal::check_root`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedRenewal {
    renewal: Renewal,
    signer: KeyId,
}

impl VerifiedRenewal {
    /// The body.
    pub fn renewal(&self) -> &Renewal {
        &self.renewal
    }

    /// The pinned owner key that signed it.
    pub fn signer(&self) -> KeyId {
        self.signer
    }

    /// Step 7: its root against the renewal tree recomputed from the entries.
    pub fn check_root(&self, tree: &RenewalTree) -> RootCheck {
        let r = &self.renewal;
        match tree.root_at(r.suite, r.size) {
            Ok(root) if root == r.root => RootCheck::Matches,
            Ok(root) => RootCheck::Mismatch { computed: root },
            Err(why) => RootCheck::NotChecked(why),
        }
    }
}

/// The outcome of comparing a renewal's root with the entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootCheck {
    /// The entries 0..N give the renewal's root under its suite.
    Matches,
    /// They give another root: the renewal is not of these entries.
    Mismatch {
        /// The root the entries give.
        computed: RootHash,
    },
    /// Entries 0..N were not all at hand, in order; the reason in words.
    NotChecked(String),
}

/// What a verifier trusts about one log's renewals: the log's origin, suite and id, and the
/// pinned owner keys (named as for checkpoints, SPEC §11.3).
#[derive(Debug, Clone)]
pub struct RenewalTrust {
    log: LogOrigin,
    log_id: LogId,
    keys: Vec<PublicKey>,
}

impl RenewalTrust {
    /// Trust for the renewals of the log `log` (origin and suite) with id `log_id`, signed by
    /// one of `keys`.
    pub fn new(log: LogOrigin, log_id: LogId, keys: Vec<PublicKey>) -> RenewalTrust {
        RenewalTrust { log, log_id, keys }
    }

    /// Verifies a renewal and the earlier protections it carries (SPEC §15.6, steps 1–6).
    pub fn verify(&self, item: &RenewalItem) -> Result<VerifiedRenewal, RenewalVerifyError> {
        item.check_bounds()?;
        let signed = SignedRenewal::parse(&item.note)?;
        let r = signed.renewal();
        if r.origin != self.log.origin() {
            return Err(RenewalVerifyError::Origin {
                expected: self.log.origin().to_owned(),
                found: r.origin.clone(),
            });
        }
        if r.renews != self.log.suite() {
            return Err(RenewalVerifyError::Renews {
                expected: self.log.suite(),
                found: r.renews,
            });
        }
        let v = signed
            .note()
            .verify(&self.keys)
            .map_err(RenewalVerifyError::Signature)?;
        let signer = v
            .verified
            .first()
            .map(|s| s.key)
            .ok_or(RenewalVerifyError::Signature(
                crate::note::NoteVerifyError::NoVerifiableSignatures,
            ))?;
        if r.log_id != self.log_id {
            return Err(RenewalVerifyError::LogId {
                expected: self.log_id,
                found: r.log_id,
            });
        }
        self.check_protected(r, &item.protected)?;
        Ok(VerifiedRenewal {
            renewal: r.clone(),
            signer,
        })
    }

    // Step 6: the protected items are exactly the ones named, each what its kind says and of
    // this log, none above the renewal's size.
    fn check_protected(&self, r: &Renewal, items: &[ByteBuf]) -> Result<(), RenewalVerifyError> {
        if items.len() != r.protects.len() {
            return Err(RenewalVerifyError::ProtectedCount {
                named: r.protects.len(),
                carried: items.len(),
            });
        }
        let mut notes: Vec<&[u8]> = Vec::new();
        for (i, (p, bytes)) in r.protects.iter().zip(items).enumerate() {
            let index = i + 1;
            if protection_hash(r.suite, bytes) != p.hash {
                return Err(RenewalVerifyError::ProtectedHash {
                    index,
                    kind: p.kind,
                });
            }
            let fail = |reason: String| RenewalVerifyError::Protected {
                index,
                kind: p.kind,
                reason,
            };
            match p.kind {
                ProtectedKind::Checkpoint => {
                    let trust = CheckpointTrust::new(
                        self.log.clone(),
                        self.keys.clone(),
                        Witnesses::NotRequired,
                    )
                    .map_err(|e| fail(e.to_string()))?
                    .with_log_id(self.log_id);
                    let c = trust.verify_bytes(bytes).map_err(|e| fail(e.to_string()))?;
                    if c.size() > r.size {
                        return Err(fail(format!(
                            "a checkpoint of size {} above the renewal's size {}",
                            c.size(),
                            r.size
                        )));
                    }
                    notes.push(bytes);
                }
                ProtectedKind::Renewal => {
                    let earlier = SignedRenewal::parse(bytes).map_err(|e| fail(e.to_string()))?;
                    let e = earlier.renewal();
                    if e.origin != r.origin || e.log_id != self.log_id {
                        return Err(fail("a renewal of another log".into()));
                    }
                    earlier
                        .note()
                        .verify(&self.keys)
                        .map_err(|e| fail(format!("owner signature: {e}")))?;
                    if e.size > r.size {
                        return Err(fail(format!(
                            "a renewal of size {} above this renewal's size {}",
                            e.size, r.size
                        )));
                    }
                    notes.push(bytes);
                }
                ProtectedKind::Timestamp => self.check_token(bytes, &notes).map_err(fail)?,
            }
        }
        Ok(())
    }

    // A protected token must be over a note protected before it (its imprint, SPEC §12.7).
    #[cfg(feature = "tsa")]
    fn check_token(&self, token: &[u8], notes: &[&[u8]]) -> Result<(), String> {
        let (_, imprint) = crate::timestamp::peek_token(token).map_err(|e| e.to_string())?;
        if notes
            .iter()
            .any(|n| crate::timestamp::imprint(n) == imprint)
        {
            Ok(())
        } else {
            Err("its imprint is not over a checkpoint or renewal note protected before it".into())
        }
    }

    #[cfg(not(feature = "tsa"))]
    fn check_token(&self, _token: &[u8], _notes: &[&[u8]]) -> Result<(), String> {
        Ok(())
    }
}

// One suite's tree, and the roots wanted from it (size, root once passed).
type SuiteTree = (Suite, Frontier, Vec<(u64, Option<RootHash>)>);

/// The renewal trees of a log's entries, recomputed while they stream by: fed each entry's
/// header bytes in order from entry 0, it gives the root of the tree under each wanted suite at
/// every size it passed (SPEC §15.6 step 7). Memory: one frontier per suite and the roots asked
/// for.
#[derive(Debug, Clone)]
pub struct RenewalTree {
    trees: Vec<SuiteTree>,
    next: u64,
    broken: Option<String>,
}

impl RenewalTree {
    /// A tree that records the roots at `(suite, size)` for each wanted renewal.
    pub fn new(wanted: impl IntoIterator<Item = (Suite, u64)>) -> RenewalTree {
        let mut trees: Vec<SuiteTree> = Vec::new();
        for (suite, size) in wanted {
            let at = match trees.iter().position(|t| t.0 == suite) {
                Some(at) => at,
                None => {
                    trees.push((suite, Frontier::new(), Vec::new()));
                    trees.len() - 1
                }
            };
            if let Some(t) = trees.get_mut(at) {
                if !t.2.iter().any(|(s, _)| *s == size) {
                    // The empty tree's root is known before any entry.
                    let root = (size == 0).then(|| RootHash(suite.empty()));
                    t.2.push((size, root));
                }
            }
        }
        RenewalTree {
            trees,
            next: 0,
            broken: None,
        }
    }

    /// Also records the root under `suite` at `size`. A suite first wanted after entries were
    /// fed has no tree (its roots are then not known); a size already passed is not recorded.
    pub fn want(&mut self, suite: Suite, size: u64) {
        let next = self.next;
        match self.trees.iter_mut().find(|t| t.0 == suite) {
            Some(t) if !t.2.iter().any(|(s, _)| *s == size) => {
                let root = (size == next).then(|| t.1.root(&suite));
                t.2.push((size, root));
            }
            Some(_) => {}
            None if next == 0 => {
                let root = (size == 0).then(|| RootHash(suite.empty()));
                self.trees
                    .push((suite, Frontier::new(), vec![(size, root)]));
            }
            None => {}
        }
    }

    /// Whether any root is wanted.
    pub fn is_empty(&self) -> bool {
        self.trees.is_empty()
    }

    /// Entries fed so far.
    pub fn size(&self) -> u64 {
        self.next
    }

    /// Feeds entry `seq`, whose header bytes are `header`. Entries must come in order from 0; an
    /// entry out of order stops the trees (their roots are then not checked, and say why).
    pub fn push(&mut self, seq: u64, header: &[u8]) {
        if self.broken.is_some() || self.trees.is_empty() {
            return;
        }
        if seq != self.next {
            self.broken = Some(format!(
                "entry {seq} came where entry {} was expected",
                self.next
            ));
            return;
        }
        self.next += 1;
        for (suite, frontier, roots) in &mut self.trees {
            // Leaf data: the entry hash under the renewal suite (SPEC §6.3, §15.6).
            let data = suite.tagged(Domain::Entry, &[header]);
            let leaf = suite.leaf(&data);
            if frontier.append_with(&*suite, leaf, |_| {}).is_err() {
                self.broken = Some("the tree is full".into());
                return;
            }
            let size = frontier.size();
            for (s, root) in roots.iter_mut() {
                if *s == size {
                    *root = Some(frontier.root(&*suite));
                }
            }
        }
    }

    /// Marks the trees as not computable from here on (an entry could not be read).
    pub fn stop(&mut self, why: String) {
        if self.broken.is_none() {
            self.broken = Some(why);
        }
    }

    /// The root under `suite` at `size`, or why it is not known.
    pub fn root_at(&self, suite: Suite, size: u64) -> Result<RootHash, String> {
        let tree = self.trees.iter().find(|t| t.0 == suite);
        let found = tree
            .and_then(|t| t.2.iter().find(|(s, _)| *s == size))
            .and_then(|(_, r)| *r);
        match (found, &self.broken, tree) {
            (Some(r), _, _) => Ok(r),
            (None, Some(why), _) => {
                Err(format!("entries 0..{size} could not be recomputed: {why}"))
            }
            (None, None, None) => Err(format!(
                "entries 0..{size} were not recomputed under {suite}"
            )),
            (None, None, Some(_)) => Err(format!(
                "the evidence holds entries 0..{} only, not 0..{size}",
                self.next
            )),
        }
    }
}

/// What one renewal established, for a report (SPEC §15.6): its summary, the finding when it
/// failed, the proven statement when it verified, and the entries it covers then.
#[derive(Debug, Clone)]
pub struct RenewalOutcome {
    /// For the report's `renewals` member.
    pub summary: crate::report::RenewalSummary,
    /// A `renewal` finding's message, when it failed.
    pub finding: Option<String>,
    /// The proven statement, when it verified.
    pub proven: Option<crate::report::Proven>,
    /// `(suite, size)` when it verified: entries `0..size` are re-protected under `suite`.
    pub covers: Option<(Suite, u64)>,
}

/// Judges the `index`-th renewal (from 1) `item` of the evidence: its note, binding and
/// protections under `trust`, and its root against `tree`. `describe` names a pinned key as the
/// report shows it.
pub fn judge(
    index: usize,
    item: &RenewalItem,
    trust: &RenewalTrust,
    tree: &RenewalTree,
    describe: &dyn Fn(&KeyId) -> String,
) -> RenewalOutcome {
    use crate::report::{Proven, RenewalSummary, TimestampStatus};
    let parsed = SignedRenewal::parse(&item.note).ok();
    let (suite, size, root) = parsed
        .as_ref()
        .map_or((String::new(), 0, String::new()), |s| {
            let r = s.renewal();
            (r.suite.name().to_owned(), r.size, r.root.to_hex())
        });
    let failed = |detail: String| RenewalOutcome {
        summary: RenewalSummary {
            suite: suite.clone(),
            size,
            root: root.clone(),
            status: TimestampStatus::Failed,
            key: None,
            time: None,
            detail: format!("FAILED: {detail}"),
        },
        finding: Some(format!(
            "renewal {index} (entries 0..{size} under {suite}): {detail}"
        )),
        proven: None,
        covers: None,
    };
    let verified = match trust.verify(item) {
        Ok(v) => v,
        Err(e) => return failed(e.to_string()),
    };
    let r = verified.renewal();
    let key = describe(&verified.signer());
    let time = crate::time::Timestamp(r.time.saturating_mul(1_000_000_000)).to_rfc3339();
    match verified.check_root(tree) {
        RootCheck::Matches => RenewalOutcome {
            summary: RenewalSummary {
                suite: suite.clone(),
                size,
                root: root.clone(),
                status: TimestampStatus::Verified,
                key: Some(key.clone()),
                time: Some(time.clone()),
                detail: format!(
                    "entries 0..{size} re-protected under {suite} by owner key {key} at {time}"
                ),
            },
            finding: None,
            proven: Some(Proven::EntriesRenewed {
                suite: suite.clone(),
                size,
                root: r.root,
                key,
                time,
                protected: r.protects.len() as u64,
            }),
            covers: Some((r.suite, size)),
        },
        RootCheck::Mismatch { computed } => failed(format!(
            "its root {} is not the root {} that entries 0..{size} give under {suite}: it is \
             not a renewal of these entries",
            r.root.short(),
            computed.short()
        )),
        RootCheck::NotChecked(why) => RenewalOutcome {
            summary: RenewalSummary {
                suite: suite.clone(),
                size,
                root: root.clone(),
                status: TimestampStatus::NotChecked,
                key: Some(key),
                time: Some(time),
                detail: format!("signed by the owner, root not checked: {why}"),
            },
            finding: None,
            proven: None,
            covers: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Renewal {
        Renewal {
            origin: "example.com/log".into(),
            suite: Suite::Sha256,
            size: 3,
            root: RootHash([7; 32]),
            log_id: LogId([9; 32]),
            renews: Suite::Blake3,
            time: 1_764_626_400,
            protects: vec![Protection {
                kind: ProtectedKind::Checkpoint,
                hash: [1; 32],
            }],
        }
    }

    #[test]
    fn bodies_round_trip_and_are_never_checkpoints() {
        let r = sample();
        let text = r.encode().unwrap();
        assert!(text.starts_with("example.com/log#renewal/sha256\n3\n"));
        assert!(text.contains("\nsealtrail renews blake3 1764626400\n"));
        assert_eq!(Renewal::parse(&text).unwrap(), r);
        // Not the origin line of any log's checkpoint (origins have no `#`).
        assert!(LogOrigin::from_checkpoint_origin("example.com/log#renewal/sha256").is_err());
        // Strict: an unknown suite, same suite, a bad protection line.
        for bad in [
            text.replace("#renewal/sha256", "#renewal/md5"),
            text.replace("renews blake3", "renews sha256"),
            text.replace("protects checkpoint", "protects bundle"),
            text.replace("sealtrail log ", "sealtrail log  "),
        ] {
            assert!(Renewal::parse(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_tree_is_rfc6962_over_renewal_suite_entry_hashes() {
        let headers: Vec<Vec<u8>> = (0..5u8).map(|i| vec![i; 10]).collect();
        let mut t = RenewalTree::new([(Suite::Sha256, 5), (Suite::Sha256, 2)]);
        for (i, h) in headers.iter().enumerate() {
            t.push(i as u64, h);
        }
        let leaves: Vec<[u8; 32]> = headers
            .iter()
            .map(|h| Suite::Sha256.tagged(Domain::Entry, &[h]))
            .collect();
        let mut f = Frontier::new();
        for (i, l) in leaves.iter().enumerate() {
            f.append_with(&Suite::Sha256, Suite::Sha256.leaf(l), |_| {})
                .unwrap();
            if i == 1 {
                assert_eq!(t.root_at(Suite::Sha256, 2).unwrap(), f.root(&Suite::Sha256));
            }
        }
        assert_eq!(t.root_at(Suite::Sha256, 5).unwrap(), f.root(&Suite::Sha256));
        assert!(t.root_at(Suite::Sha256, 6).is_err());
        // Out of order: nothing more is recorded, and it says why.
        let mut t = RenewalTree::new([(Suite::Sha256, 2)]);
        t.push(1, b"x");
        assert!(t.root_at(Suite::Sha256, 2).unwrap_err().contains("entry 1"));
    }
}
