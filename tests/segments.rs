//! Segment files (SPEC §9.7): rollover, reading back, the order of reserved records,
//! recovery of a torn tail on the real file system, and untrusted bytes. Power loss:
//! tests/segment_power_loss.rs.

use std::path::Path;
use std::sync::Arc;

use sealtrail::segment::{
    Backend, Corruption, FRAME_OVERHEAD, FsBackend, HEADER_LEN, OpenMode, STATE_FILE_NAME,
    SegmentConfig, SegmentError, SegmentReader, SegmentWriter, SimBackend, SimRng, index_file_name,
};

const DIR: &str = "/logs/segments";

fn dir() -> &'static Path {
    Path::new(DIR)
}

#[test]
fn records_roll_over_into_new_segments_and_read_back_in_order() {
    let b = SimBackend::new(7);
    let backend: Arc<dyn Backend> = Arc::new(b.clone());
    let config = SegmentConfig::default().max_segment_bytes(1_000);
    let (w, rec) = SegmentWriter::open(backend.clone(), dir(), config).unwrap();
    assert_eq!(rec.records, 0);
    let bodies: Vec<Vec<u8>> = (0..100u32)
        .map(|i| vec![i as u8; (i * 7 % 300) as usize])
        .collect();
    for (i, body) in bodies.iter().enumerate() {
        assert_eq!(w.append(body).unwrap(), i as u64);
        // From memory before it is written, from the file after.
        assert_eq!(&w.read(i as u64).unwrap(), body);
    }
    assert_eq!(w.sync().unwrap(), 100);
    assert_eq!(&w.read(3).unwrap(), &bodies[3]);
    let too_large = vec![0u8; 1_000];
    assert!(matches!(
        w.append(&too_large),
        Err(SegmentError::RecordTooLarge { .. })
    ));
    let r = SegmentReader::open(&b, dir()).unwrap();
    assert!(r.segment_count() > 10, "{} segments", r.segment_count());
    let read: Vec<Vec<u8>> = r.iter().map(|x| x.unwrap().1).collect();
    assert_eq!(read, bodies);
    assert!(matches!(
        r.read(100),
        Err(SegmentError::NoRecord { index: 100 })
    ));
    // Synced records survive any power loss, and appending goes on after them.
    drop(w);
    b.crash();
    let (w, rec) = SegmentWriter::open(backend, dir(), config).unwrap();
    assert_eq!(rec.records, 100);
    assert_eq!(w.append(b"next").unwrap(), 100);
}

#[test]
fn reserved_records_reach_the_file_in_index_order() {
    let b = SimBackend::new(3);
    let (w, _) = SegmentWriter::open(Arc::new(b.clone()), dir(), SegmentConfig::default()).unwrap();
    let first = w.reserve(3).unwrap();
    w.write(first + 2, b"two").unwrap();
    w.write(first + 1, b"one").unwrap();
    // Nothing can be framed before record 0 is written.
    assert_eq!(w.len(), 0);
    assert_eq!(w.sync().unwrap(), 0);
    assert!(matches!(
        w.write(first + 1, b"again"),
        Err(SegmentError::NotReserved { .. })
    ));
    assert!(matches!(
        w.write(first + 3, b"x"),
        Err(SegmentError::NotReserved { .. })
    ));
    w.write(first, b"zero").unwrap();
    assert_eq!(w.sync().unwrap(), 3);
    let read: Vec<Vec<u8>> = SegmentReader::open(&b, dir())
        .unwrap()
        .iter()
        .map(|x| x.unwrap().1)
        .collect();
    assert_eq!(
        read,
        vec![b"zero".to_vec(), b"one".to_vec(), b"two".to_vec()]
    );
}

