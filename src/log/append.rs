//! Appending: checks before signing (schema, links, approvals, key changes), reservation under the lock, group commit (SPEC §9.2).

use super::*;

// SPEC §13.2, §7.3, §6.5: a record of a known kind carries that kind's payload, its entry
// references are among its links, and no other kind is accepted.
pub(super) fn check_schema(
    index: usize,
    kind: &Kind,
    payload: &[u8],
    links: &[Link],
) -> Result<(), AppendError> {
    use crate::event::{Event, EventDecodeError};
    use crate::verify::ErasureProblem;
    // Key changes are decoded by the caller (they change the registry), approvals where their
    // subjects are read (SPEC §13.5), each with its own error.
    if kind.is_key_management() || kind.as_str() == Kind::APPROVAL {
        return Ok(());
    }
    if crate::retention::is_lifecycle_kind(kind.as_str()) {
        return crate::retention::Lifecycle::check_payload(kind.as_str(), payload)
            .map_err(|problem| AppendError::Lifecycle { index, problem });
    }
    if kind.as_str() == crate::policy::REVIEW_POLICY {
        return crate::policy::ReviewPolicy::decode(payload)
            .map(|_| ())
            .map_err(|problem| AppendError::ReviewPolicy { index, problem });
    }
    if kind.as_str() == Kind::ERASURE {
        let erasure = |problem| AppendError::Erasure { index, problem };
        if payload.len() > crate::registry::MAX_CONTROL_PAYLOAD_LEN {
            return Err(erasure(ErasureProblem::TooLarge(payload.len())));
        }
        crate::codec::from_canonical::<Erasure>(payload)
            .map_err(|e| erasure(ErasureProblem::Payload(e)))?;
        if links.len() != 1 {
            return Err(erasure(ErasureProblem::LinkCount(links.len())));
        }
        return Ok(());
    }
    match Event::decode(kind, payload) {
        Ok(event) => match event.unlinked_reference(links) {
            None => Ok(()),
            Some(_) => Err(AppendError::Event {
                index,
                source: EventDecodeError::Invalid {
                    kind: event.kind_str(),
                    field: "links",
                    reason: "an entry reference of the payload is not one of the record's links",
                },
            }),
        },
        Err(EventDecodeError::UnknownKind(kind)) => Err(AppendError::UnknownKind { index, kind }),
        Err(source) => Err(AppendError::Event { index, source }),
    }
}

// A record checked before taking the lock: kind, session, payload, its key change, links, salt
// and payload commitment.
pub(super) type Prepared = (
    Kind,
    SessionId,
    Vec<u8>,
    Option<KeyChange>,
    Vec<Link>,
    Salt,
    PayloadCommitment,
);

// A record checked and reserved, waiting to be signed and written.
pub(super) struct Reserved {
    header: EntryHeader,
    header_bytes: Vec<u8>,
    hash: EntryHash,
    nodes: Vec<u8>,
    held: HeldRefs,
    salt: Salt,
    payload: Vec<u8>,
    new_run: bool,
}

// Which earlier records hold this record's signer, session and kind (`None`: it holds them
// itself), SPEC §9.1.
struct HeldRefs {
    signer: Option<u64>,
    session: Option<u64>,
    kind: Option<u64>,
}

// The record holding `key` for record `seq` to refer to, or `None` when `seq` holds it itself
// (and becomes the record that later ones refer to).
fn hold<K: Eq + std::hash::Hash + Clone>(
    committed: &std::collections::HashMap<K, u64>,
    pending: &mut std::collections::HashMap<K, u64>,
    key: &K,
    seq: u64,
) -> Option<u64> {
    if let Some(&at) = pending.get(key).or_else(|| committed.get(key)) {
        return Some(at);
    }
    pending.insert(key.clone(), seq);
    None
}

// Adds a batch's newly held values to the writer's maps, starting a map over when it is full.
fn commit_held<K: Eq + std::hash::Hash>(
    committed: &mut std::collections::HashMap<K, u64>,
    pending: std::collections::HashMap<K, u64>,
) {
    if committed.len() + pending.len() > HELD_LIMIT {
        committed.clear();
    }
    committed.extend(pending);
}

