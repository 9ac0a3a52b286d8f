//! Creating and opening a log: options, the clock, crash recovery (SPEC §9.3).

use super::*;

/// Where a log gets the time it records: the system clock, or a function (for tests and
/// reproducible examples). The log never lets time go backwards: an entry's time is the later of
/// the clock and the previous entry's time.
#[derive(Clone, Default)]
pub enum Clock {
    /// The system clock.
    #[default]
    System,
    /// A function returning the time to record.
    Fixed(Arc<dyn Fn() -> Timestamp + Send + Sync>),
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Clock::System => f.write_str("Clock::System"),
            Clock::Fixed(_) => f.write_str("Clock::Fixed(..)"),
        }
    }
}

impl Clock {
    /// A clock that returns `start`, then advances by `step` on every reading.
    pub fn stepping(start: Timestamp, step: std::time::Duration) -> Clock {
        let next = std::sync::atomic::AtomicU64::new(start.0);
        let step = u64::try_from(step.as_nanos()).unwrap_or(u64::MAX);
        Clock::Fixed(Arc::new(move || {
            Timestamp(next.fetch_add(step, std::sync::atomic::Ordering::Relaxed))
        }))
    }

    /// The time now, by this clock.
    pub fn now(&self) -> Timestamp {
        match self {
            Clock::System => Timestamp::now(),
            Clock::Fixed(f) => f(),
        }
    }
}

/// How far an open has come rebuilding the derived index (SPEC §9.3): reported to the
/// function given to [`LogBuilder::on_index_progress`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct IndexProgress {
    /// Entries indexed so far by this rebuild.
    pub done: u64,
    /// Entries this rebuild indexes in all.
    pub total: u64,
}

/// A function told how an index rebuild progresses.
#[derive(Clone)]
pub(super) struct ProgressFn(Arc<dyn Fn(IndexProgress) + Send + Sync>);

impl std::fmt::Debug for ProgressFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressFn(..)")
    }
}

/// How long an index rebuild runs before its progress is reported: one second.
pub const DEFAULT_PROGRESS_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

/// Options for creating or opening a log.
#[derive(Debug, Clone)]
pub struct LogBuilder {
    suite: Suite,
    durability: Durability,
    max_payload: usize,
    clock: Clock,
    lock_wait: std::time::Duration,
    max_skew: std::time::Duration,
    progress: Option<ProgressFn>,
    progress_after: std::time::Duration,
    tiles: super::TilesMode,
    node_cache: usize,
    tile_cache: crate::tiles::TileReaderOptions,
}

/// How far the log's last entry may be dated ahead of the writer's clock before appends are
/// refused: five minutes.
pub const DEFAULT_MAX_CLOCK_SKEW: std::time::Duration = std::time::Duration::from_secs(300);

impl Default for LogBuilder {
    fn default() -> Self {
        LogBuilder {
            suite: Suite::default(),
            durability: Durability::default(),
            max_payload: DEFAULT_MAX_PAYLOAD,
            clock: Clock::System,
            lock_wait: std::time::Duration::ZERO,
            max_skew: DEFAULT_MAX_CLOCK_SKEW,
            progress: None,
            progress_after: DEFAULT_PROGRESS_AFTER,
            tiles: super::TilesMode::default(),
            node_cache: super::DEFAULT_NODE_CACHE,
            tile_cache: crate::tiles::TileReaderOptions::default(),
        }
    }
}

impl LogBuilder {
    /// The hash suite of a new log (ignored when opening: the descriptor says).
    pub fn suite(mut self, suite: Suite) -> Self {
        self.suite = suite;
        self
    }

    /// When appends return.
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// Where the log gets its time (the system clock by default).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// How far the log's last entry may be dated ahead of this writer's clock before appends are
    /// refused with [`AppendError::ClockSkew`] (default [`DEFAULT_MAX_CLOCK_SKEW`]). Entries are
    /// never dated before the one before them, so without this bound one entry written with a
    /// clock set years ahead would date every later entry in that future. Bundle verification
    /// allows five minutes past the export's and the witnesses' times (SPEC §12.6): a larger
    /// skew can make honest bundles fail that check.
    pub fn max_clock_skew(mut self, skew: std::time::Duration) -> Self {
        self.max_skew = skew;
        self
    }

