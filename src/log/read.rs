//! Reading stored entries: by position, by range, by session; restoring the fields a stored
//! record elides (SPEC §9.1).

use std::collections::HashMap;

use super::*;

/// Where stored records are read, and what restores the header fields they elide: the log id
/// from the descriptor, `seq` from the position, fields held by earlier records (SPEC §9.1).
#[derive(Clone, Copy)]
pub(crate) struct Records<'a> {
    pub(crate) store: &'a dyn Store,
    pub(crate) suite: Suite,
    pub(crate) log_id: LogId,
    pub(crate) cache: &'a RefCache,
}

/// Fields of earlier records that later records refer to, once read: a signer, session or
/// kind held by a record, and entry hashes (the `prev` of the next record). A few distinct
/// values serve many entries; each map is emptied when it reaches [`REF_CACHE_LIMIT`].
#[derive(Debug, Default)]
pub(crate) struct RefCache(Mutex<RefMaps>);

#[derive(Debug, Default)]
struct RefMaps {
    signers: HashMap<u64, KeyId>,
    sessions: HashMap<u64, SessionId>,
    kinds: HashMap<u64, Kind>,
    hashes: HashMap<u64, EntryHash>,
}

/// The most values each map of a [`RefCache`] keeps.
const REF_CACHE_LIMIT: usize = 4096;

fn remember<V>(map: &mut HashMap<u64, V>, at: u64, v: V) {
    if map.len() >= REF_CACHE_LIMIT {
        map.clear();
    }
    map.insert(at, v);
}

fn corrupt(seq: u64, field: &'static str, reason: &'static str) -> ReadError {
    ReadError::Corrupt {
        seq,
        source: DecodeError::InvalidField {
            offset: 0,
            field,
            reason,
        },
    }
}

impl RefCache {
    fn maps(&self) -> MutexGuard<'_, RefMaps> {
        // Every update leaves the maps consistent: a poisoned lock is still usable.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Records<'_> {
    /// The stored bytes of entry `seq`.
    pub(crate) fn raw(&self, seq: u64) -> Result<Option<Vec<u8>>, ReadError> {
        Ok(self.store.get(&seq_key(ENTRY, seq))?)
    }

    /// The entry at `seq`, if stored.
    pub(crate) fn read(&self, seq: u64) -> Result<Option<StoredEntry>, ReadError> {
        let Some(bytes) = self.raw(seq)? else {
            return Ok(None);
        };
        self.decode(seq, &bytes).map(Some)
    }

    /// Restores entry `seq` from its stored record: the exact entry bytes that were signed.
    pub(crate) fn decode(&self, seq: u64, bytes: &[u8]) -> Result<StoredEntry, ReadError> {
        let r =
            StoredRecord::parse(seq, bytes).map_err(|source| ReadError::Corrupt { seq, source })?;
        self.restore(seq, &r)
    }

    /// Restores entry `seq` from its parsed record.
    pub(crate) fn restore(&self, seq: u64, r: &StoredRecord<'_>) -> Result<StoredEntry, ReadError> {
        Ok(self.restore_fields(seq, r)?.into_entry(self.suite))
    }