impl Log {
    /// Appends one record signed by `signer`. With [`Durability::Immediate`] it returns once the
    /// entry is fsynced.
    ///
    /// Blocks the calling thread until then (with Immediate, for an fsync: a millisecond on an
    /// idle disk, far longer on a busy one). In async code use `AsyncLog` (feature `tokio`),
    /// which appends on tokio's blocking pool.
    pub fn append(&self, signer: &SecretKey, record: Record) -> Result<Receipt, AppendError> {
        // `append_batch` of one, without its three vectors: this is every agent event's path.
        self.check_usable()?;
        let prepared = self.prepare(0, record)?;
        let mut reserved = None;
        self.reserve_all(signer.key_id(), std::iter::once(prepared), |r| {
            reserved = Some(r)
        })?;
        let r = reserved.expect("the one record was reserved");
        self.write_and_complete(signer, r, true)
    }

    /// Appends records signed by `signer` at consecutive positions. Either every record is
    /// accepted or none is; with [`Durability::Immediate`] it returns once all are fsynced.
    pub fn append_batch(
        &self,
        signer: &SecretKey,
        records: Vec<Record>,
    ) -> Result<Vec<Receipt>, AppendError> {
        self.check_usable()?;
        if records.is_empty() {
            return Ok(Vec::new());
        }
        // Everything that needs no log state is checked before taking the lock.
        let prepared = records
            .into_iter()
            .enumerate()
            .map(|(index, r)| self.prepare(index, r))
            .collect::<Result<Vec<_>, _>>()?;
        let mut reserved = Vec::with_capacity(prepared.len());
        self.reserve_all(signer.key_id(), prepared, |r| reserved.push(r))?;
        let count = reserved.len();
        reserved
            .into_iter()
            .enumerate()
            .map(|(i, r)| self.write_and_complete(signer, r, i + 1 == count))
            .collect()
    }

    fn check_usable(&self) -> Result<(), AppendError> {
        match self.inner.progress.poisoned() {
            Some(p) => Err(AppendError::Poisoned(p)),
            None => Ok(()),
        }
    }

    // The checks of record `index` that need no log state, its salt and payload commitment.
    fn prepare(&self, index: usize, r: Record) -> Result<Prepared, AppendError> {
        if r.payload.len() > self.inner.max_payload {
            return Err(AppendError::PayloadTooLarge {
                index,
                size: r.payload.len(),
                max: self.inner.max_payload,
            });
        }
        check_canonical(&r.payload).map_err(|source| AppendError::Payload { index, source })?;
        let change = match KeyChange::decode(&r.kind, &r.payload) {
            Some(c) => Some(c.map_err(|source| AppendError::KeyChange { index, source })?),
            None => None,
        };
        let mut links = r.links;
        links.sort();
        links.dedup();
        check_schema(index, &r.kind, &r.payload, &links)?;
        self.check_links(index, &links)?;
        let salt = Salt::random().map_err(|e| AppendError::Random(e.to_string()))?;
        let commitment = PayloadCommitment::compute(self.suite(), &salt, &r.payload);
        Ok((
            r.kind, r.session, r.payload, change, links, salt, commitment,
        ))
    }

    // Reserves positions for prepared records under the tip's lock, handing each to `emit` in
    // order; none if any is refused.
    fn reserve_all(
        &self,
        signer_id: KeyId,
        prepared: impl IntoIterator<Item = Prepared, IntoIter: ExactSizeIterator>,
        emit: impl FnMut(Reserved),
    ) -> Result<(), AppendError> {
        let mut tip = self.tip();
        // Key changes go into the registry in place and are taken back if a later record of
        // the batch is refused: no copy of the registry per batch.
        let mut undo = Vec::new();
        let result = self.reserve(&mut tip, signer_id, prepared, &mut undo, emit);
        if result.is_err() {
            for u in undo.into_iter().rev() {
                tip.registry.undo(u);
            }
        }
        result
    }

    // Signs and writes a reserved record and marks it written; with Immediate durability and
    // `last`, returns once it is fsynced.
    fn write_and_complete(
        &self,
        signer: &SecretKey,
        r: Reserved,
        last: bool,
    ) -> Result<Receipt, AppendError> {
        let seq = r.header.seq;
        let receipt = Receipt {
            seq,
            hash: r.hash,
            time: r.header.time,
        };
        if let Err(e) = self.write_reserved(signer, r) {
            self.inner
                .progress
                .poison(format!("writing entry {seq} failed: {e}"));
            return Err(AppendError::Store(e));
        }
        if last && self.inner.durability == Durability::Immediate {
            // The last entry's completion and the wait for durability take one lock.
            self.inner
                .progress
                .complete_and_wait_durable(seq, seq + 1, self.inner.as_ref())
                .map_err(AppendError::Poisoned)?;
        } else {
            self.inner.progress.complete(seq);
        }
        Ok(receipt)
    }

