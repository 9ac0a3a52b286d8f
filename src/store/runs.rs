//! Run markers in sled, packed (SPEC §9.7): a log's derived index holds one marker per run of
//! a session's entries, `0x02 ‖ n ‖ session (n bytes) ‖ seq (u64 BE)` with an empty value.
//! With agents' sessions interleaved nearly every entry starts a run, and one sled insert per
//! marker cost more than a fifth of Immediate appends. So sled holds *packs*: the key of a
//! pack is its first marker, its value the sequence numbers of the session's next markers
//! (each a u64 BE, ascending, all above the first), at most [`PACK_MAX`] in all. The packs of
//! a session never overlap: every number of one is below the first of the next. A batch of
//! markers then costs sled one insert per session and pack, whatever the number of markers.
//!
//! Every function here speaks of markers (logical keys); what is packed is this module's
//! business alone.

use std::collections::BTreeSet;

use super::StoreError;
use super::dir::index_err as err;

/// The prefix of run markers.
pub(super) const RUN: u8 = 0x02;

/// The most markers one pack holds (its value is then at most 4 KiB).
const PACK_MAX: usize = 512;

/// A run marker split into its session part (`0x02 ‖ n ‖ session`) and its sequence number;
/// `None` when the key is not exactly a marker's.
pub(super) fn split(key: &[u8]) -> Option<(&[u8], u64)> {
    if key.first() != Some(&RUN) {
        return None;
    }
    let n = usize::from(*key.get(1)?);
    let cut = 2 + n;
    if key.len() != cut + 8 {
        return None;
    }
    let seq = u64::from_be_bytes(key[cut..].try_into().ok()?);
    Some((&key[..cut], seq))
}

fn marker(session: &[u8], seq: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(session.len() + 8);
    k.extend_from_slice(session);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

// A pack of another form than this module writes: damage, which the store answers by setting
// the index aside (its caller names the directory).
fn damaged(key: &[u8]) -> StoreError {
    StoreError::IndexDamaged {
        path: Default::default(),
        reason: format!("a run pack of another form at key {key:02x?}"),
    }
}

/// A pack read from sled: its session part and its numbers, ascending.
struct Pack {
    session: Vec<u8>,
    seqs: Vec<u64>,
}

impl Pack {
    fn read(key: &[u8], value: &[u8]) -> Result<Pack, StoreError> {
        let (session, first) = split(key).ok_or_else(|| damaged(key))?;
        if value.len() % 8 != 0 || value.len() / 8 >= PACK_MAX {
            return Err(damaged(key));
        }
        let mut seqs = Vec::with_capacity(1 + value.len() / 8);
        seqs.push(first);
        for c in value.chunks_exact(8) {
            let s = u64::from_be_bytes(c.try_into().expect("8 bytes"));
            if s <= *seqs.last().expect("the first") {
                return Err(damaged(key));
            }
            seqs.push(s);
        }
        Ok(Pack {
            session: session.to_vec(),
            seqs,
        })
    }

    fn markers(&self) -> impl DoubleEndedIterator<Item = Vec<u8>> + '_ {
        self.seqs.iter().map(|&s| marker(&self.session, s))
    }
}

// The value of a pack of `seqs` (ascending): every number but the first.
fn value(seqs: &[u64]) -> Vec<u8> {
    seqs[1..].iter().flat_map(|s| s.to_be_bytes()).collect()
}

/// Refuses an index write that is not a run marker: the index holds nothing else.
pub(super) fn check(key: &[u8], value: &[u8]) -> Result<(), StoreError> {
    if split(key).is_none() || !value.is_empty() {
        return Err(StoreError::Backend(format!(
            "the index holds run markers only (0x02 ‖ n ‖ session ‖ seq, empty value), not \
             key {key:02x?} with {} value bytes",
            value.len()
        )));
    }
    Ok(())
}

/// Adds markers (checked by [`check`]) to sled in one batch: per session, the packs the new
/// numbers overlap are read, merged with them and written again.
pub(super) fn apply<'a>(
    db: &sled::Db,
    markers: impl IntoIterator<Item = &'a Vec<u8>>,
) -> Result<(), StoreError> {
    let mut by_session: std::collections::BTreeMap<Vec<u8>, BTreeSet<u64>> = Default::default();
    for k in markers {
        let (session, seq) = split(k).ok_or_else(|| damaged(k))?;
        by_session.entry(session.to_vec()).or_default().insert(seq);
    }
    let mut batch = sled::Batch::default();
    for (session, mut seqs) in by_session {
        let (lo, hi) = match (seqs.first(), seqs.last()) {
            (Some(&lo), Some(&hi)) => (lo, hi),
            _ => continue,
        };
        // The pack before `lo`, if it reaches it, and every pack starting in [lo, hi]: the
        // only ones the new numbers can overlap, since packs never overlap each other.
        let mut old = Vec::new();
        if let Some((k, v)) = db.get_lt(marker(&session, lo)).map_err(err)? {
            if split(&k).is_some_and(|(s, _)| s == session.as_slice()) {
                let p = Pack::read(&k, &v)?;
                if p.seqs.last().is_some_and(|&m| m >= lo) {
                    old.push((k.to_vec(), p));
                }
            }
        }
        for r in db.range(marker(&session, lo)..=marker(&session, hi)) {
            let (k, v) = r.map_err(err)?;
            old.push((k.to_vec(), Pack::read(&k, &v)?));
        }
        for (k, p) in old {
            batch.remove(k);
            seqs.extend(p.seqs);
        }
        let all: Vec<u64> = seqs.into_iter().collect();
        for pack in all.chunks(PACK_MAX) {
            batch.insert(marker(&session, pack[0]), value(pack));
        }
    }
    db.apply_batch(batch).map_err(err)
}

