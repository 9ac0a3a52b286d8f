//! Hostile input, one test per class: every decoder answers with a typed error, never panics,
//! and never allocates beyond a bound derived from the bytes it was given.
//!
//! The allocator of this test binary is capped at 256 MiB: an attempt to allocate from a length
//! field claiming gigabytes would abort the binary instead of passing. Within that, each case also
//! checks the peak allocation against a bound proportional to its input.

use cap::Cap;
use sealtrail::codec::{DecodeError, decode_value, from_canonical};
use sealtrail::descriptor::DescriptorError;
use sealtrail::entry::{Entry, EntryHeader};
use sealtrail::keys::{KeyError, PublicKey, SecretKey};
use sealtrail::registry::KeyRegistration;
use sealtrail::{Descriptor, SignedDescriptor, Suite, Timestamp};
use std::alloc::System;
use std::sync::Mutex;

#[global_allocator]
static ALLOC: Cap<System> = Cap::new(System, 256 * 1024 * 1024);

// The cases share one allocator; run them one at a time so peaks are attributable.
static SERIAL: Mutex<()> = Mutex::new(());

/// Runs `f` with the allocator capped at what is live now plus `bound` bytes: allocating more
/// aborts the test binary ("memory allocation of N bytes failed").
fn within<T>(bound: usize, f: impl FnOnce() -> T) -> T {
    let limit = ALLOC.limit();
    ALLOC.set_limit(ALLOC.allocated() + bound).unwrap();
    let out = f();
    ALLOC.set_limit(limit).unwrap();
    out
}

/// A bound proportional to the input (a decoded value may be a few times larger than its bytes).
fn proportional(input_len: usize) -> usize {
    64 * input_len + 256 * 1024
}

/// An item head in its shortest form (as a canonical encoder would write a real length).
fn head(major: u8, len: u64) -> Vec<u8> {
    let mut e = sealtrail::codec::Encoder::new();
    e.u64(len);
    let mut v = e.into_bytes();
    v[0] |= major << 5;
    v
}

#[test]
fn length_fields_claiming_gigabytes() {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    for (major, what) in [(2, "bstr"), (3, "tstr"), (4, "array"), (5, "map")] {
        for claimed in [1u64 << 30, 1 << 40, u64::MAX] {
            let mut input = head(major, claimed);
            input.extend_from_slice(&[0u8; 16]);
            let r = within(proportional(input.len()), || decode_value(&input));
            assert!(
                matches!(r, Err(DecodeError::LengthExceedsInput { claimed: c, .. }) if c == claimed),
                "{what} {claimed}: {r:?}"
            );
            let r = within(proportional(input.len()), || Entry::from_bytes(&input));
            assert!(r.is_err());
        }
    }
    // Inside an entry: the header byte string claims 4 GiB.
    let mut entry = vec![0x82];
    entry.extend_from_slice(&head(2, 4 << 30));
    entry.extend_from_slice(&[0xaa; 100]);
    let r = within(proportional(entry.len()), || Entry::from_bytes(&entry));
    assert!(
        matches!(r, Err(DecodeError::LengthExceedsInput { .. })),
        "{r:?}"
    );
}

#[test]
fn deeply_nested_cbor() {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    for opener in [0x81u8, 0xa1] {
        let mut input = Vec::new();
        for _ in 0..1_000_000 {
            input.push(opener);
            if opener == 0xa1 {
                input.push(0x00); // key 0, then the nested value
            }
        }
        input.push(0x00);
        let r = within(proportional(input.len()), || decode_value(&input));
        assert!(
            matches!(r, Err(DecodeError::TooDeep { limit: 16, .. })),
            "{r:?}"
        );
        let r = within(proportional(input.len()), || {
            sealtrail::codec::check_canonical(&input)
        });
        assert!(matches!(r, Err(DecodeError::TooDeep { .. })));
    }
}