    // Checks and reserves positions for prepared records under the tip's lock (SPEC §9.2): every
    // record is checked against the log as the ones before it in the batch leave it, and the tip
    // moves only if all pass. Key changes are applied to the tip's registry as they go, with what
    // takes them back in `undo`.
    pub(super) fn reserve(
        &self,
        tip: &mut Tip,
        signer_id: KeyId,
        prepared: impl IntoIterator<Item = Prepared, IntoIter: ExactSizeIterator>,
        undo: &mut Vec<crate::registry::Undo>,
        mut emit: impl FnMut(Reserved),
    ) -> Result<(), AppendError> {
        let suite = self.suite();
        let log_id = self.log_id();
        let mut seq = tip.next_seq;
        let mut prev = tip.prev;
        let mut time = tip.last_time;
        // The batch's last session, once it differs from the tip's: cloned only on a change.
        let mut session: Option<SessionId> = None;
        let mut control = tip.control;
        let prepared = prepared.into_iter();
        // One record (every `append`) checks everything that can refuse it before its leaf goes
        // into the frontier, so it updates the tip's in place; a batch works on a copy, as a
        // later record may still be refused.
        let mut copy = (prepared.len() != 1).then(|| tip.frontier.clone());
        let frontier = match &mut copy {
            Some(f) => f,
            None => &mut tip.frontier,
        };
        // Values this batch's records hold, for later records to refer to: kept apart until
        // the whole batch is accepted, since a refused batch gives its positions back.
        let mut pending = HeldFields::default();
        // Upper nodes for the node cache, once the batch is accepted.
        let mut upper = Vec::new();
        // The leaf hashes, for the level-0 tiles a writer writes ahead (SPEC §9.8).
        let first = seq;
        let mut leaves = self
            .tiles_ahead()
            .then(|| Vec::with_capacity(prepared.len()));
        for (index, (kind, rsession, payload, change, links, salt, commitment)) in
            prepared.enumerate()
        {
            tip.registry
                .check_signer(seq, &signer_id, &kind)
                .map_err(|source| AppendError::Signer { index, source })?;
            // Time never goes backwards, and never runs ahead of this writer's clock by more
            // than the allowed skew: one entry dated in the future cannot drag every later
            // entry (a human approval signed today among them) into that future.
            let now = self.inner.clock.now();
            if time.0 > now.0.saturating_add(self.inner.max_skew_nanos) {
                return Err(AppendError::ClockSkew {
                    index,
                    previous: time,
                    now,
                });
            }
            time = time.max(now);
            // SPEC §8.2 (approval), after the signer check as in verification. Approvals are
            // rare; reading their subjects under the lock keeps the check in one place.
            for (subject, subject_signer) in
                self.approval_subjects(index, &kind, &payload, &links, time)?
            {
                check_not_own_work(&tip.registry, &signer_id, subject, &subject_signer)
                    .map_err(|source| AppendError::Approval { index, source })?;
            }
            if let Some(change) = &change {
                tip.registry
                    .check_change(seq, change)
                    .map_err(|source| AppendError::KeyChange { index, source })?;
                undo.push(
                    tip.registry
                        .apply_undoable(seq, change)
                        .map_err(|source| AppendError::KeyChange { index, source })?,
                );
            }
            if let Some(l) = links.last() {
                if l.seq >= seq {
                    return Err(AppendError::Link {
                        index,
                        target: l.seq,
                        reason: "not an earlier entry".into(),
                    });
                }
            }
            let header = EntryHeader {
                version: crate::descriptor::FORMAT_VERSION,
                log_id,
                seq,
                prev,
                time,
                session: rsession,
                signer: signer_id,
                kind,
                payload: commitment,
                links,
                control,
            };
            let header_bytes = header.encode();
            let before = session.as_ref().unwrap_or(&tip.last_session);
            let new_run = !header.session.is_none() && header.session != *before;
            if header.session != *before {
                session = Some(header.session.clone());
            }
            prev = EntryHash::compute(suite, &header_bytes);
            if header.kind.is_control() {
                control = Some(Link { seq, hash: prev });
            }
            let mut nodes = Vec::new();
            let leaf = merkle::leaf_hash(suite, &prev);
            if let Some(l) = &mut leaves {
                l.push(leaf);
            }
            frontier
                .append_with(&suite, leaf, |n| {
                    push_record_node(&mut nodes, &n);
                    if n.id.level >= CACHE_LEVEL {
                        upper.push(n);
                    }
                })
                .map_err(|_| AppendError::Full { index })?;
            let held = HeldRefs {
                signer: hold(&tip.held.signers, &mut pending.signers, &signer_id, seq),
                // No session is one byte: held by no one.
                session: (!header.session.is_none())
                    .then(|| {
                        hold(
                            &tip.held.sessions,
                            &mut pending.sessions,
                            &header.session,
                            seq,
                        )
                    })
                    .flatten(),
                kind: hold(&tip.held.kinds, &mut pending.kinds, &header.kind, seq),
            };
            emit(Reserved {
                header,
                header_bytes,
                hash: prev,
                nodes,
                held,
                salt,
                payload,
                new_run,
            });
            seq += 1;
        }
        // Every record passed: commit the reservation.
        tip.next_seq = seq;
        tip.prev = prev;
        tip.last_time = time;
        if let Some(session) = session {
            tip.last_session = session;
        }
        tip.control = control;
        if let Some(f) = copy {
            tip.frontier = f;
        }
        commit_held(&mut tip.held.signers, pending.signers);
        commit_held(&mut tip.held.sessions, pending.sessions);
        commit_held(&mut tip.held.kinds, pending.kinds);
        for n in upper {
            self.inner.nodes.put(n.id.level, n.id.index, n.hash);
        }
        if let Some(leaves) = leaves {
            self.note_leaves(first, &leaves);
        }
        self.inner.progress.reserve(seq);
        Ok(())
    }

