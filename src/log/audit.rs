//! Verifying a stored log from its first entry to its last (SPEC §8), checkpoints included (SPEC §11.6).

use super::*;
use crate::report::Proven;
use crate::verify::{PreparedEntry, SignerKeys};

/// What `verify()` established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifySummary {
    /// Entries checked.
    pub entries: u64,
    /// Hash of the last entry (the log id for an empty log).
    pub tip: EntryHash,
    /// The Merkle root over every entry checked, recomputed from the entries.
    pub root: RootHash,
    /// Entries whose payload is erased.
    pub erased: u64,
}

/// Verifies the log held in a store without opening it for appends, so a damaged log can still
/// be examined: the first broken entry is named. Every entry below the durable watermark must be
/// present; entries past a gap beyond it were never acknowledged and are not examined.
pub fn verify_store(store: &dyn Store) -> Result<VerifySummary, LogVerifyError> {
    let descriptor = stored_descriptor(store)?;
    let len = stored_len(store)?;
    verify_records(store, &descriptor, len)
}

/// Verifies the log held in a store like [`verify_store`], without opening it for appends, and
/// says what was proven in the report shape of [`Log::verify_report`]: a broken entry is a
/// finding, not an error. Only a store without a log, a descriptor that does not verify, or a
/// failing store is an error.
pub fn verify_store_report(store: &dyn Store) -> Result<Report, LogVerifyError> {
    let descriptor = stored_descriptor(store)?;
    let len = stored_len(store)?;
    Ok(report_records(store, &descriptor, len)?)
}

/// Verifies the log on disk in directory `path` like [`verify_store_report`], opened for reading
/// only: nothing is recovered or written, so a damaged log is examined as it lies, on read-only
/// media too, and a writer appending in another process is neither waited for nor disturbed
/// (what it had written completely when this began is verified).
#[cfg(feature = "sled")]
pub fn verify_dir_report(path: &Path) -> Result<Report, LogVerifyError> {
    let store = crate::store::DirStore::open_read_only(path)?;
    verify_store_report(&store)
}

pub(super) fn stored_descriptor(store: &dyn Store) -> Result<SignedDescriptor, LogVerifyError> {
    let bytes = store.get(DESCRIPTOR_KEY)?.ok_or(LogVerifyError::NotALog)?;
    Ok(SignedDescriptor::from_bytes(&bytes).map_err(|e| VerifyError::Descriptor(e.to_string()))?)
}

// The number of entries to verify: the contiguous prefix, but never less than the durable
// watermark.
pub(super) fn stored_len(store: &dyn Store) -> Result<u64, LogVerifyError> {
    let watermark =
        read_watermark(store).map_err(|_| VerifyError::Descriptor("bad watermark".into()))?;
    // The length is the contiguous prefix, but never less than the watermark: a hole below it
    // is a missing entry, reported by verify_records.
    let mut len = watermark;
    'scan: loop {
        let batch = store.scan(&seq_key(ENTRY, len), &prefix_end(ENTRY), 4096)?;
        if batch.is_empty() {
            break;
        }
        for (k, _) in &batch {
            if seq_of(k) != Some(len) {
                break 'scan;
            }
            len += 1;
        }
    }
    Ok(len.max(watermark))
}

// Verifies entries 0..len and fills a report (SPEC §12.6): a broken entry is a finding.
pub(super) fn report_records(
    store: &dyn Store,
    d: &SignedDescriptor,
    len: u64,
) -> Result<Report, StoreError> {
    let mut b = ReportBuilder::new(&d.descriptor().origin, d.suite(), d.log_id());
    let result = verify_records_observed(store, d, len, &mut |e, payload, registry| {
        b.entry(&e.entry, payload, None, registry)
    });
    match result {
        Ok(summary) => {
            if summary.entries > 0 {
                b.proven(Proven::LogEntriesSigned {
                    first: 0,
                    last: summary.entries - 1,
                });
                b.proven(Proven::LogChain {
                    last: summary.entries - 1,
                    tip: summary.tip,
                });
            }
            b.proven(Proven::LogPayloads {
                erased: summary.erased,
            });
        }
        Err(LogVerifyError::Invalid(e)) => b.finding_from(&e),
        Err(LogVerifyError::Store(e)) => return Err(e),
        Err(LogVerifyError::NotALog) => {
            b.finding(None, crate::verify::Check::Descriptor, "no log here")
        }
    }
    Ok(b.finish())
}