    /// The largest payload this handle accepts (at most 16 MiB, the format's limit).
    pub fn max_payload_size(mut self, bytes: usize) -> Self {
        self.max_payload = bytes.min(MAX_PAYLOAD_LEN);
        self
    }

    /// How long [`create`](Self::create) and [`open`](Self::open) wait for another writer to
    /// close the log (one process writes a log at a time) before failing with
    /// [`StoreError::Locked`] (another process has it) or [`StoreError::OpenInThisProcess`]
    /// (this process has it: share the open [`Log`], it is `Clone`). The default is not to
    /// wait, except for a lock this process let go of in the last 10 s, which a child process
    /// it was starting may hold until it execs ([`crate::store::DirStore::open`]).
    pub fn lock_wait(mut self, wait: std::time::Duration) -> Self {
        self.lock_wait = wait;
        self
    }

    /// Calls `f` as the derived index is rebuilt from the entries (by an open after a crash or
    /// when `index/` was removed; for a read-only open, whose index lives in memory, by the
    /// first session query), once
    /// the rebuild has run longer than [`progress_after`](Self::progress_after): with the
    /// entries done so far, never fewer than the call before, and last with `done == total`.
    /// A command line draws a progress bar with it; a rebuild is linear in the log's length.
    pub fn on_index_progress(mut self, f: impl Fn(IndexProgress) + Send + Sync + 'static) -> Self {
        self.progress = Some(ProgressFn(Arc::new(f)));
        self
    }

    /// How long an index rebuild runs before [`on_index_progress`](Self::on_index_progress)'s
    /// function is first called (default [`DEFAULT_PROGRESS_AFTER`]; zero reports every
    /// rebuild from its start).
    pub fn progress_after(mut self, after: std::time::Duration) -> Self {
        self.progress_after = after;
        self
    }

    /// Whether a log opened from a directory keeps its tree's tiles in `<log>/tiles/` and
    /// makes proofs from them (SPEC §9.8; the default: [`super::TilesMode::Kept`]).
    pub fn tiles(mut self, mode: super::TilesMode) -> Self {
        self.tiles = mode;
        self
    }

    /// The most upper Merkle nodes (level 6 and up, one per 64 entries and fewer above) the
    /// handle keeps in memory once read or written, for proofs and checkpoints (default
    /// [`super::DEFAULT_NODE_CACHE`], about 6 MiB when full). Beside them it keeps the leaf
    /// hashes of the last 256 runs of 256 entries it read, from which the nodes of levels 1 to
    /// 7 are hashed (SPEC §9.1; at most 2 MiB), and the nodes of levels 3 to 5 that proofs
    /// hashed (at most 229,376, those of 4,096 runs, about 12 MiB). 0 keeps none of them. Nodes
    /// past the limits are read or hashed each time they are needed: a larger cache makes
    /// proofs of a very large log faster, never more correct.
    pub fn node_cache(mut self, nodes: usize) -> Self {
        self.node_cache = nodes;
        self
    }

    /// How much the reader of the log directory's tiles keeps in memory (default
    /// [`crate::tiles::TileReaderOptions::default`]: 64 tiles and 2^18 nodes, about 25 MiB
    /// once a proof-heavy process has filled it). Smaller caches make proofs from tiles
    /// slower, never different.
    pub fn tile_cache(mut self, cache: crate::tiles::TileReaderOptions) -> Self {
        self.tile_cache = cache;
        self
    }

    /// Creates a log on disk in directory `path` ([`crate::store::DirStore`]).
    #[cfg(feature = "sled")]
    pub fn create(self, path: &Path, owner: &SecretKey, origin: &str) -> Result<Log, OpenError> {
        let store = open_dir(path, self.lock_wait)?;
        let (tiles, cache) = (self.tiles, self.tile_cache);
        let log = self.create_in(Arc::new(store), owner, origin)?;
        log.attach_tiles(path, tiles, super::tiles::TilesAccess::Write, cache)?;
        Ok(log)
    }