    pub(super) fn write_reserved(&self, signer: &SecretKey, r: Reserved) -> Result<(), StoreError> {
        let seq = r.header.seq;
        let run = r.new_run.then(|| run_key(r.header.session.as_str(), seq));
        // Signed as `Entry::sign` signs, without assembling the entry's bytes: the record
        // keeps the signature and the fields below, not the entry.
        let signature = Entry::sign_header(&r.header_bytes, signer);
        let h = &r.header;
        // SPEC §9.1: only what a reader cannot recompute.
        let record = StoredRecord {
            time: h.time.0,
            signer: r.held.signer.map_or(Held::Inline(h.signer.0), Held::At),
            session: r
                .held
                .session
                .map_or(Held::Inline(h.session.as_str()), Held::At),
            kind: r.held.kind.map_or(Held::Inline(h.kind.as_str()), Held::At),
            prev: h.prev.0,
            control: h.control.map(|l| l.seq),
            links: h.links.iter().map(|l| l.seq).collect(),
            signature,
            nodes: &r.nodes,
            payload: HeldPayload::Present {
                salt: r.salt.0,
                data: &r.payload,
            },
        }
        .encode();
        let key = seq_key(ENTRY, seq);
        // Written in this order. A marker goes first: a crash may leave a marker without its
        // entry (readers tolerate that), never an entry without its marker.
        match run {
            Some(run) => self.inner.store.put_many(&[(&run, &[]), (&key, &record)]),
            None => self.inner.store.put(&key, &record),
        }
    }

    pub(super) fn check_links(&self, index: usize, links: &[Link]) -> Result<(), AppendError> {
        if let Err(FieldError::Links(reason)) = crate::entry::check_link_order(links) {
            return Err(AppendError::Link {
                index,
                target: links.first().map_or(0, |l| l.seq),
                reason: reason.into(),
            });
        }
        for l in links {
            let err = |reason: &str| AppendError::Link {
                index,
                target: l.seq,
                reason: reason.into(),
            };
            if l.seq >= self.len() {
                return Err(err("no such entry yet"));
            }
            let stored = self
                .read(l.seq)
                .map_err(|e| err(&e.to_string()))?
                .ok_or_else(|| err("no such entry"))?;
            if stored.hash != l.hash {
                return Err(err("hash does not match the entry at that position"));
            }
        }
        Ok(())
    }