pub(super) fn verify_records(
    store: &dyn Store,
    descriptor: &SignedDescriptor,
    len: u64,
) -> Result<VerifySummary, LogVerifyError> {
    verify_records_observed(store, descriptor, len, &mut |_, _, _| {})
}

// Observes each verified entry with its payload and the registry as of that entry.
pub(super) type Observer<'a> = dyn FnMut(&VerifiedEntry, &Payload, &KeyRegistry) + 'a;

pub(super) fn verify_records_observed(
    store: &dyn Store,
    descriptor: &SignedDescriptor,
    len: u64,
    observe: &mut Observer<'_>,
) -> Result<VerifySummary, LogVerifyError> {
    verify_records_chunked(store, descriptor, len, ChunkLimits::default(), observe)
}

/// How [`verify_records_observed`] cuts the log into chunks, and over how many threads a
/// chunk's entries are checked.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChunkLimits {
    /// The most records in one chunk.
    pub(crate) records: usize,
    /// A chunk ends once its records hold this many bytes: two chunks are alive at once, so
    /// memory grows neither with the log nor with hostile record sizes beyond one record.
    pub(crate) bytes: usize,
    /// Threads that check one chunk.
    pub(crate) threads: usize,
    /// The fewest records worth a thread of their own.
    pub(crate) part: usize,
}

impl Default for ChunkLimits {
    fn default() -> Self {
        ChunkLimits {
            records: 2048,
            bytes: 4 << 20,
            threads: std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .min(8),
            part: 64,
        }
    }
}

/// Records read from the store in one scan.
const SCAN_RECORDS: usize = 64;