    /// The header fields of entry `seq` its record elides or holds elsewhere, restored: what
    /// reading needs the store for (earlier records' signer, session, kind and `prev`), not yet
    /// hashed into the entry ([`RestoredFields::into_entry`]).
    pub(crate) fn restore_fields(
        &self,
        seq: u64,
        r: &StoredRecord<'_>,
    ) -> Result<RestoredFields, ReadError> {
        let signer = match r.signer {
            Held::Inline(k) => KeyId(k),
            Held::At(at) => self.signer_at(seq, at)?,
        };
        let session = match r.session {
            Held::Inline(s) => {
                SessionId::new(s).map_err(|_| corrupt(seq, "session", "not a session id"))?
            }
            Held::At(at) => self.session_at(seq, at)?,
        };
        let kind = match r.kind {
            Held::Inline(k) => Kind::new(k).map_err(|_| corrupt(seq, "kind", "not a kind"))?,
            Held::At(at) => self.kind_at(seq, at)?,
        };
        let prev = EntryHash(r.prev);
        let link = |k: u64| -> Result<Link, ReadError> {
            Ok(Link {
                seq: k,
                hash: self.hash_of(seq, k, prev)?,
            })
        };
        let control = r.control.map(link).transpose()?;
        let links = r
            .links
            .iter()
            .map(|&k| link(k))
            .collect::<Result<Vec<_>, _>>()?;
        let payload = match r.payload {
            HeldPayload::Present { salt, data } => RestoredPayload::Present {
                salt: Salt(salt),
                data: data.to_vec(),
            },
            HeldPayload::Erased { commitment } => {
                RestoredPayload::Erased(PayloadCommitment(commitment))
            }
        };
        Ok(RestoredFields {
            log_id: self.log_id,
            seq,
            prev,
            time: Timestamp(r.time),
            session,
            signer,
            kind,
            links,
            control,
            signature: r.signature,
            payload,
        })
    }

    /// The session of entry `seq`, from its stored record `bytes`: the layout parsed and a held
    /// session followed, without restoring the entry (no hashing, no signature check). For the
    /// derived index only (SPEC §9.7): every query confirms it against the restored entries.
    pub(crate) fn session_of(&self, seq: u64, bytes: &[u8]) -> Result<SessionId, ReadError> {
        let r =
            StoredRecord::parse(seq, bytes).map_err(|source| ReadError::Corrupt { seq, source })?;
        match r.session {
            Held::Inline(s) => {
                SessionId::new(s).map_err(|_| corrupt(seq, "session", "not a session id"))
            }
            Held::At(at) => self.session_at(seq, at),
        }
    }

    // The record of entry `at`, which entry `seq` refers to for `field`.
    fn referred(&self, seq: u64, at: u64, field: &'static str) -> Result<Vec<u8>, ReadError> {
        self.raw(at)?
            .ok_or_else(|| corrupt(seq, field, "refers to a record that is not stored"))
    }

    fn signer_at(&self, seq: u64, at: u64) -> Result<KeyId, ReadError> {
        if let Some(k) = self.cache.maps().signers.get(&at) {
            return Ok(*k);
        }
        let bytes = self.referred(seq, at, "signer")?;
        let r = StoredRecord::parse(at, &bytes)
            .map_err(|source| ReadError::Corrupt { seq: at, source })?;
        let Held::Inline(k) = r.signer else {
            return Err(corrupt(
                seq,
                "signer",
                "refers to a record that does not hold a key id",
            ));
        };
        remember(&mut self.cache.maps().signers, at, KeyId(k));
        Ok(KeyId(k))
    }

    fn session_at(&self, seq: u64, at: u64) -> Result<SessionId, ReadError> {
        if let Some(s) = self.cache.maps().sessions.get(&at) {
            return Ok(s.clone());
        }
        let bytes = self.referred(seq, at, "session")?;
        let r = StoredRecord::parse(at, &bytes)
            .map_err(|source| ReadError::Corrupt { seq: at, source })?;
        let Held::Inline(s) = r.session else {
            return Err(corrupt(
                seq,
                "session",
                "refers to a record that does not hold a session",
            ));
        };
        let s = SessionId::new(s).map_err(|_| corrupt(at, "session", "not a session id"))?;
        remember(&mut self.cache.maps().sessions, at, s.clone());
        Ok(s)
    }

    fn kind_at(&self, seq: u64, at: u64) -> Result<Kind, ReadError> {
        if let Some(k) = self.cache.maps().kinds.get(&at) {
            return Ok(k.clone());
        }
        let bytes = self.referred(seq, at, "kind")?;
        let r = StoredRecord::parse(at, &bytes)
            .map_err(|source| ReadError::Corrupt { seq: at, source })?;
        let Held::Inline(k) = r.kind else {
            return Err(corrupt(
                seq,
                "kind",
                "refers to a record that does not hold a kind",
            ));
        };
        let k = Kind::new(k).map_err(|_| corrupt(at, "kind", "not a kind"))?;
        remember(&mut self.cache.maps().kinds, at, k.clone());
        Ok(k)
    }