#[test]
fn huge_arrays_and_maps() {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    // One million items that are really there: accepted generically, within a bound
    // proportional to the input.
    let n = 1_000_000u64;
    let mut array = head(4, n);
    array[0] = 0x9a;
    array.truncate(1);
    array.extend_from_slice(&(n as u32).to_be_bytes());
    array.extend(std::iter::repeat_n(0u8, n as usize));
    let r = within(proportional(array.len()), || decode_value(&array));
    assert!(r.is_ok());
    // The same array as a key-management payload: refused by size before it is decoded.
    let kind = sealtrail::Kind::new("key_register").unwrap();
    let r = within(16 * 1024, || {
        sealtrail::registry::KeyChange::decode(&kind, &array)
    });
    assert!(
        matches!(
            r,
            Some(Err(sealtrail::registry::RegistryError::TooLarge(_)))
        ),
        "{r:?}"
    );
    // The same array as a typed payload: rejected by its schema.
    let r = within(proportional(array.len()), || {
        from_canonical::<KeyRegistration>(&array)
    });
    assert!(matches!(r, Err(DecodeError::Schema { .. })), "{r:?}");

    // A header whose links array holds far more than 64 links is refused before allocating.
    let mut h = EntryHeader::decode(&valid_header()).unwrap().encode();
    // ... 0a 80 (no links) 0b f6 (no control entry): the links array is third from the end.
    let links_at = h.len() - 3;
    assert_eq!(h[links_at..], [0x80, 0x0b, 0xf6]);
    h.truncate(links_at);
    h.push(0x9a);
    h.extend_from_slice(&1_000_000u32.to_be_bytes());
    h.extend(std::iter::repeat_n(0x80u8, 1_000_000));
    let r = within(16 * 1024, || EntryHeader::decode(&h));
    assert!(
        matches!(r, Err(DecodeError::InvalidField { field: "links", .. })),
        "{r:?}"
    );

    // A map claiming more pairs than bytes remain.
    let mut map = vec![0xba];
    map.extend_from_slice(&1_000_000u32.to_be_bytes());
    map.extend(std::iter::repeat_n(0u8, 1_000_000));
    let r = within(proportional(map.len()), || decode_value(&map));
    assert!(
        matches!(r, Err(DecodeError::LengthExceedsInput { .. })),
        "{r:?}"
    );
}

fn valid_header() -> Vec<u8> {
    let owner = SecretKey::from_seed("o", &[1; 32]).unwrap();
    EntryHeader {
        version: sealtrail::descriptor::FORMAT_VERSION,
        log_id: sealtrail::LogId([1; 32]),
        seq: 5,
        prev: sealtrail::EntryHash([2; 32]),
        time: Timestamp(1),
        session: sealtrail::SessionId::none(),
        signer: owner.key_id(),
        kind: sealtrail::Kind::new("note").unwrap(),
        payload: sealtrail::PayloadCommitment([3; 32]),
        links: vec![],
        control: None,
    }
    .encode()
}

#[test]
fn empty_and_oversized_keys() {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    // Map keys: the empty text key is legal CBOR, but no structure has such a field.
    let empty_key = [0xa1, 0x60, 0x00];
    assert!(decode_value(&empty_key).is_ok());
    assert!(matches!(
        from_canonical::<KeyRegistration>(&empty_key),
        Err(DecodeError::Schema { .. })
    ));
    // A 4 MiB text key: bounded by the input, refused by the schema.
    let mut big = vec![0xa1, 0x7a];
    big.extend_from_slice(&(4u32 << 20).to_be_bytes());
    big.extend(std::iter::repeat_n(b'k', 4 << 20));
    big.push(0x00);
    let r = within(proportional(big.len()), || {
        from_canonical::<KeyRegistration>(&big)
    });
    assert!(r.is_err());

    // Public and secret keys: empty, short, oversized, and weak.
    for vkey in [
        "",
        "name+00000000+",
        "name+00000000+AQ==",
        &format!("name+00000000+{}", "A".repeat(1 << 20)),
    ] {
        assert!(matches!(
            PublicKey::from_vkey(vkey),
            Err(KeyError::Malformed { .. } | KeyError::InvalidName(_))
        ));
    }
    assert!(SecretKey::from_skey("PRIVATE+KEY+x+00000000+").is_err());
    let mut weak = [0u8; 32];
    weak[0] = 1;
    assert!(matches!(
        PublicKey::from_bytes("w", &weak),
        Err(KeyError::WeakKey)
    ));
}