/// Untrusted bytes: any single byte of a segment changed gives a prefix of the records (or,
/// in a segment before the last, an error naming the place), never a panic or a changed record.
#[test]
fn a_changed_byte_never_yields_a_changed_record() {
    let b = SimBackend::new(11);
    let backend: Arc<dyn Backend> = Arc::new(b.clone());
    let config = SegmentConfig::default().max_segment_bytes(600);
    let (w, _) = SegmentWriter::open(backend.clone(), dir(), config).unwrap();
    let bodies: Vec<Vec<u8>> = (0..30u8).map(|i| vec![i; 40 + i as usize]).collect();
    for body in &bodies {
        w.append(body).unwrap();
    }
    w.sync().unwrap();
    drop(w);
    let files = b.files();
    let mut rng = SimRng::new(5);
    for (path, content) in &files {
        for at in 0..content.len() {
            let mut changed = content.clone();
            changed[at] ^= 1 + rng.below(255) as u8;
            let f = backend.open(path, OpenMode::Write).unwrap();
            f.write_at(&changed, 0).unwrap();
            match SegmentReader::open(&b, dir()) {
                Ok(r) => {
                    for x in r.iter() {
                        match x {
                            Ok((i, body)) => {
                                assert_eq!(body, bodies[i as usize], "{path:?} byte {at}")
                            }
                            Err(SegmentError::Corrupt { .. }) => break,
                            Err(e) => panic!("{path:?} byte {at}: {e}"),
                        }
                    }
                }
                Err(SegmentError::Corrupt { .. } | SegmentError::BadState { .. }) => {}
                Err(e) => panic!("{path:?} byte {at}: {e}"),
            }
            f.write_at(content, 0).unwrap();
        }
    }
    // Bytes changed after the open: a read checks the frame again.
    let r = SegmentReader::open(&b, dir()).unwrap();
    let (path, content) = files
        .iter()
        .find(|(p, _)| p.extension().is_some_and(|x| x == "seg"))
        .unwrap();
    let f = backend.open(path, OpenMode::Write).unwrap();
    let at = HEADER_LEN as usize + 4 + 3;
    f.write_at(&[content[at] ^ 0x55], at as u64).unwrap();
    assert!(matches!(r.read(0), Err(SegmentError::Corrupt { .. })));
    f.write_at(&content[at..at + 1], at as u64).unwrap();
    assert_eq!(r.read(0).unwrap(), bodies[0]);
    // Hostile lengths: a frame claiming 4 GiB is a torn tail, not an allocation (without
    // the state file; with it, the records it counts durable cannot be cut).
    let last = files
        .keys()
        .rfind(|p| p.extension().is_some_and(|x| x == "seg"))
        .unwrap();
    let f = backend.open(last, OpenMode::Write).unwrap();
    f.write_at(&u32::MAX.to_le_bytes(), HEADER_LEN).unwrap();
    assert!(matches!(
        SegmentReader::open(&b, dir()),
        Err(SegmentError::Corrupt {
            problem: Corruption::BeforeDurable { durable: 30, .. },
            ..
        })
    ));
    backend.remove_file(&dir().join(STATE_FILE_NAME)).unwrap();
    let r = SegmentReader::open(&b, dir()).unwrap();
    assert!(r.end_index() < 30, "{} records", r.end_index());
    assert!(
        r.iter()
            .all(|x| x.is_ok_and(|(i, body)| body == bodies[i as usize]))
    );
}

#[test]
fn fs_backend_round_trip_with_recovery_of_a_torn_tail() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("segments");
    let backend: Arc<dyn Backend> = Arc::new(FsBackend);
    let config = SegmentConfig::default().max_segment_bytes(4_096);
    let (w, _) = SegmentWriter::open(backend.clone(), &dir, config).unwrap();
    for i in 0..200u32 {
        w.append(&i.to_le_bytes().repeat(10)).unwrap();
    }
    assert_eq!(w.sync().unwrap(), 200);
    drop(w);
    // A torn frame after the last record, as a crash mid-write leaves.
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    names.sort();
    let last = names.last().unwrap();
    let len = std::fs::metadata(last).unwrap().len();
    let f = backend.open(last, OpenMode::Write).unwrap();
    f.write_at(&[40, 0, 0, 0, 1, 2, 3], len).unwrap();
    drop(f);
    assert_eq!(
        SegmentReader::open(&FsBackend, &dir).unwrap().end_index(),
        200
    );
    assert_eq!(
        std::fs::metadata(last).unwrap().len(),
        len + 7,
        "a reader wrote"
    );
    let (w, rec) = SegmentWriter::open(backend, &dir, config).unwrap();
    assert_eq!((rec.records, rec.cut_bytes), (200, 7));
    assert_eq!(w.append(b"after").unwrap(), 200);
    w.sync().unwrap();
    let r = SegmentReader::open(&FsBackend, &dir).unwrap();
    assert_eq!(r.read(200).unwrap(), b"after");
    assert_eq!(r.read(17).unwrap(), 17u32.to_le_bytes().repeat(10));
}