pub(super) fn verify_records_chunked(
    store: &dyn Store,
    descriptor: &SignedDescriptor,
    len: u64,
    limits: ChunkLimits,
    observe: &mut Observer<'_>,
) -> Result<VerifySummary, LogVerifyError> {
    let suite = descriptor.suite();
    let refs = RefCache::default();
    let records = Records {
        store,
        suite,
        log_id: descriptor.log_id(),
        cache: &refs,
    };
    let mut v = ChainVerifier::new(descriptor)?;
    let mut frontier = Frontier::new();
    let mut erased = 0;
    // Stored checkpoints are checked when the tree reaches their size (SPEC §11.6); one larger
    // than the log shows entries were cut from the end.
    let checkpoints = store.scan(
        &seq_key(CHECKPOINTS, 0),
        &prefix_end(CHECKPOINTS),
        usize::MAX,
    )?;
    let origin = crate::checkpoint::LogOrigin::of(descriptor.descriptor())
        .map_err(|e| VerifyError::Descriptor(e.to_string()))?;
    let mut pending = checkpoints.iter().peekable();
    let log_id = descriptor.log_id();
    // The root is computed only at a checkpoint's size: folding the frontier costs a hash per
    // level, on the ordered path, and most sizes have no checkpoint.
    let mut check_checkpoints = |size: u64,
                                 frontier: &Frontier,
                                 registry: &KeyRegistry,
                                 control: Option<Link>|
     -> Result<(), VerifyError> {
        while let Some((k, bytes)) = pending.next_if(|(k, _)| seq_of(k).is_some_and(|s| s <= size))
        {
            let at = seq_of(k).unwrap_or(0);
            if at == size {
                let expected = StoredState {
                    log_id,
                    size,
                    root: frontier.root(&suite),
                    control,
                };
                check_checkpoint(&origin, registry, &expected, bytes)?;
            }
        }
        Ok(())
    };
    check_checkpoints(0, &frontier, v.registry(), None)?;
    // Records are read and their fields restored in order on this thread, in chunks; while
    // other threads rebuild, hash and signature-check the entries of one chunk, this thread
    // runs the ordered checks of the chunk before (as bundle verification does, SPEC §12.6).
    // The checks and their order are those of `ChainVerifier::push`: the first broken entry is
    // the same one, wherever the chunks end.
    std::thread::scope(|s| -> Result<(), LogVerifyError> {
        let mut reader = ChunkReader {
            records,
            next: 0,
            len,
            limits,
        };
        let mut in_flight: Option<(std::thread::ScopedJoinHandle<'_, Vec<Prepared>>, _)> = None;
        loop {
            let next = reader.next_chunk().map(|chunk| {
                let Chunk { restored, stop } = chunk;
                (
                    s.spawn(move || prepare_chunk(suite, restored, limits)),
                    stop,
                )
            });
            if let Some((handle, stop)) = in_flight.take() {
                // A worker that panicked (nothing that reads untrusted bytes should) ends the
                // pass with an error, not a verdict.
                let prepared = handle
                    .join()
                    .map_err(|_| StoreError::Backend("a verification thread panicked".into()))?;
                for p in prepared {
                    let seq = v.next_seq();
                    if matches!(p.payload, Payload::Erased) {
                        erased += 1;
                    }
                    let verified = check_in_order(
                        &records,
                        &mut v,
                        &mut frontier,
                        seq,
                        p.entry,
                        &p.payload,
                        &p.nodes,
                    )?;
                    check_checkpoints(seq + 1, &frontier, v.registry(), v.control())?;
                    observe(&verified, &p.payload, v.registry());
                }
                // What stopped the reading is the finding once the entries before it pass.
                if let Some(stop) = stop {
                    return Err(stop);
                }
            }
            match next {
                Some(n) => in_flight = Some(n),
                None => return Ok(()),
            }
        }
    })?;
    if v.next_seq() < len {
        return Err(VerifyError::Missing { seq: v.next_seq() }.into());
    }
    if let Some((k, _)) = pending.next() {
        let size = seq_of(k).unwrap_or(0);
        return Err(VerifyError::Checkpoint {
            size,
            problem: CheckpointProblem::BeyondLog { size, len },
        }
        .into());
    }
    v.finish()?;
    Ok(VerifySummary {
        entries: len,
        tip: v.tip(),
        root: frontier.root(&suite),
        erased,
    })
}

// The ordered checks of entry `seq` (SPEC §8.2), then its stored Merkle nodes (SPEC §9.1).
fn check_in_order(
    records: &Records<'_>,
    v: &mut ChainVerifier,
    frontier: &mut Frontier,
    seq: u64,
    entry: Result<PreparedEntry, DecodeError>,
    payload: &Payload,
    nodes: &[u8],
) -> Result<VerifiedEntry, LogVerifyError> {
    let suite = records.suite;
    let entry = entry.map_err(|source| VerifyError::Decode { seq, source })?;
    // A link's target is read from the store; a read that fails is the store's failure, never
    // a link left unchecked.
    let mut unreadable = None;
    let verified = v.push_prepared(
        entry,
        payload,
        &mut |target: u64| match records.read(target) {
            Ok(found) => found.map(|e| LinkedEntry {
                hash: e.hash,
                signer: e.header().signer,
            }),
            Err(e) => {
                unreadable.get_or_insert(e);
                None
            }
        },
    );
    match unreadable {
        Some(ReadError::Store(e)) => return Err(e.into()),
        Some(ReadError::Corrupt { seq, source }) => {
            return Err(VerifyError::Decode { seq, source }.into());
        }
        None => {}
    }
    let verified = verified?;
    // The stored Merkle nodes must be the ones this leaf completes (SPEC §9.1).
    let mut expected = Vec::with_capacity(nodes.len());
    frontier
        .append_with(&suite, merkle::leaf_hash(suite, &verified.hash), |n| {
            push_record_node(&mut expected, &n)
        })
        .map_err(|_| VerifyError::StoredNodes { seq })?;
    if expected != nodes {
        return Err(VerifyError::StoredNodes { seq }.into());
    }
    Ok(verified)
}

// Reads the records of entries `next..len` in chunks, in order, restoring their fields.
struct ChunkReader<'a> {
    records: Records<'a>,
    next: u64,
    len: u64,
    limits: ChunkLimits,
}