    // The hash of entry `k`, which entry `seq` (whose `prev` is given) links to: the `prev` of
    // record `k + 1`.
    fn hash_of(&self, seq: u64, k: u64, prev: EntryHash) -> Result<EntryHash, ReadError> {
        let next = k + 1; // k < seq: the parser checked it.
        if next == seq {
            return Ok(prev);
        }
        if let Some(h) = self.cache.maps().hashes.get(&k) {
            return Ok(*h);
        }
        let bytes = self.referred(seq, next, "links")?;
        let r = StoredRecord::parse(next, &bytes)
            .map_err(|source| ReadError::Corrupt { seq: next, source })?;
        let h = EntryHash(r.prev);
        remember(&mut self.cache.maps().hashes, k, h);
        Ok(h)
    }
}

/// A stored record's fields restored by [`Records::restore_fields`], before the entry is
/// rebuilt from them: owned, so the rebuilding (payload commitment, header bytes, entry hash)
/// can run on another thread than the reading.
#[derive(Debug, Clone)]
pub(crate) struct RestoredFields {
    log_id: LogId,
    seq: u64,
    prev: EntryHash,
    time: Timestamp,
    session: SessionId,
    signer: KeyId,
    kind: Kind,
    links: Vec<Link>,
    control: Option<Link>,
    signature: [u8; 64],
    payload: RestoredPayload,
}

// A present payload's commitment is recomputed from salt and payload; an erased one's is kept.
#[derive(Debug, Clone)]
enum RestoredPayload {
    Present { salt: Salt, data: Vec<u8> },
    Erased(PayloadCommitment),
}

impl RestoredFields {
    /// The entry these fields restore: the exact entry bytes that were signed, when the record
    /// is intact (SPEC §9.1).
    pub(crate) fn into_entry(self, suite: Suite) -> StoredEntry {
        let (entry, payload) = self.into_unhashed(suite);
        let hash = entry.hash(suite);
        StoredEntry {
            entry,
            hash,
            payload,
        }
    }

    /// The entry these fields restore and its payload, without the entry hash: for a caller
    /// that decodes and hashes the entry's bytes itself.
    pub(crate) fn into_unhashed(self, suite: Suite) -> (Entry, Payload) {
        let (payload, commitment) = match self.payload {
            RestoredPayload::Present { salt, data } => {
                let commitment = PayloadCommitment::compute(suite, &salt, &data);
                (Payload::Present { salt, data }, commitment)
            }
            RestoredPayload::Erased(commitment) => (Payload::Erased, commitment),
        };
        let header = EntryHeader {
            version: crate::descriptor::FORMAT_VERSION,
            log_id: self.log_id,
            seq: self.seq,
            prev: self.prev,
            time: self.time,
            session: self.session,
            signer: self.signer,
            kind: self.kind,
            payload: commitment,
            links: self.links,
            control: self.control,
        };
        let header_bytes = header.encode();
        (
            Entry::assemble(header, &header_bytes, self.signature),
            payload,
        )
    }
}

/// An iterator over stored entries, reading the store in pages.
#[derive(Debug)]
pub struct Entries<'a> {
    log: &'a Log,
    next: u64,
    end: u64,
    // Pages grow from small (a session run may be one entry long) to large (a long range).
    page: usize,
    buffer: std::vec::IntoIter<(Vec<u8>, Vec<u8>)>,
}