fn segment_path(number: u64) -> std::path::PathBuf {
    dir().join(format!("{number:020}.seg"))
}

/// SPEC §9.7.1: a sealed segment is opened from its index file, not scanned; an index that
/// does not match its segment is not believed; a writer writes a missing one again.
#[test]
fn sealed_segments_are_opened_from_their_index_files() {
    let b = SimBackend::new(21);
    let backend: Arc<dyn Backend> = Arc::new(b.clone());
    let config = SegmentConfig::default().max_segment_bytes(1_000);
    let (w, _) = SegmentWriter::open(backend.clone(), dir(), config).unwrap();
    let bodies: Vec<Vec<u8>> = (0..60u8).map(|i| vec![i; 50]).collect();
    for body in &bodies {
        w.append(body).unwrap();
    }
    w.sync().unwrap();
    drop(w);
    let r = SegmentReader::open(&b, dir()).unwrap();
    let segments = r.segment_count() as u64;
    assert!(segments >= 4, "{segments} segments");
    let files = b.files();
    for n in 0..segments {
        let idx = dir().join(index_file_name(n));
        // Every sealed segment has one; the last, still being appended to, has none.
        assert_eq!(files.contains_key(&idx), n + 1 < segments, "segment {n}");
    }

    // A body byte of record 1 changed in sealed segment 0: the index is believed (the
    // segment's length and last bytes match), so the open does not scan the segment and does
    // not see it; reading the record checks it and reports it.
    let seg0 = segment_path(0);
    let at = HEADER_LEN + FRAME_OVERHEAD + 50 + 4 + 10;
    let f = backend.open(&seg0, OpenMode::Write).unwrap();
    let original = files[&seg0][at as usize];
    f.write_at(&[original ^ 0x20], at).unwrap();
    let r = SegmentReader::open(&b, dir()).unwrap();
    assert_eq!(r.end_index(), 60);
    assert!(matches!(
        r.read(1),
        Err(SegmentError::Corrupt {
            segment: 0,
            problem: Corruption::RecordCheck(1),
            ..
        })
    ));
    // Without its index the segment is scanned, and the damage found on open.
    let idx0 = dir().join(index_file_name(0));
    backend.remove_file(&idx0).unwrap();
    assert!(matches!(
        SegmentReader::open(&b, dir()),
        Err(SegmentError::Corrupt {
            segment: 0,
            problem: Corruption::Torn,
            ..
        })
    ));
    f.write_at(&[original], at).unwrap();

    // A writer writes the missing index again (a reader never writes).
    let (w, rec) = SegmentWriter::open(backend.clone(), dir(), config).unwrap();
    assert_eq!((rec.records, rec.indexes_written), (60, 1));
    drop(w);
    assert_eq!(b.files()[&idx0], files[&idx0]);
    let (w, rec) = SegmentWriter::open(backend.clone(), dir(), config).unwrap();
    assert_eq!(rec.indexes_written, 0);
    drop(w);

    // Bytes added to a sealed segment: its index no longer matches its length, so the
    // segment is scanned and reported.
    let len = files[&seg0].len() as u64;
    f.write_at(&[0; 12], len).unwrap();
    assert!(matches!(
        SegmentReader::open(&b, dir()),
        Err(SegmentError::Corrupt {
            segment: 0,
            problem: Corruption::Torn,
            ..
        })
    ));
    f.set_len(len).unwrap();
    let all: Vec<Vec<u8>> = SegmentReader::open(&b, dir())
        .unwrap()
        .iter()
        .map(|x| x.unwrap().1)
        .collect();
    assert_eq!(all, bodies);
}

