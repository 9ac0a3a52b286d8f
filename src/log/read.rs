//! Reading stored entries: by position, by range, by session.

use super::*;

pub(super) fn read_entry(
    store: &dyn Store,
    suite: Suite,
    seq: u64,
) -> Result<Option<StoredEntry>, ReadError> {
    let Some(bytes) = store.get(&seq_key(ENTRY, seq))? else {
        return Ok(None);
    };
    decode_stored(suite, seq, &bytes).map(Some)
}

pub(super) fn decode_stored(
    suite: Suite,
    seq: u64,
    bytes: &[u8],
) -> Result<StoredEntry, ReadError> {
    let corrupt = |source| ReadError::Corrupt { seq, source };
    let (entry_bytes, payload, _nodes) = decode_record(bytes).map_err(corrupt)?;
    let entry = Entry::from_bytes(entry_bytes).map_err(corrupt)?;
    let hash = entry.hash(suite);
    Ok(StoredEntry {
        entry,
        hash,
        payload,
    })
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
        Some(decode_stored(self.log.suite(), seq, &pair.1))
    }
}

impl Log {
    /// The entry at `seq`, if written.
    pub fn read(&self, seq: u64) -> Result<Option<StoredEntry>, ReadError> {
        if seq >= self.len() {
            return Ok(None);
        }
        read_entry(self.inner.store.as_ref(), self.suite(), seq)
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

    /// Every entry of a session, in order.
    pub fn session(&self, session: &SessionId) -> Result<Vec<StoredEntry>, ReadError> {
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