    /// Opens the log on disk in directory `path` for reading and appending.
    #[cfg(feature = "sled")]
    pub fn open(self, path: &Path) -> Result<Log, OpenError> {
        if !crate::store::DirStore::is_log_dir(path) {
            return Err(OpenError::NotALog);
        }
        let store = open_dir(path, self.lock_wait)?;
        let (tiles, cache) = (self.tiles, self.tile_cache);
        let log = self.open_in(Arc::new(store))?;
        log.attach_tiles(path, tiles, super::tiles::TilesAccess::Write, cache)?;
        Ok(log)
    }

    /// Opens the log on disk in directory `path` for reading only: it never waits for a
    /// writer in another process and writes nothing (it works on read-only media). It sees
    /// the entries complete when it is opened; appends fail with [`StoreError::ReadOnly`].
    #[cfg(feature = "sled")]
    pub fn open_read_only(self, path: &Path) -> Result<Log, OpenError> {
        if !crate::store::DirStore::is_log_dir(path) {
            return Err(OpenError::NotALog);
        }
        let store = crate::store::DirStore::open_read_only(path)?;
        let (tiles, cache) = (self.tiles, self.tile_cache);
        let log = self.open_with(Arc::new(store), Reindex::OnFirstQuery)?;
        log.attach_tiles(path, tiles, super::tiles::TilesAccess::Read, cache)?;
        Ok(log)
    }

    /// Creates a log in a store.
    pub fn create_in(
        self,
        store: Arc<dyn Store>,
        owner: &SecretKey,
        origin: &str,
    ) -> Result<Log, OpenError> {
        if store.get(DESCRIPTOR_KEY)?.is_some() {
            return Err(OpenError::AlreadyExists);
        }
        let descriptor = Descriptor::new(self.suite, origin, owner.key_id(), self.clock.now())?;
        let signed = SignedDescriptor::sign(descriptor, owner)?;
        store.put(DESCRIPTOR_KEY, signed.as_bytes())?;
        store.flush()?;
        self.open_in(store)
    }

    /// Opens the log in a store, discarding any unacknowledged entries a crash left behind a gap
    /// (SPEC §9.3).
    pub fn open_in(self, store: Arc<dyn Store>) -> Result<Log, OpenError> {
        self.open_with(store, Reindex::AtOpen)
    }

    fn open_with(self, store: Arc<dyn Store>, when: Reindex) -> Result<Log, OpenError> {
        let bytes = store.get(DESCRIPTOR_KEY)?.ok_or(OpenError::NotALog)?;
        let descriptor = SignedDescriptor::from_bytes(&bytes)?;
        let len = recover(store.as_ref())?;
        let suite = descriptor.suite();
        let refs = RefCache::default();
        let records = Records {
            store: store.as_ref(),
            suite,
            log_id: descriptor.log_id(),
            cache: &refs,
        };
        let mut behind = None;
        if let Some(indexed) = store.indexed_len()? {
            if indexed < len {
                match when {
                    Reindex::AtOpen => {
                        let progress = self.progress.as_ref().map(|p| Reporter {
                            f: p.0.as_ref(),
                            after: self.progress_after,
                        });
                        reindex(records, indexed, len, progress).map_err(read_damage)?;
                    }
                    // SPEC §9.7: a reader's index is in memory, and only session queries use
                    // it, so it is built by the first of them rather than by every open.
                    Reindex::OnFirstQuery => {
                        behind = Some(Unindexed {
                            from: indexed,
                            len,
                            progress: self.progress.clone().map(|f| (f, self.progress_after)),
                        });
                    }
                }
            }
        }
        let genesis =
            KeyRegistry::genesis(descriptor.descriptor()).map_err(DescriptorError::from)?;
        let mut tip = Tip {
            next_seq: len,
            prev: EntryHash(descriptor.log_id().0),
            last_time: descriptor.descriptor().created,
            last_session: SessionId::none(),
            registry: genesis.clone(),
            control: None,
            frontier: Frontier::new(),
            held: HeldFields::default(),
        };
        if len > 0 {
            let last = records
                .read(len - 1)
                .map_err(|e| damaged(len - 1, e))?
                .ok_or_else(|| damaged(len - 1, "missing"))?;
            tip.prev = last.hash;
            tip.last_time = last.header().time;
            tip.last_session = last.header().session.clone();
            tip.control = control::head_after(&last);
        }
        let nodes = StoreNodes {
            records,
            cache: None,
            runs: None,
        };
        tip.frontier = Frontier::restore(&nodes, len).map_err(|e| damaged(len, e))?;
        // The registry comes from the signed control chain the last entry leads to (SPEC §7.5),
        // never from an index: nothing outside the signed entries decides who may sign.
        let (_, registry) = control::walk(records, genesis, tip.control)
            .map_err(|e| damaged(e.seq().unwrap_or(len), e))?;
        tip.registry = registry;
        Ok(Log {
            inner: Arc::new(Inner {
                store,
                descriptor,
                durability: self.durability,
                max_payload: self.max_payload,
                max_skew_nanos: u64::try_from(self.max_skew.as_nanos()).unwrap_or(u64::MAX),
                clock: self.clock,
                tip: Mutex::new(tip),
                progress: Progress::starting_at(len),
                nodes: NodeCache::with_limit(self.node_cache),
                refs,
                tiles: Default::default(),
                unindexed: Mutex::new(behind),
                index_progress: self.progress.clone().map(|f| (f, self.progress_after)),
            }),
        })
    }
}