/// SPEC §9.7.2: a bad frame before the number of records known durable is damage, reported
/// with its segment and offset, never cut as a torn tail; after it, a torn tail (or the zeros
/// of a preallocated file) is cut as before.
#[test]
fn a_damaged_record_before_the_durable_size_is_reported_never_cut() {
    let b = SimBackend::new(22);
    let backend: Arc<dyn Backend> = Arc::new(b.clone());
    let config = SegmentConfig::default();
    let (w, _) = SegmentWriter::open(backend.clone(), dir(), config).unwrap();
    for i in 0..30u8 {
        w.append(&[i; 20]).unwrap();
    }
    w.sync().unwrap();
    // Closing records the durable size.
    drop(w);
    let seg = segment_path(0);
    let content = b.files()[&seg].clone();
    let frame = FRAME_OVERHEAD + 20;
    let record5 = HEADER_LEN + 5 * frame;
    let f = backend.open(&seg, OpenMode::Write).unwrap();
    f.write_at(&[content[record5 as usize + 7] ^ 0x01], record5 + 7)
        .unwrap();
    let expected = |e: &SegmentError| {
        matches!(
            e,
            SegmentError::Corrupt {
                segment: 0,
                offset,
                problem: Corruption::BeforeDurable { durable: 30, found: 5 },
            } if *offset == record5
        )
    };
    let err = SegmentWriter::open(backend.clone(), dir(), config).unwrap_err();
    assert!(expected(&err), "{err}");
    assert!(
        err.to_string().contains("segment 0, offset"),
        "{err} names the place"
    );
    let err = SegmentReader::open(&b, dir()).unwrap_err();
    assert!(expected(&err), "{err}");
    // Nothing was cut.
    assert_eq!(f.len().unwrap(), content.len() as u64);
    f.write_at(&content, 0).unwrap();

    // Zeros after the last record (a preallocated segment), then a torn frame: cut.
    let len = content.len() as u64;
    f.write_at(&[0; 64], len).unwrap();
    assert_eq!(SegmentReader::open(&b, dir()).unwrap().end_index(), 30);
    let (w, rec) = SegmentWriter::open(backend.clone(), dir(), config).unwrap();
    assert_eq!(
        (rec.records, rec.known_durable, rec.cut_bytes),
        (30, 30, 64)
    );
    assert_eq!(w.append(b"more").unwrap(), 30);
}

// The segment files in `dir`, in order, with their contents, as the disk holds them now.
fn segment_files(b: &SimBackend) -> Vec<Vec<u8>> {
    b.files()
        .into_iter()
        .filter(|(p, _)| p.parent() == Some(dir()) && p.extension().is_some_and(|e| e == "seg"))
        .map(|(_, bytes)| bytes)
        .collect()
}

// The offset where the frames of a segment's checked records end, by walking their lengths.
fn frames_end(bytes: &[u8], records: u64) -> usize {
    let mut at = HEADER_LEN as usize;
    for _ in 0..records {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        at += 12 + len;
    }
    at
}