// A chunk's records with their fields restored, then what stopped the reading (a hole, a record
// that does not parse or restore, a failing store), if anything did: no chunk follows it.
struct Chunk {
    restored: Vec<(RestoredFields, Vec<u8>)>,
    stop: Option<LogVerifyError>,
}

impl ChunkReader<'_> {
    // The next chunk, or `None` once every record below `len` was read or reading stopped.
    fn next_chunk(&mut self) -> Option<Chunk> {
        if self.next >= self.len {
            return None;
        }
        let mut restored = Vec::new();
        let mut bytes = 0;
        let stop = loop {
            if self.next >= self.len
                || restored.len() >= self.limits.records
                || bytes >= self.limits.bytes
            {
                break None;
            }
            let want = SCAN_RECORDS.min(self.limits.records - restored.len());
            let end = seq_key(ENTRY, self.len);
            let batch = match self
                .records
                .store
                .scan(&seq_key(ENTRY, self.next), &end, want)
            {
                Ok(b) => b,
                Err(e) => break Some(e.into()),
            };
            if batch.is_empty() {
                break Some(VerifyError::Missing { seq: self.next }.into());
            }
            // A chunk ends at the record that reaches its byte limit; the rest of the scan is
            // read again for the next chunk.
            let mut stop = None;
            for (k, value) in &batch {
                if bytes >= self.limits.bytes {
                    break;
                }
                if let Err(e) = self.restore(k, value, &mut restored, &mut bytes) {
                    stop = Some(e);
                    break;
                }
            }
            if stop.is_some() {
                break stop;
            }
        };
        if stop.is_some() {
            self.next = self.len;
        }
        Some(Chunk { restored, stop })
    }

    // Restores the record of the next entry, stored under `key`.
    fn restore(
        &mut self,
        key: &[u8],
        value: &[u8],
        restored: &mut Vec<(RestoredFields, Vec<u8>)>,
        bytes: &mut usize,
    ) -> Result<(), LogVerifyError> {
        let seq = self.next;
        if seq_of(key) != Some(seq) {
            return Err(VerifyError::Missing { seq }.into());
        }
        // The record's elided fields are restored (SPEC §9.1): a field restored wrong fails the
        // signature or chain check, like any altered byte.
        let record = StoredRecord::parse(seq, value)
            .map_err(|source| VerifyError::Decode { seq, source })?;
        let fields = match self.records.restore_fields(seq, &record) {
            Ok(f) => f,
            Err(ReadError::Store(e)) => return Err(e.into()),
            Err(ReadError::Corrupt { seq, source }) => {
                return Err(VerifyError::Decode { seq, source }.into());
            }
        };
        *bytes += value.len();
        restored.push((fields, record.nodes.to_vec()));
        self.next += 1;
        Ok(())
    }
}

// An entry rebuilt from its record, hashed, and its signature and payload checked, off the
// ordered path; or why its bytes do not decode.
struct Prepared {
    entry: Result<PreparedEntry, DecodeError>,
    payload: Payload,
    nodes: Vec<u8>,
}