/// When an open brings a store's derived index (session run markers) up to date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reindex {
    /// Before the open returns: a writer's index, which its appends extend.
    AtOpen,
    /// When a query first needs it: a reader's index, which lives in memory and which most
    /// readers (`verify --log`, `prove`, a range) never consult. Only a directory's read-only
    /// open uses it.
    #[cfg_attr(not(feature = "sled"), allow(dead_code))]
    OnFirstQuery,
}

/// The entries an open left out of the store's derived index, for the first query that needs
/// it to index ([`Log::index_sessions`]).
#[derive(Debug)]
pub(super) struct Unindexed {
    from: u64,
    len: u64,
    progress: Option<(ProgressFn, std::time::Duration)>,
}

impl Log {
    /// Brings the store's derived index (session run markers) up to date if the open left it
    /// behind (a read-only open, SPEC §9.7): once, by the first query that needs it; a query
    /// that fails leaves it for the next one.
    pub(super) fn index_sessions(&self) -> Result<(), ReadError> {
        let mut unindexed = self
            .inner
            .unindexed
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(u) = unindexed.as_ref() {
            let progress = u.progress.as_ref().map(|(f, after)| Reporter {
                f: f.0.as_ref(),
                after: *after,
            });
            reindex(self.records(), u.from, u.len, progress)?;
            *unindexed = None;
        }
        Ok(())
    }

    /// Runs `query`, a query that reads the store's derived index; when the store finds the
    /// index damaged (SPEC §9.7: it then sets the index aside and starts an empty one), the
    /// index is rebuilt from the entries ([`Log::rebuild_index`]) and `query` runs once more.
    pub(super) fn with_index<T, E: From<ReadError>>(
        &self,
        query: impl Fn() -> Result<T, E>,
        damaged: impl Fn(&E) -> bool,
    ) -> Result<T, E> {
        match query() {
            Err(e) if damaged(&e) => {
                self.rebuild_index()?;
                query()
            }
            other => other,
        }
    }