    // For an approval (SPEC §13.5): decodes it, checks that its entry subjects are among its
    // (already checked) links, and returns each subject with its signer, for the own-work check
    // against the registry. Empty for other kinds.
    pub(super) fn approval_subjects(
        &self,
        index: usize,
        kind: &Kind,
        payload: &[u8],
        links: &[Link],
        time: Timestamp,
    ) -> Result<Vec<(u64, KeyId)>, AppendError> {
        // A review: every entry it links is under review or evidence, none the reviewer's own
        // (SPEC §13.4.20).
        if kind.as_str() == "review" {
            let mut out = Vec::with_capacity(links.len());
            for l in links {
                if let Some(stored) = self.read(l.seq).map_err(|e| AppendError::Link {
                    index,
                    target: l.seq,
                    reason: e.to_string(),
                })? {
                    out.push((l.seq, stored.header().signer));
                }
            }
            return Ok(out);
        }
        if kind.as_str() != Kind::APPROVAL {
            return Ok(Vec::new());
        }
        let err = |source| AppendError::Approval { index, source };
        let approval = Approval::decode(payload).map_err(err)?;
        approval.check_links(links).map_err(err)?;
        approval.check_signed_at(time).map_err(err)?;
        let mut out = Vec::with_capacity(approval.entries().len());
        for s in approval.entries() {
            let stored = self
                .read(s.seq)
                .map_err(|e| AppendError::Link {
                    index,
                    target: s.seq,
                    reason: e.to_string(),
                })?
                .ok_or_else(|| AppendError::Link {
                    index,
                    target: s.seq,
                    reason: "no such entry".into(),
                })?;
            out.push((s.seq, stored.header().signer));
        }
        Ok(out)
    }

    pub(super) fn wait_durable(&self, len: u64) -> Result<(), String> {
        self.inner.progress.wait_durable(len, self.inner.as_ref())
    }

    /// Makes every append that has returned durable.
    pub fn flush(&self) -> Result<(), AppendError> {
        let len = self.tip().next_seq;
        self.inner
            .progress
            .wait_completed(len)
            .map_err(AppendError::Poisoned)?;
        self.wait_durable(len).map_err(AppendError::Poisoned)
    }

    /// Registers a key with a role and printed name (signed by an owner key).
    pub fn register_key(
        &self,
        owner: &SecretKey,
        key: KeyId,
        role: Role,
        name: &str,
    ) -> Result<Receipt, AppendError> {
        self.key_change(
            owner,
            KeyChange::Register(KeyRegistration::new(key, role, name)),
        )
    }

    /// Revokes a key: its signature on any later entry is invalid (signed by an owner key).
    pub fn revoke_key(
        &self,
        owner: &SecretKey,
        key: KeyId,
        reason: &str,
    ) -> Result<Receipt, AppendError> {
        self.key_change(owner, KeyChange::Revoke(KeyRevocation::new(key, reason)))
    }

    /// Replaces `old` by `new`, which takes over its role and name (signed by an owner key).
    pub fn rotate_key(
        &self,
        owner: &SecretKey,
        old: KeyId,
        new: KeyId,
        reason: &str,
    ) -> Result<Receipt, AppendError> {
        self.key_change(owner, KeyChange::Rotate(KeyRotation::new(old, new, reason)))
    }

    pub(super) fn key_change(
        &self,
        owner: &SecretKey,
        change: KeyChange,
    ) -> Result<Receipt, AppendError> {
        let payload = match &change {
            KeyChange::Register(p) => encode_builtin(p),
            KeyChange::Revoke(p) => encode_builtin(p),
            KeyChange::Rotate(p) => encode_builtin(p),
        };
        self.append(owner, Record::new(change.kind(), payload))
    }
}

// A group commit: the store's sync makes the entries durable; the store's derived index follows
// once the appenders are released, and the level-0 tiles of the runs now durable once the next
// flush may start. A closing handle flushes the same way (`Inner::drop`).
impl super::progress::Flush for Inner {
    // Makes entries `0..target` (all written) durable, with the watermark that says so.
    fn sync(&self, target: u64) -> Result<(), String> {
        self.store
            .put(WATERMARK_KEY, &target.to_be_bytes())
            .and_then(|()| self.store.sync())
            .map_err(|e| format!("flush failed: {e}"))
    }

    fn settle(&self, _target: u64) -> Result<(), String> {
        self.store
            .settle()
            .map_err(|e| format!("flush failed: {e}"))
    }

    fn follow_up(&self, target: u64) {
        self.write_tiles_ahead(target);
    }
}