#[test]
fn duplicate_map_keys() {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    assert!(matches!(
        decode_value(&[0xa2, 0x01, 0x00, 0x01, 0x00]),
        Err(DecodeError::DuplicateKey { offset: 3 })
    ));
    // A header with key 1 written twice.
    let h = valid_header();
    let mut dup = vec![0xaa, 0x01, 0x01];
    dup.extend_from_slice(&h[1..]);
    assert!(EntryHeader::decode(&dup).is_err());
}

#[test]
fn non_minimal_integers() {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    for bytes in [
        &[0x18, 0x05][..],
        &[0x19, 0x00, 0x05],
        &[0x1a, 0, 0, 0, 5],
        &[0x1b, 0, 0, 0, 0, 0, 0, 0, 5],
        &[0x38, 0x00],
        &[0x41 + 0x17, 0x00], // a bstr length 23 spelled with an extra byte
    ] {
        let r = decode_value(bytes);
        assert!(
            matches!(
                r,
                Err(DecodeError::NotShortest { .. } | DecodeError::UnexpectedEnd { .. })
            ),
            "{bytes:02x?}: {r:?}"
        );
    }
    assert!(matches!(
        decode_value(&[0x58, 0x05, 1, 2, 3, 4, 5]),
        Err(DecodeError::NotShortest { offset: 0 })
    ));
}

#[test]
fn indefinite_lengths() {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    for bytes in [
        &[0x5f, 0x41, 0x00, 0xff][..],
        &[0x7f, 0x61, 0x61, 0xff],
        &[0x9f, 0x00, 0xff],
        &[0xbf, 0x00, 0x00, 0xff],
    ] {
        assert!(matches!(
            decode_value(bytes),
            Err(DecodeError::IndefiniteLength { offset: 0 })
        ));
    }
    // The wire form of an entry made indefinite.
    assert!(matches!(
        Entry::from_bytes(&[0x9f, 0x40, 0x40, 0xff]),
        Err(DecodeError::IndefiniteLength { .. })
    ));
}

#[test]
fn unknown_versions() {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let mut h = valid_header();
    assert_eq!(&h[..3], &[0xab, 0x01, 0x02]);
    h[2] = 0x03;
    assert!(matches!(
        EntryHeader::decode(&h),
        Err(DecodeError::UnsupportedVersion { version: 3, .. })
    ));

    let owner = SecretKey::from_seed("o", &[1; 32]).unwrap();
    let mut d =
        Descriptor::new(Suite::Sha256, "example.com/v", owner.key_id(), Timestamp(0)).unwrap();
    d.version = 3;
    let bytes = d.encode();
    assert!(matches!(
        Descriptor::decode(&bytes),
        Err(DescriptorError::UnsupportedVersion(3))
    ));
    let signed = owner.sign(&[b"sealtrail/v2/sign/descriptor\0".as_slice(), &bytes].concat());
    let mut e = sealtrail::codec::Encoder::new();
    e.array(2).bytes(&bytes).bytes(&signed);
    assert!(matches!(
        SignedDescriptor::from_bytes(&e.into_bytes()),
        Err(DescriptorError::UnsupportedVersion(3))
    ));
}

/// A byte stream made of small pieces and long runs of one byte, so that a bundle of gigabytes
/// can be read without ever being held in memory.
struct Stream {
    pieces: std::collections::VecDeque<Piece>,
}

enum Piece {
    Bytes(Vec<u8>, usize),
    Run(u8, usize),
}