/// SPEC §9.3: the last segment holds zeros written ahead of its frames; every segment before it
/// ends with its last frame. A power loss leaves the zeros; a reader stops at them and recovery
/// finds exactly the records written, cuts the zeros, and appends after the last record.
#[test]
fn a_preallocated_segment_with_zeros_after_the_last_frame_recovers_exactly_the_written_records() {
    let b = SimBackend::new(11);
    let backend: Arc<dyn Backend> = Arc::new(b.clone());
    let config = SegmentConfig::default().max_segment_bytes(20_000);
    let (w, _) = SegmentWriter::open(backend.clone(), dir(), config).unwrap();
    let bodies: Vec<Vec<u8>> = (0..150u32).map(|i| vec![i as u8 | 1; 300]).collect();
    for body in &bodies {
        w.append(body).unwrap();
        w.sync().unwrap();
    }
    b.crash();
    drop(w);
    let files = segment_files(&b);
    assert!(files.len() >= 3, "{} segments", files.len());
    let (last, before) = files.split_last().unwrap();
    let mut records = 0u64;
    for f in before {
        let n = ((f.len() - HEADER_LEN as usize) / 312) as u64;
        assert_eq!(
            f.len(),
            frames_end(f, n),
            "a segment before the last ends in zeros"
        );
        records += n;
    }
    let in_last = bodies.len() as u64 - records;
    let end = frames_end(last, in_last);
    assert!(last.len() > end, "no zeros written ahead of the last frame");
    assert!(last[end..].iter().all(|&x| x == 0));

    let r = SegmentReader::open(&b, dir()).unwrap();
    assert_eq!(r.end_index(), 150);
    let read: Vec<Vec<u8>> = r.iter().map(|x| x.unwrap().1).collect();
    assert_eq!(read, bodies);
    let (w, rec) = SegmentWriter::open(backend.clone(), dir(), config).unwrap();
    assert_eq!(rec.records, 150);
    assert_eq!(rec.cut_bytes, (last.len() - end) as u64);
    assert_eq!(w.append(b"after").unwrap(), 150);
    w.sync().unwrap();
    drop(w);
    // A clean close cuts the zeros.
    let files = segment_files(&b);
    let last = files.last().unwrap();
    assert_eq!(last.len(), frames_end(last, in_last + 1));
    let r = SegmentReader::open(&b, dir()).unwrap();
    assert_eq!(r.read(150).unwrap(), b"after");
    assert_eq!(r.read(149).unwrap(), bodies[149]);
}

/// A frame after a run of zeros is never a record (SPEC §9.3): an `fdatasync` covers every write
/// before it, so no acknowledged frame follows a zero run; such a frame is an unacknowledged
/// write that reached the disk while an earlier one was lost. Readers stop at the zeros, and
/// recovery cuts everything after the last record, so the stale frame cannot reappear once new
/// records reach its place.
#[test]
fn a_valid_frame_after_a_run_of_zeros_is_not_a_record() {
    let b = SimBackend::new(12);
    let backend: Arc<dyn Backend> = Arc::new(b.clone());
    let config = SegmentConfig::default();
    let (w, _) = SegmentWriter::open(backend.clone(), dir(), config).unwrap();
    for i in 0..10u8 {
        w.append(&[i; 40]).unwrap();
    }
    w.sync().unwrap();
    let end = HEADER_LEN + 10 * (12 + 40);
    // Where record 11 goes if record 10 has 40 bytes: a valid frame of record 11, with zeros
    // where record 10 would be.
    let file = &segment_files(&b)[0];
    let header = sealtrail::segment::Header::decode(file).unwrap();
    let mut frame = 40u32.to_le_bytes().to_vec();
    frame.extend_from_slice(&[0xee; 40]);
    frame.extend_from_slice(&sealtrail::segment::record_check(
        &header.record_key(),
        11,
        &[0xee; 40],
    ));
    let path = dir().join(sealtrail::segment::file_name(0));
    let f = b.open(&path, OpenMode::Write).unwrap();
    f.write_at(&frame, end + 12 + 40).unwrap();
    f.sync_data().unwrap();
    drop(f);
    b.crash();
    drop(w);

    assert_eq!(SegmentReader::open(&b, dir()).unwrap().end_index(), 10);
    let (w, rec) = SegmentWriter::open(backend, dir(), config).unwrap();
    assert_eq!(rec.records, 10);
    assert_eq!(w.append(&[7; 40]).unwrap(), 10);
    w.sync().unwrap();
    let r = SegmentReader::open(&b, dir()).unwrap();
    assert_eq!(r.end_index(), 11, "the stale frame came back as record 11");
    assert_eq!(r.read(10).unwrap(), [7; 40]);
    assert!(rec.cut_bytes >= 12 + 40 + frame.len() as u64);
}