// Rebuilds, hashes and checks a chunk's entries, spread over `limits.threads`.
fn prepare_chunk(
    suite: Suite,
    chunk: Vec<(RestoredFields, Vec<u8>)>,
    limits: ChunkLimits,
) -> Vec<Prepared> {
    let per = chunk
        .len()
        .div_ceil(limits.threads.max(1))
        .max(limits.part.max(1));
    if chunk.len() <= per {
        return prepare_part(suite, chunk);
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = crate::verify::split_parts(chunk, per)
            .into_iter()
            .map(|part| s.spawn(move || prepare_part(suite, part)))
            .collect();
        let mut out = Vec::new();
        for h in handles {
            match h.join() {
                Ok(part) => out.extend(part),
                // The panic reaches the caller's join, which ends the pass with an error.
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        out
    })
}

fn prepare_part(suite: Suite, part: Vec<(RestoredFields, Vec<u8>)>) -> Vec<Prepared> {
    let mut keys = SignerKeys::new();
    part.into_iter()
        .map(|(fields, nodes)| {
            let (restored, payload) = fields.into_unhashed(suite);
            // Decoded from the restored bytes, as `ChainVerifier::push` decodes them, and hashed
            // once there.
            let entry = PreparedEntry::checked(suite, restored.as_bytes(), &payload, &mut keys);
            Prepared {
                entry,
                payload,
                nodes,
            }
        })
        .collect()
}

// What a stored checkpoint of the log at `size` must say (SPEC §9.4).
pub(super) struct StoredState {
    log_id: LogId,
    size: u64,
    root: RootHash,
    control: Option<Link>,
}

// A stored checkpoint of `size` must parse as a checkpoint of this log, be signed by an owner key
// the log had at that point (under the origin line's name, SPEC §11.3), carry the root computed
// from the entries, and name this log and its control head at that size (SPEC §11.2).
pub(super) fn check_checkpoint(
    origin: &crate::checkpoint::LogOrigin,
    registry: &KeyRegistry,
    expected: &StoredState,
    bytes: &[u8],
) -> Result<(), VerifyError> {
    let size = expected.size;
    let problem = |problem| VerifyError::Checkpoint { size, problem };
    let name = origin.checkpoint_origin();
    let owners: Vec<crate::keys::PublicKey> = registry
        .iter()
        .filter(|r| r.role == crate::registry::Role::Owner)
        .filter_map(|r| crate::keys::PublicKey::from_bytes(&name, r.key.as_bytes()).ok())
        .collect();
    let trust = crate::checkpoint::CheckpointTrust::new(
        origin.clone(),
        owners,
        crate::checkpoint::Witnesses::NotRequired,
    )
    .map_err(|e| problem(CheckpointProblem::Signature(e.to_string())))?
    .with_log_id(expected.log_id);
    let verified = trust.verify_bytes(bytes).map_err(|e| match e {
        crate::checkpoint::CheckpointVerifyError::Owner(e) => {
            problem(CheckpointProblem::Signature(e.to_string()))
        }
        other => problem(CheckpointProblem::Unreadable(other.to_string())),
    })?;
    if verified.size() != size {
        return Err(problem(CheckpointProblem::Unreadable(format!(
            "stored under size {size} but says {}",
            verified.size()
        ))));
    }
    if verified.root() != expected.root {
        return Err(problem(CheckpointProblem::RootMismatch {
            expected: expected.root,
            found: verified.root(),
        }));
    }
    if verified.control() != expected.control {
        return Err(problem(CheckpointProblem::Unreadable(format!(
            "it names control entry {}, but the log's latest control entry below it is {}",
            crate::verify::describe_control(&verified.control()),
            crate::verify::describe_control(&expected.control)
        ))));
    }
    Ok(())
}

impl Log {
    /// Verifies the whole local log (SPEC §8): every entry decodes, sits at its position, chains
    /// to the one before, is signed by a key allowed to sign it, and matches its payload.
    /// Returns the first broken entry.
    pub fn verify(&self) -> Result<VerifySummary, LogVerifyError> {
        verify_records(
            self.inner.store.as_ref(),
            &self.inner.descriptor,
            self.len(),
        )
    }

    /// Verifies the whole local log like [`Log::verify`] and says what was proven, in the same
    /// report shape as bundle verification (SPEC §12.6). A broken entry is a finding, not an
    /// error; only a failing store is an error.
    pub fn verify_report(&self) -> Result<Report, StoreError> {
        report_records(self.inner.store.as_ref(), self.descriptor(), self.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;
    use crate::verify::Check;

    fn owner() -> SecretKey {
        SecretKey::from_seed("example.com/log-test", &[1; 32]).unwrap()
    }

    // A store that fails every read of one key.
    #[derive(Debug)]
    struct FailingGet {
        inner: Arc<MemoryStore>,
        key: Vec<u8>,
    }

    impl Store for FailingGet {
        fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
            if key == self.key {
                return Err(StoreError::Io(std::io::Error::other("the disk is gone")));
            }
            self.inner.get(key)
        }
        fn put(&self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
            self.inner.put(key, value)
        }
        fn delete(&self, key: &[u8]) -> Result<(), StoreError> {
            self.inner.delete(key)
        }
        fn scan(
            &self,
            start: &[u8],
            end: &[u8],
            limit: usize,
        ) -> Result<Vec<crate::store::Pair>, StoreError> {
            self.inner.scan(start, end, limit)
        }
        fn last(&self, start: &[u8], end: &[u8]) -> Result<Option<crate::store::Pair>, StoreError> {
            self.inner.last(start, end)
        }
        fn flush(&self) -> Result<(), StoreError> {
            self.inner.flush()
        }
    }

    // Verification reads a link's target from the store: a read that fails is a store error,
    // not a link that goes unchecked.
    #[test]
    fn a_link_target_that_cannot_be_read_is_a_store_error() {
        let store = Arc::new(MemoryStore::new());
        let log = Log::builder()
            .create_in(store.clone(), &owner(), "example.com/log-test")
            .unwrap();
        let recorder = SecretKey::from_seed("r", &[2; 32]).unwrap();
        log.register_key(&owner(), recorder.key_id(), Role::Recorder, "harness")
            .unwrap();
        let note = |i: u8| {
            let body = crate::event::Custom::new("example.com/note", &i).unwrap();
            crate::event::Event::Custom(body).to_record().unwrap()
        };
        let first = log.append(&recorder, note(1)).unwrap();
        log.append(&recorder, note(2).link(first.link())).unwrap();
        drop(log);
        verify_store(store.as_ref()).unwrap();
        let failing = FailingGet {
            inner: store,
            key: seq_key(ENTRY, first.seq).to_vec(),
        };
        assert!(
            matches!(verify_store(&failing), Err(LogVerifyError::Store(_))),
            "{:?}",
            verify_store(&failing)
        );
    }

    #[test]
    fn a_stored_log_is_reported_without_opening_it() {
        let store = noted_log(4);
        let recorder = SecretKey::from_seed("r", &[2; 32]).unwrap();
        let report = verify_store_report(store.as_ref()).unwrap();
        assert!(report.is_valid(), "{}", report.render());
        assert_eq!(report.entries, 5);

        let key = seq_key(ENTRY, 3);
        let mut bad = store.get(&key).unwrap().unwrap();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        store.put(&key, &bad).unwrap();
        let report = verify_store_report(store.as_ref()).unwrap();
        assert!(!report.is_valid());
        assert_eq!(report.findings[0].seq, Some(3), "{}", report.render());

        // Entries written but not yet flushed (no durable watermark covers them) are verified
        // too: the stored length is the contiguous prefix.
        let buffered_store = Arc::new(MemoryStore::new());
        let buffered = Log::builder()
            .durability(Durability::Buffered)
            .create_in(buffered_store.clone(), &owner(), "example.com/log-test")
            .unwrap();
        buffered
            .register_key(&owner(), recorder.key_id(), Role::Recorder, "harness")
            .unwrap();
        let report = verify_store_report(buffered_store.as_ref()).unwrap();
        assert_eq!(report.entries, 1, "{}", report.render());
        drop(buffered);

        let empty = MemoryStore::new();
        assert!(matches!(
            verify_store_report(&empty),
            Err(LogVerifyError::NotALog)
        ));
    }

    // A log of a registration and `notes` notes in two sessions (so records hold their session
    // and signer by reference, SPEC §9.1).
    fn noted_log(notes: u8) -> Arc<MemoryStore> {
        let store = Arc::new(MemoryStore::new());
        let log = Log::builder()
            .create_in(store.clone(), &owner(), "example.com/log-test")
            .unwrap();
        let recorder = SecretKey::from_seed("r", &[2; 32]).unwrap();
        log.register_key(&owner(), recorder.key_id(), Role::Recorder, "harness")
            .unwrap();
        for i in 0..notes {
            let session = SessionId::new(&format!("s-{}", i % 2)).unwrap();
            let body = crate::event::Custom::new("example.com/note", &i).unwrap();
            let record = crate::event::Event::Custom(body).to_record().unwrap();
            log.append(&recorder, record.session(&session)).unwrap();
        }
        store
    }

    fn break_signature(store: &MemoryStore, seq: u64) {
        let key = seq_key(ENTRY, seq);
        let bytes = store.get(&key).unwrap().unwrap();
        let mut record = StoredRecord::parse(seq, &bytes).unwrap();
        record.signature[0] ^= 1;
        store.put(&key, &record.encode()).unwrap();
    }

    // Verifies the first `len` entries in chunks of `records`, each checked by two threads.
    fn verify_in_chunks(
        store: &dyn Store,
        len: u64,
        records: usize,
    ) -> Result<VerifySummary, LogVerifyError> {
        let limits = ChunkLimits {
            records,
            bytes: 4 << 20,
            threads: 2,
            part: 1,
        };
        let descriptor = stored_descriptor(store)?;
        verify_records_chunked(store, &descriptor, len, limits, &mut |_, _, _| {})
    }

    fn named(result: &Result<VerifySummary, LogVerifyError>) -> Option<(u64, Check)> {
        match result {
            Err(LogVerifyError::Invalid(e)) => Some((e.seq()?, e.check())),
            _ => None,
        }
    }

    // The pipeline names the first broken entry whichever chunk holds it: in the middle of the
    // second, first or last of a chunk, the last of the log, with another broken entry or a
    // hole after it.
    #[test]
    fn the_first_broken_entry_is_named_wherever_chunks_end() {
        let len = 16; // the registration and 15 notes: chunks of 4 are 0–3, 4–7, 8–11, 12–15
        let intact = noted_log(15);
        for records in [1, 3, 4, 2048] {
            let summary = verify_in_chunks(intact.as_ref(), len, records).unwrap();
            assert_eq!(summary.entries, len);
            assert_eq!(summary.tip, verify_store(intact.as_ref()).unwrap().tip);
        }
        for broken in [&[5][..], &[4], &[8], &[3], &[15], &[5, 9], &[8, 12]] {
            let store = noted_log(15);
            for &seq in broken {
                break_signature(&store, seq);
            }
            let first = Some((broken[0], Check::Signature));
            for records in [1, 3, 4, 2048] {
                let result = verify_in_chunks(store.as_ref(), len, records);
                assert_eq!(named(&result), first, "chunks of {records}: {result:?}");
            }
            let report = verify_store_report(store.as_ref()).unwrap();
            assert_eq!(
                report.findings[0].seq,
                Some(broken[0]),
                "{}",
                report.render()
            );
        }
        // A hole stops the reading; an entry broken before it is still the finding.
        let store = noted_log(15);
        store.delete(&seq_key(ENTRY, 10)).unwrap();
        for records in [3, 4] {
            let result = verify_in_chunks(store.as_ref(), len, records);
            assert_eq!(named(&result), Some((10, Check::Sequence)), "{result:?}");
            assert!(
                matches!(
                    result,
                    Err(LogVerifyError::Invalid(VerifyError::Missing { seq: 10 }))
                ),
                "{result:?}"
            );
        }
        break_signature(&store, 8);
        for records in [3, 4] {
            let result = verify_in_chunks(store.as_ref(), len, records);
            assert_eq!(named(&result), Some((8, Check::Signature)), "{result:?}");
        }
    }
}