impl Stream {
    fn new() -> Stream {
        Stream {
            pieces: Default::default(),
        }
    }

    fn bytes(&mut self, b: Vec<u8>) {
        self.pieces.push_back(Piece::Bytes(b, 0));
    }

    // `n` copies of `byte`, made as they are read.
    fn run(&mut self, byte: u8, n: usize) {
        self.pieces.push_back(Piece::Run(byte, n));
    }
}

impl std::io::Read for Stream {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let (n, done) = match self.pieces.front_mut() {
            None => return Ok(0),
            Some(Piece::Bytes(piece, at)) => {
                let n = (piece.len() - *at).min(out.len());
                out[..n].copy_from_slice(&piece[*at..*at + n]);
                *at += n;
                (n, *at == piece.len())
            }
            Some(Piece::Run(byte, left)) => {
                let n = (*left).min(out.len());
                out[..n].fill(*byte);
                *left -= n;
                (n, *left == 0)
            }
        };
        if done {
            self.pieces.pop_front();
        }
        Ok(n)
    }
}

/// A bundle of 128 entry items of 16 MiB each (2 GiB) is verified in less than 96 MiB: memory
/// is bounded by bytes held at once, not by the number of items a chunk may hold (SPEC §12.6,
/// resources). Until format 2 a chunk held up to 2048 such items (32 GiB) before any check.
#[test]
fn a_bundle_of_large_items_is_verified_in_bounded_memory() {
    use sealtrail::bundle::{BundleHeader, TrustPolicy, preamble, verify_bundle};
    use sealtrail::log::{ExportOptions, Selection};
    const ITEMS: u64 = 128;
    const DATA: usize = 16 * 1024 * 1024;
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    // A real log's header and entry, to wrap the large payloads in.
    let owner = SecretKey::from_seed("example.com/big#blake3", &[1; 32]).unwrap();
    let log = sealtrail::Log::in_memory(&owner, "example.com/big").unwrap();
    let recorder = SecretKey::from_seed("r", &[2; 32]).unwrap();
    log.register_key(
        &owner,
        recorder.key_id(),
        sealtrail::Role::Recorder,
        "harness",
    )
    .unwrap();
    let mut bundle = Vec::new();
    log.export(
        &owner,
        &ExportOptions::new(Selection::Log),
        &mut bundle,
        &mut |_, _| {},
    )
    .unwrap();
    let mut r = &bundle[..];
    let mut item = Vec::new();
    for _ in 0..3 {
        assert!(sealtrail::codec::read_item(&mut r, &mut item, 1 << 24).unwrap());
    }
    let mut header = BundleHeader::decode(&item).unwrap();
    header.count = ITEMS;
    let entry = log.read(0).unwrap().unwrap().entry.as_bytes().to_vec();

    let mut s = Stream::new();
    s.bytes(preamble());
    s.bytes(header.encode());
    // The log's one control item, as exported.
    assert_eq!(header.controls, 1);
    assert!(sealtrail::codec::read_item(&mut r, &mut item, 1 << 24).unwrap());
    s.bytes(item.clone());
    for _ in 0..ITEMS {
        let mut e = sealtrail::codec::Encoder::new();
        e.array(3).bytes(&entry).array(2).bytes(&[7; 32]);
        let mut prefix = e.into_bytes();
        prefix.extend_from_slice(&head(2, DATA as u64));
        s.bytes(prefix);
        s.run(0x41, DATA);
        s.bytes(vec![0x80]);
    }
    let policy = TrustPolicy::new(vec![owner.public_key()]).unwrap();
    let report = within(96 * 1024 * 1024, || verify_bundle(s, &policy).unwrap());
    sealtrail_testkit::report_schema::assert_report_schema(&report.to_json());
    assert!(!report.is_valid());
    // Every item was read and checked (each entry repeats entry 0 at the wrong position).
    assert_eq!(report.entries, ITEMS, "{}", report.render());
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.check == sealtrail::Check::Payload),
        "{}",
        report.render()
    );
}