/// `SegmentReader::read_many` reads spans of a segment at once, and answers exactly as reading
/// each record alone does: the same bodies, and for bytes changed after the open (a record's
/// length, body or check), the error of the first record a lone read refuses.
#[test]
fn reading_many_records_at_once_answers_as_reading_each_does() {
    let b = SimBackend::new(13);
    let backend: Arc<dyn Backend> = Arc::new(b.clone());
    let config = SegmentConfig::default().max_segment_bytes(700);
    let (w, _) = SegmentWriter::open(backend.clone(), dir(), config).unwrap();
    let bodies: Vec<Vec<u8>> = (0..40u8).map(|i| vec![i; 20 + 3 * i as usize]).collect();
    for body in &bodies {
        w.append(body).unwrap();
    }
    w.sync().unwrap();
    drop(w);
    let r = SegmentReader::open(&b, dir()).unwrap();
    assert!(r.segment_count() > 5, "{} segments", r.segment_count());
    let ranges = [
        (0, 40),
        (0, 1),
        (3, 17),
        (12, 13),
        (39, 40),
        (25, 60),
        (40, 41),
    ];
    for (from, to) in ranges {
        let want = &bodies[from.min(40)..to.min(40)];
        assert_eq!(
            r.read_many(from as u64, to as u64).unwrap(),
            want,
            "{from}..{to}"
        );
    }
    let lone = |from: u64, to: u64| -> Result<Vec<Vec<u8>>, String> {
        (from..to)
            .map(|i| r.read(i).map_err(|e| e.to_string()))
            .collect()
    };
    let files = b.files();
    let mut rng = SimRng::new(9);
    let mut refused = 0;
    for (path, content) in files
        .iter()
        .filter(|(p, _)| p.extension().is_some_and(|x| x == "seg"))
    {
        let f = backend.open(path, OpenMode::Write).unwrap();
        for at in HEADER_LEN as usize..content.len() {
            let mut changed = content.clone();
            changed[at] ^= 1 + rng.below(255) as u8;
            f.write_at(&changed, 0).unwrap();
            for (from, to) in [(0u64, 40u64), (5, 33)] {
                let many = r.read_many(from, to).map_err(|e| e.to_string());
                refused += usize::from(many.is_err());
                let lone = lone(from, to);
                assert!(
                    many == lone,
                    "{path:?} byte {at}, {from}..{to}: {:?} against {:?}",
                    many.as_ref().map(Vec::len),
                    lone.as_ref().map(Vec::len)
                );
            }
            f.write_at(content, 0).unwrap();
        }
    }
    assert!(refused > 100, "{refused} changed bytes refused");
}

/// The writer's `read_many` answers as its `read` does, for records in the files and for
/// records still in its write buffer, across segments.
#[test]
fn a_writer_reads_many_records_at_once_from_its_files_and_its_buffer() {
    let b = SimBackend::new(17);
    let config = SegmentConfig::default()
        .max_segment_bytes(900)
        .write_buffer_bytes(400);
    let (w, _) = SegmentWriter::open(Arc::new(b.clone()), dir(), config).unwrap();
    let bodies: Vec<Vec<u8>> = (0..60u8).map(|i| vec![i; 10 + i as usize]).collect();
    for (i, body) in bodies.iter().enumerate() {
        w.append(body).unwrap();
        let n = i as u64 + 1;
        for (from, to) in [(0, n), (n / 2, n), (n.saturating_sub(3), n + 5)] {
            let want: Vec<Vec<u8>> = (from..to.min(n)).map(|j| w.read(j).unwrap()).collect();
            assert_eq!(
                w.read_many(from, to).unwrap(),
                want,
                "{n} appended, {from}..{to}"
            );
        }
    }
    w.sync().unwrap();
    assert_eq!(w.read_many(0, 60).unwrap(), bodies);
}