    /// Writes the run marker of every entry again into an index the store has set aside as
    /// damaged and replaced by an empty one ([`Store::index_rebuild_needed`]), beside appends
    /// that go on: the store replaced the index before anyone saw it damaged, so every entry
    /// reserved after the tip is read here writes its marker into the new index itself, and
    /// those reserved before it are indexed from their records once written. One rebuild at
    /// a time; a query that waited for another's finds nothing left to do.
    fn rebuild_index(&self) -> Result<(), ReadError> {
        let mut unindexed = self
            .inner
            .unindexed
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if !self.inner.store.index_rebuild_needed() {
            return Ok(());
        }
        let len = self.tip().next_seq;
        self.inner
            .progress
            .wait_completed(len)
            .map_err(|why| ReadError::Store(StoreError::Backend(why)))?;
        let progress = self
            .inner
            .index_progress
            .as_ref()
            .map(|(f, after)| Reporter {
                f: f.0.as_ref(),
                after: *after,
            });
        reindex(self.records(), 0, len, progress)?;
        self.inner.store.index_rebuilt();
        // A reader's index, not yet built when this one was set aside, is built now.
        *unindexed = None;
        Ok(())
    }
}

/// Whether a read failed because the store found its derived index damaged.
pub(super) fn index_damaged(e: &ReadError) -> bool {
    matches!(e, ReadError::Store(StoreError::IndexDamaged { .. }))
}

/// Opens a log directory for writing, waiting at most `wait` for another writer — in another
/// process or this one — to close it (woken by the close, never polling).
#[cfg(feature = "sled")]
pub(crate) fn open_dir(
    path: &Path,
    wait: std::time::Duration,
) -> Result<crate::store::DirStore, StoreError> {
    crate::store::DirStore::open_waiting(path, wait)
}

/// Where [`reindex`] reports its progress, and after how long.
pub(super) struct Reporter<'a> {
    f: &'a (dyn Fn(IndexProgress) + Send + Sync),
    after: std::time::Duration,
}

/// Entries a rebuild reads with one scan of the store (a span of the segment files for a log
/// directory), and indexes between two looks at the clock.
const REINDEX_PAGE: u64 = 4096;

/// A rebuild of at least this many entries runs on two threads, each indexing one half.
const REINDEX_SPLIT: u64 = 2 * REINDEX_PAGE;

/// Rebuilds the store's derived index (session run markers) for entries `from..len` from the
/// entries' stored records (SPEC §9.7). It reads only each record's session, restoring no entry:
/// the index is derived data that every query confirms against the restored entries, so it
/// needs no hash or signature check (those are verification's, SPEC §9.4). The records are read
/// a page at a time, and a long rebuild runs its two halves on two threads: a marker depends
/// only on an entry's session and the one before it, so the second half starts from the
/// session of the entry before it.
pub(super) fn reindex(
    records: Records<'_>,
    from: u64,
    len: u64,
    progress: Option<Reporter<'_>>,
) -> Result<(), ReadError> {
    let store = records.store;
    let total = len.saturating_sub(from);
    let started = std::time::Instant::now();
    // Entries indexed so far by every thread; whether reporting has begun, and the last figure
    // reported, so that reports from two threads still climb.
    let done = std::sync::atomic::AtomicU64::new(0);
    let reported: Mutex<(bool, Option<u64>)> = Mutex::new((false, None));
    let report = |now: u64| {
        let Some(p) = &progress else { return };
        let mut r = reported.lock().unwrap_or_else(|p| p.into_inner());
        r.0 = r.0 || started.elapsed() >= p.after;
        if r.0 && r.1.is_none_or(|was| now > was) {
            r.1 = Some(now);
            (p.f)(IndexProgress { done: now, total });
        }
    };
    let missing = |seq: u64| ReadError::Corrupt {
        seq,
        source: crate::codec::DecodeError::UnexpectedType {
            offset: 0,
            expected: "the entry at this position (it is missing)",
        },
    };
    let session_of = |seq: u64| -> Result<SessionId, ReadError> {
        let bytes = records.raw(seq)?.ok_or_else(|| missing(seq))?;
        records.session_of(seq, &bytes)
    };
    // Indexes `a..b`: a marker where an entry's session differs from the one before it.
    let part = |a: u64, b: u64| -> Result<(), ReadError> {
        let mut session = match a.checked_sub(1) {
            Some(before) => session_of(before)?,
            None => SessionId::none(),
        };
        let mut seq = a;
        while seq < b {
            let end = (seq + REINDEX_PAGE).min(b);
            let page = store.scan(
                &seq_key(ENTRY, seq),
                &seq_key(ENTRY, end),
                REINDEX_PAGE as usize,
            )?;
            for (key, bytes) in &page {
                if seq_of(key) != Some(seq) {
                    return Err(missing(seq));
                }
                let s = records.session_of(seq, bytes)?;
                if !s.is_none() && s != session {
                    store.put(&run_key(s.as_str(), seq), &[])?;
                }
                session = s;
                seq += 1;
            }
            if seq < end {
                return Err(missing(seq));
            }
            let n = page.len() as u64;
            report(done.fetch_add(n, std::sync::atomic::Ordering::AcqRel) + n);
        }
        Ok(())
    };
    report(0);
    if total >= REINDEX_SPLIT {
        let mid = from + total / 2;
        std::thread::scope(|t| {
            let second = std::thread::Builder::new()
                .name("sealtrail-reindex".into())
                .spawn_scoped(t, || part(mid, len))
                .map_err(|e| ReadError::Store(StoreError::Io(e)))?;
            let first = part(from, mid);
            let second = second.join().unwrap_or_else(|_| {
                Err(ReadError::Store(StoreError::Backend(
                    "an index rebuild thread panicked".into(),
                )))
            });
            first.and(second)
        })?;
    } else {
        part(from, len)?;
    }
    store.flush()?;
    report(total);
    Ok(())
}