// Where a walk over markers in `[start, end)` begins in sled: at the pack before `start` when
// there is one (it may hold markers from `start` on), else at `start`.
fn walk_from(db: &sled::Db, start: &[u8]) -> Result<Vec<u8>, StoreError> {
    Ok(match db.get_lt(start).map_err(err)? {
        Some((k, _)) if k.first() == Some(&RUN) => k.to_vec(),
        _ => start.to_vec(),
    })
}

// `[start, end)` narrowed to the markers' prefix; `None` when nothing is left.
fn clamp(start: &[u8], end: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let start = start.max(&[RUN][..]).to_vec();
    let end = end.min(&[RUN + 1][..]).to_vec();
    (start < end).then_some((start, end))
}

/// The markers in sled in `[start, end)`, in order, at most `limit`.
pub(super) fn scan(
    db: &sled::Db,
    start: &[u8],
    end: &[u8],
    limit: usize,
) -> Result<Vec<Vec<u8>>, StoreError> {
    let Some((start, end)) = clamp(start, end) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for r in db.range(walk_from(db, &start)?..end.clone()) {
        let (k, v) = r.map_err(err)?;
        // Packs never overlap and sessions sort as their markers do: markers come in order.
        for m in Pack::read(&k, &v)?.markers() {
            if out.len() == limit || m >= end {
                return Ok(out);
            }
            if m >= start {
                out.push(m);
            }
        }
    }
    Ok(out)
}

/// The last marker in sled in `[start, end)`.
pub(super) fn last(db: &sled::Db, start: &[u8], end: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
    let Some((start, end)) = clamp(start, end) else {
        return Ok(None);
    };
    // The last pack starting before `end` holds the greatest marker below it, if any is in
    // range: every earlier pack's markers are below this one's first.
    let Some(r) = db.range(walk_from(db, &start)?..end.clone()).next_back() else {
        return Ok(None);
    };
    let (k, v) = r.map_err(err)?;
    Ok(Pack::read(&k, &v)?
        .markers()
        .rfind(|m| *m >= start && *m < end))
}

/// Whether sled holds marker `key`.
pub(super) fn contains(db: &sled::Db, key: &[u8]) -> Result<bool, StoreError> {
    let mut next = key.to_vec();
    next.push(0);
    Ok(scan(db, key, &next, 1)?.first().is_some_and(|m| m == key))
}