impl Iterator for Entries<'_> {
    type Item = Result<StoredEntry, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.end {
            return None;
        }
        let pair = match self.buffer.next() {
            Some(p) => p,
            None => {
                let page = match self.log.inner.store.scan(
                    &seq_key(ENTRY, self.next),
                    &seq_key(ENTRY, self.end),
                    self.page,
                ) {
                    Ok(p) => p,
                    Err(e) => {
                        self.next = self.end;
                        return Some(Err(e.into()));
                    }
                };
                self.page = (self.page * 2).min(1024);
                self.buffer = page.into_iter();
                self.buffer.next()?
            }
        };
        let seq = self.next;
        self.next += 1;
        if seq_of(&pair.0) != Some(seq) {
            self.next = self.end;
            return Some(Err(ReadError::Corrupt {
                seq,
                source: DecodeError::UnexpectedType {
                    offset: 0,
                    expected: "the entry at this position (it is missing)",
                },
            }));
        }
        Some(self.log.records().decode(seq, &pair.1))
    }
}

impl Inner {
    /// Where this log's records are read (SPEC §9.1).
    pub(super) fn records(&self) -> Records<'_> {
        Records {
            store: self.store.as_ref(),
            suite: self.descriptor.suite(),
            log_id: self.descriptor.log_id(),
            cache: &self.refs,
        }
    }
}