/// An open's error for a read that failed while it rebuilt the index.
fn read_damage(e: ReadError) -> OpenError {
    match e {
        ReadError::Corrupt { seq, .. } => damaged(seq, e),
        ReadError::Store(e) => OpenError::Store(e),
    }
}

pub(super) fn damaged(seq: u64, reason: impl std::fmt::Display) -> OpenError {
    OpenError::Damaged {
        seq,
        reason: reason.to_string(),
    }
}

/// Finds the written prefix after a crash and removes anything beyond its end (SPEC §9.3).
/// Entries past a gap were reserved concurrently but never acknowledged as durable.
pub(super) fn recover(store: &dyn Store) -> Result<u64, OpenError> {
    let mut len = read_watermark(store)?;
    let end = prefix_end(ENTRY);
    'scan: loop {
        let batch = store.scan(&seq_key(ENTRY, len), &end, 1024)?;
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
    let mut removed = false;
    loop {
        let orphans = store.scan(&seq_key(ENTRY, len), &prefix_end(ENTRY), 1024)?;
        if orphans.is_empty() {
            break;
        }
        for (k, _) in orphans {
            store.delete(&k)?;
            removed = true;
        }
    }
    if removed {
        store.flush()?;
    }
    Ok(len)
}

pub(super) fn read_watermark(store: &dyn Store) -> Result<u64, OpenError> {
    match store.get(WATERMARK_KEY)? {
        Some(v) => Ok(u64::from_be_bytes(
            v.as_slice()
                .try_into()
                .map_err(|_| damaged(0, "bad watermark"))?,
        )),
        None => Ok(0),
    }
}

// Opening a log directory needs the sled index.
#[cfg(all(test, feature = "sled"))]
mod tests {
    use super::*;

    fn owner() -> SecretKey {
        SecretKey::from_seed("example.com/log-test", &[1; 32]).unwrap()
    }

    #[test]
    fn opening_waits_for_another_holder_of_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let log = Log::create(&path, &owner(), "example.com/log-test").unwrap();
        // One holder at a time: a second open in this process fails at once, and says where
        // the log is open…
        let second = Log::open(&path).unwrap_err();
        assert!(
            matches!(
                second,
                OpenError::Store(StoreError::OpenInThisProcess { .. })
            ),
            "{second:?}"
        );
        assert!(
            second.to_string().contains("already open in this process"),
            "{second}"
        );
        // …unless it waits for the holder to close it.
        let holder = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(100));
            drop(log);
        });
        let opened = Log::builder()
            .lock_wait(std::time::Duration::from_secs(30))
            .open(&path);
        holder.join().unwrap();
        assert_eq!(opened.unwrap().len(), 0);
    }
}