/// Removes marker `key` from sled, rewriting its pack.
pub(super) fn remove(db: &sled::Db, key: &[u8]) -> Result<(), StoreError> {
    let Some((session, seq)) = split(key) else {
        return Ok(());
    };
    let mut after = key.to_vec();
    after.push(0);
    let Some((k, v)) = db.get_lt(after).map_err(err)? else {
        return Ok(());
    };
    if split(&k).is_none_or(|(s, _)| s != session) {
        return Ok(());
    }
    let mut pack = Pack::read(&k, &v)?;
    let Ok(at) = pack.seqs.binary_search(&seq) else {
        return Ok(());
    };
    pack.seqs.remove(at);
    let mut batch = sled::Batch::default();
    batch.remove(k.to_vec());
    if let Some(&first) = pack.seqs.first() {
        batch.insert(marker(session, first), value(&pack.seqs));
    }
    db.apply_batch(batch).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(session: u8, seq: u64) -> Vec<u8> {
        marker(&[RUN, 1, b'a' + session], seq)
    }

    #[test]
    fn markers_are_split_only_when_well_formed() {
        assert_eq!(split(&key(0, 7)), Some((&[RUN, 1, b'a'][..], 7)));
        assert_eq!(split(&[RUN, 1, b'a', 0]), None);
        assert_eq!(split(&[RUN, 2, b'a', 0, 0, 0, 0, 0, 0, 0, 7]), None);
        assert_eq!(split(&[0x03, 1, b'a', 0, 0, 0, 0, 0, 0, 0, 7]), None);
        assert!(check(&key(0, 1), b"").is_ok());
        assert!(check(&key(0, 1), b"x").is_err());
        assert!(check(&[RUN, 9], b"").is_err());
    }

    /// Many markers of few sessions cost sled one key per session and pack.
    #[test]
    fn a_batch_costs_one_sled_key_per_session_and_pack() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let markers: Vec<_> = (0..2000u64).map(|s| key((s % 3) as u8, s)).collect();
        apply(&db, &markers).unwrap();
        // 667 markers in session a (two packs), 667 in b (two), 666 in c (two).
        assert_eq!(db.len(), 6);
        let all = scan(&db, &[RUN], &[RUN + 1], usize::MAX).unwrap();
        let mut want = markers;
        want.sort();
        assert_eq!(all, want);
    }

    /// A damaged pack is reported, never read as markers.
    #[test]
    fn a_damaged_pack_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        db.insert(key(0, 5), &[0u8; 7][..]).unwrap();
        assert!(scan(&db, &[RUN], &[RUN + 1], 10).is_err());
        db.insert(key(0, 5), &4u64.to_be_bytes()[..]).unwrap();
        assert!(scan(&db, &[RUN], &[RUN + 1], 10).is_err());
    }

    #[derive(Debug, Clone)]
    enum Op {
        Put(u8, u64),
        Remove(u8, u64),
        Apply,
        Scan(u8, u64, u8, u64, usize),
        Last(u8, u64, u8, u64),
        Contains(u8, u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        let s = 0u8..3;
        let q = 0u64..40;
        prop_oneof![
            6 => (s.clone(), q.clone()).prop_map(|(s, q)| Op::Put(s, q)),
            1 => (s.clone(), q.clone()).prop_map(|(s, q)| Op::Remove(s, q)),
            2 => Just(Op::Apply),
            2 => (s.clone(), q.clone(), s.clone(), q.clone(), 1usize..6)
                .prop_map(|(a, x, b, y, l)| Op::Scan(a, x, b, y, l)),
            1 => (s.clone(), q.clone(), s.clone(), q.clone())
                .prop_map(|(a, x, b, y)| Op::Last(a, x, b, y)),
            1 => (s, q).prop_map(|(s, q)| Op::Contains(s, q)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Packed markers answer every query as a plain ordered set of the same markers
        /// would, whatever order markers are added in, again or after removal.
        #[test]
        fn packs_answer_as_a_plain_set_would(ops in proptest::collection::vec(op(), 1..80)) {
            let dir = tempfile::tempdir().unwrap();
            let db = sled::open(dir.path()).unwrap();
            let mut model = BTreeSet::new();
            let mut pending = Vec::new();
            for op in ops {
                match op {
                    Op::Put(s, q) => {
                        model.insert(key(s, q));
                        pending.push(key(s, q));
                    }
                    Op::Remove(s, q) => {
                        apply(&db, &std::mem::take(&mut pending)).unwrap();
                        model.remove(&key(s, q));
                        remove(&db, &key(s, q)).unwrap();
                    }
                    Op::Apply => apply(&db, &std::mem::take(&mut pending)).unwrap(),
                    Op::Scan(a, x, b, y, limit) => {
                        apply(&db, &std::mem::take(&mut pending)).unwrap();
                        let (start, end) = (key(a, x), key(b, y));
                        let want: Vec<_> = if start < end {
                            model.range(start.clone()..end.clone()).take(limit).cloned().collect()
                        } else {
                            Vec::new()
                        };
                        prop_assert_eq!(scan(&db, &start, &end, limit).unwrap(), want);
                        // Bounds between sessions and past every marker.
                        let whole: Vec<_> = model.iter().cloned().collect();
                        prop_assert_eq!(scan(&db, &[RUN], &[RUN + 1], usize::MAX).unwrap(), whole);
                        let mut past = start.clone();
                        past.push(0xff);
                        let want: Vec<_> = model.range(past.clone()..).take(limit).cloned().collect();
                        prop_assert_eq!(scan(&db, &past, &[0xff], limit).unwrap(), want);
                    }
                    Op::Last(a, x, b, y) => {
                        apply(&db, &std::mem::take(&mut pending)).unwrap();
                        let (start, end) = (key(a, x), key(b, y));
                        let want = if start < end {
                            model.range(start.clone()..end.clone()).next_back().cloned()
                        } else {
                            None
                        };
                        prop_assert_eq!(last(&db, &start, &end).unwrap(), want);
                    }
                    Op::Contains(s, q) => {
                        apply(&db, &std::mem::take(&mut pending)).unwrap();
                        prop_assert_eq!(contains(&db, &key(s, q)).unwrap(), model.contains(&key(s, q)));
                    }
                }
            }
        }
    }
}