impl Log {
    /// Where this log's records are read (SPEC §9.1).
    pub(crate) fn records(&self) -> Records<'_> {
        self.inner.records()
    }

    /// The entry at `seq`, if written.
    pub fn read(&self, seq: u64) -> Result<Option<StoredEntry>, ReadError> {
        if seq >= self.len() {
            return Ok(None);
        }
        self.records().read(seq)
    }

    /// The entries in a range of sequence numbers, in order (clipped to what is written).
    pub fn range(&self, range: Range<u64>) -> Entries<'_> {
        let end = range.end.min(self.len());
        Entries {
            log: self,
            next: range.start,
            end,
            page: 8,
            buffer: Vec::new().into_iter(),
        }
    }

    /// Every entry of a session, in order. Found through the store's derived index: when the
    /// store finds that index damaged, this call rebuilds it from the entries first (SPEC §9.7),
    /// beside appends that go on, reporting progress as an open's rebuild does.
    pub fn session(&self, session: &SessionId) -> Result<Vec<StoredEntry>, ReadError> {
        self.with_index(|| self.session_once(session), super::open::index_damaged)
    }

    fn session_once(&self, session: &SessionId) -> Result<Vec<StoredEntry>, ReadError> {
        self.index_sessions()?;
        let len = self.len();
        let (start, end) = run_range(session.as_str());
        let mut out = Vec::new();
        let mut next_unread = 0;
        for (k, _) in self.inner.store.scan(&start, &end, usize::MAX)? {
            let Some(run) = seq_of(&k) else { continue };
            // Markers may be stale (a crash between marker and entry) or repeat a run already
            // read; the entries themselves say which session they belong to.
            if run < next_unread || run >= len {
                continue;
            }
            for e in self.range(run..len) {
                let e = e?;
                if e.header().session != *session {
                    break;
                }
                next_unread = e.seq() + 1;
                out.push(e);
            }
            next_unread = next_unread.max(run + 1);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(seq: u64, prev: EntryHash, key: &SecretKey, links: Vec<Link>) -> EntryHeader {
        EntryHeader {
            version: crate::descriptor::FORMAT_VERSION,
            log_id: LogId([9; 32]),
            seq,
            prev,
            time: Timestamp(1_700_000_000_000_000_000 + seq),
            session: SessionId::new("s-1").unwrap(),
            signer: key.key_id(),
            kind: Kind::new("note").unwrap(),
            payload: PayloadCommitment::compute(Suite::Blake3, &Salt([seq as u8; 32]), b"\x01"),
            links,
            control: None,
        }
    }

    // Stores `entry` as the writer would, holding its fields itself or referring to `held`.
    fn record(entry: &Entry, held: Option<u64>, present: bool, nodes: &[u8]) -> Vec<u8> {
        let h = entry.header();
        let at = |inline| held.map_or(inline, Held::At);
        StoredRecord {
            time: h.time.0,
            signer: held.map_or(Held::Inline(h.signer.0), Held::At),
            session: at(Held::Inline(h.session.as_str())),
            kind: at(Held::Inline(h.kind.as_str())),
            prev: h.prev.0,
            control: h.control.map(|l| l.seq),
            links: h.links.iter().map(|l| l.seq).collect(),
            signature: *entry.signature(),
            nodes,
            payload: if present {
                HeldPayload::Present {
                    salt: [h.seq as u8; 32],
                    data: b"\x01",
                }
            } else {
                HeldPayload::Erased {
                    commitment: h.payload.0,
                }
            },
        }
        .encode()
    }

    /// A record holds only what cannot be recomputed (SPEC §9.1), and reading it restores the
    /// exact entry bytes that were signed, its payload present or erased.
    #[test]
    fn a_stored_record_restores_the_signed_entry_bytes() {
        let key = SecretKey::from_seed("example.com/records", &[3; 32]).unwrap();
        let store = MemoryStore::new();
        let cache = RefCache::default();
        let records = Records {
            store: &store,
            suite: Suite::Blake3,
            log_id: LogId([9; 32]),
            cache: &cache,
        };
        let sign = |h: EntryHeader| {
            let b = h.encode();
            Entry::sign(h, &b, &key)
        };
        let e0 = sign(header(0, EntryHash([9; 32]), &key, Vec::new()));
        let h0 = e0.hash(Suite::Blake3);
        let mut h1 = header(1, h0, &key, vec![Link { seq: 0, hash: h0 }]);
        h1.control = Some(Link { seq: 0, hash: h0 });
        let e1 = sign(h1);
        let h1 = e1.hash(Suite::Blake3);
        let e2 = sign(header(2, h1, &key, vec![Link { seq: 0, hash: h0 }]));
        let node = [7u8; 32];
        let stored = [
            record(&e0, None, true, &[]),
            record(&e1, Some(0), true, &[]),
            record(&e2, Some(0), false, &[]),
        ];
        // Elided: log id, seq, version, commitment, link hashes; held once: key, session, kind.
        assert!(stored[1].len() < e1.as_bytes().len() + 32 + 1 + 32 - 140);
        for (seq, (bytes, entry)) in stored.iter().zip([&e0, &e1, &e2]).enumerate() {
            store.put(&seq_key(ENTRY, seq as u64), bytes).unwrap();
            let read = records.decode(seq as u64, bytes).unwrap();
            assert_eq!(read.entry.as_bytes(), entry.as_bytes(), "entry {seq}");
            assert_eq!(read.hash, entry.hash(Suite::Blake3));
        }
        let read = records.read(1).unwrap().unwrap();
        assert_eq!(
            read.payload,
            Payload::Present {
                salt: Salt([1; 32]),
                data: vec![1]
            }
        );
        assert_eq!(records.read(2).unwrap().unwrap().payload, Payload::Erased);
        // Entry 255's leaf completes the nodes of levels 1 to 8; its record holds level 8's.
        let at_255 = record(&e1, Some(0), true, &node);
        let parsed = StoredRecord::parse(255, &at_255).unwrap();
        assert_eq!(parsed.node(8), Some(node));
        assert_eq!(parsed.node(7), None);
        assert_eq!(StoredRecord::parse(1, &stored[1]).unwrap().node(1), None);

        // A record referring to one that holds no value of its own is corrupt, not guessed.
        let fresh = RefCache::default();
        let records = Records {
            cache: &fresh,
            ..records
        };
        let bad = record(&e2, Some(1), true, &[]);
        assert!(matches!(
            records.decode(2, &bad),
            Err(ReadError::Corrupt { seq: 2, .. })
        ));
        // A changed `prev` restores another entry: not the one signed.
        let mut bad = stored[1].clone();
        let prev_at = 1 + 8 + 3; // flags, time, three one-byte references
        bad[prev_at] ^= 1;
        let read = records.decode(1, &bad).unwrap();
        assert_ne!(read.hash, h1);
        let public = key.public_key();
        assert!(public.verify(&e1.signing_input(), e1.signature()));
        assert!(!public.verify(&read.entry.signing_input(), read.entry.signature()));
    }
}
