//! The canonical CBOR profile (SPEC §3): `decode_value`, `check_canonical`, `Decoder::raw_item`
//! and `read_item` on arbitrary bytes.
//!
//! - `decode_value` and `check_canonical` accept exactly the same inputs, and whatever they accept
//!   is the one canonical encoding of its value: `encode_value(decode_value(b)) == b`.
//! - `read_item` (the streaming reader of bundles) agrees with the in-memory decoder on the first
//!   item of the input: same acceptance, same bytes, and it leaves the reader just past the item.
//!   Its size limit is exact: an item of n bytes is read with limit n and refused with n - 1.
//! - Read as a CBOR sequence (RFC 8742, as bundles are), every item read is canonical on its own.
//! - An item that decodes as the payload of a session event kind (SPEC §13) re-encodes to itself.
#![no_main]

use libfuzzer_sys::{fuzz_mutator, fuzz_target};
use sealtrail::Kind;
use sealtrail::codec::{
    Decoder, ReadItemError, check_canonical, decode_value, encode_value, read_item,
};
use sealtrail::event::{Event, KINDS};

fn whole(data: &[u8]) -> bool {
    let value = decode_value(data);
    let checked = check_canonical(data);
    assert_eq!(value.is_ok(), checked.is_ok(), "{value:?} but {checked:?}");
    if let Ok(v) = value {
        assert_eq!(encode_value(&v).ok().as_deref(), Some(data));
        return true;
    }
    false
}

fn first_item(data: &[u8]) {
    let mut d = Decoder::new(data);
    let decoded = d.raw_item();
    let mut r = data;
    let mut buf = Vec::new();
    let read = read_item(&mut r, &mut buf, usize::MAX);
    match (decoded, read) {
        (Ok(item), Ok(true)) => {
            assert_eq!(buf, item);
            assert_eq!(r.len(), data.len() - item.len());
            // The limit is exact.
            let mut r = data;
            assert!(matches!(read_item(&mut r, &mut buf, item.len()), Ok(true)));
            let mut r = data;
            assert!(matches!(
                read_item(&mut r, &mut buf, item.len() - 1),
                Err(ReadItemError::TooLarge { .. })
            ));
        }
        (Err(_), Ok(false)) => assert!(data.is_empty()),
        (Err(_), Err(_)) => {}
        (decoded, read) => panic!("decoder {decoded:?}, reader {read:?}"),
    }
}

fn sequence(data: &[u8]) {
    let mut r = data;
    let mut buf = Vec::new();
    let mut total = 0;
    while let Ok(true) = read_item(&mut r, &mut buf, 1 << 20) {
        total += buf.len();
        assert!(check_canonical(&buf).is_ok());
        assert_eq!(
            encode_value(&decode_value(&buf).expect("read items decode")).ok(),
            Some(buf.clone())
        );
    }
    assert!(total <= data.len());
}

fn events(data: &[u8]) {
    for k in KINDS {
        let kind = Kind::new(k).expect("the vocabulary's kinds are valid");
        if let Ok(event) = Event::decode(&kind, data) {
            assert_eq!(event.encode().ok().as_deref(), Some(data));
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let canonical = whole(data);
    first_item(data);
    sequence(data);
    if canonical {
        events(data);
    }
});

// Half libFuzzer's byte mutations, half edits of the CBOR tree (fuzz/src/mutator.rs).
fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    sealtrail_fuzz::mutator::mutate_cbor(data, size, max_size, seed)
});
